#include "daemon/master/filemeta.h"

#include "daemon/master/fs.h"
#include "daemon/master/meta.h"
#include "lib/err.h"

#include <errno.h>
#include <stdio.h>
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
	for (int attempt = 0; attempt < 2; attempt++) {
		out->epoch = meta_applied_index(meta);
		rc = fs_resolve(fs, path, &out->inode, &out->mount, out->ufs_path,
				sizeof(out->ufs_path), err, errlen);
		if (rc || meta_applied_index(meta) == out->epoch)
			break;
	}
	if (rc)
		return rc;
	if (out->inode.is_dir) {
		snprintf(err, errlen, "'%.1000s' is a directory", path);
		return -EISDIR;
	}
	out->trust_ms = filemeta_trust_ms(&out->mount, &out->inode, now_wall_ms);
	return 0;
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
