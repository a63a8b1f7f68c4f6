/*
 * batch.c: one batch at a time, from its first helper run to its last
 * binding settled, as an explicit enum phase (filters-internal.h) that
 * batch_advance() alone moves on.
 *
 * An apply writes the per-port chains of every binding it carries,
 * netd's two dispatch chains (rewritten whole: one line per bound port
 * and direction) and, if missing, the hooks from the built-in chains, as
 * ONE restore input per family that has changes, run with --noflush.
 * Declaring a chain in restore input flushes and refills it in the same
 * commit, so each replace is atomic. After the restores succeed, the
 * callers are answered, and one *-save per family records how the kernel
 * prints the chains (verify.c turns that into fingerprints).
 *
 * A failed apply is split in halves and retried until the bad bindings
 * are alone: the good ones apply, the bad ones fail with the tool's
 * message. What changes while a batch runs waits for the next.
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

/* Bindings in a batch above which its end gives the heap back. */
#define FILTERS_TRIM_BATCH 256

static void batch_free(struct batch *bt)
{
	/* A big batch or a verification held the restore input, the saves
	 * and their parsed chains: megabytes, now free, that malloc would
	 * otherwise keep. Give them back to the system. */
	bool trim = bt->verify || bt->n >= FILTERS_TRIM_BATCH;

	for (int i = 0; i < NFAM; i++) {
		assert(!bt->jobs[i]);
		free(bt->err[i]);
		free(bt->save[i]);
		chains_free(bt->trees[i]);
	}
	free(bt->items);
	free(bt);
	if (trim)
		malloc_trim(0);
}

/* --- render --- */

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

/* One dispatch line per bound port and direction, sorted by port: those
 * in this batch as they will be, the others as they are. */
static void put_dispatch(struct strbuf *m, struct filters *f, struct batch *bt,
			 enum rules_family fam)
{
	struct binding *b;
	char line[256];

	TAILQ_FOREACH(b, &f->all, entry) {
		bool in, out;

		if (b->in_batch) {
			struct item *it = NULL;

			for (unsigned i = 0; i < bt->n && !it; i++)
				if (bt->items[i].b == b)
					it = &bt->items[i];
			in = it && !it->removing && it->want_in[fam];
			out = it && !it->removing && it->want_out[fam];
		} else {
			in = b->have_in[fam] && b->state == B_APPLIED;
			out = b->have_out[fam] && b->state == B_APPLIED;
		}
		if (out && rules_dispatch_line(fam, false, b->port, line, sizeof(line)) > 0)
			strbuf_puts(m, line);
		if (in && rules_dispatch_line(fam, true, b->port, line, sizeof(line)) > 0)
			strbuf_puts(m, line);
	}
}

/* The restore input of family fam for batch bt; NULL without memory. */
static char *batch_input(struct filters *f, struct batch *bt, enum rules_family fam,
			 size_t *ret_len)
{
	struct strbuf m = { 0 };
	char line[256];

	strbuf_puts(&m, "*filter\n");
	/* The dispatch chains first: declaring them flushes them, so no
	 * rule refers to a chain deleted below. */
	rules_chain_decl(fam, RULES_ROOT_FROM, line, sizeof(line));
	strbuf_puts(&m, line);
	rules_chain_decl(fam, RULES_ROOT_TO, line, sizeof(line));
	strbuf_puts(&m, line);
	/* All chain declarations first, then the deletions, then all rules:
	 * ebtables-restore takes a third less time for 1000 bindings in
	 * this order than with each binding's declarations and rules
	 * together. */
	for (unsigned i = 0; i < bt->n; i++)
		if (!bt->items[i].removing && bt->items[i].b->want.text[fam])
			put_lines(&m, bt->items[i].b->want.text[fam], true);
	for (unsigned i = 0; i < bt->n; i++) {
		struct item *it = &bt->items[i];
		struct binding *b = it->b;

		/* Chains it had and will not have any more. */
		if (b->have_in[fam] && (it->removing || !it->want_in[fam]) &&
		    rules_chain_delete(fam, b->want.in_chain, line, sizeof(line)) > 0)
			strbuf_puts(&m, line);
		if (b->have_out[fam] && (it->removing || !it->want_out[fam]) &&
		    rules_chain_delete(fam, b->want.out_chain, line, sizeof(line)) > 0)
			strbuf_puts(&m, line);
	}
	for (unsigned i = 0; i < bt->n; i++)
		if (!bt->items[i].removing && bt->items[i].b->want.text[fam])
			put_lines(&m, bt->items[i].b->want.text[fam], false);
	put_dispatch(&m, f, bt, fam);
	if (!f->hooks_ok[fam])
		strbuf_puts(&m, rules_hook_lines(fam));
	strbuf_puts(&m, "COMMIT\n");
	return strbuf_steal(&m, ret_len);
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

	bt->jobs[fam] = NULL;
	bt->status[fam] = status;
	if (status != 0) {
		const char *tool = rc->save ? filters_save_argv[fam][0] : filters_restore_argv[fam][0];

		free(bt->err[fam]);
		if (status == -ETIMEDOUT)
			bt->err[fam] = strdup("killed after the helper timeout");
		else
			bt->err[fam] = strndup(err, err_len > 2000 ? 2000 : err_len);
		/* NULL without memory: the binding gets a generic message. */
		log_warn("%s: exit %d%s%s", tool, status, bt->err[fam] && *bt->err[fam] ? ": " : "",
			 bt->err[fam] ? bt->err[fam] : "");
	} else if (rc->save) {
		/* NULL without memory: as if the save had failed. */
		bt->save[fam] = strndup(out, out_len);
	}
	assert(bt->running > 0);
	if (--bt->running == 0)
		batch_advance(bt);
}

/* Start the restore (input) or the save (save) of family fam. */
static int batch_spawn(struct batch *bt, int fam, bool save, const char *input, size_t len)
{
	struct filters *f = bt->f;
	char *const *argv = save ? filters_save_argv[fam] : filters_restore_argv[fam];
	struct run_ctx *rc = calloc(1, sizeof(*rc));
	int r;

	if (!rc)
		return -ENOMEM;
	rc->bt = bt;
	rc->fam = fam;
	rc->save = save;
	r = job_run(f->loop, f->job_ops, argv, input, len, f->timeout_ms, run_done, free, rc,
		    &bt->jobs[fam]);
	if (r < 0) {
		free(rc);
		return log_error_errno(argv[0], r, "cannot start");
	}
	if (save)
		f->save_runs++;
	else
		f->restore_runs++;
	bt->running++;
	return 0;
}

/* PHASE_RENDER: one restore per family with changes. A family whose run
 * cannot start counts as failed. */
static void batch_render(struct batch *bt)
{
	for (int i = 0; i < NFAM; i++) {
		size_t len = 0;
		char *input;

		if (!bt->fam[i])
			continue;
		input = batch_input(bt->f, bt, i, &len);
		if (!input || batch_spawn(bt, i, false, input, len) < 0)
			bt->status[i] = -1;
		free(input);
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

/* The restores of a batch succeeded: binding k is applied (or gone) and
 * its callers are answered now; the saves that follow only record
 * fingerprints, off the callers' path. Until they do, the fingerprints
 * are empty, so a crash in between makes the next start re-apply rather
 * than trust. */
static void apply_item(struct filters *f, struct batch *bt, unsigned k)
{
	struct item *it = &bt->items[k];
	struct binding *b = it->b;

	b->in_batch = false;
	for (int i = 0; i < NFAM; i++) {
		if (!bt->fam[i])
			continue;
		b->have_in[i] = !it->removing && it->want_in[i];
		b->have_out[i] = !it->removing && it->want_out[i];
		b->norm[i][0] = '\0';
	}
	if (it->removing) {
		char port[16];
		bool gone = b->gone;

		snprintf(port, sizeof(port), "%s", b->port);
		waiters_answer(&it->waiters, &(struct outcome){ .kind = OUTCOME_REMOVED, .port = port });
		if (b->dirty && b->state != B_REMOVING)
			return; /* bound again while the removal ran */
		store_binding_delete(f->store, port);
		binding_free(f, b);
		it->b = NULL;
		log_info("%s: filter rules removed%s", port, gone ? " (the port is gone)" : "");
		links_port_unbound(f->links, port);
		return;
	}
	snprintf(b->applied_hash, sizeof(b->applied_hash), "%s", it->hash);
	snprintf(b->applied_at, sizeof(b->applied_at), "%s", bt->now);
	free(b->error);
	b->error = NULL;
	if (!b->dirty)
		b->state = B_APPLIED;
	f->applied++;
	binding_store(f, b);
	waiters_answer(&it->waiters,
		       &(struct outcome){ .kind = OUTCOME_APPLIED, .port = b->port, .b = b });
}

/* After the saves of an apply are parsed: record the dispatch chains'
 * fingerprints and the hooks, for the next restart or Resync. */
static void record_roots(struct filters *f, struct batch *bt)
{
	for (int i = 0; i < NFAM; i++) {
		if (!bt->fam[i] || bt->status[i] != 0 || !bt->save[i])
			continue;
		f->hooks_ok[i] = chains_hooks_present(bt->save[i], i);
		chains_root_norm(&bt->trees[i], f->root_norm[i]);
		store_root_put(f->store, filters_fam_names[i], f->root_norm[i]);
		f->root_dirty[i] = false;
	}
}

static void record_item(struct filters *f, struct batch *bt, unsigned k)
{
	struct item *it = &bt->items[k];
	struct binding *b = it->b;

	if (!b || it->removing)
		return;
	for (int i = 0; i < NFAM; i++)
		if (bt->trees[i])
			chains_binding_norm(&bt->trees[i], b, b->norm[i]);
	binding_store(f, b);
}

/* The end of a recorded apply: if the generation moved by our runs alone
 * and every save came in, the kernel matches the fingerprints there. */
static void record_checkpoint(struct filters *f, struct batch *bt)
{
	bool saved = true;

	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i] && (bt->status[i] != 0 || !bt->save[i]))
			saved = false;
	verify_gen_check(f, bt);
	if (bt->gen_chain && saved)
		verify_mark_set(f, bt->gen_expect);
}

/* One slice of APPLY or RECORD: true when every item is done. */
static bool items_slice(struct filters *f, struct batch *bt)
{
	unsigned end = bt->cursor + FILTERS_STEP < bt->n ? bt->cursor + FILTERS_STEP : bt->n;

	while (bt->cursor < end) {
		if (bt->phase == PHASE_APPLY)
			apply_item(f, bt, bt->cursor);
		else
			record_item(f, bt, bt->cursor);
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

/* The work watcher: one slice of the running batch's current phase per
 * loop iteration; when the phase is through, the batch moves on. */
static void work_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	STATS_CALLBACK("filters settle");
	struct filters *f = w->data;
	struct batch *bt = f->batch;
	bool done;

	if (!bt) {
		batch_work_stop(f);
		return;
	}
	switch (bt->phase) {
	case PHASE_APPLY:
		done = items_slice(f, bt);
		if (done)
			bt->phase = PHASE_SAVE;
		break;
	case PHASE_PARSE:
		done = parse_slice(bt);
		if (done) {
			if (bt->verify) {
				bt->phase = PHASE_COMPARE;
			} else {
				record_roots(f, bt);
				bt->cursor = 0;
				bt->phase = PHASE_RECORD;
			}
		}
		break;
	case PHASE_RECORD:
		done = items_slice(f, bt);
		if (done) {
			record_checkpoint(f, bt);
			bt->phase = PHASE_DONE;
		}
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

void batch_work_init(struct filters *f)
{
	ev_check_init(&f->work_check, work_cb);
	f->work_check.data = f;
	ev_idle_init(&f->work_idle, work_idle_cb);
}

/* --- bisection --- */

/* Queue a group of bindings to be retried as a batch of its own. */
static void retry_push(struct filters *f, struct binding **v, unsigned n)
{
	struct binding ***groups = realloc(f->retry, (f->nretry + 1) * sizeof(*groups));
	unsigned *sizes;

	if (!groups) {
		free(v);
		return;
	}
	f->retry = groups;
	sizes = realloc(f->retry_n, (f->nretry + 1) * sizeof(*sizes));
	if (!sizes) {
		free(v);
		return;
	}
	f->retry_n = sizes;
	f->retry[f->nretry] = v;
	f->retry_n[f->nretry] = n;
	f->nretry++;
}

/* Split bt's bindings in halves, each retried on its own, until the bad
 * ones are alone. The waiters go back to their bindings. */
static void bisect_split(struct filters *f, struct batch *bt)
{
	unsigned half = bt->n / 2;
	struct binding **a = calloc(half, sizeof(*a)), **c = calloc(bt->n - half, sizeof(*c));

	for (unsigned k = 0; k < bt->n; k++) {
		struct item *it = &bt->items[k];

		it->b->in_batch = false;
		it->b->dirty = true;
		waiters_move(&it->b->waiters, &it->waiters);
		if (a && k < half)
			a[k] = it->b;
		else if (c && k >= half)
			c[k - half] = it->b;
	}
	log_info("a batch of %u bindings failed; retrying it in halves to find the bad ones", bt->n);
	if (a)
		retry_push(f, a, half);
	if (c)
		retry_push(f, c, bt->n - half);
}

/* The bad binding, alone: failed with the tool's message. */
static void bisect_fail_one(struct filters *f, struct batch *bt)
{
	struct item *it = &bt->items[0];
	struct binding *b = it->b;
	const char *msg = NULL;
	char *error;

	for (int i = 0; i < NFAM && !msg; i++)
		if (bt->fam[i] && bt->status[i] != 0)
			msg = bt->err[i];
	b->in_batch = false;
	error = strdup(msg && *msg ? msg : "the restore run failed");
	free(b->error);
	b->error = error; /* NULL without memory: failed without a message */
	b->state = B_FAILED;
	f->failed_applies++;
	log_warn("%s: filter '%s' could not be applied: %s", b->port, b->filter,
		 b->error ? b->error : "?");
	binding_store(f, b);
	waiters_answer(&it->waiters, &(struct outcome){ .kind = OUTCOME_FAILED, .port = b->port,
						        .b = b, .message = b->error });
}

/* --- the phases --- */

/* Move bt on from a phase that ends at once (or whose runs just ended).
 * Returns false when bt must wait: for helper runs, or for the work
 * watcher (APPLY, PARSE, RECORD). */
static bool batch_step(struct batch *bt)
{
	struct filters *f = bt->f;

	switch (bt->phase) {
	case PHASE_RENDER:
		batch_render(bt);
		/* Not one run started: as if they had all failed. */
		bt->phase = bt->running ? PHASE_RESTORING : PHASE_BISECT;
		return true;
	case PHASE_RESTORING:
		if (bt->running)
			return false;
		if (!restores_ok(bt)) {
			bt->phase = PHASE_BISECT;
			return true;
		}
		for (int i = 0; i < NFAM; i++)
			if (bt->fam[i]) {
				bt->gen_expect++; /* each committed restore is one generation */
				f->root_norm[i][0] = '\0';
			}
		now_iso(bt->now, sizeof(bt->now));
		bt->cursor = 0;
		bt->phase = PHASE_APPLY;
		return true;
	case PHASE_SAVE:
		batch_saves(bt);
		/* None started: applied, only the fingerprints are missing; a
		 * verification compares with nothing (and re-applies all). */
		bt->phase = bt->running ? PHASE_SAVING : bt->verify ? PHASE_COMPARE : PHASE_DONE;
		return true;
	case PHASE_SAVING:
		if (bt->running)
			return false;
		for (int i = 0; i < NFAM; i++)
			if (bt->status[i] == 0 && bt->save[i])
				bt->parse_pos[i] = bt->save[i];
		bt->phase = PHASE_PARSE;
		return true;
	case PHASE_APPLY:
	case PHASE_PARSE:
	case PHASE_RECORD:
		work_start(f);
		return false;
	case PHASE_COMPARE:
		verify_compare(f, bt);
		bt->phase = PHASE_DONE;
		return true;
	case PHASE_BISECT:
		if (bt->n > 1)
			bisect_split(f, bt);
		else if (bt->n == 1)
			bisect_fail_one(f, bt);
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
	for (unsigned k = 0; k < bt->n; k++) {
		struct item *it = &bt->items[k];

		if (it->b) {
			it->b->in_batch = false;
			it->b->dirty = true;
			waiters_move(&it->b->waiters, &it->waiters);
		}
	}
	batch_work_stop(f);
	if (f->batch == bt)
		f->batch = NULL;
	batch_free(bt);
}

/* --- starting --- */

static struct batch *batch_new(struct filters *f, unsigned n)
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
	b->in_batch = true;
	b->dirty = false;
}

void batch_start_apply(struct filters *f, struct binding **v, unsigned n)
{
	struct batch *bt;

	assert(f);
	assert(!f->batch);
	assert(v || n == 0);
	bt = batch_new(f, n);
	if (!bt)
		return;
	for (unsigned k = 0; k < n; k++)
		batch_take(bt, v[k]);
	for (int i = 0; i < NFAM; i++)
		if (f->root_dirty[i])
			bt->fam[i] = true;
	bt->phase = PHASE_RENDER;
	f->batch = bt;
	f->batches++;
	verify_gen_begin(f, bt);
	log_debug("filter batch %llu: %u bindings, families%s%s%s",
		  (unsigned long long)f->batches, bt->n, bt->fam[F_EB] ? " eb" : "",
		  bt->fam[F_IP4] ? " ip4" : "", bt->fam[F_IP6] ? " ip6" : "");
	batch_advance(bt);
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

bool batch_start_retry(struct filters *f)
{
	struct binding **g;
	unsigned gn;

	assert(f);
	if (f->nretry == 0)
		return false;
	/* Bisecting a failed batch comes first. */
	g = f->retry[0];
	gn = f->retry_n[0];
	memmove(f->retry, f->retry + 1, (f->nretry - 1) * sizeof(*f->retry));
	memmove(f->retry_n, f->retry_n + 1, (f->nretry - 1) * sizeof(*f->retry_n));
	f->nretry--;
	batch_start_apply(f, g, gn);
	free(g);
	return true;
}

void batch_retry_clear(struct filters *f)
{
	assert(f);
	for (unsigned i = 0; i < f->nretry; i++)
		free(f->retry[i]);
	free(f->retry);
	free(f->retry_n);
	f->retry = NULL;
	f->retry_n = NULL;
	f->nretry = 0;
}
