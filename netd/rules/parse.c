/*
 * parse.c: one filter definition, from its JSON form (a built-in's text or
 * a custom file) into the parsed form of rules-internal.h, with every key
 * and value checked.
 *
 * Why a field table and not json_unpack_ex(JSON_STRICT): the error must
 * name the offending key by its path ("rules[3].src_port") and say which
 * protocols allow it, and the same table decides which protocol may use
 * which field.
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
#include "util.h"
#include "valid.h"

/* The whole of s[0..n) as a decimal in [min, max]: digits only, no sign,
 * no leading zero. */
static int parse_dec(const char *s, size_t n, unsigned min, unsigned max, unsigned *ret)
{
	unsigned long v = 0;

	if (n == 0 || (s[0] == '0' && n > 1))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > max)
			return -EINVAL;
	}
	if (v < min)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* A JSON string without embedded NUL (which would hide what follows it
 * from every C string function). */
static const char *json_str(json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

/* --- protocols and fields --- */

static const char *const proto_names[RULES_P_COUNT] = {
	[RULES_P_MAC] = "mac",       [RULES_P_ARP] = "arp",
	[RULES_P_RARP] = "rarp",     [RULES_P_IPV4] = "ipv4",
	[RULES_P_IPV6] = "ipv6",     [RULES_P_ALL] = "all",
	[RULES_P_TCP] = "tcp",       [RULES_P_UDP] = "udp",
	[RULES_P_ICMP] = "icmp",     [RULES_P_TCP6] = "tcp-ipv6",
	[RULES_P_UDP6] = "udp-ipv6", [RULES_P_ICMP6] = "icmpv6",
};

enum rules_family rules_proto_family(enum rules_proto p)
{
	switch (p) {
	case RULES_P_TCP:
	case RULES_P_UDP:
	case RULES_P_ICMP:
	case RULES_P_SCTP:
	case RULES_P_UDPLITE:
	case RULES_P_ESP:
	case RULES_P_AH:
	case RULES_P_IGMP:
	case RULES_P_ALLIP:
		return RULES_IP4;
	case RULES_P_TCP6:
	case RULES_P_UDP6:
	case RULES_P_ICMP6:
	case RULES_P_SCTP6:
	case RULES_P_UDPLITE6:
	case RULES_P_ESP6:
	case RULES_P_AH6:
	case RULES_P_ALLIP6:
		return RULES_IP6;
	default:
		return RULES_EB;
	}
}

int rules_proto_af(enum rules_proto p)
{
	switch (p) {
	case RULES_P_ARP:
	case RULES_P_RARP:
	case RULES_P_IPV4:
	case RULES_P_TCP:
	case RULES_P_UDP:
	case RULES_P_ICMP:
	case RULES_P_SCTP:
	case RULES_P_UDPLITE:
	case RULES_P_ESP:
	case RULES_P_AH:
	case RULES_P_IGMP:
	case RULES_P_ALLIP:
		return AF_INET;
	case RULES_P_IPV6:
	case RULES_P_TCP6:
	case RULES_P_UDP6:
	case RULES_P_ICMP6:
	case RULES_P_SCTP6:
	case RULES_P_UDPLITE6:
	case RULES_P_ESP6:
	case RULES_P_AH6:
	case RULES_P_ALLIP6:
		return AF_INET6;
	default:
		return 0;
	}
}

enum field_kind { F_MAC, F_MAC_MASK, F_IP, F_ETHERTYPE, F_IPPROTO, F_PORT, F_ARPOP, F_ICMP };

#define PB(p) (1u << RULES_P_##p)
#define P_L2 (PB(MAC) | PB(ARP) | PB(RARP) | PB(IPV4) | PB(IPV6) | PB(ALL))
#define P_ARPS (PB(ARP) | PB(RARP))
#define P_IPS (PB(IPV4) | PB(TCP) | PB(UDP) | PB(ICMP) | PB(IPV6) | PB(TCP6) | PB(UDP6) | PB(ICMP6))
#define P_PORTS (PB(IPV4) | PB(IPV6) | PB(TCP) | PB(UDP) | PB(TCP6) | PB(UDP6))

struct field_desc {
	const char *name;
	enum field_kind kind;
	unsigned protos;     /* PB() bits of the protocols that may use it */
	size_t offset;       /* in struct rules_rule */
	bool var;            /* may be a variable ($MAC; $IP or $DHCPSERVER) */
	const char *allowed; /* for messages: which protocols */
};

#define FIELD(n, k, p, member, v, a) { n, k, p, offsetof(struct rules_rule, member), v, a }

/* In the order errors are looked for. */
static const struct field_desc fields[] = {
	FIELD("src_mac", F_MAC_MASK, P_L2, src_mac, true, "mac, arp, rarp, ipv4, ipv6 and all"),
	FIELD("dst_mac", F_MAC_MASK, P_L2, dst_mac, true, "mac, arp, rarp, ipv4, ipv6 and all"),
	FIELD("ethertype", F_ETHERTYPE, PB(MAC), ethertype, false, "mac"),
	FIELD("src_ip", F_IP, P_IPS, src_ip, true,
	      "ipv4, tcp, udp, icmp, ipv6, tcp-ipv6, udp-ipv6 and icmpv6 (arp uses arp_src_ip)"),
	FIELD("dst_ip", F_IP, P_IPS, dst_ip, true,
	      "ipv4, tcp, udp, icmp, ipv6, tcp-ipv6, udp-ipv6 and icmpv6 (arp uses arp_dst_ip)"),
	FIELD("ip_protocol", F_IPPROTO, PB(IPV4) | PB(IPV6), ip_protocol, false, "ipv4 and ipv6"),
	FIELD("src_port", F_PORT, P_PORTS, src_port, false, "tcp, udp, tcp-ipv6, udp-ipv6, ipv4 and ipv6"),
	FIELD("dst_port", F_PORT, P_PORTS, dst_port, false, "tcp, udp, tcp-ipv6, udp-ipv6, ipv4 and ipv6"),
	FIELD("arp_op", F_ARPOP, P_ARPS, arp_op, false, "arp and rarp"),
	FIELD("arp_src_mac", F_MAC, P_ARPS, arp_src_mac, true, "arp and rarp"),
	FIELD("arp_dst_mac", F_MAC, P_ARPS, arp_dst_mac, true, "arp and rarp"),
	FIELD("arp_src_ip", F_IP, P_ARPS, arp_src_ip, true, "arp and rarp"),
	FIELD("arp_dst_ip", F_IP, P_ARPS, arp_dst_ip, true, "arp and rarp"),
	FIELD("icmp_type", F_ICMP, PB(ICMP) | PB(ICMP6), icmp_type, false, "icmp and icmpv6"),
};

static const char *const rule_keys[] = { "direction", "protocol", "action", "priority", "match" };

static bool rule_key_known(const char *key)
{
	for (size_t i = 0; i < ELEMENTSOF(rule_keys); i++)
		if (streq(key, rule_keys[i]))
			return true;
	for (size_t i = 0; i < ELEMENTSOF(fields); i++)
		if (streq(key, fields[i].name))
			return true;
	return false;
}

/* A key for a message: escaped like rules_quote() but without quotes. */
static const char *key_text(const char *key, char buf[RULES_QUOTE_MAX])
{
	size_t n;

	rules_quote(key, buf);
	n = strlen(buf);
	buf[n - 1] = '\0';
	return buf + 1;
}

/* Look s up in names[0..n); the index or -1. */
static int lookup(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (names[i] && streq(s, names[i]))
			return (int)i;
	return -1;
}

/* A number given as a JSON integer or as a decimal string. */
static int json_uint(json_t *v, unsigned min, unsigned max, unsigned *ret)
{
	const char *s;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < (json_int_t)min || i > (json_int_t)max)
			return -EINVAL;
		*ret = (unsigned)i;
		return 0;
	}
	s = json_str(v);
	if (!s)
		return -EINVAL;
	return parse_dec(s, strlen(s), min, max, ret);
}

/* For messages: the value as text (quoted) or its JSON type. */
static const char *value_text(json_t *v, char buf[RULES_QUOTE_MAX])
{
	const char *s = json_string_value(v);

	if (s)
		return rules_quote(s, buf);
	if (json_is_integer(v)) {
		snprintf(buf, RULES_QUOTE_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	return json_is_object(v) ? "an object" : json_is_array(v) ? "an array"
	       : json_is_boolean(v) ? "a boolean" : json_is_null(v) ? "null" : "a number";
}

static int parse_mac_field(const struct field_desc *fd, json_t *v, const char *path,
			   struct rules_mac *ret, char **ret_error)
{
	char q[RULES_QUOTE_MAX], tmp[18];
	struct rules_mac m = { .set = true };
	const char *s = json_str(v), *slash;

	if (!s)
		return rules_errorf(ret_error, "%s.%s: must be a string", path, fd->name);
	if (fd->var && (streq(s, "$MAC") || (fd->kind == F_MAC_MASK && streq(s, "$GATEWAY_MAC")))) {
		m.var = streq(s, "$MAC") ? RULES_VAR_MAC : RULES_VAR_GATEWAY_MAC;
		*ret = m;
		return 0;
	}
	memset(m.mask, 0xff, 6);
	slash = fd->kind == F_MAC_MASK ? strchr(s, '/') : NULL;
	if (slash) {
		if ((size_t)(slash - s) >= sizeof(tmp))
			goto bad;
		memcpy(tmp, s, (size_t)(slash - s));
		tmp[slash - s] = '\0';
		if (valid_parse_mac(tmp, m.addr) < 0 || valid_parse_mac(slash + 1, m.mask) < 0)
			goto bad;
		if (!(m.mask[0] | m.mask[1] | m.mask[2] | m.mask[3] | m.mask[4] | m.mask[5]))
			return rules_errorf(ret_error,
					    "%s.%s: %s: a zero mask matches everything; leave the field out",
					    path, fd->name, rules_quote(s, q));
	} else if (valid_parse_mac(s, m.addr) < 0) {
		goto bad;
	}
	/* The kernel keeps only the masked bits; so does *-save. */
	for (size_t i = 0; i < 6; i++)
		m.addr[i] &= m.mask[i];
	*ret = m;
	return 0;
bad:
	return rules_errorf(ret_error, "%s.%s: %s is not a MAC address", path, fd->name, rules_quote(s, q));
}

static int parse_ip_field(const struct field_desc *fd, json_t *v, const char *path, enum rules_proto proto,
			  struct rules_ip *ret, char **ret_error)
{
	char q[RULES_QUOTE_MAX], tmp[INET6_ADDRSTRLEN + 1];
	struct rules_ip ip = { .set = true };
	int want = rules_proto_af(proto);
	const char *s = json_str(v), *slash;
	size_t n;
	unsigned bits;

	if (!s)
		return rules_errorf(ret_error, "%s.%s: must be a string", path, fd->name);
	if (streq(s, "$IP") || streq(s, "$DHCPSERVER")) {
		ip.var = streq(s, "$IP") ? RULES_VAR_IP : RULES_VAR_DHCPSERVER;
		ip.af = want;
		*ret = ip;
		return 0;
	}
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n >= sizeof(tmp))
		goto bad;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (rules_parse_addr(tmp, 0, &ip.af, ip.addr) < 0)
		goto bad;
	if (ip.af != want)
		return rules_errorf(ret_error, "%s.%s: %s is an %s address, protocol \"%s\" needs %s", path,
				    fd->name, rules_quote(s, q), ip.af == AF_INET ? "IPv4" : "IPv6",
				    proto_names[proto], want == AF_INET ? "IPv4" : "IPv6");
	bits = ip.af == AF_INET ? 32 : 128;
	ip.prefix = bits;
	/* No /0: it matches everything, iptables leaves it out and the
	 * kernel refuses it negated. */
	if (slash && parse_dec(slash + 1, strlen(slash + 1), 1, bits, &ip.prefix) < 0)
		return rules_errorf(ret_error, "%s.%s: %s: the prefix length must be 1..%u", path, fd->name,
				    rules_quote(s, q), bits);
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = ip.prefix > i * 8 ? ip.prefix - i * 8 : 0;

		if (keep < 8)
			ip.addr[i] &= (uint8_t)(0xff00u >> keep);
	}
	*ret = ip;
	return 0;
bad:
	return rules_errorf(ret_error, "%s.%s: %s is not an IPv4 or IPv6 address", path, fd->name,
			    rules_quote(s, q));
}

/* "0x0800": an ethertype in hexadecimal, 0x0601..0xffff. */
static int parse_ethertype_field(const struct field_desc *fd, json_t *v, const char *path,
				 struct rules_num *num, char **ret_error)
{
	const char *s = json_str(v);
	size_t n = s ? strlen(s) : 0;
	char q[RULES_QUOTE_MAX];
	unsigned e = 0;

	if (!s || n < 3 || n > 6 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		goto bad;
	for (size_t k = 2; k < n; k++) {
		int h = valid_hexval(s[k]);

		if (h < 0)
			goto bad;
		e = e << 4 | (unsigned)h;
	}
	/* Below 0x0600 it is an 802.3 length; ebtables refuses those
	 * and prints 0x0600 itself back as "Length". */
	if (e <= 0x0600)
		goto bad;
	num->set = true;
	num->v = e;
	return 0;
bad:
	return rules_errorf(ret_error,
			    "%s.%s: %s is not an ethertype (hexadecimal 0x0601..0xffff, like "
			    "\"0x0800\")", path, fd->name, value_text(v, q));
}

/* A port (number or "N") or a range "N-M", 1 <= N <= M <= 65535. */
static int parse_port_field(const struct field_desc *fd, json_t *v, const char *path,
			    struct rules_range *rg, char **ret_error)
{
	const char *s = json_str(v);
	const char *dash = s ? strchr(s, '-') : NULL;
	char q[RULES_QUOTE_MAX];
	unsigned lo, hi;

	if (json_is_integer(v) || !dash) {
		if (json_uint(v, 1, 65535, &lo) < 0)
			goto bad;
		hi = lo;
	} else if (parse_dec(s, (size_t)(dash - s), 1, 65535, &lo) < 0 ||
		   parse_dec(dash + 1, strlen(dash + 1), 1, 65535, &hi) < 0 || lo > hi) {
		goto bad;
	}
	rg->set = true;
	rg->lo = lo;
	rg->hi = hi;
	return 0;
bad:
	return rules_errorf(ret_error,
			    "%s.%s: %s is not a port or port range (\"N\" or \"N-M\", 1 <= N <= M "
			    "<= 65535)", path, fd->name, value_text(v, q));
}

static int parse_field(const struct field_desc *fd, json_t *v, const char *path, struct rules_rule *r,
		       char **ret_error)
{
	static const char *const ip_protocols[] = { "icmp", "tcp", "udp", "icmpv6" };
	static const unsigned ip_protocol_nums[] = { 1, 6, 17, 58 };
	static const char *const arp_ops[] = { NULL, "request", "reply", "request_reverse", "reply_reverse" };
	char *p = (char *)r + fd->offset, q[RULES_QUOTE_MAX];
	struct rules_num *num = (struct rules_num *)p;
	const char *s = json_str(v);
	int i;

	switch (fd->kind) {
	case F_MAC:
	case F_MAC_MASK:
		return parse_mac_field(fd, v, path, (struct rules_mac *)p, ret_error);
	case F_IP:
		return parse_ip_field(fd, v, path, r->proto, (struct rules_ip *)p, ret_error);
	case F_ETHERTYPE:
		return parse_ethertype_field(fd, v, path, num, ret_error);
	case F_IPPROTO:
		i = lookup(s, ip_protocols, ELEMENTSOF(ip_protocols));
		if (i >= 0) {
			num->v = ip_protocol_nums[i];
		} else if (json_uint(v, 0, 255, &num->v) < 0) {
			return rules_errorf(ret_error,
					    "%s.%s: %s is not \"tcp\", \"udp\", \"icmp\", \"icmpv6\" or a "
					    "number 0..255", path, fd->name, value_text(v, q));
		}
		num->set = true;
		return 0;
	case F_PORT:
		return parse_port_field(fd, v, path, (struct rules_range *)p, ret_error);
	case F_ARPOP:
		i = lookup(s, arp_ops, ELEMENTSOF(arp_ops));
		if (i > 0) {
			num->v = (unsigned)i;
		} else if (json_uint(v, 1, 65535, &num->v) < 0) {
			return rules_errorf(ret_error,
					    "%s.%s: %s is not \"request\", \"reply\", \"request_reverse\", "
					    "\"reply_reverse\" or a number 1..65535", path, fd->name,
					    value_text(v, q));
		}
		num->set = true;
		return 0;
	case F_ICMP:
		if (json_uint(v, 0, 255, &num->v) < 0)
			return rules_errorf(ret_error, "%s.%s: %s is not a number 0..255", path, fd->name,
					    value_text(v, q));
		num->set = true;
		return 0;
	}
	assert(false);
	return -EINVAL;
}

/* The keys every rule has: direction, protocol, action, and the optional
 * priority and match. */
static int parse_rule_head(json_t *o, const char *path, struct rules_rule *r, char **ret_error)
{
	static const char *const dirs[] = { NULL, "in", "out", "inout" }; /* index = RULES_DIR_* bits */
	static const char *const actions[] = {
		[RULES_A_ACCEPT] = "accept", [RULES_A_DROP] = "drop",
		[RULES_A_REJECT] = "reject", [RULES_A_RETURN] = "return",
	};
	char q[RULES_QUOTE_MAX];
	json_t *v;
	int i;

	v = json_object_get(o, "direction");
	if (!v)
		return rules_errorf(ret_error, "%s.direction: missing", path);
	i = lookup(json_str(v), dirs, ELEMENTSOF(dirs));
	if (i <= 0)
		return rules_errorf(ret_error, "%s.direction: %s is not \"in\", \"out\" or \"inout\"", path,
				    value_text(v, q));
	r->dir = (unsigned)i;

	v = json_object_get(o, "protocol");
	if (!v)
		return rules_errorf(ret_error, "%s.protocol: missing", path);
	i = lookup(json_str(v), proto_names, ELEMENTSOF(proto_names));
	if (i < 0)
		return rules_errorf(ret_error,
				    "%s.protocol: %s is not one of mac, arp, rarp, ipv4, ipv6, all, tcp, "
				    "udp, icmp, tcp-ipv6, udp-ipv6, icmpv6", path, value_text(v, q));
	r->proto = (enum rules_proto)i;

	v = json_object_get(o, "action");
	if (!v)
		return rules_errorf(ret_error, "%s.action: missing", path);
	i = lookup(json_str(v), actions, ELEMENTSOF(actions));
	if (i < 0)
		return rules_errorf(ret_error,
				    "%s.action: %s is not \"accept\", \"drop\", \"reject\" or \"return\"",
				    path, value_text(v, q));
	r->action = (enum rules_action)i;

	v = json_object_get(o, "priority");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < -1000 || json_integer_value(v) > 1000)
			return rules_errorf(ret_error, "%s.priority: %s is not an integer -1000..1000", path,
					    value_text(v, q));
		r->priority = (int)json_integer_value(v);
	}

	v = json_object_get(o, "match");
	if (v) {
		if (!json_is_boolean(v))
			return rules_errorf(ret_error, "%s.match: must be true or false", path);
		r->match = json_is_true(v);
	}
	return 0;
}

static int parse_rule(json_t *o, size_t idx, struct rules_rule *ret, char **ret_error)
{
	struct rules_rule r = { .priority = 500, .match = true };
	char path[40], q[RULES_QUOTE_MAX];
	const char *key;
	json_t *v;
	int ret_r;

	snprintf(path, sizeof(path), "rules[%zu]", idx);
	if (!json_is_object(o))
		return rules_errorf(ret_error, "%s: must be an object", path);
	/* Unknown keys first: a typo should be named as such. */
	json_object_foreach(o, key, v)
		if (!rule_key_known(key))
			return rules_errorf(ret_error, "%s.%s: unknown field", path, key_text(key, q));

	ret_r = parse_rule_head(o, path, &r, ret_error);
	if (ret_r < 0)
		return ret_r;

	for (size_t k = 0; k < ELEMENTSOF(fields); k++) {
		const struct field_desc *fd = &fields[k];

		v = json_object_get(o, fd->name);
		if (!v)
			continue;
		if (!(fd->protos & (1u << r.proto)))
			return rules_errorf(ret_error, "%s.%s: not valid for protocol \"%s\" (only for %s)",
					    path, fd->name, proto_names[r.proto], fd->allowed);
		ret_r = parse_field(fd, v, path, &r, ret_error);
		if (ret_r < 0)
			return ret_r;
	}

	/* ebtables matches ports only under --ip-proto tcp or udp; that
	 * protocol is then a condition of the ports, like iptables' -p, and
	 * is not negated by match false (ebtables refuses "! tcp" with ports). */
	if ((r.proto == RULES_P_IPV4 || r.proto == RULES_P_IPV6) && (r.src_port.set || r.dst_port.set) &&
	    !(r.ip_protocol.set && (r.ip_protocol.v == 6 || r.ip_protocol.v == 17)))
		return rules_errorf(ret_error, "%s.%s: needs ip_protocol \"tcp\" or \"udp\"", path,
				    r.src_port.set ? "src_port" : "dst_port");
	*ret = r;
	return 0;
}

struct rules_filter *rules_filter_free(struct rules_filter *f)
{
	if (!f)
		return NULL;
	free(f->name);
	free(f->file);
	json_decref(f->json);
	free(f->rules);
	for (size_t i = 0; i < f->n_refs; i++)
		free(f->refs[i]);
	free(f->refs);
	free(f->chain);
	for (size_t i = 0; f->ref_args && i < f->n_refs; i++)
		free(f->ref_args[i].v);
	free(f->ref_args);
	free(f);
	return NULL;
}

int rules_filter_parse(json_t *root, struct rules_filter **ret, char **ret_error)
{
	static const char *const keys[] = { "name", "rules", "filters" };
	struct rules_filter *f = NULL;
	char q[RULES_QUOTE_MAX];
	const char *key, *name;
	json_t *v, *rules, *refs, *item;
	size_t i;
	int r;

	if (!json_is_object(root))
		return rules_errorf(ret_error, "json: the file must hold one JSON object");
	json_object_foreach(root, key, v)
		if (lookup(key, keys, ELEMENTSOF(keys)) < 0)
			return rules_errorf(ret_error, "%s: unknown field", key_text(key, q));

	v = json_object_get(root, "name");
	if (!v)
		return rules_errorf(ret_error, "name: missing");
	name = json_str(v);
	if (!rules_name_valid(name))
		return rules_errorf(ret_error,
				    "name: %s is not a valid filter name (1..%d characters of A-Z a-z 0-9 _ "
				    ". -, not starting with '-')", value_text(v, q), RULES_NAME_MAX);

	rules = json_object_get(root, "rules");
	if (rules && !json_is_array(rules))
		return rules_errorf(ret_error, "rules: must be an array");
	refs = json_object_get(root, "filters");
	if (refs && !json_is_array(refs))
		return rules_errorf(ret_error, "filters: must be an array");
	json_array_foreach(refs, i, item)
		if (!rules_name_valid(json_str(item)))
			return rules_errorf(ret_error, "filters[%zu]: %s is not a valid filter name", i,
					    value_text(item, q));

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->name = strdup(name);
	f->rules = calloc(json_array_size(rules) + 1, sizeof(*f->rules));
	f->refs = calloc(json_array_size(refs) + 1, sizeof(*f->refs));
	if (!f->name || !f->rules || !f->refs) {
		r = -ENOMEM;
		goto fail;
	}
	json_array_foreach(rules, i, item) {
		r = parse_rule(item, i, &f->rules[i], ret_error);
		if (r < 0)
			goto fail;
		f->n_rules++;
	}
	json_array_foreach(refs, i, item) {
		f->refs[i] = strdup(json_string_value(item));
		if (!f->refs[i]) {
			r = -ENOMEM;
			goto fail;
		}
		f->n_refs++;
	}
	f->json = json_incref(root);
	*ret = f;
	return 0;
fail:
	rules_filter_free(f);
	return r;
}

