/* The typed calls of client/client.h: build the request, call the leading
 * master (client/leader.c), turn an error reply into a code and a
 * "<path>: <reason>" message, decode a success. */
#include "client/decode.h"

#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The wording a user knows for the codes that are about one path; for the
 * others the server's own message says more. */
static const char *path_reason(int rc)
{
	switch (rc) {
	case -ENOENT:
		return "no such file or directory";
	case -EEXIST:
		return "file exists";
	case -ENOTEMPTY:
		return "directory not empty";
	case -ENOTDIR:
		return "not a directory";
	case -EISDIR:
		return "is a directory";
	default:
		return NULL;
	}
}

/* A message a daemon relayed from its own call to another ("GET
 * http://peer/api/...: HTTP 400: '/' is a directory", lib/httpc.c) names an
 * internal URL: keep only what the last server said. A transport error so
 * relayed ("POST http://peer/api/...: Couldn't connect to server") keeps
 * what follows the URL; any other message (one naming a store, "s3://b at
 * host unavailable: ...") is kept whole. NULL when nothing is left. */
static const char *strip_relayed_url(const char *msg)
{
	static const char *const methods[] = { "GET ", "POST ", "PUT ", "DELETE ", "HEAD " };
	if (!strstr(msg, "://"))
		return msg;
	const char *last = NULL;
	for (const char *p = strstr(msg, ": HTTP "); p; p = strstr(p + 1, ": HTTP ")) {
		const char *q = p + strlen(": HTTP ");
		while (*q >= '0' && *q <= '9')
			q++;
		if (q[0] == ':' && q[1] == ' ')
			last = q + 2;
	}
	if (last)
		return *last ? last : NULL;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t n = strlen(methods[i]);
		if (strncmp(msg, methods[i], n) == 0 && strncmp(msg + n, "http", 4) == 0) {
			const char *rest = strstr(msg + n, ": ");
			return rest && rest[2] ? rest + 2 : NULL;
		}
	}
	return msg;
}

int client_reply_error(long status, const cJSON *doc, const char *about, char *err,
		       size_t errlen)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
	int rc = code ? st_rc_from_code(code) : -EIO;
	const char *reason = about ? path_reason(rc) : NULL;
	char fallback[64];
	if (msg)
		msg = strip_relayed_url(msg);
	if (!reason && msg && *msg) {
		reason = msg;
	} else if (!reason) {
		snprintf(fallback, sizeof(fallback), "the server answered HTTP %ld", status);
		reason = fallback;
	}
	if (about)
		snprintf(err, errlen, "%s: %s", about, reason);
	else
		snprintf(err, errlen, "%s", reason);
	return rc;
}

/* One JSON call to the leader; *out (may be NULL) gets the 2xx reply
 * document (caller frees). about names what the call is about in errors. */
static int call(struct client *mc, struct httpc *hc, const char *method, const char *pq,
		const cJSON *req, cJSON **out, const char *about, char *err, size_t errlen)
{
	struct httpc_json_reply r;
	int rc = client_json_reply(mc, hc, method, pq, req, &r, err, errlen);
	if (rc)
		return rc;
	if (r.status < 200 || r.status > 299) {
		rc = client_reply_error(r.status, r.json, about, err, errlen);
	} else if (!r.json && out) {
		snprintf(err, errlen, "%s %s: the reply is not JSON", method, pq);
		rc = ST_EPROTO;
	} else if (out) {
		*out = r.json;
		r.json = NULL;
	}
	httpc_json_reply_free(&r);
	return rc;
}

/* A call on "<route>?path=<path><extra>". */
static int path_call(struct client *mc, struct httpc *hc, const char *method, const char *route,
		     const char *path, const char *extra, cJSON **out, char *err, size_t errlen)
{
	char *pq = httpc_path_query(route, path, extra);
	if (!pq)
		return -ENOMEM;
	int rc = call(mc, hc, method, pq, NULL, out, path, err, errlen);
	free(pq);
	return rc;
}

/* Decodes doc into an inode and keeps doc in it; takes doc either way. */
static int take_inode(cJSON *doc, struct client_inode *out, char *err, size_t errlen)
{
	if (!out) {
		cJSON_Delete(doc);
		return 0;
	}
	int rc = client_inode_decode(doc, out, err, errlen);
	if (rc)
		cJSON_Delete(doc);
	else
		out->json = doc;
	return rc;
}

int client_fs_stat(struct client *mc, struct httpc *hc, const char *path,
		   struct client_inode *out, char *err, size_t errlen)
{
	cJSON *doc = NULL;
	int rc = path_call(mc, hc, "GET", "/api/v1/files/stat", path, NULL, &doc, err, errlen);
	return rc ? rc : take_inode(doc, out, err, errlen);
}

int client_fs_list(struct client *mc, struct httpc *hc, const char *path, const char *after,
		   int limit, struct client_listing *out, char *err, size_t errlen)
{
	char extra[64] = "";
	char *after_q = NULL;
	if (limit > 0)
		snprintf(extra, sizeof(extra), "&limit=%d", limit);
	if (after) {
		char *e = httpc_escape(after);
		if (!e || asprintf(&after_q, "%s&after=%s", extra, e) < 0)
			after_q = NULL;
		free(e);
		if (!after_q)
			return -ENOMEM;
	}
	cJSON *doc = NULL;
	int rc = path_call(mc, hc, "GET", "/api/v1/files", path, after_q ? after_q : extra, &doc,
			   err, errlen);
	free(after_q);
	if (rc)
		return rc;
	rc = client_listing_decode(doc, out, err, errlen);
	if (rc)
		cJSON_Delete(doc);
	else
		out->json = doc;
	return rc;
}

int client_mkdir(struct client *mc, struct httpc *hc, const char *path, bool parents,
		 struct client_inode *out, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *doc = NULL;
	if (!req || !cJSON_AddStringToObject(req, "path", path) ||
	    !cJSON_AddBoolToObject(req, "parents", parents)) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	int rc = call(mc, hc, "POST", "/api/v1/files/mkdir", req, &doc, path, err, errlen);
	cJSON_Delete(req);
	return rc ? rc : take_inode(doc, out, err, errlen);
}

int client_rename(struct client *mc, struct httpc *hc, const char *src, const char *dst,
		  struct client_inode *out, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *doc = NULL;
	char *about = NULL;
	if (!req || !cJSON_AddStringToObject(req, "src", src) ||
	    !cJSON_AddStringToObject(req, "dst", dst) ||
	    asprintf(&about, "%s -> %s", src, dst) < 0) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	int rc = call(mc, hc, "POST", "/api/v1/files/rename", req, &doc, about, err, errlen);
	cJSON_Delete(req);
	free(about);
	return rc ? rc : take_inode(doc, out, err, errlen);
}

int client_delete(struct client *mc, struct httpc *hc, const char *path, bool recursive,
		  char *err, size_t errlen)
{
	return path_call(mc, hc, "DELETE", "/api/v1/files", path,
			 recursive ? "&recursive=true" : NULL, NULL, err, errlen);
}

static const char *const g_policy_route[] = {
	[CLIENT_POLICY_PIN] = "/api/v1/files/pin",
	[CLIENT_POLICY_TTL] = "/api/v1/files/ttl",
	[CLIENT_POLICY_REPLICATION] = "/api/v1/files/replication",
	[CLIENT_POLICY_WRITE_TYPE] = "/api/v1/files/write_type",
};

/* {"changed", "inode"}: takes doc. */
static int take_policy(cJSON *doc, bool *changed, struct client_inode *out, char *err,
		       size_t errlen)
{
	cJSON *inode = cJSON_DetachItemFromObjectCaseSensitive(doc, "inode");
	if (changed)
		*changed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "changed"));
	cJSON_Delete(doc);
	if (!inode) {
		snprintf(err, errlen, "reply has no 'inode'");
		return ST_EPROTO;
	}
	return take_inode(inode, out, err, errlen);
}

int client_policy_set(struct client *mc, struct httpc *hc, const char *path,
		      const struct client_policy_req *r, bool *changed, struct client_inode *out,
		      char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *doc = NULL;
	bool ok = req && cJSON_AddStringToObject(req, "path", path) &&
		  cJSON_AddBoolToObject(req, "recursive", r->recursive);
	if (ok && r->kind == CLIENT_POLICY_PIN && r->medium)
		ok = cJSON_AddStringToObject(req, "medium", r->medium);
	if (ok && r->kind == CLIENT_POLICY_TTL) {
		ok = json_add_int(req, "ttl_ms", r->ttl_ms) != NULL;
		if (ok && r->action)
			ok = cJSON_AddStringToObject(req, "action", r->action);
	}
	if (ok && r->kind == CLIENT_POLICY_REPLICATION)
		ok = json_add_int(req, "min", r->min) && json_add_int(req, "max", r->max);
	if (ok && r->kind == CLIENT_POLICY_WRITE_TYPE)
		ok = cJSON_AddStringToObject(req, "write_type", r->write_type ? r->write_type : "");
	if (!ok || (unsigned)r->kind > CLIENT_POLICY_WRITE_TYPE) {
		cJSON_Delete(req);
		return ok ? -EINVAL : -ENOMEM;
	}
	int rc = call(mc, hc, "PUT", g_policy_route[r->kind], req, &doc, path, err, errlen);
	cJSON_Delete(req);
	return rc ? rc : take_policy(doc, changed, out, err, errlen);
}

int client_policy_clear(struct client *mc, struct httpc *hc, enum client_policy kind,
			const char *path, bool recursive, bool *changed,
			struct client_inode *out, char *err, size_t errlen)
{
	if ((unsigned)kind > CLIENT_POLICY_WRITE_TYPE)
		return -EINVAL;
	cJSON *doc = NULL;
	int rc = path_call(mc, hc, "DELETE", g_policy_route[kind], path,
			   recursive ? "&recursive=true" : NULL, &doc, err, errlen);
	return rc ? rc : take_policy(doc, changed, out, err, errlen);
}

int client_mount_add(struct client *mc, struct httpc *hc, const char *path, const char *uri,
		     bool readonly, const char *const *options, size_t noptions, char *err,
		     size_t errlen)
{
	cJSON *req = cJSON_CreateObject();
	cJSON *opts = req ? cJSON_AddObjectToObject(req, "options") : NULL;
	if (!opts || !cJSON_AddStringToObject(req, "path", path) ||
	    !cJSON_AddStringToObject(req, "uri", uri) ||
	    !cJSON_AddBoolToObject(req, "readonly", readonly)) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	int rc = 0;
	for (size_t k = 0; !rc && k < noptions; k++) {
		const char *eq = strchr(options[k], '=');
		if (!eq || eq == options[k]) {
			snprintf(err, errlen, "option '%s': expected KEY=VALUE", options[k]);
			rc = -EINVAL;
			break;
		}
		char *key = strndup(options[k], (size_t)(eq - options[k]));
		if (!key || !cJSON_AddStringToObject(opts, key, eq + 1))
			rc = -ENOMEM;
		free(key);
	}
	if (!rc)
		rc = call(mc, hc, "POST", "/api/v1/mounts", req, NULL, path, err, errlen);
	cJSON_Delete(req);
	return rc;
}

int client_mount_list(struct client *mc, struct httpc *hc, struct client_mount_list *out,
		      char *err, size_t errlen)
{
	cJSON *doc = NULL;
	int rc = call(mc, hc, "GET", "/api/v1/mounts", NULL, &doc, NULL, err, errlen);
	if (rc)
		return rc;
	rc = client_mount_list_decode(doc, out, err, errlen);
	if (rc)
		cJSON_Delete(doc);
	else
		out->json = doc;
	return rc;
}

int client_mount_update(struct client *mc, struct httpc *hc, const char *path,
			const char *const *options, size_t noptions, bool *changed, char *err,
			size_t errlen)
{
	cJSON *req = cJSON_CreateObject();
	cJSON *opts = req ? cJSON_AddObjectToObject(req, "options") : NULL;
	cJSON *doc = NULL;
	*changed = false;
	if (!opts || !cJSON_AddStringToObject(req, "path", path)) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	int rc = 0;
	for (size_t k = 0; !rc && k < noptions; k++) {
		const char *eq = strchr(options[k], '=');
		size_t keylen = eq ? (size_t)(eq - options[k]) : strlen(options[k]);
		if (keylen == 0) {
			snprintf(err, errlen, "option '%s': expected KEY=VALUE or KEY", options[k]);
			rc = -EINVAL;
			break;
		}
		char *key = strndup(options[k], keylen);
		if (!key || !(eq ? cJSON_AddStringToObject(opts, key, eq + 1)
				 : cJSON_AddNullToObject(opts, key)))
			rc = -ENOMEM;
		free(key);
	}
	if (!rc)
		rc = call(mc, hc, "PUT", "/api/v1/mounts", req, &doc, path, err, errlen);
	if (!rc)
		*changed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "changed"));
	cJSON_Delete(doc);
	cJSON_Delete(req);
	return rc;
}

int client_mount_remove(struct client *mc, struct httpc *hc, const char *path, char *err,
			size_t errlen)
{
	return path_call(mc, hc, "DELETE", "/api/v1/mounts", path, NULL, NULL, err, errlen);
}

int client_workers_list(struct client *mc, struct httpc *hc, struct client_worker_list *out,
			char *err, size_t errlen)
{
	cJSON *doc = NULL;
	int rc = call(mc, hc, "GET", "/api/v1/workers", NULL, &doc, NULL, err, errlen);
	if (rc)
		return rc;
	rc = client_worker_list_decode(doc, out, err, errlen);
	if (rc)
		cJSON_Delete(doc);
	else
		out->json = doc;
	return rc;
}

int client_cluster_get(struct client *mc, struct httpc *hc, struct client_cluster *out,
		       char *err, size_t errlen)
{
	cJSON *doc = NULL;
	int rc = call(mc, hc, "GET", "/api/v1/cluster", NULL, &doc, NULL, err, errlen);
	if (rc)
		return rc;
	rc = client_cluster_decode(doc, out, err, errlen);
	if (rc)
		cJSON_Delete(doc);
	else
		out->json = doc;
	return rc;
}

int client_metrics_get(struct client *mc, struct httpc *hc, struct client_metrics *out,
		       char *err, size_t errlen)
{
	cJSON *doc = NULL;
	int rc = call(mc, hc, "GET", "/api/v1/metrics", NULL, &doc, NULL, err, errlen);
	if (rc)
		return rc;
	rc = client_metrics_decode(doc, out, err, errlen);
	if (rc)
		cJSON_Delete(doc);
	else
		out->json = doc;
	return rc;
}

static int masters_call(struct client *mc, struct httpc *hc, const char *method, const char *pq,
			const cJSON *req, struct client_masters *out, char *err, size_t errlen)
{
	cJSON *doc = NULL;
	int rc = call(mc, hc, method, pq, req, &doc, NULL, err, errlen);
	if (rc)
		return rc;
	rc = client_masters_decode(doc, out, err, errlen);
	if (rc)
		cJSON_Delete(doc);
	else
		out->json = doc;
	return rc;
}

int client_masters_list(struct client *mc, struct httpc *hc, struct client_masters *out,
			char *err, size_t errlen)
{
	return masters_call(mc, hc, "GET", "/api/v1/masters", NULL, out, err, errlen);
}

int client_master_add(struct client *mc, struct httpc *hc, uint64_t id, const char *raft_address,
		      const char *rest_url, struct client_masters *out, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject();
	if (!req || !json_add_int(req, "id", (int64_t)id) ||
	    !cJSON_AddStringToObject(req, "raft_address", raft_address) ||
	    !cJSON_AddStringToObject(req, "rest_url", rest_url)) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	int rc = masters_call(mc, hc, "POST", "/api/v1/masters", req, out, err, errlen);
	cJSON_Delete(req);
	return rc;
}

int client_master_remove(struct client *mc, struct httpc *hc, uint64_t id,
			 struct client_masters *out, char *err, size_t errlen)
{
	char pq[64];
	snprintf(pq, sizeof(pq), "/api/v1/masters/%" PRIu64, id);
	return masters_call(mc, hc, "DELETE", pq, NULL, out, err, errlen);
}

int client_job_create(struct client *mc, struct httpc *hc, const char *type, const char *path,
		      bool recursive, const char *medium, uint64_t *id, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *doc = NULL;
	if (!req || !cJSON_AddStringToObject(req, "type", type) ||
	    !cJSON_AddStringToObject(req, "path", path) ||
	    !cJSON_AddBoolToObject(req, "recursive", recursive) ||
	    (medium && !cJSON_AddStringToObject(req, "medium", medium))) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	int rc = call(mc, hc, "POST", "/api/v1/jobs", req, &doc, path, err, errlen);
	cJSON_Delete(req);
	if (!rc && json_get_u64(doc, "id", true, id, err, errlen))
		rc = ST_EPROTO;
	cJSON_Delete(doc);
	return rc;
}

int client_job_decode(const cJSON *o, struct client_job *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(o) || json_get_u64(o, "id", true, &out->id, err, errlen)) {
		if (!cJSON_IsObject(o))
			snprintf(err, errlen, "a job is not an object");
		return ST_EPROTO;
	}
	snprintf(out->type, sizeof(out->type), "%s", json_str_or(o, "type", ""));
	snprintf(out->path, sizeof(out->path), "%s", json_str_or(o, "path", ""));
	snprintf(out->state, sizeof(out->state), "%s", json_str_or(o, "state", ""));
	snprintf(out->reason, sizeof(out->reason), "%s", json_str_or(o, "reason", ""));
	out->files_total = json_int_or(o, "files_total", 0);
	out->files_done = json_int_or(o, "files_done", 0);
	out->files_failed = json_int_or(o, "files_failed", 0);
	out->bytes_total = json_int_or(o, "bytes_total", 0);
	out->bytes_done = json_int_or(o, "bytes_done", 0);
	out->rate_bytes_per_s = json_int_or(o, "rate_bytes_per_s", 0);
	out->eta_ms = json_int_or(o, "eta_ms", -1);
	return 0;
}

/* Takes doc ({"job":{...}}) into out (which keeps the job object). */
static int take_job(cJSON *doc, struct client_job *out, char *err, size_t errlen)
{
	if (!out) {
		cJSON_Delete(doc);
		return 0;
	}
	cJSON *o = cJSON_DetachItemFromObjectCaseSensitive(doc, "job");
	cJSON_Delete(doc);
	int rc = client_job_decode(o, out, err, errlen);
	if (rc)
		cJSON_Delete(o);
	else
		out->json = o;
	return rc;
}

int client_job_get(struct client *mc, struct httpc *hc, uint64_t id, struct client_job *out,
		   char *err, size_t errlen)
{
	char pq[64], about[40];
	snprintf(pq, sizeof(pq), "/api/v1/jobs/%llu", (unsigned long long)id);
	snprintf(about, sizeof(about), "job %llu", (unsigned long long)id);
	cJSON *doc = NULL;
	int rc = call(mc, hc, "GET", pq, NULL, &doc, about, err, errlen);
	return rc ? rc : take_job(doc, out, err, errlen);
}

int client_job_cancel(struct client *mc, struct httpc *hc, uint64_t id, struct client_job *out,
		      char *err, size_t errlen)
{
	char pq[64], about[40];
	snprintf(pq, sizeof(pq), "/api/v1/jobs/%llu", (unsigned long long)id);
	snprintf(about, sizeof(about), "job %llu", (unsigned long long)id);
	cJSON *doc = NULL;
	int rc = call(mc, hc, "DELETE", pq, NULL, &doc, about, err, errlen);
	return rc ? rc : take_job(doc, out, err, errlen);
}

int client_jobs_list(struct client *mc, struct httpc *hc, cJSON **out, char *err, size_t errlen)
{
	return call(mc, hc, "GET", "/api/v1/jobs", NULL, out, "jobs", err, errlen);
}

void client_job_clear(struct client_job *j)
{
	cJSON_Delete(j->json);
	j->json = NULL;
}

int client_worker_decommission(struct client *mc, struct httpc *hc, uint64_t id, cJSON **out,
			       char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject();
	if (!req || !json_add_u64(req, "id", id)) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	/* The master's message names the field and the worker. */
	int rc = call(mc, hc, "POST", "/api/v1/workers/decommission", req, out, NULL, err, errlen);
	cJSON_Delete(req);
	return rc;
}
