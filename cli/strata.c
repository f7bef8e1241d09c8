/* strata: the command-line client: `strata admin ...` and `strata fs ...`.
 * Exit codes: 0 ok, 1 error, 2 usage. */
#include "cli/cli.h"
#include "daemon/common.h"
#include "lib/conf.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "client/client.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;


static void usage(FILE *f)
{
	fprintf(f,
		"Usage: strata [GLOBAL OPTIONS] COMMAND ...\n\n"
		"Commands:\n"
		"  admin report      cluster summary: version, leader, workers, capacity\n"
		"  admin workers     the worker list\n"
		"  admin workers decommission ID\n"
		"                    drain worker ID: its blocks are copied to their new\n"
		"                    owners, then it leaves placement (decommissioning ->\n"
		"                    decommissioned in the worker list)\n");
	cli_admin_masters_usage(f);
	cli_admin_backup_usage(f);
	cli_admin_token_usage(f);
	cli_admin_s3key_usage(f);
	cli_fs_usage(f);
	cli_apply_usage(f);
	cli_jobs_usage(f);
	fprintf(f, "\n"
		"Global options:\n"
		"  -m, --master HOST:PORT[,HOST:PORT...]\n"
		"                          masters to ask; the leader among them is found\n"
		"                          and followed (default: master.addresses from\n"
		"                          configuration or $STRATA_MASTER_ADDRESSES)\n"
		"  -c, --config PATH       configuration file (default /etc/strata/strata.conf)\n"
		"      --json              machine-readable output\n"
		"  -k, --insecure          do not verify the master's TLS certificate\n"
		"      --token-file PATH   file holding the REST token (first line) sent as\n"
		"                          'Authorization: Bearer'; else $STRATA_TOKEN, else\n"
		"                          the file $STRATA_TOKEN_FILE names\n"
		"  -h, --help              this help\n"
		"  -V, --version           version\n\n"
		"Exit codes: 0 success, 1 error, 2 usage.\n");
}

void cli_fmt_bytes(double b, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int u = 0;
	while (b >= 1024 && u < 5) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", b, units[u]);
}

static void fmt_duration(double ms, char *buf, size_t len)
{
	long long s = (long long)(ms / 1000);
	if (s < 60)
		snprintf(buf, len, "%.1fs", ms / 1000);
	else if (s < 3600)
		snprintf(buf, len, "%lldm %llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh %lldm", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, len, "%lldd %lldh", s / 86400, (s % 86400) / 3600);
}

static bool g_had_token; /* for cli_fail's advice on 401 and 403 */

int cli_fail(int rc, const char *err)
{
	if (rc == EXIT_OK)
		return EXIT_OK;
	char msg[2048];
	client_auth_hint(rc, g_had_token, err, msg, sizeof(msg));
	fprintf(stderr, "strata: %s\n", rc == -ENOMEM ? "out of memory" : msg);
	return EXIT_ERROR;
}

/* --master takes one address or a comma-separated list; without it the
 * configuration's master.addresses. */
static int make_masters(struct cli *cli, char *err, size_t errlen)
{
	struct client_opts mo = { .tls = *cli->conf.http_tls_cert || *cli->conf.http_tls_ca };
	if (!cli->master)
		return client_new((const char *const *)cli->conf.master_addresses.items,
				   cli->conf.master_addresses.n, &mo, &cli->masters, err, errlen);
	char *copy = strdup(cli->master);
	if (!copy)
		return -ENOMEM;
	const char *addrs[CLIENT_MAX_MASTERS + 1];
	size_t n = 0;
	char *save = NULL;
	for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		while (*a == ' ')
			a++;
		if (n == CLIENT_MAX_MASTERS + 1)
			break;
		addrs[n++] = a;
	}
	int rc = client_new(addrs, n, &mo, &cli->masters, err, errlen);
	free(copy);
	return rc;
}

void cli_print_json(const cJSON *doc)
{
	char *text = cJSON_Print(doc);
	if (text)
		printf("%s\n", text);
	free(text);
}

static void print_workers(const struct client_worker *ws, size_t n)
{
	printf("  %-4s %-28s %-15s %-15s %12s %12s\n", "ID", "ADDRESS", "STATE", "LAST HEARTBEAT",
	       "CAPACITY", "USED");
	for (size_t i = 0; i < n; i++) {
		const struct client_worker *w = &ws[i];
		char cap[32], used[32], ago[32], ago_txt[48];
		cli_fmt_bytes((double)w->capacity_bytes, cap, sizeof(cap));
		cli_fmt_bytes((double)w->used_bytes, used, sizeof(used));
		fmt_duration((double)w->last_heartbeat_ms_ago, ago, sizeof(ago));
		snprintf(ago_txt, sizeof(ago_txt), "%s ago", ago);
		printf("  %-4" PRIu64 " %-28s %-15s %-15s %12s %12s\n", w->id, w->address, w->state,
		       ago_txt, cap, used);
	}
	if (n == 0)
		printf("  (no workers registered)\n");
}

static int cmd_report(struct cli *cli)
{
	struct client_cluster c;
	char err[1024] = "";
	int rc = client_cluster_get(cli->masters, cli->http, &c, err, sizeof(err));
	if (rc)
		return cli_fail(rc, err);
	if (cli->json) {
		cli_print_json(c.json);
		client_cluster_clear(&c);
		return EXIT_OK;
	}
	char up[32], total[32], used[32];
	fmt_duration((double)c.uptime_ms, up, sizeof(up));
	cli_fmt_bytes((double)c.capacity_total_bytes, total, sizeof(total));
	cli_fmt_bytes((double)c.capacity_used_bytes, used, sizeof(used));
	double pct = c.capacity_total_bytes > 0 ? 100.0 * (double)c.capacity_used_bytes /
							  (double)c.capacity_total_bytes
						: 0;
	printf("strata cluster\n");
	printf("  %-10s %s\n", "version", c.version);
	printf("  %-10s %s\n", "leader", c.leader);
	printf("  %-10s %s\n", "uptime", up);
	printf("  %-10s %" PRId64 " live, %" PRId64 " lost\n", "workers", c.workers_live,
	       c.workers_lost);
	printf("  %-10s %s total, %s used (%.1f%%)\n\n", "capacity", total, used, pct);
	printf("Workers\n");
	print_workers(c.workers, c.nworkers);
	client_cluster_clear(&c);
	return EXIT_OK;
}

static int cmd_workers(struct cli *cli)
{
	struct client_worker_list l;
	char err[1024] = "";
	int rc = client_workers_list(cli->masters, cli->http, &l, err, sizeof(err));
	if (rc)
		return cli_fail(rc, err);
	if (cli->json)
		cli_print_json(l.json);
	else
		print_workers(l.workers, l.n);
	client_worker_list_clear(&l);
	return EXIT_OK;
}

static int cmd_decommission(struct cli *cli, const char *arg)
{
	int64_t id;
	if (conf_parse_int(arg, &id) || id < 1) {
		fprintf(stderr, "strata: admin workers decommission: '%s' is not a worker id\n", arg);
		return EXIT_USAGE;
	}
	cJSON *doc = NULL;
	char err[1024] = "";
	int rc = client_worker_decommission(cli->masters, cli->http, (uint64_t)id, &doc, err,
					    sizeof(err));
	if (rc)
		return cli_fail(rc, err);
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(doc, "worker");
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(w, "state");
	const cJSON *addr = cJSON_GetObjectItemCaseSensitive(w, "address");
	if (cli->json)
		cli_print_json(doc);
	else
		printf("worker %" PRId64 " (%s): %s\n", id,
		       cJSON_IsString(addr) ? addr->valuestring : "?",
		       cJSON_IsString(state) ? state->valuestring : "?");
	cJSON_Delete(doc);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "master", required_argument, NULL, 'm' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { 0 };
	const char *config = getenv("STRATA_CONFIG");
	int c;
	/* '+': stop at the first command word; options after it are the
	 * command's. */
	while ((c = getopt_long(argc, argv, "+m:c:kjhV", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			cli.master = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			cli.json = true;
			break;
		case 'k':
			cli.insecure = true;
			break;
		case 'T':
			cli.token_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("strata %s\n", STRATA_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	const char *decommission = NULL;
	bool is_apply = argc - optind >= 1 && strcmp(argv[optind], "apply") == 0;
	if (!is_apply && (argc - optind < 2 || (strcmp(argv[optind], "admin") != 0 &&
						 strcmp(argv[optind], "fs") != 0))) {
		if (argc - optind >= 1)
			fprintf(stderr, "strata: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	bool is_fs = strcmp(argv[optind], "fs") == 0;
	char **sub = is_apply ? argv + optind : argv + optind + 1;
	int nsub = is_apply ? argc - optind : argc - optind - 1;
	bool is_masters = !is_fs && !is_apply && strcmp(sub[0], "masters") == 0;
	bool is_backup = !is_fs && !is_apply &&
			 (!strcmp(sub[0], "backup") || !strcmp(sub[0], "restore"));
	bool is_token = !is_fs && !is_apply && strcmp(sub[0], "token") == 0;
	bool is_s3key = !is_fs && !is_apply && strcmp(sub[0], "s3key") == 0;
	bool is_jobs = !is_fs && !is_apply && strcmp(sub[0], "jobs") == 0;
	if (!is_fs && !is_masters && !is_backup && !is_token && !is_s3key && !is_jobs &&
	    !is_apply) {
		bool report = strcmp(sub[0], "report") == 0;
		if (!report && strcmp(sub[0], "workers") != 0) {
			fprintf(stderr, "strata: unknown command 'admin %s'\n", sub[0]);
			usage(stderr);
			return EXIT_USAGE;
		}
		int first = 1;
		if (!report && nsub >= 2 && strcmp(sub[1], "decommission") == 0) {
			if (nsub < 3 || sub[2][0] == '-') {
				fprintf(stderr, "strata: admin workers decommission: which worker "
						"(an ID from 'strata admin workers')?\n");
				return EXIT_USAGE;
			}
			decommission = sub[2];
			first = 3;
		}
		for (int i = first; i < nsub; i++) {
			if (strcmp(sub[i], "--json") != 0) {
				fprintf(stderr, "strata: admin %s: unexpected '%s'\n", sub[0], sub[i]);
				return EXIT_USAGE;
			}
			cli.json = true;
		}
	}

	char err[1024];
	conf_init(&cli.conf);
	int rc = 0;
	if (config)
		rc = conf_load_file(&cli.conf, config, err, sizeof(err));
	else if (access("/etc/strata/strata.conf", F_OK) == 0)
		rc = conf_load_file(&cli.conf, "/etc/strata/strata.conf", err, sizeof(err));
	if (!rc)
		rc = conf_load_env(&cli.conf, environ, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "strata: %s\n", err);
		conf_free(&cli.conf);
		return EXIT_USAGE;
	}
	if (is_s3key) { /* a local file: no master involved */
		int code = cli_admin_s3key(&cli, nsub, sub);
		conf_free(&cli.conf);
		return code;
	}
	if (is_token) {
		int code = cli_admin_token(&cli, nsub, sub);
		conf_free(&cli.conf);
		return code;
	}
	char auth[640];
	rc = client_token_header(cli.token_file, auth, sizeof(auth), err, sizeof(err));
	if (rc) {
		fprintf(stderr, "strata: %s\n", err);
		conf_free(&cli.conf);
		return EXIT_USAGE;
	}
	cli.has_token = g_had_token = *auth != '\0';
	struct httpc_opts hopts = {
		.timeout_ms = cli.conf.http_request_timeout,
		.ca_file = conf_tls_ca(&cli.conf),
		.client_cert = conf_tls_client_cert(&cli.conf),
		.client_key = conf_tls_client_key(&cli.conf),
		.insecure_tls = cli.insecure,
		.extra_header = *auth ? auth : NULL,
	};
	rc = make_masters(&cli, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "strata: %s\n", rc == -ENOMEM ? "out of memory" : err);
		conf_free(&cli.conf);
		return rc == -ENOMEM ? EXIT_ERROR : EXIT_USAGE;
	}
	cli.http = httpc_new(&hopts);
	explicit_bzero(auth, sizeof(auth));
	int exit_code = EXIT_ERROR;
	if (cli.http && is_fs)
		exit_code = cli_fs(&cli, nsub, sub);
	else if (cli.http && is_apply)
		exit_code = cli_apply(&cli, nsub, sub);
	else if (cli.http && is_masters)
		exit_code = cli_admin_masters(&cli, nsub, sub);
	else if (cli.http && is_backup)
		exit_code = cli_admin_backup(&cli, nsub, sub);
	else if (cli.http && is_jobs)
		exit_code = cli_admin_jobs(&cli, nsub, sub);
	else if (cli.http && decommission)
		exit_code = cmd_decommission(&cli, decommission);
	else if (cli.http)
		exit_code = strcmp(sub[0], "report") == 0 ? cmd_report(&cli) : cmd_workers(&cli);
	httpc_free(cli.http);
	client_free(cli.masters);
	conf_free(&cli.conf);
	return exit_code;
}
