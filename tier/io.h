#ifndef STRATA_TIER_IO_H
#define STRATA_TIER_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tier/tier.h"

/*
 * Block file I/O: a small pool of io_uring rings shared by all threads (each
 * ring has its own mutex; a caller takes the first free one), or plain
 * pread/pwrite. A request is split into 1 MiB chunks submitted together, so
 * one large read keeps several requests in flight on the device. A ring
 * whose submit fails is retired and its callers fall back to pread/pwrite.
 */
struct tier_io;

/*
 * mode AUTO falls back to sync when no ring can be made; URING fails with
 * the ring's error; SYNC never tries. *out owned by the caller.
 */
int tier_io_create(enum tier_io_mode mode, unsigned nrings, unsigned depth,
		   struct tier_io **out, char *err, size_t errlen);
void tier_io_destroy(struct tier_io *io);
bool tier_io_uses_uring(const struct tier_io *io);

/*
 * Reads len bytes at off: returns the bytes read, fewer only at end of
 * file, or -errno. io may be NULL: plain pread (the MEM tier).
 */
ssize_t tier_io_read(struct tier_io *io, int fd, void *buf, size_t len, uint64_t off);
/* Writes all len bytes at off: 0 or -errno. io may be NULL. */
int tier_io_write(struct tier_io *io, int fd, const void *buf, size_t len, uint64_t off);

#endif
