/*
 * Fuzzes every REST route of the master as a client reaches it: a real
 * master (one-member Raft group, namespace in a temporary directory under
 * /dev/shm) serves its real route table on 127.0.0.1 from the real HTTP
 * server, and each input becomes one request on a fresh connection. That
 * covers the JSON bodies of every route (the workers' registration and
 * heartbeat block lists included), query and path parameters, mount
 * bodies and options, and the access and size checks in front of them.
 *
 * Input: "METHOD TARGET" on the first line (TARGET is the path and
 * query), the body after it. Bytes that cannot be in a request line are
 * replaced, so every input is a well-formed HTTP request.
 *
 * Contract: every request gets one complete HTTP reply with a status in
 * 200..499 or 503 (no leader yet) and the daemon stays up. A 500, a
 * reply cut short or none at all is a finding. Inputs that name a store
 * ("://": a mount of a real directory or an S3 endpoint) and Raft
 * membership changes (POST/DELETE /api/v1/masters: the group would lose
 * its quorum) are skipped: the fuzzer must not touch the machine's files
 * or the network, and must not stall itself.
 */
#include "api/http.h"
#include "api/rest_fs.h"
#include "api/rest_history.h"
#include "api/rest_jobs.h"
#include "api/rest_master.h"
#include "api/rest_masters.h"
#include "api/rest_openapi.h"
#include "daemon/master/blockmap.h"
#include "daemon/master/datajobs.h"
#include "daemon/master/events.h"
#include "daemon/master/fs.h"
#include "daemon/master/history.h"
#include "daemon/master/master.h"
#include "daemon/master/meta.h"
#include "daemon/master/registry.h"
#include "daemon/master/revalidate.h"
#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct strata_conf g_conf;
static struct master g_m;
static struct http_server *g_srv;
static int g_port;
static char g_dir[64];

static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_rest_master: could not remove %s\n", g_dir);
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_rest_master: %s\n", what);
	exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERROR);
	log_set_component("master");
	conf_init(&g_conf);
	g_conf.http_request_timeout = 2000;
	g_conf.http_max_json_body = 65536;
	snprintf(g_dir, sizeof(g_dir), "/dev/shm/strata-fuzz-rest-XXXXXX");
	if (!mkdtemp(g_dir)) {
		snprintf(g_dir, sizeof(g_dir), "/tmp/strata-fuzz-rest-XXXXXX");
		if (!mkdtemp(g_dir))
			die("cannot make a state directory");
	}
	atexit(remove_dir);
	g_m.conf = &g_conf;
	g_m.started_mono_ms = clock_mono_ms();
	g_m.started_wall_ms = clock_wall_ms();
	snprintf(g_m.state_dir, sizeof(g_m.state_dir), "%s", g_dir);
	g_m.registry = registry_new(3000);
	g_m.blocks = blockmap_new();
	g_m.events = events_new(1024);
	char err[512];
	struct meta_opts mopts = { .state_dir = g_dir, .id = 1, .raft_bind = "127.0.0.1",
				   .submit_timeout_ms = 2000 };
	if (!g_m.registry || !g_m.blocks || !g_m.events ||
	    meta_open(&mopts, &g_m.meta, err, sizeof(err)))
		die("cannot open the namespace");
	struct fs_opts fopts = { .default_block_size = g_conf.master_mount_block_size,
				 .default_sync_interval_ms = -1 };
	if (fs_open(g_m.meta, &fopts, &g_m.fs))
		die("cannot open fs");
	struct datajobs_opts dopts = { .meta = g_m.meta, .registry = g_m.registry,
				       .conf = &g_conf };
	struct reval_opts ropts = { .fs = g_m.fs, .meta = g_m.meta };
	g_m.datajobs = datajobs_new(&dopts);
	g_m.reval = reval_new(&ropts);
	g_m.history_interval_ms = 5000;
	g_m.history = history_new(16);
	if (!g_m.datajobs || !g_m.reval || !g_m.history)
		die("out of memory");

	const struct http_route *tables[6];
	size_t counts[6], total = 0;
	tables[0] = rest_master_routes(&counts[0]);
	tables[1] = rest_fs_routes(&counts[1]);
	tables[2] = rest_jobs_routes(&counts[2]);
	tables[3] = rest_history_routes(&counts[3]);
	tables[4] = rest_openapi_routes(&counts[4]);
	size_t ntables = 5;
	for (size_t i = 0; i < ntables; i++)
		total += counts[i];
	static struct http_route routes[256];
	if (total > sizeof(routes) / sizeof(routes[0]))
		die("too many routes");
	for (size_t i = 0, k = 0; i < ntables; i++)
		for (size_t j = 0; j < counts[i]; j++)
			routes[k++] = tables[i][j];
	struct http_server_opts hopts = {
		.name = "master REST (fuzz)",
		.bind = "127.0.0.1",
		.port = 0,
		.threads = 4,
		.request_timeout_ms = 2000,
		.max_json_body = g_conf.http_max_json_body,
		.before = rest_masters_before,
		.reply_rc = rest_masters_reply_rc,
	};
	g_srv = http_server_start(&hopts, routes, total, &g_m, err, sizeof(err));
	if (!g_srv)
		die(err);
	const char *colon = strrchr(http_server_url(g_srv), ':');
	g_port = colon ? atoi(colon + 1) : 0;
	meta_set_rest_url(g_m.meta, http_server_url(g_srv));
	/* A group of one elects itself at once; wait for it. */
	for (int i = 0; i < 500; i++) {
		struct meta_status st;
		meta_status(g_m.meta, &st);
		if (!strcmp(st.role, "leader"))
			return 0;
		usleep(10000);
	}
	die("the one-member group elected no leader");
	return 0;
}

/* Sends req, reads to the server's close; the reply's status, or -1 when
 * none arrived or it was cut short. */
static int round_trip(const char *req, size_t len, char *reply, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g_port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect to the master");
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the server answered early and closed */
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	size_t got = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 10000) <= 0)
			die("the master did not answer within 10 s");
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		size_t take = (size_t)n < cap - 1 - got ? (size_t)n : cap - 1 - got;
		memcpy(reply + got, buf, take);
		got += take;
	}
	close(fd);
	reply[got] = '\0';
	int status = 0;
	if (sscanf(reply, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	/* A reply with a length must have all of it (the head may be cut by cap). */
	const char *cl = strstr(reply, "Content-Length: ");
	const char *body = strstr(reply, "\r\n\r\n");
	if (cl && body && got < cap - 1) {
		long want = atol(cl + 16);
		if ((long)(got - (size_t)(body + 4 - reply)) != want)
			return -1;
	}
	return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536 || memmem(data, size, "://", 3))
		return 0;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t line_len = nl ? (size_t)(nl - data) : size;
	const uint8_t *body = nl ? nl + 1 : data + size;
	size_t body_len = (size_t)(data + size - body);
	char line[2048];
	if (line_len >= sizeof(line) / 2)
		return 0;
	memcpy(line, data, line_len);
	line[line_len] = '\0';
	char *sp = strchr(line, ' ');
	if (!sp || sp == line)
		return 0;
	*sp = '\0';
	const char *method = line;
	char *target = sp + 1;
	if (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT") &&
	    strcmp(method, "DELETE"))
		return 0;
	for (char *p = target; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			*p = '_';
	if (target[0] != '/')
		return 0;
	if (strcmp(method, "GET") && !strncmp(target, "/api/v1/masters", 15))
		return 0;
	if (!strncmp(target, "/api/v1/admin/backup", 20))
		return 0; /* a copy of the whole database per call: slow, and no parser */
	static char req[70000], reply[1 << 20];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 method, target, body_len);
	if (n < 0 || (size_t)n + body_len > sizeof(req))
		return 0;
	memcpy(req + n, body, body_len);
	int status = round_trip(req, (size_t)n + body_len, reply, sizeof(reply));
	if (status < 0 || (status >= 500 && status != 503)) {
		fprintf(stderr, "fuzz_rest_master: %s %s -> %d\n%.2000s\n", method, target, status,
			reply);
		__builtin_trap();
	}
	return 0;
}
