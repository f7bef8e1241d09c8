/* The worker's calls to the master (client/client.h, "Worker -> master
 * calls"): registration, heartbeats, file lookups, the namespace epoch and
 * the write protocol. Encoders and decoders are pure; the calls below them
 * only add the leader-following round trip. */
#include "client/decode.h"

#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Encoders ---- */

static cJSON *block_pair(const struct client_block_held *b)
{
	cJSON *pair = cJSON_CreateArray();
	if (pair && (!cJSON_AddItemToArray(pair, json_u64_create(b->id)) ||
		     !cJSON_AddItemToArray(pair, cJSON_CreateNumber(b->tier)) ||
		     cJSON_GetArraySize(pair) != 2)) {
		cJSON_Delete(pair);
		return NULL;
	}
	return pair;
}

/* Adds [[id, tier], ...] as key; false without memory. */
static bool add_blocks(cJSON *o, const char *key, const struct client_block_held *b, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(o, key);
	for (size_t i = 0; arr && i < n; i++) {
		cJSON *pair = block_pair(&b[i]);
		if (!pair || !cJSON_AddItemToArray(arr, pair)) {
			cJSON_Delete(pair);
			return false;
		}
	}
	return arr != NULL;
}

cJSON *client_registration_encode(const struct client_registration *reg)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "host", reg->host) ||
	    !json_add_int(o, "data_port", reg->data_port) ||
	    !json_add_int(o, "s3_port", reg->s3_port) ||
	    !cJSON_AddStringToObject(o, "version", reg->version) ||
	    !json_add_int(o, "capacity_bytes", reg->capacity_bytes) ||
	    !json_add_int(o, "used_bytes", reg->used_bytes) ||
	    !add_blocks(o, "blocks", reg->blocks, reg->nblocks)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *client_heartbeat_encode(const struct client_heartbeat *hb)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *removed = NULL;
	if (!o || !json_add_u64(o, "worker_id", hb->worker_id) ||
	    !json_add_int(o, "capacity_bytes", hb->capacity_bytes) ||
	    !json_add_int(o, "used_bytes", hb->used_bytes) ||
	    !add_blocks(o, "added", hb->added, hb->nadded) ||
	    !(removed = cJSON_AddArrayToObject(o, "removed")))
		goto fail;
	for (size_t i = 0; i < hb->nremoved; i++) {
		cJSON *id = json_u64_create(hb->removed[i]);
		if (!id || !cJSON_AddItemToArray(removed, id)) {
			cJSON_Delete(id);
			goto fail;
		}
	}
	if (hb->host && (!cJSON_AddStringToObject(o, "host", hb->host) ||
			 !json_add_int(o, "data_port", hb->data_port)))
		goto fail;
	/* A reference: the caller keeps its counters, the text is the same. */
	if (hb->metrics &&
	    !cJSON_AddItemReferenceToObject(o, "metrics", (cJSON *)hb->metrics))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

cJSON *client_write_done_encode(const struct client_write_done *d)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "path", d->path) ||
	    !json_add_u64(o, "data_id", d->data_id) ||
	    !json_add_int(o, "length", (int64_t)d->length) ||
	    !json_add_int(o, "mtime_ms", d->mtime_ms) ||
	    !cJSON_AddStringToObject(o, "fingerprint", d->fingerprint) ||
	    (d->etag && *d->etag && !cJSON_AddStringToObject(o, "etag", d->etag)) ||
	    (d->write_type && !cJSON_AddStringToObject(o, "write_type", d->write_type))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *client_file_loaded_encode(const struct client_file_loaded *d)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "path", d->path) ||
	    !json_add_int(o, "length", (int64_t)d->length) ||
	    !json_add_int(o, "mtime_ms", d->mtime_ms) ||
	    !cJSON_AddStringToObject(o, "fingerprint", d->fingerprint) ||
	    (d->worker_id && (!json_add_u64(o, "worker_id", d->worker_id) ||
			      !json_add_u64(o, "index", d->index)))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* ---- Decoders ---- */

/* A json_get_* result as a decode result: a field that is missing or of
 * the wrong type is the peer's fault (ST_EPROTO; err names the field). */
static int proto(int rc)
{
	return rc == -ENOENT || rc == -EINVAL ? ST_EPROTO : rc;
}

static int dup_field(const cJSON *o, const char *key, bool required, char **out, char *err,
		     size_t errlen)
{
	const char *s = "";
	int rc = proto(json_get_str(o, key, required, &s, err, errlen));
	if (rc)
		return rc;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static void store_clear(struct client_store *s)
{
	for (size_t i = 0; i < s->nopts; i++) {
		free(s->opts[i].key);
		free(s->opts[i].value);
	}
	free(s->opts);
	free(s->uri);
	memset(s, 0, sizeof(*s));
}

/* The "mount" object ({"uri", "options": {...}}) of a reply. */
static int store_decode(const cJSON *doc, struct client_store *out, char *err, size_t errlen)
{
	const cJSON *mount = cJSON_GetObjectItemCaseSensitive(doc, "mount");
	if (!cJSON_IsObject(mount)) {
		snprintf(err, errlen, "reply field 'mount' is missing or not an object");
		return ST_EPROTO;
	}
	memset(out, 0, sizeof(*out));
	int rc = dup_field(mount, "uri", true, &out->uri, err, errlen);
	if (rc) {
		if (rc == ST_EPROTO)
			snprintf(err, errlen, "reply field 'mount.uri' is missing or not a string");
		goto fail;
	}
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(mount, "options"), *o;
	if (opts && !cJSON_IsObject(opts)) {
		snprintf(err, errlen, "reply field 'mount.options' is not an object");
		rc = ST_EPROTO;
		goto fail;
	}
	size_t n = 0;
	cJSON_ArrayForEach(o, opts) n += cJSON_IsString(o);
	if (n && !(out->opts = calloc(n, sizeof(*out->opts)))) {
		rc = -ENOMEM;
		goto fail;
	}
	cJSON_ArrayForEach(o, opts)
	{
		if (!cJSON_IsString(o))
			continue;
		struct client_store_opt *opt = &out->opts[out->nopts++];
		if (!(opt->key = strdup(o->string)) || !(opt->value = strdup(o->valuestring))) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	return 0;
fail:
	store_clear(out);
	return rc;
}

void client_file_info_clear(struct client_file_info *f)
{
	free(f->path);
	free(f->etag);
	free(f->ufs_path);
	free(f->mount_path);
	store_clear(&f->store);
	cJSON_Delete(f->json);
	memset(f, 0, sizeof(*f));
}

int client_file_info_decode(const cJSON *doc, struct client_file_info *out, char *err,
			    size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int64_t length = 0, epoch = 0;
	int rc = proto(json_get_int(doc, "length", true, 0, INT64_MAX, &length, err, errlen));
	if (!rc)
		rc = proto(json_get_u64(doc, "data_id", true, &out->data_id, err, errlen));
	if (!rc)
		rc = proto(json_get_int(doc, "block_size", true, 1, INT64_MAX, &out->block_size,
					err, errlen));
	if (!rc)
		rc = dup_field(doc, "ufs_path", true, &out->ufs_path, err, errlen);
	if (!rc)
		rc = dup_field(doc, "path", false, &out->path, err, errlen);
	if (!rc)
		rc = proto(json_get_int(doc, "mtime_ms", false, 0, INT64_MAX, &out->mtime_ms, err,
					errlen));
	if (!rc)
		rc = proto(json_get_int(doc, "epoch", false, 0, INT64_MAX, &epoch, err, errlen));
	if (!rc)
		rc = proto(json_get_int(doc, "trust_ms", false, -1, INT64_MAX, &out->trust_ms, err,
					errlen));
	if (!rc)
		rc = proto(json_get_bool(doc, "pinned", false, &out->pinned, err, errlen));
	const char *medium = NULL;
	if (!rc)
		rc = proto(json_get_str(doc, "pin_medium", false, &medium, err, errlen));
	if (!rc && medium) {
		if (strlen(medium) >= sizeof(out->pin_medium)) {
			snprintf(err, errlen, "field 'pin_medium': '%.20s' is too long", medium);
			rc = ST_EPROTO;
		} else {
			memcpy(out->pin_medium, medium, strlen(medium) + 1);
		}
	}
	if (!rc)
		rc = dup_field(doc, "etag", false, &out->etag, err, errlen);
	if (!rc)
		rc = proto(json_get_u64(doc, "mount_epoch", false, &out->mount_epoch, err, errlen));
	const char *persistence = NULL;
	if (!rc)
		rc = proto(json_get_str(doc, "persistence", false, &persistence, err, errlen));
	if (!rc && persistence) {
		out->lost = strcmp(persistence, "lost") == 0;
		out->unpersisted = strcmp(persistence, "persisted") != 0;
	}
	if (!rc)
		rc = store_decode(doc, &out->store, err, errlen);
	if (!rc) {
		const cJSON *mp = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(doc, "mount"), "path");
		out->mount_path = strdup(cJSON_IsString(mp) ? mp->valuestring : "");
		if (!out->mount_path)
			rc = -ENOMEM;
	}
	if (rc) {
		client_file_info_clear(out);
		return rc;
	}
	out->length = (uint64_t)length;
	out->epoch = (uint64_t)epoch;
	return 0;
}

void client_write_grant_clear(struct client_write_grant *g)
{
	free(g->ufs_path);
	store_clear(&g->store);
	cJSON_Delete(g->json);
	memset(g, 0, sizeof(*g));
}

int client_write_grant_decode(const cJSON *doc, struct client_write_grant *out, char *err,
			      size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = proto(json_get_u64(doc, "data_id", true, &out->data_id, err, errlen));
	if (!rc && out->data_id == 0) {
		snprintf(err, errlen, "reply field 'data_id' is 0");
		rc = ST_EPROTO;
	}
	if (!rc)
		rc = proto(json_get_int(doc, "block_size", true, 1, INT64_MAX, &out->block_size,
					err, errlen));
	if (!rc)
		rc = dup_field(doc, "ufs_path", true, &out->ufs_path, err, errlen);
	const char *wt = NULL;
	if (!rc)
		rc = proto(json_get_str(doc, "write_type", false, &wt, err, errlen));
	snprintf(out->write_type, sizeof(out->write_type), "%s", wt ? wt : "CACHE_THROUGH");
	if (!rc)
		rc = proto(json_get_int(doc, "repl_min", false, 0, 64, &out->repl_min, err, errlen));
	if (out->repl_min < 1)
		out->repl_min = 1;
	if (!rc)
		rc = store_decode(doc, &out->store, err, errlen);
	if (rc)
		client_write_grant_clear(out);
	return rc;
}

void client_heartbeat_reply_clear(struct client_heartbeat_reply *r)
{
	for (size_t i = 0; i < r->npeers; i++)
		free(r->peers[i].host);
	free(r->peers);
	for (size_t i = 0; i < r->nmounts; i++)
		free(r->mounts[i]);
	free(r->mounts);
	for (size_t i = 0; i < r->ncopies; i++) {
		free(r->copies[i].path);
		free(r->copies[i].source);
	}
	free(r->copies);
	free(r->drops);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

/* The optional "mounts" member of a heartbeat reply: mount paths. */
static int mounts_decode(const cJSON *doc, struct client_heartbeat_reply *out, char *err,
			 size_t errlen)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "mounts"), *p;
	if (!list)
		return 0;
	if (!cJSON_IsArray(list)) {
		snprintf(err, errlen, "reply field 'mounts' is not an array");
		return ST_EPROTO;
	}
	size_t n = (size_t)cJSON_GetArraySize(list);
	if (n && !(out->mounts = calloc(n, sizeof(*out->mounts))))
		return -ENOMEM;
	out->has_mounts = true;
	cJSON_ArrayForEach(p, list)
	{
		if (!cJSON_IsString(p) || p->valuestring[0] != '/') {
			snprintf(err, errlen, "reply field 'mounts[%zu]' is not a path", out->nmounts);
			client_heartbeat_reply_clear(out);
			return ST_EPROTO;
		}
		if (!(out->mounts[out->nmounts] = strdup(p->valuestring))) {
			client_heartbeat_reply_clear(out);
			return -ENOMEM;
		}
		out->nmounts++;
	}
	return 0;
}

/* The optional "replicate" and "drop" members: the master's replication
 * orders (docs/replication.md). */
static int orders_decode(const cJSON *doc, struct client_heartbeat_reply *out, char *err,
			 size_t errlen)
{
	const cJSON *copies = cJSON_GetObjectItemCaseSensitive(doc, "replicate");
	const cJSON *drops = cJSON_GetObjectItemCaseSensitive(doc, "drop"), *p;
	if ((copies && !cJSON_IsArray(copies)) || (drops && !cJSON_IsArray(drops))) {
		snprintf(err, errlen, "reply field '%s' is not an array",
			 copies && !cJSON_IsArray(copies) ? "replicate" : "drop");
		return ST_EPROTO;
	}
	size_t nc = (size_t)cJSON_GetArraySize(copies), nd = (size_t)cJSON_GetArraySize(drops);
	if ((nc && !(out->copies = calloc(nc, sizeof(*out->copies)))) ||
	    (nd && !(out->drops = calloc(nd, sizeof(*out->drops)))))
		return -ENOMEM;
	cJSON_ArrayForEach(p, copies)
	{
		struct client_replica_order *o = &out->copies[out->ncopies];
		int rc = proto(json_get_u64(p, "block", true, &o->block, err, errlen));
		if (!rc)
			rc = proto(json_get_u64(p, "data_id", true, &o->data_id, err, errlen));
		if (!rc)
			rc = dup_field(p, "path", true, &o->path, err, errlen);
		if (!rc)
			rc = dup_field(p, "source", true, &o->source, err, errlen);
		if (!rc && (o->path[0] != '/' || !o->source[0])) {
			snprintf(err, errlen, "reply field 'replicate[%zu]': path must be absolute "
				 "and source not empty", out->ncopies);
			rc = ST_EPROTO;
		}
		if (rc) {
			free(o->path);
			free(o->source);
			return rc;
		}
		out->ncopies++;
	}
	cJSON_ArrayForEach(p, drops)
	{
		if (json_u64_value(p, &out->drops[out->ndrops])) {
			snprintf(err, errlen, "reply field 'drop[%zu]' is not a block id",
				 out->ndrops);
			return ST_EPROTO;
		}
		out->ndrops++;
	}
	return 0;
}

int client_heartbeat_reply_decode(const cJSON *doc, struct client_heartbeat_reply *out,
				  char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int mrc = mounts_decode(doc, out, err, errlen);
	if (!mrc)
		mrc = orders_decode(doc, out, err, errlen);
	if (mrc) {
		client_heartbeat_reply_clear(out);
		return mrc;
	}
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "workers"), *p;
	if (!list)
		return 0; /* a master without a live list */
	if (!cJSON_IsArray(list)) {
		snprintf(err, errlen, "reply field 'workers' is not an array");
		client_heartbeat_reply_clear(out); /* the mounts and orders */
		return ST_EPROTO;
	}
	size_t n = (size_t)cJSON_GetArraySize(list);
	if (n && !(out->peers = calloc(n, sizeof(*out->peers)))) {
		client_heartbeat_reply_clear(out);
		return -ENOMEM;
	}
	int rc = 0;
	cJSON_ArrayForEach(p, list)
	{
		struct client_peer *peer = &out->peers[out->npeers];
		int64_t port = 0;
		char field[96];
		snprintf(field, sizeof(field), "workers[%zu]", out->npeers);
		rc = proto(json_get_u64(p, "id", true, &peer->id, err, errlen));
		if (!rc)
			rc = proto(json_get_int(p, "data_port", true, 1, 65535, &port, err, errlen));
		if (!rc)
			rc = dup_field(p, "host", true, &peer->host, err, errlen);
		if (rc) {
			if (rc == ST_EPROTO) {
				char inner[160];
				snprintf(inner, sizeof(inner), "%s", err);
				snprintf(err, errlen, "reply %s: %s", field, inner);
			}
			free(peer->host);
			break;
		}
		peer->data_port = (int)port;
		out->npeers++;
	}
	if (rc)
		client_heartbeat_reply_clear(out);
	return rc;
}

/* ---- Calls ---- */

/*
 * One JSON call to the leader. On 2xx, *out (may be NULL) gets the body
 * (caller frees; a body that is not JSON is ST_EPROTO when out is
 * wanted). Otherwise the server's code (client_reply_error, err
 * "<about>: <reason>"), or -ENOSYS for a 404/405 when no_route_is_enosys
 * (an older master without the route), with *status set.
 */
static int call(struct client *mc, struct httpc *hc, const char *method, const char *pq,
		const cJSON *req, cJSON **out, const char *about, bool no_route_is_enosys,
		long *status, char *err, size_t errlen)
{
	struct httpc_json_reply r;
	int rc = client_json_reply(mc, hc, method, pq, req, &r, err, errlen);
	if (rc)
		return rc;
	if (status)
		*status = r.status;
	if (r.status < 200 || r.status > 299) {
		rc = client_reply_error(r.status, r.json, about, err, errlen);
		if (no_route_is_enosys && (r.status == 404 || r.status == 405)) {
			snprintf(err, errlen, "%s %s: the master has no such route (HTTP %ld)",
				 method, pq, r.status);
			rc = -ENOSYS;
		}
	} else if (out && !r.json) {
		snprintf(err, errlen, "%s: the reply is not JSON", about);
		rc = ST_EPROTO;
	} else if (out) {
		*out = r.json;
		r.json = NULL;
	}
	httpc_json_reply_free(&r);
	return rc;
}

/* err = "<about>: <err>" for a decode failure. */
static int prefixed(int rc, const char *about, char *err, size_t errlen)
{
	if (rc == ST_EPROTO && errlen) {
		char inner[256];
		snprintf(inner, sizeof(inner), "%s", err);
		snprintf(err, errlen, "%s: %s", about, inner);
	}
	return rc;
}

/* The reply's optional "pin": block ids (decimal strings). */
static int take_pins(const cJSON *doc, uint64_t **pins, size_t *npins, char *err,
		     size_t errlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "pin"), *p;
	*pins = NULL;
	*npins = 0;
	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr)) {
		snprintf(err, errlen, "reply field 'pin' is not an array");
		return ST_EPROTO;
	}
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (!n)
		return 0;
	if (!(*pins = calloc(n, sizeof(**pins))))
		return -ENOMEM;
	cJSON_ArrayForEach(p, arr)
	{
		if (json_u64_value(p, &(*pins)[*npins])) {
			snprintf(err, errlen, "reply field 'pin[%zu]' is not a block id", *npins);
			free(*pins);
			*pins = NULL;
			*npins = 0;
			return ST_EPROTO;
		}
		(*npins)++;
	}
	return 0;
}

int client_register_reply_decode(const cJSON *doc, uint64_t *worker_id, uint64_t **pins,
				 size_t *npins, char *err, size_t errlen)
{
	uint64_t id = 0;
	*pins = NULL;
	*npins = 0;
	int rc = proto(json_get_u64(doc, "worker_id", true, &id, err, errlen));
	if (!rc && id == 0) {
		snprintf(err, errlen, "reply field 'worker_id' is 0");
		rc = ST_EPROTO;
	}
	if (!rc)
		rc = take_pins(doc, pins, npins, err, errlen);
	if (!rc)
		*worker_id = id;
	return rc;
}

int client_worker_register_pins(struct client *mc, struct httpc *hc,
				const struct client_registration *reg, uint64_t *worker_id,
				uint64_t **pins, size_t *npins, char *err, size_t errlen)
{
	static const char route[] = "/api/v1/workers/register";
	*pins = NULL;
	*npins = 0;
	cJSON *req = client_registration_encode(reg), *doc = NULL;
	if (!req)
		return -ENOMEM;
	int rc = call(mc, hc, "POST", route, req, &doc, route, false, NULL, err, errlen);
	cJSON_Delete(req);
	if (rc)
		return rc;
	rc = client_register_reply_decode(doc, worker_id, pins, npins, err, errlen);
	cJSON_Delete(doc);
	return prefixed(rc, route, err, errlen);
}

int client_worker_register(struct client *mc, struct httpc *hc,
			   const struct client_registration *reg, uint64_t *worker_id, char *err,
			   size_t errlen)
{
	uint64_t *pins = NULL;
	size_t npins = 0;
	int rc = client_worker_register_pins(mc, hc, reg, worker_id, &pins, &npins, err, errlen);
	free(pins);
	return rc;
}

int client_worker_heartbeat(struct client *mc, struct httpc *hc,
			    const struct client_heartbeat *hb, struct client_heartbeat_reply *out,
			    char *err, size_t errlen)
{
	static const char route[] = "/api/v1/workers/heartbeat";
	cJSON *req = client_heartbeat_encode(hb), *doc = NULL;
	if (!req)
		return -ENOMEM;
	long status = 0;
	int rc = call(mc, hc, "POST", route, req, &doc, route, false, &status, err, errlen);
	cJSON_Delete(req);
	if (rc) {
		/* 404 unknown_worker: a code of this route alone. */
		return status == 404 ? -ENOENT : rc;
	}
	rc = client_heartbeat_reply_decode(doc, out, err, errlen);
	if (rc)
		cJSON_Delete(doc);
	else
		out->json = doc;
	return prefixed(rc, route, err, errlen);
}

/* Decodes an InternalFile reply into out, which keeps doc (freed here on
 * failure); errors prefixed with about. */
static int take_file_info(cJSON *doc, struct client_file_info *out, const char *about,
			  char *err, size_t errlen)
{
	int rc = client_file_info_decode(doc, out, err, errlen);
	if (rc)
		cJSON_Delete(doc);
	else
		out->json = doc;
	return prefixed(rc, about, err, errlen);
}

int client_file_lookup(struct client *mc, struct httpc *hc, const char *path,
		       struct client_file_info *out, char *err, size_t errlen)
{
	char *pq = httpc_path_query("/api/v1/internal/file", path, NULL);
	if (!pq)
		return -ENOMEM;
	cJSON *doc = NULL;
	int rc = call(mc, hc, "GET", pq, NULL, &doc, path, false, NULL, err, errlen);
	free(pq);
	if (rc)
		return rc;
	return take_file_info(doc, out, path, err, errlen);
}

int client_file_lookup_lazy(struct client *mc, struct httpc *hc, const char *path,
			    struct client_file_info *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char *pq = httpc_path_query("/api/v1/internal/file", path, "&lazy=1");
	if (!pq)
		return -ENOMEM;
	struct httpc_json_reply r;
	int rc = client_json_reply(mc, hc, "GET", pq, NULL, &r, err, errlen);
	free(pq);
	if (rc)
		return rc;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(r.json, "error");
	bool not_loaded = r.status == 404 &&
			  strcmp(json_str_or(e, "code", ""), st_errcode(ST_ENOTLOADED)) == 0;
	if ((r.status < 200 || r.status > 299) && !not_loaded) {
		rc = client_reply_error(r.status, r.json, path, err, errlen);
	} else if (!r.json) {
		snprintf(err, errlen, "%s: the reply is not JSON", path);
		rc = ST_EPROTO;
	} else {
		rc = prefixed(client_file_info_decode(r.json, out, err, errlen), path, err, errlen);
		if (!rc) {
			out->json = r.json;
			r.json = NULL;
			if (not_loaded) {
				snprintf(err, errlen, "%s", json_str_or(e, "message", "not loaded"));
				rc = ST_ENOTLOADED;
			}
		}
	}
	httpc_json_reply_free(&r);
	return rc;
}

int client_file_loaded(struct client *mc, struct httpc *hc, const struct client_file_loaded *d,
		       struct client_file_info *out, char *err, size_t errlen)
{
	static const char route[] = "/api/v1/internal/file/loaded";
	memset(out, 0, sizeof(*out));
	cJSON *req = client_file_loaded_encode(d), *doc = NULL;
	if (!req)
		return -ENOMEM;
	int rc = call(mc, hc, "POST", route, req, &doc, d->path, false, NULL, err, errlen);
	cJSON_Delete(req);
	if (rc)
		return rc;
	return take_file_info(doc, out, route, err, errlen);
}

int client_files_lookup(struct client *mc, struct httpc *hc, const char *const *paths,
			size_t n, int *rcs, struct client_file_info *infos, char *err,
			size_t errlen)
{
	static const char route[] = "/api/v1/internal/files";
	cJSON *req = cJSON_CreateObject(), *doc = NULL;
	cJSON *arr = req ? cJSON_AddArrayToObject(req, "paths") : NULL;
	for (size_t i = 0; arr && i < n; i++) {
		cJSON *s = cJSON_CreateString(paths[i]);
		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			arr = NULL;
		}
	}
	int rc = arr ? call(mc, hc, "POST", route, req, &doc, route, true, NULL, err, errlen)
		     : -ENOMEM;
	cJSON_Delete(req);
	if (rc)
		return rc;
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(doc, "files"), *f;
	if (!cJSON_IsArray(files) || cJSON_GetArraySize(files) != (int)n) {
		snprintf(err, errlen, "%s: reply field 'files' is not an array of %zu entries",
			 route, n);
		cJSON_Delete(doc);
		return ST_EPROTO;
	}
	size_t i = 0;
	cJSON_ArrayForEach(f, files)
	{
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(f, "error");
		char ierr[256];
		if (e)
			rcs[i] = st_rc_from_code(
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code")));
		else
			rcs[i] = client_file_info_decode(f, &infos[i], ierr, sizeof(ierr));
		i++;
	}
	cJSON_Delete(doc);
	return 0;
}

void client_mount_epochs_clear(struct client_mount_epochs *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->paths[i]);
	free(m->paths);
	free(m->epochs);
	memset(m, 0, sizeof(*m));
}

int client_mount_epochs_decode(const cJSON *doc, struct client_mount_epochs *out, char *err,
			       size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const cJSON *mounts = cJSON_GetObjectItemCaseSensitive(doc, "mounts"), *m;
	if (!mounts)
		return 0;
	if (!cJSON_IsObject(mounts)) {
		snprintf(err, errlen, "reply field 'mounts' is not an object");
		return ST_EPROTO;
	}
	size_t n = (size_t)cJSON_GetArraySize(mounts);
	if (!n)
		return 0;
	out->paths = calloc(n, sizeof(*out->paths));
	out->epochs = calloc(n, sizeof(*out->epochs));
	int rc = out->paths && out->epochs ? 0 : -ENOMEM;
	cJSON_ArrayForEach(m, mounts)
	{
		if (rc)
			break;
		if (!cJSON_IsString(m) || json_parse_u64(m->valuestring, &out->epochs[out->n])) {
			snprintf(err, errlen,
				 "reply field 'mounts.%.200s' is not a decimal string", m->string);
			rc = ST_EPROTO;
		} else if (!(out->paths[out->n] = strdup(m->string))) {
			rc = -ENOMEM;
		} else {
			out->n++;
		}
	}
	if (rc)
		client_mount_epochs_clear(out);
	return rc;
}

int client_epoch_get(struct client *mc, struct httpc *hc, uint64_t *epoch,
		     struct client_mount_epochs *mounts, char *err, size_t errlen)
{
	static const char route[] = "/api/v1/internal/epoch";
	cJSON *doc = NULL;
	if (mounts)
		memset(mounts, 0, sizeof(*mounts));
	int rc = call(mc, hc, "GET", route, NULL, &doc, route, true, NULL, err, errlen);
	if (rc)
		return rc;
	int64_t v = 0;
	rc = proto(json_get_int(doc, "epoch", true, 1, INT64_MAX, &v, err, errlen));
	if (!rc && mounts)
		rc = client_mount_epochs_decode(doc, mounts, err, errlen);
	cJSON_Delete(doc);
	if (!rc)
		*epoch = (uint64_t)v;
	return prefixed(rc, route, err, errlen);
}

int client_write_begin(struct client *mc, struct httpc *hc, const char *path,
		       struct client_write_grant *out, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *doc = NULL;
	if (!req || !cJSON_AddStringToObject(req, "path", path)) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	int rc = call(mc, hc, "POST", "/api/v1/internal/write/begin", req, &doc, path, false, NULL,
		      err, errlen);
	cJSON_Delete(req);
	if (rc)
		return rc;
	rc = client_write_grant_decode(doc, out, err, errlen);
	if (rc)
		cJSON_Delete(doc);
	else
		out->json = doc;
	return prefixed(rc, path, err, errlen);
}

int client_write_commit(struct client *mc, struct httpc *hc, const struct client_write_done *d,
			char *err, size_t errlen)
{
	cJSON *req = client_write_done_encode(d);
	if (!req)
		return -ENOMEM;
	int rc = call(mc, hc, "POST", "/api/v1/internal/write/commit", req, NULL, d->path, false,
		      NULL, err, errlen);
	cJSON_Delete(req);
	return rc;
}
