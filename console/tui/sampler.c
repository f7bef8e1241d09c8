/* Refresh after refresh: which samples strata-top keeps (top.h). The view
 * shown differences the new sample against the last one that read the
 * cluster, so a refresh that failed (a master failing over) leaves a
 * longer interval behind it, not a hole in the rates. The master's
 * history changes every interval_ms (5 s): it is asked for again only
 * then (a master without one, every 30 s), and carried over between. */
#include "console/tui/top.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_RETRY_MS 30000

struct top_sampler *top_sampler_new(void)
{
	return calloc(1, sizeof(struct top_sampler));
}

void top_sampler_free(struct top_sampler *t)
{
	if (!t)
		return;
	top_view_clear(&t->view);
	for (int i = 0; i < 3; i++)
		top_sample_clear(&t->slots[i]);
	free(t);
}

static struct top_sample *free_slot(struct top_sampler *t)
{
	for (int i = 0; i < 3; i++)
		if (&t->slots[i] != t->good && &t->slots[i] != t->shown)
			return &t->slots[i];
	return NULL; /* unreachable: two pointers leave a third slot */
}

bool top_history_due(int64_t now_ms, int64_t last_ms, int last_rc, int64_t interval_ms)
{
	if (last_ms < 0)
		return true;
	int64_t wait = last_rc ? HISTORY_RETRY_MS : interval_ms > 1000 ? interval_ms : 1000;
	return now_ms - last_ms >= wait;
}

int top_sampler_step(struct top_sampler *t, struct client *mc, struct httpc *hc,
		     const struct top_collect_opts *o, int64_t now_ms)
{
	struct top_collect_opts co = *o;
	if (!t->history_asked)
		t->history_at_ms = -1;
	co.want_history = o->want_history &&
			  top_history_due(now_ms, t->history_at_ms, t->history_rc,
					  t->history_interval_ms);
	struct top_sample *fresh = free_slot(t);
	top_collect(mc, hc, &co, now_ms, fresh);
	if (co.want_history && !fresh->rc) {
		t->history_asked = true;
		t->history_at_ms = now_ms;
		t->history_rc = fresh->history_rc;
		t->history_interval_ms = fresh->history.interval_ms;
	} else if (t->good && !fresh->rc && t->good->history_rc == 0) {
		/* carry the last history over */
		fresh->history = t->good->history;
		fresh->history_rc = 0;
		memset(&t->good->history, 0, sizeof(t->good->history));
		t->good->history_rc = -EAGAIN;
	}
	top_view_clear(&t->view);
	int rc = top_view_build(t->good, fresh, &t->ring, &t->view);
	if (t->shown && t->shown != t->good)
		top_sample_clear(t->shown);
	t->shown = fresh;
	if (!fresh->rc) {
		if (t->good)
			top_sample_clear(t->good);
		t->good = fresh;
	}
	return rc;
}
