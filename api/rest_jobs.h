#ifndef STRATA_API_REST_JOBS_H
#define STRATA_API_REST_JOBS_H

#include "api/http.h"

#include <stddef.h>

/* /api/v1/jobs: data jobs (load, free; daemon/master/datajobs.h).
 * Handlers take a struct master *. */
const struct http_route *rest_jobs_routes(size_t *nroutes);

#endif
