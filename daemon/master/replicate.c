/* Replication min/max and decommission: the leader's checker, the orders
 * it queues for workers and the worker_state commands (replicate.h). */
#include "daemon/master/replicate.h"

#include "daemon/master/events.h"
#include "daemon/master/journal.h"
#include "daemon/master/meta.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/placement.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORKERS 256
#define QUEUE_MAX 4096 /* orders queued per worker */

/* One order for a worker. */
struct order {
	uint64_t block, data_id;
	bool drop;
	char *path;          /* copy: the file (owned in a queue; order() copies it) */
	char source[300];    /* copy: host:port of a holder */
};

/* An order given out (or queued) and not seen done yet. */
struct flight {
	uint64_t block, target;
	bool drop;
	int64_t deadline_ms;
};

struct wqueue {
	uint64_t worker_id;
	struct order *orders;
	size_t n, cap;
};

/* A draining worker and how many passes in a row found it drained. */
struct drain {
	uint64_t id;
	int clean_passes;
};

struct repl {
	struct repl_opts o;
	pthread_mutex_t lock; /* guards everything below */
	struct wqueue *queues;
	size_t nqueues;
	struct flight *flights;
	size_t nflights, flights_cap;
	struct drain drains[MAX_WORKERS];
	size_t ndrains;
	bool repairing; /* an under-replication episode is open (events) */
	uint64_t episode_copies;
	struct repl_stats st;
	/* The last pass found nothing to do and nothing under way (quiet),
	 * at this state of its inputs: the next pass with the same inputs
	 * would find the same, so it is skipped (run_pass). */
	bool quiet;
	uint64_t seen_blocks, seen_applied, seen_workers;
};

struct repl *repl_new(const struct repl_opts *o)
{
	struct repl *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->o = *o;
	if (!r->o.batch)
		r->o.batch = 64;
	if (r->o.order_timeout_ms <= 0)
		r->o.order_timeout_ms = 10000;
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

static void clear_locked(struct repl *r)
{
	for (size_t i = 0; i < r->nqueues; i++) {
		for (size_t k = 0; k < r->queues[i].n; k++)
			free(r->queues[i].orders[k].path);
		free(r->queues[i].orders);
	}
	free(r->queues);
	r->queues = NULL;
	r->nqueues = 0;
	free(r->flights);
	r->flights = NULL;
	r->nflights = r->flights_cap = 0;
	r->quiet = false;
	r->ndrains = 0;
	r->repairing = false;
}

void repl_free(struct repl *r)
{
	if (!r)
		return;
	clear_locked(r);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- the pure core ---- */

static const struct repl_worker *find_worker(const struct repl_worker *w, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (w[i].id == id)
			return &w[i];
	return NULL;
}

static bool eligible(const struct repl_worker *w)
{
	return w && w->live && w->admin == WORKER_ACTIVE;
}

void repl_plan_block(uint64_t block, const struct block_loc *locs, size_t nloc,
		     const struct repl_worker *workers, size_t nworkers, int64_t min, int64_t max,
		     struct repl_plan *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t ids[MAX_WORKERS];
	size_t nelig = 0;
	for (size_t i = 0; i < nworkers && nelig < MAX_WORKERS; i++)
		if (eligible(&workers[i]))
			ids[nelig++] = workers[i].id;
	/* The block map records at most BLOCKMAP_MAX_LOCS holders: more
	 * copies could never be seen made. */
	size_t k = min > 1 ? (size_t)min : 1;
	if (k > BLOCKMAP_MAX_LOCS)
		k = BLOCKMAP_MAX_LOCS;
	if (k > nelig)
		k = nelig;
	out->want = k;

	/* Holders: eligible ones count; any live one can be the source (an
	 * active one first: it stays). */
	uint64_t held[BLOCKMAP_MAX_LOCS];
	size_t nheld = 0;
	for (size_t i = 0; i < nloc && i < BLOCKMAP_MAX_LOCS; i++) {
		const struct repl_worker *w = find_worker(workers, nworkers, locs[i].worker_id);
		if (!w || !w->live)
			continue;
		if (eligible(w)) {
			held[nheld++] = w->id;
			if (!out->source || !eligible(find_worker(workers, nworkers, out->source)))
				out->source = w->id;
		} else if (!out->source) {
			out->source = w->id;
		}
	}
	out->have = nheld;

	if (nheld < k && out->source) {
		size_t owners[REPL_MAX_COPIES];
		size_t n = placement_owners(block, ids, nelig, k, owners);
		for (size_t i = 0; i < n && nheld + out->nfetch < k; i++) {
			bool has = false;
			for (size_t j = 0; j < nheld; j++)
				has = has || held[j] == ids[owners[i]];
			if (!has)
				out->fetch_to[out->nfetch++] = ids[owners[i]];
		}
	}

	if (max >= 1 && nheld > (size_t)max) {
		/* Keep the max holders first in the rendezvous order. */
		for (size_t i = 1; i < nheld; i++) {
			for (size_t j = i; j > 0; j--) {
				uint64_t wa = placement_weight(block, held[j - 1]);
				uint64_t wb = placement_weight(block, held[j]);
				if (wb > wa || (wb == wa && held[j] < held[j - 1])) {
					uint64_t t = held[j];
					held[j] = held[j - 1];
					held[j - 1] = t;
				}
			}
		}
		for (size_t i = (size_t)max; i < nheld; i++)
			out->drop_from[out->ndrop++] = held[i];
	}
}

/* ---- orders and flights ---- */

static int cmp_flight(const void *a, const void *b)
{
	uint64_t x = ((const struct flight *)a)->block, y = ((const struct flight *)b)->block;
	return x < y ? -1 : x > y;
}

/* Whether an order for (block, target) is in flight. The first nsorted
 * flights are sorted by block (a pass sorts them first); the ones a pass
 * adds come after and concern the blocks it already went past, so a
 * binary search of the sorted part finds what a pass asks about. */
static bool in_flight(struct repl *r, size_t nsorted, uint64_t block, uint64_t target, bool drop)
{
	size_t lo = 0, hi = nsorted;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->flights[mid].block < block)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < nsorted && r->flights[i].block == block; i++)
		if (r->flights[i].target == target && r->flights[i].drop == drop)
			return true;
	return false;
}

static struct wqueue *queue_of(struct repl *r, uint64_t worker_id, bool create)
{
	for (size_t i = 0; i < r->nqueues; i++)
		if (r->queues[i].worker_id == worker_id)
			return &r->queues[i];
	if (!create)
		return NULL;
	struct wqueue *q = realloc(r->queues, (r->nqueues + 1) * sizeof(*q));
	if (!q)
		return NULL;
	r->queues = q;
	q = &r->queues[r->nqueues++];
	memset(q, 0, sizeof(*q));
	q->worker_id = worker_id;
	return q;
}

/* Queues an order for target and records it in flight; false when it
 * could not (queue full, out of memory): a later pass tries again. */
static bool order(struct repl *r, uint64_t target, const struct order *o, int64_t now_ms)
{
	struct wqueue *q = queue_of(r, target, true);
	if (!q || q->n >= QUEUE_MAX)
		return false;
	if (r->nflights == r->flights_cap) {
		size_t cap = r->flights_cap ? r->flights_cap * 2 : 64;
		struct flight *f = realloc(r->flights, cap * sizeof(*f));
		if (!f)
			return false;
		r->flights = f;
		r->flights_cap = cap;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct order *grown = realloc(q->orders, cap * sizeof(*grown));
		if (!grown)
			return false;
		q->orders = grown;
		q->cap = cap;
	}
	struct order *slot = &q->orders[q->n];
	*slot = *o;
	slot->path = NULL;
	if (o->path && !(slot->path = strdup(o->path)))
		return false;
	q->n++;
	r->flights[r->nflights++] = (struct flight){ o->block, target, o->drop,
						     now_ms + r->o.order_timeout_ms };
	return true;
}

/* Forgets flights that are done (the block map says so) or timed out. */
static void settle_flights(struct repl *r, int64_t now_ms)
{
	size_t i = 0;
	while (i < r->nflights) {
		struct flight *f = &r->flights[i];
		struct block_loc locs[BLOCKMAP_MAX_LOCS];
		size_t n = blockmap_get(r->o.blocks, f->block, locs, BLOCKMAP_MAX_LOCS);
		bool holds = false;
		for (size_t k = 0; k < n; k++)
			holds = holds || locs[k].worker_id == f->target;
		bool done = f->drop ? !holds : holds;
		if (done) {
			if (f->drop) {
				r->st.drops_made++;
			} else {
				r->st.copies_made++;
				r->episode_copies++;
			}
		} else if (now_ms >= f->deadline_ms) {
			if (!f->drop)
				r->st.copies_timed_out++;
		} else {
			i++;
			continue;
		}
		r->flights[i] = r->flights[--r->nflights];
	}
}

/* ---- the pass ---- */

static int cmp_entry(const void *a, const void *b)
{
	uint64_t x = ((const struct blockmap_entry *)a)->block;
	uint64_t y = ((const struct blockmap_entry *)b)->block;
	return x < y ? -1 : x > y;
}

/* The file of a content id: its path and replication bounds. */
struct file_ref {
	uint64_t data_id;
	bool found;
	int64_t min, max;
	char path[PATH_MAX_LEN + 1];
	struct ns_dir_cache dir; /* across the files of one pass */
};

static void lookup_file(struct repl *r, uint64_t data_id, struct file_ref *f)
{
	f->data_id = data_id;
	struct ns_inode n;
	struct ns *ns = meta_read_lock(r->o.meta);
	f->found = ns_by_data_id(ns, data_id, &n, f->path, sizeof(f->path), &f->dir) == 0;
	meta_read_unlock(r->o.meta);
	f->min = f->found ? n.repl_min : 0;
	f->max = f->found ? n.repl_max : -1;
}

static struct drain *drain_of(struct repl *r, uint64_t id)
{
	for (size_t i = 0; i < r->ndrains; i++)
		if (r->drains[i].id == id)
			return &r->drains[i];
	return NULL;
}

static void record(struct repl *r, const char *type, const char *detail)
{
	if (r->o.events)
		events_add(r->o.events, clock_wall_ms(), type, "", detail);
}

/* Journals that a drained worker is decommissioned. */
static int finish_drain(struct repl *r, const struct registry_entry *w, char *err, size_t errlen)
{
	char detail[400];
	/* The step between decommissioning and decommissioned: the leader saw
	 * the drain done (the journaled state change comes right after). */
	snprintf(detail, sizeof(detail),
		 "worker %.300s: every block it held has its copies on other workers", w->address);
	record(r, "worker_drained", detail);
	struct journal_cmd *c = journal_new(JOURNAL_WORKER_STATE);
	if (!c)
		return -ENOMEM;
	snprintf(c->u.worker_state.address, sizeof(c->u.worker_state.address), "%s", w->address);
	snprintf(c->u.worker_state.state, sizeof(c->u.worker_state.state), "decommissioned");
	c->u.worker_state.time_ms = clock_wall_ms();
	int rc = meta_submit(r->o.meta, c, err, errlen);
	journal_free(c);
	if (!rc)
		rc = registry_set_admin(r->o.registry, w->address, WORKER_DECOMMISSIONED);
	if (!rc)
		log_info("worker %" PRIu64 " at %s is decommissioned: every block it held has its "
			 "copies on other workers",
			 w->id, w->address);
	return rc;
}

/* What one pass works with: the workers (the runner's thread only, so
 * the big arrays are static) and what it found. */
struct pass {
	struct registry_entry ents[MAX_WORKERS];
	struct repl_worker workers[MAX_WORKERS];
	size_t nw, neligible;
	bool short_on[MAX_WORKERS]; /* a draining worker holds a block short of copies */
	uint64_t under, over;
	size_t nsorted;             /* flights sorted at the start (in_flight) */
	int64_t now_ms;
};

/* The orders for one block of file f (r->lock held). */
static void plan_entry(struct repl *r, struct pass *ps, const struct blockmap_entry *e,
		       struct file_ref *f)
{
	struct repl_plan p;
	repl_plan_block(e->block, e->locs, e->nloc, ps->workers, ps->nw, f->min, f->max, &p);
	if (p.have < p.want) {
		ps->under++;
		for (size_t k = 0; k < e->nloc; k++)
			for (size_t j = 0; j < ps->nw; j++)
				if (ps->workers[j].id == e->locs[k].worker_id &&
				    ps->workers[j].admin == WORKER_DECOMMISSIONING)
					ps->short_on[j] = true;
	}
	ps->over += p.ndrop > 0;
	const struct registry_entry *src = NULL;
	for (size_t j = 0; j < ps->nw && p.source; j++)
		if (ps->ents[j].id == p.source)
			src = &ps->ents[j];
	for (size_t k = 0; k < p.nfetch && src; k++) {
		if (in_flight(r, ps->nsorted, e->block, p.fetch_to[k], false))
			continue;
		struct order o = { .block = e->block, .data_id = f->data_id, .path = f->path };
		snprintf(o.source, sizeof(o.source), "%s", src->address);
		if (order(r, p.fetch_to[k], &o, ps->now_ms))
			r->st.copies_ordered++;
	}
	for (size_t k = 0; k < p.ndrop; k++) {
		if (in_flight(r, ps->nsorted, e->block, p.drop_from[k], true))
			continue;
		struct order o = { .block = e->block, .data_id = f->data_id, .drop = true };
		if (order(r, p.drop_from[k], &o, ps->now_ms))
			r->st.drops_ordered++;
	}
}

/* Forgets the orders queued for workers that are not live any more (their
 * flights time out and the orders go to others). r->lock held. */
static void drop_dead_queues(struct repl *r, const struct pass *ps)
{
	size_t i = 0;
	while (i < r->nqueues) {
		bool live = false;
		for (size_t j = 0; j < ps->nw && !live; j++)
			live = ps->ents[j].id == r->queues[i].worker_id && ps->ents[j].live;
		if (live) {
			i++;
			continue;
		}
		for (size_t k = 0; k < r->queues[i].n; k++)
			free(r->queues[i].orders[k].path);
		free(r->queues[i].orders);
		r->queues[i] = r->queues[--r->nqueues];
	}
}

/* Goes over the block map (sorted by block, so a file's blocks come
 * together and its lookup is made once), queuing orders. */
static int plan_all(struct repl *r, struct pass *ps)
{
	struct blockmap_entry *list = NULL;
	size_t n = 0;
	struct file_ref *f = calloc(1, sizeof(*f));
	if (!f || blockmap_list(r->o.blocks, &list, &n)) {
		free(f);
		return -ENOMEM;
	}
	if (n)
		qsort(list, n, sizeof(*list), cmp_entry);
	f->data_id = UINT64_MAX;
	pthread_mutex_lock(&r->lock);
	settle_flights(r, ps->now_ms);
	drop_dead_queues(r, ps);
	ps->nsorted = r->nflights;
	if (ps->nsorted)
		qsort(r->flights, ps->nsorted, sizeof(*r->flights), cmp_flight);
	for (size_t i = 0; i < n; i++) {
		uint64_t data_id = list[i].block >> PLACEMENT_INDEX_BITS;
		if (f->data_id != data_id) {
			pthread_mutex_unlock(&r->lock);
			lookup_file(r, data_id, f);
			pthread_mutex_lock(&r->lock);
		}
		if (f->found) /* else old content: nothing to keep */
			plan_entry(r, ps, &list[i], f);
	}
	r->st.under_replicated = ps->under;
	r->st.over_replicated = ps->over;
	r->st.passes++;
	pthread_mutex_unlock(&r->lock);
	free(f);
	free(list);
	return 0;
}

/* The replication_started / _finished events of an episode of blocks
 * short of copies (r->lock held). */
static void note_episode(struct repl *r, uint64_t under)
{
	char detail[160];
	if (under && !r->repairing) {
		r->repairing = true;
		r->episode_copies = 0;
		snprintf(detail, sizeof(detail), "%" PRIu64 " blocks under their minimum copies",
			 under);
		record(r, "replication_started", detail);
	} else if (!under && r->repairing) {
		r->repairing = false;
		snprintf(detail, sizeof(detail), "every block has its minimum copies; %" PRIu64
			 " copies made", r->episode_copies);
		record(r, "replication_finished", detail);
	}
}

/* Drains: a draining worker with nothing short for two passes in a row
 * (its last blocks were reported) is done; with no eligible worker to
 * take its blocks it waits. The done ones go to done[] (r->lock held). */
static size_t settle_drains(struct repl *r, const struct pass *ps, struct registry_entry *done)
{
	struct drain kept[MAX_WORKERS];
	size_t ndone = 0, nkept = 0;
	uint64_t draining = 0;
	for (size_t j = 0; j < ps->nw; j++) {
		const struct registry_entry *w = &ps->ents[j];
		if (!w->live || w->admin != WORKER_DECOMMISSIONING)
			continue;
		draining++;
		struct drain *d = drain_of(r, w->id);
		struct drain nd = { w->id, d ? d->clean_passes : 0 };
		nd.clean_passes = ps->short_on[j] || !ps->neligible ? 0 : nd.clean_passes + 1;
		if (nd.clean_passes >= 2)
			done[ndone++] = *w;
		else
			kept[nkept++] = nd;
	}
	memcpy(r->drains, kept, nkept * sizeof(*kept));
	r->ndrains = nkept;
	r->st.decommissioning = draining;
	return ndone;
}

/* The workers as the planner sees them, as one number (FNV-1a). */
static uint64_t workers_sig(const struct pass *ps)
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (size_t i = 0; i < ps->nw; i++) {
		uint64_t v[3] = { ps->ents[i].id, ps->ents[i].live, (uint64_t)ps->ents[i].admin };
		const unsigned char *b = (const unsigned char *)v;
		for (size_t k = 0; k < sizeof(v); k++)
			h = (h ^ b[k]) * UINT64_C(1099511628211);
	}
	return h;
}

/* Nothing short, over or draining, no copy or drop in flight or queued
 * (r->lock held). */
static bool quiet_locked(const struct repl *r, const struct pass *ps)
{
	if (ps->under || ps->over || r->nflights || r->ndrains)
		return false;
	for (size_t i = 0; i < r->nqueues; i++)
		if (r->queues[i].n)
			return false;
	return true;
}

static int run_pass(struct repl *r, int64_t now_ms, char *err, size_t errlen)
{
	static struct pass ps;
	static struct registry_entry done[MAX_WORKERS];
	memset(&ps, 0, sizeof(ps));
	ps.now_ms = now_ms;
	ps.nw = registry_list(r->o.registry, ps.ents, MAX_WORKERS);
	for (size_t i = 0; i < ps.nw; i++) {
		ps.workers[i] = (struct repl_worker){ ps.ents[i].id, ps.ents[i].live,
						      ps.ents[i].admin };
		ps.neligible += eligible(&ps.workers[i]);
	}
	/* Read before the pass: a change during it moves them for the next. */
	uint64_t blocks = blockmap_version(r->o.blocks);
	uint64_t applied = meta_applied_index(r->o.meta), workers = workers_sig(&ps);
	pthread_mutex_lock(&r->lock);
	bool same = r->quiet && blocks == r->seen_blocks && applied == r->seen_applied &&
		    workers == r->seen_workers;
	if (same)
		r->st.passes_skipped++;
	pthread_mutex_unlock(&r->lock);
	if (same)
		return 0; /* every block as it was, every file's bounds too */
	int rc = plan_all(r, &ps);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	pthread_mutex_lock(&r->lock);
	note_episode(r, ps.under);
	size_t ndone = settle_drains(r, &ps, done);
	r->quiet = quiet_locked(r, &ps) && !ndone;
	r->seen_blocks = blocks;
	r->seen_applied = applied;
	r->seen_workers = workers;
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < ndone; i++) {
		rc = finish_drain(r, &done[i], err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int job_step(void *arg, int64_t now_ms, char *err, size_t errlen)
{
	int rc = run_pass(arg, now_ms, err, errlen);
	return rc ? rc : JOBS_AGAIN;
}

static int load_state(void *arg, const char *address, const char *state)
{
	struct repl *r = arg;
	enum worker_admin a = strcmp(state, "decommissioned") == 0 ? WORKER_DECOMMISSIONED
								  : WORKER_DECOMMISSIONING;
	return registry_set_admin(r->o.registry, address, a);
}

/* On leadership gain: the administrative states from the namespace. */
static int job_resume(void *arg, char *err, size_t errlen)
{
	struct repl *r = arg;
	registry_clear_admin(r->o.registry);
	struct ns *ns = meta_read_lock(r->o.meta);
	int rc = ns_worker_states(ns, load_state, r);
	meta_read_unlock(r->o.meta);
	if (rc)
		snprintf(err, errlen, "cannot read the workers' states: %s", strerror(-rc));
	return rc;
}

static void job_stop(void *arg)
{
	struct repl *r = arg;
	pthread_mutex_lock(&r->lock);
	clear_locked(r);
	pthread_mutex_unlock(&r->lock);
}

void repl_spec(struct repl *r, int64_t period_ms, struct jobs_spec *out)
{
	*out = (struct jobs_spec){
		.name = "replication check",
		.kind = JOBS_PERIODIC,
		.period_ms = period_ms > 0 ? period_ms : 1000,
		.resume = job_resume,
		.step = job_step,
		.stop = job_stop,
		.arg = r,
	};
}

int repl_take_orders(struct repl *r, uint64_t worker_id, cJSON *reply)
{
	int rc = 0;
	pthread_mutex_lock(&r->lock);
	struct wqueue *q = queue_of(r, worker_id, false);
	if (!q || !q->n)
		goto out;
	size_t take = q->n < r->o.batch ? q->n : r->o.batch;
	cJSON *copies = NULL, *drops = NULL;
	for (size_t i = 0; i < take && !rc; i++) {
		const struct order *o = &q->orders[i];
		if (o->drop) {
			char id[24];
			snprintf(id, sizeof(id), "%" PRIu64, o->block);
			if (!drops && !(drops = cJSON_AddArrayToObject(reply, "drop")))
				rc = -ENOMEM;
			else if (!cJSON_AddItemToArray(drops, cJSON_CreateString(id)))
				rc = -ENOMEM;
			continue;
		}
		cJSON *c = cJSON_CreateObject();
		if (!c || (!copies && !(copies = cJSON_AddArrayToObject(reply, "replicate"))) ||
		    !cJSON_AddItemToArray(copies, c)) {
			cJSON_Delete(c);
			rc = -ENOMEM;
			break;
		}
		json_add_u64(c, "block", o->block);
		json_add_u64(c, "data_id", o->data_id);
		cJSON_AddStringToObject(c, "path", o->path);
		cJSON_AddStringToObject(c, "source", o->source);
	}
	if (rc)
		goto out;
	for (size_t i = 0; i < take; i++)
		free(q->orders[i].path);
	memmove(q->orders, q->orders + take, (q->n - take) * sizeof(*q->orders));
	q->n -= take;
out:
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int repl_decommission(struct repl *r, uint64_t id, int64_t now_wall_ms,
		      struct registry_entry *out, char *err, size_t errlen)
{
	int rc = registry_get(r->o.registry, id, out);
	if (rc) {
		snprintf(err, errlen, "field 'id': no worker %" PRIu64 " is registered", id);
		return -ENOENT;
	}
	if (out->admin != WORKER_ACTIVE)
		return 0; /* already draining or drained: nothing changes */
	struct journal_cmd *c = journal_new(JOURNAL_WORKER_STATE);
	if (!c)
		return -ENOMEM;
	snprintf(c->u.worker_state.address, sizeof(c->u.worker_state.address), "%s", out->address);
	snprintf(c->u.worker_state.state, sizeof(c->u.worker_state.state), "decommissioning");
	c->u.worker_state.time_ms = now_wall_ms;
	rc = meta_submit(r->o.meta, c, err, errlen);
	journal_free(c);
	if (!rc)
		rc = registry_set_admin(r->o.registry, out->address, WORKER_DECOMMISSIONING);
	if (!rc) {
		registry_get(r->o.registry, id, out);
		log_info("worker %" PRIu64 " at %s is decommissioning", id, out->address);
	}
	return rc;
}

void repl_stats_get(struct repl *r, struct repl_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->st;
	pthread_mutex_unlock(&r->lock);
}
