/*
 * flatten.c: libvirt's ebtables chains folded into netd's one chain per
 * direction and port, with the same verdict for every frame.
 *
 * libvirt puts the rules of a filter with chain "arp-ip" into a chain of
 * their own, jumped to from the port's root chain for ARP frames at the
 * chain's priority; "return" there goes back to the root chain, which
 * continues after the jump. Here each such chain is a block of rules at
 * its priority among the root chain's rules (every rule in it already
 * matches only the chain's protocol, see xml.c), and each of its returns
 * is replaced by what the rest of the root chain does with such frames:
 * - when the first later root rule or block that may see frames of the
 *   chain's protocol is a rule that takes all of them (no condition but
 *   the protocol), the return becomes that rule's verdict (nothing later:
 *   netd's return, the frame passes);
 * - otherwise, when the return has a single condition with one value and
 *   every later rule of the block has none, the return is left out and
 *   the later rules get its condition negated;
 * - otherwise the binding is refused with the rule's line: netd has no
 *   rendering with the same meaning.
 * libvirt makes those chains with ebtables' default policy, ACCEPT: a
 * frame that reaches the end of one without a verdict is accepted there
 * and never comes back to the root chain (allow-dhcp followed by a drop
 * of everything lets all IPv4 through in libvirt). So a block ends with
 * an accept of every frame that reaches its end, unless its last rule
 * already takes them all (docs/libvirt-equivalence.md).
 * Root chain rules (all of a JSON filter's) keep their action.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules-internal.h"
#include "util.h"

/* An entry of the root chain: a rule, or a block (a sub-chain). */
struct entry {
	int prio;
	size_t seq;
	const struct rules_rule *r; /* NULL for a block */
	const char *chain;          /* the block's chain */
	unsigned ethertype;         /* what the block sees; 0: everything */
};

static unsigned proto_ethertype(enum rules_proto p)
{
	switch (p) {
	case RULES_P_ARP:
		return 0x0806;
	case RULES_P_RARP:
		return 0x8035;
	case RULES_P_IPV4:
		return 0x0800;
	case RULES_P_IPV6:
		return 0x86dd;
	case RULES_P_VLAN:
		return 0x8100;
	default:
		return 0;
	}
}

/* The conditions a rule may have besides its protocol. */
enum fkind { K_MAC, K_IP, K_NUM, K_RANGE };

static const struct {
	size_t off;
	enum fkind kind;
} conds[] = {
	{ offsetof(struct rules_rule, src_mac), K_MAC },     { offsetof(struct rules_rule, dst_mac), K_MAC },
	{ offsetof(struct rules_rule, arp_src_mac), K_MAC }, { offsetof(struct rules_rule, arp_dst_mac), K_MAC },
	{ offsetof(struct rules_rule, src_ip), K_IP },       { offsetof(struct rules_rule, dst_ip), K_IP },
	{ offsetof(struct rules_rule, arp_src_ip), K_IP },   { offsetof(struct rules_rule, arp_dst_ip), K_IP },
	{ offsetof(struct rules_rule, ethertype), K_NUM },   { offsetof(struct rules_rule, ip_protocol), K_NUM },
	{ offsetof(struct rules_rule, arp_op), K_NUM },      { offsetof(struct rules_rule, icmp_type), K_NUM },
	{ offsetof(struct rules_rule, src_port), K_RANGE },  { offsetof(struct rules_rule, dst_port), K_RANGE },
	{ offsetof(struct rules_rule, vlan_id), K_NUM },     { offsetof(struct rules_rule, vlan_encap), K_NUM },
	{ offsetof(struct rules_rule, icmp_code), K_NUM },   { offsetof(struct rules_rule, arp_htype), K_NUM },
	{ offsetof(struct rules_rule, arp_ptype), K_NUM },   { offsetof(struct rules_rule, arp_gratuitous), K_NUM },
};

static bool cond_set(const struct rules_rule *r, size_t i)
{
	const char *p = (const char *)r + conds[i].off;

	switch (conds[i].kind) {
	case K_MAC:
		return ((const struct rules_mac *)p)->set;
	case K_IP:
		return ((const struct rules_ip *)p)->set;
	case K_NUM:
		return ((const struct rules_num *)p)->set;
	default:
		return ((const struct rules_range *)p)->set;
	}
}

static size_t cond_size(size_t i)
{
	static const size_t sz[] = { [K_MAC] = sizeof(struct rules_mac), [K_IP] = sizeof(struct rules_ip),
				     [K_NUM] = sizeof(struct rules_num), [K_RANGE] = sizeof(struct rules_range) };

	return sz[conds[i].kind];
}

/* The number of conditions of r; *ret_last the index of the last. */
static size_t cond_count(const struct rules_rule *r, size_t *ret_last)
{
	size_t n = 0;

	for (size_t i = 0; i < ELEMENTSOF(conds); i++)
		if (cond_set(r, i)) {
			n++;
			*ret_last = i;
		}
	return n;
}

/* How many values condition i of r takes in this binding. */
static size_t cond_values(const struct rules_rule *r, size_t i, rules_count_fn count, const void *u)
{
	const char *p = (const char *)r + conds[i].off;

	if (conds[i].kind == K_MAC && ((const struct rules_mac *)p)->var != RULES_VAR_NONE)
		return count(u, ((const struct rules_mac *)p)->var, 0);
	if (conds[i].kind == K_IP && ((const struct rules_ip *)p)->var != RULES_VAR_NONE)
		return count(u, ((const struct rules_ip *)p)->var, rules_proto_af(r->proto));
	return 1;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool in_scope(const struct rules_item *it, unsigned dir)
{
	return rules_proto_family(it->r->proto) == RULES_EB && (it->r->dir & dir);
}

/* The root chain's entries of direction dir, sorted. */
static int entries_build(const struct rules_item *it, size_t n, unsigned dir, struct entry **ret, size_t *ret_n)
{
	struct entry *e = calloc(n + 1, sizeof(*e));
	size_t ne = 0;

	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct rules_filter *f = it[i].f;
		bool known = false;

		if (!in_scope(&it[i], dir))
			continue;
		if (!f->chain) {
			e[ne++] = (struct entry) { .prio = it[i].r->priority, .seq = it[i].seq, .r = it[i].r };
			continue;
		}
		for (size_t k = 0; k < ne && !known; k++)
			known = e[k].chain && streq(e[k].chain, f->chain);
		if (!known)
			e[ne++] = (struct entry) { .prio = f->chain_prio, .seq = it[i].seq, .chain = f->chain,
						   .ethertype = proto_ethertype(rules_xml_chain_proto(f->chain)) };
	}
	qsort(e, ne, sizeof(*e), cmp_entry);
	*ret = e;
	*ret_n = ne;
	return 0;
}

/* The ethertype every frame r matches has (0: any), given that it is in
 * a block for frames of ethertype p. */
static unsigned rule_ethertype(const struct rules_rule *r, unsigned p)
{
	unsigned q = proto_ethertype(r->proto);

	if (r->proto == RULES_P_MAC && r->ethertype.set && r->match)
		q = r->ethertype.v;
	return q ? q : p;
}

/* The conditions of r besides its protocol's ethertype. */
static size_t cond_extra(const struct rules_rule *r)
{
	size_t last;

	return cond_count(r, &last) - (r->ethertype.set ? 1 : 0);
}

/* Both r (a return of a block) and e (a root chain rule after it) in one
 * rule with e's action, into *ret: false when one rule cannot say it (a
 * condition in both, a negation with conditions on the other side). */
static bool conjoin(const struct rules_rule *r, const struct rules_rule *e, struct rules_rule *ret)
{
	struct rules_rule x = *r;
	size_t nr = cond_extra(r), ne = cond_extra(e);

	if ((nr > 0 && ne > 0 && (!r->match || !e->match)) ||
	    (e->proto == RULES_P_MAC && e->ethertype.set && !e->match))
		return false;
	if (proto_ethertype(e->proto)) {
		x.proto = e->proto;
		x.ethertype.set = false;
	} else if (e->ethertype.set && !proto_ethertype(x.proto)) {
		x.proto = RULES_P_MAC;
		x.ethertype = e->ethertype;
	}
	for (size_t i = 0; i < ELEMENTSOF(conds); i++) {
		if (!cond_set(e, i) || conds[i].off == offsetof(struct rules_rule, ethertype))
			continue;
		if (cond_set(r, i))
			return false;
		memcpy((char *)&x + conds[i].off, (const char *)e + conds[i].off, cond_size(i));
	}
	x.match = nr > 0 ? r->match : e->match;
	x.action = e->action;
	*ret = x;
	return true;
}

struct fold {
	struct rules_rule *out;
	size_t n, cap;
	bool neg_set;              /* a later rule must get neg's condition negated */
	bool neg_all;              /* a return without condition: nothing later matches */
	struct rules_rule neg;
	size_t neg_cond;
};

static int fold_push(struct fold *fo, const struct rules_rule *r)
{
	if (fo->n == fo->cap) {
		size_t cap = fo->cap * 2 + 8;
		struct rules_rule *v = realloc(fo->out, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		fo->out = v;
		fo->cap = cap;
	}
	fo->out[fo->n++] = *r;
	return 0;
}

/* A return r of the block at entry at, replaced by the rest of the root
 * chain for the frames it matches: each later root rule that may see
 * them, joined with r, up to one that takes them all (or the end: the
 * frame passes). 1 when done, 0 when it cannot be (nothing appended). */
static int inline_return(struct fold *fo, const struct entry *e, size_t ne, size_t at, const struct rules_rule *r)
{
	unsigned p = rule_ethertype(r, e[at].ethertype);
	size_t start = fo->n;
	struct rules_rule x;
	int ret;

	for (size_t j = at + 1; j < ne; j++) {
		const struct rules_rule *er = e[j].r;
		unsigned q = er ? rule_ethertype(er, 0) : e[j].ethertype;

		if (p && q && q != p)
			continue; /* never sees these frames */
		if (!er || !conjoin(r, er, &x)) {
			fo->n = start;
			return 0;
		}
		ret = fold_push(fo, &x);
		if (ret < 0)
			return ret;
		if (cond_extra(er) == 0 && (q == 0 || q == p))
			return 1; /* takes every such frame: nothing later matters */
	}
	x = *r;
	x.action = RULES_A_RETURN; /* the end of the chain: the frame passes */
	ret = fold_push(fo, &x);
	return ret < 0 ? ret : 1;
}

_printf_(3, 4) static int refuse(char **ret_error, const struct rules_item *it, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return rules_errorf(ret_error, "filter: '%s' line %u: %s", it->f->name, it->r->line, msg);
}

/* A return of a block that no verdict replaces: fold it into the later
 * rules of the block as a negated condition. */
static int fold_return(struct fold *fo, const struct rules_item *it, rules_count_fn count, const void *u,
		       char **ret_error)
{
	size_t last = 0, nc = cond_count(it->r, &last);

	if (nc == 0) {
		fo->neg_all = true;
		return 0;
	}
	if (nc > 1 || cond_values(it->r, last, count, u) > 1 || fo->neg_set)
		return refuse(ret_error, it,
			      "a return in chain '%s' followed by rules that depend on more than the "
			      "protocol cannot be rendered into one chain: it needs a single condition "
			      "with a single value", it->f->chain);
	if (cond_values(it->r, last, count, u) == 0)
		return 0; /* matches nothing here */
	fo->neg_set = true;
	fo->neg = *it->r;
	fo->neg_cond = last;
	return 0;
}

/* Append rule r (of item it) of the block, with the pending negation. */
static int fold_append(struct fold *fo, struct rules_rule r, const struct rules_item *it, char **ret_error)
{
	size_t last;

	if (fo->neg_all)
		return 0; /* after a return of every frame: never reached */
	if (fo->neg_set) {
		if (cond_count(&r, &last) > 0)
			return refuse(ret_error, it,
				      "this rule follows a return in chain '%s' and has conditions of its "
				      "own: netd cannot render both in one chain", it->f->chain);
		memcpy((char *)&r + conds[fo->neg_cond].off, (const char *)&fo->neg + conds[fo->neg_cond].off,
		       cond_size(fo->neg_cond));
		r.match = !fo->neg.match;
	}
	return fold_push(fo, &r);
}

/* The end of block at: the policy of libvirt's chain, an accept of every
 * frame of the chain's protocol that gets there (with a pending negation:
 * of those a return did not send back to the root chain). Left out when
 * no later root rule or block may see such frames: they pass anyway. */
static int fold_policy(struct fold *fo, const struct entry *e, size_t ne, size_t at, unsigned dir,
		       const struct rules_item *last, char **ret_error)
{
	struct rules_rule x = { .dir = dir, .proto = rules_xml_chain_proto(e[at].chain), .action = RULES_A_ACCEPT,
				.priority = e[at].prio, .match = true, .line = last->r->line };
	unsigned p = e[at].ethertype;

	for (size_t j = at + 1; j < ne; j++) {
		unsigned q = e[j].r ? rule_ethertype(e[j].r, 0) : e[j].ethertype;

		if (!p || !q || q == p)
			return fold_append(fo, x, last, ret_error);
	}
	return 0;
}

static int fold_block(struct fold *fo, const struct entry *e, size_t ne, size_t at, const struct rules_item *it,
		      size_t n, unsigned dir, rules_count_fn count, const void *u, char **ret_error)
{
	const struct rules_item *last = NULL;
	bool closed = false; /* the last rule takes every frame that reaches it */
	size_t c;
	int r;

	fo->neg_set = fo->neg_all = false;
	for (size_t i = 0; i < n; i++) {
		struct rules_rule x;

		r = 0;
		if (!in_scope(&it[i], dir) || !it[i].f->chain || !streq(it[i].f->chain, e[at].chain))
			continue;
		x = *it[i].r;
		last = &it[i];
		if (x.action != RULES_A_RETURN) {
			closed = cond_count(&x, &c) == 0 &&
				 rule_ethertype(&x, e[at].ethertype) == e[at].ethertype;
			r = fold_append(fo, x, &it[i], ret_error);
		} else if (!fo->neg_all) {
			closed = false;
			/* With a negation pending the return would need it
			 * too: only fold_return() can say whether it may. */
			r = fo->neg_set ? 0 : inline_return(fo, e, ne, at, &x);
			if (r == 0)
				r = fold_return(fo, &it[i], count, u, ret_error);
		}
		if (r < 0)
			return r;
	}
	return last && !closed ? fold_policy(fo, e, ne, at, dir, last, ret_error) : 0;
}

int rules_flatten(const struct rules_item *it, size_t n, unsigned dir, rules_count_fn count,
		  const void *userdata, struct rules_rule **ret, size_t *ret_n, char **ret_error)
{
	struct fold fo = { 0 };
	struct entry *e = NULL;
	size_t ne = 0;
	int r;

	r = entries_build(it, n, dir, &e, &ne);
	if (r < 0)
		return r;
	for (size_t k = 0; k < ne && r >= 0; k++) {
		if (e[k].r)
			r = fold_push(&fo, e[k].r);
		else
			r = fold_block(&fo, e, ne, k, it, n, dir, count, userdata, ret_error);
	}
	free(e);
	if (r < 0) {
		free(fo.out);
		return r;
	}
	*ret = fo.out;
	*ret_n = fo.n;
	return 0;
}
