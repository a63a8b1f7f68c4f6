/*
 * job.c: see job.h.
 *
 * posix_spawnp rather than fork+exec: the daemon's address space is not
 * copied, and the file actions say exactly what the child inherits. Every
 * descriptor netd opens is close-on-exec; closefrom(3) in the file actions
 * makes sure of it anyway, so a helper never holds a client socket, the
 * database or the lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "job.h"
#include "stats.h"
#include "util.h"

extern char **environ;

struct job {
	struct ev_loop *loop;
	pid_t pid;
	char *name;
	ev_child child;
	ev_io in_w, out_w, err_w;
	ev_timer timer;
	int in_fd, out_fd, err_fd;
	struct frame input, out, err;
	bool exited, timed_out;
	int status;
	job_done_fn done;
	void *data;
	LIST_ENTRY(job) entry;
};

static LIST_HEAD(, job) running = LIST_HEAD_INITIALIZER(running);
static unsigned n_running;

unsigned job_running(void)
{
	return n_running;
}

static void close_watched(struct job *s, ev_io *w, int *fd)
{
	if (*fd < 0)
		return;
	ev_io_stop(s->loop, w);
	close(*fd);
	*fd = -1;
}

static void maybe_finish(struct job *s)
{
	int status;

	if (!s->exited || s->out_fd >= 0 || s->err_fd >= 0)
		return;
	close_watched(s, &s->in_w, &s->in_fd);
	ev_timer_stop(s->loop, &s->timer);
	LIST_REMOVE(s, entry);
	n_running--;

	if (s->timed_out)
		status = -ETIMEDOUT;
	else if (WIFEXITED(s->status))
		status = WEXITSTATUS(s->status);
	else
		status = -EINTR;
	/* NUL-terminate what was read, for the caller's convenience. */
	frame_append(&s->out, "", 1);
	frame_append(&s->err, "", 1);
	s->done(s->data, status, s->out.data ? s->out.data + s->out.start : "",
		frame_len(&s->out) ? frame_len(&s->out) - 1 : 0,
		s->err.data ? s->err.data + s->err.start : "",
		frame_len(&s->err) ? frame_len(&s->err) - 1 : 0);
	frame_done(&s->input);
	frame_done(&s->out);
	frame_done(&s->err);
	free(s->name);
	free(s);
}

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	STATS_CALLBACK("helper exit");
	struct job *s = w->data;

	ev_child_stop(loop, w);
	s->exited = true;
	s->status = w->rstatus;
	if (s->timed_out) {
		/* Killed: whatever still holds its pipes has nothing to say. */
		close_watched(s, &s->out_w, &s->out_fd);
		close_watched(s, &s->err_w, &s->err_fd);
	}
	maybe_finish(s);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	STATS_CALLBACK("helper timeout");
	struct job *s = w->data;

	log_warn("%s (pid %d): still running after its timeout, killing it", s->name, (int)s->pid);
	s->timed_out = true;
	/* The whole process group: a wrapper script's children would
	 * otherwise keep its output pipes open. */
	kill(-s->pid, SIGKILL);
}

static void in_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("helper input");
	struct job *s = w->data;

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

/* Read what the child printed; close at EOF. At most 16 reads per
 * callback, so a chatty child cannot hold the loop. */
static void read_into(struct job *s, ev_io *w, int *fd, struct frame *f)
{
	for (int i = 0; i < 16; i++) {
		char *p;
		ssize_t n;

		if (frame_reserve(f, 65536, &p) < 0)
			break;
		n = read(*fd, p, 65536);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break; /* EOF, or an error that ends the stream */
		frame_commit(f, (size_t)n);
		if (i == 15)
			return; /* more next time */
	}
	close_watched(s, w, fd);
	maybe_finish(s);
}

static void out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("helper output");
	struct job *s = w->data;

	read_into(s, w, &s->out_fd, &s->out);
}

static void err_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("helper output");
	struct job *s = w->data;

	read_into(s, w, &s->err_fd, &s->err);
}

int job_run(struct ev_loop *loop, char *const argv[], const char *input, size_t input_len,
	      unsigned timeout_ms, job_done_fn done, void *data)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	struct job *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* libev may block signals for its own handling; the helper must
	 * start with none blocked and default handlers. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&dfl);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	/* Its own process group, so a timeout kills all of it. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETPGROUP);
	r = posix_spawnp(&s->pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0) {
		r = -r;
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);

	s->loop = loop;
	s->name = strdup(argv[0]);
	s->in_fd = in[1];
	s->out_fd = out[0];
	s->err_fd = err[0];
	s->done = done;
	s->data = data;
	frame_init(&s->input);
	frame_init(&s->out);
	frame_init(&s->err);
	if (input_len && frame_append(&s->input, input, input_len) < 0) {
		/* The child runs with empty input; its status says so. */
		log_warn("%s: out of memory for its input", argv[0]);
	}
	fcntl(s->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(s->err_fd, F_SETFL, O_NONBLOCK);

	ev_child_init(&s->child, child_cb, s->pid, 0);
	ev_io_init(&s->in_w, in_cb, s->in_fd, EV_WRITE);
	ev_io_init(&s->out_w, out_cb, s->out_fd, EV_READ);
	ev_io_init(&s->err_w, err_cb, s->err_fd, EV_READ);
	ev_timer_init(&s->timer, timer_cb, timeout_ms / 1000.0, 0.);
	s->child.data = s->in_w.data = s->out_w.data = s->err_w.data = s->timer.data = s;
	ev_child_start(loop, &s->child);
	ev_io_start(loop, &s->in_w);
	ev_io_start(loop, &s->out_w);
	ev_io_start(loop, &s->err_w);
	ev_timer_start(loop, &s->timer);
	LIST_INSERT_HEAD(&running, s, entry);
	n_running++;
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

void job_kill_all(void)
{
	struct job *s;

	LIST_FOREACH(s, &running, entry)
		kill(-s->pid, SIGKILL);
}
