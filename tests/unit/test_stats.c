/*
 * test_stats.c: latency percentiles from the histogram stay within the
 * documented 12.5 % of the exact answer, and never understate it.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_empty(void **state)
{
	memset(&stats, 0, sizeof(stats));
	assert_int_equal(stats_latency_percentile(50), 0);
}

static void test_percentiles_vs_exact(void **state)
{
	enum { N = 20000 };
	static uint64_t v[N];
	const double ps[] = { 1, 50, 90, 99, 99.9, 100 };

	memset(&stats, 0, sizeof(stats));
	srand(1);
	for (int i = 0; i < N; i++) {
		/* Spread over six orders of magnitude. */
		v[i] = (uint64_t)rand() % (1u << (rand() % 20));
		stats_latency_add(v[i]);
	}
	qsort(v, N, sizeof(v[0]), cmp_u64);
	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		size_t rank = (size_t)(ps[k] / 100.0 * N);
		uint64_t exact = v[(rank ? rank : 1) - 1];
		uint64_t got = stats_latency_percentile(ps[k]);

		assert_true(got >= exact);
		assert_true(got <= exact + exact / 8 + 1);
	}
	assert_int_equal(stats_latency_percentile(100), v[N - 1]);
	assert_int_equal(stats.latency_max_us, v[N - 1]);
}

static void test_small_values_exact(void **state)
{
	memset(&stats, 0, sizeof(stats));
	for (uint64_t i = 1; i <= 7; i++)
		stats_latency_add(i);
	assert_int_equal(stats_latency_percentile(100), 7);
	assert_int_equal(stats_latency_percentile(50), 3);
}

static void test_callback_max(void **state)
{
	memset(&stats, 0, sizeof(stats));
	{
		STATS_CALLBACK("quick");
	}
	{
		STATS_CALLBACK("slow");
		usleep(3000);
	}
	{
		STATS_CALLBACK("quick again");
	}
	assert_int_equal(stats.callbacks, 3);
	assert_string_equal(stats.longest_callback, "slow");
	assert_true(stats.longest_callback_us >= 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_percentiles_vs_exact),
		cmocka_unit_test(test_small_values_exact),
		cmocka_unit_test(test_callback_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
