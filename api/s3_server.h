#ifndef STRATA_API_S3_SERVER_H
#define STRATA_API_S3_SERVER_H

/*
 * The worker's one S3 server: it owns worker.s3_port, in plain HTTP or, with
 * a certificate configured, TLS only (docs/decisions.md). A few epoll
 * threads share one non-blocking listener.
 * Each parses request heads itself (s3_server_http.h) and
 *  - answers a cache hit itself: an unconditional GET/HEAD of /bucket/key
 *    without a query (but a presigned URL's X-Amz-* parameters), allowed
 *    by the access keys (SigV4 verified in the loop, s3_gw_authorize),
 *    whose metadata is fresh in the file cache
 *    (fcache_peek, never a master call) and whose blocks are all in this
 *    worker's tiers: response head, then the bytes with sendfile(2)
 *    straight from the block files (fds opened before the head goes out,
 *    so an eviction meanwhile changes nothing);
 *  - hands every other request (the socket, the parsed head and the bytes
 *    already read) to a bounded pool of threads that run the S3 gateway's
 *    operations on it directly (s3_gw_handle over api/http_fd.h), then
 *    the connection comes back to its loop for the next request, or is
 *    closed. When queue_max requests already wait for a pool thread, the
 *    next gets 503 SlowDown (and the connection closes).
 * Keep-alive and pipelining work across both kinds; replies leave in
 * request order because a connection handles one request at a time.
 * Timeouts: a request head must be complete within header_timeout_ms of
 * its first byte (else 400 and close), an idle keep-alive connection is
 * closed after idle_timeout_ms, a reply that makes no progress for
 * io_timeout_ms is cut, and so is a pool request whose client sends or
 * takes nothing for io_timeout_ms. A client that leaves ends its request
 * at once (the pool thread sees the socket close).
 * TLS: non-blocking OpenSSL; the handshake runs in the loop (bounded by
 * header_timeout_ms, a peer that leaves or speaks plain HTTP is closed at
 * once), the pool thread uses the connection's SSL object while it holds
 * it. Hits use sendfile through kTLS when the kernel takes it
 * (SSL_sendfile). A kernel without kTLS (probed at start) gets sessions
 * over api/s3_server_tls.h's BIO instead: a hit's records are encrypted
 * (from the open-file cache's copy of a hot small block, kept with its fd, else
 * read with pread) and a hit's head and body records leave with one
 * sendmsg(2). (A session the kernel declines all the same: pread +
 * SSL_write per record.)
 * Counters go to w->front (proxied: requests handed to the pool), read
 * statistics to bsvc as the slow path does.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker_node;
struct s3_gw;
struct s3srv;

struct s3srv_config {
	const char *bind;     /* address of the public S3 port */
	int port;             /* 0: any free port (tests) */
	int threads;          /* event loops; <= 0: one per CPU we may run on */
	bool pin;             /* loop i on the i-th CPU we may run on (if enough) */
	bool fast;            /* false: hand every request to the pool */
	int pool_threads;     /* threads that run the gateway (>= 1) */
	int queue_max;        /* requests waiting for one; more get 503 SlowDown */
	int64_t header_timeout_ms;
	int64_t idle_timeout_ms;
	size_t max_head;	/* longest request head; 0 or above 16 KiB: 16 KiB */
	int64_t io_timeout_ms;
	int64_t open_file_keep_ms; /* unused block files stay open this long (s3fdc) */
	struct worker_node *w; /* fcache, bsvc, tiers, counters; borrowed */
	struct s3_gw *gw;      /* runs every other request; borrowed */
	const char *tls_cert;  /* PEM chain; set with tls_key: TLS only. NULL/"": plain */
	const char *tls_key;
};

/* Binds and starts the loops. 0, or -errno with the reason in err. */
int s3srv_start(const struct s3srv_config *cfg, struct s3srv **out, char *err,
		  size_t errlen);
/* Stops the loops, closes every connection, frees. NULL is fine. */
void s3srv_stop(struct s3srv *f);
/* The CPU loop i is pinned to, or -1 (not pinned, or no such loop). */
int s3srv_loop_cpu(const struct s3srv *f, int i);
/* Whether connections have had kTLS send (sendfile under TLS): -1 no TLS
 * connection finished its handshake yet, 0 no, 1 yes. */
int s3srv_ktls(const struct s3srv *f);
/* "http://127.0.0.1:39999" ("https://..." with TLS) */
const char *s3srv_url(const struct s3srv *f);

#endif
