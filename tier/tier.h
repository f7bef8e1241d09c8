#ifndef STRATA_TIER_TIER_H
#define STRATA_TIER_TIER_H

/*
 * The tiered block store: a worker's cache of file blocks in ordered tiers
 * (typically MEM, SSD, HDD). Each tier is one or more directories with a
 * quota in bytes; a block is one file in one directory.
 *
 * Placement: a new block lands in the highest tier that can make room for
 * it. A tier makes room by moving its coldest unpinned blocks one tier down
 * (demotion); the lowest tier evicts them. If a block cannot be demoted (the
 * tier below is full of pinned blocks, or the copy fails) it is evicted
 * instead: the store is a cache, the UFS holds the data. Coldness is decided
 * by the configured policy (LRU by default, or LFU), one policy instance per
 * tier. Pinned blocks are never demoted or evicted; a tier full of pinned
 * blocks refuses new blocks (-ENOSPC) and the next tier is tried.
 *
 * Persistence: on open the MEM tiers are emptied; SSD/HDD tiers are rescanned
 * and their blocks served again; temp files of interrupted writes and files
 * with a bad header are deleted. Pins, access history and counters are not
 * persisted.
 *
 * Integrity: every block file starts with a 32-byte header carrying the
 * block id, length and the CRC32C of the data (layout: tier/format.h and
 * docs/tier.md). MEM blocks are trusted. A block on SSD/HDD is verified in
 * full on its first read after it was found by a rescan, on every read that
 * covers the whole block, and when it is demoted; range reads of a verified
 * block are not re-verified (that would read the whole block for every small
 * range). A block that fails verification is deleted, counted in
 * checksum_failures, and the read returns -EBADMSG: the caller re-reads the
 * data from the UFS and may put it again.
 *
 * Errors: every int function returns 0 or a negative errno. Functions with
 * an err buffer write a one-line human message into it on failure (err may
 * be NULL when errlen is 0).
 *
 * Thread safety: every function may be called from any thread. One mutex
 * per store guards the index, the policies and the accounting; block data is
 * read and written outside it, except that demotions copy data while holding
 * it. The lock order is store lock -> I/O ring lock; nothing else nests.
 *
 * Readers and removal: files are never modified in place. Remove, eviction
 * and demotion unlink a block's file; a reader that already holds an fd
 * (tier_block_read in progress, or tier_block_open_fd) keeps reading the
 * complete old copy (POSIX unlink semantics). On a MEM tier the space of
 * such an unlinked file is freed by the kernel only when the last fd closes,
 * so long-held fds can make tmpfs use exceed the quota for a while.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TIER_MAX_LEVELS 4
#define TIER_MAX_DIRS 8

enum tier_medium {
	TIER_MEDIUM_MEM, /* tmpfs; emptied on open, trusted on read, plain pread/pwrite */
	TIER_MEDIUM_SSD, /* persistent; io_uring I/O; verified */
	TIER_MEDIUM_HDD, /* same as SSD; only the name differs */
};

enum tier_policy_kind {
	TIER_POLICY_LRU, /* least recently used first */
	TIER_POLICY_LFU, /* fewest accesses first, ties: least recently used */
};

enum tier_io_mode {
	TIER_IO_AUTO,  /* io_uring if a ring can be made, else pread/pwrite */
	TIER_IO_URING, /* io_uring or fail tier_store_open with the ring's error */
	TIER_IO_SYNC,  /* pread/pwrite only */
};

struct tier_dir_config {
	const char *path; /* borrowed; copied by tier_store_open. Created if missing. */
	uint64_t quota;	  /* bytes of block data (headers not counted); > 0 */
};

struct tier_level_config {
	enum tier_medium medium;
	unsigned ndirs; /* 1..TIER_MAX_DIRS */
	struct tier_dir_config dirs[TIER_MAX_DIRS];
};

/*
 * The caller fills this (the daemon maps its config keys onto it); zero
 * values of the optional fields mean the defaults. levels[0] is the highest
 * (fastest) tier. The environment variable STRATA_TIER_IO=sync forces
 * TIER_IO_SYNC whatever io_mode says (for tests and broken kernels).
 */
struct tier_config {
	unsigned nlevels; /* 1..TIER_MAX_LEVELS */
	struct tier_level_config levels[TIER_MAX_LEVELS];
	enum tier_policy_kind policy;
	enum tier_io_mode io_mode;
	unsigned uring_depth; /* SQEs per ring; default 16 */
	unsigned nrings;      /* rings shared by all threads; default 4 */
	/* Clock for the policies, in ms; default clock_mono_ms. */
	int64_t (*now_ms)(void *ctx);
	void *now_ctx;
	/*
	 * Fault injection, for tests only: when set it is called before each
	 * data write of a block; a negative errno return makes that write fail
	 * as if the device had returned it.
	 */
	int (*fault_inject_write)(void *ctx, uint64_t block_id);
	void *fault_ctx;
};

struct tier_store;

/*
 * Opens the store: validates cfg, creates missing directories, empties MEM
 * directories, rescans SSD/HDD directories and enforces quotas on what it
 * found. cfg is only read during the call. On success *out is owned by the
 * caller and released with tier_store_close.
 */
int tier_store_open(const struct tier_config *cfg, struct tier_store **out, char *err,
		    size_t errlen);
/* Frees the store. Block files stay on disk. No call may be in flight. */
void tier_store_close(struct tier_store *store);

/*
 * Stores a complete block. -EEXIST if the id is cached already (remove it
 * first to replace it), -ENOSPC if no tier can make room, or the I/O error.
 * data is borrowed for the call.
 */
int tier_block_put(struct tier_store *store, uint64_t id, const void *data, size_t len,
		   char *err, size_t errlen);
/* The same, starting at the highest disk tier (SSD/HDD: it survives a
 * restart) when there is one: for blocks no store holds a copy of (content
 * not persisted yet). */
int tier_block_put_durable(struct tier_store *store, uint64_t id, const void *data, size_t len,
			   char *err, size_t errlen);

/*
 * Streaming write of a block of known length: begin reserves the space
 * (making room as put does), write appends, commit makes the block visible.
 * commit and abort free the writer whatever they return; a writer that is
 * neither committed nor aborted leaks its reservation. commit fails with
 * -EINVAL if fewer or more than len bytes were written.
 */
struct tier_writer;
int tier_writer_begin(struct tier_store *store, uint64_t id, uint64_t len,
		      struct tier_writer **out, char *err, size_t errlen);
/* tier_writer_begin starting at the highest disk tier (see
 * tier_block_put_durable). */
int tier_writer_begin_durable(struct tier_store *store, uint64_t id, uint64_t len,
			      struct tier_writer **out, char *err, size_t errlen);
int tier_writer_write(struct tier_writer *w, const void *data, size_t n, char *err,
		      size_t errlen);
int tier_writer_commit(struct tier_writer *w, char *err, size_t errlen);
void tier_writer_abort(struct tier_writer *w);

/*
 * Reads up to len bytes of block id starting at offset into buf. Returns
 * the number of bytes read (0 if offset >= block length), -ENOENT if the
 * block is not cached (a miss), -EBADMSG if it failed verification (it is
 * dropped), or an I/O error. Counts a hit or a miss.
 */
ssize_t tier_block_read(struct tier_store *store, uint64_t id, uint64_t offset, void *buf,
			size_t len);

/*
 * Zero-copy access for the data server: an fd open on the block file whose
 * bytes [data_offset, data_offset + len) are the block (e.g. for sendfile).
 * The caller owns fd and closes it; it stays valid after the block is
 * removed, evicted or demoted. A block not yet verified since rescan is
 * verified first (-EBADMSG as for read). Counts a hit (bytes served: len) or
 * a miss.
 */
struct tier_block_fd {
	int fd;
	uint64_t data_offset;
	uint64_t len;
	unsigned tier; /* index into cfg.levels */
	uint64_t gen;  /* which file of the block this is (for tier_block_touch) */
	uint32_t crc;  /* CRC32C of the block's len data bytes */
	bool check;    /* a disk tier's block: a reader of it whole checks crc */
};
int tier_block_open_fd(struct tier_store *store, uint64_t id, struct tier_block_fd *out);

/*
 * A reader of a block through tier_block_open_fd found it does not match
 * its crc: drops the block if it is still generation gen, counts a
 * checksum failure and logs it. Returns -EBADMSG.
 */
int tier_block_report_corrupt(struct tier_store *store, uint64_t id, uint64_t gen);

/*
 * For a caller that keeps fds from tier_block_open_fd open between reads
 * (an fd cache): counts one more read of block id through the fd it holds,
 * exactly as tier_block_open_fd counts one (hit, bytes served, the policy's
 * access), without opening anything. 0; -ENOENT if the block is no longer
 * cached, -ESTALE if its file changed since (demoted, or removed and put
 * again): then nothing is counted and the caller should close its fd (which
 * may hold an unlinked file's space) and open the block again.
 */
int tier_block_touch(struct tier_store *store, uint64_t id, uint64_t gen);

/*
 * For a caller that keeps block fds open (an fd cache): fn is told, under
 * the store's lock (it must not call into the store), each time block id's
 * file of generation gen stops being the block: evicted, removed, moved to
 * another tier, dropped as corrupt or vanished. The caller can then close
 * its fd at once instead of holding an unlinked file's space. One hook per
 * store; fn NULL removes it. Once this returns the old hook is not running
 * and is not called again.
 */
typedef void (*tier_forget_fn)(void *arg, uint64_t id, uint64_t gen);
void tier_set_forget_hook(struct tier_store *store, tier_forget_fn fn, void *arg);

/* true if the block is cached; *tier (may be NULL) gets its tier index. */
bool tier_block_exists(struct tier_store *store, uint64_t id, unsigned *tier);
/* Deletes a cached block, pinned or not. -ENOENT if absent. */
int tier_block_remove(struct tier_store *store, uint64_t id);
/* Pins or unpins a cached block (idempotent). -ENOENT if absent. */
int tier_block_pin(struct tier_store *store, uint64_t id, bool pinned);
/*
 * Moves a cached block up into the highest tier with index <= max_tier
 * that can make room for it (as a new block would land), if it sits
 * below max_tier; pinned or not, it keeps its pin and its history. For a
 * pin's or a load's medium. 0 (also when it already sits there), -ENOENT
 * if absent, -ENOSPC if no tier up there can make room (the block stays
 * where it is), -EBADMSG if it failed its checksum (dropped), or the I/O
 * error of the copy.
 */
int tier_block_raise(struct tier_store *store, uint64_t id, unsigned max_tier);
/* The index of the lowest tier whose medium is medium or faster (MEM >
 * SSD > HDD): the max_tier for tier_block_raise. -ENOENT if none is. */
int tier_level_of_medium(struct tier_store *store, enum tier_medium medium);
/* "MEM", "SSD", "HDD" (as tier_medium_name gives them); -EINVAL else. */
int tier_medium_parse(const char *name, enum tier_medium *out);

struct tier_level_stats {
	enum tier_medium medium;
	uint64_t capacity;	/* sum of the dirs' quotas */
	uint64_t used;		/* block data bytes, including writes in progress */
	uint64_t nblocks;
	uint64_t hits;		/* reads and open_fds served from this tier */
	uint64_t bytes_served;
	uint64_t bytes_written; /* by puts and demotions into this tier */
	uint64_t demotions;	/* blocks moved out of this tier to the next */
	uint64_t promotions;	/* blocks moved up into this tier (tier_block_raise) */
	uint64_t evictions;	/* blocks dropped from this tier to make room */
};

struct tier_stats {
	unsigned nlevels;
	struct tier_level_stats levels[TIER_MAX_LEVELS];
	uint64_t hits;
	uint64_t misses;
	uint64_t evictions;
	uint64_t demotions;
	uint64_t promotions;
	uint64_t checksum_failures; /* blocks dropped on read, demotion or rescan */
	uint64_t write_errors;	    /* puts/writers that failed (no room or I/O) */
	bool io_uring;		    /* SSD/HDD I/O goes through io_uring */
};

void tier_stats_get(struct tier_store *store, struct tier_stats *out);

struct tier_block_info {
	uint64_t id;
	uint64_t len;
	unsigned tier;
	bool pinned;
};

/*
 * A snapshot of all cached blocks (for heartbeats), in no particular order.
 * On success *out is a malloc'd array of *n entries the caller frees (NULL
 * when *n is 0).
 */
int tier_blocks_list(struct tier_store *store, struct tier_block_info **out, size_t *n);

const char *tier_medium_name(enum tier_medium medium);

#endif
