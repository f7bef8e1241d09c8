/* tier/crc32c.c and tier/format.c: checksums, block header, file names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tier/crc32c.h"
#include "tier/format.h"

static void test_crc32c_known_vectors(void **state)
{
	(void)state;
	assert_int_equal(tier_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(tier_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(tier_crc32c(0, "", 0), 0);
	unsigned char zeros[32] = { 0 };
	assert_int_equal(tier_crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
	unsigned char ones[32];
	memset(ones, 0xff, sizeof(ones));
	assert_int_equal(tier_crc32c(0, ones, 32), 0x62A8AB43u);
}

static void test_crc32c_hw_matches_sw_and_is_incremental(void **state)
{
	(void)state;
	size_t len = 100003;
	unsigned char *buf = malloc(len);
	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 131 + (i >> 7));
	/* Odd offsets and lengths exercise the unaligned head and tail. */
	for (size_t off = 0; off < 9; off++) {
		for (size_t n = 0; n < 70; n++)
			assert_int_equal(tier_crc32c(0, buf + off, n),
					 tier_crc32c_sw(0, buf + off, n));
	}
	uint32_t whole = tier_crc32c(0, buf, len);
	assert_int_equal(whole, tier_crc32c_sw(0, buf, len));
	uint32_t parts = tier_crc32c(0, buf, 777);
	parts = tier_crc32c(parts, buf + 777, 5000);
	parts = tier_crc32c(parts, buf + 5777, len - 5777);
	assert_int_equal(whole, parts);
	free(buf);
}

static void test_header_roundtrip_and_layout(void **state)
{
	(void)state;
	struct tier_block_hdr in = { .id = 0x0102030405060708ULL, .len = 4194304,
				     .data_crc = 0xdeadbeef };
	unsigned char b[TIER_HDR_SIZE];
	tier_hdr_encode(&in, b);
	assert_memory_equal(b, "STBK", 4);
	assert_int_equal(b[4], 1);
	assert_int_equal(b[5], 0);
	assert_int_equal(b[6], 32);
	assert_int_equal(b[8], 0x08); /* little-endian id */
	assert_int_equal(b[15], 0x01);
	assert_int_equal(b[16 + 2], 0x40); /* 4 MiB = 0x400000 */
	assert_int_equal(b[24], 0xef);
	struct tier_block_hdr out;
	assert_int_equal(tier_hdr_decode(b, sizeof(b), &out), 0);
	assert_int_equal(out.id, in.id);
	assert_int_equal(out.len, in.len);
	assert_int_equal(out.data_crc, in.data_crc);
}

static void test_header_rejects_damage(void **state)
{
	(void)state;
	struct tier_block_hdr in = { .id = 42, .len = 10, .data_crc = 7 };
	unsigned char b[TIER_HDR_SIZE], c[TIER_HDR_SIZE];
	struct tier_block_hdr out;
	tier_hdr_encode(&in, b);
	assert_int_equal(tier_hdr_decode(b, TIER_HDR_SIZE - 1, &out), -EBADMSG);
	for (size_t i = 0; i < TIER_HDR_SIZE; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(c, b, sizeof(c));
			c[i] ^= (unsigned char)(1 << bit);
			assert_int_equal(tier_hdr_decode(c, sizeof(c), &out), -EBADMSG);
		}
	}
}

static void test_names(void **state)
{
	(void)state;
	char name[TIER_NAME_MAX];
	uint64_t id = 0;
	tier_name_block(0x00000001000000abULL, name);
	assert_string_equal(name, "00000001000000ab.blk");
	assert_int_equal(tier_name_parse(name, &id), TIER_NAME_BLOCK);
	assert_int_equal(id, 0x00000001000000abULL);
	tier_name_temp(0xffffffffffffffffULL, 123, 9, name);
	assert_string_equal(name, "ffffffffffffffff.tmp.123.9");
	assert_int_equal(tier_name_parse(name, &id), TIER_NAME_TEMP);
	assert_int_equal(id, 0xffffffffffffffffULL);
	const char *others[] = { "", ".", "..", "notes.txt", "00000001000000AB.blk",
				 "00000001000000ab.blkx", "00000001000000ab", "1.blk",
				 "00000001000000ab.tmp", "0000000g000000ab.blk" };
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		assert_int_equal(tier_name_parse(others[i], &id), TIER_NAME_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_known_vectors),
		cmocka_unit_test(test_crc32c_hw_matches_sw_and_is_incremental),
		cmocka_unit_test(test_header_roundtrip_and_layout),
		cmocka_unit_test(test_header_rejects_damage),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
