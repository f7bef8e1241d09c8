/*
 * libFuzzer target for the Raft wire codec (raft/wire.c): arbitrary bytes
 * into raft_wire_peek and raft_wire_decode. Whatever decodes must satisfy
 * the format's bounds, re-encode to exactly the input bytes (the encoding
 * is canonical) and decode again to the same message. Each input is also
 * tried "resealed" (both CRC32Cs recomputed over the mutated bytes), so
 * that the checks behind the checksums get fuzzed too. Crashes, sanitizer
 * reports and broken invariants (abort) are findings.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crc32c.h"
#include "raft/format.h"
#include "raft/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		abort();
}

static bool same_entries(const struct raft_msg *a, const struct raft_msg *b)
{
	if (a->nentries != b->nentries)
		return false;
	for (size_t i = 0; i < a->nentries; i++) {
		const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
		if (x->term != y->term || x->index != y->index || x->type != y->type ||
		    x->len != y->len || (x->len && memcmp(x->data, y->data, x->len)))
			return false;
	}
	return true;
}

static bool same_msg(const struct raft_msg *a, const struct raft_msg *b)
{
	return a->type == b->type && a->from == b->from && a->to == b->to &&
	       a->term == b->term && a->log_index == b->log_index &&
	       a->log_term == b->log_term && a->commit == b->commit &&
	       a->read_seq == b->read_seq && a->hint_index == b->hint_index &&
	       a->hint_term == b->hint_term && a->reject == b->reject && a->force == b->force &&
	       same_entries(a, b) && a->snapshot.index == b->snapshot.index &&
	       a->snapshot.term == b->snapshot.term && a->snapshot.len == b->snapshot.len &&
	       a->snapshot.config.nvoters == b->snapshot.config.nvoters &&
	       !memcmp(a->snapshot.config.voters, b->snapshot.config.voters,
		       sizeof(a->snapshot.config.voters)) &&
	       (!a->snapshot.len || !memcmp(a->snapshot.data, b->snapshot.data, a->snapshot.len));
}

static void one(const uint8_t *data, size_t size)
{
	size_t frame_len = 0;
	uint64_t from = 0, to = 0;
	char err[160];
	int prc = raft_wire_peek(data, size, &frame_len, &from, &to, err, sizeof(err));
	check(prc == 0 || prc == -EAGAIN || prc == -EBADMSG);
	check(prc != -EAGAIN || size < RAFT_WIRE_HEADER_SIZE);
	if (prc == 0)
		check(frame_len >= RAFT_WIRE_OVERHEAD && frame_len - RAFT_WIRE_OVERHEAD <= RAFT_WIRE_MAX_BODY &&
		      from && to);

	struct raft_msg m;
	int rc = raft_wire_decode(data, size, &m, err, sizeof(err));
	if (rc) {
		check(rc == -EBADMSG || rc == -ENOMEM);
		check(!m.entries && !m.nentries && !m.snapshot.data);
		return;
	}
	check(prc == 0 && frame_len == size && m.from == from && m.to == to);
	check(m.type >= RAFT_MSG_PREVOTE && m.type <= RAFT_MSG_TIMEOUT_NOW);
	check(m.nentries <= RAFT_WIRE_MAX_ENTRIES && m.snapshot.config.nvoters <= RAFT_MAX_VOTERS);

	uint8_t *again = NULL;
	size_t again_len = 0;
	check(raft_wire_encode_alloc(&m, &again, &again_len) == 0);
	check(again_len == size && memcmp(again, data, size) == 0);
	struct raft_msg m2;
	check(raft_wire_decode(again, again_len, &m2, NULL, 0) == 0);
	check(same_msg(&m, &m2));
	raft_msg_release(&m2);
	raft_msg_release(&m);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	if (size < RAFT_WIRE_OVERHEAD)
		return 0;
	uint8_t *sealed = malloc(size);
	if (!sealed)
		return 0;
	memcpy(sealed, data, size);
	raft_put_le32(sealed + 88, crc32c(0, sealed, 88));
	raft_put_le32(sealed + size - 4, crc32c(0, sealed, size - 4));
	one(sealed, size);
	free(sealed);
	return 0;
}
