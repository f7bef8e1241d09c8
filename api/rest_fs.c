#include "api/rest_fs.h"

#include "api/rest_common.h"

#include "daemon/master/datajobs.h"
#include "daemon/master/events.h"
#include "daemon/master/filemeta.h"
#include "daemon/master/revalidate.h"
#include "daemon/master/fs.h"
#include "daemon/master/lazyload.h"
#include "daemon/master/master.h"
#include "daemon/master/meta.h"
#include "daemon/master/policy.h"
#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/placement.h"
#include "ufs/ufs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 1024

/* The same for a path in a JSON body field. */
static int path_field(struct http_req *req, const cJSON *body, const char *field, char *out,
		      size_t outlen)
{
	const char *v = NULL;
	char err[256];
	int rc = json_get_str(body, field, true, &v, err, sizeof(err));
	if (rc) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		return rc;
	}
	rc = path_normalize(v, strlen(v), out, outlen, err, sizeof(err));
	if (rc)
		http_reply_error(req, 400, "invalid_path", "%s: %s", field, err);
	return rc;
}

static bool flag_param(struct http_req *req, const char *name)
{
	char v[16];
	bool b = false;
	return http_req_param(req, name, v, sizeof(v)) >= 0 && conf_parse_bool(v, &b) == 0 && b;
}

/* Ends a mutation: on rc == 0 replies `status` with path's inode as it is
 * now, otherwise the error. */
static void reply_inode(struct http_req *req, struct master *m, const char *path, int status,
			int rc, char *err, size_t errlen)
{
	struct ns_inode n;
	if (!rc)
		rc = fs_stat(m->fs, path, &n, err, errlen);
	if (rc)
		http_reply_rc(req, rc, err);
	else
		http_reply_json(req, status, fs_inode_json(&n, path));
}

/* "mount": {"path","uri","options"} for worker RPC: options carry the
 * store's credentials (HTTP_ACCESS_WORKER routes only, api/http.h). */
static void add_mount_json(cJSON *o, const struct ns_mount *mnt)
{
	cJSON *mo = cJSON_AddObjectToObject(o, "mount");
	cJSON_AddStringToObject(mo, "path", mnt->path);
	cJSON_AddStringToObject(mo, "uri", mnt->uri);
	cJSON *opts = cJSON_Parse(mnt->options);
	cJSON_AddItemToObject(mo, "options", opts ? opts : cJSON_CreateObject());
}

static void get_mounts(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *out;
	int rc = fs_mounts_json(m->fs, &out);
	if (rc)
		http_reply_rc(req, rc, "cannot list mounts");
	else
		http_reply_json(req, 200, out);
}

static void post_mount(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "";
	const char *uri = NULL;
	bool readonly = false;
	const cJSON *options = cJSON_GetObjectItemCaseSensitive(body, "options");
	if (path_field(req, body, "path", path, sizeof(path)))
		goto out;
	if (json_get_str(body, "uri", true, &uri, err, sizeof(err)) ||
	    json_get_bool(body, "readonly", false, &readonly, err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	if (options && !cJSON_IsObject(options)) {
		http_reply_error(req, 400, "invalid_argument",
				 "field 'options' must be an object of strings");
		goto out;
	}
	int rc = fs_mount(m->fs, path, uri, readonly, options, err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		goto out;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddStringToObject(o, "uri", uri);
	cJSON_AddBoolToObject(o, "readonly", readonly);
	http_reply_json(req, 201, o);
out:
	cJSON_Delete(body);
}

/* PUT /api/v1/mounts {"path","options":{...}}: the mutable options of a
 * mount (fs_mount_update); 200 {"path","changed"}. */
static void put_mount(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "";
	const cJSON *options = cJSON_GetObjectItemCaseSensitive(body, "options");
	const cJSON *item;
	if (path_field(req, body, "path", path, sizeof(path)))
		goto out;
	cJSON_ArrayForEach(item, body)
	{
		if (strcmp(item->string, "path") == 0 || strcmp(item->string, "options") == 0)
			continue;
		if (strcmp(item->string, "uri") == 0 || strcmp(item->string, "readonly") == 0)
			http_reply_error(req, 409, "mount_point",
					 "field '%s' cannot change on a live mount (unmount and "
					 "mount again)",
					 item->string);
		else
			http_reply_error(req, 400, "invalid_argument",
					 "unknown field '%s' (only 'path' and 'options')",
					 item->string);
		goto out;
	}
	if (!cJSON_IsObject(options)) {
		http_reply_error(req, 400, "invalid_argument",
				 "field 'options' must be an object of strings");
		goto out;
	}
	bool changed = false;
	int rc = fs_mount_update(m->fs, path, options, &changed, err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		goto out;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddBoolToObject(o, "changed", changed);
	http_reply_json(req, 200, o);
out:
	cJSON_Delete(body);
}

static void delete_mount(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "";
	if (rest_path_param(req, "path", path, sizeof(path)))
		return;
	int rc = fs_unmount(m->fs, path, err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "unmounted", path);
	http_reply_json(req, 200, o);
}

/* The share of a file's blocks some live worker caches, in percent (100
 * for an empty file). */
static double cached_percent(struct master *m, uint64_t data_id, uint64_t length,
			     int64_t block_size)
{
	uint64_t nblocks = (length + (uint64_t)block_size - 1) / (uint64_t)block_size, cached = 0;
	for (uint64_t i = 0; i < nblocks; i++) {
		struct block_loc locs[BLOCKMAP_MAX_LOCS];
		cached += blockmap_get(m->blocks, placement_block_id(data_id, i), locs,
				       BLOCKMAP_MAX_LOCS) > 0;
	}
	return nblocks ? 100.0 * (double)cached / (double)nblocks : 100.0;
}

/* Adds "block_size", "blocks" (id, index, locations) and "cached_percent"
 * to a file's stat. At most max_blocks are listed; the percentage counts
 * every block. */
static void add_blocks(struct master *m, cJSON *o, const struct ns_inode *n, int64_t block_size,
		       size_t max_blocks)
{
	json_add_int(o, "block_size", block_size);
	uint64_t nblocks = (n->length + (uint64_t)block_size - 1) / (uint64_t)block_size;
	cJSON *arr = cJSON_AddArrayToObject(o, "blocks");
	uint64_t cached = 0;
	for (uint64_t i = 0; i < nblocks; i++) {
		uint64_t id = placement_block_id(n->data_id, i);
		struct block_loc locs[BLOCKMAP_MAX_LOCS];
		size_t nloc = blockmap_get(m->blocks, id, locs, BLOCKMAP_MAX_LOCS);
		cached += nloc > 0;
		if (i >= max_blocks)
			continue;
		cJSON *b = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, b);
		json_add_int(b, "index", (int64_t)i);
		json_add_u64(b, "id", id);
		json_add_int(b, "length", (int64_t)(i + 1 < nblocks ? (uint64_t)block_size
						  : n->length - i * (uint64_t)block_size));
		cJSON *where = cJSON_AddArrayToObject(b, "locations");
		for (size_t k = 0; k < nloc; k++) {
			static const char *const tiers[] = { "MEM", "SSD", "HDD" };
			char addr[300] = "";
			registry_address(m->registry, locs[k].worker_id, addr, sizeof(addr));
			cJSON *l = cJSON_CreateObject();
			cJSON_AddItemToArray(where, l);
			json_add_u64(l, "worker_id", locs[k].worker_id);
			cJSON_AddStringToObject(l, "address", addr);
			cJSON_AddStringToObject(l, "tier", locs[k].tier >= 0 && locs[k].tier < 3
								   ? tiers[locs[k].tier] : "?");
		}
	}
	cJSON_AddNumberToObject(o, "cached_percent",
				nblocks ? 100.0 * (double)cached / (double)nblocks : 100.0);
}

static void get_stat(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "";
	if (rest_path_param(req, "path", path, sizeof(path)))
		return;
	struct ns_inode n;
	struct ns_mount *mnt = malloc(sizeof(*mnt));
	if (!mnt) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
	int rc = fs_resolve(m->fs, path, &n, mnt, NULL, 0, err, sizeof(err));
	if (rc == ST_ENOMOUNT) /* outside every mount: no blocks */
		rc = fs_stat(m->fs, path, &n, err, sizeof(err));
	else if (rc == 0 && n.is_dir)
		mnt->block_size = 0;
	if (rc) {
		http_reply_rc(req, rc, err);
	} else {
		cJSON *o = fs_inode_json(&n, path);
		if (!n.is_dir && mnt->block_size > 0)
			add_blocks(m, o, &n, mnt->block_size, 10000);
		http_reply_json(req, 200, o);
	}
	free(mnt);
}

/* The InternalFile object of f (daemon/master/filemeta.h) for path,
 * including the mount's store credentials (internal: see
 * docs/decisions.md). */
static cJSON *filemeta_json(const struct filemeta *f, const char *path)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", path);
	json_add_int(o, "length", (int64_t)f->inode.length);
	json_add_u64(o, "data_id", f->inode.data_id);
	json_add_int(o, "block_size", f->mount.block_size);
	json_add_int(o, "mtime_ms", f->inode.mtime_ms);
	cJSON_AddStringToObject(o, "fingerprint", f->inode.fingerprint);
	cJSON_AddStringToObject(o, "etag", f->inode.etag);
	cJSON_AddStringToObject(o, "ufs_path", f->ufs_path);
	json_add_int(o, "epoch", (int64_t)f->epoch);
	json_add_u64(o, "mount_epoch", f->mount_epoch);
	json_add_int(o, "trust_ms", f->trust_ms);
	/* Content only the caches hold must stay there until persisted. */
	cJSON_AddBoolToObject(o, "pinned",
			      f->inode.pinned || f->inode.persistence != NS_PERSISTED);
	cJSON_AddStringToObject(o, "pin_medium", f->inode.pin_medium);
	cJSON_AddStringToObject(o, "persistence", ns_persistence_name(f->inode.persistence));
	add_mount_json(o, &f->mount);
	return o;
}

/* Worker RPC: what a worker needs to read a file through its cache,
 * tagged per daemon/master/filemeta.h: the InternalFile object for path,
 * or -errno. */
static int internal_file_json(struct master *m, const char *path, cJSON **out, char *err,
			      size_t errlen)
{
	struct filemeta *f = malloc(sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int64_t now = clock_wall_ms();
	int rc = filemeta_lookup(m->fs, m->meta, path, now, f, err, errlen);
	if (!rc) {
		/* Looked up by a worker: keep it fresh ahead of need. */
		if (f->mount.sync_interval_ms > 0)
			reval_want(m->reval, path, now);
		*out = filemeta_json(f, path);
	}
	free(f);
	return rc;
}

/* Replies f as a 200 InternalFile, a 404 not_loaded carrying the same
 * object (its store and store path: daemon/master/lazyload.h), or the
 * error. */
static void reply_filemeta(struct http_req *req, int rc, const struct filemeta *f,
			   const char *path, const char *err)
{
	if (rc && rc != ST_ENOTLOADED) {
		http_reply_rc(req, rc, err);
		return;
	}
	cJSON *o = filemeta_json(f, path);
	if (rc) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "code", st_errcode(rc));
		cJSON_AddStringToObject(e, "message", err);
	}
	http_reply_json(req, rc ? 404 : 200, o);
}

static void get_internal_file(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "", v[16];
	if (rest_path_param(req, "path", path, sizeof(path)))
		return;
	bool lazy = false;
	if (http_req_param(req, "lazy", v, sizeof(v)) >= 0 && conf_parse_bool(v, &lazy)) {
		http_reply_error(req, 400, "invalid_argument",
				 "query parameter 'lazy' must be a boolean (1, 0, true, false)");
		return;
	}
	if (!lazy) {
		cJSON *o = NULL;
		int rc = internal_file_json(m, path, &o, err, sizeof(err));
		if (rc)
			http_reply_rc(req, rc, err);
		else
			http_reply_json(req, 200, o);
		return;
	}
	struct filemeta *f = malloc(sizeof(*f));
	if (!f) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
	int rc = lazyload_lookup(m->fs, m->meta, path, clock_wall_ms(), f, err, sizeof(err));
	reply_filemeta(req, rc, f, path, err);
	free(f);
}

/* Worker RPC: {"path","length","mtime_ms","fingerprint"[,"etag"]
 * [,"worker_id","index"]}, what the worker's own read of a not_loaded file
 * found in its store, recorded as its lazy load (daemon/master/lazyload.h);
 * worker_id and index (decimal strings, together): who read which block,
 * for placing new content on it. Replies the InternalFile. */
static void post_internal_file_loaded(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "";
	int64_t length = 0, mtime = 0;
	const char *fp = NULL, *etag = NULL;
	struct ufs_stat st = { 0 };
	struct filemeta *f = NULL;
	struct lazyload_place place = { .reg = m->registry };
	if (path_field(req, body, "path", path, sizeof(path)))
		goto out;
	if (json_get_int(body, "length", true, 0, INT64_MAX, &length, err, sizeof(err)) ||
	    json_get_int(body, "mtime_ms", true, 0, INT64_MAX, &mtime, err, sizeof(err)) ||
	    json_get_str(body, "fingerprint", true, &fp, err, sizeof(err)) ||
	    json_get_str(body, "etag", false, &etag, err, sizeof(err)) ||
	    json_get_u64(body, "worker_id", false, &place.worker_id, err, sizeof(err)) ||
	    json_get_u64(body, "index", place.worker_id != 0, &place.index, err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	if (place.index > PLACEMENT_MAX_INDEX) {
		http_reply_error(req, 400, "invalid_argument",
				 "field 'index' must be at most %llu (a block index)",
				 (unsigned long long)PLACEMENT_MAX_INDEX);
		goto out;
	}
	if (!*fp || strlen(fp) >= sizeof(st.fingerprint)) {
		http_reply_error(req, 400, "invalid_argument",
				 "field 'fingerprint' must be a non-empty string shorter than %zu "
				 "bytes",
				 sizeof(st.fingerprint));
		goto out;
	}
	/* A store's ETag is the fingerprint on S3; no other is recorded for a
	 * load (a sync records none either). */
	if (etag && *etag && strcmp(etag, fp) != 0) {
		http_reply_error(req, 400, "invalid_argument",
				 "field 'etag' must be empty or equal to 'fingerprint' (a load "
				 "records what the store said)");
		goto out;
	}
	st.length = (uint64_t)length;
	st.mtime_ms = mtime;
	snprintf(st.fingerprint, sizeof(st.fingerprint), "%s", fp);
	if (!(f = malloc(sizeof(*f)))) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		goto out;
	}
	int rc = lazyload_record(m->fs, m->meta, path, &st, &place, clock_wall_ms(), f, err,
				 sizeof(err));
	reply_filemeta(req, rc, f, path, err);
out:
	free(f);
	cJSON_Delete(body);
}

/* The namespace epoch workers check their cached metadata against
 * (filemeta_epoch: the leader only, 307 elsewhere). */
static void get_internal_epoch(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	uint64_t epoch = 0;
	int rc = filemeta_epoch(m->meta, &epoch);
	if (rc) {
		http_reply_rc(req, rc, NULL);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	json_add_int(o, "epoch", (int64_t)epoch);
	rc = filemeta_mount_epochs(m->meta, o);
	if (rc) {
		cJSON_Delete(o);
		http_reply_rc(req, rc, NULL);
		return;
	}
	http_reply_json(req, 200, o);
}

/* Many internal/file lookups in one round trip (a worker refreshing its
 * metadata cache): {"paths": [...]} -> {"files": [object or {"path",
 * "error": {"code", "message"}}, ...]} in the same order. */
#define INTERNAL_FILES_MAX 256
static void post_internal_files(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body = NULL;
	if (http_req_json(req, &body))
		return;
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(body, "paths");
	int n = cJSON_GetArraySize(paths);
	if (!cJSON_IsArray(paths) || n > INTERNAL_FILES_MAX) {
		cJSON_Delete(body);
		http_reply_error(req, 400, "invalid_argument",
				 "'paths' must be an array of at most %d paths", INTERNAL_FILES_MAX);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON *files = cJSON_AddArrayToObject(o, "files");
	const cJSON *p;
	cJSON_ArrayForEach(p, paths)
	{
		char err[ERRLEN] = "", norm[PATH_MAX_LEN + 1];
		cJSON *f = NULL;
		const char *raw = cJSON_IsString(p) ? p->valuestring : "";
		int rc = cJSON_IsString(p) ? path_normalize(raw, strlen(raw), norm, sizeof(norm), err,
							    sizeof(err))
					   : -EINVAL;
		if (!cJSON_IsString(p))
			snprintf(err, sizeof(err), "every path must be a string");
		if (!rc)
			rc = internal_file_json(m, norm, &f, err, sizeof(err));
		if (rc) {
			f = cJSON_CreateObject();
			cJSON_AddStringToObject(f, "path", raw);
			cJSON *e = cJSON_AddObjectToObject(f, "error");
			cJSON_AddStringToObject(e, "code", st_errcode(rc));
			cJSON_AddStringToObject(e, "message", *err ? err : st_strerror(rc));
		}
		cJSON_AddItemToArray(files, f);
	}
	cJSON_Delete(body);
	http_reply_json(req, 200, o);
}

/* "cached_percent" on each file of a listing (files of the listed
 * directory share its mount's block size unless they carry their own). */
static void add_list_cached(struct master *m, const char *path, cJSON *entries)
{
	struct ns_mount *mnt = malloc(sizeof(*mnt));
	struct ns_inode dir;
	char err[ERRLEN];
	int64_t mount_bs = 0;
	if (mnt && fs_resolve(m->fs, path, &dir, mnt, NULL, 0, err, sizeof(err)) == 0)
		mount_bs = mnt->block_size;
	free(mnt);
	cJSON *e;
	cJSON_ArrayForEach(e, entries)
	{
		uint64_t data_id = 0;
		int64_t length = 0, bs = mount_bs;
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "type"));
		if (!type || strcmp(type, "file") != 0 ||
		    json_get_u64(e, "data_id", true, &data_id, err, sizeof(err)) ||
		    json_get_int(e, "length", true, 0, INT64_MAX, &length, err, sizeof(err)))
			continue;
		json_get_int(e, "block_size", false, 1, INT64_MAX, &bs, err, sizeof(err));
		if (bs > 0)
			cJSON_AddNumberToObject(e, "cached_percent",
						cached_percent(m, data_id, (uint64_t)length, bs));
	}
}

static void get_list(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "", after[PATH_NAME_MAX + 1], lim[32];
	if (rest_path_param(req, "path", path, sizeof(path)))
		return;
	bool has_after = http_req_param(req, "after", after, sizeof(after)) >= 0;
	int64_t limit = 0;
	if (http_req_param(req, "limit", lim, sizeof(lim)) >= 0 &&
	    (conf_parse_int(lim, &limit) || limit < 1 || limit > 100000)) {
		http_reply_error(req, 400, "invalid_argument",
				 "query parameter 'limit' must be an integer in 1..100000");
		return;
	}
	cJSON *entries = NULL;
	bool is_file;
	int rc = fs_list(m->fs, path, has_after ? after : NULL, (size_t)limit, &entries, &is_file,
			 err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddStringToObject(o, "type", is_file ? "file" : "directory");
	int count = cJSON_GetArraySize(entries);
	cJSON_AddItemToObject(o, "entries", entries);
	add_list_cached(m, path, entries);
	if (limit && count == limit) {
		cJSON *last = cJSON_GetArrayItem(entries, count - 1);
		cJSON_AddStringToObject(o, "next_after",
					cJSON_GetObjectItem(last, "name")->valuestring);
	} else {
		cJSON_AddNullToObject(o, "next_after");
	}
	http_reply_json(req, 200, o);
}

static void post_mkdir(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "";
	bool parents = false;
	if (path_field(req, body, "path", path, sizeof(path)))
		goto out;
	if (json_get_bool(body, "parents", false, &parents, err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	int rc = fs_mkdir(m->fs, path, parents, err, sizeof(err));
	reply_inode(req, m, path, 201, rc, err, sizeof(err));
out:
	cJSON_Delete(body);
}

/* Content not persisted that the delete or rewrite of path leaves
 * unreferenced: dropped from every live worker afterwards (pinned blocks
 * never age out). At most this many files per request. */
#define DROP_MAX 100000

static void drop_contents(struct master *m, const struct fs_content *c, size_t n,
			  uint64_t except)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].data_id != except)
			datajobs_drop_blocks(m->datajobs, c[i].data_id, c[i].nblocks);
}

static void delete_file(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "";
	if (rest_path_param(req, "path", path, sizeof(path)))
		return;
	struct fs_content *old = NULL;
	size_t nold = 0;
	if (fs_unpersisted_below(m->fs, path, DROP_MAX, &old, &nold))
		log_warn("delete of '%s': cannot list what only the caches hold", path);
	int rc = fs_delete(m->fs, path, flag_param(req, "recursive"), err, sizeof(err));
	if (rc) {
		free(old);
		http_reply_rc(req, rc, err);
		return;
	}
	/* Their pinned blocks were all there was of them. */
	drop_contents(m, old, nold, 0);
	free(old);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "deleted", path);
	http_reply_json(req, 200, o);
}

static void post_rename(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char src[PATH_MAX_LEN + 1], dst[PATH_MAX_LEN + 1], err[ERRLEN] = "";
	if (path_field(req, body, "src", src, sizeof(src)) ||
	    path_field(req, body, "dst", dst, sizeof(dst)))
		goto out;
	int rc = fs_rename(m->fs, src, dst, err, sizeof(err));
	reply_inode(req, m, dst, 200, rc, err, sizeof(err));
out:
	cJSON_Delete(body);
}

/* Worker RPC: {"path"} -> where and under which content id to write it. */
static void post_write_begin(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "";
	struct ns_mount *mnt = malloc(sizeof(*mnt));
	char *rel = malloc(PATH_MAX_LEN + 1);
	uint64_t data_id = 0;
	if (!mnt || !rel) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		goto out;
	}
	if (path_field(req, body, "path", path, sizeof(path)))
		goto out;
	struct fs_write_policy pol;
	int rc = fs_write_begin(m->fs, path, mnt, rel, PATH_MAX_LEN + 1, &data_id, &pol, err,
				sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		goto out;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", path);
	json_add_u64(o, "data_id", data_id);
	json_add_int(o, "block_size", mnt->block_size);
	cJSON_AddStringToObject(o, "ufs_path", rel);
	cJSON_AddStringToObject(o, "write_type", pol.write_type[0] ? pol.write_type : "CACHE_THROUGH");
	if (pol.repl_min > 1)
		json_add_int(o, "repl_min", pol.repl_min);
	add_mount_json(o, mnt);
	http_reply_json(req, 200, o);
out:
	free(mnt);
	free(rel);
	cJSON_Delete(body);
}

/* Worker RPC: {"path","data_id","length","mtime_ms","fingerprint"[,"etag"]
 * [,"write_type"]} records a file the worker wrote to its store, or (write
 * type ASYNC_THROUGH or MUST_CACHE) only to the caches; ASYNC_THROUGH
 * queues its persist job. */
static void post_write_commit(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char path[PATH_MAX_LEN + 1], err[ERRLEN] = "";
	int64_t length = 0, mtime = 0;
	uint64_t data_id = 0;
	const char *fp = NULL;
	if (path_field(req, body, "path", path, sizeof(path)))
		goto out;
	if (json_get_u64(body, "data_id", true, &data_id, err, sizeof(err)) ||
	    json_get_int(body, "length", true, 0, INT64_MAX, &length, err, sizeof(err)) ||
	    json_get_int(body, "mtime_ms", true, 0, INT64_MAX, &mtime, err, sizeof(err)) ||
	    json_get_str(body, "fingerprint", true, &fp, err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	const char *etag = NULL;
	if (json_get_str(body, "etag", false, &etag, err, sizeof(err)) ||
	    (etag && strlen(etag) >= sizeof(((struct ns_inode *)0)->etag))) {
		http_reply_error(req, 400, "invalid_argument", "field 'etag' must be a short string");
		goto out;
	}
	const char *wt = NULL;
	if (json_get_str(body, "write_type", false, &wt, err, sizeof(err)) ||
	    (wt && !journal_write_type_valid(wt))) {
		http_reply_error(req, 400, "invalid_argument",
				 "field 'write_type': not THROUGH, CACHE_THROUGH, ASYNC_THROUGH or "
				 "MUST_CACHE");
		goto out;
	}
	enum fs_persist persist = !wt ? FS_PERSISTED
				  : strcmp(wt, "ASYNC_THROUGH") == 0 ? FS_PERSIST_LATER
				  : strcmp(wt, "MUST_CACHE") == 0    ? FS_CACHE_ONLY
								     : FS_PERSISTED;
	struct fs_content *old = NULL;
	size_t nold = 0;
	if (fs_unpersisted_below(m->fs, path, 1, &old, &nold))
		log_warn("write of '%s': cannot tell what only the caches held", path);
	int rc = fs_write_commit(m->fs, path, data_id, (uint64_t)length, mtime, fp, etag, persist,
				 err, sizeof(err));
	/* New content over a file only the caches held: its pinned blocks go. */
	if (!rc)
		drop_contents(m, old, nold, data_id);
	free(old);
	reply_inode(req, m, path, 200, rc, err, sizeof(err));
out:
	cJSON_Delete(body);
}

/* ---- policies: PUT sets from a JSON body, DELETE clears from the query
 * (?path=&recursive=), both reply {"changed", "inode"}. ---- */

static void reply_policy(struct http_req *req, struct master *m, struct policy_req *r)
{
	char err[ERRLEN] = "";
	bool changed = false;
	if (r->kind == POLICY_PIN && r->pinned)
		policy_fill_room(m->registry, r);
	int rc = policy_set(m->fs, m->meta, r, clock_wall_ms(), &changed, err, sizeof(err));
	struct ns_inode n;
	if (rc == -EDQUOT) {
		http_reply_error(req, 409, "insufficient_capacity", "%s", err);
		return;
	}
	if (!rc)
		rc = fs_stat(m->fs, r->path, &n, err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		return;
	}
	/* A pin loads what it pins (a load job), so reading a pinned file
	 * that was not cached finds it cached, and keeps it. */
	uint64_t job = 0;
	if (changed && r->kind == POLICY_PIN && r->pinned && (!n.is_dir || r->recursive) &&
	    datajobs_create(m->datajobs, "load", r->path, r->recursive, r->medium,
			    clock_wall_ms(), &job, err, sizeof(err)))
		log_warn("pin of '%s': cannot start its load job: %s", r->path, err);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "changed", changed);
	cJSON_AddItemToObject(o, "inode", fs_inode_json(&n, r->path));
	if (job)
		json_add_u64(o, "load_job", job);
	http_reply_json(req, 200, o);
}

/* path and recursive of a PUT body into r; replies 400 on error. */
static int policy_body(struct http_req *req, const cJSON *body, struct policy_req *r)
{
	char err[256];
	if (path_field(req, body, "path", r->path, sizeof(r->path)))
		return -EINVAL;
	if (json_get_bool(body, "recursive", false, &r->recursive, err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		return -EINVAL;
	}
	return 0;
}

/* An optional string field copied into dst; replies 400 when it is not a
 * string or too long (naming the field). */
static int str_field(struct http_req *req, const cJSON *body, const char *field, char *dst,
		     size_t size)
{
	const char *v = NULL;
	char err[256];
	if (json_get_str(body, field, false, &v, err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		return -EINVAL;
	}
	if (v && strlen(v) >= size) {
		http_reply_error(req, 400, "invalid_argument", "field '%s': '%.40s' is not %s",
				 field, v,
				 strcmp(field, "medium") == 0 ? "MEM, SSD or HDD" : "free or delete");
		return -EINVAL;
	}
	if (v)
		memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static void put_policy(struct http_req *req, struct master *m, enum policy_kind kind)
{
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	struct policy_req *r = calloc(1, sizeof(*r));
	char err[256];
	if (!r) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		goto out;
	}
	r->kind = kind;
	r->max = -1;
	if (policy_body(req, body, r))
		goto out;
	int rc = 0;
	switch (kind) {
	case POLICY_PIN:
		r->pinned = true;
		rc = str_field(req, body, "medium", r->medium, sizeof(r->medium));
		break;
	case POLICY_TTL:
		strcpy(r->action, "delete");
		rc = str_field(req, body, "action", r->action, sizeof(r->action));
		if (!rc && json_get_int(body, "ttl_ms", true, INT64_MIN, INT64_MAX, &r->ttl_ms,
					err, sizeof(err))) {
			http_reply_error(req, 400, "invalid_argument", "%s", err);
			rc = -EINVAL;
		}
		break;
	case POLICY_WRITE_TYPE: {
		const char *v = NULL;
		if (json_get_str(body, "write_type", true, &v, err, sizeof(err))) {
			http_reply_error(req, 400, "invalid_argument", "%s", err);
			rc = -EINVAL;
		} else if (strlen(v) >= sizeof(r->write_type) || !journal_write_type_valid(v)) {
			http_reply_error(req, 400, "invalid_argument",
					 "field 'write_type': '%.40s' is not THROUGH, CACHE_THROUGH, "
					 "ASYNC_THROUGH or MUST_CACHE", v);
			rc = -EINVAL;
		} else {
			memcpy(r->write_type, v, strlen(v) + 1);
		}
		break;
	}
	case POLICY_REPLICATION:
		/* max: omitted, null or -1 all mean unbounded (docs/replication.md). */
		if (json_get_int(body, "min", false, INT64_MIN, INT64_MAX, &r->min, err,
				 sizeof(err)) ||
		    (!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(body, "max")) &&
		     json_get_int(body, "max", false, INT64_MIN, INT64_MAX, &r->max, err,
				  sizeof(err)))) {
			http_reply_error(req, 400, "invalid_argument", "%s", err);
			rc = -EINVAL;
		}
		break;
	}
	if (!rc)
		reply_policy(req, m, r);
out:
	free(r);
	cJSON_Delete(body);
}

static void delete_policy(struct http_req *req, struct master *m, enum policy_kind kind)
{
	struct policy_req *r = calloc(1, sizeof(*r));
	if (!r) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
	r->kind = kind;
	r->max = -1;
	r->recursive = flag_param(req, "recursive");
	if (!rest_path_param(req, "path", r->path, sizeof(r->path)))
		reply_policy(req, m, r);
	free(r);
}

static void put_write_type(struct http_req *req, void *ctx)
{
	put_policy(req, ctx, POLICY_WRITE_TYPE);
}

static void delete_write_type(struct http_req *req, void *ctx)
{
	delete_policy(req, ctx, POLICY_WRITE_TYPE);
}

static void put_pin(struct http_req *req, void *ctx)
{
	put_policy(req, ctx, POLICY_PIN);
}

static void delete_pin(struct http_req *req, void *ctx)
{
	delete_policy(req, ctx, POLICY_PIN);
}

static void put_ttl(struct http_req *req, void *ctx)
{
	put_policy(req, ctx, POLICY_TTL);
}

static void delete_ttl(struct http_req *req, void *ctx)
{
	delete_policy(req, ctx, POLICY_TTL);
}

static void put_replication(struct http_req *req, void *ctx)
{
	put_policy(req, ctx, POLICY_REPLICATION);
}

static void delete_replication(struct http_req *req, void *ctx)
{
	delete_policy(req, ctx, POLICY_REPLICATION);
}

/* GET /api/v1/events?since=SEQ&limit=N: newest first. */
static void get_events(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	char v[32];
	int64_t since = 0, limit = 0;
	if (http_req_param(req, "since", v, sizeof(v)) >= 0 &&
	    (conf_parse_int(v, &since) || since < 0)) {
		http_reply_error(req, 400, "invalid_argument",
				 "query parameter 'since' must be a sequence number (>= 0)");
		return;
	}
	if (http_req_param(req, "limit", v, sizeof(v)) >= 0 &&
	    (conf_parse_int(v, &limit) || limit < 1 || limit > 100000)) {
		http_reply_error(req, 400, "invalid_argument",
				 "query parameter 'limit' must be an integer in 1..100000");
		return;
	}
	cJSON *o = events_json(m->events, (uint64_t)since, (size_t)limit);
	if (!o)
		http_reply_error(req, 500, "out_of_memory", "out of memory");
	else
		http_reply_json(req, 200, o);
}

static const struct http_route g_routes[] = {
	{ "GET", "/api/v1/mounts", HTTP_ACCESS_READONLY, get_mounts },
	{ "POST", "/api/v1/mounts", HTTP_ACCESS_ADMIN, post_mount },
	{ "PUT", "/api/v1/mounts", HTTP_ACCESS_ADMIN, put_mount },
	{ "DELETE", "/api/v1/mounts", HTTP_ACCESS_ADMIN, delete_mount },
	{ "GET", "/api/v1/files", HTTP_ACCESS_READONLY, get_list },
	{ "DELETE", "/api/v1/files", HTTP_ACCESS_ADMIN, delete_file },
	{ "GET", "/api/v1/files/stat", HTTP_ACCESS_READONLY, get_stat },
	{ "GET", "/api/v1/internal/file", HTTP_ACCESS_WORKER, get_internal_file },
	{ "POST", "/api/v1/internal/file/loaded", HTTP_ACCESS_WORKER, post_internal_file_loaded },
	{ "GET", "/api/v1/internal/epoch", HTTP_ACCESS_WORKER, get_internal_epoch },
	{ "POST", "/api/v1/internal/files", HTTP_ACCESS_WORKER, post_internal_files },
	{ "POST", "/api/v1/internal/write/begin", HTTP_ACCESS_WORKER, post_write_begin },
	{ "POST", "/api/v1/internal/write/commit", HTTP_ACCESS_WORKER, post_write_commit },
	{ "POST", "/api/v1/files/mkdir", HTTP_ACCESS_ADMIN, post_mkdir },
	{ "POST", "/api/v1/files/rename", HTTP_ACCESS_ADMIN, post_rename },
	{ "PUT", "/api/v1/files/pin", HTTP_ACCESS_ADMIN, put_pin },
	{ "DELETE", "/api/v1/files/pin", HTTP_ACCESS_ADMIN, delete_pin },
	{ "PUT", "/api/v1/files/ttl", HTTP_ACCESS_ADMIN, put_ttl },
	{ "DELETE", "/api/v1/files/ttl", HTTP_ACCESS_ADMIN, delete_ttl },
	{ "PUT", "/api/v1/files/replication", HTTP_ACCESS_ADMIN, put_replication },
	{ "DELETE", "/api/v1/files/replication", HTTP_ACCESS_ADMIN, delete_replication },
	{ "PUT", "/api/v1/files/write_type", HTTP_ACCESS_ADMIN, put_write_type },
	{ "DELETE", "/api/v1/files/write_type", HTTP_ACCESS_ADMIN, delete_write_type },
	{ "GET", "/api/v1/events", HTTP_ACCESS_READONLY, get_events },
};

const struct http_route *rest_fs_routes(size_t *nroutes)
{
	*nroutes = sizeof(g_routes) / sizeof(g_routes[0]);
	return g_routes;
}
