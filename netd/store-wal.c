/*
 * store-wal.c: the store's WAL checkpoint helper process (see store.h).
 *
 * The database's WAL is copied back into it by a helper process, off the
 * loop: done in a commit, the copy and its fsyncs would hold up every
 * reply of that iteration, and starting a process for each checkpoint
 * stalls the loop in posix_spawn (up to 40 ms seen under load). The helper
 * is forked before the database is opened (SQLite connections must not
 * cross a fork), keeps no descriptor but its socket, and for each byte it
 * reads runs a passive checkpoint on a connection of its own and answers
 * with one byte: 0 done, 1 failed.
 *
 * Unlike store.c this half runs inside the daemon's loop (watchers, a
 * child process), so it logs its two warnings itself, as the loop's other
 * modules do: nobody above it could do more with them than log.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"
#include "store.h"
#include "subproc.h"
#include "util.h"

/* WAL frames (pages) past which the helper is asked to checkpoint. */
#define STORE_WAL_FRAMES 1000
/* How often the WAL's size is looked at, in seconds. */
#define STORE_WAL_PERIOD 1.

struct store_wal {
	struct ev_loop *loop;
	struct store *store;       /* NULL until store_wal_helper_watch() */
	int fd;                    /* to the helper process, -1 once it is gone */
	pid_t pid;
	ev_io io;
	ev_timer timer;            /* looks at the WAL's size now and then */
	bool busy;                 /* a checkpoint asked for, not yet done */
	uint64_t checkpoints;
};

/* The helper process, its socket at 3: never returns. */
static void helper_main(const char *db_path)
{
	char cmd, res;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	while (read(3, &cmd, 1) == 1) {
		res = store_wal_checkpoint_file(db_path) == 0 ? 0 : 1;
		if (write(3, &res, 1) != 1)
			break;
	}
	_exit(0);
}

static void helper_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("WAL helper");
	struct store_wal *h = w->data;
	char res;
	ssize_t n = recv(h->fd, &res, 1, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	h->busy = false;
	if (n != 1) {
		log_warn("the WAL helper is gone; the WAL is checkpointed at stop only");
		ev_io_stop(loop, &h->io);
		close(h->fd);
		h->fd = -1;
		return;
	}
	if (res == 0)
		h->checkpoints++;
	else
		log_warn("WAL checkpoint failed, ignoring");
}

static void helper_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	STATS_CALLBACK("WAL timer");
	struct store_wal *h = w->data;
	char cmd = 'c';

	if (h->fd < 0 || h->busy || store_wal_frames(h->store) < STORE_WAL_FRAMES)
		return;
	if (send(h->fd, &cmd, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
		h->busy = true;
}

int store_wal_helper_start(struct ev_loop *loop, const char *db_path, struct store_wal **ret)
{
	struct store_wal *h;
	int fd;
	pid_t pid;

	assert(loop);
	assert(db_path);
	assert(ret);

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pid = subproc_fork(NULL, 0, SIGTERM, &fd);
	if (pid < 0) {
		free(h);
		return pid;
	}
	if (pid == 0)
		helper_main(db_path);
	h->loop = loop;
	h->fd = fd;
	h->pid = pid;
	ev_io_init(&h->io, helper_io_cb, h->fd, EV_READ);
	h->io.data = h;
	ev_io_start(loop, &h->io);
	ev_timer_init(&h->timer, helper_timer_cb, STORE_WAL_PERIOD, STORE_WAL_PERIOD);
	h->timer.data = h;
	*ret = h;
	return 0;
}

void store_wal_helper_watch(struct store_wal *h, struct store *s)
{
	assert(h);
	assert(s);

	h->store = s;
	ev_timer_start(h->loop, &h->timer);
}

void store_wal_helper_quiesce(struct store_wal *h)
{
	assert(h);

	ev_timer_stop(h->loop, &h->timer);
}

uint64_t store_wal_checkpoints(const struct store_wal *h)
{
	return h ? h->checkpoints : 0;
}

struct store_wal *store_wal_helper_stop(struct store_wal *h)
{
	if (!h)
		return NULL;
	ev_timer_stop(h->loop, &h->timer);
	if (h->fd >= 0) {
		ev_io_stop(h->loop, &h->io);
		close(h->fd); /* EOF: the helper ends after its checkpoint */
	}
	waitpid(h->pid, NULL, 0);
	free(h);
	return NULL;
}
