/*
 * The master's Raft group over REST: the follower redirect (a hook that
 * runs before routing, and one that turns ST_ENOTLEADER from meta_submit
 * into the same reply), GET /api/v1/masters[/self], and membership
 * changes (POST /api/v1/masters, DELETE /api/v1/masters/{id}).
 */
#include "api/rest_masters.h"

#include "daemon/master/master.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long GET /api/v1/masters waits for each other master. */
#define FANOUT_TIMEOUT_MS 800

static bool is_read(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* Appends s percent-encoded (all but unreserved characters and '/'). */
static size_t encode_path(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (; *s && n + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
	return n;
}

/*
 * 307 to the leader, or 503 no_leader when none is known. The redirect
 * keeps method and body (307, not 302/303), so a client re-sends the same
 * request to the Location.
 */
static void reply_not_leader(struct http_req *req, struct master *m, const char *why)
{
	struct meta_status st;
	meta_status(m->meta, &st);
	if (!st.leader || st.leader == st.id || !*st.leader_url) {
		struct http_header h[] = { { "Retry-After", "1" } };
		cJSON *o = cJSON_CreateObject();
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "code", st_errcode(ST_ENOLEADER));
		char msg[600];
		snprintf(msg, sizeof(msg),
			 "master %llu is a %s and knows no leader now (an election may be under "
			 "way); retry",
			 (unsigned long long)st.id, st.role);
		cJSON_AddStringToObject(e, "message", why && *why ? why : msg);
		http_reply_json_headers(req, 503, o, h, 1);
		return;
	}
	size_t cap = strlen(st.leader_url) + strlen(http_req_path(req)) * 3 +
		     (http_req_query(req) ? strlen(http_req_query(req)) : 0) + 8;
	char *loc = malloc(cap);
	if (!loc) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
	size_t n = (size_t)snprintf(loc, cap, "%s", st.leader_url);
	n += encode_path(http_req_path(req), loc + n, cap - n);
	if (http_req_query(req) && *http_req_query(req))
		snprintf(loc + n, cap - n, "?%s", http_req_query(req));
	struct http_header h[] = { { "Location", loc }, { "X-Strata-Leader", st.leader_url } };
	cJSON *o = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "code", st_errcode(ST_ENOTLEADER));
	char msg[800];
	snprintf(msg, sizeof(msg), "master %llu is a %s; the leader is master %llu at %s",
		 (unsigned long long)st.id, strcmp(st.role, "leader") == 0 ? "follower" : st.role,
		 (unsigned long long)st.leader, st.leader_url);
	cJSON_AddStringToObject(e, "message", msg);
	http_reply_json_headers(req, 307, o, h, 2);
	free(loc);
}

bool rest_masters_before(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	if (is_read(http_req_method(req)) || strncmp(http_req_path(req), "/api/v1/", 8) != 0)
		return false;
	struct meta_status st;
	meta_status(m->meta, &st);
	if (strcmp(st.role, "leader") == 0)
		return false;
	reply_not_leader(req, m, NULL);
	return true;
}

bool rest_masters_reply_rc(struct http_req *req, int rc, const char *msg, void *ctx)
{
	if (rc != ST_ENOTLEADER)
		return false;
	reply_not_leader(req, ctx, msg);
	return true;
}

/* ---- GET /api/v1/masters/self and /api/v1/masters ---- */

static cJSON *self_json(const struct meta_status *st)
{
	cJSON *o = cJSON_CreateObject();
	json_add_int(o, "id", (int64_t)st->id);
	const struct meta_member *me = NULL;
	for (size_t i = 0; i < st->nmembers; i++)
		if (st->members[i].id == st->id)
			me = &st->members[i];
	cJSON_AddStringToObject(o, "raft_address", me ? me->raft_address : "");
	cJSON_AddStringToObject(o, "rest_url", me ? me->rest_url : "");
	cJSON_AddStringToObject(o, "role", st->role);
	cJSON_AddBoolToObject(o, "voter", me && me->voter);
	json_add_int(o, "leader", (int64_t)st->leader);
	json_add_int(o, "term", (int64_t)st->term);
	json_add_int(o, "commit_index", (int64_t)st->commit_index);
	json_add_int(o, "applied_index", (int64_t)st->applied_index);
	json_add_int(o, "last_index", (int64_t)st->last_index);
	json_add_int(o, "snapshot_index", (int64_t)st->snapshot_index);
	cJSON_AddBoolToObject(o, "failed", st->failed);
	return o;
}

void rest_masters_get_self(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	struct meta_status st;
	meta_status(m->meta, &st);
	cJSON *o = self_json(&st);
	cJSON_AddBoolToObject(o, "self", true);
	http_reply_json(req, 200, o);
}

/* Another master's own view, or NULL when it does not answer in time.
 * auth: the credential header for it (REST auth may be on there), or "". */
static cJSON *ask_peer(struct master *m, const struct meta_member *mm, const char *auth)
{
	if (!*mm->rest_url)
		return NULL;
	struct httpc_opts o = {
		.timeout_ms = FANOUT_TIMEOUT_MS,
		.connect_timeout_ms = FANOUT_TIMEOUT_MS,
		.ca_file = conf_tls_ca(m->conf),
		.client_cert = conf_tls_client_cert(m->conf),
		.client_key = conf_tls_client_key(m->conf),
		.extra_header = *auth ? auth : NULL,
	};
	struct httpc *hc = httpc_new(&o);
	if (!hc)
		return NULL;
	char url[400], err[256];
	snprintf(url, sizeof(url), "%s/api/v1/masters/self", mm->rest_url);
	cJSON *out = NULL;
	if (httpc_json(hc, "GET", url, NULL, &out, NULL, err, sizeof(err)) != 0 ||
	    !cJSON_IsObject(out) ||
	    (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(out, "id")) != mm->id) {
		cJSON_Delete(out);
		out = NULL;
	}
	httpc_free(hc);
	return out;
}

/* {"leader","term","masters":[...]}: every voter's own view (this one's
 * locally, the others' over REST), unreachable ones marked so. */
static cJSON *membership_json(struct master *m, bool fan_out, const char *auth)
{
	struct meta_status st;
	meta_status(m->meta, &st);
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = cJSON_CreateArray();
	uint64_t leader = st.leader, term = st.term, leader_commit = 0;
	bool leader_seen = false;
	for (size_t i = 0; i < st.nmembers; i++) {
		const struct meta_member *mm = &st.members[i];
		if (!mm->voter)
			continue;
		cJSON *e;
		if (mm->id == st.id) {
			e = self_json(&st);
		} else if (!fan_out || !(e = ask_peer(m, mm, auth))) {
			e = cJSON_CreateObject();
			json_add_int(e, "id", (int64_t)mm->id);
			cJSON_AddStringToObject(e, "raft_address", mm->raft_address);
			cJSON_AddStringToObject(e, "rest_url", mm->rest_url);
			cJSON_AddStringToObject(e, "role", fan_out ? "unreachable" : "unknown");
		}
		/* The book is authoritative for the addresses. */
		cJSON_ReplaceItemInObject(e, "raft_address", cJSON_CreateString(mm->raft_address));
		cJSON_ReplaceItemInObject(e, "rest_url", cJSON_CreateString(mm->rest_url));
		cJSON_DeleteItemFromObject(e, "self");
		cJSON_AddBoolToObject(e, "self", mm->id == st.id);
		const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(e, "role"));
		uint64_t t = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "term"));
		if (role && strcmp(role, "leader") == 0 && t >= term) {
			leader = mm->id;
			term = t;
			leader_commit = (uint64_t)cJSON_GetNumberValue(
				cJSON_GetObjectItem(e, "commit_index"));
			leader_seen = true;
		}
		cJSON_AddItemToArray(arr, e);
	}
	if (!leader_seen)
		leader_commit = st.commit_index;
	cJSON *e;
	cJSON_ArrayForEach(e, arr)
	{
		cJSON *applied = cJSON_GetObjectItem(e, "applied_index");
		if (cJSON_IsNumber(applied)) {
			double lag = (double)leader_commit - applied->valuedouble;
			cJSON_AddNumberToObject(e, "lag", lag > 0 ? lag : 0);
		}
	}
	json_add_int(root, "leader", (int64_t)leader);
	json_add_int(root, "term", (int64_t)term);
	cJSON_AddItemToObject(root, "masters", arr);
	return root;
}

void rest_masters_get(struct http_req *req, void *ctx)
{
	/* The other masters may check REST tokens: ask with the cluster's
	 * worker credential (admin there), else with the caller's own token
	 * (the same token file is copied to every master). */
	struct master *m = ctx;
	char auth[700] = "";
	const char *caller = http_req_header(req, "Authorization");
	if (*m->conf->cluster_worker_token)
		snprintf(auth, sizeof(auth), "X-Strata-Worker-Token: %s", m->conf->cluster_worker_token);
	else if (caller && strlen(caller) < 600 && !strpbrk(caller, "\r\n"))
		snprintf(auth, sizeof(auth), "Authorization: %s", caller);
	http_reply_json(req, 200, membership_json(m, true, auth));
	explicit_bzero(auth, sizeof(auth));
}

/* ---- membership changes ---- */

void rest_masters_post(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char err[600] = "";
	int64_t id = 0;
	const char *raft = NULL, *rest = NULL;
	int rc = json_get_int(body, "id", true, 1, INT64_MAX, &id, err, sizeof(err));
	if (!rc)
		rc = json_get_str(body, "raft_address", true, &raft, err, sizeof(err));
	if (!rc)
		rc = json_get_str(body, "rest_url", true, &rest, err, sizeof(err));
	struct peer p;
	if (!rc) {
		/* The same syntax as a master.peers item, so one parser checks both. */
		char item[700], why[500];
		snprintf(item, sizeof(item), "%lld@%s@%s", (long long)id, raft, rest);
		if (strlen(raft) > 270 || strlen(rest) > 300 || strchr(raft, '@') ||
		    strchr(rest, '@')) {
			snprintf(err, sizeof(err), "field '%s' is too long or contains '@'",
				 strlen(raft) > 270 || strchr(raft, '@') ? "raft_address" : "rest_url");
			rc = -EINVAL;
		} else if (peers_parse_one(item, &p, why, sizeof(why))) {
			snprintf(err, sizeof(err), "field '%s': %s",
				 strncmp(why, "REST", 4) == 0 ? "rest_url" : "raft_address", why);
			rc = -EINVAL;
		}
	}
	cJSON_Delete(body);
	if (rc) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		return;
	}
	rc = meta_add_master(m->meta, &p, err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		return;
	}
	http_reply_json(req, 200, membership_json(m, false, ""));
}

void rest_masters_delete(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	const char *rest = http_req_rest(req);
	char *end = NULL;
	unsigned long long id = strtoull(rest, &end, 10);
	if (!*rest || *end || id == 0 || *rest == '0' || *rest == '-' || *rest == '+') {
		http_reply_error(req, 400, "invalid_argument",
				 "'%.64s' is not a master id (a whole number from 1)", rest);
		return;
	}
	char err[600] = "";
	int rc = meta_remove_master(m->meta, id, err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		return;
	}
	http_reply_json(req, 200, membership_json(m, false, ""));
}

void rest_masters_add_status(struct master *m, struct cJSON *o)
{
	struct meta_status st;
	meta_status(m->meta, &st);
	cJSON *r = cJSON_AddObjectToObject(o, "raft");
	json_add_int(r, "id", (int64_t)st.id);
	cJSON_AddStringToObject(r, "role", st.role);
	json_add_int(r, "leader", (int64_t)st.leader);
	cJSON_AddStringToObject(r, "leader_url", st.leader_url);
	json_add_int(r, "term", (int64_t)st.term);
	json_add_int(r, "commit_index", (int64_t)st.commit_index);
	json_add_int(r, "applied_index", (int64_t)st.applied_index);
	cJSON_AddBoolToObject(r, "failed", st.failed);
}
