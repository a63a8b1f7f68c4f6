/*
 * service.c: see service.h. The protocols (the notification datagrams,
 * LISTEN_FDS) are libsystemd's: this file only decides what to say when,
 * and checks that a passed socket is one netd can serve on.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "service.h"

void service_notify(const char *state)
{
	int r;

	assert(state);
	/* unset_environment 0: more notifications follow. */
	r = sd_notify(0, state);
	if (r < 0)
		log_debug_errno(NULL, r, "cannot notify the service manager of '%s', ignoring",
				state);
}

void service_status(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	assert(fmt);
	n = snprintf(buf, sizeof(buf), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	service_notify(buf);
}

void service_reloading(void)
{
	struct timespec ts;
	char buf[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000ULL);
	service_notify(buf);
}

/* The path fd is bound to, into buf; false if it has none (abstract or
 * unnamed). */
static bool bound_path(int fd, char *buf, size_t size)
{
	struct sockaddr_un sa = { 0 };
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] == '\0')
		return false;
	snprintf(buf, size, "%.*s", (int)(len - offsetof(struct sockaddr_un, sun_path)),
		 sa.sun_path);
	return true;
}

int service_listen_fd(const char *expected_path, int *ret_fd)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	int n, r, fd = SD_LISTEN_FDS_START;

	assert(ret_fd);
	/* Also sets close-on-exec on what was passed. */
	n = sd_listen_fds(1);
	if (n < 0)
		return log_error_errno(NULL, n, "socket activation: cannot read LISTEN_FDS");
	if (n == 0)
		return 0;
	if (n > 1) {
		log_error("socket activation: %d sockets passed, netd serves exactly one (a single ListenStream= in netd.socket); not starting",
			  n);
		return -EINVAL;
	}
	r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
	if (r < 0)
		return log_error_errno(NULL, r, "socket activation: descriptor %d", fd);
	if (r == 0 || !bound_path(fd, path, sizeof(path))) {
		log_error("socket activation: descriptor %d is not a listening AF_UNIX stream socket bound to a path (ListenStream=/run/netd/netd.sock in netd.socket); not starting",
			  fd);
		return -EINVAL;
	}
	if (expected_path && !streq(path, expected_path))
		log_warn("socket activation: serving on '%s', not on the configured socket '%s', ignoring",
			 path, expected_path);
	log_info("socket activation: serving on '%s' (passed by the service manager)", path);
	*ret_fd = fd;
	return 1;
}
