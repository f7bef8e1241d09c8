/* Tests daemon/master/backup.c and backup_format.c: the backup file's
 * header round trip and every refusal of the decoder; a backup taken on a
 * one-master group restored into another state dir comes up as a new
 * group with the same namespace and without the old address book; the
 * restore refuses damaged or foreign payloads, a locked (running) state
 * dir, existing state without force, bad voter sets; a follower refuses
 * to take a backup. */
#include "daemon/master/backup.h"
#include "daemon/master/journal.h"
#include "daemon/master/meta.h"
#include "daemon/master/ns.h"

#include "lib/crc32c.h"
#include "lib/err.h"

#include <errno.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
	char dir[64];
	char a[96], b[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/strata-test-backup.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->a, sizeof(f->a), "%s/a", f->dir);
	snprintf(f->b, sizeof(f->b), "%s/b", f->dir);
	if (mkdir(f->a, 0700) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct meta *open_meta(const char *dir, bool join)
{
	struct meta_opts o = { .state_dir = dir, .tick_ms = 20, .election_ticks = 5,
			       .join = join };
	struct meta *m = NULL;
	char err[1024] = "";
	int rc = meta_open(&o, &m, err, sizeof(err));
	if (rc)
		print_error("meta_open: %d %s\n", rc, err);
	assert_int_equal(rc, 0);
	return m;
}

static void submit_ok(struct meta *m, struct journal_cmd *cmd)
{
	char err[512] = "";
	assert_non_null(cmd);
	int rc = meta_submit(m, cmd, err, sizeof(err));
	if (rc)
		print_error("submit: %d %s\n", rc, err);
	assert_int_equal(rc, 0);
	journal_free(cmd);
}

static void mkdir_ok(struct meta *m, const char *path)
{
	struct journal_cmd *cmd = journal_new(JOURNAL_MKDIR);
	assert_non_null(cmd);
	snprintf(cmd->u.mkdir.path, sizeof(cmd->u.mkdir.path), "%s", path);
	cmd->u.mkdir.time_ms = 1;
	submit_ok(m, cmd);
}

/* A backup of a group holding /x/y and an address book entry for an old
 * master 7. */
static uint8_t *take_backup(const char *dir, size_t *len)
{
	struct meta *m = open_meta(dir, false);
	mkdir_ok(m, "/x");
	mkdir_ok(m, "/x/y");
	struct journal_cmd *cmd = journal_new(JOURNAL_MASTER_SET);
	assert_non_null(cmd);
	cmd->u.master_set.id = 7;
	snprintf(cmd->u.master_set.raft_address, sizeof(cmd->u.master_set.raft_address),
		 "old-host:19200");
	snprintf(cmd->u.master_set.rest_url, sizeof(cmd->u.master_set.rest_url),
		 "http://old-host:19999");
	submit_ok(m, cmd);
	uint8_t header[BACKUP_HEADER_SIZE];
	uint8_t *payload = NULL;
	size_t plen = 0;
	char err[512] = "";
	assert_int_equal(backup_take(m, 1234, header, &payload, &plen, err, sizeof(err)), 0);
	meta_close(m);
	uint8_t *file = malloc(BACKUP_HEADER_SIZE + plen);
	assert_non_null(file);
	memcpy(file, header, BACKUP_HEADER_SIZE);
	memcpy(file + BACKUP_HEADER_SIZE, payload, plen);
	free(payload);
	*len = BACKUP_HEADER_SIZE + plen;
	return file;
}

static void test_header_round_trip(void **state)
{
	(void)state;
	uint8_t file[BACKUP_HEADER_SIZE + 5];
	memcpy(file + BACKUP_HEADER_SIZE, "hello", 5);
	struct backup_header h = { .applied_index = 42, .term = 3, .master_id = 2,
				   .created_ms = 1700000000123, .payload_len = 5 };
	backup_encode_header(&h, file + BACKUP_HEADER_SIZE, file);
	assert_memory_equal(file, "STRATABK", 8);
	struct backup_header d;
	const uint8_t *payload = NULL;
	char err[256] = "";
	assert_int_equal(backup_decode(file, sizeof(file), &d, &payload, err, sizeof(err)), 0);
	assert_int_equal(d.version, 1);
	assert_int_equal(d.applied_index, 42);
	assert_int_equal(d.term, 3);
	assert_int_equal(d.master_id, 2);
	assert_int_equal(d.created_ms, 1700000000123);
	assert_int_equal(d.payload_len, 5);
	assert_ptr_equal(payload, file + BACKUP_HEADER_SIZE);
}

/* Decodes buf after recomputing the header CRC (so the check behind it
 * is reached); returns rc and expects err to contain want. */
static void refused(uint8_t *buf, size_t len, bool fix_crc, const char *want)
{
	if (fix_crc && len >= BACKUP_HEADER_SIZE) {
		uint32_t crc = crc32c(0, buf, 88);
		for (int i = 0; i < 4; i++)
			buf[88 + i] = (uint8_t)(crc >> (8 * i));
	}
	struct backup_header h;
	const uint8_t *payload;
	char err[256] = "";
	assert_int_equal(backup_decode(buf, len, &h, &payload, err, sizeof(err)), -EBADMSG);
	if (!strstr(err, want))
		print_error("wanted '%s' in '%s'\n", want, err);
	assert_non_null(strstr(err, want));
}

static void test_decode_refusals(void **state)
{
	(void)state;
	uint8_t good[BACKUP_HEADER_SIZE + 8];
	memset(good + BACKUP_HEADER_SIZE, 'p', 8);
	struct backup_header h = { .applied_index = 9, .term = 1, .master_id = 1,
				   .payload_len = 8 };
	backup_encode_header(&h, good + BACKUP_HEADER_SIZE, good);
	uint8_t b[sizeof(good) + 1];

	refused(good, 10, false, "shorter than the 96-byte header");
	memcpy(b, good, sizeof(good));
	b[0] = 'X';
	refused(b, sizeof(good), false, "bad magic");
	memcpy(b, good, sizeof(good));
	b[8] = 2;
	refused(b, sizeof(good), true, "format version 2 is not supported");
	memcpy(b, good, sizeof(good));
	b[12] = 95;
	refused(b, sizeof(good), true, "header size 95");
	memcpy(b, good, sizeof(good));
	b[30] ^= 1; /* the term: only the header CRC notices */
	refused(b, sizeof(good), false, "header CRC32C");
	memcpy(b, good, sizeof(good));
	b[93] = 1;
	refused(b, sizeof(good), true, "reserved bytes");
	memcpy(b, good, sizeof(good));
	memset(b + 16, 0, 8);
	refused(b, sizeof(good), true, "applied_index is 0");
	memcpy(b, good, sizeof(good));
	memset(b + 48, 0, 8);
	refused(b, sizeof(good), true, "payload_len 0 out of range");
	memcpy(b, good, sizeof(good));
	memset(b + 48, 0xff, 8);
	refused(b, sizeof(good), true, "out of range");
	refused(good, sizeof(good) - 1, false, "truncated: the header promises 8 payload bytes, "
		"the file holds 7");
	memcpy(b, good, sizeof(good));
	b[sizeof(good)] = 0;
	refused(b, sizeof(good) + 1, false, "1 trailing bytes");
	memcpy(b, good, sizeof(good));
	b[BACKUP_HEADER_SIZE + 3] ^= 0x10;
	refused(b, sizeof(good), false, "checksum mismatch (SHA-256)");
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	size_t len = 0;
	uint8_t *file = take_backup(f->a, &len);
	struct backup_header h;
	const uint8_t *payload;
	char err[512] = "";
	assert_int_equal(backup_decode(file, len, &h, &payload, err, sizeof(err)), 0);
	assert_true(h.applied_index >= 4); /* NOOP, two mkdirs, master_set */
	assert_int_equal(h.created_ms, 1234);
	assert_int_equal(h.master_id, 1);

	uint64_t voters[] = { 1 };
	struct backup_restore_opts ro = { .state_dir = f->b, .voters = voters, .nvoters = 1 };
	assert_int_equal(backup_restore(file, len, &ro, err, sizeof(err)), 0);
	struct meta *m = open_meta(f->b, false);
	struct ns *ns = meta_read_lock(m);
	struct ns_inode n;
	int rc = ns_lookup(ns, "/x/y", &n);
	meta_read_unlock(m);
	bool old_book = false;
	assert_int_equal(rc, 0);
	assert_true(n.is_dir);
	struct meta_status *st = malloc(sizeof(*st));
	meta_status(m, st);
	assert_string_equal(st->role, "leader");
	/* Past the gap: the new term's NOOP follows the snapshot. */
	assert_true(st->applied_index > h.applied_index + BACKUP_RESTORE_GAP);
	assert_true(st->term > h.term);
	for (size_t i = 0; i < st->nmembers; i++)
		old_book |= st->members[i].id == 7;
	assert_false(old_book);
	free(st);
	mkdir_ok(m, "/after");
	meta_close(m);
	/* And again from disk. */
	m = open_meta(f->b, false);
	ns = meta_read_lock(m);
	assert_int_equal(ns_lookup(ns, "/after", &n), 0);
	/* Ids too are handed out past the gap, never again one the old group
	 * may have used after the backup. */
	assert_true(n.id > BACKUP_RESTORE_GAP);
	assert_int_equal(ns_lookup(ns, "/x/y", &n), 0);
	meta_read_unlock(m);
	meta_close(m);
	free(file);
}

static void restore_refused(const uint8_t *file, size_t len, const struct backup_restore_opts *ro,
			    int want_rc, const char *want)
{
	char err[1024] = "";
	int rc = backup_restore(file, len, ro, err, sizeof(err));
	if (rc != want_rc || !strstr(err, want))
		print_error("rc %d err '%s'; wanted %d '%s'\n", rc, err, want_rc, want);
	else
		print_message("refused as expected: %s\n", err);
	assert_int_equal(rc, want_rc);
	assert_non_null(strstr(err, want));
}

/* A file of payload with a valid header at index. */
static uint8_t *wrap(const uint8_t *payload, size_t plen, uint64_t index, size_t *len)
{
	uint8_t *file = malloc(BACKUP_HEADER_SIZE + plen);
	assert_non_null(file);
	memcpy(file + BACKUP_HEADER_SIZE, payload, plen);
	struct backup_header h = { .applied_index = index, .term = 1, .payload_len = plen };
	backup_encode_header(&h, file + BACKUP_HEADER_SIZE, file);
	*len = BACKUP_HEADER_SIZE + plen;
	return file;
}

static void test_restore_refusals(void **state)
{
	struct fixture *f = *state;
	size_t len = 0, flen = 0;
	uint8_t *file = take_backup(f->a, &len);
	struct backup_header h;
	const uint8_t *payload;
	char err[512] = "";
	assert_int_equal(backup_decode(file, len, &h, &payload, err, sizeof(err)), 0);
	uint64_t voters[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	struct backup_restore_opts ro = { .state_dir = f->b, .voters = voters, .nvoters = 1 };

	struct backup_restore_opts bad = ro;
	bad.nvoters = 0;
	restore_refused(file, len, &bad, -EINVAL, "0 voters");
	bad.nvoters = 10;
	restore_refused(file, len, &bad, -EINVAL, "10 voters");

	/* A damaged file: a flipped payload byte. */
	file[len / 2] ^= 0x40;
	restore_refused(file, len, &ro, -EBADMSG, "checksum mismatch");
	file[len / 2] ^= 0x40;
	restore_refused(file, len - 1, &ro, -EBADMSG, "truncated");

	/* Payloads with a good checksum that are not what they claim. */
	static const char junk[] = "just some bytes, not a database at all......"
				   "................................................................";
	uint8_t *other = wrap((const uint8_t *)junk, sizeof(junk) - 1, h.applied_index, &flen);
	restore_refused(other, flen, &ro, -EBADMSG, "not an SQLite database");
	free(other);
	other = wrap(payload, h.payload_len, h.applied_index + 1, &flen);
	restore_refused(other, flen, &ro, -EBADMSG, "header says applied_index");
	free(other);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_int64 n = 0;
	unsigned char *img = sqlite3_serialize(db, "main", &n, 0);
	sqlite3_close(db);
	other = wrap(img, (size_t)n, 5, &flen);
	sqlite3_free(img);
	restore_refused(other, flen, &ro, -EBADMSG, "not a strata namespace");
	free(other);
	/* A damaged page: the b-tree check notices. */
	uint8_t *copy = malloc(h.payload_len);
	memcpy(copy, payload, h.payload_len);
	memset(copy + 4096, 0xa5, 64); /* page 2's header and cell pointers */
	other = wrap(copy, h.payload_len, h.applied_index, &flen);
	free(copy);
	restore_refused(other, flen, &ro, -EBADMSG, "backup payload:");
	free(other);
	struct stat sb;
	assert_int_not_equal(stat(f->b, &sb), 0); /* checked before anything is laid down */

	/* A running master holds the lock. */
	struct meta *m = open_meta(f->a, false);
	struct backup_restore_opts busy = ro;
	busy.state_dir = f->a;
	restore_refused(file, len, &busy, -EBUSY, "is running on");
	/* ... and so does a second master on the same directory. */
	struct meta_opts o = { .state_dir = f->a };
	struct meta *m2 = NULL;
	char err2[512] = "";
	assert_int_equal(meta_open(&o, &m2, err2, sizeof(err2)), -EBUSY);
	assert_non_null(strstr(err2, "holds"));
	meta_close(m);
	/* Stopped, but its state is there. */
	restore_refused(file, len, &busy, -EEXIST, "already holds master state");
	busy.force = true;
	assert_int_equal(backup_restore(file, len, &busy, err, sizeof(err)), 0);
	/* A parent that does not exist. */
	struct backup_restore_opts nodir = ro;
	nodir.state_dir = "/nonexistent-strata-dir/state";
	restore_refused(file, len, &nodir, -ENOENT, "/nonexistent-strata-dir/state");
	free(file);
}

static void test_follower_refuses(void **state)
{
	struct fixture *f = *state;
	struct meta *m = open_meta(f->a, true);
	uint8_t header[BACKUP_HEADER_SIZE];
	uint8_t *payload = NULL;
	size_t len = 0;
	char err[512] = "";
	assert_int_equal(backup_take(m, 0, header, &payload, &len, err, sizeof(err)),
			 ST_ENOTLEADER);
	assert_non_null(strstr(err, "is not the leader"));
	assert_null(payload);
	meta_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_round_trip),
		cmocka_unit_test(test_decode_refusals),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_refuses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
