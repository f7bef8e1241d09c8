/*
 * The Raft wire codec (raft/wire.c): every message type round-trips field
 * by field and re-encodes to the same bytes; every single-byte change and
 * every truncation of a frame is refused; frames with correct checksums
 * but bad contents (crafted) are refused check by check; the encoder
 * refuses what the format cannot carry.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/crc32c.h"
#include "raft/format.h"
#include "raft/wire.h"
#include "raft_msg_assert.h"

#define NSAMPLES 12

static uint8_t payload_a[300];
static uint8_t blob[1500];

/* Every scalar gets a distinct value so that a swapped field shows. */
static void fill_scalars(struct raft_msg *m, enum raft_msg_type type, uint64_t seed)
{
	m->type = type;
	m->from = 1 + seed;
	m->to = 100 + seed;
	m->term = 0x0102030405060708ull + seed;
	m->log_index = 1000 + seed;
	m->log_term = 2000 + seed;
	m->commit = 3000 + seed;
	m->read_seq = 4000 + seed;
	m->hint_index = 5000 + seed;
	m->hint_term = 6000 + seed;
}

static struct raft_entry *make_entries(uint64_t first_index, size_t n)
{
	struct raft_entry *e = calloc(n, sizeof(*e));
	assert_non_null(e);
	for (size_t i = 0; i < n; i++) {
		e[i].term = 7 + i;
		e[i].index = first_index + i;
		e[i].type = (enum raft_entry_type)(RAFT_ENTRY_NORMAL + i % 3);
		e[i].len = e[i].type == RAFT_ENTRY_NOOP ? 0 : 17 * (i + 1) % sizeof(payload_a);
		if (e[i].type == RAFT_ENTRY_CONFIG) {
			struct raft_config cfg = { .nvoters = 3, .voters = { 1, 2, 3 } };
			e[i].data = malloc(64);
			assert_non_null(e[i].data);
			e[i].len = (size_t)raft_config_encode(&cfg, e[i].data, 64);
		} else if (e[i].len) {
			e[i].data = malloc(e[i].len);
			assert_non_null(e[i].data);
			memcpy(e[i].data, payload_a + i, e[i].len);
		}
	}
	return e;
}

/* Sample i of NSAMPLES: every message type, with and without bodies. */
static void make_sample(size_t i, struct raft_msg *m)
{
	memset(m, 0, sizeof(*m));
	switch (i) {
	case 0:
		fill_scalars(m, RAFT_MSG_PREVOTE, i);
		break;
	case 1:
		fill_scalars(m, RAFT_MSG_PREVOTE_RESP, i);
		m->reject = true;
		break;
	case 2:
		fill_scalars(m, RAFT_MSG_VOTE, i);
		m->force = true;
		break;
	case 3:
		fill_scalars(m, RAFT_MSG_VOTE_RESP, i);
		m->reject = true;
		m->force = true;
		break;
	case 4: /* heartbeat */
		fill_scalars(m, RAFT_MSG_APPEND, i);
		break;
	case 5:
		fill_scalars(m, RAFT_MSG_APPEND, i);
		m->nentries = 7;
		m->entries = make_entries(m->log_index + 1, m->nentries);
		break;
	case 6:
		fill_scalars(m, RAFT_MSG_APPEND_RESP, i);
		m->reject = true; /* with conflict hints */
		break;
	case 7:
		fill_scalars(m, RAFT_MSG_APPEND_RESP, i);
		m->hint_index = m->hint_term = 0;
		break;
	case 8:
		fill_scalars(m, RAFT_MSG_SNAPSHOT, i);
		m->snapshot.index = 900;
		m->snapshot.term = 9;
		m->snapshot.config = (struct raft_config){ .nvoters = 3, .voters = { 4, 9, 2 } };
		m->snapshot.len = sizeof(blob);
		m->snapshot.data = malloc(sizeof(blob));
		assert_non_null(m->snapshot.data);
		memcpy(m->snapshot.data, blob, sizeof(blob));
		break;
	case 9: /* empty blob, full membership */
		fill_scalars(m, RAFT_MSG_SNAPSHOT, i);
		m->snapshot.index = 1;
		m->snapshot.term = 1;
		m->snapshot.config.nvoters = RAFT_MAX_VOTERS;
		for (uint32_t v = 0; v < RAFT_MAX_VOTERS; v++)
			m->snapshot.config.voters[v] = 0xffffffffffffff00ull + v;
		break;
	case 10:
		fill_scalars(m, RAFT_MSG_TIMEOUT_NOW, i);
		break;
	case 11: /* extremes in every scalar */
		fill_scalars(m, RAFT_MSG_APPEND, i);
		m->from = m->to = UINT64_MAX;
		m->term = m->commit = m->read_seq = m->hint_index = m->hint_term = UINT64_MAX;
		m->log_term = 0;
		m->log_index = UINT64_MAX - 3;
		m->nentries = 2;
		m->entries = make_entries(m->log_index + 1, m->nentries);
		break;
	}
}

static void encode(const struct raft_msg *m, uint8_t **buf, size_t *len)
{
	size_t want = 0;
	assert_int_equal(raft_wire_size(m, &want), 0);
	assert_int_equal(raft_wire_encode_alloc(m, buf, len), 0);
	assert_int_equal(*len, want);
}

static int setup(void **state)
{
	for (size_t i = 0; i < sizeof(payload_a); i++)
		payload_a[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 31 + 1);
	return 0;
}

static void test_roundtrip_every_type(void **state)
{
	bool seen[RAFT_MSG_TIMEOUT_NOW + 1] = { 0 };
	for (size_t i = 0; i < NSAMPLES; i++) {
		struct raft_msg m, d, d2;
		uint8_t *buf = NULL, *buf2 = NULL;
		size_t len = 0, len2 = 0;
		make_sample(i, &m);
		seen[m.type] = true;
		encode(&m, &buf, &len);
		char err[128] = "";
		assert_int_equal(raft_wire_decode(buf, len, &d, err, sizeof(err)), 0);
		assert_msg_equal(&m, &d);
		/* canonical: the decoded message encodes to the same bytes */
		encode(&d, &buf2, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(buf, buf2, len);
		/* and the peek agrees with the whole decode */
		size_t frame_len = 0;
		uint64_t from = 0, to = 0;
		assert_int_equal(raft_wire_peek(buf, len, &frame_len, &from, &to, NULL, 0), 0);
		assert_int_equal(frame_len, len);
		assert_int_equal(from, m.from);
		assert_int_equal(to, m.to);
		assert_int_equal(raft_wire_decode(buf2, len2, &d2, NULL, 0), 0);
		assert_msg_equal(&m, &d2);
		raft_msg_release(&d2);
		raft_msg_release(&d);
		raft_msg_release(&m);
		free(buf);
		free(buf2);
	}
	for (int t = RAFT_MSG_PREVOTE; t <= RAFT_MSG_TIMEOUT_NOW; t++)
		assert_true(seen[t]);
}

/* The frame is exactly the layout of wire.h: spot-check the bytes. */
static void test_layout_bytes(void **state)
{
	struct raft_msg m;
	uint8_t *buf = NULL;
	size_t len = 0;
	make_sample(8, &m); /* snapshot */
	encode(&m, &buf, &len);
	assert_int_equal(len, RAFT_WIRE_OVERHEAD + RAFT_WIRE_SNAPSHOT_HEADER_SIZE + sizeof(blob));
	assert_memory_equal(buf, "SRW1", 4);
	assert_int_equal(buf[4], 1);
	assert_int_equal(buf[5], RAFT_MSG_SNAPSHOT);
	assert_int_equal(raft_get_le32(buf + 8), RAFT_WIRE_SNAPSHOT_HEADER_SIZE + sizeof(blob));
	assert_int_equal(raft_get_le64(buf + 16), m.from);
	assert_int_equal(raft_get_le64(buf + 24), m.to);
	assert_int_equal(raft_get_le64(buf + 32), m.term);
	assert_int_equal(raft_get_le64(buf + 80), m.hint_term);
	assert_int_equal(raft_get_le32(buf + 88), crc32c(0, buf, 88));
	const uint8_t *b = buf + RAFT_WIRE_HEADER_SIZE;
	assert_int_equal(raft_get_le64(b), 900);
	assert_int_equal(raft_get_le64(b + 16), sizeof(blob));
	assert_int_equal(raft_get_le32(b + 24), 3);
	assert_int_equal(raft_get_le64(b + 32 + 8), 9);
	assert_memory_equal(b + RAFT_WIRE_SNAPSHOT_HEADER_SIZE, blob, sizeof(blob));
	assert_int_equal(raft_get_le32(buf + len - 4), crc32c(0, buf, len - 4));
	free(buf);
	raft_msg_release(&m);

	make_sample(1, &m); /* reject flag */
	encode(&m, &buf, &len);
	assert_int_equal(len, RAFT_WIRE_OVERHEAD);
	assert_int_equal(buf[6], RAFT_WIRE_FLAG_REJECT);
	free(buf);
	make_sample(5, &m); /* entries */
	encode(&m, &buf, &len);
	b = buf + RAFT_WIRE_HEADER_SIZE;
	assert_int_equal(raft_get_le32(b), 7);
	assert_int_equal(raft_get_le64(b + 8), 7);	       /* term */
	assert_int_equal(raft_get_le64(b + 16), m.log_index + 1); /* index */
	assert_int_equal(b[24], RAFT_ENTRY_NORMAL);
	assert_int_equal(raft_get_le32(b + 28), m.entries[0].len);
	free(buf);
	raft_msg_release(&m);
}

/* Rejected, or (impossible with the CRC, but the property allows it)
 * decoded to the very same message. */
static void assert_rejected_or_same(const uint8_t *buf, size_t len, const struct raft_msg *m)
{
	struct raft_msg d;
	int rc = raft_wire_decode(buf, len, &d, NULL, 0);
	if (rc == 0) {
		assert_msg_equal(m, &d);
		raft_msg_release(&d);
		return;
	}
	assert_int_equal(rc, -EBADMSG);
	assert_int_equal(d.nentries, 0);
	assert_null(d.entries);
	assert_null(d.snapshot.data);
}

static void test_every_byte_flip_rejected(void **state)
{
	size_t flips = 0, accepted = 0;
	for (size_t i = 0; i < NSAMPLES; i++) {
		struct raft_msg m;
		uint8_t *buf = NULL;
		size_t len = 0;
		make_sample(i, &m);
		encode(&m, &buf, &len);
		static const uint8_t some[] = { 0x01, 0x80, 0xff, 0x5a };
		for (size_t pos = 0; pos < len; pos++) {
			/* every value for small frames, four patterns for larger ones */
			unsigned nvals = len <= 512 ? 255 : sizeof(some);
			for (unsigned v = 0; v < nvals; v++) {
				uint8_t x = len <= 512 ? (uint8_t)(v + 1) : some[v];
				buf[pos] ^= x;
				struct raft_msg d;
				if (raft_wire_decode(buf, len, &d, NULL, 0) == 0) {
					accepted++;
					raft_msg_release(&d);
				}
				assert_rejected_or_same(buf, len, &m);
				buf[pos] ^= x;
				flips++;
			}
		}
		free(buf);
		raft_msg_release(&m);
	}
	assert_true(flips > 100000);
	assert_int_equal(accepted, 0); /* the CRCs catch every one */
}

static void test_every_truncation_rejected(void **state)
{
	for (size_t i = 0; i < NSAMPLES; i++) {
		struct raft_msg m, d;
		uint8_t *buf = NULL;
		size_t len = 0, frame_len = 0;
		make_sample(i, &m);
		encode(&m, &buf, &len);
		for (size_t cut = 0; cut < len; cut++) {
			/* an exact-size copy, so ASan sees any read past it */
			uint8_t *part = malloc(cut ? cut : 1);
			assert_non_null(part);
			memcpy(part, buf, cut);
			assert_int_equal(raft_wire_decode(part, cut, &d, NULL, 0), -EBADMSG);
			int rc = raft_wire_peek(part, cut, &frame_len, NULL, NULL, NULL, 0);
			if (cut < RAFT_WIRE_HEADER_SIZE)
				assert_int_equal(rc, -EAGAIN);
			else
				assert_true(rc == 0 && frame_len == len);
			free(part);
		}
		/* one byte too many is not a frame either */
		uint8_t *more = malloc(len + 1);
		assert_non_null(more);
		memcpy(more, buf, len);
		more[len] = 0;
		char err[128] = "";
		assert_int_equal(raft_wire_decode(more, len + 1, &d, err, sizeof(err)), -EBADMSG);
		assert_non_null(strstr(err, "bytes for a frame of"));
		free(more);
		free(buf);
		raft_msg_release(&m);
	}
}

/* Recomputes both checksums after a deliberate edit, so that the content
 * checks behind them are what gets tested. */
static void refresh_crcs(uint8_t *buf, size_t len)
{
	raft_put_le32(buf + 88, crc32c(0, buf, 88));
	raft_put_le32(buf + len - 4, crc32c(0, buf, len - 4));
}

static void expect_refused(uint8_t *buf, size_t len, const char *want)
{
	struct raft_msg d;
	char err[160] = "";
	refresh_crcs(buf, len);
	assert_int_equal(raft_wire_decode(buf, len, &d, err, sizeof(err)), -EBADMSG);
	if (!strstr(err, want))
		fail_msg("error '%s' does not mention '%s'", err, want);
	assert_null(d.entries);
	assert_null(d.snapshot.data);
}

static void test_crafted_frames_refused(void **state)
{
	struct raft_msg m;
	uint8_t *buf = NULL;
	size_t len = 0;

	make_sample(0, &m); /* PREVOTE, header only */
	encode(&m, &buf, &len);
	uint8_t *orig = malloc(len);
	assert_non_null(orig);
	memcpy(orig, buf, len);
#define RESET() memcpy(buf, orig, len)
	buf[4] = 2;
	expect_refused(buf, len, "version");
	RESET();
	buf[5] = 0;
	expect_refused(buf, len, "type");
	RESET();
	buf[5] = 9;
	expect_refused(buf, len, "type");
	RESET();
	buf[6] = 4;
	expect_refused(buf, len, "reserved");
	RESET();
	buf[7] = 1;
	expect_refused(buf, len, "reserved");
	RESET();
	buf[13] = 1;
	expect_refused(buf, len, "reserved");
	RESET();
	buf[95] = 1;
	expect_refused(buf, len, "reserved");
	RESET();
	raft_put_le64(buf + 16, 0);
	expect_refused(buf, len, "zero node id");
	RESET();
	raft_put_le64(buf + 24, 0);
	expect_refused(buf, len, "zero node id");
	RESET();
	memcpy(buf, "SRW2", 4);
	expect_refused(buf, len, "magic");
	RESET();
	buf[20] ^= 1; /* header CRC is checked before anything else in it */
	struct raft_msg d;
	char err[160] = "";
	raft_put_le32(buf + len - 4, crc32c(0, buf, len - 4));
	assert_int_equal(raft_wire_decode(buf, len, &d, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "header checksum"));
	RESET();
	buf[len - 1] ^= 1;
	assert_int_equal(raft_wire_decode(buf, len, &d, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "frame checksum"));
	free(buf);
	free(orig);

	/* A VOTE claiming a body: bodies are exact per type. */
	uint8_t vote[RAFT_WIRE_OVERHEAD + 8];
	make_sample(2, &m);
	assert_int_equal(raft_wire_encode(&m, vote, sizeof(vote), &len), 0);
	memmove(vote + RAFT_WIRE_HEADER_SIZE + 8, vote + RAFT_WIRE_HEADER_SIZE, 4);
	memset(vote + RAFT_WIRE_HEADER_SIZE, 0, 8);
	raft_put_le32(vote + 8, 8);
	expect_refused(vote, sizeof(vote), "body length");

	/* APPEND with entries */
	make_sample(5, &m);
	encode(&m, &buf, &len);
	orig = malloc(len);
	assert_non_null(orig);
	memcpy(orig, buf, len);
	uint8_t *body = buf + RAFT_WIRE_HEADER_SIZE;
	uint8_t *e0 = body + RAFT_WIRE_APPEND_HEADER_SIZE;
	raft_put_le32(body, 1000); /* count larger than the body can hold */
	expect_refused(buf, len, "entry count");
	RESET();
	raft_put_le32(body, RAFT_WIRE_MAX_ENTRIES + 1);
	expect_refused(buf, len, "entry count");
	RESET();
	raft_put_le32(body, 6); /* fewer entries than the body holds */
	expect_refused(buf, len, "trailing");
	RESET();
	raft_put_le32(body, 8); /* more entries than the body holds */
	expect_refused(buf, len, "past the body");
	RESET();
	body[4] = 1;
	expect_refused(buf, len, "entry count");
	RESET();
	raft_put_le64(e0 + 8, m.log_index + 2); /* index gap */
	expect_refused(buf, len, "entry 0 header");
	RESET();
	raft_put_le64(e0, 0); /* term 0 */
	expect_refused(buf, len, "entry 0 header");
	RESET();
	e0[16] = 4; /* entry type */
	expect_refused(buf, len, "entry 0 header");
	RESET();
	e0[18] = 1;
	expect_refused(buf, len, "entry 0 header");
	RESET();
	raft_put_le32(e0 + 20, (uint32_t)m.entries[0].len + 1000000); /* payload too long */
	expect_refused(buf, len, "past the body");
	RESET();
	raft_put_le32(e0 + 20, RAFT_MAX_PAYLOAD + 1);
	expect_refused(buf, len, "entry 0 header");
	RESET();
	free(buf);
	free(orig);
	raft_msg_release(&m);

	/* SNAPSHOT */
	make_sample(8, &m);
	encode(&m, &buf, &len);
	orig = malloc(len);
	assert_non_null(orig);
	memcpy(orig, buf, len);
	body = buf + RAFT_WIRE_HEADER_SIZE;
	raft_put_le64(body, 0);
	expect_refused(buf, len, "snapshot header");
	RESET();
	raft_put_le64(body + 8, 0);
	expect_refused(buf, len, "snapshot header");
	RESET();
	raft_put_le64(body + 16, sizeof(blob) - 1);
	expect_refused(buf, len, "snapshot header");
	RESET();
	raft_put_le64(body + 16, UINT64_MAX);
	expect_refused(buf, len, "snapshot header");
	RESET();
	raft_put_le32(body + 24, RAFT_MAX_VOTERS + 1);
	expect_refused(buf, len, "snapshot header");
	RESET();
	body[28] = 1;
	expect_refused(buf, len, "snapshot header");
	RESET();
	raft_put_le64(body + 32 + 8 * 3, 77); /* a slot past the count */
	expect_refused(buf, len, "voter slot 3");
	RESET();
	raft_put_le64(body + 32 + 8 * 1, 4); /* duplicate voter */
	expect_refused(buf, len, "voter slot 1");
	RESET();
	raft_put_le64(body + 32, 0); /* zero voter */
	expect_refused(buf, len, "voter slot 0");
	RESET();
	raft_put_le32(buf + 8, RAFT_WIRE_SNAPSHOT_HEADER_SIZE - 1);
	expect_refused(buf, RAFT_WIRE_OVERHEAD + RAFT_WIRE_SNAPSHOT_HEADER_SIZE - 1, "body length");
	RESET();
	raft_put_le32(buf + 8, RAFT_WIRE_MAX_BODY + 1);
	expect_refused(buf, len, "body length");
#undef RESET
	free(buf);
	free(orig);
	raft_msg_release(&m);
}

static void test_encoder_refuses(void **state)
{
	struct raft_msg m;
	size_t len = 0;
	uint8_t small[RAFT_WIRE_OVERHEAD];

	make_sample(0, &m);
	m.type = 0;
	assert_int_equal(raft_wire_size(&m, &len), -EINVAL);
	m.type = 9;
	assert_int_equal(raft_wire_size(&m, &len), -EINVAL);
	make_sample(0, &m);
	m.from = 0;
	assert_int_equal(raft_wire_size(&m, &len), -EINVAL);
	make_sample(0, &m);
	m.to = 0;
	assert_int_equal(raft_wire_size(&m, &len), -EINVAL);
	make_sample(0, &m); /* a snapshot on a vote would be silently lost */
	m.snapshot.index = 3;
	assert_int_equal(raft_wire_size(&m, &len), -EINVAL);

	make_sample(5, &m);
	struct raft_msg bad = m;
	bad.type = RAFT_MSG_VOTE; /* entries on a vote */
	assert_int_equal(raft_wire_size(&bad, &len), -EINVAL);
	bad = m;
	bad.log_index++; /* entries no longer follow log_index */
	assert_int_equal(raft_wire_size(&bad, &len), -EINVAL);
	m.entries[3].type = 0;
	assert_int_equal(raft_wire_size(&m, &len), -EINVAL);
	m.entries[3].type = RAFT_ENTRY_NORMAL;
	m.entries[3].term = 0;
	assert_int_equal(raft_wire_size(&m, &len), -EINVAL);
	m.entries[3].term = 1;
	size_t saved = m.entries[3].len;
	m.entries[3].len = (size_t)RAFT_MAX_PAYLOAD + 1;
	assert_int_equal(raft_wire_size(&m, &len), -EMSGSIZE);
	m.entries[3].len = saved;
	bad = m;
	bad.snapshot.len = 5; /* a snapshot on an append */
	assert_int_equal(raft_wire_size(&bad, &len), -EINVAL);
	assert_int_equal(raft_wire_size(&m, &len), 0);
	assert_int_equal(raft_wire_encode(&m, small, sizeof(small), &len), -ENOSPC);
	raft_msg_release(&m);

	make_sample(4, &m); /* too many entries */
	m.nentries = RAFT_WIRE_MAX_ENTRIES + 1;
	m.entries = (struct raft_entry *)small; /* never looked at past the count */
	assert_int_equal(raft_wire_size(&m, &len), -EMSGSIZE);

	make_sample(9, &m);
	m.snapshot.config.voters[4] = m.snapshot.config.voters[2];
	assert_int_equal(raft_wire_size(&m, &len), -EINVAL);
	make_sample(9, &m);
	m.snapshot.config.nvoters = RAFT_MAX_VOTERS + 1;
	assert_int_equal(raft_wire_size(&m, &len), -EINVAL);
	make_sample(9, &m);
	m.snapshot.index = 0;
	assert_int_equal(raft_wire_size(&m, &len), -EINVAL);
	make_sample(9, &m);
	m.snapshot.len = RAFT_WIRE_MAX_BODY;
	m.snapshot.data = small;
	assert_int_equal(raft_wire_size(&m, &len), -EMSGSIZE);
}

/* A realistic catch-up append: 64 entries of 64 KiB. */
static void test_large_append(void **state)
{
	struct raft_msg m = { 0 }, d;
	fill_scalars(&m, RAFT_MSG_APPEND, 3);
	m.nentries = 64;
	m.entries = calloc(m.nentries, sizeof(*m.entries));
	assert_non_null(m.entries);
	for (size_t i = 0; i < m.nentries; i++) {
		struct raft_entry *e = &m.entries[i];
		e->term = 5;
		e->index = m.log_index + 1 + i;
		e->type = RAFT_ENTRY_NORMAL;
		e->len = 64 << 10;
		e->data = malloc(e->len);
		assert_non_null(e->data);
		memset(e->data, (int)i, e->len);
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	encode(&m, &buf, &len);
	assert_int_equal(len, RAFT_WIRE_OVERHEAD + 8 + 64 * (24 + (64 << 10)));
	assert_int_equal(raft_wire_decode(buf, len, &d, NULL, 0), 0);
	assert_msg_equal(&m, &d);
	raft_msg_release(&d);
	raft_msg_release(&m);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_layout_bytes),
		cmocka_unit_test(test_every_byte_flip_rejected),
		cmocka_unit_test(test_every_truncation_rejected),
		cmocka_unit_test(test_crafted_frames_refused),
		cmocka_unit_test(test_encoder_refuses),
		cmocka_unit_test(test_large_append),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
