/*
 * learn.c: address learning. A binding that asks for its $IP to be
 * learned (learning "dhcp" or "any", no IP given) holds the learning
 * rules (rules_render_learning()) and a struct learner: a packet socket
 * bound to the port's ifindex, with a classic BPF program (learn_bpf())
 * so that the kernel passes up only the frames that can teach the
 * address, read by the loop like any other descriptor. The first frame
 * that teaches one (learn-pkt.c) ends the watch: the socket is closed,
 * the address becomes the binding's IP, the binding is rendered with its
 * filter and goes to the next batch like any re-render, and an audit row
 * (netd.AddressLearned) names the port, the address and how.
 *
 * Hostile guests: in dhcp mode only a frame the port sends towards the
 * guest (PACKET_OUTGOING: it came from the bridge's side and passed the
 * port's rules) counts, so nothing the guest sends can teach an address;
 * it must be a DHCPACK for the guest's MAC (chaddr and destination) and,
 * when DHCPSERVER is given, from one of those addresses. In either mode
 * an address another binding holds is not learned. A flood costs a
 * bounded read per callback (LEARN_BURST frames of at most LEARN_SNAPLEN
 * bytes, a small receive buffer: the kernel drops the rest), and the
 * parsing is bounded by the frame's length.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "filters-internal.h"
#include "links.h"
#include "log.h"
#include "stats.h"
#include "util.h"

/* Frames read per callback at most, and the socket's receive buffer. */
#define LEARN_BURST 16
#define LEARN_RCVBUF (64 * 1024)

struct learner {
	struct filters *f;
	struct binding *b;
	enum learn_mode mode;
	int fd;
	bool warned;  /* a taken address was claimed (logged once) */
	ev_io io;
};

static int learner_socket(int ifindex, enum learn_mode mode)
{
	int fd, r, rcvbuf = LEARN_RCVBUF;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = ifindex };

	/* Protocol 0: no frame is queued before the filter is attached and
	 * the socket bound to the port. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, learn_bpf(mode), sizeof(struct sock_fprog)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int learn_open(struct filters *f, const char *port, enum learn_mode mode, struct learner **ret)
{
	struct links_port lp;
	struct learner *l;
	int r;

	assert(f && port && ret);
	assert(mode != LEARN_NONE);
	r = links_port_lookup(f->links, port, &lp);
	if (r < 0)
		return r;
	/* ifindex 0 would bind the socket to every device: a DHCPACK for the
	 * guest's MAC seen anywhere would teach. */
	if (lp.ifindex <= 0)
		return -ENODEV;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->fd = learner_socket(lp.ifindex, mode);
	if (l->fd < 0) {
		r = l->fd;
		free(l);
		return r;
	}
	l->f = f;
	l->mode = mode;
	*ret = l;
	return 0;
}

struct learner *learn_close(struct learner *l)
{
	if (!l)
		return NULL;
	if (l->b)
		ev_io_stop(l->f->loop, &l->io);
	close(l->fd);
	free(l);
	return NULL;
}

/* Is the DHCP server's address one the binding allows (all, when it
 * names none)? */
static bool server_allowed(json_t *params, uint32_t server)
{
	json_t *list = json_object_get(params, "DHCPSERVER"), *x;
	bool any4 = false;
	size_t i;

	json_array_foreach(list, i, x) {
		struct in_addr a;

		if (inet_pton(AF_INET, json_string_value(x), &a) != 1)
			continue;
		any4 = true;
		if (a.s_addr == server)
			return true;
	}
	return !any4;
}

/* The binding's MAC in binary: false if it has none (cannot happen: a
 * binding always has one). */
static bool binding_mac(const struct binding *b, uint8_t mac[6])
{
	const char *s = json_string_value(json_object_get(b->params, "MAC"));

	return s && sscanf(s, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx", &mac[0], &mac[1], &mac[2],
			   &mac[3], &mac[4], &mac[5]) == 6;
}

/* The address b learned: it becomes b's IP and b is applied again. */
static void learned(struct filters *f, struct binding *b, enum learn_mode mode,
		    const struct learn_result *res)
{
	char addr[INET_ADDRSTRLEN], server[INET_ADDRSTRLEN];
	json_t *params = json_deep_copy(b->params), *old = b->params;
	_cleanup_free_ char *error = NULL;

	inet_ntop(AF_INET, &res->addr, addr, sizeof(addr));
	inet_ntop(AF_INET, &res->server, server, sizeof(server));
	if (!params || json_object_set_new(params, "IP", json_pack("[s]", addr)) < 0) {
		json_decref(params);
		log_error("%s: out of memory recording the learned address %s; still learning", b->port, addr);
		return;
	}
	b->learner = learn_close(b->learner);
	b->params = params;
	binding_count(f, b, -1); /* learned: no longer learning */
	now_iso(b->learned_at, sizeof(b->learned_at));
	if (binding_render(f, b, &error) < 0) {
		/* Its filter no longer renders (redefined meanwhile): the
		 * learning rules stay, the address is kept for a re-render. */
		log_warn("%s: learned %s, but filter '%s' does not render: %s", b->port, addr,
			 b->filter, error ? error : "out of memory");
	}
	json_decref(old);
	f->learned++;
	b->state = B_PENDING;
	binding_count(f, b, +1);
	binding_set_dirty(f, b, true);
	free(b->error);
	b->error = NULL;
	binding_store(f, b);
	log_info("%s: learned address %s (%s%s%s); applying filter '%s' with it", b->port, addr,
		 learn_mode_name(mode), mode == LEARN_DHCP ? " from server " : "",
		 mode == LEARN_DHCP ? server : "", b->filter);
	binding_audit(f, b, "netd.AddressLearned", "ok",
		      mode == LEARN_DHCP ?
		      json_pack("{s:s, s:s, s:s}", "ip", addr, "how", "dhcp", "server", server) :
		      json_pack("{s:s, s:s}", "ip", addr, "how", "any"));
}

/* Does a binding other than b hold addr (given or learned)? A guest
 * must not learn its neighbour's address: its traffic from it would then
 * pass. One pass over the bindings, only for a frame that would teach. */
static bool addr_taken(struct filters *f, const struct binding *b, uint32_t addr)
{
	char text[INET_ADDRSTRLEN];
	const struct binding *o;

	inet_ntop(AF_INET, &addr, text, sizeof(text));
	TAILQ_FOREACH(o, &f->all, entry) {
		json_t *x;
		size_t i;

		if (o == b || o->state == B_REMOVING)
			continue;
		json_array_foreach(json_object_get(o->params, "IP"), i, x)
			if (streq(json_string_value(x), text))
				return true;
	}
	return false;
}

/* One frame read from the socket: true if it taught b its address. */
static bool learner_frame(struct learner *l, const uint8_t *buf, size_t n,
			  const struct sockaddr_ll *from)
{
	struct learn_result res;
	uint8_t mac[6];
	bool out = from->sll_pkttype == PACKET_OUTGOING;

	if (!binding_mac(l->b, mac))
		return false;
	if (l->mode == LEARN_DHCP) {
		if (!out || learn_parse_dhcp_ack(buf, n, mac, &res) < 0 ||
		    !server_allowed(l->b->params, res.server))
			return false;
	} else if (out || learn_parse_any(buf, n, mac, &res) < 0) {
		return false;
	}
	if (addr_taken(l->f, l->b, res.addr)) {
		if (!l->warned)
			log_warn("%s: the guest claims an address another binding holds; not learned, "
				 "still learning", l->b->port);
		l->warned = true;
		return false;
	}
	learned(l->f, l->b, l->mode, &res);
	return true;
}

static void learner_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	STATS_CALLBACK("address learning");
	struct learner *l = w->data;
	uint8_t buf[LEARN_SNAPLEN];

	for (int i = 0; i < LEARN_BURST; i++) {
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(l->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ENOBUFS)
				log_warn_errno(l->b->port, -errno, "reading the address learning socket, ignoring");
			return;
		}
		if (flen >= sizeof(from) && learner_frame(l, buf, (size_t)n, &from))
			return; /* l is freed */
	}
}

void learn_attach(struct filters *f, struct binding *b, struct learner *l)
{
	assert(f && b && l);
	assert(!b->learner);
	l->b = b;
	b->learner = l;
	ev_io_init(&l->io, learner_cb, l->fd, EV_READ);
	l->io.data = l;
	ev_io_start(f->loop, &l->io);
}

bool learn_pending(const struct binding *b)
{
	return b->learn != LEARN_NONE && !b->learned_at[0];
}

void learn_sync(struct filters *f, struct binding *b)
{
	struct learner *l;
	int r;

	assert(f && b);
	if (!learn_pending(b) || b->state == B_REMOVING) {
		b->learner = learn_close(b->learner);
		return;
	}
	if (b->learner && b->learner->mode == b->learn)
		return;
	b->learner = learn_close(b->learner);
	r = learn_open(f, b->port, b->learn, &l);
	if (r < 0) {
		log_error_errno(b->port, r, "cannot watch the port to learn its address; it passes DHCP only "
				"until it is bound again");
		return;
	}
	learn_attach(f, b, l);
}
