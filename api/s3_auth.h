#ifndef STRATA_API_S3_AUTH_H
#define STRATA_API_S3_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/sigv4.h"

/*
 * SigV4 verification of incoming S3 requests, on the canonicalization of
 * lib/sigv4.c (the same code the S3 under-store signs with). Pure: the
 * clock is an argument, headers come through a getter, secrets through the
 * caller's lookup callback; no I/O, no logging.
 *
 * Accepted: the Authorization header form ("AWS4-HMAC-SHA256 Credential=
 * AK/DATE/REGION/s3/aws4_request, SignedHeaders=..., Signature=...") with
 * x-amz-content-sha256 a hex SHA-256, UNSIGNED-PAYLOAD or
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD (aws-chunked body, decoded and checked
 * chunk by chunk by struct s3_auth_chunked), and presigned URLs
 * (X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders,
 * -Signature). Any region is accepted (it is part of the signature).
 * Errors are negative s3_err codes (api/s3_proto.h): InvalidAccessKeyId,
 * SignatureDoesNotMatch, AccessDenied (missing auth, presign expired),
 * RequestTimeTooSkewed (more than 15 minutes off), AuthorizationHeaderMalformed.
 * err never contains a secret.
 */

#define S3_AUTH_MAX_SKEW 900           /* seconds */
#define S3_AUTH_MAX_PRESIGN 604800     /* seconds (7 days) */
#define S3_AUTH_SECRET_MAX 256
#define S3_AUTH_STREAMING "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define S3_AUTH_STREAMING_UNSIGNED "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

/* Copies the secret of access_key into secret (NUL-terminated). Returns 0,
 * -ENOENT for an unknown key, or another negative errno. */
typedef int (*s3_auth_lookup_fn)(void *arg, const char *access_key, char *secret,
				 size_t secretlen);
/* A request header by (case-insensitive) name, or NULL. */
typedef const char *(*s3_auth_header_fn)(void *arg, const char *name);

struct s3_auth_input {
	const char *method;
	const char *raw_path;  /* as sent, %-encoded, without query */
	const char *raw_query; /* as sent, may be NULL */
	s3_auth_header_fn header;
	void *header_arg;
	int64_t now; /* the server's clock, seconds since the epoch */
};

enum s3_auth_mode { S3_AUTH_ANONYMOUS, S3_AUTH_HEADER, S3_AUTH_PRESIGNED };
enum s3_payload {
	S3_PAYLOAD_UNSIGNED,  /* UNSIGNED-PAYLOAD or presigned */
	S3_PAYLOAD_SHA256,    /* the body must hash to payload_sha256 */
	S3_PAYLOAD_STREAMING, /* aws-chunked with chunk signatures */
	S3_PAYLOAD_STREAMING_UNSIGNED, /* aws-chunked, no signatures, trailers */
};

/* What a verified request proved; also the seed for s3_auth_chunked. */
struct s3_auth_result {
	enum s3_auth_mode mode;
	enum s3_payload payload;
	char access_key[128];
	char payload_sha256[65];
	char amz_date[17];
	char scope[160];           /* DATE/REGION/SERVICE/aws4_request */
	char seed_signature[65];
	unsigned char signing_key[SIGV4_KEY_LEN]; /* wiped by s3_auth_result_wipe */
};

/* The parts of an Authorization header value (pure, fuzzed). */
struct s3_auth_header {
	char access_key[128];
	char date[9];
	char region[64];
	char service[32];
	char signed_headers[1024]; /* "host;x-amz-date" */
	char signature[65];
};
int s3_auth_parse_header(const char *value, struct s3_auth_header *out, char *err,
			 size_t errlen);

/*
 * Verifies the request. A request that carries no signature at all
 * returns S3_ERR_ACCESS_DENIED (the gateway only calls this when
 * credentials are configured). On success out is filled.
 */
int s3_auth_verify(const struct s3_auth_input *in, s3_auth_lookup_fn lookup, void *lookup_arg,
		   struct s3_auth_result *out, char *err, size_t errlen);
void s3_auth_result_wipe(struct s3_auth_result *r);

/* The derived signing key (sigv4_signing_key) of access_key for a scope
 * (date "YYYYMMDD", region, service), so a caller may cache it: 0,
 * -ENOENT for an unknown key, or another negative errno. */
typedef int (*s3_auth_signing_key_fn)(void *arg, const char *access_key, const char *date,
				      const char *region, const char *service,
				      unsigned char key[SIGV4_KEY_LEN]);
/* s3_auth_verify with signing keys instead of secrets. */
int s3_auth_verify_derived(const struct s3_auth_input *in, s3_auth_signing_key_fn keyfn,
			   void *key_arg, struct s3_auth_result *out, char *err, size_t errlen);

/*
 * aws-chunked body decoder: "hex-size;chunk-signature=sig\r\n" data "\r\n"
 * ... "0;chunk-signature=sig\r\n\r\n" (or, unsigned, "hex-size\r\n" ...
 * "0\r\n" trailer lines "\r\n"). Decoded bytes go to the sink as they
 * arrive, before their chunk's signature is checked: a caller must treat
 * the data as unproven until s3_auth_chunked_finish returns 0, and drop it
 * on any error (the gateway aborts the put).
 */
typedef int (*s3_auth_sink_fn)(void *arg, const void *data, size_t len);

struct s3_auth_chunked {
	bool verify;
	int state;
	char line[256];
	size_t linelen;
	uint64_t remaining; /* data bytes left in the current chunk */
	uint64_t decoded;   /* total data bytes so far */
	bool last;          /* the zero-size chunk was seen */
	char chunk_sig[65];
	char prev_sig[65];
	void *sha; /* EVP_MD_CTX of the current chunk */
	char amz_date[17];
	char scope[160];
	unsigned char key[SIGV4_KEY_LEN];
};

/* auth NULL or of payload S3_PAYLOAD_STREAMING_UNSIGNED: no signatures.
 * Returns 0 or -ENOMEM; s3_auth_chunked_free after use. */
int s3_auth_chunked_init(struct s3_auth_chunked *d, const struct s3_auth_result *auth);
/* Returns 0, a sink's negative rc, S3_ERR_SIGNATURE_MISMATCH, or
 * S3_ERR_INCOMPLETE_BODY for a malformed framing. */
int s3_auth_chunked_feed(struct s3_auth_chunked *d, const void *data, size_t len,
			 s3_auth_sink_fn sink, void *sink_arg);
/* 0 once the final chunk (and trailers) arrived, else S3_ERR_INCOMPLETE_BODY. */
int s3_auth_chunked_finish(const struct s3_auth_chunked *d);
void s3_auth_chunked_free(struct s3_auth_chunked *d);

#endif
