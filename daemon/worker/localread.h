#ifndef STRATA_WORKER_LOCALREAD_H
#define STRATA_WORKER_LOCALREAD_H

#include <stddef.h>
#include <stdint.h>

struct worker_node;

/*
 * Short-circuit reads for clients on this host (strata-fuse): a Unix domain
 * socket (worker.local_socket, SOCK_SEQPACKET, messages in lib/localread.h)
 * on which a client asks for a block id and gets an fd open on the cached
 * block's file (SCM_RIGHTS) with the block's offset and length in it, or
 * "not here" (not cached, or on a disk tier, whose readers must check the
 * block's CRC: the HTTP data route does). The client then reads the bytes
 * itself, without a copy through this process.
 *
 * The socket file is created 0660 (owner and group of the worker's user):
 * whoever may connect may read every cached block, whatever the REST
 * tokens say (docs/security.md). One thread serves it; a request costs an
 * open(2) of the block file.
 */
struct localread;

struct localread_stats {
	uint64_t opens;	       /* fds handed over */
	uint64_t bytes;	       /* length of the blocks handed over */
	uint64_t not_here;     /* OPENs answered "not here" */
	uint64_t bad_requests; /* malformed requests refused */
	uint64_t connections;  /* clients accepted */
};

/*
 * The socket path worker.local_socket names: "" (off), an absolute path, or
 * one relative to data_dir. 0 with the path in out ("" when off);
 * -ENAMETOOLONG (with err naming the key) when it does not fit a Unix
 * socket address.
 */
int localread_path(const char *configured, const char *data_dir, char *out, size_t len,
		   char *err, size_t errlen);

/*
 * Creates the socket at path (a stale socket file of a stopped worker is
 * replaced; one another process still serves, or a file that is not a
 * socket, is an error) and starts its thread. 0 and *out, or a negative
 * errno with err naming the key and the path.
 */
int localread_start(struct worker_node *w, const char *path, struct localread **out, char *err,
		    size_t errlen);
/* Stops the thread, closes every connection, removes the socket file.
 * NULL is fine. */
void localread_stop(struct localread *lr);

/* All 0 for NULL (the socket is off). */
void localread_stats_get(struct localread *lr, struct localread_stats *out);

#endif
