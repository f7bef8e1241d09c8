/* Tests daemon/worker/pathstats.c: reads land under the longest mount at a
 * '/' boundary, counters survive a new mount list, the top-path sketch
 * keeps the heavy hitters and halves its counts every half-life, and the
 * JSON the worker's GET /api/v1/metrics adds. */
#include "daemon/worker/pathstats.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const struct pathstats_mount *find(const struct pathstats_mount *m, size_t n,
					  const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].path, path) == 0)
			return &m[i];
	return NULL;
}

static void test_longest_mount_wins(void **state)
{
	(void)state;
	struct pathstats *ps;
	assert_int_equal(pathstats_new(&ps), 0);
	pathstats_request(ps, "/early", 10, 1000); /* before any mount list */
	const char *mounts[] = { "/", "/s3", "/s3/deep" };
	assert_int_equal(pathstats_set_mounts(ps, mounts, 3), 0);
	pathstats_request(ps, "/s3/deep/x", 100, 1000);
	pathstats_request(ps, "/s3/deeper", 7, 1000); /* not under /s3/deep */
	pathstats_request(ps, "/s3", 1, 1000);
	pathstats_request(ps, "/other/y", 5, 1000);
	pathstats_blocks(ps, "/s3/deep/x", true, 2, 64);
	pathstats_cached_read(ps, "/s3/x", 16, 1, 1000); /* one call: request and hit */
	pathstats_blocks(ps, "/s3/deep/x", false, 1, 32);
	static struct pathstats_mount m[8];
	size_t n = pathstats_mounts(ps, m, 8);
	assert_int_equal(n, 4);
	const struct pathstats_mount *deep = find(m, n, "/s3/deep");
	const struct pathstats_mount *s3 = find(m, n, "/s3");
	const struct pathstats_mount *root = find(m, n, "/");
	const struct pathstats_mount *none = find(m, n, "");
	assert_non_null(deep);
	assert_non_null(s3);
	assert_non_null(root);
	assert_non_null(none);
	assert_int_equal(deep->requests, 1);
	assert_int_equal(deep->bytes_requested, 100);
	assert_int_equal(deep->block_hits, 2);
	assert_int_equal(deep->block_misses, 1);
	assert_int_equal(deep->bytes_from_cache, 64);
	assert_int_equal(deep->bytes_from_ufs, 32);
	assert_int_equal(s3->requests, 3);
	assert_int_equal(s3->block_hits, 1);
	assert_int_equal(s3->bytes_from_cache, 16);
	assert_int_equal(root->requests, 1);
	assert_int_equal(none->requests, 1);

	/* A new list keeps the counters of mounts still listed. */
	const char *fewer[] = { "/s3/deep", "/new" };
	assert_int_equal(pathstats_set_mounts(ps, fewer, 2), 0);
	n = pathstats_mounts(ps, m, 8);
	assert_int_equal(n, 3); /* /s3/deep, /new, and "" */
	assert_int_equal(find(m, n, "/s3/deep")->requests, 1);
	assert_int_equal(find(m, n, "/new")->requests, 0);
	assert_null(find(m, n, "/s3"));
	/* Without a root mount, other paths count under "". */
	pathstats_request(ps, "/elsewhere", 1, 1000);
	n = pathstats_mounts(ps, m, 8);
	assert_int_equal(find(m, n, "")->requests, 2);
	/* max bounds the copy */
	assert_int_equal(pathstats_mounts(ps, m, 1), 1);
	pathstats_free(ps);
}

static void test_top_paths_sketch_and_decay(void **state)
{
	(void)state;
	struct pathstats *ps;
	assert_int_equal(pathstats_new(&ps), 0);
	int64_t t = 5000;
	for (int i = 0; i < 50; i++)
		pathstats_request(ps, "/hot", 1000, t);
	for (int i = 0; i < 20; i++)
		pathstats_request(ps, "/warm", 10, t);
	/* many one-off paths: more than the sketch holds */
	for (int i = 0; i < 3 * PATHSTATS_TOP; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/cold/%d", i);
		pathstats_request(ps, p, 1, t);
	}
	static struct pathstats_path top[PATHSTATS_TOP];
	size_t n = pathstats_top(ps, t, top, 3);
	assert_int_equal(n, 3);
	assert_string_equal(top[0].path, "/hot");
	assert_true(top[0].requests == 50);
	assert_true(top[0].bytes == 50000);
	assert_true(top[0].error == 0);
	assert_string_equal(top[1].path, "/warm");
	assert_true(top[1].requests == 20);
	/* one-off paths that replaced others carry their possible overcount */
	n = pathstats_top(ps, t, top, PATHSTATS_TOP);
	assert_int_equal(n, PATHSTATS_TOP);
	for (size_t i = 2; i < n; i++)
		assert_true(top[i].requests - top[i].error <= 1.0);

	/* one half-life later everything counts half */
	n = pathstats_top(ps, t + PATHSTATS_HALF_LIFE_MS, top, 1);
	assert_int_equal(n, 1);
	assert_true(top[0].requests == 25);
	/* long idle: the counts fade out and nothing is listed */
	n = pathstats_top(ps, t + 40 * (int64_t)PATHSTATS_HALF_LIFE_MS, top, PATHSTATS_TOP);
	assert_int_equal(n, 0);
	pathstats_free(ps);
}

static void test_json(void **state)
{
	(void)state;
	struct pathstats *ps;
	assert_int_equal(pathstats_new(&ps), 0);
	const char *mounts[] = { "/" };
	assert_int_equal(pathstats_set_mounts(ps, mounts, 1), 0);
	pathstats_request(ps, "/a", 3, 100);
	pathstats_request(ps, "/a", 3, 100);
	pathstats_request(ps, "/b", 1, 100);
	cJSON *o = cJSON_CreateObject();
	assert_int_equal(pathstats_add_json(ps, o, 1, 100), 0);
	const cJSON *ms = cJSON_GetObjectItem(o, "mounts");
	assert_int_equal(cJSON_GetArraySize(ms), 1);
	const cJSON *m0 = cJSON_GetArrayItem(ms, 0);
	assert_string_equal(cJSON_GetObjectItem(m0, "mount")->valuestring, "/");
	assert_int_equal(cJSON_GetObjectItem(m0, "read_requests")->valuedouble, 3);
	assert_int_equal(cJSON_GetObjectItem(m0, "bytes_requested")->valuedouble, 7);
	const cJSON *tp = cJSON_GetObjectItem(o, "top_paths");
	assert_int_equal(cJSON_GetArraySize(tp), 1); /* top = 1 */
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(tp, 0), "path")->valuestring,
			    "/a");
	cJSON_Delete(o);
	pathstats_free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_mount_wins),
		cmocka_unit_test(test_top_paths_sketch_and_decay),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
