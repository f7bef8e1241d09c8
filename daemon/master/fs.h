#ifndef STRATA_MASTER_FS_H
#define STRATA_MASTER_FS_H

#include "daemon/master/ns.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct meta;

/*
 * The unified namespace as users see it: mounts of under-stores and file
 * operations that go to the store first and then to the metadata log, so a
 * crash between the two leaves the store ahead, which the next sync notices.
 *
 * Paths must already be normal (lib/path.h). Metadata of a mounted store
 * is loaded lazily, on first access, and re-checked per the mount's sync
 * interval: never (-1: loaded once), always (0), or every N ms. A file whose
 * fingerprint (ETag, size+mtime) changed behind strata's back is updated.
 *
 * Errors: 0 or a negative errno with the reason in err: -ENOENT, -EEXIST,
 * -ENOTDIR, -EISDIR, -ENOTEMPTY, -EBUSY (mount points), -EXDEV (rename
 * across mounts), -EROFS (read-only mount), ST_ENOMOUNT (no mount covers a
 * path that needs a store), -EINVAL, -EAGAIN (store unavailable), -EACCES.
 *
 * Thread-safe.
 */
struct fs;

struct fs_opts {
	int64_t default_block_size;
	int64_t default_sync_interval_ms;
};

int fs_open(struct meta *meta, const struct fs_opts *opts, struct fs **out);
void fs_close(struct fs *fs);

/* options: a JSON object of string values (may be NULL). Fixed names:
 * s3.endpoint s3.region s3.access_key s3.secret_key s3.path_style,
 * block_size (1MiB..512MiB), sync_interval (never|always|duration), ttl
 * (a duration: the default TTL of files under it) and ttl_action
 * (free|delete, default delete; never delete on a read-only mount). The
 * store is probed before the mount is recorded. */
int fs_mount(struct fs *fs, const char *path, const char *uri, bool readonly,
	     const struct cJSON *options, char *err, size_t errlen);
int fs_unmount(struct fs *fs, const char *path, char *err, size_t errlen);
/*
 * Changes the mutable options of the mount at path: changes is a JSON
 * object whose string values set an option and whose nulls remove one
 * (back to its default). Mutable: sync_interval, ttl, ttl_action and the
 * credentials (s3.access_key, s3.secret_key; "***" means unchanged; new
 * ones are probed first). block_size and the other store options are
 * refused with -EBUSY (the store and the blocks cut from it stay). When
 * the merged options equal the current ones nothing is proposed and
 * *changed is false. -ENOENT when path is not a mount point; -EINVAL with
 * err naming the option.
 */
int fs_mount_update(struct fs *fs, const char *path, const struct cJSON *changes,
		    bool *changed, char *err, size_t errlen);
/* {"mounts":[...]} with secrets replaced by "***". Caller owns. */
int fs_mounts_json(struct fs *fs, struct cJSON **out);

int fs_stat(struct fs *fs, const char *path, struct ns_inode *out, char *err, size_t errlen);
/* fs_stat plus the mount holding path (m) and the path inside its store
 * (rel). ST_ENOMOUNT when no mount covers path. */
int fs_resolve(struct fs *fs, const char *path, struct ns_inode *n, struct ns_mount *m,
	       char *rel, size_t rellen, char *err, size_t errlen);

/* Children of a directory (or the file itself), name order, after `after`,
 * at most limit. *out: JSON array of entries, caller owns. */
int fs_list(struct fs *fs, const char *path, const char *after, size_t limit,
	    struct cJSON **out, bool *is_file, char *err, size_t errlen);
int fs_mkdir(struct fs *fs, const char *path, bool parents, char *err, size_t errlen);
int fs_delete(struct fs *fs, const char *path, bool recursive, char *err, size_t errlen);
int fs_rename(struct fs *fs, const char *src, const char *dst, char *err, size_t errlen);

/*
 * Writes done by a worker straight to the store (the design's write path):
 * begin checks path may be written (not a directory, not read-only, under
 * a mount), returns its mount and store path and reserves a content id
 * the worker caches blocks under; commit records the written file.
 */
/* The policies a write of path falls under: those of the file, or of its
 * nearest existing directory (which a new file inherits). */
struct fs_write_policy {
	char write_type[16]; /* "": none (CACHE_THROUGH) */
	int64_t repl_min;    /* copies a write to the caches only must make; 0 none */
};
/* pol (may be NULL) gets the policies that cover path. persist: where the
 * content is (FS_PERSISTED: the store; otherwise only the workers' caches,
 * fingerprint "": MUST_CACHE, or ASYNC_THROUGH whose commit queues the
 * file's persist job in the same journal command). */
enum fs_persist { FS_PERSISTED, FS_CACHE_ONLY, FS_PERSIST_LATER };
int fs_write_begin(struct fs *fs, const char *path, struct ns_mount *m, char *rel,
		   size_t rellen, uint64_t *data_id, struct fs_write_policy *pol, char *err,
		   size_t errlen);
int fs_write_commit(struct fs *fs, const char *path, uint64_t data_id, uint64_t length,
		    int64_t mtime_ms, const char *fingerprint, const char *etag,
		    enum fs_persist persist, char *err, size_t errlen);

/* Content only the caches hold (not persisted) at or below path, from the
 * namespace alone: what to drop from the workers when it is deleted or
 * rewritten (its blocks are pinned). *out (caller frees) gets at most max
 * entries; 0 or -ENOMEM. */
struct fs_content {
	uint64_t data_id;
	uint64_t nblocks;
};
int fs_unpersisted_below(struct fs *fs, const char *path, size_t max, struct fs_content **out,
			 size_t *n);

/* Records that path holds the file st describes in its store, as a sync
 * that found it would (a sync_entry): the lazy load of daemon/master/
 * lazyload.h, whose worker read st from the store itself. With place (NULL:
 * none), the entry proposes a data id for new content such that worker
 * worker_id owns block index among workers[0..nworkers) (live worker ids):
 * the first such id from the id counter, or from past the last one
 * proposed (loads in flight get different ids), 64 tries at most;
 * ids_before: how many ids the entry takes before the file's (its missing
 * parent directories), which the search skips. */
struct ufs_stat;
struct fs_load_place {
	uint64_t worker_id, index;
	const uint64_t *workers;
	size_t nworkers;
	uint64_t ids_before;
};
int fs_load_file(struct fs *fs, const char *path, const struct ufs_stat *st,
		 const struct fs_load_place *place, char *err, size_t errlen);

/*
 * Freshness off the request path (docs/namespace.md, "Freshness"). A check
 * that finds a file unchanged writes nothing to the log: the leader keeps
 * "verified at" per inode in memory, and a file is fresh while the later
 * of its journaled synced_ms and that time is within its mount's sync
 * interval. Only changes are journaled.
 *
 * fs_revalidate checks the files `names` (n of them) of directory dir
 * (normal path) against the store ahead of need: more than
 * FS_REVAL_HEADS_MAX names cost one LIST of dir (pages of 1,000), which
 * verifies every file of dir the namespace holds; fewer a HEAD each.
 * Changes are journaled (one sync_dir for a listing). *interval_ms gets
 * the mount's sync interval (<= 0: nothing to keep fresh there, and
 * nothing was asked). ST_ESTALE when the namespace changed under the
 * listing (try again later), a store error, ST_ENOMOUNT.
 */
#define FS_REVAL_HEADS_MAX 2
int fs_revalidate(struct fs *fs, const char *dir, const char *const *names, size_t n,
		  int64_t *interval_ms, char *err, size_t errlen);

struct fs_sync_stats {
	uint64_t lists;   /* LIST pages asked of stores */
	uint64_t heads;   /* HEADs (stat) asked of stores */
	uint64_t changes; /* checks that found a file changed or gone */
	uint64_t behind;  /* request-path checks: the background had fallen behind */
	uint64_t raced;   /* listings dropped because the namespace moved under them */
	uint64_t verified; /* inodes with a verified time */
};
void fs_sync_stats(struct fs *fs, struct fs_sync_stats *out);
/* Forgets every verified time (a master that stops leading). */
void fs_verified_clear(struct fs *fs);

/* "never" -> -1, "always" -> 0, a duration -> ms. 0 or -EINVAL. */
int fs_parse_sync_interval(const char *s, int64_t *out);

/* An inode as the REST API shows it (path given by the caller). */
struct cJSON *fs_inode_json(const struct ns_inode *n, const char *path);

#endif
