#ifndef STRATA_API_HTTP_H
#define STRATA_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

/*
 * The HTTP server both daemons share: a CivetWeb listener with a route table,
 * JSON bodies through cJSON, and one error envelope,
 *   {"error": {"code": "not_found", "message": "no route for GET /x"}}
 * with a fitting status. Unknown paths get 404, a known path with another
 * method 405 (with Allow), oversized JSON 413, malformed JSON 400 naming the
 * byte offset.
 */
struct http_req;
struct http_server;

/* A handler replies exactly once through an http_reply_* call. */
typedef void (*http_handler_fn)(struct http_req *req, void *ctx);

/*
 * Who may call a route. Every route declares one; dispatch checks it once,
 * after routing and before the handler, so a handler never runs for a caller
 * its level refuses (and never needs to check again).
 *
 *   HTTP_ACCESS_PUBLIC    anyone who reaches the port (health, the
 *                         console's static files, the OpenAPI document).
 *   HTTP_ACCESS_READONLY  reads of cluster state: with user auth on (see
 *                         below) a readonly or admin bearer token.
 *   HTTP_ACCESS_ADMIN     changes to the cluster or namespace: an admin
 *                         token (a readonly one gets 403 "forbidden").
 *   HTTP_ACCESS_WORKER    worker RPC and the peer block routes: with
 *                         http_server_opts.worker_token set the request must
 *                         carry it in X-Strata-Worker-Token (constant-time
 *                         compare): absent -> 401 "unauthorized", wrong ->
 *                         403 "forbidden". Without a token only loopback
 *                         peers are served (403 "forbidden" otherwise).
 *   HTTP_ACCESS_METRICS   Prometheus /metrics: PUBLIC when
 *                         http_server_opts.metrics_public, else READONLY.
 *
 * User auth (docs/security.md, "REST tokens"): with opts.token_file set,
 * READONLY and ADMIN routes need "Authorization: Bearer stk_<id>_<secret>"
 * (lib/tokens.h) once the file holds a token, and always when the server
 * binds a non-loopback address (with no token that is a startup error
 * unless opts.insecure_no_auth). Missing, malformed, unknown, revoked or
 * wrong tokens get 401 "unauthorized" with WWW-Authenticate: Bearer. The
 * file is re-read within a second of a change. A request carrying the
 * right X-Strata-Worker-Token counts as admin (a worker's S3 gateway calls
 * the namespace routes for its clients, who authenticate to it with S3
 * keys). Without opts.token_file READONLY and ADMIN are served like PUBLIC.
 *
 * 0 is deliberately no level: a route left at it is refused with 500
 * "internal" (and tests/unit/test_api_routes.c fails on such a table).
 */
enum http_access {
	HTTP_ACCESS_UNSET = 0,
	HTTP_ACCESS_PUBLIC,
	HTTP_ACCESS_READONLY,
	HTTP_ACCESS_ADMIN,
	HTTP_ACCESS_WORKER,
	HTTP_ACCESS_METRICS,
};

/* "public", "readonly", "admin", "worker", "metrics"; "unset" for 0 or out
 * of range. */
const char *http_access_name(enum http_access access);

struct http_route {
	const char *method;  /* "GET", "POST", ... */
	const char *pattern; /* exact path; with a trailing '/', a prefix */
	enum http_access access;
	http_handler_fn fn;
};

enum http_tls_client_auth {
	HTTP_TLS_CLIENT_NONE = 0,
	HTTP_TLS_CLIENT_OPTIONAL,
	HTTP_TLS_CLIENT_REQUIRED,
};

struct strata_conf;
/* A daemon's REST/data port setting: http.tls_client_auth, raised to
 * OPTIONAL when cluster.mtls asks for client certificates. */
enum http_tls_client_auth http_tls_client_auth_conf(const struct strata_conf *c);

struct http_server_opts {
	const char *name;       /* for logs: "master REST", "worker S3" */
	const char *bind;       /* IPv4/IPv6 literal or host name */
	int port;               /* 0: any free port (http_server_port tells) */
	int threads;
	int64_t request_timeout_ms;
	/* How long an idle keep-alive connection may hold a server thread
	 * (one thread per connection); 0: 60 s. */
	int64_t keep_alive_ms;
	int64_t max_json_body;
	int64_t max_header_size; /* request head (CivetWeb max_request_size); 0: 16 KiB */
	int64_t idle_timeout_ms; /* keep-alive idle, and later heads on a connection; 0: 60 s */
	const char *tls_cert;   /* both set: HTTPS only */
	const char *tls_key;
	/* Client certificates (mutual TLS, TLS only): HTTP_TLS_CLIENT_NONE
	 * asks for none; OPTIONAL asks, and one that does not chain to tls_ca
	 * fails the handshake while clients without one are served; REQUIRED
	 * refuses a connection without a verified one at the handshake. */
	int tls_client_auth;    /* enum http_tls_client_auth */
	const char *tls_ca;     /* PEM bundle client certificates must chain to */
	/* cluster.mtls: HTTP_ACCESS_WORKER routes also need a verified client
	 * certificate (403 "forbidden" without one). Without tls_client_auth
	 * no client sends one, so those routes refuse everyone. */
	bool worker_needs_cert;
	/* Called for a request no route matches; NULL: 404 envelope. */
	http_handler_fn fallback;
	/* Keep the request path as sent (the S3 gateway needs the encoded form
	 * to verify signatures and to tell "a%2Fb" from "a/b"): http_req_path
	 * is then not URL-decoded (dot segments are still removed there) and
	 * http_req_raw_path is exactly what the client sent. */
	bool raw_path;
	/* Runs before routing (also for unknown paths); returns true when it
	 * replied, and the route is then not called: the master's "not the
	 * leader" redirect, decided before any handler side effect. */
	bool (*before)(struct http_req *req, void *ctx);
	/* cluster.worker_token: what HTTP_ACCESS_WORKER routes require (see
	 * enum http_access). NULL or "": loopback peers only. Copied. */
	const char *worker_token;
	/* http.token_file: the user tokens READONLY and ADMIN routes check (see
	 * enum http_access). NULL or "": no user auth. Copied. A file that
	 * cannot be used (mode with group/other bits, syntax) fails the start. */
	const char *token_file;
	bool metrics_public;   /* http.metrics_public */
	bool insecure_no_auth; /* http.insecure_no_auth */
	/* Offered every http_reply_rc first; returns true when it replied
	 * (the master turns ST_ENOTLEADER into its redirect). */
	bool (*reply_rc)(struct http_req *req, int rc, const char *msg, void *ctx);
};

/*
 * Starts listening. routes must outlive the server; ctx is passed to every
 * handler. Returns NULL with the reason (address in use, bad TLS files...)
 * in err.
 */
struct http_server *http_server_start(const struct http_server_opts *opts,
				      const struct http_route *routes, size_t nroutes, void *ctx,
				      char *err, size_t errlen);
/* Stops accepting, waits for handlers in flight, frees. NULL is fine. */
void http_server_stop(struct http_server *srv);
/* "http://127.0.0.1:19999" or "https://[::1]:19999" */
const char *http_server_url(const struct http_server *srv);
/* The port it listens on (the one the kernel picked for opts.port 0). */
int http_server_port(const struct http_server *srv);

/* Request accessors; strings live as long as the request. */
const char *http_req_method(const struct http_req *req);
const char *http_req_path(const struct http_req *req);      /* decoded, no query */
const char *http_req_query(const struct http_req *req);     /* raw, may be NULL */
const char *http_req_header(const struct http_req *req, const char *name);
const char *http_req_remote(const struct http_req *req);
/* The path as in the request line, without the query: still URL-encoded
 * when the server runs with raw_path, decoded otherwise. */
const char *http_req_raw_path(const struct http_req *req);
/* For a prefix route "/p/": the path after "/p/" (may be empty). */
const char *http_req_rest(const struct http_req *req);
/* What the request's credentials allow under user auth (enum http_access):
 * "open" (auth is off: everything), "admin" or "readonly" (a valid token;
 * the worker credential is "admin"), "none" (no token sent) or "refused"
 * (a token that is malformed, unknown, revoked or wrong). */
const char *http_req_role(struct http_req *req);
/* The server's ctx (what handlers get), for hooks and helpers. */
void *http_req_ctx(const struct http_req *req);
/* Decoded query parameter into buf (NUL-terminated). Returns its decoded
 * length (which counts any %00 inside), -ENOENT when absent, -ENOSPC when
 * it does not fit. */
int http_req_param(const struct http_req *req, const char *name, char *buf, size_t len);
/* Reads up to len bytes of the request body: bytes read, 0 at its end,
 * negative on error. */
long http_req_read(struct http_req *req, void *buf, size_t len);

/*
 * Reads and parses the JSON body. On any failure it has already replied
 * (400 malformed / not an object, 413 too large, 415 wrong type) and returns
 * a negative errno; the handler must then just return. *out is the caller's.
 */
int http_req_json(struct http_req *req, struct cJSON **out);

/* An extra response header (http_reply_json_headers, http_reply_start_headers). */
struct http_header {
	const char *name;
	const char *value;
};

/* Replies. body is consumed (deleted) by http_reply_json. */
void http_reply_json(struct http_req *req, int status, struct cJSON *body);
void http_reply_json_headers(struct http_req *req, int status, struct cJSON *body,
			     const struct http_header *extra, size_t nextra);
void http_reply_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Maps a negative errno/strata rc to status + code, with message. */
void http_reply_rc(struct http_req *req, int rc, const char *msg);
void http_reply_raw(struct http_req *req, int status, const char *content_type,
		    const void *data, size_t len);
/* Streaming reply: headers with a known length, then the body in pieces.
 * Returns 0, or -EPIPE once the client has gone. */
void http_reply_start(struct http_req *req, int status, const char *content_type,
		      uint64_t content_length);
int http_reply_write(struct http_req *req, const void *data, size_t len);

/* http_reply_start plus extra headers (ETag, Content-Range, x-amz-...);
 * content_type may be NULL. For HEAD only the headers go out. */
void http_reply_start_headers(struct http_req *req, int status, const char *content_type,
			      uint64_t content_length, const struct http_header *extra,
			      size_t nextra);
/* After a streaming reply failed midway: closes the connection once the
 * handler returns, so the client sees a body shorter than promised rather
 * than waiting for the rest. */
void http_abort(struct http_req *req);
/* True once a reply (or its headers) went out. */
bool http_replied(const struct http_req *req);

#endif
