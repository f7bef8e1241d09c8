#ifndef STRATA_TIER_FORMAT_H
#define STRATA_TIER_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/*
 * On-disk format of one block. Each tier directory holds flat files:
 *
 *   <id>.blk          a committed block; <id> is the id as exactly 16
 *                     lower-case hex digits (e.g. 0000000100000003.blk)
 *   <id>.tmp.<tag>    a write in progress (tag: pid and a counter); deleted
 *                     on open, since no writer survives a restart
 *
 * Any other file is left alone. A .blk file is a 32-byte header followed by
 * the block's data; all integers are little-endian:
 *
 *   offset size field
 *        0    4 magic, the bytes "STBK"
 *        4    2 format version, 1
 *        6    2 header size in bytes, 32 (= offset of the data)
 *        8    8 block id (must match the file name)
 *       16    8 data length in bytes (file size must be 32 + this)
 *       24    4 CRC32C of the data bytes
 *       28    4 CRC32C of header bytes 0..27
 *       32  len data
 *
 * The header CRC lets a rescan trust id and length without reading the data;
 * the data CRC is checked lazily (see tier/tier.h). The header is written
 * last, after the data, and the file is renamed from .tmp to .blk only then,
 * so a crash leaves either a temp file or a complete block. Blocks are not
 * fsync'ed: after a power loss a .blk may hold stale pages, which the data
 * CRC catches on first read.
 */
#define TIER_HDR_SIZE 32
#define TIER_HDR_VERSION 1
#define TIER_HDR_MAGIC "STBK"

#define TIER_HDR_OFF_MAGIC 0
#define TIER_HDR_OFF_VERSION 4
#define TIER_HDR_OFF_HDRSIZE 6
#define TIER_HDR_OFF_ID 8
#define TIER_HDR_OFF_LEN 16
#define TIER_HDR_OFF_DATA_CRC 24
#define TIER_HDR_OFF_HDR_CRC 28

_Static_assert(TIER_HDR_OFF_HDR_CRC + 4 == TIER_HDR_SIZE, "header layout adds up");
_Static_assert(TIER_HDR_OFF_LEN + 8 == TIER_HDR_OFF_DATA_CRC, "len is 8 bytes");
_Static_assert(sizeof(TIER_HDR_MAGIC) - 1 == 4, "magic is 4 bytes");

struct tier_block_hdr {
	uint64_t id;
	uint64_t len;
	uint32_t data_crc;
};

/* Writes exactly TIER_HDR_SIZE bytes into out. */
void tier_hdr_encode(const struct tier_block_hdr *hdr, unsigned char out[TIER_HDR_SIZE]);
/*
 * Parses n bytes. 0, or -EBADMSG if n is short, the magic, version, header
 * size or header CRC is wrong.
 */
int tier_hdr_decode(const unsigned char *in, size_t n, struct tier_block_hdr *out);

enum tier_name_kind {
	TIER_NAME_OTHER, /* not ours: leave it */
	TIER_NAME_BLOCK, /* <id>.blk */
	TIER_NAME_TEMP,	 /* <id>.tmp.<tag> */
};

/* Classifies a directory entry name; sets *id for BLOCK and TEMP. */
enum tier_name_kind tier_name_parse(const char *name, uint64_t *id);
/* Formats "<id>.blk" into out (at least TIER_NAME_MAX bytes). */
#define TIER_NAME_MAX 64
void tier_name_block(uint64_t id, char out[TIER_NAME_MAX]);
/* Formats "<id>.tmp.<pid>.<seq>". */
void tier_name_temp(uint64_t id, long pid, uint64_t seq, char out[TIER_NAME_MAX]);

#endif
