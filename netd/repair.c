/*
 * repair.c: see repair.h.
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>

#include "filters.h"
#include "links.h"
#include "log.h"
#include "repair.h"
#include "stats.h"
#include "store.h"

#define REPAIR_BACKOFF_FIRST_S 1.0
#define REPAIR_BACKOFF_MAX_S 30.0

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	STATS_CALLBACK("rows repair");
	struct repair *r = w->data;

	/* The commit of this iteration does it (repair_before_commit). */
	r->due = true;
}

void repair_init(struct repair *r, struct ev_loop *loop, struct store *store,
		 struct links *links, struct filters *filters)
{
	assert(r && loop && store && links && filters);
	*r = (struct repair){ .loop = loop, .store = store, .links = links, .filters = filters,
			      .backoff = REPAIR_BACKOFF_FIRST_S };
	ev_init(&r->timer, timer_cb);
	r->timer.data = r;
}

void repair_before_commit(struct repair *r)
{
	assert(r);
	if (!r->dirty || (!r->due && !store_in_txn(r->store)))
		return;
	links_rewrite_rows(r->links);
	filters_rewrite_rows(r->filters);
	r->dirty = r->due = false;
	r->attempted = true;
}

void repair_committed(struct repair *r, bool ok)
{
	assert(r);
	if (ok) {
		if (r->attempted)
			log_info("database: the rows lost with a failed transaction are written again");
		if (!r->dirty) {
			r->backoff = REPAIR_BACKOFF_FIRST_S;
			ev_timer_stop(r->loop, &r->timer);
		}
		r->attempted = false;
		return;
	}
	if (r->attempted && r->backoff < REPAIR_BACKOFF_MAX_S)
		r->backoff = r->backoff * 2 < REPAIR_BACKOFF_MAX_S ? r->backoff * 2 : REPAIR_BACKOFF_MAX_S;
	r->attempted = false;
	r->dirty = true;
	r->due = false;
	ev_timer_stop(r->loop, &r->timer);
	ev_timer_set(&r->timer, r->backoff, 0.);
	ev_timer_start(r->loop, &r->timer);
}

void repair_stop(struct repair *r)
{
	assert(r);
	if (r->loop)
		ev_timer_stop(r->loop, &r->timer);
}
