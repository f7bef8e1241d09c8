/*
 * api/s3_auth: SigV4 verification against real signatures. botocore signs
 * a batch of requests at test time (tests/unit/s3_sign_oracle.py with
 * Debian's /usr/bin/python3): header-signed GET/PUT, UNSIGNED-PAYLOAD,
 * presigned GET and a streaming aws-chunked PUT. Each must verify, and
 * every tampering must be refused. A missing python3-boto3 fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "api/s3_auth.h"
#include "api/s3_proto.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef STRATA_SOURCE_DIR
#error "STRATA_SOURCE_DIR must be defined by tests/unit/s3.cmake"
#endif
#define ORACLE STRATA_SOURCE_DIR "/tests/unit/s3_sign_oracle.py"
#define T0 1700000000LL
#define AK "AKIDSTRATATEST"
#define SK "s3cr3t/with+chars="

enum { C_GET_LIST, C_PUT, C_UNSIGNED, C_PRESIGN, C_STREAM, C_GET_ODD, NCASES };

static const char *g_case_json[NCASES] = {
	[C_GET_LIST] = "{\"mode\":\"header\",\"method\":\"GET\",\"host\":\"127.0.0.1:39999\","
		       "\"key\":\"bkt\",\"query\":[[\"list-type\",\"2\"],[\"prefix\","
		       "\"dir with space/\\u00fc+%/\"],[\"delimiter\",\"/\"],"
		       "[\"continuation-token\",\"abc+/==\"],[\"encoding-type\",\"url\"]]}",
	[C_PUT] = "{\"mode\":\"header\",\"method\":\"PUT\",\"host\":\"127.0.0.1:39999\","
		  "\"key\":\"bkt/some dir/\\u65e5\\u672c+plus%.txt\",\"headers\":[[\"Content-Type\","
		  "\"text/plain\"],[\"x-amz-meta-note\",\"  a   b  \"]],\"body_hex\":"
		  "\"68656c6c6f2c207061796c6f6164\"}",
	[C_UNSIGNED] = "{\"mode\":\"unsigned\",\"method\":\"PUT\",\"host\":\"localhost\","
		       "\"key\":\"bkt/u\",\"body_hex\":\"00ff00\"}",
	[C_PRESIGN] = "{\"mode\":\"presign\",\"method\":\"GET\",\"host\":\"127.0.0.1:39999\","
		      "\"key\":\"bkt/pre signed~x\",\"expires\":300,\"query\":"
		      "[[\"response-content-type\",\"text/plain\"]]}",
	[C_STREAM] = "{\"mode\":\"streaming\",\"method\":\"PUT\",\"host\":\"127.0.0.1:39999\","
		     "\"key\":\"bkt/stream\",\"chunk_size\":7,\"body_hex\":"
		     "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"}",
	[C_GET_ODD] = "{\"mode\":\"header\",\"method\":\"GET\",\"host\":\"h\",\"key\":"
		      "\"bkt/a!b'c(d)*e@f=g;h,i$j&k\",\"headers\":[[\"Range\",\"bytes=0-9\"]]}",
};

struct wire {
	char *method, *path, *query;
	size_t nheaders;
	char *hname[16], *hvalue[16];
	unsigned char *body;
	size_t body_len;
};

static struct wire g_wire[NCASES];

static const char *get_header(void *arg, const char *name)
{
	const struct wire *w = arg;
	for (size_t i = 0; i < w->nheaders; i++)
		if (!strcasecmp(w->hname[i], name))
			return w->hvalue[i];
	return NULL;
}

static int lookup(void *arg, const char *access_key, char *secret, size_t len)
{
	const char *want = arg ? arg : SK;
	if (strcmp(access_key, AK) != 0)
		return -ENOENT;
	snprintf(secret, len, "%s", want);
	return 0;
}

static int verify(const struct wire *w, int64_t now, const char *secret,
		  struct s3_auth_result *res)
{
	char err[256] = "";
	struct s3_auth_input in = { w->method, w->path, w->query, get_header, (void *)w, now };
	int rc = s3_auth_verify(&in, lookup, (void *)secret, res, err, sizeof(err));
	assert_null(strstr(err, SK)); /* a secret never reaches a message */
	return rc;
}

static char *dup_json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	assert_true(cJSON_IsString(v));
	return strdup(v->valuestring);
}

static void parse_wire(const char *line, struct wire *w)
{
	cJSON *o = cJSON_Parse(line);
	assert_non_null(o);
	w->method = dup_json_str(o, "method");
	w->path = dup_json_str(o, "path");
	w->query = dup_json_str(o, "query");
	const cJSON *hs = cJSON_GetObjectItemCaseSensitive(o, "headers");
	const cJSON *h;
	cJSON_ArrayForEach(h, hs)
	{
		assert_true(w->nheaders < 16);
		w->hname[w->nheaders] = strdup(cJSON_GetArrayItem(h, 0)->valuestring);
		w->hvalue[w->nheaders] = strdup(cJSON_GetArrayItem(h, 1)->valuestring);
		w->nheaders++;
	}
	char *hex = dup_json_str(o, "body_hex");
	w->body_len = strlen(hex) / 2;
	w->body = malloc(w->body_len + 1);
	for (size_t i = 0; i < w->body_len; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		w->body[i] = (unsigned char)v;
	}
	free(hex);
	cJSON_Delete(o);
}

static void wire_free(struct wire *w)
{
	free(w->method);
	free(w->path);
	free(w->query);
	for (size_t i = 0; i < w->nheaders; i++) {
		free(w->hname[i]);
		free(w->hvalue[i]);
	}
	free(w->body);
	memset(w, 0, sizeof(*w));
}

static struct wire wire_copy(const struct wire *w)
{
	struct wire c = { .method = strdup(w->method), .path = strdup(w->path),
			  .query = strdup(w->query), .nheaders = w->nheaders };
	for (size_t i = 0; i < w->nheaders; i++) {
		c.hname[i] = strdup(w->hname[i]);
		c.hvalue[i] = strdup(w->hvalue[i]);
	}
	c.body = malloc(w->body_len + 1);
	memcpy(c.body, w->body, w->body_len);
	c.body_len = w->body_len;
	return c;
}

static void set_field(char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
}

static void set_header(struct wire *w, const char *name, const char *value)
{
	for (size_t i = 0; i < w->nheaders; i++)
		if (!strcasecmp(w->hname[i], name)) {
			set_field(&w->hvalue[i], value);
			return;
		}
	w->hname[w->nheaders] = strdup(name);
	w->hvalue[w->nheaders++] = strdup(value);
}

static int setup(void **state)
{
	if (access(STRATA_PYTHON, X_OK) != 0) {
		fprintf(stderr, "%s missing: install python3-boto3 (the SigV4 oracle)\n",
			STRATA_PYTHON);
		return -1;
	}
	char in_path[] = "/tmp/strata-s3auth-XXXXXX";
	int fd = mkstemp(in_path);
	assert_true(fd >= 0);
	FILE *in = fdopen(fd, "w");
	for (int i = 0; i < NCASES; i++) {
		cJSON *o = cJSON_Parse(g_case_json[i]);
		assert_non_null(o);
		cJSON_AddNumberToObject(o, "time", (double)T0);
		cJSON_AddStringToObject(o, "region", "us-east-1");
		cJSON_AddStringToObject(o, "access_key", AK);
		cJSON_AddStringToObject(o, "secret_key", SK);
		if (!cJSON_GetObjectItem(o, "body_hex"))
			cJSON_AddStringToObject(o, "body_hex", "");
		char *s = cJSON_PrintUnformatted(o);
		fprintf(in, "%s\n", s);
		free(s);
		cJSON_Delete(o);
	}
	fclose(in);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s %s < %s", STRATA_PYTHON, ORACLE, in_path);
	FILE *out = popen(cmd, "r");
	static char line[65536];
	int got = 0;
	while (out && got < NCASES && fgets(line, sizeof(line), out))
		parse_wire(line, &g_wire[got++]);
	int status = out ? pclose(out) : -1;
	unlink(in_path);
	if (status != 0 || got != NCASES) {
		fprintf(stderr, "oracle %s failed (status %d, %d of %d answers)\n", ORACLE, status,
			got, NCASES);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	for (int i = 0; i < NCASES; i++)
		wire_free(&g_wire[i]);
	return 0;
}

static void test_accepts_botocore(void **state)
{
	struct s3_auth_result res;
	for (int i = 0; i < NCASES; i++) {
		int rc = verify(&g_wire[i], T0 + 5, NULL, &res);
		if (rc)
			fail_msg("case %d (%s %s?%s) rc %d", i, g_wire[i].method, g_wire[i].path,
				 g_wire[i].query, rc);
		assert_string_equal(res.access_key, AK);
		s3_auth_result_wipe(&res);
	}
	assert_int_equal(verify(&g_wire[C_PUT], T0, NULL, &res), 0);
	assert_int_equal(res.mode, S3_AUTH_HEADER);
	assert_int_equal(res.payload, S3_PAYLOAD_SHA256);
	char hash[65];
	sigv4_sha256_hex(g_wire[C_PUT].body, g_wire[C_PUT].body_len, hash);
	assert_string_equal(res.payload_sha256, hash);
	assert_int_equal(verify(&g_wire[C_UNSIGNED], T0, NULL, &res), 0);
	assert_int_equal(res.payload, S3_PAYLOAD_UNSIGNED);
	assert_int_equal(verify(&g_wire[C_PRESIGN], T0 + 299, NULL, &res), 0);
	assert_int_equal(res.mode, S3_AUTH_PRESIGNED);
	assert_int_equal(verify(&g_wire[C_STREAM], T0, NULL, &res), 0);
	assert_int_equal(res.payload, S3_PAYLOAD_STREAMING);
}

/* Applies one tampering to a copy of case c and expects rc. */
static void expect_tamper(int c, const char *what, void (*fn)(struct wire *), int64_t now,
			  const char *secret, int rc)
{
	struct wire w = wire_copy(&g_wire[c]);
	struct s3_auth_result res;
	if (fn)
		fn(&w);
	int got = verify(&w, now, secret, &res);
	if (got != rc)
		fail_msg("case %d, %s: rc %d, want %d", c, what, got, rc);
	wire_free(&w);
}

static void t_method(struct wire *w) { set_field(&w->method, "DELETE"); }
static void t_path(struct wire *w) { set_field(&w->path, "/bkt/other"); }
static void t_path_case(struct wire *w) { w->path[1] = 'B'; }
static void t_query_add(struct wire *w) { set_field(&w->query, "list-type=2&prefix=x"); }
static void t_query_more(struct wire *w)
{
	char *q = malloc(strlen(w->query) + 8);
	sprintf(q, "%s&x=1", w->query);
	free(w->query);
	w->query = q;
}
static void t_header(struct wire *w) { set_header(w, "Content-Type", "text/html"); }
static void t_header_range(struct wire *w) { set_header(w, "Range", "bytes=0-10"); }
static void t_payload(struct wire *w)
{
	set_header(w, "X-Amz-Content-SHA256",
		   "0000000000000000000000000000000000000000000000000000000000000000");
}
static void t_unsigned_to_signed(struct wire *w) { set_header(w, "X-Amz-Content-SHA256", SIGV4_EMPTY_SHA256); }
static void t_date(struct wire *w) { set_header(w, "X-Amz-Date", "20231114T221321Z"); }
static void t_host(struct wire *w) { set_header(w, "Host", "evil:1"); }
static void t_drop_auth(struct wire *w) { set_header(w, "Authorization", ""); }
static void t_sig_flip(struct wire *w)
{
	for (size_t i = 0; i < w->nheaders; i++)
		if (!strcasecmp(w->hname[i], "Authorization")) {
			char *s = w->hvalue[i] + strlen(w->hvalue[i]) - 1;
			*s = *s == '0' ? '1' : '0';
		}
}
static void t_key(struct wire *w)
{
	for (size_t i = 0; i < w->nheaders; i++)
		if (!strcasecmp(w->hname[i], "Authorization")) {
			char *p = strstr(w->hvalue[i], AK);
			p[0] = 'Z';
		}
}
static void t_malformed(struct wire *w)
{
	for (size_t i = 0; i < w->nheaders; i++)
		if (!strcasecmp(w->hname[i], "Authorization")) {
			char *p = strstr(w->hvalue[i], "SignedHeaders");
			memcpy(p, "SignedHeaderz", 13);
		}
}
static void t_v2(struct wire *w) { set_header(w, "Authorization", "AWS AK:abcdef"); }
static void t_presign_query(struct wire *w)
{
	char *p = strstr(w->query, "response-content-type=text");
	p[22] = 'T';
}
static void t_presign_path(struct wire *w) { set_field(&w->path, "/bkt/pre%20signed~y"); }
static void t_presign_expires(struct wire *w)
{
	char *p = strstr(w->query, "X-Amz-Expires=300");
	p[14] = '9';
}

static void test_rejects_tampering(void **state)
{
	const int64_t now = T0 + 60;
	const int mismatch = S3_ERR_SIGNATURE_MISMATCH;
	expect_tamper(C_GET_LIST, "method", t_method, now, NULL, mismatch);
	expect_tamper(C_GET_LIST, "path", t_path, now, NULL, mismatch);
	expect_tamper(C_GET_LIST, "path case", t_path_case, now, NULL, mismatch);
	expect_tamper(C_GET_LIST, "query replaced", t_query_add, now, NULL, mismatch);
	expect_tamper(C_GET_LIST, "query param added", t_query_more, now, NULL, mismatch);
	expect_tamper(C_GET_LIST, "x-amz-date", t_date, now, NULL, mismatch);
	expect_tamper(C_GET_LIST, "host", t_host, now, NULL, mismatch);
	expect_tamper(C_GET_LIST, "signature bit", t_sig_flip, now, NULL, mismatch);
	expect_tamper(C_GET_LIST, "wrong secret", NULL, now, "wrong-secret", mismatch);
	expect_tamper(C_GET_LIST, "unknown key", t_key, now, NULL, S3_ERR_INVALID_ACCESS_KEY);
	expect_tamper(C_GET_LIST, "malformed header", t_malformed, now, NULL,
		      S3_ERR_AUTH_HEADER_MALFORMED);
	expect_tamper(C_GET_LIST, "empty Authorization", t_drop_auth, now, NULL,
		      S3_ERR_AUTH_HEADER_MALFORMED);
	expect_tamper(C_GET_LIST, "sigv2", t_v2, now, NULL, S3_ERR_ACCESS_DENIED);
	expect_tamper(C_GET_LIST, "skew +16min", NULL, T0 + 16 * 60, NULL, S3_ERR_TIME_SKEWED);
	expect_tamper(C_GET_LIST, "skew -16min", NULL, T0 - 16 * 60, NULL, S3_ERR_TIME_SKEWED);
	expect_tamper(C_GET_LIST, "skew 14min is fine", NULL, T0 + 14 * 60, NULL, 0);
	expect_tamper(C_PUT, "signed content-type", t_header, now, NULL, mismatch);
	expect_tamper(C_PUT, "payload hash", t_payload, now, NULL, mismatch);
	expect_tamper(C_UNSIGNED, "unsigned made signed", t_unsigned_to_signed, now, NULL,
		      mismatch);
	expect_tamper(C_GET_ODD, "signed range", t_header_range, now, NULL, mismatch);
	expect_tamper(C_STREAM, "streaming seed: payload mode", t_payload, now, NULL, mismatch);
	expect_tamper(C_PRESIGN, "presign query", t_presign_query, now, NULL, mismatch);
	expect_tamper(C_PRESIGN, "presign path", t_presign_path, now, NULL, mismatch);
	expect_tamper(C_PRESIGN, "presign expires", t_presign_expires, now, NULL, mismatch);
	expect_tamper(C_PRESIGN, "presign wrong secret", NULL, now, "x", mismatch);
	expect_tamper(C_PRESIGN, "presign expired", NULL, T0 + 301, NULL, S3_ERR_ACCESS_DENIED);
	expect_tamper(C_PRESIGN, "presign from the future", NULL, T0 - 3600, NULL,
		      S3_ERR_ACCESS_DENIED);
	expect_tamper(C_PRESIGN, "presign at its last second", NULL, T0 + 300, NULL, 0);

	/* no credentials at all */
	struct wire anon = { .method = strdup("GET"), .path = strdup("/bkt/k"), .query = strdup("") };
	struct s3_auth_result res;
	assert_int_equal(verify(&anon, T0, NULL, &res), S3_ERR_ACCESS_DENIED);
	wire_free(&anon);
}

struct collect {
	unsigned char buf[256];
	size_t len;
};

static int collect_sink(void *arg, const void *data, size_t len)
{
	struct collect *c = arg;
	assert_true(c->len + len <= sizeof(c->buf));
	memcpy(c->buf + c->len, data, len);
	c->len += len;
	return 0;
}

/* Feeds body in pieces of step bytes; returns the first error or finish. */
static int decode_body(const struct s3_auth_result *res, const unsigned char *body, size_t len,
		       size_t step, struct collect *out)
{
	struct s3_auth_chunked d;
	assert_int_equal(s3_auth_chunked_init(&d, res), 0);
	int rc = 0;
	for (size_t off = 0; off < len && !rc; off += step)
		rc = s3_auth_chunked_feed(&d, body + off, len - off < step ? len - off : step,
					  collect_sink, out);
	if (!rc)
		rc = s3_auth_chunked_finish(&d);
	s3_auth_chunked_free(&d);
	return rc;
}

static void test_streaming_chunks(void **state)
{
	struct wire *w = &g_wire[C_STREAM];
	struct s3_auth_result res;
	assert_int_equal(verify(w, T0, NULL, &res), 0);
	static const size_t steps[] = { 1, 2, 7, 64, 100000 };
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		struct collect out = { .len = 0 };
		int rc = decode_body(&res, w->body, w->body_len, steps[s], &out);
		if (rc)
			fail_msg("step %zu: rc %d", steps[s], rc);
		assert_int_equal(out.len, 32);
		for (int i = 0; i < 32; i++)
			assert_int_equal(out.buf[i], i);
	}
	/* Tampering: every single byte of data, framing or signature. */
	unsigned char *copy = malloc(w->body_len);
	for (size_t i = 0; i < w->body_len; i++) {
		memcpy(copy, w->body, w->body_len);
		copy[i] ^= 0x01;
		struct collect out = { .len = 0 };
		if (decode_body(&res, copy, w->body_len, 5, &out) == 0)
			fail_msg("flipping byte %zu of the aws-chunked body went unnoticed", i);
	}
	/* Truncated anywhere: never a clean finish. */
	for (size_t cut = 0; cut < w->body_len; cut++) {
		struct collect out = { .len = 0 };
		if (decode_body(&res, w->body, cut, 3, &out) == 0)
			fail_msg("a body cut at %zu went unnoticed", cut);
	}
	/* Trailing junk after the final chunk. */
	memcpy(copy, w->body, w->body_len);
	struct collect out = { .len = 0 };
	struct s3_auth_chunked d;
	assert_int_equal(s3_auth_chunked_init(&d, &res), 0);
	assert_int_equal(s3_auth_chunked_feed(&d, copy, w->body_len, collect_sink, &out), 0);
	assert_int_equal(s3_auth_chunked_feed(&d, "x", 1, collect_sink, &out),
			 S3_ERR_INCOMPLETE_BODY);
	s3_auth_chunked_free(&d);
	/* Another secret: the seed verifies nothing. */
	struct s3_auth_result other;
	assert_int_equal(verify(w, T0, "wrong", &other), S3_ERR_SIGNATURE_MISMATCH);
	/* A different seed signature chains differently. */
	struct s3_auth_result forged = res;
	forged.seed_signature[0] = forged.seed_signature[0] == 'a' ? 'b' : 'a';
	out.len = 0;
	assert_int_equal(decode_body(&forged, w->body, w->body_len, 64, &out),
			 S3_ERR_SIGNATURE_MISMATCH);
	free(copy);
	s3_auth_result_wipe(&res);

	/* Unsigned framing (STREAMING-UNSIGNED-PAYLOAD-TRAILER) with a trailer. */
	const char *unsigned_body = "5\r\nhello\r\n3;ext=1\r\n, w\r\n0\r\n"
				    "x-amz-checksum-crc32:AAAAAA==\r\n\r\n";
	out.len = 0;
	assert_int_equal(decode_body(NULL, (const unsigned char *)unsigned_body,
				     strlen(unsigned_body), 4, &out),
			 0);
	assert_int_equal(out.len, 8);
	assert_memory_equal(out.buf, "hello, w", 8);
	const char *bad[] = { "5\r\nhell\r\n0\r\n\r\n", "x\r\n", "5\nhello\r\n",
			      "11111111111111111\r\n", NULL };
	for (int i = 0; bad[i]; i++) {
		out.len = 0;
		assert_int_not_equal(decode_body(NULL, (const unsigned char *)bad[i],
						 strlen(bad[i]), 3, &out),
				     0);
	}
}

static void test_parse_header(void **state)
{
	struct s3_auth_header h;
	char err[256];
	assert_int_equal(s3_auth_parse_header("AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/"
					      "s3/aws4_request,SignedHeaders=host;x-amz-date,"
					      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170"
					      "aba48dd91039c6036bdb41",
					      &h, err, sizeof(err)),
			 0);
	assert_string_equal(h.access_key, "AK");
	assert_string_equal(h.date, "20130524");
	assert_string_equal(h.region, "us-east-1");
	assert_string_equal(h.service, "s3");
	assert_string_equal(h.signed_headers, "host;x-amz-date");
	const char *bad[] = {
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request",
		"AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, "
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_requesx, SignedHeaders=host, "
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host, "
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb4",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
		"Signature=F0E8BDB87C964420E857BD35B5D6ED310BD44F0170ABA48DD91039C6036BDB41",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41, X=1",
		"AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=;, "
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		NULL,
	};
	for (int i = 0; bad[i]; i++)
		if (s3_auth_parse_header(bad[i], &h, err, sizeof(err)) !=
		    S3_ERR_AUTH_HEADER_MALFORMED)
			fail_msg("accepted malformed header %d: %s", i, bad[i]);
	/* The signed header list, alone: refused and accepted shapes. */
	static const char *const lists[][2] = {
		{ ";host", "bad" },	   { "host;", "bad" },	     { "host;;x-amz-date", "bad" },
		{ "host;X-amz-date", "bad" }, { "host;x amz", "bad" },  { "host;x:amz", "bad" },
		{ "host", "ok" },	   { "a;b", "ok" },	     { "host;x-amz-date;x_y.z9", "ok" },
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		char hv[512];
		snprintf(hv, sizeof(hv),
			 "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, "
			 "SignedHeaders=%s, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48d"
			 "d91039c6036bdb41",
			 lists[i][0]);
		int want = !strcmp(lists[i][1], "ok") ? 0 : S3_ERR_AUTH_HEADER_MALFORMED;
		if (s3_auth_parse_header(hv, &h, err, sizeof(err)) != want)
			fail_msg("SignedHeaders=%s: expected %s", lists[i][0], lists[i][1]);
	}
}

/* AWS's documented streaming example (S3 docs, "Signature Calculations for
 * the Authorization Header: Transferring Payload in Multiple Chunks"):
 * 66560 bytes of 'a' in 64 KiB chunks. */
static void test_aws_chunk_vector(void **state)
{
	const char *date = "20130524T000000Z";
	struct sigv4_kv h[] = {
		{ "Host", "s3.amazonaws.com" },
		{ "x-amz-date", date },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
		{ "Content-Encoding", "aws-chunked" },
		{ "Content-Length", "66824" },
		{ "x-amz-content-sha256", S3_AUTH_STREAMING },
		{ "x-amz-decoded-content-length", "66560" },
	};
	struct sigv4_request req = { "PUT", "/examplebucket/chunkObject.txt", NULL, 0, h, 7,
				     S3_AUTH_STREAMING };
	struct sigv4_key key = { "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
				 "us-east-1", "s3" };
	char seed[65], sig[65], hash[65];
	assert_int_equal(sigv4_signature(&req, &key, date, seed), 0);
	assert_string_equal(seed, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
	unsigned char k[SIGV4_KEY_LEN];
	assert_int_equal(sigv4_signing_key(key.secret_key, "20130524", "us-east-1", "s3", k), 0);
	char *data = malloc(65536);
	memset(data, 'a', 65536);
	sigv4_sha256_hex(data, 65536, hash);
	const char *scope = "20130524/us-east-1/s3/aws4_request";
	assert_int_equal(sigv4_chunk_signature(k, date, scope, seed, hash, sig), 0);
	assert_string_equal(sig, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
	sigv4_sha256_hex(data, 1024, hash);
	char sig2[65];
	assert_int_equal(sigv4_chunk_signature(k, date, scope, sig, hash, sig2), 0);
	assert_string_equal(sig2, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
	assert_int_equal(sigv4_chunk_signature(k, date, scope, sig2, SIGV4_EMPTY_SHA256, sig), 0);
	assert_string_equal(sig, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
	free(data);
	assert_true(sigv4_equal("abc", "abc"));
	assert_false(sigv4_equal("abc", "abd"));
	assert_false(sigv4_equal("abc", "abcd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_header),
		cmocka_unit_test(test_aws_chunk_vector),
		cmocka_unit_test(test_accepts_botocore),
		cmocka_unit_test(test_rejects_tampering),
		cmocka_unit_test(test_streaming_chunks),
	};
	return cmocka_run_group_tests_name("s3_auth", tests, setup, teardown);
}
