/* Tests daemon/master/filemeta.c: the trust window per sync interval (pure,
 * on a given clock), and lookups on a real single-master namespace over a
 * local store: the epoch tag is exact even when the lookup itself loaded
 * the file from the store, directories and unknown paths are refused, and
 * only a leader gives out the epoch. */
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

static void test_lookup_tags_the_current_epoch(void **state)
{
	struct fixture *f = *state;
	mount_root(f, "never");
	struct filemeta *fm = calloc(1, sizeof(*fm));
	char err[1024] = "";
	uint64_t before = meta_applied_index(f->meta);
	/* The first lookup loads the file from the store, which moves the
	 * epoch: the answer must carry the epoch after that load. */
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)), 0);
	assert_true(meta_applied_index(f->meta) > before);
	assert_int_equal(fm->epoch, meta_applied_index(f->meta));
	assert_int_equal(fm->inode.length, 5);
	assert_true(fm->inode.data_id > 0);
	assert_string_equal(fm->ufs_path, "f.bin");
	assert_string_equal(fm->mount.path, "/");
	assert_int_equal(fm->trust_ms, -1); /* never synced again: for ever */
	/* Nothing changed: the same answer, the same tag. */
	uint64_t epoch = fm->epoch, data_id = fm->inode.data_id;
	assert_int_equal(filemeta_lookup(f->fs, f->meta, "/f.bin", 0, fm, err, sizeof(err)), 0);
	assert_int_equal(fm->epoch, epoch);
	assert_int_equal(fm->inode.data_id, data_id);
	uint64_t now = 0;
	assert_int_equal(filemeta_epoch(f->meta, &now), 0);
	assert_int_equal(now, epoch);
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
		cmocka_unit_test_setup_teardown(test_lookup_tags_the_current_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_trust_follows_the_sync_interval, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lookup_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_only_from_the_leader, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
