/* Tests the replication planner (daemon/master/replicate.c, pure): which
 * workers get a copy, which holder is the source, which copies are
 * dropped; the registry's administrative states (decommissioning workers
 * stay in placement, decommissioned ones leave it); blockmap_list. */
#include "daemon/master/replicate.h"
#include "lib/placement.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define BLOCK UINT64_C(0x1234000007)

static const struct repl_worker g_three[] = {
	{ 1, true, WORKER_ACTIVE },
	{ 2, true, WORKER_ACTIVE },
	{ 3, true, WORKER_ACTIVE },
};

/* The eligible workers of ws in BLOCK's rendezvous order. */
static size_t order_of(const struct repl_worker *ws, size_t n, uint64_t *out)
{
	uint64_t ids[8];
	size_t m = 0, idx[8];
	for (size_t i = 0; i < n; i++)
		if (ws[i].live && ws[i].admin == WORKER_ACTIVE)
			ids[m++] = ws[i].id;
	size_t got = placement_owners(BLOCK, ids, m, m, idx);
	for (size_t i = 0; i < got; i++)
		out[i] = ids[idx[i]];
	return got;
}

static void test_min_two_copies_to_the_next_owner(void **state)
{
	uint64_t order[3];
	order_of(g_three, 3, order);
	/* Cached on the first owner only: the second gets a copy from it. */
	struct block_loc locs[] = { { order[0], 0 } };
	struct repl_plan p;
	repl_plan_block(BLOCK, locs, 1, g_three, 3, 2, -1, &p);
	assert_int_equal(p.want, 2);
	assert_int_equal(p.have, 1);
	assert_int_equal(p.nfetch, 1);
	assert_int_equal(p.fetch_to[0], order[1]);
	assert_int_equal(p.source, order[0]);
	assert_int_equal(p.ndrop, 0);
	/* Enough copies: nothing to do, whoever holds them. */
	struct block_loc two[] = { { order[2], 0 }, { order[0], 1 } };
	repl_plan_block(BLOCK, two, 2, g_three, 3, 2, -1, &p);
	assert_int_equal(p.nfetch, 0);
	assert_int_equal(p.ndrop, 0);
	/* min 0 or 1: one copy is enough. */
	repl_plan_block(BLOCK, locs, 1, g_three, 3, 0, -1, &p);
	assert_int_equal(p.want, 1);
	assert_int_equal(p.nfetch, 0);
}

static void test_lost_holder_does_not_count(void **state)
{
	uint64_t order[3];
	order_of(g_three, 3, order);
	struct repl_worker ws[3];
	memcpy(ws, g_three, sizeof(ws));
	for (int i = 0; i < 3; i++)
		if (ws[i].id == order[0])
			ws[i].live = false;
	/* The first owner died: the survivor (order[1]) is the source and the
	 * next live owner gets the copy (order[2]; order[1] is now first). */
	struct block_loc locs[] = { { order[0], 0 }, { order[1], 0 } };
	struct repl_plan p;
	repl_plan_block(BLOCK, locs, 2, ws, 3, 2, -1, &p);
	assert_int_equal(p.want, 2);
	assert_int_equal(p.have, 1);
	assert_int_equal(p.source, order[1]);
	assert_int_equal(p.nfetch, 1);
	assert_int_equal(p.fetch_to[0], order[2]);
	/* No live holder at all: nothing to copy from. */
	struct block_loc dead[] = { { order[0], 0 } };
	repl_plan_block(BLOCK, dead, 1, ws, 3, 2, -1, &p);
	assert_int_equal(p.source, 0);
	assert_int_equal(p.nfetch, 0);
	/* More copies wanted than live workers: as many as there are. */
	repl_plan_block(BLOCK, locs, 2, ws, 3, 5, -1, &p);
	assert_int_equal(p.want, 2);
}

static void test_copies_capped_at_what_the_block_map_tracks(void **state)
{
	struct repl_worker ws[6];
	for (int i = 0; i < 6; i++)
		ws[i] = (struct repl_worker){ (uint64_t)i + 1, true, WORKER_ACTIVE };
	struct block_loc locs[] = { { 1, 0 } };
	struct repl_plan p;
	repl_plan_block(BLOCK, locs, 1, ws, 6, 64, -1, &p);
	assert_int_equal(p.want, BLOCKMAP_MAX_LOCS);
	assert_int_equal(p.nfetch, BLOCKMAP_MAX_LOCS - 1);
}

static void test_decommissioning_holder_is_a_source_only(void **state)
{
	uint64_t order[3];
	order_of(g_three, 3, order);
	struct repl_worker ws[3];
	memcpy(ws, g_three, sizeof(ws));
	for (int i = 0; i < 3; i++)
		if (ws[i].id == order[0])
			ws[i].admin = WORKER_DECOMMISSIONING;
	/* Its only copy moves to the first owner among the others. */
	struct block_loc locs[] = { { order[0], 0 } };
	struct repl_plan p;
	repl_plan_block(BLOCK, locs, 1, ws, 3, 0, -1, &p);
	assert_int_equal(p.want, 1);
	assert_int_equal(p.have, 0);
	assert_int_equal(p.source, order[0]);
	assert_int_equal(p.nfetch, 1);
	assert_int_equal(p.fetch_to[0], order[1]);
	/* An active holder is preferred as the source. */
	struct block_loc both[] = { { order[0], 0 }, { order[2], 0 } };
	repl_plan_block(BLOCK, both, 2, ws, 3, 2, -1, &p);
	assert_int_equal(p.source, order[2]);
	assert_int_equal(p.have, 1);
	assert_int_equal(p.nfetch, 1);
	assert_int_equal(p.fetch_to[0], order[1]);
	/* No eligible worker: nothing wanted, nothing done. */
	struct repl_worker alone[] = { { 9, true, WORKER_DECOMMISSIONING } };
	struct block_loc on9[] = { { 9, 0 } };
	repl_plan_block(BLOCK, on9, 1, alone, 1, 2, -1, &p);
	assert_int_equal(p.want, 0);
	assert_int_equal(p.nfetch, 0);
}

static void test_max_drops_the_last_in_order(void **state)
{
	uint64_t order[3];
	order_of(g_three, 3, order);
	struct block_loc locs[] = { { order[2], 0 }, { order[0], 0 }, { order[1], 0 } };
	struct repl_plan p;
	repl_plan_block(BLOCK, locs, 3, g_three, 3, 1, 1, &p);
	assert_int_equal(p.have, 3);
	assert_int_equal(p.ndrop, 2);
	/* The first owner keeps its copy. */
	assert_true(p.drop_from[0] != order[0] && p.drop_from[1] != order[0]);
	repl_plan_block(BLOCK, locs, 3, g_three, 3, 1, 2, &p);
	assert_int_equal(p.ndrop, 1);
	assert_int_equal(p.drop_from[0], order[2]);
	/* Unbounded (-1): nothing dropped. */
	repl_plan_block(BLOCK, locs, 3, g_three, 3, 1, -1, &p);
	assert_int_equal(p.ndrop, 0);
}

static int count_live(struct registry *reg)
{
	cJSON *live = registry_live_json(reg);
	int n = cJSON_GetArraySize(live);
	cJSON_Delete(live);
	return n;
}

static const char *state_of(struct registry *reg, uint64_t id)
{
	struct registry_entry e;
	assert_int_equal(registry_get(reg, id, &e), 0);
	return registry_state_name(e.live ? WORKER_LIVE : WORKER_LOST, e.admin);
}

static void test_registry_admin_states(void **state)
{
	struct registry *reg = registry_new(1000);
	assert_non_null(reg);
	/* Set before the worker registers (a new leader loading the journal's
	 * states): it takes the state when it registers. */
	assert_int_equal(registry_set_admin(reg, "h:2", WORKER_DECOMMISSIONING), 0);
	struct worker_report a = { .host = "h", .data_port = 1 }, b = { .host = "h", .data_port = 2 };
	uint64_t ida, idb;
	assert_int_equal(registry_register(reg, &a, 0, &ida), 0);
	assert_int_equal(registry_register(reg, &b, 0, &idb), 0);
	assert_string_equal(state_of(reg, ida), "live");
	assert_string_equal(state_of(reg, idb), "decommissioning");
	/* A draining worker still owns blocks. */
	assert_int_equal(count_live(reg), 2);
	assert_int_equal(registry_set_admin(reg, "h:2", WORKER_DECOMMISSIONED), 0);
	assert_string_equal(state_of(reg, idb), "decommissioned");
	assert_int_equal(count_live(reg), 1);
	struct registry_live_worker lw[4];
	assert_int_equal(registry_live(reg, lw, 4), 1);
	assert_int_equal(lw[0].id, ida);
	/* Lost shows over the administrative state. */
	registry_check(reg, 5000, NULL, NULL);
	assert_string_equal(state_of(reg, idb), "lost");
	/* A new leader starts from a clean slate and reloads. */
	registry_clear_admin(reg);
	assert_int_equal(registry_heartbeat(reg, idb, 0, 0, 5000), 0);
	assert_string_equal(state_of(reg, idb), "live");
	assert_int_equal(registry_set_admin(reg, "h:2", WORKER_DECOMMISSIONING), 0);
	assert_int_equal(registry_set_admin(reg, "h:2", WORKER_ACTIVE), 0);
	assert_string_equal(state_of(reg, idb), "live");
	struct registry_entry e;
	assert_int_equal(registry_get(reg, 99, &e), -ENOENT);
	registry_free(reg);
}

static void test_blockmap_list(void **state)
{
	struct blockmap *bm = blockmap_new();
	assert_non_null(bm);
	struct blockmap_entry *list = NULL;
	size_t n = 9;
	assert_int_equal(blockmap_list(bm, &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);
	for (uint64_t b = 1; b <= 2000; b++)
		assert_int_equal(blockmap_add(bm, b, b % 3 + 1, 0), 0);
	assert_int_equal(blockmap_add(bm, 7, 9, 1), 0);
	assert_int_equal(blockmap_list(bm, &list, &n), 0);
	assert_int_equal(n, 2000);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		sum += list[i].block;
		if (list[i].block == 7) {
			assert_int_equal(list[i].nloc, 2);
			assert_int_equal(list[i].locs[1].worker_id, 9);
		} else {
			assert_int_equal(list[i].nloc, 1);
		}
	}
	assert_int_equal(sum, 2000 * 2001 / 2);
	free(list);
	blockmap_free(bm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_min_two_copies_to_the_next_owner),
		cmocka_unit_test(test_lost_holder_does_not_count),
		cmocka_unit_test(test_copies_capped_at_what_the_block_map_tracks),
		cmocka_unit_test(test_decommissioning_holder_is_a_source_only),
		cmocka_unit_test(test_max_drops_the_last_in_order),
		cmocka_unit_test(test_registry_admin_states),
		cmocka_unit_test(test_blockmap_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
