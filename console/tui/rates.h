#ifndef STRATA_TUI_RATES_H
#define STRATA_TUI_RATES_H

/*
 * The arithmetic of strata-top, pure (no clock, no I/O): rates from the
 * differences of cumulative counters between two samples, hit ratios, and
 * sparklines. Rates are never lifetime averages: a value covers exactly the
 * interval between the two samples it was computed from.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The increase of a cumulative counter from prev to cur, over dt_ms:
 * 0 with *delta and *per_sec (either may be NULL);
 * -EAGAIN when there is no previous sample (have_prev false): no rate yet;
 * -EINVAL when dt_ms <= 0 (two samples at one instant say nothing).
 * A counter that went down was reset (its worker restarted): it counted up
 * from zero since, so the increase is cur.
 */
int rates_counter(double prev, double cur, bool have_prev, int64_t dt_ms, double *delta,
		  double *per_sec);

/* part / whole as a percentage, or -1 when whole is 0 (nothing to rate). */
double rates_percent(double part, double whole);

/*
 * The hit ratio (0..1) between consecutive samples of cumulative hit and
 * miss counters: out[i] for the interval from sample i to i+1, so n
 * samples give n-1 values (returned). An interval without reads, or one
 * where a counter went down (a worker restarted or was lost), is -1.
 */
size_t rates_hit_series(const int64_t *hits, const int64_t *misses, size_t n, double *out);

/*
 * The last `width` values (0..1; < 0 is "no data") as a sparkline into buf:
 * UTF-8 block characters, or ASCII ("_.:-=+*#") when ascii; no data is a
 * space. Returns the number of cells written; buf is always terminated.
 */
size_t rates_sparkline(const double *v, size_t n, size_t width, bool ascii, char *buf,
		       size_t len);

/* A bounded ring of the cluster's own hit/miss counter samples, for the
 * sparkline when the master keeps no history. */
#define RATES_RING_MAX 240
struct rates_ring {
	size_t n, head;
	int64_t hits[RATES_RING_MAX], misses[RATES_RING_MAX];
};
void rates_ring_push(struct rates_ring *r, int64_t hits, int64_t misses);
/* The samples oldest first into hits/misses (RATES_RING_MAX each); returns n. */
size_t rates_ring_copy(const struct rates_ring *r, int64_t *hits, int64_t *misses);

#endif
