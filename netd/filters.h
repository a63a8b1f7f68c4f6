/*
 * filters.h: packet filter bindings (port + filter + parameters + owner):
 * rendered by rules/, applied in batches by *tables-restore runs (one per
 * family per batch), fingerprinted with *tables-save so that a restart or
 * Resync skips what is intact and repairs what was changed behind netd's
 * back.
 */
#ifndef NETD_FILTERS_H
#define NETD_FILTERS_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>

struct ctl_call;
struct filters;
struct links;
struct store;

struct filters_config {
	const char *filter_dir;      /* custom filter files (*.json) */
	unsigned helper_timeout_ms;  /* a restore or save run that takes longer is killed */
};

/*
 * Load the filter definitions and the bindings, and start verifying them
 * against the kernel (one *-save per family). Until filters_ready() the
 * verification runs; the daemon serves meanwhile. Logs and returns -errno
 * on failure.
 */
int filters_new(struct ev_loop *loop, struct store *store, struct links *links,
		const struct filters_config *cfg, struct filters **ret);
struct filters *filters_free(struct filters *f);

/* Start the batch of this loop iteration, if anything changed (called
 * after the store committed). more_coming: calls of a pipelined burst are
 * still being read; the batch then waits for them (up to a few tens of
 * milliseconds) so that the burst goes to the kernel as one run per
 * family. */
void filters_flush(struct filters *f, bool more_coming);

/* Nothing running and nothing waiting to run. */
bool filters_idle(const struct filters *f);

/* Re-read the custom filter directory (SIGHUP); bindings whose rendering
 * changed are re-applied, the others are not touched. */
void filters_reload(struct filters *f, const char *filter_dir);

void filters_status(const struct filters *f, json_t *reply);

/* For links: is a filter bound to this port (its name stays reserved
 * until the rules are gone)? And: the port is gone from the kernel. */
bool filters_port_bound(void *userdata, const char *port);
void filters_port_gone(void *userdata, const char *port);

/* The io.netd methods. */
void filters_bind(struct filters *f, struct ctl_call *call, json_t *params);
void filters_unbind(struct filters *f, struct ctl_call *call, json_t *params);
void filters_get_binding(struct filters *f, struct ctl_call *call, json_t *params);
void filters_list_bindings(struct filters *f, struct ctl_call *call, json_t *params);
void filters_list_filters(struct filters *f, struct ctl_call *call, json_t *params);
void filters_get_filter(struct filters *f, struct ctl_call *call, json_t *params);
void filters_resync(struct filters *f, struct ctl_call *call, json_t *params);

#endif
