/*
 * The worker's S3 server (s3_server.h): epoll loops, connections, the fast
 * path and the hand-off to the pool. Each connection belongs to one loop
 * thread for its whole life (lent to a pool thread for one request at a
 * time); nothing here is shared between loops except the listener, the
 * pool's queue, the open-file cache (s3_fdcache.h) and the (thread-safe)
 * worker services.
 */
#include "api/s3_server.h"

#include "api/http_fd.h"
#include "api/s3_fdcache.h"
#include "api/s3_backend_worker.h"
#include "api/s3_gateway.h"
#include "api/s3_proto.h"
#include "daemon/worker/blocksvc.h"
#include "daemon/worker/filecache.h"
#include "daemon/worker/pathstats.h"
#include "api/s3_server_http.h"
#include "api/s3_server_tls.h"
#include "daemon/worker/worker.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/placement.h"
#include "tier/tier.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRONT_MAX_HEAD (16u << 10) /* the longest request head possible (cfg.max_head) */
#define FRONT_IN_CAP (32u << 10)   /* client bytes buffered (head, pipelined, body) */
#define FRONT_MAX_BLOCKS 32        /* a longer range goes to the gateway */
#define FRONT_TICK_MS 250
#define FRONT_MAX_EVENTS 256
#define FRONT_BUDGET 32            /* requests per connection per loop turn */
#define FRONT_SEND_BUDGET (512u << 10) /* reply bytes per connection per turn */
#define FRONT_MAX_LOOPS 64
#define FRONT_TLS_BUF (64u << 10)  /* block bytes per pread without kTLS */
/* Without kTLS, plaintext bytes encrypted before the socket must have
 * taken them all (three full records): what a slow reader makes us hold. */
#define FRONT_TLS_BATCH (48u << 10)
/* Without kTLS a hit is encrypted in user space, so its bytes must be
 * read from the block file first: a pread per hit, unless the open-file
 * cache keeps a copy of the block with its open fd (s3fdc_copy: blocks up
 * to FRONT_COPY_MAX_LEN, at most FRONT_COPY_TOTAL bytes in all; freed with
 * the fd or after S3FDC_IDLE_MS unused, or when the block changes). Block
 * files never change in place (tier/tier.h), and every hit checks the
 * block's generation (tier_block_touch), so a copy serves exactly what the
 * file holds. */
#define FRONT_COPY_MAX_LEN (1u << 20)
#define FRONT_COPY_TOTAL (64u << 20)

enum ev_kind { EV_LISTEN, EV_WAKE, EV_CLIENT };

struct ev {
	enum ev_kind kind;
	struct conn *c;
};

enum { T_NONE, T_IDLE, T_HEAD, T_IO }; /* what a connection's deadline is for */

enum cstate {
	CS_TLS_HS, /* TLS handshake (header_timeout_ms) */
	CS_HEAD,  /* waiting for (the rest of) a request head */
	CS_REPLY, /* sending a reply of our own: head, then block files */
	CS_POOL,  /* a pool thread runs the gateway on it (out of the epoll set) */
};

struct seg {
	int fd;
	uint64_t off, len;
	struct s3fdc *fdc;
	struct s3fdc_entry *ent; /* held in fdc; NULL: the segment owns fd */
	uint64_t id, gen;        /* the block (for a report of a bad file) */
	uint64_t data_offset;    /* where its bytes start in fd */
};

struct conn {
	struct ev ev;
	int fd;
	struct loop *lp;
	struct conn *prev, *next;       /* the loop's connections */
	struct conn *ready_next;        /* the loop's ready list */
	bool on_ready;
	enum cstate state;
	bool rd, wr;                    /* readiness (edge-triggered) */
	bool hup;                       /* the peer shut down or reset (no new edge will say so) */
	bool close_after;
	int timer;                      /* T_* */
	int64_t deadline_ms;            /* of timer */
	char *in;
	size_t in_len;
	size_t scanned;                 /* c->in holds no head end before this */
	/* CS_REPLY */
	char *out;
	size_t out_len, out_off;
	struct seg *segs;
	unsigned nsegs, seg_i;
	bool count_read;
	uint64_t body_bytes;
	int64_t start_us;
	/* TLS (NULL: plain) */
	SSL *ssl;
	bool ssl_wants_write;           /* the last SSL_read needs the socket writable */
	bool ssl_failed;                /* a fatal TLS error: no close_notify */
	bool ktls;                      /* the kernel encrypts: sendfile works */
	bool tio_on;                    /* the session runs over tio (no kTLS here) */
	struct s3tls_io tio;            /* its BIO's state: read ends, records kept */
	char *tbuf;                     /* without kTLS: block bytes read, being sent */
	size_t tbuf_len, tbuf_off;
	/* CS_POOL: set by the pool thread, read by the loop once it is back */
	bool pool_keep;
	struct conn *ret_next;   /* the loop's returned list */
};

struct loop {
	struct s3srv *f;
	int ep, wake_fd;
	pthread_t thread;
	struct conn *conns;
	struct conn *ready, *ready_tail; /* FIFO: fair turns */
	bool listening;
	struct ev listen_ev, wake_ev;
	/* Connections accepted by another loop for this one (round robin). */
	pthread_mutex_t qlock;
	int *handed;
	size_t nhanded, cap_handed;
	struct conn *returned; /* back from the pool (qlock) */
};

/* A request for the pool: its connection (CS_POOL) and its parsed head,
 * whose slices point into c->in. */
struct job {
	struct conn *c;
	struct job *next;
	struct s3fh_request r;
};

struct s3srv {
	struct s3srv_config cfg;
	int lfd;
	struct loop loops[FRONT_MAX_LOOPS];
	int nloops;   /* set up (epoll, wake fd) */
	int nstarted; /* of which running a thread */
	atomic_bool stop;
	atomic_uint next_loop;
	char url[160];
	_Atomic bool warned_emfile;
	/* Block files kept open for every loop (s3_fdcache.h), so a hit on a
	 * hot block costs no open(); NULL: none (too few descriptors). */
	struct s3fdc *fdc;
	SSL_CTX *ssl_ctx;   /* NULL: plain HTTP */
	bool own_bio;       /* TLS over s3_server_tls.h's BIO: the kernel has no kTLS */
	atomic_int ktls;    /* s3srv_ktls */
	/* the pool */
	pthread_mutex_t jlock;
	pthread_cond_t jcond;
	struct job *jhead, *jtail;
	int njobs;          /* queued, not yet taken */
	bool jstop;
	pthread_t *pool;
	int npool;          /* started */
	int *running_fd;    /* per pool thread: the client it serves, or -1 */
};

static int64_t now_ms(void)
{
	return clock_mono_ms();
}

/* ---- connections ---- */

static void ready_push(struct conn *c)
{
	if (c->on_ready)
		return;
	c->on_ready = true;
	c->ready_next = NULL;
	if (c->lp->ready_tail)
		c->lp->ready_tail->ready_next = c;
	else
		c->lp->ready = c;
	c->lp->ready_tail = c;
}

/* ---- the front's open block files ---- */

/*
 * An open fd of block id for a reply, counted as a read by the tier
 * (tier_block_open_fd or tier_block_touch). 0 with *seg's fd and ent set;
 * -ENOENT (not cached) or another error.
 */
static int fdc_open(struct loop *lp, uint64_t id, struct seg *seg, struct tier_block_fd *bf)
{
	struct worker_node *w = lp->f->cfg.w;
	struct s3fdc *fdc = lp->f->fdc;
	int64_t now = now_ms();
	struct s3fdc_file file;
	struct s3fdc_entry *e = fdc ? s3fdc_get(fdc, id, now, &file) : NULL;
	seg->fdc = fdc;
	seg->id = id;
	if (e) {
		if (tier_block_touch(w->tiers, id, file.gen) == 0) {
			*bf = (struct tier_block_fd){ .fd = file.fd, .data_offset = file.data_offset,
						     .len = file.len, .gen = file.gen };
			seg->fd = file.fd;
			seg->ent = e;
			seg->gen = file.gen;
			seg->data_offset = file.data_offset;
			atomic_fetch_add_explicit(&w->front.fd_hits, 1, memory_order_relaxed);
			return 0;
		}
		/* Evicted, demoted or replaced: this fd may pin an unlinked
		 * file's space; it closes as soon as no reply uses it. */
		s3fdc_release(fdc, e, true);
	}
	int rc = tier_block_open_fd(w->tiers, id, bf);
	if ((rc == -EMFILE || rc == -ENFILE) && fdc && s3fdc_sweep(fdc, now, true))
		rc = tier_block_open_fd(w->tiers, id, bf); /* kept files gave way */
	seg->fd = rc ? -1 : bf->fd;
	seg->ent = NULL;
	seg->gen = bf->gen;
	seg->data_offset = bf->data_offset;
	if (rc)
		return rc;
	atomic_fetch_add_explicit(&w->front.fd_opens, 1, memory_order_relaxed);
	if (fdc) {
		file = (struct s3fdc_file){ bf->fd, bf->gen, bf->data_offset, bf->len };
		seg->ent = s3fdc_put(fdc, id, &file, now);
	}
	return 0;
}

static void fdc_forget(void *arg, uint64_t id, uint64_t gen)
{
	s3fdc_forget(arg, id, gen);
}

static void seg_release(struct seg *s)
{
	if (s->ent)
		s3fdc_release(s->fdc, s->ent, false);
	else
		close(s->fd);
}

/*
 * The cached copy of segment s's block into *data (the block's first
 * byte): 0; 1 read the file instead (no entry, a big block, the copies'
 * budget spent, out of memory); -1 the file is shorter than its header
 * says (the tier is told and drops the block, so the next request reads
 * the object through).
 */
static int seg_copy(struct loop *lp, const struct seg *s, const char **data)
{
	if (!s->ent)
		return 1;
	int rc = s3fdc_copy(s->fdc, s->ent, FRONT_COPY_MAX_LEN, data);
	if (rc < 0)
		tier_block_report_corrupt(lp->f->cfg.w->tiers, s->id, s->gen);
	return rc;
}

static void reply_reset(struct conn *c)
{
	for (unsigned i = c->seg_i; i < c->nsegs; i++)
		seg_release(&c->segs[i]);
	free(c->segs);
	c->segs = NULL;
	c->nsegs = c->seg_i = 0;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	free(c->tbuf);
	c->tbuf = NULL;
	c->tbuf_len = c->tbuf_off = 0;
	c->count_read = false;
	c->body_bytes = 0;
}

static void conn_close(struct conn *c)
{
	struct loop *lp = c->lp;
	reply_reset(c);
	if (c->ssl) {
		/* close_notify when the session is sound (best effort: the
		 * socket does not block, and nobody waits for the peer's). */
		ERR_clear_error();
		if (c->state != CS_TLS_HS && !c->ssl_failed)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	s3tls_io_reset(&c->tio);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		lp->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->on_ready) {
		struct conn *prev = NULL;
		for (struct conn **pp = &lp->ready; *pp; prev = *pp, pp = &(*pp)->ready_next) {
			if (*pp == c) {
				*pp = c->ready_next;
				if (lp->ready_tail == c)
					lp->ready_tail = prev;
				break;
			}
		}
	}
	free(c->in);
	atomic_fetch_sub(&lp->f->cfg.w->front.open, 1);
	free(c);
}

static void consume_in(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	c->scanned = 0;
}

/*
 * Empties this thread's OpenSSL error queue before an SSL call, so that
 * SSL_get_error after it sees that call's errors only. ERR_clear_error
 * walks and frees every slot of the queue each time (3% of a TLS loop's
 * CPU at 64 connections in perf, with three calls per hit); the queue is
 * almost always empty, and ERR_peek_error, which is what SSL_get_error
 * consults, says so cheaply.
 */
static void tls_clear_errors(void)
{
	if (ERR_peek_error())
		ERR_clear_error();
}

/*
 * After an SSL call on c returned rc <= 0: true if it only has to wait
 * (for the socket to become readable or writable; the readiness flag is
 * cleared so the loop waits for the edge), false on a real error or the
 * end of the session.
 */
static bool tls_would_block(struct conn *c, int rc)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		c->rd = false;
		c->ssl_wants_write = false;
		return true;
	case SSL_ERROR_WANT_WRITE:
		c->wr = false;
		c->ssl_wants_write = true;
		return true;
	case SSL_ERROR_ZERO_RETURN: /* close_notify: a clean end */
		return false;
	default:
		c->ssl_failed = true;
		return false;
	}
}

/* Whether reading c may make progress now. */
static bool can_read(const struct conn *c)
{
	return c->ssl && c->ssl_wants_write ? c->wr : c->rd;
}

/* Sends up to len bytes. >0 sent, 0 would block, -1 the client is gone. */
static ssize_t conn_send(struct conn *c, const void *p, size_t len, int more)
{
	if (c->ssl) {
		tls_clear_errors();
		int n = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
		if (n > 0)
			return n;
		return tls_would_block(c, n) ? 0 : -1;
	}
	for (;;) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | more);
		if (n >= 0)
			return n ? n : -1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->wr = false;
			return 0;
		}
		return -1;
	}
}

/* Sends up to want bytes of block segment s from its file: sendfile, or
 * SSL_sendfile under kTLS. Same returns as conn_send. */
static ssize_t seg_sendfile(struct conn *c, struct seg *s, size_t want)
{
	if (c->ssl) {
		tls_clear_errors();
		ossl_ssize_t n = SSL_sendfile(c->ssl, s->fd, (off_t)s->off, want, 0);
		if (n > 0)
			return n;
		return tls_would_block(c, (int)n) ? 0 : -1;
	}
	for (;;) {
		off_t off = (off_t)s->off;
		ssize_t n = sendfile(c->fd, s->fd, &off, want);
		if (n > 0)
			return n;
		if (n == 0)
			return -1; /* the block file is shorter than it said */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->wr = false;
			return 0;
		}
		return -1;
	}
}

/* Without kTLS: the next bytes of s into c->tbuf (they leave by
 * SSL_write). 0, or -1 (a read error or a file shorter than it said). */
static int seg_read(struct conn *c, struct seg *s)
{
	if (!c->tbuf && !(c->tbuf = malloc(FRONT_TLS_BUF)))
		return -1;
	size_t want = s->len > FRONT_TLS_BUF ? FRONT_TLS_BUF : (size_t)s->len;
	for (;;) {
		ssize_t n = pread(s->fd, c->tbuf, want, (off_t)s->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s->off += (uint64_t)n;
		s->len -= (uint64_t)n;
		c->tbuf_off = 0;
		c->tbuf_len = (size_t)n;
		return 0;
	}
}

/* Reads what fits into c->in. 1 read something, 0 would block, -1 EOF or
 * error (the caller closes). */
static int fill_in(struct conn *c)
{
	if (!c->in && !(c->in = malloc(FRONT_IN_CAP)))
		return -1;
	if (c->in_len >= FRONT_IN_CAP)
		return 0;
	size_t want = FRONT_IN_CAP - c->in_len;
	if (c->ssl) {
		tls_clear_errors();
		int got = SSL_read(c->ssl, c->in + c->in_len, (int)want);
		if (got > 0) {
			c->in_len += (size_t)got;
			c->ssl_wants_write = false;
			/* No short-read shortcut (docs/decisions.md): the next
			 * SSL_read says WANT_READ when nothing is left. */
			return 1;
		}
		return tls_would_block(c, got) ? 0 : -1;
	}
	ssize_t n = recv(c->fd, c->in + c->in_len, want, 0);
	if (n > 0) {
		c->in_len += (size_t)n;
		/* A short read took all there was: what comes next raises an
		 * edge (EPOLLET), so no recv that would only say EAGAIN (one
		 * syscall less per request), unless the peer hung up: that
		 * edge came with these bytes. */
		if ((size_t)n < want && !c->hup)
			c->rd = false;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		c->rd = false;
		return 0;
	}
	if (n < 0 && errno == EINTR)
		return 1;
	return -1;
}

static void set_timer(struct conn *c, int timer)
{
	const struct s3srv_config *cfg = &c->lp->f->cfg;
	c->timer = timer;
	c->deadline_ms = now_ms() + (timer == T_IDLE	  ? cfg->idle_timeout_ms
				     : timer == T_HEAD ? cfg->header_timeout_ms
						       : cfg->io_timeout_ms);
}

static void set_io_deadline(struct conn *c)
{
	set_timer(c, T_IO);
}

/* ---- replies of our own ---- */

/* An S3 error reply; the connection closes after it (the request may have
 * had a body we did not read, or its head was not understood). */
static void reply_error(struct conn *c, int status, const char *code, const char *msg,
			const char *resource)
{
	struct s3srv *f = c->lp->f;
	char rid[S3_GW_REQUEST_ID_LEN];
	s3_gw_request_id(f->cfg.gw, rid);
	char *xml = NULL;
	size_t xlen = 0;
	if (s3_xml_error(code, msg, resource, rid, &xml, &xlen))
		xlen = 0;
	size_t cap = xlen + 512;
	reply_reset(c);
	c->out = malloc(cap);
	if (!c->out) {
		free(xml);
		c->close_after = true;
		return;
	}
	int n = snprintf(c->out, cap,
			 "HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n"
			 "Content-Length: %zu\r\nx-amz-request-id: %s\r\nx-amz-id-2: %s\r\n"
			 "Server: strata\r\nConnection: close\r\n\r\n",
			 status, s3fh_reason(status), xlen, rid, rid);
	if (n > 0 && (size_t)n + xlen <= cap) {
		if (xlen)
			memcpy(c->out + n, xml, xlen);
		c->out_len = (size_t)n + xlen;
	}
	free(xml);
	c->close_after = true;
	c->state = CS_REPLY;
	set_io_deadline(c);
}

/* Whether c->in holds the end of a head (an empty line); remembers how far
 * it looked, so a head that trickles in byte by byte is scanned once. */
static bool head_complete(struct conn *c)
{
	size_t from = c->scanned > 2 ? c->scanned - 2 : 0;
	for (size_t i = from; i < c->in_len; i++) {
		if (c->in[i] != '\n')
			continue;
		if ((i + 1 < c->in_len && c->in[i + 1] == '\n') ||
		    (i + 2 < c->in_len && c->in[i + 1] == '\r' && c->in[i + 2] == '\n'))
			return true;
	}
	c->scanned = c->in_len;
	return false;
}

/* All of p through the session, corked (the BIO never refuses a record).
 * 0, or -1: the session is unusable (the peer left, out of memory). */
static int tls_put(struct conn *c, const char *p, size_t len)
{
	while (len) {
		tls_clear_errors();
		int n = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
		if (n <= 0) {
			c->ssl_failed = true; /* no close_notify */
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Encrypts (corked) at most want next bytes of block segment s, from the
 * cache's copy of the block or read into c->tbuf. 0 with *n, or -1: a read
 * error, a file shorter than it said, or a session error.
 */
static int seg_encrypt(struct conn *c, struct seg *s, size_t want, size_t *n)
{
	if (want > s->len)
		want = (size_t)s->len;
	const char *block;
	int copied = seg_copy(c->lp, s, &block);
	if (copied < 0)
		return -1;
	if (copied == 0) {
		*n = want;
		return tls_put(c, block + (s->off - s->data_offset), want);
	}
	if (!c->tbuf && !(c->tbuf = malloc(FRONT_TLS_BUF)))
		return -1;
	if (want > FRONT_TLS_BUF)
		want = FRONT_TLS_BUF;
	for (;;) {
		ssize_t got = pread(s->fd, c->tbuf, want, (off_t)s->off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		*n = (size_t)got;
		return tls_put(c, c->tbuf, (size_t)got);
	}
}

/*
 * send_reply for a session over our BIO (no kTLS): encrypts the next
 * FRONT_TLS_BATCH bytes of the reply (head, then block bytes) with the BIO
 * corked (the head record leaves with the first body record: one sendmsg
 * per 16 KiB hit), and encrypts more only once the socket took all of
 * them: a slow reader makes us hold one batch at most. Same returns as
 * send_reply.
 */
static int send_reply_tls(struct conn *c)
{
	uint64_t sent = 0, progress = c->tio.sent;
	for (;;) {
		int rc = s3tls_flush(&c->tio);
		if (rc < 0)
			return -1;
		if (c->tio.sent != progress) {
			progress = c->tio.sent;
			set_io_deadline(c);
		}
		if (rc == 0) {
			c->wr = false;
			return 0;
		}
		if (c->out_off == c->out_len && c->seg_i == c->nsegs)
			return 1;
		if (sent >= FRONT_SEND_BUDGET)
			return 2;
		size_t batch = 0;
		int err = 0;
		s3tls_cork(&c->tio, true);
		if (c->out_off < c->out_len) {
			err = tls_put(c, c->out + c->out_off, c->out_len - c->out_off);
			batch += c->out_len - c->out_off;
			c->out_off = c->out_len;
		}
		while (!err && batch < FRONT_TLS_BATCH && c->seg_i < c->nsegs) {
			struct seg *s = &c->segs[c->seg_i];
			if (!s->len) {
				seg_release(s);
				c->seg_i++;
				continue;
			}
			size_t n;
			err = seg_encrypt(c, s, FRONT_TLS_BATCH - batch, &n);
			if (!err) {
				s->off += n;
				s->len -= n;
				batch += n;
				atomic_fetch_add(&c->lp->f->cfg.w->front.bytes, (uint64_t)n);
			}
		}
		s3tls_cork(&c->tio, false);
		if (err) {
			/* A reply that cannot be finished: the records still kept
			 * are dropped, and no close_notify follows what left (the
			 * client must see a cut, not a clean end). */
			c->ssl_failed = true;
			s3tls_io_reset(&c->tio);
			return -1;
		}
		sent += batch;
	}
}

/*
 * Sends what is pending of an own reply. 1 done, 0 would block, 2 its
 * turn is over (FRONT_SEND_BUDGET: one big reply must not hold the loop
 * while other connections wait), -1 the client is gone.
 */
static int send_reply(struct conn *c)
{
	if (c->tio_on)
		return send_reply_tls(c);
	uint64_t sent = 0;
	for (;;) {
		if (sent >= FRONT_SEND_BUDGET)
			return 2;
		bool own = c->out_off < c->out_len;
		if (own || c->tbuf_off < c->tbuf_len) {
			int more = own && c->seg_i < c->nsegs ? MSG_MORE : 0;
			ssize_t n = own ? conn_send(c, c->out + c->out_off, c->out_len - c->out_off, more)
					: conn_send(c, c->tbuf + c->tbuf_off, c->tbuf_len - c->tbuf_off, 0);
			if (n <= 0)
				return n == 0 ? 0 : -1;
			if (own) {
				c->out_off += (size_t)n;
			} else {
				c->tbuf_off += (size_t)n;
				atomic_fetch_add(&c->lp->f->cfg.w->front.bytes, (uint64_t)n);
			}
			sent += (uint64_t)n;
			set_io_deadline(c);
			continue;
		}
		if (c->seg_i < c->nsegs) {
			struct seg *s = &c->segs[c->seg_i];
			if (!s->len) {
				seg_release(s);
				c->seg_i++;
				continue;
			}
			if (c->ssl && !c->ktls) {
				if (seg_read(c, s))
					return -1;
				continue;
			}
			size_t want = s->len > FRONT_SEND_BUDGET ? FRONT_SEND_BUDGET : (size_t)s->len;
			ssize_t n = seg_sendfile(c, s, want);
			if (n <= 0)
				return n == 0 ? 0 : -1;
			s->off += (uint64_t)n;
			s->len -= (uint64_t)n;
			sent += (uint64_t)n;
			atomic_fetch_add(&c->lp->f->cfg.w->front.bytes, (uint64_t)n);
			set_io_deadline(c);
			continue;
		}
		return 1;
	}
}

/* ---- the fast path ---- */

/* A reply head being assembled; p becomes NULL if it does not fit. */
struct hbuf {
	char *p, *end;
};

static void hb_mem(struct hbuf *b, const char *s, size_t n)
{
	if (!b->p || (size_t)(b->end - b->p) < n) {
		b->p = NULL;
		return;
	}
	memcpy(b->p, s, n);
	b->p += n;
}

static void hb_put(struct hbuf *b, const char *s)
{
	hb_mem(b, s, strlen(s));
}

static void hb_u64(struct hbuf *b, uint64_t v)
{
	char d[20];
	int n = 0;
	do {
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	hb_mem(b, d + sizeof(d) - n, (size_t)n);
}

/* Why a request is not served here; the gateway gets it instead. */
#define SLOW 1

/* Length of the path part of target when its query holds nothing but a
 * presigned URL's X-Amz-* parameters (which change who asks, not what
 * S3 does), or 0. */
static size_t presigned_path_len(const char *target, size_t len)
{
	const char *q = memchr(target, '?', len);
	if (!q)
		return 0;
	bool sig = false;
	for (const char *p = q + 1, *end = target + len; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		if ((size_t)(e - p) < 6 || memcmp(p, "X-Amz-", 6) != 0)
			return 0;
		sig |= (size_t)(e - p) > 16 && !memcmp(p, "X-Amz-Signature=", 16);
		p = e + 1;
	}
	return sig ? (size_t)(q - target) : 0;
}

/* Whether a request is of the kind the fast path answers: GET or HEAD
 * (*head) of a path without a query (every query changes what S3 does;
 * a presigned URL's X-Amz-* parameters alone are fine), without a body,
 * conditions, Expect or several Ranges (cfg.fast). */
static bool fast_kind(const struct s3srv *f, const struct s3fh_request *r, bool *head)
{
	if (r->method.len == 3 && memcmp(r->method.p, "GET", 3) == 0)
		*head = false;
	else if (r->method.len == 4 && memcmp(r->method.p, "HEAD", 4) == 0)
		*head = true;
	else
		return false;
	return f->cfg.fast && !(r->has_length && r->content_length) && !r->chunked &&
	       !r->expect && !r->conditional && r->nrange <= 1 && r->target.len < 4096 &&
	       r->target.p[0] == '/' &&
	       (!memchr(r->target.p, '?', r->target.len) ||
		presigned_path_len(r->target.p, r->target.len)) &&
	       !memchr(r->target.p, '#', r->target.len);
}

/*
 * Opens every block of [first, first + len) of the file m describes, before
 * anything goes out: blocks are immutable files, so an open fd keeps
 * serving the same bytes even if the block is evicted meanwhile. 0 with
 * *out (malloc'd, *n segments, the caller's) or SLOW when a block is
 * missing, shorter than the file says (the slow path sorts that out) or
 * the range spans more than FRONT_MAX_BLOCKS.
 */
static int open_range(struct loop *lp, const struct fcache_meta *m, uint64_t first,
		      uint64_t len, struct seg **out, unsigned *n)
{
	uint64_t bs = (uint64_t)m->block_size;
	uint64_t bfirst = first / bs, blast = (first + len - 1) / bs;
	if (blast - bfirst + 1 > FRONT_MAX_BLOCKS)
		return SLOW;
	struct seg *segs = malloc((size_t)(blast - bfirst + 1) * sizeof(*segs));
	if (!segs)
		return SLOW;
	unsigned k = 0;
	for (uint64_t i = bfirst; i <= blast; i++) {
		struct tier_block_fd bf;
		struct seg *sg = &segs[k];
		uint64_t lo = i == bfirst ? first % bs : 0;
		uint64_t hi = i == blast ? (first + len - 1) % bs + 1 : bs;
		if (fdc_open(lp, placement_block_id(m->data_id, i), sg, &bf))
			break;
		if (hi > bf.len) {
			seg_release(sg);
			break;
		}
		sg->off = bf.data_offset + lo;
		sg->len = hi - lo;
		k++;
	}
	if (k != blast - bfirst + 1) {
		for (unsigned i = 0; i < k; i++)
			seg_release(&segs[i]);
		free(segs);
		return SLOW;
	}
	*out = segs;
	*n = k;
	return 0;
}

/* What a fast reply says. */
struct fast_reply {
	const struct fcache_meta *m;
	bool partial, keep;
	uint64_t first, last, len;
};

/* The reply head into c->out: the gateway's object head
 * (s3_gw_object_head, the one builder for hits and misses), then the
 * headers the gateway adds to every reply. -ENOMEM. */
static int build_head(struct conn *c, const struct fast_reply *fr)
{
	struct s3_object_info info = { .size = fr->m->length, .mtime = fr->m->mtime_ms / 1000 };
	snprintf(info.etag, sizeof(info.etag), "%s", fr->m->etag);
	struct s3_gw_object_head oh;
	s3_gw_object_head(&info, fr->partial, fr->first, fr->last, &oh);
	char rid[S3_GW_REQUEST_ID_LEN];
	s3_gw_request_id(c->lp->f->cfg.gw, rid);
	/* Date: formatted once a second. */
	static __thread int64_t date_sec = -1;
	static __thread char date[32];
	int64_t sec = (int64_t)time(NULL);
	if (sec != date_sec) {
		s3_time_http(sec, date);
		date_sec = sec;
	}
	if (!(c->out = malloc(1024)))
		return -ENOMEM;
	struct hbuf hb = { c->out, c->out + 1024 };
	hb_put(&hb, oh.status == 206 ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n");
	hb_put(&hb, "Content-Type: ");
	hb_put(&hb, oh.content_type);
	hb_put(&hb, "\r\nContent-Length: ");
	hb_u64(&hb, oh.length);
	hb_put(&hb, "\r\nx-amz-request-id: ");
	hb_put(&hb, rid);
	hb_put(&hb, "\r\nx-amz-id-2: ");
	hb_put(&hb, rid);
	hb_put(&hb, "\r\nServer: strata\r\n");
	for (size_t i = 0; i < oh.nh; i++) {
		hb_put(&hb, oh.h[i].name);
		hb_put(&hb, ": ");
		hb_put(&hb, oh.h[i].value);
		hb_put(&hb, "\r\n");
	}
	hb_put(&hb, "Date: ");
	hb_put(&hb, date);
	hb_put(&hb, fr->keep ? "\r\nConnection: keep-alive\r\n\r\n"
			     : "\r\nConnection: close\r\n\r\n");
	if (!hb.p) { /* cannot happen: every part is bounded */
		free(c->out);
		c->out = NULL;
		return -ENOMEM;
	}
	c->out_len = (size_t)(hb.p - c->out);
	c->out_off = 0;
	return 0;
}

/* Request headers for the SigV4 verifier, NUL-terminated copies of the
 * head's slices (the first of a repeated name, as the gateway sees it). */
struct fast_headers {
	const struct s3fh_request *r;
	size_t used;
	char buf[FRONT_MAX_HEAD];
};

static const char *fast_header(void *arg, const char *name)
{
	struct fast_headers *h = arg;
	size_t nlen = strlen(name);
	for (unsigned i = 0; i < h->r->nheaders; i++) {
		const struct s3fh_field *f = &h->r->fields[i];
		if (f->name.len != nlen || strncasecmp(f->name.p, name, nlen) != 0)
			continue;
		if (f->value.len + 1 > sizeof(h->buf) - h->used)
			return NULL; /* cannot happen within one head; the gateway decides */
		char *v = h->buf + h->used;
		memcpy(v, f->value.p, f->value.len);
		v[f->value.len] = '\0';
		h->used += f->value.len + 1;
		return v;
	}
	return NULL;
}

/*
 * The access decision for a hit (s3_gw_authorize, the gateway's own): 0
 * allowed, with *is_signed; anything else goes to the gateway, which
 * decides again and words the error. SigV4 of a GET/HEAD needs no body,
 * so it is checked here, in the loop: signed hits stay on the fast path.
 */
static int fast_authorize(struct s3srv *f, const struct s3fh_request *r, const char *method,
			  const char *raw_path, const char *raw_query, const struct s3_request *sr,
			  bool *is_signed)
{
	*is_signed = false;
	if (!s3_gw_auth_required(f->cfg.gw))
		return 0;
	static __thread struct fast_headers h; /* 16 KiB: off the stack */
	h.r = r;
	h.used = 0;
	struct s3_auth_input in = { .method = method, .raw_path = raw_path, .raw_query = raw_query,
				    .header = fast_header, .header_arg = &h,
				    .now = s3_gw_now(f->cfg.gw) };
	struct s3_auth_result res;
	char err[256];
	int rc = s3_gw_authorize(f->cfg.gw, &in, sr, &res, is_signed, err, sizeof(err));
	s3_auth_result_wipe(&res);
	return rc ? SLOW : 0;
}

/*
 * Tries to answer a GET/HEAD from the cache. 0: c is set up to send the
 * reply; SLOW: hand it to the gateway (nothing was sent or kept).
 */
static int try_fast(struct conn *c, const struct s3fh_request *r)
{
	struct s3srv *f = c->lp->f;
	struct worker_node *w = f->cfg.w;
	bool head;
	char raw[4096], range[128];
	if (!fast_kind(f, r, &head) || r->range.len >= sizeof(range))
		return SLOW;
	memcpy(raw, r->target.p, r->target.len);
	raw[r->target.len] = '\0';
	const char *query = NULL;
	size_t plen = presigned_path_len(raw, r->target.len);
	if (plen) { /* "/b/k?X-Amz-...": the path, and the query to verify */
		raw[plen] = '\0';
		query = raw + plen + 1;
	}
	if (r->nrange)
		memcpy(range, r->range.p, r->range.len);
	range[r->nrange ? r->range.len : 0] = '\0';
	int64_t start_us = bsvc_now_us();
	struct s3_http_in hin = { head ? "HEAD" : "GET", raw, NULL, NULL };
	struct s3_request sr;
	char err[256];
	if (s3_classify(&hin, &sr, err, sizeof(err)))
		return SLOW;
	int rc = SLOW;
	char path[PATH_MAX_LEN + 1];
	struct fcache_meta m;
	struct fast_reply fr = { .m = &m, .keep = s3fh_keep_alive(r) };
	struct seg *segs = NULL;
	unsigned nsegs = 0;
	if ((sr.op != S3_OP_GET_OBJECT && sr.op != S3_OP_HEAD_OBJECT) || sr.dir_marker ||
	    s3_backend_worker_path(sr.bucket, sr.key, path, sizeof(path)) ||
	    fcache_peek(w->fcache, path, &m) || m.block_size <= 0 ||
	    s3_range_parse(r->nrange ? range : NULL, m.length, &fr.partial, &fr.first, &fr.last))
		goto out_free_req; /* (a 416 too: the gateway words it) */
	bool is_signed;
	if (fast_authorize(f, r, hin.method, raw, query, &sr, &is_signed))
		goto out_free_req;
	if (!fr.partial)
		fr.first = 0;
	fr.len = fr.partial ? fr.last - fr.first + 1 : m.length;
	if (!head && fr.len && open_range(c->lp, &m, fr.first, fr.len, &segs, &nsegs))
		goto out_free_req;
	reply_reset(c);
	if (build_head(c, &fr)) {
		for (unsigned i = 0; i < nsegs; i++)
			seg_release(&segs[i]);
		free(segs);
		goto out_free_req;
	}
	c->segs = segs;
	c->nsegs = nsegs;
	c->close_after = !fr.keep;
	c->count_read = nsegs > 0;
	c->body_bytes = head ? 0 : fr.len;
	c->start_us = start_us;
	c->state = CS_REPLY;
	atomic_fetch_add(&w->front.hits, 1);
	if (nsegs && w->pstats)
		pathstats_cached_read(w->pstats, path, fr.len, nsegs, start_us / 1000);
	if (is_signed)
		atomic_fetch_add(&w->front.hits_signed, 1);
	rc = 0;
out_free_req:
	s3_request_free(&sr);
	return rc;
}

/* The reply went out completely. */
static void reply_done(struct conn *c)
{
	struct worker_node *w = c->lp->f->cfg.w;
	if (c->count_read)
		bsvc_count_cached_read(w->bsvc, c->nsegs, c->body_bytes, c->start_us);
	reply_reset(c);
	c->state = CS_HEAD;
}

/* ---- the pool: every request the loop does not answer itself ---- */

/* Called by a pool thread: gives c back to its loop (pool_keep says
 * whether it goes on or closes). */
static void give_back(struct conn *c)
{
	struct loop *lp = c->lp;
	pthread_mutex_lock(&lp->qlock);
	bool wake = !lp->returned && !lp->nhanded;
	c->ret_next = lp->returned;
	lp->returned = c;
	pthread_mutex_unlock(&lp->qlock);
	uint64_t one = 1;
	if (wake && write(lp->wake_fd, &one, sizeof(one)) < 0)
		log_debug("S3 front: wake: %s", strerror(errno));
}

/* NUL-terminates the head's pieces in place (c->in is the pool thread's
 * now, and nothing reads the head as text again) and runs the gateway. */
static void run_job(struct s3srv *f, struct job *j)
{
	struct conn *c = j->c;
	struct s3fh_request *r = &j->r;
	struct http_fd_field fields[S3FH_MAX_HEADERS];
	char *in = c->in;
	for (unsigned i = 0; i < r->nheaders; i++) {
		char *name = in + (r->fields[i].name.p - in);
		char *value = in + (r->fields[i].value.p - in);
		name[r->fields[i].name.len] = '\0';  /* was ':' */
		value[r->fields[i].value.len] = '\0'; /* was white space or a line end */
		fields[i] = (struct http_fd_field){ name, value };
	}
	char *method = in + (r->method.p - in);
	char *target = in + (r->target.p - in);
	method[r->method.len] = '\0';
	target[r->target.len] = '\0';
	char *q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	struct http_fd_conn fc = {
		.fd = c->fd,
		.ssl = c->ssl,
		.method = method,
		.path = target,
		.query = q,
		.fields = fields,
		.nfields = r->nheaders,
		.client_keep = s3fh_keep_alive(r),
		.has_length = r->has_length,
		.content_length = r->content_length,
		.chunked = r->chunked,
		.expect = r->expect,
		.buffered = in + r->head_len,
		.nbuffered = c->in_len - r->head_len,
		.io_timeout_ms = f->cfg.io_timeout_ms,
	};
	http_fd_serve(&fc, s3_gw_handle, f->cfg.gw);
	if (fc.tls_failed)
		c->ssl_failed = true;
	c->pool_keep = fc.keep && fc.nrest <= FRONT_IN_CAP;
	c->in_len = 0;
	c->scanned = 0;
	if (c->pool_keep && fc.nrest) {
		memcpy(c->in, fc.rest, fc.nrest); /* pipelined requests */
		c->in_len = fc.nrest;
	}
	free(fc.rest);
}

struct pool_arg {
	struct s3srv *f;
	int slot;
};

static void *pool_main(void *arg)
{
	struct s3srv *f = ((struct pool_arg *)arg)->f;
	int slot = ((struct pool_arg *)arg)->slot;
	free(arg);
	pthread_mutex_lock(&f->jlock);
	for (;;) {
		while (!f->jstop && !f->jhead)
			pthread_cond_wait(&f->jcond, &f->jlock);
		if (f->jstop)
			break;
		struct job *j = f->jhead;
		f->jhead = j->next;
		if (!f->jhead)
			f->jtail = NULL;
		f->njobs--;
		f->running_fd[slot] = j->c->fd;
		pthread_mutex_unlock(&f->jlock);
		run_job(f, j);
		pthread_mutex_lock(&f->jlock);
		f->running_fd[slot] = -1;
		pthread_mutex_unlock(&f->jlock);
		give_back(j->c);
		free(j);
		pthread_mutex_lock(&f->jlock);
	}
	pthread_mutex_unlock(&f->jlock);
	return NULL;
}

/* Hands c's request (head parsed in r, at the start of c->in) to the
 * pool; a full queue gets 503 SlowDown instead. */
static void hand_to_pool(struct conn *c, const struct s3fh_request *r)
{
	struct s3srv *f = c->lp->f;
	struct job *j = malloc(sizeof(*j));
	pthread_mutex_lock(&f->jlock);
	bool full = f->njobs >= f->cfg.queue_max;
	pthread_mutex_unlock(&f->jlock);
	if (!j || full || epoll_ctl(c->lp->ep, EPOLL_CTL_DEL, c->fd, NULL)) {
		free(j);
		reply_error(c, 503, "SlowDown", "Please reduce your request rate.", "");
		c->in_len = 0;
		c->scanned = 0;
		return;
	}
	j->c = c;
	j->next = NULL;
	j->r = *r;
	c->state = CS_POOL;
	c->timer = T_NONE;
	atomic_fetch_add(&f->cfg.w->front.proxied, 1);
	if (r->authorization || memmem(r->target.p, r->target.len, "X-Amz-Signature=", 16))
		atomic_fetch_add(&f->cfg.w->front.proxied_signed, 1);
	pthread_mutex_lock(&f->jlock);
	if (f->jtail)
		f->jtail->next = j;
	else
		f->jhead = j;
	f->jtail = j;
	f->njobs++;
	pthread_cond_signal(&f->jcond);
	pthread_mutex_unlock(&f->jlock);
}

/* Takes back the connections the pool is done with. */
static void adopt_returned(struct loop *lp, struct conn *list)
{
	while (list) {
		struct conn *c = list;
		list = c->ret_next;
		c->ret_next = NULL;
		c->state = CS_HEAD;
		c->close_after = false;
		struct epoll_event ee = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
					  .data.ptr = &c->ev };
		if (!c->pool_keep || epoll_ctl(lp->ep, EPOLL_CTL_ADD, c->fd, &ee)) {
			conn_close(c);
			continue;
		}
		c->rd = c->wr = true;
		ready_push(c);
	}
}

static void bad_request(struct conn *c, const char *msg)
{
	atomic_fetch_add(&c->lp->f->cfg.w->front.bad_requests, 1);
	reply_error(c, 400, "InvalidRequest", msg, "");
	c->in_len = 0;
	c->scanned = 0;
}

/* The handshake is done: whether hits can use sendfile (kTLS). */
static void tls_ready(struct conn *c)
{
	struct s3srv *f = c->lp->f;
	c->ktls = BIO_get_ktls_send(SSL_get_wbio(c->ssl)) == 1;
	int was = atomic_exchange(&f->ktls, c->ktls ? 1 : 0);
	if (was != (c->ktls ? 1 : 0))
		log_info("S3 server: TLS (%s) %s", SSL_get_version(c->ssl),
			 c->ktls	 ? "with kTLS: hits keep sendfile"
			 : c->tio_on ? "without kTLS (the kernel or OpenSSL lacks it): hits are "
				       "encrypted from copies of hot blocks, one write per reply"
				     : "without kTLS (the kernel declined this session): hits are "
				       "read and written through OpenSSL");
}

/* Handles the complete head at the start of c->in. */
static void handle_request(struct conn *c, const struct s3fh_request *r)
{
	if (try_fast(c, r) == 0) {
		consume_in(c, r->head_len);
		set_io_deadline(c);
		return;
	}
	hand_to_pool(c, r);
}

/* Runs c as far as it goes without blocking; frees it when it ends. */
static void conn_drive(struct conn *c)
{
	int budget = FRONT_BUDGET;
	for (;;) {
		if (c->state == CS_TLS_HS) {
			tls_clear_errors();
			int rc = SSL_do_handshake(c->ssl);
			if (rc == 1) {
				/* The handshake may have run on a write edge, and with
				 * read-ahead (our BIO) its last recv may have taken the
				 * first request along with the client's Finished: the
				 * bytes are in the session now and no read edge follows
				 * for them, so read as if one had come (at worst one
				 * recv that says EAGAIN). */
				c->rd = true;
				tls_ready(c);
				c->state = CS_HEAD;
				set_timer(c, T_IDLE);
				continue;
			}
			if (tls_would_block(c, rc))
				return;
			/* Plain HTTP on the TLS port, a bad hello, a peer that
			 * left mid-handshake: nothing to answer in. */
			log_debug("S3 server: TLS handshake failed");
			conn_close(c);
			return;
		}
		if (c->state == CS_HEAD) {
			if (c->close_after) {
				conn_close(c);
				return;
			}
			if (budget-- <= 0) {
				ready_push(c);
				return;
			}
			struct s3fh_request r;
			int rc = c->in_len && head_complete(c) ? s3fh_parse_request(c->in, c->in_len, &r)
							       : 0;
			if (rc < 0) {
				bad_request(c, "malformed request head");
				continue;
			}
			size_t max_head = c->lp->f->cfg.max_head;
			if (rc > 0 && r.head_len <= max_head) {
				handle_request(c, &r);
				continue;
			}
			if (rc > 0 || c->in_len >= max_head) {
				char why[96];
				snprintf(why, sizeof(why),
					 "request head too large (%zu bytes at most: http.max_header_size)",
					 max_head);
				bad_request(c, why);
				continue;
			}
			if (!can_read(c)) {
				/* Waiting: for a next request (idle) or the rest of
				 * this head (header timeout since its first wait). */
				int want = c->in_len ? T_HEAD : T_IDLE;
				if (!c->in_len) {
					free(c->in); /* idle: keep nothing */
					c->in = NULL;
					s3tls_io_reset(&c->tio); /* (all sent) */
				}
				if (c->timer != want)
					set_timer(c, want);
				return;
			}
			if (fill_in(c) < 0) {
				conn_close(c);
				return;
			}
			continue;
		}
		if (c->state == CS_REPLY) {
			int rc = send_reply(c);
			if (rc < 0) {
				conn_close(c);
				return;
			}
			if (rc == 0)
				return;
			if (rc == 2) {
				ready_push(c); /* more next turn, after the others */
				return;
			}
			reply_done(c);
			c->timer = T_NONE;
			continue;
		}
		return; /* CS_POOL: the pool thread's until it gives it back */
	}
}

static void conn_timeout(struct conn *c)
{
	if (c->state == CS_HEAD && c->timer == T_HEAD) {
		/* Slow head (slowloris): say so, then close. */
		bad_request(c, "request head not received in time");
		set_io_deadline(c);
		conn_drive(c);
		return;
	}
	conn_close(c);
}

/* ---- loops ---- */

/* Makes fd (an accepted client) one of lp's connections. */
static void adopt(struct loop *lp, int fd)
{
	struct s3srv *f = lp->f;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->lp = lp;
	c->ev = (struct ev){ EV_CLIENT, c };
	c->rd = c->wr = true;
	c->state = CS_HEAD;
	set_timer(c, T_IDLE);
	if (f->ssl_ctx) {
		BIO *bio = NULL;
		c->tio.fd = fd;
		if (!(c->ssl = SSL_new(f->ssl_ctx)) ||
		    (f->own_bio ? !(bio = s3tls_bio_new(&c->tio)) : SSL_set_fd(c->ssl, fd) != 1)) {
			SSL_free(c->ssl);
			ERR_clear_error();
			close(fd);
			free(c);
			return;
		}
		if (bio) {
			SSL_set_bio(c->ssl, bio, bio); /* the session's now */
			/* One recv per request record, and never a 5-byte one. */
			SSL_set_read_ahead(c->ssl, 1);
			c->tio_on = true;
		}
		SSL_set_accept_state(c->ssl);
		c->state = CS_TLS_HS;
		set_timer(c, T_HEAD);
	}
	struct epoll_event ee = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.ptr = &c->ev };
	if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ee)) {
		SSL_free(c->ssl);
		close(fd);
		free(c);
		return;
	}
	c->next = lp->conns;
	if (lp->conns)
		lp->conns->prev = c;
	lp->conns = c;
	atomic_fetch_add(&f->cfg.w->front.connections, 1);
	atomic_fetch_add(&f->cfg.w->front.open, 1);
	ready_push(c);
}

/* Hands fd to another loop; false if it cannot (then the caller keeps it). */
static bool hand_over(struct loop *to, int fd)
{
	pthread_mutex_lock(&to->qlock);
	if (to->nhanded == to->cap_handed) {
		size_t cap = to->cap_handed ? to->cap_handed * 2 : 64;
		int *grown = realloc(to->handed, cap * sizeof(*grown));
		if (!grown) {
			pthread_mutex_unlock(&to->qlock);
			return false;
		}
		to->handed = grown;
		to->cap_handed = cap;
	}
	bool wake = to->nhanded == 0;
	to->handed[to->nhanded++] = fd;
	pthread_mutex_unlock(&to->qlock);
	uint64_t one = 1;
	if (wake && write(to->wake_fd, &one, sizeof(one)) < 0)
		log_debug("S3 front: wake: %s", strerror(errno));
	return true;
}

/* Takes the connections other loops handed to lp. */
static void adopt_handed(struct loop *lp)
{
	uint64_t n;
	if (read(lp->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_debug("S3 front: wake: %s", strerror(errno));
	pthread_mutex_lock(&lp->qlock);
	int *fds = lp->handed;
	size_t nfds = lp->nhanded;
	lp->handed = NULL;
	lp->nhanded = lp->cap_handed = 0;
	struct conn *back = lp->returned;
	lp->returned = NULL;
	pthread_mutex_unlock(&lp->qlock);
	for (size_t i = 0; i < nfds; i++)
		adopt(lp, fds[i]);
	free(fds);
	adopt_returned(lp, back);
}

/*
 * Accepts what is pending. Whichever loop wakes up accepts, but the
 * connections are dealt round robin: a burst of connects (a client pool
 * opening 64 at once) would otherwise land mostly on one loop, which then
 * serves them all on one core while the other idles.
 */
static void accept_some(struct loop *lp)
{
	struct s3srv *f = lp->f;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* Clients come before kept block files. */
			if ((errno == EMFILE || errno == ENFILE) && f->fdc &&
			    s3fdc_sweep(f->fdc, now_ms(), true))
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors: stop accepting for a tick rather
				 * than spin on a listener that stays readable. */
				if (!atomic_exchange(&f->warned_emfile, true))
					log_warn("S3 front: cannot accept connections: %s "
						 "(logged once)", strerror(errno));
				epoll_ctl(lp->ep, EPOLL_CTL_DEL, f->lfd, NULL);
				lp->listening = false;
			}
			return;
		}
		struct loop *to = &f->loops[atomic_fetch_add(&f->next_loop, 1) % (unsigned)f->nloops];
		if (to == lp || !hand_over(to, fd))
			adopt(lp, fd);
	}
}

static void listen_on(struct loop *lp)
{
	struct epoll_event ee = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &lp->listen_ev };
	if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->f->lfd, &ee) == 0)
		lp->listening = true;
}

static void tick(struct loop *lp)
{
	if (!lp->listening)
		listen_on(lp);
	if (lp->f->fdc && lp == &lp->f->loops[0]) /* one sweep for all loops */
		s3fdc_sweep(lp->f->fdc, now_ms(), false);
	int64_t now = now_ms();
	struct conn *c = lp->conns;
	while (c) {
		struct conn *next = c->next;
		if (c->timer != T_NONE && now >= c->deadline_ms)
			conn_timeout(c);
		c = next;
	}
}

static void *loop_main(void *arg)
{
	struct loop *lp = arg;
	struct s3srv *f = lp->f;
	struct epoll_event evs[FRONT_MAX_EVENTS];
	int64_t next_tick = now_ms() + FRONT_TICK_MS;
	while (!atomic_load(&f->stop)) {
		int64_t now = now_ms();
		int timeout = lp->ready ? 0 : (int)(next_tick > now ? next_tick - now : 0);
		int n = epoll_wait(lp->ep, evs, FRONT_MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			log_error("S3 front: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct ev *ev = evs[i].data.ptr;
			uint32_t e = evs[i].events;
			if (ev->kind == EV_LISTEN) {
				accept_some(lp);
				continue;
			}
			if (ev->kind == EV_WAKE) {
				adopt_handed(lp);
				continue;
			}
			struct conn *c = ev->c;
			if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
				c->hup = true;
			if (e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
				c->rd = true;
			if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				c->wr = true;
			/* A connection closed by an earlier event of this batch is
			 * gone; events of its fds cannot follow (closing an fd
			 * removes it from the set, and only this thread closes). */
			ready_push(c);
		}
		/* Drive every connection with news once per turn (events of a
		 * client and its backend are merged). */
		struct conn *list = lp->ready;
		lp->ready = lp->ready_tail = NULL;
		while (list) {
			struct conn *c = list;
			list = c->ready_next;
			c->on_ready = false;
			conn_drive(c);
		}
		if (now_ms() >= next_tick) {
			tick(lp);
			next_tick = now_ms() + FRONT_TICK_MS;
		}
	}
	return NULL;
}

/* ---- start / stop ---- */

static int listen_socket(const char *bind_addr, int port, const char *scheme, char *url,
			 size_t urllen, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	const char *host = bind_addr;
	char unbr[128];
	if (host[0] == '[') { /* "[::1]" */
		snprintf(unbr, sizeof(unbr), "%s", host + 1);
		char *e = strchr(unbr, ']');
		if (e)
			*e = '\0';
		host = unbr;
	}
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai) {
		snprintf(err, errlen, "worker.bind '%s': %s", bind_addr, gai_strerror(gai));
		return -EINVAL;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(res);
		return e;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 4096)) {
		int e = -errno;
		snprintf(err, errlen, "worker S3 on %s:%d: %s", bind_addr, port, strerror(errno));
		close(fd);
		freeaddrinfo(res);
		return e;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	char addr[INET6_ADDRSTRLEN] = "";
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		snprintf(url, urllen, "%s://[%s]:%d", scheme, addr, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		snprintf(url, urllen, "%s://%s:%d", scheme, addr, ntohs(s4->sin_port));
	}
	freeaddrinfo(res);
	return fd;
}

/* Creates every loop's epoll set and wake fd (before any thread runs, so
 * a loop may hand a connection to any other). */
static int loops_init(struct s3srv *f, int n, char *err, size_t errlen)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		f->fdc = s3fdc_new(s3fdc_capacity(rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX
									: (uint64_t)rl.rlim_cur));
	if (f->fdc && f->own_bio)
		s3fdc_set_copy_budget(f->fdc, FRONT_COPY_TOTAL);
	if (f->fdc)
		s3fdc_set_keep(f->fdc, f->cfg.open_file_keep_ms);
	if (f->fdc && f->cfg.w && f->cfg.w->tiers) /* kept files close as their blocks go */
		tier_set_forget_hook(f->cfg.w->tiers, fdc_forget, f->fdc);
	for (int i = 0; i < n; i++) {
		struct loop *lp = &f->loops[i];
		lp->f = f;
		lp->listen_ev.kind = EV_LISTEN;
		lp->wake_ev.kind = EV_WAKE;
		pthread_mutex_init(&lp->qlock, NULL);
		lp->ep = epoll_create1(EPOLL_CLOEXEC);
		lp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		f->nloops++;
		struct epoll_event ee = { .events = EPOLLIN, .data.ptr = &lp->wake_ev };
		if (lp->ep < 0 || lp->wake_fd < 0 ||
		    epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->wake_fd, &ee)) {
			int rc = -errno;
			snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
			return rc;
		}
		listen_on(lp);
	}
	return 0;
}

/*
 * Pins loop i to the i-th CPU of cpus (the worker's own affinity), when
 * there are no more loops than CPUs there: loops that float share a core
 * now and then (with each other or a busy client) and every connection of
 * the one waiting stalls; pinned, bench/read.sh saw the p90 of 16 KiB hits
 * at 8 connections drop from ~1.4 to ~0.45 ms. Failing to pin is not an
 * error: the loops run where the scheduler puts them.
 */
static void pin_loops(struct s3srv *f, const cpu_set_t *cpus)
{
	if (!f->cfg.pin || f->nstarted > CPU_COUNT(cpus))
		return;
	char list[256] = "";
	size_t used = 0;
	int cpu = -1;
	for (int i = 0; i < f->nstarted; i++) {
		do
			cpu++;
		while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, cpus));
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		int rc = pthread_setaffinity_np(f->loops[i].thread, sizeof(one), &one);
		if (rc) {
			log_warn("S3 front: cannot pin loop %d to CPU %d: %s (loops float)", i, cpu,
				 strerror(rc));
			cpu_set_t all = *cpus;
			for (int j = 0; j < i; j++)
				pthread_setaffinity_np(f->loops[j].thread, sizeof(all), &all);
			return;
		}
		if (used < sizeof(list))
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%d",
						 i ? "," : "", cpu);
	}
	log_info("S3 front: %d loop%s pinned to CPU%s %s", f->nstarted, f->nstarted == 1 ? "" : "s",
		 f->nstarted == 1 ? "" : "s", list);
}

int s3srv_loop_cpu(const struct s3srv *f, int i)
{
	if (!f || i < 0 || i >= f->nstarted)
		return -1;
	/* What the thread really has, not what we meant to give it. */
	cpu_set_t set;
	if (pthread_getaffinity_np(f->loops[i].thread, sizeof(set), &set) || CPU_COUNT(&set) != 1)
		return -1;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set))
			return cpu;
	return -1;
}

/* Why OpenSSL failed, for a message. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "unknown error";
}

/*
 * The server's SSL_CTX from cfg's certificate and key, when TLS is
 * configured (f->ssl_ctx stays NULL otherwise). TLS 1.2 and up,
 * non-blocking partial writes, kTLS asked for (the kernel may decline),
 * no renegotiation. 0, or -EINVAL with the file at fault in err (paths
 * only, never contents).
 */
static int tls_setup(struct s3srv *f, char *err, size_t errlen)
{
	const char *cert = f->cfg.tls_cert, *key = f->cfg.tls_key;
	bool tls = cert && *cert;
	if (tls != (key && *key)) {
		snprintf(err, errlen, "http.tls_cert and http.tls_key must be set together");
		return -EINVAL;
	}
	if (!tls)
		return 0;
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int rc = -EINVAL;
	if (!ctx) {
		snprintf(err, errlen, "S3 server: cannot create a TLS context: %s", ssl_reason());
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* TLS 1.3: AES-128-GCM first, by our preference (clients list the
	 * 256-bit suite first; the 128-bit one costs both ends ~30% less per
	 * byte and is as safe for this use: docs/security.md). */
	SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
				      "TLS_CHACHA20_POLY1305_SHA256");
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "http.tls_cert '%s': cannot load certificate: %s", cert,
			 ssl_reason());
		goto out;
	}
	/* (This also checks that the key is the certificate's.) */
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "http.tls_key '%s': cannot load private key: %s", key,
			 ssl_reason());
		goto out;
	}
	f->ssl_ctx = ctx;
	ctx = NULL;
	rc = 0;
out:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int s3srv_ktls(const struct s3srv *f)
{
	return atomic_load(&f->ktls);
}

int s3srv_start(const struct s3srv_config *cfg, struct s3srv **out, char *err,
		  size_t errlen)
{
	struct s3srv *f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f->cfg = *cfg;
	if (!f->cfg.max_head || f->cfg.max_head > FRONT_MAX_HEAD)
		f->cfg.max_head = FRONT_MAX_HEAD;
	f->lfd = -1;
	pthread_mutex_init(&f->jlock, NULL);
	clock_mono_cond_init(&f->jcond);
	if (f->cfg.pool_threads < 1)
		f->cfg.pool_threads = 1;
	if (f->cfg.queue_max < 0)
		f->cfg.queue_max = 0;
	cpu_set_t cpus;
	int ncpus = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 0;
	if (ncpus < 1) {
		ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
		CPU_ZERO(&cpus); /* unknown set: never pin */
	}
	int nthreads = cfg->threads > 0 ? cfg->threads : ncpus;
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > FRONT_MAX_LOOPS)
		nthreads = FRONT_MAX_LOOPS;
	atomic_init(&f->ktls, -1);
	int rc = tls_setup(f, err, errlen);
	if (rc)
		goto err_free;
	f->own_bio = f->ssl_ctx && !s3tls_kernel_ktls();
	rc = listen_socket(cfg->bind, cfg->port, f->ssl_ctx ? "https" : "http", f->url,
			   sizeof(f->url), err, errlen);
	if (rc < 0)
		goto err_free;
	f->lfd = rc;
	if ((rc = loops_init(f, nthreads, err, errlen)))
		goto err_stop;
	for (int i = 0; i < nthreads; i++) {
		if ((rc = -pthread_create(&f->loops[i].thread, NULL, loop_main, &f->loops[i]))) {
			snprintf(err, errlen, "cannot start a thread: %s", strerror(-rc));
			goto err_stop;
		}
		f->nstarted++;
	}
	pin_loops(f, &cpus);
	if (!(f->pool = calloc((size_t)cfg->pool_threads, sizeof(*f->pool))) ||
	    !(f->running_fd = malloc((size_t)cfg->pool_threads * sizeof(int)))) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto err_stop;
	}
	for (int i = 0; i < f->cfg.pool_threads; i++) {
		struct pool_arg *pa = malloc(sizeof(*pa));
		f->running_fd[i] = -1;
		if (!pa) {
			rc = -ENOMEM;
		} else {
			*pa = (struct pool_arg){ f, i };
			if ((rc = -pthread_create(&f->pool[i], NULL, pool_main, pa)))
				free(pa);
		}
		if (rc) {
			snprintf(err, errlen, "cannot start a thread: %s", strerror(-rc));
			goto err_stop;
		}
		f->npool++;
	}
	*out = f;
	return 0;
err_stop:
	s3srv_stop(f);
	return rc;
err_free:
	SSL_CTX_free(f->ssl_ctx);
	free(f);
	return rc;
}

void s3srv_stop(struct s3srv *f)
{
	if (!f)
		return;
	/* The pool first: a request in flight ends at once (its client's
	 * socket is shut down under it), queued ones are dropped. */
	pthread_mutex_lock(&f->jlock);
	f->jstop = true;
	for (int i = 0; i < f->npool; i++)
		if (f->running_fd[i] >= 0)
			shutdown(f->running_fd[i], SHUT_RDWR);
	pthread_cond_broadcast(&f->jcond);
	pthread_mutex_unlock(&f->jlock);
	for (int i = 0; i < f->npool; i++)
		pthread_join(f->pool[i], NULL);
	while (f->jhead) {
		struct job *j = f->jhead;
		f->jhead = j->next;
		free(j);
	}
	free(f->pool);
	free(f->running_fd);
	atomic_store(&f->stop, true);
	for (int i = 0; i < f->nstarted; i++) {
		uint64_t one = 1;
		if (write(f->loops[i].wake_fd, &one, sizeof(one)) < 0)
			log_debug("S3 front: wake: %s", strerror(errno));
	}
	for (int i = 0; i < f->nstarted; i++)
		pthread_join(f->loops[i].thread, NULL);
	for (int i = 0; i < f->nloops; i++) {
		struct loop *lp = &f->loops[i];
		while (lp->conns)
			conn_close(lp->conns);
		for (size_t k = 0; k < lp->nhanded; k++)
			close(lp->handed[k]);
		free(lp->handed);
		pthread_mutex_destroy(&lp->qlock);
		if (lp->ep >= 0)
			close(lp->ep);
		if (lp->wake_fd >= 0)
			close(lp->wake_fd);
	}
	if (f->fdc && f->cfg.w && f->cfg.w->tiers)
		tier_set_forget_hook(f->cfg.w->tiers, NULL, NULL);
	s3fdc_free(f->fdc); /* every reply that held an entry is gone */
	if (f->lfd >= 0)
		close(f->lfd);
	SSL_CTX_free(f->ssl_ctx);
	pthread_mutex_destroy(&f->jlock);
	pthread_cond_destroy(&f->jcond);
	free(f);
}

const char *s3srv_url(const struct s3srv *f)
{
	return f->url;
}
