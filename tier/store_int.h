#ifndef STRATA_TIER_STORE_INT_H
#define STRATA_TIER_STORE_INT_H

/*
 * Private to tier/: the store's state, shared by store.c (open, rescan,
 * room-making, metadata calls) and block.c (data paths). Fields marked
 * [lock] are guarded by store->lock; [atomic] ones are updated with
 * __atomic builtins without it; the rest are fixed after open.
 */

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tier/evict.h"
#include "tier/io.h"
#include "tier/map.h"
#include "tier/tier.h"

#define TIER_COPY_BUF (1u << 20)

struct tier_dir {
	char *path; /* owned */
	int dfd;    /* the directory, O_PATH (blocks are opened relative to it); -1 */
	uint64_t quota;
	uint64_t used;	   /* [lock] committed blocks + reservations of writers */
	int logged_errno;  /* [lock] last write error logged here; 0 after a success */
};

struct tier_level {
	enum tier_medium medium;
	unsigned ndirs;
	struct tier_dir dirs[TIER_MAX_DIRS];
	struct tier_policy *policy; /* owned; [lock] */
	uint64_t nblocks;	    /* [lock] */
	uint64_t hits;		    /* [lock] */
	uint64_t bytes_served;	    /* [atomic] */
	uint64_t bytes_written;	    /* [lock] */
	uint64_t demotions;	    /* [lock] */
	uint64_t promotions;	    /* [lock] blocks moved into this tier from below */
	uint64_t evictions;	    /* [lock] */
};

/* One cached block; owned by store->index. [lock] */
struct tier_block {
	uint64_t id;
	uint64_t len;
	uint32_t crc;
	unsigned level;
	unsigned dir;
	bool pinned;
	bool verified; /* data CRC checked since it came from a rescan */
	uint64_t gen;  /* changes whenever the block's file changes */
};

struct tier_store {
	pthread_mutex_t lock;
	unsigned nlevels;
	struct tier_level levels[TIER_MAX_LEVELS];
	struct tier_map index; /* [lock] id -> struct tier_block* (owned) */
	struct tier_io *io;    /* owned; used for SSD/HDD, never for MEM */
	int64_t (*now_ms)(void *ctx);
	void *now_ctx;
	int (*fault_inject_write)(void *ctx, uint64_t block_id);
	void *fault_ctx;
	unsigned char *copy_buf; /* owned; [lock] demotion copies */
	uint64_t next_gen;	 /* [lock] */
	tier_forget_fn forget_fn; /* [lock] tier_set_forget_hook */
	void *forget_arg;	  /* [lock] */
	uint64_t next_tmp_seq;	 /* [lock] */
	int nospace_logged;	 /* [lock] last "no room" error logged; 0 after a success */
	uint64_t hits, misses, evictions, demotions; /* [lock] */
	uint64_t promotions;			    /* [lock] */
	uint64_t checksum_failures, write_errors;   /* [lock] */
};

/* Called with the lock held unless said otherwise. */
int64_t store_now(struct tier_store *store);
struct tier_io *store_level_io(struct tier_store *store, unsigned level);
/* "<dir>/<name>" into out (PATH_MAX). */
void store_path(const struct tier_store *store, unsigned level, unsigned dir,
		const char *name, char *out);
void store_block_path(const struct tier_store *store, const struct tier_block *blk,
		      char *out);
/*
 * Makes room for need bytes in one directory of level, demoting or evicting
 * its coldest unpinned blocks; *dir gets that directory. -ENOSPC if it
 * cannot (everything left is pinned, or need exceeds every quota).
 */
int store_make_room(struct tier_store *store, unsigned level, uint64_t need, unsigned *dir);
/* Deletes blk's file and forgets it. blk is freed. */
void store_drop_block(struct tier_store *store, struct tier_block *blk);
/* Adds a new block to the index and its tier's policy. 0 or -ENOMEM. */
int store_index_add(struct tier_store *store, struct tier_block *blk, int64_t last_access,
		    uint64_t hits);
/* Counts a failed write and logs it unless the same error was logged last. */
void store_note_write_error(struct tier_store *store, struct tier_dir *dir, int rc,
			    const char *what, uint64_t id);
/*
 * Without the lock: a reader found block id (generation gen) corrupt. Drops
 * it if it is still that copy, counts and logs. Returns -EBADMSG.
 */
int store_report_corrupt(struct tier_store *store, uint64_t id, uint64_t gen);
/* Without the lock: marks block id verified if it is still generation gen. */
void store_mark_verified(struct tier_store *store, uint64_t id, uint64_t gen);

#endif
