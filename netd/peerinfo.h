/*
 * peerinfo.h: who a socket peer is beyond its uid and pid, for the audit
 * trail: its process name and the systemd unit it runs in, read from
 * /proc once when it connects. Informational only: a peer can change its
 * name at will, and a pid can be reused once its process exits.
 */
#ifndef NETD_PEERINFO_H
#define NETD_PEERINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PEERINFO_COMM_MAX 16  /* TASK_COMM_LEN, NUL included */
#define PEERINFO_UNIT_MAX 128

struct peerinfo {
	char comm[PEERINFO_COMM_MAX]; /* "" when unknown */
	char unit[PEERINFO_UNIT_MAX]; /* "" when none */
};

/* Read pid's name and unit from /proc (procfs: no disk, no waiting).
 * Fields it cannot read are left empty; never fails. Bytes outside
 * printable ASCII become '?'. */
void peerinfo_read(pid_t pid, struct peerinfo *ret);

/*
 * The systemd service of a /proc/PID/cgroup text: the last path component
 * ending in ".service" of its unified ("0::") line, or of any line when
 * there is none. Pure. Returns true and writes ret (len bytes) if found.
 */
bool peerinfo_unit_from_cgroup(const char *text, char *ret, size_t len);

#endif
