/*
 * nftgen.c: the nf_tables ruleset generation of this network namespace,
 * for the filters' checkpoint (see verify.c). The one netlink request the
 * filters make, on a netfilter socket of its own: rtnetlink stays in nl.c.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include "filters-internal.h"

static int gen_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
		*(const struct nlattr **)data = a;
	return MNL_CB_OK;
}

static int gen_cb(const struct nlmsghdr *h, void *data)
{
	const struct nlattr *id = NULL;

	if (mnl_attr_parse(h, sizeof(struct nfgenmsg), gen_attr_cb, &id) < 0 || !id)
		return MNL_CB_ERROR;
	*(uint32_t *)data = ntohl(mnl_attr_get_u32(id));
	return MNL_CB_STOP;
}

int nftgen_get(uint32_t *ret_gen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *s;
	struct nlmsghdr *h;
	struct nfgenmsg *g;
	uint32_t gen = 0;
	ssize_t n;
	int r = -EIO;

	assert(ret_gen);
	s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!s)
		return -errno;
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto out;
	}
	h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
	h->nlmsg_flags = NLM_F_REQUEST;
	h->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	if (mnl_socket_sendto(s, h, h->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	n = mnl_socket_recvfrom(s, buf, sizeof(buf));
	if (n < 0) {
		r = -errno;
		goto out;
	}
	/* An error answer (nf_tables missing) comes back as -errno. */
	if (mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(s), gen_cb, &gen) < 0) {
		r = errno ? -errno : -EIO;
		goto out;
	}
	*ret_gen = gen;
	r = 0;
out:
	mnl_socket_close(s);
	return r;
}
