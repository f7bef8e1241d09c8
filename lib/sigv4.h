#ifndef STRATA_LIB_SIGV4_H
#define STRATA_LIB_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * AWS Signature Version 4, as pure functions: no clock, no I/O. The caller
 * passes the time, the request parts and the keys; out comes the
 * Authorization header value, byte for byte what botocore's S3SigV4Auth
 * produces for the same request (tests/unit/test_ufs_sigv4.c proves it).
 *
 * Used by the S3 driver (ufs/s3.c) to sign and by the S3 gateway
 * (api/s3_auth.c) to verify: both share this one canonicalization.
 * Secrets are never copied into any output or message.
 */

struct sigv4_kv {
	const char *name;
	const char *value;
};

struct sigv4_request {
	const char *method;        /* "GET", "PUT", ... */
	const char *canonical_uri; /* URI-encoded path as sent, e.g. "/bkt/a%20b" */
	const struct sigv4_kv *query; /* raw (unencoded) query parameters */
	size_t nquery;
	/* Every header to sign (name case and value spacing as sent). Must
	 * include host, x-amz-date and x-amz-content-sha256. */
	const struct sigv4_kv *headers;
	size_t nheaders;
	const char *payload_hash; /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
};

struct sigv4_key {
	const char *access_key;
	const char *secret_key;
	const char *region;  /* "us-east-1" */
	const char *service; /* "s3" */
};

#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Formats t as an x-amz-date value "YYYYMMDDTHHMMSSZ" (UTC). */
void sigv4_amz_date(time_t t, char out[17]);

/* Hex SHA-256 of data. */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * URI-encodes s per SigV4: unreserved A-Z a-z 0-9 - _ . ~ kept, every other
 * byte as %XY (upper-case hex); '/' kept when keep_slash (object paths).
 * On success *out is a malloc'd string owned by the caller. -ENOMEM.
 */
int sigv4_uri_encode(const char *s, bool keep_slash, char **out);

/* The canonical query string (encoded, sorted by name then value), which
 * is also a valid URL query. *out malloc'd, owned by the caller. */
int sigv4_canonical_query(const struct sigv4_kv *query, size_t nquery, char **out);

/*
 * The canonical request (for tests and for the gateway's diagnostics) and
 * the full Authorization header value:
 *   AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
 *   SignedHeaders=a;b;c, Signature=hex
 * amz_date is the request's x-amz-date value. *out malloc'd, owned by the
 * caller. -EINVAL if amz_date is malformed or a required part is missing.
 */
int sigv4_canonical_request(const struct sigv4_request *req, char **out);
int sigv4_authorization(const struct sigv4_request *req, const struct sigv4_key *key,
			const char *amz_date, char **out);

/* Just the hex signature of req (key->access_key is not needed). */
int sigv4_signature(const struct sigv4_request *req, const struct sigv4_key *key,
		    const char *amz_date, char out[65]);

#define SIGV4_KEY_LEN 32
/* The derived signing key HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region),
 * service), "aws4_request"); date is "YYYYMMDD". The caller wipes out. */
int sigv4_signing_key(const char *secret_key, const char *date, const char *region,
		      const char *service, unsigned char out[SIGV4_KEY_LEN]);

/* sigv4_signature with the derived signing key (sigv4_signing_key of the
 * date, region and service of amz_date's scope) instead of the secret:
 * what a verifier that caches derived keys calls. */
int sigv4_signature_derived(const struct sigv4_request *req,
			    const unsigned char signing_key[SIGV4_KEY_LEN], const char *region,
			    const char *service, const char *amz_date, char out[65]);

/*
 * Signature of one aws-chunked payload chunk (STREAMING-AWS4-HMAC-SHA256-
 * PAYLOAD): scope is "DATE/REGION/SERVICE/aws4_request", prev_signature the
 * seed signature for the first chunk, then each chunk's; chunk_sha256 the
 * hex SHA-256 of the chunk data.
 */
int sigv4_chunk_signature(const unsigned char signing_key[SIGV4_KEY_LEN], const char *amz_date,
			  const char *scope, const char *prev_signature, const char *chunk_sha256,
			  char out[65]);

/* Constant-time (in the contents) comparison of two signatures. */
bool sigv4_equal(const char *a, const char *b);

#endif
