/*
 * links-internal.h: what the files of netd/links/ share, and nothing the
 * rest of netd may use (its header is links.h).
 *
 *  model.c      the picture: the kernel's devices, netd's links, owners,
 *               foreign and held names, the bitmaps, and their store rows
 *  engine.c     ops: intents, steps per iteration, acks, EEXIST retries,
 *               ownership tags, group deletion, rollback
 *  set.c        changes of up/down, MTU and MAC, set back on failure
 *  settle.c     requests whose acks were lost, settled from a dump
 *  reconcile.c  start-up load from the store, dumps, link events,
 *               reconciliation with the kernel, in steps
 *  unanswered.c what a reconciliation does with the calls a stop left
 *               unanswered (rollback of creates, deletes resolved)
 *  links.c      creation and destruction of struct links, the kernel seam
 *  methods.c    the varlink side: parameters in, replies and events out
 *               (the only file that knows ctl and JSON requests)
 *
 * The domain files take typed requests and report through typed results
 * (struct links_op_result, links_notify()), so they can be driven by a
 * unit test with a fake kernel (struct nl_ops) and no socket.
 */
#ifndef NETD_LINKS_INTERNAL_H
#define NETD_LINKS_INTERNAL_H

#include <ev.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "links.h"
#include "nl.h"
#include "step.h"
#include "strbuf.h"

struct alloc;
struct store;

/* Links prepared or queued per loop iteration, all calls together, in
 * pieces of LINKS_PIECE; no piece starts once the iteration's work on
 * them has taken LINKS_STEP_US (wall clock): on a slow machine, or in a
 * sanitizer build, 128 links took 224 ms of CPU where they take 8 ms. A
 * call does its first piece itself. */
#define LINKS_STEP 128
#define LINKS_PIECE 16
#define LINKS_STEP_US 5000
/* The bit that marks a DeleteLinks call's id on its intent rows (a
 * create's ids stay below it): a start tells the unanswered calls of the
 * two kinds apart by it (db/006's links.op). */
#define LINKS_OP_DELETE (UINT64_C(1) << 48)
/* Links, devices or names the reconciliation after a dump handles per
 * piece; a step does pieces until its slice of the iteration is spent
 * (one piece at least, and one only during start-up). */
#define RECONCILE_CHUNK 256
/* Tries per link when someone else keeps taking the name we chose. */
#define LINKS_EEXIST_RETRIES 16
#define LINKS_MAX_COUNT 4096

enum link_state {
	LINK_CREATING,
	LINK_PRESENT,
	LINK_DELETING,
};

/* "creating", "present", "deleting": the store's and the replies' words. */
const char *link_state_to_string(enum link_state s);
/* Why k cannot join another call, as the state a LinkBusy names; NULL if
 * it can. A link is busy until the call creating, deleting or setting it
 * is answered, not only until the kernel's ack: that call still holds it
 * (its tag and reply to come, k->op; a set's k->setting), and another
 * taking it would leave the first waiting for ever, or delete a link a
 * set may still set back. */
struct link;
const char *link_busy(const struct link *k);

struct op;

/* A request whose ack was lost (-ENOBUFS): settled by the next dump. */
enum link_lost {
	LOST_NONE,
	LOST_CREATE,
	LOST_TAG,
	LOST_GROUP,
};

struct link {
	char name[IFNAMSIZ];
	char *owner;
	char kind[8];             /* "macvtap" / "macvlan" */
	uint32_t mode;
	char parent[IFNAMSIZ];
	int parent_ifindex;
	int ifindex;              /* 0 until the kernel said */
	uint8_t mac[NL_MAC_LEN];
	bool has_mac, want_mac;   /* want_mac: the caller chose it */
	enum link_state state;
	char created[32];
	struct alloc *alloc;      /* the bitmap its name is from, or NULL */
	unsigned idx;
	struct op *op;            /* the call creating or deleting it */
	uint64_t op_id;           /* the create or delete call not yet answered, 0: none */
	unsigned retries;
	unsigned nreq;            /* kernel requests carrying this link as data */
	bool regrouped;           /* moved into the delete group */
	bool gone;                /* the kernel said it no longer exists */
	uint64_t txn;             /* store transaction of its last intent row */
	enum link_lost lost;      /* its request in flight lost its ack */
	bool untagged;            /* made, its ownership tag not yet queued */
	bool row_stale;           /* made, its row not yet rewritten (rows_step) */
	bool setting;             /* a set (set.c) waits for the kernel */
	uint64_t made_dump;       /* dumps_started when the kernel made it (0: before
				   * netd started): a later dump may not show it */
	struct link *next_name;   /* its bucket's chain (model.c) */
	TAILQ_ENTRY(link) entry;
};

TAILQ_HEAD(link_list, link);

/* A device in the kernel's namespace. */
struct kdev {
	int ifindex;
	char name[IFNAMSIZ];
	char kind[16];
	uint8_t mac[NL_MAC_LEN];
	bool has_mac;
	int parent_ifindex;
	uint32_t mode;
	uint32_t group;
	char alias[NL_ALIAS_MAX]; /* "netd:<owner>" on the links netd made */
	uint32_t flags;           /* IFF_UP, ... */
	uint32_t mtu;             /* 0: not known */
	bool deleted;             /* netd deleted it; its RTM_DELLINK is yet to come */
	/* Its place in the kcache (kcache.c): the chains of its buckets, and
	 * whether it is the one found under its name (a stale device of the
	 * same name is not). */
	struct kdev *next_index, *next_name;
	bool named;
};

/* The bucket of name among nbuckets (a power of two): FNV-1a. Both of
 * links' tables by name use it (kcache.c, model.c). */
static inline unsigned links_name_slot(unsigned nbuckets, const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h & (nbuckets - 1);
}

/* All devices, by ifindex and by name (kcache.c: chained hash tables).
 * Zero-initialised: empty. */
struct kcache {
	struct kdev **by_index;
	struct kdev **by_name;
	unsigned nbuckets;        /* a power of two, or 0 */
	unsigned count;
	bool frozen;              /* a walk is under way: the tables do not grow */
};

enum op_type { OP_CREATE, OP_DELETE, OP_SET };

/* How an op ended, for whoever asked for it. Borrowed for the callback's
 * duration only. */
struct links_op_result {
	enum op_type type;
	struct links *l;
	int error;                  /* 0, or the first failure (-errno) */
	const char *error_link;     /* the link it concerns, or NULL */
	const char *error_message;  /* the kernel's text, or NULL */
	const char *storage_error;  /* the database failed: why, or NULL */
	/* Success of a create: its links, in the order made, and the reply's
	 * parameters already encoded (links_reply_encode(); the callback
	 * owns the text; NULL without memory); of a set: its links, in the
	 * order asked. */
	struct link *const *links;
	unsigned nlinks;
	char *reply_text;
	/* A delete: the names deleted (also after a partial failure). */
	const char (*deleted)[IFNAMSIZ];
	unsigned ndeleted;
};

typedef void (*links_done_fn)(void *data, const struct links_op_result *res);

/* One client call (or start-up repair) waiting for the kernel. */
struct op {
	enum op_type type;
	struct links *l;
	uint64_t id;             /* a call's id on its intent rows (LINKS_OP_DELETE
				  * set for DeleteLinks), else 0 */
	links_done_fn done;      /* NULL: nobody to answer */
	void *done_data;
	struct link **links;     /* this call's links */
	unsigned nlinks;
	unsigned pending;        /* requests not yet acked */
	unsigned nreq;           /* kernel requests carrying this op as data */
	int error;               /* first failure */
	char *error_link;
	char *error_message;
	char *storage_error;     /* its intents were rolled back: why */
	bool rolling_back;
	char (*deleted)[IFNAMSIZ]; /* names deleted, nlinks at most */
	bool lost_group_delete;  /* the group delete lost its ack */
	bool confirming;         /* the group delete is done: confirming its links */
	unsigned confirm_next;   /* the next link to confirm */
	unsigned nlost;          /* requests with lost acks, to settle from a dump */
	unsigned ndeleted;
	/* A create's reply, encoded LINKS_STEP links per iteration once every
	 * link is made and tagged (4,096 links' JSON takes tens of ms). */
	bool encoding;
	unsigned encode_next;
	bool writing_rows;        /* made links' rows written a piece a step */
	unsigned rows_next;
	struct strbuf reply;

	/* The work is spread over loop iterations, LINKS_STEP links per
	 * iteration in all, so a call for thousands of links never makes one
	 * long callback. */
	unsigned total;          /* links to prepare (create) or queue (delete) */
	unsigned intents;        /* a delete's intent rows written so far */
	unsigned stepped;        /* how many so far */
	bool all_queued;         /* every kernel request of the op is queued */
	bool on_work_list;
	TAILQ_ENTRY(op) work_entry;
	TAILQ_ENTRY(op) entry;   /* in links.ops, from op_new to op_free */

	/* What a create makes. */
	struct alloc *alloc;     /* NULL: explicit names */
	char (*names)[IFNAMSIZ]; /* explicit names, total of them, or NULL */
	uint8_t (*macs)[NL_MAC_LEN];
	char kind[8];
	uint32_t mode;
	bool up;                 /* IFF_UP in the creates */
	char parent[IFNAMSIZ];
	int parent_ifindex;
	char *owner;
};

TAILQ_HEAD(op_list, op);

/* A growable list of copied names: a tree cannot change during its walk,
 * so walks collect names and act afterwards. */
struct name_list {
	struct links *l;
	char **names;
	unsigned n, cap;
};

/*
 * The reconciliation after a full dump, done in pieces over loop
 * iterations (reconcile.c) by its phases, in this order. Between two
 * steps link events, acks and calls are handled as at any time; each
 * phase looks again at what it collected before it acts on it.
 */
enum rec_phase {
	REC_OLD,      /* the replaced picture: names gone from the new one, freed */
	REC_GONE,     /* those ports gone for the filters */
	REC_CALLS,    /* calls a stop left unanswered (unanswered.c), whole */
	REC_LINKS,    /* each link against the picture (vanished, interrupted) */
	REC_FOREIGN,  /* foreign names without a device freed */
	REC_DEVICES,  /* each device: foreign, or tagged as netd's without a link */
	REC_ADOPT,    /* those tagged devices taken back */
	REC_FINISH,   /* audit, the repair's deletions, settle lost acks, ready */
};

struct reconcile {
	struct step step;        /* runs while a reconciliation is under way */
	enum rec_phase phase;
	struct kcache old;       /* the picture the dump replaced, freed in REC_OLD */
	unsigned bucket;         /* next bucket of old (REC_OLD) or of links.kc */
	struct name_list names;  /* REC_GONE, REC_FOREIGN, REC_ADOPT: collected */
	unsigned next;           /* next of names */
	struct link *cursor;     /* REC_CALLS, REC_LINKS: the next link (link_release
				  * moves it) */
	struct op *repair;       /* deletions to finish, made on first use */
	unsigned repair_cap;     /* room in repair */
	bool first;              /* the first reconciliation since netd started */
	uint64_t dump;           /* the dump it follows (links.dumps_started) */
	/* What it did, for its audit row (not what events did meanwhile). */
	uint64_t vanished, rolled_back, adopted;
	unsigned foreign_freed, tagged;
	uint64_t steps;          /* steps taken so far (tests) */
};

struct monitor;
TAILQ_HEAD(monitor_list, monitor);
struct set_op;
TAILQ_HEAD(set_list, set_op);

struct links {
	struct ev_loop *loop;
	struct store *store;
	const struct nl_ops *nlo;  /* the kernel, through nl_ops only */
	struct nl *nl;
	struct alloc *macvtap, *macvlan;
	uint32_t delete_group;
	char *tap_dir;            /* links_config's, NULL: none */

	/* netd's links by name: a chained hash table (model.c) that doubles
	 * as it fills; a search tree of 10,000 took 1 us a lookup, and a
	 * start looks each link up several times. */
	struct link **link_buckets;
	unsigned link_nbuckets;   /* a power of two, or 0 */
	struct link_list all;
	unsigned nlinks;

	struct kcache kc;         /* the kernel's devices now */
	struct kcache dump;       /* being filled by a dump */
	struct reconcile rec;     /* after a dump (reconcile.c) */
	void *foreign;            /* names (char *) of devices of our prefixes we did not make */
	void *held;               /* names (char *) of gone links whose filter rules are not yet removed */

	bool (*port_bound)(void *data, const char *port);
	void (*port_gone)(void *data, const char *port);
	void *port_data;

	struct monitor_list monitors; /* methods.c's */
	TAILQ_HEAD(, list_job) lists; /* ListLinks being encoded (list.c) */

	struct op_list ops;       /* every op, freed at the latest by links_free */
	struct op_list work;      /* ops with links still to prepare or queue */
	struct set_list sets;     /* set.c's calls waiting for the kernel */
	ev_check work_check;      /* does a step of them after each poll */
	ev_idle work_idle;        /* keeps the poll from blocking meanwhile */

	bool ready;
	int start_error;
	uint64_t next_op_id;      /* above every op id of the loaded rows */
	unsigned loaded_rows;     /* link and name rows at start: 0, an empty database */
	bool reconciled;          /* the first reconciliation (after start) is done */
	bool empty_db_adopted;    /* an empty database met netd's tagged links */
	bool resync_wanted;       /* events lost while a dump ran */
	uint64_t dumps_started;   /* dumps started so far */
	uint64_t lost_after;      /* lost acks: settled by a dump started after this one */
	unsigned nlost_ops;       /* ops waiting for such a dump */

	/* counters for GetStatus */
	uint64_t created, deleted, vanished, foreign_seen, resyncs, eexist_retries;
	uint64_t adopted, rolled_back;
};

/* --- model.c --- */

/* netd's link of that name, or NULL. */
struct link *link_find(struct links *l, const char *name);
/* A device of the kernel's picture (or of a dump's), or NULL. */
struct kdev *kc_by_name(struct kcache *kc, const char *name);
struct kdev *kc_by_index(struct kcache *kc, int ifindex);
struct kdev *kdev_by_name(struct links *l, const char *name);
struct kdev *kdev_by_index(struct links *l, int ifindex);
/* Record what the kernel says about one device (new, changed, renamed). */
void kc_update(struct kcache *kc, const struct nl_link *nlk);
void kc_remove(struct kcache *kc, struct kdev *k);
void kc_clear(struct kcache *kc);
/* Number of devices in kc. */
unsigned kc_count(const struct kcache *kc);
/* While frozen the tables keep their size (longer chains as devices are
 * added), so that a walk can go on from a bucket index across changes. */
void kc_freeze(struct kcache *kc, bool frozen);
/* fn for each device found by its name (stale ones of a taken name left
 * out) in buckets *bucket onwards, until max devices were seen; *bucket is
 * moved past them. true once the walk reached the end. fn must not change
 * kc; between two calls kc may change, frozen: a device added or renamed
 * meanwhile may be missed or seen twice, one removed is not seen. */
bool kc_walk(const struct kcache *kc, unsigned *bucket, unsigned max,
	     void (*fn)(struct kdev *d, void *data), void *data);
/* The same, freeing each device after fn (NULL: none) saw it, and the
 * tables at the end (kc is then empty). Once begun, kc is only drained. */
bool kc_drain(struct kcache *kc, unsigned *bucket, unsigned max,
	      void (*fn)(struct kdev *d, void *data), void *data);

void mac_to_string(const uint8_t *m, char *buf, size_t n);
/* aa:bb:cc:dd:ee:ff, unicast and not all zero; -EINVAL else. */
int mac_parse(const char *s, uint8_t *ret);
/* The bitmap a name belongs to (NULL: none), and its index there. */
struct alloc *alloc_of_name(struct links *l, const char *name, unsigned *ret_idx);

/* The kernel-side tag of owner's links (IFLA_IFALIAS), "netd:<owner>". */
#define LINKS_TAG_PREFIX "netd:"
void link_tag(const char *owner, char buf[NL_ALIAS_MAX]);

/* Mirror k (and its name) in the store's transaction; failures logged. */
void store_link(struct links *l, const struct link *k);
void store_link_forget(struct links *l, const char *name);

/* A new link (no state yet) under name, or NULL (no memory). */
struct link *link_add(struct links *l, const char *name, const char *owner);
/* Change k's name (its bitmap index is the caller's business). */
void link_rename(struct links *l, struct link *k, const char *name);
/* Forget a link and free its name (or hold it for filter rules): the
 * kernel confirmed it is gone, or it never came to be. Its pending kernel
 * requests are dropped. */
void link_release(struct links *l, struct link *k);
/* Someone else removed one of our links: audit, tell monitors, release. */
void link_vanished(struct links *l, struct link *k, const char *how);
/* Free every link without touching the store (links_free). */
void links_model_free(struct links *l);

/* Foreign names: devices of our prefixes that netd did not make. */
bool is_foreign(struct links *l, const char *name);
/* Remember name (whose index is already taken) as foreign. */
void foreign_add(struct links *l, struct alloc *a, unsigned idx, const char *name);
/* Take name's index for a device we did not make; tell monitors. */
void mark_foreign(struct links *l, const char *name);
/* A foreign device is gone: its name is free. */
void unmark_foreign(struct links *l, const char *name);
/* Number of foreign names. */
unsigned foreign_count(const struct links *l);
/* Foreign and held (for filter rules) names loaded from the store, their
 * indices already taken. */
void foreign_add_loaded(struct links *l, const char *name);
void held_add(struct links *l, const char *name);

void name_list_add(struct name_list *nl, const char *name);
/* In name order (bytewise). */
void name_list_sort(struct name_list *nl);
void name_list_free(struct name_list *nl);
/* Foreign names that have no device in the kernel's picture. */
void foreign_collect_gone(struct links *l, struct name_list *ret);

/* --- engine.c --- */

/* A create with its parameters checked for form (methods.c). */
struct links_create_req {
	const char *owner;
	const char *kind;             /* "macvtap" or "macvlan" */
	uint32_t mode;                /* MACVLAN_MODE_* */
	const char *parent;
	unsigned count;               /* 1..LINKS_MAX_COUNT */
	const char *const *names;     /* count valid, distinct names, or NULL */
	const uint8_t (*macs)[NL_MAC_LEN]; /* count distinct unicast MACs, or NULL */
	bool down;                    /* leave them down (default: up at creation) */
};

/* Why a request was refused before anything changed. */
struct links_refusal {
	const char *name;   /* the link, parent or prefix concerned */
	const char *owner;  /* -EPERM: the link's owner */
	const char *state;  /* -EBUSY: the link's state */
};

/*
 * Start creating req's links; done(data, result) is called once when the
 * kernel has answered every request (maybe before this returns; never for
 * a refusal). 0, or a refusal with nothing changed and *refusal filled:
 * -ENODEV (no such parent), -EEXIST (a name is taken), -ENOSPC (no names
 * left in the prefix), -ENOMEM.
 */
/* k, one of op's links, is freed by someone else's removal: op no longer
 * refers to it, and a create fails (all or nothing: it is rolled back
 * once its requests are answered). */
void op_link_gone(struct op *op, struct link *k);

/* --- list.c --- */

/* Answer call (ListLinks) with the links of owner (NULL: all), taken now
 * and encoded over loop iterations. */
struct ctl_call;
void links_list_start(struct links *l, struct ctl_call *call, const char *owner);
/* Free the lists still being encoded, unanswered (netd is ending). */
void links_lists_free(struct links *l);
/* Answer every list still being encoded ShuttingDown and free it
 * (links_stop_calls()). */
void links_lists_stop(struct links *l);

/* Append the i-th of n links of a create's reply to b (methods.c): the
 * parameters object's head before the first, its tail after the last. */
void links_reply_encode(struct strbuf *b, struct links *l, const struct link *k, unsigned i,
			unsigned n);

int links_op_create(struct links *l, const struct links_create_req *req,
		    links_done_fn done, void *data, struct links_refusal *refusal);

/*
 * Start deleting owner's links named in names (n of them), or all of
 * owner's links if names is NULL; done as for links_op_create (an empty
 * set is answered at once). Refusals: -ENOENT (no such link), -EPERM (not
 * the owner), -EBUSY (a link is being created or deleted), -ENOMEM.
 */
int links_op_delete(struct links *l, const char *owner, const char *const *names, size_t n,
		    links_done_fn done, void *data, struct links_refusal *refusal);

/* An op with room for n links and no caller (done NULL: nobody is
 * answered), on l's list of ops; NULL on no memory. */
struct op *op_new(struct links *l, enum op_type type, unsigned n);
/* Delete op's links, all in state DELETING already (a start-up repair,
 * or a create's rollback): the first step at once, the rest in later
 * loop iterations; op is answered and freed when the kernel has. */
void delete_start(struct links *l, struct op *op);
/* Drop an op, its pending kernel requests and its links' without
 * answering (links_free). Accepts NULL. */
void op_free(struct op *op);
/* engine.c's steps that settle.c (lost acks) also takes. */
/* Record op's first failure (and its texts, if memory allows). */
void op_fail(struct op *op, int error, const char *name, const char *message);
/* The kernel made k (echo: what it said, or NULL: ask the picture). */
void create_made(struct links *l, struct link *k, const struct nl_link *echo);
/* Queue k's ownership tag; the op waits for its ack. */
void queue_tag(struct links *l, struct op *op, struct link *k);
/* A create or delete op has no request left: answer it (or undo it). */
void create_finish(struct op *op);
void delete_finish(struct op *op);
/* The kernel confirmed the i-th link of a delete op gone. */
void delete_confirmed(struct op *op, unsigned i);
/* What engine.c and delete.c share. */
/* Answer op's caller with its result and free op. */
void op_answer(struct op *op);
/* k's request in flight lost its ack (what it was): settled from a dump. */
void mark_lost(struct op *op, struct link *k, enum link_lost what);
/* Put op on (take it off) the list of ops with work for later iterations. */
void work_add(struct op *op);
void work_remove(struct op *op);
/* Do up to budget links of op's delete (queue group moves) or of its
 * confirmations; how many were done. */
unsigned delete_step(struct op *op, unsigned budget);
unsigned delete_confirm_step(struct op *op, unsigned budget);

/* --- set.c --- */

/* A set with its parameters checked for form (methods.c): changes[i]
 * for names[i], n distinct names. */
struct links_set_req {
	const char *owner;
	const char *const *names;
	const struct nl_link_change *changes;
	unsigned n;                   /* 1..LINKS_MAX_COUNT */
};

/*
 * Start changing req's links; done(data, result) is called once when the
 * kernel has answered every request (maybe before this returns; never for
 * a refusal), with type OP_SET and, on success, the links. All or nothing
 * (see set.c). Refusals, with nothing changed: -ENOENT (no such link),
 * -EPERM (not the owner), -EBUSY (being created, deleted or set),
 * -ERANGE (an MTU above the parent's), -ENOMEM.
 */
int links_op_set(struct links *l, const struct links_set_req *req, links_done_fn done,
		 void *data, struct links_refusal *refusal);
/* Drop every set without answering (links_free). */
void links_sets_free(struct links *l);
/* Answer every set still waiting with -ESHUTDOWN (links_stop_calls()). */
void links_sets_stop(struct links *l);

/* --- settle.c --- */

/* A dump started after the acks were lost is complete: settle every
 * request whose ack was lost from what the kernel holds now, and go on
 * with (or answer) their ops. */
void settle_lost(struct links *l);
/* Set up l's work list and the loop watchers that step it. */
void links_work_init(struct links *l);

/* --- reconcile.c --- */

/* The callbacks the kernel side (nl.c or a test's fake) drives. */
extern const struct nl_callbacks links_nl_callbacks;
/* Start a dump (or note that one is wanted after the running one, or
 * after the reconciliation under way: -EBUSY). 0 if it started, else
 * -errno. */
int start_dump(struct links *l);
/* Set up l->rec (links_alloc); free what a reconciliation under way holds
 * and stop it (links_free: nothing more is done). */
void reconcile_init(struct links *l);
void reconcile_free(struct links *l);
/* Is a reconciliation under way (begun by a dump's end, not finished)? */
bool reconcile_running(const struct links *l);

/* --- unanswered.c --- */

/* k (state DELETING, its device d) joins the reconciliation's repair op,
 * made on first use; false (logged) if there is no room or memory: the
 * next reconciliation tries again. */
bool repair_add(struct links *l, struct link *k, struct kdev *d);
/* A create (a delete) that a stop left unanswered, first being one of
 * its links: rolled back whole (finished or taken back whole), with its
 * audit row. */
void rollback_call(struct links *l, struct link *first);
void resolve_delete_call(struct links *l, struct link *first);
/* Load links and names from the store (links_new). */
int links_load(struct links *l);

/* --- methods.c --- */

enum links_event {
	LINKS_EVENT_ADDED,    /* k */
	LINKS_EVENT_REMOVED,  /* k, reason */
	LINKS_EVENT_FOREIGN,  /* name */
	LINKS_EVENT_RESYNC,
};

/* Tell the Monitor calls (if any) what happened. */
void links_notify(struct links *l, enum links_event ev, const struct link *k,
		  const char *name_or_reason);

/* --- links.c --- */

/*
 * Like links_new(), but reaching the kernel through ops on nl (a fake's,
 * in tests): ownership of nl passes to the links (ops->free). ops's
 * callbacks are links_nl_callbacks with the returned links as userdata.
 * The first dump is started before this returns.
 */
int links_new_with_kernel(struct ev_loop *loop, struct store *store,
			  const struct links_config *cfg, const struct nl_ops *ops,
			  struct nl *nl, struct links **ret);

/*
 * Open the character device of macvtap link name (ifindex), read-write,
 * non-blocking, close-on-exec, checked against the device number sysfs
 * gives for it: /dev/tapN if that is the device and netd may open it, else
 * a private node made in dir (NULL: none) and removed at once (see tap.c).
 * A descriptor, or a negative errno.
 */
int links_tap_open(const char *dir, const char *name, int ifindex);

#endif
