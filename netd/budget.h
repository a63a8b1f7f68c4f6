/*
 * budget.h: the time budget of one loop iteration. Each iteration has a
 * budget of time for work that can be split (reading calls, settling
 * batches): a client waiting for an answer waits at most for the
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

/* The budget of one iteration, in microseconds. */
#define BUDGET_ITERATION_US 1000

/* The loop calls begin right after poll returns (before any other
 * callback of the iteration) and end right before it polls again; end
 * records the iteration's length in the stats (iterations,
 * longest_iteration_us). An end without a begin records nothing. */
void budget_iteration_begin(void);
void budget_iteration_end(void);

/* True once the running iteration has used its budget. Outside an
 * iteration (before the first begin, during start-up) it is true: there
 * is no iteration to keep short, and at least one piece is done anyway. */
bool budget_spent(void);

#endif
