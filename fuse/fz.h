#ifndef STRATA_FUSE_FZ_H
#define STRATA_FUSE_FZ_H

/*
 * strata-fuse's private header: the namespace of a strata cluster as a
 * local POSIX mount (libfuse3, high-level path API, multithreaded loop).
 * Semantics and options: docs/fuse.md.
 *
 *   main.c   options, --help, mount and the multithreaded loop
 *   ops.c    the filesystem operations (namespace calls to the masters)
 *   cache.c  attribute and directory cache (short timeouts)
 *   read.c   block reads through the owning worker, with read-ahead
 *   write.c  write handles: a spool file uploaded through a worker
 *   local.c  short-circuit reads: block fds from the worker on this host
 *
 * Errors inside are the project's (negative errno or ST_ codes); fz_errno
 * turns them into what a FUSE operation may return.
 */
#define FUSE_USE_VERSION 312
#include <fuse.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "lib/httpc.h"

struct client;
struct httpc;
struct client_inode;

struct fz_opts {
	char *masters;	   /* --master: comma-separated; NULL: master.addresses */
	char *write_type;  /* NULL: the path's policy / worker default */
	char *spool_dir;   /* where write handles keep their bytes */
	char *token_file;  /* REST token file; NULL: $STRATA_TOKEN... */
	char *config;	   /* strata.conf; NULL: /etc/strata/strata.conf if present */
	double attr_timeout, entry_timeout, negative_timeout, dir_timeout;
	double timeout;	       /* seconds: one data request to a worker */
	double master_timeout; /* seconds: looking for a master leader */
	int readahead;	       /* blocks read ahead of a sequential reader */
	int readahead_threads;
	long max_rewrite_mib;  /* largest existing file rewritten in place */
	int no_auto_cache;     /* keep the kernel page cache off across opens */
	int direct_io;	       /* reads and writes bypass the kernel page cache */
	char *local_socket;    /* the local worker's socket; NULL: from the config, "": off */
	int kernel_readahead_kib; /* the mount's read-ahead (bdi read_ahead_kb); 0: the kernel's */
	unsigned max_read;	  /* -o max_read given to the kernel (0: none), for INIT */
};

/* The read requests asked of the kernel with a larger read-ahead: libfuse
 * splices a reply through a pipe of at most fs.pipe-max-size (1 MiB by
 * default), which must hold the data (it starts 32 bytes into a tier file,
 * so it spans one page more per block), a header and libfuse's slack, or
 * it copies instead. A power of two, so that requests do not straddle
 * blocks (block sizes are whole MiB). */
#define FZ_SPLICE_MAX_READ (512u * 1024u)

/* A live worker as the read path needs it. */
struct fz_worker {
	uint64_t id;
	char base[192]; /* "http://host:port" */
	int64_t down_until_ms; /* a transport failure: passed over until then */
};

struct fz_cache;
struct fz_pool;

struct fz {
	struct fz_opts opts;
	struct client *mc;
	char scheme[8];
	/* Every thread's own connection (thread key; freed at thread exit). */
	pthread_key_t hc_key;
	struct httpc_opts hopts;
	char auth[640]; /* the token header line, or "" */
	struct fz_cache *cache;
	struct fz_pool *pool;
	/* Live workers, refreshed from the master every few seconds. */
	pthread_mutex_t workers_lock;
	struct fz_worker *workers;
	size_t nworkers;
	int64_t workers_at_ms;
	int64_t capacity_bytes, used_bytes;
	/* The mount's device (its bdi in sysfs: the kernel's read-ahead). */
	unsigned dev_major, dev_minor;
	bool dev_known;
	atomic_bool readahead_set;
	/* Short-circuit reads (local.c): the local worker's socket, "" off. */
	char local_path[108];
	pthread_mutex_t local_lock;
	uint64_t local_id;	/* its worker id; 0 unknown or off for now */
	int64_t local_hello_ms; /* when it was learned */
	int64_t local_retry_ms; /* no request before then (after a failure) */
	bool local_warned;
	pthread_key_t held_key; /* block fds the thread's last reply used */
	/* Open write handles by path (getattr sees their size), and open read
	 * handles (a rename through this mount moves both). */
	pthread_mutex_t files_lock;
	struct fz_file *writers;
	struct fz_file *readers;
};

/* ops.c: the operations the FUSE loop runs. */
extern const struct fuse_operations fz_operations;

/* The struct fz of the running mount. */
struct fz *fz_get(void);

/* This thread's connection; NULL without memory. */
struct httpc *fz_http(struct fz *fz);

/* rc (negative errno or ST_ code) as a FUSE result: ST_ codes, a peer
 * that did not answer and a reply that did not decode are -EIO. */
int fz_errno(int rc);

int64_t fz_now_ms(void);

/* The live workers (copied into *out, caller frees) refreshed when older
 * than 2 s; capacity and use summed over them. 0, or an error. */
int fz_workers(struct fz *fz, struct fz_worker **out, size_t *n, int64_t *capacity,
	       int64_t *used);
/* A worker that failed a transfer is passed over for a while. */
void fz_worker_failed(struct fz *fz, uint64_t id);

/* Fills st for an inode of the namespace. */
void fz_stat_from_inode(const struct client_inode *n, struct stat *st);

/* The kernel's read-ahead of this mount to opts.kernel_readahead_kib
 * (once, at the first request after INIT; files opened later use it). */
void fz_set_readahead(struct fz *fz);

/* ---- cache.c: attributes and directory listings, short-lived ---- */
struct fz_cache *fz_cache_new(double attr_s, double dir_s);
void fz_cache_free(struct fz_cache *c);
/* 0 and *st, -ENOENT for a cached absence, 1 when not cached. */
int fz_cache_get(struct fz_cache *c, const char *path, struct stat *st);
void fz_cache_put(struct fz_cache *c, const char *path, const struct stat *st);
void fz_cache_put_absent(struct fz_cache *c, const char *path);
/* Drops path and its parent's listing; subtree: what is below path too. */
void fz_cache_invalidate(struct fz_cache *c, const char *path, bool subtree);

/* A listing held in the cache: names and their attributes. */
struct fz_dirent {
	char *name;
	struct stat st;
};
struct fz_dir {
	size_t n;
	struct fz_dirent *entries;
};
void fz_dir_free(struct fz_dir *d);
/* 0 with a copy in *out (fz_dir_free), 1 when not cached. */
int fz_cache_dir_get(struct fz_cache *c, const char *path, struct fz_dir *out);
/* Keeps a copy of d (and each entry's attributes). */
void fz_cache_dir_put(struct fz_cache *c, const char *path, const struct fz_dir *d);

/* ---- cache.c: what a read fetches (pure) ---- */
#define FZ_RANDOM_UNIT (UINT64_C(64) << 10)
#define FZ_MAX_CHUNK (UINT64_C(64) << 20)
/*
 * The range [*start, *start + *len) a read of size bytes at off loads, in a
 * file of length bytes stored in blocks of block_size: a sequential reader
 * gets the whole block (at most FZ_MAX_CHUNK of it, aligned), a random one
 * the FZ_RANDOM_UNIT-aligned range around its read, cut to its block. Both
 * end at the file's end. off must be below length.
 */
void fz_chunk(uint64_t block_size, uint64_t length, bool seq, uint64_t off, uint64_t size,
	      uint64_t *start, uint64_t *len);

/* ---- read.c / write.c: open files ---- */
struct fz_file {
	/* A read handle's may change (a rename through this mount): read it
	 * under files_lock (fz_file_path). A write handle's: under its wlock
	 * or files_lock. */
	char *path;
	int refs; /* under files_lock: the handle, prefetch jobs */
	bool writable;
	/* read side (read-only handles) */
	uint64_t length, data_id;
	int64_t block_size;
	struct stat st; /* the attributes at open */
	struct fz_reader *rd;
	/* write side: the file's whole content in a spool file */
	int fd;
	bool dirty;
	bool append;
	/* Its path was unlinked, or renamed over, while it was open: it keeps
	 * its content for the handle but never stores it (under wlock and
	 * files_lock; path changes the same way on a rename). */
	bool detached;
	pthread_mutex_t wlock;
	struct fz_file *next_writer;
	struct fz_file *next_reader, **prev_reader; /* in fz->readers, read handles */
};

/* Opens for reading: fresh attributes from the master (close-to-open). */
int fz_open_read(struct fz *fz, const char *path, struct fz_file **out);
/* Up to size bytes at off; the count, 0 at the end, or a negative errno. */
int fz_read(struct fz *fz, struct fz_file *f, char *buf, size_t size, off_t off);
/*
 * The same as a bufvec for libfuse's read_buf (0 and *out, which libfuse
 * frees, or a negative errno and *out untouched): pieces in blocks the
 * local worker has cached are descriptors of its tier files (spliced by
 * libfuse), the rest memory read over HTTP.
 */
int fz_read_buf(struct fz *fz, struct fz_file *f, size_t size, off_t off,
		struct fuse_bufvec **out);
/* Drops the handle's reference (prefetches in flight keep theirs). */
void fz_file_put(struct fz *fz, struct fz_file *f);
/* f's path now, copied into out (a read handle's may move). */
void fz_file_path(struct fz *fz, const struct fz_file *f, char *out, size_t outlen);
/* After a rename of from to to through this mount: read handles at or
 * below from read from the new path. */
void fz_readers_renamed(struct fz *fz, const char *from, const char *to);

/* ---- local.c: short-circuit reads ---- */
/* A block's file, open read-only; its bytes [data_offset, data_offset +
 * len). Shared by a handle's cache and the replies that splice from it. */
struct fz_bfd {
	int fd;
	uint64_t data_offset, len;
	_Atomic int refs;
};
int fz_local_init(struct fz *fz);
void fz_bfd_get(struct fz_bfd *b);
/* Drops a reference; the last closes the descriptor. NULL is fine. */
void fz_bfd_put(struct fz_bfd *b);
/* The local worker's id: 0 when there is none or its socket is failing
 * (then asked again every few seconds). */
uint64_t fz_local_worker(struct fz *fz);
/* An fd of block id (len bytes long) from the local worker: 0 and *out
 * (one reference), 1 when it does not have it, or a negative errno (the
 * path is then off for a while). */
int fz_local_open(struct fz *fz, uint64_t block_id, uint64_t len, struct fz_bfd **out);
/* Keeps a reference (taken over from the caller) until this thread's next
 * fz_local_release: libfuse splices from b's fd after read_buf returned,
 * and a libfuse thread answers one request at a time. */
void fz_local_hold(struct fz *fz, struct fz_bfd *b);
void fz_local_release(struct fz *fz);

struct fz_pool *fz_pool_new(struct fz *fz, int nthreads);
void fz_pool_free(struct fz_pool *p);

/* Opens for writing: truncate (O_TRUNC, create) starts empty; otherwise
 * the current content is copied into the spool first (files up to
 * max_rewrite MiB; larger ones are -EOPNOTSUPP). */
int fz_open_write(struct fz *fz, const char *path, bool create, bool truncate, bool append,
		  struct fz_file **out);
int fz_write(struct fz *fz, struct fz_file *f, const char *buf, size_t size, off_t off);
int fz_wread(struct fz_file *f, char *buf, size_t size, off_t off);
int fz_wtruncate(struct fz_file *f, off_t size);
/* Uploads a dirty handle through a worker with the configured write type
 * (nothing for a detached one). */
int fz_upload(struct fz *fz, struct fz_file *f);
/* Closes a write handle (uploading what is still dirty). */
int fz_close_write(struct fz *fz, struct fz_file *f);
/* The attributes of write handle f (its current size). */
int fz_wstat(struct fz_file *f, struct stat *st);
/* The size of an open writer of path: 0 and *st, or 1 when none. */
int fz_writer_stat(struct fz *fz, const char *path, struct stat *st);
/* truncate(path, size) with no handle. */
int fz_truncate_path(struct fz *fz, const char *path, off_t size);
/* At unmount: uploads what open writers still hold. */
void fz_flush_all(struct fz *fz);

/*
 * The open writers that an unlink, a rename or a path truncate acts on,
 * each held (a reference and its wlock) for the time of the master call,
 * so no upload of theirs can come between the call and what follows it.
 * Locks are taken in the writers list's order (stable: writers are only
 * added at its head and removed), so two sets never wait on each other.
 */
struct fz_wset {
	struct fz_file **f;
	char **to; /* fz_wset_prepare_rename: each one's path after the rename */
	size_t n;
};
/* The writers of path (and of the paths below it when below) and of also
 * (exactly; NULL: none), detached ones left out. 0 or -ENOMEM. */
int fz_wset_lock(struct fz *fz, const char *path, bool below, const char *also,
		 struct fz_wset *out);
void fz_wset_unlock(struct fz *fz, struct fz_wset *ws);
/* fz_upload and fz_wtruncate of a held writer. */
int fz_upload_locked(struct fz *fz, struct fz_file *f);
int fz_wtruncate_locked(struct fz_file *f, off_t size);
/* p's path after a rename of from to to, allocated in *out; *out NULL
 * when p is not at or below from. 0 or -ENOMEM. */
int fz_path_moved(const char *p, const char *from, const char *to, char **out);
/* Before renaming from to to: the new path of each writer at or below
 * from (those of also get none). 0 or -ENOMEM. */
int fz_wset_prepare_rename(struct fz_wset *ws, const char *from, const char *to);
/* After the rename: those writers write to their new paths; those of
 * replaced (the destination a file was renamed over) are detached. The
 * set's paths change only under its locks, so what a holder reads of
 * them stays true. */
void fz_wset_renamed(struct fz *fz, struct fz_wset *ws, const char *replaced);
/* After an unlink of path: its writers in the set are detached. */
void fz_wset_detach(struct fz *fz, struct fz_wset *ws, const char *path);

#endif
