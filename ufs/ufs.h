#ifndef STRATA_UFS_UFS_H
#define STRATA_UFS_UFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Under-stores (UFS): one interface over every persistent store strata
 * mounts. An instance is opened from a URI whose scheme picks the driver:
 *
 *   file:///abs/dir        local directory (also NFS mounts)   ufs/local.c
 *   s3://bucket[/prefix]   S3-compatible object store           ufs/s3.c
 *
 * Paths given to every call are relative to the mount root, '/'-separated;
 * a leading '/' is optional and "" or "/" is the root itself. Empty, "." and
 * ".." components are refused with -EINVAL (never resolved), on every driver.
 *
 * Errors: every call returns 0 or a negative errno, with a one-line reason
 * (which path, which store) written to the caller's err buffer:
 *   -ENOENT     not found (also: missing bucket)
 *   -EEXIST     already exists (mkdir, rename destination)
 *   -EACCES     permission denied, wrong credentials, path escapes the root
 *   -EAGAIN     unavailable, retryable: connection refused or reset, timeout,
 *               5xx after the driver's own bounded retries
 *   -EIO        the store answered something we cannot interpret
 *   -EINVAL     invalid argument (bad URI, option, path)
 *   -ENOTDIR, -EISDIR, -ENOTEMPTY  as in POSIX
 *   -ENOMEM     allocation failure
 * Secrets (S3 secret keys, signatures) never appear in err or in logs.
 *
 * Thread safety: one struct ufs may be used from several threads; drivers
 * serialize what must be serialized (the S3 driver keeps a pool of 16 keep-alive
 * curl handles per instance). A struct ufs_writer belongs to one
 * thread at a time.
 */

struct ufs;
struct ufs_writer;

/* One mount option, e.g. { "s3.region", "eu-west-1" }. Borrowed. */
struct ufs_opt {
	const char *key;
	const char *value;
};

#define UFS_FINGERPRINT_MAX 96

/*
 * What stat and list report. The fingerprint changes whenever the content
 * may have changed behind strata's back: the ETag on S3, "size-mtime_ns-ino"
 * on local files. Directories carry an empty fingerprint.
 */
struct ufs_stat {
	uint64_t length;
	int64_t mtime_ms; /* Unix epoch milliseconds; 0 when the store has none */
	bool is_dir;
	char fingerprint[UFS_FINGERPRINT_MAX];
};

struct ufs_entry {
	char *name; /* child name only, no '/', owned by the page */
	struct ufs_stat st;
};

/*
 * One page of a directory listing, children in byte order of their names.
 * next_token is NULL on the last page; otherwise pass it back to get the
 * next one. A page may hold fewer than max_keys entries (even none) while
 * next_token is set. Free with ufs_list_page_free.
 */
struct ufs_list_page {
	struct ufs_entry *entries;
	size_t count;
	char *next_token;
};

/* Receives read data in order; return 0 to continue, negative to abort
 * the read (that value is then returned by ufs_read). */
typedef int (*ufs_sink_fn)(void *arg, const void *data, size_t len);

#define UFS_READ_TO_EOF UINT64_MAX

/*
 * The driver vtable. Drivers fill one static struct ufs_driver; ufs.c
 * dispatches to it. `impl` is the driver's instance, `wimpl` a writer's.
 * Exposed so tests elsewhere can build a fake store with ufs_open_driver.
 */
struct ufs_driver {
	const char *scheme; /* "file", "s3" */
	int (*open)(const char *uri, const struct ufs_opt *opts, size_t nopts, void **impl,
		    char *err, size_t errlen);
	void (*close)(void *impl);
	int (*probe)(void *impl, char *err, size_t errlen);
	int (*stat)(void *impl, const char *path, struct ufs_stat *st, char *err, size_t errlen);
	int (*list)(void *impl, const char *path, const char *token, size_t max_keys,
		    struct ufs_list_page *page, char *err, size_t errlen);
	int (*read)(void *impl, const char *path, uint64_t off, uint64_t len, ufs_sink_fn sink,
		    void *arg, char *err, size_t errlen);
	int (*writer_open)(void *impl, const char *path, void **wimpl, char *err, size_t errlen);
	int (*writer_write)(void *wimpl, const void *data, size_t len, char *err, size_t errlen);
	int (*writer_commit)(void *wimpl, char *err, size_t errlen); /* frees wimpl */
	void (*writer_abort)(void *wimpl);                          /* frees wimpl */
	int (*remove)(void *impl, const char *path, bool recursive, char *err, size_t errlen);
	int (*mkdir)(void *impl, const char *path, char *err, size_t errlen);
	int (*rename)(void *impl, const char *src, const char *dst, char *err, size_t errlen);
	/* Optional (NULL: ufs.c does stat then read): ufs_read_stat. */
	int (*read_stat)(void *impl, const char *path, uint64_t off, uint64_t len,
			 ufs_sink_fn sink, void *arg, struct ufs_stat *st, char *err,
			 size_t errlen);
};

/*
 * Opens the store named by uri with options (unknown keys of the driver's
 * own namespace, e.g. "s3.bogus", are -EINVAL naming the key; keys of other
 * namespaces are ignored so one mount option list can serve any driver).
 * Does no network I/O; see ufs_probe. On success *out is owned by the
 * caller (ufs_close). opts and uri are not retained.
 */
int ufs_open(const char *uri, const struct ufs_opt *opts, size_t nopts, struct ufs **out,
	     char *err, size_t errlen);
int ufs_open_driver(const struct ufs_driver *drv, const char *uri, const struct ufs_opt *opts,
		    size_t nopts, struct ufs **out, char *err, size_t errlen);
void ufs_close(struct ufs *ufs);
const char *ufs_scheme(const struct ufs *ufs);

/* Checks the store is reachable, the credentials work and the root (bucket,
 * directory) exists. */
int ufs_probe(struct ufs *ufs, char *err, size_t errlen);

int ufs_stat(struct ufs *ufs, const char *path, struct ufs_stat *st, char *err, size_t errlen);

/*
 * Lists the children of directory `path`. token is NULL for the first page;
 * max_keys 0 means the driver's default (1000). On success *page is filled
 * and owned by the caller. -ENOENT if path does not exist, -ENOTDIR if it is
 * a file (local; on S3 a file has no children and lists as -ENOENT).
 */
int ufs_list(struct ufs *ufs, const char *path, const char *token, size_t max_keys,
	     struct ufs_list_page *page, char *err, size_t errlen);
void ufs_list_page_free(struct ufs_list_page *page);

/*
 * Streams bytes [off, off+len) of file `path` to sink (len UFS_READ_TO_EOF:
 * to the end). A range past the end is clipped; wholly past EOF reads
 * nothing and returns 0. -EISDIR on a directory.
 */
int ufs_read(struct ufs *ufs, const char *path, uint64_t off, uint64_t len, ufs_sink_fn sink,
	     void *arg, char *err, size_t errlen);
/*
 * ufs_read that also fills *st with the file's metadata, taken from the
 * same store answer as the bytes (one round trip: an S3 ranged GET's
 * Content-Range total, ETag and Last-Modified; a local open + fstat +
 * pread), so the bytes are of the version st describes. st's fingerprint
 * is byte-identical to what ufs_stat and ufs_list report for that version.
 * A range past the end reads nothing and still fills st. st is complete
 * before the first byte reaches the sink (a reader on another thread may
 * use it from then on). -ENOENT when the file does not exist, -EISDIR on a
 * directory (nothing sent to the sink).
 */
int ufs_read_stat(struct ufs *ufs, const char *path, uint64_t off, uint64_t len,
		  ufs_sink_fn sink, void *arg, struct ufs_stat *st, char *err, size_t errlen);

/* ufs_read into buf; *nread gets the byte count (< len only at EOF). */
int ufs_read_buf(struct ufs *ufs, const char *path, uint64_t off, void *buf, size_t len,
		 size_t *nread, char *err, size_t errlen);

/*
 * Streaming create-or-replace of file `path`: open, write chunks, then
 * commit (the file appears whole, atomically where the store allows) or
 * abort (nothing appears). Missing parent directories are created. Commit
 * and abort both free the writer, whatever commit returns; a failed write
 * leaves the writer open so the caller must still abort it.
 */
int ufs_writer_open(struct ufs *ufs, const char *path, struct ufs_writer **out, char *err,
		    size_t errlen);
int ufs_writer_write(struct ufs_writer *w, const void *data, size_t len, char *err,
		     size_t errlen);
int ufs_writer_commit(struct ufs_writer *w, char *err, size_t errlen);
void ufs_writer_abort(struct ufs_writer *w);
/* open + write + commit of one buffer. */
int ufs_put(struct ufs *ufs, const char *path, const void *data, size_t len, char *err,
	    size_t errlen);

/* Deletes a file, or a directory: empty unless recursive (-ENOTEMPTY). */
int ufs_delete(struct ufs *ufs, const char *path, bool recursive, char *err, size_t errlen);
/* Creates directory path and missing parents; -EEXIST if path exists. */
int ufs_mkdir(struct ufs *ufs, const char *path, char *err, size_t errlen);
/*
 * Renames a file or a whole directory; -EEXIST if dst exists, -ENOENT if
 * src does not. Atomic on local stores; on S3 a copy then delete per object
 * (a crash midway leaves both copies, never neither).
 */
int ufs_rename(struct ufs *ufs, const char *src, const char *dst, char *err, size_t errlen);

#endif
