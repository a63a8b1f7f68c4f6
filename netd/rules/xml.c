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
#include "xml-internal.h"
#include "util.h"
#include "valid.h"

#define XML_RULES_MAX 4096 /* rules and references in one filter */
#define XML_ARGS_MAX 16    /* parameters of one <filterref> */


/* --- chains --- */

struct chain_kind {
	const char *prefix;
	int prio;                /* libvirt's default priority of such a chain */
	enum rules_proto proto;  /* what a rule without protocol element matches there */
};

static const struct chain_kind chain_kinds[] = {
	{ "root", 0, RULES_P_ALL },      { "mac", -800, RULES_P_ALL },
	{ "vlan", -750, RULES_P_VLAN }, { "ipv4", -700, RULES_P_IPV4 }, { "ipv6", -600, RULES_P_IPV6 },
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

/* --- protocol elements --- */

enum elem_kind { E_MAC, E_ARP, E_IP, E_TRANSPORT, E_ICMP, E_IPONLY, E_VLAN };

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
	{ "vlan", RULES_P_VLAN, E_VLAN },
};

/* The libvirt protocols netd has no rendering for, named in messages. */
static const char *const elems_unsupported[] = { "stp" };

static int parse_elem_attrs(const struct elem_desc *ed, struct attrs *a, struct rules_rule *r, char **ret_error)
{
	int af = rules_proto_af(ed->proto), ret = 0;

	if (ed->kind == E_MAC || ed->kind == E_ARP || ed->kind == E_IP || ed->kind == E_VLAN) {
		ret = rules_xml_mac(a, "srcmacaddr", "srcmacmask", &r->src_mac, ret_error);
		if (ret >= 0)
			ret = rules_xml_mac(a, "dstmacaddr", "dstmacmask", &r->dst_mac, ret_error);
	}
	if (ret >= 0 && ed->kind == E_MAC)
		ret = rules_xml_ethertype(a, "protocolid", &r->ethertype, ret_error);
	if (ret >= 0 && ed->kind == E_ARP) {
		ret = rules_xml_opcode(a, &r->arp_op, ret_error);
		if (ret >= 0)
			ret = rules_xml_arp_extra(a, r, ret_error);
		if (ret >= 0)
			ret = rules_xml_mac(a, "arpsrcmacaddr", NULL, &r->arp_src_mac, ret_error);
		if (ret >= 0)
			ret = rules_xml_mac(a, "arpdstmacaddr", NULL, &r->arp_dst_mac, ret_error);
		if (ret >= 0)
			ret = rules_xml_ip(a, "arpsrcipaddr", "arpsrcipmask", AF_INET, &r->arp_src_ip, ret_error);
		if (ret >= 0)
			ret = rules_xml_ip(a, "arpdstipaddr", "arpdstipmask", AF_INET, &r->arp_dst_ip, ret_error);
	}
	if (ret >= 0 && ed->kind == E_VLAN)
		ret = rules_xml_vlan(a, r, ret_error);
	if (ret >= 0 && ed->kind != E_MAC && ed->kind != E_ARP && ed->kind != E_VLAN) {
		ret = rules_xml_ip(a, "srcipaddr", "srcipmask", af, &r->src_ip, ret_error);
		if (ret >= 0)
			ret = rules_xml_ip(a, "dstipaddr", "dstipmask", af, &r->dst_ip, ret_error);
	}
	if (ret >= 0 && (ed->kind == E_TRANSPORT || ed->kind == E_ICMP || ed->kind == E_IPONLY)) {
		const char *d = rules_xml_attr(a, "dscp");
		char q[RULES_QUOTE_MAX];

		ret = rules_xml_range(a, "srcipfrom", "srcipto", af, &r->src_range, ret_error);
		if (ret >= 0)
			ret = rules_xml_range(a, "dstipfrom", "dstipto", af, &r->dst_range, ret_error);
		if (ret >= 0 && d && rules_xml_num(d, 0, 63, &r->dscp.v) < 0)
			ret = rules_xml_errorf(ret_error, a->node, "<%s> dscp=%s is not 0..63", S(a->node->name),
					       rules_quote(d, q));
		r->dscp.set = d != NULL;
		if (ret >= 0)
			ret = rules_xml_state(a, r, ret_error);
	}
	if (ret >= 0 && ed->kind == E_IP)
		ret = rules_xml_ip_protocol(a, &r->ip_protocol, ret_error);
	if (ret >= 0 && (ed->proto == RULES_P_TCP || ed->proto == RULES_P_TCP6))
		ret = rules_xml_tcp_flags(a, r, ret_error);
	if (ret >= 0 && (ed->kind == E_IP || ed->kind == E_TRANSPORT)) {
		ret = rules_xml_ports(a, "srcportstart", "srcportend", &r->src_port, ret_error);
		if (ret >= 0)
			ret = rules_xml_ports(a, "dstportstart", "dstportend", &r->dst_port, ret_error);
	}
	if (ret >= 0 && ed->kind == E_ICMP)
		ret = rules_xml_icmp(a, r, ret_error);
	return ret;
}

/* The match attribute ("yes"/"no") and the comment, which netd does not
 * render (it has no effect on what passes). */
static int parse_elem_common(struct attrs *a, struct rules_rule *r, char **ret_error)
{
	const char *m = rules_xml_attr(a, "match");
	char q[RULES_QUOTE_MAX];

	rules_xml_attr(a, "comment");
	if (!m)
		return 0;
	if (streq(m, "yes") || streq(m, "true") || streq(m, "1"))
		r->match = true;
	else if (streq(m, "no") || streq(m, "false") || streq(m, "0"))
		r->match = false;
	else
		return rules_xml_errorf(ret_error, a->node, "<%s> match=%s is not yes or no", S(a->node->name),
				  rules_quote(m, q));
	return 0;
}

/* Which protocol a <mac> or bare rule is in a chain of kind k, checked
 * against the element's own. */
static int fit_chain(const struct chain_kind *k, const xmlNode *n, struct rules_rule *r, char **ret_error)
{
	static const unsigned ethertypes[RULES_P_COUNT] = {
		[RULES_P_ARP] = 0x0806, [RULES_P_RARP] = 0x8035,
		[RULES_P_IPV4] = 0x0800, [RULES_P_IPV6] = 0x86dd, [RULES_P_VLAN] = 0x8100,
	};

	if (rules_proto_family(r->proto) != RULES_EB || k->proto == RULES_P_ALL)
		return 0; /* iptables rules are not in ebtables' chains */
	if (r->proto == RULES_P_MAC || r->proto == RULES_P_ALL) {
		if (r->ethertype.set && r->ethertype.v != ethertypes[k->proto])
			return rules_xml_errorf(ret_error, n, "<mac> protocolid 0x%04x can never match in a chain of "
					  "kind %s", r->ethertype.v, k->prefix);
		r->ethertype.set = false;
		r->proto = k->proto;
		return 0;
	}
	if (r->proto != k->proto)
		return rules_xml_errorf(ret_error, n, "<%s> can never match in a chain of kind %s", S(n->name),
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
				return rules_xml_errorf(ret_error, n, "<%s>: protocol not supported by netd",
						  S(n->name));
		return rules_xml_errorf(ret_error, n, "<%s>: unknown protocol element", S(n->name));
	}
	r->proto = ed->proto;
	ret = rules_xml_attrs_read(n, &a, ret_error);
	if (ret >= 0)
		ret = parse_elem_common(&a, r, ret_error);
	if (ret >= 0)
		ret = parse_elem_attrs(ed, &a, r, ret_error);
	if (ret >= 0)
		ret = rules_xml_attrs_check(&a, ret_error);
	rules_xml_attrs_done(&a);
	if (ret >= 0 && (r->proto == RULES_P_IPV4 || r->proto == RULES_P_IPV6) &&
	    (r->src_port.set || r->dst_port.set) &&
	    !(r->ip_protocol.set && (r->ip_protocol.v == 6 || r->ip_protocol.v == 17)))
		return rules_xml_errorf(ret_error, n, "<%s>: ports need protocol tcp or udp", S(n->name));
	if (ret >= 0)
		ret = fit_chain(k, n, r, ret_error);
	/* libvirt's statematch (on unless 'false'): an accept rule of one
	 * direction without a state of its own lets its connection's replies
	 * back; drop, reject, return and inout rules match without state. */
	if (ret >= 0 && (ed->kind == E_TRANSPORT || ed->kind == E_ICMP || ed->kind == E_IPONLY) && !stateless &&
	    !r->ct_state.set && r->action == RULES_A_ACCEPT && r->dir != (RULES_DIR_IN | RULES_DIR_OUT)) {
		r->ct_state.set = true;
		r->ct_state.v = RULES_CT_NEW | RULES_CT_ESTABLISHED;
		r->ct_auto = true;
	}
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
	_cleanup_(rules_xml_attrs_done) struct attrs a = { 0 };
	const char *act, *dir, *prio, *sm;
	char q[RULES_QUOTE_MAX];
	unsigned v;
	int ret = rules_xml_attrs_read(n, &a, ret_error);

	if (ret < 0)
		return ret;
	act = rules_xml_attr(&a, "action");
	dir = rules_xml_attr(&a, "direction");
	prio = rules_xml_attr(&a, "priority");
	sm = rules_xml_attr(&a, "statematch");
	ret = rules_xml_attrs_check(&a, ret_error);
	if (ret < 0)
		return ret;
	if (act && streq(act, "continue"))
		return rules_xml_errorf(ret_error, n, "<rule> action='continue' is not supported (a rule "
				  "that only counts)");
	ret = -1;
	for (size_t i = 0; act && i < ELEMENTSOF(actions); i++)
		if (streq(act, actions[i]))
			ret = (int)i;
	if (ret < 0)
		return rules_xml_errorf(ret_error, n, "<rule> action=%s is not accept, drop, reject or return",
				  act ? rules_quote(act, q) : "(missing)");
	r->action = (enum rules_action)ret;
	for (unsigned i = 1; dir && i < ELEMENTSOF(dirs); i++)
		if (streq(dir, dirs[i]))
			r->dir = i;
	if (r->dir == 0)
		return rules_xml_errorf(ret_error, n, "<rule> direction=%s is not in, out or inout",
				  dir ? rules_quote(dir, q) : "(missing)");
	if (prio) {
		bool neg = prio[0] == '-';

		if (rules_xml_num(prio + neg, 0, 1000, &v) < 0 || strncmp(prio + neg, "0x", 2) == 0)
			return rules_xml_errorf(ret_error, n, "<rule> priority=%s is not -1000..1000",
					  rules_quote(prio, q));
		r->priority = neg ? -(int)v : (int)v;
	}
	*ret_stateless = sm && (streq(sm, "false") || streq(sm, "0"));
	if (sm && !*ret_stateless && !streq(sm, "true") && !streq(sm, "1"))
		return rules_xml_errorf(ret_error, n, "<rule> statematch=%s is not true or false", rules_quote(sm, q));
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
			return rules_xml_errorf(ret_error, c, "<rule>: more than one protocol element");
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

/* One <parameter name= value=> of a <filterref>: a constant for one of the
 * variables netd binds. */
static int parse_parameter(const xmlNode *c, struct rules_arg *ret, char **ret_error)
{
	_cleanup_(rules_xml_attrs_done) struct attrs a = { 0 };
	const char *name, *value;
	char q[RULES_QUOTE_MAX];
	int r = rules_xml_attrs_read(c, &a, ret_error);

	if (r < 0)
		return r;
	name = rules_xml_attr(&a, "name");
	value = rules_xml_attr(&a, "value");
	r = rules_xml_attrs_check(&a, ret_error);
	if (r < 0)
		return r;
	if (!streq(S(c->name), "parameter") || !name || !value)
		return rules_xml_errorf(ret_error, c, "<filterref> holds only <parameter name=... value=...>");
	memset(ret, 0, sizeof(*ret));
	if (streq(name, "MAC") || streq(name, "GATEWAY_MAC")) {
		ret->var = streq(name, "MAC") ? RULES_VAR_MAC : RULES_VAR_GATEWAY_MAC;
		r = rules_param_check("MAC", value) < 0 ? -EINVAL : valid_parse_mac(value, ret->addr);
	} else if (streq(name, "IP") || streq(name, "IPV6") || streq(name, "DHCPSERVER")) {
		ret->var = streq(name, "DHCPSERVER") ? RULES_VAR_DHCPSERVER : RULES_VAR_IP;
		r = rules_parse_addr(value, streq(name, "IPV6") ? AF_INET6 : 0, &ret->af, ret->addr);
	} else {
		return rules_xml_errorf(ret_error, c, "<parameter> name=%s: netd binds only MAC, GATEWAY_MAC, IP, "
					"IPV6 and DHCPSERVER", rules_quote(name, q));
	}
	if (r < 0)
		return rules_xml_errorf(ret_error, c, "<parameter name='%s'> value=%s is not %s", name,
					rules_quote(value, q), ret->var == RULES_VAR_MAC ||
					ret->var == RULES_VAR_GATEWAY_MAC ? "a unicast MAC address" :
					streq(name, "IPV6") ? "an IPv6 address" : "an IPv4 or IPv6 address");
	return 0;
}

static int parse_filterref(const xmlNode *n, char **ret, struct rules_args *ret_args, char **ret_error)
{
	_cleanup_(rules_xml_attrs_done) struct attrs a = { 0 };
	const char *name;
	char q[RULES_QUOTE_MAX];
	int r = rules_xml_attrs_read(n, &a, ret_error);

	if (r < 0)
		return r;
	name = rules_xml_attr(&a, "filter");
	r = rules_xml_attrs_check(&a, ret_error);
	if (r < 0)
		return r;
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (ret_args->n == XML_ARGS_MAX)
			return rules_xml_errorf(ret_error, c, "<filterref>: more than %d parameters", XML_ARGS_MAX);
		if (!ret_args->v && !(ret_args->v = calloc(XML_ARGS_MAX, sizeof(*ret_args->v))))
			return -ENOMEM;
		r = parse_parameter(c, &ret_args->v[ret_args->n], ret_error);
		if (r < 0)
			return r;
		ret_args->n++;
	}
	if (!rules_name_valid(name))
		return rules_xml_errorf(ret_error, n, "<filterref> filter=%s is not a valid filter name",
				  name ? rules_quote(name, q) : "(missing)");
	*ret = strdup(name);
	return *ret ? 0 : -ENOMEM;
}

/* The <filter> element's attributes into f. */
static int parse_filter_head(const xmlNode *root, struct rules_filter *f, const struct chain_kind **ret_kind,
			     char **ret_error)
{
	_cleanup_(rules_xml_attrs_done) struct attrs a = { 0 };
	const char *name, *chain, *prio;
	const struct chain_kind *k;
	char q[RULES_QUOTE_MAX];
	unsigned v;
	int r = rules_xml_attrs_read(root, &a, ret_error);

	if (r < 0)
		return r;
	name = rules_xml_attr(&a, "name");
	chain = rules_xml_attr(&a, "chain");
	prio = rules_xml_attr(&a, "priority");
	r = rules_xml_attrs_check(&a, ret_error);
	if (r < 0)
		return r;
	if (!rules_name_valid(name))
		return rules_xml_errorf(ret_error, root,
				  "<filter> name=%s is not a valid filter name (1..%d characters of A-Z "
				  "a-z 0-9 _ . -, not starting with '-')", name ? rules_quote(name, q) : "(missing)",
				  RULES_NAME_MAX);
	k = chain_kind(chain ? chain : "root");
	if (!k || strlen(chain ? chain : "") > 24)
		return rules_xml_errorf(ret_error, root,
				  "<filter> chain=%s is not root, mac, vlan, arp, rarp, ipv4, ipv6 or one of "
				  "them followed by '-' and a suffix (up to 24 characters; stp chains are "
				  "not supported)", rules_quote(chain, q));
	f->chain_prio = k->prio;
	if (prio) {
		bool neg = prio[0] == '-';

		if (rules_xml_num(prio + neg, 0, 1000, &v) < 0 || strncmp(prio + neg, "0x", 2) == 0)
			return rules_xml_errorf(ret_error, root, "<filter> priority=%s is not -1000..1000",
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
		return rules_xml_errorf(ret_error, root, "<filter>: more than %d rules and references",
				  XML_RULES_MAX);
	f->rules = calloc(n + 1, sizeof(*f->rules));
	f->refs = calloc(n + 1, sizeof(*f->refs));
	f->ref_args = calloc(n + 1, sizeof(*f->ref_args));
	if (!f->rules || !f->refs || !f->ref_args)
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
			r = parse_filterref(c, &f->refs[f->n_refs], &f->ref_args[f->n_refs], ret_error);
			if (r < 0) {
				free(f->ref_args[f->n_refs].v); /* not counted yet: rules_filter_free() misses it */
				return r;
			}
			f->n_refs++;
		} else if (!streq(S(c->name), "uuid")) { /* libvirt's identity of the filter */
			return rules_xml_errorf(ret_error, c, "<%s>: unknown element in <filter>", S(c->name));
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
	    json_object_set_new(o, "libvirt_xml", json_stringn(text, len)) < 0) {
		json_decref(o);
		return NULL;
	}
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
		r = rules_xml_errorf(ret_error, root, "a DOCTYPE before <filter> is not supported");
		goto out;
	}
	if (!root || !streq(S(root->name), "filter")) {
		r = rules_xml_errorf(ret_error, root, "the root element must be <filter>");
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
