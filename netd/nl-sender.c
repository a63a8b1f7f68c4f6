/*
 * nl-sender.c: the netlink sender process (see nl.c's header comment):
 * forking it, what it runs, its reports on each batch, and starting
 * another when it dies.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "log.h"
#include "nl-internal.h"
#include "stats.h"
#include "subproc.h"

/* A batch was sent: its requests whose acks a loss may have taken are
 * completed as lost now. true if there were any (a dump is due). */
static bool batch_sent(struct nl *nl, const struct sender_reply *rep)
{
	bool any = false;

	for (uint32_t i = 0; i < rep->count; i++) {
		struct nl_req *r = nl->in_flight[(rep->first_seq + i) % NL_MAX_IN_FLIGHT];

		if (!r || r->seq != rep->first_seq + i)
			continue;
		r->sent = true;
		if (r->lost) {
			nl_req_complete(nl, r, -ENOBUFS, NULL);
			any = true;
		}
	}
	return any;
}

/* The sender's report on one batch: only a failed send needs action. */
static void sender_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("netlink sender");
	struct nl *nl = w->data;
	struct sender_reply rep;
	ssize_t n;

	for (;;) {
		n = recv(nl->sender_fd, &rep, sizeof(rep), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n != (ssize_t)sizeof(rep)) {
			/* The sender died (its pair end closes only at its
			 * exit, after the kernel finished any sendmsg it was
			 * in). What it held may or may not have been sent:
			 * a new sender, and a dump to settle them. */
			log_error("netlink: the sender process (pid %d) is gone; starting another",
				  (int)nl->sender_pid);
			ev_io_stop(loop, &nl->sender_io);
			close(nl->sender_fd);
			nl->sender_fd = -1;
			waitpid(nl->sender_pid, NULL, WNOHANG);
			nl->sender_pid = 0;
			nl->stats.sender_restarts++;
			nl_sender_start(nl, nl->hold_fd);
			for (unsigned s = 0; s < NL_MAX_IN_FLIGHT; s++)
				if (nl->in_flight[s])
					nl->in_flight[s]->sent = true; /* or never will be */
			nl_lose_in_flight(nl, "the sender died");
			return;
		}
		if (rep.error == 0) {
			if (batch_sent(nl, &rep) && nl->cb.events_lost)
				nl->cb.events_lost(nl->userdata);
			continue;
		}
		errno = -rep.error;
		log_warn("netlink: sending %u requests: %m", rep.count);
		for (uint32_t i = 0; i < rep.count; i++) {
			struct nl_req *r = nl->in_flight[(rep.first_seq + i) % NL_MAX_IN_FLIGHT];

			if (r && r->seq == rep.first_seq + i)
				nl_req_complete(nl, r, rep.error, NULL);
		}
	}
	/* No nl_flush() here: requests queued in this iteration may have
	 * intents not yet committed. The iteration's end commits, then
	 * flushes (the report woke the loop, so that comes next). */
}

/* The sender process: batches in, sendmsg, a report out. Never returns. */
static void sender_main(int pair_fd, int nl_fd)
{
	char buf[NL_BATCH_MSGS * NL_MSG_MAX];
	sigset_t all;

	/* Take no signals of netd's (libev blocks some). */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (;;) {
		ssize_t n = recv(pair_fd, buf, sizeof(buf), 0);
		struct sender_reply rep = { 0 };

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			_exit(0); /* netd closed its end */
		}
		rep.first_seq = ((struct nlmsghdr *)buf)->nlmsg_seq;
		for (const struct nlmsghdr *h = (void *)buf; mnl_nlmsg_ok(h, (int)(n - ((char *)h - buf)));
		     h = (const void *)((const char *)h + NLMSG_ALIGN(h->nlmsg_len)))
			rep.count++;
		if (send(nl_fd, buf, (size_t)n, 0) < 0)
			rep.error = -errno;
		if (send(pair_fd, &rep, sizeof(rep), MSG_NOSIGNAL) < 0)
			_exit(0);
	}
}

void nl_sender_start(struct nl *nl, int hold_fd)
{
	/* Only what the sender needs (and hold_fd), so that it holds no
	 * socket or client of netd's. */
	const int keep[] = { mnl_socket_get_fd(nl->req_sock), hold_fd > 2 ? hold_fd : -1 };
	int fd;
	pid_t pid = subproc_fork(keep, 2, SIGKILL, &fd);

	nl->sender_fd = -1;
	if (pid < 0) {
		log_warn_errno(NULL, pid, "netlink: cannot start the sender process; sending from the main loop");
		return;
	}
	if (pid == 0)
		sender_main(3, 4); /* hold_fd, if any, at 5 */
	nl->sender_fd = fd;
	nl->sender_pid = pid;
	fcntl(nl->sender_fd, F_SETFL, O_NONBLOCK);
	ev_io_init(&nl->sender_io, sender_read_cb, nl->sender_fd, EV_READ);
	nl->sender_io.data = nl;
	ev_io_start(nl->loop, &nl->sender_io);
}
