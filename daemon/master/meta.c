#include "daemon/master/meta.h"

#include "daemon/master/journal.h"
#include "lib/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct meta {
	pthread_mutex_t lock;
	struct ns *ns;
	struct journal *journal;
	uint64_t snapshot_every;
	uint64_t since_snapshot;
	char snapshot_path[1100];
};

struct replay_ctx {
	struct ns *ns;
	uint64_t count;
};

static int replay_one(void *arg, uint64_t index, const void *data, size_t len)
{
	struct replay_ctx *c = arg;
	cJSON *cmd = cJSON_ParseWithLength(data, len);
	char err[512] = "";
	/* A record that does not parse still consumes its index, exactly as
	 * when it was first applied. */
	int rc = ns_apply(c->ns, index, cmd, err, sizeof(err));
	cJSON_Delete(cmd);
	if (rc == -EIO) {
		log_error("replaying journal entry %llu: %s", (unsigned long long)index, err);
		return rc;
	}
	c->count++;
	return 0;
}

int meta_open(const char *state_dir, uint64_t snapshot_every, struct meta **out, char *err,
	      size_t errlen)
{
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->snapshot_every = snapshot_every;
	snprintf(m->snapshot_path, sizeof(m->snapshot_path), "%s/namespace.snapshot.db", state_dir);
	char db[1100];
	snprintf(db, sizeof(db), "%s/namespace.db", state_dir);
	int rc = ns_open(db, &m->ns, err, errlen);
	if (rc)
		goto err_free;
	rc = journal_open(state_dir, &m->journal, err, errlen);
	if (rc)
		goto err_ns;
	uint64_t applied = ns_applied_index(m->ns);
	if (journal_last_index(m->journal) < applied) {
		snprintf(err, errlen,
			 "journal ends at entry %llu but namespace.db holds %llu: refusing to start "
			 "with a journal that lost acknowledged entries",
			 (unsigned long long)journal_last_index(m->journal),
			 (unsigned long long)applied);
		rc = -EIO;
		goto err_journal;
	}
	struct replay_ctx c = { .ns = m->ns };
	rc = journal_replay(m->journal, applied, replay_one, &c, err, errlen);
	if (rc)
		goto err_journal;
	log_info("namespace: %lld inodes at entry %llu (%llu replayed from the journal)",
		 (long long)ns_inode_count(m->ns), (unsigned long long)ns_applied_index(m->ns),
		 (unsigned long long)c.count);
	*out = m;
	return 0;

err_journal:
	journal_close(m->journal);
err_ns:
	ns_close(m->ns);
err_free:
	pthread_mutex_destroy(&m->lock);
	free(m);
	return rc;
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	char err[512];
	if (ns_checkpoint(m->ns, NULL, err, sizeof(err)))
		log_warn("%s", err);
	journal_close(m->journal);
	ns_close(m->ns);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static void maybe_snapshot(struct meta *m)
{
	if (!m->snapshot_every || ++m->since_snapshot < m->snapshot_every)
		return;
	m->since_snapshot = 0;
	char err[512];
	uint64_t at = ns_applied_index(m->ns);
	if (ns_checkpoint(m->ns, m->snapshot_path, err, sizeof(err)) ||
	    journal_compact(m->journal, at, err, sizeof(err))) {
		log_warn("snapshot at entry %llu failed: %s", (unsigned long long)at, err);
		return;
	}
	log_info("snapshot at entry %llu written; journal compacted", (unsigned long long)at);
}

int meta_submit(struct meta *m, const cJSON *cmd, char *err, size_t errlen)
{
	char *text = cJSON_PrintUnformatted(cmd);
	if (!text)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	uint64_t index;
	int rc = journal_append(m->journal, text, strlen(text), &index, err, errlen);
	if (!rc) {
		rc = ns_apply(m->ns, index, cmd, err, errlen);
		maybe_snapshot(m);
	}
	pthread_mutex_unlock(&m->lock);
	free(text);
	return rc;
}

int meta_alloc_data_id(struct meta *m, uint64_t *id, char *err, size_t errlen)
{
	static const char cmd_text[] = "{\"op\":\"alloc_data_id\"}";
	cJSON *cmd = cJSON_Parse(cmd_text);
	if (!cmd)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	uint64_t index, next = ns_next_id(m->ns);
	int rc = journal_append(m->journal, cmd_text, sizeof(cmd_text) - 1, &index, err, errlen);
	if (!rc)
		rc = ns_apply(m->ns, index, cmd, err, errlen);
	if (!rc) {
		*id = next;
		maybe_snapshot(m);
	}
	pthread_mutex_unlock(&m->lock);
	cJSON_Delete(cmd);
	return rc;
}

struct ns *meta_read_lock(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	return m->ns;
}

void meta_read_unlock(struct meta *m)
{
	pthread_mutex_unlock(&m->lock);
}

uint64_t meta_applied_index(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	uint64_t v = ns_applied_index(m->ns);
	pthread_mutex_unlock(&m->lock);
	return v;
}
