#ifndef STRATA_WORKER_FILECACHE_H
#define STRATA_WORKER_FILECACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct ufs;
struct httpc;
struct strata_conf;

/*
 * What a worker needs to read a file through its cache, fetched from the
 * master (GET /api/v1/internal/file) and reused for worker.metadata_ttl.
 * Opened under-stores are kept per mount for the worker's lifetime.
 * Thread-safe.
 */
struct fcache;
struct client;

struct file_info {
	char path[4096];
	uint64_t length;
	uint64_t data_id;
	int64_t block_size;
	int64_t mtime_ms;
	char etag[48];   /* "" unless written through S3 */
	char ufs_path[4096];
	struct ufs *ufs; /* borrowed from the cache; valid while it lives */
	/* As the master answered (fcache_get leaves them 0): */
	uint64_t epoch;   /* its namespace epoch for it; 0 unknown */
	uint64_t mount_epoch; /* its mount's epoch for it; 0 unknown */
	char mount_path[4096]; /* that mount; "" unknown */
	int64_t trust_ms; /* trusted this long at an unchanged epoch; -1 for ever */
	bool pinned;      /* pinned (policy): its cached blocks are never evicted */
	char pin_medium[8]; /* and kept on this medium or a faster one; "" any */
	bool unpersisted; /* its store does not hold it: never read through */
	bool lost;        /* not persisted and its cached copies are gone */
};

/* masters: the master.addresses list; the cache calls them in turn. */
int fcache_new(const struct strata_conf *conf, struct fcache **out);
void fcache_free(struct fcache *fc);

/* Looks path up (normal path). -ENOENT, -EISDIR, -EAGAIN (no master),
 * or a UFS open error, with the reason in err. */
int fcache_get(struct fcache *fc, const char *path, struct file_info *out, char *err,
	       size_t errlen);
/*
 * Freshness. An entry is fresh while it is younger than
 * worker.metadata_ttl, or while it is trusted: the master tagged it with
 * its mount's epoch (the index of the last command that changed or removed
 * state under that mount; a master without per-mount epochs: the namespace
 * epoch) and a check of the leader's epochs, sent less than a TTL ago,
 * found the same epoch for that mount, and the master's trust_ms for it
 * (until its verification against the store is a sync interval old) has
 * not run out. The refresher checks the epochs every quarter TTL (GET
 * /api/v1/internal/epoch), so an unchanged mount costs the master one tiny
 * call per quarter TTL instead of a lookup per hot file per TTL, and what
 * a reader gets is never staler than the TTL either way. Only answers are
 * cached, never "not found": a new file (which moves no epoch) is seen by
 * the next read.
 *
 * For the S3 front's event loop, which must not wait on the network: what
 * the cache knows of path, if it is fresh;
 * -ENOENT otherwise (absent or expired: the caller takes the slow path,
 * whose fcache_get refreshes it). Never calls the master. An entry in the
 * last quarter of its TTL is queued for a background refresh (once
 * fcache_start_refresh ran), so files read all the time stay fresh while
 * what is returned is never older than the TTL. A file read at least
 * once (a peek, or an fcache_get that asked the master) is also refreshed ahead of its expiry (the
 * TTL, or the end of its trust) for worker.metadata_keep_warm after its last read, so it is still
 * on the fast path when read again minutes later (an answer the master vouched for only for the
 * TTL, as with sync_interval=always, is kept warm only for files read twice, for 30 TTLs, since
 * each refresh may cost a store request). A peek that finds a file gone cold (not read within
 * keep-warm, its trust run out) revives its directory: for a few seconds the directory's other
 * cold files are refreshed as if read. A failed refresh is retried a TTL later. Refreshes are
 * batched, up to 128 paths per
 * POST /api/v1/internal/files. The cache holds worker.metadata_cache_files entries.
 */
struct fcache_meta {
	uint64_t length;
	uint64_t data_id;
	int64_t block_size;
	int64_t mtime_ms;
	char etag[48];
};
int fcache_peek(struct fcache *fc, const char *path, struct fcache_meta *out);
/* Starts the refresh-ahead threads (stopped by fcache_free). 0 or -errno. */
int fcache_start_refresh(struct fcache *fc);
/* Background refreshes done, and refreshes reads asked for that the full
 * queue did not take (the keep-warm sweep waits for room instead). */
void fcache_stats_get(struct fcache *fc, uint64_t *refreshes, uint64_t *drops);
/* Why fcache_peek found no fresh entry (each a count of peeks): */
struct fcache_miss_stats {
	uint64_t absent;    /* no entry for the path */
	uint64_t expired;   /* the trust the master gave it ran out */
	uint64_t queued;    /* ... while its refresh waited in the queue */
	uint64_t unchecked; /* trusted still, but the last epoch check is older
			     * than the TTL */
	uint64_t moved;     /* trusted still, but its mount's (or the
			     * namespace's) epoch moved */
	/* Not a miss kind: how many times an expired read of a file that had
	 * gone cold revived its directory (its other cold files refreshed in
	 * the background for a while, as if read). */
	uint64_t revived_dirs;
};
void fcache_miss_stats_get(struct fcache *fc, struct fcache_miss_stats *out);
/* Epoch checks answered, and how many of them found a new epoch. */
void fcache_epoch_stats(struct fcache *fc, uint64_t *checks, uint64_t *changes);

/*
 * fcache_get for a cold-miss read path (daemon/master/lazyload.h): on a
 * miss, asks the master with lazy=1. ST_ENOTLOADED when the master does
 * not know path yet: out then holds only where to read it (ufs, ufs_path,
 * block_size; data_id 0); the caller reads from the store with
 * ufs_read_stat and reports the metadata with fcache_loaded.
 */
int fcache_get_lazy(struct fcache *fc, const char *path, struct file_info *out, char *err,
		    size_t errlen);
/* Reports what a read of a not_loaded path found in its store (POST
 * /api/v1/internal/file/loaded): out gets the master's answer, not kept
 * yet. *same: the answer is the content st describes (same fingerprint and
 * length), so bytes read with st may be cached under its data_id. The
 * caller caches them first, then keeps the answer (fcache_keep_loaded,
 * with *asked_ms): a reader that finds the file in the cache then finds
 * its block too, and does not read the store a second time. worker_id
 * (0: none) and index: this worker and the block it read, so the master
 * names new content such that this worker owns that block. */
struct ufs_stat;
int fcache_loaded(struct fcache *fc, const char *path, const struct ufs_stat *st,
		  uint64_t worker_id, uint64_t index,
		  struct file_info *out, bool *same, int64_t *asked_ms, char *err,
		  size_t errlen);
void fcache_keep_loaded(struct fcache *fc, const char *path, const struct file_info *fi,
			int64_t asked_ms);

/* fcache_get when path is fresh in the cache; -ENOENT (and no master
 * call) otherwise. */
int fcache_get_cached(struct fcache *fc, const char *path, struct file_info *out);

/* One lazy load per path at a time: true when the caller is to load path
 * (then it calls fcache_load_end), false after waiting for another
 * caller's load of it to end (ask again: it is cached now, or failed). */
bool fcache_load_begin(struct fcache *fc, const char *path);
void fcache_load_end(struct fcache *fc, const char *path);

/* Forgets path (its content changed under us). */
void fcache_invalidate(struct fcache *fc, const char *path);

/* The open store of a mount as the master describes it (client/client.h);
 * opened once and kept. */
struct cJSON;
struct client_store;
int fcache_store(struct fcache *fc, const struct client_store *store, struct ufs **out,
		 char *err, size_t errlen);

/* Calls method on path_query at the leading master, following it
 * (client/client.h), handing back the whole reply (lib/httpc.h
 * httpc_json_reply; the caller frees it) whatever its status. Calls share
 * a small pool of connections (FCACHE_MASTER_CONNS), so a busy worker never
 * holds more than that many of a master's threads. */
#define FCACHE_MASTER_CONNS 4
struct httpc_json_reply;
int fcache_master_reply(struct fcache *fc, const char *method, const char *path_query,
			const struct cJSON *req, struct httpc_json_reply *r, char *err,
			size_t errlen);

/* One connection of that pool for a typed call (client/client.h): waits
 * for a free one; give it back with fcache_master_conn_put. */
struct httpc *fcache_master_conn(struct fcache *fc);
void fcache_master_conn_put(struct fcache *fc, struct httpc *hc);

/* A per-thread HTTP client (created on first use, freed at thread exit). */
struct httpc *fcache_thread_http(struct fcache *fc);

/* The master group client (client/client.h) the cache's calls follow the
 * leader with; shared, thread-safe, owned by fc. */
struct client *fcache_masters(struct fcache *fc);

#endif
