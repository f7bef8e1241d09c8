#ifndef STRATA_CLIENT_CLIENT_H
#define STRATA_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct httpc;

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

#endif
