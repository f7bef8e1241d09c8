/*
 * TEST FIXTURE: struct s3_backend over a local directory (see the header).
 */
#include "tests/unit/s3_dir_backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define ETAG_XATTR "user.s3.etag"
#define UPLOADS ".s3-uploads"
#define IO_BUF (256 * 1024)

struct s3_dir_backend {
	char *root;
	uint64_t seq;
	int fail_reads;
};

void s3_dir_backend_fail_reads(struct s3_dir_backend *db, int rc)
{
	__atomic_store_n(&db->fail_reads, rc, __ATOMIC_RELAXED);
}

struct s3_dir_backend *s3_dir_backend_new(const char *root, char *err, size_t errlen)
{
	struct s3_dir_backend *db = calloc(1, sizeof(*db));
	char up[4096];
	if (!db || !(db->root = strdup(root))) {
		free(db);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(up, sizeof(up), "%s/%s", root, UPLOADS);
	if (mkdir(up, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", up, strerror(errno));
		free(db->root);
		free(db);
		return NULL;
	}
	return db;
}

void s3_dir_backend_free(struct s3_dir_backend *db)
{
	if (!db)
		return;
	free(db->root);
	free(db);
}

static int path_of(struct s3_dir_backend *db, const char *bucket, const char *key, char *out,
		   size_t len)
{
	char ns[8192];
	int rc = s3_object_path(bucket, key, ns, sizeof(ns));
	if (rc)
		return rc;
	int n = snprintf(out, len, "%s%s", db->root, ns);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void get_etag(const char *path, char *etag)
{
	ssize_t n = getxattr(path, ETAG_XATTR, etag, S3_ETAG_MAX - 1);
	etag[n > 0 ? n : 0] = '\0';
}

static int mkdir_p(const char *dir)
{
	char tmp[8192];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return -errno;
	struct stat st;
	if (stat(tmp, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int bucket_dir(struct s3_dir_backend *db, const char *bucket, char *out, size_t len)
{
	struct stat st;
	snprintf(out, len, "%s/%s", db->root, bucket);
	if (stat(out, &st) || !S_ISDIR(st.st_mode))
		return -ENOENT;
	return 0;
}

static int d_list_buckets(void *ctx, struct s3_bucket_entry **out, size_t *n, char *err,
			  size_t errlen)
{
	struct s3_dir_backend *db = ctx;
	DIR *d = opendir(db->root);
	size_t count = 0, cap = 16;
	struct s3_bucket_entry *bk = malloc(cap * sizeof(*bk));
	if (!d || !bk) {
		if (d)
			closedir(d);
		free(bk);
		return -ENOMEM;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char p[8192];
		struct stat st;
		if (de->d_name[0] == '.' || strlen(de->d_name) > S3_MAX_BUCKET)
			continue;
		snprintf(p, sizeof(p), "%s/%s", db->root, de->d_name);
		if (stat(p, &st) || !S_ISDIR(st.st_mode))
			continue;
		if (count == cap) {
			cap *= 2;
			struct s3_bucket_entry *g = realloc(bk, cap * sizeof(*bk));
			if (!g) {
				closedir(d);
				free(bk);
				return -ENOMEM;
			}
			bk = g;
		}
		memcpy(bk[count].name, de->d_name, strlen(de->d_name) + 1);
		bk[count].ctime = st.st_mtime;
		count++;
	}
	closedir(d);
	*out = bk;
	*n = count;
	return 0;
}

static int d_create_bucket(void *ctx, const char *bucket, char *err, size_t errlen)
{
	struct s3_dir_backend *db = ctx;
	char p[8192];
	if (bucket[0] == '.')
		return -EINVAL;
	snprintf(p, sizeof(p), "%s/%s", db->root, bucket);
	return mkdir(p, 0755) ? -errno : 0;
}

static int d_delete_bucket(void *ctx, const char *bucket, char *err, size_t errlen)
{
	struct s3_dir_backend *db = ctx;
	char p[8192];
	if (bucket[0] == '.')
		return -ENOENT;
	snprintf(p, sizeof(p), "%s/%s", db->root, bucket);
	return rmdir(p) ? -errno : 0;
}

static int d_head_bucket(void *ctx, const char *bucket, char *err, size_t errlen)
{
	char p[8192];
	if (bucket[0] == '.')
		return -ENOENT;
	return bucket_dir(ctx, bucket, p, sizeof(p));
}

static int d_stat(void *ctx, const char *bucket, const char *key, struct s3_object_info *out,
		  char *err, size_t errlen)
{
	char p[8192];
	struct stat st;
	int rc = path_of(ctx, bucket, key, p, sizeof(p));
	if (rc)
		return rc;
	if (stat(p, &st))
		return -errno;
	bool marker = key[strlen(key) - 1] == '/';
	if (marker != !!S_ISDIR(st.st_mode))
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->size = marker ? 0 : (uint64_t)st.st_size;
	out->mtime = st.st_mtime;
	if (!marker)
		get_etag(p, out->etag);
	else
		snprintf(out->etag, sizeof(out->etag), "d41d8cd98f00b204e9800998ecf8427e");
	return 0;
}

static int d_read(void *ctx, const char *bucket, const char *key, uint64_t off, uint64_t len,
		  s3_sink_fn sink, void *sink_arg, char *err, size_t errlen)
{
	struct s3_dir_backend *db = ctx;
	char p[8192];
	int rc = __atomic_load_n(&db->fail_reads, __ATOMIC_RELAXED);
	if (rc || (rc = path_of(ctx, bucket, key, p, sizeof(p))))
		return rc;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *buf = malloc(IO_BUF);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len > 0) {
		ssize_t n = pread(fd, buf, len < IO_BUF ? len : IO_BUF, (off_t)off);
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0) {
			rc = -EIO;
			snprintf(err, errlen, "object shrank while reading");
			break;
		}
		if ((rc = sink(sink_arg, buf, (size_t)n)))
			break;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	free(buf);
	close(fd);
	return rc;
}

/* ---- listing: gather, sort, cut ---- */

struct gather {
	struct s3_list_page all;
	const char *prefix;
	bool delimit;
	int rc;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct s3_list_entry *)a)->key, ((const struct s3_list_entry *)b)->key);
}

/* dir is the filesystem directory for key prefix kp ("" or ending '/'). */
static void walk(struct gather *g, const char *dir, const char *kp)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	bool empty = true;
	while ((de = readdir(d)) && !g->rc) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		empty = false;
		char path[8192], key[8192];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(key, sizeof(key), "%s%s", kp, de->d_name);
		if (lstat(path, &st))
			continue;
		bool isdir = S_ISDIR(st.st_mode);
		if (isdir)
			strncat(key, "/", sizeof(key) - strlen(key) - 1);
		size_t plen = strlen(g->prefix), klen = strlen(key);
		/* Prune subtrees that cannot hold a matching key. */
		size_t cmp = klen < plen ? klen : plen;
		if (strncmp(key, g->prefix, cmp) != 0)
			continue;
		if (isdir) {
			if (klen > plen && g->delimit) {
				g->rc = s3_gw_page_add(&g->all, key, true, 0, 0, "");
				continue;
			}
			walk(g, path, key);
			continue;
		}
		if (klen < plen || !S_ISREG(st.st_mode))
			continue;
		char etag[S3_ETAG_MAX];
		get_etag(path, etag);
		g->rc = s3_gw_page_add(&g->all, key, false, (uint64_t)st.st_size, st.st_mtime, etag);
	}
	closedir(d);
	/* An empty directory is listed as its marker object. */
	if (empty && !g->delimit && *kp && strlen(kp) >= strlen(g->prefix) && !g->rc)
		g->rc = s3_gw_page_add(&g->all, kp, false, 0, 0,
				       "d41d8cd98f00b204e9800998ecf8427e");
}

static int d_list(void *ctx, const char *bucket, const struct s3_list_query *q,
		  struct s3_list_page *out, char *err, size_t errlen)
{
	struct s3_dir_backend *db = ctx;
	char dir[8192];
	int rc = bucket_dir(db, bucket, dir, sizeof(dir));
	if (rc)
		return rc;
	struct gather g = { .prefix = q->prefix, .delimit = q->delimit };
	walk(&g, dir, "");
	if (g.rc) {
		s3_gw_page_free(&g.all);
		return g.rc;
	}
	if (g.all.n)
		qsort(g.all.entries, g.all.n, sizeof(g.all.entries[0]), entry_cmp);
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < g.all.n && !rc; i++) {
		struct s3_list_entry *e = &g.all.entries[i];
		if (strcmp(e->key, q->after) <= 0)
			continue;
		if (out->n == q->max) {
			out->truncated = true;
			break;
		}
		rc = s3_gw_page_add(out, e->key, e->is_prefix, e->size, e->mtime, e->etag);
	}
	s3_gw_page_free(&g.all);
	if (rc)
		s3_gw_page_free(out);
	return rc;
}

/* ---- writes ---- */

static int tmp_path(struct s3_dir_backend *db, char *out, size_t len)
{
	uint64_t n = __atomic_add_fetch(&db->seq, 1, __ATOMIC_RELAXED);
	snprintf(out, len, "%s/%s/tmp.%d.%" PRIu64, db->root, UPLOADS, (int)getpid(), n);
	return 0;
}

/* Streams body into a new file at tmp; on any error the file is removed. */
static int write_body(const char *tmp, struct s3_body *body, char *err, size_t errlen)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int rc = 0;
	if (fd < 0)
		return -errno;
	char *buf = malloc(IO_BUF);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		long n = body->read(body, buf, IO_BUF);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		for (long done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, (size_t)(n - done));
			if (w < 0) {
				rc = -errno;
				goto out;
			}
			done += w;
		}
	}
out:
	free(buf);
	if (close(fd) && !rc)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static int parent_dirs(const char *path)
{
	char parent[8192];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	return mkdir_p(parent);
}

/* Moves tmp into place at dst (a file), creating parents. */
static int publish(const char *tmp, const char *dst)
{
	struct stat st;
	int rc = parent_dirs(dst);
	if (!rc && stat(dst, &st) == 0 && S_ISDIR(st.st_mode))
		rc = -EISDIR;
	if (!rc && rename(tmp, dst))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static int d_put(void *ctx, const char *bucket, const char *key, struct s3_body *body,
		 struct s3_object_info *out, char *err, size_t errlen)
{
	struct s3_dir_backend *db = ctx;
	char dir[8192], path[8192], tmp[8192];
	struct stat st;
	int rc = bucket_dir(db, bucket, dir, sizeof(dir));
	if (rc || (rc = path_of(db, bucket, key, path, sizeof(path))))
		return rc;
	if (key[strlen(key) - 1] == '/') {
		char scratch[64];
		long n = body->read(body, scratch, sizeof(scratch));
		if (n != 0)
			return n < 0 ? (int)n : -EINVAL;
		if ((rc = mkdir_p(path)))
			return rc;
		memset(out, 0, sizeof(*out));
		snprintf(out->etag, sizeof(out->etag), "%s", body->md5_hex);
		return 0;
	}
	tmp_path(db, tmp, sizeof(tmp));
	if ((rc = write_body(tmp, body, err, errlen)))
		return rc;
	setxattr(tmp, ETAG_XATTR, body->md5_hex, strlen(body->md5_hex), 0);
	if ((rc = publish(tmp, path)))
		return rc;
	memset(out, 0, sizeof(*out));
	if (stat(path, &st) == 0) {
		out->size = (uint64_t)st.st_size;
		out->mtime = st.st_mtime;
	}
	snprintf(out->etag, sizeof(out->etag), "%s", body->md5_hex);
	return 0;
}

static int d_delete_object(void *ctx, const char *bucket, const char *key, char *err,
			   size_t errlen)
{
	struct s3_dir_backend *db = ctx;
	char dir[8192], path[8192];
	struct stat st;
	int rc = bucket_dir(db, bucket, dir, sizeof(dir));
	if (rc || (rc = path_of(db, bucket, key, path, sizeof(path))))
		return rc;
	bool marker = key[strlen(key) - 1] == '/';
	if (lstat(path, &st))
		return -errno;
	if (marker != !!S_ISDIR(st.st_mode))
		return -ENOENT;
	if (marker) {
		if (rmdir(path) && errno != ENOTEMPTY && errno != EEXIST)
			return -errno;
	} else if (unlink(path)) {
		return -errno;
	}
	/* Prune now-empty parents, as MinIO does, up to the bucket. */
	char *slash;
	while ((slash = strrchr(path, '/')) && (size_t)(slash - path) > strlen(dir)) {
		*slash = '\0';
		if (rmdir(path))
			break;
	}
	return 0;
}

static int copy_file(struct s3_dir_backend *db, const char *src, const char *dst)
{
	char tmp[8192], etag[S3_ETAG_MAX];
	int rc = 0;
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	tmp_path(db, tmp, sizeof(tmp));
	int outfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	char *buf = malloc(IO_BUF);
	if (outfd < 0 || !buf) {
		rc = outfd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, buf, IO_BUF);
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		if (write(outfd, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
	}
out:
	free(buf);
	close(in);
	if (outfd >= 0)
		close(outfd);
	if (rc) {
		unlink(tmp);
		return rc;
	}
	get_etag(src, etag);
	if (*etag)
		setxattr(tmp, ETAG_XATTR, etag, strlen(etag), 0);
	return publish(tmp, dst);
}

static int d_copy(void *ctx, const char *src_bucket, const char *src_key, const char *dst_bucket,
		  const char *dst_key, struct s3_object_info *out, char *err, size_t errlen)
{
	struct s3_dir_backend *db = ctx;
	char src[8192], dst[8192], dir[8192];
	struct stat st;
	int rc;
	if ((rc = bucket_dir(db, dst_bucket, dir, sizeof(dir))) ||
	    (rc = bucket_dir(db, src_bucket, dir, sizeof(dir))) ||
	    (rc = path_of(db, src_bucket, src_key, src, sizeof(src))) ||
	    (rc = path_of(db, dst_bucket, dst_key, dst, sizeof(dst))))
		return rc;
	if (stat(src, &st) || !S_ISREG(st.st_mode))
		return -ENOENT;
	if (dst_key[strlen(dst_key) - 1] == '/')
		return -EINVAL;
	if ((rc = copy_file(db, src, dst)))
		return rc;
	return d_stat(ctx, dst_bucket, dst_key, out, err, errlen);
}

/* ---- multipart ---- */

static int upload_dir(struct s3_dir_backend *db, const char *bucket, const char *key,
		      const char *upload_id, char *out, size_t len)
{
	char owner[8192], want[8192];
	for (const char *p = upload_id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return -ENOENT;
	snprintf(out, len, "%s/%s/%s", db->root, UPLOADS, upload_id);
	snprintf(owner, sizeof(owner), "%s/owner", out);
	snprintf(want, sizeof(want), "%s/%s", bucket, key);
	FILE *f = fopen(owner, "r");
	if (!f)
		return -ENOENT;
	char got[8192] = "";
	size_t n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[n] = '\0';
	return strcmp(got, want) ? -ENOENT : 0;
}

static int d_mpu_create(void *ctx, const char *bucket, const char *key,
			char upload_id[S3_UPLOAD_ID_MAX], char *err, size_t errlen)
{
	struct s3_dir_backend *db = ctx;
	char dir[8192], up[8192], owner[8300];
	int rc = bucket_dir(db, bucket, dir, sizeof(dir));
	if (rc)
		return rc;
	uint64_t n = __atomic_add_fetch(&db->seq, 1, __ATOMIC_RELAXED);
	snprintf(upload_id, S3_UPLOAD_ID_MAX, "%08x%016" PRIx64, (unsigned)getpid(),
		 n ^ ((uint64_t)time(NULL) << 20));
	snprintf(up, sizeof(up), "%s/%s/%s", db->root, UPLOADS, upload_id);
	if (mkdir(up, 0755))
		return -errno;
	snprintf(owner, sizeof(owner), "%s/owner", up);
	FILE *f = fopen(owner, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s/%s", bucket, key);
	return fclose(f) ? -EIO : 0;
}

static int d_mpu_put_part(void *ctx, const char *bucket, const char *key, const char *upload_id,
			  int part_number, struct s3_body *body, char etag[S3_ETAG_MAX],
			  char *err, size_t errlen)
{
	struct s3_dir_backend *db = ctx;
	char up[8192], tmp[8192], part[8300];
	int rc = upload_dir(db, bucket, key, upload_id, up, sizeof(up));
	if (rc)
		return rc;
	tmp_path(db, tmp, sizeof(tmp));
	if ((rc = write_body(tmp, body, err, errlen)))
		return rc;
	setxattr(tmp, ETAG_XATTR, body->md5_hex, strlen(body->md5_hex), 0);
	snprintf(part, sizeof(part), "%s/%05d", up, part_number);
	if (rename(tmp, part)) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	snprintf(etag, S3_ETAG_MAX, "%s", body->md5_hex);
	return 0;
}

static void rm_upload(const char *up)
{
	DIR *d = opendir(up);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char p[8300];
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", up, de->d_name) < (int)sizeof(p))
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(up);
}

static int d_mpu_complete(void *ctx, const char *bucket, const char *key, const char *upload_id,
			  const struct s3_part *parts, size_t nparts, const char *write_type,
			  struct s3_object_info *out, char *err, size_t errlen)
{
	(void)write_type; /* a directory has one kind of write */
	struct s3_dir_backend *db = ctx;
	char up[8192], path[8192], tmp[8192];
	int rc = upload_dir(db, bucket, key, upload_id, up, sizeof(up));
	if (rc || (rc = path_of(db, bucket, key, path, sizeof(path))))
		return rc;
	tmp_path(db, tmp, sizeof(tmp));
	int outfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	char *buf = malloc(IO_BUF);
	if (outfd < 0 || !buf) {
		rc = outfd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nparts && !rc; i++) {
		char part[8300], etag[S3_ETAG_MAX];
		snprintf(part, sizeof(part), "%s/%05d", up, parts[i].number);
		get_etag(part, etag);
		int in = open(part, O_RDONLY | O_CLOEXEC);
		if (in < 0 || strcmp(etag, parts[i].etag)) {
			snprintf(err, errlen, "part %d is missing or its ETag differs",
				 parts[i].number);
			if (in >= 0)
				close(in);
			rc = -EBADMSG;
			break;
		}
		for (;;) {
			ssize_t n = read(in, buf, IO_BUF);
			if (n <= 0) {
				rc = n < 0 ? -errno : 0;
				break;
			}
			if (write(outfd, buf, (size_t)n) != n) {
				rc = -EIO;
				break;
			}
		}
		close(in);
	}
out:
	free(buf);
	if (outfd >= 0)
		close(outfd);
	if (rc) {
		unlink(tmp);
		return rc;
	}
	memset(out, 0, sizeof(*out));
	s3_multipart_etag(parts, nparts, out->etag);
	setxattr(tmp, ETAG_XATTR, out->etag, strlen(out->etag), 0);
	if ((rc = publish(tmp, path)))
		return rc;
	rm_upload(up);
	struct stat st;
	if (stat(path, &st) == 0) {
		out->size = (uint64_t)st.st_size;
		out->mtime = st.st_mtime;
	}
	return 0;
}

static int d_mpu_abort(void *ctx, const char *bucket, const char *key, const char *upload_id,
		       char *err, size_t errlen)
{
	char up[8192];
	int rc = upload_dir(ctx, bucket, key, upload_id, up, sizeof(up));
	if (rc)
		return rc;
	rm_upload(up);
	return 0;
}

static int d_mpu_list_parts(void *ctx, const char *bucket, const char *key,
			    const char *upload_id, struct s3_xml_part **parts, size_t *n,
			    char *err, size_t errlen)
{
	char up[8192];
	int rc = upload_dir(ctx, bucket, key, upload_id, up, sizeof(up));
	if (rc)
		return rc;
	/* Part numbers are 1..10000: probe them in order (a fixture, not fast). */
	struct s3_xml_part *out = calloc(S3_MAX_PARTS, sizeof(*out));
	static __thread char etags[64][S3_ETAG_MAX];
	size_t count = 0;
	if (!out)
		return -ENOMEM;
	for (int i = 1; i <= S3_MAX_PARTS && count < 64; i++) {
		char part[8300];
		struct stat st;
		snprintf(part, sizeof(part), "%s/%05d", up, i);
		if (stat(part, &st))
			continue;
		get_etag(part, etags[count]);
		out[count] = (struct s3_xml_part){ i, (uint64_t)st.st_size, st.st_mtime,
						   etags[count] };
		count++;
	}
	*parts = out;
	*n = count;
	return 0;
}

static const struct s3_backend g_ops = {
	.list_buckets = d_list_buckets,
	.create_bucket = d_create_bucket,
	.delete_bucket = d_delete_bucket,
	.head_bucket = d_head_bucket,
	.stat = d_stat,
	.read = d_read,
	.list = d_list,
	.put = d_put,
	.delete_object = d_delete_object,
	.copy = d_copy,
	.mpu_create = d_mpu_create,
	.mpu_put_part = d_mpu_put_part,
	.mpu_complete = d_mpu_complete,
	.mpu_abort = d_mpu_abort,
	.mpu_list_parts = d_mpu_list_parts,
};

const struct s3_backend *s3_dir_backend_ops(void)
{
	return &g_ops;
}
