/*
 * strbuf.h: a growing string, for text built piece by piece (restore
 * input, rendered rules, what is hashed). Pure: libc only. Out of memory
 * is sticky: the first failure sets oom, later appends do nothing, and
 * the owner checks oom once at the end instead of after every piece.
 */
#ifndef NETD_STRBUF_H
#define NETD_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Zero-initialise ({ 0 }) to start empty. p is NULL until something is
 * appended, then always NUL-terminated; len excludes the NUL. */
struct strbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Append formatted text. */
void strbuf_printf(struct strbuf *b, const char *fmt, ...) _printf_(2, 3);

/* Append n bytes of s (which need not be NUL-terminated). */
void strbuf_append(struct strbuf *b, const char *s, size_t n);

/* Append the NUL-terminated s. */
void strbuf_puts(struct strbuf *b, const char *s);

/* Room for n more bytes at once, for a text whose size is roughly known
 * ahead: it is then not copied as it grows. Growing a 2.8 MB list reply
 * by doubling copied it into fresh pages, a 14.7 ms callback on this
 * project's VMs (see job_set_out_hint()). Too much costs only address
 * space. Without memory nothing changes: appends grow it as before.
 * An empty b then holds "" (as after an empty strbuf_printf()). */
void strbuf_reserve(struct strbuf *b, size_t n);

/* Hand the text to the caller (NULL if empty or out of memory; then
 * nothing is handed over) and leave b empty. ret_len: its length, written
 * only when text is returned. */
char *strbuf_steal(struct strbuf *b, size_t *ret_len);

/* Free the text; b is empty (and usable) again. */
void strbuf_done(struct strbuf *b);

#endif
