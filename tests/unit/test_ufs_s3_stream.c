/*
 * The S3 driver's streamed reads (ufs/s3.c body_lowat) against a FAKE
 * store: a small HTTP/1.1 server on loopback that paces a body the way a
 * store behind a slow link does (16 KiB every 2 ms), cuts one short, and
 * keeps its connection for the next request. It shows what s3rver cannot
 * be made to do on purpose: that the driver's receive low-water mark
 * gathers a paced body into a few wake-ups, still wakes for a tail
 * shorter than the mark (the body's end) and for a body cut short (EOF),
 * and that a kept connection answers a small reply at once afterwards
 * (the mark is back at 1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ufs/ufs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PACED_LEN ((1u << 20) + 1001) /* the tail is shorter than the mark */
#define CUT_LEN (1u << 20)
#define CUT_SENT 300001u
#define PIECE (16u << 10)

static struct {
	int lfd, port;
	pthread_t thread;
	pthread_mutex_t lock;
	int connections;
} g_srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static unsigned char body_byte(uint64_t at)
{
	return (unsigned char)(at * 7 + (at >> 11));
}

static int send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends body bytes [0, n) in PIECE writes, pause_us apart. */
static int send_body(int fd, uint64_t n, int pause_us)
{
	unsigned char buf[PIECE];
	for (uint64_t at = 0; at < n;) {
		size_t k = n - at < PIECE ? (size_t)(n - at) : PIECE;
		for (size_t i = 0; i < k; i++)
			buf[i] = body_byte(at + i);
		if (send_all(fd, buf, k))
			return -1;
		at += k;
		if (pause_us)
			usleep((useconds_t)pause_us);
	}
	return 0;
}

/* One connection: answers requests until the client closes it or a
 * reply closes it (the cut body). */
static void serve(int fd)
{
	char req[8192];
	size_t have = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(req, have, "\r\n\r\n", 4))) {
			ssize_t r = recv(fd, req + have, sizeof(req) - have, 0);
			if (r <= 0 || have + (size_t)r >= sizeof(req))
				return;
			have += (size_t)r;
		}
		size_t used = (size_t)(end - req) + 4;
		char hdr[256];
		uint64_t len;
		int pause_us = 0;
		bool cut = false;
		if (strncmp(req, "GET /bkt/paced ", 15) == 0) {
			len = PACED_LEN;
			pause_us = 2000;
		} else if (strncmp(req, "GET /bkt/small ", 15) == 0) {
			len = 100;
		} else if (strncmp(req, "GET /bkt/cut ", 13) == 0) {
			len = CUT_LEN;
			cut = true;
		} else {
			return;
		}
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\nETag: \"e\"\r\n"
			 "Last-Modified: Wed, 12 Oct 2009 17:50:00 GMT\r\n\r\n",
			 (unsigned long long)len);
		if (send_all(fd, hdr, strlen(hdr)) ||
		    send_body(fd, cut ? CUT_SENT : len, pause_us) || cut)
			return;
		memmove(req, req + used, have - used);
		have -= used;
	}
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	int one = 1; /* each 16 KiB as it is written (Nagle would gather them) */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	serve(fd);
	close(fd);
	return NULL;
}

static void *server_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(g_srv.lfd, NULL, NULL);
		if (fd < 0)
			return NULL; /* the listener was shut down */
		pthread_mutex_lock(&g_srv.lock);
		g_srv.connections++;
		pthread_mutex_unlock(&g_srv.lock);
		pthread_t t;
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
}

static int connections(void)
{
	pthread_mutex_lock(&g_srv.lock);
	int n = g_srv.connections;
	pthread_mutex_unlock(&g_srv.lock);
	return n;
}

static int group_setup(void **state)
{
	(void)state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	g_srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g_srv.lfd < 0 || bind(g_srv.lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(g_srv.lfd, 8) || getsockname(g_srv.lfd, (struct sockaddr *)&a, &alen))
		return -1;
	g_srv.port = ntohs(a.sin_port);
	return pthread_create(&g_srv.thread, NULL, server_main, NULL) ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	shutdown(g_srv.lfd, SHUT_RDWR);
	close(g_srv.lfd);
	pthread_join(g_srv.thread, NULL);
	return 0;
}

static struct ufs *open_fake(void)
{
	char endpoint[64], err[256] = "";
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", g_srv.port);
	struct ufs_opt opts[] = { { "s3.endpoint", endpoint },	{ "s3.access_key", "AK" },
				  { "s3.secret_key", "SK" },	{ "s3.region", "us-east-1" },
				  { "s3.path_style", "true" },	{ "s3.retries", "0" },
				  { "s3.timeout_ms", "3000" } };
	struct ufs *u = NULL;
	int rc = ufs_open("s3://bkt", opts, sizeof(opts) / sizeof(opts[0]), &u, err, sizeof(err));
	if (rc)
		fail_msg("open: %d %s", rc, err);
	return u;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct got {
	uint64_t len;
	bool same;
	int calls, bursts; /* bursts: calls 1 ms or more after the one before */
	double last;
};

static int collect(void *arg, const void *data, size_t n)
{
	struct got *g = arg;
	const unsigned char *p = data;
	double t = now_s();
	if (!g->calls++ || t - g->last >= 0.001)
		g->bursts++;
	g->last = t;
	for (size_t i = 0; i < n; i++)
		g->same = g->same && p[i] == body_byte(g->len + i);
	g->len += n;
	return 0;
}

/* On a kept connection (the mark needs curl to name its socket, which it
 * does from the second request on), a paced body comes in a few bursts
 * (one per 256 KiB), its 1,001-byte tail included, not one per 16 KiB
 * the store sends (65); then the connection answers a 100-byte reply at
 * once. */
static void test_paced_body_then_small_reply(void **state)
{
	(void)state;
	struct ufs *u = open_fake();
	char err[256] = "";
	int before = connections();
	struct got w = { .same = true };
	assert_int_equal(ufs_read(u, "small", 0, UFS_READ_TO_EOF, collect, &w, err, sizeof(err)),
			 0);
	assert_int_equal(w.len, 100);
	struct got g = { .same = true };
	double t0 = now_s();
	assert_int_equal(ufs_read(u, "paced", 0, UFS_READ_TO_EOF, collect, &g, err, sizeof(err)),
			 0);
	double paced_s = now_s() - t0;
	assert_int_equal(g.len, PACED_LEN);
	assert_true(g.same);
	assert_true(paced_s < 2.5); /* a tail waiting for a mark it never reaches: 4 s */
	assert_in_range(g.bursts, 1, 12);

	struct got s = { .same = true };
	t0 = now_s();
	assert_int_equal(ufs_read(u, "small", 0, UFS_READ_TO_EOF, collect, &s, err, sizeof(err)),
			 0);
	assert_int_equal(s.len, 100);
	assert_true(s.same);
	assert_true(now_s() - t0 < 1.0);
	assert_int_equal(connections() - before, 1); /* the same connection */
	ufs_close(u);
}

/* A body the store cuts short below the mark: the close wakes the reader
 * at once (an error), it does not wait for the low-speed timeout. */
static void test_cut_body(void **state)
{
	(void)state;
	struct ufs *u = open_fake();
	char err[256] = "";
	struct got w = { .same = true };
	assert_int_equal(ufs_read(u, "small", 0, UFS_READ_TO_EOF, collect, &w, err, sizeof(err)),
			 0);
	struct got g = { .same = true };
	double t0 = now_s();
	int rc = ufs_read(u, "cut", 0, UFS_READ_TO_EOF, collect, &g, err, sizeof(err));
	assert_true(rc < 0);
	assert_true(now_s() - t0 < 1.5);
	assert_int_equal(g.len, CUT_SENT);
	assert_true(g.same);
	/* And the next request still works (a new connection). */
	struct got s = { .same = true };
	assert_int_equal(ufs_read(u, "small", 0, UFS_READ_TO_EOF, collect, &s, err, sizeof(err)),
			 0);
	assert_int_equal(s.len, 100);
	ufs_close(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paced_body_then_small_reply),
		cmocka_unit_test(test_cut_body),
	};
	return cmocka_run_group_tests_name("ufs_s3_stream", tests, group_setup, group_teardown);
}
