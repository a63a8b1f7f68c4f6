/*
 * step.h: work done a step per loop iteration. A started step runs its
 * function after each poll (an ev_check) and keeps the poll from blocking
 * meanwhile (an ev_idle), so that a long piece of work (a list of
 * thousands, a backlog of calls) never makes one long callback while the
 * loop still serves everything else between two steps. A step runs after
 * the iteration's other callbacks (BUDGET_PRIO_SLICES), as one slice of
 * BUDGET_SLICE_US for budget_spent() (budget.h). Each step is timed
 * under its name (stats.h).
 */
#ifndef NETD_STEP_H
#define NETD_STEP_H

#include <stdbool.h>

#include <ev.h>

struct step;

/* One step of the work; step_stop() when there is no more. */
typedef void (*step_fn)(struct step *s);

struct step {
	ev_check check;     /* a step after each poll */
	ev_idle idle;       /* keeps the poll from blocking meanwhile */
	struct ev_loop *loop;
	const char *name;   /* for the callback statistics; a literal */
	step_fn fn;
	void *data;         /* the owner's, untouched */
};

/* Prepare s (stopped) to run fn on loop under name, with data. */
void step_init(struct step *s, struct ev_loop *loop, const char *name, step_fn fn, void *data);

/* Run fn after every poll until step_stop(); no-op when running. */
void step_start(struct step *s);

/* No more steps; no-op when stopped. Safe from fn itself. */
void step_stop(struct step *s);

/* Is s started? */
bool step_running(const struct step *s);

#endif
