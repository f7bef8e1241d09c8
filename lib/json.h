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

/* Adds an integer field exactly (cJSON numbers are doubles; 2^53 is plenty
 * for byte counts and ids). Returns the item or NULL on allocation failure. */
struct cJSON *json_add_int(struct cJSON *obj, const char *key, int64_t v);

#endif
