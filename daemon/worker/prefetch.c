/* Load and free for the master's data jobs (prefetch.h). */
#include "daemon/worker/prefetch.h"

#include "daemon/worker/blocksvc.h"
#include "daemon/worker/filecache.h"
#include "daemon/worker/worker.h"
#include "lib/err.h"
#include "lib/placement.h"
#include "tier/tier.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int discard(void *arg, const void *data, size_t len)
{
	(void)data;
	*(uint64_t *)arg += len;
	return 0;
}

int prefetch_load(struct worker_node *w, const char *path, uint64_t data_id, uint64_t off,
		  uint64_t len, const char *medium, bool pinned, uint64_t *bytes, char *err,
		  size_t errlen)
{
	*bytes = 0;
	struct file_info *fi = malloc(sizeof(*fi));
	if (!fi)
		return -ENOMEM;
	int rc = fcache_get(w->fcache, path, fi, err, errlen);
	if (!rc && (fi->data_id != data_id || fi->pinned != pinned)) {
		fcache_invalidate(w->fcache, path);
		rc = fcache_get(w->fcache, path, fi, err, errlen);
	}
	if (!rc && fi->data_id != data_id) {
		snprintf(err, errlen, "'%s' changed since the job planned it", path);
		rc = ST_ESTALE;
	}
	/* Each block is read as its owner reads it (never forwarded): the
	 * master chose this worker by placement over its live list, which a
	 * worker's own list may trail for a heartbeat after a change (a
	 * failover renumbers the workers); forwarding then would pull blocks
	 * between workers on keep-alive connections for nothing. */
	uint64_t end = off + len < fi->length ? off + len : fi->length;
	while (!rc && off < end && fi->block_size > 0) {
		uint64_t bs = (uint64_t)fi->block_size, index = off / bs, in = off % bs;
		uint64_t n = bs - in < end - off ? bs - in : end - off;
		rc = bsvc_read_block(w->bsvc, fi, index, in, n, discard, bytes, err, errlen);
		if (!rc && medium && *medium)
			bsvc_raise(w->bsvc, placement_block_id(fi->data_id, index), medium);
		off += n;
	}
	free(fi);
	return rc;
}

int prefetch_unpin(struct worker_node *w, uint64_t data_id, uint64_t count, uint64_t *unpinned)
{
	*unpinned = 0;
	if (count > PLACEMENT_MAX_INDEX + 1)
		count = PLACEMENT_MAX_INDEX + 1;
	for (uint64_t i = 0; i < count; i++) {
		int rc = tier_block_pin(w->tiers, placement_block_id(data_id, i), false);
		if (rc == 0)
			(*unpinned)++;
		else if (rc != -ENOENT)
			return rc;
	}
	return 0;
}

int prefetch_free(struct worker_node *w, uint64_t data_id, uint64_t count, uint64_t *removed)
{
	*removed = 0;
	if (count > PLACEMENT_MAX_INDEX + 1)
		count = PLACEMENT_MAX_INDEX + 1;
	for (uint64_t i = 0; i < count; i++) {
		int rc = tier_block_remove(w->tiers, placement_block_id(data_id, i));
		if (rc == 0)
			(*removed)++;
		else if (rc != -ENOENT)
			return rc;
	}
	return 0;
}
