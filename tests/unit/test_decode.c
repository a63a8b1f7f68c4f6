/*
 * test_decode.c: request decoding: call envelopes and method parameters,
 * with every way a client can get them wrong named precisely.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "decode.h"

static json_t *J(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &err);

	if (!v)
		fail_msg("bad test JSON %s: %s", text, err.text);
	return v;
}

static void call_ok(const char *text, const char *method, bool more, bool has_params)
{
	json_t *v = J(text);
	struct decode_call c;
	const char *bad = NULL;

	assert_int_equal(decode_call(v, &c, &bad), 0);
	assert_string_equal(c.method, method);
	assert_int_equal(c.more, more);
	assert_int_equal(c.parameters != NULL, has_params);
	json_decref(v);
}

static void call_bad(const char *text, const char *field)
{
	json_t *v = J(text);
	struct decode_call c;
	const char *bad = NULL;

	assert_int_equal(decode_call(v, &c, &bad), -EINVAL);
	assert_non_null(bad);
	assert_string_equal(bad, field);
	json_decref(v);
}

static void test_call_envelope(void **state)
{
	call_ok("{\"method\":\"io.netd.GetStatus\"}", "io.netd.GetStatus", false, false);
	call_ok("{\"method\":\"io.netd.Monitor\",\"more\":true,\"parameters\":{}}",
		"io.netd.Monitor", true, true);
	call_ok("{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":null}",
		"org.varlink.service.GetInfo", false, false);

	call_bad("{}", "method");
	call_bad("{\"parameters\":{}}", "method");
	call_bad("{\"method\":42}", "method");
	call_bad("{\"method\":null}", "method");
	call_bad("{\"method\":\"io.netd.GetStatus\",\"parameters\":[]}", "parameters");
	call_bad("{\"method\":\"io.netd.GetStatus\",\"parameters\":\"x\"}", "parameters");
	call_bad("{\"method\":\"io.netd.GetStatus\",\"more\":1}", "more");
	call_bad("{\"method\":\"io.netd.GetStatus\",\"oneway\":\"yes\"}", "oneway");
	call_bad("{\"method\":\"io.netd.GetStatus\",\"bogus\":1}", "bogus");
	/* Unknown key is named even when the required one is missing too. */
	call_bad("{\"metod\":\"io.netd.GetStatus\"}", "metod");
}

static void test_method_names(void **state)
{
	assert_true(decode_method_name_valid("io.netd.GetStatus"));
	assert_true(decode_method_name_valid("org.varlink.service.GetInfo"));
	assert_true(decode_method_name_valid("a-b.c9.X"));
	assert_false(decode_method_name_valid("GetStatus"));
	assert_false(decode_method_name_valid("netd.getStatus"));
	assert_false(decode_method_name_valid(".netd.GetStatus"));
	assert_false(decode_method_name_valid("io..netd.GetStatus"));
	assert_false(decode_method_name_valid("io.netd.Get_Status"));
	assert_false(decode_method_name_valid("io.netd."));
	assert_false(decode_method_name_valid("io.netd.Get Status"));
	assert_false(decode_method_name_valid("io.9netd.GetStatus"));
	assert_false(decode_method_name_valid(""));
	call_bad("{\"method\":\"GetStatus\"}", "method");
}

struct params {
	const char *name;
	int64_t count;
	bool flag;
	json_t *list;
	json_t *obj;
};

static const struct decode_field fields[] = {
	DECODE_FIELD("name", DECODE_STRING, true, struct params, name),
	DECODE_FIELD("count", DECODE_INT, false, struct params, count),
	DECODE_FIELD("flag", DECODE_BOOL, false, struct params, flag),
	DECODE_FIELD("list", DECODE_STRING_ARRAY, false, struct params, list),
	DECODE_FIELD("obj", DECODE_OBJECT, false, struct params, obj),
};

static void params_bad(const char *text, const char *field)
{
	json_t *v = J(text);
	struct params p = { .name = "untouched", .count = 7 };
	const char *bad = NULL;

	assert_int_equal(decode_object(v, fields, 5, &p, &bad), -EINVAL);
	assert_non_null(bad);
	assert_string_equal(bad, field);
	/* A refused object leaves the output alone. */
	assert_string_equal(p.name, "untouched");
	assert_int_equal(p.count, 7);
	json_decref(v);
}

static void test_params(void **state)
{
	json_t *v = J("{\"name\":\"x\",\"count\":3,\"flag\":true,\"list\":[\"a\",\"b\"],\"obj\":{}}");
	struct params p = { 0 };
	const char *bad = NULL;

	assert_int_equal(decode_object(v, fields, 5, &p, &bad), 0);
	assert_string_equal(p.name, "x");
	assert_int_equal(p.count, 3);
	assert_true(p.flag);
	assert_int_equal(json_array_size(p.list), 2);
	assert_true(json_is_object(p.obj));
	json_decref(v);

	/* Optional fields absent or null keep their defaults. */
	v = J("{\"name\":\"y\",\"count\":null}");
	p = (struct params){ .count = 42 };
	assert_int_equal(decode_object(v, fields, 5, &p, &bad), 0);
	assert_int_equal(p.count, 42);
	json_decref(v);

	params_bad("{}", "name");
	params_bad("{\"name\":null}", "name");
	params_bad("{\"name\":1}", "name");
	params_bad("{\"name\":\"x\",\"count\":\"3\"}", "count");
	params_bad("{\"name\":\"x\",\"count\":3.5}", "count");
	params_bad("{\"name\":\"x\",\"flag\":0}", "flag");
	params_bad("{\"name\":\"x\",\"list\":\"a\"}", "list");
	params_bad("{\"name\":\"x\",\"list\":[\"a\",1]}", "list");
	params_bad("{\"name\":\"x\",\"obj\":[]}", "obj");
	params_bad("{\"name\":\"x\",\"extra\":true}", "extra");
}

static void test_no_params(void **state)
{
	json_t *v = J("{\"unexpected\":1}");
	const char *bad = NULL;

	/* NULL object: no parameters given; fine when nothing is required. */
	assert_int_equal(decode_object(NULL, NULL, 0, NULL, &bad), 0);
	assert_int_equal(decode_object(NULL, fields, 5, &(struct params){ 0 }, &bad), -EINVAL);
	assert_string_equal(bad, "name");
	assert_int_equal(decode_object(v, NULL, 0, NULL, &bad), -EINVAL);
	assert_string_equal(bad, "unexpected");
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_envelope),
		cmocka_unit_test(test_method_names),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_no_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
