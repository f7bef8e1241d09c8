#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/crc32c.h"
#include "lib/log.h"
#include "tier/format.h"
#include "tier/store_int.h"
#include "tier/tier.h"

struct tier_writer {
	struct tier_store *store;
	uint64_t id;
	uint64_t len;
	uint64_t written;
	unsigned level;
	unsigned dir;
	int fd;
	int failed; /* first error of a write, 0 if none */
	uint32_t crc;
	char tmp_path[PATH_MAX];
};

/* Gives back a writer's reservation. Takes the lock. */
static void writer_release(struct tier_writer *w, int rc, const char *what)
{
	struct tier_store *store = w->store;
	pthread_mutex_lock(&store->lock);
	struct tier_dir *d = &store->levels[w->level].dirs[w->dir];
	d->used -= w->len;
	if (rc < 0)
		store_note_write_error(store, d, rc, what, w->id);
	pthread_mutex_unlock(&store->lock);
}

/* first: the highest level tried (lower ones follow when it is full). */
static int writer_begin(struct tier_store *store, uint64_t id, uint64_t len, unsigned first,
			struct tier_writer **out, char *err, size_t errlen)
{
	int rc;
	struct tier_writer *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "tier: out of memory");
		return -ENOMEM;
	}
	w->store = store;
	w->id = id;
	w->len = len;
	w->fd = -1;

	pthread_mutex_lock(&store->lock);
	if (tier_map_get(&store->index, id)) {
		pthread_mutex_unlock(&store->lock);
		snprintf(err, errlen, "tier: block %016" PRIx64 " is cached already", id);
		rc = -EEXIST;
		goto err_free_writer;
	}
	rc = -ENOSPC;
	for (unsigned l = first; l < store->nlevels && rc == -ENOSPC; l++) {
		rc = store_make_room(store, l, len, &w->dir);
		w->level = l;
	}
	if (rc < 0) {
		store_note_write_error(store, NULL, rc, "put", id);
		pthread_mutex_unlock(&store->lock);
		snprintf(err, errlen,
			 "tier: no room for block %016" PRIx64 " (%" PRIu64 " bytes): %s", id,
			 len, strerror(-rc));
		goto err_free_writer;
	}
	store->nospace_logged = 0;
	store->levels[w->level].dirs[w->dir].used += len;
	char name[TIER_NAME_MAX];
	tier_name_temp(id, (long)getpid(), store->next_tmp_seq++, name);
	store_path(store, w->level, w->dir, name, w->tmp_path);
	pthread_mutex_unlock(&store->lock);

	w->fd = open(w->tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "tier: create %s: %s", w->tmp_path, strerror(errno));
		writer_release(w, rc, "create");
		goto err_free_writer;
	}
	*out = w;
	return 0;

err_free_writer:
	free(w);
	return rc;
}

int tier_writer_begin(struct tier_store *store, uint64_t id, uint64_t len,
		      struct tier_writer **out, char *err, size_t errlen)
{
	return writer_begin(store, id, len, 0, out, err, errlen);
}

int tier_writer_begin_durable(struct tier_store *store, uint64_t id, uint64_t len,
			      struct tier_writer **out, char *err, size_t errlen)
{
	unsigned first = 0;
	while (first < store->nlevels && store->levels[first].medium == TIER_MEDIUM_MEM)
		first++;
	return writer_begin(store, id, len, first < store->nlevels ? first : 0, out, err, errlen);
}

int tier_writer_write(struct tier_writer *w, const void *data, size_t n, char *err,
		      size_t errlen)
{
	struct tier_store *store = w->store;
	int rc;
	if (w->failed)
		return w->failed;
	if (n > w->len - w->written) {
		snprintf(err, errlen, "tier: block %016" PRIx64 ": write past its length %" PRIu64,
			 w->id, w->len);
		w->failed = -EINVAL;
		return -EINVAL;
	}
	if (store->fault_inject_write) {
		rc = store->fault_inject_write(store->fault_ctx, w->id);
		if (rc < 0)
			goto err_fail;
	}
	rc = tier_io_write(store_level_io(store, w->level), w->fd, data, n,
			   TIER_HDR_SIZE + w->written);
	if (rc < 0)
		goto err_fail;
	w->crc = crc32c(w->crc, data, n);
	w->written += n;
	return 0;

err_fail:
	/* Counted and logged here, once per writer; commit then only cleans up. */
	w->failed = rc;
	pthread_mutex_lock(&store->lock);
	store_note_write_error(store, &store->levels[w->level].dirs[w->dir], rc, "write",
			       w->id);
	pthread_mutex_unlock(&store->lock);
	snprintf(err, errlen, "tier: write %s: %s", w->tmp_path, strerror(-rc));
	return rc;
}

void tier_writer_abort(struct tier_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmp_path);
	writer_release(w, 0, NULL);
	free(w);
}

/*
 * Writes the header (last, so a torn file never looks complete) and closes
 * the temp file. 0, or the error, counted and logged.
 */
static int writer_seal(struct tier_writer *w, char *err, size_t errlen)
{
	struct tier_store *store = w->store;
	unsigned char hdr_bytes[TIER_HDR_SIZE];
	struct tier_block_hdr hdr = { .id = w->id, .len = w->len, .data_crc = w->crc };
	tier_hdr_encode(&hdr, hdr_bytes);
	int rc = tier_io_write(store_level_io(store, w->level), w->fd, hdr_bytes, TIER_HDR_SIZE, 0);
	if (close(w->fd) < 0 && rc == 0)
		rc = -errno;
	w->fd = -1;
	if (rc < 0) {
		snprintf(err, errlen, "tier: write %s: %s", w->tmp_path, strerror(-rc));
		pthread_mutex_lock(&store->lock);
		store_note_write_error(store, &store->levels[w->level].dirs[w->dir], rc, "write",
				       w->id);
		pthread_mutex_unlock(&store->lock);
	}
	return rc;
}

/*
 * Renames the sealed temp file into place and indexes blk, under the lock.
 * On success blk belongs to the index and the reservation to the block; on
 * failure the caller still owns both.
 */
static int writer_publish(struct tier_writer *w, struct tier_block *blk, char *err,
			  size_t errlen)
{
	struct tier_store *store = w->store;
	int rc = 0;
	char path[PATH_MAX];
	pthread_mutex_lock(&store->lock);
	struct tier_dir *d = &store->levels[w->level].dirs[w->dir];
	if (tier_map_get(&store->index, w->id)) {
		rc = -EEXIST; /* another writer of the same id won */
		snprintf(err, errlen, "tier: block %016" PRIx64 " is cached already", w->id);
		goto out_unlock;
	}
	store_block_path(store, blk, path);
	if (rename(w->tmp_path, path) < 0) {
		rc = -errno;
		snprintf(err, errlen, "tier: rename to %s: %s", path, strerror(errno));
		store_note_write_error(store, d, rc, "commit", w->id);
		goto out_unlock;
	}
	d->used -= w->len; /* the reservation becomes the block's own */
	rc = store_index_add(store, blk, store_now(store), 0);
	if (rc < 0) {
		d->used += w->len;
		unlink(path);
		snprintf(err, errlen, "tier: out of memory");
		goto out_unlock;
	}
	d->logged_errno = 0;
	store->levels[w->level].bytes_written += w->len;
out_unlock:
	pthread_mutex_unlock(&store->lock);
	return rc;
}

int tier_writer_commit(struct tier_writer *w, char *err, size_t errlen)
{
	int rc = w->failed;
	if (rc < 0) {
		snprintf(err, errlen, "tier: block %016" PRIx64 ": an earlier write failed: %s",
			 w->id, strerror(-rc));
		goto err_abort;
	}
	if (w->written != w->len) {
		snprintf(err, errlen,
			 "tier: block %016" PRIx64 ": %" PRIu64 " of %" PRIu64 " bytes written",
			 w->id, w->written, w->len);
		rc = -EINVAL;
		goto err_abort;
	}
	rc = writer_seal(w, err, errlen);
	if (rc < 0)
		goto err_abort;
	struct tier_block *blk = calloc(1, sizeof(*blk));
	if (!blk) {
		rc = -ENOMEM;
		snprintf(err, errlen, "tier: out of memory");
		goto err_abort;
	}
	*blk = (struct tier_block){ .id = w->id, .len = w->len, .crc = w->crc,
				    .level = w->level, .dir = w->dir, .verified = true };
	rc = writer_publish(w, blk, err, errlen);
	if (rc < 0)
		goto err_free_blk;
	free(w);
	return 0;

err_free_blk:
	free(blk);
err_abort:
	tier_writer_abort(w); /* deletes the temp file, returns the reservation */
	return rc;
}

static int block_put(struct tier_store *store, uint64_t id, const void *data, size_t len,
		     bool durable, char *err, size_t errlen)
{
	struct tier_writer *w;
	int rc = durable ? tier_writer_begin_durable(store, id, len, &w, err, errlen)
			 : tier_writer_begin(store, id, len, &w, err, errlen);
	if (rc < 0)
		return rc;
	rc = tier_writer_write(w, data, len, err, errlen);
	if (rc < 0) {
		tier_writer_abort(w);
		return rc;
	}
	return tier_writer_commit(w, err, errlen);
}

int tier_block_put(struct tier_store *store, uint64_t id, const void *data, size_t len,
		   char *err, size_t errlen)
{
	return block_put(store, id, data, len, false, err, errlen);
}

int tier_block_put_durable(struct tier_store *store, uint64_t id, const void *data, size_t len,
			   char *err, size_t errlen)
{
	return block_put(store, id, data, len, true, err, errlen);
}

/* What a reader learns about a block under the lock. */
struct read_ticket {
	int fd;
	unsigned level;
	uint64_t len;
	uint32_t crc;
	uint64_t gen;
	bool trusted; /* MEM, or verified since it came from a rescan */
	bool is_mem;
};

/*
 * Looks the block up and counts a hit or a miss under the lock, then opens
 * its file without it (an open is a path walk: the other readers need not
 * wait for it). A file that went away in between was evicted or moved by
 * someone else: the lookup is tried again; one that is gone while the index
 * still has it was deleted behind our back: forgotten, a miss. 0, -ENOENT,
 * or an open error.
 */
static int read_begin(struct tier_store *store, uint64_t id, struct read_ticket *t)
{
	for (int attempt = 0;; attempt++) {
		char name[TIER_NAME_MAX];
		int dfd;
		unsigned dir;
		pthread_mutex_lock(&store->lock);
		struct tier_block *blk = tier_map_get(&store->index, id);
		if (!blk) {
			store->misses++;
			pthread_mutex_unlock(&store->lock);
			return -ENOENT;
		}
		struct tier_level *lvl = &store->levels[blk->level];
		t->level = blk->level;
		t->len = blk->len;
		t->crc = blk->crc;
		t->gen = blk->gen;
		t->is_mem = lvl->medium == TIER_MEDIUM_MEM;
		t->trusted = t->is_mem || blk->verified;
		dir = blk->dir;
		dfd = lvl->dirs[dir].dfd;
		pthread_mutex_unlock(&store->lock);
		tier_name_block(id, name);
		t->fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
		int rc = t->fd < 0 ? -errno : 0;
		pthread_mutex_lock(&store->lock);
		blk = tier_map_get(&store->index, id);
		bool same = blk && blk->gen == t->gen;
		if (rc == 0 && same) {
			lvl = &store->levels[blk->level];
			store->hits++;
			lvl->hits++;
			tier_policy_access(lvl->policy, id, store_now(store));
			pthread_mutex_unlock(&store->lock);
			return 0;
		}
		if (rc == -ENOENT && same && attempt > 0) {
			/* Deleted behind our back (twice): forget it; a miss. */
			char path[PATH_MAX];
			store_block_path(store, blk, path);
			log_warn("tier: block file %s vanished; dropped", path);
			store_drop_block(store, blk);
			store->misses++;
			pthread_mutex_unlock(&store->lock);
			return -ENOENT;
		}
		pthread_mutex_unlock(&store->lock);
		if (rc == 0)
			close(t->fd); /* replaced or moved meanwhile: look again */
		else if (rc != -ENOENT)
			return rc;
		if (attempt >= 2) {
			pthread_mutex_lock(&store->lock);
			store->misses++;
			pthread_mutex_unlock(&store->lock);
			return -ENOENT;
		}
	}
}

/*
 * Reads the whole block into whole (t->len bytes) and checks its CRC.
 * 0, -EBADMSG (dropped), or an I/O error.
 */
static int read_verified(struct tier_store *store, uint64_t id, const struct read_ticket *t,
			 void *whole)
{
	ssize_t got = tier_io_read(store_level_io(store, t->level), t->fd, whole, t->len,
				   TIER_HDR_SIZE);
	if (got < 0)
		return (int)got;
	if ((uint64_t)got != t->len || crc32c(0, whole, t->len) != t->crc)
		return store_report_corrupt(store, id, t->gen);
	if (!t->trusted)
		store_mark_verified(store, id, t->gen);
	return 0;
}

ssize_t tier_block_read(struct tier_store *store, uint64_t id, uint64_t offset, void *buf,
			size_t len)
{
	struct read_ticket t;
	int rc = read_begin(store, id, &t);
	if (rc < 0)
		return rc;
	ssize_t result;
	size_t n = offset >= t.len ? 0 : (t.len - offset < len ? (size_t)(t.len - offset) : len);
	bool whole_read = offset == 0 && n == t.len;
	void *scratch = NULL;

	if (!t.is_mem && (!t.trusted || whole_read)) {
		void *whole = buf;
		if (!whole_read) {
			scratch = malloc(t.len ? t.len : 1);
			if (!scratch) {
				result = -ENOMEM;
				goto out_close;
			}
			whole = scratch;
		}
		result = read_verified(store, id, &t, whole);
		if (result < 0)
			goto out_close;
		if (scratch && n > 0)
			memcpy(buf, (char *)scratch + offset, n);
		result = (ssize_t)n;
	} else {
		result = tier_io_read(store_level_io(store, t.level), t.fd, buf, n,
				      TIER_HDR_SIZE + offset);
		if (result >= 0 && (size_t)result < n)
			result = store_report_corrupt(store, id, t.gen); /* truncated */
	}
	if (result > 0)
		__atomic_fetch_add(&store->levels[t.level].bytes_served, (uint64_t)result,
				   __ATOMIC_RELAXED);
out_close:
	free(scratch);
	close(t.fd);
	return result;
}

int tier_block_open_fd(struct tier_store *store, uint64_t id, struct tier_block_fd *out)
{
	struct read_ticket t;
	int rc = read_begin(store, id, &t);
	if (rc < 0)
		return rc;
	if (!t.trusted) {
		void *whole = malloc(t.len ? t.len : 1);
		if (!whole) {
			rc = -ENOMEM;
			goto err_close_fd;
		}
		rc = read_verified(store, id, &t, whole);
		free(whole);
		if (rc < 0)
			goto err_close_fd;
	}
	__atomic_fetch_add(&store->levels[t.level].bytes_served, t.len, __ATOMIC_RELAXED);
	out->fd = t.fd;
	out->data_offset = TIER_HDR_SIZE;
	out->len = t.len;
	out->tier = t.level;
	out->gen = t.gen;
	out->crc = t.crc;
	out->check = !t.is_mem;
	return 0;

err_close_fd:
	close(t.fd);
	return rc;
}

int tier_block_report_corrupt(struct tier_store *store, uint64_t id, uint64_t gen)
{
	return store_report_corrupt(store, id, gen);
}

int tier_block_touch(struct tier_store *store, uint64_t id, uint64_t gen)
{
	int rc = 0;
	pthread_mutex_lock(&store->lock);
	struct tier_block *blk = tier_map_get(&store->index, id);
	if (!blk || blk->gen != gen) {
		rc = blk ? -ESTALE : -ENOENT;
		goto out_unlock;
	}
	struct tier_level *lvl = &store->levels[blk->level];
	store->hits++;
	lvl->hits++;
	tier_policy_access(lvl->policy, id, store_now(store));
	__atomic_fetch_add(&lvl->bytes_served, blk->len, __ATOMIC_RELAXED);
out_unlock:
	pthread_mutex_unlock(&store->lock);
	return rc;
}
