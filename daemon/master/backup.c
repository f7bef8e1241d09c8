/* Taking a backup on the leader and laying one down offline (backup.h). */
#include "daemon/master/backup.h"

#include "daemon/master/meta.h"
#include "daemon/master/ns.h"
#include "lib/err.h"
#include "raft/storage.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int backup_take(struct meta *m, int64_t now_ms, uint8_t header[BACKUP_HEADER_SIZE],
		uint8_t **payload, size_t *len, char *err, size_t errlen)
{
	struct meta_status *st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	meta_status(m, st);
	if (strcmp(st->role, "leader") != 0) {
		snprintf(err, errlen, "master %" PRIu64 " is not the leader (%s): back up from "
			 "the leader%s%s", st->id, st->role, *st->leader_url ? ", " : "",
			 st->leader_url);
		free(st);
		return ST_ENOTLEADER;
	}
	struct backup_header h = { .term = st->term, .master_id = st->id, .created_ms = now_ms };
	free(st);
	uint8_t *img = NULL;
	size_t n = 0;
	/* Under the namespace lock the image is the state exactly as of the
	 * applied index, which is committed. */
	struct ns *ns = meta_read_lock(m);
	h.applied_index = ns_applied_index(ns);
	int rc = ns_serialize(ns, &img, &n, err, errlen);
	meta_read_unlock(m);
	if (rc)
		return rc;
	h.payload_len = n;
	backup_encode_header(&h, img, header);
	*payload = img;
	*len = n;
	return 0;
}

static bool exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

/* Removes the master state in dir: namespace.db (and WAL) and raft/. */
static int remove_state(const char *dir, char *err, size_t errlen)
{
	static const char *const files[] = { "namespace.db", "namespace.db-wal",
					     "namespace.db-shm", "namespace.db.restore" };
	char path[1200];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (unlink(path) != 0 && errno != ENOENT)
			goto err_path;
	}
	snprintf(path, sizeof(path), "%s/raft", dir);
	DIR *d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		goto err_path;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char file[1500];
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		if (unlink(file) != 0) {
			snprintf(err, errlen, "%s: %s", file, strerror(errno));
			closedir(d);
			return -EIO;
		}
	}
	closedir(d);
	if (rmdir(path) != 0)
		goto err_path;
	return 0;
err_path:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -EIO;
}

static int write_raft(const char *dir, const struct backup_header *h, uint8_t *image,
		      size_t len, const struct backup_restore_opts *o, char *err, size_t errlen)
{
	char raft_dir[1100];
	snprintf(raft_dir, sizeof(raft_dir), "%s/raft", dir);
	struct raft_storage *st = NULL;
	struct raft_storage_boot sb;
	int rc = raft_storage_open(raft_dir, NULL, &st, &sb, err, errlen);
	if (rc)
		return rc;
	raft_storage_boot_free(&sb);
	/* The snapshot is the new group's whole history: followers that join
	 * later copy it. Its term is the backup's, and so is the hard state,
	 * so the first election starts above every term in the log. */
	struct raft_snapshot snap = {
		.index = h->applied_index + BACKUP_RESTORE_GAP,
		.term = h->term ? h->term : 1,
		.data = image,
		.len = len,
	};
	snap.config.nvoters = (uint32_t)o->nvoters;
	memcpy(snap.config.voters, o->voters, o->nvoters * sizeof(*o->voters));
	rc = raft_storage_save_snapshot(st, &snap, true);
	if (!rc)
		rc = raft_storage_set_hard_state(st, &(struct raft_hard_state){ .term = snap.term });
	if (rc)
		snprintf(err, errlen, "%s: cannot write the Raft snapshot: %s", raft_dir,
			 strerror(-rc));
	raft_storage_close(st);
	return rc;
}

int backup_restore(const uint8_t *file, size_t len, const struct backup_restore_opts *o,
		   char *err, size_t errlen)
{
	if (o->nvoters < 1 || o->nvoters > RAFT_MAX_VOTERS) {
		snprintf(err, errlen, "restore: %zu voters (1..%d)", o->nvoters, RAFT_MAX_VOTERS);
		return -EINVAL;
	}
	struct backup_header h;
	const uint8_t *payload;
	int rc = backup_decode(file, len, &h, &payload, err, errlen);
	if (rc)
		return rc;
	uint8_t *image = NULL;
	size_t image_len = 0;
	rc = backup_payload_prepare(&h, payload, BACKUP_RESTORE_GAP, &image, &image_len, err, errlen);
	if (rc)
		return rc;
	if (mkdir(o->state_dir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "state dir %s: %s", o->state_dir, strerror(-rc));
		goto err_image;
	}
	int lock_fd = -1;
	rc = meta_lock_state_dir(o->state_dir, &lock_fd, err, errlen);
	if (rc)
		goto err_image;
	char path[1100], raft_path[1100];
	snprintf(path, sizeof(path), "%s/namespace.db", o->state_dir);
	snprintf(raft_path, sizeof(raft_path), "%s/raft", o->state_dir);
	if (exists(path) || exists(raft_path)) {
		if (!o->force) {
			snprintf(err, errlen, "state dir %s already holds master state (%s): "
				 "restore into an empty directory, or pass --force to replace it",
				 o->state_dir, exists(path) ? "namespace.db" : "raft/");
			rc = -EEXIST;
			goto err_unlock;
		}
		rc = remove_state(o->state_dir, err, errlen);
		if (rc)
			goto err_unlock;
	}
	/* The Raft snapshot first: if we stop before namespace.db is written,
	 * the master restores the database from it on start. */
	rc = write_raft(o->state_dir, &h, image, image_len, o, err, errlen);
	if (!rc)
		rc = ns_restore(path, image, image_len, err, errlen);
err_unlock:
	close(lock_fd);
err_image:
	sqlite3_free(image);
	return rc;
}
