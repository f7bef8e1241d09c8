/* The worker's short-circuit socket (daemon/worker/localread.h): one thread
 * polls the listening socket and its clients; each request is answered at
 * once (an open(2) of a block file, or a refusal). */
#include "daemon/worker/localread.h"

#include "daemon/worker/worker.h"
#include "lib/localread.h"
#include "lib/log.h"
#include "tier/tier.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define SOCKET_MODE 0660

struct localread {
	struct worker_node *w;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev; /* the socket file we made: removed at stop only if it is still ours */
	ino_t ino;
	int mem_max; /* blocks in tiers 0..mem_max are in memory; -1: none is */
	int listen_fd;
	int wake[2]; /* a byte on wake[1] stops the thread */
	pthread_t thread;
	int nclients;
	int clients[MAX_CLIENTS];
	_Atomic uint64_t opens, bytes, not_here, bad_requests, connections;
	bool warned_bad;
};

int localread_path(const char *configured, const char *data_dir, char *out, size_t len,
		   char *err, size_t errlen)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int n;
	if (!*configured)
		n = snprintf(out, len, "%s", "");
	else if (*configured == '/')
		n = snprintf(out, len, "%s", configured);
	else
		n = snprintf(out, len, "%s/%s", data_dir, configured);
	if (n < 0 || (size_t)n >= len || (size_t)n >= max) {
		snprintf(err, errlen,
			 "worker.local_socket: '%s%s%s' is longer than a Unix socket path may be "
			 "(%zu bytes)", *configured == '/' ? "" : data_dir,
			 *configured == '/' ? "" : "/", configured, max - 1);
		if (len)
			*out = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

static void fill_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, path, strlen(path)); /* checked by localread_path */
}

/* A socket file at path from an earlier run: removed when nobody serves it
 * any more. 0 (also when there is no file), or an error in err. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "worker.local_socket: '%s' exists and is not a socket", path);
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un a;
	fill_addr(&a, path);
	int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
			 "worker.local_socket: '%s' is served by another process (another "
			 "worker with the same worker.data_dir?)", path);
		return -EADDRINUSE;
	}
	if (e != ECONNREFUSED && e != ENOENT) {
		snprintf(err, errlen, "worker.local_socket: '%s': %s", path, strerror(e));
		return -e;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "worker.local_socket: cannot remove the stale '%s': %s", path,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * The answer to one request of n bytes: the reply, and in *fd a descriptor
 * to pass with it (-1 for none; the caller closes it). An OPEN of a cached
 * block counts as a read of it (tier_block_open_fd: a hit, the policy's
 * access).
 */
static void answer(struct localread *lr, const unsigned char *msg, size_t n,
		   struct lread_rep *rep, int *fd)
{
	struct lread_req req;
	char err[128];
	*fd = -1;
	pthread_mutex_lock(&lr->w->lock);
	*rep = (struct lread_rep){ .worker_id = lr->w->worker_id };
	pthread_mutex_unlock(&lr->w->lock);
	if (lread_req_decode(msg, n, &req, err, sizeof(err))) {
		atomic_fetch_add(&lr->bad_requests, 1);
		if (!lr->warned_bad) {
			lr->warned_bad = true;
			log_warn("worker.local_socket: refused a %s (only the first is logged)", err);
		}
		rep->status = LREAD_BAD_REQUEST;
		return;
	}
	rep->block_id = req.block_id;
	if (req.op == LREAD_HELLO)
		return; /* LREAD_OK with the worker's id, no fd */
	/* A disk tier's block is not handed out: its reader must check the
	 * CRC, which the HTTP route does as it sends it (and opening it here
	 * could mean reading it whole first, to verify it after a rescan). */
	struct tier_block_fd bf;
	unsigned tier;
	int rc = -ENOENT;
	if (lr->mem_max >= 0 && tier_block_exists(lr->w->tiers, req.block_id, &tier) &&
	    tier <= (unsigned)lr->mem_max)
		rc = tier_block_open_fd(lr->w->tiers, req.block_id, &bf);
	if (rc == 0 && bf.check) {
		close(bf.fd); /* demoted meanwhile */
		rc = -ENOENT;
	}
	if (rc == -ENOENT || rc == -EBADMSG) {
		atomic_fetch_add(&lr->not_here, 1);
		rep->status = LREAD_NOT_HERE;
		return;
	}
	if (rc) {
		log_warn("worker.local_socket: block %llu: %s", (unsigned long long)req.block_id,
			 strerror(-rc));
		rep->status = LREAD_ERROR;
		return;
	}
	rep->status = LREAD_OK;
	rep->data_offset = bf.data_offset;
	rep->len = bf.len;
	*fd = bf.fd;
}

/* Receives one request on client fd and answers it: 0, or -1 when the
 * client is gone or misbehaves (the caller closes it). */
static int serve(struct localread *lr, int cfd)
{
	unsigned char msg[64];
	ssize_t n = recv(cfd, msg, sizeof(msg), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1; /* closed */
	struct lread_rep rep;
	int fd;
	answer(lr, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg), &rep, &fd);
	unsigned char out[LREAD_REP_SIZE];
	lread_rep_encode(&rep, out);
	struct iovec iov = { .iov_base = out, .iov_len = sizeof(out) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	/* A client that does not take its reply (its buffer full) is
	 * dropped, never waited for. */
	ssize_t sent = sendmsg(cfd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (fd >= 0) {
		if (sent == (ssize_t)sizeof(out)) {
			atomic_fetch_add(&lr->opens, 1);
			atomic_fetch_add(&lr->bytes, rep.len);
		}
		close(fd);
	}
	if (sent != (ssize_t)sizeof(out))
		return -1;
	return rep.status == LREAD_BAD_REQUEST ? -1 : 0;
}

static void drop_client(struct localread *lr, int i)
{
	close(lr->clients[i]);
	lr->clients[i] = lr->clients[--lr->nclients];
}

static void accept_clients(struct localread *lr)
{
	for (;;) {
		int cfd = accept4(lr->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("worker.local_socket: accept: %s", strerror(errno));
			return;
		}
		if (lr->nclients == MAX_CLIENTS) {
			close(cfd); /* the client sees EOF and takes the HTTP route */
			continue;
		}
		atomic_fetch_add(&lr->connections, 1);
		lr->clients[lr->nclients++] = cfd;
	}
}

static void *thread_main(void *arg)
{
	struct localread *lr = arg;
	struct pollfd pfd[MAX_CLIENTS + 2];
	for (;;) {
		int n = lr->nclients;
		pfd[0] = (struct pollfd){ .fd = lr->wake[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = lr->listen_fd, .events = POLLIN };
		for (int i = 0; i < n; i++)
			pfd[2 + i] = (struct pollfd){ .fd = lr->clients[i], .events = POLLIN };
		if (poll(pfd, (nfds_t)n + 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("worker.local_socket: poll: %s; short-circuit reads stop",
				  strerror(errno));
			return NULL;
		}
		if (pfd[0].revents)
			return NULL;
		/* Backwards: drop_client moves the last client into slot i. */
		for (int i = n - 1; i >= 0; i--) {
			if (!pfd[2 + i].revents)
				continue;
			if ((pfd[2 + i].revents & POLLIN) ? serve(lr, lr->clients[i]) != 0 : true)
				drop_client(lr, i);
		}
		if (pfd[1].revents)
			accept_clients(lr);
	}
}

int localread_start(struct worker_node *w, const char *path, struct localread **out, char *err,
		    size_t errlen)
{
	struct localread *lr = calloc(1, sizeof(*lr));
	if (!lr)
		return -ENOMEM;
	lr->w = w;
	lr->mem_max = tier_level_of_medium(w->tiers, TIER_MEDIUM_MEM);
	if (lr->mem_max < 0)
		lr->mem_max = -1;
	lr->listen_fd = -1;
	lr->wake[0] = lr->wake[1] = -1;
	int rc;
	if (strlen(path) >= sizeof(lr->path)) {
		snprintf(err, errlen, "worker.local_socket: '%s' is too long", path);
		rc = -ENAMETOOLONG;
		goto err_free;
	}
	snprintf(lr->path, sizeof(lr->path), "%s", path);
	rc = clear_stale(path, err, errlen);
	if (rc)
		goto err_free;
	lr->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lr->listen_fd < 0 || pipe2(lr->wake, O_CLOEXEC) != 0) {
		rc = -errno;
		snprintf(err, errlen, "worker.local_socket: %s", strerror(errno));
		goto err_close;
	}
	/* The file bind creates takes the socket's mode (less the umask):
	 * set before bind, so it is never more open than SOCKET_MODE, even
	 * for an instant. */
	struct sockaddr_un a;
	fill_addr(&a, path);
	if (fchmod(lr->listen_fd, SOCKET_MODE) != 0 ||
	    bind(lr->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		rc = -errno;
		snprintf(err, errlen, "worker.local_socket: '%s': %s", path, strerror(errno));
		goto err_close;
	}
	struct stat st;
	errno = 0;
	if (chmod(path, SOCKET_MODE) != 0 || lstat(path, &st) != 0 ||
	    (st.st_mode & 07777) != SOCKET_MODE) {
		rc = errno ? -errno : -EPERM;
		snprintf(err, errlen, "worker.local_socket: cannot make '%s' mode 0660: %s", path,
			 strerror(-rc));
		unlink(path);
		goto err_close;
	}
	lr->dev = st.st_dev;
	lr->ino = st.st_ino;
	if (listen(lr->listen_fd, 64) != 0 ||
	    (errno = pthread_create(&lr->thread, NULL, thread_main, lr)) != 0) {
		rc = -errno;
		snprintf(err, errlen, "worker.local_socket: %s", strerror(errno));
		unlink(path);
		goto err_close;
	}
	*out = lr;
	return 0;

err_close:
	if (lr->listen_fd >= 0)
		close(lr->listen_fd);
	if (lr->wake[0] >= 0) {
		close(lr->wake[0]);
		close(lr->wake[1]);
	}
err_free:
	free(lr);
	return rc;
}

void localread_stop(struct localread *lr)
{
	if (!lr)
		return;
	char byte = 1;
	while (write(lr->wake[1], &byte, 1) < 0 && errno == EINTR)
		;
	pthread_join(lr->thread, NULL);
	while (lr->nclients)
		drop_client(lr, 0);
	close(lr->listen_fd);
	close(lr->wake[0]);
	close(lr->wake[1]);
	struct stat st;
	if (lstat(lr->path, &st) == 0 && st.st_dev == lr->dev && st.st_ino == lr->ino)
		unlink(lr->path);
	free(lr);
}

void localread_stats_get(struct localread *lr, struct localread_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!lr)
		return;
	out->opens = atomic_load(&lr->opens);
	out->bytes = atomic_load(&lr->bytes);
	out->not_here = atomic_load(&lr->not_here);
	out->bad_requests = atomic_load(&lr->bad_requests);
	out->connections = atomic_load(&lr->connections);
}
