/* Tests of the access levels of api/http.h: every route of every table
 * declares one (worker RPC and the peer block routes as HTTP_ACCESS_WORKER),
 * and dispatch checks it once, before the handler, on a real server. */
#include "api/http.h"
#include "api/rest_fs.h"
#include "api/rest_master.h"
#include "api/rest_openapi.h"
#include "api/rest_worker.h"
#include "lib/httpc.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct table {
	const char *name;
	const struct http_route *routes;
	size_t n;
};

static size_t all_tables(struct table out[4])
{
	out[0].name = "rest_master_routes";
	out[0].routes = rest_master_routes(&out[0].n);
	out[1].name = "rest_fs_routes";
	out[1].routes = rest_fs_routes(&out[1].n);
	out[2].name = "rest_openapi_routes";
	out[2].routes = rest_openapi_routes(&out[2].n);
	out[3].name = "rest_worker_routes";
	out[3].routes = rest_worker_routes(&out[3].n);
	return 4;
}

/* Worker RPC and the peer block routes: what only workers may call. */
static bool is_worker_route(const char *pattern)
{
	return strncmp(pattern, "/api/v1/internal/", 17) == 0 ||
	       strcmp(pattern, "/api/v1/workers/register") == 0 ||
	       strcmp(pattern, "/api/v1/workers/heartbeat") == 0 ||
	       strcmp(pattern, "/api/v1/blocks/") == 0;
}

static void test_every_route_declares_its_level(void **state)
{
	struct table t[4];
	size_t nt = all_tables(t);
	int bad = 0;
	size_t nworker = 0;
	for (size_t i = 0; i < nt; i++) {
		assert_true(t[i].n > 0);
		for (size_t r = 0; r < t[i].n; r++) {
			const struct http_route *route = &t[i].routes[r];
			enum http_access a = route->access;
			if (a < HTTP_ACCESS_PUBLIC || a > HTTP_ACCESS_WORKER) {
				print_error("%s: %s %s declares no access level\n", t[i].name,
					    route->method, route->pattern);
				bad++;
				continue;
			}
			bool want_worker = is_worker_route(route->pattern);
			if (want_worker != (a == HTTP_ACCESS_WORKER)) {
				print_error("%s: %s %s is %s, want %s\n", t[i].name, route->method,
					    route->pattern, http_access_name(a),
					    want_worker ? "worker" : "not worker");
				bad++;
			}
			nworker += a == HTTP_ACCESS_WORKER;
		}
	}
	assert_int_equal(bad, 0);
	/* register, heartbeat, 6 internal routes, GET and PUT of blocks. */
	assert_int_equal(nworker, 10);
}

static void test_access_names(void **state)
{
	assert_string_equal(http_access_name(HTTP_ACCESS_PUBLIC), "public");
	assert_string_equal(http_access_name(HTTP_ACCESS_READONLY), "readonly");
	assert_string_equal(http_access_name(HTTP_ACCESS_ADMIN), "admin");
	assert_string_equal(http_access_name(HTTP_ACCESS_WORKER), "worker");
	assert_string_equal(http_access_name(HTTP_ACCESS_UNSET), "unset");
	assert_string_equal(http_access_name((enum http_access)99), "unset");
}

/* ---- dispatch on a real server ---- */

static atomic_int g_calls;

static void handle(struct http_req *req, void *ctx)
{
	atomic_fetch_add(&g_calls, 1);
	http_reply_raw(req, 200, "text/plain", "ok", 2);
}

static const struct http_route g_test_routes[] = {
	{ "GET", "/public", HTTP_ACCESS_PUBLIC, handle },
	{ "GET", "/readonly", HTTP_ACCESS_READONLY, handle },
	{ "POST", "/admin", HTTP_ACCESS_ADMIN, handle },
	{ "PUT", "/worker/", HTTP_ACCESS_WORKER, handle },
	{ "GET", "/unset", HTTP_ACCESS_UNSET, handle },
};

static struct http_server *start(const char *bind, const char *token)
{
	struct http_server_opts o = {
		.name = "routes test",
		.bind = bind,
		.port = 0,
		.threads = 2,
		.request_timeout_ms = 5000,
		.max_json_body = 1 << 20,
		.worker_token = token,
	};
	char err[256];
	struct http_server *srv = http_server_start(&o, g_test_routes,
						    sizeof(g_test_routes) / sizeof(g_test_routes[0]),
						    NULL, err, sizeof(err));
	if (!srv)
		fail_msg("%s", err);
	return srv;
}

/* One request: its status; the handler calls it caused in *calls, the reply
 * body in body (may be NULL). */
static long call(struct http_server *srv, const char *header, const char *method,
		 const char *path, int *calls, char *body, size_t bodylen)
{
	struct httpc_opts o = { .timeout_ms = 5000, .extra_header = header };
	struct httpc *hc = httpc_new(&o);
	assert_non_null(hc);
	char url[256], err[256];
	snprintf(url, sizeof(url), "%s%s", http_server_url(srv), path);
	struct httpc_resp resp = { 0 };
	int before = atomic_load(&g_calls);
	assert_int_equal(httpc_request(hc, method, url, "text/plain", "x", 1, &resp, err,
				       sizeof(err)),
			 0);
	*calls = atomic_load(&g_calls) - before;
	if (body)
		snprintf(body, bodylen, "%s", resp.body ? resp.body : "");
	long status = resp.status;
	httpc_resp_free(&resp);
	httpc_free(hc);
	return status;
}

static void test_worker_token_checked_before_the_handler(void **state)
{
	struct http_server *srv = start("127.0.0.1", "s3cret-token");
	int calls;
	char body[512];
	assert_int_equal(call(srv, NULL, "PUT", "/worker/7", &calls, body, sizeof(body)), 401);
	assert_int_equal(calls, 0);
	assert_non_null(strstr(body, "\"code\":\"unauthorized\""));
	assert_non_null(strstr(body, "X-Strata-Worker-Token is required"));

	assert_int_equal(call(srv, "X-Strata-Worker-Token: wrong", "PUT", "/worker/7", &calls,
			      body, sizeof(body)),
			 403);
	assert_int_equal(calls, 0);
	assert_non_null(strstr(body, "\"code\":\"forbidden\""));
	assert_non_null(strstr(body, "wrong X-Strata-Worker-Token"));

	/* A prefix of the token is as wrong as any other value. */
	assert_int_equal(call(srv, "X-Strata-Worker-Token: s3cret", "PUT", "/worker/7", &calls,
			      NULL, 0),
			 403);
	assert_int_equal(calls, 0);

	assert_int_equal(call(srv, "X-Strata-Worker-Token: s3cret-token", "PUT", "/worker/7",
			      &calls, NULL, 0),
			 200);
	assert_int_equal(calls, 1);

	/* With no user tokens (today) the reserved levels are served to all. */
	assert_int_equal(call(srv, NULL, "GET", "/public", &calls, NULL, 0), 200);
	assert_int_equal(calls, 1);
	assert_int_equal(call(srv, NULL, "GET", "/readonly", &calls, NULL, 0), 200);
	assert_int_equal(calls, 1);
	assert_int_equal(call(srv, NULL, "POST", "/admin", &calls, NULL, 0), 200);
	assert_int_equal(calls, 1);

	/* A route that forgot its level is refused, never served. */
	assert_int_equal(call(srv, "X-Strata-Worker-Token: s3cret-token", "GET", "/unset", &calls,
			      body, sizeof(body)),
			 500);
	assert_int_equal(calls, 0);
	assert_non_null(strstr(body, "declares no access level"));

	/* Routing still comes first: unknown paths and methods as before. */
	assert_int_equal(call(srv, NULL, "GET", "/worker/7", &calls, NULL, 0), 405);
	assert_int_equal(call(srv, NULL, "GET", "/nope", &calls, NULL, 0), 404);
	http_server_stop(srv);
}

static void test_no_token_serves_loopback_workers(void **state)
{
	struct http_server *srv = start("127.0.0.1", "");
	int calls;
	assert_int_equal(call(srv, NULL, "PUT", "/worker/7", &calls, NULL, 0), 200);
	assert_int_equal(calls, 1);
	/* Any header is ignored without a configured token. */
	assert_int_equal(call(srv, "X-Strata-Worker-Token: x", "PUT", "/worker/7", &calls, NULL,
			      0),
			 200);
	assert_int_equal(calls, 1);
	http_server_stop(srv);
}

/* A non-loopback IPv4 address of this machine into buf, or false. */
static bool local_address(char *buf, size_t len)
{
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs))
		return false;
	bool found = false;
	for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		if ((ntohl(a.s_addr) >> 24) == 127)
			continue;
		found = inet_ntop(AF_INET, &a, buf, (socklen_t)len) != NULL;
	}
	freeifaddrs(ifs);
	return found;
}

static void test_no_token_refuses_other_hosts(void **state)
{
	char addr[64];
	if (!local_address(addr, sizeof(addr)))
		skip(); /* a machine with only loopback cannot play "another host" */
	struct http_server *srv = start(addr, "");
	int calls;
	char body[512];
	assert_int_equal(call(srv, NULL, "PUT", "/worker/7", &calls, body, sizeof(body)), 403);
	assert_int_equal(calls, 0);
	assert_non_null(strstr(body, "set cluster.worker_token"));
	assert_int_equal(call(srv, NULL, "GET", "/public", &calls, NULL, 0), 200);
	http_server_stop(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_declares_its_level),
		cmocka_unit_test(test_access_names),
		cmocka_unit_test(test_worker_token_checked_before_the_handler),
		cmocka_unit_test(test_no_token_serves_loopback_workers),
		cmocka_unit_test(test_no_token_refuses_other_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
