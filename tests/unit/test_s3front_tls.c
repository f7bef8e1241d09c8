/*
 * api/s3_server_tls.c: the BIO the S3 server's TLS sessions run over when
 * the kernel has no kTLS. Over real loopback TCP sockets: a corked head
 * record leaves with its body record in one send (sendmsg, counted through
 * the linker's --wrap), short records wait for the flush, a slow reader
 * still gets every byte in order, uncorked writes queue behind corked bytes,
 * reads say whether they drained the socket, a peer that left and an
 * allocation failure are errors (never retries); then a real TLS 1.3
 * session over it (read-ahead, two records in one recv, a hit's head and
 * body records in one send), and the kTLS probe agrees with the kernel's
 * list.
 */
#include "api/s3_server_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>

/* ---- fault injection and counting (-Wl,--wrap, see worker.cmake) ---- */

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
ssize_t __real_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags);

static bool g_realloc_fails;
static int g_count_fd = -1; /* send and sendmsg calls on this fd are counted */
static unsigned g_sends;

void *__wrap_realloc(void *p, size_t n)
{
	if (g_realloc_fails)
		return NULL;
	return __real_realloc(p, n);
}

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
	if (fd == g_count_fd)
		g_sends++;
	return __real_send(fd, buf, len, flags);
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (fd == g_count_fd)
		g_sends++;
	return __real_sendmsg(fd, msg, flags);
}

/* ---- a loopback pair: the server end non-blocking ---- */

struct pair {
	int srv, cli;
};

/* sndbuf, rcvbuf: the server's send and the client's receive buffer (0:
 * the kernel's default). */
static void make_pair(struct pair *p, int sndbuf, int rcvbuf)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	p->cli = socket(AF_INET, SOCK_STREAM, 0);
	if (rcvbuf)
		setsockopt(p->cli, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_int_equal(connect(p->cli, (struct sockaddr *)&a, sizeof(a)), 0);
	p->srv = accept(l, NULL, NULL);
	assert_true(p->srv >= 0);
	close(l);
	if (sndbuf)
		setsockopt(p->srv, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	fcntl(p->srv, F_SETFL, fcntl(p->srv, F_GETFL) | O_NONBLOCK);
	struct timeval tv = { 10, 0 };
	setsockopt(p->cli, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(p->srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void close_pair(struct pair *p)
{
	if (p->srv >= 0)
		close(p->srv);
	if (p->cli >= 0)
		close(p->cli);
}

static void read_exact(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r <= 0)
			fail_msg("recv after %zu of %zu bytes: %s", got, n, r ? strerror(errno) : "EOF");
		got += (size_t)r;
	}
}

/* Nothing to read on fd for a moment. */
static bool nothing_arrives(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 50) == 0;
}

static char pattern(size_t i)
{
	return (char)('A' + (i * 13 + i / 1021) % 26);
}

/* ---- tests ---- */

static void test_a_head_rides_with_its_body_in_one_send(void **state)
{
	(void)state;
	struct pair p;
	make_pair(&p, 1 << 20, 1 << 20); /* (room for it all: one send can take it) */
	struct s3tls_io io = { .fd = p.srv };
	BIO *b = s3tls_bio_new(&io);
	assert_non_null(b);
	/* A head record, a body record, a short last record and an alert, as
	 * OpenSSL writes them. */
	size_t lens[] = { 380, 16406, 1000, 24 }, total = 0;
	char *all = malloc(20000);
	for (size_t i = 0; i < 20000; i++)
		all[i] = pattern(i);
	g_count_fd = p.srv;
	g_sends = 0;
	s3tls_cork(&io, true);
	assert_int_equal(BIO_write(b, all, (int)lens[0]), (int)lens[0]);
	assert_int_equal(s3tls_pending(&io), lens[0]);
	assert_int_equal(g_sends, 0);
	assert_true(nothing_arrives(p.cli)); /* the head waits for its body */
	total = lens[0];
	assert_int_equal(BIO_write(b, all + total, (int)lens[1]), (int)lens[1]);
	total += lens[1];
	assert_int_equal(g_sends, 1); /* both in one sendmsg */
	assert_int_equal(s3tls_pending(&io), 0);
	/* Short records wait for the flush, then leave together. */
	for (int i = 2; i < 4; i++) {
		assert_int_equal(BIO_write(b, all + total, (int)lens[i]), (int)lens[i]);
		total += lens[i];
	}
	s3tls_cork(&io, false);
	assert_int_equal(s3tls_pending(&io), lens[2] + lens[3]);
	assert_int_equal(g_sends, 1);
	assert_int_equal(s3tls_flush(&io), 1);
	assert_int_equal(g_sends, 2);
	assert_int_equal(s3tls_pending(&io), 0);
	assert_int_equal(io.sent, total);
	char *got = malloc(total);
	read_exact(p.cli, got, total);
	assert_memory_equal(got, all, total);
	/* The buffer is kept for the next reply, freed by reset. */
	assert_non_null(io.out);
	s3tls_io_reset(&io);
	assert_null(io.out);
	assert_int_equal(s3tls_flush(&io), 1); /* nothing to send */
	assert_int_equal(g_sends, 2);
	g_count_fd = -1;
	free(got);
	free(all);
	BIO_free(b);
	close_pair(&p);
}

struct slow_reader {
	int fd;
	size_t n;
	char *buf;
};

static void *slow_read(void *arg)
{
	struct slow_reader *r = arg;
	size_t got = 0;
	while (got < r->n) {
		ssize_t k = recv(r->fd, r->buf + got, r->n - got < 1000 ? r->n - got : 1000, 0);
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got % 64 < 8)
			usleep(200);
	}
	r->n = got;
	return NULL;
}

static void test_a_slow_reader_gets_every_byte(void **state)
{
	(void)state;
	struct pair p;
	make_pair(&p, 4096, 4096);
	struct s3tls_io io = { .fd = p.srv };
	BIO *b = s3tls_bio_new(&io);
	const size_t total = 2u << 20;
	char *all = malloc(total);
	for (size_t i = 0; i < total; i++)
		all[i] = pattern(i);
	s3tls_cork(&io, true);
	assert_int_equal(BIO_write(b, all, (int)total), (int)total);
	s3tls_cork(&io, false);
	/* The socket cannot take it all: a partial send, then "wait". */
	assert_int_equal(s3tls_flush(&io), 0);
	assert_true(s3tls_pending(&io) < total);
	struct slow_reader r = { p.cli, total, malloc(total) };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, slow_read, &r), 0);
	int rc, waits = 0;
	while ((rc = s3tls_flush(&io)) == 0) {
		struct pollfd pf = { .fd = p.srv, .events = POLLOUT };
		assert_true(poll(&pf, 1, 5000) == 1);
		waits++;
	}
	assert_int_equal(rc, 1);
	assert_true(waits > 0);
	pthread_join(t, NULL);
	assert_int_equal(r.n, total);
	assert_memory_equal(r.buf, all, total);
	free(r.buf);
	free(all);
	s3tls_io_reset(&io);
	BIO_free(b);
	close_pair(&p);
}

static void test_uncorked_writes_queue_behind_kept_bytes(void **state)
{
	(void)state;
	struct pair p;
	make_pair(&p, 4096, 4096);
	struct s3tls_io io = { .fd = p.srv };
	BIO *b = s3tls_bio_new(&io);
	const size_t kept = 1u << 20;
	char *all = malloc(kept + 100);
	for (size_t i = 0; i < kept + 100; i++)
		all[i] = pattern(i);
	s3tls_cork(&io, true);
	assert_int_equal(BIO_write(b, all, (int)kept), (int)kept);
	s3tls_cork(&io, false);
	/* A socket-like write (a close_notify, the pool's replies) while the
	 * kept bytes do not fit: a retry, as a full socket says. */
	assert_int_equal(BIO_write(b, all + kept, 100), -1);
	assert_true(BIO_should_retry(b) && BIO_should_write(b));
	struct slow_reader r = { p.cli, kept + 100, malloc(kept + 100) };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, slow_read, &r), 0);
	int w;
	while ((w = BIO_write(b, all + kept, 100)) < 0) {
		assert_true(BIO_should_retry(b));
		struct pollfd pf = { .fd = p.srv, .events = POLLOUT };
		assert_true(poll(&pf, 1, 5000) == 1);
	}
	assert_int_equal(w, 100);
	assert_int_equal(s3tls_pending(&io), 0);
	pthread_join(t, NULL);
	assert_int_equal(r.n, kept + 100);
	assert_memory_equal(r.buf, all, kept + 100); /* in order */
	free(r.buf);
	free(all);
	s3tls_io_reset(&io);
	BIO_free(b);
	close_pair(&p);
}

static void test_reads_behave_like_a_socket(void **state)
{
	(void)state;
	struct pair p;
	make_pair(&p, 0, 0);
	struct s3tls_io io = { .fd = p.srv };
	BIO *b = s3tls_bio_new(&io);
	char buf[200];
	/* Nothing yet: a retry. */
	assert_int_equal(BIO_read(b, buf, 100), -1);
	assert_true(BIO_should_retry(b) && BIO_should_read(b));
	assert_int_equal(send(p.cli, "0123456789", 10, 0), 10);
	usleep(20000);
	assert_int_equal(BIO_read(b, buf, 100), 10); /* what there is */
	assert_memory_equal(buf, "0123456789", 10);
	char hundred[100];
	memset(hundred, 'x', sizeof(hundred));
	assert_int_equal(send(p.cli, hundred, 100, 0), 100);
	usleep(20000);
	assert_int_equal(BIO_read(b, buf, 60), 60); /* all it asked */
	assert_int_equal(BIO_read(b, buf, 60), 40);
	assert_false(BIO_eof(b));
	shutdown(p.cli, SHUT_WR);
	usleep(20000);
	assert_int_equal(BIO_read(b, buf, 60), 0);
	assert_false(BIO_should_retry(b));
	assert_true(BIO_eof(b));
	BIO_free(b);
	close_pair(&p);
}

static void test_a_peer_that_left_is_an_error(void **state)
{
	(void)state;
	struct pair p;
	make_pair(&p, 0, 0);
	struct s3tls_io io = { .fd = p.srv };
	BIO *b = s3tls_bio_new(&io);
	/* Unread bytes at close: the peer resets. */
	assert_int_equal(send(p.srv, "x", 1, 0), 1);
	usleep(20000);
	close(p.cli);
	p.cli = -1;
	usleep(20000);
	char big[65536];
	memset(big, 'y', sizeof(big));
	/* Corked: a short record is kept, a long one goes at once and meets
	 * the reset (or, if the reset has not come yet, the next one does). */
	s3tls_cork(&io, true);
	assert_int_equal(BIO_write(b, "short", 5), 5);
	int w = 0;
	for (int i = 0; i < 4 && w >= 0; i++)
		w = BIO_write(b, big, (int)sizeof(big));
	assert_int_equal(w, -1);
	assert_false(BIO_should_retry(b));
	s3tls_cork(&io, false);
	/* Kept bytes (if any) cannot leave either. */
	assert_int_not_equal(s3tls_flush(&io), 0);
	assert_true(s3tls_pending(&io) == 0 || s3tls_flush(&io) == -1);
	assert_int_equal(BIO_write(b, "z", 1), -1);
	assert_false(BIO_should_retry(b));
	char buf[16];
	assert_true(BIO_read(b, buf, sizeof(buf)) <= 0);
	assert_false(BIO_should_retry(b));
	s3tls_io_reset(&io);
	BIO_free(b);
	close_pair(&p);
}

static void test_out_of_memory_fails_the_write(void **state)
{
	(void)state;
	struct pair p;
	make_pair(&p, 4096, 4096);
	struct s3tls_io io = { .fd = p.srv };
	BIO *b = s3tls_bio_new(&io);
	s3tls_cork(&io, true);
	/* A short record to keep, and no memory for it. */
	g_realloc_fails = true;
	assert_int_equal(BIO_write(b, "abc", 3), -1);
	g_realloc_fails = false;
	assert_false(BIO_should_retry(b)); /* fatal, not "try later" */
	assert_int_equal(s3tls_pending(&io), 0);
	/* A long record the socket cannot take whole: what is left must be
	 * kept, and there is no memory for it. */
	static char big[1 << 20];
	g_realloc_fails = true;
	assert_int_equal(BIO_write(b, big, (int)sizeof(big)), -1);
	g_realloc_fails = false;
	assert_false(BIO_should_retry(b));
	s3tls_io_reset(&io);
	BIO_free(b);
	close_pair(&p);
}

/* ---- a real session over the BIO ---- */

static char g_cert[64], g_key[64];

struct tls_peer {
	int fd;
	char reply[20000];
	size_t nreply;
	bool ok;
};

/* The client: a blocking OpenSSL session that verifies the certificate,
 * sends two requests in one go and reads one reply of nreply bytes. */
static void *tls_client(void *arg)
{
	struct tls_peer *c = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(ctx, g_cert, NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, c->fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (SSL_connect(ssl) == 1) {
		/* Two records, one TCP segment (client-side corking). */
		int on = 1, off = 0;
		setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
		SSL_write(ssl, "GET /one", 8);
		SSL_write(ssl, "GET /two", 8);
		setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
		size_t got = 0;
		int n;
		while (got < c->nreply &&
		       (n = SSL_read(ssl, c->reply + got, (int)(c->nreply - got))) > 0)
			got += (size_t)n;
		c->ok = got == c->nreply;
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return NULL;
}

/* Runs fn on the server's session until it stops asking to wait. */
static int srv_wait_call(SSL *ssl, int fd, int (*fn)(SSL *, void *, int), void *buf, int len)
{
	for (;;) {
		ERR_clear_error();
		int rc = fn(ssl, buf, len);
		if (rc > 0)
			return rc;
		int e = SSL_get_error(ssl, rc);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return rc;
		struct pollfd pf = { .fd = fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT };
		if (poll(&pf, 1, 5000) != 1)
			return -1;
	}
}

static int do_handshake(SSL *ssl, void *buf, int len)
{
	(void)buf;
	(void)len;
	return SSL_do_handshake(ssl);
}

static void test_a_tls_session_over_the_bio(void **state)
{
	(void)state;
	snprintf(g_cert, sizeof(g_cert), "/tmp/strata-s3tls-%d.pem", (int)getpid());
	snprintf(g_key, sizeof(g_key), "/tmp/strata-s3tls-%d.key", (int)getpid());
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-days 2 -subj /CN=localhost -keyout %s -out %s 2>/dev/null",
		 g_key, g_cert);
	assert_int_equal(system(cmd), 0);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, g_cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, g_key, SSL_FILETYPE_PEM), 1);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	struct pair p;
	make_pair(&p, 1 << 20, 1 << 20);
	struct s3tls_io io = { .fd = p.srv };
	SSL *ssl = SSL_new(ctx);
	BIO *b = s3tls_bio_new(&io);
	SSL_set_bio(ssl, b, b);
	SSL_set_read_ahead(ssl, 1);
	SSL_set_accept_state(ssl);
	/* The reply: a head, then a 16 KiB body. */
	static char head[300], body[16384];
	memset(head, 'h', sizeof(head));
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = pattern(i);
	static struct tls_peer c;
	c = (struct tls_peer){ .fd = p.cli, .nreply = sizeof(head) + sizeof(body) };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, tls_client, &c), 0);
	assert_int_equal(srv_wait_call(ssl, p.srv, do_handshake, NULL, 0), 1);
	/* Both requests came in one TCP segment: the first read takes both
	 * records (read-ahead), the second is served from the session. */
	char req[64];
	assert_int_equal(srv_wait_call(ssl, p.srv, SSL_read, req, sizeof(req)), 8);
	assert_memory_equal(req, "GET /one", 8);
	assert_true(SSL_has_pending(ssl));
	assert_int_equal(SSL_read(ssl, req, sizeof(req)), 8);
	assert_memory_equal(req, "GET /two", 8);
	assert_false(SSL_has_pending(ssl));
	/* Head and body records, corked: one send, nothing left to flush. */
	g_count_fd = p.srv;
	g_sends = 0;
	s3tls_cork(&io, true);
	assert_int_equal(SSL_write(ssl, head, sizeof(head)), (int)sizeof(head));
	assert_int_equal(g_sends, 0);
	assert_int_equal(SSL_write(ssl, body, sizeof(body)), (int)sizeof(body));
	s3tls_cork(&io, false);
	assert_int_equal(s3tls_pending(&io), 0);
	assert_int_equal(s3tls_flush(&io), 1);
	assert_int_equal(g_sends, 1);
	g_count_fd = -1;
	pthread_join(t, NULL);
	assert_true(c.ok);
	assert_memory_equal(c.reply, head, sizeof(head));
	assert_memory_equal(c.reply + sizeof(head), body, sizeof(body));
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	s3tls_io_reset(&io);
	close_pair(&p);
	unlink(g_cert);
	unlink(g_key);
}

static void test_ktls_probe_agrees_with_the_kernel(void **state)
{
	(void)state;
	bool k = s3tls_kernel_ktls();
	/* (Read after the probe: a module it loaded is listed by then.) */
	char ulps[256] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	if (f) {
		if (!fgets(ulps, sizeof(ulps), f))
			ulps[0] = '\0';
		fclose(f);
	}
	print_message("kTLS: %s (ULPs: %s)\n", k ? "yes" : "no", ulps);
#if defined(OPENSSL_NO_KTLS)
	assert_false(k);
#else
	if (f)
		assert_int_equal(k, strstr(ulps, "tls") != NULL);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_head_rides_with_its_body_in_one_send),
		cmocka_unit_test(test_a_slow_reader_gets_every_byte),
		cmocka_unit_test(test_uncorked_writes_queue_behind_kept_bytes),
		cmocka_unit_test(test_reads_behave_like_a_socket),
		cmocka_unit_test(test_a_peer_that_left_is_an_error),
		cmocka_unit_test(test_out_of_memory_fails_the_write),
		cmocka_unit_test(test_a_tls_session_over_the_bio),
		cmocka_unit_test(test_ktls_probe_agrees_with_the_kernel),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
