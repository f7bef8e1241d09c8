/*
 * libFuzzer target for everything Raft parses from disk: the record,
 * segment, meta and snapshot decoders on raw bytes, and the whole
 * raft_storage_open path (torn-tail repair, reconciliation) on the input
 * laid down as a segment file. Crashes, sanitizer reports and broken
 * invariants (abort) are findings.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raft/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void check(int cond)
{
	if (!cond)
		abort();
}

static void decoders(const uint8_t *data, size_t size)
{
	struct raft_hard_state hs;
	struct raft_snapshot snap;
	struct raft_entry e;
	size_t rlen = 0, valid = 0, nrec = 0;
	uint64_t last = 0, first = 0;

	(void)raft_storage_decode_meta(data, size, &hs);
	if (raft_storage_decode_snapshot(data, size, &snap) == 0)
		check(snap.len == size - RAFT_STORAGE_SNAPSHOT_HEADER_SIZE &&
		      snap.config.nvoters <= RAFT_MAX_VOTERS);
	if (raft_storage_decode_record(data, size, &e, &rlen) == 0)
		check(rlen <= size && rlen == RAFT_STORAGE_RECORD_HEADER_SIZE + e.len &&
		      e.type >= RAFT_ENTRY_NORMAL && e.type <= RAFT_ENTRY_NOOP);
	int rc = raft_storage_scan_segment(data, size, &valid, &nrec, &last);
	check(valid <= size);
	if (raft_storage_decode_segment_header(data, size, &first) == 0) {
		check(rc == 0 || rc == -EBADMSG);
		check(last + 1 == first + nrec);
		check(rc != 0 || valid == size);
	}
}

/* The input as the only segment of a storage directory. */
static void open_path(const uint8_t *data, size_t size)
{
	char path[128];
	uint64_t first = 1;
	if (raft_storage_decode_segment_header(data, size, &first) != 0)
		first = 1;
	snprintf(path, sizeof(path), "%s/log-%020llu", dir, (unsigned long long)first);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	check(fd >= 0);
	check(write(fd, data, size) == (ssize_t)size);
	close(fd);

	struct raft_storage *st = NULL;
	struct raft_storage_boot boot;
	int rc = raft_storage_open(dir, NULL, &st, &boot, NULL, 0);
	if (rc == 0) {
		for (size_t i = 0; i < boot.nentries; i++)
			check(boot.entries[i].index == boot.entries[0].index + i);
		check(boot.nentries == 0 || boot.entries[0].index == 1);
		raft_storage_boot_free(&boot);
		raft_storage_close(st);
	}
	unlink(path);
}

/* Removes every file in dir; returns the newest segment's name in newest. */
static void scan_dir(bool remove, char *newest, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	check(d != NULL);
	if (newest)
		newest[0] = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (remove)
			check(unlinkat(dirfd(d), de->d_name, 0) == 0);
		else if (newest && !strncmp(de->d_name, "log-", 4) &&
			 strcmp(de->d_name, newest) > 0)
			snprintf(newest, len, "%s", de->d_name);
	}
	closedir(d);
}

/*
 * Structured mode: the input describes a log (entry sizes and bytes), a
 * segment size, and one damage (cut or flipped byte at some offset of the
 * last segment). The log is written with the real storage code, damaged,
 * and reopened: whatever comes back must be a prefix of what was written,
 * byte for byte.
 */
static void structured(const uint8_t *data, size_t size)
{
	struct raft_entry ents[64];
	size_t n = 0, off = 4;
	if (size < 4)
		return;
	size_t segment_max = 64 + (size_t)data[1] * 8;
	size_t damage_at = (size_t)data[2] << 4 | (data[3] & 15);
	bool flip = data[3] & 16;
	while (off < size && n < 64) {
		size_t len = data[off++] % 40;
		if (len > size - off)
			len = size - off;
		ents[n] = (struct raft_entry){ .term = 1 + n / 8, .index = n + 1,
					       .type = RAFT_ENTRY_NORMAL, .len = len,
					       .data = len ? (uint8_t *)data + off : NULL };
		off += len;
		n++;
	}
	scan_dir(true, NULL, 0);
	struct raft_storage *st = NULL;
	struct raft_storage_boot boot;
	struct raft_storage_options o = { .segment_max = segment_max };
	check(raft_storage_open(dir, &o, &st, &boot, NULL, 0) == 0);
	raft_storage_boot_free(&boot);
	check(raft_storage_append(st, ents, n) == 0);
	raft_storage_close(st);

	/* damage the newest segment */
	char path[128] = "", name[64];
	scan_dir(false, name, sizeof(name));
	if (name[0]) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		int fd = open(path, O_RDWR);
		check(fd >= 0);
		off_t end = lseek(fd, 0, SEEK_END);
		if (end > 0 && flip) {
			uint8_t c;
			off_t at = (off_t)(damage_at % (size_t)end);
			check(pread(fd, &c, 1, at) == 1);
			c ^= (uint8_t)(1 + data[1] % 255);
			check(pwrite(fd, &c, 1, at) == 1);
		} else if (end > 0) {
			check(ftruncate(fd, (off_t)(damage_at % (size_t)end)) == 0);
		}
		close(fd);
	}
	int rc = raft_storage_open(dir, &o, &st, &boot, NULL, 0);
	if (rc == 0) {
		check(boot.nentries <= n);
		for (size_t i = 0; i < boot.nentries; i++) {
			const struct raft_entry *e = &boot.entries[i];
			check(e->index == i + 1 && e->term == ents[i].term &&
			      e->len == ents[i].len &&
			      (e->len == 0 || memcmp(e->data, ents[i].data, e->len) == 0));
		}
		raft_storage_boot_free(&boot);
		raft_storage_close(st);
	} else {
		check(rc == -EBADMSG); /* only a damaged header is refused */
	}
	scan_dir(true, NULL, 0);
}

static void cleanup(void)
{
	scan_dir(true, NULL, 0);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		/* tmpfs when there is one: every storage call fsyncs */
		strcpy(dir, "/dev/shm/fuzz-raft-log-XXXXXX");
		if (!mkdtemp(dir)) {
			strcpy(dir, "/tmp/fuzz-raft-log-XXXXXX");
			check(mkdtemp(dir) != NULL);
		}
		atexit(cleanup);
	}
	if (size && data[0] == 'S') {
		structured(data, size);
		return 0;
	}
	decoders(data, size);
	if (size < (1u << 20))
		open_path(data, size);
	return 0;
}
