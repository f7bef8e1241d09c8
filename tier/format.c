#include "tier/format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/crc32c.h"
#include "lib/le.h"

void tier_hdr_encode(const struct tier_block_hdr *hdr, unsigned char out[TIER_HDR_SIZE])
{
	memcpy(out + TIER_HDR_OFF_MAGIC, TIER_HDR_MAGIC, 4);
	le_put(out + TIER_HDR_OFF_VERSION, TIER_HDR_VERSION, 2);
	le_put(out + TIER_HDR_OFF_HDRSIZE, TIER_HDR_SIZE, 2);
	le_put(out + TIER_HDR_OFF_ID, hdr->id, 8);
	le_put(out + TIER_HDR_OFF_LEN, hdr->len, 8);
	le_put(out + TIER_HDR_OFF_DATA_CRC, hdr->data_crc, 4);
	le_put(out + TIER_HDR_OFF_HDR_CRC, crc32c(0, out, TIER_HDR_OFF_HDR_CRC), 4);
}

int tier_hdr_decode(const unsigned char *in, size_t n, struct tier_block_hdr *out)
{
	if (n < TIER_HDR_SIZE)
		return -EBADMSG;
	if (memcmp(in + TIER_HDR_OFF_MAGIC, TIER_HDR_MAGIC, 4) != 0)
		return -EBADMSG;
	if (le_get(in + TIER_HDR_OFF_VERSION, 2) != TIER_HDR_VERSION)
		return -EBADMSG;
	if (le_get(in + TIER_HDR_OFF_HDRSIZE, 2) != TIER_HDR_SIZE)
		return -EBADMSG;
	if (le_get(in + TIER_HDR_OFF_HDR_CRC, 4) != crc32c(0, in, TIER_HDR_OFF_HDR_CRC))
		return -EBADMSG;
	out->id = le_get(in + TIER_HDR_OFF_ID, 8);
	out->len = le_get(in + TIER_HDR_OFF_LEN, 8);
	out->data_crc = (uint32_t)le_get(in + TIER_HDR_OFF_DATA_CRC, 4);
	return 0;
}

/* Parses exactly 16 lower-case hex digits. */
static int parse_hex16(const char *s, uint64_t *id)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9')
			v = (v << 4) | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (v << 4) | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	*id = v;
	return 0;
}

enum tier_name_kind tier_name_parse(const char *name, uint64_t *id)
{
	if (strnlen(name, 17) < 16 || parse_hex16(name, id) < 0)
		return TIER_NAME_OTHER;
	const char *rest = name + 16;
	if (strcmp(rest, ".blk") == 0)
		return TIER_NAME_BLOCK;
	if (strncmp(rest, ".tmp.", 5) == 0)
		return TIER_NAME_TEMP;
	return TIER_NAME_OTHER;
}

void tier_name_block(uint64_t id, char out[TIER_NAME_MAX])
{
	snprintf(out, TIER_NAME_MAX, "%016" PRIx64 ".blk", id);
}

void tier_name_temp(uint64_t id, long pid, uint64_t seq, char out[TIER_NAME_MAX])
{
	snprintf(out, TIER_NAME_MAX, "%016" PRIx64 ".tmp.%ld.%" PRIu64, id, pid, seq);
}
