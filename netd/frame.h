/*
 * frame.h: byte buffers for the varlink wire format, where each message is
 * one JSON text followed by a NUL byte. Used for a connection's input
 * (split into messages) and output (queued replies), on the server and in
 * the client library. Pure: no I/O, no JSON.
 */
#ifndef NETD_FRAME_H
#define NETD_FRAME_H

#include <stdbool.h>
#include <stddef.h>

struct frame {
	char *data;
	size_t start;   /* first unconsumed byte */
	size_t end;     /* one past the last byte */
	size_t cap;
	size_t scanned; /* bytes from start already known to hold no NUL */
};

/* Free the buffer; the struct may be reused after frame_init(). */
void frame_init(struct frame *f);
void frame_done(struct frame *f);

/* Bytes held and not yet consumed. */
static inline size_t frame_len(const struct frame *f)
{
	return f->end - f->start;
}

/*
 * Make room for at least n more bytes at the end and return where to write
 * them (for read(2) straight into the buffer); frame_commit() then says how
 * many were written. -ENOMEM on failure.
 */
int frame_reserve(struct frame *f, size_t n, char **ret_ptr);
void frame_commit(struct frame *f, size_t n);

/* Append n bytes (output side). */
int frame_append(struct frame *f, const void *p, size_t n);

/* Append one message: text of length n plus the terminating NUL. */
int frame_append_msg(struct frame *f, const char *text, size_t n);

/* Append n bytes of a malloc'd buffer whose ownership passes to f: an
 * empty f takes the buffer itself (no copy, no new pages touched), one
 * holding bytes copies it. Frees buf in any case; 0 or -ENOMEM. */
int frame_append_owned(struct frame *f, char *buf, size_t n);

/* The same with a message text (malloc'd, NUL at text[n]) whose
 * ownership passes to f: an empty f takes the buffer itself, so a reply
 * of megabytes is not copied (nor its pages touched anew). Frees text
 * in any case; 0 or -ENOMEM. */
int frame_append_msg_owned(struct frame *f, char *text, size_t n);

/* Drop n bytes from the front (after a write). */
void frame_consume(struct frame *f, size_t n);

/*
 * Take the next complete message (input side). Returns 1 and points
 * *ret_msg at it (NUL-terminated, valid until the next call that changes
 * f) with its length (without the NUL) in *ret_len; 0 if no complete
 * message is buffered yet; -EMSGSIZE if a message, complete or not, is
 * longer than max bytes: the stream cannot be resynchronised after that.
 */
int frame_next(struct frame *f, size_t max, char **ret_msg, size_t *ret_len);

#endif
