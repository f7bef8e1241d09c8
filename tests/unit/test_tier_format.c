/* tier/format.c: block header, file names (CRC32C: test_lib_crc32c.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tier/format.h"

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
		cmocka_unit_test(test_header_roundtrip_and_layout),
		cmocka_unit_test(test_header_rejects_damage),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
