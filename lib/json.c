#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

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

cJSON *json_add_int(cJSON *obj, const char *key, int64_t v)
{
	return cJSON_AddNumberToObject(obj, key, (double)v);
}
