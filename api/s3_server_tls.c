/* The S3 server's TLS transport without kTLS (api/s3_server_tls.h). */
#include "api/s3_server_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/opensslconf.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* io->out starts small: a reply's head is all it holds unless the socket
 * refuses bytes (it is allocated again for each reply after an idle). */
#define OUT_MIN_CAP 2048u
/* Corked records shorter than this (a reply's head) wait for the next one;
 * longer ones leave at once, with what waits before them, in one sendmsg:
 * no copy of a body record unless the socket cannot take it. */
#define RIDE_MAX 4096
#ifndef TCP_ULP
#define TCP_ULP 31 /* linux/tcp.h */
#endif

static BIO_METHOD *g_method;
static pthread_once_t g_method_once = PTHREAD_ONCE_INIT;

/* Room for n more bytes in io->out. 0, or -1 (out of memory). */
static int out_reserve(struct s3tls_io *io, size_t n)
{
	if (io->out_off == io->out_len)
		io->out_off = io->out_len = 0;
	if (io->out_cap - io->out_len >= n)
		return 0;
	size_t cap = io->out_cap ? io->out_cap : OUT_MIN_CAP;
	while (cap - io->out_len < n) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	char *grown = realloc(io->out, cap);
	if (!grown)
		return -1;
	io->out = grown;
	io->out_cap = cap;
	return 0;
}

int s3tls_flush(struct s3tls_io *io)
{
	while (io->out_off < io->out_len) {
		ssize_t n = send(io->fd, io->out + io->out_off, io->out_len - io->out_off,
				 MSG_NOSIGNAL);
		if (n > 0) {
			io->out_off += (size_t)n;
			io->sent += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	io->out_off = io->out_len = 0;
	return 1;
}

/* Keeps data[0, len) in io->out. 0, or -1 (out of memory). */
static int keep(struct s3tls_io *io, const char *data, size_t len)
{
	if (out_reserve(io, len))
		return -1;
	memcpy(io->out + io->out_len, data, len);
	io->out_len += len;
	return 0;
}

/* Sends what io->out holds and then data in one sendmsg; keeps what the
 * socket does not take. 0, or -1 (the peer is gone, out of memory). */
static int send_with_kept(struct s3tls_io *io, const char *data, size_t len)
{
	struct iovec iov[2] = { { io->out + io->out_off, io->out_len - io->out_off },
				{ (void *)data, len } };
	int first = io->out_off == io->out_len ? 1 : 0;
	struct msghdr msg = { .msg_iov = iov + first, .msg_iovlen = 2 - (size_t)first };
	size_t took;
	for (;;) {
		ssize_t n = sendmsg(io->fd, &msg, MSG_NOSIGNAL);
		if (n >= 0) {
			took = (size_t)n;
			io->sent += (uint64_t)n;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		took = 0;
		break;
	}
	size_t kept = io->out_len - io->out_off;
	if (took < kept) {
		io->out_off += took;
		took = 0;
	} else {
		io->out_off = io->out_len = 0;
		took -= kept;
	}
	return took < len ? keep(io, data + took, len - took) : 0;
}

static int bio_write(BIO *b, const char *data, int len)
{
	struct s3tls_io *io = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (io->corked) { /* (a failure is not a retry: the session fails) */
		int rc = (size_t)len < RIDE_MAX ? keep(io, data, (size_t)len)
						: send_with_kept(io, data, (size_t)len);
		return rc ? -1 : len;
	}
	/* Uncorked: what was kept goes first, then this as a socket would. */
	int rc = s3tls_flush(io);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		BIO_set_retry_write(b);
		return -1;
	}
	for (;;) {
		ssize_t n = send(io->fd, data, (size_t)len, MSG_NOSIGNAL);
		if (n >= 0) {
			io->sent += (uint64_t)n;
			return (int)n;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_write(b);
		return -1;
	}
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct s3tls_io *io = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	for (;;) {
		ssize_t n = recv(io->fd, buf, (size_t)len, 0);
		if (n > 0)
			return (int)n;
		if (n == 0) {
			io->eof = true;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_read(b);
		return -1;
	}
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	(void)ptr;
	struct s3tls_io *io = BIO_get_data(b);
	switch (cmd) {
	case BIO_CTRL_FLUSH: /* corked bytes leave by s3tls_flush, not here */
	case BIO_CTRL_DUP:
		return 1;
	case BIO_CTRL_EOF:
		return io && io->eof;
	default: /* kTLS (BIO_CTRL_SET_KTLS...) and the rest: not here */
		return 0;
	}
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int bio_destroy(BIO *b)
{
	BIO_set_data(b, NULL); /* io is the connection's */
	return 1;
}

static void method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "strata-s3-tls");
	if (!m)
		return;
	if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
	    !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create) ||
	    !BIO_meth_set_destroy(m, bio_destroy)) {
		BIO_meth_free(m);
		return;
	}
	g_method = m; /* kept for the life of the process */
}

BIO *s3tls_bio_new(struct s3tls_io *io)
{
	pthread_once(&g_method_once, method_init);
	if (!g_method)
		return NULL;
	BIO *b = BIO_new(g_method);
	if (b)
		BIO_set_data(b, io);
	return b;
}

void s3tls_cork(struct s3tls_io *io, bool on)
{
	io->corked = on;
}

size_t s3tls_pending(const struct s3tls_io *io)
{
	return io->out_len - io->out_off;
}

void s3tls_io_reset(struct s3tls_io *io)
{
	free(io->out);
	io->out = NULL;
	io->out_off = io->out_len = io->out_cap = 0;
}

/* Whether setting the "tls" ULP on a connected loopback socket works. */
static bool probe_tls_ulp(void)
{
	bool ok = false;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int afd = -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	if (lfd < 0 || cfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) ||
	    connect(cfd, (struct sockaddr *)&a, sizeof(a)))
		goto out_close;
	afd = accept(lfd, NULL, NULL);
	ok = setsockopt(cfd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) == 0;
out_close:
	if (afd >= 0)
		close(afd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	return ok;
}

bool s3tls_kernel_ktls(void)
{
#if defined(OPENSSL_NO_KTLS)
	return false;
#else
	return probe_tls_ulp();
#endif
}
