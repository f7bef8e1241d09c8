/*
 * The TCP transport of raft/net.h: one I/O thread, one epoll set holding
 * the listener, an eventfd for wake-ups, every inbound connection and
 * every peer's outbound connection.
 *
 * Locking: net->mu guards the peer list, each peer's queue and counters,
 * and the totals. A peer's socket and connection state are touched by the
 * I/O thread only, and only the I/O thread frees peers (removed ones wait
 * on net->graveyard), so it may hold peer pointers across unlocks and in
 * epoll's data. Callbacks and log lines run with mu released.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/log.h"
#include "raft/net.h"
#include "raft/wire.h"

#define READ_CHUNK (64u << 10)
#define READS_PER_EVENT 16
#define WRITE_BUDGET (8u << 20) /* per peer per loop turn, for fairness */
#define MAX_IOV 64
#define KEEP_BUF (1u << 20)	/* a drained read buffer above this is freed */
#define MAX_WAIT_MS 1000
#define TLS_LOG_EVERY_MS 10000 /* refused handshakes: one line per this */
#define TLS_CONFIRM_MS 1000	/* a retried TLS connection is good once it lived this long */

enum handle_kind { H_LISTENER, H_WAKE, H_INBOUND, H_PEER };

/* First member of everything registered with epoll (data.ptr). */
struct net_handle {
	enum handle_kind kind;
};

struct net_frame {
	struct net_frame *next;
	size_t len;
	uint8_t data[];
};

enum peer_state { PEER_BACKOFF, PEER_CONNECTING, PEER_HANDSHAKING, PEER_CONNECTED };

struct net_peer {
	struct net_handle h;
	struct net_peer *next;
	uint64_t id;
	char addr[300];
	char host[256];
	char port[8];
	/* under net->mu */
	bool up; /* connecting or connected: sends are queued */
	struct net_frame *head, *tail;
	size_t queued;
	struct raft_net_peer_stats st;
	/* I/O thread only */
	int fd;
	SSL *ssl; /* with TLS, from PEER_HANDSHAKING on */
	enum peer_state state;
	bool out_armed;
	bool failing; /* the last attempt failed: log only the first of a run */
	size_t head_off;
	int64_t next_attempt_ms;
	int64_t deadline_ms;
	int64_t confirm_ms; /* nonzero: TLS up after failures, not yet known accepted */
	uint32_t backoff_ms;
	uint32_t attempt;
};

struct net_conn {
	struct net_handle h;
	struct net_conn *prev, *next;
	int fd;
	SSL *ssl;	  /* with TLS */
	bool handshaking; /* TLS handshake not finished: nothing is decoded yet */
	uint32_t events;  /* what epoll watches */
	int64_t deadline_ms; /* of the handshake */
	int64_t frame_start_ms; /* first byte of the frame being read; 0: none */
	int64_t frame_extra_ms; /* a second per MiB that frame announces */
	uint64_t nframes;	/* decoded so far */
	uint8_t *buf;
	size_t start, end, cap;
	uint64_t sender; /* from the last good frame; 0 until one arrived */
	char addr[80];
};

struct raft_net {
	struct raft_net_options opts; /* peers not kept here */
	int epfd;
	int listen_fd;
	int wake_fd;
	uint16_t port;
	struct net_handle listener_h;
	struct net_handle wake_h;
	pthread_t thread;
	pthread_mutex_t mu;
	/* under mu */
	bool stopping;
	struct net_peer *peers;
	struct net_peer *graveyard;
	struct raft_net_stats totals; /* only the scalar totals are used */
	/* I/O thread only */
	struct net_conn *conns;
	size_t nconns;
	SSL_CTX *srv_ctx, *cli_ctx; /* both NULL: plaintext */
	int64_t tls_log_ms;	    /* last refused-handshake log line */
	uint64_t tls_unlogged;	    /* refused since then, not logged */
};

static void net_log(struct raft_net *net, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void net_log(struct raft_net *net, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (net->opts.on_error)
		net->opts.on_error(net->opts.arg, msg);
	else
		log_warn("raft net %llu: %s", (unsigned long long)net->opts.self_id, msg);
}

/* The reason OpenSSL gives for the last failure on this thread. */
static const char *tls_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "unknown error";
}

static void ctx_free(SSL_CTX **ctx)
{
	SSL_CTX_free(*ctx);
	*ctx = NULL;
}

/* A context that presents tls's certificate and requires the peer's to
 * chain to its CA; a server context also requires the peer to send one. */
static int tls_ctx_new(const struct raft_net_tls *tls, bool server, SSL_CTX **out, char *err,
		       size_t errlen)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		st_set_err(err, errlen, "TLS context: %s", tls_reason());
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file) != 1) {
		st_set_err(err, errlen, "certificate '%s': %s", tls->cert_file, tls_reason());
		goto err_free_ctx;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM) != 1) {
		/* only the key's path, never its content */
		st_set_err(err, errlen, "private key '%s': %s", tls->key_file, tls_reason());
		goto err_free_ctx;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		st_set_err(err, errlen, "private key '%s' does not match certificate '%s'",
			   tls->key_file, tls->cert_file);
		goto err_free_ctx;
	}
	if (SSL_CTX_load_verify_locations(ctx, tls->ca_file, NULL) != 1) {
		st_set_err(err, errlen, "CA file '%s': %s", tls->ca_file, tls_reason());
		goto err_free_ctx;
	}
	if (server) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(tls->ca_file);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
		/* Peers never resume; tickets would only be bytes an outbound
		 * connection has to read and throw away. */
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	*out = ctx;
	return 0;

err_free_ctx:
	SSL_CTX_free(ctx);
	return -EINVAL;
}

static int tls_open(const struct raft_net_tls *tls, SSL_CTX **srv, SSL_CTX **cli, char *err,
		    size_t errlen)
{
	if (!tls->key_file || !*tls->key_file || !tls->ca_file || !*tls->ca_file) {
		st_set_err(err, errlen, "TLS needs a certificate, a private key and a CA file");
		return -EINVAL;
	}
	int rc = tls_ctx_new(tls, true, srv, err, errlen);
	if (rc)
		return rc;
	rc = tls_ctx_new(tls, false, cli, err, errlen);
	if (rc)
		ctx_free(srv);
	return rc;
}

int raft_net_tls_check(const struct raft_net_tls *tls, char *err, size_t errlen)
{
	SSL_CTX *srv = NULL, *cli = NULL;
	if (!tls->cert_file || !*tls->cert_file)
		return 0;
	int rc = tls_open(tls, &srv, &cli, err, errlen);
	ctx_free(&srv);
	ctx_free(&cli);
	return rc;
}

/* Why a handshake failed, for the log: the verification result when the
 * peer's certificate was the problem. */
static void tls_failure(SSL *ssl, int ssl_err, char *buf, size_t len)
{
	long vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK)
		snprintf(buf, len, "certificate: %s", X509_verify_cert_error_string(vr));
	else if (ssl_err == SSL_ERROR_SYSCALL && !ERR_peek_last_error())
		snprintf(buf, len, "connection closed");
	else
		snprintf(buf, len, "%s", tls_reason());
}

/* "host:port" or "[v6]:port" into its parts (brackets removed). */
static int parse_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *h, *h_end, *p;
	if (!addr || !*addr)
		return -EINVAL;
	if (addr[0] == '[') {
		h = addr + 1;
		h_end = strchr(h, ']');
		if (!h_end || h_end[1] != ':')
			return -EINVAL;
		p = h_end + 2;
	} else {
		h = addr;
		h_end = strrchr(addr, ':');
		if (!h_end || strchr(addr, ':') != h_end) /* bare IPv6 needs brackets */
			return -EINVAL;
		p = h_end + 1;
	}
	size_t n = (size_t)(h_end - h);
	if (n == 0 || n >= hostlen)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(p, &end, 10);
	if (!*p || *end || errno || v == 0 || v > 65535 || p[0] < '0' || p[0] > '9')
		return -EINVAL;
	snprintf(port, portlen, "%lu", v);
	return 0;
}

static int validate_peers(uint64_t self, const struct raft_net_peer *peers, size_t npeers,
			  char *err, size_t errlen)
{
	char host[256], port[8];
	if (npeers > RAFT_NET_MAX_PEERS) {
		st_set_err(err, errlen, "%zu peers; at most %d", npeers, RAFT_NET_MAX_PEERS);
		return -EINVAL;
	}
	for (size_t i = 0; i < npeers; i++) {
		if (peers[i].id == 0 || peers[i].id == self) {
			st_set_err(err, errlen, "peer %zu: bad id %llu", i,
				(unsigned long long)peers[i].id);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (peers[j].id == peers[i].id) {
				st_set_err(err, errlen, "peer id %llu listed twice",
					(unsigned long long)peers[i].id);
				return -EINVAL;
			}
		if (parse_addr(peers[i].addr, host, sizeof(host), port, sizeof(port)) ||
		    strlen(peers[i].addr) >= sizeof(((struct net_peer *)0)->addr)) {
			st_set_err(err, errlen, "peer %llu: bad address '%s' (want host:port or [v6]:port)",
				(unsigned long long)peers[i].id,
				peers[i].addr ? peers[i].addr : "(null)");
			return -EINVAL;
		}
	}
	return 0;
}

/* A peer as set_peers/start create it: first connection attempt due now. */
static struct net_peer *peer_new(const struct raft_net *net, const struct raft_net_peer *spec)
{
	struct net_peer *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->h.kind = H_PEER;
	p->id = spec->id;
	snprintf(p->addr, sizeof(p->addr), "%s", spec->addr);
	(void)parse_addr(spec->addr, p->host, sizeof(p->host), p->port, sizeof(p->port));
	p->up = true;
	p->st.id = spec->id;
	p->fd = -1;
	p->state = PEER_BACKOFF;
	p->backoff_ms = net->opts.backoff_min_ms;
	return p;
}

static void frames_free(struct net_frame *f)
{
	while (f) {
		struct net_frame *next = f->next;
		free(f);
		f = next;
	}
}

static void peer_close_fd(struct raft_net *net, struct net_peer *p)
{
	SSL_free(p->ssl);
	p->ssl = NULL;
	if (p->fd >= 0) {
		epoll_ctl(net->epfd, EPOLL_CTL_DEL, p->fd, NULL);
		close(p->fd);
		p->fd = -1;
	}
	p->out_armed = false;
}

static void peer_free(struct raft_net *net, struct net_peer *p)
{
	peer_close_fd(net, p);
	frames_free(p->head);
	free(p);
}

static struct net_peer *find_peer(struct raft_net *net, uint64_t id)
{
	for (struct net_peer *p = net->peers; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void wake(struct raft_net *net)
{
	uint64_t one = 1;
	ssize_t n = write(net->wake_fd, &one, sizeof(one));
	(void)n; /* EAGAIN: the counter is already nonzero, the loop will wake */
}

/* The connection is gone or never came: drop its queue, back off. */
static void peer_fail(struct raft_net *net, struct net_peer *p, const char *what, int error)
{
	bool was_connected = p->state == PEER_CONNECTED && !p->confirm_ms;
	p->confirm_ms = 0;
	peer_close_fd(net, p);
	p->state = PEER_BACKOFF;
	p->head_off = 0;
	p->next_attempt_ms = clock_mono_ms() + p->backoff_ms;
	uint32_t delay = p->backoff_ms;
	p->backoff_ms = p->backoff_ms * 2 > net->opts.backoff_max_ms ? net->opts.backoff_max_ms
								     : p->backoff_ms * 2;
	p->attempt++;

	pthread_mutex_lock(&net->mu);
	struct net_frame *dropped = p->head;
	uint64_t ndropped = 0;
	for (struct net_frame *f = dropped; f; f = f->next)
		ndropped++;
	p->head = p->tail = NULL;
	p->queued = 0;
	p->up = false;
	p->st.connected = false;
	p->st.connect_failures++;
	p->st.frames_dropped += ndropped;
	net->totals.frames_dropped += ndropped;
	pthread_mutex_unlock(&net->mu);
	frames_free(dropped);

	if (was_connected || !p->failing)
		net_log(net, "peer %llu (%s): %s%s%s; %llu queued frames dropped, retry in %u ms",
			(unsigned long long)p->id, p->addr, what, error ? ": " : "",
			error ? strerror(error) : "", (unsigned long long)ndropped, delay);
	p->failing = true;
}

static void peer_set_events(struct raft_net *net, struct net_peer *p, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &p->h };
	if (epoll_ctl(net->epfd, EPOLL_CTL_MOD, p->fd, &ev))
		peer_fail(net, p, "epoll", errno);
	else
		p->out_armed = events & EPOLLOUT;
}

/* The connection works: the backoff starts over and a run of failures ends. */
static void peer_confirmed(struct raft_net *net, struct net_peer *p)
{
	p->confirm_ms = 0;
	p->backoff_ms = net->opts.backoff_min_ms;
	if (p->failing)
		log_info("raft net %llu: connected to peer %llu (%s)",
			 (unsigned long long)net->opts.self_id, (unsigned long long)p->id, p->addr);
	p->failing = false;
}

/* The connection carries frames from now on. */
static void peer_up(struct raft_net *net, struct net_peer *p)
{
	p->state = PEER_CONNECTED;
	/* With TLS 1.3 the server judges our certificate after our side of
	 * the handshake is done, so its refusal comes as a lost connection.
	 * After failures, wait before believing the peer took us: otherwise a
	 * peer that refuses our certificate is retried (and logged) at the
	 * minimum backoff forever. */
	if (p->ssl && p->failing)
		p->confirm_ms = clock_mono_ms() + TLS_CONFIRM_MS;
	else
		peer_confirmed(net, p);
	pthread_mutex_lock(&net->mu);
	p->st.connected = true;
	p->st.connects++;
	pthread_mutex_unlock(&net->mu);
	peer_set_events(net, p, EPOLLIN); /* the flush arms EPOLLOUT if needed */
}

static void peer_handshake(struct raft_net *net, struct net_peer *p)
{
	ERR_clear_error();
	int r = SSL_do_handshake(p->ssl);
	if (r == 1) {
		peer_up(net, p);
		return;
	}
	int e = SSL_get_error(p->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		peer_set_events(net, p, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLIN | EPOLLOUT);
		return;
	}
	char what[200], why[160];
	tls_failure(p->ssl, e, why, sizeof(why));
	snprintf(what, sizeof(what), "TLS handshake: %s", why);
	peer_fail(net, p, what, 0);
}

/* TCP is up: with TLS the handshake comes first (same deadline budget as
 * the connect), else frames flow at once. */
static void peer_connected(struct raft_net *net, struct net_peer *p)
{
	if (!net->cli_ctx) {
		peer_up(net, p);
		return;
	}
	unsigned char ip[16];
	bool literal = inet_pton(AF_INET, p->host, ip) == 1 || inet_pton(AF_INET6, p->host, ip) == 1;
	ERR_clear_error();
	p->ssl = SSL_new(net->cli_ctx);
	if (!p->ssl || SSL_set_fd(p->ssl, p->fd) != 1 ||
	    (literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl), p->host)
		     : SSL_set1_host(p->ssl, p->host) && SSL_set_tlsext_host_name(p->ssl, p->host)) != 1) {
		char what[200];
		snprintf(what, sizeof(what), "TLS setup: %s", tls_reason());
		peer_fail(net, p, what, 0);
		return;
	}
	SSL_set_connect_state(p->ssl);
	p->state = PEER_HANDSHAKING;
	p->deadline_ms = clock_mono_ms() + net->opts.connect_timeout_ms;
	peer_handshake(net, p);
}

static void peer_connect(struct raft_net *net, struct net_peer *p)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	pthread_mutex_lock(&net->mu);
	p->up = true;
	pthread_mutex_unlock(&net->mu);

	int rc = getaddrinfo(p->host, p->port, &hints, &res);
	if (rc) {
		if (!p->failing)
			net_log(net, "peer %llu: cannot resolve '%s': %s",
				(unsigned long long)p->id, p->host, gai_strerror(rc));
		p->failing = true; /* said why already; peer_fail stays quiet */
		peer_fail(net, p, "resolve", 0);
		return;
	}
	size_t naddrs = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		naddrs++;
	struct addrinfo *ai = res; /* rotate through the addresses across attempts */
	for (size_t i = 0; i < p->attempt % naddrs; i++)
		ai = ai->ai_next;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		peer_fail(net, p, "socket", errno);
		return;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	p->fd = fd;
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	int error = errno;
	freeaddrinfo(res);
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &p->h };
	if (epoll_ctl(net->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		peer_fail(net, p, "epoll", errno);
		return;
	}
	if (rc == 0) {
		peer_connected(net, p);
		return;
	}
	if (error != EINPROGRESS) {
		peer_fail(net, p, "connect", error);
		return;
	}
	p->state = PEER_CONNECTING;
	p->deadline_ms = clock_mono_ms() + net->opts.connect_timeout_ms;
}

static void peer_finish_connect(struct raft_net *net, struct net_peer *p)
{
	int error = 0;
	socklen_t len = sizeof(error);
	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &error, &len))
		error = errno;
	if (error)
		peer_fail(net, p, "connect", error);
	else
		peer_connected(net, p);
}

/* Writes the peer's queue until it is empty, the socket is full or the
 * budget is spent; frames leave the queue only once fully written. */
static void peer_flush(struct raft_net *net, struct net_peer *p)
{
	size_t budget = WRITE_BUDGET;
	for (;;) {
		struct iovec iov[MAX_IOV];
		int niov = 0;
		pthread_mutex_lock(&net->mu);
		size_t off = p->head_off;
		for (struct net_frame *f = p->head; f && niov < MAX_IOV; f = f->next) {
			iov[niov].iov_base = f->data + off;
			iov[niov].iov_len = f->len - off;
			niov++;
			off = 0;
		}
		pthread_mutex_unlock(&net->mu);
		if (niov == 0) {
			if (p->out_armed)
				peer_set_events(net, p, EPOLLIN);
			return;
		}
		if (budget == 0) {
			if (!p->out_armed)
				peer_set_events(net, p, EPOLLIN | EPOLLOUT);
			return;
		}
		ssize_t n;
		if (p->ssl) {
			/* One frame per SSL_write; after a WANT_* the retry
			 * passes the same bytes, as OpenSSL requires, because
			 * the head frame leaves the queue only once written. */
			ERR_clear_error();
			int r = SSL_write(p->ssl, iov[0].iov_base, (int)(iov[0].iov_len > INT32_MAX
									? INT32_MAX
									: iov[0].iov_len));
			if (r <= 0) {
				int e = SSL_get_error(p->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					if (!p->out_armed)
						peer_set_events(net, p, EPOLLIN | EPOLLOUT);
					return;
				}
				char what[200], why[160];
				tls_failure(p->ssl, e, why, sizeof(why));
				snprintf(what, sizeof(what), "send: %s", why);
				peer_fail(net, p, what, 0);
				return;
			}
			n = r;
		} else {
			struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)niov };
			n = sendmsg(p->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (!p->out_armed)
					peer_set_events(net, p, EPOLLIN | EPOLLOUT);
				return;
			}
			peer_fail(net, p, "send", errno);
			return;
		}
		size_t written = (size_t)n;
		budget = written >= budget ? 0 : budget - written;
		struct net_frame *done = NULL, **done_tail = &done;
		pthread_mutex_lock(&net->mu);
		while (written) {
			struct net_frame *f = p->head;
			size_t rest = f->len - p->head_off;
			if (written < rest) {
				p->head_off += written;
				break;
			}
			written -= rest;
			p->head_off = 0;
			p->head = f->next;
			if (!p->head)
				p->tail = NULL;
			p->queued -= f->len;
			p->st.frames_sent++;
			p->st.bytes_sent += f->len;
			net->totals.frames_sent++;
			f->next = NULL;
			*done_tail = f;
			done_tail = &f->next;
		}
		pthread_mutex_unlock(&net->mu);
		frames_free(done);
	}
}

/* Outbound connections carry nothing back; readable means closed (or,
 * with TLS, a record such as an alert that OpenSSL consumes). */
static void peer_read(struct raft_net *net, struct net_peer *p)
{
	uint8_t scratch[256];
	if (p->ssl) {
		ERR_clear_error();
		int r = SSL_read(p->ssl, scratch, sizeof(scratch));
		if (r > 0)
			return; /* nothing is expected; ignore it */
		int e = SSL_get_error(p->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return;
		if (e == SSL_ERROR_ZERO_RETURN) {
			peer_fail(net, p, "connection closed by peer", 0);
		} else {
			char what[200], why[160];
			tls_failure(p->ssl, e, why, sizeof(why));
			snprintf(what, sizeof(what), "connection lost: %s", why);
			peer_fail(net, p, what, 0);
		}
		return;
	}
	ssize_t n = recv(p->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
	if (n == 0)
		peer_fail(net, p, "connection closed by peer", 0);
	else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		peer_fail(net, p, "connection lost", errno);
}

static void peer_event(struct raft_net *net, struct net_peer *p, uint32_t events)
{
	if (p->fd < 0)
		return;
	if (p->state == PEER_CONNECTING) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			peer_finish_connect(net, p);
		return;
	}
	if (p->state == PEER_HANDSHAKING) {
		peer_handshake(net, p);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		peer_read(net, p);
		if (p->fd >= 0 && events & (EPOLLERR | EPOLLHUP)) {
			int error = 0;
			socklen_t len = sizeof(error);
			(void)getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &error, &len);
			peer_fail(net, p, "connection lost", error);
		}
		if (p->fd < 0)
			return;
	}
	if (events & EPOLLOUT)
		peer_flush(net, p);
}

static void conn_close(struct raft_net *net, struct net_conn *c)
{
	SSL_free(c->ssl); /* no close_notify: the peer learns from the FIN */
	epoll_ctl(net->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		net->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	net->nconns--;
	free(c->buf);
	free(c);
}

static void conn_bad_frame(struct raft_net *net, struct net_conn *c, uint64_t from,
			   const char *why)
{
	uint64_t sender = from ? from : c->sender;
	pthread_mutex_lock(&net->mu);
	net->totals.decode_errors++;
	struct net_peer *p = sender ? find_peer(net, sender) : NULL;
	if (p)
		p->st.decode_errors++;
	pthread_mutex_unlock(&net->mu);
	net_log(net, "closing connection from %s (peer %llu): bad frame: %s", c->addr,
		(unsigned long long)sender, why);
	conn_close(net, c);
}

static bool conn_set_events(struct raft_net *net, struct net_conn *c, uint32_t events)
{
	if (c->events == events)
		return true;
	struct epoll_event ev = { .events = events, .data.ptr = &c->h };
	if (epoll_ctl(net->epfd, EPOLL_CTL_MOD, c->fd, &ev)) {
		net_log(net, "closing connection from %s: epoll: %s", c->addr, strerror(errno));
		conn_close(net, c);
		return false;
	}
	c->events = events;
	return true;
}

/* A stranger, a plaintext client or a peer of another CA: closed before
 * anything it sent is decoded. One log line per TLS_LOG_EVERY_MS, so a
 * scanner cannot flood the log. */
static void conn_tls_refused(struct raft_net *net, struct net_conn *c, const char *why)
{
	pthread_mutex_lock(&net->mu);
	net->totals.tls_refused++;
	pthread_mutex_unlock(&net->mu);
	int64_t now = clock_mono_ms();
	if (!net->tls_log_ms || now - net->tls_log_ms >= TLS_LOG_EVERY_MS) {
		if (net->tls_unlogged)
			net_log(net, "refused TLS handshake from %s: %s (and %llu more since the last "
				"such line)", c->addr, why, (unsigned long long)net->tls_unlogged);
		else
			net_log(net, "refused TLS handshake from %s: %s", c->addr, why);
		net->tls_log_ms = now;
		net->tls_unlogged = 0;
	} else {
		net->tls_unlogged++;
	}
	conn_close(net, c);
}

/* Advances an inbound handshake; false if c was closed. */
static bool conn_handshake(struct raft_net *net, struct net_conn *c)
{
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->handshaking = false;
		return conn_set_events(net, c, EPOLLIN);
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return conn_set_events(net, c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLIN | EPOLLOUT);
	char why[160];
	tls_failure(c->ssl, e, why, sizeof(why));
	conn_tls_refused(net, c, why);
	return false;
}

/* Delivers every complete frame in the buffer; false if c was closed. */
static bool conn_parse(struct raft_net *net, struct net_conn *c)
{
	while (c->end > c->start) {
		size_t avail = c->end - c->start, frame_len = 0;
		uint64_t from = 0, to = 0;
		char why[160] = "";
		int rc = raft_wire_peek(c->buf + c->start, avail, &frame_len, &from, &to, why,
					sizeof(why));
		if (rc == -EAGAIN)
			break;
		if (rc) {
			conn_bad_frame(net, c, 0, why);
			return false;
		}
		if (frame_len > net->opts.max_frame + RAFT_WIRE_OVERHEAD) {
			snprintf(why, sizeof(why),
				 "a frame of %zu bytes is above the limit (master.raft.max_frame %llu)",
				 frame_len, (unsigned long long)net->opts.max_frame);
			conn_bad_frame(net, c, from, why);
			return false;
		}
		if (avail < frame_len)
			break;
		struct raft_msg m;
		rc = raft_wire_decode(c->buf + c->start, frame_len, &m, why, sizeof(why));
		if (rc == -ENOMEM) {
			net_log(net, "closing connection from %s: out of memory", c->addr);
			conn_close(net, c);
			return false;
		}
		if (rc) {
			conn_bad_frame(net, c, from, why);
			return false;
		}
		c->start += frame_len;
		c->sender = from;
		c->nframes++;
		pthread_mutex_lock(&net->mu);
		bool ours = to == net->opts.self_id;
		if (ours) {
			net->totals.frames_received++;
			net->totals.bytes_received += frame_len;
			struct net_peer *p = find_peer(net, from);
			if (p) {
				p->st.frames_received++;
				p->st.bytes_received += frame_len;
			}
		} else {
			net->totals.misaddressed++;
		}
		pthread_mutex_unlock(&net->mu);
		if (ours)
			net->opts.on_message(net->opts.arg, &m);
		raft_msg_release(&m);
	}
	if (c->start == c->end) {
		c->start = c->end = 0;
		if (c->cap > KEEP_BUF) {
			free(c->buf);
			c->buf = NULL;
			c->cap = 0;
		}
	}
	return true;
}

/* Room for at least `want` more bytes; the buffer grows only as data
 * arrives, so a header claiming a huge body costs nothing up front. */
static int conn_reserve(struct net_conn *c, size_t want)
{
	if (c->cap - c->end >= want)
		return 0;
	if (c->start) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
		if (c->cap - c->end >= want)
			return 0;
	}
	size_t cap = c->cap * 2 > c->end + want ? c->cap * 2 : c->end + want;
	uint8_t *buf = realloc(c->buf, cap);
	if (!buf)
		return -ENOMEM;
	c->buf = buf;
	c->cap = cap;
	return 0;
}

static void conn_read(struct raft_net *net, struct net_conn *c)
{
	for (int i = 0; i < READS_PER_EVENT; i++) {
		if (conn_reserve(c, READ_CHUNK)) {
			net_log(net, "closing connection from %s: out of memory", c->addr);
			conn_close(net, c);
			return;
		}
		ssize_t n;
		if (c->ssl) {
			/* No read-ahead and room for a whole record: what
			 * OpenSSL holds back is still in the socket, so the
			 * level-triggered epoll calls again. */
			ERR_clear_error();
			int r = SSL_read(c->ssl, c->buf + c->end,
					 (int)(c->cap - c->end > INT32_MAX ? INT32_MAX : c->cap - c->end));
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					(void)conn_set_events(net, c, EPOLLIN);
				else if (e == SSL_ERROR_WANT_WRITE)
					(void)conn_set_events(net, c, EPOLLIN | EPOLLOUT);
				else
					conn_close(net, c);
				return;
			}
			n = r;
		} else {
			n = recv(c->fd, c->buf + c->end, c->cap - c->end, MSG_DONTWAIT);
		}
		if (n == 0) {
			conn_close(net, c);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(net, c);
			return;
		}
		c->end += (size_t)n;
		uint64_t frames_before = c->nframes;
		if (!conn_parse(net, c))
			return;
		/* The frame timeout runs from the first byte of the frame now
		 * at the front of the buffer. */
		if (c->end == c->start)
			c->frame_start_ms = 0;
		else if (!c->frame_start_ms || c->nframes != frames_before)
			c->frame_start_ms = clock_mono_ms();
		/* A large frame (a snapshot) gets a second more per MiB it
		 * announces, so a slow link still delivers it. */
		size_t fl = 0;
		c->frame_extra_ms = c->end - c->start >= RAFT_WIRE_HEADER_SIZE &&
					    raft_wire_peek(c->buf + c->start, c->end - c->start, &fl,
							   NULL, NULL, NULL, 0) == 0
					    ? (int64_t)(fl >> 20) * 1000
					    : 0;
	}
}

static void conn_event(struct raft_net *net, struct net_conn *c)
{
	if (c->handshaking && !conn_handshake(net, c))
		return;
	if (!c->handshaking)
		conn_read(net, c);
}

/* Closes inbound handshakes past their deadline; returns ms to the next. */
static int64_t conns_expire(struct raft_net *net, int64_t now)
{
	int64_t wait = MAX_WAIT_MS;
	struct net_conn *next;
	for (struct net_conn *c = net->conns; c; c = next) {
		next = c->next;
		if (!c->handshaking) {
			if (!c->frame_start_ms)
				continue;
			int64_t due = c->frame_start_ms + net->opts.frame_timeout_ms +
				      c->frame_extra_ms;
			if (now >= due) {
				pthread_mutex_lock(&net->mu);
				net->totals.frame_timeouts++;
				pthread_mutex_unlock(&net->mu);
				net_log(net, "closing connection from %s: a frame not whole within %u ms "
					"(master.raft.frame_timeout)", c->addr, net->opts.frame_timeout_ms);
				conn_close(net, c);
			} else if (due - now < wait) {
				wait = due - now;
			}
			continue;
		}
		if (now >= c->deadline_ms)
			conn_tls_refused(net, c, "handshake timed out");
		else if (c->deadline_ms - now < wait)
			wait = c->deadline_ms - now;
	}
	return wait;
}

static void accept_all(struct raft_net *net)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(net->listen_fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				net_log(net, "accept: %s", strerror(errno));
			return;
		}
		struct net_conn *c = NULL;
		if (net->nconns < RAFT_NET_MAX_INBOUND)
			c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			pthread_mutex_lock(&net->mu);
			net->totals.refused++;
			pthread_mutex_unlock(&net->mu);
			continue;
		}
		c->h.kind = H_INBOUND;
		c->fd = fd;
		c->events = EPOLLIN;
		if (net->srv_ctx) {
			ERR_clear_error();
			c->ssl = SSL_new(net->srv_ctx);
			if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
				net_log(net, "TLS setup for an inbound connection: %s", tls_reason());
				SSL_free(c->ssl);
				close(fd);
				free(c);
				continue;
			}
			SSL_set_accept_state(c->ssl);
			c->handshaking = true;
			c->deadline_ms = clock_mono_ms() + net->opts.connect_timeout_ms;
		}
		char host[64] = "?", serv[16] = "?";
		(void)getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv,
				  sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
		snprintf(c->addr, sizeof(c->addr), "%s:%s", host, serv);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->h };
		if (epoll_ctl(net->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			net_log(net, "epoll: %s", strerror(errno));
			close(fd);
			free(c);
			continue;
		}
		c->next = net->conns;
		if (net->conns)
			net->conns->prev = c;
		net->conns = c;
		net->nconns++;
		pthread_mutex_lock(&net->mu);
		net->totals.accepted++;
		pthread_mutex_unlock(&net->mu);
	}
}

/* Takes the live peers (pointers stay valid: only this thread frees them)
 * and frees the removed ones. Returns false once stopping. */
static bool loop_peers(struct raft_net *net, struct net_peer **live, size_t *nlive)
{
	pthread_mutex_lock(&net->mu);
	bool stopping = net->stopping;
	struct net_peer *dead = net->graveyard;
	net->graveyard = NULL;
	*nlive = 0;
	for (struct net_peer *p = net->peers; p && *nlive < RAFT_NET_MAX_PEERS; p = p->next)
		live[(*nlive)++] = p;
	pthread_mutex_unlock(&net->mu);
	while (dead) {
		struct net_peer *next = dead->next;
		peer_free(net, dead);
		dead = next;
	}
	return !stopping;
}

static void *io_main(void *arg)
{
	struct raft_net *net = arg;
	struct epoll_event evs[64];
	struct net_peer *live[RAFT_NET_MAX_PEERS];
	size_t nlive = 0;

	while (loop_peers(net, live, &nlive)) {
		int64_t now = clock_mono_ms();
		int64_t wait = MAX_WAIT_MS;
		for (size_t i = 0; i < nlive; i++) {
			struct net_peer *p = live[i];
			if (p->state == PEER_BACKOFF && now >= p->next_attempt_ms)
				peer_connect(net, p);
			else if ((p->state == PEER_CONNECTING || p->state == PEER_HANDSHAKING) &&
				 now >= p->deadline_ms)
				peer_fail(net, p, p->state == PEER_CONNECTING ? "connect"
									      : "TLS handshake",
					  ETIMEDOUT);
			if (p->state == PEER_CONNECTED && p->confirm_ms && now >= p->confirm_ms)
				peer_confirmed(net, p);
			if (p->state == PEER_CONNECTED && !p->out_armed)
				peer_flush(net, p);
			int64_t due = p->state == PEER_BACKOFF ? p->next_attempt_ms - now
				      : p->state == PEER_CONNECTING || p->state == PEER_HANDSHAKING
					      ? p->deadline_ms - now
				      : p->confirm_ms ? p->confirm_ms - now
						      : MAX_WAIT_MS;
			if (due < wait)
				wait = due < 0 ? 0 : due;
		}
		int64_t conn_wait = conns_expire(net, now);
		if (conn_wait < wait)
			wait = conn_wait;
		int n = epoll_wait(net->epfd, evs, 64, (int)wait);
		if (n < 0) {
			if (errno != EINTR) {
				net_log(net, "epoll_wait: %s", strerror(errno));
				usleep(10000);
			}
			continue;
		}
		for (int i = 0; i < n; i++) {
			struct net_handle *h = evs[i].data.ptr;
			switch (h->kind) {
			case H_WAKE: {
				uint64_t count;
				ssize_t r = read(net->wake_fd, &count, sizeof(count));
				(void)r;
				break;
			}
			case H_LISTENER:
				accept_all(net);
				break;
			case H_INBOUND:
				conn_event(net, (struct net_conn *)h);
				break;
			case H_PEER:
				peer_event(net, (struct net_peer *)h, evs[i].events);
				break;
			}
		}
	}
	return NULL;
}

static int open_listener_on(const char *host, const char *port, bool dual_stack, int *fd_out)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		return rc == EAI_SYSTEM ? -errno : -EINVAL;
	rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		int one = 1, zero = 0;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && dual_stack)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
			rc = -errno;
			close(fd);
			continue;
		}
		*fd_out = fd;
		rc = 0;
		break;
	}
	freeaddrinfo(res);
	return rc;
}

static int open_listener(struct raft_net *net, char *err, size_t errlen)
{
	const char *bind_host = net->opts.bind_host;
	char host[256], port[8];
	int rc;
	snprintf(port, sizeof(port), "%u", (unsigned)net->opts.port);
	if (!bind_host || !*bind_host) {
		rc = open_listener_on("::", port, true, &net->listen_fd);
		if (rc)
			rc = open_listener_on("0.0.0.0", port, false, &net->listen_fd);
		snprintf(host, sizeof(host), "*");
	} else {
		size_t n = strlen(bind_host);
		if (bind_host[0] == '[' && n > 2 && bind_host[n - 1] == ']' && n - 2 < sizeof(host)) {
			memcpy(host, bind_host + 1, n - 2);
			host[n - 2] = '\0';
		} else {
			snprintf(host, sizeof(host), "%s", bind_host);
		}
		rc = open_listener_on(host, port, false, &net->listen_fd);
	}
	if (rc) {
		st_set_err(err, errlen, "cannot listen on %s port %s: %s", host, port, strerror(-rc));
		return rc;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(net->listen_fd, (struct sockaddr *)&ss, &sl)) {
		rc = -errno;
		st_set_err(err, errlen, "getsockname: %s", strerror(errno));
		close(net->listen_fd);
		net->listen_fd = -1;
		return rc;
	}
	net->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						    : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* Options as kept: defaults filled in, the peer list not kept (copied
 * into struct net_peer). */
static struct raft_net_options effective_options(const struct raft_net_options *opts)
{
	struct raft_net_options o = *opts;
	o.peers = NULL;
	o.npeers = 0;
	o.tls = (struct raft_net_tls){ 0 }; /* loaded into contexts at start */
	if (!o.max_queued_bytes)
		o.max_queued_bytes = RAFT_NET_DEFAULT_MAX_QUEUED;
	if (!o.backoff_min_ms)
		o.backoff_min_ms = RAFT_NET_DEFAULT_BACKOFF_MIN_MS;
	if (!o.backoff_max_ms)
		o.backoff_max_ms = RAFT_NET_DEFAULT_BACKOFF_MAX_MS;
	if (o.backoff_max_ms < o.backoff_min_ms)
		o.backoff_max_ms = o.backoff_min_ms;
	if (!o.connect_timeout_ms)
		o.connect_timeout_ms = RAFT_NET_DEFAULT_CONNECT_TIMEOUT_MS;
	if (!o.max_frame || o.max_frame > RAFT_WIRE_MAX_BODY)
		o.max_frame = RAFT_WIRE_MAX_BODY;
	if (!o.frame_timeout_ms)
		o.frame_timeout_ms = RAFT_NET_DEFAULT_FRAME_TIMEOUT_MS;
	return o;
}

int raft_net_start(const struct raft_net_options *opts, struct raft_net **out, char *err,
		   size_t errlen)
{
	int rc;
	if (!opts || opts->self_id == 0 || !opts->on_message) {
		st_set_err(err, errlen, "self id and on_message are required");
		return -EINVAL;
	}
	rc = validate_peers(opts->self_id, opts->peers, opts->npeers, err, errlen);
	if (rc)
		return rc;
	struct raft_net *net = calloc(1, sizeof(*net));
	if (!net) {
		st_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	net->opts = effective_options(opts);
	net->listener_h.kind = H_LISTENER;
	net->wake_h.kind = H_WAKE;
	if (opts->tls.cert_file && *opts->tls.cert_file) {
		rc = tls_open(&opts->tls, &net->srv_ctx, &net->cli_ctx, err, errlen);
		if (rc)
			goto err_free_net;
	}
	rc = -pthread_mutex_init(&net->mu, NULL);
	if (rc) {
		st_set_err(err, errlen, "mutex: %s", strerror(-rc));
		goto err_free_tls;
	}
	struct net_peer **tail = &net->peers;
	for (size_t i = 0; i < opts->npeers; i++) {
		*tail = peer_new(net, &opts->peers[i]);
		if (!*tail) {
			rc = -ENOMEM;
			st_set_err(err, errlen, "out of memory");
			goto err_free_peers;
		}
		tail = &(*tail)->next;
	}
	net->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (net->epfd < 0) {
		rc = -errno;
		st_set_err(err, errlen, "epoll_create1: %s", strerror(errno));
		goto err_free_peers;
	}
	net->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (net->wake_fd < 0) {
		rc = -errno;
		st_set_err(err, errlen, "eventfd: %s", strerror(errno));
		goto err_close_epoll;
	}
	rc = open_listener(net, err, errlen);
	if (rc)
		goto err_close_wake;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &net->wake_h };
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &net->listener_h };
	if (epoll_ctl(net->epfd, EPOLL_CTL_ADD, net->wake_fd, &ev) ||
	    epoll_ctl(net->epfd, EPOLL_CTL_ADD, net->listen_fd, &lev)) {
		rc = -errno;
		st_set_err(err, errlen, "epoll_ctl: %s", strerror(errno));
		goto err_close_listener;
	}
	rc = -pthread_create(&net->thread, NULL, io_main, net);
	if (rc) {
		st_set_err(err, errlen, "pthread_create: %s", strerror(-rc));
		goto err_close_listener;
	}
	*out = net;
	return 0;

err_close_listener:
	close(net->listen_fd);
err_close_wake:
	close(net->wake_fd);
err_close_epoll:
	close(net->epfd);
err_free_peers:
	while (net->peers) {
		struct net_peer *next = net->peers->next;
		free(net->peers);
		net->peers = next;
	}
	pthread_mutex_destroy(&net->mu);
err_free_tls:
	ctx_free(&net->srv_ctx);
	ctx_free(&net->cli_ctx);
err_free_net:
	free(net);
	return rc;
}

uint16_t raft_net_port(const struct raft_net *net)
{
	return net->port;
}

int raft_net_send(struct raft_net *net, const struct raft_msg *m)
{
	size_t len = 0;
	int rc;
	if (m->from != net->opts.self_id)
		return -EINVAL;
	rc = raft_wire_size(m, &len);
	if (rc)
		return rc;
	struct net_frame *f = malloc(sizeof(*f) + len);
	if (!f)
		return -ENOMEM;
	f->next = NULL;
	rc = raft_wire_encode(m, f->data, len, &f->len);
	if (rc)
		goto out_free;

	bool was_empty = false;
	pthread_mutex_lock(&net->mu);
	struct net_peer *p = find_peer(net, m->to);
	if (!p) {
		rc = -ENOENT;
	} else if (!p->up) {
		rc = -ENOTCONN;
	} else if (p->queued + f->len > net->opts.max_queued_bytes) {
		rc = -ENOBUFS;
	} else {
		was_empty = p->head == NULL;
		if (p->tail)
			p->tail->next = f;
		else
			p->head = f;
		p->tail = f;
		p->queued += f->len;
		f = NULL;
	}
	if (rc) {
		net->totals.frames_dropped++;
		if (p)
			p->st.frames_dropped++;
	}
	pthread_mutex_unlock(&net->mu);
	if (was_empty)
		wake(net);
out_free:
	free(f);
	return rc;
}

int raft_net_set_peers(struct raft_net *net, const struct raft_net_peer *peers, size_t npeers,
		       char *err, size_t errlen)
{
	struct net_peer *fresh[RAFT_NET_MAX_PEERS] = { 0 };
	int rc = validate_peers(net->opts.self_id, peers, npeers, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < npeers; i++) {
		fresh[i] = peer_new(net, &peers[i]);
		if (!fresh[i]) {
			st_set_err(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto out_free_fresh;
		}
	}
	pthread_mutex_lock(&net->mu);
	struct net_peer *list = NULL, **tail = &list;
	for (size_t i = 0; i < npeers; i++) {
		struct net_peer **pp = &net->peers;
		while (*pp && (*pp)->id != peers[i].id)
			pp = &(*pp)->next;
		struct net_peer *p = *pp;
		if (p && strcmp(p->addr, peers[i].addr) == 0) {
			*pp = p->next; /* unchanged: keep it */
		} else {
			p = fresh[i];
			fresh[i] = NULL;
		}
		p->next = NULL;
		*tail = p;
		tail = &p->next;
	}
	while (net->peers) { /* the rest leave; the I/O thread frees them */
		struct net_peer *p = net->peers;
		net->peers = p->next;
		p->next = net->graveyard;
		net->graveyard = p;
	}
	net->peers = list;
	pthread_mutex_unlock(&net->mu);
	wake(net);
out_free_fresh:
	for (size_t i = 0; i < npeers; i++)
		free(fresh[i]);
	return rc;
}

void raft_net_stats(struct raft_net *net, struct raft_net_stats *out)
{
	pthread_mutex_lock(&net->mu);
	*out = net->totals;
	out->npeers = 0;
	for (struct net_peer *p = net->peers; p && out->npeers < RAFT_NET_MAX_PEERS; p = p->next) {
		struct raft_net_peer_stats *s = &out->peers[out->npeers++];
		*s = p->st;
		s->queued_bytes = p->queued;
	}
	pthread_mutex_unlock(&net->mu);
}

void raft_net_stop(struct raft_net *net)
{
	if (!net)
		return;
	pthread_mutex_lock(&net->mu);
	net->stopping = true;
	pthread_mutex_unlock(&net->mu);
	wake(net);
	pthread_join(net->thread, NULL);

	struct net_peer *lists[] = { net->peers, net->graveyard };
	for (size_t i = 0; i < 2; i++)
		while (lists[i]) {
			struct net_peer *next = lists[i]->next;
			peer_free(net, lists[i]);
			lists[i] = next;
		}
	while (net->conns)
		conn_close(net, net->conns);
	close(net->listen_fd);
	close(net->wake_fd);
	close(net->epfd);
	pthread_mutex_destroy(&net->mu);
	ctx_free(&net->srv_ctx);
	ctx_free(&net->cli_ctx);
	free(net);
}
