/*
 * The S3 front's open-file cache (s3_fdcache.h). Entries live in one
 * array of nsets * S3FDC_WAYS; set s is guarded by stripe s % nstripes.
 * An entry's fields change only under its stripe's lock; a held entry
 * (refs > 0) is never cleared, so the pointer a holder keeps stays its
 * own until s3fdc_release. Every close() happens after the lock is let
 * go, on an fd no entry names any more.
 */
#include "api/s3_fdcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STRIPES_MAX 256

struct s3fdc_entry {
	uint64_t id, gen, data_offset, len;
	int64_t last_ms;
	int fd;
	unsigned refs;
	bool used, stale;
	bool bad;   /* the file is shorter than len (s3fdc_copy) */
	char *copy; /* len bytes or NULL; immutable once set */
};

struct stripe {
	_Alignas(64) pthread_mutex_t lock; /* a cache line each: loops on two cores */
};

struct s3fdc {
	struct s3fdc_entry *ents; /* nsets * S3FDC_WAYS */
	size_t nsets, nstripes;
	struct stripe *stripes;
	uint64_t copy_max;
	int64_t keep_ms;
	_Atomic uint64_t copy_bytes;
};

size_t s3fdc_capacity(uint64_t nofile)
{
	uint64_t reserve = nofile / 10 > 1024 ? nofile / 10 : 1024;
	if (reserve > nofile / 2)
		reserve = nofile / 2;
	uint64_t cap = nofile - reserve;
	return cap > S3FDC_MAX_ENTRIES ? S3FDC_MAX_ENTRIES : (size_t)cap;
}

struct s3fdc *s3fdc_new(size_t capacity)
{
	size_t nsets = capacity / S3FDC_WAYS;
	if (nsets < 2)
		return NULL;
	struct s3fdc *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->nsets = nsets;
	c->keep_ms = S3FDC_KEEP_MS;
	c->nstripes = nsets < STRIPES_MAX ? nsets : STRIPES_MAX;
	c->ents = calloc(nsets * S3FDC_WAYS, sizeof(*c->ents));
	c->stripes = aligned_alloc(_Alignof(struct stripe), c->nstripes * sizeof(*c->stripes));
	if (!c->ents || !c->stripes) {
		free(c->ents);
		free(c->stripes);
		free(c);
		return NULL;
	}
	for (size_t i = 0; i < c->nstripes; i++)
		pthread_mutex_init(&c->stripes[i].lock, NULL);
	return c;
}

void s3fdc_free(struct s3fdc *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nsets * S3FDC_WAYS; i++)
		if (c->ents[i].used) {
			close(c->ents[i].fd);
			free(c->ents[i].copy);
		}
	for (size_t i = 0; i < c->nstripes; i++)
		pthread_mutex_destroy(&c->stripes[i].lock);
	free(c->stripes);
	free(c->ents);
	free(c);
}

size_t s3fdc_size(const struct s3fdc *c)
{
	return c ? c->nsets * S3FDC_WAYS : 0;
}

/* The two sets id may sit in (distinct when there are two). */
static void sets_of(const struct s3fdc *c, uint64_t id, size_t *s1, size_t *s2)
{
	uint64_t x = id + 0x9E3779B97F4A7C15ull; /* splitmix64's finalizer */
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	x ^= x >> 31;
	*s1 = (size_t)((uint32_t)x % c->nsets);
	*s2 = (size_t)((x >> 32) % c->nsets);
	if (*s2 == *s1)
		*s2 = (*s1 + 1) % c->nsets;
}

static pthread_mutex_t *lock_of(struct s3fdc *c, size_t set)
{
	return &c->stripes[set % c->nstripes].lock;
}

static struct s3fdc_entry *set_at(struct s3fdc *c, size_t set)
{
	return &c->ents[set * S3FDC_WAYS];
}

/* Empties e (nobody holds it; its copy is freed); returns the fd for the
 * caller to close once the lock is let go. */
static int clear_entry(struct s3fdc *c, struct s3fdc_entry *e)
{
	int fd = e->fd;
	if (e->copy) {
		free(e->copy);
		atomic_fetch_sub(&c->copy_bytes, e->len);
	}
	memset(e, 0, sizeof(*e));
	e->fd = -1;
	return fd;
}

struct s3fdc_entry *s3fdc_get(struct s3fdc *c, uint64_t id, int64_t now_ms,
			      struct s3fdc_file *f)
{
	size_t sets[2];
	sets_of(c, id, &sets[0], &sets[1]);
	for (int k = 0; k < 2; k++) {
		pthread_mutex_t *lk = lock_of(c, sets[k]);
		struct s3fdc_entry *set = set_at(c, sets[k]);
		pthread_mutex_lock(lk);
		for (int i = 0; i < S3FDC_WAYS; i++) {
			struct s3fdc_entry *e = &set[i];
			if (!e->used || e->stale || e->id != id)
				continue;
			e->refs++;
			if (now_ms > e->last_ms)
				e->last_ms = now_ms;
			*f = (struct s3fdc_file){ e->fd, e->gen, e->data_offset, e->len };
			pthread_mutex_unlock(lk);
			return e;
		}
		pthread_mutex_unlock(lk);
	}
	return NULL;
}

struct s3fdc_entry *s3fdc_put(struct s3fdc *c, uint64_t id, const struct s3fdc_file *f,
			      int64_t now_ms)
{
	size_t s1, s2;
	sets_of(c, id, &s1, &s2);
	/* Both sets at once (in stripe order), so that two threads missing
	 * the same block cannot both keep it. */
	pthread_mutex_t *l1 = lock_of(c, s1), *l2 = lock_of(c, s2);
	if (l2 < l1) {
		pthread_mutex_t *t = l1;
		l1 = l2;
		l2 = t;
	}
	pthread_mutex_lock(l1);
	if (l2 != l1)
		pthread_mutex_lock(l2);
	struct s3fdc_entry *sets[2] = { set_at(c, s1), set_at(c, s2) };
	struct s3fdc_entry *slot = NULL, *victim = NULL;
	int most_free = 0, old_fd = -1;
	for (int k = 0; k < 2; k++) {
		int nfree = 0;
		struct s3fdc_entry *first_free = NULL;
		for (int i = 0; i < S3FDC_WAYS; i++) {
			struct s3fdc_entry *e = &sets[k][i];
			if (!e->used) {
				nfree++;
				if (!first_free)
					first_free = e;
				continue;
			}
			if (!e->stale && e->id == id) {
				slot = victim = NULL;
				goto out_unlock;
			}
			/* The least recently used of the ways unused for
			 * S3FDC_REPLACE_MS; busier ones stay. */
			if (!e->refs && now_ms - e->last_ms >= S3FDC_REPLACE_MS &&
			    (!victim || e->last_ms < victim->last_ms))
				victim = e;
		}
		if (nfree > most_free) {
			most_free = nfree;
			slot = first_free;
		}
	}
	if (!slot && victim) {
		old_fd = clear_entry(c, victim);
		slot = victim;
	}
	if (slot)
		*slot = (struct s3fdc_entry){ .id = id, .gen = f->gen, .data_offset = f->data_offset,
					      .len = f->len, .last_ms = now_ms, .fd = f->fd, .refs = 1,
					      .used = true };
out_unlock:
	if (l2 != l1)
		pthread_mutex_unlock(l2);
	pthread_mutex_unlock(l1);
	if (old_fd >= 0)
		close(old_fd);
	return slot;
}

void s3fdc_release(struct s3fdc *c, struct s3fdc_entry *e, bool stale)
{
	pthread_mutex_t *lk = lock_of(c, (size_t)(e - c->ents) / S3FDC_WAYS);
	int fd = -1;
	pthread_mutex_lock(lk);
	if (stale)
		e->stale = true;
	if (--e->refs == 0 && e->stale)
		fd = clear_entry(c, e);
	pthread_mutex_unlock(lk);
	if (fd >= 0)
		close(fd);
}

size_t s3fdc_sweep(struct s3fdc *c, int64_t now_ms, bool force)
{
	size_t closed = 0;
	for (size_t s = 0; s < c->nsets; s++) {
		int fds[S3FDC_WAYS];
		int n = 0;
		pthread_mutex_t *lk = lock_of(c, s);
		struct s3fdc_entry *set = set_at(c, s);
		pthread_mutex_lock(lk);
		for (int i = 0; i < S3FDC_WAYS; i++) {
			struct s3fdc_entry *e = &set[i];
			if (!e->used || e->refs)
				continue;
			int64_t idle = now_ms - e->last_ms;
			if (force || idle >= c->keep_ms) {
				fds[n++] = clear_entry(c, e);
			} else if (idle >= S3FDC_IDLE_MS && e->copy) {
				free(e->copy); /* nobody holds it: nobody reads it */
				e->copy = NULL;
				atomic_fetch_sub(&c->copy_bytes, e->len);
			}
		}
		pthread_mutex_unlock(lk);
		for (int i = 0; i < n; i++)
			close(fds[i]);
		closed += (size_t)n;
	}
	return closed;
}

void s3fdc_forget(struct s3fdc *c, uint64_t id, uint64_t gen)
{
	size_t sets[2];
	sets_of(c, id, &sets[0], &sets[1]);
	for (int k = 0; k < 2; k++) {
		pthread_mutex_t *lk = lock_of(c, sets[k]);
		struct s3fdc_entry *set = set_at(c, sets[k]);
		int fd = -1;
		bool found = false;
		pthread_mutex_lock(lk);
		for (int i = 0; i < S3FDC_WAYS && !found; i++) {
			struct s3fdc_entry *e = &set[i];
			if (!e->used || e->stale || e->id != id || e->gen != gen)
				continue;
			found = true;
			if (e->refs)
				e->stale = true; /* closes when its last holder lets go */
			else
				fd = clear_entry(c, e);
		}
		pthread_mutex_unlock(lk);
		if (fd >= 0)
			close(fd);
		if (found)
			return;
	}
}

void s3fdc_set_keep(struct s3fdc *c, int64_t keep_ms)
{
	c->keep_ms = keep_ms > 0 ? keep_ms : S3FDC_IDLE_MS;
}

void s3fdc_set_copy_budget(struct s3fdc *c, uint64_t max)
{
	c->copy_max = max;
}

uint64_t s3fdc_copy_bytes(struct s3fdc *c)
{
	return atomic_load(&c->copy_bytes);
}

int s3fdc_copy(struct s3fdc *c, struct s3fdc_entry *e, uint64_t max_len, const char **data)
{
	pthread_mutex_t *lk = lock_of(c, (size_t)(e - c->ents) / S3FDC_WAYS);
	pthread_mutex_lock(lk);
	bool bad = e->bad;
	char *copy = e->copy;
	uint64_t len = e->len, off = e->data_offset;
	int fd = e->fd;
	pthread_mutex_unlock(lk);
	if (bad)
		return -1;
	if (copy) {
		*data = copy; /* set once, freed only when nobody holds e */
		return 0;
	}
	if (!len || len > max_len)
		return 1;
	if (atomic_fetch_add(&c->copy_bytes, len) + len > c->copy_max)
		goto out_budget;
	/* Read outside the lock: another holder may copy the same block at
	 * the same time; the first to finish keeps its copy. */
	char *buf = malloc(len);
	if (!buf)
		goto out_budget;
	for (uint64_t got = 0; got < len;) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			atomic_fetch_sub(&c->copy_bytes, len);
			if (n < 0)
				return 1; /* an I/O error: a read of the file says more */
			pthread_mutex_lock(lk);
			e->bad = e->stale = true;
			pthread_mutex_unlock(lk);
			return -1;
		}
		got += (uint64_t)n;
	}
	pthread_mutex_lock(lk);
	if (!e->copy) {
		e->copy = buf;
		buf = NULL;
	}
	*data = e->copy;
	pthread_mutex_unlock(lk);
	if (buf) {
		free(buf);
		atomic_fetch_sub(&c->copy_bytes, len);
	}
	return 0;
out_budget:
	atomic_fetch_sub(&c->copy_bytes, len);
	return 1;
}

size_t s3fdc_count(struct s3fdc *c)
{
	size_t n = 0;
	for (size_t s = 0; s < c->nsets; s++) {
		pthread_mutex_t *lk = lock_of(c, s);
		struct s3fdc_entry *set = set_at(c, s);
		pthread_mutex_lock(lk);
		for (int i = 0; i < S3FDC_WAYS; i++)
			n += set[i].used;
		pthread_mutex_unlock(lk);
	}
	return n;
}
