/*
 * load.c: the bindings loaded at a start. Each row becomes a binding. A
 * binding whose inputs are those of its stored rendering is not rendered
 * (inputs.c): only its stored hash is compared.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filters-internal.h"
#include "links.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* --- rows --- */

static enum bstate bstate_from_string(const char *s)
{
	return streq(s, "applied") ? B_APPLIED :
	       streq(s, "removing") ? B_REMOVING :
	       streq(s, "failed") ? B_FAILED : B_PENDING;
}

/* Bindings loaded whose rows are written again once the rows are read
 * (writing them while reading would make the read see them again). */
struct load_ctx {
	struct filters *f;
	struct binding **rewrite;
	unsigned n, cap;
};

static void load_note_rewrite(struct load_ctx *ctx, struct binding *b)
{
	if (ctx->n == ctx->cap) {
		unsigned cap = ctx->cap ? ctx->cap * 2 : 64;
		struct binding **v = reallocarray(ctx->rewrite, cap, sizeof(*v));

		if (!v)
			return; /* rendered again at the next start */
		ctx->rewrite = v;
		ctx->cap = cap;
	}
	ctx->rewrite[ctx->n++] = b;
}

/* b's parameters from row (an empty object if they do not parse). */
static int load_params(struct binding *b, const struct store_binding_row *row)
{
	b->params = json_loads(row->parameters ? row->parameters : "", 0, NULL);
	if (!b->params)
		b->params = json_object();
	return b->params ? 0 : -ENOMEM;
}

/* Is text the parameters of b as netd writes them? */
static bool params_canonical(const struct binding *b, const char *text)
{
	char *c = binding_params_text(b);
	bool same = c && text && streq(c, text);

	free(c);
	return same;
}

/* Only the hash is compared at a start: b takes row's if the inputs it
 * was rendered from are the same (inputs.c), else it is rendered (and
 * its row written again, canonical, when its inputs are new or its
 * parameters' text is not as netd writes it, so that the next start
 * need not render it); a batch renders the text again if the
 * binding has to be written. */
static void load_rendering(struct load_ctx *ctx, struct binding *b,
			   const struct store_binding_row *row)
{
	struct filters *f = ctx->f;
	char *error = NULL;

	if (binding_take_stored(f, b, row))
		return;
	f->start_renders++;
	if (binding_render(f, b, &error) == 0) {
		binding_drop_text(b);
		if (b->input_hash[0] &&
		    (!streq(row->input_hash ? row->input_hash : "", b->input_hash) ||
		     !params_canonical(b, row->parameters)))
			load_note_rewrite(ctx, b);
		return;
	}
	log_warn("%s: cannot render filter '%s' any more: %s", b->port, b->filter, error ? error : "?");
	free(b->error);
	b->error = error;
	if (b->state != B_REMOVING)
		b->state = B_FAILED;
	/* Chain names still known, so a removal can find them. */
	rules_chain_names(b->port, b->want.in_chain, b->want.out_chain);
}

static void load_binding_row(void *userdata, const struct store_binding_row *row)
{
	struct load_ctx *ctx = userdata;
	struct filters *f = ctx->f;
	struct binding *b = binding_new(f, row->port);
	int r;

	if (!b)
		return;
	b->filter = strdup(row->filter);
	b->owner = strdup(row->owner);
	r = b->filter && b->owner ? load_params(b, row) : -ENOMEM;
	if (r < 0) {
		log_error_errno(b->port, -ENOMEM, "cannot load the binding");
		binding_free(f, b);
		return;
	}
	if (row->backend && streq(row->backend, "nftables")) {
		netdev_adopt(f, b);
		str_copy(b->nnorm, sizeof(b->nnorm), row->nft_norm);
	}
	str_copy(b->applied_hash, sizeof(b->applied_hash), row->applied_hash);
	for (int i = 0; i < NFAM; i++)
		str_copy(b->norm[i], sizeof(b->norm[i]), row->norm[i]);
	str_copy(b->created, sizeof(b->created), row->created);
	str_copy(b->applied_at, sizeof(b->applied_at), row->applied);
	if (row->learning && learn_mode_from_string(row->learning, &b->learn) < 0)
		b->learn = LEARN_NONE; /* '' (the schema allows no other value) */
	str_copy(b->learned_at, sizeof(b->learned_at), row->learned_at);
	b->state = bstate_from_string(row->state);
	if (row->error)
		/* A row of an older netd may hold any bytes. NULL without
		 * memory: no message, same state. */
		b->error = filters_message(row->error, strlen(row->error));
	load_rendering(ctx, b, row);
}

static void load_root_row(void *userdata, const char *family, const char *norm)
{
	struct filters *f = userdata;

	for (int i = 0; i < NFAM; i++)
		if (streq(family, filters_fam_names[i]))
			snprintf(f->root_norm[i], sizeof(f->root_norm[i]), "%s", norm);
}

int bindings_load(struct filters *f)
{
	struct load_ctx ctx = { .f = f };
	int r;

	assert(f);
	r = store_bindings_foreach(f->store, load_binding_row, &ctx);
	for (unsigned i = 0; i < ctx.n && r >= 0; i++)
		binding_store(f, ctx.rewrite[i]);
	free(ctx.rewrite);
	if (r < 0)
		return r;
	return store_roots_foreach(f->store, load_root_row, f);
}

void bindings_check_ports(struct filters *f)
{
	struct binding *b;
	struct links_port lp;

	assert(f);
	/* Ports that went while netd was down. */
	for (int k = 0; k < 2; k++)
		TAILQ_FOREACH(b, k ? &f->netdev_all : &f->all, entry)
			if (links_port_lookup(f->links, b->port, &lp) < 0 && b->state != B_REMOVING) {
				b->state = B_REMOVING;
				b->gone = true;
			}
	/* Bindings still learning watch their ports again. */
	TAILQ_FOREACH(b, &f->all, entry)
		learn_sync(f, b);
	bindings_recount(f);
}

