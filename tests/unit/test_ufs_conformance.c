/*
 * One conformance suite run against every UFS driver: the local driver on a
 * temp dir (twice: openat2 resolution and the O_NOFOLLOW walk), and the S3
 * driver against a real s3rver started here. Each test works under its own
 * top-level directory so the tests of one group do not see each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ufs/ufs.h"
#include "ufs_s3rver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

/* cmocka reports a failed group setup; this makes sure the exit code does too */
static int g_setup_failed;

#define BUCKET "conformance"
#define MIB (1024u * 1024u)

struct conf_ctx {
	const char *kind;
	struct ufs *ufs;
	char tmpdir[256];
	struct ufs_s3rver srv;
};

static struct conf_ctx g_local, g_local_walk, g_s3;

static int setup_local_common(struct conf_ctx *c, const char *kind, const char *resolve)
{
	char uri[300], err[256] = "";
	c->kind = kind;
	if (ufs_make_tmpdir(c->tmpdir, sizeof(c->tmpdir), "conf") != 0)
		return -1;
	snprintf(uri, sizeof(uri), "file://%s", c->tmpdir);
	struct ufs_opt opts[] = { { "local.resolve", resolve }, { "local.fsync", "0" } };
	if (ufs_open(uri, opts, 2, &c->ufs, err, sizeof(err)) != 0) {
		fprintf(stderr, "ufs_open %s: %s\n", uri, err);
		return -1;
	}
	return 0;
}

static int group_setup_local(void **state)
{
	*state = &g_local;
	return setup_local_common(&g_local, "local", "beneath");
}

static int group_setup_local_walk(void **state)
{
	*state = &g_local_walk;
	return setup_local_common(&g_local_walk, "local-walk", "walk");
}

static int group_setup_s3(void **state)
{
	char err[512] = "";
	struct conf_ctx *c = &g_s3;
	c->kind = "s3";
	*state = c;
	g_setup_failed = 1; /* cleared on success below */
	if (ufs_s3rver_start(&c->srv, BUCKET, err, sizeof(err)) != 0) {
		fprintf(stderr, "FATAL: cannot start s3rver: %s\n", err);
		return -1;
	}
	struct ufs_opt opts[] = {
		{ "s3.endpoint", c->srv.endpoint }, { "s3.region", "us-east-1" },
		{ "s3.access_key", "S3RVER" },      { "s3.secret_key", "S3RVER" },
		{ "s3.path_style", "1" },           { "s3.part_size", "5242880" },
	};
	if (ufs_open("s3://" BUCKET "/mnt/root", opts, sizeof(opts) / sizeof(opts[0]), &c->ufs,
		     err, sizeof(err)) != 0) {
		fprintf(stderr, "ufs_open s3: %s\n", err);
		ufs_s3rver_stop(&c->srv);
		return -1;
	}
	g_setup_failed = 0;
	return 0;
}

static int group_teardown(void **state)
{
	struct conf_ctx *c = *state;
	ufs_close(c->ufs);
	c->ufs = NULL;
	if (c->srv.pid > 0 || c->srv.dir[0])
		ufs_s3rver_stop(&c->srv);
	if (c->tmpdir[0])
		ufs_rmrf(c->tmpdir);
	return 0;
}

/* Reads a whole range into a fresh buffer; caller frees. */
static char *read_range(struct ufs *u, const char *path, uint64_t off, size_t len, size_t *got)
{
	char err[256] = "";
	char *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	int rc = ufs_read_buf(u, path, off, buf, len, got, err, sizeof(err));
	if (rc)
		fail_msg("read %s [%llu,+%zu): %d %s", path, (unsigned long long)off, len, rc, err);
	return buf;
}

static void put_str(struct ufs *u, const char *path, const char *s)
{
	char err[256] = "";
	int rc = ufs_put(u, path, s, strlen(s), err, sizeof(err));
	if (rc)
		fail_msg("put %s: %d %s", path, rc, err);
}

/* The content of path is want. s3rver, the S3 peer of these tests, now
 * and then answers a read right after a PUT with the object's previous
 * content (or none) when the machine is loaded (seen in CI under ctest -j2:
 * 0 bytes where 10 were written; "version one" after an overwrite); a
 * read that differs is repeated for up to 2 s before it fails, so only a
 * mismatch that lasts fails the test. */
static void assert_content(struct ufs *u, const char *path, const char *want)
{
	size_t got = 0, n = strlen(want);
	char *buf = NULL;
	for (int i = 0; i < 40; i++) {
		free(buf);
		buf = read_range(u, path, 0, n + 16, &got);
		if (got == n && memcmp(buf, want, n) == 0)
			break;
		usleep(50 * 1000);
	}
	assert_int_equal(got, n);
	assert_memory_equal(buf, want, got);
	free(buf);
}

static void test_put_stat_read(void **state)
{
	struct conf_ctx *c = *state;
	struct ufs_stat st;
	char err[256] = "";
	put_str(c->ufs, "psr/a/b/hello.txt", "hello, strata");
	assert_int_equal(ufs_stat(c->ufs, "psr/a/b/hello.txt", &st, err, sizeof(err)), 0);
	assert_false(st.is_dir);
	assert_int_equal(st.length, 13);
	assert_true(st.fingerprint[0] != '\0');
	assert_true(st.mtime_ms > (int64_t)(time(NULL) - 3600) * 1000);
	assert_int_equal(ufs_stat(c->ufs, "/psr/a/", &st, err, sizeof(err)), 0);
	assert_true(st.is_dir);
	assert_int_equal(ufs_stat(c->ufs, "", &st, err, sizeof(err)), 0);
	assert_true(st.is_dir);
	assert_content(c->ufs, "psr/a/b/hello.txt", "hello, strata");
	assert_int_equal(ufs_stat(c->ufs, "psr/missing", &st, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "psr/missing"));
	size_t got;
	char buf[4];
	assert_int_equal(ufs_read_buf(c->ufs, "psr/nope", 0, buf, 4, &got, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(ufs_read_buf(c->ufs, "psr/a", 0, buf, 4, &got, err, sizeof(err)),
			 -EISDIR);
}

static void test_overwrite_fingerprint(void **state)
{
	struct conf_ctx *c = *state;
	struct ufs_stat st1, st2;
	char err[256] = "";
	put_str(c->ufs, "ovr/f", "version one");
	assert_int_equal(ufs_stat(c->ufs, "ovr/f", &st1, err, sizeof(err)), 0);
	put_str(c->ufs, "ovr/f", "version two, longer");
	assert_int_equal(ufs_stat(c->ufs, "ovr/f", &st2, err, sizeof(err)), 0);
	assert_int_equal(st2.length, 19);
	assert_string_not_equal(st1.fingerprint, st2.fingerprint);
	assert_content(c->ufs, "ovr/f", "version two, longer");
}

static void test_ranged_reads(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	char data[1000];
	ufs_fill_pattern(data, sizeof(data), 0, 7);
	assert_int_equal(ufs_put(c->ufs, "rng/f", data, sizeof(data), err, sizeof(err)), 0);
	size_t got;
	char *b = read_range(c->ufs, "rng/f", 10, 20, &got);
	assert_int_equal(got, 20);
	assert_memory_equal(b, data + 10, 20);
	free(b);
	b = read_range(c->ufs, "rng/f", 990, 100, &got); /* clipped at EOF */
	assert_int_equal(got, 10);
	assert_memory_equal(b, data + 990, 10);
	free(b);
	b = read_range(c->ufs, "rng/f", 999, 1, &got);
	assert_int_equal(got, 1);
	assert_memory_equal(b, data + 999, 1);
	free(b);
	b = read_range(c->ufs, "rng/f", 1000, 10, &got); /* exactly at EOF */
	assert_int_equal(got, 0);
	free(b);
	b = read_range(c->ufs, "rng/f", 5000, 10, &got); /* far past EOF */
	assert_int_equal(got, 0);
	free(b);
	b = read_range(c->ufs, "rng/f", 0, 0, &got); /* empty range */
	assert_int_equal(got, 0);
	free(b);
}

struct collect {
	char *buf;
	size_t len, cap;
	int chunks;
};

static int collect_sink(void *arg, const void *data, size_t len)
{
	struct collect *col = arg;
	if (col->len + len > col->cap)
		return -ENOSPC;
	memcpy(col->buf + col->len, data, len);
	col->len += len;
	col->chunks++;
	return 0;
}

static int abort_sink(void *arg, const void *data, size_t len)
{
	return -ECANCELED;
}

static void test_read_to_eof_and_sink_abort(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	char data[3000];
	ufs_fill_pattern(data, sizeof(data), 0, 3);
	assert_int_equal(ufs_put(c->ufs, "eof/f", data, sizeof(data), err, sizeof(err)), 0);
	struct collect col = { .buf = malloc(4000), .cap = 4000 };
	assert_int_equal(ufs_read(c->ufs, "eof/f", 1000, UFS_READ_TO_EOF, collect_sink, &col, err,
				  sizeof(err)),
			 0);
	assert_int_equal(col.len, 2000);
	assert_memory_equal(col.buf, data + 1000, 2000);
	/* From 0: the whole object (S3: a plain GET, without Range). */
	col.len = 0;
	assert_int_equal(ufs_read(c->ufs, "eof/f", 0, UFS_READ_TO_EOF, collect_sink, &col, err,
				  sizeof(err)),
			 0);
	assert_int_equal(col.len, sizeof(data));
	assert_memory_equal(col.buf, data, sizeof(data));
	free(col.buf);
	assert_int_equal(ufs_read(c->ufs, "eof/f", 0, 100, abort_sink, NULL, err, sizeof(err)),
			 -ECANCELED);
}

/* The metadata a read brings back is the one stat and list report: same
 * fingerprint byte for byte, same length, whatever part was read. */
#define assert_same_stat(a, b) assert_same_stat_at((a), (b), __LINE__)
static void assert_same_stat_at(const struct ufs_stat *a, const struct ufs_stat *b, int line)
{
	if (a->length != b->length || strcmp(a->fingerprint, b->fingerprint) != 0)
		print_error("assert_same_stat at line %d: length %llu '%s' vs %llu '%s'\n", line,
			    (unsigned long long)a->length, a->fingerprint,
			    (unsigned long long)b->length, b->fingerprint);
	assert_false(a->is_dir);
	assert_false(b->is_dir);
	assert_int_equal(a->length, b->length);
	assert_string_equal(a->fingerprint, b->fingerprint);
	assert_true(a->fingerprint[0] != '\0');
}

static void test_read_stat(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	char data[5000];
	ufs_fill_pattern(data, sizeof(data), 0, 7);
	assert_int_equal(ufs_put(c->ufs, "rst/f", data, sizeof(data), err, sizeof(err)), 0);
	put_str(c->ufs, "rst/g", "other");
	struct ufs_stat want, got, listed = { 0 };
	assert_int_equal(ufs_stat(c->ufs, "rst/f", &want, err, sizeof(err)), 0);
	struct ufs_list_page page;
	assert_int_equal(ufs_list(c->ufs, "rst", NULL, 0, &page, err, sizeof(err)), 0);
	assert_int_equal(page.count, 2);
	assert_string_equal(page.entries[0].name, "f");
	listed = page.entries[0].st;
	ufs_list_page_free(&page);
	assert_same_stat(&want, &listed);

	struct collect col = { .buf = malloc(6000), .cap = 6000 };
	/* A range inside (S3: 206 with Content-Range). */
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(ufs_read_stat(c->ufs, "rst/f", 1000, 1000, collect_sink, &col, &got, err,
				       sizeof(err)),
			 0);
	assert_int_equal(col.len, 1000);
	assert_memory_equal(col.buf, data + 1000, 1000);
	assert_same_stat(&got, &want);
	/* A range past the end of a small object: the whole of it. */
	col.len = 0;
	assert_int_equal(ufs_read_stat(c->ufs, "rst/f", 0, 1 << 20, collect_sink, &col, &got, err,
				       sizeof(err)),
			 0);
	assert_int_equal(col.len, sizeof(data));
	assert_memory_equal(col.buf, data, sizeof(data));
	assert_same_stat(&got, &want);
	/* The whole object (S3: a plain GET answered 200). */
	col.len = 0;
	assert_int_equal(ufs_read_stat(c->ufs, "rst/f", 0, UFS_READ_TO_EOF, collect_sink, &col,
				       &got, err, sizeof(err)),
			 0);
	assert_int_equal(col.len, sizeof(data));
	assert_same_stat(&got, &want);
	/* Wholly past the end: nothing read, the metadata all the same. */
	col.len = 0;
	assert_int_equal(ufs_read_stat(c->ufs, "rst/f", 9000, 100, collect_sink, &col, &got, err,
				       sizeof(err)),
			 0);
	assert_int_equal(col.len, 0);
	assert_same_stat(&got, &want);
	free(col.buf);
	/* Missing, and a directory. */
	assert_int_equal(ufs_read_stat(c->ufs, "rst/none", 0, 100, collect_sink, &col, &got, err,
				       sizeof(err)),
			 -ENOENT);
	put_str(c->ufs, "rst/d/x", "x");
	assert_int_equal(ufs_read_stat(c->ufs, "rst/d", 0, 100, collect_sink, &col, &got, err,
				       sizeof(err)),
			 -EISDIR);
	/* Overwritten: the read sees the new version's fingerprint, as stat. */
	ufs_fill_pattern(data, sizeof(data), 0, 9);
	assert_int_equal(ufs_put(c->ufs, "rst/f", data, 3000, err, sizeof(err)), 0);
	assert_int_equal(ufs_stat(c->ufs, "rst/f", &want, err, sizeof(err)), 0);
	col = (struct collect){ .buf = malloc(6000), .cap = 6000 };
	assert_int_equal(ufs_read_stat(c->ufs, "rst/f", 0, 100, collect_sink, &col, &got, err,
				       sizeof(err)),
			 0);
	assert_same_stat(&got, &want);
	assert_int_equal(got.length, 3000);
	free(col.buf);
}

static void test_empty_object(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	struct ufs_stat st;
	assert_int_equal(ufs_put(c->ufs, "empty/zero", "", 0, err, sizeof(err)), 0);
	assert_int_equal(ufs_stat(c->ufs, "empty/zero", &st, err, sizeof(err)), 0);
	assert_false(st.is_dir);
	assert_int_equal(st.length, 0);
	size_t got = 99;
	char *b = read_range(c->ufs, "empty/zero", 0, 10, &got);
	assert_int_equal(got, 0);
	free(b);
	struct ufs_list_page page;
	assert_int_equal(ufs_list(c->ufs, "empty", NULL, 0, &page, err, sizeof(err)), 0);
	assert_int_equal(page.count, 1);
	assert_string_equal(page.entries[0].name, "zero");
	assert_false(page.entries[0].st.is_dir);
	ufs_list_page_free(&page);
}

static void test_streaming_writer(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	struct ufs_writer *w;
	char chunk[4096];
	assert_int_equal(ufs_writer_open(c->ufs, "wr/streamed", &w, err, sizeof(err)), 0);
	for (int i = 0; i < 10; i++) {
		ufs_fill_pattern(chunk, sizeof(chunk), (uint64_t)i * sizeof(chunk), 1);
		assert_int_equal(ufs_writer_write(w, chunk, sizeof(chunk), err, sizeof(err)), 0);
	}
	struct ufs_stat st;
	assert_int_equal(ufs_stat(c->ufs, "wr/streamed", &st, err, sizeof(err)), -ENOENT);
	assert_int_equal(ufs_writer_commit(w, err, sizeof(err)), 0);
	assert_int_equal(ufs_stat(c->ufs, "wr/streamed", &st, err, sizeof(err)), 0);
	assert_int_equal(st.length, 40960);
	size_t got;
	char *b = read_range(c->ufs, "wr/streamed", 4000, 200, &got);
	ufs_fill_pattern(chunk, 200, 4000, 1);
	assert_int_equal(got, 200);
	assert_memory_equal(b, chunk, 200);
	free(b);

	assert_int_equal(ufs_writer_open(c->ufs, "wr/aborted", &w, err, sizeof(err)), 0);
	assert_int_equal(ufs_writer_write(w, "junk", 4, err, sizeof(err)), 0);
	ufs_writer_abort(w);
	assert_int_equal(ufs_stat(c->ufs, "wr/aborted", &st, err, sizeof(err)), -ENOENT);
	struct ufs_list_page page;
	assert_int_equal(ufs_list(c->ufs, "wr", NULL, 0, &page, err, sizeof(err)), 0);
	assert_int_equal(page.count, 1); /* no temp files or leftovers visible */
	assert_string_equal(page.entries[0].name, "streamed");
	ufs_list_page_free(&page);
}

static void test_list(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	struct ufs_list_page page;
	put_str(c->ufs, "lst/b.txt", "bb");
	put_str(c->ufs, "lst/a.txt", "a");
	/* one level only: s3rver misses CommonPrefixes whose objects are all
	 * two or more levels down (its directory walk prunes them) */
	put_str(c->ufs, "lst/sub/x", "x");
	assert_int_equal(ufs_mkdir(c->ufs, "lst/emptydir", err, sizeof(err)), 0);
	assert_int_equal(ufs_list(c->ufs, "lst", NULL, 0, &page, err, sizeof(err)), 0);
	assert_int_equal(page.count, 4);
	assert_null(page.next_token);
	assert_string_equal(page.entries[0].name, "a.txt");
	assert_false(page.entries[0].st.is_dir);
	assert_int_equal(page.entries[0].st.length, 1);
	assert_string_equal(page.entries[1].name, "b.txt");
	assert_int_equal(page.entries[1].st.length, 2);
	assert_true(page.entries[1].st.fingerprint[0] != '\0');
	assert_string_equal(page.entries[2].name, "emptydir");
	assert_true(page.entries[2].st.is_dir);
	assert_string_equal(page.entries[3].name, "sub");
	assert_true(page.entries[3].st.is_dir);
	ufs_list_page_free(&page);
	assert_int_equal(ufs_list(c->ufs, "lst/emptydir", NULL, 0, &page, err, sizeof(err)), 0);
	assert_int_equal(page.count, 0);
	ufs_list_page_free(&page);
	assert_int_equal(ufs_list(c->ufs, "lst/none", NULL, 0, &page, err, sizeof(err)), -ENOENT);
}

static void test_list_paging(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "", path[64];
	const int nfiles = 23;
	for (int i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "page/f%02d", i);
		put_str(c->ufs, path, "p");
	}
	put_str(c->ufs, "page/zdir/inner", "i");
	char *token = NULL;
	int seen = 0, pages = 0;
	do {
		struct ufs_list_page page;
		int rc = ufs_list(c->ufs, "page", token, 5, &page, err, sizeof(err));
		if (rc)
			fail_msg("list page %d: %d %s", pages, rc, err);
		assert_true(page.count <= 5);
		for (size_t i = 0; i < page.count; i++, seen++) {
			if (seen < nfiles) {
				snprintf(path, sizeof(path), "f%02d", seen);
				assert_string_equal(page.entries[i].name, path);
			} else {
				assert_string_equal(page.entries[i].name, "zdir");
				assert_true(page.entries[i].st.is_dir);
			}
		}
		free(token);
		token = page.next_token ? strdup(page.next_token) : NULL;
		ufs_list_page_free(&page);
		pages++;
		assert_true(pages < 20);
	} while (token);
	assert_int_equal(seen, nfiles + 1);
	assert_true(pages >= 5);
}

static void test_mkdir(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	struct ufs_stat st;
	assert_int_equal(ufs_mkdir(c->ufs, "mk/a/b", err, sizeof(err)), 0);
	assert_int_equal(ufs_stat(c->ufs, "mk/a/b", &st, err, sizeof(err)), 0);
	assert_true(st.is_dir);
	assert_int_equal(ufs_stat(c->ufs, "mk/a", &st, err, sizeof(err)), 0);
	assert_true(st.is_dir);
	assert_int_equal(ufs_mkdir(c->ufs, "mk/a/b", err, sizeof(err)), -EEXIST);
	put_str(c->ufs, "mk/file", "f");
	assert_int_equal(ufs_mkdir(c->ufs, "mk/file", err, sizeof(err)), -EEXIST);
	assert_int_equal(ufs_mkdir(c->ufs, "", err, sizeof(err)), -EEXIST);
}

static void test_delete(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	struct ufs_stat st;
	put_str(c->ufs, "del/f", "x");
	put_str(c->ufs, "del/d/one", "1");
	put_str(c->ufs, "del/d/sub/two", "2");
	assert_int_equal(ufs_delete(c->ufs, "del/f", false, err, sizeof(err)), 0);
	assert_int_equal(ufs_stat(c->ufs, "del/f", &st, err, sizeof(err)), -ENOENT);
	assert_int_equal(ufs_delete(c->ufs, "del/f", false, err, sizeof(err)), -ENOENT);
	assert_int_equal(ufs_delete(c->ufs, "del/d", false, err, sizeof(err)), -ENOTEMPTY);
	assert_int_equal(ufs_stat(c->ufs, "del/d/one", &st, err, sizeof(err)), 0);
	assert_int_equal(ufs_delete(c->ufs, "del/d", true, err, sizeof(err)), 0);
	assert_int_equal(ufs_stat(c->ufs, "del/d", &st, err, sizeof(err)), -ENOENT);
	assert_int_equal(ufs_stat(c->ufs, "del/d/sub/two", &st, err, sizeof(err)), -ENOENT);
	assert_int_equal(ufs_mkdir(c->ufs, "del/e", err, sizeof(err)), 0);
	assert_int_equal(ufs_delete(c->ufs, "del/e", false, err, sizeof(err)), 0);
	assert_int_equal(ufs_stat(c->ufs, "del/e", &st, err, sizeof(err)), -ENOENT);
	assert_int_equal(ufs_delete(c->ufs, "", true, err, sizeof(err)), -EINVAL);
}

static void test_rename(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	struct ufs_stat st;
	put_str(c->ufs, "ren/src", "payload");
	put_str(c->ufs, "ren/taken", "other");
	assert_int_equal(ufs_rename(c->ufs, "ren/src", "ren/dst", err, sizeof(err)), 0);
	assert_int_equal(ufs_stat(c->ufs, "ren/src", &st, err, sizeof(err)), -ENOENT);
	assert_content(c->ufs, "ren/dst", "payload");
	assert_int_equal(ufs_rename(c->ufs, "ren/dst", "ren/taken", err, sizeof(err)), -EEXIST);
	assert_content(c->ufs, "ren/taken", "other");
	assert_int_equal(ufs_rename(c->ufs, "ren/ghost", "ren/x", err, sizeof(err)), -ENOENT);
	/* into a directory that does not exist yet */
	assert_int_equal(ufs_rename(c->ufs, "ren/dst", "ren/new/dir/f", err, sizeof(err)), 0);
	assert_content(c->ufs, "ren/new/dir/f", "payload");
}

static void test_rename_dir(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	struct ufs_stat st;
	put_str(c->ufs, "rdir/a/one", "1");
	put_str(c->ufs, "rdir/a/sub/two", "22");
	assert_int_equal(ufs_mkdir(c->ufs, "rdir/a/emptysub", err, sizeof(err)), 0);
	assert_int_equal(ufs_rename(c->ufs, "rdir/a", "rdir/b", err, sizeof(err)), 0);
	assert_int_equal(ufs_stat(c->ufs, "rdir/a", &st, err, sizeof(err)), -ENOENT);
	assert_content(c->ufs, "rdir/b/one", "1");
	assert_content(c->ufs, "rdir/b/sub/two", "22");
	assert_int_equal(ufs_stat(c->ufs, "rdir/b/emptysub", &st, err, sizeof(err)), 0);
	assert_true(st.is_dir);
}

static void test_odd_names(void **state)
{
	struct conf_ctx *c = *state;
	static const char *const names[] = {
		"with space.txt", "plus+sign", "per%cent", "uni-\xc3\xbc-\xe6\x97\xa5\xe6\x9c\xac",
		"amp&eq=q?x",    "tilde~star*", "quote'\"<>",
	};
	const size_t n = sizeof(names) / sizeof(names[0]);
	char err[256] = "", path[128];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "odd/dir with space/%s", names[i]);
		put_str(c->ufs, path, names[i]);
		assert_content(c->ufs, path, names[i]);
		struct ufs_stat st;
		assert_int_equal(ufs_stat(c->ufs, path, &st, err, sizeof(err)), 0);
		assert_int_equal(st.length, strlen(names[i]));
	}
	struct ufs_list_page page;
	assert_int_equal(ufs_list(c->ufs, "odd/dir with space", NULL, 0, &page, err, sizeof(err)),
			 0);
	assert_int_equal(page.count, n);
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < page.count; j++)
			found |= strcmp(page.entries[j].name, names[i]) == 0;
		if (!found)
			fail_msg("%s missing from the listing", names[i]);
	}
	ufs_list_page_free(&page);
	snprintf(path, sizeof(path), "odd/dir with space/%s", names[1]);
	assert_int_equal(ufs_rename(c->ufs, path, "odd/renamed %+", err, sizeof(err)), 0);
	assert_content(c->ufs, "odd/renamed %+", names[1]);
	assert_int_equal(ufs_delete(c->ufs, "odd/renamed %+", false, err, sizeof(err)), 0);
}

static void test_invalid_paths(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	struct ufs_stat st;
	static const char *const bad[] = { "../x", "a/../b", "a//b", "./a", "a/.", ".." };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ufs_stat(c->ufs, bad[i], &st, err, sizeof(err)), -EINVAL);
		assert_int_equal(ufs_put(c->ufs, bad[i], "x", 1, err, sizeof(err)), -EINVAL);
	}
	assert_int_equal(ufs_put(c->ufs, "", "x", 1, err, sizeof(err)), -EINVAL);
}

static void test_large_multipart(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	const size_t total = 11 * MIB + 12345, chunk = 256 * 1024;
	char *buf = malloc(chunk);
	assert_non_null(buf);
	struct ufs_writer *w;
	assert_int_equal(ufs_writer_open(c->ufs, "big/blob", &w, err, sizeof(err)), 0);
	for (size_t off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk;
		ufs_fill_pattern(buf, n, off, 9);
		int rc = ufs_writer_write(w, buf, n, err, sizeof(err));
		if (rc)
			fail_msg("write at %zu: %d %s", off, rc, err);
	}
	int rc = ufs_writer_commit(w, err, sizeof(err));
	if (rc)
		fail_msg("commit: %d %s", rc, err);
	struct ufs_stat st;
	assert_int_equal(ufs_stat(c->ufs, "big/blob", &st, err, sizeof(err)), 0);
	assert_int_equal(st.length, total);
	/* across the first part boundary (5 MiB) and the tail */
	size_t got;
	char *b = read_range(c->ufs, "big/blob", 5 * MIB - 100, 200, &got);
	ufs_fill_pattern(buf, 200, 5 * MIB - 100, 9);
	assert_int_equal(got, 200);
	assert_memory_equal(b, buf, 200);
	free(b);
	b = read_range(c->ufs, "big/blob", total - 50, 100, &got);
	ufs_fill_pattern(buf, 50, total - 50, 9);
	assert_int_equal(got, 50);
	assert_memory_equal(b, buf, 50);
	free(b);
	free(buf);
	assert_int_equal(ufs_delete(c->ufs, "big", true, err, sizeof(err)), 0);
}

static void test_probe(void **state)
{
	struct conf_ctx *c = *state;
	char err[256] = "";
	int rc = ufs_probe(c->ufs, err, sizeof(err));
	if (rc)
		fail_msg("probe %s: %d %s", c->kind, rc, err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_put_stat_read),
		cmocka_unit_test(test_overwrite_fingerprint),
		cmocka_unit_test(test_ranged_reads),
		cmocka_unit_test(test_read_to_eof_and_sink_abort),
		cmocka_unit_test(test_read_stat),
		cmocka_unit_test(test_empty_object),
		cmocka_unit_test(test_streaming_writer),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_list_paging),
		cmocka_unit_test(test_mkdir),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_rename),
		cmocka_unit_test(test_rename_dir),
		cmocka_unit_test(test_odd_names),
		cmocka_unit_test(test_invalid_paths),
		cmocka_unit_test(test_large_multipart),
	};
	int failed = 0;
	failed += cmocka_run_group_tests_name("ufs_local", tests, group_setup_local, group_teardown);
	failed += cmocka_run_group_tests_name("ufs_local_walk", tests, group_setup_local_walk,
					      group_teardown);
	failed += cmocka_run_group_tests_name("ufs_s3", tests, group_setup_s3, group_teardown);
	return failed || g_setup_failed ? 1 : 0;
}
