/*
 * batch.c: one batch at a time, from its first helper run to its last
 * binding settled, as an explicit enum phase (filters-internal.h) that
 * batch_advance() alone moves on.
 *
 * An apply writes the per-port chains of every binding it carries,
 * netd's two dispatch chains (rewritten whole: one line per bound port
 * and direction) and, unless the last save showed them right, the hooks
 * from the built-in chains (every copy deleted, then each inserted first),
 * as ONE restore input per family that has changes, run with --noflush.
 * Declaring a chain in restore input flushes and refills it in the same
 * commit, so each replace is atomic. After the restores exit 0, the
 * kernel must be seen to hold what they wrote: with the nf_tables tools,
 * by the generation and a dump of the chain names (confirm.c), the save
 * following the answers; otherwise by one *-save per family first. A
 * binding whose chains are there is applied (its fingerprint recorded
 * from the save, verify.c), its callers answered; one whose chains are
 * not failed, since a tool that exits 0 and does nothing must not make a
 * binding applied.
 *
 * A failed apply goes to bisect.c (split in halves, back-off). What
 * changes while a batch runs waits for the next.
 *
 * A verification (start, Resync) is the same machine from PHASE_SAVE on,
 * ending in a comparison instead of a record.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "filters-internal.h"
#include "job.h"
#include "links.h"
#include "log.h"
#include "stats.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

/* Bindings in a batch from which its end gives the heap back (as does a
 * verification's). The trim costs milliseconds of the loop (2-10 ms at
 * 1,000 under load here), for the few megabytes a smaller batch frees,
 * which the next batch takes again. */
#define FILTERS_TRIM_BATCH 2048
/* A save's output kept at least (see save_out_max()). */
#define FILTERS_SAVE_MIN (16u << 20)
#define FILTERS_SAVE_PER_BINDING (32u << 10)
/* A save's expected size before the first: clean-traffic prints 1.1 KiB
 * a binding in ebtables-save. */
#define FILTERS_SAVE_GUESS_PER_BINDING (2u << 10)

static void batch_free(struct batch *bt)
{
	/* A big batch or a verification held the restore input, the saves
	 * and their parsed chains: megabytes, now free, that malloc would
	 * otherwise keep. Give them back to the system. */
	bool trim = bt->verify || bt->n >= FILTERS_TRIM_BATCH;
	struct filters *f = bt->f;

	for (int i = 0; i < NFAM; i++) {
		assert(!bt->jobs[i]);
		strbuf_done(&bt->input[i]);
		free(bt->err[i]);
		free(bt->save[i]);
		chains_free(bt->trees[i]);
		confirm_live_free(bt->live[i]);
	}
	if (bt->dump)
		bt->f->nft_ops->chains_close(bt->dump);
	free(bt->items);
	free(bt);
	if (trim)
		ev_idle_start(f->loop, &f->trim_idle);
}

/* --- helper runs --- */

/* One helper run of a batch: which family, restore or save. */
struct run_ctx {
	struct batch *bt;
	int fam;
	bool save;
};

static void run_done(void *data, int status, const char *out, size_t out_len,
		     const char *err, size_t err_len)
{
	struct run_ctx *rc = data;
	struct batch *bt = rc->bt;
	int fam = rc->fam;
	char *taken = status == 0 && rc->save ? job_take_out(bt->jobs[fam]) : NULL;

	bt->jobs[fam] = NULL;
	bt->status[fam] = status;
	if (status != 0) {
		const char *tool = rc->save ? filters_save_argv[fam][0] : filters_restore_argv[fam][0];

		free(bt->err[fam]);
		if (status == -ETIMEDOUT)
			bt->err[fam] = strdup("killed after the helper timeout");
		else if (status == -ECHILD)
			bt->err[fam] = strdup("killed: the spawner process died while it ran");
		else
			bt->err[fam] = filters_message(err, err_len > 2000 ? 2000 : err_len);
		/* NULL without memory: the binding gets a generic message. */
		log_warn("%s: exit %d%s%s", tool, status, bt->err[fam] && *bt->err[fam] ? ": " : "",
			 bt->err[fam] ? bt->err[fam] : "");
	} else if (rc->save) {
		bt->f->save_len[fam] = out_len;
		/* NULL without memory: as if the save had failed. */
		bt->save[fam] = taken ? taken : strndup(out, out_len);
	}
	assert(bt->running > 0);
	if (--bt->running == 0)
		batch_advance(bt);
}

/* What a save may print before netd stops keeping it (and fails the
 * save): room for netd's own chains (a binding renders to a few KiB per
 * family at most) with a wide margin for everybody else's rules. */
static size_t save_out_max(struct filters *f)
{
	return FILTERS_SAVE_MIN + (size_t)f->nbindings * FILTERS_SAVE_PER_BINDING;
}

/* What a save of family fam is expected to print: its last with a
 * quarter more, or a guess by the bindings before the first. */
static size_t save_out_hint(struct filters *f, int fam)
{
	size_t guess = (size_t)f->nbindings * FILTERS_SAVE_GUESS_PER_BINDING;
	size_t last = f->save_len[fam] + f->save_len[fam] / 4;

	return (last > guess ? last : guess) + (64u << 10);
}

/* Start the restore (input, malloc'd: the run's, freed in any case) or
 * the save (save) of family fam. */
static int batch_spawn(struct batch *bt, int fam, bool save, char *input, size_t len)
{
	struct filters *f = bt->f;
	char *const *argv = save ? filters_save_argv[fam] : filters_restore_argv[fam];
	struct run_ctx *rc = calloc(1, sizeof(*rc));
	int r;

	if (!rc) {
		free(input);
		return -ENOMEM;
	}
	rc->bt = bt;
	rc->fam = fam;
	rc->save = save;
	r = job_run_owned_input(f->loop, f->job_ops, argv, input, len, f->timeout_ms, run_done,
				free, rc, &bt->jobs[fam]);
	if (r < 0) {
		free(rc);
		return log_error_errno(argv[0], r, "cannot start");
	}
	if (save) {
		job_set_out_max(bt->jobs[fam], save_out_max(f));
		job_set_out_hint(bt->jobs[fam], save_out_hint(f, fam));
		f->save_runs++;
	} else {
		f->restore_runs++;
	}
	bt->running++;
	return 0;
}

/* PHASE_RENDER, once the inputs are built: one restore per family with
 * changes. A family whose run cannot start counts as failed.
 *
 * An input with no rule line at all, only chain declarations (the
 * dispatch chains rewritten whole with no port there, say), changes
 * nothing when those chains are there already, empty, with that policy:
 * nf_tables then commits nothing and its generation does not move for
 * that run. An honest no-op, not a restore that lied, so the generation
 * is not asked to move for it (decls_only); every other input adds,
 * inserts or deletes something, or fails. */
static void batch_render(struct batch *bt)
{
	for (int i = 0; i < NFAM; i++) {
		struct strbuf *m = &bt->input[i];

		if (!bt->fam[i])
			continue;
		size_t len = 0;
		char *input;

		bt->decls_only[i] = !m->p || !memmem(m->p, m->len, "\n-", 2);
		input = m->p && !m->oom ? strbuf_steal(m, &len) : NULL;
		if (m->oom || batch_spawn(bt, i, false, input, len) < 0)
			bt->status[i] = -1;
		strbuf_done(m);
	}
}

/* PHASE_SAVE: one save per family of the batch. A failed save only
 * costs fingerprints: the next restart re-applies those bindings
 * instead of skipping them. */
static void batch_saves(struct batch *bt)
{
	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i] && batch_spawn(bt, i, true, NULL, 0) < 0)
			bt->status[i] = -1;
}

static bool restores_ok(const struct batch *bt)
{
	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i] && bt->status[i] != 0)
			return false;
	return true;
}

/* --- settling, a slice per loop iteration --- */

/* Does the kernel hold what the restores wrote for item it (its chains
 * there, or gone for a removal), as the dumps (live_ok) or the saves
 * after them show? NULL if so, else why not. Learns which chains b has,
 * for the next batch. */
static const char *item_confirm(struct batch *bt, struct item *it)
{
	struct binding *b = it->b;
	const char *why = NULL;

	for (int i = 0; i < NFAM; i++) {
		bool in, out;

		if (!bt->fam[i])
			continue;
		if (!bt->live_ok && !bt->save[i]) {
			why = "the kernel could not be checked after the restore (its save failed)";
			continue;
		}
		/* netd's dispatch chains are there after any batch of the
		 * family: a save without them (empty, cut short) exited 0
		 * but shows nothing, least of all a removal. */
		if (!bt->live_ok && !chains_present(&bt->trees[i], RULES_ROOT_FROM)) {
			why = "the save after the restore does not show netd's dispatch chains";
			continue;
		}
		in = bt->live_ok ? confirm_live_has(bt, i, b->want.in_chain) :
				   chains_present(&bt->trees[i], b->want.in_chain);
		out = bt->live_ok ? confirm_live_has(bt, i, b->want.out_chain) :
				    chains_present(&bt->trees[i], b->want.out_chain);
		b->have_in[i] = in;
		b->have_out[i] = out;
		if (it->removing ? in || out : in != it->want_in[i] || out != it->want_out[i])
			why = "the restore tool exited 0, but the kernel does not hold what it wrote";
	}
	if (!why && bt->gen_short)
		why = "the restore tool exited 0, but the nf_tables generation did not move";
	return why;
}

/* Item k could not be confirmed: failed with why, its callers told. */
static void item_unconfirmed(struct filters *f, struct batch *bt, struct item *it, const char *why)
{
	struct binding *b = it->b;
	char *error = strdup(why);

	bt->unconfirmed = true;
	free(b->error);
	b->error = error; /* NULL without memory: failed without a message */
	if (!it->removing) {
		binding_set_state(f, b, B_FAILED);
		f->failed_applies++;
	}
	log_warn("%s: filter '%s' %s: %s", b->port, b->filter,
		 it->removing ? "not removed" : "not applied", why);
	binding_store(f, b);
	if (!it->waiters)
		binding_audit(f, b, "netd.ApplyFailed", "io.netd.ApplyFailed",
			      json_pack("{s:s, s:b}", "message", why, "removing", it->removing));
	waiters_answer(&it->waiters, &(struct outcome){ .kind = OUTCOME_FAILED, .port = b->port,
						        .b = b, .message = why });
}

/* The removal of item it is confirmed: the binding goes. */
static void item_removed(struct filters *f, struct item *it)
{
	struct binding *b = it->b;
	char port[16];
	bool gone = b->gone;

	snprintf(port, sizeof(port), "%s", b->port);
	waiters_answer(&it->waiters, &(struct outcome){ .kind = OUTCOME_REMOVED, .port = port });
	if (b->dirty && b->state != B_REMOVING)
		return; /* bound again while the removal ran */
	/* An unbind has its call's row; a port that went has only this. */
	if (gone)
		binding_audit(f, b, "netd.BindingRemoved", "ok",
			      json_pack("{s:s}", "reason", "port gone"));
	store_binding_delete(f->store, port);
	binding_free(f, b);
	it->b = NULL;
	log_info("%s: filter rules removed%s", port, gone ? " (the port is gone)" : "");
	links_port_unbound(f->links, port);
}

/* The restores of a batch succeeded and the saves after them are
 * parsed: binding k is applied (or gone) if the kernel shows it, its
 * fingerprints are recorded and its callers answered. */
static void apply_item(struct filters *f, struct batch *bt, unsigned k)
{
	struct item *it = &bt->items[k];
	struct binding *b = it->b;
	const char *why;

	b->in_batch = false;
	why = item_confirm(bt, it);
	if (why) {
		item_unconfirmed(f, bt, it, why);
		return;
	}
	if (it->removing) {
		item_removed(f, it);
		return;
	}
	snprintf(b->applied_hash, sizeof(b->applied_hash), "%s", it->hash);
	snprintf(b->applied_at, sizeof(b->applied_at), "%s", bt->now);
	free(b->error);
	b->error = NULL;
	if (!b->dirty)
		binding_set_state(f, b, B_APPLIED);
	f->applied++;
	/* Confirmed by the dumps: the fingerprints come with the save
	 * (RECORD); until then none, so a crash in between makes the next
	 * start re-apply rather than trust. */
	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i] && bt->live_ok)
			b->norm[i][0] = '\0';
		else if (bt->fam[i])
			chains_binding_norm(&bt->trees[i], b, b->norm[i]);
	b->unrecorded = bt->live_ok;
	binding_store(f, b);
	waiters_answer(&it->waiters,
		       &(struct outcome){ .kind = OUTCOME_APPLIED, .port = b->port, .b = b });
}

/* One slice of APPLY: true when every item is done. */
static bool items_slice(struct filters *f, struct batch *bt)
{
	unsigned end = bt->cursor + FILTERS_STEP < bt->n ? bt->cursor + FILTERS_STEP : bt->n;

	while (bt->cursor < end) {
		apply_item(f, bt, bt->cursor);
		if (++bt->cursor < end && budget_spent())
			return false;
	}
	return bt->cursor >= bt->n;
}

/* One slice of PARSE: true when every save is parsed. */
static bool parse_slice(struct batch *bt)
{
	for (int i = 0; i < NFAM; i++)
		if (bt->parse_pos[i] &&
		    !chains_parse_step(&bt->trees[i], &bt->parse_pos[i], &bt->parse_last[i]))
			return false;
	return true;
}

static void work_start(struct filters *f)
{
	ev_check_start(f->loop, &f->work_check);
	ev_idle_start(f->loop, &f->work_idle);
}

void batch_work_stop(struct filters *f)
{
	ev_check_stop(f->loop, &f->work_check);
	ev_idle_stop(f->loop, &f->work_idle);
}

/* PARSE is through: on to the comparison or to settling the bindings. */
static void parse_done(struct filters *f, struct batch *bt)
{
	bt->cursor = 0;
	if (bt->verify) {
		bt->phase = PHASE_COMPARE;
		return;
	}
	if (bt->live_ok || bt->record) {
		/* Answered already: record what the saves show. */
		confirm_record_roots(f, bt);
		bt->phase = PHASE_RECORD;
		return;
	}
	verify_gen_confirm(f, bt);
	confirm_record_roots(f, bt);
	now_iso(bt->now, sizeof(bt->now));
	bt->phase = PHASE_APPLY;
}

/* The work watcher: one slice of the running batch's current phase per
 * loop iteration; when the phase is through, the batch moves on. */
static void work_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	STATS_CALLBACK("filters settle");
	BUDGET_SLICE();
	struct filters *f = w->data;
	struct batch *bt = f->batch;
	bool done;

	if (!bt) {
		batch_work_stop(f);
		return;
	}
	switch (bt->phase) {
	case PHASE_RENDER:
		done = batch_render_slice(f, bt);
		break;
	case PHASE_PARSE:
		done = parse_slice(bt);
		if (done)
			parse_done(f, bt);
		break;
	case PHASE_CONFIRM:
		done = confirm_step(f, bt);
		if (done) {
			now_iso(bt->now, sizeof(bt->now));
			bt->phase = bt->live_ok ? PHASE_APPLY : PHASE_SAVE;
		}
		break;
	case PHASE_APPLY:
		done = items_slice(f, bt);
		if (done && bt->live_ok) {
			/* The callers are answered; a later record saves. */
			confirm_record_later(f, bt);
			bt->phase = PHASE_DONE;
		} else if (done) {
			confirm_record_checkpoint(f, bt);
			batch_backoff(f, bt->unconfirmed);
			bt->phase = PHASE_DONE;
		}
		break;
	case PHASE_RECORD:
		done = confirm_record_step(f, bt);
		if (done) {
			confirm_record_checkpoint(f, bt);
			batch_backoff(f, bt->unconfirmed);
			bt->phase = PHASE_DONE;
			f->record_since = 0;
			for (int i = 0; i < NFAM; i++)
				f->record_fam[i] = false;
		}
		break;
	case PHASE_COMPARE:
		done = verify_compare_step(f, bt);
		if (done)
			bt->phase = PHASE_DONE;
		break;
	default:
		/* Not a phase of slices: nothing for this watcher to do. */
		batch_work_stop(f);
		return;
	}
	if (!done)
		return;
	batch_work_stop(f);
	batch_advance(bt);
}

static void work_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Nothing: being active keeps ev_run from blocking while
	 * work_cb has work. */
}

/* Giving free memory back takes milliseconds (a madvise a free range,
 * each a TLB flush on every CPU): in a callback of its own, once nothing
 * else is pending, not at the end of the batch's last slice. */
static void trim_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	STATS_CALLBACK("memory trim");

	ev_idle_stop(loop, w);
	malloc_trim(0);
}

void batch_work_init(struct filters *f)
{
	ev_check_init(&f->work_check, work_cb);
	f->work_check.data = f;
	ev_idle_init(&f->work_idle, work_idle_cb);
	ev_set_priority(&f->work_check, BUDGET_PRIO_SLICES);
	ev_set_priority(&f->work_idle, BUDGET_PRIO_SLICES);
	ev_idle_init(&f->trim_idle, trim_idle_cb);
	ev_set_priority(&f->trim_idle, EV_MINPRI);
}

/* --- the phases --- */

/* Move bt on from a phase that ends at once (or whose runs just ended).
 * Returns false when bt must wait: for helper runs, or for the work
 * watcher (PARSE, APPLY, COMPARE). */
static bool batch_step(struct batch *bt)
{
	struct filters *f = bt->f;

	switch (bt->phase) {
	case PHASE_RENDER:
		if (!batch_render_slice(f, bt)) {
			work_start(f);
			return false;
		}
		batch_render(bt);
		/* Not one run started: as if they had all failed. */
		bt->phase = bt->running ? PHASE_RESTORING : PHASE_BISECT;
		return true;
	case PHASE_RESTORING:
		if (bt->running)
			return false;
		if (!restores_ok(bt)) {
			dispatch_forget(f, bt);
			bt->phase = PHASE_BISECT;
			return true;
		}
		for (int i = 0; i < NFAM; i++)
			if (bt->fam[i] && bt->decls_only[i]) {
				/* One generation or none: should it be
				 * one, the chain of generations ends
				 * (gen_expect does not count it). */
				bt->restores_maybe++;
				f->root_norm[i][0] = '\0';
			} else if (bt->fam[i]) {
				bt->restores++;
				bt->gen_expect++; /* each committed restore is one generation */
				f->root_norm[i][0] = '\0';
			}
		dispatch_commit(f, bt, verify_gen_exact(f, bt));
		/* Nobody is told before the kernel is seen to hold it: by the
		 * generation and the chain names, or by the saves. */
		bt->phase = confirm_possible(f, bt) ? PHASE_CONFIRM : PHASE_SAVE;
		return true;
	case PHASE_SAVE:
		batch_saves(bt);
		/* None started: a verification compares with nothing (and
		 * re-applies all); an apply cannot confirm anything. */
		if (bt->running)
			bt->phase = PHASE_SAVING;
		else if (bt->verify)
			bt->phase = PHASE_COMPARE;
		else
			parse_done(f, bt);
		return true;
	case PHASE_SAVING:
		if (bt->running)
			return false;
		for (int i = 0; i < NFAM; i++)
			if (bt->status[i] == 0 && bt->save[i])
				bt->parse_pos[i] = bt->save[i];
		bt->phase = PHASE_PARSE;
		return true;
	case PHASE_CONFIRM:
	case PHASE_APPLY:
	case PHASE_PARSE:
	case PHASE_RECORD:
	case PHASE_COMPARE:
		work_start(f);
		return false;
	case PHASE_BISECT:
		batch_bisect(f, bt);
		bt->phase = PHASE_DONE;
		return true;
	case PHASE_DONE:
		break;
	}
	return false;
}

void batch_advance(struct batch *bt)
{
	struct filters *f;

	assert(bt);
	f = bt->f;
	assert(f->batch == bt);
	while (bt->phase != PHASE_DONE)
		if (!batch_step(bt))
			return;
	f->batch = NULL;
	f->last_batch_end = now_usec();
	batch_free(bt);
}

void batch_cancel(struct batch *bt)
{
	struct filters *f;

	assert(bt);
	f = bt->f;
	for (int i = 0; i < NFAM; i++)
		if (bt->jobs[i]) {
			job_cancel(bt->jobs[i]); /* frees its run_ctx; run_done is not called */
			bt->jobs[i] = NULL;
		}
	bt->running = 0;
	/* A record's items are applied already: they wait for nothing. */
	for (unsigned k = 0; k < bt->n && !bt->record; k++) {
		struct item *it = &bt->items[k];

		if (it->b) {
			it->b->in_batch = false;
			binding_set_dirty(f, it->b, true);
			waiters_move(&it->b->waiters, &it->waiters);
		}
	}
	batch_work_stop(f);
	if (f->batch == bt)
		f->batch = NULL;
	batch_free(bt);
}

/* --- starting --- */

struct batch *batch_new(struct filters *f, unsigned n)
{
	struct batch *bt = calloc(1, sizeof(*bt));

	if (!bt || (n && !(bt->items = calloc(n, sizeof(*bt->items))))) {
		free(bt);
		return NULL;
	}
	bt->f = f;
	return bt;
}

/* Take binding b into bt as its next item. */
static void batch_take(struct batch *bt, struct binding *b)
{
	struct item *it = &bt->items[bt->n++];

	it->b = b;
	it->removing = b->state == B_REMOVING;
	snprintf(it->hash, sizeof(it->hash), "%s", b->rendered ? b->want.hash : "");
	for (int i = 0; i < NFAM; i++) {
		it->want_in[i] = b->rendered && b->want.has_in[i];
		it->want_out[i] = b->rendered && b->want.has_out[i];
		if (it->want_in[i] || it->want_out[i] || b->have_in[i] || b->have_out[i])
			bt->fam[i] = true;
	}
	it->waiters = b->waiters;
	b->waiters = NULL;
	b->item = bt->n - 1;
	b->in_batch = true;
	binding_set_dirty(bt->f, b, false);
}

void batch_start_group(struct filters *f, struct binding **v, unsigned n, unsigned pair,
			bool second)
{
	struct batch *bt;

	bt = batch_new(f, n);
	if (!bt)
		return;
	bt->pair = pair;
	bt->second = second;
	for (unsigned k = 0; k < n; k++)
		batch_take(bt, v[k]);
	for (int i = 0; i < NFAM; i++)
		if (f->root_dirty[i])
			bt->fam[i] = true;
	bt->phase = PHASE_RENDER;
	f->batch = bt;
	f->batches++;
	f->last_batch_n = bt->n;
	verify_gen_begin(f, bt);
	log_debug("filter batch %llu: %u bindings, families%s%s%s",
		  (unsigned long long)f->batches, bt->n, bt->fam[F_EB] ? " eb" : "",
		  bt->fam[F_IP4] ? " ip4" : "", bt->fam[F_IP6] ? " ip6" : "");
	batch_advance(bt);
}

void batch_start_apply(struct filters *f, struct binding **v, unsigned n)
{
	assert(f);
	assert(!f->batch);
	assert(v || n == 0);
	batch_start_group(f, v, n, 0, false);
}

void batch_start_verify(struct filters *f)
{
	struct batch *bt;

	assert(f);
	assert(!f->batch);
	bt = batch_new(f, 0);
	if (!bt)
		return;
	bt->verify = true;
	bt->phase = PHASE_SAVE;
	f->verify_wanted = false;
	f->batch = bt;
	verify_begin(f, bt);
	for (int i = 0; i < NFAM; i++)
		bt->fam[i] = true;
	batch_advance(bt);
}
