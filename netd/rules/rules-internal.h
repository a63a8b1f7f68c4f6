/*
 * rules-internal.h: what rules.c (messages, checks), parse.c (one filter),
 * defs.c (the set of definitions, loading), render.c
 * (restore text) and builtin.c (the built-in filters) share: the parsed
 * form of a filter and the strict value parsers. Not for use outside
 * netd/rules/.
 */
#ifndef NETD_RULES_INTERNAL_H
#define NETD_RULES_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

/* Directions are bits: a rule in both is rendered in both chains. */
#define RULES_DIR_IN 1u
#define RULES_DIR_OUT 2u

/* struct rules_rule's ct_state bits. */
#define RULES_CT_INVALID 1u
#define RULES_CT_NEW 2u
#define RULES_CT_RELATED 4u
#define RULES_CT_ESTABLISHED 8u

enum rules_proto {
	RULES_P_MAC,
	RULES_P_ARP,
	RULES_P_RARP,
	RULES_P_IPV4,
	RULES_P_IPV6,
	RULES_P_ALL,
	RULES_P_TCP,
	RULES_P_UDP,
	RULES_P_ICMP,
	RULES_P_TCP6,
	RULES_P_UDP6,
	RULES_P_ICMP6,
	/* Only in libvirt's XML filters (xml.c): iptables' and ip6tables'
	 * other protocols, and every IP protocol ("all"). */
	RULES_P_SCTP,
	RULES_P_UDPLITE,
	RULES_P_ESP,
	RULES_P_AH,
	RULES_P_IGMP,
	RULES_P_ALLIP,
	RULES_P_SCTP6,
	RULES_P_UDPLITE6,
	RULES_P_ESP6,
	RULES_P_AH6,
	RULES_P_ALLIP6,
	RULES_P_VLAN, /* ebtables' 802.1Q frames */
	RULES_P_COUNT,
};

enum rules_action { RULES_A_ACCEPT, RULES_A_DROP, RULES_A_REJECT, RULES_A_RETURN };

enum rules_var { RULES_VAR_NONE, RULES_VAR_MAC, RULES_VAR_IP, RULES_VAR_DHCPSERVER, RULES_VAR_GATEWAY_MAC };

struct rules_mac {
	bool set;
	enum rules_var var; /* RULES_VAR_MAC, RULES_VAR_GATEWAY_MAC or none */
	uint8_t addr[6];    /* with the bits outside mask cleared, as the kernel keeps it */
	uint8_t mask[6];    /* ff:ff:ff:ff:ff:ff when none was given */
};

struct rules_ip {
	bool set;
	enum rules_var var; /* RULES_VAR_IP, RULES_VAR_DHCPSERVER or none */
	int af;             /* AF_INET or AF_INET6 */
	uint8_t addr[16];   /* host bits cleared */
	unsigned prefix;    /* 1..32 or 1..128; the full length when none was given */
};

struct rules_num {
	bool set;
	unsigned v;
};

struct rules_range {
	bool set;
	unsigned lo, hi;
};

/* An address range (iptables' -m iprange; libvirt's srcipfrom/srcipto). */
struct rules_iprange {
	bool set;
	int af;
	uint8_t lo[16], hi[16];
};

struct rules_rule {
	unsigned dir; /* RULES_DIR_* bits */
	enum rules_proto proto;
	enum rules_action action;
	int priority;
	bool match; /* false: every match field negated */
	struct rules_mac src_mac, dst_mac, arp_src_mac, arp_dst_mac;
	struct rules_ip src_ip, dst_ip, arp_src_ip, arp_dst_ip;
	struct rules_num ethertype, ip_protocol, arp_op, icmp_type;
	struct rules_num vlan_id, vlan_encap; /* libvirt's <vlan> (xml.c) */
	struct rules_num icmp_code;           /* libvirt's <icmp code> (xml.c), with icmp_type */
	struct rules_num arp_htype, arp_ptype, arp_gratuitous; /* libvirt's <arp> (xml.c) */
	struct rules_iprange src_range, dst_range;             /* libvirt's srcipfrom..., iptables only */
	struct rules_num dscp;                                 /* libvirt's dscp, iptables only */
	struct rules_num tcp_mask, tcp_flags;                  /* libvirt's <tcp flags> (bits FIN 1 ... URG 32) */
	struct rules_num ct_state;                             /* libvirt's state (INVALID 1, NEW 2, RELATED 4,
								  ESTABLISHED 8), iptables only */
	/* libvirt's default statematch for an accept rule in or out without a
	 * state: NEW,ESTABLISHED in its own direction and, in the other, its
	 * reply (addresses and ports swapped) ESTABLISHED; render.c. */
	bool ct_auto; /* ct_state set so; never negated by match=false */
	struct rules_range src_port, dst_port;
	unsigned line; /* where an XML filter defines it (for messages); 0 in JSON */
};

/* A <parameter> of a libvirt <filterref> (xml.c): a constant for one of
 * the binding's variables, in the referenced filter and what it refers to. */
struct rules_arg {
	enum rules_var var;
	int af;           /* of an address: AF_INET or AF_INET6; 0 for a MAC */
	uint8_t addr[16]; /* the address, or the MAC in its first 6 bytes */
};

struct rules_args {
	struct rules_arg *v;
	size_t n;
};

struct rules_filter {
	char *name;
	char *file;   /* NULL for built-ins */
	bool builtin;
	json_t *json; /* the definition as given */
	struct rules_rule *rules;
	size_t n_rules;
	char **refs;  /* referenced filter names, in order */
	size_t n_refs;
	/* libvirt's XML filters (xml.c): the chain the rules go to ("mac",
	 * "arp-ip", ...; NULL: the root chain, as for every JSON filter)
	 * and its place among the root chain's rules (flatten.c). */
	char *chain;
	int chain_prio;
	struct rules_args *ref_args; /* per reference, its parameters; NULL: none at all */
	/* rules_filter_digest() of each target (0: xtables, 1: nft), ""
	 * until asked for: valid as long as the set does not change. */
	char digest[2][65];
};

struct rules_defs {
	struct rules_filter **v; /* sorted by name */
	size_t n;
	bool loaded;             /* rules_defs_load_dir() ran */
};

/* The built-in filters, as JSON texts in the custom file format. */
extern const char *const rules_builtin_json[];
extern const size_t rules_builtin_count;

/* The filter of that name and its index in d->v, or NULL. */
const struct rules_filter *rules_defs_find(const struct rules_defs *d, const char *name, size_t *ret_index);

/* Which family renders a protocol, and which address family its IP
 * fields are (0 for mac and all). */
enum rules_family rules_proto_family(enum rules_proto p);
int rules_proto_af(enum rules_proto p);

/* An IPv4 or IPv6 address without prefix (af 0: either). 0 or -EINVAL. */
int rules_parse_addr(const char *s, int af, int *ret_af, uint8_t ret[16]);

/* Parse a filter definition (the root of one file). 0, or -EINVAL with
 * *ret_error = "FIELD: why" (malloc'd), or -ENOMEM. The filter keeps a
 * reference to root. */
int rules_filter_parse(json_t *root, struct rules_filter **ret, char **ret_error);

/* Parse a filter in libvirt's XML format (len bytes of text; xml.c). 0,
 * or -EINVAL with *ret_error = "line N: why" (malloc'd), or -ENOMEM. */
int rules_xml_parse(const char *text, size_t len, struct rules_filter **ret, char **ret_error);

/* What a rule without protocol element matches in a chain of that name
 * (RULES_P_ARP for "arp-ip", RULES_P_ALL for "mac" and NULL). */
enum rules_proto rules_xml_chain_proto(const char *chain);

/* A rule as rendering sees it: the rule, its filter, its place. */
struct rules_item {
	const struct rules_rule *r;
	const struct rules_filter *f;
	size_t seq; /* definition order, for a stable sort */
};

/* The rules a binding's filter brings (rules_items_collect()). */
struct rules_items {
	struct rules_item *v;
	size_t n, cap;
	bool chained;                 /* some rule is in one of libvirt's sub-chains */
	const struct rules_args **ctx; /* the references' parameters on the way down */
	size_t nctx;
	struct rules_rule **owned;    /* the copies those parameters made */
	size_t n_owned;
};

/* args.c: append rule r of filter f to it, as it is or, under the
 * references' parameters it->ctx, as the copies rules_args_apply() makes.
 * 0, -ENOMEM, or -E2BIG for more than 4096 copies of one rule. */
int rules_items_add(struct rules_items *it, const struct rules_filter *f, const struct rules_rule *r);

/* Free what it holds and zero it. */
void rules_items_done(struct rules_items *it);

/* args.c: into it (zeroed), the rules of filter d->v[fi] and,
 * recursively, of the filters it refers to (each once, but once per
 * reference with <filterref> parameters, which apply to its copies), in
 * the order to render: by priority, then definition order (stable).
 * it->chained tells whether any is in one of libvirt's sub-chains. 0,
 * -ENOMEM, or -EINVAL with *ret_error "filter: ..." for too many copies.
 * rules_items_done() frees it in every case. */
int rules_items_collect(const struct rules_defs *d, size_t fi, struct rules_items *it, char **ret_error);

/* How many values variable var has for address family af (0: MAC-like)
 * in the binding being rendered. */
typedef size_t (*rules_count_fn)(const void *userdata, enum rules_var var, int af);

/*
 * flatten.c: the ebtables rules of direction dir (a RULES_DIR_* bit) of
 * it[0..n) (sorted by rule priority, stable), with libvirt's sub-chains of
 * XML filters folded into one chain with the same verdicts: *ret (malloc'd
 * copies, *ret_n of them) in the order to render. 0, -ENOMEM, or -EINVAL
 * with *ret_error "filter: ..." for a return that cannot be folded.
 */
int rules_flatten(const struct rules_item *it, size_t n, unsigned dir, rules_count_fn count,
		  const void *userdata, struct rules_rule **ret, size_t *ret_n, char **ret_error);

struct strbuf;

/* render-xml.c: append the matches of rule r (neg: "" or "! ") that only
 * libvirt's XML filters have: ebtables' --vlan-id/--vlan-encap, and the
 * -p/-m options of iptables' other protocols (sctp, udplite, esp, ah,
 * igmp, all). */
void rules_line_eb_vlan(struct strbuf *b, const struct rules_rule *r, const char *neg);
void rules_line_ip_other(struct strbuf *b, const struct rules_rule *r, const char *neg);
/* " [!] --tcp-flags MASK FLAGS" when r has them, as iptables-save names them. */
void rules_line_tcp_flags(struct strbuf *b, const struct rules_rule *r, const char *neg);
/* " -m iprange [!] --src-range A-B [!] --dst-range C-D",
 * " -m dscp [!] --dscp 0xNN" and " -m conntrack [!] --ctstate S,...", those of
 * them r has. */
void rules_line_ip_range(struct strbuf *b, const struct rules_rule *r, const char *neg);

/*
 * args.c: the copies of rule r with every variable that the references'
 * parameters ctx[0..nctx) (outermost first) give values for replaced by
 * those values: the innermost reference that gives a variable values of
 * the rule's address family decides; several values, or several such
 * variables, give one copy per combination (the first field's variable
 * varying slowest). *ret (malloc'd, *ret_n copies; NULL and 0 when no
 * variable is replaced: the rule stands as it is). 0 or -ENOMEM.
 */
int rules_args_apply(const struct rules_rule *r, const struct rules_args *const *ctx, size_t nctx,
		     struct rules_rule **ret, size_t *ret_n);

/* Free a filter. Accepts NULL; returns NULL. */
struct rules_filter *rules_filter_free(struct rules_filter *f);

/* *ret_error = the formatted message (malloc'd); returns -EINVAL, or
 * -ENOMEM (then *ret_error is untouched). */
__attribute__((format(printf, 2, 3))) int rules_errorf(char **ret_error, const char *fmt, ...);

/* A copy of s (malloc'd, NULL if out of memory) with control bytes
 * replaced, so that a file name or a parser's message cannot forge lines
 * in a log. */
char *rules_clean_dup(const char *s);

/* A printable, bounded rendition of user text for messages: the value in
 * single quotes, control and non-ASCII bytes and quotes escaped, cut
 * after 64 bytes with "...". */
#define RULES_QUOTE_MAX (2 + 64 * 4 + 3 + 1)
const char *rules_quote(const char *s, char buf[RULES_QUOTE_MAX]);

#endif
