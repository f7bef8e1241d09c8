/*
 * SigV4 verification (api/s3_auth.h). The canonical request and every
 * HMAC come from lib/sigv4.c; this file only finds the parts of a request
 * a client signed and compares.
 */
#include "api/s3_auth.h"

#include "api/s3_proto.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SIGNED_HEADERS 64

/* src into dst (cap bytes), cut to fit, always terminated: snprintf's "%s"
 * without its formatting machinery (this runs per signed request). */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* 64 lower-case hex digits (no locale lookups: this runs per request). */
static bool is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

/* "AK/DATE/REGION/SERVICE/aws4_request" */
static int parse_credential(const char *s, size_t len, struct s3_auth_header *out)
{
	const char *end = s + len;
	const char *parts[5];
	size_t lens[5];
	int n = 0;
	const char *p = s;
	while (n < 5) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *stop = slash && n < 4 ? slash : end;
		parts[n] = p;
		lens[n] = (size_t)(stop - p);
		n++;
		if (stop == end)
			break;
		p = stop + 1;
	}
	if (n != 5 || lens[0] == 0 || lens[0] >= sizeof(out->access_key) || lens[1] != 8 ||
	    lens[2] == 0 || lens[2] >= sizeof(out->region) || lens[3] == 0 ||
	    lens[3] >= sizeof(out->service) || lens[4] != 12 ||
	    memcmp(parts[4], "aws4_request", 12) != 0)
		return -1;
	for (int i = 0; i < 8; i++)
		if (!isdigit((unsigned char)parts[1][i]))
			return -1;
	memcpy(out->access_key, parts[0], lens[0]);
	out->access_key[lens[0]] = '\0';
	memcpy(out->date, parts[1], 8);
	out->date[8] = '\0';
	memcpy(out->region, parts[2], lens[2]);
	out->region[lens[2]] = '\0';
	memcpy(out->service, parts[3], lens[3]);
	out->service[lens[3]] = '\0';
	return 0;
}

/* "a;b-c;d": lower-case names of [a-z0-9._-] joined by single ';' (one
 * pass: this runs per signed request). */
static bool signed_headers_valid(const char *s)
{
	char prev = ';';
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (c == ';') {
			if (prev == ';')
				return false; /* leading or doubled */
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			     c == '_' || c == '.')) {
			return false;
		}
		prev = c;
	}
	return prev != ';'; /* not empty, no trailing ';' */
}

int s3_auth_parse_header(const char *value, struct s3_auth_header *out, char *err,
			 size_t errlen)
{
	static const char algo[] = "AWS4-HMAC-SHA256";
	bool have_cred = false, have_sh = false, have_sig = false;
	memset(out, 0, sizeof(*out));
	if (strncmp(value, algo, sizeof(algo) - 1) != 0 || value[sizeof(algo) - 1] != ' ') {
		snprintf(err, errlen, "the authorization header must use AWS4-HMAC-SHA256");
		return S3_ERR_AUTH_HEADER_MALFORMED;
	}
	const char *p = value + sizeof(algo);
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, ",");
		size_t trimmed = len;
		while (trimmed && p[trimmed - 1] == ' ')
			trimmed--;
		const char *eq = memchr(p, '=', trimmed);
		if (!eq)
			goto malformed;
		size_t nlen = (size_t)(eq - p), vlen = trimmed - nlen - 1;
		const char *v = eq + 1;
		if (nlen == 10 && !memcmp(p, "Credential", 10) && !have_cred) {
			if (parse_credential(v, vlen, out))
				goto malformed;
			have_cred = true;
		} else if (nlen == 13 && !memcmp(p, "SignedHeaders", 13) && !have_sh) {
			if (vlen == 0 || vlen >= sizeof(out->signed_headers))
				goto malformed;
			memcpy(out->signed_headers, v, vlen);
			out->signed_headers[vlen] = '\0';
			if (!signed_headers_valid(out->signed_headers))
				goto malformed;
			have_sh = true;
		} else if (nlen == 9 && !memcmp(p, "Signature", 9) && !have_sig) {
			if (vlen != 64)
				goto malformed;
			memcpy(out->signature, v, 64);
			out->signature[64] = '\0';
			if (!is_hex64(out->signature))
				goto malformed;
			have_sig = true;
		} else {
			goto malformed;
		}
		p += len;
	}
	if (!have_cred || !have_sh || !have_sig)
		goto malformed;
	return 0;
malformed:
	snprintf(err, errlen,
		 "the authorization header is malformed; expected Credential=AK/DATE/REGION/"
		 "SERVICE/aws4_request, SignedHeaders=..., Signature=<64 hex>");
	return S3_ERR_AUTH_HEADER_MALFORMED;
}

void s3_auth_result_wipe(struct s3_auth_result *r)
{
	OPENSSL_cleanse(r->signing_key, sizeof(r->signing_key));
}

/* Everything verification gathers before it can compute a signature. */
struct verify_ctx {
	const struct s3_auth_input *in;
	struct s3_auth_header hdr;
	char amz_date[17];
	const char *payload_hash;
	struct s3_param *params;
	size_t nparams;
	const char *skip_param; /* "X-Amz-Signature" for presigned URLs */
};

static int compute_and_compare(struct verify_ctx *v, const unsigned char key[SIGV4_KEY_LEN],
			       char *err, size_t errlen)
{
	struct sigv4_kv headers[MAX_SIGNED_HEADERS];
	struct sigv4_kv *query = NULL;
	char names[sizeof(v->hdr.signed_headers)];
	size_t nh = 0, nq = 0;
	char *decoded = NULL, *normalized = NULL;
	char sig[65];
	int rc;

	copy_str(names, sizeof(names), v->hdr.signed_headers);
	bool have_host = false;
	for (char *save = NULL, *name = strtok_r(names, ";", &save); name;
	     name = strtok_r(NULL, ";", &save)) {
		if (nh == MAX_SIGNED_HEADERS) {
			snprintf(err, errlen, "too many signed headers");
			return S3_ERR_AUTH_HEADER_MALFORMED;
		}
		const char *value = v->in->header(v->in->header_arg, name);
		if (!value) {
			snprintf(err, errlen, "signed header '%s' is missing from the request", name);
			return S3_ERR_SIGNATURE_MISMATCH;
		}
		have_host |= !strcmp(name, "host");
		headers[nh++] = (struct sigv4_kv){ name, value };
	}
	if (!have_host) {
		snprintf(err, errlen, "the host header must be signed");
		return S3_ERR_AUTH_HEADER_MALFORMED;
	}
	/* On the stack for the usual few parameters: no allocation per
	 * verified request (sigv4.c's canonical_query_into says why). */
	struct sigv4_kv few[16];
	query = v->nparams <= 16 ? few : malloc(v->nparams * sizeof(*query));
	if (!query)
		return S3_ERR_INTERNAL;
	for (size_t i = 0; i < v->nparams; i++) {
		if (v->skip_param && !strcmp(v->params[i].name, v->skip_param))
			continue;
		query[nq++] = (struct sigv4_kv){ v->params[i].name, v->params[i].value };
	}
	/* The path exactly as sent first (what every SDK signs), then the
	 * decoded path re-encoded the SigV4 way, for clients that put a
	 * differently-escaped path on the wire than they signed. */
	const char *uris[2] = { v->in->raw_path, NULL };
	size_t declen;
	rc = S3_ERR_SIGNATURE_MISMATCH;
	for (int i = 0; i < 2 && uris[i]; i++) {
		struct sigv4_request req = { v->in->method, uris[i],   query,
					     nq,            headers,   nh,
					     v->payload_hash };
		int src = sigv4_signature_derived(&req, key, v->hdr.region, v->hdr.service,
						  v->amz_date, sig);
		if (src) {
			rc = src == -ENOMEM ? S3_ERR_INTERNAL : S3_ERR_AUTH_HEADER_MALFORMED;
			break;
		}
		if (sigv4_equal(sig, v->hdr.signature)) {
			rc = 0;
			break;
		}
		/* (computed only when the path as sent did not verify) */
		if (i == 0 &&
		    s3_url_decode(v->in->raw_path, strlen(v->in->raw_path), &decoded, &declen) == 0 &&
		    strlen(decoded) == declen && sigv4_uri_encode(decoded, true, &normalized) == 0 &&
		    strcmp(normalized, v->in->raw_path) != 0)
			uris[1] = normalized;
	}
	OPENSSL_cleanse(sig, sizeof(sig));
	if (rc == S3_ERR_SIGNATURE_MISMATCH)
		snprintf(err, errlen,
			 "the request signature we calculated does not match the signature you "
			 "provided; check your key and signing method");
	free(decoded);
	free(normalized);
	if (query != few)
		free(query);
	return rc;
}

static const char *param(const struct verify_ctx *v, const char *name)
{
	for (size_t i = 0; i < v->nparams; i++)
		if (!strcmp(v->params[i].name, name))
			return v->params[i].value;
	return NULL;
}

static int header_form(struct verify_ctx *v, const char *auth, char *err, size_t errlen)
{
	int rc;
	if (!strncmp(auth, "AWS ", 4)) {
		snprintf(err, errlen, "signature version 2 is not supported; use SigV4");
		return S3_ERR_ACCESS_DENIED;
	}
	if ((rc = s3_auth_parse_header(auth, &v->hdr, err, errlen)))
		return rc;
	const char *date = v->in->header(v->in->header_arg, "x-amz-date");
	if (date) {
		copy_str(v->amz_date, sizeof(v->amz_date), date);
	} else if ((date = v->in->header(v->in->header_arg, "date"))) {
		int64_t t;
		if (s3_time_parse(date, &t) == 0)
			sigv4_amz_date((time_t)t, v->amz_date);
	}
	if (!date) {
		snprintf(err, errlen, "a signed request needs an x-amz-date or Date header");
		return S3_ERR_ACCESS_DENIED;
	}
	v->payload_hash = v->in->header(v->in->header_arg, "x-amz-content-sha256");
	if (!v->payload_hash) {
		snprintf(err, errlen, "missing required header x-amz-content-sha256");
		return S3_ERR_INVALID_REQUEST;
	}
	return 0;
}

static int presigned_form(struct verify_ctx *v, int64_t *expires, char *err, size_t errlen)
{
	const char *algo = param(v, "X-Amz-Algorithm");
	const char *cred = param(v, "X-Amz-Credential");
	const char *date = param(v, "X-Amz-Date");
	const char *exp = param(v, "X-Amz-Expires");
	const char *sh = param(v, "X-Amz-SignedHeaders");
	const char *sig = param(v, "X-Amz-Signature");
	memset(&v->hdr, 0, sizeof(v->hdr));
	if (!algo || strcmp(algo, "AWS4-HMAC-SHA256") || !cred || !date || !exp || !sh || !sig ||
	    parse_credential(cred, strlen(cred), &v->hdr) || strlen(sh) >= sizeof(v->hdr.signed_headers) ||
	    !signed_headers_valid(sh) || !is_hex64(sig) || strlen(date) >= sizeof(v->amz_date)) {
		snprintf(err, errlen,
			 "a presigned URL needs X-Amz-Algorithm=AWS4-HMAC-SHA256, X-Amz-Credential, "
			 "X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature");
		return S3_ERR_AUTH_HEADER_MALFORMED;
	}
	char *end = NULL;
	long long e = strtoll(exp, &end, 10);
	if (!*exp || *end || e < 1 || e > S3_AUTH_MAX_PRESIGN) {
		snprintf(err, errlen, "X-Amz-Expires must be 1..%d seconds", S3_AUTH_MAX_PRESIGN);
		return S3_ERR_AUTH_HEADER_MALFORMED;
	}
	*expires = e;
	copy_str(v->hdr.signed_headers, sizeof(v->hdr.signed_headers), sh);
	copy_str(v->hdr.signature, sizeof(v->hdr.signature), sig);
	copy_str(v->amz_date, sizeof(v->amz_date), date);
	v->payload_hash = "UNSIGNED-PAYLOAD";
	v->skip_param = "X-Amz-Signature";
	return 0;
}

/* s3_auth_verify's lookup as a signing-key source: derives the key anew. */
struct secret_source {
	s3_auth_lookup_fn lookup;
	void *arg;
};

static int key_from_secret(void *arg, const char *access_key, const char *date,
			   const char *region, const char *service,
			   unsigned char key[SIGV4_KEY_LEN])
{
	struct secret_source *src = arg;
	char secret[S3_AUTH_SECRET_MAX];
	int rc = src->lookup(src->arg, access_key, secret, sizeof(secret));
	if (rc == 0 && sigv4_signing_key(secret, date, region, service, key))
		rc = -ENOMEM;
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}

int s3_auth_verify(const struct s3_auth_input *in, s3_auth_lookup_fn lookup, void *lookup_arg,
		   struct s3_auth_result *out, char *err, size_t errlen)
{
	struct secret_source src = { lookup, lookup_arg };
	return s3_auth_verify_derived(in, key_from_secret, &src, out, err, errlen);
}

/* "DATE/REGION/SERVICE/aws4_request" into out (cap bytes), cut to fit. */
static void scope_of(const struct s3_auth_header *h, char *out, size_t cap)
{
	const char *parts[] = { h->date, "/", h->region, "/", h->service, "/aws4_request" };
	size_t len = 0;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t n = strnlen(parts[i], cap - 1 - len);
		memcpy(out + len, parts[i], n);
		len += n;
	}
	out[len] = '\0';
}

int s3_auth_verify_derived(const struct s3_auth_input *in, s3_auth_signing_key_fn keyfn,
			   void *key_arg, struct s3_auth_result *out, char *err, size_t errlen)
{
	struct verify_ctx v = { .in = in };
	unsigned char key[SIGV4_KEY_LEN];
	int64_t t, expires = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (s3_parse_query(in->raw_query, &v.params, &v.nparams)) {
		snprintf(err, errlen, "cannot parse the query string");
		return S3_ERR_INVALID_ARGUMENT;
	}
	const char *auth = in->header(in->header_arg, "authorization");
	bool presigned = !auth && param(&v, "X-Amz-Signature");
	if (!auth && !presigned) {
		snprintf(err, errlen, "this gateway requires signed requests (SigV4)");
		rc = S3_ERR_ACCESS_DENIED;
		goto out;
	}
	if ((rc = presigned ? presigned_form(&v, &expires, err, errlen)
			    : header_form(&v, auth, err, errlen)))
		goto out;
	if (s3_time_parse(v.amz_date, &t) || strlen(v.amz_date) != 16) {
		snprintf(err, errlen, "x-amz-date must be YYYYMMDDTHHMMSSZ");
		rc = S3_ERR_ACCESS_DENIED;
		goto out;
	}
	if (strncmp(v.amz_date, v.hdr.date, 8) != 0 || strcmp(v.hdr.service, "s3") != 0) {
		snprintf(err, errlen, "credential scope must be %.8s/<region>/s3/aws4_request",
			 v.amz_date);
		rc = S3_ERR_AUTH_HEADER_MALFORMED;
		goto out;
	}
	if (presigned) {
		if (in->now > t + expires) {
			snprintf(err, errlen, "request has expired");
			rc = S3_ERR_ACCESS_DENIED;
			goto out;
		}
		if (t > in->now + S3_AUTH_MAX_SKEW) {
			snprintf(err, errlen, "request is not valid yet (X-Amz-Date in the future)");
			rc = S3_ERR_ACCESS_DENIED;
			goto out;
		}
	} else if (t > in->now + S3_AUTH_MAX_SKEW || t < in->now - S3_AUTH_MAX_SKEW) {
		snprintf(err, errlen, "request time %s is more than %d s from the server's",
			 v.amz_date, S3_AUTH_MAX_SKEW);
		rc = S3_ERR_TIME_SKEWED;
		goto out;
	}
	if (!strcmp(v.payload_hash, "UNSIGNED-PAYLOAD")) {
		out->payload = S3_PAYLOAD_UNSIGNED;
	} else if (!strcmp(v.payload_hash, S3_AUTH_STREAMING)) {
		out->payload = S3_PAYLOAD_STREAMING;
	} else if (!strcmp(v.payload_hash, S3_AUTH_STREAMING_UNSIGNED)) {
		out->payload = S3_PAYLOAD_STREAMING_UNSIGNED;
	} else if (is_hex64(v.payload_hash)) {
		out->payload = S3_PAYLOAD_SHA256;
		memcpy(out->payload_sha256, v.payload_hash, 65);
	} else {
		snprintf(err, errlen, "x-amz-content-sha256 must be a hex SHA-256, "
				      "UNSIGNED-PAYLOAD or " S3_AUTH_STREAMING);
		rc = S3_ERR_INVALID_ARGUMENT;
		goto out;
	}
	int lrc = keyfn(key_arg, v.hdr.access_key, v.hdr.date, v.hdr.region, v.hdr.service, key);
	if (lrc) {
		snprintf(err, errlen, "access key '%.64s' is not known", v.hdr.access_key);
		rc = lrc == -ENOENT ? S3_ERR_INVALID_ACCESS_KEY : S3_ERR_INTERNAL;
		goto out_wipe;
	}
	if ((rc = compute_and_compare(&v, key, err, errlen)))
		goto out_wipe;
	out->mode = presigned ? S3_AUTH_PRESIGNED : S3_AUTH_HEADER;
	copy_str(out->access_key, sizeof(out->access_key), v.hdr.access_key);
	memcpy(out->amz_date, v.amz_date, sizeof(out->amz_date));
	scope_of(&v.hdr, out->scope, sizeof(out->scope));
	memcpy(out->seed_signature, v.hdr.signature, sizeof(out->seed_signature));
	memcpy(out->signing_key, key, sizeof(key));
out_wipe:
	OPENSSL_cleanse(key, sizeof(key));
out:
	s3_params_free(v.params, v.nparams);
	return rc;
}

/* ---- aws-chunked ---- */

enum chunk_state { CH_HEADER, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_DONE };

int s3_auth_chunked_init(struct s3_auth_chunked *d, const struct s3_auth_result *auth)
{
	memset(d, 0, sizeof(*d));
	d->verify = auth && auth->payload == S3_PAYLOAD_STREAMING;
	d->state = CH_HEADER;
	if (d->verify) {
		memcpy(d->prev_sig, auth->seed_signature, sizeof(d->prev_sig));
		memcpy(d->amz_date, auth->amz_date, sizeof(d->amz_date));
		memcpy(d->scope, auth->scope, sizeof(d->scope));
		memcpy(d->key, auth->signing_key, sizeof(d->key));
		d->sha = EVP_MD_CTX_new();
		if (!d->sha)
			return -ENOMEM;
	}
	return 0;
}

void s3_auth_chunked_free(struct s3_auth_chunked *d)
{
	EVP_MD_CTX_free(d->sha);
	d->sha = NULL;
	OPENSSL_cleanse(d->key, sizeof(d->key));
}

static int chunk_verify(struct s3_auth_chunked *d)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char hash[65], sig[65];
	if (!d->verify)
		return 0;
	if (EVP_DigestFinal_ex(d->sha, md, &mdlen) != 1 || mdlen != 32)
		return S3_ERR_INTERNAL;
	for (int i = 0; i < 32; i++)
		snprintf(hash + 2 * i, 3, "%02x", md[i]);
	if (sigv4_chunk_signature(d->key, d->amz_date, d->scope, d->prev_sig, hash, sig))
		return S3_ERR_INTERNAL;
	if (!sigv4_equal(sig, d->chunk_sig))
		return S3_ERR_SIGNATURE_MISMATCH;
	memcpy(d->prev_sig, sig, sizeof(sig));
	return 0;
}

/* A complete chunk header line (without CRLF) in d->line. */
static int chunk_header(struct s3_auth_chunked *d)
{
	uint64_t size = 0;
	size_t i = 0;
	while (i < d->linelen && isxdigit((unsigned char)d->line[i])) {
		if (i == 16)
			return S3_ERR_INCOMPLETE_BODY;
		char c = d->line[i];
		size = size << 4 | (uint64_t)(isdigit((unsigned char)c) ? c - '0'
								       : (tolower(c) - 'a' + 10));
		i++;
	}
	if (i == 0)
		return S3_ERR_INCOMPLETE_BODY;
	const char *ext = d->line + i;
	if (d->verify) {
		static const char tag[] = ";chunk-signature=";
		if (strncmp(ext, tag, sizeof(tag) - 1) != 0 ||
		    d->linelen - i != sizeof(tag) - 1 + 64)
			return S3_ERR_INCOMPLETE_BODY;
		memcpy(d->chunk_sig, ext + sizeof(tag) - 1, 64);
		d->chunk_sig[64] = '\0';
		if (EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) != 1)
			return S3_ERR_INTERNAL;
	} else if (*ext && *ext != ';') {
		return S3_ERR_INCOMPLETE_BODY;
	}
	d->remaining = size;
	if (size == 0) {
		int rc = chunk_verify(d);
		if (rc)
			return rc;
		d->last = true;
		d->state = CH_TRAILER; /* signed: just the final empty line */
	} else {
		d->state = CH_DATA;
	}
	return 0;
}

int s3_auth_chunked_feed(struct s3_auth_chunked *d, const void *data, size_t len,
			 s3_auth_sink_fn sink, void *sink_arg)
{
	const char *p = data, *end = p + len;
	int rc;
	while (p < end) {
		switch (d->state) {
		case CH_HEADER:
		case CH_TRAILER: {
			char c = *p++;
			if (c == '\n') {
				if (!d->linelen || d->line[d->linelen - 1] != '\r')
					return S3_ERR_INCOMPLETE_BODY;
				d->linelen--;
				d->line[d->linelen] = '\0';
				if (d->state == CH_HEADER) {
					if ((rc = chunk_header(d)))
						return rc;
				} else if (d->linelen == 0) {
					d->state = CH_DONE;
				} else if (d->verify) {
					return S3_ERR_INCOMPLETE_BODY; /* signed trailers: no */
				}
				d->linelen = 0;
				break;
			}
			if (d->linelen + 1 >= sizeof(d->line) || c == '\0')
				return S3_ERR_INCOMPLETE_BODY;
			d->line[d->linelen++] = c;
			break;
		}
		case CH_DATA: {
			size_t n = (size_t)(end - p);
			if (n > d->remaining)
				n = (size_t)d->remaining;
			if (d->verify && EVP_DigestUpdate(d->sha, p, n) != 1)
				return S3_ERR_INTERNAL;
			if ((rc = sink(sink_arg, p, n)))
				return rc;
			d->decoded += n;
			d->remaining -= n;
			p += n;
			if (!d->remaining)
				d->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (*p++ != '\r')
				return S3_ERR_INCOMPLETE_BODY;
			d->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (*p++ != '\n')
				return S3_ERR_INCOMPLETE_BODY;
			if ((rc = chunk_verify(d)))
				return rc;
			d->state = CH_HEADER;
			break;
		default: /* CH_DONE: nothing may follow */
			return S3_ERR_INCOMPLETE_BODY;
		}
	}
	return 0;
}

int s3_auth_chunked_finish(const struct s3_auth_chunked *d)
{
	return d->state == CH_DONE ? 0 : S3_ERR_INCOMPLETE_BODY;
}
