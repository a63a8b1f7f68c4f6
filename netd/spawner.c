/*
 * spawner.c: the spawner process (see spawner.h): its half, which starts
 * and reaps the helper programs, and the loop's half, which sends it
 * requests, reads its reports and forks another when it dies.
 *
 * The two talk over a SOCK_SEQPACKET pair, one message per request or
 * report. A run request carries the three pipe ends as SCM_RIGHTS and the
 * argv strings, NUL-terminated one after another; every other message is
 * the fixed struct spawner_msg. The spawner reaps its children through a
 * signalfd for SIGCHLD, so a report of an exit always follows the report
 * of that child's start.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "spawner.h"
#include "stats.h"
#include "subproc.h"
#include "util.h"

extern char **environ;

/* The bytes of argv one request may carry, and how many arguments. */
#define SPAWNER_ARGV_BYTES 4096
#define SPAWNER_ARGS_MAX 64

enum { MSG_RUN = 1, MSG_KILL, MSG_STARTED, MSG_FAILED, MSG_EXITED };

struct spawner_msg {
	uint32_t type;
	int32_t value; /* STARTED: pid; FAILED: -errno; EXITED: wait status */
	uint64_t id;
};

/* One run the loop knows of. */
struct spawner_run {
	uint64_t id;
	pid_t pid;    /* 0 until its start is reported */
	unsigned gen; /* which spawner process holds it */
	spawner_fn fn;
	void *data;
	struct spawner_run *next;
};

struct spawner {
	struct ev_loop *loop;
	int fd; /* to the spawner process, -1 when there is none */
	pid_t pid;
	unsigned gen; /* counts the spawner processes forked */
	ev_io io;
	uint64_t next_id;
	uint64_t restarts;
	struct spawner_run *runs;
};

int spawner_exec(char *const argv[], int in, int out, int err, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, err, STDERR_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* The caller may block signals (libev does, the spawner blocks
	 * all): the helper starts with none blocked and default handlers. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&dfl);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	/* Its own process group, so a timeout kills all of it. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETPGROUP);
	r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return -r;
	*ret_pid = pid;
	return 0;
}

/* --- the spawner process --- */

/* Its children: run id and pid. */
struct kids {
	struct { uint64_t id; pid_t pid; } *v;
	size_t n, cap;
};

static void helper_report(int fd, uint32_t type, int32_t value, uint64_t id)
{
	struct spawner_msg m = { .type = type, .value = value, .id = id };

	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		_exit(0); /* netd is gone */
}

/* argv from NUL-terminated strings one after another: 0, or -EINVAL. */
static int helper_argv(char *p, size_t len, char *argv[SPAWNER_ARGS_MAX + 1])
{
	size_t n = 0;

	if (len == 0 || p[len - 1] != '\0')
		return -EINVAL;
	for (char *end = p + len; p < end; p += strlen(p) + 1) {
		if (n == SPAWNER_ARGS_MAX)
			return -EINVAL;
		argv[n++] = p;
	}
	argv[n] = NULL;
	return argv[0][0] ? 0 : -EINVAL;
}

/* Start a run: its pid reported, or why it could not start. */
static void helper_run(int fd, struct kids *k, uint64_t id, char *argv[], const int fds[3])
{
	pid_t pid;
	int r;

	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 8;
		void *v = realloc(k->v, cap * sizeof(*k->v));

		if (!v) {
			helper_report(fd, MSG_FAILED, -ENOMEM, id);
			return;
		}
		k->v = v;
		k->cap = cap;
	}
	r = spawner_exec(argv, fds[0], fds[1], fds[2], &pid);
	if (r < 0) {
		helper_report(fd, MSG_FAILED, r, id);
		return;
	}
	k->v[k->n].id = id;
	k->v[k->n].pid = pid;
	k->n++;
	helper_report(fd, MSG_STARTED, pid, id);
}

static void helper_kill(struct kids *k, uint64_t id)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->v[i].id == id)
			kill(-k->v[i].pid, SIGKILL);
}

/* One request from the loop. */
static void helper_request(int fd, struct kids *k)
{
	char buf[sizeof(struct spawner_msg) + SPAWNER_ARGV_BYTES];
	union { struct cmsghdr h; char b[CMSG_SPACE(3 * sizeof(int))]; } cm;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	int fds[3] = { -1, -1, -1 }, nfds = 0;
	char *argv[SPAWNER_ARGS_MAX + 1];
	struct spawner_msg m;
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0)
		_exit(0); /* netd closed its end, or is gone */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && nfds == 0) {
			nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			nfds = nfds > 3 ? 3 : nfds;
			memcpy(fds, CMSG_DATA(c), (size_t)nfds * sizeof(int));
		}
	if ((size_t)n >= sizeof(m)) {
		memcpy(&m, buf, sizeof(m));
		if (m.type == MSG_KILL)
			helper_kill(k, m.id);
		else if (m.type == MSG_RUN && nfds == 3 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) &&
			 helper_argv(buf + sizeof(m), (size_t)n - sizeof(m), argv) == 0)
			helper_run(fd, k, m.id, argv, fds);
		else if (m.type == MSG_RUN)
			helper_report(fd, MSG_FAILED, -EINVAL, m.id);
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Children that ended: reaped, each end reported once. */
static void helper_reap(int fd, int sfd, struct kids *k)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (size_t i = 0; i < k->n; i++) {
			if (k->v[i].pid != pid)
				continue;
			helper_report(fd, MSG_EXITED, status, k->v[i].id);
			k->v[i] = k->v[--k->n];
			break;
		}
}

/* The spawner process: never returns. */
static _Noreturn void helper_main(void)
{
	struct kids k = { 0 };
	sigset_t all, chld;
	int sfd;

	/* Take no signal of netd's (libev's handlers are still installed
	 * in this copy). */
	prctl(PR_SET_NAME, "netd-spawner");
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		_exit(1);
	for (;;) {
		struct pollfd p[2] = { { .fd = 3, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			_exit(1);
		if (p[1].revents)
			helper_reap(3, sfd, &k);
		if (p[0].revents)
			helper_request(3, &k);
	}
}

/* --- the loop's half --- */

static void spawner_read_cb(struct ev_loop *loop, ev_io *w, int revents);

/* Fork a spawner process and watch it: 0, or -errno. */
static int spawner_fork(struct spawner *sp)
{
	int fd;
	pid_t pid = subproc_fork(NULL, 0, SIGKILL, &fd);

	if (pid < 0)
		return pid;
	if (pid == 0)
		helper_main(); /* its socket at 3, nothing else of netd's */
	sp->fd = fd;
	sp->pid = pid;
	sp->gen++;
	fcntl(sp->fd, F_SETFL, O_NONBLOCK);
	ev_io_init(&sp->io, spawner_read_cb, sp->fd, EV_READ);
	sp->io.data = sp;
	ev_io_start(sp->loop, &sp->io);
	return 0;
}

/* The run id of the current spawner, unlinked if unlink; NULL if unknown. */
static struct spawner_run *spawner_find(struct spawner *sp, uint64_t id, bool unlink)
{
	for (struct spawner_run **pp = &sp->runs; *pp; pp = &(*pp)->next) {
		struct spawner_run *r = *pp;

		if (r->id != id)
			continue;
		if (unlink)
			*pp = r->next;
		return r;
	}
	return NULL;
}

/* Kill r's process group: through the spawner, which knows whether it
 * was reaped, or directly when the spawner cannot be asked. */
static void spawner_kill_run(struct spawner *sp, struct spawner_run *r)
{
	struct spawner_msg m = { .type = MSG_KILL, .id = r->id };

	if (r->gen == sp->gen && sp->fd >= 0 &&
	    send(sp->fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(m))
		return;
	if (r->pid > 0)
		kill(-r->pid, SIGKILL);
}

/* The spawner died: another one, and the runs the dead one held are
 * killed (when their pid is known) and reported lost. */
static void spawner_lost(struct spawner *sp)
{
	unsigned old = sp->gen;
	struct spawner_run *r;
	int k;

	log_error("the spawner process (pid %d) is gone; starting another", (int)sp->pid);
	ev_io_stop(sp->loop, &sp->io);
	close(sp->fd);
	sp->fd = -1;
	waitpid(sp->pid, NULL, WNOHANG); /* unless libev's SIGCHLD handler did */
	sp->pid = 0;
	sp->restarts++;
	k = spawner_fork(sp);
	if (k < 0)
		log_error_errno(NULL, k, "cannot start another spawner; helpers start from the loop");
	/* One at a time from the head: a callback may forget other runs. */
	for (;;) {
		for (r = sp->runs; r && r->gen != old; r = r->next)
			;
		if (!r)
			break;
		spawner_find(sp, r->id, true);
		if (r->pid > 0)
			kill(-r->pid, SIGKILL);
		r->fn(r->data, SPAWNER_LOST, -ECHILD);
		free(r);
	}
}

static void spawner_report(struct spawner *sp, const struct spawner_msg *m)
{
	struct spawner_run *r = spawner_find(sp, m->id, m->type != MSG_STARTED);

	if (!r)
		return; /* forgotten */
	if (m->type == MSG_STARTED) {
		r->pid = m->value;
		r->fn(r->data, SPAWNER_STARTED, m->value);
		return;
	}
	r->fn(r->data, m->type == MSG_EXITED ? SPAWNER_EXITED : SPAWNER_FAILED, m->value);
	free(r);
}

static void spawner_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("spawner");
	struct spawner *sp = w->data;

	/* At most 64 reports a callback; more in the next iteration. */
	for (int i = 0; i < 64; i++) {
		struct spawner_msg m;
		ssize_t n = recv(sp->fd, &m, sizeof(m), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n != (ssize_t)sizeof(m) || (m.type != MSG_STARTED && m.type != MSG_FAILED &&
						  m.type != MSG_EXITED)) {
			spawner_lost(sp);
			return;
		}
		spawner_report(sp, &m);
	}
}

int spawner_start(struct ev_loop *loop, struct spawner **ret)
{
	struct spawner *sp;
	int r;

	assert(loop);
	assert(ret);
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->loop = loop;
	sp->fd = -1;
	r = spawner_fork(sp);
	if (r < 0) {
		free(sp);
		return r;
	}
	*ret = sp;
	return 0;
}

struct spawner *spawner_stop(struct spawner *sp)
{
	if (!sp)
		return NULL;
	while (sp->runs) {
		struct spawner_run *r = sp->runs;

		spawner_kill_run(sp, r);
		sp->runs = r->next;
		free(r);
	}
	if (sp->fd >= 0) {
		ev_io_stop(sp->loop, &sp->io);
		close(sp->fd); /* EOF: it ends after the kills before it */
		waitpid(sp->pid, NULL, 0);
	}
	free(sp);
	return NULL;
}

int spawner_run(struct spawner *sp, char *const argv[], int in, int out, int err,
		spawner_fn fn, void *data, uint64_t *ret_id)
{
	char buf[sizeof(struct spawner_msg) + SPAWNER_ARGV_BYTES];
	union { struct cmsghdr h; char b[CMSG_SPACE(3 * sizeof(int))]; } cm;
	struct msghdr mh = { .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b) };
	struct spawner_msg m = { .type = MSG_RUN };
	struct spawner_run *r;
	struct iovec iov;
	size_t len = sizeof(m);

	assert(sp && argv && argv[0] && fn && ret_id);
	if (sp->fd < 0)
		return -ENOTCONN;
	for (size_t i = 0; argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (i == SPAWNER_ARGS_MAX || l > sizeof(buf) - len)
			return -E2BIG;
		memcpy(buf + len, argv[i], l);
		len += l;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	m.id = r->id = ++sp->next_id;
	memcpy(buf, &m, sizeof(m));
	iov = (struct iovec){ .iov_base = buf, .iov_len = len };
	mh.msg_iov = &iov;
	memset(cm.b, 0, sizeof(cm.b));
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(3 * sizeof(int));
	memcpy(CMSG_DATA(&cm.h), (int[3]){ in, out, err }, 3 * sizeof(int));
	if (sendmsg(sp->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len) {
		int e = errno ? errno : EIO;

		free(r);
		return -e;
	}
	r->gen = sp->gen;
	r->fn = fn;
	r->data = data;
	r->next = sp->runs;
	sp->runs = r;
	*ret_id = r->id;
	return 0;
}

void spawner_kill(struct spawner *sp, uint64_t id)
{
	struct spawner_run *r;

	assert(sp);
	r = spawner_find(sp, id, false);
	if (r)
		spawner_kill_run(sp, r);
}

void spawner_forget(struct spawner *sp, uint64_t id)
{
	struct spawner_run *r;

	assert(sp);
	r = spawner_find(sp, id, true);
	if (!r)
		return;
	spawner_kill_run(sp, r);
	free(r);
}

pid_t spawner_pid(const struct spawner *sp)
{
	return sp ? sp->pid : 0;
}

uint64_t spawner_restarts(const struct spawner *sp)
{
	return sp ? sp->restarts : 0;
}
