#ifndef STRATA_API_S3_SERVER_HTTP_H
#define STRATA_API_S3_SERVER_HTTP_H

/*
 * HTTP/1.x framing for the S3 front (api/s3_server.c): request
 * heads, response heads and chunked bodies. Pure: bytes in, a verdict out;
 * no allocation, no I/O. Every function reads only the bytes it is given,
 * whatever they hold (tests/fuzz/fuzz_s3front_http.c).
 *
 * A head ends at the first empty line; lines end in CRLF or a bare LF
 * (as CivetWeb accepts). Refused (s3fh_parse_request returns -EINVAL, the
 * front answers 400): a request line that is not "METHOD SP TARGET SP
 * HTTP/1.0|1.1", control bytes or spaces in the target, a header line
 * without ':' or with a folded continuation, a name that is not a token,
 * more than S3FH_MAX_HEADERS headers, a bad or conflicting Content-Length,
 * a Transfer-Encoding other than chunked, and Content-Length together with
 * Transfer-Encoding (the classic smuggling pair).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3FH_MAX_HEADERS 100

/* A slice of the caller's buffer. */
struct s3fh_str {
	const char *p;
	size_t len;
};

/* One header line: name and trimmed value, slices of the head. */
struct s3fh_field {
	struct s3fh_str name, value;
};

struct s3fh_request {
	size_t head_len;          /* bytes of the head, empty line included */
	struct s3fh_str method;
	struct s3fh_str target;   /* as sent: path and query */
	int minor;                /* HTTP/1.<minor>: 0 or 1 */
	bool has_length;          /* Content-Length present */
	uint64_t content_length;
	bool chunked;             /* Transfer-Encoding: chunked */
	bool conn_close, conn_keep_alive; /* Connection tokens */
	bool expect;              /* Expect: present */
	bool conditional;         /* any If-* header */
	bool authorization;       /* Authorization present */
	unsigned nrange;          /* Range headers seen */
	struct s3fh_str range;    /* the last Range value, trimmed */
	unsigned nheaders;
	struct s3fh_field fields[S3FH_MAX_HEADERS]; /* the first nheaders, in order */
};

/*
 * Parses a request head at the start of buf. Returns 1 with *out filled
 * when a complete head is there, 0 when more bytes are needed (no empty
 * line yet), -EINVAL when it is malformed (see above).
 */
int s3fh_parse_request(const char *buf, size_t len, struct s3fh_request *out);

/* Whether the client wants the connection kept after this request. */
bool s3fh_keep_alive(const struct s3fh_request *r);

struct s3fh_response {
	size_t head_len;
	int status;
	bool has_length;
	uint64_t content_length;
	bool chunked;
	bool conn_close;
	int minor;
};

/* The same for a response head ("HTTP/1.x NNN reason"). */
int s3fh_parse_response(const char *buf, size_t len, struct s3fh_response *out);

/*
 * Incremental scanner of a chunked body (RFC 9112 7.1: size[;ext] CRLF
 * data CRLF ... 0 CRLF trailers CRLF). Zero-initialise it, then feed the
 * bytes as they come: it returns how many of them belong to the body (all
 * of them until the end, then fewer) and sets done at the end, or
 * -EINVAL on broken framing. Chunk sizes above 2^60 are refused.
 */
struct s3fh_chunked {
	int state;
	uint64_t left;
	unsigned ndigits;
	bool done;
};
long s3fh_chunked_feed(struct s3fh_chunked *st, const char *data, size_t len);

/* "HTTP/1.1 200 OK" reason phrases for the statuses the front sends. */
const char *s3fh_reason(int status);

#endif
