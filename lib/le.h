#ifndef STRATA_LIB_LE_H
#define STRATA_LIB_LE_H
/*
 * Little-endian integers of 1 to 8 bytes in byte buffers, for the on-disk
 * and wire formats documented byte by byte in their headers (tier block
 * files, local-read messages).
 */
#include <stdint.h>

static inline void le_put(unsigned char *p, uint64_t v, int nbytes)
{
	for (int i = 0; i < nbytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t le_get(const unsigned char *p, int nbytes)
{
	uint64_t v = 0;
	for (int i = 0; i < nbytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif
