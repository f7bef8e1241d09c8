/* Tests the pins a registering worker gets back (daemon/master/repin.c) on
 * a real metadata service with a local mount: the blocks of files only the
 * caches hold and of pinned files are chosen, those of persisted, lost,
 * rewritten (old content) or unknown files are not; each chosen once,
 * ascending, whatever the order and repeats of the list. */
#include "daemon/master/fs.h"
#include "daemon/master/journal.h"
#include "daemon/master/meta.h"
#include "daemon/master/ns.h"
#include "daemon/master/policy.h"
#include "daemon/master/repin.h"
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

struct svc {
	char dir[64], store[128];
	struct meta *meta;
	struct fs *fs;
};

static int setup(void **state)
{
	struct svc *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/strata-test-repin.XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->store, sizeof(s->store), "%s/store", s->dir);
	if (mkdir(s->store, 0700))
		return -1;
	struct meta_opts o = { .state_dir = s->dir, .tick_ms = 20, .election_ticks = 5 };
	char err[512];
	if (meta_open(&o, &s->meta, err, sizeof(err)))
		return -1;
	struct fs_opts fo = { .default_block_size = 4 << 20, .default_sync_interval_ms = -1 };
	if (fs_open(s->meta, &fo, &s->fs))
		return -1;
	char uri[200];
	snprintf(uri, sizeof(uri), "file://%s", s->store);
	cJSON *opts = cJSON_Parse("{\"block_size\":\"1MiB\"}");
	int rc = fs_mount(s->fs, "/", uri, false, opts, err, sizeof(err));
	cJSON_Delete(opts);
	if (rc)
		return -1;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct svc *s = *state;
	fs_close(s->fs);
	meta_close(s->meta);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	if (system(cmd) != 0)
		return -1;
	free(s);
	return 0;
}

static void put(struct svc *s, const char *path, uint64_t data_id, uint64_t len,
		bool cache_only)
{
	char err[512] = "";
	int rc = fs_write_commit(s->fs, path, data_id, len, 1000, cache_only ? "" : "fp", NULL,
				 cache_only ? FS_CACHE_ONLY : FS_PERSISTED, err, sizeof(err));
	if (rc)
		print_error("%s: %s\n", path, err);
	assert_int_equal(rc, 0);
}

/* Marks path (content data_id) lost, as the persistence checker does. */
static void lose(struct svc *s, const char *path, uint64_t data_id)
{
	struct ns_inode n;
	struct ns *ns = meta_read_lock(s->meta);
	assert_int_equal(ns_lookup(ns, path, &n), 0);
	meta_read_unlock(s->meta);
	struct journal_cmd *c = journal_new(JOURNAL_SET_PERSISTENCE);
	assert_non_null(c);
	snprintf(c->u.set_persistence.path, sizeof(c->u.set_persistence.path), "%s", path);
	c->u.set_persistence.id = n.id;
	c->u.set_persistence.data_id = data_id;
	snprintf(c->u.set_persistence.state, sizeof(c->u.set_persistence.state), "lost");
	c->u.set_persistence.time_ms = 2000;
	char err[512] = "";
	int rc = meta_submit(s->meta, c, err, sizeof(err));
	journal_free(c);
	if (rc)
		print_error("lose %s: %s\n", path, err);
	assert_int_equal(rc, 0);
}

static void test_chooses_what_only_the_caches_hold_and_pins(void **state)
{
	struct svc *s = *state;
	put(s, "/async", 100, 2 * MiB, true);   /* not persisted: kept */
	put(s, "/stored", 200, 2 * MiB, false); /* persisted: not kept */
	put(s, "/pinned", 300, MiB, false);     /* pinned by policy: kept */
	put(s, "/gone", 400, MiB, true);        /* lost: nothing to keep */
	put(s, "/rewritten", 500, MiB, true);   /* then rewritten as 501 */
	put(s, "/rewritten", 501, MiB, true);
	lose(s, "/gone", 400);
	struct policy_req pin = { .kind = POLICY_PIN, .pinned = true };
	snprintf(pin.path, sizeof(pin.path), "/pinned");
	char err[512] = "";
	assert_int_equal(policy_set(s->fs, s->meta, &pin, 1000, NULL, err, sizeof(err)), 0);

	/* Out of order, with a repeat and a block of no file at all. */
	const uint64_t blocks[] = {
		placement_block_id(200, 0), placement_block_id(100, 1), placement_block_id(300, 0),
		placement_block_id(400, 0), placement_block_id(500, 0), placement_block_id(501, 0),
		placement_block_id(999, 3), placement_block_id(100, 0), placement_block_id(100, 1),
		placement_block_id(200, 1),
	};
	uint64_t *out = NULL;
	size_t n = 0;
	assert_int_equal(repin_select(s->meta, blocks, sizeof(blocks) / sizeof(blocks[0]), &out,
				      &n),
			 0);
	assert_int_equal(n, 4);
	assert_true(out[0] == placement_block_id(100, 0) && out[1] == placement_block_id(100, 1) &&
		    out[2] == placement_block_id(300, 0) && out[3] == placement_block_id(501, 0));
	free(out);

	/* Nothing to keep, or nothing listed: no array. */
	const uint64_t stored[] = { placement_block_id(200, 0) };
	assert_int_equal(repin_select(s->meta, stored, 1, &out, &n), 0);
	assert_true(out == NULL && n == 0);
	assert_int_equal(repin_select(s->meta, NULL, 0, &out, &n), 0);
	assert_true(out == NULL && n == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chooses_what_only_the_caches_hold_and_pins,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
