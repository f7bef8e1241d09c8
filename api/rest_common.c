#include "api/rest_common.h"

#include "api/http.h"
#include "lib/path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <openssl/crypto.h>
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

static bool is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strncmp(addr, "::ffff:127.", 11) == 0;
}

bool rest_worker_authorized(struct http_req *req, const struct strata_conf *conf)
{
	const char *want = conf->cluster_worker_token;
	if (!*want) {
		if (is_loopback(http_req_remote(req)))
			return true;
		http_reply_error(req, 403, "forbidden",
				 "worker RPC from %s refused: set cluster.worker_token on masters and "
				 "workers to serve workers on other hosts",
				 http_req_remote(req));
		return false;
	}
	const char *got = http_req_header(req, "X-Strata-Worker-Token");
	size_t n = strlen(want);
	if (got && strlen(got) == n && CRYPTO_memcmp(got, want, n) == 0)
		return true;
	http_reply_error(req, 403, "forbidden",
			 got ? "wrong X-Strata-Worker-Token" : "X-Strata-Worker-Token is required");
	return false;
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
