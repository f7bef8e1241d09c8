#ifndef STRATA_TESTS_TEST_TIER_UTIL_H
#define STRATA_TESTS_TEST_TIER_UTIL_H

/* Shared fixtures of the tier tests: a temp root with one dir per tier. */

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "tier/tier.h"

struct tt_env {
	char root[256];
	char paths[TIER_MAX_LEVELS][512];
	struct tier_config cfg;
	int64_t now; /* the store's clock; tests advance it */
	struct tier_store *store;
};

/*
 * Makes a temp root and a config of nlevels tiers (media[i], one dir
 * root/<medium-i> each with quotas[i] bytes), policy and io mode. Does not
 * open the store.
 */
void tt_env_init(struct tt_env *env, unsigned nlevels, const enum tier_medium *media,
		 const uint64_t *quotas, enum tier_policy_kind policy, enum tier_io_mode mode);
/* Opens env->store; fails the test on error. */
void tt_env_open(struct tt_env *env);
void tt_env_close(struct tt_env *env);
/* Closes the store if open and deletes the root. */
void tt_env_fini(struct tt_env *env);
/*
 * cmocka group teardown: deletes the roots of tests that failed before
 * their tt_env_fini (a failed assert jumps past it).
 */
int tt_group_teardown(void **state);

/* Fills buf with bytes derived from seed (distinct seeds, distinct data). */
void tt_fill(void *buf, size_t len, uint64_t seed);
/* Puts a block of len bytes of tt_fill(seed = id); returns put's rc. */
int tt_put(struct tt_env *env, uint64_t id, size_t len);
/* Reads the whole block and checks it equals tt_fill(id); fails the test if not. */
void tt_expect_block(struct tt_env *env, uint64_t id, size_t len);
/* Tier index of a block, or -1 if not cached. */
int tt_tier_of(struct tt_env *env, uint64_t id);
/* "<dir of level>/<id>.blk" */
void tt_block_path(const struct tt_env *env, unsigned level, uint64_t id, char *out);
/* Number of entries in dir whose name contains needle. */
int tt_count_files(const char *dir, const char *needle);
/* XORs 0xff into one byte of a file. */
void tt_flip_byte(const char *path, long offset);

/* The io mode a test runs under, as a cmocka prestate. */
extern enum tier_io_mode tt_mode_sync, tt_mode_uring;
/* Two cmocka entries: f under pread/pwrite and f under io_uring. */
#define TT_BOTH_IO(f)                                       \
	{ #f "[sync]", f, NULL, NULL, &tt_mode_sync },      \
	{                                                   \
		#f "[uring]", f, NULL, NULL, &tt_mode_uring \
	}

#endif
