/* The backup file's header and payload checks (backup.h, "File format"):
 * pure (in memory) encoders and decoders, fuzzed by tests/fuzz/fuzz_backup.c. */
#include "daemon/master/backup.h"

#include "lib/crc32c.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(BACKUP_MAGIC) - 1 == 8, "the magic is 8 bytes");
_Static_assert(SHA256_DIGEST_LENGTH == 32, "SHA-256 is 32 bytes");

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void backup_encode_header(const struct backup_header *h, const uint8_t *payload,
			  uint8_t out[BACKUP_HEADER_SIZE])
{
	memset(out, 0, BACKUP_HEADER_SIZE);
	memcpy(out, BACKUP_MAGIC, 8);
	put32(out + 8, BACKUP_VERSION);
	put32(out + 12, BACKUP_HEADER_SIZE);
	put64(out + 16, h->applied_index);
	put64(out + 24, h->term);
	put64(out + 32, h->master_id);
	put64(out + 40, (uint64_t)h->created_ms);
	put64(out + 48, h->payload_len);
	SHA256(payload, (size_t)h->payload_len, out + 56);
	put32(out + 88, crc32c(0, out, 88));
}

int backup_decode_header(const uint8_t *buf, size_t len, struct backup_header *h, char *err,
			 size_t errlen)
{
	if (len < BACKUP_HEADER_SIZE) {
		snprintf(err, errlen, "not a strata backup: %zu bytes, shorter than the %u-byte "
			 "header (truncated?)", len, BACKUP_HEADER_SIZE);
		return -EBADMSG;
	}
	if (memcmp(buf, BACKUP_MAGIC, 8) != 0) {
		snprintf(err, errlen, "not a strata backup: bad magic (expected \"%s\")",
			 BACKUP_MAGIC);
		return -EBADMSG;
	}
	uint32_t version = get32(buf + 8);
	if (version != BACKUP_VERSION) {
		snprintf(err, errlen, "backup format version %" PRIu32 " is not supported (this "
			 "strata reads version %u)", version, BACKUP_VERSION);
		return -EBADMSG;
	}
	if (get32(buf + 12) != BACKUP_HEADER_SIZE) {
		snprintf(err, errlen, "backup header: header size %" PRIu32 " (expected %u)",
			 get32(buf + 12), BACKUP_HEADER_SIZE);
		return -EBADMSG;
	}
	if (get32(buf + 88) != crc32c(0, buf, 88)) {
		snprintf(err, errlen, "backup header: checksum mismatch (header CRC32C): the "
			 "file is damaged");
		return -EBADMSG;
	}
	if (get32(buf + 92) != 0) {
		snprintf(err, errlen, "backup header: reserved bytes 92..95 are not zero");
		return -EBADMSG;
	}
	h->version = version;
	h->applied_index = get64(buf + 16);
	h->term = get64(buf + 24);
	h->master_id = get64(buf + 32);
	h->created_ms = (int64_t)get64(buf + 40);
	h->payload_len = get64(buf + 48);
	memcpy(h->sha256, buf + 56, 32);
	if (h->applied_index == 0) {
		snprintf(err, errlen, "backup header: applied_index is 0");
		return -EBADMSG;
	}
	if (h->payload_len == 0 || h->payload_len > BACKUP_MAX_PAYLOAD) {
		snprintf(err, errlen, "backup header: payload_len %" PRIu64 " out of range "
			 "(1..%llu)", h->payload_len, (unsigned long long)BACKUP_MAX_PAYLOAD);
		return -EBADMSG;
	}
	return 0;
}

int backup_decode(const uint8_t *buf, size_t len, struct backup_header *h,
		  const uint8_t **payload, char *err, size_t errlen)
{
	int rc = backup_decode_header(buf, len, h, err, errlen);
	if (rc)
		return rc;
	uint64_t have = len - BACKUP_HEADER_SIZE;
	if (have < h->payload_len) {
		snprintf(err, errlen, "backup truncated: the header promises %" PRIu64 " payload "
			 "bytes, the file holds %" PRIu64, h->payload_len, have);
		return -EBADMSG;
	}
	if (have > h->payload_len) {
		snprintf(err, errlen, "backup has %" PRIu64 " trailing bytes after its %" PRIu64
			 "-byte payload", have - h->payload_len, h->payload_len);
		return -EBADMSG;
	}
	uint8_t md[32];
	SHA256(buf + BACKUP_HEADER_SIZE, (size_t)h->payload_len, md);
	if (memcmp(md, h->sha256, 32) != 0) {
		snprintf(err, errlen, "backup payload: checksum mismatch (SHA-256): the file is "
			 "damaged");
		return -EBADMSG;
	}
	*payload = buf + BACKUP_HEADER_SIZE;
	return 0;
}

int backup_payload_prepare(const struct backup_header *h, const uint8_t *payload,
			   uint64_t gap, uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	static const char magic[16] = "SQLite format 3";
	if (h->payload_len < 100 || memcmp(payload, magic, sizeof(magic)) != 0) {
		snprintf(err, errlen, "backup payload: not an SQLite database");
		return -EBADMSG;
	}
	sqlite3 *db = NULL;
	int rc = -EBADMSG;
	unsigned char *copy = sqlite3_malloc64(h->payload_len);
	if (!copy || sqlite3_open(":memory:", &db) != SQLITE_OK) {
		sqlite3_free(copy);
		rc = -ENOMEM;
		goto err_close;
	}
	memcpy(copy, payload, (size_t)h->payload_len);
	/* A WAL-mode image cannot be deserialized: its file format bytes
	 * (18, 19) say 2; the content is complete, so mark it rollback. */
	if (copy[18] == 2 && copy[19] == 2)
		copy[18] = copy[19] = 1;
	if (sqlite3_deserialize(db, "main", copy, (sqlite3_int64)h->payload_len,
				(sqlite3_int64)h->payload_len,
				SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "backup payload: cannot open the database: %s",
			 sqlite3_errmsg(db));
		goto err_close;
	}
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0) {
		snprintf(err, errlen, "backup payload: the database is damaged: %s",
			 s && sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0)
							: sqlite3_errmsg(db));
		for (char *nl = strchr(err, '\n'); nl; nl = strchr(nl, '\n'))
			*nl = ' ';
		sqlite3_finalize(s);
		goto err_close;
	}
	sqlite3_finalize(s);
	s = NULL;
	int64_t applied = -1, inodes = -1;
	if (sqlite3_prepare_v2(db, "SELECT (SELECT value FROM meta WHERE key = 'applied_index'),"
				   " (SELECT count(*) FROM inodes WHERE id = 1 AND is_dir = 1),"
				   " (SELECT count(*) FROM mounts)", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_INTEGER) {
		applied = sqlite3_column_int64(s, 0);
		inodes = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	if (applied < 0 || inodes != 1) {
		snprintf(err, errlen, "backup payload: not a strata namespace (no applied_index, "
			 "root directory or mounts table)");
		goto err_close;
	}
	if ((uint64_t)applied != h->applied_index) {
		snprintf(err, errlen, "backup payload: the database is at entry %" PRId64 " but the "
			 "header says applied_index %" PRIu64, applied, h->applied_index);
		goto err_close;
	}
	if (h->applied_index > INT64_MAX - gap) {
		snprintf(err, errlen, "backup payload: applied_index %" PRIu64 " leaves no room for "
			 "the restore's gap of %" PRIu64, h->applied_index, gap);
		goto err_close;
	}
	char sql[256];
	snprintf(sql, sizeof(sql), "DELETE FROM masters; UPDATE meta SET value = value + %" PRIu64
		 " WHERE key IN ('applied_index', 'next_inode')", gap);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "backup payload: cannot reset the address book and ids: %s",
			 sqlite3_errmsg(db));
		goto err_close;
	}
	sqlite3_int64 n = 0;
	*out = sqlite3_serialize(db, "main", &n, 0);
	if (!*out) {
		rc = -ENOMEM;
		goto err_close;
	}
	*outlen = (size_t)n;
	rc = 0;
err_close:
	sqlite3_close(db);
	return rc;
}
