/* api/s3_server_http.c: request and response heads, chunked bodies. */
#include "api/s3_server_http.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static int req(const char *s, struct s3fh_request *r)
{
	return s3fh_parse_request(s, strlen(s), r);
}

static void test_request_fields(void **state)
{
	(void)state;
	struct s3fh_request r;
	const char *s = "GET /b/k%20x HTTP/1.1\r\nHost: s3\r\nRange:  bytes=0-9 \r\n"
			"If-None-Match: \"x\"\r\nAuthorization: AWS4\r\nConnection: Keep-Alive, TE\r\n"
			"Content-Length: 0\r\n\r\nGET /next";
	assert_int_equal(req(s, &r), 1);
	assert_int_equal(r.head_len, strlen(s) - strlen("GET /next"));
	assert_int_equal(r.method.len, 3);
	assert_memory_equal(r.target.p, "/b/k%20x", 8);
	assert_int_equal(r.target.len, 8);
	assert_int_equal(r.minor, 1);
	assert_int_equal(r.nrange, 1);
	assert_int_equal(r.range.len, 9);
	assert_memory_equal(r.range.p, "bytes=0-9", 9);
	assert_true(r.conditional && r.authorization && r.conn_keep_alive && !r.conn_close);
	assert_true(r.has_length && r.content_length == 0 && !r.chunked);
	assert_true(s3fh_keep_alive(&r));
	assert_int_equal(r.nheaders, 6);

	/* Bare LF line ends, HTTP/1.0, leading empty lines. */
	assert_int_equal(req("\r\nHEAD /a HTTP/1.0\nTransfer-Encoding: gzip, chunked\n\n", &r), 1);
	assert_int_equal(r.minor, 0);
	assert_true(r.chunked);
	assert_false(s3fh_keep_alive(&r));
	assert_int_equal(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r), 1);
	assert_true(s3fh_keep_alive(&r));
	assert_int_equal(req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r), 1);
	assert_false(s3fh_keep_alive(&r));
	/* Duplicate equal Content-Lengths are one. */
	assert_int_equal(req("PUT /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &r),
			 1);
	assert_int_equal(r.content_length, 5);
	/* Incomplete heads want more. */
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: x\r\n", &r), 0);
	assert_int_equal(req("GET / HTTP/1.1\r\n\r", &r), 0);
	assert_int_equal(req("", &r), 0);
}

static void test_request_refusals(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"\r\n\r\n",
		"GET\r\n\r\n",
		"GET /\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.2\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET /a\x01 HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1 x\r\n\r\n",
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 12345678901234567890\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
	};
	struct s3fh_request r;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (req(bad[i], &r) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	}
	/* Header count limit. */
	char big[8192];
	size_t n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < S3FH_MAX_HEADERS; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: v\r\n", i);
	snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(req(big, &r), 1);
	snprintf(big + n, sizeof(big) - n, "X-last: v\r\n\r\n");
	assert_int_equal(req(big, &r), -EINVAL);
}

/* A field value's bytes are checked eight at a time: every byte value at
 * every position of values from 1 to 40 bytes (across and between words),
 * with bytes over 0x7f around it, against the byte-by-byte rule (no
 * control byte but tab, no DEL). */
static void test_value_bytes_at_every_position(void **state)
{
	(void)state;
	struct s3fh_request r;
	char head[256];
	for (size_t len = 1; len <= 40; len++) {
		for (size_t pos = 0; pos < len; pos++) {
			for (int c = 0; c < 256; c++) {
				if (c == '\r' || c == '\n')
					continue; /* line ends: not inside a value */
				char v[64];
				for (size_t i = 0; i < len; i++)
					v[i] = (char)(i % 3 == 0 ? 0xe9 : 'a' + (int)(i % 26));
				v[pos] = (char)c;
				bool ok = !((c < 0x20 && c != '\t') || c == 0x7f);
				int n = snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nX-V: ");
				memcpy(head + n, v, len);
				memcpy(head + n + len, "\r\n\r\n", 5);
				int rc = s3fh_parse_request(head, (size_t)n + len + 4, &r);
				if (rc != (ok ? 1 : -EINVAL))
					fail_msg("len %zu, byte 0x%02x at %zu: %d", len, c, pos, rc);
			}
		}
	}
}

static void test_response_heads(void **state)
{
	(void)state;
	struct s3fh_response r;
	const char *s = "HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n\r\n0123456789";
	assert_int_equal(s3fh_parse_response(s, strlen(s), &r), 1);
	assert_int_equal(r.status, 206);
	assert_int_equal(r.head_len, strlen(s) - 10);
	assert_true(r.has_length && r.content_length == 10 && !r.conn_close);
	s = "HTTP/1.1 100\r\n\r\n";
	assert_int_equal(s3fh_parse_response(s, strlen(s), &r), 1);
	assert_int_equal(r.status, 100);
	s = "HTTP/1.0 200 OK\r\n\r\n";
	assert_int_equal(s3fh_parse_response(s, strlen(s), &r), 1);
	assert_true(r.conn_close); /* 1.0 without keep-alive */
	s = "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
	assert_int_equal(s3fh_parse_response(s, strlen(s), &r), 1);
	assert_true(r.conn_close && r.chunked);
	s = "HTTP/1.1 200 OK\r\n";
	assert_int_equal(s3fh_parse_response(s, strlen(s), &r), 0);
	static const char *const bad[] = { "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
					   "HTTP/1.1 099 x\r\n\r\n", "HTTP/1.1 abc\r\n\r\n",
					   "ICY 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nbad\r\n\r\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(s3fh_parse_response(bad[i], strlen(bad[i]), &r), -EINVAL);
	assert_string_equal(s3fh_reason(206), "Partial Content");
	assert_string_equal(s3fh_reason(299), "Unknown");
}

/* Feeds body in pieces of `step` bytes; returns bytes consumed, -1 on error. */
static long feed(const char *body, size_t len, size_t step, bool *done)
{
	struct s3fh_chunked st = { 0 };
	size_t off = 0;
	while (off < len && !st.done) {
		size_t n = len - off < step ? len - off : step;
		long got = s3fh_chunked_feed(&st, body + off, n);
		if (got < 0)
			return -1;
		off += (size_t)got;
		if ((size_t)got < n && !st.done)
			return -2; /* stopped early without being done */
	}
	*done = st.done;
	return (long)off;
}

static void test_chunked(void **state)
{
	(void)state;
	const char *ok = "5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	size_t body = strlen(ok) - 4;
	for (size_t step = 1; step <= strlen(ok); step++) {
		bool done = false;
		assert_int_equal(feed(ok, strlen(ok), step, &done), (long)body);
		assert_true(done);
	}
	bool done;
	assert_int_equal(feed("0\n\nX", 4, 1, &done), 3); /* bare LFs */
	assert_true(done);
	assert_int_equal(feed("0\r\n\r\n", 5, 5, &done), 5);
	/* Not done yet: everything consumed. */
	assert_int_equal(feed("5\r\nhel", 6, 6, &done), 6);
	assert_false(done);
	static const char *const bad[] = { "x\r\n", "\r\n", "5\r\nhelloX", "5\r\nhello\rX",
					   "0\r\nT: x\rX", "0\r\n\rX",
					   "11111111111111111\r\n" /* over 2^60 */ };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		done = false;
		if (feed(bad[i], strlen(bad[i]), 64, &done) != -1)
			fail_msg("accepted chunking: %s", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_fields),
		cmocka_unit_test(test_request_refusals),
		cmocka_unit_test(test_value_bytes_at_every_position),
		cmocka_unit_test(test_response_heads),
		cmocka_unit_test(test_chunked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
