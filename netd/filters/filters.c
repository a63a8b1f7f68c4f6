/*
 * filters.c: see filters.h. The filters' life (start, stop, reload)
 * and the scheduling: once per loop iteration, filters_flush()
 * decides what runs next, one batch at a time: a verification if one is
 * wanted, else the next group of a bisection, else every dirty binding
 * (after waiting briefly for the rest of a pipelined burst).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filters-internal.h"
#include "job.h"
#include "log.h"
#include "safepath.h"
#include "util.h"

const char *const filters_fam_names[NFAM] = { "eb", "ip4", "ip6" };
char *const filters_restore_argv[NFAM][4] = {
	{ "ebtables-restore", "--noflush", NULL },
	{ "iptables-restore", "-w", "--noflush", NULL },
	{ "ip6tables-restore", "-w", "--noflush", NULL },
};
char *const filters_save_argv[NFAM][4] = {
	{ "ebtables-save", NULL },
	{ "iptables-save", "-t", "filter", NULL },
	{ "ip6tables-save", "-t", "filter", NULL },
};

/* How long a batch may wait for the rest of a pipelined burst: while
 * bindings keep being added; and while calls of it are still being read
 * (ctl's backlog, or a privileged client's call half read: its writer
 * waits for room in its socket), longer, since reading 1000 calls can take
 * netd more than 250 ms on a busy machine. */
#define FILTERS_GATHER_US 250000
#define FILTERS_GATHER_BURST_US 2000000
/* The record (confirm.c): after this long without a batch; before the
 * next apply once the oldest binding it records waited this long. */
#define FILTERS_RECORD_IDLE_US 200000
#define FILTERS_RECORD_MAX_US 30000000

/* Wait while a burst is still arriving (bindings were added since the
 * last look, or calls wait in ctl's backlog), within a bound, so that the
 * burst becomes one batch: true to wait. The timer only wakes the loop. */
static bool gather_more(struct filters *f, bool more_coming, unsigned n)
{
	/* A lone binding with nothing behind it goes at once: a guest
	 * started after the last one was answered waited 1 ms for nothing.
	 * Not when the last batch carried several: their callers' next
	 * calls are arriving, and a batch of the first alone would make the
	 * others wait a whole cycle more. */
	if (more_coming ||
	    (n > f->gather_n && (n > 1 || f->gather_since || f->last_batch_n > 1))) {
		uint64_t now = now_usec();

		if (!f->gather_since)
			f->gather_since = now;
		if (now - f->gather_since <
		    (more_coming ? FILTERS_GATHER_BURST_US : FILTERS_GATHER_US)) {
			f->gather_n = n;
			ev_timer_stop(f->loop, &f->gather_timer);
			ev_timer_set(&f->gather_timer, 0.001, 0.);
			ev_timer_start(f->loop, &f->gather_timer);
			return true;
		}
	}
	f->gather_since = 0;
	f->gather_n = 0;
	return false;
}

/* Is the record due: overdue, or (idle) no batch for long enough? If
 * it will be, the timer wakes the loop then. */
static bool record_due(struct filters *f, bool idle)
{
	uint64_t now = now_usec();

	if (!confirm_record_pending(f))
		return false;
	if (now - f->record_since >= f->record_max_us)
		return true;
	if (!idle)
		return false;
	if (now - f->last_batch_end >= f->record_idle_us)
		return true;
	ev_timer_stop(f->loop, &f->record_timer);
	ev_timer_set(&f->record_timer, (f->record_idle_us - (now - f->last_batch_end)) / 1e6, 0.);
	ev_timer_start(f->loop, &f->record_timer);
	return false;
}

/* A record whose saves run gives way to an apply: it only fingerprints,
 * the caller of the apply waits. Unless overdue. (Not to a verification,
 * which waits for the record: see filters_flush().) */
static void record_preempt(struct filters *f)
{
	struct batch *bt = f->batch;

	/* Not for an apply that would wait out a back-off anyway. */
	if (!bt->record || bt->phase != PHASE_SAVING || record_due(f, false) ||
	    (f->backoff_until && now_usec() < f->backoff_until))
		return;
	if (TAILQ_EMPTY(&f->dirty))
		return;
	f->records_preempted++;
	log_debug("filters: the record gives way to an apply");
	batch_cancel(bt);
}

static int cmp_seq(const void *a, const void *b)
{
	uint64_t x = (*(struct binding *const *)a)->seq, y = (*(struct binding *const *)b)->seq;

	return x < y ? -1 : x > y;
}

void filters_flush(struct filters *f, bool more_coming)
{
	_cleanup_free_ struct binding **v = NULL;
	struct binding *b;
	unsigned n = 0;
	bool root = false;

	assert(f);
	if (f->batch)
		record_preempt(f);
	if (f->batch)
		return;
	/* The netdev backend's runs (netdev.c) never overlap a batch. */
	if (netdev_flush(f, more_coming))
		return;
	if (f->verify_wanted) {
		/* Fingerprints first, so the comparison skips those bindings. */
		if (confirm_record_pending(f))
			confirm_start_record(f);
		else
			batch_start_verify(f);
		return;
	}
	/* The halves of a failed batch are tried at once: that is how the
	 * bad bindings are found. */
	if (batch_start_retry(f))
		return;
	for (int i = 0; i < NFAM; i++)
		root |= f->root_dirty[i];
	TAILQ_FOREACH(b, &f->dirty, dirty_entry)
		n++;
	/* Anything else waits out the back-off of the batch that failed
	 * last (its timer wakes the loop), so that a batch that keeps
	 * failing (a broken tool, someone holding the table) is not
	 * restarted every loop iteration. A Resync waiting only for that
	 * retry is answered: it has seen its bindings tried. */
	if (f->backoff_until) {
		uint64_t now = now_usec();

		if (now < f->backoff_until) {
			/* The timer runs on the loop's clock, which may be a
			 * little behind: if it fired early, wait again. */
			if (!ev_is_active(&f->backoff_timer)) {
				ev_timer_set(&f->backoff_timer, (f->backoff_until - now) / 1e6, 0.);
				ev_timer_start(f->loop, &f->backoff_timer);
			}
			if (n == 0)
				filters_answer_resync(f);
			return;
		}
	}
	if (n == 0 && !root) {
		f->gather_since = 0;
		if (record_due(f, true))
			confirm_start_record(f);
		else
			filters_answer_resync(f);
		return;
	}
	if (record_due(f, false)) {
		confirm_start_record(f);
		return;
	}
	if (gather_more(f, more_coming, n))
		return;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return;
	n = 0;
	TAILQ_FOREACH(b, &f->dirty, dirty_entry)
		v[n++] = b;
	/* In f->all's order, as a batch always took them. */
	qsort(v, n, sizeof(*v), cmp_seq);
	batch_start_apply(f, v, n);
}

bool filters_idle(const struct filters *f)
{
	assert(f);
	if (f->batch || f->nretry || f->verify_wanted || confirm_record_pending(f) ||
	    !netdev_idle(f))
		return false;
	return TAILQ_EMPTY(&f->dirty);
}

bool filters_started(const struct filters *f)
{
	assert(f);
	return f->ready && (filters_idle(f) || (f->backoff_until && !f->batch));
}

void filters_answer_resync(struct filters *f)
{
	bool root = false;

	if (!f->resync_waiters || !filters_idle(f))
		return;
	/* Hooks or dispatch chains still to be rewritten (the verification
	 * found them wrong, or a batch could not confirm them) are part of
	 * what the Resync repairs: answered once they are, unless a failed
	 * batch's back-off holds them (the flush answers then). The netdev
	 * backend ending its runs must not answer before them. */
	for (int i = 0; i < NFAM; i++)
		root |= f->root_dirty[i];
	if (root && !f->backoff_until)
		return;
	now_iso(f->last_resync, sizeof(f->last_resync));
	f->last_resync_by = f->resync_by_generation ? "generation" : "save";
	f->resync_by_generation = false;
	f->last_resync_skipped = f->resync_skipped;
	f->last_resync_reapplied = f->resync_reapply;
	waiters_answer(&f->resync_waiters,
		       &(struct outcome){ .kind = OUTCOME_RESYNCED, .skipped = f->resync_skipped,
					  .reapplied = f->resync_reapply });
}

int filters_resync_start(struct filters *f, bool full, const struct waiter *w)
{
	assert(f && w);
	if (waiters_add(&f->resync_waiters, w) < 0)
		return -ENOMEM;
	/* Unless asked for the saves: nothing to save while nf_tables is
	 * at netd's checkpoint (answered at once). */
	if (!full && verify_resync_by_generation(f)) {
		filters_answer_resync(f);
		return 0;
	}
	batch_resync_begin(f);
	netdev_resync(f);
	return 0;
}

/* Load the built-ins and dir's files; each file that does not load is
 * logged and, when errs is not NULL, its message appended there. */
static int load_defs(const char *dir, struct rules_defs **ret, unsigned *ret_errors, json_t *errs)
{
	_cleanup_free_ char *unsafe = NULL;
	struct rules_defs *d = NULL;
	char **errors = NULL;
	size_t nerrors = 0;
	int r;

	/* A filter there is trusted as root's: only root or netd may be
	 * able to change the directory (none at all: the built-ins). */
	r = safepath_dir(dir, 0, &unsafe);
	if (r < 0 && r != -ENOENT) {
		const char *why = unsafe ? unsafe : strerror(-r);

		log_error("filter directory: %s", why);
		if (errs)
			json_array_append_new(errs, json_string(why));
		return r;
	}
	r = rules_defs_new(&d);
	if (r < 0)
		return r;
	r = rules_defs_load_dir(d, dir, &errors, &nerrors);
	for (size_t i = 0; i < nerrors; i++) {
		log_warn("filter %s; not loaded", errors[i]);
		if (errs)
			json_array_append_new(errs, json_string(errors[i]));
		free(errors[i]);
	}
	free(errors);
	if (r < 0) {
		errno = -r;
		log_warn("filter directory '%s': %m, using the built-in filters only", dir);
	} else if (r > 0) {
		log_info("filter directory '%s': %d custom filters", dir, r);
	}
	*ret_errors = (unsigned)nerrors;
	*ret = d;
	return r > 0 ? r : 0;
}

static void gather_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* Nothing: waking the loop runs filters_flush() again. */
}

int filters_load(struct ev_loop *loop, struct store *store, struct links *links,
		 const struct filters_config *cfg, struct filters **ret)
{
	struct filters *f;
	int r;

	assert(loop);
	assert(store);
	assert(cfg && cfg->filter_dir);
	assert(ret);
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->loop = loop;
	f->store = store;
	f->links = links;
	f->timeout_ms = cfg->helper_timeout_ms;
	f->job_ops = cfg->job_ops;
	f->nft_ops = cfg->nft_ops ? cfg->nft_ops : &nftgen_ops;
	TAILQ_INIT(&f->all);
	TAILQ_INIT(&f->dirty);
	TAILQ_INIT(&f->netdev_all);
	TAILQ_INIT(&f->lists);
	ev_init(&f->gather_timer, gather_cb);
	ev_init(&f->record_timer, gather_cb);
	f->record_idle_us = FILTERS_RECORD_IDLE_US;
	f->last_resync_by = "";
	f->record_max_us = FILTERS_RECORD_MAX_US;
	batch_work_init(f);
	batch_backoff_init(f);
	f->filter_dir = strdup(cfg->filter_dir);
	r = f->filter_dir ? load_defs(cfg->filter_dir, &f->defs, &f->filter_errors, NULL) : -ENOMEM;
	if (r >= 0)
		r = bindings_load(f);
	if (r < 0) {
		log_error_errno(NULL, r, "cannot start the filters");
		filters_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

int filters_start(struct filters *f)
{
	assert(f && !f->netdev);
	bindings_check_ports(f);
	verify_gen_init(f);
	f->verify_wanted = !verify_from_checkpoint(f);
	return netdev_init(f);
}

int filters_new(struct ev_loop *loop, struct store *store, struct links *links,
		const struct filters_config *cfg, struct filters **ret)
{
	struct filters *f;
	int r = filters_load(loop, store, links, cfg, &f);

	if (r < 0)
		return r;
	r = filters_start(f);
	if (r < 0) {
		filters_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

struct filters *filters_free(struct filters *f)
{
	if (!f)
		return NULL;
	/* Callers still waiting (the stop's timeout ran out) hear that netd
	 * stops, as their bindings or the Resync go. */
	f->stopping = true;
	waiters_answer(&f->resync_waiters, &(struct outcome){ .kind = OUTCOME_SHUTDOWN });
	ev_timer_stop(f->loop, &f->gather_timer);
	ev_timer_stop(f->loop, &f->record_timer);
	ev_timer_stop(f->loop, &f->backoff_timer);
	batch_work_stop(f);
	filters_lists_free(f);
	/* Shutdown with a batch running: its runs are cancelled and their
	 * results never looked at; the callers it carries wait with their
	 * bindings again, answered (ShuttingDown) as those are freed. */
	if (f->batch)
		batch_cancel(f->batch);
	ev_idle_stop(f->loop, &f->trim_idle);
	netdev_free(f);
	while (!TAILQ_EMPTY(&f->all))
		binding_free(f, TAILQ_FIRST(&f->all));
	while (!TAILQ_EMPTY(&f->netdev_all))
		binding_free(f, TAILQ_FIRST(&f->netdev_all));
	batch_retry_clear(f);
	bindings_undo_clear(f);
	rules_defs_free(f->defs);
	free(f->filter_dir);
	free(f);
	return NULL;
}

json_t *filters_reload(struct filters *f, const char *filter_dir)
{
	struct rules_defs *d;
	unsigned errors, changed;
	size_t kept;
	json_t *errs = json_array();
	char *dir;
	int r;

	assert(f);
	assert(filter_dir);
	dir = strdup(filter_dir);
	r = dir ? load_defs(filter_dir, &d, &errors, errs) : -ENOMEM;
	if (r < 0) {
		free(dir);
		json_decref(errs);
		return json_pack("{s:s}", "error", strerror(-r));
	}
	free(f->filter_dir);
	f->filter_dir = dir;
	/* A filter whose file no longer loads keeps its previous
	 * definition (define.c); the rest re-render their bindings. */
	changed = define_reload(f, d, errors, &kept);
	return json_pack("{s:i, s:i, s:o, s:i, s:i}", "custom_filters", r, "filter_errors", (int)errors,
			 "errors", errs ? errs : json_array(), "bindings_changed", (int)changed, "kept",
			 (int)kept);
}
