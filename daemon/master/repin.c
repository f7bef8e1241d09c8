/* Pins to restore on a registering worker (repin.h). */
#include "daemon/master/repin.h"

#include "daemon/master/meta.h"
#include "daemon/master/ns.h"
#include "lib/path.h"
#include "lib/placement.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Whether the current content data_id must stay pinned. */
static bool keeps_pin(struct meta *meta, uint64_t data_id, char *path, size_t pathlen)
{
	struct ns_inode n;
	struct ns *ns = meta_read_lock(meta);
	int rc = ns_by_data_id(ns, data_id, &n, path, pathlen, NULL);
	meta_read_unlock(meta);
	if (rc)
		return false; /* old content of a changed or deleted file */
	return n.pinned || (n.persistence != NS_PERSISTED && n.persistence != NS_LOST);
}

int repin_select(struct meta *meta, const uint64_t *blocks, size_t n, uint64_t **out,
		 size_t *nout)
{
	*out = NULL;
	*nout = 0;
	if (!n)
		return 0;
	uint64_t *ids = malloc(n * sizeof(*ids));
	char *path = malloc(PATH_MAX_LEN + 1);
	if (!ids || !path) {
		free(ids);
		free(path);
		return -ENOMEM;
	}
	memcpy(ids, blocks, n * sizeof(*ids));
	qsort(ids, n, sizeof(*ids), cmp_u64);
	/* Sorted, a content's blocks come together: one lookup each; the
	 * kept ones are compacted to the front of ids. */
	size_t kept = 0;
	uint64_t last = UINT64_MAX;
	bool keep = false;
	for (size_t i = 0; i < n; i++) {
		uint64_t data_id = ids[i] >> PLACEMENT_INDEX_BITS;
		if (data_id != last) {
			last = data_id;
			keep = keeps_pin(meta, data_id, path, PATH_MAX_LEN + 1);
		}
		if (keep && (kept == 0 || ids[kept - 1] != ids[i]))
			ids[kept++] = ids[i];
	}
	free(path);
	if (!kept) {
		free(ids);
		return 0;
	}
	*out = ids;
	*nout = kept;
	return 0;
}
