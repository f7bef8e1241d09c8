/*
 * client/leader.c against real HTTP servers (api/http.c on loopback ports)
 * that play followers, leaders, masters without a leader and dead ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/http.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "client/client.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum role { LEADER, FOLLOWER, NO_LEADER_THEN_LEADER, STORE_DOWN };

struct fake_master {
	enum role role;
	char name[8];
	char redirect_to[128]; /* FOLLOWER: base URL of the leader */
	atomic_int hits;
	int refusals; /* NO_LEADER_THEN_LEADER: 503s before it leads */
	struct http_server *srv;
	char url[128];
};

static void handle(struct http_req *req, void *ctx)
{
	struct fake_master *m = ctx;
	int hit = atomic_fetch_add(&m->hits, 1);
	if (m->role == FOLLOWER) {
		char loc[512];
		snprintf(loc, sizeof(loc), "%s%s%s%s", m->redirect_to, http_req_path(req),
			 http_req_query(req) ? "?" : "",
			 http_req_query(req) ? http_req_query(req) : "");
		struct http_header h = { "Location", loc };
		http_reply_start_headers(req, 307, "application/json", 0, &h, 1);
		return;
	}
	if (m->role == STORE_DOWN) {
		http_reply_error(req, 503, "unavailable", "the store is down");
		return;
	}
	if (m->role == NO_LEADER_THEN_LEADER && hit < m->refusals) {
		http_reply_error(req, 503, "no_leader", "an election is running");
		return;
	}
	cJSON *body = NULL;
	if (strcmp(http_req_method(req), "POST") == 0 && http_req_json(req, &body))
		return;
	cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "served_by", m->name);
	cJSON_AddStringToObject(out, "path", http_req_path(req));
	if (body)
		cJSON_AddItemToObject(out, "echo", body);
	http_reply_json(req, 200, out);
}

static void start(struct fake_master *m, enum role role, const char *name)
{
	m->role = role;
	snprintf(m->name, sizeof(m->name), "%s", name);
	struct http_server_opts o = {
		.name = name,
		.bind = "127.0.0.1",
		.port = 0,
		.threads = 4,
		.request_timeout_ms = 5000,
		.max_json_body = 1 << 20,
		.fallback = handle,
	};
	char err[256];
	m->srv = http_server_start(&o, NULL, 0, m, err, sizeof(err));
	assert_non_null(m->srv);
	snprintf(m->url, sizeof(m->url), "%s", http_server_url(m->srv));
}

/* A loopback port nothing listens on: bound, never listened, closed. */
static void dead_address(char *buf, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t alen = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(buf, len, "127.0.0.1:%u", ntohs(a.sin_port));
	close(fd);
}

static struct client *client(const char **addrs, size_t n, int64_t follow_ms)
{
	struct client *mc = NULL;
	char err[256];
	struct client_opts o = { .follow_ms = follow_ms, .pause_ms = 20 };
	assert_int_equal(client_new(addrs, n, &o, &mc, err, sizeof(err)), 0);
	return mc;
}

/* One client_json call, without a body, on a fresh connection. */
static int call(struct client *mc, const char *method, const char *path, cJSON **out,
		long *status, char *err, size_t errlen)
{
	struct httpc *hc = httpc_new(NULL);
	assert_non_null(hc);
	int rc = client_json(mc, hc, method, path, NULL, out, status, err, errlen);
	httpc_free(hc);
	return rc;
}

static const char *served_by(const cJSON *o)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "served_by");
	return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_url_base(void **state)
{
	(void)state;
	char b[64];
	assert_int_equal(client_url_base("http://h:1/a/b?c", b, sizeof(b)), 0);
	assert_string_equal(b, "http://h:1");
	assert_int_equal(client_url_base("https://[::1]:19999", b, sizeof(b)), 0);
	assert_string_equal(b, "https://[::1]:19999");
	assert_int_equal(client_url_base("h:1/a", b, sizeof(b)), -EINVAL);
	assert_int_equal(client_url_base("http:///a", b, sizeof(b)), -EINVAL);
	assert_int_equal(client_url_base("://h/a", b, sizeof(b)), -EINVAL);
	assert_int_equal(client_url_base("http://a-long-host-name:1/", b, 8), -ENOSPC);
}

static void test_bad_addresses(void **state)
{
	(void)state;
	struct client *mc = NULL;
	char err[256] = "";
	assert_int_equal(client_new(NULL, 0, NULL, &mc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "master.addresses"));
	const char *empty[] = { "127.0.0.1:1", "" };
	assert_int_equal(client_new(empty, 2, NULL, &mc, err, sizeof(err)), -EINVAL);
	const char *path[] = { "http://h:1/api" };
	assert_int_equal(client_new(path, 1, NULL, &mc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "http://h:1/api"));
	const char *many[CLIENT_MAX_MASTERS + 1];
	for (size_t i = 0; i <= CLIENT_MAX_MASTERS; i++)
		many[i] = "127.0.0.1:1";
	assert_int_equal(client_new(many, CLIENT_MAX_MASTERS + 1, NULL, &mc, err, sizeof(err)),
			 -EINVAL);
	/* A trailing slash is tolerated and dropped; no scheme gets one. */
	const char *ok[] = { "http://h:1/", "h:2" };
	assert_int_equal(client_new(ok, 2, &(struct client_opts){ .tls = true }, &mc, err,
				     sizeof(err)),
			 0);
	char b[64];
	client_leader(mc, b, sizeof(b));
	assert_string_equal(b, "http://h:1");
	client_free(mc);
}

/* A follower's 307 is followed with the body, and the leader is remembered. */
static void test_follows_redirect(void **state)
{
	(void)state;
	struct fake_master leader = { 0 }, follower = { 0 };
	start(&leader, LEADER, "L");
	start(&follower, FOLLOWER, "F");
	snprintf(follower.redirect_to, sizeof(follower.redirect_to), "%s", leader.url);
	const char *addrs[] = { follower.url, leader.url };
	struct client *mc = client(addrs, 2, 5000);
	struct httpc *hc = httpc_new(NULL);
	cJSON *req = cJSON_Parse("{\"op\":\"mkdir\",\"path\":\"/a\"}");
	for (int i = 0; i < 3; i++) {
		cJSON *out = NULL;
		long status = 0;
		char err[512] = "";
		assert_int_equal(client_json(mc, hc, "POST", "/api/v1/x?y=1", req, &out, &status,
					      err, sizeof(err)),
				 0);
		assert_int_equal(status, 200);
		assert_string_equal(served_by(out), "L");
		const cJSON *echo = cJSON_GetObjectItemCaseSensitive(out, "echo");
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(echo, "path")->valuestring, "/a");
		cJSON_Delete(out);
	}
	/* Only the first call went to the follower. */
	assert_int_equal(atomic_load(&follower.hits), 1);
	assert_int_equal(atomic_load(&leader.hits), 3);
	char b[128];
	client_leader(mc, b, sizeof(b));
	assert_string_equal(b, leader.url);
	cJSON_Delete(req);
	httpc_free(hc);
	client_free(mc);
	http_server_stop(follower.srv);
	http_server_stop(leader.srv);
}

/* A leader the client was never told about (added at run time). */
static void test_redirect_to_unlisted_master(void **state)
{
	(void)state;
	struct fake_master leader = { 0 }, follower = { 0 };
	start(&leader, LEADER, "L");
	start(&follower, FOLLOWER, "F");
	snprintf(follower.redirect_to, sizeof(follower.redirect_to), "%s", leader.url);
	const char *addrs[] = { follower.url };
	struct client *mc = client(addrs, 1, 5000);
	cJSON *out = NULL;
	char err[512] = "";
	assert_int_equal(call(mc, "GET", "/api/v1/health", &out, NULL, err, sizeof(err)), 0);
	assert_string_equal(served_by(out), "L");
	cJSON_Delete(out);
	char b[128];
	client_leader(mc, b, sizeof(b));
	assert_string_equal(b, leader.url);
	client_free(mc);
	http_server_stop(follower.srv);
	http_server_stop(leader.srv);
}

static void test_skips_dead_master(void **state)
{
	(void)state;
	struct fake_master leader = { 0 };
	start(&leader, LEADER, "L");
	char dead[64];
	dead_address(dead, sizeof(dead));
	const char *addrs[] = { dead, leader.url };
	struct client *mc = client(addrs, 2, 5000);
	cJSON *out = NULL;
	char err[512] = "";
	assert_int_equal(call(mc, "GET", "/api/v1/health", &out, NULL, err, sizeof(err)), 0);
	assert_string_equal(served_by(out), "L");
	cJSON_Delete(out);
	client_free(mc);
	http_server_stop(leader.srv);
}

/* "no_leader" 503s are waited out; the call succeeds once one leads. */
static void test_waits_for_election(void **state)
{
	(void)state;
	struct fake_master m = { .refusals = 3 };
	start(&m, NO_LEADER_THEN_LEADER, "M");
	const char *addrs[] = { m.url };
	struct client *mc = client(addrs, 1, 5000);
	cJSON *out = NULL;
	long status = 0;
	char err[512] = "";
	assert_int_equal(call(mc, "GET", "/api/v1/health", &out, &status, err, sizeof(err)), 0);
	assert_int_equal(status, 200);
	assert_int_equal(atomic_load(&m.hits), 4);
	cJSON_Delete(out);
	client_free(mc);
	http_server_stop(m.srv);
}

/* Other 503s (a dead store) are answers, not a reason to look elsewhere. */
static void test_other_503_is_final(void **state)
{
	(void)state;
	struct fake_master down = { 0 }, leader = { 0 };
	start(&down, STORE_DOWN, "D");
	start(&leader, LEADER, "L");
	const char *addrs[] = { down.url, leader.url };
	struct client *mc = client(addrs, 2, 5000);
	long status = 0;
	char err[512] = "";
	assert_int_equal(call(mc, "GET", "/api/v1/files/stat", NULL, &status, err, sizeof(err)),
			 ST_EHTTP);
	assert_int_equal(status, 503);
	assert_non_null(strstr(err, "the store is down"));
	assert_int_equal(atomic_load(&leader.hits), 0);
	client_free(mc);
	http_server_stop(down.srv);
	http_server_stop(leader.srv);
}

/* Nobody answers: the call gives up at its deadline and names a master. */
static void test_all_dead_gives_up(void **state)
{
	(void)state;
	char a[64], b[64];
	dead_address(a, sizeof(a));
	dead_address(b, sizeof(b));
	const char *addrs[] = { a, b };
	struct client *mc = client(addrs, 2, 300);
	long status = 0;
	char err[512] = "";
	assert_int_equal(call(mc, "GET", "/api/v1/health", NULL, &status, err, sizeof(err)),
			 ST_EPEER);
	assert_true(strstr(err, a) || strstr(err, b));
	client_free(mc);
}

/* Still no leader at the deadline: the 503 is reported as it came. */
static void test_no_leader_until_deadline(void **state)
{
	(void)state;
	struct fake_master m = { .refusals = 1 << 30 };
	start(&m, NO_LEADER_THEN_LEADER, "M");
	const char *addrs[] = { m.url };
	struct client *mc = client(addrs, 1, 200);
	long status = 0;
	char err[512] = "";
	assert_int_equal(call(mc, "POST", "/api/v1/x", NULL, &status, err, sizeof(err)), ST_EHTTP);
	assert_int_equal(status, 503);
	assert_non_null(strstr(err, "election"));
	assert_true(atomic_load(&m.hits) >= 2);
	client_free(mc);
	http_server_stop(m.srv);
}

/* Two masters pointing at each other: a bounded chain, then the 307. */
static void test_redirect_loop_ends(void **state)
{
	(void)state;
	struct fake_master a = { 0 }, b = { 0 };
	start(&a, FOLLOWER, "A");
	start(&b, FOLLOWER, "B");
	snprintf(a.redirect_to, sizeof(a.redirect_to), "%s", b.url);
	snprintf(b.redirect_to, sizeof(b.redirect_to), "%s", a.url);
	const char *addrs[] = { a.url };
	struct client *mc = client(addrs, 1, 5000);
	long status = 0;
	char err[512] = "";
	assert_int_equal(call(mc, "GET", "/api/v1/health", NULL, &status, err, sizeof(err)),
			 ST_EHTTP);
	assert_int_equal(status, 307);
	assert_true(atomic_load(&a.hits) + atomic_load(&b.hits) <= 10);
	client_free(mc);
	http_server_stop(a.srv);
	http_server_stop(b.srv);
}

static int unreachable(void *arg, const char *url, long *status, const char **location,
		       char *err, size_t errlen)
{
	(void)status;
	(void)location;
	(*(int *)arg)++;
	snprintf(err, errlen, "%s: refused", url);
	return ST_EPEER;
}

/* A stopping daemon: after client_shutdown a call makes one attempt and
 * never waits for a leader; before it, the same call keeps trying. */
static void test_shutdown_stops_looking(void **state)
{
	(void)state;
	const char *addrs[] = { "127.0.0.1:1", "127.0.0.1:2" };
	struct client *mc = client(addrs, 2, 300);
	int attempts = 0;
	long status = 0;
	char err[256] = "";
	assert_int_equal(client_call(mc, "/x", unreachable, &attempts, &status, err, sizeof(err)),
			 ST_EPEER);
	assert_true(attempts > 2);
	client_shutdown(mc);
	attempts = 0;
	assert_int_equal(client_call(mc, "/x", unreachable, &attempts, &status, err, sizeof(err)),
			 ST_EPEER);
	assert_int_equal(attempts, 1);
	assert_non_null(strstr(err, "refused"));
	client_shutdown(NULL);
	client_free(mc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_base),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_follows_redirect),
		cmocka_unit_test(test_redirect_to_unlisted_master),
		cmocka_unit_test(test_skips_dead_master),
		cmocka_unit_test(test_waits_for_election),
		cmocka_unit_test(test_other_503_is_final),
		cmocka_unit_test(test_all_dead_gives_up),
		cmocka_unit_test(test_no_leader_until_deadline),
		cmocka_unit_test(test_redirect_loop_ends),
		cmocka_unit_test(test_shutdown_stops_looking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
