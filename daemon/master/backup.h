#ifndef STRATA_MASTER_BACKUP_H
#define STRATA_MASTER_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct meta;

/*
 * Backups of the master's metadata (`strata admin backup` / `restore`,
 * docs/operations.md "Backup and restore").
 *
 * A backup file is a 96-byte header and a payload: the namespace database
 * image (ns_serialize) as of a committed, applied Raft index, taken on the
 * leader under the namespace lock. Nothing soft is in it: the block map and
 * the worker registry live in memory only, and workers re-report them.
 *
 * ---- File format (integers little-endian) ----
 *   off size
 *   0   8    magic "STRATABK"
 *   8   4    format version (BACKUP_VERSION = 1)
 *   12  4    header size (96)
 *   16  8    applied index of the image (>= 1)
 *   24  8    Raft term of the leader when it was taken
 *   32  8    id of the master that took it
 *   40  8    creation time, Unix ms
 *   48  8    payload length P (1..BACKUP_MAX_PAYLOAD)
 *   56  32   SHA-256 of the payload
 *   88  4    CRC32C (lib/crc32c.h) of bytes 0..87
 *   92  4    zero
 *   96  P    payload: an SQLite database image
 * The file is exactly 96 + P bytes: anything shorter is truncated, anything
 * longer is refused too.
 */
#define BACKUP_MAGIC "STRATABK"
#define BACKUP_VERSION 1u
#define BACKUP_HEADER_SIZE 96u
#define BACKUP_MAX_PAYLOAD (16ull << 30)

/*
 * A restore moves the Raft index and the id counter up by this much: the
 * group the backup came from may have gone on after it, and workers that
 * ran with it still cache blocks named by content ids (placement.h) and
 * file metadata tagged with its applied index (the worker's epoch). Ids
 * and indexes the restored group hands out must not meet those again:
 * 2^32 leaves room for 255 restores in the 40 bits a content id has.
 */
#define BACKUP_RESTORE_GAP (UINT64_C(1) << 32)

struct backup_header {
	uint32_t version;
	uint64_t applied_index;
	uint64_t term;
	uint64_t master_id;
	int64_t created_ms;
	uint64_t payload_len;
	uint8_t sha256[32];
};

/* Writes the header for payload (computing its SHA-256) into
 * out[BACKUP_HEADER_SIZE]. Pure. */
void backup_encode_header(const struct backup_header *h, const uint8_t *payload,
			  uint8_t out[BACKUP_HEADER_SIZE]);

/*
 * Pure decoders for outside input (fuzzed: tests/fuzz/fuzz_backup.c).
 * backup_decode_header reads the first BACKUP_HEADER_SIZE bytes of buf:
 * -EBADMSG for a short header, bad magic, wrong version (the message names
 * the version), bad header size, CRC mismatch, nonzero reserved bytes, a
 * zero applied index or a payload length out of range.
 * backup_decode checks a whole file image: the header, then the length
 * (-EBADMSG "truncated" / "trailing bytes"), then the payload's SHA-256
 * ("checksum mismatch"); on success *payload points into buf. err names
 * the offending field.
 */
int backup_decode_header(const uint8_t *buf, size_t len, struct backup_header *h, char *err,
			 size_t errlen);
int backup_decode(const uint8_t *buf, size_t len, struct backup_header *h,
		  const uint8_t **payload, char *err, size_t errlen);

/*
 * The payload reader: opens the image as an in-memory database (never a
 * file), checks it (SQLite magic, PRAGMA quick_check, a strata namespace:
 * meta.applied_index equal to the header's, the root directory) and drops
 * the old group's address book (the masters table). Returns 0 with the
 * image to lay down in *out (free with sqlite3_free) or -EBADMSG with the
 * reason in err. The applied index and the id counter (next_inode: inode
 * and content ids) both move up by gap (see BACKUP_RESTORE_GAP). Fuzzed
 * with backup_decode.
 */
int backup_payload_prepare(const struct backup_header *h, const uint8_t *payload,
			   uint64_t gap, uint8_t **out, size_t *outlen, char *err, size_t errlen);

/*
 * Takes a backup on the leader: a consistent database image as of this
 * master's applied index (under the namespace lock, so applies wait for
 * the copy). Returns 0 with the file's header in header and its payload
 * in *payload (the caller frees) and *len, ST_ENOTLEADER (err names the
 * leader) on a follower, or -EIO/-ENOMEM. now_ms is the creation time.
 */
int backup_take(struct meta *m, int64_t now_ms, uint8_t header[BACKUP_HEADER_SIZE],
		uint8_t **payload, size_t *len, char *err, size_t errlen);

struct backup_restore_opts {
	const char *state_dir;   /* the master's master.state_dir (created if missing) */
	const uint64_t *voters;  /* the new group's Raft voters (1..9 ids) */
	size_t nvoters;
	bool force;              /* replace existing state */
};

/*
 * Lays down a backup (a whole file image) in a stopped master's state dir:
 * namespace.db and a Raft snapshot at the backup's index (plus
 * BACKUP_RESTORE_GAP, as are the ids) whose
 * configuration is opts->voters (a new group; the old address book is
 * dropped), with the hard state at the backup's term. A master started
 * there elects itself (or waits for the listed voters) and serves the
 * namespace. Refuses: a bad file (-EBADMSG, as backup_decode), a payload
 * that is not a strata namespace or disagrees with the header (-EBADMSG),
 * a running master on the dir (-EBUSY: it holds the lock), existing state
 * without force (-EEXIST). err names the cause.
 */
int backup_restore(const uint8_t *file, size_t len, const struct backup_restore_opts *opts,
		   char *err, size_t errlen);

#endif
