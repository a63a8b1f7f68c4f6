/*
 * xml-attrs.c: see xml-internal.h. One element's attributes of a libvirt
 * XML filter (each must be used, or the file is refused naming it) and
 * the parsers of their values: MAC and IP addresses with masks, variables,
 * ports, ethertypes, ARP opcodes, IP protocols, VLAN ids.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "valid.h"
#include "xml-internal.h"

int rules_xml_errorf(char **ret_error, const xmlNode *n, const char *fmt, ...)
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

/* --- attribute values --- */


void rules_xml_attrs_done(struct attrs *a)
{
	while (a->n > 0)
		xmlFree(a->values[--a->n]);
}

int rules_xml_attrs_read(const xmlNode *n, struct attrs *a, char **ret_error)
{
	memset(a, 0, sizeof(*a));
	a->node = n;
	for (const xmlAttr *p = n->properties; p; p = p->next) {
		if (a->n >= ELEMENTSOF(a->names))
			return rules_xml_errorf(ret_error, n, "<%s>: too many attributes", S(n->name));
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
const char *rules_xml_attr(struct attrs *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (streq(a->names[i], name)) {
			a->used[i] = true;
			return a->values[i];
		}
	return NULL;
}

/* Refuse the first attribute nothing used. */
int rules_xml_attrs_check(struct attrs *a, char **ret_error)
{
	char q[RULES_QUOTE_MAX];

	for (size_t i = 0; i < a->n; i++)
		if (!a->used[i])
			return rules_xml_errorf(ret_error, a->node,
					  "<%s> attribute %s is not supported by netd (it has no rendering "
					  "with the same meaning)", S(a->node->name), rules_quote(a->names[i], q));
	return 0;
}

/* A decimal or 0x-hexadecimal number in [min, max]. */
int rules_xml_num(const char *s, unsigned min, unsigned max, unsigned *ret)
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
		return rules_xml_errorf(ret_error, a->node,
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
		return rules_xml_errorf(ret_error, a->node,
				  "<%s> %s=%s: netd binds only $MAC and $GATEWAY_MAC (MAC addresses), "
				  "$IP, $IPV6 and $DHCPSERVER (IP addresses)", S(a->node->name), key,
				  rules_quote(s, q));
	return 1;
}

int rules_xml_mac(struct attrs *a, const char *key, const char *maskkey, struct rules_mac *ret,
			  char **ret_error)
{
	const char *s = rules_xml_attr(a, key), *mask = maskkey ? rules_xml_attr(a, maskkey) : NULL;
	struct rules_mac m = { .set = true };
	char q[RULES_QUOTE_MAX];
	int r;

	if (!s) {
		if (mask)
			return rules_xml_errorf(ret_error, a->node, "<%s> %s without %s", S(a->node->name),
					  maskkey, key);
		return 0;
	}
	r = parse_var(a, key, s, true, &m.var, ret_error);
	if (r < 0)
		return r;
	if (r > 0 && mask)
		return rules_xml_errorf(ret_error, a->node, "<%s> %s: a mask on a variable is not supported",
				  S(a->node->name), maskkey);
	memset(m.mask, 0xff, 6);
	if (r == 0 && valid_parse_mac(s, m.addr) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> %s=%s is not a MAC address", S(a->node->name),
				  key, rules_quote(s, q));
	if (mask && (valid_parse_mac(mask, m.mask) < 0 ||
		     !(m.mask[0] | m.mask[1] | m.mask[2] | m.mask[3] | m.mask[4] | m.mask[5])))
		return rules_xml_errorf(ret_error, a->node, "<%s> %s=%s is not a non-zero MAC mask",
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

	if (rules_xml_num(s, 1, bits, ret) == 0 && strncmp(s, "0x", 2) != 0)
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

int rules_xml_ip(struct attrs *a, const char *key, const char *maskkey, int af, struct rules_ip *ret,
			 char **ret_error)
{
	const char *s = rules_xml_attr(a, key), *mask = rules_xml_attr(a, maskkey);
	struct rules_ip ip = { .set = true, .af = af, .prefix = af == AF_INET ? 32 : 128 };
	char q[RULES_QUOTE_MAX];
	int r, got;

	if (!s) {
		if (mask)
			return rules_xml_errorf(ret_error, a->node, "<%s> %s without %s", S(a->node->name),
					  maskkey, key);
		return 0;
	}
	r = parse_var(a, key, s, false, &ip.var, ret_error);
	if (r < 0)
		return r;
	if (r > 0) {
		if (mask)
			return rules_xml_errorf(ret_error, a->node, "<%s> %s: a mask on a variable is not supported",
					  S(a->node->name), maskkey);
		*ret = ip;
		return 0;
	}
	if (rules_parse_addr(s, af, &got, ip.addr) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> %s=%s is not an %s address", S(a->node->name), key,
				  rules_quote(s, q), af == AF_INET ? "IPv4" : "IPv6");
	if (mask && parse_ip_mask(mask, af, &ip.prefix) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> %s=%s is not a prefix length 1..%u or a mask",
				  S(a->node->name), maskkey, rules_quote(mask, q), af == AF_INET ? 32 : 128);
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = ip.prefix > i * 8 ? ip.prefix - i * 8 : 0;

		if (keep < 8)
			ip.addr[i] &= (uint8_t)(0xff00u >> keep);
	}
	*ret = ip;
	return 0;
}

int rules_xml_ports(struct attrs *a, const char *startkey, const char *endkey, struct rules_range *ret,
			   char **ret_error)
{
	const char *s = rules_xml_attr(a, startkey), *e = rules_xml_attr(a, endkey);
	char q[RULES_QUOTE_MAX];
	unsigned lo, hi;

	if (!s) {
		if (e)
			return rules_xml_errorf(ret_error, a->node, "<%s> %s without %s", S(a->node->name), endkey,
					  startkey);
		return 0;
	}
	if (rules_xml_num(s, 0, 65535, &lo) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> %s=%s is not a port 0..65535", S(a->node->name),
				  startkey, rules_quote(s, q));
	hi = lo;
	if (e && (rules_xml_num(e, lo, 65535, &hi) < 0))
		return rules_xml_errorf(ret_error, a->node, "<%s> %s=%s is not a port %u..65535", S(a->node->name),
				  endkey, rules_quote(e, q), lo);
	if (lo == 0 && hi == 65535)
		return 0; /* every port: no condition, as libvirt renders it */
	if (lo == 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> %s: port 0 is not supported", S(a->node->name),
				  startkey);
	*ret = (struct rules_range) { .set = true, .lo = lo, .hi = hi };
	return 0;
}

/* protocolid of <mac>: a name or an ethertype of 0x0601..0xffff. */
int rules_xml_ethertype(struct attrs *a, const char *key, struct rules_num *ret, char **ret_error)
{
	static const struct {
		const char *name;
		unsigned v;
	} names[] = { { "arp", 0x0806 }, { "rarp", 0x8035 }, { "ipv4", 0x0800 }, { "ipv6", 0x86dd } };
	const char *s = rules_xml_attr(a, key);
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
	if (rules_xml_num(s, 0x0601, 0xffff, &ret->v) < 0)
		return rules_xml_errorf(ret_error, a->node,
				  "<%s> %s=%s is not arp, rarp, ipv4, ipv6 or an ethertype 0x0601..0xffff",
				  S(a->node->name), key, rules_quote(s, q));
	ret->set = true;
	return 0;
}

int rules_xml_opcode(struct attrs *a, struct rules_num *ret, char **ret_error)
{
	static const char *const ops[] = {
		NULL, "Request", "Reply", "Request_Reverse", "Reply_Reverse", "DRARP_Request",
		"DRARP_Reply", "DRARP_Error", "InARP_Request", "ARP_NAK",
	};
	const char *s = rules_xml_attr(a, "opcode");
	char q[RULES_QUOTE_MAX];

	if (!s)
		return 0;
	for (unsigned i = 1; i < ELEMENTSOF(ops); i++)
		if (strcasecmp(s, ops[i]) == 0) {
			*ret = (struct rules_num) { .set = true, .v = i };
			return 0;
		}
	if (rules_xml_num(s, 1, 65535, &ret->v) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> opcode=%s is not an ARP opcode name or 1..65535",
				  S(a->node->name), rules_quote(s, q));
	ret->set = true;
	return 0;
}

int rules_xml_ip_protocol(struct attrs *a, struct rules_num *ret, char **ret_error)
{
	static const struct {
		const char *name;
		unsigned v;
	} names[] = { { "icmp", 1 }, { "igmp", 2 }, { "tcp", 6 }, { "udp", 17 }, { "esp", 50 },
		      { "ah", 51 }, { "icmpv6", 58 }, { "sctp", 132 }, { "udplite", 136 } };
	const char *s = rules_xml_attr(a, "protocol");
	char q[RULES_QUOTE_MAX];

	if (!s)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(s, names[i].name)) {
			*ret = (struct rules_num) { .set = true, .v = names[i].v };
			return 0;
		}
	if (rules_xml_num(s, 0, 255, &ret->v) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> protocol=%s is not an IP protocol name or 0..255",
				  S(a->node->name), rules_quote(s, q));
	ret->set = true;
	return 0;
}

/* <icmp> and <icmpv6>: type 0..254 (255 is iptables' "any": no code
 * with it) and code 0..255, which needs a type. */
int rules_xml_icmp(struct attrs *a, struct rules_rule *r, char **ret_error)
{
	const char *t = rules_xml_attr(a, "type"), *c = rules_xml_attr(a, "code");
	char q[RULES_QUOTE_MAX];

	if (t && rules_xml_num(t, 0, 255, &r->icmp_type.v) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> type=%s is not 0..255", S(a->node->name),
					rules_quote(t, q));
	r->icmp_type.set = t != NULL;
	if (!c)
		return 0;
	if (!t || r->icmp_type.v == 255)
		return rules_xml_errorf(ret_error, a->node, "<%s> code needs a type 0..254", S(a->node->name));
	if (rules_xml_num(c, 0, 255, &r->icmp_code.v) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> code=%s is not 0..255", S(a->node->name),
					rules_quote(c, q));
	r->icmp_code.set = true;
	return 0;
}

/* <arp> and <rarp>: hwtype and protocoltype 0..65535, gratuitous='true'
 * (a gratuitous ARP; with match='no', any other). */
int rules_xml_arp_extra(struct attrs *a, struct rules_rule *r, char **ret_error)
{
	const char *h = rules_xml_attr(a, "hwtype"), *p = rules_xml_attr(a, "protocoltype");
	const char *g = rules_xml_attr(a, "gratuitous");
	char q[RULES_QUOTE_MAX];

	if (h && rules_xml_num(h, 0, 65535, &r->arp_htype.v) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> hwtype=%s is not 0..65535", S(a->node->name),
					rules_quote(h, q));
	r->arp_htype.set = h != NULL;
	if (p && rules_xml_num(p, 0, 65535, &r->arp_ptype.v) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> protocoltype=%s is not 0..65535",
					S(a->node->name), rules_quote(p, q));
	r->arp_ptype.set = p != NULL;
	if (g && !streq(g, "true") && !streq(g, "1"))
		return rules_xml_errorf(ret_error, a->node, "<%s> gratuitous=%s: only 'true' is supported (with "
					"match='no' for the ARP that is not gratuitous)", S(a->node->name),
					rules_quote(g, q));
	r->arp_gratuitous.set = g != NULL;
	return 0;
}

/* An address range of iptables' elements: both ends, of the rule's
 * family, the first not above the second; no variables. */
int rules_xml_range(struct attrs *a, const char *fromkey, const char *tokey, int af, struct rules_iprange *ret,
		    char **ret_error)
{
	const char *from = rules_xml_attr(a, fromkey), *to = rules_xml_attr(a, tokey);
	struct rules_iprange rg = { .set = true, .af = af };
	char q[RULES_QUOTE_MAX];
	int got;

	if (!from && !to)
		return 0;
	if (!from || !to)
		return rules_xml_errorf(ret_error, a->node, "<%s> %s and %s go together", S(a->node->name), fromkey,
					tokey);
	if (rules_parse_addr(from, af, &got, rg.lo) < 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> %s=%s is not an %s address", S(a->node->name),
					fromkey, rules_quote(from, q), af == AF_INET ? "IPv4" : "IPv6");
	if (rules_parse_addr(to, af, &got, rg.hi) < 0 || memcmp(rg.lo, rg.hi, 16) > 0)
		return rules_xml_errorf(ret_error, a->node, "<%s> %s=%s is not an %s address from %s on",
					S(a->node->name), tokey, rules_quote(to, q), af == AF_INET ? "IPv4" : "IPv6",
					fromkey);
	*ret = rg;
	return 0;
}

/* One side of "MASK/FLAGS": names from SYN ACK URG PSH FIN RST ALL NONE,
 * separated by commas. */
static int tcp_flag_list(const char *s, size_t n, unsigned *ret)
{
	static const char *const names[] = { "FIN", "SYN", "RST", "PSH", "ACK", "URG" };
	unsigned v = 0;

	while (n > 0) {
		const char *comma = memchr(s, ',', n);
		size_t len = comma ? (size_t)(comma - s) : n;
		bool found = false;

		for (unsigned i = 0; i < 6; i++) {
			if (strlen(names[i]) == len && strncmp(s, names[i], len) == 0) {
				v |= 1u << i;
				found = true;
			}
		}
		if (len == 3 && strncmp(s, "ALL", 3) == 0) {
			v |= 0x3f;
			found = true;
		}
		found |= len == 4 && strncmp(s, "NONE", 4) == 0;
		if (!found)
			return -EINVAL;
		n -= len + (comma ? 1 : 0);
		s += len + (comma ? 1 : 0);
		if (comma && n == 0)
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* <tcp flags='MASK/FLAGS'>: the flags looked at, and those of them set. */
int rules_xml_tcp_flags(struct attrs *a, struct rules_rule *r, char **ret_error)
{
	const char *s = rules_xml_attr(a, "flags"), *slash;
	char q[RULES_QUOTE_MAX];

	if (!s)
		return 0;
	slash = strchr(s, '/');
	if (!slash || tcp_flag_list(s, (size_t)(slash - s), &r->tcp_mask.v) < 0 || r->tcp_mask.v == 0 ||
	    tcp_flag_list(slash + 1, strlen(slash + 1), &r->tcp_flags.v) < 0 || (r->tcp_flags.v & ~r->tcp_mask.v))
		return rules_xml_errorf(ret_error, a->node,
					"<%s> flags=%s is not MASK/FLAGS (names of SYN ACK URG PSH FIN RST ALL NONE "
					"separated by commas, FLAGS within a MASK that is not NONE)",
					S(a->node->name), rules_quote(s, q));
	r->tcp_mask.set = r->tcp_flags.set = true;
	return 0;
}

/* state='NEW,ESTABLISHED' of an iptables element: the connection states
 * matched (INVALID, NEW, RELATED, ESTABLISHED). */
int rules_xml_state(struct attrs *a, struct rules_rule *r, char **ret_error)
{
	static const char *const states[] = { "INVALID", "NEW", "RELATED", "ESTABLISHED" };
	const char *s = rules_xml_attr(a, "state"), *p;
	char q[RULES_QUOTE_MAX];
	unsigned v = 0;

	for (p = s; p && *p;) {
		size_t len = strcspn(p, ",");
		unsigned bit = 0;

		for (unsigned i = 0; i < 4; i++)
			if (strlen(states[i]) == len && strncmp(p, states[i], len) == 0)
				bit = 1u << i;
		if (!bit || (p[len] == ',' && !p[len + 1]))
			break;
		v |= bit;
		p += len + (p[len] == ',');
	}
	if (s && (!*s || (p && *p)))
		return rules_xml_errorf(ret_error, a->node, "<%s> state=%s is not a list of INVALID, NEW, RELATED "
					"and ESTABLISHED separated by commas", S(a->node->name), rules_quote(s, q));
	r->ct_state.v = v;
	r->ct_state.set = s != NULL;
	return 0;
}

/* <vlan>: vlanid 0..4095, encap-protocol a name or an ethertype. */
int rules_xml_vlan(struct attrs *a, struct rules_rule *r, char **ret_error)
{
	const char *id = rules_xml_attr(a, "vlanid");
	char q[RULES_QUOTE_MAX];

	if (id && rules_xml_num(id, 0, 4095, &r->vlan_id.v) < 0)
		return rules_xml_errorf(ret_error, a->node, "<vlan> vlanid=%s is not 0..4095", rules_quote(id, q));
	r->vlan_id.set = id != NULL;
	/* The same names and numbers as <mac protocolid>. */
	return rules_xml_ethertype(a, "encap-protocol", &r->vlan_encap, ret_error);
}
