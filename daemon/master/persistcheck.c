/* The persistence checker (persistcheck.h). */
#include "daemon/master/persistcheck.h"

#include "daemon/master/blockmap.h"
#include "daemon/master/journal.h"
#include "daemon/master/meta.h"
#include "daemon/master/ns.h"
#include "daemon/master/registry.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/placement.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIVE 256

struct persistcheck {
	struct persistcheck_opts o;
	int64_t led_since; /* monotonic ms this master gained the lead */
	struct ns_inode *rows;
	struct registry_live_worker live[MAX_LIVE];
	pthread_mutex_t lock;
	struct persistcheck_stats stats;
};

static int64_t wall(struct persistcheck *p)
{
	return p->o.wall_ms ? p->o.wall_ms(p->o.clock_arg) : clock_wall_ms();
}

static int64_t mono(struct persistcheck *p)
{
	return p->o.mono_ms ? p->o.mono_ms(p->o.clock_arg) : clock_mono_ms();
}

struct persistcheck *persistcheck_new(const struct persistcheck_opts *opts)
{
	struct persistcheck *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->o = *opts;
	if (!p->o.batch)
		p->o.batch = 256;
	p->rows = calloc(p->o.batch, sizeof(*p->rows));
	if (!p->rows) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void persistcheck_free(struct persistcheck *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p->rows);
	free(p);
}

/* Whether every block of n has a copy on one of the live workers. */
static bool all_blocks_held(struct persistcheck *p, const struct ns_inode *n, int64_t bs,
			    size_t nlive)
{
	uint64_t nblocks = bs > 0 ? (n->length + (uint64_t)bs - 1) / (uint64_t)bs : 0;
	for (uint64_t i = 0; i < nblocks; i++) {
		struct block_loc locs[BLOCKMAP_MAX_LOCS];
		size_t nl = blockmap_get(p->o.blocks, placement_block_id(n->data_id, i), locs,
					 BLOCKMAP_MAX_LOCS);
		bool held = false;
		for (size_t k = 0; k < nl && !held; k++)
			for (size_t w = 0; w < nlive && !held; w++)
				held = locs[k].worker_id == p->live[w].id;
		if (!held)
			return false;
	}
	return true;
}

static int set_state(struct persistcheck *p, const char *path, const struct ns_inode *n,
		     const char *state, char *err, size_t errlen)
{
	struct journal_cmd *c = journal_new(JOURNAL_SET_PERSISTENCE);
	if (!c)
		return -ENOMEM;
	struct journal_set_persistence *sp = &c->u.set_persistence;
	snprintf(sp->path, sizeof(sp->path), "%s", path);
	sp->id = n->id;
	sp->data_id = n->data_id;
	snprintf(sp->state, sizeof(sp->state), "%s", state);
	sp->time_ms = wall(p);
	int rc = meta_submit(p->o.meta, c, err, errlen);
	journal_free(c);
	return rc;
}

/* The block size of n: its own, else its mount's; 0 when unknown. */
static int64_t block_size_of(struct ns *ns, const struct ns_inode *n, const char *path)
{
	if (n->block_size > 0)
		return n->block_size;
	struct ns_mount *m = malloc(sizeof(*m));
	int64_t bs = 0;
	if (m && ns_resolve_mount(ns, path, m, NULL, 0) == 0)
		bs = m->block_size;
	free(m);
	return bs;
}

int persistcheck_run(struct persistcheck *p, char *err, size_t errlen)
{
	pthread_mutex_lock(&p->lock);
	p->stats.passes++;
	pthread_mutex_unlock(&p->lock);
	if (mono(p) - p->led_since < p->o.grace_ms)
		return 0; /* workers are still reporting what they hold */
	size_t nlive = registry_live(p->o.registry, p->live, MAX_LIVE);
	int64_t now = wall(p);
	uint64_t after = 0;
	int changed = 0;
	for (;;) {
		size_t n = 0;
		struct ns *ns = meta_read_lock(p->o.meta);
		int rc = ns_unpersisted(ns, after, p->o.batch, p->rows, &n);
		meta_read_unlock(p->o.meta);
		if (rc) {
			snprintf(err, errlen, "persistence check: cannot read the namespace");
			return rc;
		}
		for (size_t i = 0; i < n; i++) {
			const struct ns_inode *f = &p->rows[i];
			after = f->id;
			if (f->is_dir || now - f->mtime_ms < p->o.grace_ms)
				continue;
			char path[PATH_MAX_LEN + 1];
			ns = meta_read_lock(p->o.meta);
			int64_t bs = 0;
			int prc = ns_path(ns, f->id, path, sizeof(path));
			if (!prc)
				bs = block_size_of(ns, f, path);
			meta_read_unlock(p->o.meta);
			if (prc || bs <= 0)
				continue;
			bool held = all_blocks_held(p, f, bs, nlive);
			const char *to = NULL;
			if (!held && f->persistence != NS_LOST)
				to = "lost";
			else if (held && f->persistence == NS_LOST)
				to = "not_persisted";
			if (!to)
				continue;
			char why[512] = "";
			rc = set_state(p, path, f, to, why, sizeof(why));
			if (rc == ST_ESTALE)
				continue; /* rewritten or persisted meanwhile */
			if (rc) {
				snprintf(err, errlen, "persistence check of '%s': %s", path, why);
				return rc;
			}
			changed++;
			pthread_mutex_lock(&p->lock);
			if (strcmp(to, "lost") == 0)
				p->stats.lost++;
			else
				p->stats.recovered++;
			pthread_mutex_unlock(&p->lock);
			if (strcmp(to, "lost") == 0)
				log_error("'%s' is lost: it was not persisted and a block of it has no "
					  "cached copy on any live worker", path);
			else
				log_info("'%s': every block is cached again; not persisted", path);
		}
		if (n < p->o.batch)
			break;
	}
	return changed;
}

static int resume(void *arg, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct persistcheck *p = arg;
	p->led_since = mono(p);
	return 0;
}

static int step(void *arg, int64_t now_ms, char *err, size_t errlen)
{
	(void)now_ms;
	int rc = persistcheck_run(arg, err, errlen);
	return rc < 0 ? rc : JOBS_AGAIN;
}

void persistcheck_spec(struct persistcheck *p, int64_t period_ms, struct jobs_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "persistence check";
	out->kind = JOBS_PERIODIC;
	out->period_ms = period_ms;
	out->resume = resume;
	out->step = step;
	out->arg = p;
}

void persistcheck_get_stats(struct persistcheck *p, struct persistcheck_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	pthread_mutex_unlock(&p->lock);
}
