#include "daemon/worker/metrics.h"

#include "daemon/worker/filecache.h"
#include "daemon/worker/localread.h"
#include "daemon/worker/worker.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>


size_t worker_metrics(struct worker_node *w, struct worker_metric *m, size_t max,
		      struct tier_stats *ts, struct bsvc_stats *bs)
{
	tier_stats_get(w->tiers, ts);
	bsvc_stats_get(w->bsvc, bs);
	uint64_t refreshes = 0, drops = 0, checks = 0, changes = 0;
	struct localread_stats ls;
	localread_stats_get(w->lread, &ls);
	struct fcache_miss_stats fm = { 0 };
	if (w->fcache) {
		fcache_stats_get(w->fcache, &refreshes, &drops);
		fcache_epoch_stats(w->fcache, &checks, &changes);
		fcache_miss_stats_get(w->fcache, &fm);
	}
	struct worker_metric all[] = {
		{ "strata_worker_read_requests_total", "Read requests served", bs->requests },
		{ "strata_worker_block_hits_total", "Block reads served from the cache", bs->block_hits },
		{ "strata_worker_block_misses_total", "Block reads that went to the store",
		  bs->block_misses },
		{ "strata_worker_bytes_from_cache_total", "Bytes served from the tiers",
		  bs->bytes_from_cache },
		{ "strata_worker_bytes_from_ufs_total", "Bytes read from under-stores",
		  bs->bytes_from_ufs },
		{ "strata_worker_bytes_from_peers_total", "Bytes pulled from other workers",
		  bs->bytes_from_peers },
		{ "strata_worker_peer_fallbacks_total", "Owner unreachable, read from the store",
		  bs->peer_fallbacks },
		{ "strata_worker_blocks_pushed_total",
		  "Blocks read from a store here that a peer owns (pushed to it)",
		  bs->blocks_pushed },
		{ "strata_worker_cache_put_errors_total", "Blocks read but not cached",
		  bs->cache_put_errors },
		{ "strata_worker_evictions_total", "Blocks evicted", ts->evictions },
		{ "strata_worker_demotions_total", "Blocks moved one tier down", ts->demotions },
		{ "strata_worker_promotions_total",
		  "Blocks moved up to a pin's or load's medium", ts->promotions },
		{ "strata_worker_checksum_failures_total", "Corrupt blocks dropped",
		  ts->checksum_failures },
		{ "strata_worker_tier_write_errors_total", "Failed block writes", ts->write_errors },
		{ "strata_worker_store_read_errors_total", "Reads from an under-store that failed",
		  bs->store_read_errors },
		{ "strata_worker_s3_multipart_expired_total",
		  "Multipart uploads aborted because no part came for worker.s3.multipart_expiry",
		  atomic_load(&w->mpu_expired) },
		{ "strata_worker_s3_fastpath_hits_total",
		  "S3 GET/HEAD answered by the front's fast path (sendfile from the tiers)",
		  atomic_load(&w->front.hits) },
		{ "strata_worker_s3_fastpath_signed_hits_total",
		  "Fast-path hits of SigV4-signed requests (verified in the event loop)",
		  atomic_load(&w->front.hits_signed) },
		{ "strata_worker_s3_fastpath_unsigned_hits_total",
		  "Fast-path hits of unsigned requests",
		  atomic_load(&w->front.hits) - atomic_load(&w->front.hits_signed) },
		{ "strata_worker_s3_fastpath_bytes_total", "Body bytes sent by the fast path",
		  atomic_load(&w->front.bytes) },
		{ "strata_worker_s3_fastpath_fd_hits_total",
		  "Block files the fast path served from its open-file cache (no open())",
		  atomic_load(&w->front.fd_hits) },
		{ "strata_worker_s3_fastpath_fd_opens_total",
		  "Block files the fast path opened because its open-file cache did not hold them",
		  atomic_load(&w->front.fd_opens) },
		{ "strata_worker_s3_proxied_total",
		  "S3 requests the event loops handed to the pool (the gateway's operations)",
		  atomic_load(&w->front.proxied) },
		{ "strata_worker_s3_proxied_signed_total",
		  "Requests handed to the pool that carried a signature (header or presigned URL)",
		  atomic_load(&w->front.proxied_signed) },
		{ "strata_worker_s3_proxied_unsigned_total",
		  "Requests handed to the pool without a signature",
		  atomic_load(&w->front.proxied) - atomic_load(&w->front.proxied_signed) },
		{ "strata_worker_s3_bad_requests_total",
		  "S3 request heads the front refused (malformed, too large, too slow)",
		  atomic_load(&w->front.bad_requests) },
		{ "strata_worker_s3_connections_total", "S3 client connections accepted",
		  atomic_load(&w->front.connections) },
		{ "strata_worker_s3_open_connections", "S3 client connections open now",
		  (uint64_t)atomic_load(&w->front.open) },
		{ "strata_worker_replica_copies_total",
		  "Block copies made on the master's order, read from another worker",
		  atomic_load(&w->replica_copies) },
		{ "strata_worker_replica_copy_errors_total",
		  "Ordered block copies that failed (the master orders them again)",
		  atomic_load(&w->replica_copy_errors) },
		{ "strata_worker_replica_drops_total",
		  "Block copies removed on the master's order (above the file's max)",
		  atomic_load(&w->replica_drops) },
		{ "strata_worker_data_version_lookups_total",
		  "Data reads whose reader opened another version of the file than this worker's "
		  "metadata named (changed elsewhere within worker.metadata_ttl): asked again of "
		  "the master", atomic_load(&w->data_version_lookups) },
		{ "strata_worker_metadata_refreshes_total",
		  "File metadata looked up again in the background (refresh ahead)", refreshes },
		{ "strata_worker_metadata_refresh_drops_total",
		  "Refreshes asked for by reads near the end of the TTL and not queued (queue "
		  "full; the next read asks again)", drops },
		{ "strata_worker_metadata_misses_absent_total",
		  "S3 fast-path lookups that found no cached metadata for the file", fm.absent },
		{ "strata_worker_metadata_misses_expired_total",
		  "S3 fast-path lookups that found the file's metadata with the trust the master "
		  "gave it run out (not read within worker.metadata_keep_warm)", fm.expired },
		{ "strata_worker_metadata_dirs_revived_total",
		  "Reads of a file past worker.metadata_keep_warm that had the rest of its "
		  "directory's cold files refreshed ahead of their reads", fm.revived_dirs },
		{ "strata_worker_metadata_misses_queued_total",
		  "S3 fast-path lookups that found the file's trust run out while its background "
		  "refresh waited in the queue", fm.queued },
		{ "strata_worker_metadata_misses_unchecked_total",
		  "S3 fast-path lookups of trusted metadata while the last epoch check was older "
		  "than worker.metadata_ttl", fm.unchecked },
		{ "strata_worker_metadata_misses_moved_total",
		  "S3 fast-path lookups of metadata whose mount's epoch moved since it was fetched",
		  fm.moved },
		{ "strata_worker_metadata_epoch_checks_total",
		  "Namespace epoch checks the master answered", checks },
		{ "strata_worker_metadata_epoch_changes_total",
		  "Epoch checks that found the namespace changed", changes },
		{ "strata_worker_short_circuit_opens_total",
		  "Cached blocks handed to a client on this host as an open descriptor "
		  "(worker.local_socket)", ls.opens },
		{ "strata_worker_short_circuit_bytes_total",
		  "Length of the blocks handed over on worker.local_socket", ls.bytes },
		{ "strata_worker_short_circuit_not_here_total",
		  "Blocks asked for on worker.local_socket that were not cached or sat on a disk "
		  "tier (the client read them over HTTP)", ls.not_here },
		{ "strata_worker_short_circuit_bad_requests_total",
		  "Malformed requests refused on worker.local_socket", ls.bad_requests },
		{ "strata_worker_short_circuit_connections_total",
		  "Clients accepted on worker.local_socket", ls.connections },
	};
	size_t n = sizeof(all) / sizeof(all[0]);
	if (n > max)
		n = max;
	memcpy(m, all, n * sizeof(*m));
	return n;
}

cJSON *worker_metrics_json(struct worker_node *w)
{
	struct worker_metric m[WORKER_METRICS_MAX];
	struct tier_stats ts;
	struct bsvc_stats bs;
	size_t n = worker_metrics(w, m, WORKER_METRICS_MAX, &ts, &bs);
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; o && i < n; i++)
		cJSON_AddNumberToObject(o, m[i].name + strlen("strata_worker_"), (double)m[i].value);
	/* Tier gauges, so the master's sums give capacity and use per medium
	 * (tier_mem_capacity_bytes, tier_mem_used_bytes, ...). */
	for (unsigned i = 0; o && i < ts.nlevels; i++) {
		char lower[8], key[64];
		const char *name = tier_medium_name(ts.levels[i].medium);
		size_t k = 0;
		for (; name[k] && k < sizeof(lower) - 1; k++)
			lower[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] + 32 : name[k]);
		lower[k] = '\0';
		snprintf(key, sizeof(key), "tier_%s_capacity_bytes", lower);
		cJSON_AddNumberToObject(o, key, (double)ts.levels[i].capacity);
		snprintf(key, sizeof(key), "tier_%s_used_bytes", lower);
		cJSON_AddNumberToObject(o, key, (double)ts.levels[i].used);
	}
	return o;
}
