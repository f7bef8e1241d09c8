#ifndef STRATA_CLIENT_CLIENT_H
#define STRATA_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cJSON;
struct httpc;

/*
 * The typed client of strata's REST API, and what the CLI, the worker, the
 * terminal monitor and FUSE link. Two layers:
 *   - leader-following calls to the master group (client_new, client_json,
 *     client_call): JSON in and out, redirects and elections handled;
 *   - typed calls (client_fs_stat, client_workers_list, ...): C structs in
 *     and out, errors as negative codes (lib/err.h) with the reason in err.
 * Includes only lib/.
 */

/*
 * A client of the master group: the list of master REST addresses and the
 * last known leader. Calls go to the leader and follow it (docs/raft.md,
 * "Clients"):
 *   - 307/308 from a follower: its Location names the leader; retry there
 *     (a leader that is not in the list yet, e.g. a master added at run
 *     time, is remembered too);
 *   - 503 "no_leader" (an election is running) or a master that cannot be
 *     reached: try the next master, pausing between rounds,
 * until the call's deadline. Any other reply ends the call.
 *
 * A mutation that timed out on its way may have been applied; callers
 * retry only what is safe to repeat (the daemons' RPCs are).
 *
 * Thread-safe: one client may serve many threads, each with its own
 * struct httpc (the connection).
 */
struct client;

#define CLIENT_MAX_MASTERS 16
#define CLIENT_URL_MAX 320

struct client_opts {
	bool tls;		 /* addresses without a scheme get https:// */
	int64_t follow_ms;	 /* how long a call keeps looking for the leader; 0: 10 s */
	int64_t pause_ms;	 /* between rounds over all masters; 0: 100 ms */
};

/*
 * addrs: "host:port", "[v6]:port" or a URL with scheme; at least one.
 * Returns 0 and *out (caller frees with client_free), -EINVAL (err says
 * which address: empty, too long, too many) or -ENOMEM.
 */
int client_new(const char *const *addrs, size_t naddrs, const struct client_opts *opts,
		struct client **out, char *err, size_t errlen);
void client_free(struct client *mc);

/*
 * For a daemon that stops: calls in flight and later ones make at most one
 * attempt more and do not wait for a leader (they end with the last
 * attempt's result). NULL is fine.
 */
void client_shutdown(struct client *mc);

/* Base URL ("http://127.0.0.1:19999") of the master calls go to first. */
void client_leader(struct client *mc, char *buf, size_t len);

/*
 * httpc_json (lib/httpc.h) against the leader: path_query starts with
 * '/'. Same results: 0 with *out on 2xx, ST_EHTTP with the status and the
 * server's message for other replies, ST_EPEER when no master answered
 * before the deadline (err names the last one tried).
 */
int client_json(struct client *mc, struct httpc *hc, const char *method,
		 const char *path_query, const struct cJSON *req, struct cJSON **out, long *status,
		 char *err, size_t errlen);

/*
 * The same call, handing back the whole final reply whatever its status
 * (lib/httpc.h's httpc_json_reply; free it with httpc_json_reply_free):
 * 0 with *r filled, or ST_EPEER / -ENOMEM with nothing to free.
 */
struct httpc_json_reply;
int client_json_reply(struct client *mc, struct httpc *hc, const char *method,
		       const char *path_query, const struct cJSON *req,
		       struct httpc_json_reply *r, char *err, size_t errlen);

/*
 * The leader-following loop for callers with their own request (streams):
 * `attempt` sends to url (a master's base + path_query) and returns
 *   0        a reply: *status, and for a redirect *location (owned by the
 *            callee, valid until its next call);
 *   -EAGAIN  the master answered that there is no leader (see
 *            client_is_no_leader): try another;
 *   ST_EPEER the master could not be reached: try another;
 *   other    a local failure: the call ends with it.
 * client_call returns attempt's last rc; *status holds the last status.
 */
typedef int (*client_attempt_fn)(void *arg, const char *url, long *status,
				  const char **location, char *err, size_t errlen);
int client_call(struct client *mc, const char *path_query, client_attempt_fn attempt,
		 void *arg, long *status, char *err, size_t errlen);

/* True for the 503 a master without a known leader sends. */
bool client_is_no_leader(long status, const struct cJSON *body);

/*
 * Pure helper: the base ("scheme://host:port") of an absolute URL into
 * buf; -EINVAL if url has no scheme or host, -ENOSPC if buf is short.
 */
int client_url_base(const char *url, char *buf, size_t len);

/* ---- Typed calls ----
 *
 * Every typed call takes the group (mc) and one connection (hc, lib/httpc.h)
 * and returns 0 or a negative code:
 *   - the error the server named ("not_found" -> -ENOENT, "not_empty" ->
 *     -ENOTEMPTY, ...; lib/err.h st_rc_from_code; -EIO for codes it does not
 *     know), err saying "<path>: <reason>" for the path the call was about;
 *   - ST_EPEER when no master answered (err names the last one tried);
 *   - ST_EPROTO when a 2xx reply does not decode (err names the field);
 *   - -ENOMEM.
 * A reply struct is filled only on success (on failure it holds nothing to
 * free, but may be uninitialized: clear it only after a success or after
 * zeroing it); its strings and arrays belong to it and are released by its
 * _clear function, which also zeroes it and is safe on a zeroed struct. Each keeps the reply document as received in
 * `json` (for --json output and fields this version does not decode).
 * Ids are 64-bit: decimal strings on the wire (lib/json.h json_get_u64).
 */

/* Where one cached copy of a block is. */
struct client_location {
	uint64_t worker_id;
	char *address; /* "host:port" of the worker's data port */
	char *tier;    /* "MEM", "SSD", "HDD" */
};

struct client_block {
	uint64_t index;
	uint64_t id;
	uint64_t length;
	size_t nlocations;
	struct client_location *locations;
};

/* One file or directory (GET /api/v1/files/stat, list entries, mutations). */
struct client_inode {
	uint64_t id;
	char *path;
	char *name;
	bool is_dir;
	bool mount_point;
	uint64_t length;
	int64_t mtime_ms;
	char *fingerprint; /* "" for directories */
	char *etag;	   /* "" when the store gave none */
	int64_t block_size; /* 0 when not reported */
	/* Policies (docs/namespace.md); absent in a reply: none. */
	bool pinned;
	char *pin_medium;      /* "" any */
	int64_t ttl_ms;        /* 0 none */
	char *ttl_action;      /* "free", "delete"; "" none */
	int64_t ttl_expiry_ms; /* files: when the TTL fires; 0 none */
	int64_t repl_min;      /* 0 none */
	int64_t repl_max;      /* -1 unbounded */
	char *write_type;      /* default write type of new files below; "" none */
	char *persistence;     /* files: "not_persisted", "persisting", "persisted", "lost";
				* "" for directories (and older masters) */
	/* stat of a file under a mount only (else cached_percent < 0, 0 blocks) */
	double cached_percent;
	size_t nblocks;
	struct client_block *blocks;
	struct cJSON *json;
};
void client_inode_clear(struct client_inode *n);

/* GET /api/v1/files/stat?path= */
int client_fs_stat(struct client *mc, struct httpc *hc, const char *path,
		   struct client_inode *out, char *err, size_t errlen);

/* One page of a directory (GET /api/v1/files?path=&after=&limit=). */
struct client_listing {
	char *path;
	bool is_file; /* path named a file: entries holds it alone */
	size_t nentries;
	struct client_inode *entries;
	char *next_after; /* NULL on the last page; else pass it as `after` */
	struct cJSON *json;
};
void client_listing_clear(struct client_listing *l);

/* after: NULL for the first page; limit: 0 for the server's default. */
int client_fs_list(struct client *mc, struct httpc *hc, const char *path, const char *after,
		   int limit, struct client_listing *out, char *err, size_t errlen);

/* Namespace mutations. out (the inode as it is now) may be NULL. */
int client_mkdir(struct client *mc, struct httpc *hc, const char *path, bool parents,
		 struct client_inode *out, char *err, size_t errlen);
int client_rename(struct client *mc, struct httpc *hc, const char *src, const char *dst,
		  struct client_inode *out, char *err, size_t errlen);
int client_delete(struct client *mc, struct httpc *hc, const char *path, bool recursive,
		  char *err, size_t errlen);

/* Per-path policies: PUT / DELETE /api/v1/files/{pin,ttl,replication,write_type}. */
enum client_policy {
	CLIENT_POLICY_PIN,
	CLIENT_POLICY_TTL,
	CLIENT_POLICY_REPLICATION,
	CLIENT_POLICY_WRITE_TYPE,
};
struct client_policy_req {
	enum client_policy kind;
	bool recursive;
	const char *medium; /* PIN: NULL any */
	int64_t ttl_ms;     /* TTL */
	const char *action; /* TTL: NULL the server's default (delete) */
	int64_t min, max;   /* REPLICATION */
	const char *write_type; /* WRITE_TYPE */
};
/* Sets a policy; *changed (may be NULL) is false when path had it
 * already; out (may be NULL) gets the inode as it is now. */
int client_policy_set(struct client *mc, struct httpc *hc, const char *path,
		      const struct client_policy_req *r, bool *changed, struct client_inode *out,
		      char *err, size_t errlen);
/* Clears one (unpin, no TTL, replication 0..unbounded). */
int client_policy_clear(struct client *mc, struct httpc *hc, enum client_policy kind,
			const char *path, bool recursive, bool *changed,
			struct client_inode *out, char *err, size_t errlen);

/* Data jobs: /api/v1/jobs (load, free). */
struct client_job {
	uint64_t id;
	char type[8];
	char path[4096];
	char state[16];   /* queued, running, done, failed, cancelled */
	int64_t files_total, files_done, files_failed;
	int64_t bytes_total, bytes_done;
	int64_t rate_bytes_per_s, eta_ms; /* eta -1: unknown */
	char reason[256];
	struct cJSON *json; /* the job object as the master sent it (owned) */
};
/* Starts a job (medium may be NULL); its id in *id. */
int client_job_create(struct client *mc, struct httpc *hc, const char *type, const char *path,
		      bool recursive, const char *medium, uint64_t *id, char *err, size_t errlen);
/* One job with its errors (in out->json); client_job_clear frees. */
int client_job_get(struct client *mc, struct httpc *hc, uint64_t id, struct client_job *out,
		   char *err, size_t errlen);
/* Cancels; out (may be NULL) gets the job as it is then. */
int client_job_cancel(struct client *mc, struct httpc *hc, uint64_t id, struct client_job *out,
		      char *err, size_t errlen);
/* {"jobs":[...]} newest first; *out is the caller's (cJSON_Delete). */
int client_jobs_list(struct client *mc, struct httpc *hc, struct cJSON **out, char *err,
		     size_t errlen);
/* Decodes one job object (borrowed: out->json is left NULL). */
int client_job_decode(const struct cJSON *o, struct client_job *out, char *err, size_t errlen);
void client_job_clear(struct client_job *j);

struct client_mount {
	char *path;
	char *uri;
	bool readonly;
	int64_t block_size;	  /* 0 when not reported */
	int64_t sync_interval_ms; /* -1 never, 0 always */
};

struct client_mount_list {
	size_t n;
	struct client_mount *mounts;
	struct cJSON *json;
};
void client_mount_list_clear(struct client_mount_list *l);

/* options: noptions "KEY=VALUE" strings (s3.endpoint=..., block_size=...);
 * one without '=' or with an empty key is -EINVAL before any call. */
int client_mount_add(struct client *mc, struct httpc *hc, const char *path, const char *uri,
		     bool readonly, const char *const *options, size_t noptions, char *err,
		     size_t errlen);
int client_mount_list(struct client *mc, struct httpc *hc, struct client_mount_list *out,
		      char *err, size_t errlen);
/* Changes a mount's options (PUT /api/v1/mounts): "KEY=VALUE" sets one,
 * a bare "KEY" removes it (back to its default); an empty key is -EINVAL
 * before any call. *changed: false when they were already so. */
int client_mount_update(struct client *mc, struct httpc *hc, const char *path,
			const char *const *options, size_t noptions, bool *changed, char *err,
			size_t errlen);
int client_mount_remove(struct client *mc, struct httpc *hc, const char *path, char *err,
			size_t errlen);

struct client_worker {
	uint64_t id;
	char *address; /* host:data_port */
	char *host;
	int data_port;
	int s3_port;
	bool live;
	char *state; /* "live", "lost", "decommissioning" or "decommissioned" */
	char *version;
	int64_t capacity_bytes;
	int64_t used_bytes;
	int64_t registered_at_ms;
	int64_t last_heartbeat_ms_ago;
};

struct client_worker_list {
	size_t n;
	struct client_worker *workers;
	struct cJSON *json;
};
void client_worker_list_clear(struct client_worker_list *l);

/* GET /api/v1/workers */
int client_workers_list(struct client *mc, struct httpc *hc, struct client_worker_list *out,
			char *err, size_t errlen);
/* POST /api/v1/workers/decommission {"id"}: *out (caller frees) gets the
 * reply {"worker":{"id","address","state"}}. */
int client_worker_decommission(struct client *mc, struct httpc *hc, uint64_t id,
			       struct cJSON **out, char *err, size_t errlen);

/* One master of the group; numbers a master did not report are -1. */
struct client_master {
	uint64_t id;
	char *role; /* leader, follower, candidate, unreachable, unknown */
	char *raft_address;
	char *rest_url;
	bool self; /* the master that answered */
	int64_t term;
	int64_t commit_index;
	int64_t applied_index;
	int64_t lag;
};

/* GET /api/v1/cluster */
struct client_cluster {
	char *version;
	char *leader; /* host:port of the leader's REST API */
	int64_t started_at_ms;
	int64_t uptime_ms;
	int64_t workers_live;
	int64_t workers_lost;
	int64_t capacity_total_bytes;
	int64_t capacity_used_bytes;
	size_t nmasters;
	struct client_master *masters;
	size_t nworkers;
	struct client_worker *workers;
	struct cJSON *json;
};
void client_cluster_clear(struct client_cluster *c);
int client_cluster_get(struct client *mc, struct httpc *hc, struct client_cluster *out,
		       char *err, size_t errlen);

/* GET/POST/DELETE /api/v1/masters: the group as the answering master sees it. */
struct client_masters {
	uint64_t leader; /* 0: none known */
	int64_t term;
	size_t n;
	struct client_master *masters;
	struct cJSON *json;
};
void client_masters_clear(struct client_masters *m);
int client_masters_list(struct client *mc, struct httpc *hc, struct client_masters *out,
			char *err, size_t errlen);
int client_master_add(struct client *mc, struct httpc *hc, uint64_t id, const char *raft_address,
		      const char *rest_url, struct client_masters *out, char *err, size_t errlen);
int client_master_remove(struct client *mc, struct httpc *hc, uint64_t id,
			 struct client_masters *out, char *err, size_t errlen);

/* A named counter of a worker (the names of GET /api/v1/metrics on a
 * worker, without the "strata_worker_" prefix). */
struct client_counter {
	char *name;
	double value;
};

struct client_worker_metrics {
	uint64_t id;
	char *address;
	bool live;
	size_t ncounters;
	struct client_counter *counters;
};

/* GET /api/v1/metrics on a master: its own gauges, the sums of the live
 * workers' counters, and each worker's counters. */
struct client_metrics {
	int64_t workers_live;
	int64_t workers_lost;
	int64_t capacity_bytes;
	int64_t used_bytes;
	int64_t cached_blocks;
	int64_t journal_applied_index;
	struct {
		char *role;
		uint64_t leader;
		int64_t term, commit_index, applied_index, last_index, snapshot_index;
		int64_t proposals, proposals_failed, batches, batch_entries, batch_max;
		int64_t fsync_us_total, fsync_us_max, snapshots, snapshot_ms_total;
		int64_t snapshot_ms_last, snapshot_bytes_last, snapshots_installed;
		int64_t elections_won;
		bool failed;
	} raft;
	size_t ncluster;
	struct client_counter *cluster;
	size_t nworkers;
	struct client_worker_metrics *workers;
	struct cJSON *json;
};
void client_metrics_clear(struct client_metrics *m);
int client_metrics_get(struct client *mc, struct httpc *hc, struct client_metrics *out,
		       char *err, size_t errlen);

/* The value of counter `name` among n, or `dflt` when absent. */
double client_counter_value(const struct client_counter *c, size_t n, const char *name,
			    double dflt);

/* ---- Bulk data: through a worker, never through a master ----
 *
 * The master's list (GET /api/v1/workers) gives the live workers; the
 * first tried is chosen by the path (repeated reads of one file go to the
 * same worker and find its metadata warm), and one that does not answer
 * GET /api/v1/health is passed over for the next. The bytes then stream
 * over GET/PUT <worker>/api/v1/data?path= (the worker's cache and write
 * types; same scheme as the masters'). A stream that breaks midway is not
 * retried: bytes may already be out. Errors as for the typed calls, and
 * ST_EPEER with err "<path>: no live worker ..." when none answers.
 */

/* Writes the whole file to out. */
int client_data_get(struct client *mc, struct httpc *hc, const char *path, FILE *out,
		    char *err, size_t errlen);
/* The same for a reader that knows the version it wants (data_id: its
 * blocks' content id, from a stat): a worker whose metadata names another
 * asks the master again first. 0: as client_data_get. */
int client_data_get_version(struct client *mc, struct httpc *hc, const char *path,
			    uint64_t data_id, FILE *out, char *err, size_t errlen);

/* write_type: "CACHE_THROUGH" (the worker's default when NULL) or
 * "THROUGH"; size: bytes in `in`, -1 unknown (a pipe). *length (may be
 * NULL) gets the length the worker stored. */
int client_data_put(struct client *mc, struct httpc *hc, const char *path, FILE *in,
		    int64_t size, const char *write_type, uint64_t *length, char *err,
		    size_t errlen);

/* Decoders of the replies above, for callers that got the JSON another way
 * (and for tests): 0, -ENOMEM, or ST_EPROTO with err naming the field. The
 * document is not kept (out->json stays NULL). */
int client_inode_decode(const struct cJSON *doc, struct client_inode *out, char *err,
			size_t errlen);
int client_worker_list_decode(const struct cJSON *doc, struct client_worker_list *out,
			      char *err, size_t errlen);
int client_metrics_decode(const struct cJSON *doc, struct client_metrics *out, char *err,
			  size_t errlen);

/* ---- For monitors (strata-top, client/monitor.c) ---- */

/*
 * Makes addr ("host:port", which gets the current leader's scheme, or a
 * URL) where the next calls start. A follower answers reads itself, from
 * its own state (its worker registry is empty: workers report to the
 * leader), and names the leader in GET /api/v1/cluster's `leader`: a
 * caller that wants the leader's figures points the client there.
 * -EINVAL for an empty or too long address.
 */
int client_set_leader(struct client *mc, const char *addr);

/* One tier of a worker as its GET /api/v1/metrics reports it. */
struct client_tier_stats {
	char *name; /* "MEM", "SSD", "HDD" */
	int64_t capacity_bytes, used_bytes, blocks;
	int64_t bytes_served, hits, evictions, demotions; /* cumulative */
};

/* A worker's own GET /api/v1/metrics: its counters (names without the
 * "strata_worker_" prefix, as in client_worker_metrics) and its tiers. */
/* Reads under one mount at a worker (cumulative): requests clients sent
 * to it, and block reads it served as owner (from the tiers or the store). */
struct client_mount_stats {
	char *mount; /* "" for reads under no mount the worker knew */
	int64_t read_requests, bytes_requested;
	int64_t block_hits, block_misses, bytes_from_cache, bytes_from_ufs;
};
/* A path among the worker's most requested lately (counts halve every
 * minute; may be over by `error`). */
struct client_path_stats {
	char *path;
	double requests, bytes, error;
};
struct client_worker_stats {
	size_t ncounters;
	struct client_counter *counters;
	size_t ntiers;
	struct client_tier_stats *tiers;
	size_t nmounts; /* 0 from a worker that does not report them */
	struct client_mount_stats *mounts;
	size_t npaths;
	struct client_path_stats *top_paths; /* most requests first */
	struct cJSON *json;
};
void client_worker_stats_clear(struct client_worker_stats *s);

/* Asks the worker itself (base_url: "http://host:port" of its REST port),
 * not the masters: one attempt, no leader following. Errors as for the
 * typed calls (ST_EPEER when it does not answer). */
int client_worker_metrics(struct httpc *hc, const char *base_url,
			  struct client_worker_stats *out, char *err, size_t errlen);

/* GET /api/v1/metrics/history: the leader's samples of the cluster, as
 * columns of `count` values each, oldest first ("t_ms", "workers_live",
 * "block_hits_total", ...; docs/openapi.json MetricsHistory). */
struct client_history_column {
	char *name;
	int64_t *values;
};
struct client_history {
	int64_t interval_ms;
	int64_t capacity;
	size_t count;
	size_t ncolumns;
	struct client_history_column *columns;
	struct cJSON *json;
};
void client_history_clear(struct client_history *h);
/* The values of column `name`, or NULL when the reply had none. */
const int64_t *client_history_column(const struct client_history *h, const char *name);

/* since_ms < 0: every sample kept. -ENOENT when the master has no such
 * route (404: a version without history); else as the typed calls. */
int client_metrics_history(struct client *mc, struct httpc *hc, int64_t since_ms,
			   struct client_history *out, char *err, size_t errlen);

int client_worker_stats_decode(const struct cJSON *doc, struct client_worker_stats *out,
			       char *err, size_t errlen);
int client_history_decode(const struct cJSON *doc, struct client_history *out, char *err,
			  size_t errlen);

/* ---- Worker -> master calls (the internal routes; the worker token goes
 * in hc's extra header) ----
 *
 * Same error contract as the typed calls, with err naming the path the
 * call was about (or the route), and these route-specific codes:
 *   - client_worker_heartbeat: -ENOENT when the master does not know the
 *     worker (404 unknown_worker: register again);
 *   - client_files_lookup, client_epoch_get: -ENOSYS when the master has
 *     no such route (404/405 from an older master).
 * Request structs are borrowed for the call; reply structs follow the
 * rules above (filled on success, released by their _clear).
 */

/* A block a worker holds: its id and tier level (0 = fastest). */
struct client_block_held {
	uint64_t id;
	int tier;
};

/* POST /api/v1/workers/register: every block held goes in `blocks`. */
struct client_registration {
	const char *host;
	int data_port;
	int s3_port;
	const char *version;
	int64_t capacity_bytes;
	int64_t used_bytes;
	size_t nblocks;
	const struct client_block_held *blocks;
};
/* *worker_id: the id the master gave (never 0: a 0 is ST_EPROTO). */
int client_worker_register(struct client *mc, struct httpc *hc,
			   const struct client_registration *reg, uint64_t *worker_id, char *err,
			   size_t errlen);
/* The same, and *pins (caller frees; NULL when *npins is 0) gets the reply's
 * "pin": blocks of the list the worker should pin again because their file
 * is not persisted yet or is pinned (a restart keeps blocks, not pins). */
int client_worker_register_pins(struct client *mc, struct httpc *hc,
				const struct client_registration *reg, uint64_t *worker_id,
				uint64_t **pins, size_t *npins, char *err, size_t errlen);
/* The reply of a registration ({"worker_id"[,"pin"]}); *worker_id is set
 * only on success, and a refused reply leaves *pins NULL. 0, ST_EPROTO
 * (err names the field), -ENOMEM. */
int client_register_reply_decode(const struct cJSON *doc, uint64_t *worker_id, uint64_t **pins,
				 size_t *npins, char *err, size_t errlen);

/* POST /api/v1/workers/heartbeat: the changes since the last report. */
struct client_heartbeat {
	uint64_t worker_id;
	int64_t capacity_bytes;
	int64_t used_bytes;
	size_t nadded; /* new blocks, and blocks that changed tier */
	const struct client_block_held *added;
	size_t nremoved;
	const uint64_t *removed;
	const struct cJSON *metrics; /* the worker's counters object, or NULL */
	/* The address it registered with (NULL: not sent): a master that gave
	 * worker_id to another address (it restarted and numbered the workers
	 * again) answers unknown_worker, so this one registers again. */
	const char *host;
	int data_port;
};

/* A live worker as a heartbeat reply lists it. */
struct client_peer {
	uint64_t id;
	char *host;
	int data_port;
};

/* A copy the master orders (docs/replication.md): fetch block of the file
 * at path (content data_id) from the worker at source (host:port). */
struct client_replica_order {
	uint64_t block;
	uint64_t data_id;
	char *path;
	char *source;
};

struct client_heartbeat_reply {
	size_t npeers;
	struct client_peer *peers; /* the live workers, in the master's order */
	bool has_mounts;           /* the master sent its mount paths */
	size_t nmounts;
	char **mounts;
	size_t ncopies;            /* "replicate": copies to make */
	struct client_replica_order *copies;
	size_t ndrops;             /* "drop": blocks to remove */
	uint64_t *drops;
	struct cJSON *json;
};
void client_heartbeat_reply_clear(struct client_heartbeat_reply *r);
/* ST_EPROTO (a 2xx whose body does not decode) means the master took the
 * report all the same. */
int client_worker_heartbeat(struct client *mc, struct httpc *hc,
			    const struct client_heartbeat *hb, struct client_heartbeat_reply *out,
			    char *err, size_t errlen);

/* The under-store of a mount: its URI and its string options (the others,
 * if any, are not store options and are left out). */
struct client_store_opt {
	char *key;
	char *value;
};
struct client_store {
	char *uri;
	size_t nopts;
	struct client_store_opt *opts;
};

/* An InternalFile: what a worker needs to read a file through its cache,
 * including its mount's store credentials. */
struct client_file_info {
	char *path;
	uint64_t length;
	uint64_t data_id;
	int64_t block_size;
	int64_t mtime_ms; /* 0 when not reported */
	char *etag;	  /* "" unless written through S3 */
	char *ufs_path;	  /* relative to the store */
	uint64_t epoch;	  /* the master's namespace epoch for it; 0 unknown */
	int64_t trust_ms; /* trusted this long at an unchanged epoch; -1 for ever */
	bool pinned;      /* its blocks are never evicted */
	char pin_medium[8]; /* "MEM", "SSD", "HDD": its blocks are kept there or higher; "" any */
	char *mount_path; /* the mount holding it ("" when not reported) */
	uint64_t mount_epoch; /* that mount's epoch for it; 0 unknown (older master) */
	/* "persistence" (absent: persisted): the store does not hold it yet
	 * (not_persisted, persisting), or it is lost. */
	bool unpersisted, lost;
	struct client_store store;
	struct cJSON *json;
};
void client_file_info_clear(struct client_file_info *f);

/* GET /api/v1/internal/file?path= */
int client_file_lookup(struct client *mc, struct httpc *hc, const char *path,
		       struct client_file_info *out, char *err, size_t errlen);

/*
 * GET /api/v1/internal/file?path=&lazy=1: as client_file_lookup, or
 * ST_ENOTLOADED when the master does not know path yet and asks the worker
 * to read it from its store (daemon/master/lazyload.h): out then holds the
 * store, ufs_path and block_size (data_id 0) and must be cleared too.
 */
int client_file_lookup_lazy(struct client *mc, struct httpc *hc, const char *path,
			    struct client_file_info *out, char *err, size_t errlen);

/* POST /api/v1/internal/file/loaded: what the worker's read of a
 * not_loaded file found in its store; out gets the recorded file.
 * worker_id (0: not sent) and index: who read which block, so the leader
 * names new content such that this worker owns that block. */
struct client_file_loaded {
	const char *path;
	uint64_t length;
	int64_t mtime_ms;
	const char *fingerprint;
	uint64_t worker_id, index;
};
struct cJSON *client_file_loaded_encode(const struct client_file_loaded *d);
int client_file_loaded(struct client *mc, struct httpc *hc, const struct client_file_loaded *d,
		       struct client_file_info *out, char *err, size_t errlen);

/* POST /api/v1/internal/files: n paths (the master takes up to 256) in one
 * call. On 0, rcs[i] is 0 with infos[i] filled (clear each), or the code
 * the master gave for paths[i] (infos[i] then holds nothing), or ST_EPROTO
 * when that entry does not decode. infos and rcs: n elements, the caller's. */
int client_files_lookup(struct client *mc, struct httpc *hc, const char *const *paths,
			size_t n, int *rcs, struct client_file_info *infos, char *err,
			size_t errlen);

/* The per-mount epochs of GET /api/v1/internal/epoch: n mounts, paths[i]
 * at epochs[i]. */
struct client_mount_epochs {
	size_t n;
	char **paths;
	uint64_t *epochs;
};
void client_mount_epochs_clear(struct client_mount_epochs *m);
/* Decodes the reply's "mounts" object (absent: none, from an older
 * master); ST_EPROTO naming the mount whose epoch is not a decimal
 * string. */
int client_mount_epochs_decode(const struct cJSON *doc, struct client_mount_epochs *out,
			       char *err, size_t errlen);

/* GET /api/v1/internal/epoch: the leader's namespace epoch (>= 1) and,
 * when mounts is not NULL, its per-mount epochs (clear them). */
int client_epoch_get(struct client *mc, struct httpc *hc, uint64_t *epoch,
		     struct client_mount_epochs *mounts, char *err, size_t errlen);

/* POST /api/v1/internal/write/begin {"path"}: where, and under which
 * content id, to write path. */
struct client_write_grant {
	uint64_t data_id; /* never 0 */
	int64_t block_size;
	char *ufs_path;
	char write_type[16]; /* the path's default ("CACHE_THROUGH" when not told) */
	int64_t repl_min;    /* copies a write to the caches only makes (>= 1) */
	struct client_store store;
	struct cJSON *json;
};
void client_write_grant_clear(struct client_write_grant *g);
int client_write_begin(struct client *mc, struct httpc *hc, const char *path,
		       struct client_write_grant *out, char *err, size_t errlen);

/* POST /api/v1/internal/write/commit: the file as it now is in its store. */
struct client_write_done {
	const char *path;
	uint64_t data_id;
	uint64_t length;
	int64_t mtime_ms;
	const char *fingerprint;
	const char *etag; /* NULL or "": none */
	const char *write_type; /* NULL: the store holds it (THROUGH, CACHE_THROUGH) */
};
int client_write_commit(struct client *mc, struct httpc *hc, const struct client_write_done *d,
			char *err, size_t errlen);

/* The encoders and decoders of the calls above (pure; for tests). Encoders
 * return the request document (caller frees) or NULL without memory;
 * decoders the contract of client_inode_decode (out->json stays NULL). */
struct cJSON *client_registration_encode(const struct client_registration *reg);
struct cJSON *client_heartbeat_encode(const struct client_heartbeat *hb);
struct cJSON *client_write_done_encode(const struct client_write_done *d);
int client_heartbeat_reply_decode(const struct cJSON *doc, struct client_heartbeat_reply *out,
				  char *err, size_t errlen);
int client_file_info_decode(const struct cJSON *doc, struct client_file_info *out, char *err,
			    size_t errlen);
int client_write_grant_decode(const struct cJSON *doc, struct client_write_grant *out,
			      char *err, size_t errlen);

/* ---- REST tokens (docs/security.md, "REST tokens") ----
 *
 * What a user program sends as "Authorization: Bearer <token>": the token
 * in the file flag_file (a --token-file flag; NULL: none), else
 * $STRATA_TOKEN, else the file $STRATA_TOKEN_FILE names. A file holds the
 * token on its first line (blanks around it ignored). Writes the header
 * line for httpc_opts.extra_header into header ("" when no token is
 * configured) and returns 0, or a negative errno with err naming the file
 * or the variable (unreadable file, empty token, token too long).
 */
int client_token_header(const char *flag_file, char *header, size_t len, char *err,
			size_t errlen);

/*
 * After a call failed with ST_EAUTH (401) or ST_EFORBIDDEN (403): a line
 * for the user that says what to do ("needs a token: set STRATA_TOKEN ...",
 * "token role readonly cannot ..."), with the server's message (err of the
 * call) kept. had_token: whether a token was sent. Other rc: err as is.
 */
void client_auth_hint(int rc, bool had_token, const char *err, char *out, size_t len);

#endif
