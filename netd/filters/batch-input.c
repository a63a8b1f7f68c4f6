/*
 * batch-input.c: the restore input of one batch, built in slices over
 * loop iterations (batch_render_slice()): per family, the chain
 * declarations of every binding the batch carries, the deletions, the
 * rules, netd's dispatch lines and the hooks. batch.c runs it.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "filters-internal.h"
#include "strbuf.h"
#include "util.h"

/* Append the lines of text that are chain declarations (decls) or the
 * others (!decls). */
static void put_lines(struct strbuf *m, const char *text, bool decls)
{
	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) + 1 : strlen(p);

		if ((p[0] == ':') == decls)
			strbuf_append(m, p, n);
		p += n;
	}
}

/* The dispatch lines of b (one per direction it has), sorted by port as
 * the list is: those in this batch as they will be, the others as the
 * kernel has their chains. */
static void put_dispatch(struct strbuf *m, struct batch *bt, struct binding *b,
			 enum rules_family fam)
{
	char line[256];
	bool in, out;

	if (b->in_batch) {
		/* Its item by index: a search made 10,000 bindings cost
		 * 10^8 steps in one callback. */
		struct item *it = b->item < bt->n && bt->items[b->item].b == b ?
				  &bt->items[b->item] : NULL;

		in = it && !it->removing && it->want_in[fam];
		out = it && !it->removing && it->want_out[fam];
	} else {
		/* Whatever its state: a binding whose re-bind failed (or is
		 * still to come) keeps the chains the kernel has for it, and
		 * the port stays behind them rather than unfiltered. */
		in = b->have_in[fam];
		out = b->have_out[fam];
	}
	b->disp_next = (uint8_t)((b->disp_next & ~DISP_FAM(fam)) | (out ? DISP_BIT(fam, false) : 0) |
				 (in ? DISP_BIT(fam, true) : 0));
	if (out && rules_dispatch_line(fam, false, b->port, line, sizeof(line)) > 0)
		strbuf_puts(m, line);
	if (in && rules_dispatch_line(fam, true, b->port, line, sizeof(line)) > 0)
		strbuf_puts(m, line);
}

/* Each hook once, first in its chain, whatever the last save showed
 * (missing, duplicated, behind a foreign rule). */
static void hooks_put(struct strbuf *m, struct filters *f, struct batch *bt,
		      enum rules_family fam)
{
	chains_hooks_repair(m, fam, &f->hooks[fam]);
	for (unsigned h = 0; h < f->hooks[fam].n; h++)
		bt->hook_deletes[fam] |= f->hooks[fam].count[h] > 0;
}

/* The start of family fam's input. */
static void put_head(struct strbuf *m, struct filters *f, struct batch *bt, enum rules_family fam)
{
	char line[256];

	strbuf_puts(m, "*filter\n");
	if (bt->n == 0 && f->dispatch_ok[fam] && !f->hooks_ok[fam]) {
		/* Only the hooks are wrong (one deleted, a rule put ahead):
		 * rewriting 20,000 dispatch lines for them took seconds. */
		hooks_put(m, f, bt, fam);
		strbuf_puts(m, "COMMIT\n");
		bt->hooks_only[fam] = true;
		return;
	}
	bt->disp_full[fam] = !dispatch_incremental(f, bt, fam);
	if (!bt->disp_full[fam])
		return; /* its own lines only: dispatch.c */
	/* The dispatch chains first: declaring them flushes them, so no
	 * rule refers to a chain deleted below. */
	rules_chain_decl(fam, RULES_ROOT_FROM, line, sizeof(line));
	strbuf_puts(m, line);
	rules_chain_decl(fam, RULES_ROOT_TO, line, sizeof(line));
	strbuf_puts(m, line);
}

/* Item k's part of stage (R_DECLS, R_DELETES, R_RULES, R_DISPADD) for family fam. */
static void put_item(struct strbuf *m, struct batch *bt, unsigned stage, unsigned k,
		     enum rules_family fam)
{
	struct item *it = &bt->items[k];
	struct binding *b = it->b;
	char line[256];

	if (stage == R_DISPADD) {
		if (!bt->disp_full[fam])
			dispatch_put_item(m, it, fam, true);
		return;
	}
	if (stage != R_DELETES) {
		/* Rendered again here, in the slices, if its text was
		 * dropped: 10,000 renders would be 200 ms in one callback. */
		if (!it->removing && stage == R_DECLS)
			binding_need_text(bt->f, b);
		if (!it->removing && b->want.text[fam])
			put_lines(m, b->want.text[fam], stage == R_DECLS);
		return;
	}
	if (!bt->disp_full[fam])
		dispatch_put_item(m, it, fam, false);
	/* Chains it had and will not have any more. */
	if (b->have_in[fam] && (it->removing || !it->want_in[fam]) &&
	    rules_chain_delete(fam, b->want.in_chain, line, sizeof(line)) > 0)
		strbuf_puts(m, line);
	if (b->have_out[fam] && (it->removing || !it->want_out[fam]) &&
	    rules_chain_delete(fam, b->want.out_chain, line, sizeof(line)) > 0)
		strbuf_puts(m, line);
}

/* One step of the current render stage, for every family of the batch. */
static void render_one(struct filters *f, struct batch *bt)
{
	for (int i = 0; i < NFAM; i++) {
		struct strbuf *m = &bt->input[i];

		if (!bt->fam[i] || (bt->hooks_only[i] && bt->rstage != R_HEAD))
			continue;
		if (bt->rstage == R_HEAD)
			put_head(m, f, bt, i);
		else if (bt->rstage == R_DISPATCH && bt->disp_full[i])
			put_dispatch(m, bt, bt->rnext, i);
		else if (bt->rstage == R_TAIL && !f->hooks_ok[i])
			hooks_put(m, f, bt, i);
		else if (bt->rstage != R_TAIL && bt->rstage != R_DISPATCH)
			put_item(m, bt, bt->rstage, bt->rcursor, i);
		if (bt->rstage == R_TAIL)
			strbuf_puts(m, "COMMIT\n");
	}
	/* Its rules are in every family's input now: the text is not needed
	 * again unless the binding is written again. */
	if (bt->rstage == R_RULES && !bt->items[bt->rcursor].removing && bt->items[bt->rcursor].b)
		binding_drop_text(bt->items[bt->rcursor].b);
}

/*
 * One slice of building the restore input of each family: true when
 * they are complete. All chain declarations first, then the deletions,
 * then all rules (ebtables-restore takes a third less time for 1000
 * bindings in this order than with each binding's declarations and rules
 * together), then the dispatch lines, the hooks. 10,000 bindings took
 * 64 ms in one callback: at least 256 steps, then as the budget allows.
 */
bool batch_render_slice(struct filters *f, struct batch *bt)
{
	unsigned k = 0;

	while (bt->rstage != R_DONE) {
		bool items = bt->rstage == R_DECLS || bt->rstage == R_DELETES ||
			     bt->rstage == R_RULES || bt->rstage == R_DISPADD;

		if ((items && bt->rcursor >= bt->n) || (bt->rstage == R_DISPATCH && !bt->rnext)) {
			bt->rstage++;
			bt->rcursor = 0;
			if (bt->rstage == R_DISPATCH && dispatch_any_full(bt))
				bt->rnext = TAILQ_FIRST(&f->all);
			continue;
		}
		render_one(f, bt);
		if (bt->rstage == R_HEAD || bt->rstage == R_TAIL)
			bt->rstage++;
		else if (bt->rstage == R_DISPATCH)
			bt->rnext = TAILQ_NEXT(bt->rnext, entry);
		else
			bt->rcursor++;
		if (++k % 256 == 0 && bt->rstage != R_DONE && budget_spent())
			return false;
	}
	return true;
}
