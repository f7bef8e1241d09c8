/* Tests daemon/master/filemeta.c: the trust window per sync interval (pure,
 * on a given clock), and lookups on a real single-master namespace over a
 * local store: the mount epoch tag is exact and moves only for changes
 * (a load from the store creates only), per mount; a check that finds
 * nothing changed writes nothing to the log; fs_revalidate lists a
 * directory once for many files; directories and unknown paths are
 * refused, and only a leader gives out the epoch. */
#include "daemon/master/filemeta.h"

#include "daemon/master/fs.h"
#include "daemon/master/meta.h"
#include "lib/err.h"

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

static void test_trust_window(void **state)
{
	struct ns_mount mnt = { .sync_interval_ms = -1 };
	struct ns_inode n = { .synced_ms = 1000 };
	assert_int_equal(filemeta_trust_ms(&mnt, &n, 5000), -1); /* never synced again */
	mnt.sync_interval_ms = 0;
	assert_int_equal(filemeta_trust_ms(&mnt, &n, 5000), 0); /* always synced */
	mnt.sync_interval_ms = 30000;
	assert_int_equal(filemeta_trust_ms(&mnt, &n, 1000), 30000);
	assert_int_equal(filemeta_trust_ms(&mnt, &n, 21000), 10000);
	assert_int_equal(filemeta_trust_ms(&mnt, &n, 31000), 0); /* due: not at all */
	assert_int_equal(filemeta_trust_ms(&mnt, &n, 90000), 0);
	n.synced_ms = 0; /* never checked against the store */
	assert_int_equal(filemeta_trust_ms(&mnt, &n, 1000), 0);
}

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/strata-test-filemeta.XXXXXX");
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

/* The epoch of the mount at mpath, as GET /api/v1/internal/epoch gives it. */
static uint64_t mount_epoch(struct fixture *f, const char *mpath)
{
	cJSON *o = cJSON_CreateObject();
	assert_int_equal(filemeta_mount_epochs(f->meta, o), 0);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(o, "mounts"), mpath);
	assert_true(cJSON_IsString(v));
	uint64_t e = strtoull(v->valuestring, NULL, 10);
	cJSON_Delete(o);
	return e;
}

static void test_lookup_tags_the_mount_epoch(void **state)
{
	struct fixture *f = *state;
	mount_root(f, "never");
	struct filemeta *fm = calloc(1, sizeof(*fm));
	char err[1024] = "";
	uint64_t before = meta_applied_index(f->meta);
	uint64_t mounted = mount_epoch(f, "/");
	assert_int_equal(mounted, before); /* the mount itself moved it */
	/* The first lookup loads the file from the store: a creation, which
	 * moves the log but not the mount's epoch (nothing cached changed). */
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)), 0);
	assert_true(meta_applied_index(f->meta) > before);
	assert_int_equal(fm->mount_epoch, mounted);
	assert_int_equal(mount_epoch(f, "/"), mounted);
	assert_int_equal(fm->inode.length, 5);
	assert_true(fm->inode.data_id > 0);
	assert_string_equal(fm->ufs_path, "f.bin");
	assert_string_equal(fm->mount.path, "/");
	assert_int_equal(fm->trust_ms, -1); /* never synced again: for ever */
	/* Nothing changed: the same answer, the same tag. */
	uint64_t data_id = fm->inode.data_id;
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)), 0);
	assert_int_equal(fm->mount_epoch, mounted);
	assert_int_equal(fm->inode.data_id, data_id);
	/* A write over the file changes what workers cached: the epoch moves
	 * to that command, and the next answer carries it. */
	assert_int_equal(fs_write_commit(f->fs, "/f.bin", 0, 3, 1000, "fp-new", NULL, FS_PERSISTED, err,
					 sizeof(err)),
			 0);
	uint64_t moved = mount_epoch(f, "/");
	assert_int_equal(moved, meta_applied_index(f->meta));
	assert_true(moved > mounted);
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)), 0);
	assert_int_equal(fm->mount_epoch, moved);
	assert_int_equal(fm->inode.length, 3);
	free(fm);
}

/* A change under one mount leaves another mount's epoch alone. */
static void test_mount_epochs_are_per_mount(void **state)
{
	struct fixture *f = *state;
	mount_root(f, "never");
	char uri[128], p[256], err[1024] = "";
	snprintf(p, sizeof(p), "%s/other", f->dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/other/g.bin", f->dir);
	write_file(p, "other");
	snprintf(uri, sizeof(uri), "file://%s/other", f->dir);
	assert_int_equal(fs_mount(f->fs, "/d", uri, false, NULL, err, sizeof(err)), 0);
	uint64_t d0 = mount_epoch(f, "/d");
	struct filemeta *fm = calloc(1, sizeof(*fm));
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/d/g.bin", 0, fm, err, sizeof(err)), 0);
	assert_int_equal(fm->mount_epoch, d0);
	assert_string_equal(fm->mount.path, "/d");
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)), 0);
	assert_int_equal(fs_delete(f->fs, "/f.bin", false, err, sizeof(err)), 0);
	assert_int_equal(mount_epoch(f, "/"), meta_applied_index(f->meta));
	assert_int_equal(mount_epoch(f, "/d"), d0);
	/* A new file under / creates only: no epoch moves. */
	uint64_t root = mount_epoch(f, "/");
	assert_int_equal(fs_mkdir(f->fs, "/newdir", false, err, sizeof(err)), 0);
	assert_int_equal(mount_epoch(f, "/"), root);
	free(fm);
}

/* With sync_interval=always every lookup asks the store; one that finds
 * nothing changed writes nothing to the log, one that finds a change
 * journals it and moves the mount's epoch. */
static void test_unchanged_check_writes_nothing(void **state)
{
	struct fixture *f = *state;
	mount_root(f, "always");
	struct filemeta *fm = calloc(1, sizeof(*fm));
	char err[1024] = "", p[256];
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)), 0);
	uint64_t applied = meta_applied_index(f->meta), epoch = mount_epoch(f, "/");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
			filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)), 0);
		assert_int_equal(meta_applied_index(f->meta), applied);
	}
	struct fs_sync_stats st;
	fs_sync_stats(f->fs, &st);
	assert_true(st.heads >= 4);
	assert_int_equal(st.changes, 0);
	snprintf(p, sizeof(p), "%s/ufs/f.bin", f->dir);
	write_file(p, "hello, changed");
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)), 0);
	assert_int_equal(fm->inode.length, 14);
	assert_true(meta_applied_index(f->meta) > applied);
	assert_true(mount_epoch(f, "/") > epoch);
	assert_int_equal(fm->mount_epoch, mount_epoch(f, "/"));
	fs_sync_stats(f->fs, &st);
	assert_int_equal(st.changes, 1);
	free(fm);
}

/* fs_revalidate: more than FS_REVAL_HEADS_MAX wanted files cost one
 * LIST, which verifies them all without a log entry; a change found by
 * it is journaled once; a HEAD each for a few. */
static void test_revalidate_lists_once(void **state)
{
	struct fixture *f = *state;
	char p[256], err[1024] = "";
	const char *names[] = { "a", "b", "c", "e" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/ufs/d/%s", f->dir, names[i]);
		write_file(p, names[i]);
	}
	mount_root(f, "60s");
	struct filemeta *fm = calloc(1, sizeof(*fm));
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "/d/%s", names[i]);
		assert_int_equal(filemeta_lookup(f->fs, f->meta, p, 0, fm, err, sizeof(err)), 0);
	}
	struct fs_sync_stats st0, st;
	fs_sync_stats(f->fs, &st0);
	uint64_t applied = meta_applied_index(f->meta);
	int64_t interval = 0;
	assert_int_equal(fs_revalidate(f->fs, "/d", names, 4, &interval, err, sizeof(err)), 0);
	assert_int_equal(interval, 60000);
	fs_sync_stats(f->fs, &st);
	assert_int_equal(st.lists - st0.lists, 1);
	assert_int_equal(st.heads, st0.heads);
	assert_int_equal(meta_applied_index(f->meta), applied);
	assert_true(st.verified >= 4);
	/* One file changed, one gone: one sync_dir command. */
	snprintf(p, sizeof(p), "%s/ufs/d/a", f->dir);
	write_file(p, "a changed");
	snprintf(p, sizeof(p), "%s/ufs/d/b", f->dir);
	unlink(p);
	uint64_t epoch = mount_epoch(f, "/");
	assert_int_equal(fs_revalidate(f->fs, "/d", names, 4, &interval, err, sizeof(err)), 0);
	assert_int_equal(meta_applied_index(f->meta), applied + 1);
	assert_true(mount_epoch(f, "/") > epoch);
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/d/a", 0, fm, err, sizeof(err)), 0);
	assert_int_equal(fm->inode.length, 9);
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/d/b", 0, fm, err, sizeof(err)),
			 -ENOENT);
	/* Two files: a HEAD each, nothing journaled when unchanged. */
	fs_sync_stats(f->fs, &st0);
	applied = meta_applied_index(f->meta);
	assert_int_equal(fs_revalidate(f->fs, "/d", names + 2, 2, &interval, err, sizeof(err)),
			 0);
	fs_sync_stats(f->fs, &st);
	assert_int_equal(st.heads - st0.heads, 2);
	assert_int_equal(st.lists, st0.lists);
	assert_int_equal(meta_applied_index(f->meta), applied);
	/* The directory is gone from a local store (its listing fails): the
	 * files are asked about one by one and found gone. */
	snprintf(p, sizeof(p), "rm -rf %s/ufs/d", f->dir);
	assert_int_equal(system(p), 0);
	assert_int_equal(fs_revalidate(f->fs, "/d", names, 4, &interval, err, sizeof(err)), 0);
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/d/c", 0, fm, err, sizeof(err)),
			 -ENOENT);
	/* Outside every mount: nothing to check. */
	assert_int_equal(fs_unmount(f->fs, "/", err, sizeof(err)), 0);
	assert_int_equal(fs_revalidate(f->fs, "/d", names, 4, &interval, err, sizeof(err)),
			 ST_ENOMOUNT);
	free(fm);
}

static void test_lookup_trust_follows_the_sync_interval(void **state)
{
	struct fixture *f = *state;
	mount_root(f, "60s");
	struct filemeta *fm = calloc(1, sizeof(*fm));
	char err[1024] = "";
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)), 0);
	assert_true(fm->inode.synced_ms > 0);
	int64_t now = fm->inode.synced_ms + 20000;
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", now, fm, err, sizeof(err)), 0);
	assert_int_equal(fm->trust_ms, 40000);
	free(fm);
}

static void test_lookup_refusals(void **state)
{
	struct fixture *f = *state;
	struct filemeta *fm = calloc(1, sizeof(*fm));
	char err[1024] = "";
	/* Nothing mounted yet: no store shows it. */
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)),
			 -ENOENT);
	mount_root(f, "never");
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/d", 0, fm, err, sizeof(err)), -EISDIR);
	assert_string_equal(err, "'/d' is a directory");
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/nope", 0, fm, err, sizeof(err)),
			 -ENOENT);
	free(fm);
}

static void test_epoch_only_from_the_leader(void **state)
{
	struct fixture *f = *state;
	char p[256];
	snprintf(p, sizeof(p), "%s/joiner", f->dir);
	mkdir(p, 0700);
	/* A master waiting to be added to a group never leads on its own. */
	struct meta *joiner = open_meta(p, true);
	uint64_t epoch = 12345;
	assert_int_equal(filemeta_epoch(joiner, &epoch), ST_ENOTLEADER);
	assert_int_equal(epoch, 12345);
	meta_close(joiner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trust_window),
		cmocka_unit_test_setup_teardown(test_lookup_tags_the_mount_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mount_epochs_are_per_mount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_check_writes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_revalidate_lists_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_trust_follows_the_sync_interval, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lookup_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_only_from_the_leader, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
