/* Journal commands (daemon/master/journal.c): any bytes through the strict
 * decoder. What decodes must encode, decode again to an equal command, and
 * encode again to the same bytes (one encoding per command); what does not
 * decode must say why and hand back nothing. */
#include "daemon/master/journal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	/* A copy of exactly size bytes, so reading past it is caught. */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct journal_cmd *c = NULL, *d = NULL;
	char err[512] = "";
	int rc = journal_decode(copy, size, &c, err, sizeof(err));
	free(copy);
	if (rc) {
		if (c || !err[0])
			abort();
		return 0;
	}
	char *text = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	if (journal_encode(c, &text, &len, err, sizeof(err)) != 0)
		abort();
	if (journal_decode(text, len, &d, err, sizeof(err)) != 0 || !journal_equal(c, d))
		abort();
	if (journal_encode(d, &again, &len2, err, sizeof(err)) != 0 || len2 != len ||
	    memcmp(text, again, len) != 0)
		abort();
	free(again);
	free(text);
	journal_free(d);
	journal_free(c);
	return 0;
}
