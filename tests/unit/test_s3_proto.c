/*
 * api/s3_proto: request classification, key rules, Range, times, tokens,
 * XML replies (parsed back with lib/xml.h) and request-body parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "api/s3_gateway.h"
#include "api/s3_proto.h"
#include "lib/err.h"
#include "lib/xml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int classify(const char *method, const char *path, const char *query,
		    const char *copy, struct s3_request *r)
{
	char err[256] = "";
	struct s3_http_in in = { method, path, query, copy };
	memset(r, 0, sizeof(*r));
	return s3_classify(&in, r, err, sizeof(err));
}

static void expect_op(const char *method, const char *path, const char *query, enum s3_op op,
		      const char *bucket, const char *key)
{
	struct s3_request r;
	int rc = classify(method, path, query, NULL, &r);
	if (rc)
		fail_msg("%s %s?%s: rc %d", method, path, query ? query : "", rc);
	if (r.op != op)
		fail_msg("%s %s?%s: got %s, want %s", method, path, query ? query : "",
			 s3_op_name(r.op), s3_op_name(op));
	assert_string_equal(r.bucket, bucket);
	if (key)
		assert_string_equal(r.key, key);
	else
		assert_null(r.key);
	s3_request_free(&r);
}

static void test_classify_operations(void **state)
{
	expect_op("GET", "/", NULL, S3_OP_LIST_BUCKETS, "", NULL);
	expect_op("PUT", "/b1", NULL, S3_OP_CREATE_BUCKET, "b1", NULL);
	expect_op("PUT", "/b1/", NULL, S3_OP_CREATE_BUCKET, "b1", NULL);
	expect_op("DELETE", "/b1", NULL, S3_OP_DELETE_BUCKET, "b1", NULL);
	expect_op("HEAD", "/b1", NULL, S3_OP_HEAD_BUCKET, "b1", NULL);
	expect_op("GET", "/b1", "location", S3_OP_GET_BUCKET_LOCATION, "b1", NULL);
	expect_op("GET", "/b1", NULL, S3_OP_LIST_OBJECTS, "b1", NULL);
	expect_op("GET", "/b1", "list-type=2&prefix=a%2F&delimiter=%2F", S3_OP_LIST_OBJECTS_V2,
		  "b1", NULL);
	expect_op("POST", "/b1", "delete", S3_OP_DELETE_OBJECTS, "b1", NULL);
	expect_op("POST", "/b1", "delete=", S3_OP_DELETE_OBJECTS, "b1", NULL);
	expect_op("GET", "/b1/k", NULL, S3_OP_GET_OBJECT, "b1", "k");
	expect_op("HEAD", "/b1/k", NULL, S3_OP_HEAD_OBJECT, "b1", "k");
	expect_op("PUT", "/b1/k", NULL, S3_OP_PUT_OBJECT, "b1", "k");
	expect_op("DELETE", "/b1/k", NULL, S3_OP_DELETE_OBJECT, "b1", "k");
	expect_op("POST", "/b1/k", "uploads", S3_OP_CREATE_MULTIPART, "b1", "k");
	expect_op("PUT", "/b1/k", "partNumber=3&uploadId=abc", S3_OP_UPLOAD_PART, "b1", "k");
	expect_op("POST", "/b1/k", "uploadId=abc", S3_OP_COMPLETE_MULTIPART, "b1", "k");
	expect_op("DELETE", "/b1/k", "uploadId=abc", S3_OP_ABORT_MULTIPART, "b1", "k");
	expect_op("GET", "/b1/k", "uploadId=abc", S3_OP_LIST_PARTS, "b1", "k");
	expect_op("GET", "/b1", "uploads", S3_OP_LIST_UPLOADS, "b1", NULL);
	/* presigned-URL parameters and response overrides are not subresources */
	expect_op("GET", "/b1/k", "X-Amz-Algorithm=AWS4-HMAC-SHA256&response-content-type=x",
		  S3_OP_GET_OBJECT, "b1", "k");

	struct s3_request r;
	assert_int_equal(classify("PUT", "/b1/dst", NULL, "/src%20b/a%2Bb%20c.txt", &r),
			 S3_ERR_INVALID_BUCKET_NAME);
	assert_int_equal(classify("PUT", "/b1/dst", NULL, "/srcb/a%2Bb%20c.txt", &r), 0);
	assert_int_equal(r.op, S3_OP_COPY_OBJECT);
	assert_string_equal(r.copy_bucket, "srcb");
	assert_string_equal(r.copy_key, "a+b c.txt");
	s3_request_free(&r);
	assert_int_equal(classify("PUT", "/b1/dst", NULL, "srcb/x?versionId=null", &r), 0);
	assert_string_equal(r.copy_key, "x");
	s3_request_free(&r);
	assert_int_equal(classify("PUT", "/b1/dst", NULL, "srcb/x?versionId=7", &r),
			 S3_ERR_NOT_IMPLEMENTED);
	assert_int_equal(classify("PUT", "/b1/dst", NULL, "srcb/..", &r), S3_ERR_INVALID_ARGUMENT);

	/* list parameters */
	assert_int_equal(classify("GET", "/b1",
				  "list-type=2&prefix=a+b%2F&delimiter=%2F&max-keys=5&"
				  "continuation-token=tok&start-after=s&encoding-type=url&"
				  "fetch-owner=true",
				  NULL, &r),
			 0);
	assert_string_equal(r.prefix, "a b/");
	assert_string_equal(r.delimiter, "/");
	assert_int_equal(r.max_keys, 5);
	assert_string_equal(r.continuation_token, "tok");
	assert_string_equal(r.start_after, "s");
	assert_true(r.url_encoding);
	s3_request_free(&r);
	assert_int_equal(classify("GET", "/b1", "max-keys=5000&marker=m", NULL, &r), 0);
	assert_int_equal(r.op, S3_OP_LIST_OBJECTS);
	assert_int_equal(r.max_keys, 1000);
	assert_string_equal(r.marker, "m");
	s3_request_free(&r);
	assert_int_equal(classify("GET", "/b1", "max-keys=-1", NULL, &r), S3_ERR_INVALID_ARGUMENT);
	assert_int_equal(classify("GET", "/b1", "max-keys=abc", NULL, &r), S3_ERR_INVALID_ARGUMENT);
	assert_int_equal(classify("GET", "/b1", "encoding-type=xml", NULL, &r),
			 S3_ERR_INVALID_ARGUMENT);

	/* what we do not serve */
	assert_int_equal(classify("GET", "/b1", "acl", NULL, &r), S3_ERR_NOT_IMPLEMENTED);
	assert_int_equal(classify("GET", "/b1", "versioning", NULL, &r), S3_ERR_NOT_IMPLEMENTED);
	assert_int_equal(classify("PUT", "/b1/k", "tagging", NULL, &r), S3_ERR_NOT_IMPLEMENTED);
	assert_int_equal(classify("POST", "/b1", NULL, NULL, &r), S3_ERR_NOT_IMPLEMENTED);
	assert_int_equal(classify("PATCH", "/b1/k", NULL, NULL, &r), S3_ERR_NOT_IMPLEMENTED);
	assert_int_equal(classify("PUT", "/", NULL, NULL, &r), S3_ERR_METHOD_NOT_ALLOWED);
	assert_int_equal(classify("PUT", "/b1/k", "partNumber=0&uploadId=a", NULL, &r),
			 S3_ERR_INVALID_ARGUMENT);
	assert_int_equal(classify("PUT", "/b1/k", "partNumber=10001&uploadId=a", NULL, &r),
			 S3_ERR_INVALID_ARGUMENT);
	assert_int_equal(classify("PUT", "/b1/k", "partNumber=2", NULL, &r),
			 S3_ERR_INVALID_ARGUMENT);
	assert_int_equal(classify("PUT", "/b1/k", "partNumber=1&uploadId=a", "/s/k", &r),
			 S3_ERR_NOT_IMPLEMENTED);
	assert_int_equal(classify("GET", "b1/k", NULL, NULL, &r), S3_ERR_INVALID_REQUEST);
}

static void test_classify_odd_keys(void **state)
{
	expect_op("GET", "/b/a%20b", NULL, S3_OP_GET_OBJECT, "b", "a b");
	expect_op("GET", "/b/a+b", NULL, S3_OP_GET_OBJECT, "b", "a+b"); /* '+' in a path is '+' */
	expect_op("GET", "/b/a%2Bb", NULL, S3_OP_GET_OBJECT, "b", "a+b");
	expect_op("GET", "/b/dir%2Fsub%2Ff", NULL, S3_OP_GET_OBJECT, "b", "dir/sub/f");
	expect_op("GET", "/b/%E6%97%A5%E6%9C%AC/%C3%BC.txt", NULL, S3_OP_GET_OBJECT, "b",
		  "\xe6\x97\xa5\xe6\x9c\xac/\xc3\xbc.txt");
	expect_op("GET", "/b/%3C%26%22'%3E", NULL, S3_OP_GET_OBJECT, "b", "<&\"'>");
	expect_op("GET", "/b/100%", NULL, S3_OP_GET_OBJECT, "b", "100%"); /* bad escape kept */
	expect_op("GET", "/b/a.b/..c/c..", NULL, S3_OP_GET_OBJECT, "b", "a.b/..c/c..");
	expect_op("PUT", "/b/dir/", NULL, S3_OP_PUT_OBJECT, "b", "dir/");

	struct s3_request r;
	assert_int_equal(classify("PUT", "/b/dir/sub/", NULL, NULL, &r), 0);
	assert_true(r.dir_marker);
	s3_request_free(&r);
	assert_int_equal(classify("PUT", "/b/file", NULL, NULL, &r), 0);
	assert_false(r.dir_marker);
	s3_request_free(&r);

	/* keys that cannot be namespace paths */
	const char *bad[] = { "/b/a//b", "/b//a", "/b/a/./b", "/b/a/../b", "/b/..", "/b/.",
			      "/b/a%2F%2Fb", "/b/%2E%2E/x", "/b/a%00b", "/b/%FF", "/b/%C0%AF",
			      "/b/a/b//", "/b/%ED%A0%80", NULL };
	for (int i = 0; bad[i]; i++) {
		int rc = classify("GET", bad[i], NULL, NULL, &r);
		if (rc != S3_ERR_INVALID_ARGUMENT)
			fail_msg("%s: rc %d, want InvalidArgument", bad[i], rc);
	}
	/* lengths: 1024 bytes is fine, 1025 is KeyTooLongError */
	char path[4000];
	strcpy(path, "/b/");
	memset(path + 3, 'k', 1024);
	path[3 + 1024] = '\0';
	assert_int_equal(classify("GET", path, NULL, NULL, &r), 0);
	assert_int_equal(strlen(r.key), 1024);
	s3_request_free(&r);
	strcat(path, "k");
	assert_int_equal(classify("GET", path, NULL, NULL, &r), S3_ERR_KEY_TOO_LONG);
	/* encoded, 3 bytes per key byte on the wire, 1024 decoded */
	strcpy(path, "/b/");
	for (int i = 0; i < 1024; i++)
		strcat(path, "%41");
	assert_int_equal(classify("GET", path, NULL, NULL, &r), 0);
	s3_request_free(&r);

	/* bucket names */
	assert_int_equal(classify("GET", "/a%2Fb/k", NULL, NULL, &r), S3_ERR_INVALID_BUCKET_NAME);
	assert_int_equal(classify("GET", "/..", NULL, NULL, &r), S3_ERR_INVALID_BUCKET_NAME);
	assert_int_equal(classify("GET", "//k", NULL, NULL, &r), S3_ERR_INVALID_BUCKET_NAME);
	assert_int_equal(classify("GET", "/b%20c", NULL, NULL, &r), S3_ERR_INVALID_BUCKET_NAME);
	memset(path, 'b', sizeof(path));
	path[0] = '/';
	path[65] = '\0';
	assert_int_equal(classify("GET", path, NULL, NULL, &r), S3_ERR_INVALID_BUCKET_NAME);
	path[64] = '\0';
	assert_int_equal(classify("GET", path, NULL, NULL, &r), 0);
	s3_request_free(&r);
	assert_true(s3_bucket_valid("my-bucket.1_x"));
	assert_false(s3_bucket_valid(""));

	char p[64];
	assert_int_equal(s3_object_path("b", "dir/", p, sizeof(p)), 0);
	assert_string_equal(p, "/b/dir");
	assert_int_equal(s3_object_path("b", "x/y.txt", p, sizeof(p)), 0);
	assert_string_equal(p, "/b/x/y.txt");
	assert_int_equal(s3_object_path("b", "0123456789012345678901234567890123456789012345678901234567890123", p, sizeof(p)),
			 -ENAMETOOLONG);
}

static void test_query_parse(void **state)
{
	struct s3_param *p = NULL;
	size_t n = 0;
	assert_int_equal(s3_parse_query("a=1&&b&c=%41%2b+d&=e&f=%zz", &p, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(p[0].name, "a");
	assert_string_equal(p[0].value, "1");
	assert_string_equal(p[1].name, "b");
	assert_string_equal(p[1].value, "");
	assert_string_equal(p[2].value, "A+ d");
	assert_string_equal(p[3].name, "");
	assert_string_equal(p[4].value, "%zz");
	s3_params_free(p, n);
	assert_int_equal(s3_parse_query(NULL, &p, &n), 0);
	assert_int_equal(n, 0);
	s3_params_free(p, n);
	char *big = malloc(1001 * 2 + 1);
	for (int i = 0; i < 1001; i++)
		memcpy(big + 2 * i, "a&", 2);
	big[2002] = '\0';
	assert_int_equal(s3_parse_query(big, &p, &n), -E2BIG);
	free(big);
}

static void expect_range(const char *h, uint64_t size, int rc, bool partial, uint64_t first,
			 uint64_t last)
{
	bool p = true;
	uint64_t f = 99, l = 99;
	int got = s3_range_parse(h, size, &p, &f, &l);
	if (got != rc)
		fail_msg("'%s' of %llu: rc %d, want %d", h ? h : "(null)", (unsigned long long)size,
			 got, rc);
	if (rc)
		return;
	if (p != partial)
		fail_msg("'%s': partial %d", h, p);
	if (partial && (f != first || l != last))
		fail_msg("'%s' of %llu: %llu-%llu, want %llu-%llu", h, (unsigned long long)size,
			 (unsigned long long)f, (unsigned long long)l, (unsigned long long)first,
			 (unsigned long long)last);
}

static void test_range_start(void **state)
{
	(void)state;
	assert_int_equal(s3_range_start(NULL), 0);
	assert_int_equal(s3_range_start("bytes=0-9"), 0);
	assert_int_equal(s3_range_start("bytes=1500000-1500099"), 1500000);
	assert_int_equal(s3_range_start("BYTES=7-"), 7);
	assert_int_equal(s3_range_start("bytes= 12-20"), 12);
	assert_true(s3_range_start("bytes=18446744073709551614-") == UINT64_C(18446744073709551614));
	assert_int_equal(s3_range_start("bytes=99999999999999999999-"), 0); /* overflows */
	assert_int_equal(s3_range_start("bytes=-500"), 0); /* suffix: size unknown */
	assert_int_equal(s3_range_start("bytes=5-1,9-10"), 5);
	assert_int_equal(s3_range_start("items=5-"), 0);
	assert_int_equal(s3_range_start("bytes=x"), 0);
	assert_int_equal(s3_range_start(""), 0);
}

static void test_range(void **state)
{
	expect_range(NULL, 100, 0, false, 0, 0);
	expect_range("bytes=0-9", 100, 0, true, 0, 9);
	expect_range("bytes=10-", 100, 0, true, 10, 99);
	expect_range("bytes=-10", 100, 0, true, 90, 99);
	expect_range("bytes=-1000", 100, 0, true, 0, 99);
	expect_range("bytes=50-1000", 100, 0, true, 50, 99);
	expect_range("bytes=99-99", 100, 0, true, 99, 99);
	expect_range("BYTES=1-2", 100, 0, true, 1, 2);
	expect_range("bytes=0-0", 1, 0, true, 0, 0);
	expect_range("bytes=100-", 100, S3_ERR_INVALID_RANGE, false, 0, 0);
	expect_range("bytes=100-200", 100, S3_ERR_INVALID_RANGE, false, 0, 0);
	expect_range("bytes=-0", 100, S3_ERR_INVALID_RANGE, false, 0, 0);
	expect_range("bytes=0-", 0, S3_ERR_INVALID_RANGE, false, 0, 0);
	expect_range("bytes=-5", 0, S3_ERR_INVALID_RANGE, false, 0, 0);
	/* ignored: whole object */
	expect_range("bytes=0-1,5-6", 100, 0, false, 0, 0);
	expect_range("bytes=5-1", 100, 0, false, 0, 0);
	expect_range("bytes=a-b", 100, 0, false, 0, 0);
	expect_range("bytes=-", 100, 0, false, 0, 0);
	expect_range("items=0-1", 100, 0, false, 0, 0);
	expect_range("bytes=1", 100, 0, false, 0, 0);
	expect_range("bytes=99999999999999999999-", 100, 0, false, 0, 0);
	expect_range("bytes=18446744073709551615-", 100, 0, false, 0, 0);
	expect_range("bytes=0-18446744073709551614", 100, 0, false, 0, 0);
	expect_range("bytes=0-9999999999999999999", 100, 0, true, 0, 99);
	expect_range("bytes= 0-9 ", 100, 0, true, 0, 9);
	expect_range("", 100, 0, false, 0, 0);
}

/* s3_time_http formats by arithmetic: the same text as gmtime_r+strftime
 * (C locale) over a spread of times, both sides of the epoch, leap days,
 * year ends, and a year out of range. */
static void test_time_http_matches_gmtime(void **state)
{
	(void)state;
	int64_t fixed[] = { 0, -1, 1, 86399, 86400, 951782400 /* 2000-02-29 */,
			    951868799, 4107542399 /* 2100-02-28T23:59:59 */, 4107542400,
			    253402300799 /* 9999-12-31T23:59:59 */, -62135596800 /* 0001-01-01 */,
			    1709164800 /* 2024-02-29 */, 1735689599, 1735689600 };
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 200000 + (int)(sizeof(fixed) / sizeof(fixed[0])); i++) {
		int64_t t;
		if (i < (int)(sizeof(fixed) / sizeof(fixed[0]))) {
			t = fixed[i];
		} else {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			t = (int64_t)(x % 253402300800ull) - 62135596800 / 2;
		}
		char got[32], want[64];
		time_t tt = (time_t)t;
		struct tm tm;
		assert_non_null(gmtime_r(&tt, &tm));
		/* (%Y does not pad years before 1000; an HTTP date has 4 digits) */
		size_t n = strftime(want, sizeof(want), "%a, %d %b ", &tm);
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%04d", tm.tm_year + 1900);
		strftime(want + n, sizeof(want) - n, " %H:%M:%S GMT", &tm);
		s3_time_http(t, got);
		if (strcmp(got, want) != 0)
			fail_msg("t=%lld: got '%s', want '%s'", (long long)t, got, want);
	}
	char buf[32];
	s3_time_http(253402300800, buf); /* year 10000 */
	assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static void test_times_etags_tokens(void **state)
{
	char buf[32];
	s3_time_iso8601(1369353600, buf);
	assert_string_equal(buf, "2013-05-24T00:00:00.000Z");
	s3_time_http(1369353600, buf);
	assert_string_equal(buf, "Fri, 24 May 2013 00:00:00 GMT");
	int64_t t = 0;
	assert_int_equal(s3_time_parse("20130524T000000Z", &t), 0);
	assert_int_equal(t, 1369353600);
	assert_int_equal(s3_time_parse("Fri, 24 May 2013 00:00:01 GMT", &t), 0);
	assert_int_equal(t, 1369353601);
	assert_int_equal(s3_time_parse("2013-05-24T00:00:02.000Z", &t), 0);
	assert_int_equal(t, 1369353602);
	assert_int_equal(s3_time_parse("2013-13-24T00:00:02Z", &t), -EINVAL);
	assert_int_equal(s3_time_parse("20130524T00000Z", &t), -EINVAL);
	assert_int_equal(s3_time_parse("", &t), -EINVAL);

	char e[S3_ETAG_MAX + 4];
	s3_etag_quote("abc", e, sizeof(e));
	assert_string_equal(e, "\"abc\"");
	s3_etag_quote("\"abc\"", e, sizeof(e));
	assert_string_equal(e, "\"abc\"");
	s3_etag_unquote(" \"abc\" ", e, sizeof(e));
	assert_string_equal(e, "abc");
	s3_etag_unquote("&quot;abc&quot;", e, sizeof(e));
	assert_string_equal(e, "abc");
	s3_etag_unquote("\"", e, sizeof(e));
	assert_string_equal(e, "\"");

	/* AWS's multipart ETag: md5 of the binary part md5s, "-N" */
	struct s3_part parts[2] = { { 1, "5d41402abc4b2a76b9719d911017c592" },
				    { 2, "7d793037a0760186574b0282f2f435e7" } };
	char mp[S3_ETAG_MAX];
	assert_int_equal(s3_multipart_etag(parts, 2, mp), 0);
	assert_int_equal(strlen(mp), 34);
	assert_string_equal(mp + 32, "-2");
	struct s3_part badp = { 1, "xyz" };
	assert_int_equal(s3_multipart_etag(&badp, 1, mp), -EINVAL);

	const char *keys[] = { "", "a", "ab", "abc", "dir/\xc3\xbc +&=?", NULL };
	for (int i = 0; keys[i]; i++) {
		char *tok = NULL, *back = NULL;
		assert_int_equal(s3_token_encode(keys[i], &tok), 0);
		assert_null(strpbrk(tok, "+/=&"));
		assert_int_equal(s3_token_decode(tok, &back), 0);
		assert_string_equal(back, keys[i]);
		free(tok);
		free(back);
	}
	char *back = NULL;
	assert_int_equal(s3_token_decode("a", &back), -EINVAL);
	assert_int_equal(s3_token_decode("ab!c", &back), -EINVAL);
	assert_int_equal(s3_token_decode("AA", &back), -EINVAL); /* decodes to a NUL */

	int status;
	const char *code, *msg;
	assert_true(s3_error_lookup(S3_ERR_NO_SUCH_KEY, &status, &code, &msg));
	assert_int_equal(status, 404);
	assert_string_equal(code, "NoSuchKey");
	assert_true(s3_error_lookup(S3_ERR_INVALID_RANGE, &status, &code, &msg));
	assert_int_equal(status, 416);
	assert_true(s3_error_lookup(S3_ERR_BUCKET_EXISTS, &status, &code, &msg));
	assert_int_equal(status, 409);
	assert_string_equal(code, "BucketAlreadyOwnedByYou");
	assert_false(s3_error_lookup(-ENOENT, &status, &code, &msg));
	assert_int_equal(status, 500);
	/* Negative like errno and ST_ codes, below both: the positive value
	 * of a code is nothing, and a backend's errno never maps to one. */
	assert_false(s3_error_lookup(-S3_ERR_NO_SUCH_KEY, &status, &code, &msg));
#define S3_ERR_SIGN(name, val, st, cd, m) assert_true(name <= -S3_ERR_BASE);
	S3_ERRORS(S3_ERR_SIGN)
#undef S3_ERR_SIGN
	assert_true(ST_EPEER > -S3_ERR_BASE);
	assert_int_equal(s3_gw_map_errno(S3_ERR_INVALID_RANGE, true), S3_ERR_INVALID_RANGE);
}

static struct xml_node *parse_back(const char *xml, size_t len)
{
	struct xml_node *root = NULL;
	char err[128];
	if (xml_parse(xml, len, &root, err, sizeof(err)))
		fail_msg("reply is not XML: %s\n%s", err, xml);
	return root;
}

static void test_xml_listing(void **state)
{
	const char *nasty = "a<b>&\"c'\x01.txt";
	struct s3_xml_entry entries[] = {
		{ nasty, false, 42, 1369353600, "abc" },
		{ "dir/", true, 0, 0, NULL },
		{ "x y+z", false, 0, 0, "\"q\"" },
	};
	struct s3_xml_listing l = { .v2 = true, .bucket = "bkt", .prefix = "p&", .delimiter = "/",
				    .start_after = "s", .continuation_token = "tok",
				    .max_keys = 3, .truncated = true, .next_token = "nt",
				    .entries = entries, .n = 3 };
	char *xml = NULL;
	size_t len = 0;
	assert_int_equal(s3_xml_list_objects(&l, &xml, &len), 0);
	assert_int_equal(strlen(xml), len);
	assert_null(strstr(xml, "<b>")); /* escaped */
	struct xml_node *root = parse_back(xml, len);
	assert_string_equal(xml_local_name(root), "ListBucketResult");
	assert_string_equal(xml_child_text(root, "Name"), "bkt");
	assert_string_equal(xml_child_text(root, "Prefix"), "p&");
	assert_string_equal(xml_child_text(root, "KeyCount"), "3");
	assert_string_equal(xml_child_text(root, "MaxKeys"), "3");
	assert_string_equal(xml_child_text(root, "IsTruncated"), "true");
	assert_string_equal(xml_child_text(root, "NextContinuationToken"), "nt");
	assert_string_equal(xml_child_text(root, "ContinuationToken"), "tok");
	assert_string_equal(xml_child_text(root, "StartAfter"), "s");
	const struct xml_node *c = xml_child(root, "Contents");
	assert_non_null(c);
	assert_string_equal(xml_child_text(c, "Key"), nasty);
	assert_string_equal(xml_child_text(c, "Size"), "42");
	assert_string_equal(xml_child_text(c, "ETag"), "\"abc\"");
	assert_string_equal(xml_child_text(c, "LastModified"), "2013-05-24T00:00:00.000Z");
	c = xml_next(c, "Contents");
	assert_string_equal(xml_child_text(c, "Key"), "x y+z");
	assert_string_equal(xml_child_text(c, "ETag"), "\"q\"");
	assert_null(xml_next(c, "Contents"));
	const struct xml_node *cp = xml_child(root, "CommonPrefixes");
	assert_string_equal(xml_child_text(cp, "Prefix"), "dir/");
	xml_free(root);
	free(xml);

	/* v1, url encoding */
	l.v2 = false;
	l.url_encoding = true;
	l.marker = "m k";
	l.next_marker = "x y+z";
	assert_int_equal(s3_xml_list_objects(&l, &xml, &len), 0);
	root = parse_back(xml, len);
	assert_null(xml_child(root, "KeyCount"));
	assert_string_equal(xml_child_text(root, "EncodingType"), "url");
	assert_string_equal(xml_child_text(root, "Marker"), "m%20k");
	assert_string_equal(xml_child_text(root, "NextMarker"), "x%20y%2Bz");
	assert_string_equal(xml_child_text(root, "Prefix"), "p%26");
	assert_string_equal(xml_child_text(xml_child(root, "Contents"), "Key"),
			    "a%3Cb%3E%26%22c%27%01.txt");
	xml_free(root);
	free(xml);
}

static void test_xml_other_replies(void **state)
{
	char *xml = NULL;
	size_t len = 0;
	struct xml_node *root;

	struct s3_xml_bucket bk[] = { { "a&b", 0 }, { "c", 1369353600 } };
	assert_int_equal(s3_xml_list_buckets(bk, 2, "own'er", &xml, &len), 0);
	root = parse_back(xml, len);
	assert_string_equal(xml_local_name(root), "ListAllMyBucketsResult");
	assert_string_equal(xml_child_text(xml_child(root, "Owner"), "ID"), "own'er");
	const struct xml_node *b = xml_child(xml_child(root, "Buckets"), "Bucket");
	assert_string_equal(xml_child_text(b, "Name"), "a&b");
	b = xml_next(b, "Bucket");
	assert_string_equal(xml_child_text(b, "CreationDate"), "2013-05-24T00:00:00.000Z");
	xml_free(root);
	free(xml);

	assert_int_equal(s3_xml_error("NoSuchKey", "no <key>", "/b/<k>", "RID", &xml, &len), 0);
	root = parse_back(xml, len);
	assert_string_equal(xml_local_name(root), "Error");
	assert_string_equal(xml_child_text(root, "Code"), "NoSuchKey");
	assert_string_equal(xml_child_text(root, "Message"), "no <key>");
	assert_string_equal(xml_child_text(root, "Resource"), "/b/<k>");
	assert_string_equal(xml_child_text(root, "RequestId"), "RID");
	xml_free(root);
	free(xml);

	assert_int_equal(s3_xml_initiate_multipart("b", "k&", "u1", &xml, &len), 0);
	root = parse_back(xml, len);
	assert_string_equal(xml_child_text(root, "Key"), "k&");
	assert_string_equal(xml_child_text(root, "UploadId"), "u1");
	xml_free(root);
	free(xml);

	assert_int_equal(s3_xml_complete_multipart("http://h/b/k", "b", "k", "e-2", &xml, &len), 0);
	root = parse_back(xml, len);
	assert_string_equal(xml_local_name(root), "CompleteMultipartUploadResult");
	assert_string_equal(xml_child_text(root, "ETag"), "\"e-2\"");
	assert_string_equal(xml_child_text(root, "Location"), "http://h/b/k");
	xml_free(root);
	free(xml);

	assert_int_equal(s3_xml_copy_result("abc", 0, &xml, &len), 0);
	root = parse_back(xml, len);
	assert_string_equal(xml_child_text(root, "ETag"), "\"abc\"");
	assert_string_equal(xml_child_text(root, "LastModified"), "1970-01-01T00:00:00.000Z");
	xml_free(root);
	free(xml);

	assert_int_equal(s3_xml_location("us-east-1", &xml, &len), 0);
	root = parse_back(xml, len);
	assert_string_equal(root->text, "");
	xml_free(root);
	free(xml);
	assert_int_equal(s3_xml_location("eu-west-1", &xml, &len), 0);
	root = parse_back(xml, len);
	assert_string_equal(root->text, "eu-west-1");
	xml_free(root);
	free(xml);

	struct s3_xml_deleted del[] = { { "a'", NULL, NULL }, { "b", "AccessDenied", "no" } };
	assert_int_equal(s3_xml_delete_result(del, 2, false, &xml, &len), 0);
	root = parse_back(xml, len);
	assert_string_equal(xml_child_text(xml_child(root, "Deleted"), "Key"), "a'");
	assert_string_equal(xml_child_text(xml_child(root, "Error"), "Code"), "AccessDenied");
	xml_free(root);
	free(xml);
	assert_int_equal(s3_xml_delete_result(del, 2, true, &xml, &len), 0);
	root = parse_back(xml, len);
	assert_null(xml_child(root, "Deleted")); /* quiet: errors only */
	assert_non_null(xml_child(root, "Error"));
	xml_free(root);
	free(xml);

	struct s3_xml_part parts[] = { { 1, 5, 0, "e1" }, { 3, 7, 0, "e3" } };
	assert_int_equal(s3_xml_list_parts("b", "k", "u", parts, 2, &xml, &len), 0);
	root = parse_back(xml, len);
	const struct xml_node *p = xml_child(root, "Part");
	assert_string_equal(xml_child_text(xml_next(p, "Part"), "PartNumber"), "3");
	xml_free(root);
	free(xml);

	struct s3_xml_upload ups[] = { { "a<&>", "u1", 0 }, { "b", "u2", 86400 } };
	assert_int_equal(s3_xml_list_uploads("b", "a", ups, 2, &xml, &len), 0);
	root = parse_back(xml, len);
	const struct xml_node *u = xml_child(root, "Upload");
	assert_string_equal(xml_child_text(u, "Key"), "a<&>"); /* escaped on the wire */
	assert_string_equal(xml_child_text(xml_next(u, "Upload"), "UploadId"), "u2");
	assert_string_equal(xml_child_text(xml_next(u, "Upload"), "Initiated"),
			    "1970-01-02T00:00:00.000Z");
	assert_string_equal(xml_child_text(root, "Prefix"), "a");
	assert_string_equal(xml_child_text(root, "IsTruncated"), "false");
	xml_free(root);
	free(xml);
}

static void test_body_complete(void **state)
{
	char err[256];
	struct s3_part *parts = NULL;
	size_t n = 0;
	const char *ok = "<?xml version=\"1.0\"?>\n<CompleteMultipartUpload "
			 "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			 "<Part><ETag>\"aaa\"</ETag><PartNumber>1</PartNumber></Part>"
			 "<Part><PartNumber>3</PartNumber><ETag>&quot;bbb&quot;</ETag></Part>"
			 "</CompleteMultipartUpload>";
	assert_int_equal(s3_parse_complete_multipart(ok, strlen(ok), &parts, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(parts[0].number, 1);
	assert_string_equal(parts[0].etag, "aaa");
	assert_int_equal(parts[1].number, 3);
	assert_string_equal(parts[1].etag, "bbb");
	free(parts);

	struct {
		const char *body;
		int rc;
	} bad[] = {
		{ "", S3_ERR_MALFORMED_XML },
		{ "<CompleteMultipartUpload/>", S3_ERR_MALFORMED_XML },
		{ "<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>",
		  S3_ERR_MALFORMED_XML },
		{ "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part>"
		  "<Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>",
		  S3_ERR_INVALID_PART_ORDER },
		{ "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>"
		  "<Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>",
		  S3_ERR_INVALID_PART_ORDER },
		{ "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part>"
		  "</CompleteMultipartUpload>",
		  S3_ERR_MALFORMED_XML },
		{ "<CompleteMultipartUpload><Part><PartNumber>1x</PartNumber><ETag>a</ETag></Part>"
		  "</CompleteMultipartUpload>",
		  S3_ERR_MALFORMED_XML },
		{ "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
		  "</CompleteMultipartUpload>",
		  S3_ERR_MALFORMED_XML },
		{ "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>",
		  S3_ERR_MALFORMED_XML },
		{ "<!DOCTYPE x [<!ENTITY a \"b\">]><CompleteMultipartUpload/>",
		  S3_ERR_MALFORMED_XML },
		{ NULL, 0 },
	};
	for (int i = 0; bad[i].body; i++) {
		int rc = s3_parse_complete_multipart(bad[i].body, strlen(bad[i].body), &parts, &n,
						     err, sizeof(err));
		if (rc != bad[i].rc)
			fail_msg("case %d: rc %d want %d (%s)", i, rc, bad[i].rc, err);
	}
	/* hostile: 10001 parts, deep nesting */
	size_t cap = 10001 * 80 + 100;
	char *big = malloc(cap);
	strcpy(big, "<CompleteMultipartUpload>");
	for (int i = 1; i <= 10001; i++)
		sprintf(big + strlen(big), "<Part><PartNumber>%d</PartNumber><ETag>e</ETag></Part>",
			i);
	strcat(big, "</CompleteMultipartUpload>");
	assert_int_equal(s3_parse_complete_multipart(big, strlen(big), &parts, &n, err,
						     sizeof(err)),
			 S3_ERR_MALFORMED_XML);
	strcpy(big, "");
	for (int i = 0; i < 1000; i++)
		strcat(big, "<a>");
	assert_int_equal(s3_parse_complete_multipart(big, strlen(big), &parts, &n, err,
						     sizeof(err)),
			 S3_ERR_MALFORMED_XML);
	free(big);
}

static void test_body_delete_and_bucket(void **state)
{
	char err[256];
	char **keys = NULL;
	size_t n = 0;
	bool quiet = false;
	const char *ok = "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>"
			 "<Object><Key>dir/x y</Key><VersionId>v</VersionId></Object></Delete>";
	assert_int_equal(s3_parse_delete(ok, strlen(ok), &keys, &n, &quiet, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_true(quiet);
	assert_string_equal(keys[0], "a&b");
	assert_string_equal(keys[1], "dir/x y");
	s3_keys_free(keys, n);
	const char *loud = "<Delete><Object><Key></Key></Object></Delete>";
	assert_int_equal(s3_parse_delete(loud, strlen(loud), &keys, &n, &quiet, err, sizeof(err)),
			 0);
	assert_false(quiet);
	assert_string_equal(keys[0], "");
	s3_keys_free(keys, n);
	const char *bad[] = { "<Delete></Delete>", "<Delete><Object/></Delete>",
			      "<Delete><Object><Key>a</Key></Object>", "<Nope/>", "junk", NULL };
	for (int i = 0; bad[i]; i++)
		assert_int_equal(s3_parse_delete(bad[i], strlen(bad[i]), &keys, &n, &quiet, err,
						 sizeof(err)),
				 S3_ERR_MALFORMED_XML);
	char *big = malloc(1001 * 40 + 40);
	strcpy(big, "<Delete>");
	for (int i = 0; i < 1001; i++)
		strcat(big, "<Object><Key>k</Key></Object>");
	strcat(big, "</Delete>");
	assert_int_equal(s3_parse_delete(big, strlen(big), &keys, &n, &quiet, err, sizeof(err)),
			 S3_ERR_TOO_MANY_KEYS);
	free(big);

	char region[32];
	assert_int_equal(s3_parse_create_bucket("", 0, region, sizeof(region), err, sizeof(err)), 0);
	assert_string_equal(region, "");
	assert_int_equal(s3_parse_create_bucket(" \n", 2, region, sizeof(region), err, sizeof(err)),
			 0);
	const char *cfg = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
			  "2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint>"
			  "</CreateBucketConfiguration>";
	assert_int_equal(s3_parse_create_bucket(cfg, strlen(cfg), region, sizeof(region), err,
						sizeof(err)),
			 0);
	assert_string_equal(region, "eu-west-1");
	assert_int_equal(s3_parse_create_bucket("<x>", 3, region, sizeof(region), err, sizeof(err)),
			 S3_ERR_MALFORMED_XML);
	assert_int_equal(s3_parse_create_bucket("<Other/>", 8, region, sizeof(region), err,
						sizeof(err)),
			 S3_ERR_MALFORMED_XML);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_operations),
		cmocka_unit_test(test_classify_odd_keys),
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_range_start),
		cmocka_unit_test(test_time_http_matches_gmtime),
		cmocka_unit_test(test_times_etags_tokens),
		cmocka_unit_test(test_xml_listing),
		cmocka_unit_test(test_xml_other_replies),
		cmocka_unit_test(test_body_complete),
		cmocka_unit_test(test_body_delete_and_bucket),
	};
	return cmocka_run_group_tests_name("s3_proto", tests, NULL, NULL);
}
