/*
 * ns_fill: builds a master state directory holding a large namespace, for
 * bench/namespace.sh. Usage: ns_fill STATE_DIR [NDIRS [FILES_PER_DIR]]
 * (defaults 1000 x 1000: about 1M inodes under /bench/dNNNNN/fNNNNNN).
 *
 * It goes through the real write path, meta_submit (a one-master Raft
 * group: log append with fdatasync, then ns_apply), one sync_dir command
 * per directory, as a lazy load of a big store would. The Raft log is
 * compacted behind a snapshot at the end, so a master started on the
 * directory replays nothing. Not part of the test run.
 */
#include "daemon/master/journal.h"
#include "daemon/master/meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A sync_dir of /bench/dNNNNN listing nfiles files; NULL: out of memory. */
static struct journal_cmd *dir_cmd(long d, long nfiles)
{
	struct journal_cmd *cmd = journal_new(JOURNAL_SYNC_DIR);
	if (!cmd)
		return NULL;
	snprintf(cmd->u.sync_dir.path, sizeof(cmd->u.sync_dir.path), "/bench/d%05ld", d);
	cmd->u.sync_dir.time_ms = 1700000000000;
	for (long f = 0; f < nfiles; f++) {
		struct journal_sync_item e = { .length = 4096 + (uint64_t)f,
					       .mtime_ms = 1700000000000 };
		snprintf(e.name, sizeof(e.name), "f%06ld", f);
		snprintf(e.fingerprint, sizeof(e.fingerprint), "%.*s", (int)sizeof(e.fingerprint) - 1,
			 e.name);
		if (journal_sync_dir_add(cmd, &e)) {
			journal_free(cmd);
			return NULL;
		}
	}
	return cmd;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: ns_fill STATE_DIR [NDIRS [FILES_PER_DIR]]\n");
		return 2;
	}
	long ndirs = argc > 2 ? atol(argv[2]) : 1000;
	long nfiles = argc > 3 ? atol(argv[3]) : 1000;
	if (ndirs < 1 || nfiles < 0) {
		fprintf(stderr, "ns_fill: NDIRS must be >= 1 and FILES_PER_DIR >= 0\n");
		return 2;
	}
	struct meta *m = NULL;
	char err[1024] = "";
	/* One snapshot (and compaction) once every directory is in. */
	struct meta_opts mo = { .state_dir = argv[1], .snapshot_every = (uint64_t)ndirs };
	if (meta_open(&mo, &m, err, sizeof(err))) {
		fprintf(stderr, "ns_fill: %s\n", err);
		return 1;
	}
	int code = 0;
	double t0 = now_s();
	for (long d = 0; d < ndirs; d++) {
		struct journal_cmd *cmd = dir_cmd(d, nfiles);
		int rc = cmd ? meta_submit(m, cmd, err, sizeof(err)) : -1;
		journal_free(cmd);
		if (rc) {
			fprintf(stderr, "ns_fill: directory %ld: %s\n", d, cmd ? err : "out of memory");
			code = 1;
			break;
		}
		if ((d + 1) % 100 == 0)
			fprintf(stderr, "ns_fill: %ld/%ld directories, %.1f s\n", d + 1, ndirs,
				now_s() - t0);
	}
	double secs = now_s() - t0;
	struct ns *ns = meta_read_lock(m);
	long long inodes = (long long)ns_inode_count(ns);
	meta_read_unlock(m);
	meta_close(m);
	printf("inodes %lld seconds %.2f inodes_per_s %.0f\n", inodes, secs,
	       secs > 0 ? (double)inodes / secs : 0.0);
	return code;
}
