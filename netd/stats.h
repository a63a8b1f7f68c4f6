/*
 * stats.h: what the daemon counts about itself, reported by GetStatus.
 * One instance per process (the daemon has one loop); pure arithmetic,
 * no I/O. Counters only: the iteration's time budget is budget.h's.
 */
#ifndef NETD_STATS_H
#define NETD_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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
	uint64_t clients_refused_uid;      /* of clients_refused: max_clients_per_uid */
	uint64_t clients_refused_reserved; /* of clients_refused: reserved_clients */
	uint64_t clients_dropped_input;    /* of clients_dropped: max_input_total */
	uint64_t clients_idle_closed;      /* client_idle_timeout_ms */
	uint64_t refusals_audited;         /* refused calls written to the audit */
	uint64_t refusals_suppressed;      /* refused calls only counted in a summary row */
	uint64_t audit_rows_pruned;        /* audit retention */
	uint64_t config_reloads;
	uint64_t config_reload_errors;

	uint64_t latency_count;
	uint64_t latency_max_us;
	uint64_t latency_hist[STATS_HIST_BUCKETS];

	uint64_t callbacks;
	uint64_t longest_callback_us;
	const char *longest_callback; /* static name of that callback */
	/* The same by the CPU time netd's thread spent in it: what netd did,
	 * without the time other processes had the CPU meanwhile. */
	uint64_t longest_callback_cpu_us;
	const char *longest_callback_cpu;

	uint64_t iterations;
	uint64_t longest_iteration_us; /* from the poll's return to the next poll */
};

extern struct stats stats;

/* Record one request's latency (from decoded to final reply queued). */
void stats_latency_add(uint64_t usec);

/* The p-th percentile (0 < p <= 100) of recorded latencies, in µs;
 * 0 when nothing was recorded. */
uint64_t stats_latency_percentile(double p);

/* Record one loop iteration that took usec, from the poll's return to the
 * next poll (budget.c measures them). */
void stats_iteration_add(uint64_t usec);

/* The CPU time of the calling thread, in microseconds. */
static inline uint64_t stats_cpu_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Time one loop callback: put STATS_CALLBACK("name") first in every
 * watcher callback; the longest one seen is kept with its name, by wall
 * clock and by CPU time. */
struct stats_cb {
	const char *name;
	uint64_t start;
	uint64_t cpu_start;
};

static inline struct stats_cb stats_cb_begin(const char *name)
{
	return (struct stats_cb){ .name = name, .start = now_usec(), .cpu_start = stats_cpu_usec() };
}

void stats_cb_end(struct stats_cb *cb);

#define STATS_CALLBACK(name) \
	_cleanup_(stats_cb_end) _unused_ struct stats_cb _stats_cb = stats_cb_begin(name)

#endif
