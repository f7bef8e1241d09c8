#ifndef STRATA_RAFT_INTERNAL_H
#define STRATA_RAFT_INTERNAL_H

/* Private to raft/: the node's state, shared by core.c, log.c, replication.c
 * and ready.c. Nothing outside raft/ includes this. */

#include "raft/raft.h"

/*
 * The in-memory log: entries (snap_index, last] in one array, so the slices
 * a ready hands out are contiguous. Entry data is owned by the log.
 */
struct raft_log {
	struct raft_entry *ents;
	size_t n;
	size_t cap;
	uint64_t snap_index;
	uint64_t snap_term;
};

enum raft_progress_state {
	RAFT_PR_PROBE = 0,     /* one append at a time until a match is found */
	RAFT_PR_REPLICATE = 1, /* pipelined: next advances as we send */
	RAFT_PR_SNAPSHOT = 2,  /* waiting for a snapshot to be acknowledged */
};

enum raft_vote_state { RAFT_VOTE_NONE = 0, RAFT_VOTE_GRANTED, RAFT_VOTE_REJECTED };

/* One per voter in the current configuration (including self). */
struct raft_progress {
	uint64_t id;
	uint64_t match;
	uint64_t next;
	enum raft_progress_state state;
	bool probe_sent;            /* PROBE: an append is out; wait */
	bool recent_active;         /* heard from since the last quorum check */
	uint64_t read_ack;          /* highest ReadIndex round it confirmed */
	uint64_t pending_snapshot;  /* index of the snapshot in flight */
	uint32_t snapshot_ticks;    /* ticks spent in RAFT_PR_SNAPSHOT */
	uint64_t match_at_heartbeat; /* match at the previous heartbeat */
	enum raft_vote_state vote;
};

struct raft_pending_read {
	uint64_t ctx;
	uint64_t index;
	uint64_t seq; /* 0 until the leader has committed in its term */
};

struct raft {
	struct raft_options opts;
	uint64_t rng;

	uint64_t term;
	uint64_t vote;
	enum raft_role role;
	uint64_t leader;

	struct raft_log log;
	uint64_t commit;
	uint64_t applied;
	uint64_t stable; /* last index handed to the caller to persist */

	struct raft_config config;
	uint64_t config_index; /* entry that set config; 0 = snapshot/boot */
	struct raft_snapshot snap; /* latest; data owned (may be NULL) */
	bool snap_pending;          /* snap must go out in the next ready */

	struct raft_progress prs[RAFT_MAX_VOTERS];
	size_t nprs;

	uint32_t election_elapsed;
	uint32_t heartbeat_elapsed;
	uint32_t randomized_timeout;

	uint64_t pending_conf_index;
	uint64_t transferee;
	uint32_t transfer_elapsed;

	uint64_t read_seq;
	struct raft_pending_read *reads;
	size_t nreads, reads_cap;
	struct raft_read_state *read_out;
	size_t nread_out, read_out_cap;

	struct raft_msg *outbox;
	size_t noutbox, outbox_cap;

	struct raft_hard_state prev_hs;
	bool in_ready;
	int fatal; /* first -ENOMEM seen; the node refuses further work */
};

/* log.c */
void raft_log_init(struct raft_log *log, uint64_t snap_index, uint64_t snap_term);
void raft_log_free(struct raft_log *log);
uint64_t raft_log_last_index(const struct raft_log *log);
uint64_t raft_log_last_term(const struct raft_log *log);
int raft_log_term(const struct raft_log *log, uint64_t index, uint64_t *term);
struct raft_entry *raft_log_get(const struct raft_log *log, uint64_t index);
/* Appends a copy of e (index must be last + 1). */
int raft_log_append_copy(struct raft_log *log, const struct raft_entry *e);
/* Drops entries >= index. */
void raft_log_truncate_from(struct raft_log *log, uint64_t index);
/* Drops entries <= index (index must be in the log); index becomes the
 * snapshot point with the given term. */
void raft_log_compact_to(struct raft_log *log, uint64_t index, uint64_t term);
/* Drops everything; the log restarts after (index, term). */
void raft_log_reset(struct raft_log *log, uint64_t index, uint64_t term);
int raft_entry_copy(struct raft_entry *dst, const struct raft_entry *src);
void raft_entry_free(struct raft_entry *e);
void raft_snapshot_free(struct raft_snapshot *s);
int raft_snapshot_copy(struct raft_snapshot *dst, const struct raft_snapshot *src);

/* core.c */
uint32_t raft_quorum(const struct raft *r);
struct raft_progress *raft_progress_find(struct raft *r, uint64_t id);
void raft_become_follower(struct raft *r, uint64_t term, uint64_t leader);
/* Recomputes r->config from the log (last config entry) or the snapshot,
 * and rebuilds the progress table. */
void raft_reload_config(struct raft *r);
/* Queues a message (fields already set; ownership of entries/snapshot
 * passes to the outbox). Sets from and term. */
int raft_send(struct raft *r, struct raft_msg *m);

/* replication.c */
void raft_send_append(struct raft *r, struct raft_progress *pr);
void raft_send_heartbeat(struct raft *r, struct raft_progress *pr);
void raft_broadcast_append(struct raft *r);
void raft_broadcast_heartbeat(struct raft *r);
void raft_handle_append(struct raft *r, const struct raft_msg *m);
void raft_handle_snapshot(struct raft *r, const struct raft_msg *m);
void raft_handle_append_resp(struct raft *r, const struct raft_msg *m);
void raft_leader_tick(struct raft *r);
/* raft_advance: the leader's own entries are durable; commit what that allows. */
void raft_leader_stable(struct raft *r);
int raft_leader_append(struct raft *r, enum raft_entry_type type,
		       const void *data, size_t len, uint64_t *index_out);
void raft_drop_reads(struct raft *r);

#endif
