#include "api/rest_common.h"

#include <cjson/cJSON.h>

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
