/*
 * Tests of raft/storage.c and raft/format.c on real files in a temporary
 * directory: round trips, torn and corrupted tails, atomic meta and
 * snapshot replacement, compaction, and I/O faults injected with the
 * linker's --wrap (fdatasync, unlinkat; see raft.cmake).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "raft/storage.h"

/* ---- fault injection ---- */
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
int __real_unlinkat(int dirfd, const char *path, int flags);
int __wrap_unlinkat(int dirfd, const char *path, int flags);

static int fdatasync_fail_after = -1; /* fail the (n+1)th call; -1: never */
static int unlinkat_fail_after = -1;

int __wrap_fdatasync(int fd)
{
	if (fdatasync_fail_after == 0) {
		fdatasync_fail_after = -1;
		errno = EIO;
		return -1;
	}
	if (fdatasync_fail_after > 0)
		fdatasync_fail_after--;
	return __real_fdatasync(fd);
}

int __wrap_unlinkat(int dirfd, const char *path, int flags)
{
	if (unlinkat_fail_after == 0 && strncmp(path, "log-", 4) == 0) {
		unlinkat_fail_after = -1;
		errno = EIO;
		return -1;
	}
	if (unlinkat_fail_after > 0 && strncmp(path, "log-", 4) == 0)
		unlinkat_fail_after--;
	return __real_unlinkat(dirfd, path, flags);
}

/* ---- helpers ---- */

struct fixture {
	char root[64];
	char dir[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->root, "/tmp/raft-storage-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/raft", f->root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd) != 0)
		return -1;
	free(f);
	fdatasync_fail_after = -1;
	unlinkat_fail_after = -1;
	return 0;
}

static uint8_t payload_byte(uint64_t index, size_t i)
{
	return (uint8_t)(index * 31 + i * 7);
}

/* Entry i: term given, payload of (i % 50) bytes derived from the index. */
static void make_entries(struct raft_entry *ents, uint8_t *bufs, uint64_t first, size_t n,
			 uint64_t term)
{
	for (size_t k = 0; k < n; k++) {
		uint64_t index = first + k;
		size_t len = (size_t)(index % 50);
		uint8_t *data = bufs + k * 64;
		for (size_t i = 0; i < len; i++)
			data[i] = payload_byte(index, i) ^ (uint8_t)term;
		ents[k] = (struct raft_entry){ .term = term, .index = index,
					       .type = index % 7 ? RAFT_ENTRY_NORMAL : RAFT_ENTRY_NOOP,
					       .len = len, .data = len ? data : NULL };
	}
}

static void append_range(struct raft_storage *st, uint64_t first, size_t n, uint64_t term)
{
	struct raft_entry *ents = calloc(n, sizeof(*ents));
	uint8_t *bufs = calloc(n, 64);
	assert_non_null(ents);
	assert_non_null(bufs);
	make_entries(ents, bufs, first, n, term);
	assert_int_equal(raft_storage_append(st, ents, n), 0);
	free(ents);
	free(bufs);
}

static void check_entries(const struct raft_storage_boot *b, uint64_t first, size_t n,
			  uint64_t term)
{
	assert_int_equal(b->nentries, n);
	for (size_t k = 0; k < n; k++) {
		const struct raft_entry *e = &b->entries[k];
		uint64_t index = first + k;
		assert_int_equal(e->index, index);
		assert_int_equal(e->term, term);
		assert_int_equal(e->len, index % 50);
		for (size_t i = 0; i < e->len; i++)
			assert_int_equal(e->data[i], payload_byte(index, i) ^ (uint8_t)term);
	}
}

static struct raft_storage *open_ok(struct fixture *f, struct raft_storage_boot *b,
				    size_t segment_max)
{
	struct raft_storage *st = NULL;
	struct raft_storage_options o = { .segment_max = segment_max };
	char err[256] = "";
	int rc = raft_storage_open(f->dir, &o, &st, b, err, sizeof(err));
	if (rc)
		fail_msg("raft_storage_open: %d (%s)", rc, err);
	return st;
}

/* Paths of the segment files, ascending. */
static size_t segments(struct fixture *f, char names[][400], size_t max)
{
	DIR *d = opendir(f->dir);
	size_t n = 0;
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "log-", 4) && n < max)
			snprintf(names[n++], 400, "%s/%s", f->dir, de->d_name);
	closedir(d);
	for (size_t i = 1; i < n; i++) /* insertion sort: fixed-width names */
		for (size_t j = i; j > 0 && strcmp(names[j], names[j - 1]) < 0; j--) {
			char t[400];
			strcpy(t, names[j]);
			strcpy(names[j], names[j - 1]);
			strcpy(names[j - 1], t);
		}
	return n;
}

static off_t file_size(const char *path)
{
	struct stat stbuf;
	assert_int_equal(stat(path, &stbuf), 0);
	return stbuf.st_size;
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t c;
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

/* ---- tests ---- */

static void test_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct raft_storage_boot b;
	struct raft_storage *st = open_ok(f, &b, 1024);
	assert_int_equal(b.nentries, 0);
	assert_int_equal(b.hs.term, 0);
	struct raft_hard_state hs = { .term = 7, .vote = 3 };
	assert_int_equal(raft_storage_set_hard_state(st, &hs), 0);
	append_range(st, 1, 60, 2);
	append_range(st, 61, 40, 3);
	assert_int_equal(raft_storage_last_index(st), 100);
	raft_storage_close(st);

	char names[64][400];
	assert_true(segments(f, names, 64) > 2); /* rolled over */
	struct stat stbuf;
	assert_int_equal(stat(f->dir, &stbuf), 0);
	assert_int_equal(stbuf.st_mode & 0777, 0700);
	assert_int_equal(stat(names[0], &stbuf), 0);
	assert_int_equal(stbuf.st_mode & 0777, 0600);

	st = open_ok(f, &b, 1024);
	assert_int_equal(b.hs.term, 7);
	assert_int_equal(b.hs.vote, 3);
	assert_int_equal(b.truncated_bytes, 0);
	assert_int_equal(b.nentries, 100);
	struct raft_storage_boot part = b;
	part.nentries = 60;
	check_entries(&part, 1, 60, 2);
	assert_int_equal(b.entries[60].term, 3);
	assert_int_equal(b.entries[99].index, 100);
	raft_storage_boot_free(&b);
	/* appending continues where it left off */
	append_range(st, 101, 1, 3);
	struct raft_entry gap = { .term = 3, .index = 105, .type = RAFT_ENTRY_NOOP };
	assert_int_equal(raft_storage_append(st, &gap, 1), -EINVAL);
	raft_storage_close(st);
}

static void test_conflict_truncates_suffix(void **state)
{
	struct fixture *f = *state;
	struct raft_storage_boot b;
	struct raft_storage *st = open_ok(f, &b, 1024);
	append_range(st, 1, 80, 1);
	/* a new leader overwrites from 30 on (crossing segment boundaries) */
	append_range(st, 30, 5, 4);
	assert_int_equal(raft_storage_last_index(st), 34);
	raft_storage_close(st);
	st = open_ok(f, &b, 1024);
	assert_int_equal(b.nentries, 34);
	struct raft_storage_boot head = b;
	head.nentries = 29;
	check_entries(&head, 1, 29, 1);
	for (size_t k = 29; k < 34; k++)
		assert_int_equal(b.entries[k].term, 4);
	raft_storage_boot_free(&b);
	assert_int_equal(raft_storage_truncate_suffix(st, 10), 0);
	raft_storage_close(st);
	st = open_ok(f, &b, 1024);
	check_entries(&b, 1, 9, 1);
	raft_storage_boot_free(&b);
	raft_storage_close(st);
}

static void test_torn_tail_truncated(void **state)
{
	struct fixture *f = *state;
	struct raft_storage_boot b;
	struct raft_storage *st = open_ok(f, &b, 0);
	append_range(st, 1, 20, 1);
	raft_storage_close(st);
	char names[8][400];
	assert_int_equal(segments(f, names, 8), 1);
	off_t size = file_size(names[0]);
	/* cut the last record (index 20, 20 bytes of payload) in half */
	assert_int_equal(truncate(names[0], size - 30), 0);
	st = open_ok(f, &b, 0);
	check_entries(&b, 1, 19, 1);
	assert_int_equal(b.truncated_bytes, 32 + 20 - 30);
	assert_int_equal(file_size(names[0]), size - 52);
	raft_storage_boot_free(&b);
	append_range(st, 20, 3, 1); /* the log goes on from the cut */
	raft_storage_close(st);
	st = open_ok(f, &b, 0);
	check_entries(&b, 1, 22, 1);
	assert_int_equal(b.truncated_bytes, 0);
	raft_storage_boot_free(&b);
	raft_storage_close(st);
}

static void test_corrupt_byte_detected(void **state)
{
	struct fixture *f = *state;
	struct raft_storage_boot b;
	struct raft_storage *st = open_ok(f, &b, 0);
	append_range(st, 1, 20, 1);
	raft_storage_close(st);
	char names[8][400];
	assert_int_equal(segments(f, names, 8), 1);
	/* offset of record 15's payload: header 24, records 1..14 */
	off_t off = 24;
	for (uint64_t i = 1; i < 15; i++)
		off += 32 + (off_t)(i % 50);
	flip_byte(names[0], off + 32 + 3);
	st = open_ok(f, &b, 0);
	check_entries(&b, 1, 14, 1); /* 15 and everything after: never applied */
	assert_true(b.truncated_bytes > 0);
	raft_storage_boot_free(&b);
	raft_storage_close(st);
	/* a flipped bit in a record header's index is caught as well */
	flip_byte(names[0], off - 32 - (off_t)(14 % 50) + 16);
	st = open_ok(f, &b, 0);
	check_entries(&b, 1, 13, 1);
	raft_storage_boot_free(&b);
	raft_storage_close(st);
}

static void test_damage_before_tail_refused(void **state)
{
	struct fixture *f = *state;
	struct raft_storage_boot b;
	struct raft_storage *st = open_ok(f, &b, 512);
	append_range(st, 1, 60, 1);
	raft_storage_close(st);
	char names[64][400];
	size_t n = segments(f, names, 64);
	assert_true(n >= 3);
	flip_byte(names[0], 24 + 40); /* inside the first segment */
	struct raft_storage *st2 = NULL;
	char err[256] = "";
	struct raft_storage_options o = { .segment_max = 512 };
	assert_int_equal(raft_storage_open(f->dir, &o, &st2, &b, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "log-"));
	/* a missing middle segment is a gap, also refused */
	flip_byte(names[0], 24 + 40);
	assert_int_equal(unlink(names[1]), 0);
	assert_int_equal(raft_storage_open(f->dir, &o, &st2, &b, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "gap"));
}

static void test_meta_atomic_and_checked(void **state)
{
	struct fixture *f = *state;
	struct raft_storage_boot b;
	struct raft_storage *st = open_ok(f, &b, 0);
	for (uint64_t t = 1; t <= 5; t++) {
		struct raft_hard_state hs = { .term = t, .vote = t % 3 };
		assert_int_equal(raft_storage_set_hard_state(st, &hs), 0);
	}
	raft_storage_close(st);
	char path[192];
	/* an interrupted replace leaves meta.tmp: ignored and removed */
	snprintf(path, sizeof(path), "%s/meta.tmp", f->dir);
	FILE *tmp = fopen(path, "w");
	assert_non_null(tmp);
	fputs("garbage", tmp);
	fclose(tmp);
	st = open_ok(f, &b, 0);
	assert_int_equal(b.hs.term, 5);
	assert_int_equal(b.hs.vote, 2);
	assert_int_equal(access(path, F_OK), -1);
	raft_storage_boot_free(&b);
	raft_storage_close(st);
	snprintf(path, sizeof(path), "%s/meta", f->dir);
	assert_int_equal(file_size(path), RAFT_STORAGE_META_SIZE);
	flip_byte(path, 9);
	char err[128];
	assert_int_equal(raft_storage_open(f->dir, NULL, &st, &b, err, sizeof(err)), -EBADMSG);
}

static void test_snapshot_and_compaction(void **state)
{
	struct fixture *f = *state;
	struct raft_storage_boot b;
	struct raft_storage *st = open_ok(f, &b, 512);
	append_range(st, 1, 100, 2);
	char names[64][400];
	size_t before = segments(f, names, 64);
	uint8_t blob[1000];
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)i;
	struct raft_snapshot snap = { .index = 60, .term = 2, .data = blob, .len = sizeof(blob),
				      .config = { .nvoters = 3, .voters = { 1, 2, 3 } } };
	assert_int_equal(raft_storage_save_snapshot(st, &snap, false), 0);
	size_t after = segments(f, names, 64);
	assert_true(after < before);
	raft_storage_close(st);

	st = open_ok(f, &b, 512);
	assert_int_equal(b.snapshot.index, 60);
	assert_int_equal(b.snapshot.term, 2);
	assert_int_equal(b.snapshot.config.nvoters, 3);
	assert_int_equal(b.snapshot.config.voters[2], 3);
	assert_int_equal(b.snapshot.len, sizeof(blob));
	assert_memory_equal(b.snapshot.data, blob, sizeof(blob));
	assert_int_equal(b.nentries, 40);
	assert_int_equal(b.entries[0].index, 61);
	/* the core boots from it */
	struct raft_boot rb;
	raft_storage_boot_to_raft(&b, &rb);
	struct raft_options o = { .id = 1, .election_ticks = 10, .heartbeat_ticks = 1 };
	struct raft *r = NULL;
	assert_int_equal(raft_create(&o, &rb, &r), 0);
	assert_int_equal(raft_first_index(r), 61);
	assert_int_equal(raft_last_index(r), 100);
	raft_destroy(r);
	raft_storage_boot_free(&b);

	/* a snapshot from the leader replaces the whole log */
	snap.index = 500;
	snap.term = 9;
	snap.len = 10;
	assert_int_equal(raft_storage_save_snapshot(st, &snap, true), 0);
	assert_int_equal(segments(f, names, 64), 0);
	append_range(st, 501, 3, 9);
	raft_storage_close(st);
	st = open_ok(f, &b, 512);
	assert_int_equal(b.snapshot.index, 500);
	check_entries(&b, 501, 3, 9);
	raft_storage_boot_free(&b);
	raft_storage_close(st);

	/* a corrupt snapshot is refused, not ignored */
	char path[192];
	snprintf(path, sizeof(path), "%s/snapshot", f->dir);
	flip_byte(path, RAFT_STORAGE_SNAPSHOT_HEADER_SIZE + 2);
	char err[128];
	assert_int_equal(raft_storage_open(f->dir, NULL, &st, &b, err, sizeof(err)), -EBADMSG);
}

/* Crash between saving a leader's snapshot and deleting the old log: the
 * old log disagrees with the snapshot and must not be loaded. */
static void test_stale_log_after_interrupted_install(void **state)
{
	struct fixture *f = *state;
	struct raft_storage_boot b;
	struct raft_storage *st = open_ok(f, &b, 512);
	append_range(st, 1, 40, 1);
	struct raft_snapshot snap = { .index = 20, .term = 5,
				      .config = { .nvoters = 1, .voters = { 1 } } };
	unlinkat_fail_after = 0;
	assert_int_equal(raft_storage_save_snapshot(st, &snap, true), -EIO);
	/* sticky: the handle refuses work until reopened */
	assert_int_equal(raft_storage_set_hard_state(st, &(struct raft_hard_state){ 1, 1 }), -EIO);
	raft_storage_close(st);
	st = open_ok(f, &b, 512);
	assert_int_equal(b.snapshot.index, 20);
	assert_int_equal(b.nentries, 0);
	assert_int_equal(raft_storage_last_index(st), 20);
	raft_storage_boot_free(&b);
	append_range(st, 21, 2, 5);
	raft_storage_close(st);
}

static void test_fsync_failure(void **state)
{
	struct fixture *f = *state;
	struct raft_storage_boot b;
	struct raft_storage *st = open_ok(f, &b, 0);
	append_range(st, 1, 10, 1);
	fdatasync_fail_after = 0;
	struct raft_entry *ents = calloc(5, sizeof(*ents));
	uint8_t *bufs = calloc(5, 64);
	make_entries(ents, bufs, 11, 5, 1);
	assert_int_equal(raft_storage_append(st, ents, 5), -EIO);
	assert_int_equal(raft_storage_append(st, ents, 5), -EIO); /* sticky */
	free(ents);
	free(bufs);
	raft_storage_close(st);
	/* whatever reached the disk is a valid prefix */
	st = open_ok(f, &b, 0);
	assert_true(b.nentries == 10 || b.nentries == 15);
	check_entries(&b, 1, b.nentries, 1);
	raft_storage_boot_free(&b);
	raft_storage_close(st);
	/* a failure creating a segment leaves nothing behind */
	char sub[160];
	snprintf(sub, sizeof(sub), "%s/x", f->root);
	struct raft_storage_options o = { 0 };
	assert_int_equal(raft_storage_open(sub, &o, &st, &b, NULL, 0), 0);
	fdatasync_fail_after = 0;
	struct raft_entry one = { .term = 1, .index = 1, .type = RAFT_ENTRY_NOOP };
	assert_int_equal(raft_storage_append(st, &one, 1), -EIO);
	raft_storage_close(st);
	assert_int_equal(raft_storage_open(sub, &o, &st, &b, NULL, 0), 0);
	assert_int_equal(b.nentries, 0);
	raft_storage_close(st);
}

/* The ready loop of a one-node cluster on real storage, across restarts. */
static void test_persist_ready_with_core(void **state)
{
	struct fixture *f = *state;
	struct raft_options o = { .id = 1, .election_ticks = 5, .heartbeat_ticks = 1 };
	uint64_t commit_before = 0;
	for (int life = 0; life < 3; life++) {
		struct raft_storage_boot sb;
		struct raft_storage *st = open_ok(f, &sb, 256);
		struct raft_boot boot;
		raft_storage_boot_to_raft(&sb, &boot);
		boot.initial_config = (struct raft_config){ .nvoters = 1, .voters = { 1 } };
		struct raft *r = NULL;
		assert_int_equal(raft_create(&o, &boot, &r), 0);
		assert_int_equal(raft_last_index(r), commit_before);
		uint64_t term_before = raft_term(r);
		assert_int_equal(raft_campaign(r), 0);
		for (int i = 0; i < 10; i++)
			assert_int_equal(raft_propose(r, "abcdefgh", 8, NULL), 0);
		struct raft_ready rd;
		while (raft_has_ready(r)) {
			assert_int_equal(raft_ready(r, &rd), 0);
			assert_int_equal(raft_storage_persist_ready(st, &rd), 0);
			raft_advance(r, &rd);
		}
		assert_int_equal(raft_term(r), term_before + 1);
		commit_before = raft_commit_index(r);
		assert_int_equal(commit_before, raft_last_index(r));
		raft_destroy(r);
		raft_storage_boot_free(&sb);
		raft_storage_close(st);
		/* the term survives too */
		st = open_ok(f, &sb, 256);
		assert_int_equal(sb.hs.term, term_before + 1);
		assert_int_equal(sb.hs.vote, 1);
		raft_storage_boot_free(&sb);
		raft_storage_close(st);
	}
	assert_int_equal(commit_before, 33); /* 3 lives x (no-op + 10) */
}

static void test_decoders_reject_garbage(void **state)
{
	uint8_t buf[128];
	struct raft_entry e;
	size_t rlen;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(raft_storage_decode_record(buf, 10, &e, &rlen), -EAGAIN);
	assert_int_equal(raft_storage_decode_record(buf, sizeof(buf), &e, &rlen), -EBADMSG);
	buf[24] = 1; /* a valid type, but the checksum is wrong */
	assert_int_equal(raft_storage_decode_record(buf, sizeof(buf), &e, &rlen), -EBADMSG);
	buf[4] = 0xff; /* payload longer than the buffer */
	buf[5] = 0xff;
	assert_int_equal(raft_storage_decode_record(buf, sizeof(buf), &e, &rlen), -EAGAIN);
	buf[7] = 0xff; /* beyond the maximum */
	assert_int_equal(raft_storage_decode_record(buf, sizeof(buf), &e, &rlen), -EBADMSG);
	struct raft_hard_state hs;
	assert_int_equal(raft_storage_decode_meta(buf, 32, &hs), -EBADMSG);
	struct raft_snapshot snap;
	assert_int_equal(raft_storage_decode_snapshot(buf, sizeof(buf), &snap), -EBADMSG);
	size_t valid, n;
	uint64_t last;
	assert_int_equal(raft_storage_scan_segment(buf, sizeof(buf), &valid, &n, &last), -EBADMSG);
	assert_int_equal(valid, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_truncates_suffix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_byte_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage_before_tail_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_atomic_and_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_and_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_log_after_interrupted_install, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fsync_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist_ready_with_core, setup, teardown),
		cmocka_unit_test(test_decoders_reject_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
