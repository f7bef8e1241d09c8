/* ufs/s3_xml.c s3_head_line: what the S3 driver keeps of a store's reply
 * headers, and how it treats malformed or hostile ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ufs/s3_int.h"

#include <stdio.h>
#include <string.h>

static void feed(struct s3_head *h, const char *lines)
{
	const char *p = lines;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		s3_head_line(h, p, len);
		p += len;
	}
}

static void test_reply(void **state)
{
	(void)state;
	struct s3_head h;
	s3_head_reset(&h);
	feed(&h, "HTTP/1.1 206 Partial Content\r\n"
		 "Content-Range: bytes 0-0/5242887\r\n"
		 "content-length: 1\r\n"
		 "ETag: \"9bb58f26192e4ba00f01e2e7b136bbd8\"\r\n"
		 "Last-Modified: Wed, 12 Oct 2009 17:50:00 GMT\r\n");
	assert_int_equal(h.range_total, 5242887);
	assert_int_equal(h.content_length, 1);
	assert_string_equal(h.etag, "9bb58f26192e4ba00f01e2e7b136bbd8");
	assert_string_equal(h.etag_raw, "\"9bb58f26192e4ba00f01e2e7b136bbd8\"");
	assert_int_equal(h.mtime_ms, INT64_C(1255369800000));
	/* A second status line (after 100 Continue) starts afresh. */
	feed(&h, "HTTP/1.1 200 OK\r\n");
	assert_int_equal(h.range_total, -1);
	assert_int_equal(h.content_length, 0);
	assert_string_equal(h.etag, "");
}

static void test_hostile(void **state)
{
	(void)state;
	struct s3_head h;
	s3_head_reset(&h);
	/* Negative, signed, overflowing or trailing garbage: absent, never wrapped. */
	const char *bad[] = { "-1", "+5", "18446744073709551615", "9223372036854775808", "12x",
			      "", " " };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "Content-Length: %s\r\n", bad[i]);
		h.content_length = 7;
		feed(&h, line);
		assert_int_equal(h.content_length, 0);
		snprintf(line, sizeof(line), "Content-Range: bytes 0-1/%s\r\n", bad[i]);
		h.range_total = 7;
		feed(&h, line);
		assert_int_equal(h.range_total, -1);
	}
	feed(&h, "Content-Length: 9223372036854775807\r\n");
	assert_int_equal(h.content_length, INT64_MAX);
	/* A control byte in an ETag: taken as absent, not cut short. */
	char nul_etag[] = "ETag: \"ab\0cd\"\r\n";
	s3_head_reset(&h);
	s3_head_line(&h, nul_etag, sizeof(nul_etag) - 1);
	assert_string_equal(h.etag, "");
	/* An ETag too long for the fingerprint keeps its head and a hash of
	 * the whole: two that differ only at the end still differ. */
	char a[300], b[300];
	memset(a, 'e', sizeof(a));
	memcpy(a, "ETag: \"", 7);
	memcpy(a + 200, "\"\r\n", 4);
	memcpy(b, a, sizeof(b));
	b[198] = 'f';
	struct s3_head ha, hb;
	s3_head_reset(&ha);
	s3_head_reset(&hb);
	feed(&ha, a);
	feed(&hb, b);
	assert_int_equal(strlen(ha.etag), sizeof(ha.etag) - 1);
	assert_string_not_equal(ha.etag, hb.etag);
	assert_string_equal(ha.etag_raw, "");
	feed(&ha, "Last-Modified: not a date\r\n");
	assert_int_equal(ha.mtime_ms, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests_name("ufs_s3_head", tests, NULL, NULL);
}
