#include "daemon/master/lazyload.h"

#include "daemon/master/fs.h"
#include "daemon/master/meta.h"
#include "daemon/master/registry.h"
#include "lib/err.h"
#include "lib/path.h"
#include "ufs/ufs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A listing is fresh while its mount would not list it again yet (the
 * sync rule of fs.c). */
static bool listing_fresh(const struct ns_mount *m, const struct ns_inode *dir,
			  int64_t now_wall_ms)
{
	if (!dir->is_dir || dir->synced_ms == 0)
		return false;
	if (m->sync_interval_ms < 0)
		return true;
	return now_wall_ms - dir->synced_ms < m->sync_interval_ms;
}

/* The namespace's view of path (no store call): 0 and *n when it is there,
 * -ENOENT, -ENOTDIR; out->mount and out->ufs_path get its mount (*mrc 0),
 * *parent_fresh whether its parent's listing vouches for its absence. */
static int peek(struct meta *meta, const char *path, int64_t now_wall_ms, struct filemeta *out,
		int *mrc, bool *parent_fresh)
{
	char parent[PATH_MAX_LEN + 1];
	struct ns_inode p;
	struct ns *ns = meta_read_lock(meta);
	int rc = ns_lookup(ns, path, &out->inode);
	*mrc = ns_resolve_mount(ns, path, &out->mount, out->ufs_path, sizeof(out->ufs_path));
	/* read under the same lock as the lookup: the tag is exact */
	out->mount_epoch = *mrc == 0 ? ns_mount_epoch(ns, out->mount.path) : 0;
	*parent_fresh = false;
	if (rc == -ENOENT && *mrc == 0 && path_parent(path, parent, sizeof(parent)) == 0 &&
	    ns_lookup(ns, parent, &p) == 0)
		*parent_fresh = listing_fresh(&out->mount, &p, now_wall_ms);
	meta_read_unlock(meta);
	return rc;
}

int lazyload_lookup(struct fs *fs, struct meta *meta, const char *path, int64_t now_wall_ms,
		    struct filemeta *out, char *err, size_t errlen)
{
	int mrc;
	bool parent_fresh;
	memset(out, 0, sizeof(*out));
	out->epoch = meta_applied_index(meta);
	int rc = peek(meta, path, now_wall_ms, out, &mrc, &parent_fresh);
	if (rc == -ENOENT && mrc == 0 && *out->ufs_path && !parent_fresh) {
		memset(&out->inode, 0, sizeof(out->inode));
		out->trust_ms = 0;
		snprintf(err, errlen, "'%s' is not loaded: read it from store path '%s' of mount '%s'",
			 path, out->ufs_path, out->mount.path);
		return ST_ENOTLOADED;
	}
	return filemeta_lookup(fs, meta, path, now_wall_ms, out, err, errlen);
}

/* How many of path's ancestors the namespace lacks (a load creates them
 * first, each taking an id). */
static uint64_t missing_parents(struct meta *meta, const char *path)
{
	char cur[PATH_MAX_LEN + 1], parent[PATH_MAX_LEN + 1];
	struct ns_inode n;
	uint64_t missing = 0;
	snprintf(cur, sizeof(cur), "%s", path);
	struct ns *ns = meta_read_lock(meta);
	while (path_parent(cur, parent, sizeof(parent)) == 0 && ns_lookup(ns, parent, &n) != 0) {
		missing++;
		memcpy(cur, parent, sizeof(cur));
	}
	meta_read_unlock(meta);
	return missing;
}

/* fs_load_file's placement request for place; false when there is none
 * to make. *ids: the caller frees. */
static bool load_place(struct meta *meta, const char *path, const struct lazyload_place *place,
		       struct fs_load_place *out, uint64_t **ids)
{
	enum { MAX_WORKERS = 256 };
	*ids = NULL;
	if (!place || !place->reg || !place->worker_id)
		return false;
	struct registry_live_worker *live = malloc(MAX_WORKERS * sizeof(*live));
	*ids = malloc(MAX_WORKERS * sizeof(**ids));
	size_t n = live && *ids ? registry_live(place->reg, live, MAX_WORKERS) : 0;
	for (size_t i = 0; i < n; i++)
		(*ids)[i] = live[i].id;
	free(live);
	*out = (struct fs_load_place){ .worker_id = place->worker_id, .index = place->index,
				       .workers = *ids, .nworkers = n };
	if (n > 1)
		out->ids_before = missing_parents(meta, path);
	return n > 1;
}

int lazyload_record(struct fs *fs, struct meta *meta, const char *path,
		    const struct ufs_stat *st, const struct lazyload_place *place,
		    int64_t now_wall_ms, struct filemeta *out, char *err, size_t errlen)
{
	int mrc;
	bool parent_fresh;
	if (st->is_dir) {
		snprintf(err, errlen, "a lazy load records a file, not a directory");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	int rc = peek(meta, path, now_wall_ms, out, &mrc, &parent_fresh);
	if (mrc) {
		snprintf(err, errlen, "'%s' is not backed by any store", path);
		return ST_ENOMOUNT;
	}
	if (!*out->ufs_path) {
		snprintf(err, errlen, "'%s' is a mount point, not a file", path);
		return -EINVAL;
	}
	if (rc == 0 && out->inode.is_dir) {
		snprintf(err, errlen, "'%s' is a directory", path);
		return -EISDIR;
	}
	if (rc && rc != -ENOENT && rc != -ENOTDIR)
		return rc;
	bool same = rc == 0 && out->inode.length == st->length &&
		    strcmp(out->inode.fingerprint, st->fingerprint) == 0;
	if (!same) {
		/* Unknown, or known as other content: the store's answer wins,
		 * as a sync's would (a parent that is a file is replaced too). */
		struct fs_load_place fp;
		uint64_t *ids;
		bool placed = load_place(meta, path, place, &fp, &ids);
		rc = fs_load_file(fs, path, st, placed ? &fp : NULL, err, errlen);
		free(ids);
		if (rc)
			return rc;
	}
	/* The answer, tagged as filemeta_lookup tags it, without asking the
	 * store again (an "always" mount would). */
	for (int attempt = 0; attempt < 2; attempt++) {
		out->epoch = meta_applied_index(meta);
		rc = peek(meta, path, now_wall_ms, out, &mrc, &parent_fresh);
		if (rc || meta_applied_index(meta) == out->epoch)
			break;
	}
	if (rc == 0 && out->inode.is_dir)
		rc = -EISDIR;
	if (rc) {
		snprintf(err, errlen, "'%s' changed while it was loaded", path);
		return rc == -ENOTDIR ? -ENOENT : rc;
	}
	out->trust_ms = filemeta_trust_ms(&out->mount, &out->inode, now_wall_ms);
	return 0;
}
