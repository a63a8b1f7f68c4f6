/*
 * test_client.c: libnetd-client against a real netd (run by
 * tests/integration/client.sh, which starts netd in a namespace).
 *
 *   test_client timeout SOCKET PARENT  a blocking call times out on a
 *       slow CreateLinks; the next calls get their own replies (raw and
 *       typed), and so does an async call after an async timeout
 *   test_client partial SOCKET PID     a message larger than the socket
 *       takes at once (netd, PID, stopped meanwhile) is queued whole and
 *       continued; replies in order
 *   test_client broken SOCKET          netd drops the connection: every
 *       call in flight and every later call gets -ECONNRESET
 *   test_client typed SOCKET PARENT BRIDGEPORT  the typed calls, blocking
 *       and async, success and error results
 *   test_client tapfd SOCKET PARENT PEER  CreateLinks with fds: each
 *       link's own tap device arrives (TUNGETIFF names the link), also
 *       for calls in flight together; a frame written to one leaves
 *       through PARENT and is seen on PEER (AF_PACKET)
 *   test_client errors NAME...         netd_strerror() knows each name
 *
 * Exit 0 when every check holds, 1 otherwise (the failed check printed).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/client.h"

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                    \
		}                                                                   \
	} while (0)

static struct netd_client *connect_or_die(const char *path)
{
	struct netd_client *c = NULL;
	int r = netd_client_connect(path, &c);

	if (r < 0) {
		fprintf(stderr, "connect %s: %s\n", path, strerror(-r));
		exit(1);
	}
	return c;
}

/* Run the loop as a caller's event loop would, until *done or 10 s. */
static void loop_until(struct netd_client *c, const int *done, int want)
{
	for (int i = 0; i < 10000 && *done < want; i++) {
		struct pollfd pfd = { .fd = netd_client_fd(c), .events = netd_client_events(c) };
		int t = netd_client_timeout(c);

		if (!pfd.events)
			break;
		poll(&pfd, 1, t < 0 || t > 10 ? 10 : t);
		if (netd_client_process(c) < 0)
			break;
	}
}

static json_t *create_params(const char *parent, const char *owner, int count)
{
	return json_pack("{s:s, s:s, s:s, s:i}", "parent", parent, "kind", "macvtap",
			 "owner", owner, "count", count);
}

/* What an async callback saw. */
struct seen {
	int calls, r;
	char error[128]; /* "" when none */
	bool has_vendor;
};

static void seen_cb(struct netd_client *c, int r, struct netd_reply *reply, void *userdata)
{
	struct seen *s = userdata;

	(void)c;
	s->calls++;
	s->r = r;
	if (reply) {
		snprintf(s->error, sizeof(s->error), "%s", reply->error ? reply->error : "");
		s->has_vendor = json_object_get(reply->parameters, "vendor") != NULL;
	}
}

static void count_cb(struct netd_client *c, int r, struct netd_reply *reply, void *userdata)
{
	(void)c, (void)r, (void)reply;
	++*(int *)userdata;
}

static int test_timeout(const char *sock, const char *parent)
{
	struct netd_client *c = connect_or_die(sock);
	struct seen late = { 0 }, info = { 0 };
	struct netd_links_result lr;
	struct netd_reply rep;
	int r, done = 0;

	/* Blocking: 64 links take far longer than 1 ms. */
	r = netd_client_call(c, "io.netd.CreateLinks", create_params(parent, "slow1", 64), 1, &rep);
	CHECK(r == -ETIMEDOUT);
	r = netd_client_call(c, "org.varlink.service.GetInfo", NULL, 10000, &rep);
	CHECK(r == 0);
	CHECK(!rep.error);
	CHECK(json_object_get(rep.parameters, "vendor"));
	CHECK(!json_object_get(rep.parameters, "links"));
	netd_reply_done(&rep);
	r = netd_client_call(c, "io.netd.ListLinks", json_pack("{s:s}", "owner", "slow1"), 10000, &rep);
	CHECK(r == 0 && !rep.error);
	CHECK(json_array_size(json_object_get(rep.parameters, "links")) == 64);
	netd_reply_done(&rep);

	/* Typed: the timed-out CreateLinks, then a DeleteLinks of them. */
	r = netd_create_links(c, &(struct netd_link_request){ .parent = parent, .kind = "macvtap",
							      .owner = "slow2", .count = 64 },
			      1, &lr);
	CHECK(r == -ETIMEDOUT && lr.n_links == 0 && !lr.error.name);
	netd_links_result_done(&lr);
	{
		struct netd_names_result dr;

		r = netd_delete_links(c, "slow1", NULL, 0, 30000, &dr);
		CHECK(r == 0 && dr.n_names == 64 && !dr.error.name);
		netd_names_result_done(&dr);
	}

	/* Async: the timed-out call's callback runs once, with -ETIMEDOUT;
	 * its late reply goes to nobody; the next call gets its own. */
	CHECK(netd_client_call_async(c, "io.netd.CreateLinks", create_params(parent, "slow3", 64),
				     0, 1, seen_cb, &late) == 0);
	CHECK(netd_client_call_async(c, "org.varlink.service.GetInfo", NULL, 0, 10000, seen_cb,
				     &info) == 0);
	CHECK(netd_client_call_async(c, "org.varlink.service.GetInfo", NULL, 0, 0, count_cb,
				     &done) == 0);
	loop_until(c, &done, 1);
	CHECK(done == 1);
	CHECK(late.calls == 1 && late.r == -ETIMEDOUT);
	CHECK(info.calls == 1 && info.r == 0 && !*info.error && info.has_vendor);
	CHECK(netd_client_pending(c) == 0);
	netd_client_free(c);
	puts("ok: timeout");
	return 0;
}

static int test_partial(const char *sock, pid_t netd)
{
	struct netd_client *c = connect_or_die(sock);
	struct seen big = { 0 }, info = { 0 };
	size_t n = 900 * 1024;
	char *pad = malloc(n + 1);
	int done = 0, r;

	CHECK(pad);
	memset(pad, 'x', n);
	pad[n] = 0;
	/* netd stopped, so that nothing reads: the socket cannot take
	 * 900 KiB at once. */
	CHECK(kill(netd, SIGSTOP) == 0);
	/* GetInfo takes no parameters: netd answers InvalidParameter. */
	r = netd_client_call_async(c, "org.varlink.service.GetInfo", json_pack("{s:s}", "pad", pad),
				   0, 10000, seen_cb, &big);
	free(pad);
	CHECK(r == 0);
	CHECK(netd_client_want_write(c));
	CHECK(netd_client_events(c) & POLLOUT);
	CHECK(netd_client_process(c) == 0);
	CHECK(netd_client_want_write(c));
	CHECK(kill(netd, SIGCONT) == 0);
	CHECK(netd_client_call_async(c, "org.varlink.service.GetInfo", NULL, 0, 10000, seen_cb,
				     &info) == 0);
	CHECK(netd_client_call_async(c, "org.varlink.service.GetInfo", NULL, 0, 0, count_cb,
				     &done) == 0);
	loop_until(c, &done, 1);
	CHECK(done == 1);
	CHECK(big.calls == 1 && big.r == 0 && !strcmp(big.error, NETD_ERROR_INVALID_PARAMETER));
	CHECK(info.calls == 1 && info.r == 0 && !*info.error && info.has_vendor);
	CHECK(!netd_client_want_write(c));
	netd_client_free(c);
	puts("ok: partial");
	return 0;
}

static int test_broken(const char *sock)
{
	struct netd_client *c = connect_or_die(sock);
	struct seen big = { 0 }, info = { 0 };
	struct netd_reply rep;
	size_t n = 2 * 1024 * 1024;
	char *pad = malloc(n + 1);
	int dummy = 0;

	CHECK(pad);
	memset(pad, 'x', n);
	pad[n] = 0;
	/* Over max_message_size: netd drops the connection. */
	CHECK(netd_client_call_async(c, "org.varlink.service.GetInfo",
				     json_pack("{s:s}", "pad", pad), 0, 10000, seen_cb, &big) == 0);
	free(pad);
	CHECK(netd_client_call_async(c, "org.varlink.service.GetInfo", NULL, 0, 10000, seen_cb,
				     &info) == 0);
	loop_until(c, &info.calls, 1);
	CHECK(big.calls == 1 && big.r == -ECONNRESET);
	CHECK(info.calls == 1 && info.r == -ECONNRESET);
	CHECK(netd_client_process(c) == -ECONNRESET);
	CHECK(netd_client_events(c) == 0);
	CHECK(netd_client_call(c, "org.varlink.service.GetInfo", NULL, 1000, &rep) == -ECONNRESET);
	CHECK(netd_client_call_async(c, "org.varlink.service.GetInfo", NULL, 0, 0, count_cb,
				     &dummy) == -ECONNRESET);
	CHECK(dummy == 0);
	netd_client_free(c);
	puts("ok: broken");
	return 0;
}

struct typed_seen {
	int calls, r;
	size_t n;
	char name[64], error[128]; /* "" when none */
};

static void links_cb(struct netd_client *c, int r, struct netd_links_result *res, void *userdata)
{
	struct typed_seen *s = userdata;

	(void)c;
	s->calls++;
	s->r = r;
	s->n = res->n_links;
	snprintf(s->name, sizeof(s->name), "%s", res->n_links ? res->links[0].name : "");
	snprintf(s->error, sizeof(s->error), "%s", res->error.name ? res->error.name : "");
}

static void binding_cb(struct netd_client *c, int r, struct netd_binding_result *res,
		       void *userdata)
{
	struct typed_seen *s = userdata;

	(void)c;
	s->calls++;
	s->r = r;
	snprintf(s->name, sizeof(s->name), "%s", res->binding.port ? res->binding.port : "");
	snprintf(s->error, sizeof(s->error), "%s", res->error.name ? res->error.name : "");
}

static void names_cb(struct netd_client *c, int r, struct netd_names_result *res, void *userdata)
{
	struct typed_seen *s = userdata;

	(void)c;
	s->calls++;
	s->r = r;
	s->n = res->n_names;
	snprintf(s->name, sizeof(s->name), "%s", res->n_names ? res->names[0] : "");
	snprintf(s->error, sizeof(s->error), "%s", res->error.name ? res->error.name : "");
}

static int test_typed(const char *sock, const char *parent, const char *port)
{
	struct netd_client *c = connect_or_die(sock);
	const char *names[] = { "tt0", "tt1" };
	struct typed_seen a = { 0 }, b = { 0 }, u = { 0 }, d = { 0 };
	struct netd_links_result lr;
	struct netd_binding_result br;
	struct netd_names_result nr;
	int r;

	r = netd_create_links(c, &(struct netd_link_request){ .parent = parent, .kind = "macvtap",
							      .owner = "typed", .names = names,
							      .n_names = 2 },
			      10000, &lr);
	CHECK(r == 0 && lr.n_links == 2 && !lr.error.name);
	CHECK(!strcmp(lr.links[0].name, "tt0") && !strcmp(lr.links[1].owner, "typed"));
	CHECK(lr.links[0].ifindex > 0 && lr.links[0].tap && !strncmp(lr.links[0].tap, "/dev/tap", 8));
	netd_links_result_done(&lr);
	/* An error answered: -EREMOTEIO with its name. */
	r = netd_create_links(c, &(struct netd_link_request){ .parent = "nosuchdev", .kind = "macvtap",
							      .owner = "typed" },
			      10000, &lr);
	CHECK(r == -EREMOTEIO && lr.error.name && !strcmp(lr.error.name, NETD_ERROR_NO_SUCH_LINK));
	CHECK(strcmp(netd_strerror(lr.error.name), netd_strerror("x.Unknown")));
	netd_links_result_done(&lr);
	r = netd_delete_links(c, "someoneelse", names, 1, 10000, &nr);
	CHECK(r == -EREMOTEIO && !strcmp(nr.error.name, NETD_ERROR_NOT_OWNER));
	netd_names_result_done(&nr);
	CHECK(netd_create_links(c, &(struct netd_link_request){ .kind = "macvtap" }, 0, &lr) == -EINVAL);

	/* Async forms, all in flight together. */
	CHECK(netd_create_links_async(c, &(struct netd_link_request){ .parent = parent,
								      .kind = "macvlan",
								      .owner = "typed" },
				      10000, links_cb, &a) == 0);
	CHECK(netd_bind_filter_async(c, port, "clean-traffic", "typed",
				     json_pack("{s:s}", "IP", "192.0.2.7"), 20000, binding_cb, &b) == 0);
	loop_until(c, &b.calls, 1);
	loop_until(c, &a.calls, 1);
	CHECK(a.calls == 1 && a.r == 0 && a.n == 1 && !strncmp(a.name, "macvlan", 7));
	CHECK(b.calls == 1 && b.r == 0 && !strcmp(b.name, port));
	CHECK(netd_unbind_filter_async(c, port, "typed", 20000, names_cb, &u) == 0);
	CHECK(netd_delete_links_async(c, "typed", NULL, 0, 20000, names_cb, &d) == 0);
	loop_until(c, &d.calls, 1);
	CHECK(u.calls == 1 && u.r == 0 && u.n == 1 && !strcmp(u.name, port));
	CHECK(d.calls == 1 && d.r == 0 && d.n == 3);

	/* Blocking bind with an error: no such filter. */
	r = netd_bind_filter(c, port, "no-such-filter", "typed", NULL, 10000, &br);
	CHECK(r == -EREMOTEIO && !strcmp(br.error.name, NETD_ERROR_NO_SUCH_FILTER));
	netd_binding_result_done(&br);
	r = netd_bind_filter(c, port, "allow-arp", "typed", NULL, 20000, &br);
	CHECK(r == 0 && br.binding.applied && br.binding.n_families >= 1);
	netd_binding_result_done(&br);
	r = netd_unbind_filter(c, port, "typed", 20000, &nr);
	CHECK(r == 0 && nr.n_names == 1);
	netd_names_result_done(&nr);
	netd_client_free(c);
	puts("ok: typed");
	return 0;
}

/* fd is the tap device of link name. */
static bool tap_is_link(int fd, const char *name)
{
	struct ifreq ifr = { 0 };
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	       ioctl(fd, TUNGETIFF, &ifr) == 0 && !strcmp(ifr.ifr_name, name);
}

static void set_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	CHECK(s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0);
	ifr.ifr_flags |= IFF_UP;
	CHECK(ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
	close(s);
}

static void fds_cb(struct netd_client *c, int r, struct netd_links_result *res, void *userdata)
{
	int *ok = userdata;

	(void)c;
	*ok = r == 0 && res->n_links > 0 ? 1 : -1;
	for (size_t i = 0; i < res->n_links; i++)
		if (!tap_is_link(res->links[i].fd, res->links[i].name))
			*ok = -1;
}

/* A frame written to the tap leaves through the parent, seen on its peer. */
static void frame_through(struct netd_link *l, const char *peer)
{
	unsigned char frame[10 + 14 + 32] = { 0 }; /* virtio_net_hdr, Ethernet */
	unsigned char buf[2048];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	char payload[32];
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	bool seen = false;

	CHECK(s >= 0);
	sll.sll_ifindex = (int)if_nametoindex(peer);
	CHECK(sll.sll_ifindex > 0 && bind(s, (struct sockaddr *)&sll, sizeof(sll)) == 0);
	memset(frame + 10, 0xff, 6);
	CHECK(sscanf(l->mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &frame[16], &frame[17], &frame[18],
		     &frame[19], &frame[20], &frame[21]) == 6);
	frame[22] = 0x88, frame[23] = 0xb5; /* local experimental ethertype */
	snprintf(payload, sizeof(payload), "netd-tapfd-%d", (int)getpid());
	memcpy(frame + 24, payload, strlen(payload));
	set_up(l->name);
	/* Written again every 250 ms: until linkwatch (rate-limited to once a
	 * second, later under load) turns a new link's carrier on, its queue
	 * drops what is sent: up to 20 s (5 s was once too short on a loaded
	 * machine). A wrong device never delivers it. */
	for (int i = 0; i < 400 && !seen; i++) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		ssize_t n;

		if (i % 5 == 0)
			CHECK(write(l->fd, frame, sizeof(frame)) == (ssize_t)sizeof(frame));
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recv(s, buf, sizeof(buf), 0);
		seen = n >= 14 + (ssize_t)strlen(payload) && !memcmp(buf + 6, frame + 16, 6) &&
		       memmem(buf, (size_t)n, payload, strlen(payload));
	}
	close(s);
	CHECK(seen);
}

static int test_tapfd(const char *sock, const char *parent, const char *peer)
{
	struct netd_client *c = connect_or_die(sock);
	struct netd_links_result lr;
	int ok1 = 0, ok2 = 0, done = 0;
	struct seen info = { 0 };
	int r;

	r = netd_create_links(c, &(struct netd_link_request){ .parent = parent, .kind = "macvtap",
							      .owner = "fds", .count = 2,
							      .fds = true },
			      10000, &lr);
	CHECK(r == 0 && lr.n_links == 2);
	for (size_t i = 0; i < lr.n_links; i++)
		CHECK(tap_is_link(lr.links[i].fd, lr.links[i].name));
	frame_through(&lr.links[1], peer);
	netd_links_result_done(&lr);

	/* Pipelined: each reply takes its own descriptors. */
	CHECK(netd_client_call_async(c, "org.varlink.service.GetInfo", NULL, 0, 10000, seen_cb,
				     &info) == 0);
	CHECK(netd_create_links_async(c, &(struct netd_link_request){ .parent = parent,
								      .kind = "macvtap",
								      .owner = "fds", .count = 3,
								      .fds = true },
				      10000, fds_cb, &ok1) == 0);
	CHECK(netd_create_links_async(c, &(struct netd_link_request){ .parent = parent,
								      .kind = "macvtap",
								      .owner = "fds2", .count = 2,
								      .fds = true },
				      10000, fds_cb, &ok2) == 0);
	CHECK(netd_client_call_async(c, "org.varlink.service.GetInfo", NULL, 0, 0, count_cb,
				     &done) == 0);
	loop_until(c, &done, 1);
	CHECK(info.calls == 1 && info.has_vendor);
	CHECK(ok1 == 1 && ok2 == 1);

	/* A macvlan has no tap: refused. */
	r = netd_create_links(c, &(struct netd_link_request){ .parent = parent, .kind = "macvlan",
							      .owner = "fds", .fds = true },
			      10000, &lr);
	CHECK(r == -EREMOTEIO && !strcmp(lr.error.name, NETD_ERROR_INVALID_PARAMETER));
	netd_links_result_done(&lr);
	netd_client_free(c);
	puts("ok: tapfd");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "errors")) {
		const char *unknown = netd_strerror("x.y.NoSuchError");

		for (int i = 2; i < argc; i++)
			if (!strcmp(netd_strerror(argv[i]), unknown)) {
				fprintf(stderr, "FAIL: netd_strerror() does not know %s\n", argv[i]);
				return 1;
			}
		CHECK(netd_client_version() == NETD_CLIENT_VERSION);
		puts("ok: errors");
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "timeout"))
		return test_timeout(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "partial"))
		return test_partial(argv[2], (pid_t)atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "broken"))
		return test_broken(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "tapfd"))
		return test_tapfd(argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[1], "typed"))
		return test_typed(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: see the header of test_client.c\n");
	return 2;
}
