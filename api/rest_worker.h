#ifndef STRATA_API_REST_WORKER_H
#define STRATA_API_REST_WORKER_H

#include "api/http.h"

#include <stddef.h>

/* The worker's REST v1 routes on its data/RPC port; ctx is a
 * struct worker_node *. */
const struct http_route *rest_worker_routes(size_t *nroutes);

#endif
