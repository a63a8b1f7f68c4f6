/*
 * stats.c: see stats.h.
 */
#include "config.h"

#include <assert.h>
#include "stats.h"

struct stats stats;

/* Bucket of v: values below STATS_HIST_SUB map to themselves; above, the
 * top set bit picks the power of two and the next three bits the linear
 * sub-bucket inside it. */
static unsigned bucket_of(uint64_t v)
{
	unsigned msb, sub;

	if (v < STATS_HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	sub = (unsigned)(v >> (msb - 3)) & (STATS_HIST_SUB - 1);
	return (msb - 2) * STATS_HIST_SUB + sub;
}

/* Largest value that falls in bucket b (an upper bound, so reported
 * percentiles never understate). */
static uint64_t bucket_top(unsigned b)
{
	unsigned msb, sub;

	if (b < STATS_HIST_SUB)
		return b;
	msb = b / STATS_HIST_SUB + 2;
	sub = b % STATS_HIST_SUB;
	return ((uint64_t)(STATS_HIST_SUB + sub + 1) << (msb - 3)) - 1;
}

void stats_latency_add(uint64_t usec)
{
	stats.latency_hist[bucket_of(usec)]++;
	stats.latency_count++;
	if (usec > stats.latency_max_us)
		stats.latency_max_us = usec;
}

uint64_t stats_latency_percentile(double p)
{
	uint64_t rank, seen = 0;

	assert(p > 0 && p <= 100);
	if (stats.latency_count == 0)
		return 0;
	rank = (uint64_t)((p / 100.0) * (double)stats.latency_count);
	if (rank == 0)
		rank = 1;
	for (unsigned b = 0; b < STATS_HIST_BUCKETS; b++) {
		seen += stats.latency_hist[b];
		if (seen >= rank) {
			uint64_t top = bucket_top(b);
			return top < stats.latency_max_us ? top : stats.latency_max_us;
		}
	}
	return stats.latency_max_us;
}

void stats_cb_end(struct stats_cb *cb)
{
	uint64_t d = now_usec() - cb->start, cpu;

	assert(cb);
	stats.callbacks++;
	if (d > stats.longest_callback_us) {
		stats.longest_callback_us = d;
		stats.longest_callback = cb->name;
	}
	/* A thread's CPU time is a system call (the wall clock is not): a
	 * callback can use no more CPU than the time it took, so only one
	 * that took longer than the longest's CPU time needs it read. */
	if (d <= stats.longest_callback_cpu_us)
		return;
	cpu = stats_cpu_usec() - cb->cpu_start;
	if (cpu > stats.longest_callback_cpu_us) {
		stats.longest_callback_cpu_us = cpu;
		stats.longest_callback_cpu = cb->name;
	}
}

void stats_iteration_add(uint64_t usec)
{
	stats.iterations++;
	if (usec > stats.longest_iteration_us)
		stats.longest_iteration_us = usec;
}
