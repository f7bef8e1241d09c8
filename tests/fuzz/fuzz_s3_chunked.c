/*
 * libFuzzer target: the aws-chunked decoder (api/s3_auth.c), unsigned and
 * signed with a fixed key, fed in pieces whose sizes come from the input.
 */
#include "api/s3_auth.h"
#include "api/s3_proto.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct count {
	uint64_t n;
};

static int sink(void *arg, const void *buf, size_t len)
{
	struct count *c = arg;
	(void)buf;
	c->n += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct s3_auth_result auth;
	memset(&auth, 0, sizeof(auth));
	auth.payload = (data[0] & 1) ? S3_PAYLOAD_STREAMING : S3_PAYLOAD_STREAMING_UNSIGNED;
	strcpy(auth.amz_date, "20130524T000000Z");
	strcpy(auth.scope, "20130524/us-east-1/s3/aws4_request");
	strcpy(auth.seed_signature,
	       "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
	memset(auth.signing_key, 0x5a, sizeof(auth.signing_key));
	size_t step = (size_t)(data[1] % 17) + 1;
	struct s3_auth_chunked d;
	struct count c = { 0 };
	if (s3_auth_chunked_init(&d, &auth))
		return 0;
	int rc = 0;
	for (size_t off = 2; off < size && !rc; off += step)
		rc = s3_auth_chunked_feed(&d, data + off, size - off < step ? size - off : step, sink,
					  &c);
	if (c.n > size || d.decoded != c.n)
		__builtin_trap();
	if (!rc)
		(void)s3_auth_chunked_finish(&d);
	s3_auth_chunked_free(&d);
	return 0;
}
