/*
 * The thread that feeds the history ring from the registry and the block
 * map. It lives here until the master's job runner can run periodic work.
 */
#include "daemon/master/history.h"

#include "daemon/master/blockmap.h"
#include "daemon/master/registry.h"
#include "lib/clock.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct history_sampler {
	struct history *h;
	struct registry *reg;
	struct blockmap *blocks;
	int64_t period_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static void sample_once(struct history_sampler *s)
{
	struct registry_totals t;
	registry_totals(s->reg, &t);
	struct history_gauges g = {
		.workers_live = t.live,
		.workers_lost = t.lost,
		.capacity_bytes = t.capacity_bytes,
		.used_bytes = t.used_bytes,
		.cached_blocks = (int64_t)blockmap_count(s->blocks),
	};
	cJSON *m = registry_metrics_json(s->reg);
	struct history_sample sample;
	/* Out of memory: the gauges still go in, with counters 0 for once. */
	history_sample_fill(&sample, clock_wall_ms(),
			    m ? cJSON_GetObjectItemCaseSensitive(m, "cluster") : NULL, &g);
	cJSON_Delete(m);
	history_push(s->h, &sample);
}

static void *sampler_main(void *arg)
{
	struct history_sampler *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		pthread_mutex_unlock(&s->lock);
		sample_once(s);
		pthread_mutex_lock(&s->lock);
		struct timespec ts;
		clock_mono_deadline(&ts, s->period_ms);
		while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int history_sampler_start(struct history *h, struct registry *reg, struct blockmap *blocks,
			  int64_t period_ms, struct history_sampler **out)
{
	struct history_sampler *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->h = h;
	s->reg = reg;
	s->blocks = blocks;
	s->period_ms = period_ms > 0 ? period_ms : 5000;
	pthread_mutex_init(&s->lock, NULL);
	clock_mono_cond_init(&s->cond);
	int rc = pthread_create(&s->thread, NULL, sampler_main, s);
	if (rc) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return -rc;
	}
	*out = s;
	return 0;
}

void history_sampler_stop(struct history_sampler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
