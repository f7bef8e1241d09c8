#ifndef STRATA_MASTER_HISTORY_H
#define STRATA_MASTER_HISTORY_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct registry;
struct blockmap;

/*
 * A bounded history of cluster samples (GET /api/v1/metrics/history): a
 * ring of the last `capacity` samples, oldest dropped first. The ring is
 * pure (time comes in with each sample) and locked, so the sampler thread
 * pushes while REST handlers copy.
 *
 * HISTORY_FIELDS(X) is the one list of what a sample holds: X(name, from)
 * where from is CLUSTER for a counter summed over live workers (the
 * "cluster" object of GET /api/v1/metrics, cumulative) and MASTER for a
 * gauge the master knows itself. The JSON names are the field names.
 */
#define HISTORY_FIELDS(X)                     \
	X(workers_live, MASTER)               \
	X(workers_lost, MASTER)               \
	X(capacity_bytes, MASTER)             \
	X(used_bytes, MASTER)                 \
	X(cached_blocks, MASTER)              \
	X(read_requests_total, CLUSTER)       \
	X(block_hits_total, CLUSTER)          \
	X(block_misses_total, CLUSTER)        \
	X(bytes_from_cache_total, CLUSTER)    \
	X(bytes_from_ufs_total, CLUSTER)      \
	X(bytes_from_peers_total, CLUSTER)    \
	X(cache_put_errors_total, CLUSTER)    \
	X(tier_write_errors_total, CLUSTER)   \
	X(store_read_errors_total, CLUSTER)

struct history_sample {
	int64_t t_ms; /* wall clock, ms since the epoch */
#define HISTORY_FIELD_DECL(name, from) int64_t name;
	HISTORY_FIELDS(HISTORY_FIELD_DECL)
#undef HISTORY_FIELD_DECL
};

/* NULL when out of memory or capacity is 0. Free with history_free. */
struct history *history_new(size_t capacity);
void history_free(struct history *h);
size_t history_capacity(const struct history *h);

/* Appends a copy of *s, dropping the oldest sample when full. */
void history_push(struct history *h, const struct history_sample *s);

/* Copies the samples with t_ms > since_ms, oldest first, at most max of
 * them (the newest max when more qualify) into out; returns how many. */
size_t history_copy(struct history *h, int64_t since_ms, struct history_sample *out,
		    size_t max);

/*
 * Fills *s from a GET /api/v1/metrics style "cluster" object (may be NULL:
 * no live worker reported yet, counters 0) and the master's gauges. Pure.
 */
struct history_gauges {
	int64_t workers_live, workers_lost, capacity_bytes, used_bytes, cached_blocks;
};
void history_sample_fill(struct history_sample *s, int64_t t_ms, const struct cJSON *cluster,
			 const struct history_gauges *g);

/* The field names in order (for the JSON encoder and tests). */
const char *const *history_field_names(size_t *n);
/* The value of field i of *s (order of history_field_names). */
int64_t history_field(const struct history_sample *s, size_t i);

/*
 * The sampler: a thread that pushes one sample from the registry and block
 * map every period_ms (and one at once). Returns 0 or a negative errno;
 * *out is the caller's until history_sampler_stop, which joins and frees.
 * It runs beside the REST server for now; it moves onto the master's job
 * runner once that exists.
 */
struct history_sampler;
int history_sampler_start(struct history *h, struct registry *reg, struct blockmap *blocks,
			  int64_t period_ms, struct history_sampler **out);
void history_sampler_stop(struct history_sampler *s);

#endif
