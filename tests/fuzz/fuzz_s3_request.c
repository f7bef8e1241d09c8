/*
 * libFuzzer target: S3 request classification (api/s3_proto.c) and Range
 * parsing. Input: one method byte, then path '\n' query '\n' copy-source
 * '\n' range header, each of which may be missing.
 */
#include "api/s3_proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "HEAD", "PUT", "POST", "DELETE", "PATCH" };
	if (size < 1 || size > 16384)
		return 0;
	const char *method = methods[data[0] % 6];
	char *buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	char *fields[4] = { NULL, NULL, NULL, NULL };
	char *p = buf;
	for (int i = 0; i < 4 && p; i++) {
		fields[i] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	struct s3_http_in in = { method, fields[0], fields[1], fields[2] };
	struct s3_request r;
	char err[256];
	if (s3_classify(&in, &r, err, sizeof(err)) == 0) {
		if (r.op <= S3_OP_NONE || r.op >= S3_OP_COUNT)
			__builtin_trap();
		if (r.key) {
			size_t klen = strlen(r.key);
			char path[2048];
			if (klen == 0 || klen > S3_MAX_KEY || strstr(r.key, "//") ||
			    s3_key_check(r.key, klen, err, sizeof(err)) != 0)
				__builtin_trap();
			(void)s3_object_path(r.bucket, r.key, path, sizeof(path));
		}
		if (!s3_bucket_valid(r.bucket) && r.op != S3_OP_LIST_BUCKETS)
			__builtin_trap();
		s3_request_free(&r);
	}
	bool partial;
	uint64_t first, last, size_obj = fields[0] ? strlen(fields[0]) * 977u : 0;
	if (s3_range_parse(fields[3], size_obj, &partial, &first, &last) == 0 && partial &&
	    (first > last || last >= size_obj))
		__builtin_trap();
	/* The read-ahead hint agrees with a range that parses from its start. */
	uint64_t hint = s3_range_start(fields[3]);
	if (fields[3] && strncasecmp(fields[3], "bytes=", 6) == 0 && fields[3][6] >= '0' &&
	    fields[3][6] <= '9' && !strchr(fields[3], ',') &&
	    s3_range_parse(fields[3], UINT64_MAX, &partial, &first, &last) == 0 && partial &&
	    hint != first)
		__builtin_trap();
	char *tok = NULL, *back = NULL;
	/* Tokens of keys (at most 1024 bytes) must round-trip. */
	if (fields[1] && strlen(fields[1]) <= S3_MAX_KEY && s3_token_encode(fields[1], &tok) == 0) {
		if (s3_token_decode(tok, &back) != 0 || strcmp(back, fields[1]) != 0)
			__builtin_trap();
		free(back);
		back = NULL;
	}
	free(tok);
	if (fields[0] && s3_token_decode(fields[0], &back) == 0)
		free(back);
	int64_t t;
	if (fields[0])
		(void)s3_time_parse(fields[0], &t);
	free(buf);
	return 0;
}
