/*
 * peerinfo.c: see peerinfo.h.
 */
#include "config.h"

#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "peerinfo.h"

/* Read at most len - 1 bytes of path into buf, NUL-terminated; the length
 * or -1. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Printable ASCII only: the names end up in the audit trail and in logs. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* The last ".service" component of one cgroup path (up to its end). */
static bool unit_of_path(const char *p, const char *end, char *ret, size_t len)
{
	static const char suffix[] = ".service";
	bool found = false;

	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *stop = slash ? slash : end;
		size_t n = (size_t)(stop - p);

		if (n > sizeof(suffix) - 1 && n < len &&
		    memcmp(stop - (sizeof(suffix) - 1), suffix, sizeof(suffix) - 1) == 0) {
			memcpy(ret, p, n);
			ret[n] = '\0';
			found = true;
		}
		p = stop + 1;
	}
	return found;
}

bool peerinfo_unit_from_cgroup(const char *text, char *ret, size_t len)
{
	const char *line = text;
	bool found = false;

	assert(text);
	assert(ret);
	while (*line) {
		const char *end = strchr(line, '\n');
		const char *path;

		if (!end)
			end = line + strlen(line);
		/* hierarchy-ID:controllers:path */
		path = memchr(line, ':', (size_t)(end - line));
		path = path ? memchr(path + 1, ':', (size_t)(end - path - 1)) : NULL;
		if (path) {
			bool unified = strncmp(line, "0::", 3) == 0;

			if (unit_of_path(path + 1, end, ret, len)) {
				found = true;
				if (unified)
					return true;
			}
		}
		line = *end ? end + 1 : end;
	}
	return found;
}

void peerinfo_read(pid_t pid, struct peerinfo *ret)
{
	char path[64], buf[4096];
	ssize_t n;

	assert(ret);
	ret->comm[0] = ret->unit[0] = '\0';
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = read_small(path, ret->comm, sizeof(ret->comm));
	if (n > 0 && ret->comm[n - 1] == '\n')
		ret->comm[n - 1] = '\0';
	else if (n < 0)
		ret->comm[0] = '\0';
	sanitize(ret->comm);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_small(path, buf, sizeof(buf)) > 0 &&
	    peerinfo_unit_from_cgroup(buf, ret->unit, sizeof(ret->unit)))
		sanitize(ret->unit);
	else
		ret->unit[0] = '\0';
}
