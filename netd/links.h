/*
 * links.h: the macvtap/macvlan links netd makes for its clients: names from
 * the per-prefix bitmaps, ownership, the crash-safe intent rows, the batched
 * kernel requests, and the picture of the kernel's links that events and
 * dumps keep current, so lookups never ask the kernel.
 *
 * The code is in netd/links/ (see links-internal.h there for which file
 * owns what); this is its only header for the rest of netd.
 */
#ifndef NETD_LINKS_H
#define NETD_LINKS_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct ctl_call;
struct links;
struct store;

struct links_config {
	const char *macvtap_prefix;
	const char *macvlan_prefix;
	uint32_t delete_group;  /* IFLA_GROUP that netd uses to delete in bulk */
	int event_rcvbuf;       /* bytes, for the link event socket */
	int request_rcvbuf;     /* test only: bytes for the request socket, 0: nl's default */
	int hold_fd;            /* kept by the netlink sender while it lives (see nl_new()); 0: none */
	/* Where CreateLinks (fds) makes its private tap nodes (tap.c): a
	 * directory that nobody but netd or root can write, on a file system
	 * that allows devices; NULL: none, only /dev/tapN is tried. */
	const char *tap_dir;
};

/*
 * Load the links and names from the store, open netlink, and start the
 * first dump of the kernel's links. Until links_ready() the picture is not
 * reconciled; the daemon runs the loop until then before it serves.
 * Logs and returns -errno on failure.
 */
int links_new(struct ev_loop *loop, struct store *store, const struct links_config *cfg,
	      struct links **ret);
struct links *links_free(struct links *l);

/* The first reconciliation with the kernel is done (successfully or not:
 * see links_start_error()). */
bool links_ready(const struct links *l);
int links_start_error(const struct links *l);

/* Send the kernel requests queued in this loop iteration (after the store
 * committed the intents behind them). */
void links_flush(struct links *l);

/*
 * The store's transaction number txn failed and was rolled back (see
 * store_commit()): undo what the calls wrote in it. Creates and deletes
 * whose intent rows were in it lose those links' kernel requests (never
 * sent: requests leave only after their commit), a create's links are
 * released (a create already partly made is rolled back as after any
 * failure), a delete's links are present again; those calls are answered
 * io.netd.StorageError with reason.
 */
void links_storage_failed(struct links *l, uint64_t txn, const char *reason);

/* Write the links and names rows again from memory, in the running
 * transaction, and remove the rows memory no longer has: after a failed
 * transaction took rows written as side effects with it (a link made
 * present, one that vanished, a name found foreign). */
void links_rewrite_rows(struct links *l);

/* True while no kernel request is queued or in flight and no
 * reconciliation with the kernel is under way. */
bool links_idle(const struct links *l);

/* End every Monitor call (on shutdown). */
void links_stop_monitors(struct links *l);

/* netd stops with calls still waiting on the kernel (the stop's timeout
 * ran out): each (ops, sets, lists, monitors) is answered
 * io.netd.ShuttingDown, while the server can take the answers. An op's
 * rows keep its call: the next start settles it as after a crash. */
void links_stop_calls(struct links *l);

/* Add the link counters to a GetStatus reply. */
void links_status(const struct links *l, json_t *reply);

/* The io.netd methods. Each validates its parameters (answering
 * InvalidParameter naming the field) and answers the call, at once or
 * when the kernel has. params is the call's parameters object. */
void links_create(struct links *l, struct ctl_call *call, json_t *params);
void links_delete(struct links *l, struct ctl_call *call, json_t *params);
void links_set(struct links *l, struct ctl_call *call, json_t *params);
void links_get(struct links *l, struct ctl_call *call, json_t *params);
void links_list(struct links *l, struct ctl_call *call, json_t *params);
void links_monitor(struct links *l, struct ctl_call *call, json_t *params);

/* A device of the kernel's, from netd's picture (no kernel round trip). */
struct links_port {
	int ifindex;
	char kind[16];       /* "" for devices without a kind */
	uint8_t mac[6];
	bool has_mac;
};

/* -ENODEV if there is no device of that name. */
int links_port_lookup(struct links *l, const char *name, struct links_port *ret);

/* The filters' view of ports: bound() says whether rules hang on a port
 * (a link of netd's keeps its name reserved until they are gone); gone()
 * is told when a device disappears from the kernel. */
void links_set_port_hooks(struct links *l, bool (*bound)(void *data, const char *port),
			  void (*gone)(void *data, const char *port), void *data);

/* The rules on port are gone: a name held back for them is free now. */
void links_port_unbound(struct links *l, const char *port);

/* At start, once the filters are loaded: free the held names that no
 * rules hang on any more. */
void links_release_unheld(struct links *l);

#endif
