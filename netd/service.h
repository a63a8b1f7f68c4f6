/*
 * service.h: what netd tells the service manager that started it
 * (systemd, through libsystemd): readiness, status lines, reloads and the
 * stop; and what it takes from it: the listening socket of socket
 * activation. Started by anything else, the notifications do nothing and
 * no socket is passed.
 */
#ifndef NETD_SERVICE_H
#define NETD_SERVICE_H

#include "util.h"

/*
 * Send the notification state ("READY=1", "STOPPING=1", ... one or more
 * lines) to $NOTIFY_SOCKET if the service manager set it. A failure is
 * logged at debug level and otherwise ignored: the manager's own timeout
 * reports it.
 */
void service_notify(const char *state);

/* service_notify("STATUS=<formatted text>"). */
void service_status(const char *fmt, ...) _printf_(1, 2);

/* "RELOADING=1" with the monotonic time systemd asks for. */
void service_reloading(void);

/*
 * The listening socket of socket activation: 0 when the service manager
 * passed none; 1 with *ret_fd (close-on-exec, owned by the caller) when it
 * passed exactly one listening AF_UNIX stream socket bound to a path. A
 * socket bound elsewhere than expected_path (the configured socket) is
 * taken with a warning. Anything else passed (several descriptors, a
 * datagram or network socket, one that does not listen): logged naming
 * what is wrong, and -EINVAL. LISTEN_FDS and LISTEN_PID are removed from
 * the environment either way, so netd's helpers never see them.
 */
int service_listen_fd(const char *expected_path, int *ret_fd);

#endif
