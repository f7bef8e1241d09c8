/* The namespace state machine's apply function: one deterministic step per
 * journal (or Raft log) entry. See ns.h for the contract. */
#include "daemon/master/journal.h"
#include "daemon/master/ns_int.h"

#include "lib/path.h"

#include "lib/conf.h"
#include "lib/err.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct apply {
	struct ns *ns;
	const struct journal_cmd *cmd;
	struct ns_result *res;
	char *err;
	size_t errlen;
	int64_t now; /* the command's time_ms (0 without one): new inodes' TTL base */
	/* The command changed or removed existing state (ns_mount_epoch):
	 * under its path's mount, or (moves_all) under every mount. */
	bool moved, moves_all;
};

/* What a file's content is, from put_file, sync_entry or a sync_dir item. */
struct file_attrs {
	uint64_t length;
	int64_t mtime_ms;
	const char *fingerprint;
	uint64_t data_id; /* 0: none given */
	uint64_t proposed; /* 0: none; sync_entry's data_id (journal.h) */
	const char *etag; /* NULL: none given */
	int persistence;  /* put_file: NS_PERSISTED or NS_NOT_PERSISTED */
};

/* data_id 0: the new inode's own id names its first content. */
static int insert_inode(struct apply *a, uint64_t parent, const char *name, bool is_dir,
			uint64_t length, int64_t mtime, const char *fp, int64_t synced,
			int64_t data_id, uint64_t *id_out)
{
	struct ns *ns = a->ns;
	int64_t id = ns_meta_get(ns, "next_inode");
	sqlite3_stmt *s = ns_stmt(ns, ST_INSERT);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)parent);
	sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, is_dir);
	sqlite3_bind_int64(s, 5, (int64_t)length);
	sqlite3_bind_int64(s, 6, mtime);
	sqlite3_bind_text(s, 7, fp ? fp : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, synced);
	sqlite3_bind_int64(s, 9, data_id);
	sqlite3_bind_int64(s, 10, a->now);
	int rc = sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(ns->db) == 1 ? 0 : -EIO;
	sqlite3_reset(s);
	if (!rc)
		rc = ns_meta_set(ns, "next_inode", id + 1);
	if (!rc && id_out)
		*id_out = (uint64_t)id;
	return rc;
}

static int delete_tree(struct ns *ns, uint64_t id)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_DELETE_TREE);
	sqlite3_bind_int64(s, 1, (int64_t)id);
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	return rc;
}

static int64_t count_children(struct ns *ns, uint64_t id)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_COUNT_CHILDREN);
	sqlite3_bind_int64(s, 1, (int64_t)id);
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	return n;
}

static int exec1(struct ns *ns, enum stmt_id id, int64_t a, int64_t b)
{
	sqlite3_stmt *s = ns_stmt(ns, id);
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	return rc;
}

/* mkdir -p of path; *dir gets the final directory. Existing files on the
 * way are -ENOTDIR. New directories get mtime and synced_ms as given. */
static int make_dirs(struct apply *a, const char *path, int64_t mtime, struct ns_inode *dir)
{
	struct ns_inode cur = { .id = NS_ROOT_ID, .is_dir = true };
	const char *p = path + 1;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		char name[PATH_NAME_MAX + 1];
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		struct ns_inode next;
		int rc = ns_child(a->ns, cur.id, name, len, &next);
		if (rc == -ENOENT) {
			uint64_t id;
			rc = insert_inode(a, cur.id, name, true, 0, mtime, "", 0, 0, &id);
			if (rc)
				return rc;
			memset(&next, 0, sizeof(next));
			next.id = id;
			next.parent = cur.id;
			next.is_dir = true;
			snprintf(next.name, sizeof(next.name), "%s", name);
		} else if (rc) {
			return rc;
		}
		if (!next.is_dir) {
			snprintf(a->err, a->errlen, "'%.*s' in '%s' is a file", (int)len, p, path);
			return -ENOTDIR;
		}
		cur = next;
		p += len + (slash ? 1 : 0);
	}
	*dir = cur;
	return 0;
}

static int lookup_parent(struct apply *a, const char *path, struct ns_inode *parent)
{
	char ppath[PATH_MAX_LEN + 1];
	if (path_parent(path, ppath, sizeof(ppath))) {
		snprintf(a->err, a->errlen, "'%s' has no parent", path);
		return -EINVAL;
	}
	int rc = ns_lookup(a->ns, ppath, parent);
	if (rc == -ENOENT)
		snprintf(a->err, a->errlen, "parent directory '%s' does not exist", ppath);
	else if (rc == -ENOTDIR || (!rc && !parent->is_dir)) {
		snprintf(a->err, a->errlen, "parent '%s' is not a directory", ppath);
		rc = -ENOTDIR;
	}
	return rc;
}

static int set_ttl(struct ns *ns, uint64_t id, bool recursive, int64_t ttl_ms,
		   const char *action, int64_t now, int64_t *changed)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_SET_TTL);
	sqlite3_bind_int64(s, 1, (int64_t)id);
	sqlite3_bind_int(s, 2, recursive);
	sqlite3_bind_int64(s, 3, ttl_ms);
	sqlite3_bind_text(s, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now);
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	if (!rc && changed)
		*changed = sqlite3_changes(ns->db);
	sqlite3_reset(s);
	return rc;
}

/* The mount options ttl and ttl_action (fs_mount checked them before
 * proposing) become the mount point's TTL, which new inodes under it
 * inherit. Options that do not parse are ignored here, the same way on
 * every master. */
static int mount_default_ttl(struct apply *a, uint64_t dir, const char *options,
			     bool readonly, int64_t time_ms, bool clear)
{
	cJSON *o = cJSON_Parse(options ? options : "{}");
	const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(o, "ttl");
	const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "ttl_action");
	int64_t ttl_ms = 0;
	const char *action = cJSON_IsString(act) ? act->valuestring : "delete";
	int rc = 0;
	struct ns_inode n;
	if (cJSON_IsString(ttl) && conf_parse_duration(ttl->valuestring, &ttl_ms) == 0 &&
	    ttl_ms > 0 && ttl_ms <= JOURNAL_TTL_MAX_MS && journal_action_valid(action) &&
	    !(readonly && strcmp(action, "delete") == 0))
		rc = set_ttl(a->ns, dir, false, ttl_ms, action, time_ms, NULL);
	else if (clear || (readonly && ns_by_id(a->ns, dir, &n) == 0 &&
			   strcmp(n.ttl_action, "delete") == 0))
		/* Inherited from above: nothing on a read-only mount is ever
		 * deleted by a TTL. An update without a ttl drops the old one. */
		rc = set_ttl(a->ns, dir, false, 0, "", time_ms, NULL);
	cJSON_Delete(o);
	return rc;
}

static int apply_mount(struct apply *a)
{
	const struct journal_mount *c = &a->cmd->u.mount;
	const char *path = c->path;
	int rc;
	if (ns_is_mount(a->ns, path)) {
		snprintf(a->err, a->errlen, "'%s' is already a mount point", path);
		return -EEXIST;
	}
	struct ns_inode n;
	rc = ns_lookup(a->ns, path, &n);
	if (rc == 0 && !n.is_dir) {
		snprintf(a->err, a->errlen, "cannot mount on '%s': it is a file", path);
		return -ENOTDIR;
	}
	if (rc == 0 && count_children(a->ns, n.id) > 0) {
		snprintf(a->err, a->errlen, "cannot mount on '%s': the directory is not empty",
			 path);
		return -ENOTEMPTY;
	}
	if (rc == -ENOENT) {
		rc = make_dirs(a, path, c->time_ms, &n);
		if (rc)
			return rc;
	} else if (rc) {
		return rc;
	}
	rc = exec1(a->ns, ST_SET_SYNCED, (int64_t)n.id, 0);
	if (rc)
		return rc;
	rc = mount_default_ttl(a, n.id, c->options, c->readonly, c->time_ms, false);
	if (rc)
		return rc;
	sqlite3_stmt *s = ns_stmt(a->ns, ST_INSERT_MOUNT);
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->uri, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, c->readonly);
	sqlite3_bind_text(s, 4, c->options ? c->options : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, c->block_size);
	sqlite3_bind_int64(s, 6, c->sync_interval_ms);
	sqlite3_bind_int64(s, 7, c->time_ms);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	a->moved = true;
	return rc;
}

/* Replaces a mount's options and sync interval; its default TTL (the
 * mount point's) follows the new options. block_size, uri and readonly
 * never change here (fs_mount_update refuses them). */
static int apply_mount_update(struct apply *a)
{
	const struct journal_mount_update *c = &a->cmd->u.mount_update;
	struct ns_mount *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	int rc = 0;
	if (!ns_is_mount(a->ns, c->path) || ns_resolve_mount(a->ns, c->path, m, NULL, 0)) {
		snprintf(a->err, a->errlen, "'%s' is not a mount point", c->path);
		rc = -ENOENT;
		goto out_free;
	}
	struct ns_inode n;
	rc = ns_lookup(a->ns, c->path, &n);
	if (!rc)
		rc = mount_default_ttl(a, n.id, c->options, m->readonly, c->time_ms, true);
	if (rc)
		goto out_free;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(a->ns->db,
			       "UPDATE mounts SET options = ?, sync_interval_ms = ? WHERE path = ?",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = -EIO;
		goto out_free;
	}
	sqlite3_bind_text(s, 1, c->options ? c->options : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, c->sync_interval_ms);
	sqlite3_bind_text(s, 3, c->path, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(a->ns->db) == 1 ? 0 : -EIO;
	sqlite3_finalize(s);
	a->moved = true;
out_free:
	free(m);
	return rc;
}

static int apply_unmount(struct apply *a)
{
	const char *path = a->cmd->u.unmount.path;
	int rc;
	if (!ns_is_mount(a->ns, path)) {
		snprintf(a->err, a->errlen, "'%s' is not a mount point", path);
		return -ENOENT;
	}
	char below[PATH_MAX_LEN + 1];
	if (ns_mounts_below(a->ns, path, below, sizeof(below)) > 0) {
		snprintf(a->err, a->errlen, "cannot unmount '%s': '%s' is mounted below it", path,
			 below);
		return -EBUSY;
	}
	struct ns_inode n;
	rc = ns_lookup(a->ns, path, &n);
	if (rc)
		return rc;
	if (n.id == NS_ROOT_ID) {
		/* Keep the root itself; drop everything under it. */
		char sql[128];
		snprintf(sql, sizeof(sql), "DELETE FROM inodes WHERE id != %d", NS_ROOT_ID);
		if (sqlite3_exec(a->ns->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return -EIO;
		rc = exec1(a->ns, ST_SET_SYNCED, NS_ROOT_ID, 0);
	} else {
		rc = delete_tree(a->ns, n.id);
	}
	if (rc)
		return rc;
	sqlite3_stmt *s = ns_stmt(a->ns, ST_DELETE_MOUNT);
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	a->moved = true;
	return rc;
}

static int apply_mkdir(struct apply *a)
{
	const struct journal_mkdir *c = &a->cmd->u.mkdir;
	const char *path = c->path;
	int64_t now = c->time_ms;
	struct ns_inode n;
	int rc = ns_lookup(a->ns, path, &n);
	if (rc == 0) {
		if (n.is_dir && c->parents)
			return 0;
		snprintf(a->err, a->errlen, "'%s' already exists", path);
		return -EEXIST;
	}
	if (c->parents)
		return make_dirs(a, path, now, &n);
	struct ns_inode parent;
	rc = lookup_parent(a, path, &parent);
	if (rc)
		return rc;
	/* A directory strata created itself was just checked: no need to
	 * list it from the UFS later. */
	rc = insert_inode(a, parent.id, path_basename(path), true, 0, now, "", now, 0, NULL);
	return rc ? rc : exec1(a->ns, ST_TOUCH, (int64_t)parent.id, now);
}

static int set_etag(struct ns *ns, uint64_t id, const char *etag)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_SET_ETAG);
	sqlite3_bind_int64(s, 1, (int64_t)id);
	sqlite3_bind_text(s, 2, etag ? etag : "", -1, SQLITE_STATIC);
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	return rc;
}

/* Creates or updates the file at path with the command's attributes;
 * parents are created as (not yet synced) directories. */
static int upsert_file(struct apply *a, const char *path, const struct file_attrs *attrs,
		       int64_t now)
{
	int64_t synced = now;
	char ppath[PATH_MAX_LEN + 1];
	if (path_parent(path, ppath, sizeof(ppath))) {
		snprintf(a->err, a->errlen, "'/' is a directory");
		return -EISDIR;
	}
	struct ns_inode parent, n;
	int rc = make_dirs(a, ppath, now, &parent);
	if (rc)
		return rc;
	uint64_t length = attrs->length;
	int64_t mtime = attrs->mtime_ms;
	const char *fp = attrs->fingerprint;
	/* A worker that wrote the content names it (its blocks are cached
	 * under that id already). */
	int64_t given = (int64_t)attrs->data_id;
	bool put = a->cmd->op == JOURNAL_PUT_FILE;
	rc = ns_child(a->ns, parent.id, path_basename(path), strlen(path_basename(path)), &n);
	/* A proposed id names new content only while no id at or above it is
	 * taken yet; the counter then moves past it (the same on every
	 * master: it depends on the counter alone). */
	int64_t next = attrs->proposed ? ns_meta_get(a->ns, "next_inode") : 0;
	int64_t proposed = !given && attrs->proposed && (int64_t)attrs->proposed >= next ?
				   (int64_t)attrs->proposed : 0;
	if (rc == -ENOENT) {
		uint64_t id;
		rc = insert_inode(a, parent.id, path_basename(path), false, length, mtime, fp,
				  synced, given ? given : proposed, &id);
		if (!rc && proposed > next)
			rc = ns_meta_set(a->ns, "next_inode", proposed + 1);
		if (!rc && put && attrs->persistence != NS_PERSISTED)
			rc = exec1(a->ns, ST_SET_PERSIST, (int64_t)id, attrs->persistence);
		return rc ? rc : set_etag(a->ns, id, attrs->etag);
	}
	if (rc)
		return rc;
	if (n.is_dir) {
		snprintf(a->err, a->errlen, "'%s' is a directory", path);
		return -EISDIR;
	}
	/* Content only the caches hold is newer than anything its store
	 * lists under that name: a sync leaves it alone. */
	if (!put && n.persistence != NS_PERSISTED)
		return 0;
	if (put && n.persistence != attrs->persistence) {
		rc = exec1(a->ns, ST_SET_PERSIST, (int64_t)n.id, attrs->persistence);
		if (rc)
			return rc;
	}
	/* A put over a file, or a sync that found other content: workers
	 * must stop trusting what they cached of it. */
	if (a->cmd->op == JOURNAL_PUT_FILE || n.length != length || n.mtime_ms != mtime ||
	    strcmp(n.fingerprint, fp ? fp : "") != 0)
		a->moved = true;
	/* New content gets a new data id, so blocks cached from the old
	 * content are never served for the new one. */
	int64_t data_id = given ? given : (int64_t)n.data_id;
	if (!given && (n.length != length || strcmp(n.fingerprint, fp ? fp : "") != 0)) {
		data_id = proposed ? proposed : ns_meta_get(a->ns, "next_inode");
		rc = ns_meta_set(a->ns, "next_inode", data_id + 1);
		if (rc)
			return rc;
	}
	sqlite3_stmt *s = ns_stmt(a->ns, ST_UPDATE_FILE);
	sqlite3_bind_int64(s, 1, (int64_t)n.id);
	sqlite3_bind_int64(s, 2, (int64_t)length);
	sqlite3_bind_int64(s, 3, mtime);
	sqlite3_bind_text(s, 4, fp ? fp : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, synced);
	sqlite3_bind_int64(s, 6, data_id);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	if (rc)
		return rc;
	/* The etag (an S3 client's MD5) belongs to the content it came with:
	 * a sync that finds the same content keeps it, new content without
	 * one clears it. */
	const char *etag = attrs->etag;
	if (etag || (int64_t)n.data_id != data_id)
		rc = set_etag(a->ns, n.id, etag);
	return rc;
}

/* An ASYNC_THROUGH file's persist job, in its put_file's transaction: a
 * job_create of type persist for the file alone. */
static int queue_persist(struct apply *a, const struct journal_put_file *c)
{
	struct journal_cmd *job = journal_new(JOURNAL_JOB_CREATE);
	if (!job)
		return -ENOMEM;
	snprintf(job->u.job_create.type, sizeof(job->u.job_create.type), "persist");
	memcpy(job->u.job_create.path, c->path, sizeof(job->u.job_create.path));
	job->u.job_create.time_ms = c->time_ms;
	uint64_t id = 0;
	int rc = ns_apply_job_create(a->ns, job, &id, a->err, a->errlen);
	journal_free(job);
	return rc;
}

static int apply_put_file(struct apply *a)
{
	const struct journal_put_file *c = &a->cmd->u.put_file;
	struct file_attrs fa = { .length = c->length, .mtime_ms = c->mtime_ms,
				 .fingerprint = c->fingerprint, .data_id = c->data_id,
				 .etag = c->etag[0] ? c->etag : NULL,
				 .persistence = c->persistence[0] ? NS_NOT_PERSISTED : NS_PERSISTED };
	int rc = upsert_file(a, c->path, &fa, c->time_ms);
	return rc || !c->persist ? rc : queue_persist(a, c);
}

static int apply_delete(struct apply *a)
{
	const char *path = a->cmd->u.delete.path;
	struct ns_inode n;
	int rc = ns_lookup(a->ns, path, &n);
	if (rc) {
		snprintf(a->err, a->errlen, "'%s' does not exist", path);
		return rc == -ENOTDIR ? -ENOENT : rc;
	}
	char below[PATH_MAX_LEN + 1];
	if (n.is_mount_point || n.id == NS_ROOT_ID ||
	    ns_mounts_below(a->ns, path, below, sizeof(below)) > 0) {
		snprintf(a->err, a->errlen, "cannot delete '%s': it is or contains a mount point",
			 path);
		return -EBUSY;
	}
	if (n.is_dir && !a->cmd->u.delete.recursive && count_children(a->ns, n.id) > 0) {
		snprintf(a->err, a->errlen, "directory '%s' is not empty", path);
		return -ENOTEMPTY;
	}
	a->moved = true;
	return delete_tree(a->ns, n.id);
}

static int apply_rename(struct apply *a)
{
	const char *src = a->cmd->u.rename.src, *dst = a->cmd->u.rename.dst;
	struct ns_inode n, parent, existing;
	int rc = ns_lookup(a->ns, src, &n);
	if (rc) {
		snprintf(a->err, a->errlen, "'%s' does not exist", src);
		return -ENOENT;
	}
	if (path_has_prefix(dst, src)) {
		snprintf(a->err, a->errlen, "cannot move '%s' into itself", src);
		return -EINVAL;
	}
	char below[PATH_MAX_LEN + 1];
	if (n.is_mount_point || ns_mounts_below(a->ns, src, below, sizeof(below)) > 0) {
		snprintf(a->err, a->errlen, "cannot rename '%s': it is or contains a mount point",
			 src);
		return -EBUSY;
	}
	if (ns_lookup(a->ns, dst, &existing) == 0) {
		snprintf(a->err, a->errlen, "'%s' already exists", dst);
		return -EEXIST;
	}
	rc = lookup_parent(a, dst, &parent);
	if (rc)
		return rc;
	int64_t now = a->cmd->u.rename.time_ms;
	sqlite3_stmt *s = ns_stmt(a->ns, ST_SET_PARENT);
	sqlite3_bind_int64(s, 1, (int64_t)n.id);
	sqlite3_bind_int64(s, 2, (int64_t)parent.id);
	sqlite3_bind_text(s, 3, path_basename(dst), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, n.is_dir ? n.mtime_ms : now);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	a->moved = true;
	return rc;
}

struct sync_ctx {
	struct apply *a;
	const struct journal_sync_dir *c;
	char dir_path[PATH_MAX_LEN + 1];
	int rc;
};

/* Drops namespace children the UFS no longer lists, unless they hold a
 * mount point (mount points need not exist in the parent's store). */
static int prune_fn(void *arg, const struct ns_inode *c)
{
	struct sync_ctx *s = arg;
	for (size_t i = 0; i < s->c->nentries; i++) {
		const struct journal_sync_item *e = &s->c->entries[i];
		if (strcmp(e->name, c->name) == 0 && e->is_dir == c->is_dir)
			return 0;
	}
	char cpath[PATH_MAX_LEN + 1];
	if (!path_join(s->dir_path, c->name, cpath, sizeof(cpath)) &&
	    (ns_is_mount(s->a->ns, cpath) || ns_mounts_below(s->a->ns, cpath, NULL, 0) > 0))
		return 0;
	/* Not in its store yet (or lost): the store cannot tell it is gone. */
	if (!c->is_dir && c->persistence != NS_PERSISTED)
		return 0;
	if (c->is_dir && ns_holds_unpersisted(s->a->ns, c->id))
		return 0;
	s->a->moved = true;
	return delete_tree(s->a->ns, c->id);
}

static int apply_sync_dir(struct apply *a)
{
	const struct journal_sync_dir *c = &a->cmd->u.sync_dir;
	const char *path = c->path;
	int64_t now = c->time_ms;
	struct ns_inode dir;
	int rc = make_dirs(a, path, now, &dir);
	if (rc)
		return rc;
	struct sync_ctx s = { .a = a, .c = c };
	snprintf(s.dir_path, sizeof(s.dir_path), "%s", path);
	rc = ns_list(a->ns, dir.id, NULL, 0, prune_fn, &s);
	if (rc)
		return rc;
	for (size_t i = 0; i < c->nentries; i++) {
		const struct journal_sync_item *e = &c->entries[i];
		const char *name = e->name; /* a valid name: journal_decode checked */
		struct ns_inode child;
		int crc = ns_child(a->ns, dir.id, name, strlen(name), &child);
		/* A directory still here after pruning is the same directory, or
		 * holds a mount point, which hides a store entry of its name. */
		if (crc == 0 && (child.is_dir || child.persistence != NS_PERSISTED))
			continue;
		if (e->is_dir) {
			rc = insert_inode(a, dir.id, name, true, 0, e->mtime_ms, "", 0, 0, NULL);
		} else {
			char cpath[PATH_MAX_LEN + 1];
			if (path_join(path, name, cpath, sizeof(cpath)))
				continue;
			struct file_attrs fa = { .length = e->length, .mtime_ms = e->mtime_ms,
						 .fingerprint = e->fingerprint };
			rc = upsert_file(a, cpath, &fa, now);
		}
		if (rc)
			return rc;
	}
	return exec1(a->ns, ST_SET_SYNCED, (int64_t)dir.id, now);
}

static int apply_sync_entry(struct apply *a)
{
	const struct journal_sync_entry *c = &a->cmd->u.sync_entry;
	const char *path = c->path;
	int64_t now = c->time_ms;
	int rc;
	struct ns_inode n;
	int found = ns_lookup(a->ns, path, &n) == 0;
	if (!c->exists) {
		if (!found || n.is_mount_point || ns_mounts_below(a->ns, path, NULL, 0) > 0 ||
		    (!n.is_dir && n.persistence != NS_PERSISTED) ||
		    (n.is_dir && ns_holds_unpersisted(a->ns, n.id)))
			return 0;
		a->moved = true;
		return delete_tree(a->ns, n.id);
	}
	if (found && !n.is_dir && n.persistence != NS_PERSISTED)
		return 0; /* only the caches hold it: newer than the store */
	if (c->is_dir) {
		a->moved = a->moved || (found && !n.is_dir);
		if (found && !n.is_dir && (rc = delete_tree(a->ns, n.id)))
			return rc;
		return make_dirs(a, path, c->mtime_ms, &n);
	}
	if (found && n.is_dir) {
		if (n.is_mount_point || ns_mounts_below(a->ns, path, NULL, 0) > 0 ||
		    ns_holds_unpersisted(a->ns, n.id))
			return 0;
		a->moved = true;
		if ((rc = delete_tree(a->ns, n.id)))
			return rc;
	}
	struct file_attrs fa = { .length = c->length, .mtime_ms = c->mtime_ms,
				 .fingerprint = c->fingerprint, .proposed = c->data_id };
	return upsert_file(a, path, &fa, now);
}

/* Reserves an id from the inode counter for content a worker is about to
 * write; the id comes back in the result, so the caller never reads it
 * ahead of the apply (on a Raft leader other entries may come first). */
static int apply_alloc_data_id(struct apply *a)
{
	int64_t id = ns_meta_get(a->ns, "next_inode");
	int rc = ns_meta_set(a->ns, "next_inode", id + 1);
	if (!rc)
		a->res->data_id = (uint64_t)id;
	return rc;
}

/* The address book (id, raft_address, rest_url: journal_decode checked
 * them). */
static int apply_master_set(struct apply *a)
{
	const struct journal_master_set *c = &a->cmd->u.master_set;
	sqlite3_stmt *s = ns_stmt(a->ns, ST_SET_MASTER);
	sqlite3_bind_int64(s, 1, (int64_t)c->id);
	sqlite3_bind_text(s, 2, c->raft_address, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, c->rest_url, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	return rc;
}

static int apply_master_del(struct apply *a)
{
	sqlite3_stmt *s = ns_stmt(a->ns, ST_DEL_MASTER);
	sqlite3_bind_int64(s, 1, (int64_t)a->cmd->u.master_del.id);
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	return rc;
}

/* The policy's target: path must exist. */
static int policy_target(struct apply *a, const char *path, struct ns_inode *n)
{
	int rc = ns_lookup(a->ns, path, n);
	if (rc) {
		snprintf(a->err, a->errlen, "'%s' does not exist", path);
		return rc == -ENOTDIR ? -ENOENT : rc;
	}
	return 0;
}

static int apply_set_pin(struct apply *a)
{
	const struct journal_set_pin *c = &a->cmd->u.set_pin;
	struct ns_inode n;
	int rc = policy_target(a, c->path, &n);
	if (rc)
		return rc;
	sqlite3_stmt *s = ns_stmt(a->ns, ST_SET_PIN);
	sqlite3_bind_int64(s, 1, (int64_t)n.id);
	sqlite3_bind_int(s, 2, c->recursive);
	sqlite3_bind_int(s, 3, c->pinned);
	sqlite3_bind_text(s, 4, c->medium, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	if (!rc)
		a->res->changed = sqlite3_changes(a->ns->db);
	sqlite3_reset(s);
	a->moves_all = a->res->changed > 0;
	return rc;
}

static int apply_set_ttl(struct apply *a)
{
	const struct journal_set_ttl *c = &a->cmd->u.set_ttl;
	struct ns_inode n;
	int rc = policy_target(a, c->path, &n);
	if (rc)
		return rc;
	rc = set_ttl(a->ns, n.id, c->recursive, c->ttl_ms, c->action, c->time_ms,
		     &a->res->changed);
	a->moves_all = a->res->changed > 0;
	return rc;
}

static int apply_set_replication(struct apply *a)
{
	const struct journal_set_replication *c = &a->cmd->u.set_replication;
	struct ns_inode n;
	int rc = policy_target(a, c->path, &n);
	if (rc)
		return rc;
	sqlite3_stmt *s = ns_stmt(a->ns, ST_SET_REPL);
	sqlite3_bind_int64(s, 1, (int64_t)n.id);
	sqlite3_bind_int(s, 2, c->recursive);
	sqlite3_bind_int64(s, 3, c->min);
	sqlite3_bind_int64(s, 4, c->max);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	if (!rc)
		a->res->changed = sqlite3_changes(a->ns->db);
	sqlite3_reset(s);
	a->moves_all = a->res->changed > 0;
	return rc;
}

/*
 * The TTL checker's decision, checked against the state it was made on:
 * the file at path must still be inode id, with that TTL action, expired
 * at time_ms and not fired yet; otherwise ST_ESTALE (a second leader's copy
 * of the same decision, or a file changed since) and nothing changes.
 * free clears the TTL (the cached blocks are to be dropped); delete marks
 * the file fired (ttl_fired_ms): the checker then deletes it from the
 * store and the namespace, and a new leader finds the mark and finishes.
 */
static int apply_ttl_fire(struct apply *a)
{
	const struct journal_ttl_fire *c = &a->cmd->u.ttl_fire;
	struct ns_inode n;
	int rc = policy_target(a, c->path, &n);
	if (rc)
		return rc;
	if (n.id != c->id || n.is_dir || strcmp(n.ttl_action, c->action) != 0 ||
	    n.ttl_expiry_ms == 0 || n.ttl_expiry_ms > c->time_ms) {
		snprintf(a->err, a->errlen, "'%s' is not inode %llu with an expired '%s' TTL",
			 c->path, (unsigned long long)c->id, c->action);
		return ST_ESTALE;
	}
	a->moved = true;
	if (strcmp(c->action, "free") == 0)
		return exec1(a->ns, ST_TTL_FREE, (int64_t)n.id, 0);
	return exec1(a->ns, ST_TTL_FIRED, (int64_t)n.id, c->time_ms);
}

static int apply_job_create(struct apply *a)
{
	return ns_apply_job_create(a->ns, a->cmd, &a->res->data_id, a->err, a->errlen);
}

static int apply_job_progress(struct apply *a)
{
	return ns_apply_job_progress(a->ns, a->cmd, a->err, a->errlen);
}

static int apply_job_error(struct apply *a)
{
	return ns_apply_job_error(a->ns, a->cmd, a->err, a->errlen);
}

static int apply_job_end(struct apply *a)
{
	return ns_apply_job_end(a->ns, a->cmd, a->err, a->errlen);
}

static int apply_worker_state(struct apply *a)
{
	return ns_apply_worker_state(a->ns, a->cmd, a->err, a->errlen);
}

static int apply_set_write_type(struct apply *a)
{
	const struct journal_set_write_type *c = &a->cmd->u.set_write_type;
	struct ns_inode n;
	int rc = policy_target(a, c->path, &n);
	if (rc)
		return rc;
	sqlite3_stmt *s = ns_stmt(a->ns, ST_SET_WTYPE);
	sqlite3_bind_int64(s, 1, (int64_t)n.id);
	sqlite3_bind_int(s, 2, c->recursive);
	sqlite3_bind_text(s, 3, c->write_type, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	if (!rc)
		a->res->changed = sqlite3_changes(a->ns->db);
	sqlite3_reset(s);
	return rc;
}

/*
 * A persist job's or the persistence checker's decision about one file,
 * checked against the state it was made on: path must still be inode id
 * with content data_id, else ST_ESTALE (rewritten, renamed or deleted
 * since) and nothing changes. persisted also records what the store holds
 * now (so a later sync finds the same content) and that it was just
 * checked.
 */
static int apply_set_persistence(struct apply *a)
{
	const struct journal_set_persistence *c = &a->cmd->u.set_persistence;
	struct ns_inode n;
	int rc = policy_target(a, c->path, &n);
	if (rc)
		return rc;
	int state = NS_PERSISTED;
	ns_persistence_parse(c->state, &state); /* journal_decode checked it */
	if (n.id != c->id || n.is_dir || n.data_id != c->data_id ||
	    (state == NS_PERSISTED && c->length != n.length)) {
		snprintf(a->err, a->errlen, "'%s' is not inode %llu with content %llu", c->path,
			 (unsigned long long)c->id, (unsigned long long)c->data_id);
		return ST_ESTALE;
	}
	if (n.persistence == NS_PERSISTED && state != NS_PERSISTED) {
		snprintf(a->err, a->errlen, "'%s' is persisted already", c->path);
		return ST_ESTALE;
	}
	if (n.persistence == NS_LOST && state == NS_PERSISTING) {
		snprintf(a->err, a->errlen, "'%s' is lost: no cached copy to persist", c->path);
		return ST_ELOST;
	}
	rc = exec1(a->ns, ST_SET_PERSIST, (int64_t)n.id, state);
	if (!rc && state == NS_PERSISTED) {
		sqlite3_stmt *s = ns_stmt(a->ns, ST_UPDATE_FILE);
		sqlite3_bind_int64(s, 1, (int64_t)n.id);
		sqlite3_bind_int64(s, 2, (int64_t)n.length);
		sqlite3_bind_int64(s, 3, c->mtime_ms);
		sqlite3_bind_text(s, 4, c->fingerprint, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, c->time_ms);
		sqlite3_bind_int64(s, 6, (int64_t)n.data_id);
		rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_reset(s);
	}
	/* Workers learn the new state (a read of a lost file fails; a
	 * persisted one may read through again). */
	a->moved = true;
	return rc;
}

uint64_t ns_next_id(struct ns *ns)
{
	return (uint64_t)ns_meta_get(ns, "next_inode");
}

/* The time a command carries; 0 for those without one (they create no
 * inodes). */
static int64_t cmd_time(const struct journal_cmd *c)
{
	switch (c->op) {
	case JOURNAL_MOUNT: return c->u.mount.time_ms;
	case JOURNAL_MOUNT_UPDATE: return c->u.mount_update.time_ms;
	case JOURNAL_MKDIR: return c->u.mkdir.time_ms;
	case JOURNAL_PUT_FILE: return c->u.put_file.time_ms;
	case JOURNAL_RENAME: return c->u.rename.time_ms;
	case JOURNAL_SYNC_DIR: return c->u.sync_dir.time_ms;
	case JOURNAL_SYNC_ENTRY: return c->u.sync_entry.time_ms;
	case JOURNAL_SET_TTL: return c->u.set_ttl.time_ms;
	case JOURNAL_TTL_FIRE: return c->u.ttl_fire.time_ms;
	case JOURNAL_WORKER_STATE: return c->u.worker_state.time_ms;
	case JOURNAL_SET_PERSISTENCE: return c->u.set_persistence.time_ms;
	default: return 0;
	}
}

/* The path a command acts on (the source of a rename); NULL for those
 * without one. */
static const char *cmd_path(const struct journal_cmd *c)
{
	switch (c->op) {
	case JOURNAL_MOUNT: return c->u.mount.path;
	case JOURNAL_UNMOUNT: return c->u.unmount.path;
	case JOURNAL_MOUNT_UPDATE: return c->u.mount_update.path;
	case JOURNAL_MKDIR: return c->u.mkdir.path;
	case JOURNAL_PUT_FILE: return c->u.put_file.path;
	case JOURNAL_DELETE: return c->u.delete.path;
	case JOURNAL_RENAME: return c->u.rename.src;
	case JOURNAL_SYNC_DIR: return c->u.sync_dir.path;
	case JOURNAL_SYNC_ENTRY: return c->u.sync_entry.path;
	case JOURNAL_TTL_FIRE: return c->u.ttl_fire.path;
	case JOURNAL_SET_PERSISTENCE: return c->u.set_persistence.path;
	default: return NULL;
	}
}

/* Moves the epoch of the mount a command changed state under (after it
 * applied: an unmount's or mount's own path names it). A change outside
 * every mount concerns no worker. */
static void move_epoch(struct apply *a, uint64_t index)
{
	const char *path = cmd_path(a->cmd);
	if (a->moves_all || !path) {
		ns_epoch_move(a->ns, NULL, index);
		return;
	}
	if (a->cmd->op == JOURNAL_MOUNT || a->cmd->op == JOURNAL_UNMOUNT ||
	    a->cmd->op == JOURNAL_MOUNT_UPDATE) {
		ns_epoch_move(a->ns, path, index);
		return;
	}
	struct ns_mount *m = malloc(sizeof(*m));
	if (!m || ns_resolve_mount(a->ns, path, m, NULL, 0) == 0)
		ns_epoch_move(a->ns, m ? m->path : NULL, index);
	free(m);
}

/* The apply half of the command table (journal.h): one function per op. */
static int (*const g_apply[JOURNAL_OP_COUNT])(struct apply *a) = {
#define APPLY_(up, low) [JOURNAL_##up] = apply_##low,
	JOURNAL_OPS(APPLY_)
#undef APPLY_
};

int ns_apply(struct ns *ns, uint64_t index, const struct journal_cmd *cmd,
	     struct ns_result *res, char *err, size_t errlen)
{
	struct ns_result ignored;
	if (!res)
		res = &ignored;
	memset(res, 0, sizeof(*res));
	*err = '\0';
	if (!cmd || !journal_op_name(cmd->op)) {
		/* A caller bug, not a command: the index stays where it is. */
		snprintf(err, errlen, "entry %llu: not a journal command",
			 (unsigned long long)index);
		return -EINVAL;
	}
	if (index != ns->applied + 1) {
		snprintf(err, errlen, "entry %llu applied out of order (applied %llu)",
			 (unsigned long long)index, (unsigned long long)ns->applied);
		return -EINVAL;
	}
	if (sqlite3_exec(ns->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return ns_db_err(ns, err, errlen, "begin");
	struct apply a = { .ns = ns, .cmd = cmd, .res = res, .err = err, .errlen = errlen,
			   .now = cmd_time(cmd) };
	const char *op = journal_op_name(cmd->op);
	int rc = g_apply[cmd->op](&a);
	if (rc == -EIO && !*err)
		ns_db_err(ns, err, errlen, op);
	/* A failed command leaves no trace but the index it consumed. */
	if (rc && sqlite3_exec(ns->db, "ROLLBACK; BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return ns_db_err(ns, err, errlen, "rollback");
	if (ns_meta_set(ns, "applied_index", (int64_t)index) ||
	    sqlite3_exec(ns->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(ns->db, "ROLLBACK", NULL, NULL, NULL);
		return ns_db_err(ns, err, errlen, "commit");
	}
	ns->applied = index;
	if (!rc && (a.moved || a.moves_all))
		move_epoch(&a, index);
	return rc;
}
