/* lib/crc32c.c (known vectors, SSE4.2 against slicing-by-8, incremental
 * use) and lib/err.c's st_set_err. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/crc32c.h"
#include "lib/err.h"

static void test_crc32c_known_vectors(void **state)
{
	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c_sw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c(0, "", 0), 0);
	unsigned char zeros[32] = { 0 };
	assert_int_equal(crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
	unsigned char ones[32];
	memset(ones, 0xff, sizeof(ones));
	assert_int_equal(crc32c(0, ones, 32), 0x62A8AB43u);
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
			assert_int_equal(crc32c(0, buf + off, n),
					 crc32c_sw(0, buf + off, n));
	}
	uint32_t whole = crc32c(0, buf, len);
	assert_int_equal(whole, crc32c_sw(0, buf, len));
	uint32_t parts = crc32c(0, buf, 777);
	parts = crc32c(parts, buf + 777, 5000);
	parts = crc32c(parts, buf + 5777, len - 5777);
	assert_int_equal(whole, parts);
	free(buf);
}

/* Long buffers take the three-stream path: lengths around its 24 KiB
 * rounds, unaligned starts, a start value other than 0. */
static void test_crc32c_three_streams_match_sw(void **state)
{
	(void)state;
	size_t len = 3 * 24576 + 4099;
	unsigned char *buf = malloc(len);
	assert_non_null(buf);
	uint32_t x = 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	size_t lens[] = { 24575, 24576, 24577, 24576 + 8, 2 * 24576 - 1, 2 * 24576,
			  3 * 24576 + 4099 - 3 };
	for (size_t off = 0; off < 3; off++) {
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			assert_int_equal(crc32c(0, buf + off, lens[i]),
					 crc32c_sw(0, buf + off, lens[i]));
			assert_int_equal(crc32c(0xA5A5A5A5u, buf + off, lens[i]),
					 crc32c_sw(0xA5A5A5A5u, buf + off, lens[i]));
		}
	}
	unsigned char *zeros = calloc(1, 24576);
	assert_non_null(zeros);
	assert_int_equal(crc32c(0, zeros, 24576), crc32c_sw(0, zeros, 24576));
	free(zeros);
	free(buf);
}

static void test_set_err_formats_cuts_and_tolerates_null(void **state)
{
	(void)state;
	char err[8];
	st_set_err(err, sizeof(err), "peer %d: %s", 7, "down");
	assert_string_equal(err, "peer 7:"); /* cut, still terminated */
	st_set_err(err, sizeof(err), "%s", "ok");
	assert_string_equal(err, "ok");
	st_set_err(NULL, 16, "ignored %d", 1);
	memcpy(err, "keep", 5);
	st_set_err(err, 0, "ignored %d", 2);
	assert_string_equal(err, "keep");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_known_vectors),
		cmocka_unit_test(test_crc32c_hw_matches_sw_and_is_incremental),
		cmocka_unit_test(test_crc32c_three_streams_match_sw),
		cmocka_unit_test(test_set_err_formats_cuts_and_tolerates_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
