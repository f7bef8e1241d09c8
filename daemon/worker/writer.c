#include "daemon/worker/writer.h"

#define COPIES_MAX 64 /* a replication min at most (JOURNAL_REPL_MAX) */

#include "daemon/worker/blocksvc.h"
#include "daemon/worker/filecache.h"
#include "daemon/worker/worker.h"

#include "client/client.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/placement.h"
#include "tier/tier.h"
#include "ufs/ufs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const g_type_names[] = {
	[WRITE_CACHE_THROUGH] = "CACHE_THROUGH",
	[WRITE_THROUGH] = "THROUGH",
	[WRITE_ASYNC_THROUGH] = "ASYNC_THROUGH",
	[WRITE_MUST_CACHE] = "MUST_CACHE",
	[WRITE_DEFAULT] = "DEFAULT",
};

int write_type_parse(const char *s, enum write_type *out)
{
	for (int t = WRITE_CACHE_THROUGH; t < WRITE_DEFAULT; t++) {
		if (strcasecmp(s, g_type_names[t]) == 0) {
			*out = (enum write_type)t;
			return 0;
		}
	}
	return -EINVAL;
}

const char *write_type_name(enum write_type t)
{
	return t >= WRITE_CACHE_THROUGH && t <= WRITE_DEFAULT ? g_type_names[t] : "?";
}

/* Caches one block on one worker (owner "": here) and pins it, or fails. */
static int cache_copy(struct worker_node *w, const char *owner, uint64_t id, const void *data,
		      size_t len, char *err, size_t errlen)
{
	if (!*owner) {
		int rc = tier_block_put_durable(w->tiers, id, data, len, err, errlen);
		if (rc && rc != -EEXIST)
			return rc;
		return tier_block_pin(w->tiers, id, true);
	}
	struct httpc *hc = fcache_thread_http(w->fcache);
	if (!hc)
		return -ENOMEM;
	char url[512], why[512] = "";
	snprintf(url, sizeof(url), "%s://%.300s/api/v1/blocks/%llu?pin=1",
		 *w->conf->http_tls_cert ? "https" : "http", owner, (unsigned long long)id);
	struct httpc_resp resp = { 0 };
	int rc = httpc_request(hc, "PUT", url, "application/octet-stream", data, len, &resp, why,
			       sizeof(why));
	if (rc) {
		snprintf(err, errlen, "cannot cache block %llu on worker %s: %s",
			 (unsigned long long)id, owner, why);
		return rc;
	}
	if (resp.status != 200 && resp.status != 201) {
		snprintf(err, errlen, "worker %s refused block %llu: HTTP %ld",
			 owner, (unsigned long long)id, resp.status);
		rc = resp.status == 507 ? -ENOSPC : -EIO;
	}
	httpc_resp_free(&resp);
	return rc;
}

/* Caches one block on its first `copies` owners (pinned), or fails: for
 * content no store holds (ASYNC_THROUGH, MUST_CACHE) the cached copies are
 * the data. */
static int cache_block_sync(struct worker_node *w, uint64_t id, const void *data, size_t len,
			    size_t copies, char *err, size_t errlen)
{
	char owners[COPIES_MAX][WORKER_ADDR_MAX];
	if (copies > COPIES_MAX)
		copies = COPIES_MAX;
	size_t n = worker_copy_owners(w, id, copies, owners);
	if (n < copies) {
		snprintf(err, errlen, "%zu cached copies wanted (replication min) but %zu workers "
			 "are live", copies, n);
		return -EAGAIN;
	}
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = cache_copy(w, owners[i], id, data, len, err, errlen);
	return rc;
}

void worker_cache_block(struct worker_node *w, uint64_t id, const void *data, size_t len)
{
	char owner[300], err[512] = "";
	if (!worker_owner_of(w, id, owner, sizeof(owner))) {
		int rc = tier_block_put(w->tiers, id, data, len, err, sizeof(err));
		if (rc && rc != -EEXIST)
			log_debug("block %llu not cached: %s", (unsigned long long)id, err);
		return;
	}
	struct httpc *hc = fcache_thread_http(w->fcache);
	char url[512];
	snprintf(url, sizeof(url), "%s://%s/api/v1/blocks/%llu",
		 *w->conf->http_tls_cert ? "https" : "http", owner, (unsigned long long)id);
	struct httpc_resp resp = { 0 };
	if (hc && httpc_request(hc, "PUT", url, "application/octet-stream", data, len, &resp, err,
				sizeof(err)) == 0) {
		if (resp.status != 200 && resp.status != 201)
			log_debug("worker %s refused block %llu: HTTP %ld", owner,
				  (unsigned long long)id, resp.status);
		httpc_resp_free(&resp);
	} else {
		log_debug("cannot push block %llu to %s: %s", (unsigned long long)id, owner, err);
	}
}

/* No master answered, or none leads: the caller may retry. */
static int unavailable(int rc)
{
	return rc == ST_EPEER || rc == ST_ENOLEADER ? -EAGAIN : rc;
}

static int begin(struct worker_node *w, const char *path, uint64_t *data_id, int64_t *bs,
		 struct ufs **ufs, char *ufs_path, size_t ufs_len, enum write_type *type,
		 size_t *copies, char *err, size_t errlen)
{
	struct client_write_grant g;
	struct httpc *hc = fcache_master_conn(w->fcache);
	int rc = client_write_begin(fcache_masters(w->fcache), hc, path, &g, err, errlen);
	fcache_master_conn_put(w->fcache, hc);
	if (rc)
		return unavailable(rc); /* the master's verdict: read-only, exists... */
	*data_id = g.data_id;
	*bs = g.block_size;
	snprintf(ufs_path, ufs_len, "%s", g.ufs_path);
	if (*type == WRITE_DEFAULT && write_type_parse(g.write_type, type))
		*type = WRITE_CACHE_THROUGH; /* a policy this worker does not know */
	*copies = (size_t)g.repl_min;
	rc = fcache_store(w->fcache, &g.store, ufs, err, errlen);
	client_write_grant_clear(&g);
	return rc;
}

static int commit(struct worker_node *w, const char *path, const struct write_result *r,
		  const char *etag, enum write_type type, char *err, size_t errlen)
{
	struct client_write_done d = {
		.path = path,
		.data_id = r->data_id,
		.length = r->length,
		.mtime_ms = r->mtime_ms,
		.fingerprint = r->fingerprint,
		.etag = etag,
		.write_type = type == WRITE_ASYNC_THROUGH || type == WRITE_MUST_CACHE
				      ? write_type_name(type)
				      : NULL,
	};
	struct httpc *hc = fcache_master_conn(w->fcache);
	int rc = client_write_commit(fcache_masters(w->fcache), hc, &d, err, errlen);
	fcache_master_conn_put(w->fcache, hc);
	return rc == ST_EPEER ? -EAGAIN : rc ? -EIO : 0;
}

int worker_write_file(struct worker_node *w, const char *path, enum write_type type,
		      write_reader_fn read, void *arg, const char *etag, struct write_result *out,
		      char *err, size_t errlen)
{
	uint64_t data_id = 0;
	int64_t bs = 0;
	struct ufs *ufs = NULL;
	char *rel = malloc(4096);
	if (!rel)
		return -ENOMEM;
	size_t copies = 1;
	int rc = begin(w, path, &data_id, &bs, &ufs, rel, 4096, &type, &copies, err, errlen);
	if (rc)
		goto out_rel;
	bool cache_only = type == WRITE_ASYNC_THROUGH || type == WRITE_MUST_CACHE;
	/* One block is buffered so it can be cached whole. */
	char *block = type != WRITE_THROUGH ? malloc((size_t)bs) : NULL;
	char *chunk = malloc(256 << 10);
	struct ufs_writer *uw = NULL;
	if ((type != WRITE_THROUGH && !block) || !chunk) {
		rc = -ENOMEM;
		goto out_bufs;
	}
	if (!cache_only) {
		rc = ufs_writer_open(ufs, rel, &uw, err, errlen);
		if (rc)
			goto out_bufs;
	}
	uint64_t total = 0, index = 0;
	size_t filled = 0;
	for (;;) {
		long got = read(arg, chunk, 256 << 10);
		if (got < 0) {
			/* The reader's own code (a body that does not match its
			 * signature or hash must be reported as such), and its
			 * reason when it gave one. */
			rc = got >= INT32_MIN ? (int)got : -EIO;
			if (!*err)
				snprintf(err, errlen, "reading the upload for '%s' failed", path);
			break;
		}
		if (got == 0)
			break;
		if (uw)
			rc = ufs_writer_write(uw, chunk, (size_t)got, err, errlen);
		if (rc)
			break;
		total += (uint64_t)got;
		for (size_t done = 0; block && done < (size_t)got && !rc;) {
			size_t n = (size_t)bs - filled < (size_t)got - done ? (size_t)bs - filled
									   : (size_t)got - done;
			memcpy(block + filled, chunk + done, n);
			filled += n;
			done += n;
			if (filled == (size_t)bs) {
				uint64_t id = placement_block_id(data_id, index++);
				if (cache_only)
					rc = cache_block_sync(w, id, block, filled, copies, err,
							      errlen);
				else
					worker_cache_block(w, id, block, filled);
				filled = 0;
			}
		}
		if (rc)
			break;
	}
	if (rc) {
		if (uw)
			ufs_writer_abort(uw);
		goto out_bufs;
	}
	memset(out, 0, sizeof(*out));
	if (cache_only) {
		if (filled)
			rc = cache_block_sync(w, placement_block_id(data_id, index), block, filled,
					      copies, err, errlen);
		if (rc)
			goto out_bufs;
		out->mtime_ms = clock_wall_ms(); /* no store stamped it */
	} else {
		rc = ufs_writer_commit(uw, err, errlen);
		struct ufs_stat st;
		if (!rc)
			rc = ufs_stat(ufs, rel, &st, err, errlen);
		if (!rc && st.length != total) {
			snprintf(err, errlen, "'%s' has %llu bytes in its store after writing %llu",
				 path, (unsigned long long)st.length, (unsigned long long)total);
			rc = -EIO;
		}
		if (rc)
			goto out_bufs;
		if (block && filled)
			worker_cache_block(w, placement_block_id(data_id, index), block, filled);
		out->mtime_ms = st.mtime_ms;
		snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", st.fingerprint);
	}
	out->length = total;
	out->data_id = data_id;
	out->type = type;
	rc = commit(w, path, out, etag, type, err, errlen);
	fcache_invalidate(w->fcache, path);
out_bufs:
	free(block);
	free(chunk);
out_rel:
	free(rel);
	return rc;
}

struct persist_sink {
	struct ufs_writer *uw;
	uint64_t written;
	char *err;
	size_t errlen;
};

static int persist_sink_fn(void *arg, const void *data, size_t len)
{
	struct persist_sink *p = arg;
	int rc = ufs_writer_write(p->uw, data, len, p->err, p->errlen);
	if (!rc)
		p->written += len;
	return rc;
}

int worker_persist_file(struct worker_node *w, const char *path, uint64_t data_id,
			uint64_t length, struct write_result *out, char *err, size_t errlen)
{
	struct file_info *fi = malloc(sizeof(*fi));
	if (!fi)
		return -ENOMEM;
	fcache_invalidate(w->fcache, path); /* the master's word as of now */
	int rc = fcache_get(w->fcache, path, fi, err, errlen);
	if (!rc && (fi->data_id != data_id || fi->length != length)) {
		snprintf(err, errlen, "'%s' changed since the persist was asked (content %llu, "
			 "now %llu)", path, (unsigned long long)data_id,
			 (unsigned long long)fi->data_id);
		rc = ST_ESTALE;
	}
	struct ufs_writer *uw = NULL;
	if (!rc)
		rc = ufs_writer_open(fi->ufs, fi->ufs_path, &uw, err, errlen);
	if (rc)
		goto out;
	struct persist_sink ps = { .uw = uw, .err = err, .errlen = errlen };
	rc = bsvc_read(w->bsvc, fi, 0, length, persist_sink_fn, &ps, err, errlen);
	if (!rc && ps.written != length) {
		snprintf(err, errlen, "'%s': read %llu of %llu bytes from the caches", path,
			 (unsigned long long)ps.written, (unsigned long long)length);
		rc = -EIO;
	}
	if (!rc) {
		/* A write of new content since would be overwritten by this
		 * older one: ask once more right before the store sees it. */
		struct file_info *now = malloc(sizeof(*now));
		fcache_invalidate(w->fcache, path);
		rc = now ? fcache_get(w->fcache, path, now, err, errlen) : -ENOMEM;
		if (!rc && now->data_id != data_id) {
			snprintf(err, errlen, "'%s' was rewritten while it was being persisted", path);
			rc = ST_ESTALE;
		}
		free(now);
	}
	if (rc) {
		ufs_writer_abort(uw);
		goto out;
	}
	rc = ufs_writer_commit(uw, err, errlen);
	struct ufs_stat st;
	if (!rc)
		rc = ufs_stat(fi->ufs, fi->ufs_path, &st, err, errlen);
	if (!rc && st.length != length) {
		snprintf(err, errlen, "'%s' has %llu bytes in its store after persisting %llu", path,
			 (unsigned long long)st.length, (unsigned long long)length);
		rc = -EIO;
	}
	if (!rc) {
		memset(out, 0, sizeof(*out));
		out->length = st.length;
		out->data_id = data_id;
		out->mtime_ms = st.mtime_ms;
		snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", st.fingerprint);
	}
out:
	free(fi);
	return rc;
}

int worker_accept_block(struct worker_node *w, uint64_t block_id, uint64_t len,
			write_reader_fn read, void *arg, bool pin, char *err, size_t errlen)
{
	struct tier_writer *tw;
	int rc = pin ? tier_writer_begin_durable(w->tiers, block_id, len, &tw, err, errlen)
		     : tier_writer_begin(w->tiers, block_id, len, &tw, err, errlen);
	if (rc == -EEXIST && pin)
		tier_block_pin(w->tiers, block_id, true);
	if (rc)
		return rc;
	char *buf = malloc(256 << 10);
	uint64_t got = 0;
	while (!rc && buf && got < len) {
		long n = read(arg, buf, 256 << 10);
		if (n <= 0) {
			snprintf(err, errlen, "block %llu: body ended after %llu of %llu bytes",
				 (unsigned long long)block_id, (unsigned long long)got,
				 (unsigned long long)len);
			rc = -EIO;
			break;
		}
		rc = tier_writer_write(tw, buf, (size_t)n, err, errlen);
		got += (uint64_t)n;
	}
	if (!buf)
		rc = -ENOMEM;
	free(buf);
	if (rc) {
		tier_writer_abort(tw);
		return rc;
	}
	rc = tier_writer_commit(tw, err, errlen);
	if (!rc && pin)
		rc = tier_block_pin(w->tiers, block_id, true);
	return rc;
}
