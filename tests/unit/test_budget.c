/*
 * test_budget.c: the iteration's time budget: not spent at the start of
 * an iteration, spent after BUDGET_ITERATION_US, spent outside any
 * iteration, and each begun iteration counted once in the stats.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outside_iteration),
		cmocka_unit_test(test_spent_after_budget),
		cmocka_unit_test(test_end_without_begin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
