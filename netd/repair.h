/*
 * repair.h: the store's rows made to say what memory says again after a
 * failed transaction, without a restart.
 *
 * A failed transaction (a full disk, an I/O error) rolls back the calls'
 * intents, which their modules undo in memory, but also the rows written
 * as side effects of what had already happened in the kernel: a link made
 * present or vanished, a binding applied. After a failure the links' and
 * filters' rows are rewritten from memory: with the next transaction that
 * writes anyway, or when a timer says so (1 s after the failure, doubling
 * up to 30 s while it keeps failing).
 */
#ifndef NETD_REPAIR_H
#define NETD_REPAIR_H

#include <ev.h>
#include <stdbool.h>

struct filters;
struct links;
struct store;

struct repair {
	struct ev_loop *loop;
	struct store *store;
	struct links *links;
	struct filters *filters;
	ev_timer timer;
	bool dirty;      /* rows may differ from memory */
	bool due;        /* the timer fired: rewrite even without other writes */
	bool attempted;  /* rewritten in the transaction being committed */
	double backoff;  /* seconds until the next timed attempt */
};

/* Ready r (nothing to repair); loop, store, links and filters outlive it. */
void repair_init(struct repair *r, struct ev_loop *loop, struct store *store,
		 struct links *links, struct filters *filters);

/* Right before the iteration's commit: the rewrite, if one is wanted and
 * the transaction writes anyway or the timer fired. */
void repair_before_commit(struct repair *r);

/* The commit succeeded (ok) or failed and was rolled back. */
void repair_committed(struct repair *r, bool ok);

/* Stop the timer. Safe on a zeroed r. */
void repair_stop(struct repair *r);

#endif
