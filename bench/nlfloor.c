/*
 * nlfloor.c: the kernel work netd does for links, with the least code, and
 * the way it was done before netd; bench/run times both against netd.
 *
 * Each mode works in the current network namespace and prints one JSON
 * line counting what its timed part asked of the kernel:
 *   {"mode":..,"n":..,"ms":..,"messages":..,"sendmsgs":..,"ioctls":..,"errors":..}
 *
 * create PARENT KIND PREFIX START N	the floor for creating links
 *	All N RTM_NEWLINK requests go into one libmnl batch and, socket
 *	buffers permitting, one sendmsg. rtnetlink does the work inside that
 *	call, one message after the other, and queues a short ack for each:
 *	one system call in and N acks out is as little as the kernel allows.
 *	Each link is created up (IFF_UP in the same request), as netd's are.
 * createtag PARENT KIND PREFIX START N ALIAS	what netd must ask for a create
 *	The same batch of creations, then, once all are acked, one batch
 *	that sets each link's alias to ALIAS (by name): the kernel takes no
 *	IFLA_IFALIAS in a creation, and netd tags every link it makes with
 *	its owner ("netd:OWNER") so that links outlive a lost database.
 * listen				a reader of link events
 *	Joins RTNLGRP_LINK with a 16 MiB receive buffer (netd's default
 *	event_rcvbuf), prints {"listening":true} and reads every event until
 *	killed, parsing nothing: netd must listen, and a reader makes the
 *	kernel's own link work slower (bench/run times the floors with and
 *	without one).
 * oldcreate PARENT KIND PREFIX N	the old way (libvirt around 2015)
 *	Per link: probe PREFIX0, PREFIX1, ... with SIOCGIFFLAGS until a name
 *	is free (ENODEV), create it, wait for the ack. Probing from 0 each
 *	time makes it quadratic: N(N+1)/2 ioctls from an unused prefix.
 * groupdel PREFIX GROUP		the floor for deleting links
 *	After an untimed dump, one batch puts every PREFIX<digits> link in
 *	GROUP and ends with one RTM_DELLINK of the group, so the kernel
 *	unregisters them together and waits for RCU once, not once a link.
 * olddelete PREFIX			the old way
 *	After the same dump, one RTM_DELLINK per link, each ack awaited.
 * count PREFIX
 *	Prints {"count":N}: how many PREFIX<digits> links exist.
 *
 * Request i carries sequence number base + i, so each ack maps back to
 * its link. The kernel queues every ack of a sendmsg before the call
 * returns and drops those that do not fit the receive buffer, so a batch
 * is split only where the acks already queued plus the next chunk's would
 * not fit, or where the kernel refuses the size of a send.
 *
 * Exit: 0; 1 if a request failed (after the JSON) or a system call did;
 * 2 on a usage error.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* Room per request; the largest (a creation) takes 88 bytes. */
#define MSG_RESERVE 128
/* What one queued ack costs the receive buffer (its skb's truesize), with
 * a margin: 832 bytes on Linux 6.18 with NETLINK_CAP_ACK. */
#define ACK_COST 1024
#define SOCK_BUF_MIN (8 << 20)
#define SOCK_BUF_MAX (1 << 30)
/* A dump skb holds at most 32 KiB; an ack much less. */
#define RBUF_SIZE 32768

struct floor {
	struct mnl_socket *nl;
	struct mnl_nlmsg_batch *batch;	/* requests built, not yet sent */
	unsigned batched;
	uint32_t base, nreq;		/* request i has sequence base + i */
	char (*names)[IFNAMSIZ];	/* request i concerns names[i] */
	unsigned pending;		/* sent, ack not yet read */
	unsigned ack_room;		/* acks the receive buffer surely holds */
	unsigned long messages, sendmsgs, ioctls, errors;
	int first_err;
	uint32_t first_idx;
	char rbuf[RBUF_SIZE];
};

struct links {
	const char *prefix;
	unsigned n, cap;
	struct link {
		int ifindex;
		char name[IFNAMSIZ];
	} *v;
};

static void die(const char *what)
{
	fprintf(stderr, "nlfloor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fputs("usage: nlfloor create PARENT macvtap|macvlan PREFIX START N\n"
	      "       nlfloor createtag PARENT macvtap|macvlan PREFIX START N ALIAS\n"
	      "       nlfloor listen\n"
	      "       nlfloor oldcreate PARENT macvtap|macvlan PREFIX N\n"
	      "       nlfloor groupdel PREFIX GROUP\n"
	      "       nlfloor olddelete PREFIX\n"
	      "       nlfloor count PREFIX\n", stderr);
	exit(2);
}

static uint32_t parse_u32(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || strchr(s, '-') || v > UINT32_MAX)
		usage();
	return (uint32_t)v;
}

static double now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime");
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* True if name is prefix followed by one or more digits and nothing else. */
static bool name_matches(const char *name, const char *prefix)
{
	size_t len = strlen(prefix);

	if (strncmp(name, prefix, len) != 0 || !name[len])
		return false;
	return strspn(name + len, "0123456789") == strlen(name + len);
}

/* --- the request socket --- */

/* FORCE goes past net.core.[rw]mem_max (we are root); the plain option
 * is the fallback, capped by them. Returns the size the kernel took. */
static int set_buf(int fd, int force, int plain, size_t want)
{
	int size = want > SOCK_BUF_MAX ? SOCK_BUF_MAX : (int)want, got;
	socklen_t len = sizeof(got);

	if (size < SOCK_BUF_MIN)
		size = SOCK_BUF_MIN;
	if (setsockopt(fd, SOL_SOCKET, force, &size, sizeof(size)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, plain, &size, sizeof(size)) < 0)
		die("setsockopt");
	if (getsockopt(fd, SOL_SOCKET, plain, &got, &len) < 0)
		die("getsockopt");
	return got;
}

/* Open the request socket; the dump, if any, uses it first. */
static void floor_open(struct floor *f)
{
	int on = 1;

	f->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!f->nl || mnl_socket_bind(f->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("netlink socket");
	/* Acks without a copy of the request: smaller, so more fit. */
	if (mnl_socket_setsockopt(f->nl, NETLINK_CAP_ACK, &on, sizeof(on)) < 0)
		die("NETLINK_CAP_ACK");
	f->base = 1;
}

/* Make room for nreq requests, up to per_batch of them in one batch: the
 * socket buffers are sized so that the whole batch and its acks fit. The
 * libmnl batch notices overflow only once a message has gone past its
 * limit, hence one message of slack; zeroed, as libmnl 1.0.4 leaves
 * attribute padding as it finds it. */
static void floor_size(struct floor *f, uint32_t nreq, unsigned per_batch)
{
	size_t limit = (size_t)per_batch * MSG_RESERVE;
	int fd = mnl_socket_get_fd(f->nl), rcv;
	void *buf = calloc(1, limit + MSG_RESERVE);

	set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, limit + (64 << 10));
	rcv = set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, (size_t)per_batch * ACK_COST);
	f->ack_room = rcv > ACK_COST ? (unsigned)(rcv / ACK_COST) : 1;
	f->names = calloc(nreq ? nreq : 1, IFNAMSIZ);
	if (!buf || !f->names || !(f->batch = mnl_nlmsg_batch_start(buf, limit)))
		die("malloc");
}

/* Account one answer; anything but an ack to one of ours is ignored. */
static void floor_ack(struct floor *f, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	uint32_t i = nlh->nlmsg_seq - f->base;

	if (nlh->nlmsg_type != NLMSG_ERROR || i >= f->nreq || f->pending == 0 ||
	    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return;
	f->pending--;
	if (e->error != 0 && f->errors++ == 0) {
		f->first_err = -e->error;
		f->first_idx = i;
	}
}

/* Read acks until no more than 'left' requests await theirs. ENOBUFS
 * means acks were dropped and outcomes are unknown: that is fatal. */
static void floor_drain(struct floor *f, unsigned left)
{
	while (f->pending > left) {
		ssize_t n = mnl_socket_recvfrom(f->nl, f->rbuf, sizeof(f->rbuf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)f->rbuf;
		int len = (int)n;

		if (n < 0 && errno != EINTR)
			die("netlink recv");
		for (; n > 0 && mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			floor_ack(f, nlh);
	}
}

/* Bytes taken by the first k messages at buf. */
static size_t span(const char *buf, size_t len, unsigned k)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int left = (int)len;

	while (k-- > 0 && mnl_nlmsg_ok(nlh, left))
		nlh = mnl_nlmsg_next(nlh, &left);
	return len - (size_t)left;
}

/* Send the batch in as few sends as the kernel takes, reading acks in
 * between only where the next chunk's would not fit; then read them all. */
static void floor_run(struct floor *f)
{
	const char *buf = mnl_nlmsg_batch_head(f->batch);
	size_t len = mnl_nlmsg_batch_size(f->batch);
	unsigned count = f->batched, chunk = count;

	while (count > 0) {
		unsigned k = chunk < count ? chunk : count;
		size_t bytes;

		if (k > f->ack_room)
			k = f->ack_room;
		bytes = span(buf, len, k);
		if (f->pending + k > f->ack_room)
			floor_drain(f, f->ack_room - k);
		f->sendmsgs++;
		if (mnl_socket_sendto(f->nl, buf, bytes) < 0) {
			if (errno == EINTR)
				continue;
			if ((errno != EMSGSIZE && errno != ENOBUFS && errno != ENOMEM) || k == 1)
				die("netlink send");
			/* More than the kernel takes at once: halve. */
			fprintf(stderr, "nlfloor: sending %zu bytes: %s; splitting\n",
				bytes, strerror(errno));
			chunk = k / 2;
			continue;
		}
		f->pending += k;
		f->messages += k;
		buf += bytes;
		len -= bytes;
		count -= k;
	}
	floor_drain(f, 0);
	mnl_nlmsg_batch_reset(f->batch);
	f->batched = 0;
}

/* Print the JSON line, then the first failure, and free everything;
 * returns the exit code. */
static int floor_finish(struct floor *f, const char *mode, unsigned n, double ms)
{
	int r = f->errors ? 1 : 0;

	printf("{\"mode\":\"%s\",\"n\":%u,\"ms\":%.2f,\"messages\":%lu,\"sendmsgs\":%lu,"
	       "\"ioctls\":%lu,\"errors\":%lu}\n", mode, n, ms, f->messages,
	       f->sendmsgs, f->ioctls, f->errors);
	if (fflush(stdout) == EOF)
		die("stdout");
	if (f->errors)
		fprintf(stderr, "nlfloor: %s: %s (%lu of %u requests failed)\n",
			f->names[f->first_idx], strerror(f->first_err), f->errors, f->nreq);
	free(mnl_nlmsg_batch_head(f->batch));
	mnl_nlmsg_batch_stop(f->batch);
	mnl_socket_close(f->nl);
	free(f->names);
	return r;
}

/* --- requests --- */

/* Start the next request in the batch; name is what an error report
 * calls it. floor_next() adds it to the batch once complete. */
static struct nlmsghdr *put_req(struct floor *f, uint16_t type, uint16_t flags,
				int ifindex, const char *name)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(f->batch));
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = f->base + f->nreq;
	snprintf(f->names[f->nreq++], IFNAMSIZ, "%s", name);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

/* Close the request just built. The batch has room for all of them, so
 * running out of it is a bug. */
static void floor_next(struct floor *f)
{
	if (!mnl_nlmsg_batch_next(f->batch)) {
		errno = EOVERFLOW;
		die("batch");
	}
	f->batched++;
}

static void put_create(struct floor *f, const char *name, const char *kind, int parent)
{
	struct nlmsghdr *nlh = put_req(f, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, name);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct nlattr *info, *data;

	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_LINK, (uint32_t)parent);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	floor_next(f);
}

/* With RTM_NEWLINK, move link ifindex into group; with RTM_DELLINK and
 * ifindex 0 (and no name), delete every link in the group. */
static void put_group(struct floor *f, uint16_t type, int ifindex, uint32_t group,
		      const char *name)
{
	mnl_attr_put_u32(put_req(f, type, 0, ifindex, name), IFLA_GROUP, group);
	floor_next(f);
}

/* Set the alias of the link called name (found by its name). */
static void put_alias(struct floor *f, const char *name, const char *alias)
{
	struct nlmsghdr *nlh = put_req(f, RTM_NEWLINK, 0, 0, name);

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	floor_next(f);
}

/* --- the dump, never timed --- */

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct links *l = data;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		if (mnl_attr_get_type(a) != IFLA_IFNAME ||
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0 ||
		    !name_matches(mnl_attr_get_str(a), l->prefix))
			continue;
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 256;
			l->v = realloc(l->v, l->cap * sizeof(*l->v));
			if (!l->v)
				die("realloc");
		}
		l->v[l->n].ifindex = ifi->ifi_index;
		snprintf(l->v[l->n++].name, IFNAMSIZ, "%s", mnl_attr_get_str(a));
	}
	return MNL_CB_OK;
}

/* Open the socket and collect the PREFIX<digits> links. A link change
 * during the dump makes the kernel mark it interrupted (EINTR): fatal,
 * since nothing should change links in a benchmark's namespace. */
static void dump_links(struct floor *f, const char *prefix, struct links *ret)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(f->rbuf);
	int r = MNL_CB_OK;
	ssize_t n;

	floor_open(f);
	*ret = (struct links){ .prefix = prefix };
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	if (mnl_socket_sendto(f->nl, nlh, nlh->nlmsg_len) < 0)
		die("link dump");
	while (r > MNL_CB_STOP) {
		n = mnl_socket_recvfrom(f->nl, f->rbuf, sizeof(f->rbuf));
		if (n < 0 || (r = mnl_cb_run(f->rbuf, (size_t)n, 0,
					     mnl_socket_get_portid(f->nl), dump_cb, ret)) < 0)
			die("link dump");
	}
}

/* --- modes --- */

static int parent_index(const char *parent, const char *kind)
{
	int ifindex;

	if (strcmp(kind, "macvtap") != 0 && strcmp(kind, "macvlan") != 0)
		usage();
	ifindex = (int)if_nametoindex(parent);
	if (ifindex == 0)
		die(parent);
	return ifindex;
}

/* create, and with alias (not NULL) createtag. */
static int cmd_create(char **argv, const char *alias)
{
	const char *kind = argv[1], *prefix = argv[2];
	uint32_t start = parse_u32(argv[3]), n = parse_u32(argv[4]);
	int parent = parent_index(argv[0], kind);
	struct floor f = { 0 };
	char name[IFNAMSIZ];
	double t0;

	if (n > 0 && (uint64_t)start + n - 1 > UINT32_MAX)
		usage();
	if (snprintf(name, sizeof(name), "%s%u", prefix, start + (n ? n - 1 : 0)) >= IFNAMSIZ)
		usage();
	if (alias && (!*alias || strlen(alias) > 64))
		usage();
	floor_open(&f);
	floor_size(&f, alias ? 2 * n : n, n);

	t0 = now_ms();
	for (uint32_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%u", prefix, start + i);
		put_create(&f, name, kind, parent);
	}
	floor_run(&f);
	/* Only once every creation is acked: a tag sent by name before its
	 * link exists would fail, or tag another's link of that name. */
	if (alias && f.errors == 0) {
		for (uint32_t i = 0; i < n; i++)
			put_alias(&f, f.names[i], alias);
		floor_run(&f);
	}
	return floor_finish(&f, alias ? "createtag" : "create", n, now_ms() - t0);
}

/* Read link events until killed. */
static int cmd_listen(void)
{
	struct floor f = { 0 };
	int fd;

	f.nl = mnl_socket_open(NETLINK_ROUTE);
	if (!f.nl || mnl_socket_bind(f.nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0)
		die("netlink socket");
	fd = mnl_socket_get_fd(f.nl);
	set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, 16 << 20);
	printf("{\"listening\":true}\n");
	if (fflush(stdout) == EOF)
		die("stdout");
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(f.nl, f.rbuf, sizeof(f.rbuf));

		/* ENOBUFS: events dropped; a reader goes on reading. */
		if (n < 0 && errno != EINTR && errno != ENOBUFS)
			die("netlink recv");
	}
	return 0;
}

/* libvirt's search for a free name: from 0 up, an ioctl per name. */
static void probe_name(struct floor *f, int fd, const char *prefix, char *ret_name)
{
	struct ifreq ifr;

	for (unsigned i = 0;; i++) {
		memset(&ifr, 0, sizeof(ifr));
		if (snprintf(ifr.ifr_name, IFNAMSIZ, "%s%u", prefix, i) >= IFNAMSIZ) {
			errno = ENAMETOOLONG;
			die(prefix);
		}
		f->ioctls++;
		if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
			continue;
		if (errno != ENODEV)
			die(ifr.ifr_name);
		memcpy(ret_name, ifr.ifr_name, IFNAMSIZ);
		return;
	}
}

static int cmd_oldcreate(char **argv)
{
	const char *kind = argv[1], *prefix = argv[2];
	uint32_t n = parse_u32(argv[3]);
	int parent = parent_index(argv[0], kind), fd;
	struct floor f = { 0 };
	char name[IFNAMSIZ];
	double t0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	floor_open(&f);
	floor_size(&f, n, 1);

	t0 = now_ms();
	for (uint32_t i = 0; i < n; i++) {
		probe_name(&f, fd, prefix, name);
		put_create(&f, name, kind, parent);
		floor_run(&f);
	}
	t0 = now_ms() - t0;

	close(fd);
	return floor_finish(&f, "oldcreate", n, t0);
}

static int cmd_groupdel(char **argv)
{
	uint32_t group = parse_u32(argv[1]);
	struct floor f = { 0 };
	struct links l;
	double t0;

	/* Group 0 is every link's default; the kernel refuses to delete it. */
	if (group == 0)
		usage();
	dump_links(&f, argv[0], &l);
	floor_size(&f, l.n + 1, l.n + 1);

	t0 = now_ms();
	for (unsigned i = 0; i < l.n; i++)
		put_group(&f, RTM_NEWLINK, l.v[i].ifindex, group, l.v[i].name);
	/* Behind the moves in the same batch, the deletion sees them all. */
	if (l.n > 0)
		put_group(&f, RTM_DELLINK, 0, group, "group");
	floor_run(&f);
	t0 = now_ms() - t0;

	free(l.v);
	return floor_finish(&f, "groupdel", l.n, t0);
}

static int cmd_olddelete(char **argv)
{
	struct floor f = { 0 };
	struct links l;
	double t0;

	dump_links(&f, argv[0], &l);
	floor_size(&f, l.n, 1);

	t0 = now_ms();
	for (unsigned i = 0; i < l.n; i++) {
		put_req(&f, RTM_DELLINK, 0, l.v[i].ifindex, l.v[i].name);
		floor_next(&f);
		floor_run(&f);
	}
	t0 = now_ms() - t0;

	free(l.v);
	return floor_finish(&f, "olddelete", l.n, t0);
}

static int cmd_count(char **argv)
{
	struct floor f = { 0 };
	struct links l;

	dump_links(&f, argv[0], &l);
	printf("{\"count\":%u}\n", l.n);
	if (fflush(stdout) == EOF)
		die("stdout");
	mnl_socket_close(f.nl);
	free(l.v);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (argc == 7 && strcmp(cmd, "create") == 0)
		return cmd_create(argv + 2, NULL);
	if (argc == 8 && strcmp(cmd, "createtag") == 0)
		return cmd_create(argv + 2, argv[7]);
	if (argc == 2 && strcmp(cmd, "listen") == 0)
		return cmd_listen();
	if (argc == 6 && strcmp(cmd, "oldcreate") == 0)
		return cmd_oldcreate(argv + 2);
	if (argc == 4 && strcmp(cmd, "groupdel") == 0)
		return cmd_groupdel(argv + 2);
	if (argc == 3 && strcmp(cmd, "olddelete") == 0)
		return cmd_olddelete(argv + 2);
	if (argc == 3 && strcmp(cmd, "count") == 0)
		return cmd_count(argv + 2);
	usage();
}
