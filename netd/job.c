/*
 * job.c: see job.h. The owner's struct job, and job_process_ops: a real
 * child process.
 *
 * The child is started by the spawner process (spawner.c) when there is
 * one: posix_spawn holds its caller until the child's exec, which took up
 * to 10 ms of the loop on a loaded machine. The spawner then reports the
 * child's exit instead of SIGCHLD. Without a spawner (unit tests, or none
 * could be forked) the loop runs posix_spawnp itself. Either way the file
 * actions say exactly what the child inherits: a helper never holds a
 * client socket, the database or the lock.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "job.h"
#include "spawner.h"
#include "stats.h"
#include "util.h"

/* Where children are started; NULL: by the loop (job_use_spawner()). */
static struct spawner *job_spawner;

/* What the owner holds; see job.h. */
struct job {
	const struct job_ops *ops;
	void *impl;
	char *name;
	job_done_fn done;
	job_free_fn free_data;
	void *data;
	size_t out_max, err_max;
	size_t out_hint; /* see job_set_out_hint() */
	char *out_buf;  /* the buffer out points into, while done runs: see job_take_out() */
	char *input_owned; /* job_run_owned_input()'s, until a run takes it */
};

/* A real child: job_process_ops' state. */
struct proc {
	struct job *job;
	struct ev_loop *loop;
	pid_t pid;      /* 0 while the spawner has not said */
	struct spawner *sp; /* that started it, which reports its end; NULL: the loop did */
	uint64_t spawn_id;
	bool spawned;   /* sp != NULL */
	ev_child child;
	ev_io in_w, out_w, err_w;
	ev_timer timer;
	int in_fd, out_fd, err_fd;
	struct frame input, out, err;
	size_t out_dropped, err_dropped; /* read past the caps and thrown away */
	bool exited, timed_out;
	int status;
	int error;      /* could not start, or the spawner died: -errno */
};

static void close_watched(struct proc *s, ev_io *w, int *fd)
{
	if (*fd < 0)
		return;
	ev_io_stop(s->loop, w);
	close(*fd);
	*fd = -1;
}

static void proc_free(struct proc *s)
{
	frame_done(&s->input);
	frame_done(&s->out);
	frame_done(&s->err);
	free(s);
}

static void maybe_finish(struct proc *s)
{
	int status;

	if (!s->exited || s->out_fd >= 0 || s->err_fd >= 0)
		return;
	close_watched(s, &s->in_w, &s->in_fd);
	ev_timer_stop(s->loop, &s->timer);

	if (s->timed_out)
		status = -ETIMEDOUT;
	else if (s->error < 0)
		status = s->error;
	else if (WIFEXITED(s->status))
		status = WEXITSTATUS(s->status);
	else
		status = -EINTR;
	/* NUL-terminate what was read, for the caller's convenience. */
	frame_append(&s->out, "", 1);
	frame_append(&s->err, "", 1);
	/* A save's 10 MB need not be copied: the owner may take them. */
	if (s->out.data && s->out.start == 0 && !s->out_dropped)
		s->job->out_buf = s->out.data;
	job_finish_capped(s->job, status, s->out.data ? s->out.data + s->out.start : "",
			  frame_len(&s->out) ? frame_len(&s->out) - 1 : 0, s->out_dropped,
			  s->err.data ? s->err.data + s->err.start : "",
			  frame_len(&s->err) ? frame_len(&s->err) - 1 : 0, s->err_dropped,
			  &s->out.data);
	proc_free(s);
}

/* The child ended with wait status status, or error (-errno: it could
 * not start, or nobody can tell any more). */
static void proc_exited(struct proc *s, int status, int error)
{
	s->exited = true;
	s->status = status;
	s->error = error;
	if (s->timed_out || error < 0) {
		/* Killed, or never ran: whatever still holds its pipes has
		 * nothing to say. */
		close_watched(s, &s->out_w, &s->out_fd);
		close_watched(s, &s->err_w, &s->err_fd);
	}
	maybe_finish(s);
}

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	STATS_CALLBACK("helper exit");
	struct proc *s = w->data;

	ev_child_stop(loop, w);
	proc_exited(s, w->rstatus, 0);
}

/* What the spawner says of the child. */
static void spawned_cb(void *data, enum spawner_event ev, int value)
{
	struct proc *s = data;

	switch (ev) {
	case SPAWNER_STARTED:
		s->pid = value;
		break;
	case SPAWNER_EXITED:
		proc_exited(s, value, 0);
		break;
	case SPAWNER_FAILED:
		log_warn("%s: cannot start: %s", job_name(s->job), strerror(-value));
		proc_exited(s, 0, value);
		break;
	case SPAWNER_LOST:
		log_warn("%s: the spawner died while it ran; its outcome is unknown",
			 job_name(s->job));
		proc_exited(s, 0, value);
		break;
	}
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	STATS_CALLBACK("helper timeout");
	struct proc *s = w->data;

	log_warn("%s (pid %d): still running after its timeout, killing it", job_name(s->job),
		 (int)s->pid);
	s->timed_out = true;
	/* The whole process group: a wrapper script's children would
	 * otherwise keep its output pipes open. */
	if (s->spawned && !s->exited)
		spawner_kill(s->sp, s->spawn_id);
	else if (s->pid > 0)
		kill(-s->pid, SIGKILL); /* the rest of its group holds the pipes */
	if (s->exited) {
		/* What holds the pipes may be out of the group's reach (a
		 * session of its own): nothing more is worth waiting for. */
		close_watched(s, &s->out_w, &s->out_fd);
		close_watched(s, &s->err_w, &s->err_fd);
		maybe_finish(s); /* s is freed */
	}
}

static void in_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("helper input");
	struct proc *s = w->data;

	while (frame_len(&s->input) > 0) {
		ssize_t n = write(s->in_fd, s->input.data + s->input.start, frame_len(&s->input));

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* EPIPE: it exited without reading everything; its
			 * exit status will tell. */
			break;
		}
		frame_consume(&s->input, (size_t)n);
	}
	close_watched(s, &s->in_w, &s->in_fd);
}

/* Reads per callback: 256 KiB at most (a save of 10,000 bindings is
 * megabytes, and each read fills fresh pages). */
#define READS_PER_CB 4

/* Read what the child printed; close at EOF. At most READS_PER_CB reads per
 * callback, so a chatty child cannot hold the loop. Past max bytes, what
 * it prints is read and thrown away (only counted in *dropped): a tool
 * writing 50 MB to stderr must not grow netd by as much. */
static void read_into(struct proc *s, ev_io *w, int *fd, struct frame *f, size_t max,
		      size_t hint, size_t *dropped)
{
	static char sink[65536];
	char *unused;

	/* Its expected size at once (job_set_out_hint()); without memory for
	 * that, it grows as it comes. */
	if (!f->data && hint > sizeof(sink))
		(void)frame_reserve(f, hint < max ? hint : max, &unused);

	for (int i = 0; i < READS_PER_CB; i++) {
		size_t room = frame_len(f) < max ? max - frame_len(f) : 0;
		char *p = sink;
		ssize_t n;

		if (room > sizeof(sink))
			room = sizeof(sink);
		if (room > 0 && frame_reserve(f, room, &p) < 0)
			break;
		n = read(*fd, p, room > 0 ? room : sizeof(sink));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break; /* EOF, or an error that ends the stream */
		if (room > 0)
			frame_commit(f, (size_t)n);
		else
			*dropped += (size_t)n;
		if (i == READS_PER_CB - 1)
			return; /* more next time */
	}
	close_watched(s, w, fd);
	maybe_finish(s);
}

static void out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("helper output");
	struct proc *s = w->data;

	read_into(s, w, &s->out_fd, &s->out, s->job->out_max, s->job->out_hint, &s->out_dropped);
}

static void err_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("helper output");
	struct proc *s = w->data;

	read_into(s, w, &s->err_fd, &s->err, s->job->err_max, 0, &s->err_dropped);
}

/* Watch the started child s with the loop. */
static void proc_watch(struct proc *s, unsigned timeout_ms)
{
	fcntl(s->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
	if (!s->spawned) {
		ev_child_init(&s->child, child_cb, s->pid, 0);
		s->child.data = s;
		ev_child_start(s->loop, &s->child);
	}
	ev_io_init(&s->in_w, in_cb, s->in_fd, EV_WRITE);
	ev_io_init(&s->out_w, out_cb, s->out_fd, EV_READ);
	ev_io_init(&s->err_w, err_cb, s->err_fd, EV_READ);
	/* The timeout counts from now, not from the loop's last look at the
	 * clock, which may be a whole callback earlier. */
	ev_now_update(s->loop);
	ev_timer_init(&s->timer, timer_cb, timeout_ms / 1000.0, 0.);
	s->in_w.data = s->out_w.data = s->err_w.data = s->timer.data = s;
	ev_io_start(s->loop, &s->in_w);
	ev_io_start(s->loop, &s->out_w);
	ev_io_start(s->loop, &s->err_w);
	ev_timer_start(s->loop, &s->timer);
}

static int proc_start(struct job *j, struct ev_loop *loop, char *const argv[], const char *input,
		      size_t input_len, unsigned timeout_ms)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	struct proc *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	r = -ENOTCONN;
	if (job_spawner)
		r = spawner_run(job_spawner, argv, in[0], out[1], err[1], spawned_cb, s,
				&s->spawn_id);
	s->spawned = r == 0;
	s->sp = s->spawned ? job_spawner : NULL;
	if (!s->spawned) {
		r = spawner_exec(argv, in[0], out[1], err[1], &s->pid);
		if (r < 0)
			goto fail;
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);

	s->job = j;
	s->loop = loop;
	s->in_fd = in[1];
	s->out_fd = out[0];
	s->err_fd = err[0];
	frame_init(&s->input);
	frame_init(&s->out);
	frame_init(&s->err);
	if (input_len && input == j->input_owned) {
		j->input_owned = NULL;
		frame_append_owned(&s->input, (char *)input, input_len); /* cannot fail: empty */
	} else if (input_len && frame_append(&s->input, input, input_len) < 0) {
		/* The child runs with empty input; its status says so. */
		log_warn("%s: out of memory for its input", argv[0]);
	}
	proc_watch(s, timeout_ms);
	job_set_impl(j, s);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	free(s);
	return r;
}

/* Kill the child's whole process group and forget it. Its exit is reaped
 * by libev's SIGCHLD handler (which waits for any child), so no zombie
 * stays behind while the loop runs. */
static void proc_cancel(struct job *j)
{
	struct proc *s = job_impl(j);

	if (s->exited) {
		/* nothing left to kill */
	} else if (s->spawned) {
		spawner_forget(s->sp, s->spawn_id);
	} else {
		kill(-s->pid, SIGKILL);
		ev_child_stop(s->loop, &s->child);
	}
	close_watched(s, &s->in_w, &s->in_fd);
	close_watched(s, &s->out_w, &s->out_fd);
	close_watched(s, &s->err_w, &s->err_fd);
	ev_timer_stop(s->loop, &s->timer);
	proc_free(s);
}

const struct job_ops job_process_ops = {
	.start = proc_start,
	.cancel = proc_cancel,
};

void job_use_spawner(struct spawner *sp)
{
	job_spawner = sp;
}

/* --- the owner's side --- */

static void job_free(struct job *j)
{
	if (j->free_data)
		j->free_data(j->data);
	free(j->input_owned);
	free(j->name);
	free(j);
}

static int job_start(struct ev_loop *loop, const struct job_ops *ops, char *const argv[],
		     const char *input, char *input_owned, size_t input_len, unsigned timeout_ms,
		     job_done_fn done, job_free_fn free_data, void *data, struct job **ret_job)
{
	struct job *j;
	int r;

	assert(loop);
	assert(argv && argv[0]);
	assert(done);
	if (!ops)
		ops = &job_process_ops;
	j = calloc(1, sizeof(*j));
	if (!j) {
		free(input_owned);
		return -ENOMEM;
	}
	j->name = strdup(argv[0]);
	if (!j->name) {
		free(input_owned);
		free(j);
		return -ENOMEM;
	}
	j->ops = ops;
	j->out_max = JOB_OUT_MAX;
	j->err_max = JOB_ERR_MAX;
	j->done = done;
	j->data = data;
	j->input_owned = input_owned;
	r = ops->start(j, loop, argv, input, input_len, timeout_ms);
	if (r < 0) {
		free(j->input_owned);
		free(j->name);
		free(j);
		return r;
	}
	/* Only now: a failed start leaves the data with the caller. */
	j->free_data = free_data;
	if (ret_job)
		*ret_job = j;
	return 0;
}

int job_run(struct ev_loop *loop, const struct job_ops *ops, char *const argv[],
	    const char *input, size_t input_len, unsigned timeout_ms, job_done_fn done,
	    job_free_fn free_data, void *data, struct job **ret_job)
{
	return job_start(loop, ops, argv, input, NULL, input_len, timeout_ms, done, free_data,
			 data, ret_job);
}

int job_run_owned_input(struct ev_loop *loop, const struct job_ops *ops, char *const argv[],
			char *input, size_t input_len, unsigned timeout_ms, job_done_fn done,
			job_free_fn free_data, void *data, struct job **ret_job)
{
	return job_start(loop, ops, argv, input, input, input_len, timeout_ms, done, free_data,
			 data, ret_job);
}

void job_cancel(struct job *j)
{
	assert(j);
	j->ops->cancel(j);
	job_free(j);
}

void job_set_impl(struct job *j, void *impl)
{
	j->impl = impl;
}

void *job_impl(const struct job *j)
{
	return j->impl;
}

const char *job_name(const struct job *j)
{
	return j->name;
}

void job_set_out_max(struct job *j, size_t max)
{
	assert(j);
	j->out_max = max;
}

void job_set_out_hint(struct job *j, size_t size)
{
	assert(j);
	j->out_hint = size;
}

size_t job_out_max(const struct job *j)
{
	assert(j);
	return j->out_max;
}

char *job_take_out(struct job *j)
{
	char *p;

	assert(j);
	p = j->out_buf;
	j->out_buf = NULL;
	return p;
}

void job_finish_capped(struct job *j, int status, const char *out, size_t out_len,
		       size_t out_dropped, const char *err, size_t err_len, size_t err_dropped,
		       char **out_owner)
{
	_cleanup_free_ char *msg = NULL;
	bool offered;

	assert(j);
	if (out_len > j->out_max) {
		out_dropped += out_len - j->out_max;
		out_len = j->out_max;
	}
	if (err_len > j->err_max) {
		err_dropped += err_len - j->err_max;
		err_len = j->err_max;
	}
	if (err_dropped > 0 || out_dropped > 0) {
		/* Its stderr as kept, then what was not. */
		char tail[96];
		int n = snprintf(tail, sizeof(tail), "%s... (%zu bytes more)%s",
				 err_len && err[err_len - 1] != '\n' ? "\n" : "", err_dropped,
				 out_dropped ? "; its output was cut" : "");

		msg = malloc(err_len + (size_t)n + 1);
		if (msg) {
			memcpy(msg, err, err_len);
			memcpy(msg + err_len, tail, (size_t)n + 1);
			err = msg;
			err_len += (size_t)n;
		}
	}
	if (out_dropped > 0) {
		/* Cut output is no output the owner can trust (a save that
		 * lacks its end would look like chains are missing). */
		log_warn("%s: printed more than %zu bytes, ignoring its output", j->name, j->out_max);
		if (status == 0)
			status = -EFBIG;
	}
	offered = j->out_buf != NULL && out_owner != NULL;
	j->done(j->data, status, out, out_len, err, err_len);
	/* Taken by the owner: the run's state must not free it. */
	if (offered && !j->out_buf)
		*out_owner = NULL;
	j->out_buf = NULL;
	job_free(j);
}

void job_finished(struct job *j, int status, const char *out, size_t out_len, const char *err,
		  size_t err_len)
{
	job_finish_capped(j, status, out, out_len, 0, err, err_len, 0, NULL);
}
