/*
 * nftgen.c: what the filters ask nf_tables, on netfilter sockets of
 * their own (rtnetlink stays in nl.c): the ruleset generation of this
 * network namespace, for the checkpoint (see verify.c), and the names of
 * the chains of a family's "filter" table, or whether a few chains are
 * there, for confirming a restore without a save (see confirm.c). The
 * kernel answers all of them at once.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter.h>
#include <sys/socket.h>

#include "budget.h"
#include "filters-internal.h"
#include "util.h"

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

/* The socket the generation and single chains are asked on, kept open:
 * a BindFilter asks five times, and opening and binding a netfilter
 * socket each time was most of what asking cost. Closed on any failure,
 * so that an answer left unread is never taken for the next question's
 * (each question has its own sequence number too). */
static struct mnl_socket *gen_sock;
static unsigned gen_seq;

static void gen_sock_drop(void)
{
	if (gen_sock)
		mnl_socket_close(gen_sock);
	gen_sock = NULL;
}

/* Sequence numbers for count questions: base + 1 to base + count (the
 * base returned), never 0, not reused soon. */
static unsigned gen_seq_take(unsigned count)
{
	unsigned base;

	if (gen_seq > UINT_MAX - NFT_GET_MAX - 1)
		gen_seq = 0;
	base = gen_seq;
	gen_seq += count;
	return base;
}

static int gen_sock_get(struct mnl_socket **ret)
{
	struct mnl_socket *s;
	int r;

	if (!gen_sock) {
		s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
		if (!s)
			return -errno;
		if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
			r = -errno;
			mnl_socket_close(s);
			return r;
		}
		gen_sock = s;
	}
	*ret = gen_sock;
	return 0;
}

static int nftgen_get(uint32_t *ret_gen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *s = NULL;
	struct nlmsghdr *h;
	struct nfgenmsg *g;
	uint32_t gen = 0;
	unsigned seq;
	ssize_t n;
	int r;

	assert(ret_gen);
	r = gen_sock_get(&s);
	if (r < 0)
		return r;
	seq = gen_seq_take(1) + 1;
	h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
	h->nlmsg_flags = NLM_F_REQUEST;
	h->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	if (mnl_socket_sendto(s, h, h->nlmsg_len) < 0)
		goto fail;
	n = mnl_socket_recvfrom(s, buf, sizeof(buf));
	if (n < 0)
		goto fail;
	/* An error answer (nf_tables missing) comes back as -errno. */
	errno = 0;
	if (mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(s), gen_cb, &gen) < 0)
		goto fail;
	*ret_gen = gen;
	return 0;
fail:
	r = errno ? -errno : -EIO;
	gen_sock_drop();
	return r;
}

/* --- the chain names of a table --- */

/* nf_tables sends a dump in parts of up to 32 KiB (a page or two per
 * recv on most kernels); the buffer takes the largest. */
#define NFT_DUMP_BUF 32768

struct nft_chain_dump {
	struct mnl_socket *s;
	unsigned portid;
	bool done;
	void (*fn)(void *data, const char *name);
	void *data;
	char buf[NFT_DUMP_BUF];
};

static const uint8_t nfproto[NFAM] = {
	[F_EB] = NFPROTO_BRIDGE, [F_IP4] = NFPROTO_IPV4, [F_IP6] = NFPROTO_IPV6,
};

struct chain_attrs {
	const char *table, *name;
};

static int chain_attr_cb(const struct nlattr *a, void *data)
{
	struct chain_attrs *c = data;
	int t = mnl_attr_get_type(a);

	if ((t == NFTA_CHAIN_TABLE || t == NFTA_CHAIN_NAME) &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0) {
		if (t == NFTA_CHAIN_TABLE)
			c->table = mnl_attr_get_str(a);
		else
			c->name = mnl_attr_get_str(a);
	}
	return MNL_CB_OK;
}

static int chain_cb(const struct nlmsghdr *h, void *data)
{
	struct nft_chain_dump *d = data;
	struct chain_attrs c = { 0 };

	if (mnl_attr_parse(h, sizeof(struct nfgenmsg), chain_attr_cb, &c) < 0)
		return MNL_CB_ERROR;
	/* The kernel filters a chain dump by family only: netd's table is
	 * "filter", the other tables' chains are not ours to look at. */
	if (c.name && c.table && strcmp(c.table, "filter") == 0)
		d->fn(d->data, c.name);
	return MNL_CB_OK;
}

static int nftgen_chains_open(enum rules_family fam, struct nft_chain_dump **ret)
{
	struct nft_chain_dump *d;
	struct nlmsghdr *h;
	struct nfgenmsg *g;
	int r;

	assert(fam < NFAM);
	assert(ret);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	/* Non-blocking: the loop never waits on it (the kernel queues each
	 * part of the dump as the one before is read, so there is always
	 * one to read until the end). */
	d->s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!d->s) {
		r = -errno;
		free(d);
		return r;
	}
	if (mnl_socket_bind(d->s, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	d->portid = mnl_socket_get_portid(d->s);
	h = mnl_nlmsg_put_header(d->buf);
	h->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	h->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = nfproto[fam];
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	mnl_attr_put_strz(h, NFTA_CHAIN_TABLE, "filter");
	if (mnl_socket_sendto(d->s, h, h->nlmsg_len) < 0)
		goto fail;
	*ret = d;
	return 0;
fail:
	r = -errno;
	mnl_socket_close(d->s);
	free(d);
	return r;
}

static int nftgen_chains_read(struct nft_chain_dump *d, void (*fn)(void *data, const char *name),
			      void *data)
{
	assert(d && fn);
	d->fn = fn;
	d->data = data;
	/* At least one part per call, then as the iteration's budget
	 * allows: 20,000 chains are about 60 parts. */
	do {
		ssize_t n = mnl_socket_recvfrom(d->s, d->buf, sizeof(d->buf));
		int r;

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		r = mnl_cb_run(d->buf, (size_t)n, 1, d->portid, chain_cb, d);
		if (r < 0)
			return errno ? -errno : -EIO;
		if (r == MNL_CB_STOP) {
			d->done = true;
			return 1;
		}
	} while (!budget_spent());
	return 0;
}

/* Put the request "is chain names[i] in family fam's table filter?"
 * (sequence i + 1) into buf at *len. */
static void chain_get_put(char *buf, size_t *len, enum rules_family fam, const char *name,
			  unsigned seq)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf + *len);
	struct nfgenmsg *g;

	h->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN;
	h->nlmsg_flags = NLM_F_REQUEST;
	h->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = nfproto[fam];
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	mnl_attr_put_strz(h, NFTA_CHAIN_TABLE, "filter");
	mnl_attr_put_strz(h, NFTA_CHAIN_NAME, name);
	*len += h->nlmsg_len;
}

/* The answers in buf (n bytes) to the questions of sequence base + 1 to
 * base + count: seen[i] set for a chain, left for ENOENT; the count of
 * answers, or -errno for another error. */
static int chain_get_answers(const char *buf, size_t n, unsigned portid, unsigned base,
			     unsigned count, bool *seen)
{
	int got = 0;
	int left = (int)n;

	for (const struct nlmsghdr *h = (const void *)buf; mnl_nlmsg_ok(h, left);
	     h = mnl_nlmsg_next(h, &left)) {
		unsigned i = h->nlmsg_seq - base - 1;

		if (h->nlmsg_pid != portid || i >= count)
			continue;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);

			if (e->error != -ENOENT && e->error != 0)
				return e->error;
		} else {
			seen[i] = true;
		}
		got++;
	}
	return got;
}

static int nftgen_chains_have(enum rules_family fam, const char *const *names, unsigned count,
			      bool *seen)
{
	_cleanup_free_ char *buf = NULL;
	struct mnl_socket *s = NULL;
	unsigned portid, base, got = 0;
	size_t len = 0;
	int r;

	assert(fam < NFAM);
	assert(count <= NFT_GET_MAX);
	buf = malloc(NFT_DUMP_BUF);
	if (!buf)
		return -ENOMEM;
	r = gen_sock_get(&s);
	if (r < 0)
		return r;
	portid = mnl_socket_get_portid(s);
	base = gen_seq_take(count);
	for (unsigned i = 0; i < count; i++) {
		seen[i] = false;
		chain_get_put(buf, &len, fam, names[i], base + i + 1);
	}
	if (mnl_socket_sendto(s, buf, len) < 0) {
		r = -errno;
		goto fail;
	}
	while (got < count) {
		ssize_t n = mnl_socket_recvfrom(s, buf, NFT_DUMP_BUF);

		if (n < 0) {
			r = -errno;
			goto fail;
		}
		r = chain_get_answers(buf, (size_t)n, portid, base, count, seen);
		if (r < 0)
			goto fail;
		got += (unsigned)r;
	}
	return 0;
fail:
	/* Answers may be left unread. */
	gen_sock_drop();
	return r;
}

static void nftgen_chains_close(struct nft_chain_dump *d)
{
	if (!d)
		return;
	mnl_socket_close(d->s);
	free(d);
}

const struct nft_ops nftgen_ops = {
	.gen = nftgen_get,
	.chains_open = nftgen_chains_open,
	.chains_read = nftgen_chains_read,
	.chains_close = nftgen_chains_close,
	.chains_have = nftgen_chains_have,
};
