/*
 * render-nft.c: see rules.h. The third rendering target of the rule
 * model: a filter bound to a macvtap or macvlan port becomes `nft -f`
 * input for netd's own table "netdev netd", in base chains hooked on the
 * device itself. Bridge ports go to ebtables/iptables (render.c); the
 * traffic of a macvtap never crosses a bridge, so only the device's own
 * netdev hooks see it.
 *
 * Which hook sees what, established on Linux 6.18 with a macvtap in
 * bridge mode on a veth (docs/macvtap-filters.md has the experiment):
 *   - what the guest writes to /dev/tapN is transmitted by the macvtap
 *     device: the EGRESS hook sees it (direction "out", from the guest,
 *     chain N-O-<port>; egress hooks exist since Linux 5.16);
 *   - what arrives for the guest is received by the macvtap device before
 *     its tap queue takes it: the INGRESS hook sees it (direction "in",
 *     chain N-I-<port>).
 *
 * One direction is one base chain. A bridge port's frame passes ebtables
 * first and iptables after, and an ebtables ACCEPT only ends the ebtables
 * part; when a direction has rules of both levels, the L2 rules go to a
 * regular chain N-X-<port>-l2 that the base chain jumps to first, where
 * ACCEPT becomes "return". With L2 rules only (every built-in), they stay
 * in the base chain and ACCEPT is "accept". ebtables' RETURN and a base
 * chain's "return" both end in the accept policy. REJECT is "drop" (as in
 * ebtables). ARP and RARP fields are raw payload matches (@nh,OFFSET,BITS):
 * nft's "arp" expressions would add an ARP dependency a RARP rule must not
 * have. Values are formatted from their binary form; no input text is
 * copied.
 *
 * The rules are collected as for render.c (rules_items_collect(): the
 * parameters of libvirt's <filterref> applied), libvirt's sub-chains are
 * folded into the one chain as for ebtables (rules_flatten()), and the
 * expansion of $MAC, $IP, $DHCPSERVER and $GATEWAY_MAC follows render.c's
 * contract (rules_render()) exactly. libvirt's other IP protocols (sctp,
 * udplite, esp, ah, igmp, all), address ranges, dscp, tcp flags and ICMP
 * codes are rendered too; what is not (802.1Q, ARP gratuitous:
 * unrendered_field()) is refused with a message naming it
 * (nft_check()), never left out; conntrack "state" can never be had at a
 * netdev hook.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules-internal.h"
#include "strbuf.h"
#include "valid.h"
#include "util.h"

#define T "netdev " RULES_NFT_TABLE

/* --- the parameters --- */

struct naddr {
	int af;
	uint8_t a[16];
};

struct nvals {
	uint8_t mac[6], gw[6];
	bool has_gw;
	struct naddr *ips, *dhcp;
	size_t n_ips, n_dhcp;
};

static int nvals_parse(const struct rules_params *p, struct nvals *v, char **ret_error)
{
	char q[RULES_QUOTE_MAX];

	if (!p || !p->mac)
		return rules_errorf(ret_error, "MAC: missing");
	if (rules_param_check("MAC", p->mac) < 0)
		return rules_errorf(ret_error,
				    "MAC: %s is not a unicast MAC address (aa:bb:cc:dd:ee:ff, not all zero)",
				    rules_quote(p->mac, q));
	valid_parse_mac(p->mac, v->mac);
	v->ips = calloc(p->n_ips + 1, sizeof(*v->ips));
	v->dhcp = calloc(p->n_dhcpservers + 1, sizeof(*v->dhcp));
	if (!v->ips || !v->dhcp)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_ips; i++) {
		if (rules_parse_addr(p->ips[i], 0, &v->ips[i].af, v->ips[i].a) < 0)
			return rules_errorf(ret_error, "IP: %s is not an IPv4 or IPv6 address",
					    p->ips[i] ? rules_quote(p->ips[i], q) : "NULL");
		v->n_ips++;
	}
	for (size_t i = 0; i < p->n_dhcpservers; i++) {
		if (rules_parse_addr(p->dhcpservers[i], 0, &v->dhcp[i].af, v->dhcp[i].a) < 0)
			return rules_errorf(ret_error, "DHCPSERVER: %s is not an IPv4 or IPv6 address",
					    p->dhcpservers[i] ? rules_quote(p->dhcpservers[i], q) : "NULL");
		v->n_dhcp++;
	}
	if (p->gateway_mac) {
		if (rules_param_check("GATEWAY_MAC", p->gateway_mac) < 0)
			return rules_errorf(ret_error, "GATEWAY_MAC: %s is not a unicast MAC address",
					    rules_quote(p->gateway_mac, q));
		valid_parse_mac(p->gateway_mac, v->gw);
		v->has_gw = true;
	}
	return 0;
}

static const struct naddr *var_at(const struct nvals *v, enum rules_var var, int af, size_t k,
				  size_t *ret_count)
{
	const struct naddr *a = var == RULES_VAR_IP ? v->ips : v->dhcp;
	size_t n = var == RULES_VAR_IP ? v->n_ips : v->n_dhcp, c = 0;
	const struct naddr *hit = NULL;

	for (size_t i = 0; i < n; i++)
		if (a[i].af == af) {
			if (c == k)
				hit = &a[i];
			c++;
		}
	if (ret_count)
		*ret_count = c;
	return hit;
}

/* --- matches --- */

static const uint8_t ones[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static const char *cmp_op(const struct rules_rule *r)
{
	return r->match ? "" : "!= ";
}

/* n bytes of v in hex, each followed by sep unless sep is 0 (then none):
 * " 0x" values and MACs are most of a binding's text, and a printf per
 * byte made rendering clean-traffic cost 130 µs. */
static void put_hex(struct strbuf *b, const uint8_t *v, unsigned n, char sep)
{
	static const char digits[] = "0123456789abcdef";
	char out[3 * 16];
	size_t k = 0;

	assert(n <= 16);
	for (unsigned i = 0; i < n; i++) {
		out[k++] = digits[v[i] >> 4];
		out[k++] = digits[v[i] & 0xf];
		if (sep && i + 1 < n)
			out[k++] = sep;
	}
	strbuf_append(b, out, k);
}

/* " ether saddr [& MASK] [!=] ADDR" */
static void put_mac(struct strbuf *b, const char *what, const struct rules_rule *r, const struct rules_mac *m)
{
	strbuf_puts(b, " ");
	strbuf_puts(b, what);
	if (memcmp(m->mask, ones, 6) != 0) {
		strbuf_puts(b, " & ");
		put_hex(b, m->mask, 6, ':');
		strbuf_puts(b, r->match ? " ==" : " !=");
	} else if (!r->match) {
		strbuf_puts(b, " !=");
	}
	strbuf_puts(b, " ");
	put_hex(b, m->addr, 6, ':');
}

/* " ip saddr [!=] A[/P]" */
static void put_ip(struct strbuf *b, const char *what, const struct rules_rule *r, const struct rules_ip *ip)
{
	char a[INET6_ADDRSTRLEN];
	unsigned full = ip->af == AF_INET ? 32 : 128;

	if (!inet_ntop(ip->af, ip->addr, a, sizeof(a)))
		assert(false);
	strbuf_printf(b, " %s %s%s", what, cmp_op(r), a);
	if (ip->prefix != full)
		strbuf_printf(b, "/%u", ip->prefix);
}

/* Raw payload of an ARP/RARP header (Ethernet/IPv4 sizes, as ebtables
 * assumes): " @nh,OFF,BITS [& MASK ==|!=] 0xVALUE". */
static void put_raw(struct strbuf *b, unsigned off_bits, unsigned nbytes, const uint8_t *val,
		    const uint8_t *mask, const struct rules_rule *r)
{
	strbuf_printf(b, " @nh,%u,%u", off_bits, nbytes * 8);
	if (mask && memcmp(mask, ones, nbytes) != 0) {
		strbuf_puts(b, " & 0x");
		put_hex(b, mask, nbytes, 0);
		strbuf_puts(b, r->match ? " ==" : " !=");
	} else if (!r->match) {
		strbuf_puts(b, " !=");
	}
	strbuf_puts(b, " 0x");
	put_hex(b, val, nbytes, 0);
}

static void put_arp_ip(struct strbuf *b, unsigned off_bits, const struct rules_rule *r,
		       const struct rules_ip *ip)
{
	uint8_t mask[4] = { 0 };

	for (unsigned i = 0; i < ip->prefix && i < 32; i++)
		mask[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	put_raw(b, off_bits, 4, ip->addr, mask, r);
}

static void put_arp(struct strbuf *b, const struct rules_rule *r)
{
	/* libvirt's hwtype and protocoltype: the header's first two fields. */
	if (r->arp_htype.set) {
		uint8_t v[2] = { (uint8_t)(r->arp_htype.v >> 8), (uint8_t)r->arp_htype.v };

		put_raw(b, 0, 2, v, NULL, r);
	}
	if (r->arp_ptype.set) {
		uint8_t v[2] = { (uint8_t)(r->arp_ptype.v >> 8), (uint8_t)r->arp_ptype.v };

		put_raw(b, 16, 2, v, NULL, r);
	}
	if (r->arp_op.set) {
		uint8_t op[2] = { (uint8_t)(r->arp_op.v >> 8), (uint8_t)r->arp_op.v };

		put_raw(b, 48, 2, op, NULL, r);
	}
	/* IPv4 addresses only: ARP for IPv6 does not exist. */
	if (r->arp_src_ip.set && r->arp_src_ip.af == AF_INET)
		put_arp_ip(b, 112, r, &r->arp_src_ip);
	if (r->arp_dst_ip.set && r->arp_dst_ip.af == AF_INET)
		put_arp_ip(b, 192, r, &r->arp_dst_ip);
	if (r->arp_src_mac.set)
		put_raw(b, 64, 6, r->arp_src_mac.addr, r->arp_src_mac.mask, r);
	if (r->arp_dst_mac.set)
		put_raw(b, 144, 6, r->arp_dst_mac.addr, r->arp_dst_mac.mask, r);
}

static void put_range(struct strbuf *b, const char *what, const struct rules_rule *r,
		      const struct rules_range *g)
{
	strbuf_printf(b, " th %s %s%u", what, cmp_op(r), g->lo);
	if (g->hi != g->lo)
		strbuf_printf(b, "-%u", g->hi);
}

/* IP addresses, the protocol and ports (both levels). */
static void put_l3(struct strbuf *b, const struct rules_rule *r, bool v4, int l4proto)
{
	const char *x = v4 ? "ip" : "ip6";
	bool ports = r->src_port.set || r->dst_port.set;
	char what[16];

	if (r->src_ip.set) {
		snprintf(what, sizeof(what), "%s saddr", x);
		put_ip(b, what, r, &r->src_ip);
	}
	if (r->dst_ip.set) {
		snprintf(what, sizeof(what), "%s daddr", x);
		put_ip(b, what, r, &r->dst_ip);
	}
	if (l4proto >= 0)
		strbuf_printf(b, " meta l4proto %u", (unsigned)l4proto);
	else if (r->ip_protocol.set)
		/* With ports the protocol is their condition (render.c). */
		strbuf_printf(b, " meta l4proto %s%u", ports ? "" : cmp_op(r), r->ip_protocol.v);
	if (r->src_port.set)
		put_range(b, "sport", r, &r->src_port);
	if (r->dst_port.set)
		put_range(b, "dport", r, &r->dst_port);
}

static const char *verdict(const struct rules_rule *r, bool l2_sub)
{
	switch (r->action) {
	case RULES_A_ACCEPT:
		return l2_sub ? "return" : "accept";
	case RULES_A_RETURN:
		return "return";
	default:
		return "drop"; /* DROP; REJECT as ebtables does it */
	}
}

/* The match of an ebtables-level rule. */
static void match_l2(struct strbuf *b, const struct rules_rule *r)
{
	switch (r->proto) {
	case RULES_P_MAC:
		if (r->ethertype.set)
			strbuf_printf(b, " ether type %s0x%04x", cmp_op(r), r->ethertype.v);
		break;
	case RULES_P_ARP:
		strbuf_printf(b, " ether type 0x0806");
		break;
	case RULES_P_RARP:
		strbuf_printf(b, " ether type 0x8035");
		break;
	case RULES_P_IPV4:
		strbuf_printf(b, " ether type 0x0800");
		break;
	case RULES_P_IPV6:
		strbuf_printf(b, " ether type 0x86dd");
		break;
	default:
		break;
	}
	if (r->src_mac.set)
		put_mac(b, "ether saddr", r, &r->src_mac);
	if (r->dst_mac.set)
		put_mac(b, "ether daddr", r, &r->dst_mac);
	if (r->proto == RULES_P_ARP || r->proto == RULES_P_RARP)
		put_arp(b, r);
	if (r->proto == RULES_P_IPV4 || r->proto == RULES_P_IPV6)
		put_l3(b, r, r->proto == RULES_P_IPV4, -1);
}

/* The IP protocol number of an iptables-level protocol; -1 for "all". */
static int l4_number(enum rules_proto p)
{
	static const int nums[RULES_P_COUNT] = {
		[RULES_P_TCP] = 6,      [RULES_P_TCP6] = 6,       [RULES_P_UDP] = 17,     [RULES_P_UDP6] = 17,
		[RULES_P_ICMP] = 1,     [RULES_P_ICMP6] = 58,     [RULES_P_SCTP] = 132,   [RULES_P_SCTP6] = 132,
		[RULES_P_UDPLITE] = 136, [RULES_P_UDPLITE6] = 136, [RULES_P_ESP] = 50,     [RULES_P_ESP6] = 50,
		[RULES_P_AH] = 51,      [RULES_P_AH6] = 51,       [RULES_P_IGMP] = 2,     [RULES_P_ALLIP] = -1,
		[RULES_P_ALLIP6] = -1,
	};

	return (unsigned)p < RULES_P_COUNT ? nums[p] : -1;
}

/* libvirt's matches beyond addresses and ports (iptables' -m iprange,
 * -m dscp, --tcp-flags and an ICMP code), each negated on its own as
 * iptables' "!" before each option does; an ICMP type with its code is
 * one iptables option, so its negation is of both together (one 16-bit
 * compare of the ICMP header's first two bytes). */
static void match_l3_xml(struct strbuf *b, const struct rules_rule *r, const char *x)
{
	const struct rules_iprange *rg[2] = { &r->src_range, &r->dst_range };
	static const char *const dir[2] = { "saddr", "daddr" };
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];

	for (int i = 0; i < 2; i++) {
		if (!rg[i]->set)
			continue;
		if (!inet_ntop(rg[i]->af, rg[i]->lo, lo, sizeof(lo)) || !inet_ntop(rg[i]->af, rg[i]->hi, hi, sizeof(hi)))
			assert(false);
		strbuf_printf(b, " %s %s %s%s-%s", x, dir[i], cmp_op(r), lo, hi);
	}
	if (r->dscp.set)
		strbuf_printf(b, " %s dscp %s0x%02x", x, cmp_op(r), r->dscp.v);
	if (r->tcp_flags.set)
		strbuf_printf(b, " tcp flags & 0x%02x %s 0x%02x", r->tcp_mask.v, r->match ? "==" : "!=",
			      r->tcp_flags.v);
}

/* The match of an iptables/ip6tables-level rule. */
static void match_l3(struct strbuf *b, const struct rules_rule *r)
{
	bool v4 = rules_proto_family(r->proto) == RULES_IP4;
	const char *icmp = v4 ? "icmp" : "icmpv6";

	strbuf_printf(b, " ether type %s", v4 ? "0x0800" : "0x86dd");
	put_l3(b, r, v4, l4_number(r->proto));
	match_l3_xml(b, r, v4 ? "ip" : "ip6");
	if (!r->icmp_type.set || (v4 && r->icmp_type.v == 255))
		return;
	if (!r->icmp_code.set)
		strbuf_printf(b, " %s type %s%u", icmp, cmp_op(r), r->icmp_type.v);
	else if (r->match)
		strbuf_printf(b, " %s type %u %s code %u", icmp, r->icmp_type.v, icmp, r->icmp_code.v);
	else
		strbuf_printf(b, " @th,0,16 != 0x%02x%02x", r->icmp_type.v, r->icmp_code.v);
}

/* One line of rule r (its variables already replaced) in chain. */
static void line(struct strbuf *b, const char *chain, const struct rules_rule *r, bool l2_sub)
{
	strbuf_printf(b, "add rule " T " %s", chain);
	if (rules_proto_family(r->proto) == RULES_EB)
		match_l2(b, r);
	else
		match_l3(b, r);
	strbuf_printf(b, " %s\n", verdict(r, l2_sub));
}

/* Every line of r: one per combination of variable values (rules.h). */
static void emit(struct strbuf *b, const char *chain, const struct rules_rule *r, const struct nvals *v,
		 bool l2_sub)
{
	struct rules_rule x = *r;
	struct rules_ip *ipf[4] = { &x.src_ip, &x.dst_ip, &x.arp_src_ip, &x.arp_dst_ip };
	struct rules_mac *macf[4] = { &x.src_mac, &x.dst_mac, &x.arp_src_mac, &x.arp_dst_mac };
	enum rules_var vars[2] = { RULES_VAR_NONE, RULES_VAR_NONE };
	size_t nv = 0, cnt[2] = { 1, 1 };
	int af = rules_proto_af(r->proto);

	/* iptables' "! --icmp-type any" matches no packet, so the rule
	 * matches none either: it is left out. */
	if (!r->match && r->icmp_type.set && r->icmp_type.v == 255 &&
	    rules_proto_family(r->proto) == RULES_IP4)
		return;
	for (size_t i = 0; i < ELEMENTSOF(macf); i++) {
		if (!macf[i]->set || macf[i]->var == RULES_VAR_NONE)
			continue;
		/* Without a gateway's MAC the rule is left out (rules.h). */
		if (macf[i]->var == RULES_VAR_GATEWAY_MAC && !v->has_gw)
			return;
		memcpy(macf[i]->addr, macf[i]->var == RULES_VAR_MAC ? v->mac : v->gw, 6);
		memcpy(macf[i]->mask, ones, 6);
	}
	for (size_t i = 0; i < ELEMENTSOF(ipf); i++) {
		enum rules_var var = ipf[i]->var;

		if (!ipf[i]->set || var == RULES_VAR_NONE || var == vars[0] || var == vars[1])
			continue;
		assert(nv < 2);
		var_at(v, var, af, 0, &cnt[nv]);
		if (cnt[nv] == 0)
			return; /* no value fits: the rule is left out */
		vars[nv++] = var;
	}
	for (size_t k0 = 0; k0 < cnt[0]; k0++)
		for (size_t k1 = 0; k1 < cnt[1]; k1++) {
			for (size_t i = 0; i < ELEMENTSOF(ipf); i++) {
				const struct naddr *a;

				if (!ipf[i]->set || ipf[i]->var == RULES_VAR_NONE)
					continue;
				a = var_at(v, ipf[i]->var, af, ipf[i]->var == vars[0] ? k0 : k1, NULL);
				ipf[i]->af = a->af;
				memcpy(ipf[i]->addr, a->a, 16);
				ipf[i]->prefix = a->af == AF_INET ? 32 : 128;
			}
			line(b, chain, &x, l2_sub);
		}
}

/* --- what this target cannot express --- */

/* The name of a protocol only libvirt's XML filters have that this
 * target does not render, or NULL. */
static const char *xml_only_proto(enum rules_proto p)
{
	return p == RULES_P_VLAN ? "vlan" : NULL;
}

/* The first match field of r that no line of this target renders, or NULL. */
static const char *unrendered_field(const struct rules_rule *r)
{
	if (r->vlan_id.set || r->vlan_encap.set)
		return "vlan";
	/* ebtables compares the sender's and the target's IP with each
	 * other; nft compares a field with a constant only. */
	if (r->arp_gratuitous.set)
		return "arp gratuitous";
	if (r->ct_state.set)
		return "state";
	if (rules_proto_family(r->proto) == RULES_EB &&
	    (r->icmp_type.set || r->icmp_code.set || r->src_range.set || r->dst_range.set || r->dscp.set ||
	     r->tcp_flags.set))
		return "icmp, address range, dscp or tcp flags on an ebtables-level protocol";
	return NULL;
}

/* Why the netdev target cannot have r's construct, where that is not
 * just a rendering netd lacks. */
static const char *why_not(const struct rules_rule *r)
{
	if (r->ct_state.set)
		return ": connection tracking never sees a macvtap guest's frames, which bypass the "
		       "host's IP stack, so no netdev hook has a conntrack state";
	return "";
}

/* 0, or -EINVAL with a message naming the first construct of the
 * binding's rules that the netdev target cannot render: a binding is
 * refused rather than given fewer or different rules than its filter
 * says. libvirt's sub-chains and <filterref> parameters are rendered
 * (rules_items_collect(), rules_flatten()), as for ebtables. */
static int nft_check(const struct rules_items *it, char **ret_error)
{
	char q[RULES_QUOTE_MAX];
	const char *what;

	for (size_t i = 0; i < it->n; i++) {
		const struct rules_rule *r = it->v[i].r;
		const char *kind = "protocol";
		char where[48];

		what = xml_only_proto(r->proto);
		if (!what) {
			kind = "match";
			what = unrendered_field(r);
		}
		if (!what)
			continue;
		snprintf(where, sizeof(where), "line %u", r->line);
		for (size_t k = 0; !r->line && k < it->v[i].f->n_rules; k++)
			if (r == &it->v[i].f->rules[k])
				snprintf(where, sizeof(where), "rule %zu", k + 1);
		return rules_errorf(ret_error, "filter: %s, %s: %s %s is not supported by the nftables "
				    "netdev backend (macvtap/macvlan ports)%s", rules_quote(it->v[i].f->name, q),
				    where, kind, what, why_not(r));
	}
	return 0;
}

/* --- chains --- */

static void put_base_decl(struct strbuf *b, const char *chain, bool to_guest, const char *port)
{
	strbuf_printf(b, "add chain " T " %s { type filter hook %s device \"%s\" priority filter; "
		      "policy accept; }\n", chain, to_guest ? "ingress" : "egress", port);
}

/* The length of line's match: all but its verdict (" accept\n", ...). */
static size_t match_len(const char *line, size_t len)
{
	while (len > 0 && line[len - 1] != ' ')
		len--;
	return len;
}

/* Leave out the lines of b (one chain's rules) that no packet can reach:
 * a rule whose match is an earlier rule's, since every verdict here ends
 * the chain (accept, drop, return). clean-traffic has one: allow-arp's
 * ARP accept behind no-arp-spoofing's ARP drop. The kernel would hold
 * and evaluate it for nothing, and nft parse it (5% of B10's nft run). */
static void drop_shadowed(struct strbuf *b)
{
	struct kept {
		size_t off, m; /* a kept line's offset in b, its match's length */
	};
	_cleanup_free_ struct kept *kept = NULL;
	size_t n = 0, nl = 0, in = 0, out = 0;

	if (!b->p || b->oom)
		return;
	for (size_t i = 0; i < b->len; i++)
		nl += b->p[i] == '\n';
	kept = calloc(nl + 1, sizeof(*kept));
	if (!kept) {
		b->oom = true;
		return;
	}
	while (in < b->len) {
		const char *eol = memchr(b->p + in, '\n', b->len - in);
		size_t len = eol ? (size_t)(eol - (b->p + in)) + 1 : b->len - in;
		size_t m = match_len(b->p + in, len);
		bool dup = false;

		for (size_t k = 0; k < n && !dup; k++)
			dup = kept[k].m == m && memcmp(b->p + kept[k].off, b->p + in, m) == 0;
		if (!dup) {
			memmove(b->p + out, b->p + in, len);
			kept[n++] = (struct kept){ .off = out, .m = m };
			out += len;
		}
		in += len;
	}
	b->len = out;
	b->p[out] = '\0';
}

static size_t count_values(const void *u, enum rules_var var, int af)
{
	const struct nvals *v = u;
	size_t c = 0;

	if (var == RULES_VAR_MAC)
		return 1;
	if (var == RULES_VAR_GATEWAY_MAC)
		return v->has_gw;
	var_at(v, var, af, 0, &c);
	return c;
}

/* The L2 rules of one direction into l2, the L3 ones into l3: with
 * libvirt's sub-chains folded into the one chain as for ebtables
 * (flatten.c) when the filter has any. 0, -ENOMEM or -EINVAL. */
static int emit_dir(struct strbuf *l2, struct strbuf *l3, const struct rules_items *it, unsigned dir,
		    const char *chain, const char *sub, const struct nvals *v, bool both, char **ret_error)
{
	struct rules_rule *flat = NULL;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < it->n; i++) {
		const struct rules_rule *rr = it->v[i].r;
		bool is2 = rules_proto_family(rr->proto) == RULES_EB;

		if (!(rr->dir & dir) || (is2 && it->chained))
			continue;
		if (is2)
			emit(l2, both ? sub : chain, rr, v, both);
		else
			emit(l3, chain, rr, v, false);
	}
	if (!it->chained)
		return 0;
	r = rules_flatten(it->v, it->n, dir, count_values, v, &flat, &n, ret_error);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		emit(l2, both ? sub : chain, &flat[i], v, both);
	free(flat);
	return 0;
}

/* One direction: the base chain declared and flushed, the -l2 chain
 * declared and flushed when used and removed when not, then the rules.
 * 0, -ENOMEM or -EINVAL (flatten.c). */
static int render_dir(struct strbuf *out, const struct rules_items *it, unsigned dir, const char *chain,
		      const char *port, const struct nvals *v, bool *ret_has, char **ret_error)
{
	struct strbuf l2 = { 0 }, l3 = { 0 };
	char sub[RULES_NFT_CHAIN_MAX];
	bool any2 = false, any3 = false;
	int r;

	snprintf(sub, sizeof(sub), "%s-l2", chain);
	for (size_t i = 0; i < it->n; i++)
		if (it->v[i].r->dir & dir) {
			bool is2 = rules_proto_family(it->v[i].r->proto) == RULES_EB;

			any2 |= is2;
			any3 |= !is2;
		}
	r = emit_dir(&l2, &l3, it, dir, chain, sub, v, any2 && any3, ret_error);
	drop_shadowed(&l2);
	drop_shadowed(&l3);
	put_base_decl(out, chain, dir == RULES_DIR_IN, port);
	strbuf_printf(out, "flush chain " T " %s\n", chain);
	/* Without rules of both levels there is no -l2 chain. One left by an
	 * earlier rendering is not deleted here (4 lines a port, a fifth of
	 * the input): nothing jumps to it any more once the base chain is
	 * flushed, and the removal of the binding deletes it. */
	if (any2 && any3)
		strbuf_printf(out, "add chain " T " %s\nflush chain " T " %s\nadd rule " T " %s jump %s\n",
			      sub, sub, chain, sub);
	strbuf_append(out, l2.p ? l2.p : "", l2.len);
	strbuf_append(out, l3.p ? l3.p : "", l3.len);
	*ret_has = l2.len + l3.len > 0;
	if (l2.oom || l3.oom)
		out->oom = true;
	strbuf_done(&l2);
	strbuf_done(&l3);
	return r;
}

void rules_nft_done(struct rules_nft *r)
{
	if (!r)
		return;
	free(r->text);
	memset(r, 0, sizeof(*r));
}

static int nft_build(const struct rules_defs *d, size_t fi, const char *port, const struct nvals *v,
		     struct rules_nft *out, char **ret_error)
{
	struct rules_items it = { 0 };
	struct strbuf b = { 0 }, h = { 0 };
	int r;

	r = rules_items_collect(d, fi, &it, ret_error);
	if (r == 0)
		r = nft_check(&it, ret_error);
	/* Ingress (to the guest) first, as the listing shows the chains. */
	if (r == 0)
		r = render_dir(&b, &it, RULES_DIR_IN, out->in_chain, port, v, &out->has_in, ret_error);
	if (r == 0)
		r = render_dir(&b, &it, RULES_DIR_OUT, out->out_chain, port, v, &out->has_out, ret_error);
	if (r < 0)
		goto done;
	/* Not through printf: the text is most of the binding's cost. */
	strbuf_printf(&h, "%s\n%zu\n", RULES_NFT_VERSION, b.len);
	strbuf_append(&h, b.p, b.len);
	r = b.oom || h.oom ? -ENOMEM : rules_sha256_hex(h.p, h.len, out->hash);
	if (r == 0)
		out->text = strbuf_steal(&b, NULL);
done:
	strbuf_done(&b);
	strbuf_done(&h);
	rules_items_done(&it);
	return r;
}

int rules_render_nft(const struct rules_defs *d, const char *filter, const char *port,
		     const struct rules_params *p, struct rules_nft *ret, char **ret_error)
{
	struct rules_nft out = { 0 };
	struct nvals v = { 0 };
	char q[RULES_QUOTE_MAX];
	size_t fi;
	int r;

	assert(d && ret && ret_error);
	if (!filter || !rules_defs_find(d, filter, &fi))
		return rules_errorf(ret_error, "filter: no filter named %s",
				    filter ? rules_quote(filter, q) : "NULL");
	if (!rules_port_valid(port))
		return rules_errorf(ret_error,
				    "port: %s is not a valid port name (1..%d characters of A-Z a-z 0-9 _ . "
				    "-, not starting with '-')", port ? rules_quote(port, q) : "NULL",
				    RULES_PORT_MAX);
	r = nvals_parse(p, &v, ret_error);
	if (r == 0) {
		rules_chain_names(port, out.in_chain, out.out_chain);
		r = nft_build(d, fi, port, &v, &out, ret_error);
	}
	free(v.ips);
	free(v.dhcp);
	if (r < 0) {
		rules_nft_done(&out);
		return r;
	}
	*ret = out;
	return 0;
}

void rules_nft_put(const struct rules_nft *r, bool fresh, struct strbuf *b)
{
	static const char flush[] = "flush chain " T " ";
	const char *p = r->text ? r->text : "";

	if (!fresh) {
		strbuf_puts(b, p);
		return;
	}
	/* The text is this file's own: every line ends in '\n'. */
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);

		if (strncmp(p, flush, sizeof(flush) - 1) != 0)
			strbuf_append(b, p, len);
		p += len;
	}
}

int rules_nft_remove(const char *port, struct strbuf *b)
{
	char chain[2][RULES_NFT_CHAIN_MAX];

	if (!rules_port_valid(port))
		return -EINVAL;
	rules_chain_names(port, chain[0], chain[1]);
	/* "add" first, so that a chain already gone is no error; the base
	 * chains first, which drops their jumps into the -l2 chains. */
	for (int k = 0; k < 2; k++) {
		put_base_decl(b, chain[k], k == 0, port);
		strbuf_printf(b, "delete chain " T " %s\n", chain[k]);
	}
	for (int k = 0; k < 2; k++)
		strbuf_printf(b, "add chain " T " %s-l2\ndelete chain " T " %s-l2\n", chain[k],
			      chain[k]);
	return b->oom ? -ENOMEM : 0;
}
