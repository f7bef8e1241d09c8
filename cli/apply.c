/* `strata apply FILE`: a declarative description of mounts and per-path
 * policies, compared with the cluster and applied item by item (docs/
 * automation.md). Every change goes through the same idempotent REST calls
 * the other commands use; --dry-run only reads. */
#include "cli/cli.h"
#include "client/client.h"
#include "lib/conf.h"
#include "lib/err.h"
#include "lib/path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPLY_MAX_FILE (16 << 20)

void cli_apply_usage(FILE *f)
{
	fprintf(f,
		"  apply [--dry-run] FILE\n"
		"                    make the cluster match a JSON description of mounts and\n"
		"                    per-path policies ('-': standard input); prints each item\n"
		"                    as unchanged (=), added/set (+), cleared (-) or failed (!);\n"
		"                    --dry-run says what it would change; exit 1 naming every\n"
		"                    item that failed (docs/automation.md)\n");
}

/* One line of the report, and its JSON twin. */
struct report {
	bool json, dry;
	cJSON *items;
	int failed, changed;
};

static void note(struct report *r, char mark, const char *kind, const char *path,
		 const char *what, const char *detail)
{
	if (mark == '!')
		r->failed++;
	else if (mark != '=')
		r->changed++;
	if (r->json) {
		cJSON *o = cJSON_CreateObject();
		static const struct {
			char mark;
			const char *name;
		} states[] = { { '=', "unchanged" }, { '+', "set" }, { '-', "cleared" },
			       { '!', "failed" } };
		const char *state = "set";
		for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			if (states[i].mark == mark)
				state = states[i].name;
		cJSON_AddStringToObject(o, "kind", kind);
		cJSON_AddStringToObject(o, "path", path);
		cJSON_AddStringToObject(o, "item", what);
		cJSON_AddStringToObject(o, "state", state);
		cJSON_AddBoolToObject(o, "dry_run", r->dry && mark != '=' && mark != '!');
		if (detail && *detail)
			cJSON_AddStringToObject(o, mark == '!' ? "error" : "detail", detail);
		cJSON_AddItemToArray(r->items, o);
		return;
	}
	const char *would = r->dry && mark != '=' && mark != '!' ? "would be " : "";
	static const char *const verbs[] = { "unchanged", "set", "cleared", "failed" };
	const char *verb = mark == '=' ? verbs[0] : mark == '+' ? verbs[1] : mark == '-' ? verbs[2]
											    : verbs[3];
	printf("%c %s %s %s: %s%s%s%s\n", mark, kind, path, what, would, verb,
	       detail && *detail ? ": " : "", detail ? detail : "");
}

static char *read_all(const char *file, char *err, size_t errlen)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open '%s': %s", file, strerror(errno));
		return NULL;
	}
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n < cap)
			break;
		if (cap >= APPLY_MAX_FILE) {
			snprintf(err, errlen, "'%s' is larger than %d MiB", file, APPLY_MAX_FILE >> 20);
			free(buf);
			buf = NULL;
			break;
		}
		char *more = realloc(buf, cap * 2 + 1);
		if (!more) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = more;
		cap *= 2;
	}
	if (buf && ferror(f)) {
		snprintf(err, errlen, "cannot read '%s': %s", file, strerror(errno));
		free(buf);
		buf = NULL;
	} else if (!buf && !*err) {
		snprintf(err, errlen, "out of memory");
	}
	if (f != stdin)
		fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

/* ---- validation: the whole file is checked before anything is sent ---- */

static int bad(char *err, size_t errlen, const char *where, const char *why)
{
	snprintf(err, errlen, "%.60s: %.900s", where, why);
	return -EINVAL;
}

static int check_path(const cJSON *item, const char *where, char *err, size_t errlen)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(item, "path");
	char why[256], norm[PATH_MAX_LEN + 1];
	if (!cJSON_IsString(p))
		return bad(err, errlen, where, "'path' (a string) is required");
	if (path_normalize(p->valuestring, strlen(p->valuestring), norm, sizeof(norm), why,
			   sizeof(why))) {
		char msg[400];
		snprintf(msg, sizeof(msg), "'path' %s", why);
		return bad(err, errlen, where, msg);
	}
	if (strcmp(norm, p->valuestring) != 0) {
		char msg[400];
		snprintf(msg, sizeof(msg), "'path' must be written as '%.300s'", norm);
		return bad(err, errlen, where, msg);
	}
	return 0;
}

static int only_keys(const cJSON *o, const char *const *keys, const char *where, char *err,
		     size_t errlen)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, o)
	{
		bool known = false;
		for (size_t i = 0; keys[i]; i++)
			known |= strcmp(c->string, keys[i]) == 0;
		if (!known) {
			char msg[300];
			snprintf(msg, sizeof(msg), "unknown field '%.200s'", c->string);
			return bad(err, errlen, where, msg);
		}
	}
	return 0;
}

static int check_mount(const cJSON *m, const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = { "path", "uri", "readonly", "options", NULL };
	if (!cJSON_IsObject(m))
		return bad(err, errlen, where, "must be an object");
	int rc = only_keys(m, keys, where, err, errlen);
	if (!rc)
		rc = check_path(m, where, err, errlen);
	const cJSON *uri = cJSON_GetObjectItemCaseSensitive(m, "uri");
	const cJSON *ro = cJSON_GetObjectItemCaseSensitive(m, "readonly");
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(m, "options"), *o;
	if (!rc && !cJSON_IsString(uri))
		rc = bad(err, errlen, where, "'uri' (a string such as s3://bucket/prefix) is required");
	if (!rc && ro && !cJSON_IsBool(ro))
		rc = bad(err, errlen, where, "'readonly' must be true or false");
	if (!rc && opts && !cJSON_IsObject(opts))
		rc = bad(err, errlen, where, "'options' must be an object of strings");
	cJSON_ArrayForEach(o, opts)
	{
		if (!rc && !cJSON_IsString(o)) {
			char msg[300];
			snprintf(msg, sizeof(msg), "option '%.200s' must be a string", o->string);
			rc = bad(err, errlen, where, msg);
		}
	}
	return rc;
}

/* The replication bound the master takes (journal's JOURNAL_REPL_MAX). */
#define APPLY_REPL_MAX 64

static bool int_in(const cJSON *v, double lo, double hi)
{
	return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi &&
	       v->valuedouble == (double)(int64_t)v->valuedouble;
}

static bool write_type_known(const char *t)
{
	static const char *const types[] = { "THROUGH", "CACHE_THROUGH", "ASYNC_THROUGH",
					     "MUST_CACHE" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i]) == 0)
			return true;
	return false;
}

static int check_policy(const cJSON *p, const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = { "path",	   "recursive",	 "pin", "ttl",
					    "replication", "write_type", NULL };
	if (!cJSON_IsObject(p))
		return bad(err, errlen, where, "must be an object");
	int rc = only_keys(p, keys, where, err, errlen);
	if (!rc)
		rc = check_path(p, where, err, errlen);
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(p, "recursive");
	if (!rc && rec && !cJSON_IsBool(rec))
		rc = bad(err, errlen, where, "'recursive' must be true or false");
	const cJSON *pin = cJSON_GetObjectItemCaseSensitive(p, "pin");
	const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(p, "ttl");
	const cJSON *repl = cJSON_GetObjectItemCaseSensitive(p, "replication");
	const cJSON *wt = cJSON_GetObjectItemCaseSensitive(p, "write_type");
	if (!rc && !pin && !ttl && !repl && !wt)
		rc = bad(err, errlen, where, "names no policy (pin, ttl, replication or write_type)");
	if (!rc && wt && !cJSON_IsFalse(wt) &&
	    (!cJSON_IsString(wt) || !write_type_known(wt->valuestring)))
		rc = bad(err, errlen, where,
			 "'write_type' must be THROUGH, CACHE_THROUGH, ASYNC_THROUGH, MUST_CACHE "
			 "or false");
	if (!rc && pin && !cJSON_IsFalse(pin)) {
		static const char *const pk[] = { "medium", NULL };
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(pin, "medium");
		if (!cJSON_IsObject(pin))
			rc = bad(err, errlen, where, "'pin' must be an object or false");
		else if (!(rc = only_keys(pin, pk, where, err, errlen)) && m &&
			 (!cJSON_IsString(m) || (strcmp(m->valuestring, "MEM") &&
						 strcmp(m->valuestring, "SSD") &&
						 strcmp(m->valuestring, "HDD"))))
			rc = bad(err, errlen, where, "'pin.medium' must be MEM, SSD or HDD");
	}
	if (!rc && ttl && !cJSON_IsFalse(ttl)) {
		static const char *const tk[] = { "duration", "action", NULL };
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(ttl, "duration");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(ttl, "action");
		int64_t ms = 0;
		if (!cJSON_IsObject(ttl))
			rc = bad(err, errlen, where, "'ttl' must be an object or false");
		else if (!(rc = only_keys(ttl, tk, where, err, errlen)) &&
			 (!cJSON_IsString(d) || conf_parse_duration(d->valuestring, &ms) || ms <= 0))
			rc = bad(err, errlen, where,
				 "'ttl.duration' must be a duration above 0 such as 90s, 12h or 7d");
		else if (!rc && a &&
			 (!cJSON_IsString(a) ||
			  (strcmp(a->valuestring, "free") && strcmp(a->valuestring, "delete"))))
			rc = bad(err, errlen, where, "'ttl.action' must be free or delete");
	}
	if (!rc && repl && !cJSON_IsFalse(repl)) {
		static const char *const rk[] = { "min", "max", NULL };
		const cJSON *mn = cJSON_GetObjectItemCaseSensitive(repl, "min");
		const cJSON *mx = cJSON_GetObjectItemCaseSensitive(repl, "max");
		if (!cJSON_IsObject(repl))
			rc = bad(err, errlen, where, "'replication' must be an object or false");
		else if (!(rc = only_keys(repl, rk, where, err, errlen)) && mn &&
			 !int_in(mn, 0, APPLY_REPL_MAX))
			rc = bad(err, errlen, where, "'replication.min' must be an integer in 0..64");
		else if (!rc && mx && !cJSON_IsNull(mx) && !int_in(mx, -1, -1) &&
			 !int_in(mx, 1, APPLY_REPL_MAX) &&
			 !(cJSON_IsString(mx) && strcmp(mx->valuestring, "unbounded") == 0))
			rc = bad(err, errlen, where,
				 "'replication.max' must be an integer in 1..64, or null, -1 or "
				 "\"unbounded\" (no maximum)");
		else if (!rc && mn && mx && int_in(mx, 1, APPLY_REPL_MAX) &&
			 mn->valuedouble > mx->valuedouble)
			rc = bad(err, errlen, where, "'replication.min' is above 'replication.max'");
	}
	return rc;
}

static int check_doc(const cJSON *doc, char *err, size_t errlen)
{
	static const char *const keys[] = { "mounts", "policies", NULL };
	if (!cJSON_IsObject(doc))
		return bad(err, errlen, "the file", "must hold one JSON object");
	int rc = only_keys(doc, keys, "the file", err, errlen);
	const cJSON *mounts = cJSON_GetObjectItemCaseSensitive(doc, "mounts");
	const cJSON *pols = cJSON_GetObjectItemCaseSensitive(doc, "policies"), *it;
	if (!rc && mounts && !cJSON_IsArray(mounts))
		rc = bad(err, errlen, "the file", "'mounts' must be an array");
	if (!rc && pols && !cJSON_IsArray(pols))
		rc = bad(err, errlen, "the file", "'policies' must be an array");
	int i = 0;
	cJSON_ArrayForEach(it, mounts)
	{
		char where[32];
		snprintf(where, sizeof(where), "mounts[%d]", i++);
		if (!rc)
			rc = check_mount(it, where, err, errlen);
	}
	i = 0;
	cJSON_ArrayForEach(it, pols)
	{
		char where[32];
		snprintf(where, sizeof(where), "policies[%d]", i++);
		if (!rc)
			rc = check_policy(it, where, err, errlen);
	}
	return rc;
}

/* ---- mounts ---- */

static const cJSON *find_mount(const struct client_mount_list *l, const char *path)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(l->json, "mounts"), *m;
	cJSON_ArrayForEach(m, arr)
	{
		const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "path"));
		if (p && strcmp(p, path) == 0)
			return m;
	}
	return NULL;
}

/* How the wanted mount differs from the existing one ("" when it does
 * not). Secret options are shown masked by the master, so a secret that is
 * set on both sides counts as the same. */
static void mount_diff(const cJSON *want, const cJSON *have, char *out, size_t len)
{
	*out = '\0';
	const char *wu = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, "uri"));
	const char *hu = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(have, "uri"));
	if (!hu || strcmp(wu, hu) != 0) {
		snprintf(out, len, "its store is %s, not %s", hu ? hu : "?", wu);
		return;
	}
	bool wro = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(want, "readonly"));
	bool hro = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(have, "readonly"));
	if (wro != hro) {
		snprintf(out, len, "it is %s, not %s", hro ? "read-only" : "read-write",
			 wro ? "read-only" : "read-write");
		return;
	}
	const cJSON *wo = cJSON_GetObjectItemCaseSensitive(want, "options");
	const cJSON *ho = cJSON_GetObjectItemCaseSensitive(have, "options"), *o;
	cJSON_ArrayForEach(o, wo)
	{
		const char *hv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ho, o->string));
		bool secret = hv && strcmp(hv, "***") == 0;
		if (!hv || (!secret && strcmp(hv, o->valuestring) != 0)) {
			snprintf(out, len, "option %s is %s, not %s", o->string, hv ? hv : "unset",
				 o->valuestring);
			return;
		}
	}
}

static void apply_mount(struct cli *cli, struct report *r, const cJSON *m,
			const struct client_mount_list *have)
{
	const char *path = cJSON_GetObjectItemCaseSensitive(m, "path")->valuestring;
	const char *uri = cJSON_GetObjectItemCaseSensitive(m, "uri")->valuestring;
	const cJSON *now = find_mount(have, path);
	char diff[512], err[1024] = "";
	if (now) {
		mount_diff(m, now, diff, sizeof(diff));
		if (!*diff) {
			note(r, '=', "mount", path, uri, NULL);
		} else {
			char msg[700];
			snprintf(msg, sizeof(msg),
				 "already mounted differently (%s); unmount it first to change it",
				 diff);
			note(r, '!', "mount", path, uri, msg);
		}
		return;
	}
	if (r->dry) {
		note(r, '+', "mount", path, uri, NULL);
		return;
	}
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(m, "options"), *o;
	size_t n = (size_t)cJSON_GetArraySize(opts), k = 0;
	char **kv = calloc(n ? n : 1, sizeof(*kv));
	int rc = kv ? 0 : -ENOMEM;
	cJSON_ArrayForEach(o, opts)
	{
		if (rc)
			break;
		size_t len = strlen(o->string) + strlen(o->valuestring) + 2;
		if (!(kv[k] = malloc(len)))
			rc = -ENOMEM;
		else
			snprintf(kv[k++], len, "%s=%s", o->string, o->valuestring);
	}
	if (!rc)
		rc = client_mount_add(cli->masters, cli->http, path, uri,
				      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "readonly")),
				      (const char *const *)kv, k, err, sizeof(err));
	for (size_t i = 0; i < k; i++)
		free(kv[i]);
	free(kv);
	if (rc)
		note(r, '!', "mount", path, uri, rc == -ENOMEM ? "out of memory" : err);
	else
		note(r, '+', "mount", path, uri, NULL);
}

/* ---- policies ---- */

static void fmt_ms(int64_t ms, char *buf, size_t len)
{
	if (ms % 86400000 == 0)
		snprintf(buf, len, "%" PRId64 "d", ms / 86400000);
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%" PRId64 "h", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%" PRId64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%" PRId64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRId64 "ms", ms);
}

/* "1..3", "0..unbounded" */
static void fmt_repl(int64_t min, int64_t max, char *buf, size_t len)
{
	if (max < 0)
		snprintf(buf, len, "%" PRId64 "..unbounded", min);
	else
		snprintf(buf, len, "%" PRId64 "..%" PRId64, min, max);
}

/* Sets or clears one policy of path (want NULL: not named; false: clear). */
static void apply_one(struct cli *cli, struct report *r, const char *path, bool recursive,
		      enum client_policy kind, const cJSON *want, const struct client_inode *now)
{
	if (!want)
		return;
	static const char *const names[] = { "pin", "ttl", "replication", "write_type" };
	const char *what = names[kind];
	char wanted[128] = "", had[128] = "";
	bool same = false;
	struct client_policy_req req = { .kind = kind, .recursive = recursive };
	if (kind == CLIENT_POLICY_PIN) {
		snprintf(had, sizeof(had), "%s", now->pinned ? (*now->pin_medium ? now->pin_medium
										 : "any tier")
							      : "unpinned");
		if (!cJSON_IsFalse(want)) {
			req.medium = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, "medium"));
			snprintf(wanted, sizeof(wanted), "%s", req.medium ? req.medium : "any tier");
			same = now->pinned && strcmp(now->pin_medium, req.medium ? req.medium : "") == 0;
		} else {
			snprintf(wanted, sizeof(wanted), "unpinned");
			same = !now->pinned;
		}
	} else if (kind == CLIENT_POLICY_TTL) {
		char d[32];
		fmt_ms(now->ttl_ms, d, sizeof(d));
		if (now->ttl_ms > 0)
			snprintf(had, sizeof(had), "%s then %s", d, now->ttl_action);
		else
			snprintf(had, sizeof(had), "none");
		if (!cJSON_IsFalse(want)) {
			conf_parse_duration(cJSON_GetObjectItemCaseSensitive(want, "duration")->valuestring,
					    &req.ttl_ms);
			req.action = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, "action"));
			fmt_ms(req.ttl_ms, d, sizeof(d));
			snprintf(wanted, sizeof(wanted), "%s then %s", d,
				 req.action ? req.action : "delete");
			same = now->ttl_ms == req.ttl_ms &&
			       strcmp(now->ttl_action, req.action ? req.action : "delete") == 0;
		} else {
			snprintf(wanted, sizeof(wanted), "none");
			same = now->ttl_ms <= 0;
		}
	} else if (kind == CLIENT_POLICY_REPLICATION) {
		fmt_repl(now->repl_min, now->repl_max, had, sizeof(had));
		if (!cJSON_IsFalse(want)) {
			const cJSON *mn = cJSON_GetObjectItemCaseSensitive(want, "min");
			const cJSON *mx = cJSON_GetObjectItemCaseSensitive(want, "max");
			req.min = mn ? (int64_t)mn->valuedouble : 0;
			req.max = cJSON_IsNumber(mx) ? (int64_t)mx->valuedouble : -1;
			fmt_repl(req.min, req.max, wanted, sizeof(wanted));
			same = now->repl_min == req.min &&
			       (now->repl_max == req.max || (now->repl_max < 0 && req.max < 0));
		} else {
			fmt_repl(0, -1, wanted, sizeof(wanted));
			same = now->repl_min == 0 && now->repl_max < 0;
		}
	} else {
		const char *have = now->write_type ? now->write_type : "";
		snprintf(had, sizeof(had), "%s", *have ? have : "default");
		if (!cJSON_IsFalse(want)) {
			req.write_type = want->valuestring;
			snprintf(wanted, sizeof(wanted), "%s", req.write_type);
			same = strcmp(have, req.write_type) == 0;
		} else {
			snprintf(wanted, sizeof(wanted), "default");
			same = !*have;
		}
	}
	char detail[300];
	/* A recursive item is always sent: what is below may differ even when
	 * the path itself matches (the server changes nothing that matches). */
	if (same && !recursive) {
		note(r, '=', "policy", path, what, wanted);
		return;
	}
	char mark = cJSON_IsFalse(want) ? '-' : '+';
	snprintf(detail, sizeof(detail), "%s (was %s)%s", wanted, had,
		 recursive ? ", and below" : "");
	if (r->dry) {
		note(r, same ? '=' : mark, "policy", path, what, detail);
		return;
	}
	char err[1024] = "";
	bool changed = false;
	struct client_inode after;
	int rc = cJSON_IsFalse(want)
			 ? client_policy_clear(cli->masters, cli->http, kind, path, recursive,
					       &changed, &after, err, sizeof(err))
			 : client_policy_set(cli->masters, cli->http, path, &req, &changed, &after,
					     err, sizeof(err));
	if (!rc)
		client_inode_clear(&after);
	if (rc)
		note(r, '!', "policy", path, what, err);
	else
		note(r, changed ? mark : '=', "policy", path, what, changed ? detail : wanted);
}

static void apply_policy(struct cli *cli, struct report *r, const cJSON *p)
{
	const char *path = cJSON_GetObjectItemCaseSensitive(p, "path")->valuestring;
	bool recursive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "recursive"));
	struct client_inode now;
	char err[1024] = "";
	int rc = client_fs_stat(cli->masters, cli->http, path, &now, err, sizeof(err));
	if (rc) {
		note(r, '!', "policy", path, "path", err);
		return;
	}
	apply_one(cli, r, path, recursive, CLIENT_POLICY_PIN,
		  cJSON_GetObjectItemCaseSensitive(p, "pin"), &now);
	apply_one(cli, r, path, recursive, CLIENT_POLICY_TTL,
		  cJSON_GetObjectItemCaseSensitive(p, "ttl"), &now);
	apply_one(cli, r, path, recursive, CLIENT_POLICY_REPLICATION,
		  cJSON_GetObjectItemCaseSensitive(p, "replication"), &now);
	apply_one(cli, r, path, recursive, CLIENT_POLICY_WRITE_TYPE,
		  cJSON_GetObjectItemCaseSensitive(p, "write_type"), &now);
	client_inode_clear(&now);
}

int cli_apply(struct cli *cli, int argc, char **argv)
{
	struct report r = { .json = cli->json };
	const char *file = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0) {
			r.dry = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			r.json = true;
		} else if (!file && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
			file = argv[i];
		} else {
			fprintf(stderr, "strata: apply: unexpected '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!file) {
		fprintf(stderr, "strata: apply: which file? (strata apply [--dry-run] FILE)\n");
		return 2;
	}
	char err[1024] = "";
	char *text = read_all(file, err, sizeof(err));
	if (!text) {
		fprintf(stderr, "strata: apply: %s\n", err);
		return 1;
	}
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithOpts(text, &end, true);
	if (!doc) {
		long at = end ? (long)(end - text) : 0;
		fprintf(stderr, "strata: apply: '%s' is not valid JSON (near byte %ld)\n", file, at);
		free(text);
		return 1;
	}
	free(text);
	if (check_doc(doc, err, sizeof(err))) {
		fprintf(stderr, "strata: apply: %s: %s (nothing was changed)\n", file, err);
		cJSON_Delete(doc);
		return 1;
	}
	struct client_mount_list have;
	int rc = client_mount_list(cli->masters, cli->http, &have, err, sizeof(err));
	if (rc) {
		cJSON_Delete(doc);
		return cli_fail(rc, err);
	}
	r.items = r.json ? cJSON_CreateArray() : NULL;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "mounts"))
		apply_mount(cli, &r, it, &have);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "policies"))
		apply_policy(cli, &r, it);
	client_mount_list_clear(&have);
	if (r.json) {
		cJSON *out = cJSON_CreateObject();
		cJSON_AddBoolToObject(out, "dry_run", r.dry);
		cJSON_AddNumberToObject(out, "changed", r.changed);
		cJSON_AddNumberToObject(out, "failed", r.failed);
		cJSON_AddItemToObject(out, "items", r.items);
		cli_print_json(out);
		cJSON_Delete(out);
	} else {
		printf("%d %s, %d failed%s\n", r.changed,
		       r.dry ? "to change" : "changed", r.failed, r.dry ? " (dry run: nothing sent)" : "");
	}
	if (r.failed && !r.json)
		fprintf(stderr, "strata: apply: %d item%s failed (marked !)\n", r.failed,
			r.failed == 1 ? "" : "s");
	cJSON_Delete(doc);
	return r.failed ? 1 : 0;
}
