/*
 * audit.h: the two things netd does to its audit trail besides appending
 * the rows of calls (api.c): refused calls of unprivileged peers, written
 * without their parameters and rate-limited per uid into counted summary
 * rows, and the retention policy (audit_max_rows, audit_max_days), pruned
 * by netd in small steps on a timer, each pruning recorded as a row.
 */
#ifndef NETD_AUDIT_H
#define NETD_AUDIT_H

#include <ev.h>
#include <stdint.h>

struct audit;
struct store;
struct store_peer;

struct audit_config {
	unsigned refusal_burst;       /* rows per uid per interval */
	unsigned refusal_interval_ms;
	uint64_t max_rows;            /* 0: no limit */
	unsigned max_days;            /* 0: no limit */
};

/* Start the retention timer on loop. -ENOMEM on failure. */
int audit_new(struct ev_loop *loop, struct store *store, const struct audit_config *cfg,
	      struct audit **ret);

/* New settings (SIGHUP). */
void audit_set_config(struct audit *a, const struct audit_config *cfg);

/*
 * A call of peer was refused with error before anything was done (e.g.
 * io.netd.PermissionDenied): one row with method, uid, gid, pid and the
 * error but never the parameters, or, past refusal_burst rows of this uid
 * in the interval, only counted for the uid's summary row.
 */
void audit_refusal(struct audit *a, const struct store_peer *peer, const char *method,
		   const char *error);

/* Write the summaries still counted, stop the timer. Accepts NULL;
 * returns NULL. The store must still be open. */
struct audit *audit_free(struct audit *a);

#endif
