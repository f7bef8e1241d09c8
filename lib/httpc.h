#ifndef STRATA_LIB_HTTPC_H
#define STRATA_LIB_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cJSON;

/*
 * HTTP client over libcurl. One struct httpc keeps one curl handle, so
 * consecutive requests to the same peer reuse the connection (keep-alive).
 * Calls on one httpc are serialized by an internal lock; give each busy
 * thread its own httpc for parallelism.
 */
struct httpc;

struct httpc_opts {
	int64_t timeout_ms;         /* whole request; 0: 30 s */
	int64_t connect_timeout_ms; /* 0: 5 s */
	const char *ca_file;        /* PEM bundle to verify HTTPS peers; NULL: system's */
	bool insecure_tls;          /* accept any server certificate (CLI --insecure) */
	/* PEM client certificate (chain) and key presented to a server that
	 * asks for one (mutual TLS, cluster.mtls); NULL: none. Both or neither. */
	const char *client_cert;
	const char *client_key;
	const char *extra_header;   /* "Name: value" sent with every request, or NULL */
};

struct httpc_resp {
	long status;
	char *body; /* owned, NUL-terminated (the NUL is not counted in len) */
	size_t len;
	char *location; /* owned: where a 3xx reply points (not followed), or NULL */
};

/* Returns NULL on allocation failure. */
struct httpc *httpc_new(const struct httpc_opts *opts);
void httpc_free(struct httpc *hc);

/*
 * Sends one request. On success (any HTTP status) fills *resp, which the
 * caller frees with httpc_resp_free, and returns 0. On a transport failure
 * returns ST_EPEER (refused, unreachable, timeout, TLS) with the reason in err.
 */
int httpc_request(struct httpc *hc, const char *method, const char *url,
		  const char *content_type, const void *body, size_t len,
		  struct httpc_resp *resp, char *err, size_t errlen);
void httpc_resp_free(struct httpc_resp *resp);

/* URL-encodes s for a query string; caller frees. NULL on OOM. */
char *httpc_escape(const char *s);

/* "<route>?path=<path, URL-encoded><extra>" (extra may be NULL, else it
 * starts with '&'); caller frees. NULL on OOM. */
char *httpc_path_query(const char *route, const char *path, const char *extra);

/*
 * Streams: upload `in` (size bytes, -1 unknown) as the request body, and/or
 * write a 2xx reply body to `out` (a non-2xx body is kept in resp). Either
 * may be NULL. resp->body holds the reply only when out is NULL or the
 * status is not 2xx.
 */
int httpc_stream(struct httpc *hc, const char *method, const char *url, FILE *in,
		 int64_t size, FILE *out, struct httpc_resp *resp, char *err, size_t errlen);

/*
 * JSON round trip: sends `req` (may be NULL: no body) and parses the reply.
 * On 2xx stores the parsed reply in *out (caller frees with cJSON_Delete;
 * out may be NULL) and returns 0. A non-2xx reply returns ST_EHTTP with the
 * server's error envelope message in err and its status in *status.
 * A reply that is not JSON returns ST_EPROTO. status may be NULL.
 */
int httpc_json(struct httpc *hc, const char *method, const char *url, const struct cJSON *req,
	       struct cJSON **out, long *status, char *err, size_t errlen);

/*
 * The same round trip, keeping everything of the reply whatever its
 * status: r->status, r->json (the parsed body or NULL when empty or not
 * JSON; caller frees) and r->location (a 3xx's target or NULL; caller
 * frees). Returns 0 for any HTTP reply, ST_EPEER / -ENOMEM otherwise; err
 * is filled as httpc_json fills it for non-2xx or non-JSON replies.
 */
struct httpc_json_reply {
	long status;
	struct cJSON *json;
	char *location;
	bool not_json; /* a non-empty body that did not parse */
};
int httpc_json_reply(struct httpc *hc, const char *method, const char *url,
		     const struct cJSON *req, struct httpc_json_reply *r, char *err, size_t errlen);
void httpc_json_reply_free(struct httpc_json_reply *r);
/* httpc_json's verdict on a reply: 0 with *out (may be NULL) on 2xx JSON,
 * ST_EHTTP or ST_EPROTO; *status (may be NULL) gets the status. Frees r. */
int httpc_json_reply_take(struct httpc_json_reply *r, struct cJSON **out, long *status);

#endif
