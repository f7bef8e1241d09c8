#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/crc32c.h"
#include "lib/log.h"
#include "lib/mutex.h"
#include "tier/format.h"
#include "tier/store_int.h"
#include "tier/tier.h"

const char *tier_medium_name(enum tier_medium medium)
{
	switch (medium) {
	case TIER_MEDIUM_MEM:
		return "MEM";
	case TIER_MEDIUM_SSD:
		return "SSD";
	case TIER_MEDIUM_HDD:
		return "HDD";
	}
	return "?";
}

static int64_t default_now(void *ctx)
{
	(void)ctx;
	return clock_mono_ms();
}

int64_t store_now(struct tier_store *store)
{
	return store->now_ms(store->now_ctx);
}

struct tier_io *store_level_io(struct tier_store *store, unsigned level)
{
	return store->levels[level].medium == TIER_MEDIUM_MEM ? NULL : store->io;
}

void store_path(const struct tier_store *store, unsigned level, unsigned dir,
		const char *name, char *out)
{
	snprintf(out, PATH_MAX, "%s/%s", store->levels[level].dirs[dir].path, name);
}

void store_block_path(const struct tier_store *store, const struct tier_block *blk, char *out)
{
	char name[TIER_NAME_MAX];
	tier_name_block(blk->id, name);
	store_path(store, blk->level, blk->dir, name, out);
}

static uint64_t dir_free(const struct tier_dir *d)
{
	return d->used >= d->quota ? 0 : d->quota - d->used;
}

static void index_forget(struct tier_store *store, struct tier_block *blk)
{
	struct tier_level *lvl = &store->levels[blk->level];
	lvl->dirs[blk->dir].used -= blk->len;
	lvl->nblocks--;
	tier_policy_remove(lvl->policy, blk->id);
	tier_map_del(&store->index, blk->id);
	if (store->forget_fn)
		store->forget_fn(store->forget_arg, blk->id, blk->gen);
}

void tier_set_forget_hook(struct tier_store *store, tier_forget_fn fn, void *arg)
{
	pthread_mutex_lock(&store->lock);
	store->forget_fn = fn;
	store->forget_arg = arg;
	pthread_mutex_unlock(&store->lock);
}

void store_drop_block(struct tier_store *store, struct tier_block *blk)
{
	char path[PATH_MAX];
	store_block_path(store, blk, path);
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("tier: unlink %s: %s", path, strerror(errno));
	index_forget(store, blk);
	free(blk);
}

int store_index_add(struct tier_store *store, struct tier_block *blk, int64_t last_access,
		    uint64_t hits)
{
	struct tier_level *lvl = &store->levels[blk->level];
	int rc = tier_policy_insert(lvl->policy, blk->id, last_access, hits, blk->pinned);
	if (rc < 0)
		return rc;
	rc = tier_map_put(&store->index, blk->id, blk);
	if (rc < 0) {
		tier_policy_remove(lvl->policy, blk->id);
		return rc;
	}
	blk->gen = store->next_gen++;
	lvl->dirs[blk->dir].used += blk->len;
	lvl->nblocks++;
	return 0;
}

void store_note_write_error(struct tier_store *store, struct tier_dir *dir, int rc,
			    const char *what, uint64_t id)
{
	store->write_errors++;
	int *logged = dir ? &dir->logged_errno : &store->nospace_logged;
	if (*logged == rc)
		return;
	*logged = rc;
	log_error("tier: %s of block %016" PRIx64 " failed in %s: %s (further identical "
		  "errors not logged until a write succeeds)",
		  what, id, dir ? dir->path : "every tier", strerror(-rc));
}

int store_report_corrupt(struct tier_store *store, uint64_t id, uint64_t gen)
{
	pthread_mutex_lock(&store->lock);
	struct tier_block *blk = tier_map_get(&store->index, id);
	if (blk && blk->gen == gen) {
		char path[PATH_MAX];
		store_block_path(store, blk, path);
		log_warn("tier: block %016" PRIx64 " in %s failed its checksum; dropped", id,
			 path);
		store->checksum_failures++;
		store_drop_block(store, blk);
	}
	pthread_mutex_unlock(&store->lock);
	return -EBADMSG;
}

void store_mark_verified(struct tier_store *store, uint64_t id, uint64_t gen)
{
	pthread_mutex_lock(&store->lock);
	struct tier_block *blk = tier_map_get(&store->index, id);
	if (blk && blk->gen == gen)
		blk->verified = true;
	pthread_mutex_unlock(&store->lock);
}

/*
 * Copies blk's file into a temp file in level to/dir dst_dir, checking the
 * data CRC on the way, then renames it into place. The source stays. 0,
 * -EBADMSG if the source is corrupt, or an I/O error.
 */
static int copy_block(struct tier_store *store, const struct tier_block *blk, unsigned to,
		      unsigned dst_dir)
{
	int rc;
	char src_path[PATH_MAX], tmp_path[PATH_MAX], dst_path[PATH_MAX], name[TIER_NAME_MAX];
	struct tier_io *src_io = store_level_io(store, blk->level);
	struct tier_io *dst_io = store_level_io(store, to);

	store_block_path(store, blk, src_path);
	int src_fd = open(src_path, O_RDONLY | O_CLOEXEC);
	if (src_fd < 0) {
		rc = -errno;
		goto out;
	}
	tier_name_temp(blk->id, (long)getpid(), store->next_tmp_seq++, name);
	store_path(store, to, dst_dir, name, tmp_path);
	int dst_fd = open(tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (dst_fd < 0) {
		rc = -errno;
		goto err_close_src;
	}
	uint32_t crc = 0;
	for (uint64_t pos = 0; pos < blk->len;) {
		size_t chunk = blk->len - pos < TIER_COPY_BUF ? blk->len - pos : TIER_COPY_BUF;
		ssize_t got = tier_io_read(src_io, src_fd, store->copy_buf, chunk,
					   TIER_HDR_SIZE + pos);
		if (got < 0) {
			rc = (int)got;
			goto err_unlink_tmp;
		}
		if ((size_t)got < chunk) {
			rc = -EBADMSG; /* truncated */
			goto err_unlink_tmp;
		}
		crc = crc32c(crc, store->copy_buf, chunk);
		if (store->fault_inject_write) {
			rc = store->fault_inject_write(store->fault_ctx, blk->id);
			if (rc < 0)
				goto err_unlink_tmp;
		}
		rc = tier_io_write(dst_io, dst_fd, store->copy_buf, chunk, TIER_HDR_SIZE + pos);
		if (rc < 0)
			goto err_unlink_tmp;
		pos += chunk;
	}
	if (crc != blk->crc) {
		rc = -EBADMSG;
		goto err_unlink_tmp;
	}
	unsigned char hdr_bytes[TIER_HDR_SIZE];
	struct tier_block_hdr hdr = { .id = blk->id, .len = blk->len, .data_crc = blk->crc };
	tier_hdr_encode(&hdr, hdr_bytes);
	rc = tier_io_write(dst_io, dst_fd, hdr_bytes, TIER_HDR_SIZE, 0);
	if (rc < 0)
		goto err_unlink_tmp;
	if (close(dst_fd) < 0) {
		dst_fd = -1;
		rc = -errno;
		goto err_unlink_tmp;
	}
	dst_fd = -1;
	tier_name_block(blk->id, name);
	store_path(store, to, dst_dir, name, dst_path);
	if (rename(tmp_path, dst_path) < 0) {
		rc = -errno;
		goto err_unlink_tmp;
	}
	rc = 0;
	goto err_close_src;

err_unlink_tmp:
	if (dst_fd >= 0)
		close(dst_fd);
	unlink(tmp_path);
err_close_src:
	close(src_fd);
out:
	return rc;
}

/*
 * Moves blk from its level to level `to` (the next one down for a
 * demotion, a higher one for tier_block_raise), keeping its policy
 * history. *gone: blk was dropped and freed (it failed its checksum:
 * -EBADMSG; or no memory to index the copy: 0 for a demotion, whose room
 * is made either way, -ENOMEM for a promotion). On other errors it is
 * untouched.
 */
static int move_block(struct tier_store *store, struct tier_block *blk, unsigned to, bool *gone)
{
	*gone = false;
	unsigned from = blk->level;
	unsigned dst_dir;
	int rc = store_make_room(store, to, blk->len, &dst_dir);
	if (rc < 0)
		return rc;
	struct tier_dir *dst = &store->levels[to].dirs[dst_dir];
	dst->used += blk->len; /* reserved while copying */
	rc = copy_block(store, blk, to, dst_dir);
	dst->used -= blk->len;
	if (rc == -EBADMSG) {
		log_warn("tier: block %016" PRIx64 " failed its checksum while being moved; "
			 "dropped",
			 blk->id);
		store->checksum_failures++;
		store_drop_block(store, blk);
		*gone = true;
		return rc;
	}
	if (rc < 0) {
		store_note_write_error(store, dst, rc, to > from ? "demotion" : "promotion",
				       blk->id);
		return rc;
	}
	int64_t last_access = 0;
	uint64_t hits = 0;
	tier_policy_info(store->levels[from].policy, blk->id, &last_access, &hits);

	char src_path[PATH_MAX];
	store_block_path(store, blk, src_path);
	if (unlink(src_path) < 0 && errno != ENOENT)
		log_warn("tier: unlink %s: %s", src_path, strerror(errno));
	index_forget(store, blk);
	blk->level = to;
	blk->dir = dst_dir;
	blk->verified = true; /* the copy checked the CRC */
	rc = store_index_add(store, blk, last_access, hits);
	if (rc < 0) {
		/* Out of memory: the new file exists but cannot be indexed. */
		char dst_path[PATH_MAX];
		store_block_path(store, blk, dst_path);
		unlink(dst_path);
		free(blk);
		*gone = true;
		return to > from ? 0 : -ENOMEM;
	}
	store->levels[to].bytes_written += blk->len;
	if (to > from) {
		store->levels[from].demotions++;
		store->demotions++;
	} else {
		store->levels[to].promotions++;
		store->promotions++;
	}
	return 0;
}

static int demote_block(struct tier_store *store, struct tier_block *blk)
{
	bool gone;
	return move_block(store, blk, blk->level + 1, &gone);
}

/* Removes blk from its level: down one level if it can go, else out. */
static void move_down(struct tier_store *store, struct tier_block *blk)
{
	unsigned from = blk->level;
	if (from + 1 < store->nlevels) {
		int rc = demote_block(store, blk);
		if (rc == 0 || rc == -EBADMSG)
			return;
		log_debug("tier: cannot demote block %016" PRIx64 " (%s); evicting it", blk->id,
			  strerror(-rc));
	}
	store->levels[from].evictions++;
	store->evictions++;
	store_drop_block(store, blk);
}

int store_make_room(struct tier_store *store, unsigned level, uint64_t need, unsigned *dir)
{
	struct tier_level *lvl = &store->levels[level];
	uint64_t max_quota = 0;
	for (unsigned d = 0; d < lvl->ndirs; d++) {
		if (lvl->dirs[d].quota > max_quota)
			max_quota = lvl->dirs[d].quota;
	}
	if (need > max_quota)
		return -ENOSPC; /* would never fit: do not empty the tier for nothing */
	for (;;) {
		unsigned best = 0;
		for (unsigned d = 1; d < lvl->ndirs; d++) {
			if (dir_free(&lvl->dirs[d]) > dir_free(&lvl->dirs[best]))
				best = d;
		}
		if (dir_free(&lvl->dirs[best]) >= need) {
			*dir = best;
			return 0;
		}
		uint64_t victim_id;
		if (tier_policy_victim(lvl->policy, &victim_id) < 0)
			return -ENOSPC;
		move_down(store, tier_map_get(&store->index, victim_id));
	}
}

static int validate_config(const struct tier_config *cfg, char *err, size_t errlen)
{
	if (cfg->nlevels < 1 || cfg->nlevels > TIER_MAX_LEVELS) {
		snprintf(err, errlen, "tier: %u tiers configured, need 1..%d", cfg->nlevels,
			 TIER_MAX_LEVELS);
		return -EINVAL;
	}
	if (cfg->policy != TIER_POLICY_LRU && cfg->policy != TIER_POLICY_LFU) {
		snprintf(err, errlen, "tier: unknown eviction policy %d", (int)cfg->policy);
		return -EINVAL;
	}
	if (cfg->io_mode != TIER_IO_AUTO && cfg->io_mode != TIER_IO_URING &&
	    cfg->io_mode != TIER_IO_SYNC) {
		snprintf(err, errlen, "tier: unknown io mode %d", (int)cfg->io_mode);
		return -EINVAL;
	}
	for (unsigned l = 0; l < cfg->nlevels; l++) {
		const struct tier_level_config *lc = &cfg->levels[l];
		if (lc->medium != TIER_MEDIUM_MEM && lc->medium != TIER_MEDIUM_SSD &&
		    lc->medium != TIER_MEDIUM_HDD) {
			snprintf(err, errlen, "tier %u: unknown medium %d", l, (int)lc->medium);
			return -EINVAL;
		}
		if (lc->ndirs < 1 || lc->ndirs > TIER_MAX_DIRS) {
			snprintf(err, errlen, "tier %u (%s): %u directories, need 1..%d", l,
				 tier_medium_name(lc->medium), lc->ndirs, TIER_MAX_DIRS);
			return -EINVAL;
		}
		for (unsigned d = 0; d < lc->ndirs; d++) {
			const struct tier_dir_config *dc = &lc->dirs[d];
			if (!dc->path || !dc->path[0]) {
				snprintf(err, errlen, "tier %u (%s): directory %u has no path", l,
					 tier_medium_name(lc->medium), d);
				return -EINVAL;
			}
			if (strlen(dc->path) > PATH_MAX - TIER_NAME_MAX - 2) {
				snprintf(err, errlen, "tier %u: path too long: %.64s...", l,
					 dc->path);
				return -ENAMETOOLONG;
			}
			if (dc->quota == 0) {
				snprintf(err, errlen, "tier %u (%s): quota of %s is 0", l,
					 tier_medium_name(lc->medium), dc->path);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Creates path if missing; *st gets its identity. */
static int ensure_dir(const char *path, struct stat *st, char *err, size_t errlen)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		int rc = -errno;
		snprintf(err, errlen, "tier: mkdir %s: %s", path, strerror(errno));
		return rc;
	}
	if (stat(path, st) < 0) {
		int rc = -errno;
		snprintf(err, errlen, "tier: stat %s: %s", path, strerror(errno));
		return rc;
	}
	if (!S_ISDIR(st->st_mode)) {
		snprintf(err, errlen, "tier: %s is not a directory", path);
		return -ENOTDIR;
	}
	return 0;
}

/* A block found by the rescan, before it joins its policy in mtime order. */
struct scan_item {
	struct tier_block *blk;
	int64_t mtime_ns;
};

struct scan_list {
	struct scan_item *items;
	size_t n, cap;
};

/* Reads and checks the header of a .blk file. 0 or -EBADMSG / -errno. */
static int check_block_file(int dirfd, const char *name, uint64_t id,
			    struct tier_block_hdr *hdr, int64_t *mtime_ns)
{
	int rc;
	unsigned char bytes[TIER_HDR_SIZE];
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EBADMSG;
		goto out_close;
	}
	ssize_t got = pread(fd, bytes, sizeof(bytes), 0);
	if (got < 0) {
		rc = -errno;
		goto out_close;
	}
	rc = tier_hdr_decode(bytes, (size_t)got, hdr);
	if (rc < 0)
		goto out_close;
	if (hdr->id != id || (uint64_t)st.st_size != TIER_HDR_SIZE + hdr->len) {
		rc = -EBADMSG;
		goto out_close;
	}
	*mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
out_close:
	close(fd);
	return rc;
}

/*
 * Scans one directory: temp files go; MEM blocks go; SSD/HDD blocks with a
 * good header are indexed (not yet in the policy) and appended to list.
 */
static int scan_dir(struct tier_store *store, unsigned level, unsigned dir,
		    struct scan_list *list, char *err, size_t errlen)
{
	int rc = 0;
	struct tier_dir *d = &store->levels[level].dirs[dir];
	bool is_mem = store->levels[level].medium == TIER_MEDIUM_MEM;
	DIR *dh = opendir(d->path);
	if (!dh) {
		rc = -errno;
		snprintf(err, errlen, "tier: opendir %s: %s", d->path, strerror(errno));
		return rc;
	}
	struct dirent *de;
	while ((de = readdir(dh)) != NULL) {
		uint64_t id;
		enum tier_name_kind kind = tier_name_parse(de->d_name, &id);
		if (kind == TIER_NAME_OTHER)
			continue;
		if (kind == TIER_NAME_TEMP || is_mem) {
			if (kind == TIER_NAME_TEMP)
				log_info("tier: removing temp file %s/%s of an interrupted write",
					 d->path, de->d_name);
			unlinkat(dirfd(dh), de->d_name, 0);
			continue;
		}
		struct tier_block_hdr hdr;
		int64_t mtime_ns = 0;
		int crc = check_block_file(dirfd(dh), de->d_name, id, &hdr, &mtime_ns);
		if (crc < 0 || tier_map_get(&store->index, id)) {
			log_warn("tier: removing %s/%s: %s", d->path, de->d_name,
				 crc < 0 ? "bad header or size" : "duplicate of a higher copy");
			if (crc < 0)
				store->checksum_failures++;
			unlinkat(dirfd(dh), de->d_name, 0);
			continue;
		}
		if (list->n == list->cap) {
			size_t ncap = list->cap ? list->cap * 2 : 64;
			struct scan_item *nitems = realloc(list->items, ncap * sizeof(*nitems));
			if (!nitems) {
				rc = -ENOMEM;
				goto out_closedir;
			}
			list->items = nitems;
			list->cap = ncap;
		}
		struct tier_block *blk = calloc(1, sizeof(*blk));
		if (!blk) {
			rc = -ENOMEM;
			goto out_closedir;
		}
		blk->id = id;
		blk->len = hdr.len;
		blk->crc = hdr.data_crc;
		blk->level = level;
		blk->dir = dir;
		rc = tier_map_put(&store->index, id, blk);
		if (rc < 0) {
			free(blk);
			goto out_closedir;
		}
		list->items[list->n++] = (struct scan_item){ .blk = blk, .mtime_ns = mtime_ns };
	}
out_closedir:
	closedir(dh);
	if (rc < 0)
		snprintf(err, errlen, "tier: scanning %s: %s", d->path, strerror(-rc));
	return rc;
}

static int scan_item_cmp(const void *a, const void *b)
{
	const struct scan_item *x = a, *y = b;
	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns < y->mtime_ns ? -1 : 1;
	return x->blk->id < y->blk->id ? -1 : x->blk->id > y->blk->id;
}

/*
 * Rescan: index every surviving block, feed the policies oldest file first
 * (so the least recently written is the first victim), then bring every
 * tier back within its quotas (they may have shrunk since the last run).
 */
static int rescan(struct tier_store *store, char *err, size_t errlen)
{
	int rc = 0;
	struct scan_list list = { 0 };
	for (unsigned l = 0; l < store->nlevels; l++) {
		for (unsigned d = 0; d < store->levels[l].ndirs; d++) {
			rc = scan_dir(store, l, d, &list, err, errlen);
			if (rc < 0)
				goto out_free_list;
		}
	}
	if (list.n > 1)
		qsort(list.items, list.n, sizeof(*list.items), scan_item_cmp);
	int64_t now = store_now(store);
	for (size_t i = 0; i < list.n; i++) {
		struct tier_block *blk = list.items[i].blk;
		tier_map_del(&store->index, blk->id);
		list.items[i].blk = NULL;
		rc = store_index_add(store, blk, now, 0);
		if (rc < 0) {
			free(blk);
			snprintf(err, errlen, "tier: rescan: %s", strerror(-rc));
			goto out_free_list;
		}
	}
	if (list.n > 0)
		log_info("tier: rescan found %zu cached blocks", list.n);
	for (unsigned l = 0; l < store->nlevels; l++) {
		struct tier_level *lvl = &store->levels[l];
		for (unsigned d = 0; d < lvl->ndirs; d++) {
			uint64_t victim_id;
			while (lvl->dirs[d].used > lvl->dirs[d].quota &&
			       tier_policy_victim(lvl->policy, &victim_id) == 0)
				move_down(store, tier_map_get(&store->index, victim_id));
		}
	}
out_free_list:
	/* Items still listed were indexed without a policy entry: free them. */
	for (size_t i = 0; i < list.n; i++) {
		if (list.items[i].blk) {
			tier_map_del(&store->index, list.items[i].blk->id);
			free(list.items[i].blk);
		}
	}
	free(list.items);
	return rc;
}

static enum tier_io_mode effective_io_mode(enum tier_io_mode mode)
{
	const char *env = getenv("STRATA_TIER_IO");
	if (env && strcmp(env, "sync") == 0)
		return TIER_IO_SYNC;
	return mode;
}

int tier_store_open(const struct tier_config *cfg, struct tier_store **out, char *err,
		    size_t errlen)
{
	int rc = validate_config(cfg, err, errlen);
	if (rc < 0)
		return rc;
	struct tier_store *store = calloc(1, sizeof(*store));
	if (!store)
		return -ENOMEM;
	struct stat seen[TIER_MAX_LEVELS * TIER_MAX_DIRS];
	unsigned nseen = 0;
	mutex_init_adaptive(&store->lock);
	tier_map_init(&store->index);
	store->now_ms = cfg->now_ms ? cfg->now_ms : default_now;
	store->now_ctx = cfg->now_ctx;
	store->fault_inject_write = cfg->fault_inject_write;
	store->fault_ctx = cfg->fault_ctx;
	store->nlevels = cfg->nlevels;
	for (unsigned l = 0; l < cfg->nlevels; l++) {
		struct tier_level *lvl = &store->levels[l];
		lvl->medium = cfg->levels[l].medium;
		lvl->ndirs = cfg->levels[l].ndirs;
		rc = tier_policy_create(cfg->policy, &lvl->policy);
		if (rc < 0)
			goto err_close_store;
		for (unsigned d = 0; d < lvl->ndirs; d++) {
			lvl->dirs[d].quota = cfg->levels[l].dirs[d].quota;
			lvl->dirs[d].dfd = -1;
			lvl->dirs[d].path = strdup(cfg->levels[l].dirs[d].path);
			if (!lvl->dirs[d].path) {
				rc = -ENOMEM;
				goto err_close_store;
			}
			rc = ensure_dir(lvl->dirs[d].path, &seen[nseen], err, errlen);
			if (rc < 0)
				goto err_close_store;
			lvl->dirs[d].dfd =
				open(lvl->dirs[d].path, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (lvl->dirs[d].dfd < 0) {
				rc = -errno;
				snprintf(err, errlen, "tier: open %s: %s", lvl->dirs[d].path,
					 strerror(errno));
				goto err_close_store;
			}
			/* One directory in two places: emptying MEM would wipe the other. */
			for (unsigned k = 0; k < nseen; k++) {
				if (seen[k].st_dev == seen[nseen].st_dev &&
				    seen[k].st_ino == seen[nseen].st_ino) {
					snprintf(err, errlen,
						 "tier: directory %s is configured twice",
						 lvl->dirs[d].path);
					rc = -EINVAL;
					goto err_close_store;
				}
			}
			nseen++;
		}
	}
	store->copy_buf = malloc(TIER_COPY_BUF);
	if (!store->copy_buf) {
		rc = -ENOMEM;
		goto err_close_store;
	}
	rc = tier_io_create(effective_io_mode(cfg->io_mode), cfg->nrings, cfg->uring_depth,
			    &store->io, err, errlen);
	if (rc < 0)
		goto err_close_store;
	rc = rescan(store, err, errlen);
	if (rc < 0)
		goto err_close_store;
	*out = store;
	return 0;

err_close_store:
	if (rc == -ENOMEM && err && errlen)
		snprintf(err, errlen, "tier: out of memory");
	tier_store_close(store);
	return rc;
}

void tier_store_close(struct tier_store *store)
{
	if (!store)
		return;
	void *val;
	for (size_t i = 0; tier_map_next(&store->index, &i, NULL, &val);)
		free(val);
	tier_map_free(&store->index);
	for (unsigned l = 0; l < store->nlevels; l++) {
		tier_policy_destroy(store->levels[l].policy);
		for (unsigned d = 0; d < store->levels[l].ndirs; d++) {
			struct tier_dir *dir = &store->levels[l].dirs[d];
			if (dir->path && dir->dfd >= 0)
				close(dir->dfd);
			free(dir->path);
		}
	}
	tier_io_destroy(store->io);
	free(store->copy_buf);
	pthread_mutex_destroy(&store->lock);
	free(store);
}

bool tier_block_exists(struct tier_store *store, uint64_t id, unsigned *tier)
{
	pthread_mutex_lock(&store->lock);
	struct tier_block *blk = tier_map_get(&store->index, id);
	if (blk && tier)
		*tier = blk->level;
	pthread_mutex_unlock(&store->lock);
	return blk != NULL;
}

int tier_block_remove(struct tier_store *store, uint64_t id)
{
	pthread_mutex_lock(&store->lock);
	struct tier_block *blk = tier_map_get(&store->index, id);
	if (blk)
		store_drop_block(store, blk);
	pthread_mutex_unlock(&store->lock);
	return blk ? 0 : -ENOENT;
}

int tier_block_raise(struct tier_store *store, uint64_t id, unsigned max_tier)
{
	int rc = 0;
	pthread_mutex_lock(&store->lock);
	struct tier_block *blk = tier_map_get(&store->index, id);
	if (!blk) {
		rc = -ENOENT;
		goto out;
	}
	if (blk->level <= max_tier)
		goto out;
	/* Held in place while room is made above: a demotion cascading down
	 * to its tier must not pick it. */
	bool pinned = blk->pinned;
	blk->pinned = true;
	tier_policy_set_pinned(store->levels[blk->level].policy, id, true);
	rc = -ENOSPC;
	bool gone = false;
	for (unsigned to = 0; to <= max_tier && to < blk->level && rc == -ENOSPC; to++)
		rc = move_block(store, blk, to, &gone);
	if (gone)
		goto out;
	blk->pinned = pinned;
	tier_policy_set_pinned(store->levels[blk->level].policy, id, pinned);
out:
	pthread_mutex_unlock(&store->lock);
	return rc;
}

int tier_level_of_medium(struct tier_store *store, enum tier_medium medium)
{
	int level = -ENOENT;
	for (unsigned l = 0; l < store->nlevels; l++)
		if (store->levels[l].medium <= medium)
			level = (int)l;
	return level;
}

int tier_medium_parse(const char *name, enum tier_medium *out)
{
	static const enum tier_medium all[] = { TIER_MEDIUM_MEM, TIER_MEDIUM_SSD,
						TIER_MEDIUM_HDD };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, tier_medium_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

int tier_block_pin(struct tier_store *store, uint64_t id, bool pinned)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&store->lock);
	struct tier_block *blk = tier_map_get(&store->index, id);
	if (blk) {
		rc = tier_policy_set_pinned(store->levels[blk->level].policy, id, pinned);
		if (rc == 0)
			blk->pinned = pinned;
	}
	pthread_mutex_unlock(&store->lock);
	return rc;
}

void tier_stats_get(struct tier_store *store, struct tier_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&store->lock);
	out->nlevels = store->nlevels;
	for (unsigned l = 0; l < store->nlevels; l++) {
		const struct tier_level *lvl = &store->levels[l];
		struct tier_level_stats *ls = &out->levels[l];
		ls->medium = lvl->medium;
		for (unsigned d = 0; d < lvl->ndirs; d++) {
			ls->capacity += lvl->dirs[d].quota;
			ls->used += lvl->dirs[d].used;
		}
		ls->nblocks = lvl->nblocks;
		ls->hits = lvl->hits;
		ls->bytes_served = __atomic_load_n(&lvl->bytes_served, __ATOMIC_RELAXED);
		ls->bytes_written = lvl->bytes_written;
		ls->demotions = lvl->demotions;
		ls->promotions = lvl->promotions;
		ls->evictions = lvl->evictions;
	}
	out->hits = store->hits;
	out->misses = store->misses;
	out->evictions = store->evictions;
	out->demotions = store->demotions;
	out->promotions = store->promotions;
	out->checksum_failures = store->checksum_failures;
	out->write_errors = store->write_errors;
	out->io_uring = tier_io_uses_uring(store->io);
	pthread_mutex_unlock(&store->lock);
}

int tier_blocks_list(struct tier_store *store, struct tier_block_info **out, size_t *n)
{
	int rc = 0;
	pthread_mutex_lock(&store->lock);
	size_t count = store->index.count;
	struct tier_block_info *infos = NULL;
	if (count > 0) {
		infos = malloc(count * sizeof(*infos));
		if (!infos) {
			rc = -ENOMEM;
			goto out_unlock;
		}
	}
	size_t k = 0;
	void *val;
	for (size_t i = 0; tier_map_next(&store->index, &i, NULL, &val);) {
		const struct tier_block *blk = val;
		infos[k++] = (struct tier_block_info){
			.id = blk->id, .len = blk->len, .tier = blk->level, .pinned = blk->pinned
		};
	}
	*out = infos;
	*n = count;
out_unlock:
	pthread_mutex_unlock(&store->lock);
	return rc;
}
