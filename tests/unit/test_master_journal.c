/* Tests daemon/master/journal.c on real files in a temporary directory:
 * round trip across reopen, torn and corrupt tails truncated on open and
 * never replayed, numbering kept across compaction (journal.base), and a
 * replay that would skip compacted entries refused. */
#include "daemon/master/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define HDR ((off_t)sizeof(struct journal_header))

struct fixture {
	char dir[64];
	char log[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/strata-test-journal.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->log, sizeof(f->log), "%s/journal.log", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[200];
	const char *names[] = { "journal.log", "journal.log.tmp", "journal.base",
				"journal.base.tmp", "copy.log" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct journal *open_ok(struct fixture *f)
{
	struct journal *j = NULL;
	char err[256] = "";
	int rc = journal_open(f->dir, &j, err, sizeof(err));
	if (rc)
		print_error("journal_open: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(j);
	return j;
}

/* Record i's payload: "entry-<i>" padded with i bytes so sizes differ. */
static size_t payload_for(uint64_t i, char *buf, size_t len)
{
	int n = snprintf(buf, len, "entry-%llu:", (unsigned long long)i);
	for (uint64_t k = 0; k < i % 40; k++)
		buf[n++] = (char)('a' + k % 26);
	return (size_t)n;
}

static void append_n(struct journal *j, uint64_t from, uint64_t to)
{
	char buf[128], err[256];
	for (uint64_t i = from; i <= to; i++) {
		uint64_t index = 0;
		size_t len = payload_for(i, buf, sizeof(buf));
		assert_int_equal(journal_append(j, buf, len, &index, err, sizeof(err)), 0);
		assert_int_equal(index, i);
	}
}

struct seen {
	uint64_t first, last, count;
	int bad; /* payload did not match its index */
	uint64_t stop_at;
};

static int collect(void *arg, uint64_t index, const void *data, size_t len)
{
	struct seen *s = arg;
	char want[128];
	size_t wlen = payload_for(index, want, sizeof(want));
	if (wlen != len || memcmp(want, data, len) != 0)
		s->bad++;
	if (s->count == 0)
		s->first = index;
	else if (index != s->last + 1)
		s->bad++;
	s->last = index;
	s->count++;
	return s->stop_at && index == s->stop_at ? 42 : 0;
}

static struct seen replay_ok(struct journal *j, uint64_t after)
{
	struct seen s = { 0 };
	char err[256] = "";
	int rc = journal_replay(j, after, collect, &s, err, sizeof(err));
	if (rc)
		print_error("journal_replay: %s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(s.bad, 0);
	return s;
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* Size of records 1..n as appended by append_n. */
static off_t size_upto(uint64_t n)
{
	char buf[128];
	off_t total = 0;
	for (uint64_t i = 1; i <= n; i++)
		total += HDR + (off_t)payload_for(i, buf, sizeof(buf));
	return total;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct journal *j = open_ok(f);
	assert_int_equal(journal_last_index(j), 0);
	struct seen s = replay_ok(j, 0);
	assert_int_equal(s.count, 0);
	append_n(j, 1, 50);
	assert_int_equal(journal_last_index(j), 50);
	journal_close(j);

	/* The file is 0600: it will hold credentials of mounts. */
	struct stat st;
	assert_int_equal(stat(f->log, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, size_upto(50));

	j = open_ok(f);
	assert_int_equal(journal_last_index(j), 50);
	s = replay_ok(j, 0);
	assert_int_equal(s.count, 50);
	assert_int_equal(s.first, 1);
	assert_int_equal(s.last, 50);
	s = replay_ok(j, 45);
	assert_int_equal(s.count, 5);
	assert_int_equal(s.first, 46);
	s = replay_ok(j, 50);
	assert_int_equal(s.count, 0);

	/* A callback's non-zero return stops the walk and comes back. */
	struct seen stop = { .stop_at = 3 };
	char err[256];
	assert_int_equal(journal_replay(j, 0, collect, &stop, err, sizeof(err)), 42);
	assert_int_equal(stop.count, 3);

	/* Appends continue after a reopen. */
	append_n(j, 51, 52);
	journal_close(j);
	j = open_ok(f);
	assert_int_equal(journal_last_index(j), 52);
	s = replay_ok(j, 0);
	assert_int_equal(s.count, 52);
	journal_close(j);
}

static void test_empty_and_oversized_records(void **state)
{
	struct fixture *f = *state;
	struct journal *j = open_ok(f);
	char err[256];
	uint64_t index = 0;
	assert_int_equal(journal_append(j, "", 0, &index, err, sizeof(err)), 0);
	assert_int_equal(index, 1);
	static const char big[1];
	index = 0;
	assert_int_equal(journal_append(j, big, (size_t)JOURNAL_MAX_RECORD + 1, &index, err,
					sizeof(err)),
			 -EFBIG);
	assert_int_equal(index, 0);
	assert_int_equal(journal_last_index(j), 1);
	journal_close(j);
	j = open_ok(f);
	assert_int_equal(journal_last_index(j), 1);
	journal_close(j);
	assert_int_equal(file_size(f->log), HDR);
}

/* Cuts the file to `len` bytes. */
static void cut(const char *path, off_t len)
{
	assert_int_equal(truncate(path, len), 0);
}

static void flip_byte(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	unsigned char b;
	assert_int_equal(pread(fd, &b, 1, at), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

/* After damage to record 10 (of 10): the journal opens at 9, the file is
 * cut back to exactly 9 records, replay never sees 10, and the next
 * append is 10 again and survives a reopen. */
static void check_tail_dropped(struct fixture *f)
{
	struct journal *j = open_ok(f);
	assert_int_equal(journal_last_index(j), 9);
	assert_int_equal(file_size(f->log), size_upto(9));
	struct seen s = replay_ok(j, 0);
	assert_int_equal(s.count, 9);
	assert_int_equal(s.last, 9);
	append_n(j, 10, 11);
	journal_close(j);
	j = open_ok(f);
	assert_int_equal(journal_last_index(j), 11);
	s = replay_ok(j, 0);
	assert_int_equal(s.count, 11);
	journal_close(j);
}

static void write_ten(struct fixture *f)
{
	struct journal *j = open_ok(f);
	append_n(j, 1, 10);
	journal_close(j);
	assert_int_equal(file_size(f->log), size_upto(10));
}

static void test_torn_mid_header(void **state)
{
	struct fixture *f = *state;
	write_ten(f);
	cut(f->log, size_upto(9) + 10);
	check_tail_dropped(f);
}

static void test_torn_mid_payload(void **state)
{
	struct fixture *f = *state;
	write_ten(f);
	cut(f->log, size_upto(10) - 3);
	check_tail_dropped(f);
}

static void test_torn_one_byte_short(void **state)
{
	struct fixture *f = *state;
	write_ten(f);
	cut(f->log, size_upto(10) - 1);
	check_tail_dropped(f);
}

static void test_flipped_payload_byte(void **state)
{
	struct fixture *f = *state;
	write_ten(f);
	flip_byte(f->log, size_upto(9) + HDR + 2);
	check_tail_dropped(f);
}

static void test_flipped_header_bytes(void **state)
{
	struct fixture *f = *state;
	/* The checksum field, then the index field: both make record 10 bad. */
	write_ten(f);
	flip_byte(f->log, size_upto(9) + 16);
	check_tail_dropped(f);
}

static void test_flipped_index_byte(void **state)
{
	struct fixture *f = *state;
	write_ten(f);
	flip_byte(f->log, size_upto(9) + 8);
	check_tail_dropped(f);
}

static void test_garbage_after_tail(void **state)
{
	struct fixture *f = *state;
	write_ten(f);
	/* Zeros appended (as a preallocated or torn block would leave). */
	cut(f->log, size_upto(10) + 4096);
	struct journal *j = open_ok(f);
	assert_int_equal(journal_last_index(j), 10);
	assert_int_equal(file_size(f->log), size_upto(10));
	journal_close(j);
}

static void test_corruption_in_the_middle(void **state)
{
	struct fixture *f = *state;
	/* A bad record 5 ends the valid prefix: 5..10 are dropped. */
	write_ten(f);
	flip_byte(f->log, size_upto(4) + HDR);
	struct journal *j = open_ok(f);
	assert_int_equal(journal_last_index(j), 4);
	assert_int_equal(file_size(f->log), size_upto(4));
	journal_close(j);
}

static void test_compaction_keeps_numbering(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	struct journal *j = open_ok(f);
	append_n(j, 1, 20);
	assert_int_equal(journal_compact(j, 15, err, sizeof(err)), 0);
	assert_int_equal(journal_last_index(j), 20);
	assert_int_equal(file_size(f->log), size_upto(20) - size_upto(15));
	struct seen s = replay_ok(j, 15);
	assert_int_equal(s.count, 5);
	assert_int_equal(s.first, 16);
	/* Appending after compaction goes on from 21 in the same handle. */
	append_n(j, 21, 22);
	journal_close(j);

	j = open_ok(f);
	assert_int_equal(journal_last_index(j), 22);
	s = replay_ok(j, 15);
	assert_int_equal(s.count, 7);
	assert_int_equal(s.first, 16);
	assert_int_equal(s.last, 22);

	/* Everything compacted: the file is empty, journal.base remembers. */
	assert_int_equal(journal_compact(j, 22, err, sizeof(err)), 0);
	assert_int_equal(file_size(f->log), 0);
	journal_close(j);
	char base[200], text[32] = "";
	snprintf(base, sizeof(base), "%s/journal.base", f->dir);
	FILE *bf = fopen(base, "r");
	assert_non_null(bf);
	assert_non_null(fgets(text, sizeof(text), bf));
	fclose(bf);
	assert_string_equal(text, "22\n");

	j = open_ok(f);
	assert_int_equal(journal_last_index(j), 22);
	s = replay_ok(j, 22);
	assert_int_equal(s.count, 0);
	append_n(j, 23, 23);
	journal_close(j);
	j = open_ok(f);
	assert_int_equal(journal_last_index(j), 23);
	s = replay_ok(j, 22);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.first, 23);
	/* Compacting past the end is clamped to the last index. */
	assert_int_equal(journal_compact(j, 1000, err, sizeof(err)), 0);
	assert_int_equal(journal_last_index(j), 23);
	append_n(j, 24, 24);
	journal_close(j);
}

static void test_replay_refuses_gap(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	struct journal *j = open_ok(f);
	append_n(j, 1, 10);
	assert_int_equal(journal_compact(j, 6, err, sizeof(err)), 0);
	journal_close(j);
	j = open_ok(f);
	/* State at 3 would need 4..6, which are gone. */
	struct seen s = { 0 };
	err[0] = '\0';
	assert_int_equal(journal_replay(j, 3, collect, &s, err, sizeof(err)), -EIO);
	assert_int_equal(s.count, 0);
	assert_non_null(strstr(err, "starts at index 7"));
	assert_int_equal(journal_replay(j, 0, collect, &s, err, sizeof(err)), -EIO);
	assert_int_equal(s.count, 0);
	/* Exactly at the compaction point is fine. */
	s = replay_ok(j, 6);
	assert_int_equal(s.count, 4);
	journal_close(j);
}

/* Records 1, 2 and then 4 (copied from a longer journal): the file holds a
 * gap; the scan keeps only the consecutive prefix. */
static void test_gap_in_file_is_cut(void **state)
{
	struct fixture *f = *state;
	struct journal *j = open_ok(f);
	append_n(j, 1, 4);
	journal_close(j);
	int fd = open(f->log, O_RDWR);
	assert_true(fd >= 0);
	off_t r4 = size_upto(3), len4 = size_upto(4) - r4;
	char buf[256];
	assert_int_equal(pread(fd, buf, (size_t)len4, r4), len4);
	assert_int_equal(pwrite(fd, buf, (size_t)len4, size_upto(2)), len4);
	assert_int_equal(ftruncate(fd, size_upto(2) + len4), 0);
	close(fd);
	j = open_ok(f);
	assert_int_equal(journal_last_index(j), 2);
	struct seen s = replay_ok(j, 0);
	assert_int_equal(s.count, 2);
	journal_close(j);
	assert_int_equal(file_size(f->log), size_upto(2));
}

static void test_decode(void **state)
{
	struct fixture *f = *state;
	struct journal *j = open_ok(f);
	append_n(j, 1, 2);
	journal_close(j);
	uint8_t buf[512];
	int fd = open(f->log, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, size_upto(2));

	const uint8_t *payload = NULL;
	uint32_t plen = 0;
	size_t r1 = (size_t)size_upto(1);
	assert_int_equal(journal_decode(buf, (size_t)n, 1, &payload, &plen), r1);
	assert_ptr_equal(payload, buf + HDR);
	assert_int_equal(plen, r1 - (size_t)HDR);
	assert_memory_equal(payload, "entry-1:", 8);
	/* expect_index 0 takes any index; a different one refuses. */
	assert_int_equal(journal_decode(buf, (size_t)n, 0, &payload, &plen), r1);
	assert_int_equal(journal_decode(buf, (size_t)n, 2, &payload, &plen), 0);
	assert_int_equal(journal_decode(buf + r1, (size_t)n - r1, 2, &payload, &plen),
			 (size_t)n - r1);
	/* Every strict prefix of a record is incomplete. */
	for (size_t len = 0; len < r1; len++)
		assert_int_equal(journal_decode(buf, len, 1, &payload, &plen), 0);
	/* A length field beyond the limit, and a wrong magic. */
	struct journal_header h;
	memcpy(&h, buf, sizeof(h));
	h.length = JOURNAL_MAX_RECORD + 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(journal_decode(buf, (size_t)n, 1, &payload, &plen), 0);
	memcpy(&h, buf, sizeof(h));
	h.length = (uint32_t)(r1 - (size_t)HDR);
	h.magic ^= 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(journal_decode(buf, (size_t)n, 1, &payload, &plen), 0);
	h.magic ^= 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(journal_decode(buf, (size_t)n, 1, &payload, &plen), r1);
}

static void test_open_errors(void **state)
{
	struct journal *j = NULL;
	char err[256] = "";
	assert_int_equal(journal_open("/nonexistent/strata/dir", &j, err, sizeof(err)), -ENOENT);
	assert_null(j);
	assert_non_null(strstr(err, "/nonexistent/strata/dir/journal.log"));

	/* An unreadable journal.base is refused, not taken as 0. */
	struct fixture *f = *state;
	char base[200];
	snprintf(base, sizeof(base), "%s/journal.base", f->dir);
	FILE *bf = fopen(base, "w");
	assert_non_null(bf);
	fputs("not a number\n", bf);
	fclose(bf);
	assert_int_not_equal(journal_open(f->dir, &j, err, sizeof(err)), 0);
	assert_null(j);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_empty_and_oversized_records),
		T(test_torn_mid_header),
		T(test_torn_mid_payload),
		T(test_torn_one_byte_short),
		T(test_flipped_payload_byte),
		T(test_flipped_header_bytes),
		T(test_flipped_index_byte),
		T(test_garbage_after_tail),
		T(test_corruption_in_the_middle),
		T(test_compaction_keeps_numbering),
		T(test_replay_refuses_gap),
		T(test_gap_in_file_is_cut),
		T(test_decode),
		T(test_open_errors),
	};
#undef T
	return cmocka_run_group_tests_name("master_journal", tests, NULL, NULL);
}
