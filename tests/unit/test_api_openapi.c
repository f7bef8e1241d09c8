/* Tests that docs/openapi.json and the REST route tables never drift: every
 * route of rest_master_routes, rest_fs_routes, rest_openapi_routes and
 * rest_history_routes (the master) and of rest_worker_routes (the worker) is documented with its
 * method and daemon (x-strata-daemons), every documented operation is in a
 * table of each daemon it names, and the document the master serves is the
 * one in the source tree; each documented x-strata-access is the level the
 * route declares (api/http.h). */
#include "api/rest_fs.h"
#include "api/rest_history.h"
#include "api/rest_jobs.h"
#include "api/rest_master.h"
#include "api/rest_openapi.h"
#include "api/rest_worker.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static cJSON *g_doc;

static int load(void **state)
{
	size_t len = 0;
	const char *text = rest_openapi_document(&len);
	g_doc = cJSON_ParseWithLength(text, len);
	return g_doc ? 0 : -1;
}

static int unload(void **state)
{
	cJSON_Delete(g_doc);
	g_doc = NULL;
	return 0;
}

/* The route tables of one daemon. */
struct table {
	const struct http_route *routes;
	size_t n;
};

static size_t master_tables(struct table out[5])
{
	out[0].routes = rest_master_routes(&out[0].n);
	out[1].routes = rest_fs_routes(&out[1].n);
	out[2].routes = rest_openapi_routes(&out[2].n);
	out[3].routes = rest_history_routes(&out[3].n);
	out[4].routes = rest_jobs_routes(&out[4].n);
	return 5;
}

static size_t worker_tables(struct table out[4])
{
	out[0].routes = rest_worker_routes(&out[0].n);
	return 1;
}

static void lower(const char *in, char *out, size_t outlen)
{
	size_t i = 0;
	for (; in[i] && i + 1 < outlen; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

/* The route pattern a document path stands for: itself, or for a path
 * ending in one templated segment ("/api/v1/blocks/{block_id}") the prefix
 * route ("/api/v1/blocks/", http.h). A template elsewhere has no route. */
static bool pattern_of(const char *doc_path, char *out, size_t outlen)
{
	const char *brace = strchr(doc_path, '{');
	if (!brace) {
		snprintf(out, outlen, "%s", doc_path);
		return true;
	}
	const char *close = strchr(brace, '}');
	if (brace == doc_path || brace[-1] != '/' || !close || close[1] != '\0')
		return false;
	snprintf(out, outlen, "%.*s", (int)(brace - doc_path), doc_path);
	return true;
}

/* The operation object for method+route pattern, or NULL. */
static const cJSON *find_op(const char *method, const char *pattern)
{
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(g_doc, "paths");
	const cJSON *item;
	char m[16], p[512];
	lower(method, m, sizeof(m));
	cJSON_ArrayForEach(item, paths)
	{
		if (pattern_of(item->string, p, sizeof(p)) && strcmp(p, pattern) == 0)
			return cJSON_GetObjectItemCaseSensitive(item, m);
	}
	return NULL;
}

static bool names_daemon(const cJSON *op, const char *daemon)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(op, "x-strata-daemons"))
	{
		if (cJSON_IsString(d) && strcmp(d->valuestring, daemon) == 0)
			return true;
	}
	return false;
}

static bool in_tables(const struct table *t, size_t ntables, const char *method,
		      const char *pattern)
{
	for (size_t i = 0; i < ntables; i++)
		for (size_t r = 0; r < t[i].n; r++)
			if (strcasecmp(t[i].routes[r].method, method) == 0 &&
			    strcmp(t[i].routes[r].pattern, pattern) == 0)
				return true;
	return false;
}

static int check_routes_documented(const struct table *t, size_t ntables, const char *daemon)
{
	int missing = 0;
	for (size_t i = 0; i < ntables; i++) {
		assert_true(t[i].n > 0);
		for (size_t r = 0; r < t[i].n; r++) {
			const struct http_route *route = &t[i].routes[r];
			const cJSON *op = find_op(route->method, route->pattern);
			if (!op || !names_daemon(op, daemon)) {
				print_error("%s route %s %s is not in docs/openapi.json%s\n", daemon,
					    route->method, route->pattern,
					    op ? " for this daemon (x-strata-daemons)" : "");
				missing++;
				continue;
			}
			/* The documented access level is the one dispatch checks. */
			const cJSON *access = cJSON_GetObjectItemCaseSensitive(op, "x-strata-access");
			const char *want = http_access_name(route->access);
			if (!cJSON_IsString(access) || strcmp(access->valuestring, want) != 0) {
				print_error("%s %s: x-strata-access is %s, the route table says %s\n",
					    route->method, route->pattern,
					    cJSON_IsString(access) ? access->valuestring : "missing",
					    want);
				missing++;
			}
			/* And its security: public none, user levels the bearer token. */
			const cJSON *sec = cJSON_GetObjectItemCaseSensitive(op, "security");
			char *text = sec ? cJSON_PrintUnformatted(sec) : NULL;
			bool user = route->access == HTTP_ACCESS_READONLY ||
				    route->access == HTTP_ACCESS_ADMIN ||
				    route->access == HTTP_ACCESS_METRICS;
			bool ok = text && (route->access == HTTP_ACCESS_PUBLIC ? strcmp(text, "[]") == 0
					   : user ? strstr(text, "bearerToken") != NULL
						  : strstr(text, "workerToken") != NULL);
			if (!ok) {
				print_error("%s %s: security is %s\n", route->method, route->pattern,
					    text ? text : "missing");
				missing++;
			}
			free(text);
		}
	}
	return missing;
}

static void test_every_route_is_documented(void **state)
{
	struct table t[5];
	size_t n = master_tables(t);
	int missing = check_routes_documented(t, n, "master");
	n = worker_tables(t);
	missing += check_routes_documented(t, n, "worker");
	assert_int_equal(missing, 0);
}

static void test_every_operation_is_routed(void **state)
{
	static const char *const methods[] = { "get", "put", "post", "delete", "patch",
					       "head", "options", "trace" };
	struct table mt[5], wt[5];
	size_t nm = master_tables(mt), nw = worker_tables(wt);
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(g_doc, "paths");
	assert_true(cJSON_IsObject(paths));
	int stray = 0, ops = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, paths)
	{
		for (size_t k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
			const cJSON *op = cJSON_GetObjectItemCaseSensitive(item, methods[k]);
			if (!op)
				continue;
			ops++;
			char pattern[512];
			if (!pattern_of(item->string, pattern, sizeof(pattern))) {
				print_error("%s: only a last path segment may be templated\n",
					    item->string);
				stray++;
				continue;
			}
			const cJSON *daemons = cJSON_GetObjectItemCaseSensitive(op, "x-strata-daemons");
			if (!cJSON_IsArray(daemons) || cJSON_GetArraySize(daemons) == 0) {
				print_error("%s %s has no x-strata-daemons\n", methods[k], item->string);
				stray++;
				continue;
			}
			const cJSON *d;
			cJSON_ArrayForEach(d, daemons)
			{
				bool master = cJSON_IsString(d) && strcmp(d->valuestring, "master") == 0;
				bool worker = cJSON_IsString(d) && strcmp(d->valuestring, "worker") == 0;
				if ((master && in_tables(mt, nm, methods[k], pattern)) ||
				    (worker && in_tables(wt, nw, methods[k], pattern)))
					continue;
				print_error("%s %s is documented for %s but no route serves it\n",
					    methods[k], item->string,
					    cJSON_IsString(d) ? d->valuestring : "?");
				stray++;
			}
			/* Every operation documents its success and its error envelope. */
			const cJSON *responses = cJSON_GetObjectItemCaseSensitive(op, "responses");
			if (!cJSON_IsObject(responses) || cJSON_GetArraySize(responses) < 2) {
				print_error("%s %s lacks responses\n", methods[k], item->string);
				stray++;
			}
		}
	}
	assert_int_equal(stray, 0);
	assert_true(ops >= 18);
}

static void test_document_shape(void **state)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(g_doc, "openapi");
	assert_true(cJSON_IsString(v));
	assert_memory_equal(v->valuestring, "3.0.", 4);
	assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(g_doc, "info")));
	/* The error envelope: {"error":{"code","message"}}. */
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g_doc, "components"),
						 "schemas"),
		"Error");
	assert_non_null(err);
	const cJSON *inner = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(err, "properties"), "error");
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(inner, "properties");
	assert_non_null(cJSON_GetObjectItemCaseSensitive(props, "code"));
	assert_non_null(cJSON_GetObjectItemCaseSensitive(props, "message"));
	/* Every $ref resolves. */
	char *text = cJSON_PrintUnformatted(g_doc);
	assert_non_null(text);
	const char *comps = "#/components/";
	for (const char *p = strstr(text, "\"$ref\":\""); p; p = strstr(p + 1, "\"$ref\":\"")) {
		const char *ref = p + 8;
		assert_memory_equal(ref, comps, strlen(comps));
		const char *kind = ref + strlen(comps);
		const char *slash = strchr(kind, '/'), *end = strchr(kind, '"');
		assert_non_null(slash);
		assert_non_null(end);
		char k[64], name[128];
		snprintf(k, sizeof(k), "%.*s", (int)(slash - kind), kind);
		snprintf(name, sizeof(name), "%.*s", (int)(end - slash - 1), slash + 1);
		const cJSON *section = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(g_doc, "components"), k);
		if (!cJSON_GetObjectItemCaseSensitive(section, name))
			print_error("dangling $ref %s/%s\n", k, name);
		assert_non_null(cJSON_GetObjectItemCaseSensitive(section, name));
	}
	free(text);
}

/* The embedded bytes are exactly docs/openapi.json. */
static void test_embedded_matches_source(void **state)
{
	FILE *f = fopen(STRATA_SOURCE_DIR "/docs/openapi.json", "rb");
	assert_non_null(f);
	size_t cap = 1 << 20, n;
	char *buf = malloc(cap);
	assert_non_null(buf);
	n = fread(buf, 1, cap, f);
	fclose(f);
	size_t len = 0;
	const char *doc = rest_openapi_document(&len);
	assert_int_equal(n, len);
	assert_memory_equal(buf, doc, len);
	assert_int_equal(doc[len], '\0');
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_is_documented),
		cmocka_unit_test(test_every_operation_is_routed),
		cmocka_unit_test(test_document_shape),
		cmocka_unit_test(test_embedded_matches_source),
	};
	return cmocka_run_group_tests_name("api_openapi", tests, load, unload);
}
