/*
 * tier/store.c + tier/block.c: the store's contract on real directories.
 * Tests that touch SSD/HDD tiers run once per io mode (prestate).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tier_util.h"
#include "tier/tier.h"

#define BLK 4096

static enum tier_io_mode mode_of(void **state)
{
	return *state ? *(enum tier_io_mode *)*state : TIER_IO_SYNC;
}

static void mem_only(struct tt_env *env, uint64_t quota, enum tier_policy_kind policy)
{
	enum tier_medium media[] = { TIER_MEDIUM_MEM };
	uint64_t quotas[] = { quota };
	tt_env_init(env, 1, media, quotas, policy, TIER_IO_SYNC);
	tt_env_open(env);
}

/* MEM, SSD, HDD with room for the given number of BLK-sized blocks. */
static void three_tiers(struct tt_env *env, void **state, uint64_t nmem, uint64_t nssd,
			uint64_t nhdd, enum tier_policy_kind policy)
{
	enum tier_medium media[] = { TIER_MEDIUM_MEM, TIER_MEDIUM_SSD, TIER_MEDIUM_HDD };
	uint64_t quotas[] = { nmem * BLK, nssd * BLK, nhdd * BLK };
	tt_env_init(env, 3, media, quotas, policy, mode_of(state));
	tt_env_open(env);
}

static void test_put_read_ranges(void **state)
{
	(void)state;
	struct tt_env env;
	mem_only(&env, 1 << 20, TIER_POLICY_LRU);
	assert_int_equal(tt_put(&env, 1, 100000), 0);
	assert_int_equal(tt_put(&env, 2, 1), 0);
	assert_int_equal(tt_put(&env, 3, 0), 0);
	tt_expect_block(&env, 1, 100000);
	tt_expect_block(&env, 2, 1);
	tt_expect_block(&env, 3, 0);

	unsigned char want[100000], got[300];
	tt_fill(want, sizeof(want), 1);
	assert_int_equal(tier_block_read(env.store, 1, 5000, got, 300), 300);
	assert_memory_equal(got, want + 5000, 300);
	/* Across the end: only what is there. */
	assert_int_equal(tier_block_read(env.store, 1, 99900, got, 300), 100);
	assert_memory_equal(got, want + 99900, 100);
	assert_int_equal(tier_block_read(env.store, 1, 100000, got, 300), 0);
	assert_int_equal(tier_block_read(env.store, 1, 1ULL << 40, got, 300), 0);
	assert_int_equal(tier_block_read(env.store, 99, 0, got, 300), -ENOENT);

	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.hits, 7);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.levels[0].hits, 7);
	assert_int_equal(st.levels[0].bytes_served, 100000 + 1 + 300 + 100);
	assert_int_equal(st.levels[0].bytes_written, 100001);
	assert_int_equal(st.levels[0].nblocks, 3);
	assert_int_equal(st.levels[0].used, 100001);
	assert_int_equal(st.levels[0].capacity, 1 << 20);
	assert_int_equal(st.levels[0].medium, TIER_MEDIUM_MEM);
	assert_int_equal(st.write_errors, 0);
	tt_env_fini(&env);
}

static void test_put_existing_is_eexist(void **state)
{
	(void)state;
	struct tt_env env;
	mem_only(&env, 1 << 20, TIER_POLICY_LRU);
	assert_int_equal(tt_put(&env, 7, 10), 0);
	assert_int_equal(tt_put(&env, 7, 10), -EEXIST);
	assert_int_equal(tier_block_remove(env.store, 7), 0);
	assert_int_equal(tier_block_remove(env.store, 7), -ENOENT);
	assert_false(tier_block_exists(env.store, 7, NULL));
	assert_int_equal(tt_put(&env, 7, 10), 0);
	tt_expect_block(&env, 7, 10);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.write_errors, 0); /* EEXIST is not a write error */
	tt_env_fini(&env);
}

static void test_writer_streaming(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 100, 100, 100, TIER_POLICY_LRU);
	char err[256];
	unsigned char data[10000];
	tt_fill(data, sizeof(data), 5);
	struct tier_writer *w;
	assert_int_equal(tier_writer_begin(env.store, 5, sizeof(data), &w, err, sizeof(err)), 0);
	/* Invisible until commit, but its space is reserved. */
	assert_false(tier_block_exists(env.store, 5, NULL));
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.levels[0].used, sizeof(data));
	for (size_t off = 0; off < sizeof(data); off += 3000) {
		size_t n = sizeof(data) - off < 3000 ? sizeof(data) - off : 3000;
		assert_int_equal(tier_writer_write(w, data + off, n, err, sizeof(err)), 0);
	}
	assert_int_equal(tier_writer_commit(w, err, sizeof(err)), 0);
	tt_expect_block(&env, 5, sizeof(data));

	/* Too short: commit refuses and gives the space back. */
	assert_int_equal(tier_writer_begin(env.store, 6, 100, &w, err, sizeof(err)), 0);
	assert_int_equal(tier_writer_write(w, data, 50, err, sizeof(err)), 0);
	assert_int_equal(tier_writer_commit(w, err, sizeof(err)), -EINVAL);
	/* Too long: the write refuses. */
	assert_int_equal(tier_writer_begin(env.store, 6, 100, &w, err, sizeof(err)), 0);
	assert_int_equal(tier_writer_write(w, data, 101, err, sizeof(err)), -EINVAL);
	tier_writer_abort(w);
	assert_false(tier_block_exists(env.store, 6, NULL));
	tier_stats_get(env.store, &st);
	assert_int_equal(st.levels[0].used, sizeof(data));
	assert_int_equal(tt_count_files(env.paths[0], ".tmp."), 0);
	tt_env_fini(&env);
}

static void test_quota_accounting_exact(void **state)
{
	(void)state;
	struct tt_env env;
	mem_only(&env, 1000, TIER_POLICY_LRU);
	assert_int_equal(tt_put(&env, 1, 400), 0);
	assert_int_equal(tt_put(&env, 2, 600), 0);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.levels[0].used, 1000);
	assert_int_equal(st.levels[0].nblocks, 2);
	assert_int_equal(st.evictions, 0);
	/* Larger than the whole tier: refused without evicting anything. */
	assert_int_equal(tt_put(&env, 3, 1001), -ENOSPC);
	tier_stats_get(env.store, &st);
	assert_int_equal(st.levels[0].used, 1000);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.write_errors, 1);
	/* One byte more than free: exactly the coldest block goes. */
	assert_int_equal(tier_block_remove(env.store, 1), 0);
	tier_stats_get(env.store, &st);
	assert_int_equal(st.levels[0].used, 600);
	assert_int_equal(tt_put(&env, 4, 400), 0);
	assert_int_equal(tt_put(&env, 5, 1), 0);
	assert_int_equal(tt_tier_of(&env, 2), -1);
	assert_int_equal(tt_tier_of(&env, 4), 0);
	tier_stats_get(env.store, &st);
	assert_int_equal(st.levels[0].used, 401);
	assert_int_equal(st.levels[0].nblocks, 2);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.levels[0].evictions, 1);
	tt_env_fini(&env);
}

static void test_demotion_chain_then_eviction(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 2, 2, 2, TIER_POLICY_LRU);
	for (uint64_t id = 0; id < 7; id++) {
		env.now += 10;
		assert_int_equal(tt_put(&env, id, BLK), 0);
	}
	int want[] = { -1, 2, 2, 1, 1, 0, 0 };
	for (uint64_t id = 0; id < 7; id++)
		assert_int_equal(tt_tier_of(&env, id), want[id]);
	/* Data survived each move (and the copies checked their CRCs). */
	for (uint64_t id = 1; id < 7; id++)
		tt_expect_block(&env, id, BLK);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.levels[0].demotions, 5 - 0); /* ids 0..4 left MEM */
	assert_int_equal(st.levels[1].demotions, 3);	  /* ids 0..2 left SSD */
	assert_int_equal(st.levels[2].evictions, 1);	  /* id 0 left HDD */
	assert_int_equal(st.demotions, 8);
	assert_int_equal(st.evictions, 1);
	for (unsigned l = 0; l < 3; l++) {
		assert_int_equal(st.levels[l].used, 2 * BLK);
		assert_int_equal(st.levels[l].nblocks, 2);
		assert_int_equal(tt_count_files(env.paths[l], ".blk"), 2);
	}
	assert_int_equal(st.levels[1].bytes_written, 5 * BLK);
	char path[PATH_MAX];
	tt_block_path(&env, 2, 1, path);
	assert_int_equal(access(path, F_OK), 0);
	tt_env_fini(&env);
}

static void test_lru_read_keeps_block_up(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 2, 4, 4, TIER_POLICY_LRU);
	env.now = 100;
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	env.now = 200;
	assert_int_equal(tt_put(&env, 2, BLK), 0);
	env.now = 300;
	tt_expect_block(&env, 1, BLK); /* 1 is now the most recent */
	env.now = 400;
	env.now += 10;
	assert_int_equal(tt_put(&env, 3, BLK), 0);
	assert_int_equal(tt_tier_of(&env, 1), 0);
	assert_int_equal(tt_tier_of(&env, 2), 1);
	assert_int_equal(tt_tier_of(&env, 3), 0);
	tt_env_fini(&env);
}

static void test_lfu_keeps_frequent_block_up(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 2, 4, 4, TIER_POLICY_LFU);
	env.now = 100;
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	assert_int_equal(tt_put(&env, 2, BLK), 0);
	for (int i = 0; i < 3; i++) {
		env.now += 10;
		tt_expect_block(&env, 1, BLK);
	}
	env.now += 10;
	tt_expect_block(&env, 2, BLK); /* most recent, but read once */
	env.now += 10;
	assert_int_equal(tt_put(&env, 3, BLK), 0);
	assert_int_equal(tt_tier_of(&env, 1), 0);
	assert_int_equal(tt_tier_of(&env, 2), 1);
	/* Under LRU the same events would have demoted 1. */
	tt_env_fini(&env);
}

static void test_pinned_never_evicted_single_tier(void **state)
{
	(void)state;
	struct tt_env env;
	mem_only(&env, 2 * BLK, TIER_POLICY_LRU);
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	assert_int_equal(tier_block_pin(env.store, 1, true), 0);
	assert_int_equal(tier_block_pin(env.store, 42, true), -ENOENT);
	for (uint64_t id = 2; id < 10; id++) {
		env.now += 10;
		assert_int_equal(tt_put(&env, id, BLK), 0);
		assert_int_equal(tt_tier_of(&env, 1), 0);
	}
	assert_int_equal(tt_tier_of(&env, 9), 0);
	assert_int_equal(tt_tier_of(&env, 8), -1);
	/* Everything pinned: no room, nothing evicted. */
	assert_int_equal(tier_block_pin(env.store, 9, true), 0);
	assert_int_equal(tt_put(&env, 10, BLK), -ENOSPC);
	assert_int_equal(tt_tier_of(&env, 1), 0);
	assert_int_equal(tt_tier_of(&env, 9), 0);
	/* Unpinned again, it is a candidate again. */
	assert_int_equal(tier_block_pin(env.store, 1, false), 0);
	assert_int_equal(tt_put(&env, 10, BLK), 0);
	assert_int_equal(tt_tier_of(&env, 1), -1);
	tt_expect_block(&env, 9, BLK);
	tt_env_fini(&env);
}

static void test_pinned_never_demoted(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 2, 2, 2, TIER_POLICY_LRU);
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	assert_int_equal(tier_block_pin(env.store, 1, true), 0);
	for (uint64_t id = 2; id < 8; id++) {
		env.now += 10;
		assert_int_equal(tt_put(&env, id, BLK), 0);
	}
	assert_int_equal(tt_tier_of(&env, 1), 0);
	assert_int_equal(tt_tier_of(&env, 7), 0);
	/* MEM full of pinned blocks: new blocks land in the next tier. */
	assert_int_equal(tier_block_pin(env.store, 7, true), 0);
	assert_int_equal(tt_put(&env, 8, BLK), 0);
	assert_int_equal(tt_tier_of(&env, 8), 1);
	assert_int_equal(tt_tier_of(&env, 1), 0);
	assert_int_equal(tt_tier_of(&env, 7), 0);

	struct tier_block_info *infos;
	size_t n;
	assert_int_equal(tier_blocks_list(env.store, &infos, &n), 0);
	assert_int_equal(n, 6);
	size_t npinned = 0;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(infos[i].tier, tt_tier_of(&env, infos[i].id));
		assert_int_equal(infos[i].len, BLK);
		npinned += infos[i].pinned;
	}
	assert_int_equal(npinned, 2);
	free(infos);
	tt_env_fini(&env);
}

/* A pin's medium: a block that sat low is moved up into the highest tier
 * at or above it that can make room (colder unpinned blocks go down for
 * it), keeps its pin and its data; with no room up there it stays; the
 * medium maps to tier indexes by speed. */
static void test_raise_to_medium(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 2, 2, 2, TIER_POLICY_LRU);
	for (uint64_t id = 1; id <= 5; id++) {
		env.now += 10;
		assert_int_equal(tt_put(&env, id, BLK), 0);
	}
	/* 1, 2, 3 went down: 1 to HDD, 2 and 3 to SSD. */
	assert_int_equal(tt_tier_of(&env, 1), 2);
	assert_int_equal(tt_tier_of(&env, 3), 1);
	assert_int_equal(tier_block_pin(env.store, 1, true), 0);
	assert_int_equal(tier_block_raise(env.store, 1, 1), 0); /* SSD or faster */
	assert_int_equal(tt_tier_of(&env, 1), 0); /* MEM could make room */
	assert_int_equal(tt_tier_of(&env, 4), 1); /* the coldest MEM block went down */
	tt_expect_block(&env, 1, BLK);
	assert_int_equal(tier_block_raise(env.store, 1, 0), 0); /* already there */
	assert_int_equal(tier_block_raise(env.store, 99, 0), -ENOENT);
	/* Still pinned after the move: never demoted by later puts. */
	for (uint64_t id = 10; id < 14; id++) {
		env.now += 10;
		assert_int_equal(tt_put(&env, id, BLK), 0);
	}
	assert_int_equal(tt_tier_of(&env, 1), 0);
	/* An unpinned raise: moved up (the other MEM block goes down). */
	uint64_t low = 0, down = 0;
	for (uint64_t id = 10; id < 14 && !low; id++)
		if (tt_tier_of(&env, id) > 0)
			low = id;
	assert_true(low != 0);
	assert_int_equal(tier_block_raise(env.store, low, 0), 0);
	assert_int_equal(tt_tier_of(&env, low), 0);
	tt_expect_block(&env, low, BLK);
	/* MEM full of pinned blocks: no room up there, the block stays. */
	assert_int_equal(tier_block_pin(env.store, low, true), 0);
	for (uint64_t id = 10; id < 14 && !down; id++)
		if (tt_tier_of(&env, id) > 0)
			down = id;
	assert_true(down != 0);
	int before = tt_tier_of(&env, down);
	assert_int_equal(tier_block_raise(env.store, down, 0), -ENOSPC);
	assert_int_equal(tt_tier_of(&env, down), before);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.promotions, 2);
	assert_int_equal(st.levels[0].promotions, 2);

	assert_int_equal(tier_level_of_medium(env.store, TIER_MEDIUM_MEM), 0);
	assert_int_equal(tier_level_of_medium(env.store, TIER_MEDIUM_SSD), 1);
	assert_int_equal(tier_level_of_medium(env.store, TIER_MEDIUM_HDD), 2);
	enum tier_medium m;
	assert_int_equal(tier_medium_parse("SSD", &m), 0);
	assert_int_equal(m, TIER_MEDIUM_SSD);
	assert_int_equal(tier_medium_parse("TAPE", &m), -EINVAL);
	tt_env_fini(&env);
}

static void test_open_fd_survives_removal(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 2, 2, 2, TIER_POLICY_LRU);
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	struct tier_block_fd bfd;
	assert_int_equal(tier_block_open_fd(env.store, 1, &bfd), 0);
	assert_int_equal(bfd.len, BLK);
	assert_int_equal(bfd.tier, 0);
	assert_int_equal(tier_block_remove(env.store, 1), 0);
	unsigned char want[BLK], got[BLK];
	tt_fill(want, BLK, 1);
	assert_int_equal(pread(bfd.fd, got, BLK, (off_t)bfd.data_offset), BLK);
	assert_memory_equal(got, want, BLK);
	close(bfd.fd);
	assert_int_equal(tier_block_open_fd(env.store, 1, &bfd), -ENOENT);

	/* Demotion under an open fd: the old copy stays readable. */
	assert_int_equal(tt_put(&env, 2, BLK), 0);
	assert_int_equal(tier_block_open_fd(env.store, 2, &bfd), 0);
	assert_int_equal(tt_put(&env, 3, BLK), 0);
	assert_int_equal(tt_put(&env, 4, BLK), 0);
	assert_int_equal(tt_tier_of(&env, 2), 1);
	tt_fill(want, BLK, 2);
	assert_int_equal(pread(bfd.fd, got, BLK, (off_t)bfd.data_offset), BLK);
	assert_memory_equal(got, want, BLK);
	close(bfd.fd);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.levels[0].bytes_served, 2 * BLK);
	tt_env_fini(&env);
}

/* tier_block_touch counts like open_fd and tells when the fd is outdated. */
static void test_touch_counts_and_detects_changes(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 2, 2, 2, TIER_POLICY_LRU);
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	assert_int_equal(tt_put(&env, 2, BLK), 0);
	struct tier_block_fd bfd;
	assert_int_equal(tier_block_open_fd(env.store, 1, &bfd), 0);
	struct tier_stats before, after;
	tier_stats_get(env.store, &before);
	/* Block 1 is used through the held fd; 2 is not: 2 is the LRU victim. */
	env.now += 10;
	assert_int_equal(tier_block_touch(env.store, 1, bfd.gen), 0);
	tier_stats_get(env.store, &after);
	assert_int_equal(after.hits, before.hits + 1);
	assert_int_equal(after.levels[0].hits, before.levels[0].hits + 1);
	assert_int_equal(after.levels[0].bytes_served, before.levels[0].bytes_served + BLK);
	env.now += 10;
	assert_int_equal(tt_put(&env, 3, BLK), 0);
	assert_int_equal(tt_tier_of(&env, 1), 0);
	assert_int_equal(tt_tier_of(&env, 2), 1);
	/* A wrong generation, a demoted block, a removed one. */
	assert_int_equal(tier_block_touch(env.store, 1, bfd.gen + 1000), -ESTALE);
	env.now += 10;
	assert_int_equal(tt_put(&env, 4, BLK), 0); /* demotes 1 now */
	assert_int_equal(tt_tier_of(&env, 1), 1);
	assert_int_equal(tier_block_touch(env.store, 1, bfd.gen), -ESTALE);
	close(bfd.fd);
	assert_int_equal(tier_block_open_fd(env.store, 1, &bfd), 0);
	assert_int_equal(tier_block_touch(env.store, 1, bfd.gen), 0);
	assert_int_equal(tier_block_remove(env.store, 1), 0);
	assert_int_equal(tier_block_touch(env.store, 1, bfd.gen), -ENOENT);
	close(bfd.fd);
	tier_stats_get(env.store, &before);
	assert_int_equal(tier_block_touch(env.store, 99, 0), -ENOENT);
	tier_stats_get(env.store, &after);
	assert_int_equal(after.misses, before.misses); /* nothing counted */
	tt_env_fini(&env);
}

static void test_config_errors(void **state)
{
	(void)state;
	struct tt_env env;
	enum tier_medium media[] = { TIER_MEDIUM_MEM, TIER_MEDIUM_SSD };
	uint64_t quotas[] = { 100, 100 };
	tt_env_init(&env, 2, media, quotas, TIER_POLICY_LRU, TIER_IO_SYNC);
	char err[256] = "";
	struct tier_store *store = NULL;

	env.cfg.nlevels = 0;
	assert_int_equal(tier_store_open(&env.cfg, &store, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "tiers"));
	env.cfg.nlevels = 2;
	env.cfg.levels[1].dirs[0].quota = 0;
	assert_int_equal(tier_store_open(&env.cfg, &store, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, env.paths[1]));
	env.cfg.levels[1].dirs[0].quota = 100;
	env.cfg.levels[0].ndirs = 0;
	assert_int_equal(tier_store_open(&env.cfg, &store, err, sizeof(err)), -EINVAL);
	env.cfg.levels[0].ndirs = 1;
	env.cfg.policy = (enum tier_policy_kind)9;
	assert_int_equal(tier_store_open(&env.cfg, &store, err, sizeof(err)), -EINVAL);
	env.cfg.policy = TIER_POLICY_LRU;

	/* The same directory twice (here through a symlink). */
	char alias[PATH_MAX];
	snprintf(alias, sizeof(alias), "%s/alias", env.root);
	assert_int_equal(mkdir(env.paths[1], 0755), 0);
	assert_int_equal(symlink(env.paths[0], alias), 0);
	env.cfg.levels[1].dirs[0].path = alias;
	assert_int_equal(tier_store_open(&env.cfg, &store, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	env.cfg.levels[1].dirs[0].path = env.paths[1];
	assert_int_equal(rmdir(env.paths[1]), 0);

	/* A regular file where a directory should be. */
	FILE *f = fopen(env.paths[1], "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(tier_store_open(&env.cfg, &store, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, env.paths[1]));
	assert_null(store);
	tt_env_fini(&env);
}

static void test_two_dirs_in_one_tier(void **state)
{
	(void)state;
	struct tt_env env;
	enum tier_medium media[] = { TIER_MEDIUM_MEM };
	uint64_t quotas[] = { 2 * BLK };
	tt_env_init(&env, 1, media, quotas, TIER_POLICY_LRU, TIER_IO_SYNC);
	char second[PATH_MAX];
	snprintf(second, sizeof(second), "%s/MEM-0b", env.root);
	env.cfg.levels[0].ndirs = 2;
	env.cfg.levels[0].dirs[1].path = second;
	env.cfg.levels[0].dirs[1].quota = 2 * BLK;
	tt_env_open(&env);
	for (uint64_t id = 1; id <= 4; id++)
		assert_int_equal(tt_put(&env, id, BLK), 0);
	/* The emptiest directory takes each new block. */
	assert_int_equal(tt_count_files(env.paths[0], ".blk"), 2);
	assert_int_equal(tt_count_files(second, ".blk"), 2);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.levels[0].capacity, 4 * BLK);
	assert_int_equal(st.levels[0].used, 4 * BLK);
	assert_int_equal(tt_put(&env, 5, BLK), 0);
	assert_int_equal(tt_tier_of(&env, 1), -1);
	for (uint64_t id = 2; id <= 5; id++)
		tt_expect_block(&env, id, BLK);
	tt_env_fini(&env);
}

/* What a forget hook was told, in order. */
struct forgets {
	uint64_t id[16], gen[16];
	size_t n;
};

static void note_forget(void *arg, uint64_t id, uint64_t gen)
{
	struct forgets *f = arg;
	assert_true(f->n < 16);
	f->id[f->n] = id;
	f->gen[f->n++] = gen;
}

static uint64_t gen_of(struct tt_env *env, uint64_t id)
{
	struct tier_block_fd bf;
	assert_int_equal(tier_block_open_fd(env->store, id, &bf), 0);
	close(bf.fd);
	return bf.gen;
}

/* The forget hook hears of every file that stops being its block, with
 * that file's generation: a demotion, an eviction, a removal; nothing
 * once it is removed. */
static void test_forget_hook_tells_every_file_that_goes(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 1, 1, 1, TIER_POLICY_LRU);
	struct forgets f = { 0 };
	tier_set_forget_hook(env.store, note_forget, &f);
	env.now += 10;
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	uint64_t g1 = gen_of(&env, 1);
	assert_int_equal(f.n, 0);
	env.now += 10;
	assert_int_equal(tt_put(&env, 2, BLK), 0); /* 1 goes down to SSD */
	assert_int_equal(f.n, 1);
	assert_int_equal(f.id[0], 1);
	assert_int_equal(f.gen[0], g1);
	uint64_t g1ssd = gen_of(&env, 1);
	assert_true(g1ssd != g1);
	uint64_t g2 = gen_of(&env, 2);
	env.now += 10;
	assert_int_equal(tt_put(&env, 3, BLK), 0); /* 2 and 1 down one more */
	assert_int_equal(f.n, 3);
	bool saw1 = false, saw2 = false;
	for (size_t i = 1; i < 3; i++) {
		saw1 |= f.id[i] == 1 && f.gen[i] == g1ssd;
		saw2 |= f.id[i] == 2 && f.gen[i] == g2;
	}
	assert_true(saw1 && saw2);
	uint64_t g3 = gen_of(&env, 3);
	assert_int_equal(tier_block_remove(env.store, 3), 0);
	assert_int_equal(f.n, 4);
	assert_int_equal(f.id[3], 3);
	assert_int_equal(f.gen[3], g3);
	tier_set_forget_hook(env.store, NULL, NULL);
	assert_int_equal(tier_block_remove(env.store, 2), 0);
	assert_int_equal(f.n, 4);
	tt_env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_read_ranges),
		cmocka_unit_test(test_put_existing_is_eexist),
		cmocka_unit_test(test_quota_accounting_exact),
		cmocka_unit_test(test_pinned_never_evicted_single_tier),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_two_dirs_in_one_tier),
		TT_BOTH_IO(test_writer_streaming),
		TT_BOTH_IO(test_demotion_chain_then_eviction),
		cmocka_unit_test_prestate(test_lru_read_keeps_block_up, &tt_mode_sync),
		cmocka_unit_test_prestate(test_lfu_keeps_frequent_block_up, &tt_mode_sync),
		TT_BOTH_IO(test_pinned_never_demoted),
		TT_BOTH_IO(test_raise_to_medium),
		TT_BOTH_IO(test_open_fd_survives_removal),
		TT_BOTH_IO(test_touch_counts_and_detects_changes),
		TT_BOTH_IO(test_forget_hook_tells_every_file_that_goes),
	};
	return cmocka_run_group_tests(tests, NULL, tt_group_teardown);
}
