#include "daemon/worker/blocksvc.h"
#include "daemon/worker/bufpool.h"
#include "daemon/worker/objects.h"
#include "daemon/worker/pathstats.h"
#include "daemon/worker/worker.h"

#include "daemon/worker/metrics.h"

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/log.h"
#include "client/client.h"
#include "lib/placement.h"
#include "tier/tier.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t worker_used_bytes(const struct worker_node *w)
{
	struct tier_stats st;
	tier_stats_get(w->tiers, &st);
	uint64_t used = 0;
	for (unsigned i = 0; i < st.nlevels; i++)
		used += st.levels[i].used;
	return (int64_t)used;
}

void worker_token_header(const struct strata_conf *c, char *buf, size_t len)
{
	if (*c->cluster_worker_token)
		snprintf(buf, len, "X-Strata-Worker-Token: %s", c->cluster_worker_token);
	else if (len)
		buf[0] = '\0';
}

size_t worker_copy_owners(struct worker_node *w, uint64_t block_id, size_t k,
			  char (*addrs)[WORKER_ADDR_MAX])
{
	size_t got = 0;
	pthread_mutex_lock(&w->lock);
	if (w->npeers > 1 && w->worker_id && k > 0) {
		uint64_t ids[256];
		size_t owners[256];
		size_t n = w->npeers < 256 ? w->npeers : 256;
		for (size_t i = 0; i < n; i++)
			ids[i] = w->peers[i].id;
		got = placement_owners(block_id, ids, n, k < n ? k : n, owners);
		for (size_t i = 0; i < got; i++)
			snprintf(addrs[i], WORKER_ADDR_MAX, "%s",
				 ids[owners[i]] == w->worker_id ? "" : w->peers[owners[i]].address);
	}
	pthread_mutex_unlock(&w->lock);
	if (!got)
		addrs[got++][0] = '\0';
	return got;
}

int worker_owner_of(struct worker_node *w, uint64_t block_id, char *addr, size_t len)
{
	int remote = 0;
	pthread_mutex_lock(&w->lock);
	if (w->npeers > 1 && w->worker_id) {
		uint64_t ids[256];
		size_t n = w->npeers < 256 ? w->npeers : 256;
		for (size_t i = 0; i < n; i++)
			ids[i] = w->peers[i].id;
		size_t owner;
		if (placement_owners(block_id, ids, n, 1, &owner) == 1 &&
		    ids[owner] != w->worker_id) {
			snprintf(addr, len, "%s", w->peers[owner].address);
			remote = 1;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return remote;
}

uint64_t worker_placing_id(struct worker_node *w)
{
	pthread_mutex_lock(&w->lock);
	uint64_t id = w->npeers > 1 ? w->worker_id : 0;
	pthread_mutex_unlock(&w->lock);
	return id;
}

size_t worker_owners_of(struct worker_node *w, uint64_t block_id, size_t max,
			char (*addrs)[300], bool *self)
{
	size_t got = 0;
	if (max > 16)
		max = 16;
	pthread_mutex_lock(&w->lock);
	if (w->npeers && w->worker_id) {
		uint64_t ids[256];
		size_t n = w->npeers < 256 ? w->npeers : 256, owners[16];
		for (size_t i = 0; i < n; i++)
			ids[i] = w->peers[i].id;
		got = placement_owners(block_id, ids, n, max, owners);
		for (size_t i = 0; i < got; i++) {
			snprintf(addrs[i], sizeof(addrs[i]), "%s", w->peers[owners[i]].address);
			self[i] = ids[owners[i]] == w->worker_id;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return got;
}

static int cmp_block(const void *a, const void *b)
{
	uint64_t x = ((const struct tier_block_info *)a)->id;
	uint64_t y = ((const struct tier_block_info *)b)->id;
	return x < y ? -1 : x > y;
}

/* The cached blocks now, sorted by id. */
static int blocks_now(struct worker_node *w, struct tier_block_info **out, size_t *n)
{
	int rc = tier_blocks_list(w->tiers, out, n);
	if (!rc && *n)
		qsort(*out, *n, sizeof(**out), cmp_block);
	return rc;
}

/* The blocks to report: all of now (changes == false), or the changes
 * since the last report (added: new or moved tier; removed: gone). The
 * arrays are the caller's to free. */
static int block_changes(struct worker_node *w, const struct tier_block_info *now, size_t n,
			 struct client_block_held **added, size_t *nadded, uint64_t **removed,
			 size_t *nremoved)
{
	*added = n ? calloc(n, sizeof(**added)) : NULL;
	*removed = w->nreported ? calloc(w->nreported, sizeof(**removed)) : NULL;
	*nadded = *nremoved = 0;
	if ((n && !*added) || (w->nreported && !*removed)) {
		free(*added);
		free(*removed);
		return -ENOMEM;
	}
	size_t i = 0, j = 0;
	while (i < n || j < w->nreported) {
		if (j == w->nreported || (i < n && now[i].id < w->reported[j].id)) {
			(*added)[(*nadded)++] = (struct client_block_held){ now[i].id, now[i].tier };
			i++;
		} else if (i == n || w->reported[j].id < now[i].id) {
			(*removed)[(*nremoved)++] = w->reported[j++].id;
		} else {
			if (now[i].tier != w->reported[j].tier)
				(*added)[(*nadded)++] =
					(struct client_block_held){ now[i].id, now[i].tier };
			i++;
			j++;
		}
	}
	return 0;
}

static void take_report(struct worker_node *w, struct tier_block_info *now, size_t n)
{
	free(w->reported);
	w->reported = now;
	w->nreported = n;
}

static int cmp_peer(const void *a, const void *b)
{
	uint64_t x = ((const struct worker_peer *)a)->id, y = ((const struct worker_peer *)b)->id;
	return x < y ? -1 : x > y;
}

/* Takes the live-worker list of a heartbeat reply. */
static void take_peers(struct worker_node *w, const struct client_heartbeat_reply *r)
{
	struct worker_peer *peers = r->npeers ? calloc(r->npeers, sizeof(*peers)) : NULL;
	if (r->npeers && !peers)
		return;
	for (size_t k = 0; k < r->npeers; k++) {
		peers[k].id = r->peers[k].id;
		snprintf(peers[k].address, sizeof(peers[k].address), "%s:%d", r->peers[k].host,
			 r->peers[k].data_port);
	}
	if (r->npeers)
		qsort(peers, r->npeers, sizeof(*peers), cmp_peer);
	pthread_mutex_lock(&w->lock);
	free(w->peers);
	w->peers = peers;
	w->npeers = r->npeers;
	pthread_mutex_unlock(&w->lock);
}

/* Sleeps up to ms or until stop; returns true when asked to stop. */
static bool hb_sleep(struct worker_node *w, int64_t ms)
{
	struct timespec ts;
	clock_mono_deadline(&ts, ms);
	pthread_mutex_lock(&w->lock);
	while (!w->hb_stop && pthread_cond_timedwait(&w->hb_cond, &w->lock, &ts) == 0)
		;
	bool stop = w->hb_stop;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

/* Registers with the leader (w->hb_masters follows it), sending every block
 * held; 0 once one accepted. */
static int try_register(struct worker_node *w, char *err, size_t errlen)
{
	const struct strata_conf *c = w->conf;
	struct tier_block_info *now = NULL;
	size_t n = 0;
	blocks_now(w, &now, &n);
	struct client_block_held *held = n ? calloc(n, sizeof(*held)) : NULL;
	if (n && !held) {
		free(now);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		held[i] = (struct client_block_held){ now[i].id, now[i].tier };
	struct client_registration reg = {
		.host = w->host,
		.data_port = c->worker_port,
		.s3_port = c->worker_s3_port,
		.version = STRATA_VERSION,
		.capacity_bytes = w->capacity_bytes,
		.used_bytes = worker_used_bytes(w),
		.nblocks = n,
		.blocks = held,
	};
	uint64_t id = 0, *pins = NULL;
	size_t npins = 0;
	int rc = client_worker_register_pins(w->hb_masters, w->hb_http, &reg, &id, &pins, &npins,
					     err, errlen);
	free(held);
	/* A restart kept the blocks but not their pins: those of files not
	 * persisted yet must not be the first evicted (repin.h). */
	if (!rc && npins) {
		size_t done = bsvc_pin_again(w->bsvc, pins, npins);
		log_info("pinned %zu cached blocks again (of files not persisted yet, or pinned)",
			 done);
	}
	free(pins);
	if (rc && rc != ST_EPROTO) {
		free(now);
		return rc;
	}
	take_report(w, now, n); /* a 2xx: the master took the blocks */
	if (rc)
		return rc;
	char master[CLIENT_URL_MAX];
	client_leader(w->hb_masters, master, sizeof(master));
	pthread_mutex_lock(&w->lock);
	w->worker_id = id;
	snprintf(w->master, sizeof(w->master), "%s", master);
	w->last_heartbeat_mono_ms = clock_mono_ms();
	pthread_mutex_unlock(&w->lock);
	log_info("registered with master %s as worker %llu", master, (unsigned long long)id);
	return 0;
}

static int register_any(struct worker_node *w, bool quiet)
{
	char err[512] = "";
	int rc = try_register(w, err, sizeof(err));
	if (rc && !quiet)
		log_warn("cannot register: %s", err);
	return rc ? -EAGAIN : 0;
}

static int send_heartbeat(struct worker_node *w, char *err, size_t errlen)
{
	pthread_mutex_lock(&w->lock);
	uint64_t id = w->worker_id;
	pthread_mutex_unlock(&w->lock);

	struct tier_block_info *now = NULL;
	size_t n = 0;
	blocks_now(w, &now, &n);
	struct client_heartbeat hb = {
		.worker_id = id,
		.capacity_bytes = w->capacity_bytes,
		.used_bytes = worker_used_bytes(w),
		.host = w->host,
		.data_port = (int)w->conf->worker_port,
	};
	struct client_block_held *added = NULL;
	uint64_t *removed = NULL;
	int rc = block_changes(w, now, n, &added, &hb.nadded, &removed, &hb.nremoved);
	if (rc) {
		free(now);
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	hb.added = added;
	hb.removed = removed;
	cJSON *counters = worker_metrics_json(w);
	hb.metrics = counters;
	struct client_heartbeat_reply reply;
	rc = client_worker_heartbeat(w->hb_masters, w->hb_http, &hb, &reply, err, errlen);
	cJSON_Delete(counters);
	free(added);
	free(removed);
	if (rc == 0 || rc == ST_EPROTO)
		take_report(w, now, n); /* a 2xx: the master took the changes */
	else
		free(now);
	if (rc == 0) {
		take_peers(w, &reply);
		if (reply.has_mounts && w->pstats)
			pathstats_set_mounts(w->pstats, (const char *const *)reply.mounts,
					     reply.nmounts);
		if (reply.ncopies || reply.ndrops)
			worker_replica_run(w, &reply);
		client_heartbeat_reply_clear(&reply);
		pthread_mutex_lock(&w->lock);
		w->last_heartbeat_mono_ms = clock_mono_ms();
		pthread_mutex_unlock(&w->lock);
	}
	return rc;
}

/* Housekeeping on the heartbeat thread: aborts multipart uploads idle
 * for worker.s3.multipart_expiry, checked every quarter of it (within 1 s
 * and 10 min). */
static void sweep_uploads(struct worker_node *w, int64_t *next_ms)
{
	int64_t expiry = w->conf->worker_s3_multipart_expiry, now = clock_mono_ms();
	if (expiry <= 0 || now < *next_ms)
		return;
	int64_t period = expiry / 4 < 1000 ? 1000 : expiry / 4 > 600000 ? 600000 : expiry / 4;
	*next_ms = now + period;
	int n = wobj_mpu_expire(w, expiry, clock_wall_ms());
	if (n > 0)
		atomic_fetch_add(&w->mpu_expired, (uint64_t)n);
}

static void *hb_main(void *arg)
{
	struct worker_node *w = arg;
	int64_t interval = w->conf->worker_heartbeat_interval;
	int64_t backoff = 100, next_sweep = 0;
	bool warned = false;
	for (;;) {
		sweep_uploads(w, &next_sweep);
		bufpool_trim(clock_mono_ms(), BUFPOOL_IDLE_MS);
		bool registered;
		pthread_mutex_lock(&w->lock);
		registered = w->worker_id != 0;
		pthread_mutex_unlock(&w->lock);

		if (!registered) {
			if (register_any(w, warned) == 0) {
				warned = false;
				backoff = 100;
			} else {
				warned = true;
				if (hb_sleep(w, backoff))
					break;
				backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
				continue;
			}
		} else {
			char err[512];
			int rc = send_heartbeat(w, err, sizeof(err));
			if (rc == -ENOENT) {
				log_warn("master does not know this worker (restarted?); "
					 "registering again");
				pthread_mutex_lock(&w->lock);
				w->worker_id = 0;
				pthread_mutex_unlock(&w->lock);
				continue;
			}
			if (rc && !warned) {
				log_warn("heartbeat failed: %s", err);
				warned = true;
			} else if (rc == 0 && warned) {
				log_info("heartbeats reach the master again");
				warned = false;
			}
			if (rc && w->conf->master_addresses.n > 1) {
				/* Another master may lead now: find it. */
				pthread_mutex_lock(&w->lock);
				w->worker_id = 0;
				pthread_mutex_unlock(&w->lock);
			}
		}
		if (hb_sleep(w, interval))
			break;
	}
	return NULL;
}

int worker_heartbeat_start(struct worker_node *w)
{
	char token[512];
	worker_token_header(w->conf, token, sizeof(token));
	/* A master cut off by a silent partition (packets dropped, no reset)
	 * holds a heartbeat until the timeout: one that takes longer than ten
	 * intervals is worth less than one to the next master, which may
	 * lead now (tests/integration/test_partition.py). */
	int64_t hb_timeout = w->conf->worker_heartbeat_interval * 10;
	if (hb_timeout < 2000)
		hb_timeout = 2000;
	if (hb_timeout > w->conf->http_request_timeout)
		hb_timeout = w->conf->http_request_timeout;
	struct httpc_opts hopts = {
		.extra_header = token,
		.timeout_ms = hb_timeout,
		.connect_timeout_ms = 2000,
		.ca_file = conf_tls_ca(w->conf),
		.client_cert = conf_tls_client_cert(w->conf),
		.client_key = conf_tls_client_key(w->conf),
	};
	char err[256];
	/* Short enough that a stop never waits long on a dead group; the
	 * thread itself retries forever. */
	struct client_opts mo = { .tls = *w->conf->http_tls_cert != '\0', .follow_ms = 2000 };
	int rc = client_new((const char *const *)w->conf->master_addresses.items,
			     w->conf->master_addresses.n, &mo, &w->hb_masters, err, sizeof(err));
	if (rc) {
		log_error("%s", err);
		return rc;
	}
	w->hb_http = httpc_new(&hopts);
	if (w->hb_http && worker_replica_start(w, &hopts)) {
		httpc_free(w->hb_http);
		w->hb_http = NULL;
	}
	if (!w->hb_http) {
		client_free(w->hb_masters);
		w->hb_masters = NULL;
		return -ENOMEM;
	}
	clock_mono_cond_init(&w->hb_cond);
	w->hb_stop = false;
	rc = pthread_create(&w->hb_thread, NULL, hb_main, w);
	if (rc) {
		worker_replica_stop(w);
		httpc_free(w->hb_http);
		w->hb_http = NULL;
		client_free(w->hb_masters);
		w->hb_masters = NULL;
		pthread_cond_destroy(&w->hb_cond);
		return -rc;
	}
	return 0;
}

void worker_heartbeat_stop(struct worker_node *w)
{
	pthread_mutex_lock(&w->lock);
	w->hb_stop = true;
	pthread_cond_signal(&w->hb_cond);
	pthread_mutex_unlock(&w->lock);
	client_shutdown(w->hb_masters);
	pthread_join(w->hb_thread, NULL);
	pthread_cond_destroy(&w->hb_cond);
	worker_replica_stop(w);
	httpc_free(w->hb_http);
	w->hb_http = NULL;
	client_free(w->hb_masters);
	w->hb_masters = NULL;
	free(w->reported);
	w->reported = NULL;
	free(w->peers);
	w->peers = NULL;
}
