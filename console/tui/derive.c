/* The figures of strata-top from two consecutive samples (top.h). */
#include "console/tui/top.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

const char *const top_col_names[COL_COUNT] = {
	"ADDRESS", "STATE", "HIT%", "REQ/s", "MiB/s", "STORE/s",
	"MEM%", "SSD%", "HDD%", "EVICT/s", "HB AGE",
};

static int tier_index(const char *name)
{
	for (int t = 0; t < TOP_NTIERS; t++)
		if (strcmp(name, top_tier_names[t]) == 0)
			return t;
	return -1;
}

static double counter(const struct client_counter *c, size_t n, const char *name)
{
	return client_counter_value(c, n, name, 0);
}

/* Per-second rate of counter `name` between two counter sets; -1 unknown. */
static double rate_of(const struct client_counter *pc, size_t pn, const struct client_counter *cc,
		      size_t cn, bool have_prev, int64_t dt_ms, const char *name, double *delta)
{
	double d = 0, r = -1;
	if (rates_counter(counter(pc, pn, name), counter(cc, cn, name), have_prev, dt_ms, &d,
			  &r))
		return -1;
	if (delta)
		*delta = d;
	return r;
}

static const struct client_worker_stats *prev_stats(const struct top_sample *prev, uint64_t id)
{
	if (!prev || prev->rc)
		return NULL;
	for (size_t i = 0; i < prev->cluster.nworkers; i++)
		if (prev->cluster.workers[i].id == id && prev->wrc[i] == 0)
			return &prev->wstats[i];
	return NULL;
}

static const struct client_mount_stats *prev_mount(const struct client_worker_stats *p,
						   const char *mount)
{
	for (size_t i = 0; p && i < p->nmounts; i++)
		if (strcmp(p->mounts[i].mount, mount) == 0)
			return &p->mounts[i];
	return NULL;
}

/* Per-second rate of one per-mount counter; -1 unknown. */
static double mrate(double prev, double cur, bool have_prev, int64_t dt_ms, double *delta)
{
	double d = 0, r = -1;
	if (rates_counter(prev, cur, have_prev, dt_ms, &d, &r))
		return -1;
	if (delta)
		*delta = d;
	return r;
}

/* The worker's per-mount rows: rates against its previous sample p. */
static void build_mounts(const struct client_worker_stats *p, const struct client_worker_stats *s,
			 int64_t dt, struct top_row *r)
{
	if (!s->nmounts || !(r->mounts = calloc(s->nmounts, sizeof(*r->mounts))))
		return;
	r->nmounts = s->nmounts;
	for (size_t k = 0; k < s->nmounts; k++) {
		const struct client_mount_stats *c = &s->mounts[k], *o = prev_mount(p, c->mount);
		struct top_mount_row *m = &r->mounts[k];
		bool hp = o != NULL;
		double dh = 0, dm = 0;
		m->mount = c->mount;
		m->hit_pct_total = rates_percent((double)c->block_hits,
						 (double)(c->block_hits + c->block_misses));
		m->req_s = mrate(hp ? (double)o->read_requests : 0, (double)c->read_requests, hp, dt,
				 NULL);
		mrate(hp ? (double)o->block_hits : 0, (double)c->block_hits, hp, dt, &dh);
		mrate(hp ? (double)o->block_misses : 0, (double)c->block_misses, hp, dt, &dm);
		m->hit_pct = m->req_s < 0 ? -1 : rates_percent(dh, dh + dm);
		m->cache_mib_s = mrate(hp ? (double)o->bytes_from_cache : 0,
				       (double)c->bytes_from_cache, hp, dt, NULL);
		m->store_mib_s = mrate(hp ? (double)o->bytes_from_ufs : 0, (double)c->bytes_from_ufs,
				       hp, dt, NULL);
		if (m->cache_mib_s >= 0)
			m->cache_mib_s /= MIB;
		if (m->store_mib_s >= 0)
			m->store_mib_s /= MIB;
	}
}

static void build_row(const struct top_sample *prev, const struct top_sample *cur, size_t i,
		      struct top_row *r, struct top_view *v)
{
	const struct client_worker *w = &cur->cluster.workers[i];
	memset(r, 0, sizeof(*r));
	r->id = w->id;
	r->address = w->address;
	r->state = w->state;
	r->live = w->live;
	r->hb_age_ms = w->last_heartbeat_ms_ago;
	r->hit_pct = r->req_s = r->served_mib_s = r->store_mib_s = r->evict_s = -1;
	for (int t = 0; t < TOP_NTIERS; t++)
		r->tier_pct[t] = -1;
	if (cur->wrc[i])
		return;
	r->reachable = true;
	const struct client_worker_stats *s = &cur->wstats[i];
	r->stats = s;
	for (size_t k = 0; k < s->ntiers; k++) {
		int t = tier_index(s->tiers[k].name);
		if (t < 0)
			continue;
		r->tier_pct[t] = rates_percent((double)s->tiers[k].used_bytes,
					       (double)s->tiers[k].capacity_bytes);
		if (r->tier_pct[t] < 0)
			r->tier_pct[t] = 0;
		v->tier_cap[t] += s->tiers[k].capacity_bytes;
		v->tier_used[t] += s->tiers[k].used_bytes;
	}
	const struct client_worker_stats *p = prev_stats(prev, w->id);
	int64_t dt = prev ? cur->t_ms - prev->t_ms : 0;
	build_mounts(p, s, dt, r);
	const struct client_counter *pc = p ? p->counters : NULL;
	size_t pn = p ? p->ncounters : 0;
	bool hp = p != NULL;
	double dh = 0, dm = 0, dc = 0, du = 0;
	r->req_s = rate_of(pc, pn, s->counters, s->ncounters, hp, dt, "read_requests_total", NULL);
	if (r->req_s < 0)
		return;
	r->rates = true;
	rate_of(pc, pn, s->counters, s->ncounters, hp, dt, "block_hits_total", &dh);
	rate_of(pc, pn, s->counters, s->ncounters, hp, dt, "block_misses_total", &dm);
	double c = rate_of(pc, pn, s->counters, s->ncounters, hp, dt, "bytes_from_cache_total",
			   &dc);
	double u = rate_of(pc, pn, s->counters, s->ncounters, hp, dt, "bytes_from_ufs_total", &du);
	r->hit_pct = rates_percent(dh, dh + dm);
	/* A block's owner counts its hit or miss and the bytes it produced
	 * (cache or store); the worker a client asked counts the request and
	 * the bytes it pulled from the owner (peers): served is what this
	 * worker produced, so peer transfers are not counted twice. */
	r->served_mib_s = (c + u) / MIB;
	r->store_mib_s = u / MIB;
	r->evict_s = rate_of(pc, pn, s->counters, s->ncounters, hp, dt, "evictions_total", NULL);
}

static void build_cluster(const struct top_sample *prev, const struct top_sample *cur,
			  struct top_view *v)
{
	const struct client_counter *cc = cur->metrics.cluster;
	size_t cn = cur->metrics.ncluster;
	double h = counter(cc, cn, "block_hits_total"), m = counter(cc, cn, "block_misses_total");
	/* bytes from peers were already counted as cache or store bytes by
	 * their owner: they are left out of the byte hit ratio */
	double bc = counter(cc, cn, "bytes_from_cache_total");
	double bu = counter(cc, cn, "bytes_from_ufs_total");
	v->hit_req_pct_total = rates_percent(h, h + m);
	v->hit_bytes_pct_total = rates_percent(bc, bc + bu);
	v->put_err_total = counter(cc, cn, "cache_put_errors_total");
	v->write_err_total = counter(cc, cn, "tier_write_errors_total");
	v->cksum_err_total = counter(cc, cn, "checksum_failures_total");
	v->store_err_total = counter(cc, cn, "store_read_errors_total");
	v->hit_req_pct = v->hit_bytes_pct = v->req_s = v->cache_mib_s = v->store_mib_s = -1;
	v->peers_mib_s = v->put_err_s = v->write_err_s = v->cksum_err_s = v->store_err_s = -1;
	bool hp = prev && !prev->rc && !prev->metrics_rc && !cur->metrics_rc;
	if (!hp)
		return;
	const struct client_counter *pc = prev->metrics.cluster;
	size_t pn = prev->metrics.ncluster;
	int64_t dt = cur->t_ms - prev->t_ms;
	double dh = 0, dm = 0, dc = 0, du = 0, dp = 0;
	v->req_s = rate_of(pc, pn, cc, cn, hp, dt, "read_requests_total", NULL);
	if (v->req_s < 0)
		return;
	rate_of(pc, pn, cc, cn, hp, dt, "block_hits_total", &dh);
	rate_of(pc, pn, cc, cn, hp, dt, "block_misses_total", &dm);
	v->cache_mib_s = rate_of(pc, pn, cc, cn, hp, dt, "bytes_from_cache_total", &dc) / MIB;
	v->store_mib_s = rate_of(pc, pn, cc, cn, hp, dt, "bytes_from_ufs_total", &du) / MIB;
	v->peers_mib_s = rate_of(pc, pn, cc, cn, hp, dt, "bytes_from_peers_total", &dp) / MIB;
	v->hit_req_pct = rates_percent(dh, dh + dm);
	v->hit_bytes_pct = rates_percent(dc, dc + du);
	v->put_err_s = rate_of(pc, pn, cc, cn, hp, dt, "cache_put_errors_total", NULL);
	v->write_err_s = rate_of(pc, pn, cc, cn, hp, dt, "tier_write_errors_total", NULL);
	v->cksum_err_s = rate_of(pc, pn, cc, cn, hp, dt, "checksum_failures_total", NULL);
	v->store_err_s = rate_of(pc, pn, cc, cn, hp, dt, "store_read_errors_total", NULL);
	v->rates = true;
	v->dt_s = (double)dt / 1000.0;
}

/* The sparkline's series: the master's history when it has one, else the
 * samples strata-top took itself. */
static void build_spark(const struct top_sample *cur, struct rates_ring *ring,
			struct top_view *v)
{
	const struct client_counter *cc = cur->metrics.cluster;
	size_t cn = cur->metrics.ncluster;
	if (!cur->metrics_rc)
		rates_ring_push(ring, (int64_t)counter(cc, cn, "block_hits_total"),
				(int64_t)counter(cc, cn, "block_misses_total"));
	const int64_t *hh = client_history_column(&cur->history, "block_hits_total");
	const int64_t *hm = client_history_column(&cur->history, "block_misses_total");
	if (!cur->history_rc && hh && hm && cur->history.count >= 2) {
		size_t n = cur->history.count, skip = n > 721 ? n - 721 : 0;
		v->nspark = rates_hit_series(hh + skip, hm + skip, n - skip, v->spark);
		v->spark_from_history = true;
		v->spark_step_ms = cur->history.interval_ms;
		return;
	}
	static int64_t h[RATES_RING_MAX], m[RATES_RING_MAX];
	size_t n = rates_ring_copy(ring, h, m);
	v->nspark = rates_hit_series(h, m, n, v->spark);
	v->spark_from_history = false;
	v->spark_step_ms = (int64_t)(v->dt_s * 1000);
}

int top_view_build(const struct top_sample *prev, const struct top_sample *cur,
		   struct rates_ring *ring, struct top_view *v)
{
	memset(v, 0, sizeof(*v));
	v->cur = cur;
	if (cur->rc)
		return 0;
	if (prev && prev->rc)
		prev = NULL;
	for (size_t i = 0; i < cur->masters.n; i++) {
		const char *role = cur->masters.masters[i].role;
		v->masters_total++;
		if (strcmp(role, "unreachable") != 0 && strcmp(role, "unknown") != 0)
			v->masters_up++;
	}
	build_cluster(prev, cur, v);
	v->rows = calloc(cur->cluster.nworkers ? cur->cluster.nworkers : 1, sizeof(*v->rows));
	if (!v->rows)
		return -ENOMEM;
	v->nrows = cur->cluster.nworkers;
	for (size_t i = 0; i < v->nrows; i++)
		build_row(prev, cur, i, &v->rows[i], v);
	build_spark(cur, ring, v);
	return 0;
}

void top_view_clear(struct top_view *v)
{
	for (size_t i = 0; i < v->nrows; i++)
		free(v->rows[i].mounts);
	free(v->rows);
	memset(v, 0, sizeof(*v));
}

static enum top_col g_sort_col;
static bool g_sort_rev;

static double col_value(const struct top_row *r, enum top_col c)
{
	switch (c) {
	case COL_HIT: return r->hit_pct;
	case COL_REQ: return r->req_s;
	case COL_SERVED: return r->served_mib_s;
	case COL_STORE: return r->store_mib_s;
	case COL_MEM: return r->tier_pct[TOP_MEM];
	case COL_SSD: return r->tier_pct[TOP_SSD];
	case COL_HDD: return r->tier_pct[TOP_HDD];
	case COL_EVICT: return r->evict_s;
	case COL_HB: return (double)r->hb_age_ms;
	default: return 0;
	}
}

static int cmp_rows(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;
	int c;
	if (g_sort_col == COL_ADDRESS)
		c = strcmp(x->address, y->address);
	else if (g_sort_col == COL_STATE)
		c = strcmp(x->state, y->state);
	else {
		double dx = col_value(x, g_sort_col), dy = col_value(y, g_sort_col);
		/* numbers: largest first, like top */
		c = dx < dy ? 1 : dx > dy ? -1 : 0;
	}
	if (c == 0)
		c = x->id < y->id ? -1 : x->id > y->id;
	return g_sort_rev ? -c : c;
}

void top_sort_rows(struct top_row *rows, size_t n, enum top_col col, bool reverse)
{
	if (n < 2) /* rows is NULL when the refresh failed */
		return;
	g_sort_col = col;
	g_sort_rev = reverse;
	qsort(rows, n, sizeof(*rows), cmp_rows);
}
