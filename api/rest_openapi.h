#ifndef STRATA_API_REST_OPENAPI_H
#define STRATA_API_REST_OPENAPI_H

#include "api/http.h"

#include <stddef.h>

/* GET /api/v1/openapi.json on the master: docs/openapi.json, embedded at
 * build time (api/openapi.cmake), so what is served is what was built. The
 * handler ignores ctx. */
const struct http_route *rest_openapi_routes(size_t *nroutes);

/* The embedded document: static bytes (followed by a NUL not counted in
 * *len); never freed. */
const char *rest_openapi_document(size_t *len);

#endif
