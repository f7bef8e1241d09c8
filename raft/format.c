/*
 * The on-disk format of raft/storage.h (CRC32C from lib/crc32c.h): encoders and pure
 * decoders. No I/O here, so the decoders can be fuzzed on raw bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "lib/crc32c.h"
#include "raft/format.h"

/* Layouts as C structs, for offsetof/sizeof only: the bytes are written
 * and read field by field in little-endian, never by casting. */
struct raft_disk_meta {
	uint8_t magic[4];
	uint32_t version;
	uint64_t term;
	uint64_t vote;
	uint32_t crc;
	uint32_t zero;
};
struct raft_disk_segment_header {
	uint8_t magic[4];
	uint32_t version;
	uint64_t first_index;
	uint32_t crc;
	uint32_t zero;
};
struct raft_disk_record_header {
	uint32_t crc;
	uint32_t len;
	uint64_t term;
	uint64_t index;
	uint8_t type;
	uint8_t zero[7];
};
struct raft_disk_snapshot_header {
	uint8_t magic[4];
	uint32_t version;
	uint64_t index;
	uint64_t term;
	uint64_t len;
	uint32_t nvoters;
	uint32_t zero;
	uint64_t voters[RAFT_MAX_VOTERS];
	uint32_t crc;
	uint32_t zero2;
};
_Static_assert(sizeof(struct raft_disk_meta) == RAFT_STORAGE_META_SIZE, "meta size");
_Static_assert(offsetof(struct raft_disk_meta, crc) == 24, "meta crc offset");
_Static_assert(sizeof(struct raft_disk_segment_header) == RAFT_STORAGE_SEGMENT_HEADER_SIZE,
	       "segment header size");
_Static_assert(offsetof(struct raft_disk_segment_header, crc) == 16, "segment crc offset");
_Static_assert(sizeof(struct raft_disk_record_header) == RAFT_STORAGE_RECORD_HEADER_SIZE,
	       "record header size");
_Static_assert(offsetof(struct raft_disk_record_header, type) == 24, "record type offset");
_Static_assert(sizeof(struct raft_disk_snapshot_header) == RAFT_STORAGE_SNAPSHOT_HEADER_SIZE,
	       "snapshot header size");
_Static_assert(offsetof(struct raft_disk_snapshot_header, voters) == 40, "voters offset");
_Static_assert(offsetof(struct raft_disk_snapshot_header, crc) == 112, "snapshot crc offset");

#define META_MAGIC "SRM1"
#define SEGMENT_MAGIC "SRL1"
#define SNAPSHOT_MAGIC "SRS1"
#define FORMAT_VERSION 1

void raft_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void raft_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t raft_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t raft_get_le64(const uint8_t *p)
{
	return (uint64_t)raft_get_le32(p) | (uint64_t)raft_get_le32(p + 4) << 32;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

void raft_encode_meta(uint8_t buf[RAFT_STORAGE_META_SIZE], const struct raft_hard_state *hs)
{
	memset(buf, 0, RAFT_STORAGE_META_SIZE);
	memcpy(buf, META_MAGIC, 4);
	raft_put_le32(buf + 4, FORMAT_VERSION);
	raft_put_le64(buf + 8, hs->term);
	raft_put_le64(buf + 16, hs->vote);
	raft_put_le32(buf + 24, crc32c(0, buf, 24));
}

int raft_storage_decode_meta(const uint8_t *buf, size_t len, struct raft_hard_state *hs)
{
	if (len != RAFT_STORAGE_META_SIZE || memcmp(buf, META_MAGIC, 4) ||
	    raft_get_le32(buf + 4) != FORMAT_VERSION ||
	    raft_get_le32(buf + 24) != crc32c(0, buf, 24) || !all_zero(buf + 28, 4))
		return -EBADMSG;
	hs->term = raft_get_le64(buf + 8);
	hs->vote = raft_get_le64(buf + 16);
	return 0;
}

void raft_encode_segment_header(uint8_t buf[RAFT_STORAGE_SEGMENT_HEADER_SIZE],
				uint64_t first_index)
{
	memset(buf, 0, RAFT_STORAGE_SEGMENT_HEADER_SIZE);
	memcpy(buf, SEGMENT_MAGIC, 4);
	raft_put_le32(buf + 4, FORMAT_VERSION);
	raft_put_le64(buf + 8, first_index);
	raft_put_le32(buf + 16, crc32c(0, buf, 16));
}

int raft_storage_decode_segment_header(const uint8_t *buf, size_t len, uint64_t *first_index)
{
	if (len < RAFT_STORAGE_SEGMENT_HEADER_SIZE)
		return -EAGAIN;
	if (memcmp(buf, SEGMENT_MAGIC, 4) || raft_get_le32(buf + 4) != FORMAT_VERSION ||
	    raft_get_le32(buf + 16) != crc32c(0, buf, 16) || !all_zero(buf + 20, 4))
		return -EBADMSG;
	*first_index = raft_get_le64(buf + 8);
	if (*first_index == 0)
		return -EBADMSG;
	return 0;
}

void raft_encode_record_header(uint8_t buf[RAFT_STORAGE_RECORD_HEADER_SIZE],
			       const struct raft_entry *e)
{
	memset(buf, 0, RAFT_STORAGE_RECORD_HEADER_SIZE);
	raft_put_le32(buf + 4, (uint32_t)e->len);
	raft_put_le64(buf + 8, e->term);
	raft_put_le64(buf + 16, e->index);
	buf[24] = (uint8_t)e->type;
	uint32_t crc = crc32c(0, buf + 4, RAFT_STORAGE_RECORD_HEADER_SIZE - 4);
	crc = crc32c(crc, e->data, e->len);
	raft_put_le32(buf, crc);
}

int raft_storage_decode_record(const uint8_t *buf, size_t len, struct raft_entry *e,
			       size_t *record_len)
{
	if (len < RAFT_STORAGE_RECORD_HEADER_SIZE)
		return -EAGAIN;
	uint32_t payload = raft_get_le32(buf + 4);
	uint8_t type = buf[24];
	if (payload > RAFT_STORAGE_MAX_PAYLOAD || type < RAFT_ENTRY_NORMAL ||
	    type > RAFT_ENTRY_NOOP || !all_zero(buf + 25, 7))
		return -EBADMSG;
	if (len - RAFT_STORAGE_RECORD_HEADER_SIZE < payload)
		return -EAGAIN;
	uint32_t crc = crc32c(0, buf + 4, RAFT_STORAGE_RECORD_HEADER_SIZE - 4);
	crc = crc32c(crc, buf + RAFT_STORAGE_RECORD_HEADER_SIZE, payload);
	if (crc != raft_get_le32(buf))
		return -EBADMSG;
	e->len = payload;
	e->term = raft_get_le64(buf + 8);
	e->index = raft_get_le64(buf + 16);
	e->type = (enum raft_entry_type)type;
	e->data = payload ? (uint8_t *)buf + RAFT_STORAGE_RECORD_HEADER_SIZE : NULL;
	if (e->index == 0 || e->term == 0)
		return -EBADMSG;
	*record_len = RAFT_STORAGE_RECORD_HEADER_SIZE + payload;
	return 0;
}

int raft_storage_scan_segment(const uint8_t *buf, size_t len, size_t *valid_len,
			      size_t *nrecords, uint64_t *last_index)
{
	uint64_t first = 0;
	*valid_len = 0;
	*nrecords = 0;
	*last_index = 0;
	int rc = raft_storage_decode_segment_header(buf, len, &first);
	if (rc)
		return rc;
	size_t off = RAFT_STORAGE_SEGMENT_HEADER_SIZE;
	uint64_t expect = first;
	*last_index = first - 1;
	while (off < len) {
		struct raft_entry e;
		size_t rlen = 0;
		if (raft_storage_decode_record(buf + off, len - off, &e, &rlen) ||
		    e.index != expect) {
			*valid_len = off;
			return -EBADMSG;
		}
		off += rlen;
		*last_index = expect++;
		(*nrecords)++;
	}
	*valid_len = off;
	return 0;
}

void raft_encode_snapshot_header(uint8_t buf[RAFT_STORAGE_SNAPSHOT_HEADER_SIZE],
				 const struct raft_snapshot *snap)
{
	memset(buf, 0, RAFT_STORAGE_SNAPSHOT_HEADER_SIZE);
	memcpy(buf, SNAPSHOT_MAGIC, 4);
	raft_put_le32(buf + 4, FORMAT_VERSION);
	raft_put_le64(buf + 8, snap->index);
	raft_put_le64(buf + 16, snap->term);
	raft_put_le64(buf + 24, snap->len);
	raft_put_le32(buf + 32, snap->config.nvoters);
	for (uint32_t i = 0; i < snap->config.nvoters && i < RAFT_MAX_VOTERS; i++)
		raft_put_le64(buf + 40 + 8 * i, snap->config.voters[i]);
	uint32_t crc = crc32c(0, buf, 112);
	crc = crc32c(crc, snap->data, snap->len);
	raft_put_le32(buf + 112, crc);
}

int raft_storage_decode_snapshot(const uint8_t *buf, size_t len, struct raft_snapshot *snap)
{
	if (len < RAFT_STORAGE_SNAPSHOT_HEADER_SIZE || memcmp(buf, SNAPSHOT_MAGIC, 4) ||
	    raft_get_le32(buf + 4) != FORMAT_VERSION || !all_zero(buf + 36, 4) ||
	    !all_zero(buf + 116, 4))
		return -EBADMSG;
	uint64_t data_len = raft_get_le64(buf + 24);
	if (data_len != len - RAFT_STORAGE_SNAPSHOT_HEADER_SIZE)
		return -EBADMSG;
	uint32_t crc = crc32c(0, buf, 112);
	crc = crc32c(crc, buf + RAFT_STORAGE_SNAPSHOT_HEADER_SIZE, (size_t)data_len);
	if (crc != raft_get_le32(buf + 112))
		return -EBADMSG;
	memset(snap, 0, sizeof(*snap));
	snap->index = raft_get_le64(buf + 8);
	snap->term = raft_get_le64(buf + 16);
	uint32_t n = raft_get_le32(buf + 32);
	if (n > RAFT_MAX_VOTERS || snap->index == 0 || snap->term == 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < RAFT_MAX_VOTERS; i++) {
		uint64_t id = raft_get_le64(buf + 40 + 8 * i);
		if (i >= n ? id != 0 : id == 0 || raft_config_has(&snap->config, id))
			return -EBADMSG;
		if (i < n)
			snap->config.voters[snap->config.nvoters++] = id;
	}
	snap->len = (size_t)data_len;
	snap->data = data_len ? (uint8_t *)buf + RAFT_STORAGE_SNAPSHOT_HEADER_SIZE : NULL;
	return 0;
}
