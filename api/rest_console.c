/*
 * Serves the embedded web console. Every reply carries a strict
 * Content-Security-Policy (only this origin; no inline script or style,
 * which the console never needs: it builds its DOM from modules) and an
 * ETag from the content, so a reload revalidates with a 304.
 */
#include "api/rest_console.h"

#include "console/web/console_assets.h"

#include <string.h>

#define CSP                                                                               \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "   \
	"frame-ancestors 'none'"

static void serve(struct http_req *req, const char *path)
{
	const struct console_asset *a = console_asset_find(path);
	if (!a) {
		http_reply_error(req, 404, "not_found", "the console has no file '%.200s'", path);
		return;
	}
	struct http_header h[] = {
		{ "Content-Security-Policy", CSP },
		{ "X-Content-Type-Options", "nosniff" },
		{ "Referrer-Policy", "no-referrer" },
		{ "X-Frame-Options", "DENY" },
		/* Paths are not versioned: keep a copy, but ask each time. */
		{ "Cache-Control", "no-cache" },
		{ "ETag", a->etag },
	};
	size_t nh = sizeof(h) / sizeof(h[0]);
	const char *inm = http_req_header(req, "If-None-Match");
	if (inm && strstr(inm, a->etag)) {
		http_reply_start_headers(req, 304, NULL, 0, h, nh);
		return;
	}
	http_reply_start_headers(req, 200, a->content_type, a->len, h, nh);
	http_reply_write(req, a->data, a->len);
}

static void get_index(struct http_req *req, void *ctx)
{
	(void)ctx;
	serve(req, "index.html");
}

static void get_asset(struct http_req *req, void *ctx)
{
	(void)ctx;
	const char *rest = http_req_rest(req);
	serve(req, *rest ? rest : "index.html");
}

static const struct http_route g_routes[] = {
	{ "GET", "/", HTTP_ACCESS_PUBLIC, get_index },
	{ "GET", "/console/", HTTP_ACCESS_PUBLIC, get_asset },
};

const struct http_route *rest_console_routes(size_t *nroutes)
{
	*nroutes = sizeof(g_routes) / sizeof(g_routes[0]);
	return g_routes;
}
