#include "daemon/master/filemeta.h"

#include "daemon/master/fs.h"
#include "daemon/master/meta.h"
#include "lib/err.h"
#include "lib/json.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t filemeta_trust_ms(const struct ns_mount *mnt, const struct ns_inode *n,
			  int64_t now_wall_ms)
{
	if (mnt->sync_interval_ms < 0)
		return -1;
	if (mnt->sync_interval_ms == 0 || n->synced_ms == 0)
		return 0;
	int64_t left = n->synced_ms + mnt->sync_interval_ms - now_wall_ms;
	return left > 0 ? left : 0;
}

int filemeta_lookup(struct fs *fs, struct meta *meta, const char *path, int64_t now_wall_ms,
		    struct filemeta *out, char *err, size_t errlen)
{
	int rc = 0;
	/* The mount path the tag was read for (before the lookup). */
	char *tagged = malloc(PATH_MAX_LEN + 1);
	if (!tagged)
		return -ENOMEM;
	for (int attempt = 0; attempt < 2; attempt++) {
		out->epoch = meta_applied_index(meta);
		*tagged = '\0';
		out->mount_epoch = 0;
		struct ns *ns = meta_read_lock(meta);
		if (ns_resolve_mount(ns, path, &out->mount, NULL, 0) == 0) {
			snprintf(tagged, PATH_MAX_LEN + 1, "%s", out->mount.path);
			out->mount_epoch = ns_mount_epoch(ns, tagged);
		}
		meta_read_unlock(meta);
		rc = fs_resolve(fs, path, &out->inode, &out->mount, out->ufs_path,
				sizeof(out->ufs_path), err, errlen);
		if (rc)
			break;
		/* A lookup that journaled a change moved the tag itself: look
		 * again so the tag is exact. */
		ns = meta_read_lock(meta);
		bool same = strcmp(tagged, out->mount.path) == 0 &&
			    ns_mount_epoch(ns, tagged) == out->mount_epoch;
		meta_read_unlock(meta);
		if (same)
			break;
		if (attempt == 1)
			out->mount_epoch = 0; /* still moving: not trusted past the TTL */
	}
	free(tagged);
	if (rc)
		return rc;
	if (out->inode.is_dir) {
		snprintf(err, errlen, "'%.1000s' is a directory", path);
		return -EISDIR;
	}
	out->trust_ms = filemeta_trust_ms(&out->mount, &out->inode, now_wall_ms);
	return 0;
}

struct epochs_ctx {
	struct ns *ns;
	cJSON *obj;
};

static int epochs_fn(void *arg, const struct ns_mount *m)
{
	struct epochs_ctx *c = arg;
	return json_add_u64(c->obj, m->path, ns_mount_epoch(c->ns, m->path)) ? 0 : -ENOMEM;
}

int filemeta_mount_epochs(struct meta *meta, cJSON *o)
{
	cJSON *mounts = cJSON_AddObjectToObject(o, "mounts");
	if (!mounts)
		return -ENOMEM;
	struct epochs_ctx c = { .obj = mounts };
	c.ns = meta_read_lock(meta);
	int rc = ns_mounts(c.ns, epochs_fn, &c);
	meta_read_unlock(meta);
	return rc;
}

int filemeta_epoch(struct meta *meta, uint64_t *epoch)
{
	struct meta_status st;
	meta_status(meta, &st);
	if (strcmp(st.role, "leader") != 0)
		return ST_ENOTLEADER;
	*epoch = meta_applied_index(meta);
	return 0;
}
