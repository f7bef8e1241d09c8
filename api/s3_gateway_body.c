/*
 * The S3 gateway's request bodies (api/s3_gateway_int.h): plain or
 * aws-chunked, hashed as they stream, checked when they end.
 */
#include "api/s3_gateway_int.h"

#include "api/http.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pending_sink(void *arg, const void *data, size_t len)
{
	struct body_state *b = arg;
	memcpy(b->pending + b->npending, data, len);
	b->npending += len;
	return 0;
}

static int body_finish(struct body_state *b)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (b->chunked) {
		int rc = s3_auth_chunked_finish(&b->dec);
		if (rc) {
			snprintf(b->c->err, sizeof(b->c->err), "aws-chunked body ends early");
			return rc;
		}
		if (b->want_decoded >= 0 && (uint64_t)b->want_decoded != b->decoded) {
			snprintf(b->c->err, sizeof(b->c->err),
				 "x-amz-decoded-content-length says %" PRId64 " bytes, got %" PRIu64,
				 b->want_decoded, b->decoded);
			return S3_ERR_INCOMPLETE_BODY;
		}
	} else if (b->raw_left > 0) {
		snprintf(b->c->err, sizeof(b->c->err), "the body ended %" PRId64 " bytes early",
			 b->raw_left);
		return S3_ERR_INCOMPLETE_BODY;
	}
	if (b->sha) {
		char hex[65];
		if (EVP_DigestFinal_ex(b->sha, md, &mdlen) != 1)
			return S3_ERR_INTERNAL;
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		if (strcmp(hex, b->c->auth.payload_sha256) != 0) {
			snprintf(b->c->err, sizeof(b->c->err),
				 "the body does not hash to x-amz-content-sha256");
			return S3_ERR_SHA256_MISMATCH;
		}
	}
	return 0;
}

static long body_read(struct s3_body *body, void *buf, size_t len)
{
	struct body_state *b = body->priv;
	long n;
	if (b->final_rc)
		return b->final_rc;
	if (b->eof)
		return 0;
	if (!b->chunked) {
		size_t want = len;
		if (b->raw_left >= 0 && (uint64_t)b->raw_left < want)
			want = (size_t)b->raw_left;
		n = want ? http_req_read(b->c->req, buf, want) : 0;
		if (n < 0) {
			snprintf(b->c->err, sizeof(b->c->err), "cannot read the request body");
			return b->final_rc = S3_ERR_INCOMPLETE_BODY;
		}
		if (b->raw_left >= 0)
			b->raw_left -= n;
	} else {
		while (b->pending_off == b->npending) {
			b->npending = b->pending_off = 0;
			size_t want = GW_IO_CHUNK;
			if (b->raw_left >= 0 && (uint64_t)b->raw_left < want)
				want = (size_t)b->raw_left;
			long got = want ? http_req_read(b->c->req, b->raw, want) : 0;
			if (got < 0) {
				snprintf(b->c->err, sizeof(b->c->err), "cannot read the request body");
				return b->final_rc = S3_ERR_INCOMPLETE_BODY;
			}
			if (got == 0)
				break;
			if (b->raw_left >= 0)
				b->raw_left -= got;
			int rc = s3_auth_chunked_feed(&b->dec, b->raw, (size_t)got, pending_sink, b);
			if (rc) {
				snprintf(b->c->err, sizeof(b->c->err),
					 rc == S3_ERR_SIGNATURE_MISMATCH
						 ? "an aws-chunked chunk signature does not match"
						 : "malformed aws-chunked body");
				return b->final_rc = rc;
			}
		}
		n = (long)(b->npending - b->pending_off);
		if ((size_t)n > len)
			n = (long)len;
		memcpy(buf, b->pending + b->pending_off, (size_t)n);
		b->pending_off += (size_t)n;
	}
	if (n == 0) {
		b->eof = true;
		b->c->body_done = true;
		int rc = body_finish(b);
		if (!rc && b->check_md5) {
			unsigned char md[EVP_MAX_MD_SIZE];
			unsigned mdlen = 0;
			EVP_DigestFinal_ex(b->md5, md, &mdlen);
			if (mdlen != 16 || CRYPTO_memcmp(md, b->want_md5, 16) != 0) {
				snprintf(b->c->err, sizeof(b->c->err),
					 "the body does not match Content-MD5");
				rc = S3_ERR_BAD_DIGEST;
			}
			for (unsigned i = 0; i < mdlen; i++)
				snprintf(body->md5_hex + 2 * i, 3, "%02x", md[i]);
		} else if (!rc) {
			unsigned char md[EVP_MAX_MD_SIZE];
			unsigned mdlen = 0;
			EVP_DigestFinal_ex(b->md5, md, &mdlen);
			for (unsigned i = 0; i < mdlen; i++)
				snprintf(body->md5_hex + 2 * i, 3, "%02x", md[i]);
		}
		return b->final_rc = rc;
	}
	b->decoded += (uint64_t)n;
	if (b->decoded > b->max) {
		snprintf(b->c->err, sizeof(b->c->err), "the body exceeds %" PRIu64 " bytes", b->max);
		return b->final_rc = S3_ERR_ENTITY_TOO_LARGE;
	}
	if (b->sha)
		EVP_DigestUpdate(b->sha, buf, (size_t)n);
	EVP_DigestUpdate(b->md5, buf, (size_t)n);
	return n;
}

static bool header_int(struct http_req *req, const char *name, int64_t *out)
{
	const char *v = http_req_header(req, name);
	char *end = NULL;
	if (!v || !*v)
		return false;
	long long x = strtoll(v, &end, 10);
	if (*end || x < 0)
		return false;
	*out = x;
	return true;
}

void s3_gw_body_close(struct body_state *b)
{
	if (b->chunked)
		s3_auth_chunked_free(&b->dec);
	EVP_MD_CTX_free(b->sha);
	EVP_MD_CTX_free(b->md5);
	free(b->raw);
	free(b->pending);
}

int s3_gw_body_open(struct gw_call *c, struct s3_body *body, struct body_state *b)
{
	struct http_req *req = c->req;
	const char *sha_hdr = http_req_header(req, "x-amz-content-sha256");
	memset(b, 0, sizeof(*b));
	memset(body, 0, sizeof(*body));
	b->c = c;
	b->max = c->gw->max_put;
	b->want_decoded = -1;
	if (!header_int(req, "Content-Length", &b->raw_left))
		b->raw_left = -1;
	body->read = body_read;
	body->priv = b;
	body->size = b->raw_left;
	b->md5 = EVP_MD_CTX_new();
	if (!b->md5 || EVP_DigestInit_ex(b->md5, EVP_md5(), NULL) != 1)
		return S3_ERR_INTERNAL;
	enum s3_payload payload = S3_PAYLOAD_UNSIGNED;
	if (c->authed) {
		payload = c->auth.payload;
	} else if (sha_hdr && !strcmp(sha_hdr, S3_AUTH_STREAMING)) {
		payload = S3_PAYLOAD_STREAMING_UNSIGNED; /* no keys: framing only */
	} else if (sha_hdr && !strcmp(sha_hdr, S3_AUTH_STREAMING_UNSIGNED)) {
		payload = S3_PAYLOAD_STREAMING_UNSIGNED;
	} else if (sha_hdr && strlen(sha_hdr) == 64) {
		payload = S3_PAYLOAD_SHA256;
		snprintf(c->auth.payload_sha256, sizeof(c->auth.payload_sha256), "%s", sha_hdr);
	}
	if (payload == S3_PAYLOAD_STREAMING || payload == S3_PAYLOAD_STREAMING_UNSIGNED) {
		b->chunked = true;
		if (s3_auth_chunked_init(&b->dec, c->authed ? &c->auth : NULL))
			return S3_ERR_INTERNAL;
		if (header_int(req, "x-amz-decoded-content-length", &b->want_decoded))
			body->size = b->want_decoded;
		else
			body->size = -1;
		b->raw = malloc(GW_IO_CHUNK);
		b->pending = malloc(GW_IO_CHUNK);
		if (!b->raw || !b->pending)
			return S3_ERR_INTERNAL;
	} else if (payload == S3_PAYLOAD_SHA256) {
		b->sha = EVP_MD_CTX_new();
		if (!b->sha || EVP_DigestInit_ex(b->sha, EVP_sha256(), NULL) != 1)
			return S3_ERR_INTERNAL;
	}
	if (body->size >= 0 && (uint64_t)body->size > b->max) {
		snprintf(c->err, sizeof(c->err), "object of %" PRId64 " bytes exceeds %" PRIu64,
			 body->size, b->max);
		return S3_ERR_ENTITY_TOO_LARGE;
	}
	const char *cmd5 = http_req_header(req, "Content-MD5");
	if (cmd5) {
		unsigned char bin[80];
		size_t clen = strlen(cmd5);
		int n = clen == 24 ? EVP_DecodeBlock(bin, (const unsigned char *)cmd5, 24) : -1;
		if (n != 18 || cmd5[22] != '=' || cmd5[23] != '=') {
			snprintf(c->err, sizeof(c->err), "Content-MD5 must be base64 of 16 bytes");
			return S3_ERR_INVALID_DIGEST;
		}
		memcpy(b->want_md5, bin, 16);
		b->check_md5 = true;
	}
	return 0;
}

int s3_gw_read_small_body(struct gw_call *c, size_t max, char **out, size_t *outlen)
{
	struct s3_body body;
	struct body_state b;
	size_t cap = 4096, len = 0;
	char *buf = NULL;
	int rc = s3_gw_body_open(c, &body, &b);
	if (rc)
		goto out;
	buf = malloc(cap + 1);
	if (!buf) {
		rc = S3_ERR_INTERNAL;
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				snprintf(c->err, sizeof(c->err), "request body over %zu bytes", max);
				rc = S3_ERR_MALFORMED_XML;
				goto out;
			}
			char *grown = realloc(buf, cap * 2 + 1);
			if (!grown) {
				rc = S3_ERR_INTERNAL;
				goto out;
			}
			buf = grown;
			cap *= 2;
		}
		long n = body_read(&body, buf + len, cap - len);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	s3_gw_body_close(&b);
	return rc;
}

