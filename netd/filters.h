/*
 * filters.h: packet filter bindings (port + filter + parameters + owner):
 * rendered by rules/, applied in batches by *tables-restore runs (one per
 * family per batch), fingerprinted with *tables-save so that a restart or
 * Resync skips what is intact and repairs what was changed behind netd's
 * back. The code is in netd/filters/ (see filters-internal.h there).
 */
#ifndef NETD_FILTERS_H
#define NETD_FILTERS_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>

struct ctl_call;
struct filters;
struct job_ops;
struct links;
struct nft_ops;
struct store;

struct filters_config {
	const char *filter_dir;      /* custom filter files (*.json) */
	unsigned helper_timeout_ms;  /* a restore or save run that takes longer is killed */
	const struct job_ops *job_ops; /* how helpers run; NULL: real processes (tests fake them) */
	const struct nft_ops *nft_ops; /* nf_tables queries; NULL: netlink (tests fake them) */
};

/*
 * Load the filter definitions and the bindings, then start them
 * (filters_load() and filters_start()). Unless the nf_tables
 * generation shows the kernel untouched since netd's checkpoint, the first
 * filters_flush() starts verifying them against the kernel (one *-save per
 * family); the daemon serves meanwhile, and GetStatus says
 * filters_verified once it is done. Logs and returns -errno on failure.
 */
int filters_new(struct ev_loop *loop, struct store *store, struct links *links,
		const struct filters_config *cfg, struct filters **ret);
/* The first half: the definitions and the bindings read from the store,
 * nothing asked of the links (their picture of the kernel may still be
 * coming: a start loads the bindings while the link dump runs). */
int filters_load(struct ev_loop *loop, struct store *store, struct links *links,
		 const struct filters_config *cfg, struct filters **ret);
/* The second half, once the links are ready: bindings whose ports went
 * while netd was down are to be removed, learning ports are watched
 * again, the checkpoint is looked at. Logs and returns -errno on failure
 * (the caller frees f). */
int filters_start(struct filters *f);
/* Cancel a running batch (its helpers are killed, their results never
 * looked at), tell the calls waiting on a binding that it is gone (a
 * waiting Resync is not answered), free everything. Accepts NULL;
 * returns NULL. */
struct filters *filters_free(struct filters *f);

/* Start the next batch, if none runs and anything changed (called once
 * per loop iteration, after the store committed). While more_coming
 * (calls of a pipelined burst are still being read: ctl_server_more_coming())
 * or while bindings keep arriving, the batch waits for them, with a 1 ms
 * timer waking the loop to look again, so that the burst goes to the
 * kernel as one run per family: at most 250 ms from its first deferral
 * while only new bindings keep it waiting, 2 s while more_coming. */
void filters_flush(struct filters *f, bool more_coming);

/* The store's transaction txn failed and was rolled back: the bindings
 * that bind and unbind calls changed in it are as they were before, and
 * those calls are answered io.netd.StorageError with reason. Nothing of
 * theirs has reached the kernel: batches start only after a commit. */
void filters_storage_failed(struct filters *f, uint64_t txn, const char *reason);

/* Write the binding, dispatch-chain and checkpoint rows again from memory,
 * in the running transaction, and remove the binding rows memory no
 * longer has: after a failed transaction took rows written as side
 * effects with it (a binding applied or failed by a batch, its removal). */
void filters_rewrite_rows(struct filters *f);

/* Nothing running and nothing waiting to run. */
bool filters_idle(const struct filters *f);

/* The start-up reconciliation is through: the bindings were verified
 * against the kernel (or the nf_tables generation showed them intact), and
 * what that found missing or changed has been tried (applied, or failed
 * and waiting out its back-off). The daemon reports itself ready then. */
bool filters_started(const struct filters *f);

/* Re-read the custom filter directory (SIGHUP); bindings whose rendering
 * changed are re-applied, the others are not touched. Returns what it did
 * for the audit (a new reference, NULL without memory): {custom_filters,
 * filter_errors, errors: [the files' messages], bindings_changed, kept}. */
json_t *filters_reload(struct filters *f, const char *filter_dir);

/* Add the filter counters to a GetStatus reply. */
void filters_status(const struct filters *f, json_t *reply);

/* For links: is a filter bound to this port (its name stays reserved
 * until the rules are gone)? And: the port is gone from the kernel. */
bool filters_port_bound(void *userdata, const char *port);
void filters_port_gone(void *userdata, const char *port);

/* The io.netd methods (netd/filters/methods.c). Each decodes and checks
 * its parameters (answering InvalidParameter naming the field) and answers
 * the call at once, or when the batch that carries it is through. */
void filters_bind(struct filters *f, struct ctl_call *call, json_t *params);
void filters_unbind(struct filters *f, struct ctl_call *call, json_t *params);
void filters_get_binding(struct filters *f, struct ctl_call *call, json_t *params);
void filters_list_bindings(struct filters *f, struct ctl_call *call, json_t *params);
void filters_list_filters(struct filters *f, struct ctl_call *call, json_t *params);
void filters_get_filter(struct filters *f, struct ctl_call *call, json_t *params);
void filters_resync(struct filters *f, struct ctl_call *call, json_t *params);

/* DefineFilter (define.c): write an admin's filter definition (JSON or
 * libvirt's XML) into filter_dir, load the directory again and render
 * every binding again; the reply says how many changed. A definition that
 * does not load changes nothing (io.netd.InvalidFilter). */
void filters_define(struct filters *f, struct ctl_call *call, json_t *params);

#endif
