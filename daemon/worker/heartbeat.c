#include "daemon/worker/worker.h"

#include "lib/json.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/log.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int64_t worker_used_bytes(const struct worker_node *w)
{
	DIR *d = opendir(w->mem_dir);
	if (!d)
		return 0;
	int64_t used = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		char path[2048];
		snprintf(path, sizeof(path), "%s/%s", w->mem_dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			used += (int64_t)st.st_blocks * 512;
	}
	closedir(d);
	return used;
}

/* Sleeps up to ms or until stop; returns true when asked to stop. */
static bool hb_sleep(struct worker_node *w, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->hb_stop && pthread_cond_timedwait(&w->hb_cond, &w->lock, &ts) == 0)
		;
	bool stop = w->hb_stop;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

static int try_register(struct worker_node *w, const char *master, char *err, size_t errlen)
{
	const struct strata_conf *c = w->conf;
	bool tls = c->http_tls_cert && *c->http_tls_cert;
	char url[512];
	snprintf(url, sizeof(url), "%s://%s/api/v1/workers/register", tls ? "https" : "http",
		 master);
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "host", w->host);
	json_add_int(req, "data_port", c->worker_port);
	json_add_int(req, "s3_port", c->worker_s3_port);
	cJSON_AddStringToObject(req, "version", STRATA_VERSION);
	json_add_int(req, "capacity_bytes", w->capacity_bytes);
	json_add_int(req, "used_bytes", worker_used_bytes(w));
	cJSON *resp = NULL;
	int rc = httpc_json(w->hb_http, "POST", url, req, &resp, NULL, err, errlen);
	cJSON_Delete(req);
	if (rc)
		return rc;
	int64_t id = 0;
	rc = json_get_int(resp, "worker_id", true, 1, INT64_MAX, &id, err, errlen);
	cJSON_Delete(resp);
	if (rc)
		return ST_EPROTO;
	pthread_mutex_lock(&w->lock);
	w->worker_id = (uint64_t)id;
	snprintf(w->master, sizeof(w->master), "%s", master);
	w->last_heartbeat_mono_ms = clock_mono_ms();
	pthread_mutex_unlock(&w->lock);
	log_info("registered with master %s as worker %lld", master, (long long)id);
	return 0;
}

/* Tries every master once; 0 when one accepted the registration. */
static int register_any(struct worker_node *w, bool quiet)
{
	const struct conf_list *masters = &w->conf->master_addresses;
	char err[512] = "master.addresses is empty";
	for (size_t i = 0; i < masters->n; i++) {
		if (try_register(w, masters->items[i], err, sizeof(err)) == 0)
			return 0;
		if (!quiet)
			log_warn("cannot register: %s", err);
	}
	return -EAGAIN;
}

static int send_heartbeat(struct worker_node *w, char *err, size_t errlen)
{
	const struct strata_conf *c = w->conf;
	bool tls = c->http_tls_cert && *c->http_tls_cert;
	char url[512];
	pthread_mutex_lock(&w->lock);
	snprintf(url, sizeof(url), "%s://%s/api/v1/workers/heartbeat", tls ? "https" : "http",
		 w->master);
	uint64_t id = w->worker_id;
	pthread_mutex_unlock(&w->lock);

	cJSON *req = cJSON_CreateObject();
	json_add_int(req, "worker_id", (int64_t)id);
	json_add_int(req, "capacity_bytes", w->capacity_bytes);
	json_add_int(req, "used_bytes", worker_used_bytes(w));
	long status = 0;
	int rc = httpc_json(w->hb_http, "POST", url, req, NULL, &status, err, errlen);
	cJSON_Delete(req);
	if (rc == ST_EHTTP && status == 404)
		return -ENOENT;
	if (rc == 0) {
		pthread_mutex_lock(&w->lock);
		w->last_heartbeat_mono_ms = clock_mono_ms();
		pthread_mutex_unlock(&w->lock);
	}
	return rc;
}

static void *hb_main(void *arg)
{
	struct worker_node *w = arg;
	int64_t interval = w->conf->worker_heartbeat_interval;
	int64_t backoff = 100;
	bool warned = false;
	for (;;) {
		bool registered;
		pthread_mutex_lock(&w->lock);
		registered = w->worker_id != 0;
		pthread_mutex_unlock(&w->lock);

		if (!registered) {
			if (register_any(w, warned) == 0) {
				warned = false;
				backoff = 100;
			} else {
				warned = true;
				if (hb_sleep(w, backoff))
					break;
				backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
				continue;
			}
		} else {
			char err[512];
			int rc = send_heartbeat(w, err, sizeof(err));
			if (rc == -ENOENT) {
				log_warn("master does not know this worker (restarted?); "
					 "registering again");
				pthread_mutex_lock(&w->lock);
				w->worker_id = 0;
				pthread_mutex_unlock(&w->lock);
				continue;
			}
			if (rc && !warned) {
				log_warn("heartbeat failed: %s", err);
				warned = true;
			} else if (rc == 0 && warned) {
				log_info("heartbeats reach the master again");
				warned = false;
			}
			if (rc && w->conf->master_addresses.n > 1) {
				/* Another master may lead now: find it. */
				pthread_mutex_lock(&w->lock);
				w->worker_id = 0;
				pthread_mutex_unlock(&w->lock);
			}
		}
		if (hb_sleep(w, interval))
			break;
	}
	return NULL;
}

int worker_heartbeat_start(struct worker_node *w)
{
	struct httpc_opts hopts = {
		.timeout_ms = w->conf->http_request_timeout,
		.connect_timeout_ms = 2000,
		.ca_file = *w->conf->http_tls_ca ? w->conf->http_tls_ca : w->conf->http_tls_cert,
	};
	w->hb_http = httpc_new(&hopts);
	if (!w->hb_http)
		return -ENOMEM;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->hb_cond, &attr);
	pthread_condattr_destroy(&attr);
	w->hb_stop = false;
	int rc = pthread_create(&w->hb_thread, NULL, hb_main, w);
	if (rc) {
		httpc_free(w->hb_http);
		w->hb_http = NULL;
		pthread_cond_destroy(&w->hb_cond);
		return -rc;
	}
	return 0;
}

void worker_heartbeat_stop(struct worker_node *w)
{
	pthread_mutex_lock(&w->lock);
	w->hb_stop = true;
	pthread_cond_signal(&w->hb_cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->hb_thread, NULL);
	pthread_cond_destroy(&w->hb_cond);
	httpc_free(w->hb_http);
	w->hb_http = NULL;
}
