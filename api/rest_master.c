#include "api/rest_master.h"

#include "api/rest_backup.h"
#include "api/rest_common.h"
#include "api/rest_masters.h"
#include "daemon/master/cluster.h"
#include "daemon/master/datajobs.h"
#include "daemon/master/ttlcheck.h"
#include "daemon/master/master.h"
#include "daemon/master/repin.h"
#include "daemon/master/replicate.h"
#include "daemon/master/revalidate.h"
#include "lib/json.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void get_health(struct http_req *req, void *ctx)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", "ok");
	cJSON_AddStringToObject(o, "role", "master");
	cJSON_AddStringToObject(o, "version", STRATA_VERSION);
	rest_masters_add_status(ctx, o);
	http_reply_json(req, 200, o);
}

/* Who the caller is under REST auth, for the console's sign-in: public, so
 * it answers a caller without a token too (it reveals only whether auth is
 * on and what the caller's own token is worth). */
static void get_auth(struct http_req *req, void *ctx)
{
	const char *role = http_req_role(req);
	bool open = strcmp(role, "open") == 0;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "required", !open);
	if (open || !strcmp(role, "admin") || !strcmp(role, "readonly"))
		cJSON_AddStringToObject(o, "role", open ? "admin" : role);
	else
		cJSON_AddNullToObject(o, "role");
	cJSON_AddStringToObject(o, "token", open ? "not_needed"
					    : !strcmp(role, "none")    ? "missing"
					    : !strcmp(role, "refused") ? "refused"
								       : "valid");
	http_reply_json(req, 200, o);
}

static const char *strip_scheme(const char *url)
{
	const char *p = strstr(url, "://");
	return p ? p + 3 : url;
}

static void get_cluster(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	int64_t now = clock_mono_ms();
	struct registry_totals t;
	registry_totals(m->registry, &t);

	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "version", STRATA_VERSION);
	json_add_int(o, "started_at_ms", m->started_wall_ms);
	json_add_int(o, "uptime_ms", now - m->started_mono_ms);
	struct meta_status st;
	meta_status(m->meta, &st);
	bool leading = strcmp(st.role, "leader") == 0;
	cJSON_AddStringToObject(o, "leader", leading ? m->address : strip_scheme(st.leader_url));
	rest_masters_add_status(m, o);
	cJSON *masters = cJSON_AddArrayToObject(o, "masters");
	for (size_t i = 0; i < st.nmembers; i++) {
		const struct meta_member *mm = &st.members[i];
		if (!mm->voter)
			continue;
		cJSON *e = cJSON_CreateObject();
		bool self = mm->id == st.id;
		json_add_int(e, "id", (int64_t)mm->id);
		cJSON_AddStringToObject(e, "address", self ? m->address : strip_scheme(mm->rest_url));
		cJSON_AddStringToObject(e, "rest_url", mm->rest_url);
		cJSON_AddStringToObject(e, "raft_address", mm->raft_address);
		cJSON_AddStringToObject(e, "role", self ? st.role
					      : mm->id == st.leader ? "leader" : "follower");
		cJSON_AddBoolToObject(e, "self", self);
		cJSON_AddItemToArray(masters, e);
	}
	/* What this master offers beyond the base API: the console shows a
	 * feature's page once it is listed here. */
	cJSON *features = cJSON_AddArrayToObject(o, "features");
	cJSON_AddItemToArray(features, cJSON_CreateString("jobs"));
	cJSON *w = cJSON_AddObjectToObject(o, "workers");
	json_add_int(w, "live", t.live);
	json_add_int(w, "lost", t.lost);
	cJSON *cap = cJSON_AddObjectToObject(o, "capacity");
	json_add_int(cap, "total_bytes", t.capacity_bytes);
	json_add_int(cap, "used_bytes", t.used_bytes);
	cJSON *list = registry_to_json(m->registry, now);
	if (!list || !cJSON_AddItemToObject(o, "worker_list", list)) {
		cJSON_Delete(list);
		cJSON_Delete(o);
		http_reply_error(req, 500, "out_of_memory", "cannot build cluster report");
		return;
	}
	http_reply_json(req, 200, o);
}

static void get_workers(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *list = registry_to_json(m->registry, clock_mono_ms());
	cJSON *o = cJSON_CreateObject();
	if (!list || !o) {
		cJSON_Delete(list);
		cJSON_Delete(o);
		http_reply_error(req, 500, "out_of_memory", "cannot list workers");
		return;
	}
	cJSON_AddItemToObject(o, "workers", list);
	http_reply_json(req, 200, o);
}

static void get_config(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *o = rest_config_json(m->conf);
	if (!o) {
		http_reply_error(req, 500, "out_of_memory", "cannot render configuration");
		return;
	}
	http_reply_json(req, 200, o);
}

/* Parses [[block_id, tier], ...] (absent: none) into *out (caller frees). */
static int parse_blocks(const cJSON *list, struct cluster_block **out, size_t *n, char *err,
			size_t errlen)
{
	*out = NULL;
	*n = 0;
	int count = cJSON_GetArraySize(list);
	if (count <= 0)
		return 0;
	struct cluster_block *b = calloc((size_t)count, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	const cJSON *e;
	size_t i = 0;
	cJSON_ArrayForEach(e, list)
	{
		const cJSON *tier = cJSON_GetArrayItem(e, 1);
		uint64_t bid;
		if (json_u64_value(cJSON_GetArrayItem(e, 0), &bid) || !cJSON_IsNumber(tier) ||
		    !(tier->valuedouble >= 0 && tier->valuedouble <= 2) ||
		    tier->valuedouble != (int)tier->valuedouble) {
			snprintf(err, errlen,
				 "block entries must be [block_id, tier] with tier 0 (MEM), 1 (SSD) or "
				 "2 (HDD)");
			free(b);
			return -EINVAL;
		}
		b[i].block_id = bid;
		b[i].tier = (int)tier->valuedouble;
		i++;
	}
	*out = b;
	*n = i;
	return 0;
}

/* Parses [block_id, ...] into *out (caller frees); entries that are not
 * ids (lib/json.h: decimal strings) are skipped. */
static int parse_ids(const cJSON *list, uint64_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int count = cJSON_GetArraySize(list);
	if (count <= 0)
		return 0;
	uint64_t *ids = calloc((size_t)count, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		uint64_t bid;
		if (!json_u64_value(e, &bid))
			ids[(*n)++] = bid;
	}
	*out = ids;
	return 0;
}

/* "pin": the registered blocks the worker should pin again (repin.h);
 * absent when none. Out of memory: no list (the blocks are pinned again
 * when read, as before). */
static void add_repins(struct master *m, cJSON *o, const struct cluster_block *blocks,
		       size_t n)
{
	uint64_t *ids = n ? malloc(n * sizeof(*ids)) : NULL, *pins = NULL;
	size_t npins = 0;
	if (!ids)
		return;
	for (size_t i = 0; i < n; i++)
		ids[i] = blocks[i].block_id;
	if (!repin_select(m->meta, ids, n, &pins, &npins) && npins) {
		cJSON *arr = cJSON_AddArrayToObject(o, "pin");
		for (size_t i = 0; arr && i < npins; i++)
			cJSON_AddItemToArray(arr, json_u64_create(pins[i]));
		log_info("worker registration: %zu of its %zu blocks are pinned again (files not "
			 "persisted yet, or pinned)",
			 npins, n);
	}
	free(pins);
	free(ids);
}

/* Worker RPC: {"host","data_port","s3_port","version","capacity_bytes","used_bytes",
 * "blocks"} -> {"worker_id","heartbeat_interval_ms"[,"pin"]}. */
static void post_register(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char err[256];
	struct cluster_registration r = { .worker.version = "" };
	struct cluster_block *blocks = NULL;
	int64_t data_port = 0, s3_port = 0, cap = 0, used = 0;
	int rc = json_get_str(body, "host", true, &r.worker.host, err, sizeof(err));
	if (!rc)
		rc = json_get_int(body, "data_port", true, 1, 65535, &data_port, err, sizeof(err));
	if (!rc)
		rc = json_get_int(body, "s3_port", true, 1, 65535, &s3_port, err, sizeof(err));
	if (!rc)
		rc = json_get_str(body, "version", false, &r.worker.version, err, sizeof(err));
	if (!rc)
		rc = json_get_int(body, "capacity_bytes", true, 0, INT64_MAX, &cap, err,
				  sizeof(err));
	if (!rc)
		rc = json_get_int(body, "used_bytes", true, 0, INT64_MAX, &used, err, sizeof(err));
	if (!rc)
		rc = parse_blocks(cJSON_GetObjectItemCaseSensitive(body, "blocks"), &blocks,
				  &r.nblocks, err, sizeof(err));
	if (rc) {
		if (rc == -ENOMEM)
			http_reply_rc(req, rc, err);
		else
			http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	r.worker.data_port = (int)data_port;
	r.worker.s3_port = (int)s3_port;
	r.worker.capacity_bytes = cap;
	r.worker.used_bytes = used;
	r.blocks = blocks;
	uint64_t id = 0;
	rc = cluster_register(m->registry, m->blocks, &r, clock_mono_ms(), &id, err, sizeof(err));
	if (rc == -EINVAL) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
	} else if (rc) {
		http_reply_rc(req, rc, err);
	} else {
		cJSON *o = cJSON_CreateObject();
		json_add_u64(o, "worker_id", id);
		json_add_int(o, "heartbeat_interval_ms", m->conf->worker_heartbeat_interval);
		add_repins(m, o, blocks, r.nblocks);
		http_reply_json(req, 200, o);
	}
out:
	free(blocks);
	cJSON_Delete(body);
}

/* Worker RPC: {"worker_id","capacity_bytes","used_bytes","metrics","added",
 * "removed"}; 404 unknown_worker tells the worker to register again. */
static void post_heartbeat(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char err[256];
	struct cluster_heartbeat hb = { 0 };
	struct cluster_block *added = NULL;
	uint64_t *removed = NULL;
	uint64_t id = 0;
	int rc = json_get_u64(body, "worker_id", true, &id, err, sizeof(err));
	if (!rc)
		rc = json_get_int(body, "capacity_bytes", true, 0, INT64_MAX, &hb.capacity_bytes,
				  err, sizeof(err));
	if (!rc)
		rc = json_get_int(body, "used_bytes", true, 0, INT64_MAX, &hb.used_bytes, err,
				  sizeof(err));
	if (!rc)
		rc = parse_blocks(cJSON_GetObjectItemCaseSensitive(body, "added"), &added,
				  &hb.nadded, err, sizeof(err));
	if (rc && rc != -ENOMEM) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	if (!rc && (rc = parse_ids(cJSON_GetObjectItemCaseSensitive(body, "removed"), &removed,
				   &hb.nremoved)))
		snprintf(err, sizeof(err), "out of memory");
	int64_t port = 0;
	const char *host = NULL;
	if (!rc && cJSON_GetObjectItemCaseSensitive(body, "host") &&
	    (json_get_str(body, "host", true, &host, err, sizeof(err)) ||
	     json_get_int(body, "data_port", true, 1, 65535, &port, err, sizeof(err)))) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	if (!rc) {
		hb.worker_id = id;
		hb.host = host;
		hb.data_port = (int)port;
		hb.metrics = cJSON_GetObjectItemCaseSensitive(body, "metrics");
		hb.added = added;
		hb.removed = removed;
		rc = cluster_heartbeat(m->registry, m->blocks, &hb, clock_mono_ms(), err,
				       sizeof(err));
	}
	if (rc == -EINVAL) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
	} else if (rc == -ENOENT) {
		http_reply_error(req, 404, "unknown_worker", "%s", err);
	} else if (rc) {
		http_reply_rc(req, rc, err);
	} else {
		cJSON *mounts = NULL;
		if (fs_mounts_json(m->fs, &mounts))
			mounts = NULL; /* the peers still go out */
		cJSON *o = cluster_heartbeat_reply(m->registry, mounts);
		cJSON_Delete(mounts);
		if (o && m->repl && repl_take_orders(m->repl, id, o)) {
			cJSON_Delete(o);
			o = NULL;
		}
		if (o)
			http_reply_json(req, 200, o);
		else
			http_reply_error(req, 500, "out_of_memory", "out of memory");
	}
out:
	free(added);
	free(removed);
	cJSON_Delete(body);
}

/* POST /api/v1/workers/decommission {"id"}: drains a worker (admin;
 * replicate.h). 200 {"worker":{"id","address","state"}}; setting it again
 * is a success that changes nothing. */
static void post_decommission(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char err[512] = "";
	uint64_t id = 0;
	int rc = json_get_u64(body, "id", true, &id, err, sizeof(err));
	cJSON_Delete(body);
	if (rc) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		return;
	}
	struct registry_entry w;
	rc = repl_decommission(m->repl, id, clock_wall_ms(), &w, err, sizeof(err));
	if (rc == -ENOENT) {
		http_reply_error(req, 404, "not_found", "%s", err);
		return;
	}
	if (rc) {
		http_reply_rc(req, rc, err);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON *wo = cJSON_AddObjectToObject(o, "worker");
	if (!wo) {
		cJSON_Delete(o);
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
	json_add_u64(wo, "id", w.id);
	cJSON_AddStringToObject(wo, "address", w.address);
	cJSON_AddStringToObject(wo, "state", registry_state_name(w.live ? WORKER_LIVE : WORKER_LOST,
								 w.admin));
	http_reply_json(req, 200, o);
}

/* The replication checker's figures (JSON metrics and Prometheus). */
static void add_repl_json(struct master *m, cJSON *master)
{
	struct repl_stats rs = { 0 };
	if (m->repl)
		repl_stats_get(m->repl, &rs);
	cJSON *r = cJSON_AddObjectToObject(master, "replication");
	json_add_int(r, "under_replicated_blocks", (int64_t)rs.under_replicated);
	json_add_int(r, "over_replicated_blocks", (int64_t)rs.over_replicated);
	json_add_int(r, "copies_ordered_total", (int64_t)rs.copies_ordered);
	json_add_int(r, "copies_made_total", (int64_t)rs.copies_made);
	json_add_int(r, "copies_timed_out_total", (int64_t)rs.copies_timed_out);
	json_add_int(r, "drops_ordered_total", (int64_t)rs.drops_ordered);
	json_add_int(r, "drops_made_total", (int64_t)rs.drops_made);
	json_add_int(r, "workers_decommissioning", (int64_t)rs.decommissioning);
	json_add_int(r, "passes_total", (int64_t)rs.passes);
	json_add_int(r, "passes_skipped_total", (int64_t)rs.passes_skipped);
}

/* Cluster view of the workers' counters (JSON). */
static void get_metrics_json(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *o = registry_metrics_json(m->registry);
	if (!o) {
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
	struct registry_totals t;
	registry_totals(m->registry, &t);
	cJSON *master = cJSON_AddObjectToObject(o, "master");
	json_add_int(master, "workers_live", t.live);
	json_add_int(master, "workers_lost", t.lost);
	json_add_int(master, "capacity_bytes", t.capacity_bytes);
	json_add_int(master, "used_bytes", t.used_bytes);
	json_add_int(master, "cached_blocks", (int64_t)blockmap_count(m->blocks));
	json_add_int(master, "journal_applied_index", (int64_t)meta_applied_index(m->meta));
	add_repl_json(m, master);
	struct datajobs_stats js;
	datajobs_get_stats(m->datajobs, &js);
	json_add_int(master, "job_slices_total", (int64_t)js.slices);
	json_add_int(master, "job_files_loaded_total", (int64_t)js.files_loaded);
	json_add_int(master, "job_bytes_loaded_total", (int64_t)js.bytes_loaded);
	json_add_int(master, "job_files_freed_total", (int64_t)js.files_freed);
	json_add_int(master, "job_files_failed_total", (int64_t)js.files_failed);
	struct ttlcheck_stats ts = { 0 };
	if (m->ttl)
		ttlcheck_get_stats(m->ttl, &ts);
	json_add_int(master, "ttl_passes_total", (int64_t)ts.passes);
	json_add_int(master, "ttl_fired_free_total", (int64_t)ts.fired_free);
	json_add_int(master, "ttl_fired_delete_total", (int64_t)ts.fired_delete);
	json_add_int(master, "ttl_deleted_total", (int64_t)ts.deleted);
	json_add_int(master, "ttl_dropped_files_total", (int64_t)ts.dropped_files);
	json_add_int(master, "ttl_errors_total", (int64_t)ts.errors);
	json_add_int(master, "job_files_persisted_total", (int64_t)js.files_persisted);
	json_add_int(master, "job_bytes_persisted_total", (int64_t)js.bytes_persisted);
	int64_t pc[4];
	struct ns *pns = meta_read_lock(m->meta);
	if (ns_persistence_counts(pns, pc))
		memset(pc, 0, sizeof(pc));
	meta_read_unlock(m->meta);
	json_add_int(master, "files_not_persisted", pc[NS_NOT_PERSISTED]);
	json_add_int(master, "files_persisting", pc[NS_PERSISTING]);
	json_add_int(master, "files_lost", pc[NS_LOST]);
	struct fs_sync_stats fst;
	fs_sync_stats(m->fs, &fst);
	struct reval_stats rst = { 0 };
	if (m->reval)
		reval_get_stats(m->reval, &rst);
	cJSON *sync = cJSON_AddObjectToObject(master, "sync");
	json_add_int(sync, "lists", (int64_t)fst.lists);
	json_add_int(sync, "heads", (int64_t)fst.heads);
	json_add_int(sync, "changes", (int64_t)fst.changes);
	json_add_int(sync, "behind", (int64_t)fst.behind);
	json_add_int(sync, "raced", (int64_t)fst.raced);
	json_add_int(sync, "verified_files", (int64_t)fst.verified);
	json_add_int(sync, "revalidate_dirs", (int64_t)rst.dirs);
	json_add_int(sync, "revalidate_errors", (int64_t)rst.errors);
	json_add_int(sync, "wanted_files", (int64_t)rst.wanted);
	json_add_int(sync, "cached_files", (int64_t)rst.cached);
	struct meta_status st;
	meta_status(m->meta, &st);
	cJSON *r = cJSON_AddObjectToObject(master, "raft");
	cJSON_AddStringToObject(r, "role", st.role);
	json_add_int(r, "is_leader", strcmp(st.role, "leader") == 0);
	json_add_int(r, "leader", (int64_t)st.leader);
	json_add_int(r, "term", (int64_t)st.term);
	json_add_int(r, "commit_index", (int64_t)st.commit_index);
	json_add_int(r, "applied_index", (int64_t)st.applied_index);
	json_add_int(r, "last_index", (int64_t)st.last_index);
	json_add_int(r, "snapshot_index", (int64_t)st.snapshot_index);
	json_add_int(r, "proposals", (int64_t)st.proposals);
	json_add_int(r, "proposals_failed", (int64_t)st.proposals_failed);
	json_add_int(r, "batches", (int64_t)st.batches);
	json_add_int(r, "batch_entries", (int64_t)st.batch_entries);
	json_add_int(r, "batch_max", (int64_t)st.batch_max);
	json_add_int(r, "fsync_us_total", (int64_t)st.fsync_us_total);
	json_add_int(r, "fsync_us_max", (int64_t)st.fsync_us_max);
	json_add_int(r, "snapshots", (int64_t)st.snapshots);
	json_add_int(r, "snapshot_ms_total", (int64_t)st.snapshot_ms_total);
	json_add_int(r, "snapshot_ms_last", (int64_t)st.snapshot_ms_last);
	json_add_int(r, "snapshot_bytes_last", (int64_t)st.snapshot_bytes_last);
	json_add_int(r, "snapshots_installed", (int64_t)st.snapshots_installed);
	json_add_int(r, "elections_won", (int64_t)st.elections_won);
	cJSON_AddBoolToObject(r, "failed", st.failed);
	http_reply_json(req, 200, o);
}

/* The same in Prometheus text: master gauges and cluster sums. */
static void get_metrics_prom(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *o = registry_metrics_json(m->registry);
	struct registry_totals t;
	registry_totals(m->registry, &t);
	size_t cap = 16384, off = 0;
	char *buf = malloc(cap);
	if (!o || !buf) {
		cJSON_Delete(o);
		free(buf);
		http_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
#define EMIT(...) off += (size_t)snprintf(buf + off, off < cap ? cap - off : 0, __VA_ARGS__)
	EMIT("# TYPE strata_master_workers gauge\n");
	EMIT("strata_master_workers{state=\"live\"} %d\n", t.live);
	EMIT("strata_master_workers{state=\"lost\"} %d\n", t.lost);
	struct repl_stats rs = { 0 };
	if (m->repl)
		repl_stats_get(m->repl, &rs);
	EMIT("# TYPE strata_master_blocks_under_replicated gauge\n"
	     "strata_master_blocks_under_replicated %llu\n"
	     "# TYPE strata_master_blocks_over_replicated gauge\n"
	     "strata_master_blocks_over_replicated %llu\n"
	     "# TYPE strata_master_replica_copies_total counter\n"
	     "strata_master_replica_copies_total %llu\n"
	     "# TYPE strata_master_replica_drops_total counter\n"
	     "strata_master_replica_drops_total %llu\n"
	     "# TYPE strata_master_workers_decommissioning gauge\n"
	     "strata_master_workers_decommissioning %llu\n",
	     (unsigned long long)rs.under_replicated, (unsigned long long)rs.over_replicated,
	     (unsigned long long)rs.copies_made, (unsigned long long)rs.drops_made,
	     (unsigned long long)rs.decommissioning);
	EMIT("# TYPE strata_master_capacity_bytes gauge\nstrata_master_capacity_bytes %lld\n",
	     (long long)t.capacity_bytes);
	EMIT("# TYPE strata_master_used_bytes gauge\nstrata_master_used_bytes %lld\n",
	     (long long)t.used_bytes);
	EMIT("# TYPE strata_master_cached_blocks gauge\nstrata_master_cached_blocks %zu\n",
	     blockmap_count(m->blocks));
	struct datajobs_stats js;
	datajobs_get_stats(m->datajobs, &js);
	EMIT("# TYPE strata_master_job_files_total counter\n"
	     "strata_master_job_files_total{result=\"loaded\"} %llu\n"
	     "strata_master_job_files_total{result=\"freed\"} %llu\n"
	     "strata_master_job_files_total{result=\"failed\"} %llu\n"
	     "# TYPE strata_master_job_bytes_loaded_total counter\n"
	     "strata_master_job_bytes_loaded_total %llu\n",
	     (unsigned long long)js.files_loaded, (unsigned long long)js.files_freed,
	     (unsigned long long)js.files_failed, (unsigned long long)js.bytes_loaded);
	struct ttlcheck_stats ts = { 0 };
	if (m->ttl)
		ttlcheck_get_stats(m->ttl, &ts);
	EMIT("# HELP strata_master_ttl_fired_total TTL firings applied by this leader\n"
	     "# TYPE strata_master_ttl_fired_total counter\n"
	     "strata_master_ttl_fired_total{action=\"free\"} %llu\n"
	     "strata_master_ttl_fired_total{action=\"delete\"} %llu\n"
	     "# TYPE strata_master_ttl_deleted_total counter\nstrata_master_ttl_deleted_total %llu\n"
	     "# HELP strata_master_ttl_errors_total TTL actions that failed (retried next pass)\n"
	     "# TYPE strata_master_ttl_errors_total counter\nstrata_master_ttl_errors_total %llu\n",
	     (unsigned long long)ts.fired_free, (unsigned long long)ts.fired_delete,
	     (unsigned long long)ts.deleted, (unsigned long long)ts.errors);
	int64_t pc[4];
	struct ns *pns = meta_read_lock(m->meta);
	if (ns_persistence_counts(pns, pc))
		memset(pc, 0, sizeof(pc));
	meta_read_unlock(m->meta);
	EMIT("# HELP strata_master_job_files_persisted_total files persist jobs wrote to their store\n"
	     "# TYPE strata_master_job_files_persisted_total counter\n"
	     "strata_master_job_files_persisted_total %llu\n"
	     "# HELP strata_master_files files that only the caches hold, by persistence state\n"
	     "# TYPE strata_master_files gauge\n"
	     "strata_master_files{persistence=\"not_persisted\"} %lld\n"
	     "strata_master_files{persistence=\"persisting\"} %lld\n"
	     "strata_master_files{persistence=\"lost\"} %lld\n",
	     (unsigned long long)js.files_persisted, (long long)pc[NS_NOT_PERSISTED],
	     (long long)pc[NS_PERSISTING], (long long)pc[NS_LOST]);
	EMIT("# TYPE strata_master_journal_applied_index counter\n"
	     "strata_master_journal_applied_index %llu\n",
	     (unsigned long long)meta_applied_index(m->meta));
	struct fs_sync_stats fst;
	fs_sync_stats(m->fs, &fst);
	struct reval_stats rst = { 0 };
	if (m->reval)
		reval_get_stats(m->reval, &rst);
	EMIT("# HELP strata_master_sync_lists_total LIST pages asked of stores to check metadata\n"
	     "# TYPE strata_master_sync_lists_total counter\nstrata_master_sync_lists_total %llu\n",
	     (unsigned long long)fst.lists);
	EMIT("# HELP strata_master_sync_heads_total HEADs (stat) asked of stores to check metadata\n"
	     "# TYPE strata_master_sync_heads_total counter\nstrata_master_sync_heads_total %llu\n",
	     (unsigned long long)fst.heads);
	EMIT("# HELP strata_master_sync_changes_total files found changed or gone in their store\n"
	     "# TYPE strata_master_sync_changes_total counter\n"
	     "strata_master_sync_changes_total %llu\n",
	     (unsigned long long)fst.changes);
	EMIT("# HELP strata_master_sync_behind_total lookups that waited for the store because "
	     "the background check fell behind\n"
	     "# TYPE strata_master_sync_behind_total counter\n"
	     "strata_master_sync_behind_total %llu\n",
	     (unsigned long long)fst.behind);
	EMIT("# TYPE strata_master_sync_raced_total counter\nstrata_master_sync_raced_total %llu\n",
	     (unsigned long long)fst.raced);
	EMIT("# TYPE strata_master_sync_verified_files gauge\n"
	     "strata_master_sync_verified_files %llu\n",
	     (unsigned long long)fst.verified);
	EMIT("# TYPE strata_master_revalidate_dirs_total counter\n"
	     "strata_master_revalidate_dirs_total %llu\n",
	     (unsigned long long)rst.dirs);
	EMIT("# TYPE strata_master_revalidate_errors_total counter\n"
	     "strata_master_revalidate_errors_total %llu\n",
	     (unsigned long long)rst.errors);
	EMIT("# TYPE strata_master_revalidate_wanted_files gauge\n"
	     "strata_master_revalidate_wanted_files %llu\n",
	     (unsigned long long)rst.wanted);
	EMIT("# HELP strata_master_revalidate_cached_files files kept fresh because they have "
	     "cached blocks (read or not)\n"
	     "# TYPE strata_master_revalidate_cached_files gauge\n"
	     "strata_master_revalidate_cached_files %llu\n",
	     (unsigned long long)rst.cached);
	struct meta_status st;
	meta_status(m->meta, &st);
	EMIT("# TYPE strata_master_raft_term gauge\nstrata_master_raft_term %llu\n",
	     (unsigned long long)st.term);
	EMIT("# TYPE strata_master_raft_role gauge\n");
	static const char *const roles[] = { "leader", "follower", "candidate" };
	for (size_t i = 0; i < 3; i++)
		EMIT("strata_master_raft_role{role=\"%s\"} %d\n", roles[i],
		     strcmp(st.role, roles[i]) == 0);
	EMIT("# TYPE strata_master_raft_leader gauge\nstrata_master_raft_leader %llu\n",
	     (unsigned long long)st.leader);
	EMIT("# TYPE strata_master_raft_commit_index gauge\nstrata_master_raft_commit_index %llu\n",
	     (unsigned long long)st.commit_index);
	EMIT("# TYPE strata_master_raft_applied_index gauge\n"
	     "strata_master_raft_applied_index %llu\n",
	     (unsigned long long)st.applied_index);
	EMIT("# TYPE strata_master_raft_proposals_total counter\n"
	     "strata_master_raft_proposals_total %llu\n"
	     "# TYPE strata_master_raft_proposals_failed_total counter\n"
	     "strata_master_raft_proposals_failed_total %llu\n",
	     (unsigned long long)st.proposals, (unsigned long long)st.proposals_failed);
	EMIT("# TYPE strata_master_raft_fsync_batches_total counter\n"
	     "strata_master_raft_fsync_batches_total %llu\n"
	     "# TYPE strata_master_raft_fsync_entries_total counter\n"
	     "strata_master_raft_fsync_entries_total %llu\n"
	     "# TYPE strata_master_raft_fsync_batch_max gauge\n"
	     "strata_master_raft_fsync_batch_max %llu\n",
	     (unsigned long long)st.batches, (unsigned long long)st.batch_entries,
	     (unsigned long long)st.batch_max);
	EMIT("# TYPE strata_master_raft_fsync_seconds_total counter\n"
	     "strata_master_raft_fsync_seconds_total %.6f\n"
	     "# TYPE strata_master_raft_fsync_seconds_max gauge\n"
	     "strata_master_raft_fsync_seconds_max %.6f\n",
	     (double)st.fsync_us_total / 1e6, (double)st.fsync_us_max / 1e6);
	EMIT("# TYPE strata_master_raft_snapshots_total counter\n"
	     "strata_master_raft_snapshots_total %llu\n"
	     "# TYPE strata_master_raft_snapshot_seconds_total counter\n"
	     "strata_master_raft_snapshot_seconds_total %.3f\n"
	     "# TYPE strata_master_raft_snapshot_bytes gauge\n"
	     "strata_master_raft_snapshot_bytes %llu\n"
	     "# TYPE strata_master_raft_snapshots_installed_total counter\n"
	     "strata_master_raft_snapshots_installed_total %llu\n",
	     (unsigned long long)st.snapshots, (double)st.snapshot_ms_total / 1e3,
	     (unsigned long long)st.snapshot_bytes_last,
	     (unsigned long long)st.snapshots_installed);
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(o, "cluster"))
	{
		EMIT("# TYPE strata_cluster_%s counter\nstrata_cluster_%s %.0f\n", c->string,
		     c->string, c->valuedouble);
	}
#undef EMIT
	cJSON_Delete(o);
	http_reply_raw(req, 200, "text/plain; version=0.0.4", buf, off < cap ? off : cap - 1);
	free(buf);
}

static const struct http_route g_routes[] = {
	{ "GET", "/api/v1/health", HTTP_ACCESS_PUBLIC, get_health },
	{ "GET", "/api/v1/auth", HTTP_ACCESS_PUBLIC, get_auth },
	{ "GET", "/api/v1/cluster", HTTP_ACCESS_READONLY, get_cluster },
	{ "GET", "/api/v1/workers", HTTP_ACCESS_READONLY, get_workers },
	{ "GET", "/api/v1/config", HTTP_ACCESS_READONLY, get_config },
	{ "GET", "/api/v1/metrics", HTTP_ACCESS_READONLY, get_metrics_json },
	{ "GET", "/metrics", HTTP_ACCESS_METRICS, get_metrics_prom },
	{ "POST", "/api/v1/workers/register", HTTP_ACCESS_WORKER, post_register },
	{ "POST", "/api/v1/workers/heartbeat", HTTP_ACCESS_WORKER, post_heartbeat },
	{ "POST", "/api/v1/workers/decommission", HTTP_ACCESS_ADMIN, post_decommission },
	{ "GET", "/api/v1/masters", HTTP_ACCESS_READONLY, rest_masters_get },
	{ "GET", "/api/v1/masters/self", HTTP_ACCESS_READONLY, rest_masters_get_self },
	{ "POST", "/api/v1/masters", HTTP_ACCESS_ADMIN, rest_masters_post },
	{ "DELETE", "/api/v1/masters/", HTTP_ACCESS_ADMIN, rest_masters_delete },
	{ "GET", "/api/v1/admin/backup", HTTP_ACCESS_ADMIN, rest_backup_get },
};

const struct http_route *rest_master_routes(size_t *nroutes)
{
	*nroutes = sizeof(g_routes) / sizeof(g_routes[0]);
	return g_routes;
}
