/*
 * safepath.c: see safepath.h.
 *
 * Checks are made on descriptors (openat() with O_NOFOLLOW, then fstat()),
 * never stat-then-open, so what is checked is what is used. Once every
 * directory on the way is accepted, only root or netd's user can change
 * what a path names, so netd (and SQLite) may go on using the paths.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "safepath.h"
#include "util.h"

static int fail(char **ret_error, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_error, fmt, ap) < 0)
		*ret_error = NULL;
	va_end(ap);
	return r;
}

static bool owner_ok(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/* Why the directory st (at path) cannot be trusted, as *ret_error; final:
 * it is the directory asked for, not an ancestor. */
static int dir_check(const char *path, const struct stat *st, bool final, char **ret_error)
{
	if (!S_ISDIR(st->st_mode))
		return fail(ret_error, -ENOTDIR, "'%s' is not a directory", path);
	if (!owner_ok(st))
		return fail(ret_error, -EPERM,
			    "'%s' is owned by uid %u, not by root or netd's user (uid %u); refusing it",
			    path, (unsigned)st->st_uid, (unsigned)geteuid());
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	/* Others may add entries to a root-owned sticky directory (/tmp)
	 * but not rename or remove ours: fine on the way, not as ours. */
	if (!final && st->st_uid == 0 && (st->st_mode & S_ISVTX))
		return 0;
	return fail(ret_error, -EPERM,
		    "'%s' is writable by %s (mode %04o); refusing it", path,
		    (st->st_mode & S_IWOTH) ? "others" : "its group",
		    (unsigned)(st->st_mode & 07777));
}

/* Open the component name of the directory dfd (at path), creating it with
 * mode if missing (mode 0: not); a symbolic link only when owned by root
 * or us. */
static int open_component(int dfd, const char *name, const char *path, mode_t mode,
			  char **ret_error)
{
	struct stat lst;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && mode != 0) {
		if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
			return fail(ret_error, -errno, "'%s' cannot be created: %s", path,
				    strerror(errno));
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* The umask must not make it wider or narrower than asked. */
		if (fd >= 0 && fchmod(fd, mode) < 0)
			log_warn("'%s': cannot set mode %04o: %m", path, (unsigned)mode);
	}
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) &&
	    fstatat(dfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode)) {
		if (!owner_ok(&lst))
			return fail(ret_error, -EPERM,
				    "'%s' is a symbolic link owned by uid %u; refusing it", path,
				    (unsigned)lst.st_uid);
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return fail(ret_error, -errno, "'%s': %s", path, strerror(errno));
	return fd;
}

int safepath_dir(const char *dir, mode_t mode, char **ret_error)
{
	_cleanup_free_ char *copy = NULL, *path = NULL;
	_cleanup_close_ int fd = -1;
	char *comp, *save = NULL, *next;
	struct stat st;
	size_t len = 0;
	int r;

	assert(dir && dir[0] == '/');
	assert(ret_error);
	copy = strdup(dir);
	path = calloc(1, strlen(dir) + 2);
	if (!copy || !path)
		return -ENOMEM;
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return fail(ret_error, -errno, "'/': %s", strerror(errno));
	comp = strtok_r(copy, "/", &save);
	r = dir_check("/", &st, !comp, ret_error);
	if (r < 0)
		return r;
	for (; comp; comp = next) {
		int nfd;

		next = strtok_r(NULL, "/", &save);
		if (streq(comp, "."))
			continue;
		len += (size_t)sprintf(path + len, "/%s", comp);
		if (streq(comp, ".."))
			return fail(ret_error, -EINVAL, "'%s': '..' is not accepted in netd's paths",
				    dir);
		nfd = open_component(fd, comp, path, mode, ret_error);
		if (nfd < 0)
			return nfd;
		close(fd);
		fd = nfd;
		if (fstat(fd, &st) < 0)
			return fail(ret_error, -errno, "'%s': %s", path, strerror(errno));
		r = dir_check(path, &st, !next, ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Check (and tighten) one file of the database; create: make it if
 * missing. 0 also when it does not exist and need not. */
static int db_file(int dfd, const char *dir, const char *name, bool create, mode_t mode,
		   bool has_group, gid_t gid, char **ret_error)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = openat(dfd, name, (create ? O_RDWR | O_CREAT : O_RDONLY | O_NONBLOCK) |
			       O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0 && errno == ENOENT && !create)
		return 0;
	if (fd < 0 && errno == ELOOP)
		return fail(ret_error, -ELOOP, "'%s/%s' is a symbolic link; refusing it", dir, name);
	if (fd < 0)
		return fail(ret_error, -errno, "'%s/%s': %s", dir, name, strerror(errno));
	if (fstat(fd, &st) < 0)
		return fail(ret_error, -errno, "'%s/%s': %s", dir, name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(ret_error, -EINVAL, "'%s/%s' is not a regular file; refusing it", dir, name);
	if (!owner_ok(&st))
		return fail(ret_error, -EPERM,
			    "'%s/%s' is owned by uid %u, not by root or netd's user; refusing it",
			    dir, name, (unsigned)st.st_uid);
	if (has_group && st.st_gid != gid && fchown(fd, (uid_t)-1, gid) < 0)
		return fail(ret_error, -errno, "'%s/%s': cannot give it group %u: %s", dir, name,
			    (unsigned)gid, strerror(errno));
	if ((st.st_mode & 07777) != mode) {
		if (fchmod(fd, mode) < 0)
			return fail(ret_error, -errno, "'%s/%s': mode %04o, cannot set %04o: %s", dir,
				    name, (unsigned)(st.st_mode & 07777), (unsigned)mode,
				    strerror(errno));
		/* A new file, made through the umask, is not news. */
		if (st.st_size > 0 || !create)
			log_warn("'%s/%s': mode %04o set to %04o", dir, name,
				 (unsigned)(st.st_mode & 07777), (unsigned)mode);
	}
	return 0;
}

int safepath_db_files(const char *db_path, mode_t mode, bool has_group, gid_t gid,
		      char **ret_error)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", ".lock" };
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -1;
	const char *base;
	char *slash;
	int r;

	assert(db_path && db_path[0] == '/');
	assert(ret_error);
	dir = strdup(db_path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	*slash = '\0';
	base = db_path + (slash - dir) + 1;
	if (!*base)
		return fail(ret_error, -EINVAL, "'%s' names a directory, not a file", db_path);
	dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return fail(ret_error, -errno, "'%s': %s", *dir ? dir : "/", strerror(errno));
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		char name[NAME_MAX + 1];

		if (snprintf(name, sizeof(name), "%s%s", base, suffixes[i]) >= (int)sizeof(name))
			return fail(ret_error, -ENAMETOOLONG, "'%s': name too long", db_path);
		/* The database and its lock are made here, so that they get
		 * the group too; SQLite makes the others like the database. */
		r = db_file(dfd, *dir ? dir : "", name, i == 0 || i == 3, mode, has_group, gid,
			    ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}
