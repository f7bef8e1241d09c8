#ifndef STRATA_API_S3_BACKEND_WORKER_H
#define STRATA_API_S3_BACKEND_WORKER_H

#include "api/s3_gateway.h"

/*
 * The S3 gateway's backend on a worker: bucket = top-level directory of the
 * namespace, key = path below it. Metadata and listings come from the
 * master's index (never by scanning a store); object bytes go through the
 * worker's block cache on read and the worker's write path on write
 * (CACHE_THROUGH). Multipart parts wait in <worker.data_dir>/mpu/ until
 * completion streams them into one write. ctx is a struct worker_node *.
 */
const struct s3_backend *s3_backend_worker(void);

/* The namespace path of bucket/key ("/bucket/key", normalized, without a
 * trailing '/'), as every backend call derives it; -EINVAL when it cannot
 * be a path, -ENAMETOOLONG. Pure. */
int s3_backend_worker_path(const char *bucket, const char *key, char *out, size_t len);

#endif
