#ifndef STRATA_MASTER_EVENTS_H
#define STRATA_MASTER_EVENTS_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

/*
 * A bounded ring of recent policy events (GET /api/v1/events): policy
 * changes and TTL firings, for the console and for audit. In memory only:
 * every master fills its ring from the commands it applies (so followers
 * show the same events; a restart shows those of the log it replays), plus
 * what only the leader does (the end of a TTL delete).
 *
 * Each event gets the next sequence number (1, 2, ...); when the ring is
 * full the oldest is dropped. Thread-safe.
 */
struct events;

/* capacity: events kept (>= 1). NULL on allocation failure. */
struct events *events_new(size_t capacity);
void events_free(struct events *ev);

/* Records one event; strings are copied (NULL: ""). Returns its sequence
 * number, 0 when out of memory (the event is dropped). */
uint64_t events_add(struct events *ev, int64_t time_ms, const char *type, const char *path,
		    const char *detail);

/* {"events":[...newest first...],"last_seq":"N"}: events with a sequence
 * number above since, at most limit (0: all kept). NULL when out of
 * memory. Caller owns. */
struct cJSON *events_json(struct events *ev, uint64_t since, size_t limit);

/* The newest sequence number given out (0: none yet). */
uint64_t events_last_seq(struct events *ev);

#endif
