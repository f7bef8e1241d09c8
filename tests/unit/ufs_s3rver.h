#ifndef STRATA_TESTS_UNIT_UFS_S3RVER_H
#define STRATA_TESTS_UNIT_UFS_S3RVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A real s3rver (npm) for the UFS tests, started from the source tree's
 * tests/node_modules. The child gets PR_SET_PDEATHSIG so it dies with the
 * test even when the test crashes or is killed by ctest's timeout.
 */
struct ufs_s3rver {
	pid_t pid;
	int port;
	char dir[256];      /* data + log directory, removed by stop */
	char endpoint[64];  /* http://127.0.0.1:PORT */
};

/* Starts s3rver with bucket `bucket` configured and waits until it answers.
 * Returns 0, or -1 with the reason in err (missing node/s3rver is an error,
 * never a skip). */
int ufs_s3rver_start(struct ufs_s3rver *srv, const char *bucket, char *err, size_t errlen);
/* Stops the server (SIGTERM, then SIGKILL) and removes its directory. Safe
 * to call twice. */
void ufs_s3rver_stop(struct ufs_s3rver *srv);

/* Returns a TCP port on 127.0.0.1 that nothing listens on right now. */
int ufs_free_port(void);

/* Fills buf with a pattern that depends on the offset and seed. */
void ufs_fill_pattern(void *buf, size_t len, uint64_t offset, unsigned seed);

/* Makes a fresh temp directory (mkdtemp) under TMPDIR or /tmp into out. */
int ufs_make_tmpdir(char *out, size_t outlen, const char *tag);
/* rm -rf dir (no symlink following). */
void ufs_rmrf(const char *dir);

#endif
