/*
 * The S3 gateway's HTTP layer (api/s3_gateway.h): auth, classification,
 * backend calls, replies. Everything protocol-shaped is in s3_proto/s3_auth;
 * this file is the I/O edge.
 */
#include "api/s3_gateway.h"

#include "api/http.h"
#include "api/s3_gateway_int.h"
#include "lib/err.h"
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

#define GW_MAX_XML_BODY (4u * 1024 * 1024)
#define GW_OWNER "strata"

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
		return object ? S3_ERR_NO_SUCH_KEY : S3_ERR_NO_SUCH_BUCKET;
	case -EEXIST:
		return S3_ERR_BUCKET_EXISTS;
	case -ENOTEMPTY:
		return S3_ERR_BUCKET_NOT_EMPTY;
	case -EACCES:
	case -EPERM:
	case -EROFS:
		return S3_ERR_ACCESS_DENIED;
	case -EAGAIN:
	case -EBUSY:
	case -ETIMEDOUT:
	case -ECONNREFUSED:
		return S3_ERR_SERVICE_UNAVAILABLE;
	case -ENOTDIR:
	case -EISDIR:
		return S3_ERR_KEY_CONFLICT;
	case -EBADMSG:
		return S3_ERR_INVALID_PART;
	case ST_ETOOSMALL:
		return S3_ERR_ENTITY_TOO_SMALL;
	case ST_ELOST:
		return S3_ERR_DATA_LOST;
	case -EFBIG:
		return S3_ERR_ENTITY_TOO_LARGE;
	case -ENOSPC:
	case -EDQUOT:
		return S3_ERR_STORAGE_FULL;
	case -EINVAL:
	case -ENAMETOOLONG:
		return S3_ERR_INVALID_ARGUMENT;
	default:
		return S3_ERR_INTERNAL;
	}
}

static int64_t gw_now(const struct s3_gw *gw)
{
	return gw->now ? gw->now(gw->now_arg) : (int64_t)time(NULL);
}

int64_t s3_gw_now(const struct s3_gw *gw)
{
	return gw_now(gw);
}

bool s3_gw_auth_required(struct s3_gw *gw)
{
	if (gw->auth.signing_key)
		return !gw->auth.required || gw->auth.required(gw->auth.arg);
	return gw->lookup != NULL;
}

bool s3_gw_op_reads(int op)
{
	switch (op) {
	case S3_OP_LIST_BUCKETS:
	case S3_OP_HEAD_BUCKET:
	case S3_OP_GET_BUCKET_LOCATION:
	case S3_OP_LIST_OBJECTS:
	case S3_OP_LIST_OBJECTS_V2:
	case S3_OP_GET_OBJECT:
	case S3_OP_HEAD_OBJECT:
	case S3_OP_LIST_PARTS:
	case S3_OP_LIST_UPLOADS:
		return true;
	default:
		return false;
	}
}

/* Whether the request carries a signature (header or presigned URL). */
static bool has_signature(const struct s3_auth_input *in)
{
	if (in->header(in->header_arg, "authorization"))
		return true;
	const char *q = in->raw_query;
	for (const char *p = q; p && (p = strstr(p, "X-Amz-Signature=")); p++)
		if (p == q || p[-1] == '&')
			return true;
	return false;
}

int s3_gw_authorize(struct s3_gw *gw, const struct s3_auth_input *in,
		    const struct s3_request *r, struct s3_auth_result *res, bool *is_signed,
		    char *err, size_t errlen)
{
	*is_signed = false;
	memset(res, 0, sizeof(*res));
	if (!s3_gw_auth_required(gw))
		return 0;
	bool reads = s3_gw_op_reads(r->op);
	if (!has_signature(in)) {
		/* Anonymous: reads of a bucket opened to them, nothing else
		 * (ListBuckets is not a read of one bucket). */
		if (reads && r->op != S3_OP_LIST_BUCKETS && r->op != S3_OP_LIST_PARTS &&
		    r->op != S3_OP_LIST_UPLOADS &&
		    gw->auth.anonymous_read && gw->auth.anonymous_read(gw->auth.arg, r->bucket))
			return 0;
		snprintf(err, errlen, "this gateway requires signed requests (SigV4)");
		return S3_ERR_ACCESS_DENIED;
	}
	int rc = gw->auth.signing_key
			 ? s3_auth_verify_derived(in, gw->auth.signing_key, gw->auth.arg, res, err,
						  errlen)
			 : s3_auth_verify(in, gw->lookup, gw->lookup_arg, res, err, errlen);
	if (rc)
		return rc;
	*is_signed = true;
	if (!gw->auth.allow)
		return 0;
	if ((rc = gw->auth.allow(gw->auth.arg, res->access_key, r->bucket, !reads, err, errlen)))
		return rc;
	if (r->op == S3_OP_COPY_OBJECT && strcmp(r->copy_bucket, r->bucket) != 0)
		rc = gw->auth.allow(gw->auth.arg, res->access_key, r->copy_bucket, false, err,
				    errlen);
	return rc;
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
	gw->auth = cfg->auth;
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
		reply_error(c, S3_ERR_INTERNAL);
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
		return S3_ERR_NO_SUCH_BUCKET;
	}
	return missing;
}

static int head_bucket_rc(struct gw_call *c)
{
	int rc = c->gw->be.head_bucket(c->gw->be_ctx, c->r.bucket, c->err, sizeof(c->err));
	return rc ? s3_gw_map_errno(rc, false) : 0;
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
		reply_error(c, S3_ERR_INTERNAL);
		return;
	}
	/* A key limited to some buckets sees only those. */
	struct s3_gw_auth *au = &c->gw->auth;
	size_t shown = 0;
	char why[64];
	for (size_t i = 0; i < n; i++)
		if (!c->authed || !au->allow ||
		    au->allow(au->arg, c->auth.access_key, bk[i].name, false, why, sizeof(why)) == 0)
			xb[shown++] = (struct s3_xml_bucket){ bk[i].name, bk[i].ctime };
	rc = s3_xml_list_buckets(xb, shown, GW_OWNER, &xml, &len);
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
		if ((rc = s3_gw_read_small_body(c, 64 * 1024, &body, &len)) ||
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

/*
 * Fills out with up to max_keys entries after *after (updated to the last
 * key examined). A delimiter of "/" (or none) is the backend's own
 * listing; any other is rolled up here over the recursive listing.
 */
static int list_collect(struct gw_call *c, const char *prefix, const char *delim, char **after,
			struct s3_list_page *out, bool *truncated)
{
	struct s3_gw *gw = c->gw;
	size_t max = c->r.max_keys;
	struct s3_list_page page = { 0 };
	char *skip_cp = NULL;
	int rc = 0;
	bool native = !delim || !strcmp(delim, "/");
	*truncated = false;
	/* A marker that is itself a common prefix skips everything under it. */
	size_t cplen;
	if (!native && **after && strncmp(*after, prefix, strlen(prefix)) == 0 &&
	    list_group(prefix, delim, *after, &cplen) && cplen == strlen(*after) &&
	    !(skip_cp = strdup(*after)))
		return S3_ERR_INTERNAL;
	while (out->n < max) {
		struct s3_list_query q = { prefix, delim != NULL && native, *after, max - out->n };
		s3_gw_page_free(&page);
		if ((rc = gw->be.list(gw->be_ctx, c->r.bucket, &q, &page, c->err, sizeof(c->err)))) {
			rc = s3_gw_map_errno(rc, false);
			goto out;
		}
		size_t i;
		for (i = 0; i < page.n && out->n < max; i++) {
			struct s3_list_entry *e = &page.entries[i];
			if (native || !list_group(prefix, delim, e->key, &cplen)) {
				if (s3_gw_page_add(out, e->key, e->is_prefix, e->size, e->mtime,
						   e->etag)) {
					rc = S3_ERR_INTERNAL;
					goto out;
				}
				continue;
			}
			if (skip_cp && !strncmp(e->key, skip_cp, strlen(skip_cp)))
				continue;
			free(skip_cp);
			skip_cp = strndup(e->key, cplen);
			if (!skip_cp || s3_gw_page_add(out, skip_cp, true, 0, 0, "")) {
				rc = S3_ERR_INTERNAL;
				goto out;
			}
		}
		if (page.n) {
			free(*after);
			if (!(*after = strdup(page.entries[i ? i - 1 : 0].key))) {
				rc = S3_ERR_INTERNAL;
				goto out;
			}
		}
		if (i < page.n || (page.truncated && page.n && out->n == max)) {
			*truncated = true;
			break;
		}
		if (!page.truncated || page.n == 0)
			break;
	}
out:
	free(skip_cp);
	s3_gw_page_free(&page);
	return rc;
}

static void op_list_objects(struct gw_call *c)
{
	struct s3_request *r = &c->r;
	bool v2 = r->op == S3_OP_LIST_OBJECTS_V2;
	const char *prefix = r->prefix ? r->prefix : "";
	const char *delim = r->delimiter && *r->delimiter ? r->delimiter : NULL;
	char *after = NULL, *next = NULL, *xml = NULL;
	struct s3_list_page out = { 0 };
	struct s3_xml_entry *xe = NULL;
	size_t len = 0;
	bool truncated = false;
	int rc;

	if (v2 && r->continuation_token) {
		if (s3_token_decode(r->continuation_token, &after)) {
			snprintf(c->err, sizeof(c->err), "the continuation token is not valid");
			rc = S3_ERR_INVALID_ARGUMENT;
			goto out;
		}
	} else {
		const char *from = v2 ? r->start_after : r->marker;
		after = strdup(from ? from : "");
	}
	if (!after) {
		rc = S3_ERR_INTERNAL;
		goto out;
	}
	if ((rc = head_bucket_rc(c)) || (rc = list_collect(c, prefix, delim, &after, &out,
							    &truncated)))
		goto out;
	if (truncated && out.n) {
		const char *last = out.entries[out.n - 1].key;
		if (v2 ? s3_token_encode(last, &next) : !(next = strdup(last))) {
			rc = S3_ERR_INTERNAL;
			goto out;
		}
	}
	xe = calloc(out.n ? out.n : 1, sizeof(*xe));
	if (!xe) {
		rc = S3_ERR_INTERNAL;
		goto out;
	}
	for (size_t i = 0; i < out.n; i++) {
		struct s3_list_entry *e = &out.entries[i];
		if (!*e->etag && !e->is_prefix)
			snprintf(e->etag, S3_ETAG_MAX, "%016" PRIx64 "-%" PRIx64, (uint64_t)e->mtime,
				 e->size);
		xe[i] = (struct s3_xml_entry){ e->key, e->is_prefix, e->size, e->mtime, e->etag };
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
	s3_gw_page_free(&out);
}

void s3_gw_fill_etag(struct s3_object_info *info)
{
	if (!*info->etag)
		snprintf(info->etag, sizeof(info->etag), "%016" PRIx64 "-%" PRIx64,
			 (uint64_t)info->mtime, info->size);
}

/* GET: the headers wait for the first bytes, so a backend that fails
 * before producing any (a block fetch that times out) still gets a proper
 * S3 error instead of a truncated 200. */
struct get_stream {
	struct gw_call *c;
	int status;
	const char *ctype;
	uint64_t len;
	const struct http_header *h;
	size_t nh;
	bool started;
};

static void get_start(struct get_stream *g)
{
	if (!g->started) {
		g->started = true;
		reply_headers(g->c, g->status, g->ctype, g->len, g->h, g->nh);
	}
}

static int get_sink(void *arg, const void *data, size_t len)
{
	struct get_stream *g = arg;
	get_start(g);
	return http_reply_write(g->c->req, data, len);
}

void s3_gw_object_head(const struct s3_object_info *info, bool partial, uint64_t first,
		       uint64_t last, struct s3_gw_object_head *out)
{
	struct s3_object_info filled = *info;
	s3_gw_fill_etag(&filled);
	s3_etag_quote(filled.etag, out->etag, sizeof(out->etag));
	s3_time_http(filled.mtime, out->last_modified);
	snprintf(out->ctype, sizeof(out->ctype), "%s",
		 *filled.content_type ? filled.content_type : "application/octet-stream");
	out->content_type = out->ctype;
	out->status = partial ? 206 : 200;
	out->length = partial ? last - first + 1 : filled.size;
	out->nh = 0;
	out->h[out->nh++] = (struct http_header){ "ETag", out->etag };
	out->h[out->nh++] = (struct http_header){ "Last-Modified", out->last_modified };
	out->h[out->nh++] = (struct http_header){ "Accept-Ranges", "bytes" };
	if (partial) {
		snprintf(out->content_range, sizeof(out->content_range),
			 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, filled.size);
		out->h[out->nh++] = (struct http_header){ "Content-Range", out->content_range };
	}
}

static void op_get_object(struct gw_call *c)
{
	struct s3_gw *gw = c->gw;
	struct s3_object_info info = { 0 };
	char crange[96];
	bool partial = false;
	uint64_t first = 0, last = 0;
	int rc;
	if (c->r.op != S3_OP_HEAD_OBJECT && gw->be.stat_at)
		rc = gw->be.stat_at(gw->be_ctx, c->r.bucket, c->r.key,
				    s3_range_start(http_req_header(c->req, "Range")), &info, c->err,
				    sizeof(c->err));
	else
		rc = gw->be.stat(gw->be_ctx, c->r.bucket, c->r.key, &info, c->err, sizeof(c->err));
	if (rc) {
		if (rc == -EISDIR)
			rc = -ENOENT;
		reply_error(c, object_rc(c, rc, S3_ERR_NO_SUCH_KEY));
		return;
	}
	rc = s3_range_parse(http_req_header(c->req, "Range"), info.size, &partial, &first, &last);
	if (rc) {
		snprintf(crange, sizeof(crange), "bytes */%" PRIu64, info.size);
		struct http_header h = { "Content-Range", crange };
		reply_error_extra(c, rc, &h, 1);
		return;
	}
	struct s3_gw_object_head oh;
	s3_gw_object_head(&info, partial, first, last, &oh);
	uint64_t len = oh.length;
	struct get_stream g = { c, oh.status, oh.content_type, len, oh.h, oh.nh, false };
	if (c->r.op == S3_OP_HEAD_OBJECT || len == 0) {
		get_start(&g);
		return;
	}
	rc = gw->be.read(gw->be_ctx, c->r.bucket, c->r.key, first, len, get_sink, &g, c->err,
			 sizeof(c->err));
	if (rc && !g.started) {
		reply_error(c, object_rc(c, rc, S3_ERR_NO_SUCH_KEY));
	} else if (rc) {
		/* Headers are out: cut the body short by closing the connection,
		 * so the client does not wait for bytes that never come. */
		http_abort(c->req);
		if (rc != -EPIPE)
			log_warn("S3 GET %s failed after the headers went out: %s (%s)",
				 c->resource, c->err, c->request_id);
	} else if (!g.started) {
		snprintf(c->err, sizeof(c->err), "the store returned no data for this object");
		reply_error(c, S3_ERR_INTERNAL);
	}
}

static void op_put_object(struct gw_call *c)
{
	struct s3_gw *gw = c->gw;
	struct s3_body body;
	struct body_state b;
	struct s3_object_info info = { 0 };
	char etag[S3_ETAG_MAX + 4];
	int rc = s3_gw_body_open(c, &body, &b);
	if (rc)
		goto out;
	body.write_type = http_req_header(c->req, "x-strata-write-type");
	if (c->r.dir_marker && body.size != 0 && !(body.size < 0 && b.raw_left == 0)) {
		snprintf(c->err, sizeof(c->err),
			 "a key ending in '/' is a directory and cannot hold data");
		rc = S3_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if (c->r.op == S3_OP_UPLOAD_PART) {
		rc = gw->be.mpu_put_part(gw->be_ctx, c->r.bucket, c->r.key, c->r.upload_id,
					 c->r.part_number, &body, info.etag, c->err,
					 sizeof(c->err));
		if (rc)
			rc = object_rc(c, rc, S3_ERR_NO_SUCH_UPLOAD);
	} else {
		rc = gw->be.put(gw->be_ctx, c->r.bucket, c->r.key, &body, &info, c->err,
				sizeof(c->err));
		if (rc)
			rc = object_rc(c, rc, S3_ERR_NO_SUCH_BUCKET);
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
	s3_gw_body_close(&b);
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
			rc = S3_ERR_NO_SUCH_BUCKET;
		else
			rc = S3_ERR_NO_SUCH_KEY;
	}
	if (rc) {
		reply_error(c, s3_gw_map_errno(rc, true));
		return;
	}
	s3_gw_fill_etag(&info);
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
	if ((rc = s3_gw_read_small_body(c, GW_MAX_XML_BODY, &body, &len)) ||
	    (rc = s3_parse_delete(body, len, &keys, &nkeys, &quiet, c->err, sizeof(c->err))))
		goto out;
	items = calloc(nkeys, sizeof(*items));
	msgs = calloc(nkeys, sizeof(*msgs));
	if (!items || !msgs) {
		rc = S3_ERR_INTERNAL;
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
			reply_error(c, object_rc(c, rc, S3_ERR_NO_SUCH_BUCKET));
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
		if ((rc = s3_gw_read_small_body(c, GW_MAX_XML_BODY, &body, &len)) ||
		    (rc = s3_parse_complete_multipart(body, len, &parts, &nparts, c->err,
						      sizeof(c->err)))) {
			free(body);
			reply_error(c, rc);
			return;
		}
		free(body);
		rc = gw->be.mpu_complete(gw->be_ctx, r->bucket, r->key, r->upload_id, parts,
					 nparts, http_req_header(c->req, "x-strata-write-type"),
					 &info, c->err, sizeof(c->err));
		if (!rc && !*info.etag && s3_multipart_etag(parts, nparts, info.etag))
			info.etag[0] = '\0'; /* not md5 part ETags: fill_etag derives one */
		free(parts);
		if (rc) {
			reply_error(c, object_rc(c, rc, S3_ERR_NO_SUCH_UPLOAD));
			return;
		}
		const char *host = http_req_header(c->req, "Host");
		char *location = malloc(strlen(c->resource) + 300);
		if (!location) {
			reply_error(c, S3_ERR_INTERNAL);
			return;
		}
		sprintf(location, "http://%.256s%s", host ? host : "localhost", c->resource);
		s3_gw_fill_etag(&info);
		rc = s3_xml_complete_multipart(location, r->bucket, r->key, info.etag, &xml, &len);
		free(location);
		reply_xml(c, rc, xml, len, NULL, 0);
		return;
	}
	case S3_OP_ABORT_MULTIPART:
		rc = gw->be.mpu_abort(gw->be_ctx, r->bucket, r->key, r->upload_id, c->err,
				      sizeof(c->err));
		if (rc)
			reply_error(c, object_rc(c, rc, S3_ERR_NO_SUCH_UPLOAD));
		else
			reply_body(c, 204, NULL, NULL, 0, NULL, 0);
		return;
	default: { /* S3_OP_LIST_PARTS */
		struct s3_xml_part *parts = NULL;
		size_t n = 0;
		if (!gw->be.mpu_list_parts) {
			reply_error(c, S3_ERR_NOT_IMPLEMENTED);
			return;
		}
		rc = gw->be.mpu_list_parts(gw->be_ctx, r->bucket, r->key, r->upload_id, &parts, &n,
					   c->err, sizeof(c->err));
		if (rc) {
			reply_error(c, object_rc(c, rc, S3_ERR_NO_SUCH_UPLOAD));
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

void s3_gw_request_id(struct s3_gw *gw, char out[S3_GW_REQUEST_ID_LEN])
{
	uint64_t seq = __atomic_add_fetch(&gw->seq, 1, __ATOMIC_RELAXED);
	snprintf(out, S3_GW_REQUEST_ID_LEN, "%08" PRIX64 "%08" PRIX64, gw->boot & 0xffffffffu,
		 seq & 0xffffffffu);
}

static const char *header_getter(void *arg, const char *name)
{
	return http_req_header(arg, name);
}

static void op_list_uploads(struct gw_call *c)
{
	struct s3_gw *gw = c->gw;
	const struct s3_request *r = &c->r;
	if (!gw->be.mpu_list_uploads) {
		reply_error(c, S3_ERR_NOT_IMPLEMENTED);
		return;
	}
	struct s3_xml_upload *u = NULL;
	size_t n = 0;
	char *xml = NULL;
	size_t len = 0;
	int rc = gw->be.mpu_list_uploads(gw->be_ctx, r->bucket, r->prefix, &u, &n, c->err,
					 sizeof(c->err));
	if (rc) {
		reply_error(c, rc == -ENOENT ? object_rc(c, rc, S3_ERR_NO_SUCH_BUCKET)
					     : s3_gw_map_errno(rc, false));
		return;
	}
	rc = s3_xml_list_uploads(r->bucket, r->prefix, u, n, &xml, &len);
	gw->be.mpu_uploads_free(u, n);
	reply_xml(c, rc, xml, len, NULL, 0);
}

static void dispatch(struct gw_call *c)
{
	switch (c->r.op) {
	case S3_OP_LIST_UPLOADS:
		op_list_uploads(c);
		break;
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
	s3_gw_request_id(gw, c->request_id);
	const char *raw_path = http_req_raw_path(req);
	snprintf(c->resource, sizeof(c->resource), "%s", raw_path);
	int rc;
	struct s3_auth_input in = {
		.method = http_req_method(req), .raw_path = raw_path,
		.raw_query = http_req_query(req), .header = header_getter,
		.header_arg = req, .now = gw_now(gw),
	};
	struct s3_http_in hin = { http_req_method(req), raw_path, http_req_query(req),
				  http_req_header(req, "x-amz-copy-source") };
	if ((rc = s3_classify(&hin, &c->r, c->err, sizeof(c->err)))) {
		/* With credentials, a request that does not verify hears
		 * about that first (as from S3), not about its shape. */
		if (s3_gw_auth_required(gw)) {
			/* (checked as a read of no bucket: only the signature
			 * counts, no key's role or bucket list) */
			struct s3_request none = { .op = S3_OP_LIST_BUCKETS };
			char aerr[sizeof(c->err)];
			int arc = s3_gw_authorize(gw, &in, &none, &c->auth, &c->authed, aerr,
						  sizeof(aerr));
			if (arc) {
				rc = arc;
				memcpy(c->err, aerr, sizeof(aerr));
			}
		}
		reply_error(c, rc);
		goto out;
	}
	if ((rc = s3_gw_authorize(gw, &in, &c->r, &c->auth, &c->authed, c->err,
				  sizeof(c->err)))) {
		s3_request_free(&c->r);
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
