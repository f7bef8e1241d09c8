#ifndef STRATA_RAFT_WIRE_H
#define STRATA_RAFT_WIRE_H

/*
 * The wire codec for Raft messages between masters (port 19200): one
 * struct raft_msg <-> one self-delimiting frame. Pure functions, no I/O,
 * so the decoder is fuzzed on raw bytes (tests/fuzz/fuzz_raft_wire.c).
 *
 * Decoding is strict: every length is checked against the input, counts
 * are bounded, reserved bytes and flag bits must be zero, unknown types and
 * versions are refused, and both checksums must match. The encoding is
 * canonical: a frame that decodes re-encodes to the same bytes.
 *
 * ---- Frame format (all integers little-endian) ----
 *
 * header (96 bytes):
 *   off size
 *   0   4    magic "SRW1"
 *   4   1    version (1)
 *   5   1    type (enum raft_msg_type, 1..8)
 *   6   1    flags: bit 0 reject, bit 1 force; other bits zero
 *   7   1    zero
 *   8   4    body length B (<= RAFT_WIRE_MAX_BODY; exact per type, below)
 *   12  4    zero
 *   16  8    from (sender id, nonzero)
 *   24  8    to (recipient id, nonzero)
 *   32  8    term
 *   40  8    log_index
 *   48  8    log_term
 *   56  8    commit
 *   64  8    read_seq
 *   72  8    hint_index
 *   80  8    hint_term
 *   88  4    header CRC32C of bytes 0..87: a stream reader trusts B (and
 *            sizes its buffer) only after this matched
 *   92  4    zero
 * body (B bytes), at offset 96
 * trailer (4 bytes), at offset 96 + B:
 *   0   4    frame CRC32C of bytes 0..95+B (header and body)
 * A frame is RAFT_WIRE_OVERHEAD + B bytes.
 *
 * body by type:
 *   PREVOTE, PREVOTE_RESP, VOTE, VOTE_RESP, APPEND_RESP, TIMEOUT_NOW:
 *     empty (B = 0).
 *   APPEND (a heartbeat is an APPEND with no entries; B = 8 + sum(24 + len)):
 *     0   4    number of entries N (<= RAFT_WIRE_MAX_ENTRIES)
 *     4   4    zero
 *     8        N entries back to back, each:
 *       0   8    term (nonzero)
 *       8   8    index (= log_index + 1 + i: the entries follow log_index)
 *       16  1    type (enum raft_entry_type: 1 normal, 2 config, 3 noop)
 *       17  3    zero
 *       20  4    payload length (<= RAFT_MAX_PAYLOAD)
 *       24  len  payload
 *   SNAPSHOT (InstallSnapshot; B = 104 + data length):
 *     0   8    last included index (nonzero)
 *     8   8    its term (nonzero)
 *     16  8    data length (= B - 104)
 *     24  4    number of voters (<= RAFT_MAX_VOTERS)
 *     28  4    zero
 *     32  72   voter ids, RAFT_MAX_VOTERS slots of 8 bytes: the first
 *              "number" nonzero and distinct, the rest zero
 *     104 len  data (the snapshot blob)
 *
 * A message whose type carries no entries must have none, and only a
 * SNAPSHOT may carry a snapshot: the encoder refuses anything else with
 * -EINVAL rather than silently dropping fields.
 */

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define RAFT_WIRE_MAGIC "SRW1"
#define RAFT_WIRE_VERSION 1
#define RAFT_WIRE_HEADER_SIZE 96
#define RAFT_WIRE_TRAILER_SIZE 4
#define RAFT_WIRE_OVERHEAD (RAFT_WIRE_HEADER_SIZE + RAFT_WIRE_TRAILER_SIZE)
#define RAFT_WIRE_APPEND_HEADER_SIZE 8
#define RAFT_WIRE_ENTRY_HEADER_SIZE 24
#define RAFT_WIRE_SNAPSHOT_HEADER_SIZE 104
/* Bounds a peer can make us allocate: 1 GiB of body, 64 Ki entries. */
#define RAFT_WIRE_MAX_BODY (1u << 30)
#define RAFT_WIRE_MAX_ENTRIES 65536u

#define RAFT_WIRE_FLAG_REJECT 0x01u
#define RAFT_WIRE_FLAG_FORCE 0x02u

/* The layouts as C structs, for offsetof/sizeof checks only: the bytes are
 * written and read field by field in little-endian, never by casting. */
struct raft_wire_header_layout {
	uint8_t magic[4];
	uint8_t version;
	uint8_t type;
	uint8_t flags;
	uint8_t zero;
	uint32_t body_len;
	uint32_t zero2;
	uint64_t from;
	uint64_t to;
	uint64_t term;
	uint64_t log_index;
	uint64_t log_term;
	uint64_t commit;
	uint64_t read_seq;
	uint64_t hint_index;
	uint64_t hint_term;
	uint32_t header_crc;
	uint32_t zero3;
};
struct raft_wire_append_layout {
	uint32_t nentries;
	uint32_t zero;
};
struct raft_wire_entry_layout {
	uint64_t term;
	uint64_t index;
	uint8_t type;
	uint8_t zero[3];
	uint32_t len;
};
struct raft_wire_snapshot_layout {
	uint64_t index;
	uint64_t term;
	uint64_t len;
	uint32_t nvoters;
	uint32_t zero;
	uint64_t voters[RAFT_MAX_VOTERS];
};
_Static_assert(sizeof(struct raft_wire_header_layout) == RAFT_WIRE_HEADER_SIZE, "header size");
_Static_assert(offsetof(struct raft_wire_header_layout, body_len) == 8, "body_len offset");
_Static_assert(offsetof(struct raft_wire_header_layout, from) == 16, "from offset");
_Static_assert(offsetof(struct raft_wire_header_layout, to) == 24, "to offset");
_Static_assert(offsetof(struct raft_wire_header_layout, term) == 32, "term offset");
_Static_assert(offsetof(struct raft_wire_header_layout, hint_term) == 80, "hint_term offset");
_Static_assert(offsetof(struct raft_wire_header_layout, header_crc) == 88, "crc offset");
_Static_assert(sizeof(struct raft_wire_append_layout) == RAFT_WIRE_APPEND_HEADER_SIZE,
	       "append header size");
_Static_assert(sizeof(struct raft_wire_entry_layout) == RAFT_WIRE_ENTRY_HEADER_SIZE,
	       "entry header size");
_Static_assert(offsetof(struct raft_wire_entry_layout, type) == 16, "entry type offset");
_Static_assert(offsetof(struct raft_wire_entry_layout, len) == 20, "entry len offset");
_Static_assert(sizeof(struct raft_wire_snapshot_layout) == RAFT_WIRE_SNAPSHOT_HEADER_SIZE,
	       "snapshot header size");
_Static_assert(offsetof(struct raft_wire_snapshot_layout, nvoters) == 24, "nvoters offset");
_Static_assert(offsetof(struct raft_wire_snapshot_layout, voters) == 32, "voters offset");
_Static_assert(RAFT_WIRE_MAX_BODY <= UINT32_MAX, "body length fits its field");

/*
 * The frame length m encodes to, in *frame_len. -EINVAL for a message the
 * format cannot carry as it is (bad type, zero ids, entries that do not
 * follow log_index, entries or a snapshot on the wrong type, too many
 * voters), -EMSGSIZE past RAFT_WIRE_MAX_BODY or RAFT_WIRE_MAX_ENTRIES.
 */
int raft_wire_size(const struct raft_msg *m, size_t *frame_len);

/*
 * Encodes m into buf (cap bytes); *frame_len gets the bytes written.
 * Errors as raft_wire_size, plus -ENOSPC when cap is too small (nothing
 * useful is left in buf then).
 */
int raft_wire_encode(const struct raft_msg *m, uint8_t *buf, size_t cap, size_t *frame_len);

/*
 * Same, into a buffer it allocates: on success *out (frame_len bytes) is
 * owned by the caller, who frees it with free(). -ENOMEM as well.
 */
int raft_wire_encode_alloc(const struct raft_msg *m, uint8_t **out, size_t *frame_len);

/*
 * For stream readers: checks the fixed header at the start of buf (len
 * bytes available) and gives the whole frame's length and its ids (from,
 * to may be NULL). -EAGAIN while len < RAFT_WIRE_HEADER_SIZE; -EBADMSG for
 * a header that can never start a valid frame (the connection is to be
 * dropped; err says why). The body is not looked at.
 */
int raft_wire_peek(const uint8_t *buf, size_t len, size_t *frame_len, uint64_t *from,
		   uint64_t *to, char *err, size_t errlen);

/*
 * Decodes exactly one frame: len must be its full length. On success *m
 * holds the message and owns its entries and snapshot data (release with
 * raft_msg_release). On failure *m is zeroed and owns nothing: -EBADMSG
 * (err says which check failed; err may be NULL) or -ENOMEM.
 */
int raft_wire_decode(const uint8_t *buf, size_t len, struct raft_msg *m, char *err,
		     size_t errlen);

#endif
