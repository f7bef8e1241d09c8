/* lib/localread.c: the short-circuit read messages of worker.local_socket.
 * Round trips, the exact bytes of a request, and every malformed message
 * refused with what is wrong with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/crc32c.h"
#include "lib/localread.h"

#include <errno.h>

/* Rewrites the trailing CRC after a test changed a field, so that the
 * field's own check is what refuses the message. */
static void reseal(unsigned char *m, size_t size)
{
	uint32_t crc = crc32c(0, m, size - 4);
	for (int i = 0; i < 4; i++)
		m[size - 4 + i] = (unsigned char)(crc >> (8 * i));
}

static void test_request_round_trip_and_layout(void **state)
{
	(void)state;
	unsigned char m[LREAD_REQ_SIZE];
	struct lread_req in = { .op = LREAD_OPEN, .block_id = UINT64_C(0x0102030405060708) }, out;
	char err[128];
	lread_req_encode(&in, m);
	assert_memory_equal(m, "SLRD\x01\x00\x02\x00\x08\x07\x06\x05\x04\x03\x02\x01\0\0\0\0", 20);
	assert_int_equal(lread_req_decode(m, sizeof(m), &out, err, sizeof(err)), 0);
	assert_int_equal(out.op, LREAD_OPEN);
	assert_true(out.block_id == in.block_id);
	in = (struct lread_req){ .op = LREAD_HELLO };
	lread_req_encode(&in, m);
	assert_int_equal(lread_req_decode(m, sizeof(m), &out, err, sizeof(err)), 0);
	assert_int_equal(out.op, LREAD_HELLO);
}

static void expect_req_refused(unsigned char *m, size_t n, const char *why)
{
	struct lread_req out = { 0 };
	char err[128] = "";
	assert_int_equal(lread_req_decode(m, n, &out, err, sizeof(err)), -EBADMSG);
	if (!strstr(err, why))
		fail_msg("refusal '%s' does not say '%s'", err, why);
	assert_int_equal(out.op, 0); /* nothing written */
}

static void test_bad_requests_are_refused(void **state)
{
	(void)state;
	unsigned char good[LREAD_REQ_SIZE], m[LREAD_REQ_SIZE + 8];
	lread_req_encode(&(struct lread_req){ .op = LREAD_OPEN, .block_id = 42 }, good);

	memcpy(m, good, sizeof(good));
	expect_req_refused(m, sizeof(good) - 1, "23 bytes where 24");
	expect_req_refused(m, 0, "0 bytes where 24");
	memset(m + sizeof(good), 0, 8);
	expect_req_refused(m, sizeof(good) + 8, "32 bytes where 24");

	memcpy(m, good, sizeof(good));
	m[0] = 'X';
	reseal(m, sizeof(good));
	expect_req_refused(m, sizeof(good), "bad magic");

	memcpy(m, good, sizeof(good));
	m[9] ^= 1; /* the block id, CRC not resealed */
	expect_req_refused(m, sizeof(good), "bad CRC");

	memcpy(m, good, sizeof(good));
	m[4] = 2;
	reseal(m, sizeof(good));
	expect_req_refused(m, sizeof(good), "version 2");

	memcpy(m, good, sizeof(good));
	m[6] = 9;
	reseal(m, sizeof(good));
	expect_req_refused(m, sizeof(good), "unknown op 9");

	memcpy(m, good, sizeof(good));
	m[6] = 0;
	reseal(m, sizeof(good));
	expect_req_refused(m, sizeof(good), "unknown op 0");

	memcpy(m, good, sizeof(good));
	m[17] = 1;
	reseal(m, sizeof(good));
	expect_req_refused(m, sizeof(good), "reserved");

	lread_req_encode(&(struct lread_req){ .op = LREAD_HELLO }, m);
	m[8] = 1;
	reseal(m, sizeof(good));
	expect_req_refused(m, sizeof(good), "HELLO with a block id");
}

static void test_reply_round_trip_and_bad_replies(void **state)
{
	(void)state;
	unsigned char m[LREAD_REP_SIZE];
	struct lread_rep in = { .status = LREAD_OK, .worker_id = 3, .block_id = 77,
				.data_offset = 32, .len = 4 << 20 },
			 out;
	char err[128];
	lread_rep_encode(&in, m);
	assert_int_equal(lread_rep_decode(m, sizeof(m), &out, err, sizeof(err)), 0);
	assert_int_equal(out.status, LREAD_OK);
	assert_true(out.worker_id == 3 && out.block_id == 77 && out.data_offset == 32 &&
		    out.len == 4 << 20);

	assert_int_equal(lread_rep_decode(m, sizeof(m) - 1, &out, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "47 bytes where 48"));

	m[6] = 7;
	reseal(m, sizeof(m));
	assert_int_equal(lread_rep_decode(m, sizeof(m), &out, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "unknown status 7"));

	/* An OK range past the largest off_t (a client would seek there). */
	in.data_offset = UINT64_C(1) << 63;
	lread_rep_encode(&in, m);
	assert_int_equal(lread_rep_decode(m, sizeof(m), &out, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "range"));
	in.data_offset = INT64_MAX - 10;
	in.len = 11;
	lread_rep_encode(&in, m);
	assert_int_equal(lread_rep_decode(m, sizeof(m), &out, err, sizeof(err)), -EBADMSG);
	/* ... which a "not here" does not carry. */
	in.status = LREAD_NOT_HERE;
	lread_rep_encode(&in, m);
	assert_int_equal(lread_rep_decode(m, sizeof(m), &out, err, sizeof(err)), 0);
	assert_int_equal(out.status, LREAD_NOT_HERE);

	/* A request is no reply, and the other way round. */
	unsigned char req[LREAD_REQ_SIZE];
	lread_req_encode(&(struct lread_req){ .op = LREAD_HELLO }, req);
	assert_int_equal(lread_rep_decode(req, sizeof(req), &out, err, sizeof(err)), -EBADMSG);
	struct lread_req r;
	assert_int_equal(lread_req_decode(m, sizeof(m), &r, err, sizeof(err)), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip_and_layout),
		cmocka_unit_test(test_bad_requests_are_refused),
		cmocka_unit_test(test_reply_round_trip_and_bad_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
