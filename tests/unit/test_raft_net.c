/*
 * The Raft TCP transport (raft/net.c) on loopback, with ephemeral ports:
 * two and three transports exchange every message type in order; a peer
 * that is down is dropped-and-counted, then reconnected once it is up;
 * a raw socket writing garbage is cut off and counted while the others
 * go on; an 8 MiB snapshot gets through; IPv6 loopback; stop with
 * unreachable peers is prompt; membership changes; and three real Raft
 * cores elect a leader and commit over the transports.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "lib/crc32c.h"
#include "raft/format.h"
#include "raft/net.h"
#include "raft_msg_assert.h"
#include "raft/wire.h"

#define WAIT_MS 5000

/* ---- what a transport delivered, collected for the test thread ---- */

struct inbox {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct raft_msg *msgs;
	size_t n, cap;
	size_t nerrors;
};

static void inbox_init(struct inbox *in)
{
	memset(in, 0, sizeof(*in));
	pthread_mutex_init(&in->mu, NULL);
	clock_mono_cond_init(&in->cv);
}

static void inbox_clear(struct inbox *in)
{
	pthread_mutex_lock(&in->mu);
	for (size_t i = 0; i < in->n; i++)
		raft_msg_release(&in->msgs[i]);
	in->n = 0;
	pthread_mutex_unlock(&in->mu);
}

static void inbox_free(struct inbox *in)
{
	inbox_clear(in);
	free(in->msgs);
	pthread_cond_destroy(&in->cv);
	pthread_mutex_destroy(&in->mu);
}

static void on_message(void *arg, const struct raft_msg *m)
{
	struct inbox *in = arg;
	pthread_mutex_lock(&in->mu);
	if (in->n == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 64;
		struct raft_msg *msgs = realloc(in->msgs, cap * sizeof(*msgs));
		assert_non_null(msgs);
		in->msgs = msgs;
		in->cap = cap;
	}
	assert_int_equal(raft_msg_clone(&in->msgs[in->n], m), 0);
	in->n++;
	pthread_cond_broadcast(&in->cv);
	pthread_mutex_unlock(&in->mu);
}

static void on_error(void *arg, const char *msg)
{
	struct inbox *in = arg;
	pthread_mutex_lock(&in->mu);
	in->nerrors++;
	pthread_mutex_unlock(&in->mu);
	if (getenv("RAFT_NET_TEST_VERBOSE"))
		fprintf(stderr, "  [net] %s\n", msg);
}

/* Waits until the inbox holds at least n messages. */
static bool inbox_wait(struct inbox *in, size_t n, int64_t ms)
{
	struct timespec ts;
	clock_mono_deadline(&ts, ms);
	pthread_mutex_lock(&in->mu);
	while (in->n < n)
		if (pthread_cond_timedwait(&in->cv, &in->mu, &ts))
			break;
	bool ok = in->n >= n;
	pthread_mutex_unlock(&in->mu);
	return ok;
}

/* ---- transports ---- */

struct node {
	uint64_t id;
	struct raft_net *net;
	struct inbox in;
	char addr[64];
};

static int node_start(struct node *n, uint64_t id, const char *bind_host, uint16_t port,
		      const struct raft_net_options *extra)
{
	memset(n, 0, sizeof(*n));
	n->id = id;
	inbox_init(&n->in);
	struct raft_net_options o = extra ? *extra : (struct raft_net_options){ 0 };
	o.self_id = id;
	o.bind_host = bind_host;
	o.port = port;
	o.on_message = on_message;
	o.on_error = on_error;
	o.arg = &n->in;
	if (!o.backoff_max_ms)
		o.backoff_max_ms = 200;
	if (!o.backoff_min_ms)
		o.backoff_min_ms = 10;
	char err[256] = "";
	int rc = raft_net_start(&o, &n->net, err, sizeof(err));
	if (rc) {
		inbox_free(&n->in);
		return rc;
	}
	bool v6 = strchr(bind_host, ':') != NULL;
	snprintf(n->addr, sizeof(n->addr), v6 ? "[::1]:%u" : "127.0.0.1:%u",
		 (unsigned)raft_net_port(n->net));
	return 0;
}

static void node_stop(struct node *n)
{
	raft_net_stop(n->net);
	n->net = NULL;
	inbox_free(&n->in);
}

/* Every node peers with every other. */
static void mesh(struct node *nodes, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct raft_net_peer peers[8];
		size_t np = 0;
		for (size_t j = 0; j < count; j++)
			if (j != i)
				peers[np++] = (struct raft_net_peer){ nodes[j].id, nodes[j].addr };
		char err[256] = "";
		assert_int_equal(raft_net_set_peers(nodes[i].net, peers, np, err, sizeof(err)), 0);
	}
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

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static bool wait_connected(struct raft_net *net, uint64_t id, int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end) {
		if (peer_stats(net, id).connected)
			return true;
		sleep_ms(5);
	}
	return false;
}

static void wait_mesh(struct node *nodes, size_t count)
{
	for (size_t i = 0; i < count; i++)
		for (size_t j = 0; j < count; j++)
			if (i != j)
				assert_true(wait_connected(nodes[i].net, nodes[j].id, WAIT_MS));
}

/* A port nobody listens on (just released; good enough on loopback). */
static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* ---- messages ---- */

#define NSAMPLES 10

/* Sample i: every type, with seq in `commit` to check ordering. */
static void make_sample(size_t i, uint64_t from, uint64_t to, uint64_t seq, struct raft_msg *m)
{
	static const enum raft_msg_type types[NSAMPLES] = {
		RAFT_MSG_PREVOTE,    RAFT_MSG_PREVOTE_RESP, RAFT_MSG_VOTE,	  RAFT_MSG_VOTE_RESP,
		RAFT_MSG_APPEND,     RAFT_MSG_APPEND,	    RAFT_MSG_APPEND_RESP, RAFT_MSG_APPEND_RESP,
		RAFT_MSG_SNAPSHOT,   RAFT_MSG_TIMEOUT_NOW,
	};
	memset(m, 0, sizeof(*m));
	m->type = types[i % NSAMPLES];
	m->from = from;
	m->to = to;
	m->term = 7 + i;
	m->log_index = 100 + i;
	m->log_term = 6;
	m->commit = seq;
	m->read_seq = 40 + i;
	m->hint_index = 50 + i;
	m->hint_term = 3;
	m->reject = i & 1;
	m->force = i == 2;
	if (i % NSAMPLES == 5) {
		m->nentries = 4;
		m->entries = calloc(m->nentries, sizeof(*m->entries));
		assert_non_null(m->entries);
		for (size_t k = 0; k < m->nentries; k++) {
			struct raft_entry *e = &m->entries[k];
			e->term = 6;
			e->index = m->log_index + 1 + k;
			e->type = k == 0 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_NORMAL;
			e->len = k == 0 ? 0 : 100 * k + i;
			if (e->len) {
				e->data = malloc(e->len);
				assert_non_null(e->data);
				memset(e->data, (int)(k + seq), e->len);
			}
		}
	}
	if (i % NSAMPLES == 8) {
		m->snapshot.index = 99;
		m->snapshot.term = 5;
		m->snapshot.config = (struct raft_config){ .nvoters = 3, .voters = { 1, 2, 3 } };
		m->snapshot.len = 3000;
		m->snapshot.data = malloc(m->snapshot.len);
		assert_non_null(m->snapshot.data);
		for (size_t k = 0; k < m->snapshot.len; k++)
			m->snapshot.data[k] = (uint8_t)(k ^ seq);
	}
}

/* ---- tests ---- */

static void test_two_nodes_every_type(void **state)
{
	struct node nodes[2];
	assert_int_equal(node_start(&nodes[0], 1, "127.0.0.1", 0, NULL), 0);
	assert_int_equal(node_start(&nodes[1], 2, "127.0.0.1", 0, NULL), 0);
	mesh(nodes, 2);
	wait_mesh(nodes, 2);

	const size_t rounds = 30, total = rounds * NSAMPLES;
	for (size_t s = 0; s < total; s++) {
		struct raft_msg m;
		make_sample(s % NSAMPLES, 1, 2, s, &m);
		assert_int_equal(raft_net_send(nodes[0].net, &m), 0);
		raft_msg_release(&m);
		make_sample(s % NSAMPLES, 2, 1, s, &m);
		assert_int_equal(raft_net_send(nodes[1].net, &m), 0);
		raft_msg_release(&m);
	}
	for (size_t k = 0; k < 2; k++) {
		struct node *rx = &nodes[k];
		uint64_t from = nodes[1 - k].id;
		assert_true(inbox_wait(&rx->in, total, WAIT_MS));
		sleep_ms(20); /* nothing more (no duplicates) arrives */
		assert_int_equal(rx->in.n, total);
		for (size_t s = 0; s < total; s++) { /* exactly what was sent, in order */
			struct raft_msg want;
			make_sample(s % NSAMPLES, from, rx->id, s, &want);
			assert_msg_equal(&want, &rx->in.msgs[s]);
			raft_msg_release(&want);
		}
		struct raft_net_peer_stats ps = peer_stats(rx->net, from);
		assert_int_equal(ps.frames_received, total);
		assert_int_equal(ps.decode_errors, 0);
		struct raft_net_peer_stats tx = peer_stats(nodes[1 - k].net, rx->id);
		assert_int_equal(tx.frames_sent, total);
		assert_int_equal(tx.frames_dropped, 0);
		assert_int_equal(tx.bytes_sent, ps.bytes_received);
		assert_int_equal(tx.connects, 1);
		assert_int_equal(tx.queued_bytes, 0);
	}
	node_stop(&nodes[0]);
	node_stop(&nodes[1]);
}

static void test_three_nodes_order_per_peer(void **state)
{
	struct node nodes[3];
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(node_start(&nodes[i], 10 + i, "127.0.0.1", 0, NULL), 0);
	mesh(nodes, 3);
	wait_mesh(nodes, 3);
	const size_t per_pair = 400;
	for (size_t s = 0; s < per_pair; s++)
		for (size_t i = 0; i < 3; i++)
			for (size_t j = 0; j < 3; j++) {
				if (i == j)
					continue;
				struct raft_msg m;
				make_sample(s % NSAMPLES, nodes[i].id, nodes[j].id, s, &m);
				assert_int_equal(raft_net_send(nodes[i].net, &m), 0);
				raft_msg_release(&m);
			}
	for (size_t j = 0; j < 3; j++) {
		assert_true(inbox_wait(&nodes[j].in, 2 * per_pair, WAIT_MS));
		uint64_t next[3] = { 0 };
		for (size_t k = 0; k < nodes[j].in.n; k++) {
			const struct raft_msg *m = &nodes[j].in.msgs[k];
			size_t from = (size_t)(m->from - 10);
			assert_true(from < 3 && from != j);
			assert_int_equal(m->commit, next[from]); /* no loss, no reordering */
			struct raft_msg want;
			make_sample(next[from] % NSAMPLES, m->from, nodes[j].id, next[from], &want);
			assert_msg_equal(&want, m);
			raft_msg_release(&want);
			next[from]++;
		}
		for (size_t i = 0; i < 3; i++)
			assert_int_equal(next[i], i == j ? 0 : per_pair);
	}
	for (size_t i = 0; i < 3; i++)
		node_stop(&nodes[i]);
}

static void test_down_peer_dropped_then_reconnected(void **state)
{
	uint16_t port = free_port();
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
	struct raft_net_peer peer = { 2, addr };
	struct raft_net_options o = { .peers = &peer, .npeers = 1, .backoff_min_ms = 20,
				      .backoff_max_ms = 300 };
	struct node a, b;
	assert_int_equal(node_start(&a, 1, "127.0.0.1", 0, &o), 0);

	int64_t end = clock_mono_ms() + WAIT_MS;
	while (peer_stats(a.net, 2).connect_failures < 3 && clock_mono_ms() < end)
		sleep_ms(5);
	assert_true(peer_stats(a.net, 2).connect_failures >= 3);
	assert_int_equal(a.in.nerrors, 1); /* a run of failures is logged once */

	/* sends while down never block and are dropped and counted */
	int64_t t0 = clock_mono_ms();
	for (uint64_t s = 0; s < 50; s++) {
		struct raft_msg m;
		make_sample(s % NSAMPLES, 1, 2, s, &m);
		int rc = raft_net_send(a.net, &m);
		assert_true(rc == 0 || rc == -ENOTCONN); /* 0: queued while a retry connects */
		raft_msg_release(&m);
	}
	assert_true(clock_mono_ms() - t0 < 500);
	end = clock_mono_ms() + WAIT_MS;
	while ((peer_stats(a.net, 2).frames_dropped < 50 || peer_stats(a.net, 2).queued_bytes) &&
	       clock_mono_ms() < end)
		sleep_ms(5);
	struct raft_net_peer_stats ps = peer_stats(a.net, 2);
	assert_int_equal(ps.frames_dropped, 50);
	assert_int_equal(ps.frames_sent, 0);
	assert_int_equal(ps.connects, 0);

	/* the peer comes up on that port: reconnected within the backoff cap */
	assert_int_equal(node_start(&b, 2, "127.0.0.1", port, NULL), 0);
	t0 = clock_mono_ms();
	assert_true(wait_connected(a.net, 2, WAIT_MS));
	assert_true(clock_mono_ms() - t0 < 1000); /* the backoff cap is 300 ms */
	struct raft_msg m;
	make_sample(4, 1, 2, 77, &m);
	assert_int_equal(raft_net_send(a.net, &m), 0);
	assert_true(inbox_wait(&b.in, 1, WAIT_MS));
	assert_msg_equal(&m, &b.in.msgs[0]);
	raft_msg_release(&m);
	assert_int_equal(b.in.n, 1); /* the dropped ones never show up */

	/* and it goes down again: the loss is noticed, then the comeback */
	uint64_t failures = peer_stats(a.net, 2).connect_failures;
	node_stop(&b);
	end = clock_mono_ms() + WAIT_MS;
	while (peer_stats(a.net, 2).connect_failures == failures && clock_mono_ms() < end)
		sleep_ms(5);
	assert_false(peer_stats(a.net, 2).connected);
	assert_int_equal(node_start(&b, 2, "127.0.0.1", port, NULL), 0);
	assert_true(wait_connected(a.net, 2, WAIT_MS));
	assert_int_equal(peer_stats(a.net, 2).connects, 2);
	make_sample(9, 1, 2, 78, &m);
	assert_int_equal(raft_net_send(a.net, &m), 0);
	assert_true(inbox_wait(&b.in, 1, WAIT_MS));
	assert_msg_equal(&m, &b.in.msgs[0]);
	raft_msg_release(&m);
	node_stop(&b);
	node_stop(&a);
}

static int raw_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* True once the transport closed the connection on its side. */
static bool raw_closed_by_peer(int fd)
{
	int64_t end = clock_mono_ms() + WAIT_MS;
	while (clock_mono_ms() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 50) > 0) {
			uint8_t buf[64];
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n == 0 || (n < 0 && errno == ECONNRESET))
				return true;
		}
	}
	return false;
}

static void raw_write(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) /* the transport may already have cut us off */
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void send_and_expect(struct node *from, struct node *to, uint64_t seq)
{
	size_t before = to->in.n;
	struct raft_msg m;
	make_sample(seq % NSAMPLES, from->id, to->id, seq, &m);
	assert_int_equal(raft_net_send(from->net, &m), 0);
	assert_true(inbox_wait(&to->in, before + 1, WAIT_MS));
	assert_msg_equal(&m, &to->in.msgs[before]);
	raft_msg_release(&m);
}

static void test_garbage_sender_cut_off(void **state)
{
	struct node a, b;
	assert_int_equal(node_start(&a, 1, "127.0.0.1", 0, NULL), 0);
	assert_int_equal(node_start(&b, 2, "127.0.0.1", 0, NULL), 0);
	struct node pair[2] = { a, b };
	mesh(pair, 2);
	assert_true(wait_connected(a.net, 2, WAIT_MS));
	uint16_t port = raft_net_port(b.net);
	send_and_expect(&a, &b, 1);

	/* 1. random bytes from a stranger */
	srand(42);
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	int fd = raw_connect(port);
	raw_write(fd, junk, sizeof(junk));
	assert_true(raw_closed_by_peer(fd));
	close(fd);
	struct raft_net_stats st;
	raft_net_stats(b.net, &st);
	assert_int_equal(st.decode_errors, 1);
	assert_int_equal(peer_stats(b.net, 1).decode_errors, 0); /* nobody named */
	send_and_expect(&a, &b, 2);

	/* 2. a good frame claiming to be peer 1, then a corrupted one */
	struct raft_msg m;
	uint8_t *frame = NULL;
	size_t len = 0;
	make_sample(5, 1, 2, 500, &m);
	assert_int_equal(raft_wire_encode_alloc(&m, &frame, &len), 0);
	fd = raw_connect(port);
	raw_write(fd, frame, len);
	frame[len / 2] ^= 0x40;
	raw_write(fd, frame, len);
	assert_true(raw_closed_by_peer(fd));
	close(fd);
	size_t n = b.in.n;
	assert_true(n >= 3);
	assert_msg_equal(&m, &b.in.msgs[n - 1]); /* the good one was delivered */
	raft_net_stats(b.net, &st);
	assert_int_equal(st.decode_errors, 2);
	assert_int_equal(peer_stats(b.net, 1).decode_errors, 1);
	raft_msg_release(&m);
	free(frame);

	/* 3. a frame for someone else is ignored, the connection stays */
	make_sample(0, 1, 3, 600, &m);
	assert_int_equal(raft_wire_encode_alloc(&m, &frame, &len), 0);
	raft_msg_release(&m);
	fd = raw_connect(port);
	raw_write(fd, frame, len);
	free(frame);
	make_sample(0, 1, 2, 601, &m);
	assert_int_equal(raft_wire_encode_alloc(&m, &frame, &len), 0);
	raw_write(fd, frame, len);
	assert_true(inbox_wait(&b.in, n + 1, WAIT_MS));
	assert_msg_equal(&m, &b.in.msgs[n]);
	raft_msg_release(&m);
	free(frame);
	raft_net_stats(b.net, &st);
	assert_int_equal(st.misaddressed, 1);
	assert_int_equal(st.decode_errors, 2);

	/* 4. a sound header promising a 512 MiB body, then the sender leaves:
	 * the buffer grows only with what arrives, nothing is delivered, and a
	 * short read at close is not a decode error */
	make_sample(0, 1, 2, 700, &m);
	uint8_t hdr[RAFT_WIRE_OVERHEAD];
	assert_int_equal(raft_wire_encode(&m, hdr, sizeof(hdr), &len), 0);
	raft_msg_release(&m);
	hdr[5] = RAFT_MSG_SNAPSHOT;
	raft_put_le32(hdr + 8, 512u << 20);
	raft_put_le32(hdr + 88, crc32c(0, hdr, 88));
	size_t fl = 0;
	assert_int_equal(raft_wire_peek(hdr, RAFT_WIRE_HEADER_SIZE, &fl, NULL, NULL, NULL, 0), 0);
	assert_int_equal(fl, RAFT_WIRE_OVERHEAD + (512u << 20));
	raw_write(fd, hdr, RAFT_WIRE_HEADER_SIZE);
	raw_write(fd, junk, sizeof(junk)); /* the start of the "body" */
	sleep_ms(50);
	close(fd);
	sleep_ms(50);
	raft_net_stats(b.net, &st);
	assert_int_equal(st.decode_errors, 2);
	assert_int_equal(b.in.n, n + 1);

	/* the transport still serves its peers, both ways */
	send_and_expect(&a, &b, 3);
	send_and_expect(&b, &a, 4);
	raft_net_stats(b.net, &st);
	assert_true(st.accepted >= 4);
	node_stop(&a);
	node_stop(&b);
}

/* master.raft.max_frame and master.raft.frame_timeout: a header that
 * announces more than max_frame closes its connection at once (counted as
 * a decode error, nothing delivered); a frame that is not whole within
 * frame_timeout_ms of its first byte closes it too (frame_timeouts); a
 * frame at the limit, and an idle connection between frames, are fine. */
static void test_frame_limits(void **state)
{
	(void)state;
	struct raft_net_options lim = { .max_frame = 4096, .frame_timeout_ms = 300 };
	struct node a, b;
	assert_int_equal(node_start(&a, 1, "127.0.0.1", 0, NULL), 0);
	assert_int_equal(node_start(&b, 2, "127.0.0.1", 0, &lim), 0);
	struct node pair[2] = { a, b };
	mesh(pair, 2);
	assert_true(wait_connected(a.net, 2, WAIT_MS));
	uint16_t port = raft_net_port(b.net);

	/* 1. a sound header announcing a body above max_frame */
	struct raft_msg m;
	size_t len = 0;
	make_sample(0, 1, 2, 800, &m);
	uint8_t hdr[RAFT_WIRE_OVERHEAD];
	assert_int_equal(raft_wire_encode(&m, hdr, sizeof(hdr), &len), 0);
	raft_msg_release(&m);
	hdr[5] = RAFT_MSG_SNAPSHOT;
	raft_put_le32(hdr + 8, 4097 + RAFT_WIRE_SNAPSHOT_HEADER_SIZE);
	raft_put_le32(hdr + 88, crc32c(0, hdr, 88));
	int fd = raw_connect(port);
	raw_write(fd, hdr, RAFT_WIRE_HEADER_SIZE);
	assert_true(raw_closed_by_peer(fd));
	close(fd);
	struct raft_net_stats st;
	raft_net_stats(b.net, &st);
	assert_int_equal(st.decode_errors, 1);
	assert_int_equal(st.frame_timeouts, 0);

	/* 2. half a header, then nothing: closed after frame_timeout_ms */
	fd = raw_connect(port);
	raw_write(fd, hdr, 10);
	int64_t t0 = clock_mono_ms();
	assert_true(raw_closed_by_peer(fd));
	int64_t took = clock_mono_ms() - t0;
	close(fd);
	assert_true(took >= 250);
	assert_true(took < 3000);
	raft_net_stats(b.net, &st);
	assert_int_equal(st.frame_timeouts, 1);

	/* 3. a good frame, a pause longer than the timeout with nothing
	 * pending, then another good frame on the same connection */
	uint8_t *frame = NULL;
	make_sample(2, 1, 2, 900, &m);
	assert_int_equal(raft_wire_encode_alloc(&m, &frame, &len), 0);
	raft_msg_release(&m);
	size_t n = b.in.n;
	fd = raw_connect(port);
	raw_write(fd, frame, len);
	assert_true(inbox_wait(&b.in, n + 1, WAIT_MS));
	sleep_ms(500);
	raw_write(fd, frame, len);
	assert_true(inbox_wait(&b.in, n + 2, WAIT_MS));
	free(frame);
	close(fd);
	raft_net_stats(b.net, &st);
	assert_int_equal(st.frame_timeouts, 1);
	assert_int_equal(st.decode_errors, 1);

	/* the transport still serves its peers */
	send_and_expect(&a, &b, 5);
	send_and_expect(&b, &a, 6);
	node_stop(&a);
	node_stop(&b);
}

static void test_large_snapshot_and_queue_limit(void **state)
{
	struct node a, b;
	struct raft_net_options o = { .max_queued_bytes = 16u << 20 };
	assert_int_equal(node_start(&a, 1, "127.0.0.1", 0, &o), 0);
	assert_int_equal(node_start(&b, 2, "127.0.0.1", 0, NULL), 0);
	struct node pair[2] = { a, b };
	mesh(pair, 2);
	assert_true(wait_connected(a.net, 2, WAIT_MS));

	struct raft_msg m;
	make_sample(8, 1, 2, 1, &m);
	free(m.snapshot.data);
	m.snapshot.len = 8u << 20;
	m.snapshot.data = malloc(m.snapshot.len);
	assert_non_null(m.snapshot.data);
	for (size_t i = 0; i < m.snapshot.len; i++)
		m.snapshot.data[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(raft_net_send(a.net, &m), 0);
	/* a heartbeat after it arrives after it */
	struct raft_msg hb;
	make_sample(4, 1, 2, 2, &hb);
	assert_int_equal(raft_net_send(a.net, &hb), 0);
	assert_true(inbox_wait(&b.in, 2, 15000));
	assert_msg_equal(&m, &b.in.msgs[0]);
	assert_msg_equal(&hb, &b.in.msgs[1]);

	/* over the queue limit: dropped and counted, not queued */
	m.snapshot.len = 17u << 20;
	m.snapshot.data = realloc(m.snapshot.data, m.snapshot.len);
	assert_non_null(m.snapshot.data);
	assert_int_equal(raft_net_send(a.net, &m), -ENOBUFS);
	struct raft_net_peer_stats ps = peer_stats(a.net, 2);
	assert_int_equal(ps.frames_dropped, 1);
	assert_int_equal(ps.frames_sent, 2);
	/* not a peer, or not from us */
	hb.to = 9;
	assert_int_equal(raft_net_send(a.net, &hb), -ENOENT);
	hb.to = 2;
	hb.from = 3;
	assert_int_equal(raft_net_send(a.net, &hb), -EINVAL);
	struct raft_net_stats st;
	raft_net_stats(a.net, &st);
	assert_int_equal(st.frames_dropped, 2);
	raft_msg_release(&m);
	raft_msg_release(&hb);
	node_stop(&a);
	node_stop(&b);
}

static bool ipv6_loopback_works(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void test_ipv6_loopback(void **state)
{
	/* A machine without IPv6 loopback fails here rather than skipping:
	 * the IPv6 support is part of what the test run checks. */
	if (!ipv6_loopback_works())
		fail_msg("cannot bind [::1]: IPv6 loopback is missing on this machine");
	struct node nodes[2];
	assert_int_equal(node_start(&nodes[0], 1, "[::1]", 0, NULL), 0);
	assert_int_equal(node_start(&nodes[1], 2, "::1", 0, NULL), 0);
	assert_non_null(strstr(nodes[0].addr, "[::1]:"));
	mesh(nodes, 2);
	wait_mesh(nodes, 2);
	for (uint64_t s = 0; s < NSAMPLES; s++)
		send_and_expect(&nodes[0], &nodes[1], s);
	send_and_expect(&nodes[1], &nodes[0], 1);
	node_stop(&nodes[0]);
	node_stop(&nodes[1]);
}

static void test_stop_with_unreachable_peers_is_prompt(void **state)
{
	char refused[64];
	snprintf(refused, sizeof(refused), "127.0.0.1:%u", (unsigned)free_port());
	struct raft_net_peer peers[] = {
		{ 2, refused },
		{ 3, "192.0.2.1:19200" }, /* TEST-NET-1: never answers (or unreachable) */
		{ 4, "[100::1]:19200" },  /* IPv6 discard prefix */
	};
	struct raft_net_options o = { .peers = peers, .npeers = 3,
				      .connect_timeout_ms = 10000 };
	struct node a;
	assert_int_equal(node_start(&a, 1, "127.0.0.1", 0, &o), 0);
	sleep_ms(100);
	for (uint64_t s = 0; s < 30; s++) {
		struct raft_msg m;
		make_sample(s % NSAMPLES, 1, 2 + s % 3, s, &m);
		int rc = raft_net_send(a.net, &m);
		assert_true(rc == 0 || rc == -ENOTCONN);
		raft_msg_release(&m);
	}
	int64_t t0 = clock_mono_ms();
	node_stop(&a);
	assert_true(clock_mono_ms() - t0 < 500);
}

static void test_set_peers_and_bad_options(void **state)
{
	struct node a, b, c;
	assert_int_equal(node_start(&a, 1, "127.0.0.1", 0, NULL), 0);
	assert_int_equal(node_start(&b, 2, "127.0.0.1", 0, NULL), 0);
	assert_int_equal(node_start(&c, 3, "127.0.0.1", 0, NULL), 0);
	char err[256] = "";
	struct raft_net_peer p2 = { 2, b.addr }, p3 = { 3, c.addr };
	assert_int_equal(raft_net_set_peers(a.net, &p2, 1, err, sizeof(err)), 0);
	assert_true(wait_connected(a.net, 2, WAIT_MS));
	send_and_expect(&a, &b, 1);

	/* adding 3 keeps the connection to 2 */
	struct raft_net_peer both[] = { p3, p2 };
	assert_int_equal(raft_net_set_peers(a.net, both, 2, err, sizeof(err)), 0);
	assert_true(wait_connected(a.net, 3, WAIT_MS));
	struct raft_net_stats st;
	raft_net_stats(a.net, &st);
	assert_int_equal(st.npeers, 2);
	assert_int_equal(st.peers[0].id, 3); /* in set order */
	assert_int_equal(st.peers[1].id, 2);
	assert_int_equal(st.peers[1].connects, 1);
	assert_int_equal(st.peers[1].frames_sent, 1);
	send_and_expect(&a, &c, 2);
	send_and_expect(&a, &b, 3);

	/* removing 2 forgets it */
	assert_int_equal(raft_net_set_peers(a.net, &p3, 1, err, sizeof(err)), 0);
	struct raft_msg m;
	make_sample(0, 1, 2, 4, &m);
	assert_int_equal(raft_net_send(a.net, &m), -ENOENT);
	raft_msg_release(&m);
	send_and_expect(&a, &c, 5);

	/* a name instead of an address (resolved at each attempt; rotating
	 * through ::1 and 127.0.0.1 until one answers) is a new peer */
	char by_name[64];
	snprintf(by_name, sizeof(by_name), "localhost:%u", (unsigned)raft_net_port(c.net));
	struct raft_net_peer p3_named = { 3, by_name };
	assert_int_equal(raft_net_set_peers(a.net, &p3_named, 1, err, sizeof(err)), 0);
	assert_true(wait_connected(a.net, 3, WAIT_MS));
	assert_int_equal(peer_stats(a.net, 3).frames_sent, 0); /* fresh counters */
	send_and_expect(&a, &c, 6);
	assert_int_equal(raft_net_set_peers(a.net, &p3, 1, err, sizeof(err)), 0);
	assert_true(wait_connected(a.net, 3, WAIT_MS));

	/* refused lists leave the set unchanged and name the culprit */
	static const char *bad_addrs[] = { "::1:5", "host", "host:0", "host:99999", "[::1]5",
					   ":19200", "h:12x", "[::1:5", "" };
	for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
		struct raft_net_peer bad = { 7, bad_addrs[i] };
		err[0] = '\0';
		assert_int_equal(raft_net_set_peers(a.net, &bad, 1, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "peer 7"));
	}
	struct raft_net_peer dup[] = { p3, p3 };
	assert_int_equal(raft_net_set_peers(a.net, dup, 2, err, sizeof(err)), -EINVAL);
	struct raft_net_peer self = { 1, b.addr };
	assert_int_equal(raft_net_set_peers(a.net, &self, 1, err, sizeof(err)), -EINVAL);
	raft_net_stats(a.net, &st);
	assert_int_equal(st.npeers, 1);
	assert_int_equal(st.peers[0].id, 3);
	send_and_expect(&a, &c, 6);

	/* start: missing callback, port in use */
	struct raft_net *net = NULL;
	struct raft_net_options o = { .self_id = 5, .bind_host = "127.0.0.1" };
	assert_int_equal(raft_net_start(&o, &net, err, sizeof(err)), -EINVAL);
	o.on_message = on_message;
	o.arg = &a.in;
	o.port = raft_net_port(b.net);
	assert_int_equal(raft_net_start(&o, &net, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "cannot listen"));
	node_stop(&a);
	node_stop(&b);
	node_stop(&c);
}

/* on_message may send: B answers every message from its callback. */
struct echo {
	struct raft_net *net;
	atomic_int sent;
};

static void on_message_echo(void *arg, const struct raft_msg *m)
{
	struct echo *e = arg;
	struct raft_msg reply;
	assert_int_equal(raft_msg_clone(&reply, m), 0);
	reply.from = m->to;
	reply.to = m->from;
	if (raft_net_send(e->net, &reply) == 0)
		atomic_fetch_add(&e->sent, 1);
	raft_msg_release(&reply);
}

static void test_callback_may_send(void **state)
{
	struct node a;
	assert_int_equal(node_start(&a, 1, "127.0.0.1", 0, NULL), 0);
	struct echo echo = { 0 };
	char b_addr[64];
	struct raft_net_peer to_a = { 1, a.addr };
	struct raft_net_options o = { .self_id = 2, .bind_host = "127.0.0.1",
				      .peers = &to_a, .npeers = 1, .on_message = on_message_echo,
				      .on_error = on_error, .arg = &echo };
	struct raft_net *b = NULL;
	char err[256] = "";
	assert_int_equal(raft_net_start(&o, &b, err, sizeof(err)), 0);
	echo.net = b; /* set before anything can reach b: a has no route to it yet */
	snprintf(b_addr, sizeof(b_addr), "127.0.0.1:%u", (unsigned)raft_net_port(b));
	struct raft_net_peer to_b = { 2, b_addr };
	assert_int_equal(raft_net_set_peers(a.net, &to_b, 1, err, sizeof(err)), 0);
	assert_true(wait_connected(a.net, 2, WAIT_MS));
	assert_true(wait_connected(b, 1, WAIT_MS));
	for (uint64_t s = 0; s < 3 * NSAMPLES; s++) {
		struct raft_msg m;
		make_sample(s % NSAMPLES, 1, 2, s, &m);
		assert_int_equal(raft_net_send(a.net, &m), 0);
		raft_msg_release(&m);
	}
	assert_true(inbox_wait(&a.in, 3 * NSAMPLES, WAIT_MS));
	for (uint64_t s = 0; s < 3 * NSAMPLES; s++) {
		struct raft_msg want;
		make_sample(s % NSAMPLES, 2, 1, s, &want);
		assert_msg_equal(&want, &a.in.msgs[s]);
		raft_msg_release(&want);
	}
	assert_int_equal(atomic_load(&echo.sent), 3 * NSAMPLES);
	raft_net_stop(b);
	node_stop(&a);
}

/* ---- three real Raft cores over the transports ---- */

#define NCMDS 5

struct rnode {
	struct node n;
	struct raft *r;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t mu; /* guards the fields below */
	enum raft_role role;
	uint64_t leader;
	int to_propose;
	char applied[NCMDS][16];
	size_t napplied;
};

static void rnode_drive_ready(struct rnode *rn)
{
	while (raft_has_ready(rn->r)) {
		struct raft_ready rd;
		assert_int_equal(raft_ready(rn->r, &rd), 0);
		for (size_t i = 0; i < rd.nmsgs; i++)
			(void)raft_net_send(rn->n.net, &rd.msgs[i]); /* loss is fine */
		pthread_mutex_lock(&rn->mu);
		for (size_t i = 0; i < rd.ncommitted; i++) {
			const struct raft_entry *e = &rd.committed[i];
			if (e->type != RAFT_ENTRY_NORMAL)
				continue;
			assert_true(rn->napplied < NCMDS && e->len < 16);
			memcpy(rn->applied[rn->napplied], e->data, e->len);
			rn->applied[rn->napplied][e->len] = '\0';
			rn->napplied++;
		}
		rn->role = rd.role;
		rn->leader = rd.leader;
		pthread_mutex_unlock(&rn->mu);
		assert_int_equal(raft_advance(rn->r, &rd), 0);
	}
}

/* The driver loop of docs/raft.md, without storage: tick every 10 ms,
 * step what arrived, propose when asked, then ready/send/apply/advance. */
static void *rnode_main(void *arg)
{
	struct rnode *rn = arg;
	struct inbox *in = &rn->n.in;
	int64_t next_tick = clock_mono_ms() + 10;
	while (!atomic_load(&rn->stop)) {
		struct timespec ts;
		int64_t wait = next_tick - clock_mono_ms();
		clock_mono_deadline(&ts, wait > 0 ? wait : 0);
		pthread_mutex_lock(&in->mu);
		if (in->n == 0)
			pthread_cond_timedwait(&in->cv, &in->mu, &ts);
		struct raft_msg *msgs = in->msgs;
		size_t n = in->n;
		in->msgs = NULL;
		in->n = in->cap = 0;
		pthread_mutex_unlock(&in->mu);
		for (size_t i = 0; i < n; i++) {
			(void)raft_step(rn->r, &msgs[i]);
			raft_msg_release(&msgs[i]);
		}
		free(msgs);
		if (clock_mono_ms() >= next_tick) {
			assert_int_equal(raft_tick(rn->r), 0);
			next_tick += 10;
		}
		pthread_mutex_lock(&rn->mu);
		int want = rn->to_propose;
		pthread_mutex_unlock(&rn->mu);
		for (int k = 0; k < want && raft_role(rn->r) == RAFT_LEADER; k++) {
			char cmd[16];
			int len = snprintf(cmd, sizeof(cmd), "cmd-%d", NCMDS - want + k);
			if (raft_propose(rn->r, cmd, (size_t)len, NULL) == 0) {
				pthread_mutex_lock(&rn->mu);
				rn->to_propose--;
				pthread_mutex_unlock(&rn->mu);
			}
		}
		rnode_drive_ready(rn);
	}
	return NULL;
}

static void test_three_raft_cores_elect_and_commit(void **state)
{
	struct rnode rn[3];
	memset(rn, 0, sizeof(rn));
	struct node nodes[3];
	for (uint64_t i = 0; i < 3; i++) {
		assert_int_equal(node_start(&rn[i].n, i + 1, "127.0.0.1", 0, NULL), 0);
		nodes[i] = rn[i].n;
	}
	mesh(nodes, 3);
	for (uint64_t i = 0; i < 3; i++) {
		struct raft_options o = { .id = i + 1, .election_ticks = 10, .heartbeat_ticks = 2,
					  .seed = 1234 + i, .pre_vote = true, .check_quorum = true };
		struct raft_boot boot = { .initial_config = { .nvoters = 3, .voters = { 1, 2, 3 } } };
		assert_int_equal(raft_create(&o, &boot, &rn[i].r), 0);
		pthread_mutex_init(&rn[i].mu, NULL);
		atomic_init(&rn[i].stop, false);
	}
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&rn[i].thread, NULL, rnode_main, &rn[i]), 0);

	/* a leader, known to all */
	int64_t end = clock_mono_ms() + 10000;
	uint64_t leader = 0;
	while (clock_mono_ms() < end) {
		uint64_t seen[3];
		size_t nleaders = 0;
		for (size_t i = 0; i < 3; i++) {
			pthread_mutex_lock(&rn[i].mu);
			seen[i] = rn[i].leader;
			nleaders += rn[i].role == RAFT_LEADER;
			pthread_mutex_unlock(&rn[i].mu);
		}
		if (nleaders == 1 && seen[0] && seen[0] == seen[1] && seen[1] == seen[2]) {
			leader = seen[0];
			break;
		}
		sleep_ms(10);
	}
	assert_true(leader >= 1 && leader <= 3);
	pthread_mutex_lock(&rn[leader - 1].mu);
	rn[leader - 1].to_propose = NCMDS;
	pthread_mutex_unlock(&rn[leader - 1].mu);

	/* every command applied on every node, in order */
	bool done = false;
	while (!done && clock_mono_ms() < end) {
		done = true;
		for (size_t i = 0; i < 3; i++) {
			pthread_mutex_lock(&rn[i].mu);
			done = done && rn[i].napplied == NCMDS;
			pthread_mutex_unlock(&rn[i].mu);
		}
		sleep_ms(10);
	}
	for (size_t i = 0; i < 3; i++)
		atomic_store(&rn[i].stop, true);
	for (size_t i = 0; i < 3; i++)
		pthread_join(rn[i].thread, NULL);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(rn[i].napplied, NCMDS);
		for (int k = 0; k < NCMDS; k++) {
			char want[16];
			snprintf(want, sizeof(want), "cmd-%d", k);
			assert_string_equal(rn[i].applied[k], want);
		}
	}
	for (size_t i = 0; i < 3; i++) {
		node_stop(&rn[i].n);
		raft_destroy(rn[i].r);
		pthread_mutex_destroy(&rn[i].mu);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_nodes_every_type),
		cmocka_unit_test(test_three_nodes_order_per_peer),
		cmocka_unit_test(test_down_peer_dropped_then_reconnected),
		cmocka_unit_test(test_garbage_sender_cut_off),
		cmocka_unit_test(test_frame_limits),
		cmocka_unit_test(test_large_snapshot_and_queue_limit),
		cmocka_unit_test(test_ipv6_loopback),
		cmocka_unit_test(test_stop_with_unreachable_peers_is_prompt),
		cmocka_unit_test(test_set_peers_and_bad_options),
		cmocka_unit_test(test_callback_may_send),
		cmocka_unit_test(test_three_raft_cores_elect_and_commit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
