/* console/tui/rates.c: counter differences, hit ratios, sparklines. */
#include "console/tui/rates.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_rate_over_interval(void **state)
{
	double d = -1, r = -1;
	assert_int_equal(rates_counter(100, 350, true, 500, &d, &r), 0);
	assert_true(d == 250);
	assert_true(r == 500); /* 250 in half a second */
	/* no change: a real zero, not "unknown" */
	assert_int_equal(rates_counter(350, 350, true, 1000, &d, &r), 0);
	assert_true(d == 0 && r == 0);
}

static void test_first_sample_has_no_rate(void **state)
{
	double d = 7, r = 7;
	assert_int_equal(rates_counter(0, 1000, false, 1000, &d, &r), -EAGAIN);
	assert_true(d == 7 && r == 7); /* untouched */
}

static void test_zero_or_negative_interval(void **state)
{
	double r = 7;
	assert_int_equal(rates_counter(1, 5, true, 0, NULL, &r), -EINVAL);
	assert_int_equal(rates_counter(1, 5, true, -20, NULL, &r), -EINVAL);
	assert_true(r == 7);
}

static void test_counter_reset_counts_from_zero(void **state)
{
	double d = -1, r = -1;
	/* the worker restarted: 1000 -> 40 means 40 since the restart */
	assert_int_equal(rates_counter(1000, 40, true, 2000, &d, &r), 0);
	assert_true(d == 40);
	assert_true(r == 20);
	assert_int_equal(rates_counter(1000, 0, true, 1000, &d, &r), 0);
	assert_true(d == 0 && r == 0);
}

static void test_percent(void **state)
{
	assert_true(rates_percent(1, 4) == 25);
	assert_true(rates_percent(0, 0) < 0);
	assert_true(rates_percent(3, 3) == 100);
}

static void test_hit_series(void **state)
{
	const int64_t hits[] = { 0, 0, 10, 10, 30, 5 };
	const int64_t misses[] = { 0, 10, 10, 10, 30, 0 };
	double out[5];
	assert_int_equal(rates_hit_series(hits, misses, 6, out), 5);
	assert_true(out[0] == 0);   /* 10 misses */
	assert_true(out[1] == 1);   /* 10 hits */
	assert_true(out[2] < 0);    /* no reads */
	assert_true(out[3] == 0.5); /* 20 hits, 20 misses */
	assert_true(out[4] < 0);    /* counters went down: a worker lost */
	assert_int_equal(rates_hit_series(hits, misses, 1, out), 0);
	assert_int_equal(rates_hit_series(hits, misses, 0, out), 0);
}

static void test_sparkline(void **state)
{
	const double v[] = { 0, 1, -1, 0.5, 2 };
	char buf[64];
	assert_int_equal(rates_sparkline(v, 5, 10, true, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "_# =#"); /* 0, 1, none, half, clamped */
	/* only the last `width` values */
	assert_int_equal(rates_sparkline(v, 5, 2, true, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "=#");
	assert_int_equal(rates_sparkline(v, 2, 10, false, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "\xe2\x96\x81\xe2\x96\x88");
	/* a short buffer: whole cells only, always terminated */
	assert_int_equal(rates_sparkline(v, 2, 10, false, buf, 5), 1);
	assert_int_equal(strlen(buf), 3);
	assert_int_equal(rates_sparkline(v, 0, 10, false, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_ring_keeps_the_newest(void **state)
{
	static struct rates_ring r;
	static int64_t h[RATES_RING_MAX], m[RATES_RING_MAX];
	memset(&r, 0, sizeof(r));
	assert_int_equal(rates_ring_copy(&r, h, m), 0);
	for (int64_t i = 0; i < RATES_RING_MAX + 3; i++)
		rates_ring_push(&r, i, 2 * i);
	assert_int_equal(rates_ring_copy(&r, h, m), RATES_RING_MAX);
	assert_int_equal(h[0], 3);
	assert_int_equal(m[0], 6);
	assert_int_equal(h[RATES_RING_MAX - 1], RATES_RING_MAX + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_over_interval),
		cmocka_unit_test(test_first_sample_has_no_rate),
		cmocka_unit_test(test_zero_or_negative_interval),
		cmocka_unit_test(test_counter_reset_counts_from_zero),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_hit_series),
		cmocka_unit_test(test_sparkline),
		cmocka_unit_test(test_ring_keeps_the_newest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
