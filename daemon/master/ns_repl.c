/* Replication in the namespace database: the worker_admin table (the
 * apply of worker_state, docs/namespace.md) and the lookups the
 * replication checker makes (daemon/master/replicate.h). Deterministic
 * like the rest of ns_apply: the time comes in the command. */
#include "daemon/master/journal.h"
#include "daemon/master/ns_int.h"
#include "lib/path.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* Not hot (one per checker pass or admin action): prepared per call, so
 * the statement table of ns.c stays as it is. */
static sqlite3_stmt *prep(struct ns *ns, const char *sql)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(ns->db, sql, -1, &s, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

int ns_apply_worker_state(struct ns *ns, const struct journal_cmd *cmd, char *err,
			  size_t errlen)
{
	const struct journal_worker_state *c = &cmd->u.worker_state;
	bool active = strcmp(c->state, "active") == 0;
	sqlite3_stmt *s = prep(ns, active ? "DELETE FROM worker_admin WHERE address = ?1"
					  : "INSERT INTO worker_admin(address, state, updated_ms)"
					    " VALUES (?1, ?2, ?3) ON CONFLICT(address) DO UPDATE"
					    " SET state = ?2, updated_ms = ?3");
	if (!s)
		return ns_db_err(ns, err, errlen, "worker_state");
	sqlite3_bind_text(s, 1, c->address, -1, SQLITE_STATIC);
	if (!active) {
		sqlite3_bind_text(s, 2, c->state, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, c->time_ms);
	}
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return rc;
}

int ns_worker_states(struct ns *ns, int (*fn)(void *arg, const char *address, const char *state),
		     void *arg)
{
	sqlite3_stmt *s = prep(ns, "SELECT address, state FROM worker_admin ORDER BY address");
	if (!s)
		return -EIO;
	int rc = 0, step;
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
		rc = fn(arg, (const char *)sqlite3_column_text(s, 0),
			(const char *)sqlite3_column_text(s, 1));
	if (!rc && step != SQLITE_DONE)
		rc = -EIO;
	sqlite3_finalize(s);
	return rc;
}

int ns_by_data_id(struct ns *ns, uint64_t data_id, struct ns_inode *out, char *path,
		  size_t pathlen, struct ns_dir_cache *dc)
{
	/* The replication checker and the revalidator's scans ask this for
	 * every cached block's file: one statement prepared once (ns_stmt),
	 * and the directory's path built once while it stays the same. */
	sqlite3_stmt *s = ns_stmt(ns, ST_BY_DATA_ID);
	sqlite3_bind_int64(s, 1, (int64_t)data_id);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		ns_row_inode(s, out);
	sqlite3_reset(s);
	if (step != SQLITE_ROW)
		return step == SQLITE_DONE ? -ENOENT : -EIO;
	struct ns_dir_cache one;
	one.valid = false;
	if (!dc)
		dc = &one;
	if (!dc->valid || dc->applied != ns->applied || dc->dir_id != out->parent) {
		dc->valid = false;
		int rc = ns_path(ns, out->parent, dc->path, sizeof(dc->path));
		if (rc)
			return rc;
		dc->valid = true;
		dc->applied = ns->applied;
		dc->dir_id = out->parent;
	}
	return path_join(dc->path, out->name, path, pathlen) ? -ENAMETOOLONG : 0;
}
