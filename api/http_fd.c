/* The socket backend of struct http_req (api/http_fd.h). */
#include "api/http_fd.h"

#include "api/http_int.h"

#include <civetweb.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define FDR_BUF (64u << 10)

enum { CK_SIZE, CK_EXT, CK_DATA, CK_DATA_END, CK_TRAILER, CK_DONE };

struct http_fdr {
	struct http_fd_conn *fc;
	bool head_method;
	/* the connection's read buffer: buf[off, len) not consumed yet */
	char *buf;
	size_t off, len;
	/* body */
	uint64_t body_left;   /* Content-Length bytes still to read */
	int ck;               /* CK_* for a chunked body */
	uint64_t ck_left;
	unsigned ck_digits;
	bool ck_line_empty;   /* the trailer line so far is empty */
	bool body_done;
	bool continue_sent;
	/* reply */
	bool replied, broken, aborted, close_sent;
	uint64_t reply_left;  /* body bytes the head promised */
};

/* Waits until fd is ready for events; 0, -ETIMEDOUT or -EIO. */
static int wait_fd(struct http_fdr *r, short events)
{
	struct pollfd p = { .fd = r->fc->fd, .events = events };
	int64_t t = r->fc->io_timeout_ms > 0 ? r->fc->io_timeout_ms : 30000;
	for (;;) {
		int n = poll(&p, 1, t > 0x7fffffff ? 0x7fffffff : (int)t);
		if (n > 0)
			return 0; /* readable, writable or hung up: the call says which */
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -EIO;
	}
}

/*
 * One read from the connection (through TLS when it has a session): >0
 * bytes, 0 the client closed, -EAGAIN with *ev the poll event to wait for,
 * or -EIO.
 */
static long conn_recv(struct http_fdr *r, void *buf, size_t len, short *ev)
{
	*ev = POLLIN;
	SSL *ssl = r->fc->ssl;
	if (ssl) {
		ERR_clear_error();
		int n = SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
		if (n > 0)
			return n;
		switch (SSL_get_error(ssl, n)) {
		case SSL_ERROR_WANT_READ:
			return -EAGAIN;
		case SSL_ERROR_WANT_WRITE:
			*ev = POLLOUT;
			return -EAGAIN;
		case SSL_ERROR_ZERO_RETURN:
			return 0;
		default:
			r->fc->tls_failed = true;
			return -EIO;
		}
	}
	for (;;) {
		ssize_t n = recv(r->fc->fd, buf, len, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -EIO;
	}
}

/* One write, the same way: >0 bytes sent, -EAGAIN with *ev, or -EPIPE. */
static long conn_send(struct http_fdr *r, const void *buf, size_t len, short *ev)
{
	*ev = POLLOUT;
	SSL *ssl = r->fc->ssl;
	if (ssl) {
		ERR_clear_error();
		int n = SSL_write(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
		if (n > 0)
			return n;
		switch (SSL_get_error(ssl, n)) {
		case SSL_ERROR_WANT_WRITE:
			return -EAGAIN;
		case SSL_ERROR_WANT_READ:
			*ev = POLLIN;
			return -EAGAIN;
		default:
			r->fc->tls_failed = true;
			return -EPIPE;
		}
	}
	for (;;) {
		ssize_t n = send(r->fc->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -EPIPE;
	}
}

/* Reads more bytes from the socket into buf. 0, or negative (EOF, error,
 * timeout: the connection is done). */
static int fill(struct http_fdr *r)
{
	if (r->off == r->len)
		r->off = r->len = 0;
	if (r->len == FDR_BUF) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	for (;;) {
		short ev;
		long n = conn_recv(r, r->buf + r->len, FDR_BUF - r->len, &ev);
		if (n > 0) {
			r->len += (size_t)n;
			return 0;
		}
		if (n == 0)
			return -EPIPE;
		if (n != -EAGAIN)
			return -EIO;
		int rc = wait_fd(r, ev);
		if (rc)
			return rc;
	}
}

static int send_all(struct http_fdr *r, const void *data, size_t len)
{
	const char *p = data;
	if (r->broken)
		return -EPIPE;
	while (len) {
		/* A retry after -EAGAIN sends the same bytes again, as
		 * SSL_write wants. */
		short ev;
		long n = conn_send(r, p, len, &ev);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -EAGAIN && !wait_fd(r, ev))
			continue;
		r->broken = true;
		return -EPIPE;
	}
	return 0;
}

/* ---- accessors ---- */

const char *http_fdr_method(const struct http_fdr *r)
{
	return r->fc->method;
}

const char *http_fdr_path(const struct http_fdr *r)
{
	return r->fc->path;
}

const char *http_fdr_query(const struct http_fdr *r)
{
	return r->fc->query;
}

const char *http_fdr_header(const struct http_fdr *r, const char *name)
{
	for (size_t i = 0; i < r->fc->nfields; i++)
		if (strcasecmp(r->fc->fields[i].name, name) == 0)
			return r->fc->fields[i].value;
	return NULL;
}

/* ---- the body ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Consumes chunk framing from buf until data is available (ck == CK_DATA
 * with ck_left > 0 and bytes buffered) or the body ends. 0, -EPROTO on
 * broken framing, or a read error. */
static int chunk_frame(struct http_fdr *r)
{
	for (;;) {
		if (r->ck == CK_DONE || (r->ck == CK_DATA && r->ck_left && r->off < r->len))
			return 0;
		if (r->off == r->len) {
			int rc = fill(r);
			if (rc)
				return rc;
			continue;
		}
		char c = r->buf[r->off];
		switch (r->ck) {
		case CK_SIZE: {
			int v = hexval(c);
			if (v >= 0) {
				if (++r->ck_digits > 15)
					return -EPROTO;
				r->ck_left = r->ck_left * 16 + (uint64_t)v;
				r->off++;
				break;
			}
			if (!r->ck_digits)
				return -EPROTO;
			r->ck = CK_EXT;
			break;
		}
		case CK_EXT: /* extensions, ignored, to the end of the line */
			r->off++;
			if (c == '\n') {
				r->ck = r->ck_left ? CK_DATA : CK_TRAILER;
				r->ck_line_empty = true;
			}
			break;
		case CK_DATA: /* ck_left == 0 here: its CRLF follows */
			r->ck = CK_DATA_END;
			break;
		case CK_DATA_END:
			r->off++;
			if (c == '\n') {
				r->ck = CK_SIZE;
				r->ck_digits = 0;
			} else if (c != '\r') {
				return -EPROTO;
			}
			break;
		case CK_TRAILER:
			r->off++;
			if (c == '\n') {
				if (r->ck_line_empty)
					r->ck = CK_DONE;
				r->ck_line_empty = true;
			} else if (c != '\r') {
				r->ck_line_empty = false;
			}
			break;
		}
	}
}

long http_fdr_read(struct http_fdr *r, void *buf, size_t len)
{
	if (r->body_done || !len)
		return 0;
	if (r->fc->expect && !r->continue_sent && !r->replied) {
		r->continue_sent = true;
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (send_all(r, cont, sizeof(cont) - 1))
			return -EIO;
	}
	if (!r->fc->chunked) {
		if (!r->body_left) {
			r->body_done = true;
			return 0;
		}
		size_t want = len < r->body_left ? len : (size_t)r->body_left;
		if (r->off == r->len) {
			/* Straight into the caller's buffer: never past the body. */
			for (;;) {
				short ev;
				long n = conn_recv(r, buf, want, &ev);
				if (n > 0) {
					r->body_left -= (uint64_t)n;
					r->body_done = !r->body_left;
					return n;
				}
				if (n == 0)
					return -EIO; /* the client left mid-body */
				if (n != -EAGAIN || wait_fd(r, ev))
					return -EIO;
			}
		}
		size_t n = r->len - r->off < want ? r->len - r->off : want;
		memcpy(buf, r->buf + r->off, n);
		r->off += n;
		r->body_left -= n;
		r->body_done = !r->body_left;
		return (long)n;
	}
	int rc = chunk_frame(r);
	if (rc)
		return -EIO;
	if (r->ck == CK_DONE) {
		r->body_done = true;
		return 0;
	}
	size_t n = r->len - r->off;
	if (n > len)
		n = len;
	if (n > r->ck_left)
		n = (size_t)r->ck_left;
	memcpy(buf, r->buf + r->off, n);
	r->off += n;
	r->ck_left -= n;
	return (long)n;
}

/* ---- the reply ---- */

static void put(char **p, char *end, const char *s)
{
	size_t n = strlen(s);
	if (*p && (size_t)(end - *p) > n) {
		memcpy(*p, s, n);
		*p += n;
	} else {
		*p = NULL;
	}
}

void http_fdr_reply_start(struct http_fdr *r, int status, const char *content_type,
			  uint64_t content_length, const struct http_header *extra, size_t nextra,
			  bool no_store)
{
	r->replied = true;
	char head[8192], num[64];
	char *p = head, *end = head + sizeof(head);
	const char *reason = mg_get_response_code_text(NULL, status);
	snprintf(num, sizeof(num), "HTTP/1.1 %d ", status);
	put(&p, end, num);
	put(&p, end, reason ? reason : "");
	put(&p, end, "\r\n");
	if (content_type) {
		put(&p, end, "Content-Type: ");
		put(&p, end, content_type);
		put(&p, end, "\r\n");
	}
	snprintf(num, sizeof(num), "Content-Length: %llu\r\n", (unsigned long long)content_length);
	put(&p, end, num);
	if (no_store)
		put(&p, end, "Cache-Control: no-store\r\n");
	bool close = false;
	for (size_t i = 0; i < nextra; i++) {
		if (strcasecmp(extra[i].name, "Connection") == 0) {
			close = true; /* the handler's own: only "close" is ever sent */
			continue;
		}
		put(&p, end, extra[i].name);
		put(&p, end, ": ");
		put(&p, end, extra[i].value);
		put(&p, end, "\r\n");
	}
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
	put(&p, end, date);
	/* A body not read to its end cannot be skipped reliably: close. */
	bool keep = r->fc->client_keep && !close && r->body_done;
	r->close_sent = !keep;
	put(&p, end, keep ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
	if (!p) {
		r->broken = true; /* a head over 8 KiB: a handler bug, never sent */
		return;
	}
	r->reply_left = r->head_method ? 0 : content_length;
	send_all(r, head, (size_t)(p - head));
}

int http_fdr_write(struct http_fdr *r, const void *data, size_t len)
{
	if (r->head_method)
		return 0;
	if (len > r->reply_left)
		return -EPIPE; /* more than the head said: a handler bug */
	int rc = send_all(r, data, len);
	if (!rc)
		r->reply_left -= len;
	return rc;
}

void http_fdr_abort(struct http_fdr *r)
{
	r->aborted = true;
}

void http_fd_serve(struct http_fd_conn *fc, http_handler_fn fn, void *ctx)
{
	struct http_fdr r = {
		.fc = fc,
		.head_method = strcmp(fc->method, "HEAD") == 0,
		.body_left = fc->has_length ? fc->content_length : 0,
	};
	fc->keep = false;
	fc->tls_failed = false;
	fc->rest = NULL;
	fc->nrest = 0;
	if (!(r.buf = malloc(FDR_BUF)) || fc->nbuffered > FDR_BUF) {
		free(r.buf);
		return; /* cannot even answer: the caller closes */
	}
	memcpy(r.buf, fc->buffered, fc->nbuffered);
	r.len = fc->nbuffered;
	r.body_done = !fc->chunked && !r.body_left;
	http_req_run_fd(&r, fn, ctx);
	fc->keep = !fc->tls_failed && !r.close_sent && !r.broken && !r.aborted && r.body_done && !r.reply_left;
	if (fc->keep && r.len > r.off && (fc->rest = malloc(r.len - r.off))) {
		memcpy(fc->rest, r.buf + r.off, r.len - r.off);
		fc->nrest = r.len - r.off;
	} else if (fc->keep && r.len > r.off) {
		fc->keep = false;
	}
	free(r.buf);
}
