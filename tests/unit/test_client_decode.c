/* client/decode.c: the REST replies into client/client.h's structs, ids
 * exact past 2^53, and malformed replies refused with the field named. */
#include "client/client.h"
#include "client/decode.h"
#include "lib/err.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ABOVE_2_53 UINT64_C(9007199254740993)

/* A stat reply as api/rest_fs.c builds it, ids from lib/json.h. */
static cJSON *stat_reply(void)
{
	cJSON *o = cJSON_CreateObject();
	json_add_u64(o, "id", ABOVE_2_53);
	cJSON_AddStringToObject(o, "path", "/data/x");
	cJSON_AddStringToObject(o, "name", "x");
	cJSON_AddStringToObject(o, "type", "file");
	json_add_int(o, "length", 5000);
	json_add_int(o, "mtime_ms", 1700000000123);
	cJSON_AddStringToObject(o, "fingerprint", "fp1");
	cJSON_AddBoolToObject(o, "mount_point", false);
	json_add_int(o, "block_size", 4096);
	cJSON *blocks = cJSON_AddArrayToObject(o, "blocks");
	for (int i = 0; i < 2; i++) {
		cJSON *b = cJSON_CreateObject();
		json_add_int(b, "index", i);
		json_add_u64(b, "id", ABOVE_2_53 + (uint64_t)i);
		json_add_int(b, "length", i ? 904 : 4096);
		cJSON *locs = cJSON_AddArrayToObject(b, "locations");
		if (i == 0) {
			cJSON *l = cJSON_CreateObject();
			json_add_u64(l, "worker_id", UINT64_MAX);
			cJSON_AddStringToObject(l, "address", "127.0.0.1:29999");
			cJSON_AddStringToObject(l, "tier", "MEM");
			cJSON_AddItemToArray(locs, l);
		}
		cJSON_AddItemToArray(blocks, b);
	}
	cJSON_AddNumberToObject(o, "cached_percent", 50.0);
	return o;
}

static void test_inode_with_blocks_round_trips_big_ids(void **state)
{
	(void)state;
	/* Through text, as on the wire. */
	cJSON *o = stat_reply();
	char *text = cJSON_PrintUnformatted(o);
	cJSON *doc = cJSON_Parse(text);
	struct client_inode n;
	char err[256] = "";
	assert_int_equal(client_inode_decode(doc, &n, err, sizeof(err)), 0);
	assert_true(n.id == ABOVE_2_53);
	assert_string_equal(n.path, "/data/x");
	assert_false(n.is_dir);
	assert_true(n.length == 5000);
	assert_true(n.mtime_ms == 1700000000123);
	assert_string_equal(n.fingerprint, "fp1");
	assert_string_equal(n.etag, "");
	assert_int_equal(n.block_size, 4096);
	assert_int_equal(n.nblocks, 2);
	assert_true(n.blocks[1].id == ABOVE_2_53 + 1);
	assert_true(n.blocks[1].index == 1 && n.blocks[1].length == 904);
	assert_int_equal(n.blocks[0].nlocations, 1);
	assert_true(n.blocks[0].locations[0].worker_id == UINT64_MAX);
	assert_string_equal(n.blocks[0].locations[0].tier, "MEM");
	assert_int_equal(n.blocks[1].nlocations, 0);
	assert_true(n.cached_percent == 50.0);
	client_inode_clear(&n);
	client_inode_clear(&n); /* a cleared struct clears again */
	free(text);
	cJSON_Delete(doc);
	cJSON_Delete(o);
}

static void test_inode_refuses_a_double_id(void **state)
{
	(void)state;
	/* 2^53 + 2 as a JSON number: what a daemon before ids-as-strings sent
	 * for big ids; it may already be rounded, so it is refused. */
	cJSON *doc = cJSON_Parse("{\"id\":9007199254740994,\"path\":\"/a\",\"name\":\"a\","
				 "\"type\":\"file\",\"length\":1,\"mtime_ms\":1}");
	struct client_inode n;
	char err[256] = "";
	assert_int_equal(client_inode_decode(doc, &n, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "'id'"));
	assert_null(n.path); /* nothing left to free */
	cJSON_Delete(doc);
	/* A small id as a number is fine (older daemons). */
	doc = cJSON_Parse("{\"id\":7,\"path\":\"/a\",\"name\":\"a\",\"type\":\"directory\","
			  "\"length\":0,\"mtime_ms\":1,\"mount_point\":true}");
	assert_int_equal(client_inode_decode(doc, &n, err, sizeof(err)), 0);
	assert_true(n.id == 7 && n.is_dir && n.mount_point && n.cached_percent < 0);
	client_inode_clear(&n);
	cJSON_Delete(doc);
}

static void test_inode_refuses_bad_fields(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"[]",
		"{\"path\":\"/a\"}",
		"{\"id\":\"1\",\"path\":5}",
		"{\"id\":\"1\",\"path\":\"/a\",\"length\":1.5}",
		"{\"id\":\"1\",\"path\":\"/a\",\"blocks\":[{\"id\":\"x\"}]}",
		"{\"id\":\"1\",\"path\":\"/a\",\"blocks\":[{\"id\":\"2\",\"locations\":"
		"[{\"worker_id\":-3}]}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *doc = cJSON_Parse(bad[i]);
		struct client_inode n;
		char err[256] = "";
		assert_int_equal(client_inode_decode(doc, &n, err, sizeof(err)), ST_EPROTO);
		assert_true(*err);
		cJSON_Delete(doc);
	}
}

static void test_workers(void **state)
{
	(void)state;
	cJSON *doc = cJSON_Parse(
		"{\"workers\":[{\"id\":\"9007199254740993\",\"address\":\"h:1\",\"host\":\"h\","
		"\"data_port\":1,\"s3_port\":2,\"state\":\"live\",\"version\":\"0.1\","
		"\"capacity_bytes\":100,\"used_bytes\":40,\"registered_at_ms\":5,"
		"\"last_heartbeat_ms_ago\":12},{\"id\":\"2\",\"state\":\"lost\"}]}");
	struct client_worker_list l;
	char err[256] = "";
	assert_int_equal(client_worker_list_decode(doc, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 2);
	assert_true(l.workers[0].id == ABOVE_2_53);
	assert_true(l.workers[0].live && !l.workers[1].live);
	assert_int_equal(l.workers[0].data_port, 1);
	assert_int_equal(l.workers[0].s3_port, 2);
	assert_int_equal(l.workers[0].used_bytes, 40);
	assert_int_equal(l.workers[0].last_heartbeat_ms_ago, 12);
	assert_string_equal(l.workers[1].address, "");
	client_worker_list_clear(&l);
	cJSON_Delete(doc);
	doc = cJSON_Parse("{\"workers\":[{\"id\":\"1\"},{\"id\":null}]}");
	assert_int_equal(client_worker_list_decode(doc, &l, err, sizeof(err)), ST_EPROTO);
	assert_null(l.workers);
	cJSON_Delete(doc);
}

static void test_metrics(void **state)
{
	(void)state;
	cJSON *doc = cJSON_Parse(
		"{\"cluster\":{\"cache_hits\":7,\"ufs_bytes_read\":100},"
		"\"workers\":[{\"id\":\"9007199254740993\",\"address\":\"h:1\",\"state\":\"live\","
		"\"counters\":{\"cache_hits\":7,\"note\":\"x\",\"ufs_bytes_read\":100}}],"
		"\"master\":{\"workers_live\":1,\"workers_lost\":0,\"capacity_bytes\":10,"
		"\"used_bytes\":3,\"cached_blocks\":4,\"journal_applied_index\":9,"
		"\"raft\":{\"role\":\"leader\",\"is_leader\":1,\"leader\":1,\"term\":2,"
		"\"commit_index\":9,\"applied_index\":9,\"elections_won\":1,\"failed\":false}}}");
	struct client_metrics m;
	char err[256] = "";
	assert_int_equal(client_metrics_decode(doc, &m, err, sizeof(err)), 0);
	assert_int_equal(m.workers_live, 1);
	assert_int_equal(m.cached_blocks, 4);
	assert_int_equal(m.journal_applied_index, 9);
	assert_string_equal(m.raft.role, "leader");
	assert_true(m.raft.leader == 1);
	assert_int_equal(m.raft.term, 2);
	assert_int_equal(m.raft.elections_won, 1);
	assert_false(m.raft.failed);
	assert_true(client_counter_value(m.cluster, m.ncluster, "cache_hits", -1) == 7);
	assert_true(client_counter_value(m.cluster, m.ncluster, "absent", -1) == -1);
	assert_int_equal(m.nworkers, 1);
	assert_true(m.workers[0].id == ABOVE_2_53);
	assert_true(m.workers[0].live);
	assert_int_equal(m.workers[0].ncounters, 2); /* "note" is not a number */
	assert_true(client_counter_value(m.workers[0].counters, m.workers[0].ncounters,
					 "ufs_bytes_read", 0) == 100);
	client_metrics_clear(&m);
	cJSON_Delete(doc);
	doc = cJSON_Parse("{\"cluster\":{}}");
	assert_int_equal(client_metrics_decode(doc, &m, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "master"));
	cJSON_Delete(doc);
}

/* A malformed mount option is refused before any call: the group below
 * has no master listening, so reaching the network would fail otherwise. */
static void test_mount_add_refuses_bad_options_before_calling(void **state)
{
	(void)state;
	const char *addrs[] = { "127.0.0.1:1" };
	struct client *mc = NULL;
	char err[256] = "";
	assert_int_equal(client_new(addrs, 1, NULL, &mc, err, sizeof(err)), 0);
	const char *opts[] = { "s3.region=x", "novalue" };
	assert_int_equal(client_mount_add(mc, NULL, "/m", "file:///tmp", false, opts, 2, err,
					  sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "option 'novalue': expected KEY=VALUE");
	const char *empty_key[] = { "=v" };
	assert_int_equal(client_mount_add(mc, NULL, "/m", "file:///tmp", false, empty_key, 1, err,
					  sizeof(err)),
			 -EINVAL);
	client_free(mc);
}

/* Error messages a daemon relayed: internal URLs go, what the last server
 * (or the store) said stays. */
static void test_reply_error_messages(void **state)
{
	static const struct {
		const char *msg, *want;
	} cases[] = {
		{ "GET http://10.0.0.1:1/api/v1/files: HTTP 400: '/x' is bad", "/p: '/x' is bad" },
		{ "POST http://10.0.0.1:1/api/v1/internal/write/begin: Couldn't connect to server",
		  "/p: Couldn't connect to server" },
		{ "read a.bin: s3://store at 127.0.0.1:9 unavailable: Timeout was reached",
		  "/p: read a.bin: s3://store at 127.0.0.1:9 unavailable: Timeout was reached" },
		{ "plain words", "/p: plain words" },
		{ "GET http://10.0.0.1:1/x: HTTP 503: ", "/p: the server answered HTTP 503" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *doc = cJSON_CreateObject();
		cJSON *e = cJSON_AddObjectToObject(doc, "error");
		cJSON_AddStringToObject(e, "code", "unavailable");
		cJSON_AddStringToObject(e, "message", cases[i].msg);
		char err[256] = "";
		assert_true(client_reply_error(503, doc, "/p", err, sizeof(err)) < 0);
		assert_string_equal(err, cases[i].want);
		cJSON_Delete(doc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inode_with_blocks_round_trips_big_ids),
		cmocka_unit_test(test_inode_refuses_a_double_id),
		cmocka_unit_test(test_inode_refuses_bad_fields),
		cmocka_unit_test(test_workers),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_mount_add_refuses_bad_options_before_calling),
		cmocka_unit_test(test_reply_error_messages),
	};
	return cmocka_run_group_tests_name("client_decode", tests, NULL, NULL);
}
