#ifndef STRATA_UFS_S3_INT_H
#define STRATA_UFS_S3_INT_H

/* Private to ufs/: the pure parsers of S3 response documents (s3_xml.c),
 * separate from the driver so they can be unit-tested and fuzzed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct s3_obj {
	char *key;      /* full key (Contents) or prefix with its '/' (CommonPrefixes) */
	bool is_prefix; /* a CommonPrefixes entry */
	uint64_t size;
	int64_t mtime_ms;
	char etag[96]; /* without the quotes */
};

struct s3_listing {
	struct s3_obj *objs;
	size_t count;
	bool truncated;
	char *next_token; /* NextContinuationToken, or NULL */
};

/* Parses a ListObjectsV2 result. On success *out is owned by the caller
 * (s3_listing_free). -EINVAL/-E2BIG on a malformed document, -ENOMEM. */
int s3_parse_listing(const char *body, size_t len, struct s3_listing *out, char *err,
		     size_t errlen);
void s3_listing_free(struct s3_listing *l);

/* Code and Message of an <Error> document; false if body is not one. */
bool s3_parse_error(const char *body, size_t len, char *code, size_t codelen, char *msg,
		    size_t msglen);

/* UploadId of an InitiateMultipartUploadResult; *out malloc'd. */
int s3_parse_upload_id(const char *body, size_t len, char **out);

/* "2023-11-14T22:13:20.000Z" -> epoch ms; -EINVAL if malformed. */
int s3_parse_iso8601(const char *s, int64_t *ms);

/* Copies an ETag without surrounding quotes into out (truncating). */
void s3_etag_copy(char *out, size_t outlen, const char *etag, size_t len);

/* What the driver keeps of a reply's headers. */
struct s3_head {
	char etag[96];	      /* without the quotes; "" when absent */
	char etag_raw[98];    /* as sent (quotes kept), for If-Match */
	uint64_t content_length; /* 0 when absent or malformed */
	int64_t range_total;  /* the "/total" of Content-Range; -1 when absent or malformed */
	int64_t mtime_ms;     /* Last-Modified; 0 when absent or malformed */
};

/* Starts a reply (also after a "100 Continue"): every field absent. */
void s3_head_reset(struct s3_head *h);
/* Takes one header line as the store sent it ("Name: value", CRLF or not;
 * not NUL-terminated). Lines it does not know are ignored. A number that
 * is not plain decimal digits within int64 range (a negative, signed,
 * overflowing or trailing-garbage Content-Length or Content-Range total)
 * is taken as absent, never wrapped. */
void s3_head_line(struct s3_head *h, const char *line, size_t len);

#endif
