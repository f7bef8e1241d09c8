#include "lib/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CRC32C_POLY 0x82F63B78u

/* The SSE4.2 path runs three streams of CRC_STRIDE bytes at once: the
 * crc32 instruction takes three cycles to give its result but can start one
 * every cycle, so one stream leaves two thirds of it idle. The three are
 * joined by shifting a stream's CRC over the CRC_STRIDE bytes after it
 * (crc_shift: the CRC register is linear in its input, so the shift is
 * four table lookups). */
#define CRC_STRIDE 8192

static uint32_t crc_table[8][256];
static uint32_t crc_shift_table[4][256]; /* a register moved over CRC_STRIDE zero bytes */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_hw;

static uint32_t crc_zeros_sw(uint32_t c, size_t n)
{
	while (n--)
		c = crc_table[0][c & 0xff] ^ (c >> 8);
	return c;
}

static void crc_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = crc_table[0][n];
		for (int t = 1; t < 8; t++) {
			c = crc_table[0][c & 0xff] ^ (c >> 8);
			crc_table[t][n] = c;
		}
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2");
#endif
	if (!crc_hw)
		return; /* the shift table serves the SSE4.2 path only */
	/* Linear: each of the 32 register bits once, then every byte value
	 * as the sum of its bits. */
	uint32_t bit[32];
	for (unsigned b = 0; b < 32; b++)
		bit[b] = crc_zeros_sw(1u << b, CRC_STRIDE);
	for (unsigned k = 0; k < 4; k++) {
		for (uint32_t n = 0; n < 256; n++) {
			uint32_t v = 0;
			for (unsigned b = 0; b < 8; b++)
				if (n & (1u << b))
					v ^= bit[8 * k + b];
			crc_shift_table[k][n] = v;
		}
	}
}

/* The register c after CRC_STRIDE zero bytes. */
static inline uint32_t crc_shift(uint32_t c)
{
	return crc_shift_table[0][c & 0xff] ^ crc_shift_table[1][(c >> 8) & 0xff] ^
	       crc_shift_table[2][(c >> 16) & 0xff] ^ crc_shift_table[3][c >> 24];
}

/* Slicing-by-8 reads 8 bytes per step; little-endian hosts only (x86, arm64). */
static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		uint64_t word;
		memcpy(&word, p, 8);
		word ^= crc;
		crc = crc_table[7][word & 0xff] ^ crc_table[6][(word >> 8) & 0xff] ^
		      crc_table[5][(word >> 16) & 0xff] ^ crc_table[4][(word >> 24) & 0xff] ^
		      crc_table[3][(word >> 32) & 0xff] ^ crc_table[2][(word >> 40) & 0xff] ^
		      crc_table[1][(word >> 48) & 0xff] ^ crc_table[0][word >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw_run(uint32_t crc,
							       const unsigned char *p,
							       size_t len)
{
	uint64_t c = crc;
	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	while (len >= 3 * CRC_STRIDE) {
		/* The second and third streams start from 0; joined below. */
		uint64_t c1 = 0, c2 = 0;
		for (size_t i = 0; i < CRC_STRIDE; i += 8) {
			uint64_t w0, w1, w2;
			memcpy(&w0, p + i, 8);
			memcpy(&w1, p + CRC_STRIDE + i, 8);
			memcpy(&w2, p + 2 * CRC_STRIDE + i, 8);
			c = _mm_crc32_u64(c, w0);
			c1 = _mm_crc32_u64(c1, w1);
			c2 = _mm_crc32_u64(c2, w2);
		}
		c = crc_shift(crc_shift((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
		p += 3 * CRC_STRIDE;
		len -= 3 * CRC_STRIDE;
	}
	while (len >= 8) {
		uint64_t word;
		memcpy(&word, p, 8);
		c = _mm_crc32_u64(c, word);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return ~crc_sw(~crc, buf, len);
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
	if (crc_hw)
		return ~crc_hw_run(~crc, buf, len);
#endif
	return ~crc_sw(~crc, buf, len);
}

int crc32c_hw_available(void)
{
	pthread_once(&crc_once, crc_init);
	return crc_hw;
}
