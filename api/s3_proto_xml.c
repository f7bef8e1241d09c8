/*
 * S3 XML: reply documents and request-body parsers (api/s3_proto.h).
 */
#include "api/s3_proto.h"

#include "api/s3_proto_int.h"
#include "lib/sigv4.h"
#include "lib/xml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* Character data and attribute values: the five specials, and control
 * bytes other than tab/newline as numeric references (XML 1.0 cannot carry
 * them otherwise; keys may hold them). */
static void xml_escape(struct sbuf *sb, const char *s)
{
	for (const char *p = s; *p; p++) {
		switch (*p) {
		case '<':
			sbuf_add(sb, "&lt;");
			break;
		case '>':
			sbuf_add(sb, "&gt;");
			break;
		case '&':
			sbuf_add(sb, "&amp;");
			break;
		case '"':
			sbuf_add(sb, "&quot;");
			break;
		case '\'':
			sbuf_add(sb, "&apos;");
			break;
		default:
			if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n') {
				char ref[8];
				snprintf(ref, sizeof(ref), "&#%d;", *p);
				sbuf_add(sb, ref);
			} else {
				sbuf_addn(sb, p, 1);
			}
		}
	}
}

/* <name>escaped text</name> */
static void elem(struct sbuf *sb, const char *name, const char *text)
{
	sbuf_add(sb, "<");
	sbuf_add(sb, name);
	sbuf_add(sb, ">");
	xml_escape(sb, text ? text : "");
	sbuf_add(sb, "</");
	sbuf_add(sb, name);
	sbuf_add(sb, ">");
}

/* A key-like value, %-encoded first when the client asked encoding-type=url. */
static void elem_key(struct sbuf *sb, const char *name, const char *text, bool url)
{
	char *enc = NULL;
	if (url && text) {
		if (sigv4_uri_encode(text, true, &enc)) {
			sb->oom = true;
			return;
		}
		text = enc;
	}
	elem(sb, name, text);
	free(enc);
}

static void elem_u64(struct sbuf *sb, const char *name, uint64_t v)
{
	char num[24];
	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	elem(sb, name, num);
}

static void elem_time(struct sbuf *sb, const char *name, int64_t t)
{
	char ts[32];
	s3_time_iso8601(t, ts);
	elem(sb, name, ts);
}

static void elem_etag(struct sbuf *sb, const char *name, const char *etag)
{
	char q[S3_ETAG_MAX + 4];
	s3_etag_quote(etag ? etag : "", q, sizeof(q));
	elem(sb, name, q);
}

int s3_xml_list_buckets(const struct s3_xml_bucket *buckets, size_t n, const char *owner_id,
			char **out, size_t *outlen)
{
	struct sbuf sb = { 0 };
	sbuf_add(&sb, XML_DECL "<ListAllMyBucketsResult xmlns=\"" S3_NS "\"><Owner>");
	elem(&sb, "ID", owner_id);
	elem(&sb, "DisplayName", owner_id);
	sbuf_add(&sb, "</Owner><Buckets>");
	for (size_t i = 0; i < n; i++) {
		sbuf_add(&sb, "<Bucket>");
		elem(&sb, "Name", buckets[i].name);
		elem_time(&sb, "CreationDate", buckets[i].ctime);
		sbuf_add(&sb, "</Bucket>");
	}
	sbuf_add(&sb, "</Buckets></ListAllMyBucketsResult>");
	return sbuf_finish(&sb, out, outlen);
}

int s3_xml_list_objects(const struct s3_xml_listing *l, char **out, size_t *outlen)
{
	struct sbuf sb = { 0 };
	bool url = l->url_encoding;
	sbuf_add(&sb, XML_DECL "<ListBucketResult xmlns=\"" S3_NS "\">");
	elem(&sb, "Name", l->bucket);
	elem_key(&sb, "Prefix", l->prefix ? l->prefix : "", url);
	if (l->v2) {
		if (l->start_after)
			elem_key(&sb, "StartAfter", l->start_after, url);
		if (l->continuation_token)
			elem(&sb, "ContinuationToken", l->continuation_token);
		if (l->truncated && l->next_token)
			elem(&sb, "NextContinuationToken", l->next_token);
	} else {
		elem_key(&sb, "Marker", l->marker ? l->marker : "", url);
		if (l->truncated && l->next_marker)
			elem_key(&sb, "NextMarker", l->next_marker, url);
	}
	if (l->v2)
		elem_u64(&sb, "KeyCount", l->n);
	elem_u64(&sb, "MaxKeys", l->max_keys);
	if (l->delimiter)
		elem_key(&sb, "Delimiter", l->delimiter, url);
	if (url)
		elem(&sb, "EncodingType", "url");
	elem(&sb, "IsTruncated", l->truncated ? "true" : "false");
	for (size_t i = 0; i < l->n; i++) {
		const struct s3_xml_entry *e = &l->entries[i];
		if (e->is_prefix)
			continue;
		sbuf_add(&sb, "<Contents>");
		elem_key(&sb, "Key", e->key, url);
		elem_time(&sb, "LastModified", e->mtime);
		elem_etag(&sb, "ETag", e->etag);
		elem_u64(&sb, "Size", e->size);
		sbuf_add(&sb, "<StorageClass>STANDARD</StorageClass></Contents>");
	}
	for (size_t i = 0; i < l->n; i++) {
		if (!l->entries[i].is_prefix)
			continue;
		sbuf_add(&sb, "<CommonPrefixes>");
		elem_key(&sb, "Prefix", l->entries[i].key, url);
		sbuf_add(&sb, "</CommonPrefixes>");
	}
	sbuf_add(&sb, "</ListBucketResult>");
	return sbuf_finish(&sb, out, outlen);
}

int s3_xml_error(const char *code, const char *message, const char *resource,
		 const char *request_id, char **out, size_t *outlen)
{
	struct sbuf sb = { 0 };
	sbuf_add(&sb, XML_DECL "<Error>");
	elem(&sb, "Code", code);
	elem(&sb, "Message", message);
	if (resource)
		elem(&sb, "Resource", resource);
	elem(&sb, "RequestId", request_id);
	sbuf_add(&sb, "</Error>");
	return sbuf_finish(&sb, out, outlen);
}

int s3_xml_initiate_multipart(const char *bucket, const char *key, const char *upload_id,
			      char **out, size_t *outlen)
{
	struct sbuf sb = { 0 };
	sbuf_add(&sb, XML_DECL "<InitiateMultipartUploadResult xmlns=\"" S3_NS "\">");
	elem(&sb, "Bucket", bucket);
	elem(&sb, "Key", key);
	elem(&sb, "UploadId", upload_id);
	sbuf_add(&sb, "</InitiateMultipartUploadResult>");
	return sbuf_finish(&sb, out, outlen);
}

int s3_xml_complete_multipart(const char *location, const char *bucket, const char *key,
			      const char *etag, char **out, size_t *outlen)
{
	struct sbuf sb = { 0 };
	sbuf_add(&sb, XML_DECL "<CompleteMultipartUploadResult xmlns=\"" S3_NS "\">");
	elem(&sb, "Location", location);
	elem(&sb, "Bucket", bucket);
	elem(&sb, "Key", key);
	elem_etag(&sb, "ETag", etag);
	sbuf_add(&sb, "</CompleteMultipartUploadResult>");
	return sbuf_finish(&sb, out, outlen);
}

int s3_xml_copy_result(const char *etag, int64_t mtime, char **out, size_t *outlen)
{
	struct sbuf sb = { 0 };
	sbuf_add(&sb, XML_DECL "<CopyObjectResult xmlns=\"" S3_NS "\">");
	elem_time(&sb, "LastModified", mtime);
	elem_etag(&sb, "ETag", etag);
	sbuf_add(&sb, "</CopyObjectResult>");
	return sbuf_finish(&sb, out, outlen);
}

int s3_xml_location(const char *region, char **out, size_t *outlen)
{
	struct sbuf sb = { 0 };
	sbuf_add(&sb, XML_DECL "<LocationConstraint xmlns=\"" S3_NS "\">");
	if (region && strcmp(region, "us-east-1"))
		xml_escape(&sb, region);
	sbuf_add(&sb, "</LocationConstraint>");
	return sbuf_finish(&sb, out, outlen);
}

int s3_xml_delete_result(const struct s3_xml_deleted *items, size_t n, bool quiet, char **out,
			 size_t *outlen)
{
	struct sbuf sb = { 0 };
	sbuf_add(&sb, XML_DECL "<DeleteResult xmlns=\"" S3_NS "\">");
	for (size_t i = 0; i < n; i++) {
		if (!items[i].code) {
			if (quiet)
				continue;
			sbuf_add(&sb, "<Deleted>");
			elem(&sb, "Key", items[i].key);
			sbuf_add(&sb, "</Deleted>");
		} else {
			sbuf_add(&sb, "<Error>");
			elem(&sb, "Key", items[i].key);
			elem(&sb, "Code", items[i].code);
			elem(&sb, "Message", items[i].message ? items[i].message : "");
			sbuf_add(&sb, "</Error>");
		}
	}
	sbuf_add(&sb, "</DeleteResult>");
	return sbuf_finish(&sb, out, outlen);
}

int s3_xml_list_parts(const char *bucket, const char *key, const char *upload_id,
		      const struct s3_xml_part *parts, size_t n, char **out, size_t *outlen)
{
	struct sbuf sb = { 0 };
	sbuf_add(&sb, XML_DECL "<ListPartsResult xmlns=\"" S3_NS "\">");
	elem(&sb, "Bucket", bucket);
	elem(&sb, "Key", key);
	elem(&sb, "UploadId", upload_id);
	elem(&sb, "StorageClass", "STANDARD");
	elem_u64(&sb, "PartNumberMarker", 0);
	elem_u64(&sb, "NextPartNumberMarker", n ? (uint64_t)parts[n - 1].number : 0);
	elem_u64(&sb, "MaxParts", S3_MAX_PARTS);
	elem(&sb, "IsTruncated", "false");
	for (size_t i = 0; i < n; i++) {
		sbuf_add(&sb, "<Part>");
		elem_u64(&sb, "PartNumber", (uint64_t)parts[i].number);
		elem_time(&sb, "LastModified", parts[i].mtime);
		elem_etag(&sb, "ETag", parts[i].etag);
		elem_u64(&sb, "Size", parts[i].size);
		sbuf_add(&sb, "</Part>");
	}
	sbuf_add(&sb, "</ListPartsResult>");
	return sbuf_finish(&sb, out, outlen);
}

/* ---- request bodies ---- */

static int parse_root(const char *body, size_t len, const char *want, struct xml_node **root,
		      char *err, size_t errlen)
{
	char xerr[160] = "";
	int rc = xml_parse(body, len, root, xerr, sizeof(xerr));
	if (rc) {
		snprintf(err, errlen, "%s", *xerr ? xerr : "malformed XML");
		return rc == -ENOMEM ? S3_ERR_INTERNAL : S3_ERR_MALFORMED_XML;
	}
	if (strcmp(xml_local_name(*root), want) != 0) {
		snprintf(err, errlen, "expected a <%s> document", want);
		xml_free(*root);
		*root = NULL;
		return S3_ERR_MALFORMED_XML;
	}
	return 0;
}

int s3_parse_complete_multipart(const char *body, size_t len, struct s3_part **parts,
				size_t *nparts, char *err, size_t errlen)
{
	struct xml_node *root = NULL;
	struct s3_part *out = NULL;
	size_t n = 0;
	int rc = parse_root(body, len, "CompleteMultipartUpload", &root, err, errlen);
	if (rc)
		return rc;
	for (const struct xml_node *p = xml_child(root, "Part"); p; p = xml_next(p, "Part"))
		n++;
	if (n == 0 || n > S3_MAX_PARTS) {
		snprintf(err, errlen, "CompleteMultipartUpload needs 1..%d <Part> elements",
			 S3_MAX_PARTS);
		rc = S3_ERR_MALFORMED_XML;
		goto out_free;
	}
	out = calloc(n, sizeof(*out));
	if (!out) {
		rc = S3_ERR_INTERNAL;
		goto out_free;
	}
	size_t i = 0;
	for (const struct xml_node *p = xml_child(root, "Part"); p; p = xml_next(p, "Part"), i++) {
		const char *num = xml_child_text(p, "PartNumber");
		const char *etag = xml_child_text(p, "ETag");
		char *end = NULL;
		long v = num ? strtol(num, &end, 10) : 0;
		if (!num || !*num || *end || v < 1 || v > S3_MAX_PARTS) {
			snprintf(err, errlen, "part %zu: PartNumber must be 1..%d", i + 1,
				 S3_MAX_PARTS);
			rc = S3_ERR_MALFORMED_XML;
			goto out_free;
		}
		if (!etag || strlen(etag) >= S3_ETAG_MAX + 12) {
			snprintf(err, errlen, "part %ld: missing or oversized ETag", v);
			rc = S3_ERR_MALFORMED_XML;
			goto out_free;
		}
		if (i && v <= out[i - 1].number) {
			snprintf(err, errlen, "part %ld follows part %d", v, out[i - 1].number);
			rc = S3_ERR_INVALID_PART_ORDER;
			goto out_free;
		}
		out[i].number = (int)v;
		s3_etag_unquote(etag, out[i].etag, sizeof(out[i].etag));
	}
	*parts = out;
	*nparts = n;
	out = NULL;
out_free:
	free(out);
	xml_free(root);
	return rc;
}

void s3_keys_free(char **keys, size_t n)
{
	for (size_t i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
}

int s3_parse_delete(const char *body, size_t len, char ***keys, size_t *nkeys, bool *quiet,
		    char *err, size_t errlen)
{
	struct xml_node *root = NULL;
	char **out = NULL;
	size_t n = 0, i = 0;
	int rc = parse_root(body, len, "Delete", &root, err, errlen);
	if (rc)
		return rc;
	const char *q = xml_child_text(root, "Quiet");
	*quiet = q && !strcasecmp(q, "true");
	for (const struct xml_node *o = xml_child(root, "Object"); o; o = xml_next(o, "Object"))
		n++;
	if (n == 0) {
		snprintf(err, errlen, "Delete names no <Object>");
		rc = S3_ERR_MALFORMED_XML;
		goto out_free;
	}
	if (n > S3_MAX_DELETE_KEYS) {
		snprintf(err, errlen, "Delete names %zu objects, at most %d allowed", n,
			 S3_MAX_DELETE_KEYS);
		rc = S3_ERR_TOO_MANY_KEYS;
		goto out_free;
	}
	out = calloc(n, sizeof(*out));
	if (!out) {
		rc = S3_ERR_INTERNAL;
		goto out_free;
	}
	for (const struct xml_node *o = xml_child(root, "Object"); o;
	     o = xml_next(o, "Object"), i++) {
		const struct xml_node *k = xml_child(o, "Key");
		if (!k) {
			snprintf(err, errlen, "object %zu has no <Key>", i + 1);
			rc = S3_ERR_MALFORMED_XML;
			goto out_free;
		}
		out[i] = malloc(k->text_len + 1);
		if (!out[i]) {
			rc = S3_ERR_INTERNAL;
			goto out_free;
		}
		memcpy(out[i], k->text, k->text_len + 1);
	}
	*keys = out;
	*nkeys = n;
	out = NULL;
out_free:
	s3_keys_free(out, n);
	xml_free(root);
	return rc;
}

int s3_parse_create_bucket(const char *body, size_t len, char *region, size_t regionlen,
			   char *err, size_t errlen)
{
	struct xml_node *root = NULL;
	size_t i = 0;
	while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
		i++;
	snprintf(region, regionlen, "%s", "");
	if (i == len)
		return 0;
	int rc = parse_root(body, len, "CreateBucketConfiguration", &root, err, errlen);
	if (rc)
		return rc;
	const char *lc = xml_child_text(root, "LocationConstraint");
	if (lc && strlen(lc) >= regionlen) {
		snprintf(err, errlen, "LocationConstraint is too long");
		rc = S3_ERR_INVALID_ARGUMENT;
	} else if (lc) {
		snprintf(region, regionlen, "%s", lc);
	}
	xml_free(root);
	return rc;
}

int s3_xml_list_uploads(const char *bucket, const char *prefix, const struct s3_xml_upload *u,
			size_t n, char **out, size_t *outlen)
{
	struct sbuf sb = { 0 };
	sbuf_add(&sb, XML_DECL "<ListMultipartUploadsResult xmlns=\"" S3_NS "\">");
	elem(&sb, "Bucket", bucket);
	elem(&sb, "KeyMarker", "");
	elem(&sb, "UploadIdMarker", "");
	elem(&sb, "NextKeyMarker", n ? u[n - 1].key : "");
	elem(&sb, "NextUploadIdMarker", n ? u[n - 1].upload_id : "");
	if (prefix)
		elem(&sb, "Prefix", prefix);
	elem_u64(&sb, "MaxUploads", 1000);
	elem(&sb, "IsTruncated", "false");
	for (size_t i = 0; i < n; i++) {
		sbuf_add(&sb, "<Upload>");
		elem(&sb, "Key", u[i].key);
		elem(&sb, "UploadId", u[i].upload_id);
		elem(&sb, "StorageClass", "STANDARD");
		elem_time(&sb, "Initiated", u[i].initiated);
		sbuf_add(&sb, "</Upload>");
	}
	sbuf_add(&sb, "</ListMultipartUploadsResult>");
	return sbuf_finish(&sb, out, outlen);
}
