#ifndef STRATA_MASTER_FILEMETA_H
#define STRATA_MASTER_FILEMETA_H

#include "daemon/master/ns.h"
#include "lib/path.h"

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct fs;
struct meta;

/*
 * The metadata trust rules: what a worker is told about a file it reads
 * through its cache, and for how long it may believe it.
 *
 * An answer is tagged with its mount's epoch (ns_mount_epoch: the index of
 * the last command that changed or removed state under the mount). A
 * worker reuses it while that mount's epoch on the leader is unchanged
 * (GET /api/v1/internal/epoch) and trust_ms has not run out. The tag is
 * read before the lookup, so an answer is never tagged older than the
 * state it shows: a change in between makes the tag look stale, never the
 * answer look current.
 */

/* A file's metadata for a worker (the InternalFile object). About 16 KiB:
 * allocate it. */
struct filemeta {
	struct ns_inode inode;
	struct ns_mount mount; /* options carry the store's credentials */
	char ufs_path[PATH_MAX_LEN + 1]; /* path inside the mount's store */
	uint64_t epoch;       /* the namespace epoch (Raft applied index) */
	uint64_t mount_epoch; /* its mount's epoch (ns_mount_epoch) */
	int64_t trust_ms;
};

/*
 * How long a worker may keep trusting an answer while its mount's epoch
 * stays the same: until the file's check against its store (the later of
 * the journaled and the in-memory verified time, which fs_resolve gives as
 * synced_ms) is a sync interval old. -1: for ever
 * (never synced again), 0: not at all (always synced, or never checked).
 * now_wall_ms: wall clock (synced_ms is wall time). Pure.
 */
int64_t filemeta_trust_ms(const struct ns_mount *mnt, const struct ns_inode *n,
			  int64_t now_wall_ms);

/*
 * Looks path (normal) up for a worker: its inode, mount and store path,
 * tagged with the epoch and trust_ms. A lookup that synced the file with
 * its store moved the epoch itself: it is then done once more, so that
 * answer's tag is exact. -EISDIR for a directory, ST_ENOMOUNT outside every
 * mount, else fs_resolve's errors; the reason in err.
 */
int filemeta_lookup(struct fs *fs, struct meta *meta, const char *path, int64_t now_wall_ms,
		    struct filemeta *out, char *err, size_t errlen);

/*
 * The namespace epoch workers check cached answers against. Only the
 * leader answers (ST_ENOTLEADER elsewhere): a follower that lags, or is cut
 * off, would vouch for state the leader has already changed.
 */
int filemeta_epoch(struct meta *meta, uint64_t *epoch);

/* Adds "mounts": {"<mount path>": "<its epoch>", ...} to o (ids as decimal
 * strings). Leader only, like filemeta_epoch. */
int filemeta_mount_epochs(struct meta *meta, struct cJSON *o);

#endif
