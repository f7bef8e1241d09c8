/* Decoders of the REST replies into client/client.h's structs: pure, no I/O. */
#include "client/decode.h"

#include "lib/err.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* lib/json.h's readers for a reply: a field that is there with the wrong
 * type or range is the peer's fault (ST_EPROTO; err names the field). */
static int proto(int rc)
{
	return rc == -EINVAL || rc == -ENOENT ? ST_EPROTO : rc;
}

/* A copy of string field key ("" when absent). */
static int dup_str(const cJSON *o, const char *key, char **out, char *err, size_t errlen)
{
	const char *s = "";
	int rc = proto(json_get_str(o, key, false, &s, err, errlen));
	if (rc)
		return rc;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/* An integral number field; dflt when absent or null. */
static int get_i64(const cJSON *o, const char *key, int64_t dflt, int64_t *out, char *err,
		   size_t errlen)
{
	*out = dflt;
	if (cJSON_IsNull(get(o, key)))
		return 0;
	return proto(json_get_int(o, key, false, INT64_MIN, INT64_MAX, out, err, errlen));
}

static int get_id(const cJSON *o, const char *key, bool required, uint64_t *out, char *err,
		  size_t errlen)
{
	*out = 0;
	return proto(json_get_u64(o, key, required, out, err, errlen));
}

static bool get_bool(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(get(o, key));
}

/* A zeroed array of n elements of size sz; NULL only when n > 0 and
 * there is no memory. */
static void *alloc_array(size_t n, size_t sz)
{
	return n ? calloc(n, sz) : NULL;
}

static void location_clear(struct client_location *l)
{
	free(l->address);
	free(l->tier);
}

static void block_clear(struct client_block *b)
{
	for (size_t i = 0; i < b->nlocations; i++)
		location_clear(&b->locations[i]);
	free(b->locations);
}

void client_inode_clear(struct client_inode *n)
{
	if (!n)
		return;
	free(n->path);
	free(n->name);
	free(n->fingerprint);
	free(n->etag);
	free(n->pin_medium);
	free(n->ttl_action);
	free(n->write_type);
	free(n->persistence);
	for (size_t i = 0; i < n->nblocks; i++)
		block_clear(&n->blocks[i]);
	free(n->blocks);
	cJSON_Delete(n->json);
	memset(n, 0, sizeof(*n));
}

static int decode_block(const cJSON *b, struct client_block *out, char *err, size_t errlen)
{
	int64_t index = 0, length = 0;
	int rc = get_i64(b, "index", 0, &index, err, errlen);
	if (!rc)
		rc = get_i64(b, "length", 0, &length, err, errlen);
	if (!rc)
		rc = get_id(b, "id", true, &out->id, err, errlen);
	if (rc)
		return rc;
	out->index = (uint64_t)index;
	out->length = (uint64_t)length;
	const cJSON *locs = get(b, "locations");
	size_t n = (size_t)cJSON_GetArraySize(locs);
	out->locations = alloc_array(n, sizeof(*out->locations));
	if (n && !out->locations)
		return -ENOMEM;
	const cJSON *l;
	cJSON_ArrayForEach(l, locs)
	{
		struct client_location *loc = &out->locations[out->nlocations++];
		rc = get_id(l, "worker_id", true, &loc->worker_id, err, errlen);
		if (!rc)
			rc = dup_str(l, "address", &loc->address, err, errlen);
		if (!rc)
			rc = dup_str(l, "tier", &loc->tier, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int client_inode_decode(const cJSON *doc, struct client_inode *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "reply is not a file object");
		return ST_EPROTO;
	}
	int64_t length = 0;
	char *type = NULL;
	int rc = get_id(doc, "id", true, &out->id, err, errlen);
	if (!rc)
		rc = dup_str(doc, "path", &out->path, err, errlen);
	if (!rc)
		rc = dup_str(doc, "name", &out->name, err, errlen);
	if (!rc)
		rc = dup_str(doc, "type", &type, err, errlen);
	if (!rc)
		rc = dup_str(doc, "fingerprint", &out->fingerprint, err, errlen);
	if (!rc)
		rc = dup_str(doc, "etag", &out->etag, err, errlen);
	if (!rc)
		rc = get_i64(doc, "length", 0, &length, err, errlen);
	if (!rc)
		rc = get_i64(doc, "mtime_ms", 0, &out->mtime_ms, err, errlen);
	if (!rc)
		rc = get_i64(doc, "block_size", 0, &out->block_size, err, errlen);
	if (!rc)
		rc = dup_str(doc, "pin_medium", &out->pin_medium, err, errlen);
	if (!rc)
		rc = dup_str(doc, "ttl_action", &out->ttl_action, err, errlen);
	if (!rc)
		rc = get_i64(doc, "ttl_ms", 0, &out->ttl_ms, err, errlen);
	if (!rc)
		rc = get_i64(doc, "ttl_expiry_ms", 0, &out->ttl_expiry_ms, err, errlen);
	if (!rc)
		rc = get_i64(doc, "repl_min", 0, &out->repl_min, err, errlen);
	if (!rc)
		rc = get_i64(doc, "repl_max", -1, &out->repl_max, err, errlen);
	if (!rc)
		rc = dup_str(doc, "write_type", &out->write_type, err, errlen);
	if (!rc)
		rc = dup_str(doc, "persistence", &out->persistence, err, errlen);
	if (rc)
		goto err_clear;
	out->pinned = get_bool(doc, "pinned");
	out->is_dir = strcmp(type, "directory") == 0;
	out->length = (uint64_t)length;
	out->mount_point = get_bool(doc, "mount_point");
	out->cached_percent = json_num_or(doc, "cached_percent", -1);
	const cJSON *blocks = get(doc, "blocks");
	size_t n = (size_t)cJSON_GetArraySize(blocks);
	out->blocks = alloc_array(n, sizeof(*out->blocks));
	if (n && !out->blocks) {
		rc = -ENOMEM;
		goto err_clear;
	}
	const cJSON *b;
	cJSON_ArrayForEach(b, blocks)
	{
		rc = decode_block(b, &out->blocks[out->nblocks++], err, errlen);
		if (rc)
			goto err_clear;
	}
	free(type);
	return 0;

err_clear:
	free(type);
	client_inode_clear(out);
	return rc;
}

void client_listing_clear(struct client_listing *l)
{
	if (!l)
		return;
	free(l->path);
	for (size_t i = 0; i < l->nentries; i++)
		client_inode_clear(&l->entries[i]);
	free(l->entries);
	free(l->next_after);
	cJSON_Delete(l->json);
	memset(l, 0, sizeof(*l));
}

/* A listing page; does not keep doc. */
int client_listing_decode(const cJSON *doc, struct client_listing *out, char *err,
			  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char *type = NULL;
	int rc = dup_str(doc, "path", &out->path, err, errlen);
	if (!rc)
		rc = dup_str(doc, "type", &type, err, errlen);
	if (rc)
		goto err_clear;
	out->is_file = strcmp(type, "file") == 0;
	const cJSON *next = get(doc, "next_after");
	if (cJSON_IsString(next) && !(out->next_after = strdup(next->valuestring))) {
		rc = -ENOMEM;
		goto err_clear;
	}
	const cJSON *entries = get(doc, "entries");
	size_t n = (size_t)cJSON_GetArraySize(entries);
	out->entries = alloc_array(n, sizeof(*out->entries));
	if (n && !out->entries) {
		rc = -ENOMEM;
		goto err_clear;
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, entries)
	{
		rc = client_inode_decode(e, &out->entries[out->nentries], err, errlen);
		if (rc)
			goto err_clear;
		out->nentries++;
	}
	free(type);
	return 0;

err_clear:
	free(type);
	client_listing_clear(out);
	return rc;
}

void client_mount_list_clear(struct client_mount_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->mounts[i].path);
		free(l->mounts[i].uri);
	}
	free(l->mounts);
	cJSON_Delete(l->json);
	memset(l, 0, sizeof(*l));
}

int client_mount_list_decode(const cJSON *doc, struct client_mount_list *out, char *err,
			     size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const cJSON *arr = get(doc, "mounts");
	size_t n = (size_t)cJSON_GetArraySize(arr);
	out->mounts = alloc_array(n, sizeof(*out->mounts));
	if (n && !out->mounts)
		return -ENOMEM;
	const cJSON *m;
	int rc = 0;
	cJSON_ArrayForEach(m, arr)
	{
		struct client_mount *mt = &out->mounts[out->n++];
		mt->readonly = get_bool(m, "readonly");
		rc = dup_str(m, "path", &mt->path, err, errlen);
		if (!rc)
			rc = dup_str(m, "uri", &mt->uri, err, errlen);
		if (!rc)
			rc = get_i64(m, "block_size", 0, &mt->block_size, err, errlen);
		if (!rc)
			rc = get_i64(m, "sync_interval_ms", -1, &mt->sync_interval_ms, err, errlen);
		if (rc) {
			client_mount_list_clear(out);
			return rc;
		}
	}
	return 0;
}

static void worker_clear(struct client_worker *w)
{
	free(w->address);
	free(w->host);
	free(w->state);
	free(w->version);
}

static int decode_worker(const cJSON *o, struct client_worker *w, char *err, size_t errlen)
{
	int64_t dp = 0, sp = 0;
	int rc = get_id(o, "id", true, &w->id, err, errlen);
	if (!rc)
		rc = dup_str(o, "address", &w->address, err, errlen);
	if (!rc)
		rc = dup_str(o, "host", &w->host, err, errlen);
	if (!rc)
		rc = dup_str(o, "state", &w->state, err, errlen);
	if (!rc)
		rc = dup_str(o, "version", &w->version, err, errlen);
	if (!rc)
		rc = get_i64(o, "data_port", 0, &dp, err, errlen);
	if (!rc)
		rc = get_i64(o, "s3_port", 0, &sp, err, errlen);
	if (!rc)
		rc = get_i64(o, "capacity_bytes", 0, &w->capacity_bytes, err, errlen);
	if (!rc)
		rc = get_i64(o, "used_bytes", 0, &w->used_bytes, err, errlen);
	if (!rc)
		rc = get_i64(o, "registered_at_ms", 0, &w->registered_at_ms, err, errlen);
	if (!rc)
		rc = get_i64(o, "last_heartbeat_ms_ago", 0, &w->last_heartbeat_ms_ago, err, errlen);
	w->data_port = (int)dp;
	w->s3_port = (int)sp;
	/* A draining or drained worker still runs and serves reads. */
	w->live = w->state && strcmp(w->state, "lost") != 0;
	return rc;
}

static int decode_workers(const cJSON *arr, struct client_worker **out, size_t *n, char *err,
			  size_t errlen)
{
	size_t cap = (size_t)cJSON_GetArraySize(arr);
	*n = 0;
	*out = alloc_array(cap, sizeof(**out));
	if (cap && !*out)
		return -ENOMEM;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		int rc = decode_worker(o, &(*out)[(*n)++], err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

void client_worker_list_clear(struct client_worker_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		worker_clear(&l->workers[i]);
	free(l->workers);
	cJSON_Delete(l->json);
	memset(l, 0, sizeof(*l));
}

int client_worker_list_decode(const cJSON *doc, struct client_worker_list *out, char *err,
			      size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = decode_workers(get(doc, "workers"), &out->workers, &out->n, err, errlen);
	if (rc)
		client_worker_list_clear(out);
	return rc;
}

static void master_clear(struct client_master *m)
{
	free(m->role);
	free(m->raft_address);
	free(m->rest_url);
}

static int decode_masters(const cJSON *arr, struct client_master **out, size_t *n, char *err,
			  size_t errlen)
{
	size_t cap = (size_t)cJSON_GetArraySize(arr);
	*n = 0;
	*out = alloc_array(cap, sizeof(**out));
	if (cap && !*out)
		return -ENOMEM;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		struct client_master *m = &(*out)[(*n)++];
		m->self = get_bool(o, "self");
		int rc = get_id(o, "id", true, &m->id, err, errlen);
		if (!rc)
			rc = dup_str(o, "role", &m->role, err, errlen);
		if (!rc)
			rc = dup_str(o, "raft_address", &m->raft_address, err, errlen);
		if (!rc)
			rc = dup_str(o, "rest_url", &m->rest_url, err, errlen);
		if (!rc)
			rc = get_i64(o, "term", -1, &m->term, err, errlen);
		if (!rc)
			rc = get_i64(o, "commit_index", -1, &m->commit_index, err, errlen);
		if (!rc)
			rc = get_i64(o, "applied_index", -1, &m->applied_index, err, errlen);
		if (!rc)
			rc = get_i64(o, "lag", -1, &m->lag, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

void client_cluster_clear(struct client_cluster *c)
{
	if (!c)
		return;
	free(c->version);
	free(c->leader);
	for (size_t i = 0; i < c->nmasters; i++)
		master_clear(&c->masters[i]);
	free(c->masters);
	for (size_t i = 0; i < c->nworkers; i++)
		worker_clear(&c->workers[i]);
	free(c->workers);
	cJSON_Delete(c->json);
	memset(c, 0, sizeof(*c));
}

int client_cluster_decode(const cJSON *doc, struct client_cluster *out, char *err,
			  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const cJSON *w = get(doc, "workers"), *cap = get(doc, "capacity");
	int rc = dup_str(doc, "version", &out->version, err, errlen);
	if (!rc)
		rc = dup_str(doc, "leader", &out->leader, err, errlen);
	if (!rc)
		rc = get_i64(doc, "started_at_ms", 0, &out->started_at_ms, err, errlen);
	if (!rc)
		rc = get_i64(doc, "uptime_ms", 0, &out->uptime_ms, err, errlen);
	if (!rc)
		rc = get_i64(w, "live", 0, &out->workers_live, err, errlen);
	if (!rc)
		rc = get_i64(w, "lost", 0, &out->workers_lost, err, errlen);
	if (!rc)
		rc = get_i64(cap, "total_bytes", 0, &out->capacity_total_bytes, err, errlen);
	if (!rc)
		rc = get_i64(cap, "used_bytes", 0, &out->capacity_used_bytes, err, errlen);
	if (!rc)
		rc = decode_masters(get(doc, "masters"), &out->masters, &out->nmasters, err,
				    errlen);
	if (!rc)
		rc = decode_workers(get(doc, "worker_list"), &out->workers, &out->nworkers, err,
				    errlen);
	if (rc)
		client_cluster_clear(out);
	return rc;
}

void client_masters_clear(struct client_masters *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		master_clear(&m->masters[i]);
	free(m->masters);
	cJSON_Delete(m->json);
	memset(m, 0, sizeof(*m));
}

int client_masters_decode(const cJSON *doc, struct client_masters *out, char *err,
			  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = get_id(doc, "leader", false, &out->leader, err, errlen);
	if (!rc)
		rc = get_i64(doc, "term", -1, &out->term, err, errlen);
	if (!rc)
		rc = decode_masters(get(doc, "masters"), &out->masters, &out->n, err, errlen);
	if (rc)
		client_masters_clear(out);
	return rc;
}

static void counters_clear(struct client_counter *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].name);
	free(c);
}

/* The numeric members of an object as counters (others are skipped). */
static int decode_counters(const cJSON *obj, struct client_counter **out, size_t *n)
{
	size_t cap = (size_t)cJSON_GetArraySize(obj);
	*n = 0;
	*out = alloc_array(cap, sizeof(**out));
	if (cap && !*out)
		return -ENOMEM;
	const cJSON *c;
	cJSON_ArrayForEach(c, obj)
	{
		if (!cJSON_IsNumber(c) || !c->string)
			continue;
		struct client_counter *k = &(*out)[*n];
		if (!(k->name = strdup(c->string)))
			return -ENOMEM;
		k->value = c->valuedouble;
		(*n)++;
	}
	return 0;
}

double client_counter_value(const struct client_counter *c, size_t n, const char *name,
			    double dflt)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			return c[i].value;
	return dflt;
}

void client_metrics_clear(struct client_metrics *m)
{
	if (!m)
		return;
	free(m->raft.role);
	counters_clear(m->cluster, m->ncluster);
	for (size_t i = 0; i < m->nworkers; i++) {
		free(m->workers[i].address);
		counters_clear(m->workers[i].counters, m->workers[i].ncounters);
	}
	free(m->workers);
	cJSON_Delete(m->json);
	memset(m, 0, sizeof(*m));
}

int client_metrics_decode(const cJSON *doc, struct client_metrics *out, char *err,
			  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const cJSON *ms = get(doc, "master"), *r = get(ms, "raft");
	const struct {
		const cJSON *obj;
		const char *key;
		int64_t *dst;
	} nums[] = {
		{ ms, "workers_live", &out->workers_live },
		{ ms, "workers_lost", &out->workers_lost },
		{ ms, "capacity_bytes", &out->capacity_bytes },
		{ ms, "used_bytes", &out->used_bytes },
		{ ms, "cached_blocks", &out->cached_blocks },
		{ ms, "journal_applied_index", &out->journal_applied_index },
		{ r, "term", &out->raft.term },
		{ r, "commit_index", &out->raft.commit_index },
		{ r, "applied_index", &out->raft.applied_index },
		{ r, "last_index", &out->raft.last_index },
		{ r, "snapshot_index", &out->raft.snapshot_index },
		{ r, "proposals", &out->raft.proposals },
		{ r, "proposals_failed", &out->raft.proposals_failed },
		{ r, "batches", &out->raft.batches },
		{ r, "batch_entries", &out->raft.batch_entries },
		{ r, "batch_max", &out->raft.batch_max },
		{ r, "fsync_us_total", &out->raft.fsync_us_total },
		{ r, "fsync_us_max", &out->raft.fsync_us_max },
		{ r, "snapshots", &out->raft.snapshots },
		{ r, "snapshot_ms_total", &out->raft.snapshot_ms_total },
		{ r, "snapshot_ms_last", &out->raft.snapshot_ms_last },
		{ r, "snapshot_bytes_last", &out->raft.snapshot_bytes_last },
		{ r, "snapshots_installed", &out->raft.snapshots_installed },
		{ r, "elections_won", &out->raft.elections_won },
	};
	int rc = 0;
	if (!cJSON_IsObject(ms)) {
		snprintf(err, errlen, "reply has no 'master' object");
		return ST_EPROTO;
	}
	for (size_t i = 0; !rc && i < sizeof(nums) / sizeof(nums[0]); i++)
		rc = get_i64(nums[i].obj, nums[i].key, 0, nums[i].dst, err, errlen);
	if (!rc)
		rc = dup_str(r, "role", &out->raft.role, err, errlen);
	if (!rc)
		rc = get_id(r, "leader", false, &out->raft.leader, err, errlen);
	out->raft.failed = get_bool(r, "failed");
	if (!rc)
		rc = decode_counters(get(doc, "cluster"), &out->cluster, &out->ncluster);
	const cJSON *ws = get(doc, "workers");
	size_t cap = (size_t)cJSON_GetArraySize(ws);
	if (!rc && cap && !(out->workers = calloc(cap, sizeof(*out->workers))))
		rc = -ENOMEM;
	const cJSON *w;
	cJSON_ArrayForEach(w, ws)
	{
		if (rc)
			break;
		struct client_worker_metrics *wm = &out->workers[out->nworkers++];
		char *state = NULL;
		rc = get_id(w, "id", true, &wm->id, err, errlen);
		if (!rc)
			rc = dup_str(w, "address", &wm->address, err, errlen);
		if (!rc)
			rc = dup_str(w, "state", &state, err, errlen);
		if (!rc)
			rc = decode_counters(get(w, "counters"), &wm->counters, &wm->ncounters);
		wm->live = state && strcmp(state, "lost") != 0;
		free(state);
	}
	if (rc)
		client_metrics_clear(out);
	return rc;
}
