/* Tests daemon/master/revalidate.c on a real single-master namespace over a
 * local store: wanted files are grouped by directory and checked once per
 * half interval (one LIST for many files), not again before; files stop
 * being wanted keep_intervals after their last lookup; a failing store is
 * counted as an error and retried soon; a path outside every mount is
 * skipped quietly; files with cached blocks stay wanted without lookups. */
#include "daemon/master/revalidate.h"

#include "daemon/master/blockmap.h"
#include "daemon/master/filemeta.h"
#include "daemon/master/fs.h"
#include "daemon/master/meta.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/placement.h"

#include <cjson/cJSON.h>
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

struct fixture {
	char dir[64];
	struct meta *meta;
	struct fs *fs;
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct meta *open_meta(const char *dir, bool join)
{
	struct meta_opts o = { .state_dir = dir, .tick_ms = 20, .election_ticks = 5,
			       .join = join };
	struct meta *m = NULL;
	char err[1024] = "";
	int rc = meta_open(&o, &m, err, sizeof(err));
	if (rc)
		print_error("meta_open: %d %s\n", rc, err);
	assert_int_equal(rc, 0);
	return m;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/strata-test-reval.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	char p[256];
	snprintf(p, sizeof(p), "%s/state", f->dir);
	mkdir(p, 0700);
	f->meta = open_meta(p, false);
	struct fs_opts fo = { .default_block_size = 4 << 20, .default_sync_interval_ms = -1 };
	if (fs_open(f->meta, &fo, &f->fs))
		return -1;
	snprintf(p, sizeof(p), "%s/ufs", f->dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/ufs/d", f->dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/ufs/f.bin", f->dir);
	write_file(p, "hello");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	fs_close(f->fs);
	meta_close(f->meta);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static void mount_root(struct fixture *f, const char *sync_interval)
{
	char uri[128], opts[128], err[1024] = "";
	snprintf(uri, sizeof(uri), "file://%s/ufs", f->dir);
	snprintf(opts, sizeof(opts), "{\"sync_interval\": \"%s\"}", sync_interval);
	cJSON *o = cJSON_Parse(opts);
	int rc = fs_mount(f->fs, "/", uri, false, o, err, sizeof(err));
	cJSON_Delete(o);
	if (rc)
		print_error("fs_mount: %s\n", err);
	assert_int_equal(rc, 0);
}

/* Looks path up as a worker would; its content id. */
static uint64_t lookup(struct fixture *f, const char *path)
{
	struct filemeta *fm = calloc(1, sizeof(*fm));
	char err[1024] = "";
	int rc = filemeta_lookup(f->fs, f->meta, path, 0, fm, err, sizeof(err));
	if (rc)
		print_error("lookup %s: %s\n", path, err);
	assert_int_equal(rc, 0);
	uint64_t data_id = fm->inode.data_id;
	free(fm);
	return data_id;
}

static void add_files(struct fixture *f, int n)
{
	char p[256];
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/ufs/d/f%d", f->dir, i);
		write_file(p, "x");
	}
}

static void test_pass_lists_each_directory_once_per_half_interval(void **state)
{
	struct fixture *f = *state;
	add_files(f, 5);
	mount_root(f, "10s");
	struct reval_opts o = { .fs = f->fs, .meta = f->meta };
	struct reval *r = reval_new(&o);
	assert_non_null(r);
	char p[64];
	int64_t now = clock_wall_ms();
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "/d/f%d", i);
		lookup(f, p);
		reval_want(r, p, now);
	}
	lookup(f, "/f.bin");
	reval_want(r, "/f.bin", now);
	reval_want(r, "/", now); /* no parent: ignored */
	struct reval_stats rs;
	reval_get_stats(r, &rs);
	assert_int_equal(rs.wanted, 6);
	assert_int_equal(rs.wanted_dirs, 2);
	struct fs_sync_stats st0, st;
	fs_sync_stats(f->fs, &st0);
	uint64_t applied = meta_applied_index(f->meta);
	/* Both directories are due at once: /d by one LIST, / by a HEAD. */
	assert_int_equal(reval_pass(r, now), 2);
	fs_sync_stats(f->fs, &st);
	assert_int_equal(st.lists - st0.lists, 1);
	assert_int_equal(st.heads - st0.heads, 1);
	assert_int_equal(meta_applied_index(f->meta), applied);
	/* Not again before half the interval. */
	assert_int_equal(reval_pass(r, now + 1000), 0);
	assert_int_equal(reval_pass(r, clock_wall_ms() + 5000), 2);
	fs_sync_stats(f->fs, &st);
	assert_int_equal(st.lists - st0.lists, 2);
	assert_int_equal(meta_applied_index(f->meta), applied);
	/* Wanted for 4 intervals after the last lookup, then dropped. */
	assert_int_equal(reval_pass(r, now + 41000), 0);
	reval_get_stats(r, &rs);
	assert_int_equal(rs.wanted, 0);
	assert_int_equal(rs.wanted_dirs, 0);
	assert_int_equal(rs.dirs, 4);
	assert_int_equal(rs.errors, 0);
	reval_free(r);
}

static void test_failing_store_and_no_mount(void **state)
{
	struct fixture *f = *state;
	add_files(f, 3);
	mount_root(f, "10s");
	struct reval_opts o = { .fs = f->fs, .meta = f->meta };
	struct reval *r = reval_new(&o);
	char p[256];
	int64_t now = clock_wall_ms();
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "/d/f%d", i);
		lookup(f, p);
		reval_want(r, p, now);
	}
	/* The directory became a file in the store: its listing fails. */
	snprintf(p, sizeof(p), "rm -rf %s/ufs/d && echo x > %s/ufs/d", f->dir, f->dir);
	assert_int_equal(system(p), 0);
	assert_int_equal(reval_pass(r, now), 1);
	struct reval_stats rs;
	reval_get_stats(r, &rs);
	assert_int_equal(rs.errors, 1);
	/* Retried soon (an eighth of the interval), not a whole interval later. */
	assert_int_equal(reval_pass(r, clock_wall_ms() + 1300), 1);
	reval_get_stats(r, &rs);
	assert_int_equal(rs.errors, 2);
	/* Outside every mount: skipped without an error, and not looked at
	 * again for a default interval (30 s). */
	char err[1024];
	assert_int_equal(fs_unmount(f->fs, "/", err, sizeof(err)), 0);
	assert_int_equal(reval_pass(r, clock_wall_ms() + 3000), 1);
	reval_get_stats(r, &rs);
	assert_int_equal(rs.errors, 2);
	assert_int_equal(reval_pass(r, clock_wall_ms() + 6000), 0);
	reval_free(r);
}

/* Files whose blocks are cached stay wanted while the block map holds
 * them, looked up or not; an unchanged map and namespace are not looked
 * up again; a block gone lets its file go after the scans' margin. */
static void test_cached_files_stay_wanted_without_lookups(void **state)
{
	struct fixture *f = *state;
	add_files(f, 5);
	mount_root(f, "10s");
	struct blockmap *bm = blockmap_new();
	assert_non_null(bm);
	struct reval_opts o = { .fs = f->fs, .meta = f->meta, .blocks = bm,
				.cached_scan_ms = 1000 };
	struct reval *r = reval_new(&o);
	assert_non_null(r);
	char p[64];
	uint64_t ids[5];
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "/d/f%d", i);
		ids[i] = lookup(f, p);
		assert_true(ids[i] > 0);
	}
	/* f0-f2 cached (f0 in two blocks on two workers); a block of content
	 * the namespace no longer has is skipped. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(blockmap_add(bm, ids[i] << PLACEMENT_INDEX_BITS, 1, 0), 0);
	assert_int_equal(blockmap_add(bm, ids[0] << PLACEMENT_INDEX_BITS | 1, 2, 0), 0);
	assert_int_equal(blockmap_add(bm, (ids[4] + 1000) << PLACEMENT_INDEX_BITS, 1, 0), 0);
	int64_t now = clock_wall_ms();
	reval_want(r, "/d/f3", now); /* looked up only */
	assert_int_equal(reval_scan_cached(r, now), 3);
	struct reval_stats rs;
	reval_get_stats(r, &rs);
	assert_int_equal(rs.wanted, 4);
	assert_int_equal(rs.cached, 3);
	assert_int_equal(rs.scans, 1);
	assert_int_equal(reval_pass(r, now), 1); /* /d, and its interval learnt */
	/* Nothing moved: the marks are extended without a lookup. */
	assert_int_equal(reval_scan_cached(r, now + 39000), 3);
	reval_get_stats(r, &rs);
	assert_int_equal(rs.scans, 1);
	/* Four intervals on, f3 (no lookup since) is dropped, the cached ones
	 * are kept and their directory checked. */
	assert_int_equal(reval_pass(r, now + 41000), 1);
	reval_get_stats(r, &rs);
	assert_int_equal(rs.wanted, 3);
	/* f0 leaves the cache: the next scan looks the files up again and
	 * f0 goes once its last mark runs out (three scans). */
	blockmap_remove(bm, ids[0] << PLACEMENT_INDEX_BITS, 1);
	blockmap_remove(bm, ids[0] << PLACEMENT_INDEX_BITS | 1, 2);
	assert_int_equal(reval_scan_cached(r, now + 41500), 2);
	reval_get_stats(r, &rs);
	assert_int_equal(rs.scans, 2);
	assert_int_equal(rs.cached, 2);
	reval_pass(r, now + 42500);
	reval_get_stats(r, &rs);
	assert_int_equal(rs.wanted, 2);
	/* Without a block map nothing is scanned. */
	struct reval_opts o2 = { .fs = f->fs, .meta = f->meta };
	struct reval *r2 = reval_new(&o2);
	assert_non_null(r2);
	assert_int_equal(reval_scan_cached(r2, now), 0);
	reval_free(r2);
	reval_free(r);
	blockmap_free(bm);
}

/* The thread: on a leader it checks wanted directories by itself. */
static void test_thread_checks_on_the_leader(void **state)
{
	struct fixture *f = *state;
	add_files(f, 3);
	mount_root(f, "10s");
	struct reval_opts o = { .fs = f->fs, .meta = f->meta, .tick_ms = 10 };
	struct reval *r = reval_new(&o);
	assert_int_equal(reval_start(r), 0);
	char p[64];
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "/d/f%d", i);
		lookup(f, p);
		reval_want(r, p, clock_wall_ms());
	}
	struct reval_stats rs = { 0 };
	for (int i = 0; i < 300 && rs.dirs == 0; i++) {
		usleep(10000);
		reval_get_stats(r, &rs);
	}
	assert_true(rs.dirs >= 1);
	reval_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pass_lists_each_directory_once_per_half_interval,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_store_and_no_mount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cached_files_stay_wanted_without_lookups, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_thread_checks_on_the_leader, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
