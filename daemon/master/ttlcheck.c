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

struct ttlcheck {
	struct ttlcheck_opts o;
	pthread_mutex_t stats_lock;
	struct ttlcheck_stats stats;
	/* One pass's scratch (passes do not overlap: the runner's thread). */
	struct ns_expired *rows;
	uint64_t *ids;
	char path[PATH_MAX_LEN + 1];
};

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
	if (!t->rows || !t->ids) {
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

/* path of id into t->path; -ENOENT when it is gone. */
static int path_of(struct ttlcheck *t, uint64_t id)
{
	struct ns *ns = meta_read_lock(t->o.meta);
	int rc = ns_path(ns, id, t->path, sizeof(t->path));
	meta_read_unlock(t->o.meta);
	return rc;
}

/* Deletes a fired file from its store and the namespace (t->path). */
static int finish_delete(struct ttlcheck *t, char *err, size_t errlen)
{
	int rc = fs_delete(t->o.fs, t->path, false, err, errlen);
	if (rc == -ENOENT) /* gone already: a store sync or an earlier leader */
		rc = 0;
	if (rc == ST_ENOTLEADER)
		return rc;
	if (rc) {
		log_warn("ttl: cannot delete '%s' (its TTL fired): %s; retried next pass", t->path,
			 err);
		BUMP(t, errors);
		return 0;
	}
	BUMP(t, deleted);
	if (t->o.events)
		events_add(t->o.events, wall(t), "ttl_deleted", t->path,
			   "deleted from strata and the store");
	return 1;
}

static int finish_fired(struct ttlcheck *t, int64_t deadline, char *err, size_t errlen)
{
	uint64_t after = 0;
	int done = 0;
	for (;;) {
		size_t n = 0;
		struct ns *ns = meta_read_lock(t->o.meta);
		int rc = ns_fired(ns, after, t->o.batch, t->ids, &n);
		meta_read_unlock(t->o.meta);
		if (rc) {
			snprintf(err, errlen, "ttl: cannot read fired files");
			return rc;
		}
		for (size_t i = 0; i < n; i++) {
			after = t->ids[i];
			if (path_of(t, t->ids[i]))
				continue;
			rc = finish_delete(t, err, errlen);
			if (rc < 0)
				return rc;
			done += rc;
			if (clock_mono_ms() >= deadline)
				return done;
		}
		if (n < t->o.batch)
			return done;
	}
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

/* Proposes ttl_fire for one expired file; 1 when it applied. */
static int fire_one(struct ttlcheck *t, const struct ns_expired *e, int64_t now, char *err,
		    size_t errlen)
{
	bool del = strcmp(e->action, "delete") == 0;
	if (del && on_readonly_mount(t, t->path)) {
		log_warn("ttl: not deleting '%s': it is on a read-only mount", t->path);
		BUMP(t, skipped_readonly);
		return 0;
	}
	struct journal_cmd *c = journal_new(JOURNAL_TTL_FIRE);
	if (!c)
		return -ENOMEM;
	struct journal_ttl_fire *f = &c->u.ttl_fire;
	memcpy(f->path, t->path, sizeof(f->path));
	f->id = e->id;
	snprintf(f->action, sizeof(f->action), "%s", e->action);
	f->time_ms = now;
	int rc = meta_submit(t->o.meta, c, err, errlen);
	journal_free(c);
	if (rc == -ESTALE) {
		BUMP(t, stale);
		return 0;
	}
	if (rc == ST_ENOTLEADER)
		return rc;
	if (rc) {
		log_warn("ttl: firing '%s': %s", t->path, err);
		BUMP(t, errors);
		return 0;
	}
	if (!del) {
		BUMP(t, fired_free);
		return 1;
	}
	BUMP(t, fired_delete);
	rc = finish_delete(t, err, errlen);
	return rc < 0 ? rc : 1;
}

static int fire_expired(struct ttlcheck *t, int64_t now, int64_t deadline, char *err,
			size_t errlen)
{
	int64_t after_exp = 0;
	uint64_t after_id = 0;
	int done = 0;
	for (;;) {
		size_t n = 0;
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
			if (path_of(t, t->rows[i].id))
				continue;
			rc = fire_one(t, &t->rows[i], now, err, errlen);
			if (rc < 0)
				return rc;
			done += rc;
			if (clock_mono_ms() >= deadline)
				return done;
		}
		if (n < t->o.batch)
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
