/*
 * xml.c: libvirt's nwfilter XML format, read with libxml2 into the parsed
 * form of rules-internal.h. One <filter> per file: its name, chain and
 * priority, its <rule>s (action, direction, priority, statematch and one
 * protocol element with its attributes) and its <filterref>s.
 *
 * Only what netd can render with the same meaning is accepted. Anything
 * else (an attribute, element, variable or value netd has no rendering
 * for) refuses the whole file with its line number and the reason, so that
 * a filter never loads with a part of it missing. The chain is kept on the
 * filter: flatten.c turns libvirt's sub-chains into netd's two chains per
 * port when a binding is rendered.
 */
#include "config.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "rules-internal.h"
#include "util.h"
#include "valid.h"

#define XML_RULES_MAX 4096 /* rules and references in one filter */

#define S(x) ((const char *)(x)) /* an XML string as a C string */

_printf_(3, 4) static int xml_errorf(char **ret_error, const xmlNode *n, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return rules_errorf(ret_error, "line %ld: %s", n ? xmlGetLineNo(n) : 0L, msg);
}

/* --- chains --- */

struct chain_kind {
	const char *prefix;
	int prio;                /* libvirt's default priority of such a chain */
	enum rules_proto proto;  /* what a rule without protocol element matches there */
};

static const struct chain_kind chain_kinds[] = {
	{ "root", 0, RULES_P_ALL },      { "mac", -800, RULES_P_ALL },
	{ "ipv4", -700, RULES_P_IPV4 }, { "ipv6", -600, RULES_P_IPV6 },
	{ "arp", -500, RULES_P_ARP },   { "rarp", -400, RULES_P_RARP },
};

/* The kind of a chain name ("arp", "arp-ip", ...), or NULL. */
static const struct chain_kind *chain_kind(const char *name)
{
	for (size_t i = 0; name && i < ELEMENTSOF(chain_kinds); i++) {
		size_t n = strlen(chain_kinds[i].prefix);

		if (strncmp(name, chain_kinds[i].prefix, n) != 0)
			continue;
		if (name[n] == '\0')
			return &chain_kinds[i];
		/* root has no sub-chains; a suffix is [A-Za-z0-9_.-]. */
		if (name[n] != '-' || i == 0 || !name[n + 1] || !rules_name_valid(name + n + 1))
			return NULL;
		return &chain_kinds[i];
	}
	return NULL;
}

enum rules_proto rules_xml_chain_proto(const char *chain)
{
	return chain_kind(chain) ? chain_kind(chain)->proto : RULES_P_ALL;
}

/* --- attribute values --- */

/* The attributes of one element: each must be used, or it is refused. */
struct attrs {
	const xmlNode *node;
	const char *names[24];
	char *values[24];
	bool used[24];
	size_t n;
};

static void attrs_done(struct attrs *a)
{
	while (a->n > 0)
		xmlFree(a->values[--a->n]);
}

static int attrs_read(const xmlNode *n, struct attrs *a, char **ret_error)
{
	memset(a, 0, sizeof(*a));
	a->node = n;
	for (const xmlAttr *p = n->properties; p; p = p->next) {
		if (a->n >= ELEMENTSOF(a->names))
			return xml_errorf(ret_error, n, "<%s>: too many attributes", S(n->name));
		a->names[a->n] = S(p->name);
		a->values[a->n] = (char *)xmlNodeListGetString(n->doc, p->children, 1);
		if (!a->values[a->n])
			a->values[a->n] = (char *)xmlStrdup((const xmlChar *)"");
		if (!a->values[a->n])
			return -ENOMEM;
		a->n++;
	}
	return 0;
}

/* The value of attribute name (marked used), or NULL. */
static const char *attr(struct attrs *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (streq(a->names[i], name)) {
			a->used[i] = true;
			return a->values[i];
		}
	return NULL;
}

/* Refuse the first attribute nothing used. */
static int attrs_check_used(struct attrs *a, char **ret_error)
{
	char q[RULES_QUOTE_MAX];

	for (size_t i = 0; i < a->n; i++)
		if (!a->used[i])
			return xml_errorf(ret_error, a->node,
					  "<%s> attribute %s is not supported by netd (it has no rendering "
					  "with the same meaning)", S(a->node->name), rules_quote(a->names[i], q));
	return 0;
}

/* A decimal or 0x-hexadecimal number in [min, max]. */
static int parse_num(const char *s, unsigned min, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* "$NAME": the variable it names, or an error for the forms and names
 * netd does not bind. 1 for a variable, 0 for a plain value. */
static int parse_var(struct attrs *a, const char *key, const char *s, bool mac, enum rules_var *ret,
		     char **ret_error)
{
	char q[RULES_QUOTE_MAX];

	if (s[0] != '$')
		return 0;
	if (strchr(s, '['))
		return xml_errorf(ret_error, a->node,
				  "<%s> %s=%s: list elements and iterators ($VAR[@1]) are not supported",
				  S(a->node->name), key, rules_quote(s, q));
	if (mac && streq(s, "$MAC"))
		*ret = RULES_VAR_MAC;
	else if (mac && streq(s, "$GATEWAY_MAC"))
		*ret = RULES_VAR_GATEWAY_MAC;
	else if (!mac && (streq(s, "$IP") || streq(s, "$IPV6")))
		*ret = RULES_VAR_IP;
	else if (!mac && streq(s, "$DHCPSERVER"))
		*ret = RULES_VAR_DHCPSERVER;
	else
		return xml_errorf(ret_error, a->node,
				  "<%s> %s=%s: netd binds only $MAC and $GATEWAY_MAC (MAC addresses), "
				  "$IP, $IPV6 and $DHCPSERVER (IP addresses)", S(a->node->name), key,
				  rules_quote(s, q));
	return 1;
}

static int parse_mac_attr(struct attrs *a, const char *key, const char *maskkey, struct rules_mac *ret,
			  char **ret_error)
{
	const char *s = attr(a, key), *mask = maskkey ? attr(a, maskkey) : NULL;
	struct rules_mac m = { .set = true };
	char q[RULES_QUOTE_MAX];
	int r;

	if (!s) {
		if (mask)
			return xml_errorf(ret_error, a->node, "<%s> %s without %s", S(a->node->name),
					  maskkey, key);
		return 0;
	}
	r = parse_var(a, key, s, true, &m.var, ret_error);
	if (r < 0)
		return r;
	if (r > 0 && mask)
		return xml_errorf(ret_error, a->node, "<%s> %s: a mask on a variable is not supported",
				  S(a->node->name), maskkey);
	memset(m.mask, 0xff, 6);
	if (r == 0 && valid_parse_mac(s, m.addr) < 0)
		return xml_errorf(ret_error, a->node, "<%s> %s=%s is not a MAC address", S(a->node->name),
				  key, rules_quote(s, q));
	if (mask && (valid_parse_mac(mask, m.mask) < 0 ||
		     !(m.mask[0] | m.mask[1] | m.mask[2] | m.mask[3] | m.mask[4] | m.mask[5])))
		return xml_errorf(ret_error, a->node, "<%s> %s=%s is not a non-zero MAC mask",
				  S(a->node->name), maskkey, rules_quote(mask, q));
	for (size_t i = 0; i < 6; i++)
		m.addr[i] &= m.mask[i];
	*ret = m;
	return 0;
}

/* A mask: a prefix length, or (IPv4) a dotted netmask. */
static int parse_ip_mask(const char *s, int af, unsigned *ret)
{
	unsigned bits = af == AF_INET ? 32 : 128, p = 0;
	uint8_t m[16];
	int maf;

	if (parse_num(s, 1, bits, ret) == 0 && strncmp(s, "0x", 2) != 0)
		return 0;
	if (rules_parse_addr(s, af, &maf, m) < 0)
		return -EINVAL;
	while (p < bits && (m[p / 8] & (0x80 >> (p % 8))))
		p++;
	for (unsigned i = p; i < bits; i++)
		if (m[i / 8] & (0x80 >> (i % 8)))
			return -EINVAL; /* not contiguous */
	if (p == 0)
		return -EINVAL;
	*ret = p;
	return 0;
}

static int parse_ip_attr(struct attrs *a, const char *key, const char *maskkey, int af, struct rules_ip *ret,
			 char **ret_error)
{
	const char *s = attr(a, key), *mask = attr(a, maskkey);
	struct rules_ip ip = { .set = true, .af = af, .prefix = af == AF_INET ? 32 : 128 };
	char q[RULES_QUOTE_MAX];
	int r, got;

	if (!s) {
		if (mask)
			return xml_errorf(ret_error, a->node, "<%s> %s without %s", S(a->node->name),
					  maskkey, key);
		return 0;
	}
	r = parse_var(a, key, s, false, &ip.var, ret_error);
	if (r < 0)
		return r;
	if (r > 0) {
		if (mask)
			return xml_errorf(ret_error, a->node, "<%s> %s: a mask on a variable is not supported",
					  S(a->node->name), maskkey);
		*ret = ip;
		return 0;
	}
	if (rules_parse_addr(s, af, &got, ip.addr) < 0)
		return xml_errorf(ret_error, a->node, "<%s> %s=%s is not an %s address", S(a->node->name), key,
				  rules_quote(s, q), af == AF_INET ? "IPv4" : "IPv6");
	if (mask && parse_ip_mask(mask, af, &ip.prefix) < 0)
		return xml_errorf(ret_error, a->node, "<%s> %s=%s is not a prefix length 1..%u or a mask",
				  S(a->node->name), maskkey, rules_quote(mask, q), af == AF_INET ? 32 : 128);
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = ip.prefix > i * 8 ? ip.prefix - i * 8 : 0;

		if (keep < 8)
			ip.addr[i] &= (uint8_t)(0xff00u >> keep);
	}
	*ret = ip;
	return 0;
}

static int parse_port_attr(struct attrs *a, const char *startkey, const char *endkey, struct rules_range *ret,
			   char **ret_error)
{
	const char *s = attr(a, startkey), *e = attr(a, endkey);
	char q[RULES_QUOTE_MAX];
	unsigned lo, hi;

	if (!s) {
		if (e)
			return xml_errorf(ret_error, a->node, "<%s> %s without %s", S(a->node->name), endkey,
					  startkey);
		return 0;
	}
	if (parse_num(s, 0, 65535, &lo) < 0)
		return xml_errorf(ret_error, a->node, "<%s> %s=%s is not a port 0..65535", S(a->node->name),
				  startkey, rules_quote(s, q));
	hi = lo;
	if (e && (parse_num(e, lo, 65535, &hi) < 0))
		return xml_errorf(ret_error, a->node, "<%s> %s=%s is not a port %u..65535", S(a->node->name),
				  endkey, rules_quote(e, q), lo);
	if (lo == 0 && hi == 65535)
		return 0; /* every port: no condition, as libvirt renders it */
	if (lo == 0)
		return xml_errorf(ret_error, a->node, "<%s> %s: port 0 is not supported", S(a->node->name),
				  startkey);
	*ret = (struct rules_range) { .set = true, .lo = lo, .hi = hi };
	return 0;
}

/* protocolid of <mac>: a name or an ethertype of 0x0601..0xffff. */
static int parse_protocolid(struct attrs *a, struct rules_num *ret, char **ret_error)
{
	static const struct {
		const char *name;
		unsigned v;
	} names[] = { { "arp", 0x0806 }, { "rarp", 0x8035 }, { "ipv4", 0x0800 }, { "ipv6", 0x86dd } };
	const char *s = attr(a, "protocolid");
	char q[RULES_QUOTE_MAX];

	if (!s)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(s, names[i].name)) {
			*ret = (struct rules_num) { .set = true, .v = names[i].v };
			return 0;
		}
	/* Below 0x0600 it is an 802.3 length; ebtables prints 0x0600
	 * itself back as "Length". */
	if (parse_num(s, 0x0601, 0xffff, &ret->v) < 0)
		return xml_errorf(ret_error, a->node,
				  "<mac> protocolid=%s is not arp, rarp, ipv4, ipv6 or an ethertype "
				  "0x0601..0xffff", rules_quote(s, q));
	ret->set = true;
	return 0;
}

static int parse_opcode(struct attrs *a, struct rules_num *ret, char **ret_error)
{
	static const char *const ops[] = {
		NULL, "Request", "Reply", "Request_Reverse", "Reply_Reverse", "DRARP_Request",
		"DRARP_Reply", "DRARP_Error", "InARP_Request", "ARP_NAK",
	};
	const char *s = attr(a, "opcode");
	char q[RULES_QUOTE_MAX];

	if (!s)
		return 0;
	for (unsigned i = 1; i < ELEMENTSOF(ops); i++)
		if (strcasecmp(s, ops[i]) == 0) {
			*ret = (struct rules_num) { .set = true, .v = i };
			return 0;
		}
	if (parse_num(s, 1, 65535, &ret->v) < 0)
		return xml_errorf(ret_error, a->node, "<%s> opcode=%s is not an ARP opcode name or 1..65535",
				  S(a->node->name), rules_quote(s, q));
	ret->set = true;
	return 0;
}

static int parse_ip_protocol(struct attrs *a, struct rules_num *ret, char **ret_error)
{
	static const struct {
		const char *name;
		unsigned v;
	} names[] = { { "icmp", 1 }, { "igmp", 2 }, { "tcp", 6 }, { "udp", 17 }, { "esp", 50 },
		      { "ah", 51 }, { "icmpv6", 58 }, { "sctp", 132 }, { "udplite", 136 } };
	const char *s = attr(a, "protocol");
	char q[RULES_QUOTE_MAX];

	if (!s)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(s, names[i].name)) {
			*ret = (struct rules_num) { .set = true, .v = names[i].v };
			return 0;
		}
	if (parse_num(s, 0, 255, &ret->v) < 0)
		return xml_errorf(ret_error, a->node, "<%s> protocol=%s is not an IP protocol name or 0..255",
				  S(a->node->name), rules_quote(s, q));
	ret->set = true;
	return 0;
}

/* --- protocol elements --- */

enum elem_kind { E_MAC, E_ARP, E_IP, E_TRANSPORT, E_ICMP, E_IPONLY };

struct elem_desc {
	const char *name;
	enum rules_proto proto;
	enum elem_kind kind;
};

static const struct elem_desc elems[] = {
	{ "mac", RULES_P_MAC, E_MAC },           { "arp", RULES_P_ARP, E_ARP },
	{ "rarp", RULES_P_RARP, E_ARP },         { "ip", RULES_P_IPV4, E_IP },
	{ "ipv6", RULES_P_IPV6, E_IP },          { "tcp", RULES_P_TCP, E_TRANSPORT },
	{ "udp", RULES_P_UDP, E_TRANSPORT },     { "icmp", RULES_P_ICMP, E_ICMP },
	{ "tcp-ipv6", RULES_P_TCP6, E_TRANSPORT }, { "udp-ipv6", RULES_P_UDP6, E_TRANSPORT },
	{ "icmpv6", RULES_P_ICMP6, E_ICMP },       { "sctp", RULES_P_SCTP, E_TRANSPORT },
	{ "udplite", RULES_P_UDPLITE, E_IPONLY }, { "esp", RULES_P_ESP, E_IPONLY },
	{ "ah", RULES_P_AH, E_IPONLY },           { "igmp", RULES_P_IGMP, E_IPONLY },
	{ "all", RULES_P_ALLIP, E_IPONLY },       { "sctp-ipv6", RULES_P_SCTP6, E_TRANSPORT },
	{ "udplite-ipv6", RULES_P_UDPLITE6, E_IPONLY }, { "esp-ipv6", RULES_P_ESP6, E_IPONLY },
	{ "ah-ipv6", RULES_P_AH6, E_IPONLY },     { "all-ipv6", RULES_P_ALLIP6, E_IPONLY },
};

/* The libvirt protocols netd has no rendering for, named in messages. */
static const char *const elems_unsupported[] = { "vlan", "stp" };

static int parse_elem_attrs(const struct elem_desc *ed, struct attrs *a, struct rules_rule *r, char **ret_error)
{
	int af = rules_proto_af(ed->proto), ret = 0;

	if (ed->kind == E_MAC || ed->kind == E_ARP || ed->kind == E_IP) {
		ret = parse_mac_attr(a, "srcmacaddr", "srcmacmask", &r->src_mac, ret_error);
		if (ret >= 0)
			ret = parse_mac_attr(a, "dstmacaddr", "dstmacmask", &r->dst_mac, ret_error);
	}
	if (ret >= 0 && ed->kind == E_MAC)
		ret = parse_protocolid(a, &r->ethertype, ret_error);
	if (ret >= 0 && ed->kind == E_ARP) {
		ret = parse_opcode(a, &r->arp_op, ret_error);
		if (ret >= 0)
			ret = parse_mac_attr(a, "arpsrcmacaddr", NULL, &r->arp_src_mac, ret_error);
		if (ret >= 0)
			ret = parse_mac_attr(a, "arpdstmacaddr", NULL, &r->arp_dst_mac, ret_error);
		if (ret >= 0)
			ret = parse_ip_attr(a, "arpsrcipaddr", "arpsrcipmask", AF_INET, &r->arp_src_ip, ret_error);
		if (ret >= 0)
			ret = parse_ip_attr(a, "arpdstipaddr", "arpdstipmask", AF_INET, &r->arp_dst_ip, ret_error);
	}
	if (ret >= 0 && ed->kind != E_MAC && ed->kind != E_ARP) {
		ret = parse_ip_attr(a, "srcipaddr", "srcipmask", af, &r->src_ip, ret_error);
		if (ret >= 0)
			ret = parse_ip_attr(a, "dstipaddr", "dstipmask", af, &r->dst_ip, ret_error);
	}
	if (ret >= 0 && ed->kind == E_IP)
		ret = parse_ip_protocol(a, &r->ip_protocol, ret_error);
	if (ret >= 0 && (ed->kind == E_IP || ed->kind == E_TRANSPORT)) {
		ret = parse_port_attr(a, "srcportstart", "srcportend", &r->src_port, ret_error);
		if (ret >= 0)
			ret = parse_port_attr(a, "dstportstart", "dstportend", &r->dst_port, ret_error);
	}
	if (ret >= 0 && ed->kind == E_ICMP) {
		const char *t = attr(a, "type");
		char q[RULES_QUOTE_MAX];

		if (t && parse_num(t, 0, 255, &r->icmp_type.v) < 0)
			ret = xml_errorf(ret_error, a->node, "<%s> type=%s is not 0..255", S(a->node->name),
					 rules_quote(t, q));
		r->icmp_type.set = t != NULL;
	}
	return ret;
}

/* The match attribute ("yes"/"no") and the comment, which netd does not
 * render (it has no effect on what passes). */
static int parse_elem_common(struct attrs *a, struct rules_rule *r, char **ret_error)
{
	const char *m = attr(a, "match");
	char q[RULES_QUOTE_MAX];

	attr(a, "comment");
	if (!m)
		return 0;
	if (streq(m, "yes") || streq(m, "true") || streq(m, "1"))
		r->match = true;
	else if (streq(m, "no") || streq(m, "false") || streq(m, "0"))
		r->match = false;
	else
		return xml_errorf(ret_error, a->node, "<%s> match=%s is not yes or no", S(a->node->name),
				  rules_quote(m, q));
	return 0;
}

/* Which protocol a <mac> or bare rule is in a chain of kind k, checked
 * against the element's own. */
static int fit_chain(const struct chain_kind *k, const xmlNode *n, struct rules_rule *r, char **ret_error)
{
	static const unsigned ethertypes[RULES_P_COUNT] = {
		[RULES_P_ARP] = 0x0806, [RULES_P_RARP] = 0x8035,
		[RULES_P_IPV4] = 0x0800, [RULES_P_IPV6] = 0x86dd,
	};

	if (rules_proto_family(r->proto) != RULES_EB || k->proto == RULES_P_ALL)
		return 0; /* iptables rules are not in ebtables' chains */
	if (r->proto == RULES_P_MAC || r->proto == RULES_P_ALL) {
		if (r->ethertype.set && r->ethertype.v != ethertypes[k->proto])
			return xml_errorf(ret_error, n, "<mac> protocolid 0x%04x can never match in a chain of "
					  "kind %s", r->ethertype.v, k->prefix);
		r->ethertype.set = false;
		r->proto = k->proto;
		return 0;
	}
	if (r->proto != k->proto)
		return xml_errorf(ret_error, n, "<%s> can never match in a chain of kind %s", S(n->name),
				  k->prefix);
	return 0;
}

static int parse_elem(const struct chain_kind *k, const xmlNode *n, struct rules_rule *r, bool stateless,
		      char **ret_error)
{
	const struct elem_desc *ed = NULL;
	struct attrs a;
	int ret;

	for (size_t i = 0; i < ELEMENTSOF(elems); i++)
		if (streq(S(n->name), elems[i].name))
			ed = &elems[i];
	if (!ed) {
		for (size_t i = 0; i < ELEMENTSOF(elems_unsupported); i++)
			if (streq(S(n->name), elems_unsupported[i]))
				return xml_errorf(ret_error, n, "<%s>: protocol not supported by netd",
						  S(n->name));
		return xml_errorf(ret_error, n, "<%s>: unknown protocol element", S(n->name));
	}
	/* netd's iptables rules are stateless. */
	if ((ed->kind == E_TRANSPORT || ed->kind == E_ICMP || ed->kind == E_IPONLY) && !stateless)
		return xml_errorf(ret_error, n,
				  "<%s>: connection state matching is not supported; give the rule "
				  "statematch='false' for a stateless rule", S(n->name));
	r->proto = ed->proto;
	ret = attrs_read(n, &a, ret_error);
	if (ret >= 0)
		ret = parse_elem_common(&a, r, ret_error);
	if (ret >= 0)
		ret = parse_elem_attrs(ed, &a, r, ret_error);
	if (ret >= 0)
		ret = attrs_check_used(&a, ret_error);
	attrs_done(&a);
	if (ret >= 0 && (r->proto == RULES_P_IPV4 || r->proto == RULES_P_IPV6) &&
	    (r->src_port.set || r->dst_port.set) &&
	    !(r->ip_protocol.set && (r->ip_protocol.v == 6 || r->ip_protocol.v == 17)))
		return xml_errorf(ret_error, n, "<%s>: ports need protocol tcp or udp", S(n->name));
	if (ret >= 0)
		ret = fit_chain(k, n, r, ret_error);
	return ret;
}

/* --- rules, references, the filter --- */

static int parse_rule_attrs(const xmlNode *n, struct rules_rule *r, bool *ret_stateless, char **ret_error)
{
	static const char *const actions[] = {
		[RULES_A_ACCEPT] = "accept", [RULES_A_DROP] = "drop",
		[RULES_A_REJECT] = "reject", [RULES_A_RETURN] = "return",
	};
	static const char *const dirs[] = { NULL, "in", "out", "inout" }; /* index = RULES_DIR_* bits */
	_cleanup_(attrs_done) struct attrs a = { 0 };
	const char *act, *dir, *prio, *sm;
	char q[RULES_QUOTE_MAX];
	unsigned v;
	int ret = attrs_read(n, &a, ret_error);

	if (ret < 0)
		return ret;
	act = attr(&a, "action");
	dir = attr(&a, "direction");
	prio = attr(&a, "priority");
	sm = attr(&a, "statematch");
	ret = attrs_check_used(&a, ret_error);
	if (ret < 0)
		return ret;
	if (act && streq(act, "continue"))
		return xml_errorf(ret_error, n, "<rule> action='continue' is not supported (a rule "
				  "that only counts)");
	for (size_t i = 0; act && i < ELEMENTSOF(actions); i++)
		if (streq(act, actions[i]))
			r->action = (enum rules_action)i, act = NULL, ret = 1;
	if (ret != 1)
		return xml_errorf(ret_error, n, "<rule> action=%s is not accept, drop, reject or return",
				  act ? rules_quote(act, q) : "(missing)");
	for (unsigned i = 1; dir && i < ELEMENTSOF(dirs); i++)
		if (streq(dir, dirs[i]))
			r->dir = i;
	if (r->dir == 0)
		return xml_errorf(ret_error, n, "<rule> direction=%s is not in, out or inout",
				  dir ? rules_quote(dir, q) : "(missing)");
	if (prio) {
		bool neg = prio[0] == '-';

		if (parse_num(prio + neg, 0, 1000, &v) < 0 || strncmp(prio + neg, "0x", 2) == 0)
			return xml_errorf(ret_error, n, "<rule> priority=%s is not -1000..1000",
					  rules_quote(prio, q));
		r->priority = neg ? -(int)v : (int)v;
	}
	*ret_stateless = sm && (streq(sm, "false") || streq(sm, "0"));
	if (sm && !*ret_stateless && !streq(sm, "true") && !streq(sm, "1"))
		return xml_errorf(ret_error, n, "<rule> statematch=%s is not true or false", rules_quote(sm, q));
	return 0;
}

static int parse_rule(const struct chain_kind *k, const xmlNode *n, struct rules_rule *ret, char **ret_error)
{
	struct rules_rule r = { .priority = 500, .match = true, .proto = RULES_P_ALL };
	const xmlNode *elem = NULL;
	bool stateless = false;
	int ret_r;

	r.line = (unsigned)xmlGetLineNo(n);
	ret_r = parse_rule_attrs(n, &r, &stateless, ret_error);
	if (ret_r < 0)
		return ret_r;
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (elem)
			return xml_errorf(ret_error, c, "<rule>: more than one protocol element");
		elem = c;
	}
	if (elem) {
		ret_r = parse_elem(k, elem, &r, stateless, ret_error);
		if (ret_r < 0)
			return ret_r;
	} else {
		r.proto = k->proto;
	}
	*ret = r;
	return 0;
}

static int parse_filterref(const xmlNode *n, char **ret, char **ret_error)
{
	_cleanup_(attrs_done) struct attrs a = { 0 };
	const char *name;
	char q[RULES_QUOTE_MAX];
	int r = attrs_read(n, &a, ret_error);

	if (r < 0)
		return r;
	name = attr(&a, "filter");
	r = attrs_check_used(&a, ret_error);
	if (r < 0)
		return r;
	for (const xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return xml_errorf(ret_error, c, "<filterref> <%s>: parameters of a reference are not "
					  "supported (netd binds the parameters once, for the whole port)",
					  S(c->name));
	if (!rules_name_valid(name))
		return xml_errorf(ret_error, n, "<filterref> filter=%s is not a valid filter name",
				  name ? rules_quote(name, q) : "(missing)");
	*ret = strdup(name);
	return *ret ? 0 : -ENOMEM;
}

/* The <filter> element's attributes into f. */
static int parse_filter_head(const xmlNode *root, struct rules_filter *f, const struct chain_kind **ret_kind,
			     char **ret_error)
{
	_cleanup_(attrs_done) struct attrs a = { 0 };
	const char *name, *chain, *prio;
	const struct chain_kind *k;
	char q[RULES_QUOTE_MAX];
	unsigned v;
	int r = attrs_read(root, &a, ret_error);

	if (r < 0)
		return r;
	name = attr(&a, "name");
	chain = attr(&a, "chain");
	prio = attr(&a, "priority");
	r = attrs_check_used(&a, ret_error);
	if (r < 0)
		return r;
	if (!rules_name_valid(name))
		return xml_errorf(ret_error, root,
				  "<filter> name=%s is not a valid filter name (1..%d characters of A-Z "
				  "a-z 0-9 _ . -, not starting with '-')", name ? rules_quote(name, q) : "(missing)",
				  RULES_NAME_MAX);
	k = chain_kind(chain ? chain : "root");
	if (!k || strlen(chain ? chain : "") > 24)
		return xml_errorf(ret_error, root,
				  "<filter> chain=%s is not root, mac, arp, rarp, ipv4, ipv6 or one of them "
				  "followed by '-' and a suffix (up to 24 characters; vlan and stp chains "
				  "are not supported)", rules_quote(chain, q));
	f->chain_prio = k->prio;
	if (prio) {
		bool neg = prio[0] == '-';

		if (parse_num(prio + neg, 0, 1000, &v) < 0 || strncmp(prio + neg, "0x", 2) == 0)
			return xml_errorf(ret_error, root, "<filter> priority=%s is not -1000..1000",
					  rules_quote(prio, q));
		f->chain_prio = neg ? -(int)v : (int)v;
	}
	f->name = strdup(name);
	if (!f->name || (k != &chain_kinds[0] && !(f->chain = strdup(chain))))
		return -ENOMEM;
	*ret_kind = k;
	return 0;
}

/* The filter's children: rules and references, in order. */
static int parse_children(const xmlNode *root, const struct chain_kind *k, struct rules_filter *f,
			  char **ret_error)
{
	size_t n = 0;
	int r;

	for (const xmlNode *c = root->children; c; c = c->next)
		n += c->type == XML_ELEMENT_NODE;
	if (n > XML_RULES_MAX)
		return xml_errorf(ret_error, root, "<filter>: more than %d rules and references",
				  XML_RULES_MAX);
	f->rules = calloc(n + 1, sizeof(*f->rules));
	f->refs = calloc(n + 1, sizeof(*f->refs));
	if (!f->rules || !f->refs)
		return -ENOMEM;
	for (const xmlNode *c = root->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (streq(S(c->name), "rule")) {
			r = parse_rule(k, c, &f->rules[f->n_rules], ret_error);
			if (r < 0)
				return r;
			f->n_rules++;
		} else if (streq(S(c->name), "filterref")) {
			r = parse_filterref(c, &f->refs[f->n_refs], ret_error);
			if (r < 0)
				return r;
			f->n_refs++;
		} else if (!streq(S(c->name), "uuid")) { /* libvirt's identity of the filter */
			return xml_errorf(ret_error, c, "<%s>: unknown element in <filter>", S(c->name));
		}
	}
	return 0;
}

/* The JSON shown for an XML filter: its name, and its file's text as
 * read. */
static json_t *filter_json(const char *name, const char *text, size_t len)
{
	json_t *o = json_object();

	if (!o || json_object_set_new(o, "name", json_string(name)) < 0 ||
	    json_object_set_new(o, "libvirt_xml", json_stringn(text, len)) < 0)
		return json_decref(o), NULL;
	return o;
}

int rules_xml_parse(const char *text, size_t len, struct rules_filter **ret, char **ret_error)
{
	xmlParserCtxtPtr ctx = xmlNewParserCtxt();
	struct rules_filter *f = NULL;
	const struct chain_kind *k;
	xmlDocPtr doc = NULL;
	xmlNode *root;
	int r = -ENOMEM;

	if (!ctx)
		return -ENOMEM;
	/* No network, no entity expansion, no DTD loading, no messages on
	 * stderr: the first error is reported with its line. */
	doc = xmlCtxtReadMemory(ctx, text, (int)len, NULL, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(ctx);
		_cleanup_free_ char *msg = rules_clean_dup(e && e->message ? e->message : "not XML");

		if (msg) {
			size_t n = strlen(msg);

			while (n > 0 && (msg[n - 1] == '?' || msg[n - 1] == ' '))
				msg[--n] = '\0';
			r = rules_errorf(ret_error, "line %d: not well-formed XML: %s", e ? e->line : 0, msg);
		}
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	/* Entities are never expanded; a DTD has no use in a filter. */
	if (doc->intSubset || doc->extSubset) {
		r = xml_errorf(ret_error, root, "a DOCTYPE before <filter> is not supported");
		goto out;
	}
	if (!root || !streq(S(root->name), "filter")) {
		r = xml_errorf(ret_error, root, "the root element must be <filter>");
		goto out;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		goto out;
	r = parse_filter_head(root, f, &k, ret_error);
	if (r >= 0)
		r = parse_children(root, k, f, ret_error);
	if (r >= 0 && !(f->json = filter_json(f->name, text, len)))
		r = -ENOMEM;
	if (r >= 0)
		*ret = TAKE_PTR(f);
out:
	rules_filter_free(f);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctx);
	return r;
}
