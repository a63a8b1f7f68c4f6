/*
 * confirm.c: a restore confirmed without a save, when the tools are the
 * nf_tables variants (see enum phase in filters-internal.h).
 *
 * Waiting for a full *-save of the table before answering made binding
 * 1,000 ports 1.8 times the cost of the restore alone. With nf_tables two
 * cheap looks say the same thing: the generation moved by exactly the
 * restores netd ran (so they committed, and nobody else changed
 * anything), and one dump per family of the chain NAMES of its "filter"
 * table (no rules transferred) holds every chain written and none
 * deleted. Then the callers are answered at once, and a save still
 * runs afterwards, only to record the fingerprints (RECORD). If that
 * save does not show a binding's chains after all, the binding is
 * demoted: pending again, applied by the next batch.
 *
 * That save is not the apply's own: a save of the whole table in every
 * batch made guests bound one after another cost N² (at 1,000 ports the
 * save took 190 ms, the port's restore 23 ms). The applies leave their
 * fingerprints to one record batch (saves, PARSE, RECORD) that runs once
 * no batch has run for record_idle_us, gives way to an apply while its
 * saves run, and runs first once the oldest answer is record_max_us old.
 * Until it has run the bindings have no fingerprints, as before between
 * the answer and the save: a restart then applies them again.
 *
 * Any doubt (a generation that moved by more or less, a chain missing
 * from the dump, a dump that failed) sends the batch the way it went
 * before: answered from the saves.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "filters-internal.h"
#include "log.h"
#include "store.h"
#include "util.h"

bool confirm_possible(struct filters *f, const struct batch *bt)
{
	assert(f);
	assert(bt);
	return f->gen_usable && bt->gen_known && !bt->verify;
}

/*
 * The chains a batch looks for in a family's dump, sorted, and whether
 * the dump showed each. Only these are kept: a tree of every name dumped
 * (2,000 at 1,000 ports, each a malloc and a string search) was most of
 * netd's own time in a bind of one port.
 */
struct live_set {
	size_t n;
	char (*names)[sizeof(((struct rules_render *)0)->in_chain)];
	bool *seen;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

void confirm_live_free(void *set)
{
	struct live_set *l = set;

	if (!l)
		return;
	free(l->names);
	free(l->seen);
	free(l);
}

static void live_put(struct live_set *l, const char *name)
{
	if (*name && strlen(name) < sizeof(*l->names))
		snprintf(l->names[l->n++], sizeof(*l->names), "%s", name);
}

/* The set of bt's chains and the dispatch chains: 0 or -ENOMEM. */
static int live_build(struct batch *bt, int fam)
{
	struct live_set *l = calloc(1, sizeof(*l));
	size_t cap = 2 * (size_t)bt->n + 2, k = 0;

	if (!l || !(l->names = calloc(cap, sizeof(*l->names))) ||
	    !(l->seen = calloc(cap, sizeof(*l->seen)))) {
		confirm_live_free(l);
		return -ENOMEM;
	}
	live_put(l, RULES_ROOT_FROM);
	live_put(l, RULES_ROOT_TO);
	for (unsigned i = 0; i < bt->n; i++) {
		live_put(l, bt->items[i].b->want.in_chain);
		live_put(l, bt->items[i].b->want.out_chain);
	}
	qsort(l->names, l->n, sizeof(*l->names), name_cmp);
	for (size_t i = 0; i < l->n; i++)
		if (k == 0 || strcmp(l->names[k - 1], l->names[i]) != 0)
			memmove(l->names[k++], l->names[i], sizeof(*l->names));
	l->n = k;
	confirm_live_free(bt->live[fam]);
	bt->live[fam] = l;
	return 0;
}

bool confirm_live_has(const struct batch *bt, int fam, const char *name)
{
	const struct live_set *l = bt->live[fam];
	char(*p)[sizeof(*l->names)];

	assert(bt);
	p = l ? bsearch(name, l->names, l->n, sizeof(*l->names), name_cmp) : NULL;
	return p && l->seen[p - l->names];
}

static void live_add(void *data, const char *name)
{
	struct batch *bt = data;
	struct live_set *l = bt->live[bt->dump_fam];
	char(*p)[sizeof(*l->names)] = bsearch(name, l->names, l->n, sizeof(*l->names), name_cmp);

	if (p)
		l->seen[p - l->names] = true;
}

/* The next family of the batch from fam on (NFAM: none). */
static int next_fam(const struct batch *bt, int fam)
{
	while (fam < NFAM && !bt->fam[fam])
		fam++;
	return fam;
}

/* A few chains to look for: asked by name, which costs the same with
 * 10 or 10,000 bindings (a dump of every name does not): 1 if asked,
 * 0 to dump instead, -errno. */
static int live_ask(const struct nft_ops *ops, struct live_set *l, int fam)
{
	const char *names[NFT_GET_MAX];
	int r;

	if (!ops->chains_have || l->n > NFT_GET_MAX)
		return 0;
	for (size_t i = 0; i < l->n; i++)
		names[i] = l->names[i];
	r = ops->chains_have(fam, names, (unsigned)l->n, l->seen);
	return r < 0 ? r : 1;
}

/* Read the dumps, a family after the other: 1 when all are read, 0 to
 * go on in the next iteration, -errno. */
static int dump_slice(struct filters *f, struct batch *bt)
{
	const struct nft_ops *ops = f->nft_ops;

	while (bt->dump_fam < NFAM) {
		int fam = bt->dump_fam, r;

		if (!bt->dump) {
			/* Without memory: the batch goes the save's way. */
			if (live_build(bt, fam) < 0)
				return -ENOMEM;
			r = live_ask(ops, bt->live[fam], fam);
			if (r < 0)
				return log_warn_errno("filters: chain lookup", r, "failed");
			if (r > 0) {
				bt->dump_fam = next_fam(bt, fam + 1);
				continue;
			}
			r = ops->chains_open(fam, &bt->dump);
			if (r < 0)
				return log_warn_errno("filters: chain dump", r, "cannot start");
		}
		r = ops->chains_read(bt->dump, live_add, bt);
		if (r < 0)
			return log_warn_errno("filters: chain dump", r, "cannot read");
		if (r == 0)
			return 0;
		ops->chains_close(bt->dump);
		bt->dump = NULL;
		bt->dump_fam = next_fam(bt, fam + 1);
		if (budget_spent())
			return bt->dump_fam < NFAM ? 0 : 1;
	}
	return 1;
}

/* Are item it's chains in the dumps as written (there, or gone for a
 * removal)? */
static bool item_live(struct batch *bt, const struct item *it)
{
	const struct binding *b = it->b;

	for (int i = 0; i < NFAM; i++) {
		bool in, out;

		if (!bt->fam[i])
			continue;
		in = confirm_live_has(bt, i, b->want.in_chain);
		out = confirm_live_has(bt, i, b->want.out_chain);
		if (it->removing ? in || out : in != it->want_in[i] || out != it->want_out[i])
			return false;
	}
	return true;
}

static bool roots_live(struct batch *bt)
{
	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i] && (!confirm_live_has(bt, i, RULES_ROOT_FROM) ||
				   !confirm_live_has(bt, i, RULES_ROOT_TO)))
			return false;
	return true;
}

/* CONFIRM is over: on to the answers, or to the saves. */
static bool confirm_end(struct batch *bt, bool ok)
{
	bt->live_ok = ok;
	bt->cursor = 0;
	if (bt->dump) {
		bt->f->nft_ops->chains_close(bt->dump);
		bt->dump = NULL;
	}
	if (ok)
		log_debug("filters: %u restores confirmed by the generation and the chain names",
			  bt->restores);
	else
		log_debug("filters: restores not confirmed by the generation and the chain names; "
			  "waiting for the saves");
	return true;
}

bool confirm_step(struct filters *f, struct batch *bt)
{
	int r;

	assert(f);
	assert(bt && bt->phase == PHASE_CONFIRM);
	if (!bt->confirm_started) {
		bt->confirm_started = true;
		/* Fewer: a restore did not commit; more: someone else changed
		 * nf_tables meanwhile, and what the dump shows may be theirs. */
		if (!verify_gen_exact(f, bt))
			return confirm_end(bt, false);
		bt->dump_fam = next_fam(bt, 0);
		bt->cursor = 0;
	}
	if (bt->dump_fam < NFAM) {
		r = dump_slice(f, bt);
		if (r < 0)
			return confirm_end(bt, false);
		if (r == 0)
			return false;
		if (!roots_live(bt))
			return confirm_end(bt, false);
	}
	/* Every item, before anyone is told: a batch is confirmed whole or
	 * goes the save's way whole. */
	for (unsigned k = 0; bt->cursor < bt->n; k++) {
		if (k > 0 && k % 64 == 0 && budget_spent())
			return false;
		if (!item_live(bt, &bt->items[bt->cursor]))
			return confirm_end(bt, false);
		bt->cursor++;
	}
	return confirm_end(bt, true);
}

void confirm_record_roots(struct filters *f, struct batch *bt)
{
	bool still;

	assert(f);
	assert(bt);
	still = verify_gen_is(f, f->disp_gen);
	for (int i = 0; i < NFAM; i++) {
		if (!bt->fam[i])
			continue;
		if (!bt->save[i]) {
			f->root_dirty[i] = true;
			bt->unconfirmed = true;
			continue;
		}
		if (!bt->disp_full[i] && !dispatch_exact(f, i, still)) {
			/* nf_tables changed by someone else since netd
			 * wrote the dispatch chains line by line: the save
			 * may show theirs. Rewritten whole, recorded then,
			 * with the hooks if the save shows them wrong (drift
			 * too, as a verification would find it). */
			log_debug("filters: %s: dispatch chains not recorded (nf_tables changed "
				  "meanwhile); rewriting them", filters_fam_names[i]);
			verify_hooks_drift(f, i, &bt->trees[i]);
			f->root_dirty[i] = true;
			continue;
		}
		chains_hooks_check(&bt->trees[i], i, &f->hooks[i]);
		f->hooks_ok[i] = f->hooks[i].ok;
		chains_root_norm(&bt->trees[i], f->root_norm[i]);
		f->dispatch_ok[i] = false;
		if (bt->gen_short || !f->hooks_ok[i] || !chains_present(&bt->trees[i], RULES_ROOT_FROM) ||
		    !chains_present(&bt->trees[i], RULES_ROOT_TO)) {
			log_warn("filters: %s: the dispatch chains or hooks written are not in the "
				 "kernel; rewriting them later", filters_fam_names[i]);
			f->root_dirty[i] = true;
			bt->unconfirmed = true;
			continue;
		}
		store_root_put(f->store, filters_fam_names[i], f->root_norm[i]);
		f->root_dirty[i] = false;
		f->dispatch_ok[i] = true;
	}
}

void confirm_record_checkpoint(struct filters *f, struct batch *bt)
{
	assert(f);
	assert(bt);
	verify_gen_check(f, bt);
	if (bt->gen_chain && !bt->unconfirmed)
		verify_mark_set(f, bt->gen_expect);
}

/* The save after an answered apply does not show what was confirmed:
 * the binding is not applied after all, and goes again. */
static void item_demote(struct filters *f, struct batch *bt, struct binding *b)
{
	const char *why = "the save after the restore does not show its chains; applying it again";

	bt->unconfirmed = true;
	free(b->error);
	b->error = strdup(why); /* NULL without memory: no message */
	binding_set_state(f, b, B_PENDING);
	b->applied_hash[0] = '\0';
	for (int i = 0; i < NFAM; i++)
		b->norm[i][0] = '\0';
	binding_set_dirty(f, b, true);
	log_warn("%s: filter '%s': %s", b->port, b->filter, why);
}

static void record_item(struct filters *f, struct batch *bt, struct item *it)
{
	struct binding *b = it->b;
	bool lacks = false;

	if (b && !b->dirty && !b->in_batch)
		b->unrecorded = false;
	/* Gone (a removal), or changed since it was answered: the batch
	 * that carries it next records it. */
	if (!b || it->removing || b->dirty || b->in_batch || b->state != B_APPLIED ||
	    !streq(b->applied_hash, it->hash))
		return;
	for (int i = 0; i < NFAM; i++) {
		bool in, out;

		/* Without a save, no fingerprint: a restart re-applies. */
		if (!bt->fam[i] || !bt->save[i])
			continue;
		in = chains_present(&bt->trees[i], b->want.in_chain);
		out = chains_present(&bt->trees[i], b->want.out_chain);
		b->have_in[i] = in;
		b->have_out[i] = out;
		if (in != it->want_in[i] || out != it->want_out[i])
			lacks = true;
		else
			chains_binding_norm(&bt->trees[i], b, b->norm[i]);
	}
	if (lacks)
		item_demote(f, bt, b);
	binding_store(f, b);
}

bool confirm_record_step(struct filters *f, struct batch *bt)
{
	assert(f);
	assert(bt && bt->phase == PHASE_RECORD);
	for (unsigned k = 0; bt->cursor < bt->n; k++) {
		if (k > 0 && (k % FILTERS_STEP == 0 || budget_spent()))
			return false;
		record_item(f, bt, &bt->items[bt->cursor++]);
	}
	return true;
}

/* The hooks as a batch left them: each once, first in its chain. */
static void hooks_written(struct hooks_seen *h)
{
	for (unsigned k = 0; k < h->n && k < FILTERS_HOOKS; k++)
		h->count[k] = 1;
	h->missing = h->duplicated = h->not_first = false;
	h->ok = true;
}

void confirm_record_later(struct filters *f, struct batch *bt)
{
	assert(f);
	assert(bt && bt->live_ok);
	/* The names (20,000 chains: 2 MB) are not needed any more. */
	for (int i = 0; i < NFAM; i++) {
		confirm_live_free(bt->live[i]);
		bt->live[i] = NULL;
		if (!bt->fam[i])
			continue;
		/* Confirmed by the generation: nobody else changed anything,
		 * so the dispatch chains and the hooks are as the restore
		 * wrote them (whole if they were wrong). The record's save
		 * looks again. */
		f->record_fam[i] = true;
		f->root_dirty[i] = false;
		f->dispatch_ok[i] = true;
		hooks_written(&f->hooks[i]);
		f->hooks_ok[i] = true;
	}
	if (!f->record_since)
		f->record_since = now_usec();
	/* Only our runs since the mark: the chain of generations goes on,
	 * in memory; the record stores the checkpoint. */
	verify_gen_check(f, bt);
	if (bt->gen_chain && !bt->unconfirmed) {
		f->mark_valid = true;
		f->mark = bt->gen_expect;
	}
	batch_backoff(f, bt->unconfirmed);
}

bool confirm_record_pending(const struct filters *f)
{
	assert(f);
	for (int i = 0; i < NFAM; i++)
		if (f->record_fam[i])
			return true;
	return false;
}

/* Binding b as a record carries it: as it was applied and confirmed. */
static void record_take(struct item *it, struct binding *b)
{
	it->b = b;
	snprintf(it->hash, sizeof(it->hash), "%s", b->applied_hash);
	for (int i = 0; i < NFAM; i++) {
		it->want_in[i] = b->have_in[i];
		it->want_out[i] = b->have_out[i];
	}
}

void confirm_start_record(struct filters *f)
{
	struct batch *bt;
	struct binding *b;
	unsigned n = 0;

	assert(f);
	assert(!f->batch);
	TAILQ_FOREACH(b, &f->all, entry)
		n += b->unrecorded;
	bt = batch_new(f, n);
	if (!bt)
		return;
	bt->record = true;
	TAILQ_FOREACH(b, &f->all, entry)
		if (b->unrecorded && bt->n < n)
			record_take(&bt->items[bt->n++], b);
	for (int i = 0; i < NFAM; i++)
		bt->fam[i] = f->record_fam[i];
	bt->phase = PHASE_SAVE;
	f->batch = bt;
	f->records++;
	verify_gen_begin(f, bt);
	log_debug("filters: recording the fingerprints of %u bindings", bt->n);
	batch_advance(bt);
}
