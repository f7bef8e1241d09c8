/*
 * S3 driver failure cases against a real s3rver: wrong credentials, a
 * missing bucket, an unreachable endpoint (bounded retries, fast), option
 * validation, env credentials, and the pure response parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ufs/s3_int.h"
#include "ufs/ufs.h"
#include "ufs_s3rver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* cmocka reports a failed group setup; this makes sure the exit code does too */
static int g_setup_failed;

static struct ufs_s3rver g_srv;

static int group_setup(void **state)
{
	char err[512] = "";
	if (ufs_s3rver_start(&g_srv, "present", err, sizeof(err)) != 0) {
		fprintf(stderr, "FATAL: cannot start s3rver: %s\n", err);
		g_setup_failed = 1;
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	ufs_s3rver_stop(&g_srv);
	return 0;
}

static struct ufs *open_s3(const char *uri, const char *endpoint, const char *ak,
			   const char *sk)
{
	char err[256] = "";
	struct ufs *u = NULL;
	struct ufs_opt opts[] = { { "s3.endpoint", endpoint }, { "s3.access_key", ak },
				  { "s3.secret_key", sk },     { "s3.region", "us-east-1" },
				  { "s3.retry_base_ms", "20" } };
	int rc = ufs_open(uri, opts, 5, &u, err, sizeof(err));
	if (rc)
		fail_msg("open %s: %d %s", uri, rc, err);
	return u;
}

static void test_wrong_access_key(void **state)
{
	struct ufs *u = open_s3("s3://present", g_srv.endpoint, "WRONGKEY", "TOPSECRETVALUE");
	char err[256] = "";
	struct ufs_stat st;
	assert_int_equal(ufs_probe(u, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "InvalidAccessKeyId"));
	assert_null(strstr(err, "TOPSECRETVALUE"));
	assert_int_equal(ufs_put(u, "f", "x", 1, err, sizeof(err)), -EACCES);
	assert_null(strstr(err, "TOPSECRETVALUE"));
	struct ufs_list_page page;
	assert_int_equal(ufs_list(u, "", NULL, 0, &page, err, sizeof(err)), -EACCES);
	/* HEAD carries no error body: 403 still maps to permission */
	assert_int_equal(ufs_stat(u, "f", &st, err, sizeof(err)), -EACCES);
	ufs_close(u);
}

static void test_missing_bucket(void **state)
{
	struct ufs *u = open_s3("s3://absent-bucket/pfx", g_srv.endpoint, "S3RVER", "S3RVER");
	char err[256] = "";
	struct ufs_stat st;
	assert_int_equal(ufs_probe(u, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "NoSuchBucket"));
	assert_int_equal(ufs_stat(u, "f", &st, err, sizeof(err)), -ENOENT);
	assert_int_equal(ufs_put(u, "f", "x", 1, err, sizeof(err)), -ENOENT);
	ufs_close(u);
}

static void test_unreachable_endpoint(void **state)
{
	char endpoint[64];
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", ufs_free_port());
	struct ufs *u = open_s3("s3://present", endpoint, "S3RVER", "S3RVER");
	char err[256] = "";
	struct ufs_stat st;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ufs_stat(u, "f", &st, err, sizeof(err)), -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_non_null(strstr(err, "after 4 attempts"));
	assert_true(secs < 2.0); /* 3 retries at 20, 40, 80 ms */
	assert_true(secs >= 0.12);
	assert_int_equal(ufs_put(u, "f", "x", 1, err, sizeof(err)), -EAGAIN);
	assert_int_equal(ufs_probe(u, err, sizeof(err)), -EAGAIN);
	ufs_close(u);
}

static void test_open_options(void **state)
{
	char err[256] = "";
	struct ufs *u = NULL;
	struct ufs_opt base[] = { { "s3.access_key", "a" }, { "s3.secret_key", "b" } };
	struct ufs_opt bogus[] = { { "s3.access_key", "a" }, { "s3.secret_key", "b" },
				   { "s3.bogus", "1" } };
	assert_int_equal(ufs_open("s3://present", bogus, 3, &u, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "s3.bogus"));
	struct ufs_opt small[] = { { "s3.access_key", "a" }, { "s3.secret_key", "b" },
				   { "s3.part_size", "1048576" } };
	assert_int_equal(ufs_open("s3://present", small, 3, &u, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "s3.part_size"));
	struct ufs_opt badep[] = { { "s3.access_key", "a" }, { "s3.secret_key", "b" },
				   { "s3.endpoint", "ftp://x" } };
	assert_int_equal(ufs_open("s3://present", badep, 3, &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(ufs_open("s3://Bad_Bucket", base, 2, &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(ufs_open("s3://ok-bucket/a/../b", base, 2, &u, err, sizeof(err)),
			 -EINVAL);
	/* credentials from the environment when no options are given */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(ufs_open("s3://present", NULL, 0, &u, err, sizeof(err)), -EINVAL);
	setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
	setenv("AWS_ENDPOINT_URL", g_srv.endpoint, 1);
	setenv("AWS_REGION", "us-east-1", 1);
	assert_int_equal(ufs_open("s3://present/envpfx", NULL, 0, &u, err, sizeof(err)), 0);
	assert_string_equal(ufs_scheme(u), "s3");
	assert_int_equal(ufs_put(u, "hello", "env", 3, err, sizeof(err)), 0);
	ufs_close(u);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_REGION");
	/* the prefix really is a prefix: visible from a bucket-root mount */
	u = open_s3("s3://present", g_srv.endpoint, "S3RVER", "S3RVER");
	struct ufs_stat st;
	assert_int_equal(ufs_stat(u, "envpfx/hello", &st, err, sizeof(err)), 0);
	assert_int_equal(st.length, 3);
	ufs_close(u);
}

static void test_parsers(void **state)
{
	const char *doc = "<ListBucketResult><IsTruncated>true</IsTruncated>"
			  "<NextContinuationToken>t1</NextContinuationToken>"
			  "<Contents><Key>p/a</Key><Size>5</Size><ETag>\"e1\"</ETag>"
			  "<LastModified>2023-11-14T22:13:20.250Z</LastModified></Contents>"
			  "<CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes>"
			  "</ListBucketResult>";
	struct s3_listing l;
	assert_int_equal(s3_parse_listing(doc, strlen(doc), &l, NULL, 0), 0);
	assert_int_equal(l.count, 2);
	assert_true(l.truncated);
	assert_string_equal(l.next_token, "t1");
	assert_string_equal(l.objs[0].key, "p/a");
	assert_int_equal(l.objs[0].size, 5);
	assert_string_equal(l.objs[0].etag, "e1");
	assert_int_equal(l.objs[0].mtime_ms, 1700000000250LL);
	assert_true(l.objs[1].is_prefix);
	s3_listing_free(&l);
	const char *trunc_no_token = "<ListBucketResult><IsTruncated>true</IsTruncated>"
				     "</ListBucketResult>";
	assert_int_equal(s3_parse_listing(trunc_no_token, strlen(trunc_no_token), &l, NULL, 0),
			 -EINVAL);
	const char *bad_size = "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
			       "</Contents></ListBucketResult>";
	assert_int_equal(s3_parse_listing(bad_size, strlen(bad_size), &l, NULL, 0), -EINVAL);
	assert_int_equal(s3_parse_listing("<Error/>", 8, &l, NULL, 0), -EINVAL);
	char code[32], msg[64];
	const char *e = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
	assert_true(s3_parse_error(e, strlen(e), code, sizeof(code), msg, sizeof(msg)));
	assert_string_equal(code, "NoSuchKey");
	assert_string_equal(msg, "gone");
	assert_false(s3_parse_error("<Other/>", 8, code, sizeof(code), msg, sizeof(msg)));
	int64_t ms;
	assert_int_equal(s3_parse_iso8601("1970-01-01T00:00:01Z", &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(s3_parse_iso8601("2023-13-01T00:00:00Z", &ms), -EINVAL);
	assert_int_equal(s3_parse_iso8601("2023-01-01 00:00:00", &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_wrong_access_key),
		cmocka_unit_test(test_missing_bucket),
		cmocka_unit_test(test_unreachable_endpoint),
		cmocka_unit_test(test_open_options),
	};
	int failed = cmocka_run_group_tests_name("ufs_s3", tests, group_setup, group_teardown);
	return failed || g_setup_failed ? 1 : 0;
}
