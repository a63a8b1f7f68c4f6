/*
 * safepath.h: the directories and files netd trusts (the socket's
 * directory, the database's directory and files) are created or accepted
 * only when nobody but root or netd's own user can change them.
 *
 * A local user who could create, rename or replace an entry on the way to
 * netd's socket could move the socket away and receive root's calls; one
 * who could replace the database with a symbolic link could make netd
 * write elsewhere; a database readable by all shows the audit trail.
 */
#ifndef NETD_SAFEPATH_H
#define NETD_SAFEPATH_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Make sure the directory dir (absolute) is safe, creating what is missing
 * with mode. Every component is opened relative to its parent with
 * O_DIRECTORY|O_NOFOLLOW and checked with fstat() on that descriptor: owned
 * by root or the effective uid, and not writable by group or others, except
 * that an ancestor (not dir itself) may be a root-owned sticky directory
 * such as /tmp. A symbolic link on the way is followed only when it is
 * owned by root or by us (it lies in a directory already checked); its
 * target is checked the same. 0, or -errno with *ret_error (caller frees)
 * naming the path and what is wrong. With mode 0 nothing is created: a
 * missing component is -ENOENT.
 */
int safepath_dir(const char *dir, mode_t mode, char **ret_error);

/*
 * The files of the database at db_path (the database, -wal, -shm, .lock),
 * in a directory safepath_dir() accepted: each that exists must be a
 * regular file (not a symbolic link) owned by root or the effective uid;
 * a wider mode than mode is tightened to mode, and with has_group the
 * group is set to gid (logged). The database and its lock are created with
 * mode (and group) if missing, so that SQLite's WAL and SHM files, made with the
 * database's mode, get it too. 0, or -errno with *ret_error (caller frees).
 */
int safepath_db_files(const char *db_path, mode_t mode, bool has_group, gid_t gid,
		      char **ret_error);

#endif
