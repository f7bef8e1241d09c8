#ifndef STRATA_API_S3_BACKEND_WORKER_H
#define STRATA_API_S3_BACKEND_WORKER_H

#include "api/s3_gateway.h"

/*
 * The S3 gateway's backend on a worker: an adapter to the worker's object
 * operations (daemon/worker/objects.h, where the rules live). ctx is a
 * struct worker_node *.
 */
const struct s3_backend *s3_backend_worker(void);

/* The namespace path of bucket/key ("/bucket/key", normalized, without a
 * trailing '/'), as every backend call derives it; -EINVAL when it cannot
 * be a path, -ENAMETOOLONG. Pure. */
int s3_backend_worker_path(const char *bucket, const char *key, char *out, size_t len);

#endif
