#ifndef STRATA_LIB_S3KEYS_H
#define STRATA_LIB_S3KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * S3 access keys: the key file a worker reads (worker.s3.key_file) and
 * `strata admin s3key` writes. SigV4 needs the secret itself to verify a
 * signature, so secrets are stored in clear: the file is 0600 in a 0700
 * directory, and s3keys_load refuses it when group or others may read it.
 *
 * Format (text, one key per line, '#' comments and blank lines ignored):
 *
 *   # strata S3 access keys v1
 *   <id> <secret> <role> <buckets> <created>
 *
 *   id       S3KEY_ID_MIN..S3KEY_ID_MAX characters of [A-Z0-9]
 *   secret   S3KEY_SECRET_MIN..S3KEY_SECRET_MAX characters of [A-Za-z0-9+/]
 *   role     "admin" (every operation) or "readonly" (GET, HEAD, listings)
 *   buckets  "*" (every bucket) or a comma-separated list of bucket names
 *            ([A-Za-z0-9._-], 1..63 characters each, not "." or "..", as the
 *            gateway accepts them; at most S3KEY_MAX_BUCKETS)
 *   created  seconds since the epoch (decimal)
 *
 * Fields are separated by one or more spaces or tabs; ids are unique.
 * Parsing is pure (bytes in, keys out); s3keys_load/s3keys_save are the
 * only functions that touch files.
 */

#define S3KEY_ID_MIN 16
#define S3KEY_ID_MAX 128
#define S3KEY_SECRET_MIN 16
#define S3KEY_SECRET_MAX 128
#define S3KEY_MAX_BUCKETS 64
#define S3KEY_BUCKETS_MAX (S3KEY_MAX_BUCKETS * 64)
#define S3KEYS_MAX 10000
#define S3KEYS_FILE_MAX (4u << 20)

enum s3key_role { S3KEY_ADMIN, S3KEY_READONLY };

struct s3key {
	char id[S3KEY_ID_MAX + 1];
	char secret[S3KEY_SECRET_MAX + 1];
	enum s3key_role role;
	char buckets[S3KEY_BUCKETS_MAX]; /* "" = every bucket, else "b1,b2" */
	int64_t created;
};

struct s3keys {
	struct s3key *keys; /* malloc'd, n of them; s3keys_free */
	size_t n;
};

/*
 * Parses key file text. 0 with *out filled (owned by the caller), or
 * -EINVAL with err naming the line and the field at fault (never the
 * secret's value), or -ENOMEM.
 */
int s3keys_parse(const char *text, size_t len, struct s3keys *out, char *err, size_t errlen);

/* The file text for keys (header comment included); *out malloc'd, the
 * caller's. 0 or -ENOMEM. s3keys_parse(s3keys_format(k)) gives k back. */
int s3keys_format(const struct s3keys *keys, char **out, size_t *len);

/* The key with that id, or NULL. */
const struct s3key *s3keys_find(const struct s3keys *keys, const char *id);

/* Whether key may act on bucket ("" = the service: ListBuckets, allowed to
 * every key). */
bool s3key_allows_bucket(const struct s3key *key, const char *bucket);

/* Checks and normalizes a bucket list given on a command line ("b1,b2";
 * NULL, "" or "*" = every bucket) into out (S3KEY_BUCKETS_MAX).
 * 0 or -EINVAL with the offending name in err. */
int s3key_buckets_parse(const char *list, char *out, char *err, size_t errlen);

const char *s3key_role_name(enum s3key_role role);
/* "admin"/"readonly" -> role; -EINVAL otherwise. */
int s3key_role_parse(const char *name, enum s3key_role *out);

/* Appends a copy of key (-EEXIST when its id is taken, -ENOMEM). */
int s3keys_add(struct s3keys *keys, const struct s3key *key);
/* Removes the key with that id: 0 or -ENOENT. */
int s3keys_remove(struct s3keys *keys, const char *id);
/* Wipes the secrets and frees; keys is left empty. */
void s3keys_free(struct s3keys *keys);

/* A fresh id ("SK" + 18 of [A-Z0-9]) and secret (40 of [A-Za-z0-9+/])
 * from the system's random source. 0 or -EIO. */
int s3key_generate(struct s3key *key);

/* What s3keys_load saw of the file, to notice a change. */
struct s3keys_stamp {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns; /* ctime: a chmod counts as a change */
	unsigned mode;
	bool exists;
};

/*
 * Reads and parses the key file at path. A missing file is not an error:
 * 0 with no keys and stamp->exists false. Refused with -EACCES: a file
 * group or others may read or write, or that is not a regular file (err
 * names the file and its mode). Other errors: -EINVAL (parse; err names
 * the file and line), -EFBIG, -errno of open/read.
 */
int s3keys_load(const char *path, struct s3keys *out, struct s3keys_stamp *stamp, char *err,
		size_t errlen);
/* The stamp of path now (exists false when it is missing). 0 or -errno. */
int s3keys_stat(const char *path, struct s3keys_stamp *stamp);
bool s3keys_stamp_equal(const struct s3keys_stamp *a, const struct s3keys_stamp *b);

/*
 * Writes keys to path atomically: the directory is created 0700 when
 * missing, a temporary file 0600 in it is written and fsync'd, then
 * renamed over path. 0 or -errno with err naming the path.
 */
int s3keys_save(const char *path, const struct s3keys *keys, char *err, size_t errlen);

#endif
