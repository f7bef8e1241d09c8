/* lib/s3keys.c: the S3 access key file. Parsing names the line and field
 * at fault and never the secret; format and parse round-trip; files are
 * written 0600 atomically and refused when others may read them. */
#include "lib/s3keys.h"

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

#define ID1 "SKAAAAAAAAAAAAAAAAAA"
#define SECRET1 "abcdefghijklmnopqrstuvwxyz0123456789+/AB"
#define ID2 "SKBBBBBBBBBBBBBBBBBB"

static void test_parse_ok(void **state)
{
	(void)state;
	const char text[] = "# comment\n\n  \t\n" ID1 " " SECRET1 " admin * 1700000000\r\n" ID2
			    "\t" SECRET1 "  readonly a,b.c,d-e_f 5";
	struct s3keys k;
	char err[256] = "";
	assert_int_equal(s3keys_parse(text, strlen(text), &k, err, sizeof(err)), 0);
	assert_int_equal(k.n, 2);
	const struct s3key *a = s3keys_find(&k, ID1), *b = s3keys_find(&k, ID2);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(s3keys_find(&k, "SKCCCCCCCCCCCCCCCCCC"));
	assert_string_equal(a->secret, SECRET1);
	assert_int_equal(a->role, S3KEY_ADMIN);
	assert_string_equal(a->buckets, "");
	assert_int_equal(a->created, 1700000000);
	assert_int_equal(b->role, S3KEY_READONLY);
	assert_string_equal(b->buckets, "a,b.c,d-e_f");
	assert_true(s3key_allows_bucket(a, "anything"));
	assert_true(s3key_allows_bucket(b, "b.c"));
	assert_true(s3key_allows_bucket(b, "d-e_f"));
	assert_true(s3key_allows_bucket(b, "")); /* ListBuckets */
	assert_false(s3key_allows_bucket(b, "b"));
	assert_false(s3key_allows_bucket(b, "a,b"));
	assert_false(s3key_allows_bucket(b, "aa"));
	s3keys_free(&k);
	assert_int_equal(s3keys_parse("", 0, &k, err, sizeof(err)), 0);
	assert_int_equal(k.n, 0);
}

/* Each bad line: the message names the line and the field, never the
 * secret. */
static void test_parse_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ ID1 " " SECRET1 " admin *", "line 1: field 'created' is missing" },
		{ "#\n" ID1, "line 2: field 'secret' is missing" },
		{ "SKSHORT " SECRET1 " admin * 1", "line 1: field 'id' must be" },
		{ "SKaaaaaaaaaaaaaaaaaa " SECRET1 " admin * 1", "line 1: field 'id' may hold only" },
		{ ID1 " short admin * 1", "line 1: field 'secret' must be" },
		{ ID1 " " SECRET1 "! admin * 1", "line 1: field 'secret' may hold only" },
		{ ID1 " " SECRET1 " root * 1", "line 1: field 'role' must be admin or readonly" },
		{ ID1 " " SECRET1 " admin a,,b 1", "line 1: field 'buckets'" },
		{ ID1 " " SECRET1 " admin a/b 1", "line 1: field 'buckets'" },
		{ ID1 " " SECRET1 " admin .. 1", "line 1: field 'buckets'" },
		{ ID1 " " SECRET1 " admin * 12x", "line 1: field 'created'" },
		{ ID1 " " SECRET1 " admin * 1234567890123456789", "line 1: field 'created'" },
		{ ID1 " " SECRET1 " admin * 1 extra", "line 1: unexpected text" },
		{ ID1 " " SECRET1 " admin * 1\n" ID1 " " SECRET1 " admin * 2",
		  "line 2: key id " ID1 " appears twice" },
		{ ID1 " " SECRET1 " admin\r* 1", "line 1: control characters" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct s3keys k = { 0 };
		char err[256] = "";
		int rc = s3keys_parse(cases[i].text, strlen(cases[i].text), &k, err, sizeof(err));
		if (rc != -EINVAL || !strstr(err, cases[i].want))
			fail_msg("case %zu: rc %d, err '%s', want '%s'", i, rc, err, cases[i].want);
		assert_null(strstr(err, SECRET1));
		assert_int_equal(k.n, 0);
		assert_null(k.keys);
	}
	/* A NUL byte inside a line. */
	const char nul[] = ID1 " " SECRET1 "\0admin * 1";
	struct s3keys k;
	char err[256];
	assert_int_equal(s3keys_parse(nul, sizeof(nul) - 1, &k, err, sizeof(err)), -EINVAL);
}

static void test_buckets_and_roles(void **state)
{
	(void)state;
	char out[S3KEY_BUCKETS_MAX], err[256];
	assert_int_equal(s3key_buckets_parse(NULL, out, err, sizeof(err)), 0);
	assert_string_equal(out, "");
	assert_int_equal(s3key_buckets_parse("*", out, err, sizeof(err)), 0);
	assert_string_equal(out, "");
	assert_int_equal(s3key_buckets_parse("x,Y_1", out, err, sizeof(err)), 0);
	assert_string_equal(out, "x,Y_1");
	assert_int_equal(s3key_buckets_parse("x,", out, err, sizeof(err)), -EINVAL);
	assert_int_equal(s3key_buckets_parse("a b", out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'a b'"));
	char many[1024] = "";
	for (int i = 0; i <= S3KEY_MAX_BUCKETS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sb%d", i ? "," : "", i);
	assert_int_equal(s3key_buckets_parse(many, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most"));
	enum s3key_role r;
	assert_int_equal(s3key_role_parse("readonly", &r), 0);
	assert_int_equal(r, S3KEY_READONLY);
	assert_int_equal(s3key_role_parse("Admin", &r), -EINVAL);
}

static void test_add_remove_format_round_trip(void **state)
{
	(void)state;
	struct s3keys k = { 0 };
	struct s3key a, b;
	assert_int_equal(s3key_generate(&a), 0);
	assert_int_equal(s3key_generate(&b), 0);
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(strlen(a.id), 20);
	assert_int_equal(strlen(a.secret), 40);
	a.role = S3KEY_ADMIN;
	a.buckets[0] = '\0';
	a.created = 1;
	b.role = S3KEY_READONLY;
	snprintf(b.buckets, sizeof(b.buckets), "one,two");
	b.created = 1700000000;
	assert_int_equal(s3keys_add(&k, &a), 0);
	assert_int_equal(s3keys_add(&k, &b), 0);
	assert_int_equal(s3keys_add(&k, &a), -EEXIST);
	char *text;
	size_t len;
	assert_int_equal(s3keys_format(&k, &text, &len), 0);
	struct s3keys back;
	char err[256];
	assert_int_equal(s3keys_parse(text, len, &back, err, sizeof(err)), 0);
	free(text);
	assert_int_equal(back.n, 2);
	const struct s3key *want[2] = { &a, &b };
	for (int i = 0; i < 2; i++) {
		assert_string_equal(back.keys[i].id, want[i]->id);
		assert_string_equal(back.keys[i].secret, want[i]->secret);
		assert_int_equal(back.keys[i].role, want[i]->role);
		assert_string_equal(back.keys[i].buckets, want[i]->buckets);
		assert_int_equal(back.keys[i].created, want[i]->created);
	}
	assert_int_equal(s3keys_remove(&back, a.id), 0);
	assert_int_equal(s3keys_remove(&back, a.id), -ENOENT);
	assert_int_equal(back.n, 1);
	assert_string_equal(back.keys[0].id, b.id);
	s3keys_free(&back);
	s3keys_free(&k);
}

static void test_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_s3keys.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], err[512];
	snprintf(path, sizeof(path), "%s/sub/dir/keys", dir);
	struct s3keys k = { 0 }, back;
	struct s3keys_stamp st, st2;
	/* Missing: no keys, not an error. */
	assert_int_equal(s3keys_load(path, &back, &st, err, sizeof(err)), 0);
	assert_int_equal(back.n, 0);
	assert_false(st.exists);
	struct s3key a;
	assert_int_equal(s3key_generate(&a), 0);
	a.role = S3KEY_ADMIN;
	a.buckets[0] = '\0';
	a.created = 7;
	assert_int_equal(s3keys_add(&k, &a), 0);
	mode_t old = umask(0);
	assert_int_equal(s3keys_save(path, &k, err, sizeof(err)), 0);
	umask(old);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/sub/dir", dir);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(s3keys_load(path, &back, &st, err, sizeof(err)), 0);
	assert_int_equal(back.n, 1);
	assert_true(st.exists);
	assert_int_equal(s3keys_stat(path, &st2), 0);
	assert_true(s3keys_stamp_equal(&st, &st2));
	s3keys_free(&back);
	/* A rewrite is a new file (rename): the stamp changes. */
	assert_int_equal(s3keys_save(path, &k, err, sizeof(err)), 0);
	assert_int_equal(s3keys_stat(path, &st2), 0);
	assert_false(s3keys_stamp_equal(&st, &st2));
	/* Group-readable: refused, naming the file and its mode. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(s3keys_load(path, &back, &st, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "0640"));
	assert_null(strstr(err, a.secret));
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(s3keys_load(path, &back, &st, err, sizeof(err)), -EACCES);
	/* Malformed: the file and line. */
	assert_int_equal(chmod(path, 0600), 0);
	FILE *f = fopen(path, "a");
	fputs("garbage\n", f);
	fclose(f);
	assert_int_equal(s3keys_load(path, &back, &st, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 4"));
	assert_non_null(strstr(err, path));
	/* Not a regular file. */
	assert_int_equal(s3keys_load(sub, &back, &st, err, sizeof(err)), -EINVAL);
	/* A directory we cannot create. */
	assert_int_equal(s3keys_save("/proc/nope/keys", &k, err, sizeof(err)) < 0, 1);
	assert_non_null(strstr(err, "/proc/nope/keys"));
	s3keys_free(&k);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_buckets_and_roles),
		cmocka_unit_test(test_add_remove_format_round_trip),
		cmocka_unit_test(test_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
