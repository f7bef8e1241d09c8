/* Tests daemon/master/registry.c on virtual time: registration, heartbeats,
 * loss after the timeout, coming back, re-registration keeps the id. */
#include "daemon/master/registry.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static const struct worker_report rep_a = {
	.host = "10.0.0.1", .data_port = 29999, .s3_port = 39999, .version = "0.1.0",
	.capacity_bytes = 1000, .used_bytes = 10,
};

static void test_register_and_totals(void **state)
{
	struct registry *reg = registry_new(1000);
	uint64_t id1 = 0, id2 = 0, id3 = 0;
	assert_int_equal(registry_register(reg, &rep_a, 0, &id1), 0);
	struct worker_report b = rep_a;
	b.data_port = 30000;
	b.capacity_bytes = 500;
	assert_int_equal(registry_register(reg, &b, 0, &id2), 0);
	assert_int_not_equal(id1, id2);
	/* Same address again: same id. */
	assert_int_equal(registry_register(reg, &rep_a, 5, &id3), 0);
	assert_int_equal(id1, id3);

	struct registry_totals t;
	registry_totals(reg, &t);
	assert_int_equal(t.live, 2);
	assert_int_equal(t.lost, 0);
	assert_int_equal(t.capacity_bytes, 1500);
	assert_int_equal(t.used_bytes, 20);
	registry_free(reg);
}

static void test_loss_and_return(void **state)
{
	struct registry *reg = registry_new(1000);
	uint64_t id = 0;
	assert_int_equal(registry_register(reg, &rep_a, 0, &id), 0);
	assert_int_equal(registry_check(reg, 1000, NULL, NULL), 0); /* exactly at the limit: alive */
	assert_int_equal(registry_heartbeat(reg, id, 1000, 20, 900), 0);
	assert_int_equal(registry_check(reg, 1900, NULL, NULL), 0);
	assert_int_equal(registry_check(reg, 1901, NULL, NULL), 1);
	assert_int_equal(registry_check(reg, 5000, NULL, NULL), 0); /* already lost: counted once */
	struct registry_totals t;
	registry_totals(reg, &t);
	assert_int_equal(t.live, 0);
	assert_int_equal(t.lost, 1);
	assert_int_equal(t.capacity_bytes, 0);

	assert_int_equal(registry_heartbeat(reg, id, 1000, 30, 5001), 0);
	registry_totals(reg, &t);
	assert_int_equal(t.live, 1);
	assert_int_equal(t.used_bytes, 30);
	registry_free(reg);
}

static void test_unknown_and_invalid(void **state)
{
	struct registry *reg = registry_new(1000);
	assert_int_equal(registry_heartbeat(reg, 42, 0, 0, 0), -ENOENT);
	struct worker_report bad = rep_a;
	bad.host = "";
	uint64_t id;
	assert_int_equal(registry_register(reg, &bad, 0, &id), -EINVAL);
	char longhost[400];
	memset(longhost, 'h', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	bad.host = longhost;
	assert_int_equal(registry_register(reg, &bad, 0, &id), -EINVAL);
	registry_free(reg);
}

static void test_json(void **state)
{
	struct registry *reg = registry_new(1000);
	uint64_t id;
	assert_int_equal(registry_register(reg, &rep_a, 0, &id), 0);
	registry_check(reg, 2000, NULL, NULL);
	cJSON *arr = registry_to_json(reg, 2500);
	assert_non_null(arr);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	cJSON *w = cJSON_GetArrayItem(arr, 0);
	assert_string_equal(cJSON_GetObjectItem(w, "address")->valuestring, "10.0.0.1:29999");
	assert_string_equal(cJSON_GetObjectItem(w, "state")->valuestring, "lost");
	assert_int_equal((int)cJSON_GetObjectItem(w, "last_heartbeat_ms_ago")->valuedouble, 2500);
	assert_int_equal((int)cJSON_GetObjectItem(w, "capacity_bytes")->valuedouble, 1000);
	cJSON_Delete(arr);
	registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_totals),
		cmocka_unit_test(test_loss_and_return),
		cmocka_unit_test(test_unknown_and_invalid),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests_name("master_registry", tests, NULL, NULL);
}
