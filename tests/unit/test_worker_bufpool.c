/*
 * The worker's kept block buffers (daemon/worker/bufpool.c): a freed
 * buffer comes back to the next taker that fits, the smallest that fits
 * first; small buffers and what exceeds the byte budget are freed; trim
 * frees what sat unused for longer than asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon/worker/bufpool.h"

#include <stdlib.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

static int reset(void **state)
{
	(void)state;
	bufpool_trim(0, 0);
	assert_int_equal(bufpool_kept(), 0);
	return 0;
}

static void test_reuse_smallest_fit(void **state)
{
	(void)state;
	size_t c4, c8;
	char *b4 = bufpool_get(4 * MiB, &c4), *b8 = bufpool_get(8 * MiB, &c8);
	assert_non_null(b4);
	assert_non_null(b8);
	assert_int_equal(c4, 4 * MiB);
	memset(b4, 1, c4);
	bufpool_put(b8, c8, 100);
	bufpool_put(b4, c4, 100);
	assert_int_equal(bufpool_kept(), 12 * MiB);
	size_t c;
	/* 3 MiB fits both: the 4 MiB one comes back, content as left */
	char *again = bufpool_get(3 * MiB, &c);
	assert_ptr_equal(again, b4);
	assert_int_equal(c, 4 * MiB);
	assert_int_equal(again[c - 1], 1);
	/* 6 MiB fits only the 8 MiB one */
	char *big = bufpool_get(6 * MiB, &c);
	assert_ptr_equal(big, b8);
	assert_int_equal(bufpool_kept(), 0);
	/* nothing kept fits: a fresh one of exactly the size asked */
	char *fresh = bufpool_get(5 * MiB, &c);
	assert_non_null(fresh);
	assert_true(fresh != b4 && fresh != b8);
	assert_int_equal(c, 5 * MiB);
	bufpool_put(again, 4 * MiB, 100);
	bufpool_put(big, 8 * MiB, 100);
	bufpool_put(fresh, c, 100);
}

static void test_small_not_kept(void **state)
{
	(void)state;
	size_t c;
	char *b = bufpool_get(16 << 10, &c);
	assert_non_null(b);
	assert_int_equal(c, 16 << 10);
	bufpool_put(b, c, 5);
	assert_int_equal(bufpool_kept(), 0);
	/* a zero-length ask still gets a buffer */
	b = bufpool_get(0, &c);
	assert_non_null(b);
	assert_int_equal(c, 1);
	bufpool_put(b, c, 5);
	bufpool_put(NULL, 0, 5); /* no-op */
	assert_int_equal(bufpool_kept(), 0);
}

static void test_budget(void **state)
{
	(void)state;
	/* BUFPOOL_KEEP_BYTES / 4 MiB fit, the rest is freed */
	size_t n = BUFPOOL_KEEP_BYTES / (4 * MiB) + 3, c;
	char **bufs = calloc(n, sizeof(*bufs));
	assert_non_null(bufs);
	for (size_t i = 0; i < n; i++)
		assert_non_null(bufs[i] = bufpool_get(4 * MiB, &c));
	for (size_t i = 0; i < n; i++)
		bufpool_put(bufs[i], 4 * MiB, 7);
	assert_int_equal(bufpool_kept(), BUFPOOL_KEEP_BYTES);
	/* one buffer larger than the whole budget is never kept */
	bufpool_trim(0, 0);
	char *huge = bufpool_get(BUFPOOL_KEEP_BYTES + 1, &c);
	assert_non_null(huge);
	bufpool_put(huge, c, 7);
	assert_int_equal(bufpool_kept(), 0);
	free(bufs);
}

static void test_slots(void **state)
{
	(void)state;
	/* more small-enough buffers than slots: the extra ones are freed */
	size_t n = BUFPOOL_SLOTS + 2, c;
	char **bufs = calloc(n, sizeof(*bufs));
	assert_non_null(bufs);
	for (size_t i = 0; i < n; i++)
		assert_non_null(bufs[i] = bufpool_get(BUFPOOL_MIN_BYTES, &c));
	for (size_t i = 0; i < n; i++)
		bufpool_put(bufs[i], BUFPOOL_MIN_BYTES, 7);
	assert_int_equal(bufpool_kept(), BUFPOOL_SLOTS * BUFPOOL_MIN_BYTES);
	free(bufs);
}

static void test_trim_idle(void **state)
{
	(void)state;
	size_t c;
	char *old = bufpool_get(2 * MiB, &c), *recent = bufpool_get(3 * MiB, &c);
	bufpool_put(old, 2 * MiB, 1000);
	bufpool_put(recent, 3 * MiB, 9000);
	/* at 10000, idle 5000: only the one put at 1000 goes */
	assert_int_equal(bufpool_trim(10000, 5000), 2 * MiB);
	assert_int_equal(bufpool_kept(), 3 * MiB);
	assert_int_equal(bufpool_trim(10000, 5000), 0);
	assert_int_equal(bufpool_trim(20000, 5000), 3 * MiB);
	assert_int_equal(bufpool_kept(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_reuse_smallest_fit, reset),
		cmocka_unit_test_setup(test_small_not_kept, reset),
		cmocka_unit_test_setup(test_budget, reset),
		cmocka_unit_test_setup(test_slots, reset),
		cmocka_unit_test_setup(test_trim_idle, reset),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	bufpool_trim(0, 0);
	return rc;
}
