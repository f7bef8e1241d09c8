/* strata-top's batch outputs: plain text snapshots and JSON (top.h). */
#include "console/tui/top.h"

#include "lib/err.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void fmt_num(double x, const char *fmt, char *buf, size_t len)
{
	if (x < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, fmt, x);
}

void top_fmt_bytes(int64_t b, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double x = (double)b;
	int u = 0;
	while (x >= 1024 && u < 5) {
		x /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", x, units[u]);
}

void top_fmt_row(const struct top_row *r, char *buf, size_t len)
{
	char hit[16], req[16], mib[16], st[16], t[TOP_NTIERS][16], ev[16], hb[16];
	fmt_num(r->hit_pct, "%.1f", hit, sizeof(hit));
	fmt_num(r->req_s, "%.1f", req, sizeof(req));
	fmt_num(r->served_mib_s, "%.2f", mib, sizeof(mib));
	fmt_num(r->store_mib_s, "%.2f", st, sizeof(st));
	for (int i = 0; i < TOP_NTIERS; i++)
		fmt_num(r->tier_pct[i], "%.1f", t[i], sizeof(t[i]));
	fmt_num(r->evict_s, "%.1f", ev, sizeof(ev));
	fmt_num(r->hb_age_ms < 0 ? -1 : (double)r->hb_age_ms / 1000.0, "%.1fs", hb, sizeof(hb));
	snprintf(buf, len, "%-24.24s %-5.5s %6s %8s %8s %8s %6s %6s %6s %8s %7s", r->address,
		 r->state, hit, req, mib, st, t[0], t[1], t[2], ev, hb);
}

void top_fmt_header_row(char *buf, size_t len)
{
	snprintf(buf, len, "%-24s %-5s %6s %8s %8s %8s %6s %6s %6s %8s %7s", "ADDRESS", "STATE",
		 "HIT%", "REQ/s", "MiB/s", "STORE/s", "MEM%", "SSD%", "HDD%", "EVICT/s", "HB AGE");
}

/* The header lines (shared with the screen): up to TOP_HEADER_LINES. */
size_t top_fmt_header(const struct top_view *v, char lines[][256], size_t max)
{
	const struct top_sample *s = v->cur;
	size_t n = 0;
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	char clock[16];
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	if (s->rc) {
		snprintf(lines[n++], 256, "strata-top %s  NO MASTER ANSWERS (retrying all masters)",
			 clock);
		snprintf(lines[n++], 256, "  %.250s", s->err);
		return n;
	}
	snprintf(lines[n++], 256,
		 "strata-top %s  leader %s  masters %d/%d up  workers %" PRId64 " live, %" PRId64
		 " lost%s",
		 clock, *s->cluster.leader ? s->cluster.leader : "NONE (election?)",
		 v->masters_up, v->masters_total, s->cluster.workers_live,
		 s->cluster.workers_lost,
		 s->not_leader ? "  [a follower answered: figures may be stale]" : "");
	char cap[32], used[32];
	top_fmt_bytes(s->cluster.capacity_total_bytes, cap, sizeof(cap));
	top_fmt_bytes(s->cluster.capacity_used_bytes, used, sizeof(used));
	int off = snprintf(lines[n], 256, "Capacity %s used of %s", used, cap);
	for (int t = 0; t < TOP_NTIERS && off < 256; t++) {
		if (!v->tier_cap[t])
			continue;
		top_fmt_bytes(v->tier_cap[t], cap, sizeof(cap));
		top_fmt_bytes(v->tier_used[t], used, sizeof(used));
		off += snprintf(lines[n] + off, 256 - (size_t)off, "  %s %s/%s (%.0f%%)",
				top_tier_names[t], used, cap,
				rates_percent((double)v->tier_used[t], (double)v->tier_cap[t]));
	}
	n++;
	char a[16], b[16], c[16], d[16];
	fmt_num(v->hit_req_pct, "%.1f%%", a, sizeof(a));
	fmt_num(v->hit_req_pct_total, "%.1f%%", b, sizeof(b));
	fmt_num(v->hit_bytes_pct, "%.1f%%", c, sizeof(c));
	fmt_num(v->hit_bytes_pct_total, "%.1f%%", d, sizeof(d));
	snprintf(lines[n++], 256,
		 "Hit rate  requests %s (interval) %s (since start)  bytes %s (interval) %s "
		 "(since start)",
		 a, b, c, d);
	fmt_num(v->req_s, "%.1f", a, sizeof(a));
	fmt_num(v->cache_mib_s, "%.2f", b, sizeof(b));
	fmt_num(v->store_mib_s, "%.2f", c, sizeof(c));
	fmt_num(v->peers_mib_s, "%.2f", d, sizeof(d));
	snprintf(lines[n++], 256, "Reads  %s req/s  cache %s MiB/s  store %s MiB/s  peers %s MiB/s",
		 a, b, c, d);
	fmt_num(v->put_err_s, "%.1f/s", a, sizeof(a));
	fmt_num(v->write_err_s, "%.1f/s", b, sizeof(b));
	fmt_num(v->cksum_err_s, "%.1f/s", c, sizeof(c));
	fmt_num(v->store_err_s, "%.1f/s", d, sizeof(d));
	snprintf(lines[n++], 256,
		 "Errors  store read %s (%.0f)  cache put %s (%.0f)  tier write %s (%.0f)  "
		 "checksum %s (%.0f)",
		 d, v->store_err_total, a, v->put_err_total, b, v->write_err_total, c,
		 v->cksum_err_total);
	(void)max;
	return n;
}

void top_fmt_spark(const struct top_view *v, size_t width, bool ascii, char *buf, size_t len)
{
	char cells[4 * 160 + 1];
	if (width > 160)
		width = 160;
	if (!v->nspark) {
		snprintf(buf, len, "Hit ratio: collecting (one value per interval)");
		return;
	}
	rates_sparkline(v->spark, v->nspark, width, ascii, cells, sizeof(cells));
	snprintf(buf, len, "Hit ratio, %s every %.0fs: [%s] (blank: no reads)",
		 v->spark_from_history ? "master history" : "own samples",
		 (double)v->spark_step_ms / 1000.0, cells);
}

void top_print_text(FILE *f, const struct top_view *v, int64_t iteration)
{
	char lines[8][256];
	size_t n = top_fmt_header(v, lines, 8);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	if (!v->cur->rc) {
		char spark[4 * 160 + 128]; /* what top_fmt_spark may write */
		top_fmt_spark(v, 60, true, spark, sizeof(spark));
		fprintf(f, "%s\n", spark);
		char row[256];
		top_fmt_header_row(row, sizeof(row));
		fprintf(f, "\n%s\n", row);
		for (size_t i = 0; i < v->nrows; i++) {
			top_fmt_row(&v->rows[i], row, sizeof(row));
			fprintf(f, "%s\n", row);
		}
	}
	fprintf(f, "\n");
	fflush(f);
}

static void add_num(cJSON *o, const char *key, double x)
{
	if (x < 0)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddNumberToObject(o, key, x);
}

/* A worker's per-mount rates and top paths (the detail view's tables). */
static void add_worker_paths(cJSON *x, const struct top_row *r)
{
	cJSON *ms = cJSON_AddArrayToObject(x, "mounts");
	for (size_t k = 0; ms && k < r->nmounts; k++) {
		const struct top_mount_row *m = &r->mounts[k];
		cJSON *e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(ms, e)) {
			cJSON_Delete(e);
			return;
		}
		cJSON_AddStringToObject(e, "mount", m->mount);
		add_num(e, "requests_per_s", m->req_s);
		add_num(e, "hit_pct", m->hit_pct);
		add_num(e, "hit_pct_since_start", m->hit_pct_total);
		add_num(e, "cache_mib_per_s", m->cache_mib_s);
		add_num(e, "store_mib_per_s", m->store_mib_s);
	}
	cJSON *ps = cJSON_AddArrayToObject(x, "top_paths");
	for (size_t k = 0; ps && r->stats && k < r->stats->npaths; k++) {
		const struct client_path_stats *p = &r->stats->top_paths[k];
		cJSON *e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(ps, e)) {
			cJSON_Delete(e);
			return;
		}
		cJSON_AddStringToObject(e, "path", p->path);
		cJSON_AddNumberToObject(e, "requests", p->requests);
		cJSON_AddNumberToObject(e, "bytes", p->bytes);
	}
}

int top_print_json(FILE *f, const struct top_view *v, int64_t iteration)
{
	const struct top_sample *s = v->cur;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	cJSON_AddNumberToObject(o, "iteration", (double)iteration);
	cJSON_AddNumberToObject(o, "time_ms", (double)time(NULL) * 1000.0);
	cJSON_AddBoolToObject(o, "ok", s->rc == 0);
	if (s->rc) {
		cJSON_AddStringToObject(o, "error", s->err);
		goto print;
	}
	cJSON_AddStringToObject(o, "leader", s->cluster.leader);
	add_num(o, "interval_s", v->rates ? v->dt_s : -1);
	cJSON *m = cJSON_AddObjectToObject(o, "masters");
	cJSON_AddNumberToObject(m, "up", v->masters_up);
	cJSON_AddNumberToObject(m, "total", v->masters_total);
	cJSON *w = cJSON_AddObjectToObject(o, "workers");
	cJSON_AddNumberToObject(w, "live", (double)s->cluster.workers_live);
	cJSON_AddNumberToObject(w, "lost", (double)s->cluster.workers_lost);
	cJSON *cap = cJSON_AddObjectToObject(o, "capacity");
	cJSON_AddNumberToObject(cap, "total_bytes", (double)s->cluster.capacity_total_bytes);
	cJSON_AddNumberToObject(cap, "used_bytes", (double)s->cluster.capacity_used_bytes);
	for (int t = 0; t < TOP_NTIERS; t++) {
		if (!v->tier_cap[t])
			continue;
		cJSON *tt = cJSON_AddObjectToObject(cap, top_tier_names[t]);
		cJSON_AddNumberToObject(tt, "total_bytes", (double)v->tier_cap[t]);
		cJSON_AddNumberToObject(tt, "used_bytes", (double)v->tier_used[t]);
	}
	cJSON *c = cJSON_AddObjectToObject(o, "cluster");
	add_num(c, "hit_pct_requests", v->hit_req_pct);
	add_num(c, "hit_pct_requests_since_start", v->hit_req_pct_total);
	add_num(c, "hit_pct_bytes", v->hit_bytes_pct);
	add_num(c, "hit_pct_bytes_since_start", v->hit_bytes_pct_total);
	add_num(c, "requests_per_s", v->req_s);
	add_num(c, "cache_mib_per_s", v->cache_mib_s);
	add_num(c, "store_mib_per_s", v->store_mib_s);
	add_num(c, "peers_mib_per_s", v->peers_mib_s);
	add_num(c, "cache_put_errors_per_s", v->put_err_s);
	add_num(c, "tier_write_errors_per_s", v->write_err_s);
	add_num(c, "checksum_failures_per_s", v->cksum_err_s);
	add_num(c, "store_read_errors_per_s", v->store_err_s);
	/* the totals since each worker started, as the text view shows them */
	cJSON_AddNumberToObject(c, "cache_put_errors_total", v->put_err_total);
	cJSON_AddNumberToObject(c, "tier_write_errors_total", v->write_err_total);
	cJSON_AddNumberToObject(c, "checksum_failures_total", v->cksum_err_total);
	cJSON_AddNumberToObject(c, "store_read_errors_total", v->store_err_total);
	cJSON *sp = cJSON_AddObjectToObject(o, "hit_ratio_series");
	cJSON_AddStringToObject(sp, "source", v->spark_from_history ? "master" : "own");
	cJSON_AddNumberToObject(sp, "step_ms", (double)v->spark_step_ms);
	cJSON *vals = cJSON_AddArrayToObject(sp, "values");
	for (size_t i = 0; vals && i < v->nspark; i++)
		cJSON_AddItemToArray(vals, v->spark[i] < 0 ? cJSON_CreateNull()
							   : cJSON_CreateNumber(v->spark[i]));
	cJSON *rows = cJSON_AddArrayToObject(o, "workers_table");
	for (size_t i = 0; rows && i < v->nrows; i++) {
		const struct top_row *r = &v->rows[i];
		cJSON *x = cJSON_CreateObject();
		if (!x)
			break;
		cJSON_AddItemToArray(rows, x);
		char id[24];
		snprintf(id, sizeof(id), "%" PRIu64, r->id);
		cJSON_AddStringToObject(x, "id", id);
		cJSON_AddStringToObject(x, "address", r->address);
		cJSON_AddStringToObject(x, "state", r->state);
		cJSON_AddBoolToObject(x, "reachable", r->reachable);
		add_num(x, "hit_pct", r->hit_pct);
		add_num(x, "requests_per_s", r->req_s);
		add_num(x, "served_mib_per_s", r->served_mib_s);
		add_num(x, "store_mib_per_s", r->store_mib_s);
		for (int t = 0; t < TOP_NTIERS; t++) {
			char key[16];
			snprintf(key, sizeof(key), "%s_used_pct", top_tier_names[t]);
			add_num(x, key, r->tier_pct[t]);
		}
		add_num(x, "evictions_per_s", r->evict_s);
		cJSON_AddNumberToObject(x, "heartbeat_age_ms", (double)r->hb_age_ms);
		add_worker_paths(x, r);
	}
print:;
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	fprintf(f, "%s\n", text);
	fflush(f);
	free(text);
	return 0;
}
