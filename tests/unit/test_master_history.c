/* daemon/master/history.c: the ring of cluster samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/master/history.h"

#include <cjson/cJSON.h>
#include <string.h>

static struct history_sample at(int64_t t)
{
	struct history_sample s;
	memset(&s, 0, sizeof(s));
	s.t_ms = t;
	s.read_requests_total = t * 10;
	return s;
}

static void test_new_rejects_zero_capacity(void **state)
{
	(void)state;
	assert_null(history_new(0));
}

static void test_empty_copies_nothing(void **state)
{
	(void)state;
	struct history *h = history_new(4);
	assert_non_null(h);
	struct history_sample out[4];
	assert_int_equal(history_copy(h, -1, out, 4), 0);
	assert_int_equal(history_capacity(h), 4);
	history_free(h);
}

static void test_keeps_order_until_full(void **state)
{
	(void)state;
	struct history *h = history_new(4);
	for (int64_t t = 1; t <= 3; t++) {
		struct history_sample s = at(t);
		history_push(h, &s);
	}
	struct history_sample out[4];
	assert_int_equal(history_copy(h, -1, out, 4), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(out[i].t_ms, i + 1);
		assert_int_equal(out[i].read_requests_total, (i + 1) * 10);
	}
	history_free(h);
}

/* Past capacity the oldest go first, and the rest stay oldest first
 * across the wrap of the ring. */
static void test_drops_oldest_when_full(void **state)
{
	(void)state;
	struct history *h = history_new(3);
	for (int64_t t = 1; t <= 7; t++) {
		struct history_sample s = at(t);
		history_push(h, &s);
	}
	struct history_sample out[3];
	assert_int_equal(history_copy(h, -1, out, 3), 3);
	assert_int_equal(out[0].t_ms, 5);
	assert_int_equal(out[1].t_ms, 6);
	assert_int_equal(out[2].t_ms, 7);
	history_free(h);
}

static void test_since_returns_only_newer(void **state)
{
	(void)state;
	struct history *h = history_new(3);
	for (int64_t t = 1; t <= 5; t++) {
		struct history_sample s = at(t * 100);
		history_push(h, &s);
	}
	struct history_sample out[3];
	assert_int_equal(history_copy(h, 400, out, 3), 1);
	assert_int_equal(out[0].t_ms, 500);
	assert_int_equal(history_copy(h, 350, out, 3), 2);
	assert_int_equal(out[0].t_ms, 400);
	assert_int_equal(history_copy(h, 500, out, 3), 0);
	/* Older than everything kept: all of it. */
	assert_int_equal(history_copy(h, 0, out, 3), 3);
	assert_int_equal(out[0].t_ms, 300);
	history_free(h);
}

/* A small out buffer gets the newest samples. */
static void test_max_keeps_newest(void **state)
{
	(void)state;
	struct history *h = history_new(5);
	for (int64_t t = 1; t <= 5; t++) {
		struct history_sample s = at(t);
		history_push(h, &s);
	}
	struct history_sample out[2];
	assert_int_equal(history_copy(h, -1, out, 2), 2);
	assert_int_equal(out[0].t_ms, 4);
	assert_int_equal(out[1].t_ms, 5);
	history_free(h);
}

static void test_fill_from_metrics(void **state)
{
	(void)state;
	cJSON *cluster = cJSON_Parse("{\"read_requests_total\": 12, \"block_hits_total\": 9,"
				     "\"bytes_from_ufs_total\": 4096, \"unknown_total\": 3,"
				     "\"block_misses_total\": \"x\", \"evictions_total\": -1}");
	assert_non_null(cluster);
	struct history_gauges g = { .workers_live = 2, .workers_lost = 1, .capacity_bytes = 100,
				    .used_bytes = 40, .cached_blocks = 7 };
	struct history_sample s;
	history_sample_fill(&s, 1234, cluster, &g);
	assert_int_equal(s.t_ms, 1234);
	assert_int_equal(s.read_requests_total, 12);
	assert_int_equal(s.block_hits_total, 9);
	assert_int_equal(s.bytes_from_ufs_total, 4096);
	assert_int_equal(s.block_misses_total, 0); /* not a number: 0 */
	assert_int_equal(s.workers_live, 2);
	assert_int_equal(s.workers_lost, 1);
	assert_int_equal(s.used_bytes, 40);
	assert_int_equal(s.cached_blocks, 7);
	cJSON_Delete(cluster);

	/* No worker reported yet. */
	history_sample_fill(&s, 5, NULL, &g);
	assert_int_equal(s.read_requests_total, 0);
	assert_int_equal(s.capacity_bytes, 100);
}

static void test_field_names_match_values(void **state)
{
	(void)state;
	size_t n;
	const char *const *names = history_field_names(&n);
	assert_true(n >= 10);
	struct history_sample s;
	memset(&s, 0, sizeof(s));
	s.workers_live = 3;
	s.store_read_errors_total = 99;
	assert_string_equal(names[0], "workers_live");
	assert_int_equal(history_field(&s, 0), 3);
	assert_string_equal(names[n - 1], "store_read_errors_total");
	assert_int_equal(history_field(&s, n - 1), 99);
	assert_int_equal(history_field(&s, n), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects_zero_capacity),
		cmocka_unit_test(test_empty_copies_nothing),
		cmocka_unit_test(test_keeps_order_until_full),
		cmocka_unit_test(test_drops_oldest_when_full),
		cmocka_unit_test(test_since_returns_only_newer),
		cmocka_unit_test(test_max_keeps_newest),
		cmocka_unit_test(test_fill_from_metrics),
		cmocka_unit_test(test_field_names_match_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
