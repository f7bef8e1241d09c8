/*
 * SigV4 signer (lib/sigv4.c) against two oracles: AWS's documented S3
 * examples (fixed vectors), and botocore itself, run at test time through
 * tests/unit/sigv4_oracle.py with Debian's /usr/bin/python3 for a batch of
 * requests (queries, payloads, unicode/space/+/% keys, messy header values).
 * A missing python3-boto3 fails the test; it never skips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/sigv4.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef STRATA_SOURCE_DIR
#error "STRATA_SOURCE_DIR must be defined by tests/unit/ufs.cmake"
#endif

#define PYTHON "/usr/bin/python3"
#define ORACLE STRATA_SOURCE_DIR "/tests/unit/sigv4_oracle.py"
#define DOC_AK "AKIAIOSFODNN7EXAMPLE"
#define DOC_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static const char *signature_of(const char *auth)
{
	const char *s = strstr(auth, "Signature=");
	return s ? s + strlen("Signature=") : "";
}

/* AWS S3 docs, "Signature Calculations for the Authorization Header":
 * the four worked examples, 2013-05-24T00:00:00Z, examplebucket. */
static void test_aws_doc_vectors(void **state)
{
	const struct sigv4_key key = { DOC_AK, DOC_SK, "us-east-1", "s3" };
	const char *date = "20130524T000000Z";
	char *auth = NULL;

	const struct sigv4_kv get_h[] = { { "Host", "examplebucket.s3.amazonaws.com" },
					  { "Range", "bytes=0-9" },
					  { "x-amz-content-sha256", SIGV4_EMPTY_SHA256 },
					  { "x-amz-date", date } };
	struct sigv4_request get = { "GET", "/test.txt", NULL, 0, get_h, 4, SIGV4_EMPTY_SHA256 };
	assert_int_equal(sigv4_authorization(&get, &key, date, &auth), 0);
	assert_string_equal(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
				  "us-east-1/s3/aws4_request, SignedHeaders=host;range;"
				  "x-amz-content-sha256;x-amz-date, Signature="
				  "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	free(auth);

	char body_hash[65];
	const char *body = "Welcome to Amazon S3.";
	sigv4_sha256_hex(body, strlen(body), body_hash);
	assert_string_equal(body_hash,
			    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	const struct sigv4_kv put_h[] = { { "Host", "examplebucket.s3.amazonaws.com" },
					  { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
					  { "x-amz-date", date },
					  { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
					  { "x-amz-content-sha256", body_hash } };
	char *path = NULL;
	assert_int_equal(sigv4_uri_encode("/test$file.text", true, &path), 0);
	assert_string_equal(path, "/test%24file.text");
	struct sigv4_request put = { "PUT", path, NULL, 0, put_h, 5, body_hash };
	assert_int_equal(sigv4_authorization(&put, &key, date, &auth), 0);
	assert_string_equal(signature_of(auth),
			    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	free(auth);
	free(path);

	const struct sigv4_kv lc_h[] = { { "Host", "examplebucket.s3.amazonaws.com" },
					 { "x-amz-date", date },
					 { "x-amz-content-sha256", SIGV4_EMPTY_SHA256 } };
	const struct sigv4_kv lc_q[] = { { "lifecycle", "" } };
	struct sigv4_request lc = { "GET", "/", lc_q, 1, lc_h, 3, SIGV4_EMPTY_SHA256 };
	assert_int_equal(sigv4_authorization(&lc, &key, date, &auth), 0);
	assert_string_equal(signature_of(auth),
			    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
	free(auth);

	const struct sigv4_kv ls_q[] = { { "prefix", "J" }, { "max-keys", "2" } };
	struct sigv4_request ls = { "GET", "/", ls_q, 2, lc_h, 3, SIGV4_EMPTY_SHA256 };
	char *creq = NULL;
	assert_int_equal(sigv4_canonical_request(&ls, &creq), 0);
	assert_string_equal(creq, "GET\n/\nmax-keys=2&prefix=J\n"
				  "host:examplebucket.s3.amazonaws.com\n"
				  "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\n"
				  "x-amz-date:20130524T000000Z\n\n"
				  "host;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256);
	free(creq);
	assert_int_equal(sigv4_authorization(&ls, &key, date, &auth), 0);
	assert_string_equal(signature_of(auth),
			    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
	free(auth);
}

static void test_encoding_and_date(void **state)
{
	char *out = NULL;
	assert_int_equal(sigv4_uri_encode("a b+c%d/e~f*g\xc3\xbc", true, &out), 0);
	assert_string_equal(out, "a%20b%2Bc%25d/e~f%2Ag%C3%BC");
	free(out);
	assert_int_equal(sigv4_uri_encode("a/b=c&d", false, &out), 0);
	assert_string_equal(out, "a%2Fb%3Dc%26d");
	free(out);
	const struct sigv4_kv q[] = { { "b", "2" }, { "a", "z" }, { "a", "y" }, { "c d", "" } };
	assert_int_equal(sigv4_canonical_query(q, 4, &out), 0);
	assert_string_equal(out, "a=y&a=z&b=2&c%20d=");
	free(out);
	char d[17];
	sigv4_amz_date(1369353600, d);
	assert_string_equal(d, "20130524T000000Z");
	const struct sigv4_key key = { "AK", "SK", "us-east-1", "s3" };
	const struct sigv4_kv h[] = { { "host", "h" } };
	struct sigv4_request r = { "GET", "/", NULL, 0, h, 1, SIGV4_EMPTY_SHA256 };
	assert_int_equal(sigv4_authorization(&r, &key, "2013-05-24", &out), -EINVAL);
}

struct oracle_case {
	const char *method;
	const char *host;
	const char *key; /* raw object path below the host, "" for "/" */
	struct sigv4_kv query[6];
	size_t nquery;
	struct sigv4_kv headers[6]; /* besides host, x-amz-date, x-amz-content-sha256 */
	size_t nheaders;
	const char *body;
	long long time;
	const char *region;
	const char *access_key;
	const char *secret_key;
};

static const struct oracle_case g_cases[] = {
	{ "GET", "127.0.0.1:4568", "bucket", { { "list-type", "2" }, { "delimiter", "/" },
	  { "prefix", "dir with space/\xc3\xbc+%/" }, { "continuation-token", "abc+/==" },
	  { "max-keys", "5" } }, 5, { { 0 } }, 0, "", 1700000000, "us-east-1", "S3RVER", "S3RVER" },
	{ "PUT", "127.0.0.1:4568", "bucket/some dir/\xe6\x97\xa5\xe6\x9c\xac+plus%25.txt",
	  { { 0 } }, 0, { { "Content-Type", "application/octet-stream" } }, 1, "hello, payload",
	  1700000123, "eu-west-1", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
	{ "GET", "mybucket.s3.eu-central-1.amazonaws.com", "a/b~c*d(e)!f'g",
	  { { 0 } }, 0, { { "Range", "bytes=100-199" }, { "X-Amz-Meta-Note", "  lots   of\t spaces  " } },
	  2, "", 1234567890, "eu-central-1", "AKIAEXAMPLE", "secret/with+chars=" },
	{ "POST", "s3.example.com:9000", "bkt/big object", { { "uploads", "" } }, 1,
	  { { 0 } }, 0, "", 1600000000, "us-west-2", "AK", "SK" },
	{ "POST", "s3.example.com:9000", "bkt/big object", { { "uploadId", "2~xyz/AB+c=" } }, 1,
	  { { "Content-Type", "application/xml" } }, 1,
	  "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag></Part>"
	  "</CompleteMultipartUpload>",
	  1600000001, "us-west-2", "AK", "SK" },
	{ "PUT", "127.0.0.1:1", "bkt/dst key", { { "partNumber", "3" }, { "uploadId", "u p" } }, 2,
	  { { "x-amz-copy-source", "/bkt/src%20key" }, { "X-AMZ-Meta-Dup", "one" } }, 2, "part",
	  1700000000, "us-east-1", "S3RVER", "S3RVER" },
	{ "DELETE", "localhost", "bkt/\xf0\x9f\x98\x80 emoji", { { 0 } }, 0, { { 0 } }, 0, "",
	  946684800, "ap-southeast-2", "AK", "SK" },
	{ "HEAD", "127.0.0.1:8080", "", { { 0 } }, 0, { { 0 } }, 0, "", 1700000000, "us-east-1",
	  "AK", "SK" },
};

/* C's side of one case. *auth and *path are malloc'd. */
static void sign_case(const struct oracle_case *c, char **auth, char **path)
{
	char amz_date[17], hash[65];
	char *enc = NULL;
	sigv4_amz_date((time_t)c->time, amz_date);
	sigv4_sha256_hex(c->body, strlen(c->body), hash);
	assert_int_equal(sigv4_uri_encode(c->key, true, &enc), 0);
	*path = malloc(strlen(enc) + 2);
	assert_non_null(*path);
	sprintf(*path, "/%s", enc);
	free(enc);
	struct sigv4_kv headers[10];
	size_t n = 0;
	headers[n++] = (struct sigv4_kv){ "Host", c->host };
	headers[n++] = (struct sigv4_kv){ "X-Amz-Date", amz_date };
	headers[n++] = (struct sigv4_kv){ "X-Amz-Content-SHA256", hash };
	for (size_t i = 0; i < c->nheaders; i++)
		headers[n++] = c->headers[i];
	struct sigv4_request req = { c->method, *path, c->query, c->nquery, headers, n, hash };
	struct sigv4_key key = { c->access_key, c->secret_key, c->region, "s3" };
	assert_int_equal(sigv4_authorization(&req, &key, amz_date, auth), 0);
}

static char *case_json(const struct oracle_case *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "method", c->method);
	cJSON_AddStringToObject(o, "host", c->host);
	cJSON_AddStringToObject(o, "key", c->key);
	cJSON *q = cJSON_AddArrayToObject(o, "query");
	for (size_t i = 0; i < c->nquery; i++) {
		cJSON *pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair, cJSON_CreateString(c->query[i].name));
		cJSON_AddItemToArray(pair, cJSON_CreateString(c->query[i].value));
		cJSON_AddItemToArray(q, pair);
	}
	cJSON *h = cJSON_AddArrayToObject(o, "headers");
	for (size_t i = 0; i < c->nheaders; i++) {
		cJSON *pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair, cJSON_CreateString(c->headers[i].name));
		cJSON_AddItemToArray(pair, cJSON_CreateString(c->headers[i].value));
		cJSON_AddItemToArray(h, pair);
	}
	size_t blen = strlen(c->body);
	char *hex = malloc(2 * blen + 1);
	for (size_t i = 0; i < blen; i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)c->body[i]);
	hex[2 * blen] = '\0';
	cJSON_AddStringToObject(o, "body_hex", hex);
	free(hex);
	cJSON_AddNumberToObject(o, "time", (double)c->time);
	cJSON_AddStringToObject(o, "region", c->region);
	cJSON_AddStringToObject(o, "access_key", c->access_key);
	cJSON_AddStringToObject(o, "secret_key", c->secret_key);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void test_botocore_oracle(void **state)
{
	if (access(PYTHON, X_OK) != 0)
		fail_msg("%s missing: install python3-boto3 (the SigV4 oracle)", PYTHON);
	char in_path[] = "/tmp/strata-sigv4-XXXXXX";
	int fd = mkstemp(in_path);
	assert_true(fd >= 0);
	FILE *in = fdopen(fd, "w");
	const size_t ncases = sizeof(g_cases) / sizeof(g_cases[0]);
	for (size_t i = 0; i < ncases; i++) {
		char *js = case_json(&g_cases[i]);
		fprintf(in, "%s\n", js);
		free(js);
	}
	fclose(in);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s %s < %s", PYTHON, ORACLE, in_path);
	FILE *out = popen(cmd, "r");
	assert_non_null(out);
	static char answers[16][2048];
	size_t got = 0;
	while (got < 16 && fgets(answers[got], sizeof(answers[got]), out))
		got++;
	int status = pclose(out);
	unlink(in_path); /* before any assertion can jump out */
	if (status != 0 || got != ncases)
		fail_msg("oracle %s failed (status %d, %zu of %zu answers): is python3-boto3 "
			 "installed?",
			 ORACLE, status, got, ncases);
	for (size_t i = 0; i < ncases; i++) {
		char *line = answers[i];
		line[strcspn(line, "\n")] = '\0';
		char *tab = strchr(line, '\t');
		assert_non_null(tab);
		*tab = '\0';
		char *auth = NULL, *path = NULL;
		sign_case(&g_cases[i], &auth, &path);
		if (strcmp(tab + 1, path) != 0)
			fail_msg("case %zu: path encoding differs\n botocore: %s\n strata:   %s", i,
				 tab + 1, path);
		if (strcmp(line, auth) != 0)
			fail_msg("case %zu: Authorization differs\n botocore: %s\n strata:   %s", i,
				 line, auth);
		free(auth);
		free(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aws_doc_vectors),
		cmocka_unit_test(test_encoding_and_date),
		cmocka_unit_test(test_botocore_oracle),
	};
	return cmocka_run_group_tests_name("ufs_sigv4", tests, NULL, NULL);
}
