#include "daemon/master/blockmap.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Open addressing with linear probing and backward-shift deletion; an
 * empty slot has nloc == 0. */
struct slot {
	uint64_t block;
	uint32_t nloc;
	struct block_loc locs[BLOCKMAP_MAX_LOCS];
};

struct blockmap {
	pthread_mutex_t lock;
	struct slot *slots;
	size_t cap; /* power of two */
	size_t used;
	uint64_t version; /* moves with every change (blockmap_version) */
};

static size_t hash(uint64_t x, size_t cap)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return (size_t)x & (cap - 1);
}

struct blockmap *blockmap_new(void)
{
	struct blockmap *bm = calloc(1, sizeof(*bm));
	if (!bm)
		return NULL;
	bm->cap = 1024;
	bm->slots = calloc(bm->cap, sizeof(*bm->slots));
	if (!bm->slots) {
		free(bm);
		return NULL;
	}
	pthread_mutex_init(&bm->lock, NULL);
	return bm;
}

void blockmap_free(struct blockmap *bm)
{
	if (!bm)
		return;
	pthread_mutex_destroy(&bm->lock);
	free(bm->slots);
	free(bm);
}

static struct slot *find(struct blockmap *bm, uint64_t block)
{
	for (size_t i = hash(block, bm->cap);; i = (i + 1) & (bm->cap - 1)) {
		struct slot *s = &bm->slots[i];
		if (!s->nloc)
			return NULL;
		if (s->block == block)
			return s;
	}
}

static int grow(struct blockmap *bm)
{
	size_t cap = bm->cap * 2;
	struct slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < bm->cap; i++) {
		if (!bm->slots[i].nloc)
			continue;
		size_t j = hash(bm->slots[i].block, cap);
		while (slots[j].nloc)
			j = (j + 1) & (cap - 1);
		slots[j] = bm->slots[i];
	}
	free(bm->slots);
	bm->slots = slots;
	bm->cap = cap;
	return 0;
}

/* Removes slot i and shifts later members of its probe run back. */
static void delete_slot(struct blockmap *bm, size_t i)
{
	size_t mask = bm->cap - 1;
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!bm->slots[j].nloc)
			break;
		size_t home = hash(bm->slots[j].block, bm->cap);
		/* Move j back to i if its home is not in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			bm->slots[i] = bm->slots[j];
			i = j;
		}
	}
	memset(&bm->slots[i], 0, sizeof(bm->slots[i]));
	bm->used--;
}

int blockmap_add(struct blockmap *bm, uint64_t block, uint64_t worker_id, int tier)
{
	pthread_mutex_lock(&bm->lock);
	int rc = 0;
	struct slot *s = find(bm, block);
	if (!s) {
		if ((bm->used + 1) * 4 > bm->cap * 3 && (rc = grow(bm)))
			goto out;
		size_t i = hash(block, bm->cap);
		while (bm->slots[i].nloc)
			i = (i + 1) & (bm->cap - 1);
		s = &bm->slots[i];
		s->block = block;
		bm->used++;
	}
	for (uint32_t k = 0; k < s->nloc; k++) {
		if (s->locs[k].worker_id == worker_id) {
			bm->version += s->locs[k].tier != tier;
			s->locs[k].tier = tier;
			goto out;
		}
	}
	if (s->nloc < BLOCKMAP_MAX_LOCS) {
		s->locs[s->nloc++] = (struct block_loc){ worker_id, tier };
		bm->version++;
	}
out:
	pthread_mutex_unlock(&bm->lock);
	return rc;
}

void blockmap_remove(struct blockmap *bm, uint64_t block, uint64_t worker_id)
{
	pthread_mutex_lock(&bm->lock);
	struct slot *s = find(bm, block);
	if (s) {
		for (uint32_t k = 0; k < s->nloc; k++) {
			if (s->locs[k].worker_id == worker_id) {
				s->locs[k] = s->locs[--s->nloc];
				bm->version++;
				break;
			}
		}
		if (!s->nloc) {
			s->nloc = 1; /* delete_slot expects an occupied slot */
			delete_slot(bm, (size_t)(s - bm->slots));
		}
	}
	pthread_mutex_unlock(&bm->lock);
}

void blockmap_drop_worker(struct blockmap *bm, uint64_t worker_id)
{
	pthread_mutex_lock(&bm->lock);
	size_t i = 0;
	while (i < bm->cap) {
		struct slot *s = &bm->slots[i];
		bool emptied = false;
		for (uint32_t k = 0; k < s->nloc; k++) {
			if (s->locs[k].worker_id == worker_id) {
				s->locs[k] = s->locs[--s->nloc];
				emptied = s->nloc == 0;
				bm->version++;
				break;
			}
		}
		if (emptied) {
			s->nloc = 1; /* delete_slot expects an occupied slot */
			delete_slot(bm, i);
			continue; /* a later entry may have shifted into slot i */
		}
		i++;
	}
	pthread_mutex_unlock(&bm->lock);
}

size_t blockmap_get(struct blockmap *bm, uint64_t block, struct block_loc *out, size_t max)
{
	pthread_mutex_lock(&bm->lock);
	size_t n = 0;
	struct slot *s = find(bm, block);
	for (uint32_t k = 0; s && k < s->nloc && n < max; k++)
		out[n++] = s->locs[k];
	pthread_mutex_unlock(&bm->lock);
	return n;
}

size_t blockmap_count(struct blockmap *bm)
{
	pthread_mutex_lock(&bm->lock);
	size_t n = bm->used;
	pthread_mutex_unlock(&bm->lock);
	return n;
}

uint64_t blockmap_version(struct blockmap *bm)
{
	pthread_mutex_lock(&bm->lock);
	uint64_t v = bm->version;
	pthread_mutex_unlock(&bm->lock);
	return v;
}

int blockmap_list(struct blockmap *bm, struct blockmap_entry **out, size_t *n)
{
	pthread_mutex_lock(&bm->lock);
	struct blockmap_entry *e = malloc((bm->used ? bm->used : 1) * sizeof(*e));
	size_t k = 0;
	for (size_t i = 0; e && i < bm->cap; i++) {
		const struct slot *s = &bm->slots[i];
		if (!s->nloc)
			continue;
		e[k].block = s->block;
		e[k].nloc = s->nloc;
		memcpy(e[k].locs, s->locs, sizeof(e[k].locs));
		k++;
	}
	pthread_mutex_unlock(&bm->lock);
	if (!e)
		return -ENOMEM;
	*out = e;
	*n = k;
	return 0;
}
