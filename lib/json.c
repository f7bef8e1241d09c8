#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const cJSON *field(const cJSON *obj, const char *key, bool required, int *rc, char *err,
			  size_t errlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	*rc = 0;
	if (!item && required) {
		snprintf(err, errlen, "missing required field '%s'", key);
		*rc = -ENOENT;
	}
	return item;
}

int json_get_str(const cJSON *obj, const char *key, bool required, const char **out, char *err,
		 size_t errlen)
{
	int rc;
	const cJSON *item = field(obj, key, required, &rc, err, errlen);
	if (!item)
		return rc;
	if (!cJSON_IsString(item)) {
		snprintf(err, errlen, "field '%s' must be a string", key);
		return -EINVAL;
	}
	*out = item->valuestring;
	return 0;
}

int json_get_int(const cJSON *obj, const char *key, bool required, int64_t min, int64_t max,
		 int64_t *out, char *err, size_t errlen)
{
	int rc;
	const cJSON *item = field(obj, key, required, &rc, err, errlen);
	if (!item)
		return rc;
	double v = item->valuedouble;
	if (!cJSON_IsNumber(item) || v != floor(v) || v < -9007199254740992.0 ||
	    v > 9007199254740992.0) {
		snprintf(err, errlen, "field '%s' must be an integer", key);
		return -EINVAL;
	}
	if ((int64_t)v < min || (int64_t)v > max) {
		snprintf(err, errlen, "field '%s' is %" PRId64 ", outside %" PRId64 "..%" PRId64,
			 key, (int64_t)v, min, max);
		return -EINVAL;
	}
	*out = (int64_t)v;
	return 0;
}

int json_get_bool(const cJSON *obj, const char *key, bool required, bool *out, char *err,
		  size_t errlen)
{
	int rc;
	const cJSON *item = field(obj, key, required, &rc, err, errlen);
	if (!item)
		return rc;
	if (!cJSON_IsBool(item)) {
		snprintf(err, errlen, "field '%s' must be true or false", key);
		return -EINVAL;
	}
	*out = cJSON_IsTrue(item);
	return 0;
}

const char *json_str_or(const cJSON *obj, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : dflt;
}

int64_t json_int_or(const cJSON *obj, const char *key, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    fabs(v->valuedouble) > 9007199254740992.0)
		return dflt;
	return (int64_t)v->valuedouble;
}

double json_num_or(const cJSON *obj, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

cJSON *json_add_int(cJSON *obj, const char *key, int64_t v)
{
	return cJSON_AddNumberToObject(obj, key, (double)v);
}

int json_u64_value(const cJSON *item, uint64_t *out)
{
	if (cJSON_IsNumber(item)) {
		double v = item->valuedouble;
		if (v != floor(v) || v < 0 || v > 9007199254740992.0)
			return -EINVAL;
		*out = (uint64_t)v;
		return 0;
	}
	if (!cJSON_IsString(item))
		return -EINVAL;
	return json_parse_u64(item->valuestring, out) ? -EINVAL : 0;
}

int json_parse_u64(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -EINVAL; /* canonical: "007" would be a second name for 7 */
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int json_get_u64(const cJSON *obj, const char *key, bool required, uint64_t *out, char *err,
		 size_t errlen)
{
	int rc;
	const cJSON *item = field(obj, key, required, &rc, err, errlen);
	if (!item)
		return rc;
	uint64_t v;
	if (json_u64_value(item, &v)) {
		snprintf(err, errlen, "field '%s' must be an id: a decimal string of digits", key);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

cJSON *json_u64_create(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return cJSON_CreateString(buf);
}

cJSON *json_add_u64(cJSON *obj, const char *key, uint64_t v)
{
	cJSON *item = json_u64_create(v);
	if (!item || !cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return NULL;
	}
	return item;
}

int64_t json_clamp_i64(double d)
{
	if (d != d)
		return 0;
	/* 2^63 is exact as a double; anything at or past it does not fit */
	if (d >= 9223372036854775808.0)
		return INT64_MAX;
	if (d <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)d;
}
