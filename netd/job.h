/*
 * job.h: run a helper program (ebtables-restore, iptables-save, ...)
 * without blocking the loop. A job is what its owner holds: the done
 * callback, the owner's data and the free function that releases it. How
 * the run happens is behind a small ops table: job_process_ops runs a real
 * child (only the three pipes it needs, its input written, its output read
 * and its exit collected by libev watchers, killed after its timeout);
 * unit tests supply ops of their own that answer like a helper would.
 */
#ifndef NETD_JOB_H
#define NETD_JOB_H

#include <ev.h>
#include <stddef.h>

struct job;

/* What a run's output is kept up to, by default: the rest is read and
 * thrown away. Standard error beyond its cap ends in "... (N bytes
 * more)"; standard output beyond its cap (see job_set_out_max()) makes
 * the run fail with -EFBIG, since cut output cannot be trusted. */
#define JOB_OUT_MAX ((size_t)64 << 10)
#define JOB_ERR_MAX ((size_t)64 << 10)

/* How a run ended: status is the exit code (0..255), or -ETIMEDOUT (killed
 * after the timeout), -EINTR (killed by a signal), -EFBIG (more standard
 * output than its cap), -ECHILD (the spawner process died meanwhile: the
 * run was killed, whatever it did is unknown), or -errno (could not be
 * started). out/err hold
 * what the child printed, NUL-terminated, within the caps above. */
typedef void (*job_done_fn)(void *data, int status, const char *out, size_t out_len,
			      const char *err, size_t err_len);

/* Releases the owner's data, once, after done returned or after
 * job_cancel(). NULL: nothing to release. */
typedef void (*job_free_fn)(void *data);

/* How a run is carried out. start() begins it and later, from the loop,
 * calls job_finished() exactly once; it may keep its own state with
 * job_set_impl(). cancel() ends a started run at once, never to call
 * job_finished(), and releases that state. */
struct job_ops {
	int (*start)(struct job *j, struct ev_loop *loop, char *const argv[], const char *input,
		     size_t input_len, unsigned timeout_ms);
	void (*cancel)(struct job *j);
};

/* The real thing: argv[0] (looked up in PATH) started by the spawner
 * process given to job_use_spawner(), or by posix_spawnp in the loop. */
extern const struct job_ops job_process_ops;

struct spawner;

/* Start job_process_ops' children through sp from now on (NULL: with
 * posix_spawnp in the loop). Runs already started keep their way. */
void job_use_spawner(struct spawner *sp);

/*
 * Start argv[0] with argv through ops (NULL: job_process_ops), feeding it
 * input (copied) on stdin. done is called exactly once, from the loop,
 * unless the job is cancelled first; then free_data(data); the struct job
 * is freed after that. Returns 0 with *ret_job (may be NULL if the caller
 * does not keep it), or -errno if nothing was started (neither done nor
 * free_data is called then: data is still the caller's). Through the
 * spawner, a program that cannot be started (-ENOENT, ...) is reported
 * later, as done's status.
 */
int job_run(struct ev_loop *loop, const struct job_ops *ops, char *const argv[],
	    const char *input, size_t input_len, unsigned timeout_ms, job_done_fn done,
	    job_free_fn free_data, void *data, struct job **ret_job);
/* job_run() with a malloc'd input that becomes the job's (freed in any
 * case, also when nothing was started): a real child is fed from it,
 * with no copy. A batch's restore input of 10,000 bindings is megabytes;
 * copying it into fresh memory was a 36 ms callback. */
int job_run_owned_input(struct ev_loop *loop, const struct job_ops *ops, char *const argv[],
			char *input, size_t input_len, unsigned timeout_ms, job_done_fn done,
			job_free_fn free_data, void *data, struct job **ret_job);

/*
 * Cancel a running job: its run is stopped (a child is killed with its
 * process group), done is NOT called, free_data(data) is, and j is freed.
 */
void job_cancel(struct job *j);

/* Keep up to max bytes of j's standard output (a save prints the whole
 * table); before its run ends. */
void job_set_out_max(struct job *j, size_t max);
size_t job_out_max(const struct job *j);
/* What j's standard output is expected to be, in bytes (at most its
 * max): room for that much is taken at the first read, so that a save of
 * megabytes is not copied again and again as it grows. Fresh pages cost
 * about 19 us each on this project's VMs, and the copy of a 2 MiB save
 * into its 4 MiB successor was one 16 ms callback. Too much costs only
 * address space: pages never written are never touched. */
void job_set_out_hint(struct job *j, size_t size);

/* For ops implementations: their per-run state, and the end of a run
 * (status and output as for job_done_fn; out and err must be
 * NUL-terminated). After job_finished() returns, j is gone. */
void job_set_impl(struct job *j, void *impl);
void *job_impl(const struct job *j);
const char *job_name(const struct job *j);
void job_finished(struct job *j, int status, const char *out, size_t out_len, const char *err,
		  size_t err_len);
/* The same for a run that read only up to the caps: *_dropped bytes more
 * were printed and thrown away. out_owner (may be NULL): where the run
 * keeps the malloc'd buffer that out starts; if the owner takes it
 * (job_take_out()), *out_owner is set to NULL. */
void job_finish_capped(struct job *j, int status, const char *out, size_t out_len,
		       size_t out_dropped, const char *err, size_t err_len, size_t err_dropped,
		       char **out_owner);

/* From within the done callback: the malloc'd, NUL-terminated buffer that
 * out points to, now the caller's, or NULL (then copy out). Saves its
 * copy: 10 MB took milliseconds in one callback. */
char *job_take_out(struct job *j);

#endif
