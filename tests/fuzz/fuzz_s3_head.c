/*
 * Fuzzes what the S3 store driver keeps of a reply's headers
 * (ufs/s3_xml.c s3_head_line): the input is a reply head, one header line
 * per '\n'. Contract: no crash; the ETag never keeps its quotes and fits
 * the fingerprint; a length is never a wrapped negative (a Content-Range
 * total is -1 or 0..INT64_MAX, a Content-Length at most INT64_MAX); and
 * the inverse: a length or an ETag the parser kept, formatted back into a
 * header line and parsed again, reads back the same.
 */
#include "ufs/s3_int.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct s3_head *h)
{
	size_t n = strlen(h->etag);
	if (n >= sizeof(h->etag) || strlen(h->etag_raw) >= sizeof(h->etag_raw))
		__builtin_trap();
	if (n && (h->etag[0] == '"' || h->etag[n - 1] == '"'))
		__builtin_trap();
	if (h->range_total < -1 || h->content_length > INT64_MAX || h->mtime_ms < 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_head h;
	s3_head_reset(&h);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		s3_head_line(&h, p, len);
		check(&h);
		p += len;
	}
	/* Round trips through the formats a store sends. */
	char line[256];
	struct s3_head back;
	s3_head_reset(&back);
	int n = snprintf(line, sizeof(line), "Content-Length: %" PRIu64 "\r\n", h.content_length);
	s3_head_line(&back, line, (size_t)n);
	if (back.content_length != h.content_length)
		__builtin_trap();
	if (h.range_total >= 0) {
		n = snprintf(line, sizeof(line), "Content-Range: bytes 0-0/%" PRId64 "\r\n",
			     h.range_total);
		s3_head_line(&back, line, (size_t)n);
		if (back.range_total != h.range_total)
			__builtin_trap();
	}
	if (h.etag[0] && !strpbrk(h.etag, " \t\r\n\"")) {
		n = snprintf(line, sizeof(line), "ETag: \"%s\"\r\n", h.etag);
		s3_head_line(&back, line, (size_t)n);
		if (strcmp(back.etag, h.etag) != 0)
			__builtin_trap();
	}
	return 0;
}
