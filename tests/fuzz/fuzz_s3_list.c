/* libFuzzer target: the S3 ListObjectsV2 / Error / upload-id parsers. */
#include "ufs/s3_int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct s3_listing l;
	char err[128], code[64], msg[128];
	if (s3_parse_listing(body, size, &l, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < l.count; i++)
			if (!l.objs[i].key || !*l.objs[i].key)
				__builtin_trap();
		if (l.truncated && !l.next_token)
			__builtin_trap();
		s3_listing_free(&l);
	}
	(void)s3_parse_error(body, size, code, sizeof(code), msg, sizeof(msg));
	char *id = NULL;
	if (s3_parse_upload_id(body, size, &id) == 0)
		free(id);
	return 0;
}
