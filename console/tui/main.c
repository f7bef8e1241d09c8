/*
 * strata-top: a terminal monitor of a strata cluster's cache, like top(1).
 * Reads only the public REST API through client/ (console/tui/top.h);
 * interactive (ncursesw, screen.c) or batch (-b: text, --json: JSON).
 */
#include "console/tui/top.h"

#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/httpc.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;


static void usage(FILE *f)
{
	fprintf(f,
		"Usage: strata-top [OPTIONS]\n"
		"A live view of a strata cluster's cache: hit rates, throughput, tiers, workers.\n"
		"\n"
		"Options:\n"
		"  -m, --master HOST:PORT[,HOST:PORT...]\n"
		"                      masters to ask; the leader among them is found and\n"
		"                      followed (default: master.addresses from configuration\n"
		"                      or $STRATA_MASTER_ADDRESSES)\n"
		"  -c, --config PATH   configuration file (default /etc/strata/strata.conf)\n"
		"  -k, --insecure      do not verify TLS certificates\n"
		"      --token-file PATH  file holding the REST token (else $STRATA_TOKEN,\n"
		"                      else the file $STRATA_TOKEN_FILE names)\n"
		"  -d, --delay SECS    refresh interval (default 2; at least 0.1)\n"
		"  -n, --iterations N  stop after N refreshes (default: run until q)\n"
		"  -b, --batch         plain-text snapshots on standard output, no screen\n"
		"  -j, --json          one JSON document per refresh (implies --batch)\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n"
		"\n"
		"Header: leader, masters up/total, workers live/lost, capacity used per tier\n"
		"(MEM/SSD/HDD, summed over the workers that answered), the cluster hit rate by\n"
		"requests (block hits / block reads) and by bytes (bytes from cache / bytes\n"
		"from cache and store) over the last interval and since the workers started,\n"
		"read throughput from cache and store (and between workers: peers), error\n"
		"counters (cache put, tier write, checksum) per second with their totals; a\n"
		"sparkline of the hit ratio from the master's metrics history (5 s samples)\n"
		"or, when the master has none, from strata-top's own samples.\n"
		"\n"
		"Columns (rates are differences of counters over the last interval):\n"
		"  ADDRESS  worker data address      STATE    live or lost\n"
		"  HIT%%     block hit ratio          REQ/s    read requests per second\n"
		"  MiB/s    bytes the worker served from its cache or the store (to clients\n"
		"           or other workers; bytes it pulled from peers are not counted)\n"
		"  STORE/s  MiB/s read from the under-store\n"
		"  MEM%% SSD%% HDD%%  tier used       EVICT/s  blocks evicted per second\n"
		"  HB AGE   time since the worker's last heartbeat\n"
		"'-' means not known yet (first refresh) or the worker did not answer.\n"
		"\n"
		"Keys:\n"
		"  q          quit                 h, ?       help\n"
		"  < >        sort column left/right          s  next sort column\n"
		"  r          reverse the sort     d          change the refresh interval\n"
		"  m          masters view         j          jobs view\n"
		"  Enter      selected worker's detail (Up/Down select)\n"
		"  p          pause/resume         /          filter workers by address\n"
		"  Esc        back to the workers table\n"
		"\n"
		"Colours: lost workers red, hit ratio below 50%% yellow; NO_COLOR or a\n"
		"monochrome terminal uses bold/reverse instead.\n");
}

static int make_client(const char *master, struct strata_conf *conf, struct client **out, char *err,
		       size_t errlen)
{
	struct client_opts mo = { .tls = *conf->http_tls_cert || *conf->http_tls_ca,
				  .follow_ms = 2500 };
	if (!master)
		return client_new((const char *const *)conf->master_addresses.items,
				   conf->master_addresses.n, &mo, out, err, errlen);
	char *copy = strdup(master);
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
	int rc = client_new(addrs, n, &mo, out, err, errlen);
	free(copy);
	return rc;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Batch: one snapshot per interval until n (< 0: forever). Exits 1 when
 * the last refresh could not read the cluster. */
static int run_batch(struct client *mc, struct httpc *hc, const struct top_collect_opts *co,
		     double delay_s, int64_t n, bool json)
{
	struct top_sampler *t = top_sampler_new();
	if (!t)
		return 1;
	int exit_code = 0;
	for (int64_t i = 0; n < 0 || i < n; i++) {
		if (i)
			sleep_s(delay_s);
		if (top_sampler_step(t, mc, hc, co, clock_mono_ms())) {
			fprintf(stderr, "strata-top: out of memory\n");
			exit_code = 1;
			break;
		}
		top_sort_rows(t->view.rows, t->view.nrows, COL_ADDRESS, false);
		if (json)
			top_print_json(stdout, &t->view, i + 1);
		else
			top_print_text(stdout, &t->view, i + 1);
		exit_code = t->shown->rc ? 1 : 0;
	}
	top_sampler_free(t);
	return exit_code;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "master", required_argument, NULL, 'm' },
		{ "config", required_argument, NULL, 'c' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "delay", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "batch", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *master = NULL, *config = getenv("STRATA_CONFIG"), *token_file = NULL;
	bool insecure = false, batch = false, json = false;
	double delay = 2;
	int64_t iterations = -1;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "m:c:kd:n:bjhV", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			master = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'k':
			insecure = true;
			break;
		case 'T':
			token_file = optarg;
			break;
		case 'd':
			delay = strtod(optarg, &end);
			if (*end || !(delay >= 0.1) || delay > 86400) {
				fprintf(stderr, "strata-top: --delay wants seconds from 0.1 to "
						"86400, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			iterations = strtoll(optarg, &end, 10);
			if (*end || iterations < 1) {
				fprintf(stderr, "strata-top: -n wants a positive count, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'b':
			batch = true;
			break;
		case 'j':
			json = batch = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("strata-top %s\n", STRATA_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "strata-top: unexpected '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	struct strata_conf conf;
	char err[1024];
	conf_init(&conf);
	int rc = 0;
	if (config)
		rc = conf_load_file(&conf, config, err, sizeof(err));
	else if (access("/etc/strata/strata.conf", F_OK) == 0)
		rc = conf_load_file(&conf, "/etc/strata/strata.conf", err, sizeof(err));
	if (!rc)
		rc = conf_load_env(&conf, environ, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "strata-top: %s\n", err);
		conf_free(&conf);
		return 2;
	}
	struct client *mc = NULL;
	rc = make_client(master, &conf, &mc, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "strata-top: %s\n", rc == -ENOMEM ? "out of memory" : err);
		conf_free(&conf);
		return 2;
	}
	char auth[640];
	rc = client_token_header(token_file, auth, sizeof(auth), err, sizeof(err));
	if (rc) {
		fprintf(stderr, "strata-top: %s\n", err);
		client_free(mc);
		conf_free(&conf);
		return 2;
	}
	/* Short: a refresh must not stall the screen for long on a dead master. */
	int64_t timeout = conf.http_request_timeout;
	struct httpc_opts hopts = {
		.timeout_ms = timeout > 0 && timeout < 2000 ? timeout : 2000,
		.ca_file = conf_tls_ca(&conf),
		.client_cert = conf_tls_client_cert(&conf),
		.client_key = conf_tls_client_key(&conf),
		.insecure_tls = insecure,
		.extra_header = *auth ? auth : NULL,
	};
	struct top_collect_opts co = { .tls = *conf.http_tls_cert || *conf.http_tls_ca,
				       .want_history = true, .has_token = *auth != '\0' };
	struct httpc *hc = httpc_new(&hopts);
	explicit_bzero(auth, sizeof(auth));
	int exit_code = 1;
	if (hc && batch)
		exit_code = run_batch(mc, hc, &co, delay, iterations, json);
	else if (hc)
		exit_code = top_screen_run(mc, hc, &co, delay, iterations);
	httpc_free(hc);
	client_free(mc);
	conf_free(&conf);
	return exit_code;
}
