#ifndef STRATA_MASTER_LAZYLOAD_H
#define STRATA_MASTER_LAZYLOAD_H

#include "daemon/master/filemeta.h"

#include <stddef.h>
#include <stdint.h>

struct fs;
struct meta;
struct ufs_stat;

/*
 * Lazy loads done by a worker: one store round trip for the first read of
 * a file nobody has looked up or listed.
 *
 * Without this, a worker's lookup of an unknown path makes the master HEAD
 * the store (fs refresh) before the worker GETs the data: two round trips
 * before the first byte. Instead the worker asks with lazy=1; for a path
 * the namespace does not know, under a mount, whose parent directory's
 * listing is not fresh, the master answers ST_ENOTLOADED with the mount and
 * store path only (no store call, no log entry). The worker GETs the first
 * block it needs, takes the file's metadata from that same reply
 * (ufs_read_stat) and reports it with lazyload_record, which journals it as
 * a sync would (a sync_entry) and returns the file with its data_id.
 */

/*
 * filemeta_lookup, except for a path that is not loaded (above):
 * ST_ENOTLOADED with out->mount, out->ufs_path and out->epoch set and
 * out->inode zeroed. A known path, the mount point itself, a path outside
 * every mount and a path whose parent's listing is fresh take the normal
 * lookup (which asks the store about an unknown path, as before).
 * now_wall_ms: wall clock, as filemeta_lookup.
 */
int lazyload_lookup(struct fs *fs, struct meta *meta, const char *path, int64_t now_wall_ms,
		    struct filemeta *out, char *err, size_t errlen);

/*
 * Records what a worker read from the store for path (st: length, mtime,
 * fingerprint; not a directory) and answers as filemeta_lookup would,
 * without asking the store again. If the namespace already holds path with
 * the same fingerprint and length, nothing is written; with another one,
 * the store's answer wins as a sync's would (new content, new data_id).
 * place (NULL: none): who loaded which block; new content then gets a
 * data_id whose block index that worker owns among the live workers
 * (fs_load_file), so it keeps the block it read instead of pushing it to
 * a peer. An unknown or lost worker, or a lone one, changes nothing.
 * -EISDIR when the namespace holds a directory there, ST_ENOMOUNT outside
 * every mount, -EINVAL (mount point, bad fields), or the journal's error.
 */
struct registry;
struct lazyload_place {
	struct registry *reg; /* the live workers placement runs over */
	uint64_t worker_id;   /* the loading worker */
	uint64_t index;       /* the block it read */
};
int lazyload_record(struct fs *fs, struct meta *meta, const char *path,
		    const struct ufs_stat *st, const struct lazyload_place *place,
		    int64_t now_wall_ms, struct filemeta *out, char *err, size_t errlen);

#endif
