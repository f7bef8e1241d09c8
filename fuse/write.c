/* Writes of strata-fuse (fuse/fz.h).
 *
 * strata stores a file as immutable content versions: a write replaces the
 * whole file. So a write handle keeps the file's complete new content in
 * an unlinked spool file (any offset may be written: random writes,
 * appends, truncation all happen there) and uploads it through a worker
 * (PUT /api/v1/data with the configured write type) on flush/fsync/close.
 * Until then readers elsewhere see the previous version, never a mix.
 * Opening an existing file for writing without O_TRUNC copies its current
 * content into the spool first, for files up to max_rewrite MiB; larger
 * ones are refused with EOPNOTSUPP rather than rewritten half. */
#include "fuse/fz.h"

#include "client/client.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/placement.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int spool_open(struct fz *fz)
{
	int fd = open(fz->opts.spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	char tmpl[4200];
	snprintf(tmpl, sizeof(tmpl), "%s/strata-fuse.XXXXXX", fz->opts.spool_dir);
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(tmpl);
	return fd;
}

/* A FILE over a duplicate of fd, from its start. */
static FILE *spool_stream(int fd, const char *mode)
{
	int dup_fd = dup(fd);
	if (dup_fd < 0)
		return NULL;
	FILE *fp = fdopen(dup_fd, mode);
	if (!fp) {
		close(dup_fd);
		return NULL;
	}
	if (fseeko(fp, 0, SEEK_SET)) {
		fclose(fp);
		return NULL;
	}
	return fp;
}

/* Copies path's current content into fd (the rewrite of an existing file). */
static int spool_fill(struct fz *fz, const char *path, int fd)
{
	struct httpc *hc = fz_http(fz);
	struct client_inode n = { 0 };
	char err[1024];
	if (!hc)
		return -ENOMEM;
	int rc = client_fs_stat(fz->mc, hc, path, &n, err, sizeof(err));
	if (rc) {
		if (rc != -ENOENT)
			log_warn("open %s for writing: %s", path, err);
		return fz_errno(rc);
	}
	bool is_dir = n.is_dir;
	uint64_t length = n.length;
	uint64_t data_id = n.nblocks ? n.blocks[0].id >> PLACEMENT_INDEX_BITS : 0;
	client_inode_clear(&n);
	if (is_dir)
		return -EISDIR;
	if (length == 0)
		return 0;
	if (length > (uint64_t)fz->opts.max_rewrite_mib << 20) {
		log_warn("open %s for writing: %llu bytes is more than max_rewrite (%ld MiB): "
			 "open it with O_TRUNC to replace it", path, (unsigned long long)length,
			 fz->opts.max_rewrite_mib);
		return -EOPNOTSUPP;
	}
	FILE *fp = spool_stream(fd, "w");
	if (!fp)
		return -errno;
	rc = client_data_get_version(fz->mc, hc, path, data_id, fp, err, sizeof(err));
	if (fclose(fp) && !rc)
		rc = -EIO;
	if (rc) {
		log_warn("open %s for writing: reading its content: %s", path, err);
		return fz_errno(rc);
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size != length) {
		log_warn("open %s for writing: read %lld bytes of %llu", path,
			 (long long)st.st_size, (unsigned long long)length);
		return -EIO;
	}
	return 0;
}

int fz_open_write(struct fz *fz, const char *path, bool create, bool truncate, bool append,
		  struct fz_file **out)
{
	struct fz_file *f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return -ENOMEM;
	}
	f->refs = 1;
	f->writable = true;
	f->append = append;
	pthread_mutex_init(&f->wlock, NULL);
	f->fd = spool_open(fz);
	int rc = f->fd < 0 ? f->fd : 0;
	if (!rc && !create && !truncate)
		rc = spool_fill(fz, path, f->fd);
	if (rc) {
		if (f->fd >= 0)
			close(f->fd);
		fz_file_put(fz, f);
		return rc;
	}
	/* A new or truncated file exists (empty) from now on, even if nothing
	 * is written: the first flush stores it. */
	f->dirty = create || truncate;
	pthread_mutex_lock(&fz->files_lock);
	f->next_writer = fz->writers;
	fz->writers = f;
	pthread_mutex_unlock(&fz->files_lock);
	fz_cache_invalidate(fz->cache, path, false);
	*out = f;
	return 0;
}

int fz_write(struct fz *fz, struct fz_file *f, const char *buf, size_t size, off_t off)
{
	pthread_mutex_lock(&f->wlock);
	if (f->append) {
		struct stat st;
		off = fstat(f->fd, &st) == 0 ? st.st_size : off;
	}
	ssize_t n = pwrite(f->fd, buf, size, off);
	int rc = n < 0 ? -errno : (int)n;
	if (n > 0)
		f->dirty = true;
	pthread_mutex_unlock(&f->wlock);
	return rc;
}

int fz_wread(struct fz_file *f, char *buf, size_t size, off_t off)
{
	ssize_t n = pread(f->fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

int fz_wtruncate_locked(struct fz_file *f, off_t size)
{
	int rc = ftruncate(f->fd, size) ? -errno : 0;
	if (!rc)
		f->dirty = true;
	return rc;
}

int fz_wtruncate(struct fz_file *f, off_t size)
{
	pthread_mutex_lock(&f->wlock);
	int rc = fz_wtruncate_locked(f, size);
	pthread_mutex_unlock(&f->wlock);
	return rc;
}

int fz_upload_locked(struct fz *fz, struct fz_file *f)
{
	if (!f->dirty || f->detached || f->fd < 0)
		return 0; /* (fd: closed, its content stored then) */
	struct httpc *hc = fz_http(fz);
	struct stat st;
	char err[1024] = "";
	int rc = !hc ? -ENOMEM : fstat(f->fd, &st) ? -errno : 0;
	FILE *fp = rc ? NULL : spool_stream(f->fd, "r");
	if (!rc && !fp)
		rc = -errno;
	uint64_t stored = 0;
	if (!rc)
		rc = client_data_put(fz->mc, hc, f->path, fp, st.st_size, fz->opts.write_type,
				     &stored, err, sizeof(err));
	if (fp)
		fclose(fp);
	if (!rc && stored != (uint64_t)st.st_size) {
		snprintf(err, sizeof(err), "the worker stored %llu bytes of %lld",
			 (unsigned long long)stored, (long long)st.st_size);
		rc = -EIO;
	}
	if (!rc)
		f->dirty = false;
	else
		log_warn("write %s: %s", f->path, *err ? err : st_strerror(rc));
	fz_cache_invalidate(fz->cache, f->path, false);
	return fz_errno(rc);
}

int fz_upload(struct fz *fz, struct fz_file *f)
{
	pthread_mutex_lock(&f->wlock);
	int rc = fz_upload_locked(fz, f);
	pthread_mutex_unlock(&f->wlock);
	return rc;
}

int fz_close_write(struct fz *fz, struct fz_file *f)
{
	int rc = fz_upload(fz, f);
	pthread_mutex_lock(&fz->files_lock);
	for (struct fz_file **pp = &fz->writers; *pp; pp = &(*pp)->next_writer) {
		if (*pp == f) {
			*pp = f->next_writer;
			break;
		}
	}
	pthread_mutex_unlock(&fz->files_lock);
	/* Under wlock: a set may have taken f before it left the list. */
	pthread_mutex_lock(&f->wlock);
	close(f->fd);
	f->fd = -1;
	pthread_mutex_unlock(&f->wlock);
	fz_file_put(fz, f);
	return rc;
}

/* The attributes of a write handle: its spool file's size and times. */
static int spool_stat(const struct fz_file *f, struct stat *st)
{
	struct stat fst;
	if (fstat(f->fd, &fst))
		return -errno;
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = fst.st_size;
	st->st_blksize = 1 << 20;
	st->st_blocks = (fst.st_size + 511) / 512;
	st->st_mtim = fst.st_mtim;
	st->st_atim = fst.st_mtim;
	st->st_ctim = fst.st_mtim;
	return 0;
}

int fz_wstat(struct fz_file *f, struct stat *st)
{
	return spool_stat(f, st);
}

int fz_writer_stat(struct fz *fz, const char *path, struct stat *st)
{
	int rc = 1;
	pthread_mutex_lock(&fz->files_lock);
	for (struct fz_file *f = fz->writers; f; f = f->next_writer) {
		if (!f->detached && strcmp(f->path, path) == 0 && spool_stat(f, st) == 0) {
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&fz->files_lock);
	return rc;
}

int fz_truncate_path(struct fz *fz, const char *path, off_t size)
{
	if (size < 0)
		return -EINVAL;
	/* Open writers of path hold the content that will be stored: they
	 * are cut, and stored before truncate(2) returns, as below. One may be
	 * a handle whose close(2) returned but whose release (asynchronous in
	 * FUSE) has not run yet. */
	struct fz_wset ws;
	int rc = fz_wset_lock(fz, path, false, NULL, &ws);
	if (rc)
		return rc;
	for (size_t i = 0; i < ws.n && !rc; i++) {
		rc = fz_wtruncate_locked(ws.f[i], size);
		if (!rc)
			rc = fz_upload_locked(fz, ws.f[i]);
	}
	size_t held = ws.n;
	fz_wset_unlock(fz, &ws);
	if (held)
		return rc;
	struct fz_file *f;
	rc = fz_open_write(fz, path, false, size == 0, false, &f);
	if (rc)
		return rc;
	if (size > 0)
		rc = fz_wtruncate(f, size);
	int crc = fz_close_write(fz, f);
	return rc ? rc : crc;
}

void fz_flush_all(struct fz *fz)
{
	pthread_mutex_lock(&fz->files_lock);
	for (struct fz_file *f = fz->writers; f; f = f->next_writer)
		if (f->dirty && !f->detached)
			log_warn("unmounting with %s open for writing: storing it", f->path);
	pthread_mutex_unlock(&fz->files_lock);
	/* Uploads happen outside files_lock (fz_upload takes other locks). */
	for (;;) {
		pthread_mutex_lock(&fz->files_lock);
		struct fz_file *f = fz->writers;
		while (f && (!f->dirty || f->detached))
			f = f->next_writer;
		if (f)
			f->refs++;
		pthread_mutex_unlock(&fz->files_lock);
		if (!f)
			return;
		if (fz_upload(fz, f)) {
			pthread_mutex_lock(&f->wlock);
			f->dirty = false; /* logged; do not try forever */
			pthread_mutex_unlock(&f->wlock);
		}
		fz_file_put(fz, f);
	}
}

/* ---- the writers a rename, an unlink or a path truncate acts on ---- */

static bool at_or_below(const char *p, const char *path, bool below)
{
	return below ? path_has_prefix(p, path) : strcmp(p, path) == 0;
}

static bool in_set(const struct fz_file *f, const char *path, bool below, const char *also)
{
	return !f->detached &&
	       (at_or_below(f->path, path, below) || (also && strcmp(f->path, also) == 0));
}

int fz_wset_lock(struct fz *fz, const char *path, bool below, const char *also,
		 struct fz_wset *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&fz->files_lock);
	size_t n = 0;
	for (struct fz_file *f = fz->writers; f; f = f->next_writer)
		n += in_set(f, path, below, also);
	if (n && !(out->f = calloc(n, sizeof(*out->f)))) {
		pthread_mutex_unlock(&fz->files_lock);
		return -ENOMEM;
	}
	for (struct fz_file *f = fz->writers; f; f = f->next_writer) {
		if (in_set(f, path, below, also)) {
			f->refs++;
			out->f[out->n++] = f;
		}
	}
	pthread_mutex_unlock(&fz->files_lock);
	/* A writer may leave the set's terms (renamed, detached) before its
	 * lock is ours: it is kept all the same, checked again where it
	 * matters (fz_wset_prepare_rename compares paths under the lock). One
	 * closed meanwhile (its content stored) is let go. */
	size_t kept = 0;
	for (size_t i = 0; i < out->n; i++) {
		struct fz_file *f = out->f[i];
		pthread_mutex_lock(&f->wlock);
		if (f->fd >= 0) {
			out->f[kept++] = f;
			continue;
		}
		pthread_mutex_unlock(&f->wlock);
		fz_file_put(fz, f);
	}
	out->n = kept;
	return 0;
}

void fz_wset_unlock(struct fz *fz, struct fz_wset *ws)
{
	for (size_t i = ws->n; i-- > 0;) {
		pthread_mutex_unlock(&ws->f[i]->wlock);
		fz_file_put(fz, ws->f[i]);
		if (ws->to)
			free(ws->to[i]);
	}
	free(ws->f);
	free(ws->to);
	memset(ws, 0, sizeof(*ws));
}

int fz_path_moved(const char *p, const char *from, const char *to, char **out)
{
	*out = NULL;
	if (!path_has_prefix(p, from))
		return 0;
	if (asprintf(out, "%s%s", to, p + strlen(from)) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int fz_wset_prepare_rename(struct fz_wset *ws, const char *from, const char *to)
{
	if (!ws->n)
		return 0;
	if (!(ws->to = calloc(ws->n, sizeof(*ws->to))))
		return -ENOMEM;
	for (size_t i = 0; i < ws->n; i++) {
		if (ws->f[i]->detached)
			continue;
		int rc = fz_path_moved(ws->f[i]->path, from, to, &ws->to[i]);
		if (rc)
			return rc;
	}
	return 0;
}

void fz_wset_renamed(struct fz *fz, struct fz_wset *ws, const char *replaced)
{
	pthread_mutex_lock(&fz->files_lock);
	for (size_t i = 0; i < ws->n; i++) {
		struct fz_file *f = ws->f[i];
		if (ws->to && ws->to[i]) {
			free(f->path);
			f->path = ws->to[i];
			ws->to[i] = NULL;
		} else if (strcmp(f->path, replaced) == 0) {
			f->detached = true;
		}
	}
	pthread_mutex_unlock(&fz->files_lock);
}

void fz_wset_detach(struct fz *fz, struct fz_wset *ws, const char *path)
{
	pthread_mutex_lock(&fz->files_lock);
	for (size_t i = 0; i < ws->n; i++)
		if (strcmp(ws->f[i]->path, path) == 0)
			ws->f[i]->detached = true;
	pthread_mutex_unlock(&fz->files_lock);
}
