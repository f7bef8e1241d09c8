/*
 * libFuzzer target: the S3 front's HTTP framing (api/s3_server_http.c).
 * The input is taken as a request head, as a response head, and as a chunked
 * body fed in two pieces split at the first byte's value; checks that
 * results stay inside the input.
 */
#include "api/s3_server_http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	/* An exact-size copy, so ASan catches any read past the end. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct s3fh_request r;
	if (s3fh_parse_request(buf, size, &r) == 1) {
		if (r.head_len > size || r.method.p + r.method.len > buf + size ||
		    r.target.p + r.target.len > buf + size || r.minor < 0 || r.minor > 1 ||
		    (r.nrange && r.range.p + r.range.len > buf + size) ||
		    (r.has_length && r.chunked) || r.nheaders > S3FH_MAX_HEADERS)
			abort();
		(void)s3fh_keep_alive(&r);
	}
	struct s3fh_response rs;
	if (s3fh_parse_response(buf, size, &rs) == 1 &&
	    (rs.head_len > size || rs.status < 100 || rs.status > 999))
		abort();
	struct s3fh_chunked ch = { 0 };
	size_t split = size ? (size_t)(unsigned char)buf[0] % (size + 1) : 0;
	long a = s3fh_chunked_feed(&ch, buf, split);
	if (a > (long)split)
		abort();
	if (a >= 0 && a == (long)split && !ch.done) {
		long b = s3fh_chunked_feed(&ch, buf + split, size - split);
		if (b > (long)(size - split))
			abort();
	}
	free(buf);
	return 0;
}
