/* Tests daemon/master/events.c: newest first, the ?since= cursor, a limit,
 * a full ring dropping the oldest, ids as decimal strings. */
#include "daemon/master/events.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char *seq_of(const cJSON *doc, int i)
{
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "events"), i);
	assert_non_null(e);
	return cJSON_GetObjectItem(e, "seq")->valuestring;
}

static int count(const cJSON *doc)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(doc, "events"));
}

static void test_ring(void **state)
{
	(void)state;
	assert_null(events_new(0));
	struct events *ev = events_new(4);
	assert_non_null(ev);
	cJSON *doc = events_json(ev, 0, 0);
	assert_int_equal(count(doc), 0);
	assert_string_equal(cJSON_GetObjectItem(doc, "last_seq")->valuestring, "0");
	cJSON_Delete(doc);
	for (int i = 1; i <= 6; i++) {
		char path[16];
		snprintf(path, sizeof(path), "/f%d", i);
		assert_int_equal(events_add(ev, 100 + i, "ttl_fired", path, i == 3 ? NULL : "d"),
				 (uint64_t)i);
	}
	assert_int_equal(events_last_seq(ev), 6);
	doc = events_json(ev, 0, 0);
	assert_int_equal(count(doc), 4); /* 1 and 2 dropped */
	assert_string_equal(seq_of(doc, 0), "6");
	assert_string_equal(seq_of(doc, 3), "3");
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "events"), 3);
	assert_string_equal(cJSON_GetObjectItem(e, "path")->valuestring, "/f3");
	assert_string_equal(cJSON_GetObjectItem(e, "detail")->valuestring, "");
	assert_int_equal(cJSON_GetObjectItem(e, "time_ms")->valuedouble, 103);
	assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, "ttl_fired");
	assert_string_equal(cJSON_GetObjectItem(doc, "last_seq")->valuestring, "6");
	cJSON_Delete(doc);
	doc = events_json(ev, 4, 0);
	assert_int_equal(count(doc), 2);
	assert_string_equal(seq_of(doc, 1), "5");
	cJSON_Delete(doc);
	doc = events_json(ev, 0, 1);
	assert_int_equal(count(doc), 1);
	assert_string_equal(seq_of(doc, 0), "6");
	cJSON_Delete(doc);
	doc = events_json(ev, 6, 0);
	assert_int_equal(count(doc), 0);
	cJSON_Delete(doc);
	events_free(ev);
	events_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
