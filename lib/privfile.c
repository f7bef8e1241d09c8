#include "lib/privfile.h"

#include "lib/err.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int privfile_read(const char *what, const char *path, size_t max, int oflags, char **text,
		  size_t *len, struct stat *stp, char *err, size_t errlen)
{
	*text = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | oflags);
	if (fd < 0) {
		int rc = -errno;
		st_set_err(err, errlen, "%s '%s': %s", what, path, strerror(errno));
		return rc;
	}
	int rc = 0;
	char *buf = NULL;
	size_t cap = 0, got = 0;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		st_set_err(err, errlen, "%s '%s': %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		st_set_err(err, errlen, "%s '%s' is not a regular file", what, path);
		rc = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		st_set_err(err, errlen,
			   "%s '%s' has mode %04o: group or others may access it; it holds "
			   "secrets, make it 0600 (chmod 600 '%s')",
			   what, path, (unsigned)(st.st_mode & 07777), path);
		rc = -EACCES;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		st_set_err(err, errlen, "%s '%s' is larger than %zu bytes", what, path, max);
		rc = -EFBIG;
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	if (!(buf = malloc(cap))) {
		st_set_err(err, errlen, "%s '%s': out of memory", what, path);
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			st_set_err(err, errlen, "%s '%s': %s", what, path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == cap) { /* it grew under us: the next look reads it again */
			st_set_err(err, errlen, "%s '%s' changed while being read", what, path);
			rc = -EAGAIN;
			break;
		}
	}
out:
	close(fd);
	if (rc) {
		privfile_free(buf, cap);
		return rc;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	if (stp)
		*stp = st;
	return 0;
}

void privfile_free(char *text, size_t len)
{
	if (!text)
		return;
	OPENSSL_cleanse(text, len);
	free(text);
}

/* mkdir -p of path's directory, 0700 for what it creates. */
static int make_parent(const char *path)
{
	char dir[4096];
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		bool last = *p == '\0';
		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -errno;
		if (last)
			break;
		*p = '/';
	}
	return 0;
}

int privfile_write(const char *what, const char *path, const char *text, size_t len,
		   char *err, size_t errlen)
{
	char tmp[4200];
	int rc = make_parent(path);
	if (rc) {
		st_set_err(err, errlen, "%s '%s': cannot create its directory: %s", what, path,
			   strerror(-rc));
		return rc;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		st_set_err(err, errlen, "%s '%s': path too long", what, path);
		return -ENAMETOOLONG;
	}
	int fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		rc = -errno;
		st_set_err(err, errlen, "%s '%s': cannot create '%s': %s", what, path, tmp,
			   strerror(errno));
		return rc;
	}
	/* fchmod: an odd umask must not widen or narrow what we ask for */
	if (fchmod(fd, 0600) != 0)
		goto err_io;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto err_io;
		off += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto err_io;
	if (close(fd) != 0) {
		fd = -1;
		goto err_io;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto err_io;
	char dir[4096];
	const char *slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (!*dir)
		snprintf(dir, sizeof(dir), "/");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;

err_io:
	rc = errno ? -errno : -EIO;
	st_set_err(err, errlen, "%s '%s': cannot write it: %s", what, path, strerror(-rc));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}
