#include "api/rest_common.h"

#include "api/http.h"
#include "lib/path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

cJSON *rest_config_json(const struct strata_conf *conf)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(root, "keys");
	if (!arr) {
		cJSON_Delete(root);
		return NULL;
	}
	size_t n;
	const struct conf_key *keys = conf_keys(&n);
	for (size_t i = 0; i < n; i++) {
		char value[2048];
		conf_format(conf, &keys[i], value, sizeof(value));
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			cJSON_Delete(root);
			return NULL;
		}
		cJSON_AddStringToObject(o, "key", keys[i].name);
		cJSON_AddStringToObject(o, "type", conf_type_name(keys[i].type));
		cJSON_AddStringToObject(o, "value", value);
		cJSON_AddStringToObject(o, "default", keys[i].def);
	}
	return root;
}

int rest_path_param(struct http_req *req, const char *name, char *out, size_t outlen)
{
	char *raw = malloc(PATH_MAX_LEN * 3 + 16);
	if (!raw) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return -ENOMEM;
	}
	int n = http_req_param(req, name, raw, PATH_MAX_LEN * 3 + 16);
	int rc = 0;
	char err[256];
	if (n == -ENOENT) {
		http_reply_error(req, 400, "invalid_argument", "query parameter '%s' is required",
				 name);
		rc = n;
	} else if (n < 0) {
		http_reply_error(req, 400, "invalid_path", "query parameter '%s' is too long",
				 name);
		rc = n;
	} else if ((rc = path_normalize(raw, (size_t)n, out, outlen, err, sizeof(err)))) {
		http_reply_error(req, 400, "invalid_path", "%s: %s", name, err);
	}
	free(raw);
	return rc;
}
