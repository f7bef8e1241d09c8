/* One refresh of strata-top: REST calls through client/ (console/tui/top.h).
 * Per refresh: GET /api/v1/cluster, /api/v1/masters, /api/v1/metrics and
 * /api/v1/metrics/history on the leader, and GET /api/v1/metrics on each
 * live worker (its tiers are not relayed to the masters). */
#include "console/tui/top.h"

#include "lib/err.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const top_tier_names[TOP_NTIERS] = { "MEM", "SSD", "HDD" };

/* GET /api/v1/jobs: the newest TOP_JOBS_MAX jobs, decoded. */
static void collect_jobs(struct client *mc, struct httpc *hc, struct top_sample *s)
{
	char err[256];
	cJSON *doc = NULL;
	s->jobs_rc = client_jobs_list(mc, hc, &doc, err, sizeof(err));
	if (s->jobs_rc)
		return;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "jobs"), *j;
	size_t n = (size_t)cJSON_GetArraySize(list);
	if (n > TOP_JOBS_MAX)
		n = TOP_JOBS_MAX;
	s->jobs = calloc(n ? n : 1, sizeof(*s->jobs));
	if (!s->jobs) {
		s->jobs_rc = -ENOMEM;
		cJSON_Delete(doc);
		return;
	}
	cJSON_ArrayForEach(j, list)
	{
		if (s->njobs == n)
			break;
		if (client_job_decode(j, &s->jobs[s->njobs], err, sizeof(err)) == 0)
			s->njobs++;
	}
	cJSON_Delete(doc);
}

void top_collect(struct client *mc, struct httpc *hc, const struct top_collect_opts *o,
		 int64_t now_ms, struct top_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->t_ms = now_ms;
	s->masters_rc = s->metrics_rc = s->history_rc = s->jobs_rc = -EAGAIN;
	s->rc = client_cluster_get(mc, hc, &s->cluster, s->err, sizeof(s->err));
	client_leader(mc, s->leader, sizeof(s->leader));
	if (s->rc) {
		memset(&s->cluster, 0, sizeof(s->cluster));
		if (s->rc == ST_EAUTH && !o->has_token)
			snprintf(s->err, sizeof(s->err),
				 "needs a token: set STRATA_TOKEN, or STRATA_TOKEN_FILE or "
				 "--token-file to a file holding one (strata admin token create)");
		else if (s->rc == ST_EAUTH)
			snprintf(s->err, sizeof(s->err),
				 "the token was refused: it is wrong or revoked");
		return;
	}
	/* A follower answered from its own state: ask the leader it names. */
	const char *asked = strstr(s->leader, "://");
	asked = asked ? asked + 3 : s->leader;
	if (*s->cluster.leader && strcmp(asked, s->cluster.leader) != 0 &&
	    client_set_leader(mc, s->cluster.leader) == 0) {
		struct client_cluster again;
		if (client_cluster_get(mc, hc, &again, s->err, sizeof(s->err)) == 0) {
			client_cluster_clear(&s->cluster);
			s->cluster = again;
		}
		s->err[0] = '\0';
		client_leader(mc, s->leader, sizeof(s->leader));
		asked = strstr(s->leader, "://");
		asked = asked ? asked + 3 : s->leader;
	}
	s->not_leader = strcmp(asked, s->cluster.leader) != 0;
	char err[256];
	s->masters_rc = client_masters_list(mc, hc, &s->masters, err, sizeof(err));
	if (s->masters_rc)
		memset(&s->masters, 0, sizeof(s->masters));
	s->metrics_rc = client_metrics_get(mc, hc, &s->metrics, err, sizeof(err));
	if (s->metrics_rc)
		memset(&s->metrics, 0, sizeof(s->metrics));
	if (o->want_history) {
		s->history_rc = client_metrics_history(mc, hc, -1, &s->history, err, sizeof(err));
		if (s->history_rc)
			memset(&s->history, 0, sizeof(s->history));
	}
	collect_jobs(mc, hc, s);
	size_t n = s->cluster.nworkers;
	s->wrc = calloc(n ? n : 1, sizeof(*s->wrc));
	s->wstats = calloc(n ? n : 1, sizeof(*s->wstats));
	if (!s->wrc || !s->wstats) {
		free(s->wrc);
		free(s->wstats);
		s->wrc = NULL;
		s->wstats = NULL;
		s->cluster.nworkers = 0;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct client_worker *w = &s->cluster.workers[i];
		s->wrc[i] = -EAGAIN;
		if (!w->live)
			continue;
		char base[CLIENT_URL_MAX];
		snprintf(base, sizeof(base), "%s://%s", o->tls ? "https" : "http", w->address);
		s->wrc[i] = client_worker_metrics(hc, base, &s->wstats[i], err, sizeof(err));
		if (s->wrc[i])
			memset(&s->wstats[i], 0, sizeof(s->wstats[i]));
	}
}

void top_sample_clear(struct top_sample *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->wstats && i < s->cluster.nworkers; i++)
		client_worker_stats_clear(&s->wstats[i]);
	free(s->wstats);
	free(s->wrc);
	client_cluster_clear(&s->cluster);
	client_masters_clear(&s->masters);
	client_metrics_clear(&s->metrics);
	client_history_clear(&s->history);
	for (size_t i = 0; i < s->njobs; i++)
		client_job_clear(&s->jobs[i]);
	free(s->jobs);
	memset(s, 0, sizeof(*s));
}
