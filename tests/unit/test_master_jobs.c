/* Tests daemon/master/jobs.c on virtual time (an injected clock and
 * leadership): periodic ticks, leadership gained and lost (resume/stop),
 * one-shot jobs, failures, cancel; the lost-worker check as a job; and the
 * runner's own thread, briefly, on the real clock. */
#include "daemon/master/cluster.h"
#include "daemon/master/jobs.h"

#include "lib/clock.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

struct world {
	int64_t now;
	bool leading;
};

static int64_t world_now(void *arg)
{
	return __atomic_load_n(&((struct world *)arg)->now, __ATOMIC_SEQ_CST);
}

static bool world_leading(void *arg)
{
	return ((struct world *)arg)->leading;
}

/* A job that counts what the runner did to it. */
struct probe {
	atomic_int resumes, steps, stops;
	int64_t last_step_at;
	int resume_rc;  /* what resume returns */
	int step_rc;    /* what step returns */
	int done_after; /* one-shot: JOBS_DONE from this step on (0: never) */
};

static int probe_resume(void *arg, char *err, size_t errlen)
{
	struct probe *p = arg;
	atomic_fetch_add(&p->resumes, 1);
	if (p->resume_rc)
		snprintf(err, errlen, "namespace unavailable");
	return p->resume_rc;
}

static int probe_step(void *arg, int64_t now_ms, char *err, size_t errlen)
{
	struct probe *p = arg;
	int n = atomic_fetch_add(&p->steps, 1) + 1;
	p->last_step_at = now_ms;
	if (p->step_rc) {
		snprintf(err, errlen, "step failed on purpose");
		return p->step_rc;
	}
	return p->done_after && n >= p->done_after ? JOBS_DONE : JOBS_AGAIN;
}

static void probe_stop(void *arg)
{
	atomic_fetch_add(&((struct probe *)arg)->stops, 1);
}

static struct jobs_spec probe_spec(struct probe *p, enum jobs_kind kind, int64_t period)
{
	struct jobs_spec s = { .name = "probe", .kind = kind, .period_ms = period,
			       .resume = probe_resume, .step = probe_step, .stop = probe_stop,
			       .arg = p };
	return s;
}

static struct jobs *new_runner(struct world *w)
{
	struct jobs_opts o = { .now_ms = world_now, .leading = world_leading, .arg = w };
	struct jobs *j = jobs_new(&o);
	assert_non_null(j);
	return j;
}

static void test_periodic_follows_leadership(void **state)
{
	struct world w = { .now = 1000 };
	struct jobs *j = new_runner(&w);
	struct probe p = { 0 };
	struct jobs_spec s = probe_spec(&p, JOBS_PERIODIC, 100);
	uint64_t id = 0;
	assert_int_equal(jobs_add(j, &s, &id), 0);
	/* A follower runs nothing, however long it waits. */
	assert_int_equal(jobs_tick(j), 0);
	w.now += 10000;
	assert_int_equal(jobs_tick(j), 0);
	assert_int_equal(p.resumes, 0);
	/* Leading: resumed, then a first step at once. */
	w.leading = true;
	assert_int_equal(jobs_tick(j), 1);
	assert_int_equal(p.resumes, 1);
	assert_int_equal(p.last_step_at, 11000);
	w.now += 99;
	assert_int_equal(jobs_tick(j), 0); /* not yet due */
	w.now += 1;
	assert_int_equal(jobs_tick(j), 1); /* one period later */
	assert_int_equal(p.steps, 2);
	w.now += 1000;
	assert_int_equal(jobs_tick(j), 1); /* late ticks do not run it twice */
	/* Step-down: stopped, no steps. */
	w.leading = false;
	assert_int_equal(jobs_tick(j), 0);
	assert_int_equal(p.stops, 1);
	w.now += 5000;
	assert_int_equal(jobs_tick(j), 0);
	assert_int_equal(p.steps, 3);
	assert_int_equal(p.stops, 1);
	/* Leading again: resumed again (state comes from the namespace). */
	w.leading = true;
	assert_int_equal(jobs_tick(j), 1);
	assert_int_equal(p.resumes, 2);
	struct jobs_info info;
	assert_int_equal(jobs_info(j, id, &info), 0);
	assert_int_equal(info.state, JOBS_WAITING);
	assert_int_equal(info.steps, 4);
	jobs_free(j);
	assert_int_equal(p.stops, 2); /* freed while resumed: stopped */
}

static void test_oneshot_runs_until_done(void **state)
{
	struct world w = { .now = 0, .leading = true };
	struct jobs *j = new_runner(&w);
	struct probe p = { .done_after = 2 };
	struct jobs_spec s = probe_spec(&p, JOBS_ONESHOT, 50);
	uint64_t id = 0;
	assert_int_equal(jobs_add(j, &s, &id), 0);
	assert_int_equal(jobs_tick(j), 0); /* resumed; due 50 ms later */
	assert_int_equal(p.resumes, 1);
	w.now = 49;
	assert_int_equal(jobs_tick(j), 0);
	w.now = 50;
	assert_int_equal(jobs_tick(j), 1); /* JOBS_AGAIN */
	w.now = 100;
	assert_int_equal(jobs_tick(j), 1); /* JOBS_DONE */
	assert_int_equal(p.stops, 1);
	w.now = 1000;
	assert_int_equal(jobs_tick(j), 0);
	struct jobs_info info;
	assert_int_equal(jobs_info(j, id, &info), 0);
	assert_int_equal(info.state, JOBS_FINISHED);
	assert_int_equal(info.steps, 2);
	assert_int_equal(jobs_cancel(j, id), -ENOENT); /* finished: nothing to cancel */
	assert_int_equal(jobs_info(j, 999, &info), -ENOENT);
	jobs_free(j);
	assert_int_equal(p.stops, 1);
}

static void test_cancel(void **state)
{
	struct world w = { .now = 0, .leading = true };
	struct jobs *j = new_runner(&w);
	struct probe a = { 0 }, b = { 0 };
	struct jobs_spec sa = probe_spec(&a, JOBS_PERIODIC, 10);
	struct jobs_spec sb = probe_spec(&b, JOBS_PERIODIC, 10);
	uint64_t ida = 0, idb = 0;
	assert_int_equal(jobs_add(j, &sa, &ida), 0);
	assert_int_equal(jobs_add(j, &sb, &idb), 0);
	assert_int_not_equal(ida, idb);
	assert_int_equal(jobs_tick(j), 2);
	assert_int_equal(jobs_cancel(j, ida), 0);
	assert_int_equal(a.stops, 1);
	w.now = 100;
	assert_int_equal(jobs_tick(j), 1); /* only b */
	assert_int_equal(a.steps, 1);
	assert_int_equal(b.steps, 2);
	assert_int_equal(jobs_cancel(j, ida), -ENOENT);
	struct jobs_info info;
	assert_int_equal(jobs_info(j, ida, &info), 0);
	assert_int_equal(info.state, JOBS_CANCELLED);
	/* Cancelling a job that never ran (not leading) stops nothing. */
	struct probe c = { 0 };
	struct jobs_spec sc = probe_spec(&c, JOBS_PERIODIC, 10);
	uint64_t idc = 0;
	w.leading = false;
	assert_int_equal(jobs_tick(j), 0);
	assert_int_equal(jobs_add(j, &sc, &idc), 0);
	assert_int_equal(jobs_cancel(j, idc), 0);
	assert_int_equal(c.stops, 0);
	w.leading = true;
	assert_int_equal(jobs_tick(j), 1); /* b only */
	assert_int_equal(c.resumes, 0);
	jobs_free(j);
}

static void test_failures_are_retried(void **state)
{
	struct world w = { .now = 0, .leading = true };
	struct jobs *j = new_runner(&w);
	struct probe p = { .resume_rc = -EIO };
	struct jobs_spec s = probe_spec(&p, JOBS_PERIODIC, 20);
	uint64_t id = 0;
	assert_int_equal(jobs_add(j, &s, &id), 0);
	assert_int_equal(jobs_tick(j), 0);
	assert_int_equal(p.resumes, 1);
	w.now = 10;
	assert_int_equal(jobs_tick(j), 0); /* retried a period later, not before */
	assert_int_equal(p.resumes, 1);
	p.resume_rc = 0;
	p.step_rc = -EAGAIN;
	w.now = 20;
	assert_int_equal(jobs_tick(j), 1); /* resumed and stepped (and failed) */
	assert_int_equal(p.resumes, 2);
	w.now = 40;
	assert_int_equal(jobs_tick(j), 1); /* a failed step is still due again */
	struct jobs_info info;
	assert_int_equal(jobs_info(j, id, &info), 0);
	assert_int_equal(info.state, JOBS_WAITING);
	assert_int_equal(info.steps, 2);
	assert_int_equal(info.failures, 3);
	jobs_free(j);
}

static void test_bad_specs(void **state)
{
	struct world w = { 0 };
	struct jobs *j = new_runner(&w);
	struct probe p = { 0 };
	struct jobs_spec s = probe_spec(&p, JOBS_PERIODIC, 0);
	assert_int_equal(jobs_add(j, &s, NULL), -EINVAL); /* would spin */
	s = probe_spec(&p, JOBS_ONESHOT, -1);
	assert_int_equal(jobs_add(j, &s, NULL), -EINVAL);
	s = probe_spec(&p, JOBS_ONESHOT, 0);
	s.step = NULL;
	assert_int_equal(jobs_add(j, &s, NULL), -EINVAL);
	jobs_free(j);
}

/* The lost-worker check on the runner: only the leader marks workers lost. */
static void test_lost_worker_job(void **state)
{
	struct world w = { .now = 0 };
	struct jobs *j = new_runner(&w);
	struct registry *reg = registry_new(1000);
	struct blockmap *bm = blockmap_new();
	struct cluster_lost_job lost = { .reg = reg, .bm = bm };
	struct jobs_spec s;
	cluster_lost_job_spec(&lost, 1000, &s);
	assert_int_equal(s.period_ms, 250);
	assert_int_equal(jobs_add(j, &s, NULL), 0);
	const struct cluster_block blocks[] = { { 7, 0 } };
	struct cluster_registration r = {
		.worker = { .host = "h", .data_port = 1, .s3_port = 2, .version = "" },
		.blocks = blocks, .nblocks = 1,
	};
	uint64_t id = 0;
	char err[256];
	assert_int_equal(cluster_register(reg, bm, &r, 0, &id, err, sizeof(err)), 0);
	struct registry_totals t;
	w.now = 5000;
	jobs_tick(j); /* a follower does not check */
	registry_totals(reg, &t);
	assert_int_equal(t.lost, 0);
	w.leading = true;
	assert_int_equal(jobs_tick(j), 1);
	registry_totals(reg, &t);
	assert_int_equal(t.lost, 1);
	assert_int_equal(blockmap_count(bm), 0);
	jobs_free(j);
	registry_free(reg);
	blockmap_free(bm);
}

/* The thread: steps on the real clock, then jobs_free stops it. */
static void test_runner_thread(void **state)
{
	struct jobs_opts o = { .now_ms = world_now, .leading = world_leading, .poll_ms = 2 };
	struct world w = { .leading = true };
	o.arg = &w;
	/* A clock the test moves: the thread sees each move within poll_ms. */
	struct jobs *j = jobs_new(&o);
	assert_non_null(j);
	struct probe p = { 0 };
	struct jobs_spec s = probe_spec(&p, JOBS_PERIODIC, 5);
	assert_int_equal(jobs_add(j, &s, NULL), 0);
	assert_int_equal(jobs_start(j), 0);
	assert_int_equal(jobs_start(j), -EALREADY);
	int64_t deadline = clock_mono_ms() + 5000;
	while (atomic_load(&p.steps) < 3 && clock_mono_ms() < deadline) {
		struct timespec ts = { 0, 1000000 };
		__atomic_add_fetch(&w.now, 5, __ATOMIC_SEQ_CST);
		nanosleep(&ts, NULL);
	}
	assert_true(atomic_load(&p.steps) >= 3);
	jobs_free(j);
	assert_int_equal(atomic_load(&p.stops), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_periodic_follows_leadership),
		cmocka_unit_test(test_oneshot_runs_until_done),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_failures_are_retried),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_lost_worker_job),
		cmocka_unit_test(test_runner_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
