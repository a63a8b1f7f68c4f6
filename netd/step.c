/*
 * step.c: work done a step per loop iteration (see step.h).
 */
#include "config.h"

#include <assert.h>

#include "budget.h"
#include "stats.h"
#include "step.h"

static void check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	struct step *s = w->data;
	STATS_CALLBACK(s->name);
	BUDGET_SLICE();

	s->fn(s);
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Nothing: being active keeps ev_run from blocking while the
	 * check watcher has work. */
}

void step_init(struct step *s, struct ev_loop *loop, const char *name, step_fn fn, void *data)
{
	assert(s && loop && name && fn);
	ev_check_init(&s->check, check_cb);
	s->check.data = s;
	ev_idle_init(&s->idle, idle_cb);
	/* After the clients' calls and the events of the iteration. */
	ev_set_priority(&s->check, BUDGET_PRIO_SLICES);
	ev_set_priority(&s->idle, BUDGET_PRIO_SLICES);
	s->loop = loop;
	s->name = name;
	s->fn = fn;
	s->data = data;
}

void step_start(struct step *s)
{
	assert(s && s->loop);
	ev_check_start(s->loop, &s->check);
	ev_idle_start(s->loop, &s->idle);
}

void step_stop(struct step *s)
{
	assert(s && s->loop);
	ev_check_stop(s->loop, &s->check);
	ev_idle_stop(s->loop, &s->idle);
}

bool step_running(const struct step *s)
{
	assert(s);
	return ev_is_active(&s->check);
}
