/* Fuzzes the master journal's decoder (daemon/master/journal.c): any bytes
 * as a record stream. Whatever journal_decode accepts lies inside the
 * buffer and re-encodes its own size; the walk over accepted records never
 * reads out of bounds. The same bytes are then opened as a journal file
 * (scan, torn-tail truncation, replay) in a tmpfs directory. */
#include "daemon/master/journal.h"
#include "lib/log.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64];

static void remove_dir(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/journal.log", g_dir);
	unlink(path);
	rmdir(g_dir);
}

static int count_replayed(void *arg, uint64_t index, const void *payload, size_t len)
{
	uint64_t *last = arg;
	/* The scan guarantees consecutive indexes. */
	if (*last && index != *last + 1)
		abort();
	*last = index;
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < len; i++)
		sink ^= ((const uint8_t *)payload)[i];
	(void)sink;
	return 0;
}

/* first/last: the index range of the valid prefix found by the decode
 * walk (0/0 when none), valid: its length in bytes. */
static void open_as_file(const uint8_t *data, size_t size, uint64_t first, uint64_t last_seen,
			 size_t valid)
{
	char path[128];
	if (!g_dir[0]) {
		log_set_level(LOG_LVL_ERROR); /* every torn input would warn */
		snprintf(g_dir, sizeof(g_dir), "%s/strata-fuzz-journal.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (!mkdtemp(g_dir))
			abort();
		atexit(remove_dir);
	}
	snprintf(path, sizeof(path), "%s/journal.log", g_dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	struct journal *j = NULL;
	char err[512];
	if (journal_open(g_dir, &j, err, sizeof(err)) != 0)
		abort();
	/* The scan keeps exactly the prefix the decode walk accepted. */
	struct stat st;
	if (journal_last_index(j) != last_seen || stat(path, &st) != 0 ||
	    (size_t)st.st_size != valid)
		abort();
	/* Index 0 is never written (numbering starts at 1) and is never
	 * replayed; the range checks below start at 1. */
	if (first == 0) {
		journal_close(j);
		return;
	}
	uint64_t last = 0;
	if (journal_replay(j, first - 1, count_replayed, &last, err, sizeof(err)) != 0 ||
	    last != last_seen)
		abort();
	/* A journal that starts after 1 cannot serve a replay from 0. */
	last = 0;
	if (first > 1 && journal_replay(j, 0, count_replayed, &last, err, sizeof(err)) != -EIO)
		abort();
	journal_close(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	uint64_t expect = 0, first = 0, last = 0;
	bool any = false;
	while (off < size) {
		const uint8_t *payload = NULL;
		uint32_t plen = 0;
		size_t n = journal_decode(data + off, size - off, expect, &payload, &plen);
		if (!n)
			break;
		if (n > size - off || n != sizeof(struct journal_header) + plen ||
		    payload != data + off + sizeof(struct journal_header))
			abort();
		struct journal_header h;
		memcpy(&h, data + off, sizeof(h));
		if (h.magic != JOURNAL_MAGIC || (expect && h.index != expect))
			abort();
		if (!any)
			first = h.index;
		any = true;
		last = h.index;
		expect = h.index + 1;
		off += n;
	}
	open_as_file(data, size, first, last, off);
	return 0;
}
