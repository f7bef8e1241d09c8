#ifndef STRATA_RAFT_FORMAT_H
#define STRATA_RAFT_FORMAT_H

/* Private to raft/: encoders for the format documented in raft/storage.h
 * (the decoders are public there). */

#include "raft/storage.h"

void raft_put_le32(uint8_t *p, uint32_t v);
void raft_put_le64(uint8_t *p, uint64_t v);
uint32_t raft_get_le32(const uint8_t *p);
uint64_t raft_get_le64(const uint8_t *p);

void raft_encode_meta(uint8_t buf[RAFT_STORAGE_META_SIZE], const struct raft_hard_state *hs);
void raft_encode_segment_header(uint8_t buf[RAFT_STORAGE_SEGMENT_HEADER_SIZE],
				uint64_t first_index);
/* The CRC covers the payload too, so e->data must be the final bytes. */
void raft_encode_record_header(uint8_t buf[RAFT_STORAGE_RECORD_HEADER_SIZE],
			       const struct raft_entry *e);
void raft_encode_snapshot_header(uint8_t buf[RAFT_STORAGE_SNAPSHOT_HEADER_SIZE],
				 const struct raft_snapshot *snap);

#endif
