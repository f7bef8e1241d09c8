#ifndef STRATA_WORKER_S3ACCESS_H
#define STRATA_WORKER_S3ACCESS_H

/*
 * The worker's S3 access keys: the key file (lib/s3keys.h) as the S3
 * server sees it, re-read when it changes (its inode, size, mtime, ctime or mode; looked
 * at no more than once a second, by whichever request comes first), plus
 * the buckets open to anonymous reads. Its functions have the shapes of
 * struct s3_gw_auth's callbacks (main.c wires them); all are thread-safe
 * and never block on I/O except that once-a-second stat and, on a change,
 * the read of the file.
 *
 * Derived signing keys are cached per thread, per (key id, date, region,
 * service) and file generation: a signed hit costs one HMAC for the
 * signature, not five.
 *
 * A file that turns unreadable, group/world-readable or malformed while
 * running is logged and the keys loaded before stay in force (a half-
 * written edit must not open the port); a file that is removed means no
 * keys: the S3 port is open again (logged as a warning).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct s3access;
struct conf_list;

/*
 * Loads path (it may be missing: no keys). -EACCES for a file group or
 * others may read (err names the file and its mode), -EINVAL for a
 * malformed one (err names the line and field): the worker refuses to
 * start with either. anonymous_buckets is copied.
 */
int s3access_open(const char *path, const struct conf_list *anonymous_buckets,
		  struct s3access **out, char *err, size_t errlen);
void s3access_free(struct s3access *a);

/* Keys loaded now (after a reload check). */
size_t s3access_nkeys(struct s3access *a);

/* struct s3_gw_auth callbacks; arg is the struct s3access. */
bool s3access_required(void *arg);
int s3access_signing_key(void *arg, const char *access_key, const char *date,
			 const char *region, const char *service, unsigned char key[32]);
/* 0, or -EACCES (the gateway's AccessDenied) with the reason in err. */
int s3access_allow(void *arg, const char *access_key, const char *bucket, bool write,
		   char *err, size_t errlen);
bool s3access_anonymous_read(void *arg, const char *bucket);

/* Re-reads the file now if it changed (tests, SIGHUP); otherwise at most
 * once a second on the request path. */
void s3access_check(struct s3access *a, bool force);

#endif
