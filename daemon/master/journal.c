#include "daemon/master/journal.h"

#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct journal {
	int fd;
	char path[1100];
	char dir[1024];
	uint64_t first_index; /* index of the first record in the file, or next */
	uint64_t last_index;
	off_t size;
};

static void checksum(uint64_t index, const void *data, size_t len, uint8_t out[8])
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(index >> (8 * i));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, le, sizeof(le)) || !EVP_DigestUpdate(ctx, data, len) ||
	    !EVP_DigestFinal_ex(ctx, digest, &dlen))
		memset(digest, 0xff, sizeof(digest)); /* never matches a real sum */
	EVP_MD_CTX_free(ctx);
	memcpy(out, digest, 8);
}

size_t journal_decode(const uint8_t *buf, size_t len, uint64_t expect_index,
		      const uint8_t **payload, uint32_t *payload_len)
{
	struct journal_header h;
	if (len < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != JOURNAL_MAGIC || h.length > JOURNAL_MAX_RECORD ||
	    len - sizeof(h) < h.length || (expect_index && h.index != expect_index))
		return 0;
	uint8_t sum[8];
	checksum(h.index, buf + sizeof(h), h.length, sum);
	if (memcmp(sum, h.checksum, 8) != 0)
		return 0;
	*payload = buf + sizeof(h);
	*payload_len = h.length;
	return sizeof(h) + h.length;
}

static int read_all(int fd, uint8_t **out, size_t *outlen)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	size_t len = (size_t)st.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	size_t off = 0;
	while (off < len) {
		ssize_t n = pread(fd, buf + off, len - off, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*out = buf;
	*outlen = off;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

/* Walks the file; sets first/last index and truncates a bad tail. */
static int scan(struct journal *j, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	int rc = read_all(j->fd, &buf, &len);
	if (rc) {
		snprintf(err, errlen, "journal '%s': %s", j->path, strerror(-rc));
		return rc;
	}
	size_t off = 0;
	uint64_t expect = 0, count = 0;
	while (off < len) {
		const uint8_t *payload;
		uint32_t plen;
		size_t n = journal_decode(buf + off, len - off, expect, &payload, &plen);
		if (!n)
			break;
		struct journal_header h;
		memcpy(&h, buf + off, sizeof(h));
		if (count == 0)
			j->first_index = h.index;
		j->last_index = h.index;
		expect = h.index + 1;
		count++;
		off += n;
	}
	free(buf);
	if (off < len) {
		log_warn("journal %s: dropping %zu bytes of torn or corrupt tail after index %llu",
			 j->path, len - off, (unsigned long long)j->last_index);
		if (ftruncate(j->fd, (off_t)off) != 0 || fdatasync(j->fd) != 0) {
			rc = -errno;
			snprintf(err, errlen, "journal '%s': cannot truncate tail: %s", j->path,
				 strerror(errno));
			return rc;
		}
	}
	j->size = (off_t)off;
	return 0;
}

/* The compaction point is kept in a side file so an empty journal still
 * knows where numbering resumes. */
static int read_base(struct journal *j, uint64_t *base)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/journal.base", j->dir);
	*base = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	unsigned long long v = 0;
	int ok = fscanf(f, "%llu", &v) == 1;
	fclose(f);
	if (!ok)
		return -EIO;
	*base = v;
	return 0;
}

static int write_base(struct journal *j, uint64_t base)
{
	char path[1200], tmp[1210];
	snprintf(path, sizeof(path), "%s/journal.base", j->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	char text[32];
	int n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)base);
	int rc = 0;
	if (write(fd, text, (size_t)n) != n || fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (!rc && rename(tmp, path) != 0)
		rc = -errno;
	return rc ? rc : fsync_dir(j->dir);
}

int journal_open(const char *dir, struct journal **out, char *err, size_t errlen)
{
	struct journal *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	snprintf(j->dir, sizeof(j->dir), "%s", dir);
	snprintf(j->path, sizeof(j->path), "%s/journal.log", dir);
	int rc;
	j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "journal '%s': %s", j->path, strerror(errno));
		goto err_free;
	}
	uint64_t base;
	rc = read_base(j, &base);
	if (rc) {
		snprintf(err, errlen, "journal base '%s/journal.base': unreadable", dir);
		goto err_close;
	}
	j->first_index = base + 1;
	j->last_index = base;
	rc = scan(j, err, errlen);
	if (rc)
		goto err_close;
	if (j->last_index < base)
		j->last_index = base;
	*out = j;
	return 0;

err_close:
	close(j->fd);
err_free:
	free(j);
	return rc;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	close(j->fd);
	free(j);
}

uint64_t journal_last_index(const struct journal *j)
{
	return j->last_index;
}

int journal_replay(struct journal *j, uint64_t after,
		   int (*fn)(void *arg, uint64_t index, const void *data, size_t len), void *arg,
		   char *err, size_t errlen)
{
	if (after + 1 < j->first_index && j->last_index >= j->first_index) {
		snprintf(err, errlen,
			 "journal starts at index %llu but the state needs entries after %llu",
			 (unsigned long long)j->first_index, (unsigned long long)after);
		return -EIO;
	}
	uint8_t *buf;
	size_t len;
	int rc = read_all(j->fd, &buf, &len);
	if (rc) {
		snprintf(err, errlen, "journal '%s': %s", j->path, strerror(-rc));
		return rc;
	}
	size_t off = 0;
	while (off < len && rc == 0) {
		const uint8_t *payload;
		uint32_t plen;
		size_t n = journal_decode(buf + off, len - off, 0, &payload, &plen);
		if (!n)
			break;
		struct journal_header h;
		memcpy(&h, buf + off, sizeof(h));
		if (h.index > after)
			rc = fn(arg, h.index, payload, plen);
		off += n;
	}
	free(buf);
	return rc;
}

int journal_append(struct journal *j, const void *data, size_t len, uint64_t *index, char *err,
		   size_t errlen)
{
	if (len > JOURNAL_MAX_RECORD) {
		snprintf(err, errlen, "journal record of %zu bytes is too large", len);
		return -EFBIG;
	}
	struct journal_header h = { .magic = JOURNAL_MAGIC, .length = (uint32_t)len,
				    .index = j->last_index + 1 };
	checksum(h.index, data, len, h.checksum);
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)data, len } };
	ssize_t want = (ssize_t)(sizeof(h) + len);
	ssize_t n = pwritev(j->fd, iov, 2, j->size);
	if (n != want || fdatasync(j->fd) != 0) {
		int e = n < 0 || n == want ? errno : ENOSPC;
		/* Undo a partial record so the next append starts clean. */
		if (ftruncate(j->fd, j->size) != 0)
			log_error("journal %s: cannot undo a partial append", j->path);
		snprintf(err, errlen, "journal '%s': append failed: %s", j->path, strerror(e));
		return -e;
	}
	j->size += want;
	j->last_index = h.index;
	*index = h.index;
	return 0;
}

int journal_compact(struct journal *j, uint64_t upto, char *err, size_t errlen)
{
	if (upto > j->last_index)
		upto = j->last_index;
	uint8_t *buf;
	size_t len;
	int rc = read_all(j->fd, &buf, &len);
	if (rc)
		return rc;
	size_t off = 0;
	while (off < len) {
		const uint8_t *payload;
		uint32_t plen;
		size_t n = journal_decode(buf + off, len - off, 0, &payload, &plen);
		if (!n)
			break;
		struct journal_header h;
		memcpy(&h, buf + off, sizeof(h));
		if (h.index > upto)
			break;
		off += n;
	}
	char tmp[1200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	size_t rest = j->size > (off_t)off ? (size_t)j->size - off : 0;
	if ((rest && write(fd, buf + off, rest) != (ssize_t)rest) || fsync(fd) != 0) {
		rc = errno ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	/* Base first: if we crash between the two, the old file still holds
	 * every record and scanning it resumes at the right index. */
	rc = write_base(j, upto);
	if (!rc && rename(tmp, j->path) != 0)
		rc = -errno;
	if (!rc)
		rc = fsync_dir(j->dir);
	if (!rc) {
		int nfd = open(j->path, O_RDWR | O_CLOEXEC);
		if (nfd < 0) {
			rc = -errno;
		} else {
			close(j->fd);
			j->fd = nfd;
			j->size = (off_t)rest;
			j->first_index = upto + 1;
		}
	}
out:
	if (rc)
		snprintf(err, errlen, "journal '%s': compaction failed: %s", j->path, strerror(-rc));
	free(buf);
	return rc;
}
