/* Tests the persistence checker (daemon/master/persistcheck.c) on a real
 * metadata service with a local mount, a registry and a block map, on
 * virtual time: a file only the caches hold is `lost` once a block of it
 * has no copy on a live worker (a dropped block, a lost worker), never
 * within the grace after its write or after gaining the lead, comes back
 * to not_persisted when its blocks are reported again, and files the
 * store holds are never judged. Each change is one journaled command and
 * the event persist_lost. */
#include "daemon/master/blockmap.h"
#include "daemon/master/events.h"
#include "daemon/master/fs.h"
#include "daemon/master/journal.h"
#include "daemon/master/meta.h"
#include "daemon/master/ns.h"
#include "daemon/master/persistcheck.h"
#include "daemon/master/policy.h"
#include "daemon/master/registry.h"
#include "lib/placement.h"

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

#define MiB (1 << 20)
#define GRACE 3000
#define T0 1700000000000LL /* wall ms of the writes */

struct svc {
	char dir[64], store[128];
	struct meta *meta;
	struct fs *fs;
	struct events *events;
	struct registry *reg;
	struct blockmap *bm;
	struct persistcheck *pc;
	struct jobs_spec spec;
	int64_t wall, mono;
	uint64_t worker;
};

static void on_apply(void *arg, const struct journal_cmd *cmd, int rc)
{
	policy_record_event(arg, cmd, rc, 0);
}

static int64_t wall_clock(void *arg)
{
	return ((struct svc *)arg)->wall;
}

static int64_t mono_clock(void *arg)
{
	return ((struct svc *)arg)->mono;
}

static int setup(void **state)
{
	struct svc *s = calloc(1, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/strata-test-pcheck.XXXXXX");
	if (!s || !mkdtemp(s->dir))
		return -1;
	snprintf(s->store, sizeof(s->store), "%s/store", s->dir);
	if (mkdir(s->store, 0700))
		return -1;
	s->events = events_new(64);
	struct meta_opts o = { .state_dir = s->dir, .tick_ms = 20, .election_ticks = 5,
			       .on_apply = on_apply, .on_apply_arg = s->events };
	char err[512];
	if (!s->events || meta_open(&o, &s->meta, err, sizeof(err)))
		return -1;
	struct fs_opts fo = { .default_block_size = 4 << 20, .default_sync_interval_ms = -1 };
	if (fs_open(s->meta, &fo, &s->fs))
		return -1;
	char uri[200];
	snprintf(uri, sizeof(uri), "file://%s", s->store);
	cJSON *opts = cJSON_Parse("{\"block_size\":\"1MiB\"}");
	int rc = fs_mount(s->fs, "/", uri, false, opts, err, sizeof(err));
	cJSON_Delete(opts);
	if (rc) {
		fprintf(stderr, "mount: %s\n", err);
		return -1;
	}
	s->reg = registry_new(GRACE);
	s->bm = blockmap_new();
	struct worker_report rep = { .host = "127.0.0.1", .data_port = 1, .s3_port = 2,
				     .version = "t", .capacity_bytes = 1 << 30 };
	if (!s->reg || !s->bm || registry_register(s->reg, &rep, 0, &s->worker))
		return -1;
	struct persistcheck_opts po = { .meta = s->meta, .registry = s->reg, .blocks = s->bm,
					.grace_ms = GRACE, .batch = 2, .wall_ms = wall_clock,
					.mono_ms = mono_clock, .clock_arg = s };
	s->pc = persistcheck_new(&po);
	if (!s->pc)
		return -1;
	persistcheck_spec(s->pc, 1000, &s->spec);
	s->wall = T0;
	s->mono = 100000;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct svc *s = *state;
	persistcheck_free(s->pc);
	blockmap_free(s->bm);
	registry_free(s->reg);
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

/* A file written to the caches only (not_persisted) of len bytes under
 * content data_id, its blocks reported on the worker; or one the store
 * holds. */
static void put(struct svc *s, const char *path, uint64_t data_id, uint64_t len,
		bool cache_only)
{
	char err[512] = "";
	int rc = fs_write_commit(s->fs, path, data_id, len, s->wall, cache_only ? "" : "fp", NULL,
				 cache_only ? FS_CACHE_ONLY : FS_PERSISTED, err, sizeof(err));
	if (rc)
		print_error("%s: %s\n", path, err);
	assert_int_equal(rc, 0);
	for (uint64_t i = 0; i * MiB < len; i++)
		assert_int_equal(blockmap_add(s->bm, placement_block_id(data_id, i), s->worker, 1),
				 0);
}

static int state_of(struct svc *s, const char *path)
{
	struct ns_inode n;
	struct ns *ns = meta_read_lock(s->meta);
	int rc = ns_lookup(ns, path, &n);
	meta_read_unlock(s->meta);
	assert_int_equal(rc, 0);
	return n.persistence;
}

static int run(struct svc *s)
{
	char err[512] = "";
	int rc = persistcheck_run(s->pc, err, sizeof(err));
	if (rc < 0)
		print_error("persistcheck_run: %d %s\n", rc, err);
	return rc;
}

static int64_t count_events(struct svc *s, const char *type)
{
	cJSON *o = events_json(s->events, 0, 0);
	int64_t n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, "events"))
	{
		const cJSON *t = cJSON_GetObjectItem(e, "type");
		n += cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
	}
	cJSON_Delete(o);
	return n;
}

static void test_lost_and_back(void **state)
{
	struct svc *s = *state;
	char err[64];
	assert_int_equal(s->spec.resume(s->spec.arg, err, sizeof(err)), 0);
	put(s, "/a", 1000, 3 * MiB + 1, true);  /* 4 blocks */
	put(s, "/b", 2000, 2 * MiB, true);      /* 2 blocks */
	put(s, "/c", 3000, 2 * MiB, false);     /* in the store */
	put(s, "/empty", 4000, 0, true);        /* no block at all */
	/* Just after gaining the lead nothing is judged, even with a block
	 * gone: workers are still reporting. */
	blockmap_remove(s->bm, placement_block_id(1000, 2), s->worker);
	blockmap_remove(s->bm, placement_block_id(3000, 0), s->worker);
	s->mono += GRACE - 1;
	s->wall += GRACE;
	assert_int_equal(run(s), 0);
	assert_int_equal(state_of(s, "/a"), NS_NOT_PERSISTED);
	/* After the grace: /a lost one block, so it is lost (once). /b has
	 * all of its blocks, /c is the store's, /empty has nothing to lose. */
	s->mono += 1;
	assert_int_equal(run(s), 1);
	assert_int_equal(state_of(s, "/a"), NS_LOST);
	assert_int_equal(state_of(s, "/b"), NS_NOT_PERSISTED);
	assert_int_equal(state_of(s, "/c"), NS_PERSISTED);
	assert_int_equal(state_of(s, "/empty"), NS_NOT_PERSISTED);
	assert_int_equal(count_events(s, "persist_lost"), 1);
	assert_int_equal(run(s), 0);
	assert_int_equal(count_events(s, "persist_lost"), 1);
	int64_t counts[4];
	struct ns *ns = meta_read_lock(s->meta);
	assert_int_equal(ns_persistence_counts(ns, counts), 0);
	meta_read_unlock(s->meta);
	assert_int_equal(counts[NS_LOST], 1);
	assert_int_equal(counts[NS_NOT_PERSISTED], 2);
	/* The block is reported again (a worker that was cut off): back. */
	assert_int_equal(blockmap_add(s->bm, placement_block_id(1000, 2), s->worker, 1), 0);
	assert_int_equal(run(s), 1);
	assert_int_equal(state_of(s, "/a"), NS_NOT_PERSISTED);
	/* A file written just now is not judged before its grace. */
	put(s, "/new", 5000, MiB, true);
	blockmap_remove(s->bm, placement_block_id(5000, 0), s->worker);
	s->wall += GRACE - 1;
	assert_int_equal(run(s), 0);
	assert_int_equal(state_of(s, "/new"), NS_NOT_PERSISTED);
	s->wall += 1;
	assert_int_equal(run(s), 1);
	assert_int_equal(state_of(s, "/new"), NS_LOST);
	/* The worker holding everything else is lost: so is every file with a
	 * block (paged through two at a time). */
	assert_int_equal(registry_check(s->reg, GRACE + 1, NULL, NULL), 1);
	assert_int_equal(run(s), 2);
	assert_int_equal(state_of(s, "/a"), NS_LOST);
	assert_int_equal(state_of(s, "/b"), NS_LOST);
	assert_int_equal(state_of(s, "/empty"), NS_NOT_PERSISTED);
	assert_int_equal(state_of(s, "/c"), NS_PERSISTED);
	assert_int_equal(count_events(s, "persist_lost"), 4);
	/* A new leader waits its grace again. */
	assert_int_equal(s->spec.resume(s->spec.arg, err, sizeof(err)), 0);
	assert_int_equal(registry_heartbeat(s->reg, s->worker, 1 << 30, 0, GRACE + 2), 0);
	assert_int_equal(run(s), 0);
	assert_int_equal(state_of(s, "/a"), NS_LOST);
	s->mono += GRACE;
	assert_int_equal(run(s), 2); /* /a and /b: their blocks are held again */
	assert_int_equal(state_of(s, "/b"), NS_NOT_PERSISTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lost_and_back, setup, teardown),
	};
	return cmocka_run_group_tests_name("master_persistcheck", tests, NULL, NULL);
}
