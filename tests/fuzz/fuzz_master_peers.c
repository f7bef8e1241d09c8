/* master.peers items (daemon/master/peers.c): any bytes as one item and,
 * split at commas, as a list. What parses must be well formed: a nonzero
 * id, "host:port" fields that re-parse to the same entry. */
#include "daemon/master/peers.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char err[512];
	struct peer p;
	if (peers_parse_one(text, &p, err, sizeof(err)) == 0) {
		if (p.id == 0 || !strchr(p.raft_address, ':') ||
		    (strncmp(p.rest_url, "http://", 7) != 0 && strncmp(p.rest_url, "https://", 8) != 0))
			abort();
		/* The canonical form parses to the same entry. */
		char again[700];
		struct peer q;
		snprintf(again, sizeof(again), "%llu@%s@%s", (unsigned long long)p.id,
			 p.raft_address, p.rest_url);
		if (peers_parse_one(again, &q, err, sizeof(err)) != 0 || memcmp(&p, &q, sizeof(p)))
			abort();
	}
	char *items[PEERS_MAX + 2];
	size_t n = 0;
	for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok && n < PEERS_MAX + 2;
	     tok = strtok_r(NULL, ",", &save))
		items[n++] = tok;
	struct peer out[PEERS_MAX];
	size_t got;
	if (peers_parse(items, n, 1, out, &got, err, sizeof(err)) == 0) {
		if (got != n || got > PEERS_MAX)
			abort();
		for (size_t i = 0; i < got; i++)
			for (size_t j = 0; j < i; j++)
				if (out[i].id == out[j].id)
					abort();
	}
	free(text);
	return 0;
}
