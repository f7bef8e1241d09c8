#include "daemon/worker/filecache.h"

#include "daemon/worker/worker.h"

#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mutex.h"
#include "lib/path.h"
#include "client/client.h"
#include "ufs/ufs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set-associative: a path hashes to a set of FCACHE_WAYS entries, so hot
 * files do not evict each other by collision (the fast path serves only
 * fresh entries; a set with more hot files than ways sends every read of
 * them to the slow path when they are read in a cycle). With 4 ways, 20,000
 * files in the default 131,072 slots left 10 sets with 5 of them (50 files
 * on the slow path at every pass); with 8, a set overflows only past 8,
 * which takes far fuller caches. The ways' hashes sit together (one cache
 * line per set) so a lookup reads one line, not 8 entries. */
#define FCACHE_WAYS 8
/* How long after its last read a file whose answer the master did not
 * vouch for past the TTL stays warm, in TTLs. */
#define FCACHE_UNTRUSTED_WARM_TTLS 30
/* Entries the keep-warm sweep walks between releases of the lock. */
#define FCACHE_SWEEP_SLICE 4096
/* Background refreshes queued at most (more: entries simply expire). */
#define FCACHE_REFRESH_QUEUE 4096
#define FCACHE_REFRESHERS 2
/* Paths per batched lookup (POST /api/v1/internal/files; the master takes
 * up to 256). */
#define FCACHE_BATCH 128
/* Directories read again after their files went cold (fcache_peek): how
 * many at once, and for how long the sweep refreshes their other cold
 * files after the last such read (a few sweeps: one that finds the queue
 * full stops, and the next goes on). */
#define FCACHE_REVIVED 8
#define FCACHE_REVIVE_MS 5000

/* A cached file_info with its strings on the heap (slots stay small). */
struct entry {
	char *path, *ufs_path;
	uint64_t length, data_id;
	int64_t block_size, mtime_ms;
	char etag[48];
	bool pinned, unpersisted, lost;
	char pin_medium[8];
	struct ufs *ufs;
	int64_t fetched_ms;
	uint64_t epoch;      /* the master's namespace epoch for it; 0 unknown */
	uint64_t mepoch;     /* its mount's epoch; 0 unknown (then epoch counts) */
	char *mount;         /* that mount's path; NULL unknown */
	uint32_t mount_gen;  /* mount_ix is its index in fc->mepochs of that generation */
	uint32_t mount_ix;   /* (UINT32_MAX: not there) */
	int64_t trust_until; /* trusted at that epoch until then (monotonic ms) */
	int64_t trust_given; /* the master's trust_ms */
	int64_t retry_ms;    /* a background refresh failed: not again before */
	bool refreshing; /* queued for a background refresh */
	/* Fast-path reads: the last one, and how many (kept across refreshes). */
	int64_t read_ms;
	uint32_t reads;
};

struct store {
	char *key; /* uri + options JSON */
	struct ufs *ufs;
};

struct fcache {
	const struct strata_conf *conf;
	pthread_mutex_t lock;
	struct entry *slots; /* nsets sets of FCACHE_WAYS, by path hash */
	uint64_t *hashes;    /* path_hash of each slot's path (compared first) */
	size_t nsets, nslots;
	uint64_t *used; /* a bit per slot that holds a path: the sweep visits only those */
	struct store *stores;
	size_t nstores;
	pthread_key_t http_key;
	/* Connections to the masters, shared by all threads. */
	struct httpc *master_http[FCACHE_MASTER_CONNS];
	bool master_busy[FCACHE_MASTER_CONNS];
	pthread_cond_t master_freed;
	struct client *masters; /* follows the leader (client/client.h) */
	/* Refresh-ahead (fcache_peek): a ring of paths and its threads. */
	char *queue[FCACHE_REFRESH_QUEUE];
	size_t qhead, qlen;
	pthread_cond_t queued;
	pthread_t refreshers[FCACHE_REFRESHERS];
	unsigned nrefreshers;
	bool stopping;
	_Atomic bool warned_batch;
	int64_t next_sweep_ms;
	_Atomic uint64_t refreshes, refresh_drops;
	_Atomic uint64_t miss_absent, miss_unchecked, miss_moved, miss_expired, miss_queued;
	/* Directories read again after their files went cold (FCACHE_REVIVED;
	 * until 0: a free slot). */
	struct revived {
		char dir[PATH_MAX_LEN + 1];
		size_t len;
		int64_t until;
	} revived[FCACHE_REVIVED];
	_Atomic uint64_t revivals;
	/* The leader's namespace epoch and per-mount epochs (none from an
	 * older master), as last checked (fcache.h). */
	uint64_t epoch;
	struct client_mount_epochs mepochs;
	uint32_t mepochs_gen;   /* moves when mepochs is replaced (from 1) */
	int64_t epoch_sent_ms;  /* when that check was sent; 0 never */
	int64_t next_epoch_ms;  /* next check due */
	bool epoch_checking;    /* a refresher is checking */
	bool epoch_unsupported; /* an older master without the route */
	_Atomic uint64_t epoch_checks, epoch_changes;
	/* Lazy loads under way (fcache_load_begin), and their end. */
	struct loading *loads;
	pthread_cond_t loaded;
};

struct loading {
	char *path;
	struct loading *next;
};

static struct httpc *new_http(const struct strata_conf *c);

static void free_http(void *p)
{
	httpc_free(p);
}

int fcache_new(const struct strata_conf *conf, struct fcache **out)
{
	struct fcache *fc = calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->mepochs_gen = 1; /* a new entry's 0 never matches */
	fc->nsets = (size_t)conf->worker_metadata_cache_files / FCACHE_WAYS;
	if (!fc->nsets)
		fc->nsets = 1;
	fc->nslots = fc->nsets * FCACHE_WAYS;
	fc->slots = calloc(fc->nslots, sizeof(*fc->slots));
	fc->hashes = calloc(fc->nslots, sizeof(*fc->hashes));
	fc->used = calloc(fc->nslots / 64 + 1, sizeof(*fc->used));
	if (!fc->slots || !fc->hashes || !fc->used) {
		free(fc->slots);
		free(fc->hashes);
		free(fc->used);
		free(fc);
		return -ENOMEM;
	}
	fc->conf = conf;
	mutex_init_adaptive(&fc->lock);
	pthread_cond_init(&fc->master_freed, NULL);
	pthread_cond_init(&fc->loaded, NULL);
	clock_mono_cond_init(&fc->queued);
	pthread_key_create(&fc->http_key, free_http);
	for (int i = 0; i < FCACHE_MASTER_CONNS; i++) {
		if (!(fc->master_http[i] = new_http(conf))) {
			fcache_free(fc);
			return -ENOMEM;
		}
	}
	char err[256];
	struct client_opts mo = { .tls = *conf->http_tls_cert != '\0' };
	int rc = client_new((const char *const *)conf->master_addresses.items,
			     conf->master_addresses.n, &mo, &fc->masters, err, sizeof(err));
	if (rc) {
		log_error("%s", err);
		fcache_free(fc);
		return rc;
	}
	*out = fc;
	return 0;
}

void fcache_free(struct fcache *fc)
{
	if (!fc)
		return;
	pthread_mutex_lock(&fc->lock);
	fc->stopping = true;
	pthread_cond_broadcast(&fc->queued);
	pthread_mutex_unlock(&fc->lock);
	for (unsigned i = 0; i < fc->nrefreshers; i++)
		pthread_join(fc->refreshers[i], NULL);
	for (size_t i = 0; i < fc->qlen; i++)
		free(fc->queue[(fc->qhead + i) % FCACHE_REFRESH_QUEUE]);
	for (size_t i = 0; i < fc->nstores; i++) {
		ufs_close(fc->stores[i].ufs);
		free(fc->stores[i].key);
	}
	free(fc->stores);
	for (size_t i = 0; i < fc->nslots; i++) {
		free(fc->slots[i].path);
		free(fc->slots[i].ufs_path);
		free(fc->slots[i].mount);
	}
	client_mount_epochs_clear(&fc->mepochs);
	struct httpc *mine = pthread_getspecific(fc->http_key);
	httpc_free(mine);
	for (int i = 0; i < FCACHE_MASTER_CONNS; i++)
		httpc_free(fc->master_http[i]);
	client_free(fc->masters);
	pthread_key_delete(fc->http_key);
	pthread_cond_destroy(&fc->master_freed);
	pthread_cond_destroy(&fc->loaded);
	pthread_cond_destroy(&fc->queued);
	pthread_mutex_destroy(&fc->lock);
	free(fc->slots);
	free(fc->hashes);
	free(fc->used);
	free(fc);
}

static struct httpc *new_http(const struct strata_conf *c)
{
	char token[512];
	worker_token_header(c, token, sizeof(token));
	struct httpc_opts o = {
		.extra_header = token,
		.timeout_ms = c->http_request_timeout,
		.connect_timeout_ms = 2000,
		.ca_file = conf_tls_ca(c),
		.client_cert = conf_tls_client_cert(c),
		.client_key = conf_tls_client_key(c),
	};
	return httpc_new(&o);
}

struct httpc *fcache_thread_http(struct fcache *fc)
{
	struct httpc *hc = pthread_getspecific(fc->http_key);
	if (!hc && (hc = new_http(fc->conf)))
		pthread_setspecific(fc->http_key, hc);
	return hc;
}

static uint64_t path_hash(const char *path)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const char *p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

/* The first slot of hash's set. */
static size_t set_of(const struct fcache *fc, uint64_t hash)
{
	return (size_t)(hash % fc->nsets) * FCACHE_WAYS;
}

/* The entry of path, or NULL. Call with fc->lock held. */
static struct entry *find(struct fcache *fc, const char *path)
{
	uint64_t h = path_hash(path);
	size_t first = set_of(fc, h);
	for (size_t i = first; i < first + FCACHE_WAYS; i++)
		if (fc->hashes[i] == h && fc->slots[i].path && strcmp(fc->slots[i].path, path) == 0)
			return &fc->slots[i];
	return NULL;
}

/* When e was last of use: fetched, or read on the fast path. */
static int64_t last_use(const struct entry *e)
{
	return e->read_ms > e->fetched_ms ? e->read_ms : e->fetched_ms;
}

/* Where to keep path: its entry, a free way, or the least recently used. */
static struct entry *victim(struct fcache *fc, const char *path)
{
	struct entry *e = find(fc, path);
	if (e)
		return e;
	struct entry *set = &fc->slots[set_of(fc, path_hash(path))], *old = &set[0];
	for (int i = 0; i < FCACHE_WAYS; i++) {
		if (!set[i].path)
			return &set[i];
		if (last_use(&set[i]) < last_use(old))
			old = &set[i];
	}
	return old;
}

/* Opens (once) the store a file lives on. Call with fc->lock held. */
static int store_for(struct fcache *fc, const struct client_store *st, struct ufs **out,
		     char *err, size_t errlen)
{
	size_t klen = strlen(st->uri) + 2;
	for (size_t i = 0; i < st->nopts; i++)
		klen += strlen(st->opts[i].key) + strlen(st->opts[i].value) + 2;
	char *key = malloc(klen);
	if (!key)
		return -ENOMEM;
	/* uri, then key=value lines: two mounts of one store with the same
	 * options share it. */
	size_t off = (size_t)snprintf(key, klen, "%s\n", st->uri);
	for (size_t i = 0; i < st->nopts; i++)
		off += (size_t)snprintf(key + off, klen - off, "%s=%s\n", st->opts[i].key,
					st->opts[i].value);
	for (size_t i = 0; i < fc->nstores; i++) {
		if (strcmp(fc->stores[i].key, key) == 0) {
			*out = fc->stores[i].ufs;
			free(key);
			return 0;
		}
	}
	struct ufs_opt *list = calloc(st->nopts ? st->nopts : 1, sizeof(*list));
	size_t k = 0;
	for (size_t i = 0; list && i < st->nopts; i++) {
		/* Mount settings, not store options. */
		if (strcmp(st->opts[i].key, "block_size") &&
		    strcmp(st->opts[i].key, "sync_interval"))
			list[k++] = (struct ufs_opt){ st->opts[i].key, st->opts[i].value };
	}
	struct ufs *ufs = NULL;
	int rc = list ? ufs_open(st->uri, list, k, &ufs, err, errlen) : -ENOMEM;
	free(list);
	struct store *grown = rc ? NULL : realloc(fc->stores, (fc->nstores + 1) * sizeof(*grown));
	if (!rc && !grown) {
		ufs_close(ufs);
		rc = -ENOMEM;
	}
	if (rc) {
		free(key);
		return rc;
	}
	fc->stores = grown;
	grown[fc->nstores++] = (struct store){ key, ufs };
	*out = ufs;
	return 0;
}

int fcache_store(struct fcache *fc, const struct client_store *store, struct ufs **out,
		 char *err, size_t errlen)
{
	pthread_mutex_lock(&fc->lock);
	int rc = store_for(fc, store, out, err, errlen);
	pthread_mutex_unlock(&fc->lock);
	return rc;
}

struct client *fcache_masters(struct fcache *fc)
{
	return fc->masters;
}

struct httpc *fcache_master_conn(struct fcache *fc)
{
	int slot = -1;
	pthread_mutex_lock(&fc->lock);
	while (slot < 0) {
		for (int i = 0; i < FCACHE_MASTER_CONNS && slot < 0; i++)
			if (!fc->master_busy[i])
				slot = i;
		if (slot < 0)
			pthread_cond_wait(&fc->master_freed, &fc->lock);
	}
	fc->master_busy[slot] = true;
	pthread_mutex_unlock(&fc->lock);
	return fc->master_http[slot];
}

void fcache_master_conn_put(struct fcache *fc, struct httpc *hc)
{
	pthread_mutex_lock(&fc->lock);
	for (int i = 0; i < FCACHE_MASTER_CONNS; i++) {
		if (fc->master_http[i] == hc) {
			fc->master_busy[i] = false;
			pthread_cond_signal(&fc->master_freed);
		}
	}
	pthread_mutex_unlock(&fc->lock);
}

int fcache_master_reply(struct fcache *fc, const char *method, const char *path_query,
			const cJSON *req, struct httpc_json_reply *r, char *err, size_t errlen)
{
	struct httpc *hc = fcache_master_conn(fc);
	int rc = client_json_reply(fc->masters, hc, method, path_query, req, r, err, errlen);
	fcache_master_conn_put(fc, hc);
	return rc;
}

/* A lookup's answer into out, with its store opened. */
static int take_info(struct fcache *fc, const struct client_file_info *fi, const char *path,
		     struct file_info *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", path);
	snprintf(out->ufs_path, sizeof(out->ufs_path), "%s", fi->ufs_path);
	snprintf(out->etag, sizeof(out->etag), "%s", fi->etag);
	out->length = fi->length;
	out->data_id = fi->data_id;
	out->block_size = fi->block_size;
	out->mtime_ms = fi->mtime_ms;
	out->epoch = fi->epoch;
	out->mount_epoch = fi->mount_epoch;
	snprintf(out->mount_path, sizeof(out->mount_path), "%s",
		 fi->mount_path ? fi->mount_path : "");
	out->trust_ms = fi->trust_ms;
	out->pinned = fi->pinned;
	snprintf(out->pin_medium, sizeof(out->pin_medium), "%s", fi->pin_medium);
	out->unpersisted = fi->unpersisted;
	out->lost = fi->lost;
	return fcache_store(fc, &fi->store, &out->ufs, err, errlen);
}

/* No master answered, or none leads: the caller may retry. */
static int unavailable(int rc)
{
	return rc == ST_EPEER || rc == ST_ENOLEADER ? -EAGAIN : rc;
}

static int fetch(struct fcache *fc, const char *path, struct file_info *out, char *err,
		 size_t errlen)
{
	struct client_file_info fi;
	struct httpc *hc = fcache_master_conn(fc);
	int rc = client_file_lookup(fc->masters, hc, path, &fi, err, errlen);
	fcache_master_conn_put(fc, hc);
	if (rc)
		return unavailable(rc); /* the master's verdict: not found, a directory... */
	rc = take_info(fc, &fi, path, out, err, errlen);
	client_file_info_clear(&fi);
	return rc;
}

static void entry_clear(struct entry *e)
{
	free(e->path);
	free(e->ufs_path);
	free(e->mount);
	memset(e, 0, sizeof(*e));
}

/* entry_clear, and its slot off the sweep's list. */
static void slot_clear(struct fcache *fc, struct entry *e)
{
	size_t i = (size_t)(e - fc->slots);
	fc->used[i / 64] &= ~(UINT64_C(1) << (i % 64));
	fc->hashes[i] = 0;
	entry_clear(e);
}

/* A read of e's file, for the keep-warm sweep: a fast-path peek, or a
 * slow-path lookup that went to the master. */
static void note_read(struct entry *e, int64_t now)
{
	e->read_ms = now;
	if (e->reads < UINT32_MAX)
		e->reads++;
}

/* The leader's epoch for the mount at path as last checked; 0 unknown. */
/* e's mount's epoch in the last check (0: not in it). Its index there is
 * remembered until the next check: every hit asks this (fresh), and the
 * sweep for every entry, so a string compare per mount was a cost. */
static uint64_t mount_epoch(const struct fcache *fc, struct entry *e)
{
	if (e->mount_gen != fc->mepochs_gen) {
		e->mount_gen = fc->mepochs_gen;
		e->mount_ix = UINT32_MAX;
		for (size_t i = 0; i < fc->mepochs.n; i++) {
			if (strcmp(fc->mepochs.paths[i], e->mount) == 0) {
				e->mount_ix = (uint32_t)i;
				break;
			}
		}
	}
	return e->mount_ix < fc->mepochs.n ? fc->mepochs.epochs[e->mount_ix] : 0;
}

/* Whether e is vouched for by the last epoch check (filecache.h): its
 * mount's epoch when both sides know it, else the namespace epoch. */
static bool trusted(const struct fcache *fc, struct entry *e, int64_t now)
{
	if (!fc->epoch_sent_ms || now - fc->epoch_sent_ms >= fc->conf->worker_metadata_ttl ||
	    now >= e->trust_until)
		return false;
	if (e->mepoch && e->mount && fc->mepochs.n)
		return e->mepoch == mount_epoch(fc, e);
	return e->epoch && e->epoch == fc->epoch;
}

static bool fresh(const struct fcache *fc, struct entry *e, int64_t now)
{
	return now - e->fetched_ms < fc->conf->worker_metadata_ttl || trusted(fc, e, now);
}

/* Keeps what fetch returned for path, fetched at `when`. Call with the lock. */
static void keep(struct fcache *fc, const char *path, const struct file_info *fi, int64_t when)
{
	struct entry *e = victim(fc, path);
	bool same = e->path && strcmp(e->path, path) == 0;
	bool refreshing = same && e->refreshing;
	int64_t read_ms = same ? e->read_ms : 0;
	uint32_t reads = same ? e->reads : 0;
	char *p = strdup(path), *u = strdup(fi->ufs_path);
	char *mnt = fi->mount_path[0] ? strdup(fi->mount_path) : NULL;
	slot_clear(fc, e);
	if (!p || !u || (fi->mount_path[0] && !mnt)) {
		free(p);
		free(u);
		free(mnt);
		return;
	}
	e->path = p;
	size_t i = (size_t)(e - fc->slots);
	fc->used[i / 64] |= UINT64_C(1) << (i % 64);
	fc->hashes[i] = path_hash(p);
	e->ufs_path = u;
	e->length = fi->length;
	e->data_id = fi->data_id;
	e->block_size = fi->block_size;
	e->mtime_ms = fi->mtime_ms;
	snprintf(e->etag, sizeof(e->etag), "%s", fi->etag);
	e->pinned = fi->pinned;
	snprintf(e->pin_medium, sizeof(e->pin_medium), "%s", fi->pin_medium);
	e->unpersisted = fi->unpersisted;
	e->lost = fi->lost;
	e->ufs = fi->ufs;
	e->fetched_ms = when;
	e->epoch = fi->epoch;
	e->mepoch = fi->mount_epoch;
	e->mount = mnt;
	e->trust_given = fi->trust_ms;
	e->trust_until = fi->trust_ms < 0    ? INT64_MAX
			 : fi->trust_ms == 0 ? 0
					     : when + fi->trust_ms;
	e->refreshing = refreshing;
	e->read_ms = read_ms;
	e->reads = reads;
}

int fcache_get(struct fcache *fc, const char *path, struct file_info *out, char *err,
	       size_t errlen)
{
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&fc->lock);
	struct entry *e = find(fc, path);
	if (e && fresh(fc, e, now)) {
		/* Not a read for note_read: the slow path looks a file up twice
		 * per GET (stat, then read). */
		snprintf(out->path, sizeof(out->path), "%s", e->path);
		snprintf(out->ufs_path, sizeof(out->ufs_path), "%s", e->ufs_path);
		out->length = e->length;
		out->data_id = e->data_id;
		out->block_size = e->block_size;
		out->mtime_ms = e->mtime_ms;
		snprintf(out->etag, sizeof(out->etag), "%s", e->etag);
		out->ufs = e->ufs;
		out->pinned = e->pinned;
		snprintf(out->pin_medium, sizeof(out->pin_medium), "%s", e->pin_medium);
		out->unpersisted = e->unpersisted;
		out->lost = e->lost;
		pthread_mutex_unlock(&fc->lock);
		return 0;
	}
	pthread_mutex_unlock(&fc->lock);
	int rc = fetch(fc, path, out, err, errlen);
	if (rc || fc->conf->worker_metadata_ttl == 0)
		return rc;
	pthread_mutex_lock(&fc->lock);
	keep(fc, path, out, now);
	if ((e = find(fc, path)))
		note_read(e, now);
	pthread_mutex_unlock(&fc->lock);
	return 0;
}

/* Applies one refresh result. Call with the lock. */
static void refreshed(struct fcache *fc, const char *path, int rc, const struct file_info *fi,
		      int64_t when)
{
	struct entry *e = find(fc, path);
	if (!e)
		return; /* invalidated meanwhile (a write through this worker) */
	e->refreshing = false;
	if (!rc)
		keep(fc, path, fi, when);
	else if (rc == -ENOENT || rc == -EINVAL || rc == -EISDIR)
		slot_clear(fc, e);
	else /* the master did not answer: the sweep tries again a TTL later */
		e->retry_ms = when + fc->conf->worker_metadata_ttl;
}

/*
 * Looks up n paths in one POST /api/v1/internal/files: rcs[i] and fis[i]
 * for paths[i]. -ENOSYS when the master does not know the route (an older
 * one); another error when the call itself failed.
 */
static int fetch_batch(struct fcache *fc, char **paths, size_t n, int *rcs,
		       struct file_info *fis)
{
	char err[256];
	struct client_file_info *infos = calloc(n, sizeof(*infos));
	if (!infos)
		return -ENOMEM;
	struct httpc *hc = fcache_master_conn(fc);
	int rc = client_files_lookup(fc->masters, hc, (const char *const *)paths, n, rcs, infos,
				     err, sizeof(err));
	fcache_master_conn_put(fc, hc);
	for (size_t i = 0; !rc && i < n; i++) {
		if (!rcs[i])
			rcs[i] = take_info(fc, &infos[i], paths[i], &fis[i], err, sizeof(err));
		client_file_info_clear(&infos[i]);
	}
	free(infos);
	return rc;
}

/* Refreshes n queued paths (frees them) with one batched lookup. When it
 * fails (master unreachable, or an older master without the route) the
 * entries just expire, and the slow path looks them up again. */
static void refresh_some(struct fcache *fc, char **paths, size_t n)
{
	int64_t now = clock_mono_ms();
	int *rcs = calloc(n, sizeof(*rcs));
	struct file_info *fis = malloc(n * sizeof(*fis));
	int brc = rcs && fis ? fetch_batch(fc, paths, n, rcs, fis) : -ENOMEM;
	if (brc == -ENOSYS && !atomic_exchange(&fc->warned_batch, true))
		log_warn("the master has no batched file lookup (an older version?): metadata "
			 "is looked up again only when it expires (logged once)");
	pthread_mutex_lock(&fc->lock);
	for (size_t i = 0; i < n; i++) {
		refreshed(fc, paths[i], brc ? -EIO : rcs[i], brc ? NULL : &fis[i], now);
		free(paths[i]);
	}
	pthread_mutex_unlock(&fc->lock);
	atomic_fetch_add(&fc->refreshes, n);
	free(rcs);
	free(fis);
}

static void queue_refresh(struct fcache *fc, struct entry *e);

/* How long after its last read a file is kept fresh (never under the TTL). */
static int64_t keep_warm_ms(const struct fcache *fc)
{
	int64_t ttl = fc->conf->worker_metadata_ttl, warm = fc->conf->worker_metadata_keep_warm;
	return warm < ttl ? ttl : warm;
}

/* The revived directory (fcache_peek) path is directly in, if any. */
static bool in_revived_dir(const struct fcache *fc, const char *path, int64_t now)
{
	for (int i = 0; i < FCACHE_REVIVED; i++) {
		const struct revived *r = &fc->revived[i];
		if (r->until > now && strncmp(path, r->dir, r->len) == 0 && path[r->len] == '/' &&
		    !strchr(path + r->len + 1, '/'))
			return true;
	}
	return false;
}

/* Whether any directory is revived now. */
static bool any_revived(const struct fcache *fc, int64_t now)
{
	for (int i = 0; i < FCACHE_REVIVED; i++)
		if (fc->revived[i].until > now)
			return true;
	return false;
}

/*
 * A file that went cold (not read for worker.metadata_keep_warm, so its
 * trust ran out) is read again: its directory is likely being read again
 * as a whole (a dataset's next epoch, a job rerun). For FCACHE_REVIVE_MS
 * the sweep treats the directory's other cold files as read now, so their
 * metadata is refreshed in batches ahead of their reads instead of one
 * slow-path lookup per read. Call with the lock.
 */
static void revive(struct fcache *fc, const char *path, int64_t now)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;
	if (!slash || len > PATH_MAX_LEN)
		return;
	struct revived *slot = NULL;
	for (int i = 0; i < FCACHE_REVIVED; i++) {
		struct revived *r = &fc->revived[i];
		if (r->until && r->len == len && strncmp(r->dir, path, len) == 0) {
			r->until = now + FCACHE_REVIVE_MS;
			return;
		}
		if (!slot || r->until < slot->until)
			slot = r; /* a free slot, else the one ending first */
	}
	memcpy(slot->dir, path, len);
	slot->dir[len] = '\0';
	slot->len = len;
	slot->until = now + FCACHE_REVIVE_MS;
	atomic_fetch_add(&fc->revivals, 1);
}

/* The sweep's look at one entry: queued for a refresh when due (a cold
 * file too while its directory is revived). False when it is due but the
 * queue is full. */
static bool sweep_one(struct fcache *fc, struct entry *e, int64_t now, int64_t ttl, int64_t warm,
		      bool revived)
{
	if (!e->path || e->refreshing || !e->reads)
		return true;
	if (now - e->read_ms > warm) {
		if (!revived || e->trust_given == 0 || !in_revived_dir(fc, e->path, now))
			return true;
		e->read_ms = now; /* kept warm from now on, as if read */
	}
	/* An answer the master did not vouch for past the TTL (a mount
	 * synced always, or its check fell behind) costs a lookup, maybe
	 * a store request, per TTL: kept warm only for files read twice,
	 * for FCACHE_UNTRUSTED_WARM_TTLS. */
	if (e->trust_given == 0 &&
	    (e->reads < 2 || now - e->read_ms > ttl * FCACHE_UNTRUSTED_WARM_TTLS))
		return true;
	int64_t expiry = e->fetched_ms + ttl, margin = ttl / 4;
	if (trusted(fc, e, now) && e->trust_until > expiry) {
		expiry = e->trust_until;
		if (e->trust_given / 4 > margin)
			margin = e->trust_given / 4;
	}
	if (now < expiry - margin || now < e->retry_ms)
		return true;
	if (fc->qlen >= FCACHE_REFRESH_QUEUE)
		return false;
	queue_refresh(fc, e);
	return true;
}

/* Queues refreshes of the files read in the last worker.metadata_keep_warm
 * that are about to expire (their TTL, or the end of the trust the master
 * gave: a margin of a quarter of either before) or have expired (their
 * mount's epoch moved, or a refresh failed: then a TTL later), so a file
 * read again after a pause longer than the sync interval is still on the
 * fast path. A full queue ends the walk: what is due is queued by a later
 * sweep (one listing verifies a whole directory, so thousands of files
 * fall due together), not dropped. Call with the lock (released and taken
 * again every FCACHE_SWEEP_SLICE entries). */
static void sweep(struct fcache *fc, int64_t now)
{
	int64_t ttl = fc->conf->worker_metadata_ttl;
	int64_t warm = keep_warm_ms(fc);
	size_t seen = 0;
	bool revived = any_revived(fc, now);
	/* Only the slots that hold a path (fc->used): a cache of 131,072
	 * slots walked whole ten times a second was 3% of a busy worker. */
	for (size_t wi = 0; wi * 64 < fc->nslots; wi++) {
		for (uint64_t bits = fc->used[wi]; bits; bits &= bits - 1) {
			if (++seen % FCACHE_SWEEP_SLICE == 0) {
				/* Let readers in: a big cache takes milliseconds to walk. */
				pthread_mutex_unlock(&fc->lock);
				pthread_mutex_lock(&fc->lock);
			}
			size_t i = wi * 64 + (size_t)__builtin_ctzll(bits);
			if (!sweep_one(fc, &fc->slots[i], now, ttl, warm, revived))
				return;
		}
	}
}

static bool mount_epochs_differ(const struct client_mount_epochs *a,
				const struct client_mount_epochs *b)
{
	if (a->n != b->n)
		return true;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->paths[i], b->paths[i]) != 0 || a->epochs[i] != b->epochs[i])
			return true;
	return false;
}

/* Asks the leader for its namespace epoch (without the lock; takes it to
 * apply the answer). An older master without the route: never again. */
static void check_epoch(struct fcache *fc)
{
	char err[256];
	int64_t sent = clock_mono_ms();
	uint64_t epoch = 0;
	struct client_mount_epochs mepochs;
	struct httpc *hc = fcache_master_conn(fc);
	int rc = client_epoch_get(fc->masters, hc, &epoch, &mepochs, err, sizeof(err));
	fcache_master_conn_put(fc, hc);
	pthread_mutex_lock(&fc->lock);
	fc->epoch_checking = false;
	if (rc == -ENOSYS) {
		fc->epoch_unsupported = true;
		log_warn("the master has no namespace epoch route (an older version?): cached "
			 "metadata is trusted for worker.metadata_ttl only");
	}
	if (rc) {
		pthread_mutex_unlock(&fc->lock);
		return; /* trust runs out a TTL after the last answer */
	}
	atomic_fetch_add(&fc->epoch_checks, 1);
	/* With per-mount epochs only a change under a mount counts (files
	 * created anywhere move the namespace epoch, and nothing cached). */
	bool moved = mepochs.n || fc->mepochs.n ? mount_epochs_differ(&fc->mepochs, &mepochs)
						: epoch != fc->epoch;
	fc->epoch = epoch;
	client_mount_epochs_clear(&fc->mepochs);
	fc->mepochs = mepochs;
	fc->mepochs_gen = fc->mepochs_gen + 1 ? fc->mepochs_gen + 1 : 1;
	fc->epoch_sent_ms = sent;
	if (moved) {
		atomic_fetch_add(&fc->epoch_changes, 1);
		sweep(fc, clock_mono_ms());
	}
	pthread_mutex_unlock(&fc->lock);
}

static void *refresher_main(void *arg)
{
	struct fcache *fc = arg;
	char *batch[FCACHE_BATCH];
	pthread_mutex_lock(&fc->lock);
	for (;;) {
		int64_t ttl = fc->conf->worker_metadata_ttl;
		int64_t every = ttl / 10 > 20 ? ttl / 10 : 20;
		int64_t now = clock_mono_ms();
		if (ttl > 0 && now >= fc->next_sweep_ms) {
			fc->next_sweep_ms = now + every;
			sweep(fc, now);
		}
		if (ttl > 0 && !fc->stopping && !fc->epoch_unsupported && !fc->epoch_checking &&
		    now >= fc->next_epoch_ms) {
			fc->epoch_checking = true;
			fc->next_epoch_ms = now + (ttl / 4 > 10 ? ttl / 4 : 10);
			pthread_mutex_unlock(&fc->lock);
			check_epoch(fc);
			pthread_mutex_lock(&fc->lock);
			continue;
		}
		if (!fc->qlen && !fc->stopping) {
			struct timespec ts;
			clock_mono_deadline(&ts, every);
			pthread_cond_timedwait(&fc->queued, &fc->lock, &ts);
			continue;
		}
		if (fc->stopping)
			break;
		size_t n = 0;
		while (fc->qlen && n < FCACHE_BATCH) {
			batch[n++] = fc->queue[fc->qhead];
			fc->qhead = (fc->qhead + 1) % FCACHE_REFRESH_QUEUE;
			fc->qlen--;
		}
		pthread_mutex_unlock(&fc->lock);
		refresh_some(fc, batch, n);
		pthread_mutex_lock(&fc->lock);
	}
	pthread_mutex_unlock(&fc->lock);
	return NULL;
}

int fcache_start_refresh(struct fcache *fc)
{
	if (fc->nrefreshers)
		return 0;
	for (unsigned i = 0; i < FCACHE_REFRESHERS; i++) {
		int rc = pthread_create(&fc->refreshers[i], NULL, refresher_main, fc);
		if (rc)
			return i ? 0 : -rc;
		fc->nrefreshers++;
	}
	return 0;
}

/* Queues a refresh of e's path. Call with the lock. */
static void queue_refresh(struct fcache *fc, struct entry *e)
{
	if (e->refreshing || !fc->nrefreshers)
		return;
	char *p = fc->qlen < FCACHE_REFRESH_QUEUE ? strdup(e->path) : NULL;
	if (!p) {
		atomic_fetch_add(&fc->refresh_drops, 1);
		return;
	}
	fc->queue[(fc->qhead + fc->qlen) % FCACHE_REFRESH_QUEUE] = p;
	fc->qlen++;
	e->refreshing = true;
	pthread_cond_signal(&fc->queued);
}

/* Why e (NULL: none) is not fresh for a peek, counted (the metrics say
 * why reads left the fast path). Call with the lock. */
static void count_miss(struct fcache *fc, struct entry *e, int64_t now)
{
	_Atomic uint64_t *c;
	if (e && e->lost)
		return; /* not a freshness matter */
	if (!e)
		c = &fc->miss_absent;
	else if (now >= e->trust_until)
		c = e->refreshing ? &fc->miss_queued : &fc->miss_expired;
	else if (!fc->epoch_sent_ms || now - fc->epoch_sent_ms >= fc->conf->worker_metadata_ttl)
		c = &fc->miss_unchecked;
	else
		c = &fc->miss_moved;
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

int fcache_peek(struct fcache *fc, const char *path, struct fcache_meta *out)
{
	int64_t now = clock_mono_ms();
	int64_t ttl = fc->conf->worker_metadata_ttl;
	int rc = -ENOENT;
	pthread_mutex_lock(&fc->lock);
	struct entry *e = find(fc, path);
	if (e && !e->lost && fresh(fc, e, now)) {
		note_read(e, now);
		out->length = e->length;
		out->data_id = e->data_id;
		out->block_size = e->block_size;
		out->mtime_ms = e->mtime_ms;
		memcpy(out->etag, e->etag, sizeof(out->etag));
		/* Refresh ahead, in the last quarter of the TTL, unless the
		 * epoch vouches for it: a file read all the time never expires,
		 * and what the caller gets is never older than the TTL. */
		if (now - e->fetched_ms >= ttl - ttl / 4 && !trusted(fc, e, now))
			queue_refresh(fc, e);
		rc = 0;
	} else {
		count_miss(fc, e, now);
		if (e && !e->lost && e->reads && e->trust_given != 0 && now >= e->trust_until &&
		    now - e->read_ms > keep_warm_ms(fc))
			revive(fc, path, now);
	}
	pthread_mutex_unlock(&fc->lock);
	return rc;
}

void fcache_miss_stats_get(struct fcache *fc, struct fcache_miss_stats *out)
{
	out->absent = atomic_load(&fc->miss_absent);
	out->unchecked = atomic_load(&fc->miss_unchecked);
	out->moved = atomic_load(&fc->miss_moved);
	out->expired = atomic_load(&fc->miss_expired);
	out->queued = atomic_load(&fc->miss_queued);
	out->revived_dirs = atomic_load(&fc->revivals);
}

void fcache_stats_get(struct fcache *fc, uint64_t *refreshes, uint64_t *drops)
{
	*refreshes = atomic_load(&fc->refreshes);
	*drops = atomic_load(&fc->refresh_drops);
}

void fcache_epoch_stats(struct fcache *fc, uint64_t *checks, uint64_t *changes)
{
	*checks = atomic_load(&fc->epoch_checks);
	*changes = atomic_load(&fc->epoch_changes);
}

void fcache_invalidate(struct fcache *fc, const char *path)
{
	pthread_mutex_lock(&fc->lock);
	struct entry *e = find(fc, path);
	if (e)
		slot_clear(fc, e);
	pthread_mutex_unlock(&fc->lock);
}

/* ---- lazy loads (daemon/master/lazyload.h): one store round trip for a
 * cold miss of a file the master does not know yet ---- */

/* A lookup's answer kept as fcache_get keeps it. */
static void keep_fetched(struct fcache *fc, const char *path, const struct file_info *fi,
			 int64_t now)
{
	if (fc->conf->worker_metadata_ttl == 0)
		return;
	pthread_mutex_lock(&fc->lock);
	keep(fc, path, fi, now);
	struct entry *e = find(fc, path);
	if (e)
		note_read(e, now);
	pthread_mutex_unlock(&fc->lock);
}

int fcache_get_cached(struct fcache *fc, const char *path, struct file_info *out)
{
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&fc->lock);
	struct entry *e = find(fc, path);
	bool hit = e && fresh(fc, e, now);
	pthread_mutex_unlock(&fc->lock);
	/* Fresh a moment ago: fcache_get answers from the cache (or, had it
	 * just expired, asks the master as a miss would). */
	char err[256];
	return hit ? fcache_get(fc, path, out, err, sizeof(err)) : -ENOENT;
}

int fcache_get_lazy(struct fcache *fc, const char *path, struct file_info *out, char *err,
		    size_t errlen)
{
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&fc->lock);
	struct entry *e = find(fc, path);
	bool hit = e && fresh(fc, e, now);
	pthread_mutex_unlock(&fc->lock);
	if (hit)
		return fcache_get(fc, path, out, err, errlen);
	struct client_file_info fi;
	struct httpc *hc = fcache_master_conn(fc);
	int rc = client_file_lookup_lazy(fc->masters, hc, path, &fi, err, errlen);
	fcache_master_conn_put(fc, hc);
	if (rc && rc != ST_ENOTLOADED)
		return unavailable(rc);
	char why[256];
	int trc = take_info(fc, &fi, path, out, rc ? why : err, rc ? sizeof(why) : errlen);
	client_file_info_clear(&fi);
	if (trc)
		return trc;
	if (!rc)
		keep_fetched(fc, path, out, now);
	return rc;
}

int fcache_loaded(struct fcache *fc, const char *path, const struct ufs_stat *st,
		  uint64_t worker_id, uint64_t index, struct file_info *out, bool *same,
		  int64_t *asked_ms, char *err, size_t errlen)
{
	int64_t now = clock_mono_ms();
	*asked_ms = now;
	struct client_file_loaded d = { .path = path, .length = st->length,
					.mtime_ms = st->mtime_ms > 0 ? st->mtime_ms : 0,
					.fingerprint = st->fingerprint, .worker_id = worker_id,
					.index = index };
	struct client_file_info fi;
	struct httpc *hc = fcache_master_conn(fc);
	int rc = client_file_loaded(fc->masters, hc, &d, &fi, err, errlen);
	fcache_master_conn_put(fc, hc);
	if (rc)
		return unavailable(rc);
	*same = fi.length == st->length &&
		strcmp(json_str_or(fi.json, "fingerprint", ""), st->fingerprint) == 0;
	rc = take_info(fc, &fi, path, out, err, errlen);
	client_file_info_clear(&fi);
	return rc;
}

void fcache_keep_loaded(struct fcache *fc, const char *path, const struct file_info *fi,
			int64_t asked_ms)
{
	keep_fetched(fc, path, fi, asked_ms);
}

bool fcache_load_begin(struct fcache *fc, const char *path)
{
	pthread_mutex_lock(&fc->lock);
	bool waited = false;
	for (;;) {
		struct loading *l = fc->loads;
		while (l && strcmp(l->path, path) != 0)
			l = l->next;
		if (!l)
			break;
		waited = true;
		pthread_cond_wait(&fc->loaded, &fc->lock);
	}
	if (waited) {
		pthread_mutex_unlock(&fc->lock);
		return false;
	}
	struct loading *l = calloc(1, sizeof(*l));
	if (l && !(l->path = strdup(path))) {
		free(l);
		l = NULL;
	}
	if (l) { /* without memory: load without telling others */
		l->next = fc->loads;
		fc->loads = l;
	}
	pthread_mutex_unlock(&fc->lock);
	return true;
}

void fcache_load_end(struct fcache *fc, const char *path)
{
	pthread_mutex_lock(&fc->lock);
	for (struct loading **pp = &fc->loads; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->path, path) == 0) {
			struct loading *l = *pp;
			*pp = l->next;
			free(l->path);
			free(l);
			break;
		}
	}
	pthread_cond_broadcast(&fc->loaded);
	pthread_mutex_unlock(&fc->lock);
}
