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

/* The picked id is the first from start whose block the asker owns. */
static void test_pick_data_id_is_the_first_owned(void **state)
{
	uint64_t ws[] = { 3, 5, 9 };
	for (size_t me = 0; me < 3; me++) {
		for (uint64_t index = 0; index < 3; index++) {
			uint64_t id = placement_pick_data_id(1000, 64, index, ws[me], ws, 3);
			assert_true(id >= 1000 && id < 1064);
			size_t owner;
			assert_int_equal(placement_owners(placement_block_id(id, index), ws, 3, 1,
							  &owner), 1);
			assert_int_equal(ws[owner], ws[me]);
			for (uint64_t before = 1000; before < id; before++) {
				placement_owners(placement_block_id(before, index), ws, 3, 1,
						 &owner);
				assert_int_not_equal(ws[owner], ws[me]);
			}
		}
	}
}

/* No pick (0: the caller allocates as before) when it cannot help. */
static void test_pick_data_id_declines(void **state)
{
	uint64_t ws[] = { 3, 5 };
	assert_int_equal(placement_pick_data_id(1000, 64, 0, 7, ws, 2), 0); /* not live */
	assert_int_equal(placement_pick_data_id(1000, 64, 0, 3, ws, 1), 0); /* alone */
	assert_int_equal(placement_pick_data_id(1000, 0, 0, 3, ws, 2), 0);  /* no tries */
	assert_int_equal(placement_pick_data_id(0, 64, 0, 3, ws, 2), 0);    /* no id 0 */
	assert_int_equal(placement_pick_data_id(1000, 64, PLACEMENT_MAX_INDEX + 1, 3, ws, 2), 0);
	/* the last ids that fit: never past them */
	uint64_t last = UINT64_MAX >> PLACEMENT_INDEX_BITS;
	uint64_t id = placement_pick_data_id(last, 64, 0, 3, ws, 2);
	assert_true(id == 0 || id == last);
	id = placement_pick_data_id(last - 40, 64, 0, 5, ws, 2);
	assert_true(id == 0 || (id >= last - 40 && id <= last));
}

/* With one try in two owned, 64 tries miss about never: over many starts
 * every pick succeeds and lands about two ids on. */
static void test_pick_data_id_finds_one_soon(void **state)
{
	uint64_t ws[] = { 1, 2 };
	uint64_t skipped = 0;
	for (uint64_t start = 2; start < 2002; start++) {
		uint64_t id = placement_pick_data_id(start, 64, 0, 2, ws, 2);
		assert_true(id >= start);
		skipped += id - start;
	}
	assert_in_range(skipped, 1000, 3000); /* about one id skipped a pick */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owners_are_the_highest_weights_in_order),
		cmocka_unit_test(test_removing_a_worker_keeps_the_others_order),
		cmocka_unit_test(test_adding_a_worker_moves_about_one_in_n_plus_one),
		cmocka_unit_test(test_k_is_bounded),
		cmocka_unit_test(test_pick_data_id_is_the_first_owned),
		cmocka_unit_test(test_pick_data_id_declines),
		cmocka_unit_test(test_pick_data_id_finds_one_soon),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
