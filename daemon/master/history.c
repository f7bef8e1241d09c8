/* The ring of cluster samples behind GET /api/v1/metrics/history. */
#include "daemon/master/history.h"

#include "lib/json.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct history {
	pthread_mutex_t lock;
	size_t cap;
	size_t head; /* index of the oldest sample */
	size_t n;
	struct history_sample *ring;
};

struct history *history_new(size_t capacity)
{
	if (!capacity)
		return NULL;
	struct history *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->ring = calloc(capacity, sizeof(*h->ring));
	if (!h->ring) {
		free(h);
		return NULL;
	}
	h->cap = capacity;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void history_free(struct history *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h->ring);
	free(h);
}

size_t history_capacity(const struct history *h)
{
	return h->cap;
}

void history_push(struct history *h, const struct history_sample *s)
{
	pthread_mutex_lock(&h->lock);
	if (h->n < h->cap) {
		h->ring[(h->head + h->n) % h->cap] = *s;
		h->n++;
	} else {
		h->ring[h->head] = *s;
		h->head = (h->head + 1) % h->cap;
	}
	pthread_mutex_unlock(&h->lock);
}

size_t history_copy(struct history *h, int64_t since_ms, struct history_sample *out,
		    size_t max)
{
	pthread_mutex_lock(&h->lock);
	/* Samples are pushed in time order, so the qualifying ones are a tail. */
	size_t first = h->n;
	while (first > 0 && h->ring[(h->head + first - 1) % h->cap].t_ms > since_ms)
		first--;
	size_t count = h->n - first;
	if (count > max) {
		first += count - max;
		count = max;
	}
	for (size_t i = 0; i < count; i++)
		out[i] = h->ring[(h->head + first + i) % h->cap];
	pthread_mutex_unlock(&h->lock);
	return count;
}

static int64_t counter(const cJSON *cluster, const char *name)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(cluster, name);
	return cJSON_IsNumber(c) && c->valuedouble > 0 ? json_clamp_i64(c->valuedouble) : 0;
}

void history_sample_fill(struct history_sample *s, int64_t t_ms, const cJSON *cluster,
			 const struct history_gauges *g)
{
	memset(s, 0, sizeof(*s));
	s->t_ms = t_ms;
#define FROM_MASTER(name) s->name = g->name;
#define FROM_CLUSTER(name) s->name = counter(cluster, #name);
#define FILL(name, from) FROM_##from(name)
	HISTORY_FIELDS(FILL)
#undef FILL
#undef FROM_CLUSTER
#undef FROM_MASTER
}

const char *const *history_field_names(size_t *n)
{
#define NAME(name, from) #name,
	static const char *const names[] = { HISTORY_FIELDS(NAME) };
#undef NAME
	*n = sizeof(names) / sizeof(names[0]);
	return names;
}

int64_t history_field(const struct history_sample *s, size_t i)
{
	size_t k = 0;
#define PICK(name, from)          \
	if (k++ == i)             \
		return s->name;
	HISTORY_FIELDS(PICK)
#undef PICK
	return 0;
}
