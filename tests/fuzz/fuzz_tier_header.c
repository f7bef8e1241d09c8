/*
 * Fuzzes what the tier store parses from disk on rescan: the 32-byte block
 * header and directory entry names. Properties: no crash, and whatever
 * parses re-encodes to the same bytes (header) or the same name (block).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tier/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tier_block_hdr hdr;
	if (tier_hdr_decode(data, size, &hdr) == 0) {
		unsigned char again[TIER_HDR_SIZE];
		tier_hdr_encode(&hdr, again);
		if (memcmp(again, data, TIER_HDR_SIZE) != 0)
			abort();
	}
	char name[TIER_NAME_MAX * 2];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = '\0';
	uint64_t id;
	if (tier_name_parse(name, &id) == TIER_NAME_BLOCK) {
		char again[TIER_NAME_MAX];
		tier_name_block(id, again);
		if (strcmp(again, name) != 0)
			abort();
	}
	return 0;
}
