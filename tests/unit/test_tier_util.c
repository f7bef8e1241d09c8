#include "test_tier_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

enum tier_io_mode tt_mode_sync = TIER_IO_SYNC, tt_mode_uring = TIER_IO_URING;

/* Roots made and not yet deleted; for tt_group_teardown. */
#define TT_MAX_ROOTS 128
static char tt_roots[TT_MAX_ROOTS][256];

static void roots_add(const char *root)
{
	for (int i = 0; i < TT_MAX_ROOTS; i++) {
		if (!tt_roots[i][0]) {
			snprintf(tt_roots[i], sizeof(tt_roots[i]), "%s", root);
			return;
		}
	}
}

static void roots_del(const char *root)
{
	for (int i = 0; i < TT_MAX_ROOTS; i++) {
		if (strcmp(tt_roots[i], root) == 0)
			tt_roots[i][0] = '\0';
	}
}

static int64_t tt_clock(void *ctx)
{
	return ((struct tt_env *)ctx)->now;
}

void tt_env_init(struct tt_env *env, unsigned nlevels, const enum tier_medium *media,
		 const uint64_t *quotas, enum tier_policy_kind policy, enum tier_io_mode mode)
{
	memset(env, 0, sizeof(*env));
	snprintf(env->root, sizeof(env->root), "/tmp/strata-tier-test-XXXXXX");
	assert_non_null(mkdtemp(env->root));
	roots_add(env->root);
	env->cfg.nlevels = nlevels;
	env->cfg.policy = policy;
	env->cfg.io_mode = mode;
	env->cfg.now_ms = tt_clock;
	env->cfg.now_ctx = env;
	env->now = 1000;
	for (unsigned l = 0; l < nlevels; l++) {
		snprintf(env->paths[l], sizeof(env->paths[l]), "%s/%s-%u", env->root,
			 tier_medium_name(media[l]), l);
		env->cfg.levels[l].medium = media[l];
		env->cfg.levels[l].ndirs = 1;
		env->cfg.levels[l].dirs[0].path = env->paths[l];
		env->cfg.levels[l].dirs[0].quota = quotas[l];
	}
}

void tt_env_open(struct tt_env *env)
{
	char err[256] = "";
	int rc = tier_store_open(&env->cfg, &env->store, err, sizeof(err));
	if (rc != 0)
		fail_msg("tier_store_open: %d %s", rc, err);
	/* The mode asked for is the mode running: both paths really get tested. */
	struct tier_stats st;
	tier_stats_get(env->store, &st);
	if (env->cfg.io_mode == TIER_IO_URING)
		assert_true(st.io_uring);
	if (env->cfg.io_mode == TIER_IO_SYNC)
		assert_false(st.io_uring);
}

void tt_env_close(struct tt_env *env)
{
	tier_store_close(env->store);
	env->store = NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tt_env_fini(struct tt_env *env)
{
	if (env->store)
		tt_env_close(env);
	nftw(env->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	roots_del(env->root);
}

int tt_group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < TT_MAX_ROOTS; i++) {
		if (tt_roots[i][0]) {
			nftw(tt_roots[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
			tt_roots[i][0] = '\0';
		}
	}
	return 0;
}

void tt_fill(void *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

int tt_put(struct tt_env *env, uint64_t id, size_t len)
{
	char err[256] = "";
	unsigned char *data = malloc(len ? len : 1);
	assert_non_null(data);
	tt_fill(data, len, id);
	int rc = tier_block_put(env->store, id, data, len, err, sizeof(err));
	free(data);
	return rc;
}

void tt_expect_block(struct tt_env *env, uint64_t id, size_t len)
{
	unsigned char *want = malloc(len + 1), *got = malloc(len + 1);
	assert_non_null(want);
	assert_non_null(got);
	tt_fill(want, len, id);
	ssize_t n = tier_block_read(env->store, id, 0, got, len + 1);
	if (n != (ssize_t)len)
		fail_msg("block %" PRIu64 ": read returned %zd, want %zu", id, n, len);
	assert_memory_equal(want, got, len);
	free(want);
	free(got);
}

int tt_tier_of(struct tt_env *env, uint64_t id)
{
	unsigned tier;
	return tier_block_exists(env->store, id, &tier) ? (int)tier : -1;
}

void tt_block_path(const struct tt_env *env, unsigned level, uint64_t id, char *out)
{
	snprintf(out, PATH_MAX, "%s/%016" PRIx64 ".blk", env->paths[level], id);
}

int tt_count_files(const char *dir, const char *needle)
{
	int n = 0;
	DIR *dh = opendir(dir);
	assert_non_null(dh);
	struct dirent *de;
	while ((de = readdir(dh)) != NULL) {
		if (strstr(de->d_name, needle))
			n++;
	}
	closedir(dh);
	return n;
}

void tt_flip_byte(const char *path, long offset)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	unsigned char b;
	assert_int_equal(pread(fd, &b, 1, offset), 1);
	b ^= 0xff;
	assert_int_equal(pwrite(fd, &b, 1, offset), 1);
	close(fd);
}
