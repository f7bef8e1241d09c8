/* Attribute and directory cache of strata-fuse (fuse/fz.h), and the pure
 * choice of what a read fetches (fz_chunk).
 *
 * Entries live attr_s (attributes, absences) or dir_s (listings) seconds:
 * changes made by others show within that time; changes made through this
 * mount drop the entries they touch at once. A listing fills the attributes
 * of its entries, so `ls -l` of a big directory costs one listing and no
 * stat per entry. Memory is bounded by dropping everything past a count. */
#include "fuse/fz.h"

#include "lib/clock.h"
#include "lib/path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ATTR_BUCKETS 16384
#define DIR_BUCKETS 1024
#define MAX_ATTRS 500000
#define MAX_DIRS 4096

struct attr_entry {
	char *path;
	int64_t expires_ms;
	bool absent;
	struct stat st;
	struct attr_entry *next;
};

struct dir_entry {
	char *path;
	int64_t expires_ms;
	struct fz_dir dir;
	struct dir_entry *next;
};

struct fz_cache {
	pthread_mutex_t lock;
	int64_t attr_ms, dir_ms;
	size_t nattrs, ndirs;
	struct attr_entry *attrs[ATTR_BUCKETS];
	struct dir_entry *dirs[DIR_BUCKETS];
};

static uint64_t hash_path(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return h;
}

struct fz_cache *fz_cache_new(double attr_s, double dir_s)
{
	struct fz_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->attr_ms = (int64_t)(attr_s * 1000);
	c->dir_ms = (int64_t)(dir_s * 1000);
	return c;
}

void fz_dir_free(struct fz_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->entries[i].name);
	free(d->entries);
	d->entries = NULL;
	d->n = 0;
}

static void attr_free(struct attr_entry *e)
{
	free(e->path);
	free(e);
}

static void dir_free(struct dir_entry *e)
{
	free(e->path);
	fz_dir_free(&e->dir);
	free(e);
}

static void clear_attrs(struct fz_cache *c)
{
	for (size_t b = 0; b < ATTR_BUCKETS; b++) {
		while (c->attrs[b]) {
			struct attr_entry *e = c->attrs[b];
			c->attrs[b] = e->next;
			attr_free(e);
		}
	}
	c->nattrs = 0;
}

static void clear_dirs(struct fz_cache *c)
{
	for (size_t b = 0; b < DIR_BUCKETS; b++) {
		while (c->dirs[b]) {
			struct dir_entry *e = c->dirs[b];
			c->dirs[b] = e->next;
			dir_free(e);
		}
	}
	c->ndirs = 0;
}

void fz_cache_free(struct fz_cache *c)
{
	if (!c)
		return;
	clear_attrs(c);
	clear_dirs(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The entry for path (expired ones are dropped on the way), under lock. */
static struct attr_entry *attr_find(struct fz_cache *c, const char *path, int64_t now)
{
	struct attr_entry **pp = &c->attrs[hash_path(path) % ATTR_BUCKETS];
	while (*pp) {
		struct attr_entry *e = *pp;
		if (e->expires_ms <= now) {
			*pp = e->next;
			attr_free(e);
			c->nattrs--;
			continue;
		}
		if (strcmp(e->path, path) == 0)
			return e;
		pp = &e->next;
	}
	return NULL;
}

int fz_cache_get(struct fz_cache *c, const char *path, struct stat *st)
{
	if (c->attr_ms <= 0)
		return 1;
	pthread_mutex_lock(&c->lock);
	struct attr_entry *e = attr_find(c, path, clock_mono_ms());
	int rc = 1;
	if (e && e->absent)
		rc = -ENOENT;
	else if (e) {
		*st = e->st;
		rc = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void attr_put(struct fz_cache *c, const char *path, const struct stat *st)
{
	if (c->attr_ms <= 0)
		return;
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&c->lock);
	struct attr_entry *e = attr_find(c, path, now);
	if (!e) {
		if (c->nattrs >= MAX_ATTRS)
			clear_attrs(c);
		e = calloc(1, sizeof(*e));
		char *copy = strdup(path);
		if (!e || !copy) {
			free(e);
			free(copy);
			pthread_mutex_unlock(&c->lock);
			return;
		}
		e->path = copy;
		size_t b = hash_path(path) % ATTR_BUCKETS;
		e->next = c->attrs[b];
		c->attrs[b] = e;
		c->nattrs++;
	}
	e->expires_ms = now + c->attr_ms;
	e->absent = st == NULL;
	if (st)
		e->st = *st;
	pthread_mutex_unlock(&c->lock);
}

void fz_cache_put(struct fz_cache *c, const char *path, const struct stat *st)
{
	attr_put(c, path, st);
}

void fz_cache_put_absent(struct fz_cache *c, const char *path)
{
	attr_put(c, path, NULL);
}

static bool below(const char *path, const char *top)
{
	size_t n = strlen(top);
	if (strcmp(top, "/") == 0)
		return true;
	return strncmp(path, top, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

void fz_cache_invalidate(struct fz_cache *c, const char *path, bool subtree)
{
	char parent[4096];
	bool has_parent = path_parent(path, parent, sizeof(parent)) == 0;
	pthread_mutex_lock(&c->lock);
	for (size_t b = 0; b < ATTR_BUCKETS; b++) {
		if (!subtree && b != hash_path(path) % ATTR_BUCKETS)
			continue;
		struct attr_entry **pp = &c->attrs[b];
		while (*pp) {
			struct attr_entry *e = *pp;
			if (subtree ? below(e->path, path) : strcmp(e->path, path) == 0) {
				*pp = e->next;
				attr_free(e);
				c->nattrs--;
			} else {
				pp = &e->next;
			}
		}
	}
	for (size_t b = 0; b < DIR_BUCKETS; b++) {
		struct dir_entry **pp = &c->dirs[b];
		while (*pp) {
			struct dir_entry *e = *pp;
			if ((has_parent && strcmp(e->path, parent) == 0) ||
			    (subtree ? below(e->path, path) : strcmp(e->path, path) == 0)) {
				*pp = e->next;
				dir_free(e);
				c->ndirs--;
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
}

static int dir_copy(const struct fz_dir *from, struct fz_dir *to)
{
	to->n = 0;
	to->entries = from->n ? calloc(from->n, sizeof(*to->entries)) : NULL;
	if (from->n && !to->entries)
		return -ENOMEM;
	for (size_t i = 0; i < from->n; i++) {
		to->entries[i].name = strdup(from->entries[i].name);
		to->entries[i].st = from->entries[i].st;
		if (!to->entries[i].name) {
			fz_dir_free(to);
			return -ENOMEM;
		}
		to->n++;
	}
	return 0;
}

int fz_cache_dir_get(struct fz_cache *c, const char *path, struct fz_dir *out)
{
	if (c->dir_ms <= 0)
		return 1;
	int64_t now = clock_mono_ms();
	int rc = 1;
	pthread_mutex_lock(&c->lock);
	struct dir_entry **pp = &c->dirs[hash_path(path) % DIR_BUCKETS];
	while (*pp) {
		struct dir_entry *e = *pp;
		if (e->expires_ms <= now) {
			*pp = e->next;
			dir_free(e);
			c->ndirs--;
			continue;
		}
		if (strcmp(e->path, path) == 0) {
			rc = dir_copy(&e->dir, out) == 0 ? 0 : 1;
			break;
		}
		pp = &e->next;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void fz_cache_dir_put(struct fz_cache *c, const char *path, const struct fz_dir *d)
{
	if (c->dir_ms <= 0)
		return;
	struct dir_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->path = strdup(path);
	if (!e->path || dir_copy(d, &e->dir)) {
		dir_free(e);
		return;
	}
	e->expires_ms = clock_mono_ms() + c->dir_ms;
	pthread_mutex_lock(&c->lock);
	size_t b = hash_path(path) % DIR_BUCKETS;
	for (struct dir_entry **pp = &c->dirs[b]; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->path, path) == 0) {
			struct dir_entry *old = *pp;
			*pp = old->next;
			dir_free(old);
			c->ndirs--;
			break;
		}
	}
	if (c->ndirs >= MAX_DIRS)
		clear_dirs(c);
	e->next = c->dirs[b];
	c->dirs[b] = e;
	c->ndirs++;
	pthread_mutex_unlock(&c->lock);
}

void fz_chunk(uint64_t block_size, uint64_t length, bool seq, uint64_t off, uint64_t size,
	      uint64_t *start, uint64_t *len)
{
	uint64_t bs = block_size, unit = bs < FZ_MAX_CHUNK ? bs : FZ_MAX_CHUNK;
	uint64_t bstart = off / bs * bs, bend = bstart + bs;
	if (seq) {
		*start = bstart + (off - bstart) / unit * unit;
		*len = unit;
	} else {
		*start = off / FZ_RANDOM_UNIT * FZ_RANDOM_UNIT;
		uint64_t end = (off + size + FZ_RANDOM_UNIT - 1) / FZ_RANDOM_UNIT * FZ_RANDOM_UNIT;
		if (*start < bstart)
			*start = bstart;
		if (end > bend)
			end = bend;
		*len = end - *start;
	}
	if (*start + *len > length)
		*len = length - *start;
}
