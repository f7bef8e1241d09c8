/*
 * The wire codec of raft/wire.h. Integers go through raft/format.h's
 * little-endian helpers and checksums through its CRC32C, so the disk and
 * the wire share one implementation of each.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crc32c.h"
#include "lib/err.h"
#include "raft/format.h"
#include "raft/wire.h"

#define OFF_BODY_LEN 8
#define OFF_FROM 16
#define OFF_HEADER_CRC 88


static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static bool snapshot_is_empty(const struct raft_snapshot *s)
{
	return s->index == 0 && s->term == 0 && s->len == 0 && s->data == NULL &&
	       s->config.nvoters == 0;
}

static bool config_valid(const struct raft_config *cfg)
{
	if (cfg->nvoters > RAFT_MAX_VOTERS)
		return false;
	for (uint32_t i = 0; i < cfg->nvoters; i++) {
		if (cfg->voters[i] == 0)
			return false;
		for (uint32_t j = 0; j < i; j++)
			if (cfg->voters[j] == cfg->voters[i])
				return false;
	}
	return true;
}

/* The body length of m, or a negative errno; see raft_wire_size. */
static int body_size(const struct raft_msg *m, size_t *body)
{
	if (m->type < RAFT_MSG_PREVOTE || m->type > RAFT_MSG_TIMEOUT_NOW || m->from == 0 ||
	    m->to == 0)
		return -EINVAL;
	if (m->type != RAFT_MSG_APPEND && (m->nentries || m->entries))
		return -EINVAL;
	if (m->type != RAFT_MSG_SNAPSHOT && !snapshot_is_empty(&m->snapshot))
		return -EINVAL;
	if (m->type == RAFT_MSG_APPEND) {
		if (m->nentries > RAFT_WIRE_MAX_ENTRIES)
			return -EMSGSIZE;
		size_t total = RAFT_WIRE_APPEND_HEADER_SIZE;
		for (size_t i = 0; i < m->nentries; i++) {
			const struct raft_entry *e = &m->entries[i];
			if (e->term == 0 || e->index != m->log_index + 1 + i ||
			    e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_NOOP ||
			    (e->len && !e->data))
				return -EINVAL;
			if (e->len > RAFT_MAX_PAYLOAD)
				return -EMSGSIZE;
			total += RAFT_WIRE_ENTRY_HEADER_SIZE + e->len;
			if (total > RAFT_WIRE_MAX_BODY)
				return -EMSGSIZE;
		}
		*body = total;
		return 0;
	}
	if (m->type == RAFT_MSG_SNAPSHOT) {
		const struct raft_snapshot *s = &m->snapshot;
		if (s->index == 0 || s->term == 0 || !config_valid(&s->config) ||
		    (s->len && !s->data))
			return -EINVAL;
		if (s->len > RAFT_WIRE_MAX_BODY - RAFT_WIRE_SNAPSHOT_HEADER_SIZE)
			return -EMSGSIZE;
		*body = RAFT_WIRE_SNAPSHOT_HEADER_SIZE + s->len;
		return 0;
	}
	*body = 0;
	return 0;
}

int raft_wire_size(const struct raft_msg *m, size_t *frame_len)
{
	size_t body = 0;
	int rc = body_size(m, &body);
	if (rc)
		return rc;
	*frame_len = RAFT_WIRE_OVERHEAD + body;
	return 0;
}

static void encode_header(uint8_t *p, const struct raft_msg *m, size_t body)
{
	memset(p, 0, RAFT_WIRE_HEADER_SIZE);
	memcpy(p, RAFT_WIRE_MAGIC, 4);
	p[4] = RAFT_WIRE_VERSION;
	p[5] = (uint8_t)m->type;
	p[6] = (uint8_t)((m->reject ? RAFT_WIRE_FLAG_REJECT : 0) |
			 (m->force ? RAFT_WIRE_FLAG_FORCE : 0));
	raft_put_le32(p + OFF_BODY_LEN, (uint32_t)body);
	const uint64_t fields[] = { m->from,   m->to,	     m->term,	    m->log_index,
				    m->log_term, m->commit, m->read_seq, m->hint_index,
				    m->hint_term };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		raft_put_le64(p + OFF_FROM + 8 * i, fields[i]);
	raft_put_le32(p + OFF_HEADER_CRC, crc32c(0, p, OFF_HEADER_CRC));
}

static size_t encode_entries(uint8_t *p, const struct raft_msg *m)
{
	size_t off = 0;
	raft_put_le32(p, (uint32_t)m->nentries);
	raft_put_le32(p + 4, 0);
	off += RAFT_WIRE_APPEND_HEADER_SIZE;
	for (size_t i = 0; i < m->nentries; i++) {
		const struct raft_entry *e = &m->entries[i];
		uint8_t *h = p + off;
		memset(h, 0, RAFT_WIRE_ENTRY_HEADER_SIZE);
		raft_put_le64(h, e->term);
		raft_put_le64(h + 8, e->index);
		h[16] = (uint8_t)e->type;
		raft_put_le32(h + 20, (uint32_t)e->len);
		off += RAFT_WIRE_ENTRY_HEADER_SIZE;
		if (e->len)
			memcpy(p + off, e->data, e->len);
		off += e->len;
	}
	return off;
}

static size_t encode_snapshot(uint8_t *p, const struct raft_snapshot *s)
{
	memset(p, 0, RAFT_WIRE_SNAPSHOT_HEADER_SIZE);
	raft_put_le64(p, s->index);
	raft_put_le64(p + 8, s->term);
	raft_put_le64(p + 16, s->len);
	raft_put_le32(p + 24, s->config.nvoters);
	for (uint32_t i = 0; i < s->config.nvoters; i++)
		raft_put_le64(p + 32 + 8 * i, s->config.voters[i]);
	if (s->len)
		memcpy(p + RAFT_WIRE_SNAPSHOT_HEADER_SIZE, s->data, s->len);
	return RAFT_WIRE_SNAPSHOT_HEADER_SIZE + s->len;
}

int raft_wire_encode(const struct raft_msg *m, uint8_t *buf, size_t cap, size_t *frame_len)
{
	size_t body = 0;
	int rc = body_size(m, &body);
	if (rc)
		return rc;
	size_t total = RAFT_WIRE_OVERHEAD + body;
	if (cap < total)
		return -ENOSPC;
	encode_header(buf, m, body);
	uint8_t *p = buf + RAFT_WIRE_HEADER_SIZE;
	size_t written = 0;
	if (m->type == RAFT_MSG_APPEND)
		written = encode_entries(p, m);
	else if (m->type == RAFT_MSG_SNAPSHOT)
		written = encode_snapshot(p, &m->snapshot);
	if (written != body) /* defensive: body_size and the encoders disagree */
		return -EINVAL;
	size_t crc_off = RAFT_WIRE_HEADER_SIZE + body;
	raft_put_le32(buf + crc_off, crc32c(0, buf, crc_off));
	*frame_len = total;
	return 0;
}

int raft_wire_encode_alloc(const struct raft_msg *m, uint8_t **out, size_t *frame_len)
{
	size_t total = 0;
	int rc = raft_wire_size(m, &total);
	if (rc)
		return rc;
	uint8_t *buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	rc = raft_wire_encode(m, buf, total, frame_len);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

/* The body length each type allows given what the header says. */
static bool body_len_fits_type(uint8_t type, uint32_t body)
{
	switch (type) {
	case RAFT_MSG_APPEND:
		return body >= RAFT_WIRE_APPEND_HEADER_SIZE;
	case RAFT_MSG_SNAPSHOT:
		return body >= RAFT_WIRE_SNAPSHOT_HEADER_SIZE;
	default:
		return body == 0;
	}
}

int raft_wire_peek(const uint8_t *buf, size_t len, size_t *frame_len, uint64_t *from,
		   uint64_t *to, char *err, size_t errlen)
{
	if (len < RAFT_WIRE_HEADER_SIZE)
		return -EAGAIN;
	if (memcmp(buf, RAFT_WIRE_MAGIC, 4)) {
		st_set_err(err, errlen, "bad magic");
		return -EBADMSG;
	}
	if (raft_get_le32(buf + OFF_HEADER_CRC) != crc32c(0, buf, OFF_HEADER_CRC)) {
		st_set_err(err, errlen, "header checksum mismatch");
		return -EBADMSG;
	}
	if (buf[4] != RAFT_WIRE_VERSION) {
		st_set_err(err, errlen, "unsupported version %u", buf[4]);
		return -EBADMSG;
	}
	uint8_t type = buf[5];
	if (type < RAFT_MSG_PREVOTE || type > RAFT_MSG_TIMEOUT_NOW) {
		st_set_err(err, errlen, "unknown message type %u", type);
		return -EBADMSG;
	}
	if (buf[6] & ~(RAFT_WIRE_FLAG_REJECT | RAFT_WIRE_FLAG_FORCE) || buf[7] ||
	    !all_zero(buf + 12, 4) || !all_zero(buf + 92, 4)) {
		st_set_err(err, errlen, "nonzero reserved bits");
		return -EBADMSG;
	}
	uint32_t body = raft_get_le32(buf + OFF_BODY_LEN);
	if (body > RAFT_WIRE_MAX_BODY || !body_len_fits_type(type, body)) {
		st_set_err(err, errlen, "body length %u invalid for type %u", body, type);
		return -EBADMSG;
	}
	uint64_t sender = raft_get_le64(buf + OFF_FROM);
	uint64_t recipient = raft_get_le64(buf + OFF_FROM + 8);
	if (sender == 0 || recipient == 0) {
		st_set_err(err, errlen, "zero node id");
		return -EBADMSG;
	}
	*frame_len = RAFT_WIRE_OVERHEAD + (size_t)body;
	if (from)
		*from = sender;
	if (to)
		*to = recipient;
	return 0;
}

static int decode_entries(const uint8_t *p, size_t body, struct raft_msg *m, char *err,
			  size_t errlen)
{
	uint32_t n = raft_get_le32(p);
	if (n > RAFT_WIRE_MAX_ENTRIES || !all_zero(p + 4, 4) ||
	    (uint64_t)n * RAFT_WIRE_ENTRY_HEADER_SIZE > body - RAFT_WIRE_APPEND_HEADER_SIZE) {
		st_set_err(err, errlen, "bad entry count %u", n);
		return -EBADMSG;
	}
	size_t off = RAFT_WIRE_APPEND_HEADER_SIZE;
	if (n) {
		m->entries = calloc(n, sizeof(*m->entries));
		if (!m->entries)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (body - off < RAFT_WIRE_ENTRY_HEADER_SIZE) {
			st_set_err(err, errlen, "entry %u header past the body", i);
			return -EBADMSG;
		}
		const uint8_t *h = p + off;
		struct raft_entry *e = &m->entries[i];
		e->term = raft_get_le64(h);
		e->index = raft_get_le64(h + 8);
		uint8_t type = h[16];
		uint32_t elen = raft_get_le32(h + 20);
		off += RAFT_WIRE_ENTRY_HEADER_SIZE;
		if (e->term == 0 || e->index != m->log_index + 1 + i ||
		    type < RAFT_ENTRY_NORMAL || type > RAFT_ENTRY_NOOP || !all_zero(h + 17, 3) ||
		    elen > RAFT_MAX_PAYLOAD) {
			st_set_err(err, errlen, "bad entry %u header", i);
			return -EBADMSG;
		}
		if (body - off < elen) {
			st_set_err(err, errlen, "entry %u payload past the body", i);
			return -EBADMSG;
		}
		e->type = (enum raft_entry_type)type;
		if (elen) {
			e->data = malloc(elen);
			if (!e->data)
				return -ENOMEM;
			memcpy(e->data, p + off, elen);
			e->len = elen;
		}
		m->nentries++;
		off += elen;
	}
	if (off != body) {
		st_set_err(err, errlen, "%zu trailing body bytes", body - off);
		return -EBADMSG;
	}
	return 0;
}

static int decode_snapshot(const uint8_t *p, size_t body, struct raft_msg *m, char *err,
			   size_t errlen)
{
	struct raft_snapshot *s = &m->snapshot;
	uint64_t index = raft_get_le64(p);
	uint64_t term = raft_get_le64(p + 8);
	uint64_t data_len = raft_get_le64(p + 16);
	uint32_t n = raft_get_le32(p + 24);
	if (index == 0 || term == 0 || data_len != body - RAFT_WIRE_SNAPSHOT_HEADER_SIZE ||
	    n > RAFT_MAX_VOTERS || !all_zero(p + 28, 4)) {
		st_set_err(err, errlen, "bad snapshot header");
		return -EBADMSG;
	}
	struct raft_config cfg = { 0 };
	for (uint32_t i = 0; i < RAFT_MAX_VOTERS; i++) {
		uint64_t id = raft_get_le64(p + 32 + 8 * i);
		if (i >= n ? id != 0 : id == 0 || raft_config_has(&cfg, id)) {
			st_set_err(err, errlen, "bad snapshot voter slot %u", i);
			return -EBADMSG;
		}
		if (i < n)
			cfg.voters[cfg.nvoters++] = id;
	}
	s->index = index;
	s->term = term;
	s->config = cfg;
	if (data_len) {
		s->data = malloc((size_t)data_len);
		if (!s->data)
			return -ENOMEM;
		memcpy(s->data, p + RAFT_WIRE_SNAPSHOT_HEADER_SIZE, (size_t)data_len);
		s->len = (size_t)data_len;
	}
	return 0;
}

int raft_wire_decode(const uint8_t *buf, size_t len, struct raft_msg *m, char *err,
		     size_t errlen)
{
	size_t frame_len = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = raft_wire_peek(buf, len, &frame_len, NULL, NULL, err, errlen);
	if (rc == -EAGAIN) {
		st_set_err(err, errlen, "%zu bytes: shorter than a frame header", len);
		return -EBADMSG;
	}
	if (rc)
		return rc;
	if (len != frame_len) {
		st_set_err(err, errlen, "%zu bytes for a frame of %zu", len, frame_len);
		return -EBADMSG;
	}
	size_t body = frame_len - RAFT_WIRE_OVERHEAD;
	size_t crc_off = RAFT_WIRE_HEADER_SIZE + body;
	if (raft_get_le32(buf + crc_off) != crc32c(0, buf, crc_off)) {
		st_set_err(err, errlen, "frame checksum mismatch");
		return -EBADMSG;
	}
	m->type = (enum raft_msg_type)buf[5];
	m->reject = buf[6] & RAFT_WIRE_FLAG_REJECT;
	m->force = buf[6] & RAFT_WIRE_FLAG_FORCE;
	uint64_t *fields[] = { &m->from,     &m->to,	   &m->term,	   &m->log_index,
			       &m->log_term, &m->commit,   &m->read_seq, &m->hint_index,
			       &m->hint_term };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		*fields[i] = raft_get_le64(buf + OFF_FROM + 8 * i);
	const uint8_t *p = buf + RAFT_WIRE_HEADER_SIZE;
	if (m->type == RAFT_MSG_APPEND)
		rc = decode_entries(p, body, m, err, errlen);
	else if (m->type == RAFT_MSG_SNAPSHOT)
		rc = decode_snapshot(p, body, m, err, errlen);
	if (rc)
		goto err_release;
	return 0;

err_release:
	raft_msg_release(m);
	return rc;
}
