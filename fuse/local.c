/* Short-circuit reads of strata-fuse (fuse/fz.h): a block that the worker on
 * this host owns and has cached in its MEM tier is read from a descriptor
 * the worker hands over on its Unix socket (worker.local_socket; messages
 * in lib/localread.h), and libfuse splices it from the tier's file into
 * /dev/fuse without a copy through this process.
 *
 * Each request is a connection of its own (one per block a handle reads,
 * a few tens of microseconds), so a worker restart needs no reconnection
 * logic. Any trouble with the socket (missing, refused, a timeout, a reply
 * that does not decode) is logged once and turns the path off for
 * LOCAL_RETRY_MS: reads go over HTTP meanwhile, exactly as without it. */
#include "fuse/fz.h"

#include "lib/localread.h"
#include "lib/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define LOCAL_RETRY_MS 5000
/* The worker's id is asked again this often (a restarted worker may have
 * registered under a new one). */
#define LOCAL_HELLO_MS 5000
/* A worker answers from memory (an open(2) of a tmpfs file): one that
 * takes longer than this is treated as gone for LOCAL_RETRY_MS. */
#define LOCAL_WAIT_MS 1000

struct held {
	struct fz_bfd **v;
	size_t n, cap;
};

static void held_free(void *arg)
{
	struct held *h = arg;
	for (size_t i = 0; i < h->n; i++)
		fz_bfd_put(h->v[i]);
	free(h->v);
	free(h);
}

int fz_local_init(struct fz *fz)
{
	pthread_mutex_init(&fz->local_lock, NULL);
	return pthread_key_create(&fz->held_key, held_free) ? -ENOMEM : 0;
}

void fz_bfd_put(struct fz_bfd *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
		close(b->fd);
		free(b);
	}
}

void fz_bfd_get(struct fz_bfd *b)
{
	atomic_fetch_add(&b->refs, 1);
}

void fz_local_hold(struct fz *fz, struct fz_bfd *b)
{
	struct held *h = pthread_getspecific(fz->held_key);
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h || pthread_setspecific(fz->held_key, h)) {
			free(h);
			h = NULL;
		}
	}
	if (h && h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 8;
		struct fz_bfd **v = realloc(h->v, cap * sizeof(*v));
		if (v) {
			h->v = v;
			h->cap = cap;
		}
	}
	if (!h || h->n == h->cap) {
		/* Without memory to remember it, the reference is never dropped:
		 * the descriptor leaks rather than closing under libfuse. */
		log_warn("out of memory: a block descriptor stays open");
		return;
	}
	h->v[h->n++] = b;
}

void fz_local_release(struct fz *fz)
{
	struct held *h = pthread_getspecific(fz->held_key);
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		fz_bfd_put(h->v[i]);
	h->n = 0;
}

/* The local path failed (rc): off for LOCAL_RETRY_MS, said once per mount.
 * A worker that does not answer its socket in time, or no longer listens on
 * it, is hung or gone: its HTTP port is passed over too (fz_worker_failed),
 * so that a read goes to the next owner, or fails, within the data timeout
 * instead of waiting for it twice. */
static void local_failed(struct fz *fz, const char *what, int rc)
{
	pthread_mutex_lock(&fz->local_lock);
	uint64_t id = fz->local_id;
	fz->local_retry_ms = fz_now_ms() + LOCAL_RETRY_MS;
	fz->local_id = 0;
	bool first = !fz->local_warned;
	fz->local_warned = true;
	pthread_mutex_unlock(&fz->local_lock);
	if (id && (rc == -EAGAIN || rc == -ECONNREFUSED))
		fz_worker_failed(fz, id);
	if (first)
		log_warn("short-circuit reads through %s: %s; reading over HTTP (tried again every "
			 "%d s, not logged again)", fz->local_path, what, LOCAL_RETRY_MS / 1000);
	else
		log_debug("short-circuit reads through %s: %s", fz->local_path, what);
}

/*
 * One request and its reply on a connection of its own: 0 with *rep (and
 * in *fd the descriptor an OK OPEN carries, else -1), or a negative errno
 * with err said.
 */
static int exchange(struct fz *fz, const struct lread_req *req, struct lread_rep *rep, int *fd,
		    char *err, size_t errlen)
{
	*fd = -1;
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0) {
		int e = errno;
		snprintf(err, errlen, "socket: %s", strerror(e));
		return -e;
	}
	int64_t wait_ms = (int64_t)(fz->opts.timeout * 1000);
	if (wait_ms > LOCAL_WAIT_MS)
		wait_ms = LOCAL_WAIT_MS;
	struct timeval tv = { .tv_sec = wait_ms / 1000, .tv_usec = (wait_ms % 1000) * 1000 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	memcpy(a.sun_path, fz->local_path, strlen(fz->local_path)); /* checked at start */
	unsigned char out[LREAD_REQ_SIZE], in[LREAD_REP_SIZE + 1];
	lread_req_encode(req, out);
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = in, .iov_len = sizeof(in) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	int rc = 0;
	ssize_t n = -1;
	errno = 0; /* a short send sets none */
	if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(s, (struct sockaddr *)&a, sizeof(a)) ||
	    send(s, out, sizeof(out), MSG_NOSIGNAL) != (ssize_t)sizeof(out) ||
	    (n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC)) < 0) {
		rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "%s", rc == -EAGAIN ? "no reply in time" : strerror(-rc));
		goto out;
	}
	/* Every descriptor that came along is ours to close. */
	int nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds++ == 0)
				*fd = got;
			else
				close(got);
		}
	}
	if (n == 0) {
		snprintf(err, errlen, "the worker closed the connection");
		rc = -ECONNRESET;
	} else if (mh.msg_flags & MSG_CTRUNC) {
		snprintf(err, errlen, "the descriptor did not arrive (too many open files?)");
		rc = -EMFILE;
	} else if (mh.msg_flags & MSG_TRUNC) {
		snprintf(err, errlen, "a reply longer than the protocol's");
		rc = -EBADMSG;
	} else {
		rc = lread_rep_decode(in, (size_t)n, rep, err, errlen);
	}
	bool want_fd = !rc && req->op == LREAD_OPEN && rep->status == LREAD_OK;
	if (!rc && (want_fd ? nfds != 1 : nfds != 0)) {
		snprintf(err, errlen, "a reply with %d descriptors", nfds);
		rc = -EBADMSG;
	}
	if (!rc && req->op == LREAD_OPEN && rep->block_id != req->block_id) {
		snprintf(err, errlen, "a reply for another block");
		rc = -EBADMSG;
	}
	if (!rc && rep->status == LREAD_BAD_REQUEST) {
		snprintf(err, errlen, "the worker refused the request");
		rc = -EPROTO;
	}
out:
	if (rc && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	close(s);
	return rc;
}

uint64_t fz_local_worker(struct fz *fz)
{
	if (!*fz->local_path)
		return 0;
	int64_t now = fz_now_ms();
	pthread_mutex_lock(&fz->local_lock);
	uint64_t id = fz->local_id;
	bool ask = now >= fz->local_retry_ms && (!id || now - fz->local_hello_ms >= LOCAL_HELLO_MS);
	if (ask)
		fz->local_retry_ms = now + LOCAL_WAIT_MS; /* one thread asks at a time */
	pthread_mutex_unlock(&fz->local_lock);
	if (!ask)
		return id; /* 0 while the path is off */
	struct lread_req req = { .op = LREAD_HELLO };
	struct lread_rep rep;
	char err[256];
	int fd;
	int rc = exchange(fz, &req, &rep, &fd, err, sizeof(err));
	if (rc) {
		local_failed(fz, err, rc);
		return 0;
	}
	pthread_mutex_lock(&fz->local_lock);
	fz->local_id = rep.worker_id;
	fz->local_hello_ms = now;
	/* A worker not registered yet (id 0) is asked again in a while. */
	fz->local_retry_ms = rep.worker_id ? 0 : now + LOCAL_RETRY_MS;
	pthread_mutex_unlock(&fz->local_lock);
	if (rep.worker_id)
		log_debug("short-circuit reads through %s: worker %llu", fz->local_path,
			  (unsigned long long)rep.worker_id);
	return rep.worker_id;
}

int fz_local_open(struct fz *fz, uint64_t block_id, uint64_t len, struct fz_bfd **out)
{
	struct lread_req req = { .op = LREAD_OPEN, .block_id = block_id };
	struct lread_rep rep;
	char err[256];
	int fd;
	int rc = exchange(fz, &req, &rep, &fd, err, sizeof(err));
	if (rc) {
		local_failed(fz, err, rc);
		return rc;
	}
	if (rep.status != LREAD_OK)
		return 1; /* not here (or the worker could not open it): HTTP */
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || rep.len != len ||
	    (uint64_t)st.st_size < rep.data_offset + rep.len) {
		/* Not the block the file's metadata describes: HTTP decides. */
		log_warn("short-circuit reads through %s: block %llu: %llu bytes where %llu were "
			 "expected; reading it over HTTP", fz->local_path,
			 (unsigned long long)block_id, (unsigned long long)rep.len,
			 (unsigned long long)len);
		close(fd);
		return 1;
	}
	struct fz_bfd *b = malloc(sizeof(*b));
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	b->fd = fd;
	b->data_offset = rep.data_offset;
	b->len = rep.len;
	atomic_init(&b->refs, 1);
	*out = b;
	return 0;
}
