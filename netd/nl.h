/*
 * nl.h: netd's rtnetlink, the only module that includes libmnl.
 *
 * Two sockets: one for requests (creates, group changes, deletions)
 * whose acks are matched back to their request by sequence number, and one
 * subscribed to link events. Dumps are read by a process of their own. Requests are queued and sent in batches (many
 * messages per sendmsg) by nl_flush(), which the loop calls once per
 * iteration after the database commit, so every kernel change follows the
 * intent recorded for it. The loop never waits on the kernel: acks, echoes,
 * dumps and events all arrive as read events.
 */
#ifndef NETD_NL_H
#define NETD_NL_H

#include <ev.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

struct nl;

#define NL_MAC_LEN 6
/* Room for the aliases netd reads: "netd:" and an owner (VALID_OWNER_MAX);
 * a longer alias is not netd's and reads as "". */
#define NL_ALIAS_MAX 80

/* A link as the kernel describes it (RTM_NEWLINK / RTM_DELLINK). */
struct nl_link {
	int ifindex;
	char name[IFNAMSIZ];
	char kind[16];        /* IFLA_INFO_KIND, "" if none */
	int parent_ifindex;   /* IFLA_LINK, 0 if none */
	uint8_t mac[NL_MAC_LEN];
	bool has_mac;
	uint32_t group;
	uint32_t macvlan_mode; /* IFLA_MACVLAN_MODE (MACVLAN_MODE_*), 0 if none */
	char alias[NL_ALIAS_MAX]; /* IFLA_IFALIAS, "" if none or too long */
	uint32_t flags;       /* ifi_flags (IFF_UP, ...) */
	uint32_t mtu;         /* IFLA_MTU, 0 if none */
};

/* What a set changes of one link: each part only if its set_ flag is. */
struct nl_link_change {
	bool set_up, up;      /* IFF_UP on or off */
	bool set_mtu;
	uint32_t mtu;
	bool set_mac;
	uint8_t mac[NL_MAC_LEN];
};

struct nl_callbacks {
	/* A link appeared or changed (added true) or went away. */
	void (*link_event)(void *userdata, bool added, const struct nl_link *l);
	/* Link events were lost (ENOBUFS): the picture must be rebuilt with
	 * nl_dump_links(). */
	void (*events_lost)(void *userdata);
	/* One link of a dump started by nl_dump_links(). */
	void (*dump_link)(void *userdata, const struct nl_link *l);
	/* The dump is complete (0), was interrupted by concurrent changes
	 * (-EINTR: dump again), or failed (-errno). */
	void (*dump_done)(void *userdata, int error);
};

/* Completion of one request: error 0 or -errno from the kernel's ack, with
 * the kernel's extended ack message if it gave one (else NULL). For a
 * create, echo is the created link (NLM_F_ECHO) when the kernel sent it,
 * else NULL. -ENOBUFS: the ack was lost (the request socket overflowed, or
 * the sender process died holding it): the kernel may or may not have
 * done it; events_lost() follows, and the dump it starts tells. */
typedef void (*nl_done_fn)(void *data, int error, const char *message,
			   const struct nl_link *echo);

struct nl_stats {
	uint64_t messages_sent;  /* requests, each one kernel operation */
	uint64_t batches_sent;   /* sendmsg calls carrying them */
	uint64_t events;         /* link events received */
	uint64_t dumps;
	unsigned in_flight;
	unsigned queued;
	int event_rcvbuf;        /* SO_RCVBUF of the event socket, as read back */
	uint64_t acks_lost;      /* times the acks in flight were lost (overflow, dead sender) */
	uint64_t sender_restarts; /* sender processes started again after one died */
	uint64_t dumper_restarts; /* link dump processes started again after one died */
};

/*
 * Open both sockets and start watching them. event_rcvbuf (bytes, 0 for
 * the default) is forced with SO_RCVBUFFORCE where permitted. hold_fd, if
 * above 2, is kept open by the sender process for as long as it lives:
 * netd passes its lock, so that the next netd cannot start while a batch
 * a killed netd handed to the kernel is still being carried out (the
 * kernel finishes a sendmsg() even for a process killed meanwhile).
 * Logs and returns -errno on failure.
 */
int nl_new(struct ev_loop *loop, const struct nl_callbacks *cb, void *userdata,
	   int event_rcvbuf, int hold_fd, struct nl **ret);

/* Set the request socket's receive buffer (bytes). The default (8 MiB)
 * holds every ack in flight; a smaller one is for tests that make the
 * acks overflow (netd.conf's test-only netlink_request_rcvbuf). */
void nl_set_request_rcvbuf(struct nl *nl, int size);

/* Close both sockets. Requests still queued or in flight get no
 * completion. Accepts NULL; returns NULL. */
struct nl *nl_free(struct nl *nl);

/* Queue an RTM_NEWLINK creating a macvtap or macvlan link (CREATE|EXCL,
 * ECHO) on parent_ifindex with the given mode and, if mac is not NULL, MAC
 * address; up: IFF_UP in the same request (the kernel opens the device as
 * it registers it, also on a parent that is down). -ENOMEM or -EINVAL
 * (bad name or kind). */
int nl_queue_create(struct nl *nl, const char *name, const char *kind,
		    int parent_ifindex, uint32_t macvlan_mode, const uint8_t *mac,
		    bool up, nl_done_fn done, void *data);

/* Queue an RTM_NEWLINK changing ifindex as c says (IFF_UP through
 * ifi_flags/ifi_change, IFLA_MTU, IFLA_ADDRESS). The kernel applies the
 * parts one after the other: a refusal may leave the earlier ones done.
 * -ENOMEM, or -EINVAL (bad ifindex, or nothing to change). */
int nl_queue_set_link(struct nl *nl, int ifindex, const struct nl_link_change *c,
		      nl_done_fn done, void *data);

/* Queue an RTM_NEWLINK setting ifindex's IFLA_IFALIAS. The kernel ignores
 * the alias in a create (rtnl_create_link does not apply it), so it is set
 * by ifindex once the create is acked: never on a device of the same name
 * that someone else made. -ENOMEM or -EINVAL (alias of NL_ALIAS_MAX bytes
 * or more). */
int nl_queue_set_alias(struct nl *nl, int ifindex, const char *alias, nl_done_fn done,
		       void *data);

/* Queue an RTM_NEWLINK moving ifindex into group. */
int nl_queue_set_group(struct nl *nl, int ifindex, uint32_t group, nl_done_fn done,
		       void *data);

/* Queue one RTM_DELLINK deleting every link in group: the kernel
 * unregisters them together, paying its synchronisation cost once. */
int nl_queue_delete_group(struct nl *nl, uint32_t group, nl_done_fn done, void *data);

/* Drop the completions of every request queued or in flight whose data
 * is data: its object is being freed. Queued ones are not sent; ones in
 * flight are still answered by the kernel, but nobody is told. */
void nl_cancel(struct nl *nl, void *data);

/* Send queued requests, in order, several per sendmsg, keeping at most a
 * bounded number in flight. */
void nl_flush(struct nl *nl);

/* Start a dump of all links (results through the callbacks). -EBUSY if
 * one is already running. Link events are not read until it is over. */
int nl_dump_links(struct nl *nl);

/* True while nothing is queued, in flight or being dumped. */
bool nl_idle(const struct nl *nl);

void nl_get_stats(const struct nl *nl, struct nl_stats *ret);

/*
 * The kernel as the links see it: everything they ask of it goes through
 * one of these, so a unit test can stand in for the kernel. The real one
 * is nl_rtnetlink_ops (the functions above); its completions and the
 * struct nl_callbacks are how answers come back, in either case.
 */
struct nl_ops {
	int (*queue_create)(struct nl *nl, const char *name, const char *kind,
			    int parent_ifindex, uint32_t macvlan_mode, const uint8_t *mac,
			    bool up, nl_done_fn done, void *data);
	int (*queue_set_link)(struct nl *nl, int ifindex, const struct nl_link_change *c,
			      nl_done_fn done, void *data);
	int (*queue_set_alias)(struct nl *nl, int ifindex, const char *alias, nl_done_fn done,
			       void *data);
	int (*queue_set_group)(struct nl *nl, int ifindex, uint32_t group, nl_done_fn done,
			       void *data);
	int (*queue_delete_group)(struct nl *nl, uint32_t group, nl_done_fn done, void *data);
	void (*cancel)(struct nl *nl, void *data);
	void (*flush)(struct nl *nl);
	int (*dump_links)(struct nl *nl);
	bool (*idle)(const struct nl *nl);
	void (*get_stats)(const struct nl *nl, struct nl_stats *ret);
	struct nl *(*free)(struct nl *nl);
};

extern const struct nl_ops nl_rtnetlink_ops;

/* "bridge", "vepa", "private", "passthru" <-> MACVLAN_MODE_*; -EINVAL /
 * NULL for anything else. */
int nl_macvlan_mode_from_string(const char *s, uint32_t *ret);
const char *nl_macvlan_mode_to_string(uint32_t mode);

#endif
