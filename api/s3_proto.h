#ifndef STRATA_API_S3_PROTO_H
#define STRATA_API_S3_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The S3 protocol, as pure functions: classify a request into an operation,
 * bucket and key; parse Range headers and request bodies; build the XML
 * replies. No clock (times are passed in), no I/O, no globals, so it is
 * tested in microseconds and fuzzed (tests/fuzz/fuzz_s3_*.c).
 *
 * Keys and namespace paths: bucket "b" is the top-level directory /b; key
 * "x/y.txt" is the path /b/x/y.txt. A key must be 1..1024 bytes of valid
 * UTF-8 without NUL, must not start with '/', and its '/'-separated segments
 * must not be empty, "." or "..": such keys cannot be namespace paths and
 * are refused with InvalidArgument (KeyTooLongError past 1024 bytes). One
 * trailing '/' is allowed: "x/" is a directory marker, the directory /b/x
 * (a zero-byte object; PUT creates the directory, GET/HEAD stat it).
 */

#define S3_MAX_KEY 1024
#define S3_MAX_BUCKET 63
#define S3_ETAG_MAX 72       /* hex md5 + "-10000" + NUL fits easily */
#define S3_UPLOAD_ID_MAX 128
#define S3_MAX_DELETE_KEYS 1000
#define S3_MAX_PARTS 10000
#define S3_DEFAULT_MAX_KEYS 1000

/*
 * S3 errors: X(name, value, http status, S3 code, default message).
 * Functions of the s3_ modules return 0, a negative errno or one of these,
 * which are negative like lib/err.h's ST_ codes and distinct from both
 * (-(S3_ERR_BASE + value)); s3_error_lookup gives status and code.
 */
#define S3_ERR_BASE 20000
#define S3_ERRORS(X)                                                                       \
	X(S3_ERR_ACCESS_DENIED, 1, 403, "AccessDenied", "Access Denied")                    \
	X(S3_ERR_AUTH_HEADER_MALFORMED, 2, 400, "AuthorizationHeaderMalformed",             \
	  "The authorization header is malformed")                                          \
	X(S3_ERR_BAD_DIGEST, 3, 400, "BadDigest",                                            \
	  "The Content-MD5 you specified did not match what we received")                   \
	X(S3_ERR_BUCKET_EXISTS, 4, 409, "BucketAlreadyOwnedByYou",                          \
	  "Your previous request to create the named bucket succeeded and you already own it") \
	X(S3_ERR_BUCKET_NOT_EMPTY, 5, 409, "BucketNotEmpty",                                \
	  "The bucket you tried to delete is not empty")                                    \
	X(S3_ERR_ENTITY_TOO_LARGE, 6, 400, "EntityTooLarge",                                \
	  "Your proposed upload exceeds the maximum allowed object size")                   \
	X(S3_ERR_ENTITY_TOO_SMALL, 7, 400, "EntityTooSmall",                                \
	  "Your proposed upload is smaller than the minimum allowed object size")           \
	X(S3_ERR_INCOMPLETE_BODY, 8, 400, "IncompleteBody",                                 \
	  "You did not provide the number of bytes specified by the Content-Length")        \
	X(S3_ERR_INTERNAL, 9, 500, "InternalError",                                          \
	  "We encountered an internal error. Please try again.")                            \
	X(S3_ERR_INVALID_ACCESS_KEY, 10, 403, "InvalidAccessKeyId",                          \
	  "The AWS access key Id you provided does not exist in our records.")              \
	X(S3_ERR_INVALID_ARGUMENT, 11, 400, "InvalidArgument", "Invalid Argument")          \
	X(S3_ERR_INVALID_BUCKET_NAME, 12, 400, "InvalidBucketName",                         \
	  "The specified bucket is not valid.")                                             \
	X(S3_ERR_INVALID_DIGEST, 13, 400, "InvalidDigest",                                  \
	  "The Content-MD5 you specified is not valid.")                                    \
	X(S3_ERR_INVALID_PART, 14, 400, "InvalidPart",                                       \
	  "One or more of the specified parts could not be found.")                         \
	X(S3_ERR_INVALID_PART_ORDER, 15, 400, "InvalidPartOrder",                           \
	  "The list of parts was not in ascending order.")                                  \
	X(S3_ERR_INVALID_RANGE, 16, 416, "InvalidRange",                                    \
	  "The requested range is not satisfiable")                                         \
	X(S3_ERR_INVALID_REQUEST, 17, 400, "InvalidRequest", "Invalid Request")             \
	X(S3_ERR_KEY_TOO_LONG, 18, 400, "KeyTooLongError", "Your key is too long")          \
	X(S3_ERR_MALFORMED_XML, 19, 400, "MalformedXML",                                    \
	  "The XML you provided was not well-formed or did not validate against our "       \
	  "published schema")                                                               \
	X(S3_ERR_METHOD_NOT_ALLOWED, 20, 405, "MethodNotAllowed",                           \
	  "The specified method is not allowed against this resource.")                     \
	X(S3_ERR_MISSING_CONTENT_LENGTH, 21, 411, "MissingContentLength",                   \
	  "You must provide the Content-Length HTTP header.")                               \
	X(S3_ERR_NO_SUCH_BUCKET, 22, 404, "NoSuchBucket", "The specified bucket does not exist") \
	X(S3_ERR_NO_SUCH_KEY, 23, 404, "NoSuchKey", "The specified key does not exist.")    \
	X(S3_ERR_NO_SUCH_UPLOAD, 24, 404, "NoSuchUpload",                                   \
	  "The specified multipart upload does not exist.")                                 \
	X(S3_ERR_NOT_IMPLEMENTED, 25, 501, "NotImplemented",                                \
	  "A header or query you provided implies functionality that is not implemented.")  \
	X(S3_ERR_TIME_SKEWED, 26, 403, "RequestTimeTooSkewed",                              \
	  "The difference between the request time and the server's time is too large.")   \
	X(S3_ERR_SERVICE_UNAVAILABLE, 27, 503, "ServiceUnavailable",                        \
	  "Please reduce your request rate.")                                               \
	X(S3_ERR_SIGNATURE_MISMATCH, 28, 403, "SignatureDoesNotMatch",                      \
	  "The request signature we calculated does not match the signature you provided.") \
	X(S3_ERR_SHA256_MISMATCH, 29, 400, "XAmzContentSHA256Mismatch",                     \
	  "The provided 'x-amz-content-sha256' header does not match what was computed.")   \
	X(S3_ERR_KEY_CONFLICT, 30, 409, "XStrataKeyConflict",                               \
	  "The key collides with a directory or file of the namespace.")                    \
	X(S3_ERR_STORAGE_FULL, 31, 507, "XStrataStorageFull",                               \
	  "Storage is full.")                                                               \
	X(S3_ERR_TOO_MANY_KEYS, 32, 400, "MalformedXML",                                    \
	  "A DeleteObjects request may name at most 1000 keys.")                           \
	X(S3_ERR_DATA_LOST, 33, 500, "XStrataDataLost",                                     \
	  "The object's data is lost: it was never persisted and every cached copy is gone.")

enum s3_err {
#define S3_ERR_ENUM(name, val, status, code, msg) name = -(S3_ERR_BASE + (val)),
	S3_ERRORS(S3_ERR_ENUM)
#undef S3_ERR_ENUM
};

/* HTTP status, S3 code and default message of an s3_err (anything else:
 * InternalError). Returns false when rc is not an s3_err. */
bool s3_error_lookup(int rc, int *status, const char **code, const char **message);

enum s3_op {
	S3_OP_NONE = 0,
	S3_OP_LIST_BUCKETS,
	S3_OP_CREATE_BUCKET,
	S3_OP_DELETE_BUCKET,
	S3_OP_HEAD_BUCKET,
	S3_OP_GET_BUCKET_LOCATION,
	S3_OP_LIST_OBJECTS,    /* v1: marker */
	S3_OP_LIST_OBJECTS_V2, /* list-type=2 */
	S3_OP_DELETE_OBJECTS,  /* POST ?delete */
	S3_OP_GET_OBJECT,
	S3_OP_HEAD_OBJECT,
	S3_OP_PUT_OBJECT,
	S3_OP_COPY_OBJECT, /* PUT with x-amz-copy-source */
	S3_OP_DELETE_OBJECT,
	S3_OP_CREATE_MULTIPART, /* POST ?uploads */
	S3_OP_UPLOAD_PART,      /* PUT ?partNumber&uploadId */
	S3_OP_COMPLETE_MULTIPART,
	S3_OP_ABORT_MULTIPART,
	S3_OP_LIST_PARTS,
	S3_OP_LIST_UPLOADS, /* GET bucket?uploads */
	S3_OP_COUNT
};

/* "GetObject", ... for logs. */
const char *s3_op_name(enum s3_op op);

/* One decoded query parameter ("uploads" alone has value ""). */
struct s3_param {
	char *name;
	char *value;
};

/* What the HTTP layer saw; every string may be NULL when absent. */
struct s3_http_in {
	const char *method;
	const char *raw_path;  /* as sent, still %-encoded, no query */
	const char *raw_query; /* after '?', still %-encoded */
	const char *copy_source; /* x-amz-copy-source header */
};

/*
 * A classified request. Everything is owned by it: s3_request_free.
 * List parameters are filled for the list operations only.
 */
struct s3_request {
	enum s3_op op;
	char bucket[S3_MAX_BUCKET + 1]; /* "" for ListBuckets */
	char *key;                      /* decoded; NULL for bucket operations */
	bool dir_marker;                /* key ends with '/' */
	struct s3_param *params;        /* all query parameters, decoded, in order */
	size_t nparams;
	/* multipart */
	const char *upload_id; /* into params */
	int part_number;       /* 1..10000, 0 when absent */
	/* listing */
	const char *prefix, *delimiter, *marker, *start_after, *continuation_token;
	bool url_encoding; /* encoding-type=url: keys are %-encoded in the reply */
	size_t max_keys;   /* 0..1000 */
	/* copy */
	char copy_bucket[S3_MAX_BUCKET + 1];
	char *copy_key;
};

/*
 * Classifies a path-style request (http://host/bucket/key?query). On
 * success out is filled (free it with s3_request_free). On failure returns
 * a negative s3_err (NotImplemented for subresources we do not serve,
 * InvalidBucketName, KeyTooLongError, InvalidArgument with the reason in
 * err...) and out holds nothing to free.
 */
int s3_classify(const struct s3_http_in *in, struct s3_request *out, char *err, size_t errlen);
void s3_request_free(struct s3_request *req);

/* Value of a decoded query parameter of req, or NULL. */
const char *s3_request_param(const struct s3_request *req, const char *name);

/*
 * Splits a raw query string into decoded parameters ('+' is a space, %XY a
 * byte; a malformed escape is kept literally). *out is an array owned by
 * the caller (s3_params_free). -ENOMEM, -E2BIG past 1000 parameters.
 */
int s3_parse_query(const char *raw_query, struct s3_param **out, size_t *n);
void s3_params_free(struct s3_param *params, size_t n);

/* %-decodes s[0..len) into a malloc'd string (no '+' rule: paths). The
 * decoded length, which may contain NUL, goes to *outlen. -ENOMEM. */
int s3_url_decode(const char *s, size_t len, char **out, size_t *outlen);

/* Checks a bucket name: 1..63 of [A-Za-z0-9._-], not "." or "..". */
bool s3_bucket_valid(const char *bucket);
/* Checks a decoded key (len bytes) against the rules at the top of this
 * file. Returns 0, S3_ERR_KEY_TOO_LONG or S3_ERR_INVALID_ARGUMENT. */
int s3_key_check(const char *key, size_t len, char *err, size_t errlen);
/* "/bucket/key" without a directory marker's trailing '/'. -ENAMETOOLONG. */
int s3_object_path(const char *bucket, const char *key, char *out, size_t outlen);

/*
 * Range header against an object of size bytes. Single ranges only:
 * "bytes=a-b", "bytes=a-", "bytes=-n". A missing, malformed or multi-range
 * header means the whole object (*partial false), as S3 does. An
 * unsatisfiable range (a >= size, "-0", any range of an empty object)
 * returns S3_ERR_INVALID_RANGE. On success with *partial the range is
 * [*first, *last], both inclusive, last clamped to size - 1.
 */
int s3_range_parse(const char *header, uint64_t size, bool *partial, uint64_t *first,
		   uint64_t *last);
/* Where a Range starts before the object's size is known (a hint for
 * reading ahead): N of "bytes=N-...", the first range's; 0 without a
 * header, for a suffix range or for anything s3_range_parse would refuse
 * as it starts. Never more than the digits say. Pure. */
uint64_t s3_range_start(const char *header);

/* Timestamps. out must hold 32 bytes. */
void s3_time_iso8601(int64_t t, char *out);  /* 2006-02-03T16:45:09.000Z */
void s3_time_http(int64_t t, char *out);     /* Fri, 03 Feb 2006 16:45:09 GMT */
/* Parses either of the two forms above (and x-amz-date's compact form);
 * -EINVAL. */
int s3_time_parse(const char *s, int64_t *out);
/* '"' + etag + '"' (an etag that already has quotes is kept). out >= S3_ETAG_MAX+2. */
void s3_etag_quote(const char *etag, char *out, size_t outlen);
/* Strips surrounding quotes (and &quot;) from a client-sent ETag. */
void s3_etag_unquote(const char *in, char *out, size_t outlen);

/* ---- XML replies; each returns 0 or -ENOMEM, *out malloc'd (caller frees) ---- */

struct s3_xml_bucket {
	const char *name;
	int64_t ctime;
};
int s3_xml_list_buckets(const struct s3_xml_bucket *buckets, size_t n, const char *owner_id,
			char **out, size_t *outlen);

/* One entry of a listing reply: an object or a common prefix. */
struct s3_xml_entry {
	const char *key;
	bool is_prefix;
	uint64_t size;
	int64_t mtime;
	const char *etag; /* unquoted */
};

struct s3_xml_listing {
	bool v2;
	const char *bucket;
	const char *prefix, *delimiter, *marker, *start_after, *continuation_token;
	bool url_encoding;
	size_t max_keys;
	bool truncated;
	const char *next_marker; /* v1, when truncated */
	const char *next_token;  /* v2, when truncated */
	const struct s3_xml_entry *entries;
	size_t n;
};
int s3_xml_list_objects(const struct s3_xml_listing *l, char **out, size_t *outlen);

int s3_xml_error(const char *code, const char *message, const char *resource,
		 const char *request_id, char **out, size_t *outlen);
int s3_xml_initiate_multipart(const char *bucket, const char *key, const char *upload_id,
			      char **out, size_t *outlen);
int s3_xml_complete_multipart(const char *location, const char *bucket, const char *key,
			      const char *etag, char **out, size_t *outlen);
int s3_xml_copy_result(const char *etag, int64_t mtime, char **out, size_t *outlen);
/* "" for us-east-1, as S3 answers. */
int s3_xml_location(const char *region, char **out, size_t *outlen);

struct s3_xml_deleted {
	const char *key;
	const char *code;    /* NULL: deleted; else an S3 error code */
	const char *message;
};
int s3_xml_delete_result(const struct s3_xml_deleted *items, size_t n, bool quiet, char **out,
			 size_t *outlen);

struct s3_xml_part {
	int number;
	uint64_t size;
	int64_t mtime;
	const char *etag;
};
int s3_xml_list_parts(const char *bucket, const char *key, const char *upload_id,
		      const struct s3_xml_part *parts, size_t n, char **out, size_t *outlen);
/* ListMultipartUploadsResult: the uploads in progress (key order), none
 * truncated. */
struct s3_xml_upload {
	const char *key;
	const char *upload_id;
	int64_t initiated; /* seconds since the epoch */
};
int s3_xml_list_uploads(const char *bucket, const char *prefix, const struct s3_xml_upload *u,
			size_t n, char **out, size_t *outlen);

/* ---- request bodies (lib/xml.h underneath) ---- */

struct s3_part {
	int number;
	char etag[S3_ETAG_MAX]; /* unquoted */
};
/* CompleteMultipartUpload: 1..10000 parts, numbers strictly ascending
 * (S3_ERR_INVALID_PART_ORDER), each with an ETag (S3_ERR_MALFORMED_XML).
 * *parts malloc'd, owned by the caller. */
int s3_parse_complete_multipart(const char *body, size_t len, struct s3_part **parts,
				size_t *nparts, char *err, size_t errlen);
/* Delete: 1..1000 <Object><Key>, optional <Quiet>true</Quiet>. Keys are
 * returned as is (checked one by one by the caller). *keys is one malloc'd
 * array of malloc'd strings: s3_keys_free. */
int s3_parse_delete(const char *body, size_t len, char ***keys, size_t *nkeys, bool *quiet,
		    char *err, size_t errlen);
void s3_keys_free(char **keys, size_t n);
/* CreateBucketConfiguration (an empty body is fine: region ""). */
int s3_parse_create_bucket(const char *body, size_t len, char *region, size_t regionlen,
			   char *err, size_t errlen);

/* The multipart ETag S3 gives: hex md5 of the concatenated binary part
 * md5s, then "-N". Part etags must be 32 hex digits: -EINVAL otherwise. */
int s3_multipart_etag(const struct s3_part *parts, size_t n, char out[S3_ETAG_MAX]);

/* Opaque continuation tokens (base64url of the last key returned). */
int s3_token_encode(const char *key, char **out);
int s3_token_decode(const char *token, char **out); /* -EINVAL when garbled */

#endif
