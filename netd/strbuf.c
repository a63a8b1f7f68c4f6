/*
 * strbuf.c: see strbuf.h.
 */
#include "config.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* Room for need more bytes and a NUL; false (and oom) without memory.
 * Doubling keeps appends amortised O(1). */
static bool strbuf_grow(struct strbuf *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->cap - b->len > need)
		return true;
	cap = (b->cap + need + 1) * 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	assert(b);
	assert(fmt);
	if (b->oom)
		return;
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
