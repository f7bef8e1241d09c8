#include "daemon/master/revalidate.h"

#include "daemon/master/blockmap.h"
#include "daemon/master/fs.h"
#include "daemon/master/meta.h"
#include "daemon/master/ns.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/placement.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A string-keyed open-addressing table; entries are removed by rebuilding
 * it without them (tab_keep), so there are no tombstones. */
struct tab_ent {
	char *key; /* owned; NULL: free slot */
	int64_t ms;
	int64_t until; /* names: wanted until then for their cached blocks */
	void *ptr;     /* owned by the user of the table */
};

struct tab {
	struct tab_ent *v;
	size_t n, cap;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct tab_ent *tab_slot(const struct tab *t, const char *key)
{
	size_t mask = t->cap - 1;
	size_t i = (size_t)str_hash(key) & mask;
	while (t->v[i].key && strcmp(t->v[i].key, key) != 0)
		i = (i + 1) & mask;
	return &t->v[i];
}

static struct tab_ent *tab_get(const struct tab *t, const char *key)
{
	if (!t->cap)
		return NULL;
	struct tab_ent *e = tab_slot(t, key);
	return e->key ? e : NULL;
}

/* Moves the entries of t that keep() accepts (all when keep is NULL)
 * into a table of cap slots; the others are handed to drop(). */
static int tab_rebuild(struct tab *t, size_t cap, bool (*keep)(struct tab_ent *, void *),
		       void (*drop)(struct tab_ent *), void *arg)
{
	struct tab nt = { .cap = cap };
	nt.v = calloc(cap, sizeof(*nt.v));
	if (!nt.v)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct tab_ent *e = &t->v[i];
		if (!e->key)
			continue;
		if (keep && !keep(e, arg)) {
			drop(e);
			continue;
		}
		*tab_slot(&nt, e->key) = *e;
		nt.n++;
	}
	free(t->v);
	*t = nt;
	return 0;
}

/* The entry of key, added (ms 0, ptr NULL) when new; NULL out of memory. */
static struct tab_ent *tab_put(struct tab *t, const char *key)
{
	struct tab_ent *e = tab_get(t, key);
	if (e)
		return e;
	if ((t->n + 1) * 2 > t->cap && tab_rebuild(t, t->cap ? t->cap * 2 : 16, NULL, NULL, NULL))
		return NULL;
	char *k = strdup(key);
	if (!k)
		return NULL;
	e = tab_slot(t, key);
	*e = (struct tab_ent){ .key = k };
	t->n++;
	return e;
}

/* A directory with wanted files: names (ms: when last wanted). */
struct rdir {
	struct tab names;
	int64_t next_ms;     /* next check due (wall ms); 0 at once */
	int64_t interval_ms; /* its mount's sync interval; 0 unknown */
	bool failing;        /* the last check failed (logged once until it works) */
};

struct reval {
	struct reval_opts o;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct tab dirs; /* path -> struct rdir */
	pthread_t thread;
	bool started, stopping, leading;
	uint64_t passes, ndirs_checked, errors;
	/* The block map scans: what the last one saw, so an unchanged map
	 * and namespace only extend what it marked (until == marked_until). */
	int64_t next_scan_ms, marked_until;
	int64_t scan_period_ms; /* cached_scan_ms, longer when scans are slow */
	bool scanned;
	uint64_t seen_blocks, seen_applied, ncached, nscans;
};

static void drop_name(struct tab_ent *e)
{
	free(e->key);
}

static void free_names(struct tab *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->v[i].key);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static void drop_dir(struct tab_ent *e)
{
	struct rdir *d = e->ptr;
	if (d)
		free_names(&d->names);
	free(d);
	free(e->key);
}

struct reval *reval_new(const struct reval_opts *opts)
{
	struct reval *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->o = *opts;
	if (!r->o.keep_intervals)
		r->o.keep_intervals = 4;
	if (r->o.default_interval_ms <= 0)
		r->o.default_interval_ms = 30000;
	if (!r->o.tick_ms)
		r->o.tick_ms = 100;
	if (r->o.cached_scan_ms <= 0) {
		int64_t third = r->o.default_interval_ms / 3;
		r->o.cached_scan_ms = third < 1000 ? 1000 : third > 10000 ? 10000 : third;
	}
	r->scan_period_ms = r->o.cached_scan_ms;
	pthread_mutex_init(&r->lock, NULL);
	clock_mono_cond_init(&r->wake);
	return r;
}

void reval_free(struct reval *r)
{
	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->lock);
		r->stopping = true;
		pthread_cond_broadcast(&r->wake);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	for (size_t i = 0; i < r->dirs.cap; i++)
		if (r->dirs.v[i].key)
			drop_dir(&r->dirs.v[i]);
	free(r->dirs.v);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* The name entry of path (a file), added when new; NULL when path has no
 * parent or out of memory (r->lock held). */
static struct tab_ent *want_locked(struct reval *r, const char *path)
{
	char dir[PATH_MAX_LEN + 1];
	if (path_parent(path, dir, sizeof(dir)))
		return NULL;
	const char *name = path_basename(path);
	struct tab_ent *de = tab_put(&r->dirs, dir);
	if (de && !de->ptr && !(de->ptr = calloc(1, sizeof(struct rdir)))) {
		/* An entry without its directory is dropped by the next pass. */
		de = NULL;
	}
	return de ? tab_put(&((struct rdir *)de->ptr)->names, name) : NULL;
}

void reval_want(struct reval *r, const char *path, int64_t now_wall_ms)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	struct tab_ent *ne = want_locked(r, path);
	if (ne)
		ne->ms = now_wall_ms;
	pthread_mutex_unlock(&r->lock);
}

/* How long a file stays wanted after its last lookup. */
static int64_t keep_ms(const struct reval *r, const struct rdir *d)
{
	int64_t interval = d->interval_ms > 0 ? d->interval_ms : r->o.default_interval_ms;
	return interval * r->o.keep_intervals;
}

struct expire_ctx {
	int64_t keep, now;
};

static bool wanted_at(const struct tab_ent *e, int64_t keep, int64_t now)
{
	return now - e->ms <= keep || now <= e->until;
}

static bool name_wanted(struct tab_ent *e, void *arg)
{
	const struct expire_ctx *c = arg;
	return wanted_at(e, c->keep, c->now);
}

/* Drops the names of d no longer wanted at now. */
static void expire_names(const struct reval *r, struct rdir *d, int64_t now)
{
	int64_t keep = keep_ms(r, d);
	size_t stale = 0;
	for (size_t i = 0; i < d->names.cap; i++)
		if (d->names.v[i].key && !wanted_at(&d->names.v[i], keep, now))
			stale++;
	if (!stale)
		return;
	struct expire_ctx c = { .keep = keep, .now = now };
	size_t cap = 16;
	while (cap < (d->names.n - stale + 1) * 2)
		cap *= 2;
	tab_rebuild(&d->names, cap, name_wanted, drop_name, &c);
}

static bool dir_kept(struct tab_ent *e, void *arg)
{
	(void)arg;
	struct rdir *d = e->ptr;
	return d && d->names.n > 0;
}

/* One directory to check, copied out of the table. */
struct work {
	char *dir;
	char **names;
	size_t n;
};

static void work_free(struct work *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->names[i]);
	free(w->names);
	free(w->dir);
}

/* The due directories, with their names (caller frees each). */
static size_t collect(struct reval *r, int64_t now, struct work **out)
{
	*out = NULL;
	size_t nwork = 0, empty = 0;
	struct work *work = NULL;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->dirs.cap; i++) {
		struct tab_ent *e = &r->dirs.v[i];
		struct rdir *d = e->ptr;
		if (!e->key)
			continue;
		if (d)
			expire_names(r, d, now);
		if (!d || !d->names.n) {
			empty++;
			continue;
		}
		if (now < d->next_ms)
			continue;
		struct work *grown = realloc(work, (nwork + 1) * sizeof(*grown));
		if (!grown)
			break;
		work = grown;
		struct work *w = &work[nwork];
		w->dir = strdup(e->key);
		w->names = calloc(d->names.n, sizeof(*w->names));
		w->n = 0;
		if (!w->dir || !w->names) {
			work_free(w);
			break;
		}
		for (size_t k = 0; k < d->names.cap; k++)
			if (d->names.v[k].key && (w->names[w->n] = strdup(d->names.v[k].key)))
				w->n++;
		nwork++;
	}
	if (empty) {
		size_t cap = 16;
		while (cap < (r->dirs.n - empty + 1) * 2)
			cap *= 2;
		tab_rebuild(&r->dirs, cap, dir_kept, drop_dir, NULL);
	}
	pthread_mutex_unlock(&r->lock);
	*out = work;
	return nwork;
}

/* Records the outcome of checking dir, begun at started (err: why it
 * failed). A failure is logged once until a check works again. */
static void checked(struct reval *r, const char *dir, int rc, const char *err, int64_t interval,
		    int64_t started, int64_t now)
{
	bool failed = rc && rc != ST_ESTALE && rc != ST_ENOMOUNT;
	pthread_mutex_lock(&r->lock);
	struct tab_ent *e = tab_get(&r->dirs, dir);
	struct rdir *d = e ? e->ptr : NULL;
	if (d && failed && !d->failing)
		log_warn("revalidating '%s' failed (retrying; logged once): %s", dir,
			 *err ? err : st_strerror(rc));
	else if (d && !rc && d->failing)
		log_info("revalidating '%s' works again", dir);
	if (d) {
		if (rc != ST_ESTALE)
			d->failing = failed;
		if (interval > 0)
			d->interval_ms = interval;
		if (rc == ST_ESTALE)
			d->next_ms = now; /* listed while it changed: again at once */
		else if (rc == ST_ENOMOUNT)
			d->next_ms = now + r->o.default_interval_ms;
		else if (rc) {
			int64_t wait = d->interval_ms > 0 ? d->interval_ms / 8 : 1000;
			d->next_ms = now + (wait < 100 ? 100 : wait > 1000 ? 1000 : wait);
		} else if (interval > 0) {
			/* Half the interval: the check lands well before what
			 * it verified runs out. */
			d->next_ms = started + interval / 2;
		} else {
			/* never or always: nothing to keep fresh; the mount's
			 * interval may change, so look again later. */
			d->next_ms = now + r->o.default_interval_ms;
		}
	}
	r->ndirs_checked++;
	if (failed)
		r->errors++;
	pthread_mutex_unlock(&r->lock);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The distinct content ids of the cached blocks, sorted, into *out. */
static int cached_data_ids(struct blockmap *bm, uint64_t **out, size_t *n)
{
	struct blockmap_entry *list = NULL;
	size_t nlist = 0;
	*out = NULL;
	*n = 0;
	if (blockmap_list(bm, &list, &nlist))
		return -ENOMEM;
	uint64_t *ids = malloc((nlist ? nlist : 1) * sizeof(*ids));
	if (!ids) {
		free(list);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nlist; i++)
		ids[i] = list[i].block >> PLACEMENT_INDEX_BITS;
	free(list);
	qsort(ids, nlist, sizeof(*ids), cmp_u64);
	size_t k = 0;
	for (size_t i = 0; i < nlist; i++)
		if (!k || ids[k - 1] != ids[i])
			ids[k++] = ids[i];
	*out = ids;
	*n = k;
	return 0;
}

/* Names marked until from are marked until to (r->lock held). */
static void extend_marks(struct reval *r, int64_t from, int64_t to)
{
	for (size_t i = 0; i < r->dirs.cap; i++) {
		struct rdir *d = r->dirs.v[i].ptr;
		for (size_t k = 0; d && k < d->names.cap; k++)
			if (d->names.v[k].key && d->names.v[k].until == from)
				d->names.v[k].until = to;
	}
	r->marked_until = to;
}

/* Files looked up under one hold of the namespace's read lock: a scan of
 * many files lets writers in between. */
#define SCAN_BATCH 64

int reval_scan_cached(struct reval *r, int64_t now_wall_ms)
{
	if (!r->o.blocks)
		return 0;
	uint64_t blocks = blockmap_version(r->o.blocks);
	uint64_t applied = meta_applied_index(r->o.meta);
	int64_t started = clock_mono_ms();
	pthread_mutex_lock(&r->lock);
	int64_t until = now_wall_ms + 3 * r->scan_period_ms;
	if (r->scanned && blocks == r->seen_blocks && applied == r->seen_applied) {
		/* The same files as last time: extend what that scan marked. */
		extend_marks(r, r->marked_until, until);
		int n = (int)r->ncached;
		pthread_mutex_unlock(&r->lock);
		return n;
	}
	pthread_mutex_unlock(&r->lock);
	uint64_t *ids;
	size_t nids;
	char(*paths)[PATH_MAX_LEN + 1] = malloc(SCAN_BATCH * sizeof(*paths));
	struct ns_dir_cache *dc = calloc(1, sizeof(*dc));
	if (!paths || !dc || cached_data_ids(r->o.blocks, &ids, &nids)) {
		free(paths);
		free(dc);
		return -ENOMEM;
	}
	size_t found = 0;
	for (size_t i = 0; i < nids; i += SCAN_BATCH) {
		size_t end = i + SCAN_BATCH < nids ? i + SCAN_BATCH : nids, np = 0;
		struct ns_inode n;
		struct ns *ns = meta_read_lock(r->o.meta);
		for (size_t k = i; k < end; k++)
			if (!ns_by_data_id(ns, ids[k], &n, paths[np], sizeof(paths[np]), dc))
				np++; /* else old content, on its way out */
		meta_read_unlock(r->o.meta);
		pthread_mutex_lock(&r->lock);
		for (size_t k = 0; k < np; k++) {
			struct tab_ent *ne = want_locked(r, paths[k]);
			if (ne) {
				ne->until = until;
				found++;
			}
		}
		pthread_mutex_unlock(&r->lock);
	}
	free(ids);
	free(paths);
	free(dc);
	/* Scans take at most a twentieth of a core (20,000 files take ~0.1 s
	 * here, a million several seconds); the marks last three periods
	 * from the scan's end. */
	int64_t took = clock_mono_ms() - started;
	pthread_mutex_lock(&r->lock);
	r->scan_period_ms = took * 20 > r->o.cached_scan_ms ? took * 20 : r->o.cached_scan_ms;
	extend_marks(r, until, now_wall_ms + took + 3 * r->scan_period_ms);
	r->scanned = true;
	r->seen_blocks = blocks;
	r->seen_applied = applied;
	r->ncached = found;
	r->nscans++;
	pthread_mutex_unlock(&r->lock);
	return (int)found;
}

int reval_pass(struct reval *r, int64_t now_wall_ms)
{
	struct work *work;
	size_t nwork = collect(r, now_wall_ms, &work);
	for (size_t i = 0; i < nwork; i++) {
		char err[512] = "";
		int64_t interval = -1;
		int64_t started = clock_wall_ms();
		int rc = fs_revalidate(r->o.fs, work[i].dir, (const char *const *)work[i].names,
				       work[i].n, &interval, err, sizeof(err));
		checked(r, work[i].dir, rc, err, interval, started, clock_wall_ms());
		work_free(&work[i]);
	}
	free(work);
	if (nwork) {
		pthread_mutex_lock(&r->lock);
		r->passes++;
		pthread_mutex_unlock(&r->lock);
	}
	return (int)nwork;
}

static bool is_leader(struct meta *meta)
{
	struct meta_status st;
	meta_status(meta, &st);
	return strcmp(st.role, "leader") == 0;
}

/* A new leader checks every wanted directory at once; one that steps down
 * forgets what it verified (a later term starts from the log again). */
static void leadership(struct reval *r, bool leading)
{
	pthread_mutex_lock(&r->lock);
	bool was = r->leading;
	r->leading = leading;
	if (leading && !was) {
		for (size_t i = 0; i < r->dirs.cap; i++)
			if (r->dirs.v[i].ptr)
				((struct rdir *)r->dirs.v[i].ptr)->next_ms = 0;
		r->scanned = false;
		r->next_scan_ms = 0;
	}
	pthread_mutex_unlock(&r->lock);
	if (was && !leading)
		fs_verified_clear(r->o.fs);
}

static void *reval_main(void *arg)
{
	struct reval *r = arg;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		if (!r->stopping) {
			struct timespec ts;
			clock_mono_deadline(&ts, r->o.tick_ms);
			pthread_cond_timedwait(&r->wake, &r->lock, &ts);
		}
		bool stop = r->stopping;
		pthread_mutex_unlock(&r->lock);
		if (stop)
			break;
		bool leading = is_leader(r->o.meta);
		leadership(r, leading);
		if (leading) {
			int64_t now = clock_wall_ms();
			if (now >= r->next_scan_ms) {
				/* Out of memory: the files' lookups still want them. */
				reval_scan_cached(r, now);
				pthread_mutex_lock(&r->lock);
				r->next_scan_ms = now + r->scan_period_ms;
				pthread_mutex_unlock(&r->lock);
			}
			reval_pass(r, clock_wall_ms());
		}
	}
	return NULL;
}

int reval_start(struct reval *r)
{
	int rc = pthread_create(&r->thread, NULL, reval_main, r);
	if (rc)
		return -rc;
	r->started = true;
	return 0;
}

void reval_get_stats(struct reval *r, struct reval_stats *out)
{
	pthread_mutex_lock(&r->lock);
	out->passes = r->passes;
	out->dirs = r->ndirs_checked;
	out->errors = r->errors;
	out->wanted_dirs = r->dirs.n;
	out->cached = r->ncached;
	out->scans = r->nscans;
	out->wanted = 0;
	for (size_t i = 0; i < r->dirs.cap; i++)
		if (r->dirs.v[i].ptr)
			out->wanted += ((struct rdir *)r->dirs.v[i].ptr)->names.n;
	pthread_mutex_unlock(&r->lock);
}
