/*
 * test_strbuf.c: the growing string: appends of every kind, growth past
 * many doublings, text with NUL-free pieces of any length, stealing, and
 * an empty buffer staying NULL (rules/render.c relies on that), and
 * formats of %s only (appended without vsnprintf) giving what vsnprintf
 * gives.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static void test_empty(void **state)
{
	struct strbuf b = { 0 };
	size_t len = 99;

	strbuf_append(&b, "", 0);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_null(strbuf_steal(&b, &len));
	assert_int_equal(len, 99); /* not written without text */
	strbuf_done(&b);
}

static void test_appends(void **state)
{
	struct strbuf b = { 0 };
	char *s;
	size_t len = 0;

	strbuf_puts(&b, "*filter\n");
	strbuf_append(&b, "-A X -j DROPped", 12);
	strbuf_printf(&b, "\n%s %d %zu\n", "n", -3, (size_t)7);
	assert_string_equal(b.p, "*filter\n-A X -j DROP\nn -3 7\n");
	assert_int_equal(b.len, strlen(b.p));
	s = strbuf_steal(&b, &len);
	assert_string_equal(s, "*filter\n-A X -j DROP\nn -3 7\n");
	assert_int_equal(len, strlen(s));
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	free(s);
}

static void test_growth(void **state)
{
	struct strbuf b = { 0 };
	char line[300];

	memset(line, 'x', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	for (int i = 0; i < 1000; i++) {
		if (i % 2)
			strbuf_puts(&b, line);
		else
			strbuf_printf(&b, "%s", line);
	}
	assert_false(b.oom);
	assert_int_equal(b.len, 1000 * (sizeof(line) - 1));
	assert_int_equal(strlen(b.p), b.len);
	assert_true(b.cap > b.len);
	for (size_t i = 0; i < b.len; i += sizeof(line) - 1)
		assert_memory_equal(b.p + i, line, sizeof(line) - 1);
	strbuf_done(&b);
	assert_null(b.p);
	/* Usable again after done. */
	strbuf_printf(&b, "%u", 42u);
	assert_string_equal(b.p, "42");
	strbuf_done(&b);
}

/* Reserved room is used as it is: appends within it never move the
 * text (a move is a copy), and the text is the same as without it. */
static void test_reserve(void **state)
{
	struct strbuf b = { 0 };
	char line[1000];
	char *p;
	size_t cap;

	memset(line, 'y', sizeof(line));
	strbuf_puts(&b, "[");
	strbuf_reserve(&b, 1000 * sizeof(line));
	assert_false(b.oom);
	assert_string_equal(b.p, "[");
	assert_true(b.cap > 1 + 1000 * sizeof(line));
	p = b.p;
	cap = b.cap;
	for (int i = 0; i < 1000; i++)
		strbuf_append(&b, line, sizeof(line));
	assert_ptr_equal(b.p, p);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.len, 1 + 1000 * sizeof(line));
	assert_int_equal(strlen(b.p), b.len);
	/* Less than the room left: nothing changes. */
	strbuf_done(&b);
	strbuf_reserve(&b, 100);
	p = b.p;
	cap = b.cap;
	strbuf_reserve(&b, 10);
	assert_ptr_equal(b.p, p);
	assert_int_equal(b.cap, cap);
	/* Past it, appends grow the text as before. */
	strbuf_append(&b, line, sizeof(line));
	assert_int_equal(b.len, sizeof(line));
	assert_memory_equal(b.p, line, sizeof(line));
	strbuf_done(&b);
	/* An empty text once reserved is "" (as an empty printf's). */
	strbuf_reserve(&b, 10);
	p = strbuf_steal(&b, &cap);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(cap, 0);
	free(p);
	/* Out of memory stays so. */
	b.oom = true;
	strbuf_reserve(&b, 10);
	assert_null(b.p);
	strbuf_done(&b);
}

/* Each format once through strbuf_printf and once through snprintf. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void check_same(const char *fmt, const char *a, const char *b2)
{
	struct strbuf b = { 0 };
	char want[256];

	strbuf_puts(&b, "[");
	strbuf_printf(&b, fmt, a, b2);
	want[0] = '[';
	snprintf(want + 1, sizeof(want) - 1, fmt, a, b2);
	assert_string_equal(b.p, want);
	assert_int_equal(b.len, strlen(want));
	strbuf_done(&b);
}
#pragma GCC diagnostic pop

static void test_printf_strings(void **state)
{
	struct strbuf b = { 0 };

	check_same("-A %s -p %sIPv4", "N-I-vnet0", "! ");
	check_same("%s%s", "", "");
	check_same("100%% %s", "sure", NULL);
	check_same("%%s %s %%%%", "x", NULL);
	check_same("no conversion", NULL, NULL);
	check_same("%s %s\n", "tail", "end");
	/* Not only %s: vsnprintf's path, the same result. */
	check_same("%.3s|%5s", "abcdef", "ab");
	/* An empty text allocates, as vsnprintf's path always did. */
	strbuf_printf(&b, "%s", "");
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	assert_int_equal(b.len, 0);
	strbuf_done(&b);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_printf_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
