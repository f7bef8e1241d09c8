#include "daemon/master/jobs.h"

#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct job {
	uint64_t id;
	struct jobs_spec spec; /* spec.name is our copy */
	enum jobs_state state;
	bool resumed;     /* resume() succeeded under the current leadership */
	int64_t due_ms;   /* resumed: next step; else: next resume attempt */
	uint64_t steps, failures;
	struct job *next;
};

struct jobs {
	struct jobs_opts opts;
	pthread_mutex_t lock; /* everything below; held while hooks run */
	struct job *head, *tail;
	uint64_t next_id;
	bool leading;
	/* the thread of jobs_start */
	pthread_t thread;
	bool started, stopping;
	pthread_cond_t wake;
};

struct jobs *jobs_new(const struct jobs_opts *opts)
{
	struct jobs *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->opts = *opts;
	if (j->opts.poll_ms <= 0)
		j->opts.poll_ms = 100;
	j->next_id = 1;
	pthread_mutex_init(&j->lock, NULL);
	clock_mono_cond_init(&j->wake);
	return j;
}

/* Called with the lock held. */
static void stop_job(struct job *job)
{
	if (job->resumed && job->spec.stop)
		job->spec.stop(job->spec.arg);
	job->resumed = false;
}

void jobs_free(struct jobs *j)
{
	if (!j)
		return;
	if (j->started) {
		pthread_mutex_lock(&j->lock);
		j->stopping = true;
		pthread_cond_signal(&j->wake);
		pthread_mutex_unlock(&j->lock);
		pthread_join(j->thread, NULL);
	}
	struct job *job = j->head;
	while (job) {
		struct job *next = job->next;
		if (job->state == JOBS_WAITING)
			stop_job(job);
		free((char *)job->spec.name);
		free(job);
		job = next;
	}
	pthread_cond_destroy(&j->wake);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

int jobs_add(struct jobs *j, const struct jobs_spec *spec, uint64_t *id)
{
	if (!spec->step || spec->period_ms < (spec->kind == JOBS_PERIODIC ? 1 : 0))
		return -EINVAL;
	struct job *job = calloc(1, sizeof(*job));
	char *name = strdup(spec->name ? spec->name : "job");
	if (!job || !name) {
		free(job);
		free(name);
		return -ENOMEM;
	}
	job->spec = *spec;
	job->spec.name = name;
	job->state = JOBS_WAITING;
	job->due_ms = INT64_MIN; /* resume at the first tick that leads */
	pthread_mutex_lock(&j->lock);
	job->id = j->next_id++;
	if (j->tail)
		j->tail->next = job;
	else
		j->head = job;
	j->tail = job;
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
	if (id)
		*id = job->id;
	return 0;
}

static struct job *find(struct jobs *j, uint64_t id)
{
	for (struct job *job = j->head; job; job = job->next)
		if (job->id == id)
			return job;
	return NULL;
}

int jobs_cancel(struct jobs *j, uint64_t id)
{
	pthread_mutex_lock(&j->lock);
	struct job *job = find(j, id);
	int rc = -ENOENT;
	if (job && job->state == JOBS_WAITING) {
		stop_job(job);
		job->state = JOBS_CANCELLED;
		rc = 0;
	}
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int jobs_info(struct jobs *j, uint64_t id, struct jobs_info *out)
{
	pthread_mutex_lock(&j->lock);
	struct job *job = find(j, id);
	if (job) {
		out->state = job->state;
		out->steps = job->steps;
		out->failures = job->failures;
	}
	pthread_mutex_unlock(&j->lock);
	return job ? 0 : -ENOENT;
}

/* Resumes (when not yet) and steps one job if due. Lock held. Returns 1
 * when a step ran. */
static int run_job(struct job *job, int64_t now)
{
	char err[512] = "";
	if (now < job->due_ms)
		return 0;
	if (!job->resumed) {
		int rc = job->spec.resume ? job->spec.resume(job->spec.arg, err, sizeof(err)) : 0;
		if (rc) {
			job->failures++;
			log_warn("job %s: cannot resume: %s", job->spec.name, *err ? err : "failed");
			job->due_ms = now + (job->spec.period_ms > 0 ? job->spec.period_ms : 1);
			return 0;
		}
		job->resumed = true;
		job->due_ms = job->spec.kind == JOBS_PERIODIC ? now : now + job->spec.period_ms;
		if (now < job->due_ms)
			return 0;
	}
	int rc = job->spec.step(job->spec.arg, now, err, sizeof(err));
	job->steps++;
	if (rc < 0) {
		job->failures++;
		log_warn("job %s: %s", job->spec.name, *err ? err : "step failed");
	}
	if (rc == JOBS_DONE && job->spec.kind == JOBS_ONESHOT) {
		stop_job(job);
		job->state = JOBS_FINISHED;
		return 1;
	}
	job->due_ms = now + job->spec.period_ms;
	return 1;
}

int jobs_tick(struct jobs *j)
{
	int64_t now = j->opts.now_ms(j->opts.arg);
	bool leading = j->opts.leading(j->opts.arg);
	int steps = 0;
	pthread_mutex_lock(&j->lock);
	if (leading != j->leading) {
		log_info("job runner: %s", leading ? "leading, jobs start" : "not leading, jobs stop");
		for (struct job *job = j->head; job; job = job->next) {
			if (job->state != JOBS_WAITING)
				continue;
			stop_job(job);
			job->due_ms = INT64_MIN;
		}
		j->leading = leading;
	}
	for (struct job *job = j->head; leading && job; job = job->next)
		if (job->state == JOBS_WAITING)
			steps += run_job(job, now);
	pthread_mutex_unlock(&j->lock);
	return steps;
}

/* How long the thread may sleep: until the next due job, at most poll_ms. */
static int64_t sleep_ms(struct jobs *j, int64_t now)
{
	int64_t wait = j->opts.poll_ms;
	for (struct job *job = j->head; j->leading && job; job = job->next) {
		if (job->state != JOBS_WAITING)
			continue;
		int64_t left = job->due_ms == INT64_MIN ? 0 : job->due_ms - now;
		if (left < wait)
			wait = left;
	}
	return wait > 0 ? wait : 0;
}

static void *runner_main(void *arg)
{
	struct jobs *j = arg;
	pthread_mutex_lock(&j->lock);
	while (!j->stopping) {
		pthread_mutex_unlock(&j->lock);
		jobs_tick(j);
		pthread_mutex_lock(&j->lock);
		if (j->stopping)
			break;
		int64_t wait = sleep_ms(j, j->opts.now_ms(j->opts.arg));
		if (wait > 0) {
			struct timespec ts;
			clock_mono_deadline(&ts, wait);
			pthread_cond_timedwait(&j->wake, &j->lock, &ts);
		}
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

int jobs_start(struct jobs *j)
{
	if (j->started)
		return -EALREADY;
	int rc = pthread_create(&j->thread, NULL, runner_main, j);
	if (rc)
		return -rc;
	j->started = true;
	return 0;
}
