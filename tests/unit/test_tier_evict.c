/* tier/evict.c and tier/map.c: pure code, no I/O, time is an input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "tier/evict.h"
#include "tier/map.h"

static struct tier_policy *make(enum tier_policy_kind kind)
{
	struct tier_policy *p = NULL;
	assert_int_equal(tier_policy_create(kind, &p), 0);
	return p;
}

/* Drains victims in order into out; returns how many. */
static size_t drain(struct tier_policy *p, uint64_t *out, size_t max)
{
	size_t n = 0;
	uint64_t id;
	while (n < max && tier_policy_victim(p, &id) == 0) {
		out[n++] = id;
		assert_int_equal(tier_policy_remove(p, id), 0);
	}
	return n;
}

static void test_lru_order_by_last_access(void **state)
{
	(void)state;
	struct tier_policy *p = make(TIER_POLICY_LRU);
	for (uint64_t id = 1; id <= 5; id++)
		assert_int_equal(tier_policy_insert(p, id, (int64_t)id * 10, 0, false), 0);
	/* Touch 1 and 3: they become the most recent, 1 before 3. */
	assert_int_equal(tier_policy_access(p, 1, 100), 0);
	assert_int_equal(tier_policy_access(p, 3, 110), 0);
	uint64_t order[8];
	assert_int_equal(drain(p, order, 8), 5);
	uint64_t want[] = { 2, 4, 5, 1, 3 };
	assert_memory_equal(order, want, sizeof(want));
	tier_policy_destroy(p);
}

static void test_lru_equal_times_break_by_event_order(void **state)
{
	(void)state;
	struct tier_policy *p = make(TIER_POLICY_LRU);
	for (uint64_t id = 10; id > 0; id--)
		assert_int_equal(tier_policy_insert(p, id, 500, 0, false), 0);
	assert_int_equal(tier_policy_access(p, 10, 500), 0); /* same ms, but later */
	uint64_t order[16];
	assert_int_equal(drain(p, order, 16), 10);
	uint64_t want[] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 10 };
	assert_memory_equal(order, want, sizeof(want));
	tier_policy_destroy(p);
}

static void test_lru_clock_step_back_keeps_access_hot(void **state)
{
	(void)state;
	struct tier_policy *p = make(TIER_POLICY_LRU);
	assert_int_equal(tier_policy_insert(p, 1, 100, 0, false), 0);
	assert_int_equal(tier_policy_insert(p, 2, 200, 0, false), 0);
	assert_int_equal(tier_policy_access(p, 1, 50), 0); /* clock went back */
	int64_t last;
	assert_int_equal(tier_policy_info(p, 1, &last, NULL), 0);
	assert_int_equal(last, 100);
	uint64_t victim;
	assert_int_equal(tier_policy_victim(p, &victim), 0);
	assert_int_equal(victim, 1); /* older time still wins over the seq tie-break */
	tier_policy_destroy(p);
}

static void test_lfu_order_by_count_then_recency(void **state)
{
	(void)state;
	struct tier_policy *p = make(TIER_POLICY_LFU);
	for (uint64_t id = 1; id <= 4; id++)
		assert_int_equal(tier_policy_insert(p, id, 0, 0, false), 0);
	int64_t t = 1;
	/* counts: 1 -> 3, 2 -> 1, 3 -> 1, 4 -> 0; 3 accessed after 2 */
	for (int i = 0; i < 3; i++)
		assert_int_equal(tier_policy_access(p, 1, t++), 0);
	assert_int_equal(tier_policy_access(p, 2, t++), 0);
	assert_int_equal(tier_policy_access(p, 3, t++), 0);
	uint64_t order[8];
	assert_int_equal(drain(p, order, 8), 4);
	uint64_t want[] = { 4, 2, 3, 1 };
	assert_memory_equal(order, want, sizeof(want));
	tier_policy_destroy(p);
}

static void test_lfu_differs_from_lru(void **state)
{
	(void)state;
	/* Same events, two policies: a block read often long ago. */
	struct tier_policy *lru = make(TIER_POLICY_LRU), *lfu = make(TIER_POLICY_LFU);
	struct tier_policy *ps[] = { lru, lfu };
	for (int k = 0; k < 2; k++) {
		assert_int_equal(tier_policy_insert(ps[k], 1, 0, 0, false), 0);
		assert_int_equal(tier_policy_insert(ps[k], 2, 0, 0, false), 0);
		for (int i = 0; i < 5; i++)
			assert_int_equal(tier_policy_access(ps[k], 1, 10 + i), 0);
		assert_int_equal(tier_policy_access(ps[k], 2, 100), 0);
	}
	uint64_t v;
	assert_int_equal(tier_policy_victim(lru, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(tier_policy_victim(lfu, &v), 0);
	assert_int_equal(v, 2);
	tier_policy_destroy(lru);
	tier_policy_destroy(lfu);
}

static void test_history_carries_over(void **state)
{
	(void)state;
	/* A demoted block arrives with its old time and count. */
	struct tier_policy *p = make(TIER_POLICY_LFU);
	assert_int_equal(tier_policy_insert(p, 1, 1000, 0, false), 0);
	assert_int_equal(tier_policy_insert(p, 2, 10, 7, false), 0);
	uint64_t hits;
	assert_int_equal(tier_policy_info(p, 2, NULL, &hits), 0);
	assert_int_equal(hits, 7);
	uint64_t v;
	assert_int_equal(tier_policy_victim(p, &v), 0);
	assert_int_equal(v, 1);
	tier_policy_destroy(p);
}

static void test_pinned_never_victim(void **state)
{
	(void)state;
	enum tier_policy_kind kinds[] = { TIER_POLICY_LRU, TIER_POLICY_LFU };
	for (int k = 0; k < 2; k++) {
		struct tier_policy *p = make(kinds[k]);
		assert_int_equal(tier_policy_insert(p, 1, 1, 0, false), 0);
		assert_int_equal(tier_policy_insert(p, 2, 2, 0, true), 0);
		assert_int_equal(tier_policy_insert(p, 3, 3, 0, false), 0);
		assert_int_equal(tier_policy_set_pinned(p, 3, true), 0);
		assert_int_equal(tier_policy_set_pinned(p, 3, true), 0); /* idempotent */
		uint64_t order[8];
		assert_int_equal(drain(p, order, 8), 1);
		assert_int_equal(order[0], 1);
		uint64_t v;
		assert_int_equal(tier_policy_victim(p, &v), -ENOENT);
		assert_int_equal(tier_policy_count(p), 2);
		/* Pinned blocks still record accesses; unpinning brings them back. */
		assert_int_equal(tier_policy_access(p, 2, 50), 0);
		assert_int_equal(tier_policy_set_pinned(p, 2, false), 0);
		assert_int_equal(tier_policy_set_pinned(p, 3, false), 0);
		assert_int_equal(drain(p, order, 8), 2);
		assert_int_equal(order[0], 3);
		assert_int_equal(order[1], 2);
		tier_policy_destroy(p);
	}
}

static void test_errors(void **state)
{
	(void)state;
	struct tier_policy *p = make(TIER_POLICY_LRU);
	assert_int_equal(tier_policy_insert(p, 1, 0, 0, false), 0);
	assert_int_equal(tier_policy_insert(p, 1, 0, 0, false), -EEXIST);
	assert_int_equal(tier_policy_access(p, 9, 0), -ENOENT);
	assert_int_equal(tier_policy_remove(p, 9), -ENOENT);
	assert_int_equal(tier_policy_set_pinned(p, 9, true), -ENOENT);
	assert_int_equal(tier_policy_info(p, 9, NULL, NULL), -ENOENT);
	struct tier_policy *bad = NULL;
	assert_int_equal(tier_policy_create((enum tier_policy_kind)7, &bad), -EINVAL);
	tier_policy_destroy(p);
}

/* Against a brute-force model: random events, victims must match. */
static void test_random_against_model(void **state)
{
	(void)state;
	enum { N = 200 };
	enum tier_policy_kind kinds[] = { TIER_POLICY_LRU, TIER_POLICY_LFU };
	for (int k = 0; k < 2; k++) {
		struct tier_policy *p = make(kinds[k]);
		struct {
			int present, pinned;
			int64_t last;
			uint64_t hits, seq;
		} m[N] = { 0 };
		uint64_t seq = 0;
		srand(1234 + k);
		for (int step = 0; step < 20000; step++) {
			uint64_t id = (uint64_t)(rand() % N);
			int64_t now = step / 3; /* many equal times */
			switch (rand() % 5) {
			case 0:
				if (!m[id].present) {
					assert_int_equal(tier_policy_insert(p, id, now, 0, false), 0);
					m[id].present = 1;
					m[id].pinned = 0;
					m[id].last = now;
					m[id].hits = 0;
					m[id].seq = seq++;
				}
				break;
			case 1:
			case 2:
				if (m[id].present) {
					assert_int_equal(tier_policy_access(p, id, now), 0);
					m[id].hits++;
					m[id].last = now;
					m[id].seq = seq++;
				}
				break;
			case 3:
				if (m[id].present) {
					int pin = rand() % 2;
					assert_int_equal(tier_policy_set_pinned(p, id, pin), 0);
					m[id].pinned = pin;
				}
				break;
			default:
				if (m[id].present && rand() % 2) {
					assert_int_equal(tier_policy_remove(p, id), 0);
					m[id].present = 0;
				}
			}
			int best = -1;
			for (int i = 0; i < N; i++) {
				if (!m[i].present || m[i].pinned)
					continue;
				if (best < 0) {
					best = i;
					continue;
				}
				int colder;
				if (kinds[k] == TIER_POLICY_LFU && m[i].hits != m[best].hits)
					colder = m[i].hits < m[best].hits;
				else if (m[i].last != m[best].last)
					colder = m[i].last < m[best].last;
				else
					colder = m[i].seq < m[best].seq;
				if (colder)
					best = i;
			}
			uint64_t v;
			int rc = tier_policy_victim(p, &v);
			if (best < 0) {
				assert_int_equal(rc, -ENOENT);
			} else {
				assert_int_equal(rc, 0);
				assert_int_equal(v, (uint64_t)best);
			}
		}
		tier_policy_destroy(p);
	}
}

static void test_map_put_get_del(void **state)
{
	(void)state;
	struct tier_map m;
	tier_map_init(&m);
	static int vals[5000];
	assert_null(tier_map_get(&m, 0));
	for (uint64_t i = 0; i < 5000; i++)
		assert_int_equal(tier_map_put(&m, i << 24, &vals[i]), 0);
	assert_int_equal(m.count, 5000);
	for (uint64_t i = 0; i < 5000; i += 2)
		assert_ptr_equal(tier_map_del(&m, i << 24), &vals[i]);
	assert_null(tier_map_del(&m, 12345));
	assert_int_equal(m.count, 2500);
	for (uint64_t i = 0; i < 5000; i++) {
		if (i % 2)
			assert_ptr_equal(tier_map_get(&m, i << 24), &vals[i]);
		else
			assert_null(tier_map_get(&m, i << 24));
	}
	size_t seen = 0;
	uint64_t key;
	void *val;
	for (size_t pos = 0; tier_map_next(&m, &pos, &key, &val);) {
		assert_true((key >> 24) % 2 == 1);
		assert_ptr_equal(val, &vals[key >> 24]);
		seen++;
	}
	assert_int_equal(seen, 2500);
	assert_int_equal(tier_map_put(&m, 1ULL << 24, &vals[0]), 0); /* replace */
	assert_ptr_equal(tier_map_get(&m, 1ULL << 24), &vals[0]);
	assert_int_equal(m.count, 2500);
	tier_map_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lru_order_by_last_access),
		cmocka_unit_test(test_lru_equal_times_break_by_event_order),
		cmocka_unit_test(test_lru_clock_step_back_keeps_access_hot),
		cmocka_unit_test(test_lfu_order_by_count_then_recency),
		cmocka_unit_test(test_lfu_differs_from_lru),
		cmocka_unit_test(test_history_carries_over),
		cmocka_unit_test(test_pinned_never_victim),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_map_put_get_del),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
