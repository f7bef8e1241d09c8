#ifndef STRATA_API_S3_GATEWAY_H
#define STRATA_API_S3_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"
#include "api/s3_auth.h"
#include "api/s3_proto.h"

/*
 * The S3 gateway: one CivetWeb fallback handler (api/http.h) that
 * authenticates, classifies (api/s3_proto.h) and calls a backend through
 * struct s3_backend. Where the data lives is the backend's business; the
 * worker implements it over the master's namespace and the block cache,
 * tests/unit/s3_dir_backend.c over a local directory.
 *
 * Wiring:
 *   struct s3_gw *gw = s3_gw_new(&cfg, &backend, backend_ctx, err, errlen);
 *   struct http_server_opts o = { ..., .fallback = s3_gw_handle, .raw_path = true };
 *   http_server_start(&o, NULL, 0, gw, err, errlen);
 * raw_path is required: signatures cover the path as sent.
 *
 * Backend contract. Every call returns 0 or a negative errno and may say
 * why in err (shown to the client in <Message>; never put secrets there).
 * The gateway maps errno to S3 errors:
 *   -ENOENT     NoSuchKey / NoSuchBucket / NoSuchUpload (the gateway asks
 *               head_bucket to tell a missing bucket from a missing key)
 *   -EEXIST     BucketAlreadyOwnedByYou (create_bucket)
 *   -ENOTEMPTY  BucketNotEmpty
 *   -EACCES, -EPERM, -EROFS  AccessDenied
 *   -EAGAIN, -EBUSY, -ETIMEDOUT, -ECONNREFUSED  ServiceUnavailable (503)
 *   -ENOTDIR, -EISDIR  XStrataKeyConflict (409): "a/b" under a file "a",
 *               or a file over a directory (GET/HEAD of a directory without
 *               its trailing '/' should return -ENOENT instead)
 *   -EBADMSG    InvalidPart (complete: a part is missing or its ETag differs)
 *   ST_ETOOSMALL EntityTooSmall (complete: a non-last part under the minimum)
 *   -EFBIG      EntityTooLarge
 *   -ENOSPC, -EDQUOT  XStrataStorageFull (507)
 *   -EINVAL, -ENAMETOOLONG  InvalidArgument
 *   negative s3_err codes pass through as they are
 *   anything else  InternalError (500)
 * Keys arrive validated (s3_key_check); a key ending in '/' is a directory
 * marker: put of an empty body creates the directory, stat of it reports a
 * zero-byte object when the directory exists, delete removes it when empty.
 * Calls come from many server threads at once; the backend locks what it
 * shares.
 */

/* Metadata of one object. */
struct s3_object_info {
	uint64_t size;
	int64_t mtime;                /* seconds since the epoch */
	char etag[S3_ETAG_MAX];       /* unquoted; "" lets the gateway derive one */
	char content_type[128];       /* "" means application/octet-stream */
};

/* Where object bytes go on GET: 0 to continue, negative to stop (the
 * client went away: -EPIPE); a backend returns the sink's rc as is. */
typedef int (*s3_sink_fn)(void *arg, const void *data, size_t len);

/*
 * A request body on PUT and UploadPart, already decoded (aws-chunked
 * framing gone) and checked. read returns bytes (> 0), 0 at the end, or a
 * negative code (a negative s3_err such as BadDigest/SignatureDoesNotMatch/
 * IncompleteBody, or -EIO): then the backend must discard what it wrote,
 * never make it visible, and return that rc. Only after read returned 0
 * is the body proven; md5_hex then holds its MD5, which the backend should
 * keep as the object's ETag (clients such as s3cmd compare it).
 */
struct s3_body {
	long (*read)(struct s3_body *body, void *buf, size_t len);
	int64_t size; /* decoded length announced by the client; -1 unknown */
	char md5_hex[33];
	void *priv; /* the gateway's */
	/* The request's x-strata-write-type header (NULL: none); the backend
	 * checks it (-EINVAL naming the header). */
	const char *write_type;
};

struct s3_bucket_entry {
	char name[S3_MAX_BUCKET + 1];
	int64_t ctime;
};

/* One listing entry: an object or (is_prefix) a common prefix ending in '/'. */
struct s3_list_entry {
	char *key; /* malloc'd */
	bool is_prefix;
	uint64_t size;
	int64_t mtime;
	char etag[S3_ETAG_MAX];
};

/*
 * A listing request. The backend returns, sorted by key bytes (memcmp
 * order of the full key), up to max entries that start with prefix and
 * are strictly greater than after (after "" = from the start):
 *  - delimit false: every object below prefix, at any depth; an empty
 *    directory appears as its marker "dir/" (a size-0 object).
 *  - delimit true: the objects with no '/' after prefix, and one common
 *    prefix "prefix...dir/" (is_prefix) per directory whose path starts
 *    with prefix (prefix "a/b" matches the directory a/bc -> "a/bc/").
 * Note the order is of full keys: "a-c" (0x2d) sorts before "a/b" (0x2f),
 * so a directory "a" sorts as "a/" among its siblings.
 * truncated: more entries exist past the last one returned.
 */
struct s3_list_query {
	const char *prefix;
	bool delimit;
	const char *after;
	size_t max; /* >= 1 */
};

struct s3_list_page {
	struct s3_list_entry *entries; /* malloc'd array; s3_gw_page_free */
	size_t n;
	bool truncated;
};

/* Appends an entry (key copied) to page; -ENOMEM. For backends. */
int s3_gw_page_add(struct s3_list_page *page, const char *key, bool is_prefix, uint64_t size,
		   int64_t mtime, const char *etag);
void s3_gw_page_free(struct s3_list_page *page);

struct s3_backend {
	/* *out: malloc'd array owned by the caller (the gateway frees it). */
	int (*list_buckets)(void *ctx, struct s3_bucket_entry **out, size_t *n, char *err,
			    size_t errlen);
	int (*create_bucket)(void *ctx, const char *bucket, char *err, size_t errlen);
	int (*delete_bucket)(void *ctx, const char *bucket, char *err, size_t errlen);
	int (*head_bucket)(void *ctx, const char *bucket, char *err, size_t errlen);

	int (*stat)(void *ctx, const char *bucket, const char *key, struct s3_object_info *out,
		    char *err, size_t errlen);
	/* Optional (NULL: stat): stat for a GET that will then read from byte
	 * `from` on (the start of its Range, else 0), so a backend may fetch
	 * that data with the metadata in one trip to its store. */
	int (*stat_at)(void *ctx, const char *bucket, const char *key, uint64_t from,
		       struct s3_object_info *out, char *err, size_t errlen);
	/* Streams [off, off + len) into sink, in pieces of any size. */
	int (*read)(void *ctx, const char *bucket, const char *key, uint64_t off, uint64_t len,
		    s3_sink_fn sink, void *sink_arg, char *err, size_t errlen);
	int (*list)(void *ctx, const char *bucket, const struct s3_list_query *q,
		    struct s3_list_page *out, char *err, size_t errlen);
	/* Writes the whole body, then makes the object visible atomically
	 * (replacing any old one); out gets the new metadata. */
	int (*put)(void *ctx, const char *bucket, const char *key, struct s3_body *body,
		   struct s3_object_info *out, char *err, size_t errlen);
	/* A missing key is not an error for S3: return 0 or -ENOENT, both are
	 * a 204. Empty parent directories may be pruned (MinIO does). */
	int (*delete_object)(void *ctx, const char *bucket, const char *key, char *err,
			     size_t errlen);
	int (*copy)(void *ctx, const char *src_bucket, const char *src_key,
		    const char *dst_bucket, const char *dst_key, struct s3_object_info *out,
		    char *err, size_t errlen);

	/* Multipart. upload_id is the backend's: < S3_UPLOAD_ID_MAX bytes of
	 * URL-safe characters (clients send it back in query strings). */
	int (*mpu_create)(void *ctx, const char *bucket, const char *key,
			  char upload_id[S3_UPLOAD_ID_MAX], char *err, size_t errlen);
	/* etag: the part's ETag (normally body->md5_hex). */
	int (*mpu_put_part)(void *ctx, const char *bucket, const char *key,
			    const char *upload_id, int part_number, struct s3_body *body,
			    char etag[S3_ETAG_MAX], char *err, size_t errlen);
	/* parts: ascending, as the client listed them (ETags unquoted); the
	 * object is the concatenation; out->etag should be s3_multipart_etag. */
	int (*mpu_complete)(void *ctx, const char *bucket, const char *key,
			    const char *upload_id, const struct s3_part *parts, size_t nparts,
			    const char *write_type, struct s3_object_info *out, char *err,
			    size_t errlen);
	int (*mpu_abort)(void *ctx, const char *bucket, const char *key, const char *upload_id,
			 char *err, size_t errlen);
	/* Optional (NULL: ListParts is NotImplemented). *parts malloc'd. */
	int (*mpu_list_parts)(void *ctx, const char *bucket, const char *key,
			      const char *upload_id, struct s3_xml_part **parts, size_t *n,
			      char *err, size_t errlen);
	/* Optional (NULL: ListMultipartUploads is NotImplemented): the uploads
	 * in progress under bucket whose key starts with prefix (NULL: all),
	 * key order. *u and its strings are freed with mpu_uploads_free. */
	int (*mpu_list_uploads)(void *ctx, const char *bucket, const char *prefix,
				struct s3_xml_upload **u, size_t *n, char *err, size_t errlen);
	void (*mpu_uploads_free)(struct s3_xml_upload *u, size_t n);
};

/*
 * Access keys with roles and bucket lists (the worker's key file). All
 * calls come from many threads at once, the S3 server's loops included,
 * so they must be quick and must not block.
 */
struct s3_gw_auth {
	/* Whether requests must be signed now (at least one key exists). */
	bool (*required)(void *arg);
	s3_auth_signing_key_fn signing_key;
	/* After the signature verified: may access_key do this on bucket
	 * ("" for ListBuckets)? write: the operation changes something.
	 * 0, or S3_ERR_ACCESS_DENIED with the reason in err. */
	int (*allow)(void *arg, const char *access_key, const char *bucket, bool write,
		     char *err, size_t errlen);
	/* Whether unsigned reads (GET, HEAD, listings) of bucket are allowed. */
	bool (*anonymous_read)(void *arg, const char *bucket);
	void *arg;
};

struct s3_gw_config {
	const char *region;  /* reported by GetBucketLocation; NULL: "us-east-1" */
	/* NULL: no credentials configured, every request is accepted (signed
	 * or not, signatures unchecked). Set: every request must verify.
	 * Ignored when auth.signing_key is set. */
	s3_auth_lookup_fn lookup;
	void *lookup_arg;
	struct s3_gw_auth auth; /* zeroed: none */
	uint64_t max_put_size; /* single PUT / part limit; 0: 5 GiB */
	/* The clock for signature checks; NULL: time(NULL). */
	int64_t (*now)(void *arg);
	void *now_arg;
};

/* Copies cfg (strings too) and keeps backend/backend_ctx, which must
 * outlive the gateway. NULL on -ENOMEM with err set. */
struct s3_gw *s3_gw_new(const struct s3_gw_config *cfg, const struct s3_backend *backend,
			void *backend_ctx, char *err, size_t errlen);
void s3_gw_free(struct s3_gw *gw);

struct http_req;
/* The http_handler_fn for the S3 port; ctx is the struct s3_gw. */
void s3_gw_handle(struct http_req *req, void *ctx);

/* The next request id (x-amz-request-id): 16 hex digits, unique for this
 * gateway's lifetime; for a front that answers some requests itself. */
#define S3_GW_REQUEST_ID_LEN 17
void s3_gw_request_id(struct s3_gw *gw, char out[S3_GW_REQUEST_ID_LEN]);
/* Gives info an ETag derived from mtime and size when the backend left it
 * empty, as GET and HEAD report it. Pure. */
void s3_gw_fill_etag(struct s3_object_info *info);

/*
 * The reply head of a GET or HEAD of an object: status (200, or 206 with
 * partial), Content-Type, Content-Length and the headers that describe
 * the object (ETag, derived when the backend left it empty;
 * Last-Modified; Accept-Ranges; Content-Range). The one builder of that
 * head: the gateway and the S3 server's fast path both send it, so a hit
 * and a miss answer alike. h[] points into *out (do not copy it). Pure.
 */
struct s3_gw_object_head {
	int status;
	const char *content_type;
	uint64_t length;
	struct http_header h[4];
	size_t nh;
	char etag[S3_ETAG_MAX + 4], last_modified[32], content_range[96];
	char ctype[sizeof(((struct s3_object_info *)0)->content_type)];
};
void s3_gw_object_head(const struct s3_object_info *info, bool partial, uint64_t first,
		       uint64_t last, struct s3_gw_object_head *out);

/*
 * The one access decision, for the gateway and the S3 server's fast path:
 * a request of op r (classified) described by in. Returns 0 (allowed;
 * *is_signed says whether a signature was verified, then res holds what
 * it proved: the caller wipes it with s3_auth_result_wipe) or a negative
 * s3_err with the reason in err: InvalidAccessKeyId, SignatureDoesNotMatch,
 * RequestTimeTooSkewed, AccessDenied (no signature and the bucket is not
 * open to anonymous reads, a readonly key writing, a bucket not in the
 * key's list, a presigned URL that expired), AuthorizationHeaderMalformed.
 * With no credentials configured everything is allowed, unsigned.
 */
int s3_gw_authorize(struct s3_gw *gw, const struct s3_auth_input *in,
		    const struct s3_request *r, struct s3_auth_result *res, bool *is_signed,
		    char *err, size_t errlen);
/* Whether credentials are configured now (requests must be signed). */
bool s3_gw_auth_required(struct s3_gw *gw);
/* The gateway's clock (seconds since the epoch). */
int64_t s3_gw_now(const struct s3_gw *gw);
/* Whether an op only reads (GET, HEAD, listings, location). Pure. */
bool s3_gw_op_reads(int op);

/* S3 error for a backend rc (see the table above). object: the request
 * named a key (ENOENT -> NoSuchKey rather than NoSuchBucket). Pure. */
int s3_gw_map_errno(int rc, bool object);

#endif
