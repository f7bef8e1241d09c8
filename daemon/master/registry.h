#ifndef STRATA_MASTER_REGISTRY_H
#define STRATA_MASTER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

/*
 * The master's worker registry: soft state rebuilt from registrations and
 * heartbeats, never journaled. Time is passed in (now_ms, monotonic), so the
 * rules are testable without sleeping. Thread-safe.
 *
 * A worker is identified by its advertised address (host:port); registering
 * again from the same address keeps its id. A worker with no heartbeat for
 * the timeout is marked lost; a heartbeat or registration brings it back.
 */
struct registry;

enum worker_state { WORKER_LIVE, WORKER_LOST };

struct worker_report {
	const char *host;     /* advertised host name or address */
	int data_port;
	int s3_port;
	const char *version;
	int64_t capacity_bytes;
	int64_t used_bytes;
};

struct registry *registry_new(int64_t timeout_ms);
void registry_free(struct registry *reg);
void registry_set_timeout(struct registry *reg, int64_t timeout_ms);

/* Registers (or re-registers) a worker; returns 0 and its id in *id. */
int registry_register(struct registry *reg, const struct worker_report *rep, int64_t now_ms,
		      uint64_t *id);
/* Records a heartbeat; -ENOENT when the id is unknown (the worker must
 * register again, e.g. after a master restart). */
int registry_heartbeat(struct registry *reg, uint64_t id, int64_t capacity_bytes,
		       int64_t used_bytes, int64_t now_ms);
/* Marks workers lost whose last heartbeat is older than the timeout,
 * calling on_lost (may be NULL) for each, outside the registry's lock.
 * Returns how many became lost in this call. */
int registry_check(struct registry *reg, int64_t now_ms,
		   void (*on_lost)(void *arg, uint64_t id), void *arg);
/* Keeps the counters a worker sent with its heartbeat (a JSON object of
 * numbers; copied). */
int registry_set_metrics(struct registry *reg, uint64_t id, const struct cJSON *counters);
/* {"cluster": {counter: sum over live workers}, "workers": [{"id",
 * "address", "state", "counters"}]}; caller owns. */
struct cJSON *registry_metrics_json(struct registry *reg);

/* "host:port" of a worker's data port into buf; -ENOENT if unknown. */
int registry_address(struct registry *reg, uint64_t id, char *buf, size_t len);
/* JSON array of live workers [{"id","host","data_port"}] for placement. */
struct cJSON *registry_live_json(struct registry *reg);

/* Live workers (id, host, data port), at most max into out; returns how
 * many. */
struct registry_live_worker {
	uint64_t id;
	char host[256];
	int data_port;
};
size_t registry_live(struct registry *reg, struct registry_live_worker *out, size_t max);

struct registry_totals {
	int live, lost;
	int64_t capacity_bytes, used_bytes; /* live workers only */
};
void registry_totals(struct registry *reg, struct registry_totals *out);
/* JSON array of workers (caller owns), or NULL on allocation failure. */
struct cJSON *registry_to_json(struct registry *reg, int64_t now_ms);

#endif
