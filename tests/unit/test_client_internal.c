/* client/internal.c: the worker's requests encode as the master parses
 * them, its replies decode with ids exact past 2^53, and malformed replies
 * are refused with the field named. */
#include "api/http.h"
#include "client/client.h"
#include "lib/err.h"
#include "lib/httpc.h"
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

/* doc through its text, as on the wire. */
static cJSON *wire(cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	assert_non_null(text);
	cJSON *back = cJSON_Parse(text);
	free(text);
	assert_non_null(back);
	return back;
}

static void test_registration_encodes_exact_ids(void **state)
{
	(void)state;
	struct client_block_held blocks[] = { { ABOVE_2_53, 0 }, { UINT64_MAX, 2 } };
	struct client_registration reg = {
		.host = "10.0.0.7", .data_port = 29999, .s3_port = 29998, .version = "1.2.3",
		.capacity_bytes = 1LL << 40, .used_bytes = 5, .nblocks = 2, .blocks = blocks,
	};
	cJSON *o = wire(client_registration_encode(&reg));
	char err[128];
	const char *host = NULL;
	int64_t port = 0, cap = 0;
	assert_int_equal(json_get_str(o, "host", true, &host, err, sizeof(err)), 0);
	assert_string_equal(host, "10.0.0.7");
	assert_int_equal(json_get_int(o, "data_port", true, 0, 65535, &port, err, sizeof(err)), 0);
	assert_int_equal(port, 29999);
	assert_int_equal(json_get_int(o, "capacity_bytes", true, 0, INT64_MAX, &cap, err,
				      sizeof(err)), 0);
	assert_int_equal(cap, 1LL << 40);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "blocks");
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	uint64_t id = 0;
	assert_int_equal(json_u64_value(cJSON_GetArrayItem(cJSON_GetArrayItem(arr, 0), 0), &id), 0);
	assert_true(id == ABOVE_2_53);
	assert_int_equal(json_u64_value(cJSON_GetArrayItem(cJSON_GetArrayItem(arr, 1), 0), &id), 0);
	assert_true(id == UINT64_MAX);
	assert_int_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(arr, 1), 1)->valueint, 2);
	cJSON_Delete(o);
}

static void test_heartbeat_encodes_changes_and_borrowed_metrics(void **state)
{
	(void)state;
	struct client_block_held added[] = { { ABOVE_2_53, 1 } };
	uint64_t removed[] = { ABOVE_2_53 + 2 };
	cJSON *metrics = cJSON_CreateObject();
	cJSON_AddNumberToObject(metrics, "reads", 3);
	struct client_heartbeat hb = {
		.worker_id = ABOVE_2_53, .capacity_bytes = 100, .used_bytes = 10,
		.nadded = 1, .added = added, .nremoved = 1, .removed = removed,
		.metrics = metrics,
	};
	cJSON *o = wire(client_heartbeat_encode(&hb));
	/* The caller still owns its counters. */
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(metrics, "reads")->valueint, 3);
	cJSON_Delete(metrics);
	uint64_t id = 0;
	char err[128];
	assert_int_equal(json_get_u64(o, "worker_id", true, &id, err, sizeof(err)), 0);
	assert_true(id == ABOVE_2_53);
	const cJSON *rm = cJSON_GetObjectItemCaseSensitive(o, "removed");
	assert_int_equal(json_u64_value(cJSON_GetArrayItem(rm, 0), &id), 0);
	assert_true(id == ABOVE_2_53 + 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "added")), 1);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(
				 cJSON_GetObjectItemCaseSensitive(o, "metrics"), "reads")->valueint,
			 3);

	/* Nothing changed: both lists present and empty, no metrics. */
	struct client_heartbeat quiet = { .worker_id = 1 };
	cJSON_Delete(o);
	o = wire(client_heartbeat_encode(&quiet));
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "added")));
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "removed")));
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "metrics"));
	cJSON_Delete(o);
}

static void test_write_done_omits_an_empty_etag(void **state)
{
	(void)state;
	struct client_write_done d = { .path = "/m/f", .data_id = ABOVE_2_53, .length = 7,
				       .mtime_ms = 1700000000000, .fingerprint = "fp", .etag = "" };
	cJSON *o = wire(client_write_done_encode(&d));
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "etag"));
	uint64_t id = 0;
	char err[128];
	assert_int_equal(json_get_u64(o, "data_id", true, &id, err, sizeof(err)), 0);
	assert_true(id == ABOVE_2_53);
	cJSON_Delete(o);
	d.etag = "\"abc\"";
	o = client_write_done_encode(&d);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "etag")->valuestring, "\"abc\"");
	cJSON_Delete(o);
}

static void test_file_loaded_encodes(void **state)
{
	(void)state;
	struct client_file_loaded d = { .path = "/m/f", .length = 5000000000u, .mtime_ms = 1700000000000,
					.fingerprint = "\"e\"" };
	cJSON *o = wire(client_file_loaded_encode(&d));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "path")->valuestring, "/m/f");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "fingerprint")->valuestring,
			    "\"e\"");
	int64_t len = 0, mtime = 0;
	char err[128];
	assert_int_equal(json_get_int(o, "length", true, 0, INT64_MAX, &len, err, sizeof(err)), 0);
	assert_true(len == 5000000000);
	assert_int_equal(json_get_int(o, "mtime_ms", true, 0, INT64_MAX, &mtime, err, sizeof(err)),
			 0);
	assert_int_equal(mtime, 1700000000000);
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "etag"));
	cJSON_Delete(o);
}

/* An InternalFile as api/rest_fs.c builds it. */
static cJSON *file_reply(void)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", "/m/f");
	json_add_int(o, "length", 5000);
	json_add_u64(o, "data_id", ABOVE_2_53);
	json_add_int(o, "block_size", 4096);
	json_add_int(o, "mtime_ms", 1700000000123);
	cJSON_AddStringToObject(o, "fingerprint", "fp");
	cJSON_AddStringToObject(o, "etag", "e1");
	cJSON_AddStringToObject(o, "ufs_path", "dir/f");
	json_add_int(o, "epoch", 42);
	json_add_u64(o, "mount_epoch", ABOVE_2_53);
	json_add_int(o, "trust_ms", -1);
	cJSON *m = cJSON_AddObjectToObject(o, "mount");
	cJSON_AddStringToObject(m, "path", "/m");
	cJSON_AddStringToObject(m, "uri", "s3://bucket/pre");
	cJSON *opts = cJSON_AddObjectToObject(m, "options");
	cJSON_AddStringToObject(opts, "s3.endpoint", "http://127.0.0.1:9000");
	cJSON_AddNumberToObject(opts, "not_a_store_option", 1);
	return o;
}

static void test_file_info_decodes(void **state)
{
	(void)state;
	cJSON *doc = wire(file_reply());
	struct client_file_info fi;
	char err[128] = "";
	assert_int_equal(client_file_info_decode(doc, &fi, err, sizeof(err)), 0);
	assert_true(fi.data_id == ABOVE_2_53);
	assert_int_equal(fi.length, 5000);
	assert_int_equal(fi.block_size, 4096);
	assert_int_equal(fi.epoch, 42);
	assert_true(fi.mount_epoch == ABOVE_2_53);
	assert_string_equal(fi.mount_path, "/m");
	assert_int_equal(fi.trust_ms, -1);
	assert_string_equal(fi.ufs_path, "dir/f");
	assert_string_equal(fi.etag, "e1");
	assert_string_equal(fi.store.uri, "s3://bucket/pre");
	assert_int_equal(fi.store.nopts, 1);
	assert_string_equal(fi.store.opts[0].key, "s3.endpoint");
	assert_string_equal(fi.store.opts[0].value, "http://127.0.0.1:9000");
	assert_null(fi.json);
	client_file_info_clear(&fi);
	client_file_info_clear(&fi); /* safe on a cleared one */
	cJSON_Delete(doc);
}

/* Each broken field is refused with ST_EPROTO and named. */
static void test_file_info_refuses_malformed_fields(void **state)
{
	(void)state;
	static const struct {
		const char *field;
		const char *bad_json; /* NULL: remove the field */
	} cases[] = {
		{ "data_id", "1e17" }, /* a number past 2^53: not exact */
		{ "data_id", NULL },
		{ "length", "\"5000\"" },
		{ "block_size", "0" },
		{ "ufs_path", "7" },
		{ "etag", "false" },
		{ "trust_ms", "-2" },
		{ "mount_epoch", "-1" },
		{ "mount_epoch", "\"12a\"" },
		{ "mount", "\"s3://x\"" },
		{ "mount", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *doc = file_reply();
		if (cases[i].bad_json)
			cJSON_ReplaceItemInObjectCaseSensitive(doc, cases[i].field,
							       cJSON_Parse(cases[i].bad_json));
		else
			cJSON_DeleteItemFromObjectCaseSensitive(doc, cases[i].field);
		struct client_file_info fi;
		char err[160] = "";
		assert_int_equal(client_file_info_decode(doc, &fi, err, sizeof(err)), ST_EPROTO);
		assert_non_null(strstr(err, cases[i].field));
		cJSON_Delete(doc);
	}
	/* A mount without a string uri. */
	cJSON *doc = file_reply();
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "mount"),
						"uri");
	struct client_file_info fi;
	char err[160] = "";
	assert_int_equal(client_file_info_decode(doc, &fi, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "mount.uri"));
	cJSON_Delete(doc);
}

/* The per-mount epochs of GET /api/v1/internal/epoch. */
static void test_mount_epochs_decode(void **state)
{
	(void)state;
	char err[160] = "";
	struct client_mount_epochs me;
	cJSON *doc = cJSON_Parse("{\"epoch\":\"9\",\"mounts\":{\"/\":\"3\","
				 "\"/b\":\"18446744073709551615\"}}");
	assert_int_equal(client_mount_epochs_decode(doc, &me, err, sizeof(err)), 0);
	assert_int_equal(me.n, 2);
	assert_string_equal(me.paths[0], "/");
	assert_true(me.epochs[0] == 3);
	assert_string_equal(me.paths[1], "/b");
	assert_true(me.epochs[1] == UINT64_MAX);
	client_mount_epochs_clear(&me);
	cJSON_Delete(doc);
	/* An older master: none. */
	doc = cJSON_Parse("{\"epoch\":\"9\"}");
	assert_int_equal(client_mount_epochs_decode(doc, &me, err, sizeof(err)), 0);
	assert_int_equal(me.n, 0);
	cJSON_Delete(doc);
	static const char *const bad[] = {
		"{\"mounts\":[]}",
		"{\"mounts\":{\"/a\":3}}",
		"{\"mounts\":{\"/a\":\"-3\"}}",
		"{\"mounts\":{\"/\":\"1\",\"/a\":\"18446744073709551616\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = cJSON_Parse(bad[i]);
		assert_int_equal(client_mount_epochs_decode(doc, &me, err, sizeof(err)),
				 ST_EPROTO);
		assert_non_null(strstr(err, "mounts"));
		assert_int_equal(me.n, 0);
		cJSON_Delete(doc);
	}
}

static void test_write_grant(void **state)
{
	(void)state;
	cJSON *doc = cJSON_CreateObject();
	json_add_u64(doc, "data_id", UINT64_MAX);
	json_add_int(doc, "block_size", 1 << 20);
	cJSON_AddStringToObject(doc, "ufs_path", "a/b");
	cJSON *m = cJSON_AddObjectToObject(doc, "mount");
	cJSON_AddStringToObject(m, "uri", "file:///tmp/x");
	doc = wire(doc);
	struct client_write_grant g;
	char err[128] = "";
	assert_int_equal(client_write_grant_decode(doc, &g, err, sizeof(err)), 0);
	assert_true(g.data_id == UINT64_MAX);
	assert_int_equal(g.block_size, 1 << 20);
	assert_string_equal(g.store.uri, "file:///tmp/x");
	assert_int_equal(g.store.nopts, 0);
	client_write_grant_clear(&g);

	/* Data id 0 is never granted. */
	cJSON_ReplaceItemInObjectCaseSensitive(doc, "data_id", json_u64_create(0));
	assert_int_equal(client_write_grant_decode(doc, &g, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "data_id"));
	cJSON_Delete(doc);
}

static void test_heartbeat_reply(void **state)
{
	(void)state;
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "status", "ok");
	cJSON *list = cJSON_AddArrayToObject(doc, "workers");
	cJSON *p = cJSON_CreateObject();
	json_add_u64(p, "id", ABOVE_2_53);
	cJSON_AddStringToObject(p, "host", "10.0.0.8");
	cJSON_AddNumberToObject(p, "data_port", 29999);
	cJSON_AddItemToArray(list, p);
	doc = wire(doc);
	struct client_heartbeat_reply r;
	char err[160] = "";
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), 0);
	assert_int_equal(r.npeers, 1);
	assert_true(r.peers[0].id == ABOVE_2_53);
	assert_string_equal(r.peers[0].host, "10.0.0.8");
	assert_int_equal(r.peers[0].data_port, 29999);
	client_heartbeat_reply_clear(&r);

	/* A second entry without its host: the entry and the field named. */
	p = cJSON_CreateObject();
	json_add_u64(p, "id", 2);
	cJSON_AddNumberToObject(p, "data_port", 1);
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(doc, "workers"), p);
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "workers[1]"));
	assert_non_null(strstr(err, "host"));

	cJSON_ReplaceItemInObjectCaseSensitive(doc, "workers", cJSON_CreateString("x"));
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "workers"));

	/* No live list at all: no peers. */
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "workers");
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), 0);
	assert_int_equal(r.npeers, 0);
	assert_false(r.has_mounts);
	client_heartbeat_reply_clear(&r);

	/* The mount paths: taken when they are paths, refused otherwise. */
	cJSON *mounts = cJSON_AddArrayToObject(doc, "mounts");
	cJSON_AddItemToArray(mounts, cJSON_CreateString("/"));
	cJSON_AddItemToArray(mounts, cJSON_CreateString("/s3/b"));
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), 0);
	assert_true(r.has_mounts);
	assert_int_equal(r.nmounts, 2);
	assert_string_equal(r.mounts[1], "/s3/b");
	client_heartbeat_reply_clear(&r);
	cJSON_AddItemToArray(mounts, cJSON_CreateString("relative"));
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "mounts[2]"));
	cJSON_ReplaceItemInObjectCaseSensitive(doc, "mounts", cJSON_CreateNumber(1));
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "mounts"));
	cJSON_Delete(doc);
}

/* Replication orders (docs/replication.md): taken whole, or refused naming
 * the entry; the heartbeat names its address when it has one. */
static void test_heartbeat_reply_orders(void **state)
{
	(void)state;
	cJSON *doc = wire(cJSON_Parse(
		"{\"status\":\"ok\",\"replicate\":[{\"block\":\"9007199254740993\","
		"\"data_id\":\"3\",\"path\":\"/d/f\",\"source\":\"10.0.0.9:29999\"}],"
		"\"drop\":[\"5\",\"6\"]}"));
	struct client_heartbeat_reply r;
	char err[160] = "";
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), 0);
	assert_int_equal(r.ncopies, 1);
	assert_true(r.copies[0].block == ABOVE_2_53);
	assert_int_equal(r.copies[0].data_id, 3);
	assert_string_equal(r.copies[0].path, "/d/f");
	assert_string_equal(r.copies[0].source, "10.0.0.9:29999");
	assert_int_equal(r.ndrops, 2);
	assert_int_equal(r.drops[1], 6);
	client_heartbeat_reply_clear(&r);

	cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "replicate"), 0);
	cJSON_ReplaceItemInObjectCaseSensitive(c, "path", cJSON_CreateString("rel"));
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "replicate[0]"));
	cJSON_DeleteItemFromObjectCaseSensitive(c, "source");
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "source"));
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "replicate");
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(doc, "drop"), cJSON_CreateNumber(-1));
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "drop[2]"));
	cJSON_ReplaceItemInObjectCaseSensitive(doc, "drop", cJSON_CreateString("x"));
	assert_int_equal(client_heartbeat_reply_decode(doc, &r, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "'drop'"));
	cJSON_Delete(doc);

	struct client_heartbeat hb = { .worker_id = 1, .host = "10.0.0.9", .data_port = 29999 };
	cJSON *o = wire(client_heartbeat_encode(&hb));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "host")->valuestring, "10.0.0.9");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "data_port")->valueint, 29999);
	cJSON_Delete(o);
}

/* A master that answers each worker route with one failure. */
static void failing_master(struct http_req *req, void *ctx)
{
	(void)ctx;
	const char *p = http_req_path(req);
	cJSON *body = NULL;
	if (strcmp(http_req_method(req), "POST") == 0 && http_req_json(req, &body))
		return;
	const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "host"));
	char pins[16] = "";
	snprintf(pins, sizeof(pins), "%s", host && strncmp(host, "pins-", 5) == 0 ? host + 5 : "");
	cJSON_Delete(body);
	if (strcmp(p, "/api/v1/workers/heartbeat") == 0) {
		http_reply_error(req, 404, "unknown_worker", "worker 7 is not registered");
	} else if (strcmp(p, "/api/v1/workers/register") == 0 && *pins) {
		/* The "pin" list of a registration reply: good, not a list, not ids. */
		cJSON *o = cJSON_CreateObject();
		json_add_u64(o, "worker_id", 5);
		cJSON *arr = strcmp(pins, "nolist") == 0 ? cJSON_AddObjectToObject(o, "pin")
							 : cJSON_AddArrayToObject(o, "pin");
		if (strcmp(pins, "ok") == 0) {
			cJSON_AddItemToArray(arr, json_u64_create(12));
			cJSON_AddItemToArray(arr, json_u64_create(UINT64_C(1) << 60));
		} else if (strcmp(pins, "bad") == 0) {
			cJSON_AddItemToArray(arr, json_u64_create(12));
			cJSON_AddItemToArray(arr, cJSON_CreateString("twelve"));
		}
		http_reply_json(req, 200, o);
	} else if (strcmp(p, "/api/v1/workers/register") == 0) {
		cJSON *o = cJSON_CreateObject();
		json_add_u64(o, "worker_id", 0);
		http_reply_json(req, 200, o);
	} else if (strcmp(p, "/api/v1/internal/file") == 0) {
		http_reply_error(req, 404, "not_found", "no such file");
	} else if (strcmp(p, "/api/v1/internal/files") == 0) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddArrayToObject(o, "files"); /* none for the paths asked */
		http_reply_json(req, 200, o);
	} else if (strcmp(p, "/api/v1/internal/write/begin") == 0) {
		http_reply_error(req, 403, "read_only", "the mount is read-only");
	} else if (strcmp(p, "/api/v1/internal/write/commit") == 0) {
		http_reply_error(req, 409, "already_exists", "changed meanwhile");
	} else {
		http_reply_error(req, 404, "not_found", "no route %s", p);
	}
}

static void test_calls_map_the_masters_errors(void **state)
{
	(void)state;
	struct http_server_opts o = {
		.name = "m", .bind = "127.0.0.1", .threads = 2, .request_timeout_ms = 5000,
		.max_json_body = 1 << 20, .fallback = failing_master,
	};
	char err[256] = "";
	struct http_server *srv = http_server_start(&o, NULL, 0, NULL, err, sizeof(err));
	assert_non_null(srv);
	const char *addrs[] = { http_server_url(srv) };
	struct client *mc = NULL;
	struct client_opts co = { .follow_ms = 1000, .pause_ms = 20 };
	assert_int_equal(client_new(addrs, 1, &co, &mc, err, sizeof(err)), 0);
	struct httpc *hc = httpc_new(NULL);
	assert_non_null(hc);

	struct client_heartbeat hb = { .worker_id = 7 };
	struct client_heartbeat_reply hr;
	assert_int_equal(client_worker_heartbeat(mc, hc, &hb, &hr, err, sizeof(err)), -ENOENT);

	struct client_registration reg = { .host = "h", .version = "v" };
	uint64_t id = 1;
	assert_int_equal(client_worker_register(mc, hc, &reg, &id, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "worker_id"));
	assert_int_equal(id, 1);
	uint64_t *pins = NULL;
	size_t npins = 9;
	reg.host = "pins-ok";
	assert_int_equal(client_worker_register_pins(mc, hc, &reg, &id, &pins, &npins, err,
						     sizeof(err)), 0);
	assert_int_equal(id, 5);
	assert_int_equal(npins, 2);
	assert_true(pins[0] == 12 && pins[1] == UINT64_C(1) << 60);
	free(pins);
	reg.host = "pins-bad";
	assert_int_equal(client_worker_register_pins(mc, hc, &reg, &id, &pins, &npins, err,
						     sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "pin[1]"));
	assert_true(pins == NULL && npins == 0);
	reg.host = "pins-nolist";
	assert_int_equal(client_worker_register(mc, hc, &reg, &id, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "'pin'"));
	id = 1;

	struct client_file_info fi;
	assert_int_equal(client_file_lookup(mc, hc, "/m/gone", &fi, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/m/gone"));

	const char *paths[] = { "/a", "/b" };
	int rcs[2];
	struct client_file_info infos[2];
	assert_int_equal(client_files_lookup(mc, hc, paths, 2, rcs, infos, err, sizeof(err)),
			 ST_EPROTO);
	assert_non_null(strstr(err, "files"));

	uint64_t epoch = 0;
	assert_int_equal(client_epoch_get(mc, hc, &epoch, NULL, err, sizeof(err)), -ENOSYS);

	struct client_write_grant g;
	assert_int_equal(client_write_begin(mc, hc, "/m/ro", &g, err, sizeof(err)), -EROFS);
	assert_non_null(strstr(err, "/m/ro"));

	struct client_write_done d = { .path = "/m/f", .data_id = 1, .fingerprint = "fp" };
	assert_int_equal(client_write_commit(mc, hc, &d, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "/m/f"));

	httpc_free(hc);
	client_free(mc);
	http_server_stop(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registration_encodes_exact_ids),
		cmocka_unit_test(test_heartbeat_encodes_changes_and_borrowed_metrics),
		cmocka_unit_test(test_write_done_omits_an_empty_etag),
		cmocka_unit_test(test_file_loaded_encodes),
		cmocka_unit_test(test_file_info_decodes),
		cmocka_unit_test(test_file_info_refuses_malformed_fields),
		cmocka_unit_test(test_mount_epochs_decode),
		cmocka_unit_test(test_write_grant),
		cmocka_unit_test(test_heartbeat_reply),
		cmocka_unit_test(test_heartbeat_reply_orders),
		cmocka_unit_test(test_calls_map_the_masters_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
