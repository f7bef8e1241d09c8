#ifndef STRATA_API_REST_FS_H
#define STRATA_API_REST_FS_H

#include "api/http.h"

#include <stddef.h>

/* The namespace routes (/api/v1/mounts, /api/v1/files...) on the master;
 * handlers take a struct master * as ctx. */
const struct http_route *rest_fs_routes(size_t *nroutes);

#endif
