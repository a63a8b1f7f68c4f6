/*
 * job.h: run a helper program (ebtables-restore, iptables-save, ...)
 * without blocking the loop. The child gets only the three pipes it needs
 * (stdin, stdout, stderr); its input is written, its output read and its
 * exit collected by libev watchers; a child that runs past its timeout is
 * killed and reported as such.
 */
#ifndef NETD_JOB_H
#define NETD_JOB_H

#include <ev.h>
#include <stddef.h>

struct job;

/* How a run ended: status is the exit code (0..255), or -ETIMEDOUT (killed
 * after the timeout), -EINTR (killed by a signal), or -errno (could not be
 * started). out/err hold everything the child printed, NUL-terminated. */
typedef void (*job_done_fn)(void *data, int status, const char *out, size_t out_len,
			      const char *err, size_t err_len);

/*
 * Start argv[0] (looked up in PATH) with argv, feeding it input (copied)
 * on stdin. done is called exactly once, from the loop, after the child
 * has exited and both its outputs are closed; the struct job is freed
 * after done returns. Returns 0, or -errno if nothing was started (done is
 * then not called).
 */
int job_run(struct ev_loop *loop, char *const argv[], const char *input, size_t input_len,
	      unsigned timeout_ms, job_done_fn done, void *data);

/* Children started and still running, for shutdown and status. */
unsigned job_running(void);

/* Kill every running child (SIGKILL); their done callbacks still run. */
void job_kill_all(void);

#endif
