#ifndef STRATA_API_REST_CONSOLE_H
#define STRATA_API_REST_CONSOLE_H

#include "api/http.h"

#include <stddef.h>

/* The web console's files (console/web/static, embedded): GET / is the
 * page, GET /console/<path> the rest. Public, read-only; handlers ignore
 * ctx, so any daemon may serve them. */
const struct http_route *rest_console_routes(size_t *nroutes);

#endif
