/* daemon/worker/s3access.c: the worker's S3 access keys. Roles and bucket
 * lists decide, derived signing keys match lib/sigv4 and die with a
 * reload, the file is re-read when it changes (a chmod included) and a
 * bad edit keeps the keys in force. */
#include "daemon/worker/s3access.h"
#include "lib/conf.h"
#include "lib/s3keys.h"
#include "lib/sigv4.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64], path[128];

static void write_keys(const char *text)
{
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s.w", path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(tmp, 0600), 0);
	assert_int_equal(rename(tmp, path), 0);
}

#define A "SKAAAAAAAAAAAAAAAAAA"
#define R "SKRRRRRRRRRRRRRRRRRR"
#define SA "secretAsecretAsecretAsecretA"
#define SR "secretRsecretRsecretRsecretR"

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_s3access.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/keys", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_no_file_is_open(void **state)
{
	(void)state;
	struct s3access *a;
	char err[512];
	unlink(path);
	assert_int_equal(s3access_open(path, NULL, &a, err, sizeof(err)), 0);
	assert_false(s3access_required(a));
	assert_int_equal(s3access_nkeys(a), 0);
	s3access_free(a);
}

static void test_roles_buckets_and_keys(void **state)
{
	(void)state;
	write_keys(A " " SA " admin * 1\n" R " " SR " readonly logs,web 2\n");
	char *items[] = { "pub" };
	struct conf_list anon = { items, 1 };
	struct s3access *a;
	char err[512];
	assert_int_equal(s3access_open(path, &anon, &a, err, sizeof(err)), 0);
	assert_true(s3access_required(a));
	assert_int_equal(s3access_allow(a, A, "any", true, err, sizeof(err)), 0);
	assert_int_equal(s3access_allow(a, R, "logs", false, err, sizeof(err)), 0);
	assert_int_equal(s3access_allow(a, R, "", false, err, sizeof(err)), 0);
	assert_int_equal(s3access_allow(a, R, "logs", true, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "read-only"));
	assert_int_equal(s3access_allow(a, R, "data", false, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "'data'"));
	assert_int_equal(s3access_allow(a, "SKNOPE000000000000000", "logs", false, err,
					sizeof(err)), -EACCES);
	assert_true(s3access_anonymous_read(a, "pub"));
	assert_false(s3access_anonymous_read(a, "logs"));

	unsigned char k1[SIGV4_KEY_LEN], k2[SIGV4_KEY_LEN], want[SIGV4_KEY_LEN];
	assert_int_equal(sigv4_signing_key(SA, "20250101", "us-east-1", "s3", want), 0);
	assert_int_equal(s3access_signing_key(a, A, "20250101", "us-east-1", "s3", k1), 0);
	assert_memory_equal(k1, want, SIGV4_KEY_LEN);
	/* the cached key is the same one */
	assert_int_equal(s3access_signing_key(a, A, "20250101", "us-east-1", "s3", k2), 0);
	assert_memory_equal(k2, want, SIGV4_KEY_LEN);
	/* another scope, another key */
	assert_int_equal(s3access_signing_key(a, A, "20250102", "us-east-1", "s3", k2), 0);
	assert_memory_not_equal(k2, want, SIGV4_KEY_LEN);
	assert_int_equal(s3access_signing_key(a, "SKNOPE000000000000000", "20250101",
					      "us-east-1", "s3", k2), -ENOENT);

	/* The same id with a new secret: the cached key must not survive. */
	write_keys(A " secretBsecretBsecretBsecretB admin * 1\n");
	s3access_check(a, true);
	assert_int_equal(s3access_nkeys(a), 1);
	assert_int_equal(s3access_signing_key(a, A, "20250101", "us-east-1", "s3", k2), 0);
	assert_memory_not_equal(k2, want, SIGV4_KEY_LEN);
	assert_int_equal(s3access_signing_key(a, R, "20250101", "us-east-1", "s3", k2), -ENOENT);

	/* A malformed edit, then a group-readable file: both ignored. */
	write_keys("garbage\n");
	s3access_check(a, true);
	assert_int_equal(s3access_nkeys(a), 1);
	write_keys(A " " SA " admin * 1\n" R " " SR " readonly * 2\n");
	assert_int_equal(chmod(path, 0644), 0);
	s3access_check(a, true);
	assert_int_equal(s3access_nkeys(a), 1);
	/* Fixed: read. */
	assert_int_equal(chmod(path, 0600), 0);
	s3access_check(a, true);
	assert_int_equal(s3access_nkeys(a), 2);
	/* Removed: no keys, open. */
	assert_int_equal(unlink(path), 0);
	s3access_check(a, true);
	assert_false(s3access_required(a));
	s3access_free(a);
}

static void test_refused_at_open(void **state)
{
	(void)state;
	struct s3access *a = NULL;
	char err[512];
	write_keys(A " " SA " admin * 1\n");
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(s3access_open(path, NULL, &a, err, sizeof(err)), -EACCES);
	assert_null(a);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "0640"));
	write_keys(A " " SA " superuser * 1\n");
	assert_int_equal(s3access_open(path, NULL, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "role"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_file_is_open),
		cmocka_unit_test(test_roles_buckets_and_keys),
		cmocka_unit_test(test_refused_at_open),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
