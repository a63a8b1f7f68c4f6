/*
 * inputs.c: what a binding's rendering was made from (its input hash,
 * db/010), so that a start renders only the bindings whose inputs
 * changed. At 10,000 bindings, rendering each again only to compare its
 * hash with the stored one was a third of a restart's CPU.
 *
 * The input hash covers the backend, the port, the parameters (their
 * canonical text, as stored) and rules_filter_digest() of the filter (its
 * definition, those of the filters it references, the renderer's version
 * and output). A binding whose stored input hash is the one its row gives
 * now keeps its stored rendering hash and chains, without the text:
 * binding_need_text() renders it when it is written again. A binding
 * still learning its address holds the learning rules, and has none.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "filters-internal.h"
#include "store.h"
#include "util.h"

#define INPUTS_VERSION "netd-inputs-1"

/* The chains of the nftables backend, after those of the three families. */
#define CHAIN_BIT_NFT_IN (1u << (2 * NFAM))
#define CHAIN_BIT_NFT_OUT (1u << (2 * NFAM + 1))

/* Append the decimal n and a ':' (the length prefix of what follows). */
static void put_len(struct strbuf *m, size_t n)
{
	char d[24];
	size_t k = sizeof(d);

	d[--k] = ':';
	do
		d[--k] = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	strbuf_append(m, d + k, sizeof(d) - k);
}

int binding_input_hash(struct filters *f, const struct binding *b, const char *params, char out[65])
{
	static const char head[] = INPUTS_VERSION "\n";
	char digest[65];
	struct strbuf m = { 0 };
	size_t n = strlen(params);
	int r;

	assert(f && b && params && out);
	if (learn_pending(b) || !b->filter)
		return -EINVAL;
	r = rules_filter_digest(f->defs, b->filter, b->nft, digest);
	if (r < 0)
		return r;
	/* 10,000 of these at a start: appends, no formatting. */
	strbuf_append(&m, head, sizeof(head) - 1);
	strbuf_puts(&m, b->nft ? "nftables\n" : "xtables\n");
	strbuf_append(&m, digest, 64);
	strbuf_puts(&m, "\n");
	strbuf_puts(&m, b->port);
	strbuf_puts(&m, "\n");
	put_len(&m, n);
	strbuf_append(&m, params, n);
	r = m.oom ? -ENOMEM : rules_sha256_hex(m.p, m.len, out);
	strbuf_done(&m);
	return r;
}

void binding_inputs_note(struct filters *f, struct binding *b)
{
	_cleanup_free_ char *params = NULL;

	assert(f && b);
	b->input_hash[0] = '\0';
	if (learn_pending(b))
		return;
	params = binding_params_text(b);
	if (!params || binding_input_hash(f, b, params, b->input_hash) < 0)
		b->input_hash[0] = '\0'; /* rendered again at the next start */
}

unsigned binding_chain_bits(const struct binding *b)
{
	unsigned bits = 0;

	assert(b);
	if (!b->rendered)
		return 0;
	if (b->nft)
		return (b->nwant.has_in ? CHAIN_BIT_NFT_IN : 0) | (b->nwant.has_out ? CHAIN_BIT_NFT_OUT : 0);
	for (int i = 0; i < NFAM; i++)
		bits |= (b->want.has_in[i] ? 1u << (2 * i) : 0) | (b->want.has_out[i] ? 2u << (2 * i) : 0);
	return bits;
}

static bool hash_valid(const char *h)
{
	return h && strspn(h, "0123456789abcdef") == 64 && h[64] == '\0';
}

bool binding_take_stored(struct filters *f, struct binding *b, const struct store_binding_row *row)
{
	char now[65];

	assert(f && b && row);
	if (!row->input_hash || !hash_valid(row->input_hash) || !hash_valid(row->desired_hash) ||
	    binding_input_hash(f, b, row->parameters, now) < 0 || !streq(now, row->input_hash))
		return false;
	if (b->rendered)
		rules_render_done(&b->want);
	rules_nft_done(&b->nwant);
	memcpy(b->want.hash, row->desired_hash, 65);
	rules_chain_names(b->port, b->want.in_chain, b->want.out_chain);
	if (b->nft) {
		memcpy(b->nwant.hash, row->desired_hash, 65);
		rules_chain_names(b->port, b->nwant.in_chain, b->nwant.out_chain);
		b->nwant.has_in = row->chains & CHAIN_BIT_NFT_IN;
		b->nwant.has_out = row->chains & CHAIN_BIT_NFT_OUT;
	} else {
		for (int i = 0; i < NFAM; i++) {
			b->want.has_in[i] = row->chains & (1u << (2 * i));
			b->want.has_out[i] = row->chains & (2u << (2 * i));
		}
	}
	memcpy(b->input_hash, now, sizeof(now));
	b->rendered = true;
	return true;
}
