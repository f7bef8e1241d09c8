/*
 * api/s3_server.c as a proxy (fast path off), in front of a
 * scripted fake gateway on loopback: every way the gateway can answer or
 * fail (refused, garbage, cut short, chunked, close-delimited, 1xx, an
 * early reply to an upload, silence) and what the client then sees; big
 * bodies both ways; running out of descriptors; a port already taken.
 * The fast path itself is driven end to end by
 * tests/integration/test_s3_fastpath.py.
 */
#include "api/s3_server.h"

#include "api/s3_gateway.h"
#include "daemon/worker/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define BIG (8u << 20)

/* ---- the fake gateway ---- */

struct fake {
	int lfd, port;
	pthread_t thread;
	volatile bool stop;
	/* script, set before each request */
	const char *reply;
	size_t reply_len;
	bool big_reply;     /* then BIG bytes of pattern after reply */
	bool read_body;     /* read Content-Length bytes before replying */
	bool close_now;     /* close right after the reply (else wait for EOF) */
	bool silent;        /* never answer */
	/* observed */
	pthread_mutex_t lock;
	int requests, accepts;
	uint64_t body_bytes;
	bool body_ok;
};

static struct fake g_fake;
static char *g_big; /* BIG bytes of pattern(), made once */

static char pattern(uint64_t i)
{
	return (char)('a' + (i * 7 + i / 4093) % 26);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Serves one request on fd; false when the connection is over. */
static bool serve_one(struct fake *f, int fd)
{
	char head[16384];
	size_t len = 0;
	while (len < sizeof(head) - 1) {
		ssize_t n = recv(fd, head + len, sizeof(head) - 1 - len, 0);
		if (n <= 0)
			return false;
		len += (size_t)n;
		head[len] = '\0';
		if (strstr(head, "\r\n\r\n"))
			break;
	}
	/* The script as it is when the request came (the test changes it for
	 * the next request as soon as it has this reply). */
	pthread_mutex_lock(&f->lock);
	f->requests++;
	const char *reply = f->reply;
	size_t reply_len = f->reply_len;
	bool big_reply = f->big_reply, read_body = f->read_body, close_now = f->close_now;
	bool silent = f->silent;
	pthread_mutex_unlock(&f->lock);
	if (silent) {
		while (recv(fd, head, sizeof(head), 0) > 0)
			;
		return false;
	}
	if (read_body) {
		const char *cl = strstr(head, "Content-Length: ");
		uint64_t want = cl ? strtoull(cl + 16, NULL, 10) : 0;
		size_t hl = (size_t)(strstr(head, "\r\n\r\n") + 4 - head);
		uint64_t got = 0;
		bool ok = true;
		for (size_t i = hl; i < len; i++, got++)
			ok &= head[i] == pattern(got);
		char *buf = malloc(65536);
		while (got < want) {
			ssize_t n = recv(fd, buf, 65536, 0);
			if (n <= 0)
				break;
			for (ssize_t i = 0; i < n; i++, got++)
				ok &= buf[i] == pattern(got);
		}
		free(buf);
		pthread_mutex_lock(&f->lock);
		f->body_bytes = got;
		f->body_ok = ok;
		pthread_mutex_unlock(&f->lock);
	}
	write_all(fd, reply, reply_len);
	if (big_reply)
		write_all(fd, g_big, BIG);
	/* Keep-alive unless told to close: the front may reuse the connection
	 * for its next request (a reply it could not frame would hang there). */
	return !close_now;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	while (!f->stop) {
		struct pollfd p = { f->lfd, POLLIN, 0 };
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&f->lock);
		f->accepts++;
		pthread_mutex_unlock(&f->lock);
		while (serve_one(f, fd))
			;
		close(fd);
	}
	return NULL;
}

static int listen_any(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&a, &al))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

/* The fake's answer to the next requests; then set big_reply, read_body or
 * silent with script_flag. */
static void script(const char *reply, bool close_now)
{
	pthread_mutex_lock(&g_fake.lock);
	g_fake.reply = reply;
	g_fake.reply_len = strlen(reply);
	g_fake.close_now = close_now;
	g_fake.big_reply = g_fake.read_body = g_fake.silent = false;
	pthread_mutex_unlock(&g_fake.lock);
}

static void script_flag(bool *flag)
{
	pthread_mutex_lock(&g_fake.lock);
	*flag = true;
	pthread_mutex_unlock(&g_fake.lock);
}

/* ---- the front under test ---- */

struct fixture {
	struct worker_node w;
	struct s3_gw *gw;
	struct s3srv *front;
	int port;
};

/* One loop on a free port before the gateway at upstream_port. */
static struct s3srv_config front_config(struct fixture *fx, int upstream_port,
					  int64_t io_timeout_ms)
{
	return (struct s3srv_config){
		.bind = "127.0.0.1", .port = 0, .threads = 1, .upstream_port = upstream_port,
		.fast = false, .header_timeout_ms = 2000, .idle_timeout_ms = 60000,
		.io_timeout_ms = io_timeout_ms, .w = &fx->w, .gw = fx->gw,
	};
}

static int start_front(struct fixture *fx, int upstream_port, int64_t io_timeout_ms)
{
	char err[256];
	struct s3_backend none = { 0 };
	struct s3_gw_config gcfg = { 0 };
	fx->gw = s3_gw_new(&gcfg, &none, NULL, err, sizeof(err));
	assert_non_null(fx->gw);
	struct s3srv_config cfg = front_config(fx, upstream_port, io_timeout_ms);
	int rc = s3srv_start(&cfg, &fx->front, err, sizeof(err));
	if (rc)
		fail_msg("s3srv_start: %s", err);
	const char *url = s3srv_url(fx->front);
	fx->port = atoi(strrchr(url, ':') + 1);
	return 0;
}

static int setup(void **state)
{
	static struct fixture fx;
	memset(&fx, 0, sizeof(fx));
	memset(&g_fake, 0, sizeof(g_fake));
	pthread_mutex_init(&g_fake.lock, NULL);
	g_fake.lfd = listen_any(&g_fake.port);
	assert_true(g_fake.lfd >= 0);
	pthread_create(&g_fake.thread, NULL, fake_main, &g_fake);
	if (!g_big) {
		g_big = malloc(BIG);
		for (uint64_t i = 0; i < BIG; i++)
			g_big[i] = pattern(i);
	}
	start_front(&fx, g_fake.port, 3000);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	s3srv_stop(fx->front);
	s3_gw_free(fx->gw);
	g_fake.stop = true;
	pthread_join(g_fake.thread, NULL);
	close(g_fake.lfd);
	pthread_mutex_destroy(&g_fake.lock);
	assert_int_equal(atomic_load(&fx->w.front.open), 0);
	return 0;
}

/* ---- a client ---- */

static int client(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

/* Reads until n bytes came or the connection ended (*eof). */
static size_t read_upto(int fd, char *buf, size_t n, bool *eof)
{
	size_t got = 0;
	*eof = false;
	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r == 0) {
			*eof = true;
			break;
		}
		if (r < 0) {
			if (errno == ECONNRESET)
				*eof = true;
			break;
		}
		got += (size_t)r;
	}
	buf[got < n ? got : n - 1] = got < n ? '\0' : buf[n - 1];
	return got;
}

static void send_str(int fd, const char *s)
{
	write_all(fd, s, strlen(s));
}

/* What the client reads after the connection is over. */
static size_t read_to_eof(int fd, char *buf, size_t cap)
{
	bool eof;
	size_t n = read_upto(fd, buf, cap - 1, &eof);
	assert_true(eof);
	buf[n] = '\0';
	return n;
}

/* ---- tests ---- */

static const char GET_REQ[] = "GET /b/k HTTP/1.1\r\nHost: s3\r\n\r\n";

static void test_refused_gateway_is_503(void **state)
{
	struct fixture *fx = *state;
	/* A second front pointing at a port nobody listens on. */
	int dead_port;
	int dfd = listen_any(&dead_port);
	close(dfd);
	struct fixture other;
	memset(&other, 0, sizeof(other));
	start_front(&other, dead_port, 3000);
	int fd = client(other.port);
	send_str(fd, GET_REQ);
	char buf[4096];
	read_to_eof(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 503 Service Unavailable\r\n"));
	assert_non_null(strstr(buf, "<Code>ServiceUnavailable</Code>"));
	assert_non_null(strstr(buf, "Connection: close"));
	close(fd);
	s3srv_stop(other.front);
	s3_gw_free(other.gw);
	(void)fx;
}

static void test_garbage_reply_is_503(void **state)
{
	struct fixture *fx = *state;
	script("SPDY/3 hello\r\n\r\n", true);
	int fd = client(fx->port);
	send_str(fd, GET_REQ);
	char buf[4096];
	read_to_eof(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 503 "));
	close(fd);
}

static void test_reply_cut_short_closes_the_client(void **state)
{
	struct fixture *fx = *state;
	script("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", true);
	int fd = client(fx->port);
	send_str(fd, GET_REQ);
	char buf[4096];
	read_to_eof(fd, buf, sizeof(buf));
	/* What came is passed on; then the connection ends (no fake 503). */
	assert_string_equal(buf, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
	close(fd);
	/* Silence before any byte: a 503 once the io timeout passes. */
	script("", false);
	script_flag(&g_fake.silent);
	fd = client(fx->port);
	send_str(fd, GET_REQ);
	read_to_eof(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 503 "));
	assert_non_null(strstr(buf, "did not answer in time"));
	close(fd);
}

static void test_framings_pass_through_and_keep_alive(void **state)
{
	struct fixture *fx = *state;
	int fd = client(fx->port);
	char buf[4096];
	bool eof;
	static const char *const replies[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
	};
	int accepts = g_fake.accepts;
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		script(replies[i], false);
		send_str(fd, GET_REQ);
		size_t want = strlen(replies[i]);
		assert_int_equal(read_upto(fd, buf, want, &eof), want);
		assert_memory_equal(buf, replies[i], want);
	}
	/* HEAD: the Content-Length describes a body that never comes. */
	script("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", false);
	send_str(fd, "HEAD /b/k HTTP/1.1\r\n\r\n");
	size_t want = strlen(g_fake.reply);
	assert_int_equal(read_upto(fd, buf, want, &eof), want);
	/* One gateway connection carried all five: it is pooled and reused. */
	assert_int_equal(g_fake.accepts - accepts, 1);
	/* Close-delimited: everything until the gateway closes, then close. */
	script("HTTP/1.1 200 OK\r\n\r\nuntil the end", true);
	send_str(fd, GET_REQ);
	read_to_eof(fd, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP/1.1 200 OK\r\n\r\nuntil the end");
	close(fd);
	assert_int_equal(g_fake.requests, 6);
	assert_int_equal(atomic_load(&fx->w.front.proxied), 6);
}

static void test_early_reply_to_an_upload_ends_the_connection(void **state)
{
	struct fixture *fx = *state;
	script("HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno", true);
	int fd = client(fx->port);
	send_str(fd, "PUT /b/k HTTP/1.1\r\nContent-Length: 1000000\r\n\r\nsome");
	char buf[4096];
	read_to_eof(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\r\n\r\nno"));
	close(fd);
	/* Bad chunk framing from the client: the exchange ends. */
	script("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false);
	fd = client(fx->port);
	send_str(fd, "PUT /b/k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
	read_to_eof(fd, buf, sizeof(buf));
	close(fd);
}

static void test_big_bodies_stream_both_ways(void **state)
{
	struct fixture *fx = *state;
	/* Upload: 8 MiB through a 32 KiB buffer. */
	script("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false);
	script_flag(&g_fake.read_body);
	int fd = client(fx->port);
	char head[128];
	snprintf(head, sizeof(head), "PUT /b/k HTTP/1.1\r\nContent-Length: %u\r\n\r\n", BIG);
	send_str(fd, head);
	char *buf = malloc(BIG + 4096);
	for (uint64_t i = 0; i < BIG; i++)
		buf[i] = pattern(i);
	write_all(fd, buf, BIG);
	bool eof;
	size_t want = strlen(g_fake.reply);
	assert_int_equal(read_upto(fd, buf, want, &eof), want);
	assert_int_equal(g_fake.body_bytes, BIG);
	assert_true(g_fake.body_ok);
	/* Download: 8 MiB through a 64 KiB buffer, on the same connection. */
	static char reply[64];
	snprintf(reply, sizeof(reply), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", BIG);
	script(reply, false);
	script_flag(&g_fake.big_reply);
	send_str(fd, GET_REQ);
	want = strlen(reply) + BIG;
	assert_int_equal(read_upto(fd, buf, want, &eof), want);
	bool ok = true;
	for (uint64_t i = 0; i < BIG; i++)
		ok &= buf[strlen(reply) + i] == pattern(i);
	assert_true(ok);
	free(buf);
	close(fd);
}

static void test_out_of_descriptors_then_recovers(void **state)
{
	struct fixture *fx = *state;
	script("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false);
	enum { N = 4 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
	/* No descriptor left for the front's accept() (this is one process). */
	struct rlimit old, low;
	getrlimit(RLIMIT_NOFILE, &old);
	int probe = dup(0);
	low = old;
	low.rlim_cur = (rlim_t)probe; /* every fd from here on is refused */
	close(probe);
	setrlimit(RLIMIT_NOFILE, &low);
	for (int i = 0; i < N; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)fx->port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	usleep(300 * 1000); /* the front tries, fails, stops listening for a tick */
	setrlimit(RLIMIT_NOFILE, &old);
	for (int i = 0; i < N; i++) {
		struct timeval tv = { 10, 0 };
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		send_str(fds[i], GET_REQ);
		char buf[256];
		bool eof;
		size_t want = strlen(g_fake.reply);
		assert_int_equal(read_upto(fds[i], buf, want, &eof), want);
		close(fds[i]);
	}
}

static void test_port_in_use_fails_start(void **state)
{
	struct fixture *fx = *state;
	char err[256] = "";
	struct s3srv *f = NULL;
	struct s3srv_config cfg = { .bind = "127.0.0.1", .port = fx->port, .threads = 1,
				      .upstream_port = g_fake.port, .w = &fx->w, .gw = fx->gw };
	assert_int_equal(s3srv_start(&cfg, &f, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "in use"));
	cfg.bind = "not an address!";
	cfg.port = 0;
	assert_int_equal(s3srv_start(&cfg, &f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "worker.bind"));
}

/* Starts a front of `threads` loops (pin as given) on a free port. */
static struct s3srv *start_pinned(struct fixture *fx, int threads, bool pin)
{
	char err[256] = "";
	struct s3srv *f = NULL;
	struct s3srv_config cfg = front_config(fx, g_fake.port, 2000);
	cfg.threads = threads;
	cfg.pin = pin;
	if (s3srv_start(&cfg, &f, err, sizeof(err)))
		fail_msg("s3srv_start: %s", err);
	return f;
}

static void test_loops_pinned_to_own_cpus(void **state)
{
	struct fixture *fx = *state;
	cpu_set_t mine;
	assert_int_equal(sched_getaffinity(0, sizeof(mine), &mine), 0);
	int n = CPU_COUNT(&mine);
	/* One loop per CPU of ours, in order of the mask. */
	struct s3srv *f = start_pinned(fx, n, true);
	int want = -1;
	for (int i = 0; i < n; i++) {
		do
			want++;
		while (!CPU_ISSET(want, &mine));
		assert_int_equal(s3srv_loop_cpu(f, i), want);
	}
	assert_int_equal(s3srv_loop_cpu(f, n), -1); /* no such loop */
	s3srv_stop(f);
	/* (With one CPU every thread has exactly that one: nothing to tell.) */
	if (n > 1) {
		/* More loops than CPUs: none pinned (two on one core would be worse). */
		f = start_pinned(fx, n + 1, true);
		for (int i = 0; i <= n; i++)
			assert_int_equal(s3srv_loop_cpu(f, i), -1);
		s3srv_stop(f);
		/* Off: the scheduler places them. */
		f = start_pinned(fx, 1, false);
		assert_int_equal(s3srv_loop_cpu(f, 0), -1);
		s3srv_stop(f);
	}
	/* Threads 0: one loop per CPU of ours, each pinned. */
	f = start_pinned(fx, 0, true);
	for (int i = 0; i < n; i++)
		assert_true(s3srv_loop_cpu(f, i) >= 0);
	assert_int_equal(s3srv_loop_cpu(f, n), -1);
	s3srv_stop(f);
	assert_int_equal(s3srv_loop_cpu(NULL, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_refused_gateway_is_503, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_reply_is_503, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_cut_short_closes_the_client, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_framings_pass_through_and_keep_alive, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_early_reply_to_an_upload_ends_the_connection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_bodies_stream_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_descriptors_then_recovers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_port_in_use_fails_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loops_pinned_to_own_cpus, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(g_big);
	return rc;
}
