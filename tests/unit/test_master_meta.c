/* Tests daemon/master/meta.c and meta_driver.c: the metadata service on a
 * one-master Raft group, in process (no sockets unless a test adds a
 * peer). Many threads submit at once: each gets its own entry's result,
 * alloc_data_id ids are unique, batches cover several entries; the state
 * survives restarts from disk (log replay, snapshots, a lost namespace.db,
 * a torn log tail); a raft directory lost under a database is refused;
 * a master that cannot lead answers ST_ENOTLEADER, and a leader that
 * cannot commit times out and then steps down. Malformed commands never
 * reach the log; a committed entry that does not decode stops the apply. */
#include "daemon/master/journal.h"
#include "daemon/master/meta.h"

#include "lib/err.h"
#include "raft/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define NTHREADS 6
#define PER_THREAD 40

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/strata-test-meta.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct meta *open_meta(const char *dir, uint64_t snapshot_every)
{
	struct meta_opts o = { .state_dir = dir, .snapshot_every = snapshot_every,
			       .tick_ms = 20, .election_ticks = 5 };
	struct meta *m = NULL;
	char err[1024] = "";
	int rc = meta_open(&o, &m, err, sizeof(err));
	if (rc)
		print_error("meta_open: %d %s\n", rc, err);
	assert_int_equal(rc, 0);
	return m;
}

/* A mkdir command of path (NULL when out of memory). */
static struct journal_cmd *mkdir_cmd(const char *path)
{
	struct journal_cmd *cmd = journal_new(JOURNAL_MKDIR);
	if (cmd) {
		snprintf(cmd->u.mkdir.path, sizeof(cmd->u.mkdir.path), "%s", path);
		cmd->u.mkdir.time_ms = 1;
	}
	return cmd;
}

static int submit_mkdir(struct meta *m, const char *path, char *err, size_t errlen)
{
	struct journal_cmd *cmd = mkdir_cmd(path);
	assert_non_null(cmd);
	int rc = meta_submit(m, cmd, err, errlen);
	journal_free(cmd);
	return rc;
}

static void mkdir_ok(struct meta *m, const char *path)
{
	char err[512] = "";
	int rc = submit_mkdir(m, path, err, sizeof(err));
	if (rc)
		print_error("mkdir %s: %d %s\n", path, rc, err);
	assert_int_equal(rc, 0);
}

static bool exists(struct meta *m, const char *path)
{
	struct ns_inode n;
	struct ns *ns = meta_read_lock(m);
	int rc = ns_lookup(ns, path, &n);
	meta_read_unlock(m);
	return rc == 0;
}

struct worker {
	struct meta *m;
	int t;
	uint64_t ids[PER_THREAD];
	int fails;
};

/* Each thread: mkdir /tT-i (ok), the same again (-EEXIST, with its own
 * message), alloc_data_id; interleaved with the other threads. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		char path[64], err[512] = "";
		snprintf(path, sizeof(path), "/t%d-%d", w->t, i);
		struct journal_cmd *cmd = mkdir_cmd(path);
		if (!cmd || meta_submit(w->m, cmd, err, sizeof(err)) != 0)
			w->fails++;
		err[0] = '\0';
		if (!cmd || meta_submit(w->m, cmd, err, sizeof(err)) != -EEXIST ||
		    !strstr(err, path))
			w->fails++;
		journal_free(cmd);
		if (meta_alloc_data_id(w->m, &w->ids[i], err, sizeof(err)) != 0)
			w->fails++;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_concurrent_submit_and_restart(void **state)
{
	struct fixture *f = *state;
	struct meta *m = open_meta(f->dir, 0);
	struct meta_status st;
	meta_status(m, &st);
	assert_string_equal(st.role, "leader");
	assert_int_equal(st.id, 1);
	uint64_t start = meta_applied_index(m);

	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	for (int t = 0; t < NTHREADS; t++) {
		w[t] = (struct worker){ .m = m, .t = t };
		assert_int_equal(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
	}
	uint64_t all[NTHREADS * PER_THREAD];
	size_t n = 0;
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(w[t].fails, 0);
		for (int i = 0; i < PER_THREAD; i++)
			all[n++] = w[t].ids[i];
	}
	qsort(all, n, sizeof(all[0]), cmp_u64);
	for (size_t i = 1; i < n; i++)
		assert_true(all[i] != all[i - 1]);
	assert_true(meta_applied_index(m) >= start + 3 * NTHREADS * PER_THREAD);
	meta_status(m, &st);
	/* Group commit: with six writers some fsync covered several entries. */
	assert_true(st.batches > 0);
	assert_true(st.batch_max > 1);
	assert_true(st.proposals >= 3 * NTHREADS * PER_THREAD);
	uint64_t applied = meta_applied_index(m);
	meta_close(m);

	/* Restart from disk: the same state, and ids go on from there. */
	m = open_meta(f->dir, 0);
	assert_true(meta_applied_index(m) >= applied);
	for (int t = 0; t < NTHREADS; t++) {
		char path[64];
		snprintf(path, sizeof(path), "/t%d-%d", t, PER_THREAD - 1);
		assert_true(exists(m, path));
	}
	uint64_t id;
	char err[512];
	assert_int_equal(meta_alloc_data_id(m, &id, err, sizeof(err)), 0);
	assert_true(id > all[n - 1]);
	meta_close(m);
}

/* Commands that would not decode are refused before they are proposed:
 * the error names the field, and the log does not grow. A command that
 * decodes but fails (the path exists) still consumes its entry. */
/* Waits until the log stops growing: a new leader appends entries of its
 * own after its election (its address for the address book), which may
 * land after the first command. */
static void wait_log_quiet(struct meta *m)
{
	struct meta_status st;
	uint64_t seen = 0;
	int stable = 0;
	for (int i = 0; i < 1000 && stable < 30; i++) {
		meta_status(m, &st);
		if (st.last_index == seen && meta_applied_index(m) == st.last_index)
			stable++;
		else
			stable = 0;
		seen = st.last_index;
		usleep(10000);
	}
	assert_true(stable >= 30);
}

static void test_malformed_commands_never_reach_the_log(void **state)
{
	struct fixture *f = *state;
	struct meta *m = open_meta(f->dir, 0);
	mkdir_ok(m, "/ok");
	wait_log_quiet(m);
	struct meta_status st;
	meta_status(m, &st);
	uint64_t last = st.last_index, applied = meta_applied_index(m);
	char err[512] = "";
	assert_int_equal(submit_mkdir(m, "/a/../b", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "refused a malformed 'mkdir' command"));
	assert_non_null(strstr(err, "field 'path'"));
	struct journal_cmd *cmd = journal_new(JOURNAL_OP_COUNT);
	assert_int_equal(meta_submit(m, cmd, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'op'"));
	journal_free(cmd);
	cmd = journal_new(JOURNAL_MASTER_SET);
	snprintf(cmd->u.master_set.raft_address, sizeof(cmd->u.master_set.raft_address), "h:1");
	snprintf(cmd->u.master_set.rest_url, sizeof(cmd->u.master_set.rest_url), "http://h:2");
	assert_int_equal(meta_submit(m, cmd, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'id'"));
	journal_free(cmd);
	meta_status(m, &st);
	assert_int_equal(st.last_index, last);
	assert_int_equal(meta_applied_index(m), applied);
	assert_int_equal(submit_mkdir(m, "/ok", err, sizeof(err)), -EEXIST);
	assert_int_equal(meta_applied_index(m), applied + 1);
	meta_close(m);
}

/* A committed entry this master cannot decode (here a newer format
 * version, written into its log as a newer leader would have): it stops
 * applying before it, fails instead of skipping it, and stays failed
 * across a restart; its applied index does not move. */
static void test_undecodable_entry_stops_apply(void **state)
{
	struct fixture *f = *state;
	struct meta *m = open_meta(f->dir, 0);
	mkdir_ok(m, "/before");
	meta_close(m);

	char rdir[100], err[512] = "";
	snprintf(rdir, sizeof(rdir), "%s/raft", f->dir);
	struct raft_storage *rs = NULL;
	struct raft_storage_boot sb;
	assert_int_equal(raft_storage_open(rdir, NULL, &rs, &sb, err, sizeof(err)), 0);
	uint64_t last = sb.nentries ? sb.entries[sb.nentries - 1].index : sb.snapshot.index;
	uint64_t term = sb.hs.term;
	raft_storage_boot_free(&sb);
	char newer[160];
	snprintf(newer, sizeof(newer),
		 "{\"v\":%d,\"op\":\"mkdir\",\"path\":\"/after\",\"parents\":false,"
		 "\"time_ms\":\"1\"}",
		 JOURNAL_VERSION + 1);
	struct raft_entry e = { .term = term, .index = last + 1, .type = RAFT_ENTRY_NORMAL,
				.len = strlen(newer), .data = (uint8_t *)newer };
	assert_int_equal(raft_storage_append(rs, &e, 1), 0);
	raft_storage_close(rs);

	for (int round = 0; round < 2; round++) {
		m = open_meta(f->dir, 0);
		struct meta_status st;
		meta_status(m, &st);
		assert_true(st.failed);
		assert_int_equal(meta_applied_index(m), last);
		assert_true(exists(m, "/before"));
		assert_false(exists(m, "/after"));
		assert_int_equal(submit_mkdir(m, "/later", err, sizeof(err)), -EIO);
		assert_int_equal(meta_applied_index(m), last);
		meta_close(m);
	}
}

static bool file_exists(const char *dir, const char *name)
{
	char p[256];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

/* The newest log segment in dir/raft, for damaging it. */
static void last_segment(const char *dir, char *out, size_t len)
{
	char rdir[100];
	snprintf(rdir, sizeof(rdir), "%s/raft", dir);
	DIR *d = opendir(rdir);
	assert_non_null(d);
	char best[256] = "";
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "log-", 4) == 0 && strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	assert_true(*best);
	snprintf(out, len, "%s/%s", rdir, best);
}

static void test_snapshots_lost_db_and_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct meta *m = open_meta(f->dir, 10);
	for (int i = 0; i < 35; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/s%d", i);
		mkdir_ok(m, p);
	}
	struct meta_status st;
	meta_status(m, &st);
	assert_true(st.snapshots >= 3);
	assert_true(st.snapshot_index >= 30);
	assert_true(file_exists(f->dir, "raft/snapshot"));
	meta_close(m);

	/* namespace.db lost: the snapshot comes back, the log is replayed. */
	char p[256];
	const char *side[] = { "namespace.db", "namespace.db-wal", "namespace.db-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, side[i]);
		unlink(p);
	}
	m = open_meta(f->dir, 10);
	for (int i = 0; i < 35; i++) {
		char q[32];
		snprintf(q, sizeof(q), "/s%d", i);
		assert_true(exists(m, q));
	}
	mkdir_ok(m, "/after");
	meta_close(m);

	/* A torn tail (half a record) is cut on open; nothing acknowledged
	 * is lost. */
	char seg[600];
	last_segment(f->dir, seg, sizeof(seg));
	int fd = open(seg, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\x11\x22\x33\x44\x55\x66\x77", 7), 7);
	close(fd);
	m = open_meta(f->dir, 10);
	assert_true(exists(m, "/after"));
	mkdir_ok(m, "/after-torn");
	meta_close(m);
}

static void test_lost_raft_dir_refused(void **state)
{
	struct fixture *f = *state;
	struct meta *m = open_meta(f->dir, 0);
	mkdir_ok(m, "/x");
	meta_close(m);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/raft", f->dir);
	assert_int_equal(system(cmd), 0);
	struct meta_opts o = { .state_dir = f->dir };
	char err[1024] = "";
	assert_int_equal(meta_open(&o, &m, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "namespace.db holds entries up to"));
}

static void test_not_leader(void **state)
{
	struct fixture *f = *state;
	/* Waiting to be added: no configuration, so no leader, ever. */
	struct meta_opts o = { .state_dir = f->dir, .join = true, .raft_port = 0,
			       .tick_ms = 20, .election_ticks = 5 };
	struct meta *m = NULL;
	char err[1024] = "";
	assert_int_equal(meta_open(&o, &m, err, sizeof(err)), 0);
	assert_int_equal(submit_mkdir(m, "/x", err, sizeof(err)), ST_ENOTLEADER);
	assert_non_null(strstr(err, "master 1 is a follower and knows no leader"));
	uint64_t id;
	assert_int_equal(meta_alloc_data_id(m, &id, err, sizeof(err)), ST_ENOTLEADER);
	struct peer p = { .id = 2, .raft_address = "127.0.0.1:1", .rest_url = "http://127.0.0.1:1" };
	assert_int_equal(meta_add_master(m, &p, err, sizeof(err)), ST_ENOTLEADER);
	assert_int_equal(meta_remove_master(m, 1, err, sizeof(err)), -ENOENT);
	meta_close(m);
}

/* Adding a master that never answers: the ADD cannot commit (two voters
 * need both), the wait times out, another change meanwhile is refused as
 * busy, and check-quorum makes the leader step down; later writes get
 * ST_ENOTLEADER. */
static void test_add_unreachable_times_out(void **state)
{
	struct fixture *f = *state;
	struct meta_opts o = { .state_dir = f->dir, .raft_port = 0, .tick_ms = 20,
			       .election_ticks = 50, .submit_timeout_ms = 300 };
	struct meta *m = NULL;
	char err[1024] = "";
	assert_int_equal(meta_open(&o, &m, err, sizeof(err)), 0);
	meta_set_rest_url(m, "http://127.0.0.1:9");
	mkdir_ok(m, "/before");
	struct peer p = { .id = 2, .raft_address = "127.0.0.1:9", .rest_url = "http://127.0.0.1:9" };
	assert_int_equal(meta_add_master(m, &p, err, sizeof(err)), -ETIMEDOUT);
	assert_non_null(strstr(err, "may still be applied"));
	struct meta_status st;
	meta_status(m, &st);
	assert_int_equal(st.nmembers >= 2, 1);
	bool two_voters = st.members[0].voter && st.members[1].voter;
	assert_true(two_voters);
	assert_int_equal(meta_add_master(m, &p, err, sizeof(err)), -EEXIST);
	/* One uncommitted change at a time. */
	struct peer p3 = { .id = 3, .raft_address = "127.0.0.1:9", .rest_url = "http://127.0.0.1:9" };
	int rc = meta_add_master(m, &p3, err, sizeof(err));
	assert_true(rc == ST_ECONFBUSY || rc == -ETIMEDOUT);
	assert_int_equal(meta_remove_master(m, 2, err, sizeof(err)), ST_ECONFBUSY);
	assert_non_null(strstr(err, "membership change"));
	/* Poll (no timed assertion) until the leader has stepped down. */
	for (int i = 0; i < 400; i++) {
		meta_status(m, &st);
		if (strcmp(st.role, "leader") != 0)
			break;
		usleep(20000);
	}
	assert_string_not_equal(st.role, "leader");
	assert_int_equal(submit_mkdir(m, "/x", err, sizeof(err)), ST_ENOTLEADER);
	meta_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent_submit_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_commands_never_reach_the_log, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_undecodable_entry_stops_apply, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_snapshots_lost_db_and_torn_tail, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lost_raft_dir_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_leader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_unreachable_times_out, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
