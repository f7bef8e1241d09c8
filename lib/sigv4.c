#include "lib/sigv4.h"

#include "lib/sbuf.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/*
 * SHA-256 fetched once. EVP_sha256() makes OpenSSL 3 look the algorithm up
 * again (locks, reference counts) at every digest init, and an HMAC does
 * three: that was most of the cost of verifying a signed GET in the S3
 * server's loop. Kept for the life of the process.
 */
static EVP_MD *sha256_fetched;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_fetched = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

static const EVP_MD *sha256_md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_fetched ? sha256_fetched : EVP_sha256();
}

/*
 * Per thread, kept for the thread's life: one digest context (EVP_Digest()
 * made and freed a context and the provider's state at every call) and one
 * HMAC context, its digest set once (OpenSSL 3's one-shot HMAC() fetches
 * the HMAC implementation and then the digest by name at every call:
 * method-store locks and reference counts). A verified request uses each
 * once or twice. A thread that ends frees them.
 */
struct crypto_ctx {
	EVP_MD_CTX *md;
	EVP_MAC_CTX *mac;
	/* The key mac was last set up with, when it was SIGV4_KEY_LEN bytes
	 * (a signing key, or a step of deriving one): the next HMAC with the
	 * same key (every signed request of one access key on one day) reuses
	 * its prepared pads instead of hashing them again. */
	bool keyed;
	unsigned char key[SIGV4_KEY_LEN];
};

static EVP_MAC *hmac_fetched;
static pthread_key_t crypto_key;
static bool crypto_key_ok;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void crypto_ctx_free(void *p)
{
	struct crypto_ctx *c = p;
	EVP_MD_CTX_free(c->md);
	EVP_MAC_CTX_free(c->mac);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

static void crypto_init(void)
{
	hmac_fetched = EVP_MAC_fetch(NULL, "HMAC", NULL);
	crypto_key_ok = pthread_key_create(&crypto_key, crypto_ctx_free) == 0;
}

/* This thread's contexts, or NULL (without memory). */
static struct crypto_ctx *crypto_ctx(void)
{
	pthread_once(&crypto_once, crypto_init);
	if (!crypto_key_ok)
		return NULL;
	struct crypto_ctx *c = pthread_getspecific(crypto_key);
	if (!c && (c = calloc(1, sizeof(*c))) && pthread_setspecific(crypto_key, c) != 0) {
		free(c);
		c = NULL;
	}
	return c;
}

/* This thread's digest context, or NULL (then EVP_Digest() does it). */
static EVP_MD_CTX *md_ctx(void)
{
	struct crypto_ctx *c = crypto_ctx();
	if (c && !c->md)
		c->md = EVP_MD_CTX_new();
	return c ? c->md : NULL;
}

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *ctx = md_ctx();
	if (!ctx || EVP_DigestInit_ex2(ctx, sha256_md(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, data, len) != 1 || EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
		if (EVP_Digest(data, len, md, NULL, sha256_md(), NULL) != 1)
			SHA256(data, len, md);
	}
	hex_encode(md, sizeof(md), out);
}

/* s URI-encoded the SigV4 way into dst (room for 3 * strlen(s) + 1);
 * returns the end (past the NUL). */
static char *uri_encode_to(char *dst, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
		    (keep_slash && *p == '/')) {
			*dst++ = (char)*p;
		} else {
			*dst++ = '%';
			*dst++ = hex[*p >> 4];
			*dst++ = hex[*p & 15];
		}
	}
	*dst++ = '\0';
	return dst;
}

int sigv4_uri_encode(const char *s, bool keep_slash, char **out)
{
	if (!(*out = malloc(3 * strlen(s) + 1)))
		return -ENOMEM;
	uri_encode_to(*out, s, keep_slash);
	return 0;
}

struct enc_pair {
	char *name;
	char *value;
};

static int enc_pair_cmp(const void *a, const void *b)
{
	const struct enc_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

/*
 * Appends the canonical query string to sb. No allocation for a query that
 * fits the stack buffer (one otherwise: the pairs and their encoded strings
 * together): this runs for every signed request the S3 server verifies, in
 * its event loops, and glibc takes an arena lock for a calloc, a realloc,
 * or a free past the thread's cache, which the two loops then wait on.
 */
static int canonical_query_into(const struct sigv4_kv *query, size_t nquery, struct sbuf *sb)
{
	if (!nquery)
		return 0;
	size_t room = nquery * sizeof(struct enc_pair);
	for (size_t i = 0; i < nquery; i++)
		room += 3 * (strlen(query[i].name) + strlen(query[i].value ? query[i].value : "")) + 2;
	_Alignas(struct enc_pair) char few[1024]; /* a presigned URL's parameters fit */
	struct enc_pair *pairs = room <= sizeof(few) ? (struct enc_pair *)few : malloc(room);
	if (!pairs)
		return -ENOMEM;
	char *o = (char *)(pairs + nquery);
	for (size_t i = 0; i < nquery; i++) {
		pairs[i].name = o;
		o = uri_encode_to(o, query[i].name, false);
		pairs[i].value = o;
		o = uri_encode_to(o, query[i].value ? query[i].value : "", false);
	}
	qsort(pairs, nquery, sizeof(*pairs), enc_pair_cmp);
	for (size_t i = 0; i < nquery; i++) {
		if (i)
			sbuf_addn(sb, "&", 1);
		sbuf_add(sb, pairs[i].name);
		sbuf_addn(sb, "=", 1);
		sbuf_add(sb, pairs[i].value);
	}
	if (pairs != (struct enc_pair *)few)
		free(pairs);
	return 0;
}

int sigv4_canonical_query(const struct sigv4_kv *query, size_t nquery, char **out)
{
	struct sbuf sb = { 0 };
	int rc = canonical_query_into(query, nquery, &sb);
	if (rc) {
		free(sb.p);
		return rc;
	}
	return sbuf_finish(&sb, out, NULL);
}

struct canon_header {
	char *name;  /* lower-case */
	char *value; /* trimmed, inner whitespace runs collapsed to one space */
	size_t index;
};

static int canon_header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* s lower-cased (ASCII) into dst; returns the end (past the NUL). */
static char *lower_to(char *dst, const char *s)
{
	for (; *s; s++)
		*dst++ = *s >= 'A' && *s <= 'Z' ? (char)(*s + ('a' - 'A')) : *s;
	*dst++ = '\0';
	return dst;
}

/* isspace() of the C locale, without its table lookup per byte. */
static inline bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Python's ' '.join(value.split()) into dst (what botocore and the spec's
 * Trimall do); returns the end (past the NUL). */
static char *trimall_to(char *dst, const char *s)
{
	char *start = dst;
	for (const char *p = s; *p;) {
		while (*p && is_space(*p))
			p++;
		if (!*p)
			break;
		if (dst > start)
			*dst++ = ' ';
		while (*p && !is_space(*p))
			*dst++ = *p++;
	}
	*dst++ = '\0';
	return dst;
}

/* Appends canonical headers ("name:value\n" each) and the signed header
 * list; none or one allocation (canonical_query_into says why). */
static int canon_headers(const struct sigv4_request *req, struct sbuf *canon, struct sbuf *signed_)
{
	size_t room = (req->nheaders ? req->nheaders : 1) * sizeof(struct canon_header);
	for (size_t i = 0; i < req->nheaders; i++)
		room += strlen(req->headers[i].name) +
			strlen(req->headers[i].value ? req->headers[i].value : "") + 2;
	_Alignas(struct canon_header) char few[2048]; /* what SDKs sign fits */
	struct canon_header *hs = room <= sizeof(few) ? (struct canon_header *)few : malloc(room);
	if (!hs)
		return -ENOMEM;
	char *o = (char *)(hs + (req->nheaders ? req->nheaders : 1));
	for (size_t i = 0; i < req->nheaders; i++) {
		hs[i].name = o;
		o = lower_to(o, req->headers[i].name);
		hs[i].value = o;
		o = trimall_to(o, req->headers[i].value ? req->headers[i].value : "");
		hs[i].index = i;
	}
	qsort(hs, req->nheaders, sizeof(*hs), canon_header_cmp);
	for (size_t i = 0; i < req->nheaders; i++) {
		bool cont = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
		if (cont) { /* repeated header: values joined with ',' */
			sbuf_addn(canon, ",", 1);
		} else {
			if (i)
				sbuf_addn(canon, "\n", 1);
			sbuf_add(canon, hs[i].name);
			sbuf_addn(canon, ":", 1);
			if (signed_->len)
				sbuf_addn(signed_, ";", 1);
			sbuf_add(signed_, hs[i].name);
		}
		sbuf_add(canon, hs[i].value);
	}
	sbuf_addn(canon, "\n", 1);
	if (hs != (struct canon_header *)few)
		free(hs);
	return 0;
}

/* The canonical request into sb and the signed header list into sh; either
 * may be left allocated on error (the caller releases both). */
static int canonical_into(const struct sigv4_request *req, struct sbuf *sb, struct sbuf *sh)
{
	int rc;
	if (!req->method || !req->canonical_uri || !req->payload_hash)
		return -EINVAL;
	sbuf_add(sb, req->method);
	sbuf_addn(sb, "\n", 1);
	sbuf_add(sb, *req->canonical_uri ? req->canonical_uri : "/");
	sbuf_addn(sb, "\n", 1);
	if ((rc = canonical_query_into(req->query, req->nquery, sb)))
		return rc;
	sbuf_addn(sb, "\n", 1);
	if ((rc = canon_headers(req, sb, sh)))
		return rc;
	sbuf_addn(sb, "\n", 1);
	sbuf_addn(sb, sh->p ? sh->p : "", sh->p ? sh->len : 0);
	sbuf_addn(sb, "\n", 1);
	sbuf_add(sb, req->payload_hash);
	return sb->oom || sh->oom ? -ENOMEM : 0;
}

int sigv4_canonical_request(const struct sigv4_request *req, char **out)
{
	struct sbuf sb = { 0 }, sh = { 0 };
	int rc = canonical_into(req, &sb, &sh);
	sbuf_release(&sh);
	if (rc) {
		sbuf_release(&sb);
		return rc;
	}
	return sbuf_finish(&sb, out, NULL);
}

/* This thread's contexts with an HMAC context (digest SHA-256) in them, or
 * NULL (then HMAC() does it). */
static struct crypto_ctx *hmac_ctx(void)
{
	struct crypto_ctx *c = crypto_ctx();
	if (!c || !hmac_fetched)
		return NULL;
	if (c->mac)
		return c;
	char digest[] = "SHA2-256";
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", digest, 0),
				OSSL_PARAM_construct_end() };
	c->mac = EVP_MAC_CTX_new(hmac_fetched);
	if (c->mac && EVP_MAC_CTX_set_params(c->mac, params) != 1) {
		EVP_MAC_CTX_free(c->mac);
		c->mac = NULL;
	}
	return c->mac ? c : NULL;
}

/* Sets up c's HMAC for key: with no key again when it is the last one. */
static bool hmac_init(struct crypto_ctx *c, const void *key, size_t keylen)
{
	bool same = keylen == SIGV4_KEY_LEN && c->keyed && CRYPTO_memcmp(c->key, key, keylen) == 0;
	if (same)
		return EVP_MAC_init(c->mac, NULL, 0, NULL) == 1;
	c->keyed = false;
	if (EVP_MAC_init(c->mac, key, keylen, NULL) != 1)
		return false;
	if (keylen == SIGV4_KEY_LEN) {
		memcpy(c->key, key, keylen);
		c->keyed = true;
	}
	return true;
}

static void hmac_sha256(const void *key, size_t keylen, const char *msg, size_t len,
			unsigned char out[SHA256_DIGEST_LENGTH])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t outlen = 0;
	struct crypto_ctx *c = hmac_ctx();
	/* via md: callers pass the key buffer as out */
	if (!c || !hmac_init(c, key, keylen) ||
	    EVP_MAC_update(c->mac, (const unsigned char *)msg, len) != 1 ||
	    EVP_MAC_final(c->mac, md, &outlen, sizeof(md)) != 1 || outlen != sizeof(md)) {
		unsigned int n = SHA256_DIGEST_LENGTH;
		if (c)
			c->keyed = false;
		HMAC(sha256_md(), key, (int)keylen, (const unsigned char *)msg, len, md, &n);
	}
	memcpy(out, md, sizeof(md));
	OPENSSL_cleanse(md, sizeof(md));
}

static bool amz_date_ok(const char *d)
{
	if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return false;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)d[i]))
			return false;
	return true;
}

int sigv4_signing_key(const char *secret_key, const char *date, const char *region,
		      const char *service, unsigned char out[SIGV4_KEY_LEN])
{
	if (!secret_key || !date || strlen(date) != 8 || !region || !service)
		return -EINVAL;
	size_t sklen = strlen(secret_key);
	char *kseed = malloc(sklen + 5);
	if (!kseed)
		return -ENOMEM;
	memcpy(kseed, "AWS4", 4);
	memcpy(kseed + 4, secret_key, sklen + 1);
	hmac_sha256(kseed, sklen + 4, date, 8, out);
	OPENSSL_cleanse(kseed, sklen + 5);
	free(kseed);
	hmac_sha256(out, SIGV4_KEY_LEN, region, strlen(region), out);
	hmac_sha256(out, SIGV4_KEY_LEN, service, strlen(service), out);
	hmac_sha256(out, SIGV4_KEY_LEN, "aws4_request", 12, out);
	return 0;
}

/* Signs string_to_sign with the derived key; the key buffer is wiped. */
static void sign_hex(unsigned char k[SIGV4_KEY_LEN], const struct sbuf *string_to_sign,
		     char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	hmac_sha256(k, SIGV4_KEY_LEN, string_to_sign->p, string_to_sign->len, md);
	OPENSSL_cleanse(k, SIGV4_KEY_LEN);
	hex_encode(md, sizeof(md), out);
	OPENSSL_cleanse(md, sizeof(md));
}

/*
 * Canonical request, then signature; *signed_headers handed out when
 * non-NULL. The strings are built in stack buffers (they move to the heap
 * only when a request is unusually long): this runs per signed GET in the
 * S3 server's event loops.
 */
static int signature_and_signed(const struct sigv4_request *req, const struct sigv4_key *key,
				const unsigned char *derived, const char *amz_date,
				char sig_hex[65], char **signed_headers)
{
	char creq_buf[1024], sh_buf[256], sts_buf[256];
	char date[9], creq_hash[65];
	unsigned char k[SIGV4_KEY_LEN];
	struct sbuf creq, sh, sts;
	int rc;

	if (!amz_date_ok(amz_date) || (!derived && !key->secret_key) || !key->region ||
	    !key->service)
		return -EINVAL;
	sbuf_on(&creq, creq_buf, sizeof(creq_buf));
	sbuf_on(&sh, sh_buf, sizeof(sh_buf));
	sbuf_on(&sts, sts_buf, sizeof(sts_buf));
	if ((rc = canonical_into(req, &creq, &sh)))
		goto out_free;
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	sigv4_sha256_hex(creq.p, creq.len, creq_hash);

	sbuf_addn(&sts, "AWS4-HMAC-SHA256\n", 17);
	sbuf_addn(&sts, amz_date, 16);
	sbuf_addn(&sts, "\n", 1);
	sbuf_addn(&sts, date, 8);
	sbuf_addn(&sts, "/", 1);
	sbuf_add(&sts, key->region);
	sbuf_addn(&sts, "/", 1);
	sbuf_add(&sts, key->service);
	sbuf_addn(&sts, "/aws4_request\n", 14);
	sbuf_addn(&sts, creq_hash, 64);
	if (sts.oom) {
		rc = -ENOMEM;
		goto out_free;
	}
	if (derived)
		memcpy(k, derived, SIGV4_KEY_LEN);
	else if ((rc = sigv4_signing_key(key->secret_key, date, key->region, key->service, k)))
		goto out_free;
	sign_hex(k, &sts, sig_hex);
	if (signed_headers)
		rc = sbuf_finish(&sh, signed_headers, NULL);
out_free:
	sbuf_release(&sts);
	sbuf_release(&creq);
	if (!signed_headers || rc)
		sbuf_release(&sh);
	return rc;
}

int sigv4_signature(const struct sigv4_request *req, const struct sigv4_key *key,
		    const char *amz_date, char out[65])
{
	return signature_and_signed(req, key, NULL, amz_date, out, NULL);
}

int sigv4_signature_derived(const struct sigv4_request *req,
			    const unsigned char signing_key[SIGV4_KEY_LEN], const char *region,
			    const char *service, const char *amz_date, char out[65])
{
	struct sigv4_key key = { NULL, NULL, region, service };
	return signature_and_signed(req, &key, signing_key, amz_date, out, NULL);
}

int sigv4_authorization(const struct sigv4_request *req, const struct sigv4_key *key,
			const char *amz_date, char **out)
{
	char *signed_headers = NULL;
	char sig_hex[65];
	struct sbuf auth = { 0 };
	int rc;

	if (!key->access_key)
		return -EINVAL;
	if ((rc = signature_and_signed(req, key, NULL, amz_date, sig_hex, &signed_headers)))
		return rc;
	sbuf_add(&auth, "AWS4-HMAC-SHA256 Credential=");
	sbuf_add(&auth, key->access_key);
	sbuf_add(&auth, "/");
	sbuf_addn(&auth, amz_date, 8);
	sbuf_add(&auth, "/");
	sbuf_add(&auth, key->region);
	sbuf_add(&auth, "/");
	sbuf_add(&auth, key->service);
	sbuf_add(&auth, "/aws4_request, SignedHeaders=");
	sbuf_add(&auth, signed_headers);
	sbuf_add(&auth, ", Signature=");
	sbuf_add(&auth, sig_hex);
	rc = sbuf_finish(&auth, out, NULL);
	free(signed_headers);
	return rc;
}

int sigv4_chunk_signature(const unsigned char signing_key[SIGV4_KEY_LEN], const char *amz_date,
			  const char *scope, const char *prev_signature, const char *chunk_sha256,
			  char out[65])
{
	char sts_buf[512];
	struct sbuf sts;
	unsigned char k[SIGV4_KEY_LEN];
	sbuf_on(&sts, sts_buf, sizeof(sts_buf));
	sbuf_add(&sts, "AWS4-HMAC-SHA256-PAYLOAD\n");
	sbuf_add(&sts, amz_date);
	sbuf_add(&sts, "\n");
	sbuf_add(&sts, scope);
	sbuf_add(&sts, "\n");
	sbuf_add(&sts, prev_signature);
	sbuf_add(&sts, "\n" SIGV4_EMPTY_SHA256 "\n");
	sbuf_add(&sts, chunk_sha256);
	if (sts.oom) {
		sbuf_release(&sts);
		return -ENOMEM;
	}
	memcpy(k, signing_key, SIGV4_KEY_LEN);
	sign_hex(k, &sts, out);
	sbuf_release(&sts);
	return 0;
}

bool sigv4_equal(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);
	if (alen != blen)
		return false;
	return CRYPTO_memcmp(a, b, alen) == 0;
}
