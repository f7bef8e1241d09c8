#ifndef STRATA_WORKER_WORKER_H
#define STRATA_WORKER_WORKER_H

#include "lib/conf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct httpc;
struct tier_store;
struct tier_block_info;
struct bsvc;
struct fcache;
struct client;
struct pathstats;
struct localread;
struct wreplica;

/* A live worker, as the master's heartbeat reply lists them. */
struct worker_peer {
	uint64_t id;
	char address[300]; /* host:port of its data port */
};

/* Counters of the S3 front (api/s3_server.c); all 0 without it. */
struct worker_front_counters {
	_Atomic uint64_t hits;         /* GET/HEAD answered by the fast path */
	_Atomic uint64_t bytes;        /* body bytes it sent (sendfile) */
	_Atomic uint64_t hits_signed;  /* of which carried a verified signature */
	_Atomic uint64_t proxied;      /* requests handed to the gateway */
	_Atomic uint64_t proxied_signed; /* of which carried a signature (header or URL) */
	_Atomic uint64_t bad_requests; /* heads refused with 400 (malformed, too big, too slow) */
	_Atomic uint64_t connections;  /* client connections accepted */
	_Atomic int64_t open;          /* client connections open now */
	_Atomic uint64_t fd_hits;      /* block files the fast path found open (its fd cache) */
	_Atomic uint64_t fd_opens;     /* block files it had to open */
};

/* What the worker's threads and request handlers share. Owned by main. */
struct worker_node {
	const struct strata_conf *conf;
	char host[256];          /* advertised to the master */
	char data_dir[1024];
	char mem_dir[1024];
	int64_t capacity_bytes;
	int64_t started_mono_ms;
	struct tier_store *tiers;
	struct fcache *fcache;
	struct bsvc *bsvc;
	struct pathstats *pstats; /* reads by mount and path */
	struct localread *lread;  /* worker.local_socket; NULL when off */
	struct worker_front_counters front;
	_Atomic uint64_t mpu_expired; /* multipart uploads aborted for idling */
	/* Replication orders carried out (replica.c). */
	_Atomic uint64_t replica_copies, replica_copy_errors, replica_drops;
	/* data reads (GET /api/v1/data) whose reader opened another version
	 * than this worker's metadata named: looked up again at the master */
	_Atomic uint64_t data_version_lookups;

	pthread_mutex_t lock;    /* guards the fields below */
	uint64_t worker_id;      /* 0 until registered */
	char master[320];        /* base URL of the master that registered us */
	int64_t last_heartbeat_mono_ms;
	struct worker_peer *peers; /* live workers, sorted by id */
	size_t npeers;

	/* heartbeat thread */
	pthread_t hb_thread;
	pthread_cond_t hb_cond;
	bool hb_stop;
	struct httpc *hb_http;
	struct client *hb_masters; /* follows the leading master */
	/* Blocks reported so far (sorted by id), to send only changes. */
	struct tier_block_info *reported;
	size_t nreported;
	struct wreplica *replica; /* replica.c's thread and queue */
};

/*
 * The owner of block id among the live workers: 0 when it is this worker
 * (or none is known yet), 1 with the owner's host:port in addr otherwise.
 */
int worker_owner_of(struct worker_node *w, uint64_t block_id, char *addr, size_t len);

/* This worker's id while it shares placement with peers (more than one
 * live worker known); 0 otherwise (alone, or not registered yet). */
uint64_t worker_placing_id(struct worker_node *w);

/* The first k owners of block id (rendezvous order) among the live
 * workers: their host:port into addrs, "" for this worker; returns how
 * many (at least 1: this worker alone when none is known). */
#define WORKER_ADDR_MAX 300
size_t worker_copy_owners(struct worker_node *w, uint64_t block_id, size_t k,
			  char (*addrs)[WORKER_ADDR_MAX]);

/* "X-Strata-Worker-Token: <cluster.worker_token>" into buf, or "" when no
 * token is configured. */
void worker_token_header(const struct strata_conf *c, char *buf, size_t len);

/* Bytes used in the worker's tiers. */
int64_t worker_used_bytes(const struct worker_node *w);

/*
 * The owners of block id in rendezvous order over the live workers, at
 * most max (<= 16) into addrs (host:port each) with self[i] true for this
 * worker; returns how many (0 while no peer list is known).
 */
size_t worker_owners_of(struct worker_node *w, uint64_t block_id, size_t max,
			char (*addrs)[300], bool *self);

struct client_heartbeat_reply;
struct httpc_opts;
/* Hands the replication orders of a heartbeat reply to the replica thread
 * (replica.c), which copies blocks from the workers named (their cached
 * copies only, never the store) and drops the blocks named. */
void worker_replica_run(struct worker_node *w, const struct client_heartbeat_reply *r);
/* Starts and stops that thread (the heartbeat thread's start and stop do). */
int worker_replica_start(struct worker_node *w, const struct httpc_opts *hopts);
void worker_replica_stop(struct worker_node *w);

/*
 * Starts the thread that registers with a master from master.addresses
 * (trying each in turn, with backoff while none answers) and then
 * heartbeats every worker.heartbeat_interval; a master that answers
 * unknown_worker (restarted) gets a new registration. 0 or -errno.
 */
int worker_heartbeat_start(struct worker_node *w);
void worker_heartbeat_stop(struct worker_node *w);

#endif
