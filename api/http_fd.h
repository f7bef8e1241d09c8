#ifndef STRATA_API_HTTP_FD_H
#define STRATA_API_HTTP_FD_H

/*
 * A second backend for struct http_req (api/http.h): one request on a
 * socket (plain or through an established TLS session) whose head the caller already parsed, so a handler written
 * for the CivetWeb server (the S3 gateway, s3_gw_handle) runs unchanged on
 * a connection an event loop owns. The S3 server's pool threads use it
 * (api/s3_server.c).
 *
 * Body: by Content-Length or chunked framing (decoded), from the bytes the
 * caller had buffered, then from the socket; "Expect: 100-continue" gets
 * its interim reply at the first read. Replies: HTTP/1.1 heads with the
 * handler's headers, Date and Connection. A client that goes away or
 * stalls for io_timeout_ms ends the request at once: reads and writes fail
 * (the handler discards what it was doing), the connection is not reused.
 */

#include "api/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_fd_field {
	const char *name, *value; /* NUL-terminated */
};

struct http_fd_conn {
	/* in: the caller's, borrowed for the call */
	int fd;                /* the client socket (blocking or not) */
	void *ssl;             /* its SSL (OpenSSL's SSL *, handshake done), or NULL:
				* plain. Only this call touches it meanwhile. */
	const char *method;    /* NUL-terminated */
	const char *path;      /* as sent, without the query */
	const char *query;     /* NULL: no '?' */
	const struct http_fd_field *fields;
	size_t nfields;
	bool client_keep;      /* the client wants the connection kept */
	bool has_length;
	uint64_t content_length;
	bool chunked;
	bool expect;           /* an Expect: header */
	const char *buffered;  /* bytes read past the head (body, maybe more) */
	size_t nbuffered;
	int64_t io_timeout_ms; /* per read or write */
	/* out */
	bool keep;             /* the connection may carry another request */
	bool tls_failed;       /* a fatal TLS error: the session must not be used */
	char *rest;            /* malloc'd bytes read past this request, or NULL */
	size_t nrest;
};

/* Runs fn(req, ctx) on the request fc describes; a handler that does not
 * reply gets a 500 for it. Fills fc's out fields. */
void http_fd_serve(struct http_fd_conn *fc, http_handler_fn fn, void *ctx);

#endif
