/* Counter arithmetic for strata-top (console/tui/rates.h). */
#include "console/tui/rates.h"

#include <errno.h>
#include <string.h>

int rates_counter(double prev, double cur, bool have_prev, int64_t dt_ms, double *delta,
		  double *per_sec)
{
	if (!have_prev)
		return -EAGAIN;
	if (dt_ms <= 0)
		return -EINVAL;
	double d = cur >= prev ? cur - prev : cur;
	if (delta)
		*delta = d;
	if (per_sec)
		*per_sec = d * 1000.0 / (double)dt_ms;
	return 0;
}

double rates_percent(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : -1;
}

size_t rates_hit_series(const int64_t *hits, const int64_t *misses, size_t n, double *out)
{
	if (n < 2)
		return 0;
	for (size_t i = 0; i + 1 < n; i++) {
		int64_t dh = hits[i + 1] - hits[i], dm = misses[i + 1] - misses[i];
		if (dh < 0 || dm < 0 || dh + dm == 0)
			out[i] = -1;
		else
			out[i] = (double)dh / (double)(dh + dm);
	}
	return n - 1;
}

size_t rates_sparkline(const double *v, size_t n, size_t width, bool ascii, char *buf,
		       size_t len)
{
	static const char *const blocks[] = { "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83",
					      "\xe2\x96\x84", "\xe2\x96\x85", "\xe2\x96\x86",
					      "\xe2\x96\x87", "\xe2\x96\x88" };
	static const char ascii_levels[] = "_.:-=+*#";
	size_t first = n > width ? n - width : 0, off = 0, cells = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = first; i < n; i++) {
		const char *cell;
		char one[2] = { 0, 0 };
		if (v[i] < 0) {
			cell = " ";
		} else {
			double x = v[i] > 1 ? 1 : v[i];
			int level = (int)(x * 7.0 + 0.5);
			if (ascii) {
				one[0] = ascii_levels[level];
				cell = one;
			} else {
				cell = blocks[level];
			}
		}
		size_t cl = strlen(cell);
		if (off + cl + 1 > len)
			break;
		memcpy(buf + off, cell, cl);
		off += cl;
		buf[off] = '\0';
		cells++;
	}
	return cells;
}

void rates_ring_push(struct rates_ring *r, int64_t hits, int64_t misses)
{
	size_t at = (r->head + r->n) % RATES_RING_MAX;
	if (r->n == RATES_RING_MAX) {
		at = r->head;
		r->head = (r->head + 1) % RATES_RING_MAX;
	} else {
		r->n++;
	}
	r->hits[at] = hits;
	r->misses[at] = misses;
}

size_t rates_ring_copy(const struct rates_ring *r, int64_t *hits, int64_t *misses)
{
	for (size_t i = 0; i < r->n; i++) {
		size_t at = (r->head + i) % RATES_RING_MAX;
		hits[i] = r->hits[at];
		misses[i] = r->misses[at];
	}
	return r->n;
}
