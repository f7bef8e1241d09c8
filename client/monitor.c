/* Typed calls for monitors (strata-top, dashboards): a worker's own
 * counters and tiers (GET <worker>/api/v1/metrics, asked of the worker
 * itself) and the leader's bounded history of cluster samples
 * (GET /api/v1/metrics/history). */
#include "client/decode.h"

#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? json_clamp_i64(v->valuedouble) : 0;
}

static double dbl(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The optional "mounts" and "top_paths" arrays. */
static int paths_decode(const cJSON *doc, struct client_worker_stats *out, char *err,
			size_t errlen)
{
	const cJSON *mounts = cJSON_GetObjectItemCaseSensitive(doc, "mounts");
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(doc, "top_paths"), *c;
	if ((mounts && !cJSON_IsArray(mounts)) || (paths && !cJSON_IsArray(paths))) {
		snprintf(err, errlen, "worker metrics: 'mounts' and 'top_paths' must be arrays");
		return ST_EPROTO;
	}
	size_t nm = (size_t)cJSON_GetArraySize(mounts), np = (size_t)cJSON_GetArraySize(paths);
	if ((nm && !(out->mounts = calloc(nm, sizeof(*out->mounts)))) ||
	    (np && !(out->top_paths = calloc(np, sizeof(*out->top_paths)))))
		return -ENOMEM;
	cJSON_ArrayForEach(c, mounts)
	{
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "mount"));
		if (!name) {
			snprintf(err, errlen, "worker metrics: mounts[%zu] has no 'mount'",
				 out->nmounts);
			return ST_EPROTO;
		}
		struct client_mount_stats *m = &out->mounts[out->nmounts];
		if (!(m->mount = strdup(name)))
			return -ENOMEM;
		out->nmounts++;
		m->read_requests = num(c, "read_requests");
		m->bytes_requested = num(c, "bytes_requested");
		m->block_hits = num(c, "block_hits");
		m->block_misses = num(c, "block_misses");
		m->bytes_from_cache = num(c, "bytes_from_cache");
		m->bytes_from_ufs = num(c, "bytes_from_ufs");
	}
	cJSON_ArrayForEach(c, paths)
	{
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "path"));
		if (!name) {
			snprintf(err, errlen, "worker metrics: top_paths[%zu] has no 'path'",
				 out->npaths);
			return ST_EPROTO;
		}
		struct client_path_stats *p = &out->top_paths[out->npaths];
		if (!(p->path = strdup(name)))
			return -ENOMEM;
		out->npaths++;
		p->requests = dbl(c, "requests");
		p->bytes = dbl(c, "bytes");
		p->error = dbl(c, "error");
	}
	return 0;
}

void client_worker_stats_clear(struct client_worker_stats *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ncounters; i++)
		free(s->counters[i].name);
	free(s->counters);
	for (size_t i = 0; i < s->ntiers; i++)
		free(s->tiers[i].name);
	free(s->tiers);
	for (size_t i = 0; i < s->nmounts; i++)
		free(s->mounts[i].mount);
	free(s->mounts);
	for (size_t i = 0; i < s->npaths; i++)
		free(s->top_paths[i].path);
	free(s->top_paths);
	cJSON_Delete(s->json);
	memset(s, 0, sizeof(*s));
}

int client_worker_stats_decode(const cJSON *doc, struct client_worker_stats *out, char *err,
			       size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const cJSON *counters = cJSON_GetObjectItemCaseSensitive(doc, "counters");
	const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(doc, "tiers");
	if (!cJSON_IsObject(counters) || !cJSON_IsArray(tiers)) {
		snprintf(err, errlen, "worker metrics: 'counters' (object) and 'tiers' (array) "
				      "expected");
		return ST_EPROTO;
	}
	size_t nc = (size_t)cJSON_GetArraySize(counters);
	size_t nt = (size_t)cJSON_GetArraySize(tiers);
	out->counters = calloc(nc ? nc : 1, sizeof(*out->counters));
	out->tiers = calloc(nt ? nt : 1, sizeof(*out->tiers));
	if (!out->counters || !out->tiers)
		goto err_oom;
	const cJSON *c;
	cJSON_ArrayForEach(c, counters)
	{
		if (!cJSON_IsNumber(c) || !c->string)
			continue;
		struct client_counter *k = &out->counters[out->ncounters];
		if (!(k->name = strdup(c->string)))
			goto err_oom;
		k->value = c->valuedouble;
		out->ncounters++;
	}
	cJSON_ArrayForEach(c, tiers)
	{
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
		if (!name) {
			snprintf(err, errlen, "worker metrics: a tier without a 'name'");
			client_worker_stats_clear(out);
			return ST_EPROTO;
		}
		struct client_tier_stats *t = &out->tiers[out->ntiers];
		if (!(t->name = strdup(name)))
			goto err_oom;
		out->ntiers++;
		t->capacity_bytes = num(c, "capacity_bytes");
		t->used_bytes = num(c, "used_bytes");
		t->blocks = num(c, "blocks");
		t->bytes_served = num(c, "bytes_served");
		t->hits = num(c, "hits");
		t->evictions = num(c, "evictions");
		t->demotions = num(c, "demotions");
	}
	int rc = paths_decode(doc, out, err, errlen);
	if (rc)
		client_worker_stats_clear(out);
	return rc;

err_oom:
	client_worker_stats_clear(out);
	return -ENOMEM;
}

int client_worker_metrics(struct httpc *hc, const char *base_url,
			  struct client_worker_stats *out, char *err, size_t errlen)
{
	char url[CLIENT_URL_MAX + 32];
	snprintf(url, sizeof(url), "%s/api/v1/metrics", base_url);
	struct httpc_json_reply r;
	int rc = httpc_json_reply(hc, "GET", url, NULL, &r, err, errlen);
	if (rc)
		return rc;
	if (r.status < 200 || r.status > 299) {
		rc = client_reply_error(r.status, r.json, base_url, err, errlen);
		httpc_json_reply_free(&r);
		return rc;
	}
	if (!r.json) {
		snprintf(err, errlen, "%s: the metrics reply is not JSON", base_url);
		httpc_json_reply_free(&r);
		return ST_EPROTO;
	}
	rc = client_worker_stats_decode(r.json, out, err, errlen);
	if (rc) {
		httpc_json_reply_free(&r);
		return rc;
	}
	out->json = r.json;
	r.json = NULL;
	httpc_json_reply_free(&r);
	return 0;
}

void client_history_clear(struct client_history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->ncolumns; i++) {
		free(h->columns[i].name);
		free(h->columns[i].values);
	}
	free(h->columns);
	cJSON_Delete(h->json);
	memset(h, 0, sizeof(*h));
}

const int64_t *client_history_column(const struct client_history *h, const char *name)
{
	for (size_t i = 0; i < h->ncolumns; i++)
		if (strcmp(h->columns[i].name, name) == 0)
			return h->columns[i].values;
	return NULL;
}

int client_history_decode(const cJSON *doc, struct client_history *out, char *err,
			  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const cJSON *count = cJSON_GetObjectItemCaseSensitive(doc, "count");
	const cJSON *samples = cJSON_GetObjectItemCaseSensitive(doc, "samples");
	if (!cJSON_IsNumber(count) || !(count->valuedouble >= 0 && count->valuedouble <= 1e7) ||
	    !cJSON_IsObject(samples)) {
		snprintf(err, errlen, "metrics history: 'count' and 'samples' expected");
		return ST_EPROTO;
	}
	out->interval_ms = num(doc, "interval_ms");
	out->capacity = num(doc, "capacity");
	out->count = (size_t)count->valuedouble;
	size_t ncols = (size_t)cJSON_GetArraySize(samples);
	out->columns = calloc(ncols ? ncols : 1, sizeof(*out->columns));
	if (!out->columns)
		goto err_oom;
	const cJSON *col;
	cJSON_ArrayForEach(col, samples)
	{
		if (!col->string || !cJSON_IsArray(col) ||
		    (size_t)cJSON_GetArraySize(col) != out->count) {
			snprintf(err, errlen, "metrics history: column '%s' is not an array of %zu",
				 col->string ? col->string : "?", out->count);
			client_history_clear(out);
			return ST_EPROTO;
		}
		struct client_history_column *c = &out->columns[out->ncolumns];
		c->name = strdup(col->string);
		c->values = calloc(out->count ? out->count : 1, sizeof(*c->values));
		out->ncolumns++;
		if (!c->name || !c->values)
			goto err_oom;
		size_t i = 0;
		const cJSON *v;
		cJSON_ArrayForEach(v, col)
			c->values[i++] = cJSON_IsNumber(v) ? json_clamp_i64(v->valuedouble) : 0;
	}
	if (!client_history_column(out, "t_ms")) {
		snprintf(err, errlen, "metrics history: no 't_ms' column");
		client_history_clear(out);
		return ST_EPROTO;
	}
	return 0;

err_oom:
	client_history_clear(out);
	return -ENOMEM;
}

int client_metrics_history(struct client *mc, struct httpc *hc, int64_t since_ms,
			   struct client_history *out, char *err, size_t errlen)
{
	char pq[96] = "/api/v1/metrics/history";
	if (since_ms >= 0)
		snprintf(pq, sizeof(pq), "/api/v1/metrics/history?since_ms=%" PRId64, since_ms);
	struct httpc_json_reply r;
	int rc = client_json_reply(mc, hc, "GET", pq, NULL, &r, err, errlen);
	if (rc)
		return rc;
	if (r.status == 404) {
		snprintf(err, errlen, "this master has no metrics history");
		httpc_json_reply_free(&r);
		return -ENOENT;
	}
	if (r.status < 200 || r.status > 299) {
		rc = client_reply_error(r.status, r.json, NULL, err, errlen);
		httpc_json_reply_free(&r);
		return rc;
	}
	rc = r.json ? client_history_decode(r.json, out, err, errlen) : ST_EPROTO;
	if (rc == ST_EPROTO && !r.json)
		snprintf(err, errlen, "metrics history: the reply is not JSON");
	if (!rc) {
		out->json = r.json;
		r.json = NULL;
	}
	httpc_json_reply_free(&r);
	return rc;
}
