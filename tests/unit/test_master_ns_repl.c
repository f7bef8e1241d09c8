/* Tests daemon/master/ns_repl.c: worker_state upserts and removes a
 * worker's administrative state by address (and is in a snapshot image
 * like everything else), and ns_by_data_id finds the file holding a
 * content id — not an old content of it, not a directory. */
#include "daemon/master/journal.h"
#include "daemon/master/ns.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
	char dir[64], db[128];
	struct ns *ns;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/strata-test-nsrepl.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/ns.db", f->dir);
	char err[256];
	if (ns_open(f->db, &f->ns, err, sizeof(err)))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[200];
	if (f->ns)
		ns_close(f->ns);
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int apply(struct ns *ns, struct journal_cmd *c)
{
	char err[512] = "";
	int rc = ns_apply(ns, ns_applied_index(ns) + 1, c, NULL, err, sizeof(err));
	journal_free(c);
	return rc;
}

static struct journal_cmd *worker_state(const char *address, const char *state)
{
	struct journal_cmd *c = journal_new(JOURNAL_WORKER_STATE);
	strcpy(c->u.worker_state.address, address);
	strcpy(c->u.worker_state.state, state);
	c->u.worker_state.time_ms = 5;
	return c;
}

struct seen {
	char text[512];
};

static int collect(void *arg, const char *address, const char *state)
{
	struct seen *s = arg;
	size_t len = strlen(s->text);
	snprintf(s->text + len, sizeof(s->text) - len, "%s=%s;", address, state);
	return 0;
}

static const char *states(struct ns *ns, struct seen *s)
{
	s->text[0] = '\0';
	assert_int_equal(ns_worker_states(ns, collect, s), 0);
	return s->text;
}

static void test_worker_state_upserts_and_removes(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	assert_string_equal(states(f->ns, &s), "");
	assert_int_equal(apply(f->ns, worker_state("b:2", "decommissioning")), 0);
	assert_int_equal(apply(f->ns, worker_state("a:1", "decommissioning")), 0);
	assert_string_equal(states(f->ns, &s), "a:1=decommissioning;b:2=decommissioning;");
	assert_int_equal(apply(f->ns, worker_state("b:2", "decommissioned")), 0);
	assert_string_equal(states(f->ns, &s), "a:1=decommissioning;b:2=decommissioned;");
	assert_int_equal(apply(f->ns, worker_state("a:1", "active")), 0);
	assert_string_equal(states(f->ns, &s), "b:2=decommissioned;");
	/* Activating an address never decommissioned changes nothing. */
	assert_int_equal(apply(f->ns, worker_state("c:3", "active")), 0);
	assert_string_equal(states(f->ns, &s), "b:2=decommissioned;");

	/* Durable: a reopened database has it. */
	ns_close(f->ns);
	f->ns = NULL;
	char err[256];
	assert_int_equal(ns_open(f->db, &f->ns, err, sizeof(err)), 0);
	assert_string_equal(states(f->ns, &s), "b:2=decommissioned;");
}

/* Applies a put_file of path with content data_id. */
static int put(struct ns *ns, const char *path, uint64_t data_id, uint64_t length, int64_t time_ms)
{
	struct journal_cmd *c = journal_new(JOURNAL_PUT_FILE);
	snprintf(c->u.put_file.path, sizeof(c->u.put_file.path), "%s", path);
	c->u.put_file.length = length;
	c->u.put_file.time_ms = time_ms;
	c->u.put_file.data_id = data_id;
	return apply(ns, c);
}

static void test_by_data_id_finds_the_current_content(void **state)
{
	struct fixture *f = *state;
	struct journal_cmd *c = journal_new(JOURNAL_MKDIR);
	strcpy(c->u.mkdir.path, "/d");
	c->u.mkdir.time_ms = 1;
	assert_int_equal(apply(f->ns, c), 0);
	assert_int_equal(put(f->ns, "/d/f", 777, 10, 1), 0);

	struct ns_inode n, dir;
	char path[256];
	assert_int_equal(ns_by_data_id(f->ns, 777, &n, path, sizeof(path), NULL), 0);
	assert_string_equal(path, "/d/f");
	assert_int_equal(n.length, 10);
	assert_int_equal(n.repl_min, 0);
	assert_int_equal(n.repl_max, -1);
	/* A directory's own id is not a content id. */
	assert_int_equal(ns_lookup(f->ns, "/d", &dir), 0);
	assert_int_equal(ns_by_data_id(f->ns, dir.id, &n, path, sizeof(path), NULL), -ENOENT);

	/* New content: the old id names nothing any more. */
	assert_int_equal(put(f->ns, "/d/f", 778, 20, 2), 0);
	assert_int_equal(ns_by_data_id(f->ns, 777, &n, path, sizeof(path), NULL), -ENOENT);
	assert_int_equal(ns_by_data_id(f->ns, 778, &n, path, sizeof(path), NULL), 0);
	assert_int_equal(n.length, 20);
	assert_int_equal(ns_by_data_id(f->ns, 0, &n, path, sizeof(path), NULL), -ENOENT);

	/* With a directory cache: the same answers, and a rename (anything
	 * applied) is not hidden by what the cache held. */
	struct ns_dir_cache dc = { 0 };
	assert_int_equal(put(f->ns, "/d/g", 779, 0, 3), 0);
	assert_int_equal(put(f->ns, "/top", 780, 0, 3), 0);
	assert_int_equal(ns_by_data_id(f->ns, 778, &n, path, sizeof(path), &dc), 0);
	assert_string_equal(path, "/d/f");
	assert_int_equal(ns_by_data_id(f->ns, 779, &n, path, sizeof(path), &dc), 0);
	assert_string_equal(path, "/d/g");
	assert_int_equal(ns_by_data_id(f->ns, 780, &n, path, sizeof(path), &dc), 0);
	assert_string_equal(path, "/top");
	assert_int_equal(ns_by_data_id(f->ns, 779, &n, path, sizeof(path), &dc), 0);
	assert_string_equal(path, "/d/g");
	c = journal_new(JOURNAL_RENAME);
	strcpy(c->u.rename.src, "/d");
	strcpy(c->u.rename.dst, "/e");
	c->u.rename.time_ms = 4;
	assert_int_equal(apply(f->ns, c), 0);
	assert_int_equal(ns_by_data_id(f->ns, 778, &n, path, sizeof(path), &dc), 0);
	assert_string_equal(path, "/e/f");
	/* Too small a buffer: an error, not a cut path. */
	char small[4];
	assert_int_equal(ns_by_data_id(f->ns, 779, &n, small, sizeof(small), &dc), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_worker_state_upserts_and_removes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_by_data_id_finds_the_current_content, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
