#ifndef STRATA_WORKER_PREFETCH_H
#define STRATA_WORKER_PREFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker_node;

/*
 * The worker's side of the master's data jobs (daemon/master/datajobs.h).
 *
 * prefetch_load reads [off, off + len) of the file at path through the
 * owner's read path (bsvc_read_block: a cache hit, or read through from
 * the store once and cached, as a read at its owner does) and throws the
 * bytes away. The master sends each block to its owner by placement over
 * the live workers, so the block lands where a read would put it. data_id is the content the master planned for:
 * when the file changed since, ST_ESTALE. *bytes gets the bytes read.
 * medium (NULL or "": anywhere) moves each block up to that medium or a
 * faster tier if it sits lower (bsvc_raise; best effort: a tier full of
 * pinned blocks leaves it where it is). pinned: the master knows the file
 * pinned; when this worker's cached metadata says otherwise it is fetched
 * again first, so the blocks are pinned as they land.
 *
 * prefetch_free drops blocks 0..count-1 of content data_id from this
 * worker's tiers (pinned or not; absent ones are skipped) and returns how
 * many it dropped in *removed.
 */
int prefetch_load(struct worker_node *w, const char *path, uint64_t data_id, uint64_t off,
		  uint64_t len, const char *medium, bool pinned, uint64_t *bytes, char *err,
		  size_t errlen);
int prefetch_free(struct worker_node *w, uint64_t data_id, uint64_t count, uint64_t *removed);
/* Unpins blocks 0..count-1 of content data_id that this worker holds (its
 * store holds it now: a persist job ended); *unpinned counts them. */
int prefetch_unpin(struct worker_node *w, uint64_t data_id, uint64_t count, uint64_t *unpinned);

#endif
