/* Tests daemon/master/lazyload.c on a real single-master namespace over a
 * local store: an unknown file is not_loaded without a log entry, a load is
 * recorded once (the same load again writes nothing, another fingerprint
 * wins as a sync would), a freshly listed parent sends the lookup the
 * normal way, and bad loads are refused. */
#include "daemon/master/lazyload.h"

#include "daemon/master/fs.h"
#include "daemon/master/journal.h"
#include "daemon/master/meta.h"
#include "daemon/master/registry.h"
#include "lib/err.h"
#include "lib/placement.h"
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
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/new.bin", &st, NULL, 0, f->fm, err,
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
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/new.bin", &st, NULL, 0, f->fm, err,
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
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/new.bin", &st, NULL, 0, f->fm, err,
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
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/a", &st, NULL, 0, f->fm, err,
					 sizeof(err)),
			 ST_ENOMOUNT);
	mount_root(f);
	assert_int_equal(lazyload_record(f->fs, f->meta, "/", &st, NULL, 0, f->fm, err,
					 sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "mount point"));
	st.is_dir = true;
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/a", &st, NULL, 0, f->fm, err,
					 sizeof(err)),
			 -EINVAL);
	st.is_dir = false;
	cJSON *kids = NULL;
	bool is_file = false;
	assert_int_equal(fs_list(f->fs, "/d", NULL, 0, &kids, &is_file, err, sizeof(err)), 0);
	cJSON_Delete(kids);
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d", &st, NULL, 0, f->fm, err,
					 sizeof(err)),
			 -EISDIR);
	assert_string_equal(err, "'/d' is a directory");
}

/* The owner of block index of data_id among the live workers of reg. */
static uint64_t owner_of(struct registry *reg, uint64_t data_id, uint64_t index)
{
	struct registry_live_worker live[8];
	uint64_t ids[8];
	size_t n = registry_live(reg, live, 8), owner = 0;
	for (size_t i = 0; i < n; i++)
		ids[i] = live[i].id;
	assert_int_equal(placement_owners(placement_block_id(data_id, index), ids, n, 1, &owner),
			 1);
	return ids[owner];
}

/* A load that says who read which block gets a data id for which that
 * worker owns the block, new file or new content, for every worker and
 * whatever block; ids stay distinct. Without a worker, or from one the
 * registry does not know, the counter names the content as before. */
static void test_load_placed_on_the_loader(void **state)
{
	struct fixture *f = *state;
	char err[1024] = "", path[64];
	mount_root(f);
	struct registry *reg = registry_new(60000);
	uint64_t wid[3];
	for (int i = 0; i < 3; i++) {
		struct worker_report rep = { .host = "127.0.0.1", .data_port = 7000 + i };
		assert_int_equal(registry_register(reg, &rep, 0, &wid[i]), 0);
	}
	uint64_t seen[64];
	size_t nseen = 0;
	for (int k = 0; k < 24; k++) {
		struct lazyload_place place = { .reg = reg, .worker_id = wid[k % 3],
						.index = (uint64_t)(k % 4) };
		struct ufs_stat st = stat_of(5, "fp-1");
		snprintf(path, sizeof(path), "/d/p%d", k);
		assert_int_equal(lazyload_record(f->fs, f->meta, path, &st, &place, 0, f->fm, err,
						 sizeof(err)),
				 0);
		assert_int_equal(owner_of(reg, f->fm->inode.data_id, place.index), place.worker_id);
		seen[nseen++] = f->fm->inode.data_id;
		if (k % 8 == 0) { /* new content of a known file: placed too */
			st = stat_of(6, "fp-2");
			int rc = lazyload_record(f->fs, f->meta, path, &st, &place, 0, f->fm, err,
						 sizeof(err));
			assert_int_equal(rc, 0);
			assert_int_equal(owner_of(reg, f->fm->inode.data_id, place.index),
					 place.worker_id);
			seen[nseen++] = f->fm->inode.data_id;
		}
	}
	/* Under directories the namespace does not hold yet: the load makes
	 * them first (each takes an id), and the proposal skips those ids. */
	for (int k = 0; k < 12; k++) {
		struct lazyload_place place = { .reg = reg, .worker_id = wid[k % 3] };
		struct ufs_stat st = stat_of(5, "fp-1");
		snprintf(path, sizeof(path), "/d/new%d/sub/f", k);
		assert_int_equal(lazyload_record(f->fs, f->meta, path, &st, &place, 0, f->fm, err,
						 sizeof(err)),
				 0);
		assert_int_equal(owner_of(reg, f->fm->inode.data_id, 0), place.worker_id);
		seen[nseen++] = f->fm->inode.data_id;
	}
	for (size_t i = 0; i < nseen; i++)
		for (size_t j = i + 1; j < nseen; j++)
			assert_true(seen[i] != seen[j]);
	/* An unknown worker: loaded, under the counter's id (the next one). */
	struct lazyload_place stranger = { .reg = reg, .worker_id = 999, .index = 0 };
	struct ufs_stat st = stat_of(5, "fp-1");
	struct ns *ns = meta_read_lock(f->meta);
	uint64_t next = ns_next_id(ns);
	meta_read_unlock(f->meta);
	assert_int_equal(lazyload_record(f->fs, f->meta, "/d/q", &st, &stranger, 0, f->fm, err,
					 sizeof(err)),
			 0);
	assert_int_equal(f->fm->inode.data_id, next);
	registry_free(reg);
}

/* Submits a sync_entry for path proposing data_id. */
static void load_proposing(struct fixture *f, const char *path, uint64_t length,
			   uint64_t data_id)
{
	char err[1024] = "";
	struct journal_cmd *cmd = journal_new(JOURNAL_SYNC_ENTRY);
	assert_non_null(cmd);
	struct journal_sync_entry *se = &cmd->u.sync_entry;
	snprintf(se->path, sizeof(se->path), "%s", path);
	se->exists = true;
	se->length = length;
	snprintf(se->fingerprint, sizeof(se->fingerprint), "fp-%llu",
		 (unsigned long long)length);
	se->data_id = data_id;
	int rc = meta_submit(f->meta, cmd, err, sizeof(err));
	if (rc)
		print_error("meta_submit: %s\n", err);
	assert_int_equal(rc, 0);
	journal_free(cmd);
}

static uint64_t data_id_of(struct fixture *f, const char *path)
{
	struct ns_inode n;
	struct ns *ns = meta_read_lock(f->meta);
	assert_int_equal(ns_lookup(ns, path, &n), 0);
	meta_read_unlock(f->meta);
	return n.data_id;
}

static uint64_t next_id(struct fixture *f)
{
	struct ns *ns = meta_read_lock(f->meta);
	uint64_t next = ns_next_id(ns);
	meta_read_unlock(f->meta);
	return next;
}

/* The apply takes a proposed id only at or past the counter, and moves
 * the counter past it; one already passed (another entry took ids first)
 * is ignored: the counter names the content, as without a proposal. */
static void test_proposed_id_taken_only_past_the_counter(void **state)
{
	struct fixture *f = *state;
	mount_root(f);
	load_proposing(f, "/d/a", 1, 0); /* makes /d: the counter is past it now */
	uint64_t next = next_id(f);
	load_proposing(f, "/d/b", 1, next + 10);
	assert_int_equal(data_id_of(f, "/d/b"), next + 10);
	assert_int_equal(next_id(f), next + 11);
	load_proposing(f, "/d/c", 1, next + 5); /* passed: the counter's */
	assert_int_equal(data_id_of(f, "/d/c"), next + 11);
	assert_int_equal(next_id(f), next + 12);
	load_proposing(f, "/d/c", 2, next + 12); /* new content, exactly the counter */
	assert_int_equal(data_id_of(f, "/d/c"), next + 12);
	assert_int_equal(next_id(f), next + 13);
	load_proposing(f, "/d/c", 3, 3); /* new content, passed */
	assert_int_equal(data_id_of(f, "/d/c"), next + 13);
	load_proposing(f, "/d/c", 3, next + 40); /* same content: nothing new */
	assert_int_equal(data_id_of(f, "/d/c"), next + 13);
	assert_int_equal(next_id(f), next + 14);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_file_is_not_loaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_recorded_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_listing_takes_the_normal_lookup, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_loads_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_placed_on_the_loader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proposed_id_taken_only_past_the_counter,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
