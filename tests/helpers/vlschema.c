/*
 * vlschema.c: see vlschema.h. A small recursive-descent reader of the
 * varlink interface definition language (types, structs, enums, `?`,
 * `[]`, `[string]`, anonymous structs, named types, methods and errors)
 * and a checker of JSON values against what it read. Deliberately shares
 * nothing with netd's own decoder.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vlschema.h"

enum vkind { VT_BOOL, VT_INT, VT_FLOAT, VT_STRING, VT_OBJECT, VT_ENUM, VT_STRUCT, VT_ARRAY,
	     VT_MAP, VT_NAMED };

struct vtype {
	enum vkind kind;
	bool optional;
	struct vtype *elem;   /* VT_ARRAY, VT_MAP */
	char *name;           /* VT_NAMED */
	size_t n;             /* VT_STRUCT fields, VT_ENUM values */
	char **names;
	struct vtype **types; /* VT_STRUCT only */
};

enum vdecl_kind { D_TYPE, D_METHOD, D_ERROR };

struct vdecl {
	enum vdecl_kind what;
	char *iface, *name;
	struct vtype *in, *out; /* out: a type's or error's definition too */
	struct vdecl *next;
};

struct vlschema {
	struct vdecl *decls;
	char *ifaces[32];
	size_t nifaces;
};

struct parser {
	const char *p;
	const char *start;
	char *err;
	size_t errlen;
	bool failed;
};

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (!p) {
		perror("calloc");
		exit(2);
	}
	return p;
}

static void vtype_free(struct vtype *t)
{
	if (!t)
		return;
	vtype_free(t->elem);
	free(t->name);
	for (size_t i = 0; i < t->n; i++) {
		free(t->names[i]);
		if (t->types)
			vtype_free(t->types[i]);
	}
	free(t->names);
	free(t->types);
	free(t);
}

void vlschema_free(struct vlschema *s)
{
	if (!s)
		return;
	while (s->decls) {
		struct vdecl *d = s->decls;

		s->decls = d->next;
		free(d->iface);
		free(d->name);
		vtype_free(d->in);
		vtype_free(d->out);
		free(d);
	}
	for (size_t i = 0; i < s->nifaces; i++)
		free(s->ifaces[i]);
	free(s);
}

static void perr(struct parser *ps, const char *fmt, ...)
{
	int line = 1;
	char msg[256];
	va_list ap;

	if (ps->failed)
		return;
	ps->failed = true;
	for (const char *q = ps->start; q < ps->p; q++)
		line += *q == '\n';
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "interface description line %d: %s", line, msg);
}

/* Skip blanks, newlines and # comments. */
static void skip(struct parser *ps)
{
	for (;;) {
		while (isspace((unsigned char)*ps->p))
			ps->p++;
		if (*ps->p != '#')
			return;
		while (*ps->p && *ps->p != '\n')
			ps->p++;
	}
}

static bool accept(struct parser *ps, const char *tok)
{
	size_t n = strlen(tok);

	skip(ps);
	if (strncmp(ps->p, tok, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static void expect(struct parser *ps, const char *tok)
{
	if (!accept(ps, tok))
		perr(ps, "expected '%s' at '%.20s'", tok, ps->p);
}

/* A name: letters, digits, '_', and for interface names '.' and '-'. */
static char *word(struct parser *ps, bool dotted)
{
	const char *b;
	char *w;

	skip(ps);
	b = ps->p;
	while (isalnum((unsigned char)*ps->p) || *ps->p == '_' ||
	       (dotted && (*ps->p == '.' || *ps->p == '-')))
		ps->p++;
	if (ps->p == b) {
		perr(ps, "expected a name at '%.20s'", ps->p);
		return NULL;
	}
	w = xcalloc(1, (size_t)(ps->p - b) + 1);
	memcpy(w, b, (size_t)(ps->p - b));
	return w;
}

static struct vtype *parse_type(struct parser *ps);

/* After '(': an enum (names only) or a struct (name: type, ...). */
static struct vtype *parse_struct_or_enum(struct parser *ps)
{
	struct vtype *t = xcalloc(1, sizeof(*t));
	size_t cap = 0;

	t->kind = VT_STRUCT;
	if (accept(ps, ")"))
		return t;
	for (;;) {
		char *n = word(ps, false);

		if (!n)
			break;
		if (t->n == cap) {
			cap = cap ? cap * 2 : 8;
			t->names = realloc(t->names, cap * sizeof(*t->names));
			t->types = realloc(t->types, cap * sizeof(*t->types));
			if (!t->names || !t->types)
				exit(2);
		}
		if (t->n == 0 && !accept(ps, ":"))
			t->kind = VT_ENUM;
		else if (t->n > 0 && t->kind == VT_STRUCT)
			expect(ps, ":");
		t->names[t->n] = n;
		t->types[t->n] = t->kind == VT_STRUCT ? parse_type(ps) : NULL;
		t->n++;
		if (ps->failed || accept(ps, ")"))
			break;
		expect(ps, ",");
		if (ps->failed)
			break;
	}
	return t;
}

static struct vtype *parse_type(struct parser *ps)
{
	static const struct { const char *name; enum vkind kind; } basic[] = {
		{ "bool", VT_BOOL }, { "int", VT_INT }, { "float", VT_FLOAT },
		{ "string", VT_STRING }, { "object", VT_OBJECT },
	};
	struct vtype *t;
	char *w;

	if (accept(ps, "?")) {
		t = parse_type(ps);
		if (t->optional)
			perr(ps, "an optional type cannot be optional again");
		t->optional = true;
		return t;
	}
	if (accept(ps, "("))
		return parse_struct_or_enum(ps);
	t = xcalloc(1, sizeof(*t));
	if (accept(ps, "[")) {
		t->kind = accept(ps, "]") ? VT_ARRAY : VT_MAP;
		if (t->kind == VT_MAP) {
			expect(ps, "string");
			expect(ps, "]");
		}
		t->elem = ps->failed ? NULL : parse_type(ps);
		return t;
	}
	w = word(ps, false);
	if (!w)
		return t;
	t->kind = VT_NAMED;
	for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
		if (strcmp(w, basic[i].name) == 0)
			t->kind = basic[i].kind;
	if (t->kind == VT_NAMED && !isupper((unsigned char)w[0]))
		perr(ps, "unknown type '%s'", w);
	if (t->kind == VT_NAMED)
		t->name = w;
	else
		free(w);
	return t;
}

static void add_decl(struct vlschema *s, enum vdecl_kind what, const char *iface, char *name,
		     struct vtype *in, struct vtype *out)
{
	struct vdecl *d = xcalloc(1, sizeof(*d));

	d->what = what;
	d->iface = strdup(iface);
	d->name = name;
	d->in = in;
	d->out = out;
	d->next = s->decls;
	s->decls = d;
}

/* One member after its keyword: type, method or error. */
static void parse_member(struct parser *ps, struct vlschema *s, const char *iface,
			 const char *kw)
{
	char *name = word(ps, false);
	struct vtype *in = NULL, *out;

	if (!name)
		return;
	expect(ps, "(");
	out = ps->failed ? NULL : parse_struct_or_enum(ps);
	if (strcmp(kw, "method") == 0) {
		in = out;
		expect(ps, "->");
		expect(ps, "(");
		out = ps->failed ? NULL : parse_struct_or_enum(ps);
	}
	add_decl(s, strcmp(kw, "type") == 0 ? D_TYPE : strcmp(kw, "method") == 0 ? D_METHOD : D_ERROR,
		 iface, name, in, out);
}

struct vlschema *vlschema_parse(struct vlschema *s, const char *text, char *err, size_t errlen)
{
	struct parser ps = { .p = text, .start = text, .err = err, .errlen = errlen };
	struct vlschema *res = s ? s : xcalloc(1, sizeof(*res));
	char *iface = NULL;

	while (!ps.failed) {
		char *kw;

		skip(&ps);
		if (!*ps.p)
			break;
		kw = word(&ps, false);
		if (!kw)
			break;
		if (strcmp(kw, "interface") == 0) {
			free(iface);
			iface = word(&ps, true);
			if (iface && res->nifaces < sizeof(res->ifaces) / sizeof(res->ifaces[0]))
				res->ifaces[res->nifaces++] = strdup(iface);
		} else if (!iface) {
			perr(&ps, "'%s' before 'interface'", kw);
		} else if (strcmp(kw, "type") == 0 || strcmp(kw, "method") == 0 ||
			   strcmp(kw, "error") == 0) {
			parse_member(&ps, res, iface, kw);
		} else {
			perr(&ps, "unknown keyword '%s'", kw);
		}
		free(kw);
	}
	free(iface);
	if (ps.failed) {
		if (!s)
			vlschema_free(res);
		return NULL;
	}
	return res;
}

bool vlschema_has_interface(const struct vlschema *s, const char *name)
{
	for (size_t i = 0; i < s->nifaces; i++)
		if (strcmp(s->ifaces[i], name) == 0)
			return true;
	return false;
}

static const struct vdecl *find(const struct vlschema *s, enum vdecl_kind what,
				 const char *iface, const char *name)
{
	for (const struct vdecl *d = s->decls; d; d = d->next)
		if (d->what == what && strcmp(d->iface, iface) == 0 && strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

struct checker {
	const struct vlschema *s;
	const char *iface;
	char *err;
	size_t errlen;
};

static bool violation(struct checker *ck, const char *path, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ck->err, ck->errlen, "%s: %s", path, msg);
	return false;
}

static bool check_value(struct checker *ck, json_t *v, const struct vtype *t, const char *path);

static bool check_struct(struct checker *ck, json_t *v, const struct vtype *t, const char *path)
{
	const char *key;
	json_t *m;
	char sub[512];

	if (!json_is_object(v))
		return violation(ck, path, "not an object");
	json_object_foreach(v, key, m) {
		size_t i;

		for (i = 0; i < t->n && strcmp(t->names[i], key) != 0; i++)
			;
		if (i == t->n)
			return violation(ck, path, "field '%s' is not declared", key);
		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (json_is_null(m) && t->types[i]->optional)
			continue;
		if (!check_value(ck, m, t->types[i], sub))
			return false;
	}
	for (size_t i = 0; i < t->n; i++)
		if (!t->types[i]->optional && !json_object_get(v, t->names[i]))
			return violation(ck, path, "field '%s' is missing (not optional)", t->names[i]);
	return true;
}

static bool check_value(struct checker *ck, json_t *v, const struct vtype *t, const char *path)
{
	const struct vdecl *d;
	char sub[512];
	const char *key;
	json_t *m;
	size_t i;

	if (json_is_null(v))
		return t->optional ? true : violation(ck, path, "null but not optional");
	switch (t->kind) {
	case VT_BOOL:
		return json_is_boolean(v) ? true : violation(ck, path, "not a bool");
	case VT_INT:
		return json_is_integer(v) ? true : violation(ck, path, "not an int");
	case VT_FLOAT:
		return json_is_number(v) ? true : violation(ck, path, "not a float");
	case VT_STRING:
		return json_is_string(v) ? true : violation(ck, path, "not a string");
	case VT_OBJECT:
		return json_is_object(v) ? true : violation(ck, path, "not an object");
	case VT_ENUM:
		if (!json_is_string(v))
			return violation(ck, path, "not a string (enum)");
		for (i = 0; i < t->n; i++)
			if (strcmp(t->names[i], json_string_value(v)) == 0)
				return true;
		return violation(ck, path, "'%s' is not a value of the enum", json_string_value(v));
	case VT_STRUCT:
		return check_struct(ck, v, t, path);
	case VT_ARRAY:
		if (!json_is_array(v))
			return violation(ck, path, "not an array");
		json_array_foreach(v, i, m) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (!check_value(ck, m, t->elem, sub))
				return false;
		}
		return true;
	case VT_MAP:
		if (!json_is_object(v))
			return violation(ck, path, "not an object (map)");
		json_object_foreach(v, key, m) {
			snprintf(sub, sizeof(sub), "%s[\"%s\"]", path, key);
			if (!check_value(ck, m, t->elem, sub))
				return false;
		}
		return true;
	case VT_NAMED:
		d = find(ck->s, D_TYPE, ck->iface, t->name);
		if (!d)
			return violation(ck, path, "type '%s' is not declared", t->name);
		return check_value(ck, v, d->out, path);
	}
	return violation(ck, path, "unknown type");
}

/* Split "a.b.c.Name" into the interface "a.b.c" (in buf) and "Name". */
static const char *split_name(const char *full, char *buf, size_t len)
{
	const char *dot = strrchr(full, '.');

	if (!dot || (size_t)(dot - full) >= len)
		return NULL;
	memcpy(buf, full, (size_t)(dot - full));
	buf[dot - full] = '\0';
	return dot + 1;
}

static bool check_error(struct checker *ck, json_t *reply, json_t *params)
{
	json_t *e = json_object_get(reply, "error");
	char iface[256], path[300];
	const struct vdecl *d;
	const char *name;

	if (!json_is_string(e))
		return violation(ck, "reply", "error is not a string");
	name = split_name(json_string_value(e), iface, sizeof(iface));
	if (!name)
		return violation(ck, "reply", "error '%s' is not a qualified name",
				 json_string_value(e));
	if (!vlschema_has_interface(ck->s, iface))
		return violation(ck, "reply", "error '%s' of an interface not served",
				 json_string_value(e));
	d = find(ck->s, D_ERROR, iface, name);
	if (!d)
		return violation(ck, "reply", "error '%s' is not declared", json_string_value(e));
	if (json_object_get(reply, "continues"))
		return violation(ck, "reply", "an error with 'continues'");
	ck->iface = d->iface;
	snprintf(path, sizeof(path), "%s parameters", json_string_value(e));
	return check_struct(ck, params, d->out, path);
}

bool vlschema_check_reply(const struct vlschema *s, const char *method, json_t *reply,
			  char *err, size_t errlen)
{
	struct checker ck = { .s = s, .err = err, .errlen = errlen };
	json_auto_t *empty = json_object();
	json_t *params, *cont;
	const struct vdecl *d;
	char iface[256], path[300];
	const char *key, *name;
	json_t *m;

	if (!json_is_object(reply))
		return violation(&ck, "reply", "not a JSON object");
	json_object_foreach(reply, key, m)
		if (strcmp(key, "parameters") != 0 && strcmp(key, "error") != 0 &&
		    strcmp(key, "continues") != 0)
			return violation(&ck, "reply", "unknown key '%s'", key);
	params = json_object_get(reply, "parameters");
	if (!params)
		params = empty;
	if (json_object_get(reply, "error"))
		return check_error(&ck, reply, params);
	if (!method)
		return violation(&ck, "reply", "a reply to a call that was not a method call");
	name = split_name(method, iface, sizeof(iface));
	d = name ? find(s, D_METHOD, iface, name) : NULL;
	if (!d)
		return violation(&ck, "reply", "a successful reply to '%s', which is not declared",
				 method);
	cont = json_object_get(reply, "continues");
	if (cont && !json_is_boolean(cont))
		return violation(&ck, "reply", "'continues' is not a bool");
	ck.iface = d->iface;
	snprintf(path, sizeof(path), "%s reply", method);
	return check_struct(&ck, params, d->out, path);
}
