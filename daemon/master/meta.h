#ifndef STRATA_MASTER_META_H
#define STRATA_MASTER_META_H

#include "daemon/master/ns.h"

#include <stddef.h>
#include <stdint.h>

struct cJSON;

/*
 * The master's metadata service: the one way to change the namespace.
 * meta_submit serializes a command, makes it durable in the log (today the
 * local journal, fsynced; with HA the Raft log) and applies it. Callers
 * never see which log it is, so Raft replaces the journal here only.
 *
 * Reads go through meta_read_lock/unlock around ns_* queries. All calls
 * are thread-safe; mutations are serialized.
 *
 * On open the state directory's namespace.db is opened and the journal
 * records it does not yet hold are replayed. Every `snapshot_every`
 * commands the database is checkpointed, copied to namespace.snapshot.db
 * and the journal compacted behind it.
 */
struct meta;

int meta_open(const char *state_dir, uint64_t snapshot_every, struct meta **out, char *err,
	      size_t errlen);
void meta_close(struct meta *m);

/* Makes `cmd` durable and applies it; returns the apply result (0 or a
 * negative errno with the reason in err). cmd is not consumed. */
int meta_submit(struct meta *m, const struct cJSON *cmd, char *err, size_t errlen);

/* Reserves a content id (data_id) for a file a worker is about to write,
 * durably (an alloc_data_id command), so ids never repeat. */
int meta_alloc_data_id(struct meta *m, uint64_t *id, char *err, size_t errlen);

/* Exclusive access to the namespace for reads (one SQLite connection). */
struct ns *meta_read_lock(struct meta *m);
void meta_read_unlock(struct meta *m);

uint64_t meta_applied_index(struct meta *m);

#endif
