/*
 * render.c: see rules.h. This file owns the restore text: a filter bound
 * to a port becomes per-family chain text, in exactly the form
 * ebtables-save, iptables-save and ip6tables-save (1.8.9, nf_tables) print
 * it back, so that what the daemon wrote and what it reads later can be
 * compared line by line. Every value is formatted here from its binary
 * form (inet_ntop, %02x, %u); no text from a filter file or a parameter
 * reaches the output.
 *
 * What *-save does that is mirrored here: ebtables prints the option
 * names in a fixed order whatever the input order (-p, -s, -d, then the
 * extension's options), negation after the option name ("-s ! X"),
 * addresses without /32 or /128, MACs with the masked-off bits cleared and
 * a full mask left out, four MAC/mask pairs by name (Unicast, Multicast,
 * Broadcast, BGA), ethertypes and IP protocols by the names of netbase's
 * /etc/ethertypes and /etc/protocols, ARP opcodes 1..9 by name, and a
 * single-port range as one port. iptables prints negation before the
 * option ("! -s X"), -s/-d before -p with /32 or /128 always, "-m tcp" /
 * "-m udp" / "-m icmp" / "-m icmp6" before their options, ICMP type 255 as
 * "any", and REJECT with its default --reject-with.
 *
 * The name tables are data rather than getprotobynumber() so that the
 * output does not depend on the machine's files and no I/O happens here.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules-internal.h"
#include "strbuf.h"
#include "valid.h"
#include "util.h"

/* --- names as *-save prints them --- */

struct num_name {
	unsigned num;
	const char *name;
};

/* netbase 6.4 /etc/ethertypes: the first name of each number. */
static const struct num_name ethertypes[] = {
	{ 0x0800, "IPv4" },     { 0x0805, "X25" },        { 0x0806, "ARP" },
	{ 0x0808, "FR_ARP" },   { 0x08ff, "BPQ" },        { 0x22f3, "TRILL" },
	{ 0x22f4, "L2-IS-IS" }, { 0x6558, "TEB" },        { 0x6559, "RAW_FR" },
	{ 0x8035, "RARP" },     { 0x809b, "ATALK" },      { 0x80f3, "AARP" },
	{ 0x8100, "802_1Q" },   { 0x8137, "IPX" },        { 0x8191, "NetBEUI" },
	{ 0x86dd, "IPv6" },     { 0x880b, "PPP" },        { 0x8847, "MPLS" },
	{ 0x8848, "MPLS_MULTI" }, { 0x884c, "ATMMPOA" },  { 0x8863, "PPP_DISC" },
	{ 0x8864, "PPP_SES" },  { 0x8884, "ATMFATE" },    { 0x888e, "EAPOL" },
	{ 0x88a8, "S-TAG" },    { 0x88c7, "EAP_PREAUTH" }, { 0x88cc, "LLDP" },
	{ 0x88e5, "MACSEC" },   { 0x88e7, "PBB" },        { 0x88f5, "MVRP" },
	{ 0x88f7, "PTP" },      { 0x8906, "FCOE" },       { 0x8914, "FIP" },
	{ 0x8915, "ROCE" },     { 0xa0ed, "LoWPAN" },
};

/* netbase 6.4 /etc/protocols: the first name of each number, as
 * getprotobynumber() returns it to ebtables. */
static const struct num_name ip_protocols[] = {
	{ 0, "ip" },          { 1, "icmp" },        { 2, "igmp" },        { 3, "ggp" },
	{ 4, "ipencap" },     { 5, "st" },          { 6, "tcp" },         { 8, "egp" },
	{ 9, "igp" },         { 12, "pup" },        { 17, "udp" },        { 20, "hmp" },
	{ 22, "xns-idp" },    { 27, "rdp" },        { 29, "iso-tp4" },    { 33, "dccp" },
	{ 36, "xtp" },        { 37, "ddp" },        { 38, "idpr-cmtp" },  { 41, "ipv6" },
	{ 43, "ipv6-route" }, { 44, "ipv6-frag" },  { 45, "idrp" },       { 46, "rsvp" },
	{ 47, "gre" },        { 50, "esp" },        { 51, "ah" },         { 57, "skip" },
	{ 58, "ipv6-icmp" },  { 59, "ipv6-nonxt" }, { 60, "ipv6-opts" },  { 73, "rspf" },
	{ 81, "vmtp" },       { 88, "eigrp" },      { 89, "ospf" },       { 93, "ax.25" },
	{ 94, "ipip" },       { 97, "etherip" },    { 98, "encap" },      { 103, "pim" },
	{ 108, "ipcomp" },    { 112, "vrrp" },      { 115, "l2tp" },      { 124, "isis" },
	{ 132, "sctp" },      { 133, "fc" },        { 135, "mobility-header" },
	{ 136, "udplite" },   { 137, "mpls-in-ip" }, { 138, "manet" },    { 139, "hip" },
	{ 140, "shim6" },     { 141, "wesp" },      { 142, "rohc" },      { 143, "ethernet" },
};

/* ebtables' ARP opcode names, 1..9. */
static const char *const arp_opcodes[] = {
	NULL, "Request", "Reply", "Request_Reverse", "Reply_Reverse", "DRARP_Request",
	"DRARP_Reply", "DRARP_Error", "InARP_Request", "ARP_NAK",
};

static const char *num_name(const struct num_name *t, size_t n, unsigned num)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].num == num)
			return t[i].name;
	return NULL;
}

/* --- fields --- */

static const uint8_t mac_ones[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* "%02x:...:%02x" without snprintf: a binding has a few MACs in most of
 * its rules, and every binding is rendered at each start. */
static void fmt_mac(char out[18], const uint8_t m[6])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 6; i++) {
		out[3 * i] = digits[m[i] >> 4];
		out[3 * i + 1] = digits[m[i] & 0xf];
		out[3 * i + 2] = i < 5 ? ':' : '\0';
	}
}

/* " -s X" / " --arp-mac-src ! X/M"; -s and -d know four pairs by name. */
static void put_mac(struct strbuf *b, const char *opt, const char *neg, const struct rules_mac *m, bool named)
{
	static const struct {
		uint8_t addr[6], mask[6];
		const char *name;
	} known[] = {
		{ { 0 }, { 1 }, "Unicast" },
		{ { 1 }, { 1 }, "Multicast" },
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		  "Broadcast" },
		{ { 0x01, 0x80, 0xc2 }, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, "BGA" },
	};
	char a[18], k[18];

	for (size_t i = 0; named && i < ELEMENTSOF(known); i++)
		if (memcmp(m->addr, known[i].addr, 6) == 0 && memcmp(m->mask, known[i].mask, 6) == 0) {
			strbuf_printf(b, " %s %s%s", opt, neg, known[i].name);
			return;
		}
	fmt_mac(a, m->addr);
	if (memcmp(m->mask, mac_ones, 6) == 0) {
		strbuf_printf(b, " %s %s%s", opt, neg, a);
	} else {
		fmt_mac(k, m->mask);
		strbuf_printf(b, " %s %s%s/%s", opt, neg, a, k);
	}
}

/* The address, with "/prefix" when it is not the full length or when
 * always (iptables). */
static void fmt_ip(char out[INET6_ADDRSTRLEN + 5], const struct rules_ip *ip, bool always)
{
	char a[INET6_ADDRSTRLEN];
	unsigned full = ip->af == AF_INET ? 32 : 128;

	if (!inet_ntop(ip->af, ip->addr, a, sizeof(a)))
		assert(false); /* af is always AF_INET or AF_INET6 */
	if (always || ip->prefix != full)
		snprintf(out, INET6_ADDRSTRLEN + 5, "%s/%u", a, ip->prefix);
	else
		snprintf(out, INET6_ADDRSTRLEN + 5, "%s", a);
}

static void fmt_range(char out[12], const struct rules_range *r)
{
	if (r->lo == r->hi)
		snprintf(out, 12, "%u", r->lo);
	else
		snprintf(out, 12, "%u:%u", r->lo, r->hi);
}

/* --- lines --- */

/* ebtables' ARP/RARP matches of a rule. */
static void line_eb_arp(struct strbuf *b, const struct rules_rule *r, const char *neg)
{
	char t[INET6_ADDRSTRLEN + 5];

	if (r->arp_op.set) {
		if (r->arp_op.v < ELEMENTSOF(arp_opcodes))
			strbuf_printf(b, " --arp-op %s%s", neg, arp_opcodes[r->arp_op.v]);
		else
			strbuf_printf(b, " --arp-op %s%u", neg, r->arp_op.v);
	}
	if (r->arp_htype.set)
		strbuf_printf(b, " --arp-htype %s%u", neg, r->arp_htype.v);
	if (r->arp_ptype.set)
		strbuf_printf(b, " --arp-ptype %s0x%x", neg, r->arp_ptype.v);
	if (r->arp_src_ip.set) {
		fmt_ip(t, &r->arp_src_ip, false);
		strbuf_printf(b, " --arp-ip-src %s%s", neg, t);
	}
	if (r->arp_dst_ip.set) {
		fmt_ip(t, &r->arp_dst_ip, false);
		strbuf_printf(b, " --arp-ip-dst %s%s", neg, t);
	}
	if (r->arp_src_mac.set)
		put_mac(b, "--arp-mac-src", neg, &r->arp_src_mac, false);
	if (r->arp_dst_mac.set)
		put_mac(b, "--arp-mac-dst", neg, &r->arp_dst_mac, false);
	if (r->arp_gratuitous.set) /* its negation goes before the option */
		strbuf_printf(b, " %s--arp-gratuitous", neg);
}

/* ebtables' IPv4/IPv6 matches of a rule. */
static void line_eb_ip(struct strbuf *b, const struct rules_rule *r, const char *neg)
{
	const char *x = r->proto == RULES_P_IPV4 ? "ip" : "ip6";
	bool ports = r->src_port.set || r->dst_port.set;
	char t[INET6_ADDRSTRLEN + 5];

	if (r->src_ip.set) {
		fmt_ip(t, &r->src_ip, false);
		strbuf_printf(b, " --%s-src %s%s", x, neg, t);
	}
	if (r->dst_ip.set) {
		fmt_ip(t, &r->dst_ip, false);
		strbuf_printf(b, " --%s-dst %s%s", x, neg, t);
	}
	if (r->ip_protocol.set) {
		const char *name = num_name(ip_protocols, ELEMENTSOF(ip_protocols), r->ip_protocol.v);

		/* With ports the protocol is their condition: see
		 * parse_rule(). */
		strbuf_printf(b, " --%s-proto %s", x, ports ? "" : neg);
		if (name)
			strbuf_printf(b, "%s", name);
		else
			strbuf_printf(b, "%u", r->ip_protocol.v);
	}
	if (r->src_port.set) {
		fmt_range(t, &r->src_port);
		strbuf_printf(b, " --%s-sport %s%s", x, neg, t);
	}
	if (r->dst_port.set) {
		fmt_range(t, &r->dst_port);
		strbuf_printf(b, " --%s-dport %s%s", x, neg, t);
	}
}

static void line_eb(struct strbuf *b, const char *chain, const struct rules_rule *r)
{
	static const char *const targets[] = {
		[RULES_A_ACCEPT] = "ACCEPT", [RULES_A_DROP] = "DROP",
		[RULES_A_REJECT] = "DROP", /* ebtables cannot reject */
		[RULES_A_RETURN] = "RETURN",
	};
	const char *neg = r->match ? "" : "! ";

	strbuf_printf(b, "-A %s", chain);
	switch (r->proto) {
	case RULES_P_MAC:
		if (r->ethertype.set) {
			const char *name = num_name(ethertypes, ELEMENTSOF(ethertypes), r->ethertype.v);

			if (name)
				strbuf_printf(b, " -p %s%s", neg, name);
			else
				strbuf_printf(b, " -p %s0x%x", neg, r->ethertype.v);
		}
		break;
	case RULES_P_ARP:
		strbuf_printf(b, " -p ARP");
		break;
	case RULES_P_RARP:
		strbuf_printf(b, " -p RARP");
		break;
	case RULES_P_IPV4:
		strbuf_printf(b, " -p IPv4");
		break;
	case RULES_P_IPV6:
		strbuf_printf(b, " -p IPv6");
		break;
	case RULES_P_VLAN:
		strbuf_printf(b, " -p 802_1Q");
		break;
	default:
		break;
	}
	if (r->src_mac.set)
		put_mac(b, "-s", neg, &r->src_mac, true);
	if (r->dst_mac.set)
		put_mac(b, "-d", neg, &r->dst_mac, true);

	if (r->proto == RULES_P_ARP || r->proto == RULES_P_RARP)
		line_eb_arp(b, r, neg);
	if (r->proto == RULES_P_IPV4 || r->proto == RULES_P_IPV6)
		line_eb_ip(b, r, neg);
	if (r->proto == RULES_P_VLAN)
		rules_line_eb_vlan(b, r, neg);
	strbuf_printf(b, " -j %s\n", targets[r->action]);
}

static void line_ip(struct strbuf *b, enum rules_family fam, const char *chain, const struct rules_rule *r)
{
	static const char *const targets[] = {
		[RULES_A_ACCEPT] = "ACCEPT", [RULES_A_DROP] = "DROP",
		[RULES_A_REJECT] = "REJECT", [RULES_A_RETURN] = "RETURN",
	};
	const char *neg = r->match ? "" : "! ";
	char t[INET6_ADDRSTRLEN + 5];

	strbuf_printf(b, "-A %s", chain);
	if (r->src_ip.set) {
		fmt_ip(t, &r->src_ip, true);
		strbuf_printf(b, " %s-s %s", neg, t);
	}
	if (r->dst_ip.set) {
		fmt_ip(t, &r->dst_ip, true);
		strbuf_printf(b, " %s-d %s", neg, t);
	}
	switch (r->proto) {
	case RULES_P_TCP:
	case RULES_P_TCP6:
	case RULES_P_UDP:
	case RULES_P_UDP6: {
		const char *p = r->proto == RULES_P_TCP || r->proto == RULES_P_TCP6 ? "tcp" : "udp";

		strbuf_printf(b, " -p %s", p);
		if (r->src_port.set || r->dst_port.set || r->tcp_flags.set)
			strbuf_printf(b, " -m %s", p);
		if (r->src_port.set) {
			fmt_range(t, &r->src_port);
			strbuf_printf(b, " %s--sport %s", neg, t);
		}
		if (r->dst_port.set) {
			fmt_range(t, &r->dst_port);
			strbuf_printf(b, " %s--dport %s", neg, t);
		}
		rules_line_tcp_flags(b, r, neg);
		break;
	}
	case RULES_P_ICMP:
		strbuf_printf(b, " -p icmp");
		if (r->icmp_type.set) {
			/* Type 255 is iptables' "any": every type. */
			if (r->icmp_type.v == 255)
				strbuf_printf(b, " -m icmp %s--icmp-type any", neg);
			else if (r->icmp_code.set)
				strbuf_printf(b, " -m icmp %s--icmp-type %u/%u", neg, r->icmp_type.v, r->icmp_code.v);
			else
				strbuf_printf(b, " -m icmp %s--icmp-type %u", neg, r->icmp_type.v);
		}
		break;
	case RULES_P_ICMP6:
		strbuf_printf(b, " -p ipv6-icmp");
		if (r->icmp_type.set && r->icmp_code.set)
			strbuf_printf(b, " -m icmp6 %s--icmpv6-type %u/%u", neg, r->icmp_type.v, r->icmp_code.v);
		else if (r->icmp_type.set)
			strbuf_printf(b, " -m icmp6 %s--icmpv6-type %u", neg, r->icmp_type.v);
		break;
	default:
		rules_line_ip_other(b, r, neg);
	}
	if (r->src_range.set || r->dst_range.set || r->dscp.set || r->ct_state.set)
		rules_line_ip_range(b, r, neg);
	strbuf_printf(b, " -j %s", targets[r->action]);
	if (r->action == RULES_A_REJECT)
		strbuf_printf(b, " --reject-with %s",
			  fam == RULES_IP4 ? "icmp-port-unreachable" : "icmp6-port-unreachable");
	strbuf_printf(b, "\n");
}

/* --- parameters and expansion --- */

struct addr {
	int af;
	uint8_t a[16];
};

struct pvals {
	uint8_t mac[6];
	uint8_t gateway_mac[6];
	bool has_gateway_mac;
	struct addr *ips;
	size_t n_ips;
	struct addr *dhcp;
	size_t n_dhcp;
};

static int params_parse(const struct rules_params *p, struct pvals *v, char **ret_error)
{
	char q[RULES_QUOTE_MAX];

	if (!p || !p->mac)
		return rules_errorf(ret_error, "MAC: missing");
	if (rules_param_check("MAC", p->mac) < 0)
		return rules_errorf(ret_error,
				    "MAC: %s is not a unicast MAC address (aa:bb:cc:dd:ee:ff, not all zero)",
				    rules_quote(p->mac, q));
	valid_parse_mac(p->mac, v->mac);
	if (p->gateway_mac) {
		if (rules_param_check("GATEWAY_MAC", p->gateway_mac) < 0)
			return rules_errorf(ret_error, "GATEWAY_MAC: %s is not a unicast MAC address",
					    rules_quote(p->gateway_mac, q));
		valid_parse_mac(p->gateway_mac, v->gateway_mac);
		v->has_gateway_mac = true;
	}
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
	return 0;
}

/* The values of variable var that are of address family af, counted, or
 * the k-th of them. */
static size_t var_count(const struct pvals *v, enum rules_var var, int af)
{
	const struct addr *a = var == RULES_VAR_IP ? v->ips : v->dhcp;
	size_t n = var == RULES_VAR_IP ? v->n_ips : v->n_dhcp, c = 0;

	if (var == RULES_VAR_MAC)
		return 1;
	if (var == RULES_VAR_GATEWAY_MAC)
		return v->has_gateway_mac;

	for (size_t i = 0; i < n; i++)
		c += a[i].af == af;
	return c;
}

static const struct addr *var_nth(const struct pvals *v, enum rules_var var, int af, size_t k)
{
	const struct addr *a = var == RULES_VAR_IP ? v->ips : v->dhcp;
	size_t n = var == RULES_VAR_IP ? v->n_ips : v->n_dhcp;

	for (size_t i = 0; i < n; i++)
		if (a[i].af == af && k-- == 0)
			return &a[i];
	assert(false);
	return NULL;
}

/* All lines of rule r in chain: one per combination of variable values. */
static void emit_rule(struct strbuf *b, enum rules_family fam, const char *chain, const struct rules_rule *r,
		      const struct pvals *v)
{
	struct rules_rule x = *r;
	struct rules_ip *ipf[4] = { &x.src_ip, &x.dst_ip, &x.arp_src_ip, &x.arp_dst_ip };
	struct rules_mac *macf[4] = { &x.src_mac, &x.dst_mac, &x.arp_src_mac, &x.arp_dst_mac };
	enum rules_var vars[2] = { RULES_VAR_NONE, RULES_VAR_NONE };
	size_t nv = 0, cnt[2] = { 1, 1 };
	int af = rules_proto_af(r->proto);

	for (size_t i = 0; i < ELEMENTSOF(macf); i++) {
		if (!macf[i]->set || macf[i]->var == RULES_VAR_NONE)
			continue;
		/* Without a gateway's MAC the rule is left out, as a list
		 * variable without values leaves its rule out. */
		if (macf[i]->var == RULES_VAR_GATEWAY_MAC && !v->has_gateway_mac)
			return;
		memcpy(macf[i]->addr, macf[i]->var == RULES_VAR_MAC ? v->mac : v->gateway_mac, 6);
		memcpy(macf[i]->mask, mac_ones, 6);
	}
	/* The distinct list variables, in the order of their first field. */
	for (size_t i = 0; i < ELEMENTSOF(ipf); i++) {
		enum rules_var var = ipf[i]->var;

		if (!ipf[i]->set || var == RULES_VAR_NONE || var == vars[0] || var == vars[1])
			continue;
		assert(nv < 2);
		cnt[nv] = var_count(v, var, af);
		if (cnt[nv] == 0)
			return; /* no value fits: the rule is left out */
		vars[nv++] = var;
	}
	for (size_t k0 = 0; k0 < cnt[0]; k0++)
		for (size_t k1 = 0; k1 < cnt[1]; k1++) {
			for (size_t i = 0; i < ELEMENTSOF(ipf); i++) {
				const struct addr *a;

				if (!ipf[i]->set || ipf[i]->var == RULES_VAR_NONE)
					continue;
				a = var_nth(v, ipf[i]->var, af, ipf[i]->var == vars[0] ? k0 : k1);
				ipf[i]->af = a->af;
				memcpy(ipf[i]->addr, a->a, 16);
				ipf[i]->prefix = a->af == AF_INET ? 32 : 128;
			}
			if (fam == RULES_EB)
				line_eb(b, chain, &x);
			else
				line_ip(b, fam, chain, &x);
		}
}

static void hex_of(const unsigned char md[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 0xf];
	}
	out[64] = '\0';
}

int rules_sha256_hex(const void *p, size_t n, char out[65])
{
	static EVP_MD *sha256; /* fetched once: EVP_sha256() looks it up each call */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (!sha256)
		sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!sha256 || !EVP_Digest(p, n, md, &len, sha256, NULL) || len != 32)
		return -ENOMEM;
	hex_of(md, out);
	return 0;
}

/* The hash of RULES_RENDER_VERSION and the texts, each length-prefixed
 * so that no text can pose as another's end. The pieces are digested in
 * turn rather than copied into one buffer first: at a start every
 * binding is rendered and hashed, and that copy was a sixth of it. */
static int render_hash(const struct rules_render *r, char out[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	char head[64];
	bool ok;
	int n;

	if (!ctx)
		return -ENOMEM;
	n = snprintf(head, sizeof(head), "%s\n", RULES_RENDER_VERSION);
	ok = n > 0 && (size_t)n < sizeof(head) && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, head, (size_t)n);
	for (int f = 0; ok && f < RULES_FAMILIES; f++) {
		size_t tl = r->text[f] ? strlen(r->text[f]) : 0;

		if (r->text[f])
			n = snprintf(head, sizeof(head), "%d %zu\n", f, tl);
		else
			n = snprintf(head, sizeof(head), "%d -\n", f);
		ok = n > 0 && (size_t)n < sizeof(head) && EVP_DigestUpdate(ctx, head, (size_t)n) &&
		     (tl == 0 || EVP_DigestUpdate(ctx, r->text[f], tl));
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &len) && len == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -ENOMEM;
	hex_of(md, out);
	return 0;
}

void rules_render_done(struct rules_render *r)
{
	if (!r)
		return;
	for (int f = 0; f < RULES_FAMILIES; f++)
		free(r->text[f]);
	memset(r, 0, sizeof(*r));
}

static size_t count_values(const void *u, enum rules_var var, int af)
{
	return var_count(u, var, af);
}

/* The reply of an accept rule with libvirt's statematch (xml.c) in the
 * other direction: its addresses and ports swapped, ESTABLISHED only.
 * libvirt has none for an ICMP type (a reply's type differs). */
static bool reply_of(const struct rules_rule *r, struct rules_rule *ret)
{
	if (!r->ct_auto || r->icmp_type.set)
		return false;
	*ret = *r;
	ret->dir = r->dir ^ (RULES_DIR_IN | RULES_DIR_OUT);
	ret->src_ip = r->dst_ip;
	ret->dst_ip = r->src_ip;
	ret->src_range = r->dst_range;
	ret->dst_range = r->src_range;
	ret->src_port = r->dst_port;
	ret->dst_port = r->src_port;
	ret->ct_state.v = RULES_CT_ESTABLISHED;
	return true;
}

/* The lines of one direction: in ebtables with libvirt's sub-chains
 * folded into the one chain (flatten.c) when the filter has any. */
static int emit_direction(struct strbuf *b, enum rules_family fam, const char *chain, unsigned dir,
			  const struct rules_items *it, const struct pvals *v, char **ret_error)
{
	struct rules_rule *flat = NULL;
	size_t n = 0;
	int r;

	if (fam != RULES_EB || !it->chained) {
		for (size_t i = 0; i < it->n; i++) {
			const struct rules_rule *rr = it->v[i].r;
			struct rules_rule reply;

			if (rules_proto_family(rr->proto) != fam)
				continue;
			if (rr->dir & dir)
				emit_rule(b, fam, chain, rr, v);
			else if (reply_of(rr, &reply))
				emit_rule(b, fam, chain, &reply, v);
		}
		return 0;
	}
	r = rules_flatten(it->v, it->n, dir, count_values, v, &flat, &n, ret_error);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		emit_rule(b, fam, chain, &flat[i], v);
	free(flat);
	return 0;
}

/* One family's text of out: chain declarations, then the rules of it in
 * order, in the in and out chains; out->text[fam] stays NULL when the
 * filter has no rule of that family. 0, -ENOMEM or -EINVAL (flatten.c). */
static int render_family(struct rules_render *out, enum rules_family fam, const struct rules_items *it,
			 const struct pvals *v, char **ret_error)
{
	struct strbuf lines[2] = { { 0 } }, text = { 0 };
	const unsigned dirs[2] = { RULES_DIR_IN, RULES_DIR_OUT };
	const char *chains[2] = { out->in_chain, out->out_chain };
	bool oom;
	int r = 0;

	for (int k = 0; k < 2 && r >= 0; k++)
		r = emit_direction(&lines[k], fam, chains[k], dirs[k], it, v, ret_error);
	if (r < 0) {
		strbuf_done(&lines[0]);
		strbuf_done(&lines[1]);
		return r;
	}
	out->has_in[fam] = lines[0].len > 0;
	out->has_out[fam] = lines[1].len > 0;
	/* Declarations first, then the rules: a chain must exist
	 * before a rule is appended to it. */
	for (int k = 0; k < 2; k++)
		if (lines[k].len > 0)
			strbuf_printf(&text, ":%s %s\n", chains[k], fam == RULES_EB ? "RETURN" : "- [0:0]");
	for (int k = 0; k < 2; k++)
		strbuf_append(&text, lines[k].p, lines[k].len);
	oom = lines[0].oom || lines[1].oom || text.oom;
	strbuf_done(&lines[0]);
	strbuf_done(&lines[1]);
	if (oom) {
		strbuf_done(&text);
		return -ENOMEM;
	}
	/* Kept for as long as the binding lives: without the room the
	 * buffer grew into (up to twice the text). */
	if (text.p) {
		char *shrunk = realloc(text.p, text.len + 1);

		if (shrunk)
			text.p = shrunk;
	}
	out->text[fam] = text.p; /* NULL when empty */
	return 0;
}

int rules_render(const struct rules_defs *d, const char *filter, const char *port,
		 const struct rules_params *p, struct rules_render *ret, char **ret_error)
{
	struct rules_render out = { 0 };
	struct pvals v = { 0 };
	struct rules_items it = { 0 };
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
	r = params_parse(p, &v, ret_error);
	if (r < 0)
		goto out;

	rules_chain_names(port, out.in_chain, out.out_chain);

	r = rules_items_collect(d, fi, &it, ret_error);
	if (r < 0)
		goto out;

	for (int fam = 0; fam < RULES_FAMILIES; fam++) {
		r = render_family(&out, (enum rules_family)fam, &it, &v, ret_error);
		if (r < 0)
			goto out;
	}
	r = render_hash(&out, out.hash);
	if (r < 0)
		goto out;
	*ret = out;
	out = (struct rules_render) { 0 };
out:
	rules_render_done(&out);
	rules_items_done(&it);
	free(v.ips);
	free(v.dhcp);
	return r;
}

/* --- restore-input helpers --- */

/* Chain names netd writes: 1..28 (iptables' limit) characters of
 * [A-Za-z0-9_.-], not starting with '-'. */
static bool chain_valid(const char *c)
{
	size_t n;

	if (!c || c[0] == '-')
		return false;
	for (n = 0; c[n]; n++) {
		char ch = c[n];

		if (n >= 28)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return n > 0;
}

/* Copy a formatted line into buf if it fits, leaving buf alone if not. */
_printf_(3, 4) static int put(char *buf, size_t n, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* Names are checked, so every line fits tmp. */
	assert(len > 0 && (size_t)len < sizeof(tmp));
	if ((size_t)len + 1 > n)
		return -ENOBUFS;
	memcpy(buf, tmp, (size_t)len + 1);
	return len;
}

static bool family_valid(enum rules_family f)
{
	return f == RULES_EB || f == RULES_IP4 || f == RULES_IP6;
}

int rules_chain_decl(enum rules_family f, const char *chain, char *buf, size_t n)
{
	if (!family_valid(f) || !chain_valid(chain))
		return -EINVAL;
	if (f == RULES_EB)
		return put(buf, n, ":%s RETURN\n", chain);
	return put(buf, n, ":%s - [0:0]\n", chain);
}

int rules_chain_delete(enum rules_family f, const char *chain, char *buf, size_t n)
{
	if (!family_valid(f) || !chain_valid(chain))
		return -EINVAL;
	/* ebtables-restore has no -F: declaring the chain flushes it. */
	if (f == RULES_EB)
		return put(buf, n, ":%s RETURN\n-X %s\n", chain, chain);
	return put(buf, n, "-F %s\n-X %s\n", chain, chain);
}

int rules_dispatch_line(enum rules_family f, bool to_guest, const char *port, char *buf, size_t n)
{
	if (!family_valid(f) || !rules_port_valid(port))
		return -EINVAL;
	if (f == RULES_EB)
		return to_guest ? put(buf, n, "-A %s -o %s -j N-I-%s\n", RULES_ROOT_TO, port, port)
				: put(buf, n, "-A %s -i %s -j N-O-%s\n", RULES_ROOT_FROM, port, port);
	if (to_guest)
		return put(buf, n, "-A %s -m physdev --physdev-out %s --physdev-is-bridged -j N-I-%s\n",
			   RULES_ROOT_TO, port, port);
	return put(buf, n, "-A %s -m physdev --physdev-in %s -j N-O-%s\n", RULES_ROOT_FROM, port, port);
}

const char *rules_hook_lines(enum rules_family f)
{
	return "-A INPUT -j " RULES_ROOT_FROM "\n"
	       "-A FORWARD -j " RULES_ROOT_FROM "\n"
	       "-A FORWARD -j " RULES_ROOT_TO "\n"
	       "-A OUTPUT -j " RULES_ROOT_TO "\n";
}
