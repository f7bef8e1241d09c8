#ifndef STRATA_RAFT_NET_H
#define STRATA_RAFT_NET_H

/*
 * The TCP transport between masters (Raft port, default 19200): frames of
 * raft/wire.h over one outbound connection per peer, and whatever inbound
 * connections peers open to us. The master's Raft driver hands each
 * message of a ready to raft_net_send and feeds what on_message delivers
 * to raft_step. Raft tolerates loss, so the transport never blocks the
 * driver: it queues, and drops (counting) when it cannot deliver.
 *
 * Threading: raft_net_start starts one I/O thread running an epoll loop
 * that is at once the listener, the reader of every inbound connection and
 * the writer/connector of every outbound one. All sockets are
 * non-blocking; a peer name is resolved (getaddrinfo) on that thread at
 * each connection attempt, so a slow DNS server delays the loop (use
 * addresses, not names, where that matters). raft_net_send,
 * raft_net_set_peers and raft_net_stats may be called from any thread.
 *
 * Callbacks run on the I/O thread with no transport lock held. They may
 * call raft_net_send, raft_net_set_peers and raft_net_stats, never
 * raft_net_stop. on_message gets a message borrowed for the duration of
 * the call (raft_msg_clone it to keep it); it should hand it off and
 * return quickly, because every connection waits meanwhile.
 *
 * Outbound: a connection per peer is opened at start (and on membership
 * change), with TCP_NODELAY. A failed or lost connection is retried after
 * a backoff that starts at backoff_min_ms and doubles up to backoff_max_ms;
 * a successful connect resets it. Messages queued on a connection that is
 * lost, and messages sent while the peer is in backoff, are dropped and
 * counted, never held for later: a stale heartbeat or vote is worthless.
 * Per peer, frames are written in raft_net_send order; a frame above
 * the byte limit of the queue is dropped (the limit must exceed the
 * largest snapshot the cluster ships).
 *
 * Inbound: each frame names its sender and recipient in its header (no
 * handshake); frames for another recipient are counted and ignored. A
 * frame that fails decoding closes that connection and is counted (per
 * peer when its header named a sender, always in the totals).
 *
 * TLS (opts.tls.cert_file set): every connection, both ways, is TLS 1.2+
 * and mutually authenticated. Each master presents cert_file/key_file as
 * server and as client; a peer's certificate must chain to ca_file, and an
 * outbound connection also checks that the certificate names the peer's
 * host (an IP literal against an IP SAN). An inbound connection that does
 * not complete the handshake within connect_timeout_ms, presents no
 * certificate, one from another CA, or speaks plaintext is closed before
 * a byte of it reaches the frame decoder (counted in tls_refused; logged
 * at most every 10 s). The handshake is non-blocking on the I/O thread
 * like everything else. A TLS write to a closed peer can raise SIGPIPE:
 * the process must ignore it (the daemons do).
 *
 * Addresses are "host:port"; an IPv6 host is bracketed: "[::1]:19200".
 *
 * Errors are negative errno; err (may be NULL) says which peer or
 * address was wrong.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define RAFT_NET_MAX_PEERS 16
#define RAFT_NET_DEFAULT_MAX_QUEUED (128u << 20)
#define RAFT_NET_DEFAULT_BACKOFF_MIN_MS 50
#define RAFT_NET_DEFAULT_BACKOFF_MAX_MS 1000
#define RAFT_NET_DEFAULT_CONNECT_TIMEOUT_MS 1000
#define RAFT_NET_DEFAULT_FRAME_TIMEOUT_MS 30000
/* Inbound connections beyond this are closed on accept. */
#define RAFT_NET_MAX_INBOUND 64

struct raft_net_peer {
	uint64_t id;      /* nonzero, not ours */
	const char *addr; /* "host:port" or "[v6]:port"; copied */
};

/* PEM files; cert_file NULL or "": plaintext. All three are required
 * with TLS. Copied at start. */
struct raft_net_tls {
	const char *cert_file; /* chain this master presents, as server and as client */
	const char *key_file;
	const char *ca_file;   /* the certificates peers' chains must end in */
};

/* m is borrowed for the call. */
typedef void (*raft_net_message_fn)(void *arg, const struct raft_msg *m);
/* One line, no newline; for the log. */
typedef void (*raft_net_error_fn)(void *arg, const char *msg);

struct raft_net_options {
	uint64_t self_id;
	const char *bind_host; /* NULL or "": all interfaces; "[::1]" and "::1" both work */
	uint16_t port;	       /* 0: an ephemeral port (see raft_net_port) */
	const struct raft_net_peer *peers; /* copied */
	size_t npeers;			   /* <= RAFT_NET_MAX_PEERS */
	size_t max_queued_bytes;	   /* per peer; 0: RAFT_NET_DEFAULT_MAX_QUEUED */
	uint32_t backoff_min_ms;	   /* 0: default */
	uint32_t backoff_max_ms;	   /* 0: default */
	uint32_t connect_timeout_ms;	   /* 0: default */
	/* Inbound limits against slow or hostile clients: a frame announcing
	 * a body above max_frame closes its connection before the body is
	 * read (0: RAFT_WIRE_MAX_BODY); a frame not whole within
	 * frame_timeout_ms of its first byte, plus a second per MiB its
	 * header announces, closes it too (0: default).
	 * Both count in decode_errors / frame_timeouts. */
	uint64_t max_frame;
	uint32_t frame_timeout_ms;
	raft_net_message_fn on_message;	   /* required */
	raft_net_error_fn on_error;	   /* NULL: lib/log.h at warn level */
	struct raft_net_tls tls;	   /* zero: plaintext */
	void *arg;			   /* passed to both callbacks */
};

struct raft_net_peer_stats {
	uint64_t id;
	bool connected;		  /* outbound connection established now */
	uint64_t queued_bytes;	  /* waiting to be written */
	uint64_t frames_sent;	  /* completely written to the socket */
	uint64_t bytes_sent;
	uint64_t frames_dropped;  /* queue full, peer in backoff, or lost with a connection */
	uint64_t frames_received; /* decoded frames from this id, addressed to us */
	uint64_t bytes_received;
	uint64_t connects;	   /* outbound connections established */
	uint64_t connect_failures; /* attempts that failed or timed out, and lost connections */
	uint64_t decode_errors;	   /* inbound connections closed for a bad frame from this id */
};

struct raft_net_stats {
	size_t npeers;
	struct raft_net_peer_stats peers[RAFT_NET_MAX_PEERS]; /* current peers, in set order */
	uint64_t frames_sent;	  /* totals over all peers, also removed ones */
	uint64_t frames_dropped;  /* also sends to unknown peers */
	uint64_t frames_received;
	uint64_t bytes_received;
	uint64_t decode_errors;	  /* also from connections that never named a sender */
	uint64_t misaddressed;	  /* well-formed frames for another recipient, ignored */
	uint64_t accepted;	  /* inbound connections */
	uint64_t refused;	  /* inbound connections closed at once (RAFT_NET_MAX_INBOUND) */
	uint64_t tls_refused;	  /* inbound connections whose TLS handshake failed or timed out */
	uint64_t frame_timeouts;  /* inbound connections closed mid-frame (frame_timeout_ms) */
};

struct raft_net;

/*
 * Binds, listens and starts the I/O thread. On success *out is owned by
 * the caller (raft_net_stop). Returns 0, -EINVAL (bad options or peer
 * address; err says which), a bind/listen errno (-EADDRINUSE...), -ENOMEM.
 * On error no thread is running and no callback is ever called.
 */
int raft_net_start(const struct raft_net_options *opts, struct raft_net **out, char *err,
		   size_t errlen);

/*
 * Loads opts->tls's files as raft_net_start would and frees them again, so
 * a daemon can refuse a bad file at startup even when its transport opens
 * later. 0 or -EINVAL (err names the file and what is wrong with it).
 */
int raft_net_tls_check(const struct raft_net_tls *tls, char *err, size_t errlen);

/* The port the listener is bound to (useful after port 0). */
uint16_t raft_net_port(const struct raft_net *net);

/*
 * Encodes m (borrowed; m->from must be our id) and queues the frame to
 * peer m->to; never blocks on the network. 0: queued. A dropped message
 * is counted and returns -ENOBUFS (queue over its limit), -ENOTCONN (peer
 * in backoff) or -ENOENT (not a peer); -EINVAL / -EMSGSIZE: the codec
 * refused it (raft_wire_size); -ENOMEM. Raft drivers may ignore all of it.
 */
int raft_net_send(struct raft_net *net, const struct raft_msg *m);

/*
 * Replaces the peer set (copied). Peers with an unchanged id and address
 * keep their connection, queue and counters; the others are closed and
 * forgotten, and new ones are connected. -EINVAL (err says which entry)
 * leaves the set unchanged.
 */
int raft_net_set_peers(struct raft_net *net, const struct raft_net_peer *peers, size_t npeers,
		       char *err, size_t errlen);

/* A consistent copy of the counters. */
void raft_net_stats(struct raft_net *net, struct raft_net_stats *out);

/*
 * Stops the I/O thread, closes every socket and frees everything,
 * including queued frames; returns without waiting for any peer. Never
 * from a callback. net may be NULL.
 */
void raft_net_stop(struct raft_net *net);

#endif
