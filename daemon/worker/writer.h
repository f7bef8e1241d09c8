#ifndef STRATA_WORKER_WRITER_H
#define STRATA_WORKER_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct worker_node;

/*
 * The worker's write path. The worker writes a file's bytes straight to
 * its under-store (the master only records metadata): the master checks
 * the path and reserves a content id (write/begin), the worker streams to
 * the store, then the master records the file (write/commit). With
 * CACHE_THROUGH each complete block is also cached on its owner as it
 * goes by (this worker's tiers, or pushed to the owning worker), so the
 * first read is already a hit. THROUGH writes the store only.
 */
enum write_type { WRITE_CACHE_THROUGH, WRITE_THROUGH };

/* Parses "CACHE_THROUGH" / "THROUGH" (case-insensitive); -EINVAL else. */
int write_type_parse(const char *s, enum write_type *out);

struct write_result {
	uint64_t length;
	uint64_t data_id;
	int64_t mtime_ms;
	char fingerprint[96];
};

/* Reads the body: bytes read, 0 at its end, negative on error. */
typedef long (*write_reader_fn)(void *arg, void *buf, size_t len);

/* etag (may be NULL) is read once the body has ended: an S3 client's MD5
 * of it, kept as the object's ETag. */
int worker_write_file(struct worker_node *w, const char *path, enum write_type type,
		      write_reader_fn read, void *arg, const char *etag, struct write_result *out,
		      char *err, size_t errlen);

/* Caches one complete block on its owner: here, or pushed to the owning
 * worker (PUT /api/v1/blocks/<id>). Failures only cost a later
 * read-through, so they are logged, not returned. */
void worker_cache_block(struct worker_node *w, uint64_t id, const void *data, size_t len);

/* Receives a block pushed by a peer's CACHE_THROUGH write (len bytes from
 * read) and caches it. */
int worker_accept_block(struct worker_node *w, uint64_t block_id, uint64_t len,
			write_reader_fn read, void *arg, char *err, size_t errlen);

#endif
