/* The TTL checker (ttlcheck.h). */
#include "daemon/master/ttlcheck.h"

#include "daemon/master/events.h"
#include "daemon/master/fs.h"
#include "daemon/master/journal.h"
#include "daemon/master/meta.h"
#include "daemon/master/ns.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/path.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One file of a page: what to do and its path. */
struct item {
	struct ns_expired row; /* action "" in a page of fired files: finish the delete */
	bool skip;             /* a free whose blocks could not be dropped: next pass */
	char path[PATH_MAX_LEN + 1];
};

struct ttlcheck {
	struct ttlcheck_opts o;
	pthread_mutex_t stats_lock;
	struct ttlcheck_stats stats;
	/* One pass's scratch (passes do not overlap: the runner's thread). */
	struct ns_expired *rows;
	uint64_t *ids;
	struct item *items;
	struct datajobs_drop *drops;
};

/* Proposals of a page run on this many threads at once, so the metadata
 * service commits them in shared batches (one fsync for many). */
#define TTL_THREADS 8

struct ttlcheck *ttlcheck_new(const struct ttlcheck_opts *opts)
{
	struct ttlcheck *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	pthread_mutex_init(&t->stats_lock, NULL);
	t->o = *opts;
	if (!t->o.batch)
		t->o.batch = 256;
	if (t->o.budget_ms <= 0)
		t->o.budget_ms = 2000;
	t->rows = calloc(t->o.batch, sizeof(*t->rows));
	t->ids = calloc(t->o.batch, sizeof(*t->ids));
	t->items = calloc(t->o.batch, sizeof(*t->items));
	t->drops = calloc(t->o.batch, sizeof(*t->drops));
	if (!t->rows || !t->ids || !t->items || !t->drops) {
		ttlcheck_free(t);
		return NULL;
	}
	return t;
}

void ttlcheck_free(struct ttlcheck *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t->ids);
	free(t->items);
	free(t->drops);
	pthread_mutex_destroy(&t->stats_lock);
	free(t);
}

static int64_t wall(struct ttlcheck *t)
{
	return t->o.wall_ms ? t->o.wall_ms(t->o.clock_arg) : clock_wall_ms();
}

#define BUMP(t, field)                              \
	do {                                        \
		pthread_mutex_lock(&(t)->stats_lock); \
		(t)->stats.field++;                 \
		pthread_mutex_unlock(&(t)->stats_lock); \
	} while (0)

/* The path of id; -ENOENT when it is gone. */
static int path_of(struct ttlcheck *t, uint64_t id, char *path, size_t len)
{
	struct ns *ns = meta_read_lock(t->o.meta);
	int rc = ns_path(ns, id, path, len);
	meta_read_unlock(t->o.meta);
	return rc;
}

/* Deletes a fired file from its store and the namespace: 1 done, 0 to
 * retry next pass, or ST_ENOTLEADER. */
static int finish_delete(struct ttlcheck *t, const char *path)
{
	char err[512] = "";
	int rc = fs_delete(t->o.fs, path, false, err, sizeof(err));
	if (rc == -ENOENT) /* gone already: a store sync or an earlier leader */
		rc = 0;
	if (rc == ST_ENOTLEADER)
		return rc;
	if (rc) {
		log_warn("ttl: cannot delete '%s' (its TTL fired): %s; retried next pass", path,
			 err);
		BUMP(t, errors);
		return 0;
	}
	BUMP(t, deleted);
	if (t->o.events)
		events_add(t->o.events, wall(t), "ttl_deleted", path,
			   "deleted from strata and the store");
	return 1;
}

static bool on_readonly_mount(struct ttlcheck *t, const char *path)
{
	struct ns_mount *m = malloc(sizeof(*m));
	if (!m)
		return true; /* never delete when unsure */
	struct ns *ns = meta_read_lock(t->o.meta);
	bool ro = ns_resolve_mount(ns, path, m, NULL, 0) == 0 && m->readonly;
	meta_read_unlock(t->o.meta);
	free(m);
	return ro;
}

/* Proposes ttl_fire for one expired file (and finishes a delete): 1 when
 * it applied, 0 when it did not, or ST_ENOTLEADER / -ENOMEM. */
static int fire_one(struct ttlcheck *t, const struct item *it, int64_t now)
{
	const struct ns_expired *e = &it->row;
	bool del = strcmp(e->action, "delete") == 0;
	if (del && on_readonly_mount(t, it->path)) {
		log_warn("ttl: not deleting '%s': it is on a read-only mount", it->path);
		BUMP(t, skipped_readonly);
		return 0;
	}
	struct journal_cmd *c = journal_new(JOURNAL_TTL_FIRE);
	if (!c)
		return -ENOMEM;
	struct journal_ttl_fire *f = &c->u.ttl_fire;
	memcpy(f->path, it->path, sizeof(f->path));
	f->id = e->id;
	snprintf(f->action, sizeof(f->action), "%s", e->action);
	f->time_ms = now;
	char err[512] = "";
	int rc = meta_submit(t->o.meta, c, err, sizeof(err));
	journal_free(c);
	if (rc == ST_ESTALE) {
		BUMP(t, stale);
		return 0;
	}
	if (rc == ST_ENOTLEADER)
		return rc;
	if (rc) {
		log_warn("ttl: firing '%s': %s", it->path, err);
		BUMP(t, errors);
		return 0;
	}
	if (!del) {
		BUMP(t, fired_free);
		return 1;
	}
	BUMP(t, fired_delete);
	rc = finish_delete(t, it->path);
	return rc < 0 ? rc : 1;
}

/* Works through t->items[0..n) on TTL_THREADS threads. */
struct page {
	struct ttlcheck *t;
	size_t n;
	int64_t now, deadline;
	pthread_mutex_t lock;
	size_t next;
	int done, rc;
};

static void *page_worker(void *arg)
{
	struct page *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		bool stop = p->rc || p->next == p->n || clock_mono_ms() >= p->deadline;
		size_t i = stop ? 0 : p->next++;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return NULL;
		const struct item *it = &p->t->items[i];
		if (it->skip)
			continue;
		int rc = it->row.action[0] ? fire_one(p->t, it, p->now)
					   : finish_delete(p->t, it->path);
		pthread_mutex_lock(&p->lock);
		if (rc < 0 && !p->rc)
			p->rc = rc;
		else if (rc > 0)
			p->done += rc;
		pthread_mutex_unlock(&p->lock);
	}
}

/* The page's count of files acted on, or the first error. */
static int run_page(struct ttlcheck *t, size_t n, int64_t now, int64_t deadline)
{
	struct page p = { .t = t, .n = n, .now = now, .deadline = deadline };
	pthread_mutex_init(&p.lock, NULL);
	pthread_t th[TTL_THREADS];
	size_t started = 0;
	for (; started < TTL_THREADS && started < n; started++)
		if (pthread_create(&th[started], NULL, page_worker, &p))
			break;
	if (started == 0)
		page_worker(&p); /* no thread: do it here */
	for (size_t k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	pthread_mutex_destroy(&p.lock);
	return p.rc ? p.rc : p.done;
}

static int finish_fired(struct ttlcheck *t, int64_t deadline, char *err, size_t errlen)
{
	uint64_t after = 0;
	int done = 0;
	for (;;) {
		size_t n = 0, m = 0;
		struct ns *ns = meta_read_lock(t->o.meta);
		int rc = ns_fired(ns, after, t->o.batch, t->ids, &n);
		meta_read_unlock(t->o.meta);
		if (rc) {
			snprintf(err, errlen, "ttl: cannot read fired files");
			return rc;
		}
		for (size_t i = 0; i < n; i++) {
			after = t->ids[i];
			struct item *it = &t->items[m];
			memset(&it->row, 0, sizeof(it->row));
			it->row.id = t->ids[i];
			it->skip = false;
			if (path_of(t, t->ids[i], it->path, sizeof(it->path)) == 0)
				m++;
		}
		rc = run_page(t, m, 0, deadline);
		if (rc < 0) {
			snprintf(err, errlen, "ttl: %s", st_strerror(rc));
			return rc;
		}
		done += rc;
		if (n < t->o.batch || clock_mono_ms() >= deadline)
			return done;
	}
}

/* The blocks of a file, and whether they are to be dropped (not pinned,
 * on a mount). */
static bool drop_of(struct ns *ns, uint64_t id, const char *path, struct datajobs_drop *out)
{
	struct ns_inode n;
	if (ns_by_id(ns, id, &n) || n.is_dir || n.pinned)
		return false;
	int64_t bs = n.block_size;
	if (bs <= 0) {
		struct ns_mount *m = malloc(sizeof(*m));
		if (m && ns_resolve_mount(ns, path, m, NULL, 0) == 0)
			bs = m->block_size;
		free(m);
	}
	if (bs <= 0 || n.length == 0)
		return false;
	out->data_id = n.data_id;
	out->nblocks = (n.length + (uint64_t)bs - 1) / (uint64_t)bs;
	return true;
}

/* Drops the cached blocks of the page's free files on the workers; when
 * that fails they are skipped (fired by a later pass, dropped again). */
static void drop_page(struct ttlcheck *t, size_t m)
{
	if (!t->o.drop)
		return;
	size_t nd = 0, nfree = 0;
	struct ns *ns = meta_read_lock(t->o.meta);
	for (size_t i = 0; i < m; i++) {
		const struct item *it = &t->items[i];
		if (strcmp(it->row.action, "free") != 0)
			continue;
		nfree++;
		if (drop_of(ns, it->row.id, it->path, &t->drops[nd]))
			nd++;
	}
	meta_read_unlock(t->o.meta);
	if (!nd)
		return;
	char err[512] = "";
	int rc = t->o.drop(t->o.drop_arg, t->drops, nd, err, sizeof(err));
	if (!rc) {
		pthread_mutex_lock(&t->stats_lock);
		t->stats.dropped_files += nd;
		pthread_mutex_unlock(&t->stats_lock);
		return;
	}
	log_warn("ttl: cannot drop the cached blocks of %zu expired file(s): %s; retried next pass",
		 nfree, err);
	BUMP(t, errors);
	for (size_t i = 0; i < m; i++)
		if (strcmp(t->items[i].row.action, "free") == 0)
			t->items[i].skip = true;
}

static int fire_expired(struct ttlcheck *t, int64_t now, int64_t deadline, char *err,
			size_t errlen)
{
	int64_t after_exp = 0;
	uint64_t after_id = 0;
	int done = 0;
	for (;;) {
		size_t n = 0, m = 0;
		struct ns *ns = meta_read_lock(t->o.meta);
		int rc = ns_expired(ns, now, after_exp, after_id, t->o.batch, t->rows, &n);
		meta_read_unlock(t->o.meta);
		if (rc) {
			snprintf(err, errlen, "ttl: cannot read expired files");
			return rc;
		}
		for (size_t i = 0; i < n; i++) {
			after_exp = t->rows[i].expiry_ms;
			after_id = t->rows[i].id;
			struct item *it = &t->items[m];
			it->row = t->rows[i];
			it->skip = false;
			if (it->row.action[0] &&
			    path_of(t, t->rows[i].id, it->path, sizeof(it->path)) == 0)
				m++;
		}
		drop_page(t, m);
		rc = run_page(t, m, now, deadline);
		if (rc < 0) {
			snprintf(err, errlen, "ttl: %s", st_strerror(rc));
			return rc;
		}
		done += rc;
		if (n < t->o.batch || clock_mono_ms() >= deadline)
			return done;
	}
}

int ttlcheck_run(struct ttlcheck *t, char *err, size_t errlen)
{
	*err = '\0';
	int64_t deadline = clock_mono_ms() + t->o.budget_ms;
	BUMP(t, passes);
	int a = finish_fired(t, deadline, err, errlen);
	if (a < 0)
		return a;
	int b = fire_expired(t, wall(t), deadline, err, errlen);
	if (b < 0)
		return b;
	if (a + b > 0)
		log_info("ttl: acted on %d expired file(s)", a + b);
	return a + b;
}

static int step(void *arg, int64_t now_ms, char *err, size_t errlen)
{
	(void)now_ms;
	int rc = ttlcheck_run(arg, err, errlen);
	return rc < 0 ? rc : JOBS_AGAIN;
}

void ttlcheck_spec(struct ttlcheck *t, int64_t period_ms, struct jobs_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "ttl check";
	out->kind = JOBS_PERIODIC;
	out->period_ms = period_ms;
	out->step = step;
	out->arg = t;
}

void ttlcheck_get_stats(struct ttlcheck *t, struct ttlcheck_stats *out)
{
	pthread_mutex_lock(&t->stats_lock);
	*out = t->stats;
	pthread_mutex_unlock(&t->stats_lock);
}
