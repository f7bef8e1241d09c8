/*
 * api/s3_server.c with the fast path off: every request goes to the pool,
 * which runs the real S3 gateway (over tests/unit/s3_dir_backend.c) on the
 * client's socket. Big bodies both ways, chunked uploads, 100-continue,
 * keep-alive and pipelining across pool requests, an early reply to an
 * upload, a client that leaves mid-upload or stalls, a full pool (503
 * SlowDown), running out of descriptors, a port already taken, pinning,
 * and the same server over TLS (a certificate made at test time with
 * openssl req): uploads and downloads through the pool on one session,
 * plain HTTP and half handshakes let go at once, bad certificate files.
 * The fast path itself is driven end to end by
 * tests/integration/test_s3_fastpath.py.
 */
#include "api/s3_server.h"

#include "api/s3_gateway.h"
#include "daemon/worker/worker.h"
#include "lib/clock.h"
#include "tests/unit/s3_dir_backend.h"

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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>

#define BIG (8u << 20)

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

/* ---- the server under test ---- */

struct fixture {
	char root[64];
	struct s3_dir_backend *db;
	struct worker_node w;
	struct s3_gw *gw;
	struct s3srv *front;
	int port;
	char cert[96], key[96]; /* TLS fixture: set, the front speaks TLS */
};

static struct s3srv_config front_config(struct fixture *fx, int pool_threads, int queue_max,
					int64_t io_timeout_ms)
{
	return (struct s3srv_config){
		.bind = "127.0.0.1", .port = 0, .threads = 1, .fast = false,
		.pool_threads = pool_threads, .queue_max = queue_max,
		.header_timeout_ms = 2000, .idle_timeout_ms = 60000,
		.io_timeout_ms = io_timeout_ms, .w = &fx->w, .gw = fx->gw,
		.tls_cert = fx->cert, .tls_key = fx->key,
	};
}

static void start_front(struct fixture *fx, int pool_threads, int queue_max,
			int64_t io_timeout_ms)
{
	char err[256];
	struct s3srv_config cfg = front_config(fx, pool_threads, queue_max, io_timeout_ms);
	if (s3srv_start(&cfg, &fx->front, err, sizeof(err)))
		fail_msg("s3srv_start: %s", err);
	const char *url = s3srv_url(fx->front);
	fx->port = atoi(strrchr(url, ':') + 1);
}

static int setup(void **state)
{
	static struct fixture fx;
	memset(&fx, 0, sizeof(fx));
	char err[256];
	strcpy(fx.root, "/tmp/strata-s3srv-XXXXXX");
	assert_non_null(mkdtemp(fx.root));
	fx.db = s3_dir_backend_new(fx.root, err, sizeof(err));
	assert_non_null(fx.db);
	struct s3_gw_config gcfg = { 0 };
	fx.gw = s3_gw_new(&gcfg, s3_dir_backend_ops(), fx.db, err, sizeof(err));
	assert_non_null(fx.gw);
	char b[128];
	snprintf(b, sizeof(b), "%s/b", fx.root);
	assert_int_equal(mkdir(b, 0700), 0);
	if (!g_big) {
		g_big = malloc(BIG);
		for (uint64_t i = 0; i < BIG; i++)
			g_big[i] = pattern(i);
	}
	start_front(&fx, 4, 32, 3000);
	*state = &fx;
	return 0;
}

/* The same, over TLS: a self-signed certificate made now. */
static int setup_tls(void **state)
{
	setup(state);
	struct fixture *fx = *state;
	s3srv_stop(fx->front);
	snprintf(fx->cert, sizeof(fx->cert), "%s/cert.pem", fx->root);
	snprintf(fx->key, sizeof(fx->key), "%s/key.pem", fx->root);
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
		 "-keyout '%s' -out '%s' 2>/dev/null",
		 fx->key, fx->cert);
	assert_int_equal(system(cmd), 0);
	start_front(fx, 4, 32, 3000);
	assert_non_null(strstr(s3srv_url(fx->front), "https://127.0.0.1:"));
	assert_int_equal(s3srv_ktls(fx->front), -1); /* no session yet */
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	s3srv_stop(fx->front);
	s3_gw_free(fx->gw);
	s3_dir_backend_free(fx->db);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->root);
	assert_int_equal(system(cmd), 0);
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

/* Reads one reply head (to its empty line) into buf; its length. */
static size_t read_head(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	while (got + 1 < cap) {
		ssize_t r = recv(fd, buf + got, 1, 0);
		if (r <= 0)
			break;
		got++;
		buf[got] = '\0';
		if (got >= 4 && memcmp(buf + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	buf[got] = '\0';
	return got;
}

/* Reads a reply with a Content-Length body; its status, body in *body
 * (malloc'd). */
static int read_reply(int fd, char **body, size_t *len)
{
	char head[4096];
	read_head(fd, head, sizeof(head));
	int status = 0;
	if (sscanf(head, "HTTP/1.1 %d", &status) != 1)
		fail_msg("no reply head: '%s'", head);
	const char *cl = strcasestr(head, "Content-Length: ");
	size_t n = cl ? (size_t)strtoull(cl + 16, NULL, 10) : 0;
	*body = malloc(n + 1);
	bool eof;
	assert_int_equal(n ? read_upto(fd, *body, n, &eof) : 0, n);
	(*body)[n] = '\0';
	*len = n;
	return status;
}

static void put_object(int fd, const char *path, const char *data, size_t len)
{
	char head[256];
	snprintf(head, sizeof(head), "PUT %s HTTP/1.1\r\nHost: s3\r\nContent-Length: %zu\r\n\r\n",
		 path, len);
	send_str(fd, head);
	write_all(fd, data, len);
	char *body;
	size_t n;
	assert_int_equal(read_reply(fd, &body, &n), 200);
	free(body);
}

/* Waits up to ms for the server's open connections to reach 0. */
static bool all_closed(struct fixture *fx, int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;
	while (atomic_load(&fx->w.front.open) != 0 && clock_mono_ms() < end)
		usleep(5000);
	return atomic_load(&fx->w.front.open) == 0;
}

static void test_big_bodies_both_ways_on_one_connection(void **state)
{
	struct fixture *fx = *state;
	int fd = client(fx->port);
	put_object(fd, "/b/k", g_big, BIG);
	send_str(fd, GET_REQ);
	char *body;
	size_t n;
	assert_int_equal(read_reply(fd, &body, &n), 200);
	assert_int_equal(n, BIG);
	assert_memory_equal(body, g_big, BIG);
	free(body);
	close(fd);
	assert_int_equal(atomic_load(&fx->w.front.proxied), 2);
}

static void test_chunked_upload_and_100_continue(void **state)
{
	struct fixture *fx = *state;
	int fd = client(fx->port);
	/* Chunked, with an extension and a trailer, split at odd places. */
	send_str(fd, "PUT /b/c HTTP/1.1\r\nHost: s3\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5;ext=1\r\nhel");
	usleep(20000);
	send_str(fd, "lo\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n");
	char *body;
	size_t n;
	assert_int_equal(read_reply(fd, &body, &n), 200);
	free(body);
	send_str(fd, "GET /b/c HTTP/1.1\r\nHost: s3\r\n\r\n");
	assert_int_equal(read_reply(fd, &body, &n), 200);
	assert_string_equal(body, "hello world");
	free(body);
	/* Expect: 100-continue: the interim reply, then the body. */
	send_str(fd, "PUT /b/e HTTP/1.1\r\nHost: s3\r\nExpect: 100-continue\r\n"
		     "Content-Length: 3\r\n\r\n");
	char head[256];
	read_head(fd, head, sizeof(head));
	assert_string_equal(head, "HTTP/1.1 100 Continue\r\n\r\n");
	send_str(fd, "abc");
	assert_int_equal(read_reply(fd, &body, &n), 200);
	free(body);
	/* Broken chunk framing: 400-ish error, never an object. */
	send_str(fd, "PUT /b/bad HTTP/1.1\r\nHost: s3\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "zz\r\n");
	char buf[4096];
	read_to_eof(fd, buf, sizeof(buf));
	assert_null(strstr(buf, "HTTP/1.1 200"));
	close(fd);
	char p[128];
	struct stat st;
	snprintf(p, sizeof(p), "%s/b/bad", fx->root);
	assert_int_not_equal(stat(p, &st), 0);
}

static void test_pipelined_requests_across_the_pool(void **state)
{
	struct fixture *fx = *state;
	int fd = client(fx->port);
	put_object(fd, "/b/k", "pipelined", 9);
	/* Three at once: a PUT whose body follows its head, two GETs. */
	send_str(fd, "PUT /b/p HTTP/1.1\r\nHost: s3\r\nContent-Length: 2\r\n\r\nhi"
		     "GET /b/k HTTP/1.1\r\nHost: s3\r\n\r\n"
		     "GET /b/p HTTP/1.1\r\nHost: s3\r\n\r\n");
	char *body;
	size_t n;
	assert_int_equal(read_reply(fd, &body, &n), 200);
	free(body);
	assert_int_equal(read_reply(fd, &body, &n), 200);
	assert_string_equal(body, "pipelined");
	free(body);
	assert_int_equal(read_reply(fd, &body, &n), 200);
	assert_string_equal(body, "hi");
	free(body);
	close(fd);
	assert_int_equal(atomic_load(&fx->w.front.connections), 1);
}

static void test_early_reply_to_an_upload_ends_the_connection(void **state)
{
	struct fixture *fx = *state;
	int fd = client(fx->port);
	/* No such bucket: answered before the body, which is never read. */
	send_str(fd, "PUT /nobucket/k HTTP/1.1\r\nHost: s3\r\nContent-Length: 100000\r\n\r\n");
	char buf[4096];
	read_to_eof(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 404 "));
	assert_non_null(strstr(buf, "<Code>NoSuchBucket</Code>"));
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	close(fd);
	assert_true(all_closed(fx, 1000));
}

static void test_a_client_that_leaves_mid_put_is_released_at_once(void **state)
{
	struct fixture *fx = *state;
	int fd = client(fx->port);
	send_str(fd, "PUT /b/half HTTP/1.1\r\nHost: s3\r\nContent-Length: 1000000\r\n\r\n");
	write_all(fd, g_big, 500000);
	int64_t t0 = clock_mono_ms();
	close(fd);
	/* The io timeout is 3 s: released well before it, by the close. */
	assert_true(all_closed(fx, 1000));
	assert_true(clock_mono_ms() - t0 < 1000);
	char p[128];
	struct stat st;
	snprintf(p, sizeof(p), "%s/b/half", fx->root);
	assert_int_not_equal(stat(p, &st), 0);
	/* The pool thread is free again. */
	fd = client(fx->port);
	put_object(fd, "/b/after", "x", 1);
	close(fd);
}

static void test_a_stalled_upload_times_out(void **state)
{
	struct fixture *fx = *state;
	s3srv_stop(fx->front);
	start_front(fx, 2, 8, 300);
	int fd = client(fx->port);
	send_str(fd, "PUT /b/slow HTTP/1.1\r\nHost: s3\r\nContent-Length: 1000\r\n\r\nabc");
	char buf[4096];
	read_to_eof(fd, buf, sizeof(buf)); /* cut after io_timeout_ms */
	close(fd);
	assert_true(all_closed(fx, 1000));
	char p[128];
	struct stat st;
	snprintf(p, sizeof(p), "%s/b/slow", fx->root);
	assert_int_not_equal(stat(p, &st), 0);
}

static void test_a_full_pool_answers_503_slowdown(void **state)
{
	struct fixture *fx = *state;
	s3srv_stop(fx->front);
	start_front(fx, 1, 1, 5000); /* one thread, one waiting request */
	int a = client(fx->port);
	put_object(a, "/b/k", "k", 1);
	/* A holds the one pool thread: it waits for A's body (the interim
	 * reply proves the thread is on it). */
	send_str(a, "PUT /b/a HTTP/1.1\r\nHost: s3\r\nExpect: 100-continue\r\n"
		    "Content-Length: 2\r\n\r\n");
	char head[256];
	read_head(a, head, sizeof(head));
	assert_string_equal(head, "HTTP/1.1 100 Continue\r\n\r\n");
	/* B waits in the queue; C finds it full. */
	int b = client(fx->port);
	send_str(b, GET_REQ);
	int64_t end = clock_mono_ms() + 2000;
	while (atomic_load(&fx->w.front.proxied) < 3 && clock_mono_ms() < end)
		usleep(2000);
	assert_int_equal(atomic_load(&fx->w.front.proxied), 3);
	int c = client(fx->port);
	send_str(c, GET_REQ);
	char buf[4096];
	read_to_eof(c, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 503 "));
	assert_non_null(strstr(buf, "<Code>SlowDown</Code>"));
	close(c);
	/* A finishes, then B is served. */
	send_str(a, "ok");
	char *body;
	size_t n;
	assert_int_equal(read_reply(a, &body, &n), 200);
	free(body);
	assert_int_equal(read_reply(b, &body, &n), 200);
	assert_string_equal(body, "k");
	free(body);
	close(a);
	close(b);
}

static void test_out_of_descriptors_then_recovers(void **state)
{
	struct fixture *fx = *state;
	int pfd = client(fx->port);
	put_object(pfd, "/b/k", "ok", 2);
	close(pfd);
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
		char *body;
		size_t n;
		assert_int_equal(read_reply(fds[i], &body, &n), 200);
		assert_string_equal(body, "ok");
		free(body);
		close(fds[i]);
	}
}

/* ---- TLS ---- */

/* A TLS client session on a new connection, the server's certificate
 * verified against fx->cert. */
struct tls_client {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
};

static void tls_connect(struct fixture *fx, struct tls_client *t)
{
	t->fd = client(fx->port);
	t->ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(t->ctx);
	assert_int_equal(SSL_CTX_load_verify_locations(t->ctx, fx->cert, NULL), 1);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	t->ssl = SSL_new(t->ctx);
	SSL_set_fd(t->ssl, t->fd);
	SSL_set_tlsext_host_name(t->ssl, "localhost");
	if (SSL_connect(t->ssl) != 1)
		fail_msg("TLS handshake failed: %s",
			 ERR_reason_error_string(ERR_get_error()) ?: "?");
}

static void tls_close(struct tls_client *t)
{
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	close(t->fd);
}

static void tls_write(struct tls_client *t, const void *p, size_t n)
{
	while (n) {
		int w = SSL_write(t->ssl, p, n > (1u << 20) ? 1 << 20 : (int)n);
		assert_true(w > 0);
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

/* A reply with a Content-Length body (whole, into a malloc'd *body). */
static int tls_reply(struct tls_client *t, char **body, size_t *len)
{
	char head[4096];
	size_t got = 0;
	while (got < 4 || memcmp(head + got - 4, "\r\n\r\n", 4)) {
		assert_true(got + 1 < sizeof(head));
		assert_int_equal(SSL_read(t->ssl, head + got, 1), 1);
		got++;
	}
	head[got] = '\0';
	int status = 0;
	assert_int_equal(sscanf(head, "HTTP/1.1 %d", &status), 1);
	const char *cl = strcasestr(head, "Content-Length: ");
	size_t n = cl ? (size_t)strtoull(cl + 16, NULL, 10) : 0;
	*body = malloc(n + 1);
	for (size_t i = 0; i < n;) {
		int r = SSL_read(t->ssl, *body + i, (int)(n - i > (1u << 20) ? 1u << 20 : n - i));
		assert_true(r > 0);
		i += (size_t)r;
	}
	(*body)[n] = '\0';
	*len = n;
	return status;
}

static void test_tls_bodies_both_ways_and_pipelining(void **state)
{
	struct fixture *fx = *state;
	struct tls_client t;
	tls_connect(fx, &t);
	char head[256];
	snprintf(head, sizeof(head), "PUT /b/k HTTP/1.1\r\nHost: s3\r\nContent-Length: %u\r\n\r\n",
		 BIG);
	tls_write(&t, head, strlen(head));
	tls_write(&t, g_big, BIG);
	char *body;
	size_t n;
	assert_int_equal(tls_reply(&t, &body, &n), 200);
	free(body);
	/* Whether the kernel took the session (0 on machines without kTLS). */
	int ktls = s3srv_ktls(fx->front);
	assert_true(ktls == 0 || ktls == 1);
	print_message("kTLS: %s\n", ktls ? "yes" : "no");
	/* Two more at once on the same session: the loop and the pool take
	 * turns with its SSL object. */
	static const char two[] = "GET /b/k HTTP/1.1\r\nHost: s3\r\n\r\n"
				  "GET /b/none HTTP/1.1\r\nHost: s3\r\n\r\n";
	tls_write(&t, two, sizeof(two) - 1);
	assert_int_equal(tls_reply(&t, &body, &n), 200);
	assert_int_equal(n, BIG);
	assert_memory_equal(body, g_big, BIG);
	free(body);
	assert_int_equal(tls_reply(&t, &body, &n), 404);
	assert_non_null(strstr(body, "<Code>NoSuchKey</Code>"));
	free(body);
	tls_close(&t);
	assert_int_equal(atomic_load(&fx->w.front.proxied), 3);
	assert_int_equal(atomic_load(&fx->w.front.connections), 1);
	assert_true(all_closed(fx, 1000));
}

static void test_tls_plain_http_and_half_handshakes_are_let_go(void **state)
{
	struct fixture *fx = *state;
	/* Plain HTTP on the TLS port: no HTTP reply, closed at once. */
	int fd = client(fx->port);
	send_str(fd, GET_REQ);
	char buf[4096];
	read_to_eof(fd, buf, sizeof(buf));
	assert_null(strstr(buf, "HTTP/1.1"));
	close(fd);
	/* A hello cut short, then gone: released at once, not at the 2 s
	 * handshake (head) timeout. */
	static const char part[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	fd = client(fx->port);
	write_all(fd, part, sizeof(part) - 1);
	int64_t t0 = clock_mono_ms();
	close(fd);
	assert_true(all_closed(fx, 1000));
	assert_true(clock_mono_ms() - t0 < 1000);
	/* One that stays silent is closed at the handshake timeout. */
	fd = client(fx->port);
	write_all(fd, part, sizeof(part) - 1);
	t0 = clock_mono_ms();
	read_to_eof(fd, buf, sizeof(buf));
	assert_true(clock_mono_ms() - t0 >= 1500);
	close(fd);
	assert_true(all_closed(fx, 1000));
	/* The server still serves. */
	struct tls_client t;
	tls_connect(fx, &t);
	tls_write(&t, GET_REQ, sizeof(GET_REQ) - 1);
	char *body;
	size_t n;
	assert_int_equal(tls_reply(&t, &body, &n), 404);
	free(body);
	tls_close(&t);
}

static void test_tls_bad_files_fail_start(void **state)
{
	struct fixture *fx = *state;
	char err[512] = "";
	struct s3srv *f = NULL;
	struct s3srv_config cfg = front_config(fx, 1, 1, 1000);
	cfg.tls_key = "";
	assert_int_equal(s3srv_start(&cfg, &f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "must be set together"));
	cfg.tls_key = fx->key;
	cfg.tls_cert = "/nonexistent/cert.pem";
	assert_int_equal(s3srv_start(&cfg, &f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/nonexistent/cert.pem"));
	cfg.tls_cert = fx->cert;
	cfg.tls_key = fx->cert; /* a certificate is no key */
	assert_int_equal(s3srv_start(&cfg, &f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "http.tls_key"));
	/* A key of another certificate. */
	char other[128], cmd[512];
	snprintf(other, sizeof(other), "%s/other.key", fx->root);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm RSA -out '%s' 2>/dev/null", other);
	assert_int_equal(system(cmd), 0);
	cfg.tls_key = other;
	assert_int_equal(s3srv_start(&cfg, &f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "key values mismatch"));
	assert_null(f);
}

static void test_port_in_use_fails_start(void **state)
{
	struct fixture *fx = *state;
	char err[256] = "";
	struct s3srv *f = NULL;
	struct s3srv_config cfg = front_config(fx, 1, 1, 1000);
	cfg.port = fx->port;
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
	struct s3srv_config cfg = front_config(fx, 1, 1, 2000);
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
		cmocka_unit_test_setup_teardown(test_big_bodies_both_ways_on_one_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chunked_upload_and_100_continue, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_requests_across_the_pool, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_early_reply_to_an_upload_ends_the_connection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_client_that_leaves_mid_put_is_released_at_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_stalled_upload_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_full_pool_answers_503_slowdown, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_out_of_descriptors_then_recovers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_port_in_use_fails_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loops_pinned_to_own_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_bodies_both_ways_and_pipelining, setup_tls,
						teardown),
		cmocka_unit_test_setup_teardown(test_tls_plain_http_and_half_handshakes_are_let_go,
						setup_tls, teardown),
		cmocka_unit_test_setup_teardown(test_tls_bad_files_fail_start, setup_tls, teardown),
	};
	signal(SIGPIPE, SIG_IGN); /* the server's SSL writes to a client that left */
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(g_big);
	return rc;
}
