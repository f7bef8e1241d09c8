/* Data jobs: load and free (datajobs.h). */
#include "daemon/master/datajobs.h"

#include "daemon/master/journal.h"
#include "daemon/master/meta.h"
#include "daemon/master/ns.h"
#include "daemon/master/registry.h"
#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/placement.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORKERS 256
#define MAX_THREADS 32
#define REASON_MAX (JOURNAL_JOB_REASON_MAX + 1)
#define SLICE_BYTES (256ULL << 20)

/* One file of a slice. */
struct slot {
	struct ns_job_file f;
	char path[PATH_MAX_LEN + 1];
	int64_t block_size;
	bool failed;      /* guarded by the datajobs lock while tasks run */
	bool skip;        /* failed before the tasks began (read-only then) */
	bool gone;        /* persist: rewritten or removed since (nothing to do) */
	char reason[REASON_MAX];
	/* persist: what the store holds now (the worker's answer). */
	uint64_t st_length;
	int64_t st_mtime_ms;
	char st_fingerprint[NS_FP_MAX];
};

/* What a slice's tasks do. */
enum mode { MODE_FREE, MODE_LOAD, MODE_PERSIST };

/* Tells every live worker to unpin the blocks of the slice's files that
 * were just persisted (their store holds them now), unless a pin policy
 * keeps them. A worker that does not answer keeps them pinned until they
 * are read again: logged, not an error. */
static void unpin_persisted(struct datajobs *d);

/* A persist job's retries of its current slice (in memory: a new leader
 * retries at once). Files of the slice persisted by an earlier try are
 * counted here, since the next try's slice no longer holds them. */
struct backoff {
	uint64_t job;
	int attempts;
	int64_t next_ms; /* monotonic */
	uint64_t files_ok, bytes_ok;
};

/* One request to a worker: a range of a file to load, or (free) every
 * file of the slice on one worker. */
struct task {
	size_t slot;   /* load */
	size_t worker; /* index into live */
	uint64_t off, len;
};

struct datajobs {
	struct datajobs_opts o;
	struct httpc *hc[MAX_THREADS];
	struct httpc_opts ho; /* for datajobs_drop_blocks' own connection */
	char token[300];
	bool tls;
	/* One step's scratch (steps do not overlap: the runner's thread). */
	uint64_t last;               /* the job stepped last (round robin) */
	struct ns_job job;
	struct ns_job_file *files;
	struct slot *slots;
	size_t nslots;
	struct task *tasks;
	size_t ntasks, cap;
	struct datajobs_drop *drops; /* a free slice's files (batch) */
	size_t ndrops;
	struct httpc *drop_hc;       /* datajobs_drop's */
	struct registry_live_worker live[MAX_WORKERS];
	uint64_t live_ids[MAX_WORKERS];
	size_t nlive;
	bool warned_no_worker;
	struct backoff *backoff; /* one per persist job retrying a slice */
	size_t nbackoff, capbackoff;
	uint64_t extra_ok, extra_bytes; /* record(): done by earlier tries */
	/* The slice being worked on by the threads. */
	pthread_mutex_t lock;
	size_t next;
	pthread_mutex_t stats_lock;
	struct datajobs_stats stats;
};

struct datajobs *datajobs_new(const struct datajobs_opts *opts)
{
	struct datajobs *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->o = *opts;
	if (!d->o.batch)
		d->o.batch = 64;
	if (d->o.threads <= 0)
		d->o.threads = 16;
	if (d->o.threads > MAX_THREADS)
		d->o.threads = MAX_THREADS;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->stats_lock, NULL);
	const struct strata_conf *c = d->o.conf;
	char *token = d->token;
	if (*c->cluster_worker_token)
		snprintf(token, sizeof(d->token), "X-Strata-Worker-Token: %s",
			 c->cluster_worker_token);
	struct httpc_opts ho = {
		.timeout_ms = c->http_request_timeout,
		.connect_timeout_ms = 2000,
		.ca_file = conf_tls_ca(c),
		.client_cert = conf_tls_client_cert(c),
		.client_key = conf_tls_client_key(c),
		.extra_header = token[0] ? token : NULL,
	};
	d->tls = *c->http_tls_cert != '\0';
	d->ho = ho;
	d->files = calloc(d->o.batch, sizeof(*d->files));
	d->slots = calloc(d->o.batch, sizeof(*d->slots));
	d->drops = calloc(d->o.batch, sizeof(*d->drops));
	d->drop_hc = httpc_new(&ho);
	bool ok = d->files && d->slots && d->drops && d->drop_hc;
	for (int i = 0; ok && i < d->o.threads; i++)
		ok = (d->hc[i] = httpc_new(&ho)) != NULL;
	if (!ok) {
		datajobs_free(d);
		return NULL;
	}
	return d;
}

void datajobs_free(struct datajobs *d)
{
	if (!d)
		return;
	for (int i = 0; i < MAX_THREADS; i++)
		httpc_free(d->hc[i]);
	free(d->files);
	free(d->slots);
	free(d->drops);
	httpc_free(d->drop_hc);
	free(d->tasks);
	free(d->backoff);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->stats_lock);
	free(d);
}

static int add_task(struct datajobs *d, size_t slot, size_t worker, uint64_t off, uint64_t len)
{
	if (d->ntasks == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		struct task *t = realloc(d->tasks, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		d->tasks = t;
		d->cap = cap;
	}
	d->tasks[d->ntasks++] = (struct task){ .slot = slot, .worker = worker, .off = off,
					       .len = len };
	return 0;
}

static size_t owner_of(struct datajobs *d, uint64_t data_id, uint64_t index)
{
	size_t owner = 0;
	placement_owners(placement_block_id(data_id, index), d->live_ids, d->nlive, 1, &owner);
	return owner;
}

static uint64_t nblocks(const struct slot *s)
{
	return s->block_size > 0 ? (s->f.length + (uint64_t)s->block_size - 1) /
					   (uint64_t)s->block_size
				 : 0;
}

static void fail_slot(struct datajobs *d, struct slot *s, const char *why)
{
	pthread_mutex_lock(&d->lock);
	if (!s->failed) {
		s->failed = true;
		snprintf(s->reason, sizeof(s->reason), "%s", why);
	}
	pthread_mutex_unlock(&d->lock);
}

/* POSTs body to route on worker w; 0 or an error with the reason. */
static int post(struct datajobs *d, struct httpc *hc, size_t w, const char *route, cJSON *body,
		char *err, size_t errlen)
{
	char url[400];
	snprintf(url, sizeof(url), "%s://%s:%d%s", d->tls ? "https" : "http", d->live[w].host,
		 d->live[w].data_port, route);
	char why[512] = "";
	int rc = httpc_json(hc, "POST", url, body, NULL, NULL, why, sizeof(why));
	if (rc)
		snprintf(err, errlen, "worker %s:%d: %s", d->live[w].host, d->live[w].data_port, why);
	return rc;
}

static void run_load(struct datajobs *d, struct httpc *hc, const struct task *t)
{
	struct slot *s = &d->slots[t->slot];
	cJSON *b = cJSON_CreateObject();
	char err[REASON_MAX] = "out of memory";
	int rc = -ENOMEM;
	if (b && cJSON_AddStringToObject(b, "path", s->path) &&
	    json_add_u64(b, "data_id", s->f.data_id) && json_add_u64(b, "offset", t->off) &&
	    json_add_u64(b, "length", t->len) &&
	    (!d->job.medium[0] || cJSON_AddStringToObject(b, "medium", d->job.medium)) &&
	    (!s->f.pinned || cJSON_AddBoolToObject(b, "pinned", true)))
		rc = post(d, hc, t->worker, "/api/v1/internal/load", b, err, sizeof(err));
	cJSON_Delete(b);
	if (rc)
		fail_slot(d, s, err);
}

/* The body of a free request: {"blocks":[{"data_id","count"}...]}. */
static cJSON *free_body(const struct datajobs_drop *files, size_t n)
{
	cJSON *b = cJSON_CreateObject();
	cJSON *arr = b ? cJSON_AddArrayToObject(b, "blocks") : NULL;
	if (!arr)
		goto err;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			goto err;
		}
		if (!json_add_u64(o, "data_id", files[i].data_id) ||
		    !json_add_u64(o, "count", files[i].nblocks))
			goto err;
	}
	return b;
err:
	cJSON_Delete(b);
	return NULL;
}

/* Drops the blocks of every unpinned file of the slice (d->drops, made by
 * plan) on one worker. */
static void run_free(struct datajobs *d, struct httpc *hc, const struct task *t)
{
	cJSON *b = free_body(d->drops, d->ndrops);
	char err[REASON_MAX] = "out of memory";
	int rc = b ? post(d, hc, t->worker, "/api/v1/internal/free", b, err, sizeof(err)) : -ENOMEM;
	cJSON_Delete(b);
	if (!rc)
		return;
	for (size_t i = 0; i < d->nslots; i++)
		if (!d->slots[i].skip && nblocks(&d->slots[i]))
			fail_slot(d, &d->slots[i], err);
}

int datajobs_drop(struct datajobs *d, const struct datajobs_drop *files, size_t n, char *err,
		  size_t errlen)
{
	*err = '\0';
	if (!n)
		return 0;
	struct registry_live_worker *live = malloc(MAX_WORKERS * sizeof(*live));
	cJSON *b = free_body(files, n);
	int rc = live && b ? 0 : -ENOMEM;
	if (rc)
		snprintf(err, errlen, "out of memory");
	size_t nlive = rc ? 0 : registry_live(d->o.registry, live, MAX_WORKERS);
	for (size_t w = 0; w < nlive; w++) {
		char url[400], why[512] = "";
		snprintf(url, sizeof(url), "%s://%s:%d/api/v1/internal/free", d->tls ? "https" : "http",
			 live[w].host, live[w].data_port);
		int wrc = httpc_json(d->drop_hc, "POST", url, b, NULL, NULL, why, sizeof(why));
		if (wrc && !rc) {
			rc = wrc;
			snprintf(err, errlen, "worker %s:%d: %s", live[w].host, live[w].data_port, why);
		}
	}
	cJSON_Delete(b);
	free(live);
	return rc;
}

/* Writes one file's cached blocks to its store (a worker reads them from
 * wherever they are cached) and keeps what the store then holds. */
static void run_persist(struct datajobs *d, struct httpc *hc, const struct task *t)
{
	struct slot *s = &d->slots[t->slot];
	cJSON *b = cJSON_CreateObject(), *reply = NULL;
	char err[REASON_MAX] = "out of memory";
	int rc = -ENOMEM;
	if (b && cJSON_AddStringToObject(b, "path", s->path) &&
	    json_add_u64(b, "data_id", s->f.data_id) && json_add_u64(b, "length", s->f.length) &&
	    json_add_int(b, "block_size", s->block_size)) {
		char url[400], why[512] = "";
		snprintf(url, sizeof(url), "%s://%s:%d/api/v1/internal/persist",
			 d->tls ? "https" : "http", d->live[t->worker].host,
			 d->live[t->worker].data_port);
		rc = httpc_json(hc, "POST", url, b, &reply, NULL, why, sizeof(why));
		if (rc)
			snprintf(err, sizeof(err), "worker %.64s:%d: %.160s", d->live[t->worker].host,
				 d->live[t->worker].data_port, why);
	}
	const char *fp = NULL;
	char why[256];
	if (!rc && (json_get_u64(reply, "length", true, &s->st_length, why, sizeof(why)) ||
		    json_get_int(reply, "mtime_ms", true, 0, INT64_MAX, &s->st_mtime_ms, why,
				 sizeof(why)) ||
		    json_get_str(reply, "fingerprint", true, &fp, why, sizeof(why)))) {
		snprintf(err, sizeof(err), "worker's persist reply: %.200s", why);
		rc = ST_EPROTO;
	}
	if (!rc)
		snprintf(s->st_fingerprint, sizeof(s->st_fingerprint), "%s", fp);
	cJSON_Delete(reply);
	cJSON_Delete(b);
	if (rc)
		fail_slot(d, s, err);
}

struct thread_arg {
	struct datajobs *d;
	struct httpc *hc;
	enum mode mode;
};

static void *task_thread(void *arg)
{
	struct thread_arg *ta = arg;
	struct datajobs *d = ta->d;
	for (;;) {
		pthread_mutex_lock(&d->lock);
		size_t i = d->next < d->ntasks ? d->next++ : SIZE_MAX;
		pthread_mutex_unlock(&d->lock);
		if (i == SIZE_MAX)
			return NULL;
		if (ta->mode == MODE_LOAD)
			run_load(d, ta->hc, &d->tasks[i]);
		else if (ta->mode == MODE_PERSIST)
			run_persist(d, ta->hc, &d->tasks[i]);
		else
			run_free(d, ta->hc, &d->tasks[i]);
	}
}

static void run_tasks(struct datajobs *d, enum mode load)
{
	for (size_t i = 0; i < d->nslots; i++)
		d->slots[i].skip = d->slots[i].failed;
	pthread_t th[MAX_THREADS];
	struct thread_arg ta[MAX_THREADS];
	size_t started = 0, want = d->ntasks < (size_t)d->o.threads ? d->ntasks : (size_t)d->o.threads;
	d->next = 0;
	for (; started < want; started++) {
		ta[started] = (struct thread_arg){ .d = d, .hc = d->hc[started], .mode = load };
		if (pthread_create(&th[started], NULL, task_thread, &ta[started]))
			break;
	}
	if (started == 0 && d->ntasks) {
		ta[0] = (struct thread_arg){ .d = d, .hc = d->hc[0], .mode = load };
		task_thread(&ta[0]);
	}
	for (size_t k = 0; k < started; k++)
		pthread_join(th[k], NULL);
}

/* Reads the slice (paths and block sizes) under the read lock; *cursor
 * gets the largest inode id of it (files whose path is gone since the
 * query count as done), 0 when the job has no file left. */
static int read_slice(struct datajobs *d, uint64_t *cursor, char *err, size_t errlen)
{
	size_t n = 0;
	struct ns *ns = meta_read_lock(d->o.meta);
	int rc = ns_job_files(ns, &d->job, d->o.batch, d->files, &n);
	/* A slice also ends after SLICE_BYTES (at least one file), so a step
	 * of big files stays short and the runner's other jobs keep their
	 * pace. */
	uint64_t bytes = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		bytes += d->files[i].length;
		if (bytes >= SLICE_BYTES) {
			n = i + 1;
			break;
		}
	}
	d->nslots = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		struct slot *s = &d->slots[d->nslots];
		memset(s, 0, sizeof(*s));
		s->f = d->files[i];
		if (ns_path(ns, s->f.id, s->path, sizeof(s->path)))
			continue; /* gone since the query: nothing to do */
		s->block_size = s->f.block_size;
		if (s->block_size <= 0) {
			struct ns_mount *m = malloc(sizeof(*m));
			if (m && ns_resolve_mount(ns, s->path, m, NULL, 0) == 0)
				s->block_size = m->block_size;
			free(m);
		}
		if (s->block_size <= 0) {
			s->failed = true;
			snprintf(s->reason, sizeof(s->reason), "not on a mount");
		}
		d->nslots++;
	}
	*cursor = !rc && n ? d->files[n - 1].id : 0;
	meta_read_unlock(d->o.meta);
	if (rc)
		snprintf(err, errlen, "jobs: cannot read the files of job %" PRIu64, d->job.id);
	return rc;
}

static int plan(struct datajobs *d, bool load)
{
	d->ntasks = 0;
	if (!load) {
		for (size_t i = 0; i < d->nslots; i++) {
			struct slot *s = &d->slots[i];
			if (s->f.pinned && !s->failed) {
				s->failed = true;
				snprintf(s->reason, sizeof(s->reason),
					 "pinned: its blocks are kept (unpin it first)");
			}
		}
		d->ndrops = 0;
		for (size_t i = 0; i < d->nslots; i++)
			if (!d->slots[i].failed && nblocks(&d->slots[i]))
				d->drops[d->ndrops++] = (struct datajobs_drop){
					.data_id = d->slots[i].f.data_id, .nblocks = nblocks(&d->slots[i])
				};
		for (size_t w = 0; w < d->nlive; w++)
			if (add_task(d, 0, w, 0, 0))
				return -ENOMEM;
		return 0;
	}
	for (size_t i = 0; i < d->nslots; i++) {
		struct slot *s = &d->slots[i];
		uint64_t nb = nblocks(s);
		if (s->failed || nb == 0)
			continue;
		if (nb == 1) {
			if (add_task(d, i, owner_of(d, s->f.data_id, 0), 0, s->f.length))
				return -ENOMEM;
			continue;
		}
		for (uint64_t b = 0; b < nb; b++) {
			uint64_t off = b * (uint64_t)s->block_size;
			uint64_t len = s->f.length - off < (uint64_t)s->block_size
					       ? s->f.length - off
					       : (uint64_t)s->block_size;
			if (add_task(d, i, owner_of(d, s->f.data_id, b), off, len))
				return -ENOMEM;
		}
	}
	return 0;
}

static int submit(struct datajobs *d, struct journal_cmd *c, const char *what, char *err,
		  size_t errlen)
{
	int rc = meta_submit(d->o.meta, c, err, errlen);
	journal_free(c);
	if (rc && rc != ST_ESTALE && rc != ST_ENOTLEADER)
		log_warn("jobs: %s of job %" PRIu64 ": %s", what, d->job.id, err);
	return rc;
}

static int end_job(struct datajobs *d, int64_t now, char *err, size_t errlen)
{
	struct journal_cmd *c = journal_new(JOURNAL_JOB_END);
	if (!c)
		return -ENOMEM;
	struct journal_job_end *e = &c->u.job_end;
	e->id = d->job.id;
	snprintf(e->path, sizeof(e->path), "%s", d->job.path);
	e->time_ms = now;
	if (d->job.files_failed) {
		snprintf(e->state, sizeof(e->state), "failed");
		snprintf(e->reason, sizeof(e->reason), "%" PRIu64 " of %" PRIu64 " files failed",
			 d->job.files_failed, d->job.files_done + d->job.files_failed);
	} else {
		snprintf(e->state, sizeof(e->state), "done");
	}
	int rc = submit(d, c, "the end", err, errlen);
	if (!rc)
		log_info("jobs: job %" PRIu64 " (%s %s) %s: %" PRIu64 " files, %" PRIu64 " bytes",
			 d->job.id, d->job.type, d->job.path, d->job.files_failed ? "failed" : "done",
			 d->job.files_done, d->job.bytes_done);
	return rc == ST_ESTALE ? 0 : rc;
}

/* Journals the slice: its errors, then its progress. */
static int record(struct datajobs *d, uint64_t cursor, int64_t now, char *err, size_t errlen)
{
	uint64_t ok = d->extra_ok, failed = 0, bytes = d->extra_bytes;
	bool load = strcmp(d->job.type, "load") == 0;
	for (size_t i = 0; i < d->nslots; i++) {
		const struct slot *s = &d->slots[i];
		if (!s->failed) {
			ok++;
			bytes += s->gone ? 0 : s->f.length;
			continue;
		}
		failed++;
		struct journal_cmd *c = journal_new(JOURNAL_JOB_ERROR);
		if (!c)
			return -ENOMEM;
		c->u.job_error.id = d->job.id;
		memcpy(c->u.job_error.path, s->path, sizeof(c->u.job_error.path));
		snprintf(c->u.job_error.reason, sizeof(c->u.job_error.reason), "%s",
			 s->reason[0] ? s->reason : "failed");
		int rc = submit(d, c, "an error", err, errlen);
		if (rc == ST_ESTALE)
			return 0; /* cancelled meanwhile */
		if (rc)
			return rc;
	}
	struct journal_cmd *c = journal_new(JOURNAL_JOB_PROGRESS);
	if (!c)
		return -ENOMEM;
	struct journal_job_progress *p = &c->u.job_progress;
	p->id = d->job.id;
	p->cursor = cursor;
	p->files_done = d->job.files_done + ok;
	p->bytes_done = d->job.bytes_done + bytes;
	p->files_failed = d->job.files_failed + failed;
	p->time_ms = now;
	int rc = submit(d, c, "the progress", err, errlen);
	if (rc == ST_ESTALE)
		return 0;
	if (rc)
		return rc;
	pthread_mutex_lock(&d->stats_lock);
	d->stats.slices++;
	if (load) {
		d->stats.files_loaded += ok;
		d->stats.bytes_loaded += bytes;
	} else if (strcmp(d->job.type, "persist") == 0) {
		d->stats.files_persisted += ok;
		d->stats.bytes_persisted += bytes;
	} else {
		d->stats.files_freed += ok;
	}
	d->stats.files_failed += failed;
	pthread_mutex_unlock(&d->stats_lock);
	return 0;
}

static void unpin_persisted(struct datajobs *d)
{
	cJSON *b = cJSON_CreateObject();
	cJSON *arr = b ? cJSON_AddArrayToObject(b, "blocks") : NULL;
	bool any = false;
	for (size_t i = 0; arr && i < d->nslots; i++) {
		const struct slot *s = &d->slots[i];
		if (s->failed || s->gone || s->f.pinned || !nblocks(s))
			continue;
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			break;
		}
		json_add_u64(o, "data_id", s->f.data_id);
		json_add_u64(o, "count", nblocks(s));
		any = true;
	}
	if (any && cJSON_AddBoolToObject(b, "unpin", true)) {
		for (size_t w = 0; w < d->nlive; w++) {
			char err[REASON_MAX];
			if (post(d, d->hc[0], w, "/api/v1/internal/free", b, err, sizeof(err)))
				log_warn("jobs: persist job %" PRIu64 ": cannot unpin persisted blocks: %s",
					 d->job.id, err);
		}
	}
	cJSON_Delete(b);
}

/* The retry state of job (make: a new one when it has none; NULL only
 * without memory). */
static struct backoff *backoff_of(struct datajobs *d, uint64_t job, bool make)
{
	for (size_t i = 0; i < d->nbackoff; i++)
		if (d->backoff[i].job == job)
			return &d->backoff[i];
	if (!make)
		return NULL;
	if (d->nbackoff == d->capbackoff) {
		/* Jobs cancelled while they waited leave entries: drop those of
		 * jobs no longer active before growing. */
		size_t kept = 0;
		struct ns_job *j = malloc(sizeof(*j));
		struct ns *ns = meta_read_lock(d->o.meta);
		for (size_t i = 0; j && i < d->nbackoff; i++)
			if (ns_job_get(ns, d->backoff[i].job, j) == 0 && ns_job_active(j))
				d->backoff[kept++] = d->backoff[i];
		meta_read_unlock(d->o.meta);
		free(j);
		if (j)
			d->nbackoff = kept;
	}
	if (d->nbackoff == d->capbackoff) {
		size_t cap = d->capbackoff ? d->capbackoff * 2 : 64;
		struct backoff *grown = realloc(d->backoff, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		d->backoff = grown;
		d->capbackoff = cap;
	}
	d->backoff[d->nbackoff] = (struct backoff){ .job = job };
	return &d->backoff[d->nbackoff++];
}

static void backoff_clear(struct datajobs *d, uint64_t job)
{
	for (size_t i = 0; i < d->nbackoff; i++) {
		if (d->backoff[i].job == job) {
			d->backoff[i] = d->backoff[--d->nbackoff];
			return;
		}
	}
}

/* Journals a persist slot's new state (set_persistence). ST_ESTALE: the
 * file was rewritten or removed since the slice was read. */
static int set_state(struct datajobs *d, const struct slot *s, const char *state, int64_t now,
		     char *err, size_t errlen)
{
	struct journal_cmd *c = journal_new(JOURNAL_SET_PERSISTENCE);
	if (!c)
		return -ENOMEM;
	struct journal_set_persistence *p = &c->u.set_persistence;
	memcpy(p->path, s->path, sizeof(p->path));
	p->id = s->f.id;
	p->data_id = s->f.data_id;
	snprintf(p->state, sizeof(p->state), "%s", state);
	if (strcmp(state, "persisted") == 0) {
		p->length = s->st_length;
		p->mtime_ms = s->st_mtime_ms;
		memcpy(p->fingerprint, s->st_fingerprint, sizeof(p->fingerprint));
	}
	p->time_ms = now;
	int rc = meta_submit(d->o.meta, c, err, errlen);
	journal_free(c);
	return rc;
}

/*
 * A persist slice: lost files fail at once; the others are marked
 * persisting, written to their store by a worker each, then marked
 * persisted (or back to not_persisted). A slice with a failure the store
 * may get over (anything but lost) is tried again after a backoff
 * (master.persist_backoff doubling up to master.persist_backoff_max), up
 * to master.persist_retries times, before its errors are recorded.
 */
static int persist_slice(struct datajobs *d, uint64_t cursor, int64_t now_mono, char *err,
			 size_t errlen)
{
	const struct strata_conf *conf = d->o.conf;
	struct backoff *bo = backoff_of(d, d->job.id, true);
	if (bo && bo->next_ms > now_mono)
		return JOBS_AGAIN;
	d->ntasks = 0;
	int64_t now = clock_wall_ms();
	for (size_t i = 0; i < d->nslots; i++) {
		struct slot *s = &d->slots[i];
		if (s->failed)
			continue;
		if (s->f.persistence == NS_LOST) {
			s->failed = true;
			snprintf(s->reason, sizeof(s->reason),
				 "lost: it was never persisted and every cached copy is gone");
			continue;
		}
		int rc = set_state(d, s, "persisting", now, err, errlen);
		if (rc == ST_ESTALE) {
			s->gone = true; /* rewritten or removed since: nothing to persist */
			continue;
		}
		if (rc == ST_ELOST) {
			s->failed = true;
			s->f.persistence = NS_LOST;
			snprintf(s->reason, sizeof(s->reason),
				 "lost: it was never persisted and every cached copy is gone");
			continue;
		}
		if (rc)
			return rc;
		if (add_task(d, i, nblocks(s) ? owner_of(d, s->f.data_id, 0) : 0, 0, 0))
			return -ENOMEM;
	}
	run_tasks(d, MODE_PERSIST);
	bool retry = false;
	now = clock_wall_ms();
	for (size_t i = 0; i < d->nslots; i++) {
		struct slot *s = &d->slots[i];
		if (s->gone || (s->failed && s->f.persistence == NS_LOST))
			continue;
		int rc = set_state(d, s, s->failed ? "not_persisted" : "persisted", now, err, errlen);
		if (rc == ST_ESTALE) {
			s->gone = true;
			s->failed = false;
		} else if (rc) {
			return rc;
		}
		retry = retry || s->failed;
	}
	for (size_t i = 0; bo && i < d->nslots; i++) {
		if (!d->slots[i].failed) {
			bo->files_ok++;
			bo->bytes_ok += d->slots[i].gone ? 0 : d->slots[i].f.length;
		}
	}
	unpin_persisted(d);
	if (retry && bo && bo->attempts < conf->master_persist_retries) {
		int64_t wait = conf->master_persist_backoff;
		for (int k = 0; k < bo->attempts && wait < conf->master_persist_backoff_max; k++)
			wait *= 2;
		if (wait > conf->master_persist_backoff_max)
			wait = conf->master_persist_backoff_max;
		bo->attempts++;
		bo->next_ms = now_mono + wait;
		/* Logged on tries 1, 2, 4, 8...: a store down for long does
		 * not flood the log. */
		bool say = (bo->attempts & (bo->attempts - 1)) == 0;
		for (size_t i = 0; say && i < d->nslots; i++)
			if (d->slots[i].failed && !d->slots[i].gone)
				log_warn("jobs: persist job %" PRIu64 ": '%s' failed (try %d, again in "
					 "%" PRId64 " ms): %s", d->job.id, d->slots[i].path,
					 bo->attempts, wait, d->slots[i].reason);
		return JOBS_AGAIN;
	}
	/* This try's files are counted by record() itself. */
	d->extra_ok = 0;
	d->extra_bytes = 0;
	if (bo) {
		for (size_t i = 0; i < d->nslots; i++) {
			if (!d->slots[i].failed) {
				bo->files_ok--;
				bo->bytes_ok -= d->slots[i].gone ? 0 : d->slots[i].f.length;
			}
		}
		d->extra_ok = bo->files_ok;
		d->extra_bytes = bo->bytes_ok;
		backoff_clear(d, d->job.id);
	}
	int rc = record(d, cursor, clock_wall_ms(), err, errlen);
	d->extra_ok = 0;
	d->extra_bytes = 0;
	return rc;
}

/* One slice of the next active job; *persist tells whether it was a
 * persist job's. */
static int step_one(struct datajobs *d, int64_t now_mono, bool *persist, char *err,
		    size_t errlen)
{
	*persist = false;
	struct ns *ns = meta_read_lock(d->o.meta);
	int rc = ns_job_next_active(ns, d->last, &d->job);
	meta_read_unlock(d->o.meta);
	if (rc == -ENOENT)
		return JOBS_AGAIN;
	if (rc) {
		snprintf(err, errlen, "jobs: cannot read the job table");
		return rc;
	}
	d->last = d->job.id;
	d->nlive = registry_live(d->o.registry, d->live, MAX_WORKERS);
	if (!d->nlive) {
		/* A new leader hears from the workers within a heartbeat. */
		if (!d->warned_no_worker)
			log_warn("jobs: no live worker; job %" PRIu64 " waits", d->job.id);
		d->warned_no_worker = true;
		return JOBS_AGAIN;
	}
	d->warned_no_worker = false;
	for (size_t i = 0; i < d->nlive; i++)
		d->live_ids[i] = d->live[i].id;
	uint64_t cursor = 0;
	rc = read_slice(d, &cursor, err, errlen);
	if (rc)
		return rc;
	int64_t now = clock_wall_ms();
	if (cursor == 0) {
		backoff_clear(d, d->job.id);
		return end_job(d, now, err, errlen);
	}
	*persist = strcmp(d->job.type, "persist") == 0;
	if (*persist)
		return persist_slice(d, cursor, now_mono, err, errlen);
	bool load = strcmp(d->job.type, "load") == 0;
	rc = plan(d, load);
	if (rc) {
		snprintf(err, errlen, "jobs: out of memory");
		return rc;
	}
	run_tasks(d, load ? MODE_LOAD : MODE_FREE);
	return record(d, cursor, clock_wall_ms(), err, errlen);
}

/* Persist jobs are small (an ASYNC_THROUGH write queues one for its
 * file): a step goes on to the next active jobs while they are persist
 * jobs, up to PERSIST_JOBS_PER_STEP slices or PERSIST_STEP_MS. */
#define PERSIST_JOBS_PER_STEP 32
#define PERSIST_STEP_MS 300

static int step(void *arg, int64_t now_mono, char *err, size_t errlen)
{
	struct datajobs *d = arg;
	int64_t start = clock_mono_ms();
	int rc = JOBS_AGAIN;
	for (int i = 0; i < PERSIST_JOBS_PER_STEP; i++) {
		bool persist = false;
		rc = step_one(d, now_mono, &persist, err, errlen);
		if (rc < 0 || !persist || clock_mono_ms() - start >= PERSIST_STEP_MS)
			break;
	}
	return rc;
}

void datajobs_spec(struct datajobs *d, int64_t period_ms, struct jobs_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "data jobs";
	out->kind = JOBS_PERIODIC;
	out->period_ms = period_ms;
	out->step = step;
	out->arg = d;
}

int datajobs_create(struct datajobs *d, const char *type, const char *path, bool recursive,
		    const char *medium, int64_t now_ms, uint64_t *id, char *err, size_t errlen)
{
	if (!journal_job_type_valid(type)) {
		snprintf(err, errlen, "field 'type': '%.40s' is not load, free or persist", type);
		return -EINVAL;
	}
	if (medium && *medium && strcmp(type, "load") != 0) {
		snprintf(err, errlen, "field 'medium': only for a load job");
		return -EINVAL;
	}
	if (medium && *medium && !journal_medium_valid(medium)) {
		snprintf(err, errlen, "field 'medium': '%.40s' is not MEM, SSD or HDD", medium);
		return -EINVAL;
	}
	struct journal_cmd *c = journal_new(JOURNAL_JOB_CREATE);
	if (!c)
		return -ENOMEM;
	struct journal_job_create *j = &c->u.job_create;
	snprintf(j->type, sizeof(j->type), "%s", type);
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->recursive = recursive;
	if (medium)
		snprintf(j->medium, sizeof(j->medium), "%s", medium);
	j->time_ms = now_ms;
	int rc = meta_submit_id(d->o.meta, c, id, err, errlen);
	journal_free(c);
	return rc;
}

int datajobs_cancel(struct datajobs *d, uint64_t id, int64_t now_ms, char *err, size_t errlen)
{
	struct ns_job *j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	struct ns *ns = meta_read_lock(d->o.meta);
	int rc = ns_job_get(ns, id, j);
	meta_read_unlock(d->o.meta);
	if (rc == -ENOENT)
		snprintf(err, errlen, "path parameter 'id': job %" PRIu64 " does not exist", id);
	if (!rc && !ns_job_active(j)) {
		snprintf(err, errlen, "job %" PRIu64 " is %s already", id, j->state);
		rc = ST_ESTALE;
	}
	struct journal_cmd *c = rc ? NULL : journal_new(JOURNAL_JOB_END);
	if (!rc && !c)
		rc = -ENOMEM;
	if (!rc) {
		c->u.job_end.id = id;
		memcpy(c->u.job_end.path, j->path, sizeof(c->u.job_end.path));
		snprintf(c->u.job_end.state, sizeof(c->u.job_end.state), "cancelled");
		snprintf(c->u.job_end.reason, sizeof(c->u.job_end.reason), "cancelled by a request");
		c->u.job_end.time_ms = now_ms;
		rc = meta_submit(d->o.meta, c, err, errlen);
	}
	journal_free(c);
	free(j);
	return rc;
}

static int add_error(void *arg, const char *path, const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(arg, o))
		return -ENOMEM;
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddStringToObject(o, "reason", reason);
	return 0;
}

static cJSON *job_json(const struct ns_job *j, int64_t now_ms)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	json_add_u64(o, "id", j->id);
	cJSON_AddStringToObject(o, "type", j->type);
	cJSON_AddStringToObject(o, "path", j->path);
	cJSON_AddBoolToObject(o, "recursive", j->recursive);
	cJSON_AddStringToObject(o, "medium", j->medium);
	cJSON_AddStringToObject(o, "state", j->state);
	json_add_int(o, "files_total", (int64_t)j->files_total);
	json_add_int(o, "files_done", (int64_t)j->files_done);
	json_add_int(o, "files_failed", (int64_t)j->files_failed);
	json_add_int(o, "bytes_total", (int64_t)j->bytes_total);
	json_add_int(o, "bytes_done", (int64_t)j->bytes_done);
	/* Rate over the job's life so far; ETA from it for what is left. */
	int64_t end = ns_job_active(j) ? now_ms : j->ended_ms;
	int64_t elapsed = end - j->created_ms;
	double rate = elapsed > 0 ? (double)j->bytes_done * 1000.0 / (double)elapsed : 0;
	json_add_int(o, "rate_bytes_per_s", (int64_t)rate);
	int64_t eta = -1;
	if (!ns_job_active(j))
		eta = 0;
	else if (rate > 0 && j->bytes_total >= j->bytes_done)
		eta = (int64_t)((double)(j->bytes_total - j->bytes_done) * 1000.0 / rate);
	json_add_int(o, "eta_ms", eta);
	json_add_int(o, "created_ms", j->created_ms);
	json_add_int(o, "updated_ms", j->updated_ms);
	json_add_int(o, "ended_ms", j->ended_ms);
	cJSON_AddStringToObject(o, "reason", j->reason);
	json_add_int(o, "errors_total", (int64_t)j->nerrors);
	return o;
}

cJSON *datajobs_get_json(struct datajobs *d, uint64_t id, int64_t now_ms, int *rc)
{
	struct ns_job *j = malloc(sizeof(*j));
	cJSON *root = cJSON_CreateObject(), *o = NULL;
	*rc = j && root ? 0 : -ENOMEM;
	struct ns *ns = meta_read_lock(d->o.meta);
	if (!*rc)
		*rc = ns_job_get(ns, id, j);
	if (!*rc) {
		o = job_json(j, now_ms);
		cJSON *errs = o ? cJSON_AddArrayToObject(o, "errors") : NULL;
		*rc = errs && cJSON_AddItemToObject(root, "job", o) ? 0 : -ENOMEM;
		if (*rc)
			cJSON_Delete(o);
		else
			*rc = ns_job_errors(ns, id, add_error, errs);
	}
	meta_read_unlock(d->o.meta);
	free(j);
	if (*rc) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

struct list_ctx {
	cJSON *arr;
	int64_t now;
};

static int add_job(void *arg, const struct ns_job *j)
{
	struct list_ctx *c = arg;
	cJSON *o = job_json(j, c->now);
	if (!o || !cJSON_AddItemToArray(c->arr, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	return 0;
}

cJSON *datajobs_list_json(struct datajobs *d, size_t limit, int64_t now_ms, int *rc)
{
	cJSON *root = cJSON_CreateObject();
	struct list_ctx c = { .arr = root ? cJSON_AddArrayToObject(root, "jobs") : NULL,
			      .now = now_ms };
	*rc = c.arr ? 0 : -ENOMEM;
	if (!*rc) {
		struct ns *ns = meta_read_lock(d->o.meta);
		*rc = ns_jobs_list(ns, limit, add_job, &c);
		meta_read_unlock(d->o.meta);
	}
	if (*rc) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

void datajobs_drop_blocks(struct datajobs *d, uint64_t data_id, uint64_t nblocks)
{
	if (!nblocks)
		return;
	struct registry_live_worker *live = calloc(MAX_WORKERS, sizeof(*live));
	struct httpc *hc = httpc_new(&d->ho);
	cJSON *b = cJSON_CreateObject();
	cJSON *arr = b ? cJSON_AddArrayToObject(b, "blocks") : NULL;
	cJSON *o = arr ? cJSON_CreateObject() : NULL;
	if (!live || !hc || !o || !cJSON_AddItemToArray(arr, o) ||
	    !json_add_u64(o, "data_id", data_id) || !json_add_u64(o, "count", nblocks)) {
		log_warn("cannot drop the blocks of content %" PRIu64 ": out of memory", data_id);
		goto out;
	}
	size_t n = registry_live(d->o.registry, live, MAX_WORKERS);
	for (size_t i = 0; i < n; i++) {
		char url[400], why[512] = "";
		snprintf(url, sizeof(url), "%s://%s:%d/api/v1/internal/free",
			 d->tls ? "https" : "http", live[i].host, live[i].data_port);
		if (httpc_json(hc, "POST", url, b, NULL, NULL, why, sizeof(why)))
			log_warn("worker %s:%d kept the blocks of content %" PRIu64 ": %s",
				 live[i].host, live[i].data_port, data_id, why);
	}
out:
	if (o && !cJSON_GetArraySize(arr))
		cJSON_Delete(o);
	cJSON_Delete(b);
	httpc_free(hc);
	free(live);
}

void datajobs_get_stats(struct datajobs *d, struct datajobs_stats *out)
{
	pthread_mutex_lock(&d->stats_lock);
	*out = d->stats;
	pthread_mutex_unlock(&d->stats_lock);
}
