/* lib/json.c: typed field readers, and 64-bit ids exact as decimal strings. */
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* 2^53 + 1: the first integer a double cannot hold. */
#define ABOVE_2_53 UINT64_C(9007199254740993)

static void test_u64_round_trip_above_2_53(void **state)
{
	(void)state;
	cJSON *o = cJSON_CreateObject();
	assert_non_null(json_add_u64(o, "id", ABOVE_2_53));
	assert_non_null(json_add_u64(o, "max", UINT64_MAX));
	char *text = cJSON_PrintUnformatted(o);
	assert_string_equal(text, "{\"id\":\"9007199254740993\",\"max\":\"18446744073709551615\"}");
	cJSON *back = cJSON_Parse(text);
	uint64_t id = 0, max = 0;
	char err[128] = "";
	assert_int_equal(json_get_u64(back, "id", true, &id, err, sizeof(err)), 0);
	assert_int_equal(json_get_u64(back, "max", true, &max, err, sizeof(err)), 0);
	assert_true(id == ABOVE_2_53);
	assert_true(max == UINT64_MAX);
	free(text);
	cJSON_Delete(back);
	cJSON_Delete(o);
}

/* Older peers send small ids as numbers; those stay readable. */
static void test_u64_accepts_integral_numbers_up_to_2_53(void **state)
{
	(void)state;
	cJSON *o = cJSON_Parse("{\"a\":42,\"b\":9007199254740992,\"c\":9007199254740994,"
			       "\"d\":1.5,\"e\":-1}");
	uint64_t v = 0;
	char err[128] = "";
	assert_int_equal(json_get_u64(o, "a", true, &v, err, sizeof(err)), 0);
	assert_true(v == 42);
	assert_int_equal(json_get_u64(o, "b", true, &v, err, sizeof(err)), 0);
	assert_true(v == UINT64_C(9007199254740992));
	/* Past 2^53 a number may already be rounded: refused, not guessed. */
	assert_int_equal(json_get_u64(o, "c", true, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'c'"));
	assert_int_equal(json_get_u64(o, "d", true, &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(json_get_u64(o, "e", true, &v, err, sizeof(err)), -EINVAL);
	cJSON_Delete(o);
}

static void test_u64_refuses_bad_strings(void **state)
{
	(void)state;
	static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "0x10", "1e3", "12a",
					   "18446744073709551616", "99999999999999999999",
					   "000000000000000000001" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *s = cJSON_CreateString(bad[i]);
		uint64_t v = 7;
		assert_int_equal(json_u64_value(s, &v), -EINVAL);
		assert_true(v == 7);
		cJSON_Delete(s);
	}
	cJSON *t = cJSON_CreateTrue();
	uint64_t v = 0;
	assert_int_equal(json_u64_value(t, &v), -EINVAL);
	assert_int_equal(json_u64_value(NULL, &v), -EINVAL);
	cJSON_Delete(t);
}

static void test_parse_u64_bounds(void **state)
{
	(void)state;
	uint64_t v = 7;
	assert_int_equal(json_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(json_parse_u64("0", &v), 0);
	assert_true(v == 0);
	v = 7;
	assert_int_equal(json_parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(json_parse_u64("", &v), -EINVAL);
	assert_int_equal(json_parse_u64("-1", &v), -EINVAL);
	/* canonical only: a leading zero would give an id a second spelling */
	assert_int_equal(json_parse_u64("007", &v), -EINVAL);
	/* counters from peers: never undefined behaviour, whatever the double */
	assert_true(json_clamp_i64(1e58) == INT64_MAX);
	assert_true(json_clamp_i64(-1e58) == INT64_MIN);
	assert_true(json_clamp_i64(0.0 / 0.0) == 0);
	assert_true(json_clamp_i64(9223372036854775808.0) == INT64_MAX);
	assert_true(json_clamp_i64(-12.9) == -12);
	assert_true(json_clamp_i64(4096.5) == 4096);
	assert_int_equal(json_parse_u64("00", &v), -EINVAL);
	assert_int_equal(json_parse_u64("123456789012345678901", &v), -EINVAL);
	assert_true(v == 7);
}

static void test_u64_missing_field(void **state)
{
	(void)state;
	cJSON *o = cJSON_CreateObject();
	uint64_t v = 5;
	char err[128] = "";
	assert_int_equal(json_get_u64(o, "id", true, &v, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "'id'"));
	assert_int_equal(json_get_u64(o, "id", false, &v, err, sizeof(err)), 0);
	assert_true(v == 5);
	cJSON_Delete(o);
}

static void test_lenient_readers_fall_back(void **state)
{
	(void)state;
	cJSON *o = cJSON_Parse("{\"s\":\"x\",\"n\":-42,\"f\":1.5,\"big\":1e300,"
			       "\"null\":null,\"t\":true}");
	assert_non_null(o);
	assert_string_equal(json_str_or(o, "s", "d"), "x");
	assert_string_equal(json_str_or(o, "n", "d"), "d");
	assert_string_equal(json_str_or(o, "missing", "d"), "d");
	assert_null(json_str_or(o, "null", NULL));
	assert_int_equal(json_int_or(o, "n", 7), -42);
	assert_int_equal(json_int_or(o, "f", 7), 7);   /* not integral */
	assert_int_equal(json_int_or(o, "big", 7), 7); /* not exact */
	assert_int_equal(json_int_or(o, "s", 7), 7);
	assert_int_equal(json_int_or(o, "t", 7), 7);
	assert_int_equal(json_int_or(o, "missing", 7), 7);
	assert_true(json_num_or(o, "f", 0) == 1.5);
	assert_true(json_num_or(o, "null", -1) == -1);
	assert_true(json_num_or(NULL, "f", -1) == -1);
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64_round_trip_above_2_53),
		cmocka_unit_test(test_u64_accepts_integral_numbers_up_to_2_53),
		cmocka_unit_test(test_u64_refuses_bad_strings),
		cmocka_unit_test(test_parse_u64_bounds),
		cmocka_unit_test(test_u64_missing_field),
		cmocka_unit_test(test_lenient_readers_fall_back),
	};
	return cmocka_run_group_tests_name("lib_json", tests, NULL, NULL);
}
