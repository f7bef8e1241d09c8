#ifndef STRATA_MASTER_POLICY_H
#define STRATA_MASTER_POLICY_H

#include "daemon/master/journal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct events;
struct fs;
struct meta;

/*
 * Per-path policies (pin, TTL, replication, default write type) as an admin sets them: checks
 * a request, and proposes its journal command (set_pin, set_ttl,
 * set_replication; docs/namespace.md) only when it would change something,
 * so setting the same policy twice is a success that writes nothing.
 *
 * Errors name the request field (the REST body uses the command's field
 * names): -EINVAL "field 'medium': 'TAPE' is not MEM, SSD or HDD",
 * -ENOENT (the path does not exist; files of a store are loaded first),
 * -EROFS (a TTL that deletes, on a read-only mount or over one), or what
 * meta_submit returns.
 */
enum policy_kind { POLICY_PIN, POLICY_TTL, POLICY_REPLICATION, POLICY_WRITE_TYPE };

struct policy_req {
	enum policy_kind kind;
	char path[PATH_MAX_LEN + 1]; /* normal */
	bool recursive;
	/* POLICY_PIN */
	bool pinned;
	char medium[JOURNAL_MEDIUM_MAX + 1]; /* "": any */
	/* POLICY_TTL (ttl_ms 0: none) */
	int64_t ttl_ms;
	char action[JOURNAL_ACTION_MAX + 1];
	/* POLICY_REPLICATION */
	int64_t min, max;
	/* POLICY_PIN (pinning): the tier capacity of the live workers, bytes
	 * per medium (MEM, SSD, HDD, then every tier) from policy_fill_room.
	 * room_workers 0: no capacity known, no room check. */
	int64_t room_capacity[4];
	int room_workers;
	/* POLICY_WRITE_TYPE ("": none, i.e. CACHE_THROUGH) */
	char write_type[JOURNAL_WRITE_TYPE_MAX + 1];
};

/* now_ms: the proposer's wall clock (a TTL counts from it). *changed
 * (may be NULL) says whether a command was proposed.
 *
 * A pin that changes something is checked against the room it needs
 * (req->room_workers > 0): the bytes of the files it pins (recursive: the
 * subtree's) must fit in the capacity of the tiers of its medium or faster
 * (no medium: every tier) across the live workers, less what files outside
 * it already pin there (pins with a medium count against that medium and
 * slower ones' capacity; pins without one only against the any-tier
 * capacity). Otherwise -EDQUOT (REST: 409) with err saying how much is
 * needed and available, and nothing is proposed: never half-applied. */
int policy_set(struct fs *fs, struct meta *meta, const struct policy_req *req, int64_t now_ms,
	       bool *changed, char *err, size_t errlen);

/* Fills req->room_capacity and room_workers from the registry's live
 * workers' tier gauges (tier_<medium>_capacity_bytes of their heartbeat
 * counters). */
struct registry;
void policy_fill_room(struct registry *reg, struct policy_req *req);

/* The mount options "ttl" (a duration) and "ttl_action" (free|delete,
 * default delete): checked as fs_mount would record them. ttl NULL: no
 * default TTL (then ttl_action must be NULL too). */
int policy_check_mount_ttl(const char *ttl, const char *action, bool readonly, char *err,
			   size_t errlen);

/* The event (events.h) of an applied command: policy changes and TTL
 * firings (rc 0 only); other commands record nothing. */
void policy_record_event(struct events *ev, const struct journal_cmd *cmd, int rc,
			 int64_t now_ms);

#endif
