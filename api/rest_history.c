/*
 * GET /api/v1/metrics/history[?since_ms=T]: the samples the master took
 * every interval_ms, oldest first, as columns (one array per field, all
 * of the same length) to keep an hour of samples small on the wire.
 */
#include "api/rest_history.h"

#include "daemon/master/history.h"
#include "daemon/master/master.h"
#include "lib/conf.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* The column of field `field` (history_field order), or of t_ms for T_MS. */
#define T_MS SIZE_MAX

static cJSON *column(cJSON *cols, const char *name, const struct history_sample *s, size_t n,
		     size_t field)
{
	cJSON *arr = cJSON_AddArrayToObject(cols, name);
	for (size_t i = 0; arr && i < n; i++) {
		int64_t v = field == T_MS ? s[i].t_ms : history_field(&s[i], field);
		cJSON *num = cJSON_CreateNumber((double)v);
		if (!num || !cJSON_AddItemToArray(arr, num)) {
			cJSON_Delete(num);
			return NULL;
		}
	}
	return arr;
}

static void get_history(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	if (!m->history) {
		http_reply_error(req, 503, "unavailable", "this master keeps no metrics history");
		return;
	}
	char buf[32];
	int64_t since = -1;
	if (http_req_param(req, "since_ms", buf, sizeof(buf)) != -ENOENT &&
	    (conf_parse_int(buf, &since) || since < 0)) {
		http_reply_error(req, 400, "invalid_argument",
				 "query parameter 'since_ms' must be a non-negative integer "
				 "(milliseconds since the epoch)");
		return;
	}
	size_t cap = history_capacity(m->history);
	struct history_sample *s = calloc(cap, sizeof(*s));
	cJSON *o = cJSON_CreateObject();
	if (!s || !o)
		goto err_oom;
	size_t n = history_copy(m->history, since, s, cap);
	json_add_int(o, "interval_ms", m->history_interval_ms);
	json_add_int(o, "capacity", (int64_t)cap);
	json_add_int(o, "count", (int64_t)n);
	cJSON *cols = cJSON_AddObjectToObject(o, "samples");
	if (!cols || !column(cols, "t_ms", s, n, T_MS))
		goto err_oom;
	size_t nfields;
	const char *const *names = history_field_names(&nfields);
	for (size_t f = 0; f < nfields; f++)
		if (!column(cols, names[f], s, n, f))
			goto err_oom;
	free(s);
	http_reply_json(req, 200, o);
	return;

err_oom:
	free(s);
	cJSON_Delete(o);
	http_reply_error(req, 500, "out_of_memory", "cannot build the metrics history");
}

static const struct http_route g_routes[] = {
	{ "GET", "/api/v1/metrics/history", HTTP_ACCESS_READONLY, get_history },
};

const struct http_route *rest_history_routes(size_t *nroutes)
{
	*nroutes = sizeof(g_routes) / sizeof(g_routes[0]);
	return g_routes;
}
