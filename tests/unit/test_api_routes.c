/* Tests of the access levels of api/http.h: every route of every table
 * declares one (worker RPC and the peer block routes as HTTP_ACCESS_WORKER),
 * and dispatch checks it once, before the handler, on a real server. */
#include "api/http.h"
#include "api/rest_fs.h"
#include "api/rest_history.h"
#include "api/rest_jobs.h"
#include "api/rest_master.h"
#include "api/rest_openapi.h"
#include "api/rest_worker.h"
#include "lib/httpc.h"
#include "lib/tokens.h"

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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

struct table {
	const char *name;
	const struct http_route *routes;
	size_t n;
};

static size_t all_tables(struct table out[6])
{
	out[0].name = "rest_master_routes";
	out[0].routes = rest_master_routes(&out[0].n);
	out[1].name = "rest_fs_routes";
	out[1].routes = rest_fs_routes(&out[1].n);
	out[2].name = "rest_openapi_routes";
	out[2].routes = rest_openapi_routes(&out[2].n);
	out[3].name = "rest_worker_routes";
	out[3].routes = rest_worker_routes(&out[3].n);
	out[4].name = "rest_history_routes";
	out[4].routes = rest_history_routes(&out[4].n);
	out[5].name = "rest_jobs_routes";
	out[5].routes = rest_jobs_routes(&out[5].n);
	return 6;
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
	struct table t[6];
	size_t nt = all_tables(t);
	int bad = 0;
	size_t nworker = 0;
	for (size_t i = 0; i < nt; i++) {
		assert_true(t[i].n > 0);
		for (size_t r = 0; r < t[i].n; r++) {
			const struct http_route *route = &t[i].routes[r];
			enum http_access a = route->access;
			if (a < HTTP_ACCESS_PUBLIC || a > HTTP_ACCESS_METRICS) {
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
	/* register, heartbeat, 6 internal routes, GET and PUT of blocks, the
	 * workers' load, free and persist. */
	assert_int_equal(nworker, 13);
}

/* What user tokens allow (docs/security.md): the public routes are health,
 * the OpenAPI document and (by config) /metrics; every other GET needs a
 * readonly token, every other method an admin token. */
static enum http_access want_user_level(const struct http_route *r)
{
	if (strcmp(r->pattern, "/api/v1/health") == 0 ||
	    strcmp(r->pattern, "/api/v1/auth") == 0 ||
	    strcmp(r->pattern, "/api/v1/openapi.json") == 0)
		return HTTP_ACCESS_PUBLIC;
	if (strcmp(r->pattern, "/metrics") == 0)
		return HTTP_ACCESS_METRICS;
	/* A backup holds every mount's store credentials: a GET for admins. */
	if (strcmp(r->pattern, "/api/v1/admin/backup") == 0)
		return HTTP_ACCESS_ADMIN;
	return strcmp(r->method, "GET") == 0 ? HTTP_ACCESS_READONLY : HTTP_ACCESS_ADMIN;
}

static void test_user_routes_need_the_right_role(void **state)
{
	struct table t[6];
	size_t nt = all_tables(t);
	int bad = 0;
	size_t nadmin = 0;
	for (size_t i = 0; i < nt; i++) {
		for (size_t r = 0; r < t[i].n; r++) {
			const struct http_route *route = &t[i].routes[r];
			if (is_worker_route(route->pattern))
				continue;
			enum http_access want = want_user_level(route);
			if (route->access != want) {
				print_error("%s: %s %s is %s, want %s\n", t[i].name, route->method,
					    route->pattern, http_access_name(route->access),
					    http_access_name(want));
				bad++;
			}
			nadmin += route->access == HTTP_ACCESS_ADMIN;
		}
	}
	assert_int_equal(bad, 0);
	assert_true(nadmin >= 10);
}

static void test_access_names(void **state)
{
	assert_string_equal(http_access_name(HTTP_ACCESS_PUBLIC), "public");
	assert_string_equal(http_access_name(HTTP_ACCESS_READONLY), "readonly");
	assert_string_equal(http_access_name(HTTP_ACCESS_ADMIN), "admin");
	assert_string_equal(http_access_name(HTTP_ACCESS_WORKER), "worker");
	assert_string_equal(http_access_name(HTTP_ACCESS_METRICS), "metrics");
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
	{ "GET", "/metrics", HTTP_ACCESS_METRICS, handle },
};

struct auth_opts {
	const char *token_file;
	bool metrics_public;
	bool insecure;
};

/* http_server_start with user auth; NULL with the reason in err. */
static struct http_server *try_start(const char *bind, const char *token,
				     const struct auth_opts *a, char *err, size_t errlen)
{
	struct http_server_opts o = {
		.name = "routes test",
		.bind = bind,
		.port = 0,
		.threads = 2,
		.request_timeout_ms = 5000,
		.max_json_body = 1 << 20,
		.worker_token = token,
		.token_file = a->token_file,
		.metrics_public = a->metrics_public,
		.insecure_no_auth = a->insecure,
	};
	return http_server_start(&o, g_test_routes, sizeof(g_test_routes) / sizeof(g_test_routes[0]),
				 NULL, err, errlen);
}

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

	/* Without a token file the user levels are served to all. */
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

/* ---- user tokens ---- */

struct tokfix {
	char dir[64], path[96];
	struct tokens_set set;
	char admin[TOKENS_TOKEN_LEN + 1], ro[TOKENS_TOKEN_LEN + 1];
};

static void make_token(struct tokfix *f, enum tokens_role role, unsigned char seed, char *tok)
{
	unsigned char rnd[TOKENS_RANDOM_LEN];
	memset(rnd, seed, sizeof(rnd));
	char err[256];
	assert_int_equal(tokens_create(&f->set, role, "test", 1, rnd, tok, TOKENS_TOKEN_LEN + 1,
				       err, sizeof(err)),
			 0);
}

static void fixture(struct tokfix *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/strata-routes-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/tokens", f->dir);
	make_token(f, TOKENS_ROLE_ADMIN, 1, f->admin);
	make_token(f, TOKENS_ROLE_READONLY, 2, f->ro);
	char err[256];
	assert_int_equal(tokens_save(f->path, &f->set, err, sizeof(err)), 0);
}

static void fixture_done(struct tokfix *f)
{
	unlink(f->path);
	rmdir(f->dir);
	tokens_set_free(&f->set);
}

static long bearer(struct http_server *srv, const char *tok, const char *method,
		   const char *path, int *calls, char *body, size_t len)
{
	char h[200];
	snprintf(h, sizeof(h), "Authorization: Bearer %s", tok);
	return call(srv, h, method, path, calls, body, len);
}

static void test_user_tokens_checked_before_the_handler(void **state)
{
	struct tokfix f;
	fixture(&f);
	struct auth_opts a = { .token_file = f.path, .metrics_public = true };
	char err[512], body[512];
	struct http_server *srv = try_start("127.0.0.1", "wtok", &a, err, sizeof(err));
	if (!srv)
		fail_msg("%s", err);
	int calls;
	assert_int_equal(call(srv, NULL, "GET", "/readonly", &calls, body, sizeof(body)), 401);
	assert_int_equal(calls, 0);
	assert_non_null(strstr(body, "\"code\":\"unauthorized\""));
	assert_non_null(strstr(body, "needs a token"));
	assert_int_equal(call(srv, NULL, "POST", "/admin", &calls, NULL, 0), 401);
	assert_int_equal(calls, 0);
	assert_int_equal(call(srv, "Authorization: Basic eDp5", "GET", "/readonly", &calls, body,
			      sizeof(body)),
			 401);
	assert_non_null(strstr(body, "Bearer <token>"));
	assert_int_equal(bearer(srv, "stk_nothex", "GET", "/readonly", &calls, body, sizeof(body)),
			 401);
	assert_non_null(strstr(body, "malformed token"));
	/* The right id with a wrong secret, one character off. */
	char wrong[TOKENS_TOKEN_LEN + 1];
	snprintf(wrong, sizeof(wrong), "%s", f.admin);
	wrong[TOKENS_TOKEN_LEN - 1] = wrong[TOKENS_TOKEN_LEN - 1] == '0' ? '1' : '0';
	assert_int_equal(bearer(srv, wrong, "POST", "/admin", &calls, body, sizeof(body)), 401);
	assert_int_equal(calls, 0);
	assert_non_null(strstr(body, "invalid or revoked token"));

	assert_int_equal(bearer(srv, f.ro, "GET", "/readonly", &calls, NULL, 0), 200);
	assert_int_equal(calls, 1);
	assert_int_equal(bearer(srv, f.ro, "POST", "/admin", &calls, body, sizeof(body)), 403);
	assert_int_equal(calls, 0);
	assert_non_null(strstr(body, "\"code\":\"forbidden\""));
	assert_non_null(strstr(body, "token role readonly cannot POST /admin"));
	assert_int_equal(bearer(srv, f.admin, "POST", "/admin", &calls, NULL, 0), 200);
	assert_int_equal(calls, 1);
	assert_int_equal(bearer(srv, f.admin, "GET", "/readonly", &calls, NULL, 0), 200);

	/* Public stays public; /metrics as configured; the worker credential
	 * is admin on user routes, and tokens do not open worker routes. */
	assert_int_equal(call(srv, NULL, "GET", "/public", &calls, NULL, 0), 200);
	assert_int_equal(call(srv, NULL, "GET", "/metrics", &calls, NULL, 0), 200);
	assert_int_equal(call(srv, "X-Strata-Worker-Token: wtok", "POST", "/admin", &calls, NULL,
			      0),
			 200);
	assert_int_equal(calls, 1);
	assert_int_equal(call(srv, "X-Strata-Worker-Token: wtoX", "POST", "/admin", &calls, NULL,
			      0),
			 401);
	assert_int_equal(bearer(srv, f.admin, "PUT", "/worker/1", &calls, NULL, 0), 401);
	assert_int_equal(calls, 0);

	/* A revoke is seen without a restart (the file is looked at once a
	 * second). */
	char id[TOKENS_ID_LEN + 1];
	const char *secret;
	assert_int_equal(tokens_split(f.ro, id, &secret), 0);
	assert_int_equal(tokens_revoke(&f.set, id), 0);
	assert_int_equal(tokens_save(f.path, &f.set, err, sizeof(err)), 0);
	usleep(1100 * 1000);
	assert_int_equal(bearer(srv, f.ro, "GET", "/readonly", &calls, body, sizeof(body)), 401);
	assert_int_equal(calls, 0);
	assert_int_equal(bearer(srv, f.admin, "GET", "/readonly", &calls, NULL, 0), 200);
	http_server_stop(srv);

	a.metrics_public = false;
	srv = try_start("127.0.0.1", NULL, &a, err, sizeof(err));
	assert_non_null(srv);
	assert_int_equal(call(srv, NULL, "GET", "/metrics", &calls, NULL, 0), 401);
	assert_int_equal(bearer(srv, f.admin, "GET", "/metrics", &calls, NULL, 0), 200);
	http_server_stop(srv);
	fixture_done(&f);
}

static void test_no_token_on_loopback_is_open(void **state)
{
	struct tokfix f;
	fixture(&f);
	unlink(f.path); /* no file at all */
	struct auth_opts a = { .token_file = f.path };
	char err[512];
	struct http_server *srv = try_start("127.0.0.1", NULL, &a, err, sizeof(err));
	if (!srv)
		fail_msg("%s", err);
	int calls;
	assert_int_equal(call(srv, NULL, "POST", "/admin", &calls, NULL, 0), 200);
	assert_int_equal(call(srv, NULL, "GET", "/metrics", &calls, NULL, 0), 200);
	/* The first token turns auth on, without a restart. */
	assert_int_equal(tokens_save(f.path, &f.set, err, sizeof(err)), 0);
	usleep(1100 * 1000);
	assert_int_equal(call(srv, NULL, "POST", "/admin", &calls, NULL, 0), 401);
	assert_int_equal(bearer(srv, f.admin, "POST", "/admin", &calls, NULL, 0), 200);
	/* A file made unusable fails closed. */
	assert_int_equal(chmod(f.path, 0644), 0);
	usleep(1100 * 1000);
	char body[512];
	assert_int_equal(bearer(srv, f.admin, "POST", "/admin", &calls, body, sizeof(body)), 401);
	assert_non_null(strstr(body, "token file is unusable"));
	http_server_stop(srv);
	fixture_done(&f);
}

static void test_unusable_token_file_fails_the_start(void **state)
{
	struct tokfix f;
	fixture(&f);
	struct auth_opts a = { .token_file = f.path };
	char err[768];
	assert_int_equal(chmod(f.path, 0640), 0);
	assert_null(try_start("127.0.0.1", NULL, &a, err, sizeof(err)));
	assert_non_null(strstr(err, f.path));
	assert_non_null(strstr(err, "mode 0640"));
	assert_int_equal(chmod(f.path, 0600), 0);
	FILE *fp = fopen(f.path, "a");
	fputs("zz:admin:x:y:1:n\n", fp);
	fclose(fp);
	assert_null(try_start("127.0.0.1", NULL, &a, err, sizeof(err)));
	assert_non_null(strstr(err, "line 5: id"));
	fixture_done(&f);
}

static bool local_address(char *buf, size_t len);

static void test_other_hosts_need_a_token(void **state)
{
	char addr[64];
	if (!local_address(addr, sizeof(addr)))
		skip();
	struct tokfix f;
	fixture(&f);
	unlink(f.path);
	struct auth_opts a = { .token_file = f.path };
	char err[768];
	assert_null(try_start(addr, NULL, &a, err, sizeof(err)));
	assert_non_null(strstr(err, "not loopback"));
	assert_non_null(strstr(err, "http.insecure_no_auth"));
	a.insecure = true;
	struct http_server *srv = try_start(addr, NULL, &a, err, sizeof(err));
	if (!srv)
		fail_msg("%s", err);
	int calls;
	assert_int_equal(call(srv, NULL, "POST", "/admin", &calls, NULL, 0), 200);
	http_server_stop(srv);
	/* With a token, a non-loopback bind starts and checks it. */
	a.insecure = false;
	assert_int_equal(tokens_save(f.path, &f.set, err, sizeof(err)), 0);
	srv = try_start(addr, NULL, &a, err, sizeof(err));
	if (!srv)
		fail_msg("%s", err);
	assert_int_equal(call(srv, NULL, "GET", "/readonly", &calls, NULL, 0), 401);
	assert_int_equal(bearer(srv, f.ro, "GET", "/readonly", &calls, NULL, 0), 200);
	http_server_stop(srv);
	fixture_done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_declares_its_level),
		cmocka_unit_test(test_access_names),
		cmocka_unit_test(test_worker_token_checked_before_the_handler),
		cmocka_unit_test(test_no_token_serves_loopback_workers),
		cmocka_unit_test(test_no_token_refuses_other_hosts),
		cmocka_unit_test(test_user_routes_need_the_right_role),
		cmocka_unit_test(test_user_tokens_checked_before_the_handler),
		cmocka_unit_test(test_no_token_on_loopback_is_open),
		cmocka_unit_test(test_unusable_token_file_fails_the_start),
		cmocka_unit_test(test_other_hosts_need_a_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
