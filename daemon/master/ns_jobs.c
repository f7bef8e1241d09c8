/* Data jobs in the namespace database: the jobs and job_errors tables,
 * the applies of job_create / job_progress / job_error / job_end
 * (docs/namespace.md) and the queries the job runner and REST read.
 * Deterministic like the rest of ns_apply: times come in the commands. */
#include "daemon/master/journal.h"
#include "daemon/master/ns_int.h"

#include "lib/err.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define JOB_COLS                                                                           \
	"id, type, path, recursive, medium, root, state, files_total, bytes_total, files_done," \
	" bytes_done, files_failed, cursor, created_ms, updated_ms, ended_ms, reason, nerrors"

/* The files of job (?1 root, ?2 recursive): the root itself, its children
 * and, when recursive, everything below. */
#define JOB_FILES                                                                          \
	"WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT i.id FROM inodes i JOIN sub"  \
	" ON i.parent = sub.id WHERE ?2) "
#define JOB_FILES_WHERE " is_dir = 0 AND (id IN sub OR parent = ?1)"
/* A persist job (?5 true) works on the files not persisted yet. */
#define JOB_FILES_PERSIST " AND (NOT ?5 OR persisted != 1)"

/* Statements here are few and not hot (one per job slice): prepared per
 * call, so the table of ns.c stays as it is. */
static sqlite3_stmt *prep(struct ns *ns, const char *sql)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(ns->db, sql, -1, &s, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

static void copy_text(sqlite3_stmt *s, int col, char *dst, size_t size)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	snprintf(dst, size, "%s", t ? t : "");
}

static void row_job(sqlite3_stmt *s, struct ns_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = (uint64_t)sqlite3_column_int64(s, 0);
	copy_text(s, 1, j->type, sizeof(j->type));
	copy_text(s, 2, j->path, sizeof(j->path));
	j->recursive = sqlite3_column_int(s, 3) != 0;
	copy_text(s, 4, j->medium, sizeof(j->medium));
	j->root = (uint64_t)sqlite3_column_int64(s, 5);
	copy_text(s, 6, j->state, sizeof(j->state));
	j->files_total = (uint64_t)sqlite3_column_int64(s, 7);
	j->bytes_total = (uint64_t)sqlite3_column_int64(s, 8);
	j->files_done = (uint64_t)sqlite3_column_int64(s, 9);
	j->bytes_done = (uint64_t)sqlite3_column_int64(s, 10);
	j->files_failed = (uint64_t)sqlite3_column_int64(s, 11);
	j->cursor = (uint64_t)sqlite3_column_int64(s, 12);
	j->created_ms = sqlite3_column_int64(s, 13);
	j->updated_ms = sqlite3_column_int64(s, 14);
	j->ended_ms = sqlite3_column_int64(s, 15);
	copy_text(s, 16, j->reason, sizeof(j->reason));
	j->nerrors = (uint64_t)sqlite3_column_int64(s, 17);
}

bool ns_job_active(const struct ns_job *j)
{
	return strcmp(j->state, "queued") == 0 || strcmp(j->state, "running") == 0;
}

int ns_job_get(struct ns *ns, uint64_t id, struct ns_job *out)
{
	sqlite3_stmt *s = prep(ns, "SELECT " JOB_COLS " FROM jobs WHERE id = ?1");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)id);
	int step = sqlite3_step(s);
	int rc = step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? -ENOENT : -EIO;
	if (!rc)
		row_job(s, out);
	sqlite3_finalize(s);
	return rc;
}

int ns_jobs_list(struct ns *ns, size_t limit, int (*fn)(void *arg, const struct ns_job *j),
		 void *arg)
{
	sqlite3_stmt *s = prep(ns, "SELECT " JOB_COLS " FROM jobs ORDER BY id DESC LIMIT ?1");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, limit ? (int64_t)limit : -1);
	int rc = 0, step;
	struct ns_job j;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		row_job(s, &j);
		rc = fn(arg, &j);
		if (rc)
			break;
	}
	if (!rc && step != SQLITE_DONE)
		rc = -EIO;
	sqlite3_finalize(s);
	return rc;
}

int ns_job_next_active(struct ns *ns, uint64_t after, struct ns_job *out)
{
	sqlite3_stmt *s = prep(ns, "SELECT " JOB_COLS " FROM jobs WHERE state IN ('queued',"
				   " 'running') ORDER BY id > ?1 DESC, id LIMIT 1");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)after);
	int step = sqlite3_step(s);
	int rc = step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? -ENOENT : -EIO;
	if (!rc)
		row_job(s, out);
	sqlite3_finalize(s);
	return rc;
}

int ns_job_errors(struct ns *ns, uint64_t id,
		  int (*fn)(void *arg, const char *path, const char *reason), void *arg)
{
	sqlite3_stmt *s = prep(ns, "SELECT path, reason FROM job_errors WHERE job = ?1"
				   " ORDER BY seq");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)id);
	int rc = 0, step;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		rc = fn(arg, (const char *)sqlite3_column_text(s, 0),
			(const char *)sqlite3_column_text(s, 1));
		if (rc)
			break;
	}
	if (!rc && step != SQLITE_DONE)
		rc = -EIO;
	sqlite3_finalize(s);
	return rc;
}

int ns_job_files(struct ns *ns, const struct ns_job *j, size_t limit, struct ns_job_file *out,
		 size_t *n)
{
	*n = 0;
	sqlite3_stmt *s = prep(ns, JOB_FILES "SELECT id, length, data_id, block_size, pinned,"
					     " persisted FROM inodes WHERE" JOB_FILES_WHERE
					     JOB_FILES_PERSIST " AND id > ?3 ORDER BY id LIMIT ?4");
	if (!s)
		return -EIO;
	sqlite3_bind_int(s, 5, strcmp(j->type, "persist") == 0);
	sqlite3_bind_int64(s, 1, (int64_t)j->root);
	sqlite3_bind_int(s, 2, j->recursive);
	sqlite3_bind_int64(s, 3, (int64_t)j->cursor);
	sqlite3_bind_int64(s, 4, (int64_t)limit);
	int step = SQLITE_DONE;
	while (*n < limit && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct ns_job_file *f = &out[(*n)++];
		f->id = (uint64_t)sqlite3_column_int64(s, 0);
		f->length = (uint64_t)sqlite3_column_int64(s, 1);
		f->data_id = (uint64_t)sqlite3_column_int64(s, 2);
		f->block_size = sqlite3_column_int64(s, 3);
		f->pinned = sqlite3_column_int(s, 4) != 0;
		f->persistence = sqlite3_column_int(s, 5);
	}
	int rc = *n == limit || step == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return rc;
}

/* Runs a statement that returns nothing: 0 or -EIO. */
static int exec_stmt(sqlite3_stmt *s)
{
	if (!s)
		return -EIO;
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return rc;
}

/* Drops the oldest finished jobs beyond NS_JOBS_KEPT, with their errors. */
static int prune(struct ns *ns)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "DELETE FROM jobs WHERE state NOT IN ('queued', 'running') AND id NOT IN"
		 " (SELECT id FROM jobs WHERE state NOT IN ('queued', 'running')"
		 " ORDER BY id DESC LIMIT %d)",
		 NS_JOBS_KEPT);
	int rc = exec_stmt(prep(ns, sql));
	if (!rc)
		rc = exec_stmt(prep(ns, "DELETE FROM job_errors WHERE job NOT IN"
					" (SELECT id FROM jobs)"));
	return rc;
}

int ns_apply_job_create(struct ns *ns, const struct journal_cmd *cmd, uint64_t *id, char *err,
			size_t errlen)
{
	const struct journal_job_create *c = &cmd->u.job_create;
	struct ns_inode n;
	int rc = ns_lookup(ns, c->path, &n);
	if (rc) {
		snprintf(err, errlen, "field 'path': '%s' does not exist", c->path);
		return rc == -ENOTDIR ? -ENOENT : rc;
	}
	sqlite3_stmt *s = prep(ns, JOB_FILES "SELECT count(*), coalesce(sum(length), 0) FROM"
					     " inodes WHERE" JOB_FILES_WHERE JOB_FILES_PERSIST);
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)n.id);
	sqlite3_bind_int(s, 2, c->recursive);
	sqlite3_bind_int(s, 5, strcmp(c->type, "persist") == 0);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return -EIO;
	}
	int64_t files = sqlite3_column_int64(s, 0), bytes = sqlite3_column_int64(s, 1);
	sqlite3_finalize(s);
	s = prep(ns, "INSERT INTO jobs(id, type, path, recursive, medium, root, state, files_total,"
		     " bytes_total, created_ms, updated_ms) SELECT coalesce(max(id), 0) + 1, ?1, ?2,"
		     " ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?8 FROM jobs");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, c->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->path, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, c->recursive);
	sqlite3_bind_text(s, 4, c->medium, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)n.id);
	sqlite3_bind_int64(s, 6, files);
	sqlite3_bind_int64(s, 7, bytes);
	sqlite3_bind_int64(s, 8, c->time_ms);
	rc = exec_stmt(s);
	if (rc)
		return rc;
	*id = (uint64_t)sqlite3_last_insert_rowid(ns->db);
	return prune(ns);
}

/* The job a command names, which must still be active: -ENOENT, or
 * ST_ESTALE once it ended (a cancel raced with a slice, or a second copy). */
static int active_job(struct ns *ns, uint64_t id, struct ns_job *j, char *err, size_t errlen)
{
	int rc = ns_job_get(ns, id, j);
	if (rc == -ENOENT)
		snprintf(err, errlen, "job %llu does not exist", (unsigned long long)id);
	if (rc)
		return rc;
	if (!ns_job_active(j)) {
		snprintf(err, errlen, "job %llu is %s already", (unsigned long long)id, j->state);
		return ST_ESTALE;
	}
	return 0;
}

int ns_apply_job_progress(struct ns *ns, const struct journal_cmd *cmd, char *err,
			  size_t errlen)
{
	const struct journal_job_progress *c = &cmd->u.job_progress;
	struct ns_job j;
	int rc = active_job(ns, c->id, &j, err, errlen);
	if (rc)
		return rc;
	if (c->cursor < j.cursor || c->files_done < j.files_done) {
		snprintf(err, errlen, "job %llu is past this progress (cursor %llu)",
			 (unsigned long long)c->id, (unsigned long long)j.cursor);
		return ST_ESTALE;
	}
	sqlite3_stmt *s = prep(ns, "UPDATE jobs SET state = 'running', cursor = ?2,"
				   " files_done = ?3, bytes_done = ?4, files_failed = ?5,"
				   " updated_ms = ?6 WHERE id = ?1");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)c->id);
	sqlite3_bind_int64(s, 2, (int64_t)c->cursor);
	sqlite3_bind_int64(s, 3, (int64_t)c->files_done);
	sqlite3_bind_int64(s, 4, (int64_t)c->bytes_done);
	sqlite3_bind_int64(s, 5, (int64_t)c->files_failed);
	sqlite3_bind_int64(s, 6, c->time_ms);
	return exec_stmt(s);
}

int ns_apply_job_error(struct ns *ns, const struct journal_cmd *cmd, char *err, size_t errlen)
{
	const struct journal_job_error *c = &cmd->u.job_error;
	struct ns_job j;
	int rc = active_job(ns, c->id, &j, err, errlen);
	if (rc)
		return rc;
	if (j.nerrors < NS_JOB_ERRORS_MAX) {
		sqlite3_stmt *s = prep(ns, "INSERT OR REPLACE INTO job_errors(job, seq, path,"
					   " reason) VALUES (?1, ?2, ?3, ?4)");
		if (!s)
			return -EIO;
		sqlite3_bind_int64(s, 1, (int64_t)c->id);
		sqlite3_bind_int64(s, 2, (int64_t)j.nerrors);
		sqlite3_bind_text(s, 3, c->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, c->reason, -1, SQLITE_STATIC);
		rc = exec_stmt(s);
		if (rc)
			return rc;
	}
	sqlite3_stmt *s = prep(ns, "UPDATE jobs SET nerrors = nerrors + 1 WHERE id = ?1");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)c->id);
	return exec_stmt(s);
}

int ns_apply_job_end(struct ns *ns, const struct journal_cmd *cmd, char *err, size_t errlen)
{
	const struct journal_job_end *c = &cmd->u.job_end;
	struct ns_job j;
	int rc = active_job(ns, c->id, &j, err, errlen);
	if (rc)
		return rc;
	sqlite3_stmt *s = prep(ns, "UPDATE jobs SET state = ?2, reason = ?3, ended_ms = ?4,"
				   " updated_ms = ?4 WHERE id = ?1");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)c->id);
	sqlite3_bind_text(s, 2, c->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, c->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, c->time_ms);
	rc = exec_stmt(s);
	return rc ? rc : prune(ns);
}
