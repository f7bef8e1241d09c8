/*
 * Focused tests of the Raft core's rules, each on a hand-built situation:
 * elections, pre-vote, check-quorum, the commit rule of Figure 8, conflict
 * back-off, snapshots, membership, ReadIndex, leadership transfer and the
 * ready/advance contract. Cluster-level ones use the simulator with every
 * fault turned off; the rest drive raft nodes directly.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft_sim.h"

static const struct raft_options base_opts = {
	.election_ticks = 10,
	.heartbeat_ticks = 2,
	.pre_vote = true,
	.check_quorum = true,
};

static void start(struct sim *s, size_t nnodes, size_t nvoters, const struct raft_options *o)
{
	assert_int_equal(sim_init(s, 7, nnodes, nvoters, o ? o : &base_opts, NULL), 0);
}

static void assert_ok(struct sim *s)
{
	if (s->failed)
		fail_msg("%s", s->failure);
}

/* Ticks until some node leads; returns its id. */
static uint64_t elect(struct sim *s)
{
	for (int i = 0; i < 100 && !sim_leader(s); i++)
		sim_tick_all(s, 1);
	assert_ok(s);
	uint64_t leader = sim_leader(s);
	assert_true(leader != 0);
	sim_tick_all(s, 3); /* let the no-op commit everywhere */
	return leader;
}

static uint64_t other_than(struct sim *s, uint64_t a, uint64_t b)
{
	for (uint64_t id = 1; id <= s->n; id++)
		if (id != a && id != b)
			return id;
	return 0;
}

static void test_single_node(void **state)
{
	struct sim s;
	start(&s, 1, 1, NULL);
	uint64_t leader = elect(&s);
	assert_int_equal(leader, 1);
	assert_int_equal(sim_write(&s, 1, 42), 0);
	assert_int_equal(sim_node(&s, 1)->value, 42); /* one voter: commits at once */
	sim_free(&s);
}

static void test_election_three_nodes(void **state)
{
	struct sim s;
	start(&s, 3, 3, NULL);
	uint64_t leader = elect(&s);
	uint64_t term = raft_term(sim_node(&s, leader)->r);
	for (uint64_t id = 1; id <= 3; id++) {
		struct raft *r = sim_node(&s, id)->r;
		assert_int_equal(raft_term(r), term);
		assert_int_equal(raft_leader(r), leader);
		assert_int_equal(raft_role(r), id == leader ? RAFT_LEADER : RAFT_FOLLOWER);
		/* the new leader's no-op is committed and applied everywhere */
		assert_int_equal(sim_node(&s, id)->applied, 1);
	}
	assert_ok(&s);
	sim_free(&s);
}

/* A node cut off and timing out again and again must not raise the term
 * and depose a healthy leader when it comes back. Without pre-vote it
 * does: the control run shows the scenario is sensitive. */
static void isolated_follower_rejoins(bool pre_vote, uint64_t *term_before,
				      uint64_t *term_after, uint64_t *leader_before,
				      uint64_t *leader_after)
{
	struct raft_options o = base_opts;
	o.pre_vote = pre_vote;
	o.check_quorum = false;
	struct sim s;
	start(&s, 3, 3, &o);
	*leader_before = elect(&s);
	*term_before = raft_term(sim_node(&s, *leader_before)->r);
	uint64_t f = other_than(&s, *leader_before, 0);
	sim_isolate(&s, f, true);
	sim_tick_all(&s, 100);
	if (pre_vote)
		assert_int_equal(raft_term(sim_node(&s, f)->r), *term_before);
	sim_isolate(&s, f, false);
	sim_tick_all(&s, 30);
	assert_ok(&s);
	*leader_after = sim_leader(&s);
	*term_after = raft_term(sim_node(&s, *leader_after)->r);
	sim_free(&s);
}

static struct raft *boot_with_log(uint64_t id, uint64_t term, const uint64_t *terms,
				  size_t n, size_t nvoters);
static void step_msg(struct raft *r, struct raft_msg m);

static void test_prevote_does_not_disrupt(void **state)
{
	uint64_t t0, t1, l0, l1;
	/* The receiving side: granting a pre-vote changes neither term nor
	 * vote, and the answer carries the term asked about. */
	const uint64_t terms[] = { 1 };
	struct raft *r = boot_with_log(1, 1, terms, 1, 3);
	struct raft_ready rd;
	step_msg(r, (struct raft_msg){ .type = RAFT_MSG_PREVOTE, .from = 2, .term = 2,
				       .log_index = 1, .log_term = 1 });
	assert_int_equal(raft_term(r), 1);
	assert_int_equal(raft_ready(r, &rd), 0);
	assert_false(rd.hs_changed);
	assert_int_equal(rd.nmsgs, 1);
	assert_int_equal(rd.msgs[0].type, RAFT_MSG_PREVOTE_RESP);
	assert_false(rd.msgs[0].reject);
	assert_int_equal(rd.msgs[0].term, 2);
	raft_advance(r, &rd);
	raft_destroy(r);

	isolated_follower_rejoins(true, &t0, &t1, &l0, &l1);
	assert_int_equal(t1, t0);
	assert_int_equal(l1, l0);
	isolated_follower_rejoins(false, &t0, &t1, &l0, &l1);
	assert_true(t1 > t0); /* control: plain Raft is disrupted */
}

static void test_check_quorum_step_down(void **state)
{
	for (int cq = 1; cq >= 0; cq--) {
		struct raft_options o = base_opts;
		o.check_quorum = cq;
		struct sim s;
		start(&s, 3, 3, &o);
		uint64_t leader = elect(&s);
		sim_isolate(&s, leader, true);
		sim_tick_all(&s, 2 * o.election_ticks + 1);
		struct raft *r = sim_node(&s, leader)->r;
		if (cq)
			assert_int_equal(raft_role(r), RAFT_FOLLOWER);
		else
			assert_int_equal(raft_role(r), RAFT_LEADER); /* control */
		/* the majority side elected someone else meanwhile */
		uint64_t other = other_than(&s, leader, 0);
		assert_true(raft_leader(sim_node(&s, other)->r) != leader);
		assert_ok(&s);
		sim_free(&s);
	}
}

/* ---- direct drive of raft nodes ---- */

struct pump {
	struct raft *nodes[5];
	size_t n;
	struct raft_msg *q;
	size_t nq, cap;
	uint64_t rejects_from[6];
	uint64_t applied_to[6];
};

static void drain(struct pump *p, struct raft *r)
{
	struct raft_ready rd;
	while (raft_has_ready(r)) {
		assert_int_equal(raft_ready(r, &rd), 0);
		for (size_t i = 0; i < rd.nmsgs; i++) {
			if (p->nq == p->cap) {
				p->cap = p->cap ? p->cap * 2 : 64;
				p->q = realloc(p->q, p->cap * sizeof(*p->q));
				assert_non_null(p->q);
			}
			assert_int_equal(raft_msg_clone(&p->q[p->nq++], &rd.msgs[i]), 0);
		}
		if (rd.ncommitted)
			p->applied_to[raft_id(r)] = rd.committed[rd.ncommitted - 1].index;
		assert_int_equal(raft_advance(r, &rd), 0);
	}
}

static void pump_run(struct pump *p)
{
	for (size_t i = 0; i < p->n; i++)
		drain(p, p->nodes[i]);
	while (p->nq) {
		struct raft_msg m = p->q[0];
		memmove(p->q, p->q + 1, (p->nq - 1) * sizeof(*p->q));
		p->nq--;
		if (m.type == RAFT_MSG_APPEND_RESP && m.reject)
			p->rejects_from[m.from]++;
		for (size_t i = 0; i < p->n; i++) {
			if (raft_id(p->nodes[i]) == m.to) {
				assert_int_equal(raft_step(p->nodes[i], &m), 0);
				drain(p, p->nodes[i]);
			}
		}
		raft_msg_release(&m);
	}
}

static void pump_free(struct pump *p)
{
	for (size_t i = 0; i < p->n; i++)
		raft_destroy(p->nodes[i]);
	for (size_t i = 0; i < p->nq; i++)
		raft_msg_release(&p->q[i]);
	free(p->q);
}

/* Boots node id with a log whose terms are given per index (1-based). */
static struct raft *boot_with_log(uint64_t id, uint64_t term, const uint64_t *terms,
				  size_t n, size_t nvoters)
{
	struct raft_entry *ents = calloc(n ? n : 1, sizeof(*ents));
	uint64_t payload[256];
	assert_true(n <= 256);
	for (size_t i = 0; i < n; i++) {
		payload[i] = terms[i] * 1000 + i;
		ents[i] = (struct raft_entry){ .term = terms[i], .index = i + 1,
					       .type = RAFT_ENTRY_NORMAL, .len = 8,
					       .data = (uint8_t *)&payload[i] };
	}
	struct raft_boot boot = { .hs = { .term = term }, .entries = ents, .nentries = n };
	for (size_t i = 0; i < nvoters; i++)
		boot.initial_config.voters[boot.initial_config.nvoters++] = i + 1;
	struct raft_options o = base_opts;
	o.id = id;
	o.pre_vote = false;
	struct raft *r = NULL;
	assert_int_equal(raft_create(&o, &boot, &r), 0);
	free(ents);
	return r;
}

static void step_msg(struct raft *r, struct raft_msg m)
{
	m.to = raft_id(r);
	assert_int_equal(raft_step(r, &m), 0);
}

static void discard_ready(struct raft *r, struct raft_ready *last)
{
	struct raft_ready rd;
	memset(last, 0, sizeof(*last));
	while (raft_has_ready(r)) {
		assert_int_equal(raft_ready(r, &rd), 0);
		if (rd.ncommitted)
			last->ncommitted += rd.ncommitted;
		raft_advance(r, &rd);
	}
}

/*
 * Figure 8: a leader of term 3 holding an entry of term 2 at index 2 must
 * not commit it because a majority stores it; only once an entry of term 3
 * is on a majority do both commit.
 */
static void test_figure8_commit_rule(void **state)
{
	const uint64_t terms[] = { 1, 2 };
	struct raft *r = boot_with_log(1, 2, terms, 2, 3);
	struct raft_ready rd;
	assert_int_equal(raft_campaign(r), 0);
	assert_int_equal(raft_term(r), 3);
	discard_ready(r, &rd);
	step_msg(r, (struct raft_msg){ .type = RAFT_MSG_VOTE_RESP, .from = 2, .term = 3 });
	assert_int_equal(raft_role(r), RAFT_LEADER);
	assert_int_equal(raft_last_index(r), 3); /* the no-op of term 3 */
	discard_ready(r, &rd);

	/* Node 2 holds index 2 (term 2): a majority, yet no commit. */
	step_msg(r, (struct raft_msg){ .type = RAFT_MSG_APPEND_RESP, .from = 2, .term = 3,
				       .log_index = 2 });
	assert_int_equal(raft_commit_index(r), 0);
	discard_ready(r, &rd);
	assert_int_equal(rd.ncommitted, 0);

	/* Node 2 holds index 3 (term 3): 1..3 commit together. */
	step_msg(r, (struct raft_msg){ .type = RAFT_MSG_APPEND_RESP, .from = 2, .term = 3,
				       .log_index = 3 });
	assert_int_equal(raft_commit_index(r), 3);
	discard_ready(r, &rd);
	assert_int_equal(rd.ncommitted, 3);
	raft_destroy(r);
}

/*
 * A follower with 100 conflicting entries of a deposed term must be
 * repaired in a couple of round trips (term hints), not 100.
 */
static void test_conflict_backoff(void **state)
{
	uint64_t t1[100], t2[150], t3[50];
	for (int i = 0; i < 150; i++) {
		if (i < 100)
			t1[i] = i < 50 ? 1 : 3;
		t2[i] = i < 50 ? 1 : 2;
		if (i < 50)
			t3[i] = 1;
	}
	struct pump p = { .n = 3 };
	p.nodes[0] = boot_with_log(1, 3, t1, 100, 3);
	p.nodes[1] = boot_with_log(2, 2, t2, 150, 3);
	p.nodes[2] = boot_with_log(3, 1, t3, 50, 3);
	assert_int_equal(raft_campaign(p.nodes[0]), 0);
	pump_run(&p);
	assert_int_equal(raft_role(p.nodes[0]), RAFT_LEADER);
	for (int i = 0; i < 3; i++) {
		raft_tick(p.nodes[0]);
		pump_run(&p);
	}
	assert_true(p.rejects_from[2] >= 1);
	assert_true(p.rejects_from[2] <= 2);
	assert_true(p.rejects_from[3] <= 1);
	uint64_t last = raft_last_index(p.nodes[0]);
	assert_int_equal(last, 101);
	for (size_t k = 1; k < 3; k++) {
		assert_int_equal(raft_last_index(p.nodes[k]), last);
		for (uint64_t i = 1; i <= last; i++) {
			uint64_t a = 0, b = 0;
			assert_int_equal(raft_term_at(p.nodes[0], i, &a), 0);
			assert_int_equal(raft_term_at(p.nodes[k], i, &b), 0);
			assert_int_equal(a, b);
		}
		assert_int_equal(raft_commit_index(p.nodes[k]), last);
	}
	pump_free(&p);
}

/*
 * A follower that lost entries it had acknowledged (a damaged log tail cut
 * off, a wiped state dir) rejects with a hint below the leader's match for
 * it: the leader must replicate again from there, not take every rejection
 * for a stale one forever.
 */
static void test_follower_lost_entries(void **state)
{
	uint64_t t[5] = { 1, 1, 1, 1, 1 };
	struct pump p = { .n = 3 };
	for (size_t i = 0; i < 3; i++)
		p.nodes[i] = boot_with_log(i + 1, 1, t, 5, 3);
	assert_int_equal(raft_campaign(p.nodes[0]), 0);
	pump_run(&p);
	assert_int_equal(raft_role(p.nodes[0]), RAFT_LEADER);
	uint64_t v = 42, index = 0;
	assert_int_equal(raft_propose(p.nodes[0], &v, sizeof(v), &index), 0);
	pump_run(&p);
	uint64_t last = raft_last_index(p.nodes[0]);
	assert_int_equal(raft_last_index(p.nodes[2]), last);
	assert_int_equal(raft_commit_index(p.nodes[0]), last);

	/* node 3 comes back with only its first 2 entries (term kept) */
	raft_destroy(p.nodes[2]);
	p.nodes[2] = boot_with_log(3, raft_term(p.nodes[0]), t, 2, 3);
	assert_int_equal(raft_propose(p.nodes[0], &v, sizeof(v), &index), 0);
	for (int i = 0; i < 10; i++) {
		raft_tick(p.nodes[0]);
		pump_run(&p);
	}
	last = raft_last_index(p.nodes[0]);
	assert_int_equal(raft_last_index(p.nodes[2]), last);
	for (uint64_t i = 1; i <= last; i++) {
		uint64_t a = 0, b = 0;
		assert_int_equal(raft_term_at(p.nodes[0], i, &a), 0);
		assert_int_equal(raft_term_at(p.nodes[2], i, &b), 0);
		assert_int_equal(a, b);
	}
	assert_int_equal(raft_commit_index(p.nodes[2]), last);
	pump_free(&p);
}

static void test_snapshot_install(void **state)
{
	struct sim s;
	struct sim_faults f = { .snapshot_every = 10 };
	assert_int_equal(sim_init(&s, 7, 3, 3, &base_opts, &f), 0);
	uint64_t leader = elect(&s);
	uint64_t lagger = other_than(&s, leader, 0);
	sim_isolate(&s, lagger, true);
	for (uint64_t v = 1; v <= 40; v++) {
		assert_int_equal(sim_write(&s, leader, v), 0);
		sim_tick_all(&s, 1);
	}
	struct raft *lr = sim_node(&s, leader)->r;
	assert_true(raft_first_index(lr) > 2); /* the leader compacted */
	assert_false(sim_node(&s, lagger)->saw_snapshot_install);
	sim_isolate(&s, lagger, false);
	sim_tick_all(&s, 20);
	assert_ok(&s);
	struct sim_node *nd = sim_node(&s, lagger);
	assert_true(nd->saw_snapshot_install);
	assert_int_equal(nd->value, 40);
	assert_int_equal(nd->applied, raft_commit_index(lr));
	assert_true(nd->snap.index > 0); /* persisted */
	/* and it survives a restart from its durable state */
	sim_crash(&s, lagger);
	sim_restart(&s, lagger);
	sim_tick_all(&s, 5);
	assert_int_equal(sim_node(&s, lagger)->value, 40);
	assert_ok(&s);
	sim_free(&s);
}

static void test_membership_add_remove(void **state)
{
	struct sim s;
	start(&s, 4, 3, NULL);
	uint64_t leader = elect(&s);
	struct raft *lr = sim_node(&s, leader)->r;
	for (uint64_t v = 1; v <= 5; v++)
		assert_int_equal(sim_write(&s, leader, v), 0);
	sim_tick_all(&s, 2);

	uint64_t index = 0;
	assert_int_equal(raft_propose_conf_change(lr, RAFT_CONF_ADD, 2, NULL), -EEXIST);
	assert_int_equal(raft_propose_conf_change(lr, RAFT_CONF_REMOVE, 4, NULL), -ENOENT);
	assert_int_equal(raft_propose_conf_change(lr, RAFT_CONF_ADD, 4, &index), 0);
	/* in force as soon as appended */
	struct raft_config cfg;
	raft_get_config(lr, &cfg);
	assert_int_equal(cfg.nvoters, 4);
	/* only one change in flight */
	assert_int_equal(raft_propose_conf_change(lr, RAFT_CONF_REMOVE, 3, NULL), -EBUSY);
	sim_process(&s, leader);
	sim_tick_all(&s, 10);
	assert_true(raft_commit_index(lr) >= index);
	struct sim_node *n4 = sim_node(&s, 4);
	raft_get_config(n4->r, &cfg);
	assert_int_equal(cfg.nvoters, 4);
	assert_int_equal(n4->value, 5); /* caught up from an empty log */
	assert_int_equal(n4->applied, raft_commit_index(lr));

	/* The leader removes itself: it leads until the change commits,
	 * then steps down, and the others elect a new leader. */
	assert_int_equal(raft_propose_conf_change(lr, RAFT_CONF_REMOVE, leader, &index), 0);
	sim_process(&s, leader);
	sim_tick_all(&s, 40);
	assert_ok(&s);
	assert_int_equal(raft_role(lr), RAFT_FOLLOWER);
	uint64_t nl = sim_leader(&s);
	assert_true(nl != 0 && nl != leader);
	raft_get_config(sim_node(&s, nl)->r, &cfg);
	assert_int_equal(cfg.nvoters, 3);
	assert_false(raft_config_has(&cfg, leader));
	assert_int_equal(sim_write(&s, nl, 99), 0);
	sim_tick_all(&s, 5);
	assert_int_equal(sim_node(&s, 4)->value, 99);
	/* the removed node never campaigns */
	sim_isolate(&s, leader, true);
	sim_tick_all(&s, 50);
	assert_int_equal(raft_role(lr), RAFT_FOLLOWER);
	assert_ok(&s);
	sim_free(&s);
}

static void test_read_index(void **state)
{
	struct sim s;
	start(&s, 3, 3, NULL);
	uint64_t leader = elect(&s);
	uint64_t f = other_than(&s, leader, 0);
	assert_int_equal(raft_read_index(sim_node(&s, f)->r, 0), -EPERM);

	assert_int_equal(sim_write(&s, leader, 7), 0);
	sim_tick_all(&s, 2);
	assert_int_equal(sim_read(&s, leader), 0);
	struct sim_op *op = &s.ops[s.nops - 1];
	assert_int_equal(op->complete, 0); /* needs a heartbeat round */
	sim_deliver_all(&s);
	assert_true(op->complete != 0);
	assert_int_equal(op->value, 7);

	/* A leader cut off from the majority never confirms a read, even
	 * before check-quorum makes it step down. */
	sim_isolate(&s, leader, true);
	assert_int_equal(sim_read(&s, leader), 0);
	op = &s.ops[s.nops - 1];
	sim_tick_all(&s, 5);
	assert_int_equal(op->complete, 0);
	sim_tick_all(&s, 30);
	assert_int_equal(op->complete, 0);
	assert_ok(&s);
	sim_free(&s);
}

static void test_leadership_transfer(void **state)
{
	struct sim s;
	start(&s, 3, 3, NULL);
	uint64_t leader = elect(&s);
	struct raft *lr = sim_node(&s, leader)->r;
	uint64_t term = raft_term(lr);
	uint64_t target = other_than(&s, leader, 0);
	assert_int_equal(raft_transfer_leadership(lr, 9), -ENOENT);
	/* the target lags: the leader must catch it up first */
	sim_cut(&s, leader, target, true);
	assert_int_equal(sim_write(&s, leader, 5), 0);
	sim_tick_all(&s, 1);
	sim_cut(&s, leader, target, false);
	assert_int_equal(raft_transfer_leadership(lr, target), 0);
	assert_int_equal(sim_write(&s, leader, 6), -EBUSY);
	sim_process(&s, leader);
	sim_deliver_all(&s);
	sim_tick_all(&s, 3); /* far less than an election timeout */
	assert_ok(&s);
	assert_int_equal(sim_leader(&s), target);
	assert_int_equal(raft_term(sim_node(&s, target)->r), term + 1);
	assert_int_equal(raft_role(lr), RAFT_FOLLOWER);
	assert_int_equal(sim_node(&s, target)->value, 5);
	sim_free(&s);
}

static void test_ready_contract(void **state)
{
	const uint64_t terms[] = { 1 };
	struct raft *r = boot_with_log(1, 1, terms, 1, 3);
	struct raft_ready rd;
	/* A vote request it grants: the vote must be in the same ready as
	 * the reply, so the caller persists it before sending. */
	step_msg(r, (struct raft_msg){ .type = RAFT_MSG_VOTE, .from = 2, .term = 5,
				       .log_index = 1, .log_term = 1 });
	assert_true(raft_has_ready(r));
	assert_int_equal(raft_ready(r, &rd), 0);
	assert_true(rd.hs_changed);
	assert_int_equal(rd.hs.term, 5);
	assert_int_equal(rd.hs.vote, 2);
	assert_int_equal(rd.nmsgs, 1);
	assert_int_equal(rd.msgs[0].type, RAFT_MSG_VOTE_RESP);
	assert_false(rd.msgs[0].reject);
	/* nothing else may change the node until advance */
	struct raft_msg m = { .type = RAFT_MSG_VOTE, .from = 3, .to = 1, .term = 5 };
	assert_int_equal(raft_step(r, &m), -EBUSY);
	assert_int_equal(raft_tick(r), -EBUSY);
	assert_int_equal(raft_advance(r, &rd), 0);
	assert_false(raft_has_ready(r));
	/* same term, other candidate: the vote holds */
	m.log_index = 1;
	m.log_term = 1;
	assert_int_equal(raft_step(r, &m), 0);
	assert_int_equal(raft_ready(r, &rd), 0);
	assert_false(rd.hs_changed);
	assert_int_equal(rd.nmsgs, 1);
	assert_true(rd.msgs[0].reject);
	raft_advance(r, &rd);
	raft_destroy(r);
}

/* The vote is durable: a node that voted and restarted does not vote for
 * someone else in the same term. */
static void test_vote_survives_restart(void **state)
{
	struct sim s;
	struct raft_options o = base_opts;
	o.check_quorum = false;
	o.pre_vote = false;
	start(&s, 3, 3, &o);
	assert_int_equal(raft_campaign(sim_node(&s, 1)->r), 0);
	sim_process(&s, 1);
	sim_cut(&s, 1, 3, true);
	sim_deliver_all(&s); /* node 2 votes for 1 */
	assert_int_equal(sim_node(&s, 2)->hs.vote, 1);
	uint64_t term = sim_node(&s, 2)->hs.term;
	sim_crash(&s, 2);
	sim_restart(&s, 2);
	struct raft_msg m = { .type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = term,
			      .log_index = 10, .log_term = 10 };
	assert_int_equal(raft_step(sim_node(&s, 2)->r, &m), 0);
	struct raft_ready rd;
	assert_int_equal(raft_ready(sim_node(&s, 2)->r, &rd), 0);
	assert_int_equal(rd.nmsgs, 1);
	assert_true(rd.msgs[0].reject);
	raft_advance(sim_node(&s, 2)->r, &rd);
	sim_free(&s);
}

static void test_config_codec(void **state)
{
	struct raft_config cfg = { .nvoters = 3, .voters = { 1, 7, 1ULL << 40 } }, out;
	uint8_t buf[4 + 8 * RAFT_MAX_VOTERS];
	int len = raft_config_encode(&cfg, buf, sizeof(buf));
	assert_int_equal(len, 28);
	assert_int_equal(raft_config_decode(buf, (size_t)len, &out), 0);
	assert_memory_equal(&cfg, &out, sizeof(cfg));
	assert_int_equal(raft_config_decode(buf, (size_t)len - 1, &out), -EINVAL);
	assert_int_equal(raft_config_encode(&cfg, buf, 27), -ENOSPC);
	memcpy(buf + 12, buf + 4, 8); /* duplicate id */
	assert_int_equal(raft_config_decode(buf, (size_t)len, &out), -EINVAL);
	memset(buf + 4, 0, 8); /* zero id */
	assert_int_equal(raft_config_decode(buf, (size_t)len, &out), -EINVAL);
}

static void test_bad_options(void **state)
{
	struct raft_boot boot = { 0 };
	struct raft *r = NULL;
	struct raft_options o = base_opts;
	assert_int_equal(raft_create(&o, &boot, &r), -EINVAL); /* id 0 */
	o.id = 1;
	o.heartbeat_ticks = o.election_ticks;
	assert_int_equal(raft_create(&o, &boot, &r), -EINVAL);
	o.heartbeat_ticks = 1;
	boot.applied = 5; /* beyond the log */
	assert_int_equal(raft_create(&o, &boot, &r), -EINVAL);
	boot.applied = 0;
	assert_int_equal(raft_create(&o, &boot, &r), 0);
	/* not a member of any configuration: never campaigns */
	for (int i = 0; i < 100; i++)
		assert_int_equal(raft_tick(r), 0);
	assert_int_equal(raft_role(r), RAFT_FOLLOWER);
	assert_int_equal(raft_campaign(r), -EPERM);
	raft_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_node),
		cmocka_unit_test(test_election_three_nodes),
		cmocka_unit_test(test_prevote_does_not_disrupt),
		cmocka_unit_test(test_check_quorum_step_down),
		cmocka_unit_test(test_figure8_commit_rule),
		cmocka_unit_test(test_conflict_backoff),
		cmocka_unit_test(test_follower_lost_entries),
		cmocka_unit_test(test_snapshot_install),
		cmocka_unit_test(test_membership_add_remove),
		cmocka_unit_test(test_read_index),
		cmocka_unit_test(test_leadership_transfer),
		cmocka_unit_test(test_ready_contract),
		cmocka_unit_test(test_vote_survives_restart),
		cmocka_unit_test(test_config_codec),
		cmocka_unit_test(test_bad_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
