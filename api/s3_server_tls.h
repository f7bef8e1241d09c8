#ifndef STRATA_API_S3_SERVER_TLS_H
#define STRATA_API_S3_SERVER_TLS_H

/*
 * The S3 server's TLS transport when the kernel cannot encrypt (no kTLS):
 * an OpenSSL BIO between a session and its non-blocking socket
 * (api/s3_server.c). Private to the S3 server.
 *
 * Why not OpenSSL's socket BIO: it writes every TLS record with its own
 * send(2), so a 16 KiB hit (a head record and a body record) costs two
 * writes where plaintext needs one sendfile. This BIO:
 *  - reads with one recv(2) per call (with OpenSSL's read-ahead on, a
 *    request's record comes in one recv, never a 5-byte header first);
 *  - while corked (s3tls_cork), keeps small records (a reply's head) in
 *    io->out until a full one comes, then sends them together with one
 *    sendmsg(2), so a 16 KiB hit is one write and its body record is never
 *    copied; what the socket does not take is kept in io->out, and
 *    s3tls_flush sends it (and a last small record). Corked, a write never
 *    waits: the caller bounds what it writes before flushing. Uncorked it
 *    behaves like a socket (after the kept bytes, which always leave
 *    first).
 * EOF and errors are reported as OpenSSL's socket BIO reports them, so
 * SSL_get_error says the same things.
 *
 * Ownership: io is the caller's (it lives in its connection) and must
 * outlive the BIO; the BIO (given to SSL_set_bio) is the session's.
 * s3tls_io_reset frees io->out. One thread at a time uses an io and its
 * session.
 */

#include <openssl/bio.h>
#include <stdbool.h>
#include <stddef.h>

struct s3tls_io {
	int fd;
	bool corked;
	bool eof;            /* a recv returned 0 (BIO_CTRL_EOF) */
	char *out;           /* encrypted bytes not sent yet: out[off, len) */
	size_t out_off, out_len, out_cap;
	uint64_t sent;       /* bytes the socket took, ever (progress) */
};

/* A BIO over io (io->fd set by the caller), or NULL (out of memory). */
BIO *s3tls_bio_new(struct s3tls_io *io);

/* Corks (records are kept or sent with the next, never refused) or
 * uncorks (sent as written, or refused with a retry: a socket). */
void s3tls_cork(struct s3tls_io *io, bool on);

/* Bytes written while corked and not sent yet (kept in io->out). */
size_t s3tls_pending(const struct s3tls_io *io);

/* Sends io->out. 1 all sent (the buffer is kept for the next reply), 0 the
 * socket is full (some may have left; wait for EPOLLOUT), -1 the peer is
 * gone (or another socket error). */
int s3tls_flush(struct s3tls_io *io);

/* Frees io->out (pending bytes are dropped). */
void s3tls_io_reset(struct s3tls_io *io);

/*
 * Whether sessions may get kTLS send here: OpenSSL was built with it and
 * the kernel accepts the "tls" upper layer on a connected TCP socket
 * (a probe over loopback: call it once, at start). false: the server uses
 * this BIO.
 */
bool s3tls_kernel_ktls(void);

#endif
