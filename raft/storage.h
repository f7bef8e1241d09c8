#ifndef STRATA_RAFT_STORAGE_H
#define STRATA_RAFT_STORAGE_H

/*
 * Durable Raft state in one directory: the hard state (term, vote), the
 * log as append-only segment files, and the latest snapshot. Everything is
 * fsynced before a call returns 0, so returning is the acknowledgement the
 * core's ready/advance contract asks for. Not thread-safe; one owner.
 *
 * Errors are negative errno. -EBADMSG: the directory holds damage that is
 * not a torn tail (a bad record before the last segment's end, a corrupt
 * meta or snapshot file, a gap in the log); the node must not start on it.
 * After any write or fsync failure the handle refuses further writes with
 * the same error (a failed fsync leaves the page cache state unknown), and
 * the owner must close and reopen it.
 *
 * ---- On-disk format (all integers little-endian) ----
 *
 * Directory (0700):  meta   snapshot   log-<first index, %020llu>...
 * Files are 0600. "meta.tmp" and "snapshot.tmp" are leftovers of an
 * interrupted replace and are deleted on open.
 *
 * meta (32 bytes), replaced atomically (write meta.tmp, fsync, rename,
 * fsync dir):
 *   off size
 *   0   4    magic "SRM1"
 *   4   4    version (1)
 *   8   8    term
 *   16  8    vote (node id, 0 = none)
 *   24  4    CRC32C of bytes 0..23
 *   28  4    zero
 *
 * log segment: a 24-byte header, then records back to back. A segment is
 * created with its header and fsynced (file and directory) before any
 * record is written; a new one is started once a segment passes
 * segment_max bytes.
 *   0   4    magic "SRL1"
 *   4   4    version (1)
 *   8   8    index of the first record
 *   16  4    CRC32C of bytes 0..15
 *   20  4    zero
 *
 * record: a 32-byte header, then the payload (no padding).
 *   0   4    CRC32C of header bytes 4..31 followed by the payload
 *   4   4    payload length (<= RAFT_STORAGE_MAX_PAYLOAD)
 *   8   8    term
 *   16  8    index (the previous record's + 1)
 *   24  1    type (enum raft_entry_type: 1 normal, 2 config, 3 noop)
 *   25  7    zero
 *   32  len  payload
 *
 * On open, the last segment is scanned up to the first record that is
 * short, fails its checksum, has a bad type or length, or breaks the index
 * sequence; the file is truncated there (a torn write: never acknowledged,
 * never applied). The same damage in an earlier segment is -EBADMSG.
 *
 * snapshot, replaced atomically like meta: a 120-byte header, then data.
 *   0   4    magic "SRS1"
 *   4   4    version (1)
 *   8   8    last included index
 *   16  8    its term
 *   24  8    data length
 *   32  4    number of voters (<= RAFT_MAX_VOTERS)
 *   36  4    zero
 *   40  72   voter ids, RAFT_MAX_VOTERS slots of 8 bytes, unused ones zero
 *   112 4    CRC32C of bytes 0..111 followed by the data
 *   116 4    zero
 *   120 len  data
 */

#include <stdint.h>
#include <stddef.h>

#include "raft/raft.h"

#define RAFT_STORAGE_MAX_PAYLOAD RAFT_MAX_PAYLOAD
#define RAFT_STORAGE_META_SIZE 32
#define RAFT_STORAGE_SEGMENT_HEADER_SIZE 24
#define RAFT_STORAGE_RECORD_HEADER_SIZE 32
#define RAFT_STORAGE_SNAPSHOT_HEADER_SIZE 120

struct raft_storage;

/* What raft_storage_open found; owned by the caller, freed with
 * raft_storage_boot_free. entries start at snapshot.index + 1. */
struct raft_storage_boot {
	struct raft_hard_state hs;
	struct raft_snapshot snapshot; /* index 0: none */
	struct raft_entry *entries;
	size_t nentries;
	uint64_t truncated_bytes; /* torn tail dropped on open */
};

struct raft_storage_options {
	size_t segment_max; /* bytes; 0 means 8 MiB */
};

/*
 * Opens (creating it 0700 if missing; the parent must exist) the storage
 * in dir, repairs a torn tail, and loads everything into *boot. On success
 * *out is owned by the caller (raft_storage_close) and so is *boot. The
 * err buffer (may be NULL) says which file was bad.
 */
int raft_storage_open(const char *dir, const struct raft_storage_options *opts,
		      struct raft_storage **out, struct raft_storage_boot *boot,
		      char *err, size_t errlen);
void raft_storage_close(struct raft_storage *st);
void raft_storage_boot_free(struct raft_storage_boot *boot);

/* Fills a struct raft_boot that borrows from sb (valid while sb lives). */
void raft_storage_boot_to_raft(const struct raft_storage_boot *sb, struct raft_boot *boot);

int raft_storage_set_hard_state(struct raft_storage *st, const struct raft_hard_state *hs);

/*
 * Appends entries (contiguous). If the first index is at or below the last
 * stored one, the stored suffix from there is dropped first (a conflict).
 * The first index must otherwise be last + 1 (-EINVAL).
 */
int raft_storage_append(struct raft_storage *st, const struct raft_entry *ents, size_t n);
/* Drops stored entries with index >= from. */
int raft_storage_truncate_suffix(struct raft_storage *st, uint64_t from);
/* Deletes whole segments whose entries are all <= upto. */
int raft_storage_compact(struct raft_storage *st, uint64_t upto);

/*
 * Stores snap atomically. discard_log: the snapshot came from the leader
 * and replaces the whole log (every segment is deleted); otherwise the
 * log is compacted up to snap->index.
 */
int raft_storage_save_snapshot(struct raft_storage *st, const struct raft_snapshot *snap,
			       bool discard_log);

/* Step 1 of the ready loop: snapshot, entries, hard state, all fsynced. */
int raft_storage_persist_ready(struct raft_storage *st, const struct raft_ready *rd);

uint64_t raft_storage_last_index(const struct raft_storage *st);

/*
 * Pure decoders, used by open and exposed for tools and fuzzing. Decoded
 * pointers (entry data, snapshot data) point into buf. Each returns 0 or
 * -EBADMSG (bad magic, version, checksum or field), -EAGAIN for a record
 * cut short (more bytes would be needed).
 */
int raft_storage_decode_meta(const uint8_t *buf, size_t len, struct raft_hard_state *hs);
int raft_storage_decode_segment_header(const uint8_t *buf, size_t len, uint64_t *first_index);
int raft_storage_decode_record(const uint8_t *buf, size_t len, struct raft_entry *e,
			       size_t *record_len);
int raft_storage_decode_snapshot(const uint8_t *buf, size_t len, struct raft_snapshot *snap);
/*
 * Scans a whole segment image: *valid_len gets the length of the longest
 * valid prefix (header plus records with consecutive indexes), *nrecords
 * and *last_index describe it. Returns 0 if all of buf is valid, -EBADMSG
 * if something invalid follows the prefix, or the header's error.
 */
int raft_storage_scan_segment(const uint8_t *buf, size_t len, size_t *valid_len,
			      size_t *nrecords, uint64_t *last_index);

#endif
