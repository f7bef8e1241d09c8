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

/* What an admin decided about a worker (journaled by its address:
 * daemon/master/replicate.h); kept here for addresses not registered yet
 * too, so a worker that registers takes its state at once. A
 * decommissioning worker still owns blocks (reads keep hitting it) but
 * gets no new copies; a decommissioned one is out of placement. */
enum worker_admin { WORKER_ACTIVE, WORKER_DECOMMISSIONING, WORKER_DECOMMISSIONED };

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
/* JSON array of live workers [{"id","host","data_port"}] for placement
 * (decommissioned ones left out). */
struct cJSON *registry_live_json(struct registry *reg);

/* Live workers (id, host, data port), at most max into out; returns how
 * many. Decommissioned workers are left out (they own no blocks). */
struct registry_live_worker {
	uint64_t id;
	char host[256];
	int data_port;
};
size_t registry_live(struct registry *reg, struct registry_live_worker *out, size_t max);

/* Sets the administrative state of the worker at address ("host:port");
 * WORKER_ACTIVE forgets it. -ENOMEM. */
int registry_set_admin(struct registry *reg, const char *address, enum worker_admin admin);
/* Forgets every administrative state (a new leader reloads them). */
void registry_clear_admin(struct registry *reg);
/* "live", "lost", "decommissioning" or "decommissioned" (a live worker's
 * administrative state shows instead of "live"). */
const char *registry_state_name(enum worker_state state, enum worker_admin admin);

/* Every worker (live or lost), at most max into out; returns how many. */
struct registry_entry {
	uint64_t id;
	char address[300]; /* host:data_port */
	bool live;
	enum worker_admin admin;
};
size_t registry_list(struct registry *reg, struct registry_entry *out, size_t max);
/* A worker by id; -ENOENT. */
int registry_get(struct registry *reg, uint64_t id, struct registry_entry *out);

struct registry_totals {
	int live, lost;
	int64_t capacity_bytes, used_bytes; /* live workers only */
};
void registry_totals(struct registry *reg, struct registry_totals *out);
/* JSON array of workers (caller owns), or NULL on allocation failure. */
struct cJSON *registry_to_json(struct registry *reg, int64_t now_ms);

#endif
