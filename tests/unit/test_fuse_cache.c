/* fuse/cache.c: the attribute and listing cache of strata-fuse, and the
 * range a read fetches (fz_chunk). */
#include "fuse/fz.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define MiB (UINT64_C(1) << 20)

static struct stat file_of(off_t size)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFREG | 0644;
	st.st_size = size;
	return st;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void test_put_get_absent(void **state)
{
	struct fz_cache *c = fz_cache_new(10, 10);
	struct stat st = file_of(42), got;
	assert_non_null(c);
	assert_int_equal(fz_cache_get(c, "/a", &got), 1); /* not cached */
	fz_cache_put(c, "/a", &st);
	assert_int_equal(fz_cache_get(c, "/a", &got), 0);
	assert_int_equal(got.st_size, 42);
	fz_cache_put_absent(c, "/b");
	assert_int_equal(fz_cache_get(c, "/b", &got), -ENOENT);
	/* A put replaces an absence and the other way round. */
	fz_cache_put(c, "/b", &st);
	assert_int_equal(fz_cache_get(c, "/b", &got), 0);
	fz_cache_put_absent(c, "/a");
	assert_int_equal(fz_cache_get(c, "/a", &got), -ENOENT);
	fz_cache_free(c);
}

static void test_entries_expire(void **state)
{
	struct fz_cache *c = fz_cache_new(0.05, 0.05);
	struct stat st = file_of(1), got;
	struct fz_dirent e = { .name = "x", .st = st };
	struct fz_dir d = { 1, &e }, out;
	fz_cache_put(c, "/a", &st);
	fz_cache_dir_put(c, "/", &d);
	assert_int_equal(fz_cache_get(c, "/a", &got), 0);
	assert_int_equal(fz_cache_dir_get(c, "/", &out), 0);
	fz_dir_free(&out);
	sleep_ms(80);
	assert_int_equal(fz_cache_get(c, "/a", &got), 1);
	assert_int_equal(fz_cache_dir_get(c, "/", &out), 1);
	fz_cache_free(c);
}

static void test_zero_timeouts_cache_nothing(void **state)
{
	struct fz_cache *c = fz_cache_new(0, 0);
	struct stat st = file_of(1), got;
	struct fz_dirent e = { .name = "x", .st = st };
	struct fz_dir d = { 1, &e }, out;
	fz_cache_put(c, "/a", &st);
	fz_cache_put_absent(c, "/b");
	fz_cache_dir_put(c, "/", &d);
	assert_int_equal(fz_cache_get(c, "/a", &got), 1);
	assert_int_equal(fz_cache_get(c, "/b", &got), 1);
	assert_int_equal(fz_cache_dir_get(c, "/", &out), 1);
	fz_cache_free(c);
}

static void test_listing_is_a_copy(void **state)
{
	struct fz_cache *c = fz_cache_new(10, 10);
	struct fz_dirent es[2] = { { .name = strdup("one"), .st = file_of(1) },
				   { .name = strdup("two"), .st = file_of(2) } };
	struct fz_dir d = { 2, es }, out, again;
	fz_cache_dir_put(c, "/d", &d);
	free(es[0].name); /* the cache kept its own */
	free(es[1].name);
	assert_int_equal(fz_cache_dir_get(c, "/d", &out), 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.entries[1].name, "two");
	assert_int_equal(out.entries[1].st.st_size, 2);
	fz_dir_free(&out);
	assert_int_equal(out.n, 0);
	/* A second put of the same path replaces the first. */
	struct fz_dirent one = { .name = "solo", .st = file_of(3) };
	struct fz_dir d2 = { 1, &one };
	fz_cache_dir_put(c, "/d", &d2);
	assert_int_equal(fz_cache_dir_get(c, "/d", &again), 0);
	assert_int_equal(again.n, 1);
	assert_string_equal(again.entries[0].name, "solo");
	fz_dir_free(&again);
	fz_cache_free(c);
}

static void test_invalidate_path_and_parent_listing(void **state)
{
	struct fz_cache *c = fz_cache_new(10, 10);
	struct stat st = file_of(1), got;
	struct fz_dirent e = { .name = "f", .st = st };
	struct fz_dir d = { 1, &e }, out;
	fz_cache_put(c, "/d/f", &st);
	fz_cache_put(c, "/d/g", &st);
	fz_cache_put(c, "/d", &st);
	fz_cache_dir_put(c, "/d", &d);
	fz_cache_dir_put(c, "/other", &d);
	fz_cache_invalidate(c, "/d/f", false);
	assert_int_equal(fz_cache_get(c, "/d/f", &got), 1);
	assert_int_equal(fz_cache_get(c, "/d/g", &got), 0);  /* a sibling stays */
	assert_int_equal(fz_cache_get(c, "/d", &got), 0);    /* the parent's attributes stay */
	assert_int_equal(fz_cache_dir_get(c, "/d", &out), 1); /* its listing goes */
	assert_int_equal(fz_cache_dir_get(c, "/other", &out), 0);
	fz_dir_free(&out);
	fz_cache_free(c);
}

static void test_invalidate_subtree(void **state)
{
	struct fz_cache *c = fz_cache_new(10, 10);
	struct stat st = file_of(1), got;
	struct fz_dirent e = { .name = "f", .st = st };
	struct fz_dir d = { 1, &e }, out;
	fz_cache_put(c, "/d", &st);
	fz_cache_put(c, "/d/f", &st);
	fz_cache_put(c, "/d/e/f", &st);
	fz_cache_put(c, "/dd", &st); /* a prefix of the name, not below it */
	fz_cache_dir_put(c, "/d/e", &d);
	fz_cache_dir_put(c, "/", &d);
	fz_cache_invalidate(c, "/d", true);
	assert_int_equal(fz_cache_get(c, "/d", &got), 1);
	assert_int_equal(fz_cache_get(c, "/d/f", &got), 1);
	assert_int_equal(fz_cache_get(c, "/d/e/f", &got), 1);
	assert_int_equal(fz_cache_get(c, "/dd", &got), 0);
	assert_int_equal(fz_cache_dir_get(c, "/d/e", &out), 1);
	assert_int_equal(fz_cache_dir_get(c, "/", &out), 1); /* the parent's listing */
	/* The root's subtree is everything. */
	fz_cache_invalidate(c, "/", true);
	assert_int_equal(fz_cache_get(c, "/dd", &got), 1);
	fz_cache_free(c);
}

static void test_many_entries(void **state)
{
	struct fz_cache *c = fz_cache_new(10, 10);
	char path[64];
	struct stat got;
	for (int i = 0; i < 20000; i++) {
		struct stat st = file_of(i);
		snprintf(path, sizeof(path), "/big/f%06d", i);
		fz_cache_put(c, path, &st);
	}
	for (int i = 0; i < 20000; i += 997) {
		snprintf(path, sizeof(path), "/big/f%06d", i);
		assert_int_equal(fz_cache_get(c, path, &got), 0);
		assert_int_equal(got.st_size, i);
	}
	fz_cache_invalidate(c, "/big", true);
	assert_int_equal(fz_cache_get(c, "/big/f000000", &got), 1);
	fz_cache_free(c);
}

static void test_chunk_sequential_is_the_block(void **state)
{
	uint64_t start, len;
	/* 4 MiB blocks, a 10 MiB file. */
	fz_chunk(4 * MiB, 10 * MiB, true, 0, 131072, &start, &len);
	assert_true(start == 0 && len == 4 * MiB);
	fz_chunk(4 * MiB, 10 * MiB, true, 5 * MiB + 7, 4096, &start, &len);
	assert_true(start == 4 * MiB && len == 4 * MiB);
	/* The last block is cut at the end of the file. */
	fz_chunk(4 * MiB, 10 * MiB, true, 9 * MiB, 131072, &start, &len);
	assert_true(start == 8 * MiB && len == 2 * MiB);
	/* Blocks above FZ_MAX_CHUNK are fetched in aligned pieces. */
	fz_chunk(256 * MiB, 1024 * MiB, true, 330 * MiB, 4096, &start, &len);
	assert_true(start == 256 * MiB + 64 * MiB && len == FZ_MAX_CHUNK);
}

static void test_chunk_random_is_small_and_in_its_block(void **state)
{
	uint64_t start, len;
	fz_chunk(4 * MiB, 10 * MiB, false, 100000, 16384, &start, &len);
	assert_true(start == 65536 && len == 65536);
	/* A read across a unit boundary gets both units. */
	fz_chunk(4 * MiB, 10 * MiB, false, 65536 - 100, 200, &start, &len);
	assert_true(start == 0 && len == 131072);
	/* Never past its block: the next block has its own owner. */
	fz_chunk(1 * MiB, 10 * MiB, false, MiB - 10, 100, &start, &len);
	assert_true(start == MiB - 65536 && len == 65536);
	/* Nor past the end of the file. */
	fz_chunk(4 * MiB, 100000, false, 99000, 16384, &start, &len);
	assert_true(start == 65536 && len == 100000 - 65536);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_absent),
		cmocka_unit_test(test_entries_expire),
		cmocka_unit_test(test_zero_timeouts_cache_nothing),
		cmocka_unit_test(test_listing_is_a_copy),
		cmocka_unit_test(test_invalidate_path_and_parent_listing),
		cmocka_unit_test(test_invalidate_subtree),
		cmocka_unit_test(test_many_entries),
		cmocka_unit_test(test_chunk_sequential_is_the_block),
		cmocka_unit_test(test_chunk_random_is_small_and_in_its_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
