/*
 * The S3 front's open-file cache (api/s3_fdcache.c): a put block is found
 * again; a full cache replaces only ways idle for half the idle time and
 * never a held one; a stale entry is not handed out and closes when its
 * last holder lets go; the sweep closes long-idle entries, drops idle
 * copies and spares held ones; a forgotten file closes at once or with its
 * last holder;
 * threads that get, put, release (some as stale) and sweep at once never
 * see a held fd closed or reused. Every "file" is a memfd holding its
 * block id, so a held fd that was closed (EBADF) or reused for another
 * block (another id) shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "api/s3_fdcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A new file holding id (its 8 bytes). */
static int block_file(uint64_t id)
{
	int fd = memfd_create("blk", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &id, sizeof(id), 0), (ssize_t)sizeof(id));
	return fd;
}

/* The id fd's file holds; 0 when fd is not open. */
static uint64_t id_in(int fd)
{
	uint64_t id = 0;
	if (pread(fd, &id, sizeof(id), 0) != (ssize_t)sizeof(id))
		return 0;
	return id;
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Puts block id (generation gen) at now and releases it; its fd. */
static int put_released(struct s3fdc *c, uint64_t id, uint64_t gen, int64_t now)
{
	struct s3fdc_file f = { block_file(id), gen, 0, 8 };
	struct s3fdc_entry *e = s3fdc_put(c, id, &f, now);
	assert_non_null(e);
	s3fdc_release(c, e, false);
	return f.fd;
}

static void test_capacity(void **state)
{
	(void)state;
	assert_int_equal(s3fdc_capacity(20000), 18000);
	assert_int_equal(s3fdc_capacity(65536), 65536 - 6553);
	assert_int_equal(s3fdc_capacity(1024), 512);
	assert_int_equal(s3fdc_capacity(2048), 1024);
	assert_int_equal(s3fdc_capacity(262144), S3FDC_MAX_ENTRIES);
	assert_int_equal(s3fdc_capacity(UINT64_MAX), S3FDC_MAX_ENTRIES);
	assert_int_equal(s3fdc_capacity(0), 0);
	/* The reserve leaves room for 1,000 client connections and more. */
	for (uint64_t lim = 1024; lim <= 1u << 20; lim += 997)
		assert_true(lim - s3fdc_capacity(lim) >= (lim < 2048 ? lim / 2 : 1024));
	assert_null(s3fdc_new(0));
	assert_null(s3fdc_new(2 * S3FDC_WAYS - 1));
	struct s3fdc *c = s3fdc_new(18000);
	assert_non_null(c);
	assert_int_equal(s3fdc_size(c), 18000);
	s3fdc_free(c);
	s3fdc_free(NULL);
}

static void test_hit_and_miss(void **state)
{
	(void)state;
	struct s3fdc *c = s3fdc_new(64);
	struct s3fdc_file f;
	assert_null(s3fdc_get(c, 7, 0, &f));
	struct s3fdc_file in = { block_file(7), 3, 4096, 16384 };
	struct s3fdc_entry *e = s3fdc_put(c, 7, &in, 0);
	assert_non_null(e);
	s3fdc_release(c, e, false);
	assert_ptr_equal(s3fdc_get(c, 7, 10, &f), e);
	assert_int_equal(f.fd, in.fd);
	assert_int_equal(f.gen, 3);
	assert_int_equal(f.data_offset, 4096);
	assert_int_equal(f.len, 16384);
	assert_int_equal(id_in(f.fd), 7);
	s3fdc_release(c, e, false);
	assert_null(s3fdc_get(c, 8, 10, &f));
	/* A second put of a block already there is not kept: its fd stays
	 * the caller's. */
	struct s3fdc_file dup = { block_file(7), 3, 4096, 16384 };
	assert_null(s3fdc_put(c, 7, &dup, 20));
	assert_true(is_open(dup.fd));
	close(dup.fd);
	assert_int_equal(s3fdc_count(c), 1);
	s3fdc_free(c);
	assert_false(is_open(in.fd));
}

/* With two sets every block may sit in either: 2 * S3FDC_WAYS ways that
 * all blocks share, so which one goes is up to the replacement rule. */
static void test_replaces_only_idle_ways(void **state)
{
	(void)state;
	enum { N = 2 * S3FDC_WAYS };
	struct s3fdc *c = s3fdc_new(N);
	int fds[N + 1]; /* by id; [0] unused */
	for (uint64_t i = 1; i <= N; i++)
		fds[i] = put_released(c, i, 1, (int64_t)i);
	assert_int_equal(s3fdc_count(c), N);
	/* Everything used within S3FDC_REPLACE_MS: a newcomer is not kept. */
	struct s3fdc_file f;
	for (uint64_t i = 2; i <= N; i++) {
		struct s3fdc_entry *e = s3fdc_get(c, i, 400, &f);
		assert_non_null(e);
		s3fdc_release(c, e, false);
	}
	struct s3fdc_file nf = { block_file(100), 1, 0, 8 };
	assert_null(s3fdc_put(c, 100, &nf, 1 + S3FDC_REPLACE_MS - 1));
	/* Block 1, unused since 1, is idle long enough at 1 + REPLACE_MS: it
	 * goes (closed), the others stay. */
	struct s3fdc_entry *e = s3fdc_put(c, 100, &nf, 1 + S3FDC_REPLACE_MS);
	assert_non_null(e);
	assert_false(is_open(fds[1]));
	assert_null(s3fdc_get(c, 1, 600, &f));
	for (uint64_t i = 2; i <= N; i++)
		assert_true(is_open(fds[i]));
	s3fdc_release(c, e, false);
	/* A held way is never replaced, however old: hold them all. */
	struct s3fdc_entry *held[N];
	int held_fd[N];
	uint64_t ids[N] = { 100 };
	for (uint64_t i = 2; i <= N; i++)
		ids[i - 1] = i;
	for (int i = 0; i < N; i++) {
		assert_non_null(held[i] = s3fdc_get(c, ids[i], 1000, &f));
		held_fd[i] = f.fd;
	}
	struct s3fdc_file late = { block_file(200), 1, 0, 8 };
	assert_null(s3fdc_put(c, 200, &late, 1000000));
	assert_int_equal(s3fdc_sweep(c, 1000000, true), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(id_in(held_fd[i]), ids[i]);
	/* Released, the least recently used one goes first. */
	for (int i = N - 1; i >= 0; i--)
		s3fdc_release(c, held[i], false);
	e = s3fdc_get(c, 2, 1000000, &f);
	s3fdc_release(c, e, false);
	assert_non_null(e = s3fdc_put(c, 200, &late, 1000000));
	s3fdc_release(c, e, false);
	assert_non_null(e = s3fdc_get(c, 2, 1000000, &f));
	s3fdc_release(c, e, false);
	assert_int_equal(s3fdc_count(c), N);
	s3fdc_free(c);
}

static void test_stale_entry_closes_after_last_holder(void **state)
{
	(void)state;
	struct s3fdc *c = s3fdc_new(64);
	int old_fd = put_released(c, 5, 1, 0);
	struct s3fdc_file a, b;
	struct s3fdc_entry *ea = s3fdc_get(c, 5, 10, &a);
	struct s3fdc_entry *eb = s3fdc_get(c, 5, 10, &b);
	assert_non_null(ea);
	assert_ptr_equal(ea, eb);
	/* A's check against the tier failed (generation 2 now). */
	s3fdc_release(c, ea, true);
	assert_true(is_open(old_fd));
	assert_int_equal(id_in(b.fd), 5);
	struct s3fdc_file f;
	assert_null(s3fdc_get(c, 5, 20, &f)); /* never handed out again */
	assert_int_equal(s3fdc_sweep(c, 1000000, true), 0); /* B holds it */
	/* The new file is kept beside it. */
	struct s3fdc_file nf = { block_file(5), 2, 0, 8 };
	struct s3fdc_entry *en = s3fdc_put(c, 5, &nf, 30);
	assert_non_null(en);
	assert_ptr_not_equal(en, eb);
	s3fdc_release(c, en, false);
	s3fdc_release(c, eb, false);
	assert_false(is_open(old_fd));
	assert_non_null(en = s3fdc_get(c, 5, 40, &f));
	assert_int_equal(f.gen, 2);
	assert_int_equal(f.fd, nf.fd);
	s3fdc_release(c, en, false);
	assert_int_equal(s3fdc_count(c), 1);
	s3fdc_free(c);
}

static void test_sweep_closes_idle_spares_held(void **state)
{
	(void)state;
	struct s3fdc *c = s3fdc_new(64);
	int fd1 = put_released(c, 1, 1, 0);
	int fd2 = put_released(c, 2, 1, 0);
	struct s3fdc_file f;
	struct s3fdc_entry *e = s3fdc_get(c, 2, 0, &f);
	/* Idle past S3FDC_IDLE_MS a file stays open (its tier says when it
	 * goes); past S3FDC_KEEP_MS it closes. */
	assert_int_equal(s3fdc_sweep(c, S3FDC_IDLE_MS, false), 0);
	assert_int_equal(s3fdc_sweep(c, S3FDC_KEEP_MS - 1, false), 0);
	assert_true(is_open(fd1));
	assert_int_equal(s3fdc_sweep(c, S3FDC_KEEP_MS, false), 1);
	assert_false(is_open(fd1));
	assert_true(is_open(fd2));
	assert_int_equal(s3fdc_sweep(c, 5 * S3FDC_KEEP_MS, true), 0);
	assert_int_equal(id_in(fd2), 2);
	s3fdc_release(c, e, false);
	assert_int_equal(s3fdc_sweep(c, S3FDC_IDLE_MS - 1, true), 1);
	assert_false(is_open(fd2));
	assert_int_equal(s3fdc_count(c), 0);
	s3fdc_free(c);
}

/* More blocks than it holds, read in turn (20,000 objects in a cycle
 * through a 20,000 limit): most ways fill. */
static void test_many_blocks_fill_most_ways(void **state)
{
	(void)state;
	struct s3fdc *c = s3fdc_new(s3fdc_capacity(20000));
	size_t kept = 0;
	for (uint64_t id = 1; id <= 20000; id++) {
		uint64_t bid = (id << 16) | 0; /* as placement_block_id: data id, block 0 */
		struct s3fdc_file f = { dup(0), 1, 0, 8 };
		assert_true(f.fd >= 0);
		struct s3fdc_entry *e = s3fdc_put(c, bid, &f, 0);
		if (e) {
			kept++;
			s3fdc_release(c, e, false);
		} else {
			close(f.fd);
		}
	}
	assert_int_equal(s3fdc_count(c), kept);
	assert_true(kept >= 17000);
	s3fdc_free(c);
}

/* ---- threads ---- */

#define T_IDS 600
#define T_ITERS 100000

struct hammer {
	struct s3fdc *c;
	atomic_llong *clock;
	atomic_bool *stop;
	unsigned seed;
	int failures;
	long hits, puts;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	for (int it = 0; it < T_ITERS; it++) {
		uint64_t id = 1 + (uint64_t)rand_r(&h->seed) % T_IDS;
		int64_t now = atomic_fetch_add(h->clock, 1) / 64;
		struct s3fdc_file f;
		struct s3fdc_entry *e = s3fdc_get(h->c, id, now, &f);
		bool own = false;
		if (e) {
			h->hits++;
		} else {
			f = (struct s3fdc_file){ block_file(id), 1, 0, 8 };
			e = s3fdc_put(h->c, id, &f, now);
			own = !e;
			h->puts += !own;
		}
		/* As a reply does: the file is read while held, across a
		 * yield now and then so others run in between. */
		if (id_in(f.fd) != id)
			h->failures++;
		if (it % 16 == 0)
			sched_yield();
		if (id_in(f.fd) != id)
			h->failures++;
		if (own)
			close(f.fd);
		else
			s3fdc_release(h->c, e, rand_r(&h->seed) % 50 == 0);
	}
	return NULL;
}

static void *sweeper_main(void *arg)
{
	struct hammer *h = arg;
	while (!atomic_load(h->stop)) {
		int64_t now = atomic_load(h->clock) / 64;
		s3fdc_sweep(h->c, now, rand_r(&h->seed) % 8 == 0);
		sched_yield();
	}
	return NULL;
}

static void test_threads_never_lose_a_held_fd(void **state)
{
	(void)state;
	int before = open_fds();
	/* Fewer ways than blocks: puts replace, sweeps close, stale ones go. */
	struct s3fdc *c = s3fdc_new(T_IDS / 2);
	atomic_llong clock = 0;
	atomic_bool stop = false;
	enum { NT = 3 };
	struct hammer hs[NT + 1];
	pthread_t th[NT + 1];
	for (int i = 0; i <= NT; i++) {
		hs[i] = (struct hammer){ c, &clock, &stop, 1234u + (unsigned)i, 0, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, i < NT ? hammer_main : sweeper_main,
						&hs[i]), 0);
	}
	long hits = 0, puts = 0;
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(hs[i].failures, 0);
		hits += hs[i].hits;
		puts += hs[i].puts;
	}
	atomic_store(&stop, true);
	pthread_join(th[NT], NULL);
	/* It did hit, and it did replace. */
	assert_true(hits > NT * T_ITERS / 10);
	assert_true(puts > T_IDS);
	assert_true(s3fdc_count(c) <= s3fdc_size(c));
	s3fdc_free(c);
	assert_int_equal(open_fds(), before); /* nothing leaked */
}

/* A block file of len bytes: byte i is (i * 7 + seed) & 0xff. */
static int pattern_file(size_t len, unsigned seed)
{
	int fd = memfd_create("blk", MFD_CLOEXEC);
	assert_true(fd >= 0);
	unsigned char *b = malloc(len);
	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(i * 7 + seed);
	assert_int_equal(pwrite(fd, b, len, 0), (ssize_t)len);
	free(b);
	return fd;
}

static void test_copies_are_shared_bounded_and_freed(void **state)
{
	(void)state;
	struct s3fdc *c = s3fdc_new(64);
	assert_non_null(c);
	const char *d1, *d2;
	/* No budget (the default): no copy. */
	struct s3fdc_file f = { pattern_file(4096 + 100, 3), 1, 100, 4096 };
	struct s3fdc_entry *e = s3fdc_put(c, 1, &f, 0);
	assert_non_null(e);
	assert_int_equal(s3fdc_copy(c, e, 1 << 20, &d1), 1);
	s3fdc_set_copy_budget(c, 6000);
	/* Made once from data_offset, then the same bytes to every holder. */
	assert_int_equal(s3fdc_copy(c, e, 1 << 20, &d1), 0);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal((unsigned char)d1[i], (unsigned char)((i + 100) * 7 + 3));
	struct s3fdc_file g;
	struct s3fdc_entry *e2 = s3fdc_get(c, 1, 1, &g);
	assert_ptr_equal(e2, e);
	assert_int_equal(s3fdc_copy(c, e2, 1 << 20, &d2), 0);
	assert_ptr_equal(d1, d2);
	assert_int_equal(s3fdc_copy_bytes(c), 4096);
	/* Over max_len, or over what is left of the budget: none. */
	struct s3fdc_file h = { pattern_file(4096, 5), 1, 0, 4096 };
	struct s3fdc_entry *eh = s3fdc_put(c, 2, &h, 0);
	assert_non_null(eh);
	assert_int_equal(s3fdc_copy(c, eh, 4095, &d2), 1);
	assert_int_equal(s3fdc_copy(c, eh, 1 << 20, &d2), 1); /* 4096 + 4096 > 6000 */
	assert_int_equal(s3fdc_copy_bytes(c), 4096);
	/* The copy goes with its entry, and the budget comes back. */
	s3fdc_release(c, e2, false);
	s3fdc_release(c, e, false);
	s3fdc_release(c, eh, false);
	assert_int_equal(s3fdc_sweep(c, 0, true), 2);
	assert_int_equal(s3fdc_copy_bytes(c), 0);
	s3fdc_free(c);
}

static void test_a_short_file_is_never_copied_and_turns_stale(void **state)
{
	(void)state;
	struct s3fdc *c = s3fdc_new(64);
	assert_non_null(c);
	s3fdc_set_copy_budget(c, 1 << 20);
	/* The header says 8,192 bytes; the file has 5,000 after data_offset. */
	struct s3fdc_file f = { pattern_file(5064, 1), 1, 64, 8192 };
	struct s3fdc_entry *e = s3fdc_put(c, 9, &f, 0);
	assert_non_null(e);
	const char *d;
	assert_int_equal(s3fdc_copy(c, e, 1 << 20, &d), -1);
	assert_int_equal(s3fdc_copy(c, e, 1 << 20, &d), -1); /* and stays so */
	assert_int_equal(s3fdc_copy_bytes(c), 0);
	struct s3fdc_file g;
	assert_null(s3fdc_get(c, 9, 1, &g)); /* never handed out again */
	assert_true(is_open(f.fd));
	s3fdc_release(c, e, false);
	assert_false(is_open(f.fd)); /* closed with its last holder */
	assert_int_equal(s3fdc_count(c), 0);
	s3fdc_free(c);
}

static void test_forget_closes_the_file_now_or_at_its_last_release(void **state)
{
	(void)state;
	struct s3fdc *c = s3fdc_new(64);
	assert_non_null(c);
	int fd1 = put_released(c, 1, 7, 0);
	int fd2 = put_released(c, 2, 7, 0);
	/* Another generation, or another block: nothing happens. */
	s3fdc_forget(c, 1, 6);
	s3fdc_forget(c, 3, 7);
	assert_true(is_open(fd1));
	assert_int_equal(s3fdc_count(c), 2);
	/* Nobody holds block 1: closed at once. */
	s3fdc_forget(c, 1, 7);
	assert_false(is_open(fd1));
	struct s3fdc_file f;
	assert_null(s3fdc_get(c, 1, 1, &f));
	/* Block 2 is held: not handed out again, closed by its last holder. */
	struct s3fdc_entry *e = s3fdc_get(c, 2, 1, &f);
	assert_non_null(e);
	s3fdc_forget(c, 2, 7);
	assert_null(s3fdc_get(c, 2, 1, &f));
	assert_int_equal(id_in(fd2), 2);
	s3fdc_release(c, e, false);
	assert_false(is_open(fd2));
	assert_int_equal(s3fdc_count(c), 0);
	/* Its way takes the block's next file. */
	int fd3 = put_released(c, 2, 8, 2);
	assert_non_null(e = s3fdc_get(c, 2, 3, &f));
	assert_int_equal(f.fd, fd3);
	assert_int_equal(f.gen, 8);
	s3fdc_release(c, e, false);
	s3fdc_free(c);
}

static void test_an_idle_entry_lets_its_copy_go_and_keeps_its_file(void **state)
{
	(void)state;
	struct s3fdc *c = s3fdc_new(64);
	assert_non_null(c);
	s3fdc_set_copy_budget(c, 1 << 20);
	struct s3fdc_file f = { pattern_file(4096, 1), 1, 0, 4096 };
	struct s3fdc_entry *e = s3fdc_put(c, 1, &f, 0);
	assert_non_null(e);
	const char *d;
	assert_int_equal(s3fdc_copy(c, e, 1 << 20, &d), 0);
	assert_int_equal(s3fdc_copy_bytes(c), 4096);
	/* Held: the copy stays however long. */
	assert_int_equal(s3fdc_sweep(c, 10 * S3FDC_IDLE_MS, false), 0);
	assert_int_equal(s3fdc_copy_bytes(c), 4096);
	s3fdc_release(c, e, false);
	assert_int_equal(s3fdc_sweep(c, S3FDC_IDLE_MS - 1, false), 0);
	assert_int_equal(s3fdc_copy_bytes(c), 4096);
	assert_int_equal(s3fdc_sweep(c, S3FDC_IDLE_MS, false), 0);
	assert_int_equal(s3fdc_copy_bytes(c), 0);
	assert_true(is_open(f.fd));
	/* The next holder copies it again, from the same file. */
	struct s3fdc_file g;
	assert_non_null(e = s3fdc_get(c, 1, S3FDC_IDLE_MS + 1, &g));
	assert_int_equal(g.fd, f.fd);
	assert_int_equal(s3fdc_copy(c, e, 1 << 20, &d), 0);
	assert_int_equal((unsigned char)d[100], (unsigned char)(100 * 7 + 1));
	assert_int_equal(s3fdc_copy_bytes(c), 4096);
	s3fdc_release(c, e, false);
	s3fdc_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_hit_and_miss),
		cmocka_unit_test(test_replaces_only_idle_ways),
		cmocka_unit_test(test_stale_entry_closes_after_last_holder),
		cmocka_unit_test(test_sweep_closes_idle_spares_held),
		cmocka_unit_test(test_many_blocks_fill_most_ways),
		cmocka_unit_test(test_threads_never_lose_a_held_fd),
		cmocka_unit_test(test_copies_are_shared_bounded_and_freed),
		cmocka_unit_test(test_a_short_file_is_never_copied_and_turns_stale),
		cmocka_unit_test(test_forget_closes_the_file_now_or_at_its_last_release),
		cmocka_unit_test(test_an_idle_entry_lets_its_copy_go_and_keeps_its_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
