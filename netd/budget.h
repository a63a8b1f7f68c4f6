/*
 * budget.h: the time budget of one loop iteration, and the order of the
 * work in it. Each iteration has a budget of time for reading calls, and
 * each slice of work done over iterations (a step, a batch's phase) one
 * of its own: a client waiting for an answer waits at most for the
 * iteration in progress, so a long one is its latency. Work that can be
 * split does at least one piece, then stops once budget_spent() says so
 * and continues in the next iteration.
 *
 * One clock per process (the daemon has one loop); no I/O but the
 * monotonic clock.
 */
#ifndef NETD_BUDGET_H
#define NETD_BUDGET_H

#include <stdbool.h>

#include "util.h"

/* The budget of one iteration, in microseconds. */
#define BUDGET_ITERATION_US 1000

/* The budget of one slice of work done over iterations (a step, a
 * batch's phase), in microseconds: its own, whatever the clients' calls
 * before it used of the iteration's (they come first, see
 * BUDGET_PRIO_CLIENTS). Short, because a call that arrives meanwhile
 * waits for the slices of the iteration in progress. */
#define BUDGET_SLICE_US 300

/*
 * The order of work inside one iteration (libev priorities). The calls
 * clients sent are read and handled first, so that a quick call
 * (GetStatus) is answered before the iteration's long work; then the
 * events of the kernel, the helpers and the timers; last the work done
 * in slices (ListBindings and ListLinks encoding, the client backlog,
 * a batch's phases, the links' steps). Without priorities libev runs
 * the check watchers of the slices first.
 */
#define BUDGET_PRIO_CLIENTS 1
#define BUDGET_PRIO_SLICES (-1)

/* The loop calls begin right after poll returns (before any other
 * callback of the iteration) and end right before it polls again; end
 * records the iteration's length in the stats (iterations,
 * longest_iteration_us). An end without a begin records nothing. */
void budget_iteration_begin(void);
void budget_iteration_end(void);

/* True once the running iteration has used its budget; inside a slice
 * (budget_slice_begin()), once that slice has used BUDGET_SLICE_US.
 * Outside an iteration (before the first begin, during start-up) it is
 * true: there is no iteration to keep short, and at least one piece is
 * done anyway. */
bool budget_spent(void);

/* A slice watcher calls begin first and end last (BUDGET_SLICE() does
 * both): the work between them counts as one slice for budget_spent(). */
void budget_slice_begin(void);
void budget_slice_end(void);

static inline void budget_slice_cleanup(_unused_ int *unused)
{
	budget_slice_end();
}

#define BUDGET_SLICE() \
	_cleanup_(budget_slice_cleanup) _unused_ int _budget_slice = (budget_slice_begin(), 0)

#endif
