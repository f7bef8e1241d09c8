/*
 * The Raft transport's mutual TLS (raft/net.c with opts.tls), on loopback
 * with certificates made by the openssl CLI at test time: two masters of
 * one CA exchange every message type and a snapshot larger than a TLS
 * record; strangers (plaintext, TLS without a certificate, a certificate
 * of another CA, a client that never finishes the handshake) are closed
 * before anything they send is decoded, and counted; a master whose peer
 * presents a certificate of another CA, or one that does not name the
 * peer's address, never connects; bad files are refused naming the file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/clock.h"
#include "raft/net.h"
#include "raft/wire.h"
#include "raft_msg_assert.h"

#define WAIT_MS 5000

static char g_dir[64];

/* ---- certificates ---- */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* <dir>/<name>.pem and .key, signed by CA <ca> (<dir>/<ca>.pem/.key). */
static void make_leaf(const char *name, const char *ca, const char *san)
{
	sh("cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	   "-subj /CN=%s -keyout %s.key -out %s.csr 2>/dev/null && "
	   "printf 'subjectAltName=%s\\n' > %s.ext && "
	   "openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -CAcreateserial -days 2 "
	   "-extfile %s.ext -out %s.pem 2>/dev/null",
	   g_dir, name, name, name, san, name, name, ca, ca, name, name);
}

static void make_ca(const char *name)
{
	sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	   "-days 2 -subj /CN=%s -keyout %s.key -out %s.pem 2>/dev/null",
	   g_dir, name, name, name);
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN); /* raft/net.h: TLS writes to a closed peer */
	snprintf(g_dir, sizeof(g_dir), "/tmp/raft-tls-XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	make_ca("ca");
	make_ca("other-ca");
	make_leaf("m1", "ca", "IP:127.0.0.1,IP:::1,DNS:localhost");
	make_leaf("m2", "ca", "IP:127.0.0.1,IP:::1,DNS:localhost");
	make_leaf("stranger", "other-ca", "IP:127.0.0.1");
	make_leaf("elsewhere", "ca", "DNS:elsewhere.example"); /* right CA, wrong name */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sh("rm -rf %s", g_dir);
	return 0;
}

struct files {
	char cert[128], key[128], ca[128];
};

static struct raft_net_tls tls_of(struct files *f, const char *name, const char *ca)
{
	snprintf(f->cert, sizeof(f->cert), "%s/%s.pem", g_dir, name);
	snprintf(f->key, sizeof(f->key), "%s/%s.key", g_dir, name);
	snprintf(f->ca, sizeof(f->ca), "%s/%s.pem", g_dir, ca);
	return (struct raft_net_tls){ f->cert, f->key, f->ca };
}

/* ---- transports (as in test_raft_net.c, with TLS) ---- */

struct node {
	uint64_t id;
	struct raft_net *net;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct raft_msg msgs[512];
	size_t n;
	char addr[64];
};

static void on_message(void *arg, const struct raft_msg *m)
{
	struct node *n = arg;
	pthread_mutex_lock(&n->mu);
	if (n->n < 512)
		assert_int_equal(raft_msg_clone(&n->msgs[n->n++], m), 0);
	pthread_cond_broadcast(&n->cv);
	pthread_mutex_unlock(&n->mu);
}

static void on_error(void *arg, const char *msg)
{
	(void)arg;
	if (getenv("RAFT_NET_TEST_VERBOSE"))
		fprintf(stderr, "  [net] %s\n", msg);
}

static size_t node_count(struct node *n)
{
	pthread_mutex_lock(&n->mu);
	size_t c = n->n;
	pthread_mutex_unlock(&n->mu);
	return c;
}

static bool node_wait(struct node *n, size_t want, int64_t ms)
{
	struct timespec ts;
	clock_mono_deadline(&ts, ms);
	pthread_mutex_lock(&n->mu);
	while (n->n < want)
		if (pthread_cond_timedwait(&n->cv, &n->mu, &ts))
			break;
	bool ok = n->n >= want;
	pthread_mutex_unlock(&n->mu);
	return ok;
}

static void node_start(struct node *n, uint64_t id, const char *cert, const char *ca)
{
	memset(n, 0, sizeof(*n));
	n->id = id;
	pthread_mutex_init(&n->mu, NULL);
	clock_mono_cond_init(&n->cv);
	struct files f;
	struct raft_net_options o = {
		.self_id = id,
		.bind_host = "127.0.0.1",
		.on_message = on_message,
		.on_error = on_error,
		.arg = n,
		.backoff_min_ms = 10,
		.backoff_max_ms = 100,
		.connect_timeout_ms = 400,
		.tls = tls_of(&f, cert, ca),
	};
	char err[256] = "";
	int rc = raft_net_start(&o, &n->net, err, sizeof(err));
	if (rc)
		fail_msg("raft_net_start: %s", err);
	snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%u", (unsigned)raft_net_port(n->net));
}

static void node_stop(struct node *n)
{
	raft_net_stop(n->net);
	for (size_t i = 0; i < n->n; i++)
		raft_msg_release(&n->msgs[i]);
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
}

static void peer_with(struct node *a, uint64_t id, const char *addr)
{
	struct raft_net_peer p = { id, addr };
	char err[256];
	assert_int_equal(raft_net_set_peers(a->net, &p, 1, err, sizeof(err)), 0);
}

static struct raft_net_peer_stats peer_stats(struct raft_net *net, uint64_t id)
{
	struct raft_net_stats st;
	raft_net_stats(net, &st);
	for (size_t i = 0; i < st.npeers; i++)
		if (st.peers[i].id == id)
			return st.peers[i];
	fail_msg("no peer %llu", (unsigned long long)id);
	return st.peers[0];
}

static uint64_t tls_refused(struct raft_net *net)
{
	struct raft_net_stats st;
	raft_net_stats(net, &st);
	return st.tls_refused;
}

static void sleep_ms(int64_t ms);

/* The server sends its alert before it counts the refusal: wait for it. */
static bool refused_reaches(struct raft_net *net, uint64_t want)
{
	int64_t end = clock_mono_ms() + WAIT_MS;
	while (tls_refused(net) < want && clock_mono_ms() < end)
		sleep_ms(5);
	return tls_refused(net) == want;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static bool wait_true(bool (*pred)(void *), void *arg, int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end) {
		if (pred(arg))
			return true;
		sleep_ms(5);
	}
	return false;
}

struct peer_ref {
	struct raft_net *net;
	uint64_t id;
	uint64_t min_failures;
};

static bool is_connected(void *arg)
{
	struct peer_ref *r = arg;
	return peer_stats(r->net, r->id).connected;
}

static bool has_failed(void *arg)
{
	struct peer_ref *r = arg;
	return peer_stats(r->net, r->id).connect_failures >= r->min_failures;
}

static void make_msg(uint64_t from, uint64_t to, uint64_t seq, struct raft_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = RAFT_MSG_VOTE;
	m->from = from;
	m->to = to;
	m->term = 1000 + seq;
	m->log_index = 5;
	m->log_term = 4;
	m->commit = seq;
}

/* ---- strangers ---- */

static int raw_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = { .tv_sec = 3 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* True once the transport closed the connection on its side. */
static bool raw_closed_by_peer(int fd)
{
	int64_t end = clock_mono_ms() + WAIT_MS;
	while (clock_mono_ms() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 50) > 0) {
			uint8_t buf[256];
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n == 0 || (n < 0 && errno == ECONNRESET))
				return true;
		}
	}
	return false;
}

/* A valid frame from "peer 1" with a huge term: decoded, it would be
 * delivered. */
static void frame_of(uint64_t to, uint8_t **frame, size_t *len)
{
	struct raft_msg m;
	make_msg(1, to, 99, &m);
	assert_int_equal(raft_wire_encode_alloc(&m, frame, len), 0);
}

/* A TLS client presenting `cert` (NULL: none) that sends a valid frame;
 * true when the transport cut it off (handshake refused or closed after). */
static bool tls_stranger_cut_off(uint16_t port, uint64_t to, const char *cert)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* it does not care who we are */
	if (cert) {
		struct files f;
		struct raft_net_tls t = tls_of(&f, cert, "ca");
		assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, t.cert_file), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, t.key_file, SSL_FILETYPE_PEM), 1);
	}
	int fd = raw_connect(port);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	bool cut = false;
	if (SSL_connect(ssl) != 1) {
		cut = true; /* refused during the handshake (TLS 1.2) */
	} else {
		uint8_t *frame;
		size_t len;
		frame_of(to, &frame, &len);
		(void)SSL_write(ssl, frame, (int)len);
		free(frame);
		uint8_t buf[64];
		int r = SSL_read(ssl, buf, sizeof(buf)); /* TLS 1.3: the alert comes here */
		cut = r <= 0 && SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ;
		if (r <= 0 && errno == EAGAIN)
			cut = false; /* timed out: still open */
	}
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return cut;
}

/* ---- tests ---- */

static void test_two_masters_exchange_over_tls(void **state)
{
	(void)state;
	struct node a, b;
	node_start(&a, 1, "m1", "ca");
	node_start(&b, 2, "m2", "ca");
	peer_with(&a, 2, b.addr);
	peer_with(&b, 1, a.addr);
	struct peer_ref ra = { a.net, 2, 0 }, rb = { b.net, 1, 0 };
	assert_true(wait_true(is_connected, &ra, WAIT_MS));
	assert_true(wait_true(is_connected, &rb, WAIT_MS));
	for (uint64_t s = 0; s < 200; s++) {
		struct raft_msg m;
		make_msg(1, 2, s, &m);
		assert_int_equal(raft_net_send(a.net, &m), 0);
		make_msg(2, 1, s, &m);
		assert_int_equal(raft_net_send(b.net, &m), 0);
	}
	/* a snapshot of many TLS records: partial writes and reads */
	struct raft_msg snap = { .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 3 };
	snap.snapshot.index = 10;
	snap.snapshot.term = 2;
	snap.snapshot.config = (struct raft_config){ .nvoters = 2, .voters = { 1, 2 } };
	snap.snapshot.len = 3u << 20;
	snap.snapshot.data = malloc(snap.snapshot.len);
	assert_non_null(snap.snapshot.data);
	for (size_t k = 0; k < snap.snapshot.len; k++)
		snap.snapshot.data[k] = (uint8_t)(k * 7);
	assert_int_equal(raft_net_send(a.net, &snap), 0);
	assert_true(node_wait(&b, 201, WAIT_MS));
	assert_true(node_wait(&a, 200, WAIT_MS));
	for (uint64_t s = 0; s < 200; s++) { /* in order, intact */
		struct raft_msg want;
		make_msg(1, 2, s, &want);
		assert_msg_equal(&want, &b.msgs[s]);
		make_msg(2, 1, s, &want);
		assert_msg_equal(&want, &a.msgs[s]);
	}
	assert_msg_equal(&snap, &b.msgs[200]);
	free(snap.snapshot.data);
	assert_int_equal(peer_stats(a.net, 2).connects, 1);
	assert_int_equal(peer_stats(a.net, 2).frames_dropped, 0);
	assert_true(refused_reaches(b.net, 0));
	node_stop(&a);
	node_stop(&b);
}

static void test_strangers_are_refused(void **state)
{
	(void)state;
	struct node a, b;
	node_start(&a, 1, "m1", "ca");
	node_start(&b, 2, "m2", "ca");
	peer_with(&a, 2, b.addr);
	uint16_t port = raft_net_port(b.net);
	struct peer_ref ra = { a.net, 2, 0 };
	assert_true(wait_true(is_connected, &ra, WAIT_MS));

	/* 1. plaintext: a valid frame, as the plaintext transport would decode */
	uint8_t *frame;
	size_t len;
	frame_of(2, &frame, &len);
	int fd = raw_connect(port);
	assert_int_equal(send(fd, frame, len, MSG_NOSIGNAL), (ssize_t)len);
	free(frame);
	assert_true(raw_closed_by_peer(fd));
	close(fd);
	assert_true(refused_reaches(b.net, 1));
	/* 2. TLS without a certificate, 3. with one of another CA */
	assert_true(tls_stranger_cut_off(port, 2, NULL));
	assert_true(refused_reaches(b.net, 2));
	assert_true(tls_stranger_cut_off(port, 2, "stranger"));
	assert_true(refused_reaches(b.net, 3));
	/* 4. a client that starts and never finishes: closed at the deadline
	 * (connect_timeout_ms, 400 ms here) */
	fd = raw_connect(port);
	int64_t t0 = clock_mono_ms();
	assert_true(raw_closed_by_peer(fd));
	assert_true(clock_mono_ms() - t0 < 2000);
	close(fd);
	assert_true(refused_reaches(b.net, 4));
	/* none of it reached Raft; the real peer still gets through */
	assert_int_equal(node_count(&b), 0);
	struct raft_msg m;
	make_msg(1, 2, 7, &m);
	assert_int_equal(raft_net_send(a.net, &m), 0);
	assert_true(node_wait(&b, 1, WAIT_MS));
	assert_msg_equal(&m, &b.msgs[0]);
	assert_int_equal(node_count(&b), 1);
	struct raft_net_stats st;
	raft_net_stats(b.net, &st);
	assert_int_equal(st.decode_errors, 0);
	node_stop(&a);
	node_stop(&b);
}

/* A master of another CA, and one whose certificate does not name the
 * address it is reached at, never connect either way. */
static void test_wrong_ca_and_wrong_name_peers(void **state)
{
	(void)state;
	struct node a, s, e, x;
	node_start(&a, 1, "m1", "ca");
	node_start(&s, 2, "stranger", "other-ca"); /* trusts only its own CA */
	node_start(&e, 3, "elsewhere", "ca");
	node_start(&x, 4, "stranger", "ca"); /* trusts a, but a does not trust it */
	struct raft_net_peer ps[2] = { { 2, s.addr }, { 3, e.addr } };
	char err[256];
	assert_int_equal(raft_net_set_peers(a.net, ps, 2, err, sizeof(err)), 0);
	peer_with(&s, 1, a.addr);
	peer_with(&x, 1, a.addr);
	struct peer_ref r2 = { a.net, 2, 2 }, r3 = { a.net, 3, 2 }, rs = { s.net, 1, 2 };
	struct peer_ref rx = { x.net, 1, 2 };
	assert_true(wait_true(has_failed, &r2, WAIT_MS)); /* a refuses s's certificate */
	assert_true(wait_true(has_failed, &r3, WAIT_MS)); /* e's names another host */
	assert_true(wait_true(has_failed, &rs, WAIT_MS)); /* s refuses a's */
	/* x's handshake may complete on its side (TLS 1.3: the server judges
	 * the client's certificate last); a's alert then ends the connection */
	assert_true(wait_true(has_failed, &rx, WAIT_MS));
	struct raft_msg m;
	make_msg(2, 1, 1, &m);
	(void)raft_net_send(s.net, &m);
	make_msg(4, 1, 2, &m);
	(void)raft_net_send(x.net, &m);
	sleep_ms(200);
	assert_int_equal(node_count(&a), 0);
	assert_int_equal(node_count(&s), 0);
	assert_int_equal(node_count(&e), 0);
	assert_false(peer_stats(a.net, 2).connected);
	assert_false(peer_stats(a.net, 3).connected);
	assert_true(tls_refused(a.net) >= 1);
	node_stop(&a);
	node_stop(&s);
	node_stop(&e);
	node_stop(&x);
}

/* A peer that accepts TCP and never answers the ClientHello: the
 * handshake fails at the connect deadline and is retried. */
static void test_stalled_server_handshake_times_out(void **state)
{
	(void)state;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 8), 0); /* the kernel accepts; nobody reads */
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	struct node a;
	node_start(&a, 1, "m1", "ca");
	int64_t t0 = clock_mono_ms();
	peer_with(&a, 2, addr);
	struct peer_ref r = { a.net, 2, 1 };
	assert_true(wait_true(has_failed, &r, WAIT_MS));
	assert_true(clock_mono_ms() - t0 >= 350); /* the 400 ms deadline, not at once */
	assert_int_equal(peer_stats(a.net, 2).connects, 0);
	node_stop(&a);
	close(lfd);
}

static void test_bad_files_are_named(void **state)
{
	(void)state;
	struct files f;
	char err[512] = "";
	struct raft_net_tls t = tls_of(&f, "m1", "ca");
	assert_int_equal(raft_net_tls_check(&t, err, sizeof(err)), 0);
	struct raft_net_tls none = { 0 };
	assert_int_equal(raft_net_tls_check(&none, err, sizeof(err)), 0); /* plaintext */

	char missing[160];
	snprintf(missing, sizeof(missing), "%s/none.pem", g_dir);
	t = tls_of(&f, "m1", "ca");
	t.cert_file = missing;
	assert_int_equal(raft_net_tls_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "none.pem"));
	t = tls_of(&f, "m1", "ca");
	char other_key[160];
	snprintf(other_key, sizeof(other_key), "%s/m2.key", g_dir);
	t.key_file = other_key;
	assert_int_equal(raft_net_tls_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "m2.key")); /* OpenSSL: "key values mismatch" */
	t = tls_of(&f, "m1", "ca");
	t.key_file = t.cert_file; /* a certificate is no key */
	assert_int_equal(raft_net_tls_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "private key"));
	t = tls_of(&f, "m1", "ca");
	t.ca_file = missing;
	assert_int_equal(raft_net_tls_check(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "CA file"));
	t = tls_of(&f, "m1", "ca");
	t.ca_file = "";
	assert_int_equal(raft_net_tls_check(&t, err, sizeof(err)), -EINVAL);

	/* raft_net_start refuses the same, with nothing started */
	struct node n = { 0 };
	t = tls_of(&f, "m1", "ca");
	t.cert_file = missing;
	struct raft_net_options o = { .self_id = 1, .bind_host = "127.0.0.1",
				      .on_message = on_message, .arg = &n, .tls = t };
	struct raft_net *net = NULL;
	assert_int_equal(raft_net_start(&o, &net, err, sizeof(err)), -EINVAL);
	assert_null(net);
	assert_non_null(strstr(err, "none.pem"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_masters_exchange_over_tls),
		cmocka_unit_test(test_strangers_are_refused),
		cmocka_unit_test(test_wrong_ca_and_wrong_name_peers),
		cmocka_unit_test(test_stalled_server_handshake_times_out),
		cmocka_unit_test(test_bad_files_are_named),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
