/* Bulk data through a worker's /api/v1/data route (client/client.h). */
#include "client/decode.h"

#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: a stable first choice per path. */
static uint64_t path_hash(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return h;
}

/* "http" or "https", as the masters are reached. */
static void scheme_of(struct client *mc, char *buf, size_t len)
{
	char leader[CLIENT_URL_MAX];
	client_leader(mc, leader, sizeof(leader));
	const char *sep = strstr(leader, "://");
	snprintf(buf, len, "%.*s", sep ? (int)(sep - leader) : 4, sep ? leader : "http");
}

/* The base URL of a live worker that answers its health route, starting
 * with the one the path picks; ST_EPEER when none does. */
static int pick_worker(struct client *mc, struct httpc *hc, const char *path, char *base,
		       size_t baselen, char *err, size_t errlen)
{
	struct client_worker_list l;
	int rc = client_workers_list(mc, hc, &l, err, errlen);
	if (rc)
		return rc;
	size_t nlive = 0;
	for (size_t i = 0; i < l.n; i++)
		nlive += l.workers[i].live;
	char scheme[16], why[512] = "";
	scheme_of(mc, scheme, sizeof(scheme));
	rc = ST_EPEER;
	size_t start = nlive ? (size_t)(path_hash(path) % nlive) : 0;
	/* The live workers in order from `start`, wrapping around. */
	size_t *live = nlive ? calloc(nlive, sizeof(*live)) : NULL;
	if (nlive && !live) {
		client_worker_list_clear(&l);
		return -ENOMEM;
	}
	for (size_t i = 0, j = 0; i < l.n; i++)
		if (l.workers[i].live)
			live[j++] = i;
	for (size_t k = 0; rc && k < nlive; k++) {
		const struct client_worker *w = &l.workers[live[(start + k) % nlive]];
		char url[CLIENT_URL_MAX + 32];
		snprintf(base, baselen, "%s://%s", scheme, w->address);
		snprintf(url, sizeof(url), "%s/api/v1/health", base);
		struct httpc_resp resp = { 0 };
		int hrc = httpc_request(hc, "GET", url, NULL, NULL, 0, &resp, why, sizeof(why));
		if (hrc == 0 && resp.status == 200)
			rc = 0;
		else if (hrc == 0)
			snprintf(why, sizeof(why), "worker %s answered HTTP %ld", w->address,
				 resp.status);
		httpc_resp_free(&resp);
		if (hrc == -ENOMEM)
			rc = -ENOMEM;
	}
	free(live);
	client_worker_list_clear(&l);
	if (rc == ST_EPEER && nlive == 0)
		snprintf(err, errlen, "%s: no live worker to carry the data", path);
	else if (rc == ST_EPEER)
		snprintf(err, errlen, "%s: no live worker answered (last: %s)", path, why);
	return rc;
}

static int stream(struct client *mc, struct httpc *hc, const char *method, const char *path,
		  const char *write_type, uint64_t data_id, FILE *in, int64_t size, FILE *out,
		  struct httpc_resp *resp, char *err, size_t errlen)
{
	char base[CLIENT_URL_MAX];
	int rc = pick_worker(mc, hc, path, base, sizeof(base), err, errlen);
	if (rc)
		return rc;
	char extra[96] = "";
	if (write_type)
		snprintf(extra, sizeof(extra), "&write_type=%.40s", write_type);
	if (data_id)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "&data_id=%llu",
			 (unsigned long long)data_id);
	char *pq = httpc_path_query("/api/v1/data", path, extra);
	char *url = NULL;
	if (!pq || asprintf(&url, "%s%s", base, pq) < 0) {
		free(pq);
		return -ENOMEM;
	}
	rc = httpc_stream(hc, method, url, in, size, out, resp, err, errlen);
	if (rc == ST_EPEER) {
		/* err names the URL; say the path and the worker instead. */
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s: transfer through worker %s failed: %s", path, base,
			 why);
	} else if (rc == 0 && (resp->status < 200 || resp->status > 299)) {
		cJSON *doc = cJSON_ParseWithLength(resp->body ? resp->body : "", resp->len);
		rc = client_reply_error(resp->status, doc, path, err, errlen);
		cJSON_Delete(doc);
	}
	free(url);
	free(pq);
	return rc;
}

int client_data_get_version(struct client *mc, struct httpc *hc, const char *path,
			    uint64_t data_id, FILE *out, char *err, size_t errlen)
{
	struct httpc_resp resp = { 0 };
	int rc = stream(mc, hc, "GET", path, NULL, data_id, NULL, -1, out, &resp, err, errlen);
	httpc_resp_free(&resp);
	return rc;
}

int client_data_get(struct client *mc, struct httpc *hc, const char *path, FILE *out,
		    char *err, size_t errlen)
{
	return client_data_get_version(mc, hc, path, 0, out, err, errlen);
}

int client_data_put(struct client *mc, struct httpc *hc, const char *path, FILE *in,
		    int64_t size, const char *write_type, uint64_t *length, char *err,
		    size_t errlen)
{
	struct httpc_resp resp = { 0 };
	int rc = stream(mc, hc, "PUT", path, write_type, 0, in, size, NULL, &resp, err, errlen);
	if (!rc && length) {
		cJSON *doc = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.len);
		*length = (uint64_t)json_int_or(doc, "length", 0);
		cJSON_Delete(doc);
	}
	httpc_resp_free(&resp);
	return rc;
}
