/*
 * Log replication (leader and follower side), snapshot install, the commit
 * rule, ReadIndex and the leader's timer duties.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

static uint64_t last_index(const struct raft *r)
{
	return raft_log_last_index(&r->log);
}

static void send_snapshot(struct raft *r, struct raft_progress *pr)
{
	struct raft_msg m = { .type = RAFT_MSG_SNAPSHOT, .to = pr->id };
	if (raft_snapshot_copy(&m.snapshot, &r->snap)) {
		r->fatal = -ENOMEM;
		return;
	}
	pr->state = RAFT_PR_SNAPSHOT;
	pr->pending_snapshot = r->snap.index;
	pr->snapshot_ticks = 0;
	raft_send(r, &m);
}

/*
 * Sends entries from pr->next (or a snapshot if they were compacted away).
 * In PROBE one append is outstanding at a time; in REPLICATE next moves
 * ahead optimistically, and a lost message shows up as a rejection or as
 * a match that stops moving (see raft_leader_tick).
 */
void raft_send_append(struct raft *r, struct raft_progress *pr)
{
	if (pr->id == r->opts.id || pr->state == RAFT_PR_SNAPSHOT)
		return;
	if (pr->state == RAFT_PR_PROBE && pr->probe_sent)
		return;
	uint64_t prev = pr->next - 1, prev_term = 0;
	if (raft_log_term(&r->log, prev, &prev_term)) {
		send_snapshot(r, pr);
		return;
	}
	uint64_t n = last_index(r) - prev;
	if (n > r->opts.max_append_entries)
		n = r->opts.max_append_entries;
	struct raft_msg m = {
		.type = RAFT_MSG_APPEND,
		.to = pr->id,
		.log_index = prev,
		.log_term = prev_term,
		.commit = r->commit,
		.read_seq = r->read_seq,
	};
	if (n) {
		m.entries = calloc((size_t)n, sizeof(*m.entries));
		if (!m.entries) {
			r->fatal = -ENOMEM;
			return;
		}
		for (uint64_t i = 0; i < n; i++) {
			if (raft_entry_copy(&m.entries[i], raft_log_get(&r->log, prev + 1 + i))) {
				raft_msg_release(&m);
				r->fatal = -ENOMEM;
				return;
			}
			m.nentries++;
		}
	}
	if (pr->state == RAFT_PR_REPLICATE)
		pr->next = prev + n + 1;
	else
		pr->probe_sent = true;
	raft_send(r, &m);
}

/* An empty append at the index known to match: carries commit and the
 * ReadIndex round, never fails the consistency check. */
void raft_send_heartbeat(struct raft *r, struct raft_progress *pr)
{
	uint64_t prev_term = 0;
	if (pr->id == r->opts.id || pr->state == RAFT_PR_SNAPSHOT)
		return;
	if (raft_log_term(&r->log, pr->match, &prev_term)) {
		raft_send_append(r, pr);
		return;
	}
	struct raft_msg m = {
		.type = RAFT_MSG_APPEND,
		.to = pr->id,
		.log_index = pr->match,
		.log_term = prev_term,
		.commit = r->commit,
		.read_seq = r->read_seq,
	};
	raft_send(r, &m);
}

void raft_broadcast_append(struct raft *r)
{
	for (size_t i = 0; i < r->nprs; i++)
		raft_send_append(r, &r->prs[i]);
}

void raft_broadcast_heartbeat(struct raft *r)
{
	for (size_t i = 0; i < r->nprs; i++)
		raft_send_heartbeat(r, &r->prs[i]);
}

void raft_drop_reads(struct raft *r)
{
	r->nreads = 0;
}

static int emit_read(struct raft *r, uint64_t ctx, uint64_t index)
{
	if (r->nread_out == r->read_out_cap) {
		size_t cap = r->read_out_cap ? r->read_out_cap * 2 : 8;
		struct raft_read_state *out = realloc(r->read_out, cap * sizeof(*out));
		if (!out)
			return -ENOMEM;
		r->read_out = out;
		r->read_out_cap = cap;
	}
	r->read_out[r->nread_out].ctx = ctx;
	r->read_out[r->nread_out].index = index;
	r->nread_out++;
	return 0;
}

/* A read is confirmed once a quorum acknowledged a heartbeat round sent
 * after it arrived: no other leader could have committed meanwhile. */
static void confirm_reads(struct raft *r)
{
	size_t kept = 0;
	for (size_t i = 0; i < r->nreads; i++) {
		struct raft_pending_read *rd = &r->reads[i];
		uint32_t acks = 0;
		for (size_t j = 0; rd->seq && j < r->nprs; j++)
			acks += r->prs[j].id == r->opts.id || r->prs[j].read_ack >= rd->seq;
		if (rd->seq && acks >= raft_quorum(r)) {
			if (emit_read(r, rd->ctx, rd->index)) {
				r->fatal = -ENOMEM;
				return;
			}
		} else {
			r->reads[kept++] = *rd;
		}
	}
	r->nreads = kept;
}

static bool committed_in_term(const struct raft *r)
{
	uint64_t t = 0;
	return raft_log_term(&r->log, r->commit, &t) == 0 && t == r->term;
}

/* Starts a heartbeat round for reads still waiting for one. */
static void start_read_round(struct raft *r)
{
	bool any = false;
	for (size_t i = 0; i < r->nreads; i++) {
		if (!r->reads[i].seq) {
			if (!any)
				r->read_seq++;
			any = true;
			r->reads[i].seq = r->read_seq;
			r->reads[i].index = r->commit;
		}
	}
	if (!any)
		return;
	confirm_reads(r); /* a one-voter cluster needs nobody */
	raft_broadcast_heartbeat(r);
}

int raft_read_index(struct raft *r, uint64_t ctx)
{
	if (r->fatal)
		return r->fatal;
	if (r->in_ready)
		return -EBUSY;
	if (r->role != RAFT_LEADER)
		return -EPERM;
	if (r->nreads == r->reads_cap) {
		size_t cap = r->reads_cap ? r->reads_cap * 2 : 8;
		struct raft_pending_read *reads = realloc(r->reads, cap * sizeof(*reads));
		if (!reads)
			return -ENOMEM;
		r->reads = reads;
		r->reads_cap = cap;
	}
	r->reads[r->nreads++] = (struct raft_pending_read){ .ctx = ctx };
	/* Until the leader commits in its term its commit index may be
	 * behind what an earlier leader committed: wait for the no-op. */
	if (committed_in_term(r))
		start_read_round(r);
	return r->fatal;
}

/*
 * The commit rule (paper §5.3/§5.4.2): the highest index stored on a
 * quorum, but only if it is from the current term; earlier entries then
 * commit with it, never by counting replicas (Figure 8). The leader's own
 * copy counts only as far as it is durable (acknowledged by raft_advance),
 * so a driver may send appends before its own fsync (thesis §10.2.1).
 */
static void maybe_commit(struct raft *r)
{
	uint64_t matches[RAFT_MAX_VOTERS];
	size_t n = 0;
	uint64_t own = r->stable < last_index(r) ? r->stable : last_index(r);
	for (size_t i = 0; i < r->nprs; i++)
		matches[n++] = r->prs[i].id == r->opts.id ? own : r->prs[i].match;
	if (n == 0)
		return;
	for (size_t i = 1; i < n; i++) /* insertion sort, descending */
		for (size_t j = i; j > 0 && matches[j] > matches[j - 1]; j--) {
			uint64_t t = matches[j];
			matches[j] = matches[j - 1];
			matches[j - 1] = t;
		}
	uint64_t candidate = matches[raft_quorum(r) - 1], term = 0;
	if (candidate <= r->commit || raft_log_term(&r->log, candidate, &term) || term != r->term)
		return;
	bool first_in_term = !committed_in_term(r);
	r->commit = candidate;
	/* Followers learn the new commit index without waiting a heartbeat. */
	for (size_t i = 0; i < r->nprs; i++)
		if (r->prs[i].state == RAFT_PR_REPLICATE && r->prs[i].next > last_index(r))
			raft_send_heartbeat(r, &r->prs[i]);
	if (first_in_term)
		start_read_round(r);
	/* A leader that removed itself leads until the change commits. */
	if (!raft_config_has(&r->config, r->opts.id) && r->commit >= r->config_index)
		raft_become_follower(r, r->term, 0);
}

void raft_leader_stable(struct raft *r)
{
	if (r->role == RAFT_LEADER)
		maybe_commit(r);
}

int raft_leader_append(struct raft *r, enum raft_entry_type type, const void *data,
		       size_t len, uint64_t *index_out)
{
	struct raft_entry e = {
		.term = r->term,
		.index = last_index(r) + 1,
		.type = type,
		.len = len,
		.data = (uint8_t *)data,
	};
	int rc = raft_log_append_copy(&r->log, &e);
	if (rc)
		return rc;
	if (type == RAFT_ENTRY_CONFIG)
		raft_reload_config(r);
	struct raft_progress *self = raft_progress_find(r, r->opts.id);
	if (self) {
		self->match = e.index;
		self->next = e.index + 1;
	}
	if (index_out)
		*index_out = e.index;
	raft_broadcast_append(r);
	maybe_commit(r);
	return r->fatal;
}

static void reply(struct raft *r, const struct raft_msg *m, struct raft_msg *resp)
{
	resp->type = RAFT_MSG_APPEND_RESP;
	resp->to = m->from;
	resp->read_seq = m->read_seq;
	raft_send(r, resp);
}

void raft_handle_append(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg resp = { 0 };
	uint64_t term = 0;

	if (m->log_index < r->commit) {
		/* Everything up to commit matches the leader already. */
		resp.log_index = r->commit;
		reply(r, m, &resp);
		return;
	}
	if (raft_log_term(&r->log, m->log_index, &term) || term != m->log_term) {
		resp.reject = true;
		resp.log_index = m->log_index;
		if (m->log_index > last_index(r)) {
			resp.hint_index = last_index(r) + 1;
		} else {
			/* Skip back over the whole conflicting term at once. */
			uint64_t i = m->log_index, t = 0;
			while (i - 1 > r->commit && raft_log_term(&r->log, i - 1, &t) == 0 && t == term)
				i--;
			resp.hint_index = i;
			resp.hint_term = term;
		}
		reply(r, m, &resp);
		return;
	}
	bool config_changed = false;
	for (size_t i = 0; i < m->nentries; i++) {
		const struct raft_entry *e = &m->entries[i];
		if (raft_log_term(&r->log, e->index, &term) == 0) {
			if (term == e->term)
				continue; /* duplicate: never truncate what matches */
			/* Conflict: our suffix came from a deposed leader. It
			 * cannot be committed (Log Matching + Leader Completeness). */
			for (uint64_t k = e->index; k <= last_index(r); k++)
				config_changed |= raft_log_get(&r->log, k)->type == RAFT_ENTRY_CONFIG;
			raft_log_truncate_from(&r->log, e->index);
			if (r->stable >= e->index)
				r->stable = e->index - 1;
		}
		if (raft_log_append_copy(&r->log, e)) {
			r->fatal = -ENOMEM;
			return;
		}
		config_changed |= e->type == RAFT_ENTRY_CONFIG;
	}
	if (config_changed)
		raft_reload_config(r);
	uint64_t last_new = m->log_index + m->nentries;
	uint64_t new_commit = m->commit < last_new ? m->commit : last_new;
	if (new_commit > r->commit)
		r->commit = new_commit;
	resp.log_index = last_new;
	reply(r, m, &resp);
}

void raft_handle_snapshot(struct raft *r, const struct raft_msg *m)
{
	const struct raft_snapshot *s = &m->snapshot;
	struct raft_msg resp = { 0 };
	uint64_t term = 0;

	if (s->index <= r->commit) {
		resp.log_index = r->commit;
	} else if (raft_log_term(&r->log, s->index, &term) == 0 && term == s->term) {
		/* Our log already holds the snapshot's history; entries after
		 * it may be acknowledged ones, so keep them and just commit. */
		r->commit = s->index;
		resp.log_index = s->index;
	} else {
		struct raft_snapshot copy;
		if (raft_snapshot_copy(&copy, s)) {
			r->fatal = -ENOMEM;
			return;
		}
		raft_snapshot_free(&r->snap);
		r->snap = copy;
		r->snap_pending = true;
		raft_log_reset(&r->log, s->index, s->term);
		r->commit = r->applied = r->stable = s->index;
		raft_reload_config(r);
		resp.log_index = s->index;
	}
	reply(r, m, &resp);
}

/* Where to probe next after a rejection, using the follower's hint. */
static uint64_t next_after_reject(struct raft *r, struct raft_progress *pr,
				  const struct raft_msg *m)
{
	uint64_t next = m->hint_index;
	if (m->hint_term) {
		uint64_t k = m->log_index - 1, t = 0;
		if (k > last_index(r))
			k = last_index(r);
		while (k > r->log.snap_index && raft_log_term(&r->log, k, &t) == 0 &&
		       t > m->hint_term)
			k--;
		if (raft_log_term(&r->log, k, &t) == 0 && t == m->hint_term)
			next = k + 1;
	}
	if (next > m->log_index)
		next = m->log_index; /* must move back, or we loop */
	if (next < pr->match + 1)
		next = pr->match + 1;
	return next;
}

void raft_handle_append_resp(struct raft *r, const struct raft_msg *m)
{
	struct raft_progress *pr = raft_progress_find(r, m->from);
	if (!pr)
		return;
	pr->recent_active = true;
	if (m->read_seq > pr->read_ack)
		pr->read_ack = m->read_seq;

	if (m->reject) {
		/* The follower's log ends (hint_index - 1) before what it
		 * acknowledged: it lost entries (a damaged tail cut off, a
		 * state dir wiped and restarted). A durable follower never
		 * says so, and messages from a peer arrive in order; without
		 * forgetting its match the leader would take every later
		 * rejection for a stale one and never send the entries again.
		 * Lowering match costs at most a resend; commit does not move
		 * back. */
		if (!m->hint_term && m->hint_index && m->hint_index <= pr->match &&
		    pr->state != RAFT_PR_SNAPSHOT) {
			pr->match = m->hint_index - 1;
			pr->next = m->hint_index;
			pr->state = RAFT_PR_PROBE;
			pr->probe_sent = false;
			raft_send_append(r, pr);
			confirm_reads(r);
			return;
		}
		bool stale = m->log_index <= pr->match || pr->state == RAFT_PR_SNAPSHOT ||
			(pr->state == RAFT_PR_PROBE && m->log_index != pr->next - 1);
		if (!stale) {
			pr->next = next_after_reject(r, pr, m);
			pr->state = RAFT_PR_PROBE;
			pr->probe_sent = false;
			raft_send_append(r, pr);
		}
		confirm_reads(r);
		return;
	}

	bool advanced = false;
	if (m->log_index > pr->match) {
		pr->match = m->log_index;
		advanced = true;
	}
	switch (pr->state) {
	case RAFT_PR_PROBE:
		if (m->log_index + 1 >= pr->next) {
			pr->state = RAFT_PR_REPLICATE;
			pr->next = pr->match + 1;
		}
		pr->probe_sent = false;
		break;
	case RAFT_PR_REPLICATE:
		if (pr->next < pr->match + 1)
			pr->next = pr->match + 1;
		break;
	case RAFT_PR_SNAPSHOT:
		if (pr->match >= pr->pending_snapshot) {
			pr->state = RAFT_PR_REPLICATE;
			pr->next = pr->match + 1;
		}
		break;
	}
	if (advanced)
		maybe_commit(r);
	if (r->role != RAFT_LEADER)
		return; /* maybe_commit stepped down (removed itself) */
	if (advanced && r->transferee == pr->id && pr->match == last_index(r)) {
		struct raft_msg tn = { .type = RAFT_MSG_TIMEOUT_NOW, .to = pr->id };
		raft_send(r, &tn);
	}
	if (pr->next <= last_index(r))
		raft_send_append(r, pr);
	confirm_reads(r);
}

static void heartbeat_round(struct raft *r)
{
	for (size_t i = 0; i < r->nprs; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (pr->id == r->opts.id)
			continue;
		switch (pr->state) {
		case RAFT_PR_PROBE:
			pr->probe_sent = false;
			raft_send_append(r, pr);
			break;
		case RAFT_PR_REPLICATE:
			/* No progress for a whole interval: something was lost;
			 * resend from the last known match. */
			if (pr->match < last_index(r) && pr->match == pr->match_at_heartbeat) {
				pr->next = pr->match + 1;
				raft_send_append(r, pr);
			} else {
				raft_send_heartbeat(r, pr);
			}
			pr->match_at_heartbeat = pr->match;
			break;
		case RAFT_PR_SNAPSHOT:
			break;
		}
	}
}

void raft_leader_tick(struct raft *r)
{
	r->heartbeat_elapsed++;
	r->election_elapsed++;
	if (r->transferee && ++r->transfer_elapsed >= r->opts.election_ticks)
		r->transferee = 0; /* the target did not take over; carry on */
	for (size_t i = 0; i < r->nprs; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (pr->state == RAFT_PR_SNAPSHOT &&
		    ++pr->snapshot_ticks >= r->opts.election_ticks) {
			/* Snapshot (or its answer) lost: probe again. */
			pr->state = RAFT_PR_PROBE;
			pr->next = pr->match + 1;
			pr->probe_sent = false;
		}
	}
	if (r->election_elapsed >= r->opts.election_ticks) {
		r->election_elapsed = 0;
		if (r->opts.check_quorum) {
			uint32_t active = 0;
			for (size_t i = 0; i < r->nprs; i++) {
				struct raft_progress *pr = &r->prs[i];
				active += pr->id == r->opts.id || pr->recent_active;
				if (pr->id != r->opts.id)
					pr->recent_active = false;
			}
			if (active < raft_quorum(r)) {
				raft_become_follower(r, r->term, 0);
				return;
			}
		}
	}
	if (r->heartbeat_elapsed >= r->opts.heartbeat_ticks) {
		r->heartbeat_elapsed = 0;
		heartbeat_round(r);
	}
}
