/* lib/err.c: strata's domain codes have their own wire codes and come back
 * from them, apart from the errno values they used to borrow. */
#include "lib/err.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_domain_codes_round_trip(void **state)
{
	(void)state;
	static const int codes[] = { ST_ESTALE, ST_ENOMOUNT, ST_ETOOSMALL, ST_ENOLEADER,
				     ST_EPROTO };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_int_equal(st_rc_from_code(st_errcode(codes[i])), codes[i]);
		assert_string_not_equal(st_strerror(codes[i]), "unknown error");
	}
	/* The wire code of "no mount covers the path" is unchanged ... */
	assert_string_equal(st_errcode(ST_ENOMOUNT), "no_mount");
	assert_string_equal(st_errcode(ST_ESTALE), "stale");
	/* ... and a real ENOTSUP (an operation a store lacks) is no longer
	 * reported as a missing mount. */
	assert_string_equal(st_errcode(-ENOTSUP), "not_supported");
	assert_int_equal(st_rc_from_code("not_supported"), -ENOTSUP);
	assert_string_equal(st_errcode(-ESTALE), "internal");
	assert_int_equal(st_rc_from_code("no_such_code"), -EIO);
	assert_int_equal(st_rc_from_code(NULL), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_codes_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
