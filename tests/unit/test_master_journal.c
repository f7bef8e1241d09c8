/* Tests daemon/master/journal.c, the journal command table: every command
 * type survives encode -> decode unchanged (ids above 2^53 included, also
 * through ns_apply into the database), the wire text is the documented
 * one, every way decode refuses bytes is driven and names the field, and
 * encode refuses what would not decode. */
#include "daemon/master/journal.h"
#include "daemon/master/ns.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define BIG_ID 9007199254740993ULL /* 2^53 + 1: not a double */

static struct journal_cmd *cmd_of(enum journal_op op)
{
	struct journal_cmd *c = journal_new(op);
	assert_non_null(c);
	return c;
}

/* One command of every type, with values that exercise each field. */
static struct journal_cmd *sample(enum journal_op op)
{
	struct journal_cmd *c = cmd_of(op);
	switch (op) {
	case JOURNAL_MOUNT: {
		struct journal_mount *m = &c->u.mount;
		strcpy(m->path, "/s3/data");
		strcpy(m->uri, "s3://bucket/prefix");
		m->readonly = true;
		assert_int_equal(journal_mount_set_options(c, "{\"s3.region\":\"eu\","
							     "\"s3.secret_key\":\"hush\"}"),
				 0);
		m->block_size = 8 << 20;
		m->sync_interval_ms = -1;
		m->time_ms = 1700000000123;
		break;
	}
	case JOURNAL_UNMOUNT:
		strcpy(c->u.unmount.path, "/s3/data");
		break;
	case JOURNAL_MKDIR:
		strcpy(c->u.mkdir.path, "/a/b c/\xc3\xa9");
		c->u.mkdir.parents = true;
		c->u.mkdir.time_ms = 5;
		break;
	case JOURNAL_PUT_FILE: {
		struct journal_put_file *p = &c->u.put_file;
		strcpy(p->path, "/a/f");
		p->time_ms = 1700000000000;
		p->length = BIG_ID;
		p->mtime_ms = -12;
		strcpy(p->fingerprint, "\"etag\"");
		p->data_id = BIG_ID;
		strcpy(p->etag, "0123456789abcdef0123456789abcdef");
		break;
	}
	case JOURNAL_DELETE:
		strcpy(c->u.delete.path, "/a");
		c->u.delete.recursive = true;
		break;
	case JOURNAL_RENAME:
		strcpy(c->u.rename.src, "/a/f");
		strcpy(c->u.rename.dst, "/b/g");
		c->u.rename.time_ms = INT64_MAX;
		break;
	case JOURNAL_SYNC_DIR: {
		strcpy(c->u.sync_dir.path, "/");
		c->u.sync_dir.time_ms = 7;
		struct journal_sync_item a = { .name = "f", .length = 3, .mtime_ms = INT64_MIN,
					       .fingerprint = "x" };
		struct journal_sync_item b = { .name = "d", .is_dir = true, .mtime_ms = 9 };
		assert_int_equal(journal_sync_dir_add(c, &a), 0);
		assert_int_equal(journal_sync_dir_add(c, &b), 0);
		break;
	}
	case JOURNAL_SYNC_ENTRY: {
		struct journal_sync_entry *e = &c->u.sync_entry;
		strcpy(e->path, "/a/g");
		e->time_ms = 8;
		e->exists = true;
		e->length = 10;
		e->mtime_ms = 11;
		strcpy(e->fingerprint, "fp");
		e->data_id = BIG_ID;
		break;
	}
	case JOURNAL_ALLOC_DATA_ID:
		break;
	case JOURNAL_MASTER_SET:
		c->u.master_set.id = BIG_ID;
		strcpy(c->u.master_set.raft_address, "10.0.0.2:7100");
		strcpy(c->u.master_set.rest_url, "https://10.0.0.2:7000");
		break;
	case JOURNAL_MASTER_DEL:
		c->u.master_del.id = INT64_MAX;
		break;
	case JOURNAL_SET_PIN:
		strcpy(c->u.set_pin.path, "/a");
		c->u.set_pin.recursive = true;
		c->u.set_pin.pinned = true;
		strcpy(c->u.set_pin.medium, "SSD");
		break;
	case JOURNAL_SET_TTL:
		strcpy(c->u.set_ttl.path, "/a/f");
		c->u.set_ttl.ttl_ms = JOURNAL_TTL_MAX_MS;
		strcpy(c->u.set_ttl.action, "delete");
		c->u.set_ttl.time_ms = 1700000000000;
		break;
	case JOURNAL_SET_REPLICATION:
		strcpy(c->u.set_replication.path, "/");
		c->u.set_replication.min = 2;
		c->u.set_replication.max = -1;
		break;
	case JOURNAL_TTL_FIRE:
		strcpy(c->u.ttl_fire.path, "/a/f");
		c->u.ttl_fire.id = BIG_ID;
		strcpy(c->u.ttl_fire.action, "free");
		c->u.ttl_fire.time_ms = 9;
		break;
	case JOURNAL_JOB_CREATE:
		strcpy(c->u.job_create.type, "load");
		strcpy(c->u.job_create.path, "/a");
		c->u.job_create.recursive = true;
		strcpy(c->u.job_create.medium, "MEM");
		c->u.job_create.time_ms = 1700000000000;
		break;
	case JOURNAL_JOB_PROGRESS:
		c->u.job_progress.id = BIG_ID;
		c->u.job_progress.cursor = BIG_ID;
		c->u.job_progress.files_done = 3;
		c->u.job_progress.bytes_done = BIG_ID;
		c->u.job_progress.files_failed = 1;
		c->u.job_progress.time_ms = 10;
		break;
	case JOURNAL_JOB_ERROR:
		c->u.job_error.id = 7;
		strcpy(c->u.job_error.path, "/a/f");
		strcpy(c->u.job_error.reason, "worker 127.0.0.1:1: HTTP 500");
		break;
	case JOURNAL_JOB_END:
		c->u.job_end.id = 7;
		strcpy(c->u.job_end.path, "/a");
		strcpy(c->u.job_end.state, "cancelled");
		strcpy(c->u.job_end.reason, "cancelled by a request");
		c->u.job_end.time_ms = 11;
		break;
	case JOURNAL_MOUNT_UPDATE:
		strcpy(c->u.mount_update.path, "/s3/data");
		assert_int_equal(journal_mount_set_options(c, "{\"ttl\":\"1h\","
							     "\"s3.secret_key\":\"new\"}"),
				 0);
		c->u.mount_update.sync_interval_ms = 30000;
		c->u.mount_update.time_ms = 12;
		break;
	case JOURNAL_WORKER_STATE:
		strcpy(c->u.worker_state.address, "10.0.0.3:29999");
		strcpy(c->u.worker_state.state, "decommissioning");
		c->u.worker_state.time_ms = 13;
		break;
	case JOURNAL_SET_WRITE_TYPE:
		strcpy(c->u.set_write_type.path, "/a");
		c->u.set_write_type.recursive = true;
		strcpy(c->u.set_write_type.write_type, "ASYNC_THROUGH");
		break;
	case JOURNAL_SET_PERSISTENCE: {
		struct journal_set_persistence *p = &c->u.set_persistence;
		strcpy(p->path, "/a/f");
		p->id = BIG_ID;
		p->data_id = BIG_ID;
		strcpy(p->state, "persisted");
		p->length = BIG_ID;
		p->mtime_ms = 13;
		strcpy(p->fingerprint, "\"abc\"");
		p->time_ms = 14;
		break;
	}
	default:
		fail();
	}
	return c;
}

static char *encode_ok(const struct journal_cmd *c, size_t *len)
{
	char *text = NULL, err[512] = "";
	int rc = journal_encode(c, &text, len, err, sizeof(err));
	if (rc)
		print_error("encode %s: %s\n", journal_op_name(c->op), err);
	assert_int_equal(rc, 0);
	assert_int_equal(strlen(text), *len);
	return text;
}

static struct journal_cmd *decode_ok(const char *text, size_t len)
{
	struct journal_cmd *c = NULL;
	char err[512] = "";
	int rc = journal_decode(text, len, &c, err, sizeof(err));
	if (rc)
		print_error("decode %.*s: %s\n", (int)len, text, err);
	assert_int_equal(rc, 0);
	return c;
}

static void test_round_trip_every_type(void **state)
{
	(void)state;
	for (int op = JOURNAL_OP_NONE + 1; op < JOURNAL_OP_COUNT; op++) {
		struct journal_cmd *c = sample((enum journal_op)op);
		size_t len;
		char *text = encode_ok(c, &len);
		struct journal_cmd *d = decode_ok(text, len);
		assert_true(journal_equal(c, d));
		/* The encoding is canonical: the decoded command prints the same. */
		size_t len2;
		char *again = encode_ok(d, &len2);
		assert_string_equal(text, again);
		/* And it says its version and op. */
		char head[64];
		snprintf(head, sizeof(head), "{\"v\":%d,\"op\":\"%s\"", JOURNAL_VERSION,
			 journal_op_name(c->op));
		assert_memory_equal(text, head, strlen(head));
		free(again);
		free(text);
		journal_free(d);
		journal_free(c);
	}
}

/* The documented text (docs/namespace.md) of two commands, byte for byte. */
static void test_wire_text(void **state)
{
	(void)state;
	struct journal_cmd *c = sample(JOURNAL_PUT_FILE);
	size_t len;
	char *text = encode_ok(c, &len);
	assert_string_equal(text,
			    "{\"v\":7,\"op\":\"put_file\",\"path\":\"/a/f\","
			    "\"time_ms\":\"1700000000000\",\"length\":\"9007199254740993\","
			    "\"mtime_ms\":\"-12\",\"fingerprint\":\"\\\"etag\\\"\","
			    "\"data_id\":\"9007199254740993\","
			    "\"etag\":\"0123456789abcdef0123456789abcdef\"}");
	free(text);
	/* Optional fields at their zero value are left out. */
	c->u.put_file.data_id = 0;
	c->u.put_file.etag[0] = '\0';
	text = encode_ok(c, &len);
	assert_null(strstr(text, "data_id"));
	assert_null(strstr(text, "\"etag\":"));
	free(text);
	journal_free(c);

	c = sample(JOURNAL_SYNC_DIR);
	text = encode_ok(c, &len);
	assert_string_equal(text,
			    "{\"v\":7,\"op\":\"sync_dir\",\"path\":\"/\",\"time_ms\":\"7\","
			    "\"entries\":[{\"name\":\"f\",\"is_dir\":false,\"length\":\"3\","
			    "\"mtime_ms\":\"-9223372036854775808\",\"fingerprint\":\"x\"},"
			    "{\"name\":\"d\",\"is_dir\":true,\"length\":\"0\",\"mtime_ms\":\"9\","
			    "\"fingerprint\":\"\"}]}");
	free(text);
	journal_free(c);
}

/* Ids above 2^53 (not representable as doubles) come out exactly, from
 * the wire and through ns_apply into the database. */
static void test_ids_above_2_53_exact(void **state)
{
	(void)state;
	const char *set = "{\"v\":1,\"op\":\"master_set\",\"id\":\"9007199254740993\","
			  "\"raft_address\":\"h:1\",\"rest_url\":\"http://h:2\"}";
	struct journal_cmd *c = decode_ok(set, strlen(set));
	assert_true(c->u.master_set.id == BIG_ID);
	journal_free(c);
	const char *max = "{\"v\":1,\"op\":\"master_del\",\"id\":\"9223372036854775807\"}";
	c = decode_ok(max, strlen(max));
	assert_true(c->u.master_del.id == (uint64_t)INT64_MAX);
	journal_free(c);

	char dir[] = "/tmp/strata-test-journal.XXXXXX", db[128], err[512] = "";
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/ns.db", dir);
	struct ns *ns = NULL;
	assert_int_equal(ns_open(db, &ns, err, sizeof(err)), 0);
	const char *put = "{\"v\":1,\"op\":\"put_file\",\"path\":\"/big\",\"time_ms\":\"1\","
			  "\"length\":\"9007199254740993\",\"mtime_ms\":\"9007199254740993\","
			  "\"fingerprint\":\"\",\"data_id\":\"9007199254740993\"}";
	c = decode_ok(put, strlen(put));
	assert_int_equal(ns_apply(ns, 1, c, NULL, err, sizeof(err)), 0);
	journal_free(c);
	struct ns_inode n;
	assert_int_equal(ns_lookup(ns, "/big", &n), 0);
	assert_true(n.data_id == BIG_ID);
	assert_true(n.length == BIG_ID);
	assert_true(n.mtime_ms == (int64_t)BIG_ID);
	ns_close(ns);
	char rm[200];
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	assert_int_equal(system(rm), 0);
}

struct bad {
	const char *text;
	int rc;
	const char *says;
};

#define MKDIR_ "{\"v\":1,\"op\":\"mkdir\",\"path\":\"/a\",\"parents\":false"
#define PUT_ "{\"v\":1,\"op\":\"put_file\",\"path\":\"/f\",\"time_ms\":\"1\",\"length\":\"1\"," \
	     "\"mtime_ms\":\"1\",\"fingerprint\":\"\""
#define MOUNT_(opts) "{\"v\":1,\"op\":\"mount\",\"path\":\"/m\",\"uri\":\"file:///x\"," \
		     "\"readonly\":false,\"options\":" opts ",\"block_size\":\"1048576\","   \
		     "\"sync_interval_ms\":\"0\",\"time_ms\":\"1\"}"
#define SYNC_(entries) "{\"v\":1,\"op\":\"sync_dir\",\"path\":\"/d\",\"time_ms\":\"1\"," \
		       "\"entries\":" entries "}"
#define ITEM_(name) "{\"name\":" name ",\"is_dir\":false,\"length\":\"1\",\"mtime_ms\":\"1\"," \
		    "\"fingerprint\":\"\"}"
#define PIN_(pinned, rest) "{\"v\":2,\"op\":\"set_pin\",\"path\":\"/a\",\"recursive\":false," \
			  "\"pinned\":" pinned rest "}"
#define TTL_(ms, rest) "{\"v\":2,\"op\":\"set_ttl\",\"path\":\"/a\",\"recursive\":true," \
		       "\"ttl_ms\":\"" ms "\"" rest ",\"time_ms\":\"1\"}"
#define REPL_(min, max) "{\"v\":2,\"op\":\"set_replication\",\"path\":\"/a\","           \
			"\"recursive\":false,\"min\":\"" min "\",\"max\":\"" max "\"}"
/* A sync_entry with exists false and these attributes. */
#define GONE_(is_dir, len, mtime, fp)                                                       \
	"{\"v\":1,\"op\":\"sync_entry\",\"path\":\"/e\",\"time_ms\":\"1\",\"exists\":false," \
	"\"is_dir\":" is_dir ",\"length\":\"" len "\",\"mtime_ms\":\"" mtime "\","         \
	"\"fingerprint\":\"" fp "\"}"

/* Every way decode refuses bytes, each with the field it names. */
static const struct bad g_bad[] = {
	/* framing */
	{ "", -EINVAL, "must start with '{'" },
	{ " {\"v\":1}", -EINVAL, "must start with '{'" },
	{ "[1]", -EINVAL, "must start with '{'" },
	{ "{\"v\":1,", -EINVAL, "invalid JSON near offset 6" },
	{ MKDIR_ ",\"time_ms\":\"1\"}x", -EINVAL, "1 bytes after the object" },
	{ MKDIR_ ",\"time_ms\":\"1\"} ", -EINVAL, "1 bytes after the object" },
	/* header */
	{ "{\"op\":\"mkdir\"}", -EINVAL, "field 'v': missing" },
	{ "{\"v\":\"1\",\"op\":\"mkdir\"}", -EINVAL, "field 'v': must be a number" },
	{ "{\"v\":8,\"op\":\"mkdir\"}", -EPROTO, "field 'v': format version 8 is not supported "
	  "(this master reads versions 1 to 7)" },
	{ "{\"v\":4,\"op\":\"worker_state\",\"address\":\"h:1\",\"state\":\"decommissioning\","
	  "\"time_ms\":\"1\"}",
	  -EINVAL, "field 'op': 'worker_state' needs format version 5" },
	{ "{\"v\":5,\"op\":\"worker_state\",\"address\":\"h:1\",\"state\":\"gone\","
	  "\"time_ms\":\"1\"}",
	  -EINVAL, "field 'state': 'gone' is not active, decommissioning or decommissioned" },
	{ "{\"v\":5,\"op\":\"worker_state\",\"address\":\"host\",\"state\":\"decommissioned\","
	  "\"time_ms\":\"1\"}",
	  -EINVAL, "field 'address': 'host' is not host:port" },
	{ "{\"v\":5,\"op\":\"set_write_type\",\"path\":\"/a\",\"recursive\":false}", -EINVAL,
	  "field 'op': 'set_write_type' needs format version 6" },
	{ "{\"v\":6,\"op\":\"set_write_type\",\"path\":\"/a\",\"recursive\":false,"
	  "\"write_type\":\"SLOW\"}", -EINVAL,
	  "field 'write_type': 'SLOW' is not THROUGH, CACHE_THROUGH, ASYNC_THROUGH or MUST_CACHE" },
	{ "{\"v\":6,\"op\":\"set_persistence\",\"path\":\"/a\",\"id\":\"2\",\"data_id\":\"2\","
	  "\"state\":\"gone\",\"time_ms\":\"1\"}", -EINVAL,
	  "field 'state': 'gone' is not not_persisted, persisting, persisted or lost" },
	{ "{\"v\":6,\"op\":\"set_persistence\",\"path\":\"/a\",\"id\":\"2\",\"data_id\":\"2\","
	  "\"state\":\"lost\",\"length\":\"5\",\"time_ms\":\"1\"}", -EINVAL,
	  "field 'state': only 'persisted' carries the stored content" },
	{ "{\"v\":6,\"op\":\"put_file\",\"path\":\"/a\",\"time_ms\":\"1\",\"length\":\"0\","
	  "\"mtime_ms\":\"0\",\"fingerprint\":\"\",\"persistence\":\"lost\"}", -EINVAL,
	  "field 'persistence': 'lost' is not not_persisted" },
	{ "{\"v\":6,\"op\":\"put_file\",\"path\":\"/a\",\"time_ms\":\"1\",\"length\":\"0\","
	  "\"mtime_ms\":\"0\",\"fingerprint\":\"\",\"persist\":true}", -EINVAL,
	  "field 'persist': only with 'persistence' not_persisted" },
	{ "{\"v\":6,\"op\":\"put_file\",\"path\":\"/a\",\"time_ms\":\"1\",\"length\":\"0\","
	  "\"mtime_ms\":\"0\",\"fingerprint\":\"\",\"persistence\":\"not_persisted\","
	  "\"persist\":false}", -EINVAL, "field 'persist': is given only when true" },
	{ "{\"v\":3,\"op\":\"mount_update\",\"path\":\"/a\",\"options\":{},"
	  "\"sync_interval_ms\":\"0\",\"time_ms\":\"1\"}",
	  -EINVAL, "field 'op': 'mount_update' needs format version 4" },
	{ "{\"v\":4,\"op\":\"mount_update\",\"path\":\"/a\",\"options\":{},"
	  "\"sync_interval_ms\":\"-2\",\"time_ms\":\"1\"}",
	  -EINVAL, "field 'sync_interval_ms': -2 is out of range" },
	{ "{\"v\":2,\"op\":\"job_error\",\"id\":\"1\",\"path\":\"/a\",\"reason\":\"x\"}",
	  -EINVAL, "field 'op': 'job_error' needs format version 3" },
	{ "{\"v\":1.5,\"op\":\"mkdir\"}", -EPROTO, "field 'v': format version 1.5" },
	{ "{\"v\":0,\"op\":\"mkdir\"}", -EPROTO, "field 'v': format version 0" },
	{ "{\"v\":1}", -EINVAL, "field 'op': missing" },
	{ "{\"v\":1,\"op\":7}", -EINVAL, "field 'op': must be a string" },
	{ "{\"v\":1,\"op\":\"frobnicate\"}", -EINVAL, "field 'op': unknown command 'frobnicate'" },
	{ "{\"v\":1,\"v\":1,\"op\":\"alloc_data_id\"}", -EINVAL, "field 'v': given twice" },
	{ "{\"v\":1,\"op\":\"alloc_data_id\",\"op\":\"mkdir\"}", -EINVAL,
	  "field 'op': given twice" },
	/* fields */
	{ MKDIR_ ",\"time_ms\":\"1\",\"color\":\"red\"}", -EINVAL,
	  "field 'color': unknown in a 'mkdir' command" },
	{ MKDIR_ ",\"time_ms\":\"1\",\"path\":\"/b\"}", -EINVAL, "field 'path': given twice" },
	{ MKDIR_ "}", -EINVAL, "field 'time_ms': missing" },
	{ "{\"v\":1,\"op\":\"mkdir\",\"path\":17,\"parents\":false,\"time_ms\":\"1\"}", -EINVAL,
	  "field 'path': must be a string" },
	{ "{\"v\":1,\"op\":\"mkdir\",\"path\":\"a\",\"parents\":false,\"time_ms\":\"1\"}", -EINVAL,
	  "field 'path': 'a' is not a normal path" },
	{ "{\"v\":1,\"op\":\"mkdir\",\"path\":\"/a/\",\"parents\":false,\"time_ms\":\"1\"}",
	  -EINVAL, "field 'path': '/a/' is not a normal path" },
	{ "{\"v\":1,\"op\":\"mkdir\",\"path\":\"/a/../b\",\"parents\":false,\"time_ms\":\"1\"}",
	  -EINVAL, "field 'path': '/a/../b' is not a normal path" },
	{ "{\"v\":1,\"op\":\"rename\",\"src\":\"/a\",\"dst\":\"/b//c\",\"time_ms\":\"1\"}",
	  -EINVAL, "field 'dst': '/b//c' is not a normal path" },
	{ "{\"v\":1,\"op\":\"mkdir\",\"path\":\"/a\",\"parents\":1,\"time_ms\":\"1\"}", -EINVAL,
	  "field 'parents': must be true or false" },
	{ MKDIR_ ",\"time_ms\":1}", -EINVAL,
	  "field 'time_ms': must be an integer in a decimal string" },
	{ MKDIR_ ",\"time_ms\":\"01\"}", -EINVAL, "field 'time_ms': '01' is not a canonical" },
	{ MKDIR_ ",\"time_ms\":\"+1\"}", -EINVAL, "field 'time_ms': '+1' is not a canonical" },
	{ MKDIR_ ",\"time_ms\":\"1.0\"}", -EINVAL, "field 'time_ms': '1.0' is not a canonical" },
	{ MKDIR_ ",\"time_ms\":\"1e3\"}", -EINVAL, "field 'time_ms': '1e3' is not a canonical" },
	{ MKDIR_ ",\"time_ms\":\"\"}", -EINVAL, "field 'time_ms': '' is not a canonical" },
	{ MKDIR_ ",\"time_ms\":\"-0\"}", -EINVAL, "field 'time_ms': '-0' is not a canonical" },
	{ MKDIR_ ",\"time_ms\":\"123456789012345678901\"}", -EINVAL, "is not a canonical" },
	{ MKDIR_ ",\"time_ms\":\"-1\"}", -EINVAL, "field 'time_ms': -1 is out of range" },
	{ MKDIR_ ",\"time_ms\":\"9223372036854775808\"}", -EINVAL, "field 'time_ms': "
	  "9223372036854775808 is out of range [0, 9223372036854775807]" },
	{ MKDIR_ ",\"time_ms\":\"18446744073709551616\"}", -EINVAL, "is out of range" },
	{ "{\"v\":1,\"op\":\"put_file\",\"path\":\"/f\",\"time_ms\":\"1\",\"length\":\"1\","
	  "\"mtime_ms\":\"-9223372036854775809\",\"fingerprint\":\"\"}",
	  -EINVAL, "field 'mtime_ms': -9223372036854775809 is out of range" },
	{ PUT_ ",\"data_id\":\"0\"}", -EINVAL, "field 'data_id': 0 is out of range [1, " },
	{ PUT_ ",\"etag\":\"\"}", -EINVAL, "field 'etag': must not be empty (leave it out" },
	{ PUT_ ",\"etag\":\"0123456789012345678901234567890123456789012345678\"}", -EINVAL,
	  "field 'etag': longer than 47 bytes" },
	{ "{\"v\":1,\"op\":\"master_set\",\"id\":\"0\",\"raft_address\":\"h:1\","
	  "\"rest_url\":\"http://h:2\"}",
	  -EINVAL, "field 'id': 0 is out of range [1, " },
	{ "{\"v\":1,\"op\":\"master_set\",\"id\":\"3\",\"raft_address\":\"\","
	  "\"rest_url\":\"http://h:2\"}",
	  -EINVAL, "field 'raft_address': must not be empty" },
	{ "{\"v\":1,\"op\":\"master_del\"}", -EINVAL, "field 'id': missing" },
	/* mount */
	{ MOUNT_("[]"), -EINVAL, "field 'options': must be an object" },
	{ MOUNT_("{\"a\":1}"), -EINVAL, "field 'options': value of 'a' must be a string" },
	{ MOUNT_("{\"a\":\"1\",\"a\":\"2\"}"), -EINVAL, "field 'options': key 'a' given twice" },
	{ "{\"v\":1,\"op\":\"mount\",\"path\":\"/m\",\"uri\":\"file:///x\",\"readonly\":false,"
	  "\"options\":{},\"block_size\":\"1024\",\"sync_interval_ms\":\"0\",\"time_ms\":\"1\"}",
	  -EINVAL, "field 'block_size': 1024 is out of range [1048576, 536870912]" },
	{ "{\"v\":1,\"op\":\"mount\",\"path\":\"/m\",\"uri\":\"file:///x\",\"readonly\":false,"
	  "\"options\":{},\"block_size\":\"1048576\",\"sync_interval_ms\":\"-2\",\"time_ms\":\"1\"}",
	  -EINVAL, "field 'sync_interval_ms': -2 is out of range" },
	{ "{\"v\":1,\"op\":\"mount\",\"path\":\"/m\",\"uri\":\"\",\"readonly\":false,"
	  "\"options\":{},\"block_size\":\"1048576\",\"sync_interval_ms\":\"0\",\"time_ms\":\"1\"}",
	  -EINVAL, "field 'uri': must not be empty" },
	/* sync_dir */
	{ SYNC_("{}"), -EINVAL, "field 'entries': must be an array" },
	{ SYNC_("[1]"), -EINVAL, "field 'entries[0]': must be an object" },
	{ SYNC_("[" ITEM_("\"ok\"") "," ITEM_("\"bad/name\"") "]"), -EINVAL,
	  "field 'entries[1].name': 'bad/name' is not a valid name" },
	{ SYNC_("[" ITEM_("\".\"") "]"), -EINVAL, "field 'entries[0].name': '.' is not a valid" },
	{ SYNC_("[" ITEM_("\"\"") "]"), -EINVAL, "field 'entries[0].name': '' is not a valid" },
	{ SYNC_("[{\"name\":\"a\",\"is_dir\":false}]"), -EINVAL,
	  "field 'entries[0].length': missing" },
	{ SYNC_("[{\"name\":\"a\",\"is_dir\":false,\"length\":\"1\",\"mtime_ms\":\"1\","
		"\"fingerprint\":\"\",\"size\":\"1\"}]"),
	  -EINVAL, "field 'entries[0].size': unknown in a 'sync_dir entry' command" },
	/* policies */
	{ "{\"v\":1,\"op\":\"set_pin\",\"path\":\"/a\",\"recursive\":false,\"pinned\":true}",
	  -EINVAL, "field 'op': 'set_pin' needs format version 2" },
	{ PIN_("true", ",\"medium\":\"TAPE\""), -EINVAL,
	  "field 'medium': 'TAPE' is not MEM, SSD or HDD" },
	{ PIN_("true", ",\"medium\":\"mem\""), -EINVAL, "field 'medium': 'mem' is not MEM" },
	{ PIN_("false", ",\"medium\":\"MEM\""), -EINVAL,
	  "field 'medium': only with 'pinned' true" },
	{ PIN_("true", ",\"medium\":\"\""), -EINVAL, "field 'medium': must not be empty" },
	{ PIN_("true", ",\"medium\":\"MEMORY!!\""), -EINVAL, "field 'medium': longer than 7" },
	{ TTL_("-1", ""), -EINVAL, "field 'ttl_ms': -1 is out of range [0, 3153600000000]" },
	{ TTL_("3153600000001", ",\"action\":\"free\""), -EINVAL,
	  "field 'ttl_ms': 3153600000001 is out of range" },
	{ TTL_("5", ""), -EINVAL, "field 'action': '' is not free or delete" },
	{ TTL_("5", ",\"action\":\"burn\""), -EINVAL, "field 'action': 'burn' is not free" },
	{ TTL_("0", ",\"action\":\"free\""), -EINVAL,
	  "field 'action': only with a 'ttl_ms' above 0" },
	{ REPL_("3", "2"), -EINVAL, "field 'min': 3 is above 'max' 2" },
	{ REPL_("0", "0"), -EINVAL, "field 'max': must be -1 (unbounded) or at least 1" },
	{ REPL_("-1", "2"), -EINVAL, "field 'min': -1 is out of range [0, 64]" },
	{ REPL_("1", "65"), -EINVAL, "field 'max': 65 is out of range [-1, 64]" },
	{ REPL_("1", "-2"), -EINVAL, "field 'max': -2 is out of range" },
	/* data jobs */
	{ "{\"v\":3,\"op\":\"job_create\",\"type\":\"copy\",\"path\":\"/a\","
	  "\"recursive\":true,\"time_ms\":\"1\"}",
	  -EINVAL, "field 'type': 'copy' is not load, free or persist" },
	{ "{\"v\":3,\"op\":\"job_create\",\"type\":\"free\",\"path\":\"/a\","
	  "\"recursive\":true,\"medium\":\"MEM\",\"time_ms\":\"1\"}",
	  -EINVAL, "field 'medium': only with 'type' load" },
	{ "{\"v\":3,\"op\":\"job_end\",\"id\":\"1\",\"path\":\"/a\","
	  "\"state\":\"paused\",\"time_ms\":\"1\"}",
	  -EINVAL, "field 'state': 'paused' is not done, failed or cancelled" },
	{ "{\"v\":3,\"op\":\"job_progress\",\"id\":\"0\",\"cursor\":\"1\","
	  "\"files_done\":\"1\",\"bytes_done\":\"1\",\"files_failed\":\"0\","
	  "\"time_ms\":\"1\"}",
	  -EINVAL, "field 'id': 0 is out of range" },
	{ "{\"v\":2,\"op\":\"ttl_fire\",\"path\":\"/f\",\"id\":\"2\",\"action\":\"drop\","
	  "\"time_ms\":\"1\"}", -EINVAL, "field 'action': 'drop' is not free or delete" },
	{ "{\"v\":2,\"op\":\"ttl_fire\",\"path\":\"/f\",\"id\":\"0\",\"action\":\"free\","
	  "\"time_ms\":\"1\"}", -EINVAL, "field 'id': 0 is out of range" },
	{ "{\"v\":2,\"op\":\"ttl_fire\",\"path\":\"/f\",\"id\":\"2\",\"time_ms\":\"1\"}",
	  -EINVAL, "field 'action': missing" },
	/* sync_entry: attributes only with exists */
	{ GONE_("true", "0", "0", ""), -EINVAL,
	  "field 'is_dir': must be false when 'exists' is false" },
	{ GONE_("false", "1", "0", ""), -EINVAL,
	  "field 'length': must be \"0\" when 'exists' is false" },
	{ GONE_("false", "0", "1", ""), -EINVAL,
	  "field 'mtime_ms': must be \"0\" when 'exists' is false" },
	{ GONE_("false", "0", "0", "x"), -EINVAL,
	  "field 'fingerprint': must be \"\" when 'exists' is false" },
	/* sync_entry's proposed data_id: none when gone, never 0 */
	{ "{\"v\":7,\"op\":\"sync_entry\",\"path\":\"/e\",\"time_ms\":\"1\",\"exists\":false,"
	  "\"is_dir\":false,\"length\":\"0\",\"mtime_ms\":\"0\",\"fingerprint\":\"\","
	  "\"data_id\":\"5\"}",
	  -EINVAL, "field 'data_id': must be absent when 'exists' is false" },
	{ "{\"v\":7,\"op\":\"sync_entry\",\"path\":\"/e\",\"time_ms\":\"1\",\"exists\":true,"
	  "\"is_dir\":false,\"length\":\"1\",\"mtime_ms\":\"0\",\"fingerprint\":\"f\","
	  "\"data_id\":\"0\"}",
	  -EINVAL, "field 'data_id': 0 is out of range" },
};

static void test_decode_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(g_bad) / sizeof(g_bad[0]); i++) {
		struct journal_cmd *c = NULL;
		char err[512] = "";
		int rc = journal_decode(g_bad[i].text, strlen(g_bad[i].text), &c, err, sizeof(err));
		if (rc != g_bad[i].rc || !strstr(err, g_bad[i].says))
			print_error("case %zu %s: rc %d '%s', want %d '%s'\n", i, g_bad[i].text, rc,
				    err, g_bad[i].rc, g_bad[i].says);
		assert_int_equal(rc, g_bad[i].rc);
		assert_non_null(strstr(err, g_bad[i].says));
		assert_null(c);
	}
}

/* Cases a string literal cannot hold: a NUL byte, and over-long values. */
static void test_decode_errors_built(void **state)
{
	(void)state;
	struct journal_cmd *c = NULL;
	char err[512] = "";
	static const char nul[] = "{\"v\":1,\"op\":\"unmount\",\"path\":\"/a\0b\"}";
	assert_int_equal(journal_decode(nul, sizeof(nul) - 1, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NUL byte at offset 32"));

	/* A fingerprint of NS_FP_MAX bytes. */
	char *text = malloc(20000);
	assert_non_null(text);
	char fp[NS_FP_MAX + 1];
	memset(fp, 'f', NS_FP_MAX);
	fp[NS_FP_MAX] = '\0';
	snprintf(text, 20000,
		 "{\"v\":1,\"op\":\"put_file\",\"path\":\"/f\",\"time_ms\":\"1\",\"length\":\"1\","
		 "\"mtime_ms\":\"1\",\"fingerprint\":\"%s\"}",
		 fp);
	assert_int_equal(journal_decode(text, strlen(text), &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'fingerprint': longer than 95 bytes"));

	/* A path over PATH_MAX_LEN. */
	char *longpath = malloc(PATH_MAX_LEN + 3);
	assert_non_null(longpath);
	for (size_t i = 0; i < PATH_MAX_LEN + 1; i += 2)
		memcpy(longpath + i, "/a", 2);
	longpath[PATH_MAX_LEN + 1] = '\0';
	snprintf(text, 20000, "{\"v\":1,\"op\":\"unmount\",\"path\":\"%s\"}", longpath);
	assert_int_equal(journal_decode(text, strlen(text), &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'path': longer than 4095 bytes"));
	free(longpath);

	/* Options over JOURNAL_OPTIONS_MAX. */
	char *big = malloc(JOURNAL_OPTIONS_MAX + 1);
	assert_non_null(big);
	memset(big, 'o', JOURNAL_OPTIONS_MAX);
	big[JOURNAL_OPTIONS_MAX] = '\0';
	snprintf(text, 20000, MOUNT_("{\"k\":\"%s\"}"), big);
	assert_int_equal(journal_decode(text, strlen(text), &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'options': longer than 8191 bytes"));
	free(big);
	free(text);
	assert_null(c);
}

/* encode refuses what decode would: nothing malformed is ever proposed. */
static void test_encode_refuses(void **state)
{
	(void)state;
	char *text = NULL, err[512] = "";
	size_t len;
	struct journal_cmd *c = cmd_of(JOURNAL_OP_NONE);
	assert_int_equal(journal_encode(c, &text, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'op': unknown command type 0"));
	c->op = JOURNAL_OP_COUNT;
	assert_int_equal(journal_encode(c, &text, &len, err, sizeof(err)), -EINVAL);
	assert_null(journal_op_name(c->op));
	journal_free(c);

	c = sample(JOURNAL_MKDIR);
	strcpy(c->u.mkdir.path, "/a/./b");
	assert_int_equal(journal_encode(c, &text, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'path': '/a/./b' is not a normal path"));
	memset(c->u.mkdir.path, 'a', sizeof(c->u.mkdir.path));
	assert_int_equal(journal_encode(c, &text, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'path': not terminated within 4096 bytes"));
	journal_free(c);

	c = sample(JOURNAL_MOUNT);
	assert_int_equal(journal_mount_set_options(c, "{not json"), 0);
	assert_int_equal(journal_encode(c, &text, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'options': is not JSON"));
	assert_int_equal(journal_mount_set_options(c, "{\"n\":1}"), 0);
	assert_int_equal(journal_encode(c, &text, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'options': value of 'n' must be a string"));
	/* No options at all encode as {}. */
	free(c->u.mount.options);
	c->u.mount.options = NULL;
	text = encode_ok(c, &len);
	assert_non_null(strstr(text, "\"options\":{}"));
	free(text);
	text = NULL;
	c->u.mount.block_size = 0;
	assert_int_equal(journal_encode(c, &text, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'block_size'"));
	journal_free(c);

	c = sample(JOURNAL_SYNC_DIR);
	strcpy(c->u.sync_dir.entries[1].name, "..");
	assert_int_equal(journal_encode(c, &text, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'entries[1].name'"));
	journal_free(c);

	c = sample(JOURNAL_SYNC_ENTRY);
	c->u.sync_entry.exists = false;
	assert_int_equal(journal_encode(c, &text, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "when 'exists' is false"));
	journal_free(c);

	c = sample(JOURNAL_PUT_FILE);
	c->u.put_file.length = (uint64_t)INT64_MAX + 1;
	assert_int_equal(journal_encode(c, &text, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "field 'length': 9223372036854775808 is out of range"));
	/* Only a sync_dir takes entries. */
	struct journal_sync_item it = { .name = "x" };
	assert_int_equal(journal_sync_dir_add(c, &it), -EINVAL);
	journal_free(c);
	assert_null(text);
}

static void test_equal_tells_commands_apart(void **state)
{
	(void)state;
	for (int op = JOURNAL_OP_NONE + 1; op < JOURNAL_OP_COUNT; op++) {
		struct journal_cmd *a = sample((enum journal_op)op);
		struct journal_cmd *b = sample((enum journal_op)op);
		assert_true(journal_equal(a, b));
		journal_free(b);
	journal_free(a);
	}
	struct journal_cmd *a = sample(JOURNAL_SYNC_DIR), *b = sample(JOURNAL_SYNC_DIR);
	b->u.sync_dir.entries[1].is_dir = false;
	assert_false(journal_equal(a, b));
	b->u.sync_dir.nentries = 1;
	assert_false(journal_equal(a, b));
	journal_free(b);
	b = sample(JOURNAL_MKDIR);
	assert_false(journal_equal(a, b));
	journal_free(b);
	journal_free(a);
	a = sample(JOURNAL_MOUNT);
	b = sample(JOURNAL_MOUNT);
	assert_int_equal(journal_mount_set_options(b, "{}"), 0);
	assert_false(journal_equal(a, b));
	journal_free(b);
	journal_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_wire_text),
		cmocka_unit_test(test_ids_above_2_53_exact),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_decode_errors_built),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_equal_tells_commands_apart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
