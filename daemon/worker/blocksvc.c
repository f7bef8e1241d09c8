#include "daemon/worker/blocksvc.h"

#include "daemon/worker/bufpool.h"
#include "daemon/worker/coldstream.h"
#include "daemon/worker/pathstats.h"
#include "daemon/worker/worker.h"
#include "lib/clock.h"
#include "lib/crc32c.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/placement.h"
#include "tier/tier.h"
#include "ufs/ufs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (256u << 10)

/* One block being read through; later misses on it wait on `done`. */
struct flight {
	uint64_t id;
	bool finished;
	int waiters;
	struct flight *next;
};

struct bsvc {
	struct worker_node *w;
	struct tier_store *tiers;
	struct fcache *fc;
	pthread_mutex_t lock;
	pthread_cond_t done;
	struct flight *flights;
	_Atomic uint64_t requests, block_hits, block_misses, bytes_from_cache, bytes_from_ufs,
		bytes_from_peers, ufs_block_reads, peer_fallbacks, blocks_pushed, cache_put_errors,
		store_read_errors, latency_sum_us;
	_Atomic uint64_t latency_le_ms[8];
	_Atomic bool warned_put, warned_peer, warned_raise;
	_Atomic int64_t store_error_logged_ms;
	_Atomic bool pinned_any; /* a block was pinned here (follow_pin) */
};

int bsvc_new(struct worker_node *w, struct tier_store *tiers, struct fcache *fc,
	     struct bsvc **out)
{
	struct bsvc *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->w = w;
	b->tiers = tiers;
	b->fc = fc;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->done, NULL);
	*out = b;
	return 0;
}

void bsvc_free(struct bsvc *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->done);
	free(b);
}

/* A whole disk-tier block up to this size is read and checked before any
 * byte goes out, so a corrupt one is read from the store instead. */
#define CHECK_WHOLE_MAX (4u << 20)

/*
 * Serves [off, off+len) of a cached block; -ENOENT on a miss. A read of a
 * whole block on a disk tier checks its CRC32C (tier.h: "every read that
 * covers the whole block"): up to CHECK_WHOLE_MAX before sending anything
 * (-EBADMSG: the caller reads the store), a larger one as it goes with its
 * last chunk held back until the check passed (-EIO: the client's reply is
 * cut short, never complete with wrong bytes). Either way the block is
 * dropped and counted.
 */
static int serve_cached(struct bsvc *b, uint64_t id, uint64_t off, uint64_t len,
			bsvc_sink_fn sink, void *arg)
{
	struct tier_block_fd bf;
	int rc = tier_block_open_fd(b->tiers, id, &bf);
	if (rc)
		return rc;
	if (off + len > bf.len) {
		close(bf.fd);
		return ST_ESTALE; /* cached block shorter than the file says */
	}
	bool check = bf.check && off == 0 && len == bf.len;
	size_t bufsz = check && len <= CHECK_WHOLE_MAX ? (size_t)len : CHUNK;
	if (bufsz > len)
		bufsz = (size_t)len;
	size_t bufcap;
	char *buf = bufpool_get(bufsz, &bufcap);
	if (!buf) {
		close(bf.fd);
		return -ENOMEM;
	}
	uint32_t crc = 0;
	size_t held = 0; /* bytes read into buf, not sent yet */
	uint64_t done = 0, sent = 0;
	while (done < len && !rc) {
		size_t want = len - done < bufsz ? (size_t)(len - done) : bufsz;
		ssize_t n = pread(bf.fd, buf, want, (off_t)(bf.data_offset + off + done));
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		done += (uint64_t)n;
		if (check) {
			crc = crc32c(crc, buf, (size_t)n);
			if (done == len) {
				held = (size_t)n; /* the last piece waits for the check */
				break;
			}
		}
		/* counted before the client can see the bytes (as tee_sink) */
		atomic_fetch_add(&b->bytes_from_cache, (uint64_t)n);
		rc = sink(arg, buf, (size_t)n);
		sent += (uint64_t)n;
	}
	if (!rc && check) {
		if (crc != bf.crc) {
			tier_block_report_corrupt(b->tiers, id, bf.gen);
			rc = sent ? -EIO : -EBADMSG;
		} else if (held) {
			atomic_fetch_add(&b->bytes_from_cache, (uint64_t)held);
			rc = sink(arg, buf, held);
		}
	}
	bufpool_put(buf, bufcap, clock_mono_ms());
	close(bf.fd);
	return rc;
}

static uint64_t block_len(const struct file_info *fi, uint64_t index)
{
	uint64_t start = index * (uint64_t)fi->block_size;
	uint64_t end = start + (uint64_t)fi->block_size;
	return (end > fi->length ? fi->length : end) - start;
}

/* The flight of block id, or NULL. Under b->lock. */
static struct flight *flight_find(struct bsvc *b, uint64_t id)
{
	struct flight *f = b->flights;
	while (f && f->id != id)
		f = f->next;
	return f;
}

/* Registers a flight of id (without memory: none, the read goes on
 * unannounced). Under b->lock. */
static bool flight_add(struct bsvc *b, uint64_t id)
{
	struct flight *f = calloc(1, sizeof(*f));
	if (!f)
		return false;
	f->id = id;
	f->next = b->flights;
	b->flights = f;
	return true;
}

/* Waits for or becomes the one reader of block id. Returns true when the
 * caller must read it (and then call flight_end). */
static bool flight_begin(struct bsvc *b, uint64_t id)
{
	pthread_mutex_lock(&b->lock);
	struct flight *f = flight_find(b, id);
	if (f) {
		f->waiters++;
		while (!f->finished)
			pthread_cond_wait(&b->done, &b->lock);
		if (--f->waiters == 0) {
			struct flight **pp = &b->flights;
			while (*pp != f)
				pp = &(*pp)->next;
			*pp = f->next;
			free(f);
		}
		pthread_mutex_unlock(&b->lock);
		return false;
	}
	flight_add(b, id);
	pthread_mutex_unlock(&b->lock);
	return true;
}

static void flight_end(struct bsvc *b, uint64_t id)
{
	pthread_mutex_lock(&b->lock);
	for (struct flight **pp = &b->flights; *pp; pp = &(*pp)->next) {
		struct flight *f = *pp;
		if (f->id != id || f->finished)
			continue;
		if (f->waiters) {
			f->finished = true;
			pthread_cond_broadcast(&b->done);
		} else {
			*pp = f->next;
			free(f);
		}
		break;
	}
	pthread_mutex_unlock(&b->lock);
}

/* A cold block streams from the store into a buffer (to be cached whole)
 * and, as the requested range goes by, on to the reader: the first byte
 * reaches the client as soon as the store sends it. */
struct tee {
	char *buf;
	uint64_t cap, got;
	uint64_t off, len; /* the reader's range within the block */
	bsvc_sink_fn sink;
	void *arg;
	int sink_rc;
	_Atomic uint64_t *from_store; /* counted as bytes arrive, before the
				       * client can see them: a client that
				       * reads the counters after its read
				       * finds them counted */
};

static int tee_sink(void *arg, const void *data, size_t n)
{
	struct tee *t = arg;
	if (t->got + n > t->cap)
		return ST_ESTALE; /* longer in the store than strata knows */
	atomic_fetch_add(t->from_store, n);
	memcpy(t->buf + t->got, data, n);
	uint64_t from = t->got, to = t->got + n;
	t->got = to;
	uint64_t lo = from > t->off ? from : t->off;
	uint64_t hi = to < t->off + t->len ? to : t->off + t->len;
	if (lo < hi && !t->sink_rc)
		t->sink_rc = t->sink(t->arg, t->buf + lo, (size_t)(hi - lo));
	return 0;
}

/* A read from the store failed (not a client that left: the tee and the
 * direct read only fail on the store's side). Counted for the monitor's
 * "store errors"; logged at most once a minute. */
static void note_store_error(struct bsvc *b, const struct file_info *fi, int rc,
			     const char *err)
{
	atomic_fetch_add(&b->store_read_errors, 1);
	int64_t now = clock_mono_ms(), last = atomic_load(&b->store_error_logged_ms);
	if ((last == 0 || now - last >= 60000) &&
	    atomic_compare_exchange_strong(&b->store_error_logged_ms, &last, now))
		log_warn("reading '%s' from its store failed (%s): %s (further store errors "
			 "within a minute are only counted)",
			 fi->path, st_strerror(rc), err);
}

/* A pinned file's blocks are pinned in the tiers (never evicted or
 * demoted) as they are cached or read, and moved up to its pin medium (or
 * a faster tier) when they sit lower; once a file is unpinned, its blocks
 * are unpinned as they are read again. Unpinning is skipped until this
 * worker pinned something, so reads of unpinned files cost nothing more. */
static void follow_pin(struct bsvc *b, const struct file_info *fi, uint64_t id)
{
	if (fi->pinned) {
		atomic_store(&b->pinned_any, true);
		tier_block_pin(b->tiers, id, true);
		if (fi->pin_medium[0])
			bsvc_raise(b, id, fi->pin_medium);
	} else if (atomic_load(&b->pinned_any)) {
		tier_block_pin(b->tiers, id, false);
	}
}

size_t bsvc_pin_again(struct bsvc *b, const uint64_t *ids, size_t n)
{
	size_t pinned = 0;
	if (n)
		atomic_store(&b->pinned_any, true); /* so a later unpin is followed */
	for (size_t i = 0; i < n; i++)
		pinned += tier_block_pin(b->tiers, ids[i], true) == 0;
	return pinned;
}

int bsvc_raise(struct bsvc *b, uint64_t id, const char *medium)
{
	enum tier_medium m;
	if (tier_medium_parse(medium, &m))
		return -EINVAL;
	int level = tier_level_of_medium(b->tiers, m);
	if (level < 0)
		return 0; /* no tier that fast here: where it is is the best there is */
	int rc = tier_block_raise(b->tiers, id, (unsigned)level);
	if (rc && rc != -ENOENT && !atomic_exchange(&b->warned_raise, true))
		log_warn("cannot move block %016llx up to %s (logged once): %s",
			 (unsigned long long)id, medium, strerror(-rc));
	return rc;
}

/* Owned block: cache hit, or read through from the store once and cache. */
static int read_owned(struct bsvc *b, const struct file_info *fi, uint64_t index, uint64_t off,
		      uint64_t len, bsvc_sink_fn sink, void *arg, char *err, size_t errlen)
{
	uint64_t id = placement_block_id(fi->data_id, index);
	for (int attempt = 0; attempt < 3; attempt++) {
		int rc = serve_cached(b, id, off, len, sink, arg);
		if (rc != -ENOENT && rc != -EBADMSG && rc != ST_ESTALE) {
			if (!rc) {
				atomic_fetch_add(&b->block_hits, 1);
				if (b->w->pstats)
					pathstats_blocks(b->w->pstats, fi->path, true, 1, len);
				follow_pin(b, fi, id);
			}
			return rc;
		}
		if (rc == ST_ESTALE)
			tier_block_remove(b->tiers, id);
		if (flight_begin(b, id))
			break; /* we read it */
		/* Another request just read it: try the cache again. */
	}
	atomic_fetch_add(&b->block_misses, 1);
	uint64_t blen = block_len(fi, index);
	if (fi->unpersisted) {
		/* Its store does not hold this content: the cache is all there is. */
		flight_end(b, id);
		fcache_invalidate(b->fc, fi->path); /* the master may know it lost already */
		snprintf(err, errlen, "'%s' is lost: block %llu is not cached on the worker that "
			 "held it and the file was never persisted to its store", fi->path,
			 (unsigned long long)index);
		return ST_ELOST;
	}
	size_t bufcap;
	struct tee t = { .buf = bufpool_get(blen, &bufcap), .cap = blen, .off = off, .len = len,
			 .sink = sink, .arg = arg, .from_store = &b->bytes_from_ufs };
	/* A file of one block is read whole, without a Range (a store may
	 * start a ranged reply later); a longer object than strata knows still
	 * fails the tee's bound, a shorter one the length check below. */
	bool whole = index == 0 && blen == fi->length;
	int rc = t.buf ? ufs_read(fi->ufs, fi->ufs_path, index * (uint64_t)fi->block_size,
				  whole ? UFS_READ_TO_EOF : blen, tee_sink, &t, err, errlen)
		       : -ENOMEM;
	if ((!rc && t.got != blen) || rc == ST_ESTALE) {
		snprintf(err, errlen, "'%s' is %s in its store than strata knows (changed "
				      "behind strata's back?)", fi->path, rc ? "longer" : "shorter");
		fcache_invalidate(b->fc, fi->path);
		rc = ST_ESTALE;
	} else if (rc && t.buf) {
		note_store_error(b, fi, rc, err);
	}
	if (!rc) {
		atomic_fetch_add(&b->ufs_block_reads, 1);
		if (b->w->pstats)
			pathstats_blocks(b->w->pstats, fi->path, false, 1, blen);
		char perr[256];
		int prc = tier_block_put(b->tiers, id, t.buf, blen, perr, sizeof(perr));
		if (!prc || prc == -EEXIST)
			follow_pin(b, fi, id);
		if (prc && prc != -EEXIST) {
			atomic_fetch_add(&b->cache_put_errors, 1);
			if (!atomic_exchange(&b->warned_put, true))
				log_warn("cannot cache block %llu of %s (served from the store; "
					 "logged once): %s",
					 (unsigned long long)index, fi->path, perr);
		}
	}
	flight_end(b, id);
	bufpool_put(t.buf, bufcap, clock_mono_ms());
	/* A client that left (sink error) does not stop the block from being
	 * cached; its error is returned once the block is in. */
	return rc ? rc : t.sink_rc;
}

/* Reads a range straight from the store, uncached (owner unreachable). */
static int read_direct(struct bsvc *b, const struct file_info *fi, uint64_t index, uint64_t off,
		       uint64_t len, bsvc_sink_fn sink, void *arg, char *err, size_t errlen)
{
	char *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	int rc = ufs_read_buf(fi->ufs, fi->ufs_path, index * (uint64_t)fi->block_size + off, buf,
			      (size_t)len, &got, err, errlen);
	if (rc)
		note_store_error(b, fi, rc, err);
	if (!rc && got != len) {
		fcache_invalidate(b->fc, fi->path);
		snprintf(err, errlen, "'%s' changed in its store", fi->path);
		rc = ST_ESTALE;
	}
	if (!rc) {
		atomic_fetch_add(&b->bytes_from_ufs, len);
		rc = sink(arg, buf, (size_t)len);
	}
	free(buf);
	return rc;
}

/* Pulls a block range from its owner (cached_only: only from its cache,
 * -ENOENT on a miss). ST_EPEER when the owner is gone. */
static int read_peer(struct bsvc *b, const char *owner, const struct file_info *fi,
		     uint64_t index, uint64_t off, uint64_t len, bool cached_only,
		     bsvc_sink_fn sink, void *arg, char *err, size_t errlen)
{
	struct httpc *hc = fcache_thread_http(b->fc);
	char *esc = httpc_escape(fi->path);
	if (!hc || !esc) {
		free(esc);
		return -ENOMEM;
	}
	bool tls = *b->w->conf->http_tls_cert != '\0';
	size_t ulen = strlen(esc) + 512;
	char *url = malloc(ulen);
	if (!url) {
		free(esc);
		return -ENOMEM;
	}
	snprintf(url, ulen,
		 "%s://%s/api/v1/blocks/%llu?path=%s&data_id=%llu&offset=%llu&length=%llu%s",
		 tls ? "https" : "http", owner,
		 (unsigned long long)placement_block_id(fi->data_id, index), esc,
		 (unsigned long long)fi->data_id, (unsigned long long)off, (unsigned long long)len,
		 cached_only ? "&cached=1" : "");
	free(esc);
	struct httpc_resp resp = { 0 };
	int rc = httpc_request(hc, "GET", url, NULL, NULL, 0, &resp, err, errlen);
	free(url);
	if (rc)
		return rc;
	if (resp.status != 200 || resp.len != len) {
		snprintf(err, errlen, "worker %s answered HTTP %ld (%zu bytes) for block %llu of %s",
			 owner, resp.status, resp.len, (unsigned long long)index, fi->path);
		rc = resp.status == 409				  ? ST_ESTALE
		     : cached_only && resp.status == 404 ? -ENOENT
							  : ST_EPEER;
	} else {
		atomic_fetch_add(&b->bytes_from_peers, len);
		rc = sink(arg, resp.body, resp.len);
	}
	httpc_resp_free(&resp);
	return rc;
}

/* The block a lazy load is reading from the store for this thread's
 * request (bsvc_hold_cold): the read that follows in the same request is
 * served from it as it arrives, neither counted again (its completion
 * counts the miss and the store bytes) nor fetched from a peer it goes to. */
static _Thread_local struct {
	uint64_t id;
	struct cstream *s;
} g_cold;

/* Drops a held stream when its thread exits (a HEAD of a cold object, or
 * a pool thread stopping). */
static pthread_key_t g_cold_key;
static pthread_once_t g_cold_once = PTHREAD_ONCE_INIT;

static void cold_thread_exit(void *unused)
{
	(void)unused;
	bsvc_drop_cold();
}

static void cold_key_init(void)
{
	pthread_key_create(&g_cold_key, cold_thread_exit);
}

void bsvc_hold_cold(uint64_t block_id, struct cstream *s)
{
	pthread_once(&g_cold_once, cold_key_init);
	pthread_setspecific(g_cold_key, (void *)1);
	cstream_unref(g_cold.s);
	g_cold.id = block_id;
	g_cold.s = s;
}

void bsvc_drop_cold(void)
{
	cstream_unref(g_cold.s);
	memset(&g_cold, 0, sizeof(g_cold));
}

bool bsvc_flight_try(struct bsvc *b, uint64_t id)
{
	pthread_mutex_lock(&b->lock);
	bool mine = !flight_find(b, id) && flight_add(b, id);
	pthread_mutex_unlock(&b->lock);
	return mine;
}

void bsvc_flight_end(struct bsvc *b, uint64_t id)
{
	flight_end(b, id);
}

/*
 * The owner did not answer (gone, and the master has not said so yet):
 * the next workers of the block's rendezvous order may hold a copy
 * (replication min > 1, docs/replication.md), here or on a peer; only
 * their cached copies are asked for. ST_EPEER when none has one.
 */
static int read_other_holder(struct bsvc *b, const struct file_info *fi, uint64_t index,
			     uint64_t off, uint64_t len, bsvc_sink_fn sink, void *arg)
{
	uint64_t id = placement_block_id(fi->data_id, index);
	char addrs[4][300], err[256];
	bool self[4];
	size_t n = worker_owners_of(b->w, id, 4, addrs, self);
	for (size_t i = 1; i < n; i++) {
		int rc = self[i] ? serve_cached(b, id, off, len, sink, arg)
				 : read_peer(b, addrs[i], fi, index, off, len, true, sink, arg, err,
					     sizeof(err));
		if (rc == 0 && self[i])
			atomic_fetch_add(&b->block_hits, 1);
		if (rc != -ENOENT && rc != ST_EPEER && rc != -EBADMSG && rc != ST_ESTALE)
			return rc; /* served, or failed after bytes went out */
	}
	return ST_EPEER;
}

/* The owner of a block of a file no store holds did not answer: its other
 * copies (a replication min made them on the next owners) stand in. */
static int read_replica(struct bsvc *b, const struct file_info *fi, uint64_t index,
			uint64_t off, uint64_t len, bsvc_sink_fn sink, void *arg, char *err,
			size_t errlen)
{
	uint64_t id = placement_block_id(fi->data_id, index);
	char owners[8][WORKER_ADDR_MAX];
	size_t n = worker_copy_owners(b->w, id, 8, owners);
	for (size_t i = 1; i < n; i++) {
		char why[256] = "";
		int rc = *owners[i] ? read_peer(b, owners[i], fi, index, off, len, true, sink, arg,
						 why, sizeof(why))
				    : serve_cached(b, id, off, len, sink, arg);
		if (!rc || (rc != ST_EPEER && rc != -ENOENT && rc != -EBADMSG && rc != ST_ESTALE))
			return rc;
	}
	snprintf(err + strlen(err), errlen - strlen(err),
		 " (the file is not persisted: its store cannot stand in, and no other copy "
		 "answered)");
	return -EIO;
}

static int read_block(struct bsvc *b, const struct file_info *fi, uint64_t index, uint64_t off,
		      uint64_t len, bsvc_sink_fn sink, void *arg, char *err, size_t errlen)
{
	char owner[300];
	uint64_t id = placement_block_id(fi->data_id, index);
	if (g_cold.s && g_cold.id == id && off + len <= cstream_length(g_cold.s))
		return cstream_read(g_cold.s, off, len, sink, arg, err, errlen);
	if (!worker_owner_of(b->w, id, owner, sizeof(owner))) {
		log_debug("block %llu of %s: owned here", (unsigned long long)id, fi->path);
		int rc = read_owned(b, fi, index, off, len, sink, arg, err, errlen);
		if (rc == ST_ELOST && !fi->lost) /* a copy made before the owners changed */
			rc = read_replica(b, fi, index, off, len, sink, arg, err, errlen) == 0
				     ? 0
				     : ST_ELOST;
		return rc;
	}
	log_debug("block %llu of %s: owned by %s", (unsigned long long)id, fi->path, owner);
	int rc = read_peer(b, owner, fi, index, off, len, false, sink, arg, err, errlen);
	if (rc == ST_EPEER && fi->unpersisted)
		return read_replica(b, fi, index, off, len, sink, arg, err, errlen);
	if (rc == ST_EPEER)
		rc = read_other_holder(b, fi, index, off, len, sink, arg);
	if (rc == ST_EPEER) {
		atomic_fetch_add(&b->peer_fallbacks, 1);
		if (!atomic_exchange(&b->warned_peer, true))
			log_warn("block owner unreachable, reading from the store (logged once): %s",
				 err);
		*err = '\0';
		rc = read_direct(b, fi, index, off, len, sink, arg, err, errlen);
	}
	return rc;
}

static void record_latency(struct bsvc *b, int64_t start_us)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - start_us;
	static const int64_t le_ms[] = { 1, 2, 5, 10, 50, 100, 500 };
	size_t i = 0;
	while (i < 7 && us > le_ms[i] * 1000)
		i++;
	atomic_fetch_add(&b->latency_le_ms[i], 1);
	atomic_fetch_add(&b->latency_sum_us, (uint64_t)us);
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int bsvc_read(struct bsvc *b, const struct file_info *fi, uint64_t off, uint64_t len,
	      bsvc_sink_fn sink, void *arg, char *err, size_t errlen)
{
	int64_t start = now_us();
	atomic_fetch_add(&b->requests, 1);
	if (fi->lost) {
		snprintf(err, errlen, "'%s' is lost: it was never persisted to its store and every "
			 "cached copy of some block is gone", fi->path);
		return ST_ELOST;
	}
	if (off >= fi->length)
		return 0;
	if (len > fi->length - off)
		len = fi->length - off;
	if (b->w->pstats)
		pathstats_request(b->w->pstats, fi->path, len, clock_mono_ms());
	uint64_t bs = (uint64_t)fi->block_size;
	int rc = 0;
	while (len && !rc) {
		uint64_t index = off / bs, boff = off % bs;
		uint64_t n = bs - boff < len ? bs - boff : len;
		rc = read_block(b, fi, index, boff, n, sink, arg, err, errlen);
		off += n;
		len -= n;
	}
	bsvc_drop_cold(); /* served (or not needed): the cache has it now */
	record_latency(b, start);
	return rc;
}

int bsvc_read_block(struct bsvc *b, const struct file_info *fi, uint64_t index, uint64_t off,
		    uint64_t len, bsvc_sink_fn sink, void *arg, char *err, size_t errlen)
{
	uint64_t blen = block_len(fi, index);
	if (index * (uint64_t)fi->block_size >= fi->length || off + len > blen) {
		snprintf(err, errlen, "block %llu range %llu+%llu is outside '%s'",
			 (unsigned long long)index, (unsigned long long)off,
			 (unsigned long long)len, fi->path);
		return -EINVAL;
	}
	return read_owned(b, fi, index, off, len, sink, arg, err, errlen);
}

int bsvc_read_cached(struct bsvc *b, uint64_t id, const char *path, uint64_t off, uint64_t len,
		     bsvc_sink_fn sink, void *arg)
{
	int rc = serve_cached(b, id, off, len, sink, arg);
	if (!rc) {
		atomic_fetch_add(&b->block_hits, 1);
		if (b->w->pstats)
			pathstats_blocks(b->w->pstats, path, true, 1, len);
	}
	return rc == ST_ESTALE ? -ENOENT : rc;
}

int bsvc_put_block(struct bsvc *b, const struct file_info *fi, uint64_t index, const void *data,
		   uint64_t len)
{
	uint64_t id = placement_block_id(fi->data_id, index);
	char owner[300], perr[256];
	atomic_fetch_add(&b->block_misses, 1);
	atomic_fetch_add(&b->ufs_block_reads, 1);
	atomic_fetch_add(&b->bytes_from_ufs, len);
	if (b->w->pstats)
		pathstats_blocks(b->w->pstats, fi->path, false, 1, len);
	if (index * (uint64_t)fi->block_size >= fi->length || len != block_len(fi, index))
		return -EINVAL;
	if (worker_owner_of(b->w, id, owner, sizeof(owner))) {
		atomic_fetch_add(&b->blocks_pushed, 1);
		return -EREMOTE;
	}
	int rc = tier_block_put(b->tiers, id, data, len, perr, sizeof(perr));
	if (rc && rc != -EEXIST) {
		atomic_fetch_add(&b->cache_put_errors, 1);
		if (!atomic_exchange(&b->warned_put, true))
			log_warn("cannot cache block %llu of %s (logged once): %s",
				 (unsigned long long)index, fi->path, perr);
		return rc;
	}
	return 0;
}

void bsvc_stats_get(struct bsvc *b, struct bsvc_stats *o)
{
	o->requests = atomic_load(&b->requests);
	o->block_hits = atomic_load(&b->block_hits);
	o->block_misses = atomic_load(&b->block_misses);
	o->bytes_from_cache = atomic_load(&b->bytes_from_cache);
	o->bytes_from_ufs = atomic_load(&b->bytes_from_ufs);
	o->bytes_from_peers = atomic_load(&b->bytes_from_peers);
	o->ufs_block_reads = atomic_load(&b->ufs_block_reads);
	o->peer_fallbacks = atomic_load(&b->peer_fallbacks);
	o->blocks_pushed = atomic_load(&b->blocks_pushed);
	o->cache_put_errors = atomic_load(&b->cache_put_errors);
	o->store_read_errors = atomic_load(&b->store_read_errors);
	o->latency_sum_us = atomic_load(&b->latency_sum_us);
	for (int i = 0; i < 8; i++)
		o->latency_le_ms[i] = atomic_load(&b->latency_le_ms[i]);
}

void bsvc_count_cached_read(struct bsvc *b, uint64_t nblocks, uint64_t bytes, int64_t start_us)
{
	atomic_fetch_add(&b->requests, 1);
	atomic_fetch_add(&b->block_hits, nblocks);
	atomic_fetch_add(&b->bytes_from_cache, bytes);
	record_latency(b, start_us);
}

int64_t bsvc_now_us(void)
{
	return now_us();
}
