/*
 * Randomized, deterministic cluster simulations of the Raft core. Each
 * seed runs a cluster through crashes (with torn persistence), restarts,
 * partitions, message loss, duplication, delay and reordering, membership
 * changes, leadership transfers and snapshots, while clients write and
 * read one register. Invariants are checked after every step (raft_sim.c);
 * after the faults stop the cluster must converge, and the client history
 * must be linearizable.
 *
 * RAFT_SIM_SEEDS=n   seeds per scenario (default: small, for CI)
 * RAFT_SIM_STEPS=n   steps per seed
 * RAFT_SIM_SEED=s    replay one seed only (printed on failure)
 * RAFT_SIM_SEED_BASE=b  shift the seed range (soaks explore new seeds)
 * RAFT_SIM_TRACE=1   with RAFT_SIM_SEED: print every event of the replay
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <unistd.h>

#include "raft_sim.h"

struct scenario {
	const char *name;
	size_t nnodes, nvoters;
	bool pre_vote, check_quorum;
	struct sim_faults faults;
	uint64_t default_seeds, default_steps;
	bool real_storage; /* persist through raft/storage.h on tmpfs */
};

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static uint64_t total_seeds;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* A fresh directory for one seed's storage; tmpfs when there is one. */
static void make_root(char *root, size_t len)
{
	snprintf(root, len, "/dev/shm/raft-sim-XXXXXX");
	if (!mkdtemp(root)) {
		snprintf(root, len, "/tmp/raft-sim-XXXXXX");
		assert_non_null(mkdtemp(root));
	}
}

/* After the faults: heal, restart everyone, and let it settle. */
static void converge(struct sim *s)
{
	memset(&s->faults, 0, sizeof(s->faults));
	memset(s->group, 0, sizeof(s->group));
	memset(s->cut, 0, sizeof(s->cut));
	for (size_t i = 0; i < s->n; i++)
		sim_restart(s, i + 1);
	sim_run(s, 400);
	if (s->failed)
		return;
	uint64_t leader = sim_leader(s);
	if (!leader) {
		sim_fail(s, "no leader after the cluster healed");
		return;
	}
	struct raft *lr = sim_node(s, leader)->r;
	struct raft_config cfg;
	raft_get_config(lr, &cfg);
	uint64_t commit = raft_commit_index(lr);
	if (commit != raft_last_index(lr)) {
		sim_fail(s, "leader %llu: commit %llu < last %llu after healing",
			 (unsigned long long)leader, (unsigned long long)commit,
			 (unsigned long long)raft_last_index(lr));
		return;
	}
	for (uint32_t i = 0; i < cfg.nvoters; i++) {
		struct sim_node *nd = sim_node(s, cfg.voters[i]);
		if (nd->applied != commit) {
			sim_fail(s, "member %llu applied %llu, leader %llu committed %llu",
				 (unsigned long long)nd->id, (unsigned long long)nd->applied,
				 (unsigned long long)leader, (unsigned long long)commit);
			return;
		}
	}
	/* One last write, then a read after it, must go through. */
	uint64_t v = s->next_value++;
	if (sim_write(s, leader, v)) {
		sim_fail(s, "healed leader refused a write");
		return;
	}
	struct sim_op *w = &s->ops[s->nops - 1];
	for (int i = 0; i < 50 && !w->complete && !s->failed; i++)
		sim_step(s);
	if (!w->complete || s->failed) {
		sim_fail(s, "final write not acknowledged");
		return;
	}
	sim_read(s, leader);
	sim_run(s, 50);
	struct sim_op *last = &s->ops[s->nops - 1];
	if (!s->failed && (!last->complete || last->value != v))
		sim_fail(s, "final read after healing: done=%llu value=%llu want %llu",
			 (unsigned long long)last->complete, (unsigned long long)last->value,
			 (unsigned long long)v);
}

static void run_scenario(const struct scenario *sc)
{
	uint64_t nseeds = env_u64("RAFT_SIM_SEEDS", sc->default_seeds);
	uint64_t steps = env_u64("RAFT_SIM_STEPS", sc->default_steps);
	uint64_t only = env_u64("RAFT_SIM_SEED", 0);
	uint64_t base = env_u64("RAFT_SIM_SEED_BASE", 0);
	struct raft_options opts = {
		.election_ticks = 10,
		.heartbeat_ticks = 2,
		.pre_vote = sc->pre_vote,
		.check_quorum = sc->check_quorum,
		.max_append_entries = 8,
	};
	uint64_t writes = 0, reads = 0, leaders = 0, crashes = 0, torn = 0;
	uint64_t installs = 0, confs = 0, transfers = 0, snaps = 0;
	uint64_t snapshot_msgs = 0, confs_applied = 0, transfers_done = 0;
	uint64_t torn_recovered = 0, torn_tails_cut = 0;

	for (uint64_t k = 0; k < nseeds; k++) {
		/* Seeds differ per scenario so scenarios explore different runs. */
		uint64_t seed = only ? only : (uint64_t)(sc->nnodes * 1000003 + (base + k) * 7919 +
							 1 + (sc->faults.conf_permille << 20));
		struct sim s;
		char root[64] = "";
		if (sc->real_storage) {
			make_root(root, sizeof(root));
			assert_int_equal(sim_init_storage(&s, seed, sc->nnodes, sc->nvoters, &opts,
							  &sc->faults, root), 0);
		} else {
			assert_int_equal(sim_init(&s, seed, sc->nnodes, sc->nvoters, &opts,
						  &sc->faults), 0);
		}
		s.trace = only && env_u64("RAFT_SIM_TRACE", 0);
		sim_run(&s, steps);
		if (!s.failed)
			converge(&s);
		if (!s.failed)
			sim_check_history(&s);
		if (root[0])
			nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		if (s.failed) {
			printf("FAIL %s: %s\n  replay: RAFT_SIM_SEED=%llu RAFT_SIM_STEPS=%llu\n",
			       sc->name, s.failure, (unsigned long long)seed,
			       (unsigned long long)steps);
			sim_free(&s);
			fail_msg("simulation invariant violated (seed %llu)", (unsigned long long)seed);
		}
		writes += s.writes_done;
		reads += s.reads_done;
		leaders += s.leader_changes;
		crashes += s.crashes;
		torn += s.torn;
		installs += s.installs;
		confs += s.conf_changes;
		transfers += s.transfers;
		snaps += s.snapshots;
		snapshot_msgs += s.snapshot_msgs;
		confs_applied += s.confs_applied;
		transfers_done += s.transfers_done;
		torn_recovered += s.torn_recovered;
		torn_tails_cut += s.torn_tails_cut;
		sim_free(&s);
		total_seeds++;
		if (only)
			break;
	}
	printf("%s: %llu seeds x %llu steps: %llu writes and %llu reads acknowledged, "
	       "%llu leaders, %llu crashes (%llu torn), %llu snapshots taken, "
	       "%llu installed, %llu conf changes, %llu transfers\n",
	       sc->name, (unsigned long long)(only ? 1 : nseeds), (unsigned long long)steps,
	       (unsigned long long)writes, (unsigned long long)reads,
	       (unsigned long long)leaders, (unsigned long long)crashes,
	       (unsigned long long)torn, (unsigned long long)snaps,
	       (unsigned long long)installs, (unsigned long long)confs,
	       (unsigned long long)transfers);
	printf("%s: %llu InstallSnapshot delivered, %llu conf entries applied, "
	       "%llu transfers completed, %llu torn crashes recovered (%llu torn tails cut "
	       "on reopen)\n", sc->name, (unsigned long long)snapshot_msgs,
	       (unsigned long long)confs_applied, (unsigned long long)transfers_done,
	       (unsigned long long)torn_recovered, (unsigned long long)torn_tails_cut);
	/* A run where nothing happened proves nothing: each fault the
	 * scenario turns on must have happened and been survived (checked
	 * only when not replaying a single seed). */
	assert_true(writes > 0);
	assert_true(reads > 0);
	if (only)
		return;
	if (sc->faults.snapshot_every) {
		assert_true(snapshot_msgs > 0);
		assert_true(installs > 0);
	}
	if (sc->faults.conf_permille)
		assert_true(confs_applied > 0);
	if (sc->faults.transfer_permille)
		assert_true(transfers_done > 0);
	if (sc->faults.torn_pct)
		assert_true(torn_recovered > 0);
	if (sc->faults.torn_pct && sc->real_storage)
		assert_true(torn_tails_cut > 0);
}

static const struct sim_faults chaos = {
	.drop_pct = 10, .dup_pct = 5, .max_delay = 4,
	.crash_permille = 4, .restart_pct = 5, .torn_pct = 2,
	.partition_permille = 8, .heal_pct = 3,
	.write_pct = 30, .read_pct = 20,
	.snapshot_every = 12,
};

static void test_sim_three_nodes(void **state)
{
	struct scenario sc = { "three_nodes", 3, 3, true, true, chaos, 1000, 500, false };
	run_scenario(&sc);
}

static void test_sim_five_nodes(void **state)
{
	struct scenario sc = { "five_nodes", 5, 5, true, true, chaos, 600, 500, false };
	run_scenario(&sc);
}

static void test_sim_plain_raft(void **state)
{
	/* No pre-vote, no check-quorum: the paper's protocol alone. */
	struct scenario sc = { "plain_raft", 3, 3, false, false, chaos, 800, 500, false };
	run_scenario(&sc);
}

static void test_sim_membership(void **state)
{
	struct sim_faults f = chaos;
	f.conf_permille = 40;
	f.transfer_permille = 20;
	struct scenario sc = { "membership", 5, 3, true, true, f, 800, 500, false };
	run_scenario(&sc);
}

static void test_sim_real_storage(void **state)
{
	/* Fewer seeds: every ready is written and fsynced for real. */
	struct sim_faults f = chaos;
	f.conf_permille = 20;
	f.torn_pct = 5;
	struct scenario sc = { "real_storage", 5, 3, true, true, f, 60, 400, true };
	run_scenario(&sc);
}

static void test_sim_seed_replays(void **state)
{
	/* The same seed must give the same run, or a failure cannot be
	 * replayed: compare two runs' traces of counters. */
	struct raft_options opts = { .election_ticks = 10, .heartbeat_ticks = 2,
				     .pre_vote = true, .check_quorum = true };
	struct sim_faults f = chaos;
	f.conf_permille = 40;
	uint64_t trace[2][4];
	for (int run = 0; run < 2; run++) {
		struct sim s;
		assert_int_equal(sim_init(&s, 4242, 5, 3, &opts, &f), 0);
		sim_run(&s, 400);
		assert_false(s.failed);
		trace[run][0] = s.delivered;
		trace[run][1] = s.max_applied;
		trace[run][2] = s.nops;
		trace[run][3] = s.leader_changes;
		sim_free(&s);
	}
	assert_memory_equal(trace[0], trace[1], sizeof(trace[0]));
	assert_true(trace[0][0] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_seed_replays),
		cmocka_unit_test(test_sim_three_nodes),
		cmocka_unit_test(test_sim_five_nodes),
		cmocka_unit_test(test_sim_plain_raft),
		cmocka_unit_test(test_sim_membership),
		cmocka_unit_test(test_sim_real_storage),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	printf("raft simulation: %llu seeds in total\n", (unsigned long long)total_seeds);
	return rc;
}
