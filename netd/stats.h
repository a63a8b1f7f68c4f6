/*
 * stats.h: what the daemon counts about itself, reported by GetStatus.
 * One instance per process (the daemon has one loop); pure arithmetic,
 * no I/O.
 */
#ifndef NETD_STATS_H
#define NETD_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* Latency histogram: 8 linear sub-buckets per power of two of
 * microseconds, so a percentile is exact to within 1/8 (12.5 %). */
#define STATS_HIST_SUB 8
#define STATS_HIST_BUCKETS (64 * STATS_HIST_SUB)

struct stats {
	uint64_t requests;          /* calls decoded and dispatched */
	uint64_t errors;            /* calls answered with an error */
	uint64_t protocol_errors;   /* messages that were not a call at all */
	uint64_t clients_accepted;
	uint64_t clients_refused;   /* over max_clients */
	uint64_t clients_dropped;   /* output buffer overflow or oversize message */
	uint64_t config_reloads;
	uint64_t config_reload_errors;

	uint64_t latency_count;
	uint64_t latency_max_us;
	uint64_t latency_hist[STATS_HIST_BUCKETS];

	uint64_t callbacks;
	uint64_t longest_callback_us;
	const char *longest_callback; /* static name of that callback */

	uint64_t iterations;
	uint64_t longest_iteration_us; /* from the poll's return to the next poll */
	uint64_t iteration_start;      /* µs, of the running iteration */
};

extern struct stats stats;

/* Record one request's latency (from decoded to final reply queued). */
void stats_latency_add(uint64_t usec);

/* The p-th percentile (0 < p <= 100) of recorded latencies, in µs;
 * 0 when nothing was recorded. */
uint64_t stats_latency_percentile(double p);

/* Each loop iteration has a budget of time for work that can be split
 * (reading calls, settling batches): a client waiting for an answer waits
 * at most for the iteration in progress, so a long one is its latency.
 * Work that can be split does at least one piece, then stops at the
 * budget and continues in the next iteration. */
#define STATS_ITERATION_BUDGET_US 1000

/* The loop calls these right after poll returns and right before it
 * polls again. */
void stats_iteration_begin(void);
void stats_iteration_end(void);

/* True once the running iteration has used its budget. */
static inline bool stats_budget_spent(void)
{
	return now_usec() - stats.iteration_start >= STATS_ITERATION_BUDGET_US;
}

/* Time one loop callback: put STATS_CALLBACK("name") first in every
 * watcher callback; the longest one seen is kept with its name. */
struct stats_cb {
	const char *name;
	uint64_t start;
};

static inline struct stats_cb stats_cb_begin(const char *name)
{
	return (struct stats_cb){ .name = name, .start = now_usec() };
}

void stats_cb_end(struct stats_cb *cb);

#define STATS_CALLBACK(name) \
	_cleanup_(stats_cb_end) _unused_ struct stats_cb _stats_cb = stats_cb_begin(name)

#endif
