/*
 * libFuzzer target: the S3 request-body parsers (api/s3_proto_xml.c):
 * CompleteMultipartUpload, Delete and CreateBucketConfiguration, on the
 * same bytes; results are checked against their documented contracts.
 */
#include "api/s3_proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct s3_part *parts = NULL;
	size_t n = 0;
	const char *body = (const char *)data;
	if (s3_parse_complete_multipart(body, size, &parts, &n, err, sizeof(err)) == 0) {
		if (n == 0 || n > S3_MAX_PARTS)
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if (parts[i].number < 1 || parts[i].number > S3_MAX_PARTS ||
			    (i && parts[i].number <= parts[i - 1].number))
				__builtin_trap();
		char etag[S3_ETAG_MAX];
		(void)s3_multipart_etag(parts, n, etag);
		free(parts);
	}
	char **keys = NULL;
	bool quiet;
	if (s3_parse_delete(body, size, &keys, &n, &quiet, err, sizeof(err)) == 0) {
		if (n == 0 || n > S3_MAX_DELETE_KEYS)
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			(void)s3_key_check(keys[i], strlen(keys[i]), err, sizeof(err));
		s3_keys_free(keys, n);
	}
	char region[64];
	(void)s3_parse_create_bucket(body, size, region, sizeof(region), err, sizeof(err));
	/* The reply builders must escape whatever a key holds. */
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct s3_xml_entry e = { text, false, size, 0, text };
	struct s3_xml_listing l = { .v2 = true, .bucket = "b", .prefix = text,
				    .delimiter = "/", .entries = &e, .n = 1,
				    .url_encoding = size & 1 };
	char *xml = NULL;
	size_t len;
	if (s3_xml_list_objects(&l, &xml, &len) == 0) {
		if (strlen(xml) != len)
			__builtin_trap();
		free(xml);
	}
	free(text);
	return 0;
}
