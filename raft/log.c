/* The in-memory log and small value helpers (entries, configs, messages). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

void raft_log_init(struct raft_log *log, uint64_t snap_index, uint64_t snap_term)
{
	memset(log, 0, sizeof(*log));
	log->snap_index = snap_index;
	log->snap_term = snap_term;
}

void raft_log_free(struct raft_log *log)
{
	for (size_t i = 0; i < log->n; i++)
		raft_entry_free(&log->ents[i]);
	free(log->ents);
	log->ents = NULL;
	log->n = log->cap = 0;
}

uint64_t raft_log_last_index(const struct raft_log *log)
{
	return log->snap_index + log->n;
}

uint64_t raft_log_last_term(const struct raft_log *log)
{
	return log->n ? log->ents[log->n - 1].term : log->snap_term;
}

int raft_log_term(const struct raft_log *log, uint64_t index, uint64_t *term)
{
	if (index == log->snap_index) {
		*term = log->snap_term;
		return 0;
	}
	if (index < log->snap_index || index > raft_log_last_index(log))
		return -ENOENT;
	*term = log->ents[index - log->snap_index - 1].term;
	return 0;
}

struct raft_entry *raft_log_get(const struct raft_log *log, uint64_t index)
{
	if (index <= log->snap_index || index > raft_log_last_index(log))
		return NULL;
	return &log->ents[index - log->snap_index - 1];
}

int raft_entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len) {
		dst->data = malloc(src->len);
		if (!dst->data)
			return -ENOMEM;
		memcpy(dst->data, src->data, src->len);
	}
	return 0;
}

void raft_entry_free(struct raft_entry *e)
{
	free(e->data);
	e->data = NULL;
	e->len = 0;
}

int raft_log_append_copy(struct raft_log *log, const struct raft_entry *e)
{
	if (e->index != raft_log_last_index(log) + 1)
		return -EINVAL;
	if (log->n == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 64;
		struct raft_entry *ents = realloc(log->ents, cap * sizeof(*ents));
		if (!ents)
			return -ENOMEM;
		log->ents = ents;
		log->cap = cap;
	}
	int rc = raft_entry_copy(&log->ents[log->n], e);
	if (rc)
		return rc;
	log->n++;
	return 0;
}

void raft_log_truncate_from(struct raft_log *log, uint64_t index)
{
	while (log->n && raft_log_last_index(log) >= index) {
		raft_entry_free(&log->ents[log->n - 1]);
		log->n--;
	}
}

void raft_log_compact_to(struct raft_log *log, uint64_t index, uint64_t term)
{
	size_t drop = index > log->snap_index ? (size_t)(index - log->snap_index) : 0;
	if (drop > log->n)
		drop = log->n;
	for (size_t i = 0; i < drop; i++)
		raft_entry_free(&log->ents[i]);
	if (drop)
		memmove(log->ents, log->ents + drop, (log->n - drop) * sizeof(*log->ents));
	log->n -= drop;
	log->snap_index = index;
	log->snap_term = term;
}

void raft_log_reset(struct raft_log *log, uint64_t index, uint64_t term)
{
	raft_log_truncate_from(log, 0);
	log->snap_index = index;
	log->snap_term = term;
}

void raft_snapshot_free(struct raft_snapshot *s)
{
	free(s->data);
	s->data = NULL;
	s->len = 0;
}

int raft_snapshot_copy(struct raft_snapshot *dst, const struct raft_snapshot *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len) {
		dst->data = malloc(src->len);
		if (!dst->data)
			return -ENOMEM;
		memcpy(dst->data, src->data, src->len);
	}
	return 0;
}

bool raft_config_has(const struct raft_config *cfg, uint64_t id)
{
	for (uint32_t i = 0; i < cfg->nvoters; i++)
		if (cfg->voters[i] == id)
			return true;
	return false;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int raft_config_encode(const struct raft_config *cfg, uint8_t *buf, size_t cap)
{
	size_t need = 4 + 8 * (size_t)cfg->nvoters;
	if (cfg->nvoters > RAFT_MAX_VOTERS || cap < need)
		return -ENOSPC;
	for (int i = 0; i < 4; i++)
		buf[i] = (uint8_t)(cfg->nvoters >> (8 * i));
	for (uint32_t i = 0; i < cfg->nvoters; i++)
		put_le64(buf + 4 + 8 * i, cfg->voters[i]);
	return (int)need;
}

int raft_config_decode(const uint8_t *buf, size_t len, struct raft_config *cfg)
{
	if (len < 4)
		return -EINVAL;
	uint32_t n = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 |
		     (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
	if (n > RAFT_MAX_VOTERS || len != 4 + 8 * (size_t)n)
		return -EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = get_le64(buf + 4 + 8 * i);
		/* Zero or duplicate ids would make quorum counting wrong. */
		if (id == 0 || raft_config_has(cfg, id))
			return -EINVAL;
		cfg->voters[cfg->nvoters++] = id;
	}
	return 0;
}

void raft_msg_release(struct raft_msg *m)
{
	for (size_t i = 0; i < m->nentries; i++)
		raft_entry_free(&m->entries[i]);
	free(m->entries);
	raft_snapshot_free(&m->snapshot);
	memset(m, 0, sizeof(*m));
}

int raft_msg_clone(struct raft_msg *dst, const struct raft_msg *src)
{
	int rc = -ENOMEM;

	*dst = *src;
	dst->entries = NULL;
	dst->nentries = 0;
	dst->snapshot.data = NULL;
	dst->snapshot.len = 0;
	if (src->nentries) {
		dst->entries = calloc(src->nentries, sizeof(*dst->entries));
		if (!dst->entries)
			goto err_release;
		for (size_t i = 0; i < src->nentries; i++) {
			rc = raft_entry_copy(&dst->entries[i], &src->entries[i]);
			if (rc)
				goto err_release;
			dst->nentries++;
		}
	}
	rc = raft_snapshot_copy(&dst->snapshot, &src->snapshot);
	if (rc)
		goto err_release;
	return 0;

err_release:
	raft_msg_release(dst);
	return rc;
}

const char *raft_role_name(enum raft_role role)
{
	switch (role) {
	case RAFT_FOLLOWER: return "follower";
	case RAFT_PRECANDIDATE: return "precandidate";
	case RAFT_CANDIDATE: return "candidate";
	case RAFT_LEADER: return "leader";
	}
	return "unknown";
}

const char *raft_msg_type_name(enum raft_msg_type type)
{
	switch (type) {
	case RAFT_MSG_PREVOTE: return "prevote";
	case RAFT_MSG_PREVOTE_RESP: return "prevote_resp";
	case RAFT_MSG_VOTE: return "vote";
	case RAFT_MSG_VOTE_RESP: return "vote_resp";
	case RAFT_MSG_APPEND: return "append";
	case RAFT_MSG_APPEND_RESP: return "append_resp";
	case RAFT_MSG_SNAPSHOT: return "snapshot";
	case RAFT_MSG_TIMEOUT_NOW: return "timeout_now";
	}
	return "unknown";
}
