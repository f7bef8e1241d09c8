/*
 * A lazy load's block streamed from its store on a thread of its own
 * (daemon/worker/coldstream.c), against a FAKE store: a fault-injection
 * driver whose read sends a 1 MiB object in 64 KiB chunks and can stop
 * between chunks until the test lets it go on (to see bytes reach the
 * reader before the store is done), end short, fail half-way, or send
 * more than its headers announced — what a real store does only by
 * accident; or send like curl does (16 KiB pieces, a little apart) to see
 * readers served in batches rather than piece by piece. The real stores'
 * read_stat contract is in test_ufs_*.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon/worker/coldstream.h"
#include "lib/err.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OBJ (1u << 20)
#define CHUNK (64u << 10)

enum mode { SEND_ALL, SEND_SHORT, FAIL_HALFWAY, SEND_LONG, MISSING };

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum mode mode;
	bool gated;     /* stop after the first chunk until `open` */
	bool open;
	int reads;
	size_t piece;	   /* bytes per sink call (CHUNK unless set) */
	uint64_t short_at; /* SEND_SHORT: bytes sent before the end (half unless set) */
	int pause_us;	   /* between pieces */
} g_fake = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, SEND_ALL, false, false, 0,
	     0, 0, 0 };

static char g_obj[OBJ + CHUNK];

static int fake_open(const char *uri, const struct ufs_opt *opts, size_t nopts, void **impl,
		     char *err, size_t errlen)
{
	(void)uri, (void)opts, (void)nopts, (void)err, (void)errlen;
	*impl = &g_fake;
	return 0;
}

static void fake_close(void *impl)
{
	(void)impl;
}

static int fake_read_stat(void *impl, const char *path, uint64_t off, uint64_t len,
			  ufs_sink_fn sink, void *arg, struct ufs_stat *st, char *err,
			  size_t errlen)
{
	(void)impl;
	pthread_mutex_lock(&g_fake.lock);
	g_fake.reads++;
	enum mode mode = g_fake.mode;
	size_t piece = g_fake.piece ? g_fake.piece : CHUNK;
	uint64_t short_at = g_fake.short_at;
	int pause_us = g_fake.pause_us;
	pthread_mutex_unlock(&g_fake.lock);
	if (mode == MISSING) {
		snprintf(err, errlen, "read %s: no such file", path);
		return -ENOENT;
	}
	st->length = OBJ;
	st->mtime_ms = 1;
	snprintf(st->fingerprint, sizeof(st->fingerprint), "\"fake\"");
	uint64_t end = off + len < OBJ ? off + len : OBJ;
	if (mode == SEND_SHORT)
		end = off + (short_at ? short_at : (end - off) / 2);
	if (mode == SEND_LONG)
		end += CHUNK;
	for (uint64_t at = off; at < end; at += piece) {
		if (mode == FAIL_HALFWAY && at >= off + (end - off) / 2) {
			snprintf(err, errlen, "read %s: connection reset by the store", path);
			return -EIO;
		}
		size_t n = end - at < piece ? (size_t)(end - at) : piece;
		int rc = sink(arg, g_obj + at, n);
		if (rc)
			return rc;
		if (pause_us)
			usleep((useconds_t)pause_us);
		pthread_mutex_lock(&g_fake.lock);
		while (g_fake.gated && !g_fake.open)
			pthread_cond_wait(&g_fake.cond, &g_fake.lock);
		pthread_mutex_unlock(&g_fake.lock);
	}
	return 0;
}

static const struct ufs_driver fake_driver = {
	.scheme = "fake", .open = fake_open, .close = fake_close, .read_stat = fake_read_stat,
};

static struct ufs *fake_store(enum mode mode, bool gated)
{
	pthread_mutex_lock(&g_fake.lock);
	g_fake.mode = mode;
	g_fake.gated = gated;
	g_fake.open = false;
	g_fake.piece = 0;
	g_fake.short_at = 0;
	g_fake.pause_us = 0;
	pthread_mutex_unlock(&g_fake.lock);
	struct ufs *u = NULL;
	char err[128];
	assert_int_equal(ufs_open_driver(&fake_driver, "fake://", NULL, 0, &u, err, sizeof(err)), 0);
	return u;
}

static void let_go(void)
{
	pthread_mutex_lock(&g_fake.lock);
	g_fake.open = true;
	pthread_cond_broadcast(&g_fake.cond);
	pthread_mutex_unlock(&g_fake.lock);
}

/* A stream of the fake object from off, started (its headers in). */
static struct cstream *start_at(struct ufs *u, uint64_t off, struct ufs_stat *st)
{
	struct cstream *s = NULL;
	char err[256] = "";
	assert_int_equal(cstream_start(u, "obj", off, 4u << 20, st, &s, err, sizeof(err)), 0);
	assert_non_null(s);
	return s;
}

/* Lets go of s and waits for its transfer to end. */
static void done_with(struct cstream *s)
{
	cstream_unref(s);
	assert_int_equal(cstream_drain(5000), 0);
}

struct got {
	char *buf;
	size_t len;
	int refuse_after; /* refuse the sink call after this many bytes; -1 never */
	int calls;
	size_t first_call_len;
	bool open_at_first; /* let the gated store go on at the first call */
};

static int collect(void *arg, const void *data, size_t n)
{
	struct got *g = arg;
	if (g->refuse_after >= 0 && g->len >= (size_t)g->refuse_after)
		return -EPIPE;
	if (!g->calls++) {
		g->first_call_len = n;
		if (g->open_at_first)
			let_go();
	}
	memcpy(g->buf + g->len, data, n);
	g->len += n;
	return 0;
}

struct done {
	int calls, after_calls;
	bool ok;
	uint64_t len;
	bool same;
	bool after_saw_done; /* done had run when after ran */
};

static void on_done(void *arg, bool ok, const char *data, uint64_t len)
{
	struct done *d = arg;
	d->calls++;
	d->ok = ok;
	d->len = len;
	d->same = ok && len == OBJ && memcmp(data, g_obj, OBJ) == 0;
}

static void on_after(void *arg, bool ok, const char *data, uint64_t len)
{
	struct done *d = arg;
	d->after_calls++;
	d->after_saw_done = d->calls == 1 && ok == d->ok && len == d->len && (!ok || data);
}

/* The first bytes reach the reader while the store is still sending;
 * the last piece only after the completion cached the block. */
static void test_streams_before_the_store_is_done(void **state)
{
	(void)state;
	struct ufs *u = fake_store(SEND_ALL, true);
	struct ufs_stat st;
	char err[256] = "";
	struct cstream *s = start_at(u, 0, &st);
	assert_int_equal(st.length, OBJ);
	assert_string_equal(st.fingerprint, "\"fake\"");
	assert_int_equal(cstream_length(s), OBJ);
	struct done d = { 0 };
	cstream_decide(s, on_done, on_after, &d);
	/* The store stopped after its first chunk: a read of that chunk
	 * alone is served now; the whole range waits. */
	struct got g = { .buf = malloc(OBJ), .refuse_after = -1 };
	assert_int_equal(cstream_read(s, 0, CHUNK / 2, collect, &g, err, sizeof(err)), 0);
	assert_int_equal(g.len, CHUNK / 2);
	assert_int_equal(d.calls, 0);
	let_go();
	g.len = 0;
	g.calls = 0;
	assert_int_equal(cstream_read(s, 0, OBJ, collect, &g, err, sizeof(err)), 0);
	assert_int_equal(g.len, OBJ);
	assert_memory_equal(g.buf, g_obj, OBJ);
	assert_int_equal(d.calls, 1); /* before the reply's last byte */
	assert_true(d.ok);
	assert_true(d.same);
	/* A range within the block, once whole. */
	g.len = 0;
	assert_int_equal(cstream_read(s, 1000, 5000, collect, &g, err, sizeof(err)), 0);
	assert_memory_equal(g.buf, g_obj + 1000, 5000);
	/* Outside it. */
	assert_int_equal(cstream_read(s, OBJ - 10, 11, collect, &g, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "outside the block"));
	done_with(s);
	assert_int_equal(d.after_calls, 1);
	assert_true(d.after_saw_done);
	free(g.buf);
	ufs_close(u);
}

static void test_missing_file_fails_at_start(void **state)
{
	(void)state;
	struct ufs *u = fake_store(MISSING, false);
	struct ufs_stat st;
	struct cstream *s = (void *)1;
	char err[256] = "";
	assert_int_equal(cstream_start(u, "nope", 0, 4u << 20, &st, &s, err, sizeof(err)),
			 -ENOENT);
	assert_null(s);
	assert_non_null(strstr(err, "nope"));
	assert_int_equal(cstream_drain(5000), 0);
	ufs_close(u);
}

/* The store's read ends after the headers went out: the reader gets an
 * error naming why, the completion is told (nothing cached). */
static void check_broken(enum mode mode, const char *why)
{
	struct ufs *u = fake_store(mode, false);
	struct ufs_stat st;
	char err[256] = "";
	struct cstream *s = start_at(u, 0, &st);
	struct done d = { 0 };
	cstream_decide(s, on_done, NULL, &d);
	struct got g = { .buf = malloc(OBJ + CHUNK), .refuse_after = -1 };
	int rc = cstream_read(s, 0, OBJ, collect, &g, err, sizeof(err));
	assert_int_equal(rc, -EIO);
	assert_non_null(strstr(err, why));
	assert_true(g.len < OBJ);
	done_with(s);
	assert_int_equal(d.calls, 1);
	assert_false(d.ok);
	free(g.buf);
	ufs_close(u);
}

static void test_store_ends_short(void **state)
{
	(void)state;
	check_broken(SEND_SHORT, "sent 524288 of 1048576 bytes");
}

static void test_store_fails_halfway(void **state)
{
	(void)state;
	check_broken(FAIL_HALFWAY, "connection reset by the store");
}

static void test_store_sends_more_than_announced(void **state)
{
	(void)state;
	check_broken(SEND_LONG, "longer in the store than its reply said");
}

/* Nobody wants the block (the master recorded other content): the read
 * is cut short and nothing completes. */
static void test_cancel(void **state)
{
	(void)state;
	struct ufs *u = fake_store(SEND_ALL, true);
	struct ufs_stat st;
	struct cstream *s = start_at(u, 0, &st);
	cstream_decide(s, NULL, NULL, NULL);
	cstream_unref(s);
	let_go();
	assert_int_equal(cstream_drain(5000), 0);
	ufs_close(u);
}

/* A client that leaves: the sink's error comes back; the block is still
 * completed (cached) by the transfer. */
static void test_reader_leaves(void **state)
{
	(void)state;
	struct ufs *u = fake_store(SEND_ALL, false);
	struct ufs_stat st;
	char err[256] = "";
	struct cstream *s = start_at(u, 0, &st);
	struct done d = { 0 };
	cstream_decide(s, on_done, NULL, &d);
	struct got g = { .buf = malloc(OBJ), .refuse_after = 0 };
	assert_int_equal(cstream_read(s, 0, OBJ, collect, &g, err, sizeof(err)), -EPIPE);
	done_with(s);
	assert_int_equal(d.calls, 1);
	assert_true(d.same);
	free(g.buf);
	ufs_close(u);
}

/* A store that sends like curl (16 KiB pieces, a little apart): the
 * reader's first piece goes at once (the store waits for it here: a
 * reader that waited for a batch first would never finish), then it is
 * woken and served by batches of 256 KiB, not once per piece (64 here). */
static void test_first_piece_at_once_then_batches(void **state)
{
	(void)state;
	struct ufs *u = fake_store(SEND_ALL, true);
	g_fake.piece = 16u << 10;
	g_fake.pause_us = 300;
	struct ufs_stat st;
	char err[256] = "";
	alarm(20); /* a reader stuck waiting for a batch fails, not hangs */
	struct cstream *s = start_at(u, 0, &st);
	struct done d = { 0 };
	cstream_decide(s, on_done, NULL, &d);
	struct got g = { .buf = malloc(OBJ), .refuse_after = -1, .open_at_first = true };
	assert_int_equal(cstream_read(s, 0, OBJ, collect, &g, err, sizeof(err)), 0);
	alarm(0);
	assert_int_equal(g.len, OBJ);
	assert_memory_equal(g.buf, g_obj, OBJ);
	assert_int_equal(g.first_call_len, 16u << 10);
	assert_in_range(g.calls, 2, 6); /* 1 + ceil((1 MiB - 16 KiB) / 256 KiB) at most */
	done_with(s);
	assert_int_equal(d.calls, 1);
	assert_true(d.same);
	free(g.buf);
	ufs_close(u);
}

/* Pieces not a multiple of what readers are told of at once: a block of
 * an odd length arrives whole; a store that stops at an odd offset is
 * reported with the exact count, and nothing is cached. */
static void test_odd_lengths(void **state)
{
	(void)state;
	struct ufs *u = fake_store(SEND_ALL, false);
	g_fake.piece = 16u << 10;
	struct ufs_stat st;
	char err[256] = "";
	uint64_t off = OBJ - 100001;
	struct cstream *s = start_at(u, off, &st);
	assert_int_equal(cstream_length(s), 100001);
	struct done d = { 0 };
	cstream_decide(s, on_done, NULL, &d);
	struct got g = { .buf = malloc(OBJ), .refuse_after = -1 };
	assert_int_equal(cstream_read(s, 0, 100001, collect, &g, err, sizeof(err)), 0);
	assert_int_equal(g.len, 100001);
	assert_memory_equal(g.buf, g_obj + off, 100001);
	done_with(s);
	assert_int_equal(d.calls, 1);
	assert_true(d.ok);
	assert_int_equal(d.len, 100001);
	ufs_close(u);

	u = fake_store(SEND_SHORT, false);
	g_fake.piece = 16u << 10;
	g_fake.short_at = 500001;
	s = start_at(u, 0, &st);
	memset(&d, 0, sizeof(d));
	cstream_decide(s, on_done, NULL, &d);
	g.len = 0;
	assert_int_equal(cstream_read(s, 0, OBJ, collect, &g, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "sent 500001 of 1048576 bytes"));
	assert_true(g.len <= 500001);
	assert_memory_equal(g.buf, g_obj, g.len);
	done_with(s);
	assert_int_equal(d.calls, 1);
	assert_false(d.ok);
	free(g.buf);
	ufs_close(u);
}

/* A range read's block past the object's end reads nothing. */
static void test_block_past_the_end(void **state)
{
	(void)state;
	struct ufs *u = fake_store(SEND_ALL, false);
	struct ufs_stat st;
	struct cstream *s = start_at(u, OBJ, &st);
	assert_int_equal(st.length, OBJ);
	assert_int_equal(cstream_length(s), 0);
	cstream_decide(s, NULL, NULL, NULL);
	done_with(s);
	ufs_close(u);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(g_obj); i++)
		g_obj[i] = (char)(i * 131 + (i >> 9));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_before_the_store_is_done),
		cmocka_unit_test(test_missing_file_fails_at_start),
		cmocka_unit_test(test_store_ends_short),
		cmocka_unit_test(test_store_fails_halfway),
		cmocka_unit_test(test_store_sends_more_than_announced),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_reader_leaves),
		cmocka_unit_test(test_block_past_the_end),
		cmocka_unit_test(test_first_piece_at_once_then_batches),
		cmocka_unit_test(test_odd_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
