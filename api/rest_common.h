#ifndef STRATA_API_REST_COMMON_H
#define STRATA_API_REST_COMMON_H

#include "lib/conf.h"

struct cJSON;

/* {"keys":[{"key","type","value","default"}...]} for GET /api/v1/config. */
struct cJSON *rest_config_json(const struct strata_conf *conf);

#endif
