/* strata-master: wiring only. Parses configuration, opens the namespace,
 * starts the REST server and the job runner (the lost-worker check, the
 * TTL checker, a pending master.root_ufs mount), waits for SIGINT/SIGTERM,
 * shuts down. */
#include "api/rest_console.h"
#include "api/rest_fs.h"
#include "api/rest_history.h"
#include "api/rest_jobs.h"
#include "api/rest_master.h"
#include "api/rest_masters.h"
#include "api/rest_openapi.h"
#include "daemon/common.h"
#include "daemon/master/cluster.h"
#include "daemon/master/datajobs.h"
#include "daemon/master/events.h"
#include "daemon/master/jobs.h"
#include "daemon/master/master.h"
#include "daemon/master/policy.h"
#include "daemon/master/replicate.h"
#include "daemon/master/rootmount.h"
#include "daemon/master/revalidate.h"
#include "daemon/master/ttlcheck.h"
#include "daemon/master/persistcheck.h"
#include "raft/net.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/notify.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int64_t jobs_now(void *arg)
{
	return clock_mono_ms();
}

/* The job runner's view of leadership (jobs.h): this master's Raft role. */
static bool jobs_leading(void *arg)
{
	struct meta_status st;
	meta_status(arg, &st);
	return strcmp(st.role, "leader") == 0;
}

/* Every applied command may be a policy event (GET /api/v1/events). */
static void record_event(void *arg, const struct journal_cmd *cmd, int rc)
{
	policy_record_event(arg, cmd, rc, clock_wall_ms());
}

int main(int argc, char **argv)
{
	static const struct daemon_info info = {
		.prog = "strata-master",
		.summary = "strata master: namespace, mounts, policies and the worker registry.",
	};
	struct strata_conf conf;
	int code;
	log_set_component("master");
	if (!daemon_setup(&info, argc, argv, &conf, &code))
		return code;
	daemon_block_signals();

	struct master m = {
		.conf = &conf,
		.started_mono_ms = clock_mono_ms(),
		.started_wall_ms = clock_wall_ms(),
	};
	int exit_code = EXIT_ERROR;
	char err[1024];
	char leaf[32];
	snprintf(leaf, sizeof(leaf), "master-%lld", (long long)conf.master_port);
	if (daemon_pick_dir(conf.master_state_dir, "/var/lib/strata/master", "XDG_STATE_HOME",
			    ".local/state", leaf, m.state_dir, sizeof(m.state_dir), err,
			    sizeof(err))) {
		log_error("master.state_dir: %s", err);
		goto out_conf;
	}
	log_info("state directory %s%s", m.state_dir,
		 *conf.master_state_dir ? "" : " (default; set master.state_dir to change)");

	struct fs_opts fopts = { .default_block_size = conf.master_mount_block_size };
	if (fs_parse_sync_interval(conf.master_mount_sync_interval,
				   &fopts.default_sync_interval_ms)) {
		log_error("master.mount.sync_interval: '%s' is not never, always or a duration",
			  conf.master_mount_sync_interval);
		exit_code = EXIT_USAGE;
		goto out_conf;
	}
	m.registry = registry_new(conf.master_worker_timeout);
	m.blocks = blockmap_new();
	m.events = events_new(1024);
	if (!m.registry || !m.blocks || !m.events) {
		log_error("out of memory");
		goto out_conf;
	}
	struct peer peers[PEERS_MAX];
	size_t npeers = 0;
	if (peers_parse(conf.master_peers.items, conf.master_peers.n, (uint64_t)conf.master_id,
			peers, &npeers, err, sizeof(err))) {
		log_error("%s", err);
		exit_code = EXIT_USAGE;
		goto out_registry;
	}
	if (conf.master_join && npeers < 2) {
		/* A newcomer answers the leader before it has the group's
		 * address book, so it must be told where the others are. */
		log_error("master.join = true needs master.peers to list the group's masters "
			  "as well as this one (master.id = %lld)",
			  (long long)conf.master_id);
		exit_code = EXIT_USAGE;
		goto out_registry;
	}
	if (conf.master_raft_heartbeat_ticks >= conf.master_raft_election_ticks) {
		log_error("master.raft.heartbeat_ticks (%lld) must be below "
			  "master.raft.election_ticks (%lld)",
			  (long long)conf.master_raft_heartbeat_ticks,
			  (long long)conf.master_raft_election_ticks);
		exit_code = EXIT_USAGE;
		goto out_registry;
	}
	if (conf.master_raft_tls) {
		/* Checked now: the transport of a lone master opens later. */
		struct raft_net_tls rt = { .cert_file = conf.http_tls_cert,
					   .key_file = conf.http_tls_key,
					   .ca_file = conf_tls_ca(&conf) };
		if (!*conf.http_tls_cert || !*conf.http_tls_key) {
			log_error("master.raft.tls = true needs http.tls_cert and http.tls_key (this "
				  "master's certificate and key)");
			exit_code = EXIT_USAGE;
			goto out_registry;
		}
		if (raft_net_tls_check(&rt, err, sizeof(err))) {
			log_error("master.raft.tls: %s", err);
			exit_code = EXIT_USAGE;
			goto out_registry;
		}
	}
	char raft_advertise[300];
	snprintf(raft_advertise, sizeof(raft_advertise), "%s%s%s:%lld",
		 strchr(conf.master_bind, ':') ? "[" : "", conf.master_bind,
		 strchr(conf.master_bind, ':') ? "]" : "", (long long)conf.master_raft_port);
	struct meta_opts mopts = {
		.state_dir = m.state_dir,
		.snapshot_every = (uint64_t)conf.master_snapshot_every,
		.id = (uint64_t)conf.master_id,
		.peers = peers,
		.npeers = npeers,
		.join = conf.master_join,
		.raft_bind = conf.master_bind,
		.raft_port = (uint16_t)conf.master_raft_port,
		.raft_advertise = raft_advertise,
		.tick_ms = conf.master_raft_tick,
		.election_ticks = (uint32_t)conf.master_raft_election_ticks,
		.heartbeat_ticks = (uint32_t)conf.master_raft_heartbeat_ticks,
		.submit_timeout_ms = conf.http_request_timeout,
		.on_apply = record_event,
		.on_apply_arg = m.events,
		.raft_tls_cert = conf.master_raft_tls ? conf.http_tls_cert : NULL,
		.raft_tls_key = conf.http_tls_key,
		.raft_tls_ca = conf_tls_ca(&conf),
		.raft_max_frame = (uint64_t)conf.master_raft_max_frame,
		.raft_frame_timeout_ms = (uint32_t)conf.master_raft_frame_timeout,
	};
	if (meta_open(&mopts, &m.meta, err, sizeof(err))) {
		log_error("%s", err);
		goto out_registry;
	}
	if (fs_open(m.meta, &fopts, &m.fs)) {
		log_error("out of memory");
		goto out_meta;
	}
	bool root_pending = false;
	if (*conf.master_root_ufs) {
		int rc = rootmount_apply(m.fs, m.meta, conf.master_root_ufs);
		if (rc == ST_ENOTLEADER)
			root_pending = true;
		else if (rc)
			goto out_fs;
	}
	struct jobs_opts jopts = { .now_ms = jobs_now, .leading = jobs_leading, .arg = m.meta };
	struct jobs *jobs = jobs_new(&jopts);
	struct cluster_lost_job lost = { .reg = m.registry, .bm = m.blocks };
	struct rootmount_job root = { .fs = m.fs, .meta = m.meta, .uri = conf.master_root_ufs };
	struct jobs_spec spec;
	struct datajobs_opts dopts = { .meta = m.meta, .registry = m.registry, .conf = &conf };
	m.datajobs = datajobs_new(&dopts);
	struct ttlcheck_opts topts = { .meta = m.meta, .fs = m.fs, .events = m.events,
				       .drop = datajobs_drop, .drop_arg = m.datajobs };
	struct ttlcheck *ttl = ttlcheck_new(&topts);
	m.ttl = ttl;
	struct reval_opts ropts = { .fs = m.fs, .meta = m.meta, .blocks = m.blocks,
				    .default_interval_ms = fopts.default_sync_interval_ms };
	m.reval = reval_new(&ropts);
	/* An order a worker did not carry out in 10 heartbeats (at least 5 s)
	 * is given again. */
	int64_t hb = conf.worker_heartbeat_interval;
	struct repl_opts rpopts = { .meta = m.meta, .registry = m.registry, .blocks = m.blocks,
				    .events = m.events,
				    .order_timeout_ms = hb * 10 > 5000 ? hb * 10 : 5000 };
	m.repl = repl_new(&rpopts);
	struct persistcheck_opts popts = { .meta = m.meta, .registry = m.registry,
					   .blocks = m.blocks,
					   .grace_ms = conf.master_worker_timeout };
	struct persistcheck *pcheck = persistcheck_new(&popts);
	if (!jobs || !ttl || !m.datajobs || !m.reval || !pcheck ||
	    !m.repl) {
		log_error("out of memory");
		jobs_free(jobs);
		persistcheck_free(pcheck);
		ttlcheck_free(ttl);
		datajobs_free(m.datajobs);
		reval_free(m.reval);
		repl_free(m.repl);
		goto out_fs;
	}
	cluster_lost_job_spec(&lost, conf.master_worker_timeout, &spec);
	int jrc = jobs_add(jobs, &spec, NULL);
	if (!jrc) {
		ttlcheck_spec(ttl, conf.master_ttl_check_interval, &spec);
		jrc = jobs_add(jobs, &spec, NULL);
	}
	if (!jrc) {
		datajobs_spec(m.datajobs, 50, &spec);
		jrc = jobs_add(jobs, &spec, NULL);
	}
	if (!jrc) {
		/* Once per worker heartbeat: a copy is ordered one heartbeat
		 * after a block shows short, carried out by the next. */
		repl_spec(m.repl, hb > 100 ? hb : 100, &spec);
		jrc = jobs_add(jobs, &spec, NULL);
	}
	if (!jrc) {
		persistcheck_spec(pcheck, conf.master_persist_check_interval, &spec);
		jrc = jobs_add(jobs, &spec, NULL);
	}
	if (!jrc && root_pending) {
		rootmount_job_spec(&root, cluster_check_period_ms(conf.master_worker_timeout), &spec);
		jrc = jobs_add(jobs, &spec, NULL);
	}
	if (jrc) {
		log_error("cannot add the master's jobs: %s", st_strerror(jrc));
		goto out_jobs;
	}
	size_t nmaster, nfs, nopenapi;
	/* An hour of cluster samples, one every 5 s, for the console's charts. */
	m.history_interval_ms = 5000;
	m.history = history_new(720);
	if (!m.history) {
		log_error("out of memory");
		goto out_jobs;
	}
	size_t nhistory, nconsole, njobs;
	const struct http_route *mroutes = rest_master_routes(&nmaster);
	const struct http_route *froutes = rest_fs_routes(&nfs);
	const struct http_route *oroutes = rest_openapi_routes(&nopenapi);
	const struct http_route *hroutes = rest_history_routes(&nhistory);
	const struct http_route *croutes = rest_console_routes(&nconsole);
	const struct http_route *jroutes = rest_jobs_routes(&njobs);
	size_t nroutes = nmaster + nfs + nopenapi + nhistory + nconsole + njobs;
	struct http_route *routes = calloc(nroutes, sizeof(*routes));
	if (!routes) {
		log_error("out of memory");
		goto out_jobs;
	}
	memcpy(routes, mroutes, nmaster * sizeof(*routes));
	memcpy(routes + nmaster, froutes, nfs * sizeof(*routes));
	memcpy(routes + nmaster + nfs, oroutes, nopenapi * sizeof(*routes));
	memcpy(routes + nmaster + nfs + nopenapi, hroutes, nhistory * sizeof(*routes));
	memcpy(routes + nmaster + nfs + nopenapi + nhistory, croutes, nconsole * sizeof(*routes));
	memcpy(routes + nmaster + nfs + nopenapi + nhistory + nconsole, jroutes,
	       njobs * sizeof(*routes));
	char token_file[4200];
	snprintf(token_file, sizeof(token_file), "%s%s", *conf.http_token_file ? "" : m.state_dir,
		 *conf.http_token_file ? conf.http_token_file : "/tokens");
	struct http_server_opts hopts = {
		.name = "master REST",
		.bind = conf.master_bind,
		.port = (int)conf.master_port,
		.threads = (int)conf.http_threads,
		.request_timeout_ms = conf.http_request_timeout,
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
		.before = rest_masters_before,
		.reply_rc = rest_masters_reply_rc,
	};
	struct http_server *srv = http_server_start(&hopts, routes, nroutes, &m, err, sizeof(err));
	if (!srv) {
		log_error("%s", err);
		goto out_routes;
	}
	const char *url = http_server_url(srv);
	snprintf(m.address, sizeof(m.address), "%s", strstr(url, "://") + 3);
	meta_set_rest_url(m.meta, url);
	if (jobs_start(jobs)) {
		log_error("cannot start the job runner thread");
		goto out_server;
	}
	/* Its own thread, not a job: a pass waits on stores for as long as
	 * they take, which must not hold up the runner's other jobs. */
	if (reval_start(m.reval)) {
		log_error("cannot start the revalidation thread");
		goto out_server;
	}
	/* Its own thread, not a leader-only job: every master samples what its
	 * registry knows (a follower's holds no workers until it leads). */
	struct history_sampler *sampler = NULL;
	if (history_sampler_start(m.history, m.registry, m.blocks, m.history_interval_ms,
				  &sampler)) {
		log_error("cannot start the metrics history thread");
		goto out_server;
	}
	log_info("strata-master %s ready: REST and console at %s (workers lost after %lld ms)",
		 STRATA_VERSION, http_server_url(srv), (long long)conf.master_worker_timeout);
	notify_send("READY=1");

	int sig = daemon_wait_signal();
	log_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	notify_send("STOPPING=1");
	history_sampler_stop(sampler);
	/* The runner first: a job step waiting on a worker that is asking this
	 * master something (a persist reads the file's metadata) ends while the
	 * REST server still answers. */
	jobs_free(jobs);
	jobs = NULL;
	exit_code = EXIT_OK;
out_server:
	http_server_stop(srv);
out_routes:
	free(routes);
out_jobs:
	jobs_free(jobs);
	persistcheck_free(pcheck);
	reval_free(m.reval);
	ttlcheck_free(ttl);
	datajobs_free(m.datajobs);
	repl_free(m.repl);
out_fs:
	history_free(m.history);
	fs_close(m.fs);
out_meta:
	meta_close(m.meta);
out_registry:
	registry_free(m.registry);
	blockmap_free(m.blocks);
	events_free(m.events);
out_conf:
	conf_free(&conf);
	if (exit_code == EXIT_OK)
		log_info("stopped");
	return exit_code;
}
