/* Tests lib/conf.c: typed values, every error path, sources and precedence. */
#include "lib/conf.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void test_defaults_parse(void **state)
{
	struct strata_conf c;
	conf_init(&c);
	assert_int_equal(c.master_port, 19999);
	assert_string_equal(c.master_bind, "127.0.0.1");
	assert_int_equal(c.worker_port, 29999);
	assert_int_equal(c.worker_s3_port, 39999);
	assert_int_equal(c.master_worker_timeout, 30000);
	assert_int_equal(c.worker_tier_mem_quota, INT64_C(1) << 30);
	assert_int_equal(c.master_addresses.n, 1);
	assert_string_equal(c.master_addresses.items[0], "127.0.0.1:19999");
	assert_string_equal(c.log_level, "info");
	conf_free(&c);
}

static void test_sizes(void **state)
{
	int64_t v;
	assert_int_equal(conf_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(conf_parse_size("4GB", &v), 0);
	assert_int_equal(v, INT64_C(4) << 30);
	assert_int_equal(conf_parse_size("512MiB", &v), 0);
	assert_int_equal(v, INT64_C(512) << 20);
	assert_int_equal(conf_parse_size("64kb", &v), 0);
	assert_int_equal(v, 64 << 10);
	assert_int_equal(conf_parse_size("1T", &v), 0);
	assert_int_equal(v, INT64_C(1) << 40);
	assert_int_equal(conf_parse_size("", &v), -EINVAL);
	assert_int_equal(conf_parse_size("GB", &v), -EINVAL);
	assert_int_equal(conf_parse_size("-1GB", &v), -EINVAL);
	assert_int_equal(conf_parse_size("4XB", &v), -EINVAL);
	assert_int_equal(conf_parse_size("1.5GB", &v), -EINVAL);
	assert_int_equal(conf_parse_size("99999999999TB", &v), -EINVAL);
	assert_int_equal(conf_parse_size("99999999999999999999999", &v), -EINVAL);
}

static void test_durations(void **state)
{
	int64_t v;
	assert_int_equal(conf_parse_duration("250ms", &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(conf_parse_duration("30s", &v), 0);
	assert_int_equal(v, 30000);
	assert_int_equal(conf_parse_duration("5m", &v), 0);
	assert_int_equal(v, 300000);
	assert_int_equal(conf_parse_duration("2h", &v), 0);
	assert_int_equal(v, 7200000);
	assert_int_equal(conf_parse_duration("1d", &v), 0);
	assert_int_equal(v, 86400000);
	assert_int_equal(conf_parse_duration("7", &v), 0);
	assert_int_equal(v, 7000);
	assert_int_equal(conf_parse_duration("7 s", &v), 0);
	assert_int_equal(conf_parse_duration("s", &v), -EINVAL);
	assert_int_equal(conf_parse_duration("3w", &v), -EINVAL);
	assert_int_equal(conf_parse_duration("-3s", &v), -EINVAL);
}

static void test_bools_ints(void **state)
{
	bool b;
	assert_int_equal(conf_parse_bool("yes", &b), 0);
	assert_true(b);
	assert_int_equal(conf_parse_bool("OFF", &b), 0);
	assert_false(b);
	assert_int_equal(conf_parse_bool("maybe", &b), -EINVAL);
	int64_t i;
	assert_int_equal(conf_parse_int("-12", &i), 0);
	assert_int_equal(i, -12);
	assert_int_equal(conf_parse_int("12a", &i), -EINVAL);
	assert_int_equal(conf_parse_int("", &i), -EINVAL);
	assert_int_equal(conf_parse_int(" 1", &i), -EINVAL);
}

static void test_file_text_ok(void **state)
{
	struct strata_conf c;
	conf_init(&c);
	const char *text = "# a comment\n"
			   "\n"
			   "master.port = 20001   # trailing comment\n"
			   "  master.bind=::1\n"
			   "master.addresses = a:1, b:2 ,c:3\n"
			   "worker.tier.mem.quota = 2GB\n"
			   "http.tls_cert = \"/path/with #hash\"\n"
			   "log.level = debug\n";
	char err[256] = "";
	assert_int_equal(conf_parse_text(&c, text, strlen(text), "t.conf", err, sizeof(err)), 0);
	assert_int_equal(c.master_port, 20001);
	assert_string_equal(c.master_bind, "::1");
	assert_int_equal(c.master_addresses.n, 3);
	assert_string_equal(c.master_addresses.items[1], "b:2");
	assert_string_equal(c.master_addresses.items[2], "c:3");
	assert_int_equal(c.worker_tier_mem_quota, INT64_C(2) << 30);
	assert_string_equal(c.http_tls_cert, "/path/with #hash");
	assert_string_equal(c.log_level, "debug");
	conf_free(&c);
}

/* Each bad input must fail with a message naming file, line and key. */
static void expect_text_error(const char *text, int want_rc, const char *want1, const char *want2)
{
	struct strata_conf c;
	conf_init(&c);
	char err[512] = "";
	int rc = conf_parse_text(&c, text, strlen(text), "bad.conf", err, sizeof(err));
	if (rc != want_rc || !strstr(err, want1) || (want2 && !strstr(err, want2)))
		fail_msg("text %s: rc %d (want %d), err '%s' (want '%s' and '%s')", text, rc,
			 want_rc, err, want1, want2 ? want2 : "");
	conf_free(&c);
}

static void test_file_text_errors(void **state)
{
	expect_text_error("master.prot = 1\n", -ENOENT, "bad.conf:1", "unknown key 'master.prot'");
	expect_text_error("\n\nmaster.port = 70000\n", -EINVAL, "bad.conf:3",
			  "'master.port': '70000' is out of range 1..65535");
	expect_text_error("master.port = abc\n", -EINVAL, "bad.conf:1", "not an integer");
	expect_text_error("master.port\n", -EINVAL, "bad.conf:1", "expected 'key = value'");
	expect_text_error("worker.tier.mem.quota = lots\n", -EINVAL, "'worker.tier.mem.quota'",
			  "size");
	expect_text_error("worker.tier.mem.quota = 1KB\n", -EINVAL, "out of range", NULL);
	expect_text_error("master.worker_timeout = 10x\n", -EINVAL, "'master.worker_timeout'",
			  "duration");
	expect_text_error("log.level = loud\n", -EINVAL, "'log.level'", "debug|info|warn|error");
	expect_text_error("master.port = 1\nmaster.port = 2\n", -EINVAL, "bad.conf:2",
			  "already set on line 1");
	expect_text_error("= 5\n", -ENOENT, "bad.conf:1", "unknown key ''");
}

static void test_nul_byte(void **state)
{
	struct strata_conf c;
	conf_init(&c);
	char err[256] = "";
	const char text[] = "master.port = 1\0\n";
	assert_int_equal(conf_parse_text(&c, text, sizeof(text) - 1, "nul.conf", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "nul.conf"));
	assert_non_null(strstr(err, "NUL"));
	conf_free(&c);
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/strata-conf-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/strata.conf", dir);
	struct strata_conf c;
	conf_init(&c);
	char err[512] = "";
	assert_int_equal(conf_load_file(&c, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));

	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("worker.port = 31000\nhttp.threads = 1\n", f);
	fclose(f);
	assert_int_equal(conf_load_file(&c, path, err, sizeof(err)), -EINVAL);
	char want[300];
	snprintf(want, sizeof(want), "%s:2: key 'http.threads'", path);
	assert_non_null(strstr(err, want));
	assert_int_equal(c.worker_port, 31000);
	conf_free(&c);
	unlink(path);
	rmdir(dir);
}

/* A config file holding a secret is refused while others may read it; a
 * world-readable file without one, or the same file at 0640, loads. */
static void test_load_file_secret_mode(void **state)
{
	char dir[] = "/tmp/strata-conf-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/strata.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("worker.port = 31000\ncluster.worker_token = s3cr3t-value\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	struct strata_conf c;
	conf_init(&c);
	char err[512] = "";
	assert_int_equal(conf_load_file(&c, path, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "cluster.worker_token"));
	assert_non_null(strstr(err, "world-readable (mode 0644)"));
	assert_null(strstr(err, "s3cr3t-value"));
	conf_free(&c);

	assert_int_equal(chmod(path, 0640), 0);
	conf_init(&c);
	assert_int_equal(conf_load_file(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.cluster_worker_token, "s3cr3t-value");
	conf_free(&c);

	/* No secret (or an empty one): mode does not matter. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("worker.port = 31000\ncluster.worker_token =\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	conf_init(&c);
	assert_int_equal(conf_load_file(&c, path, err, sizeof(err)), 0);
	conf_free(&c);
	unlink(path);
	rmdir(dir);
}

static void test_env(void **state)
{
	struct strata_conf c;
	conf_init(&c);
	char err[512] = "";
	char *ok[] = { "PATH=/bin", "STRATA_MASTER_PORT=20002", "STRATA_CONFIG=/x",
		       "STRATA_WORKER_TIER_MEM_QUOTA=3GB", NULL };
	assert_int_equal(conf_load_env(&c, ok, err, sizeof(err)), 0);
	assert_int_equal(c.master_port, 20002);
	assert_int_equal(c.worker_tier_mem_quota, INT64_C(3) << 30);

	char *unknown[] = { "STRATA_MASTER_PROT=1", NULL };
	assert_int_equal(conf_load_env(&c, unknown, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "STRATA_MASTER_PROT"));

	char *bad[] = { "STRATA_MASTER_PORT=0", NULL };
	assert_int_equal(conf_load_env(&c, bad, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "environment STRATA_MASTER_PORT"));
	assert_non_null(strstr(err, "'master.port'"));
	conf_free(&c);
}

static void test_set_and_format(void **state)
{
	struct strata_conf c;
	conf_init(&c);
	char err[256], buf[256];
	assert_int_equal(conf_set(&c, "master.worker_timeout", "2m", "--set", err, sizeof(err)), 0);
	const struct conf_key *k = conf_find("master.worker_timeout");
	assert_non_null(k);
	conf_format(&c, k, buf, sizeof(buf));
	assert_string_equal(buf, "120000ms");
	assert_int_equal(conf_set(&c, "master.addresses", "x:1,y:2", "--set", err, sizeof(err)), 0);
	conf_format(&c, conf_find("master.addresses"), buf, sizeof(buf));
	assert_string_equal(buf, "x:1,y:2");
	assert_int_equal(conf_set(&c, "nope", "1", "--set", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "--set: unknown key 'nope'");
	assert_int_equal(conf_set(&c, "master.bind", "a\nb", "--set", err, sizeof(err)), -EINVAL);
	char envname[64];
	conf_env_name("worker.tier.mem.quota", envname, sizeof(envname));
	assert_string_equal(envname, "STRATA_WORKER_TIER_MEM_QUOTA");
	conf_free(&c);
}

/* A secret renders as (set)/(unset) in every config view; the field keeps
 * the value. */
static void test_secret_is_masked(void **state)
{
	struct strata_conf c;
	conf_init(&c);
	char err[256], buf[256];
	const struct conf_key *k = conf_find("cluster.worker_token");
	assert_non_null(k);
	assert_int_equal(k->type, CONF_SECRET);
	assert_string_equal(conf_type_name(k->type), "secret");
	conf_format(&c, k, buf, sizeof(buf));
	assert_string_equal(buf, "(unset)");
	assert_int_equal(conf_set(&c, "cluster.worker_token", "hunter2", "--set", err, sizeof(err)),
			 0);
	assert_string_equal(c.cluster_worker_token, "hunter2");
	conf_format(&c, k, buf, sizeof(buf));
	assert_string_equal(buf, "(set)");
	conf_free(&c);
}

/* docs/configuration.md must list exactly the keys of the table, each with
 * its default. */
static void test_doc_matches_table(void **state)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/docs/configuration.md", STRATA_SOURCE_DIR);
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	static char doc[1 << 17];
	size_t len = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[len] = '\0';

	size_t n;
	const struct conf_key *keys = conf_keys(&n);
	for (size_t i = 0; i < n; i++) {
		char row[256], def[160];
		snprintf(def, sizeof(def), *keys[i].def ? "`%s`" : "(empty)", keys[i].def);
		snprintf(row, sizeof(row), "| `%s` | %s | %s |", keys[i].name,
			 conf_type_name(keys[i].type), def);
		if (!strstr(doc, row))
			fail_msg("docs/configuration.md lacks the row starting '%s'", row);
	}
	/* And no documented key that the code lacks. */
	size_t rows = 0;
	for (char *p = strstr(doc, "\n| `"); p; p = strstr(p + 1, "\n| `")) {
		char name[128];
		if (sscanf(p, "\n| `%127[^`]`", name) != 1)
			continue;
		rows++;
		if (!conf_find(name))
			fail_msg("docs/configuration.md documents '%s', which the code lacks", name);
	}
	assert_int_equal(rows, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_parse),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_bools_ints),
		cmocka_unit_test(test_file_text_ok),
		cmocka_unit_test(test_file_text_errors),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_file_secret_mode),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_set_and_format),
		cmocka_unit_test(test_secret_is_masked),
		cmocka_unit_test(test_doc_matches_table),
	};
	return cmocka_run_group_tests_name("lib_conf", tests, NULL, NULL);
}
