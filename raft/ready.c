/*
 * The hand-off to the caller: what to persist, send and apply. Everything
 * in a ready points into the core and stays valid until raft_advance,
 * which is also the caller's acknowledgement that it was all made durable.
 */
#include <errno.h>
#include <string.h>

#include "raft/internal.h"

static bool hs_changed(const struct raft *r)
{
	return r->term != r->prev_hs.term || r->vote != r->prev_hs.vote;
}

bool raft_has_ready(const struct raft *r)
{
	return !r->in_ready &&
	       (r->noutbox || hs_changed(r) || r->snap_pending ||
		r->stable < raft_log_last_index(&r->log) || r->commit > r->applied ||
		r->nread_out);
}

int raft_ready(struct raft *r, struct raft_ready *rd)
{
	if (r->fatal)
		return r->fatal;
	if (r->in_ready)
		return -EBUSY;
	memset(rd, 0, sizeof(*rd));
	rd->hs_changed = hs_changed(r);
	rd->hs.term = r->term;
	rd->hs.vote = r->vote;
	if (r->snap_pending)
		rd->snapshot = &r->snap;
	uint64_t last = raft_log_last_index(&r->log);
	if (r->stable < last) {
		rd->entries = raft_log_get(&r->log, r->stable + 1);
		rd->nentries = (size_t)(last - r->stable);
	}
	if (r->commit > r->applied) {
		rd->committed = raft_log_get(&r->log, r->applied + 1);
		rd->ncommitted = (size_t)(r->commit - r->applied);
	}
	rd->msgs = r->outbox;
	rd->nmsgs = r->noutbox;
	rd->reads = r->read_out;
	rd->nreads = r->nread_out;
	rd->role = r->role;
	rd->leader = r->leader;
	rd->term = r->term;
	r->in_ready = true;
	return 0;
}

int raft_advance(struct raft *r, const struct raft_ready *rd)
{
	if (!r->in_ready)
		return -EINVAL;
	r->in_ready = false;
	r->prev_hs = rd->hs;
	if (rd->snapshot)
		r->snap_pending = false;
	if (rd->nentries)
		r->stable = rd->entries[rd->nentries - 1].index;
	if (rd->ncommitted)
		r->applied = rd->committed[rd->ncommitted - 1].index;
	for (size_t i = 0; i < r->noutbox; i++)
		raft_msg_release(&r->outbox[i]);
	r->noutbox = 0;
	r->nread_out = 0;
	/* The leader's entries just became durable: they may now count. */
	if (rd->nentries)
		raft_leader_stable(r);
	return r->fatal;
}
