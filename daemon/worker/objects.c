#include "daemon/worker/objects.h"

#include "daemon/worker/blocksvc.h"
#include "daemon/worker/coldstream.h"
#include "daemon/worker/filecache.h"
#include "daemon/worker/worker.h"
#include "daemon/worker/writer.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/placement.h"
#include "ufs/ufs.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- master calls ---- */

/* Calls the master; maps its error envelope back to an errno. */
static int master(struct worker_node *w, const char *method, const char *pq, const cJSON *req,
		  cJSON **out, char *err, size_t errlen)
{
	/* The cache's few pooled connections, not one per gateway thread: a
	 * hundred gateway threads must not hold a master's every thread. */
	struct httpc_json_reply r;
	int rc = fcache_master_reply(w->fcache, method, pq, req, &r, err, errlen);
	if (rc)
		return rc == ST_EPEER ? -EAGAIN : rc;
	if (r.status < 200 || r.status > 299) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(r.json, "error");
		snprintf(err, errlen, "%s", json_str_or(e, "message", "master error"));
		rc = r.status == 503 ? -EAGAIN : st_rc_from_code(json_str_or(e, "code", NULL));
		/* REST tokens on at the master: the gateway's calls carry only the
		 * worker credential, so without one they are refused. Say so once. */
		static atomic_bool told;
		if (r.status == 401 && !atomic_exchange(&told, true))
			log_warn("the master refused an S3 gateway call (%s %s: %s): with REST "
				 "tokens on, set cluster.worker_token on masters and workers",
				 method, pq, err);
	} else if (out) {
		*out = r.json;
		r.json = NULL;
	}
	httpc_json_reply_free(&r);
	return rc;
}

/* "/bucket/key" without a trailing '/'; -EINVAL if it is not a valid
 * namespace path (the gateway validated the key already). */
int wobj_path(const char *bucket, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	while (klen && key[klen - 1] == '/')
		klen--;
	char raw[PATH_MAX_LEN + 2];
	int n = snprintf(raw, sizeof(raw), "/%s%s%.*s", bucket, klen ? "/" : "", (int)klen, key);
	if (n < 0 || (size_t)n >= sizeof(raw))
		return -ENAMETOOLONG;
	char err[256];
	return path_normalize(raw, (size_t)n, out, len, err, sizeof(err));
}

static int stat_path(struct worker_node *w, const char *path, cJSON **out, char *err,
		     size_t errlen)
{
	char *pq = httpc_path_query("/api/v1/files/stat", path, NULL);
	if (!pq)
		return -ENOMEM;
	int rc = master(w, "GET", pq, NULL, out, err, errlen);
	free(pq);
	return rc;
}

static bool is_dir(const cJSON *st)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(st, "type");
	return cJSON_IsString(t) && strcmp(t->valuestring, "directory") == 0;
}

/* A string field of a reply, "" when not reported (lib/json.h). */
static const char *str(const cJSON *o, const char *k)
{
	return json_str_or(o, k, "");
}

/* The mtime of an inode of a reply in seconds, 0 when not reported. */
static int64_t mtime_s(const cJSON *o)
{
	return json_int_or(o, "mtime_ms", 0) / 1000;
}

/* All children of a directory (every page); *out is a JSON array. */
static int list_all(struct worker_node *w, const char *path, cJSON **out, char *err,
		    size_t errlen)
{
	cJSON *all = cJSON_CreateArray();
	char *after = NULL;
	int rc = 0;
	for (;;) {
		char extra[1024] = "&limit=10000";
		if (after) {
			char *e = httpc_escape(after);
			snprintf(extra, sizeof(extra), "&limit=10000&after=%s", e ? e : "");
			free(e);
			free(after);
			after = NULL;
		}
		char *pq = httpc_path_query("/api/v1/files", path, extra);
		cJSON *page = NULL;
		rc = pq ? master(w, "GET", pq, NULL, &page, err, errlen) : -ENOMEM;
		free(pq);
		if (rc)
			break;
		if (strcmp(str(page, "type"), "directory") != 0) {
			cJSON_Delete(page);
			rc = -ENOTDIR;
			break;
		}
		cJSON *e;
		cJSON *entries = cJSON_GetObjectItemCaseSensitive(page, "entries");
		while ((e = cJSON_DetachItemFromArray(entries, 0)))
			cJSON_AddItemToArray(all, e);
		if (*str(page, "next_after"))
			after = strdup(str(page, "next_after"));
		cJSON_Delete(page);
		if (!after)
			break;
	}
	free(after);
	if (rc) {
		cJSON_Delete(all);
		return rc;
	}
	*out = all;
	return 0;
}

/* ---- buckets ---- */

int wobj_list_buckets(struct worker_node *w, wobj_bucket_fn each, void *arg, char *err,
		      size_t errlen)
{
	cJSON *all;
	int rc = list_all(w, "/", &all, err, errlen);
	if (rc)
		return rc;
	const cJSON *e;
	cJSON_ArrayForEach(e, all)
	{
		if (is_dir(e) && (rc = each(arg, str(e, "name"), mtime_s(e))))
			break;
	}
	cJSON_Delete(all);
	return rc;
}

int wobj_create_bucket(struct worker_node *w, const char *bucket, char *err, size_t errlen)
{
	char path[PATH_MAX_LEN + 1];
	snprintf(path, sizeof(path), "/%s", bucket);
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "path", path);
	int rc = master(w, "POST", "/api/v1/files/mkdir", req, NULL, err, errlen);
	cJSON_Delete(req);
	return rc;
}

int wobj_head_bucket(struct worker_node *w, const char *bucket, char *err, size_t errlen)
{
	char path[PATH_MAX_LEN + 1];
	snprintf(path, sizeof(path), "/%s", bucket);
	cJSON *st = NULL;
	int rc = stat_path(w, path, &st, err, errlen);
	if (!rc && !is_dir(st))
		rc = -ENOENT;
	cJSON_Delete(st);
	return rc;
}

int wobj_delete_bucket(struct worker_node *w, const char *bucket, char *err, size_t errlen)
{
	int rc = wobj_head_bucket(w, bucket, err, errlen);
	if (rc)
		return rc;
	char path[PATH_MAX_LEN + 1];
	snprintf(path, sizeof(path), "/%s", bucket);
	char *pq = httpc_path_query("/api/v1/files", path, NULL);
	rc = pq ? master(w, "DELETE", pq, NULL, NULL, err, errlen) : -ENOMEM;
	free(pq);
	return rc == -EBUSY ? -EACCES : rc;
}

/* ---- objects ---- */

static void fill_info(const cJSON *st, struct wobj_info *out)
{
	memset(out, 0, sizeof(*out));
	out->size = (uint64_t)json_int_or(st, "length", 0);
	out->mtime = mtime_s(st);
	snprintf(out->etag, sizeof(out->etag), "%s", str(st, "etag"));
}

/* An object's info from a file lookup that returned rc: a directory has
 * only its "dir/" marker, so it is -ENOENT as a key. */
static int info_of_file(int rc, const struct file_info *fi, struct wobj_info *out)
{
	if (rc == -EINVAL || rc == -EISDIR)
		return -ENOENT;
	if (!rc) {
		memset(out, 0, sizeof(*out));
		out->size = fi->length;
		out->mtime = fi->mtime_ms / 1000;
		snprintf(out->etag, sizeof(out->etag), "%s", fi->etag);
	}
	return rc;
}

int wobj_stat(struct worker_node *w, const char *bucket, const char *key,
	      struct wobj_info *out, char *err, size_t errlen)
{
	char path[PATH_MAX_LEN + 1];
	int rc = wobj_path(bucket, key, path, sizeof(path));
	if (rc)
		return rc;
	bool marker = *key && key[strlen(key) - 1] == '/';
	if (!marker) {
		/* Files: the worker's metadata cache answers (the hot path of
		 * every GET), the master only once per worker.metadata_ttl. */
		struct file_info *fi = malloc(sizeof(*fi));
		if (!fi)
			return -ENOMEM;
		rc = fcache_get(w->fcache, path, fi, err, errlen);
		rc = info_of_file(rc, fi, out);
		free(fi);
		return rc;
	}
	cJSON *st = NULL;
	rc = stat_path(w, path, &st, err, errlen);
	if (!rc && !is_dir(st))
		rc = -ENOENT; /* a file has no "file/" marker */
	if (!rc) {
		fill_info(st, out);
		out->size = 0;
	}
	cJSON_Delete(st);
	return rc;
}

/* A lazy load's block once whole: cached here, and the readers that
 * waited for it let go (cold_done); then, when a peer owns it, pushed to
 * that peer as a write would (cold_push: after the reader that started the
 * load has its last byte). */
struct cold_done {
	struct worker_node *w;
	uint64_t index, id;
	bool remote;
	struct file_info fi;
};

static void cold_done(void *arg, bool ok, const char *data, uint64_t len)
{
	struct cold_done *d = arg;
	d->remote = ok && bsvc_put_block(d->w->bsvc, &d->fi, d->index, data, len) == -EREMOTE;
	bsvc_flight_end(d->w->bsvc, d->id);
}

static void cold_push(void *arg, bool ok, const char *data, uint64_t len)
{
	struct cold_done *d = arg;
	if (ok && d->remote)
		worker_cache_block(d->w, d->id, data, (size_t)len);
	free(d);
}

/*
 * The cold miss of a file the master does not know (fi: where to read it,
 * from fcache_get_lazy): one store GET of the block holding `from`, whose
 * reply headers give the file's metadata, reported to the master as the
 * lazy load before the body is in (daemon/worker/coldstream.h). The block
 * is cached under the data_id the master names once whole; meanwhile the
 * read that follows on this thread streams it as it arrives, and other
 * readers of it wait for it (bsvc_flight_try). fi gets the loaded file.
 * -ENOENT (nothing recorded) when the store has no such file, -EISDIR
 * when it is a directory there.
 */
static int cold_load(struct worker_node *w, const char *path, uint64_t from,
		     struct file_info *fi, char *err, size_t errlen)
{
	uint64_t bs = (uint64_t)fi->block_size;
	uint64_t index = from / bs;
	struct ufs_stat st;
	struct cstream *s;
	int rc = cstream_start(fi->ufs, fi->ufs_path, index * bs, bs, &st, &s, err, errlen);
	if (rc)
		return rc;
	bool same = false;
	int64_t asked = 0;
	rc = fcache_loaded(w->fcache, path, &st, worker_placing_id(w), index, fi, &same, &asked,
			   err, errlen);
	/* Cached only when the master recorded the content being read, and
	 * nobody here reads that block from the store already. */
	struct cold_done *d = NULL;
	uint64_t id = placement_block_id(fi->data_id, index);
	if (!rc && same && cstream_length(s) && (d = malloc(sizeof(*d)))) {
		*d = (struct cold_done){ .w = w, .index = index, .id = id, .fi = *fi };
		if (!bsvc_flight_try(w->bsvc, id)) {
			free(d);
			d = NULL;
		}
	}
	cstream_decide(s, d ? cold_done : NULL, d ? cold_push : NULL, d);
	if (!rc)
		fcache_keep_loaded(w->fcache, path, fi, asked);
	if (d)
		bsvc_hold_cold(id, s); /* the read that follows on this thread */
	else
		cstream_unref(s);
	return rc;
}

int wobj_lookup_at(struct worker_node *w, const char *path, uint64_t from, struct file_info *fi,
		   char *err, size_t errlen)
{
	/* Concurrent misses of one file: one looks it up (and loads it), the
	 * others wait and then find it cached, block included (the store is
	 * read once). */
	bsvc_drop_cold(); /* a block an earlier lookup on this thread kept, unread */
	bool mine = false;
	for (int attempt = 0; attempt < 3 && !mine; attempt++) {
		if (fcache_get_cached(w->fcache, path, fi) == 0)
			return 0;
		mine = fcache_load_begin(w->fcache, path);
	}
	int rc = fcache_get_lazy(w->fcache, path, fi, err, errlen);
	if (rc == ST_ENOTLOADED)
		rc = cold_load(w, path, from, fi, err, errlen);
	if (mine)
		fcache_load_end(w->fcache, path);
	return rc;
}

int wobj_stat_at(struct worker_node *w, const char *bucket, const char *key, uint64_t from,
		 struct wobj_info *out, char *err, size_t errlen)
{
	bool marker = *key && key[strlen(key) - 1] == '/';
	if (marker)
		return wobj_stat(w, bucket, key, out, err, errlen);
	char path[PATH_MAX_LEN + 1];
	int rc = wobj_path(bucket, key, path, sizeof(path));
	if (rc)
		return rc;
	struct file_info *fi = malloc(sizeof(*fi));
	if (!fi)
		return -ENOMEM;
	rc = wobj_lookup_at(w, path, from, fi, err, errlen);
	rc = info_of_file(rc, fi, out);
	free(fi);
	return rc;
}

int wobj_read(struct worker_node *w, const char *bucket, const char *key, uint64_t off,
	      uint64_t len, bsvc_sink_fn sink, void *sink_arg, char *err, size_t errlen)
{
	char path[PATH_MAX_LEN + 1];
	int rc = wobj_path(bucket, key, path, sizeof(path));
	if (rc)
		return rc;
	struct file_info *fi = malloc(sizeof(*fi));
	if (!fi)
		return -ENOMEM;
	rc = fcache_get(w->fcache, path, fi, err, errlen);
	if (rc == -EINVAL) /* the master says it is a directory */
		rc = -ENOENT;
	if (!rc)
		rc = bsvc_read(w->bsvc, fi, off, len, sink, sink_arg, err, errlen);
	if (rc == ST_ESTALE)
		fcache_invalidate(w->fcache, path);
	free(fi);
	return rc;
}

/* Full-key order: a directory sorts as "name/" among its siblings. */
struct child {
	char *key;
	bool dir;
	cJSON *json;
};

static int cmp_child(const void *a, const void *b)
{
	return strcmp(((const struct child *)a)->key, ((const struct child *)b)->key);
}

struct walk {
	struct worker_node *w;
	const struct wobj_list_query *q;
	wobj_entry_fn add;
	void *arg;
	size_t n; /* entries given so far */
	size_t prefix_len;
	char *err;
	size_t errlen;
	bool full; /* max entries taken and one more seen */
};

/* Adds key to the page unless it is at or before `after`; marks the walk
 * full (truncated) when one more entry than max shows up. */
static int take(struct walk *wk, const char *key, bool is_prefix, const cJSON *e)
{
	if (strcmp(key, wk->q->after ? wk->q->after : "") <= 0)
		return 0;
	if (wk->n == wk->q->max) {
		wk->full = true;
		return 0;
	}
	wk->n++;
	return wk->add(wk->arg, key, is_prefix, is_prefix ? 0 : (uint64_t)json_int_or(e, "length", 0),
			      mtime_s(e), is_prefix ? "" : str(e, "etag"));
}

/*
 * Lists directory dir_path, whose keys all start with key_base ("" or
 * ending in '/'), in full-key order: children sorted with directories as
 * "name/". A directory is descended into while it is a prefix of the
 * query's prefix, or always without a delimiter; with one, a directory
 * past the prefix is a common prefix. An empty directory in a recursive
 * listing shows as its "dir/" marker.
 */
static int walk_dir(struct walk *wk, const char *dir_path, const char *key_base,
		    size_t *nchildren)
{
	cJSON *all;
	*nchildren = 0;
	int rc = list_all(wk->w, dir_path, &all, wk->err, wk->errlen);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return 0;
	if (rc)
		return rc;
	size_t n = (size_t)cJSON_GetArraySize(all), k = 0;
	*nchildren = n;
	struct child *kids = calloc(n ? n : 1, sizeof(*kids));
	if (!kids) {
		cJSON_Delete(all);
		return -ENOMEM;
	}
	cJSON *e;
	cJSON_ArrayForEach(e, all)
	{
		bool dir = is_dir(e);
		size_t len = strlen(key_base) + strlen(str(e, "name")) + 2;
		if (!(kids[k].key = malloc(len))) {
			rc = -ENOMEM;
			break;
		}
		snprintf(kids[k].key, len, "%s%s%s", key_base, str(e, "name"), dir ? "/" : "");
		kids[k].dir = dir;
		kids[k].json = e;
		k++;
	}
	if (!rc)
		qsort(kids, k, sizeof(*kids), cmp_child);
	const char *prefix = wk->q->prefix ? wk->q->prefix : "";
	for (size_t i = 0; i < k && !rc && !wk->full; i++) {
		const char *key = kids[i].key;
		size_t klen = strlen(key);
		size_t common = klen < wk->prefix_len ? klen : wk->prefix_len;
		if (strncmp(key, prefix, common) != 0)
			continue; /* neither a prefix of the query's prefix nor under it */
		if (!kids[i].dir) {
			if (klen >= wk->prefix_len)
				rc = take(wk, key, false, kids[i].json);
			continue;
		}
		if (klen > wk->prefix_len && wk->q->delimit) {
			rc = take(wk, key, true, kids[i].json);
			continue;
		}
		size_t sublen = strlen(dir_path) + strlen(str(kids[i].json, "name")) + 2;
		char *sub = malloc(sublen);
		if (!sub) {
			rc = -ENOMEM;
			break;
		}
		snprintf(sub, sublen, "%s%s%s", dir_path, strcmp(dir_path, "/") ? "/" : "",
			 str(kids[i].json, "name"));
		size_t below = 0;
		rc = walk_dir(wk, sub, key, &below);
		free(sub);
		/* An empty directory shows as its marker in a recursive listing. */
		if (!rc && !below && !wk->q->delimit && klen >= wk->prefix_len)
			rc = take(wk, key, false, kids[i].json);
	}
	for (size_t i = 0; i < k; i++)
		free(kids[i].key);
	free(kids);
	cJSON_Delete(all);
	return rc;
}

int wobj_list(struct worker_node *w, const char *bucket, const struct wobj_list_query *q,
	      wobj_entry_fn add, void *arg, bool *truncated, char *err, size_t errlen)
{
	*truncated = false;
	int rc = wobj_head_bucket(w, bucket, err, errlen);
	if (rc)
		return rc;
	struct walk wk = { .w = w, .q = q, .add = add, .arg = arg, .err = err, .errlen = errlen,
			   .prefix_len = q->prefix ? strlen(q->prefix) : 0 };
	char root[PATH_MAX_LEN + 1];
	snprintf(root, sizeof(root), "/%s", bucket);
	size_t nroot;
	rc = walk_dir(&wk, root, "", &nroot);
	*truncated = wk.full;
	return rc;
}

int wobj_put(struct worker_node *w, const char *bucket, const char *key, write_reader_fn read,
	     void *arg, const char *md5_hex, enum write_type type, struct wobj_info *out,
	     char *err, size_t errlen)
{
	char path[PATH_MAX_LEN + 1];
	int rc = wobj_path(bucket, key, path, sizeof(path));
	if (rc)
		return rc;
	if (*key && key[strlen(key) - 1] == '/') {
		/* A directory marker: the body must be empty. */
		char c;
		long got = read(arg, &c, 1);
		if (got < 0)
			return (int)got;
		if (got > 0) {
			snprintf(err, errlen, "a key ending in '/' names a directory: empty body only");
			return -EINVAL;
		}
		cJSON *req = cJSON_CreateObject();
		cJSON_AddStringToObject(req, "path", path);
		cJSON_AddBoolToObject(req, "parents", true);
		rc = master(w, "POST", "/api/v1/files/mkdir", req, NULL, err, errlen);
		cJSON_Delete(req);
		if (!rc) {
			memset(out, 0, sizeof(*out));
			snprintf(out->etag, sizeof(out->etag), "%s", md5_hex);
		}
		return rc;
	}
	struct write_result r;
	rc = worker_write_file(w, path, type, read, arg, md5_hex, &r, err, errlen);
	if (!rc) {
		memset(out, 0, sizeof(*out));
		out->size = r.length;
		out->mtime = r.mtime_ms / 1000;
		snprintf(out->etag, sizeof(out->etag), "%s", md5_hex);
	}
	return rc;
}

int wobj_delete(struct worker_node *w, const char *bucket, const char *key, char *err,
		size_t errlen)
{
	char path[PATH_MAX_LEN + 1];
	int rc = wobj_path(bucket, key, path, sizeof(path));
	if (rc)
		return rc;
	bool marker = *key && key[strlen(key) - 1] == '/';
	cJSON *st = NULL;
	rc = stat_path(w, path, &st, err, errlen);
	if (!rc && is_dir(st) != marker)
		rc = -ENOENT;
	cJSON_Delete(st);
	if (rc)
		return rc;
	char *pq = httpc_path_query("/api/v1/files", path, NULL);
	rc = pq ? master(w, "DELETE", pq, NULL, NULL, err, errlen) : -ENOMEM;
	free(pq);
	if (rc)
		return rc;
	fcache_invalidate(w->fcache, path);
	/* S3 has no directories: prune the ones this delete left empty, up
	 * to the bucket, as MinIO does. Stops at the first that is not empty
	 * (or is a mount point). */
	char parent[PATH_MAX_LEN + 1];
	while (path_parent(path, parent, sizeof(parent)) == 0 && strchr(parent + 1, '/')) {
		cJSON *kids = NULL;
		char *lq = httpc_path_query("/api/v1/files", parent, "&limit=1");
		char perr[256];
		int lrc = lq ? master(w, "GET", lq, NULL, &kids, perr, sizeof(perr)) : -ENOMEM;
		free(lq);
		bool empty = !lrc &&
			     cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(kids, "entries")) == 0;
		cJSON_Delete(kids);
		if (!empty)
			break;
		char *dq = httpc_path_query("/api/v1/files", parent, NULL);
		lrc = dq ? master(w, "DELETE", dq, NULL, NULL, perr, sizeof(perr)) : -ENOMEM;
		free(dq);
		if (lrc)
			break;
		snprintf(path, sizeof(path), "%s", parent);
	}
	return 0;
}

/* Pulls a source object through the cache in pieces, for copy. */
struct copy_src {
	struct worker_node *w;
	struct file_info *fi;
	uint64_t off;
	char *dst;
	size_t want, got;
	int rc;
	char *err;
	size_t errlen;
};

static int copy_sink(void *arg, const void *data, size_t len)
{
	struct copy_src *c = arg;
	memcpy(c->dst + c->got, data, len);
	c->got += len;
	return 0;
}

static long copy_read(void *arg, void *buf, size_t len)
{
	struct copy_src *c = arg;
	if (c->off >= c->fi->length)
		return 0;
	c->dst = buf;
	c->got = 0;
	c->want = len < c->fi->length - c->off ? len : (size_t)(c->fi->length - c->off);
	c->rc = bsvc_read(c->w->bsvc, c->fi, c->off, c->want, copy_sink, c, c->err, c->errlen);
	if (c->rc)
		return -EIO;
	c->off += c->got;
	return (long)c->got;
}

int wobj_copy(struct worker_node *w, const char *src_bucket, const char *src_key,
	      const char *dst_bucket, const char *dst_key, struct wobj_info *out, char *err,
	      size_t errlen)
{
	char src[PATH_MAX_LEN + 1], dst[PATH_MAX_LEN + 1];
	int rc = wobj_path(src_bucket, src_key, src, sizeof(src));
	if (!rc)
		rc = wobj_path(dst_bucket, dst_key, dst, sizeof(dst));
	if (rc)
		return rc;
	cJSON *st = NULL;
	rc = stat_path(w, src, &st, err, errlen);
	if (!rc && is_dir(st))
		rc = -ENOENT;
	char etag[48] = "";
	if (!rc)
		snprintf(etag, sizeof(etag), "%s", str(st, "etag"));
	cJSON_Delete(st);
	if (rc)
		return rc;
	struct copy_src c = { .w = w, .fi = malloc(sizeof(struct file_info)), .err = err,
			      .errlen = errlen };
	if (!c.fi)
		return -ENOMEM;
	rc = fcache_get(w->fcache, src, c.fi, err, errlen);
	struct write_result r;
	if (!rc)
		rc = worker_write_file(w, dst, WRITE_DEFAULT, copy_read, &c, etag, &r, err,
				       errlen);
	if (rc && c.rc)
		rc = c.rc;
	if (!rc) {
		memset(out, 0, sizeof(*out));
		out->size = r.length;
		out->mtime = r.mtime_ms / 1000;
		snprintf(out->etag, sizeof(out->etag), "%s", etag);
	}
	free(c.fi);
	return rc;
}

/* ---- multipart: parts wait in <data_dir>/mpu/<upload_id>/ ---- */

static int upload_dir(struct worker_node *w, const char *upload_id, char *out, size_t len)
{
	for (const char *p = upload_id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return -ENOENT; /* not an id we made */
	if (!*upload_id || strlen(upload_id) != 32)
		return -ENOENT;
	snprintf(out, len, "%s/mpu/%s", w->data_dir, upload_id);
	return 0;
}

int wobj_mpu_create(struct worker_node *w, const char *bucket, const char *key,
		    char upload_id[WOBJ_UPLOAD_ID_LEN], char *err, size_t errlen)
{
	int rc = wobj_head_bucket(w, bucket, err, errlen);
	if (rc)
		return rc;
	unsigned char rnd[16];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	for (int i = 0; i < 16; i++)
		sprintf(upload_id + 2 * i, "%02x", rnd[i]);
	char dir[2048];
	snprintf(dir, sizeof(dir), "%s/mpu", w->data_dir);
	mkdir(dir, 0700);
	upload_dir(w, upload_id, dir, sizeof(dir));
	if (mkdir(dir, 0700) != 0) {
		snprintf(err, errlen, "cannot create the upload directory: %s", strerror(errno));
		return -errno;
	}
	/* Remember what the upload is for. */
	char meta[2200];
	snprintf(meta, sizeof(meta), "%s/target", dir);
	int fd = open(meta, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "cannot record the upload: %s", strerror(e));
		return -e;
	}
	fprintf(f, "%s\n%s", bucket, key);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

/* Checks the upload exists and is for bucket/key. */
static int upload_open(struct worker_node *w, const char *bucket, const char *key,
		       const char *upload_id, char *dir, size_t len)
{
	int rc = upload_dir(w, upload_id, dir, len);
	if (rc)
		return rc;
	char meta[2200], text[2 * PATH_MAX_LEN + 8] = "", want[sizeof(text)];
	snprintf(meta, sizeof(meta), "%s/target", dir);
	FILE *f = fopen(meta, "r");
	if (!f)
		return -ENOENT;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	snprintf(want, sizeof(want), "%s\n%s", bucket, key);
	return strcmp(text, want) == 0 ? 0 : -ENOENT;
}

int wobj_mpu_put_part(struct worker_node *w, const char *bucket, const char *key,
		      const char *upload_id, int part_number, write_reader_fn read, void *arg,
		      const char *md5_hex, char *err, size_t errlen)
{
	char dir[2048], tmp[2200], final[2200];
	int rc = upload_open(w, bucket, key, upload_id, dir, sizeof(dir));
	if (rc)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s/part.%05d.tmp", dir, part_number);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot store part %d: %s", part_number, strerror(errno));
		return -errno;
	}
	char *buf = malloc(256 << 10);
	long got;
	while (buf && (got = read(arg, buf, 256 << 10)) > 0) {
		if (write(fd, buf, (size_t)got) != got) {
			rc = errno ? -errno : -ENOSPC;
			break;
		}
	}
	if (!buf)
		rc = -ENOMEM;
	else if (!rc && got < 0)
		rc = (int)got;
	free(buf);
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	/* The part's name carries its ETag, so completion can check it. */
	snprintf(final, sizeof(final), "%s/part.%05d.%s", dir, part_number, md5_hex);
	char pattern[64];
	snprintf(pattern, sizeof(pattern), "part.%05d.", part_number);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, pattern, strlen(pattern)) == 0 &&
		    !strstr(de->d_name, ".tmp")) {
			char old[2400];
			snprintf(old, sizeof(old), "%s/%s", dir, de->d_name);
			unlink(old); /* a part uploaded again replaces the old one */
		}
	}
	if (d)
		closedir(d);
	if (rename(tmp, final) != 0)
		return -errno;
	return 0;
}

static void remove_upload(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char p[2400];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Reads the parts one after another as one body. */
struct concat {
	char dir[2048];
	const struct wobj_part *parts;
	size_t nparts, cur;
	int fd;
};

static long concat_read(void *arg, void *buf, size_t len)
{
	struct concat *c = arg;
	while (c->cur < c->nparts) {
		if (c->fd < 0) {
			char p[2400];
			snprintf(p, sizeof(p), "%s/part.%05d.%s", c->dir, c->parts[c->cur].number,
				 c->parts[c->cur].etag);
			c->fd = open(p, O_RDONLY | O_CLOEXEC);
			if (c->fd < 0)
				return -EIO;
		}
		ssize_t n = read(c->fd, buf, len);
		if (n > 0)
			return n;
		close(c->fd);
		c->fd = -1;
		if (n < 0)
			return -EIO;
		c->cur++;
	}
	return 0;
}

/* Checks the upload and its parts (in dir, which gets the upload's
 * directory). */
static int check_parts(struct worker_node *w, const char *bucket, const char *key,
		       const char *upload_id, const struct wobj_part *parts, size_t nparts,
		       char *dir, size_t dirlen, char *err, size_t errlen)
{
	int rc = upload_open(w, bucket, key, upload_id, dir, dirlen);
	for (size_t i = 0; !rc && i < nparts; i++) {
		char p[2400];
		struct stat st;
		snprintf(p, sizeof(p), "%s/part.%05d.%s", dir, parts[i].number, parts[i].etag);
		if (stat(p, &st) != 0) {
			snprintf(err, errlen, "part %d with ETag %s was not uploaded", parts[i].number,
				 parts[i].etag);
			rc = -EBADMSG;
		} else if (i + 1 < nparts && st.st_size < (5 << 20)) {
			snprintf(err, errlen, "part %d is %lld bytes; all but the last need 5 MiB",
				 parts[i].number, (long long)st.st_size);
			rc = ST_ETOOSMALL;
		}
	}
	return rc;
}

int wobj_mpu_check(struct worker_node *w, const char *bucket, const char *key,
		   const char *upload_id, const struct wobj_part *parts, size_t nparts, char *err,
		   size_t errlen)
{
	char dir[2048];
	return check_parts(w, bucket, key, upload_id, parts, nparts, dir, sizeof(dir), err, errlen);
}

int wobj_mpu_complete(struct worker_node *w, const char *bucket, const char *key,
		      const char *upload_id, const struct wobj_part *parts, size_t nparts,
		      const char *etag, enum write_type type, struct wobj_info *out, char *err,
		      size_t errlen)
{
	struct concat *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->parts = parts;
	c->nparts = nparts;
	int rc = check_parts(w, bucket, key, upload_id, parts, nparts, c->dir, sizeof(c->dir), err,
			     errlen);
	char path[PATH_MAX_LEN + 1];
	if (!rc)
		rc = wobj_path(bucket, key, path, sizeof(path));
	struct write_result r;
	if (!rc)
		rc = worker_write_file(w, path, type, concat_read, c, etag, &r, err,
				       errlen);
	if (c->fd >= 0)
		close(c->fd);
	if (!rc) {
		remove_upload(c->dir);
		memset(out, 0, sizeof(*out));
		out->size = r.length;
		out->mtime = r.mtime_ms / 1000;
		snprintf(out->etag, sizeof(out->etag), "%s", etag);
	}
	free(c);
	return rc;
}

int wobj_mpu_abort(struct worker_node *w, const char *bucket, const char *key,
		   const char *upload_id, char *err, size_t errlen)
{
	char dir[2048];
	int rc = upload_open(w, bucket, key, upload_id, dir, sizeof(dir));
	if (!rc)
		remove_upload(dir);
	return rc;
}

/* ---- multipart: listing and expiry ---- */

/* Reads an upload's target (bucket, key); 0 or -ENOENT. */
static int upload_target(const char *dir, char *bucket, size_t blen, char **key)
{
	char meta[2200], text[2 * PATH_MAX_LEN + 8];
	snprintf(meta, sizeof(meta), "%s/target", dir);
	FILE *f = fopen(meta, "r");
	if (!f)
		return -ENOENT;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	char *nl = strchr(text, '\n');
	if (!nl || (size_t)(nl - text) >= blen)
		return -ENOENT;
	*nl = '\0';
	memcpy(bucket, text, (size_t)(nl - text) + 1);
	*key = strdup(nl + 1);
	return *key ? 0 : -ENOMEM;
}

static int64_t mtime_ms(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static int cmp_upload(const void *a, const void *b)
{
	const struct wobj_upload *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->upload_id, y->upload_id);
}

void wobj_uploads_free(struct wobj_upload *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(u[i].key);
	free(u);
}

/* Every upload directory under <data_dir>/mpu: calls fn for each with its
 * id and directory. */
static int each_upload(struct worker_node *w,
		       int (*fn)(void *arg, const char *id, const char *dir), void *arg)
{
	char root[2048];
	snprintf(root, sizeof(root), "%s/mpu", w->data_dir);
	DIR *d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		char dir[2400];
		if (upload_dir(w, de->d_name, dir, sizeof(dir)))
			continue; /* not an upload id */
		rc = fn(arg, de->d_name, dir);
	}
	closedir(d);
	return rc;
}

struct list_ctx {
	const char *bucket, *prefix;
	struct wobj_upload *u;
	size_t n, cap;
};

static int list_one(void *arg, const char *id, const char *dir)
{
	struct list_ctx *l = arg;
	char bucket[PATH_MAX_LEN + 1];
	char *key = NULL;
	struct stat tst, dst;
	char meta[2600];
	snprintf(meta, sizeof(meta), "%s/target", dir);
	if (upload_target(dir, bucket, sizeof(bucket), &key) || stat(meta, &tst) || stat(dir, &dst) ||
	    strcmp(bucket, l->bucket) != 0 ||
	    (l->prefix && strncmp(key, l->prefix, strlen(l->prefix)) != 0)) {
		free(key);
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct wobj_upload *more = realloc(l->u, cap * sizeof(*more));
		if (!more) {
			free(key);
			return -ENOMEM;
		}
		l->u = more;
		l->cap = cap;
	}
	struct wobj_upload *u = &l->u[l->n++];
	snprintf(u->upload_id, sizeof(u->upload_id), "%s", id);
	u->key = key;
	u->initiated_ms = mtime_ms(&tst);
	u->active_ms = mtime_ms(&dst) > u->initiated_ms ? mtime_ms(&dst) : u->initiated_ms;
	return 0;
}

int wobj_mpu_list(struct worker_node *w, const char *bucket, const char *prefix,
		  struct wobj_upload **out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	int rc = wobj_head_bucket(w, bucket, err, errlen);
	if (rc)
		return rc;
	struct list_ctx l = { .bucket = bucket, .prefix = prefix && *prefix ? prefix : NULL };
	rc = each_upload(w, list_one, &l);
	if (rc) {
		wobj_uploads_free(l.u, l.n);
		snprintf(err, errlen, "cannot list the uploads: %s", strerror(-rc));
		return rc;
	}
	if (l.n)
		qsort(l.u, l.n, sizeof(*l.u), cmp_upload);
	*out = l.u;
	*n = l.n;
	return 0;
}

static int cmp_part(const void *a, const void *b)
{
	const struct wobj_part_info *x = a, *y = b;
	return (x->number > y->number) - (x->number < y->number);
}

int wobj_mpu_parts(struct worker_node *w, const char *bucket, const char *key,
		   const char *upload_id, struct wobj_part_info **out, size_t *n, char *err,
		   size_t errlen)
{
	char dir[2048];
	*out = NULL;
	*n = 0;
	int rc = upload_open(w, bucket, key, upload_id, dir, sizeof(dir));
	if (rc) {
		snprintf(err, errlen, "no upload %.64s for %.200s/%.512s", upload_id, bucket, key);
		return rc;
	}
	DIR *d = opendir(dir);
	if (!d)
		return -ENOENT;
	struct dirent *de;
	size_t cap = 0;
	struct wobj_part_info *p = NULL;
	while ((de = readdir(d))) {
		int number;
		char etag[WOBJ_ETAG_MAX];
		struct stat st;
		char path[2400];
		/* part.<number>.<md5 hex>; .tmp files are parts still arriving */
		if (sscanf(de->d_name, "part.%5d.%71s", &number, etag) != 2 || strstr(etag, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			struct wobj_part_info *more = realloc(p, cap * sizeof(*more));
			if (!more) {
				free(p);
				closedir(d);
				return -ENOMEM;
			}
			p = more;
		}
		p[*n].number = number;
		p[*n].size = (uint64_t)st.st_size;
		p[*n].mtime = (int64_t)st.st_mtime;
		snprintf(p[*n].etag, sizeof(p[*n].etag), "%s", etag);
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(p, *n, sizeof(*p), cmp_part);
	*out = p;
	return 0;
}

struct expire_ctx {
	int64_t max_idle_ms, now_ms;
	int removed;
};

static int expire_one(void *arg, const char *id, const char *dir)
{
	struct expire_ctx *e = arg;
	struct stat st;
	if (stat(dir, &st))
		return 0;
	int64_t idle = e->now_ms - mtime_ms(&st);
	if (idle < e->max_idle_ms)
		return 0;
	log_info("multipart upload %s expired: no part for %lld s (worker.s3.multipart_expiry)",
		 id, (long long)(idle / 1000));
	remove_upload(dir);
	e->removed++;
	return 0;
}

int wobj_mpu_expire(struct worker_node *w, int64_t max_idle_ms, int64_t now_ms)
{
	struct expire_ctx e = { .max_idle_ms = max_idle_ms, .now_ms = now_ms };
	each_upload(w, expire_one, &e);
	return e.removed;
}
