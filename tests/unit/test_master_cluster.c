/* Tests daemon/master/cluster.c on virtual time: a registration replaces a
 * worker's block list, heartbeats apply block changes, an unknown worker is
 * told to register again, a silent worker is lost with its blocks. */
#include "daemon/master/cluster.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

struct fixture {
	struct registry *reg;
	struct blockmap *bm;
};

static int setup(void **state)
{
	static struct fixture f;
	f.reg = registry_new(1000);
	f.bm = blockmap_new();
	*state = &f;
	return f.reg && f.bm ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	registry_free(f->reg);
	blockmap_free(f->bm);
	return 0;
}

static struct cluster_registration worker_a(const struct cluster_block *blocks, size_t n)
{
	struct cluster_registration r = {
		.worker = { .host = "10.0.0.1", .data_port = 29999, .s3_port = 39999,
			    .version = "0.1.0", .capacity_bytes = 1000, .used_bytes = 10 },
		.blocks = blocks,
		.nblocks = n,
	};
	return r;
}

/* The worker holding block, or 0. */
static uint64_t holder(struct blockmap *bm, uint64_t block, int *tier)
{
	struct block_loc loc[BLOCKMAP_MAX_LOCS];
	size_t n = blockmap_get(bm, block, loc, BLOCKMAP_MAX_LOCS);
	if (n == 0)
		return 0;
	if (tier)
		*tier = loc[0].tier;
	return loc[0].worker_id;
}

static void test_registration_replaces_the_block_list(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	const struct cluster_block first[] = { { 100, 0 }, { 101, 1 } };
	struct cluster_registration r = worker_a(first, 2);
	uint64_t id = 0, again = 0;
	assert_int_equal(cluster_register(f->reg, f->bm, &r, 0, &id, err, sizeof(err)), 0);
	assert_true(id > 0);
	int tier = -1;
	assert_int_equal(holder(f->bm, 100, &tier), id);
	assert_int_equal(tier, 0);
	assert_int_equal(holder(f->bm, 101, &tier), id);
	assert_int_equal(tier, 1);
	/* Registering again (a worker restart) sends the full list anew. */
	const struct cluster_block second[] = { { 102, 0 } };
	r = worker_a(second, 1);
	assert_int_equal(cluster_register(f->reg, f->bm, &r, 10, &again, err, sizeof(err)), 0);
	assert_int_equal(again, id);
	assert_int_equal(holder(f->bm, 100, NULL), 0);
	assert_int_equal(holder(f->bm, 101, NULL), 0);
	assert_int_equal(holder(f->bm, 102, NULL), id);
	assert_int_equal(blockmap_count(f->bm), 1);
}

static void test_registration_needs_a_host(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", longhost[300];
	struct cluster_registration r = worker_a(NULL, 0);
	uint64_t id = 0;
	r.worker.host = "";
	assert_int_equal(cluster_register(f->reg, f->bm, &r, 0, &id, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "field 'host' must be 1..255 characters");
	memset(longhost, 'h', 256);
	longhost[256] = '\0';
	r.worker.host = longhost;
	assert_int_equal(cluster_register(f->reg, f->bm, &r, 0, &id, err, sizeof(err)), -EINVAL);
	longhost[255] = '\0';
	assert_int_equal(cluster_register(f->reg, f->bm, &r, 0, &id, err, sizeof(err)), 0);
	struct registry_totals t;
	registry_totals(f->reg, &t);
	assert_int_equal(t.live, 1); /* only the valid one registered */
}

static void test_heartbeat_applies_block_changes(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	const struct cluster_block first[] = { { 100, 0 }, { 101, 0 } };
	struct cluster_registration r = worker_a(first, 2);
	uint64_t id = 0;
	assert_int_equal(cluster_register(f->reg, f->bm, &r, 0, &id, err, sizeof(err)), 0);
	const struct cluster_block added[] = { { 200, 0 }, { 101, 2 } };
	const uint64_t removed[] = { 100, 999 };
	cJSON *metrics = cJSON_Parse("{\"block_hits_total\": 7}");
	struct cluster_heartbeat hb = {
		.worker_id = id, .capacity_bytes = 2000, .used_bytes = 50, .metrics = metrics,
		.added = added, .nadded = 2, .removed = removed, .nremoved = 2,
	};
	assert_int_equal(cluster_heartbeat(f->reg, f->bm, &hb, 500, err, sizeof(err)), 0);
	cJSON_Delete(metrics); /* the registry keeps a copy */
	int tier = -1;
	assert_int_equal(holder(f->bm, 100, NULL), 0);
	assert_int_equal(holder(f->bm, 200, NULL), id);
	assert_int_equal(holder(f->bm, 101, &tier), id);
	assert_int_equal(tier, 2); /* moved down a tier */
	struct registry_totals t;
	registry_totals(f->reg, &t);
	assert_int_equal(t.capacity_bytes, 2000);
	assert_int_equal(t.used_bytes, 50);
	cJSON *mj = registry_metrics_json(f->reg);
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(mj, "cluster"), "block_hits_total");
	assert_true(cJSON_IsNumber(sum));
	assert_int_equal((int)sum->valuedouble, 7);
	cJSON_Delete(mj);
	/* The heartbeat kept it alive past the registration's timeout. */
	assert_int_equal(cluster_check_lost(f->reg, f->bm, 1400), 0);
}

static void test_unknown_worker_must_register_again(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	const struct cluster_block added[] = { { 5, 0 } };
	struct cluster_heartbeat hb = { .worker_id = 42, .added = added, .nadded = 1 };
	assert_int_equal(cluster_heartbeat(f->reg, f->bm, &hb, 0, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "worker 42 is not registered; register again");
	assert_int_equal(blockmap_count(f->bm), 0); /* nothing recorded for a stranger */
}

/* After a master restart ids are given anew: a worker heartbeating with
 * its old id, now another worker's, is told to register again. */
static void test_heartbeat_from_another_address_must_register_again(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	struct cluster_registration r = worker_a(NULL, 0);
	uint64_t a = 0;
	assert_int_equal(cluster_register(f->reg, f->bm, &r, 0, &a, err, sizeof(err)), 0);
	const struct cluster_block added[] = { { 5, 0 } };
	struct cluster_heartbeat hb = { .worker_id = a, .added = added, .nadded = 1,
					.host = r.worker.host, .data_port = 1 };
	assert_int_equal(cluster_heartbeat(f->reg, f->bm, &hb, 0, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "register again"));
	assert_int_equal(blockmap_count(f->bm), 0);
	hb.data_port = r.worker.data_port;
	assert_int_equal(cluster_heartbeat(f->reg, f->bm, &hb, 0, err, sizeof(err)), 0);
	assert_int_equal(blockmap_count(f->bm), 1);
}

static void test_lost_worker_loses_its_blocks(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	const struct cluster_block blocks[] = { { 100, 0 }, { 101, 0 } };
	struct cluster_registration r = worker_a(blocks, 2);
	uint64_t a = 0, b = 0;
	assert_int_equal(cluster_register(f->reg, f->bm, &r, 0, &a, err, sizeof(err)), 0);
	r.worker.data_port = 30000;
	r.nblocks = 1;
	assert_int_equal(cluster_register(f->reg, f->bm, &r, 0, &b, err, sizeof(err)), 0);
	assert_int_equal(blockmap_get(f->bm, 100, (struct block_loc[4]){ 0 }, 4), 2);
	struct cluster_heartbeat hb = { .worker_id = b };
	assert_int_equal(cluster_heartbeat(f->reg, f->bm, &hb, 900, err, sizeof(err)), 0);
	assert_int_equal(cluster_check_lost(f->reg, f->bm, 1000), 0); /* at the limit: alive */
	assert_int_equal(cluster_check_lost(f->reg, f->bm, 1001), 1); /* a, silent since 0 */
	assert_int_equal(holder(f->bm, 100, NULL), b);
	assert_int_equal(holder(f->bm, 101, NULL), 0);
	assert_int_equal(cluster_check_lost(f->reg, f->bm, 1901), 1); /* b */
	assert_int_equal(blockmap_count(f->bm), 0);
	/* A lost worker that heartbeats again is live, and re-reports blocks. */
	const struct cluster_block back[] = { { 300, 0 } };
	hb = (struct cluster_heartbeat){ .worker_id = a, .added = back, .nadded = 1 };
	assert_int_equal(cluster_heartbeat(f->reg, f->bm, &hb, 2000, err, sizeof(err)), 0);
	assert_int_equal(holder(f->bm, 300, NULL), a);
}

static void test_check_period(void **state)
{
	assert_int_equal(cluster_check_period_ms(30000), 1000);
	assert_int_equal(cluster_check_period_ms(2000), 500);
	assert_int_equal(cluster_check_period_ms(100), 25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registration_replaces_the_block_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_registration_needs_a_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_applies_block_changes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_from_another_address_must_register_again,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_worker_must_register_again, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lost_worker_loses_its_blocks, setup, teardown),
		cmocka_unit_test(test_check_period),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
