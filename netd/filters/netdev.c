/*
 * netdev.c: the nftables netdev backend. A binding on a macvtap or
 * macvlan port (whose traffic never crosses a bridge, so ebtables and
 * iptables never see it) lives in f->netdev_all and is rendered by
 * rules_render_nft() into netd's table "netdev netd": base chains on the
 * device's own hooks, egress for what the guest writes to its tap,
 * ingress for what is sent to it (docs/macvtap-filters.md).
 *
 * Batched like the *tables backend: every netdev binding changed since
 * the last run goes to the kernel in ONE `nft -f -` run (one nf_tables
 * transaction: all or nothing), then ONE `nft list table netdev netd`
 * shows what the kernel holds; only then is a binding applied (its
 * fingerprint, the SHA-256 of its chains as listed, recorded) and its
 * callers answered. A failed run is split in halves, each tried on its
 * own, until the bad bindings are alone. A verification (start, Resync)
 * is one listing compared with the fingerprints: drift is logged,
 * audited, counted and re-applied. Runs go through f->job_ops (unit tests
 * fake them) and never overlap a *tables batch, so that the nf_tables
 * generation checkpoint (verify.c) can follow them: a run that moved the
 * generation by exactly one keeps the checkpoint, so a restart with
 * nothing changed runs nothing at all.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "filters-internal.h"
#include "job.h"
#include "links.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* How long a batch may wait for the rest of a burst (as filters.c's):
 * while bindings keep being added; and while calls of it are still being
 * read (a backlog, a privileged client's call half read). A burst of 1000
 * binds takes netd 130 to 330 ms to read on a busy machine: cut at 250 ms,
 * it became two nft runs (bench B10). */
#define NETDEV_GATHER_US 250000
#define NETDEV_GATHER_BURST_US 2000000
#define NETDEV_LIST_MIN (16u << 20)
#define NETDEV_LIST_PER_BINDING (32u << 10)

static char *const nft_apply_argv[] = { "nft", "-f", "-", NULL };
static char *const nft_list_argv[] = { "nft", "list", "table", "netdev", RULES_NFT_TABLE, NULL };

struct nd_item {
	struct binding *b;
	bool removing;
	char hash[65];
	struct waiter *waiters;
};

/* Half of a failed run, to be tried on its own: port names, since a
 * binding may go meanwhile. */
struct nd_group {
	char (*ports)[16];
	unsigned n;
};

struct netdev_state {
	struct filters *f;
	bool verify_wanted;
	bool running, verify;
	struct job *job;
	struct nd_item *items;
	unsigned n;
	bool gen_known;            /* gen0 read before the run */
	bool gen_chain;            /* the checkpoint held when the run started */
	uint32_t gen0;
	bool recording;            /* answered already: the listing records fingerprints */
	/* Work on the items or bindings done a slice per loop iteration (from
	 * work_check) once a run ended: answering 1000 callers and writing
	 * their rows in one callback took 33 ms. */
	enum { W_NONE, W_EARLY, W_CONFIRM, W_RECORD, W_COMPARE } work;
	unsigned cursor;
	struct binding *cmp_next;
	unsigned cmp_ok, cmp_dirty;
	bool all_ok;
	void *tree;                /* the parsed listing (netdev-list.c) */
	char *listing;             /* its text */
	ev_check work_check;
	ev_idle work_idle;
	struct nd_group *groups;
	unsigned ngroups;
	uint64_t gather_since;
	unsigned gather_n;
	ev_timer gather_timer;
	uint64_t runs, listings, batches, failed_batches, applied, failed, skipped, drift;
	char drift_last[160];
};

/* --- the generation checkpoint (verify.c) --- */

static void mark_drop(struct filters *f)
{
	if (!f->mark_valid)
		return;
	f->mark_valid = false;
	store_checkpoint_clear(f->store);
}

static void gen_begin(struct netdev_state *nd)
{
	struct filters *f = nd->f;

	nd->gen_known = f->nft_ops->gen(&nd->gen0) == 0;
	nd->gen_chain = f->gen_usable && f->mark_valid && nd->gen_known && nd->gen0 == f->mark;
	mark_drop(f);
}

/* After a confirmed run: one generation more, and only ours, keeps the
 * checkpoint. */
static void gen_end(struct netdev_state *nd, bool all_ok)
{
	struct filters *f = nd->f;
	uint32_t g;

	if (nd->gen_chain && all_ok && f->nft_ops->gen(&g) == 0 && g == nd->gen0 + 1)
		verify_mark_set(f, g);
}

/* --- the end of a run --- */

static void work_stop(struct netdev_state *nd)
{
	ev_check_stop(nd->f->loop, &nd->work_check);
	ev_idle_stop(nd->f->loop, &nd->work_idle);
	nd->work = W_NONE;
}

static void run_end(struct netdev_state *nd)
{
	work_stop(nd);
	netdev_list_free(nd->tree);
	nd->tree = NULL;
	free(nd->listing);
	nd->listing = NULL;
	free(nd->items);
	nd->items = NULL;
	nd->n = 0;
	nd->running = false;
	nd->verify = false;
	nd->recording = false;
	nd->job = NULL;
	filters_answer_resync(nd->f);
}

static void item_fail(struct netdev_state *nd, struct nd_item *it, const char *why)
{
	struct binding *b = it->b;

	b->in_batch = false;
	free(b->error);
	b->error = strdup(why); /* NULL without memory: failed without a message */
	if (!it->removing && !b->dirty)
		binding_set_state(nd->f, b, B_FAILED);
	nd->failed++;
	nd->f->failed_applies++;
	log_warn("%s: filter '%s' could not be %s in table netdev netd: %s", b->port, b->filter,
		 it->removing ? "removed" : "applied", why);
	binding_store(nd->f, b);
	waiters_answer(&it->waiters, &(struct outcome){ .kind = OUTCOME_FAILED, .port = b->port,
						       .b = b, .message = why });
}

static void item_removed(struct netdev_state *nd, struct nd_item *it)
{
	struct filters *f = nd->f;
	struct binding *b = it->b;
	char port[16];
	bool gone = b->gone;

	b->in_batch = false;
	snprintf(port, sizeof(port), "%s", b->port);
	waiters_answer(&it->waiters, &(struct outcome){ .kind = OUTCOME_REMOVED, .port = port });
	if (b->dirty && b->state != B_REMOVING)
		return; /* bound again while the removal ran */
	store_binding_delete(f->store, port);
	binding_free(f, b);
	it->b = NULL;
	log_info("%s: netdev filter chains removed%s", port, gone ? " (the port is gone)" : "");
	links_port_unbound(f->links, port);
}

static void item_applied(struct netdev_state *nd, struct nd_item *it, const char *norm)
{
	struct binding *b = it->b;

	b->in_batch = false;
	snprintf(b->applied_hash, sizeof(b->applied_hash), "%s", it->hash);
	snprintf(b->nnorm, sizeof(b->nnorm), "%s", norm); /* "": recorded by the listing */
	now_iso(b->applied_at, sizeof(b->applied_at));
	free(b->error);
	b->error = NULL;
	if (!b->dirty)
		binding_set_state(nd->f, b, B_APPLIED);
	nd->applied++;
	nd->f->applied++;
	binding_store(nd->f, b);
	waiters_answer(&it->waiters, &(struct outcome){ .kind = OUTCOME_APPLIED, .port = b->port,
						       .b = b });
}

/* The listing after a successful run: each binding is applied, or
 * removed, only if the kernel shows it so. */
static void confirm_item(struct netdev_state *nd, struct nd_item *it)
{
	char norm[65];

	if (it->removing) {
		if (netdev_list_any(&nd->tree, it->b->port)) {
			item_fail(nd, it, "nft exited 0 but the chains are still listed");
			nd->all_ok = false;
		} else {
			item_removed(nd, it);
		}
	} else if (netdev_list_norm(&nd->tree, it->b->port, norm) && norm[0]) {
		item_applied(nd, it, norm);
	} else {
		item_fail(nd, it, "nft exited 0 but the chains are not listed");
		nd->all_ok = false;
	}
}

/* Answered before the listing (confirmed by the generation): the listing
 * records each applied binding's fingerprint; one it does not show is
 * applied again. */
static void record_item(struct netdev_state *nd, struct nd_item *it)
{
	struct binding *b = it->b;
	char norm[65];

	if (!b || it->removing || !streq(b->applied_hash, it->hash))
		return; /* removed, or changed meanwhile: a later batch records it */
	if (netdev_list_norm(&nd->tree, b->port, norm) && norm[0]) {
		snprintf(b->nnorm, sizeof(b->nnorm), "%s", norm);
		binding_store(nd->f, b);
		return;
	}
	log_warn("%s: the chains nft wrote are not listed; applying them again", b->port);
	binding_set_state(nd->f, b, B_PENDING);
	binding_set_dirty(nd->f, b, true);
	binding_store(nd->f, b);
	nd->all_ok = false;
}

/* After a run that exited 0: if the generation moved by exactly one, it
 * was this run's transaction (nft -f is one) and nobody else's: the
 * callers are answered now, and the listing only records. */
static bool apply_early(struct netdev_state *nd)
{
	uint32_t g;

	return nd->gen_known && nd->f->nft_ops->gen(&g) == 0 && g == nd->gen0 + 1;
}

static void early_item(struct netdev_state *nd, struct nd_item *it)
{
	if (it->removing)
		item_removed(nd, it);
	else
		item_applied(nd, it, "");
}

static void drift_note(struct netdev_state *nd, struct binding *b)
{
	struct filters *f = nd->f;
	char params[128];

	nd->drift++;
	snprintf(nd->drift_last, sizeof(nd->drift_last), "%s: its chains in table netdev netd %s",
		 b->port, b->nnorm[0] ? "were changed or removed" : "were never recorded");
	log_warn("filters: %s; re-applying them", nd->drift_last);
	snprintf(params, sizeof(params), "{\"port\":\"%s\",\"backend\":\"nftables\"}", b->port);
	if (store_audit_append(f->store, &(struct store_peer){ .uid = (uid_t)-1, .gid = (gid_t)-1 },
			       "kernel.NetdevFilterDrift", params, "ok", NULL) < 0)
		log_warn("filters: cannot audit the drift, ignoring");
}

/* A verification's listing: what is intact is skipped, the rest is
 * re-applied (or removed). */
static void compare_one(struct netdev_state *nd, struct binding *b)
{
	char norm[65];
	bool intact;

	if (b->state == B_REMOVING) {
		binding_set_dirty(nd->f, b, true);
		nd->cmp_dirty++;
		return;
	}
	if (b->state == B_FAILED || b->dirty || b->in_batch)
		return;
	intact = netdev_list_norm(&nd->tree, b->port, norm) && b->state == B_APPLIED && b->rendered &&
		 b->nnorm[0] && streq(norm, b->nnorm) && streq(b->applied_hash, b->want.hash);
	if (intact) {
		nd->cmp_ok++;
		return;
	}
	if (b->state == B_APPLIED && b->nnorm[0])
		drift_note(nd, b);
	binding_set_state(nd->f, b, B_PENDING);
	binding_set_dirty(nd->f, b, true);
	nd->cmp_dirty++;
}

static void compare_end(struct netdev_state *nd)
{
	struct filters *f = nd->f;
	unsigned ok = nd->cmp_ok, dirty = nd->cmp_dirty;

	nd->skipped += ok;
	f->skipped += ok;
	f->resync_skipped += ok;
	f->resync_reapply += dirty;
	if (dirty)
		mark_drop(f);
	log_info("filters: table netdev netd verified: %u intact, %u to re-apply", ok, dirty);
}

/* --- the work after a run, in slices --- */

static void work_begin(struct netdev_state *nd, int work)
{
	nd->work = work;
	nd->cursor = 0;
	nd->all_ok = true;
	nd->cmp_ok = nd->cmp_dirty = 0;
	nd->cmp_next = TAILQ_FIRST(&nd->f->netdev_all);
	ev_check_start(nd->f->loop, &nd->work_check);
	ev_idle_start(nd->f->loop, &nd->work_idle);
}

/* One item (or binding) of the work: false when none is left. */
static bool work_piece(struct netdev_state *nd)
{
	struct binding *b = nd->cmp_next;

	if (nd->work == W_COMPARE) {
		if (!b)
			return false;
		nd->cmp_next = TAILQ_NEXT(b, entry);
		compare_one(nd, b);
		return true;
	}
	if (nd->cursor >= nd->n)
		return false;
	if (nd->work == W_EARLY)
		early_item(nd, &nd->items[nd->cursor++]);
	else if (nd->work == W_CONFIRM)
		confirm_item(nd, &nd->items[nd->cursor++]);
	else
		record_item(nd, &nd->items[nd->cursor++]);
	return true;
}

static int list_start(struct netdev_state *nd);

static void work_end(struct netdev_state *nd)
{
	int work = nd->work;

	work_stop(nd);
	if (work == W_EARLY) {
		/* Answered: the listing only records the fingerprints. */
		nd->recording = true;
		if (list_start(nd) < 0) {
			log_warn("filters: cannot run nft to list table netdev netd, fingerprints not recorded");
			run_end(nd);
		}
		return;
	}
	if (work == W_COMPARE)
		compare_end(nd);
	else
		gen_end(nd, nd->all_ok);
	run_end(nd);
}

static void work_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	BUDGET_SLICE();
	struct netdev_state *nd = w->data;

	do {
		if (!work_piece(nd)) {
			work_end(nd);
			return;
		}
	} while (!budget_spent());
}

static void work_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Nothing: being active keeps ev_run from blocking while work_cb
	 * has work. */
}

static void list_done(void *data, int status, const char *out, size_t out_len, const char *err,
		      size_t err_len)
{
	struct netdev_state *nd = data;
	bool empty = status != 0 && err && strstr(err, "No such file or directory");
	int r = -EIO;

	if (status == 0 || empty) {
		nd->listing = status == 0 && nd->job ? job_take_out(nd->job) : NULL;
		if (!nd->listing)
			nd->listing = strndup(status == 0 ? out : "", status == 0 ? out_len : 0);
		r = nd->listing ? netdev_list_parse(nd->listing, &nd->tree) : -ENOMEM;
	}
	nd->job = NULL;
	if (r >= 0) {
		work_begin(nd, nd->recording ? W_RECORD : nd->verify ? W_COMPARE : W_CONFIRM);
		return;
	}
	if (nd->recording)
		log_warn("filters: cannot list table netdev netd, fingerprints not recorded");
	else if (nd->verify)
		log_warn("filters: cannot list table netdev netd (%s), not verified",
			 err && *err ? err : "nft failed");
	else
		for (unsigned k = 0; k < nd->n; k++)
			item_fail(nd, &nd->items[k], "nft exited 0 but table netdev netd cannot be listed");
	run_end(nd);
}

static int list_start(struct netdev_state *nd)
{
	struct filters *f = nd->f;
	int r;

	r = job_run(f->loop, f->job_ops, nft_list_argv, NULL, 0, f->timeout_ms, list_done, NULL, nd,
		    &nd->job);
	if (r < 0)
		return r;
	nd->listings++;
	if (nd->job)
		job_set_out_max(nd->job, NETDEV_LIST_MIN + (size_t)f->nbindings * NETDEV_LIST_PER_BINDING);
	return 0;
}

/* --- bisection --- */

static void group_push(struct netdev_state *nd, struct nd_item *v, unsigned n)
{
	struct nd_group *g = realloc(nd->groups, (nd->ngroups + 1) * sizeof(*g));
	char (*ports)[16] = calloc(n, sizeof(*ports));

	if (g)
		nd->groups = g;
	if (!g || !ports) {
		free(ports); /* not retried: its bindings stay dirty for the next batch */
		return;
	}
	for (unsigned k = 0; k < n; k++)
		snprintf(ports[k], sizeof(ports[k]), "%s", v[k].b->port);
	nd->groups[nd->ngroups++] = (struct nd_group){ .ports = ports, .n = n };
}

/* The run failed: alone, the binding failed; otherwise halves, each
 * tried on its own, the callers waiting with their bindings again. */
static void apply_failed(struct netdev_state *nd, int status, const char *err)
{
	char why[512], *text = NULL;

	nd->failed_batches++;
	nd->f->failed_batches++;
	if (status < 0)
		snprintf(why, sizeof(why), "nft could not run: %s", strerror(-status));
	else if (err && *err && (text = filters_message(err, MIN(strcspn(err, "\n"), sizeof(why) - 1))))
		snprintf(why, sizeof(why), "%s", text);
	else
		snprintf(why, sizeof(why), "nft failed");
	free(text);
	if (nd->n == 1 || status < 0) {
		for (unsigned k = 0; k < nd->n; k++)
			item_fail(nd, &nd->items[k], why);
		return;
	}
	log_info("a netdev batch of %u bindings failed; retrying it in halves to find the bad ones",
		 nd->n);
	for (unsigned k = 0; k < nd->n; k++) {
		struct binding *b = nd->items[k].b;

		b->in_batch = false;
		binding_set_dirty(nd->f, b, true);
		waiters_move(&b->waiters, &nd->items[k].waiters);
	}
	/* The second half is pushed first: groups are taken from the end. */
	group_push(nd, nd->items + nd->n / 2, nd->n - nd->n / 2);
	group_push(nd, nd->items, nd->n / 2);
}

static void apply_done(void *data, int status, const char *out, size_t out_len, const char *err,
		       size_t err_len)
{
	struct netdev_state *nd = data;
	int r;

	nd->job = NULL;
	if (status != 0) {
		apply_failed(nd, status, err);
		run_end(nd);
		return;
	}
	if (apply_early(nd)) {
		/* Not someone else's change to the *tables dispatch chains:
		 * a record of them waiting meanwhile still trusts them. */
		dispatch_own_run(nd->f, nd->gen0);
		work_begin(nd, W_EARLY);
		return;
	}
	r = list_start(nd);
	if (r < 0) {
		for (unsigned k = 0; k < nd->n; k++)
			item_fail(nd, &nd->items[k], "nft exited 0 but table netdev netd cannot be listed");
		run_end(nd);
	}
}

/* --- starting --- */

static void apply_start(struct netdev_state *nd, struct binding **v, unsigned n)
{
	struct filters *f = nd->f;
	struct strbuf in = { 0 };
	int r;

	nd->items = calloc(n, sizeof(*nd->items));
	if (!nd->items)
		return;
	/* The generation first: with nothing but netd's own confirmed runs
	 * since the checkpoint, a binding never applied has no chains, and
	 * its text goes without "flush chain" lines (B10's input). */
	gen_begin(nd);
	strbuf_printf(&in, "add table netdev %s\n", RULES_NFT_TABLE);
	for (unsigned k = 0; k < n; k++) {
		struct nd_item *it = &nd->items[k];
		struct binding *b = v[k];

		it->b = b;
		it->removing = b->state == B_REMOVING;
		snprintf(it->hash, sizeof(it->hash), "%s", b->rendered ? b->want.hash : "");
		it->waiters = b->waiters;
		b->waiters = NULL;
		b->in_batch = true;
		binding_set_dirty(f, b, false);
		if (it->removing)
			rules_nft_remove(b->port, &in);
		else if (binding_need_text(f, b) == 0)
			rules_nft_put(&b->nwant, nd->gen_chain && !b->applied_hash[0], &in);
	}
	nd->n = n;
	nd->running = true;
	nd->batches++;
	r = in.oom ? -ENOMEM : job_run(f->loop, f->job_ops, nft_apply_argv, in.p, in.len,
				       f->timeout_ms, apply_done, NULL, nd, &nd->job);
	strbuf_done(&in);
	if (r < 0) {
		apply_failed(nd, r, NULL);
		run_end(nd);
		return;
	}
	nd->runs++;
	log_debug("netdev batch %llu: %u bindings", (unsigned long long)nd->batches, n);
}

static void verify_start(struct netdev_state *nd)
{
	nd->verify_wanted = false;
	nd->running = true;
	nd->verify = true;
	if (list_start(nd) < 0) {
		log_warn("filters: cannot run nft to list table netdev netd, not verified");
		run_end(nd);
	}
}

/* The next group of a bisection: its bindings that still wait. */
static void group_start(struct netdev_state *nd)
{
	struct nd_group g = nd->groups[--nd->ngroups];
	_cleanup_free_ struct binding **v = calloc(g.n, sizeof(*v));
	unsigned n = 0;

	for (unsigned k = 0; v && k < g.n; k++) {
		struct binding *b = binding_find(nd->f, g.ports[k]);

		if (b && b->nft && b->dirty && !b->in_batch && (b->rendered || b->state == B_REMOVING))
			v[n++] = b;
	}
	free(g.ports);
	if (n)
		apply_start(nd, v, n);
}

static bool gather_more(struct netdev_state *nd, bool more_coming, unsigned n)
{
	if (more_coming || n > nd->gather_n) {
		uint64_t now = now_usec();

		if (!nd->gather_since)
			nd->gather_since = now;
		if (now - nd->gather_since <
		    (more_coming ? NETDEV_GATHER_BURST_US : NETDEV_GATHER_US)) {
			nd->gather_n = n;
			ev_timer_stop(nd->f->loop, &nd->gather_timer);
			ev_timer_set(&nd->gather_timer, 0.001, 0.);
			ev_timer_start(nd->f->loop, &nd->gather_timer);
			return true;
		}
	}
	nd->gather_since = 0;
	nd->gather_n = 0;
	return false;
}

bool netdev_flush(struct filters *f, bool more_coming)
{
	struct netdev_state *nd = f->netdev;
	_cleanup_free_ struct binding **v = NULL;
	struct binding *b;
	unsigned n = 0;

	assert(f);
	if (!nd)
		return false;
	if (nd->running)
		return true;
	/* A verification of the *tables backend goes first: it sets the
	 * Resync counters this one adds to. */
	if (f->verify_wanted)
		return false;
	if (nd->verify_wanted) {
		verify_start(nd);
		return nd->running;
	}
	while (nd->ngroups && !nd->running)
		group_start(nd);
	if (nd->running)
		return true;
	/* A binding that does not render (its filter went) waits as it is,
	 * unless it is being removed. */
	if (f->ndirty > 0)
		TAILQ_FOREACH(b, &f->netdev_all, entry)
			n += b->dirty && !b->in_batch && (b->rendered || b->state == B_REMOVING);
	if (n == 0 || gather_more(nd, more_coming, n))
		return false;
	v = calloc(n, sizeof(*v));
	if (!v)
		return false;
	n = 0;
	TAILQ_FOREACH(b, &f->netdev_all, entry)
		if (b->dirty && !b->in_batch && (b->rendered || b->state == B_REMOVING))
			v[n++] = b;
	apply_start(nd, v, n);
	return nd->running;
}

bool netdev_idle(const struct filters *f)
{
	const struct netdev_state *nd = f->netdev;
	struct binding *b;

	if (!nd)
		return true;
	if (nd->running || nd->verify_wanted || nd->ngroups)
		return false;
	if (f->ndirty == 0)
		return true;
	TAILQ_FOREACH(b, &f->netdev_all, entry)
		if (b->dirty && (b->rendered || b->state == B_REMOVING))
			return false;
	return true;
}

void netdev_resync(struct filters *f)
{
	assert(f);
	if (f->netdev && !TAILQ_EMPTY(&f->netdev_all))
		f->netdev->verify_wanted = true;
}

/* --- bindings --- */

void netdev_adopt(struct filters *f, struct binding *b)
{
	assert(f && b && !b->nft);
	binding_move_to_netdev(f, b);
}

int netdev_render(struct filters *f, struct binding *b, const struct rules_params *p,
		  char **ret_error)
{
	struct rules_nft r = { 0 };
	int ret;

	assert(f && b && b->nft);
	ret = rules_render_nft(f->defs, b->filter, b->port, p, &r, ret_error);
	if (ret < 0)
		return ret;
	rules_nft_done(&b->nwant);
	b->nwant = r;
	/* want keeps what the shared code reads: the hash and the names. */
	rules_render_done(&b->want);
	snprintf(b->want.hash, sizeof(b->want.hash), "%s", r.hash);
	snprintf(b->want.in_chain, sizeof(b->want.in_chain), "%s", r.in_chain);
	snprintf(b->want.out_chain, sizeof(b->want.out_chain), "%s", r.out_chain);
	b->rendered = true;
	return 0;
}

/* --- life --- */

static void gather_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* Nothing: waking the loop runs filters_flush() again. */
}

int netdev_init(struct filters *f)
{
	struct netdev_state *nd;
	struct binding *b;

	assert(f);
	nd = calloc(1, sizeof(*nd));
	if (!nd)
		return -ENOMEM;
	nd->f = f;
	ev_init(&nd->gather_timer, gather_cb);
	ev_check_init(&nd->work_check, work_cb);
	nd->work_check.data = nd;
	ev_idle_init(&nd->work_idle, work_idle_cb);
	ev_set_priority(&nd->work_check, BUDGET_PRIO_SLICES);
	ev_set_priority(&nd->work_idle, BUDGET_PRIO_SLICES);
	f->netdev = nd;
	/* Without a verification the checkpoint vouched for the kernel; a
	 * netdev binding it cannot vouch for (not applied as recorded) is
	 * looked at with one listing. */
	nd->verify_wanted = f->verify_wanted;
	TAILQ_FOREACH(b, &f->netdev_all, entry)
		if (b->state != B_APPLIED || !b->rendered || !b->nnorm[0] ||
		    !streq(b->applied_hash, b->want.hash))
			nd->verify_wanted = true;
	if (TAILQ_EMPTY(&f->netdev_all))
		nd->verify_wanted = false;
	return 0;
}

void netdev_free(struct filters *f)
{
	struct netdev_state *nd = f->netdev;

	if (!nd)
		return;
	ev_timer_stop(f->loop, &nd->gather_timer);
	work_stop(nd);
	netdev_list_free(nd->tree);
	free(nd->listing);
	if (nd->job)
		job_cancel(nd->job);
	for (unsigned k = 0; k < nd->n; k++)
		if (nd->items[k].b) {
			nd->items[k].b->in_batch = false;
			waiters_move(&nd->items[k].b->waiters, &nd->items[k].waiters);
		}
	free(nd->items);
	for (unsigned k = 0; k < nd->ngroups; k++)
		free(nd->groups[k].ports);
	free(nd->groups);
	free(nd);
	f->netdev = NULL;
}

void netdev_status(const struct filters *f, json_t *reply)
{
	const struct netdev_state *nd = f->netdev;
	struct binding *b;
	unsigned n = 0;

	TAILQ_FOREACH(b, &f->netdev_all, entry)
		n++;
	json_object_set_new(reply, "netdev_bindings", json_integer(n));
	json_object_set_new(reply, "netdev_nft_runs", json_integer(nd ? (json_int_t)nd->runs : 0));
	json_object_set_new(reply, "netdev_listings", json_integer(nd ? (json_int_t)nd->listings : 0));
	json_object_set_new(reply, "netdev_batches_failed",
			    json_integer(nd ? (json_int_t)nd->failed_batches : 0));
	json_object_set_new(reply, "netdev_drift", json_integer(nd ? (json_int_t)nd->drift : 0));
	json_object_set_new(reply, "netdev_drift_last", json_string(nd ? nd->drift_last : ""));
}
