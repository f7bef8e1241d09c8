/* Fuzzes the S3 access key file parser (lib/s3keys.c): any bytes as a key
 * file. What parses must format and parse back to the same keys, and a
 * refusal must leave nothing behind. */
#include "lib/s3keys.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3keys k;
	char err[512];
	if (s3keys_parse((const char *)data, size, &k, err, sizeof(err))) {
		if (k.n || k.keys)
			abort();
		return 0;
	}
	char *text;
	size_t len;
	if (s3keys_format(&k, &text, &len))
		abort();
	struct s3keys back;
	if (s3keys_parse(text, len, &back, err, sizeof(err)) || back.n != k.n)
		abort();
	for (size_t i = 0; i < k.n; i++) {
		const struct s3key *a = &k.keys[i], *b = &back.keys[i];
		if (strcmp(a->id, b->id) || strcmp(a->secret, b->secret) || a->role != b->role ||
		    strcmp(a->buckets, b->buckets) || a->created != b->created)
			abort();
		s3key_allows_bucket(a, "bucket");
	}
	free(text);
	s3keys_free(&back);
	s3keys_free(&k);
	return 0;
}
