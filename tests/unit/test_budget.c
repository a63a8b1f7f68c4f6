/*
 * test_budget.c: the iteration's time budget: not spent at the start of
 * an iteration, spent after BUDGET_ITERATION_US, spent outside any
 * iteration, and each begun iteration counted once in the stats; a
 * slice's own budget, whatever the iteration used before it.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "stats.h"

static void test_outside_iteration(void **state)
{
	/* Nothing to keep short: callers still do their one piece. */
	assert_true(budget_spent());
}

static void test_spent_after_budget(void **state)
{
	memset(&stats, 0, sizeof(stats));
	budget_iteration_begin();
	/* Far less than 1 ms can have passed (unless the machine stalls). */
	assert_false(budget_spent());
	usleep(BUDGET_ITERATION_US + 500);
	assert_true(budget_spent());
	budget_iteration_end();
	assert_int_equal(stats.iterations, 1);
	assert_true(stats.longest_iteration_us >= BUDGET_ITERATION_US);
	assert_true(budget_spent());
}

static void test_end_without_begin(void **state)
{
	memset(&stats, 0, sizeof(stats));
	budget_iteration_end();
	assert_int_equal(stats.iterations, 0);
	budget_iteration_begin();
	budget_iteration_end();
	budget_iteration_end();
	assert_int_equal(stats.iterations, 1);
	assert_true(stats.longest_iteration_us < BUDGET_ITERATION_US * 100);
}

static void test_slice_budget(void **state)
{
	budget_iteration_begin();
	usleep(BUDGET_ITERATION_US + 500);
	assert_true(budget_spent());
	{
		BUDGET_SLICE();
		/* The calls before it used the iteration's budget: the slice
		 * still has its own. */
		assert_false(budget_spent());
		usleep(BUDGET_SLICE_US + 500);
		assert_true(budget_spent());
	}
	/* Outside the slice again: the iteration's. */
	assert_true(budget_spent());
	budget_iteration_end();
	/* A slice outside an iteration (start-up): one piece, as before. */
	budget_slice_begin();
	assert_true(budget_spent());
	budget_slice_end();
}

static void test_slice_bounded(void **state)
{
	budget_iteration_begin();
	budget_slice_begin();
	/* A slice stops after its own budget even while the iteration's
	 * lasts, so that a call arriving meanwhile waits less. */
	usleep(BUDGET_SLICE_US + 200);
	if (BUDGET_SLICE_US + 200 < BUDGET_ITERATION_US)
		assert_true(budget_spent());
	budget_slice_end();
	budget_iteration_end();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outside_iteration),
		cmocka_unit_test(test_spent_after_budget),
		cmocka_unit_test(test_end_without_begin),
		cmocka_unit_test(test_slice_budget),
		cmocka_unit_test(test_slice_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
