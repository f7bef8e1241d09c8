#ifndef STRATA_MASTER_NS_H
#define STRATA_MASTER_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/path.h"

struct journal_cmd;

/*
 * The namespace state machine: inodes and the mount table in SQLite (WAL).
 * Every mutation is a journal command (journal.h; the replicated format is
 * docs/namespace.md) applied by ns_apply, which is deterministic: it reads no clock and no
 * randomness (times and ids come in the command or from the database), so
 * the same command log gives the same database on every master.
 *
 * ns_apply records the command's index in the same transaction as its
 * effects, so after a crash the state says exactly which commands it holds.
 * A command that fails (e.g. the path exists) changes nothing but the
 * applied index and returns its error; it fails the same way everywhere.
 *
 * Not thread-safe: the caller (meta.c) serializes every call.
 */
struct ns;

#define NS_ROOT_ID 1
#define NS_FP_MAX 96

struct ns_inode {
	uint64_t id, parent;
	char name[256];
	bool is_dir;
	uint64_t length;
	int64_t mtime_ms;
	char fingerprint[NS_FP_MAX];
	int64_t block_size;     /* 0: the mount's */
	int64_t synced_ms;      /* last time checked against the UFS; 0 never */
	uint64_t data_id;       /* changes with the content; names its blocks */
	char etag[48];          /* MD5 hex of content written through S3, else "" */
	bool is_mount_point;
	/* Policies (docs/namespace.md). */
	bool pinned;
	char pin_medium[8];     /* "MEM", "SSD", "HDD"; "": any */
	int64_t ttl_ms;         /* 0: no TTL */
	char ttl_action[8];     /* "free", "delete"; "" without a TTL */
	int64_t ttl_expiry_ms;  /* files: when the TTL fires; 0 none (or fired) */
	int64_t ttl_fired_ms;   /* a TTL delete fired then and is not done yet; 0 none */
	int64_t repl_min;       /* minimum cached copies; 0 none */
	int64_t repl_max;       /* maximum cached copies; -1 unbounded */
	char write_type[16];    /* default write type of new files below; "": CACHE_THROUGH */
	int persistence;        /* NS_PERSISTED, ... (the `persisted` column) */
};

/* A file's persistence state (column `persisted`; 1, the default, is
 * persisted so every file loaded from a store is). */
enum ns_persistence {
	NS_NOT_PERSISTED = 0, /* only in the workers' caches */
	NS_PERSISTED = 1,     /* the store holds it */
	NS_PERSISTING = 2,    /* a persist job is writing it to the store */
	NS_LOST = 3,          /* not persisted, and every cached copy is gone */
};
/* "not_persisted", "persisted", "persisting", "lost"; and back (-EINVAL). */
const char *ns_persistence_name(int state);
int ns_persistence_parse(const char *name, int *state);

/* A file whose TTL expired (ns_expired). */
struct ns_expired {
	uint64_t id;
	int64_t expiry_ms;
	char action[8];
};

struct ns_mount {
	char path[4096];
	char uri[2048];
	bool readonly;
	char options[8192];     /* JSON object of driver options (with secrets) */
	int64_t block_size;
	int64_t sync_interval_ms; /* -1 never, 0 always, else period */
	int64_t created_ms;
};

/* A row of the masters table: the replicated address book of the Raft
 * group (master_set / master_del commands). */
struct ns_master {
	uint64_t id;
	char raft_address[280]; /* host:port of its Raft transport */
	char rest_url[320];     /* http(s)://host:port of its REST API */
};

/* What a command produced besides its rc. */
struct ns_result {
	uint64_t data_id; /* alloc_data_id: the reserved id */
	int64_t changed;  /* set_pin, set_ttl, set_replication: inodes updated */
};

int ns_open(const char *db_path, struct ns **out, char *err, size_t errlen);
void ns_close(struct ns *ns);
uint64_t ns_applied_index(struct ns *ns);

/* Applies command `cmd` (decoded by journal_decode, so well formed) as log
 * entry `index` (must be applied+1). res (may be NULL) gets what the
 * command allocated; it is zeroed first. A NULL cmd or one outside the
 * command table is -EINVAL and consumes nothing. */
int ns_apply(struct ns *ns, uint64_t index, const struct journal_cmd *cmd,
	     struct ns_result *res, char *err, size_t errlen);

/* Consumes log entry `index` (applied+1) without a command: the Raft
 * log's NOOP and configuration entries. */
int ns_skip(struct ns *ns, uint64_t index, char *err, size_t errlen);

/* The address book, in id order. fn returning non-zero stops the walk. */
int ns_masters(struct ns *ns, int (*fn)(void *arg, const struct ns_master *m), void *arg);

/* A consistent image of the whole database (the Raft snapshot blob);
 * *out is the caller's (free). */
int ns_serialize(struct ns *ns, uint8_t **out, size_t *len, char *err, size_t errlen);

/* Replaces the database file at db_path (which no connection may hold
 * open) with an image from ns_serialize: written to a temporary file,
 * fsynced, renamed over, directory fsynced; the old WAL is dropped. */
int ns_restore(const char *db_path, const uint8_t *image, size_t len, char *err,
	       size_t errlen);

/* The id the next inode or content version will get. */
uint64_t ns_next_id(struct ns *ns);

/* Looks up a normal path. -ENOENT, or -ENOTDIR when a middle component is
 * a file. */
int ns_lookup(struct ns *ns, const char *path, struct ns_inode *out);

/* Children of dir in name order, strictly after `after` (NULL: from the
 * start), at most limit (0: all). fn returning non-zero stops the walk and
 * is returned. */
int ns_list(struct ns *ns, uint64_t dir, const char *after, size_t limit,
	    int (*fn)(void *arg, const struct ns_inode *child), void *arg);

/* The mount whose path is the longest prefix of path; rel gets the path
 * relative to the mount root ("" for the root itself). -ENOENT: none. */
int ns_resolve_mount(struct ns *ns, const char *path, struct ns_mount *m, char *rel,
		     size_t rellen);
/* Every mount in path order. */
int ns_mounts(struct ns *ns, int (*fn)(void *arg, const struct ns_mount *m), void *arg);
/* True when path is exactly a mount point. */
bool ns_is_mount(struct ns *ns, const char *path);
/* Mounts strictly below path (to refuse deleting or renaming over them). */
int ns_mounts_below(struct ns *ns, const char *path, char *first, size_t firstlen);

/* Makes the database durable (WAL checkpoint, full sync) and, if
 * backup_path is set, writes a consistent copy there (atomically). */
int ns_checkpoint(struct ns *ns, const char *backup_path, char *err, size_t errlen);

/* How many inodes of id (and of its subtree when recursive) have another
 * policy than the one given: 0 means setting it changes nothing.
 * Negative on a database error. */
int64_t ns_pin_differs(struct ns *ns, uint64_t id, bool recursive, bool pinned,
		       const char *medium);
int64_t ns_ttl_differs(struct ns *ns, uint64_t id, bool recursive, int64_t ttl_ms,
		       const char *action);
int64_t ns_repl_differs(struct ns *ns, uint64_t id, bool recursive, int64_t min, int64_t max);
int64_t ns_write_type_differs(struct ns *ns, uint64_t id, bool recursive,
			      const char *write_type);

/* Whether the subtree at id (id included) holds a file not persisted: a
 * sync that does not find it (or its directories) in the store keeps it. */
bool ns_holds_unpersisted(struct ns *ns, uint64_t id);
/* How many files are in each persistence state but persisted
 * (out[NS_NOT_PERSISTED], out[NS_PERSISTING], out[NS_LOST]; out[NS_PERSISTED]
 * is left 0): an indexed count. */
int ns_persistence_counts(struct ns *ns, int64_t out[4]);
/* Files not persisted (any state but NS_PERSISTED), in id order after
 * after_id, at most limit into out (an indexed walk). */
int ns_unpersisted(struct ns *ns, uint64_t after_id, size_t limit, struct ns_inode *out,
		   size_t *n);

/* An inode by id (is_mount_point is not set); -ENOENT. */
int ns_by_id(struct ns *ns, uint64_t id, struct ns_inode *out);
/* What pinning inode id (and, recursive, its subtree) would take from
 * the workers' tiers (daemon/master/policy.c): the bytes of its files,
 * and the bytes of the files pinned now, in the whole namespace and in
 * the target, per pin medium (index NS_PIN_MEM.. ; NS_PIN_ANY: no medium).
 * A scan of the pinned files and of the target (ns_pinroom.c). */
enum { NS_PIN_MEM, NS_PIN_SSD, NS_PIN_HDD, NS_PIN_ANY, NS_PIN_MEDIA };
struct ns_pin_room {
	int64_t target_bytes;
	int64_t pinned_bytes[NS_PIN_MEDIA];
	int64_t target_pinned_bytes[NS_PIN_MEDIA];
};
int ns_pin_room(struct ns *ns, uint64_t id, bool recursive, struct ns_pin_room *out);

/* The path of inode id; -ENOENT, -ENAMETOOLONG. */
int ns_path(struct ns *ns, uint64_t id, char *path, size_t len);

/* Files whose TTL expired at or before now_ms, in (expiry, id) order
 * strictly after (after_expiry, after_id), at most limit into out (an
 * indexed walk: callers page through any number of them). */
int ns_expired(struct ns *ns, int64_t now_ms, int64_t after_expiry, uint64_t after_id,
	       size_t limit, struct ns_expired *out, size_t *n);
/* Ids of files whose TTL delete fired but that are still here, in id
 * order after after_id, at most limit. */
int ns_fired(struct ns *ns, uint64_t after_id, size_t limit, uint64_t *ids, size_t *n);

/* A data job as the namespace keeps it (ns_jobs.c; daemon/master/datajobs.h). */
#define NS_JOB_ERRORS_MAX 100 /* per-file errors kept per job */
#define NS_JOBS_KEPT 100      /* finished jobs kept (older ones are dropped) */
struct ns_job {
	uint64_t id;
	char type[8];       /* "load", "free", "persist" */
	char path[4096];
	bool recursive;
	char medium[8];
	uint64_t root;      /* the inode the job walks */
	char state[16];     /* "queued", "running", "done", "failed", "cancelled" */
	uint64_t files_total, bytes_total, files_done, bytes_done, files_failed;
	uint64_t cursor;    /* files with an id up to cursor are done */
	int64_t created_ms, updated_ms, ended_ms;
	char reason[256];
	uint64_t nerrors;   /* errors recorded (the first NS_JOB_ERRORS_MAX are kept) */
};

/* A file a job works on. */
struct ns_job_file {
	uint64_t id;
	uint64_t length;
	uint64_t data_id;
	int64_t block_size; /* 0: the mount's */
	bool pinned;
	int persistence;    /* enum ns_persistence */
};

/* true for "queued" and "running". */
bool ns_job_active(const struct ns_job *j);
/* A job by id; -ENOENT. */
int ns_job_get(struct ns *ns, uint64_t id, struct ns_job *out);
/* Jobs, newest first, at most limit (0: all kept). fn non-zero stops. */
int ns_jobs_list(struct ns *ns, size_t limit, int (*fn)(void *arg, const struct ns_job *j),
		 void *arg);
/* The active job with the smallest id above after, else the smallest
 * active one; -ENOENT when none is active. */
int ns_job_next_active(struct ns *ns, uint64_t after, struct ns_job *out);
/* A job's kept errors in order. */
int ns_job_errors(struct ns *ns, uint64_t id,
		  int (*fn)(void *arg, const char *path, const char *reason), void *arg);
/* The files of job j with an id above j->cursor, in id order, at most
 * limit into out. */
int ns_job_files(struct ns *ns, const struct ns_job *j, size_t limit, struct ns_job_file *out,
		 size_t *n);
/*
 * The epoch of the mount at mount_path: the index of the last applied
 * command that changed or removed existing state under it (a file's
 * content, a delete, a rename, a mount or unmount, a policy), never below
 * the index this state was loaded at (open or snapshot), so it only moves
 * up, on every master and across a failover. Commands that only create
 * inodes (lazy loads, listings, mkdir, a put of a new file) leave it: a
 * worker caches no negative answers, so a new file needs no invalidation.
 * Derived in memory while applying; workers trust a cached answer while
 * its mount's epoch stays the same (docs/namespace.md, "Freshness").
 */
uint64_t ns_mount_epoch(struct ns *ns, const char *mount_path);

/* The path of the last directory ns_by_data_id looked at, kept while
 * nothing is applied (caller-owned; zeroed before the first use). */
struct ns_dir_cache {
	bool valid;
	uint64_t applied, dir_id;
	char path[PATH_MAX_LEN + 1];
};
/* Replication (ns_repl.c). The file whose current content is data_id,
 * with its path; -ENOENT when no file holds it (changed or deleted). dc
 * (may be NULL) saves building the path of the same directory again. */
int ns_by_data_id(struct ns *ns, uint64_t data_id, struct ns_inode *out, char *path,
		  size_t pathlen, struct ns_dir_cache *dc);
/* Workers' administrative states (worker_state commands): fn(address,
 * state) for each worker not "active", in address order. */
int ns_worker_states(struct ns *ns, int (*fn)(void *arg, const char *address, const char *state),
		     void *arg);

/* Counts inodes (for metrics and benches). */
int64_t ns_inode_count(struct ns *ns);

#endif
