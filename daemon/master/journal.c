/* Journal commands: one table of field lists drives encode, the strict
 * decoder and equality (see journal.h and docs/namespace.md). */
#include "daemon/master/journal.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ftype {
	F_PATH,    /* char[]: a normal path */
	F_NAME,    /* char[]: one valid path component */
	F_STR,     /* char[]: any string of at least min bytes */
	F_BOOL,    /* bool */
	F_U64,     /* uint64_t as a decimal string, in [min, max] */
	F_I64,     /* int64_t as a decimal string, in [min, max] */
	F_OPTIONS, /* char *: a JSON object whose values are strings */
	F_ENTRIES, /* struct journal_sync_dir's entries: array of sync items */
};

/*
 * One field of a command. off is from the start of the command's union
 * member. An optional field is absent exactly when it holds its zero
 * value ("", 0 or false; its min is 1, so a present one is never zero, and
 * an optional bool is given only as true), so every command has one
 * encoding.
 */
struct field {
	const char *name;
	enum ftype type;
	bool optional;
	size_t off, size;
	int64_t min, max;
};

#define FLD(st, m, type, opt, lo, hi) \
	{ #m, type, opt, offsetof(struct st, m), sizeof(((struct st *)0)->m), lo, hi }
#define TIME(st) FLD(st, time_ms, F_I64, false, 0, INT64_MAX)

static const struct field mount_fields[] = {
	FLD(journal_mount, path, F_PATH, false, 0, 0),
	FLD(journal_mount, uri, F_STR, false, 1, 0),
	FLD(journal_mount, readonly, F_BOOL, false, 0, 0),
	FLD(journal_mount, options, F_OPTIONS, false, 0, 0),
	FLD(journal_mount, block_size, F_I64, false, 1 << 20, 512 << 20),
	FLD(journal_mount, sync_interval_ms, F_I64, false, -1, INT64_MAX),
	TIME(journal_mount),
	{ 0 },
};
static const struct field unmount_fields[] = {
	FLD(journal_unmount, path, F_PATH, false, 0, 0),
	{ 0 },
};
static const struct field mkdir_fields[] = {
	FLD(journal_mkdir, path, F_PATH, false, 0, 0),
	FLD(journal_mkdir, parents, F_BOOL, false, 0, 0),
	TIME(journal_mkdir),
	{ 0 },
};
static const struct field put_file_fields[] = {
	FLD(journal_put_file, path, F_PATH, false, 0, 0),
	TIME(journal_put_file),
	FLD(journal_put_file, length, F_U64, false, 0, INT64_MAX),
	FLD(journal_put_file, mtime_ms, F_I64, false, INT64_MIN, INT64_MAX),
	FLD(journal_put_file, fingerprint, F_STR, false, 0, 0),
	FLD(journal_put_file, data_id, F_U64, true, 1, INT64_MAX),
	FLD(journal_put_file, etag, F_STR, true, 1, 0),
	FLD(journal_put_file, persistence, F_STR, true, 1, 0),
	FLD(journal_put_file, persist, F_BOOL, true, 0, 0),
	{ 0 },
};
static const struct field delete_fields[] = {
	FLD(journal_delete, path, F_PATH, false, 0, 0),
	FLD(journal_delete, recursive, F_BOOL, false, 0, 0),
	{ 0 },
};
static const struct field rename_fields[] = {
	FLD(journal_rename, src, F_PATH, false, 0, 0),
	FLD(journal_rename, dst, F_PATH, false, 0, 0),
	TIME(journal_rename),
	{ 0 },
};
static const struct field sync_dir_fields[] = {
	FLD(journal_sync_dir, path, F_PATH, false, 0, 0),
	TIME(journal_sync_dir),
	{ "entries", F_ENTRIES, false, 0, 0, 0, 0 },
	{ 0 },
};
static const struct field sync_item_fields[] = {
	FLD(journal_sync_item, name, F_NAME, false, 0, 0),
	FLD(journal_sync_item, is_dir, F_BOOL, false, 0, 0),
	FLD(journal_sync_item, length, F_U64, false, 0, INT64_MAX),
	FLD(journal_sync_item, mtime_ms, F_I64, false, INT64_MIN, INT64_MAX),
	FLD(journal_sync_item, fingerprint, F_STR, false, 0, 0),
	{ 0 },
};
static const struct field sync_entry_fields[] = {
	FLD(journal_sync_entry, path, F_PATH, false, 0, 0),
	TIME(journal_sync_entry),
	FLD(journal_sync_entry, exists, F_BOOL, false, 0, 0),
	FLD(journal_sync_entry, is_dir, F_BOOL, false, 0, 0),
	FLD(journal_sync_entry, length, F_U64, false, 0, INT64_MAX),
	FLD(journal_sync_entry, mtime_ms, F_I64, false, INT64_MIN, INT64_MAX),
	FLD(journal_sync_entry, fingerprint, F_STR, false, 0, 0),
	FLD(journal_sync_entry, data_id, F_U64, true, 1, INT64_MAX),
	{ 0 },
};
static const struct field master_set_fields[] = {
	FLD(journal_master_set, id, F_U64, false, 1, INT64_MAX),
	FLD(journal_master_set, raft_address, F_STR, false, 1, 0),
	FLD(journal_master_set, rest_url, F_STR, false, 1, 0),
	{ 0 },
};
static const struct field master_del_fields[] = {
	FLD(journal_master_del, id, F_U64, false, 1, INT64_MAX),
	{ 0 },
};
static const struct field alloc_data_id_fields[] = { { 0 } };
static const struct field set_pin_fields[] = {
	FLD(journal_set_pin, path, F_PATH, false, 0, 0),
	FLD(journal_set_pin, recursive, F_BOOL, false, 0, 0),
	FLD(journal_set_pin, pinned, F_BOOL, false, 0, 0),
	FLD(journal_set_pin, medium, F_STR, true, 1, 0),
	{ 0 },
};
static const struct field set_ttl_fields[] = {
	FLD(journal_set_ttl, path, F_PATH, false, 0, 0),
	FLD(journal_set_ttl, recursive, F_BOOL, false, 0, 0),
	FLD(journal_set_ttl, ttl_ms, F_I64, false, 0, JOURNAL_TTL_MAX_MS),
	FLD(journal_set_ttl, action, F_STR, true, 1, 0),
	TIME(journal_set_ttl),
	{ 0 },
};
static const struct field set_replication_fields[] = {
	FLD(journal_set_replication, path, F_PATH, false, 0, 0),
	FLD(journal_set_replication, recursive, F_BOOL, false, 0, 0),
	FLD(journal_set_replication, min, F_I64, false, 0, JOURNAL_REPL_MAX),
	FLD(journal_set_replication, max, F_I64, false, -1, JOURNAL_REPL_MAX),
	{ 0 },
};
static const struct field ttl_fire_fields[] = {
	FLD(journal_ttl_fire, path, F_PATH, false, 0, 0),
	FLD(journal_ttl_fire, id, F_U64, false, 1, INT64_MAX),
	FLD(journal_ttl_fire, action, F_STR, false, 1, 0),
	TIME(journal_ttl_fire),
	{ 0 },
};
static const struct field job_create_fields[] = {
	FLD(journal_job_create, type, F_STR, false, 1, 0),
	FLD(journal_job_create, path, F_PATH, false, 0, 0),
	FLD(journal_job_create, recursive, F_BOOL, false, 0, 0),
	FLD(journal_job_create, medium, F_STR, true, 1, 0),
	TIME(journal_job_create),
	{ 0 },
};
static const struct field job_progress_fields[] = {
	FLD(journal_job_progress, id, F_U64, false, 1, INT64_MAX),
	FLD(journal_job_progress, cursor, F_U64, false, 0, INT64_MAX),
	FLD(journal_job_progress, files_done, F_U64, false, 0, INT64_MAX),
	FLD(journal_job_progress, bytes_done, F_U64, false, 0, INT64_MAX),
	FLD(journal_job_progress, files_failed, F_U64, false, 0, INT64_MAX),
	TIME(journal_job_progress),
	{ 0 },
};
static const struct field job_error_fields[] = {
	FLD(journal_job_error, id, F_U64, false, 1, INT64_MAX),
	FLD(journal_job_error, path, F_PATH, false, 0, 0),
	FLD(journal_job_error, reason, F_STR, false, 1, 0),
	{ 0 },
};
static const struct field job_end_fields[] = {
	FLD(journal_job_end, id, F_U64, false, 1, INT64_MAX),
	FLD(journal_job_end, path, F_PATH, false, 0, 0),
	FLD(journal_job_end, state, F_STR, false, 1, 0),
	FLD(journal_job_end, reason, F_STR, true, 1, 0),
	TIME(journal_job_end),
	{ 0 },
};

static const struct field mount_update_fields[] = {
	FLD(journal_mount_update, path, F_PATH, false, 0, 0),
	FLD(journal_mount_update, options, F_OPTIONS, false, 0, 0),
	FLD(journal_mount_update, sync_interval_ms, F_I64, false, -1, INT64_MAX),
	TIME(journal_mount_update),
	{ 0 },
};

static const struct field worker_state_fields[] = {
	FLD(journal_worker_state, address, F_STR, false, 3, 0),
	FLD(journal_worker_state, state, F_STR, false, 1, 0),
	TIME(journal_worker_state),
	{ 0 },
};

static const struct field set_write_type_fields[] = {
	FLD(journal_set_write_type, path, F_PATH, false, 0, 0),
	FLD(journal_set_write_type, recursive, F_BOOL, false, 0, 0),
	FLD(journal_set_write_type, write_type, F_STR, true, 1, 0),
	{ 0 },
};

static const struct field set_persistence_fields[] = {
	FLD(journal_set_persistence, path, F_PATH, false, 0, 0),
	FLD(journal_set_persistence, id, F_U64, false, 1, INT64_MAX),
	FLD(journal_set_persistence, data_id, F_U64, false, 1, INT64_MAX),
	FLD(journal_set_persistence, state, F_STR, false, 1, 0),
	FLD(journal_set_persistence, length, F_U64, true, 1, INT64_MAX),
	FLD(journal_set_persistence, mtime_ms, F_I64, true, 1, INT64_MAX),
	FLD(journal_set_persistence, fingerprint, F_STR, true, 1, 0),
	TIME(journal_set_persistence),
	{ 0 },
};

static int check_sync_entry(const struct journal_cmd *c, char *err, size_t errlen);
static int check_worker_state(const struct journal_cmd *c, char *err, size_t errlen);
#define worker_state_check check_worker_state
static int check_put_file(const struct journal_cmd *c, char *err, size_t errlen);
static int check_set_write_type(const struct journal_cmd *c, char *err, size_t errlen);
static int check_set_persistence(const struct journal_cmd *c, char *err, size_t errlen);
#define set_write_type_check check_set_write_type
#define set_persistence_check check_set_persistence
#define mount_check NULL
#define mount_update_check NULL
#define unmount_check NULL
#define mkdir_check NULL
#define put_file_check check_put_file
#define delete_check NULL
#define rename_check NULL
#define sync_dir_check NULL
#define sync_entry_check check_sync_entry
#define alloc_data_id_check NULL
#define master_set_check NULL
#define master_del_check NULL
static int check_set_pin(const struct journal_cmd *c, char *err, size_t errlen);
static int check_set_ttl(const struct journal_cmd *c, char *err, size_t errlen);
static int check_set_replication(const struct journal_cmd *c, char *err, size_t errlen);
static int check_ttl_fire(const struct journal_cmd *c, char *err, size_t errlen);
#define set_pin_check check_set_pin
#define set_ttl_check check_set_ttl
#define set_replication_check check_set_replication
#define ttl_fire_check check_ttl_fire
static int check_job_create(const struct journal_cmd *c, char *err, size_t errlen);
static int check_job_end(const struct journal_cmd *c, char *err, size_t errlen);
#define job_create_check check_job_create
#define job_progress_check NULL
#define job_error_check NULL
#define job_end_check check_job_end

/* The table: name, fields and cross-field check of every op. */
static const struct op_desc {
	const char *name;
	const struct field *fields; /* ends with a row without a name */
	int (*check)(const struct journal_cmd *c, char *err, size_t errlen);
} g_ops[JOURNAL_OP_COUNT] = {
#define DESC_(up, low) [JOURNAL_##up] = { #low, low##_fields, low##_check },
	JOURNAL_OPS(DESC_)
#undef DESC_
};

static int fail(char *err, size_t errlen, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *field, const char *fmt, ...)
{
	char why[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "field '%s': %s", field, why);
	return -EINVAL;
}

static int check_sync_entry(const struct journal_cmd *c, char *err, size_t errlen)
{
	const struct journal_sync_entry *e = &c->u.sync_entry;
	if (e->exists)
		return 0;
	if (e->is_dir)
		return fail(err, errlen, "is_dir", "must be false when 'exists' is false");
	if (e->length)
		return fail(err, errlen, "length", "must be \"0\" when 'exists' is false");
	if (e->mtime_ms)
		return fail(err, errlen, "mtime_ms", "must be \"0\" when 'exists' is false");
	if (e->fingerprint[0])
		return fail(err, errlen, "fingerprint", "must be \"\" when 'exists' is false");
	if (e->data_id)
		return fail(err, errlen, "data_id", "must be absent when 'exists' is false");
	return 0;
}

bool journal_medium_valid(const char *m)
{
	return strcmp(m, "MEM") == 0 || strcmp(m, "SSD") == 0 || strcmp(m, "HDD") == 0;
}

bool journal_action_valid(const char *a)
{
	return strcmp(a, "free") == 0 || strcmp(a, "delete") == 0;
}

static int check_set_pin(const struct journal_cmd *c, char *err, size_t errlen)
{
	const struct journal_set_pin *p = &c->u.set_pin;
	if (!p->medium[0])
		return 0;
	if (!p->pinned)
		return fail(err, errlen, "medium", "only with 'pinned' true");
	if (!journal_medium_valid(p->medium))
		return fail(err, errlen, "medium", "'%s' is not MEM, SSD or HDD", p->medium);
	return 0;
}

static int check_set_ttl(const struct journal_cmd *c, char *err, size_t errlen)
{
	const struct journal_set_ttl *t = &c->u.set_ttl;
	if (t->ttl_ms == 0 && t->action[0])
		return fail(err, errlen, "action", "only with a 'ttl_ms' above 0");
	if (t->ttl_ms > 0 && !journal_action_valid(t->action))
		return fail(err, errlen, "action", "'%s' is not free or delete", t->action);
	return 0;
}

static int check_set_replication(const struct journal_cmd *c, char *err, size_t errlen)
{
	const struct journal_set_replication *r = &c->u.set_replication;
	if (r->max == 0)
		return fail(err, errlen, "max", "must be -1 (unbounded) or at least 1");
	if (r->max != -1 && r->min > r->max)
		return fail(err, errlen, "min", "%lld is above 'max' %lld", (long long)r->min,
			    (long long)r->max);
	return 0;
}

static int check_ttl_fire(const struct journal_cmd *c, char *err, size_t errlen)
{
	const struct journal_ttl_fire *f = &c->u.ttl_fire;
	if (!journal_action_valid(f->action))
		return fail(err, errlen, "action", "'%s' is not free or delete", f->action);
	return 0;
}

bool journal_job_type_valid(const char *type)
{
	return strcmp(type, "load") == 0 || strcmp(type, "free") == 0 ||
	       strcmp(type, "persist") == 0;
}

bool journal_write_type_valid(const char *t)
{
	return strcmp(t, "THROUGH") == 0 || strcmp(t, "CACHE_THROUGH") == 0 ||
	       strcmp(t, "ASYNC_THROUGH") == 0 || strcmp(t, "MUST_CACHE") == 0;
}

bool journal_persistence_valid(const char *s)
{
	return strcmp(s, "not_persisted") == 0 || strcmp(s, "persisting") == 0 ||
	       strcmp(s, "persisted") == 0 || strcmp(s, "lost") == 0;
}

static int check_put_file(const struct journal_cmd *c, char *err, size_t errlen)
{
	const char *p = c->u.put_file.persistence;
	if (p[0] && strcmp(p, "not_persisted") != 0)
		return fail(err, errlen, "persistence", "'%s' is not not_persisted", p);
	if (c->u.put_file.persist && !p[0])
		return fail(err, errlen, "persist", "only with 'persistence' not_persisted");
	return 0;
}

static int check_set_write_type(const struct journal_cmd *c, char *err, size_t errlen)
{
	const char *t = c->u.set_write_type.write_type;
	if (t[0] && !journal_write_type_valid(t))
		return fail(err, errlen, "write_type",
			    "'%s' is not THROUGH, CACHE_THROUGH, ASYNC_THROUGH or MUST_CACHE", t);
	return 0;
}

static int check_set_persistence(const struct journal_cmd *c, char *err, size_t errlen)
{
	const struct journal_set_persistence *p = &c->u.set_persistence;
	if (!journal_persistence_valid(p->state))
		return fail(err, errlen, "state",
			    "'%s' is not not_persisted, persisting, persisted or lost", p->state);
	bool persisted = strcmp(p->state, "persisted") == 0;
	if (!persisted && (p->length || p->mtime_ms || p->fingerprint[0]))
		return fail(err, errlen, "state", "only 'persisted' carries the stored content");
	return 0;
}

static int check_job_create(const struct journal_cmd *c, char *err, size_t errlen)
{
	const struct journal_job_create *j = &c->u.job_create;
	if (!journal_job_type_valid(j->type))
		return fail(err, errlen, "type", "'%s' is not load, free or persist", j->type);
	if (j->medium[0] && strcmp(j->type, "load") != 0)
		return fail(err, errlen, "medium", "only with 'type' load");
	if (j->medium[0] && !journal_medium_valid(j->medium))
		return fail(err, errlen, "medium", "'%s' is not MEM, SSD or HDD", j->medium);
	return 0;
}

static int check_job_end(const struct journal_cmd *c, char *err, size_t errlen)
{
	const char *s = c->u.job_end.state;
	if (strcmp(s, "done") != 0 && strcmp(s, "failed") != 0 && strcmp(s, "cancelled") != 0)
		return fail(err, errlen, "state", "'%s' is not done, failed or cancelled", s);
	return 0;
}

bool journal_worker_state_valid(const char *state)
{
	return strcmp(state, "active") == 0 || strcmp(state, "decommissioning") == 0 ||
	       strcmp(state, "decommissioned") == 0;
}

static int check_worker_state(const struct journal_cmd *c, char *err, size_t errlen)
{
	const struct journal_worker_state *w = &c->u.worker_state;
	if (!journal_worker_state_valid(w->state))
		return fail(err, errlen, "state",
			    "'%s' is not active, decommissioning or decommissioned", w->state);
	const char *colon = strrchr(w->address, ':');
	if (!colon || colon == w->address || !colon[1])
		return fail(err, errlen, "address", "'%s' is not host:port", w->address);
	return 0;
}

const char *journal_op_name(enum journal_op op)
{
	return op > JOURNAL_OP_NONE && op < JOURNAL_OP_COUNT ? g_ops[op].name : NULL;
}

struct journal_cmd *journal_new(enum journal_op op)
{
	struct journal_cmd *c = calloc(1, sizeof(*c));
	if (c)
		c->op = op;
	return c;
}

void journal_free(struct journal_cmd *cmd)
{
	if (!cmd)
		return;
	if (cmd->op == JOURNAL_MOUNT)
		free(cmd->u.mount.options);
	if (cmd->op == JOURNAL_MOUNT_UPDATE)
		free(cmd->u.mount_update.options);
	if (cmd->op == JOURNAL_SYNC_DIR)
		free(cmd->u.sync_dir.entries);
	free(cmd);
}

static int sync_dir_push(struct journal_sync_dir *d, const struct journal_sync_item *item)
{
	if (d->nentries == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct journal_sync_item *n = realloc(d->entries, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		d->entries = n;
		d->cap = cap;
	}
	d->entries[d->nentries++] = *item;
	return 0;
}

int journal_sync_dir_add(struct journal_cmd *cmd, const struct journal_sync_item *item)
{
	if (cmd->op != JOURNAL_SYNC_DIR)
		return -EINVAL;
	return sync_dir_push(&cmd->u.sync_dir, item);
}

int journal_mount_set_options(struct journal_cmd *cmd, const char *json)
{
	char **slot = cmd->op == JOURNAL_MOUNT	      ? &cmd->u.mount.options
		      : cmd->op == JOURNAL_MOUNT_UPDATE ? &cmd->u.mount_update.options
							: NULL;
	if (!slot)
		return -EINVAL;
	char *copy = strdup(json ? json : "{}");
	if (!copy)
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

/* ---- decode ---- */

/* Canonical decimal: digits, no leading zero (but "0"), an optional '-'
 * before a nonzero value. */
static int parse_int(const char *s, bool is_signed, uint64_t *mag, bool *neg)
{
	*neg = false;
	if (is_signed && *s == '-') {
		*neg = true;
		s++;
	}
	if (s[0] == '0' && (s[1] != '\0' || *neg))
		return -EINVAL;
	return json_parse_u64(s, mag);
}

static int decode_int(const cJSON *item, const struct field *f, const char *fname, void *dst,
		      char *err, size_t errlen)
{
	if (!cJSON_IsString(item))
		return fail(err, errlen, fname, "must be an integer in a decimal string");
	uint64_t mag;
	bool neg;
	int rc = parse_int(item->valuestring, f->type == F_I64, &mag, &neg);
	if (rc == -EINVAL)
		return fail(err, errlen, fname, "'%.40s' is not a canonical decimal integer",
			    item->valuestring);
	/* Every range lies within int64 (SQLite's integer). */
	bool out = rc == -ERANGE || (!neg && mag > (uint64_t)INT64_MAX) ||
		   (neg && mag > (uint64_t)INT64_MAX + 1);
	int64_t v = 0;
	if (!out) {
		v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
		out = v < f->min || v > f->max;
	}
	if (out)
		return fail(err, errlen, fname, "%.40s is out of range [%" PRId64 ", %" PRId64 "]",
			    item->valuestring, f->min, f->max);
	if (f->type == F_I64)
		*(int64_t *)dst = v;
	else
		*(uint64_t *)dst = (uint64_t)v;
	return 0;
}

static int decode_str(const cJSON *item, const struct field *f, const char *fname, char *dst,
		      char *err, size_t errlen)
{
	if (!cJSON_IsString(item))
		return fail(err, errlen, fname, "must be a string");
	const char *s = item->valuestring;
	size_t n = strlen(s);
	if (n >= f->size)
		return fail(err, errlen, fname, "longer than %zu bytes", f->size - 1);
	char why[256];
	if (f->type == F_PATH) {
		char norm[PATH_MAX_LEN + 1];
		if (path_normalize(s, n, norm, sizeof(norm), why, sizeof(why)) ||
		    strcmp(norm, s) != 0)
			return fail(err, errlen, fname, "'%.200s' is not a normal path", s);
	} else if (f->type == F_NAME) {
		if (path_check_name(s, n, why, sizeof(why)))
			return fail(err, errlen, fname, "'%.200s' is not a valid name: %s", s, why);
	} else if ((int64_t)n < f->min || (f->optional && n == 0)) {
		return fail(err, errlen, fname, "must not be empty%s",
			    f->optional ? " (leave it out instead)" : "");
	}
	memcpy(dst, s, n + 1);
	return 0;
}

static int decode_options(const cJSON *item, const char *fname, char **dst, char *err,
			  size_t errlen)
{
	if (!cJSON_IsObject(item))
		return fail(err, errlen, fname, "must be an object");
	const cJSON *o;
	cJSON_ArrayForEach(o, item)
	{
		if (!cJSON_IsString(o))
			return fail(err, errlen, fname, "value of '%.100s' must be a string",
				    o->string);
		for (const cJSON *p = item->child; p != o; p = p->next)
			if (strcmp(p->string, o->string) == 0)
				return fail(err, errlen, fname, "key '%.100s' given twice",
					    o->string);
	}
	char *text = cJSON_PrintUnformatted(item);
	if (!text)
		return -ENOMEM;
	if (strlen(text) > JOURNAL_OPTIONS_MAX) {
		free(text);
		return fail(err, errlen, fname, "longer than %d bytes", JOURNAL_OPTIONS_MAX);
	}
	*dst = text;
	return 0;
}

static int decode_fields(const cJSON *obj, const struct field *fields, void *base,
			 const char *prefix, bool is_root, const char *opname, char *err,
			 size_t errlen);

static int decode_entries(const cJSON *item, struct journal_sync_dir *d, char *err,
			  size_t errlen)
{
	if (!cJSON_IsArray(item))
		return fail(err, errlen, "entries", "must be an array");
	const cJSON *e;
	size_t i = 0;
	cJSON_ArrayForEach(e, item)
	{
		char prefix[40];
		snprintf(prefix, sizeof(prefix), "entries[%zu]", i++);
		if (!cJSON_IsObject(e))
			return fail(err, errlen, prefix, "must be an object");
		strcat(prefix, ".");
		struct journal_sync_item it;
		memset(&it, 0, sizeof(it));
		int rc = decode_fields(e, sync_item_fields,
				       &it,
				       prefix, false, "sync_dir entry", err, errlen);
		if (!rc)
			rc = sync_dir_push(d, &it);
		if (rc)
			return rc;
	}
	return 0;
}

static const struct field *find_field(const struct field *fields, const char *name)
{
	for (const struct field *f = fields; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* Every key of obj is known (v and op at the root) and given once. */
static int check_keys(const cJSON *obj, const struct field *fields,
		      const char *prefix, bool is_root, const char *opname, char *err,
		      size_t errlen)
{
	for (const cJSON *k = obj->child; k; k = k->next) {
		char fname[300];
		snprintf(fname, sizeof(fname), "%s%.200s", prefix, k->string);
		bool header = is_root &&
			      (strcmp(k->string, "v") == 0 || strcmp(k->string, "op") == 0);
		if (!header && !find_field(fields, k->string))
			return fail(err, errlen, fname, "unknown in a '%s' command", opname);
		for (const cJSON *p = obj->child; p != k; p = p->next)
			if (strcmp(p->string, k->string) == 0)
				return fail(err, errlen, fname, "given twice");
	}
	return 0;
}

static int decode_fields(const cJSON *obj, const struct field *fields, void *base,
			 const char *prefix, bool is_root, const char *opname, char *err,
			 size_t errlen)
{
	int rc = check_keys(obj, fields, prefix, is_root, opname, err, errlen);
	for (const struct field *f = fields; !rc && f->name; f++) {
		char fname[300];
		snprintf(fname, sizeof(fname), "%s%s", prefix, f->name);
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, f->name);
		if (!item) {
			if (!f->optional)
				rc = fail(err, errlen, fname, "missing");
			continue;
		}
		char *dst = (char *)base + f->off;
		switch (f->type) {
		case F_PATH:
		case F_NAME:
		case F_STR:
			rc = decode_str(item, f, fname, dst, err, errlen);
			break;
		case F_BOOL:
			if (!cJSON_IsBool(item))
				rc = fail(err, errlen, fname, "must be true or false");
			else if (f->optional && !cJSON_IsTrue(item))
				rc = fail(err, errlen, fname, "is given only when true");
			else
				*(bool *)dst = cJSON_IsTrue(item);
			break;
		case F_U64:
		case F_I64:
			rc = decode_int(item, f, fname, dst, err, errlen);
			break;
		case F_OPTIONS:
			rc = decode_options(item, fname, (char **)dst, err, errlen);
			break;
		case F_ENTRIES:
			rc = decode_entries(item, base, err, errlen);
			break;
		}
	}
	return rc;
}

static int decode_header(const cJSON *root, enum journal_op *op, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "v");
	if (!v)
		return fail(err, errlen, "v", "missing (the format version)");
	if (!cJSON_IsNumber(v))
		return fail(err, errlen, "v", "must be a number");
	if (v->valuedouble < JOURNAL_VERSION_MIN || v->valuedouble > JOURNAL_VERSION ||
	    v->valuedouble != (int)v->valuedouble) {
		snprintf(err, errlen, "field 'v': format version %g is not supported (this master "
			 "reads versions %d to %d)", v->valuedouble, JOURNAL_VERSION_MIN,
			 JOURNAL_VERSION);
		return -EPROTO;
	}
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "op");
	if (!o)
		return fail(err, errlen, "op", "missing");
	if (!cJSON_IsString(o))
		return fail(err, errlen, "op", "must be a string");
	for (int i = JOURNAL_OP_NONE + 1; i < JOURNAL_OP_COUNT; i++) {
		if (strcmp(g_ops[i].name, o->valuestring) == 0) {
			if (i >= JOURNAL_SET_PIN && v->valuedouble < JOURNAL_VERSION_POLICIES)
				return fail(err, errlen, "op", "'%s' needs format version %d",
					    o->valuestring, JOURNAL_VERSION_POLICIES);
			if (i >= JOURNAL_JOB_CREATE && v->valuedouble < JOURNAL_VERSION_JOBS)
				return fail(err, errlen, "op", "'%s' needs format version %d",
					    o->valuestring, JOURNAL_VERSION_JOBS);
			if (i >= JOURNAL_MOUNT_UPDATE &&
			    v->valuedouble < JOURNAL_VERSION_MOUNT_UPDATE)
				return fail(err, errlen, "op", "'%s' needs format version %d",
					    o->valuestring, JOURNAL_VERSION_MOUNT_UPDATE);
			if (i >= JOURNAL_WORKER_STATE &&
			    v->valuedouble < JOURNAL_VERSION_WORKER_STATE)
				return fail(err, errlen, "op", "'%s' needs format version %d",
					    o->valuestring, JOURNAL_VERSION_WORKER_STATE);
			if (i >= JOURNAL_SET_WRITE_TYPE &&
			    v->valuedouble < JOURNAL_VERSION_WRITE_TYPES)
				return fail(err, errlen, "op", "'%s' needs format version %d",
					    o->valuestring, JOURNAL_VERSION_WRITE_TYPES);
			*op = (enum journal_op)i;
			return 0;
		}
	}
	return fail(err, errlen, "op", "unknown command '%.100s'", o->valuestring);
}

int journal_decode(const void *data, size_t len, struct journal_cmd **out, char *err,
		   size_t errlen)
{
	const char *text = data;
	*err = '\0';
	if (len == 0 || text[0] != '{') {
		snprintf(err, errlen, "not a journal command: it must start with '{'");
		return -EINVAL;
	}
	/* cJSON would stop at a NUL inside a string and keep the prefix. */
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		snprintf(err, errlen, "not a journal command: NUL byte at offset %zu",
			 (size_t)(nul - text));
		return -EINVAL;
	}
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		/* On failure cJSON points end at the error (its global error
		 * pointer is shared between threads). */
		size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
		snprintf(err, errlen, "not a journal command: invalid JSON near offset %zu", off);
		return -EINVAL;
	}
	int rc = -EINVAL;
	struct journal_cmd *c = NULL;
	if (end != text + len) {
		snprintf(err, errlen, "not a journal command: %zu bytes after the object",
			 (size_t)(text + len - end));
		goto out;
	}
	/* It starts with '{' and parsed: an object. */
	enum journal_op op = JOURNAL_OP_NONE;
	rc = decode_header(root, &op, err, errlen);
	if (rc)
		goto out;
	c = journal_new(op);
	if (!c) {
		rc = -ENOMEM;
		goto out;
	}
	const struct op_desc *d = &g_ops[op];
	rc = decode_fields(root, d->fields, &c->u, "", true, d->name, err, errlen);
	if (!rc && d->check)
		rc = d->check(c, err, errlen);
out:
	cJSON_Delete(root);
	if (rc) {
		journal_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- encode ---- */

static cJSON *encode_int(const struct field *f, const void *src)
{
	char num[24];
	if (f->type == F_I64)
		snprintf(num, sizeof(num), "%" PRId64, *(const int64_t *)src);
	else
		snprintf(num, sizeof(num), "%" PRIu64, *(const uint64_t *)src);
	return cJSON_CreateString(num);
}

static int encode_fields(cJSON *obj, const struct field *fields, const void *base,
			 const char *prefix, char *err, size_t errlen);

static cJSON *encode_entries(const struct journal_sync_dir *d, char *err, size_t errlen,
			     int *rc)
{
	cJSON *arr = cJSON_CreateArray();
	*rc = arr ? 0 : -ENOMEM;
	for (size_t i = 0; !*rc && i < d->nentries; i++) {
		char prefix[40];
		snprintf(prefix, sizeof(prefix), "entries[%zu].", i);
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			*rc = -ENOMEM;
			break;
		}
		*rc = encode_fields(o, sync_item_fields,
				    &d->entries[i], prefix, err, errlen);
	}
	return arr;
}

static int encode_fields(cJSON *obj, const struct field *fields, const void *base,
			 const char *prefix, char *err, size_t errlen)
{
	for (const struct field *f = fields; f->name; f++) {
		const char *src = (const char *)base + f->off;
		char fname[300];
		snprintf(fname, sizeof(fname), "%s%s", prefix, f->name);
		cJSON *item = NULL;
		int rc = 0;
		switch (f->type) {
		case F_PATH:
		case F_NAME:
		case F_STR:
			if (strnlen(src, f->size) == f->size)
				return fail(err, errlen, fname, "not terminated within %zu bytes",
					    f->size);
			if (f->optional && !*src)
				continue;
			item = cJSON_CreateString(src);
			break;
		case F_BOOL:
			if (f->optional && !*(const bool *)src)
				continue;
			item = cJSON_CreateBool(*(const bool *)src);
			break;
		case F_U64:
		case F_I64:
			if (f->optional && *(const uint64_t *)src == 0)
				continue;
			item = encode_int(f, src);
			break;
		case F_OPTIONS: {
			const char *text = *(char *const *)src;
			item = cJSON_Parse(text ? text : "{}");
			if (!item)
				return fail(err, errlen, fname, "is not JSON");
			break;
		}
		case F_ENTRIES:
			item = encode_entries(base, err, errlen, &rc);
			break;
		}
		if (rc || !item || !cJSON_AddItemToObject(obj, f->name, item)) {
			cJSON_Delete(item);
			return rc ? rc : -ENOMEM;
		}
	}
	return 0;
}

int journal_encode(const struct journal_cmd *cmd, char **out, size_t *len, char *err,
		   size_t errlen)
{
	*err = '\0';
	const char *name = journal_op_name(cmd->op);
	if (!name) {
		snprintf(err, errlen, "field 'op': unknown command type %d", (int)cmd->op);
		return -EINVAL;
	}
	const struct op_desc *d = &g_ops[cmd->op];
	cJSON *root = cJSON_CreateObject();
	int rc = -ENOMEM;
	char *text = NULL;
	if (!root || !cJSON_AddNumberToObject(root, "v", JOURNAL_VERSION) ||
	    !cJSON_AddStringToObject(root, "op", name))
		goto out;
	rc = encode_fields(root, d->fields, &cmd->u, "", err, errlen);
	if (rc)
		goto out;
	text = cJSON_PrintUnformatted(root);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	/* What a follower could not decode never reaches the log. */
	struct journal_cmd *check = NULL;
	rc = journal_decode(text, strlen(text), &check, err, errlen);
	journal_free(check);
out:
	cJSON_Delete(root);
	if (rc) {
		free(text);
		return rc;
	}
	*out = text;
	*len = strlen(text);
	return 0;
}

/* ---- equality ---- */

static bool fields_equal(const struct field *fields, const void *a, const void *b)
{
	for (const struct field *f = fields; f->name; f++) {
		const char *pa = (const char *)a + f->off, *pb = (const char *)b + f->off;
		switch (f->type) {
		case F_PATH:
		case F_NAME:
		case F_STR:
			if (strncmp(pa, pb, f->size) != 0)
				return false;
			break;
		case F_BOOL:
			if (*(const bool *)pa != *(const bool *)pb)
				return false;
			break;
		case F_U64:
		case F_I64:
			if (*(const uint64_t *)pa != *(const uint64_t *)pb)
				return false;
			break;
		case F_OPTIONS: {
			const char *ta = *(char *const *)pa, *tb = *(char *const *)pb;
			if (strcmp(ta ? ta : "{}", tb ? tb : "{}") != 0)
				return false;
			break;
		}
		case F_ENTRIES: {
			const struct journal_sync_dir *da = a, *db = b;
			if (da->nentries != db->nentries)
				return false;
			for (size_t j = 0; j < da->nentries; j++)
				if (!fields_equal(sync_item_fields, &da->entries[j],
						  &db->entries[j]))
					return false;
			break;
		}
		}
	}
	return true;
}

bool journal_equal(const struct journal_cmd *a, const struct journal_cmd *b)
{
	if (a->op != b->op || !journal_op_name(a->op))
		return false;
	const struct op_desc *d = &g_ops[a->op];
	return fields_equal(d->fields, &a->u, &b->u);
}
