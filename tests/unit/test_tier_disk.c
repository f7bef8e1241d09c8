/*
 * tier/ on disk: checksums, restart rescan, torn files, I/O faults, and the
 * io_uring and pread/pwrite paths (most tests run under both).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tier_util.h"
#include "tier/format.h"
#include "tier/tier.h"

#define BLK 4096

static enum tier_io_mode mode_of(void **state)
{
	return *(enum tier_io_mode *)*state;
}

static void ssd_only(struct tt_env *env, void **state, uint64_t quota)
{
	enum tier_medium media[] = { TIER_MEDIUM_SSD };
	uint64_t quotas[] = { quota };
	tt_env_init(env, 1, media, quotas, TIER_POLICY_LRU, mode_of(state));
	tt_env_open(env);
}

static void three_tiers(struct tt_env *env, void **state, uint64_t nmem, uint64_t nssd,
			uint64_t nhdd)
{
	enum tier_medium media[] = { TIER_MEDIUM_MEM, TIER_MEDIUM_SSD, TIER_MEDIUM_HDD };
	uint64_t quotas[] = { nmem * BLK, nssd * BLK, nhdd * BLK };
	tt_env_init(env, 3, media, quotas, TIER_POLICY_LRU, mode_of(state));
	tt_env_open(env);
}

static void reopen(struct tt_env *env)
{
	tt_env_close(env);
	tt_env_open(env);
}

static void test_large_block_roundtrip(void **state)
{
	struct tt_env env;
	/* 5 MiB + 3: several 1 MiB chunks in one io_uring batch, odd tail. */
	size_t len = (5u << 20) + 3;
	ssd_only(&env, state, 16u << 20);
	assert_int_equal(tt_put(&env, 1, len), 0);
	tt_expect_block(&env, 1, len);
	unsigned char *want = malloc(len), *got = malloc(len);
	assert_non_null(want);
	assert_non_null(got);
	tt_fill(want, len, 1);
	assert_int_equal(tier_block_read(env.store, 1, (1u << 20) - 7, got, 3u << 20), 3u << 20);
	assert_memory_equal(got, want + (1u << 20) - 7, 3u << 20);
	assert_int_equal(tier_block_read(env.store, 1, len - 10, got, 100), 10);
	assert_memory_equal(got, want + len - 10, 10);
	struct stat st;
	char path[PATH_MAX];
	tt_block_path(&env, 0, 1, path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, TIER_HDR_SIZE + len);
	free(want);
	free(got);
	tt_env_fini(&env);
}

static void test_corrupt_block_detected_and_dropped(void **state)
{
	struct tt_env env;
	ssd_only(&env, state, 1 << 20);
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	assert_int_equal(tt_put(&env, 2, BLK), 0);
	char path[PATH_MAX];
	tt_block_path(&env, 0, 1, path);
	tt_flip_byte(path, TIER_HDR_SIZE + 1000);
	unsigned char buf[BLK];
	/* A whole-block read from SSD is always verified. */
	assert_int_equal(tier_block_read(env.store, 1, 0, buf, BLK), -EBADMSG);
	assert_false(tier_block_exists(env.store, 1, NULL));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(tier_block_read(env.store, 1, 0, buf, BLK), -ENOENT);
	tt_expect_block(&env, 2, BLK); /* others unaffected */
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.checksum_failures, 1);
	assert_int_equal(st.levels[0].nblocks, 1);
	assert_int_equal(st.levels[0].used, BLK);
	/* The caller re-reads from the UFS and puts it again. */
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	tt_expect_block(&env, 1, BLK);
	tt_env_fini(&env);
}

static void test_corrupt_after_restart_range_and_fd(void **state)
{
	struct tt_env env;
	ssd_only(&env, state, 1 << 20);
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	assert_int_equal(tt_put(&env, 2, BLK), 0);
	assert_int_equal(tt_put(&env, 3, BLK), 0);
	char path[PATH_MAX];
	tt_block_path(&env, 0, 1, path);
	tt_flip_byte(path, TIER_HDR_SIZE + BLK - 1);
	tt_block_path(&env, 0, 2, path);
	tt_flip_byte(path, TIER_HDR_SIZE);
	reopen(&env);
	/* First read after the rescan verifies, even a small range elsewhere. */
	unsigned char buf[16];
	assert_int_equal(tier_block_read(env.store, 1, 0, buf, sizeof(buf)), -EBADMSG);
	struct tier_block_fd bfd;
	assert_int_equal(tier_block_open_fd(env.store, 2, &bfd), -EBADMSG);
	assert_int_equal(tier_block_open_fd(env.store, 3, &bfd), 0);
	close(bfd.fd);
	unsigned char want[BLK];
	tt_fill(want, BLK, 3);
	assert_int_equal(tier_block_read(env.store, 3, 100, buf, sizeof(buf)), sizeof(buf));
	assert_memory_equal(buf, want + 100, sizeof(buf));
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.checksum_failures, 2);
	assert_int_equal(st.levels[0].nblocks, 1);
	tt_env_fini(&env);
}

/* A file cut short behind the store's back: even unverified range reads notice. */
static void test_truncated_file_while_running(void **state)
{
	struct tt_env env;
	size_t len = (2u << 20) + 100; /* spans io_uring chunks */
	ssd_only(&env, state, 8u << 20);
	assert_int_equal(tt_put(&env, 1, len), 0);
	char path[PATH_MAX];
	tt_block_path(&env, 0, 1, path);
	assert_int_equal(truncate(path, TIER_HDR_SIZE + (1u << 20) + 10), 0);
	unsigned char *buf = malloc(len);
	assert_non_null(buf);
	/* A range the file still has is served (written by us: trusted). */
	unsigned char want[100];
	tt_fill(buf, len, 1);
	memcpy(want, buf + 5, sizeof(want));
	assert_int_equal(tier_block_read(env.store, 1, 5, buf, 100), 100);
	assert_memory_equal(buf, want, sizeof(want));
	/* A range past the cut is not. */
	assert_int_equal(tier_block_read(env.store, 1, 1000, buf, len - 2000), -EBADMSG);
	assert_false(tier_block_exists(env.store, 1, NULL));
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.checksum_failures, 1);
	free(buf);
	tt_env_fini(&env);
}

static void test_corrupt_caught_on_demotion(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 1, 2, 2);
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	char path[PATH_MAX];
	tt_block_path(&env, 0, 1, path);
	tt_flip_byte(path, TIER_HDR_SIZE + 5);
	/* MEM is trusted on read; the demotion copy checks the CRC. */
	assert_int_equal(tt_put(&env, 2, BLK), 0);
	assert_int_equal(tt_tier_of(&env, 1), -1);
	assert_int_equal(tt_count_files(env.paths[1], ".blk"), 0);
	assert_int_equal(tt_count_files(env.paths[1], ".tmp."), 0);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.checksum_failures, 1);
	assert_int_equal(st.demotions, 0);
	assert_int_equal(st.levels[1].used, 0);
	tt_env_fini(&env);
}

static void test_restart_keeps_ssd_hdd_drops_mem(void **state)
{
	struct tt_env env;
	three_tiers(&env, state, 2, 2, 2);
	for (uint64_t id = 1; id <= 6; id++) {
		env.now += 10;
		assert_int_equal(tt_put(&env, id, BLK - id), 0);
	}
	assert_int_equal(tier_block_pin(env.store, 3, true), 0);
	struct tier_stats before;
	tier_stats_get(env.store, &before);
	reopen(&env);
	for (uint64_t id = 1; id <= 2; id++)
		assert_int_equal(tt_tier_of(&env, id), 2);
	for (uint64_t id = 3; id <= 4; id++)
		assert_int_equal(tt_tier_of(&env, id), 1);
	for (uint64_t id = 5; id <= 6; id++)
		assert_int_equal(tt_tier_of(&env, id), -1);
	assert_int_equal(tt_count_files(env.paths[0], ".blk"), 0);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.levels[0].used, 0);
	assert_int_equal(st.levels[1].used, before.levels[1].used);
	assert_int_equal(st.levels[2].used, before.levels[2].used);
	assert_int_equal(st.levels[1].nblocks, 2);
	assert_int_equal(st.checksum_failures, 0);
	for (uint64_t id = 1; id <= 4; id++)
		tt_expect_block(&env, id, BLK - id);
	/* Pins are not persisted. */
	struct tier_block_info *infos;
	size_t n;
	assert_int_equal(tier_blocks_list(env.store, &infos, &n), 0);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++)
		assert_false(infos[i].pinned);
	free(infos);
	tt_env_fini(&env);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_torn_and_foreign_files_on_open(void **state)
{
	struct tt_env env;
	ssd_only(&env, state, 1 << 20);
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	assert_int_equal(tt_put(&env, 2, BLK), 0);
	tt_env_close(&env);

	char path[PATH_MAX], good[PATH_MAX];
	/* A write interrupted before its rename. */
	snprintf(path, sizeof(path), "%s/0000000000000009.tmp.123.4", env.paths[0]);
	write_file(path, "partial", 7);
	/* A block cut short (header says BLK bytes). */
	tt_block_path(&env, 0, 2, path);
	assert_int_equal(truncate(path, TIER_HDR_SIZE + 100), 0);
	/* A header naming another id than the file name. */
	tt_block_path(&env, 0, 1, good);
	tt_block_path(&env, 0, 5, path);
	assert_int_equal(link(good, path), 0);
	/* Garbage with a block name, and a file that is not ours. */
	tt_block_path(&env, 0, 6, path);
	write_file(path, "garbage-garbage-garbage-garbage-garbage", 39);
	snprintf(path, sizeof(path), "%s/notes.txt", env.paths[0]);
	write_file(path, "keep me", 7);

	tt_env_open(&env);
	assert_int_equal(tt_count_files(env.paths[0], ".tmp."), 0);
	assert_int_equal(tt_count_files(env.paths[0], ".blk"), 1);
	assert_int_equal(tt_count_files(env.paths[0], "notes.txt"), 1);
	assert_int_equal(tt_tier_of(&env, 1), 0);
	assert_int_equal(tt_tier_of(&env, 2), -1);
	assert_int_equal(tt_tier_of(&env, 5), -1);
	tt_expect_block(&env, 1, BLK);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.checksum_failures, 3);
	assert_int_equal(st.levels[0].used, BLK);
	tt_env_fini(&env);
}

static void set_mtime(const char *path, time_t sec)
{
	struct timespec ts[2] = { { .tv_sec = sec }, { .tv_sec = sec } };
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_rescan_enforces_shrunk_quota_oldest_first(void **state)
{
	struct tt_env env;
	ssd_only(&env, state, 3 * BLK);
	char path[PATH_MAX];
	time_t mtimes[] = { 0, 3000, 1000, 2000 }; /* block 2 is the oldest file */
	for (uint64_t id = 1; id <= 3; id++) {
		assert_int_equal(tt_put(&env, id, BLK), 0);
		tt_block_path(&env, 0, id, path);
		set_mtime(path, mtimes[id]);
	}
	tt_env_close(&env);
	env.cfg.levels[0].dirs[0].quota = 2 * BLK;
	tt_env_open(&env);
	assert_int_equal(tt_tier_of(&env, 2), -1);
	assert_int_equal(tt_tier_of(&env, 1), 0);
	assert_int_equal(tt_tier_of(&env, 3), 0);
	/* And the next victim is the next oldest file. */
	assert_int_equal(tt_put(&env, 4, BLK), 0);
	assert_int_equal(tt_tier_of(&env, 3), -1);
	assert_int_equal(tt_tier_of(&env, 1), 0);
	tt_env_fini(&env);
}

static void test_env_forces_sync_io(void **state)
{
	(void)state;
	struct tt_env env;
	enum tier_medium media[] = { TIER_MEDIUM_SSD };
	uint64_t quotas[] = { 1 << 20 };
	tt_env_init(&env, 1, media, quotas, TIER_POLICY_LRU, TIER_IO_AUTO);
	setenv("STRATA_TIER_IO", "sync", 1);
	tt_env_open(&env);
	unsetenv("STRATA_TIER_IO");
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_false(st.io_uring);
	assert_int_equal(tt_put(&env, 1, 3 * BLK), 0);
	tt_expect_block(&env, 1, 3 * BLK);
	tt_env_close(&env);
	tt_env_open(&env); /* AUTO, on this machine: a ring */
	tier_stats_get(env.store, &st);
	assert_true(st.io_uring);
	tt_expect_block(&env, 1, 3 * BLK);
	tt_env_fini(&env);
}

/* Runs fn with stderr captured into a temp file; returns how many lines contain needle. */
static int count_log_lines(void (*fn)(struct tt_env *), struct tt_env *env, const char *needle)
{
	char tmpl[] = "/tmp/strata-tier-log-XXXXXX";
	int logfd = mkstemp(tmpl);
	assert_true(logfd >= 0);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(logfd, 2), 2);
	fn(env);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	FILE *f = fdopen(logfd, "r");
	assert_non_null(f);
	rewind(f);
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, needle))
			n++;
	}
	fclose(f);
	unlink(tmpl);
	return n;
}

static void three_big_puts(struct tt_env *env)
{
	for (uint64_t id = 10; id < 13; id++)
		assert_int_equal(tt_put(env, id, 128 * 1024), -EFBIG);
}

/*
 * A real fault, even as root: RLIMIT_FSIZE makes writes past 64 KiB fail
 * with EFBIG. The failures are counted, logged once, leave no temp files and
 * no reserved space, and other blocks stay readable.
 */
static void test_write_fault_file_size_limit(void **state)
{
	struct tt_env env;
	ssd_only(&env, state, 1 << 20);
	assert_int_equal(tt_put(&env, 1, BLK), 0);

	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 64 * 1024;
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int logged = count_log_lines(three_big_puts, &env, "failed");
	assert_int_equal(tt_put(&env, 2, BLK), 0); /* small writes still work */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);

	assert_int_equal(logged, 1);
	tt_expect_block(&env, 1, BLK);
	tt_expect_block(&env, 2, BLK);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.write_errors, 3);
	assert_int_equal(st.levels[0].used, 2 * BLK);
	assert_int_equal(st.levels[0].nblocks, 2);
	assert_int_equal(tt_count_files(env.paths[0], ".tmp."), 0);
	assert_int_equal(tt_put(&env, 10, 128 * 1024), 0);
	tt_expect_block(&env, 10, 128 * 1024);
	tt_env_fini(&env);
}

/*
 * A real fault: the SSD directory is replaced by a regular file while the
 * store runs. Puts that land there fail with ENOTDIR; MEM blocks stay
 * readable.
 */
static void test_write_fault_dir_replaced_by_file(void **state)
{
	struct tt_env env;
	enum tier_medium media[] = { TIER_MEDIUM_MEM, TIER_MEDIUM_SSD };
	uint64_t quotas[] = { BLK, 4 * BLK };
	tt_env_init(&env, 2, media, quotas, TIER_POLICY_LRU, mode_of(state));
	tt_env_open(&env);
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	assert_int_equal(tier_block_pin(env.store, 1, true), 0);
	char moved[PATH_MAX];
	snprintf(moved, sizeof(moved), "%s.moved", env.paths[1]);
	assert_int_equal(rename(env.paths[1], moved), 0);
	write_file(env.paths[1], "x", 1);
	for (uint64_t id = 2; id < 5; id++)
		assert_int_equal(tt_put(&env, id, BLK), -ENOTDIR);
	tt_expect_block(&env, 1, BLK);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.write_errors, 3);
	assert_int_equal(st.levels[1].used, 0);
	/* Put right, the directory works again. */
	assert_int_equal(unlink(env.paths[1]), 0);
	assert_int_equal(rename(moved, env.paths[1]), 0);
	assert_int_equal(tt_put(&env, 2, BLK), 0);
	assert_int_equal(tt_tier_of(&env, 2), 1);
	tt_env_fini(&env);
}

struct fault_plan {
	uint64_t bad_id_min; /* ids >= this fail */
	int err;
};

static int fault_hook(void *ctx, uint64_t id)
{
	const struct fault_plan *plan = ctx;
	return id >= plan->bad_id_min ? plan->err : 0;
}

/* Fault injection (named as such): a device that returns ENOSPC. */
static void test_fault_injection_enospc(void **state)
{
	struct tt_env env;
	struct fault_plan plan = { .bad_id_min = 100, .err = -ENOSPC };
	three_tiers(&env, state, 1, 2, 2);
	tt_env_close(&env);
	env.cfg.fault_inject_write = fault_hook;
	env.cfg.fault_ctx = &plan;
	tt_env_open(&env);
	assert_int_equal(tt_put(&env, 1, BLK), 0);
	for (uint64_t id = 100; id < 105; id++)
		assert_int_equal(tt_put(&env, id, BLK), -ENOSPC);
	tt_expect_block(&env, 1, BLK);
	struct tier_stats st;
	tier_stats_get(env.store, &st);
	assert_int_equal(st.write_errors, 5);
	for (unsigned l = 0; l < 3; l++)
		assert_int_equal(tt_count_files(env.paths[l], ".tmp."), 0);
	/* Block 1 was demoted to make room for 100, whose write then failed. */
	assert_int_equal(tt_tier_of(&env, 1), 1);
	assert_int_equal(st.levels[0].used, 0);
	assert_int_equal(st.levels[1].used, BLK);
	tt_env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TT_BOTH_IO(test_large_block_roundtrip),
		TT_BOTH_IO(test_corrupt_block_detected_and_dropped),
		TT_BOTH_IO(test_corrupt_after_restart_range_and_fd),
		TT_BOTH_IO(test_truncated_file_while_running),
		TT_BOTH_IO(test_corrupt_caught_on_demotion),
		TT_BOTH_IO(test_restart_keeps_ssd_hdd_drops_mem),
		TT_BOTH_IO(test_torn_and_foreign_files_on_open),
		TT_BOTH_IO(test_rescan_enforces_shrunk_quota_oldest_first),
		cmocka_unit_test(test_env_forces_sync_io),
		TT_BOTH_IO(test_write_fault_file_size_limit),
		TT_BOTH_IO(test_write_fault_dir_replaced_by_file),
		TT_BOTH_IO(test_fault_injection_enospc),
	};
	return cmocka_run_group_tests(tests, NULL, tt_group_teardown);
}
