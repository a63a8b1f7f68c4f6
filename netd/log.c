/*
 * log.c: see log.h. Kept tiny on purpose: a level filter, a target, and
 * errno preserved across every call.
 */
#include "config.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static enum log_target log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;
static const char *log_ident = "netd";

static const char *const level_names[] = {
	[LOG_ERR] = "error",
	[LOG_WARNING] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

bool log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int end = 0;

	if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &end) != 2 || e[end] != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_open(const char *ident, enum log_target target)
{
	assert(ident);
	log_ident = ident;
	log_target = target;
	if (target == LOG_TARGET_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close(void)
{
	if (log_target == LOG_TARGET_SYSLOG)
		closelog();
	log_target = LOG_TARGET_STDERR;
}

void log_set_max_level(int max_level)
{
	log_max_level = max_level;
}

int log_get_max_level(void)
{
	return log_max_level;
}

int log_level_from_string(const char *s)
{
	assert(s);
	for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
		if (level_names[i] && streq(level_names[i], s))
			return (int)i;
	return -EINVAL;
}

const char *log_level_to_string(int level)
{
	if (level < 0 || (size_t)level >= ELEMENTSOF(level_names))
		return "unknown";
	return level_names[level] ? level_names[level] : "unknown";
}

void log_msg(int level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	assert(fmt);
	if (level > log_max_level)
		goto out;

	va_start(ap, fmt);
	if (log_target == LOG_TARGET_SYSLOG) {
		vsyslog(level, fmt, ap);
	} else if (log_target == LOG_TARGET_JOURNAL) {
		char msg[2048];

		/* One write per line: the journal reads the stream by line,
		 * and the prefix is its priority (the ident is the unit's). */
		vsnprintf(msg, sizeof(msg), fmt, ap);
		fprintf(stderr, "<%d>%s\n", level, msg);
	} else {
		fprintf(stderr, "%s: ", log_ident);
		if (level <= LOG_WARNING)
			fprintf(stderr, "%s: ", log_level_to_string(level));
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
out:
	errno = saved;
}

int log_errno_msg(int level, const char *obj, int r, const char *fmt, ...)
{
	int saved = errno, e = r < 0 ? -r : r;
	char msg[1024];
	va_list ap;

	assert(fmt);
	if (level <= log_max_level) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		log_msg(level, "%s%s%s%s%s", obj ? obj : "", obj ? ": " : "", msg,
			e ? ": " : "", e ? strerror(e) : "");
	}
	errno = saved;
	return -e;
}
