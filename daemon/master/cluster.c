#include "daemon/master/cluster.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int add_blocks(struct blockmap *bm, uint64_t worker_id, const struct cluster_block *b,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = blockmap_add(bm, b[i].block_id, worker_id, b[i].tier);
		if (rc)
			return rc;
	}
	return 0;
}

int cluster_register(struct registry *reg, struct blockmap *bm,
		     const struct cluster_registration *r, int64_t now_ms, uint64_t *id,
		     char *err, size_t errlen)
{
	size_t hlen = r->worker.host ? strlen(r->worker.host) : 0;
	if (hlen == 0 || hlen > 255) {
		snprintf(err, errlen, "field 'host' must be 1..255 characters");
		return -EINVAL;
	}
	int rc = registry_register(reg, &r->worker, now_ms, id);
	if (rc) {
		snprintf(err, errlen, "cannot register worker");
		return rc;
	}
	/* A registration carries the worker's full block list. */
	blockmap_drop_worker(bm, *id);
	rc = add_blocks(bm, *id, r->blocks, r->nblocks);
	if (rc)
		snprintf(err, errlen, "cannot record the blocks of worker %llu",
			 (unsigned long long)*id);
	return rc;
}

int cluster_heartbeat(struct registry *reg, struct blockmap *bm,
		      const struct cluster_heartbeat *hb, int64_t now_ms, char *err,
		      size_t errlen)
{
	if (hb->host) {
		char have[300], sent[300];
		snprintf(sent, sizeof(sent), "%s:%d", hb->host, hb->data_port);
		if (registry_address(reg, hb->worker_id, have, sizeof(have)) == 0 &&
		    strcmp(have, sent) != 0) {
			snprintf(err, errlen, "worker %llu is %s, not %s; register again",
				 (unsigned long long)hb->worker_id, have, sent);
			return -ENOENT;
		}
	}
	int rc = registry_heartbeat(reg, hb->worker_id, hb->capacity_bytes, hb->used_bytes,
				    now_ms);
	if (rc == -ENOENT) {
		snprintf(err, errlen, "worker %llu is not registered; register again",
			 (unsigned long long)hb->worker_id);
		return rc;
	}
	if (rc)
		return rc;
	registry_set_metrics(reg, hb->worker_id, hb->metrics);
	/* Added before removed: a block cached and evicted again since the
	 * last heartbeat is in both lists, and is gone. */
	rc = add_blocks(bm, hb->worker_id, hb->added, hb->nadded);
	for (size_t i = 0; i < hb->nremoved; i++)
		blockmap_remove(bm, hb->removed[i], hb->worker_id);
	if (rc)
		snprintf(err, errlen, "cannot record the blocks of worker %llu",
			 (unsigned long long)hb->worker_id);
	return rc;
}

static void on_lost(void *arg, uint64_t id)
{
	blockmap_drop_worker(arg, id);
}

int cluster_check_lost(struct registry *reg, struct blockmap *bm, int64_t now_ms)
{
	return registry_check(reg, now_ms, on_lost, bm);
}

int64_t cluster_check_period_ms(int64_t worker_timeout_ms)
{
	int64_t period = worker_timeout_ms / 4;
	if (period < 25)
		period = 25;
	if (period > 1000)
		period = 1000;
	return period;
}

static int lost_job_step(void *arg, int64_t now_ms, char *err, size_t errlen)
{
	struct cluster_lost_job *job = arg;
	cluster_check_lost(job->reg, job->bm, now_ms);
	return JOBS_AGAIN;
}

void cluster_lost_job_spec(struct cluster_lost_job *job, int64_t worker_timeout_ms,
			   struct jobs_spec *out)
{
	*out = (struct jobs_spec){
		.name = "lost-worker check",
		.kind = JOBS_PERIODIC,
		.period_ms = cluster_check_period_ms(worker_timeout_ms),
		.step = lost_job_step,
		.arg = job,
	};
}

cJSON *cluster_heartbeat_reply(struct registry *reg, const cJSON *mounts_doc)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "status", "ok"))
		goto fail;
	cJSON *live = registry_live_json(reg);
	if (!live || !cJSON_AddItemToObject(o, "workers", live)) {
		cJSON_Delete(live);
		goto fail;
	}
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(mounts_doc, "mounts"), *m;
	if (!cJSON_IsArray(list))
		return o;
	cJSON *paths = cJSON_AddArrayToObject(o, "mounts");
	if (!paths)
		goto fail;
	cJSON_ArrayForEach(m, list)
	{
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "path");
		if (cJSON_IsString(p) && !cJSON_AddItemToArray(paths, cJSON_CreateString(p->valuestring)))
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}
