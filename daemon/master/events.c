/* The event ring (events.h). */
#include "daemon/master/events.h"

#include "lib/json.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct event {
	uint64_t seq;
	int64_t time_ms;
	char *type, *path, *detail;
};

struct events {
	pthread_mutex_t lock;
	struct event *ring; /* capacity slots; seq s lives at (s - 1) % capacity */
	size_t capacity;
	uint64_t last_seq;
};

struct events *events_new(size_t capacity)
{
	if (capacity == 0)
		return NULL;
	struct events *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->ring = calloc(capacity, sizeof(*ev->ring));
	if (!ev->ring) {
		free(ev);
		return NULL;
	}
	ev->capacity = capacity;
	pthread_mutex_init(&ev->lock, NULL);
	return ev;
}

static void event_clear(struct event *e)
{
	free(e->type);
	free(e->path);
	free(e->detail);
	memset(e, 0, sizeof(*e));
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < ev->capacity; i++)
		event_clear(&ev->ring[i]);
	free(ev->ring);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

uint64_t events_add(struct events *ev, int64_t time_ms, const char *type, const char *path,
		    const char *detail)
{
	struct event e = { .time_ms = time_ms, .type = strdup(type ? type : ""),
			   .path = strdup(path ? path : ""), .detail = strdup(detail ? detail : "") };
	if (!e.type || !e.path || !e.detail) {
		event_clear(&e);
		return 0;
	}
	pthread_mutex_lock(&ev->lock);
	e.seq = ++ev->last_seq;
	struct event *slot = &ev->ring[(e.seq - 1) % ev->capacity];
	event_clear(slot);
	*slot = e;
	pthread_mutex_unlock(&ev->lock);
	return e.seq;
}

uint64_t events_last_seq(struct events *ev)
{
	pthread_mutex_lock(&ev->lock);
	uint64_t s = ev->last_seq;
	pthread_mutex_unlock(&ev->lock);
	return s;
}

cJSON *events_json(struct events *ev, uint64_t since, size_t limit)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = o ? cJSON_AddArrayToObject(o, "events") : NULL;
	if (!arr) {
		cJSON_Delete(o);
		return NULL;
	}
	bool ok = true;
	pthread_mutex_lock(&ev->lock);
	uint64_t oldest = ev->last_seq > ev->capacity ? ev->last_seq - ev->capacity + 1 : 1;
	size_t n = 0;
	for (uint64_t s = ev->last_seq; ok && s >= oldest && s > since; s--) {
		if (limit && n == limit)
			break;
		const struct event *e = &ev->ring[(s - 1) % ev->capacity];
		cJSON *j = cJSON_CreateObject();
		ok = j && cJSON_AddItemToArray(arr, j) && json_add_u64(j, "seq", e->seq) &&
		     json_add_int(j, "time_ms", e->time_ms) &&
		     cJSON_AddStringToObject(j, "type", e->type) &&
		     cJSON_AddStringToObject(j, "path", e->path) &&
		     cJSON_AddStringToObject(j, "detail", e->detail);
		n++;
	}
	if (ok)
		ok = json_add_u64(o, "last_seq", ev->last_seq) != NULL;
	pthread_mutex_unlock(&ev->lock);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
