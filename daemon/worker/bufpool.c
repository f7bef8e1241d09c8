#include "daemon/worker/bufpool.h"

#include <pthread.h>
#include <stdlib.h>

struct kept {
	void *buf; /* NULL: a free slot */
	size_t cap;
	int64_t put_ms;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept g_kept[BUFPOOL_SLOTS];
static size_t g_kept_bytes;

void *bufpool_get(size_t len, size_t *cap)
{
	if (len == 0)
		len = 1;
	if (len < BUFPOOL_MIN_BYTES)
		goto fresh;
	pthread_mutex_lock(&g_lock);
	int best = -1;
	for (int i = 0; i < BUFPOOL_SLOTS; i++)
		if (g_kept[i].buf && g_kept[i].cap >= len &&
		    (best < 0 || g_kept[i].cap < g_kept[best].cap))
			best = i;
	if (best >= 0) {
		void *buf = g_kept[best].buf;
		*cap = g_kept[best].cap;
		g_kept_bytes -= g_kept[best].cap;
		g_kept[best].buf = NULL;
		pthread_mutex_unlock(&g_lock);
		return buf;
	}
	pthread_mutex_unlock(&g_lock);
fresh:;
	void *buf = malloc(len);
	*cap = buf ? len : 0;
	return buf;
}

void bufpool_put(void *buf, size_t cap, int64_t now_ms)
{
	if (!buf)
		return;
	if (cap < BUFPOOL_MIN_BYTES) {
		free(buf);
		return;
	}
	pthread_mutex_lock(&g_lock);
	if (cap <= BUFPOOL_KEEP_BYTES - g_kept_bytes) {
		for (int i = 0; i < BUFPOOL_SLOTS; i++) {
			if (g_kept[i].buf)
				continue;
			g_kept[i] = (struct kept){ buf, cap, now_ms };
			g_kept_bytes += cap;
			pthread_mutex_unlock(&g_lock);
			return;
		}
	}
	pthread_mutex_unlock(&g_lock);
	free(buf);
}

size_t bufpool_trim(int64_t now_ms, int64_t idle_ms)
{
	void *drop[BUFPOOL_SLOTS];
	int n = 0;
	size_t freed = 0;
	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < BUFPOOL_SLOTS; i++) {
		if (!g_kept[i].buf || (idle_ms > 0 && now_ms - g_kept[i].put_ms < idle_ms))
			continue;
		drop[n++] = g_kept[i].buf;
		freed += g_kept[i].cap;
		g_kept_bytes -= g_kept[i].cap;
		g_kept[i].buf = NULL;
	}
	pthread_mutex_unlock(&g_lock);
	for (int i = 0; i < n; i++)
		free(drop[i]);
	return freed;
}

size_t bufpool_kept(void)
{
	pthread_mutex_lock(&g_lock);
	size_t n = g_kept_bytes;
	pthread_mutex_unlock(&g_lock);
	return n;
}
