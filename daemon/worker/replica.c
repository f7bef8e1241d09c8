/* The master's replication orders (docs/replication.md), carried out on
 * the heartbeat thread after the reply that brought them: copy a block
 * from another worker's cache, or drop one. The next heartbeat reports the
 * change, which is how the master sees an order done. */
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
static int copy_block(struct worker_node *w, const struct client_replica_order *o,
		      struct file_info *fi, char *err, size_t errlen)
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
	rc = httpc_request(w->hb_http, "GET", url, NULL, NULL, 0, &resp, err, errlen);
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

void worker_replica_run(struct worker_node *w, const struct client_heartbeat_reply *r)
{
	struct file_info *fi = malloc(sizeof(*fi));
	for (size_t i = 0; fi && i < r->ncopies; i++) {
		const struct client_replica_order *o = &r->copies[i];
		char err[512] = "";
		int rc = copy_block(w, o, fi, err, sizeof(err));
		if (rc == -ESTALE)
			continue;
		if (rc) {
			atomic_fetch_add(&w->replica_copy_errors, 1);
			log_warn("cannot copy block %" PRIu64 " of %s from %s: %s", o->block, o->path,
				 o->source, err);
			continue;
		}
		atomic_fetch_add(&w->replica_copies, 1);
		log_debug("copied block %" PRIu64 " of %s from %s", o->block, o->path, o->source);
	}
	free(fi);
	for (size_t i = 0; i < r->ndrops; i++) {
		if (tier_block_remove(w->tiers, r->drops[i]) == 0)
			atomic_fetch_add(&w->replica_drops, 1);
	}
}
