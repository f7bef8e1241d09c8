/*
 * Fuzzes the short-circuit read messages (lib/localread.h): what a worker
 * parses from any local client on worker.local_socket, and what strata-fuse
 * parses from the socket it connects to. Properties: no crash, and whatever
 * decodes re-encodes to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/localread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	struct lread_req req;
	if (lread_req_decode(data, size, &req, err, sizeof(err)) == 0) {
		unsigned char again[LREAD_REQ_SIZE];
		lread_req_encode(&req, again);
		if (size != LREAD_REQ_SIZE || memcmp(again, data, LREAD_REQ_SIZE) != 0)
			abort();
	} else if (!memchr(err, '\0', sizeof(err)) || !*err) {
		abort(); /* a refusal always says why */
	}
	struct lread_rep rep;
	if (lread_rep_decode(data, size, &rep, err, sizeof(err)) == 0) {
		unsigned char again[LREAD_REP_SIZE];
		lread_rep_encode(&rep, again);
		if (size != LREAD_REP_SIZE || memcmp(again, data, LREAD_REP_SIZE) != 0)
			abort();
	}
	return 0;
}
