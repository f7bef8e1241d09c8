/*
 * Fuzzes every REST route of a worker as a client or a peer reaches it: a
 * real worker (a MEM tier under the fuzzer's state directory, its file
 * cache and block service) serves its real route table on 127.0.0.1,
 * backed by a real in-process master (tests/fuzz/rest_env.h) for its
 * lookups, and each input becomes one request: the JSON bodies of the
 * load and free RPCs, block ids, query parameters (path, offset, length,
 * data_id, write_type) and file data. Loopback callers count as peers, so
 * the worker RPC and peer block routes are reached too. Contract:
 * rest_env.h. Nothing is mounted (inputs with "://" are skipped), so no
 * request reaches a store.
 */
#include "tests/fuzz/rest_env.h"

#include "api/http.h"
#include "api/rest_worker.h"
#include "daemon/worker/blocksvc.h"
#include "daemon/worker/filecache.h"
#include "daemon/worker/pathstats.h"
#include "daemon/worker/worker.h"
#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "tier/tier.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct strata_conf g_mconf, g_wconf;
static struct worker_node g_w;
static int g_port;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERROR);
	log_set_component("worker");
	conf_init(&g_mconf);
	g_mconf.http_request_timeout = 2000;
	int mport = rest_env_master(&g_mconf);

	conf_init(&g_wconf);
	g_wconf.http_request_timeout = 2000;
	g_wconf.http_max_json_body = 65536;
	char addr[64], err[1024];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", mport);
	if (conf_set(&g_wconf, "master.addresses", addr, "fuzz", err, sizeof(err)))
		rest_env_die(err);
	g_w.conf = &g_wconf;
	g_w.started_mono_ms = clock_mono_ms();
	pthread_mutex_init(&g_w.lock, NULL);
	snprintf(g_w.host, sizeof(g_w.host), "127.0.0.1");
	snprintf(g_w.data_dir, sizeof(g_w.data_dir), "%s/worker", rest_env_dir());
	snprintf(g_w.mem_dir, sizeof(g_w.mem_dir), "%s/worker/mem", rest_env_dir());
	if (mkdir(g_w.data_dir, 0700))
		rest_env_die("cannot make the worker's directory");
	struct tier_config tc = { .nlevels = 1, .policy = TIER_POLICY_LRU };
	tc.levels[0].medium = TIER_MEDIUM_MEM;
	tc.levels[0].ndirs = 1;
	tc.levels[0].dirs[0].path = g_w.mem_dir;
	tc.levels[0].dirs[0].quota = 64u << 20;
	if (tier_store_open(&tc, &g_w.tiers, err, sizeof(err)))
		rest_env_die(err);
	g_w.capacity_bytes = 64 << 20;
	if (fcache_new(&g_wconf, &g_w.fcache) || bsvc_new(&g_w, g_w.tiers, g_w.fcache, &g_w.bsvc) ||
	    pathstats_new(&g_w.pstats))
		rest_env_die("out of memory");
	size_t nroutes;
	const struct http_route *routes = rest_worker_routes(&nroutes);
	struct http_server_opts hopts = {
		.name = "worker REST (fuzz)",
		.bind = "127.0.0.1",
		.port = 0,
		.threads = 4,
		.request_timeout_ms = 2000,
		.max_json_body = g_wconf.http_max_json_body,
	};
	struct http_server *srv = http_server_start(&hopts, routes, nroutes, &g_w, err, sizeof(err));
	if (!srv)
		rest_env_die(err);
	const char *colon = strrchr(http_server_url(srv), ':');
	g_port = colon ? atoi(colon + 1) : 0;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rest_env_run("fuzz_rest_worker", g_port, data, size, NULL);
	return 0;
}
