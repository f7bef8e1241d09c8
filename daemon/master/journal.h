#ifndef STRATA_MASTER_JOURNAL_H
#define STRATA_MASTER_JOURNAL_H

#include "daemon/master/ns.h"
#include "lib/path.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Journal commands: the one replicated format of the namespace (every
 * Raft log entry of type NORMAL holds one). docs/namespace.md documents
 * the wire form field by field; in short it is one JSON object
 *
 *   {"v":1,"op":"put_file","path":"/a/f","time_ms":"1700000000000",...}
 *
 * where every integer but the version is a decimal string, so 64-bit ids
 * and times travel exactly (cJSON keeps numbers as doubles).
 *
 * Decoding is strict: an unknown op or field, a missing or mistyped field,
 * another version, an out-of-range value, a path that is not normal or
 * bytes after the object are refused with a message naming the field.
 * Encoding runs the same decoder over what it printed, so a command that
 * could not be decoded is refused before it is proposed.
 *
 * Adding a command: one X row in JOURNAL_OPS, its struct in the union of
 * struct journal_cmd, its field list in journal.c, and apply_<name> in
 * ns_apply.c (the build fails while one of them is missing).
 */

#define JOURNAL_VERSION 7     /* what encode prints */
#define JOURNAL_VERSION_MIN 1 /* the oldest decode reads */
/* The first version of the policy ops (set_pin and after in the table). */
#define JOURNAL_VERSION_POLICIES 2
/* The first version of the data job ops (job_create and after). */
#define JOURNAL_VERSION_JOBS 3
/* The first version of mount_update. */
#define JOURNAL_VERSION_MOUNT_UPDATE 4
/* The first version of worker_state (decommission). */
#define JOURNAL_VERSION_WORKER_STATE 5
/* The first version of set_write_type, set_persistence and put_file's
 * persistence field. */
#define JOURNAL_VERSION_WRITE_TYPES 6

#define JOURNAL_OPS(X)                       \
	X(MOUNT, mount)                      \
	X(UNMOUNT, unmount)                  \
	X(MKDIR, mkdir)                      \
	X(PUT_FILE, put_file)                \
	X(DELETE, delete)                    \
	X(RENAME, rename)                    \
	X(SYNC_DIR, sync_dir)                \
	X(SYNC_ENTRY, sync_entry)            \
	X(ALLOC_DATA_ID, alloc_data_id)      \
	X(MASTER_SET, master_set)            \
	X(MASTER_DEL, master_del)            \
	X(SET_PIN, set_pin)                  \
	X(SET_TTL, set_ttl)                  \
	X(SET_REPLICATION, set_replication)  \
	X(TTL_FIRE, ttl_fire)                \
	X(JOB_CREATE, job_create)            \
	X(JOB_PROGRESS, job_progress)        \
	X(JOB_ERROR, job_error)              \
	X(JOB_END, job_end)                  \
	X(MOUNT_UPDATE, mount_update)        \
	X(WORKER_STATE, worker_state)       \
	X(SET_WRITE_TYPE, set_write_type)    \
	X(SET_PERSISTENCE, set_persistence)

enum journal_op {
	JOURNAL_OP_NONE = 0,
#define JOURNAL_ENUM_(up, low) JOURNAL_##up,
	JOURNAL_OPS(JOURNAL_ENUM_)
#undef JOURNAL_ENUM_
	JOURNAL_OP_COUNT
};

#define JOURNAL_URI_MAX 2047
#define JOURNAL_OPTIONS_MAX 8191 /* bytes of the options object's JSON text */
#define JOURNAL_ETAG_MAX 47
#define JOURNAL_PERSISTENCE_MAX 15 /* "not_persisted", "persisting", "persisted", "lost" */
#define JOURNAL_WRITE_TYPE_MAX 15  /* "THROUGH", ..., "ASYNC_THROUGH", "MUST_CACHE" */

struct journal_mount {
	char path[PATH_MAX_LEN + 1];
	char uri[JOURNAL_URI_MAX + 1];
	bool readonly;
	char *options; /* JSON object of strings (owned; NULL: "{}") */
	int64_t block_size;
	int64_t sync_interval_ms; /* -1 never, 0 always, else period */
	int64_t time_ms;
};

/* Replaces a mount's mutable settings: the whole options object (the
 * proposer merged the change into the current one) and the sync interval. */
struct journal_mount_update {
	char path[PATH_MAX_LEN + 1];
	char *options; /* JSON object of strings (owned; NULL: "{}") */
	int64_t sync_interval_ms; /* -1 never, 0 always, else period */
	int64_t time_ms;
};

struct journal_unmount {
	char path[PATH_MAX_LEN + 1];
};

struct journal_mkdir {
	char path[PATH_MAX_LEN + 1];
	bool parents;
	int64_t time_ms;
};

struct journal_put_file {
	char path[PATH_MAX_LEN + 1];
	int64_t time_ms;
	uint64_t length;
	int64_t mtime_ms;
	char fingerprint[NS_FP_MAX];
	uint64_t data_id;                /* 0: none (the master picks) */
	char etag[JOURNAL_ETAG_MAX + 1]; /* "": none */
	/* "": persisted (the store holds it); "not_persisted": the content is
	 * only in the workers' caches (ASYNC_THROUGH, MUST_CACHE). */
	char persistence[JOURNAL_PERSISTENCE_MAX + 1];
	/* (v5) ASYNC_THROUGH: the same apply queues a persist job for the
	 * file, so no crash can leave it without one. Only with
	 * not_persisted. */
	bool persist;
};

struct journal_delete {
	char path[PATH_MAX_LEN + 1];
	bool recursive;
};

struct journal_rename {
	char src[PATH_MAX_LEN + 1];
	char dst[PATH_MAX_LEN + 1];
	int64_t time_ms;
};

/* One entry of a store listing. */
struct journal_sync_item {
	char name[PATH_NAME_MAX + 1];
	bool is_dir;
	uint64_t length;
	int64_t mtime_ms;
	char fingerprint[NS_FP_MAX];
};

struct journal_sync_dir {
	char path[PATH_MAX_LEN + 1];
	int64_t time_ms;
	struct journal_sync_item *entries; /* owned */
	size_t nentries, cap;
};

struct journal_sync_entry {
	char path[PATH_MAX_LEN + 1];
	int64_t time_ms;
	bool exists;
	/* Only with exists; all zero otherwise. */
	bool is_dir;
	uint64_t length;
	int64_t mtime_ms;
	char fingerprint[NS_FP_MAX];
	/* (v7) 0: none. A lazy load's proposed data id for new content (the
	 * leader picked it so the loading worker owns the block it read):
	 * taken when it is at least the id counter at apply, which then
	 * moves past it; else the counter names the content as without. */
	uint64_t data_id;
};

struct journal_master_set {
	uint64_t id;
	char raft_address[280];
	char rest_url[320];
};

struct journal_master_del {
	uint64_t id;
};

/* Policies (docs/namespace.md): set on path, and on everything below it
 * when recursive; a directory passes its policies to children created
 * under it later. */
#define JOURNAL_MEDIUM_MAX 7  /* "MEM", "SSD", "HDD" */
#define JOURNAL_ACTION_MAX 7  /* "free", "delete" */
#define JOURNAL_TTL_MAX_MS 3153600000000LL /* 100 years */
#define JOURNAL_REPL_MAX 64

struct journal_set_pin {
	char path[PATH_MAX_LEN + 1];
	bool recursive;
	bool pinned;                        /* false: unpin */
	char medium[JOURNAL_MEDIUM_MAX + 1]; /* "": any; only when pinned */
};

struct journal_set_ttl {
	char path[PATH_MAX_LEN + 1];
	bool recursive;
	int64_t ttl_ms;                      /* 0: no TTL */
	char action[JOURNAL_ACTION_MAX + 1]; /* "free"/"delete"; "" exactly when ttl_ms is 0 */
	int64_t time_ms;                     /* now: files expire at time_ms + ttl_ms */
};

struct journal_set_replication {
	char path[PATH_MAX_LEN + 1];
	bool recursive;
	int64_t min; /* 0..JOURNAL_REPL_MAX */
	int64_t max; /* -1 unbounded, else min..JOURNAL_REPL_MAX (and >= 1) */
};

/* The TTL checker's decision about one expired file (inode id at path). */
struct journal_ttl_fire {
	char path[PATH_MAX_LEN + 1];
	uint64_t id;
	char action[JOURNAL_ACTION_MAX + 1]; /* the file's ttl_action */
	int64_t time_ms;                     /* now: must be at or past the expiry */
};

/* Data jobs (daemon/master/datajobs.h): load or free every file below a
 * path. The apply allocates the job's id (the result's data_id). */
#define JOURNAL_JOB_TYPE_MAX 7     /* "load", "free", "persist" */
#define JOURNAL_JOB_STATE_MAX 15   /* "done", "failed", "cancelled" */
#define JOURNAL_JOB_REASON_MAX 255

struct journal_job_create {
	char type[JOURNAL_JOB_TYPE_MAX + 1];
	char path[PATH_MAX_LEN + 1];
	bool recursive;
	char medium[JOURNAL_MEDIUM_MAX + 1]; /* "": any; load only */
	int64_t time_ms;
};

/* A slice of a job is done: every file of the job with an inode id up to
 * cursor is; the counters are the job's totals so far (not deltas), so a
 * copy applied twice changes nothing. */
struct journal_job_progress {
	uint64_t id;
	uint64_t cursor;
	uint64_t files_done, bytes_done, files_failed;
	int64_t time_ms;
};

/* One file of a job failed (kept for the job's error list, bounded). */
struct journal_job_error {
	uint64_t id;
	char path[PATH_MAX_LEN + 1];
	char reason[JOURNAL_JOB_REASON_MAX + 1];
};

struct journal_job_end {
	uint64_t id;
	char path[PATH_MAX_LEN + 1]; /* the job's (for its event) */
	char state[JOURNAL_JOB_STATE_MAX + 1]; /* "done", "failed", "cancelled" */
	char reason[JOURNAL_JOB_REASON_MAX + 1]; /* "": none */
	int64_t time_ms;
};

/* A worker's administrative state (daemon/master/replicate.h), by its
 * advertised data address (ids are per master; addresses are not):
 * "decommissioning" (its blocks are being copied to their new owners),
 * "decommissioned" (drained: no longer an owner) or "active" (back in
 * placement; the row is removed). */
#define JOURNAL_WORKER_ADDRESS_MAX 299
#define JOURNAL_WORKER_STATE_MAX 15
struct journal_worker_state {
	char address[JOURNAL_WORKER_ADDRESS_MAX + 1]; /* host:port */
	char state[JOURNAL_WORKER_STATE_MAX + 1];
	int64_t time_ms;
};

/* The default write type of path (and below it when recursive); new
 * children inherit it. "" clears it (CACHE_THROUGH). */
struct journal_set_write_type {
	char path[PATH_MAX_LEN + 1];
	bool recursive;
	char write_type[JOURNAL_WRITE_TYPE_MAX + 1]; /* "": none */
};

/* A change of the persistence state of the file at path, which must still
 * be inode id holding content data_id (else ST_ESTALE: it was rewritten).
 * persisted carries what the store now holds (length, mtime_ms,
 * fingerprint; all zero/"" for the other states). */
struct journal_set_persistence {
	char path[PATH_MAX_LEN + 1];
	uint64_t id;
	uint64_t data_id;
	char state[JOURNAL_PERSISTENCE_MAX + 1];
	uint64_t length;
	int64_t mtime_ms;
	char fingerprint[NS_FP_MAX];
	int64_t time_ms;
};

/* alloc_data_id has no fields. */
struct journal_cmd {
	enum journal_op op;
	union {
		struct journal_mount mount;
		struct journal_unmount unmount;
		struct journal_mkdir mkdir;
		struct journal_put_file put_file;
		struct journal_delete delete;
		struct journal_rename rename;
		struct journal_sync_dir sync_dir;
		struct journal_sync_entry sync_entry;
		struct journal_master_set master_set;
		struct journal_master_del master_del;
		struct journal_set_pin set_pin;
		struct journal_set_ttl set_ttl;
		struct journal_set_replication set_replication;
		struct journal_ttl_fire ttl_fire;
		struct journal_job_create job_create;
		struct journal_job_progress job_progress;
		struct journal_job_error job_error;
		struct journal_job_end job_end;
		struct journal_mount_update mount_update;
		struct journal_worker_state worker_state;
		struct journal_set_write_type set_write_type;
		struct journal_set_persistence set_persistence;
	} u;
};

/* A zeroed command of type op; NULL when out of memory. Free with
 * journal_free (commands are big: paths are inline). */
struct journal_cmd *journal_new(enum journal_op op);
void journal_free(struct journal_cmd *cmd);

/* "mount", ...; NULL for an op outside the table. */
const char *journal_op_name(enum journal_op op);

/* "MEM", "SSD" or "HDD"; "free" or "delete". */
bool journal_medium_valid(const char *medium);
bool journal_action_valid(const char *action);
/* "active", "decommissioning" or "decommissioned". */
bool journal_worker_state_valid(const char *state);
/* "load", "free" or "persist" (a data job's type). */
bool journal_job_type_valid(const char *type);
/* "THROUGH", "CACHE_THROUGH", "ASYNC_THROUGH", "MUST_CACHE" (exact case). */
bool journal_write_type_valid(const char *write_type);
/* "not_persisted", "persisting", "persisted", "lost". */
bool journal_persistence_valid(const char *state);

/* Appends a copy of item to a sync_dir command's entries. */
int journal_sync_dir_add(struct journal_cmd *cmd, const struct journal_sync_item *item);

/* Sets a mount or mount_update command's options from JSON text (copied). */
int journal_mount_set_options(struct journal_cmd *cmd, const char *json);

/*
 * Encodes cmd; on success *out (NUL-terminated, *len bytes without the
 * NUL) is the caller's to free. -EINVAL with err naming the field when
 * the command would not decode.
 */
int journal_encode(const struct journal_cmd *cmd, char **out, size_t *len, char *err,
		   size_t errlen);

/*
 * Decodes exactly len bytes; on success *out is the caller's
 * (journal_free). -EINVAL (malformed, err names the field), -EPROTO
 * (another format version), -ENOMEM.
 */
int journal_decode(const void *data, size_t len, struct journal_cmd **out, char *err,
		   size_t errlen);

/* True when a and b hold the same command. */
bool journal_equal(const struct journal_cmd *a, const struct journal_cmd *b);

#endif
