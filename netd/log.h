/*
 * log.h: the daemon's one logging module. stderr in the foreground, syslog
 * otherwise; when stderr is the journal's stream (started by systemd),
 * each line carries its priority as a "<N>" prefix (sd-daemon(3)). Every function preserves errno so callers can log and then
 * return -errno. Library-style modules (alloc, rules, store.c, client) never
 * log above debug; they return errors and let the caller decide. (The
 * store's WAL helper, store-wal.c, runs in the loop and logs like it.)
 */
#ifndef NETD_LOG_H
#define NETD_LOG_H

#include <stdbool.h>
#include <syslog.h>

#include "util.h"

enum log_target {
	LOG_TARGET_STDERR,
	LOG_TARGET_SYSLOG,
	LOG_TARGET_JOURNAL,  /* stderr, "<N>" priority prefixes, no ident */
};

/* stderr is connected to the journal: $JOURNAL_STREAM names the device
 * and inode of our stderr (systemd.exec(5)), so a redirection made after
 * systemd started us, or a child with other stderr, does not count. */
bool log_stderr_is_journal(void);

/* Open the log. ident is the program name shown in syslog and on stderr. */
void log_open(const char *ident, enum log_target target);
void log_close(void);

/* Messages at a priority above max_level (syslog numbering, LOG_DEBUG is
 * highest) are dropped. */
void log_set_max_level(int max_level);
int log_get_max_level(void);

/* Map "error", "warning", "info", "debug" to a syslog level; -EINVAL else. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

void log_msg(int level, const char *fmt, ...) _printf_(2, 3);

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Log "OBJ: MESSAGE: strerror(|r|)" (without "OBJ: " when obj is NULL, and
 * without the error text when r is 0) and return -|r|, so a failure is
 * logged and passed up in one statement:
 *	return log_warn_errno(name, r, "could not create %s", kind);
 * obj is the thing the message concerns (an interface, an owner, a file),
 * printed as given: quote user strings before passing them.
 */
int log_errno_msg(int level, const char *obj, int r, const char *fmt, ...) _printf_(4, 5);

#define log_error_errno(obj, r, ...) log_errno_msg(LOG_ERR, obj, r, __VA_ARGS__)
#define log_warn_errno(obj, r, ...) log_errno_msg(LOG_WARNING, obj, r, __VA_ARGS__)
#define log_info_errno(obj, r, ...) log_errno_msg(LOG_INFO, obj, r, __VA_ARGS__)
#define log_debug_errno(obj, r, ...) log_errno_msg(LOG_DEBUG, obj, r, __VA_ARGS__)

#endif
