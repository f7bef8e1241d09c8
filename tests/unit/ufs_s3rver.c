#include <stdint.h>
#include <stdio.h>

#include "ufs_s3rver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef STRATA_SOURCE_DIR
#error "STRATA_SOURCE_DIR must be defined by tests/unit/ufs.cmake"
#endif

void ufs_fill_pattern(void *buf, size_t len, uint64_t offset, unsigned seed)
{
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		uint64_t x = offset + i;
		p[i] = (unsigned char)((x * 131u) ^ (x >> 9) ^ seed);
	}
}

int ufs_make_tmpdir(char *out, size_t outlen, const char *tag)
{
	const char *base = getenv("TMPDIR");
	snprintf(out, outlen, "%s/strata-%s-XXXXXX", base && *base ? base : "/tmp", tag);
	return mkdtemp(out) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void ufs_rmrf(const char *dir)
{
	if (dir && *dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int ufs_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t slen = sizeof(sa);
	int port = -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &slen) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int port_answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int ufs_s3rver_start(struct ufs_s3rver *srv, const char *bucket, char *err, size_t errlen)
{
	static const char node[] = "/usr/bin/node";
	static const char script[] = STRATA_SOURCE_DIR "/tests/node_modules/s3rver/bin/s3rver.js";
	memset(srv, 0, sizeof(*srv));
	srv->pid = -1;
	if (access(node, X_OK) != 0) {
		snprintf(err, errlen, "node not found at %s: the S3 tests need it", node);
		return -1;
	}
	if (access(script, R_OK) != 0) {
		snprintf(err, errlen, "s3rver not found at %s (npm ci in tests/)", script);
		return -1;
	}
	if (ufs_make_tmpdir(srv->dir, sizeof(srv->dir), "s3rver") != 0) {
		snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	char data[300], logpath[300], portstr[16];
	snprintf(data, sizeof(data), "%s/data", srv->dir);
	snprintf(logpath, sizeof(logpath), "%s/s3rver.log", srv->dir);
	mkdir(data, 0700);
	srv->port = ufs_free_port();
	snprintf(portstr, sizeof(portstr), "%d", srv->port);
	snprintf(srv->endpoint, sizeof(srv->endpoint), "http://127.0.0.1:%d", srv->port);

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		ufs_rmrf(srv->dir);
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (logfd >= 0) {
			dup2(logfd, 1);
			dup2(logfd, 2);
		}
		setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
		execl(node, node, script, "-d", data, "-a", "127.0.0.1", "-p", portstr,
		      "--configure-bucket", bucket, (char *)NULL);
		_exit(127);
	}
	srv->pid = pid;
	for (int i = 0; i < 300; i++) { /* up to 15 s */
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			srv->pid = -1;
			snprintf(err, errlen, "s3rver exited early (status %d); see %s", status,
				 logpath);
			return -1;
		}
		if (port_answers(srv->port))
			return 0;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	snprintf(err, errlen, "s3rver did not answer on port %d within 15 s", srv->port);
	ufs_s3rver_stop(srv);
	return -1;
}

void ufs_s3rver_stop(struct ufs_s3rver *srv)
{
	if (srv->pid > 0) {
		kill(srv->pid, SIGTERM);
		int status;
		int reaped = 0;
		for (int i = 0; i < 60 && !reaped; i++) { /* 3 s, then SIGKILL */
			if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
				reaped = 1;
				break;
			}
			struct timespec ts = { 0, 50 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (!reaped) {
			kill(srv->pid, SIGKILL);
			waitpid(srv->pid, &status, 0);
		}
		srv->pid = -1;
	}
	if (srv->dir[0]) {
		ufs_rmrf(srv->dir);
		srv->dir[0] = '\0';
	}
}
