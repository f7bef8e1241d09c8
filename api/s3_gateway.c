/*
 * The S3 gateway's HTTP layer (api/s3_gateway.h): auth, classification,
 * backend calls, replies. Everything protocol-shaped is in s3_proto/s3_auth;
 * this file is the I/O edge.
 */
#include "api/s3_gateway.h"

#include "api/http.h"
#include "lib/log.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GW_DEFAULT_MAX_PUT (5ull * 1024 * 1024 * 1024)
#define GW_MAX_XML_BODY (4u * 1024 * 1024)
#define GW_IO_CHUNK (256u * 1024)
#define GW_OWNER "strata"

struct s3_gw {
	struct s3_backend be;
	void *be_ctx;
	char *region;
	s3_auth_lookup_fn lookup;
	void *lookup_arg;
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

int s3_gw_page_add(struct s3_list_page *page, const char *key, bool is_prefix, uint64_t size,
		   int64_t mtime, const char *etag)
{
	/* Capacity is 16, then doubles whenever n reaches a power of two. */
	size_t n = page->n;
	if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
		size_t cap = n ? n * 2 : 16;
		struct s3_list_entry *grown = realloc(page->entries, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		page->entries = grown;
	}
	struct s3_list_entry *e = &page->entries[n];
	memset(e, 0, sizeof(*e));
	e->key = strdup(key);
	if (!e->key)
		return -ENOMEM;
	e->is_prefix = is_prefix;
	e->size = size;
	e->mtime = mtime;
	snprintf(e->etag, sizeof(e->etag), "%s", etag ? etag : "");
	page->n++;
	return 0;
}

void s3_gw_page_free(struct s3_list_page *page)
{
	for (size_t i = 0; i < page->n; i++)
		free(page->entries[i].key);
	free(page->entries);
	memset(page, 0, sizeof(*page));
}

int s3_gw_map_errno(int rc, bool object)
{
	if (rc <= -S3_ERR_BASE)
		return rc;
	switch (rc) {
	case 0:
		return 0;
	case -ENOENT:
		return object ? -S3_ERR_NO_SUCH_KEY : -S3_ERR_NO_SUCH_BUCKET;
	case -EEXIST:
		return -S3_ERR_BUCKET_EXISTS;
	case -ENOTEMPTY:
		return -S3_ERR_BUCKET_NOT_EMPTY;
	case -EACCES:
	case -EPERM:
	case -EROFS:
		return -S3_ERR_ACCESS_DENIED;
	case -EAGAIN:
	case -EBUSY:
	case -ETIMEDOUT:
	case -ECONNREFUSED:
		return -S3_ERR_SERVICE_UNAVAILABLE;
	case -ENOTDIR:
	case -EISDIR:
		return -S3_ERR_KEY_CONFLICT;
	case -EBADMSG:
		return -S3_ERR_INVALID_PART;
	case -EMSGSIZE:
		return -S3_ERR_ENTITY_TOO_SMALL;
	case -EFBIG:
		return -S3_ERR_ENTITY_TOO_LARGE;
	case -ENOSPC:
	case -EDQUOT:
		return -S3_ERR_STORAGE_FULL;
	case -EINVAL:
	case -ENAMETOOLONG:
		return -S3_ERR_INVALID_ARGUMENT;
	default:
		return -S3_ERR_INTERNAL;
	}
}

static int64_t gw_now(const struct s3_gw *gw)
{
	return gw->now ? gw->now(gw->now_arg) : (int64_t)time(NULL);
}

struct s3_gw *s3_gw_new(const struct s3_gw_config *cfg, const struct s3_backend *backend,
			void *backend_ctx, char *err, size_t errlen)
{
	struct s3_gw *gw = calloc(1, sizeof(*gw));
	if (!gw)
		goto err_oom;
	gw->region = strdup(cfg->region && *cfg->region ? cfg->region : "us-east-1");
	if (!gw->region)
		goto err_free_gw;
	gw->be = *backend;
	gw->be_ctx = backend_ctx;
	gw->lookup = cfg->lookup;
	gw->lookup_arg = cfg->lookup_arg;
	gw->max_put = cfg->max_put_size ? cfg->max_put_size : GW_DEFAULT_MAX_PUT;
	gw->now = cfg->now;
	gw->now_arg = cfg->now_arg;
	gw->boot = (uint64_t)time(NULL);
	return gw;
err_free_gw:
	free(gw);
err_oom:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

void s3_gw_free(struct s3_gw *gw)
{
	if (!gw)
		return;
	free(gw->region);
	free(gw);
}

/* ---- replies ---- */

static void reply_headers(struct gw_call *c, int status, const char *ctype, uint64_t len,
			  const struct http_header *extra, size_t nextra)
{
	struct http_header h[12];
	size_t n = 0;
	h[n++] = (struct http_header){ "x-amz-request-id", c->request_id };
	h[n++] = (struct http_header){ "x-amz-id-2", c->request_id };
	h[n++] = (struct http_header){ "Server", "strata" };
	/* A reply before the body was read (an early error): CivetWeb would
	 * parse the unread body as the next request, so end the connection. */
	int64_t clen = 0;
	const char *cl = http_req_header(c->req, "Content-Length");
	if (cl)
		clen = strtoll(cl, NULL, 10);
	if (!c->body_done && (clen > 0 || http_req_header(c->req, "Transfer-Encoding")))
		h[n++] = (struct http_header){ "Connection", "close" };
	for (size_t i = 0; i < nextra && n < sizeof(h) / sizeof(h[0]); i++)
		h[n++] = extra[i];
	http_reply_start_headers(c->req, status, ctype, len, h, n);
}

static void reply_body(struct gw_call *c, int status, const char *ctype, const char *body,
		       size_t len, const struct http_header *extra, size_t nextra)
{
	reply_headers(c, status, ctype, len, extra, nextra);
	if (len)
		http_reply_write(c->req, body, len);
}

static void reply_error_extra(struct gw_call *c, int rc, const struct http_header *extra,
			      size_t nextra)
{
	int status;
	const char *code, *message;
	char *xml = NULL;
	size_t len = 0;
	rc = s3_gw_map_errno(rc, c->r.key != NULL);
	s3_error_lookup(rc, &status, &code, &message);
	const char *msg = *c->err ? c->err : message;
	if (status >= 500 && status != 501)
		log_warn("S3 %s %s: %s %s (%s)", http_req_method(c->req), c->resource, code, msg,
			 c->request_id);
	else
		log_debug("S3 %s %s: %s %s", http_req_method(c->req), c->resource, code, msg);
	if (s3_xml_error(code, msg, c->resource, c->request_id, &xml, &len)) {
		reply_body(c, 500, "text/plain", "out of memory", 13, NULL, 0);
		return;
	}
	reply_body(c, status, "application/xml", xml, len, extra, nextra);
	free(xml);
}

static void reply_error(struct gw_call *c, int rc)
{
	reply_error_extra(c, rc, NULL, 0);
}

static void reply_xml(struct gw_call *c, int rc, char *xml, size_t len,
		      const struct http_header *extra, size_t nextra)
{
	if (rc) {
		snprintf(c->err, sizeof(c->err), "out of memory building the reply");
		reply_error(c, -S3_ERR_INTERNAL);
		return;
	}
	reply_body(c, 200, "application/xml", xml, len, extra, nextra);
	free(xml);
}

/* ENOENT from an object call: a missing bucket or a missing key/upload? */
static int object_rc(struct gw_call *c, int rc, int missing)
{
	if (rc != -ENOENT)
		return s3_gw_map_errno(rc, true);
	char e[64];
	if (c->gw->be.head_bucket(c->gw->be_ctx, c->r.bucket, e, sizeof(e)) == -ENOENT) {
		snprintf(c->err, sizeof(c->err), "bucket '%s' does not exist", c->r.bucket);
		return -S3_ERR_NO_SUCH_BUCKET;
	}
	return missing;
}

static int head_bucket_rc(struct gw_call *c)
{
	int rc = c->gw->be.head_bucket(c->gw->be_ctx, c->r.bucket, c->err, sizeof(c->err));
	return rc ? s3_gw_map_errno(rc, false) : 0;
}

/* ---- request bodies ---- */

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
			return -S3_ERR_INCOMPLETE_BODY;
		}
	} else if (b->raw_left > 0) {
		snprintf(b->c->err, sizeof(b->c->err), "the body ended %" PRId64 " bytes early",
			 b->raw_left);
		return -S3_ERR_INCOMPLETE_BODY;
	}
	if (b->sha) {
		char hex[65];
		if (EVP_DigestFinal_ex(b->sha, md, &mdlen) != 1)
			return -S3_ERR_INTERNAL;
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		if (strcmp(hex, b->c->auth.payload_sha256) != 0) {
			snprintf(b->c->err, sizeof(b->c->err),
				 "the body does not hash to x-amz-content-sha256");
			return -S3_ERR_SHA256_MISMATCH;
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
			return b->final_rc = -S3_ERR_INCOMPLETE_BODY;
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
				return b->final_rc = -S3_ERR_INCOMPLETE_BODY;
			}
			if (got == 0)
				break;
			if (b->raw_left >= 0)
				b->raw_left -= got;
			int rc = s3_auth_chunked_feed(&b->dec, b->raw, (size_t)got, pending_sink, b);
			if (rc) {
				snprintf(b->c->err, sizeof(b->c->err),
					 rc == -S3_ERR_SIGNATURE_MISMATCH
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
				rc = -S3_ERR_BAD_DIGEST;
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
		return b->final_rc = -S3_ERR_ENTITY_TOO_LARGE;
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

static void body_close(struct body_state *b)
{
	if (b->chunked)
		s3_auth_chunked_free(&b->dec);
	EVP_MD_CTX_free(b->sha);
	EVP_MD_CTX_free(b->md5);
	free(b->raw);
	free(b->pending);
}

/* Sets up body/b for the request body. Returns 0 or a negative s3_err. */
static int body_open(struct gw_call *c, struct s3_body *body, struct body_state *b)
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
		return -S3_ERR_INTERNAL;
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
			return -S3_ERR_INTERNAL;
		if (header_int(req, "x-amz-decoded-content-length", &b->want_decoded))
			body->size = b->want_decoded;
		else
			body->size = -1;
		b->raw = malloc(GW_IO_CHUNK);
		b->pending = malloc(GW_IO_CHUNK);
		if (!b->raw || !b->pending)
			return -S3_ERR_INTERNAL;
	} else if (payload == S3_PAYLOAD_SHA256) {
		b->sha = EVP_MD_CTX_new();
		if (!b->sha || EVP_DigestInit_ex(b->sha, EVP_sha256(), NULL) != 1)
			return -S3_ERR_INTERNAL;
	}
	if (body->size >= 0 && (uint64_t)body->size > b->max) {
		snprintf(c->err, sizeof(c->err), "object of %" PRId64 " bytes exceeds %" PRIu64,
			 body->size, b->max);
		return -S3_ERR_ENTITY_TOO_LARGE;
	}
	const char *cmd5 = http_req_header(req, "Content-MD5");
	if (cmd5) {
		unsigned char bin[80];
		size_t clen = strlen(cmd5);
		int n = clen == 24 ? EVP_DecodeBlock(bin, (const unsigned char *)cmd5, 24) : -1;
		if (n != 18 || cmd5[22] != '=' || cmd5[23] != '=') {
			snprintf(c->err, sizeof(c->err), "Content-MD5 must be base64 of 16 bytes");
			return -S3_ERR_INVALID_DIGEST;
		}
		memcpy(b->want_md5, bin, 16);
		b->check_md5 = true;
	}
	return 0;
}

/* Reads a small body (XML) whole: -S3_ERR_* on failure. *out malloc'd. */
static int read_small_body(struct gw_call *c, size_t max, char **out, size_t *outlen)
{
	struct s3_body body;
	struct body_state b;
	size_t cap = 4096, len = 0;
	char *buf = NULL;
	int rc = body_open(c, &body, &b);
	if (rc)
		goto out;
	buf = malloc(cap + 1);
	if (!buf) {
		rc = -S3_ERR_INTERNAL;
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				snprintf(c->err, sizeof(c->err), "request body over %zu bytes", max);
				rc = -S3_ERR_MALFORMED_XML;
				goto out;
			}
			char *grown = realloc(buf, cap * 2 + 1);
			if (!grown) {
				rc = -S3_ERR_INTERNAL;
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
	body_close(&b);
	return rc;
}

/* ---- operations ---- */

static void op_list_buckets(struct gw_call *c)
{
	struct s3_bucket_entry *bk = NULL;
	size_t n = 0;
	char *xml = NULL;
	size_t len = 0;
	int rc = c->gw->be.list_buckets(c->gw->be_ctx, &bk, &n, c->err, sizeof(c->err));
	if (rc) {
		free(bk);
		reply_error(c, s3_gw_map_errno(rc, false));
		return;
	}
	struct s3_xml_bucket *xb = calloc(n ? n : 1, sizeof(*xb));
	if (!xb) {
		free(bk);
		reply_error(c, -S3_ERR_INTERNAL);
		return;
	}
	for (size_t i = 0; i < n; i++)
		xb[i] = (struct s3_xml_bucket){ bk[i].name, bk[i].ctime };
	rc = s3_xml_list_buckets(xb, n, GW_OWNER, &xml, &len);
	free(xb);
	free(bk);
	reply_xml(c, rc, xml, len, NULL, 0);
}

static void op_bucket_simple(struct gw_call *c)
{
	struct s3_gw *gw = c->gw;
	int rc;
	switch (c->r.op) {
	case S3_OP_CREATE_BUCKET: {
		char *body = NULL, region[64];
		size_t len = 0;
		if ((rc = read_small_body(c, 64 * 1024, &body, &len)) ||
		    (rc = s3_parse_create_bucket(body, len, region, sizeof(region), c->err,
						 sizeof(c->err)))) {
			free(body);
			reply_error(c, rc);
			return;
		}
		free(body);
		rc = gw->be.create_bucket(gw->be_ctx, c->r.bucket, c->err, sizeof(c->err));
		if (rc) {
			reply_error(c, s3_gw_map_errno(rc, false));
			return;
		}
		char loc[S3_MAX_BUCKET + 2];
		snprintf(loc, sizeof(loc), "/%s", c->r.bucket);
		struct http_header h = { "Location", loc };
		reply_body(c, 200, NULL, NULL, 0, &h, 1);
		return;
	}
	case S3_OP_DELETE_BUCKET:
		rc = gw->be.delete_bucket(gw->be_ctx, c->r.bucket, c->err, sizeof(c->err));
		if (rc)
			reply_error(c, s3_gw_map_errno(rc, false));
		else
			reply_body(c, 204, NULL, NULL, 0, NULL, 0);
		return;
	case S3_OP_HEAD_BUCKET: {
		rc = gw->be.head_bucket(gw->be_ctx, c->r.bucket, c->err, sizeof(c->err));
		if (rc) {
			reply_error(c, s3_gw_map_errno(rc, false));
			return;
		}
		struct http_header h = { "x-amz-bucket-region", gw->region };
		reply_body(c, 200, NULL, NULL, 0, &h, 1);
		return;
	}
	default: { /* S3_OP_GET_BUCKET_LOCATION */
		char *xml = NULL;
		size_t len = 0;
		rc = gw->be.head_bucket(gw->be_ctx, c->r.bucket, c->err, sizeof(c->err));
		if (rc) {
			reply_error(c, s3_gw_map_errno(rc, false));
			return;
		}
		rc = s3_xml_location(gw->region, &xml, &len);
		reply_xml(c, rc, xml, len, NULL, 0);
		return;
	}
	}
}

/* True when key was rolled into the common prefix cp (delimiter delim). */
static int list_group(const char *prefix, const char *delim, const char *key, size_t *cplen)
{
	size_t plen = strlen(prefix);
	const char *d = strstr(key + plen, delim);
	if (!d)
		return 0;
	*cplen = (size_t)(d - key) + strlen(delim);
	return 1;
}

static void op_list_objects(struct gw_call *c)
{
	struct s3_gw *gw = c->gw;
	struct s3_request *r = &c->r;
	bool v2 = r->op == S3_OP_LIST_OBJECTS_V2;
	const char *prefix = r->prefix ? r->prefix : "";
	const char *delim = r->delimiter && *r->delimiter ? r->delimiter : NULL;
	char *after = NULL, *next = NULL, *skip_cp = NULL;
	struct s3_list_page page = { 0 }, out = { 0 };
	struct s3_xml_entry *xe = NULL;
	char *xml = NULL;
	size_t len = 0;
	int rc = 0;
	bool truncated = false;

	if (v2 && r->continuation_token) {
		if (s3_token_decode(r->continuation_token, &after)) {
			snprintf(c->err, sizeof(c->err), "the continuation token is not valid");
			rc = -S3_ERR_INVALID_ARGUMENT;
			goto out;
		}
	} else {
		const char *from = v2 ? r->start_after : r->marker;
		after = strdup(from ? from : "");
	}
	if (!after) {
		rc = -S3_ERR_INTERNAL;
		goto out;
	}
	if ((rc = gw->be.head_bucket(gw->be_ctx, r->bucket, c->err, sizeof(c->err)))) {
		rc = s3_gw_map_errno(rc, false);
		goto out;
	}
	bool native = !delim || !strcmp(delim, "/");
	/* A marker that is itself a common prefix skips everything under it. */
	if (!native && *after && strncmp(after, prefix, strlen(prefix)) == 0) {
		size_t cplen;
		if (list_group(prefix, delim, after, &cplen) && cplen == strlen(after))
			skip_cp = strdup(after);
	}
	while (out.n < r->max_keys) {
		struct s3_list_query q = { prefix, delim != NULL && native, after,
					   r->max_keys - out.n };
		s3_gw_page_free(&page);
		if ((rc = gw->be.list(gw->be_ctx, r->bucket, &q, &page, c->err, sizeof(c->err)))) {
			rc = s3_gw_map_errno(rc, false);
			goto out;
		}
		size_t i;
		for (i = 0; i < page.n && out.n < r->max_keys; i++) {
			struct s3_list_entry *e = &page.entries[i];
			size_t cplen;
			if (!native && list_group(prefix, delim, e->key, &cplen)) {
				if (skip_cp && !strncmp(e->key, skip_cp, strlen(skip_cp)))
					continue;
				free(skip_cp);
				skip_cp = strndup(e->key, cplen);
				if (!skip_cp || (rc = s3_gw_page_add(&out, skip_cp, true, 0, 0, ""))) {
					rc = -S3_ERR_INTERNAL;
					goto out;
				}
				continue;
			}
			if (s3_gw_page_add(&out, e->key, e->is_prefix, e->size, e->mtime, e->etag)) {
				rc = -S3_ERR_INTERNAL;
				goto out;
			}
		}
		bool more_here = i < page.n;
		if (page.n) {
			free(after);
			after = strdup(page.entries[i ? i - 1 : 0].key);
			if (!after) {
				rc = -S3_ERR_INTERNAL;
				goto out;
			}
		}
		if (more_here) {
			truncated = true;
			break;
		}
		if (!page.truncated || page.n == 0)
			break;
		if (out.n == r->max_keys) {
			truncated = true;
			break;
		}
	}
	if (truncated && out.n) {
		const char *last = out.entries[out.n - 1].key;
		if (v2 ? s3_token_encode(last, &next) : !(next = strdup(last))) {
			rc = -S3_ERR_INTERNAL;
			goto out;
		}
	}
	xe = calloc(out.n ? out.n : 1, sizeof(*xe));
	if (!xe) {
		rc = -S3_ERR_INTERNAL;
		goto out;
	}
	for (size_t i = 0; i < out.n; i++) {
		char *etag = out.entries[i].etag;
		if (!*etag && !out.entries[i].is_prefix)
			snprintf(etag, S3_ETAG_MAX, "%016" PRIx64 "-%" PRIx64,
				 (uint64_t)out.entries[i].mtime, out.entries[i].size);
		xe[i] = (struct s3_xml_entry){ out.entries[i].key, out.entries[i].is_prefix,
					       out.entries[i].size, out.entries[i].mtime, etag };
	}
	struct s3_xml_listing l = {
		.v2 = v2, .bucket = r->bucket, .prefix = prefix, .delimiter = r->delimiter,
		.marker = r->marker, .start_after = r->start_after,
		.continuation_token = r->continuation_token, .url_encoding = r->url_encoding,
		.max_keys = r->max_keys, .truncated = truncated, .next_marker = next,
		.next_token = next, .entries = xe, .n = out.n,
	};
	rc = s3_xml_list_objects(&l, &xml, &len);
	reply_xml(c, rc, xml, len, NULL, 0);
	rc = 0;
out:
	if (rc)
		reply_error(c, rc);
	free(xe);
	free(after);
	free(next);
	free(skip_cp);
	s3_gw_page_free(&page);
	s3_gw_page_free(&out);
}

static void fill_etag(struct s3_object_info *info)
{
	if (!*info->etag)
		snprintf(info->etag, sizeof(info->etag), "%016" PRIx64 "-%" PRIx64,
			 (uint64_t)info->mtime, info->size);
}

static int write_sink(void *arg, const void *data, size_t len)
{
	return http_reply_write(arg, data, len);
}

static void op_get_object(struct gw_call *c)
{
	struct s3_gw *gw = c->gw;
	struct s3_object_info info = { 0 };
	char etag[S3_ETAG_MAX + 4], lm[32], crange[96];
	bool partial = false;
	uint64_t first = 0, last = 0;
	int rc = gw->be.stat(gw->be_ctx, c->r.bucket, c->r.key, &info, c->err, sizeof(c->err));
	if (rc) {
		if (rc == -EISDIR)
			rc = -ENOENT;
		reply_error(c, object_rc(c, rc, -S3_ERR_NO_SUCH_KEY));
		return;
	}
	fill_etag(&info);
	s3_etag_quote(info.etag, etag, sizeof(etag));
	s3_time_http(info.mtime, lm);
	rc = s3_range_parse(http_req_header(c->req, "Range"), info.size, &partial, &first, &last);
	if (rc) {
		snprintf(crange, sizeof(crange), "bytes */%" PRIu64, info.size);
		struct http_header h = { "Content-Range", crange };
		reply_error_extra(c, rc, &h, 1);
		return;
	}
	struct http_header h[5];
	size_t nh = 0;
	h[nh++] = (struct http_header){ "ETag", etag };
	h[nh++] = (struct http_header){ "Last-Modified", lm };
	h[nh++] = (struct http_header){ "Accept-Ranges", "bytes" };
	uint64_t len = info.size;
	if (partial) {
		snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first,
			 last, info.size);
		h[nh++] = (struct http_header){ "Content-Range", crange };
		len = last - first + 1;
	}
	reply_headers(c, partial ? 206 : 200,
		      *info.content_type ? info.content_type : "application/octet-stream", len, h,
		      nh);
	if (c->r.op == S3_OP_HEAD_OBJECT || len == 0)
		return;
	rc = gw->be.read(gw->be_ctx, c->r.bucket, c->r.key, first, len, write_sink, c->req,
			 c->err, sizeof(c->err));
	if (rc && rc != -EPIPE)
		log_warn("S3 GET %s failed after the headers went out: %s (%s)", c->resource,
			 c->err, c->request_id);
}

static void op_put_object(struct gw_call *c)
{
	struct s3_gw *gw = c->gw;
	struct s3_body body;
	struct body_state b;
	struct s3_object_info info = { 0 };
	char etag[S3_ETAG_MAX + 4];
	int rc = body_open(c, &body, &b);
	if (rc)
		goto out;
	if (c->r.dir_marker && body.size != 0 && !(body.size < 0 && b.raw_left == 0)) {
		snprintf(c->err, sizeof(c->err),
			 "a key ending in '/' is a directory and cannot hold data");
		rc = -S3_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if (c->r.op == S3_OP_UPLOAD_PART) {
		rc = gw->be.mpu_put_part(gw->be_ctx, c->r.bucket, c->r.key, c->r.upload_id,
					 c->r.part_number, &body, info.etag, c->err,
					 sizeof(c->err));
		if (rc)
			rc = object_rc(c, rc, -S3_ERR_NO_SUCH_UPLOAD);
	} else {
		rc = gw->be.put(gw->be_ctx, c->r.bucket, c->r.key, &body, &info, c->err,
				sizeof(c->err));
		if (rc)
			rc = object_rc(c, rc, -S3_ERR_NO_SUCH_BUCKET);
	}
	if (rc)
		goto out;
	if (!*info.etag)
		snprintf(info.etag, sizeof(info.etag), "%s", body.md5_hex);
	s3_etag_quote(info.etag, etag, sizeof(etag));
	struct http_header h = { "ETag", etag };
	reply_body(c, 200, NULL, NULL, 0, &h, 1);
out:
	if (rc)
		reply_error(c, rc);
	body_close(&b);
}

static void op_delete_object(struct gw_call *c)
{
	int rc = c->gw->be.delete_object(c->gw->be_ctx, c->r.bucket, c->r.key, c->err,
					 sizeof(c->err));
	if (rc == -ENOENT) {
		rc = object_rc(c, rc, 0);
		*c->err = '\0';
	} else if (rc) {
		rc = s3_gw_map_errno(rc, true);
	}
	if (rc)
		reply_error(c, rc);
	else
		reply_body(c, 204, NULL, NULL, 0, NULL, 0);
}

static void op_copy_object(struct gw_call *c)
{
	struct s3_object_info info = { 0 };
	char *xml = NULL;
	size_t len = 0;
	int rc = c->gw->be.copy(c->gw->be_ctx, c->r.copy_bucket, c->r.copy_key, c->r.bucket,
				c->r.key, &info, c->err, sizeof(c->err));
	if (rc == -ENOENT) {
		char e[64];
		if (c->gw->be.head_bucket(c->gw->be_ctx, c->r.bucket, e, sizeof(e)) == -ENOENT ||
		    c->gw->be.head_bucket(c->gw->be_ctx, c->r.copy_bucket, e, sizeof(e)) ==
			    -ENOENT)
			rc = -S3_ERR_NO_SUCH_BUCKET;
		else
			rc = -S3_ERR_NO_SUCH_KEY;
	}
	if (rc) {
		reply_error(c, s3_gw_map_errno(rc, true));
		return;
	}
	fill_etag(&info);
	rc = s3_xml_copy_result(info.etag, info.mtime, &xml, &len);
	reply_xml(c, rc, xml, len, NULL, 0);
}

static void op_delete_objects(struct gw_call *c)
{
	char *body = NULL, **keys = NULL, *xml = NULL;
	size_t len = 0, nkeys = 0;
	bool quiet = false;
	struct s3_xml_deleted *items = NULL;
	char (*msgs)[160] = NULL;
	int rc;
	if ((rc = head_bucket_rc(c)))
		goto out;
	if ((rc = read_small_body(c, GW_MAX_XML_BODY, &body, &len)) ||
	    (rc = s3_parse_delete(body, len, &keys, &nkeys, &quiet, c->err, sizeof(c->err))))
		goto out;
	items = calloc(nkeys, sizeof(*items));
	msgs = calloc(nkeys, sizeof(*msgs));
	if (!items || !msgs) {
		rc = -S3_ERR_INTERNAL;
		goto out;
	}
	for (size_t i = 0; i < nkeys; i++) {
		items[i].key = keys[i];
		int krc = s3_key_check(keys[i], strlen(keys[i]), msgs[i], sizeof(msgs[i]));
		if (!krc)
			krc = c->gw->be.delete_object(c->gw->be_ctx, c->r.bucket, keys[i], msgs[i],
						      sizeof(msgs[i]));
		if (krc && krc != -ENOENT) {
			int status;
			const char *code, *message;
			s3_error_lookup(s3_gw_map_errno(krc, true), &status, &code, &message);
			items[i].code = code;
			items[i].message = *msgs[i] ? msgs[i] : message;
		}
	}
	rc = s3_xml_delete_result(items, nkeys, quiet, &xml, &len);
	reply_xml(c, rc, xml, len, NULL, 0);
	rc = 0;
out:
	if (rc)
		reply_error(c, rc);
	free(msgs);
	free(items);
	s3_keys_free(keys, nkeys);
	free(body);
}

static void op_multipart(struct gw_call *c)
{
	struct s3_gw *gw = c->gw;
	struct s3_request *r = &c->r;
	char *xml = NULL, *body = NULL;
	size_t len = 0;
	int rc;
	switch (r->op) {
	case S3_OP_CREATE_MULTIPART: {
		char upload_id[S3_UPLOAD_ID_MAX] = "";
		rc = gw->be.mpu_create(gw->be_ctx, r->bucket, r->key, upload_id, c->err,
				       sizeof(c->err));
		if (rc) {
			reply_error(c, object_rc(c, rc, -S3_ERR_NO_SUCH_BUCKET));
			return;
		}
		rc = s3_xml_initiate_multipart(r->bucket, r->key, upload_id, &xml, &len);
		reply_xml(c, rc, xml, len, NULL, 0);
		return;
	}
	case S3_OP_COMPLETE_MULTIPART: {
		struct s3_part *parts = NULL;
		size_t nparts = 0;
		struct s3_object_info info = { 0 };
		if ((rc = read_small_body(c, GW_MAX_XML_BODY, &body, &len)) ||
		    (rc = s3_parse_complete_multipart(body, len, &parts, &nparts, c->err,
						      sizeof(c->err)))) {
			free(body);
			reply_error(c, rc);
			return;
		}
		free(body);
		rc = gw->be.mpu_complete(gw->be_ctx, r->bucket, r->key, r->upload_id, parts,
					 nparts, &info, c->err, sizeof(c->err));
		if (!rc && !*info.etag && s3_multipart_etag(parts, nparts, info.etag))
			info.etag[0] = '\0'; /* not md5 part ETags: fill_etag derives one */
		free(parts);
		if (rc) {
			reply_error(c, object_rc(c, rc, -S3_ERR_NO_SUCH_UPLOAD));
			return;
		}
		const char *host = http_req_header(c->req, "Host");
		char *location = malloc(strlen(c->resource) + 300);
		if (!location) {
			reply_error(c, -S3_ERR_INTERNAL);
			return;
		}
		sprintf(location, "http://%.256s%s", host ? host : "localhost", c->resource);
		fill_etag(&info);
		rc = s3_xml_complete_multipart(location, r->bucket, r->key, info.etag, &xml, &len);
		free(location);
		reply_xml(c, rc, xml, len, NULL, 0);
		return;
	}
	case S3_OP_ABORT_MULTIPART:
		rc = gw->be.mpu_abort(gw->be_ctx, r->bucket, r->key, r->upload_id, c->err,
				      sizeof(c->err));
		if (rc)
			reply_error(c, object_rc(c, rc, -S3_ERR_NO_SUCH_UPLOAD));
		else
			reply_body(c, 204, NULL, NULL, 0, NULL, 0);
		return;
	default: { /* S3_OP_LIST_PARTS */
		struct s3_xml_part *parts = NULL;
		size_t n = 0;
		if (!gw->be.mpu_list_parts) {
			reply_error(c, -S3_ERR_NOT_IMPLEMENTED);
			return;
		}
		rc = gw->be.mpu_list_parts(gw->be_ctx, r->bucket, r->key, r->upload_id, &parts, &n,
					   c->err, sizeof(c->err));
		if (rc) {
			reply_error(c, object_rc(c, rc, -S3_ERR_NO_SUCH_UPLOAD));
			return;
		}
		rc = s3_xml_list_parts(r->bucket, r->key, r->upload_id, parts, n, &xml, &len);
		free(parts);
		reply_xml(c, rc, xml, len, NULL, 0);
		return;
	}
	}
}

/* ---- the handler ---- */

static const char *header_getter(void *arg, const char *name)
{
	return http_req_header(arg, name);
}

static void dispatch(struct gw_call *c)
{
	switch (c->r.op) {
	case S3_OP_LIST_BUCKETS:
		op_list_buckets(c);
		break;
	case S3_OP_CREATE_BUCKET:
	case S3_OP_DELETE_BUCKET:
	case S3_OP_HEAD_BUCKET:
	case S3_OP_GET_BUCKET_LOCATION:
		op_bucket_simple(c);
		break;
	case S3_OP_LIST_OBJECTS:
	case S3_OP_LIST_OBJECTS_V2:
		op_list_objects(c);
		break;
	case S3_OP_DELETE_OBJECTS:
		op_delete_objects(c);
		break;
	case S3_OP_GET_OBJECT:
	case S3_OP_HEAD_OBJECT:
		op_get_object(c);
		break;
	case S3_OP_PUT_OBJECT:
	case S3_OP_UPLOAD_PART:
		op_put_object(c);
		break;
	case S3_OP_COPY_OBJECT:
		op_copy_object(c);
		break;
	case S3_OP_DELETE_OBJECT:
		op_delete_object(c);
		break;
	default:
		op_multipart(c);
		break;
	}
}

void s3_gw_handle(struct http_req *req, void *ctx)
{
	struct s3_gw *gw = ctx;
	struct gw_call *c = calloc(1, sizeof(*c));
	if (!c) {
		http_reply_raw(req, 503, "text/plain", "out of memory", 13);
		return;
	}
	c->gw = gw;
	c->req = req;
	uint64_t seq = __atomic_add_fetch(&gw->seq, 1, __ATOMIC_RELAXED);
	snprintf(c->request_id, sizeof(c->request_id), "%08" PRIX64 "%08" PRIX64,
		 gw->boot & 0xffffffffu, seq & 0xffffffffu);
	const char *raw_path = http_req_raw_path(req);
	snprintf(c->resource, sizeof(c->resource), "%s", raw_path);
	int rc;
	if (gw->lookup) {
		struct s3_auth_input in = {
			.method = http_req_method(req), .raw_path = raw_path,
			.raw_query = http_req_query(req), .header = header_getter,
			.header_arg = req, .now = gw_now(gw),
		};
		rc = s3_auth_verify(&in, gw->lookup, gw->lookup_arg, &c->auth, c->err,
				    sizeof(c->err));
		if (rc) {
			reply_error(c, rc);
			goto out;
		}
		c->authed = true;
	}
	struct s3_http_in hin = { http_req_method(req), raw_path, http_req_query(req),
				  http_req_header(req, "x-amz-copy-source") };
	if ((rc = s3_classify(&hin, &c->r, c->err, sizeof(c->err)))) {
		reply_error(c, rc);
		goto out;
	}
	log_debug("S3 %s %s (%s)", s3_op_name(c->r.op), c->resource, c->request_id);
	dispatch(c);
	s3_request_free(&c->r);
out:
	s3_auth_result_wipe(&c->auth);
	free(c);
}
