/* REST of the data jobs: POST/GET /api/v1/jobs, GET/DELETE
 * /api/v1/jobs/{id} (docs/openapi.json). */
#include "api/rest_jobs.h"

#include "daemon/master/datajobs.h"
#include "daemon/master/master.h"
#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOBS_LIST_MAX 100

/* POST /api/v1/jobs {"type","path","recursive","medium"} -> 201 {"id"}. */
static void post_job(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	cJSON *body;
	if (http_req_json(req, &body))
		return;
	char err[1024] = "", path[PATH_MAX_LEN + 1];
	const char *type = NULL, *raw = NULL, *medium = NULL;
	bool recursive = false;
	if (!cJSON_IsObject(body)) {
		http_reply_error(req, 400, "invalid_argument", "the body must be a JSON object");
		goto out;
	}
	if (json_get_str(body, "type", true, &type, err, sizeof(err)) ||
	    json_get_str(body, "path", true, &raw, err, sizeof(err)) ||
	    json_get_bool(body, "recursive", false, &recursive, err, sizeof(err)) ||
	    json_get_str(body, "medium", false, &medium, err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_argument", "%s", err);
		goto out;
	}
	if (path_normalize(raw, strlen(raw), path, sizeof(path), err, sizeof(err))) {
		http_reply_error(req, 400, "invalid_path", "field 'path': %s", err);
		goto out;
	}
	uint64_t id = 0;
	int rc = datajobs_create(m->datajobs, type, path, recursive, medium, clock_wall_ms(), &id,
				 err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		goto out;
	}
	cJSON *o = cJSON_CreateObject();
	json_add_u64(o, "id", id);
	http_reply_json(req, 201, o);
out:
	cJSON_Delete(body);
}

/* The {id} of /api/v1/jobs/{id}; replies 400 (0) when it is not one. */
static uint64_t job_id(struct http_req *req)
{
	uint64_t id = 0;
	const char *rest = http_req_rest(req);
	if (!rest || json_parse_u64(rest, &id) || id == 0) {
		http_reply_error(req, 400, "invalid_argument",
				 "path parameter 'id': '%.40s' is not a job id (a number above 0)",
				 rest ? rest : "");
		return 0;
	}
	return id;
}

/* GET /api/v1/jobs (newest first, the last 100 finished and every active
 * one kept) and GET /api/v1/jobs/{id} (with its errors). */
static void get_jobs(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	const char *rest = http_req_rest(req);
	int rc = 0;
	cJSON *o;
	if (!rest || !*rest) {
		o = datajobs_list_json(m->datajobs, JOBS_LIST_MAX, clock_wall_ms(), &rc);
	} else {
		uint64_t id = job_id(req);
		if (!id)
			return;
		o = datajobs_get_json(m->datajobs, id, clock_wall_ms(), &rc);
		if (rc == -ENOENT) {
			http_reply_error(req, 404, "not_found",
					 "path parameter 'id': job %" PRIu64 " does not exist", id);
			return;
		}
	}
	if (rc)
		http_reply_rc(req, rc, "cannot read the jobs");
	else
		http_reply_json(req, 200, o);
}

/* DELETE /api/v1/jobs/{id}: cancels (409 once it ended). */
static void delete_job(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	uint64_t id = job_id(req);
	if (!id)
		return;
	char err[1024] = "";
	int rc = datajobs_cancel(m->datajobs, id, clock_wall_ms(), err, sizeof(err));
	if (rc) {
		http_reply_rc(req, rc, err);
		return;
	}
	int grc = 0;
	cJSON *o = datajobs_get_json(m->datajobs, id, clock_wall_ms(), &grc);
	if (grc)
		http_reply_rc(req, grc, "cannot read the job");
	else
		http_reply_json(req, 200, o);
}

static const struct http_route g_routes[] = {
	{ "POST", "/api/v1/jobs", HTTP_ACCESS_ADMIN, post_job },
	{ "GET", "/api/v1/jobs", HTTP_ACCESS_READONLY, get_jobs },
	{ "GET", "/api/v1/jobs/", HTTP_ACCESS_READONLY, get_jobs },
	{ "DELETE", "/api/v1/jobs/", HTTP_ACCESS_ADMIN, delete_job },
};

const struct http_route *rest_jobs_routes(size_t *nroutes)
{
	*nroutes = sizeof(g_routes) / sizeof(g_routes[0]);
	return g_routes;
}
