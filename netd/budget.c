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
/* µs (monotonic) at which the running slice began; 0 outside one. */
static uint64_t slice_start;

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
	uint64_t now = now_usec();

	if (!iteration_start)
		return true;
	if (slice_start)
		return now - slice_start >= BUDGET_SLICE_US;
	return now - iteration_start >= BUDGET_ITERATION_US;
}

void budget_slice_begin(void)
{
	slice_start = now_usec();
}

void budget_slice_end(void)
{
	slice_start = 0;
}
