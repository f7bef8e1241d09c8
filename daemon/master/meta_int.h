#ifndef STRATA_MASTER_META_INT_H
#define STRATA_MASTER_META_INT_H

/* Private to meta.c (the API, waiters, open/close) and meta_driver.c (the
 * Raft driver thread). */

#include "daemon/master/meta.h"
#include "raft/net.h"
#include "raft/raft.h"
#include "raft/storage.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define META_ERRLEN 512

enum waiter_kind { W_PROPOSE, W_CONF };

/*
 * One caller waiting for its entry. Lives on the queue of proposals, then
 * on the pending list (in index order) until its entry is applied or the
 * leadership that proposed it is lost. Every field is guarded by
 * meta.qlock. A caller that times out sets `abandoned` and leaves; the
 * driver then frees the waiter when it completes it.
 */
struct waiter {
	enum waiter_kind kind;
	char *data; /* W_PROPOSE: the serialized command (owned) */
	size_t len;
	enum raft_conf_op conf_op; /* W_CONF */
	uint64_t conf_node;
	uint64_t index, term; /* set when proposed */
	bool done, abandoned;
	int rc;
	uint64_t data_id;
	char err[META_ERRLEN];
	pthread_cond_t cond;
	struct waiter *next;
};

/* A message from raft_net's I/O thread, handed to the driver. */
struct inmsg {
	struct raft_msg msg;
	struct inmsg *next;
};

/* An address-book entry with where it came from. */
struct book_entry {
	struct meta_member m;
	bool from_table; /* replicated (master_set); else master.peers or self */
};

struct meta {
	/* Settings, fixed after open. */
	uint64_t id;
	uint64_t snapshot_every;
	int64_t tick_ms, submit_timeout_ms;
	uint32_t election_ticks, heartbeat_ticks;
	uint64_t raft_max_frame;	/* 0: the wire's limit */
	uint32_t raft_frame_timeout_ms; /* 0: the transport's default */
	bool join;
	void (*on_apply)(void *arg, const struct journal_cmd *cmd, int rc);
	void *on_apply_arg;
	char db_path[1100];
	char raft_dir[1100];
	char raft_bind[256];
	uint16_t raft_port;
	char raft_tls_cert[1024], raft_tls_key[1024], raft_tls_ca[1024]; /* "": plaintext */
	struct peer peers[PEERS_MAX];
	size_t npeers;
	char self_raft[280];

	/* The namespace: every ns_* call holds `lock`. */
	pthread_mutex_t lock;
	struct ns *ns;

	/* Owned by the driver thread once it runs. */
	struct raft *r;
	struct raft_storage *st;
	struct raft_net *net;
	pthread_t thread;
	bool thread_started;
	int wake_fd, timer_fd;
	int lock_fd; /* <state_dir>/lock, held while open */
	uint64_t snap_index;
	enum raft_role last_role;
	uint64_t seeded_term;
	bool book_dirty;
	bool failed;
	char net_error[256];
	struct raft_net_peer net_peers[RAFT_NET_MAX_PEERS];
	char net_addrs[RAFT_NET_MAX_PEERS][280];
	size_t nnet_peers;

	/* Queues between REST threads, raft_net and the driver. */
	pthread_mutex_t qlock;
	struct waiter *in_head, *in_tail;     /* to propose */
	struct waiter *pend_head, *pend_tail; /* proposed, index order */
	struct inmsg *msg_head, *msg_tail;
	bool stop;

	/* Published state: status, address book, metrics. */
	pthread_mutex_t slock;
	pthread_cond_t scond;
	struct meta_status status;
	struct book_entry book[PEERS_MAX * 2];
	size_t nbook;
	char self_rest[320];
};

/* meta_driver.c */
int meta_driver_start(struct meta *m, char *err, size_t errlen);
void meta_driver_stop(struct meta *m);
/* Completes w (qlock held): result to its caller, or freed if abandoned. */
void meta_waiter_complete(struct waiter *w, int rc, const char *err, uint64_t data_id);
/* Rebuilds the address book from the masters table (lock held), master.peers
 * and self; publishes it. */
void meta_book_reload(struct meta *m);
void meta_wake(struct meta *m);

#endif
