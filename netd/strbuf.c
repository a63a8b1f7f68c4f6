/*
 * strbuf.c: see strbuf.h.
 */
#include "config.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* Make b's buffer cap bytes; false (b unchanged) without memory. */
static bool strbuf_resize(struct strbuf *b, size_t cap)
{
	char *p = realloc(b->p, cap);

	if (!p)
		return false;
	b->p = p;
	b->cap = cap;
	return true;
}

/* Room for need more bytes and a NUL; false (and oom) without memory.
 * Doubling keeps appends amortised O(1). */
static bool strbuf_grow(struct strbuf *b, size_t need)
{
	if (b->oom)
		return false;
	if (b->cap - b->len > need)
		return true;
	if (!strbuf_resize(b, (b->cap + need + 1) * 2)) {
		b->oom = true;
		return false;
	}
	return true;
}

/* Whether fmt's only conversions are plain %s (and %%): those are
 * appended piece by piece, without vsnprintf's set-up, which was most of
 * the cost of rendering a binding's rules (a line is a dozen small
 * formats). */
static bool only_strings(const char *fmt)
{
	for (const char *p = strchr(fmt, '%'); p; p = strchr(p + 2, '%'))
		if (p[1] != 's' && p[1] != '%')
			return false;
	return true;
}

/* Append fmt with its %s replaced by the arguments in turn, as
 * vsnprintf would (a NULL argument as glibc prints it). */
static void append_strings(struct strbuf *b, const char *fmt, va_list ap)
{
	const char *p;

	while ((p = strchr(fmt, '%'))) {
		strbuf_append(b, fmt, (size_t)(p - fmt));
		if (p[1] == '%') {
			strbuf_append(b, "%", 1);
		} else {
			const char *arg = va_arg(ap, const char *);

			strbuf_puts(b, arg ? arg : "(null)");
		}
		fmt = p + 2;
	}
	strbuf_puts(b, fmt);
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	assert(b);
	assert(fmt);
	if (b->oom)
		return;
	if (only_strings(fmt)) {
		va_start(ap, fmt);
		append_strings(b, fmt, ap);
		va_end(ap);
		/* As vsnprintf's path does, an empty text still allocates. */
		if (!b->p && strbuf_grow(b, 0))
			b->p[0] = '\0';
		return;
	}
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		if (!strbuf_grow(b, (size_t)n))
			return;
	}
}

void strbuf_append(struct strbuf *b, const char *s, size_t n)
{
	assert(b);
	assert(s || n == 0);
	if (n == 0 || !strbuf_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void strbuf_reserve(struct strbuf *b, size_t n)
{
	assert(b);
	if (b->oom || b->cap - b->len > n || n > SIZE_MAX / 2)
		return;
	if (strbuf_resize(b, b->len + n + 1))
		b->p[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *s)
{
	assert(s);
	strbuf_append(b, s, strlen(s));
}

char *strbuf_steal(struct strbuf *b, size_t *ret_len)
{
	char *p;

	assert(b);
	if (b->oom || !b->p) {
		strbuf_done(b);
		return NULL;
	}
	p = b->p;
	if (ret_len)
		*ret_len = b->len;
	*b = (struct strbuf) { 0 };
	return p;
}

void strbuf_done(struct strbuf *b)
{
	assert(b);
	free(b->p);
	*b = (struct strbuf) { 0 };
}
