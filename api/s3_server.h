#ifndef STRATA_API_S3_SERVER_H
#define STRATA_API_S3_SERVER_H

/*
 * The S3 front: what listens on worker.s3_port when worker.s3.fastpath is
 * on (and no TLS is configured). A few epoll threads share one
 * non-blocking listener. Each parses request heads itself
 * (s3srv_http.h) and
 *  - answers a cache hit itself: an unconditional, unauthenticated
 *    GET/HEAD of /bucket/key without a query, whose metadata is fresh in
 *    the file cache (fcache_peek, never a master call) and whose blocks
 *    are all in this worker's tiers: response head, then the bytes with
 *    sendfile(2) straight from the block files (fds opened before the head
 *    goes out, so an eviction meanwhile changes nothing);
 *  - hands every other request to the S3 gateway (CivetWeb on a loopback
 *    port), one backend connection per request, streaming both ways
 *    through bounded buffers: request bodies by Content-Length or chunked
 *    framing, responses by their framing (1xx interim replies included).
 * Keep-alive and pipelining work across both kinds; replies leave in
 * request order because a connection handles one request at a time.
 * Timeouts: a request head must be complete within header_timeout_ms of
 * its first byte (else 400 and close), an idle keep-alive connection is
 * closed after idle_timeout_ms, and a reply or proxied exchange that makes
 * no progress for io_timeout_ms is cut.
 * Counters go to w->front, read statistics to bsvc as the slow path does.
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
	int upstream_port;    /* the gateway on 127.0.0.1 */
	bool fast;            /* false: hand every request to the gateway */
	int64_t header_timeout_ms;
	int64_t idle_timeout_ms;
	int64_t io_timeout_ms;
	struct worker_node *w; /* fcache, bsvc, tiers, counters; borrowed */
	struct s3_gw *gw;      /* request ids; borrowed */
};

/* Binds and starts the loops. 0, or -errno with the reason in err. */
int s3srv_start(const struct s3srv_config *cfg, struct s3srv **out, char *err,
		  size_t errlen);
/* Stops the loops, closes every connection, frees. NULL is fine. */
void s3srv_stop(struct s3srv *f);
/* The CPU loop i is pinned to, or -1 (not pinned, or no such loop). */
int s3srv_loop_cpu(const struct s3srv *f, int i);
/* "http://127.0.0.1:39999" */
const char *s3srv_url(const struct s3srv *f);

#endif
