/*
 * Fuzzes the decoders of what a master or worker replies to the typed
 * client (client/client.h) — the replies a worker parses from its master
 * (heartbeat peers, mounts and replication orders, file lookups, write grants) and what a
 * monitor parses (a worker's metrics, the metrics history). The first byte
 * picks the decoder, the rest is the reply body. Properties: no crash or
 * leak; a decoded reply keeps its invariants (counts within the array
 * sizes, mount paths absolute, 64-bit ids exact); a refusal says why.
 */
#include "client/client.h"
#include "client/decode.h"
#include "lib/err.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	cJSON *doc = cJSON_ParseWithLength((const char *)data + 1, size - 1);
	if (!doc)
		return 0;
	char err[512] = "";
	int rc;
	switch (data[0] % 5) {
	case 0: {
		struct client_heartbeat_reply r;
		rc = client_heartbeat_reply_decode(doc, &r, err, sizeof(err));
		if (rc == 0) {
			const cJSON *w = cJSON_GetObjectItemCaseSensitive(doc, "workers");
			check(r.npeers <= (size_t)cJSON_GetArraySize(w));
			for (size_t i = 0; i < r.npeers; i++)
				check(r.peers[i].host && r.peers[i].data_port >= 1 &&
				      r.peers[i].data_port <= 65535);
			for (size_t i = 0; i < r.nmounts; i++)
				check(r.mounts[i][0] == '/');
			const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "replicate");
			const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "drop");
			check(r.ncopies <= (size_t)cJSON_GetArraySize(c));
			check(r.ndrops <= (size_t)cJSON_GetArraySize(d));
			for (size_t i = 0; i < r.ncopies; i++)
				check(r.copies[i].path[0] == '/' && r.copies[i].source[0]);
			client_heartbeat_reply_clear(&r);
		}
		break;
	}
	case 1: {
		struct client_file_info f;
		rc = client_file_info_decode(doc, &f, err, sizeof(err));
		if (rc == 0) {
			check(f.path != NULL && f.block_size >= 1);
			client_file_info_clear(&f);
		}
		break;
	}
	case 2: {
		struct client_write_grant g;
		rc = client_write_grant_decode(doc, &g, err, sizeof(err));
		if (rc == 0) {
			check(g.block_size >= 1);
			client_write_grant_clear(&g);
		}
		break;
	}
	case 3: {
		struct client_worker_stats s;
		rc = client_worker_stats_decode(doc, &s, err, sizeof(err));
		if (rc == 0) {
			check(s.nmounts <= (size_t)cJSON_GetArraySize(
						   cJSON_GetObjectItemCaseSensitive(doc, "mounts")));
			for (size_t i = 0; i < s.ntiers; i++)
				check(s.tiers[i].name != NULL);
			client_worker_stats_clear(&s);
		}
		break;
	}
	default: {
		struct client_history h;
		rc = client_history_decode(doc, &h, err, sizeof(err));
		if (rc == 0)
			client_history_clear(&h);
		break;
	}
	}
	/* A refusal is a protocol error or out of memory, and says why. */
	if (rc)
		check(rc < 0 && (rc == -ENOMEM || err[0] != '\0'));
	cJSON_Delete(doc);
	return 0;
}
