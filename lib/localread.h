#ifndef STRATA_LIB_LOCALREAD_H
#define STRATA_LIB_LOCALREAD_H

#include <stddef.h>
#include <stdint.h>

/*
 * Short-circuit reads: the messages a client on the worker's host (strata-
 * fuse) and the worker exchange on the worker's Unix domain socket
 * (worker.local_socket, SOCK_SEQPACKET: one message per packet). The worker
 * side is daemon/worker/localread.c, the client's fuse/local.c. Pure: no
 * I/O here.
 *
 * Request, LREAD_REQ_SIZE bytes, integers little-endian:
 *
 *   offset size field
 *        0    4 magic, the bytes "SLRD"
 *        4    2 version, 1
 *        6    2 op: 1 HELLO (who are you), 2 OPEN (a cached block's fd)
 *        8    8 block id (OPEN; 0 for HELLO)
 *       16    4 reserved, 0
 *       20    4 CRC32C of bytes 0..19
 *
 * Reply, LREAD_REP_SIZE bytes; an OPEN answered LREAD_OK carries exactly
 * one descriptor (SCM_RIGHTS), open read-only on the block's file, whose
 * bytes [data_offset, data_offset + len) are the block:
 *
 *        0    4 magic, "SLRD"
 *        4    2 version, 1
 *        6    2 status: 0 OK, 1 NOT_HERE (not cached, or on a disk tier
 *                 whose reader must check its CRC: use the HTTP route),
 *                 2 BAD_REQUEST, 3 ERROR (the worker could not open it)
 *        8    8 the worker's id (0 until it registered with a master)
 *       16    8 block id (echoed)
 *       24    8 data_offset
 *       32    8 len
 *       40    4 reserved, 0
 *       44    4 CRC32C of bytes 0..43
 *
 * A block is immutable (its id names one content version) and the fd stays
 * valid after the block is evicted, so a client may keep it while it reads.
 */
#define LREAD_MAGIC "SLRD"
#define LREAD_VERSION 1
#define LREAD_REQ_SIZE 24
#define LREAD_REP_SIZE 48

enum lread_op { LREAD_HELLO = 1, LREAD_OPEN = 2 };
enum lread_status { LREAD_OK = 0, LREAD_NOT_HERE = 1, LREAD_BAD_REQUEST = 2, LREAD_ERROR = 3 };

_Static_assert(sizeof(LREAD_MAGIC) - 1 == 4, "magic is 4 bytes");
_Static_assert(20 + 4 == LREAD_REQ_SIZE, "request layout adds up");
_Static_assert(44 + 4 == LREAD_REP_SIZE, "reply layout adds up");

struct lread_req {
	unsigned op;
	uint64_t block_id;
};

struct lread_rep {
	unsigned status;
	uint64_t worker_id;
	uint64_t block_id;
	uint64_t data_offset;
	uint64_t len;
};

/* Writes exactly LREAD_REQ_SIZE bytes. */
void lread_req_encode(const struct lread_req *r, unsigned char out[LREAD_REQ_SIZE]);
/*
 * Parses a request of n bytes: 0, or -EBADMSG with what is wrong in err
 * (the size, magic, version, op, reserved field or CRC).
 */
int lread_req_decode(const unsigned char *in, size_t n, struct lread_req *out, char *err,
		     size_t errlen);

void lread_rep_encode(const struct lread_rep *r, unsigned char out[LREAD_REP_SIZE]);
/* As lread_req_decode, for a reply; an OK reply's range must not wrap. */
int lread_rep_decode(const unsigned char *in, size_t n, struct lread_rep *out, char *err,
		     size_t errlen);

#endif
