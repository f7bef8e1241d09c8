#ifndef STRATA_TUI_TOP_H
#define STRATA_TUI_TOP_H

/*
 * strata-top's private interface: one refresh (struct top_sample) read
 * from the public REST API through client/, the figures derived from two
 * consecutive samples (struct top_view), and the three outputs (curses
 * screen, plain text, JSON).
 */
#include "client/client.h"
#include "console/tui/rates.h"

#include <stdbool.h>
#include <stdint.h>

enum { TOP_MEM, TOP_SSD, TOP_HDD, TOP_NTIERS };
extern const char *const top_tier_names[TOP_NTIERS];

/* One refresh: what the masters and each live worker said. */
struct top_sample {
	int64_t t_ms; /* monotonic */
	int rc;	      /* 0, or why the cluster could not be read (err) */
	char err[512];
	char leader[CLIENT_URL_MAX]; /* the master that answered */
	bool not_leader; /* it was a follower: no leader known, its figures are its own */
	struct client_cluster cluster;
	int masters_rc;
	struct client_masters masters;
	int metrics_rc;
	struct client_metrics metrics;
	/* per worker of cluster.workers, asked of the worker itself */
	int *wrc;
	struct client_worker_stats *wstats;
	int history_rc; /* 0, -ENOENT (master without history), other */
	struct client_history history;
	int jobs_rc; /* 0, -ENOSYS (a master without jobs), other */
	size_t njobs;
	struct client_job *jobs; /* newest first, at most TOP_JOBS_MAX */
};
#define TOP_JOBS_MAX 64

struct top_collect_opts {
	bool tls;
	bool want_history;
	bool has_token; /* a REST token goes with the requests (for the 401 advice) */
};

/* Fills s (zeroed first; release with top_sample_clear); s->rc says
 * whether the cluster was read. */
void top_collect(struct client *mc, struct httpc *hc, const struct top_collect_opts *o,
		 int64_t now_ms, struct top_sample *s);
void top_sample_clear(struct top_sample *s);

/* Reads under one mount at a worker; rates < 0 when unknown. Block hit
 * ratio over the interval and since the worker started. */
struct top_mount_row {
	const char *mount; /* borrowed from the sample; "" no known mount */
	double req_s, hit_pct, hit_pct_total, cache_mib_s, store_mib_s;
};

/* One row of the workers table; rates < 0 when unknown. */
struct top_row {
	uint64_t id;
	const char *address;
	const char *state;
	bool live, reachable, rates;
	double hit_pct, req_s, served_mib_s, store_mib_s, evict_s;
	double tier_pct[TOP_NTIERS]; /* < 0: the worker has no such tier */
	int64_t hb_age_ms;
	size_t nmounts; /* the worker's per-mount reads (owned by the view) */
	struct top_mount_row *mounts;
	const struct client_worker_stats *stats; /* NULL: it did not answer */
};

struct top_view {
	const struct top_sample *cur;
	bool rates; /* a previous sample to difference against */
	double dt_s;
	int masters_up, masters_total;
	int64_t tier_cap[TOP_NTIERS], tier_used[TOP_NTIERS];
	/* cluster: over the last interval (< 0 unknown) and since start */
	double hit_req_pct, hit_req_pct_total, hit_bytes_pct, hit_bytes_pct_total;
	double req_s, cache_mib_s, store_mib_s, peers_mib_s;
	double put_err_s, write_err_s, cksum_err_s, store_err_s;
	double put_err_total, write_err_total, cksum_err_total, store_err_total;
	size_t nrows;
	struct top_row *rows;
	/* hit ratio series (0..1, < 0 none) for the sparkline */
	size_t nspark;
	double spark[RATES_RING_MAX + 720];
	bool spark_from_history;
	int64_t spark_step_ms;
};

/* Derives the figures of cur against prev (NULL or failed: no rates).
 * ring holds the cluster samples strata-top took itself (pushed here). */
int top_view_build(const struct top_sample *prev, const struct top_sample *cur,
		   struct rates_ring *ring, struct top_view *v);
void top_view_clear(struct top_view *v);

/* The samples kept from refresh to refresh and the view of the last one
 * (sampler.c). */
struct top_sampler {
	struct top_sample slots[3];
	struct top_sample *good;  /* the last sample that read the cluster */
	struct top_sample *shown; /* the last sample (view.cur) */
	struct rates_ring ring;
	struct top_view view;
	bool history_asked;
	int64_t history_at_ms;
	int history_rc;
	int64_t history_interval_ms;
};
struct top_sampler *top_sampler_new(void);
void top_sampler_free(struct top_sampler *t);
/* One refresh: collects and builds t->view; 0 or -ENOMEM. */
int top_sampler_step(struct top_sampler *t, struct client *mc, struct httpc *hc,
		     const struct top_collect_opts *o, int64_t now_ms);
/* Pure: whether to ask for the master's history again, last asked at
 * last_ms (< 0: never) with result last_rc. */
bool top_history_due(int64_t now_ms, int64_t last_ms, int last_rc, int64_t interval_ms);

enum top_col {
	COL_ADDRESS, COL_STATE, COL_HIT, COL_REQ, COL_SERVED, COL_STORE,
	COL_MEM, COL_SSD, COL_HDD, COL_EVICT, COL_HB, COL_COUNT
};
extern const char *const top_col_names[COL_COUNT];
void top_sort_rows(struct top_row *rows, size_t n, enum top_col col, bool reverse);

/* Plain text (batch) and JSON outputs of one view. */
void top_print_text(FILE *f, const struct top_view *v, int64_t iteration);
int top_print_json(FILE *f, const struct top_view *v, int64_t iteration);
/* The interactive screen (screen.c) until q, a signal or `iterations`
 * refreshes (< 0: no limit); returns the exit code. */
int top_screen_run(struct client *mc, struct httpc *hc, const struct top_collect_opts *co,
		   double delay_s, int64_t iterations);

/* Shared by the text output and the screen. */
#define TOP_HEADER_LINES 8
size_t top_fmt_header(const struct top_view *v, char lines[][256], size_t max);
void top_fmt_header_row(char *buf, size_t len);
void top_fmt_row(const struct top_row *r, char *buf, size_t len);
void top_fmt_bytes(int64_t b, char *buf, size_t len);
/* The sparkline line: its source, its step and the last `width` values. */
void top_fmt_spark(const struct top_view *v, size_t width, bool ascii, char *buf, size_t len);

#endif
