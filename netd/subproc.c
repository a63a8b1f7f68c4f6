/*
 * subproc.c: the start of a helper process (see subproc.h).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "subproc.h"

/* The child's side: the pair and keep[] moved to 3, 4, ...; the rest
 * closed. Each is first moved above the numbers it goes to, so that no
 * dup2() overwrites one still to be moved. Exits on failure. */
static void child_fds(int pair, const int *keep, unsigned nkeep)
{
	int moved[1 + SUBPROC_KEEP_MAX];

	moved[0] = fcntl(pair, F_DUPFD, 16);
	for (unsigned i = 0; i < nkeep; i++)
		moved[1 + i] = keep[i] >= 0 ? fcntl(keep[i], F_DUPFD, 16) : -1;
	if (moved[0] < 0)
		_exit(1);
	for (unsigned i = 0; i <= nkeep; i++) {
		if (i > 0 && keep[i - 1] >= 0 && moved[i] < 0)
			_exit(1);
		if (moved[i] >= 0 ? dup2(moved[i], 3 + (int)i) < 0 : close(3 + (int)i) < 0 && errno != EBADF)
			_exit(1);
	}
	close_range(4 + nkeep, ~0U, 0);
}

pid_t subproc_fork(const int *keep, unsigned nkeep, int death_signal, int *ret_fd)
{
	pid_t parent = getpid(), pid;
	int sv[2], r;

	assert(ret_fd);
	assert(nkeep == 0 || keep);
	if (nkeep > SUBPROC_KEEP_MAX)
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		child_fds(sv[1], keep, nkeep);
		prctl(PR_SET_PDEATHSIG, death_signal);
		if (getppid() != parent)
			_exit(0);
		return 0;
	}
	close(sv[1]);
	*ret_fd = sv[0];
	return pid;
}
