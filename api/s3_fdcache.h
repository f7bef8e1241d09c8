/*
 * The S3 front's open-file cache: block files kept open between requests,
 * shared by all the front's event loops, so that a hit on a hot block
 * costs no open()/close(). It knows nothing of tiers: the caller opens a
 * block's file, offers it with s3fdc_put, and checks every s3fdc_get
 * against the tier (the generation it returns) before serving from it.
 *
 * Shape: sets of S3FDC_WAYS entries; a block id may sit in one of two sets
 * (two hashes; a new entry goes to the emptier one): when 20,000 blocks
 * are read in turn through 18,000 ways, ~17,700 ways fill (one 4-way set
 * per block, as before, filled ~15,200). Each set is guarded by one of up
 * to 256 striped mutexes, held for a scan of 8 entries; nothing blocks
 * under them (close() and the caller's tier calls happen outside).
 *
 * Rules:
 * - An entry handed out by s3fdc_get/s3fdc_put is held (refs) until
 *   s3fdc_release: nothing closes or reuses it meanwhile, whichever thread
 *   evicts, sweeps or marks it stale.
 * - A way held by nobody is replaced by a new block only after
 *   S3FDC_REPLACE_MS unused (else the new block is not kept): a cyclic
 *   working set larger than the cache keeps hitting what it holds instead
 *   of evicting every entry before its next use.
 * - s3fdc_sweep drops the copy (below) of an entry unused for
 *   S3FDC_IDLE_MS and closes an entry unused for the keep time
 *   (s3fdc_set_keep). A file is
 *   otherwise kept open across idle periods: the tier says when a block's
 *   file goes (s3fdc_forget, from its forget hook), and that entry closes
 *   then, so a kept fd never holds an evicted file's space for long.
 * - An entry released as stale (the tier says its file changed) is never
 *   handed out again and closes when its last holder releases it.
 * - A copy of the block's bytes (s3fdc_copy, for TLS without kTLS: the
 *   bytes must pass through user space anyway) lives with its entry, is
 *   shared by every holder, never changes once made, and is freed with
 *   the entry; all copies together stay under the budget given to
 *   s3fdc_set_copy_budget (0, the default: no copies).
 */
#ifndef STRATA_API_S3_FDCACHE_H
#define STRATA_API_S3_FDCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3FDC_WAYS 8
/* Unused this long, an entry's copy is freed.
 * Long enough that a cycle over more blocks than it holds keeps hitting:
 * wrk's 2 threads reading 20,000 objects in turn at ~45k req/s each
 * come back to an object after up to ~0.9 s; with 1000 ms the ways went
 * idle, were replaced and the fd hit rate fell from ~82% to 62-70%. */
#define S3FDC_IDLE_MS 2000
/* Unused this long, an entry's way may go to another block. A cycle over
 * more blocks than the cache holds that takes longer than this to come
 * back replaces, least recently used first, exactly the entries it will
 * need next: at 1,000 ms one client reading 20,000 objects in turn
 * (a 1.7 s cycle) found 33% of its files open, at 5,000 ms ~90%. A new
 * working set takes over the ways this long after the old one's last use. */
#define S3FDC_REPLACE_MS 5000
/* Unused this long, an entry closes even though its tier never said its
 * file went (the default of s3fdc_set_keep; worker.s3.open_file_keep):
 * a bound on what a missed notification could hold. Long enough that
 * reads after a pause (a job's next epoch, a dashboard's next refresh)
 * find their files open; session 9 measured 7% fewer req/s over 20,000
 * objects 40 s after a pass when every file was reopened. */
#define S3FDC_KEEP_MS (10 * 60 * 1000)
#define S3FDC_MAX_ENTRIES (1u << 17) /* 6 MiB of table; more is never hot at once */

struct s3fdc;
struct s3fdc_entry;

/* What a cached block file is (the caller's tier_block_fd, in short). */
struct s3fdc_file {
	int fd;
	uint64_t gen, data_offset, len;
};

/*
 * How many block files to keep open under an open-file limit of nofile:
 * the limit minus a reserve for all else the worker opens (client
 * sockets, the pool's gateway requests, tier writers, curl, SQLite, the
 * REST server, logs): half the limit, at most max(1024, nofile / 10),
 * capped at S3FDC_MAX_ENTRIES. 20,000 gives 18,000; 1,024 gives 512.
 */
size_t s3fdc_capacity(uint64_t nofile);

/* A cache of about capacity entries (rounded down to whole sets); NULL
 * when capacity is below two sets or memory is short. */
struct s3fdc *s3fdc_new(size_t capacity);
/* Closes every fd and frees c (NULL is fine). Nothing may be held. */
void s3fdc_free(struct s3fdc *c);
/* The entries the table has room for. */
size_t s3fdc_size(const struct s3fdc *c);

/*
 * The entry of block id, held (the caller releases it) with its file in
 * *f, or NULL when none is cached. The caller must check f->gen against
 * its source before using f->fd and release the entry as stale if it is
 * out of date.
 */
struct s3fdc_entry *s3fdc_get(struct s3fdc *c, uint64_t id, int64_t now_ms,
			      struct s3fdc_file *f);

/*
 * Offers f (just opened by the caller for block id). On success the cache
 * owns f->fd and returns its entry, held once; NULL when it is not kept (no
 * way free or idle long enough, or another thread put id meanwhile): the
 * caller still owns f->fd.
 */
struct s3fdc_entry *s3fdc_put(struct s3fdc *c, uint64_t id, const struct s3fdc_file *f,
			      int64_t now_ms);

/* Drops one hold on e. stale: e's file is out of date; it is handed out no
 * more and closed once nobody holds it. */
void s3fdc_release(struct s3fdc *c, struct s3fdc_entry *e, bool stale);

/* Closes the entries nobody holds that were unused for the keep time
 * (all that nobody holds with force) and drops the copies of those unused
 * for S3FDC_IDLE_MS. Returns how many it closed. */
size_t s3fdc_sweep(struct s3fdc *c, int64_t now_ms, bool force);

/* Block id's file of generation gen is no longer the block (the tier
 * evicted, moved or dropped it): its entry closes now, or when its last
 * holder releases it; it is handed out no more. Safe to call under the
 * tier's lock: it takes one stripe lock and calls nothing else. */
void s3fdc_forget(struct s3fdc *c, uint64_t id, uint64_t gen);

/* Entries unused for keep_ms close (S3FDC_KEEP_MS until set); 0 or less:
 * after S3FDC_IDLE_MS, as their copies go. */
void s3fdc_set_keep(struct s3fdc *c, int64_t keep_ms);

/* At most max bytes of block copies over the whole cache. */
void s3fdc_set_copy_budget(struct s3fdc *c, uint64_t max);

/*
 * The bytes of held entry e's block (its len bytes from data_offset), read
 * from its fd once and then kept with the entry: 0 with *data, valid while
 * e is held; 1 no copy (an empty block or one over max_len, the budget
 * spent, out of memory, a read error: read the file instead); -1 the file
 * is shorter than its length says: e turns stale (never handed out again)
 * and every later call on it says -1 too.
 */
int s3fdc_copy(struct s3fdc *c, struct s3fdc_entry *e, uint64_t max_len, const char **data);

/* Bytes held in copies now (for tests). */
uint64_t s3fdc_copy_bytes(struct s3fdc *c);

/* Entries holding an open fd now (for tests). */
size_t s3fdc_count(struct s3fdc *c);

#endif
