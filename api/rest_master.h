#ifndef STRATA_API_REST_MASTER_H
#define STRATA_API_REST_MASTER_H

#include "api/http.h"

#include <stddef.h>

/* The master's REST v1 routes; handlers take a struct master * as ctx. */
const struct http_route *rest_master_routes(size_t *nroutes);

#endif
