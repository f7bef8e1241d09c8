#ifndef STRATA_API_REST_COMMON_H
#define STRATA_API_REST_COMMON_H

#include "lib/conf.h"

#include <stdbool.h>

struct cJSON;

/* {"keys":[{"key","type","value","default"}...]} for GET /api/v1/config. */
struct cJSON *rest_config_json(const struct strata_conf *conf);

struct http_req;

/*
 * Guards worker RPC (registration, heartbeats, /api/v1/internal/...): with
 * cluster.worker_token set the request must carry it in
 * X-Strata-Worker-Token (compared in constant time); without one only
 * loopback peers are served. Replies 403 and returns false otherwise.
 */
bool rest_worker_authorized(struct http_req *req, const struct strata_conf *conf);

#endif
