/*
 * ctl.c: the server and its connections (see ctl.h; the calls are
 * ctl-call.c's, see ctl-internal.h for the split).
 *
 * Life of a connection: accepted (credentials read once), its input read in
 * chunks and split into NUL-terminated messages, each handed to
 * ctl_conn_handle_message() in order. Output leaves the process in
 * ctl_server_flush(), once per loop iteration.
 *
 * A connection is never freed from inside a dispatch or reply: it is only
 * marked (drop, done) and closed by ctl_server_flush() or at the end of its
 * own read callback, so a handler can never pull the rug from under itself.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "budget.h"
#include "ctl-internal.h"
#include "log.h"
#include "safepath.h"
#include "stats.h"
#include "util.h"

/* Bytes read per callback, and calls handled per slice of one client's
 * input: together they bound the work one client causes in one callback,
 * so a flood from one peer neither starves the others nor makes a long
 * callback. Input left over waits in the backlog, served round-robin once
 * per loop iteration. */
#define CTL_READ_CHUNK (16u * 1024u)
#define CTL_SLICE_CALLS 16
/* Calls handled from the backlog per loop iteration, all clients together. */
#define CTL_BACKLOG_CALLS 128

void ctl_conn_mark_dirty(struct ctl_conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		TAILQ_INSERT_TAIL(&c->srv->dirty, c, dirty_link);
	}
}

/* Read from the socket only when nothing stands in the way: input still
 * buffered is handled first (backpressure on the flooding peer). */
static void conn_update_reading(struct ctl_conn *c)
{
	if (c->eof || c->drop || c->paused || c->backlog)
		ev_io_stop(c->srv->loop, &c->rio);
	else
		ev_io_start(c->srv->loop, &c->rio);
}

/* The backlog watchers run while there is input left over or a deferred
 * call. */
void ctl_backlog_update(struct ctl_server *srv)
{
	if (!TAILQ_EMPTY(&srv->backlog) || srv->ndeferred > 0)
		step_start(&srv->backlog_step);
	else
		step_stop(&srv->backlog_step);
}

void ctl_conn_set_backlog(struct ctl_conn *c, bool on)
{
	struct ctl_server *srv = c->srv;

	if (c->backlog == on)
		return;
	c->backlog = on;
	if (on)
		TAILQ_INSERT_TAIL(&srv->backlog, c, backlog_link);
	else
		TAILQ_REMOVE(&srv->backlog, c, backlog_link);
	ctl_backlog_update(srv);
	conn_update_reading(c);
}

/* Is c a privileged client whose input ends inside a call, the rest of
 * which its next write brings? A pipelined burst bigger than the socket's
 * buffer arrives so: the client waits for room, then for the CPU (ms on a
 * loaded machine), while netd has handled everything it read. The filter
 * batches keep gathering meanwhile (ctl_server_more_coming()), within
 * their bound. Unprivileged clients cannot bind, so their input does not
 * count: holding half a message must not delay root's batches. */
static void conn_update_partial(struct ctl_conn *c)
{
	bool on = c->privileged && !c->eof && !c->drop && !c->broken && !c->paused &&
		  frame_len(&c->in) > 0;

	if (on == c->partial)
		return;
	c->partial = on;
	if (on)
		c->srv->npartial++;
	else
		c->srv->npartial--;
}

void ctl_conn_set_eof(struct ctl_conn *c)
{
	c->eof = true;
	conn_update_partial(c);
	conn_update_reading(c);
	ctl_conn_mark_dirty(c);
}

void ctl_conn_drop(struct ctl_conn *c, const char *why)
{
	if (c->drop)
		return;
	log_warn("client %u (pid %d uid %d): %s, dropping connection",
		 c->id, (int)c->cred.pid, (int)c->cred.uid, why);
	stats.clients_dropped++;
	c->drop = true;
	conn_update_partial(c);
	ev_io_stop(c->srv->loop, &c->rio);
	ctl_conn_mark_dirty(c);
}

static void conn_free(struct ctl_conn *c)
{
	struct ctl_server *srv = c->srv;
	struct ctl_call *call;

	c->drop = true; /* so nothing below restarts a watcher */
	conn_update_partial(c);
	ev_io_stop(srv->loop, &c->rio);
	ev_io_stop(srv->loop, &c->wio);
	ev_timer_stop(srv->loop, &c->idle);
	close(c->fd);
	/* Detach first: a cancel callback may answer the call, which must not
	 * find its way back to this connection. */
	while ((call = TAILQ_FIRST(&c->calls))) {
		TAILQ_REMOVE(&c->calls, call, link);
		call->conn = NULL;
		if (call->deferred) {
			/* Not started: the client left before its turn. */
			TAILQ_REMOVE(&srv->deferred, call, defer_link);
			srv->ndeferred--;
			ctl_call_free(call);
		} else if (call->done) {
			ctl_call_free(call);
		} else if (call->cancel && !call->settling) {
			call->cancel(call, call->cancel_data);
		}
		/* A pending call without cancel is freed by its final reply. */
	}
	if (c->dirty)
		TAILQ_REMOVE(&srv->dirty, c, dirty_link);
	ctl_conn_set_backlog(c, false);
	TAILQ_REMOVE(&srv->conns, c, link);
	srv->nconns--;
	srv->input_total -= c->input_counted;
	frame_done(&c->in);
	frame_done(&c->out);
	for (size_t i = 0; i < c->n_out_fds; i++)
		close(c->out_fds[i]);
	free(c->out_fds);
	log_debug("client %u: closed", c->id);
	free(c);
	/* A slot is free again: accept if we had stopped for lack of fds. */
	if (srv->fd >= 0 && !srv->shutting_down)
		ev_io_start(srv->loop, &srv->accept_io);
}

/*
 * Handle up to budget buffered messages, fewer once the loop iteration's
 * time budget is spent (at least one). Stops early when too many calls
 * are pending (paused until some are answered). Leaves the connection on
 * the backlog list when the budget ran out, so the rest is handled in
 * later loop iterations, and returns how many messages were handled.
 */
static unsigned conn_process_input(struct ctl_conn *c, unsigned budget)
{
	unsigned done = 0;
	char *msg;
	size_t len;
	int r;

	while (!c->drop && !c->broken) {
		if (c->ncalls >= CTL_MAX_PENDING_CALLS) {
			c->paused = true;
			break;
		}
		/* At least one message per turn, so every client moves. */
		if (done == budget || (done > 0 && budget_spent())) {
			ctl_conn_set_backlog(c, true);
			ctl_conn_account_input(c);
			conn_update_partial(c);
			return done;
		}
		r = frame_next(&c->in, c->srv->limits.max_message_size, &msg, &len);
		if (r == 0)
			break;
		if (r < 0) {
			ctl_conn_drop(c, "message larger than max_message_size");
			break;
		}
		ctl_conn_handle_message(c, msg, len);
		done++;
	}
	ctl_conn_set_backlog(c, false);
	conn_update_reading(c);
	ctl_conn_account_input(c);
	conn_update_partial(c);
	return done;
}

/* After each poll: one slice of every backlogged client's input, in turn,
 * up to CTL_BACKLOG_CALLS in all, and only while the iteration's time
 * budget lasts. */
static void backlog_step_cb(struct step *s)
{
	struct ctl_server *srv = s->data;
	unsigned total = 0, n = 0, max;
	struct ctl_conn *c;

	total = ctl_deferred_dispatch(srv);
	/* Only those present now, each at most once. */
	TAILQ_FOREACH(c, &srv->backlog, backlog_link)
		n++;
	while (n-- > 0 && total < CTL_BACKLOG_CALLS && (total == 0 || !budget_spent()) &&
	       (c = TAILQ_FIRST(&srv->backlog))) {
		/* To the tail first: a client still behind after its slice
		 * waits for the others. */
		TAILQ_REMOVE(&srv->backlog, c, backlog_link);
		TAILQ_INSERT_TAIL(&srv->backlog, c, backlog_link);
		max = CTL_BACKLOG_CALLS - total;
		total += conn_process_input(c, max < CTL_SLICE_CALLS ? max : CTL_SLICE_CALLS);
	}
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("client read");
	struct ctl_conn *c = w->data;
	char *p;
	ssize_t n;

	if (frame_reserve(&c->in, CTL_READ_CHUNK, &p) < 0) {
		ctl_conn_drop(c, "out of memory reading");
		return;
	}
	n = read(c->fd, p, CTL_READ_CHUNK);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_debug("client %u: read: %m", c->id);
		c->drop = true; /* peer reset: nothing to say, nobody to say it to */
		ev_io_stop(loop, &c->rio);
		ctl_conn_mark_dirty(c);
		return;
	}
	if (n == 0) {
		/* Half-close: answer what was asked, then close. */
		if (frame_len(&c->in) > 0)
			log_debug("client %u: %zu bytes without a final NUL at EOF, ignored",
				  c->id, frame_len(&c->in));
		ctl_conn_set_eof(c);
		return;
	}
	frame_commit(&c->in, (size_t)n);
	ctl_conn_touch(c);
	/* Over its own cap or the budget: dropped before anything is parsed. */
	ctl_conn_account_input(c);
	if (c->drop)
		return;
	conn_process_input(c, CTL_SLICE_CALLS);
}

/* The kernel passes at most this many descriptors in one message. */
#define CTL_FDS_PER_SEND 253

/* Bytes sent to one connection per callback. A ListBindings reply of
 * 10,000 bindings (3.5 MB) sent in one go to a client that read as fast
 * was a 17.5 ms callback; the rest now goes when the socket is next
 * writable, which for a client that reads is the next iteration. */
#define CTL_WRITE_MAX (256u << 10)

/* send() of up to max bytes of the queued output, with the descriptors
 * waiting to go (SCM_RIGHTS) when there are any; those sent are closed
 * here. */
static ssize_t conn_send(struct ctl_conn *c, size_t max)
{
	size_t nfds = c->n_out_fds < CTL_FDS_PER_SEND ? c->n_out_fds : CTL_FDS_PER_SEND;
	union {
		char buf[CMSG_SPACE(sizeof(int) * CTL_FDS_PER_SEND)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { c->out.data + c->out.start,
			     frame_len(&c->out) < max ? frame_len(&c->out) : max };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (!nfds)
		return send(c->fd, iov.iov_base, iov.iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	memset(&control, 0, sizeof(control));
	mh.msg_control = control.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(cm), c->out_fds, sizeof(int) * nfds);
	n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return n;
	for (size_t i = 0; i < nfds; i++)
		close(c->out_fds[i]);
	c->n_out_fds -= nfds;
	memmove(c->out_fds, c->out_fds + nfds, c->n_out_fds * sizeof(int));
	return n;
}

void ctl_conn_write(struct ctl_conn *c)
{
	size_t sent = 0;

	while (frame_len(&c->out) > 0) {
		ssize_t n;

		if (sent >= CTL_WRITE_MAX) {
			ev_io_start(c->srv->loop, &c->wio); /* the rest next time */
			return;
		}
		n = conn_send(c, CTL_WRITE_MAX - sent);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_io_start(c->srv->loop, &c->wio);
				return;
			}
			log_debug("client %u: write: %m", c->id);
			c->drop = true;
			return;
		}
		frame_consume(&c->out, (size_t)n);
		sent += (size_t)n;
	}
	ev_io_stop(c->srv->loop, &c->wio);
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("client write");
	struct ctl_conn *c = w->data;

	ctl_conn_write(c);
	ctl_conn_mark_dirty(c); /* let flush decide whether to close */
}

void ctl_server_flush(struct ctl_server *srv)
{
	struct ctl_conn *c;

	assert(srv);

	/* Take them one at a time off the front: closing one may re-mark
	 * nothing else, but keep the loop obviously safe. */
	while ((c = TAILQ_FIRST(&srv->dirty))) {
		TAILQ_REMOVE(&srv->dirty, c, dirty_link);
		c->dirty = false;

		if (!c->drop)
			ctl_conn_write(c);
		if (c->drop || (c->eof && !c->paused && !c->backlog &&
				TAILQ_EMPTY(&c->calls) && frame_len(&c->out) == 0))
			conn_free(c);
	}
}

static void conn_new(struct ctl_server *srv, int fd)
{
	struct ctl_conn *c;
	socklen_t len;

	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	c->id = ++srv->next_id;
	frame_init(&c->in);
	frame_init(&c->out);
	TAILQ_INIT(&c->calls);

	len = sizeof(c->cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0) {
		log_warn("client: SO_PEERCRED: %m, refusing connection");
		close(fd);
		free(c);
		return;
	}
	len = sizeof(c->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, c->groups, &len) == 0)
		c->ngroups = (int)(len / sizeof(gid_t));
	else
		c->ngroups = 0; /* more than CTL_MAX_GROUPS (ERANGE): primary gid only */
	/* Who it is decides whether it may have a slot (see ctl-limits.c). */
	c->privileged = ctl_conn_privileged(srv, &c->cred, c->groups, c->ngroups);
	if (!ctl_limits_admit(srv, fd, &c->cred, c->privileged)) {
		free(c);
		return;
	}

	/* Now, while the pid is the peer's (it may exit and the pid be
	 * reused later): cheap procfs reads, for the audit only. */
	peerinfo_read(c->cred.pid, &c->peer);
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	/* Calls before the iteration's other work (see budget.h). */
	ev_set_priority(&c->rio, BUDGET_PRIO_CLIENTS);
	ev_set_priority(&c->wio, BUDGET_PRIO_CLIENTS);
	c->rio.data = c->wio.data = c;
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->nconns++;
	stats.clients_accepted++;
	ctl_conn_idle_init(c);
	conn_update_reading(c);
	log_debug("client %u: connected, pid %d uid %d gid %d", c->id,
		  (int)c->cred.pid, (int)c->cred.uid, (int)c->cred.gid);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("accept");
	struct ctl_server *srv = w->data;

	/* A bounded number per callback, so a connect storm cannot starve the
	 * clients already connected. */
	for (int i = 0; i < 64; i++) {
		int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: stop accepting until a client
				 * closes (conn_free restarts us). */
				log_warn("accept: %m, pausing until a client disconnects");
				ev_io_stop(loop, &srv->accept_io);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn("accept: %m, ignoring");
			}
			return;
		}
		conn_new(srv, fd);
	}
}

/* The socket's directory, created 0755 or accepted only when nobody but
 * root or us can rename or replace what is in it (see safepath.h): else a
 * local user could move the socket away and receive root's calls. */
static int socket_dir_prepare(const char *path)
{
	_cleanup_free_ char *dir = strdup(path), *error = NULL;
	char *p;
	int r;

	if (!dir)
		return -ENOMEM;
	if (dir[0] != '/') {
		log_error("socket path '%s' is not absolute", path);
		return -EINVAL;
	}
	p = strrchr(dir, '/');
	p[p == dir ? 1 : 0] = '\0';
	r = safepath_dir(dir, 0755, &error);
	if (r < 0)
		log_error("socket directory: %s", error ? error : strerror(-r));
	return r;
}

/* 1 if something accepts connections at addr, 0 if not (stale). */
static int socket_is_live(const struct sockaddr_un *addr)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
		return 1;
	/* EAGAIN: a listener whose backlog is full is very much alive. */
	if (errno == EAGAIN || errno == EINPROGRESS)
		return 1;
	if (errno == ECONNREFUSED || errno == ENOENT)
		return 0;
	return -errno;
}

/* Make path ready to bind: its directory created, a stale socket removed;
 * a live socket or anything that is not a socket is refused. Logs and
 * returns -errno on failure. */
static int socket_path_prepare(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;
	int r;

	r = socket_dir_prepare(path);
	if (r < 0)
		return r;
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("'%s' exists and is not a socket; not touching it", path);
		return -EEXIST;
	}
	r = socket_is_live(addr);
	if (r > 0) {
		log_error("'%s': another netd is already listening there", path);
		return -EADDRINUSE;
	}
	if (r < 0)
		return log_error_errno(NULL, r, "'%s': cannot tell whether the socket is in use",
				       path);
	log_info("'%s': removing stale socket", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return log_error_errno(NULL, -errno, "'%s': cannot remove stale socket", path);
	return 0;
}

/* Bind srv->fd to addr with the given mode, and listen. Logs and returns
 * -errno on failure. */
static int server_bind(struct ctl_server *srv, const struct sockaddr_un *addr, mode_t mode)
{
	struct stat st;
	mode_t old_umask;
	int r;

	/* The mode is set by bind() through the umask; chmod() afterwards
	 * would leave a window with the default permissions. */
	old_umask = umask(~mode & 0777);
	r = bind(srv->fd, (const struct sockaddr *)addr, sizeof(*addr));
	umask(old_umask);
	if (r < 0)
		return log_error_errno(NULL, -errno, "bind '%s'", srv->path);
	if (stat(srv->path, &st) == 0) {
		srv->dev = st.st_dev;
		srv->ino = st.st_ino;
	}
	if (listen(srv->fd, SOMAXCONN) < 0) {
		r = log_error_errno(NULL, -errno, "listen '%s'", srv->path);
		unlink(srv->path);
		return r;
	}
	return 0;
}

/* A server without its listening socket yet (fd -1). */
static struct ctl_server *server_alloc(struct ev_loop *loop, const struct ctl_limits *limits,
				       ctl_dispatch_fn dispatch, void *userdata)
{
	struct ctl_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->fd = -1;
	srv->loop = loop;
	srv->limits = *limits;
	srv->dispatch = dispatch;
	srv->userdata = userdata;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->dirty);
	TAILQ_INIT(&srv->backlog);
	TAILQ_INIT(&srv->deferred);
	TAILQ_INIT(&srv->settling);
	step_init(&srv->backlog_step, srv->loop, "client backlog", backlog_step_cb, srv);
	return srv;
}

static void server_accept_start(struct ctl_server *srv)
{
	ev_io_init(&srv->accept_io, accept_cb, srv->fd, EV_READ);
	srv->accept_io.data = srv;
	ev_io_start(srv->loop, &srv->accept_io);
}

int ctl_server_new(struct ev_loop *loop, const char *path, mode_t mode,
		   const struct ctl_limits *limits, ctl_dispatch_fn dispatch,
		   void *userdata, struct ctl_server **ret)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct ctl_server *srv;
	int r;

	assert(loop);
	assert(path);
	assert(limits);
	assert(dispatch);
	assert(ret);

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("socket path '%s' is longer than %zu bytes", path,
			  sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	r = socket_path_prepare(path, &addr);
	if (r < 0)
		return r;

	srv = server_alloc(loop, limits, dispatch, userdata);
	if (!srv)
		return -ENOMEM;
	srv->path = strdup(path);
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!srv->path || srv->fd < 0) {
		r = log_error_errno(NULL, srv->path ? -errno : -ENOMEM, "socket");
		goto fail;
	}
	r = server_bind(srv, &addr, mode);
	if (r < 0)
		goto fail;

	server_accept_start(srv);
	*ret = srv;
	return 0;
fail:
	if (srv->fd >= 0)
		close(srv->fd);
	free(srv->path);
	free(srv);
	return r;
}

int ctl_server_adopt(struct ev_loop *loop, int fd, const struct ctl_limits *limits,
		     ctl_dispatch_fn dispatch, void *userdata, struct ctl_server **ret)
{
	struct ctl_server *srv;
	int flags;

	assert(loop);
	assert(fd >= 0);
	assert(limits);
	assert(dispatch);
	assert(ret);

	/* accept_cb() drains until EAGAIN. */
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return log_error_errno(NULL, -errno, "passed socket");
	srv = server_alloc(loop, limits, dispatch, userdata);
	if (!srv)
		return -ENOMEM;
	/* No path: the socket file is its creator's, never unlinked here. */
	srv->fd = fd;
	server_accept_start(srv);
	*ret = srv;
	return 0;
}

/* Remove the socket file only if it is still the one we bound: after a
 * stale-socket takeover by another instance it may not be. */
static void server_unlink(struct ctl_server *srv)
{
	struct stat st;

	if (srv->path && stat(srv->path, &st) == 0 && st.st_dev == srv->dev &&
	    st.st_ino == srv->ino)
		unlink(srv->path);
}

void ctl_server_shutdown(struct ctl_server *srv)
{
	struct ctl_conn *c;

	assert(srv);

	if (srv->shutting_down)
		return;
	srv->shutting_down = true;
	ev_io_stop(srv->loop, &srv->accept_io);
	if (srv->fd >= 0) {
		close(srv->fd);
		srv->fd = -1;
	}
	server_unlink(srv);
	TAILQ_FOREACH(c, &srv->conns, link)
		ctl_conn_set_eof(c);
}

bool ctl_server_idle(const struct ctl_server *srv)
{
	const struct ctl_conn *c;

	assert(srv);

	/* Calls read before the stop and not yet handled (the backlog) are
	 * answered too, however many slices that takes. */
	if (srv->ndeferred > 0 || !TAILQ_EMPTY(&srv->settling) || !TAILQ_EMPTY(&srv->backlog))
		return false;
	TAILQ_FOREACH(c, &srv->conns, link)
		if (!TAILQ_EMPTY(&c->calls) || frame_len(&c->out) > 0)
			return false;
	return true;
}

bool ctl_server_more_coming(const struct ctl_server *srv)
{
	assert(srv);
	return !TAILQ_EMPTY(&srv->backlog) || srv->ndeferred > 0 || srv->npartial > 0;
}

void ctl_server_set_deferrable(struct ctl_server *srv, ctl_deferrable_fn fn)
{
	assert(srv);
	srv->deferrable = fn;
}

void ctl_server_set_immediate(struct ctl_server *srv, ctl_immediate_fn fn)
{
	assert(srv);
	srv->immediate = fn;
}

unsigned ctl_server_clients(const struct ctl_server *srv)
{
	assert(srv);
	return srv->nconns;
}

void ctl_server_set_limits(struct ctl_server *srv, const struct ctl_limits *limits)
{
	assert(srv);
	assert(limits);
	srv->limits = *limits;
}

void ctl_server_set_admin_group(struct ctl_server *srv, bool has_group, gid_t gid)
{
	assert(srv);
	srv->has_admin_group = has_group;
	srv->admin_gid = gid;
}

struct ctl_server *ctl_server_free(struct ctl_server *srv)
{
	struct ctl_conn *c;
	struct ctl_call *call;

	if (!srv)
		return NULL;
	/* Replies still held (the loop stopped before settling them) are
	 * not sent: their commit never happened. */
	while ((call = TAILQ_FIRST(&srv->settling))) {
		TAILQ_REMOVE(&srv->settling, call, settle_link);
		call->settling = false;
		call->done = true;
		if (!call->conn)
			ctl_call_free(call);
	}
	while ((c = TAILQ_FIRST(&srv->conns)))
		conn_free(c);
	ev_io_stop(srv->loop, &srv->accept_io);
	step_stop(&srv->backlog_step);
	if (srv->fd >= 0) {
		close(srv->fd);
		server_unlink(srv);
	}
	free(srv->path);
	free(srv);
	return NULL;
}
