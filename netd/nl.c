/*
 * nl.c: see nl.h.
 *
 * rtnetlink requests are processed by the kernel inside the sender's
 * sendmsg(), one message after the other, and each gets an ack (NLMSG_ERROR
 * with error 0 or -errno) carrying its sequence number. So a batch is one
 * buffer of many messages, and the acks are matched back by sequence
 * number. The in-flight bound keeps the acks within the request socket's
 * receive buffer, where a lost ack would be a lost answer.
 *
 * Because the kernel does the work inside sendmsg(), a deletion there
 * waits for an RCU grace period (tens, under load hundreds, of
 * milliseconds). The loop must not wait on that, so sendmsg() happens in
 * a small sender process forked at start: it shares the request socket,
 * takes each batch over a SOCK_SEQPACKET pair, sends it, and says whether
 * the send itself failed. The acks still arrive on the shared socket,
 * read by the loop. No threads, no locks: a pipe-like handoff.
 *
 * A dump is built by the kernel inside the recvmsg() of its reader, so a
 * second process forked at start, the link dump process (nl-dumper.c),
 * reads and parses each dump on its own socket while the loop goes on;
 * the loop files the links it sends. Link events are left in their
 * socket while a dump runs and read after it, so that each changes the
 * picture the dump built, not the one it replaces.
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
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include "budget.h"
#include "log.h"
#include "nl.h"
#include "nl-parse.h"
#include "nl-internal.h"
#include "stats.h"
#include "util.h"

/* --- requests --- */

static struct nl_req *req_new(struct nl *nl, uint16_t type, uint16_t flags,
			      struct nlmsghdr **ret_nlh, struct ifinfomsg **ret_ifi)
{
	struct nl_req *r = calloc(1, sizeof(*r));
	struct nlmsghdr *nlh;

	if (!r)
		return NULL;
	nlh = mnl_nlmsg_put_header(r->msg);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	*ret_ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	(*ret_ifi)->ifi_family = AF_UNSPEC;
	*ret_nlh = nlh;
	return r;
}

static void req_enqueue(struct nl *nl, struct nl_req *r, struct nlmsghdr *nlh,
			nl_done_fn done, void *data)
{
	r->len = nlh->nlmsg_len;
	r->done = done;
	r->data = data;
	TAILQ_INSERT_TAIL(&nl->queue, r, link);
	nl->n_queued++;
}

int nl_queue_create(struct nl *nl, const char *name, const char *kind,
		    int parent_ifindex, uint32_t macvlan_mode, const uint8_t *mac,
		    bool up, nl_done_fn done, void *data)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nlattr *info, *idata;
	struct nl_req *r;

	assert(nl && name && kind);
	if (strlen(name) >= IFNAMSIZ || (!streq(kind, "macvtap") && !streq(kind, "macvlan")))
		return -EINVAL;
	r = req_new(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, &nlh, &ifi);
	if (!r)
		return -ENOMEM;
	if (up) {
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	}
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_LINK, (uint32_t)parent_ifindex);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, NL_MAC_LEN, mac);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	idata = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_MACVLAN_MODE, macvlan_mode);
	mnl_attr_nest_end(nlh, idata);
	mnl_attr_nest_end(nlh, info);
	req_enqueue(nl, r, nlh, done, data);
	return 0;
}

int nl_queue_set_link(struct nl *nl, int ifindex, const struct nl_link_change *c,
		      nl_done_fn done, void *data)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nl_req *r;

	assert(nl && c);
	if (ifindex <= 0 || !(c->set_up || c->set_mtu || c->set_mac))
		return -EINVAL;
	r = req_new(nl, RTM_NEWLINK, 0, &nlh, &ifi);
	if (!r)
		return -ENOMEM;
	ifi->ifi_index = ifindex;
	if (c->set_up) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = c->up ? IFF_UP : 0;
	}
	if (c->set_mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, NL_MAC_LEN, c->mac);
	if (c->set_mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, c->mtu);
	req_enqueue(nl, r, nlh, done, data);
	return 0;
}

int nl_queue_set_alias(struct nl *nl, int ifindex, const char *alias, nl_done_fn done,
		       void *data)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nl_req *r;

	assert(nl && alias);
	if (strlen(alias) >= NL_ALIAS_MAX || ifindex <= 0)
		return -EINVAL;
	r = req_new(nl, RTM_NEWLINK, 0, &nlh, &ifi);
	if (!r)
		return -ENOMEM;
	ifi->ifi_index = ifindex;
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	req_enqueue(nl, r, nlh, done, data);
	return 0;
}

int nl_queue_set_group(struct nl *nl, int ifindex, uint32_t group, nl_done_fn done,
		       void *data)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nl_req *r;

	assert(nl);
	r = req_new(nl, RTM_NEWLINK, 0, &nlh, &ifi);
	if (!r)
		return -ENOMEM;
	ifi->ifi_index = ifindex;
	mnl_attr_put_u32(nlh, IFLA_GROUP, group);
	req_enqueue(nl, r, nlh, done, data);
	return 0;
}

int nl_queue_delete_group(struct nl *nl, uint32_t group, nl_done_fn done, void *data)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nl_req *r;

	assert(nl);
	r = req_new(nl, RTM_DELLINK, 0, &nlh, &ifi);
	if (!r)
		return -ENOMEM;
	/* ifi_index 0 and no name: the kernel deletes by IFLA_GROUP. */
	mnl_attr_put_u32(nlh, IFLA_GROUP, group);
	req_enqueue(nl, r, nlh, done, data);
	return 0;
}

void nl_cancel(struct nl *nl, void *data)
{
	struct nl_req *r, *tmp;

	assert(nl);
	TAILQ_FOREACH_SAFE(r, &nl->queue, link, tmp)
		if (r->data == data) {
			TAILQ_REMOVE(&nl->queue, r, link);
			nl->n_queued--;
			free(r);
		}
	/* In flight: the kernel answers anyway, and the slot must stay
	 * taken until it has; only the callback goes. */
	for (unsigned s = 0; s < NL_MAX_IN_FLIGHT; s++)
		if (nl->in_flight[s] && nl->in_flight[s]->data == data)
			nl->in_flight[s]->done = NULL;
}

void nl_req_complete(struct nl *nl, struct nl_req *r, int error, const char *message)
{
	nl->in_flight[r->seq % NL_MAX_IN_FLIGHT] = NULL;
	nl->n_in_flight--;
	if (r->done)
		r->done(r->data, error, message, r->has_echo ? &r->echo : NULL);
	free(r);
}

/* The acks of everything in flight are lost (the request socket
 * overflowed, or the sender died holding batches): the kernel may or may
 * not have done each. Every request is completed with -ENOBUFS (outcome
 * unknown, once sent) and the owner is told to rebuild its picture from a fresh dump,
 * which settles them (a dump under way is not disturbed: the kernel holds
 * a dump's parts back while the socket is full rather than drop them; the
 * owner asks for another one after it). Late acks find no request and are
 * dropped. */
void nl_lose_in_flight(struct nl *nl, const char *why)
{
	log_error("netlink: %s: %u requests in flight have an unknown outcome; "
		  "settling them from a fresh dump", why, nl->n_in_flight);
	nl->stats.acks_lost++;
	/* One not yet sent is settled only after its send (see
	 * sender_read_cb): a dump started before it would not show it. */
	for (unsigned s = 0; s < NL_MAX_IN_FLIGHT; s++) {
		struct nl_req *r = nl->in_flight[s];

		if (r && r->sent)
			nl_req_complete(nl, r, -ENOBUFS, NULL);
		else if (r)
			r->lost = true;
	}
	if (nl->cb.events_lost)
		nl->cb.events_lost(nl->userdata);
}

/* Hand one batch to the sender (or send it here when there is none).
 * Returns 0, -EAGAIN (the handoff is full: try later) or -errno. */
static int send_batch(struct nl *nl, const char *buf, size_t len)
{
	if (nl->sender_fd >= 0) {
		if (send(nl->sender_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
		return 0;
	}
	return mnl_socket_sendto(nl->req_sock, buf, len) < 0 ? -errno : 0;
}

void nl_flush(struct nl *nl)
{
	char buf[NL_BATCH_MSGS * NL_MSG_MAX];

	assert(nl);
	while (!TAILQ_EMPTY(&nl->queue) && nl->n_in_flight < NL_MAX_IN_FLIGHT) {
		struct nl_req *batch[NL_BATCH_MSGS];
		unsigned room = NL_MAX_IN_FLIGHT - nl->n_in_flight;

		/* Full batches only, while acks are still coming: trickling
		 * out a few requests per ack would multiply the sendmsg
		 * calls for the same kernel work. */
		if (room < NL_BATCH_MSGS && room < nl->n_queued && nl->n_in_flight > 0)
			return;
		size_t len = 0;
		unsigned n = 0;
		uint32_t first = 0;
		int r;


		while (n < NL_BATCH_MSGS && nl->n_in_flight + n < NL_MAX_IN_FLIGHT &&
		       !TAILQ_EMPTY(&nl->queue)) {
			struct nl_req *q = TAILQ_FIRST(&nl->queue);
			struct nlmsghdr *nlh = (struct nlmsghdr *)q->msg;

			TAILQ_REMOVE(&nl->queue, q, link);
			nl->n_queued--;
			/* Consecutive sequence numbers within a batch, so the
			 * sender's report names the batch by its first. Slot
			 * reuse is safe: at most NL_MAX_IN_FLIGHT are out. */
			do
				q->seq = ++nl->seq;
			while (n == 0 && (q->seq == 0 || q->seq == nl->dump_seq ||
					  nl->seq + NL_BATCH_MSGS < nl->seq));
			if (n == 0)
				first = q->seq;
			nlh->nlmsg_seq = q->seq;
			memcpy(buf + len, q->msg, q->len);
			len += NLMSG_ALIGN(q->len);
			batch[n++] = q;
		}
		r = send_batch(nl, buf, len);
		if (r == -EAGAIN) {
			/* Back to the front, in order; the sender's next
			 * report wakes us to try again. */
			for (unsigned i = n; i-- > 0;) {
				TAILQ_INSERT_HEAD(&nl->queue, batch[i], link);
				nl->n_queued++;
			}
			nl->seq = first - 1;
			return;
		}
		for (unsigned i = 0; i < n; i++) {
			nl->in_flight[batch[i]->seq % NL_MAX_IN_FLIGHT] = batch[i];
			nl->n_in_flight++;
			batch[i]->sent = nl->sender_fd < 0; /* sent here, at once */
		}
		if (r < 0) {
			/* The kernel took none of them: each caller hears why. */
			errno = -r;
			log_warn("netlink: sending %u requests: %m", n);
			for (unsigned i = 0; i < n; i++)
				nl_req_complete(nl, batch[i], r, NULL);
			continue;
		}
		nl->stats.messages_sent += n;
		nl->stats.batches_sent++;
	}
}

static void handle_dump_msg(struct nl *nl, const struct nlmsghdr *nlh)
{
	struct nl_link l;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		nl->dump_intr = true;
	if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) {
		int err = 0;

		if (nlh->nlmsg_type == NLMSG_ERROR &&
		    nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr)))
			err = ((const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error;
		nl_dump_end(nl, err ? err : nl->dump_intr ? -EINTR : 0);
		return;
	}
	if (nlh->nlmsg_type == RTM_NEWLINK && nl_parse_link(nlh, &l) == 0 && nl->cb.dump_link)
		nl->cb.dump_link(nl->userdata, &l);
}

static void handle_req_msg(struct nl *nl, const struct nlmsghdr *nlh)
{
	struct nl_req *r;

	if (nl->dumping && nlh->nlmsg_seq == nl->dump_seq) {
		handle_dump_msg(nl, nlh);
		return;
	}
	r = nl->in_flight[nlh->nlmsg_seq % NL_MAX_IN_FLIGHT];
	if (!r || r->seq != nlh->nlmsg_seq)
		return; /* not ours, or already answered */

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
		const char *msg = NULL;

		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
			nl_req_complete(nl, r, -EPROTO, NULL);
			return;
		}
		/* With NETLINK_CAP_ACK the request is not echoed back, so
		 * the extended-ack attributes follow struct nlmsgerr. */
		if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
			mnl_attr_parse(nlh, sizeof(*e), nl_parse_extack, &msg);
		nl_req_complete(nl, r, e->error, msg);
	} else if (nlh->nlmsg_type == RTM_NEWLINK) {
		if (nl_parse_link(nlh, &r->echo) == 0)
			r->has_echo = true;
	}
}

static void dump_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("netlink dump");
	struct nl *nl = w->data;

	for (int i = 0; i < NL_RECVS_PER_CB; i++) {
		ssize_t n = mnl_socket_recvfrom(nl->dump_sock, nl->rbuf, NL_RECV_BUF);
		const struct nlmsghdr *nlh;
		int len;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* A dump lost a part: it is incomplete; say so. */
			if (nl->dumping)
				nl_dump_end(nl, -EINTR);
			return;
		}
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)nl->rbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			if (nl->dumping && nlh->nlmsg_seq == nl->dump_seq)
				handle_dump_msg(nl, nlh);
		if (budget_spent())
			return; /* the rest in the next iteration */
	}
}

static void req_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("netlink acks");
	struct nl *nl = w->data;

	for (int i = 0; i < NL_RECVS_PER_CB; i++) {
		ssize_t n = mnl_socket_recvfrom(nl->req_sock, nl->rbuf, NL_RECV_BUF);
		const struct nlmsghdr *nlh;
		int len;

		if (n < 0) {
			if (errno == EAGAIN && nl->congested) {
				/* Read empty: the congestion is over. An ack
				 * of what was in flight meanwhile that is not
				 * here was dropped without a word. */
				nl->congested = false;
				if (nl->n_in_flight > 0)
					nl_lose_in_flight(nl, "acks dropped during the overflow");
			}
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ENOBUFS) {
				nl->congested = true;
				nl_lose_in_flight(nl, "request socket overflowed");
				continue;
			}
			log_warn("netlink: recv: %m, ignoring");
			return;
		}
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)nl->rbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			handle_req_msg(nl, nlh);
		/* Each ack may write rows and answer a call: the rest waits
		 * for the next iteration (the socket stays readable). */
		if (budget_spent())
			return;
	}
}

static void ev_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("netlink events");
	struct nl *nl = w->data;

	for (int i = 0; i < NL_RECVS_PER_CB; i++) {
		ssize_t n = mnl_socket_recvfrom(nl->ev_sock, nl->rbuf, NL_RECV_BUF);
		const struct nlmsghdr *nlh;
		struct nl_link l;
		int len;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ENOBUFS) {
				/* Drain what is queued: it is older than the
				 * dump that will replace it. */
				while (mnl_socket_recvfrom(nl->ev_sock, nl->rbuf, NL_RECV_BUF) > 0)
					;
				log_info("netlink: link events lost (receive buffer %d bytes full), resynchronising",
					 nl->stats.event_rcvbuf);
				if (nl->cb.events_lost)
					nl->cb.events_lost(nl->userdata);
				return;
			}
			log_warn("netlink: event recv: %m, ignoring");
			return;
		}
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)nl->rbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
				continue;
			if (nl_parse_link(nlh, &l) < 0)
				continue;
			nl->stats.events++;
			if (nl->cb.link_event)
				nl->cb.link_event(nl->userdata, nlh->nlmsg_type == RTM_NEWLINK, &l);
		}
	}
}

void nl_dump_end(struct nl *nl, int error)
{
	nl->dumping = false;
	nl->dump_seq = 0;
	ev_io_start(nl->loop, &nl->ev_io_w);
	if (nl->cb.dump_done)
		nl->cb.dump_done(nl->userdata, error);
}

int nl_send_dump_request(struct mnl_socket *s, uint32_t seq)
{
	char buf[NL_MSG_MAX];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	return mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

static int dump_here(struct nl *nl)
{
	int r = nl_send_dump_request(nl->dump_sock, nl->dump_seq);

	if (r < 0) {
		errno = -r;
		log_warn("netlink: link dump: %m");
	}
	return r;
}

int nl_dump_links(struct nl *nl)
{
	int r;

	assert(nl);
	if (nl->dumping)
		return -EBUSY;
	do
		nl->dump_seq = ++nl->seq;
	while (nl->dump_seq == 0 || nl->in_flight[nl->dump_seq % NL_MAX_IN_FLIGHT]);
	if (nl_dumper_request(nl, nl->dump_seq) < 0 && (r = dump_here(nl)) < 0) {
		nl->dump_seq = 0;
		return r;
	}
	nl->dumping = true;
	nl->dump_intr = false;
	nl->stats.dumps++;
	/* Link events wait in their socket until the dump is in: read
	 * after it, each applies to the picture it built, whose devices it
	 * may change (one read before would change the picture the dump
	 * replaces, and be lost). */
	ev_io_stop(nl->loop, &nl->ev_io_w);
	return 0;
}

bool nl_idle(const struct nl *nl)
{
	return nl->n_queued == 0 && nl->n_in_flight == 0 && !nl->dumping;
}

void nl_get_stats(const struct nl *nl, struct nl_stats *ret)
{
	*ret = nl->stats;
	ret->in_flight = nl->n_in_flight;
	ret->queued = nl->n_queued;
}

static void set_rcvbuf(struct mnl_socket *s, int size, int *ret_actual);

void nl_set_request_rcvbuf(struct nl *nl, int size)
{
	int actual;

	assert(nl && size > 0);
	set_rcvbuf(nl->req_sock, size, &actual);
}

static void set_rcvbuf(struct mnl_socket *s, int size, int *ret_actual)
{
	socklen_t len = sizeof(*ret_actual);
	int fd = mnl_socket_get_fd(s);

	if (size > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		log_warn("netlink: cannot set a receive buffer of %d bytes: %m, ignoring", size);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, ret_actual, &len) < 0)
		*ret_actual = 0;
}

static struct mnl_socket *open_socket(unsigned groups)
{
	struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int on = 1;

	if (!s)
		return NULL;
	/* Short acks (no copy of the request) with the kernel's error text. */
	mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &on, sizeof(on));
	mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &on, sizeof(on));
	if (mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0) {
		int saved = errno;

		mnl_socket_close(s);
		errno = saved;
		return NULL;
	}
	return s;
}

int nl_new(struct ev_loop *loop, const struct nl_callbacks *cb, void *userdata,
	   int event_rcvbuf, int hold_fd, struct nl **ret)
{
	struct nl *nl = calloc(1, sizeof(*nl));
	int dummy, r;

	if (!nl)
		return -ENOMEM;
	nl->sender_fd = -1;
	nl->dumper_fd = -1;
	nl->hold_fd = hold_fd;
	nl->loop = loop;
	nl->cb = *cb;
	nl->userdata = userdata;
	TAILQ_INIT(&nl->queue);
	nl->seq = (uint32_t)time(NULL);
	nl->rbuf = malloc(NL_RECV_BUF);
	nl->req_sock = open_socket(0);
	if (!nl->rbuf || !nl->req_sock)
		goto fail;
	nl->ev_sock = open_socket(RTMGRP_LINK);
	nl->dump_sock = open_socket(0);
	if (!nl->ev_sock || !nl->dump_sock)
		goto fail;
	set_rcvbuf(nl->req_sock, NL_REQ_RCVBUF, &dummy);
	set_rcvbuf(nl->ev_sock, event_rcvbuf, &nl->stats.event_rcvbuf);

	ev_io_init(&nl->req_io, req_read_cb, mnl_socket_get_fd(nl->req_sock), EV_READ);
	ev_io_init(&nl->ev_io_w, ev_read_cb, mnl_socket_get_fd(nl->ev_sock), EV_READ);
	ev_io_init(&nl->dump_io, dump_read_cb, mnl_socket_get_fd(nl->dump_sock), EV_READ);
	nl->req_io.data = nl->ev_io_w.data = nl->dump_io.data = nl;
	ev_io_start(loop, &nl->dump_io);
	ev_io_start(loop, &nl->req_io);
	ev_io_start(loop, &nl->ev_io_w);
	nl_sender_start(nl, hold_fd);
	nl_dumper_start(nl);
	*ret = nl;
	return 0;
fail:
	r = errno ? -errno : -ENOMEM;
	log_error("netlink: cannot open rtnetlink sockets: %m");
	nl_free(nl);
	return r;
}

struct nl *nl_free(struct nl *nl)
{
	struct nl_req *r;

	if (!nl)
		return NULL;
	if (nl->sender_fd >= 0) {
		/* Closing our end ends the sender. */
		ev_io_stop(nl->loop, &nl->sender_io);
		close(nl->sender_fd);
		waitpid(nl->sender_pid, NULL, 0);
	}
	nl_dumper_stop(nl);
	if (nl->req_sock) {
		ev_io_stop(nl->loop, &nl->req_io);
		mnl_socket_close(nl->req_sock);
	}
	if (nl->ev_sock) {
		ev_io_stop(nl->loop, &nl->ev_io_w);
		mnl_socket_close(nl->ev_sock);
	}
	if (nl->dump_sock) {
		ev_io_stop(nl->loop, &nl->dump_io);
		mnl_socket_close(nl->dump_sock);
	}
	while ((r = TAILQ_FIRST(&nl->queue))) {
		TAILQ_REMOVE(&nl->queue, r, link);
		free(r);
	}
	for (unsigned s = 0; s < NL_MAX_IN_FLIGHT; s++)
		free(nl->in_flight[s]);
	free(nl->rbuf);
	free(nl);
	return NULL;
}

const struct nl_ops nl_rtnetlink_ops = {
	.queue_create = nl_queue_create,
	.queue_set_link = nl_queue_set_link,
	.queue_set_alias = nl_queue_set_alias,
	.queue_set_group = nl_queue_set_group,
	.queue_delete_group = nl_queue_delete_group,
	.cancel = nl_cancel,
	.flush = nl_flush,
	.dump_links = nl_dump_links,
	.idle = nl_idle,
	.get_stats = nl_get_stats,
	.free = nl_free,
};
