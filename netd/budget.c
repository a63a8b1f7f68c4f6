/*
 * budget.c: see budget.h.
 */
#include "config.h"

#include "budget.h"
#include "stats.h"
#include "util.h"

/* µs (monotonic) at which the running iteration began; 0 between
 * iterations. */
static uint64_t iteration_start;

void budget_iteration_begin(void)
{
	iteration_start = now_usec();
}

void budget_iteration_end(void)
{
	if (!iteration_start)
		return;
	stats_iteration_add(now_usec() - iteration_start);
	iteration_start = 0;
}

bool budget_spent(void)
{
	return now_usec() - iteration_start >= BUDGET_ITERATION_US;
}
