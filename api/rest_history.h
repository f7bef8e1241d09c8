#ifndef STRATA_API_REST_HISTORY_H
#define STRATA_API_REST_HISTORY_H

#include "api/http.h"

#include <stddef.h>

/* GET /api/v1/metrics/history: the master's ring of cluster samples
 * (daemon/master/history.h), columnar. Handlers take a struct master *. */
const struct http_route *rest_history_routes(size_t *nroutes);

#endif
