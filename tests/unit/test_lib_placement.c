/* Tests lib/placement.c: the k owners of a block are the k workers of
 * highest weight, highest first; removing a worker keeps the others'
 * order (so the next owner of a lost worker's block is the one that holds
 * its second copy: docs/replication.md); adding one moves about 1/(n+1)
 * of the first owners; k is bounded by n and by 16. */
#include "lib/placement.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_owners_are_the_highest_weights_in_order(void **state)
{
	uint64_t ws[] = { 11, 22, 33, 44, 55 };
	for (uint64_t b = 0; b < 1000; b++) {
		size_t idx[5];
		assert_int_equal(placement_owners(b, ws, 5, 5, idx), 5);
		for (size_t i = 1; i < 5; i++)
			assert_true(placement_weight(b, ws[idx[i - 1]]) >
				    placement_weight(b, ws[idx[i]]));
		/* The first k of the full order are the k owners. */
		size_t two[2];
		assert_int_equal(placement_owners(b, ws, 5, 2, two), 2);
		assert_int_equal(two[0], idx[0]);
		assert_int_equal(two[1], idx[1]);
	}
}

static void test_removing_a_worker_keeps_the_others_order(void **state)
{
	uint64_t all[] = { 1, 2, 3, 4 };
	for (uint64_t b = 0; b < 1000; b++) {
		size_t idx[4];
		placement_owners(b, all, 4, 4, idx);
		uint64_t lost = all[idx[0]], rest[3];
		size_t n = 0;
		for (size_t i = 0; i < 4; i++)
			if (all[i] != lost)
				rest[n++] = all[i];
		size_t after[3];
		assert_int_equal(placement_owners(b, rest, 3, 3, after), 3);
		for (size_t i = 0; i < 3; i++)
			assert_int_equal(rest[after[i]], all[idx[i + 1]]);
	}
}

static void test_adding_a_worker_moves_about_one_in_n_plus_one(void **state)
{
	uint64_t ws[] = { 7, 8, 9, 10 };
	int moved = 0;
	const int blocks = 20000;
	for (int b = 0; b < blocks; b++) {
		size_t before, after;
		placement_owners((uint64_t)b, ws, 3, 1, &before);
		placement_owners((uint64_t)b, ws, 4, 1, &after);
		if (after != before) {
			assert_int_equal(after, 3); /* only to the newcomer */
			moved++;
		}
	}
	assert_in_range(moved, blocks / 4 - blocks / 20, blocks / 4 + blocks / 20);
}

static void test_k_is_bounded(void **state)
{
	uint64_t ws[20];
	for (int i = 0; i < 20; i++)
		ws[i] = (uint64_t)i + 100;
	size_t idx[20];
	assert_int_equal(placement_owners(5, ws, 3, 10, idx), 3);
	assert_int_equal(placement_owners(5, ws, 20, 20, idx), 16);
	assert_int_equal(placement_owners(5, ws, 0, 1, idx), 0);
	assert_int_equal(placement_owners(5, ws, 20, 0, idx), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owners_are_the_highest_weights_in_order),
		cmocka_unit_test(test_removing_a_worker_keeps_the_others_order),
		cmocka_unit_test(test_adding_a_worker_moves_about_one_in_n_plus_one),
		cmocka_unit_test(test_k_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
