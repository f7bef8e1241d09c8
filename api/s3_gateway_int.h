#ifndef STRATA_API_S3_GATEWAY_INT_H
#define STRATA_API_S3_GATEWAY_INT_H

/* Private to api/s3_gateway.c and api/s3_gateway_body.c. */

#include "api/s3_gateway.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_DEFAULT_MAX_PUT (5ull * 1024 * 1024 * 1024)
#define GW_IO_CHUNK (256u * 1024)

struct http_req;

struct s3_gw {
	struct s3_backend be;
	void *be_ctx;
	char *region;
	s3_auth_lookup_fn lookup;
	void *lookup_arg;
	struct s3_gw_auth auth;
	uint64_t max_put;
	int64_t (*now)(void *arg);
	void *now_arg;
	uint64_t seq; /* request ids */
	uint64_t boot;
};

/* One request in flight. */
struct gw_call {
	struct s3_gw *gw;
	struct http_req *req;
	struct s3_request r;
	struct s3_auth_result auth;
	bool authed;
	bool body_done; /* the request body was read to its end */
	char request_id[24];
	char resource[S3_MAX_KEY + S3_MAX_BUCKET + 8];
	char err[512];
};

struct body_state {
	struct gw_call *c;
	int64_t raw_left; /* bytes of the HTTP body still to read; -1 unknown */
	bool chunked;     /* aws-chunked framing */
	struct s3_auth_chunked dec;
	EVP_MD_CTX *sha; /* SHA-256 of the body, when the client signed one */
	EVP_MD_CTX *md5;
	unsigned char want_md5[16];
	bool check_md5;
	uint64_t decoded;
	int64_t want_decoded; /* x-amz-decoded-content-length, -1 */
	uint64_t max;
	char *raw;       /* aws-chunked: raw input */
	char *pending;   /* aws-chunked: decoded, not yet handed out */
	size_t npending, pending_off;
	bool eof;
	int final_rc;
};

/*
 * Sets up body (the backend's reader) over the request body of c: plain,
 * or aws-chunked (signed chunks verified when c->authed), with the SHA-256,
 * Content-MD5 and size checks done when it ends. Returns 0 or a negative
 * s3_err; s3_gw_body_close in both cases.
 */
int s3_gw_body_open(struct gw_call *c, struct s3_body *body, struct body_state *b);
void s3_gw_body_close(struct body_state *b);
/* Reads a small (XML) body whole, at most max bytes. *out malloc'd (NUL-
 * terminated), the caller's. Returns 0 or a negative s3_err. */
int s3_gw_read_small_body(struct gw_call *c, size_t max, char **out, size_t *outlen);

#endif
