/*
 * notifyrecv.c: the service manager's end of sd_notify(3) for the tests,
 * which run without systemd as PID 1.
 *
 *   notifyrecv NOTIFY_PATH SOCKET SECONDS
 *
 * Binds a datagram socket at NOTIFY_PATH (what $NOTIFY_SOCKET names) and
 * prints every line of every notification as it arrives, flushed, so that
 * a test can watch the order. On READY=1 it checks at once, before it
 * reads the next notification, what a unit ordered after netd would see:
 * whether SOCKET accepts a connection and what GetStatus answers there,
 * printed as "CONNECT ok" or "CONNECT failed: ERROR", then "GETSTATUS
 * <reply>". It exits after STOPPING=1 has come and the sender went quiet
 * (or after SECONDS in all): 0 if anything was received.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int unix_socket(const char *path, int type, bool do_bind)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
		return -1;
	strcpy(a.sun_path, path);
	r = do_bind ? bind(fd, (struct sockaddr *)&a, sizeof(a))
		    : connect(fd, (struct sockaddr *)&a, sizeof(a));
	if (r < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* What a client sees at the moment READY=1 arrives. */
static void check_socket(const char *path)
{
	static const char call[] = "{\"method\":\"io.netd.GetStatus\",\"parameters\":{}}";
	char reply[65536];
	size_t n = 0;
	int fd = unix_socket(path, SOCK_STREAM, false);

	if (fd < 0) {
		printf("CONNECT failed: %s\n", strerror(errno));
		return;
	}
	printf("CONNECT ok\n");
	if (write(fd, call, sizeof(call)) != (ssize_t)sizeof(call)) {
		printf("GETSTATUS write failed\n");
		close(fd);
		return;
	}
	while (n < sizeof(reply) - 1) {
		ssize_t k = read(fd, reply + n, sizeof(reply) - 1 - n);

		if (k <= 0)
			break;
		n += (size_t)k;
		if (memchr(reply, '\0', n))
			break;
	}
	reply[n] = '\0';
	printf("GETSTATUS %s\n", reply);
	close(fd);
}

int main(int argc, char **argv)
{
	char buf[4096];
	bool any = false, stopping = false;
	time_t end;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: notifyrecv NOTIFY_PATH SOCKET SECONDS\n");
		return 2;
	}
	fd = unix_socket(argv[1], SOCK_DGRAM, true);
	if (fd < 0) {
		fprintf(stderr, "notifyrecv: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("LISTENING\n");
	end = time(NULL) + atoi(argv[3]);
	while (time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		char *line, *save = NULL;

		/* After STOPPING=1, half a second of quiet ends it. */
		if (poll(&p, 1, stopping ? 500 : 100) == 0) {
			if (stopping)
				break;
			continue;
		}
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		buf[n] = '\0';
		any = true;
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			printf("%s\n", line);
			if (strcmp(line, "READY=1") == 0)
				check_socket(argv[2]);
			if (strcmp(line, "STOPPING=1") == 0)
				stopping = true;
		}
	}
	unlink(argv[1]);
	return any ? 0 : 1;
}
