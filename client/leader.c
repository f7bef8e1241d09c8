#include "client/client.h"

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/httpc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A redirect chain longer than this is a loop between confused masters. */
#define CLIENT_MAX_HOPS 8

struct client {
	pthread_mutex_t lock;
	char urls[CLIENT_MAX_MASTERS][CLIENT_URL_MAX];
	size_t n;
	size_t leader; /* index into urls: where calls start */
	int64_t follow_ms;
	int64_t pause_ms;
	bool shutdown;	       /* under lock: calls stop looking for the leader */
	pthread_cond_t wake; /* signalled by client_shutdown */
};

int client_url_base(const char *url, char *buf, size_t len)
{
	const char *sep = strstr(url, "://");
	if (!sep || sep == url)
		return -EINVAL;
	const char *host = sep + 3;
	size_t hostlen = strcspn(host, "/?#");
	if (hostlen == 0)
		return -EINVAL;
	size_t n = (size_t)(host - url) + hostlen;
	if (n + 1 > len)
		return -ENOSPC;
	memcpy(buf, url, n);
	buf[n] = '\0';
	return 0;
}

int client_new(const char *const *addrs, size_t naddrs, const struct client_opts *opts,
		struct client **out, char *err, size_t errlen)
{
	if (naddrs == 0) {
		snprintf(err, errlen, "no master address given (master.addresses is empty)");
		return -EINVAL;
	}
	if (naddrs > CLIENT_MAX_MASTERS) {
		snprintf(err, errlen, "%zu master addresses; at most %d", naddrs,
			 CLIENT_MAX_MASTERS);
		return -EINVAL;
	}
	struct client *mc = calloc(1, sizeof(*mc));
	if (!mc)
		return -ENOMEM;
	mc->follow_ms = opts && opts->follow_ms > 0 ? opts->follow_ms : 10000;
	mc->pause_ms = opts && opts->pause_ms > 0 ? opts->pause_ms : 100;
	for (size_t i = 0; i < naddrs; i++) {
		const char *a = addrs[i];
		bool has_scheme = strstr(a, "://") != NULL;
		int n = snprintf(mc->urls[i], CLIENT_URL_MAX, "%s%s",
				 has_scheme ? "" : opts && opts->tls ? "https://" : "http://", a);
		/* Trailing slashes would double up with path_query's. */
		while (n > 0 && n < CLIENT_URL_MAX && mc->urls[i][n - 1] == '/')
			mc->urls[i][--n] = '\0';
		char base[CLIENT_URL_MAX];
		if (!*a || n < 0 || n >= CLIENT_URL_MAX ||
		    client_url_base(mc->urls[i], base, sizeof(base)) ||
		    strcmp(base, mc->urls[i]) != 0) {
			snprintf(err, errlen, "master address '%.200s' is not host:port or a base URL",
				 a);
			free(mc);
			return -EINVAL;
		}
	}
	mc->n = naddrs;
	pthread_mutex_init(&mc->lock, NULL);
	clock_mono_cond_init(&mc->wake);
	*out = mc;
	return 0;
}

void client_free(struct client *mc)
{
	if (!mc)
		return;
	pthread_cond_destroy(&mc->wake);
	pthread_mutex_destroy(&mc->lock);
	free(mc);
}

void client_leader(struct client *mc, char *buf, size_t len)
{
	pthread_mutex_lock(&mc->lock);
	snprintf(buf, len, "%s", mc->urls[mc->leader]);
	pthread_mutex_unlock(&mc->lock);
}

/* Makes `base` the leader; appends it when it is not in the list (a
 * master added at run time). Returns its index. */
static size_t set_leader(struct client *mc, const char *base)
{
	pthread_mutex_lock(&mc->lock);
	size_t i = 0;
	while (i < mc->n && strcmp(mc->urls[i], base) != 0)
		i++;
	if (i == mc->n) {
		if (mc->n == CLIENT_MAX_MASTERS)
			i = mc->n - 1; /* replace the last one rather than forget the leader */
		else
			mc->n++;
		snprintf(mc->urls[i], CLIENT_URL_MAX, "%s", base);
	}
	mc->leader = i;
	pthread_mutex_unlock(&mc->lock);
	return i;
}

/* The master after `cur`, which becomes where the next calls start. */
static size_t next_master(struct client *mc, size_t cur)
{
	pthread_mutex_lock(&mc->lock);
	size_t i = (cur + 1) % mc->n;
	mc->leader = i;
	pthread_mutex_unlock(&mc->lock);
	return i;
}

void client_shutdown(struct client *mc)
{
	if (!mc)
		return;
	pthread_mutex_lock(&mc->lock);
	mc->shutdown = true;
	pthread_cond_broadcast(&mc->wake);
	pthread_mutex_unlock(&mc->lock);
}

/* Waits ms between rounds; false once the client is shutting down. */
static bool pause_ms(struct client *mc, int64_t ms)
{
	pthread_mutex_lock(&mc->lock);
	if (ms > 0 && !mc->shutdown) {
		struct timespec ts;
		clock_mono_deadline(&ts, ms);
		while (!mc->shutdown && pthread_cond_timedwait(&mc->wake, &mc->lock, &ts) == 0)
			;
	}
	bool go_on = !mc->shutdown;
	pthread_mutex_unlock(&mc->lock);
	return go_on;
}

enum verdict { DONE, REDIRECTED, TRY_NEXT };

int client_call(struct client *mc, const char *path_query, client_attempt_fn attempt,
		 void *arg, long *status, char *err, size_t errlen)
{
	int64_t deadline = clock_mono_ms() + mc->follow_ms;
	size_t plen = strlen(path_query);
	char *url = malloc(CLIENT_URL_MAX + plen + 1);
	if (!url)
		return -ENOMEM;
	pthread_mutex_lock(&mc->lock);
	size_t cur = mc->leader;
	pthread_mutex_unlock(&mc->lock);
	size_t tried_in_round = 0;
	int hops = 0;
	int rc = ST_EPEER;
	*status = 0;
	for (;;) {
		pthread_mutex_lock(&mc->lock);
		snprintf(url, CLIENT_URL_MAX + plen + 1, "%s%s", mc->urls[cur], path_query);
		size_t nmasters = mc->n;
		bool stopping = mc->shutdown && (hops || tried_in_round);
		pthread_mutex_unlock(&mc->lock);
		if (stopping)
			break; /* rc and err are the last attempt's */
		const char *location = NULL;
		*status = 0;
		rc = attempt(arg, url, status, &location, err, errlen);

		enum verdict v = DONE;
		char base[CLIENT_URL_MAX];
		if (rc == ST_EPEER || rc == -EAGAIN) {
			v = TRY_NEXT;
		} else if (rc == 0 && (*status == 307 || *status == 308) && location &&
			   client_url_base(location, base, sizeof(base)) == 0 &&
			   ++hops <= CLIENT_MAX_HOPS) {
			v = REDIRECTED;
		}
		if (v == DONE)
			break;
		/* Move on before the deadline check: a master that timed out
		 * (cut off by a silent partition) must not be where the next
		 * call starts again, or a caller whose every call spends its
		 * deadline on that one attempt never reaches another master. */
		if (v == TRY_NEXT)
			cur = next_master(mc, cur);
		if (clock_mono_ms() >= deadline)
			break;
		if (v == REDIRECTED) {
			cur = set_leader(mc, base);
			tried_in_round = 0;
			continue;
		}
		if (++tried_in_round >= nmasters) {
			/* Every master refused or is unreachable: an election is
			 * running or the group is down. Wait, then go round again. */
			tried_in_round = 0;
			int64_t left = deadline - clock_mono_ms();
			if (!pause_ms(mc, left < mc->pause_ms ? left : mc->pause_ms))
				break;
		}
	}
	free(url);
	return rc;
}

struct json_call {
	struct httpc *hc;
	const char *method;
	const cJSON *req;
	struct httpc_json_reply reply;
};

/* A 503 means "ask another master" only when the master says it has no
 * leader; a 503 about a store (a dead UFS) is the answer. */
bool client_is_no_leader(long status, const cJSON *body)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	return status == 503 && cJSON_IsString(code) && strcmp(code->valuestring, "no_leader") == 0;
}

static int json_attempt(void *arg, const char *url, long *status, const char **location,
			char *err, size_t errlen)
{
	struct json_call *c = arg;
	httpc_json_reply_free(&c->reply);
	int rc = httpc_json_reply(c->hc, c->method, url, c->req, &c->reply, err, errlen);
	if (rc)
		return rc;
	*status = c->reply.status;
	*location = c->reply.location;
	return client_is_no_leader(c->reply.status, c->reply.json) ? -EAGAIN : 0;
}

int client_json_reply(struct client *mc, struct httpc *hc, const char *method,
		       const char *path_query, const cJSON *req, struct httpc_json_reply *r,
		       char *err, size_t errlen)
{
	struct json_call c = { .hc = hc, .method = method, .req = req };
	long st = 0;
	int rc = client_call(mc, path_query, json_attempt, &c, &st, err, errlen);
	if (rc == -EAGAIN)
		rc = 0; /* still no leader at the deadline: that 503 is the reply */
	if (rc)
		httpc_json_reply_free(&c.reply);
	*r = c.reply;
	return rc;
}

int client_json(struct client *mc, struct httpc *hc, const char *method,
		 const char *path_query, const cJSON *req, cJSON **out, long *status, char *err,
		 size_t errlen)
{
	struct httpc_json_reply r;
	int rc = client_json_reply(mc, hc, method, path_query, req, &r, err, errlen);
	return rc ? rc : httpc_json_reply_take(&r, out, status);
}

int client_set_leader(struct client *mc, const char *addr)
{
	char base[CLIENT_URL_MAX];
	if (!addr || !*addr)
		return -EINVAL;
	if (strstr(addr, "://")) {
		if (client_url_base(addr, base, sizeof(base)))
			return -EINVAL;
	} else {
		char cur[CLIENT_URL_MAX];
		client_leader(mc, cur, sizeof(cur));
		const char *sep = strstr(cur, "://");
		int slen = sep ? (int)(sep - cur) : 4;
		if ((size_t)snprintf(base, sizeof(base), "%.*s://%s", slen, sep ? cur : "http",
				     addr) >= sizeof(base))
			return -EINVAL;
	}
	set_leader(mc, base);
	return 0;
}
