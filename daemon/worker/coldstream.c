#include "daemon/worker/coldstream.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/worker/bufpool.h"
#include "lib/clock.h"
#include "lib/err.h"

/* A reader waiting for bytes is woken once this much more of its range is
 * in (or the range's end, or the read's end), not at every piece the
 * store's reply comes in: each wake-up is a futex wake, a context switch
 * and a send of its own. */
#define READ_BATCH (256u << 10)
/* curl hands a body over in pieces of 16 KiB at most; the readers learn
 * of them (a lock round) once this much more is in, at the first piece
 * and at the end. */
#define PUBLISH_BYTES (64u << 10)

struct cstream {
	pthread_mutex_t lock;
	pthread_cond_t moved; /* headers in, bytes in, done, finished */
	int refs;             /* the transfer thread, the starter, readers' holds */
	struct ufs *ufs;
	char *ufs_path;
	uint64_t off, max;
	/* what the transfer found */
	struct ufs_stat xst; /* the store read's own (its thread only) */
	struct ufs_stat st;  /* published from xst at the first byte */
	bool have_st;
	uint64_t want; /* the block's length, once have_st */
	char *data;    /* want bytes, allocated at the first byte */
	size_t data_cap; /* its size (bufpool) */
	uint64_t got;  /* bytes in that readers may send */
	uint64_t xgot; /* bytes copied in (the transfer's own; got lags behind) */
	uint64_t wake_at; /* got at which to wake the readers (UINT64_MAX: none waits) */
	bool done; /* the store's read ended */
	int rc;
	char err[512];
	/* the completion */
	bool decided, cancel, finishing, finished;
	cstream_done_fn fn, after;
	void *fn_arg;
};

static atomic_int g_running;
static pthread_mutex_t g_drain_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_drained = PTHREAD_COND_INITIALIZER;

static void set_want(struct cstream *s)
{
	uint64_t left = s->st.length > s->off ? s->st.length - s->off : 0;
	s->want = left < s->max ? left : s->max;
}

/* The transfer's sink: st is complete from the first byte on (ufs.h). */
static int xfer_sink(void *arg, const void *data, size_t n)
{
	struct cstream *s = arg;
	int rc = 0;
	if (!s->have_st) { /* only this thread sets it */
		pthread_mutex_lock(&s->lock);
		if (s->cancel) {
			rc = -ECANCELED;
		} else {
			s->st = s->xst;
			s->have_st = true;
			set_want(s);
			if (!(s->data = bufpool_get(s->want, &s->data_cap)))
				rc = -ENOMEM;
			pthread_cond_broadcast(&s->moved);
		}
		pthread_mutex_unlock(&s->lock);
		if (rc)
			return rc;
	}
	if (n > s->want - s->xgot)
		return ST_ESTALE; /* longer in the store than its headers said */
	/* Only this thread writes past got (and got itself); readers copy
	 * below it. */
	memcpy(s->data + s->xgot, data, n);
	s->xgot += n;
	if (s->got && s->xgot - s->got < PUBLISH_BYTES && s->xgot < s->want)
		return 0; /* (the first piece is published at once: the first byte) */
	pthread_mutex_lock(&s->lock);
	rc = s->cancel ? -ECANCELED : 0;
	s->got = s->xgot;
	if (s->got >= s->wake_at) {
		s->wake_at = UINT64_MAX;
		pthread_cond_broadcast(&s->moved);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void destroy(struct cstream *s)
{
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->moved);
	bufpool_put(s->data, s->data_cap, clock_mono_ms());
	free(s->ufs_path);
	free(s);
}

void cstream_unref(struct cstream *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	bool free_it = --s->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (free_it)
		destroy(s);
}

/* Runs the completion when both the transfer and the decision are in;
 * called with the lock held, returns with it held. */
static void maybe_finish(struct cstream *s)
{
	if (!s->done || !s->decided || s->finishing)
		return;
	s->finishing = true;
	bool ok = s->rc == 0 && !s->cancel;
	cstream_done_fn fn = s->fn, after = s->after;
	void *arg = s->fn_arg;
	pthread_mutex_unlock(&s->lock);
	if (fn)
		fn(arg, ok, ok ? s->data : NULL, ok ? s->want : 0);
	pthread_mutex_lock(&s->lock);
	s->finished = true;
	pthread_cond_broadcast(&s->moved);
	if (after) {
		/* The readers have their last piece; what is slow goes here. */
		pthread_mutex_unlock(&s->lock);
		after(arg, ok, ok ? s->data : NULL, ok ? s->want : 0);
		pthread_mutex_lock(&s->lock);
	}
}

static void *xfer_main(void *arg)
{
	struct cstream *s = arg;
	char err[512] = "";
	int rc = ufs_read_stat(s->ufs, s->ufs_path, s->off, s->max, xfer_sink, s, &s->xst, err,
			       sizeof(err));
	pthread_mutex_lock(&s->lock);
	s->got = s->xgot; /* the last piece, if it ended short of a publish */
	if (!s->have_st && !rc) {
		/* Nothing was read (an empty object, or a range at its end). */
		s->st = s->xst;
		s->have_st = true;
		set_want(s);
		if (s->want) {
			rc = -EIO;
			snprintf(err, sizeof(err), "%s: the store sent no bytes of %llu",
				 s->ufs_path, (unsigned long long)s->want);
		}
	}
	if (!rc && s->got != s->want) {
		rc = -EIO;
		snprintf(err, sizeof(err), "%s: the store sent %llu of %llu bytes", s->ufs_path,
			 (unsigned long long)s->got, (unsigned long long)s->want);
	}
	if (rc == ST_ESTALE)
		snprintf(err, sizeof(err), "%s: longer in the store than its reply said",
			 s->ufs_path);
	s->rc = rc;
	snprintf(s->err, sizeof(s->err), "%s", err);
	s->done = true;
	pthread_cond_broadcast(&s->moved);
	maybe_finish(s);
	bool free_it = --s->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (free_it)
		destroy(s);
	pthread_mutex_lock(&g_drain_lock);
	if (atomic_fetch_sub(&g_running, 1) == 1)
		pthread_cond_broadcast(&g_drained);
	pthread_mutex_unlock(&g_drain_lock);
	return NULL;
}

int cstream_start(struct ufs *ufs, const char *ufs_path, uint64_t off, uint64_t max,
		  struct ufs_stat *st, struct cstream **out, char *err, size_t errlen)
{
	*out = NULL;
	struct cstream *s = calloc(1, sizeof(*s));
	if (!s || !(s->ufs_path = strdup(ufs_path))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->moved, NULL);
	s->ufs = ufs;
	s->off = off;
	s->max = max;
	s->refs = 2;
	s->wake_at = UINT64_MAX;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	atomic_fetch_add(&g_running, 1);
	pthread_t t;
	int rc = -pthread_create(&t, &attr, xfer_main, s);
	pthread_attr_destroy(&attr);
	if (rc) {
		atomic_fetch_sub(&g_running, 1);
		destroy(s);
		snprintf(err, errlen, "cannot start a thread for the store read: %s",
			 strerror(-rc));
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->have_st && !s->done)
		pthread_cond_wait(&s->moved, &s->lock);
	rc = s->have_st ? 0 : s->rc;
	if (rc)
		snprintf(err, errlen, "%s", s->err);
	else
		*st = s->st;
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		cstream_unref(s);
		return rc;
	}
	*out = s;
	return 0;
}

uint64_t cstream_length(const struct cstream *s)
{
	return s->want;
}

void cstream_decide(struct cstream *s, cstream_done_fn done, cstream_done_fn after, void *arg)
{
	pthread_mutex_lock(&s->lock);
	s->decided = true;
	s->cancel = done == NULL;
	s->fn = done;
	s->after = after;
	s->fn_arg = arg;
	maybe_finish(s);
	pthread_mutex_unlock(&s->lock);
}

int cstream_read(struct cstream *s, uint64_t off, uint64_t len,
		 int (*sink)(void *arg, const void *data, size_t n), void *arg, char *err,
		 size_t errlen)
{
	if (off > s->want || len > s->want - off) {
		snprintf(err, errlen, "range %llu+%llu is outside the block's %llu bytes",
			 (unsigned long long)off, (unsigned long long)len,
			 (unsigned long long)s->want);
		return -EINVAL;
	}
	uint64_t end = off + len, sent = off;
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	while (sent < end) {
		/* What has arrived, as it arrives; but the block's last piece
		 * only once the completion ran. */
		bool all = s->got >= end;
		if (all && end == s->want && s->decided && !s->finished) {
			pthread_cond_wait(&s->moved, &s->lock);
			continue;
		}
		if (s->done && (!all || (end == s->want && s->rc))) {
			rc = -EIO;
			snprintf(err, errlen, "%s", *s->err ? s->err : "the store's read ended short");
			break;
		}
		/* The first piece goes as soon as there is one (the client's
		 * first byte), later ones by READ_BATCH. */
		uint64_t batch = sent == off ? 1 : READ_BATCH;
		uint64_t batch_end = end - sent > batch ? sent + batch : end;
		if (s->got < batch_end && !s->done) {
			if (s->wake_at > batch_end)
				s->wake_at = batch_end;
			pthread_cond_wait(&s->moved, &s->lock);
			continue;
		}
		uint64_t upto = all ? end : s->got;
		pthread_mutex_unlock(&s->lock);
		rc = sink(arg, s->data + sent, (size_t)(upto - sent));
		pthread_mutex_lock(&s->lock);
		if (rc)
			break;
		sent = upto;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int cstream_drain(int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&g_drain_lock);
	while (atomic_load(&g_running) > 0 &&
	       pthread_cond_timedwait(&g_drained, &g_drain_lock, &until) == 0)
		;
	int left = atomic_load(&g_running);
	pthread_mutex_unlock(&g_drain_lock);
	return left;
}
