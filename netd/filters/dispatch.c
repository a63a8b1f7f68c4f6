/*
 * dispatch.c: netd's dispatch chains changed line by line.
 *
 * Rewriting the two dispatch chains whole in every batch made a batch of
 * one binding cost in proportion to all the bindings there: with 1,000
 * ports, 2,000 dispatch lines took ebtables-restore 177 ms against 23 ms
 * for the port's own rules, so binding guests one after another grew as
 * N². Once a whole rewrite has succeeded, netd knows what the chains
 * hold (each binding's disp bits); then a batch deletes the lines of its
 * bindings that go ("-D", before their chains are deleted) and appends
 * the new ones ("-A", after their chains are declared), in the same
 * restore input, so the change stays one atomic commit.
 *
 * Where that knowledge may be wrong, the chains are rewritten whole as
 * before: at start and after a verification, after a failed restore,
 * when the hooks are wrong, and whenever the record's saves cannot be
 * trusted to show only what netd wrote (nf_tables changed by someone
 * else since, see dispatch_exact()). Only with the nf_tables tools,
 * whose generation tells netd that nobody else changed anything; with
 * x_tables tools every batch rewrites the chains whole, as before.
 */
#include "config.h"

#include <assert.h>
#include <string.h>

#include "filters-internal.h"
#include "strbuf.h"

bool dispatch_incremental(const struct filters *f, const struct batch *bt, enum rules_family fam)
{
	assert(f);
	assert(bt);
	return f->gen_usable && f->disp_known[fam] && !f->root_dirty[fam] && f->hooks_ok[fam] &&
	       bt->n > 0;
}

bool dispatch_any_full(const struct batch *bt)
{
	assert(bt);
	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i] && !bt->hooks_only[i] && bt->disp_full[i])
			return true;
	return false;
}

/* What item it wants in the dispatch chains of fam. */
static uint8_t item_wants(const struct item *it, enum rules_family fam)
{
	if (it->removing)
		return 0;
	return (it->want_out[fam] ? DISP_BIT(fam, false) : 0) |
	       (it->want_in[fam] ? DISP_BIT(fam, true) : 0);
}

/* b's dispatch line of one direction, as "-A" or "-D". */
static void put_line(struct strbuf *m, enum rules_family fam, bool to_guest, const char *port,
		     bool del)
{
	char line[256];

	if (rules_dispatch_line(fam, to_guest, port, line, sizeof(line)) <= 0)
		return;
	if (del)
		line[1] = 'D'; /* "-A CHAIN ..." -> "-D CHAIN ..." */
	strbuf_puts(m, line);
}

void dispatch_put_item(struct strbuf *m, struct item *it, enum rules_family fam, bool adds)
{
	struct binding *b = it->b;
	uint8_t want = item_wants(it, fam);

	assert(m);
	assert(b);
	for (int dir = 0; dir < 2; dir++) {
		uint8_t bit = DISP_BIT(fam, dir);

		if (adds && (want & bit) && !(b->disp & bit))
			put_line(m, fam, dir, b->port, false);
		else if (!adds && (b->disp & bit) && !(want & bit))
			put_line(m, fam, dir, b->port, true);
	}
	b->disp_next = (uint8_t)((b->disp_next & ~DISP_FAM(fam)) | want);
}

void dispatch_commit(struct filters *f, struct batch *bt, bool exact)
{
	assert(f);
	assert(bt);
	for (int i = 0; i < NFAM; i++) {
		bool chain = exact && f->disp_gen == bt->gen_start;

		if (!bt->fam[i] || bt->hooks_only[i]) {
			f->disp_gen_ok[i] = f->disp_gen_ok[i] && chain;
			continue;
		}
		if (bt->disp_full[i]) {
			struct binding *b;

			TAILQ_FOREACH(b, &f->all, entry)
				b->disp = (uint8_t)((b->disp & ~DISP_FAM(i)) | (b->disp_next & DISP_FAM(i)));
			f->disp_known[i] = true;
			f->disp_gen_ok[i] = exact;
			continue;
		}
		for (unsigned k = 0; k < bt->n; k++) {
			struct binding *b = bt->items[k].b;

			if (b)
				b->disp = (uint8_t)((b->disp & ~DISP_FAM(i)) |
						    (b->disp_next & DISP_FAM(i)));
		}
		f->disp_gen_ok[i] = f->disp_gen_ok[i] && chain;
	}
	if (exact)
		f->disp_gen = bt->gen_start + bt->restores;
}

void dispatch_own_run(struct filters *f, uint32_t before)
{
	assert(f);
	if (f->disp_gen == before)
		f->disp_gen = before + 1;
}

void dispatch_forget(struct filters *f, const struct batch *bt)
{
	assert(f);
	for (int i = 0; i < NFAM; i++)
		if (!bt || bt->fam[i]) {
			f->disp_known[i] = false;
			f->disp_gen_ok[i] = false;
		}
}

bool dispatch_exact(struct filters *f, enum rules_family fam, bool gen_still)
{
	assert(f);
	if (!f->gen_usable)
		return true; /* x_tables: every batch rewrote the chains whole */
	return f->disp_gen_ok[fam] && gen_still;
}
