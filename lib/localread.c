#include "lib/localread.h"

#include "lib/crc32c.h"
#include "lib/le.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The checks both messages share: size, magic, version, reserved, CRC.
 * The CRC covers the message up to its last 4 bytes; reserved sits
 * just before it. */
static int check_frame(const unsigned char *in, size_t n, size_t size, const char *what,
		       char *err, size_t errlen)
{
	if (n != size) {
		snprintf(err, errlen, "%s: %zu bytes where %zu were expected", what, n, size);
		return -EBADMSG;
	}
	if (memcmp(in, LREAD_MAGIC, 4) != 0) {
		snprintf(err, errlen, "%s: bad magic", what);
		return -EBADMSG;
	}
	if (le_get(in + size - 4, 4) != crc32c(0, in, size - 4)) {
		snprintf(err, errlen, "%s: bad CRC", what);
		return -EBADMSG;
	}
	uint64_t version = le_get(in + 4, 2);
	if (version != LREAD_VERSION) {
		snprintf(err, errlen, "%s: version %llu (this side speaks %d)", what,
			 (unsigned long long)version, LREAD_VERSION);
		return -EBADMSG;
	}
	if (le_get(in + size - 8, 4) != 0) {
		snprintf(err, errlen, "%s: reserved field is not 0", what);
		return -EBADMSG;
	}
	return 0;
}

/* What check_frame checks, written: magic, version and the op or status
 * at the front; reserved (0) and the CRC at the end of size bytes. */
static void frame_open(unsigned char *out, unsigned code)
{
	memcpy(out, LREAD_MAGIC, 4);
	le_put(out + 4, LREAD_VERSION, 2);
	le_put(out + 6, code, 2);
}

static void frame_seal(unsigned char *out, size_t size)
{
	le_put(out + size - 8, 0, 4);
	le_put(out + size - 4, crc32c(0, out, size - 4), 4);
}

void lread_req_encode(const struct lread_req *r, unsigned char out[LREAD_REQ_SIZE])
{
	frame_open(out, r->op);
	le_put(out + 8, r->block_id, 8);
	frame_seal(out, LREAD_REQ_SIZE);
}

int lread_req_decode(const unsigned char *in, size_t n, struct lread_req *out, char *err,
		     size_t errlen)
{
	int rc = check_frame(in, n, LREAD_REQ_SIZE, "request", err, errlen);
	if (rc)
		return rc;
	unsigned op = (unsigned)le_get(in + 6, 2);
	uint64_t id = le_get(in + 8, 8);
	if (op != LREAD_HELLO && op != LREAD_OPEN) {
		snprintf(err, errlen, "request: unknown op %u", op);
		return -EBADMSG;
	}
	if (op == LREAD_HELLO && id != 0) {
		snprintf(err, errlen, "request: HELLO with a block id");
		return -EBADMSG;
	}
	out->op = op;
	out->block_id = id;
	return 0;
}

void lread_rep_encode(const struct lread_rep *r, unsigned char out[LREAD_REP_SIZE])
{
	frame_open(out, r->status);
	le_put(out + 8, r->worker_id, 8);
	le_put(out + 16, r->block_id, 8);
	le_put(out + 24, r->data_offset, 8);
	le_put(out + 32, r->len, 8);
	frame_seal(out, LREAD_REP_SIZE);
}

int lread_rep_decode(const unsigned char *in, size_t n, struct lread_rep *out, char *err,
		     size_t errlen)
{
	int rc = check_frame(in, n, LREAD_REP_SIZE, "reply", err, errlen);
	if (rc)
		return rc;
	struct lread_rep r = {
		.status = (unsigned)le_get(in + 6, 2),
		.worker_id = le_get(in + 8, 8),
		.block_id = le_get(in + 16, 8),
		.data_offset = le_get(in + 24, 8),
		.len = le_get(in + 32, 8),
	};
	if (r.status > LREAD_ERROR) {
		snprintf(err, errlen, "reply: unknown status %u", r.status);
		return -EBADMSG;
	}
	/* Both are file offsets (off_t) on the client's side. */
	if (r.status == LREAD_OK &&
	    (r.data_offset > INT64_MAX || r.len > INT64_MAX - r.data_offset)) {
		snprintf(err, errlen, "reply: range past the largest file offset");
		return -EBADMSG;
	}
	*out = r;
	return 0;
}
