#include "api/rest_worker.h"

#include "api/rest_common.h"
#include "daemon/worker/worker.h"
#include "lib/clock.h"
#include "lib/json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static void get_health(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	cJSON *o = cJSON_CreateObject();
	pthread_mutex_lock(&w->lock);
	uint64_t id = w->worker_id;
	pthread_mutex_unlock(&w->lock);
	cJSON_AddStringToObject(o, "status", "ok");
	cJSON_AddStringToObject(o, "role", "worker");
	cJSON_AddStringToObject(o, "version", STRATA_VERSION);
	cJSON_AddBoolToObject(o, "registered", id != 0);
	http_reply_json(req, 200, o);
}

static void get_worker(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	int64_t now = clock_mono_ms();
	cJSON *o = cJSON_CreateObject();
	pthread_mutex_lock(&w->lock);
	json_add_int(o, "worker_id", (int64_t)w->worker_id);
	cJSON_AddStringToObject(o, "master", w->master);
	json_add_int(o, "last_heartbeat_ms_ago",
		     w->last_heartbeat_mono_ms ? now - w->last_heartbeat_mono_ms : -1);
	pthread_mutex_unlock(&w->lock);
	cJSON_AddStringToObject(o, "host", w->host);
	json_add_int(o, "data_port", w->conf->worker_port);
	json_add_int(o, "s3_port", w->conf->worker_s3_port);
	json_add_int(o, "uptime_ms", now - w->started_mono_ms);
	cJSON *tiers = cJSON_AddArrayToObject(o, "tiers");
	cJSON *mem = cJSON_CreateObject();
	cJSON_AddStringToObject(mem, "name", "MEM");
	cJSON_AddStringToObject(mem, "dir", w->mem_dir);
	json_add_int(mem, "capacity_bytes", w->capacity_bytes);
	json_add_int(mem, "used_bytes", worker_used_bytes(w));
	cJSON_AddItemToArray(tiers, mem);
	http_reply_json(req, 200, o);
}

static void get_config(struct http_req *req, void *ctx)
{
	struct worker_node *w = ctx;
	cJSON *o = rest_config_json(w->conf);
	if (!o) {
		http_reply_error(req, 500, "out_of_memory", "cannot render configuration");
		return;
	}
	http_reply_json(req, 200, o);
}

static const struct http_route g_routes[] = {
	{ "GET", "/api/v1/health", get_health },
	{ "GET", "/api/v1/worker", get_worker },
	{ "GET", "/api/v1/config", get_config },
};

const struct http_route *rest_worker_routes(size_t *nroutes)
{
	*nroutes = sizeof(g_routes) / sizeof(g_routes[0]);
	return g_routes;
}

void rest_worker_s3_unavailable(struct http_req *req, void *ctx)
{
	static const char body[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NotImplemented</Code>"
		"<Message>This strata version does not serve S3 requests yet</Message></Error>";
	http_reply_raw(req, 501, "application/xml", body, sizeof(body) - 1);
}
