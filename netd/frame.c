/*
 * frame.c: see frame.h. The buffer compacts lazily (only when it needs room)
 * so that consuming a message is O(1), and the NUL search never rescans
 * bytes it has already looked at, so a large message arriving in small
 * pieces costs linear time, not quadratic.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

void frame_init(struct frame *f)
{
	assert(f);
	memset(f, 0, sizeof(*f));
}

void frame_done(struct frame *f)
{
	assert(f);
	free(f->data);
	frame_init(f);
}

int frame_reserve(struct frame *f, size_t n, char **ret_ptr)
{
	size_t used;

	assert(f);
	assert(ret_ptr);
	used = frame_len(f);
	if (f->cap - f->end < n) {
		if (f->start > 0) {
			memmove(f->data, f->data + f->start, used);
			f->start = 0;
			f->end = used;
		}
		if (f->cap - f->end < n) {
			size_t want = f->cap ? f->cap : 4096;
			char *p;

			while (want - used < n) {
				if (want > SIZE_MAX / 2)
					return -ENOMEM;
				want *= 2;
			}
			p = realloc(f->data, want);
			if (!p)
				return -ENOMEM;
			f->data = p;
			f->cap = want;
		}
	}
	*ret_ptr = f->data + f->end;
	return 0;
}

void frame_commit(struct frame *f, size_t n)
{
	assert(f);
	assert(n <= f->cap - f->end);
	f->end += n;
}

int frame_append(struct frame *f, const void *p, size_t n)
{
	char *dst;
	int r = frame_reserve(f, n, &dst);

	assert(f);
	assert(p || n == 0);
	if (r < 0)
		return r;
	memcpy(dst, p, n);
	frame_commit(f, n);
	return 0;
}

int frame_append_msg(struct frame *f, const char *text, size_t n)
{
	char *dst;
	int r = frame_reserve(f, n + 1, &dst);

	assert(f);
	assert(text);
	if (r < 0)
		return r;
	memcpy(dst, text, n);
	dst[n] = '\0';
	frame_commit(f, n + 1);
	return 0;
}

int frame_append_owned(struct frame *f, char *buf, size_t n)
{
	int r;

	assert(f);
	assert(buf);
	if (frame_len(f) > 0) {
		r = frame_append(f, buf, n);
		free(buf);
		return r;
	}
	free(f->data);
	f->data = buf;
	f->start = f->scanned = 0;
	f->end = f->cap = n;
	return 0;
}

int frame_append_msg_owned(struct frame *f, char *text, size_t n)
{
	assert(text && text[n] == '\0');
	return frame_append_owned(f, text, n + 1);
}

void frame_consume(struct frame *f, size_t n)
{
	assert(f);
	assert(n <= frame_len(f));
	f->start += n;
	if (f->scanned > n)
		f->scanned -= n;
	else
		f->scanned = 0;
	if (f->start == f->end)
		f->start = f->end = f->scanned = 0;
}

int frame_next(struct frame *f, size_t max, char **ret_msg, size_t *ret_len)
{
	char *base, *nul;
	size_t len;

	assert(f);
	assert(ret_msg);
	assert(ret_len);
	base = f->data + f->start;
	len = frame_len(f);
	if (len == 0)
		return 0;
	nul = memchr(base + f->scanned, '\0', len - f->scanned);
	if (!nul) {
		f->scanned = len;
		return len > max ? -EMSGSIZE : 0;
	}
	if ((size_t)(nul - base) > max)
		return -EMSGSIZE;
	*ret_msg = base;
	*ret_len = (size_t)(nul - base);
	f->start += *ret_len + 1;
	f->scanned = 0;
	if (f->start == f->end)
		f->start = f->end = 0;
	return 1;
}
