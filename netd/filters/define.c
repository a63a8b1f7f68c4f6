/*
 * define.c: DefineFilter. An admin's filter definition (netd's JSON or
 * libvirt's nwfilter XML) is checked, written into filter_dir as NAME.json
 * or NAME.xml (through a dot-file and a rename, so that a reload never
 * reads half a file) and the directory is loaded again: every binding that
 * uses the filter, directly or through references, is rendered again, and
 * those whose rules changed go to the kernel in the next batch, one
 * restore run per family (bindings_rerender(); unchanged ones are skipped
 * by their hash). A definition that does not load with the others (an
 * unknown reference, a cycle) is taken back: the previous files are put
 * back and the definitions in force do not change.
 *
 * The files are small and local: they are written in the loop, as the
 * directory is read in it at a reload.
 *
 * Also what a reload (SIGHUP) adds: a filter whose file fails to load
 * keeps its previous definition, and the reload is audited with the
 * number of bindings that changed.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "decode.h"
#include "filters-internal.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define DEFINE_MAX (1024 * 1024) /* rules_definition_parse()'s limit */

/* Write len bytes of text to path through a dot-file in the same
 * directory and a rename. -errno. */
static int write_file(const char *dir, const char *name, const char *path, const char *text, size_t len)
{
	_cleanup_free_ char *tmp = NULL;
	size_t off = 0;
	int fd, r = 0;

	if (asprintf(&tmp, "%s/.%s.define", dir, name) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	while (off < len && r == 0) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* The whole of a file (at most DEFINE_MAX bytes), or NULL with *ret_len 0
 * when there is none. -errno. */
static int read_file(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = malloc(DEFINE_MAX + 1);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = 0;

	if (!buf)
		return -ENOMEM;
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		*ret = NULL;
		*ret_len = 0;
		return 0;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, DEFINE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0 || (len += (size_t)n) > DEFINE_MAX)
			break;
	}
	if (len > DEFINE_MAX)
		return -EFBIG;
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* Load the directory into a new set; the first of its errors that names
 * path into *ret_error (malloc'd; NULL when none does). */
static int define_load(const char *dir, const char *path, struct rules_defs **ret, unsigned *ret_nerrors,
		       char **ret_error)
{
	struct rules_defs *d = NULL;
	char **errors = NULL;
	size_t nerrors = 0, plen = strlen(path);
	int r = rules_defs_new(&d);

	if (r < 0)
		return r;
	r = rules_defs_load_dir(d, dir, &errors, &nerrors);
	if (r < 0) {
		rules_defs_free(d);
		return r;
	}
	*ret_error = NULL;
	for (size_t i = 0; i < nerrors; i++) {
		if (!*ret_error && strncmp(errors[i], path, plen) == 0 && errors[i][plen] == ':')
			*ret_error = TAKE_PTR(errors[i]);
		free(errors[i]);
	}
	free(errors);
	*ret = d;
	*ret_nerrors = (unsigned)nerrors;
	return 0;
}

struct define_files {
	char *path, *old;        /* the new file; the filter's file before, if another */
	char *path_text, *old_text; /* their contents before, for taking it back */
	size_t path_len, old_len;
	bool had_path;
};

static void define_files_done(struct define_files *x)
{
	free(x->path);
	free(x->old);
	free(x->path_text);
	free(x->old_text);
}

/* Put the files back as they were (best effort: logged). */
static void define_undo(const char *dir, const char *name, const struct define_files *x)
{
	int r = 0;

	if (x->had_path)
		r = write_file(dir, name, x->path, x->path_text, x->path_len);
	else if (unlink(x->path) < 0 && errno != ENOENT)
		r = -errno;
	if (r < 0)
		log_error_errno(x->path, r, "cannot put the filter file back");
	if (x->old && (r = write_file(dir, name, x->old, x->old_text, x->old_len)) < 0)
		log_error_errno(x->old, r, "cannot put the filter file back");
}

/* Where the definition goes, and what is there now. Another filter's file
 * of that name is refused (*ret_clash). -errno. */
static int define_plan(struct filters *f, const char *name, bool xml, struct define_files *x,
		       const char **ret_clash)
{
	const char *cur = rules_defs_file(f->defs, name);
	int r;

	if (asprintf(&x->path, "%s/%s.%s", f->filter_dir, name, xml ? "xml" : "json") < 0)
		return -ENOMEM;
	for (size_t i = 0; i < rules_defs_count(f->defs); i++) {
		const char *other = rules_defs_name(f->defs, i), *file = rules_defs_file(f->defs, other);

		if (file && streq(file, x->path) && !streq(other, name)) {
			*ret_clash = other;
			return 0;
		}
	}
	*ret_clash = NULL;
	r = read_file(x->path, &x->path_text, &x->path_len);
	if (r < 0)
		return r;
	x->had_path = x->path_text != NULL;
	if (cur && !streq(cur, x->path)) {
		x->old = strdup(cur);
		if (!x->old)
			return -ENOMEM;
		r = read_file(x->old, &x->old_text, &x->old_len);
	}
	return r;
}

static unsigned define_swap(struct filters *f, struct rules_defs *d, unsigned nerrors, size_t *ret_kept);

/* Write the definition, load, and swap in the new set: the number of
 * bindings changed, or -EINVAL with *ret_error when it does not load. */
static int define_apply(struct filters *f, const char *name, const char *text, struct define_files *x,
			char **ret_error)
{
	struct rules_defs *d = NULL;
	unsigned nerrors;
	size_t nkept;
	int r;

	r = write_file(f->filter_dir, name, x->path, text, strlen(text));
	if (r < 0)
		return r;
	if (x->old && unlink(x->old) < 0 && errno != ENOENT) {
		r = -errno;
		define_undo(f->filter_dir, name, x);
		return r;
	}
	r = define_load(f->filter_dir, x->path, &d, &nerrors, ret_error);
	if (r >= 0 && (!rules_defs_file(d, name) || !streq(rules_defs_file(d, name), x->path))) {
		if (!*ret_error && asprintf(ret_error, "%s: not loaded", x->path) < 0)
			*ret_error = NULL;
		r = -EINVAL;
	}
	if (r < 0) {
		rules_defs_free(d);
		define_undo(f->filter_dir, name, x);
		return r;
	}
	return (int)define_swap(f, d, nerrors, &nkept);
}

struct define_params {
	const char *definition;
};

static void reply_invalid(struct ctl_call *call, const char *message)
{
	ctl_call_error(call, "io.netd.InvalidFilter", json_pack("{s:s}", "message", message));
}

void filters_define(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("definition", DECODE_STRING, true, struct define_params, definition),
	};
	struct define_params p = { 0 };
	_cleanup_(define_files_done) struct define_files x = { 0 };
	_cleanup_free_ char *name = NULL, *error = NULL, *msg = NULL;
	const char *clash = NULL;
	bool xml;
	int r;

	assert(f);
	assert(call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	r = rules_definition_parse(p.definition, strlen(p.definition), &name, &xml, &error);
	if (r == -EINVAL)
		return reply_invalid(call, error);
	if (r >= 0 && rules_defs_is_builtin(f->defs, name)) {
		r = asprintf(&msg, "name: '%s' is the name of a built-in filter", name);
		return r < 0 ? ctl_call_error(call, "io.netd.InternalError", NULL) : reply_invalid(call, msg);
	}
	if (r >= 0)
		r = define_plan(f, name, xml, &x, &clash);
	if (r >= 0 && clash) {
		r = asprintf(&msg, "name: %s already holds filter '%s'", x.path, clash);
		return r < 0 ? ctl_call_error(call, "io.netd.InternalError", NULL) : reply_invalid(call, msg);
	}
	if (r >= 0)
		r = define_apply(f, name, p.definition, &x, &error);
	if (r == -EINVAL)
		return reply_invalid(call, error ? error : "not loaded");
	if (r < 0) {
		log_error_errno(x.path ? x.path : name, r, "cannot define filter '%s'", name);
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	}
	log_info("filter '%s' defined in %s: %d bindings changed", name, x.path, r);
	ctl_call_reply(call, json_pack("{s:s, s:s, s:i}", "name", name, "file", x.path, "bindings_changed", r));
}

/* Put d in force, with the previous definitions of the filters whose
 * files were refused; render every binding again. How many changed; the
 * number kept in *ret_kept. */
static unsigned define_swap(struct filters *f, struct rules_defs *d, unsigned nerrors, size_t *ret_kept)
{
	char **kept = NULL;
	size_t nkept = 0;
	int r;

	r = rules_defs_keep_previous(d, f->defs, &kept, &nkept);
	if (r < 0)
		log_error_errno(NULL, r, "filters: cannot keep the previous definitions of refused files");
	for (size_t i = 0; i < nkept; i++) {
		log_warn("filter '%s': its file did not load, keeping its previous definition", kept[i]);
		free(kept[i]);
	}
	free(kept);
	rules_defs_free(f->defs);
	f->defs = d;
	f->filter_errors = nerrors;
	*ret_kept = nkept;
	return bindings_rerender(f);
}

unsigned define_reload(struct filters *f, struct rules_defs *d, unsigned nerrors, size_t *ret_kept)
{
	unsigned changed;
	size_t nkept;

	assert(f);
	assert(d);
	assert(ret_kept);
	changed = define_swap(f, d, nerrors, &nkept);
	log_info("filters reloaded: %u bindings changed, %zu filters kept their previous definition", changed,
		 nkept);
	*ret_kept = nkept;
	return changed;
}
