#ifndef STRATA_WORKER_WRITER_H
#define STRATA_WORKER_WRITER_H

#include <stdbool.h>
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
 * ASYNC_THROUGH and MUST_CACHE write the caches only: every block is
 * cached (pinned) on its owner before the write is acknowledged, and the
 * file is recorded not_persisted; for ASYNC_THROUGH the master queues a
 * persist job that writes it to the store later (worker_persist_file).
 * WRITE_DEFAULT takes the path's policy from the master (write/begin).
 */
enum write_type {
	WRITE_CACHE_THROUGH,
	WRITE_THROUGH,
	WRITE_ASYNC_THROUGH,
	WRITE_MUST_CACHE,
	WRITE_DEFAULT,
};

/* Parses "CACHE_THROUGH", "THROUGH", "ASYNC_THROUGH", "MUST_CACHE"
 * (case-insensitive); -EINVAL else. */
int write_type_parse(const char *s, enum write_type *out);
/* "CACHE_THROUGH", ...; "DEFAULT" for WRITE_DEFAULT. */
const char *write_type_name(enum write_type t);

struct write_result {
	uint64_t length;
	uint64_t data_id;
	int64_t mtime_ms;
	char fingerprint[96]; /* "" for content only the caches hold */
	enum write_type type; /* the write type used (the path's policy for WRITE_DEFAULT) */
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

/* Receives a block pushed by a peer's write (len bytes from read) and
 * caches it; pin: keep it until unpinned (content not persisted yet). */
int worker_accept_block(struct worker_node *w, uint64_t block_id, uint64_t len,
			write_reader_fn read, void *arg, bool pin, char *err, size_t errlen);

/*
 * Writes a not-persisted file's cached blocks to its store (the master's
 * persist job asks this of a worker): each block from this worker's tiers
 * or from the worker holding it, never from the store. data_id and length
 * must be what the master holds now (-ESTALE otherwise). out gets what
 * the store holds afterwards (length, mtime_ms, fingerprint).
 */
int worker_persist_file(struct worker_node *w, const char *path, uint64_t data_id,
			uint64_t length, struct write_result *out, char *err, size_t errlen);

#endif
