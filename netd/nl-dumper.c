/*
 * nl-dumper.c: the link dump process (see nl.c's header comment): forking
 * it, what it runs, reading what it sends, and starting another when it
 * dies.
 *
 * The kernel builds a dump inside the recvmsg() of whoever reads it, and
 * at 30,000 devices that was 42 % of a restart's time in netd's one
 * thread, plus 15 % parsing what it read. The dumper does both on the
 * other CPU while the loop loads the database; the loop only files the
 * parsed links (struct nl_link records, in batches over the pair). Each
 * dump is asked for with its sequence number and answered with records
 * carrying it, the last batch marked done with the dump's outcome.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "budget.h"
#include "log.h"
#include "nl-internal.h"
#include "nl-parse.h"
#include "stats.h"
#include "subproc.h"

/* Links per message to the loop: about 19 KiB. */
#define DUMPER_BATCH 128
/* The send buffer of the dumper's end: a start's whole dump (30,000
 * devices are 4.4 MB of records) waits in the pair while the loop loads
 * the database. With the default (208 KiB) the dumper stopped after
 * 1,300 links, and the kernel's dump with it, until the loop read them:
 * most of the work went back to being one after the other. At most
 * net.unix.max_dgram_qlen messages (512 by default: 65,000 links) queue
 * whatever the buffer. */
#define DUMPER_SNDBUF (32 << 20)

struct dumper_request {
	uint32_t seq;
};

struct dumper_batch {
	uint32_t seq;
	int32_t error;  /* with done: 0, -EINTR (dump again) or -errno */
	uint32_t count;
	uint32_t done;
	struct nl_link links[DUMPER_BATCH];
};

/* --- the dumper process --- */

static void batch_send(int pair_fd, struct dumper_batch *b)
{
	size_t len = offsetof(struct dumper_batch, links) + b->count * sizeof(b->links[0]);

	if (send(pair_fd, b, len, MSG_NOSIGNAL) < 0)
		_exit(0); /* netd is gone */
	b->count = 0;
}

/* One dump, read to its end, sent as batches. -EINTR if the kernel said
 * the list changed under it or a part was lost. */
static int dump_one(struct mnl_socket *s, uint32_t seq, int pair_fd, char *buf,
		    struct dumper_batch *b)
{
	const struct nlmsghdr *nlh;
	bool intr = false;
	int r = nl_send_dump_request(s, seq);

	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s, buf, NL_RECV_BUF);
		int len = (int)n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -EINTR; /* a lost part: the dump is incomplete */
		}
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != seq)
				continue; /* the rest of a dump given up on */
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				return nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ?
					       e->error : -EPROTO;
			}
			if (nlh->nlmsg_type == NLMSG_DONE)
				return intr ? -EINTR : 0;
			if (nlh->nlmsg_type == RTM_NEWLINK && nl_parse_link(nlh, &b->links[b->count]) == 0 &&
			    ++b->count == DUMPER_BATCH)
				batch_send(pair_fd, b);
		}
	}
}

/* Requests in, dumps out. Never returns. */
static void dumper_main(int pair_fd)
{
	static char buf[NL_RECV_BUF];
	static struct dumper_batch b;
	struct mnl_socket *s = mnl_socket_open(NETLINK_ROUTE);
	sigset_t all;

	/* Take no signals of netd's (libev blocks some). */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	prctl(PR_SET_NAME, "netd-linkdump");
	if (setsockopt(pair_fd, SOL_SOCKET, SO_SNDBUFFORCE, &(int){ DUMPER_SNDBUF }, sizeof(int)) < 0)
		setsockopt(pair_fd, SOL_SOCKET, SO_SNDBUF, &(int){ DUMPER_SNDBUF }, sizeof(int));
	if (s && mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(s);
		s = NULL;
	}
	for (;;) {
		struct dumper_request req;
		ssize_t n = recv(pair_fd, &req, sizeof(req), 0);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(req))
			_exit(0); /* netd closed its end */
		b.seq = req.seq;
		b.count = 0;
		r = s ? dump_one(s, req.seq, pair_fd, buf, &b) : -EPROTONOSUPPORT;
		b.error = r;
		b.done = 1;
		batch_send(pair_fd, &b);
		b.done = 0;
	}
}

/* --- the loop's side --- */

static void dumper_read_cb(struct ev_loop *loop, ev_io *w, int revents);

bool nl_dumper_start(struct nl *nl)
{
	int fd;
	pid_t pid = subproc_fork(NULL, 0, SIGKILL, &fd);

	nl->dumper_fd = -1;
	if (pid < 0) {
		log_warn_errno(NULL, pid, "netlink: cannot start the link dump process; dumping from the main loop");
		return false;
	}
	if (pid == 0)
		dumper_main(3);
	nl->dumper_fd = fd;
	nl->dumper_pid = pid;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ev_io_init(&nl->dumper_io, dumper_read_cb, fd, EV_READ);
	nl->dumper_io.data = nl;
	ev_io_start(nl->loop, &nl->dumper_io);
	return true;
}

void nl_dumper_stop(struct nl *nl)
{
	if (nl->dumper_fd < 0)
		return;
	/* It keeps nothing worth finishing: a dump is only read. */
	ev_io_stop(nl->loop, &nl->dumper_io);
	close(nl->dumper_fd);
	nl->dumper_fd = -1;
	kill(nl->dumper_pid, SIGKILL);
	waitpid(nl->dumper_pid, NULL, 0);
	nl->dumper_pid = 0;
}

/* The dumper died (its end closed, or it sent what it never sends):
 * another one. */
static void dumper_restart(struct nl *nl, const char *why)
{
	log_error("netlink: the link dump process (pid %d) is gone (%s); starting another",
		  (int)nl->dumper_pid, why);
	nl_dumper_stop(nl);
	nl->stats.dumper_restarts++;
	nl_dumper_start(nl);
}

int nl_dumper_request(struct nl *nl, uint32_t seq)
{
	struct dumper_request req = { .seq = seq };

	for (int tries = 0; nl->dumper_fd >= 0 && tries < 2; tries++) {
		if (send(nl->dumper_fd, &req, sizeof(req), MSG_DONTWAIT | MSG_NOSIGNAL) ==
		    (ssize_t)sizeof(req))
			return 0;
		dumper_restart(nl, strerror(errno));
	}
	return -ESRCH;
}

static void dumper_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("netlink dump");
	struct nl *nl = w->data;
	const struct dumper_batch *b = (const void *)nl->rbuf;
	const size_t head = offsetof(struct dumper_batch, links);

	static_assert(sizeof(struct dumper_batch) <= NL_RECV_BUF, "a batch fits the read buffer");
	for (int i = 0; i < NL_RECVS_PER_CB; i++) {
		ssize_t n = recv(nl->dumper_fd, nl->rbuf, NL_RECV_BUF, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < (ssize_t)head || b->count > DUMPER_BATCH ||
		    (size_t)n != head + b->count * sizeof(b->links[0])) {
			/* A dump under way is over, to be asked for again. */
			dumper_restart(nl, n < 0 ? strerror(errno) : n == 0 ? "closed" : "a short message");
			if (nl->dumping)
				nl_dump_end(nl, -EINTR);
			return;
		}
		if (!nl->dumping || b->seq != nl->dump_seq)
			continue; /* a dump given up on */
		for (uint32_t k = 0; k < b->count && nl->cb.dump_link; k++)
			nl->cb.dump_link(nl->userdata, &b->links[k]);
		if (b->done)
			nl_dump_end(nl, b->error);
		if (budget_spent())
			return; /* the rest in the next iteration */
	}
}
