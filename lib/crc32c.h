#ifndef STRATA_LIB_CRC32C_H
#define STRATA_LIB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI,
 * ext4 and SSE4.2's crc32 instruction. Incremental: start with crc = 0 and
 * feed the previous result back in. crc32c("123456789") == 0xE3069283.
 * The one implementation in strata: tier block files and Raft's log,
 * snapshots and wire frames all use it.
 * crc32c uses SSE4.2 when the CPU has it (checked once at run time;
 * three streams at once over long buffers: ~22 GiB/s here against ~8 for one),
 * else slicing-by-8; crc32c_sw is always the portable one (tests).
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* true if crc32c runs on the SSE4.2 instruction. */
int crc32c_hw_available(void);

#endif
