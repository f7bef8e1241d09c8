/*
 * S3 request classification, query strings and key rules
 * (api/s3_proto.h). Range, times, ETags and tokens are api/s3_proto_fmt.c,
 * the XML side api/s3_proto_xml.c.
 */
#include "api/s3_proto.h"

#include "api/s3_proto_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S3_MAX_PARAMS 1000

struct s3_err_info {
	int rc;
	int status;
	const char *code;
	const char *message;
};

static const struct s3_err_info g_errors[] = {
#define S3_ERR_ROW(name, val, st, cd, msg) { name, st, cd, msg },
	S3_ERRORS(S3_ERR_ROW)
#undef S3_ERR_ROW
};

bool s3_error_lookup(int rc, int *status, const char **code, const char **message)
{
	for (size_t i = 0; i < sizeof(g_errors) / sizeof(g_errors[0]); i++) {
		if (g_errors[i].rc == rc) {
			*status = g_errors[i].status;
			*code = g_errors[i].code;
			*message = g_errors[i].message;
			return true;
		}
	}
	*status = 500;
	*code = "InternalError";
	*message = "We encountered an internal error. Please try again.";
	return false;
}

static const char *const g_op_names[S3_OP_COUNT] = {
	[S3_OP_NONE] = "None",
	[S3_OP_LIST_BUCKETS] = "ListBuckets",
	[S3_OP_CREATE_BUCKET] = "CreateBucket",
	[S3_OP_DELETE_BUCKET] = "DeleteBucket",
	[S3_OP_HEAD_BUCKET] = "HeadBucket",
	[S3_OP_GET_BUCKET_LOCATION] = "GetBucketLocation",
	[S3_OP_LIST_OBJECTS] = "ListObjects",
	[S3_OP_LIST_OBJECTS_V2] = "ListObjectsV2",
	[S3_OP_DELETE_OBJECTS] = "DeleteObjects",
	[S3_OP_GET_OBJECT] = "GetObject",
	[S3_OP_HEAD_OBJECT] = "HeadObject",
	[S3_OP_PUT_OBJECT] = "PutObject",
	[S3_OP_COPY_OBJECT] = "CopyObject",
	[S3_OP_DELETE_OBJECT] = "DeleteObject",
	[S3_OP_CREATE_MULTIPART] = "CreateMultipartUpload",
	[S3_OP_UPLOAD_PART] = "UploadPart",
	[S3_OP_COMPLETE_MULTIPART] = "CompleteMultipartUpload",
	[S3_OP_ABORT_MULTIPART] = "AbortMultipartUpload",
	[S3_OP_LIST_PARTS] = "ListParts",
	[S3_OP_LIST_UPLOADS] = "ListMultipartUploads",
};

const char *s3_op_name(enum s3_op op)
{
	return op >= 0 && op < S3_OP_COUNT && g_op_names[op] ? g_op_names[op] : "Unknown";
}

/* ---- decoding ---- */

static int decode(const char *s, size_t len, bool plus_space, char **out, size_t *outlen)
{
	char *d = malloc(len + 1);
	size_t o = 0;
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len && (hi = s3_hexval(s[i + 1])) >= 0 &&
		    (lo = s3_hexval(s[i + 2])) >= 0) {
			d[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus_space && s[i] == '+') {
			d[o++] = ' ';
		} else {
			d[o++] = s[i];
		}
	}
	d[o] = '\0';
	*out = d;
	if (outlen)
		*outlen = o;
	return 0;
}

int s3_url_decode(const char *s, size_t len, char **out, size_t *outlen)
{
	return decode(s, len, false, out, outlen);
}

void s3_params_free(struct s3_param *params, size_t n)
{
	for (size_t i = 0; params && i < n; i++) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
}

int s3_parse_query(const char *raw_query, struct s3_param **out, size_t *n)
{
	struct s3_param *params = NULL;
	size_t count = 0, cap = 0;
	int rc = 0;
	const char *p = raw_query ? raw_query : "";
	while (*p) {
		size_t seglen = strcspn(p, "&");
		if (seglen) {
			if (count == S3_MAX_PARAMS) {
				rc = -E2BIG;
				goto err_free;
			}
			if (count == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				struct s3_param *grown = realloc(params, ncap * sizeof(*params));
				if (!grown) {
					rc = -ENOMEM;
					goto err_free;
				}
				params = grown;
				cap = ncap;
			}
			const char *eq = memchr(p, '=', seglen);
			size_t nlen = eq ? (size_t)(eq - p) : seglen;
			params[count].name = params[count].value = NULL;
			count++;
			if ((rc = decode(p, nlen, true, &params[count - 1].name, NULL)) ||
			    (rc = decode(eq ? eq + 1 : "", eq ? seglen - nlen - 1 : 0, true,
					 &params[count - 1].value, NULL)))
				goto err_free;
		}
		p += seglen;
		if (*p == '&')
			p++;
	}
	*out = params;
	*n = count;
	return 0;
err_free:
	s3_params_free(params, count);
	return rc;
}

/* ---- names ---- */

bool s3_bucket_valid(const char *bucket)
{
	size_t len = strlen(bucket);
	if (len < 1 || len > S3_MAX_BUCKET || !strcmp(bucket, ".") || !strcmp(bucket, ".."))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = bucket[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t need;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	unsigned cp = c & (0x7f >> need);
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

int s3_key_check(const char *key, size_t len, char *err, size_t errlen)
{
	if (len == 0) {
		snprintf(err, errlen, "empty object key");
		return S3_ERR_INVALID_ARGUMENT;
	}
	if (len > S3_MAX_KEY) {
		snprintf(err, errlen, "object key of %zu bytes is longer than %d", len, S3_MAX_KEY);
		return S3_ERR_KEY_TOO_LONG;
	}
	for (size_t i = 0; i < len;) {
		if (key[i] == '\0') {
			snprintf(err, errlen, "object key contains a NUL byte");
			return S3_ERR_INVALID_ARGUMENT;
		}
		size_t step = utf8_seq((const unsigned char *)key + i, len - i);
		if (!step) {
			snprintf(err, errlen, "object key is not valid UTF-8 (byte %zu)", i);
			return S3_ERR_INVALID_ARGUMENT;
		}
		i += step;
	}
	/* Segments: all non-empty and not dot segments; a final empty one is
	 * a directory marker's trailing '/'. */
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && key[i] != '/')
			continue;
		size_t seg = i - start;
		bool last = i == len;
		if (seg == 0 && !(last && start > 0)) {
			snprintf(err, errlen,
				 "object key has an empty path segment ('//', leading '/' or "
				 "'/' alone) and cannot be a namespace path");
			return S3_ERR_INVALID_ARGUMENT;
		}
		if ((seg == 1 && key[start] == '.') ||
		    (seg == 2 && key[start] == '.' && key[start + 1] == '.')) {
			snprintf(err, errlen,
				 "object key has a '.' or '..' segment and cannot be a namespace "
				 "path");
			return S3_ERR_INVALID_ARGUMENT;
		}
		start = i + 1;
	}
	return 0;
}

int s3_object_path(const char *bucket, const char *key, char *out, size_t outlen)
{
	size_t klen = key ? strlen(key) : 0;
	if (klen && key[klen - 1] == '/')
		klen--;
	int n = klen ? snprintf(out, outlen, "/%s/%.*s", bucket, (int)klen, key)
		     : snprintf(out, outlen, "/%s", bucket);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* ---- classification ---- */

const char *s3_request_param(const struct s3_request *req, const char *name)
{
	for (size_t i = 0; i < req->nparams; i++)
		if (strcmp(req->params[i].name, name) == 0)
			return req->params[i].value;
	return NULL;
}

void s3_request_free(struct s3_request *req)
{
	free(req->key);
	free(req->copy_key);
	s3_params_free(req->params, req->nparams);
	memset(req, 0, sizeof(*req));
}

/* Subresources that select an operation we do not serve. */
static const char *const g_unsupported[] = {
	"acl", "policy", "policyStatus", "lifecycle", "cors", "tagging", "website",
	"logging", "notification", "replication", "encryption", "object-lock", "versions",
	"versioning", "requestPayment", "accelerate", "analytics", "inventory", "metrics",
	"ownershipControls", "publicAccessBlock", "intelligent-tiering", "legal-hold",
	"retention", "restore", "select", "torrent", "attributes", "uploads", NULL,
};

static const char *unsupported_subresource(const struct s3_request *req, const char *skip)
{
	for (size_t i = 0; g_unsupported[i]; i++) {
		if (skip && !strcmp(g_unsupported[i], skip))
			continue;
		if (s3_request_param(req, g_unsupported[i]))
			return g_unsupported[i];
	}
	return NULL;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > max / 10 + 1)
			return -ERANGE;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int classify_bucket(struct s3_request *r, const char *method, char *err, size_t errlen)
{
	const char *sub;
	if (!strcmp(method, "GET")) {
		if (s3_request_param(r, "location")) {
			r->op = S3_OP_GET_BUCKET_LOCATION;
			return 0;
		}
		if (s3_request_param(r, "uploads")) {
			r->op = S3_OP_LIST_UPLOADS;
			r->prefix = s3_request_param(r, "prefix");
			return 0;
		}
		if ((sub = unsupported_subresource(r, NULL)))
			goto not_impl;
		const char *lt = s3_request_param(r, "list-type");
		r->op = lt && !strcmp(lt, "2") ? S3_OP_LIST_OBJECTS_V2 : S3_OP_LIST_OBJECTS;
		if (lt && strcmp(lt, "2") && strcmp(lt, "1")) {
			snprintf(err, errlen, "list-type must be 1 or 2");
			return S3_ERR_INVALID_ARGUMENT;
		}
		r->prefix = s3_request_param(r, "prefix");
		r->delimiter = s3_request_param(r, "delimiter");
		r->marker = s3_request_param(r, "marker");
		r->start_after = s3_request_param(r, "start-after");
		r->continuation_token = s3_request_param(r, "continuation-token");
		const char *enc = s3_request_param(r, "encoding-type");
		if (enc && strcmp(enc, "url")) {
			snprintf(err, errlen, "encoding-type must be 'url'");
			return S3_ERR_INVALID_ARGUMENT;
		}
		r->url_encoding = enc != NULL;
		r->max_keys = S3_DEFAULT_MAX_KEYS;
		const char *mk = s3_request_param(r, "max-keys");
		if (mk) {
			unsigned long long v;
			int prc = parse_uint(mk, ~0ull / 2, &v);
			if (prc == -EINVAL) {
				snprintf(err, errlen, "max-keys must be a non-negative integer");
				return S3_ERR_INVALID_ARGUMENT;
			}
			r->max_keys = prc || v > S3_DEFAULT_MAX_KEYS ? S3_DEFAULT_MAX_KEYS : (size_t)v;
		}
		return 0;
	}
	if (!strcmp(method, "HEAD")) {
		r->op = S3_OP_HEAD_BUCKET;
		return 0;
	}
	if (!strcmp(method, "PUT")) {
		if ((sub = unsupported_subresource(r, NULL)))
			goto not_impl;
		r->op = S3_OP_CREATE_BUCKET;
		return 0;
	}
	if (!strcmp(method, "DELETE")) {
		if ((sub = unsupported_subresource(r, NULL)))
			goto not_impl;
		r->op = S3_OP_DELETE_BUCKET;
		return 0;
	}
	if (!strcmp(method, "POST") && s3_request_param(r, "delete")) {
		r->op = S3_OP_DELETE_OBJECTS;
		return 0;
	}
	snprintf(err, errlen, "%s on a bucket is not supported", method);
	return S3_ERR_NOT_IMPLEMENTED;
not_impl:
	snprintf(err, errlen, "bucket subresource '%s' is not implemented", sub);
	return S3_ERR_NOT_IMPLEMENTED;
}

static int parse_copy_source(struct s3_request *r, const char *src, char *err, size_t errlen)
{
	char *dec = NULL;
	size_t declen;
	int rc;
	/* "/bucket/key" or "bucket/key", %-encoded, maybe "?versionId=..." */
	size_t rawlen = strcspn(src, "?");
	if (src[rawlen] == '?' && strncmp(src + rawlen + 1, "versionId=null", 14) != 0) {
		snprintf(err, errlen, "x-amz-copy-source: versions are not supported");
		return S3_ERR_NOT_IMPLEMENTED;
	}
	if ((rc = decode(src, rawlen, false, &dec, &declen)))
		return rc == -ENOMEM ? S3_ERR_INTERNAL : rc;
	const char *p = dec;
	if (*p == '/')
		p++;
	const char *slash = strchr(p, '/');
	size_t blen = slash ? (size_t)(slash - p) : 0;
	if (!slash || blen > S3_MAX_BUCKET) {
		snprintf(err, errlen, "x-amz-copy-source must be bucket/key");
		rc = S3_ERR_INVALID_ARGUMENT;
		goto out;
	}
	memcpy(r->copy_bucket, p, blen);
	r->copy_bucket[blen] = '\0';
	if (!s3_bucket_valid(r->copy_bucket)) {
		snprintf(err, errlen, "x-amz-copy-source names an invalid bucket");
		rc = S3_ERR_INVALID_BUCKET_NAME;
		goto out;
	}
	size_t klen = declen - (size_t)(slash + 1 - dec);
	if ((rc = s3_key_check(slash + 1, klen, err, errlen)))
		goto out;
	r->copy_key = strdup(slash + 1);
	rc = r->copy_key ? 0 : S3_ERR_INTERNAL;
out:
	free(dec);
	return rc;
}

static int classify_object(struct s3_request *r, const struct s3_http_in *in, char *err,
			   size_t errlen)
{
	const char *method = in->method;
	const char *upload_id = s3_request_param(r, "uploadId");
	const char *sub;
	r->upload_id = upload_id;
	const char *pn = s3_request_param(r, "partNumber");
	if (pn) {
		unsigned long long v;
		if (parse_uint(pn, S3_MAX_PARTS, &v) || v < 1) {
			snprintf(err, errlen, "partNumber must be an integer in 1..10000");
			return S3_ERR_INVALID_ARGUMENT;
		}
		r->part_number = (int)v;
	}
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
		bool get = !strcmp(method, "GET");
		if (get && upload_id) {
			r->op = S3_OP_LIST_PARTS;
			return 0;
		}
		if ((sub = unsupported_subresource(r, NULL)))
			goto not_impl;
		if (pn) {
			snprintf(err, errlen, "GET by partNumber is not implemented");
			return S3_ERR_NOT_IMPLEMENTED;
		}
		r->op = get ? S3_OP_GET_OBJECT : S3_OP_HEAD_OBJECT;
		return 0;
	}
	if (!strcmp(method, "PUT")) {
		if ((sub = unsupported_subresource(r, NULL)))
			goto not_impl;
		if (upload_id || pn) {
			if (!upload_id || !pn) {
				snprintf(err, errlen, "UploadPart needs both partNumber and uploadId");
				return S3_ERR_INVALID_ARGUMENT;
			}
			if (in->copy_source) {
				snprintf(err, errlen, "UploadPartCopy is not implemented");
				return S3_ERR_NOT_IMPLEMENTED;
			}
			r->op = S3_OP_UPLOAD_PART;
			return 0;
		}
		if (in->copy_source) {
			r->op = S3_OP_COPY_OBJECT;
			return parse_copy_source(r, in->copy_source, err, errlen);
		}
		r->op = S3_OP_PUT_OBJECT;
		return 0;
	}
	if (!strcmp(method, "POST")) {
		if (s3_request_param(r, "uploads")) {
			r->op = S3_OP_CREATE_MULTIPART;
			return 0;
		}
		if (upload_id) {
			r->op = S3_OP_COMPLETE_MULTIPART;
			return 0;
		}
		snprintf(err, errlen, "POST on an object needs ?uploads or ?uploadId");
		return S3_ERR_NOT_IMPLEMENTED;
	}
	if (!strcmp(method, "DELETE")) {
		if (upload_id) {
			r->op = S3_OP_ABORT_MULTIPART;
			return 0;
		}
		if ((sub = unsupported_subresource(r, NULL)))
			goto not_impl;
		r->op = S3_OP_DELETE_OBJECT;
		return 0;
	}
	snprintf(err, errlen, "method %s is not supported", method);
	return S3_ERR_NOT_IMPLEMENTED;
not_impl:
	snprintf(err, errlen, "object subresource '%s' is not implemented", sub);
	return S3_ERR_NOT_IMPLEMENTED;
}

int s3_classify(const struct s3_http_in *in, struct s3_request *out, char *err, size_t errlen)
{
	struct s3_request r = { 0 };
	char *bucket = NULL;
	size_t blen, klen;
	int rc;
	const char *path = in->raw_path;
	if (!in->method || !path || path[0] != '/') {
		snprintf(err, errlen, "request path must start with '/'");
		return S3_ERR_INVALID_REQUEST;
	}
	if ((rc = s3_parse_query(in->raw_query, &r.params, &r.nparams))) {
		snprintf(err, errlen, rc == -E2BIG ? "too many query parameters" : "out of memory");
		return rc == -E2BIG ? S3_ERR_INVALID_ARGUMENT : S3_ERR_INTERNAL;
	}
	path++;
	const char *slash = strchr(path, '/');
	size_t rawblen = slash ? (size_t)(slash - path) : strlen(path);
	if (rawblen == 0) {
		if (slash) {
			snprintf(err, errlen, "empty bucket name");
			rc = S3_ERR_INVALID_BUCKET_NAME;
			goto err_free;
		}
		if (strcmp(in->method, "GET")) {
			snprintf(err, errlen, "%s / is not supported", in->method);
			rc = S3_ERR_METHOD_NOT_ALLOWED;
			goto err_free;
		}
		r.op = S3_OP_LIST_BUCKETS;
		*out = r;
		return 0;
	}
	if ((rc = decode(path, rawblen, false, &bucket, &blen))) {
		rc = S3_ERR_INTERNAL;
		goto err_free;
	}
	if (blen > S3_MAX_BUCKET || strlen(bucket) != blen || !s3_bucket_valid(bucket)) {
		snprintf(err, errlen, "invalid bucket name");
		rc = S3_ERR_INVALID_BUCKET_NAME;
		goto err_free;
	}
	memcpy(r.bucket, bucket, blen + 1);
	const char *rawkey = slash ? slash + 1 : "";
	if (!*rawkey) {
		if ((rc = classify_bucket(&r, in->method, err, errlen)))
			goto err_free;
		free(bucket);
		*out = r;
		return 0;
	}
	if ((rc = decode(rawkey, strlen(rawkey), false, &r.key, &klen))) {
		rc = S3_ERR_INTERNAL;
		goto err_free;
	}
	if ((rc = s3_key_check(r.key, klen, err, errlen)))
		goto err_free;
	r.dir_marker = r.key[klen - 1] == '/';
	if ((rc = classify_object(&r, in, err, errlen)))
		goto err_free;
	free(bucket);
	*out = r;
	return 0;
err_free:
	free(bucket);
	s3_request_free(&r);
	return rc;
}
