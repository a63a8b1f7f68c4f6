/*
 * test_frame.c: varlink framing: messages split across reads, several in
 * one read, NUL bytes, the size limit, and the output side.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static void feed(struct frame *f, const char *p, size_t n)
{
	char *dst;

	assert_int_equal(frame_reserve(f, n, &dst), 0);
	memcpy(dst, p, n);
	frame_commit(f, n);
}

static void expect_msg(struct frame *f, size_t max, const char *want)
{
	char *msg;
	size_t len;

	assert_int_equal(frame_next(f, max, &msg, &len), 1);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(msg, want, len);
	assert_int_equal(msg[len], '\0');
}

static void expect_none(struct frame *f, size_t max)
{
	char *msg;
	size_t len;

	assert_int_equal(frame_next(f, max, &msg, &len), 0);
}

static void test_joined(void **state)
{
	struct frame f;
	static const char in[] = "{\"a\":1}\0{\"b\":2}\0{\"c\"";

	frame_init(&f);
	feed(&f, in, sizeof(in) - 1);
	expect_msg(&f, 100, "{\"a\":1}");
	expect_msg(&f, 100, "{\"b\":2}");
	expect_none(&f, 100);
	feed(&f, ":3}", 3);
	expect_none(&f, 100);
	feed(&f, "\0", 1);
	expect_msg(&f, 100, "{\"c\":3}");
	expect_none(&f, 100);
	assert_int_equal(frame_len(&f), 0);
	frame_done(&f);
}

/* One byte at a time: every split point of a message. */
static void test_split_every_byte(void **state)
{
	static const char in[] = "{\"method\":\"io.netd.GetStatus\"}";
	struct frame f;

	frame_init(&f);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(in) - 1; i++) {
			feed(&f, &in[i], 1);
			expect_none(&f, 1000);
		}
		feed(&f, "\0", 1);
		expect_msg(&f, 1000, in);
	}
	frame_done(&f);
}

/* A NUL is the terminator wherever it is, even inside what looks like a
 * JSON string: the text before it is one message, the rest the next. */
static void test_nul_inside_string(void **state)
{
	static const char in[] = "{\"s\":\"ab\0cd\"}\0";
	struct frame f;

	frame_init(&f);
	feed(&f, in, sizeof(in) - 1);
	expect_msg(&f, 100, "{\"s\":\"ab");
	expect_msg(&f, 100, "cd\"}");
	expect_none(&f, 100);
	frame_done(&f);
}

static void test_empty_message(void **state)
{
	struct frame f;

	frame_init(&f);
	feed(&f, "\0\0", 2);
	expect_msg(&f, 100, "");
	expect_msg(&f, 100, "");
	expect_none(&f, 100);
	frame_done(&f);
}

static void test_oversize(void **state)
{
	char big[300];
	char *msg;
	size_t len;
	struct frame f;

	memset(big, 'x', sizeof(big));
	/* Exactly at the limit is fine. */
	frame_init(&f);
	feed(&f, big, 100);
	feed(&f, "\0", 1);
	expect_msg(&f, 100, (char[101]){ [0 ... 99] = 'x', [100] = '\0' });
	frame_done(&f);

	/* Over it, complete: refused. */
	frame_init(&f);
	feed(&f, big, 101);
	feed(&f, "\0", 1);
	assert_int_equal(frame_next(&f, 100, &msg, &len), -EMSGSIZE);
	frame_done(&f);

	/* Over it and still incomplete: refused before the NUL arrives, so a
	 * peer cannot make us buffer without bound. */
	frame_init(&f);
	feed(&f, big, 60);
	assert_int_equal(frame_next(&f, 100, &msg, &len), 0);
	feed(&f, big, 60);
	assert_int_equal(frame_next(&f, 100, &msg, &len), -EMSGSIZE);
	frame_done(&f);
}

/* A message after a big one still parses once the buffer compacts. */
static void test_compaction(void **state)
{
	struct frame f;
	char buf[5000];

	memset(buf, 'y', sizeof(buf));
	buf[sizeof(buf) - 1] = '\0';
	frame_init(&f);
	for (int i = 0; i < 50; i++) {
		feed(&f, buf, sizeof(buf));
		feed(&f, "{}", 3);
		expect_msg(&f, 10000, buf);
		expect_msg(&f, 10000, "{}");
	}
	assert_true(f.cap <= 16384);
	frame_done(&f);
}

static void test_output(void **state)
{
	struct frame f;

	frame_init(&f);
	assert_int_equal(frame_append_msg(&f, "{\"a\":1}", 7), 0);
	assert_int_equal(frame_append_msg(&f, "{}", 2), 0);
	assert_int_equal(frame_len(&f), 11);
	assert_memory_equal(f.data + f.start, "{\"a\":1}\0{}\0", 11);
	frame_consume(&f, 8);
	assert_int_equal(frame_len(&f), 3);
	assert_memory_equal(f.data + f.start, "{}\0", 3);
	frame_consume(&f, 3);
	assert_int_equal(frame_len(&f), 0);
	frame_done(&f);
}

/* An owned message: an empty frame takes the buffer, one holding bytes
 * copies it after them; either way the messages come out in order. */
static void test_output_owned(void **state)
{
	struct frame f;
	char *a = strdup("{\"a\":1}"), *b = strdup("{\"b\":2}");

	frame_init(&f);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(frame_append_msg_owned(&f, a, strlen(a)), 0);
	assert_ptr_equal(f.data, a);
	assert_int_equal(frame_len(&f), 8);
	assert_int_equal(frame_append_msg_owned(&f, b, strlen(b)), 0);
	assert_int_equal(frame_len(&f), 16);
	assert_memory_equal(f.data + f.start, "{\"a\":1}\0{\"b\":2}\0", 16);
	frame_consume(&f, 16);
	assert_int_equal(frame_len(&f), 0);
	assert_int_equal(frame_append(&f, "x", 1), 0);
	assert_memory_equal(f.data + f.start, "x", 1);
	frame_done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_joined),
		cmocka_unit_test(test_split_every_byte),
		cmocka_unit_test(test_nul_inside_string),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_output_owned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
