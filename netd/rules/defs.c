/*
 * defs.c: the set of filter definitions (built-in and custom) and its
 * lookups, and the loading of a directory of custom filter files with
 * their reference and cycle checks.
 */
#include "config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rules-internal.h"
#include "util.h"

/* A filter file larger than this is refused unread: filters are small. */
#define FILE_SIZE_MAX (1024 * 1024)

/* --- the set of definitions --- */

static int cmp_filter(const void *a, const void *b)
{
	return strcmp((*(struct rules_filter *const *)a)->name, (*(struct rules_filter *const *)b)->name);
}

static int cmp_name_filter(const void *key, const void *elem)
{
	return strcmp(key, (*(struct rules_filter *const *)elem)->name);
}

const struct rules_filter *rules_defs_find(const struct rules_defs *d, const char *name, size_t *ret_index)
{
	struct rules_filter **p;

	if (!d || !name || d->n == 0)
		return NULL;
	p = bsearch(name, d->v, d->n, sizeof(*d->v), cmp_name_filter);
	if (!p)
		return NULL;
	if (ret_index)
		*ret_index = (size_t)(p - d->v);
	return *p;
}

/* Append f (taking it) to d, unsorted; the caller sorts. */
static int defs_add(struct rules_defs *d, struct rules_filter *f)
{
	struct rules_filter **v = realloc(d->v, (d->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	d->v = v;
	d->v[d->n++] = f;
	return 0;
}

struct rules_defs *rules_defs_free(struct rules_defs *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		rules_filter_free(d->v[i]);
	free(d->v);
	free(d);
	return NULL;
}

int rules_defs_new(struct rules_defs **ret)
{
	struct rules_defs *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < rules_builtin_count; i++) {
		struct rules_filter *f = NULL;
		char *error = NULL;
		json_t *root = json_loads(rules_builtin_json[i], JSON_REJECT_DUPLICATES, NULL);

		if (!root) {
			rules_defs_free(d);
			return -ENOMEM; /* the texts are tested: only memory can fail */
		}
		r = rules_filter_parse(root, &f, &error);
		json_decref(root);
		assert(r != -EINVAL); /* a broken built-in is a programmer error */
		free(error);
		if (r < 0 || defs_add(d, f) < 0) {
			rules_filter_free(f);
			rules_defs_free(d);
			return -ENOMEM;
		}
		f->builtin = true;
	}
	qsort(d->v, d->n, sizeof(*d->v), cmp_filter);
	*ret = d;
	return 0;
}

int rules_defs_new_bare(struct rules_defs **ret)
{
	struct rules_defs *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	*ret = d;
	return 0;
}

/* A copy of a custom filter, parsed again from the definition it keeps. */
static int filter_clone(const struct rules_filter *f, struct rules_filter **ret)
{
	const char *xml = json_string_value(json_object_get(f->json, "libvirt_xml"));
	struct rules_filter *c = NULL;
	char *error = NULL;
	int r;

	/* A JSON filter never has that key: parse.c refuses unknown keys. */
	if (xml)
		r = rules_xml_parse(xml, strlen(xml), &c, &error);
	else
		r = rules_filter_parse(f->json, &c, &error);
	free(error);
	if (r < 0)
		return r == -EINVAL ? -EIO : r; /* it parsed before: only memory can fail */
	c->file = strdup(f->file);
	if (!c->file) {
		rules_filter_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

/* Whether prev's filter f may be carried into d: not there, its file
 * still there (refused, not removed), and every reference resolved. */
static bool keep_fits(const struct rules_defs *d, const struct rules_filter *f)
{
	struct stat st;

	if (f->builtin || !f->file || rules_defs_has(d, f->name) || stat(f->file, &st) < 0)
		return false;
	for (size_t k = 0; k < f->n_refs; k++)
		if (!rules_defs_has(d, f->refs[k]))
			return false;
	return true;
}

int rules_defs_keep_previous(struct rules_defs *d, const struct rules_defs *prev, char ***ret_names,
			     size_t *ret_n)
{
	char **names = NULL;
	size_t n = 0;
	bool changed;
	int r = 0;

	assert(d && prev && ret_names && ret_n);
	/* Until nothing changes: keeping one can let a filter that refers
	 * to it be kept too. Only filters already in d are referred to, so
	 * no cycle can form. */
	do {
		changed = false;
		for (size_t i = 0; i < prev->n && r >= 0; i++) {
			struct rules_filter *c = NULL;
			char **v;

			if (!keep_fits(d, prev->v[i]))
				continue;
			v = realloc(names, (n + 1) * sizeof(*names));
			if (v)
				names = v;
			if (!v || !(names[n] = strdup(prev->v[i]->name))) {
				r = -ENOMEM;
				break;
			}
			n++;
			r = filter_clone(prev->v[i], &c);
			if (r >= 0 && (r = defs_add(d, c)) < 0)
				rules_filter_free(c);
			if (r >= 0)
				qsort(d->v, d->n, sizeof(*d->v), cmp_filter);
			changed = true;
		}
	} while (changed && r >= 0);
	rules_defs_digests_forget(d);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return r;
	}
	*ret_names = names;
	*ret_n = n;
	return (int)n;
}

size_t rules_defs_count(const struct rules_defs *d)
{
	return d->n;
}

const char *rules_defs_name(const struct rules_defs *d, size_t i)
{
	return i < d->n ? d->v[i]->name : NULL;
}

bool rules_defs_has(const struct rules_defs *d, const char *name)
{
	return rules_defs_find(d, name, NULL) != NULL;
}

bool rules_defs_is_builtin(const struct rules_defs *d, const char *name)
{
	const struct rules_filter *f = rules_defs_find(d, name, NULL);

	return f && f->builtin;
}

const char *rules_defs_file(const struct rules_defs *d, const char *name)
{
	const struct rules_filter *f = rules_defs_find(d, name, NULL);

	return f ? f->file : NULL;
}

json_t *rules_filter_json(const struct rules_defs *d, const char *name)
{
	const struct rules_filter *f = rules_defs_find(d, name, NULL);

	return f ? json_deep_copy(f->json) : NULL;
}

/* --- loading a directory --- */

struct errors {
	char **v;
	size_t n;
};

_printf_(2, 3) static int errors_add(struct errors *e, const char *fmt, ...)
{
	char **v, *s;
	va_list ap;
	int r;

	v = realloc(e->v, (e->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	e->v = v;
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	e->v[e->n++] = s;
	return 0;
}

static void errors_free(struct errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
}

/* A custom filter read from a file, not yet accepted. */
struct cand {
	struct rules_filter *f;
	char *shown; /* the file name for messages */
	bool ok;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static long cand_find(const struct cand *c, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (streq(c[i].f->name, name))
			return (long)i;
	return -1;
}

/* Depth-first from c[at] along references to accepted candidates: true if
 * c[start] is reached, with the path (start first) in stack[0..*ret_len). */
static bool cycle_from(const struct cand *c, size_t n, size_t start, size_t at, bool *seen,
		       size_t *stack, size_t depth, size_t *ret_len)
{
	const struct rules_filter *f = c[at].f;

	stack[depth] = at;
	for (size_t k = 0; k < f->n_refs; k++) {
		long j = cand_find(c, n, f->refs[k]);

		/* Built-ins only refer to built-ins: a cycle never passes
		 * through one. */
		if (j < 0 || !c[j].ok)
			continue;
		if ((size_t)j == start) {
			*ret_len = depth + 1;
			return true;
		}
		if (seen[j])
			continue;
		seen[j] = true;
		if (cycle_from(c, n, start, (size_t)j, seen, stack, depth + 1, ret_len))
			return true;
	}
	return false;
}

/* Refuse every candidate that refers to something neither built in nor
 * accepted, until nothing changes (refusing one can orphan another). */
static int refuse_unknown_refs(const struct rules_defs *d, struct cand *c, size_t n, struct errors *e)
{
	bool changed;

	do {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			for (size_t k = 0; c[i].ok && k < c[i].f->n_refs; k++) {
				const char *ref = c[i].f->refs[k];
				long j;
				int r;

				if (rules_defs_is_builtin(d, ref))
					continue;
				j = cand_find(c, n, ref);
				if (j >= 0 && c[j].ok)
					continue;
				r = errors_add(e, j < 0 ? "%s: filters: unknown filter '%s'"
						       : "%s: filters: filter '%s' was refused",
					       c[i].shown, ref);
				if (r < 0)
					return r;
				c[i].ok = false;
				changed = true;
			}
		}
	} while (changed);
	return 0;
}

static int refuse_cycles(struct cand *c, size_t n, struct errors *e)
{
	bool *seen = calloc(n + 1, sizeof(*seen)), *cyclic = calloc(n + 1, sizeof(*cyclic));
	size_t *stack = calloc(n + 1, sizeof(*stack));
	int r = -ENOMEM;

	if (!seen || !cyclic || !stack)
		goto out;
	/* Find every filter on a cycle before refusing any, so that all
	 * members of a cycle are reported, not just the first. */
	for (size_t i = 0; i < n; i++) {
		char *path = NULL;
		size_t len = 0, plen = 0;
		FILE *m;

		if (!c[i].ok)
			continue;
		memset(seen, 0, n * sizeof(*seen));
		if (!cycle_from(c, n, i, i, seen, stack, 0, &len))
			continue;
		cyclic[i] = true;
		m = open_memstream(&path, &plen);
		if (!m)
			goto out;
		for (size_t k = 0; k < len; k++)
			fprintf(m, "%s -> ", c[stack[k]].f->name);
		fputs(c[i].f->name, m);
		if (fclose(m) != 0) {
			free(path);
			goto out;
		}
		r = errors_add(e, "%s: filters: reference cycle %s", c[i].shown, path);
		free(path);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (cyclic[i])
			c[i].ok = false;
	r = 0;
out:
	free(seen);
	free(cyclic);
	free(stack);
	return r;
}

static bool is_xml(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".xml") == 0;
}

static bool is_json(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* A file in libvirt's XML format, read whole and parsed (xml.c). */
static int load_xml(const char *path, struct rules_filter **ret, char **ret_error)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_fclose_ FILE *fp = NULL;
	size_t n;

	fp = fopen(path, "re");
	if (!fp)
		return rules_errorf(ret_error, "xml: %s", strerror(errno));
	buf = malloc(FILE_SIZE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	n = fread(buf, 1, FILE_SIZE_MAX + 1, fp);
	if (ferror(fp))
		return rules_errorf(ret_error, "xml: read error");
	if (n > FILE_SIZE_MAX)
		return rules_errorf(ret_error, "xml: larger than %d bytes", FILE_SIZE_MAX);
	return rules_xml_parse(buf, n, ret, ret_error);
}

int rules_definition_parse(const char *text, size_t len, char **ret_name, bool *ret_xml, char **ret_error)
{
	struct rules_filter *f = NULL;
	size_t i = 0;
	bool xml;
	int r;

	assert(text && ret_name && ret_xml && ret_error);
	if (len > FILE_SIZE_MAX)
		return rules_errorf(ret_error, "definition: larger than %d bytes", FILE_SIZE_MAX);
	if (memchr(text, '\0', len))
		return rules_errorf(ret_error, "definition: holds a NUL byte");
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	xml = i < len && text[i] == '<';
	if (xml) {
		r = rules_xml_parse(text, len, &f, ret_error);
	} else {
		json_error_t jerr;
		json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
		_cleanup_free_ char *jtext = NULL;

		if (!root) {
			jtext = rules_clean_dup(jerr.text);
			return jtext ? rules_errorf(ret_error, "json: %s (line %d, column %d)", jtext, jerr.line,
						   jerr.column) : -ENOMEM;
		}
		r = rules_filter_parse(root, &f, ret_error);
		json_decref(root);
	}
	if (r < 0)
		return r;
	*ret_name = TAKE_PTR(f->name);
	*ret_xml = xml;
	rules_filter_free(f);
	return 0;
}

/* Read one file into a candidate; a refused file only adds an error.
 * 0 (accepted or refused) or -ENOMEM. */
static int load_file(const struct rules_defs *d, const char *path, struct cand *c, size_t *n,
		     struct errors *e)
{
	_cleanup_free_ char *shown = rules_clean_dup(path), *error = NULL, *jtext = NULL;
	struct rules_filter *f = NULL;
	json_error_t jerr;
	struct stat st;
	json_t *root;
	long j;
	int r;

	if (!shown)
		return -ENOMEM;
	if (stat(path, &st) < 0) {
		/* Gone since readdir(): as if it never was. */
		if (errno == ENOENT)
			return 0;
		return errors_add(e, "%s: json: %s", shown, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	if (st.st_size > FILE_SIZE_MAX)
		return errors_add(e, "%s: %s: larger than %d bytes", shown, is_xml(path) ? "xml" : "json",
				  FILE_SIZE_MAX);
	if (is_xml(path)) {
		r = load_xml(path, &f, &error);
	} else {
		root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
		if (!root) {
			jtext = rules_clean_dup(jerr.text);
			if (!jtext)
				return -ENOMEM;
			return errors_add(e, "%s: json: %s (line %d, column %d)", shown, jtext, jerr.line,
					  jerr.column);
		}
		r = rules_filter_parse(root, &f, &error);
		json_decref(root);
	}
	if (r == -EINVAL)
		return errors_add(e, "%s: %s", shown, error);
	if (r < 0)
		return r;
	if (rules_defs_is_builtin(d, f->name)) {
		r = errors_add(e, "%s: name: '%s' is the name of a built-in filter", shown, f->name);
		rules_filter_free(f);
		return r;
	}
	j = cand_find(c, *n, f->name);
	if (j >= 0) {
		r = errors_add(e, "%s: name: '%s' is already defined in %s", shown, f->name, c[j].shown);
		rules_filter_free(f);
		return r;
	}
	f->file = strdup(path);
	if (!f->file) {
		rules_filter_free(f);
		return -ENOMEM;
	}
	c[*n] = (struct cand) { .f = f, .shown = TAKE_PTR(shown), .ok = true };
	(*n)++;
	return 0;
}

/* The "*.json" and "*.xml" names in dir (no dot files), sorted. -errno. */
static int list_dir(const char *dir, char ***ret, size_t *ret_n)
{
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *dp;
	int r = 0;

	dp = opendir(dir);
	if (!dp)
		return -errno;
	for (;;) {
		char **nv;

		errno = 0;
		de = readdir(dp);
		if (!de) {
			r = -errno;
			break;
		}
		if (de->d_name[0] == '.' || !(is_json(de->d_name) || is_xml(de->d_name)))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		v[n] = strdup(de->d_name);
		if (!v[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(dp);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return r;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_str);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Parse each of the directory's files into c (n so far). */
static int load_files(const struct rules_defs *d, const char *dir, char **names, size_t nnames,
		      struct cand *c, size_t *n, struct errors *e)
{
	size_t dl = strlen(dir);

	for (size_t i = 0; i < nnames; i++) {
		char *path;
		int r;

		if (asprintf(&path, "%s%s%s", dir, dl > 0 && dir[dl - 1] == '/' ? "" : "/", names[i]) < 0)
			return -ENOMEM;
		r = load_file(d, path, c, n, e);
		free(path);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Move the candidates that passed every check into d (unsorted). Room for
 * all first, so that d is never left half-filled. How many, or -ENOMEM. */
static int defs_take(struct rules_defs *d, struct cand *c, size_t n)
{
	int taken = 0;

	if (n > 0) {
		struct rules_filter **v = realloc(d->v, (d->n + n) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
	}
	for (size_t i = 0; i < n; i++) {
		if (!c[i].ok)
			continue;
		d->v[d->n++] = TAKE_PTR(c[i].f);
		taken++;
	}
	return taken;
}

int rules_defs_load_dir(struct rules_defs *d, const char *dir, char ***ret_errors, size_t *ret_nerrors)
{
	struct errors e = { 0 };
	struct cand *c = NULL;
	char **names = NULL;
	size_t nnames = 0, n = 0, loaded = 0;
	int r;

	assert(d && dir && ret_errors && ret_nerrors);
	assert(!d->loaded);
	r = list_dir(dir, &names, &nnames);
	if (r == -ENOENT) {
		d->loaded = true;
		*ret_errors = NULL;
		*ret_nerrors = 0;
		return 0;
	}
	if (r < 0)
		return r;

	c = calloc(nnames + 1, sizeof(*c));
	if (!c) {
		r = -ENOMEM;
		goto out;
	}
	r = load_files(d, dir, names, nnames, c, &n, &e);
	if (r < 0)
		goto out;

	/* References once every file is read: a file may refer to one
	 * sorted after it. Refusing a cycle can orphan its referrers. */
	r = refuse_unknown_refs(d, c, n, &e);
	if (r >= 0)
		r = refuse_cycles(c, n, &e);
	if (r >= 0)
		r = refuse_unknown_refs(d, c, n, &e);
	if (r < 0)
		goto out;

	r = defs_take(d, c, n);
	if (r < 0)
		goto out;
	loaded = (size_t)r;
	qsort(d->v, d->n, sizeof(*d->v), cmp_filter);
	d->loaded = true;
	*ret_errors = TAKE_PTR(e.v);
	*ret_nerrors = e.n;
	e.n = 0;
	r = (int)loaded;
out:
	for (size_t i = 0; c && i < n; i++) {
		rules_filter_free(c[i].f);
		free(c[i].shown);
	}
	free(c);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	errors_free(&e);
	return r;
}
