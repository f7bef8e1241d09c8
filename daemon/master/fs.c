#include "daemon/master/fs.h"

#include "daemon/master/journal.h"
#include "daemon/master/meta.h"
#include "daemon/master/policy.h"
#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/placement.h"
#include "ufs/ufs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct open_store {
	char path[PATH_MAX_LEN + 1];
	uint64_t mount_sig; /* hash of uri and options: a remount is another store */
	struct ufs *ufs;
};

struct fs {
	struct meta *meta;
	struct fs_opts opts;
	/* Readers: every operation; writer: mount and unmount, which open and
	 * close stores. */
	pthread_rwlock_t mounts_lock;
	pthread_mutex_t stores_lock;
	struct open_store *stores;
	size_t nstores;
	/* When each file (or directory listing) was last found unchanged in
	 * its store, by inode id: in memory, never journaled (docs/namespace.md,
	 * "Freshness"). Open addressing, id 0 marks a free slot. */
	pthread_mutex_t verified_lock;
	struct verified { uint64_t id; int64_t ms; } *verified;
	size_t nverified, verified_cap;
	_Atomic uint64_t st_lists, st_heads, st_changes, st_behind, st_raced;
	/* Past the last data id a lazy load proposed (fs_load_file). */
	_Atomic uint64_t load_id_floor;
};

/* The verified time of inode id; 0 unknown. */
static int64_t verified_get(struct fs *fs, uint64_t id)
{
	int64_t ms = 0;
	pthread_mutex_lock(&fs->verified_lock);
	if (fs->verified_cap) {
		size_t mask = fs->verified_cap - 1;
		for (size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & mask; fs->verified[i].id;
		     i = (i + 1) & mask) {
			if (fs->verified[i].id == id) {
				ms = fs->verified[i].ms;
				break;
			}
		}
	}
	pthread_mutex_unlock(&fs->verified_lock);
	return ms;
}

static void verified_put_locked(struct fs *fs, uint64_t id, int64_t ms)
{
	size_t mask = fs->verified_cap - 1;
	size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & mask;
	while (fs->verified[i].id && fs->verified[i].id != id)
		i = (i + 1) & mask;
	if (!fs->verified[i].id)
		fs->nverified++;
	fs->verified[i].id = id;
	if (ms > fs->verified[i].ms)
		fs->verified[i].ms = ms;
}

/* Records that inode id matched its store at ms (a time taken before
 * the store was asked). Out of memory: not recorded (the file is asked
 * about again, which is only slower). */
static void verified_set(struct fs *fs, uint64_t id, int64_t ms)
{
	pthread_mutex_lock(&fs->verified_lock);
	if ((fs->nverified + 1) * 2 > fs->verified_cap) {
		size_t cap = fs->verified_cap ? fs->verified_cap * 2 : 1024;
		struct verified *old = fs->verified;
		size_t oldcap = fs->verified_cap;
		struct verified *grown = calloc(cap, sizeof(*grown));
		if (grown) {
			fs->verified = grown;
			fs->verified_cap = cap;
			fs->nverified = 0;
			for (size_t i = 0; i < oldcap; i++)
				if (old[i].id)
					verified_put_locked(fs, old[i].id, old[i].ms);
			free(old);
		}
	}
	if ((fs->nverified + 1) * 2 <= fs->verified_cap)
		verified_put_locked(fs, id, ms);
	pthread_mutex_unlock(&fs->verified_lock);
}

void fs_verified_clear(struct fs *fs)
{
	pthread_mutex_lock(&fs->verified_lock);
	free(fs->verified);
	fs->verified = NULL;
	fs->nverified = fs->verified_cap = 0;
	pthread_mutex_unlock(&fs->verified_lock);
}

void fs_sync_stats(struct fs *fs, struct fs_sync_stats *out)
{
	out->lists = atomic_load(&fs->st_lists);
	out->heads = atomic_load(&fs->st_heads);
	out->changes = atomic_load(&fs->st_changes);
	out->behind = atomic_load(&fs->st_behind);
	out->raced = atomic_load(&fs->st_raced);
	pthread_mutex_lock(&fs->verified_lock);
	out->verified = fs->nverified;
	pthread_mutex_unlock(&fs->verified_lock);
}

/* Copies src into a command's field of size bytes; -EINVAL naming the
 * field when it does not fit (a truncated value would be another one). */
static int set_str(char *dst, size_t size, const char *src, const char *field, char *err,
		   size_t errlen)
{
	size_t n = strlen(src);
	if (n >= size) {
		snprintf(err, errlen, "'%s' is longer than %zu bytes", field, size - 1);
		return -EINVAL;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int fs_open(struct meta *meta, const struct fs_opts *opts, struct fs **out)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->meta = meta;
	fs->opts = *opts;
	pthread_rwlock_init(&fs->mounts_lock, NULL);
	pthread_mutex_init(&fs->stores_lock, NULL);
	pthread_mutex_init(&fs->verified_lock, NULL);
	*out = fs;
	return 0;
}

void fs_close(struct fs *fs)
{
	if (!fs)
		return;
	for (size_t i = 0; i < fs->nstores; i++)
		ufs_close(fs->stores[i].ufs);
	free(fs->stores);
	pthread_rwlock_destroy(&fs->mounts_lock);
	pthread_mutex_destroy(&fs->stores_lock);
	pthread_mutex_destroy(&fs->verified_lock);
	free(fs->verified);
	free(fs);
}

/* ---- mount options ---- */

static bool is_secret_key(const char *key)
{
	return strstr(key, "secret") || strstr(key, "password") || strstr(key, "token");
}

/* Driver options of a mount as ufs_opt pairs (pointing into opts). */
static int collect_opts(const cJSON *opts, struct ufs_opt **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t count = (size_t)cJSON_GetArraySize(opts);
	if (!count)
		return 0;
	struct ufs_opt *list = calloc(count, sizeof(*list));
	if (!list)
		return -ENOMEM;
	const cJSON *o;
	cJSON_ArrayForEach(o, opts)
	{
		/* strata's own options; the rest are the driver's. */
		if (!cJSON_IsString(o) || strcmp(o->string, "block_size") == 0 ||
		    strcmp(o->string, "sync_interval") == 0 || strcmp(o->string, "ttl") == 0 ||
		    strcmp(o->string, "ttl_action") == 0)
			continue;
		list[*n].key = o->string;
		list[*n].value = o->valuestring;
		(*n)++;
	}
	*out = list;
	return 0;
}

/* Returns the open store of mount m, opening it on first use. Call with
 * mounts_lock held (read or write). The store stays valid until unmount. */
static uint64_t mount_sig(const struct ns_mount *m)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const char *p = m->uri; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *p = m->options; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

/* On a follower, unmounts and mounts arrive through the Raft log, not
 * through fs_unmount, so a cached store is also checked against the
 * mount's uri and options. A stale one is retired (its path cleared; a
 * reader may still hold it) and closed by fs_close. */
static int store_of(struct fs *fs, const struct ns_mount *m, struct ufs **out, char *err,
		    size_t errlen)
{
	uint64_t sig = mount_sig(m);
	pthread_mutex_lock(&fs->stores_lock);
	for (size_t i = 0; i < fs->nstores; i++) {
		if (strcmp(fs->stores[i].path, m->path) != 0)
			continue;
		if (fs->stores[i].mount_sig == sig) {
			*out = fs->stores[i].ufs;
			pthread_mutex_unlock(&fs->stores_lock);
			return 0;
		}
		fs->stores[i].path[0] = '\0';
	}
	cJSON *opts = cJSON_Parse(m->options);
	struct ufs_opt *list;
	size_t n;
	int rc = collect_opts(opts, &list, &n);
	struct ufs *ufs = NULL;
	if (!rc)
		rc = ufs_open(m->uri, list, n, &ufs, err, errlen);
	free(list);
	cJSON_Delete(opts);
	if (!rc) {
		struct open_store *grown = realloc(fs->stores, (fs->nstores + 1) * sizeof(*grown));
		if (!grown) {
			ufs_close(ufs);
			rc = -ENOMEM;
		} else {
			fs->stores = grown;
			snprintf(grown[fs->nstores].path, sizeof(grown[0].path), "%s", m->path);
			grown[fs->nstores].mount_sig = sig;
			grown[fs->nstores++].ufs = ufs;
			*out = ufs;
		}
	}
	pthread_mutex_unlock(&fs->stores_lock);
	return rc;
}

static void store_drop(struct fs *fs, const char *path)
{
	pthread_mutex_lock(&fs->stores_lock);
	for (size_t i = 0; i < fs->nstores; i++) {
		if (strcmp(fs->stores[i].path, path) == 0) {
			ufs_close(fs->stores[i].ufs);
			fs->stores[i] = fs->stores[--fs->nstores];
			break;
		}
	}
	pthread_mutex_unlock(&fs->stores_lock);
}

int fs_parse_sync_interval(const char *s, int64_t *out)
{
	if (strcmp(s, "never") == 0 || strcmp(s, "-1") == 0) {
		*out = -1;
		return 0;
	}
	if (strcmp(s, "always") == 0 || strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	return conf_parse_duration(s, out);
}

int fs_mount(struct fs *fs, const char *path, const char *uri, bool readonly,
	     const cJSON *options, char *err, size_t errlen)
{
	int64_t block_size = fs->opts.default_block_size;
	int64_t sync_ms = fs->opts.default_sync_interval_ms;
	const char *ttl = NULL, *ttl_action = NULL;
	const cJSON *o;
	cJSON_ArrayForEach(o, options)
	{
		if (!cJSON_IsString(o)) {
			snprintf(err, errlen, "mount option '%s' must be a string", o->string);
			return -EINVAL;
		}
		if (strcmp(o->string, "block_size") == 0) {
			if (conf_parse_size(o->valuestring, &block_size) || block_size < (1 << 20) ||
			    block_size > (512 << 20)) {
				snprintf(err, errlen,
					 "mount option 'block_size': '%s' is not a size between "
					 "1MB and 512MB",
					 o->valuestring);
				return -EINVAL;
			}
		} else if (strcmp(o->string, "sync_interval") == 0) {
			if (fs_parse_sync_interval(o->valuestring, &sync_ms)) {
				snprintf(err, errlen,
					 "mount option 'sync_interval': '%s' is not never, always "
					 "or a duration",
					 o->valuestring);
				return -EINVAL;
			}
		} else if (strcmp(o->string, "ttl") == 0) {
			ttl = o->valuestring;
		} else if (strcmp(o->string, "ttl_action") == 0) {
			ttl_action = o->valuestring;
		} else if (!strchr(o->string, '.')) {
			snprintf(err, errlen, "unknown mount option '%s'", o->string);
			return -EINVAL;
		}
	}
	/* A default TTL for what is created or loaded under the mount. */
	int prc = policy_check_mount_ttl(ttl, ttl_action, readonly, err, errlen);
	if (prc)
		return prc;
	/* The mount point must be empty where it already exists: load it
	 * from the store above it first. */
	cJSON *kids = NULL;
	bool is_file = false;
	int rc = fs_list(fs, path, NULL, 1, &kids, &is_file, err, errlen);
	int nkids = cJSON_GetArraySize(kids);
	cJSON_Delete(kids);
	if (rc == 0 && is_file) {
		snprintf(err, errlen, "cannot mount on '%s': it is a file", path);
		return -ENOTDIR;
	}
	if (rc == 0 && nkids > 0) {
		snprintf(err, errlen, "cannot mount on '%s': the directory is not empty", path);
		return -ENOTEMPTY;
	}
	if (rc && rc != -ENOENT)
		return rc;
	*err = '\0';
	struct ufs_opt *list;
	size_t n;
	rc = collect_opts(options, &list, &n);
	if (rc)
		return rc;
	struct ufs *ufs = NULL;
	rc = ufs_open(uri, list, n, &ufs, err, errlen);
	free(list);
	if (!rc)
		rc = ufs_probe(ufs, err, errlen);
	ufs_close(ufs);
	if (rc)
		return rc;

	struct journal_cmd *cmd = journal_new(JOURNAL_MOUNT);
	char *opts_text = options ? cJSON_PrintUnformatted(options) : NULL;
	if (!cmd || (options && !opts_text)) {
		rc = -ENOMEM;
		goto out_mount;
	}
	struct journal_mount *jm = &cmd->u.mount;
	rc = set_str(jm->path, sizeof(jm->path), path, "path", err, errlen);
	if (!rc)
		rc = set_str(jm->uri, sizeof(jm->uri), uri, "uri", err, errlen);
	if (!rc)
		rc = journal_mount_set_options(cmd, opts_text ? opts_text : "{}");
	if (rc)
		goto out_mount;
	jm->readonly = readonly;
	jm->block_size = block_size;
	jm->sync_interval_ms = sync_ms;
	jm->time_ms = clock_wall_ms();
	pthread_rwlock_wrlock(&fs->mounts_lock);
	rc = meta_submit(fs->meta, cmd, err, errlen);
	pthread_rwlock_unlock(&fs->mounts_lock);
out_mount:
	free(opts_text);
	journal_free(cmd);
	if (!rc)
		log_info("mounted %s at %s%s", uri, path, readonly ? " (read-only)" : "");
	return rc;
}

int fs_unmount(struct fs *fs, const char *path, char *err, size_t errlen)
{
	struct journal_cmd *cmd = journal_new(JOURNAL_UNMOUNT);
	if (!cmd)
		return -ENOMEM;
	int rc = set_str(cmd->u.unmount.path, sizeof(cmd->u.unmount.path), path, "path", err,
			 errlen);
	if (!rc) {
		pthread_rwlock_wrlock(&fs->mounts_lock);
		rc = meta_submit(fs->meta, cmd, err, errlen);
		if (!rc)
			store_drop(fs, path);
		pthread_rwlock_unlock(&fs->mounts_lock);
	}
	journal_free(cmd);
	if (!rc)
		log_info("unmounted %s", path);
	return rc;
}

static int mount_json_fn(void *arg, const struct ns_mount *m)
{
	cJSON *arr = arg;
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	cJSON_AddStringToObject(o, "path", m->path);
	cJSON_AddStringToObject(o, "uri", m->uri);
	cJSON_AddBoolToObject(o, "readonly", m->readonly);
	json_add_int(o, "block_size", m->block_size);
	json_add_int(o, "sync_interval_ms", m->sync_interval_ms);
	json_add_int(o, "created_ms", m->created_ms);
	cJSON *opts = cJSON_Parse(m->options);
	cJSON *item;
	cJSON_ArrayForEach(item, opts)
	{
		if (is_secret_key(item->string) && cJSON_IsString(item))
			cJSON_SetValuestring(item, "***");
	}
	cJSON_AddItemToObject(o, "options", opts ? opts : cJSON_CreateObject());
	return 0;
}

int fs_mounts_json(struct fs *fs, cJSON **out)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(root, "mounts");
	if (!arr) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	struct ns *ns = meta_read_lock(fs->meta);
	int rc = ns_mounts(ns, mount_json_fn, arr);
	meta_read_unlock(fs->meta);
	if (rc) {
		cJSON_Delete(root);
		return rc;
	}
	*out = root;
	return 0;
}

/* ---- lazy metadata ---- */

static bool sync_due(int64_t interval, int64_t synced, int64_t now)
{
	if (synced == 0)
		return true;
	if (interval < 0)
		return false;
	return now - synced >= interval;
}

/* Looks up path and its mount under the read lock. mrc: 0 when a mount
 * covers the path. */
static int lookup(struct fs *fs, const char *path, struct ns_inode *n, struct ns_mount *m,
		  char *rel, size_t rellen, int *mrc)
{
	struct ns *ns = meta_read_lock(fs->meta);
	int rc = ns_lookup(ns, path, n);
	*mrc = ns_resolve_mount(ns, path, m, rel, rellen);
	meta_read_unlock(fs->meta);
	return rc;
}

/* Submits a sync_entry command (exists: st is what the store holds) for
 * path; data_id: the proposed id of new content (0: none). */
static int submit_sync_entry(struct fs *fs, const char *path, const struct ufs_stat *st,
			     bool exists, uint64_t data_id, char *err, size_t errlen)
{
	struct journal_cmd *cmd = journal_new(JOURNAL_SYNC_ENTRY);
	if (!cmd)
		return -ENOMEM;
	struct journal_sync_entry *se = &cmd->u.sync_entry;
	int rc = set_str(se->path, sizeof(se->path), path, "path", err, errlen);
	se->time_ms = clock_wall_ms();
	se->exists = exists;
	if (!rc && exists) {
		se->is_dir = st->is_dir;
		se->length = st->length;
		se->mtime_ms = st->mtime_ms;
		rc = set_str(se->fingerprint, sizeof(se->fingerprint), st->fingerprint,
			     "fingerprint", err, errlen);
		se->data_id = data_id;
	}
	if (!rc)
		rc = meta_submit(fs->meta, cmd, err, errlen);
	journal_free(cmd);
	return rc;
}

/* The data id fs_load_file proposes (0: none): starting past every id
 * taken or proposed, so concurrent loads do not propose the same id and
 * find it taken at apply (it would then fall back to the counter). */
static uint64_t load_data_id(struct fs *fs, const struct fs_load_place *place)
{
	if (!place || !place->worker_id || place->nworkers < 2)
		return 0;
	struct ns *ns = meta_read_lock(fs->meta);
	uint64_t next = ns_next_id(ns) + place->ids_before;
	meta_read_unlock(fs->meta);
	uint64_t floor = atomic_load(&fs->load_id_floor), id;
	do {
		id = placement_pick_data_id(floor > next ? floor : next, 64, place->index,
					    place->worker_id, place->workers, place->nworkers);
		if (!id)
			return 0;
	} while (!atomic_compare_exchange_weak(&fs->load_id_floor, &floor,
					       floor > id + 1 ? floor : id + 1));
	return id;
}

int fs_load_file(struct fs *fs, const char *path, const struct ufs_stat *st,
		 const struct fs_load_place *place, char *err, size_t errlen)
{
	*err = '\0';
	uint64_t data_id = st->is_dir ? 0 : load_data_id(fs, place);
	pthread_rwlock_rdlock(&fs->mounts_lock);
	int rc = submit_sync_entry(fs, path, st, true, data_id, err, errlen);
	pthread_rwlock_unlock(&fs->mounts_lock);
	return rc;
}

/* Submits a put_file command: path now holds content st (data_id 0: the
 * master names it; etag NULL or "": none). */
static int submit_put_file(struct fs *fs, const char *path, const struct ufs_stat *st,
			   uint64_t data_id, const char *etag, enum fs_persist persist, char *err,
			   size_t errlen)
{
	struct journal_cmd *cmd = journal_new(JOURNAL_PUT_FILE);
	if (!cmd)
		return -ENOMEM;
	struct journal_put_file *pf = &cmd->u.put_file;
	int rc = set_str(pf->path, sizeof(pf->path), path, "path", err, errlen);
	if (!rc)
		rc = set_str(pf->fingerprint, sizeof(pf->fingerprint), st->fingerprint,
			     "fingerprint", err, errlen);
	if (!rc)
		rc = set_str(pf->etag, sizeof(pf->etag), etag ? etag : "", "etag", err, errlen);
	pf->time_ms = clock_wall_ms();
	pf->length = st->length;
	pf->mtime_ms = st->mtime_ms;
	pf->data_id = data_id;
	if (persist != FS_PERSISTED)
		snprintf(pf->persistence, sizeof(pf->persistence), "not_persisted");
	pf->persist = persist == FS_PERSIST_LATER;
	if (!rc)
		rc = meta_submit(fs->meta, cmd, err, errlen);
	journal_free(cmd);
	return rc;
}

/* A file's inode still describes what the store holds. */
static bool same_content(const struct ns_inode *n, const struct ufs_stat *st)
{
	return !n->is_dir && !st->is_dir && n->length == st->length &&
	       n->mtime_ms == st->mtime_ms && strcmp(n->fingerprint, st->fingerprint) == 0;
}

/* Brings path's metadata up to date per its mount's sync interval (the
 * store is asked only when the file was last verified longer ago than
 * that; out->synced_ms is then the later of the journaled and the
 * verified time). Call with mounts_lock held for reading. */
static int refresh(struct fs *fs, const char *path, struct ns_inode *out, char *err,
		   size_t errlen)
{
	struct ns_mount *m = malloc(sizeof(*m));
	char *rel = malloc(PATH_MAX_LEN + 1);
	int rc = -ENOMEM, mrc;
	if (!m || !rel)
		goto out;
	rc = lookup(fs, path, out, m, rel, PATH_MAX_LEN + 1, &mrc);
	if (mrc) /* no mount: the namespace alone answers */
		goto out;
	if (rc == 0 && (out->is_mount_point || !*rel || out->is_dir))
		goto out; /* directories are refreshed by listing */
	if (rc == 0 && out->persistence != NS_PERSISTED)
		goto out; /* only the caches hold it: the store has nothing to say */
	if (rc == 0 && out->synced_ms) {
		/* Freshness is the later of the journaled check and the last
		 * one that found nothing changed (not journaled). */
		int64_t v = verified_get(fs, out->id);
		if (v > out->synced_ms)
			out->synced_ms = v;
	}
	if (rc == 0 && !sync_due(m->sync_interval_ms, out->synced_ms, clock_wall_ms()))
		goto out;
	if (rc != 0 && rc != -ENOENT)
		goto out;
	bool known = rc == 0;
	struct ufs *ufs;
	rc = store_of(fs, m, &ufs, err, errlen);
	if (rc)
		goto out;
	struct ufs_stat st;
	int64_t asked = clock_wall_ms();
	int src = ufs_stat(ufs, rel, &st, err, errlen);
	atomic_fetch_add(&fs->st_heads, 1);
	if (known && out->synced_ms && m->sync_interval_ms > 0)
		atomic_fetch_add(&fs->st_behind, 1); /* the background check fell behind */
	if (src && src != -ENOENT) {
		rc = src;
		goto out;
	}
	if (known && src == 0 && same_content(out, &st)) {
		/* Nothing changed: no log entry, no epoch moves. */
		verified_set(fs, out->id, asked);
		out->synced_ms = asked;
		goto out;
	}
	if (known)
		atomic_fetch_add(&fs->st_changes, 1);
	if (!known && src == -ENOENT) {
		/* Absent from both: nothing to record (no log entry). */
		snprintf(err, errlen, "'%s' does not exist", path);
		rc = -ENOENT;
		goto out;
	}
	rc = submit_sync_entry(fs, path, &st, src == 0, 0, err, errlen);
	if (rc)
		goto out;
	if (src == -ENOENT) {
		snprintf(err, errlen, "'%s' does not exist", path);
		rc = -ENOENT;
		goto out;
	}
	struct ns *ns = meta_read_lock(fs->meta);
	rc = ns_lookup(ns, path, out);
	meta_read_unlock(fs->meta);
out:
	if (rc == -ENOENT && err && !*err)
		snprintf(err, errlen, "'%s' does not exist", path);
	free(m);
	free(rel);
	return rc;
}

int fs_stat(struct fs *fs, const char *path, struct ns_inode *out, char *err, size_t errlen)
{
	*err = '\0';
	pthread_rwlock_rdlock(&fs->mounts_lock);
	int rc = refresh(fs, path, out, err, errlen);
	pthread_rwlock_unlock(&fs->mounts_lock);
	if (rc == -ENOTDIR) {
		snprintf(err, errlen, "'%s' does not exist (a parent is a file)", path);
		rc = -ENOENT;
	}
	return rc;
}

int fs_resolve(struct fs *fs, const char *path, struct ns_inode *n, struct ns_mount *m,
	       char *rel, size_t rellen, char *err, size_t errlen)
{
	int rc = fs_stat(fs, path, n, err, errlen);
	if (rc)
		return rc;
	struct ns *ns = meta_read_lock(fs->meta);
	rc = ns_resolve_mount(ns, path, m, rel, rellen);
	meta_read_unlock(fs->meta);
	if (rc == -ENOENT) {
		snprintf(err, errlen, "'%s' is not backed by any store", path);
		rc = ST_ENOMOUNT;
	}
	return rc;
}

struct kids_ctx {
	struct ns_inode *v;
	size_t n, cap;
};

static int kids_fn(void *arg, const struct ns_inode *c)
{
	struct kids_ctx *k = arg;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		struct ns_inode *grown = realloc(k->v, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		k->v = grown;
		k->cap = cap;
	}
	k->v[k->n++] = *c;
	return 0;
}

/* The namespace's children of directory path (name order) and whether
 * its listing was ever loaded; *kids the caller's (free). A directory
 * that does not exist has none. */
static int dir_kids(struct fs *fs, const char *path, struct ns_inode **kids, size_t *nkids,
		    struct ns_inode *dir, bool *loaded)
{
	struct kids_ctx k = { 0 };
	struct ns *ns = meta_read_lock(fs->meta);
	int rc = ns_lookup(ns, path, dir);
	if (rc == 0 && dir->is_dir)
		rc = ns_list(ns, dir->id, NULL, 0, kids_fn, &k);
	else if (rc == -ENOENT || rc == -ENOTDIR || rc == 0) {
		memset(dir, 0, sizeof(*dir));
		rc = 0;
	}
	meta_read_unlock(fs->meta);
	*loaded = dir->id && dir->synced_ms != 0;
	if (rc) {
		free(k.v);
		return rc;
	}
	*kids = k.v;
	*nkids = k.n;
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct journal_sync_item *)a)->name,
		      ((const struct journal_sync_item *)b)->name);
}

/* How many of a directory's entries the store's listing (items, sorted
 * by name) shows otherwise than the namespace's children: files changed
 * or gone and, when the listing was loaded, entries new in the store.
 * Sub-directories are not compared (their own listings are). The files
 * the listing shows unchanged are marked verified at when[i], the time
 * the page of items[i] was asked for. */
static size_t listing_diff(struct fs *fs, const struct journal_sync_item *items, size_t nitems,
			   const int64_t *when, const struct ns_inode *kids, size_t nkids,
			   bool loaded)
{
	size_t changes = 0, matched = 0;
	for (size_t i = 0; i < nkids; i++) {
		const struct ns_inode *c = &kids[i];
		struct journal_sync_item key;
		snprintf(key.name, sizeof(key.name), "%s", c->name);
		const struct journal_sync_item *e =
			nitems ? bsearch(&key, items, nitems, sizeof(*items), item_cmp) : NULL;
		if (e)
			matched++;
		/* Only the caches hold a file not persisted: the store says
		 * nothing about it (the apply keeps it too). */
		if (c->is_dir || c->persistence != NS_PERSISTED)
			continue;
		if (!e || e->is_dir || e->length != c->length || e->mtime_ms != c->mtime_ms ||
		    strcmp(e->fingerprint, c->fingerprint) != 0)
			changes++;
		else
			verified_set(fs, c->id, when[e - items]);
	}
	if (loaded && matched < nitems)
		changes += nitems - matched;
	return changes;
}

/* Two reads of a directory's children hold the same inodes and content. */
static bool same_kids(const struct ns_inode *a, size_t na, const struct ns_inode *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].id != b[i].id || a[i].data_id != b[i].data_id ||
		    strcmp(a[i].name, b[i].name) != 0)
			return false;
	return true;
}

static int index_cmp(const void *a, const void *b, void *arg)
{
	const struct journal_sync_item *items = arg;
	return strcmp(items[*(const size_t *)a].name, items[*(const size_t *)b].name);
}

/* Sorts sd's listing by name, and when[] (a time per item) along with it. */
static int sort_listing(struct journal_sync_dir *sd, int64_t *when)
{
	size_t n = sd->nentries;
	if (n < 2)
		return 0;
	size_t *perm = malloc(n * sizeof(*perm));
	int64_t *w = malloc(n * sizeof(*w));
	struct journal_sync_item *items = malloc(n * sizeof(*items));
	if (!perm || !w || !items) {
		free(perm);
		free(w);
		free(items);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	qsort_r(perm, n, sizeof(*perm), index_cmp, sd->entries);
	for (size_t i = 0; i < n; i++) {
		items[i] = sd->entries[perm[i]];
		w[i] = when[perm[i]];
	}
	memcpy(when, w, n * sizeof(*w));
	free(sd->entries);
	sd->entries = items;
	sd->cap = n;
	free(perm);
	free(w);
	return 0;
}

/* when[from..to) = ms, growing when (*cap entries) as needed. */
static int when_fill(int64_t **when, size_t *cap, size_t from, size_t to, int64_t ms)
{
	if (to > *cap) {
		size_t grown = *cap ? *cap : 1024;
		while (grown < to)
			grown *= 2;
		int64_t *v = realloc(*when, grown * sizeof(*v));
		if (!v)
			return -ENOMEM;
		*when = v;
		*cap = grown;
	}
	for (size_t i = from; i < to; i++)
		(*when)[i] = ms;
	return 0;
}

/*
 * Lists directory path (mount m, store path rel) from its store and
 * compares it with the namespace: nothing is journaled when nothing
 * changed (the directory and its files are marked verified instead), else
 * the whole listing as one sync_dir. A listing never loaded is journaled
 * when load is set (a user lists it), else only when a file changed.
 * ST_ESTALE (background only): the namespace changed while listing.
 */
static int sync_dir(struct fs *fs, const char *path, const struct ns_mount *m, const char *rel,
		    bool load, char *err, size_t errlen)
{
	struct ufs *ufs;
	int rc = store_of(fs, m, &ufs, err, errlen);
	if (rc)
		return rc;
	struct ns_inode dir, *kids0 = NULL, *kids1 = NULL;
	size_t nkids0 = 0, nkids1 = 0;
	bool loaded = false;
	int64_t asked = clock_wall_ms();
	rc = dir_kids(fs, path, &kids0, &nkids0, &dir, &loaded);
	if (rc)
		return rc;
	struct journal_cmd *cmd = journal_new(JOURNAL_SYNC_DIR);
	if (!cmd) {
		free(kids0);
		return -ENOMEM;
	}
	rc = set_str(cmd->u.sync_dir.path, sizeof(cmd->u.sync_dir.path), path, "path", err,
		     errlen);
	char *token = NULL;
	/* When each item's page was asked for: a file is verified as of its
	 * own page, not the listing's start (a listing of many pages takes
	 * seconds, and what it verified would otherwise run out that much
	 * sooner than the interval). */
	int64_t *when = NULL;
	size_t nwhen = 0;
	while (!rc) {
		struct ufs_list_page page;
		int64_t page_asked = clock_wall_ms();
		size_t before = cmd->u.sync_dir.nentries;
		rc = ufs_list(ufs, rel, token, 1000, &page, err, errlen);
		atomic_fetch_add(&fs->st_lists, 1);
		free(token);
		token = NULL;
		if (rc)
			break;
		for (size_t i = 0; !rc && i < page.count; i++) {
			const struct ufs_entry *e = &page.entries[i];
			struct journal_sync_item item = { .is_dir = e->st.is_dir,
							  .length = e->st.length,
							  .mtime_ms = e->st.mtime_ms };
			char why[128];
			/* A name strata cannot represent stays out of the
			 * namespace. */
			if (path_check_name(e->name, strlen(e->name), why, sizeof(why)))
				continue;
			snprintf(item.name, sizeof(item.name), "%s", e->name);
			snprintf(item.fingerprint, sizeof(item.fingerprint), "%s",
				 e->st.fingerprint);
			rc = journal_sync_dir_add(cmd, &item);
		}
		if (!rc)
			rc = when_fill(&when, &nwhen, before, cmd->u.sync_dir.nentries, page_asked);
		if (!rc && page.next_token && !(token = strdup(page.next_token)))
			rc = -ENOMEM;
		ufs_list_page_free(&page);
		if (!token)
			break;
	}
	free(token);
	struct ns_inode dir1;
	bool loaded1;
	if (!rc)
		rc = dir_kids(fs, path, &kids1, &nkids1, &dir1, &loaded1);
	size_t changes = 0;
	if (!rc) {
		struct journal_sync_dir *sd = &cmd->u.sync_dir;
		rc = sort_listing(sd, when);
		if (!rc)
			changes = listing_diff(fs, sd->entries, sd->nentries, when, kids1, nkids1,
					       loaded1);
		if (changes && !load && !same_kids(kids0, nkids0, kids1, nkids1)) {
			/* A write through strata landed meanwhile: the listing
			 * may predate it, so it must not be journaled. */
			atomic_fetch_add(&fs->st_raced, 1);
			rc = ST_ESTALE;
			snprintf(err, errlen, "'%s' changed while it was listed", path);
		}
	}
	if (!rc && changes == 0 && (loaded1 || !load)) {
		if (dir1.id && loaded1)
			verified_set(fs, dir1.id, asked);
	} else if (!rc) {
		atomic_fetch_add(&fs->st_changes, changes);
		cmd->u.sync_dir.time_ms = clock_wall_ms();
		rc = meta_submit(fs->meta, cmd, err, errlen);
	}
	free(kids0);
	free(kids1);
	free(when);
	journal_free(cmd);
	return rc;
}

/* A HEAD of one file the namespace holds (background): journals a
 * change, else marks it verified. */
static int revalidate_file(struct fs *fs, struct ufs *ufs, const char *path, const char *rel,
			   char *err, size_t errlen)
{
	struct ns_inode n;
	struct ns *ns = meta_read_lock(fs->meta);
	int rc = ns_lookup(ns, path, &n);
	meta_read_unlock(fs->meta);
	if (rc || n.is_dir || n.is_mount_point || n.persistence != NS_PERSISTED)
		return 0; /* not known (nothing cached of it), not a file, or its
			   * store has nothing to say of it yet */
	struct ufs_stat st;
	int64_t asked = clock_wall_ms();
	rc = ufs_stat(ufs, rel, &st, err, errlen);
	atomic_fetch_add(&fs->st_heads, 1);
	if (rc && rc != -ENOENT)
		return rc;
	if (!rc && same_content(&n, &st)) {
		verified_set(fs, n.id, asked);
		return 0;
	}
	atomic_fetch_add(&fs->st_changes, 1);
	return submit_sync_entry(fs, path, &st, rc == 0, 0, err, errlen);
}

int fs_revalidate(struct fs *fs, const char *dir, const char *const *names, size_t n,
		  int64_t *interval_ms, char *err, size_t errlen)
{
	*err = '\0';
	*interval_ms = -1;
	struct ns_mount *m = malloc(sizeof(*m));
	char *rel = malloc(PATH_MAX_LEN + 1), *frel = malloc(PATH_MAX_LEN + 1);
	char *fpath = malloc(PATH_MAX_LEN + 1);
	int rc = -ENOMEM;
	if (!m || !rel || !frel || !fpath)
		goto out;
	pthread_rwlock_rdlock(&fs->mounts_lock);
	struct ns *ns = meta_read_lock(fs->meta);
	rc = ns_resolve_mount(ns, dir, m, rel, PATH_MAX_LEN + 1);
	meta_read_unlock(fs->meta);
	if (rc == -ENOENT) {
		snprintf(err, errlen, "'%s' is not backed by any store", dir);
		rc = ST_ENOMOUNT;
	}
	if (!rc)
		*interval_ms = m->sync_interval_ms;
	if (!rc && m->sync_interval_ms > 0) {
		if (n > FS_REVAL_HEADS_MAX)
			rc = sync_dir(fs, dir, m, rel, false, err, errlen);
		/* A local store cannot list a directory that is gone: ask
		 * about the files one by one. */
		if (n <= FS_REVAL_HEADS_MAX || rc == -ENOENT) {
			*err = '\0';
			struct ufs *ufs;
			rc = store_of(fs, m, &ufs, err, errlen);
			for (size_t i = 0; !rc && i < n; i++) {
				if (path_join(dir, names[i], fpath, PATH_MAX_LEN + 1))
					continue;
				snprintf(frel, PATH_MAX_LEN + 1, "%s%s%s", rel, *rel ? "/" : "",
					 names[i]);
				rc = revalidate_file(fs, ufs, fpath, frel, err, errlen);
			}
		}
	}
	pthread_rwlock_unlock(&fs->mounts_lock);
out:
	free(m);
	free(rel);
	free(frel);
	free(fpath);
	return rc;
}

cJSON *fs_inode_json(const struct ns_inode *n, const char *path)
{
	cJSON *o = cJSON_CreateObject();
	json_add_u64(o, "id", n->id);
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddStringToObject(o, "name", n->id == NS_ROOT_ID ? "/" : n->name);
	cJSON_AddStringToObject(o, "type", n->is_dir ? "directory" : "file");
	json_add_int(o, "length", (int64_t)n->length);
	json_add_int(o, "mtime_ms", n->mtime_ms);
	if (!n->is_dir)
		cJSON_AddStringToObject(o, "fingerprint", n->fingerprint);
	if (!n->is_dir && *n->etag)
		cJSON_AddStringToObject(o, "etag", n->etag);
	if (n->block_size)
		json_add_int(o, "block_size", n->block_size);
	if (!n->is_dir && n->data_id)
		json_add_u64(o, "data_id", n->data_id);
	cJSON_AddBoolToObject(o, "mount_point", n->is_mount_point);
	cJSON_AddBoolToObject(o, "pinned", n->pinned);
	cJSON_AddStringToObject(o, "pin_medium", n->pin_medium);
	json_add_int(o, "ttl_ms", n->ttl_ms);
	cJSON_AddStringToObject(o, "ttl_action", n->ttl_action);
	json_add_int(o, "ttl_expiry_ms", n->ttl_expiry_ms);
	if (n->ttl_fired_ms)
		json_add_int(o, "ttl_fired_ms", n->ttl_fired_ms);
	json_add_int(o, "repl_min", n->repl_min);
	json_add_int(o, "repl_max", n->repl_max);
	cJSON_AddStringToObject(o, "write_type", n->write_type);
	if (!n->is_dir)
		cJSON_AddStringToObject(o, "persistence", ns_persistence_name(n->persistence));
	return o;
}

struct list_ctx {
	cJSON *arr;
	const char *dir;
	struct ns *ns; /* held under the meta lock during the walk */
};

static int list_fn(void *arg, const struct ns_inode *c)
{
	struct list_ctx *l = arg;
	char path[PATH_MAX_LEN + 1];
	if (path_join(l->dir, c->name, path, sizeof(path)))
		return 0;
	struct ns_inode n = *c;
	n.is_mount_point = n.is_dir && ns_is_mount(l->ns, path);
	cJSON *o = fs_inode_json(&n, path);
	if (!o || !cJSON_AddItemToArray(l->arr, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	return 0;
}

int fs_list(struct fs *fs, const char *path, const char *after, size_t limit, cJSON **out,
	    bool *is_file, char *err, size_t errlen)
{
	*err = '\0';
	*is_file = false;
	struct ns_inode dir;
	struct ns_mount *m = malloc(sizeof(*m));
	char *rel = malloc(PATH_MAX_LEN + 1);
	int rc = -ENOMEM, mrc;
	if (!m || !rel)
		goto out;
	pthread_rwlock_rdlock(&fs->mounts_lock);
	rc = lookup(fs, path, &dir, m, rel, PATH_MAX_LEN + 1, &mrc);
	if (rc == -ENOENT && mrc == 0 && *rel) {
		/* Unknown: list it first, so one LIST loads a directory and its
		 * children's metadata; only what does not list as a directory
		 * is asked for by name (a file). */
		int lrc = sync_dir(fs, path, m, rel, true, err, errlen);
		if (lrc == 0) {
			struct ns *ns = meta_read_lock(fs->meta);
			rc = ns_lookup(ns, path, &dir);
			meta_read_unlock(fs->meta);
		} else if (lrc == -ENOENT || lrc == -ENOTDIR) {
			*err = '\0';
			rc = refresh(fs, path, &dir, err, errlen);
		} else {
			rc = lrc;
		}
	} else if (rc == -ENOENT && mrc == 0) {
		rc = refresh(fs, path, &dir, err, errlen);
	}
	if (!rc && dir.is_dir && dir.synced_ms) {
		int64_t v = verified_get(fs, dir.id);
		if (v > dir.synced_ms)
			dir.synced_ms = v;
	}
	if (!rc && dir.is_dir && mrc == 0 &&
	    sync_due(m->sync_interval_ms, dir.synced_ms, clock_wall_ms())) {
		rc = sync_dir(fs, path, m, rel, true, err, errlen);
		if (rc == -ENOENT) {
			/* Not in the store: either a namespace-only parent of a
			 * mount point (listed from the namespace), or gone. */
			struct ns *ns = meta_read_lock(fs->meta);
			int below = ns_mounts_below(ns, path, NULL, 0);
			/* Or it holds what only the caches hold (the store has
			 * no directory for it yet). */
			if (below <= 0 && ns_holds_unpersisted(ns, dir.id))
				below = 1;
			meta_read_unlock(fs->meta);
			if (below > 0) {
				rc = 0;
				*err = '\0';
			} else {
				int src = submit_sync_entry(fs, path, NULL, false, 0, err, errlen);
				snprintf(err, errlen, "'%s' does not exist", path);
				rc = src ? src : -ENOENT;
			}
		}
		if (!rc) {
			struct ns *ns = meta_read_lock(fs->meta);
			rc = ns_lookup(ns, path, &dir);
			meta_read_unlock(fs->meta);
		}
	}
	if (!rc) {
		cJSON *arr = cJSON_CreateArray();
		if (!dir.is_dir) {
			*is_file = true;
			cJSON_AddItemToArray(arr, fs_inode_json(&dir, path));
		} else {
			struct list_ctx l = { .arr = arr, .dir = path };
			struct ns *ns = meta_read_lock(fs->meta);
			l.ns = ns;
			rc = ns_list(ns, dir.id, after, limit, list_fn, &l);
			meta_read_unlock(fs->meta);
		}
		if (rc)
			cJSON_Delete(arr);
		else
			*out = arr;
	}
	pthread_rwlock_unlock(&fs->mounts_lock);
	if (rc == -ENOENT && !*err)
		snprintf(err, errlen, "'%s' does not exist", path);
out:
	free(m);
	free(rel);
	return rc;
}

/* Resolves path for a mutation: the mount, its store and the path inside
 * it. ST_ENOMOUNT without a mount, -EROFS on a read-only one. Call with
 * mounts_lock held. */
static int writable_store(struct fs *fs, const char *path, struct ns_mount *m, char *rel,
			  size_t rellen, struct ufs **ufs, char *err, size_t errlen)
{
	struct ns *ns = meta_read_lock(fs->meta);
	int rc = ns_resolve_mount(ns, path, m, rel, rellen);
	meta_read_unlock(fs->meta);
	if (rc == -ENOENT) {
		snprintf(err, errlen, "no mount covers '%s'; mount a store first", path);
		return ST_ENOMOUNT;
	}
	if (rc)
		return rc;
	if (m->readonly) {
		snprintf(err, errlen, "'%s' is on the read-only mount '%s'", path, m->path);
		return -EROFS;
	}
	return store_of(fs, m, ufs, err, errlen);
}

/* Submits cmd and frees it (NULL: out of memory). */
static int submit_free(struct fs *fs, struct journal_cmd *cmd, int rc, char *err,
		       size_t errlen)
{
	if (!cmd)
		return -ENOMEM;
	if (!rc)
		rc = meta_submit(fs->meta, cmd, err, errlen);
	journal_free(cmd);
	return rc;
}

int fs_mkdir(struct fs *fs, const char *path, bool parents, char *err, size_t errlen)
{
	*err = '\0';
	struct ns_mount *m = malloc(sizeof(*m));
	char *rel = malloc(PATH_MAX_LEN + 1);
	int rc = -ENOMEM;
	if (!m || !rel)
		goto out;
	pthread_rwlock_rdlock(&fs->mounts_lock);
	struct ns_inode n;
	rc = refresh(fs, path, &n, err, errlen);
	if (rc == 0 && !(parents && n.is_dir)) {
		snprintf(err, errlen, "'%s' already exists", path);
		rc = -EEXIST;
	} else if (rc == 0 || rc == -ENOENT) {
		*err = '\0';
		struct ufs *ufs;
		rc = writable_store(fs, path, m, rel, PATH_MAX_LEN + 1, &ufs, err, errlen);
		if (rc == ST_ENOMOUNT) {
			rc = 0; /* a directory outside every mount lives in the namespace only */
			*err = '\0';
		} else if (!rc && *rel) {
			rc = parents ? 0 : -ENOENT;
			if (!parents) {
				/* The parent must exist (loaded lazily). */
				char parent[PATH_MAX_LEN + 1];
				struct ns_inode p;
				path_parent(path, parent, sizeof(parent));
				rc = refresh(fs, parent, &p, err, errlen);
				if (!rc && !p.is_dir) {
					snprintf(err, errlen, "'%s' is not a directory", parent);
					rc = -ENOTDIR;
				}
			}
			if (!rc) {
				rc = ufs_mkdir(ufs, rel, err, errlen);
				if (rc == -EEXIST && parents)
					rc = 0;
			}
		}
		if (!rc) {
			struct journal_cmd *cmd = journal_new(JOURNAL_MKDIR);
			int src = 0;
			if (cmd) {
				struct journal_mkdir *mk = &cmd->u.mkdir;
				src = set_str(mk->path, sizeof(mk->path), path, "path", err, errlen);
				mk->parents = parents;
				mk->time_ms = clock_wall_ms();
			}
			rc = submit_free(fs, cmd, src, err, errlen);
		}
	}
	pthread_rwlock_unlock(&fs->mounts_lock);
out:
	free(m);
	free(rel);
	return rc;
}

int fs_delete(struct fs *fs, const char *path, bool recursive, char *err, size_t errlen)
{
	*err = '\0';
	struct ns_mount *m = malloc(sizeof(*m));
	char *rel = malloc(PATH_MAX_LEN + 1);
	int rc = -ENOMEM;
	if (!m || !rel)
		goto out;
	pthread_rwlock_rdlock(&fs->mounts_lock);
	struct ns_inode n;
	rc = refresh(fs, path, &n, err, errlen);
	if (!rc && n.is_dir) {
		/* Load the listing so the emptiness check sees the store. */
		cJSON *kids = NULL;
		bool is_file;
		pthread_rwlock_unlock(&fs->mounts_lock);
		rc = fs_list(fs, path, NULL, 1, &kids, &is_file, err, errlen);
		pthread_rwlock_rdlock(&fs->mounts_lock);
		if (!rc && cJSON_GetArraySize(kids) > 0 && !recursive) {
			snprintf(err, errlen, "directory '%s' is not empty", path);
			rc = -ENOTEMPTY;
		}
		cJSON_Delete(kids);
	}
	if (!rc && (n.is_mount_point || n.id == NS_ROOT_ID)) {
		snprintf(err, errlen, "cannot delete '%s': it is a mount point; unmount it", path);
		rc = -EBUSY;
	}
	if (!rc) {
		struct ns *ns = meta_read_lock(fs->meta);
		char below[PATH_MAX_LEN + 1];
		if (ns_mounts_below(ns, path, below, sizeof(below)) > 0) {
			snprintf(err, errlen, "cannot delete '%s': '%s' is mounted below it", path,
				 below);
			rc = -EBUSY;
		}
		meta_read_unlock(fs->meta);
	}
	if (!rc) {
		struct ufs *ufs;
		rc = writable_store(fs, path, m, rel, PATH_MAX_LEN + 1, &ufs, err, errlen);
		if (rc == ST_ENOMOUNT) {
			rc = 0;
			*err = '\0';
		} else if (!rc) {
			rc = ufs_delete(ufs, rel, recursive, err, errlen);
			if (rc == -ENOENT) /* gone from the store already */
				rc = 0;
		}
	}
	if (!rc) {
		struct journal_cmd *cmd = journal_new(JOURNAL_DELETE);
		int src = 0;
		if (cmd) {
			struct journal_delete *del = &cmd->u.delete;
			src = set_str(del->path, sizeof(del->path), path, "path", err, errlen);
			del->recursive = recursive;
		}
		rc = submit_free(fs, cmd, src, err, errlen);
	}
	pthread_rwlock_unlock(&fs->mounts_lock);
out:
	free(m);
	free(rel);
	return rc;
}

int fs_rename(struct fs *fs, const char *src, const char *dst, char *err, size_t errlen)
{
	*err = '\0';
	struct ns_mount *m = malloc(sizeof(*m)), *m2 = malloc(sizeof(*m2));
	char *rel = malloc(PATH_MAX_LEN + 1), *rel2 = malloc(PATH_MAX_LEN + 1);
	int rc = -ENOMEM;
	if (!m || !m2 || !rel || !rel2)
		goto out;
	if (path_has_prefix(dst, src)) {
		snprintf(err, errlen, "cannot move '%s' into itself", src);
		rc = -EINVAL;
		goto out;
	}
	pthread_rwlock_rdlock(&fs->mounts_lock);
	struct ns_inode n, d;
	char parent[PATH_MAX_LEN + 1];
	rc = refresh(fs, src, &n, err, errlen);
	if (!rc) {
		int drc = refresh(fs, dst, &d, err, errlen);
		*err = '\0';
		if (drc == 0) {
			snprintf(err, errlen, "'%s' already exists", dst);
			rc = -EEXIST;
		} else if (path_parent(dst, parent, sizeof(parent)) == 0) {
			rc = refresh(fs, parent, &d, err, errlen);
			if (rc == -ENOENT)
				snprintf(err, errlen, "parent directory '%s' does not exist", parent);
			else if (!rc && !d.is_dir) {
				snprintf(err, errlen, "'%s' is not a directory", parent);
				rc = -ENOTDIR;
			}
		}
	}
	struct ufs *ufs = NULL;
	if (!rc)
		rc = writable_store(fs, src, m, rel, PATH_MAX_LEN + 1, &ufs, err, errlen);
	if (!rc) {
		struct ufs *ufs2;
		rc = writable_store(fs, dst, m2, rel2, PATH_MAX_LEN + 1, &ufs2, err, errlen);
		if (!rc && strcmp(m->path, m2->path) != 0) {
			snprintf(err, errlen, "'%s' and '%s' are on different mounts (%s, %s)", src,
				 dst, m->path, m2->path);
			rc = -EXDEV;
		}
	}
	if (!rc && (n.is_mount_point || !*rel)) {
		snprintf(err, errlen, "cannot rename the mount point '%s'", src);
		rc = -EBUSY;
	}
	if (!rc)
		rc = ufs_rename(ufs, rel, rel2, err, errlen);
	if (!rc) {
		struct journal_cmd *cmd = journal_new(JOURNAL_RENAME);
		int src_rc = 0;
		if (cmd) {
			struct journal_rename *rn = &cmd->u.rename;
			src_rc = set_str(rn->src, sizeof(rn->src), src, "src", err, errlen);
			if (!src_rc)
				src_rc = set_str(rn->dst, sizeof(rn->dst), dst, "dst", err, errlen);
			rn->time_ms = clock_wall_ms();
		}
		rc = submit_free(fs, cmd, src_rc, err, errlen);
	}
	pthread_rwlock_unlock(&fs->mounts_lock);
out:
	free(m);
	free(m2);
	free(rel);
	free(rel2);
	return rc;
}

/* The policies path falls under: its own (a file inherited them) or its
 * nearest existing ancestor's. */
static void write_policy_of(struct fs *fs, const char *path, struct fs_write_policy *out)
{
	char cur[PATH_MAX_LEN + 1], up[PATH_MAX_LEN + 1];
	snprintf(cur, sizeof(cur), "%s", path);
	memset(out, 0, sizeof(*out));
	struct ns *ns = meta_read_lock(fs->meta);
	for (;;) {
		struct ns_inode n;
		if (ns_lookup(ns, cur, &n) == 0) {
			snprintf(out->write_type, sizeof(out->write_type), "%s", n.write_type);
			out->repl_min = n.repl_min;
			break;
		}
		if (path_parent(cur, up, sizeof(up)))
			break;
		memcpy(cur, up, sizeof(cur));
	}
	meta_read_unlock(fs->meta);
}

int fs_write_begin(struct fs *fs, const char *path, struct ns_mount *m, char *rel,
		   size_t rellen, uint64_t *data_id, struct fs_write_policy *pol, char *err,
		   size_t errlen)
{
	*err = '\0';
	pthread_rwlock_rdlock(&fs->mounts_lock);
	struct ns_inode n;
	int rc = refresh(fs, path, &n, err, errlen);
	if (rc && rc != -ENOENT && rc != -ENOTDIR) {
		/* The store does not answer: the namespace decides (a write to
		 * the caches only must not need the store; one to the store
		 * fails there anyway). */
		static _Atomic int64_t logged_ms;
		int64_t now = clock_mono_ms(), last = atomic_load(&logged_ms);
		if ((last == 0 || now - last >= 60000) &&
		    atomic_compare_exchange_strong(&logged_ms, &last, now))
			log_warn("write of '%s': cannot check it in its store (%s); the namespace "
				 "decides (logged at most once a minute)", path, err);
		struct ns *ns = meta_read_lock(fs->meta);
		rc = ns_lookup(ns, path, &n);
		meta_read_unlock(fs->meta);
	}
	if (rc == 0 && n.is_dir) {
		snprintf(err, errlen, "'%s' is a directory", path);
		rc = -EISDIR;
	} else if (rc == 0 || rc == -ENOENT) {
		*err = '\0';
		struct ufs *ufs;
		rc = writable_store(fs, path, m, rel, rellen, &ufs, err, errlen);
		if (!rc && !*rel) {
			snprintf(err, errlen, "'%s' is a mount point", path);
			rc = -EISDIR;
		}
	}
	if (!rc)
		rc = meta_alloc_data_id(fs->meta, data_id, err, errlen);
	pthread_rwlock_unlock(&fs->mounts_lock);
	if (!rc && pol)
		write_policy_of(fs, path, pol);
	return rc;
}

struct content_list {
	struct fs_content *v;
	size_t n, cap, max;
};

/* Adds n's content to the list when it is a file not persisted. */
static int add_content(struct ns *ns, const struct ns_inode *n, const char *path,
		       struct content_list *l)
{
	if (n->is_dir || n->persistence == NS_PERSISTED || l->n >= l->max)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct fs_content *grown = realloc(l->v, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		l->v = grown;
		l->cap = cap;
	}
	int64_t bs = n->block_size;
	if (bs <= 0) {
		struct ns_mount *m = malloc(sizeof(*m));
		if (!m)
			return -ENOMEM;
		bs = ns_resolve_mount(ns, path, m, NULL, 0) == 0 ? m->block_size : 0;
		free(m);
	}
	if (bs > 0)
		l->v[l->n++] = (struct fs_content){
			.data_id = n->data_id,
			.nblocks = (n->length + (uint64_t)bs - 1) / (uint64_t)bs,
		};
	return 0;
}

int fs_unpersisted_below(struct fs *fs, const char *path, size_t max, struct fs_content **out,
			 size_t *n)
{
	struct content_list l = { .max = max };
	struct ns_inode *rows = NULL;
	char *p = malloc(PATH_MAX_LEN + 1);
	int rc = p ? 0 : -ENOMEM;
	struct ns *ns = meta_read_lock(fs->meta);
	struct ns_inode top;
	if (!rc && ns_lookup(ns, path, &top) == 0) {
		if (!top.is_dir) {
			rc = add_content(ns, &top, path, &l);
		} else if (!(rows = calloc(256, sizeof(*rows)))) {
			rc = -ENOMEM;
		} else {
			/* The indexed walk of every file not persisted, kept when
			 * below path. */
			uint64_t after = 0;
			size_t got = 256;
			while (!rc && got == 256 && l.n < max) {
				rc = ns_unpersisted(ns, after, 256, rows, &got);
				for (size_t i = 0; !rc && i < got; i++) {
					after = rows[i].id;
					if (ns_path(ns, rows[i].id, p, PATH_MAX_LEN + 1) == 0 &&
					    path_has_prefix(p, path))
						rc = add_content(ns, &rows[i], p, &l);
				}
			}
		}
	}
	meta_read_unlock(fs->meta);
	free(rows);
	free(p);
	if (rc) {
		free(l.v);
		l = (struct content_list){ 0 };
	}
	*out = l.v;
	*n = l.n;
	return rc;
}

int fs_write_commit(struct fs *fs, const char *path, uint64_t data_id, uint64_t length,
		    int64_t mtime_ms, const char *fingerprint, const char *etag,
		    enum fs_persist persist, char *err, size_t errlen)
{
	*err = '\0';
	struct ufs_stat st = { .length = length, .mtime_ms = mtime_ms };
	int rc = set_str(st.fingerprint, sizeof(st.fingerprint), fingerprint, "fingerprint", err,
			 errlen);
	if (rc)
		return rc;
	pthread_rwlock_rdlock(&fs->mounts_lock);
	rc = submit_put_file(fs, path, &st, data_id, etag, persist, err, errlen);
	pthread_rwlock_unlock(&fs->mounts_lock);
	return rc;
}

/* ---- mount options, live ---- */

static bool is_credential_key(const char *key)
{
	return strchr(key, '.') && (is_secret_key(key) || strstr(key, "access_key"));
}

/* Merges changes into opts (see fs_mount_update); *creds tells whether a
 * credential changed. */
static int merge_mount_changes(cJSON *opts, const cJSON *changes, bool *creds, char *err,
			       size_t errlen)
{
	const cJSON *o;
	cJSON_ArrayForEach(o, changes)
	{
		const char *key = o->string;
		if (!cJSON_IsString(o) && !cJSON_IsNull(o)) {
			snprintf(err, errlen,
				 "mount option '%s' must be a string (or null to remove it)", key);
			return -EINVAL;
		}
		if (strcmp(key, "block_size") == 0) {
			snprintf(err, errlen,
				 "mount option 'block_size' cannot change on a live mount: its "
				 "files' blocks are cut at the old size (mount the store again "
				 "elsewhere)");
			return -EBUSY;
		}
		bool cred = is_credential_key(key);
		if (!cred && strchr(key, '.')) {
			snprintf(err, errlen,
				 "mount option '%s' names the store, which cannot change on a "
				 "live mount (unmount and mount again)",
				 key);
			return -EBUSY;
		}
		if (!cred && strcmp(key, "sync_interval") != 0 && strcmp(key, "ttl") != 0 &&
		    strcmp(key, "ttl_action") != 0) {
			snprintf(err, errlen, "unknown mount option '%s'", key);
			return -EINVAL;
		}
		if (cJSON_IsString(o) && cred && strcmp(o->valuestring, "***") == 0)
			continue; /* the masked value the mount list shows */
		if (cJSON_IsNull(o)) {
			if (cred && cJSON_GetObjectItemCaseSensitive(opts, key)) {
				snprintf(err, errlen,
					 "mount option '%s' cannot be removed, only replaced", key);
				return -EINVAL;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(opts, key);
			continue;
		}
		const cJSON *old = cJSON_GetObjectItemCaseSensitive(opts, key);
		if (cred && (!old || !cJSON_IsString(old) ||
			     strcmp(old->valuestring, o->valuestring) != 0))
			*creds = true;
		cJSON *copy = cJSON_CreateString(o->valuestring);
		if (!copy)
			return -ENOMEM;
		if (old)
			cJSON_ReplaceItemInObjectCaseSensitive(opts, key, copy);
		else
			cJSON_AddItemToObject(opts, key, copy);
	}
	return 0;
}

static const char *opt_str(const cJSON *opts, const char *key)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(opts, key);
	return cJSON_IsString(o) ? o->valuestring : NULL;
}

int fs_mount_update(struct fs *fs, const char *path, const cJSON *changes, bool *changed,
		    char *err, size_t errlen)
{
	*changed = false;
	*err = '\0';
	struct ns_mount *m = malloc(sizeof(*m));
	struct journal_cmd *cmd = journal_new(JOURNAL_MOUNT_UPDATE);
	cJSON *opts = NULL, *cur = NULL;
	char *opts_text = NULL;
	int rc = 0;
	if (!m || !cmd) {
		rc = -ENOMEM;
		goto out;
	}
	struct ns *ns = meta_read_lock(fs->meta);
	rc = ns_is_mount(ns, path) ? ns_resolve_mount(ns, path, m, NULL, 0) : -ENOENT;
	meta_read_unlock(fs->meta);
	if (rc) {
		snprintf(err, errlen, "'%s' is not a mount point", path);
		rc = -ENOENT;
		goto out;
	}
	cur = cJSON_Parse(m->options);
	opts = cJSON_Parse(m->options);
	if (!cur || !opts) {
		rc = -ENOMEM;
		goto out;
	}
	bool creds = false;
	rc = merge_mount_changes(opts, changes, &creds, err, errlen);
	if (rc)
		goto out;
	int64_t sync_ms = fs->opts.default_sync_interval_ms;
	const char *sync = opt_str(opts, "sync_interval");
	if (sync && fs_parse_sync_interval(sync, &sync_ms)) {
		snprintf(err, errlen,
			 "mount option 'sync_interval': '%s' is not never, always or a duration",
			 sync);
		rc = -EINVAL;
		goto out;
	}
	rc = policy_check_mount_ttl(opt_str(opts, "ttl"), opt_str(opts, "ttl_action"),
				    m->readonly, err, errlen);
	if (rc)
		goto out;
	if (cJSON_Compare(cur, opts, true) && sync_ms == m->sync_interval_ms)
		goto out; /* nothing to change: no Raft entry */
	if (creds) {
		struct ufs_opt *list;
		size_t n;
		struct ufs *ufs = NULL;
		rc = collect_opts(opts, &list, &n);
		if (rc)
			goto out;
		rc = ufs_open(m->uri, list, n, &ufs, err, errlen);
		free(list);
		if (!rc)
			rc = ufs_probe(ufs, err, errlen);
		ufs_close(ufs);
		if (rc)
			goto out;
	}
	opts_text = cJSON_PrintUnformatted(opts);
	if (!opts_text) {
		rc = -ENOMEM;
		goto out;
	}
	struct journal_mount_update *ju = &cmd->u.mount_update;
	rc = set_str(ju->path, sizeof(ju->path), path, "path", err, errlen);
	if (!rc)
		rc = journal_mount_set_options(cmd, opts_text);
	if (rc)
		goto out;
	ju->sync_interval_ms = sync_ms;
	ju->time_ms = clock_wall_ms();
	pthread_rwlock_wrlock(&fs->mounts_lock);
	rc = meta_submit(fs->meta, cmd, err, errlen);
	pthread_rwlock_unlock(&fs->mounts_lock);
	if (!rc) {
		*changed = true;
		log_info("updated the options of the mount at %s", path);
	}
out:
	free(opts_text);
	cJSON_Delete(opts);
	cJSON_Delete(cur);
	journal_free(cmd);
	free(m);
	return rc;
}
