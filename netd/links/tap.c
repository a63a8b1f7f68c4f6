/*
 * tap.c: open the character device of a macvtap link, to hand it to the
 * caller of CreateLinks (fds). /dev/tapN is named by ifindex, and
 * devtmpfs is shared by every network namespace: a macvtap of another
 * namespace with the same ifindex may own that node. So the node is
 * trusted only when its device number is the one sysfs gives for this
 * link. When it is not, or netd may not open it (/dev/tapN is root's,
 * 0600; netd.service runs netd as its own user), a private node with the
 * right number is made in a directory only netd or root can write (the
 * database's, which core.c checked with safepath.c), opened and removed at
 * once: that needs CAP_MKNOD and the device cgroup's leave, not root's
 * files. A few syscalls on local files, fast enough for the loop.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "links-internal.h"
#include "util.h"

#define TAP_OPEN_FLAGS (O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW)

/* The device number of link name's tap (as "MAJOR:MINOR" in sysfs). */
static int tap_devnum(const char *name, int ifindex, dev_t *ret)
{
	char path[128], buf[32];
	unsigned maj, min;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/macvtap/tap%d/dev", name, ifindex);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	if (sscanf(buf, "%u:%u", &maj, &min) != 2)
		return -EIO;
	*ret = makedev(maj, min);
	return 0;
}

/* fd is a character device numbered dev. */
static bool tap_is(int fd, dev_t dev)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == dev;
}

/* A node of our own for dev in dir, opened and unlinked. Nobody but netd
 * or root writes dir, so nobody else can race for the name. */
static int tap_open_private(const char *dir, dev_t dev, int ifindex)
{
	char path[PATH_MAX];
	int fd, r;

	r = snprintf(path, sizeof(path), "%s/.netd-tap-%d-%d", dir, (int)getpid(), ifindex);
	if (r < 0 || (size_t)r >= sizeof(path))
		return -ENAMETOOLONG;
	(void)unlink(path); /* a leftover of a crash */
	if (mknod(path, S_IFCHR | 0600, dev) < 0)
		return -errno;
	fd = open(path, TAP_OPEN_FLAGS);
	r = fd < 0 ? -errno : 0;
	(void)unlink(path);
	if (r < 0)
		return r;
	if (!tap_is(fd, dev)) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

int links_tap_open(const char *dir, const char *name, int ifindex)
{
	char path[32];
	dev_t dev = 0;
	int fd, r;

	r = tap_devnum(name, ifindex, &dev);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/dev/tap%d", ifindex);
	fd = open(path, TAP_OPEN_FLAGS);
	if (fd >= 0 && tap_is(fd, dev))
		return fd;
	/* Another's device, none (udev is late), or not ours to open
	 * (EACCES, EPERM): our own node. */
	r = fd < 0 ? -errno : -ENODEV;
	if (fd >= 0)
		close(fd);
	return dir ? tap_open_private(dir, dev, ifindex) : r;
}
