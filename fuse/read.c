/* Reads of strata-fuse (fuse/fz.h): whole blocks through the worker that
 * owns them, with read-ahead.
 *
 * A read-only handle keeps a few chunks of the file in memory. A reader
 * that goes forward gets whole blocks (the unit the workers cache), and
 * the next `readahead` blocks are fetched by the pool's threads while it
 * consumes the current one; a reader that jumps around gets only the
 * 64 KiB-aligned range it asked for, so 16 KiB records do not cost a
 * whole block each. A chunk is fetched from the block's owner (rendezvous
 * hashing over the live workers, lib/placement.h), where it is a local
 * cache read; a worker that does not answer is passed over for the next
 * owner once, then the read fails with EIO. Every request is bounded by
 * the data timeout, so a dead worker never hangs the mount. */
#include "fuse/fz.h"

#include "client/client.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/placement.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 18
/* Blocks whose short-circuit answer a handle remembers (an fd, or "over
 * HTTP"): the kernel reads a file in order, so a few suffice. */
#define LOCAL_BLOCKS 8

enum slot_state { SLOT_EMPTY, SLOT_LOADING, SLOT_READY };

struct slot {
	enum slot_state state;
	uint64_t start, len; /* the range it holds (or is loading) */
	char *buf; /* kept from load to load */
	uint64_t cap;
	int64_t used_at; /* a counter: the least recently used goes first */
};

/* What the local worker said of one block of the file. */
struct lblock {
	bool used;
	bool asking; /* a thread asks now: the others wait for its answer */
	uint64_t index;
	struct fz_bfd *bfd; /* NULL: read it over HTTP */
	int64_t used_at;
};

struct fz_reader {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int nslots;
	struct slot slots[MAX_SLOTS];
	struct lblock local[LOCAL_BLOCKS];
	int64_t tick;
	uint64_t last_end; /* where the last read ended: sequential detection */
	bool seq;
};

struct job {
	struct fz_file *f;
	int slot;
	struct job *next;
};

struct fz_pool {
	struct fz *fz;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	bool stop;
	int nthreads;
	pthread_t threads[16];
};

static void file_ref(struct fz *fz, struct fz_file *f)
{
	pthread_mutex_lock(&fz->files_lock);
	f->refs++;
	pthread_mutex_unlock(&fz->files_lock);
}

static void reader_free(struct fz_reader *rd)
{
	if (!rd)
		return;
	for (int i = 0; i < rd->nslots; i++)
		free(rd->slots[i].buf);
	for (int i = 0; i < LOCAL_BLOCKS; i++)
		fz_bfd_put(rd->local[i].bfd);
	pthread_mutex_destroy(&rd->lock);
	pthread_cond_destroy(&rd->cond);
	free(rd);
}

void fz_file_put(struct fz *fz, struct fz_file *f)
{
	pthread_mutex_lock(&fz->files_lock);
	bool last = --f->refs == 0;
	if (last && f->prev_reader) {
		*f->prev_reader = f->next_reader;
		if (f->next_reader)
			f->next_reader->prev_reader = f->prev_reader;
	}
	pthread_mutex_unlock(&fz->files_lock);
	if (!last)
		return;
	reader_free(f->rd);
	pthread_mutex_destroy(&f->wlock);
	free(f->path);
	free(f);
}

int fz_open_read(struct fz *fz, const char *path, struct fz_file **out)
{
	struct httpc *hc = fz_http(fz);
	if (!hc)
		return -ENOMEM;
	struct client_inode n = { 0 };
	char err[1024];
	int rc = client_fs_stat(fz->mc, hc, path, &n, err, sizeof(err));
	if (rc) {
		if (rc != -ENOENT)
			log_warn("open %s: %s", path, err);
		return fz_errno(rc);
	}
	if (n.is_dir) {
		client_inode_clear(&n);
		return -EISDIR;
	}
	struct stat st;
	fz_stat_from_inode(&n, &st);
	fz_cache_put(fz->cache, path, &st);
	struct fz_file *f = calloc(1, sizeof(*f));
	struct fz_reader *rd = calloc(1, sizeof(*rd));
	if (!f || !rd || !(f->path = strdup(path))) {
		free(f);
		free(rd);
		client_inode_clear(&n);
		return -ENOMEM;
	}
	f->refs = 1;
	f->fd = -1;
	f->st = st;
	f->length = n.length;
	f->block_size = n.block_size > 0 ? n.block_size : INT64_C(4) << 20;
	f->data_id = n.nblocks ? n.blocks[0].id >> PLACEMENT_INDEX_BITS : 0;
	client_inode_clear(&n);
	pthread_mutex_init(&f->wlock, NULL);
	pthread_mutex_init(&rd->lock, NULL);
	pthread_cond_init(&rd->cond, NULL);
	rd->nslots = fz->opts.readahead + 2;
	if (rd->nslots > MAX_SLOTS)
		rd->nslots = MAX_SLOTS;
	f->rd = rd;
	pthread_mutex_lock(&fz->files_lock);
	f->next_reader = fz->readers;
	if (fz->readers)
		fz->readers->prev_reader = &f->next_reader;
	f->prev_reader = &fz->readers;
	fz->readers = f;
	pthread_mutex_unlock(&fz->files_lock);
	*out = f;
	return 0;
}

void fz_file_path(struct fz *fz, const struct fz_file *f, char *out, size_t outlen)
{
	pthread_mutex_lock(&fz->files_lock);
	snprintf(out, outlen, "%s", f->path);
	pthread_mutex_unlock(&fz->files_lock);
}

void fz_readers_renamed(struct fz *fz, const char *from, const char *to)
{
	pthread_mutex_lock(&fz->files_lock);
	for (struct fz_file *f = fz->readers; f; f = f->next_reader) {
		char *moved;
		if (fz_path_moved(f->path, from, to, &moved)) {
			log_warn("rename %s: out of memory; its reader of %s reads the old path",
				 from, f->path);
		} else if (moved) {
			free(f->path);
			f->path = moved;
		}
	}
	pthread_mutex_unlock(&fz->files_lock);
}

/* The error a worker's non-2xx reply names. */
static int reply_rc(const struct httpc_resp *resp)
{
	cJSON *doc = cJSON_ParseWithLength(resp->body ? resp->body : "", resp->len);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
	int rc = code ? st_rc_from_code(code) : ST_EHTTP;
	cJSON_Delete(doc);
	return rc;
}

/* One GET of the range into dst (len bytes, room for len + 1): 0, ST_EPEER when the worker
 * did not answer or broke off, or the error it named. The bytes land in
 * dst directly (a reused slot buffer: no page faults, no copies of a
 * growing reply). */
static int get_range(struct httpc *hc, const char *url, char *dst,
		     uint64_t len, char *err, size_t errlen)
{
	/* dst holds len + 1 bytes: a stream opened for writing ends with a
	 * NUL, which would take the last byte of a buffer it fills. */
	FILE *fp = fmemopen(dst, len + 1, "w");
	if (!fp)
		return -errno;
	setvbuf(fp, NULL, _IONBF, 0);
	struct httpc_resp resp = { 0 };
	int rc = httpc_stream(hc, "GET", url, NULL, -1, fp, &resp, err, errlen);
	off_t got = ftello(fp);
	fclose(fp);
	if (!rc && resp.status != 200) {
		rc = reply_rc(&resp);
		snprintf(err, errlen, "HTTP %ld", resp.status);
	} else if (!rc && (uint64_t)got != len) {
		/* The file changed since it was opened. */
		snprintf(err, errlen, "%lld bytes where %llu were expected", (long long)got,
			 (unsigned long long)len);
		rc = -EIO;
	}
	httpc_resp_free(&resp);
	return rc;
}

/* Fetches [start, start+len) of f into dst from the owner of its block
 * (then the next owner): 0 or an error. */
static int fetch(struct fz *fz, struct fz_file *f, uint64_t start, uint64_t len, char *dst)
{
	char path[4200];
	fz_file_path(fz, f, path, sizeof(path));
	struct httpc *hc = fz_http(fz);
	struct fz_worker *ws = NULL;
	size_t nw = 0;
	int64_t cap, used;
	if (!hc)
		return -ENOMEM;
	int rc = fz_workers(fz, &ws, &nw, &cap, &used);
	if (rc)
		return rc;
	if (nw == 0) {
		log_warn("read %s: no live worker", path);
		free(ws);
		return -EIO;
	}
	uint64_t ids[64];
	size_t owners[64], n = nw < 64 ? nw : 64;
	for (size_t i = 0; i < n; i++)
		ids[i] = ws[i].id;
	uint64_t block = placement_block_id(f->data_id, start / (uint64_t)f->block_size);
	size_t nown = placement_owners(block, ids, n, n, owners);
	/* data_id: the version opened, so a worker whose metadata is older
	 * than the open asks the master again (close-to-open). */
	char extra[128];
	snprintf(extra, sizeof(extra), "&offset=%llu&length=%llu&data_id=%llu",
		 (unsigned long long)start, (unsigned long long)len,
		 (unsigned long long)f->data_id);
	char *pq = httpc_path_query("/api/v1/data", path, extra);
	if (!pq) {
		free(ws);
		return -ENOMEM;
	}
	rc = ST_EPEER;
	int tries = 0;
	int64_t now = fz_now_ms();
	/* Owners first, skipping the ones that just failed; at most two tries. */
	for (int pass = 0; pass < 2 && rc == ST_EPEER && tries < 2; pass++) {
		for (size_t k = 0; k < nown && rc == ST_EPEER && tries < 2; k++) {
			const struct fz_worker *w = &ws[owners[k]];
			if ((pass == 0) != (w->down_until_ms <= now))
				continue;
			char url[512], err[512] = "";
			snprintf(url, sizeof(url), "%s%s", w->base, pq);
			tries++;
			rc = get_range(hc, url, dst, len, err, sizeof(err));
			if (rc == ST_EPEER)
				fz_worker_failed(fz, w->id);
			if (rc)
				log_warn("read %s at %llu: worker %s: %s", path,
					 (unsigned long long)start, w->base, err);
		}
	}
	free(pq);
	free(ws);
	return rc;
}

/* A slot to load into (the least recently used that is not loading), or
 * -1 when all are loading. Under rd->lock. */
static int victim(struct fz_reader *rd)
{
	int best = -1;
	for (int i = 0; i < rd->nslots; i++) {
		if (rd->slots[i].state == SLOT_LOADING)
			continue;
		if (best < 0 || rd->slots[i].state == SLOT_EMPTY ||
		    (rd->slots[best].state != SLOT_EMPTY &&
		     rd->slots[i].used_at < rd->slots[best].used_at))
			best = i;
		if (rd->slots[best].state == SLOT_EMPTY)
			break;
	}
	return best;
}

static int find_slot(struct fz_reader *rd, uint64_t off)
{
	for (int i = 0; i < rd->nslots; i++) {
		const struct slot *s = &rd->slots[i];
		if (s->state != SLOT_EMPTY && off >= s->start && off < s->start + s->len)
			return i;
	}
	return -1;
}

static void slot_done(struct fz_reader *rd, int i, int rc)
{
	pthread_mutex_lock(&rd->lock);
	rd->slots[i].state = rc ? SLOT_EMPTY : SLOT_READY;
	pthread_cond_broadcast(&rd->cond);
	pthread_mutex_unlock(&rd->lock);
}

/* Makes slot s LOADING [start, start+len), its buffer big enough: 0 or
 * -ENOMEM (the slot is then EMPTY). Under rd->lock. */
static int slot_load(struct fz_reader *rd, struct slot *s, uint64_t start, uint64_t len)
{
	if (s->cap < len + 1) {
		free(s->buf);
		s->buf = malloc(len + 1);
		s->cap = s->buf ? len + 1 : 0;
		if (!s->buf) {
			s->state = SLOT_EMPTY;
			return -ENOMEM;
		}
	}
	s->state = SLOT_LOADING;
	s->start = start;
	s->len = len;
	s->used_at = ++rd->tick;
	return 0;
}

/* The handle's entry of block index (with an fd only: with_fd), or NULL.
 * Under rd->lock. */
static struct lblock *local_find(struct fz_reader *rd, uint64_t index, bool with_fd)
{
	for (int i = 0; i < LOCAL_BLOCKS; i++) {
		struct lblock *l = &rd->local[i];
		if (l->used && l->index == index && (l->bfd || !with_fd))
			return l;
	}
	return NULL;
}

/* An entry for block index, in place of the least recently used one that
 * nobody is asking for; NULL when all are being asked for. Under rd->lock. */
static struct lblock *local_slot(struct fz_reader *rd, uint64_t index)
{
	struct lblock *l = NULL;
	for (int i = 0; i < LOCAL_BLOCKS; i++) {
		struct lblock *c = &rd->local[i];
		if (c->asking)
			continue;
		if (!c->used) {
			l = c;
			break;
		}
		if (!l || c->used_at < l->used_at)
			l = c;
	}
	if (l) {
		fz_bfd_put(l->bfd);
		*l = (struct lblock){ .used = true, .index = index, .used_at = ++rd->tick };
	}
	return l;
}

/* Whether the local worker (id lid) is the first owner of block index. */
static bool local_owns(struct fz *fz, struct fz_file *f, uint64_t index, uint64_t lid)
{
	struct fz_worker *ws = NULL;
	size_t nw = 0;
	int64_t cap, used;
	if (fz_workers(fz, &ws, &nw, &cap, &used))
		return false;
	uint64_t ids[64];
	size_t n = nw < 64 ? nw : 64, first;
	for (size_t i = 0; i < n; i++)
		ids[i] = ws[i].id;
	bool owns = n && placement_owners(placement_block_id(f->data_id, index), ids, n, 1,
					  &first) == 1 && ids[first] == lid;
	free(ws);
	return owns;
}

/*
 * The local worker's fd of block index (a reference for the caller), or
 * NULL: read it over HTTP (no local worker, another worker owns it, not
 * cached there, or the socket failed). Asks once per block and handle; a
 * thread that finds another asking waits for its answer.
 */
static struct fz_bfd *local_block(struct fz *fz, struct fz_file *f, uint64_t index)
{
	struct fz_reader *rd = f->rd;
	if (!*fz->local_path)
		return NULL;
	struct lblock *l;
	bool owns = false;
	pthread_mutex_lock(&rd->lock);
	for (;;) {
		while ((l = local_find(rd, index, false)) && l->asking)
			pthread_cond_wait(&rd->cond, &rd->lock);
		if (l) {
			struct fz_bfd *bfd = l->bfd;
			l->used_at = ++rd->tick;
			if (bfd)
				fz_bfd_get(bfd);
			pthread_mutex_unlock(&rd->lock);
			return bfd;
		}
		if (owns)
			break;
		pthread_mutex_unlock(&rd->lock);
		uint64_t lid = fz_local_worker(fz);
		if (!lid)
			return NULL; /* nothing remembered: the path may come back */
		owns = local_owns(fz, f, index, lid);
		pthread_mutex_lock(&rd->lock);
		if (!owns) {
			/* Another worker's block: HTTP, without asking again. */
			if (!local_find(rd, index, false))
				local_slot(rd, index);
			pthread_mutex_unlock(&rd->lock);
			return NULL;
		}
	}
	if (!(l = local_slot(rd, index))) {
		pthread_mutex_unlock(&rd->lock); /* every entry is being asked for */
		return NULL;
	}
	l->asking = true;
	pthread_mutex_unlock(&rd->lock);

	uint64_t bs = (uint64_t)f->block_size, start = index * bs;
	uint64_t len = f->length - start < bs ? f->length - start : bs;
	struct fz_bfd *bfd = NULL;
	int rc = fz_local_open(fz, placement_block_id(f->data_id, index), len, &bfd);

	pthread_mutex_lock(&rd->lock);
	l->asking = false;
	if (rc == 0) {
		l->bfd = bfd;
		fz_bfd_get(bfd);
	} else if (rc < 0) {
		l->used = false; /* the socket failed: not remembered */
	}
	pthread_cond_broadcast(&rd->cond);
	pthread_mutex_unlock(&rd->lock);
	return rc == 0 ? bfd : NULL;
}

/* Queues the blocks after `end` that no slot holds. Under rd->lock. */
static void read_ahead(struct fz *fz, struct fz_file *f, uint64_t end)
{
	struct fz_reader *rd = f->rd;
	uint64_t bs = (uint64_t)f->block_size, unit = bs < FZ_MAX_CHUNK ? bs : FZ_MAX_CHUNK;
	uint64_t at = (end + unit - 1) / unit * unit;
	for (int k = 0; k < fz->opts.readahead && at < f->length; k++, at += unit) {
		if (find_slot(rd, at) >= 0 || local_find(rd, at / bs, true))
			continue;
		int v = victim(rd);
		if (v < 0)
			return;
		struct job *j = calloc(1, sizeof(*j));
		if (!j)
			return;
		if (slot_load(rd, &rd->slots[v], at, at + unit > f->length ? f->length - at : unit)) {
			free(j);
			return;
		}
		file_ref(fz, f);
		j->f = f;
		j->slot = v;
		struct fz_pool *p = fz->pool;
		pthread_mutex_lock(&p->lock);
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
}

int fz_read(struct fz *fz, struct fz_file *f, char *buf, size_t size, off_t off)
{
	struct fz_reader *rd = f->rd;
	uint64_t pos = (uint64_t)off, end = pos + size;
	if (pos >= f->length)
		return 0;
	if (end > f->length)
		end = f->length;
	size_t done = 0;
	int rc = 0;
	pthread_mutex_lock(&rd->lock);
	/* Forward reads (allowing the kernel's parallel read-ahead some
	 * reordering) are sequential; the first read of a file is too. */
	uint64_t slack = 1 << 20;
	rd->seq = (pos == 0 && rd->tick == 0) ||
		  (pos + slack >= rd->last_end && pos <= rd->last_end + slack);
	while (pos < end && !rc) {
		int i = find_slot(rd, pos);
		if (i >= 0 && rd->slots[i].state == SLOT_LOADING) {
			pthread_cond_wait(&rd->cond, &rd->lock);
			continue; /* the slot may have failed or been reused */
		}
		if (i < 0) {
			int v = victim(rd);
			if (v < 0) {
				pthread_cond_wait(&rd->cond, &rd->lock);
				continue;
			}
			struct slot *s = &rd->slots[v];
			uint64_t start, len;
			fz_chunk((uint64_t)f->block_size, f->length, rd->seq, pos, end - pos, &start,
				 &len);
			if (slot_load(rd, s, start, len)) {
				rc = -ENOMEM;
				break;
			}
			if (rd->seq)
				read_ahead(fz, f, start + len);
			pthread_mutex_unlock(&rd->lock);
			int frc = fetch(fz, f, start, len, s->buf);
			slot_done(rd, v, frc);
			pthread_mutex_lock(&rd->lock);
			if (frc)
				rc = fz_errno(frc);
			continue;
		}
		struct slot *s = &rd->slots[i];
		uint64_t n = s->start + s->len - pos;
		if (n > end - pos)
			n = end - pos;
		memcpy(buf + done, s->buf + (pos - s->start), n);
		s->used_at = ++rd->tick;
		done += n;
		pos += n;
		if (rd->seq && pos == s->start + s->len)
			read_ahead(fz, f, pos);
	}
	rd->last_end = pos;
	pthread_mutex_unlock(&rd->lock);
	return done ? (int)done : rc;
}

int fz_read_buf(struct fz *fz, struct fz_file *f, size_t size, off_t off,
		struct fuse_bufvec **out)
{
	/* This thread's previous reply has been sent: its fds may go. */
	fz_local_release(fz);
	uint64_t pos = (uint64_t)off, bs = (uint64_t)f->block_size;
	uint64_t end = pos + size < f->length ? pos + size : f->length;
	size_t nseg = pos < end ? (size_t)((end - 1) / bs - pos / bs + 1) : 1;
	struct fuse_bufvec *bv = calloc(1, sizeof(*bv) + nseg * sizeof(bv->buf[0]));
	if (!bv)
		return -ENOMEM;
	*bv = (struct fuse_bufvec)FUSE_BUFVEC_INIT(0);
	bv->count = 0;
	int rc = 0;
	while (pos < end) {
		uint64_t index = pos / bs, stop = (index + 1) * bs < end ? (index + 1) * bs : end;
		struct fuse_buf *b = &bv->buf[bv->count];
		/* What a slot holds (read ahead over HTTP) is used from there;
		 * one still loading may turn out to be local (pool_main). */
		pthread_mutex_lock(&f->rd->lock);
		int si = find_slot(f->rd, pos);
		bool in_slot = si >= 0 && f->rd->slots[si].state == SLOT_READY;
		pthread_mutex_unlock(&f->rd->lock);
		struct fz_bfd *bfd = in_slot ? NULL : local_block(fz, f, index);
		if (bfd) {
			*b = (struct fuse_buf){
				.size = (size_t)(stop - pos),
				.flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK,
				.fd = bfd->fd,
				.pos = (off_t)(bfd->data_offset + (pos - index * bs)),
			};
			fz_local_hold(fz, bfd);
			bv->count++;
			pos = stop;
			continue;
		}
		size_t want = (size_t)(stop - pos);
		char *mem = malloc(want);
		int n = mem ? fz_read(fz, f, mem, want, (off_t)pos) : -ENOMEM;
		if (n <= 0) {
			free(mem);
			rc = n;
			break;
		}
		*b = (struct fuse_buf){ .size = (size_t)n, .mem = mem };
		bv->count++;
		pos += (uint64_t)n;
		if ((size_t)n < want)
			break; /* short: an error after some bytes, as fz_read */
	}
	if (bv->count == 0 && rc < 0) {
		free(bv);
		return rc;
	}
	/* As fz_read: what was read goes out, an error only without any. */
	if (bv->count == 0) {
		bv->count = 1;
		bv->buf[0] = (struct fuse_buf){ .size = 0 };
	}
	*out = bv;
	return 0;
}

static void *pool_main(void *arg)
{
	struct fz_pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		struct job *j = p->head;
		if (j) {
			p->head = j->next;
			if (!p->head)
				p->tail = NULL;
		}
		pthread_mutex_unlock(&p->lock);
		if (!j)
			return NULL; /* stopping with nothing queued */
		struct fz_file *f = j->f;
		const struct slot *s = &f->rd->slots[j->slot];
		pthread_mutex_lock(&f->rd->lock);
		uint64_t start = s->start, len = s->len;
		pthread_mutex_unlock(&f->rd->lock);
		/* A block the local worker has is not fetched: its fd is
		 * remembered instead and the reader reads from that. */
		struct fz_bfd *bfd = local_block(p->fz, f, start / (uint64_t)f->block_size);
		bool local = bfd != NULL;
		fz_bfd_put(bfd);
		int rc = local ? -EAGAIN
			       : fetch(p->fz, f, start, len, f->rd->slots[j->slot].buf);
		if (rc && !local) {
			char path[4200];
			fz_file_path(p->fz, f, path, sizeof(path));
			log_debug("read-ahead of %s at %llu: %s", path, (unsigned long long)start,
				  st_strerror(rc));
		}
		slot_done(f->rd, j->slot, rc);
		fz_file_put(p->fz, f);
		free(j);
	}
}

struct fz_pool *fz_pool_new(struct fz *fz, int nthreads)
{
	struct fz_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->fz = fz;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (nthreads > 16)
		nthreads = 16;
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_main, p))
			break;
		p->nthreads++;
	}
	return p;
}

void fz_pool_free(struct fz_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
