#ifndef STRATA_MASTER_JOURNAL_H
#define STRATA_MASTER_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The master's local journal: an append-only file of serialized metadata
 * commands, each fsynced before it is acknowledged. It stands in for the
 * Raft log until HA lands; meta.c is the only caller, so swapping it for
 * the Raft log touches no REST handler.
 *
 * File `journal.log`, a sequence of records, little-endian:
 *
 *   offset size field
 *   0      4    magic     0x4c4a5453 ("STJL")
 *   4      4    length    payload bytes (<= JOURNAL_MAX_RECORD)
 *   8      8    index     1, 2, 3, ... strictly consecutive
 *   16     8    checksum  first 8 bytes of SHA-256(index || payload)
 *   24     len  payload
 *
 * On open the file is scanned; a torn or corrupt record and everything
 * after it is truncated away (it was never acknowledged: an append returns
 * only after fdatasync). Compaction rewrites the file without the records
 * at or below an index (the state they produced is durable elsewhere).
 */
struct journal_header {
	uint32_t magic;
	uint32_t length;
	uint64_t index;
	uint8_t checksum[8];
};
_Static_assert(sizeof(struct journal_header) == 24, "journal header is 24 bytes");

#define JOURNAL_MAGIC 0x4c4a5453u
#define JOURNAL_MAX_RECORD (64u << 20)

struct journal;

/* Opens (creating, mode 0600) dir/journal.log; truncates a bad tail and
 * logs what it dropped. */
int journal_open(const char *dir, struct journal **out, char *err, size_t errlen);
void journal_close(struct journal *j);

/* Index of the last record (0 when empty and never compacted). */
uint64_t journal_last_index(const struct journal *j);

/* Calls fn for every record with index > after, in order; stops at the
 * first non-zero return and returns it. */
int journal_replay(struct journal *j, uint64_t after,
		   int (*fn)(void *arg, uint64_t index, const void *data, size_t len), void *arg,
		   char *err, size_t errlen);

/* Appends one record and fdatasyncs; *index gets its index. */
int journal_append(struct journal *j, const void *data, size_t len, uint64_t *index, char *err,
		   size_t errlen);

/* Drops records with index <= upto (atomically: temp file + rename). */
int journal_compact(struct journal *j, uint64_t upto, char *err, size_t errlen);

/* Decodes one record at buf (for the fuzzer and the scanner): returns the
 * record's total size, 0 if buf holds a torn/corrupt/incomplete record. */
size_t journal_decode(const uint8_t *buf, size_t len, uint64_t expect_index,
		      const uint8_t **payload, uint32_t *payload_len);

#endif
