/*
 * args.c: see rules-internal.h. The parameters of libvirt's <filterref>
 * applied to the rules of the filters they reach when a binding is
 * rendered: a variable they give values for becomes those constants, the
 * others keep the binding's values; and the list of rules a binding's
 * filter brings, which holds those copies, collected for render.c and
 * render-nft.c alike.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules-internal.h"
#include "util.h"

/* The innermost reference's values of (var, af): their count, and the
 * list they are in (*ret_args). */
static size_t args_find(const struct rules_args *const *ctx, size_t nctx, enum rules_var var, int af,
			const struct rules_args **ret_args)
{
	for (size_t k = nctx; k-- > 0;) {
		size_t c = 0;

		for (size_t i = 0; i < ctx[k]->n; i++)
			c += ctx[k]->v[i].var == var && ctx[k]->v[i].af == af;
		if (c > 0) {
			*ret_args = ctx[k];
			return c;
		}
	}
	return 0;
}

/* The j-th value of (var, af) in args. */
static const struct rules_arg *args_nth(const struct rules_args *a, enum rules_var var, int af, size_t j)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].var == var && a->v[i].af == af && j-- == 0)
			return &a->v[i];
	return NULL;
}

struct slot {
	enum rules_var var;
	int af;
	const struct rules_args *args;
	size_t n;
};

/* Set the fields of x that use a replaced variable to the values picked
 * by k[] (one index per slot). */
static void assign(struct rules_rule *x, const struct slot *s, size_t ns, const size_t *k)
{
	struct rules_mac *macs[4] = { &x->src_mac, &x->dst_mac, &x->arp_src_mac, &x->arp_dst_mac };
	struct rules_ip *ips[4] = { &x->src_ip, &x->dst_ip, &x->arp_src_ip, &x->arp_dst_ip };

	for (size_t j = 0; j < ns; j++) {
		const struct rules_arg *a = args_nth(s[j].args, s[j].var, s[j].af, k[j]);

		for (size_t i = 0; i < 4; i++) {
			if (macs[i]->set && macs[i]->var == s[j].var && s[j].af == 0) {
				macs[i]->var = RULES_VAR_NONE;
				memcpy(macs[i]->addr, a->addr, 6);
				memset(macs[i]->mask, 0xff, 6);
			}
			if (ips[i]->set && ips[i]->var == s[j].var && s[j].af != 0) {
				ips[i]->var = RULES_VAR_NONE;
				ips[i]->af = a->af;
				memcpy(ips[i]->addr, a->addr, 16);
				ips[i]->prefix = a->af == AF_INET ? 32 : 128;
			}
		}
	}
}

/* The replaced variables of r, in the order of its fields. */
static size_t slots_of(const struct rules_rule *r, const struct rules_args *const *ctx, size_t nctx,
		       struct slot s[8])
{
	const struct rules_mac *macs[4] = { &r->src_mac, &r->dst_mac, &r->arp_src_mac, &r->arp_dst_mac };
	const struct rules_ip *ips[4] = { &r->src_ip, &r->dst_ip, &r->arp_src_ip, &r->arp_dst_ip };
	int af = rules_proto_af(r->proto);
	size_t ns = 0;

	for (size_t i = 0; i < 8; i++) {
		bool set = i < 4 ? macs[i]->set : ips[i - 4]->set;
		enum rules_var var = i < 4 ? macs[i]->var : ips[i - 4]->var;
		int vaf = i < 4 ? 0 : af;
		bool known = false;
		const struct rules_args *a = NULL;
		size_t n;

		if (!set || var == RULES_VAR_NONE)
			continue;
		for (size_t j = 0; j < ns; j++)
			known |= s[j].var == var && s[j].af == vaf;
		if (known || (n = args_find(ctx, nctx, var, vaf, &a)) == 0)
			continue;
		s[ns++] = (struct slot) { .var = var, .af = vaf, .args = a, .n = n };
	}
	return ns;
}

int rules_args_apply(const struct rules_rule *r, const struct rules_args *const *ctx, size_t nctx,
		     struct rules_rule **ret, size_t *ret_n)
{
	struct slot s[8];
	size_t ns = slots_of(r, ctx, nctx, s), total = 1, k[8] = { 0 };
	struct rules_rule *v;

	if (ns == 0) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	for (size_t j = 0; j < ns; j++) {
		total *= s[j].n;
		if (total > 4096)
			return -E2BIG;
	}
	v = calloc(total, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t c = 0; c < total; c++) {
		size_t rest = c;

		/* The first slot varies slowest. */
		for (size_t j = ns; j-- > 0;) {
			k[j] = rest % s[j].n;
			rest /= s[j].n;
		}
		v[c] = *r;
		assign(&v[c], s, ns, k);
	}
	*ret = v;
	*ret_n = total;
	return 0;
}

static int items_grow(struct rules_items *it, size_t more)
{
	struct rules_item *v;
	size_t cap;

	if (it->n + more <= it->cap)
		return 0;
	cap = (it->n + more) * 2;
	v = realloc(it->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	it->v = v;
	it->cap = cap;
	return 0;
}

int rules_items_add(struct rules_items *it, const struct rules_filter *f, const struct rules_rule *r)
{
	struct rules_rule *copies = NULL, **owned;
	size_t n = 0;
	int ret = 0;

	if (it->nctx > 0)
		ret = rules_args_apply(r, it->ctx, it->nctx, &copies, &n);
	if (ret < 0)
		return ret;
	ret = items_grow(it, copies ? n : 1);
	if (ret >= 0 && copies) {
		owned = realloc(it->owned, (it->n_owned + 1) * sizeof(*owned));
		if (!owned)
			ret = -ENOMEM;
		else
			it->owned = owned;
	}
	if (ret < 0) {
		free(copies);
		return ret;
	}
	if (!copies) {
		it->v[it->n] = (struct rules_item) { .r = r, .f = f, .seq = it->n };
		it->n++;
		return 0;
	}
	it->owned[it->n_owned++] = copies;
	for (size_t i = 0; i < n; i++) {
		it->v[it->n] = (struct rules_item) { .r = &copies[i], .f = f, .seq = it->n };
		it->n++;
	}
	return 0;
}

void rules_items_done(struct rules_items *it)
{
	for (size_t i = 0; i < it->n_owned; i++)
		free(it->owned[i]);
	free(it->owned);
	free(it->v);
	free(it->ctx);
	memset(it, 0, sizeof(*it));
}

/* The rules of d->v[fi] and, recursively, of what it refers to, each
 * filter once (seen), in definition order. */
static int items_collect(const struct rules_defs *d, size_t fi, bool *seen, struct rules_items *it)
{
	const struct rules_filter *f = d->v[fi];
	int r;

	/* Under a reference's parameters a filter is taken with those
	 * values, each time it is reached. */
	if (it->nctx == 0)
		seen[fi] = true;
	for (size_t i = 0; i < f->n_rules; i++) {
		r = rules_items_add(it, f, &f->rules[i]);
		if (r < 0)
			return r;
	}
	it->chained |= f->chain && f->n_rules > 0;
	for (size_t i = 0; i < f->n_refs; i++) {
		const struct rules_args *a = f->ref_args && f->ref_args[i].n > 0 ? &f->ref_args[i] : NULL;
		size_t j;

		/* Loading refused unknown references and cycles. */
		if (!rules_defs_find(d, f->refs[i], &j) || (seen[j] && !a && it->nctx == 0))
			continue;
		if (a)
			it->ctx[it->nctx++] = a;
		r = items_collect(d, j, seen, it);
		it->nctx -= a != NULL;
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	const struct rules_item *x = a, *y = b;

	if (x->r->priority != y->r->priority)
		return x->r->priority < y->r->priority ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int rules_items_collect(const struct rules_defs *d, size_t fi, struct rules_items *it, char **ret_error)
{
	_cleanup_free_ bool *seen = calloc(d->n, sizeof(*seen));
	int r;

	assert(d && fi < d->n && it && it->n == 0 && !it->ctx);
	it->ctx = calloc(d->n + 1, sizeof(*it->ctx)); /* no cycles: at most one per filter */
	if (!seen || !it->ctx)
		return -ENOMEM;
	r = items_collect(d, fi, seen, it);
	if (r == -E2BIG)
		return rules_errorf(ret_error, "filter: the parameters of its references make more than 4096 "
				    "copies of a rule");
	if (r < 0)
		return r;
	if (it->n > 0)
		qsort(it->v, it->n, sizeof(*it->v), cmp_item);
	return 0;
}
