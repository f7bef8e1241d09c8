#include "tier/io.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

#define IO_CHUNK (1u << 20)
#define IO_MAX_DEPTH 64u

struct io_ring {
	pthread_mutex_t lock;
	struct io_uring ring;
	bool live; /* false once retired (or never made) */
};

struct tier_io {
	struct io_ring *rings; /* owned; NULL in sync mode */
	unsigned nrings;
	unsigned depth;
	atomic_uint next;
};

static ssize_t sync_read(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int sync_write(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int tier_io_create(enum tier_io_mode mode, unsigned nrings, unsigned depth,
		   struct tier_io **out, char *err, size_t errlen)
{
	int rc;
	struct tier_io *io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->nrings = nrings ? nrings : 4;
	io->depth = depth ? depth : 16;
	if (io->depth > IO_MAX_DEPTH)
		io->depth = IO_MAX_DEPTH;
	if (mode == TIER_IO_SYNC)
		goto done;

	io->rings = calloc(io->nrings, sizeof(*io->rings));
	if (!io->rings) {
		rc = -ENOMEM;
		goto err_free_io;
	}
	for (unsigned i = 0; i < io->nrings; i++) {
		rc = io_uring_queue_init(io->depth, &io->rings[i].ring, 0);
		if (rc < 0) {
			if (mode == TIER_IO_URING) {
				snprintf(err, errlen, "io_uring_queue_init: %s", strerror(-rc));
				goto err_free_rings;
			}
			log_warn("tier: no io_uring (%s), using pread/pwrite", strerror(-rc));
			goto err_fallback;
		}
		pthread_mutex_init(&io->rings[i].lock, NULL);
		io->rings[i].live = true;
	}
done:
	*out = io;
	return 0;

err_fallback:
	rc = 0;
err_free_rings:
	for (unsigned i = 0; i < io->nrings; i++) {
		if (io->rings[i].live) {
			io_uring_queue_exit(&io->rings[i].ring);
			pthread_mutex_destroy(&io->rings[i].lock);
		}
	}
	free(io->rings);
	io->rings = NULL;
	if (rc == 0)
		goto done;
err_free_io:
	free(io);
	return rc;
}

void tier_io_destroy(struct tier_io *io)
{
	if (!io)
		return;
	for (unsigned i = 0; io->rings && i < io->nrings; i++) {
		if (io->rings[i].live)
			io_uring_queue_exit(&io->rings[i].ring);
		pthread_mutex_destroy(&io->rings[i].lock);
	}
	free(io->rings);
	free(io);
}

bool tier_io_uses_uring(const struct tier_io *io)
{
	return io && io->rings;
}

/* Takes a ring: the first one free, else waits on one. NULL: none live. */
static struct io_ring *ring_acquire(struct tier_io *io)
{
	unsigned start = atomic_fetch_add(&io->next, 1);
	for (unsigned k = 0; k < io->nrings; k++) {
		struct io_ring *r = &io->rings[(start + k) % io->nrings];
		if (pthread_mutex_trylock(&r->lock) == 0) {
			if (r->live)
				return r;
			pthread_mutex_unlock(&r->lock);
		}
	}
	for (unsigned k = 0; k < io->nrings; k++) {
		struct io_ring *r = &io->rings[(start + k) % io->nrings];
		pthread_mutex_lock(&r->lock);
		if (r->live)
			return r;
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

static void ring_retire(struct io_ring *r, int rc)
{
	log_warn("tier: io_uring submit failed (%s); ring retired, using pread/pwrite",
		 strerror(-rc));
	io_uring_queue_exit(&r->ring);
	r->live = false;
}

/*
 * One batch: up to depth chunks of [pos, len) in flight. Returns the bytes
 * done from pos (short only at EOF for reads), or -errno. Every submitted
 * request is reaped before returning, so buf is never used afterwards.
 */
static ssize_t ring_batch(struct io_ring *r, unsigned depth, bool is_write, int fd,
			  char *buf, size_t len, uint64_t off, size_t pos)
{
	size_t starts[IO_MAX_DEPTH], lens[IO_MAX_DEPTH];
	int res[IO_MAX_DEPTH];
	unsigned n = 0;
	for (size_t p = pos; n < depth && p < len; n++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
		if (!sqe)
			break;
		size_t chunk = len - p < IO_CHUNK ? len - p : IO_CHUNK;
		if (is_write)
			io_uring_prep_write(sqe, fd, buf + p, (unsigned)chunk, off + p);
		else
			io_uring_prep_read(sqe, fd, buf + p, (unsigned)chunk, off + p);
		io_uring_sqe_set_data64(sqe, n);
		starts[n] = p;
		lens[n] = chunk;
		res[n] = 0;
		p += chunk;
	}
	int submitted = io_uring_submit(&r->ring);
	if (submitted < 0 || (unsigned)submitted < n) {
		int rc = submitted < 0 ? submitted : -EAGAIN;
		for (int k = 0; k < (submitted > 0 ? submitted : 0); k++) {
			struct io_uring_cqe *cqe;
			while (io_uring_wait_cqe(&r->ring, &cqe) == -EINTR)
				;
			io_uring_cqe_seen(&r->ring, cqe);
		}
		ring_retire(r, rc);
		return -EAGAIN;
	}
	for (unsigned k = 0; k < n; k++) {
		struct io_uring_cqe *cqe;
		int wrc;
		while ((wrc = io_uring_wait_cqe(&r->ring, &cqe)) == -EINTR)
			;
		if (wrc < 0) {
			/* Cannot reap: the ring is unusable and buf may still be used. */
			ring_retire(r, wrc);
			return wrc;
		}
		uint64_t idx = io_uring_cqe_get_data64(cqe);
		if (idx < n)
			res[idx] = cqe->res;
		io_uring_cqe_seen(&r->ring, cqe);
	}
	size_t done = 0;
	for (unsigned k = 0; k < n; k++) {
		if (res[k] < 0)
			return res[k];
		size_t got = (size_t)res[k];
		if (got < lens[k]) {
			/* Short: finish the chunk synchronously; a read may be at EOF. */
			char *p = buf + starts[k] + got;
			uint64_t o = off + starts[k] + got;
			if (is_write) {
				int wrc = sync_write(fd, p, lens[k] - got, o);
				if (wrc < 0)
					return wrc;
			} else {
				ssize_t more = sync_read(fd, p, lens[k] - got, o);
				if (more < 0)
					return more;
				if ((size_t)more < lens[k] - got)
					return (ssize_t)(done + got + (size_t)more);
			}
		}
		done += lens[k];
	}
	return (ssize_t)done;
}

static ssize_t ring_rw(struct tier_io *io, bool is_write, int fd, char *buf, size_t len,
		       uint64_t off)
{
	struct io_ring *r = ring_acquire(io);
	if (!r)
		return -EAGAIN;
	size_t pos = 0;
	ssize_t rc = 0;
	while (pos < len) {
		rc = ring_batch(r, io->depth, is_write, fd, buf, len, off, pos);
		if (rc < 0)
			break;
		size_t want = len - pos;
		pos += (size_t)rc;
		if ((size_t)rc < want && (size_t)rc < (size_t)io->depth * IO_CHUNK)
			break; /* EOF */
	}
	pthread_mutex_unlock(&r->lock);
	return rc < 0 ? rc : (ssize_t)pos;
}

ssize_t tier_io_read(struct tier_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	if (tier_io_uses_uring(io)) {
		ssize_t rc = ring_rw(io, false, fd, buf, len, off);
		if (rc != -EAGAIN)
			return rc;
	}
	return sync_read(fd, buf, len, off);
}

int tier_io_write(struct tier_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	if (tier_io_uses_uring(io)) {
		ssize_t rc = ring_rw(io, true, fd, (char *)buf, len, off);
		if (rc != -EAGAIN)
			return rc < 0 ? (int)rc : 0;
	}
	return sync_write(fd, buf, len, off);
}
