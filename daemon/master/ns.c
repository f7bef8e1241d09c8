#include "daemon/master/ns_int.h"

#include "lib/path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS_INODE_COLS                                                                     \
	"id, parent, name, is_dir, length, mtime_ms, fingerprint, block_size, synced_ms, data_id," \
	" etag, pinned, pin_medium, ttl_ms, ttl_action, ttl_expiry_ms, ttl_fired_ms, repl_min,"     \
	" repl_max, write_type, persisted"
/* Every inode of the subtree at ?1 (?1 itself included). */
#define NS_SUBTREE                                                                         \
	"WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT i.id FROM inodes i JOIN sub"  \
	" ON i.parent = sub.id) "

static const char *const g_sql[ST_COUNT] = {
	[ST_LOOKUP] = "SELECT " NS_INODE_COLS " FROM inodes WHERE parent = ?1 AND name = ?2",
	/* A new inode takes its parent's policies; a file with a TTL expires
	 * ttl_ms after ?10 (the command's time). */
	[ST_INSERT] = "INSERT INTO inodes(id, parent, name, is_dir, length, mtime_ms, fingerprint,"
		      " synced_ms, data_id, pinned, pin_medium, ttl_ms, ttl_action, ttl_expiry_ms,"
		      " repl_min, repl_max, write_type) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
		      " coalesce(nullif(?9, 0), ?1), p.pinned, p.pin_medium, p.ttl_ms, p.ttl_action,"
		      " CASE WHEN p.ttl_ms > 0 AND ?4 = 0 THEN ?10 + p.ttl_ms ELSE 0 END,"
		      " p.repl_min, p.repl_max, p.write_type FROM inodes p WHERE p.id = ?2",
	[ST_UPDATE_FILE] = "UPDATE inodes SET length = ?2, mtime_ms = ?3, fingerprint = ?4,"
			   " synced_ms = ?5, data_id = ?6 WHERE id = ?1",
	[ST_SET_SYNCED] = "UPDATE inodes SET synced_ms = ?2 WHERE id = ?1",
	[ST_SET_PARENT] = "UPDATE inodes SET parent = ?2, name = ?3, mtime_ms = ?4 WHERE id = ?1",
	[ST_DELETE_TREE] = "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT i.id FROM"
			   " inodes i JOIN sub ON i.parent = sub.id)"
			   " DELETE FROM inodes WHERE id IN sub",
	[ST_COUNT_CHILDREN] = "SELECT count(*) FROM inodes WHERE parent = ?1",
	[ST_LIST] = "SELECT " NS_INODE_COLS " FROM inodes WHERE parent = ?1 ORDER BY name"
		    " LIMIT ?2",
	[ST_LIST_AFTER] = "SELECT " NS_INODE_COLS " FROM inodes WHERE parent = ?1 AND"
			  " name > ?3 ORDER BY name LIMIT ?2",
	[ST_GET_META] = "SELECT value FROM meta WHERE key = ?1",
	[ST_SET_META] = "INSERT INTO meta(key, value) VALUES (?1, ?2)"
			" ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[ST_MOUNTS] = "SELECT path, uri, readonly, options, block_size, sync_interval_ms,"
		      " created_ms FROM mounts ORDER BY path",
	[ST_INSERT_MOUNT] = "INSERT INTO mounts(path, uri, readonly, options, block_size,"
			    " sync_interval_ms, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_DELETE_MOUNT] = "DELETE FROM mounts WHERE path = ?1",
	[ST_TOUCH] = "UPDATE inodes SET mtime_ms = ?2 WHERE id = ?1",
	[ST_SET_ETAG] = "UPDATE inodes SET etag = ?2 WHERE id = ?1",
	[ST_MASTERS] = "SELECT id, raft_address, rest_url FROM masters ORDER BY id",
	[ST_SET_MASTER] = "INSERT INTO masters(id, raft_address, rest_url) VALUES (?1, ?2, ?3)"
			  " ON CONFLICT(id) DO UPDATE SET raft_address = excluded.raft_address,"
			  " rest_url = excluded.rest_url",
	[ST_DEL_MASTER] = "DELETE FROM masters WHERE id = ?1",
	/* ?2: the whole subtree (1) or ?1 alone (0). */
	[ST_SET_PIN] = NS_SUBTREE "UPDATE inodes SET pinned = ?3, pin_medium = ?4 WHERE"
		       " id = ?1 OR (?2 AND id IN sub)",
	[ST_SET_TTL] = NS_SUBTREE "UPDATE inodes SET ttl_ms = ?3, ttl_action = ?4,"
		       " ttl_expiry_ms = CASE WHEN ?3 > 0 AND is_dir = 0 THEN ?5 + ?3 ELSE 0 END"
		       " WHERE id = ?1 OR (?2 AND id IN sub)",
	[ST_SET_REPL] = NS_SUBTREE "UPDATE inodes SET repl_min = ?3, repl_max = ?4 WHERE"
			" id = ?1 OR (?2 AND id IN sub)",
	[ST_PIN_DIFF] = NS_SUBTREE "SELECT count(*) FROM inodes WHERE (id = ?1 OR (?2 AND id IN"
			" sub)) AND (pinned != ?3 OR pin_medium != ?4)",
	[ST_TTL_DIFF] = NS_SUBTREE "SELECT count(*) FROM inodes WHERE (id = ?1 OR (?2 AND id IN"
			" sub)) AND (ttl_ms != ?3 OR ttl_action != ?4)",
	[ST_REPL_DIFF] = NS_SUBTREE "SELECT count(*) FROM inodes WHERE (id = ?1 OR (?2 AND id IN"
			 " sub)) AND (repl_min != ?3 OR repl_max != ?4)",
	[ST_TTL_FREE] = "UPDATE inodes SET ttl_ms = 0, ttl_action = '', ttl_expiry_ms = 0,"
			" ttl_fired_ms = 0 WHERE id = ?1",
	[ST_TTL_FIRED] = "UPDATE inodes SET ttl_expiry_ms = 0, ttl_fired_ms = ?2 WHERE id = ?1",
	/* Indexed (inodes_ttl_expiry / inodes_ttl_fired); id breaks ties so a
	 * walk resumes exactly after the last row it saw. */
	[ST_EXPIRED] = "SELECT id, ttl_expiry_ms, ttl_action FROM inodes WHERE ttl_expiry_ms > 0"
		       " AND (ttl_expiry_ms, id) > (?2, ?3) AND ttl_expiry_ms <= ?1"
		       " ORDER BY ttl_expiry_ms, id LIMIT ?4",
	[ST_FIRED] = "SELECT id FROM inodes WHERE ttl_fired_ms > 0 AND id > ?1 ORDER BY id"
		     " LIMIT ?2",
	[ST_BY_ID] = "SELECT " NS_INODE_COLS " FROM inodes WHERE id = ?1",
	[ST_SET_WTYPE] = NS_SUBTREE "UPDATE inodes SET write_type = ?3 WHERE"
			 " id = ?1 OR (?2 AND id IN sub)",
	[ST_WTYPE_DIFF] = NS_SUBTREE "SELECT count(*) FROM inodes WHERE (id = ?1 OR (?2 AND id IN"
			  " sub)) AND write_type != ?3",
	[ST_SET_PERSIST] = "UPDATE inodes SET persisted = ?2 WHERE id = ?1",
	/* Indexed (inodes_unpersisted). */
	[ST_UNPERSISTED] = "SELECT " NS_INODE_COLS " FROM inodes WHERE persisted != 1 AND"
			   " id > ?1 ORDER BY id LIMIT ?2",
	[ST_BY_DATA_ID] = "SELECT " NS_INODE_COLS " FROM inodes WHERE data_id = ?1 AND data_id > 0"
			  " AND is_dir = 0 LIMIT 1",
};

static const char g_schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS inodes("
	" id INTEGER PRIMARY KEY, parent INTEGER NOT NULL, name TEXT NOT NULL,"
	" is_dir INTEGER NOT NULL, length INTEGER NOT NULL DEFAULT 0,"
	" mtime_ms INTEGER NOT NULL DEFAULT 0, fingerprint TEXT NOT NULL DEFAULT '',"
	" block_size INTEGER NOT NULL DEFAULT 0, synced_ms INTEGER NOT NULL DEFAULT 0,"
	" pinned INTEGER NOT NULL DEFAULT 0, pin_medium TEXT NOT NULL DEFAULT '',"
	" ttl_ms INTEGER NOT NULL DEFAULT 0, ttl_action TEXT NOT NULL DEFAULT '',"
	" repl_min INTEGER NOT NULL DEFAULT 0, repl_max INTEGER NOT NULL DEFAULT -1,"
	" persisted INTEGER NOT NULL DEFAULT 1, data_id INTEGER NOT NULL DEFAULT 0,"
	" etag TEXT NOT NULL DEFAULT '', ttl_expiry_ms INTEGER NOT NULL DEFAULT 0,"
	" ttl_fired_ms INTEGER NOT NULL DEFAULT 0, write_type TEXT NOT NULL DEFAULT '');"
	"CREATE UNIQUE INDEX IF NOT EXISTS inodes_parent_name ON inodes(parent, name);"
	"CREATE INDEX IF NOT EXISTS inodes_ttl_expiry ON inodes(ttl_expiry_ms, id)"
	" WHERE ttl_expiry_ms > 0;"
	"CREATE INDEX IF NOT EXISTS inodes_ttl_fired ON inodes(id) WHERE ttl_fired_ms > 0;"
	"CREATE INDEX IF NOT EXISTS inodes_unpersisted ON inodes(id) WHERE persisted != 1;"
	"CREATE TABLE IF NOT EXISTS mounts("
	" path TEXT PRIMARY KEY, uri TEXT NOT NULL, readonly INTEGER NOT NULL,"
	" options TEXT NOT NULL, block_size INTEGER NOT NULL,"
	" sync_interval_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS masters("
	" id INTEGER PRIMARY KEY, raft_address TEXT NOT NULL, rest_url TEXT NOT NULL);"
	/* Data jobs (ns_jobs.c). */
	"CREATE TABLE IF NOT EXISTS jobs("
	" id INTEGER PRIMARY KEY, type TEXT NOT NULL, path TEXT NOT NULL,"
	" recursive INTEGER NOT NULL, medium TEXT NOT NULL, root INTEGER NOT NULL,"
	" state TEXT NOT NULL, files_total INTEGER NOT NULL, bytes_total INTEGER NOT NULL,"
	" files_done INTEGER NOT NULL DEFAULT 0, bytes_done INTEGER NOT NULL DEFAULT 0,"
	" files_failed INTEGER NOT NULL DEFAULT 0, cursor INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
	" ended_ms INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',"
	" nerrors INTEGER NOT NULL DEFAULT 0);"
	/* Workers' administrative states and the content-id lookup of the
	 * replication checker (ns_repl.c). */
	"CREATE TABLE IF NOT EXISTS worker_admin("
	" address TEXT PRIMARY KEY, state TEXT NOT NULL, updated_ms INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS inodes_data_id ON inodes(data_id) WHERE data_id > 0;"
	"CREATE TABLE IF NOT EXISTS job_errors("
	" job INTEGER NOT NULL, seq INTEGER NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL,"
	" PRIMARY KEY(job, seq));"
	"INSERT OR IGNORE INTO inodes(id, parent, name, is_dir) VALUES (1, 0, '', 1);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES ('applied_index', 0);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES ('next_inode', 2);";

sqlite3_stmt *ns_stmt(struct ns *ns, enum stmt_id id)
{
	sqlite3_stmt *s = ns->st[id];
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

int ns_db_err(struct ns *ns, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "namespace database %s: %s: %s", ns->path, what,
		 sqlite3_errmsg(ns->db));
	return -EIO;
}

int64_t ns_meta_get(struct ns *ns, const char *key)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_GET_META);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	return v;
}

int ns_meta_set(struct ns *ns, const char *key, int64_t value)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_SET_META);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, value);
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	return rc;
}

int ns_open(const char *db_path, struct ns **out, char *err, size_t errlen)
{
	struct ns *ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	snprintf(ns->path, sizeof(ns->path), "%s", db_path);
	int rc = -EIO;
	/* Created 0600: the mount table holds store credentials. */
	mode_t old = umask(077);
	int src = sqlite3_open_v2(db_path, &ns->db,
				  SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				  NULL);
	umask(old);
	if (src != SQLITE_OK) {
		snprintf(err, errlen, "namespace database %s: %s", db_path,
			 ns->db ? sqlite3_errmsg(ns->db) : "cannot open");
		goto err_close;
	}
	char *msg = NULL;
	/* A database from before write types lacks the column (an error here
	 * just means the table is new or has it already). */
	sqlite3_exec(ns->db, "ALTER TABLE inodes ADD COLUMN write_type TEXT NOT NULL DEFAULT ''",
		     NULL, NULL, NULL);
	if (sqlite3_exec(ns->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;",
			 NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(ns->db, g_schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "namespace database %s: %s", db_path, msg ? msg : "?");
		sqlite3_free(msg);
		goto err_close;
	}
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(ns->db, g_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ns->st[i],
				       NULL) != SQLITE_OK) {
			ns_db_err(ns, err, errlen, "prepare");
			goto err_close;
		}
	}
	ns->applied = (uint64_t)ns_meta_get(ns, "applied_index");
	ns->epoch_floor = ns->applied;
	*out = ns;
	return 0;

err_close:
	ns_close(ns);
	return rc;
}

void ns_close(struct ns *ns)
{
	if (!ns)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(ns->st[i]);
	sqlite3_close(ns->db);
	for (size_t i = 0; i < ns->nepochs; i++)
		free(ns->epochs[i].path);
	free(ns->epochs);
	free(ns);
}

int ns_epoch_move(struct ns *ns, const char *mount_path, uint64_t index)
{
	if (!mount_path || !*mount_path) {
		ns->epoch_all = index;
		return 0;
	}
	for (size_t i = 0; i < ns->nepochs; i++) {
		if (strcmp(ns->epochs[i].path, mount_path) == 0) {
			ns->epochs[i].index = index;
			return 0;
		}
	}
	struct ns_epoch *grown = realloc(ns->epochs, (ns->nepochs + 1) * sizeof(*grown));
	char *copy = strdup(mount_path);
	if (grown)
		ns->epochs = grown;
	if (!grown || !copy) {
		free(copy);
		/* Cannot remember it apart: move every mount (never too low). */
		ns->epoch_all = index;
		return -ENOMEM;
	}
	ns->epochs[ns->nepochs++] = (struct ns_epoch){ copy, index };
	return 0;
}

uint64_t ns_mount_epoch(struct ns *ns, const char *mount_path)
{
	uint64_t e = ns->epoch_floor > ns->epoch_all ? ns->epoch_floor : ns->epoch_all;
	for (size_t i = 0; i < ns->nepochs; i++)
		if (strcmp(ns->epochs[i].path, mount_path) == 0 && ns->epochs[i].index > e)
			e = ns->epochs[i].index;
	return e;
}

uint64_t ns_applied_index(struct ns *ns)
{
	return ns->applied;
}

void ns_row_inode(sqlite3_stmt *s, struct ns_inode *n)
{
	memset(n, 0, sizeof(*n));
	n->id = (uint64_t)sqlite3_column_int64(s, 0);
	n->parent = (uint64_t)sqlite3_column_int64(s, 1);
	snprintf(n->name, sizeof(n->name), "%s", (const char *)sqlite3_column_text(s, 2));
	n->is_dir = sqlite3_column_int(s, 3) != 0;
	n->length = (uint64_t)sqlite3_column_int64(s, 4);
	n->mtime_ms = sqlite3_column_int64(s, 5);
	snprintf(n->fingerprint, sizeof(n->fingerprint), "%s",
		 (const char *)sqlite3_column_text(s, 6));
	n->block_size = sqlite3_column_int64(s, 7);
	n->synced_ms = sqlite3_column_int64(s, 8);
	n->data_id = (uint64_t)sqlite3_column_int64(s, 9);
	snprintf(n->etag, sizeof(n->etag), "%s", (const char *)sqlite3_column_text(s, 10));
	n->pinned = sqlite3_column_int(s, 11) != 0;
	snprintf(n->pin_medium, sizeof(n->pin_medium), "%s",
		 (const char *)sqlite3_column_text(s, 12));
	n->ttl_ms = sqlite3_column_int64(s, 13);
	snprintf(n->ttl_action, sizeof(n->ttl_action), "%s",
		 (const char *)sqlite3_column_text(s, 14));
	n->ttl_expiry_ms = sqlite3_column_int64(s, 15);
	n->ttl_fired_ms = sqlite3_column_int64(s, 16);
	n->repl_min = sqlite3_column_int64(s, 17);
	n->repl_max = sqlite3_column_int64(s, 18);
	snprintf(n->write_type, sizeof(n->write_type), "%s",
		 (const char *)sqlite3_column_text(s, 19));
	n->persistence = sqlite3_column_int(s, 20);
}

const char *ns_persistence_name(int state)
{
	switch (state) {
	case NS_NOT_PERSISTED: return "not_persisted";
	case NS_PERSISTING: return "persisting";
	case NS_LOST: return "lost";
	default: return "persisted";
	}
}

int ns_persistence_parse(const char *name, int *state)
{
	static const int all[] = { NS_NOT_PERSISTED, NS_PERSISTED, NS_PERSISTING, NS_LOST };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, ns_persistence_name(all[i])) == 0) {
			*state = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* Whether the subtree at id holds a file only the caches hold: a sync
 * that does not find it in the store keeps it, and so the directories on
 * its way. (Not hot: a sync removes little.) */
bool ns_holds_unpersisted(struct ns *ns, uint64_t id)
{
	sqlite3_stmt *s = NULL;
	bool found = false;
	if (sqlite3_prepare_v2(ns->db,
			       "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT i.id FROM"
			       " inodes i JOIN sub ON i.parent = sub.id) SELECT 1 FROM inodes"
			       " WHERE id IN sub AND persisted != 1 LIMIT 1",
			       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, (int64_t)id);
		found = sqlite3_step(s) == SQLITE_ROW;
	} else {
		found = true; /* keep it rather than lose data */
	}
	sqlite3_finalize(s);
	return found;
}

int ns_persistence_counts(struct ns *ns, int64_t out[4])
{
	memset(out, 0, 4 * sizeof(*out));
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(ns->db, "SELECT persisted, count(*) FROM inodes WHERE persisted != 1"
				       " GROUP BY persisted", -1, &s, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return -EIO;
	}
	int step;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		int state = sqlite3_column_int(s, 0);
		if (state >= 0 && state < 4)
			out[state] = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return step == SQLITE_DONE ? 0 : -EIO;
}

int ns_unpersisted(struct ns *ns, uint64_t after_id, size_t limit, struct ns_inode *out,
		   size_t *n)
{
	*n = 0;
	sqlite3_stmt *s = ns_stmt(ns, ST_UNPERSISTED);
	sqlite3_bind_int64(s, 1, (int64_t)after_id);
	sqlite3_bind_int64(s, 2, (int64_t)limit);
	int step = SQLITE_DONE;
	while (*n < limit && (step = sqlite3_step(s)) == SQLITE_ROW)
		ns_row_inode(s, &out[(*n)++]);
	int rc = *n == limit || step == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	return rc;
}

/* Steps a bound single-row inode query: 0 with *out, -ENOENT without a
 * row, -EIO on a database error; the statement is reset either way. */
static int step_inode(sqlite3_stmt *s, struct ns_inode *out)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ns_row_inode(s, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_reset(s);
	return rc;
}

int ns_child(struct ns *ns, uint64_t parent, const char *name, size_t len,
		 struct ns_inode *out)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_LOOKUP);
	sqlite3_bind_int64(s, 1, (int64_t)parent);
	sqlite3_bind_text(s, 2, name, (int)len, SQLITE_STATIC);
	return step_inode(s, out);
}


int ns_lookup(struct ns *ns, const char *path, struct ns_inode *out)
{
	struct ns_inode cur = { .id = NS_ROOT_ID, .is_dir = true };
	const char *p = path + 1;
	while (*p) {
		if (!cur.is_dir)
			return -ENOTDIR;
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		int rc = ns_child(ns, cur.id, p, len, &cur);
		if (rc)
			return rc;
		p += len + (slash ? 1 : 0);
	}
	if (cur.id == NS_ROOT_ID) {
		/* The root's own row: parent 0, empty name. */
		int rc = ns_child(ns, 0, "", 0, &cur);
		if (rc)
			return rc;
	}
	cur.is_mount_point = cur.is_dir && ns_is_mount(ns, path);
	*out = cur;
	return 0;
}

int ns_list(struct ns *ns, uint64_t dir, const char *after, size_t limit,
	    int (*fn)(void *arg, const struct ns_inode *child), void *arg)
{
	sqlite3_stmt *s = ns_stmt(ns, after ? ST_LIST_AFTER : ST_LIST);
	sqlite3_bind_int64(s, 1, (int64_t)dir);
	sqlite3_bind_int64(s, 2, limit ? (int64_t)limit : -1);
	if (after)
		sqlite3_bind_text(s, 3, after, -1, SQLITE_TRANSIENT);
	int rc = 0, step;
	/* Copy rows out first: fn may call back into ns (statement reuse). */
	struct ns_inode *rows = NULL;
	size_t n = 0, cap = 0;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct ns_inode *grown = realloc(rows, cap * sizeof(*rows));
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			rows = grown;
		}
		ns_row_inode(s, &rows[n++]);
	}
	if (!rc && step != SQLITE_DONE)
		rc = -EIO;
	sqlite3_reset(s);
	for (size_t i = 0; i < n && !rc; i++)
		rc = fn(arg, &rows[i]);
	free(rows);
	return rc;
}

static void row_to_mount(sqlite3_stmt *s, struct ns_mount *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->path, sizeof(m->path), "%s", (const char *)sqlite3_column_text(s, 0));
	snprintf(m->uri, sizeof(m->uri), "%s", (const char *)sqlite3_column_text(s, 1));
	m->readonly = sqlite3_column_int(s, 2) != 0;
	snprintf(m->options, sizeof(m->options), "%s", (const char *)sqlite3_column_text(s, 3));
	m->block_size = sqlite3_column_int64(s, 4);
	m->sync_interval_ms = sqlite3_column_int64(s, 5);
	m->created_ms = sqlite3_column_int64(s, 6);
}

int ns_mounts(struct ns *ns, int (*fn)(void *arg, const struct ns_mount *m), void *arg)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_MOUNTS);
	struct ns_mount *ms = NULL;
	size_t n = 0;
	int rc = 0, step;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct ns_mount *grown = realloc(ms, (n + 1) * sizeof(*ms));
		if (!grown) {
			rc = -ENOMEM;
			break;
		}
		ms = grown;
		row_to_mount(s, &ms[n++]);
	}
	if (!rc && step != SQLITE_DONE)
		rc = -EIO;
	sqlite3_reset(s);
	for (size_t i = 0; i < n && !rc; i++)
		rc = fn(arg, &ms[i]);
	free(ms);
	return rc;
}

struct resolve_ctx {
	const char *path;
	struct ns_mount *best;
	size_t best_len;
	bool found;
	bool exact;
	char *below;
	size_t belowlen;
};

static int resolve_fn(void *arg, const struct ns_mount *m)
{
	struct resolve_ctx *c = arg;
	size_t len = strlen(m->path);
	if (path_has_prefix(c->path, m->path) && (!c->found || len > c->best_len)) {
		if (c->best)
			*c->best = *m;
		c->best_len = len;
		c->found = true;
	}
	return 0;
}

int ns_resolve_mount(struct ns *ns, const char *path, struct ns_mount *m, char *rel,
		     size_t rellen)
{
	struct resolve_ctx c = { .path = path, .best = m };
	int rc = ns_mounts(ns, resolve_fn, &c);
	if (rc)
		return rc;
	if (!c.found)
		return -ENOENT;
	if (rel) {
		const char *r = path + (strcmp(m->path, "/") == 0 ? 0 : strlen(m->path));
		while (*r == '/')
			r++;
		snprintf(rel, rellen, "%s", r);
	}
	return 0;
}

static int exact_fn(void *arg, const struct ns_mount *m)
{
	struct resolve_ctx *c = arg;
	if (strcmp(m->path, c->path) == 0)
		c->exact = true;
	return 0;
}

bool ns_is_mount(struct ns *ns, const char *path)
{
	struct resolve_ctx c = { .path = path };
	return ns_mounts(ns, exact_fn, &c) == 0 && c.exact;
}

static int below_fn(void *arg, const struct ns_mount *m)
{
	struct resolve_ctx *c = arg;
	if (strcmp(m->path, c->path) != 0 && path_has_prefix(m->path, c->path)) {
		if (!c->found && c->below)
			snprintf(c->below, c->belowlen, "%s", m->path);
		c->found = true;
	}
	return 0;
}

int ns_mounts_below(struct ns *ns, const char *path, char *first, size_t firstlen)
{
	struct resolve_ctx c = { .path = path, .below = first, .belowlen = firstlen };
	int rc = ns_mounts(ns, below_fn, &c);
	return rc ? rc : c.found ? 1 : 0;
}

int ns_checkpoint(struct ns *ns, const char *backup_path, char *err, size_t errlen)
{
	if (sqlite3_exec(ns->db, "PRAGMA synchronous=FULL; PRAGMA wal_checkpoint(TRUNCATE);"
				 "PRAGMA synchronous=NORMAL;",
			 NULL, NULL, NULL) != SQLITE_OK)
		return ns_db_err(ns, err, errlen, "checkpoint");
	if (!backup_path)
		return 0;
	char tmp[1200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", backup_path);
	unlink(tmp);
	sqlite3 *dst = NULL;
	mode_t old = umask(077);
	int rc = sqlite3_open(tmp, &dst);
	umask(old);
	if (rc == SQLITE_OK) {
		sqlite3_backup *b = sqlite3_backup_init(dst, "main", ns->db, "main");
		if (b) {
			sqlite3_backup_step(b, -1);
			sqlite3_backup_finish(b);
		}
		rc = sqlite3_errcode(dst);
	}
	sqlite3_close(dst);
	if (rc != SQLITE_OK || rename(tmp, backup_path) != 0) {
		snprintf(err, errlen, "snapshot %s: cannot write", backup_path);
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

int64_t ns_inode_count(struct ns *ns)
{
	sqlite3_stmt *s = NULL;
	int64_t n = -1;
	if (sqlite3_prepare_v2(ns->db, "SELECT count(*) FROM inodes", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

int ns_masters(struct ns *ns, int (*fn)(void *arg, const struct ns_master *m), void *arg)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_MASTERS);
	struct ns_master *rows = NULL;
	size_t n = 0;
	int rc = 0, step;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct ns_master *grown = realloc(rows, (n + 1) * sizeof(*rows));
		if (!grown) {
			rc = -ENOMEM;
			break;
		}
		rows = grown;
		struct ns_master *r = &rows[n++];
		memset(r, 0, sizeof(*r));
		r->id = (uint64_t)sqlite3_column_int64(s, 0);
		snprintf(r->raft_address, sizeof(r->raft_address), "%s",
			 (const char *)sqlite3_column_text(s, 1));
		snprintf(r->rest_url, sizeof(r->rest_url), "%s",
			 (const char *)sqlite3_column_text(s, 2));
	}
	if (!rc && step != SQLITE_DONE)
		rc = -EIO;
	sqlite3_reset(s);
	for (size_t i = 0; i < n && !rc; i++)
		rc = fn(arg, &rows[i]);
	free(rows);
	return rc;
}

int ns_skip(struct ns *ns, uint64_t index, char *err, size_t errlen)
{
	if (index != ns->applied + 1) {
		snprintf(err, errlen, "entry %llu applied out of order (applied %llu)",
			 (unsigned long long)index, (unsigned long long)ns->applied);
		return -EINVAL;
	}
	if (ns_meta_set(ns, "applied_index", (int64_t)index))
		return ns_db_err(ns, err, errlen, "applied index");
	ns->applied = index;
	return 0;
}

int ns_serialize(struct ns *ns, uint8_t **out, size_t *len, char *err, size_t errlen)
{
	sqlite3_int64 size = 0;
	unsigned char *img = sqlite3_serialize(ns->db, "main", &size, 0);
	if (!img)
		return ns_db_err(ns, err, errlen, "serialize");
	uint8_t *copy = malloc(size > 0 ? (size_t)size : 1);
	if (!copy) {
		sqlite3_free(img);
		return -ENOMEM;
	}
	memcpy(copy, img, (size_t)size);
	sqlite3_free(img);
	*out = copy;
	*len = (size_t)size;
	return 0;
}

static int write_all_fsync(int fd, const uint8_t *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return fsync(fd) ? -errno : 0;
}

int ns_restore(const char *db_path, const uint8_t *image, size_t len, char *err, size_t errlen)
{
	static const char magic[16] = "SQLite format 3";
	if (len < 100 || memcmp(image, magic, sizeof(magic)) != 0) {
		snprintf(err, errlen, "snapshot of %zu bytes is not an SQLite database", len);
		return -EINVAL;
	}
	char tmp[1100], side[1100], dir[1100];
	snprintf(tmp, sizeof(tmp), "%s.restore", db_path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(-rc));
		return rc;
	}
	int rc = write_all_fsync(fd, image, len);
	close(fd);
	if (rc) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	/* The old database's WAL and shared-memory files belong to it: the
	 * image is complete, so they must not be replayed over it. */
	snprintf(side, sizeof(side), "%s-wal", db_path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", db_path);
	unlink(side);
	if (rename(tmp, db_path) != 0) {
		rc = -errno;
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s", db_path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) != 0)
			rc = -errno;
		close(dfd);
	}
	if (rc)
		snprintf(err, errlen, "fsync %s: %s", dir, strerror(-rc));
	return rc;
}

/* count(*) of one of the *_DIFF statements. */
static int64_t count_diff(struct ns *ns, enum stmt_id st, uint64_t id, bool recursive,
			  int64_t a, const char *b_text, int64_t b_int)
{
	sqlite3_stmt *s = ns_stmt(ns, st);
	sqlite3_bind_int64(s, 1, (int64_t)id);
	sqlite3_bind_int(s, 2, recursive);
	sqlite3_bind_int64(s, 3, a);
	if (b_text)
		sqlite3_bind_text(s, 4, b_text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 4, b_int);
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -EIO;
	sqlite3_reset(s);
	return n;
}

int64_t ns_pin_differs(struct ns *ns, uint64_t id, bool recursive, bool pinned,
		       const char *medium)
{
	return count_diff(ns, ST_PIN_DIFF, id, recursive, pinned, medium, 0);
}

int64_t ns_ttl_differs(struct ns *ns, uint64_t id, bool recursive, int64_t ttl_ms,
		       const char *action)
{
	return count_diff(ns, ST_TTL_DIFF, id, recursive, ttl_ms, action, 0);
}

int64_t ns_repl_differs(struct ns *ns, uint64_t id, bool recursive, int64_t min, int64_t max)
{
	return count_diff(ns, ST_REPL_DIFF, id, recursive, min, NULL, max);
}

int64_t ns_write_type_differs(struct ns *ns, uint64_t id, bool recursive,
			      const char *write_type)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_WTYPE_DIFF);
	sqlite3_bind_int64(s, 1, (int64_t)id);
	sqlite3_bind_int(s, 2, recursive);
	sqlite3_bind_text(s, 3, write_type, -1, SQLITE_STATIC);
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -EIO;
	sqlite3_reset(s);
	return n;
}

int ns_by_id(struct ns *ns, uint64_t id, struct ns_inode *out)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_BY_ID);
	sqlite3_bind_int64(s, 1, (int64_t)id);
	return step_inode(s, out);
}

int ns_path(struct ns *ns, uint64_t id, char *path, size_t len)
{
	/* Built from the leaf up at the end of buf, then moved to the front. */
	char buf[PATH_MAX_LEN + 2];
	size_t pos = sizeof(buf) - 1;
	buf[pos] = '\0';
	struct ns_inode n;
	for (int depth = 0; id != NS_ROOT_ID; depth++) {
		int rc = ns_by_id(ns, id, &n);
		if (rc)
			return rc;
		size_t nl = strlen(n.name);
		if (depth > PATH_MAX_LEN || nl + 1 > pos)
			return -ENAMETOOLONG;
		pos -= nl;
		memcpy(buf + pos, n.name, nl);
		buf[--pos] = '/';
		id = n.parent;
	}
	const char *p = buf[pos] ? buf + pos : "/";
	if (strlen(p) >= len)
		return -ENAMETOOLONG;
	memcpy(path, p, strlen(p) + 1);
	return 0;
}

int ns_expired(struct ns *ns, int64_t now_ms, int64_t after_expiry, uint64_t after_id,
	       size_t limit, struct ns_expired *out, size_t *n)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_EXPIRED);
	sqlite3_bind_int64(s, 1, now_ms);
	sqlite3_bind_int64(s, 2, after_expiry);
	sqlite3_bind_int64(s, 3, (int64_t)after_id);
	sqlite3_bind_int64(s, 4, (int64_t)limit);
	int step;
	*n = 0;
	while (*n < limit && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct ns_expired *e = &out[(*n)++];
		e->id = (uint64_t)sqlite3_column_int64(s, 0);
		e->expiry_ms = sqlite3_column_int64(s, 1);
		snprintf(e->action, sizeof(e->action), "%s",
			 (const char *)sqlite3_column_text(s, 2));
	}
	int rc = *n == limit || step == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	return rc;
}

int ns_fired(struct ns *ns, uint64_t after_id, size_t limit, uint64_t *ids, size_t *n)
{
	sqlite3_stmt *s = ns_stmt(ns, ST_FIRED);
	sqlite3_bind_int64(s, 1, (int64_t)after_id);
	sqlite3_bind_int64(s, 2, (int64_t)limit);
	int step;
	*n = 0;
	while (*n < limit && (step = sqlite3_step(s)) == SQLITE_ROW)
		ids[(*n)++] = (uint64_t)sqlite3_column_int64(s, 0);
	int rc = *n == limit || step == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	return rc;
}
