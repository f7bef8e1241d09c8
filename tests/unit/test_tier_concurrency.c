/*
 * tier/: readers, writers, removers and pinners on one store at once, with
 * demotions and evictions going on (run it under ASan/TSan). Threads never
 * call cmocka asserts (not thread-safe): they count problems, the main
 * thread checks the counts and then the store's accounting.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tier_util.h"
#include "tier/tier.h"

#define BLK (16 * 1024)
#define NIDS 96
#define OPS 2500

struct shared {
	struct tt_env *env;
	atomic_int problems;
	atomic_long reads_ok, puts_ok, nospace;
	char first_problem[256];
	pthread_mutex_t msg_lock;
};

struct worker {
	struct shared *sh;
	unsigned seed;
	int kind;
};

static void problem(struct shared *sh, const char *what, uint64_t id, long rc)
{
	if (atomic_fetch_add(&sh->problems, 1) == 0) {
		pthread_mutex_lock(&sh->msg_lock);
		snprintf(sh->first_problem, sizeof(sh->first_problem), "%s id=%llu rc=%ld", what,
			 (unsigned long long)id, rc);
		pthread_mutex_unlock(&sh->msg_lock);
	}
}

/* Block id's length varies so that quotas fill unevenly. */
static size_t len_of(uint64_t id)
{
	return BLK - (id % 7) * 1000;
}

static void do_write(struct shared *sh, unsigned *seed, unsigned char *buf)
{
	uint64_t id = (uint64_t)(rand_r(seed) % NIDS);
	if (rand_r(seed) % 8 == 0) {
		int rc = tier_block_remove(sh->env->store, id);
		if (rc != 0 && rc != -ENOENT)
			problem(sh, "remove", id, rc);
		return;
	}
	char err[256];
	size_t len = len_of(id);
	tt_fill(buf, len, id);
	int rc = tier_block_put(sh->env->store, id, buf, len, err, sizeof(err));
	if (rc == 0)
		atomic_fetch_add(&sh->puts_ok, 1);
	else if (rc == -ENOSPC)
		atomic_fetch_add(&sh->nospace, 1);
	else if (rc != -EEXIST)
		problem(sh, "put", id, rc);
}

static void do_read(struct shared *sh, unsigned *seed, unsigned char *buf, unsigned char *want)
{
	uint64_t id = (uint64_t)(rand_r(seed) % NIDS);
	size_t len = len_of(id);
	tt_fill(want, len, id);
	int how = rand_r(seed) % 3;
	if (how == 0) {
		ssize_t n = tier_block_read(sh->env->store, id, 0, buf, BLK);
		if (n == (ssize_t)len && memcmp(buf, want, len) == 0)
			atomic_fetch_add(&sh->reads_ok, 1);
		else if (n != -ENOENT)
			problem(sh, "read", id, n);
	} else if (how == 1) {
		size_t off = (size_t)rand_r(seed) % len, n = 100;
		ssize_t got = tier_block_read(sh->env->store, id, off, buf, n);
		size_t expect = len - off < n ? len - off : n;
		if (got == (ssize_t)expect && memcmp(buf, want + off, expect) == 0)
			atomic_fetch_add(&sh->reads_ok, 1);
		else if (got != -ENOENT)
			problem(sh, "range read", id, got);
	} else {
		struct tier_block_fd bfd;
		int rc = tier_block_open_fd(sh->env->store, id, &bfd);
		if (rc == -ENOENT)
			return;
		if (rc != 0) {
			problem(sh, "open_fd", id, rc);
			return;
		}
		ssize_t n = pread(bfd.fd, buf, bfd.len, (off_t)bfd.data_offset);
		if (bfd.len == len && n == (ssize_t)len && memcmp(buf, want, len) == 0)
			atomic_fetch_add(&sh->reads_ok, 1);
		else
			problem(sh, "open_fd content", id, n);
		close(bfd.fd);
	}
}

static void do_admin(struct shared *sh, unsigned *seed)
{
	uint64_t id = (uint64_t)(rand_r(seed) % 8); /* few pins: puts keep finding room */
	int rc = tier_block_pin(sh->env->store, id, rand_r(seed) % 2);
	if (rc != 0 && rc != -ENOENT)
		problem(sh, "pin", id, rc);
	struct tier_stats st;
	tier_stats_get(sh->env->store, &st);
	for (unsigned l = 0; l < st.nlevels; l++) {
		/* Reservations may exceed nothing: used never passes capacity. */
		if (st.levels[l].used > st.levels[l].capacity)
			problem(sh, "over quota", l, (long)st.levels[l].used);
	}
	struct tier_block_info *infos;
	size_t n;
	rc = tier_blocks_list(sh->env->store, &infos, &n);
	if (rc != 0)
		problem(sh, "list", 0, rc);
	else
		free(infos);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned char *buf = malloc(BLK), *want = malloc(BLK);
	if (!buf || !want) {
		problem(w->sh, "malloc", 0, 0);
		goto out;
	}
	for (int i = 0; i < OPS; i++) {
		if (w->kind == 0)
			do_write(w->sh, &w->seed, buf);
		else if (w->kind == 1)
			do_read(w->sh, &w->seed, buf, want);
		else
			do_admin(w->sh, &w->seed);
	}
out:
	free(buf);
	free(want);
	return NULL;
}

static void test_concurrent_readers_writers(void **state)
{
	struct tt_env env;
	enum tier_medium media[] = { TIER_MEDIUM_MEM, TIER_MEDIUM_SSD, TIER_MEDIUM_HDD };
	uint64_t quotas[] = { 8 * BLK, 16 * BLK, 32 * BLK };
	tt_env_init(&env, 3, media, quotas, TIER_POLICY_LRU, *(enum tier_io_mode *)*state);
	env.cfg.now_ms = NULL; /* the real clock: the fake one is not thread-safe */
	tt_env_open(&env);

	struct shared sh = { .env = &env };
	pthread_mutex_init(&sh.msg_lock, NULL);
	enum { NW = 5 };
	int kinds[NW] = { 0, 0, 1, 1, 2 };
	struct worker workers[NW];
	pthread_t threads[NW];
	for (int i = 0; i < NW; i++) {
		workers[i] = (struct worker){ .sh = &sh, .seed = 77u + (unsigned)i, .kind = kinds[i] };
		assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
	}
	for (int i = 0; i < NW; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	if (atomic_load(&sh.problems))
		fail_msg("%d problems; first: %s", atomic_load(&sh.problems), sh.first_problem);
	assert_true(atomic_load(&sh.puts_ok) > 100);
	assert_true(atomic_load(&sh.reads_ok) > 100);

	/* Quiet now: the accounting must add up exactly. */
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	struct tier_block_info *infos;
	size_t n;
	assert_int_equal(tier_blocks_list(env.store, &infos, &n), 0);
	uint64_t used[3] = { 0 }, count[3] = { 0 };
	for (size_t i = 0; i < n; i++) {
		assert_true(infos[i].tier < 3);
		assert_int_equal(infos[i].len, len_of(infos[i].id));
		used[infos[i].tier] += infos[i].len;
		count[infos[i].tier]++;
		tt_expect_block(&env, infos[i].id, infos[i].len);
	}
	free(infos);
	for (unsigned l = 0; l < 3; l++) {
		assert_int_equal(st.levels[l].used, used[l]);
		assert_int_equal(st.levels[l].nblocks, count[l]);
		assert_true(used[l] <= quotas[l]);
		assert_int_equal(tt_count_files(env.paths[l], ".tmp."), 0);
		assert_int_equal(tt_count_files(env.paths[l], ".blk"), (int)count[l]);
	}
	assert_int_equal(st.checksum_failures, 0);
	assert_int_equal(st.write_errors, atomic_load(&sh.nospace));
	assert_true(st.demotions > 0);
	assert_true(st.evictions > 0);
	pthread_mutex_destroy(&sh.msg_lock);
	tt_env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TT_BOTH_IO(test_concurrent_readers_writers),
	};
	return cmocka_run_group_tests(tests, NULL, tt_group_teardown);
}
