/*
 * test_alloc.c: the name allocator: prefix rules and capacities, lowest-free
 * order and hole reuse, growth of the bitmap, error codes, name parsing and
 * formatting, and a long randomised run against a trivial reference model.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"

#define PREFIX13 "abcdefghij_-x"
#define PREFIX14 "abcdefghij_-xy"

static struct alloc *new_ok(const char *prefix)
{
	struct alloc *a = NULL;

	assert_int_equal(alloc_new(prefix, &a), 0);
	assert_non_null(a);
	assert_string_equal(alloc_prefix(a), prefix);
	assert_int_equal(alloc_count(a), 0);
	return a;
}

static void expect_lowest(struct alloc *a, unsigned want)
{
	unsigned got = 0xdeadbeef;

	assert_int_equal(alloc_take_lowest(a, &got), 0);
	assert_int_equal(got, want);
	assert_true(alloc_is_taken(a, want));
}

static void test_prefix(void **state)
{
	static const char *const bad[] = {
		"", "mac0", "0mac", "mac vtap", "mac.vtap", "macvtap/", "mäc",
		"abcdefghij_-xyz", /* 15 */
		"abcdefghijklmnopqrstuvwxyz",
	};
	static const char *const good[] = {
		"m", "macvtap", "macvlan", "MAC_v-tap", "-", "_", PREFIX13, PREFIX14,
	};
	struct alloc *a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = (struct alloc *)&a; /* must stay untouched */
		assert_int_equal(alloc_new(bad[i], &a), -EINVAL);
		assert_ptr_equal(a, (struct alloc *)&a);
	}
	a = NULL;
	assert_int_equal(alloc_new(NULL, &a), -EINVAL);
	assert_null(a);

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		a = new_ok(good[i]);
		assert_null(alloc_free(a));
	}
	assert_null(alloc_free(NULL));
}

static void test_capacity(void **state)
{
	struct alloc *a;

	/* 7 characters leave 8 digits: 10^8, capped at 1 << 24. */
	a = new_ok("macvtap");
	assert_int_equal(alloc_capacity(a), 1u << 24);
	alloc_free(a);

	/* One character: 10^14 would overflow unsigned; still the cap. */
	a = new_ok("m");
	assert_int_equal(alloc_capacity(a), 1u << 24);
	alloc_free(a);

	/* 8 characters: 10^7 is below the cap. */
	a = new_ok("macvtapx");
	assert_int_equal(alloc_capacity(a), 10000000);
	alloc_free(a);

	a = new_ok(PREFIX13);
	assert_int_equal(alloc_capacity(a), 100);
	alloc_free(a);

	a = new_ok(PREFIX14);
	assert_int_equal(alloc_capacity(a), 10);
	alloc_free(a);
}

static void test_lowest_order(void **state)
{
	struct alloc *a = new_ok("macvtap");

	for (unsigned i = 0; i < 200; i++) {
		assert_false(alloc_is_taken(a, i));
		expect_lowest(a, i);
		assert_int_equal(alloc_count(a), i + 1);
	}

	/* A hole in the middle is filled first, then allocation resumes at
	 * the end. */
	assert_int_equal(alloc_release(a, 70), 0);
	assert_false(alloc_is_taken(a, 70));
	assert_int_equal(alloc_count(a), 199);
	expect_lowest(a, 70);
	expect_lowest(a, 200);

	/* Several holes come back lowest first, across words. */
	assert_int_equal(alloc_release(a, 130), 0);
	assert_int_equal(alloc_release(a, 5), 0);
	assert_int_equal(alloc_release(a, 64), 0);
	assert_int_equal(alloc_release(a, 63), 0);
	expect_lowest(a, 5);
	expect_lowest(a, 63);
	expect_lowest(a, 64);
	expect_lowest(a, 130);
	expect_lowest(a, 201);
	assert_int_equal(alloc_count(a), 202);
	alloc_free(a);
}

static void test_take_far(void **state)
{
	struct alloc *a = new_ok("macvtap");
	unsigned top = alloc_capacity(a) - 1;

	expect_lowest(a, 0);
	expect_lowest(a, 1);
	assert_int_equal(alloc_take(a, 100000), 0);
	assert_true(alloc_is_taken(a, 100000));
	assert_false(alloc_is_taken(a, 99999));
	assert_false(alloc_is_taken(a, 100001));
	assert_int_equal(alloc_count(a), 3);
	expect_lowest(a, 2);
	assert_int_equal(alloc_release(a, 0), 0);
	expect_lowest(a, 0);
	expect_lowest(a, 3);

	/* The very last index: the bitmap grows to its full size. */
	assert_int_equal(alloc_take(a, top), 0);
	assert_true(alloc_is_taken(a, top));
	assert_int_equal(alloc_count(a), 6);
	expect_lowest(a, 4);
	assert_int_equal(alloc_release(a, top), 0);
	assert_int_equal(alloc_release(a, 100000), 0);
	assert_int_equal(alloc_count(a), 5);
	expect_lowest(a, 5);
	alloc_free(a);
}

static void test_errors(void **state)
{
	struct alloc *a = new_ok("macvtap");
	unsigned cap = alloc_capacity(a);

	assert_int_equal(alloc_take(a, 7), 0);
	assert_int_equal(alloc_take(a, 7), -EEXIST);
	assert_int_equal(alloc_count(a), 1);
	assert_true(alloc_is_taken(a, 7));

	assert_int_equal(alloc_release(a, 8), -ENOENT);
	assert_int_equal(alloc_release(a, 500000), -ENOENT); /* beyond the bitmap */
	assert_int_equal(alloc_release(a, 7), 0);
	assert_int_equal(alloc_release(a, 7), -ENOENT);
	assert_int_equal(alloc_count(a), 0);

	assert_int_equal(alloc_take(a, cap), -ERANGE);
	assert_int_equal(alloc_take(a, UINT32_MAX), -ERANGE);
	assert_int_equal(alloc_release(a, cap), -ERANGE);
	assert_int_equal(alloc_release(a, UINT32_MAX), -ERANGE);
	assert_false(alloc_is_taken(a, cap));
	assert_false(alloc_is_taken(a, UINT32_MAX));
	assert_false(alloc_is_taken(a, cap - 1));
	assert_int_equal(alloc_count(a), 0);
	alloc_free(a);
}

static void test_full(void **state)
{
	struct alloc *a = new_ok(PREFIX14);
	unsigned idx = 12345;

	for (unsigned i = 0; i < 10; i++)
		expect_lowest(a, i);
	assert_int_equal(alloc_count(a), 10);
	assert_int_equal(alloc_take_lowest(a, &idx), -ENOSPC);
	assert_int_equal(idx, 12345);
	assert_int_equal(alloc_take(a, 10), -ERANGE);
	assert_false(alloc_is_taken(a, 10));

	assert_int_equal(alloc_release(a, 4), 0);
	expect_lowest(a, 4);
	assert_int_equal(alloc_take_lowest(a, &idx), -ENOSPC);
	assert_int_equal(alloc_count(a), 10);

	assert_int_equal(alloc_release(a, 9), 0);
	assert_int_equal(alloc_take(a, 9), 0);
	assert_int_equal(alloc_take_lowest(a, &idx), -ENOSPC);
	alloc_free(a);

	/* Capacity 100 spans two words, the second partly beyond capacity. */
	a = new_ok(PREFIX13);
	for (unsigned i = 0; i < 100; i++)
		expect_lowest(a, i);
	assert_int_equal(alloc_take_lowest(a, &idx), -ENOSPC);
	assert_int_equal(alloc_release(a, 99), 0);
	expect_lowest(a, 99);
	assert_int_equal(alloc_take_lowest(a, &idx), -ENOSPC);
	alloc_free(a);
}

static void test_parse(void **state)
{
	static const struct {
		const char *name;
		unsigned index;
	} good[] = {
		{ "macvtap0", 0 },
		{ "macvtap1", 1 },
		{ "macvtap81", 81 },
		{ "macvtap100000", 100000 },
		{ "macvtap16777215", 16777215 },
	};
	static const char *const bad[] = {
		"", "macvtap", "macvtap01", "macvtap00", "macvtap-1", "macvtap+1",
		"macvtapx", "macvlan3", "macvtap3a", "macvtap 3", "macvtap3 ",
		" macvtap3", "MACVTAP3", "macvta3", "macvtapmacvtap3",
		"macvtap16777216", "macvtap99999999",
		"macvtap99999999999999999999999999999999",
		"macvtap18446744073709551616",
	};
	struct alloc *a = new_ok("macvtap");
	struct alloc *small = new_ok(PREFIX14);
	unsigned idx;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		idx = 0xdeadbeef;
		assert_int_equal(alloc_parse_name(a, good[i].name, &idx), 0);
		assert_int_equal(idx, good[i].index);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		idx = 0xdeadbeef;
		if (alloc_parse_name(a, bad[i], &idx) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(idx, 0xdeadbeef);
	}
	assert_int_equal(alloc_parse_name(a, NULL, &idx), -EINVAL);

	/* Parsing does not depend on what is taken. */
	assert_int_equal(alloc_take(a, 5), 0);
	assert_int_equal(alloc_parse_name(a, "macvtap5", &idx), 0);
	assert_int_equal(idx, 5);

	/* A prefix that is a prefix of another cannot claim its names. */
	{
		struct alloc *mac = new_ok("mac");

		assert_int_equal(alloc_parse_name(mac, "macvtap3", &idx), -EINVAL);
		assert_int_equal(alloc_parse_name(mac, "mac3", &idx), 0);
		assert_int_equal(idx, 3);
		alloc_free(mac);
	}

	assert_int_equal(alloc_parse_name(small, PREFIX14 "9", &idx), 0);
	assert_int_equal(idx, 9);
	assert_int_equal(alloc_parse_name(small, PREFIX14 "10", &idx), -EINVAL);
	alloc_free(small);
	alloc_free(a);
}

static void test_format(void **state)
{
	struct alloc *a = new_ok("macvtap");
	struct alloc *small = new_ok(PREFIX14);
	char buf[ALLOC_NAME_MAX];
	unsigned idx;

	assert_int_equal(alloc_format_name(a, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "macvtap0");
	assert_int_equal(alloc_format_name(a, 81, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "macvtap81");
	assert_int_equal(alloc_format_name(a, 16777215, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "macvtap16777215");
	assert_int_equal(strlen(buf), ALLOC_NAME_MAX - 1);

	/* Exactly the size needed works; one less fails and leaves buf. */
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(alloc_format_name(a, 81, buf, 10), 0);
	assert_string_equal(buf, "macvtap81");
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(alloc_format_name(a, 81, buf, 9), -ENOBUFS);
	assert_int_equal(alloc_format_name(a, 81, buf, 0), -ENOBUFS);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'z');

	assert_int_equal(alloc_format_name(a, 1u << 24, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(alloc_format_name(small, 10, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(alloc_format_name(small, 9, buf, sizeof(buf)), 0);
	assert_string_equal(buf, PREFIX14 "9");

	/* Round trips, including every power-of-ten boundary. */
	for (unsigned i = 0; i < 20000; i++) {
		assert_int_equal(alloc_format_name(a, i, buf, sizeof(buf)), 0);
		assert_int_equal(alloc_parse_name(a, buf, &idx), 0);
		assert_int_equal(idx, i);
	}
	for (unsigned p = 1; p < (1u << 24); p *= 10) {
		unsigned cand[] = { p - 1, p, p + 1 };

		for (size_t j = 0; j < 3; j++) {
			assert_int_equal(alloc_format_name(a, cand[j], buf, sizeof(buf)), 0);
			assert_int_equal(alloc_parse_name(a, buf, &idx), 0);
			assert_int_equal(idx, cand[j]);
		}
	}
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(alloc_format_name(small, i, buf, sizeof(buf)), 0);
		assert_int_equal(alloc_parse_name(small, buf, &idx), 0);
		assert_int_equal(idx, i);
	}
	alloc_free(small);
	alloc_free(a);
}

/*
 * Random operations checked one by one against a bool array with a linear
 * scan for the lowest free index. Indices for take/release/is_taken are
 * drawn from 0 .. range - 1, which may run past the capacity to hit
 * -ERANGE. Weights are percentages for take_lowest, take and release; the
 * rest is is_taken. Returns how often take_lowest hit -ENOSPC.
 */
#define MODEL_MAX 8192

static unsigned random_run(const char *prefix, unsigned range, unsigned steps,
			   unsigned w_lowest, unsigned w_take, unsigned w_release)
{
	static bool model[MODEL_MAX];
	struct alloc *a = new_ok(prefix);
	unsigned cap = alloc_capacity(a);
	unsigned count = 0, nospc = 0;

	memset(model, 0, sizeof(model));
	for (unsigned step = 0; step < steps; step++) {
		unsigned op = (unsigned)rand() % 100;
		unsigned i = (unsigned)rand() % range;

		if (op < w_lowest) {
			unsigned lowest = 0, got = 0xdeadbeef;
			int r = alloc_take_lowest(a, &got);

			while (lowest < cap && lowest < MODEL_MAX && model[lowest])
				lowest++;
			assert_true(lowest < MODEL_MAX);
			if (lowest == cap) {
				assert_int_equal(r, -ENOSPC);
				assert_int_equal(got, 0xdeadbeef);
				nospc++;
			} else {
				assert_int_equal(r, 0);
				assert_int_equal(got, lowest);
				model[lowest] = true;
				count++;
			}
		} else if (op < w_lowest + w_take) {
			int r = alloc_take(a, i);

			assert_true(i < MODEL_MAX);
			if (i >= cap)
				assert_int_equal(r, -ERANGE);
			else if (model[i])
				assert_int_equal(r, -EEXIST);
			else {
				assert_int_equal(r, 0);
				model[i] = true;
				count++;
			}
		} else if (op < w_lowest + w_take + w_release) {
			int r = alloc_release(a, i);

			if (i >= cap)
				assert_int_equal(r, -ERANGE);
			else if (!model[i])
				assert_int_equal(r, -ENOENT);
			else {
				assert_int_equal(r, 0);
				model[i] = false;
				count--;
			}
		} else {
			assert_int_equal(alloc_is_taken(a, i), i < cap && model[i]);
		}
		assert_int_equal(alloc_count(a), count);
	}

	/* Finally the whole state, not just what the steps looked at. */
	for (unsigned i = 0; i < MODEL_MAX; i++)
		assert_int_equal(alloc_is_taken(a, i), i < cap && model[i]);
	alloc_free(a);
	return nospc;
}

static void test_random(void **state)
{
	srand(42);
	/* Large capacity: the steady state fills about 4/5 of the range, so
	 * take_lowest mostly fills holes and sometimes runs past the range. */
	assert_int_equal(random_run("macvtap", 2000, 200000, 30, 20, 40), 0);
	/* Capacity 1000, indices up to 1099: -ERANGE, and take_lowest
	 * outpaces release so the allocator is often full. */
	assert_true(random_run("abcdefghijkl", 1100, 200000, 45, 20, 25) > 0);
	/* Capacity 100: two words, the last partly past the capacity. */
	assert_true(random_run(PREFIX13, 128, 100000, 30, 20, 40) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_lowest_order),
		cmocka_unit_test(test_take_far),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
