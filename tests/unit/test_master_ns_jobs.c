/* Tests daemon/master/ns_jobs.c: the data job commands' applies and the
 * queries the job runner reads (docs/namespace.md, job_create .. job_end).
 * Every refusal is driven: a missing path, an unknown job, a progress
 * behind the job's cursor (a second leader's copy), commands after the
 * end; and the bounds: 100 errors kept per job, 100 finished jobs kept. */
#include "daemon/master/journal.h"
#include "daemon/master/ns.h"
#include "lib/err.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
	char dir[64], db[128];
	struct ns *ns;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/strata-test-nsjobs.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/ns.db", f->dir);
	char err[256];
	if (ns_open(f->db, &f->ns, err, sizeof(err)))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[200];
	ns_close(f->ns);
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Applies c as the next entry; returns its rc (err in *msg, may be NULL). */
static int apply(struct ns *ns, struct journal_cmd *c, uint64_t *id, char *msg, size_t len)
{
	struct ns_result res;
	char err[512] = "";
	int rc = ns_apply(ns, ns_applied_index(ns) + 1, c, &res, err, sizeof(err));
	if (id)
		*id = res.data_id;
	if (msg)
		snprintf(msg, len, "%s", err);
	journal_free(c);
	return rc;
}

static struct journal_cmd *mount(void)
{
	struct journal_cmd *c = journal_new(JOURNAL_MOUNT);
	strcpy(c->u.mount.path, "/m");
	strcpy(c->u.mount.uri, "file:///tmp");
	c->u.mount.block_size = 1 << 20;
	c->u.mount.time_ms = 1;
	return c;
}

static struct journal_cmd *mkdir_cmd(const char *path)
{
	struct journal_cmd *c = journal_new(JOURNAL_MKDIR);
	strcpy(c->u.mkdir.path, path);
	c->u.mkdir.parents = true;
	c->u.mkdir.time_ms = 1;
	return c;
}

static struct journal_cmd *put(const char *path, uint64_t length)
{
	struct journal_cmd *c = journal_new(JOURNAL_PUT_FILE);
	strcpy(c->u.put_file.path, path);
	c->u.put_file.length = length;
	c->u.put_file.time_ms = 1;
	return c;
}

static struct journal_cmd *create(const char *type, const char *path, bool recursive)
{
	struct journal_cmd *c = journal_new(JOURNAL_JOB_CREATE);
	strcpy(c->u.job_create.type, type);
	strcpy(c->u.job_create.path, path);
	c->u.job_create.recursive = recursive;
	c->u.job_create.time_ms = 1000;
	return c;
}

static struct journal_cmd *progress(uint64_t id, uint64_t cursor, uint64_t files,
				    uint64_t bytes)
{
	struct journal_cmd *c = journal_new(JOURNAL_JOB_PROGRESS);
	c->u.job_progress.id = id;
	c->u.job_progress.cursor = cursor;
	c->u.job_progress.files_done = files;
	c->u.job_progress.bytes_done = bytes;
	c->u.job_progress.time_ms = 2000;
	return c;
}

static struct journal_cmd *end(uint64_t id, const char *state)
{
	struct journal_cmd *c = journal_new(JOURNAL_JOB_END);
	c->u.job_end.id = id;
	strcpy(c->u.job_end.path, "/m");
	strcpy(c->u.job_end.state, state);
	c->u.job_end.time_ms = 3000;
	return c;
}

static void tree(struct ns *ns)
{
	assert_int_equal(apply(ns, mount(), NULL, NULL, 0), 0);
	assert_int_equal(apply(ns, mkdir_cmd("/m/d/sub"), NULL, NULL, 0), 0);
	assert_int_equal(apply(ns, put("/m/d/a", 10), NULL, NULL, 0), 0);
	assert_int_equal(apply(ns, put("/m/d/b", 20), NULL, NULL, 0), 0);
	assert_int_equal(apply(ns, put("/m/d/sub/c", 40), NULL, NULL, 0), 0);
}

static void test_create_counts_and_walks(void **state)
{
	struct fixture *f = *state;
	tree(f->ns);
	uint64_t rec = 0, flat = 0, one = 0;
	assert_int_equal(apply(f->ns, create("load", "/m/d", true), &rec, NULL, 0), 0);
	assert_int_equal(apply(f->ns, create("free", "/m/d", false), &flat, NULL, 0), 0);
	assert_int_equal(apply(f->ns, create("load", "/m/d/sub/c", false), &one, NULL, 0), 0);
	assert_int_equal(rec, 1);
	assert_int_equal(flat, 2);
	assert_int_equal(one, 3);
	struct ns_job j;
	assert_int_equal(ns_job_get(f->ns, rec, &j), 0);
	assert_string_equal(j.state, "queued");
	assert_int_equal(j.files_total, 3);
	assert_int_equal(j.bytes_total, 70);
	assert_true(ns_job_active(&j));
	assert_int_equal(ns_job_get(f->ns, flat, &j), 0);
	assert_int_equal(j.files_total, 2);
	assert_int_equal(j.bytes_total, 30);
	assert_int_equal(ns_job_get(f->ns, one, &j), 0);
	assert_int_equal(j.files_total, 1);

	/* The walk pages in id order from the cursor. */
	assert_int_equal(ns_job_get(f->ns, rec, &j), 0);
	struct ns_job_file files[4];
	size_t n = 0;
	assert_int_equal(ns_job_files(f->ns, &j, 2, files, &n), 0);
	assert_int_equal(n, 2);
	assert_true(files[0].id < files[1].id);
	assert_int_equal(apply(f->ns, progress(rec, files[1].id, 2, 30), NULL, NULL, 0), 0);
	assert_int_equal(ns_job_get(f->ns, rec, &j), 0);
	assert_string_equal(j.state, "running");
	assert_int_equal(j.cursor, files[1].id);
	assert_int_equal(ns_job_files(f->ns, &j, 4, files, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(files[0].length, 40);

	/* The next active job after one, round robin. */
	assert_int_equal(ns_job_next_active(f->ns, rec, &j), 0);
	assert_int_equal(j.id, flat);
	assert_int_equal(ns_job_next_active(f->ns, one, &j), 0);
	assert_int_equal(j.id, rec);
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	tree(f->ns);
	char msg[512];
	assert_int_equal(apply(f->ns, create("load", "/m/nope", true), NULL, msg, sizeof(msg)),
			 -ENOENT);
	assert_non_null(strstr(msg, "field 'path': '/m/nope' does not exist"));
	assert_int_equal(apply(f->ns, progress(9, 1, 1, 1), NULL, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "job 9 does not exist"));
	uint64_t id = 0;
	assert_int_equal(apply(f->ns, create("load", "/m", true), &id, NULL, 0), 0);
	assert_int_equal(apply(f->ns, progress(id, 5, 2, 30), NULL, NULL, 0), 0);
	/* A copy from before (a deposed leader's slice): stale, no change. */
	assert_int_equal(apply(f->ns, progress(id, 4, 3, 40), NULL, msg, sizeof(msg)), ST_ESTALE);
	assert_int_equal(apply(f->ns, progress(id, 5, 1, 40), NULL, NULL, 0), ST_ESTALE);
	/* The same progress twice is harmless (counters are totals). */
	assert_int_equal(apply(f->ns, progress(id, 5, 2, 30), NULL, NULL, 0), 0);
	struct ns_job j;
	assert_int_equal(ns_job_get(f->ns, id, &j), 0);
	assert_int_equal(j.files_done, 2);
	assert_int_equal(apply(f->ns, end(id, "cancelled"), NULL, NULL, 0), 0);
	assert_int_equal(apply(f->ns, end(id, "done"), NULL, msg, sizeof(msg)), ST_ESTALE);
	assert_non_null(strstr(msg, "is cancelled already"));
	assert_int_equal(apply(f->ns, progress(id, 6, 3, 40), NULL, NULL, 0), ST_ESTALE);
	struct journal_cmd *e = journal_new(JOURNAL_JOB_ERROR);
	e->u.job_error.id = id;
	strcpy(e->u.job_error.path, "/m/d/a");
	strcpy(e->u.job_error.reason, "late");
	assert_int_equal(apply(f->ns, e, NULL, NULL, 0), ST_ESTALE);
	assert_int_equal(ns_job_next_active(f->ns, 0, &j), -ENOENT);
	assert_int_equal(ns_job_get(f->ns, 77, &j), -ENOENT);
}

static int count_errors(void *arg, const char *path, const char *reason)
{
	(void)path;
	(void)reason;
	(*(int *)arg)++;
	return 0;
}

static int count_jobs(void *arg, const struct ns_job *j)
{
	(void)j;
	(*(int *)arg)++;
	return 0;
}

static void test_bounds(void **state)
{
	struct fixture *f = *state;
	tree(f->ns);
	uint64_t id = 0;
	assert_int_equal(apply(f->ns, create("load", "/m", true), &id, NULL, 0), 0);
	for (int i = 0; i < NS_JOB_ERRORS_MAX + 5; i++) {
		struct journal_cmd *e = journal_new(JOURNAL_JOB_ERROR);
		e->u.job_error.id = id;
		snprintf(e->u.job_error.path, sizeof(e->u.job_error.path), "/m/f%d", i);
		strcpy(e->u.job_error.reason, "store said 404");
		assert_int_equal(apply(f->ns, e, NULL, NULL, 0), 0);
	}
	struct ns_job j;
	assert_int_equal(ns_job_get(f->ns, id, &j), 0);
	assert_int_equal(j.nerrors, NS_JOB_ERRORS_MAX + 5);
	int kept = 0;
	assert_int_equal(ns_job_errors(f->ns, id, count_errors, &kept), 0);
	assert_int_equal(kept, NS_JOB_ERRORS_MAX);
	/* Finished jobs beyond NS_JOBS_KEPT go, oldest first; active ones stay. */
	uint64_t active = 0;
	assert_int_equal(apply(f->ns, create("free", "/m", true), &active, NULL, 0), 0);
	assert_int_equal(apply(f->ns, end(id, "failed"), NULL, NULL, 0), 0);
	for (int i = 0; i < NS_JOBS_KEPT + 3; i++) {
		uint64_t k = 0;
		assert_int_equal(apply(f->ns, create("load", "/m/d", false), &k, NULL, 0), 0);
		assert_int_equal(apply(f->ns, end(k, "done"), NULL, NULL, 0), 0);
	}
	int listed = 0;
	assert_int_equal(ns_jobs_list(f->ns, 0, count_jobs, &listed), 0);
	assert_int_equal(listed, NS_JOBS_KEPT + 1);
	assert_int_equal(ns_job_get(f->ns, id, &j), -ENOENT);
	kept = 0;
	assert_int_equal(ns_job_errors(f->ns, id, count_errors, &kept), 0);
	assert_int_equal(kept, 0);
	assert_int_equal(ns_job_get(f->ns, active, &j), 0);
	assert_string_equal(j.state, "queued");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_counts_and_walks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
