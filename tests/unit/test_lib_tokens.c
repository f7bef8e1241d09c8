/* Tests of lib/tokens.c: the token file's parser and writer (round trip,
 * every field's error named with its line), token creation and
 * verification (against hashlib's SHA-256, computed here by hand from the
 * documented formula), revocation, and the file rules (mode 0600, atomic
 * write, refusal of group/other bits, the reloading store). */
#include "lib/tokens.h"

#include <errno.h>
#include <openssl/sha.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static const char *const SALT = "00112233445566778899aabbccddeeff";

static void fill(unsigned char *rnd, unsigned char seed)
{
	for (size_t i = 0; i < TOKENS_RANDOM_LEN; i++)
		rnd[i] = (unsigned char)(seed + i);
}

static void test_create_verify_and_the_formula(void **state)
{
	struct tokens_set s = { 0 };
	unsigned char rnd[TOKENS_RANDOM_LEN];
	char tok[TOKENS_TOKEN_LEN + 1], err[256];
	fill(rnd, 0x10);
	assert_int_equal(tokens_create(&s, TOKENS_ROLE_ADMIN, "ops: alice", 1700000000, rnd, tok,
				       sizeof(tok), err, sizeof(err)),
			 0);
	assert_int_equal(strlen(tok), TOKENS_TOKEN_LEN);
	assert_memory_equal(tok, "stk_101112131415_", 17);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].id, "101112131415");
	assert_string_equal(s.v[0].name, "ops: alice");
	/* The secret is not stored anywhere in the entry. */
	assert_null(strstr(s.v[0].hash, tok + 17));
	/* hash = SHA-256(salt bytes || secret text), by hand. */
	unsigned char salt[16], md[32];
	for (int i = 0; i < 16; i++)
		sscanf(s.v[0].salt + 2 * i, "%2hhx", &salt[i]);
	unsigned char in[16 + TOKENS_SECRET_LEN];
	memcpy(in, salt, 16);
	memcpy(in + 16, tok + 17, TOKENS_SECRET_LEN);
	SHA256(in, sizeof(in), md);
	char hex[65];
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	assert_string_equal(hex, s.v[0].hash);

	enum tokens_role role = TOKENS_ROLE_NONE;
	assert_int_equal(tokens_verify(&s, tok, &role), 0);
	assert_int_equal(role, TOKENS_ROLE_ADMIN);
	/* Every one-character change of the secret is refused. */
	for (size_t i = 17; i < TOKENS_TOKEN_LEN; i++) {
		char bad[TOKENS_TOKEN_LEN + 1];
		memcpy(bad, tok, sizeof(bad));
		bad[i] = bad[i] == 'a' ? 'b' : 'a';
		assert_int_equal(tokens_verify(&s, bad, &role), -EACCES);
	}
	char other[TOKENS_TOKEN_LEN + 1];
	memcpy(other, tok, sizeof(other));
	other[4] = other[4] == '0' ? '9' : '0';
	assert_int_equal(tokens_verify(&s, other, &role), -ENOENT);
	assert_int_equal(tokens_verify(&s, "stk_101112131415_abc", &role), -EINVAL);
	assert_int_equal(tokens_verify(&s, "", &role), -EINVAL);
	char upper[TOKENS_TOKEN_LEN + 1];
	memcpy(upper, tok, sizeof(upper));
	upper[20] = 'A';
	assert_int_equal(tokens_verify(&s, upper, &role), -EINVAL);

	/* Same random bytes: the same id, refused. */
	assert_int_equal(tokens_create(&s, TOKENS_ROLE_READONLY, NULL, 1, rnd, tok, sizeof(tok),
				       err, sizeof(err)),
			 -EEXIST);
	assert_int_equal(tokens_create(&s, TOKENS_ROLE_NONE, NULL, 1, rnd, tok, sizeof(tok), err,
				       sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "role"));
	fill(rnd, 0x40);
	assert_int_equal(tokens_create(&s, TOKENS_ROLE_READONLY, "bad\nname", 1, rnd, tok,
				       sizeof(tok), err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "name"));
	assert_int_equal(tokens_create(&s, TOKENS_ROLE_READONLY, NULL, 1, rnd, tok, sizeof(tok),
				       err, sizeof(err)),
			 0);
	assert_int_equal(tokens_verify(&s, tok, &role), 0);
	assert_int_equal(role, TOKENS_ROLE_READONLY);
	assert_int_equal(tokens_revoke(&s, s.v[1].id), 0);
	assert_int_equal(tokens_verify(&s, tok, &role), -ENOENT);
	assert_int_equal(tokens_revoke(&s, "ffffffffffff"), -ENOENT);
	tokens_set_free(&s);
	assert_int_equal(s.n, 0);
}

static void test_format_parse_round_trip(void **state)
{
	struct tokens_set s = { 0 }, back = { 0 };
	unsigned char rnd[TOKENS_RANDOM_LEN];
	char tok[TOKENS_TOKEN_LEN + 1], err[256];
	for (int i = 0; i < 5; i++) {
		fill(rnd, (unsigned char)(i * 7));
		assert_int_equal(tokens_create(&s, i % 2 ? TOKENS_ROLE_READONLY : TOKENS_ROLE_ADMIN,
					       i == 3 ? "a:b:c" : i == 4 ? "" : "name", 100 + i,
					       rnd, tok, sizeof(tok), err, sizeof(err)),
				 0);
	}
	char *text;
	size_t len;
	assert_int_equal(tokens_format(&s, &text, &len), 0);
	assert_int_equal(tokens_parse(text, len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, s.n);
	assert_memory_equal(back.v, s.v, s.n * sizeof(*s.v));
	free(text);
	tokens_set_free(&s);
	tokens_set_free(&back);
}

static void expect_error(const char *text, const char *want)
{
	struct tokens_set s = { 0 };
	char err[256] = "";
	assert_int_equal(tokens_parse(text, strlen(text), &s, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("parsing '%s': got '%s', want '%s'", text, err, want);
	assert_int_equal(s.n, 0);
}

static void test_parse_errors_name_line_and_field(void **state)
{
	char line[512];
	const char *hash = "0000000000000000000000000000000000000000000000000000000000000000";
	snprintf(line, sizeof(line), "# c\n\naaaaaaaaaaaa:admin:%s:%s:5:n\n", SALT, hash);
	struct tokens_set s = { 0 };
	char err[256];
	assert_int_equal(tokens_parse(line, strlen(line), &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].created, 5);
	tokens_set_free(&s);
	/* CRLF and no final newline are fine too. */
	snprintf(line, sizeof(line), "aaaaaaaaaaaa:readonly:%s:%s:5:n\r", SALT, hash);
	assert_int_equal(tokens_parse(line, strlen(line), &s, err, sizeof(err)), 0);
	assert_string_equal(s.v[0].name, "n");
	tokens_set_free(&s);

	expect_error("x\n", "line 1: id: missing");
	snprintf(line, sizeof(line), "#\nAAAAAAAAAAAA:admin:%s:%s:5:n\n", SALT, hash);
	expect_error(line, "line 2: id: want 12");
	snprintf(line, sizeof(line), "aaaaaaaaaaaa:root:%s:%s:5:n\n", SALT, hash);
	expect_error(line, "line 1: role: 'root'");
	snprintf(line, sizeof(line), "aaaaaaaaaaaa:admin:%.30s:%s:5:n\n", SALT, hash);
	expect_error(line, "salt");
	snprintf(line, sizeof(line), "aaaaaaaaaaaa:admin:%s:%.63sg:5:n\n", SALT, hash);
	expect_error(line, "hash");
	snprintf(line, sizeof(line), "aaaaaaaaaaaa:admin:%s:%s:-5:n\n", SALT, hash);
	expect_error(line, "created");
	snprintf(line, sizeof(line), "aaaaaaaaaaaa:admin:%s:%s::n\n", SALT, hash);
	expect_error(line, "created");
	snprintf(line, sizeof(line), "aaaaaaaaaaaa:admin:%s:%s:5:n\x01\n", SALT, hash);
	expect_error(line, "name");
	snprintf(line, sizeof(line), "aaaaaaaaaaaa:admin:%s:%s:5:%070d\n", SALT, hash, 0);
	expect_error(line, "name");
	snprintf(line, sizeof(line),
		 "aaaaaaaaaaaa:admin:%s:%s:5:n\naaaaaaaaaaaa:readonly:%s:%s:6:m\n", SALT, hash,
		 SALT, hash);
	expect_error(line, "line 2: id: aaaaaaaaaaaa appears twice");
}

static void test_files_mode_and_atomic_write(void **state)
{
	char dir[64], path[128], err[512];
	snprintf(dir, sizeof(dir), "/tmp/strata-tokens-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/dir/tokens", dir);
	struct tokens_set s = { 0 }, back = { 0 };
	unsigned char rnd[TOKENS_RANDOM_LEN];
	char tok[TOKENS_TOKEN_LEN + 1];
	fill(rnd, 3);
	assert_int_equal(tokens_load(path, &back, err, sizeof(err)), -ENOENT);
	assert_int_equal(tokens_create(&s, TOKENS_ROLE_ADMIN, "x", 1, rnd, tok, sizeof(tok), err,
				       sizeof(err)),
			 0);
	assert_int_equal(tokens_save(path, &s, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	char sub[160];
	snprintf(sub, sizeof(sub), "%s/sub/dir", dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(tokens_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 1);
	tokens_set_free(&back);

	/* The file never holds the secret. */
	FILE *f = fopen(path, "r");
	char text[4096];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	assert_null(strstr(text, tok + 17));

	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(tokens_load(path, &back, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "mode 0640"));
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(tokens_load(path, &back, err, sizeof(err)), -EACCES);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(tokens_load(sub, &back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));

	/* The reloading store: a missing file is empty, changes are seen once
	 * a look is due, and an unusable file fails closed. */
	struct tokens_store *store;
	char nopath[160];
	snprintf(nopath, sizeof(nopath), "%s/none", dir);
	assert_int_equal(tokens_store_open(nopath, &store, err, sizeof(err)), 0);
	bool broken = true;
	assert_int_equal(tokens_store_count(store, &broken), 0);
	assert_false(broken);
	tokens_store_free(store);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(tokens_store_open(path, &store, err, sizeof(err)), -EACCES);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(tokens_store_open(path, &store, err, sizeof(err)), 0);
	enum tokens_role role;
	assert_int_equal(tokens_store_verify(store, tok, &role), 0);
	assert_int_equal(tokens_store_refresh(store, 0, 1000, err, sizeof(err)), 0);
	assert_int_equal(tokens_revoke(&s, s.v[0].id), 0);
	assert_int_equal(tokens_save(path, &s, err, sizeof(err)), 0);
	assert_int_equal(tokens_store_refresh(store, 500, 1000, err, sizeof(err)), 0);
	assert_int_equal(tokens_store_verify(store, tok, &role), 0); /* not looked yet */
	assert_int_equal(tokens_store_refresh(store, 1000, 1000, err, sizeof(err)), 1);
	assert_int_equal(tokens_store_verify(store, tok, &role), -ENOENT);
	assert_int_equal(tokens_store_refresh(store, 2000, 1000, err, sizeof(err)), 0);
	assert_int_equal(chmod(path, 0660), 0);
	assert_int_equal(tokens_store_refresh(store, 3000, 1000, err, sizeof(err)), -EACCES);
	tokens_store_count(store, &broken);
	assert_true(broken);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(tokens_store_refresh(store, 4000, 1000, err, sizeof(err)), 1);
	tokens_store_count(store, &broken);
	assert_false(broken);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(tokens_store_refresh(store, 5000, 1000, err, sizeof(err)), 1);
	assert_int_equal(tokens_store_count(store, &broken), 0);
	tokens_store_free(store);

	/* No temporary file is left behind. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s/sub/dir)\"", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	tokens_set_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_verify_and_the_formula),
		cmocka_unit_test(test_format_parse_round_trip),
		cmocka_unit_test(test_parse_errors_name_line_and_field),
		cmocka_unit_test(test_files_mode_and_atomic_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
