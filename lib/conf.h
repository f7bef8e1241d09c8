#ifndef STRATA_LIB_CONF_H
#define STRATA_LIB_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Configuration: one declarative table (STRATA_CONF_KEYS) from which the
 * struct, the parser, --help, docs/configuration.md's check and the REST
 * config view all come.
 *
 * Sources, later wins: built-in defaults, the config file (`key = value`,
 * `#` comments), STRATA_<KEY> environment variables (dots become
 * underscores, upper case: master.port -> STRATA_MASTER_PORT), and
 * `--set key=value`. Unknown keys and bad values are errors that name the
 * key and where it came from (file and line, variable, or flag).
 *
 * Value types:
 *   STR       free text
 *   INT       decimal integer within [min, max]
 *   SIZE      bytes: 4096, 64KB, 512MiB, 4GB, 1TB (K/M/G/T powers of 1024;
 *             KB, KiB and K mean the same)
 *   DURATION  milliseconds internally: 250ms, 30s, 5m, 2h, 1d; a bare
 *             number means seconds
 *   BOOL      true/false, yes/no, on/off, 1/0
 *   LIST      comma-separated items, blanks around items trimmed
 *   ENUM      one of the '|'-separated choices
 *   SECRET    free text that is never shown: conf_format (every config
 *             view: REST, CLI, logs) renders it as "(set)" or "(unset)";
 *             only the struct field holds the value
 */

struct conf_list {
	char **items; /* owned */
	size_t n;
};

#define CONF_CTYPE_STR char *
#define CONF_CTYPE_INT int64_t
#define CONF_CTYPE_SIZE int64_t
#define CONF_CTYPE_DURATION int64_t
#define CONF_CTYPE_BOOL bool
#define CONF_CTYPE_LIST struct conf_list
#define CONF_CTYPE_ENUM char *
#define CONF_CTYPE_SECRET char *

/* X(field, key, TYPE, default, min, max, choices, doc) */
#define STRATA_CONF_KEYS(X)                                                                   \
	X(log_level, "log.level", ENUM, "info", 0, 0, "debug|info|warn|error",                \
	  "Lowest level of log lines written to stderr.")                                     \
	X(master_bind, "master.bind", STR, "127.0.0.1", 0, 0, NULL,                           \
	  "Address the master's REST, console and worker RPC server listens on "              \
	  "(IPv4 or IPv6 literal, or a host name). Loopback unless you open it.")             \
	X(master_port, "master.port", INT, "19999", 1, 65535, NULL,                           \
	  "TCP port of the master's REST, console and worker RPC server.")                    \
	X(master_state_dir, "master.state_dir", STR, "", 0, 0, NULL,                          \
	  "Directory for the master's metadata and Raft log. Empty: /var/lib/strata/master "   \
	  "for the service user, else $XDG_STATE_HOME (or ~/.local/state)/strata/"            \
	  "master-<port>.")                                                                   \
	X(master_worker_timeout, "master.worker_timeout", DURATION, "30s", 100, 86400000,    \
	  NULL, "A worker with no heartbeat for this long is marked lost.")                   \
	X(master_ttl_check_interval, "master.ttl_check_interval", DURATION, "60s", 100,        \
	  86400000, NULL, "How often the leader looks for files whose TTL expired and acts "   \
	  "on them (free or delete).")                                                        \
	X(master_persist_retries, "master.persist_retries", INT, "100", 0, 1000, NULL,         \
	  "Times a persist job retries a slice of files its store refused (then the files "   \
	  "are reported failed and stay not persisted).")                                     \
	X(master_persist_backoff, "master.persist_backoff", DURATION, "1s", 10, 3600000,      \
	  NULL, "Wait before a persist job's first retry; doubled after each failure.")        \
	X(master_persist_backoff_max, "master.persist_backoff_max", DURATION, "60s", 10,       \
	  86400000, NULL, "Longest wait between a persist job's retries.")                    \
	X(master_persist_check_interval, "master.persist_check_interval", DURATION, "5s",     \
	  100, 86400000, NULL, "How often the leader checks that files not persisted yet "     \
	  "still have a cached copy of every block on a live worker (else they are lost).")    \
	X(master_root_ufs, "master.root_ufs", STR, "", 0, 0, NULL,                            \
	  "Store mounted at / when nothing is mounted there yet, e.g. file:///srv/data or "   \
	  "s3://bucket/prefix. Empty: the root is mounted by hand (strata fs mount).")       \
	X(master_mount_block_size, "master.mount.block_size", SIZE, "4MB", 1048576,           \
	  536870912, NULL, "Block size of a mount that does not set block_size.")             \
	X(master_mount_sync_interval, "master.mount.sync_interval", STR, "30s", 0, 0, NULL,   \
	  "How often metadata of a mounted store is re-checked, for mounts that do not set "  \
	  "sync_interval: never (load once), always, or a duration such as 30s.")             \
	X(master_snapshot_every, "master.snapshot_every", INT, "10000", 1, 100000000, NULL,   \
	  "Raft log entries applied between snapshots of the namespace (a copy of its "       \
	  "database); the log is compacted behind each snapshot.")                            \
	X(master_id, "master.id", INT, "1", 1, INT64_MAX, NULL,                               \
	  "This master's id in its Raft group; unique among the masters, never reused.")      \
	X(master_raft_port, "master.raft_port", INT, "19200", 1, 65535, NULL,                 \
	  "TCP port of the Raft transport between masters (bound on master.bind). A single "  \
	  "master opens it only once another master is added.")                               \
	X(master_peers, "master.peers", LIST, "", 0, 0, NULL,                                 \
	  "Every master of the group, ID@RAFT_HOST:RAFT_PORT@REST_HOST:REST_PORT each (the "  \
	  "REST part may start with http:// or https://; IPv6 hosts in brackets); it must "   \
	  "list master.id. Used to form a new group and as the address book until the "       \
	  "group records its own. Empty: a group of just this master.")                       \
	X(master_join, "master.join", BOOL, "false", 0, 0, NULL,                              \
	  "Start with no Raft configuration and wait to be added to an existing group "       \
	  "(POST /api/v1/masters on its leader) instead of forming a new one; master.peers "  \
	  "must then list the group's masters and this one.")                                 \
	X(master_raft_tick, "master.raft.tick", DURATION, "100ms", 10, 10000, NULL,           \
	  "Raft's unit of time: heartbeats and election timeouts are counted in ticks.")      \
	X(master_raft_election_ticks, "master.raft.election_ticks", INT, "8", 2, 1000, NULL, \
	  "Election timeout in ticks, drawn at random from [n, 2n): a follower that hears "   \
	  "no leader for that long starts an election. With 100ms ticks a failed leader is "  \
	  "replaced within about 1.6 s.")                                                     \
	X(master_raft_heartbeat_ticks, "master.raft.heartbeat_ticks", INT, "1", 1, 999,      \
	  NULL, "Ticks between a leader's heartbeats; must be below "                         \
	  "master.raft.election_ticks.")                                                      \
	X(master_raft_tls, "master.raft.tls", BOOL, "false", 0, 0, NULL,                      \
	  "Raft between masters over mutually authenticated TLS: each master presents "      \
	  "http.tls_cert/http.tls_key on the Raft port and to its peers, and accepts only "   \
	  "peers whose certificate chains to http.tls_ca (a plaintext or unknown peer is "    \
	  "closed before it is read). Every master of the group must set it. false: "        \
	  "plaintext, no authentication.")                                                     \
	X(master_addresses, "master.addresses", LIST, "127.0.0.1:19999", 0, 0, NULL,          \
	  "host:port of every master; workers and the CLI contact these.")                    \
	X(worker_bind, "worker.bind", STR, "127.0.0.1", 0, 0, NULL,                           \
	  "Address the worker's data/RPC server and S3 gateway listen on.")                   \
	X(worker_port, "worker.port", INT, "29999", 1, 65535, NULL,                           \
	  "TCP port of the worker's data/RPC server.")                                        \
	X(worker_s3_port, "worker.s3_port", INT, "39999", 1, 65535, NULL,                     \
	  "TCP port of the worker's S3-compatible gateway.")                                  \
	X(worker_s3_fastpath, "worker.s3.fastpath", BOOL, "true", 0, 0, NULL,                 \
	  "Serve S3 GET/HEAD of cached objects from the S3 server's event loops with "        \
	  "sendfile (through kTLS when TLS is configured and the kernel offers it). false: " \
	  "every request goes to the pool (worker.s3.pool_threads).")                        \
	X(worker_s3_open_file_keep, "worker.s3.open_file_keep", DURATION, "10m", 0, 86400000,  \
	  NULL, "How long the S3 front keeps an unused cached block's file open for the next "  \
	  "read of it (a file closes anyway as soon as its block leaves the tier, and when "  \
	  "the worker runs short of descriptors). 0: close files 2 s after their last use.")  \
	X(worker_s3_threads, "worker.s3.threads", INT, "0", 0, 64, NULL,                      \
	  "Event-loop threads of the S3 front. 0: one per CPU the worker may run on.")       \
	X(worker_s3_pool_threads, "worker.s3.pool_threads", INT, "16", 1, 1024, NULL,         \
	  "Threads that run the S3 requests the event loops do not answer themselves "        \
	  "(writes, listings, misses). Up to 8 times as many requests wait for one; more "    \
	  "get 503 SlowDown.")                                                                 \
	X(worker_s3_cpu_affinity, "worker.s3.cpu_affinity", BOOL, "true", 0, 0, NULL,         \
	  "Pin S3 front loop i to the i-th CPU the worker may run on, when there are no "     \
	  "more loops than such CPUs. Loops that share a core with each other or with busy "   \
	  "clients wait for it; pinned, the p90/p99 of cache hits dropped 2-3x in "            \
	  "bench/read.sh. false: the scheduler places them.")                                  \
	X(worker_s3_key_file, "worker.s3.key_file", STR, "", 0, 0, NULL,                     \
	  "File of S3 access keys (id, secret, role, buckets; strata admin s3key writes "     \
	  "it). With at least one key every S3 request must be SigV4-signed by one; no file " \
	  "or no key: the S3 port is open. Refused when group or others may read it. "        \
	  "Re-read within a second of a change. Empty: <worker.data_dir>/s3-keys.")           \
	X(worker_s3_anonymous_read_buckets, "worker.s3.anonymous_read_buckets", LIST, "", 0, \
	  0, NULL, "Buckets anyone may read without a signature (GET, HEAD, listings) "       \
	  "while S3 access keys are configured. Empty: none.")                                \
	X(worker_s3_multipart_expiry, "worker.s3.multipart_expiry", DURATION, "24h", 0,      \
	  INT64_MAX, NULL, "A multipart upload that received no part for this long is "      \
	  "aborted and its parts deleted (list them with ListMultipartUploads). 0: never.")   \
	X(worker_hostname, "worker.hostname", STR, "", 0, 0, NULL,                            \
	  "Host name or address the worker advertises to the master and peers. Empty: "       \
	  "worker.bind, or this machine's host name when worker.bind is a wildcard.")         \
	X(worker_heartbeat_interval, "worker.heartbeat_interval", DURATION, "3s", 50,         \
	  600000, NULL, "How often the worker reports to the master. A report with no "      \
	  "reply within ten intervals (at least 2 s, at most http.request_timeout) is given " \
	  "up and the next master tried. On a master: the period of the replication check "   \
	  "(docs/replication.md).")                                                    \
	X(worker_data_dir, "worker.data_dir", STR, "", 0, 0, NULL,                            \
	  "Directory for the worker's own state. Empty: /var/cache/strata/worker for the "    \
	  "service user, else $XDG_CACHE_HOME (or ~/.cache)/strata/worker-<port>.")           \
	X(worker_tier_mem_dir, "worker.tier.mem.dir", STR, "", 0, 0, NULL,                    \
	  "Directory of the MEM tier (should be on tmpfs). Empty: /dev/shm/strata-<uid>/"     \
	  "worker-<port> when /dev/shm exists, else <worker.data_dir>/mem.")                  \
	X(worker_local_socket, "worker.local_socket", STR, "local.sock", 0, 0, NULL,          \
	  "Unix domain socket on which the worker hands clients on its host (strata-fuse) "   \
	  "open descriptors of cached MEM-tier blocks, so they read them without a copy "     \
	  "through HTTP (short-circuit reads, docs/fuse.md). Relative: inside "               \
	  "worker.data_dir. Created mode 0660: every user or group that may connect may "     \
	  "read every cached block, tokens or not (docs/security.md). Empty: off.")           \
	X(worker_tier_mem_quota, "worker.tier.mem.quota", SIZE, "1GB", 1048576,               \
	  INT64_C(1) << 50, NULL, "Capacity of the MEM tier.")                                \
	X(worker_tier_ssd_dirs, "worker.tier.ssd.dirs", LIST, "", 0, 0, NULL,                 \
	  "Directories of the SSD tier (empty: no SSD tier). The quota is split evenly "      \
	  "between them.")                                                                    \
	X(worker_tier_ssd_quota, "worker.tier.ssd.quota", SIZE, "10GB", 1048576,              \
	  INT64_C(1) << 50, NULL, "Capacity of the SSD tier.")                                \
	X(worker_tier_hdd_dirs, "worker.tier.hdd.dirs", LIST, "", 0, 0, NULL,                 \
	  "Directories of the HDD tier (empty: no HDD tier).")                                \
	X(worker_tier_hdd_quota, "worker.tier.hdd.quota", SIZE, "100GB", 1048576,             \
	  INT64_C(1) << 50, NULL, "Capacity of the HDD tier.")                                \
	X(worker_tier_policy, "worker.tier.policy", ENUM, "lru", 0, 0, "lru|lfu",             \
	  "Which blocks a full tier moves down or evicts first.")                             \
	X(worker_metadata_ttl, "worker.metadata_ttl", DURATION, "1s", 0, 3600000, NULL,       \
	  "How stale a worker's view of a file may be: it reuses metadata from the master "   \
	  "this long, and longer while a check of the leader's epochs (every "                \
	  "quarter of it) finds its mount's epoch unchanged. 0: ask the master on every "     \
	  "read.")                                                                            \
	X(worker_metadata_keep_warm, "worker.metadata_keep_warm", DURATION, "5m", 0,          \
	  86400000, NULL, "How long after its last read a file's metadata is refreshed "      \
	  "ahead of its expiry, so a read after a pause (longer than the mount's sync "       \
	  "interval) still takes the fast path. Costs the master one batched lookup per "     \
	  "128 such files about once per sync interval. 0: only while read.")                 \
	X(worker_metadata_cache_files, "worker.metadata_cache_files", INT, "131072", 64,      \
	  16777216, NULL, "Files whose metadata a worker keeps (about 200 bytes each plus "   \
	  "their path and store path: some 30 MB for the default).")                          \
	X(cluster_worker_token, "cluster.worker_token", SECRET, "", 0, 0, NULL,               \
	  "Shared secret workers present to masters and to each other (header "               \
	  "X-Strata-Worker-Token) for worker RPC, which hands out mount credentials, and "    \
	  "for the peer block routes. Empty: these are served to loopback peers only. Never " \
	  "logged; config views show (set) or (unset).")                                      \
	X(cluster_mtls, "cluster.mtls", BOOL, "false", 0, 0, NULL,                            \
	  "Mutual TLS between daemons on the REST/data ports: every strata program presents " \
	  "http.tls_cert/http.tls_key as its client certificate when it calls a daemon, "    \
	  "REST ports ask for one (http.tls_client_auth is at least optional) and worker "    \
	  "RPC and peer block routes refuse a caller without a verified one. Needs TLS "       \
	  "(http.tls_cert, http.tls_key).")                                                   \
	X(http_threads, "http.threads", INT, "32", 2, 1024, NULL,                             \
	  "Worker threads of each HTTP server.")                                              \
	X(http_request_timeout, "http.request_timeout", DURATION, "30s", 100, 3600000, NULL, \
	  "Time a server waits for a request to arrive, and a client for a reply.")           \
	X(http_max_json_body, "http.max_json_body", SIZE, "1MB", 1024, INT64_C(1) << 30,      \
	  NULL, "Largest JSON request body a REST endpoint accepts (413 above).")             \
	X(http_token_file, "http.token_file", STR, "", 0, 0, NULL,                            \
	  "File of REST bearer tokens (strata admin token create|list|revoke), mode 0600; "   \
	  "re-read within a second of a change. Empty: <master.state_dir>/tokens on a "       \
	  "master, <worker.data_dir>/tokens on a worker. Auth is on once it holds a token, "   \
	  "and always when the port binds a non-loopback address.")                            \
	X(http_metrics_public, "http.metrics_public", BOOL, "true", 0, 0, NULL,               \
	  "Serve Prometheus /metrics without a token when auth is on (a scraper needs no "    \
	  "credentials; it shows counters, no paths or secrets). false: a readonly token.")   \
	X(http_insecure_no_auth, "http.insecure_no_auth", BOOL, "false", 0, 0, NULL,          \
	  "Let a REST port bound to a non-loopback address start with no token (anyone who "  \
	  "reaches it may do anything); logged as a warning. false: that is a startup error.") \
	X(http_tls_cert, "http.tls_cert", STR, "", 0, 0, NULL,                                \
	  "PEM certificate (chain) file. When set with http.tls_key, REST and console "       \
	  "ports serve HTTPS only.")                                                          \
	X(http_tls_key, "http.tls_key", STR, "", 0, 0, NULL,                                  \
	  "PEM private key file for http.tls_cert. Only its path is ever logged.")            \
	X(http_tls_ca, "http.tls_ca", STR, "", 0, 0, NULL,                                    \
	  "PEM file of the certificates daemons and the CLI trust when they call an "         \
	  "HTTPS peer. Empty: http.tls_cert (one self-signed certificate per cluster).")      \
	X(http_tls_client_auth, "http.tls_client_auth", ENUM, "none", 0, 0,                   \
	  "none|optional|required", "Client certificates on this daemon's REST/data port "   \
	  "(TLS only): none: not asked for; optional: asked for, and one that does not "      \
	  "chain to http.tls_ca fails the handshake, but clients without one (console, "      \
	  "CLI) are served; required: a connection without a verified certificate is "        \
	  "refused at the handshake.")                                                       \
	X(http_max_header_size, "http.max_header_size", SIZE, "16KB", 1024, 1048576, NULL,    \
	  "Largest request head (request line and headers) on every HTTP port: REST, "        \
	  "console and worker data ports answer 413 above it, the S3 gateway 400; then the "  \
	  "connection is closed. It is also the per-connection read buffer of REST ports.")   \
	X(http_idle_timeout, "http.idle_timeout", DURATION, "60s", 100, 3600000, NULL,        \
	  "A keep-alive connection with no request for this long is closed (every HTTP "     \
	  "port). On REST ports it also bounds the head of a second or later request on a "   \
	  "connection (the first: http.request_timeout).")                                    \
	X(worker_s3_max_object_size, "worker.s3.max_object_size", SIZE, "5GB", 1024,          \
	  INT64_C(5) << 30, NULL, "Largest body of one S3 PUT (an object or a multipart "    \
	  "part); a larger declared or sent body gets 400 EntityTooLarge.")                   \
	X(master_raft_max_frame, "master.raft.max_frame", SIZE, "1GB", 65536, 1073741824,     \
	  NULL, "Largest Raft frame a master accepts; a connection announcing a larger one "  \
	  "is closed before its body is read. Must exceed the largest snapshot (a copy of "   \
	  "the namespace database) the group ships.")                                         \
	X(master_raft_frame_timeout, "master.raft.frame_timeout", DURATION, "30s", 100,       \
	  3600000, NULL, "A Raft frame must arrive whole within this from its first byte, "   \
	  "plus a second per MiB it announces (a snapshot on a slow link); a connection "     \
	  "that trickles (a slow or hostile client) is closed and counted. Idle "             \
	  "connections between frames are not affected.")

enum conf_type {
	CONF_STR,
	CONF_INT,
	CONF_SIZE,
	CONF_DURATION,
	CONF_BOOL,
	CONF_LIST,
	CONF_ENUM,
	CONF_SECRET,
};

struct strata_conf {
#define CONF_FIELD(field, key, type, def, min, max, choices, doc) CONF_CTYPE_##type field;
	STRATA_CONF_KEYS(CONF_FIELD)
#undef CONF_FIELD
};

struct conf_key {
	const char *name;
	enum conf_type type;
	const char *def;
	int64_t min, max; /* INT, SIZE, DURATION; both 0: unbounded */
	const char *choices; /* ENUM */
	const char *doc;
	size_t offset;
};

/* The table, in documentation order. */
const struct conf_key *conf_keys(size_t *nkeys);
const struct conf_key *conf_find(const char *name);
const char *conf_type_name(enum conf_type type);

/* Fills every field with its default. Aborts only if the built-in table is
 * broken, which a unit test rules out. */
void conf_init(struct strata_conf *c);
/* Frees what the fields own; leaves c zeroed. */
void conf_free(struct strata_conf *c);

/* Sets one key from text. origin ("strata.conf:12", "--set", ...) prefixes
 * the message in err. Returns 0, -ENOENT for an unknown key, -EINVAL for a
 * bad value. */
int conf_set(struct strata_conf *c, const char *key, const char *value, const char *origin,
	     char *err, size_t errlen);

/* Parses config text (name is used in messages). Duplicate keys are errors. */
int conf_parse_text(struct strata_conf *c, const char *text, size_t len, const char *name,
		    char *err, size_t errlen);
/* Reads and parses a config file; -ENOENT etc. when it cannot be read. */
int conf_load_file(struct strata_conf *c, const char *path, char *err, size_t errlen);
/* Applies STRATA_* variables from envp. STRATA_CONFIG (the config path),
 * STRATA_TOKEN and STRATA_TOKEN_FILE (the client's REST token) are
 * skipped; any other STRATA_ name that matches no key is an error. */
int conf_load_env(struct strata_conf *c, char *const *envp, char *err, size_t errlen);

/* Renders a field's current value as config text; a SECRET key renders as
 * "(set)" or "(unset)", never its value. Returns bytes written. */
size_t conf_format(const struct strata_conf *c, const struct conf_key *k, char *buf, size_t len);
/* Environment variable name for a key (STRATA_MASTER_PORT). */
void conf_env_name(const char *key, char *buf, size_t len);

/* TLS files as every program uses them: the CA bundle peers are verified
 * against (http.tls_ca, else http.tls_cert: one self-signed certificate per
 * cluster), and the client certificate and key presented to daemons (with
 * cluster.mtls: http.tls_cert/http.tls_key; else NULL). Borrowed from c. */
const char *conf_tls_ca(const struct strata_conf *c);
const char *conf_tls_client_cert(const struct strata_conf *c);
const char *conf_tls_client_key(const struct strata_conf *c);

/* Typed value parsers, shared with the CLI and REST layer. 0 or -EINVAL. */
int conf_parse_int(const char *s, int64_t *out);
int conf_parse_size(const char *s, int64_t *out);
int conf_parse_duration(const char *s, int64_t *out_ms);
int conf_parse_bool(const char *s, bool *out);

#endif
