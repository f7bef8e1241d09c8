#include "api/rest_worker.h"

#include "api/rest_common.h"
#include "daemon/worker/blocksvc.h"
#include "daemon/worker/metrics.h"
#include "daemon/worker/pathstats.h"
#include "daemon/worker/prefetch.h"
#include "daemon/worker/objects.h"
#include "daemon/worker/worker.h"
#include "daemon/worker/writer.h"
#include "lib/conf.h"
#include "lib/err.h"
#include "lib/path.h"
#include "tier/tier.h"
#include "lib/clock.h"
#include "lib/json.h"

#include "lib/placement.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void get_health(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	cJSON *o = cJSON_CreateObject();
	pthread_mutex_lock(&w->lock);
	uint64_t id = w->worker_id;
	pthread_mutex_unlock(&w->lock);
	cJSON_AddStringToObject(o, "status", "ok");
	cJSON_AddStringToObject(o, "role", "worker");
	cJSON_AddStringToObject(o, "version", STRATA_VERSION);
	cJSON_AddBoolToObject(o, "registered", id != 0);
	http_reply_json(req, 200, o);
}

static void get_worker(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	int64_t now = clock_mono_ms();
	cJSON *o = cJSON_CreateObject();
	pthread_mutex_lock(&w->lock);
	json_add_u64(o, "worker_id", w->worker_id);
	cJSON_AddStringToObject(o, "master", w->master);
	json_add_int(o, "last_heartbeat_ms_ago",
		     w->last_heartbeat_mono_ms ? now - w->last_heartbeat_mono_ms : -1);
	/* The workers blocks are placed over (the last heartbeat reply's). */
	cJSON *peers = cJSON_AddArrayToObject(o, "peers");
	for (size_t i = 0; peers && i < w->npeers; i++)
		cJSON_AddItemToArray(peers, cJSON_CreateString(w->peers[i].address));
	pthread_mutex_unlock(&w->lock);
	cJSON_AddStringToObject(o, "host", w->host);
	json_add_int(o, "data_port", w->conf->worker_port);
	json_add_int(o, "s3_port", w->conf->worker_s3_port);
	json_add_int(o, "uptime_ms", now - w->started_mono_ms);
	cJSON *tiers = cJSON_AddArrayToObject(o, "tiers");
	struct tier_stats st;
	tier_stats_get(w->tiers, &st);
	for (unsigned i = 0; i < st.nlevels; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", tier_medium_name(st.levels[i].medium));
		json_add_int(t, "capacity_bytes", (int64_t)st.levels[i].capacity);
		json_add_int(t, "used_bytes", (int64_t)st.levels[i].used);
		json_add_int(t, "blocks", (int64_t)st.levels[i].nblocks);
		cJSON_AddItemToArray(tiers, t);
	}
	http_reply_json(req, 200, o);
}

static void get_config(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	cJSON *o = rest_config_json(w->conf);
	if (!o) {
		http_reply_error(req, 500, "out_of_memory", "cannot render configuration");
		return;
	}
	http_reply_json(req, 200, o);
}

/* Reads an optional non-negative integer query parameter. */
static int u64_param(struct http_req *req, const char *name, uint64_t *out)
{
	char v[32];
	int64_t x;
	if (http_req_param(req, name, v, sizeof(v)) < 0)
		return 0;
	if (conf_parse_int(v, &x) || x < 0) {
		http_reply_error(req, 400, "invalid_argument",
				 "query parameter '%s' must be a non-negative integer", name);
		return -EINVAL;
	}
	*out = (uint64_t)x;
	return 0;
}

struct send_ctx {
	struct http_req *req;
	uint64_t length;
};

static int send_data(void *arg, const void *data, size_t len)
{
	struct send_ctx *c = arg;
	if (!http_replied(c->req))
		http_reply_start(c->req, 200, "application/octet-stream", c->length);
	return http_reply_write(c->req, data, len);
}

/* GET /api/v1/data?path=&offset=&length=[&data_id=]: a file's bytes
 * through the cache. data_id: the version the reader opened (its blocks'
 * content id, from the master). Where this worker's metadata names
 * another one, it may be stale (a rename or write made elsewhere, within
 * worker.metadata_ttl): it is asked of the master again before any byte
 * goes out. What the master then names is served, the reader's version or
 * not (a file replaced since the reader opened it: docs/fuse.md). */
static void get_data(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	char path[PATH_MAX_LEN + 1], err[1024] = "";
	uint64_t off = 0, len = UINT64_MAX, want_id = 0;
	if (rest_path_param(req, "path", path, sizeof(path)) || u64_param(req, "offset", &off) ||
	    u64_param(req, "length", &len) || u64_param(req, "data_id", &want_id))
		return;
	struct file_info *fi = malloc(sizeof(*fi));
	if (!fi) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
	int rc;
	/* A block owner or the store may know the file changed before our
	 * metadata does (ST_ESTALE): refresh it and start over, as long as
	 * nothing was sent. */
	for (int attempt = 0; attempt < 2; attempt++) {
		/* First: a file nobody looked up yet costs one store read. */
		rc = attempt == 0 ? wobj_lookup_at(w, path, off, fi, err, sizeof(err))
				  : fcache_get(w->fcache, path, fi, err, sizeof(err));
		if (rc) {
			http_reply_rc(req, rc, err);
			goto out;
		}
		if (attempt == 0 && want_id && fi->data_id != want_id) {
			atomic_fetch_add(&w->data_version_lookups, 1);
			fcache_invalidate(w->fcache, path);
			continue;
		}
		uint64_t avail = off < fi->length ? fi->length - off : 0;
		struct send_ctx c = { .req = req, .length = len < avail ? len : avail };
		if (!c.length) {
			http_reply_raw(req, 200, "application/octet-stream", "", 0);
			goto out;
		}
		rc = bsvc_read(w->bsvc, fi, off, c.length, send_data, &c, err, sizeof(err));
		if (rc != ST_ESTALE || http_replied(req))
			break;
		fcache_invalidate(w->fcache, path);
		*err = '\0';
	}
	if (rc && !http_replied(req))
		http_reply_rc(req, rc, err);
	else if (rc)
		http_abort(req);
out:
	free(fi);
}

/* GET /api/v1/blocks/<id>?path=&data_id=&offset=&length=: a peer pulls a
 * block range this worker owns. 409 when our view of the file differs, 404
 * when the file is gone. A cached block is served whatever version our
 * metadata names (its id names one immutable content version, so a reader
 * that started on the old content of a rewritten file finishes it, never
 * a mix), but only while the file exists: a file deleted while this worker
 * was cut off from the masters leaves its blocks in the tiers until they
 * are evicted, and they must not be served once our metadata (at most
 * worker.metadata_ttl old) knows it is gone
 * (tests/integration/test_partition.py). */
static void get_block(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	char path[PATH_MAX_LEN + 1], err[1024] = "";
	uint64_t data_id = 0, off = 0, len = 0, id = 0;
	int64_t parsed;
	if (conf_parse_int(http_req_rest(req), &parsed) || parsed < 0) {
		http_reply_error(req, 400, "invalid_argument", "block id '%.64s' is not a number",
				 http_req_rest(req));
		return;
	}
	id = (uint64_t)parsed;
	if (rest_path_param(req, "path", path, sizeof(path)) || u64_param(req, "data_id", &data_id) ||
	    u64_param(req, "offset", &off) || u64_param(req, "length", &len))
		return;
	if (!len) {
		/* Nothing would be sent, and so no reply (found by fuzz_rest_worker). */
		http_reply_error(req, 400, "invalid_argument",
				 "query parameter 'length' is required and must be above 0");
		return;
	}
	/* cached=1 (a replication copy, a read trying another holder): only a
	 * cached copy will do, never a read of the store. */
	char cached[4] = "";
	bool cached_only = http_req_param(req, "cached", cached, sizeof(cached)) >= 0 &&
			   strcmp(cached, "1") == 0;
	struct file_info *fi = malloc(sizeof(*fi));
	if (!fi) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
	int rc = fcache_get(w->fcache, path, fi, err, sizeof(err));
	if (rc == -ENOENT || rc == -EISDIR) {
		http_reply_rc(req, rc, err);
		goto out;
	}
	struct send_ctx c = { .req = req, .length = len };
	int crc = bsvc_read_cached(w->bsvc, id, path, off, len, send_data, &c);
	if (crc != -ENOENT) {
		if (crc && !http_replied(req))
			http_reply_rc(req, crc, "cannot read the cached block");
		else if (crc)
			http_abort(req);
		goto out;
	}
	if (cached_only) {
		http_reply_error(req, 404, "not_cached", "block %llu is not cached here",
				 (unsigned long long)id);
		goto out;
	}
	if (!rc && fi->data_id != data_id) {
		fcache_invalidate(w->fcache, path);
		rc = fcache_get(w->fcache, path, fi, err, sizeof(err));
	}
	if (!rc && (fi->data_id != data_id || (id >> PLACEMENT_INDEX_BITS) != data_id)) {
		http_reply_error(req, 409, "stale", "block %llu is not of the current content of '%s'",
				 (unsigned long long)id, path);
		goto out;
	}
	if (rc) {
		http_reply_rc(req, rc, err);
		goto out;
	}
	rc = bsvc_read_block(w->bsvc, fi, id & PLACEMENT_MAX_INDEX, off, len, send_data, &c, err,
			     sizeof(err));
	if (rc && !http_replied(req))
		http_reply_rc(req, rc, err);
	else if (rc)
		http_abort(req);
out:
	free(fi);
}

static long read_body(void *arg, void *buf, size_t len)
{
	return http_req_read(arg, buf, len);
}

/* PUT /api/v1/data?path=[&write_type=T] (or the header
 * x-strata-write-type: T): writes a file through this worker; T is
 * THROUGH, CACHE_THROUGH, ASYNC_THROUGH or MUST_CACHE, else the path's
 * write type policy. */
static void put_data(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	char path[PATH_MAX_LEN + 1], err[1024] = "", wt[32];
	if (rest_path_param(req, "path", path, sizeof(path)))
		return;
	enum write_type type = WRITE_DEFAULT;
	const char *hdr = http_req_header(req, "x-strata-write-type");
	int plen = http_req_param(req, "write_type", wt, sizeof(wt));
	if (plen >= 0 && write_type_parse(wt, &type)) {
		http_reply_error(req, 400, "invalid_argument",
				 "query parameter 'write_type': '%.32s' is not THROUGH, CACHE_THROUGH, "
				 "ASYNC_THROUGH or MUST_CACHE", wt);
		return;
	}
	if (plen < 0 && hdr && write_type_parse(hdr, &type)) {
		http_reply_error(req, 400, "invalid_argument",
				 "header 'x-strata-write-type': '%.32s' is not THROUGH, "
				 "CACHE_THROUGH, ASYNC_THROUGH or MUST_CACHE", hdr);
		return;
	}
	struct write_result r;
	int rc = worker_write_file(w, path, type, read_body, req, NULL, &r, err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", path);
	json_add_int(o, "length", (int64_t)r.length);
	json_add_u64(o, "data_id", r.data_id);
	cJSON_AddStringToObject(o, "fingerprint", r.fingerprint);
	cJSON_AddStringToObject(o, "write_type", write_type_name(r.type));
	http_reply_json(req, 201, o);
}

/* PUT /api/v1/blocks/<id>[?pin=1]: a peer's write pushes a block we own
 * (pinned: content not persisted yet). */
static void put_block(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	int64_t id, len;
	const char *clen = http_req_header(req, "Content-Length");
	if (conf_parse_int(http_req_rest(req), &id) || id < 0) {
		http_reply_error(req, 400, "invalid_argument", "block id '%.64s' is not a number",
				 http_req_rest(req));
		return;
	}
	if (!clen || conf_parse_int(clen, &len) || len < 0 || len > (INT64_C(512) << 20)) {
		http_reply_error(req, 411, "length_required",
				 "a block upload needs a Content-Length up to 512 MiB");
		return;
	}
	char err[512] = "", pv[8];
	bool pin = http_req_param(req, "pin", pv, sizeof(pv)) >= 0 && strcmp(pv, "1") == 0;
	int rc = worker_accept_block(w, (uint64_t)id, (uint64_t)len, read_body, req, pin, err,
				     sizeof(err));
	if (rc && rc != -EEXIST) {
		http_reply_rc(req, rc, err);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	json_add_u64(o, "block_id", (uint64_t)id);
	cJSON_AddBoolToObject(o, "cached", rc == 0);
	http_reply_json(req, rc == 0 ? 201 : 200, o);
}

static void get_metrics_json(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	struct worker_metric m[WORKER_METRICS_MAX];
	struct tier_stats ts;
	struct bsvc_stats bs;
	size_t n = worker_metrics(w, m, WORKER_METRICS_MAX, &ts, &bs);
	cJSON *o = cJSON_CreateObject();
	cJSON *c = cJSON_AddObjectToObject(o, "counters");
	for (size_t i = 0; i < n; i++)
		json_add_int(c, m[i].name + strlen("strata_worker_"), (int64_t)m[i].value);
	cJSON *tiers = cJSON_AddArrayToObject(o, "tiers");
	for (unsigned i = 0; i < ts.nlevels; i++) {
		const struct tier_level_stats *l = &ts.levels[i];
		cJSON *t = cJSON_CreateObject();
		cJSON_AddItemToArray(tiers, t);
		cJSON_AddStringToObject(t, "name", tier_medium_name(l->medium));
		json_add_int(t, "capacity_bytes", (int64_t)l->capacity);
		json_add_int(t, "used_bytes", (int64_t)l->used);
		json_add_int(t, "blocks", (int64_t)l->nblocks);
		json_add_int(t, "bytes_served", (int64_t)l->bytes_served);
		json_add_int(t, "hits", (int64_t)l->hits);
		json_add_int(t, "evictions", (int64_t)l->evictions);
		json_add_int(t, "demotions", (int64_t)l->demotions);
	}
	cJSON *lat = cJSON_AddArrayToObject(o, "latency_ms_buckets");
	static const char *const le[] = { "1", "2", "5", "10", "50", "100", "500", "+Inf" };
	for (int i = 0; i < 8; i++) {
		cJSON *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "le", le[i]);
		json_add_int(b, "count", (int64_t)bs.latency_le_ms[i]);
		cJSON_AddItemToArray(lat, b);
	}
	uint64_t total = bs.bytes_from_cache + bs.bytes_from_ufs + bs.bytes_from_peers;
	cJSON_AddNumberToObject(o, "hit_ratio_bytes",
				total ? (double)bs.bytes_from_cache / (double)total : 0);
	if (w->pstats && pathstats_add_json(w->pstats, o, 20, clock_mono_ms())) {
		cJSON_Delete(o);
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
	http_reply_json(req, 200, o);
}

static void get_metrics_prom(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	struct worker_metric m[WORKER_METRICS_MAX];
	struct tier_stats ts;
	struct bsvc_stats bs;
	size_t n = worker_metrics(w, m, WORKER_METRICS_MAX, &ts, &bs);
	size_t cap = 16384, off = 0;
	char *buf = malloc(cap);
	if (!buf) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
#define EMIT(...) off += (size_t)snprintf(buf + off, off < cap ? cap - off : 0, __VA_ARGS__)
	for (size_t i = 0; i < n; i++)
		EMIT("# HELP %s %s\n# TYPE %s counter\n%s %llu\n", m[i].name, m[i].help, m[i].name,
		     m[i].name, (unsigned long long)m[i].value);
	EMIT("# HELP strata_worker_tier_capacity_bytes Tier capacity\n"
	     "# TYPE strata_worker_tier_capacity_bytes gauge\n");
	for (unsigned i = 0; i < ts.nlevels; i++)
		EMIT("strata_worker_tier_capacity_bytes{tier=\"%s\"} %llu\n",
		     tier_medium_name(ts.levels[i].medium),
		     (unsigned long long)ts.levels[i].capacity);
	EMIT("# HELP strata_worker_tier_used_bytes Tier bytes in use\n"
	     "# TYPE strata_worker_tier_used_bytes gauge\n");
	for (unsigned i = 0; i < ts.nlevels; i++)
		EMIT("strata_worker_tier_used_bytes{tier=\"%s\"} %llu\n",
		     tier_medium_name(ts.levels[i].medium), (unsigned long long)ts.levels[i].used);
	EMIT("# HELP strata_worker_tier_bytes_served_total Bytes served from each tier\n"
	     "# TYPE strata_worker_tier_bytes_served_total counter\n");
	for (unsigned i = 0; i < ts.nlevels; i++)
		EMIT("strata_worker_tier_bytes_served_total{tier=\"%s\"} %llu\n",
		     tier_medium_name(ts.levels[i].medium),
		     (unsigned long long)ts.levels[i].bytes_served);
	EMIT("# HELP strata_worker_request_duration_seconds Read request latency\n"
	     "# TYPE strata_worker_request_duration_seconds histogram\n");
	static const char *const le[] = { "0.001", "0.002", "0.005", "0.01", "0.05", "0.1", "0.5",
					  "+Inf" };
	uint64_t cum = 0;
	for (int i = 0; i < 8; i++) {
		cum += bs.latency_le_ms[i];
		EMIT("strata_worker_request_duration_seconds_bucket{le=\"%s\"} %llu\n", le[i],
		     (unsigned long long)cum);
	}
	EMIT("strata_worker_request_duration_seconds_sum %.6f\n", (double)bs.latency_sum_us / 1e6);
	EMIT("strata_worker_request_duration_seconds_count %llu\n", (unsigned long long)cum);
#undef EMIT
	http_reply_raw(req, 200, "text/plain; version=0.0.4", buf, off < cap ? off : cap - 1);
	free(buf);
}

/* POST /api/v1/internal/load {"path","data_id","offset","length"[,"medium",
 * "pinned"]}: the master's load job has this worker read a range through
 * its cache (up to medium, pinned as the master knows the file). */
static void post_internal_load(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char path[PATH_MAX_LEN + 1], err[1024] = "";
	const char *raw = NULL;
	uint64_t data_id = 0, off = 0, len = 0, bytes = 0;
	int rc = json_get_str(body, "path", true, &raw, err, sizeof(err));
	if (!rc)
		rc = path_normalize(raw, strlen(raw), path, sizeof(path), err, sizeof(err));
	if (!rc)
		rc = json_get_u64(body, "data_id", true, &data_id, err, sizeof(err));
	if (!rc)
		rc = json_get_u64(body, "offset", true, &off, err, sizeof(err));
	if (!rc)
		rc = json_get_u64(body, "length", true, &len, err, sizeof(err));
	const char *medium = NULL;
	bool pinned = false;
	if (!rc)
		rc = json_get_str(body, "medium", false, &medium, err, sizeof(err));
	enum tier_medium m;
	if (!rc && medium && *medium && tier_medium_parse(medium, &m)) {
		snprintf(err, sizeof(err), "field 'medium': '%.40s' is not MEM, SSD or HDD", medium);
		rc = -EINVAL;
	}
	if (!rc)
		rc = json_get_bool(body, "pinned", false, &pinned, err, sizeof(err));
	if (rc) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	rc = prefetch_load(w, path, data_id, off, len, medium, pinned, &bytes, err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		goto out;
	}
	cJSON *o = cJSON_CreateObject();
	json_add_int(o, "bytes", (int64_t)bytes);
	http_reply_json(req, 200, o);
out:
	cJSON_Delete(body);
}

/* POST /api/v1/internal/persist {"path","data_id","length"}: writes a file
 * that only the caches hold to its store (a persist job's step) ->
 * {"length","mtime_ms","fingerprint"} of what the store holds now. */
static void post_internal_persist(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char err[1024] = "", path[PATH_MAX_LEN + 1];
	const char *raw = NULL;
	uint64_t data_id = 0, length = 0;
	if (json_get_str(body, "path", true, &raw, err, sizeof(err)) ||
	    json_get_u64(body, "data_id", true, &data_id, err, sizeof(err)) ||
	    json_get_u64(body, "length", true, &length, err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	if (path_normalize(raw, strlen(raw), path, sizeof(path), err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_path", "field 'path': %s", err);
		goto out;
	}
	struct write_result r;
	int rc = worker_persist_file(w, path, data_id, length, &r, err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		goto out;
	}
	cJSON *o = cJSON_CreateObject();
	json_add_u64(o, "length", r.length);
	json_add_int(o, "mtime_ms", r.mtime_ms);
	cJSON_AddStringToObject(o, "fingerprint", r.fingerprint);
	http_reply_json(req, 200, o);
out:
	cJSON_Delete(body);
}

/* POST /api/v1/internal/free {"blocks":[{"data_id","count"}][,"unpin":true]}:
 * drops those blocks from this worker's tiers, or (unpin) only unpins them
 * (a persist job wrote their content to its store). */
static void post_internal_free(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char err[256] = "";
	uint64_t removed = 0;
	bool unpin = false;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "blocks");
	if (!cJSON_IsArray(arr)) {
		http_reply_error(req, 400, "invalid_argument", "field 'blocks': must be an array");
		goto out;
	}
	if (json_get_bool(body, "unpin", false, &unpin, err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		uint64_t data_id = 0, count = 0, n = 0;
		if (!cJSON_IsObject(it) || json_get_u64(it, "data_id", true, &data_id, err, sizeof(err)) ||
		    json_get_u64(it, "count", true, &count, err, sizeof(err))) {
			http_reply_error(req, 400, "invalid_argument", "field 'blocks': %s",
					 err[0] ? err : "items must be objects");
			goto out;
		}
		int rc = unpin ? prefetch_unpin(w, data_id, count, &n)
			       : prefetch_free(w, data_id, count, &n);
		if (rc) {
			http_reply_rc(req, rc, unpin ? "cannot unpin cached blocks"
						     : "cannot drop cached blocks");
			goto out;
		}
		removed += n;
	}
	cJSON *o = cJSON_CreateObject();
	json_add_int(o, unpin ? "unpinned" : "removed", (int64_t)removed);
	http_reply_json(req, 200, o);
out:
	cJSON_Delete(body);
}

static const struct http_route g_routes[] = {
	{ "GET", "/api/v1/health", HTTP_ACCESS_PUBLIC, get_health },
	{ "GET", "/api/v1/worker", HTTP_ACCESS_READONLY, get_worker },
	{ "GET", "/api/v1/config", HTTP_ACCESS_READONLY, get_config },
	{ "GET", "/api/v1/data", HTTP_ACCESS_READONLY, get_data },
	{ "PUT", "/api/v1/data", HTTP_ACCESS_ADMIN, put_data },
	{ "GET", "/api/v1/blocks/", HTTP_ACCESS_WORKER, get_block },
	{ "PUT", "/api/v1/blocks/", HTTP_ACCESS_WORKER, put_block },
	{ "POST", "/api/v1/internal/load", HTTP_ACCESS_WORKER, post_internal_load },
	{ "POST", "/api/v1/internal/free", HTTP_ACCESS_WORKER, post_internal_free },
	{ "POST", "/api/v1/internal/persist", HTTP_ACCESS_WORKER, post_internal_persist },
	{ "GET", "/api/v1/metrics", HTTP_ACCESS_READONLY, get_metrics_json },
	{ "GET", "/metrics", HTTP_ACCESS_METRICS, get_metrics_prom },
};

const struct http_route *rest_worker_routes(size_t *nroutes)
{
	*nroutes = sizeof(g_routes) / sizeof(g_routes[0]);
	return g_routes;
}
