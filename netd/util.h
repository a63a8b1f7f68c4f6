/*
 * util.h: small helpers every module shares: cleanup attributes, TAKE_PTR,
 * monotonic time, and the NUL-safe string helpers we need at boundaries.
 * Header-only and free of any library but libc.
 */
#ifndef NETD_UTIL_H
#define NETD_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* glibc's <sys/queue.h> lacks the _SAFE iterator (remove while walking). */
#include <sys/queue.h>
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar) \
	for ((var) = TAILQ_FIRST(head); (var) && ((tvar) = TAILQ_NEXT(var, field), 1); \
	     (var) = (tvar))
#endif

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

/* Hand ownership of *p to the caller and leave NULL behind, so the
 * cleanup attribute on the local variable does nothing. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Monotonic clock in microseconds; never goes back, unaffected by NTP steps. */
static inline uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Now in UTC, in the form SQLite's strftime('%Y-%m-%dT%H:%M:%fZ') writes
 * (so the times netd and the database's defaults write sort together). */
static inline void now_iso(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char date[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%.19s.%03dZ", date, (int)(ts.tv_nsec / 1000000));
}

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* Copy src (NULL: "") into dst of size bytes, cut to fit: what
 * snprintf(dst, size, "%s", src) does, without its formatting (a start
 * copies a dozen fields of 10,000 rows). */
static inline void str_copy(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/* Parse a whole decimal unsigned number within [min, max]; -EINVAL or
 * -ERANGE otherwise. Leading '+', '-', spaces and trailing junk refused. */
static inline int parse_uint(const char *s, unsigned long long min,
			     unsigned long long max, unsigned long long *ret)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

#endif
