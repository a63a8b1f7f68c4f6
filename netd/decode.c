/*
 * decode.c: see decode.h.
 *
 * Why not json_unpack_ex(JSON_STRICT)? It rejects the same inputs but its
 * error text does not name the offending key in a form we can return to
 * the client; the field table below does both jobs (validation and
 * naming) in one place per method.
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "decode.h"

static bool type_ok(json_t *v, enum decode_type t)
{
	switch (t) {
	case DECODE_STRING:
		return json_is_string(v);
	case DECODE_BOOL:
		return json_is_boolean(v);
	case DECODE_INT:
		return json_is_integer(v);
	case DECODE_OBJECT:
		return json_is_object(v);
	case DECODE_STRING_ARRAY: {
		size_t i;
		json_t *item;

		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, item)
			if (!json_is_string(item))
				return false;
		return true;
	}
	}
	return false;
}

static void store_value(json_t *v, const struct decode_field *f, void *out)
{
	char *p = (char *)out + f->offset;

	switch (f->type) {
	case DECODE_STRING:
		*(const char **)p = json_string_value(v);
		break;
	case DECODE_BOOL:
		*(bool *)p = json_is_true(v);
		break;
	case DECODE_INT:
		*(int64_t *)p = (int64_t)json_integer_value(v);
		break;
	case DECODE_OBJECT:
	case DECODE_STRING_ARRAY:
		*(json_t **)p = v;
		break;
	}
}

int decode_object(json_t *obj, const struct decode_field *fields, size_t n,
		  void *out, const char **ret_bad)
{
	const char *key;
	json_t *v;

	assert(fields || n == 0);
	assert(out || n == 0);
	assert(ret_bad);
	if (obj && !json_is_object(obj)) {
		*ret_bad = NULL;
		return -EINVAL;
	}

	/* Unknown keys first: a typo should be named as such, not reported
	 * as the required key it was meant to be. */
	if (obj) {
		json_object_foreach(obj, key, v) {
			size_t i;

			for (i = 0; i < n; i++)
				if (strcmp(fields[i].name, key) == 0)
					break;
			if (i == n) {
				*ret_bad = key;
				return -EINVAL;
			}
		}
	}

	for (size_t i = 0; i < n; i++) {
		v = obj ? json_object_get(obj, fields[i].name) : NULL;
		if (!v || json_is_null(v)) {
			if (fields[i].required) {
				*ret_bad = fields[i].name;
				return -EINVAL;
			}
			continue;
		}
		if (!type_ok(v, fields[i].type)) {
			*ret_bad = fields[i].name;
			return -EINVAL;
		}
	}

	/* Only now write the output, so a refused object leaves it as it was. */
	for (size_t i = 0; i < n; i++) {
		v = obj ? json_object_get(obj, fields[i].name) : NULL;
		if (v && !json_is_null(v))
			store_value(v, &fields[i], out);
	}
	return 0;
}

static const struct decode_field call_fields[] = {
	DECODE_FIELD("method", DECODE_STRING, true, struct decode_call, method),
	DECODE_FIELD("parameters", DECODE_OBJECT, false, struct decode_call, parameters),
	DECODE_FIELD("more", DECODE_BOOL, false, struct decode_call, more),
	DECODE_FIELD("oneway", DECODE_BOOL, false, struct decode_call, oneway),
	DECODE_FIELD("upgrade", DECODE_BOOL, false, struct decode_call, upgrade),
};

int decode_call(json_t *msg, struct decode_call *ret, const char **ret_bad)
{
	struct decode_call c = { 0 };
	int r;

	assert(ret);
	assert(ret_bad);
	r = decode_object(msg, call_fields, sizeof(call_fields) / sizeof(call_fields[0]),
			  &c, ret_bad);
	if (r < 0)
		return r;
	if (!decode_method_name_valid(c.method)) {
		*ret_bad = "method";
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

bool decode_method_name_valid(const char *s)
{
	const char *dot, *p;
	bool seg_start = true;

	assert(s);
	dot = strrchr(s, '.');
	if (!dot || dot == s || strlen(s) > 255)
		return false;
	/* Method: starts upper-case, then alphanumerics. */
	if (!isupper((unsigned char)dot[1]))
		return false;
	for (p = dot + 1; *p; p++)
		if (!isalnum((unsigned char)*p))
			return false;
	/* Interface: dot-separated segments of [A-Za-z0-9-], each starting
	 * with a letter, at least two segments. */
	if (!memchr(s, '.', (size_t)(dot - s)))
		return false;
	for (p = s; p < dot; p++) {
		if (*p == '.') {
			if (seg_start)
				return false;
			seg_start = true;
			continue;
		}
		if (seg_start && !isalpha((unsigned char)*p))
			return false;
		if (!isalnum((unsigned char)*p) && *p != '-')
			return false;
		seg_start = false;
	}
	return !seg_start;
}
