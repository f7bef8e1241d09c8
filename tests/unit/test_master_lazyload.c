/* Tests daemon/master/lazyload.c on a real single-master namespace over a
 * local store: an unknown file is not_loaded without a log entry, a load is
 * recorded once (the same load again writes nothing, another fingerprint
 * wins as a sync would), a freshly listed parent sends the lookup the
 * normal way, and bad loads are refused. */
#include "daemon/master/lazyload.h"

#include "daemon/master/fs.h"
#include "daemon/master/meta.h"
#include "lib/err.h"
#include "ufs/ufs.h"

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
	struct filemeta *fm;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/strata-test-lazyload.XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	char p[256], err[1024] = "";
	snprintf(p, sizeof(p), "%s/state", f->dir);
	mkdir(p, 0700);
	struct meta_opts o = { .state_dir = p, .tick_ms = 20, .election_ticks = 5 };
	if (meta_open(&o, &f->meta, err, sizeof(err))) {
		print_error("meta_open: %s\n", err);
		return -1;
	}
	struct fs_opts fo = { .default_block_size = 4 << 20, .default_sync_interval_ms = 60000 };
	if (fs_open(f->meta, &fo, &f->fs))
		return -1;
	snprintf(p, sizeof(p), "%s/ufs", f->dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/ufs/d", f->dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/ufs/d/x", f->dir);
	FILE *fp = fopen(p, "w");
	if (!fp)
		return -1;
	fputs("x", fp);
	fclose(fp);
	f->fm = calloc(1, sizeof(*f->fm));
	*state = f;
	return f->fm ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	fs_close(f->fs);
	meta_close(f->meta);
	free(f->fm);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static void mount_root(struct fixture *f)
{
	char uri[128], err[1024] = "";
	snprintf(uri, sizeof(uri), "file://%s/ufs", f->dir);
	int rc = fs_mount(f->fs, "/", uri, false, NULL, err, sizeof(err));
	if (rc)
		print_error("fs_mount: %s\n", err);
	assert_int_equal(rc, 0);
}

static struct ufs_stat stat_of(uint64_t length, const char *fp)
{
	struct ufs_stat st = { .length = length, .mtime_ms = 1700000000000 };
	snprintf(st.fingerprint, sizeof(st.fingerprint), "%s", fp);
	return st;
}

static void test_unknown_file_is_not_loaded(void **state)
{
	struct fixture *f = *state;
	char err[1024] = "";
	mount_root(f);
	uint64_t before = meta_applied_index(f->meta);
	assert_int_equal(lazyload_lookup(f->fs, f->meta, "/d/new.bin", 0, f->fm, err, sizeof(err)),
			 ST_ENOTLOADED);
	assert_string_equal(f->fm->ufs_path, "d/new.bin");
	assert_string_equal(f->fm->mount.path, "/");
	assert_int_equal(f->fm->inode.data_id, 0);
	assert_non_null(strstr(err, "not loaded"));
	assert_int_equal(meta_applied_index(f->meta), before); /* nothing written */
	/* The mount point itself is no file to load. */
	assert_int_equal(lazyload_lookup(f->fs, f->meta, "/", 0, f->fm, err, sizeof(err)), -EISDIR);
}

static void test_load_recorded_once(void **state)
{
	struct fixture *f = *state;
	char err[1024] = "";
	mount_root(f);
	struct ufs_stat st = stat_of(5, "fp-1");
	uint64_t before = meta_applied_index(f->meta);
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/new.bin", &st, 0, f->fm, err,
					 sizeof(err)),
			 0);
	uint64_t loaded = meta_applied_index(f->meta);
	assert_true(loaded > before);
	assert_int_equal(f->fm->epoch, loaded);
	assert_int_equal(f->fm->inode.length, 5);
	assert_string_equal(f->fm->inode.fingerprint, "fp-1");
	assert_string_equal(f->fm->ufs_path, "d/new.bin");
	uint64_t data_id = f->fm->inode.data_id;
	assert_true(data_id > 0);
	/* A second worker's load of the same content: nothing written. */
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/new.bin", &st, 0, f->fm, err,
					 sizeof(err)),
			 0);
	assert_int_equal(meta_applied_index(f->meta), loaded);
	assert_int_equal(f->fm->inode.data_id, data_id);
	/* Known now: the lazy lookup answers it. */
	assert_int_equal(lazyload_lookup(f->fs, f->meta, "/d/new.bin", 0, f->fm, err, sizeof(err)),
			 0);
	assert_int_equal(f->fm->inode.data_id, data_id);
	/* Other content: the store's answer wins, under a new content id. */
	st = stat_of(7, "fp-2");
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/new.bin", &st, 0, f->fm, err,
					 sizeof(err)),
			 0);
	assert_true(meta_applied_index(f->meta) > loaded);
	assert_int_equal(f->fm->inode.length, 7);
	assert_true(f->fm->inode.data_id != data_id);
}

static void test_fresh_listing_takes_the_normal_lookup(void **state)
{
	struct fixture *f = *state;
	char err[1024] = "";
	mount_root(f);
	cJSON *kids = NULL;
	bool is_file = false;
	assert_int_equal(fs_list(f->fs, "/d", NULL, 0, &kids, &is_file, err, sizeof(err)), 0);
	cJSON_Delete(kids);
	/* The listing (60 s ago at most) vouches: the store is asked by name. */
	assert_int_equal(lazyload_lookup(f->fs, f->meta, "/d/none", 0, f->fm, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(lazyload_lookup(f->fs, f->meta, "/d/x", 0, f->fm, err, sizeof(err)), 0);
	assert_int_equal(f->fm->inode.length, 1);
}

static void test_bad_loads_refused(void **state)
{
	struct fixture *f = *state;
	char err[1024] = "";
	struct ufs_stat st = stat_of(1, "fp");
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/a", &st, 0, f->fm, err, sizeof(err)),
			 ST_ENOMOUNT);
	mount_root(f);
	assert_int_equal(lazyload_record(f->fs, f->meta, "/", &st, 0, f->fm, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "mount point"));
	st.is_dir = true;
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/a", &st, 0, f->fm, err, sizeof(err)),
			 -EINVAL);
	st.is_dir = false;
	cJSON *kids = NULL;
	bool is_file = false;
	assert_int_equal(fs_list(f->fs, "/d", NULL, 0, &kids, &is_file, err, sizeof(err)), 0);
	cJSON_Delete(kids);
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d", &st, 0, f->fm, err, sizeof(err)),
			 -EISDIR);
	assert_string_equal(err, "'/d' is a directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_file_is_not_loaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_recorded_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_listing_takes_the_normal_lookup, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_loads_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
