#ifndef STRATA_WORKER_BUFPOOL_H
#define STRATA_WORKER_BUFPOOL_H
/*
 * Block-sized buffers kept for the next store read. A read from the store
 * lands in a buffer as big as its block (4 MiB by default) before it is
 * cached; a fresh one costs the kernel a page fault and a zeroed page per
 * 4 KiB, which was a third of the worker's CPU on a stream of cold reads
 * (bench/policies.sh, cold GETs). A few freed buffers are kept (at most
 * BUFPOOL_KEEP_BYTES together) and handed out again; bufpool_trim gives
 * back the ones nobody took for a while, so an idle worker holds none.
 * Thread-safe; a process-wide pool (buffers are plain memory).
 */
#include <stddef.h>
#include <stdint.h>

/* 16 blocks of 4 MiB: eight connections' cold streams and the completions
 * still writing theirs to the tier. With 32 MiB, faulting in fresh buffers
 * was ~10% of the worker's samples in bench/policies.sh's cold pass; with
 * 64 MiB it no longer shows (session 14). */
#define BUFPOOL_KEEP_BYTES ((size_t)64 << 20)
#define BUFPOOL_SLOTS 16
#define BUFPOOL_IDLE_MS 10000 /* the worker trims what was kept longer */
#define BUFPOOL_MIN_BYTES ((size_t)256 << 10) /* smaller ones: plain malloc */

/* A buffer of at least len bytes (len 0: 1), a kept one when one fits:
 * the smallest that does (below BUFPOOL_MIN_BYTES: a fresh one). *cap gets its size, for bufpool_put. NULL when
 * out of memory. The caller owns it until bufpool_put. */
void *bufpool_get(size_t len, size_t *cap);

/* Gives buf (of cap bytes, from bufpool_get or malloc) back: kept when
 * there is room and it is not small, else freed. NULL is a no-op. now_ms: the caller's
 * monotonic clock, for bufpool_trim. */
void bufpool_put(void *buf, size_t cap, int64_t now_ms);

/* Frees the kept buffers not used since now_ms - idle_ms (every one with
 * idle_ms 0). Returns how many bytes it freed. */
size_t bufpool_trim(int64_t now_ms, int64_t idle_ms);

/* Bytes kept right now (for metrics and tests). */
size_t bufpool_kept(void);

#endif
