/*
 * Raft core: node lifecycle, roles, elections (with pre-vote and the
 * check-quorum lease) and the dispatch of incoming messages. Log
 * replication, snapshots and ReadIndex live in replication.c; the
 * ready/advance hand-off in ready.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

/* splitmix64: small, seedable, and good enough for timeout jitter. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void reset_election_timer(struct raft *r)
{
	r->election_elapsed = 0;
	r->randomized_timeout = r->opts.election_ticks +
		(uint32_t)(rng_next(&r->rng) % r->opts.election_ticks);
}

uint32_t raft_quorum(const struct raft *r)
{
	return r->config.nvoters / 2 + 1;
}

struct raft_progress *raft_progress_find(struct raft *r, uint64_t id)
{
	for (size_t i = 0; i < r->nprs; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

int raft_send(struct raft *r, struct raft_msg *m)
{
	m->from = r->opts.id;
	if (m->type != RAFT_MSG_PREVOTE && !(m->type == RAFT_MSG_PREVOTE_RESP && m->term))
		m->term = r->term;
	if (r->noutbox == r->outbox_cap) {
		size_t cap = r->outbox_cap ? r->outbox_cap * 2 : 16;
		struct raft_msg *box = realloc(r->outbox, cap * sizeof(*box));
		if (!box) {
			raft_msg_release(m);
			r->fatal = -ENOMEM;
			return -ENOMEM;
		}
		r->outbox = box;
		r->outbox_cap = cap;
	}
	r->outbox[r->noutbox++] = *m;
	memset(m, 0, sizeof(*m));
	return 0;
}

/*
 * The configuration is the last config entry in the log, whether committed
 * or not (single-server changes take effect when appended); else the one
 * the snapshot carries. Progress survives for ids that stay.
 */
void raft_reload_config(struct raft *r)
{
	struct raft_config cfg = r->snap.config;
	uint64_t cfg_index = 0;
	for (uint64_t i = raft_log_last_index(&r->log); i > r->log.snap_index; i--) {
		const struct raft_entry *e = raft_log_get(&r->log, i);
		if (e->type == RAFT_ENTRY_CONFIG &&
		    raft_config_decode(e->data, e->len, &cfg) == 0) {
			cfg_index = i;
			break;
		}
	}
	struct raft_progress old[RAFT_MAX_VOTERS];
	size_t nold = r->nprs;
	memcpy(old, r->prs, sizeof(old));
	r->config = cfg;
	r->config_index = cfg_index;
	r->nprs = 0;
	uint64_t last = raft_log_last_index(&r->log);
	for (uint32_t i = 0; i < cfg.nvoters; i++) {
		struct raft_progress *pr = &r->prs[r->nprs++];
		memset(pr, 0, sizeof(*pr));
		pr->id = cfg.voters[i];
		pr->next = last + 1;
		pr->recent_active = true;
		for (size_t j = 0; j < nold; j++)
			if (old[j].id == pr->id)
				*pr = old[j];
	}
	if (r->transferee && !raft_config_has(&r->config, r->transferee))
		r->transferee = 0;
}

void raft_become_follower(struct raft *r, uint64_t term, uint64_t leader)
{
	if (term != r->term) {
		r->term = term;
		r->vote = 0;
	}
	r->role = RAFT_FOLLOWER;
	r->leader = leader;
	r->transferee = 0;
	raft_drop_reads(r);
	reset_election_timer(r);
}

static void reset_votes(struct raft *r)
{
	for (size_t i = 0; i < r->nprs; i++)
		r->prs[i].vote = RAFT_VOTE_NONE;
}

static void become_leader(struct raft *r);
static void become_candidate(struct raft *r, bool force);

/* Counts votes; wins or loses once a quorum has spoken. */
static void tally(struct raft *r)
{
	uint32_t granted = 0, rejected = 0;
	for (size_t i = 0; i < r->nprs; i++) {
		granted += r->prs[i].vote == RAFT_VOTE_GRANTED;
		rejected += r->prs[i].vote == RAFT_VOTE_REJECTED;
	}
	if (granted >= raft_quorum(r)) {
		if (r->role == RAFT_PRECANDIDATE) {
			/* Pre-vote won: now disrupt the term for real. */
			become_candidate(r, false);
		} else if (r->role == RAFT_CANDIDATE) {
			become_leader(r);
		}
	} else if (rejected >= raft_quorum(r)) {
		raft_become_follower(r, r->term, 0);
	}
}

static void request_votes(struct raft *r, enum raft_msg_type type, bool force)
{
	reset_votes(r);
	struct raft_progress *self = raft_progress_find(r, r->opts.id);
	if (self)
		self->vote = RAFT_VOTE_GRANTED;
	for (size_t i = 0; i < r->nprs; i++) {
		if (r->prs[i].id == r->opts.id)
			continue;
		struct raft_msg m = {
			.type = type,
			.to = r->prs[i].id,
			.term = type == RAFT_MSG_PREVOTE ? r->term + 1 : r->term,
			.log_index = raft_log_last_index(&r->log),
			.log_term = raft_log_last_term(&r->log),
			.force = force,
		};
		raft_send(r, &m);
	}
	tally(r);
}

static void become_precandidate(struct raft *r)
{
	/* The term and vote do not change: a pre-vote disrupts nobody. */
	r->role = RAFT_PRECANDIDATE;
	r->leader = 0;
	reset_election_timer(r);
	request_votes(r, RAFT_MSG_PREVOTE, false);
}

static void become_candidate(struct raft *r, bool force)
{
	r->term++;
	r->vote = r->opts.id;
	r->role = RAFT_CANDIDATE;
	r->leader = 0;
	r->transferee = 0;
	raft_drop_reads(r);
	reset_election_timer(r);
	request_votes(r, RAFT_MSG_VOTE, force);
}

static void become_leader(struct raft *r)
{
	r->role = RAFT_LEADER;
	r->leader = r->opts.id;
	r->transferee = 0;
	r->election_elapsed = 0;
	r->heartbeat_elapsed = 0;
	uint64_t last = raft_log_last_index(&r->log);
	for (size_t i = 0; i < r->nprs; i++) {
		struct raft_progress *pr = &r->prs[i];
		pr->next = last + 1;
		pr->match = pr->id == r->opts.id ? last : 0;
		pr->state = RAFT_PR_PROBE;
		pr->recent_active = true;
		pr->read_ack = 0;
		pr->match_at_heartbeat = 0;
	}
	/* A config entry may be uncommitted in our log: treat it as pending
	 * until our first entry commits. */
	r->pending_conf_index = last;
	/* Committing an entry of our own term commits everything before it
	 * (Figure 8), and tells us our commit index is current. */
	raft_leader_append(r, RAFT_ENTRY_NOOP, NULL, 0, NULL);
}

int raft_campaign(struct raft *r)
{
	if (r->in_ready)
		return -EBUSY;
	if (!raft_config_has(&r->config, r->opts.id))
		return -EPERM;
	if (r->role == RAFT_LEADER)
		return 0;
	become_candidate(r, false);
	return r->fatal;
}

static bool in_lease(const struct raft *r)
{
	return r->opts.check_quorum && r->leader != 0 &&
	       r->election_elapsed < r->opts.election_ticks;
}

static void handle_vote_request(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PREVOTE;
	uint64_t last_term = raft_log_last_term(&r->log);
	bool up_to_date = m->log_term > last_term ||
		(m->log_term == last_term && m->log_index >= raft_log_last_index(&r->log));
	bool can_vote = r->vote == m->from || (r->vote == 0 && r->leader == 0) ||
		(pre && m->term > r->term);
	struct raft_msg resp = {
		.type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP,
		.to = m->from,
	};
	if (can_vote && up_to_date) {
		/* A granted pre-vote answers in the term it asked about. */
		resp.term = m->term;
		if (!pre) {
			r->vote = m->from;
			reset_election_timer(r);
		}
	} else {
		resp.reject = true;
		resp.term = r->term;
	}
	raft_send(r, &resp);
}

static void handle_vote_resp(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PREVOTE_RESP;
	if ((pre && r->role != RAFT_PRECANDIDATE) || (!pre && r->role != RAFT_CANDIDATE))
		return;
	struct raft_progress *pr = raft_progress_find(r, m->from);
	if (!pr)
		return;
	/* A grant from an older pre-vote round says nothing about this one. */
	if (pre && !m->reject && m->term != r->term + 1)
		return;
	pr->vote = m->reject ? RAFT_VOTE_REJECTED : RAFT_VOTE_GRANTED;
	tally(r);
}

/*
 * Term rules first (paper §5.1, plus pre-vote and the lease of §9.6 of
 * Ongaro's thesis); returns false when the message is to be ignored.
 */
static bool check_term(struct raft *r, const struct raft_msg *m)
{
	if (m->term > r->term) {
		bool vote_req = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE;
		if (vote_req && !m->force && in_lease(r))
			return false;
		if (m->type == RAFT_MSG_PREVOTE)
			return true;
		if (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject)
			return true;
		bool from_leader = m->type == RAFT_MSG_APPEND ||
			m->type == RAFT_MSG_SNAPSHOT || m->type == RAFT_MSG_TIMEOUT_NOW;
		raft_become_follower(r, m->term, from_leader ? m->from : 0);
		return true;
	}
	if (m->term < r->term) {
		if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT) {
			/* A stale leader cut off by a partition learns our term
			 * here and steps down; without this, pre-vote would keep
			 * us from ever raising the term it sees. */
			struct raft_msg resp = { .type = RAFT_MSG_APPEND_RESP,
						 .to = m->from, .reject = true };
			raft_send(r, &resp);
		} else if (m->type == RAFT_MSG_PREVOTE) {
			struct raft_msg resp = { .type = RAFT_MSG_PREVOTE_RESP,
						 .to = m->from, .reject = true };
			raft_send(r, &resp);
		}
		return false;
	}
	return true;
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
	if (r->fatal)
		return r->fatal;
	if (r->in_ready)
		return -EBUSY;
	if (m->to != r->opts.id || m->from == 0 || m->from == r->opts.id)
		return -EINVAL;
	if (!check_term(r, m))
		return r->fatal;

	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		handle_vote_request(r, m);
		break;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		handle_vote_resp(r, m);
		break;
	case RAFT_MSG_APPEND:
	case RAFT_MSG_SNAPSHOT:
		if (r->role == RAFT_LEADER)
			break; /* impossible in one term; ignore defensively */
		if (r->role != RAFT_FOLLOWER || r->leader != m->from)
			raft_become_follower(r, m->term, m->from);
		r->election_elapsed = 0;
		if (m->type == RAFT_MSG_APPEND)
			raft_handle_append(r, m);
		else
			raft_handle_snapshot(r, m);
		break;
	case RAFT_MSG_APPEND_RESP:
		if (r->role == RAFT_LEADER)
			raft_handle_append_resp(r, m);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		if (r->role != RAFT_LEADER && raft_config_has(&r->config, r->opts.id))
			become_candidate(r, true);
		break;
	default:
		return -EINVAL;
	}
	return r->fatal;
}

int raft_tick(struct raft *r)
{
	if (r->fatal)
		return r->fatal;
	if (r->in_ready)
		return -EBUSY;
	if (r->role == RAFT_LEADER) {
		raft_leader_tick(r);
		return r->fatal;
	}
	r->election_elapsed++;
	if (r->election_elapsed >= r->randomized_timeout) {
		reset_election_timer(r);
		/* A node outside the configuration (being added, or removed)
		 * never starts elections. */
		if (raft_config_has(&r->config, r->opts.id)) {
			if (r->opts.pre_vote)
				become_precandidate(r);
			else
				become_candidate(r, false);
		}
	}
	return r->fatal;
}

static int check_leader(const struct raft *r)
{
	if (r->fatal)
		return r->fatal;
	if (r->in_ready)
		return -EBUSY;
	if (r->role != RAFT_LEADER)
		return -EPERM;
	return 0;
}

int raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index_out)
{
	int rc = check_leader(r);
	if (rc)
		return rc;
	if (r->transferee)
		return -EBUSY;
	if (len > RAFT_MAX_PAYLOAD)
		return -EMSGSIZE;
	return raft_leader_append(r, RAFT_ENTRY_NORMAL, data, len, index_out);
}

static bool committed_in_term(const struct raft *r)
{
	uint64_t t = 0;
	return raft_log_term(&r->log, r->commit, &t) == 0 && t == r->term;
}

int raft_propose_conf_change(struct raft *r, enum raft_conf_op op, uint64_t node_id,
			     uint64_t *index_out)
{
	int rc = check_leader(r);
	if (rc)
		return rc;
	if (node_id == 0 || (op != RAFT_CONF_ADD && op != RAFT_CONF_REMOVE))
		return -EINVAL;
	if (r->transferee || r->pending_conf_index > r->commit)
		return -EBUSY;
	/* The single-server change bug (raft-dev, 2015): a leader must commit
	 * in its own term before changing membership. */
	if (!committed_in_term(r))
		return -EAGAIN;
	struct raft_config cfg = r->config;
	if (op == RAFT_CONF_ADD) {
		if (raft_config_has(&cfg, node_id))
			return -EEXIST;
		if (cfg.nvoters == RAFT_MAX_VOTERS)
			return -ENOSPC;
		cfg.voters[cfg.nvoters++] = node_id;
	} else {
		if (!raft_config_has(&cfg, node_id))
			return -ENOENT;
		if (cfg.nvoters == 1)
			return -EINVAL;
		uint32_t j = 0;
		for (uint32_t i = 0; i < cfg.nvoters; i++)
			if (cfg.voters[i] != node_id)
				cfg.voters[j++] = cfg.voters[i];
		cfg.nvoters = j;
	}
	uint8_t buf[4 + 8 * RAFT_MAX_VOTERS];
	int len = raft_config_encode(&cfg, buf, sizeof(buf));
	if (len < 0)
		return len;
	uint64_t index = 0;
	rc = raft_leader_append(r, RAFT_ENTRY_CONFIG, buf, (size_t)len, &index);
	if (rc)
		return rc;
	r->pending_conf_index = index;
	if (index_out)
		*index_out = index;
	return 0;
}

int raft_transfer_leadership(struct raft *r, uint64_t to)
{
	int rc = check_leader(r);
	if (rc)
		return rc;
	if (to == r->opts.id)
		return 0;
	if (r->transferee)
		return -EBUSY;
	struct raft_progress *pr = raft_progress_find(r, to);
	if (!pr)
		return -ENOENT;
	r->transferee = to;
	r->transfer_elapsed = 0;
	if (pr->match == raft_log_last_index(&r->log)) {
		struct raft_msg m = { .type = RAFT_MSG_TIMEOUT_NOW, .to = to };
		raft_send(r, &m);
	} else {
		raft_send_append(r, pr);
	}
	return r->fatal;
}

int raft_snapshot_meta(const struct raft *r, uint64_t index, struct raft_snapshot *meta)
{
	memset(meta, 0, sizeof(*meta));
	if (index > r->applied || index <= r->log.snap_index)
		return -EINVAL;
	if (raft_log_term(&r->log, index, &meta->term))
		return -EINVAL;
	meta->index = index;
	meta->config = r->snap.config;
	for (uint64_t i = index; i > r->log.snap_index; i--) {
		const struct raft_entry *e = raft_log_get(&r->log, i);
		if (e->type == RAFT_ENTRY_CONFIG &&
		    raft_config_decode(e->data, e->len, &meta->config) == 0)
			break;
	}
	return 0;
}

int raft_compact(struct raft *r, uint64_t index, const void *data, size_t len)
{
	struct raft_snapshot meta;
	if (r->fatal)
		return r->fatal;
	if (r->in_ready)
		return -EBUSY;
	int rc = raft_snapshot_meta(r, index, &meta);
	if (rc)
		return rc;
	if (len) {
		meta.data = malloc(len);
		if (!meta.data)
			return -ENOMEM;
		memcpy(meta.data, data, len);
		meta.len = len;
	}
	raft_snapshot_free(&r->snap);
	r->snap = meta;
	raft_log_compact_to(&r->log, index, meta.term);
	return 0;
}

int raft_create(const struct raft_options *opts, const struct raft_boot *boot,
		struct raft **out)
{
	int rc = -EINVAL;
	if (opts->id == 0 || opts->election_ticks < 2 ||
	    opts->heartbeat_ticks == 0 || opts->heartbeat_ticks >= opts->election_ticks)
		return -EINVAL;
	struct raft *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->opts = *opts;
	if (!r->opts.max_append_entries)
		r->opts.max_append_entries = 64;
	r->rng = opts->seed ^ (opts->id * 0x9e3779b97f4a7c15ULL);
	r->term = boot->hs.term;
	r->vote = boot->hs.vote;
	r->prev_hs = boot->hs;

	uint64_t snap_index = 0, snap_term = 0;
	if (boot->snapshot) {
		rc = raft_snapshot_copy(&r->snap, boot->snapshot);
		if (rc)
			goto err_free;
		snap_index = boot->snapshot->index;
		snap_term = boot->snapshot->term;
	} else {
		r->snap.config = boot->initial_config;
	}
	raft_log_init(&r->log, snap_index, snap_term);
	for (size_t i = 0; i < boot->nentries; i++) {
		const struct raft_entry *e = &boot->entries[i];
		if (e->index <= snap_index)
			continue; /* storage may keep a few entries under the snapshot */
		rc = raft_log_append_copy(&r->log, e);
		if (rc)
			goto err_free;
	}
	r->stable = raft_log_last_index(&r->log);
	r->commit = snap_index;
	if (boot->applied > r->commit) {
		rc = -EINVAL;
		if (boot->applied > r->stable)
			goto err_free;
		r->commit = boot->applied;
	}
	r->applied = r->commit;
	raft_reload_config(r);
	raft_become_follower(r, r->term, 0);
	*out = r;
	return 0;

err_free:
	raft_destroy(r);
	return rc;
}

void raft_destroy(struct raft *r)
{
	if (!r)
		return;
	raft_log_free(&r->log);
	raft_snapshot_free(&r->snap);
	for (size_t i = 0; i < r->noutbox; i++)
		raft_msg_release(&r->outbox[i]);
	free(r->outbox);
	free(r->reads);
	free(r->read_out);
	free(r);
}

uint64_t raft_id(const struct raft *r) { return r->opts.id; }
enum raft_role raft_role(const struct raft *r) { return r->role; }
uint64_t raft_leader(const struct raft *r) { return r->leader; }
uint64_t raft_term(const struct raft *r) { return r->term; }
uint64_t raft_commit_index(const struct raft *r) { return r->commit; }
uint64_t raft_applied_index(const struct raft *r) { return r->applied; }
uint64_t raft_last_index(const struct raft *r) { return raft_log_last_index(&r->log); }
uint64_t raft_first_index(const struct raft *r) { return r->log.snap_index + 1; }
void raft_get_config(const struct raft *r, struct raft_config *cfg) { *cfg = r->config; }

int raft_term_at(const struct raft *r, uint64_t index, uint64_t *term)
{
	return raft_log_term(&r->log, index, term);
}

const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index)
{
	return raft_log_get(&r->log, index);
}
