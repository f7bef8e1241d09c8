/*
 * file:// driver: a local directory (or an NFS mount) as an under-store.
 *
 * Every path is resolved beneath the mount root's directory fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): ".." is refused before
 * we get here (ufs_path_norm), and the kernel refuses absolute symlinks and
 * symlinks that climb out of the root (EXDEV), race-free. Where openat2 is
 * missing (ENOSYS, seccomp) or "local.resolve=walk" is set, paths are walked
 * one component at a time with O_NOFOLLOW, which refuses every symlink.
 *
 * Writes go to a hidden temp file in the target's directory and are renamed
 * over the target on commit. Files are created 0600 and directories 0700
 * unless local.file_mode / local.dir_mode say otherwise.
 */
#include "ufs/ufs_int.h"

#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOCAL_TMP_PREFIX ".strata-tmp-"
#define LOCAL_READ_CHUNK (256 * 1024)

struct local {
	int root_fd;
	char *root_path;
	mode_t file_mode;
	mode_t dir_mode;
	bool fsync;
	bool walk; /* component walk instead of openat2 */
};

struct local_writer {
	struct local *l;
	int parent_fd;
	int fd;
	char leaf[256];
	char tmp[64];
	char path[UFS_PATH_MAX + 1];
};

static const char *const g_local_opts[] = { "local.file_mode", "local.dir_mode", "local.fsync",
					    "local.resolve", NULL };

/* Maps a syscall errno to the ufs error set, with the reason in err. */
static int local_err(int e, const char *what, const char *path, char *err, size_t errlen)
{
	int rc;
	const char *why;
	switch (e) {
	case EXDEV:
	case ELOOP:
		rc = -EACCES;
		why = "path escapes the mount root through a symlink";
		break;
	case EPERM:
		rc = -EACCES;
		why = strerror(e);
		break;
	case ENAMETOOLONG:
		rc = -EINVAL;
		why = strerror(e);
		break;
	case ESTALE:
	case ETIMEDOUT:
	case EINTR:
		rc = -EAGAIN;
		why = strerror(e);
		break;
	default:
		rc = -e;
		why = strerror(e);
		break;
	}
	return ufs_seterr(rc, err, errlen, "%s %s: %s", what, *path ? path : "/", why);
}

static int openat2_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
}

/* Component walk refusing every symlink (fallback when openat2 is absent). */
static int walk_open(int root_fd, const char *rel, int flags, mode_t mode)
{
	int dfd = dup(root_fd);
	if (dfd < 0)
		return -1;
	const char *p = rel;
	while (*p) {
		const char *slash = strchr(p, '/');
		if (!slash)
			break;
		char comp[256];
		size_t clen = (size_t)(slash - p);
		if (clen >= sizeof(comp)) {
			close(dfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, clen);
		comp[clen] = '\0';
		int next = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int saved = errno;
		close(dfd);
		if (next < 0) {
			errno = saved == ENOTDIR ? ELOOP : saved; /* a symlink is ENOTDIR here */
			return -1;
		}
		dfd = next;
		p = slash + 1;
	}
	int fd = openat(dfd, *p ? p : ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
	int saved = errno;
	if (fd < 0 && saved == ENOTDIR && (flags & O_DIRECTORY)) {
		struct stat st;
		if (fstatat(dfd, *p ? p : ".", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			saved = ELOOP;
	}
	close(dfd);
	errno = saved;
	return fd;
}

/* Opens rel ("" = root) beneath the root; returns fd or -1 with errno. */
static int local_open_rel(struct local *l, const char *rel, int flags, mode_t mode)
{
	const char *r = *rel ? rel : ".";
	if (!l->walk) {
		int fd = openat2_beneath(l->root_fd, r, flags, mode);
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return fd;
		if (errno == EPERM && !(flags & O_CREAT))
			return fd; /* a real EPERM, not seccomp */
		log_warn("ufs local: openat2 unavailable, falling back to O_NOFOLLOW walk");
		l->walk = true;
	}
	return walk_open(l->root_fd, rel, flags, mode);
}

/* Splits norm into parent dir fd (O_PATH) and leaf. norm must not be root. */
static int local_open_parent(struct local *l, const char *norm, int *parent_fd, const char **leaf,
			     char *err, size_t errlen)
{
	char parent[UFS_PATH_MAX + 1];
	const char *slash = strrchr(norm, '/');
	size_t plen = slash ? (size_t)(slash - norm) : 0;
	memcpy(parent, norm, plen);
	parent[plen] = '\0';
	*leaf = slash ? slash + 1 : norm;
	if (strlen(*leaf) > 255)
		return ufs_seterr(-EINVAL, err, errlen, "%s: name too long", norm);
	int fd = local_open_rel(l, parent, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return local_err(errno, "open parent of", norm, err, errlen);
	*parent_fd = fd;
	return 0;
}

static void local_fill_stat(const struct stat *sb, struct ufs_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->is_dir = S_ISDIR(sb->st_mode);
	st->length = st->is_dir ? 0 : (uint64_t)sb->st_size;
	st->mtime_ms = (int64_t)sb->st_mtim.tv_sec * 1000 + sb->st_mtim.tv_nsec / 1000000;
	if (!st->is_dir)
		snprintf(st->fingerprint, sizeof(st->fingerprint), "%" PRIu64 "-%lld.%09ld-%llu",
			 st->length, (long long)sb->st_mtim.tv_sec, (long)sb->st_mtim.tv_nsec,
			 (unsigned long long)sb->st_ino);
}

static int parse_mode(const struct ufs_opt *opts, size_t nopts, const char *key, mode_t def,
		      mode_t *out, char *err, size_t errlen)
{
	const char *val = ufs_opt_get(opts, nopts, key);
	if (!val) {
		*out = def;
		return 0;
	}
	char *end = NULL;
	unsigned long m = strtoul(val, &end, 8);
	if (end == val || *end || m > 0777)
		return ufs_seterr(-EINVAL, err, errlen, "mount option %s: not an octal mode: %s",
				  key, val);
	*out = (mode_t)m;
	return 0;
}

static int local_open(const char *uri, const struct ufs_opt *opts, size_t nopts, void **impl,
		      char *err, size_t errlen)
{
	const char *path = uri + strlen("file://");
	if (strncmp(path, "localhost/", 10) == 0)
		path += strlen("localhost");
	if (path[0] != '/')
		return ufs_seterr(-EINVAL, err, errlen,
				  "file URI must name an absolute local path: %s", uri);
	int rc = ufs_opt_check(opts, nopts, "local.", g_local_opts, err, errlen);
	if (rc)
		return rc;
	struct local *l = calloc(1, sizeof(*l));
	if (!l)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	l->root_fd = -1;
	if ((rc = parse_mode(opts, nopts, "local.file_mode", 0600, &l->file_mode, err, errlen)) ||
	    (rc = parse_mode(opts, nopts, "local.dir_mode", 0700, &l->dir_mode, err, errlen)))
		goto err_free_local;
	uint64_t do_fsync;
	if ((rc = ufs_opt_u64(opts, nopts, "local.fsync", 1, &do_fsync, err, errlen)))
		goto err_free_local;
	l->fsync = do_fsync != 0;
	const char *resolve = ufs_opt_get(opts, nopts, "local.resolve");
	if (resolve && strcmp(resolve, "walk") != 0 && strcmp(resolve, "beneath") != 0) {
		rc = ufs_seterr(-EINVAL, err, errlen,
				"mount option local.resolve: want beneath or walk, got %s", resolve);
		goto err_free_local;
	}
	l->walk = resolve && strcmp(resolve, "walk") == 0;
	l->root_path = strdup(path);
	if (!l->root_path) {
		rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
		goto err_free_local;
	}
	l->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (l->root_fd < 0) {
		rc = ufs_seterr(-errno, err, errlen, "mount root %s: %s", path, strerror(errno));
		goto err_free_path;
	}
	*impl = l;
	return 0;

err_free_path:
	free(l->root_path);
err_free_local:
	free(l);
	return rc;
}

static void local_close(void *impl)
{
	struct local *l = impl;
	if (!l)
		return;
	close(l->root_fd);
	free(l->root_path);
	free(l);
}

static int local_probe(void *impl, char *err, size_t errlen)
{
	struct local *l = impl;
	struct stat sb;
	if (fstat(l->root_fd, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return ufs_seterr(-ENOENT, err, errlen, "mount root %s is gone", l->root_path);
	if (faccessat(l->root_fd, ".", R_OK | W_OK | X_OK, AT_EACCESS) < 0)
		return ufs_seterr(-EACCES, err, errlen, "mount root %s: %s", l->root_path,
				  strerror(errno));
	return 0;
}

static int local_stat(void *impl, const char *path, struct ufs_stat *st, char *err,
		      size_t errlen)
{
	char norm[UFS_PATH_MAX + 1];
	if (ufs_path_norm(path, norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "invalid path: %s", path);
	int fd = local_open_rel(impl, norm, O_PATH, 0);
	if (fd < 0)
		return local_err(errno, "stat", norm, err, errlen);
	struct stat sb;
	int rc = 0;
	if (fstat(fd, &sb) < 0)
		rc = local_err(errno, "stat", norm, err, errlen);
	else if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
		rc = ufs_seterr(-EACCES, err, errlen, "stat %s: not a regular file", norm);
	else
		local_fill_stat(&sb, st);
	close(fd);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Stats one listed child; -ENOENT means "leave it out of the page". */
static int local_stat_child(struct local *l, int dfd, const char *dir, const char *name,
			    struct ufs_stat *st)
{
	struct stat sb;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return -ENOENT;
	if (S_ISLNK(sb.st_mode)) {
		char full[UFS_PATH_MAX + 258];
		snprintf(full, sizeof(full), "%s%s%s", dir, *dir ? "/" : "", name);
		int fd = local_open_rel(l, full, O_PATH, 0);
		if (fd < 0)
			return -ENOENT; /* escaping or dangling symlinks are not listed */
		int rc = fstat(fd, &sb);
		close(fd);
		if (rc < 0)
			return -ENOENT;
	}
	if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
		return -ENOENT;
	local_fill_stat(&sb, st);
	return 0;
}

static int local_list(void *impl, const char *path, const char *token, size_t max_keys,
		      struct ufs_list_page *page, char *err, size_t errlen)
{
	struct local *l = impl;
	char norm[UFS_PATH_MAX + 1];
	char **names = NULL;
	size_t nnames = 0, cap = 0;
	int rc = 0;

	if (ufs_path_norm(path, norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "invalid path: %s", path);
	int fd = local_open_rel(l, norm, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return local_err(errno, "list", norm, err, errlen);
	DIR *d = fdopendir(fd);
	if (!d) {
		rc = local_err(errno, "list", norm, err, errlen);
		close(fd);
		return rc;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, "..") ||
		    !strncmp(n, LOCAL_TMP_PREFIX, strlen(LOCAL_TMP_PREFIX)))
			continue;
		if (token && strcmp(n, token) <= 0)
			continue;
		if (nnames == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **grown = realloc(names, ncap * sizeof(*names));
			if (!grown)
				goto err_oom;
			names = grown;
			cap = ncap;
		}
		if (!(names[nnames] = strdup(n)))
			goto err_oom;
		nnames++;
	}
	if (nnames > 1)
		qsort(names, nnames, sizeof(*names), name_cmp);
	size_t take = nnames < max_keys ? nnames : max_keys;
	if (take < nnames && !(page->next_token = strdup(names[take - 1])))
		goto err_oom;
	page->entries = calloc(take ? take : 1, sizeof(*page->entries));
	if (!page->entries)
		goto err_oom;
	for (size_t i = 0; i < take; i++) {
		struct ufs_entry *e = &page->entries[page->count];
		if (local_stat_child(l, dirfd(d), norm, names[i], &e->st) < 0)
			continue;
		e->name = names[i];
		names[i] = NULL;
		page->count++;
	}
	goto out_free_names;

err_oom:
	rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
out_free_names:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

/* st (may be NULL) gets the metadata of the file descriptor read from. */
static int local_read_stat(void *impl, const char *path, uint64_t off, uint64_t len,
			   ufs_sink_fn sink, void *arg, struct ufs_stat *st, char *err,
			   size_t errlen)
{
	char norm[UFS_PATH_MAX + 1];
	int rc = 0;
	if (ufs_path_norm(path, norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "invalid path: %s", path);
	int fd = local_open_rel(impl, norm, O_RDONLY, 0);
	if (fd < 0)
		return local_err(errno, "read", norm, err, errlen);
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		rc = local_err(errno, "read", norm, err, errlen);
		goto out_close_fd;
	}
	if (S_ISDIR(sb.st_mode)) {
		rc = ufs_seterr(-EISDIR, err, errlen, "read %s: is a directory", norm);
		goto out_close_fd;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = ufs_seterr(-EACCES, err, errlen, "read %s: not a regular file", norm);
		goto out_close_fd;
	}
	if (st)
		local_fill_stat(&sb, st);
	char *buf = malloc(LOCAL_READ_CHUNK);
	if (!buf) {
		rc = ufs_seterr(-ENOMEM, err, errlen, "out of memory");
		goto out_close_fd;
	}
	uint64_t left = len;
	while (left > 0) {
		size_t want = left < LOCAL_READ_CHUNK ? (size_t)left : LOCAL_READ_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = local_err(errno, "read", norm, err, errlen);
			break;
		}
		if (n == 0)
			break;
		rc = sink(arg, buf, (size_t)n);
		if (rc) {
			ufs_seterr(rc, err, errlen, "read %s: aborted by the receiver", norm);
			break;
		}
		off += (uint64_t)n;
		left -= (uint64_t)n;
	}
	free(buf);
out_close_fd:
	close(fd);
	return rc;
}

static int local_read(void *impl, const char *path, uint64_t off, uint64_t len, ufs_sink_fn sink,
		      void *arg, char *err, size_t errlen)
{
	return local_read_stat(impl, path, off, len, sink, arg, NULL, err, errlen);
}

/* Creates every missing directory of norm (all of it when whole, else all
 * but the leaf). -EEXIST only when whole and norm itself already exists. */
static int local_mkdirs(struct local *l, const char *norm, bool whole, char *err, size_t errlen)
{
	char prefix[UFS_PATH_MAX + 1];
	size_t n = strlen(norm);
	for (size_t i = 1; i <= n; i++) {
		if (i < n && norm[i] != '/')
			continue;
		bool last = i == n;
		if (last && !whole)
			break;
		memcpy(prefix, norm, i);
		prefix[i] = '\0';
		int pfd;
		const char *leaf;
		int rc = local_open_parent(l, prefix, &pfd, &leaf, err, errlen);
		if (rc)
			return rc;
		if (mkdirat(pfd, leaf, l->dir_mode) == 0) {
			int dfd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (dfd >= 0) {
				if (fchmod(dfd, l->dir_mode) < 0)
					log_warn("ufs local: chmod %s: %s", prefix, strerror(errno));
				close(dfd);
			}
		} else if (errno != EEXIST) {
			rc = local_err(errno, "mkdir", prefix, err, errlen);
		} else if (last) {
			rc = ufs_seterr(-EEXIST, err, errlen, "mkdir %s: already exists", prefix);
		} else {
			int dfd = local_open_rel(l, prefix, O_PATH | O_DIRECTORY, 0);
			if (dfd < 0)
				rc = local_err(errno, "mkdir", prefix, err, errlen);
			else
				close(dfd);
		}
		close(pfd);
		if (rc)
			return rc;
	}
	return 0;
}

static int local_mkdir(void *impl, const char *path, char *err, size_t errlen)
{
	char norm[UFS_PATH_MAX + 1];
	if (ufs_path_norm(path, norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "invalid path: %s", path);
	if (!*norm)
		return ufs_seterr(-EEXIST, err, errlen, "mkdir /: the mount root exists");
	return local_mkdirs(impl, norm, true, err, errlen);
}

static int local_writer_open(void *impl, const char *path, void **wimpl, char *err,
			     size_t errlen)
{
	struct local *l = impl;
	int rc;
	struct local_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return ufs_seterr(-ENOMEM, err, errlen, "out of memory");
	w->l = l;
	w->fd = -1;
	if (ufs_path_norm(path, w->path, sizeof(w->path)) || !*w->path) {
		rc = ufs_seterr(-EINVAL, err, errlen, "invalid file path: %s", path);
		goto err_free_writer;
	}
	if ((rc = local_mkdirs(l, w->path, false, err, errlen)))
		goto err_free_writer;
	const char *leaf;
	if ((rc = local_open_parent(l, w->path, &w->parent_fd, &leaf, err, errlen)))
		goto err_free_writer;
	snprintf(w->leaf, sizeof(w->leaf), "%s", leaf);
	struct stat sb;
	if (fstatat(w->parent_fd, w->leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode)) {
		rc = ufs_seterr(-EISDIR, err, errlen, "write %s: is a directory", w->path);
		goto err_close_parent;
	}
	for (int attempt = 0; attempt < 8 && w->fd < 0; attempt++) {
		uint64_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)getpid() * 1000003u + (uint64_t)attempt;
		snprintf(w->tmp, sizeof(w->tmp), LOCAL_TMP_PREFIX "%016" PRIx64, rnd);
		w->fd = openat(w->parent_fd, w->tmp,
			       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, l->file_mode);
		if (w->fd < 0 && errno != EEXIST)
			break;
	}
	if (w->fd < 0) {
		rc = local_err(errno, "create temp file for", w->path, err, errlen);
		goto err_close_parent;
	}
	if (fchmod(w->fd, l->file_mode) < 0)
		log_warn("ufs local: chmod temp for %s: %s", w->path, strerror(errno));
	*wimpl = w;
	return 0;

err_close_parent:
	close(w->parent_fd);
err_free_writer:
	free(w);
	return rc;
}

static int local_writer_write(void *wimpl, const void *data, size_t len, char *err,
			      size_t errlen)
{
	struct local_writer *w = wimpl;
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return local_err(errno, "write", w->path, err, errlen);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void local_writer_free(struct local_writer *w, bool unlink_tmp)
{
	if (w->fd >= 0)
		close(w->fd);
	if (unlink_tmp)
		unlinkat(w->parent_fd, w->tmp, 0);
	close(w->parent_fd);
	free(w);
}

static int local_writer_commit(void *wimpl, char *err, size_t errlen)
{
	struct local_writer *w = wimpl;
	int rc = 0;
	if (w->l->fsync && fsync(w->fd) < 0) {
		rc = local_err(errno, "fsync", w->path, err, errlen);
		goto out_free;
	}
	if (close(w->fd) < 0) {
		w->fd = -1;
		rc = local_err(errno, "close", w->path, err, errlen);
		goto out_free;
	}
	w->fd = -1;
	if (renameat(w->parent_fd, w->tmp, w->parent_fd, w->leaf) < 0) {
		rc = local_err(errno, "commit", w->path, err, errlen);
		goto out_free;
	}
	local_writer_free(w, false);
	return 0;
out_free:
	local_writer_free(w, true);
	return rc;
}

static void local_writer_abort(void *wimpl)
{
	local_writer_free(wimpl, true);
}

/* Removes dirfd/name and everything below it, never following symlinks. */
static int local_rmtree(int dirfd, const char *name, const char *path, char *err, size_t errlen)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return local_err(errno, "delete", path, err, errlen);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return local_err(errno, "delete", path, err, errlen);
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat sb;
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(sb.st_mode))
			rc = local_rmtree(fd, de->d_name, path, err, errlen);
		else if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT)
			rc = local_err(errno, "delete", path, err, errlen);
	}
	closedir(d);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		rc = local_err(errno, "delete", path, err, errlen);
	return rc;
}

static int local_remove(void *impl, const char *path, bool recursive, char *err, size_t errlen)
{
	char norm[UFS_PATH_MAX + 1];
	if (ufs_path_norm(path, norm, sizeof(norm)))
		return ufs_seterr(-EINVAL, err, errlen, "invalid path: %s", path);
	if (!*norm)
		return ufs_seterr(-EINVAL, err, errlen, "delete /: cannot delete the mount root");
	int pfd;
	const char *leaf;
	int rc = local_open_parent(impl, norm, &pfd, &leaf, err, errlen);
	if (rc)
		return rc;
	struct stat sb;
	if (fstatat(pfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		rc = local_err(errno, "delete", norm, err, errlen);
	else if (S_ISDIR(sb.st_mode) && recursive)
		rc = local_rmtree(pfd, leaf, norm, err, errlen);
	else if (unlinkat(pfd, leaf, S_ISDIR(sb.st_mode) ? AT_REMOVEDIR : 0) < 0)
		rc = local_err(errno == EEXIST ? ENOTEMPTY : errno, "delete", norm, err, errlen);
	close(pfd);
	return rc;
}

static int local_rename(void *impl, const char *src, const char *dst, char *err, size_t errlen)
{
	char nsrc[UFS_PATH_MAX + 1], ndst[UFS_PATH_MAX + 1];
	if (ufs_path_norm(src, nsrc, sizeof(nsrc)) || ufs_path_norm(dst, ndst, sizeof(ndst)) ||
	    !*nsrc || !*ndst)
		return ufs_seterr(-EINVAL, err, errlen, "rename %s to %s: invalid path", src, dst);
	int sfd, dfd;
	const char *sleaf, *dleaf;
	int rc = local_open_parent(impl, nsrc, &sfd, &sleaf, err, errlen);
	if (rc)
		return rc;
	struct stat sb;
	if (fstatat(sfd, sleaf, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = local_err(errno, "rename", nsrc, err, errlen);
		goto out_close_src;
	}
	if ((rc = local_mkdirs(impl, ndst, false, err, errlen)))
		goto out_close_src;
	if ((rc = local_open_parent(impl, ndst, &dfd, &dleaf, err, errlen)))
		goto out_close_src;
	if (renameat2(sfd, sleaf, dfd, dleaf, RENAME_NOREPLACE) < 0) {
		if (errno == EINVAL && strncmp(ndst, nsrc, strlen(nsrc)) == 0)
			rc = ufs_seterr(-EINVAL, err, errlen, "rename %s into itself", nsrc);
		else
			rc = local_err(errno, "rename to", ndst, err, errlen);
	}
	close(dfd);
out_close_src:
	close(sfd);
	return rc;
}

const struct ufs_driver ufs_local_driver = {
	.scheme = "file",
	.open = local_open,
	.close = local_close,
	.probe = local_probe,
	.stat = local_stat,
	.list = local_list,
	.read = local_read,
	.writer_open = local_writer_open,
	.writer_write = local_writer_write,
	.writer_commit = local_writer_commit,
	.writer_abort = local_writer_abort,
	.remove = local_remove,
	.mkdir = local_mkdir,
	.rename = local_rename,
	.read_stat = local_read_stat,
};
