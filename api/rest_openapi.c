#include "api/rest_openapi.h"

#include <stddef.h>

/* Defined by the source api/openapi.cmake generates from docs/openapi.json. */
extern const unsigned char rest_openapi_doc[];
extern const size_t rest_openapi_doc_len;

const char *rest_openapi_document(size_t *len)
{
	*len = rest_openapi_doc_len;
	return (const char *)rest_openapi_doc;
}

static void get_openapi(struct http_req *req, void *ctx)
{
	http_reply_raw(req, 200, "application/json", rest_openapi_doc, rest_openapi_doc_len);
}

static const struct http_route g_routes[] = {
	{ "GET", "/api/v1/openapi.json", HTTP_ACCESS_PUBLIC, get_openapi },
};

const struct http_route *rest_openapi_routes(size_t *nroutes)
{
	*nroutes = sizeof(g_routes) / sizeof(g_routes[0]);
	return g_routes;
}
