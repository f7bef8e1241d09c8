#ifndef STRATA_MASTER_NS_INT_H
#define STRATA_MASTER_NS_INT_H

/* Private to ns.c (open, queries) and ns_apply.c (the apply function). */

#include "daemon/master/ns.h"

#include <sqlite3.h>
#include <stdint.h>

enum stmt_id {
	ST_LOOKUP,
	ST_INSERT,
	ST_UPDATE_FILE,
	ST_SET_SYNCED,
	ST_SET_PARENT,
	ST_DELETE_TREE,
	ST_COUNT_CHILDREN,
	ST_LIST,
	ST_LIST_AFTER,
	ST_GET_META,
	ST_SET_META,
	ST_MOUNTS,
	ST_INSERT_MOUNT,
	ST_DELETE_MOUNT,
	ST_TOUCH,
	ST_SET_ETAG,
	ST_MASTERS,
	ST_SET_MASTER,
	ST_DEL_MASTER,
	ST_SET_PIN,
	ST_SET_TTL,
	ST_SET_REPL,
	ST_PIN_DIFF,
	ST_TTL_DIFF,
	ST_REPL_DIFF,
	ST_TTL_FREE,
	ST_TTL_FIRED,
	ST_EXPIRED,
	ST_FIRED,
	ST_BY_ID,
	ST_SET_WTYPE,
	ST_WTYPE_DIFF,
	ST_SET_PERSIST,
	ST_UNPERSISTED,
	ST_BY_DATA_ID,
	ST_COUNT
};


/* A mount's epoch (ns_mount_epoch), derived while applying: in memory. */
struct ns_epoch {
	char *path; /* the mount point (owned) */
	uint64_t index;
};

struct ns {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	uint64_t applied;
	char path[1024];
	/* Per-mount epochs: the floor is the index the state was loaded at,
	 * all_index the last command that changed state under every mount
	 * (policies), epochs the last change under one mount. */
	uint64_t epoch_floor, epoch_all;
	struct ns_epoch *epochs;
	size_t nepochs;
};

/* Records that entry index changed or removed state under the mount at
 * mount_path ("" or NULL: under every mount). */
int ns_epoch_move(struct ns *ns, const char *mount_path, uint64_t index);


/* The prepared statement id, reset and unbound. */
sqlite3_stmt *ns_stmt(struct ns *ns, enum stmt_id id);
/* Fills err with the database's message about `what`; returns -EIO. */
int ns_db_err(struct ns *ns, char *err, size_t errlen, const char *what);
int64_t ns_meta_get(struct ns *ns, const char *key);
int ns_meta_set(struct ns *ns, const char *key, int64_t value);
/* The inode of a row selected with NS_INODE_COLS. */
void ns_row_inode(sqlite3_stmt *s, struct ns_inode *n);
/* Child `name` (len bytes) of inode parent; -ENOENT. */
int ns_child(struct ns *ns, uint64_t parent, const char *name, size_t len, struct ns_inode *out);

/* The data job commands' applies (ns_jobs.c), inside ns_apply's
 * transaction. Created jobs' ids go to *id. */
struct journal_cmd;
int ns_apply_job_create(struct ns *ns, const struct journal_cmd *cmd, uint64_t *id, char *err,
			size_t errlen);
int ns_apply_job_progress(struct ns *ns, const struct journal_cmd *cmd, char *err,
			  size_t errlen);
int ns_apply_job_error(struct ns *ns, const struct journal_cmd *cmd, char *err, size_t errlen);
int ns_apply_job_end(struct ns *ns, const struct journal_cmd *cmd, char *err, size_t errlen);
/* worker_state's apply (ns_repl.c). */
int ns_apply_worker_state(struct ns *ns, const struct journal_cmd *cmd, char *err,
			  size_t errlen);

#endif
