#ifndef STRATA_RAFT_RAFT_H
#define STRATA_RAFT_RAFT_H

/*
 * The Raft core: a pure state machine. It does no I/O, reads no clock and
 * draws no randomness of its own: events go in (raft_tick, raft_step,
 * raft_propose...), and one struct raft_ready comes out listing what the
 * caller must persist, send and apply. The whole cluster can therefore run
 * inside one test on logical time (see tests/unit/raft_sim.c).
 *
 * Driving loop (one thread; see docs/raft.md):
 *
 *   on timer:    raft_tick(r)
 *   on message:  raft_step(r, &msg)
 *   on client:   raft_propose / raft_read_index / ...
 *   then, while (raft_has_ready(r)):
 *       raft_ready(r, &rd);
 *       1. persist rd.snapshot, rd.hs (if rd.hs_changed) and rd.entries,
 *          fsynced (raft/storage.h does this in raft_storage_persist_ready);
 *       2. send rd.msgs;
 *       3. install rd.snapshot into the state machine, then apply
 *          rd.committed in order; serve rd.reads once applied >= index;
 *       4. raft_advance(r, &rd)   -- this is the storage acknowledgement.
 *
 * Between raft_ready and raft_advance no other raft_* call that changes
 * state is allowed (they return -EBUSY): everything in the ready is
 * borrowed from the core and stays valid only until raft_advance.
 *
 * Errors are negative errno values. A call that needs the leader returns
 * -EPERM on any other node (the caller redirects to raft_leader()); -EBUSY
 * means "not now" (a membership change or a leadership transfer is pending,
 * or a ready is outstanding); -EAGAIN means the new leader has not yet
 * committed an entry of its own term.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_MAX_VOTERS 9
/* Largest entry payload; storage records cannot hold more. */
#define RAFT_MAX_PAYLOAD (64u << 20)

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 1, /* opaque application command */
	RAFT_ENTRY_CONFIG = 2, /* payload is raft_config_encode() output */
	RAFT_ENTRY_NOOP = 3,   /* appended by each new leader; empty */
};

struct raft_entry {
	uint64_t term;
	uint64_t index;
	enum raft_entry_type type;
	size_t len;
	uint8_t *data; /* len bytes; owned by whoever holds the entry */
};

/* Membership: the voters. Node ids are nonzero; 0 means "nobody". */
struct raft_config {
	uint32_t nvoters;
	uint64_t voters[RAFT_MAX_VOTERS];
};

/* What must be durable before anything else in a ready leaves the node. */
struct raft_hard_state {
	uint64_t term;
	uint64_t vote;
};

/*
 * A snapshot: the state machine at `index` (whose entry had `term`), the
 * membership in force there, and an opaque blob (the master's SQLite copy).
 */
struct raft_snapshot {
	uint64_t index;
	uint64_t term;
	struct raft_config config;
	uint8_t *data;
	size_t len;
};

enum raft_msg_type {
	RAFT_MSG_PREVOTE = 1,
	RAFT_MSG_PREVOTE_RESP = 2,
	RAFT_MSG_VOTE = 3,
	RAFT_MSG_VOTE_RESP = 4,
	RAFT_MSG_APPEND = 5,      /* also the heartbeat (no entries) */
	RAFT_MSG_APPEND_RESP = 6, /* also answers RAFT_MSG_SNAPSHOT */
	RAFT_MSG_SNAPSHOT = 7,
	RAFT_MSG_TIMEOUT_NOW = 8, /* leadership transfer: campaign now */
};

/*
 * One message. Which fields matter depends on type:
 *   PREVOTE/VOTE:  log_index, log_term = candidate's last entry; force =
 *                  sent after TIMEOUT_NOW, so voters ignore the leader lease.
 *   *_RESP:        reject.
 *   APPEND:        log_index, log_term = the entry preceding `entries`;
 *                  commit = leader's commit; read_seq = ReadIndex round.
 *   APPEND_RESP:   !reject: log_index = highest index known to match.
 *                  reject:  log_index = the rejected log_index, hint_index /
 *                  hint_term = where the follower suggests to retry.
 *                  read_seq echoes the APPEND's.
 *   SNAPSHOT:      snapshot (meta and data).
 * A message owns its entries (and their data) and snapshot.data.
 */
struct raft_msg {
	enum raft_msg_type type;
	uint64_t from;
	uint64_t to;
	uint64_t term;
	uint64_t log_index;
	uint64_t log_term;
	uint64_t commit;
	uint64_t read_seq;
	uint64_t hint_index;
	uint64_t hint_term;
	bool reject;
	bool force;
	struct raft_entry *entries;
	size_t nentries;
	struct raft_snapshot snapshot;
};

enum raft_role {
	RAFT_FOLLOWER = 0,
	RAFT_PRECANDIDATE = 1,
	RAFT_CANDIDATE = 2,
	RAFT_LEADER = 3,
};

struct raft_options {
	uint64_t id;                 /* this node; nonzero */
	uint32_t election_ticks;     /* timeout drawn from [e, 2e); >= 2 */
	uint32_t heartbeat_ticks;    /* < election_ticks */
	uint64_t seed;               /* seeds the election-jitter PRNG */
	bool pre_vote;               /* ask before disrupting a term */
	bool check_quorum;           /* leader steps down without a quorum */
	uint32_t max_append_entries; /* per APPEND; 0 means 64 */
};

/*
 * State loaded from storage at start (raft_storage_open fills it). All of
 * it is copied by raft_create. `initial_config` is used only when neither
 * the snapshot nor the log carries a configuration (a fresh cluster); a
 * node joining an existing cluster passes an empty one and learns it from
 * the leader. `applied` is how far the caller's state machine already is
 * (0 or at least snapshot->index); entries up to it are not re-delivered.
 */
struct raft_boot {
	struct raft_hard_state hs;
	const struct raft_snapshot *snapshot; /* NULL: none */
	const struct raft_entry *entries;     /* contiguous, after snapshot */
	size_t nentries;
	struct raft_config initial_config;
	uint64_t applied;
};

/*
 * A confirmed ReadIndex request. index is never beyond the committed
 * entries delivered in this ready or earlier ones, so the caller serves
 * `ctx` right after applying rd.committed.
 */
struct raft_read_state {
	uint64_t ctx;
	uint64_t index;
};

/* Everything here is borrowed from the core until raft_advance. */
struct raft_ready {
	bool hs_changed;
	struct raft_hard_state hs;
	const struct raft_snapshot *snapshot; /* to persist and install */
	const struct raft_entry *entries;     /* to persist; the first may
	                                         overwrite (truncate) the log */
	size_t nentries;
	const struct raft_msg *msgs;
	size_t nmsgs;
	const struct raft_entry *committed; /* to apply, in order */
	size_t ncommitted;
	const struct raft_read_state *reads;
	size_t nreads;
	enum raft_role role; /* soft state, for the caller's information */
	uint64_t leader;
	uint64_t term;
};

struct raft;

/*
 * Creates a node from options and boot state (both copied). On success
 * *out is owned by the caller (raft_destroy). Returns 0, -EINVAL for bad
 * options or an inconsistent boot log, -ENOMEM.
 */
int raft_create(const struct raft_options *opts, const struct raft_boot *boot,
		struct raft **out);
void raft_destroy(struct raft *r);

/* One unit of logical time: election timeout, heartbeat, check-quorum. */
int raft_tick(struct raft *r);

/* Feeds one received message (copied as needed; the caller keeps it). */
int raft_step(struct raft *r, const struct raft_msg *m);

/*
 * Leader only: appends a NORMAL entry (payload copied; -EMSGSIZE beyond
 * RAFT_MAX_PAYLOAD). *index_out (may be NULL) gets its index; the entry is
 * applied once it appears in ready.committed with that index and the
 * current term.
 */
int raft_propose(struct raft *r, const void *data, size_t len,
		 uint64_t *index_out);

enum raft_conf_op { RAFT_CONF_ADD = 1, RAFT_CONF_REMOVE = 2 };

/*
 * Leader only: single-server membership change. The new configuration
 * takes effect as soon as its entry is appended; only one may be
 * uncommitted at a time (-EBUSY), and not before the leader committed an
 * entry of its own term (-EAGAIN). -EEXIST / -ENOENT for adding a member /
 * removing a non-member, -ENOSPC past RAFT_MAX_VOTERS, -EINVAL for
 * removing the last voter.
 */
int raft_propose_conf_change(struct raft *r, enum raft_conf_op op,
			     uint64_t node_id, uint64_t *index_out);

/*
 * Leader only: linearizable read (ReadIndex, thesis §6.4). The leader
 * waits until it has committed an entry of its term, records its commit
 * index, confirms with a heartbeat round that a quorum still follows it,
 * and then returns {ctx, index} in ready.reads; the caller answers the
 * read from its state machine once applied >= index (at the latest after
 * applying that ready's committed entries). Requests are dropped (never
 * answered) if leadership is lost; callers time out and retry.
 */
int raft_read_index(struct raft *r, uint64_t ctx);

/*
 * Leader only: hand leadership to `to` (a voter): bring its log up to
 * date, then send it TIMEOUT_NOW. Proposals get -EBUSY meanwhile; the
 * attempt is abandoned after an election timeout.
 */
int raft_transfer_leadership(struct raft *r, uint64_t to);

/* Starts an election now (tests, or a single-node bootstrap). */
int raft_campaign(struct raft *r);

/*
 * Log compaction, in three steps: raft_snapshot_meta gives the term and
 * membership at `index` (<= applied; data left NULL); the caller stores
 * its snapshot with that meta durably (raft_storage_save_snapshot); then
 * raft_compact hands the core a copy of `data` (kept to send to slow
 * followers) and drops the log up to `index`. -EINVAL if index is not in
 * (snapshot index, applied].
 */
int raft_snapshot_meta(const struct raft *r, uint64_t index, struct raft_snapshot *meta);
int raft_compact(struct raft *r, uint64_t index, const void *data, size_t len);

bool raft_has_ready(const struct raft *r);
/* Fills *rd; the contents are borrowed until raft_advance(r, rd). */
int raft_ready(struct raft *r, struct raft_ready *rd);
/* Acknowledges that rd was persisted, sent and applied. */
int raft_advance(struct raft *r, const struct raft_ready *rd);

uint64_t raft_id(const struct raft *r);
enum raft_role raft_role(const struct raft *r);
uint64_t raft_leader(const struct raft *r);
uint64_t raft_term(const struct raft *r);
uint64_t raft_commit_index(const struct raft *r);
uint64_t raft_applied_index(const struct raft *r);
uint64_t raft_last_index(const struct raft *r);
uint64_t raft_first_index(const struct raft *r); /* snapshot index + 1 */
/* Term of the entry at index (the snapshot's for its index); -ENOENT if
 * compacted away or beyond the log. Index 0 has term 0. */
int raft_term_at(const struct raft *r, uint64_t index, uint64_t *term);
/* Borrowed pointer to the entry at index, or NULL. */
const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index);
void raft_get_config(const struct raft *r, struct raft_config *cfg);

bool raft_config_has(const struct raft_config *cfg, uint64_t id);
/*
 * Config entry payload: u32 count, then count u64 ids, little-endian.
 * encode returns the byte length (4 + 8 * count) or -ENOSPC if cap is too
 * small; decode returns 0 or -EINVAL.
 */
int raft_config_encode(const struct raft_config *cfg, uint8_t *buf, size_t cap);
int raft_config_decode(const uint8_t *buf, size_t len, struct raft_config *cfg);

/* Deep copy of a message (dst owns the copy); 0 or -ENOMEM. */
int raft_msg_clone(struct raft_msg *dst, const struct raft_msg *src);
/* Frees what a message owns and zeroes it. */
void raft_msg_release(struct raft_msg *m);

const char *raft_role_name(enum raft_role role);
const char *raft_msg_type_name(enum raft_msg_type type);

#endif
