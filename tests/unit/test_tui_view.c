/* console/tui/derive.c and client/monitor.c's decoders: the figures of
 * strata-top from two samples, built from REST documents as the master
 * and the workers send them; the sparkline from the master's history and,
 * without one (404), from strata-top's own samples. */
#include "client/client.h"
#include "console/tui/top.h"
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

#include <cmocka.h>

#define MIB (1024.0 * 1024.0)

static cJSON *parse(const char *text)
{
	cJSON *doc = cJSON_Parse(text);
	assert_non_null(doc);
	return doc;
}

/* A sample at t_ms of one live worker with these counters, and the
 * cluster sums equal to them. */
static void make_sample(struct top_sample *s, int64_t t_ms, int64_t requests, int64_t hits,
			int64_t misses, int64_t from_cache, int64_t from_ufs, int64_t evictions,
			const char *history)
{
	char err[256], counters[512], doc[2048];
	memset(s, 0, sizeof(*s));
	s->t_ms = t_ms;
	snprintf(counters, sizeof(counters),
		 "{\"read_requests_total\":%lld,\"block_hits_total\":%lld,"
		 "\"block_misses_total\":%lld,\"bytes_from_cache_total\":%lld,"
		 "\"bytes_from_ufs_total\":%lld,\"bytes_from_peers_total\":0,"
		 "\"evictions_total\":%lld}",
		 (long long)requests, (long long)hits, (long long)misses, (long long)from_cache,
		 (long long)from_ufs, (long long)evictions);
	s->cluster.nworkers = 1;
	s->cluster.workers = calloc(1, sizeof(*s->cluster.workers));
	s->cluster.workers[0] = (struct client_worker){ .id = 7,
							.address = strdup("127.0.0.1:1"),
							.state = strdup("live"),
							.live = true,
							.last_heartbeat_ms_ago = 150 };
	s->wrc = calloc(1, sizeof(*s->wrc));
	s->wstats = calloc(1, sizeof(*s->wstats));
	snprintf(doc, sizeof(doc),
		 "{\"counters\":%s,\"tiers\":[{\"name\":\"MEM\",\"capacity_bytes\":1000,"
		 "\"used_bytes\":250},{\"name\":\"HDD\",\"capacity_bytes\":4000,"
		 "\"used_bytes\":0}]}",
		 counters);
	cJSON *d = parse(doc);
	assert_int_equal(client_worker_stats_decode(d, &s->wstats[0], err, sizeof(err)), 0);
	cJSON_Delete(d);
	snprintf(doc, sizeof(doc), "{\"cluster\":%s,\"workers\":[],\"master\":{}}", counters);
	d = parse(doc);
	assert_int_equal(client_metrics_decode(d, &s->metrics, err, sizeof(err)), 0);
	cJSON_Delete(d);
	s->metrics_rc = 0;
	s->masters_rc = -EAGAIN;
	s->history_rc = -ENOENT;
	if (history) {
		d = parse(history);
		s->history_rc = client_history_decode(d, &s->history, err, sizeof(err));
		assert_int_equal(s->history_rc, 0);
		cJSON_Delete(d);
	}
}

static void test_first_sample_has_no_rates(void **state)
{
	static struct rates_ring ring;
	static struct top_view v;
	struct top_sample s;
	memset(&ring, 0, sizeof(ring));
	make_sample(&s, 1000, 10, 3, 1, 300, 100, 0, NULL);
	assert_int_equal(top_view_build(NULL, &s, &ring, &v), 0);
	assert_false(v.rates);
	assert_true(v.req_s < 0 && v.hit_req_pct < 0);
	assert_true(v.hit_req_pct_total == 75); /* since start: 3 of 4 */
	assert_true(v.hit_bytes_pct_total == 75);
	assert_int_equal(v.nrows, 1);
	assert_true(v.rows[0].req_s < 0 && v.rows[0].hit_pct < 0);
	assert_true(v.rows[0].tier_pct[TOP_MEM] == 25);
	assert_true(v.rows[0].tier_pct[TOP_HDD] == 0);
	assert_true(v.rows[0].tier_pct[TOP_SSD] < 0); /* no such tier */
	assert_int_equal(v.tier_cap[TOP_MEM], 1000);
	top_view_clear(&v);
	top_sample_clear(&s);
}

static void test_rates_are_deltas_over_the_interval(void **state)
{
	static struct rates_ring ring;
	static struct top_view v;
	struct top_sample a, b, c;
	memset(&ring, 0, sizeof(ring));
	/* lifetime: 1000 requests, 10% hits; then 2 s with 40 requests, all hits */
	make_sample(&a, 1000, 1000, 100, 900, 0, 900 * MIB, 5, NULL);
	make_sample(&b, 3000, 1040, 140, 900, 40 * MIB, 900 * MIB, 9, NULL);
	assert_int_equal(top_view_build(NULL, &a, &ring, &v), 0);
	top_view_clear(&v);
	assert_int_equal(top_view_build(&a, &b, &ring, &v), 0);
	assert_true(v.rates);
	assert_true(v.dt_s == 2);
	assert_true(v.req_s == 20);
	assert_true(v.hit_req_pct == 100); /* the interval, not the lifetime */
	assert_true(v.hit_req_pct_total < 14);
	assert_true(v.cache_mib_s == 20 && v.store_mib_s == 0);
	assert_true(v.hit_bytes_pct == 100);
	const struct top_row *r = &v.rows[0];
	assert_true(r->rates);
	assert_true(r->req_s == 20 && r->hit_pct == 100);
	assert_true(r->served_mib_s == 20 && r->store_mib_s == 0);
	assert_true(r->evict_s == 2);
	top_view_clear(&v);
	/* then an idle interval: 0 req/s, hit ratio unknown (nothing read) */
	make_sample(&c, 4000, 1040, 140, 900, 40 * MIB, 900 * MIB, 9, NULL);
	assert_int_equal(top_view_build(&b, &c, &ring, &v), 0);
	assert_true(v.req_s == 0 && v.rows[0].req_s == 0);
	assert_true(v.hit_req_pct < 0 && v.rows[0].hit_pct < 0);
	/* own samples: a (miss-heavy lifetime), b (+40 hits), c (idle) */
	assert_false(v.spark_from_history);
	assert_int_equal(v.nspark, 2);
	assert_true(v.spark[0] == 1 && v.spark[1] < 0);
	top_view_clear(&v);
	top_sample_clear(&a);
	top_sample_clear(&b);
	top_sample_clear(&c);
}

static void test_worker_restart_is_not_a_negative_rate(void **state)
{
	static struct rates_ring ring;
	static struct top_view v;
	struct top_sample a, b;
	memset(&ring, 0, sizeof(ring));
	make_sample(&a, 1000, 500, 50, 50, 0, 0, 0, NULL);
	make_sample(&b, 2000, 8, 4, 4, 0, 0, 0, NULL);
	assert_int_equal(top_view_build(&a, &b, &ring, &v), 0);
	assert_true(v.rows[0].req_s == 8);
	assert_true(v.rows[0].hit_pct == 50);
	top_view_clear(&v);
	top_sample_clear(&a);
	top_sample_clear(&b);
}

static void test_same_instant_gives_no_rate(void **state)
{
	static struct rates_ring ring;
	static struct top_view v;
	struct top_sample a, b;
	memset(&ring, 0, sizeof(ring));
	make_sample(&a, 1000, 5, 1, 1, 0, 0, 0, NULL);
	make_sample(&b, 1000, 9, 2, 2, 0, 0, 0, NULL);
	assert_int_equal(top_view_build(&a, &b, &ring, &v), 0);
	assert_false(v.rates);
	assert_true(v.rows[0].req_s < 0);
	top_view_clear(&v);
	top_sample_clear(&a);
	top_sample_clear(&b);
}

static const char *const g_history =
	"{\"interval_ms\":5000,\"capacity\":720,\"count\":4,\"samples\":{"
	"\"t_ms\":[1,2,3,4],\"block_hits_total\":[0,10,10,40],"
	"\"block_misses_total\":[0,10,10,10],\"workers_live\":[1,1,1,1]}}";

static void test_sparkline_from_the_masters_history(void **state)
{
	static struct rates_ring ring;
	static struct top_view v;
	struct top_sample s;
	memset(&ring, 0, sizeof(ring));
	make_sample(&s, 1000, 5, 1, 1, 0, 0, 0, g_history);
	assert_int_equal(top_view_build(NULL, &s, &ring, &v), 0);
	assert_true(v.spark_from_history);
	assert_int_equal(v.spark_step_ms, 5000);
	assert_int_equal(v.nspark, 3);
	assert_true(v.spark[0] == 0.5 && v.spark[1] < 0 && v.spark[2] == 1);
	top_view_clear(&v);
	top_sample_clear(&s);
}

static void test_history_decoder_refuses_ragged_columns(void **state)
{
	struct client_history h;
	char err[256] = "";
	cJSON *d = parse("{\"interval_ms\":5000,\"count\":2,\"samples\":{\"t_ms\":[1,2],"
			 "\"block_hits_total\":[1]}}");
	assert_int_equal(client_history_decode(d, &h, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "block_hits_total"));
	cJSON_Delete(d);
	d = parse("{\"count\":1,\"samples\":{\"x\":[1]}}");
	assert_int_equal(client_history_decode(d, &h, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "t_ms"));
	cJSON_Delete(d);
	d = parse("{\"samples\":{}}");
	assert_int_equal(client_history_decode(d, &h, err, sizeof(err)), ST_EPROTO);
	cJSON_Delete(d);
}

static void test_worker_stats_decoder_refuses_bad_documents(void **state)
{
	struct client_worker_stats s;
	char err[256] = "";
	cJSON *d = parse("{\"counters\":[],\"tiers\":[]}");
	assert_int_equal(client_worker_stats_decode(d, &s, err, sizeof(err)), ST_EPROTO);
	cJSON_Delete(d);
	d = parse("{\"counters\":{},\"tiers\":[{\"used_bytes\":1}]}");
	assert_int_equal(client_worker_stats_decode(d, &s, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "name"));
	cJSON_Delete(d);
	d = parse("{\"counters\":{},\"tiers\":[],\"mounts\":{}}");
	assert_int_equal(client_worker_stats_decode(d, &s, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "mounts"));
	cJSON_Delete(d);
	d = parse("{\"counters\":{},\"tiers\":[],\"mounts\":[{\"read_requests\":1}]}");
	assert_int_equal(client_worker_stats_decode(d, &s, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "mounts[0]"));
	cJSON_Delete(d);
	d = parse("{\"counters\":{},\"tiers\":[],\"top_paths\":[{\"requests\":1}]}");
	assert_int_equal(client_worker_stats_decode(d, &s, err, sizeof(err)), ST_EPROTO);
	assert_non_null(strstr(err, "top_paths[0]"));
	cJSON_Delete(d);
	d = parse("{\"counters\":{},\"tiers\":[],\"mounts\":[{\"mount\":\"/m\","
		  "\"block_hits\":3}],\"top_paths\":[{\"path\":\"/m/x\",\"requests\":2.5}]}");
	assert_int_equal(client_worker_stats_decode(d, &s, err, sizeof(err)), 0);
	assert_int_equal(s.nmounts, 1);
	assert_int_equal(s.mounts[0].block_hits, 3);
	assert_int_equal(s.npaths, 1);
	assert_true(s.top_paths[0].requests == 2.5);
	client_worker_stats_clear(&s);
	cJSON_Delete(d);
}

static void test_sort_by_column(void **state)
{
	struct top_row rows[3] = {
		{ .id = 1, .address = "b", .state = "live", .req_s = 5, .hit_pct = -1 },
		{ .id = 2, .address = "a", .state = "lost", .req_s = 50, .hit_pct = 10 },
		{ .id = 3, .address = "c", .state = "live", .req_s = 0.5, .hit_pct = 90 },
	};
	top_sort_rows(rows, 3, COL_REQ, false);
	assert_int_equal(rows[0].id, 2); /* largest first, like top */
	assert_int_equal(rows[2].id, 3);
	top_sort_rows(rows, 3, COL_REQ, true);
	assert_int_equal(rows[0].id, 3);
	top_sort_rows(rows, 3, COL_ADDRESS, false);
	assert_string_equal(rows[0].address, "a");
	top_sort_rows(NULL, 0, COL_REQ, false); /* a failed refresh has no rows */
	top_sort_rows(rows, 3, COL_HIT, false);
	assert_int_equal(rows[0].id, 3);
	assert_int_equal(rows[2].id, 1); /* unknown last */
}

static void test_history_is_asked_once_per_sample_interval(void **state)
{
	assert_true(top_history_due(0, -1, 0, 5000));	   /* never asked */
	assert_false(top_history_due(4999, 0, 0, 5000));   /* the samples are the same */
	assert_true(top_history_due(5000, 0, 0, 5000));
	assert_false(top_history_due(900, 0, 0, 0));	   /* at most once a second */
	assert_false(top_history_due(29999, 0, -ENOENT, 5000)); /* a master without one */
	assert_true(top_history_due(30000, 0, -ENOENT, 5000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_sample_has_no_rates),
		cmocka_unit_test(test_rates_are_deltas_over_the_interval),
		cmocka_unit_test(test_worker_restart_is_not_a_negative_rate),
		cmocka_unit_test(test_same_instant_gives_no_rate),
		cmocka_unit_test(test_sparkline_from_the_masters_history),
		cmocka_unit_test(test_history_decoder_refuses_ragged_columns),
		cmocka_unit_test(test_worker_stats_decoder_refuses_bad_documents),
		cmocka_unit_test(test_sort_by_column),
		cmocka_unit_test(test_history_is_asked_once_per_sample_interval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
