/* The filesystem operations of strata-fuse (fuse/fz.h): namespace calls
 * to the master group, data through read.c and write.c. What each
 * operation does, and what it refuses, is the table in docs/fuse.md. */
#include "fuse/fz.h"

#include "client/client.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LIST_PAGE 1000
#define WORKERS_TTL_MS 2000
#define WORKERS_RETRY_MS 10000
#define WORKER_DOWN_MS 3000

int64_t fz_now_ms(void)
{
	return clock_mono_ms();
}

int fz_errno(int rc)
{
	if (rc >= 0)
		return rc;
	if (rc > -ST_ERR_BASE)
		return rc == -ECONNREFUSED || rc == -EAGAIN || rc == -ETIMEDOUT ? -EIO : rc;
	switch (rc) {
	case ST_EAUTH:
	case ST_EFORBIDDEN:
		return -EACCES;
	case ST_ENOMOUNT:
		return -EROFS;
	default:
		return -EIO;
	}
}

void fz_stat_from_inode(const struct client_inode *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = n->is_dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_nlink = n->is_dir ? 2 : 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = n->is_dir ? 0 : (off_t)n->length;
	st->st_blksize = n->block_size > 0 && n->block_size <= (1 << 30) ? (blksize_t)n->block_size
									  : 1 << 20;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtim.tv_sec = n->mtime_ms / 1000;
	st->st_mtim.tv_nsec = (n->mtime_ms % 1000) * 1000000;
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
}

int fz_workers(struct fz *fz, struct fz_worker **out, size_t *n, int64_t *capacity,
	       int64_t *used)
{
	int64_t now = fz_now_ms();
	int rc = 0;
	pthread_mutex_lock(&fz->workers_lock);
	if (!fz->workers_at_ms || now - fz->workers_at_ms >= WORKERS_TTL_MS) {
		struct httpc *hc = fz_http(fz);
		struct client_worker_list l = { 0 };
		char err[1024];
		rc = hc ? client_workers_list(fz->mc, hc, &l, err, sizeof(err)) : -ENOMEM;
		if (rc) {
			log_warn("listing the workers: %s", rc == -ENOMEM ? "out of memory" : err);
			/* Without masters, the workers known last still serve the
			 * files already open; ask again in WORKERS_RETRY_MS. */
			if (fz->workers_at_ms && rc != -ENOMEM) {
				fz->workers_at_ms = now - WORKERS_TTL_MS + WORKERS_RETRY_MS;
				rc = 0;
			}
		} else {
			struct fz_worker *ws = calloc(l.n ? l.n : 1, sizeof(*ws));
			size_t k = 0;
			int64_t cap = 0, use = 0;
			for (size_t i = 0; ws && i < l.n; i++) {
				const struct client_worker *w = &l.workers[i];
				if (!w->live)
					continue;
				ws[k].id = w->id;
				snprintf(ws[k].base, sizeof(ws[k].base), "%s://%s", fz->scheme,
					 w->address);
				for (size_t j = 0; j < fz->nworkers; j++)
					if (fz->workers[j].id == w->id)
						ws[k].down_until_ms = fz->workers[j].down_until_ms;
				cap += w->capacity_bytes;
				use += w->used_bytes;
				k++;
			}
			if (ws) {
				free(fz->workers);
				fz->workers = ws;
				fz->nworkers = k;
				fz->capacity_bytes = cap;
				fz->used_bytes = use;
				fz->workers_at_ms = now;
			} else {
				rc = -ENOMEM;
			}
			client_worker_list_clear(&l);
		}
	}
	if (!rc) {
		*out = calloc(fz->nworkers ? fz->nworkers : 1, sizeof(**out));
		if (*out) {
			memcpy(*out, fz->workers, fz->nworkers * sizeof(**out));
			*n = fz->nworkers;
			*capacity = fz->capacity_bytes;
			*used = fz->used_bytes;
		} else {
			rc = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&fz->workers_lock);
	return rc;
}

void fz_worker_failed(struct fz *fz, uint64_t id)
{
	pthread_mutex_lock(&fz->workers_lock);
	for (size_t i = 0; i < fz->nworkers; i++)
		if (fz->workers[i].id == id)
			fz->workers[i].down_until_ms = fz_now_ms() + WORKER_DOWN_MS;
	pthread_mutex_unlock(&fz->workers_lock);
}

/* Attributes of path: an open writer's, the cache's, or the master's. */
static int stat_path(struct fz *fz, const char *path, struct stat *st)
{
	if (fz_writer_stat(fz, path, st) == 0)
		return 0;
	int rc = fz_cache_get(fz->cache, path, st);
	if (rc <= 0)
		return rc;
	struct httpc *hc = fz_http(fz);
	struct client_inode n = { 0 };
	char err[1024];
	if (!hc)
		return -ENOMEM;
	rc = client_fs_stat(fz->mc, hc, path, &n, err, sizeof(err));
	if (rc == -ENOENT) {
		fz_cache_put_absent(fz->cache, path);
		return -ENOENT;
	}
	if (rc) {
		log_warn("stat %s: %s", path, rc == -ENOMEM ? "out of memory" : err);
		if (strcmp(path, "/") != 0)
			return fz_errno(rc);
		/* The mount point stays a directory whatever the masters do, so
		 * the mount can be seen and unmounted; listing it fails. */
		memset(&n, 0, sizeof(n));
		n.is_dir = true;
	}
	fz_stat_from_inode(&n, st);
	client_inode_clear(&n);
	if (!rc)
		fz_cache_put(fz->cache, path, st);
	return 0;
}

static struct fz_file *handle(const struct fuse_file_info *fi)
{
	return fi ? (struct fz_file *)(uintptr_t)fi->fh : NULL;
}

/* With nullpath_ok, operations on an open file get no path (an unlinked
 * one has none): the handle's. NULL when there is neither. */
/* path, or (NULL: libfuse passes none for a call on a handle) the
 * handle's, copied into buf (a rename may move it meanwhile). */
static const char *path_of(const char *path, struct fuse_file_info *fi, char *buf, size_t len)
{
	struct fz_file *f = handle(fi);
	if (path || !f)
		return path;
	fz_file_path(fz_get(), f, buf, len);
	return buf;
}

/*
 * The kernel reads ahead of a FUSE file by its bdi's read_ahead_kb, which
 * INIT can only lower from the kernel's 128 KiB: a sequential reader then
 * sends one 128 KiB request after another. Raised through sysfs (root
 * only) after INIT was answered, before the first file is opened: each
 * open file takes the value it finds.
 */
void fz_set_readahead(struct fz *fz)
{
	if (!fz->opts.kernel_readahead_kib || !fz->dev_known ||
	    atomic_exchange(&fz->readahead_set, true))
		return;
	char path[128], value[32];
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", fz->dev_major,
		 fz->dev_minor);
	int n = snprintf(value, sizeof(value), "%d\n", fz->opts.kernel_readahead_kib);
	FILE *f = fopen(path, "w");
	bool ok = f && fwrite(value, 1, (size_t)n, f) == (size_t)n;
	if (f && fclose(f) != 0)
		ok = false;
	if (ok)
		log_debug("kernel read-ahead %d KiB (%s)", fz->opts.kernel_readahead_kib, path);
	else
		log_info("cannot set the kernel's read-ahead of the mount (%s: %s); sequential "
			 "reads use the kernel's default", path, strerror(errno));
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct fz_file *f = handle(fi);
	fz_set_readahead(fz_get());
	if (f && f->writable)
		return fz_wstat(f, st);
	char pbuf[4200];
	if (!(path = path_of(path, fi, pbuf, sizeof(pbuf))))
		return -EBADF;
	int rc = stat_path(fz_get(), path, st);
	/* An open file reads the version it opened: without masters, its
	 * attributes are those (the kernel asks before reads). */
	if (rc && rc != -ENOENT && f) {
		*st = f->st;
		rc = 0;
	}
	return rc;
}

/* Lists path from the master, every page; fills the attribute cache. */
static int list_dir(struct fz *fz, const char *path, struct fz_dir *out)
{
	struct httpc *hc = fz_http(fz);
	if (!hc)
		return -ENOMEM;
	char *after = NULL, err[1024];
	size_t cap = 0;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	do {
		struct client_listing l = { 0 };
		rc = client_fs_list(fz->mc, hc, path, after, LIST_PAGE, &l, err, sizeof(err));
		free(after);
		after = NULL;
		if (rc) {
			if (rc != -ENOENT)
				log_warn("list %s: %s", path, rc == -ENOMEM ? "out of memory" : err);
			break;
		}
		if (l.is_file) {
			client_listing_clear(&l);
			rc = -ENOTDIR;
			break;
		}
		for (size_t i = 0; i < l.nentries && !rc; i++) {
			if (out->n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct fz_dirent *e = realloc(out->entries, ncap * sizeof(*e));
				if (!e) {
					rc = -ENOMEM;
					break;
				}
				out->entries = e;
				cap = ncap;
			}
			struct fz_dirent *e = &out->entries[out->n];
			e->name = strdup(l.entries[i].name);
			if (!e->name) {
				rc = -ENOMEM;
				break;
			}
			fz_stat_from_inode(&l.entries[i], &e->st);
			out->n++;
			char child[4096];
			if (path_join(path, e->name, child, sizeof(child)) == 0)
				fz_cache_put(fz->cache, child, &e->st);
		}
		if (!rc && l.next_after && !(after = strdup(l.next_after)))
			rc = -ENOMEM;
		client_listing_clear(&l);
	} while (!rc && after);
	free(after);
	if (rc)
		fz_dir_free(out);
	return fz_errno(rc);
}

/* With nullpath_ok readdir gets no path: opendir keeps it in the handle. */
static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	fi->fh = (uint64_t)(uintptr_t)copy;
	return 0;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	free((char *)(uintptr_t)fi->fh);
	fi->fh = 0;
	return 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct fz *fz = fz_get();
	if (!path && !(path = (const char *)(uintptr_t)fi->fh))
		return -EBADF;
	struct fz_dir d;
	if (fz_cache_dir_get(fz->cache, path, &d) != 0) {
		int rc = list_dir(fz, path, &d);
		if (rc)
			return rc;
		fz_cache_dir_put(fz->cache, path, &d);
	}
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	for (size_t i = 0; i < d.n; i++)
		if (filler(buf, d.entries[i].name, &d.entries[i].st, 0, FUSE_FILL_DIR_PLUS))
			break;
	/* Files being written here that the master does not list yet. */
	pthread_mutex_lock(&fz->files_lock);
	for (struct fz_file *f = fz->writers; f; f = f->next_writer) {
		char parent[4096];
		if (f->detached || path_parent(f->path, parent, sizeof(parent)) ||
		    strcmp(parent, path) != 0)
			continue;
		const char *name = path_basename(f->path);
		bool listed = false;
		for (size_t i = 0; i < d.n && !listed; i++)
			listed = strcmp(d.entries[i].name, name) == 0;
		for (struct fz_file *g = fz->writers; g != f && !listed; g = g->next_writer)
			listed = !g->detached && strcmp(g->path, f->path) == 0;
		if (!listed)
			filler(buf, name, NULL, 0, 0);
	}
	pthread_mutex_unlock(&fz->files_lock);
	fz_dir_free(&d);
	return 0;
}

static int op_mkdir(const char *path, mode_t mode)
{
	struct fz *fz = fz_get();
	struct httpc *hc = fz_http(fz);
	char err[1024];
	if (!hc)
		return -ENOMEM;
	int rc = client_mkdir(fz->mc, hc, path, false, NULL, err, sizeof(err));
	fz_cache_invalidate(fz->cache, path, false);
	if (rc && rc != -EEXIST && rc != -ENOENT)
		log_warn("mkdir %s: %s", path, err);
	return fz_errno(rc);
}

/* Deletes path after checking it is (dir) or is not a directory. */
static int remove_path(struct fz *fz, const char *path, bool dir)
{
	struct stat st;
	int rc = stat_path(fz, path, &st);
	if (rc)
		return rc;
	if (dir && !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (!dir && S_ISDIR(st.st_mode))
		return -EISDIR;
	struct httpc *hc = fz_http(fz);
	char err[1024];
	if (!hc)
		return -ENOMEM;
	rc = client_delete(fz->mc, hc, path, false, err, sizeof(err));
	fz_cache_invalidate(fz->cache, path, dir);
	if (rc && rc != -ENOTEMPTY && rc != -ENOENT)
		log_warn("remove %s: %s", path, err);
	return fz_errno(rc);
}

/* A file open for writing here keeps its handle working after the unlink
 * (reads and writes; fstat is ESTALE from libfuse), but its content is never
 * stored: the name does not come back at its close. A new file not stored
 * yet exists only in its writer: unlinking it succeeds. */
static int op_unlink(const char *path)
{
	struct fz *fz = fz_get();
	struct fz_wset ws;
	int rc = fz_wset_lock(fz, path, false, NULL, &ws);
	if (rc)
		return rc;
	rc = remove_path(fz, path, false);
	if (rc == -ENOENT && ws.n)
		rc = 0;
	if (!rc)
		fz_wset_detach(fz, &ws, path);
	fz_wset_unlock(fz, &ws);
	return rc;
}

/* A directory with files being written below it (listed by readdir) is
 * not empty, whatever the master holds. */
static int op_rmdir(const char *path)
{
	struct fz *fz = fz_get();
	struct fz_wset ws;
	int rc = fz_wset_lock(fz, path, true, NULL, &ws);
	if (rc)
		return rc;
	rc = ws.n ? -ENOTEMPTY : remove_path(fz, path, true);
	fz_wset_unlock(fz, &ws);
	return rc;
}

static int rename_path(struct fz *fz, const char *src, const char *dst, unsigned int flags)
{
	struct stat sst, dst_st;
	int rc = stat_path(fz, src, &sst);
	if (rc)
		return rc;
	if (strcmp(src, dst) == 0)
		return 0;
	int drc = stat_path(fz, dst, &dst_st);
	if (drc && drc != -ENOENT)
		return drc;
	if (drc == 0) {
		if (flags & RENAME_NOREPLACE)
			return -EEXIST;
		if (S_ISDIR(sst.st_mode) && !S_ISDIR(dst_st.st_mode))
			return -ENOTDIR;
		if (!S_ISDIR(sst.st_mode) && S_ISDIR(dst_st.st_mode))
			return -EISDIR;
		/* (-ENOENT: gone meanwhile, or a new file only its writer holds) */
		rc = remove_path(fz, dst, S_ISDIR(dst_st.st_mode));
		if (rc && rc != -ENOENT)
			return rc;
	}
	struct httpc *hc = fz_http(fz);
	char err[1024];
	if (!hc)
		return -ENOMEM;
	rc = client_rename(fz->mc, hc, src, dst, NULL, err, sizeof(err));
	fz_cache_invalidate(fz->cache, src, true);
	fz_cache_invalidate(fz->cache, dst, true);
	if (rc)
		log_warn("rename %s to %s: %s", src, dst, err);
	return fz_errno(rc);
}

/* POSIX rename over strata's (which refuses an existing destination): a
 * destination file, or empty directory, is removed first. Not atomic: a
 * crash between the two leaves the destination gone. Handles open for
 * writing move with their file (or the directory above it): their next
 * flush stores at the new path. One open on a replaced destination is
 * detached from it, as after an unlink. */
static int op_rename(const char *src, const char *dst, unsigned int flags)
{
	struct fz *fz = fz_get();
	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT */
	struct fz_wset ws;
	int rc = fz_wset_lock(fz, src, true, dst, &ws);
	if (rc)
		return rc;
	/* A file still being written is stored first, so it can move. */
	for (size_t i = 0; i < ws.n && !rc; i++)
		if (strcmp(ws.f[i]->path, src) == 0)
			rc = fz_upload_locked(fz, ws.f[i]);
	if (!rc)
		rc = fz_wset_prepare_rename(&ws, src, dst);
	if (!rc)
		rc = rename_path(fz, src, dst, flags);
	if (!rc) {
		fz_wset_renamed(fz, &ws, dst);
		fz_readers_renamed(fz, src, dst);
	}
	fz_wset_unlock(fz, &ws);
	return rc;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct fz *fz = fz_get();
	struct fz_file *f = handle(fi);
	if (f && f->writable)
		return fz_wtruncate(f, size);
	char pbuf[4200];
	if (!(path = path_of(path, fi, pbuf, sizeof(pbuf))))
		return -EBADF;
	struct stat st;
	int rc = stat_path(fz, path, &st);
	if (rc)
		return rc;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	return fz_truncate_path(fz, path, size);
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct fz *fz = fz_get();
	fz_set_readahead(fz);
	struct fz_file *f = NULL;
	int rc;
	if ((fi->flags & O_ACCMODE) == O_RDONLY)
		rc = fz_open_read(fz, path, &f);
	else
		rc = fz_open_write(fz, path, false, fi->flags & O_TRUNC, fi->flags & O_APPEND,
				   &f);
	if (rc)
		return rc;
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct fz *fz = fz_get();
	struct fz_file *f = NULL;
	int rc = fz_open_write(fz, path, true, true, fi->flags & O_APPEND, &f);
	if (rc)
		return rc;
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

/* Reads as descriptors where the local worker has the blocks (libfuse
 * splices them into /dev/fuse), else as memory. */
static int op_read_buf(const char *path, struct fuse_bufvec **bufp, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fz_file *f = handle(fi);
	if (!f)
		return -EBADF;
	if (!f->writable)
		return fz_read_buf(fz_get(), f, size, off, bufp);
	struct fuse_bufvec *bv = malloc(sizeof(*bv));
	char *mem = malloc(size ? size : 1);
	int n = bv && mem ? fz_wread(f, mem, size, off) : -ENOMEM;
	if (n < 0) {
		free(mem);
		free(bv);
		return n;
	}
	*bv = (struct fuse_bufvec)FUSE_BUFVEC_INIT((size_t)n);
	bv->buf[0].mem = mem;
	*bufp = bv;
	return 0;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fz_file *f = handle(fi);
	if (!f || !f->writable)
		return -EBADF;
	return fz_write(fz_get(), f, buf, size, off);
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
	struct fz_file *f = handle(fi);
	return f && f->writable ? fz_upload(fz_get(), f) : 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	return op_flush(path, fi);
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	struct fz_file *f = handle(fi);
	if (!f)
		return 0;
	if (f->writable)
		return fz_close_write(fz_get(), f);
	fz_file_put(fz_get(), f);
	return 0;
}

static int op_statfs(const char *path, struct statvfs *sv)
{
	struct fz *fz = fz_get();
	struct fz_worker *ws = NULL;
	size_t n = 0;
	int64_t cap = 0, used = 0;
	int rc = fz_workers(fz, &ws, &n, &cap, &used);
	free(ws);
	if (rc)
		return fz_errno(rc);
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_blocks = (fsblkcnt_t)(cap / 4096);
	sv->f_bfree = (fsblkcnt_t)((cap > used ? cap - used : 0) / 4096);
	sv->f_bavail = sv->f_bfree;
	sv->f_namemax = 255;
	return 0;
}

/* Times and permissions are not kept per file: accepted without effect
 * (docs/fuse.md), so that touch, cp -p and Python's shutil work; the path
 * must still exist (a file open for writing always does). */
static int accept_without_effect(const char *path, struct fuse_file_info *fi)
{
	struct stat st;
	if (handle(fi) && handle(fi)->writable)
		return 0;
	char pbuf[4200];
	if (!(path = path_of(path, fi, pbuf, sizeof(pbuf))))
		return -EBADF;
	return stat_path(fz_get(), path, &st);
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)tv;
	return accept_without_effect(path, fi);
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	return accept_without_effect(path, fi);
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)uid, (void)gid;
	return accept_without_effect(path, fi);
}

static int op_unsupported_link(const char *from, const char *to)
{
	return -EOPNOTSUPP;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct fz *fz = fz_get();
	cfg->entry_timeout = fz->opts.entry_timeout;
	cfg->attr_timeout = fz->opts.attr_timeout;
	cfg->negative_timeout = fz->opts.negative_timeout;
	cfg->hard_remove = 1; /* no .fuse_hidden renames of open files */
	cfg->nullpath_ok = 1; /* reads and writes need no path lookup */
	cfg->auto_cache = !fz->opts.no_auto_cache;
	cfg->direct_io = fz->opts.direct_io;
	cfg->use_ino = 0;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->max_readahead = UINT32_MAX;
	if (fz->opts.max_read)
		conn->max_read = fz->opts.max_read; /* libfuse wants the mount option's */
	/* Replies that are descriptors (short-circuit reads) go from the
	 * tier's file through a pipe into /dev/fuse: no copy here. */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	fz->pool = fz_pool_new(fz, fz->opts.readahead_threads);
	log_info("mounted; masters %s", fz->opts.masters ? fz->opts.masters : "(master.addresses)");
	return fz;
}

static void op_destroy(void *private_data)
{
	struct fz *fz = private_data;
	fz_flush_all(fz);
	fz_pool_free(fz->pool);
	fz->pool = NULL;
	log_info("unmounted");
}

const struct fuse_operations fz_operations = {
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.truncate = op_truncate,
	.open = op_open,
	.create = op_create,
	.read_buf = op_read_buf,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.release = op_release,
	.statfs = op_statfs,
	.utimens = op_utimens,
	.chmod = op_chmod,
	.chown = op_chown,
	.symlink = op_unsupported_link,
	.link = op_unsupported_link,
	.init = op_init,
	.destroy = op_destroy,
};
