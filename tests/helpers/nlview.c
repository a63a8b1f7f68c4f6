/*
 * nlview.c: the tests' own view of the kernel's network links, read with
 * libnl-route-3 so that it does not share any code (or bugs) with netd's
 * libmnl-based netlink layer. It looks at the current network namespace
 * only; run it under "ip netns exec NS" to look at another one.
 *
 *   nlview links              every link, one per line, sorted by name:
 *                             "NAME IFINDEX KIND PARENT MAC GROUP"
 *                             KIND is "-" when the link has none (lo,
 *                             physical), PARENT is the parent's ifindex
 *                             or 0, MAC is aa:bb:cc:dd:ee:ff or "-"
 *   nlview names [PREFIX]     link names, one per line, sorted; only
 *                             those starting with PREFIX if given
 *   nlview count [PREFIX]     number of links (starting with PREFIX)
 *   nlview mode NAME          macvlan/macvtap mode of link NAME:
 *                             bridge, vepa, private, passthru or source
 *   nlview state NAME         "up|down MTU MAC" of link NAME (IFF_UP)
 *
 * Exit 0 on success, 1 on failure (message on stderr), 2 on usage errors.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <net/if.h>

#include <netlink/netlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/macvtap.h>

struct link_list {
	struct rtnl_link **v;
	size_t n;
	const char *prefix;
	int failed;
};

static struct nl_sock *sk;
static struct nl_cache *cache;

static void cleanup(void)
{
	if (cache)
		nl_cache_free(cache);
	if (sk)
		nl_socket_free(sk);
	cache = NULL;
	sk = NULL;
}

static int load_links(void)
{
	int err;

	sk = nl_socket_alloc();
	if (!sk) {
		fprintf(stderr, "nlview: nl_socket_alloc failed\n");
		return -1;
	}
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		fprintf(stderr, "nlview: nl_connect: %s\n", nl_geterror(err));
		cleanup();
		return -1;
	}
	err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (err < 0) {
		fprintf(stderr, "nlview: rtnl_link_alloc_cache: %s\n",
			nl_geterror(err));
		cache = NULL;
		cleanup();
		return -1;
	}
	return 0;
}

static int has_prefix(const char *name, const char *prefix)
{
	return !prefix || strncmp(name, prefix, strlen(prefix)) == 0;
}

/* nl_cache_foreach callback: collect the links whose names match. The
 * pointers stay owned by the cache, which outlives the list. */
static void collect(struct nl_object *obj, void *arg)
{
	struct link_list *l = arg;
	struct rtnl_link *link = (struct rtnl_link *)obj;
	const char *name = rtnl_link_get_name(link);
	struct rtnl_link **v;

	if (l->failed || !name || !has_prefix(name, l->prefix))
		return;
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v) {
		l->failed = 1;
		return;
	}
	l->v = v;
	l->v[l->n++] = link;
}

static int by_name(const void *a, const void *b)
{
	struct rtnl_link *la = *(struct rtnl_link *const *)a;
	struct rtnl_link *lb = *(struct rtnl_link *const *)b;

	return strcmp(rtnl_link_get_name(la), rtnl_link_get_name(lb));
}

static int sorted_links(struct link_list *l, const char *prefix)
{
	memset(l, 0, sizeof(*l));
	l->prefix = prefix;
	nl_cache_foreach(cache, collect, l);
	if (l->failed) {
		fprintf(stderr, "nlview: out of memory\n");
		free(l->v);
		return -1;
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), by_name);
	return 0;
}

/* The address as colon-separated hex bytes, or "-" when there is none. */
static const char *format_mac(struct rtnl_link *link, char *buf, size_t size)
{
	struct nl_addr *a = rtnl_link_get_addr(link);
	const unsigned char *p;
	unsigned int len;
	size_t off = 0;

	if (!a || (len = nl_addr_get_len(a)) == 0 || size < 3 * (size_t)len)
		return "-";
	p = nl_addr_get_binary_addr(a);
	for (unsigned int i = 0; i < len; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%02x",
					i ? ":" : "", p[i]);
	return buf;
}

static int cmd_links(void)
{
	struct link_list l;
	char mac[128];

	if (sorted_links(&l, NULL) < 0)
		return 1;
	for (size_t i = 0; i < l.n; i++) {
		struct rtnl_link *link = l.v[i];
		const char *kind = rtnl_link_get_type(link);

		printf("%s %d %s %d %s %u\n", rtnl_link_get_name(link),
		       rtnl_link_get_ifindex(link),
		       kind && *kind ? kind : "-",
		       rtnl_link_get_link(link),
		       format_mac(link, mac, sizeof(mac)),
		       (unsigned)rtnl_link_get_group(link));
	}
	free(l.v);
	return 0;
}

static int cmd_names(const char *prefix, int count_only)
{
	struct link_list l;

	if (sorted_links(&l, prefix) < 0)
		return 1;
	if (count_only)
		printf("%zu\n", l.n);
	else
		for (size_t i = 0; i < l.n; i++)
			printf("%s\n", rtnl_link_get_name(l.v[i]));
	free(l.v);
	return 0;
}

static int cmd_mode(const char *name)
{
	struct rtnl_link *link = rtnl_link_get_by_name(cache, name);
	char buf[32];
	const char *s;
	int ret = 0;

	if (!link) {
		fprintf(stderr, "nlview: no link named %s\n", name);
		return 1;
	}
	if (rtnl_link_is_macvlan(link))
		s = rtnl_link_macvlan_mode2str(
			(int)rtnl_link_macvlan_get_mode(link), buf, sizeof(buf));
	else if (rtnl_link_is_macvtap(link))
		s = rtnl_link_macvtap_mode2str(
			(int)rtnl_link_macvtap_get_mode(link), buf, sizeof(buf));
	else
		s = NULL;
	if (s) {
		printf("%s\n", s);
	} else {
		const char *kind = rtnl_link_get_type(link);

		fprintf(stderr, "nlview: %s is not a macvlan/macvtap link (kind %s)\n",
			name, kind ? kind : "-");
		ret = 1;
	}
	rtnl_link_put(link);
	return ret;
}

static int cmd_state(const char *name)
{
	struct rtnl_link *link = rtnl_link_get_by_name(cache, name);
	char mac[128];

	if (!link) {
		fprintf(stderr, "nlview: no link named %s\n", name);
		return 1;
	}
	printf("%s %u %s\n", rtnl_link_get_flags(link) & IFF_UP ? "up" : "down",
	       rtnl_link_get_mtu(link), format_mac(link, mac, sizeof(mac)));
	rtnl_link_put(link);
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc < 2)
		goto usage;
	if (strcmp(argv[1], "links") == 0) {
		if (argc != 2)
			goto usage;
	} else if (strcmp(argv[1], "names") == 0 ||
		   strcmp(argv[1], "count") == 0) {
		if (argc > 3)
			goto usage;
	} else if (strcmp(argv[1], "mode") == 0 || strcmp(argv[1], "state") == 0) {
		if (argc != 3)
			goto usage;
	} else {
		goto usage;
	}

	if (load_links() < 0)
		return 1;
	if (strcmp(argv[1], "links") == 0)
		ret = cmd_links();
	else if (strcmp(argv[1], "names") == 0)
		ret = cmd_names(argc > 2 ? argv[2] : NULL, 0);
	else if (strcmp(argv[1], "count") == 0)
		ret = cmd_names(argc > 2 ? argv[2] : NULL, 1);
	else if (strcmp(argv[1], "state") == 0)
		ret = cmd_state(argv[2]);
	else
		ret = cmd_mode(argv[2]);
	cleanup();
	if (fflush(stdout) != 0) {
		perror("nlview: stdout");
		return 1;
	}
	return ret;
usage:
	fprintf(stderr, "usage: nlview links | names [PREFIX] | count [PREFIX] | mode NAME | state NAME\n");
	return 2;
}
