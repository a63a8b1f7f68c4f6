/*
 * bisect.c: what happens after a batch fails. Its bindings are split in
 * halves, each retried as a batch of its own, until the bad ones are
 * alone: the good ones apply, the bad ones fail with the tool's message.
 * When both halves of a split fail, the cause is not one binding (the
 * dispatch chains, the hooks, a broken tool): splitting stops there and
 * every binding of both fails with the message. And every failed batch
 * makes the next one that is not a bisection half wait, exponentially
 * longer up to a bound, until a batch succeeds.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "filters-internal.h"
#include "log.h"
#include "util.h"

/* Back-off of failing batches: first delay, bound. */
#define FILTERS_BACKOFF_MIN_MS 100u
#define FILTERS_BACKOFF_MAX_MS 30000u

static void backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* Nothing: waking the loop runs filters_flush() again. */
}

void batch_backoff_init(struct filters *f)
{
	assert(f);
	ev_init(&f->backoff_timer, backoff_cb);
}

void batch_backoff(struct filters *f, bool failed)
{
	assert(f);
	if (!failed) {
		f->backoff_ms = 0;
		f->backoff_until = 0;
		return;
	}
	f->failed_batches++;
	f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2 : FILTERS_BACKOFF_MIN_MS;
	if (f->backoff_ms > FILTERS_BACKOFF_MAX_MS)
		f->backoff_ms = FILTERS_BACKOFF_MAX_MS;
	f->backoff_until = now_usec() + (uint64_t)f->backoff_ms * 1000;
	ev_timer_stop(f->loop, &f->backoff_timer);
	ev_timer_set(&f->backoff_timer, f->backoff_ms / 1000.0, 0.);
	ev_timer_start(f->loop, &f->backoff_timer);
}

void batch_resync_begin(struct filters *f)
{
	assert(f);
	f->verify_wanted = true;
	f->backoff_until = 0;
	ev_timer_stop(f->loop, &f->backoff_timer);
}

/* Queue a group of bindings to be retried as a batch of its own. */
static void retry_push(struct filters *f, struct binding **v, unsigned n, unsigned pair,
		       bool second)
{
	struct retry_group *groups = realloc(f->retry, (f->nretry + 1) * sizeof(*groups));

	if (!groups) {
		/* Without memory the group is not retried; its bindings
		 * stay dirty and go with the next batch. */
		free(v);
		return;
	}
	f->retry = groups;
	f->retry[f->nretry++] = (struct retry_group){ .v = v, .n = n, .pair = pair,
						      .second = second };
}

/* Split bt's bindings in halves, each retried on its own, until the bad
 * ones are alone. The waiters go back to their bindings. */
static void bisect_split(struct filters *f, struct batch *bt)
{
	unsigned half = bt->n / 2, pair = ++f->pair_next;
	struct binding **a = calloc(half, sizeof(*a)), **c = calloc(bt->n - half, sizeof(*c));

	for (unsigned k = 0; k < bt->n; k++) {
		struct item *it = &bt->items[k];

		it->b->in_batch = false;
		binding_set_dirty(f, it->b, true);
		waiters_move(&it->b->waiters, &it->waiters);
		if (a && k < half)
			a[k] = it->b;
		else if (c && k >= half)
			c[k - half] = it->b;
	}
	log_info("a batch of %u bindings failed; retrying it in halves to find the bad ones", bt->n);
	if (a)
		retry_push(f, a, half, pair, false);
	if (c)
		retry_push(f, c, bt->n - half, pair, true);
	if (bt->pair && !bt->second)
		f->first_failed_split = a && c;
}

/* The message of bt's failed run. */
static const char *batch_error(const struct batch *bt)
{
	for (int i = 0; i < NFAM; i++)
		if (bt->fam[i] && bt->status[i] != 0 && bt->err[i] && *bt->err[i])
			return bt->err[i];
	return "the restore run failed";
}

/* Binding b failed with msg; its callers (ws) are told. Changed while
 * the run of a batch item was out (bound again, unbound, its port gone):
 * the item's callers hear why the run failed, and the change, still
 * dirty, goes out next for the callers waiting on it (b->waiters). A
 * retry group's binding is dirty for the retry itself, its callers on
 * b->waiters: it fails. */
static void binding_failed(struct filters *f, struct binding *b, struct waiter **ws,
			   const char *msg)
{
	char *error;

	b->in_batch = false;
	if (b->dirty && ws != &b->waiters) {
		f->failed_applies++;
		log_warn("%s: filter run failed, changed meanwhile; applying the change: %s",
			 b->port, msg);
		waiters_answer(ws, &(struct outcome){ .kind = OUTCOME_FAILED, .port = b->port,
						      .b = b, .message = msg });
		return;
	}
	binding_set_dirty(f, b, false);
	error = strdup(msg);
	free(b->error);
	b->error = error; /* NULL without memory: failed without a message */
	binding_set_state(f, b, B_FAILED);
	f->failed_applies++;
	log_warn("%s: filter '%s' could not be applied: %s", b->port, b->filter,
		 b->error ? b->error : "?");
	binding_store(f, b);
	/* Nobody asked (a re-apply after a start, a Resync or a reload):
	 * the audit trail is the only place that says so. */
	if (!*ws)
		binding_audit(f, b, "netd.ApplyFailed", "io.netd.ApplyFailed",
			      json_pack("{s:s}", "message", b->error ? b->error : msg));
	waiters_answer(ws, &(struct outcome){ .kind = OUTCOME_FAILED, .port = b->port, .b = b,
					      .message = b->error });
}

/* Both halves of a split failed: splitting further would only repeat
 * the failure (the dispatch chains, the hooks, a broken tool), so every
 * binding of both fails with the message, and the first half's own
 * halves, queued last, are dropped. */
static void bisect_stop(struct filters *f, struct batch *bt)
{
	const char *msg = batch_error(bt);

	log_warn("both halves of a failed batch failed too; not splitting them further");
	for (unsigned k = 0; k < bt->n; k++)
		binding_failed(f, bt->items[k].b, &bt->items[k].waiters, msg);
	if (!f->first_failed_split)
		return;
	for (int g = 0; g < 2 && f->nretry > 0; g++) {
		struct retry_group *rg = &f->retry[f->nretry - 1];

		for (unsigned k = 0; k < rg->n; k++)
			binding_failed(f, rg->v[k], &rg->v[k]->waiters, msg);
		free(rg->v);
		f->nretry--;
	}
}

void batch_bisect(struct filters *f, struct batch *bt)
{
	batch_backoff(f, true);
	for (int i = 0; i < NFAM; i++)
		if (bt->hook_deletes[i]) {
			/* The hooks may have changed since the save they
			 * were counted in: look again before the next try. */
			f->hooks_ok[i] = false;
			f->verify_wanted = true;
		}
	if (bt->pair && bt->second && f->first_failed_pair == bt->pair && bt->n > 0) {
		bisect_stop(f, bt);
		return;
	}
	if (bt->pair && !bt->second) {
		f->first_failed_pair = bt->pair;
		f->first_failed_split = false;
	}
	if (bt->n > 1)
		bisect_split(f, bt);
	else if (bt->n == 1)
		binding_failed(f, bt->items[0].b, &bt->items[0].waiters, batch_error(bt));
}

bool batch_start_retry(struct filters *f)
{
	struct retry_group g;

	assert(f);
	if (f->nretry == 0)
		return false;
	/* Bisecting a failed batch comes first. */
	g = f->retry[0];
	memmove(f->retry, f->retry + 1, (f->nretry - 1) * sizeof(*f->retry));
	f->nretry--;
	batch_start_group(f, g.v, g.n, g.pair, g.second);
	free(g.v);
	return true;
}

void batch_retry_clear(struct filters *f)
{
	assert(f);
	for (unsigned i = 0; i < f->nretry; i++)
		free(f->retry[i].v);
	free(f->retry);
	f->retry = NULL;
	f->nretry = 0;
}
