#ifndef STRATA_WORKER_METRICS_H
#define STRATA_WORKER_METRICS_H

#include "daemon/worker/blocksvc.h"
#include "tier/tier.h"

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct worker_node;

/* Room for every counter worker_metrics writes. */
#define WORKER_METRICS_MAX 64

/* One worker counter; the name is its Prometheus name. */
struct worker_metric {
	const char *name, *help;
	uint64_t value;
};

/* Every counter once, for JSON, Prometheus and heartbeats alike; fills ts
 * and bs as a side effect. Returns how many were written (<= max). */
size_t worker_metrics(struct worker_node *w, struct worker_metric *m, size_t max,
		      struct tier_stats *ts, struct bsvc_stats *bs);

/* {"name_without_prefix": value, ...} for heartbeats; caller owns. */
struct cJSON *worker_metrics_json(struct worker_node *w);

#endif
