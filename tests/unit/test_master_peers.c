/* Tests daemon/master/peers.c, the master.peers parser: the accepted
 * forms, and each rejection with a message naming what was wrong. */
#include "daemon/master/peers.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_accepted_forms(void **state)
{
	char err[512];
	struct peer p;
	assert_int_equal(peers_parse_one("1@127.0.0.1:19200@127.0.0.1:19999", &p, err,
					 sizeof(err)), 0);
	assert_int_equal(p.id, 1);
	assert_string_equal(p.raft_address, "127.0.0.1:19200");
	assert_string_equal(p.rest_url, "http://127.0.0.1:19999");

	assert_int_equal(peers_parse_one("42@[::1]:19200@https://[::1]:443/", &p, err,
					 sizeof(err)), 0);
	assert_int_equal(p.id, 42);
	assert_string_equal(p.raft_address, "[::1]:19200");
	assert_string_equal(p.rest_url, "https://[::1]:443");

	assert_int_equal(peers_parse_one("9223372036854775807@m-1.example.org:1@http://m-1:65535",
					 &p, err, sizeof(err)), 0);
	assert_int_equal(p.id, 9223372036854775807ull);
	assert_string_equal(p.rest_url, "http://m-1:65535");
}

static void expect_bad(const char *item, const char *needle)
{
	char err[512] = "";
	struct peer p;
	int rc = peers_parse_one(item, &p, err, sizeof(err));
	if (rc != -EINVAL || !strstr(err, needle))
		print_error("'%s': rc %d, err '%s', want '%s'\n", item, rc, err, needle);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, needle));
}

static void test_rejected_forms(void **state)
{
	expect_bad("", "expected ID@");
	expect_bad("1@127.0.0.1:19200", "expected ID@");
	expect_bad("1@a:1@b:2@c:3", "expected ID@");
	expect_bad("0@a:1@b:2", "the id");
	expect_bad("01@a:1@b:2", "the id");
	expect_bad("-1@a:1@b:2", "the id");
	expect_bad("x@a:1@b:2", "the id");
	expect_bad("9223372036854775808@a:1@b:2", "the id");
	expect_bad("@a:1@b:2", "the id");
	expect_bad("1@a@b:2", "Raft address 'a' lacks ':port'");
	expect_bad("1@:1@b:2", "host is empty");
	expect_bad("1@a:0@b:2", "port must be 1..65535");
	expect_bad("1@a:65536@b:2", "port must be 1..65535");
	expect_bad("1@a:1x@b:2", "port must be 1..65535");
	expect_bad("1@a:@b:2", "port must be 1..65535");
	expect_bad("1@::1:5@b:2", "not allowed in a host name");
	expect_bad("1@[::1]@b:2", "[addr]:port");
	expect_bad("1@[]:5@b:2", "[addr]:port");
	expect_bad("1@[zz]:5@b:2", "bad IPv6 address");
	expect_bad("1@a b:1@b:2", "not allowed in a host name");
	expect_bad("1@a:1@ftp://b:2", "only http:// and https://");
	expect_bad("1@a:1@http://b", "REST address 'b' lacks ':port'");
	expect_bad("1@a:1@http://b:2/api", "port must be 1..65535");
}

static void test_list_checks(void **state)
{
	char err[512] = "";
	struct peer out[PEERS_MAX];
	size_t n = 99;
	char *ok[] = { "1@h1:19200@h1:19999", "2@h2:19200@h2:19999", "3@h3:19200@h3:19999" };
	assert_int_equal(peers_parse(ok, 3, 2, out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(out[2].id, 3);
	/* Empty: a group of one, nothing to check. */
	assert_int_equal(peers_parse(NULL, 0, 1, out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);

	assert_int_equal(peers_parse(ok, 3, 4, out, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "master.peers does not list this master (master.id = 4)"));

	char *dup[] = { "1@h1:19200@h1:19999", "1@h2:19200@h2:19999" };
	assert_int_equal(peers_parse(dup, 2, 1, out, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "id 1 appears twice"));

	char *bad[] = { "1@h1:19200@h1:19999", "2@h2@h2:19999" };
	assert_int_equal(peers_parse(bad, 2, 1, out, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "master.peers: item 2 '2@h2@h2:19999'"));

	char *many[PEERS_MAX + 1];
	for (size_t i = 0; i < PEERS_MAX + 1; i++)
		many[i] = ok[0];
	assert_int_equal(peers_parse(many, PEERS_MAX + 1, 1, out, &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "at most 9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted_forms),
		cmocka_unit_test(test_rejected_forms),
		cmocka_unit_test(test_list_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
