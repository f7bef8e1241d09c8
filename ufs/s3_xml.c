#include "ufs/s3_int.h"

#include "lib/xml.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void s3_etag_copy(char *out, size_t outlen, const char *etag, size_t len)
{
	while (len && (etag[0] == '"' || etag[0] == ' ')) {
		etag++;
		len--;
	}
	while (len && (etag[len - 1] == '"' || etag[len - 1] == ' ' || etag[len - 1] == '\r' ||
		       etag[len - 1] == '\n'))
		len--;
	if (outlen == 0)
		return;
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, etag, len);
	out[len] = '\0';
}

int s3_parse_iso8601(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, n = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970 ||
	    y > 9999)
		return -EINVAL;
	int frac_ms = 0;
	const char *p = s + 19;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				frac_ms = frac_ms * 10 + (*p - '0');
		for (; digits < 3; digits++)
			frac_ms *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
			 .tm_min = mi, .tm_sec = sec };
	*ms = (int64_t)timegm(&tm) * 1000 + frac_ms;
	return 0;
}

void s3_listing_free(struct s3_listing *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		free(l->objs[i].key);
	free(l->objs);
	free(l->next_token);
	memset(l, 0, sizeof(*l));
}

static int add_obj(struct s3_listing *l, size_t *cap, const struct xml_node *n, bool is_prefix)
{
	const char *key = xml_child_text(n, is_prefix ? "Prefix" : "Key");
	if (!key || !*key)
		return -EINVAL;
	if (l->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct s3_obj *grown = realloc(l->objs, ncap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		l->objs = grown;
		*cap = ncap;
	}
	struct s3_obj *o = &l->objs[l->count];
	memset(o, 0, sizeof(*o));
	o->is_prefix = is_prefix;
	if (!is_prefix) {
		const char *size = xml_child_text(n, "Size");
		const char *etag = xml_child_text(n, "ETag");
		const char *mtime = xml_child_text(n, "LastModified");
		char *end = NULL;
		if (size) {
			errno = 0;
			o->size = strtoull(size, &end, 10);
			if (errno || end == size || *end || size[0] == '-')
				return -EINVAL;
		}
		if (etag)
			s3_etag_copy(o->etag, sizeof(o->etag), etag, strlen(etag));
		if (mtime && s3_parse_iso8601(mtime, &o->mtime_ms))
			o->mtime_ms = 0;
	}
	if (!(o->key = strdup(key)))
		return -ENOMEM;
	l->count++;
	return 0;
}

int s3_parse_listing(const char *body, size_t len, struct s3_listing *out, char *err,
		     size_t errlen)
{
	struct xml_node *root = NULL;
	struct s3_listing l = { 0 };
	size_t cap = 0;
	int rc = xml_parse(body, len, &root, err, errlen);
	if (rc)
		return rc;
	if (strcmp(xml_local_name(root), "ListBucketResult") != 0) {
		rc = -EINVAL;
		if (err && errlen)
			snprintf(err, errlen, "not a ListBucketResult: <%.40s>", root->name);
		goto out_free_doc;
	}
	for (const struct xml_node *c = root->children; c; c = c->next) {
		const char *name = xml_local_name(c);
		bool is_prefix = strcmp(name, "CommonPrefixes") == 0;
		if (!is_prefix && strcmp(name, "Contents") != 0)
			continue;
		if ((rc = add_obj(&l, &cap, c, is_prefix))) {
			if (err && errlen)
				snprintf(err, errlen, "malformed %s entry in ListBucketResult", name);
			goto out_free_listing;
		}
	}
	const char *trunc = xml_child_text(root, "IsTruncated");
	l.truncated = trunc && strcmp(trunc, "true") == 0;
	const char *token = xml_child_text(root, "NextContinuationToken");
	if (l.truncated) {
		if (!token || !*token) {
			rc = -EINVAL;
			if (err && errlen)
				snprintf(err, errlen, "truncated listing without a continuation token");
			goto out_free_listing;
		}
		if (!(l.next_token = strdup(token))) {
			rc = -ENOMEM;
			goto out_free_listing;
		}
	}
	*out = l;
	goto out_free_doc;
out_free_listing:
	s3_listing_free(&l);
out_free_doc:
	xml_free(root);
	return rc;
}

bool s3_parse_error(const char *body, size_t len, char *code, size_t codelen, char *msg,
		    size_t msglen)
{
	struct xml_node *root = NULL;
	if (!body || !len || xml_parse(body, len, &root, NULL, 0))
		return false;
	bool ok = strcmp(xml_local_name(root), "Error") == 0;
	if (ok) {
		const char *c = xml_child_text(root, "Code");
		const char *m = xml_child_text(root, "Message");
		snprintf(code, codelen, "%.*s", 64, c ? c : "");
		snprintf(msg, msglen, "%.*s", 200, m ? m : "");
	}
	xml_free(root);
	return ok;
}

int s3_parse_upload_id(const char *body, size_t len, char **out)
{
	struct xml_node *root = NULL;
	int rc = xml_parse(body, len, &root, NULL, 0);
	if (rc)
		return rc;
	const char *id = xml_child_text(root, "UploadId");
	if (!id || !*id)
		rc = -EINVAL;
	else if (!(*out = strdup(id)))
		rc = -ENOMEM;
	xml_free(root);
	return rc;
}

void s3_head_reset(struct s3_head *h)
{
	h->etag[0] = h->etag_raw[0] = '\0';
	h->content_length = 0;
	h->range_total = -1;
	h->mtime_ms = 0;
}

/* Plain decimal digits within int64; -1 otherwise. */
static int64_t head_number(const char *s, size_t len)
{
	if (!len || len > 19)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v > INT64_MAX ? -1 : (int64_t)v;
}

/* The ETag as the fingerprint of the object's content. One too long for
 * the field keeps its head and a 64-bit FNV-1a of the whole, so that two
 * long ETags with the same head still differ (a plain cut would make a
 * changed object look unchanged). Its raw form, used only to echo part
 * ETags back, is then absent: a store's part ETags are short. */
static void etag_keep(struct s3_head *h, const char *v, size_t vlen)
{
	if (vlen < sizeof(h->etag_raw)) {
		memcpy(h->etag_raw, v, vlen);
		h->etag_raw[vlen] = '\0';
	} else {
		h->etag_raw[0] = '\0';
	}
	while (vlen && (v[0] == '"' || v[0] == ' ')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '"' || v[vlen - 1] == ' '))
		vlen--;
	if (vlen < sizeof(h->etag)) {
		memcpy(h->etag, v, vlen);
		h->etag[vlen] = '\0';
		return;
	}
	uint64_t fnv = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < vlen; i++)
		fnv = (fnv ^ (unsigned char)v[i]) * 0x100000001b3ull;
	int head = (int)(sizeof(h->etag) - 1 - 17);
	snprintf(h->etag, sizeof(h->etag), "%.*s~%016llx", head, v, (unsigned long long)fnv);
}

void s3_head_line(struct s3_head *h, const char *line, size_t len)
{
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		s3_head_reset(h);
		return;
	}
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return;
	size_t nlen = (size_t)(colon - line);
	const char *v = colon + 1;
	size_t vlen = len - nlen - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' ||
			v[vlen - 1] == '\t'))
		vlen--;
	if (nlen == 4 && strncasecmp(line, "etag", 4) == 0) {
		/* A NUL or control byte cannot be in a field value (RFC 9110):
		 * such an ETag is taken as absent, not cut at the NUL. */
		for (size_t i = 0; i < vlen; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				return;
		etag_keep(h, v, vlen);
	} else if (nlen == 14 && strncasecmp(line, "content-length", 14) == 0) {
		int64_t n = head_number(v, vlen);
		h->content_length = n < 0 ? 0 : (uint64_t)n;
	} else if (nlen == 13 && strncasecmp(line, "content-range", 13) == 0) {
		/* "bytes 0-99/1234" or "bytes * /1234": the total after the last '/'. */
		const char *slash = NULL;
		for (size_t i = 0; i < vlen; i++)
			if (v[i] == '/')
				slash = v + i;
		h->range_total = slash ? head_number(slash + 1, vlen - (size_t)(slash + 1 - v)) : -1;
	} else if (nlen == 13 && strncasecmp(line, "last-modified", 13) == 0) {
		char val[128];
		if (vlen >= sizeof(val))
			return;
		memcpy(val, v, vlen);
		val[vlen] = '\0';
		time_t t = curl_getdate(val, NULL);
		h->mtime_ms = t > 0 && t < INT64_MAX / 1000 ? (int64_t)t * 1000 : 0;
	}
}
