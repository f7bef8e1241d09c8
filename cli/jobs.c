/* `strata fs load|free` and `strata admin jobs`: data jobs
 * (docs/operations.md, "Data jobs"). */
#include "cli/cli.h"

#include "client/client.h"
#include "daemon/common.h"
#include "lib/err.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 200
#define LINE_EVERY_MS 1000 /* progress lines when stdout is not a terminal */
#define RETRY_MS 30000     /* how long a leader change may keep the job from us */

void cli_jobs_usage(FILE *f)
{
	fprintf(f,
		"  fs load [-R] [--medium MEM|SSD|HDD] [--no-wait] PATH\n"
		"                    read PATH's files into the workers' caches (a job)\n"
		"  fs free [-R] [--no-wait] PATH\n"
		"                    drop PATH's cached blocks (pinned files are kept)\n"
		"  fs persist [-R] [--no-wait] PATH\n"
		"                    write PATH's files that only the caches hold to the store\n"
		"                    both wait with progress (files, bytes, rate, ETA);\n"
		"                    --no-wait prints the job id\n"
		"  admin jobs [ID]   running and recent jobs, or one with its errors\n"
		"  admin jobs cancel ID\n");
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fmt_eta(int64_t ms, char *buf, size_t len)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 60000)
		snprintf(buf, len, "%llds", (long long)(ms + 999) / 1000);
	else
		snprintf(buf, len, "%lldm%02llds", (long long)ms / 60000,
			 (long long)(ms % 60000) / 1000);
}

/* "450/1000 files, 1.20 MiB/2.00 MiB, 3.40 MiB/s, ETA 2s" */
static void fmt_progress(const struct client_job *j, char *buf, size_t len)
{
	char done[32], total[32], rate[32], eta[32];
	cli_fmt_bytes((double)j->bytes_done, done, sizeof(done));
	cli_fmt_bytes((double)j->bytes_total, total, sizeof(total));
	cli_fmt_bytes((double)j->rate_bytes_per_s, rate, sizeof(rate));
	fmt_eta(j->eta_ms, eta, sizeof(eta));
	snprintf(buf, len, "%" PRId64 "/%" PRId64 " files, %s/%s, %s/s, ETA %s", j->files_done,
		 j->files_total, done, total, rate, eta);
}

static void draw_bar(const struct client_job *j)
{
	char line[200];
	fmt_progress(j, line, sizeof(line));
	int width = 30, filled = 0;
	if (j->bytes_total > 0)
		filled = (int)((double)j->bytes_done * width / (double)j->bytes_total);
	else if (j->files_total > 0)
		filled = (int)((double)j->files_done * width / (double)j->files_total);
	if (filled > width)
		filled = width;
	char bar[64];
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '-';
	bar[width] = '\0';
	fprintf(stderr, "\r[%s] %s\033[K", bar, line);
	fflush(stderr);
}

static void print_errors(const struct client_job *j, FILE *f)
{
	const cJSON *e;
	int shown = 0;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j->json, "errors"))
	{
		if (shown++ == 10)
			break;
		fprintf(f, "  %s: %s\n", json_str_or(e, "path", "?"), json_str_or(e, "reason", "?"));
	}
	int64_t total = json_int_or(j->json, "errors_total", 0);
	if (total > shown)
		fprintf(f, "  (%" PRId64 " errors in all; strata admin jobs %" PRIu64 ")\n", total,
			j->id);
}

static bool ended(const struct client_job *j)
{
	return strcmp(j->state, "queued") != 0 && strcmp(j->state, "running") != 0;
}

/* Polls job id until it ends: a bar on a terminal, lines otherwise. */
static int wait_job(struct cli *cli, uint64_t id)
{
	bool tty = isatty(STDERR_FILENO) && !cli->json;
	int64_t last_line = 0, last_done = -1, failing_since = 0;
	struct client_job j = { 0 };
	char err[1024] = "";
	for (;;) {
		client_job_clear(&j);
		int rc = client_job_get(cli->masters, cli->http, id, &j, err, sizeof(err));
		bool transient = rc == -EAGAIN || rc == ST_ENOTLEADER || rc == ST_ENOLEADER ||
				 rc == ST_EPEER || rc == -ETIMEDOUT;
		if (transient && !failing_since)
			failing_since = mono_ms();
		if (transient && mono_ms() - failing_since < RETRY_MS) {
			/* A leader change: ask again. */
			usleep(POLL_MS * 1000);
			continue;
		}
		failing_since = 0;
		if (rc)
			return cli_fail(rc, err);
		if (ended(&j))
			break;
		if (tty) {
			draw_bar(&j);
		} else if (!cli->json && (!last_line || (mono_ms() - last_line >= LINE_EVERY_MS &&
							  j.files_done != last_done))) {
			char line[200];
			fmt_progress(&j, line, sizeof(line));
			printf("%s %s: %s\n", j.type, j.path, line);
			fflush(stdout);
			last_line = mono_ms();
			last_done = j.files_done;
		}
		usleep(POLL_MS * 1000);
	}
	if (tty) {
		draw_bar(&j);
		fputc('\n', stderr);
	}
	int code = strcmp(j.state, "done") == 0 ? EXIT_OK : EXIT_ERROR;
	if (cli->json) {
		cli_print_json(j.json);
	} else {
		char line[200];
		fmt_progress(&j, line, sizeof(line));
		printf("%s %s: %s: %s%s%s\n", j.type, j.path, j.state, line, j.reason[0] ? "; " : "",
		       j.reason);
	}
	if (code != EXIT_OK)
		print_errors(&j, stderr);
	client_job_clear(&j);
	return code;
}

int cli_fs_job(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "medium", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const char *type = argv[0];
	bool load = strcmp(type, "load") == 0, recursive = false, nowait = false;
	const char *use = load ? "[-R] [--medium MEM|SSD|HDD] [--no-wait] PATH"
			       : "[-R] [--no-wait] PATH";
	char medium[8] = "";
	optind = 0;
	opterr = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+Rrj", longs, NULL)) != -1) {
		if (c == 'j') {
			cli->json = true;
		} else if (c == 'R' || c == 'r') {
			recursive = true;
		} else if (c == 'n') {
			nowait = true;
		} else if (c == 'm' && load && strlen(optarg) < sizeof(medium)) {
			for (size_t k = 0; optarg[k]; k++)
				medium[k] = (char)(optarg[k] >= 'a' && optarg[k] <= 'z'
							   ? optarg[k] - 'a' + 'A'
							   : optarg[k]);
		} else {
			fprintf(stderr, "usage: strata fs %s %s\n", type, use);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: strata fs %s %s\n", type, use);
		return EXIT_USAGE;
	}
	uint64_t id = 0;
	char err[1024] = "";
	int rc = client_job_create(cli->masters, cli->http, type, argv[optind], recursive,
				   medium[0] ? medium : NULL, &id, err, sizeof(err));
	if (rc)
		return cli_fail(rc, err);
	if (!nowait)
		return wait_job(cli, id);
	if (cli->json)
		printf("{\"id\":\"%" PRIu64 "\"}\n", id);
	else
		printf("%" PRIu64 "\n", id);
	return EXIT_OK;
}

static int parse_id(const char *s, uint64_t *id)
{
	if (json_parse_u64(s, id) || *id == 0) {
		fprintf(stderr, "strata: '%s' is not a job id\n", s);
		return EXIT_USAGE;
	}
	return 0;
}

static void print_job_line(const struct client_job *j)
{
	char line[200];
	fmt_progress(j, line, sizeof(line));
	printf("%-6" PRIu64 " %-5s %-10s %s  %s\n", j->id, j->type, j->state, j->path, line);
}

int cli_admin_jobs(struct cli *cli, int argc, char **argv)
{
	int i = 1;
	for (int k = 1; k < argc; k++)
		if (strcmp(argv[k], "--json") == 0)
			cli->json = true;
	char *args[3];
	int nargs = 0;
	for (; i < argc; i++)
		if (strcmp(argv[i], "--json") != 0 && nargs < 3)
			args[nargs++] = argv[i];
	char err[1024] = "";
	uint64_t id = 0;
	if (nargs == 2 && strcmp(args[0], "cancel") == 0) {
		if (parse_id(args[1], &id))
			return EXIT_USAGE;
		struct client_job j = { 0 };
		int rc = client_job_cancel(cli->masters, cli->http, id, &j, err, sizeof(err));
		if (rc)
			return cli_fail(rc, err);
		if (cli->json)
			cli_print_json(j.json);
		else
			printf("job %" PRIu64 " cancelled\n", id);
		client_job_clear(&j);
		return EXIT_OK;
	}
	if (nargs == 1) {
		if (parse_id(args[0], &id))
			return EXIT_USAGE;
		struct client_job j = { 0 };
		int rc = client_job_get(cli->masters, cli->http, id, &j, err, sizeof(err));
		if (rc)
			return cli_fail(rc, err);
		if (cli->json) {
			cli_print_json(j.json);
		} else {
			print_job_line(&j);
			if (j.reason[0])
				printf("  %s\n", j.reason);
			print_errors(&j, stdout);
		}
		client_job_clear(&j);
		return EXIT_OK;
	}
	if (nargs != 0) {
		fprintf(stderr, "usage: strata admin jobs [--json] [ID | cancel ID]\n");
		return EXIT_USAGE;
	}
	cJSON *doc = NULL;
	int rc = client_jobs_list(cli->masters, cli->http, &doc, err, sizeof(err));
	if (rc)
		return cli_fail(rc, err);
	if (cli->json) {
		cli_print_json(doc);
	} else {
		printf("%-6s %-5s %-10s %s\n", "ID", "TYPE", "STATE", "PATH  PROGRESS");
		const cJSON *o;
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(doc, "jobs"))
		{
			struct client_job j;
			if (client_job_decode(o, &j, err, sizeof(err)) == 0)
				print_job_line(&j);
		}
	}
	cJSON_Delete(doc);
	return EXIT_OK;
}
