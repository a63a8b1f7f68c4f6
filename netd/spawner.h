/*
 * spawner.h: the spawner process, which starts the helper programs
 * (*tables-restore, *-save, nft) so that the loop does not.
 *
 * posix_spawn suspends its caller until the child has called exec: on a
 * loaded machine that took up to 10 ms of the loop per run (B5). The
 * spawner is a small process forked at start; the loop sends it a request
 * (argv and the three pipe ends, as SCM_RIGHTS) and goes on. The spawner
 * starts the child in a process group of its own, reports its pid, reaps
 * it and reports its wait status; a run is killed (its whole group) on
 * request. If the spawner dies, another is forked, the runs it held are
 * killed and reported lost.
 */
#ifndef NETD_SPAWNER_H
#define NETD_SPAWNER_H

#include <ev.h>
#include <stdint.h>
#include <sys/types.h>

struct spawner;

enum spawner_event {
	SPAWNER_STARTED, /* value: the child's pid (its process group) */
	SPAWNER_FAILED,  /* value: -errno; the run is over */
	SPAWNER_EXITED,  /* value: its wait status; the run is over */
	SPAWNER_LOST,    /* value: -ECHILD: the spawner died; the run is over */
};

/* What happened to a run, called from the loop. After any event but
 * SPAWNER_STARTED the run is forgotten. */
typedef void (*spawner_fn)(void *data, enum spawner_event ev, int value);

/*
 * Fork the spawner process (before the database is opened: the child
 * must hold nothing of netd's but its socket) and watch it from loop.
 * Returns 0 with *ret, or -errno.
 */
int spawner_start(struct ev_loop *loop, struct spawner **ret);

/*
 * Stop the spawner: runs still known are killed and forgotten (their fn
 * is not called), its socket closed, the process waited for. Accepts
 * NULL; returns NULL.
 */
struct spawner *spawner_stop(struct spawner *sp);

/*
 * Ask the spawner to start argv[0] (looked up in PATH) with in, out and
 * err as its standard input, output and error. The descriptors are sent
 * and stay the caller's to close. fn(data, ...) is called from the loop
 * as the run goes. Returns 0 with *ret_id (for spawner_kill() and
 * spawner_forget()), or -errno when the request could not be sent (then
 * fn is never called).
 */
int spawner_run(struct spawner *sp, char *const argv[], int in, int out, int err,
		spawner_fn fn, void *data, uint64_t *ret_id);

/*
 * Start argv[0] (looked up in PATH) here and now with posix_spawnp, with
 * in, out and err as its standard streams, no other descriptor, no signal
 * blocked, in a process group of its own. What the spawner does for each
 * run, and what job.c does without a spawner. 0 with *ret_pid, or -errno.
 */
int spawner_exec(char *const argv[], int in, int out, int err, pid_t *ret_pid);

/* Kill run id's process group (a timeout); its end is still reported. */
void spawner_kill(struct spawner *sp, uint64_t id);

/* Kill run id's process group and forget the run: fn is not called again. */
void spawner_forget(struct spawner *sp, uint64_t id);

/* The spawner's pid (0 when there is none), and how many times one died
 * and another was started. */
pid_t spawner_pid(const struct spawner *sp);
uint64_t spawner_restarts(const struct spawner *sp);

#endif
