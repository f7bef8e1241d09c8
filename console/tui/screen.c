/*
 * strata-top's interactive screen (ncursesw). The terminal is always given
 * back: endwin on the way out, from atexit, after SIGINT/SIGTERM (which end
 * the loop), and on a crash (SIGSEGV/SIGABRT/SIGBUS/SIGFPE: endwin, then the
 * signal again with its default action, so the core dump still happens).
 */
#include "console/tui/top.h"

#include "lib/clock.h"

#include <curses.h>
#include <errno.h>
#include <inttypes.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum view { VIEW_TABLE, VIEW_HELP, VIEW_MASTERS, VIEW_JOBS, VIEW_DETAIL };
enum { PAIR_LOST = 1, PAIR_LOW, PAIR_TITLE, PAIR_ALERT };

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_curses_on;

static void restore_terminal(void)
{
	if (g_curses_on) {
		g_curses_on = 0;
		endwin();
	}
}

static void on_stop(int sig)
{
	if (g_stop) { /* a second signal: do not wait for the loop */
		restore_terminal();
		signal(sig, SIG_DFL);
		raise(sig);
	}
	g_stop = sig;
}

static void on_crash(int sig)
{
	restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_crash;
	sa.sa_flags = SA_RESETHAND;
	int crash[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };
	for (size_t i = 0; i < sizeof(crash) / sizeof(crash[0]); i++)
		sigaction(crash[i], &sa, NULL);
	atexit(restore_terminal);
}

struct ui {
	struct client *mc;
	struct httpc *hc;
	const struct top_collect_opts *co;
	double delay_s;
	bool color, paused, reverse;
	bool utf8; /* the locale's characters: block sparkline, else ASCII */
	enum view view;
	enum top_col sort;
	char filter[64];
	uint64_t selected; /* worker id; 0 none */
	int sel_index;
	struct top_sampler *t;
	struct top_view *v; /* &t->view */
	const struct top_sample *cur; /* t->shown */
	int64_t refreshes;
	char status[160];
};

static int attr_of(struct ui *u, int pair, int mono)
{
	return u->color ? (int)COLOR_PAIR(pair) : mono;
}

static void refresh_data(struct ui *u)
{
	top_sampler_step(u->t, u->mc, u->hc, u->co, clock_mono_ms());
	u->cur = u->t->shown;
	top_sort_rows(u->v->rows, u->v->nrows, u->sort, u->reverse);
	u->refreshes++;
}

static bool row_shown(struct ui *u, const struct top_row *r)
{
	return !*u->filter || strstr(r->address, u->filter);
}

static void draw_header(struct ui *u, int *y)
{
	char lines[TOP_HEADER_LINES][256];
	size_t n = top_fmt_header(u->v, lines, TOP_HEADER_LINES);
	for (size_t i = 0; i < n; i++) {
		int a = i == 0 ? A_BOLD : 0;
		if (u->v->cur->rc)
			a = attr_of(u, PAIR_ALERT, A_REVERSE) | A_BOLD;
		attron(a);
		mvaddnstr((*y)++, 0, lines[i], COLS);
		attroff(a);
	}
	if (u->v->cur->rc)
		return;
	char spark[4 * 160 + 128];
	int width = COLS - 64;
	top_fmt_spark(u->v, width > 8 ? (size_t)width : 8, !u->utf8, spark, sizeof(spark));
	mvaddstr((*y)++, 0, spark);
}

static void draw_table(struct ui *u, int y)
{
	char row[256];
	top_fmt_header_row(row, sizeof(row));
	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	mvaddnstr(y, 0, row, COLS);
	attroff(A_REVERSE);
	/* the sort column's title: bold and underlined, with its direction */
	const char *title = strstr(row, top_col_names[u->sort]);
	if (title && title - row < COLS) {
		int len = (int)strlen(top_col_names[u->sort]);
		mvchgat(y, (int)(title - row), len, A_REVERSE | A_BOLD | A_UNDERLINE, 0, NULL);
	}
	mvprintw(LINES - 1, 0, "sort: %s%s%s%s  refresh %.1fs%s", top_col_names[u->sort],
		 u->reverse ? " (reversed)" : "", *u->filter ? "  filter: " : "", u->filter,
		 u->delay_s, u->paused ? "  PAUSED" : "");
	y++;
	int shown = 0;
	for (size_t i = 0; i < u->v->nrows && y < LINES - 1; i++) {
		const struct top_row *r = &u->v->rows[i];
		if (!row_shown(u, r))
			continue;
		if (shown == u->sel_index)
			u->selected = r->id;
		top_fmt_row(r, row, sizeof(row));
		int a = 0;
		if (!r->live)
			a = attr_of(u, PAIR_LOST, A_BOLD);
		else if (r->hit_pct >= 0 && r->hit_pct < 50)
			a = attr_of(u, PAIR_LOW, A_UNDERLINE);
		if (shown == u->sel_index)
			a |= A_REVERSE;
		attron(a);
		mvaddnstr(y++, 0, row, COLS);
		attroff(a);
		shown++;
	}
	if (shown == 0)
		mvaddnstr(y, 0, u->v->nrows ? "  (no worker matches the filter)"
					   : "  (no workers registered)", COLS);
	if (u->sel_index >= shown && shown > 0)
		u->sel_index = shown - 1;
}

static void draw_help(struct ui *u)
{
	static const char *const lines[] = {
		"strata-top keys",
		"",
		"  q          quit",
		"  h, ?       this help (any key returns)",
		"  < >        sort by the column left / right of the current one",
		"  s          next sort column",
		"  r          reverse the sort order",
		"  d          change the refresh interval (seconds)",
		"  m          masters view",
		"  j          jobs view",
		"  Up/Down    select a worker; Enter: its detail",
		"  p          pause / resume refreshing",
		"  /          filter workers by address (empty: all)",
		"  Esc        back to the workers table",
		"",
		"Columns: ADDRESS, STATE (live/lost), HIT% (block hits / block reads),",
		"REQ/s (read requests), MiB/s (bytes served), STORE/s (MiB/s from the store),",
		"MEM% SSD% HDD% (tier used), EVICT/s (blocks evicted), HB AGE (last heartbeat).",
		"Rates are counter differences over the last refresh interval.",
		"Lost workers are red, hit ratios under 50% yellow (NO_COLOR: bold/underline).",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && (int)i < LINES; i++)
		mvaddnstr((int)i, 0, lines[i], COLS);
	(void)u;
}

static void draw_masters(struct ui *u, int y)
{
	const struct top_sample *s = u->cur;
	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	mvprintw(y++, 0, "%-4s %-10s %-30s %-22s %6s %8s %8s %6s", "ID", "ROLE", "REST URL",
		 "RAFT", "TERM", "COMMIT", "APPLIED", "LAG");
	attroff(A_REVERSE);
	if (s->masters_rc) {
		mvaddnstr(y, 0, "  the masters list could not be read this refresh", COLS);
		return;
	}
	for (size_t i = 0; i < s->masters.n && y < LINES - 1; i++) {
		const struct client_master *m = &s->masters.masters[i];
		int a = strcmp(m->role, "leader") == 0 ? A_BOLD : 0;
		if (!strcmp(m->role, "unreachable") || !strcmp(m->role, "unknown"))
			a = attr_of(u, PAIR_LOST, A_UNDERLINE);
		attron(a);
		mvprintw(y++, 0, "%-4" PRIu64 " %-10s %-30.30s %-22.22s %6" PRId64 " %8" PRId64
				 " %8" PRId64 " %6" PRId64 "%s",
			 m->id, m->role, m->rest_url, m->raft_address, m->term, m->commit_index,
			 m->applied_index, m->lag, m->self ? "  (answered)" : "");
		attroff(a);
	}
	mvprintw(LINES - 1, 0, "masters view (Esc: back)  asked: %s", s->leader);
}

/* Load and free jobs, newest first (GET /api/v1/jobs). */
static void draw_jobs(struct ui *u, int y)
{
	const struct top_sample *s = u->cur;
	if (s->jobs_rc == -ENOSYS) {
		mvaddnstr(y, 0, "Jobs: no jobs API on this cluster (Esc: back)", COLS);
		return;
	}
	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	mvprintw(y++, 0, "%-6s %-5s %-10s %6s %13s %21s %11s %8s %6s  %s", "JOB", "TYPE", "STATE",
		 "DONE%", "FILES", "BYTES", "RATE/s", "ETA", "ERRORS", "PATH");
	attroff(A_REVERSE);
	if (s->jobs_rc) {
		mvaddnstr(y, 0, "  the jobs list could not be read this refresh", COLS);
	} else if (!s->njobs) {
		mvaddnstr(y, 0, "  no jobs (strata fs load PATH starts one)", COLS);
	}
	for (size_t i = 0; i < s->njobs && y < LINES - 1; i++) {
		const struct client_job *j = &s->jobs[i];
		char done[16], bytes[24], total[24], brate[24], eta[24], files[32], by[48];
		double frac = j->bytes_total > 0 ? (double)j->bytes_done / (double)j->bytes_total
			      : j->files_total > 0 ? (double)j->files_done / (double)j->files_total
						   : 1.0;
		snprintf(done, sizeof(done), "%.0f", 100.0 * frac);
		snprintf(files, sizeof(files), "%" PRId64 "/%" PRId64, j->files_done, j->files_total);
		top_fmt_bytes(j->bytes_done, bytes, sizeof(bytes));
		top_fmt_bytes(j->bytes_total, total, sizeof(total));
		snprintf(by, sizeof(by), "%s/%s", bytes, total);
		if (j->rate_bytes_per_s > 0)
			top_fmt_bytes(j->rate_bytes_per_s, brate, sizeof(brate));
		else
			snprintf(brate, sizeof(brate), "-");
		bool active = !strcmp(j->state, "running") || !strcmp(j->state, "queued");
		if (active && j->eta_ms >= 0)
			snprintf(eta, sizeof(eta), "%.0fs", (double)j->eta_ms / 1000.0);
		else
			snprintf(eta, sizeof(eta), "-");
		int a = 0;
		if (!strcmp(j->state, "failed"))
			a = attr_of(u, PAIR_LOST, A_BOLD);
		else if (active)
			a = (int)A_BOLD;
		attron(a);
		mvprintw(y++, 0, "%-6" PRIu64 " %-5s %-10s %6s %13s %21s %11s %8s %6" PRId64 "  %s",
			 j->id, j->type, j->state, done, files, by, brate, eta, j->files_failed,
			 j->path);
		attroff(a);
	}
	mvaddnstr(LINES - 1, 0, "jobs view (Esc: back)", COLS);
}

static const struct top_row *selected_row(struct ui *u, size_t *index)
{
	for (size_t i = 0; i < u->v->nrows; i++)
		if (u->v->rows[i].id == u->selected) {
			for (size_t k = 0; k < u->cur->cluster.nworkers; k++)
				if (u->cur->cluster.workers[k].id == u->selected)
					*index = k;
			return &u->v->rows[i];
		}
	return NULL;
}

static void fmt_rate(double v, const char *fmt, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, fmt, v);
}

/* The worker's reads by mount: rates over the last refresh interval. */
static int draw_mounts(struct ui *u, const struct top_row *r, int y)
{
	if (y >= LINES - 3)
		return y;
	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	mvprintw(y++, 0, "%-32s %9s %7s %9s %12s %12s", "MOUNT", "REQ/s", "HIT%", "HIT% ALL",
		 "CACHE MiB/s", "STORE MiB/s");
	attroff(A_REVERSE);
	if (!r->nmounts)
		mvaddnstr(y++, 0, "  (no reads yet, or the worker does not report mounts)", COLS);
	for (size_t i = 0; i < r->nmounts && y < LINES - 3; i++) {
		const struct top_mount_row *m = &r->mounts[i];
		char a[24], b[24], c[24], d[24], e[24];
		fmt_rate(m->req_s, "%.1f", a, sizeof(a));
		fmt_rate(m->hit_pct, "%.1f", b, sizeof(b));
		fmt_rate(m->hit_pct_total, "%.1f", c, sizeof(c));
		fmt_rate(m->cache_mib_s, "%.2f", d, sizeof(d));
		fmt_rate(m->store_mib_s, "%.2f", e, sizeof(e));
		int a_low = m->hit_pct >= 0 && m->hit_pct < 50 ? attr_of(u, PAIR_LOW, A_UNDERLINE) : 0;
		attron(a_low);
		mvprintw(y++, 0, "%-32.32s %9s %7s %9s %12s %12s", *m->mount ? m->mount : "(no mount)",
			 a, b, c, d, e);
		attroff(a_low);
	}
	return y;
}

/* The paths this worker was asked for most lately (counts halve every
 * minute). */
static int draw_top_paths(const struct top_row *r, int y)
{
	if (y >= LINES - 3 || !r->stats)
		return y;
	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	mvprintw(y++, 0, "%-60s %10s %12s", "TOP PATHS (recent requests, halved each minute)",
		 "REQUESTS", "BYTES");
	attroff(A_REVERSE);
	if (!r->stats->npaths)
		mvaddnstr(y++, 0, "  (no reads in the last minutes)", COLS);
	for (size_t i = 0; i < r->stats->npaths && i < 10 && y < LINES - 3; i++) {
		const struct client_path_stats *p = &r->stats->top_paths[i];
		char bytes[32];
		top_fmt_bytes((int64_t)p->bytes, bytes, sizeof(bytes));
		mvprintw(y++, 0, "%-60.60s %10.0f %12s", p->path, p->requests, bytes);
	}
	return y;
}

static void draw_detail(struct ui *u, int y)
{
	size_t k = 0;
	const struct top_row *r = selected_row(u, &k);
	if (!r) {
		mvaddnstr(y, 0, "  the selected worker is gone from the cluster (Esc: back)", COLS);
		return;
	}
	const struct client_worker *w = &u->cur->cluster.workers[k];
	attron(A_BOLD);
	mvprintw(y++, 0, "Worker %" PRIu64 "  %s  %s  version %s  S3 port %d  heartbeat %.1fs ago",
		 w->id, w->address, w->state, w->version, w->s3_port,
		 (double)w->last_heartbeat_ms_ago / 1000.0);
	attroff(A_BOLD);
	if (u->cur->wrc[k]) {
		mvaddnstr(y++, 0, "  the worker did not answer GET /api/v1/metrics this refresh",
			  COLS);
		return;
	}
	const struct client_worker_stats *s = &u->cur->wstats[k];
	y++;
	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	mvprintw(y++, 0, "%-5s %12s %12s %6s %9s %10s %12s %10s %10s", "TIER", "CAPACITY",
		 "USED", "USED%", "BLOCKS", "HITS", "SERVED", "EVICTIONS", "DEMOTIONS");
	attroff(A_REVERSE);
	for (size_t i = 0; i < s->ntiers && y < LINES - 2; i++) {
		const struct client_tier_stats *t = &s->tiers[i];
		char cap[32], used[32], served[32];
		top_fmt_bytes(t->capacity_bytes, cap, sizeof(cap));
		top_fmt_bytes(t->used_bytes, used, sizeof(used));
		top_fmt_bytes(t->bytes_served, served, sizeof(served));
		mvprintw(y++, 0, "%-5s %12s %12s %6.1f %9" PRId64 " %10" PRId64 " %12s %10" PRId64
				 " %10" PRId64,
			 t->name, cap, used,
			 t->capacity_bytes ? 100.0 * (double)t->used_bytes / (double)t->capacity_bytes
					   : 0.0,
			 t->blocks, t->hits, served, t->evictions, t->demotions);
	}
	y = draw_mounts(u, r, y + 1);
	y = draw_top_paths(r, y + 1);
	y++;
	mvaddnstr(y++, 0, "Counters (cumulative since the worker started):", COLS);
	int col = 0;
	for (size_t i = 0; i < s->ncounters && y < LINES - 3; i++) {
		mvprintw(y, col, "%-34.34s %14.0f", s->counters[i].name, s->counters[i].value);
		col += 52;
		if (col + 50 > COLS) {
			col = 0;
			y++;
		}
	}
	mvaddnstr(LINES - 1, 0, "worker detail (Esc: back)", COLS);
}

static void draw(struct ui *u)
{
	erase();
	if (u->view == VIEW_HELP) {
		draw_help(u);
		refresh();
		return;
	}
	int y = 0;
	draw_header(u, &y);
	y++;
	if (!u->v->cur->rc) {
		if (u->view == VIEW_TABLE)
			draw_table(u, y);
		else if (u->view == VIEW_MASTERS)
			draw_masters(u, y);
		else if (u->view == VIEW_DETAIL)
			draw_detail(u, y);
		else
			draw_jobs(u, y);
	}
	if (*u->status) {
		attron(A_BOLD);
		mvaddnstr(LINES - 1, 0, u->status, COLS);
		attroff(A_BOLD);
		clrtoeol();
	}
	refresh();
}

/* A line typed at the bottom of the screen; false on Esc. */
static bool prompt(const char *what, char *buf, size_t len)
{
	move(LINES - 1, 0);
	clrtoeol();
	attron(A_BOLD);
	addstr(what);
	attroff(A_BOLD);
	refresh();
	echo();
	curs_set(1);
	timeout(-1);
	int rc = getnstr(buf, (int)len - 1);
	noecho();
	curs_set(0);
	timeout(200);
	return rc == OK;
}

static void on_key(struct ui *u, int ch, bool *quit)
{
	u->status[0] = '\0';
	if (u->view == VIEW_HELP && ch != ERR && ch != KEY_RESIZE) {
		u->view = VIEW_TABLE;
		if (ch != 'q')
			return;
	}
	char line[64];
	switch (ch) {
	case 'q':
		*quit = true;
		break;
	case 'h':
	case '?':
		u->view = VIEW_HELP;
		break;
	case 27: /* Esc */
		u->view = VIEW_TABLE;
		break;
	case '<':
		u->sort = u->sort == 0 ? COL_COUNT - 1 : u->sort - 1;
		break;
	case '>':
	case 's':
		u->sort = (u->sort + 1) % COL_COUNT;
		break;
	case 'r':
		u->reverse = !u->reverse;
		break;
	case 'p':
		u->paused = !u->paused;
		break;
	case 'm':
		u->view = VIEW_MASTERS;
		break;
	case 'j':
		u->view = VIEW_JOBS;
		break;
	case KEY_UP:
		if (u->sel_index > 0)
			u->sel_index--;
		break;
	case KEY_DOWN:
		u->sel_index++;
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (u->view == VIEW_TABLE && u->v->nrows)
			u->view = VIEW_DETAIL;
		break;
	case 'd':
		line[0] = '\0';
		if (prompt("Refresh interval in seconds: ", line, sizeof(line)) && *line) {
			char *end;
			double d = strtod(line, &end);
			if (*end || !(d >= 0.1) || d > 86400)
				snprintf(u->status, sizeof(u->status),
					 "not an interval: '%s' (0.1 to 86400 seconds)", line);
			else
				u->delay_s = d;
		}
		break;
	case '/':
		line[0] = '\0';
		if (prompt("Filter workers by address (empty: all): ", line, sizeof(line)))
			snprintf(u->filter, sizeof(u->filter), "%s", line);
		u->sel_index = 0;
		break;
	default:
		break;
	}
	if (u->sort != COL_COUNT)
		top_sort_rows(u->v->rows, u->v->nrows, u->sort, u->reverse);
}

int top_screen_run(struct client *mc, struct httpc *hc, const struct top_collect_opts *co,
		   double delay_s, int64_t iterations)
{
	static struct ui u;
	memset(&u, 0, sizeof(u));
	u.mc = mc;
	u.hc = hc;
	u.co = co;
	u.delay_s = delay_s;
	u.sort = COL_ADDRESS;
	u.t = top_sampler_new();
	if (!u.t) {
		fprintf(stderr, "strata-top: out of memory\n");
		return 1;
	}
	u.v = &u.t->view;
	setlocale(LC_ALL, "");
	u.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	install_handlers();
	if (!initscr()) {
		fprintf(stderr, "strata-top: cannot start the screen (TERM?)\n");
		return 1;
	}
	g_curses_on = 1;
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	set_escdelay(50);
	curs_set(0);
	timeout(200);
	u.color = has_colors() && !getenv("NO_COLOR");
	if (u.color) {
		start_color();
		use_default_colors();
		init_pair(PAIR_LOST, COLOR_RED, -1);
		init_pair(PAIR_LOW, COLOR_YELLOW, -1);
		init_pair(PAIR_TITLE, COLOR_CYAN, -1);
		init_pair(PAIR_ALERT, COLOR_WHITE, COLOR_RED);
	}
	bool quit = false;
	int64_t next = 0;
	while (!quit && !g_stop) {
		int64_t now = clock_mono_ms();
		if (!u.paused && now >= next) {
			refresh_data(&u);
			next = clock_mono_ms() + (int64_t)(u.delay_s * 1000);
			if (iterations > 0 && u.refreshes > iterations)
				break;
		}
		draw(&u);
		int ch = getch();
		if (ch == KEY_RESIZE)
			continue;
		if (ch != ERR)
			on_key(&u, ch, &quit);
	}
	restore_terminal();
	top_sampler_free(u.t);
	/* like a shell reports a process a signal ended */
	return g_stop ? 128 + g_stop : 0;
}
