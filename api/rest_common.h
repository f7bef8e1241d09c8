#ifndef STRATA_API_REST_COMMON_H
#define STRATA_API_REST_COMMON_H

#include "lib/conf.h"

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* {"keys":[{"key","type","value","default"}...]} for GET /api/v1/config. */
struct cJSON *rest_config_json(const struct strata_conf *conf);

struct http_req;

/* Reads query parameter `name` as a namespace path and normalizes it (the
 * one place REST paths are normalized); on failure replies 400 and returns
 * non-zero. */
int rest_path_param(struct http_req *req, const char *name, char *out, size_t outlen);

#endif
