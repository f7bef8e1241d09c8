#include "api/http.h"

#include "api/http_auth.h"
#include "api/http_int.h"

#include "lib/conf.h"
#include "lib/err.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <civetweb.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_server {
	struct mg_context *mg;
	const struct http_route *routes;
	size_t nroutes;
	void *ctx;
	struct http_server_opts opts; /* strings below are our copies */
	char *name, *tls_cert, *tls_key, *tls_ca, *worker_token;
	struct http_auth *auth; /* NULL: no user auth (opts.token_file unset) */
	char url[160];
	int port;
	char tls_error[256];
};

struct http_req {
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	struct http_server *srv;
	const char *rest;
	bool replied;
	struct http_fdr *fdr; /* set: a request of the socket backend (http_fd.c) */
	void *fd_ctx;
};

static pthread_once_t g_mg_once = PTHREAD_ONCE_INIT;

static void mg_init_once(void)
{
	mg_init_library(MG_FEATURES_TLS | MG_FEATURES_IPV6 | MG_FEATURES_WEBSOCKET);
}

/* ---- replies ---- */

static void send_reply_headers(struct http_req *req, int status, const char *content_type,
			       const void *data, size_t len, const struct http_header *extra,
			       size_t nextra)
{
	if (req->replied) {
		log_error("%s: second reply to %s %s dropped", req->fdr ? "S3" : req->srv->name,
			  http_req_method(req), http_req_path(req));
		return;
	}
	req->replied = true;
	if (req->fdr) {
		http_fdr_reply_start(req->fdr, status, content_type, len, extra, nextra, true);
		http_fdr_write(req->fdr, data, len);
		return;
	}
	char clen[32];
	snprintf(clen, sizeof(clen), "%zu", len);
	mg_response_header_start(req->conn, status);
	if (content_type)
		mg_response_header_add(req->conn, "Content-Type", content_type, -1);
	mg_response_header_add(req->conn, "Content-Length", clen, -1);
	mg_response_header_add(req->conn, "Cache-Control", "no-store", -1);
	for (size_t i = 0; i < nextra; i++)
		mg_response_header_add(req->conn, extra[i].name, extra[i].value, -1);
	mg_response_header_send(req->conn);
	if (len && strcmp(req->ri->request_method, "HEAD") != 0)
		mg_write(req->conn, data, len);
}

static void send_reply(struct http_req *req, int status, const char *content_type,
		       const void *data, size_t len, const struct http_header *extra)
{
	send_reply_headers(req, status, content_type, data, len, extra, extra ? 1 : 0);
}

void http_reply_raw(struct http_req *req, int status, const char *content_type,
		    const void *data, size_t len)
{
	send_reply(req, status, content_type, data, len, NULL);
}

void http_reply_json(struct http_req *req, int status, cJSON *body)
{
	http_reply_json_headers(req, status, body, NULL, 0);
}

void http_reply_json_headers(struct http_req *req, int status, cJSON *body,
			     const struct http_header *extra, size_t nextra)
{
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	cJSON_Delete(body);
	if (!text) {
		static const char oom[] =
			"{\"error\":{\"code\":\"out_of_memory\",\"message\":\"reply too large\"}}";
		send_reply(req, 500, "application/json", oom, sizeof(oom) - 1, NULL);
		return;
	}
	send_reply_headers(req, status, "application/json", text, strlen(text), extra, nextra);
	free(text);
}

/* The error envelope with one optional extra header (Allow on 405,
 * WWW-Authenticate on 401). */
static void reply_error_header(struct http_req *req, int status, const char *code,
			       const struct http_header *extra, const char *msg)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text) {
		send_reply(req, 500, "text/plain", "out of memory", 13, NULL);
		return;
	}
	send_reply(req, status, "application/json", text, strlen(text), extra);
	free(text);
}

static void reply_error_allow(struct http_req *req, int status, const char *code,
			      const char *allow, const char *msg)
{
	struct http_header h = { "Allow", allow };
	reply_error_header(req, status, code, allow ? &h : NULL, msg);
}

void http_reply_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_error_header(req, status, code, NULL, msg);
}

static int status_for_rc(int rc)
{
	switch (rc) {
	case -ENOENT:
		return 404;
	case -EEXIST:
	case -ENOTEMPTY:
		return 409;
	case -EINVAL:
	case -ENAMETOOLONG:
	case ST_EBADCONF:
	case ST_EUSAGE:
		return 400;
	case -EACCES:
	case -EPERM:
	case ST_EFORBIDDEN:
		return 403;
	case ST_EAUTH:
		return 401;
	case -EROFS:
		return 403;
	case -EBUSY:
		return 409;
	case -ENOTDIR:
	case -EISDIR:
	case -EXDEV:
	case -ENOTSUP:
		return 400;
	case -ENOSPC:
		return 507;
	case -ETIMEDOUT:
		return 504;
	case ST_ECONFBUSY:
	case ST_ESTALE:
		return 409;
	case ST_ENOMOUNT:
	case ST_ETOOSMALL:
		return 400;
	case ST_ENOTLOADED:
		return 404;
	case ST_ELOST:
		return 410;
	case -EAGAIN:
	case -ECONNREFUSED:
	case ST_EPEER:
	case ST_ENOTLEADER: /* without a hook that redirects (see reply_rc) */
	case ST_ENOLEADER:
		return 503;
	case ST_EHTTP:
	case ST_EPROTO:
		return 502;
	default:
		return 500;
	}
}

void http_reply_rc(struct http_req *req, int rc, const char *msg)
{
	if (req->srv && req->srv->opts.reply_rc && req->srv->opts.reply_rc(req, rc, msg, req->srv->ctx))
		return;
	http_reply_error(req, status_for_rc(rc), st_errcode(rc), "%s",
			 msg && *msg ? msg : st_strerror(rc));
}

/* ---- request accessors ---- */

const char *http_req_method(const struct http_req *req)
{
	return req->fdr ? http_fdr_method(req->fdr) : req->ri->request_method;
}

/* The socket backend keeps the path as sent (the S3 gateway's raw_path). */
const char *http_req_path(const struct http_req *req)
{
	return req->fdr ? http_fdr_path(req->fdr) : req->ri->local_uri;
}

const char *http_req_query(const struct http_req *req)
{
	return req->fdr ? http_fdr_query(req->fdr) : req->ri->query_string;
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	return req->fdr ? http_fdr_header(req->fdr, name) : mg_get_header(req->conn, name);
}

const char *http_req_remote(const struct http_req *req)
{
	return req->fdr ? "" : req->ri->remote_addr;
}

const char *http_req_raw_path(const struct http_req *req)
{
	if (req->fdr)
		return http_fdr_path(req->fdr);
	return req->ri->local_uri_raw ? req->ri->local_uri_raw : "";
}

const char *http_req_rest(const struct http_req *req)
{
	return req->rest ? req->rest : "";
}

void *http_req_ctx(const struct http_req *req)
{
	return req->fdr ? req->fd_ctx : req->srv->ctx;
}

int http_req_param(const struct http_req *req, const char *name, char *buf, size_t len)
{
	const char *q = http_req_query(req);
	if (!q)
		return -ENOENT;
	int n = mg_get_var(q, strlen(q), name, buf, len);
	if (n == -1)
		return -ENOENT;
	if (n < 0)
		return -ENOSPC;
	return n;
}

long http_req_read(struct http_req *req, void *buf, size_t len)
{
	if (req->fdr)
		return http_fdr_read(req->fdr, buf, len);
	int n = mg_read(req->conn, buf, len);
	return n < 0 ? -EIO : n;
}

void http_reply_start_headers(struct http_req *req, int status, const char *content_type,
			      uint64_t content_length, const struct http_header *extra,
			      size_t nextra)
{
	if (req->replied)
		return;
	req->replied = true;
	if (req->fdr) {
		http_fdr_reply_start(req->fdr, status, content_type, content_length, extra, nextra,
				     false);
		return;
	}
	char clen[32];
	snprintf(clen, sizeof(clen), "%llu", (unsigned long long)content_length);
	mg_response_header_start(req->conn, status);
	if (content_type)
		mg_response_header_add(req->conn, "Content-Type", content_type, -1);
	mg_response_header_add(req->conn, "Content-Length", clen, -1);
	for (size_t i = 0; i < nextra; i++)
		mg_response_header_add(req->conn, extra[i].name, extra[i].value, -1);
	mg_response_header_send(req->conn);
}

void http_reply_start(struct http_req *req, int status, const char *content_type,
		      uint64_t content_length)
{
	http_reply_start_headers(req, status, content_type, content_length, NULL, 0);
}

int http_reply_write(struct http_req *req, const void *data, size_t len)
{
	if (req->fdr)
		return http_fdr_write(req->fdr, data, len);
	if (strcmp(req->ri->request_method, "HEAD") == 0)
		return 0;
	return mg_write(req->conn, data, len) == (int)len ? 0 : -EPIPE;
}

void http_abort(struct http_req *req)
{
	if (req->fdr) {
		http_fdr_abort(req->fdr);
		return;
	}
	mg_disable_connection_keep_alive(req->conn);
}

bool http_replied(const struct http_req *req)
{
	return req->replied;
}

int http_req_json(struct http_req *req, cJSON **out)
{
	*out = NULL;
	if (req->fdr) { /* no JSON routes on the socket backend */
		http_reply_error(req, 415, "unsupported_media_type", "no JSON here");
		return -EINVAL;
	}
	const char *ctype = mg_get_header(req->conn, "Content-Type");
	if (ctype && strncasecmp(ctype, "application/json", 16) != 0) {
		http_reply_error(req, 415, "unsupported_media_type",
				 "expected Content-Type application/json, got '%.64s'", ctype);
		return -EINVAL;
	}
	int64_t max = req->srv->opts.max_json_body;
	long long clen = req->ri->content_length;
	if (clen > max) {
		http_reply_error(req, 413, "payload_too_large",
				 "request body of %lld bytes exceeds http.max_json_body (%lld)",
				 clen, (long long)max);
		return -EFBIG;
	}
	size_t cap = clen >= 0 ? (size_t)clen + 1 : 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		http_reply_error(req, 500, "out_of_memory", "cannot buffer request body");
		return -ENOMEM;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if ((int64_t)cap > max + 1) {
				free(buf);
				http_reply_error(req, 413, "payload_too_large",
						 "request body exceeds http.max_json_body (%lld)",
						 (long long)max);
				return -EFBIG;
			}
			char *grown = realloc(buf, cap * 2);
			if (!grown) {
				free(buf);
				http_reply_error(req, 500, "out_of_memory",
						 "cannot buffer request body");
				return -ENOMEM;
			}
			buf = grown;
			cap *= 2;
		}
		int n = mg_read(req->conn, buf + len, cap - len - 1);
		if (n < 0) {
			free(buf);
			http_reply_error(req, 400, "bad_request", "could not read request body");
			return -EIO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if ((int64_t)len > max) {
		free(buf);
		http_reply_error(req, 413, "payload_too_large",
				 "request body exceeds http.max_json_body (%lld)", (long long)max);
		return -EFBIG;
	}
	buf[len] = '\0';
	const char *end = NULL;
	cJSON *json = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
	if (!json) {
		size_t at = end ? (size_t)(end - buf) : len;
		if (at > len)
			at = len;
		http_reply_error(req, 400, "malformed_json",
				 len ? "request body is not valid JSON (error at byte %zu)"
				     : "request body is empty; a JSON object is required",
				 at);
		free(buf);
		return -EINVAL;
	}
	free(buf);
	if (!cJSON_IsObject(json)) {
		cJSON_Delete(json);
		http_reply_error(req, 400, "malformed_json", "request body must be a JSON object");
		return -EINVAL;
	}
	*out = json;
	return 0;
}

void http_req_run_fd(struct http_fdr *r, http_handler_fn fn, void *ctx)
{
	struct http_req req = { .fdr = r, .fd_ctx = ctx };
	fn(&req, ctx);
	if (!req.replied) {
		log_error("S3: handler for %s %s did not reply", http_req_method(&req),
			  http_req_path(&req));
		http_reply_error(&req, 500, "internal", "handler did not reply");
	}
}

/* ---- routing ---- */

static bool pattern_match(const char *pattern, const char *path, const char **rest)
{
	size_t plen = strlen(pattern);
	if (plen >= 2 && pattern[plen - 1] == '/') {
		/* "/a/" matches "/a/" + anything, and "/a" itself. */
		size_t base = plen - 1;
		if (strncmp(path, pattern, base) != 0)
			return false;
		if (path[base] == '\0') {
			*rest = "";
			return true;
		}
		if (path[base] != '/')
			return false;
		*rest = path + base + 1;
		return true;
	}
	*rest = NULL;
	return strcmp(pattern, path) == 0;
}

enum http_tls_client_auth http_tls_client_auth_conf(const struct strata_conf *c)
{
	/* the config parser admits only the three words */
	if (strcmp(c->http_tls_client_auth, "required") == 0)
		return HTTP_TLS_CLIENT_REQUIRED;
	if (strcmp(c->http_tls_client_auth, "optional") == 0 || c->cluster_mtls)
		return HTTP_TLS_CLIENT_OPTIONAL;
	return HTTP_TLS_CLIENT_NONE;
}

const char *http_access_name(enum http_access access)
{
	switch (access) {
	case HTTP_ACCESS_PUBLIC:
		return "public";
	case HTTP_ACCESS_READONLY:
		return "readonly";
	case HTTP_ACCESS_ADMIN:
		return "admin";
	case HTTP_ACCESS_WORKER:
		return "worker";
	case HTTP_ACCESS_METRICS:
		return "metrics";
	default:
		return "unset";
	}
}

static bool is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strncmp(addr, "::ffff:127.", 11) == 0;
}

/* The worker-RPC rule of enum http_access: true when the caller may go on,
 * else it has replied 401 or 403. */
static bool worker_authorized(struct http_req *req)
{
	const char *want = req->srv->worker_token;
	const char *remote = http_req_remote(req);
	if (req->srv->opts.worker_needs_cert && !(req->ri && req->ri->client_cert)) {
		http_reply_error(req, 403, "forbidden",
				 "worker RPC from %s refused: cluster.mtls is on and the caller "
				 "presented no client certificate", remote);
		return false;
	}
	if (!want) {
		if (is_loopback(remote))
			return true;
		http_reply_error(req, 403, "forbidden",
				 "worker RPC from %s refused: set cluster.worker_token on masters and "
				 "workers to serve workers on other hosts",
				 remote);
		return false;
	}
	const char *got = http_req_header(req, "X-Strata-Worker-Token");
	if (!got) {
		static const struct http_header h = { "WWW-Authenticate", "X-Strata-Worker-Token" };
		reply_error_header(req, 401, "unauthorized", &h,
				   "X-Strata-Worker-Token is required");
		return false;
	}
	size_t n = strlen(want);
	if (strlen(got) == n && CRYPTO_memcmp(got, want, n) == 0)
		return true;
	http_reply_error(req, 403, "forbidden", "wrong X-Strata-Worker-Token");
	return false;
}

/* Is the worker credential on this request (cluster.worker_token)? */
static bool has_worker_token(struct http_req *req)
{
	const char *want = req->srv->worker_token;
	const char *got = want ? http_req_header(req, "X-Strata-Worker-Token") : NULL;
	size_t n = want ? strlen(want) : 0;
	return got && strlen(got) == n && CRYPTO_memcmp(got, want, n) == 0;
}

static void reply_401(struct http_req *req, bool invalid, const char *msg)
{
	static const struct http_header missing = { "WWW-Authenticate", "Bearer realm=\"strata\"" };
	static const struct http_header bad = {
		"WWW-Authenticate", "Bearer realm=\"strata\", error=\"invalid_token\""
	};
	reply_error_header(req, 401, "unauthorized", invalid ? &bad : &missing, msg);
}

/* What the request's credentials are worth: the worker credential is
 * admin; otherwise its bearer token (api/http_auth.h). */
static enum http_auth_verdict auth_check(struct http_req *req, enum tokens_role *role)
{
	struct http_server *srv = req->srv;
	*role = TOKENS_ROLE_ADMIN;
	/* The socket backend (the S3 port) has no user auth: S3 keys. */
	if (!srv || !srv->auth)
		return HTTP_AUTH_OPEN;
	if (has_worker_token(req))
		return HTTP_AUTH_OK;
	return http_auth_check(srv->auth, http_req_header(req, "Authorization"),
			       http_req_method(req), http_req_path(req), http_req_remote(req), role);
}

const char *http_req_role(struct http_req *req)
{
	enum tokens_role role;
	switch (auth_check(req, &role)) {
	case HTTP_AUTH_OPEN:
		return "open";
	case HTTP_AUTH_OK:
		return tokens_role_name(role);
	case HTTP_AUTH_MISSING:
		return "none";
	default:
		return "refused";
	}
}

/* The user-token rule of enum http_access for a route that needs `need`:
 * true when the caller may go on, else it has replied 401 or 403. */
static bool user_authorized(struct http_req *req, enum tokens_role need)
{
	enum tokens_role role;
	const char *method = http_req_method(req), *path = http_req_path(req);
	char msg[512];
	switch (auth_check(req, &role)) {
	case HTTP_AUTH_OPEN:
		return true;
	case HTTP_AUTH_OK:
		break;
	case HTTP_AUTH_MISSING:
		snprintf(msg, sizeof(msg),
			 "%s %.200s needs a token: send 'Authorization: Bearer <token>' "
			 "(tokens come from strata admin token create)",
			 method, path);
		reply_401(req, false, msg);
		return false;
	case HTTP_AUTH_SCHEME:
		reply_401(req, true, "the Authorization header must be 'Bearer <token>'");
		return false;
	case HTTP_AUTH_MALFORMED:
		reply_401(req, true, "malformed token: want stk_<id>_<secret>");
		return false;
	case HTTP_AUTH_REFUSED:
		reply_401(req, true, "invalid or revoked token");
		return false;
	case HTTP_AUTH_BROKEN:
		reply_401(req, true,
			  "the server's token file is unusable (see its log); no token is accepted "
			  "until it is fixed");
		return false;
	}
	if (need == TOKENS_ROLE_ADMIN && role != TOKENS_ROLE_ADMIN) {
		http_reply_error(req, 403, "forbidden",
				 "token role %s cannot %s %.200s: it needs an admin token",
				 tokens_role_name(role), method, path);
		return false;
	}
	return true;
}

/* The one access check (enum http_access), run before the route's handler. */
static bool access_allowed(struct http_req *req, const struct http_route *route)
{
	switch (route->access) {
	case HTTP_ACCESS_PUBLIC:
		return true;
	case HTTP_ACCESS_METRICS:
		return req->srv->opts.metrics_public || user_authorized(req, TOKENS_ROLE_READONLY);
	case HTTP_ACCESS_READONLY:
		return user_authorized(req, TOKENS_ROLE_READONLY);
	case HTTP_ACCESS_ADMIN:
		return user_authorized(req, TOKENS_ROLE_ADMIN);
	case HTTP_ACCESS_WORKER:
		return worker_authorized(req);
	default:
		log_error("%s: route %s %s declares no access level", req->srv->name, route->method,
			  route->pattern);
		http_reply_error(req, 500, "internal", "route declares no access level");
		return false;
	}
}

static int dispatch(struct mg_connection *conn, void *cbdata)
{
	struct http_server *srv = cbdata;
	struct http_req req = {
		.conn = conn, .ri = mg_get_request_info(conn), .srv = srv,
	};
	const char *path = req.ri->local_uri ? req.ri->local_uri : "";
	const char *method = req.ri->request_method;
	if (srv->opts.before && srv->opts.before(&req, srv->ctx))
		return 200;
	char allow[128] = "";
	const struct http_route *hit = NULL;
	for (size_t i = 0; i < srv->nroutes && !hit; i++) {
		const char *rest;
		if (!pattern_match(srv->routes[i].pattern, path, &rest))
			continue;
		if (strcmp(srv->routes[i].method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(srv->routes[i].method, "GET") == 0)) {
			hit = &srv->routes[i];
			req.rest = rest;
		} else if (!strstr(allow, srv->routes[i].method) &&
			   strlen(allow) + strlen(srv->routes[i].method) + 3 < sizeof(allow)) {
			if (*allow)
				strcat(allow, ", ");
			strcat(allow, srv->routes[i].method);
		}
	}
	if (hit) {
		if (access_allowed(&req, hit))
			hit->fn(&req, srv->ctx);
	} else if (*allow && !srv->opts.fallback) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s is not allowed on %.200s (allowed: %s)", method,
			 path, allow);
		reply_error_allow(&req, 405, "method_not_allowed", allow, msg);
	} else if (srv->opts.fallback) {
		srv->opts.fallback(&req, srv->ctx);
	} else {
		http_reply_error(&req, 404, "not_found", "no route for %s %.200s", method, path);
	}
	if (!req.replied) {
		log_error("%s: handler for %s %s did not reply", srv->name, method, path);
		http_reply_error(&req, 500, "internal", "handler did not reply");
	}
	/* Returning the status tells CivetWeb the request was handled. */
	return 200;
}

/* ---- server lifecycle ---- */

static int on_log_message(const struct mg_connection *conn, const char *message)
{
	const struct mg_context *mg = mg_get_context(conn);
	struct http_server *srv = mg ? mg_get_user_data(mg) : NULL;
	log_warn("%s: %s", srv && srv->name ? srv->name : "http", message);
	return 1;
}

static int on_init_ssl(void *ssl_ctx, void *user_data)
{
	struct http_server *srv = user_data;
	SSL_CTX *ctx = ssl_ctx;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, srv->tls_cert) != 1) {
		snprintf(srv->tls_error, sizeof(srv->tls_error),
			 "http.tls_cert '%s': cannot load certificate: %s", srv->tls_cert,
			 ERR_reason_error_string(ERR_get_error()));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, srv->tls_key, SSL_FILETYPE_PEM) != 1) {
		/* Never log the key's content, only its path. */
		snprintf(srv->tls_error, sizeof(srv->tls_error),
			 "http.tls_key '%s': cannot load private key: %s", srv->tls_key,
			 ERR_reason_error_string(ERR_get_error()));
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(srv->tls_error, sizeof(srv->tls_error),
			 "http.tls_key '%s' does not match http.tls_cert '%s'", srv->tls_key,
			 srv->tls_cert);
		return -1;
	}
	if (srv->opts.tls_client_auth == HTTP_TLS_CLIENT_NONE)
		return 1;
	/* Returning 1 tells CivetWeb we did everything, so its own
	 * ssl_verify_peer handling never runs: the verify mode is ours. */
	if (SSL_CTX_load_verify_locations(ctx, srv->tls_ca, NULL) != 1) {
		snprintf(srv->tls_error, sizeof(srv->tls_error),
			 "http.tls_ca '%s': cannot load the CA certificates: %s", srv->tls_ca,
			 ERR_reason_error_string(ERR_get_error()));
		return -1;
	}
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(srv->tls_ca);
	if (names)
		SSL_CTX_set_client_CA_list(ctx, names);
	int mode = SSL_VERIFY_PEER;
	if (srv->opts.tls_client_auth == HTTP_TLS_CLIENT_REQUIRED)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	/* A resumed session carries no certificate to check again. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	return 1;
}

/* Resolves bind to a numeric address; IPv6 comes back in brackets. */
static int bind_literal(const char *bind, char *out, size_t len, char *err, size_t errlen)
{
	char host[256];
	size_t blen = strlen(bind);
	if (blen >= 2 && bind[0] == '[' && bind[blen - 1] == ']') {
		snprintf(host, sizeof(host), "%.*s", (int)(blen - 2), bind + 1);
	} else {
		snprintf(host, sizeof(host), "%s", bind);
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, NULL, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "cannot resolve bind address '%s': %s", bind,
			 gai_strerror(gai));
		return -EINVAL;
	}
	char addr[INET6_ADDRSTRLEN];
	if (res->ai_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, addr,
			  sizeof(addr));
		snprintf(out, len, "[%s]", addr);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, addr,
			  sizeof(addr));
		snprintf(out, len, "%s", addr);
	}
	freeaddrinfo(res);
	return 0;
}

static void server_free(struct http_server *srv)
{
	free(srv->name);
	free(srv->tls_cert);
	free(srv->tls_key);
	free(srv->tls_ca);
	if (srv->worker_token) {
		OPENSSL_cleanse(srv->worker_token, strlen(srv->worker_token));
		free(srv->worker_token);
	}
	http_auth_free(srv->auth);
	free(srv);
}

struct http_server *http_server_start(const struct http_server_opts *opts,
				      const struct http_route *routes, size_t nroutes, void *ctx,
				      char *err, size_t errlen)
{
	pthread_once(&g_mg_once, mg_init_once);
	bool tls = opts->tls_cert && *opts->tls_cert;
	if (tls != (opts->tls_key && *opts->tls_key)) {
		snprintf(err, errlen, "http.tls_cert and http.tls_key must be set together");
		return NULL;
	}
	struct http_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->routes = routes;
	srv->nroutes = nroutes;
	srv->ctx = ctx;
	srv->opts = *opts;
	srv->name = strdup(opts->name ? opts->name : "http");
	srv->tls_cert = tls ? strdup(opts->tls_cert) : NULL;
	srv->tls_key = tls ? strdup(opts->tls_key) : NULL;
	if (!srv->name || (tls && (!srv->tls_cert || !srv->tls_key))) {
		snprintf(err, errlen, "out of memory");
		goto err_free_srv;
	}
	srv->opts.name = srv->name;
	if (opts->tls_client_auth != HTTP_TLS_CLIENT_NONE || opts->worker_needs_cert) {
		if (!tls) {
			snprintf(err, errlen, "client certificates (http.tls_client_auth, "
				 "cluster.mtls) need TLS: set http.tls_cert and http.tls_key");
			goto err_free_srv;
		}
		if (!opts->tls_ca || !*opts->tls_ca || !(srv->tls_ca = strdup(opts->tls_ca))) {
			snprintf(err, errlen, "client certificates need a CA file (http.tls_ca)");
			goto err_free_srv;
		}
	}
	srv->opts.tls_ca = srv->tls_ca;
	if (opts->worker_token && *opts->worker_token &&
	    !(srv->worker_token = strdup(opts->worker_token))) {
		snprintf(err, errlen, "out of memory");
		goto err_free_srv;
	}
	srv->opts.worker_token = NULL; /* srv->worker_token is the copy */

	char host[128];
	if (bind_literal(opts->bind, host, sizeof(host), err, errlen))
		goto err_free_srv;
	if (opts->token_file && *opts->token_file &&
	    http_auth_open(srv->name, opts->token_file, host, opts->insecure_no_auth, &srv->auth,
			   err, errlen))
		goto err_free_srv;
	srv->opts.token_file = NULL; /* the store keeps its own copy */
	char ports[200], threads[16], timeout[32], idle[32], max_head[32];
	snprintf(ports, sizeof(ports), "%s:%d%s", host, opts->port, tls ? "s" : "");
	snprintf(threads, sizeof(threads), "%d", opts->threads > 0 ? opts->threads : 16);
	snprintf(timeout, sizeof(timeout), "%lld",
		 (long long)(opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 30000));
	/* The idle limit, or a shorter keep-alive a daemon asks for (a
	 * worker's peers each hold a connection: 1 s frees their threads). */
	int64_t idle_ms = opts->idle_timeout_ms > 0 ? opts->idle_timeout_ms : 60000;
	if (opts->keep_alive_ms > 0 && opts->keep_alive_ms < idle_ms)
		idle_ms = opts->keep_alive_ms;
	snprintf(idle, sizeof(idle), "%lld", (long long)idle_ms);
	snprintf(max_head, sizeof(max_head), "%lld",
		 (long long)(opts->max_header_size > 0 ? opts->max_header_size : 16384));
	snprintf(srv->url, sizeof(srv->url), "%s://%s:%d", tls ? "https" : "http", host,
		 opts->port);
	const char *options[] = {
		"listening_ports", ports,
		"num_threads", threads,
		"request_timeout_ms", timeout,
		"enable_keep_alive", "yes",
		"keep_alive_timeout_ms", idle,
		"max_request_size", max_head,
		"tcp_nodelay", "1",
		"decode_url", opts->raw_path ? "no" : "yes",
		NULL,
	};
	struct mg_callbacks cb = { .log_message = on_log_message };
	if (tls)
		cb.init_ssl = on_init_ssl;
	struct mg_init_data init = { .callbacks = &cb, .user_data = srv,
				     .configuration_options = options };
	unsigned code = 0;
	char mgerr[256] = "";
	struct mg_error_data mge = { .code = &code, .text = mgerr, .text_buffer_size = sizeof(mgerr) };
	srv->mg = mg_start2(&init, &mge);
	if (!srv->mg) {
		snprintf(err, errlen, "%s on %s: %s", srv->name, ports,
			 *srv->tls_error ? srv->tls_error : *mgerr ? mgerr : "cannot start server");
		goto err_free_srv;
	}
	if (opts->port == 0) {
		/* An ephemeral port (tests): report the one the kernel chose. */
		struct mg_server_port sp[2];
		if (mg_get_server_ports(srv->mg, 2, sp) > 0)
			snprintf(srv->url, sizeof(srv->url), "%s://%s:%d", tls ? "https" : "http",
				 host, sp[0].port);
	}
	mg_set_request_handler(srv->mg, "/", dispatch, srv);
	if (opts->port == 0) {
		/* Port 0: the kernel picked one; report that one. */
		struct mg_server_port sp[2];
		int n = mg_get_server_ports(srv->mg, 2, sp);
		srv->port = n > 0 ? sp[0].port : 0;
		snprintf(srv->url, sizeof(srv->url), "%s://%s:%d", tls ? "https" : "http", host,
			 srv->port);
	} else {
		srv->port = opts->port;
	}
	return srv;

err_free_srv:
	server_free(srv);
	return NULL;
}

void http_server_stop(struct http_server *srv)
{
	if (!srv)
		return;
	mg_stop(srv->mg);
	server_free(srv);
}

const char *http_server_url(const struct http_server *srv)
{
	return srv->url;
}

int http_server_port(const struct http_server *srv)
{
	return srv->port;
}
