/*
 * Durable Raft storage: the I/O half of raft/storage.h (format.c holds the
 * byte layout). Every mutation is fsynced before it returns; replaced
 * files go through a temp file, fsync, rename and a directory fsync.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/err.h"
#include "raft/format.h"

#define DEFAULT_SEGMENT_MAX (8u << 20)

struct raft_segment {
	uint64_t first;
	uint64_t last; /* first - 1 while empty */
	uint64_t size; /* bytes, header included */
};

struct raft_storage {
	int dirfd;
	struct raft_segment *segs; /* ascending, contiguous indexes */
	size_t nsegs, segs_cap;
	int tail_fd; /* the last segment, or -1 */
	uint64_t snap_index;
	uint64_t last_index; /* last stored entry, or snap_index */
	struct raft_hard_state hs;
	size_t segment_max;
	int broken; /* first write/fsync error; sticky */
};


static void seg_name(char *buf, size_t len, uint64_t first)
{
	snprintf(buf, len, "log-%020llu", (unsigned long long)first);
}

/* Reads a whole file under dirfd; *buf is owned by the caller. */
static int read_all(int dirfd, const char *name, uint8_t **buf, size_t *len)
{
	int rc;
	struct stat stbuf;
	uint8_t *data = NULL;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &stbuf) < 0) {
		rc = -errno;
		goto err_close;
	}
	size_t size = (size_t)stbuf.st_size;
	data = malloc(size ? size : 1);
	if (!data) {
		rc = -ENOMEM;
		goto err_close;
	}
	size_t off = 0;
	while (off < size) {
		ssize_t got = pread(fd, data + off, size - off, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? -errno : -EIO;
			goto err_free;
		}
		off += (size_t)got;
	}
	close(fd);
	*buf = data;
	*len = size;
	return 0;

err_free:
	free(data);
err_close:
	close(fd);
	return rc;
}

static int write_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t put = pwrite(fd, buf, len, (off_t)off);
		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0)
			return -errno;
		if (put == 0)
			return -EIO;
		buf += put;
		len -= (size_t)put;
		off += (uint64_t)put;
	}
	return 0;
}

static int sync_dir(struct raft_storage *st)
{
	return fsync(st->dirfd) < 0 ? -errno : 0;
}

/* Writes head then body to tmp, fsyncs, renames over name, fsyncs dir. */
static int replace_file(struct raft_storage *st, const char *name, const char *tmp,
			const uint8_t *head, size_t head_len, const uint8_t *body,
			size_t body_len)
{
	int rc;
	int fd = openat(st->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, head, head_len, 0);
	if (!rc && body_len)
		rc = write_all(fd, body, body_len, head_len);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && renameat(st->dirfd, tmp, st->dirfd, name) < 0)
		rc = -errno;
	if (!rc)
		rc = sync_dir(st);
	if (rc)
		unlinkat(st->dirfd, tmp, 0);
	return rc;
}

static int open_tail(struct raft_storage *st)
{
	char name[64];
	if (st->tail_fd >= 0)
		close(st->tail_fd);
	st->tail_fd = -1;
	if (!st->nsegs)
		return 0;
	seg_name(name, sizeof(name), st->segs[st->nsegs - 1].first);
	st->tail_fd = openat(st->dirfd, name, O_WRONLY | O_CLOEXEC);
	return st->tail_fd < 0 ? -errno : 0;
}

static int push_seg(struct raft_storage *st, const struct raft_segment *seg)
{
	if (st->nsegs == st->segs_cap) {
		size_t cap = st->segs_cap ? st->segs_cap * 2 : 8;
		struct raft_segment *segs = realloc(st->segs, cap * sizeof(*segs));
		if (!segs)
			return -ENOMEM;
		st->segs = segs;
		st->segs_cap = cap;
	}
	st->segs[st->nsegs++] = *seg;
	return 0;
}

static int unlink_seg(struct raft_storage *st, uint64_t first)
{
	char name[64];
	seg_name(name, sizeof(name), first);
	return unlinkat(st->dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

/* Deletes the newest segments first, so a crash midway leaves a log
 * without holes. */
static int drop_segments_from_tail(struct raft_storage *st, uint64_t from)
{
	bool dropped = false;
	while (st->nsegs && st->segs[st->nsegs - 1].first >= from) {
		int rc = unlink_seg(st, st->segs[st->nsegs - 1].first);
		if (rc)
			return rc;
		st->nsegs--;
		dropped = true;
	}
	if (!dropped)
		return 0;
	int rc = sync_dir(st);
	return rc ? rc : open_tail(st);
}

static int create_segment(struct raft_storage *st, uint64_t first)
{
	char name[64];
	uint8_t head[RAFT_STORAGE_SEGMENT_HEADER_SIZE];
	int rc;
	seg_name(name, sizeof(name), first);
	int fd = openat(st->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	raft_encode_segment_header(head, first);
	rc = write_all(fd, head, sizeof(head), 0);
	if (!rc && fdatasync(fd) < 0)
		rc = -errno;
	if (rc)
		goto err_unlink;
	rc = sync_dir(st);
	if (rc)
		goto err_unlink;
	struct raft_segment seg = { .first = first, .last = first - 1, .size = sizeof(head) };
	rc = push_seg(st, &seg);
	if (rc)
		goto err_unlink;
	if (st->tail_fd >= 0)
		close(st->tail_fd);
	st->tail_fd = fd;
	return 0;

err_unlink:
	close(fd);
	unlinkat(st->dirfd, name, 0);
	return rc;
}

int raft_storage_truncate_suffix(struct raft_storage *st, uint64_t from)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char name[64];
	int rc;

	if (st->broken)
		return st->broken;
	if (from <= st->snap_index)
		return -EINVAL;
	if (from > st->last_index)
		return 0;
	rc = drop_segments_from_tail(st, from);
	if (rc)
		goto err_broken;
	if (st->nsegs && st->segs[st->nsegs - 1].last >= from) {
		struct raft_segment *seg = &st->segs[st->nsegs - 1];
		seg_name(name, sizeof(name), seg->first);
		rc = read_all(st->dirfd, name, &buf, &len);
		if (rc)
			goto err_broken;
		size_t off = RAFT_STORAGE_SEGMENT_HEADER_SIZE;
		for (uint64_t i = seg->first; i < from; i++) {
			struct raft_entry e;
			size_t rlen = 0;
			rc = raft_storage_decode_record(buf + off, len - off, &e, &rlen);
			if (rc) {
				rc = -EIO; /* it was valid when we wrote it */
				goto err_broken;
			}
			off += rlen;
		}
		if (ftruncate(st->tail_fd, (off_t)off) < 0 || fdatasync(st->tail_fd) < 0) {
			rc = -errno;
			goto err_broken;
		}
		seg->last = from - 1;
		seg->size = off;
	}
	st->last_index = from - 1;
	free(buf);
	return 0;

err_broken:
	free(buf);
	st->broken = rc;
	return rc;
}

/* Writes ents[0..n) to the tail segment as one write and fsyncs it. */
static int append_to_tail(struct raft_storage *st, const struct raft_entry *ents, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += RAFT_STORAGE_RECORD_HEADER_SIZE + ents[i].len;
	uint8_t *buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		raft_encode_record_header(buf + off, &ents[i]);
		off += RAFT_STORAGE_RECORD_HEADER_SIZE;
		if (ents[i].len)
			memcpy(buf + off, ents[i].data, ents[i].len);
		off += ents[i].len;
	}
	struct raft_segment *seg = &st->segs[st->nsegs - 1];
	int rc = write_all(st->tail_fd, buf, total, seg->size);
	if (!rc && fdatasync(st->tail_fd) < 0)
		rc = -errno;
	free(buf);
	if (rc)
		return rc;
	seg->size += total;
	seg->last = ents[n - 1].index;
	st->last_index = seg->last;
	return 0;
}

int raft_storage_append(struct raft_storage *st, const struct raft_entry *ents, size_t n)
{
	int rc;

	if (st->broken)
		return st->broken;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ents[i].index != ents[0].index + i || ents[i].len > RAFT_STORAGE_MAX_PAYLOAD ||
		    ents[i].term == 0 || ents[i].type < RAFT_ENTRY_NORMAL ||
		    ents[i].type > RAFT_ENTRY_NOOP)
			return -EINVAL;
	if (ents[0].index <= st->last_index) {
		rc = raft_storage_truncate_suffix(st, ents[0].index);
		if (rc)
			return rc;
	}
	if (ents[0].index != st->last_index + 1)
		return -EINVAL;
	/* Fill the tail up to segment_max (at least one record per
	 * segment), then roll over to a new segment. */
	size_t done = 0;
	while (done < n) {
		if (!st->nsegs || st->segs[st->nsegs - 1].size >= st->segment_max) {
			rc = create_segment(st, ents[done].index);
			if (rc)
				goto err_broken;
		}
		uint64_t room = st->segment_max - st->segs[st->nsegs - 1].size;
		size_t k = 0;
		uint64_t bytes = 0;
		while (done + k < n) {
			uint64_t rec = RAFT_STORAGE_RECORD_HEADER_SIZE + ents[done + k].len;
			if (k && bytes + rec > room)
				break;
			bytes += rec;
			k++;
		}
		rc = append_to_tail(st, ents + done, k);
		if (rc)
			goto err_broken;
		done += k;
	}
	return 0;

err_broken:
	if (rc != -ENOMEM)
		st->broken = rc;
	return rc;
}

int raft_storage_compact(struct raft_storage *st, uint64_t upto)
{
	size_t drop = 0;
	int rc;
	if (st->broken)
		return st->broken;
	while (drop < st->nsegs && st->segs[drop].last <= upto) {
		rc = unlink_seg(st, st->segs[drop].first);
		if (rc)
			goto err_broken;
		drop++;
	}
	if (!drop)
		return 0;
	memmove(st->segs, st->segs + drop, (st->nsegs - drop) * sizeof(*st->segs));
	st->nsegs -= drop;
	rc = sync_dir(st);
	if (!rc)
		rc = open_tail(st);
	if (rc)
		goto err_broken;
	return 0;

err_broken:
	st->broken = rc;
	return rc;
}

int raft_storage_save_snapshot(struct raft_storage *st, const struct raft_snapshot *snap,
			       bool discard_log)
{
	uint8_t head[RAFT_STORAGE_SNAPSHOT_HEADER_SIZE];
	int rc;
	if (st->broken)
		return st->broken;
	if (snap->index == 0 || snap->term == 0 || snap->config.nvoters > RAFT_MAX_VOTERS)
		return -EINVAL;
	raft_encode_snapshot_header(head, snap);
	rc = replace_file(st, "snapshot", "snapshot.tmp", head, sizeof(head), snap->data,
			  snap->len);
	if (rc)
		goto err_broken;
	st->snap_index = snap->index;
	if (discard_log) {
		/* A crash before the segments are gone is repaired on open:
		 * a log that disagrees with the snapshot is dropped there. */
		rc = drop_segments_from_tail(st, 0);
		if (rc)
			goto err_broken;
		st->last_index = snap->index;
	} else {
		rc = raft_storage_compact(st, snap->index);
		if (rc)
			return rc;
		if (st->last_index < snap->index)
			st->last_index = snap->index;
	}
	return 0;

err_broken:
	st->broken = rc;
	return rc;
}

int raft_storage_set_hard_state(struct raft_storage *st, const struct raft_hard_state *hs)
{
	uint8_t buf[RAFT_STORAGE_META_SIZE];
	if (st->broken)
		return st->broken;
	if (hs->term == st->hs.term && hs->vote == st->hs.vote)
		return 0;
	raft_encode_meta(buf, hs);
	int rc = replace_file(st, "meta", "meta.tmp", buf, sizeof(buf), NULL, 0);
	if (rc) {
		st->broken = rc;
		return rc;
	}
	st->hs = *hs;
	return 0;
}

int raft_storage_persist_ready(struct raft_storage *st, const struct raft_ready *rd)
{
	int rc = 0;
	if (rd->snapshot)
		rc = raft_storage_save_snapshot(st, rd->snapshot, true);
	if (!rc && rd->nentries)
		rc = raft_storage_append(st, rd->entries, rd->nentries);
	if (!rc && rd->hs_changed)
		rc = raft_storage_set_hard_state(st, &rd->hs);
	return rc;
}

uint64_t raft_storage_last_index(const struct raft_storage *st)
{
	return st->last_index;
}

void raft_storage_boot_free(struct raft_storage_boot *boot)
{
	for (size_t i = 0; i < boot->nentries; i++)
		free(boot->entries[i].data);
	free(boot->entries);
	free(boot->snapshot.data);
	memset(boot, 0, sizeof(*boot));
}

void raft_storage_boot_to_raft(const struct raft_storage_boot *sb, struct raft_boot *boot)
{
	memset(boot, 0, sizeof(*boot));
	boot->hs = sb->hs;
	boot->snapshot = sb->snapshot.index ? &sb->snapshot : NULL;
	boot->entries = sb->entries;
	boot->nentries = sb->nentries;
}

void raft_storage_close(struct raft_storage *st)
{
	if (!st)
		return;
	if (st->tail_fd >= 0)
		close(st->tail_fd);
	if (st->dirfd >= 0)
		close(st->dirfd);
	free(st->segs);
	free(st);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Segment first indexes found in the directory, ascending. */
static int list_segments(int dirfd, uint64_t **out, size_t *n)
{
	uint64_t *firsts = NULL;
	size_t count = 0, cap = 0;
	int fd = dup(dirfd);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned long long first;
		char canon[64];
		if (strncmp(de->d_name, "log-", 4) || sscanf(de->d_name + 4, "%20llu", &first) != 1)
			continue;
		seg_name(canon, sizeof(canon), first);
		if (strcmp(canon, de->d_name))
			continue; /* not one of ours */
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *grown = realloc(firsts, cap * sizeof(*grown));
			if (!grown) {
				free(firsts);
				closedir(d);
				return -ENOMEM;
			}
			firsts = grown;
		}
		firsts[count++] = first;
	}
	closedir(d);
	if (count)
		qsort(firsts, count, sizeof(*firsts), cmp_u64);
	*out = firsts;
	*n = count;
	return 0;
}

static int push_entry(struct raft_storage_boot *boot, size_t *cap, const struct raft_entry *e)
{
	if (boot->nentries == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct raft_entry *ents = realloc(boot->entries, ncap * sizeof(*ents));
		if (!ents)
			return -ENOMEM;
		boot->entries = ents;
		*cap = ncap;
	}
	struct raft_entry *d = &boot->entries[boot->nentries];
	*d = *e;
	d->data = NULL;
	if (e->len) {
		d->data = malloc(e->len);
		if (!d->data)
			return -ENOMEM;
		memcpy(d->data, e->data, e->len);
	}
	boot->nentries++;
	return 0;
}

/* Loads one segment into boot; a damaged tail of the last segment is cut
 * off, damage anywhere else is -EBADMSG. */
static int load_segment(struct raft_storage *st, uint64_t first, bool is_last,
			struct raft_storage_boot *boot, size_t *cap, char *err, size_t errlen)
{
	char name[64];
	uint8_t *buf = NULL;
	size_t len = 0, valid = 0, nrec = 0;
	uint64_t last = 0, hdr_first = 0;
	int rc;

	seg_name(name, sizeof(name), first);
	rc = read_all(st->dirfd, name, &buf, &len);
	if (rc) {
		st_set_err(err, errlen, "%s: %s", name, strerror(-rc));
		return rc;
	}
	rc = raft_storage_decode_segment_header(buf, len, &hdr_first);
	if (rc || hdr_first != first) {
		if (is_last) {
			/* Crashed while creating it: nothing was acknowledged. */
			boot->truncated_bytes += len;
			rc = unlink_seg(st, first);
			if (!rc)
				rc = sync_dir(st);
			goto out_free;
		}
		st_set_err(err, errlen, "%s: bad segment header", name);
		rc = -EBADMSG;
		goto out_free;
	}
	if (st->nsegs && st->segs[st->nsegs - 1].last + 1 != first) {
		st_set_err(err, errlen, "%s: gap after index %llu", name,
			(unsigned long long)st->segs[st->nsegs - 1].last);
		rc = -EBADMSG;
		goto out_free;
	}
	rc = raft_storage_scan_segment(buf, len, &valid, &nrec, &last);
	if (rc) {
		if (!is_last) {
			st_set_err(err, errlen, "%s: damaged record at byte %zu", name, valid);
			rc = -EBADMSG;
			goto out_free;
		}
		int fd = openat(st->dirfd, name, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)valid) < 0 || fdatasync(fd) < 0) {
			rc = -errno;
			st_set_err(err, errlen, "%s: truncating torn tail: %s", name, strerror(-rc));
			if (fd >= 0)
				close(fd);
			goto out_free;
		}
		close(fd);
		boot->truncated_bytes += len - valid;
	}
	size_t off = RAFT_STORAGE_SEGMENT_HEADER_SIZE;
	for (size_t i = 0; i < nrec; i++) {
		struct raft_entry e;
		size_t rlen = 0;
		raft_storage_decode_record(buf + off, valid - off, &e, &rlen);
		off += rlen;
		rc = push_entry(boot, cap, &e);
		if (rc)
			goto out_free;
	}
	struct raft_segment seg = { .first = first, .last = last, .size = valid };
	rc = push_seg(st, &seg);

out_free:
	free(buf);
	return rc;
}

/* Makes the loaded log agree with the snapshot: drop entries it covers,
 * and drop the whole log if it belongs to a history the snapshot replaced
 * (a crash between saving a leader's snapshot and deleting segments). */
static int reconcile(struct raft_storage *st, struct raft_storage_boot *boot, char *err,
		     size_t errlen)
{
	const struct raft_snapshot *snap = &boot->snapshot;
	uint64_t first = boot->nentries ? boot->entries[0].index : 0;
	uint64_t last = boot->nentries ? boot->entries[boot->nentries - 1].index : 0;
	int rc;

	if (!boot->nentries)
		goto done;
	if (!snap->index) {
		if (first != 1) {
			st_set_err(err, errlen, "log starts at %llu without a snapshot",
				(unsigned long long)first);
			return -EBADMSG;
		}
		goto done;
	}
	if (first > snap->index + 1) {
		st_set_err(err, errlen, "log starts at %llu after snapshot %llu",
			(unsigned long long)first, (unsigned long long)snap->index);
		return -EBADMSG;
	}
	bool stale = last < snap->index ||
		(first <= snap->index && boot->entries[snap->index - first].term != snap->term);
	if (stale) {
		rc = drop_segments_from_tail(st, 0);
		if (rc)
			return rc;
		for (size_t i = 0; i < boot->nentries; i++)
			free(boot->entries[i].data);
		boot->nentries = 0;
		goto done;
	}
	size_t skip = first <= snap->index ? (size_t)(snap->index - first + 1) : 0;
	for (size_t i = 0; i < skip; i++)
		free(boot->entries[i].data);
	memmove(boot->entries, boot->entries + skip,
		(boot->nentries - skip) * sizeof(*boot->entries));
	boot->nentries -= skip;
done:
	st->snap_index = snap->index;
	st->last_index = st->nsegs && st->segs[st->nsegs - 1].last > snap->index ?
		st->segs[st->nsegs - 1].last : snap->index;
	return open_tail(st);
}

static int load_files(struct raft_storage *st, struct raft_storage_boot *boot, char *err,
		      size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, nsegs = 0;
	uint64_t *firsts = NULL;
	int rc;

	unlinkat(st->dirfd, "meta.tmp", 0);
	unlinkat(st->dirfd, "snapshot.tmp", 0);
	rc = read_all(st->dirfd, "meta", &buf, &len);
	if (rc == 0) {
		rc = raft_storage_decode_meta(buf, len, &boot->hs);
		free(buf);
		if (rc) {
			st_set_err(err, errlen, "meta: corrupt");
			return rc;
		}
		st->hs = boot->hs;
	} else if (rc != -ENOENT) {
		st_set_err(err, errlen, "meta: %s", strerror(-rc));
		return rc;
	}
	rc = read_all(st->dirfd, "snapshot", &buf, &len);
	if (rc == 0) {
		struct raft_snapshot snap;
		rc = raft_storage_decode_snapshot(buf, len, &snap);
		if (rc) {
			free(buf);
			st_set_err(err, errlen, "snapshot: corrupt");
			return rc;
		}
		/* Keep the file's buffer: move the data to its start. */
		if (snap.len)
			memmove(buf, snap.data, snap.len);
		snap.data = buf;
		boot->snapshot = snap;
	} else if (rc != -ENOENT) {
		st_set_err(err, errlen, "snapshot: %s", strerror(-rc));
		return rc;
	}
	rc = list_segments(st->dirfd, &firsts, &nsegs);
	if (rc)
		return rc;
	for (size_t i = 0; i < nsegs && !rc; i++)
		rc = load_segment(st, firsts[i], i + 1 == nsegs, boot, &cap, err, errlen);
	free(firsts);
	if (rc)
		return rc;
	return reconcile(st, boot, err, errlen);
}

int raft_storage_open(const char *dir, const struct raft_storage_options *opts,
		      struct raft_storage **out, struct raft_storage_boot *boot,
		      char *err, size_t errlen)
{
	int rc;
	memset(boot, 0, sizeof(*boot));
	struct raft_storage *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->tail_fd = -1;
	st->segment_max = opts && opts->segment_max ? opts->segment_max : DEFAULT_SEGMENT_MAX;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		st_set_err(err, errlen, "%s: %s", dir, strerror(errno));
		goto err_free;
	}
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		rc = -errno;
		st_set_err(err, errlen, "%s: %s", dir, strerror(errno));
		goto err_free;
	}
	rc = load_files(st, boot, err, errlen);
	if (rc)
		goto err_close;
	*out = st;
	return 0;

err_close:
	raft_storage_boot_free(boot);
	raft_storage_close(st);
	return rc;
err_free:
	free(st);
	return rc;
}
