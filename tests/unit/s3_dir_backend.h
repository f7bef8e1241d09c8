#ifndef STRATA_TESTS_S3_DIR_BACKEND_H
#define STRATA_TESTS_S3_DIR_BACKEND_H

/*
 * TEST FIXTURE: a real struct s3_backend over a local directory, for the
 * gateway tests (tests/unit/test_s3_gateway.c). Bucket b is ROOT/b, key
 * x/y is ROOT/b/x/y; ETags live in the user.s3.etag xattr; multipart
 * uploads are staged in ROOT/.s3-uploads/<id>/. It is not the worker's
 * backend (that one is the namespace + block cache), but it keeps the same
 * contract (api/s3_gateway.h), so the gateway is tested end to end.
 */

#include "api/s3_gateway.h"

struct s3_dir_backend;

/* root must exist. NULL on failure (err says why). */
struct s3_dir_backend *s3_dir_backend_new(const char *root, char *err, size_t errlen);
void s3_dir_backend_free(struct s3_dir_backend *db);
/* Fault injection: every read fails with rc before any byte (0: off). */
void s3_dir_backend_fail_reads(struct s3_dir_backend *db, int rc);
/* The vtable; pass the struct s3_dir_backend as its ctx. */
const struct s3_backend *s3_dir_backend_ops(void);

#endif
