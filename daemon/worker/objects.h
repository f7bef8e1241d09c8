#ifndef STRATA_WORKER_OBJECTS_H
#define STRATA_WORKER_OBJECTS_H

/*
 * Objects on a worker: bucket = top-level directory of the namespace, key
 * = path below it. Metadata and listings come from the master's index
 * (never by scanning a store); object bytes go through the worker's block
 * cache on read and the worker's write path on write (CACHE_THROUGH).
 * Multipart parts wait in <worker.data_dir>/mpu/<upload id>/ until
 * completion streams them into one write.
 *
 * This is the worker's side of S3 (api/s3_backend_worker.c adapts it to
 * the gateway's backend interface); it knows no HTTP and no XML. Every
 * call returns 0 or a negative errno with the reason in err (errno
 * meanings as in api/s3_gateway.h's backend contract). Safe from many
 * threads at once.
 */

#include "daemon/worker/blocksvc.h"
#include "daemon/worker/writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker_node;

#define WOBJ_ETAG_MAX 72       /* as S3_ETAG_MAX */
#define WOBJ_UPLOAD_ID_LEN 33  /* 32 hex digits + NUL */

struct wobj_info {
	uint64_t size;
	int64_t mtime;  /* seconds since the epoch */
	char etag[WOBJ_ETAG_MAX]; /* unquoted; may be "" */
};

/* The namespace path of bucket/key ("/bucket/key", normalized, without a
 * trailing '/'); -EINVAL when it cannot be a path, -ENAMETOOLONG. Pure. */
int wobj_path(const char *bucket, const char *key, char *out, size_t len);

/* Calls each(arg, name, ctime) for every top-level directory; a non-zero
 * return from each stops the walk and is returned. */
typedef int (*wobj_bucket_fn)(void *arg, const char *name, int64_t ctime);
int wobj_list_buckets(struct worker_node *w, wobj_bucket_fn each, void *arg, char *err,
		      size_t errlen);
int wobj_create_bucket(struct worker_node *w, const char *bucket, char *err, size_t errlen);
int wobj_head_bucket(struct worker_node *w, const char *bucket, char *err, size_t errlen);
int wobj_delete_bucket(struct worker_node *w, const char *bucket, char *err, size_t errlen);

/* A key ending in '/' is a directory marker (a zero-byte object). */
int wobj_stat(struct worker_node *w, const char *bucket, const char *key,
	      struct wobj_info *out, char *err, size_t errlen);
/* wobj_stat for a GET that will read from byte `from` on: a file nobody
 * has looked up yet is read from its store in the same round trip as its
 * metadata (the block holding `from`, then cached), instead of a HEAD by
 * the master first (daemon/master/lazyload.h). */
int wobj_stat_at(struct worker_node *w, const char *bucket, const char *key, uint64_t from,
		 struct wobj_info *out, char *err, size_t errlen);
/* The same for a namespace path (normal): fcache_get, except that a file
 * the master does not know yet is loaded by reading the block holding
 * `from` (then cached) with its metadata, in one store round trip. */
int wobj_lookup_at(struct worker_node *w, const char *path, uint64_t from, struct file_info *fi,
		   char *err, size_t errlen);
/* Streams [off, off + len) into sink. */
int wobj_read(struct worker_node *w, const char *bucket, const char *key, uint64_t off,
	      uint64_t len, bsvc_sink_fn sink, void *sink_arg, char *err, size_t errlen);

/*
 * A listing, in full-key order (memcmp of the full key; a directory sorts
 * as "name/"): up to max entries after `after` that start with prefix,
 * given to add one by one (its non-zero return stops the walk). With
 * delimit, a directory past the prefix is one common prefix ("dir/",
 * is_prefix); without it, every object below, an empty directory as its
 * marker. *truncated: more entries exist past the last one given.
 */
struct wobj_list_query {
	const char *prefix;
	bool delimit;
	const char *after;
	size_t max; /* >= 1 */
};
typedef int (*wobj_entry_fn)(void *arg, const char *key, bool is_prefix, uint64_t size,
			     int64_t mtime, const char *etag);
int wobj_list(struct worker_node *w, const char *bucket, const struct wobj_list_query *q,
	      wobj_entry_fn add, void *arg, bool *truncated, char *err, size_t errlen);

/*
 * Writes the body (read until it returns 0; a negative return is passed
 * back as it is and nothing becomes visible), then makes the object
 * visible atomically. md5_hex is read only after the body ended (the
 * caller fills it while reading) and is kept as the ETag. A key ending in
 * '/' creates the directory and needs an empty body.
 */
int wobj_put(struct worker_node *w, const char *bucket, const char *key, write_reader_fn read,
	     void *arg, const char *md5_hex, enum write_type type, struct wobj_info *out,
	     char *err, size_t errlen);
/* Deletes an object (or an empty directory for a marker key), then prunes
 * the parent directories this left empty, up to the bucket. */
int wobj_delete(struct worker_node *w, const char *bucket, const char *key, char *err,
		size_t errlen);
int wobj_copy(struct worker_node *w, const char *src_bucket, const char *src_key,
	      const char *dst_bucket, const char *dst_key, struct wobj_info *out, char *err,
	      size_t errlen);

/* Multipart. A part is identified by its number and its ETag (the MD5 of
 * its bytes, which names its file). */
struct wobj_part {
	int number;
	char etag[WOBJ_ETAG_MAX];
};
int wobj_mpu_create(struct worker_node *w, const char *bucket, const char *key,
		    char upload_id[WOBJ_UPLOAD_ID_LEN], char *err, size_t errlen);
/* Stores a part; md5_hex as for wobj_put (the part's ETag). */
int wobj_mpu_put_part(struct worker_node *w, const char *bucket, const char *key,
		      const char *upload_id, int part_number, write_reader_fn read, void *arg,
		      const char *md5_hex, char *err, size_t errlen);
/* Checks every part was uploaded with that ETag (-EBADMSG) and all but the
 * last have 5 MiB (ST_ETOOSMALL); -ENOENT for an unknown upload. */
int wobj_mpu_check(struct worker_node *w, const char *bucket, const char *key,
		   const char *upload_id, const struct wobj_part *parts, size_t nparts, char *err,
		   size_t errlen);
/* Checks as above, writes the concatenation as the object with ETag etag,
 * and removes the upload. */
int wobj_mpu_complete(struct worker_node *w, const char *bucket, const char *key,
		      const char *upload_id, const struct wobj_part *parts, size_t nparts,
		      const char *etag, enum write_type type, struct wobj_info *out, char *err,
		      size_t errlen);
int wobj_mpu_abort(struct worker_node *w, const char *bucket, const char *key,
		   const char *upload_id, char *err, size_t errlen);

/* Uploads in progress under bucket whose key starts with prefix (NULL:
 * all), key then id order. -ENOENT for a missing bucket. Free with
 * wobj_uploads_free. */
struct wobj_upload {
	char upload_id[WOBJ_UPLOAD_ID_LEN];
	char *key;
	int64_t initiated_ms; /* wall clock */
	int64_t active_ms;    /* the last part's arrival (or initiated_ms) */
};
int wobj_mpu_list(struct worker_node *w, const char *bucket, const char *prefix,
		  struct wobj_upload **out, size_t *n, char *err, size_t errlen);
void wobj_uploads_free(struct wobj_upload *u, size_t n);

/* The parts stored for an upload, number order; -ENOENT for an unknown
 * upload. *out malloc'd. */
struct wobj_part_info {
	int number;
	uint64_t size;
	int64_t mtime; /* seconds since the epoch */
	char etag[WOBJ_ETAG_MAX];
};
int wobj_mpu_parts(struct worker_node *w, const char *bucket, const char *key,
		   const char *upload_id, struct wobj_part_info **out, size_t *n, char *err,
		   size_t errlen);

/* Removes the uploads idle (no part arrived) for max_idle_ms or more at
 * now_ms (wall clock): abandoned uploads do not keep their parts on disk
 * for ever (worker.s3.multipart_expiry). Returns how many it removed. */
int wobj_mpu_expire(struct worker_node *w, int64_t max_idle_ms, int64_t now_ms);

#endif
