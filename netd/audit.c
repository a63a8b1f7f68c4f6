/*
 * audit.c: see audit.h. Owns the per-uid refusal windows and the state of
 * a pruning run.
 *
 * Why rate-limit: any local user can call a mutating method and be
 * refused, as fast as it likes; one row per refusal would let it grow the
 * database (and the disk) at will. Why prune in steps: one DELETE of a
 * million rows would hold the loop (and the write lock) for seconds.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"
#include "stats.h"
#include "store.h"
#include "util.h"

/* uids with a refusal window at once; past this the oldest window is
 * closed (its summary written) to make room. */
#define AUDIT_WINDOWS 64
/* Rows deleted per step, and the pause between steps while behind. */
#define AUDIT_PRUNE_BATCH 256
#define AUDIT_PRUNE_STEP_S 0.02
#define AUDIT_TICK_S 1.0

struct refusal_window {
	bool used;
	uid_t uid;
	gid_t gid;
	uint64_t start_us;      /* wall clock */
	unsigned rows;          /* written in this window */
	uint64_t suppressed;    /* counted only */
	uint64_t first_us, last_us; /* of the suppressed ones */
};

struct audit {
	struct ev_loop *loop;
	struct store *store;
	struct audit_config cfg;
	ev_timer timer;
	struct refusal_window win[AUDIT_WINDOWS];
	/* The pruning run under way: rows deleted, ids, steps. */
	bool running;
	int64_t run_deleted, run_first, run_last;
	unsigned run_steps;
};

static uint64_t wall_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void format_time(uint64_t us, char buf[static 64])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(us / 1000 % 1000));
}

/* One row written by netd itself (a summary, a pruning); detail steals. */
static void append_own(struct audit *a, const struct store_peer *peer, const char *method,
		       const char *result, json_t *detail)
{
	_cleanup_free_ char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int r;

	json_decref(detail);
	if (!text) {
		log_error("%s: out of memory writing the audit row", method);
		return;
	}
	r = store_audit_append(a->store, peer, method, "null", result, text);
	if (r < 0)
		log_error_errno(method, r, "cannot write the audit row");
}

/* The summary row of w's suppressed refusals, if any; the window is then
 * empty. */
static void window_flush(struct audit *a, struct refusal_window *w)
{
	struct store_peer peer = { .uid = w->uid, .gid = w->gid, .pid = 0 };
	char t1[64], t2[64], text[256];

	if (w->suppressed == 0)
		return;
	format_time(w->first_us, t1);
	format_time(w->last_us, t2);
	snprintf(text, sizeof(text), "%llu more refusals from uid %u between %s and %s",
		 (unsigned long long)w->suppressed, (unsigned)w->uid, t1, t2);
	append_own(a, &peer, "netd.RefusalsSuppressed", "suppressed",
		   json_pack("{s:I, s:I, s:s, s:s, s:s}", "count", (json_int_t)w->suppressed,
			     "uid", (json_int_t)w->uid, "from", t1, "to", t2, "summary", text));
	log_info("audit: %s", text);
	w->suppressed = 0;
}

/* uid's window: its own, a free one, or the oldest one closed. */
static struct refusal_window *window_get(struct audit *a, uid_t uid)
{
	struct refusal_window *w, *oldest = NULL, *free_w = NULL;

	for (size_t i = 0; i < AUDIT_WINDOWS; i++) {
		w = &a->win[i];
		if (w->used && w->uid == uid)
			return w;
		if (!w->used && !free_w)
			free_w = w;
		if (w->used && (!oldest || w->start_us < oldest->start_us))
			oldest = w;
	}
	if (!free_w) {
		window_flush(a, oldest);
		free_w = oldest;
	}
	memset(free_w, 0, sizeof(*free_w));
	free_w->used = true;
	free_w->uid = uid;
	return free_w;
}

void audit_refusal(struct audit *a, const struct store_peer *peer, const char *method,
		   const char *error)
{
	struct refusal_window *w;
	uint64_t now = wall_usec();
	int r;

	assert(a);
	assert(peer);
	assert(method);
	assert(error);
	w = window_get(a, peer->uid);
	w->gid = peer->gid;
	if (now - w->start_us >= (uint64_t)a->cfg.refusal_interval_ms * 1000) {
		window_flush(a, w);
		w->start_us = now;
		w->rows = 0;
	}
	if (w->rows >= a->cfg.refusal_burst) {
		if (w->suppressed++ == 0)
			w->first_us = now;
		w->last_us = now;
		stats.refusals_suppressed++;
		return;
	}
	w->rows++;
	stats.refusals_audited++;
	/* Never the parameters: they are the caller's, up to
	 * max_message_size, and it was not allowed to make the call. */
	r = store_audit_append(a->store, peer, method, "null", error, NULL);
	if (r < 0)
		log_error_errno(method, r, "cannot write the audit row");
}

/* Close the windows whose interval is over, writing their summaries. */
static void windows_expire(struct audit *a, bool all)
{
	uint64_t now = wall_usec();

	for (size_t i = 0; i < AUDIT_WINDOWS; i++) {
		struct refusal_window *w = &a->win[i];

		if (w->used && (all || now - w->start_us >= (uint64_t)a->cfg.refusal_interval_ms * 1000)) {
			window_flush(a, w);
			w->used = false;
		}
	}
}

/* The row recording a finished pruning run. */
static void prune_record(struct audit *a)
{
	struct store_peer self = { .uid = getuid(), .gid = getgid(), .pid = getpid() };

	append_own(a, &self, "netd.AuditPrune", "ok",
		   json_pack("{s:I, s:I, s:I, s:i, s:I, s:i}", "deleted", (json_int_t)a->run_deleted,
			     "first_id", (json_int_t)a->run_first, "last_id", (json_int_t)a->run_last,
			     "steps", (int)a->run_steps, "max_rows", (json_int_t)a->cfg.max_rows,
			     "max_days", (int)a->cfg.max_days));
	log_info("audit: pruned %lld rows (ids %lld..%lld) in %u steps", (long long)a->run_deleted,
		 (long long)a->run_first, (long long)a->run_last, a->run_steps);
	a->running = false;
}

/* The last id this step deletes: past max_rows (a run that started keeps
 * one row fewer, room for its own record) or older than max_days, at most
 * AUDIT_PRUNE_BATCH rows and never the newest. lo - 1: nothing to do. */
static int prune_target(struct audit *a, int64_t lo, int64_t hi, int64_t *ret)
{
	int64_t last = lo - 1, rows = hi - lo + 1, old;
	int r;

	if (a->cfg.max_rows > 0) {
		int64_t keep = (int64_t)a->cfg.max_rows - 1;

		if (rows > (a->running ? keep : keep + 1))
			last = hi - keep;
	}
	if (a->cfg.max_days > 0) {
		r = store_audit_old_head(a->store, a->cfg.max_days, AUDIT_PRUNE_BATCH, &old);
		if (r < 0)
			return r;
		if (old > last)
			last = old;
	}
	if (last > lo + AUDIT_PRUNE_BATCH - 1)
		last = lo + AUDIT_PRUNE_BATCH - 1;
	if (last > hi - 1)
		last = hi - 1;
	*ret = last;
	return 0;
}

/* One bounded step of retention; true if there is more to do. */
static bool prune_step(struct audit *a)
{
	int64_t lo = 0, hi = 0, last = -1;
	int r;

	if (a->cfg.max_rows == 0 && a->cfg.max_days == 0)
		return false;
	r = store_audit_span(a->store, &lo, &hi);
	if (r == 0)
		r = prune_target(a, lo, hi, &last);
	if (r < 0 || last < lo) {
		if (r < 0 && r != -ENOENT)
			log_error_errno("audit", r, "retention: cannot read the table, ignoring");
		if (a->running)
			prune_record(a);
		return false;
	}
	r = store_audit_prune(a->store, last);
	if (r < 0) {
		log_error_errno("audit", r, "retention: cannot delete rows, ignoring");
		return false;
	}
	if (!a->running) {
		a->running = true;
		a->run_deleted = a->run_steps = 0;
		a->run_first = lo;
	}
	a->run_deleted += r;
	a->run_last = last;
	a->run_steps++;
	stats.audit_rows_pruned += (uint64_t)r;
	return true;
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	STATS_CALLBACK("audit");
	struct audit *a = w->data;

	windows_expire(a, false);
	w->repeat = prune_step(a) ? AUDIT_PRUNE_STEP_S : AUDIT_TICK_S;
	ev_timer_again(loop, w);
}

int audit_new(struct ev_loop *loop, struct store *store, const struct audit_config *cfg,
	      struct audit **ret)
{
	struct audit *a;

	assert(loop);
	assert(store);
	assert(cfg);
	assert(ret);
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->loop = loop;
	a->store = store;
	a->cfg = *cfg;
	ev_init(&a->timer, timer_cb);
	a->timer.data = a;
	a->timer.repeat = AUDIT_PRUNE_STEP_S; /* a first step soon after the start */
	ev_timer_again(loop, &a->timer);
	*ret = a;
	return 0;
}

void audit_set_config(struct audit *a, const struct audit_config *cfg)
{
	assert(a);
	assert(cfg);
	a->cfg = *cfg;
}

struct audit *audit_free(struct audit *a)
{
	if (!a)
		return NULL;
	ev_timer_stop(a->loop, &a->timer);
	windows_expire(a, true);
	if (a->running)
		prune_record(a);
	free(a);
	return NULL;
}
