#ifndef STRATA_MASTER_PEERS_H
#define STRATA_MASTER_PEERS_H

#include <stddef.h>
#include <stdint.h>

/*
 * master.peers: the masters of a Raft group, one list item each,
 *
 *   ID@RAFT_HOST:RAFT_PORT@REST_HOST:REST_PORT
 *
 * ID a decimal 1..2^63-1; hosts are names, IPv4 literals or bracketed IPv6
 * literals ("[::1]"); ports 1..65535; the REST part may start with
 * "http://" or "https://" (default http). Ids are unique, at most
 * PEERS_MAX entries. Pure: no resolution, no I/O.
 */
#define PEERS_MAX 9
#define PEERS_HOST_MAX 253

struct peer {
	uint64_t id;
	char raft_address[280]; /* "host:port", as written */
	char rest_url[320];     /* "http://host:port" (scheme added when absent) */
};

/*
 * Parses one item. Returns 0 or -EINVAL with the reason in err (which
 * names neither the key nor the item: the caller adds them).
 */
int peers_parse_one(const char *item, struct peer *out, char *err, size_t errlen);

/*
 * Parses every item of master.peers into out[] (capacity PEERS_MAX) and
 * checks the list: unique ids and, when self_id is nonzero, that self_id
 * is one of them. *n gets the count. Returns 0 or -EINVAL with a message
 * that names master.peers and the item.
 */
int peers_parse(char *const *items, size_t nitems, uint64_t self_id, struct peer *out,
		size_t *n, char *err, size_t errlen);

#endif
