/* strata-worker: wiring only. Parses configuration, prepares its
 * directories, starts the data/RPC server, the S3 port and the heartbeat
 * thread, waits for SIGINT/SIGTERM, shuts down. */
#include "api/rest_worker.h"
#include "api/s3_backend_worker.h"
#include "api/s3_gateway.h"
#include "daemon/common.h"
#include "daemon/worker/coldstream.h"
#include "daemon/worker/worker.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "client/client.h"
#include "lib/notify.h"
#include "daemon/worker/bufpool.h"
#include "daemon/worker/blocksvc.h"
#include "daemon/worker/filecache.h"
#include "daemon/worker/localread.h"
#include "daemon/worker/pathstats.h"
#include "daemon/worker/s3access.h"
#include "api/s3_server.h"
#include "tier/tier.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Advertised host: worker.hostname, else the bind address unless it is a
 * wildcard, else this machine's host name. */
static void pick_host(const struct strata_conf *c, char *out, size_t len)
{
	if (*c->worker_hostname) {
		snprintf(out, len, "%s", c->worker_hostname);
	} else if (strcmp(c->worker_bind, "0.0.0.0") && strcmp(c->worker_bind, "::") &&
		   strcmp(c->worker_bind, "[::]")) {
		if (strchr(c->worker_bind, ':') && c->worker_bind[0] != '[')
			snprintf(out, len, "[%s]", c->worker_bind);
		else
			snprintf(out, len, "%s", c->worker_bind);
	} else if (gethostname(out, len) != 0) {
		snprintf(out, len, "localhost");
	}
}

static int pick_dirs(struct worker_node *w, const struct strata_conf *c)
{
	char err[1200], leaf[32];
	snprintf(leaf, sizeof(leaf), "worker-%lld", (long long)c->worker_port);
	if (daemon_worker_data_dir(c, w->data_dir, sizeof(w->data_dir), err, sizeof(err))) {
		log_error("worker.data_dir: %s", err);
		return -1;
	}
	log_info("data directory %s%s", w->data_dir,
		 *c->worker_data_dir ? "" : " (default; set worker.data_dir to change)");

	struct stat st;
	int n;
	if (*c->worker_tier_mem_dir)
		n = snprintf(w->mem_dir, sizeof(w->mem_dir), "%s", c->worker_tier_mem_dir);
	else if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
		n = snprintf(w->mem_dir, sizeof(w->mem_dir), "/dev/shm/strata-%u/%s",
			     (unsigned)geteuid(), leaf);
	else
		n = snprintf(w->mem_dir, sizeof(w->mem_dir), "%s/mem", w->data_dir);
	if (n < 0 || (size_t)n >= sizeof(w->mem_dir)) {
		log_error("worker.tier.mem.dir: path too long");
		return -1;
	}
	int rc = daemon_mkdirs(w->mem_dir);
	if (rc) {
		log_error("worker.tier.mem.dir '%s': %s", w->mem_dir, strerror(-rc));
		return -1;
	}
	log_info("MEM tier %s, quota %lld bytes%s", w->mem_dir, (long long)c->worker_tier_mem_quota,
		 *c->worker_tier_mem_dir ? "" : " (default dir; set worker.tier.mem.dir to change)");
	return 0;
}

/* Adds one tier level with its directories, the quota split evenly. */
static int add_level(struct tier_config *tc, enum tier_medium medium, char **dirs, size_t ndirs,
		     int64_t quota, const char *key)
{
	if (ndirs > TIER_MAX_DIRS) {
		log_error("%s: at most %d directories", key, TIER_MAX_DIRS);
		return -1;
	}
	struct tier_level_config *l = &tc->levels[tc->nlevels++];
	l->medium = medium;
	l->ndirs = (unsigned)ndirs;
	for (size_t i = 0; i < ndirs; i++) {
		l->dirs[i].path = dirs[i];
		l->dirs[i].quota = (uint64_t)quota / ndirs;
	}
	return 0;
}

static int open_tiers(struct worker_node *w, const struct strata_conf *c)
{
	struct tier_config tc = {
		.policy = strcmp(c->worker_tier_policy, "lfu") == 0 ? TIER_POLICY_LFU
								     : TIER_POLICY_LRU,
	};
	char *mem[1] = { w->mem_dir };
	if (add_level(&tc, TIER_MEDIUM_MEM, mem, 1, c->worker_tier_mem_quota,
		      "worker.tier.mem.dir") ||
	    (c->worker_tier_ssd_dirs.n &&
	     add_level(&tc, TIER_MEDIUM_SSD, c->worker_tier_ssd_dirs.items,
		       c->worker_tier_ssd_dirs.n, c->worker_tier_ssd_quota, "worker.tier.ssd.dirs")) ||
	    (c->worker_tier_hdd_dirs.n &&
	     add_level(&tc, TIER_MEDIUM_HDD, c->worker_tier_hdd_dirs.items,
		       c->worker_tier_hdd_dirs.n, c->worker_tier_hdd_quota, "worker.tier.hdd.dirs")))
		return -1;
	char err[1024];
	if (tier_store_open(&tc, &w->tiers, err, sizeof(err))) {
		log_error("tiers: %s", err);
		return -1;
	}
	w->capacity_bytes = 0;
	struct tier_stats st;
	tier_stats_get(w->tiers, &st);
	for (unsigned i = 0; i < st.nlevels; i++) {
		w->capacity_bytes += (int64_t)st.levels[i].capacity;
		log_info("tier %u %s: %llu bytes, %llu blocks found", i,
			 tier_medium_name(st.levels[i].medium),
			 (unsigned long long)st.levels[i].capacity,
			 (unsigned long long)st.levels[i].nblocks);
	}
	log_info("block I/O: %s", st.io_uring ? "io_uring" : "pread/pwrite");
	return 0;
}

/* The S3 port: the S3 server (api/s3_server.h: event loops with the
 * sendfile fast path, a pool for everything else), in plain HTTP or, with
 * http.tls_cert/http.tls_key, TLS only (docs/decisions.md). */
static int start_s3(struct worker_node *w, struct s3_gw *gw, struct s3srv **front)
{
	const struct strata_conf *c = w->conf;
	char err[1024];
	/* Many keep-alive clients: allow as many descriptors as we may. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (c->worker_s3_fastpath && fcache_start_refresh(w->fcache))
		log_warn("cannot start the metadata refresh threads: hot files will take the "
			 "slow path once per worker.metadata_ttl");
	struct s3srv_config fc = {
		.bind = c->worker_bind,
		.port = (int)c->worker_s3_port,
		.threads = (int)c->worker_s3_threads,
		.pin = c->worker_s3_cpu_affinity,
		.fast = c->worker_s3_fastpath,
		.pool_threads = (int)c->worker_s3_pool_threads,
		.queue_max = (int)c->worker_s3_pool_threads * 8,
		.header_timeout_ms = c->http_request_timeout,
		.idle_timeout_ms = c->http_idle_timeout,
		.io_timeout_ms = c->http_request_timeout,
		.open_file_keep_ms = c->worker_s3_open_file_keep,
		.max_head = (size_t)c->http_max_header_size,
		.w = w,
		.gw = gw,
		.tls_cert = c->http_tls_cert,
		.tls_key = c->http_tls_key,
	};
	if (s3srv_start(&fc, front, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	log_info("S3 server at %s (%d pool threads%s)", s3srv_url(*front), fc.pool_threads,
		 fc.fast ? "" : "; fast path off: worker.s3.fastpath");
	return 0;
}

/* Short-circuit reads for clients on this host (worker.local_socket). A
 * default path too long for a socket address only warns: the worker runs
 * without it, as before the key existed; one set explicitly must work. */
static int start_local(struct worker_node *w)
{
	const struct strata_conf *c = w->conf;
	char path[1200], err[1400];
	int rc = localread_path(c->worker_local_socket, w->data_dir, path, sizeof(path), err,
				sizeof(err));
	if (rc && *c->worker_local_socket != '/') {
		log_warn("%s; short-circuit reads are off (set worker.local_socket to an "
			 "absolute path)", err);
		return 0;
	}
	if (!rc && !*path) {
		log_info("short-circuit reads off (worker.local_socket is empty)");
		return 0;
	}
	if (rc || localread_start(w, path, &w->lread, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	log_info("short-circuit reads at %s (mode 0660)", path);
	return 0;
}

static int allow_cb(void *arg, const char *access_key, const char *bucket, bool write,
		    char *err, size_t errlen)
{
	return s3access_allow(arg, access_key, bucket, write, err, errlen) ? S3_ERR_ACCESS_DENIED
									   : 0;
}

static bool is_loopback(const char *bind)
{
	return !strncmp(bind, "127.", 4) || !strcmp(bind, "::1") || !strcmp(bind, "[::1]") ||
	       !strcmp(bind, "localhost");
}

/* The S3 access keys (worker.s3.key_file): a key file group or others may
 * read, or a malformed one, stops the worker. */
static int open_keys(struct worker_node *w, struct s3access **out)
{
	const struct strata_conf *c = w->conf;
	char path[1200], err[1400];
	if (daemon_s3_key_file(c, path, sizeof(path), err, sizeof(err)) ||
	    s3access_open(path, &c->worker_s3_anonymous_read_buckets, out, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	size_t n = s3access_nkeys(*out);
	if (n)
		log_info("S3 access keys: %zu in %s; every request must be signed%s", n, path,
			 c->worker_s3_anonymous_read_buckets.n
				 ? " (anonymous reads of worker.s3.anonymous_read_buckets)"
				 : "");
	else if (!is_loopback(c->worker_bind))
		log_warn("S3 gateway on %s accepts every request: no access keys in %s "
			 "(strata admin s3key create)", c->worker_bind, path);
	else
		log_info("S3 access keys: none in %s; the S3 port (loopback) accepts every request",
			 path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct daemon_info info = {
		.prog = "strata-worker",
		.summary = "strata worker: tiered block cache, data service and S3 gateway.",
	};
	struct strata_conf conf;
	int code;
	log_set_component("worker");
	/* Block buffers (up to a block, 4 MiB by default) come and go with
	 * every miss: keep them out of the heap so freed ones go back to the
	 * kernel (glibc would otherwise raise its mmap threshold and keep
	 * them), and cap the per-thread arenas the gateway's many threads
	 * would otherwise each get. Worker memory beyond the tiers stays
	 * small. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 4);
	if (!daemon_setup(&info, argc, argv, &conf, &code))
		return code;
	daemon_block_signals();

	static struct worker_node w;
	w.conf = &conf;
	w.started_mono_ms = clock_mono_ms();
	pthread_mutex_init(&w.lock, NULL);
	pick_host(&conf, w.host, sizeof(w.host));
	int exit_code = EXIT_ERROR;
	char err[1024];
	struct http_server *rest = NULL;
	struct s3srv *front = NULL;
	struct s3_gw *gw = NULL;
	struct s3access *keys = NULL;
	if (pick_dirs(&w, &conf) || open_keys(&w, &keys) || open_tiers(&w, &conf))
		goto out;
	if (fcache_new(&conf, &w.fcache) || bsvc_new(&w, w.tiers, w.fcache, &w.bsvc) ||
	    pathstats_new(&w.pstats)) {
		log_error("out of memory");
		goto out;
	}

	/* Before the REST server, whose metrics read it. */
	if (start_local(&w))
		goto out;

	size_t nroutes;
	const struct http_route *routes = rest_worker_routes(&nroutes);
	char token_file[4200];
	snprintf(token_file, sizeof(token_file), "%s%s", *conf.http_token_file ? "" : w.data_dir,
		 *conf.http_token_file ? conf.http_token_file : "/tokens");
	struct http_server_opts hopts = {
		.name = "worker REST",
		.bind = conf.worker_bind,
		.port = (int)conf.worker_port,
		.threads = (int)conf.http_threads,
		.request_timeout_ms = conf.http_request_timeout,
		/* Every request thread of every peer keeps its own connection
		 * to this port (block pulls, replication copies): idle ones
		 * must give their server thread back soon, or a few busy peers
		 * hold all http.threads and new connections wait. */
		.keep_alive_ms = 1000,
		.max_json_body = conf.http_max_json_body,
		.max_header_size = conf.http_max_header_size,
		.idle_timeout_ms = conf.http_idle_timeout,
		.tls_cert = conf.http_tls_cert,
		.tls_key = conf.http_tls_key,
		.tls_client_auth = (int)http_tls_client_auth_conf(&conf),
		.tls_ca = conf_tls_ca(&conf),
		.worker_needs_cert = conf.cluster_mtls,
		.worker_token = conf.cluster_worker_token,
		.token_file = token_file,
		.metrics_public = conf.http_metrics_public,
		.insecure_no_auth = conf.http_insecure_no_auth,
	};
	rest = http_server_start(&hopts, routes, nroutes, &w, err, sizeof(err));
	if (!rest) {
		log_error("%s", err);
		goto out;
	}
	/* With keys in the key file every request must verify; without,
	 * the gateway accepts every request, signed or not. */
	struct s3_gw_config gcfg = {
		.region = "us-east-1",
		.max_put_size = (uint64_t)conf.worker_s3_max_object_size,
		.auth = { .required = s3access_required, .signing_key = s3access_signing_key,
			  .allow = allow_cb, .anonymous_read = s3access_anonymous_read,
			  .arg = keys },
	};
	gw = s3_gw_new(&gcfg, s3_backend_worker(), &w, err, sizeof(err));
	if (!gw) {
		log_error("S3 gateway: %s", err);
		goto out;
	}
	if (start_s3(&w, gw, &front))
		goto out;
	if (worker_heartbeat_start(&w)) {
		log_error("cannot start the heartbeat thread");
		goto out;
	}
	log_info("strata-worker %s ready: data/RPC at %s, S3 at %s, advertising %s, masters %s",
		 STRATA_VERSION, http_server_url(rest),
		 s3srv_url(front), w.host,
		 conf.master_addresses.n ? conf.master_addresses.items[0] : "(none)");
	notify_send("READY=1");

	int sig = daemon_wait_signal();
	log_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	notify_send("STOPPING=1");
	/* Nobody waits for a leader any more: a stop must not hang on a
	 * group that is down (the masters may have stopped first). */
	client_shutdown(fcache_masters(w.fcache));
	worker_heartbeat_stop(&w);
	exit_code = EXIT_OK;
out:
	s3srv_stop(front);
	http_server_stop(rest);
	localread_stop(w.lread);
	w.lread = NULL;
	s3_gw_free(gw);
	s3access_free(keys);
	/* Lazy loads still reading from their stores finish into the cache
	 * and the stores below (a HEAD's, or one whose client left). */
	int reading = cstream_drain(30000);
	if (reading) {
		log_warn("%d store reads still running after 30 s; stopping without freeing "
			 "what they use",
			 reading);
		return exit_code;
	}
	bsvc_free(w.bsvc);
	bufpool_trim(0, 0);
	pathstats_free(w.pstats);
	fcache_free(w.fcache);
	tier_store_close(w.tiers);
	pthread_mutex_destroy(&w.lock);
	conf_free(&conf);
	if (exit_code == EXIT_OK)
		log_info("stopped");
	return exit_code;
}
