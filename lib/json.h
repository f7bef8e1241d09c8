#ifndef STRATA_LIB_JSON_H
#define STRATA_LIB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

/*
 * Typed field readers for request bodies. Each returns 0 and sets *out, or
 * -ENOENT when a required field is missing, -EINVAL when it has the wrong
 * type or range; err then names the field. A missing optional field
 * returns 0 and leaves *out as it was.
 */
int json_get_str(const struct cJSON *obj, const char *key, bool required, const char **out,
		 char *err, size_t errlen);
int json_get_int(const struct cJSON *obj, const char *key, bool required, int64_t min,
		 int64_t max, int64_t *out, char *err, size_t errlen);
int json_get_bool(const struct cJSON *obj, const char *key, bool required, bool *out,
		  char *err, size_t errlen);

/*
 * Lenient readers, for replies from a trusted peer or shown to a user,
 * where a missing, null or mistyped field just means "not reported": the
 * field's value, or dflt. json_int_or takes integral numbers within
 * +-2^53 only (others give dflt).
 */
const char *json_str_or(const struct cJSON *obj, const char *key, const char *dflt);
int64_t json_int_or(const struct cJSON *obj, const char *key, int64_t dflt);
double json_num_or(const struct cJSON *obj, const char *key, double dflt);

/* Adds an integer field exactly (cJSON numbers are doubles; 2^53 is plenty
 * for byte counts, not for ids: use json_add_u64 for those). Returns the
 * item or NULL on allocation failure. */
struct cJSON *json_add_int(struct cJSON *obj, const char *key, int64_t v);

/*
 * 64-bit ids (block, inode, data, worker) travel as decimal strings
 * ("9007199254740993"): a JSON number is a double to most parsers and
 * loses precision past 2^53 (docs/openapi.json: type string, ^[0-9]+$).
 *
 * json_u64_value reads one: a decimal string of 1..20 digits that fits in
 * 64 bits, or (leniency for older peers) an integral JSON number in
 * 0..2^53. Returns 0 and *out, or -EINVAL.
 * json_get_u64 is the field reader of the same (contract of json_get_int).
 * json_u64_create / json_add_u64 make one (NULL on allocation failure;
 * the item belongs to the caller, respectively to obj).
 */
int json_u64_value(const struct cJSON *item, uint64_t *out);
/* A JSON number as an int64_t without undefined behaviour: NaN is 0,
 * values past the int64 range clamp to INT64_MIN/INT64_MAX, the rest are
 * truncated toward zero. For counters read from peers. */
int64_t json_clamp_i64(double d);
/* The decimal digits s (1..20 of them, nothing else, no leading zero but
 * in "0": one string per value) as a uint64_t: -EINVAL for anything else,
 * -ERANGE past UINT64_MAX. What json_u64_value
 * reads from a string, for other decimal wire fields (the journal's). */
int json_parse_u64(const char *s, uint64_t *out);
int json_get_u64(const struct cJSON *obj, const char *key, bool required, uint64_t *out,
		 char *err, size_t errlen);
struct cJSON *json_u64_create(uint64_t v);
struct cJSON *json_add_u64(struct cJSON *obj, const char *key, uint64_t v);

#endif
