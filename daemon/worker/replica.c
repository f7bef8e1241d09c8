/* The master's replication orders (docs/replication.md), carried out by
 * a thread of their own (a slow source never holds up heartbeats): copy a
 * block from another worker's cache, or drop one. The next heartbeat
 * reports the change, which is how the master sees an order done. */
#include "daemon/worker/blocksvc.h"
#include "daemon/worker/filecache.h"
#include "daemon/worker/worker.h"

#include "client/client.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/placement.h"
#include "tier/tier.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Copies one block: the file's current metadata gives the block's length
 * (an order for older content is dropped: nothing to keep), then the
 * source's cached copy is read (`cached=1`: the source answers 404 rather
 * than read the store) and put in the tiers.
 */
static int copy_block(struct worker_node *w, struct httpc *http,
		      const struct client_replica_order *o, struct file_info *fi, char *err,
		      size_t errlen)
{
	if (tier_block_exists(w->tiers, o->block, NULL))
		return 0;
	int rc = fcache_get(w->fcache, o->path, fi, err, errlen);
	if (rc)
		return rc;
	if (fi->data_id != o->data_id || (o->block >> PLACEMENT_INDEX_BITS) != o->data_id) {
		snprintf(err, errlen, "'%s' no longer holds content %" PRIu64, o->path,
			 o->data_id);
		return -ESTALE;
	}
	uint64_t index = o->block & PLACEMENT_MAX_INDEX;
	uint64_t start = index * (uint64_t)fi->block_size;
	if (fi->block_size <= 0 || start >= fi->length) {
		snprintf(err, errlen, "block %" PRIu64 " is outside '%s'", index, o->path);
		return -EINVAL;
	}
	uint64_t len = fi->length - start < (uint64_t)fi->block_size ? fi->length - start
								     : (uint64_t)fi->block_size;
	char *esc = httpc_escape(o->path);
	size_t ulen = (esc ? strlen(esc) : 0) + strlen(o->source) + 256;
	char *url = esc ? malloc(ulen) : NULL;
	if (!url) {
		free(esc);
		return -ENOMEM;
	}
	bool tls = *w->conf->http_tls_cert != '\0';
	snprintf(url, ulen,
		 "%s://%s/api/v1/blocks/%" PRIu64 "?path=%s&data_id=%" PRIu64
		 "&offset=0&length=%" PRIu64 "&cached=1",
		 tls ? "https" : "http", o->source, o->block, esc, o->data_id, len);
	free(esc);
	struct httpc_resp resp = { 0 };
	rc = httpc_request(http, "GET", url, NULL, NULL, 0, &resp, err, errlen);
	free(url);
	if (rc)
		return rc;
	if (resp.status != 200 || resp.len != len) {
		snprintf(err, errlen, "worker %s answered HTTP %ld (%zu of %" PRIu64 " bytes)",
			 o->source, resp.status, resp.len, len);
		rc = -EIO;
	} else {
		rc = tier_block_put(w->tiers, o->block, resp.body, resp.len, err, errlen);
		if (rc == -EEXIST)
			rc = 0;
		if (!rc && fi->pinned)
			tier_block_pin(w->tiers, o->block, true);
	}
	httpc_resp_free(&resp);
	return rc;
}

/* The orders waiting for the replica thread (a copy of each). */
struct wreplica {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct client_replica_order *copies;
	size_t ncopies;
	uint64_t *drops;
	size_t ndrops;
	struct httpc *http;
};

#define PENDING_MAX 1024 /* the master orders what is dropped again */

static void run_one(struct worker_node *w, struct httpc *http,
		    const struct client_replica_order *o, struct file_info *fi)
{
	char err[512] = "";
	int rc = copy_block(w, http, o, fi, err, sizeof(err));
	if (rc == -ESTALE)
		return;
	if (rc) {
		atomic_fetch_add(&w->replica_copy_errors, 1);
		log_warn("cannot copy block %" PRIu64 " of %s from %s: %s", o->block, o->path,
			 o->source, err);
		return;
	}
	atomic_fetch_add(&w->replica_copies, 1);
	log_debug("copied block %" PRIu64 " of %s from %s", o->block, o->path, o->source);
}

static void *replica_main(void *arg)
{
	struct worker_node *w = arg;
	struct wreplica *r = w->replica;
	struct file_info *fi = malloc(sizeof(*fi));
	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		if (!r->ncopies && !r->ndrops) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		struct client_replica_order *copies = r->copies;
		uint64_t *drops = r->drops;
		size_t nc = r->ncopies, nd = r->ndrops;
		r->copies = NULL;
		r->drops = NULL;
		r->ncopies = r->ndrops = 0;
		pthread_mutex_unlock(&r->lock);
		for (size_t i = 0; i < nd; i++)
			if (tier_block_remove(w->tiers, drops[i]) == 0)
				atomic_fetch_add(&w->replica_drops, 1);
		for (size_t i = 0; i < nc; i++) {
			if (fi)
				run_one(w, r->http, &copies[i], fi);
			free(copies[i].path);
			free(copies[i].source);
		}
		free(copies);
		free(drops);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	free(fi);
	return NULL;
}

int worker_replica_start(struct worker_node *w, const struct httpc_opts *hopts)
{
	struct wreplica *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->http = httpc_new(hopts);
	if (!r->http) {
		free(r);
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	w->replica = r;
	int rc = pthread_create(&r->thread, NULL, replica_main, w);
	if (rc) {
		w->replica = NULL;
		httpc_free(r->http);
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->cond);
		free(r);
		return -rc;
	}
	return 0;
}

void worker_replica_stop(struct worker_node *w)
{
	struct wreplica *r = w->replica;
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	for (size_t i = 0; i < r->ncopies; i++) {
		free(r->copies[i].path);
		free(r->copies[i].source);
	}
	free(r->copies);
	free(r->drops);
	httpc_free(r->http);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
	w->replica = NULL;
}

void worker_replica_run(struct worker_node *w, const struct client_heartbeat_reply *reply)
{
	struct wreplica *r = w->replica;
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	size_t nc = reply->ncopies, nd = reply->ndrops;
	if (r->ncopies + nc > PENDING_MAX)
		nc = r->ncopies < PENDING_MAX ? PENDING_MAX - r->ncopies : 0;
	if (r->ndrops + nd > PENDING_MAX)
		nd = r->ndrops < PENDING_MAX ? PENDING_MAX - r->ndrops : 0;
	struct client_replica_order *copies =
		nc ? realloc(r->copies, (r->ncopies + nc) * sizeof(*copies)) : r->copies;
	if (copies) {
		r->copies = copies;
		for (size_t i = 0; i < nc; i++) {
			struct client_replica_order o = reply->copies[i];
			o.path = strdup(o.path);
			o.source = strdup(o.source);
			if (!o.path || !o.source) {
				free(o.path);
				free(o.source);
				continue;
			}
			r->copies[r->ncopies++] = o;
		}
	}
	uint64_t *drops = nd ? realloc(r->drops, (r->ndrops + nd) * sizeof(*drops)) : r->drops;
	if (drops) {
		r->drops = drops;
		memcpy(r->drops + r->ndrops, reply->drops, nd * sizeof(*drops));
		r->ndrops += nd;
	}
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}
