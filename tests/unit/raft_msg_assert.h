#ifndef STRATA_TESTS_RAFT_MSG_ASSERT_H
#define STRATA_TESTS_RAFT_MSG_ASSERT_H

/*
 * Field-by-field equality of two struct raft_msg for cmocka tests of
 * whatever carries messages (the wire codec, the transport). Absent
 * entries and snapshot data must come back as NULL. Include after
 * <cmocka.h>.
 */
#include "raft/raft.h"

static void assert_msg_equal(const struct raft_msg *a, const struct raft_msg *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->from, b->from);
	assert_int_equal(a->to, b->to);
	assert_int_equal(a->term, b->term);
	assert_int_equal(a->log_index, b->log_index);
	assert_int_equal(a->log_term, b->log_term);
	assert_int_equal(a->commit, b->commit);
	assert_int_equal(a->read_seq, b->read_seq);
	assert_int_equal(a->hint_index, b->hint_index);
	assert_int_equal(a->hint_term, b->hint_term);
	assert_int_equal(a->reject, b->reject);
	assert_int_equal(a->force, b->force);
	assert_int_equal(a->nentries, b->nentries);
	for (size_t i = 0; i < a->nentries; i++) {
		const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
		assert_int_equal(x->term, y->term);
		assert_int_equal(x->index, y->index);
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->len, y->len);
		if (x->len)
			assert_memory_equal(x->data, y->data, x->len);
		else
			assert_null(y->data);
	}
	if (!a->nentries)
		assert_null(b->entries);
	assert_int_equal(a->snapshot.index, b->snapshot.index);
	assert_int_equal(a->snapshot.term, b->snapshot.term);
	assert_int_equal(a->snapshot.len, b->snapshot.len);
	assert_int_equal(a->snapshot.config.nvoters, b->snapshot.config.nvoters);
	assert_memory_equal(a->snapshot.config.voters, b->snapshot.config.voters,
			    sizeof(a->snapshot.config.voters));
	if (a->snapshot.len)
		assert_memory_equal(a->snapshot.data, b->snapshot.data, a->snapshot.len);
	else
		assert_null(b->snapshot.data);
}

#endif
