/*
 * api/s3_gateway end to end: a real HTTP server (api/http.h) on a free
 * loopback port, the gateway over the test fixture backend
 * tests/unit/s3_dir_backend.c (a temp directory), driven by real clients
 * through tests/unit/s3_clients.py: awscli, s3cmd, boto3 and raw HTTP.
 * Once without credentials (every request accepted), once with (signed
 * requests verified, wrong keys refused). Missing clients fail the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "api/http.h"
#include "api/s3_gateway.h"
#include "lib/err.h"
#include "tests/unit/s3_dir_backend.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef STRATA_SOURCE_DIR
#error "STRATA_SOURCE_DIR must be defined by tests/unit/s3.cmake"
#endif
#define CLIENTS STRATA_SOURCE_DIR "/tests/unit/s3_clients.py"
#define AK "STRATAGWTESTKEY"
#define SK "gw/secret+key"

struct fixture {
	char root[64];
	char work[64];
	struct s3_dir_backend *db;
	struct s3_gw *gw;
	struct http_server *srv;
};

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int lookup(void *arg, const char *access_key, char *secret, size_t len)
{
	if (strcmp(access_key, AK) != 0)
		return -ENOENT;
	snprintf(secret, len, "%s", SK);
	return 0;
}

static void start(struct fixture *f, bool with_keys)
{
	char err[256];
	strcpy(f->root, "/tmp/strata-s3gw-XXXXXX");
	strcpy(f->work, "/tmp/strata-s3cl-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	assert_non_null(mkdtemp(f->work));
	f->db = s3_dir_backend_new(f->root, err, sizeof(err));
	assert_non_null(f->db);
	struct s3_gw_config cfg = { .region = "us-east-1" };
	if (with_keys)
		cfg.lookup = lookup;
	f->gw = s3_gw_new(&cfg, s3_dir_backend_ops(), f->db, err, sizeof(err));
	assert_non_null(f->gw);
	for (int attempt = 0; attempt < 5 && !f->srv; attempt++) {
		struct http_server_opts o = { .name = "test S3", .bind = "127.0.0.1",
					      .port = free_port(), .threads = 48,
					      .request_timeout_ms = 60000,
					      .max_json_body = 1 << 20, .fallback = s3_gw_handle,
					      .raw_path = true };
		f->srv = http_server_start(&o, NULL, 0, f->gw, err, sizeof(err));
	}
	if (!f->srv)
		fail_msg("cannot start the server: %s", err);
}

static void stop(struct fixture *f)
{
	char cmd[256];
	http_server_stop(f->srv);
	s3_gw_free(f->gw);
	s3_dir_backend_free(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", f->root, f->work);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed: %s\n", cmd);
}

static int run_clients(struct fixture *f, const char *mode, const char *ak, const char *sk)
{
	char cmd[1024];
	char keys[256] = "";
	if (ak)
		snprintf(keys, sizeof(keys), " --access-key '%s' --secret-key '%s'", ak, sk);
	snprintf(cmd, sizeof(cmd), "%s %s --endpoint %s --workdir %s --mode %s%s 2>&1",
		 STRATA_PYTHON, CLIENTS, http_server_url(f->srv), f->work, mode, keys);
	FILE *p = popen(cmd, "r");
	char line[4096];
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		fputs(line, stdout);
	return pclose(p);
}

struct fetched {
	long status;
	char body[4096];
	size_t len;
	char headers[4096];
	size_t hlen;
};

static size_t grab(char *p, size_t size, size_t n, void *arg)
{
	struct fetched *f = arg;
	size_t len = size * n, room = sizeof(f->body) - 1 - f->len;
	memcpy(f->body + f->len, p, len < room ? len : room);
	f->len += len < room ? len : room;
	f->body[f->len] = '\0';
	return len;
}

static size_t grab_header(char *p, size_t size, size_t n, void *arg)
{
	struct fetched *f = arg;
	size_t len = size * n, room = sizeof(f->headers) - 1 - f->hlen;
	memcpy(f->headers + f->hlen, p, len < room ? len : room);
	f->hlen += len < room ? len : room;
	f->headers[f->hlen] = '\0';
	return len;
}

static void fetch(struct fixture *f, const char *method, const char *path, struct fetched *out)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", http_server_url(f->srv), path);
	memset(out, 0, sizeof(*out));
	CURL *h = curl_easy_init();
	assert_non_null(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grab);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, grab_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_cleanup(h);
}

/* A backend that fails before producing bytes gets a real S3 error, not a
 * truncated 200; HEAD and listings still work. */
static void test_backend_faults(void **state)
{
	struct fixture f = { 0 };
	char p[256];
	start(&f, false);
	snprintf(p, sizeof(p), "%s/bk", f.root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/bk/obj", f.root);
	FILE *fp = fopen(p, "w");
	fputs("0123456789", fp);
	fclose(fp);
	struct fetched r;
	fetch(&f, "GET", "/bk/obj", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "0123456789");
	fetch(&f, "GET", "/bk/obj?x-id=GetObject", &r); /* unknown params are ignored */
	assert_int_equal(r.status, 200);
	s3_dir_backend_fail_reads(f.db, -EAGAIN);
	fetch(&f, "GET", "/bk/obj", &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "<Code>ServiceUnavailable</Code>"));
	assert_non_null(strstr(r.headers, "x-amz-request-id: "));
	s3_dir_backend_fail_reads(f.db, -EIO);
	fetch(&f, "GET", "/bk/obj", &r);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body, "<Code>InternalError</Code>"));
	fetch(&f, "HEAD", "/bk/obj", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "Content-Length: 10"));
	assert_non_null(strstr(r.headers, "ETag: \""));
	fetch(&f, "GET", "/bk?list-type=2", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<Key>obj</Key>"));
	s3_dir_backend_fail_reads(f.db, 0);
	fetch(&f, "GET", "/bk/missing", &r);
	assert_int_equal(r.status, 404);
	fetch(&f, "GET", "/nobucket/missing", &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "<Code>NoSuchBucket</Code>"));
	fetch(&f, "DELETE", "/bk/missing", &r);
	assert_int_equal(r.status, 204);
	fetch(&f, "DELETE", "/bk", &r);
	assert_int_equal(r.status, 409);
	assert_non_null(strstr(r.body, "<Code>BucketNotEmpty</Code>"));
	stop(&f);
}

static void test_errno_map(void **state)
{
	assert_int_equal(s3_gw_map_errno(-ENOENT, true), S3_ERR_NO_SUCH_KEY);
	assert_int_equal(s3_gw_map_errno(-ENOENT, false), S3_ERR_NO_SUCH_BUCKET);
	assert_int_equal(s3_gw_map_errno(-EEXIST, false), S3_ERR_BUCKET_EXISTS);
	assert_int_equal(s3_gw_map_errno(-ENOTEMPTY, false), S3_ERR_BUCKET_NOT_EMPTY);
	assert_int_equal(s3_gw_map_errno(-EAGAIN, true), S3_ERR_SERVICE_UNAVAILABLE);
	assert_int_equal(s3_gw_map_errno(-EACCES, true), S3_ERR_ACCESS_DENIED);
	assert_int_equal(s3_gw_map_errno(-EROFS, true), S3_ERR_ACCESS_DENIED);
	assert_int_equal(s3_gw_map_errno(-EBADMSG, true), S3_ERR_INVALID_PART);
	assert_int_equal(s3_gw_map_errno(-ENOSPC, true), S3_ERR_STORAGE_FULL);
	assert_int_equal(s3_gw_map_errno(-EIO, true), S3_ERR_INTERNAL);
	assert_int_equal(s3_gw_map_errno(S3_ERR_NO_SUCH_UPLOAD, true), S3_ERR_NO_SUCH_UPLOAD);
	int status;
	const char *code, *msg;
	s3_error_lookup(s3_gw_map_errno(-EAGAIN, true), &status, &code, &msg);
	assert_int_equal(status, 503);
	assert_string_equal(code, "ServiceUnavailable");
	/* Lost data: the key exists (not NoSuchKey), and it will not come back. */
	s3_error_lookup(s3_gw_map_errno(ST_ELOST, true), &status, &code, &msg);
	assert_int_equal(status, 500);
	assert_string_equal(code, "XStrataDataLost");
}

/* The one GET/HEAD reply head, for the gateway and the fast path alike. */
static void test_object_head(void **state)
{
	struct s3_object_info info = { .size = 10, .mtime = 0 };
	struct s3_gw_object_head oh;
	s3_gw_object_head(&info, false, 0, 0, &oh);
	assert_int_equal(oh.status, 200);
	assert_int_equal(oh.length, 10);
	assert_string_equal(oh.content_type, "application/octet-stream");
	assert_int_equal(oh.nh, 3);
	assert_string_equal(oh.h[0].name, "ETag");
	assert_true(oh.h[0].value[0] == '"' && strlen(oh.h[0].value) > 2); /* derived */
	assert_string_equal(oh.h[1].name, "Last-Modified");
	assert_string_equal(oh.h[1].value, "Thu, 01 Jan 1970 00:00:00 GMT");
	assert_string_equal(oh.h[2].value, "bytes");
	snprintf(info.etag, sizeof(info.etag), "abc");
	snprintf(info.content_type, sizeof(info.content_type), "text/plain");
	s3_gw_object_head(&info, true, 2, 5, &oh);
	assert_int_equal(oh.status, 206);
	assert_int_equal(oh.length, 4);
	assert_string_equal(oh.content_type, "text/plain");
	assert_string_equal(oh.h[0].value, "\"abc\"");
	assert_int_equal(oh.nh, 4);
	assert_string_equal(oh.h[3].name, "Content-Range");
	assert_string_equal(oh.h[3].value, "bytes 2-5/10");
	(void)state;
}

static void test_clients_without_credentials(void **state)
{
	struct fixture f = { 0 };
	if (access("/usr/bin/aws", X_OK) || access("/usr/bin/s3cmd", X_OK) ||
	    access(STRATA_PYTHON, X_OK))
		fail_msg("awscli, s3cmd and python3-boto3 are required (scripts/deps.sh)");
	start(&f, false);
	int rc = run_clients(&f, "full", NULL, NULL);
	/* The namespace mapping: s3cmd's bucket is gone, boto3's holds the
	 * directory marker as a real directory and keys as paths. */
	char p[256];
	struct stat st;
	snprintf(p, sizeof(p), "%s/boto-bkt/folder", f.root);
	bool marker_is_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	snprintf(p, sizeof(p), "%s/boto-bkt/k/<&\"'>.bin", f.root);
	bool key_is_path = stat(p, &st) == 0 && st.st_size == 100000;
	snprintf(p, sizeof(p), "%s/s3cmd-bkt", f.root);
	bool rb_removed = stat(p, &st) != 0;
	stop(&f);
	assert_int_equal(rc, 0);
	assert_true(marker_is_dir);
	assert_true(key_is_path);
	assert_true(rb_removed);
}

static void test_clients_with_credentials(void **state)
{
	struct fixture f = { 0 };
	start(&f, true);
	int rc = run_clients(&f, "auth", AK, SK);
	char p[256];
	struct stat st;
	snprintf(p, sizeof(p), "%s/auth-bkt/chunked obj", f.root);
	bool chunked_stored = stat(p, &st) == 0 && st.st_size == 200000;
	stop(&f);
	assert_int_equal(rc, 0);
	assert_true(chunked_stored);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_map),
		cmocka_unit_test(test_object_head),
		cmocka_unit_test(test_backend_faults),
		cmocka_unit_test(test_clients_without_credentials),
		cmocka_unit_test(test_clients_with_credentials),
	};
	return cmocka_run_group_tests_name("s3_gateway", tests, NULL, NULL);
}
