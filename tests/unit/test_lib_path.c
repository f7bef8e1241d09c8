/* Tests lib/path.c: every normalization rule of path_normalize and
 * path_check_name, the length limits at their exact boundaries, and the
 * helpers path_parent, path_basename, path_join and path_has_prefix. */
#include "lib/path.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define OUTLEN (PATH_MAX_LEN + 1)

/* Normalizes in (inlen bytes); on success returns 0 with the result in out. */
static int norm(const char *in, size_t inlen, char *out, char *err, size_t errlen)
{
	err[0] = '\0';
	return path_normalize(in, inlen, out, OUTLEN, err, errlen);
}

static void expect_ok(const char *in, const char *want)
{
	char out[OUTLEN], err[256];
	int rc = norm(in, strlen(in), out, err, sizeof(err));
	if (rc)
		print_error("'%s': %s\n", in, err);
	assert_int_equal(rc, 0);
	assert_string_equal(out, want);
}

/* Refused with -EINVAL and a message that contains `why`. */
static void expect_bad_len(const char *in, size_t inlen, const char *why)
{
	char out[OUTLEN], err[256];
	assert_int_equal(norm(in, inlen, out, err, sizeof(err)), -EINVAL);
	if (!strstr(err, why))
		print_error("message '%s' lacks '%s'\n", err, why);
	assert_non_null(strstr(err, why));
}

static void expect_bad(const char *in, const char *why)
{
	expect_bad_len(in, strlen(in), why);
}

static void test_normal_forms(void **state)
{
	expect_ok("/", "/");
	expect_ok("/a", "/a");
	expect_ok("/a/b/c", "/a/b/c");
	expect_ok("/a/", "/a");           /* trailing '/' dropped */
	expect_ok("/a/b/", "/a/b");
	expect_ok("/.a/..b/...", "/.a/..b/...");  /* only exactly . and .. are special */
	expect_ok("/a b/ c ", "/a b/ c ");   /* blanks are ordinary bytes */
	expect_ok("/é/日本/😀", "/é/日本/😀"); /* 2, 3 and 4 byte sequences */
	expect_ok("/\xef\xbf\xbf", "/\xef\xbf\xbf");          /* U+FFFF */
	expect_ok("/\xf4\x8f\xbf\xbf", "/\xf4\x8f\xbf\xbf");  /* U+10FFFF, the last */
	expect_ok("/\xed\x9f\xbf", "/\xed\x9f\xbf");          /* U+D7FF, below surrogates */
	expect_ok("/\xee\x80\x80", "/\xee\x80\x80");          /* U+E000, above them */
	expect_ok("/~!@#$%^&*()=+[]{};:'\",<>?|\\", "/~!@#$%^&*()=+[]{};:'\",<>?|\\");
}

static void test_structure_rules(void **state)
{
	expect_bad("", "absolute");
	expect_bad("a", "absolute");
	expect_bad("a/b", "absolute");
	expect_bad("./a", "absolute");
	expect_bad("/a//b", "empty component");
	expect_bad("//a", "empty component");
	expect_bad("/.", "'.'");
	expect_bad("/./a", "'.'");
	expect_bad("/a/.", "'.'");
	expect_bad("/a/./b", "'.'");
	expect_bad("/..", "'..'");
	expect_bad("/a/..", "'..'");
	expect_bad("/a/../b", "'..'");
	expect_bad("/../a", "'..'");
}

static void test_byte_rules(void **state)
{
	expect_bad_len("/a\0b", 4, "NUL");
	expect_bad_len("/\0", 2, "NUL");
	expect_bad_len("/ab/\0", 5, "NUL");
	expect_bad("/a\x01", "control character 0x01");
	expect_bad("/a\nb", "control character 0x0a");
	expect_bad("/\x1f", "control character 0x1f");
	expect_bad("/a\x7f", "control character 0x7f");
	expect_bad("/x/\ty", "control character 0x09");
}

static void test_utf8_rules(void **state)
{
	/* Overlong forms of '/', 'A' and U+07FF / U+FFFF. */
	expect_bad("/\xc0\xaf", "UTF-8");
	expect_bad("/\xc1\x81", "UTF-8");
	expect_bad("/\xe0\x80\xaf", "UTF-8");
	expect_bad("/\xe0\x9f\xbf", "UTF-8");
	expect_bad("/\xf0\x80\x80\xaf", "UTF-8");
	expect_bad("/\xf0\x8f\xbf\xbf", "UTF-8");
	/* UTF-16 surrogates, high and low, encoded as UTF-8. */
	expect_bad("/\xed\xa0\x80", "UTF-8");
	expect_bad("/\xed\xbf\xbf", "UTF-8");
	expect_bad("/a\xed\xb2\x80z", "UTF-8");
	/* Beyond U+10FFFF, and lead bytes that can only start such forms. */
	expect_bad("/\xf4\x90\x80\x80", "UTF-8");
	expect_bad("/\xf5\x80\x80\x80", "UTF-8");
	expect_bad("/\xf8\x88\x80\x80\x80", "UTF-8");
	expect_bad("/\xff", "UTF-8");
	expect_bad("/\xfe", "UTF-8");
	/* Lone continuation bytes. */
	expect_bad("/\x80", "UTF-8");
	expect_bad("/a\xbf", "UTF-8");
	/* Truncated sequences: at the end of the path, before a '/', before
	 * an ASCII byte, and a 4-byte lead with only two continuations. */
	expect_bad("/\xc3", "UTF-8");
	expect_bad("/\xe6\x97", "UTF-8");
	expect_bad("/\xf0\x9f\x98", "UTF-8");
	expect_bad("/\xc3/b", "UTF-8");
	expect_bad("/\xe6\x97/b", "UTF-8");
	expect_bad("/\xe6\x97z", "UTF-8");
	/* The truncation is found even when the next component would supply
	 * the missing continuation byte. */
	expect_bad("/\xc3/\xa9", "UTF-8");
}

static void test_name_length(void **state)
{
	char in[1 + 300 + 1], out[OUTLEN], err[256];
	in[0] = '/';
	memset(in + 1, 'n', 255);
	in[256] = '\0';
	assert_int_equal(norm(in, strlen(in), out, err, sizeof(err)), 0);
	assert_int_equal(strlen(out), 256);
	in[256] = 'n';
	in[257] = '\0';
	expect_bad(in, "over the limit of 255");

	/* The limit counts bytes, not characters: 127 two-byte characters are
	 * 254 bytes (fine), 128 are 256 (not). */
	char u[1 + 2 * 128 + 1];
	u[0] = '/';
	for (int i = 0; i < 127; i++)
		memcpy(u + 1 + 2 * i, "\xc3\xa9", 2);
	u[1 + 254] = '\0';
	assert_int_equal(norm(u, strlen(u), out, err, sizeof(err)), 0);
	memcpy(u + 1 + 254, "\xc3\xa9", 2);
	u[1 + 256] = '\0';
	expect_bad(u, "over the limit");

	assert_int_equal(path_check_name("ok", 2, err, sizeof(err)), 0);
	assert_int_equal(path_check_name("", 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(path_check_name(".", 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(path_check_name("..", 2, err, sizeof(err)), -EINVAL);
	assert_int_equal(path_check_name("...", 3, err, sizeof(err)), 0);
	assert_int_equal(path_check_name("a/b", 3, err, sizeof(err)), -EINVAL);
	assert_int_equal(path_check_name("a\0b", 3, err, sizeof(err)), -EINVAL);
	assert_int_equal(path_check_name("\xc3", 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(path_check_name(in + 1, 255, err, sizeof(err)), 0);
	assert_int_equal(path_check_name(in + 1, 256, err, sizeof(err)), -EINVAL);
}

/* A path of `len` bytes made of 200-byte components ("/xxx...") */
static char *long_path(size_t len)
{
	char *p = malloc(len + 1);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = i % 201 == 0 ? '/' : 'p';
	/* Never end on a '/' (that would be dropped as trailing). */
	if (p[len - 1] == '/')
		p[len - 1] = 'q';
	p[len] = '\0';
	return p;
}

static void test_path_length(void **state)
{
	char out[OUTLEN], err[256];
	char *p = long_path(PATH_MAX_LEN);
	assert_int_equal(norm(p, PATH_MAX_LEN, out, err, sizeof(err)), 0);
	assert_int_equal(strlen(out), PATH_MAX_LEN);
	assert_string_equal(out, p);
	free(p);

	p = long_path(PATH_MAX_LEN + 1);
	expect_bad(p, "over the limit of 4095");
	free(p);

	/* A trailing '/' does not count: 4095 bytes + '/' is fine. */
	p = long_path(PATH_MAX_LEN + 1);
	p[PATH_MAX_LEN] = '/';
	assert_int_equal(norm(p, PATH_MAX_LEN + 1, out, err, sizeof(err)), 0);
	assert_int_equal(strlen(out), PATH_MAX_LEN);
	free(p);

	/* An output buffer too small for a legal path is -ENAMETOOLONG, and
	 * nothing is written past it. */
	char small[8];
	memset(small, 'Z', sizeof(small));
	assert_int_equal(path_normalize("/abcdefgh", 9, small, 8, err, sizeof(err)), -ENAMETOOLONG);
	assert_int_equal(path_normalize("/abcdef", 7, small, 8, err, sizeof(err)), 0);
	assert_string_equal(small, "/abcdef");
}

static void test_root_forms(void **state)
{
	char out[OUTLEN], err[256];
	assert_int_equal(norm("/", 1, out, err, sizeof(err)), 0);
	assert_string_equal(out, "/");
	/* inlen is the real length: bytes after it are ignored. */
	assert_int_equal(norm("/abc", 2, out, err, sizeof(err)), 0);
	assert_string_equal(out, "/a");
	assert_int_equal(norm("/abc", 0, out, err, sizeof(err)), -EINVAL);
}

static void test_parent(void **state)
{
	char out[OUTLEN];
	assert_int_equal(path_parent("/a/b/c", out, sizeof(out)), 0);
	assert_string_equal(out, "/a/b");
	assert_int_equal(path_parent("/a/b", out, sizeof(out)), 0);
	assert_string_equal(out, "/a");
	assert_int_equal(path_parent("/a", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	assert_int_equal(path_parent("/", out, sizeof(out)), -EINVAL);
	/* out must hold strlen(path)+1 bytes. */
	char small[4];
	assert_int_equal(path_parent("/abc", small, sizeof(small)), -EINVAL);
	assert_int_equal(path_parent("/ab", small, sizeof(small)), 0);
	assert_string_equal(small, "/");
}

static void test_basename(void **state)
{
	const char *p = "/a/bb/ccc";
	assert_string_equal(path_basename(p), "ccc");
	assert_ptr_equal(path_basename(p), p + 6);
	assert_string_equal(path_basename("/a"), "a");
	assert_string_equal(path_basename("/"), "");
	assert_string_equal(path_basename("/é/日本"), "日本");
}

static void test_join(void **state)
{
	char out[OUTLEN];
	assert_int_equal(path_join("/", "a", out, sizeof(out)), 0);
	assert_string_equal(out, "/a");
	assert_int_equal(path_join("/a", "b", out, sizeof(out)), 0);
	assert_string_equal(out, "/a/b");
	assert_int_equal(path_join("/a/b", "c d", out, sizeof(out)), 0);
	assert_string_equal(out, "/a/b/c d");

	/* Exactly PATH_MAX_LEN is fine, one more is not. */
	char *dir = long_path(PATH_MAX_LEN - 2);
	assert_int_equal(path_join(dir, "x", out, sizeof(out)), 0);
	assert_int_equal(strlen(out), PATH_MAX_LEN);
	assert_int_equal(path_join(dir, "xy", out, sizeof(out)), -ENAMETOOLONG);
	free(dir);

	/* The output buffer bounds it too. */
	char small[5];
	assert_int_equal(path_join("/ab", "c", small, sizeof(small)), -ENAMETOOLONG);
	assert_int_equal(path_join("/a", "b", small, sizeof(small)), 0);
	assert_string_equal(small, "/a/b");
}

static void test_has_prefix(void **state)
{
	assert_true(path_has_prefix("/a", "/a"));
	assert_true(path_has_prefix("/a/b", "/a"));
	assert_true(path_has_prefix("/a/b/c", "/a/b"));
	assert_false(path_has_prefix("/ab", "/a"));
	assert_false(path_has_prefix("/a", "/a/b"));
	assert_false(path_has_prefix("/b/a", "/a"));
	assert_false(path_has_prefix("/", "/a"));
	assert_true(path_has_prefix("/", "/"));
	assert_true(path_has_prefix("/anything/at/all", "/"));
}

/* The "empty component" message must quote at most inlen bytes of an input
 * that is not NUL-terminated (ASan catches an over-read). */
static void test_empty_component_message_stays_in_bounds(void **state)
{
	static const char text[] = "/a//b";
	char *in = malloc(sizeof(text) - 1); /* exactly the bytes, no NUL */
	assert_non_null(in);
	memcpy(in, text, sizeof(text) - 1);
	char out[OUTLEN], err[256];
	assert_int_equal(norm(in, sizeof(text) - 1, out, err, sizeof(err)), -EINVAL);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal_forms), cmocka_unit_test(test_structure_rules),
		cmocka_unit_test(test_byte_rules),   cmocka_unit_test(test_utf8_rules),
		cmocka_unit_test(test_name_length),  cmocka_unit_test(test_path_length),
		cmocka_unit_test(test_root_forms),   cmocka_unit_test(test_parent),
		cmocka_unit_test(test_basename),     cmocka_unit_test(test_join),
		cmocka_unit_test(test_has_prefix),
		cmocka_unit_test(test_empty_component_message_stays_in_bounds),
	};
	return cmocka_run_group_tests_name("lib_path", tests, NULL, NULL);
}
