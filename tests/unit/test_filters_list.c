/*
 * test_filters_list.c: ListBindings writes each binding's JSON itself
 * (binding_view_encode()); it must be byte for byte what jansson writes
 * for binding_view_json(): every member in order, strings with quotes,
 * backslashes, every control character, DEL and multibyte UTF-8,
 * parameters of every JSON type, the families and backends, the optional
 * members; a member that is not UTF-8 left out (error) or the whole
 * binding refused (owner), as jansson does.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filters-internal.h"
#include "strbuf.h"

/* v encoded both ways: the same text, or both refused. */
static void check_same(const struct binding_view *v)
{
	json_t *o = binding_view_json(v);
	char *want = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct strbuf s = { 0 };
	char *got;

	binding_view_encode(&s, v);
	if (!want) {
		assert_true(s.oom);
	} else {
		assert_false(s.oom);
		got = strbuf_steal(&s, NULL);
		assert_non_null(got);
		assert_string_equal(got, want);
		free(got);
	}
	strbuf_done(&s);
	free(want);
	json_decref(o);
}

static struct binding_view base(json_t *params)
{
	struct binding_view v = { .port = "vnet0", .filter = "clean-traffic", .owner = "guest-1",
				  .params = params, .state = "applied", .applied = true,
				  .fams = 1u << 0, .created = "2026-12-03T06:00:00Z" };

	memset(v.hash, 'a', 64);
	return v;
}

static void test_plain(void **state)
{
	json_t *p = json_object();
	struct binding_view v = base(p);

	check_same(&v);
	v.applied = false;
	v.state = "pending";
	v.hash[0] = '\0';
	v.fams = 0;
	check_same(&v);
	json_decref(p);
}

static void test_families_backends_optional(void **state)
{
	json_t *p = json_pack("{s:s, s:[s,s], s:i, s:b, s:n, s:f, s:{s:s}}", "MAC",
			      "52:54:00:12:34:56", "IP", "10.0.0.1", "10.0.0.2", "N", 7, "B", 1,
			      "Z", "R", 1.5, "O", "k", "v");
	struct binding_view v = base(p);

	for (unsigned fams = 0; fams < 8; fams++)
		for (int nd = 0; nd < 2; nd++) {
			v.fams = fams;
			v.netdev = nd;
			v.nft = nd;
			check_same(&v);
		}
	snprintf(v.applied_at, sizeof(v.applied_at), "2026-12-03T06:01:00Z");
	v.learning = "dhcp";
	check_same(&v);
	snprintf(v.learned_at, sizeof(v.learned_at), "2026-12-03T06:02:00Z");
	v.learning = "any";
	v.error = "ebtables-restore: line 7 failed";
	check_same(&v);
	json_decref(p);
}

static void test_escapes(void **state)
{
	char all[64], owner[] = "o\"w\\n/er \x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	json_t *p = json_pack("{s:s}", "quote\"d", "back\\slash\n\x01");
	struct binding_view v = base(p);
	size_t n = 0;

	for (int c = 1; c < 0x20; c++)
		all[n++] = (char)c;
	memcpy(all + n, "\"\\/x", 5);
	v.error = all;
	v.owner = owner;
	check_same(&v);
	json_decref(p);
}

static void test_not_utf8(void **state)
{
	static const char *const bad[] = {
		"\xff", "a\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xf8\x88\x80\x80\x80", "\x80", "ok\xe2\x82",
	};
	json_t *p = json_object();
	struct binding_view v = base(p);

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		v.error = (char *)bad[i];
		v.owner = "guest-1";
		check_same(&v); /* no error member */
		v.error = NULL;
		v.owner = (char *)bad[i];
		check_same(&v); /* no binding */
	}
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_families_backends_optional),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_not_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
