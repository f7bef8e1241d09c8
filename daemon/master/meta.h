#ifndef STRATA_MASTER_META_H
#define STRATA_MASTER_META_H

#include "daemon/master/ns.h"
#include "daemon/master/peers.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct journal_cmd;

/*
 * The master's metadata service: the one way to change the namespace.
 * meta_submit encodes a journal command (journal.h; one that would not
 * decode is refused before it reaches the log), replicates it through the Raft log
 * (raft/, durable in <state_dir>/raft) and returns once this master has
 * applied it. A single master is a Raft group of one voter: there is one
 * code path. Callers never see the log.
 *
 * A driver thread owns the Raft core, its storage and its transport
 * (docs/raft.md, "The master's driver"). Proposals from every REST thread
 * are queued and drained before each ready, so one fsync covers them all
 * (group commit); each waiter gets its own entry's ns_apply result.
 *
 * Only the leader accepts commands: elsewhere meta_submit fails with
 * ST_ENOTLEADER (meta_status names the leader to redirect to). Reads go
 * through meta_read_lock/unlock around ns_* queries and are served by any
 * master from its own applied state. All calls are thread-safe.
 *
 * On open: the Raft storage is opened (a torn tail is repaired); a stored
 * snapshot newer than namespace.db replaces it; Raft restarts with the
 * database's applied index and replays the rest of the log. Every
 * `snapshot_every` applied entries the database image becomes the Raft
 * snapshot and the log is compacted behind it.
 */
struct meta;

struct meta_opts {
	const char *state_dir;     /* namespace.db and raft/ live here */
	uint64_t snapshot_every;   /* applied entries between snapshots; 0: never */
	uint64_t id;               /* master.id; 0 means 1 */
	const struct peer *peers;  /* master.peers (copied); none: a group of just id */
	size_t npeers;
	bool join;                 /* start with no configuration; wait to be added */
	const char *raft_bind;     /* NULL: 127.0.0.1 */
	uint16_t raft_port;        /* 0: an ephemeral port */
	const char *raft_advertise; /* this master's Raft address when peers lack it */
	int64_t tick_ms;           /* 0: 100 */
	uint32_t election_ticks;   /* 0: 8 */
	uint32_t heartbeat_ticks;  /* 0: 1 */
	int64_t submit_timeout_ms; /* bound of a meta_submit wait; 0: 30 s */
	bool start_transport;      /* false: only once the group has another member */
	/* master.raft.tls: the Raft transport's PEM files (raft/net.h, TLS);
	 * raft_tls_cert NULL or "": plaintext. Copied. */
	const char *raft_tls_cert, *raft_tls_key, *raft_tls_ca;
	/* master.raft.max_frame, master.raft.frame_timeout (raft/net.h); 0: defaults */
	uint64_t raft_max_frame;
	uint32_t raft_frame_timeout_ms;
	/* Called after each command this master applies (replay at open
	 * included), with the namespace lock held: it must be quick and must
	 * not call meta_*. rc is the apply's result. May be NULL. */
	void (*on_apply)(void *arg, const struct journal_cmd *cmd, int rc);
	void *on_apply_arg;
};

/* A master as meta knows it: its address book entry. */
struct meta_member {
	uint64_t id;
	char raft_address[280];
	char rest_url[320];
	bool voter; /* in the Raft configuration */
};

/* A consistent copy of this master's Raft state. */
struct meta_status {
	uint64_t id;
	const char *role; /* "leader", "follower", "candidate" */
	uint64_t leader;  /* 0: unknown */
	char leader_url[320]; /* "" when unknown (or when the leader has none) */
	uint64_t term, commit_index, applied_index, last_index, snapshot_index;
	bool failed;       /* storage or apply failed: restart the master */
	size_t nmembers;   /* the voters, then address-book entries that are not */
	struct meta_member members[PEERS_MAX * 2];
	/* metrics */
	uint64_t proposals, proposals_failed, batches, batch_entries, batch_max;
	uint64_t fsync_us_total, fsync_us_max, snapshots, snapshot_ms_total, snapshot_ms_last;
	uint64_t snapshot_bytes_last, snapshots_installed, elections_won;
};

int meta_open(const struct meta_opts *opts, struct meta **out, char *err, size_t errlen);

/*
 * The state directory's lock: <state_dir>/lock (0600), held with an
 * exclusive flock for as long as *fd stays open, holding the owner's pid
 * as text. meta_open takes it (a second master on the same directory is
 * refused) and so does an offline restore. -EBUSY when another process
 * holds it (err names the pid), else a negative errno.
 */
int meta_lock_state_dir(const char *state_dir, int *fd, char *err, size_t errlen);
void meta_close(struct meta *m);

/* This master's REST base URL (known once its server listens), recorded
 * in the address book when the group has none for it. */
void meta_set_rest_url(struct meta *m, const char *url);

/* Makes `cmd` durable on a quorum and applies it; returns the apply result
 * (0 or a negative errno with the reason in err), -EINVAL when cmd does
 * not encode (err names the field; nothing is proposed), ST_ENOTLEADER
 * (err says who leads), -ETIMEDOUT, or -EIO when the node failed. cmd is
 * not consumed. */
int meta_submit(struct meta *m, const struct journal_cmd *cmd, char *err, size_t errlen);

/* meta_submit for a command whose apply allocates an id (job_create: the
 * job's id), which goes to *id on success. */
int meta_submit_id(struct meta *m, const struct journal_cmd *cmd, uint64_t *id, char *err,
		   size_t errlen);

/* Reserves a content id (data_id) for a file a worker is about to write,
 * durably (an alloc_data_id command), so ids never repeat; the id is the
 * one that command's apply allocated. */
int meta_alloc_data_id(struct meta *m, uint64_t *id, char *err, size_t errlen);

/* Exclusive access to the namespace for reads (one SQLite connection). */
struct ns *meta_read_lock(struct meta *m);
void meta_read_unlock(struct meta *m);

uint64_t meta_applied_index(struct meta *m);
void meta_status(struct meta *m, struct meta_status *out);

/*
 * Membership (leader only). meta_add_master records the address
 * (master_set), then proposes the Raft ADD and waits for it to commit.
 * meta_remove_master proposes REMOVE, waits, then drops the address
 * (best effort: a leader removing itself steps down first). Errors:
 * -EEXIST / -ENOENT, -EBUSY (a change is in flight), -EAGAIN (the leader
 * has not committed in its term yet), ST_ENOTLEADER, -EINVAL.
 */
int meta_add_master(struct meta *m, const struct peer *p, char *err, size_t errlen);
int meta_remove_master(struct meta *m, uint64_t id, char *err, size_t errlen);

#endif
