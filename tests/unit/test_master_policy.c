/* Tests the policy model: the set_pin / set_ttl / set_replication /
 * ttl_fire commands applied to the namespace (daemon/master/ns_apply.c:
 * one inode or a subtree, inherited by inodes created later under a
 * directory, a mount's default TTL, the TTL checker's queries), and
 * policy_set (daemon/master/policy.c) on a real metadata service with a
 * local mount: every refused request names its field, nothing is proposed
 * twice for the same policy, a TTL that deletes never reaches a read-only
 * mount. */
#include "daemon/master/events.h"
#include "daemon/master/fs.h"
#include "daemon/master/journal.h"
#include "daemon/master/meta.h"
#include "daemon/master/ns.h"
#include "daemon/master/policy.h"
#include "daemon/master/ttlcheck.h"
#include "lib/err.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
	char dir[64];
	struct ns *ns;
	uint64_t index;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/strata-test-policy.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	char db[128], err[512];
	snprintf(db, sizeof(db), "%s/ns.db", f->dir);
	if (ns_open(db, &f->ns, err, sizeof(err)))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ns_close(f->ns);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Applies the command in json (the wire form) as the next entry; returns
 * the apply's rc, the result in *res when given. */
static int apply_res(struct fixture *f, const char *json, struct ns_result *res)
{
	struct journal_cmd *c = NULL;
	char err[512] = "";
	int rc = journal_decode(json, strlen(json), &c, err, sizeof(err));
	if (rc)
		print_error("%s: %s\n", json, err);
	assert_int_equal(rc, 0);
	rc = ns_apply(f->ns, ++f->index, c, res, err, sizeof(err));
	journal_free(c);
	return rc;
}

static int apply(struct fixture *f, const char *json)
{
	return apply_res(f, json, NULL);
}

static struct ns_inode look(struct fixture *f, const char *path)
{
	struct ns_inode n;
	assert_int_equal(ns_lookup(f->ns, path, &n), 0);
	return n;
}

#define MKDIR(p, t) "{\"v\":2,\"op\":\"mkdir\",\"path\":\"" p "\",\"parents\":true," \
		    "\"time_ms\":\"" t "\"}"
#define PUT(p, t) "{\"v\":2,\"op\":\"put_file\",\"path\":\"" p "\",\"time_ms\":\"" t "\"," \
		  "\"length\":\"1\",\"mtime_ms\":\"1\",\"fingerprint\":\"x\"}"
#define PIN(p, rec, pinned, rest) "{\"v\":2,\"op\":\"set_pin\",\"path\":\"" p "\"," \
				  "\"recursive\":" rec ",\"pinned\":" pinned rest "}"
#define TTL(p, rec, ms, rest, t) "{\"v\":2,\"op\":\"set_ttl\",\"path\":\"" p "\","     \
				 "\"recursive\":" rec ",\"ttl_ms\":\"" ms "\"" rest "," \
				 "\"time_ms\":\"" t "\"}"
#define REPL(p, rec, min, max) "{\"v\":2,\"op\":\"set_replication\",\"path\":\"" p "\"," \
			       "\"recursive\":" rec ",\"min\":\"" min "\",\"max\":\"" max "\"}"

/* A policy on one inode, or on a whole subtree; unset again. */
static void test_set_one_and_recursive(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(apply(f, MKDIR("/d/e", "1")), 0);
	assert_int_equal(apply(f, PUT("/d/f", "1")), 0);
	assert_int_equal(apply(f, PUT("/d/e/g", "1")), 0);

	struct ns_result res;
	assert_int_equal(apply_res(f, PIN("/d", "false", "true", ",\"medium\":\"MEM\""), &res), 0);
	assert_int_equal(res.changed, 1);
	struct ns_inode n = look(f, "/d");
	assert_true(n.pinned);
	assert_string_equal(n.pin_medium, "MEM");
	assert_false(look(f, "/d/f").pinned);

	assert_int_equal(apply_res(f, PIN("/d", "true", "true", ",\"medium\":\"SSD\""), &res), 0);
	assert_int_equal(res.changed, 4); /* /d, /d/e, /d/f, /d/e/g */
	assert_string_equal(look(f, "/d/e/g").pin_medium, "SSD");
	assert_false(look(f, "/").pinned);

	assert_int_equal(apply(f, PIN("/d", "true", "false", "")), 0);
	n = look(f, "/d/e/g");
	assert_false(n.pinned);
	assert_string_equal(n.pin_medium, "");

	/* TTL: files expire time_ms + ttl_ms; a directory keeps it for its
	 * children and never expires itself. */
	assert_int_equal(apply(f, TTL("/d", "true", "500", ",\"action\":\"free\"", "1000")), 0);
	n = look(f, "/d/f");
	assert_int_equal(n.ttl_ms, 500);
	assert_string_equal(n.ttl_action, "free");
	assert_int_equal(n.ttl_expiry_ms, 1500);
	n = look(f, "/d/e");
	assert_int_equal(n.ttl_ms, 500);
	assert_int_equal(n.ttl_expiry_ms, 0);
	assert_int_equal(apply(f, TTL("/d/f", "false", "0", "", "2000")), 0);
	n = look(f, "/d/f");
	assert_int_equal(n.ttl_ms, 0);
	assert_string_equal(n.ttl_action, "");
	assert_int_equal(n.ttl_expiry_ms, 0);
	assert_int_equal(look(f, "/d/e/g").ttl_expiry_ms, 1500);

	assert_int_equal(apply(f, REPL("/d/e", "false", "2", "3")), 0);
	n = look(f, "/d/e");
	assert_int_equal(n.repl_min, 2);
	assert_int_equal(n.repl_max, 3);
	n = look(f, "/d/e/g");
	assert_int_equal(n.repl_min, 0);
	assert_int_equal(n.repl_max, -1);

	/* A missing path fails (the same on every master) and changes nothing. */
	assert_int_equal(apply(f, PIN("/nope", "false", "true", "")), -ENOENT);
	assert_int_equal(apply(f, TTL("/d/nope", "true", "5", ",\"action\":\"free\"", "1")),
			 -ENOENT);
	assert_int_equal(apply(f, REPL("/d/f/x", "false", "1", "1")), -ENOENT);
}

/* What a directory holds is inherited by inodes created under it later,
 * by every command that creates them; a TTL counts from their creation. */
static void test_inherited_by_new_children(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(apply(f, MKDIR("/p", "1")), 0);
	assert_int_equal(apply(f, PIN("/p", "false", "true", ",\"medium\":\"HDD\"")), 0);
	assert_int_equal(apply(f, TTL("/p", "false", "100", ",\"action\":\"delete\"", "5")), 0);
	assert_int_equal(apply(f, REPL("/p", "false", "1", "-1")), 0);

	assert_int_equal(apply(f, PUT("/p/a/b/file", "700")), 0); /* parents too */
	assert_int_equal(apply(f, "{\"v\":2,\"op\":\"sync_dir\",\"path\":\"/p\",\"time_ms\":"
				  "\"800\",\"entries\":[{\"name\":\"s\",\"is_dir\":false,"
				  "\"length\":\"1\",\"mtime_ms\":\"1\",\"fingerprint\":\"\"},"
				  "{\"name\":\"a\",\"is_dir\":true,\"length\":\"0\","
				  "\"mtime_ms\":\"1\",\"fingerprint\":\"\"}]}"),
			 0);
	assert_int_equal(apply(f, "{\"v\":2,\"op\":\"sync_entry\",\"path\":\"/p/a/e\","
				  "\"time_ms\":\"900\",\"exists\":true,\"is_dir\":false,"
				  "\"length\":\"1\",\"mtime_ms\":\"1\",\"fingerprint\":\"\"}"),
			 0);
	const char *const files[] = { "/p/a/b/file", "/p/s", "/p/a/e" };
	const int64_t expiry[] = { 800, 900, 1000 };
	for (int i = 0; i < 3; i++) {
		struct ns_inode n = look(f, files[i]);
		assert_true(n.pinned);
		assert_string_equal(n.pin_medium, "HDD");
		assert_int_equal(n.ttl_ms, 100);
		assert_string_equal(n.ttl_action, "delete");
		assert_int_equal(n.ttl_expiry_ms, expiry[i]);
		assert_int_equal(n.repl_min, 1);
		assert_int_equal(n.repl_max, -1);
	}
	struct ns_inode d = look(f, "/p/a/b");
	assert_true(d.pinned);
	assert_int_equal(d.ttl_expiry_ms, 0);
	/* Outside the directory: nothing. */
	assert_int_equal(apply(f, PUT("/q", "1")), 0);
	assert_false(look(f, "/q").pinned);
	assert_int_equal(look(f, "/q").ttl_ms, 0);
}

/* A mount's ttl / ttl_action options become the mount point's TTL. */
static void test_mount_default_ttl(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(apply(f, "{\"v\":2,\"op\":\"mount\",\"path\":\"/m\",\"uri\":\"file:///x\","
				  "\"readonly\":false,\"options\":{\"ttl\":\"1h\",\"ttl_action\":"
				  "\"free\"},\"block_size\":\"1048576\",\"sync_interval_ms\":\"-1\","
				  "\"time_ms\":\"10\"}"),
			 0);
	struct ns_inode n = look(f, "/m");
	assert_int_equal(n.ttl_ms, 3600000);
	assert_string_equal(n.ttl_action, "free");
	assert_int_equal(apply(f, PUT("/m/f", "20")), 0);
	assert_int_equal(look(f, "/m/f").ttl_expiry_ms, 3600020);
	/* Without ttl_action it deletes; without ttl there is none. */
	assert_int_equal(apply(f, "{\"v\":2,\"op\":\"mount\",\"path\":\"/n\",\"uri\":\"file:///y\","
				  "\"readonly\":false,\"options\":{\"ttl\":\"2s\"},"
				  "\"block_size\":\"1048576\",\"sync_interval_ms\":\"-1\","
				  "\"time_ms\":\"10\"}"),
			 0);
	assert_string_equal(look(f, "/n").ttl_action, "delete");
	assert_int_equal(apply(f, "{\"v\":2,\"op\":\"mount\",\"path\":\"/o\",\"uri\":\"file:///z\","
				  "\"readonly\":false,\"options\":{},"
				  "\"block_size\":\"1048576\",\"sync_interval_ms\":\"-1\","
				  "\"time_ms\":\"10\"}"),
			 0);
	assert_int_equal(look(f, "/o").ttl_ms, 0);
	/* A read-only mount below a directory whose TTL deletes does not
	 * inherit it (nothing on it is deleted by a TTL). */
	assert_int_equal(apply(f, MKDIR("/up", "1")), 0);
	assert_int_equal(apply(f, TTL("/up", "false", "100", ",\"action\":\"delete\"", "1")), 0);
	assert_int_equal(apply(f, "{\"v\":2,\"op\":\"mount\",\"path\":\"/up/ro\",\"uri\":"
				  "\"file:///w\",\"readonly\":true,\"options\":{},"
				  "\"block_size\":\"1048576\",\"sync_interval_ms\":\"-1\","
				  "\"time_ms\":\"10\"}"),
			 0);
	assert_int_equal(look(f, "/up/ro").ttl_ms, 0);
	assert_int_equal(apply(f, PUT("/up/ro/f", "20")), 0);
	assert_int_equal(look(f, "/up/ro/f").ttl_expiry_ms, 0);
}

#define FIRE(p, id, action, t) "{\"v\":2,\"op\":\"ttl_fire\",\"path\":\"" p "\",\"id\":\"" id \
			       "\",\"action\":\"" action "\",\"time_ms\":\"" t "\"}"

/* The checker's queries and its command: free clears the TTL, delete
 * marks the file fired; a decision that no longer holds is ST_ESTALE. */
static void test_expired_and_fire(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(apply(f, MKDIR("/t", "1")), 0);
	assert_int_equal(apply(f, TTL("/t", "false", "10", ",\"action\":\"delete\"", "1")), 0);
	char json[512];
	for (int i = 0; i < 25; i++) {
		snprintf(json, sizeof(json), PUT("/t/f%02d", "%d"), i, 100 + i % 5);
		assert_int_equal(apply(f, json), 0);
	}
	assert_int_equal(apply(f, PUT("/free", "1")), 0);
	assert_int_equal(apply(f, TTL("/free", "false", "5", ",\"action\":\"free\"", "100")), 0);

	/* Paging through in (expiry, id) order, bounded by now. */
	struct ns_expired page[7];
	size_t n, total = 0;
	int64_t after_exp = 0;
	uint64_t after_id = 0;
	do {
		assert_int_equal(ns_expired(f->ns, 112, after_exp, after_id, 7, page, &n), 0);
		for (size_t i = 0; i < n; i++) {
			assert_true(page[i].expiry_ms <= 112);
			assert_true(page[i].expiry_ms > after_exp ||
				    (page[i].expiry_ms == after_exp && page[i].id > after_id));
			after_exp = page[i].expiry_ms;
			after_id = page[i].id;
		}
		total += n;
	} while (n == 7);
	/* expiry 110, 111, 112: 15 files, plus /free at 105. */
	assert_int_equal(total, 16);

	struct ns_inode fr = look(f, "/free");
	char id[24];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)fr.id);
	/* Not expired yet at 104; another id; another action: stale. */
	snprintf(json, sizeof(json), FIRE("/free", "%s", "free", "104"), id);
	assert_int_equal(apply(f, json), ST_ESTALE);
	snprintf(json, sizeof(json), FIRE("/free", "999", "free", "105"));
	assert_int_equal(apply(f, json), ST_ESTALE);
	snprintf(json, sizeof(json), FIRE("/free", "%s", "delete", "105"), id);
	assert_int_equal(apply(f, json), ST_ESTALE);
	snprintf(json, sizeof(json), FIRE("/free", "%s", "free", "105"), id);
	assert_int_equal(apply(f, json), 0);
	fr = look(f, "/free");
	assert_int_equal(fr.ttl_ms, 0);
	assert_int_equal(fr.ttl_expiry_ms, 0);
	assert_int_equal(fr.ttl_fired_ms, 0);
	/* A second copy of the same decision changes nothing. */
	assert_int_equal(apply(f, json), ST_ESTALE);

	struct ns_inode d = look(f, "/t/f03");
	snprintf(id, sizeof(id), "%llu", (unsigned long long)d.id);
	snprintf(json, sizeof(json), FIRE("/t/f03", "%s", "delete", "200"), id);
	assert_int_equal(apply(f, json), 0);
	d = look(f, "/t/f03");
	assert_int_equal(d.ttl_fired_ms, 200);
	assert_int_equal(d.ttl_expiry_ms, 0);
	assert_int_equal(apply(f, json), ST_ESTALE);
	uint64_t ids[4];
	assert_int_equal(ns_fired(f->ns, 0, 4, ids, &n), 0);
	assert_int_equal(n, 1);
	assert_true(ids[0] == d.id);
	assert_int_equal(ns_fired(f->ns, d.id, 4, ids, &n), 0);
	assert_int_equal(n, 0);
	char path[64];
	assert_int_equal(ns_path(f->ns, d.id, path, sizeof(path)), 0);
	assert_string_equal(path, "/t/f03");
	assert_int_equal(ns_path(f->ns, NS_ROOT_ID, path, sizeof(path)), 0);
	assert_string_equal(path, "/");
	assert_int_equal(ns_path(f->ns, 987654, path, sizeof(path)), -ENOENT);
	assert_int_equal(ns_path(f->ns, d.id, path, 4), -ENAMETOOLONG);
	/* A directory never fires. */
	struct ns_inode t = look(f, "/t");
	snprintf(json, sizeof(json), FIRE("/t", "%llu", "delete", "200"),
		 (unsigned long long)t.id);
	assert_int_equal(apply(f, json), ST_ESTALE);
}

/* ---- policy_set on a real metadata service and a local mount ---- */

struct svc {
	char dir[64], store[128];
	struct meta *meta;
	struct fs *fs;
	struct events *events;
	int64_t now; /* the checker's injected wall clock */
};

static void on_apply(void *arg, const struct journal_cmd *cmd, int rc)
{
	policy_record_event(arg, cmd, rc, 0);
}

static int64_t svc_clock(void *arg)
{
	return ((struct svc *)arg)->now;
}

static int svc_setup(void **state)
{
	struct svc *s = calloc(1, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/strata-test-policy.XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->store, sizeof(s->store), "%s/store", s->dir);
	char sub[200];
	if (mkdir(s->store, 0700))
		return -1;
	snprintf(sub, sizeof(sub), "%s/sub", s->store);
	if (mkdir(sub, 0700))
		return -1;
	snprintf(sub, sizeof(sub), "%s/sub/file", s->store);
	FILE *fp = fopen(sub, "w");
	if (!fp)
		return -1;
	fputs("data", fp);
	fclose(fp);
	s->events = events_new(64);
	if (!s->events)
		return -1;
	struct meta_opts o = { .state_dir = s->dir, .tick_ms = 20, .election_ticks = 5,
			       .on_apply = on_apply, .on_apply_arg = s->events };
	char err[512];
	if (meta_open(&o, &s->meta, err, sizeof(err)))
		return -1;
	struct fs_opts fo = { .default_block_size = 4 << 20, .default_sync_interval_ms = -1 };
	if (fs_open(s->meta, &fo, &s->fs))
		return -1;
	*state = s;
	return 0;
}

static int svc_teardown(void **state)
{
	struct svc *s = *state;
	fs_close(s->fs);
	meta_close(s->meta);
	events_free(s->events);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	if (system(cmd) != 0)
		return -1;
	free(s);
	return 0;
}

static int mount(struct svc *s, const char *path, bool readonly, const char *opts, char *err,
		 size_t errlen)
{
	char uri[200];
	snprintf(uri, sizeof(uri), "file://%s", s->store);
	cJSON *o = cJSON_Parse(opts);
	assert_non_null(o);
	int rc = fs_mount(s->fs, path, uri, readonly, o, err, errlen);
	cJSON_Delete(o);
	return rc;
}

static int64_t count_events(struct svc *s, const char *type, const char *path);

static struct policy_req req_of(enum policy_kind kind, const char *path)
{
	struct policy_req r;
	memset(&r, 0, sizeof(r));
	r.kind = kind;
	snprintf(r.path, sizeof(r.path), "%s", path);
	r.max = -1;
	return r;
}

struct refused {
	struct policy_req req;
	int rc;
	const char *says;
};

static void test_policy_set_validates(void **state)
{
	struct svc *s = *state;
	char err[512] = "";
	assert_int_equal(mount(s, "/rw", false, "{}", err, sizeof(err)), 0);
	assert_int_equal(mount(s, "/ro", true, "{}", err, sizeof(err)), 0);
	struct refused cases[24];
	size_t nc = 0;
	struct policy_req r = req_of(POLICY_PIN, "/rw/sub");
	r.pinned = true;
	strcpy(r.medium, "TAPE");
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'medium': 'TAPE' is not MEM, SSD" };
	r.pinned = false;
	strcpy(r.medium, "MEM");
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'medium': only when pinning" };
	r = req_of(POLICY_TTL, "/rw/sub");
	r.ttl_ms = -5;
	strcpy(r.action, "free");
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'ttl_ms': must be above 0" };
	r.ttl_ms = 0;
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'ttl_ms': must be above 0" };
	r.ttl_ms = JOURNAL_TTL_MAX_MS + 1;
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'ttl_ms': must be at most 100 years" };
	r.ttl_ms = 10;
	strcpy(r.action, "shred");
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'action': 'shred' is not free" };
	r = req_of(POLICY_TTL, "/ro/sub/file");
	r.ttl_ms = 10;
	strcpy(r.action, "delete");
	cases[nc++] = (struct refused){ r, -EROFS, "it is on the read-only mount '/ro'" };
	r = req_of(POLICY_TTL, "/");
	r.ttl_ms = 10;
	r.recursive = true;
	strcpy(r.action, "delete");
	cases[nc++] = (struct refused){ r, -EROFS, "the read-only mount '/ro' is below it" };
	r = req_of(POLICY_REPLICATION, "/rw");
	r.min = 3;
	r.max = 2;
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'min': 3 is above max 2" };
	r.min = 65;
	r.max = -1;
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'min': 65 is not in 0..64" };
	r.min = -1;
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'min': -1 is not in 0..64" };
	r.min = 1;
	r.max = 0;
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'max': 0 is not in 1..64, nor -1" };
	r.max = 65;
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'max': 65 is not in 1..64, nor -1" };
	r.max = -2;
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'max': -2 is not in 1..64, nor -1" };
	r = req_of(POLICY_PIN, "/rw/absent");
	cases[nc++] = (struct refused){ r, -ENOENT, "field 'path': '/rw/absent'" };
	r = req_of(POLICY_PIN, "relative");
	cases[nc++] = (struct refused){ r, -EINVAL, "field 'path'" };
	uint64_t before = meta_applied_index(s->meta);
	for (size_t i = 0; i < nc; i++) {
		bool changed = true;
		int rc = policy_set(s->fs, s->meta, &cases[i].req, 1000, &changed, err,
				    sizeof(err));
		if (rc != cases[i].rc || !strstr(err, cases[i].says))
			print_error("case %zu: rc %d '%s', want %d '%s'\n", i, rc, err,
				    cases[i].rc, cases[i].says);
		assert_int_equal(rc, cases[i].rc);
		assert_non_null(strstr(err, cases[i].says));
		assert_false(changed);
	}
	/* Refused requests propose nothing (loading /rw/sub may sync). */
	uint64_t after_refused = meta_applied_index(s->meta);
	assert_true(after_refused - before <= 4);
	/* free is fine on a read-only mount. */
	r = req_of(POLICY_TTL, "/ro/sub/file");
	r.ttl_ms = 10;
	strcpy(r.action, "free");
	assert_int_equal(policy_set(s->fs, s->meta, &r, 1000, NULL, err, sizeof(err)), 0);
}

/* The same policy twice: one journal entry. */
static void test_policy_set_idempotent(void **state)
{
	struct svc *s = *state;
	char err[512] = "";
	assert_int_equal(mount(s, "/rw", false, "{}", err, sizeof(err)), 0);
	struct policy_req reqs[3] = { req_of(POLICY_PIN, "/rw/sub"), req_of(POLICY_TTL, "/rw"),
				      req_of(POLICY_REPLICATION, "/rw/sub/file") };
	reqs[0].pinned = true;
	reqs[0].recursive = true;
	strcpy(reqs[0].medium, "MEM");
	reqs[1].ttl_ms = 60000;
	reqs[1].recursive = true;
	strcpy(reqs[1].action, "delete");
	reqs[2].min = 2;
	reqs[2].max = 3;
	struct ns_inode n;
	/* Loaded before the TTL is set: it counts from the set. */
	assert_int_equal(fs_stat(s->fs, "/rw/sub/file", &n, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++) {
		bool changed = false;
		assert_int_equal(policy_set(s->fs, s->meta, &reqs[i], 1000, &changed, err,
					    sizeof(err)),
				 0);
		assert_true(changed);
		uint64_t idx = meta_applied_index(s->meta);
		assert_int_equal(policy_set(s->fs, s->meta, &reqs[i], 5000, &changed, err,
					    sizeof(err)),
				 0);
		assert_false(changed);
		assert_int_equal(meta_applied_index(s->meta), idx);
	}
	assert_int_equal(fs_stat(s->fs, "/rw/sub/file", &n, err, sizeof(err)), 0);
	assert_true(n.pinned);
	assert_string_equal(n.pin_medium, "MEM");
	assert_int_equal(n.ttl_expiry_ms, 61000); /* the first set's clock, not restarted */
	assert_int_equal(n.repl_min, 2);
	/* A different value is a change again. */
	reqs[2].max = 4;
	bool changed = false;
	assert_int_equal(policy_set(s->fs, s->meta, &reqs[2], 1000, &changed, err, sizeof(err)),
			 0);
	assert_true(changed);
}

/* Every applied policy command is an event; a refused or unchanged one is
 * not. */
static void test_policy_events(void **state)
{
	struct svc *s = *state;
	char err[512] = "";
	assert_int_equal(mount(s, "/rw", false, "{}", err, sizeof(err)), 0);
	struct policy_req r = req_of(POLICY_PIN, "/rw/sub");
	r.pinned = true;
	r.recursive = true;
	strcpy(r.medium, "HDD");
	assert_int_equal(policy_set(s->fs, s->meta, &r, 1, NULL, err, sizeof(err)), 0);
	assert_int_equal(policy_set(s->fs, s->meta, &r, 1, NULL, err, sizeof(err)), 0);
	r.pinned = false;
	r.medium[0] = '\0';
	assert_int_equal(policy_set(s->fs, s->meta, &r, 1, NULL, err, sizeof(err)), 0);
	r = req_of(POLICY_REPLICATION, "/rw");
	r.min = 2;
	assert_int_equal(policy_set(s->fs, s->meta, &r, 1, NULL, err, sizeof(err)), 0);
	r.min = 9;
	r.max = 3;
	assert_int_equal(policy_set(s->fs, s->meta, &r, 1, NULL, err, sizeof(err)), -EINVAL);
	r = req_of(POLICY_TTL, "/rw");
	r.ttl_ms = 5;
	strcpy(r.action, "free");
	assert_int_equal(policy_set(s->fs, s->meta, &r, 1, NULL, err, sizeof(err)), 0);
	r.ttl_ms = 0;
	r.action[0] = '\0';
	assert_int_equal(policy_set(s->fs, s->meta, &r, 1, NULL, err, sizeof(err)), 0);
	assert_int_equal(count_events(s, "pin", "/rw/sub"), 1);
	assert_int_equal(count_events(s, "unpin", "/rw/sub"), 1);
	assert_int_equal(count_events(s, "replication_set", "/rw"), 1);
	assert_int_equal(count_events(s, "ttl_set", "/rw"), 1);
	assert_int_equal(count_events(s, "ttl_cleared", "/rw"), 1);
	cJSON *doc = events_json(s->events, 0, 1);
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "events"), 0);
	assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, "ttl_cleared");
	cJSON_Delete(doc);
	doc = events_json(s->events, 0, 0);
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(doc, "events"))
		if (strcmp(cJSON_GetObjectItem(e, "type")->valuestring, "pin") == 0)
			assert_string_equal(cJSON_GetObjectItem(e, "detail")->valuestring,
					    "on HDD, recursive");
	cJSON_Delete(doc);
	/* Other commands and failed ones record nothing. */
	uint64_t before = events_last_seq(s->events);
	struct journal_cmd *c = journal_new(JOURNAL_MKDIR);
	assert_non_null(c);
	policy_record_event(s->events, c, 0, 1);
	c->op = JOURNAL_SET_PIN;
	policy_record_event(s->events, c, -ENOENT, 1);
	journal_free(c);
	assert_int_equal(events_last_seq(s->events), before);
}

/* Mount options ttl / ttl_action: checked, and inherited by loaded files. */
static void test_mount_ttl_option(void **state)
{
	struct svc *s = *state;
	char err[512] = "";
	assert_int_equal(mount(s, "/a", false, "{\"ttl\":\"soon\"}", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "mount option 'ttl': 'soon'"));
	assert_int_equal(mount(s, "/a", false, "{\"ttl\":\"0s\"}", err, sizeof(err)), -EINVAL);
	assert_int_equal(mount(s, "/a", false, "{\"ttl\":\"1h\",\"ttl_action\":\"x\"}", err,
			       sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "mount option 'ttl_action': 'x'"));
	assert_int_equal(mount(s, "/a", false, "{\"ttl_action\":\"free\"}", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "needs the option 'ttl'"));
	assert_int_equal(mount(s, "/a", true, "{\"ttl\":\"1h\"}", err, sizeof(err)), -EROFS);
	assert_non_null(strstr(err, "read-only mount cannot have a TTL that deletes"));
	assert_int_equal(mount(s, "/a", true, "{\"ttl\":\"1h\",\"ttl_action\":\"free\"}", err,
			       sizeof(err)),
			 0);
	struct ns_inode n;
	assert_int_equal(fs_stat(s->fs, "/a/sub/file", &n, err, sizeof(err)), 0);
	assert_int_equal(n.ttl_ms, 3600000);
	assert_string_equal(n.ttl_action, "free");
	assert_true(n.ttl_expiry_ms > 3600000);
}

static void store_file(struct svc *s, const char *rel)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/%s", s->store, rel);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("x", fp);
	fclose(fp);
}

static bool store_has(struct svc *s, const char *rel)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/%s", s->store, rel);
	return access(p, F_OK) == 0;
}

static int64_t count_events(struct svc *s, const char *type, const char *path)
{
	cJSON *doc = events_json(s->events, 0, 0);
	assert_non_null(doc);
	int64_t n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(doc, "events"))
		if (strcmp(cJSON_GetObjectItem(e, "type")->valuestring, type) == 0 &&
		    (!path || strcmp(cJSON_GetObjectItem(e, "path")->valuestring, path) == 0))
			n++;
	cJSON_Delete(doc);
	return n;
}

static struct ttlcheck *checker(struct svc *s, size_t batch)
{
	struct ttlcheck_opts o = { .meta = s->meta, .fs = s->fs, .events = s->events,
				   .wall_ms = svc_clock, .clock_arg = s, .batch = batch,
				   .budget_ms = 60000 };
	struct ttlcheck *t = ttlcheck_new(&o);
	assert_non_null(t);
	return t;
}

static void set_ttl_at(struct svc *s, const char *path, bool recursive, int64_t ttl_ms,
		       const char *action, int64_t now)
{
	struct policy_req r = req_of(POLICY_TTL, path);
	r.recursive = recursive;
	r.ttl_ms = ttl_ms;
	strcpy(r.action, action);
	char err[512] = "";
	int rc = policy_set(s->fs, s->meta, &r, now, NULL, err, sizeof(err));
	if (rc)
		print_error("policy_set %s: %s\n", path, err);
	assert_int_equal(rc, 0);
}

/* delete removes from strata and the store, free keeps the file; nothing
 * fires before its time; events record each firing once. */
static void test_ttlcheck_fires(void **state)
{
	struct svc *s = *state;
	char err[512] = "";
	store_file(s, "sub/a");
	store_file(s, "sub/b");
	assert_int_equal(mount(s, "/rw", false, "{}", err, sizeof(err)), 0);
	struct ns_inode n;
	assert_int_equal(fs_stat(s->fs, "/rw/sub/a", &n, err, sizeof(err)), 0);
	assert_int_equal(fs_stat(s->fs, "/rw/sub/b", &n, err, sizeof(err)), 0);
	set_ttl_at(s, "/rw/sub/a", false, 1000, "delete", 1000000);
	set_ttl_at(s, "/rw/sub/b", false, 2000, "free", 1000000);
	struct ttlcheck *t = checker(s, 0);

	s->now = 1000999;
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), 0);
	assert_true(store_has(s, "sub/a"));
	s->now = 1001000;
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), 1);
	assert_false(store_has(s, "sub/a"));
	assert_int_equal(fs_stat(s->fs, "/rw/sub/a", &n, err, sizeof(err)), -ENOENT);
	s->now = 1002000;
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), 1);
	assert_int_equal(fs_stat(s->fs, "/rw/sub/b", &n, err, sizeof(err)), 0);
	assert_true(store_has(s, "sub/b"));
	assert_int_equal(n.ttl_ms, 0);
	assert_int_equal(n.ttl_expiry_ms, 0);
	s->now = 9000000;
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), 0);
	struct ttlcheck_stats st;
	ttlcheck_get_stats(t, &st);
	assert_int_equal(st.fired_delete, 1);
	assert_int_equal(st.fired_free, 1);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(count_events(s, "ttl_fired", "/rw/sub/a"), 1);
	assert_int_equal(count_events(s, "ttl_fired", "/rw/sub/b"), 1);
	assert_int_equal(count_events(s, "ttl_deleted", "/rw/sub/a"), 1);
	assert_int_equal(count_events(s, "ttl_set", NULL), 2);
	ttlcheck_free(t);
}

static int submit_fire(struct svc *s, const char *path, const char *action, int64_t now)
{
	struct ns_inode n;
	char err[512] = "";
	assert_int_equal(fs_stat(s->fs, path, &n, err, sizeof(err)), 0);
	struct journal_cmd *c = journal_new(JOURNAL_TTL_FIRE);
	assert_non_null(c);
	snprintf(c->u.ttl_fire.path, sizeof(c->u.ttl_fire.path), "%s", path);
	c->u.ttl_fire.id = n.id;
	snprintf(c->u.ttl_fire.action, sizeof(c->u.ttl_fire.action), "%s", action);
	c->u.ttl_fire.time_ms = now;
	int rc = meta_submit(s->meta, c, err, sizeof(err));
	journal_free(c);
	return rc;
}

/* A leader that journaled a firing and died before (or after) the store
 * delete: a new checker, with nothing in memory, finishes it once; the
 * same decision proposed twice applies once. */
static void test_ttlcheck_resumes_from_journal(void **state)
{
	struct svc *s = *state;
	char err[512] = "";
	store_file(s, "sub/c");
	store_file(s, "sub/d");
	assert_int_equal(mount(s, "/rw", false, "{}", err, sizeof(err)), 0);
	struct ns_inode n;
	assert_int_equal(fs_stat(s->fs, "/rw/sub/c", &n, err, sizeof(err)), 0);
	assert_int_equal(fs_stat(s->fs, "/rw/sub/d", &n, err, sizeof(err)), 0);
	set_ttl_at(s, "/rw/sub", true, 10, "delete", 5000);
	/* The old leader fired both; it deleted d from the store, not c. */
	assert_int_equal(submit_fire(s, "/rw/sub/c", "delete", 6000), 0);
	assert_int_equal(submit_fire(s, "/rw/sub/c", "delete", 6000), ST_ESTALE);
	assert_int_equal(submit_fire(s, "/rw/sub/d", "delete", 6000), 0);
	char p[300];
	snprintf(p, sizeof(p), "%s/sub/d", s->store);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(fs_stat(s->fs, "/rw/sub/c", &n, err, sizeof(err)), 0);
	assert_int_equal(n.ttl_fired_ms, 6000);

	struct ttlcheck *t = checker(s, 1);
	s->now = 7000;
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), 2);
	assert_false(store_has(s, "sub/c"));
	assert_int_equal(fs_stat(s->fs, "/rw/sub/c", &n, err, sizeof(err)), -ENOENT);
	assert_int_equal(fs_stat(s->fs, "/rw/sub/d", &n, err, sizeof(err)), -ENOENT);
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), 0);
	struct ttlcheck_stats st;
	ttlcheck_get_stats(t, &st);
	assert_int_equal(st.deleted, 2);
	assert_int_equal(st.fired_delete, 0);
	assert_int_equal(count_events(s, "ttl_fired", "/rw/sub/c"), 1);
	ttlcheck_free(t);
}

/* Many expired files, paged a few at a time: all of them, once each. */
static void test_ttlcheck_pages(void **state)
{
	struct svc *s = *state;
	char err[512] = "";
	struct journal_cmd *c = journal_new(JOURNAL_MKDIR);
	assert_non_null(c);
	strcpy(c->u.mkdir.path, "/many");
	c->u.mkdir.time_ms = 1;
	assert_int_equal(meta_submit(s->meta, c, err, sizeof(err)), 0);
	journal_free(c);
	set_ttl_at(s, "/many", false, 100, "delete", 1);
	enum { NFILES = 150 };
	for (int i = 0; i < NFILES; i++) {
		c = journal_new(JOURNAL_PUT_FILE);
		assert_non_null(c);
		snprintf(c->u.put_file.path, sizeof(c->u.put_file.path), "/many/f%03d", i);
		c->u.put_file.time_ms = 1000 + i % 10; /* ties on expiry: ordered by id */
		assert_int_equal(meta_submit(s->meta, c, err, sizeof(err)), 0);
		journal_free(c);
	}
	struct ttlcheck *t = checker(s, 7);
	s->now = 1104; /* expiries 1100..1104: half of them */
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), NFILES / 2);
	s->now = 2000;
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), NFILES / 2);
	struct ns *ns = meta_read_lock(s->meta);
	struct ns_inode d;
	assert_int_equal(ns_lookup(ns, "/many", &d), 0);
	meta_read_unlock(s->meta);
	cJSON *kids = NULL;
	bool is_file;
	assert_int_equal(fs_list(s->fs, "/many", NULL, 0, &kids, &is_file, err, sizeof(err)), 0);
	assert_int_equal(cJSON_GetArraySize(kids), 0);
	cJSON_Delete(kids);
	struct ttlcheck_stats st;
	ttlcheck_get_stats(t, &st);
	assert_int_equal(st.fired_delete, NFILES);
	assert_int_equal(st.deleted, NFILES);
	assert_int_equal(st.stale + st.errors, 0);
	ttlcheck_free(t);
}

/* A fake of the workers' side of free: records what it was asked to drop,
 * or fails like an unreachable worker. */
static struct {
	int calls, fail;
	size_t n;
	struct datajobs_drop files[8];
} g_drop;

static int fake_drop(struct datajobs *arg, const struct datajobs_drop *files, size_t n,
		     char *err, size_t errlen)
{
	(void)arg;
	g_drop.calls++;
	if (g_drop.fail) {
		snprintf(err, errlen, "worker 127.0.0.1:1: connection refused");
		return -ECONNREFUSED;
	}
	g_drop.n = n < 8 ? n : 8;
	memcpy(g_drop.files, files, g_drop.n * sizeof(*files));
	return 0;
}

/* free drops the file's blocks on the workers before it fires; a pinned
 * file keeps them; when the workers cannot be reached the file does not
 * fire, and the next pass drops and fires it. */
static void test_ttlcheck_free_drops_blocks(void **state)
{
	struct svc *s = *state;
	char err[512] = "";
	store_file(s, "sub/one");
	store_file(s, "sub/pinned");
	assert_int_equal(mount(s, "/rw", false, "{}", err, sizeof(err)), 0);
	struct ns_inode one, n;
	assert_int_equal(fs_stat(s->fs, "/rw/sub/one", &one, err, sizeof(err)), 0);
	assert_int_equal(fs_stat(s->fs, "/rw/sub/pinned", &n, err, sizeof(err)), 0);
	struct policy_req pin = req_of(POLICY_PIN, "/rw/sub/pinned");
	pin.pinned = true;
	assert_int_equal(policy_set(s->fs, s->meta, &pin, 1, NULL, err, sizeof(err)), 0);
	set_ttl_at(s, "/rw/sub", true, 10, "free", 1000);
	memset(&g_drop, 0, sizeof(g_drop));
	struct ttlcheck_opts o = { .meta = s->meta, .fs = s->fs, .events = s->events,
				   .wall_ms = svc_clock, .clock_arg = s, .budget_ms = 60000,
				   .drop = fake_drop };
	struct ttlcheck *t = ttlcheck_new(&o);
	assert_non_null(t);

	s->now = 2000;
	g_drop.fail = 1;
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), 0);
	assert_int_equal(g_drop.calls, 1);
	assert_int_equal(fs_stat(s->fs, "/rw/sub/one", &n, err, sizeof(err)), 0);
	assert_int_equal(n.ttl_action[0] != '\0', 1); /* not fired */
	assert_int_equal(count_events(s, "ttl_fired", NULL), 0);

	g_drop.fail = 0;
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), 2);
	assert_int_equal(g_drop.calls, 2);
	assert_int_equal(g_drop.n, 1); /* the pinned file keeps its blocks */
	assert_true(g_drop.files[0].data_id == one.data_id);
	assert_true(g_drop.files[0].nblocks == 1);
	assert_int_equal(fs_stat(s->fs, "/rw/sub/one", &n, err, sizeof(err)), 0);
	assert_int_equal(n.ttl_ms, 0);
	assert_true(store_has(s, "sub/one"));
	assert_int_equal(ttlcheck_run(t, err, sizeof(err)), 0);
	assert_int_equal(g_drop.calls, 2);
	struct ttlcheck_stats st;
	ttlcheck_get_stats(t, &st);
	assert_int_equal(st.fired_free, 2);
	assert_int_equal(st.dropped_files, 1);
	assert_int_equal(st.errors, 1);
	assert_int_equal(count_events(s, "ttl_fired", "/rw/sub/one"), 1);
	ttlcheck_free(t);
}

static void store_bytes(struct svc *s, const char *rel, size_t n)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/%s", s->store, rel);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	for (size_t i = 0; i < n; i++)
		fputc('x', fp);
	fclose(fp);
}

static int pin_with_room(struct svc *s, const char *path, bool recursive, const char *medium,
			 char *err, size_t errlen)
{
	struct policy_req r = req_of(POLICY_PIN, path);
	r.pinned = true;
	r.recursive = recursive;
	snprintf(r.medium, sizeof(r.medium), "%s", medium);
	r.room_workers = 2;
	r.room_capacity[0] = 3500;          /* MEM */
	r.room_capacity[1] = 3500 + 10000;  /* SSD or faster */
	r.room_capacity[2] = 3500 + 10000;  /* HDD or faster (no HDD) */
	r.room_capacity[3] = 3500 + 10000;  /* any tier */
	return policy_set(s->fs, s->meta, &r, 1, NULL, err, errlen);
}

static bool is_pinned(struct svc *s, const char *path)
{
	struct ns_inode n;
	char err[256];
	assert_int_equal(fs_stat(s->fs, path, &n, err, sizeof(err)), 0);
	return n.pinned;
}

/* A pin must fit the capacity of its medium (or faster) across the live
 * workers, less what other files pin there; a refused pin changes nothing
 * and says how much is needed and available. */
static void test_pin_room(void **state)
{
	struct svc *s = *state;
	char err[512] = "";
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/room", s->store);
	assert_int_equal(mkdir(dir, 0755), 0);
	store_bytes(s, "room/a", 1000);
	store_bytes(s, "room/b", 3000);
	assert_int_equal(mount(s, "/rw", false, "{}", err, sizeof(err)), 0);
	cJSON *kids = NULL;
	bool is_file;
	assert_int_equal(fs_list(s->fs, "/rw/room", NULL, 0, &kids, &is_file, err, sizeof(err)), 0);
	cJSON_Delete(kids);

	assert_int_equal(pin_with_room(s, "/rw/room", true, "MEM", err, sizeof(err)), -EDQUOT);
	assert_non_null(strstr(err, "needs 3.9 KiB (4000 bytes) on MEM"));
	assert_non_null(strstr(err, "3.4 KiB (3500 bytes) is available across 2 live workers"));
	assert_non_null(strstr(err, "nothing was pinned"));
	assert_false(is_pinned(s, "/rw/room/a"));
	assert_false(is_pinned(s, "/rw/room/b"));
	assert_false(is_pinned(s, "/rw/room"));

	assert_int_equal(pin_with_room(s, "/rw/room/b", false, "MEM", err, sizeof(err)), 0);
	/* 3000 of MEM's 3500 are pinned: 1000 more do not fit, on SSD they do. */
	assert_int_equal(pin_with_room(s, "/rw/room/a", false, "MEM", err, sizeof(err)), -EDQUOT);
	assert_non_null(strstr(err, "500 B is available"));
	assert_non_null(strstr(err, "pinned by other files 2.9 KiB (3000 bytes)"));
	assert_false(is_pinned(s, "/rw/room/a"));
	assert_int_equal(pin_with_room(s, "/rw/room/a", false, "SSD", err, sizeof(err)), 0);
	/* Re-pinning the subtree on MEM counts its own pins once: still 4000. */
	assert_int_equal(pin_with_room(s, "/rw/room", true, "MEM", err, sizeof(err)), -EDQUOT);
	/* An MEM pin outside does not take from a pin with no medium... */
	assert_int_equal(pin_with_room(s, "/rw/room/a", false, "", err, sizeof(err)), 0);
	/* ...and the same pin again changes nothing, checked or not. */
	assert_int_equal(pin_with_room(s, "/rw/room/a", false, "", err, sizeof(err)), 0);
	/* Without capacity figures (no live worker reported) nothing is checked. */
	struct policy_req r = req_of(POLICY_PIN, "/rw/room");
	r.pinned = true;
	r.recursive = true;
	strcpy(r.medium, "MEM");
	assert_int_equal(policy_set(s->fs, s->meta, &r, 1, NULL, err, sizeof(err)), 0);
	assert_true(is_pinned(s, "/rw/room/a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_one_and_recursive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inherited_by_new_children, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mount_default_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_and_fire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_set_validates, svc_setup,
						svc_teardown),
		cmocka_unit_test_setup_teardown(test_policy_set_idempotent, svc_setup,
						svc_teardown),
		cmocka_unit_test_setup_teardown(test_mount_ttl_option, svc_setup, svc_teardown),
		cmocka_unit_test_setup_teardown(test_policy_events, svc_setup, svc_teardown),
		cmocka_unit_test_setup_teardown(test_ttlcheck_fires, svc_setup, svc_teardown),
		cmocka_unit_test_setup_teardown(test_ttlcheck_resumes_from_journal, svc_setup,
						svc_teardown),
		cmocka_unit_test_setup_teardown(test_ttlcheck_pages, svc_setup, svc_teardown),
		cmocka_unit_test_setup_teardown(test_ttlcheck_free_drops_blocks, svc_setup,
						svc_teardown),
		cmocka_unit_test_setup_teardown(test_pin_room, svc_setup, svc_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
