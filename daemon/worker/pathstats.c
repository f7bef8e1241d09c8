#include "daemon/worker/pathstats.h"

#include "lib/json.h"
#include "lib/mutex.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mstat {
	char *path; /* "" for reads under no known mount */
	size_t len;
	uint64_t requests, bytes_requested;
	uint64_t block_hits, block_misses, bytes_from_cache, bytes_from_ufs;
};

struct pstat {
	char *path;
	size_t cap; /* path's buffer (reused when the entry is replaced) */
	uint64_t hash;
	double requests, bytes, error;
};

struct pathstats {
	pthread_mutex_t lock;
	struct mstat *mounts;
	size_t nmounts;
	struct mstat none;
	struct pstat top[PATHSTATS_TOP];
	size_t ntop;
	int64_t decayed_ms; /* the sketch's counts are as of this time */
};

int pathstats_new(struct pathstats **out)
{
	struct pathstats *ps = calloc(1, sizeof(*ps));
	if (!ps || !(ps->none.path = strdup(""))) {
		free(ps);
		return -ENOMEM;
	}
	mutex_init_adaptive(&ps->lock);
	*out = ps;
	return 0;
}

void pathstats_free(struct pathstats *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->nmounts; i++)
		free(ps->mounts[i].path);
	free(ps->mounts);
	free(ps->none.path);
	for (size_t i = 0; i < ps->ntop; i++)
		free(ps->top[i].path);
	pthread_mutex_destroy(&ps->lock);
	free(ps);
}

static struct mstat *find_mount_exact(struct mstat *m, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].path, path) == 0)
			return &m[i];
	return NULL;
}

int pathstats_set_mounts(struct pathstats *ps, const char *const *paths, size_t n)
{
	if (n > PATHSTATS_MAX_MOUNTS)
		n = PATHSTATS_MAX_MOUNTS;
	struct mstat *m = n ? calloc(n, sizeof(*m)) : NULL;
	if (n && !m)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!(m[i].path = strdup(paths[i]))) {
			while (i--)
				free(m[i].path);
			free(m);
			return -ENOMEM;
		}
		m[i].len = strlen(paths[i]);
	}
	pthread_mutex_lock(&ps->lock);
	for (size_t i = 0; i < n; i++) {
		const struct mstat *old = find_mount_exact(ps->mounts, ps->nmounts, m[i].path);
		if (old) {
			char *p = m[i].path;
			size_t len = m[i].len;
			m[i] = *old;
			m[i].path = p;
			m[i].len = len;
		}
	}
	struct mstat *gone = ps->mounts;
	size_t ngone = ps->nmounts;
	ps->mounts = m;
	ps->nmounts = n;
	pthread_mutex_unlock(&ps->lock);
	for (size_t i = 0; i < ngone; i++)
		free(gone[i].path);
	free(gone);
	return 0;
}

/* The mount holding path: the longest listed prefix at a '/' boundary.
 * Call with the lock. */
static struct mstat *mount_of(struct pathstats *ps, const char *path)
{
	struct mstat *best = NULL;
	for (size_t i = 0; i < ps->nmounts; i++) {
		struct mstat *m = &ps->mounts[i];
		bool root = m->len == 1 && m->path[0] == '/';
		if (!root && (strncmp(path, m->path, m->len) != 0 ||
			      (path[m->len] != '\0' && path[m->len] != '/')))
			continue;
		if (!best || m->len > best->len)
			best = m;
	}
	return best ? best : &ps->none;
}

static uint64_t hash_path(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Halves the sketch's counts once per half-life gone by. Call with the
 * lock. */
static void decay(struct pathstats *ps, int64_t now_ms)
{
	if (ps->decayed_ms == 0 || now_ms < ps->decayed_ms) {
		ps->decayed_ms = now_ms;
		return;
	}
	int halvings = 0;
	while (now_ms - ps->decayed_ms >= PATHSTATS_HALF_LIFE_MS && halvings < 64) {
		ps->decayed_ms += PATHSTATS_HALF_LIFE_MS;
		halvings++;
	}
	if (now_ms - ps->decayed_ms >= PATHSTATS_HALF_LIFE_MS)
		ps->decayed_ms = now_ms; /* a very long pause: everything is ~0 */
	for (int k = 0; k < halvings; k++)
		for (size_t i = 0; i < ps->ntop; i++) {
			ps->top[i].requests /= 2;
			ps->top[i].bytes /= 2;
			ps->top[i].error /= 2;
		}
}

/* Space-Saving: count path, replacing the least counted entry when the
 * sketch is full. Call with the lock. */
static void sketch_add(struct pathstats *ps, const char *path, uint64_t bytes)
{
	uint64_t h = hash_path(path);
	size_t min = 0;
	for (size_t i = 0; i < ps->ntop; i++) {
		struct pstat *p = &ps->top[i];
		if (p->hash == h && strcmp(p->path, path) == 0) {
			p->requests += 1;
			p->bytes += (double)bytes;
			return;
		}
		if (p->requests < ps->top[min].requests)
			min = i;
	}
	size_t len = strlen(path);
	if (ps->ntop < PATHSTATS_TOP) {
		char *copy = malloc(len + 1);
		if (!copy)
			return; /* a sketch: losing one count is fine */
		memcpy(copy, path, len + 1);
		ps->top[ps->ntop++] = (struct pstat){ copy, len + 1, h, 1, (double)bytes, 0 };
		return;
	}
	/* Many distinct paths replace an entry on every read: its buffer is
	 * reused, so that costs no allocation. */
	struct pstat *p = &ps->top[min];
	if (p->cap < len + 1) {
		char *grown = realloc(p->path, len + 1);
		if (!grown)
			return;
		p->path = grown;
		p->cap = len + 1;
	}
	memcpy(p->path, path, len + 1);
	double floor = p->requests;
	p->hash = h;
	p->requests = floor + 1;
	p->bytes = (double)bytes;
	p->error = floor;
}

void pathstats_request(struct pathstats *ps, const char *path, uint64_t bytes, int64_t now_ms)
{
	pthread_mutex_lock(&ps->lock);
	struct mstat *m = mount_of(ps, path);
	m->requests++;
	m->bytes_requested += bytes;
	decay(ps, now_ms);
	sketch_add(ps, path, bytes);
	pthread_mutex_unlock(&ps->lock);
}

void pathstats_cached_read(struct pathstats *ps, const char *path, uint64_t bytes,
			   uint64_t nblocks, int64_t now_ms)
{
	pthread_mutex_lock(&ps->lock);
	struct mstat *m = mount_of(ps, path);
	m->requests++;
	m->bytes_requested += bytes;
	m->block_hits += nblocks;
	m->bytes_from_cache += bytes;
	decay(ps, now_ms);
	sketch_add(ps, path, bytes);
	pthread_mutex_unlock(&ps->lock);
}

void pathstats_blocks(struct pathstats *ps, const char *path, bool hit, uint64_t nblocks,
		      uint64_t bytes)
{
	pthread_mutex_lock(&ps->lock);
	struct mstat *m = mount_of(ps, path);
	if (hit) {
		m->block_hits += nblocks;
		m->bytes_from_cache += bytes;
	} else {
		m->block_misses += nblocks;
		m->bytes_from_ufs += bytes;
	}
	pthread_mutex_unlock(&ps->lock);
}

static void copy_mount(struct pathstats_mount *o, const struct mstat *m)
{
	snprintf(o->path, sizeof(o->path), "%s", m->path);
	o->requests = m->requests;
	o->bytes_requested = m->bytes_requested;
	o->block_hits = m->block_hits;
	o->block_misses = m->block_misses;
	o->bytes_from_cache = m->bytes_from_cache;
	o->bytes_from_ufs = m->bytes_from_ufs;
}

size_t pathstats_mounts(struct pathstats *ps, struct pathstats_mount *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&ps->lock);
	for (size_t i = 0; i < ps->nmounts && n < max; i++)
		copy_mount(&out[n++], &ps->mounts[i]);
	const struct mstat *z = &ps->none;
	if (n < max && (z->requests || z->block_hits || z->block_misses))
		copy_mount(&out[n++], z);
	pthread_mutex_unlock(&ps->lock);
	return n;
}

static int by_requests_desc(const void *a, const void *b)
{
	const struct pathstats_path *x = a, *y = b;
	if (x->requests != y->requests)
		return x->requests < y->requests ? 1 : -1;
	return strcmp(x->path, y->path);
}

size_t pathstats_top(struct pathstats *ps, int64_t now_ms, struct pathstats_path *out,
		     size_t max)
{
	struct pathstats_path *all = calloc(PATHSTATS_TOP, sizeof(*all));
	if (!all)
		return 0;
	size_t n = 0;
	pthread_mutex_lock(&ps->lock);
	decay(ps, now_ms);
	for (size_t i = 0; i < ps->ntop; i++) {
		if (ps->top[i].requests < 0.5)
			continue; /* faded out */
		snprintf(all[n].path, sizeof(all[n].path), "%s", ps->top[i].path);
		all[n].requests = ps->top[i].requests;
		all[n].bytes = ps->top[i].bytes;
		all[n].error = ps->top[i].error;
		n++;
	}
	pthread_mutex_unlock(&ps->lock);
	qsort(all, n, sizeof(*all), by_requests_desc);
	if (n > max)
		n = max;
	memcpy(out, all, n * sizeof(*out));
	free(all);
	return n;
}

int pathstats_add_json(struct pathstats *ps, cJSON *o, size_t top, int64_t now_ms)
{
	struct pathstats_mount *m = calloc(PATHSTATS_MAX_MOUNTS + 1, sizeof(*m));
	struct pathstats_path *p = calloc(PATHSTATS_TOP, sizeof(*p));
	int rc = -ENOMEM;
	if (!m || !p)
		goto out;
	size_t nm = pathstats_mounts(ps, m, PATHSTATS_MAX_MOUNTS + 1);
	cJSON *ma = cJSON_AddArrayToObject(o, "mounts");
	for (size_t i = 0; ma && i < nm; i++) {
		cJSON *e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(ma, e)) {
			cJSON_Delete(e);
			goto out;
		}
		cJSON_AddStringToObject(e, "mount", m[i].path);
		json_add_int(e, "read_requests", (int64_t)m[i].requests);
		json_add_int(e, "bytes_requested", (int64_t)m[i].bytes_requested);
		json_add_int(e, "block_hits", (int64_t)m[i].block_hits);
		json_add_int(e, "block_misses", (int64_t)m[i].block_misses);
		json_add_int(e, "bytes_from_cache", (int64_t)m[i].bytes_from_cache);
		json_add_int(e, "bytes_from_ufs", (int64_t)m[i].bytes_from_ufs);
	}
	if (top > PATHSTATS_TOP)
		top = PATHSTATS_TOP;
	size_t np = pathstats_top(ps, now_ms, p, top);
	cJSON *pa = cJSON_AddArrayToObject(o, "top_paths");
	for (size_t i = 0; pa && i < np; i++) {
		cJSON *e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(pa, e)) {
			cJSON_Delete(e);
			goto out;
		}
		cJSON_AddStringToObject(e, "path", p[i].path);
		cJSON_AddNumberToObject(e, "requests", p[i].requests);
		cJSON_AddNumberToObject(e, "bytes", p[i].bytes);
		cJSON_AddNumberToObject(e, "error", p[i].error);
	}
	rc = ma && pa ? 0 : -ENOMEM;
out:
	free(m);
	free(p);
	return rc;
}
