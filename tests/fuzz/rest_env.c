/* Shared by the REST fuzz targets: see rest_env.h. */
#include "tests/fuzz/rest_env.h"

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

#include <cjson/cJSON.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static struct master g_m;
static struct http_server *g_srv;
static char g_dir[64];

static void remove_dir(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", g_dir);
}

void rest_env_die(const char *what)
{
	fprintf(stderr, "fuzz: %s\n", what);
	exit(1);
}

const char *rest_env_dir(void)
{
	if (*g_dir)
		return g_dir;
	/* A crash ends the process without atexit: the directories of runs
	 * whose process is gone are removed here. */
	if (system("for d in /dev/shm/strata-fuzz-rest-* /tmp/strata-fuzz-rest-*; do "
		   "p=${d##*-rest-}; p=${p%%-*}; [ -d \"$d\" ] && ! kill -0 \"$p\" 2>/dev/null && "
		   "rm -rf \"$d\"; done; true") != 0)
		fprintf(stderr, "fuzz: could not remove old state directories\n");
	snprintf(g_dir, sizeof(g_dir), "/dev/shm/strata-fuzz-rest-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(g_dir)) {
		snprintf(g_dir, sizeof(g_dir), "/tmp/strata-fuzz-rest-%d-XXXXXX", (int)getpid());
		if (!mkdtemp(g_dir))
			rest_env_die("cannot make a state directory");
	}
	atexit(remove_dir);
	return g_dir;
}

int rest_env_master(struct strata_conf *conf)
{
	const char *dir = rest_env_dir();
	g_m.conf = conf;
	g_m.started_mono_ms = clock_mono_ms();
	g_m.started_wall_ms = clock_wall_ms();
	snprintf(g_m.state_dir, sizeof(g_m.state_dir), "%s", dir);
	g_m.registry = registry_new(3000);
	g_m.blocks = blockmap_new();
	g_m.events = events_new(1024);
	char err[512];
	struct meta_opts mopts = { .state_dir = dir, .id = 1, .raft_bind = "127.0.0.1",
				   .submit_timeout_ms = 2000 };
	if (!g_m.registry || !g_m.blocks || !g_m.events ||
	    meta_open(&mopts, &g_m.meta, err, sizeof(err)))
		rest_env_die("cannot open the namespace");
	struct fs_opts fopts = { .default_block_size = conf->master_mount_block_size,
				 .default_sync_interval_ms = -1 };
	if (fs_open(g_m.meta, &fopts, &g_m.fs))
		rest_env_die("cannot open fs");
	struct datajobs_opts dopts = { .meta = g_m.meta, .registry = g_m.registry,
				       .conf = conf };
	struct reval_opts ropts = { .fs = g_m.fs, .meta = g_m.meta };
	g_m.datajobs = datajobs_new(&dopts);
	g_m.reval = reval_new(&ropts);
	g_m.history_interval_ms = 5000;
	g_m.history = history_new(16);
	if (!g_m.datajobs || !g_m.reval || !g_m.history)
		rest_env_die("out of memory");

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
		rest_env_die("too many routes");
	for (size_t i = 0, k = 0; i < ntables; i++)
		for (size_t j = 0; j < counts[i]; j++)
			routes[k++] = tables[i][j];
	struct http_server_opts hopts = {
		.name = "master REST (fuzz)",
		.bind = "127.0.0.1",
		.port = 0,
		/* A CivetWeb thread serves one connection until it closes, idle
		 * keep-alive time included: the in-process worker's clients keep
		 * several open to this master. */
		.threads = 32,
		.request_timeout_ms = 2000,
		.max_json_body = conf->http_max_json_body,
		.before = rest_masters_before,
		.reply_rc = rest_masters_reply_rc,
	};
	g_srv = http_server_start(&hopts, routes, total, &g_m, err, sizeof(err));
	if (!g_srv)
		rest_env_die(err);
	const char *colon = strrchr(http_server_url(g_srv), ':');
	int port = colon ? atoi(colon + 1) : 0;
	meta_set_rest_url(g_m.meta, http_server_url(g_srv));
	/* A group of one elects itself at once; wait for it. */
	for (int i = 0; i < 500; i++) {
		struct meta_status st;
		meta_status(g_m.meta, &st);
		if (!strcmp(st.role, "leader"))
			return port;
		usleep(10000);
	}
	rest_env_die("the one-member group elected no leader");
	return -1;
}

/* The connection to the daemon under test: a new one per request, closed
 * with a reset after the reply. An orderly close leaves a socket in
 * TIME_WAIT per request, and tens of thousands of them use up loopback's
 * ephemeral ports within a minute of fuzzing; a kept-alive connection
 * after a refusal that left a body unread stalled (the server waited for
 * the rest of a request it had already answered). */
static int g_fd = -1;

static void conn_drop(void)
{
	if (g_fd < 0)
		return;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(g_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(g_fd);
	g_fd = -1;
}

static void conn_open(int port)
{
	g_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (g_fd < 0)
		rest_env_die("socket");
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A refused or failed connect is retried for a while (a loaded
	 * machine), then ends the run. */
	for (int i = 0; connect(g_fd, (struct sockaddr *)&sa, sizeof(sa)); i++) {
		if (i == 50) {
			fprintf(stderr, "fuzz: connect to port %d: %s\n", port, strerror(errno));
			rest_env_die("cannot connect to the daemon under test");
		}
		close(g_fd);
		usleep(100000);
		g_fd = socket(AF_INET, SOCK_STREAM, 0);
		if (g_fd < 0)
			rest_env_die("socket");
	}
	int one = 1;
	setsockopt(g_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Reads more of the reply into reply[*got..cap): > 0 bytes read, 0 at the
 * server's close, < 0 on an error, -ETIMEDOUT after 10 s without a byte. */
static ssize_t read_more(const char *req, char *reply, size_t *got, size_t cap)
{
	(void)req;
	struct pollfd p = { .fd = g_fd, .events = POLLIN };
	if (poll(&p, 1, 10000) <= 0)
		return -ETIMEDOUT;
	if (*got >= cap - 1)
		rest_env_die("a reply above 1 MiB");
	ssize_t n = recv(g_fd, reply + *got, cap - 1 - *got, 0);
	if (n > 0)
		*got += (size_t)n;
	reply[*got] = '\0';
	return n;
}

/* What the process is doing, for a request that got no answer. */
static void dump_state(void)
{
	if (!getenv("STRATA_FUZZ_GDB"))
		return;
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "gdb -p %d -batch -ex 'thread apply all bt' >&2 2>&1",
		 (int)getpid());
	if (system(cmd))
		fprintf(stderr, "gdb failed\n");
}

/* The end of a chunked body that starts at reply + head, reading more as
 * needed; 0 when the reply ends before its last chunk. */
static size_t read_chunked(const char *req, char *reply, size_t *got, size_t cap, size_t head)
{
	size_t pos = head;
	for (;;) {
		char *eol = strstr(reply + pos, "\r\n");
		if (!eol) {
			if (read_more(req, reply, got, cap) <= 0)
				return 0;
			continue;
		}
		size_t chunk = strtoul(reply + pos, NULL, 16);
		size_t next = (size_t)(eol + 2 - reply) + chunk + 2;
		if (*got < next) {
			if (read_more(req, reply, got, cap) <= 0)
				return 0;
			continue;
		}
		if (!chunk)
			return next;
		pos = next;
	}
}

/* Sends req and reads one reply (by its Content-Length, its chunks, or to
 * the close); its status, or -1 when none arrived or it was cut short. */
static int round_trip_once(int port, const char *req, size_t len, char *reply, size_t cap,
			   bool *timed_out)
{
	conn_open(port);
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(g_fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* answered early and closed */
		off += (size_t)n;
	}
	size_t got = 0;
	reply[0] = '\0';
	char *end;
	ssize_t rc = 1;
	while (!(end = strstr(reply, "\r\n\r\n")) && (rc = read_more(req, reply, &got, cap)) > 0)
		;
	*timed_out = rc == -ETIMEDOUT;
	int status = -1;
	if (end) {
		size_t head = (size_t)(end + 4 - reply);
		const char *cl = strcasestr(reply, "\r\nContent-Length:");
		const char *te = strcasestr(reply, "\r\nTransfer-Encoding: chunked");
		bool whole;
		if (te && te < end) {
			whole = read_chunked(req, reply, &got, cap, head) != 0;
		} else if (cl && cl < end) {
			size_t want = head + (size_t)atol(cl + 17);
			while (got < want && read_more(req, reply, &got, cap) > 0)
				;
			whole = got >= want;
		} else {
			while (read_more(req, reply, &got, cap) > 0)
				;
			whole = true;
		}
		if (!whole || sscanf(reply, "HTTP/1.%*d %d", &status) != 1)
			status = -1;
	}
	conn_drop();
	return status;
}

/* A request that gets no byte of an answer within 10 s is sent once more
 * on a new connection (loopback under a fuzzer's connection churn loses
 * one now and then); a second silence is a finding. */
static int round_trip(int port, const char *req, size_t len, char *reply, size_t cap)
{
	bool timed_out = false;
	int status = round_trip_once(port, req, len, reply, cap, &timed_out);
	if (!timed_out)
		return status;
	fprintf(stderr, "fuzz: no answer within 10 s; once more:\n%.300s\n", req);
	status = round_trip_once(port, req, len, reply, cap, &timed_out);
	if (timed_out) {
		fprintf(stderr, "fuzz: no answer within 10 s to:\n%.2000s\n", req);
		dump_state();
		__builtin_trap();
	}
	return status;
}

/* A refusal is the usual envelope {"error":{"code","message"}}, with a
 * message that says something. */
static bool error_envelope(const char *reply)
{
	const char *body = strstr(reply, "\r\n\r\n");
	if (!body || strstr(reply, "Transfer-Encoding: chunked"))
		return true; /* not checked */
	if (!strncmp(body + 4, "Error ", 6) && strstr(reply, "Content-Type: text/plain"))
		return true; /* CivetWeb's own refusal of the request line: not ours */
	cJSON *doc = cJSON_Parse(body + 4);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	bool ok = cJSON_IsString(code) && *code->valuestring && cJSON_IsString(msg) &&
		  *msg->valuestring;
	cJSON_Delete(doc);
	return ok;
}

void rest_env_run(const char *who, int port, const uint8_t *data, size_t size,
		  int (*skip)(const char *method, const char *target))
{
	if (size > 65536 || memmem(data, size, "://", 3))
		return;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t line_len = nl ? (size_t)(nl - data) : size;
	const uint8_t *body = nl ? nl + 1 : data + size;
	size_t body_len = (size_t)(data + size - body);
	char line[2048];
	if (line_len >= sizeof(line) / 2)
		return;
	memcpy(line, data, line_len);
	line[line_len] = '\0';
	char *sp = strchr(line, ' ');
	if (!sp || sp == line)
		return;
	*sp = '\0';
	const char *method = line;
	char *target = sp + 1;
	if (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT") &&
	    strcmp(method, "DELETE"))
		return;
	/* Bytes a request line cannot carry go percent-encoded: the
	 * handlers see them decoded. */
	static char enc[3 * sizeof(line)];
	size_t e = 0;
	for (const char *p = target; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch <= ' ' || ch >= 0x7f) {
			e += (size_t)snprintf(enc + e, sizeof(enc) - e, "%%%02X", ch);
		} else {
			enc[e++] = (char)ch;
		}
	}
	enc[e] = '\0';
	target = enc;
	if (target[0] != '/')
		return;
	if (skip && skip(method, target))
		return;
	static char req[70000], reply[1 << 20];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 method, target, body_len);
	if (n < 0 || (size_t)n + body_len > sizeof(req))
		return;
	memcpy(req + n, body, body_len);
	int status = round_trip(port, req, (size_t)n + body_len, reply, sizeof(reply));
	if (status < 0 || (status >= 500 && status != 503) ||
	    (status >= 400 && !error_envelope(reply))) {
		fprintf(stderr, "%s: %s %s -> %d\n%.2000s\n", who, method, target, status, reply);
		__builtin_trap();
	}
}
