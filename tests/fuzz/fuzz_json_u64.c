/*
 * Fuzzes the 64-bit id codec of lib/json.c (ids travel as decimal strings
 * because JSON numbers are doubles): json_parse_u64 on any bytes, and the
 * contract with its inverse. A string that parses re-formats to itself
 * (canonical: no sign, no leading zero, no space), json_u64_value agrees
 * with it on a string item, and json_add_u64 of the value reads back the
 * same value. A refusal is -EINVAL or -ERANGE.
 */
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64)
		return 0;
	char s[65];
	memcpy(s, data, size);
	s[size] = '\0';
	uint64_t v = 0;
	int rc = json_parse_u64(s, &v);
	check(rc == 0 || rc == -EINVAL || rc == -ERANGE);
	cJSON *item = cJSON_CreateString(s);
	uint64_t w = 0;
	int rc2 = json_u64_value(item, &w);
	cJSON_Delete(item);
	if (rc == 0) {
		char again[24];
		snprintf(again, sizeof(again), "%" PRIu64, v);
		check(strcmp(again, s) == 0); /* canonical (up to the first NUL, as C reads it) */
		check(rc2 == 0 && w == v);
		cJSON *o = cJSON_CreateObject();
		check(json_add_u64(o, "id", v) != NULL);
		uint64_t back = 0;
		check(json_u64_value(cJSON_GetObjectItemCaseSensitive(o, "id"), &back) == 0 &&
		      back == v);
		/* and through text, as it goes over the wire */
		char *text = cJSON_PrintUnformatted(o);
		cJSON *parsed = cJSON_Parse(text);
		check(json_u64_value(cJSON_GetObjectItemCaseSensitive(parsed, "id"), &back) == 0 &&
		      back == v);
		cJSON_Delete(parsed);
		free(text);
		cJSON_Delete(o);
	} else {
		check(rc2 != 0);
	}
	return 0;
}
