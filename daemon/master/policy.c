/* Policies as an admin sets them: checks, then one journal command (see
 * policy.h). */
#include "daemon/master/policy.h"

#include "daemon/master/events.h"
#include "daemon/master/fs.h"
#include "daemon/master/meta.h"
#include "daemon/master/ns.h"
#include "daemon/master/registry.h"
#include "lib/conf.h"
#include "lib/path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int bad(char *err, size_t errlen, const char *field, const char *why)
{
	snprintf(err, errlen, "field '%s': %s", field, why);
	return -EINVAL;
}

/* Field checks a REST client should hear about by name (the journal's
 * decoder checks them again at propose time). */
static int check_req(const struct policy_req *r, char *err, size_t errlen)
{
	char why[128];
	switch (r->kind) {
	case POLICY_PIN:
		if (r->medium[0] && !r->pinned)
			return bad(err, errlen, "medium", "only when pinning");
		if (r->medium[0] && !journal_medium_valid(r->medium)) {
			snprintf(why, sizeof(why), "'%s' is not MEM, SSD or HDD", r->medium);
			return bad(err, errlen, "medium", why);
		}
		return 0;
	case POLICY_TTL:
		if (r->ttl_ms < 0 || (r->ttl_ms == 0 && r->action[0]))
			return bad(err, errlen, "ttl_ms", "must be above 0");
		if (r->ttl_ms > JOURNAL_TTL_MAX_MS)
			return bad(err, errlen, "ttl_ms", "must be at most 100 years");
		if (r->ttl_ms > 0 && !journal_action_valid(r->action)) {
			snprintf(why, sizeof(why), "'%s' is not free or delete", r->action);
			return bad(err, errlen, "action", why);
		}
		return 0;
	case POLICY_REPLICATION:
		if (r->min < 0 || r->min > JOURNAL_REPL_MAX) {
			snprintf(why, sizeof(why), "%" PRId64 " is not in 0..%d", r->min,
				 JOURNAL_REPL_MAX);
			return bad(err, errlen, "min", why);
		}
		if (r->max != -1 && (r->max < 1 || r->max > JOURNAL_REPL_MAX)) {
			snprintf(why, sizeof(why),
				 "%" PRId64 " is not in 1..%d, nor -1 or null (unbounded)", r->max,
				 JOURNAL_REPL_MAX);
			return bad(err, errlen, "max", why);
		}
		if (r->max != -1 && r->min > r->max) {
			snprintf(why, sizeof(why), "%" PRId64 " is above max %" PRId64, r->min,
				 r->max);
			return bad(err, errlen, "min", why);
		}
		return 0;
	case POLICY_WRITE_TYPE:
		if (r->write_type[0] && !journal_write_type_valid(r->write_type)) {
			snprintf(why, sizeof(why),
				 "'%.40s' is not THROUGH, CACHE_THROUGH, ASYNC_THROUGH or MUST_CACHE",
				 r->write_type);
			return bad(err, errlen, "write_type", why);
		}
		return 0;
	}
	return bad(err, errlen, "kind", "unknown policy");
}

struct ro_ctx {
	const char *path;
	char found[PATH_MAX_LEN + 1];
};

/* A read-only mount at or below path. */
static int ro_below_fn(void *arg, const struct ns_mount *m)
{
	struct ro_ctx *c = arg;
	if (m->readonly && path_has_prefix(m->path, c->path)) {
		snprintf(c->found, sizeof(c->found), "%s", m->path);
		return 1;
	}
	return 0;
}

/* A TTL that deletes must never reach a read-only mount: not the one
 * holding path, nor (recursive) one below it. */
static int check_ttl_writable(struct fs *fs, struct meta *meta, const struct policy_req *r,
			      char *err, size_t errlen)
{
	(void)fs;
	/* Mount rows are large: off the (REST thread's) stack. */
	struct ns_mount *m = malloc(sizeof(*m));
	struct ro_ctx *c = malloc(sizeof(*c));
	int rc = -ENOMEM;
	if (!m || !c)
		goto out;
	struct ns *ns = meta_read_lock(meta);
	rc = ns_resolve_mount(ns, r->path, m, NULL, 0);
	bool ro = rc == 0 && m->readonly;
	rc = 0;
	c->path = r->path;
	if (!ro && r->recursive)
		rc = ns_mounts(ns, ro_below_fn, c);
	meta_read_unlock(meta);
	if (ro) {
		snprintf(err, errlen,
			 "field 'action': a TTL that deletes cannot be set on '%s': it is on the "
			 "read-only mount '%s' (use action free)",
			 r->path, m->path);
		rc = -EROFS;
	} else if (rc == 1) {
		snprintf(err, errlen,
			 "field 'action': a recursive TTL that deletes cannot be set on '%s': the "
			 "read-only mount '%s' is below it (use action free)",
			 r->path, c->found);
		rc = -EROFS;
	}
out:
	free(m);
	free(c);
	return rc;
}

static int64_t differs(struct ns *ns, uint64_t id, const struct policy_req *r)
{
	switch (r->kind) {
	case POLICY_PIN:
		return ns_pin_differs(ns, id, r->recursive, r->pinned, r->medium);
	case POLICY_TTL:
		return ns_ttl_differs(ns, id, r->recursive, r->ttl_ms, r->action);
	case POLICY_REPLICATION:
		return ns_repl_differs(ns, id, r->recursive, r->min, r->max);
	case POLICY_WRITE_TYPE:
		return ns_write_type_differs(ns, id, r->recursive, r->write_type);
	}
	return -EINVAL;
}

static void fill_cmd(struct journal_cmd *c, const struct policy_req *r, int64_t now_ms)
{
	switch (r->kind) {
	case POLICY_PIN:
		memcpy(c->u.set_pin.path, r->path, sizeof(r->path));
		c->u.set_pin.recursive = r->recursive;
		c->u.set_pin.pinned = r->pinned;
		memcpy(c->u.set_pin.medium, r->medium, sizeof(r->medium));
		break;
	case POLICY_TTL:
		memcpy(c->u.set_ttl.path, r->path, sizeof(r->path));
		c->u.set_ttl.recursive = r->recursive;
		c->u.set_ttl.ttl_ms = r->ttl_ms;
		memcpy(c->u.set_ttl.action, r->action, sizeof(r->action));
		c->u.set_ttl.time_ms = now_ms;
		break;
	case POLICY_REPLICATION:
		memcpy(c->u.set_replication.path, r->path, sizeof(r->path));
		c->u.set_replication.recursive = r->recursive;
		c->u.set_replication.min = r->min;
		c->u.set_replication.max = r->max;
		break;
	case POLICY_WRITE_TYPE:
		memcpy(c->u.set_write_type.path, r->path, sizeof(r->path));
		c->u.set_write_type.recursive = r->recursive;
		memcpy(c->u.set_write_type.write_type, r->write_type, sizeof(r->write_type));
		break;
	}
}

static const char *const g_media[] = { "MEM", "SSD", "HDD" };

static int medium_rank(const char *medium)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(medium, g_media[i]) == 0)
			return i;
	return NS_PIN_ANY;
}

static void fmt_size(int64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRId64 " B", bytes);
	else
		snprintf(buf, len, "%.1f %s (%" PRId64 " bytes)", v, units[u], bytes);
}

/* The room check of a pin (policy.h). */
static int check_room(struct meta *meta, uint64_t id, const struct policy_req *r, char *err,
		      size_t errlen)
{
	struct ns_pin_room pr;
	struct ns *ns = meta_read_lock(meta);
	int rc = ns_pin_room(ns, id, r->recursive, &pr);
	meta_read_unlock(meta);
	if (rc) {
		snprintf(err, errlen, "cannot read what '%s' would pin", r->path);
		return rc;
	}
	int rank = medium_rank(r->medium);
	int64_t pinned = 0;
	for (int k = 0; k < NS_PIN_MEDIA; k++)
		if (rank == NS_PIN_ANY || (k != NS_PIN_ANY && k <= rank))
			pinned += pr.pinned_bytes[k] - pr.target_pinned_bytes[k];
	int64_t capacity = r->room_capacity[rank];
	int64_t avail = capacity > pinned ? capacity - pinned : 0;
	if (pr.target_bytes <= avail)
		return 0;
	char need_s[64], avail_s[64], cap_s[64], pinned_s[64];
	fmt_size(pr.target_bytes, need_s, sizeof(need_s));
	fmt_size(avail, avail_s, sizeof(avail_s));
	fmt_size(capacity, cap_s, sizeof(cap_s));
	fmt_size(pinned, pinned_s, sizeof(pinned_s));
	snprintf(err, errlen,
		 "field 'medium': pinning '%s'%s needs %s on %s%s but %s is available across %d "
		 "live worker%s (capacity %s, pinned by other files %s); nothing was pinned",
		 r->path, r->recursive ? " (recursive)" : "", need_s,
		 rank == NS_PIN_ANY ? "any tier" : g_media[rank],
		 rank == NS_PIN_ANY || rank == NS_PIN_MEM ? "" : " or faster", avail_s,
		 r->room_workers, r->room_workers == 1 ? "" : "s", cap_s, pinned_s);
	return -EDQUOT;
}

void policy_fill_room(struct registry *reg, struct policy_req *req)
{
	memset(req->room_capacity, 0, sizeof(req->room_capacity));
	req->room_workers = 0;
	cJSON *doc = registry_metrics_json(reg);
	const cJSON *w;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(doc, "workers"))
	{
		const cJSON *state = cJSON_GetObjectItemCaseSensitive(w, "state");
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(w, "counters");
		if (!cJSON_IsString(state) || strcmp(state->valuestring, "live") != 0)
			continue;
		bool known = false;
		for (int k = 0; k < 3; k++) {
			static const char *const keys[] = { "tier_mem_capacity_bytes",
							    "tier_ssd_capacity_bytes",
							    "tier_hdd_capacity_bytes" };
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, keys[k]);
			if (!cJSON_IsNumber(v))
				continue;
			known = true;
			/* A medium's pins may sit on it or any faster tier. */
			for (int m = k; m < 3; m++)
				req->room_capacity[m] += (int64_t)v->valuedouble;
			req->room_capacity[NS_PIN_ANY] += (int64_t)v->valuedouble;
		}
		req->room_workers += known;
	}
	cJSON_Delete(doc);
}

static const enum journal_op g_op[] = {
	[POLICY_PIN] = JOURNAL_SET_PIN,
	[POLICY_TTL] = JOURNAL_SET_TTL,
	[POLICY_REPLICATION] = JOURNAL_SET_REPLICATION,
	[POLICY_WRITE_TYPE] = JOURNAL_SET_WRITE_TYPE,
};

int policy_set(struct fs *fs, struct meta *meta, const struct policy_req *req, int64_t now_ms,
	       bool *changed, char *err, size_t errlen)
{
	bool dummy;
	if (!changed)
		changed = &dummy;
	*changed = false;
	*err = '\0';
	if (strnlen(req->path, sizeof(req->path)) == sizeof(req->path) || req->path[0] != '/')
		return bad(err, errlen, "path", "not an absolute path");
	int rc = check_req(req, err, errlen);
	if (rc)
		return rc;
	/* Loads the path from its store when strata has not seen it yet. */
	struct ns_inode n;
	rc = fs_stat(fs, req->path, &n, err, errlen);
	if (rc == -ENOENT || rc == -ENOTDIR) {
		/* Name the field, as the other checks do. */
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "field 'path': %s", why);
	}
	if (rc)
		return rc;
	if (req->kind == POLICY_TTL && strcmp(req->action, "delete") == 0) {
		rc = check_ttl_writable(fs, meta, req, err, errlen);
		if (rc)
			return rc;
	}
	struct ns *ns = meta_read_lock(meta);
	int64_t ndiff = differs(ns, n.id, req);
	meta_read_unlock(meta);
	if (ndiff < 0) {
		snprintf(err, errlen, "cannot read the policies of '%s'", req->path);
		return (int)ndiff;
	}
	if (ndiff == 0)
		return 0;
	if (req->kind == POLICY_PIN && req->pinned && req->room_workers > 0) {
		rc = check_room(meta, n.id, req, err, errlen);
		if (rc)
			return rc;
	}
	struct journal_cmd *c = journal_new(g_op[req->kind]);
	if (!c)
		return -ENOMEM;
	fill_cmd(c, req, now_ms);
	rc = meta_submit(meta, c, err, errlen);
	journal_free(c);
	if (!rc)
		*changed = true;
	return rc;
}

int policy_check_mount_ttl(const char *ttl, const char *action, bool readonly, char *err,
			   size_t errlen)
{
	if (!ttl) {
		if (action) {
			snprintf(err, errlen, "mount option 'ttl_action' needs the option 'ttl'");
			return -EINVAL;
		}
		return 0;
	}
	int64_t ms = 0;
	if (conf_parse_duration(ttl, &ms) || ms <= 0 || ms > JOURNAL_TTL_MAX_MS) {
		snprintf(err, errlen, "mount option 'ttl': '%s' is not a duration above 0 (at "
			 "most 100 years)", ttl);
		return -EINVAL;
	}
	if (action && !journal_action_valid(action)) {
		snprintf(err, errlen, "mount option 'ttl_action': '%s' is not free or delete",
			 action);
		return -EINVAL;
	}
	if (readonly && (!action || strcmp(action, "delete") == 0)) {
		snprintf(err, errlen, "mount option 'ttl_action': a read-only mount cannot have a "
			 "TTL that deletes (set ttl_action=free)");
		return -EROFS;
	}
	return 0;
}

void policy_record_event(struct events *ev, const struct journal_cmd *cmd, int rc,
			 int64_t now_ms)
{
	char detail[128];
	const char *type = NULL, *path = NULL;
	if (rc || !ev)
		return;
	switch (cmd->op) {
	case JOURNAL_SET_PIN: {
		const struct journal_set_pin *c = &cmd->u.set_pin;
		type = c->pinned ? "pin" : "unpin";
		path = c->path;
		snprintf(detail, sizeof(detail), "%s%s%s", c->pinned && c->medium[0] ? "on " : "",
			 c->medium, c->recursive ? (c->medium[0] ? ", recursive" : "recursive") : "");
		break;
	}
	case JOURNAL_SET_TTL: {
		const struct journal_set_ttl *c = &cmd->u.set_ttl;
		type = c->ttl_ms ? "ttl_set" : "ttl_cleared";
		path = c->path;
		if (c->ttl_ms)
			snprintf(detail, sizeof(detail), "ttl_ms %" PRId64 ", then %s%s", c->ttl_ms,
				 c->action, c->recursive ? ", recursive" : "");
		else
			snprintf(detail, sizeof(detail), "%s", c->recursive ? "recursive" : "");
		break;
	}
	case JOURNAL_SET_REPLICATION: {
		const struct journal_set_replication *c = &cmd->u.set_replication;
		type = "replication_set";
		path = c->path;
		snprintf(detail, sizeof(detail), "min %" PRId64 ", max %" PRId64 "%s", c->min,
			 c->max, c->recursive ? ", recursive" : "");
		break;
	}
	case JOURNAL_SET_WRITE_TYPE: {
		const struct journal_set_write_type *c = &cmd->u.set_write_type;
		type = c->write_type[0] ? "write_type_set" : "write_type_cleared";
		path = c->path;
		snprintf(detail, sizeof(detail), "%s%s%s", c->write_type,
			 c->recursive && c->write_type[0] ? ", " : "", c->recursive ? "recursive" : "");
		break;
	}
	case JOURNAL_SET_PERSISTENCE: {
		const struct journal_set_persistence *c = &cmd->u.set_persistence;
		/* Only the ends of the road are events: a file that reached its
		 * store, and one whose data is gone. */
		if (strcmp(c->state, "lost") == 0) {
			type = "persist_lost";
			snprintf(detail, sizeof(detail),
				 "not persisted, and every cached copy is gone (content %" PRIu64 ")",
				 c->data_id);
		} else if (strcmp(c->state, "persisted") == 0) {
			type = "persisted";
			snprintf(detail, sizeof(detail), "%" PRIu64 " bytes in the store", c->length);
		} else {
			return;
		}
		path = c->path;
		break;
	}
	case JOURNAL_TTL_FIRE: {
		const struct journal_ttl_fire *c = &cmd->u.ttl_fire;
		type = "ttl_fired";
		path = c->path;
		/* A free fires once the workers dropped the blocks (ttlcheck.h). */
		snprintf(detail, sizeof(detail), "%s",
			 strcmp(c->action, "free") == 0
				 ? "free: cached blocks dropped (unless pinned); the file is kept"
				 : "delete: from strata and the store");
		break;
	}
	case JOURNAL_JOB_CREATE: {
		const struct journal_job_create *c = &cmd->u.job_create;
		type = "job_started";
		path = c->path;
		snprintf(detail, sizeof(detail), "%s%s%s%s", c->type, c->recursive ? ", recursive" : "",
			 c->medium[0] ? ", on " : "", c->medium);
		break;
	}
	case JOURNAL_JOB_END: {
		const struct journal_job_end *c = &cmd->u.job_end;
		type = strcmp(c->state, "done") == 0     ? "job_done"
		       : strcmp(c->state, "failed") == 0 ? "job_failed"
							 : "job_cancelled";
		path = c->path;
		snprintf(detail, sizeof(detail), "job %" PRIu64 "%s%.100s", c->id,
			 c->reason[0] ? ": " : "", c->reason);
		break;
	}
	case JOURNAL_WORKER_STATE: {
		const struct journal_worker_state *c = &cmd->u.worker_state;
		type = strcmp(c->state, "decommissioning") == 0  ? "worker_decommissioning"
		       : strcmp(c->state, "decommissioned") == 0 ? "worker_decommissioned"
								 : "worker_active";
		path = "";
		snprintf(detail, sizeof(detail), "worker %.100s", c->address);
		break;
	}
	default:
		return;
	}
	events_add(ev, now_ms, type, path, detail);
}
