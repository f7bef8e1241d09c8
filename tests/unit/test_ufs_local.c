/*
 * Local driver specifics: confinement to the mount root (.., absolute and
 * escaping symlinks) under both resolution strategies, file and directory
 * modes, URI and option validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ufs/ufs.h"
#include "ufs_s3rver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct local_ctx {
	char base[256]; /* holds root/ and outside/ */
	char root[300];
	char outside[300];
};

static int setup(void **state)
{
	struct local_ctx *c = calloc(1, sizeof(*c));
	if (!c || ufs_make_tmpdir(c->base, sizeof(c->base), "local") != 0)
		return -1;
	snprintf(c->root, sizeof(c->root), "%s/root", c->base);
	snprintf(c->outside, sizeof(c->outside), "%s/outside", c->base);
	mkdir(c->root, 0700);
	mkdir(c->outside, 0700);
	char p[400];
	snprintf(p, sizeof(p), "%s/secret", c->outside);
	FILE *f = fopen(p, "w");
	if (!f)
		return -1;
	fputs("top secret", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/inside", c->root);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/inside/file", c->root);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fputs("fine", f);
	fclose(f);
	char link[400];
	snprintf(link, sizeof(link), "%s/abs", c->root);
	if (symlink(c->outside, link) != 0) /* absolute symlink */
		return -1;
	snprintf(link, sizeof(link), "%s/esc", c->root);
	if (symlink("../outside", link) != 0) /* relative, escapes */
		return -1;
	snprintf(link, sizeof(link), "%s/inside/up", c->root);
	if (symlink("../../outside/secret", link) != 0)
		return -1;
	snprintf(link, sizeof(link), "%s/rel", c->root);
	if (symlink("inside", link) != 0) /* relative, stays inside */
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct local_ctx *c = *state;
	ufs_rmrf(c->base);
	free(c);
	return 0;
}

static struct ufs *open_root(struct local_ctx *c, const char *resolve)
{
	char uri[400], err[256] = "";
	struct ufs *u = NULL;
	struct ufs_opt opts[] = { { "local.resolve", resolve } };
	snprintf(uri, sizeof(uri), "file://%s", c->root);
	int rc = ufs_open(uri, opts, 1, &u, err, sizeof(err));
	if (rc)
		fail_msg("open %s: %d %s", uri, rc, err);
	return u;
}

static void check_escapes(struct local_ctx *c, const char *resolve)
{
	struct ufs *u = open_root(c, resolve);
	char err[256] = "", buf[64];
	struct ufs_stat st;
	size_t got;
	static const char *const escaping[] = { "abs/secret", "esc/secret", "inside/up", "abs",
						"esc" };
	for (size_t i = 0; i < sizeof(escaping) / sizeof(escaping[0]); i++) {
		err[0] = '\0';
		int rc = ufs_stat(u, escaping[i], &st, err, sizeof(err));
		if (rc != -EACCES)
			fail_msg("%s: stat %s gave %d (%s), want -EACCES", resolve, escaping[i], rc,
				 err);
		rc = ufs_read_buf(u, escaping[i], 0, buf, sizeof(buf), &got, err, sizeof(err));
		if (rc != -EACCES)
			fail_msg("%s: read %s gave %d, want -EACCES", resolve, escaping[i], rc);
	}
	assert_int_equal(ufs_put(u, "abs/planted", "x", 1, err, sizeof(err)), -EACCES);
	assert_int_equal(ufs_put(u, "esc/planted", "x", 1, err, sizeof(err)), -EACCES);
	assert_int_equal(ufs_mkdir(u, "abs/newdir", err, sizeof(err)), -EACCES);
	assert_int_equal(ufs_rename(u, "inside/file", "esc/stolen", err, sizeof(err)), -EACCES);
	assert_int_equal(ufs_rename(u, "abs/secret", "mine", err, sizeof(err)), -EACCES);
	struct ufs_list_page page;
	assert_int_equal(ufs_list(u, "abs", NULL, 0, &page, err, sizeof(err)), -EACCES);
	assert_int_equal(ufs_list(u, "../outside", NULL, 0, &page, err, sizeof(err)), -EINVAL);
	assert_int_equal(ufs_stat(u, "../outside/secret", &st, err, sizeof(err)), -EINVAL);
	assert_int_equal(ufs_stat(u, "inside/../../outside/secret", &st, err, sizeof(err)),
			 -EINVAL);
	/* listing the root leaves escaping symlinks out */
	assert_int_equal(ufs_list(u, "", NULL, 0, &page, err, sizeof(err)), 0);
	for (size_t i = 0; i < page.count; i++) {
		assert_string_not_equal(page.entries[i].name, "abs");
		assert_string_not_equal(page.entries[i].name, "esc");
	}
	ufs_list_page_free(&page);
	/* deleting a symlink removes the link, never the target */
	assert_int_equal(ufs_delete(u, "inside/up", false, err, sizeof(err)), 0);
	char p[400];
	snprintf(p, sizeof(p), "%s/secret", c->outside);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/planted", c->outside);
	assert_int_not_equal(access(p, F_OK), 0);
	ufs_close(u);
}

static void test_escapes_beneath(void **state)
{
	struct local_ctx *c = *state;
	check_escapes(c, "beneath");
	/* openat2 resolution follows symlinks that stay inside the root */
	struct ufs *u = open_root(c, "beneath");
	char err[256] = "", buf[16];
	size_t got;
	assert_int_equal(ufs_read_buf(u, "rel/file", 0, buf, sizeof(buf), &got, err, sizeof(err)),
			 0);
	assert_int_equal(got, 4);
	ufs_close(u);
}

static void test_escapes_walk(void **state)
{
	struct local_ctx *c = *state;
	check_escapes(c, "walk");
	/* the walk refuses every symlink, even one that stays inside */
	struct ufs *u = open_root(c, "walk");
	char err[256] = "", buf[16];
	size_t got;
	assert_int_equal(ufs_read_buf(u, "rel/file", 0, buf, sizeof(buf), &got, err, sizeof(err)),
			 -EACCES);
	assert_int_equal(ufs_read_buf(u, "inside/file", 0, buf, sizeof(buf), &got, err,
				      sizeof(err)),
			 0);
	ufs_close(u);
}

static void test_modes(void **state)
{
	struct local_ctx *c = *state;
	char err[256] = "", p[400];
	struct stat sb;
	struct ufs *u = open_root(c, "beneath");
	assert_int_equal(ufs_put(u, "m/d/f", "data", 4, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/m/d/f", c->root);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/m/d", c->root);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	ufs_close(u);

	char uri[400];
	snprintf(uri, sizeof(uri), "file://%s", c->root);
	struct ufs_opt opts[] = { { "local.file_mode", "0640" }, { "local.dir_mode", "750" } };
	assert_int_equal(ufs_open(uri, opts, 2, &u, err, sizeof(err)), 0);
	assert_int_equal(ufs_put(u, "n/g", "data", 4, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/n/g", c->root);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	snprintf(p, sizeof(p), "%s/n", c->root);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0750);
	ufs_close(u);
}

static void test_open_errors(void **state)
{
	struct local_ctx *c = *state;
	char err[256] = "", uri[400];
	struct ufs *u = NULL;
	assert_int_equal(ufs_open("file://relative/dir", NULL, 0, &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(ufs_open("nosuch://x", NULL, 0, &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(ufs_open("/no/scheme", NULL, 0, &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(ufs_open("file:///does/not/exist/anywhere", NULL, 0, &u, err,
				  sizeof(err)),
			 -ENOENT);
	snprintf(uri, sizeof(uri), "file://%s", c->root);
	struct ufs_opt bad[] = { { "local.bogus", "1" } };
	assert_int_equal(ufs_open(uri, bad, 1, &u, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "local.bogus"));
	struct ufs_opt badmode[] = { { "local.file_mode", "0999" } };
	assert_int_equal(ufs_open(uri, badmode, 1, &u, err, sizeof(err)), -EINVAL);
	struct ufs_opt other_ns[] = { { "s3.region", "x" } }; /* other drivers' keys pass */
	assert_int_equal(ufs_open(uri, other_ns, 1, &u, err, sizeof(err)), 0);
	assert_string_equal(ufs_scheme(u), "file");
	ufs_close(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_escapes_beneath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escapes_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};
	return cmocka_run_group_tests_name("ufs_local", tests, NULL, NULL);
}
