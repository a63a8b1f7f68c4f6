/*
 * decode.h: turn a JSON object from a client into a C struct, strictly.
 * Each method describes its parameters once, as a table of fields; an
 * unknown key, a missing required key or a value of the wrong type is
 * refused and the offending field is named, so the reply can be
 * org.varlink.service.InvalidParameter{parameter: <name>}.
 * Pure: jansson only, no I/O.
 */
#ifndef NETD_DECODE_H
#define NETD_DECODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum decode_type {
	DECODE_STRING,       /* const char *, borrowed from the JSON value */
	DECODE_BOOL,         /* bool */
	DECODE_INT,          /* int64_t */
	DECODE_OBJECT,       /* json_t *, borrowed */
	DECODE_STRING_ARRAY, /* json_t * (array whose items are all strings), borrowed */
};

struct decode_field {
	const char *name;
	enum decode_type type;
	bool required;
	size_t offset; /* where in the output struct */
};

#define DECODE_FIELD(n, t, req, st, member) \
	{ .name = (n), .type = (t), .required = (req), .offset = offsetof(st, member) }

/*
 * Decode obj (an object, or NULL meaning no parameters at all) according
 * to fields[0..n). Fields absent from obj leave their output untouched, so
 * the caller presets defaults. Returns 0, or -EINVAL with *ret_bad set to
 * the name of the first offending field (borrowed from fields or obj).
 * A JSON null counts as absent for optional fields.
 */
int decode_object(json_t *obj, const struct decode_field *fields, size_t n,
		  void *out, const char **ret_bad);

/* The envelope of one varlink call. */
struct decode_call {
	const char *method;
	json_t *parameters; /* NULL when absent */
	bool more;
	bool oneway;
	bool upgrade;
};

/*
 * Decode a call envelope. Returns 0, or -EINVAL naming the bad field
 * ("method", "parameters", "more", ... or an unknown key).
 */
int decode_call(json_t *msg, struct decode_call *ret, const char **ret_bad);

/* True if s is a syntactically valid varlink method name:
 * interface (reverse-domain, dot-separated) + '.' + Method (CamelCase). */
bool decode_method_name_valid(const char *s);

#endif
