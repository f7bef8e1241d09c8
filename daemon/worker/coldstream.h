#ifndef STRATA_WORKER_COLDSTREAM_H
#define STRATA_WORKER_COLDSTREAM_H

/*
 * A lazy load's block, read from its store on a thread of its own so that
 * the request that started it answers from the store's first byte instead
 * of after its last: the request waits only for the reply's headers (the
 * file's metadata, which the master must record before anything is
 * served), then sends the bytes as they arrive. Once the block is whole,
 * a completion (cstream_decide) caches it.
 */

#include <stdbool.h>
#include <stdint.h>

#include "ufs/ufs.h"

struct cstream;

/* Called once per stream, on whichever thread comes last of the transfer
 * and cstream_decide: data/len is the whole block when ok, else NULL/0. */
typedef void (*cstream_done_fn)(void *arg, bool ok, const char *data, uint64_t len);

/*
 * Starts reading up to max bytes of ufs_path at off (whole object when
 * off is 0 and max covers it) and waits for the reply's headers: *st gets
 * the file's metadata. On 0, *out holds a reference (cstream_unref); on
 * an error before the first byte (the file is missing, the store is down)
 * nothing is left running and err says why.
 */
int cstream_start(struct ufs *ufs, const char *ufs_path, uint64_t off, uint64_t max,
		  struct ufs_stat *st, struct cstream **out, char *err, size_t errlen);

/* The block's length once whole (from st: min(max, length - off)). */
uint64_t cstream_length(const struct cstream *s);

/* What to do with the whole block: done(arg, ...) runs once it is in
 * (or failed), before a whole-block reader gets its last piece; then
 * after(arg, ...) (may be NULL), once the readers have it: the slow part
 * (a push to a peer). done NULL: nobody wants it; the read is cut short. */
void cstream_decide(struct cstream *s, cstream_done_fn done, cstream_done_fn after, void *arg);

/*
 * Sends [off, off+len) of the block to sink as it arrives: the first
 * piece at once, then by 256 KiB or what is left (one wake-up and one
 * sink call each, not one per piece the store sends); the block's last
 * piece once the completion ran, so whoever sees a whole-block reply end
 * finds the block cached and counted. -EIO (err says why) when the store's read failed
 * or ended short; the sink's own error when it refused bytes.
 */
int cstream_read(struct cstream *s, uint64_t off, uint64_t len,
		 int (*sink)(void *arg, const void *data, size_t n), void *arg, char *err,
		 size_t errlen);

void cstream_unref(struct cstream *s);

/* Waits (up to timeout_ms) for every transfer still running: before the
 * stores they read from are closed. Returns how many are left. */
int cstream_drain(int timeout_ms);

#endif
