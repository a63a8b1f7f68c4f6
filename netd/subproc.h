/*
 * subproc.h: the start of netd's helper processes (the netlink sender,
 * the WAL helper, the spawner): a fork connected to the loop by a
 * SOCK_SEQPACKET pair, the child keeping nothing of netd's but that
 * socket and the descriptors it is given, and dying with netd.
 */
#ifndef NETD_SUBPROC_H
#define NETD_SUBPROC_H

#include <sys/types.h>

/* The descriptors a child may keep besides its socket. */
#define SUBPROC_KEEP_MAX 2

/* Fork a helper process. In the child: returns 0 with its end of the
 * pair at descriptor 3 and keep[i] at 4 + i (a negative keep[i] leaves
 * that number closed), every other descriptor above 2 closed, and
 * death_signal to be sent to it when netd dies (it exits at once if netd
 * is already gone). In the caller: returns the child's pid with the
 * caller's end of the pair (close-on-exec, blocking) in *ret_fd. -errno
 * if the pair or the fork fails, -EINVAL if nkeep > SUBPROC_KEEP_MAX. */
pid_t subproc_fork(const int *keep, unsigned nkeep, int death_signal, int *ret_fd);

#endif
