/*
 * links.c: see links.h.
 *
 * Three pictures are kept in step:
 *  - the kernel's links (every device in the namespace, by ifindex and by
 *    name), from one dump at start and after lost events, and from link
 *    events in between;
 *  - netd's links (struct link), each with an owner and a state:
 *    CREATING (intent written, request sent), PRESENT, DELETING;
 *  - the name bitmaps, one per prefix: an index is taken while netd has a
 *    link of that name or a device netd did not make ("foreign") has it.
 * The store mirrors the last two (tables links and names), written in the
 * loop iteration's transaction, which is committed before the kernel
 * requests of that iteration are sent.
 *
 * An index becomes free only when the kernel confirmed that its device is
 * gone (a deletion's ack, or an event/dump showing it gone). Deletion uses
 * one group delete per call: each doomed link is moved into a reserved
 * interface group, then one RTM_DELLINK removes the group, so the kernel
 * synchronises once rather than once per link.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <linux/if_link.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "alloc/alloc.h"
#include "ctl.h"
#include "decode.h"
#include "links.h"
#include "log.h"
#include "nl.h"
#include "stats.h"
#include "store.h"
#include "util.h"
#include "valid.h"

/* Links prepared or queued per loop iteration, all calls together. */
#define LINKS_STEP 128
/* Tries per link when someone else keeps taking the name we chose. */
#define LINKS_EEXIST_RETRIES 16
#define LINKS_MAX_COUNT 4096

enum link_state {
	LINK_CREATING,
	LINK_PRESENT,
	LINK_DELETING,
};

static const char *const state_names[] = {
	[LINK_CREATING] = "creating",
	[LINK_PRESENT] = "present",
	[LINK_DELETING] = "deleting",
};

struct op;

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
	unsigned retries;
	bool regrouped;           /* moved into the delete group */
	bool gone;                /* the kernel said it no longer exists */
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
};

/* All devices, by ifindex and by name (trees of struct kdev). */
struct kcache {
	void *by_index;
	void *by_name;
};

enum op_type { OP_CREATE, OP_DELETE };

/* One client call (or start-up repair) waiting for the kernel. */
struct op {
	enum op_type type;
	struct links *l;
	struct ctl_call *call;   /* NULL: nobody to answer */
	struct link **links;     /* this call's links */
	unsigned nlinks;
	unsigned pending;        /* requests not yet acked */
	int error;               /* first failure */
	char *error_link;
	char *error_message;
	bool rolling_back;
	json_t *result;          /* deleted names, for DeleteLinks */

	/* The work is spread over loop iterations, LINKS_STEP links per
	 * iteration in all, so a call for thousands of links never makes one
	 * long callback. */
	unsigned total;          /* links to prepare (create) or queue (delete) */
	unsigned stepped;        /* how many so far */
	bool all_queued;         /* every kernel request of the op is queued */
	bool on_work_list;
	TAILQ_ENTRY(op) work_entry;

	/* What a create makes. */
	struct alloc *alloc;     /* NULL: explicit names */
	json_t *names;
	uint8_t (*macs)[NL_MAC_LEN];
	char kind[8];
	uint32_t mode;
	char parent[IFNAMSIZ];
	int parent_ifindex;
	char *owner;
};

TAILQ_HEAD(op_list, op);

struct monitor {
	struct ctl_call *call;
	TAILQ_ENTRY(monitor) entry;
};
TAILQ_HEAD(monitor_list, monitor);

struct links {
	struct ev_loop *loop;
	struct store *store;
	struct nl *nl;
	struct alloc *macvtap, *macvlan;
	uint32_t delete_group;

	void *by_name;            /* tree of struct link, by name */
	struct link_list all;
	unsigned nlinks;

	struct kcache kc;         /* the kernel's devices now */
	struct kcache dump;       /* being filled by a dump */
	void *foreign;            /* names (char *) of devices of our prefixes we did not make */
	void *held;               /* names (char *) of gone links whose filter rules are not yet removed */

	bool (*port_bound)(void *data, const char *port);
	void (*port_gone)(void *data, const char *port);
	void *port_data;

	struct monitor_list monitors;

	struct op_list work;      /* ops with links still to prepare or queue */
	ev_check work_check;      /* does a step of them after each poll */
	ev_idle work_idle;        /* keeps the poll from blocking meanwhile */

	bool ready;
	int start_error;
	bool resync_wanted;       /* events lost while a dump ran */
	bool dumped_once;

	/* counters for GetStatus */
	uint64_t created, deleted, vanished, foreign_seen, resyncs, eexist_retries;
	uint64_t kernel_requests_at_start;
};

/* --- small helpers --- */

static int cmp_link_name(const void *a, const void *b)
{
	return strcmp(((const struct link *)a)->name, ((const struct link *)b)->name);
}

static int cmp_kdev_index(const void *a, const void *b)
{
	int x = ((const struct kdev *)a)->ifindex, y = ((const struct kdev *)b)->ifindex;

	return x < y ? -1 : x > y;
}

static int cmp_kdev_name(const void *a, const void *b)
{
	return strcmp(((const struct kdev *)a)->name, ((const struct kdev *)b)->name);
}

static struct link *link_find(struct links *l, const char *name)
{
	struct link key;
	void **p;

	if (strlen(name) >= sizeof(key.name))
		return NULL;
	strcpy(key.name, name);
	p = tfind(&key, &l->by_name, cmp_link_name);
	return p ? *p : NULL;
}

static struct kdev *kc_by_name(struct kcache *kc, const char *name)
{
	struct kdev key = { 0 };
	void **p;

	if (strlen(name) >= sizeof(key.name))
		return NULL;
	strcpy(key.name, name);
	p = tfind(&key, &kc->by_name, cmp_kdev_name);
	return p ? *p : NULL;
}

static struct kdev *kc_by_index(struct kcache *kc, int ifindex)
{
	struct kdev key = { .ifindex = ifindex };
	void **p = tfind(&key, &kc->by_index, cmp_kdev_index);

	return p ? *p : NULL;
}

static struct kdev *kdev_by_name(struct links *l, const char *name)
{
	return kc_by_name(&l->kc, name);
}

static struct kdev *kdev_by_index(struct links *l, int ifindex)
{
	return kc_by_index(&l->kc, ifindex);
}

static void kc_remove(struct kcache *kc, struct kdev *k)
{
	tdelete(k, &kc->by_index, cmp_kdev_index);
	if (kc_by_name(kc, k->name) == k)
		tdelete(k, &kc->by_name, cmp_kdev_name);
	free(k);
}

/* Index k under its name, replacing a stale entry of that name. */
static void kc_name_insert(struct kcache *kc, struct kdev *k)
{
	struct kdev *other = kc_by_name(kc, k->name);

	if (other && other != k)
		tdelete(other, &kc->by_name, cmp_kdev_name);
	if (other != k)
		tsearch(k, &kc->by_name, cmp_kdev_name);
}

/* Record what the kernel says about one device (new, changed, renamed). */
static void kc_update(struct kcache *kc, const struct nl_link *nlk)
{
	struct kdev *k = kc_by_index(kc, nlk->ifindex);

	if (k && !streq(k->name, nlk->name)) {
		if (kc_by_name(kc, k->name) == k)
			tdelete(k, &kc->by_name, cmp_kdev_name);
		snprintf(k->name, sizeof(k->name), "%s", nlk->name);
		kc_name_insert(kc, k);
	} else if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k)
			return;
		k->ifindex = nlk->ifindex;
		snprintf(k->name, sizeof(k->name), "%s", nlk->name);
		tsearch(k, &kc->by_index, cmp_kdev_index);
		kc_name_insert(kc, k);
	}
	if (nlk->kind[0])
		snprintf(k->kind, sizeof(k->kind), "%s", nlk->kind);
	if (nlk->has_mac) {
		memcpy(k->mac, nlk->mac, NL_MAC_LEN);
		k->has_mac = true;
	}
}

static void kc_clear(struct kcache *kc)
{
	while (kc->by_index)
		kc_remove(kc, *(struct kdev **)kc->by_index);
	kc->by_name = NULL;
}

static void mac_to_string(const uint8_t *m, char *buf, size_t n)
{
	snprintf(buf, n, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Parse aa:bb:cc:dd:ee:ff (either case); refuse multicast and all-zero. */
static int mac_parse(const char *s, uint8_t *ret)
{
	uint8_t m[NL_MAC_LEN];

	if (valid_parse_mac(s, m) < 0 || !valid_mac_unicast(m))
		return -EINVAL;
	memcpy(ret, m, sizeof(m));
	return 0;
}

/* The bitmap a name belongs to, and its index there. */
static struct alloc *alloc_of_name(struct links *l, const char *name, unsigned *ret_idx)
{
	if (alloc_parse_name(l->macvtap, name, ret_idx) == 0)
		return l->macvtap;
	if (alloc_parse_name(l->macvlan, name, ret_idx) == 0)
		return l->macvlan;
	return NULL;
}

/* --- JSON --- */

static json_t *link_json(const struct link *k)
{
	char mac[18] = "";
	json_t *o;

	if (k->has_mac)
		mac_to_string(k->mac, mac, sizeof(mac));
	o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		      "name", k->name,
		      "ifindex", k->ifindex,
		      "kind", k->kind,
		      "mode", nl_macvlan_mode_to_string(k->mode),
		      "parent", k->parent,
		      "mac", mac,
		      "owner", k->owner,
		      "state", state_names[k->state],
		      "created", k->created);
	if (o && streq(k->kind, "macvtap") && k->ifindex > 0) {
		char tap[32];

		snprintf(tap, sizeof(tap), "/dev/tap%d", k->ifindex);
		json_object_set_new(o, "tap", json_string(tap));
	}
	return o;
}

static int cmp_link_ptr(const void *a, const void *b)
{
	return strverscmp((*(struct link *const *)a)->name, (*(struct link *const *)b)->name);
}

/* Links (of owner, or all), sorted so macvtap2 comes before macvtap10. */
static json_t *links_array(struct links *l, const char *owner)
{
	struct link **v = calloc(l->nlinks ? l->nlinks : 1, sizeof(*v));
	json_t *arr = json_array();
	struct link *k;
	unsigned n = 0;

	if (!v || !arr) {
		free(v);
		json_decref(arr);
		return NULL;
	}
	TAILQ_FOREACH(k, &l->all, entry)
		if (!owner || streq(k->owner, owner))
			v[n++] = k;
	qsort(v, n, sizeof(*v), cmp_link_ptr);
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(arr, link_json(v[i]));
	free(v);
	return arr;
}

/* --- monitors --- */

static void monitor_send(struct links *l, json_t *event)
{
	struct monitor *m;

	TAILQ_FOREACH(m, &l->monitors, entry)
		ctl_call_reply_more(m->call, json_deep_copy(event));
	json_decref(event);
}

static void monitor_cancel(struct ctl_call *call, void *userdata)
{
	struct links *l = userdata;
	struct monitor *m;

	TAILQ_FOREACH(m, &l->monitors, entry)
		if (m->call == call) {
			TAILQ_REMOVE(&l->monitors, m, entry);
			free(m);
			break;
		}
	/* Nobody is listening; the final reply only frees the call. */
	ctl_call_reply(call, NULL);
}

static void event_link(struct links *l, const char *event, const struct link *k,
		       const char *reason)
{
	json_t *e;

	if (TAILQ_EMPTY(&l->monitors))
		return;
	e = json_pack("{s:s, s:o}", "event", event, "link", link_json(k));
	if (e && reason)
		json_object_set_new(e, "reason", json_string(reason));
	if (e)
		monitor_send(l, e);
}

/* --- store mirror --- */

static void log_store_error(const char *what, const char *name, int r)
{
	errno = -r;
	log_error("%s: cannot record %s in the database: %m", name, what);
}

static void store_link(struct links *l, const struct link *k)
{
	char mac[18];
	struct store_link_row row = {
		.name = k->name,
		.ifindex = k->ifindex,
		.kind = k->kind,
		.mode = nl_macvlan_mode_to_string(k->mode),
		.parent = k->parent,
		.mac = NULL,
		.owner = k->owner,
		.state = state_names[k->state],
		.created = k->created[0] ? k->created : NULL,
	};
	int r;

	if (k->has_mac) {
		mac_to_string(k->mac, mac, sizeof(mac));
		row.mac = mac;
	}
	r = store_link_put(l->store, &row);
	if (r < 0)
		log_store_error("the link", k->name, r);
	if (k->alloc) {
		r = store_name_put(l->store, alloc_prefix(k->alloc), k->idx, k->name,
				   k->state == LINK_DELETING ? "releasing" : "owned");
		if (r < 0)
			log_store_error("the name", k->name, r);
	}
}

static void store_foreign(struct links *l, struct alloc *a, unsigned idx, const char *name)
{
	int r = store_name_put(l->store, alloc_prefix(a), idx, name, "foreign");

	if (r < 0)
		log_store_error("the foreign name", name, r);
}

static void store_name_free(struct links *l, struct alloc *a, unsigned idx, const char *name)
{
	int r = store_name_delete(l->store, alloc_prefix(a), idx);

	if (r < 0)
		log_store_error("the freed name", name, r);
}

/* --- link lifetime --- */

static int cmp_str(const void *a, const void *b);

static struct link *link_add(struct links *l, const char *name, const char *owner)
{
	struct link *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->owner = strdup(owner);
	if (!k->owner) {
		free(k);
		return NULL;
	}
	tsearch(k, &l->by_name, cmp_link_name);
	TAILQ_INSERT_TAIL(&l->all, k, entry);
	l->nlinks++;
	return k;
}

/* Forget a link and free its name: the kernel has confirmed it is gone
 * (or it never came to be). */
static void link_release(struct links *l, struct link *k)
{
	int r;

	r = store_link_delete(l->store, k->name);
	if (r < 0)
		log_store_error("the removal", k->name, r);
	if (k->alloc && l->port_bound && l->port_bound(l->port_data, k->name)) {
		/* Filter rules still name this port: the name stays taken
		 * until they are gone (links_port_unbound), so a new guest's
		 * device can never inherit an old guest's rules. */
		char *copy = strdup(k->name);

		if (copy && tsearch(copy, &l->held, cmp_str) && *(char **)tfind(copy, &l->held, cmp_str) == copy) {
			r = store_name_put(l->store, alloc_prefix(k->alloc), k->idx, k->name, "releasing");
			if (r < 0)
				log_store_error("the held name", k->name, r);
		} else {
			free(copy);
		}
	} else if (k->alloc) {
		alloc_release(k->alloc, k->idx);
		store_name_free(l, k->alloc, k->idx, k->name);
	}
	tdelete(k, &l->by_name, cmp_link_name);
	TAILQ_REMOVE(&l->all, k, entry);
	l->nlinks--;
	free(k->owner);
	free(k);
}

/* Someone else removed one of our links: free it, audit, tell monitors. */
static void link_vanished(struct links *l, struct link *k, const char *how)
{
	struct store_peer kernel = { .uid = (uid_t)-1, .gid = (gid_t)-1, .pid = 0 };
	char params[128];
	int r;

	log_warn("%s: owned by '%s', removed outside netd (%s); releasing its name",
		 k->name, k->owner, how);
	snprintf(params, sizeof(params), "{\"name\":\"%s\",\"ifindex\":%d}", k->name, k->ifindex);
	r = store_audit_append(l->store, &kernel, "kernel.LinkRemoved", params, "ok", NULL);
	if (r < 0)
		log_store_error("the audit row", k->name, r);
	l->vanished++;
	event_link(l, "removed", k, "vanished");
	link_release(l, k);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool is_foreign(struct links *l, const char *name)
{
	return tfind(name, &l->foreign, cmp_str) != NULL;
}

/* Remember name (whose index is already taken) as foreign. */
static void foreign_add(struct links *l, struct alloc *a, unsigned idx, const char *name)
{
	char *copy = strdup(name);

	if (!copy)
		return;
	if (tsearch(copy, &l->foreign, cmp_str) == NULL || *(char **)tfind(copy, &l->foreign, cmp_str) != copy)
		free(copy);
	store_foreign(l, a, idx, name);
	l->foreign_seen++;
}

/* A name of one of our prefixes is in use by a device we did not make:
 * take its index so netd never chooses it. */
static void mark_foreign(struct links *l, const char *name)
{
	unsigned idx;
	struct alloc *a = alloc_of_name(l, name, &idx);
	json_t *e;

	if (!a || link_find(l, name) || is_foreign(l, name))
		return;
	if (alloc_take(a, idx) < 0)
		return;
	foreign_add(l, a, idx, name);
	log_info("%s: made by someone else; netd will not use this name", name);
	if (!TAILQ_EMPTY(&l->monitors)) {
		e = json_pack("{s:s, s:s}", "event", "foreign", "name", name);
		if (e)
			monitor_send(l, e);
	}
}

/* A foreign device of one of our prefixes is gone: its name is free. */
static void unmark_foreign(struct links *l, const char *name)
{
	unsigned idx;
	struct alloc *a = alloc_of_name(l, name, &idx);
	void **p = tfind(name, &l->foreign, cmp_str);
	char *stored;

	if (!p)
		return;
	stored = *p;
	tdelete(name, &l->foreign, cmp_str);
	free(stored);
	if (a) {
		alloc_release(a, idx);
		store_name_free(l, a, idx, name);
	}
}

static void foreign_free_all(struct links *l)
{
	while (l->foreign) {
		char *name = *(char **)l->foreign;

		tdelete(name, &l->foreign, cmp_str);
		free(name);
	}
}

/* --- operations --- */

static struct op *op_new(struct links *l, enum op_type type, struct ctl_call *call,
			 unsigned n)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->links = calloc(n ? n : 1, sizeof(*op->links));
	if (!op->links) {
		free(op);
		return NULL;
	}
	op->type = type;
	op->l = l;
	op->call = call;
	return op;
}

static void work_add(struct op *op);
static void work_remove(struct op *op);
static unsigned delete_step(struct op *op, unsigned budget);

static void op_free(struct op *op)
{
	work_remove(op);
	json_decref(op->names);
	free(op->macs);
	free(op->owner);
	free(op->links);
	free(op->error_link);
	free(op->error_message);
	json_decref(op->result);
	free(op);
}

static void op_fail(struct op *op, int error, const char *name, const char *message)
{
	if (op->error)
		return;
	op->error = error;
	op->error_link = name ? strdup(name) : NULL;
	op->error_message = message ? strdup(message) : NULL;
}

static void op_reply_error(struct op *op)
{
	json_t *p;

	if (!op->call)
		return;
	p = json_pack("{s:i, s:s}", "errno", -op->error, "message",
		      op->error_message ? op->error_message : strerror(-op->error));
	if (p && op->error_link)
		json_object_set_new(p, "link", json_string(op->error_link));
	ctl_call_error(op->call, "io.netd.KernelError", p);
	op->call = NULL;
}

static void delete_start(struct links *l, struct op *op);
static void delete_confirmed(struct op *op, unsigned i);

/* The create call is settled: answer it, or undo it. */
static void create_finish(struct op *op)
{
	struct links *l = op->l;
	json_t *arr;
	unsigned present = 0;

	if (op->error && !op->rolling_back) {
		/* All or nothing: delete what this call did create. */
		for (unsigned i = 0; i < op->nlinks; i++)
			if (op->links[i] && op->links[i]->state == LINK_PRESENT)
				op->links[i]->state = LINK_DELETING, present++;
		if (present) {
			op->rolling_back = true;
			log_info("rolling back %u links of a failed create", present);
			delete_start(l, op);
			return;
		}
	}
	if (op->error) {
		op_reply_error(op);
	} else if (op->call) {
		arr = json_array();
		for (unsigned i = 0; i < op->nlinks; i++) {
			op->links[i]->op = NULL;
			json_array_append_new(arr, link_json(op->links[i]));
		}
		ctl_call_reply(op->call, json_pack("{s:o}", "links", arr));
	}
	for (unsigned i = 0; i < op->nlinks; i++)
		if (op->links[i])
			op->links[i]->op = NULL;
	op_free(op);
}

static int queue_create(struct links *l, struct link *k);
static unsigned create_step(struct op *op, unsigned budget);

static void create_done(void *data, int error, const char *message,
			const struct nl_link *echo)
{
	struct link *k = data;
	struct op *op = k->op;
	struct links *l = op->l;

	if (error == -EEXIST && k->alloc && k->retries < LINKS_EEXIST_RETRIES && !op->error) {
		/* Someone took the name between our look and the kernel's
		 * create: its index becomes foreign, the link tries the next
		 * free one. */
		char old[IFNAMSIZ];
		unsigned idx;
		int r;

		snprintf(old, sizeof(old), "%s", k->name);
		r = store_link_delete(l->store, k->name);
		if (r < 0)
			log_store_error("the retry", k->name, r);
		foreign_add(l, k->alloc, k->idx, k->name);
		l->eexist_retries++;
		tdelete(k, &l->by_name, cmp_link_name);
		r = alloc_take_lowest(k->alloc, &idx);
		if (r < 0) {
			k->alloc = NULL; /* its old index is the foreign one's now */
		} else {
			k->idx = idx;
			alloc_format_name(k->alloc, idx, k->name, sizeof(k->name));
			k->retries++;
			k->ifindex = 0;
			tsearch(k, &l->by_name, cmp_link_name);
			store_link(l, k);
			log_info("%s: taken by someone else meanwhile, trying %s", old, k->name);
			if (queue_create(l, k) == 0)
				return; /* still pending */
			r = -ENOMEM;
		}
		error = r;
		message = NULL;
	}

	if (error == 0) {
		if (echo) {
			k->ifindex = echo->ifindex;
			if (echo->has_mac) {
				memcpy(k->mac, echo->mac, NL_MAC_LEN);
				k->has_mac = true;
			}
		} else {
			/* Older kernels do not echo; the event told us. */
			struct kdev *d = kdev_by_name(l, k->name);

			if (d)
				k->ifindex = d->ifindex;
		}
		k->state = LINK_PRESENT;
		store_link(l, k);
		l->created++;
		event_link(l, "added", k, NULL);
	} else {
		log_warn("%s: create failed: %s%s%s", k->name, strerror(-error),
			 message ? ": " : "", message ? message : "");
		op_fail(op, error, k->name, message);
		for (unsigned i = 0; i < op->nlinks; i++)
			if (op->links[i] == k)
				op->links[i] = NULL;
		link_release(l, k);
	}
	if (--op->pending == 0 && op->all_queued)
		create_finish(op);
}

static int queue_create(struct links *l, struct link *k)
{
	return nl_queue_create(l->nl, k->name, k->kind, k->parent_ifindex, k->mode,
			       k->want_mac ? k->mac : NULL, create_done, k);
}

/* The delete call is settled. */
static void delete_finish(struct op *op)
{
	struct links *l = op->l;

	/* Links whose deletion failed stay; put them back. */
	for (unsigned i = 0; i < op->nlinks; i++) {
		struct link *k = op->links[i];

		if (!k)
			continue;
		k->op = NULL;
		if (k->gone) {
			delete_confirmed(op, i);
			continue;
		}
		k->state = LINK_PRESENT;
		if (k->regrouped) {
			/* Out of the delete group, or the next group delete
			 * would take it. */
			k->regrouped = false;
			nl_queue_set_group(l->nl, k->ifindex, 0, NULL, NULL);
		}
		store_link(l, k);
	}
	if (op->rolling_back) {
		/* The failed create is undone; now tell its caller why. */
		op_reply_error(op);
	} else if (op->error) {
		op_reply_error(op);
	} else if (op->call) {
		ctl_call_reply(op->call, json_pack("{s:O}", "deleted", op->result));
		op->call = NULL;
	}
	op_free(op);
}

static void delete_confirmed(struct op *op, unsigned i)
{
	struct links *l = op->l;
	struct link *k = op->links[i];

	json_array_append_new(op->result, json_string(k->name));
	l->deleted++;
	event_link(l, "removed", k, "deleted");
	op->links[i] = NULL;
	link_release(l, k);
}

static void group_done(void *data, int error, const char *message,
		       const struct nl_link *echo)
{
	struct link *k = data;
	struct op *op = k->op;

	if (error == 0) {
		k->regrouped = true;
	} else if (error == -ENODEV) {
		/* Already gone: as good as deleted. */
		k->gone = true;
	} else {
		log_warn("%s: cannot move into the delete group: %s", k->name, strerror(-error));
		op_fail(op, error, k->name, message);
	}
	if (--op->pending == 0 && op->all_queued)
		delete_finish(op);
}

static void delete_group_done(void *data, int error, const char *message,
			      const struct nl_link *echo)
{
	struct op *op = data;

	/* ENODEV: the group was empty (every link already gone). */
	if (error == 0 || error == -ENODEV) {
		for (unsigned i = 0; i < op->nlinks; i++) {
			struct link *k = op->links[i];

			if (k && (k->regrouped || k->gone))
				delete_confirmed(op, i);
		}
	} else {
		log_warn("group delete failed: %s%s%s", strerror(-error),
			 message ? ": " : "", message ? message : "");
		op_fail(op, error, NULL, message);
	}
	if (--op->pending == 0 && op->all_queued)
		delete_finish(op);
}

/* Start deleting op's links (all in state DELETING already): the first
 * step at once, the rest in later iterations. */
static void delete_start(struct links *l, struct op *op)
{
	if (!op->result)
		op->result = json_array();
	op->total = op->nlinks;
	op->stepped = 0;
	op->all_queued = false;
	for (unsigned i = 0; i < op->nlinks; i++)
		if (op->links[i])
			op->links[i]->op = op;
	work_add(op);
	delete_step(op, LINKS_STEP);
}

/* Record the intent and queue the move into the delete group, link by
 * link; after the last, the one deletion of the group. */
static unsigned delete_step(struct op *op, unsigned budget)
{
	struct links *l = op->l;
	unsigned done = 0;

	while (op->stepped < op->total && done < budget) {
		struct link *k = op->links[op->stepped++];

		done++;
		if (!k || k->state != LINK_DELETING)
			continue;
		store_link(l, k);
		if (nl_queue_set_group(l->nl, k->ifindex, l->delete_group, group_done, k) == 0)
			op->pending++;
		else
			op_fail(op, -ENOMEM, k->name, NULL);
	}
	if (op->stepped < op->total)
		return done;
	work_remove(op);
	op->all_queued = true;
	if (op->pending > 0 &&
	    nl_queue_delete_group(l->nl, l->delete_group, delete_group_done, op) == 0) {
		op->pending++;
		return done;
	}
	/* Nothing to ask the kernel (or no memory to ask it): settle now,
	 * unless moves are still in flight. */
	if (op->pending == 0)
		delete_finish(op);
	return done;
}

/* --- work spread over iterations --- */

static void work_add(struct op *op)
{
	struct links *l = op->l;

	if (op->on_work_list)
		return;
	op->on_work_list = true;
	TAILQ_INSERT_TAIL(&l->work, op, work_entry);
	ev_check_start(l->loop, &l->work_check);
	ev_idle_start(l->loop, &l->work_idle);
}

static void work_remove(struct op *op)
{
	struct links *l = op->l;

	if (!op->on_work_list)
		return;
	op->on_work_list = false;
	TAILQ_REMOVE(&l->work, op, work_entry);
	if (TAILQ_EMPTY(&l->work)) {
		ev_check_stop(l->loop, &l->work_check);
		ev_idle_stop(l->loop, &l->work_idle);
	}
}

static unsigned create_step(struct op *op, unsigned budget);
static unsigned delete_step(struct op *op, unsigned budget);

/* Do up to budget links of op's work. Returns how many were done; the op
 * may be finished (and freed) when it returns. */
static unsigned op_step(struct op *op, unsigned budget)
{
	if (op->type == OP_CREATE && !op->rolling_back)
		return create_step(op, budget);
	return delete_step(op, budget);
}

static void work_check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	STATS_CALLBACK("links work");
	struct links *l = w->data;
	unsigned budget = LINKS_STEP;
	struct op *op;

	/* Oldest call first: finish it before starting on the next. */
	while (budget > 0 && (op = TAILQ_FIRST(&l->work)))
		budget -= op_step(op, budget);
}

static void work_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Nothing: being active keeps ev_run from blocking while
	 * work_check_cb has work. */
}

/* --- the methods --- */

struct create_params {
	const char *parent;
	const char *kind;
	const char *mode;
	const char *owner;
	int64_t count;
	json_t *names;
	json_t *macs;
};

void links_create(struct links *l, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("parent", DECODE_STRING, true, struct create_params, parent),
		DECODE_FIELD("kind", DECODE_STRING, true, struct create_params, kind),
		DECODE_FIELD("mode", DECODE_STRING, false, struct create_params, mode),
		DECODE_FIELD("owner", DECODE_STRING, true, struct create_params, owner),
		DECODE_FIELD("count", DECODE_INT, false, struct create_params, count),
		DECODE_FIELD("names", DECODE_STRING_ARRAY, false, struct create_params, names),
		DECODE_FIELD("macs", DECODE_STRING_ARRAY, false, struct create_params, macs),
	};
	struct create_params p = { .mode = "bridge", .count = INT64_MIN /* absent */ };
	struct kdev *parent;
	struct alloc *a;
	struct op *op;
	uint32_t mode;
	size_t n;

	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!streq(p.kind, "macvtap") && !streq(p.kind, "macvlan"))
		return ctl_call_invalid_parameter(call, "kind");
	if (nl_macvlan_mode_from_string(p.mode, &mode) < 0)
		return ctl_call_invalid_parameter(call, "mode");
	if (!valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	if (!valid_ifname(p.parent))
		return ctl_call_invalid_parameter(call, "parent");
	if (p.names && p.count != INT64_MIN)
		return ctl_call_invalid_parameter(call, "count"); /* one or the other */
	if (p.names) {
		n = json_array_size(p.names);
		if (n < 1 || n > LINKS_MAX_COUNT)
			return ctl_call_invalid_parameter(call, "names");
	} else {
		if (p.count == INT64_MIN)
			p.count = 1;
		if (p.count < 1 || p.count > LINKS_MAX_COUNT)
			return ctl_call_invalid_parameter(call, "count");
		n = (size_t)p.count;
	}
	if (p.macs && json_array_size(p.macs) != n)
		return ctl_call_invalid_parameter(call, "macs");

	uint8_t (*macs)[NL_MAC_LEN] = p.macs ? calloc(n, NL_MAC_LEN) : NULL;
	_cleanup_free_ void *macs_owner = macs;

	if (p.macs && !macs)
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	for (size_t i = 0; p.macs && i < n; i++) {
		if (mac_parse(json_string_value(json_array_get(p.macs, i)), macs[i]) < 0)
			return ctl_call_invalid_parameter(call, "macs");
		for (size_t j = 0; j < i; j++)
			if (memcmp(macs[i], macs[j], NL_MAC_LEN) == 0)
				return ctl_call_invalid_parameter(call, "macs");
	}
	for (size_t i = 0; p.names && i < n; i++) {
		const char *name = json_string_value(json_array_get(p.names, i));

		if (!valid_ifname(name))
			return ctl_call_invalid_parameter(call, "names");
		for (size_t j = 0; j < i; j++)
			if (streq(name, json_string_value(json_array_get(p.names, j))))
				return ctl_call_invalid_parameter(call, "names");
	}

	/* Everything checked that does not depend on the kernel; now what
	 * does: the parent exists, explicit names are free. */
	parent = kdev_by_name(l, p.parent);
	if (!parent)
		return ctl_call_error(call, "io.netd.NoSuchLink",
				      json_pack("{s:s}", "name", p.parent));
	for (size_t i = 0; p.names && i < n; i++) {
		const char *name = json_string_value(json_array_get(p.names, i));
		unsigned idx;

		a = alloc_of_name(l, name, &idx);
		if (link_find(l, name) || kdev_by_name(l, name) || (a && alloc_is_taken(a, idx)))
			return ctl_call_error(call, "io.netd.LinkExists",
					      json_pack("{s:s}", "name", name));
	}

	a = streq(p.kind, "macvtap") ? l->macvtap : l->macvlan;
	if (!p.names && alloc_capacity(a) - alloc_count(a) < n)
		return ctl_call_error(call, "io.netd.NoNamesLeft",
				      json_pack("{s:s}", "prefix", alloc_prefix(a)));

	op = op_new(l, OP_CREATE, call, (unsigned)n);
	if (!op || !(op->owner = strdup(p.owner))) {
		if (op)
			op_free(op);
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	}
	op->total = (unsigned)n;
	op->alloc = p.names ? NULL : a;
	op->names = json_incref(p.names);
	op->macs = macs;
	macs_owner = NULL;
	snprintf(op->kind, sizeof(op->kind), "%s", p.kind);
	op->mode = mode;
	snprintf(op->parent, sizeof(op->parent), "%s", parent->name);
	op->parent_ifindex = parent->ifindex;
	work_add(op);
	create_step(op, LINKS_STEP);
}

/* Prepare up to budget of a create's links: name, intent row, request. */
static unsigned create_step(struct op *op, unsigned budget)
{
	struct links *l = op->l;
	unsigned done = 0;

	while (op->stepped < op->total && done < budget && !op->error) {
		unsigned i = op->stepped++;
		char name[IFNAMSIZ];
		struct alloc *na;
		unsigned idx = 0;
		struct link *k;

		done++;
		if (op->names) {
			snprintf(name, sizeof(name), "%s", json_string_value(json_array_get(op->names, i)));
			na = alloc_of_name(l, name, &idx);
			/* Checked free at the call; taken since? The kernel's
			 * EEXIST will say so. */
			if (na && alloc_take(na, idx) < 0)
				na = NULL;
		} else {
			if (alloc_take_lowest(op->alloc, &idx) < 0) {
				/* Others took the rest since the call was checked. */
				op_fail(op, -ENOSPC, NULL, "no free names left");
				break;
			}
			alloc_format_name(op->alloc, idx, name, sizeof(name));
			na = op->alloc;
		}
		k = link_add(l, name, op->owner);
		if (!k) {
			if (na)
				alloc_release(na, idx);
			op_fail(op, -ENOMEM, name, NULL);
			break;
		}
		k->alloc = na;
		k->idx = idx;
		snprintf(k->kind, sizeof(k->kind), "%s", op->kind);
		k->mode = op->mode;
		snprintf(k->parent, sizeof(k->parent), "%s", op->parent);
		k->parent_ifindex = op->parent_ifindex;
		if (op->macs) {
			memcpy(k->mac, op->macs[i], NL_MAC_LEN);
			k->has_mac = k->want_mac = true;
		}
		k->state = LINK_CREATING;
		now_iso(k->created, sizeof(k->created));
		k->op = op;
		op->links[op->nlinks++] = k;
		/* The intent row, committed before the request leaves. */
		store_link(l, k);
		if (queue_create(l, k) < 0) {
			op_fail(op, -ENOMEM, name, NULL);
			break;
		}
		op->pending++;
	}
	if (op->stepped < op->total && !op->error)
		return done;
	/* All prepared, or stopped by a failure: what was queued still runs,
	 * and the call is settled (or undone) once it has. */
	work_remove(op);
	op->all_queued = true;
	if (op->pending == 0)
		create_finish(op);
	return done;
}

struct delete_params {
	const char *owner;
	json_t *names;
};

void links_delete(struct links *l, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("owner", DECODE_STRING, true, struct delete_params, owner),
		DECODE_FIELD("names", DECODE_STRING_ARRAY, false, struct delete_params, names),
	};
	struct delete_params p = { 0 };
	struct link *k;
	struct op *op;
	size_t n;

	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");

	if (p.names) {
		n = json_array_size(p.names);
		if (n > LINKS_MAX_COUNT)
			return ctl_call_invalid_parameter(call, "names");
		for (size_t i = 0; i < n; i++)
			if (!valid_ifname(json_string_value(json_array_get(p.names, i))))
				return ctl_call_invalid_parameter(call, "names");
		/* All checks before any change: the call is all or nothing. */
		for (size_t i = 0; i < n; i++) {
			const char *name = json_string_value(json_array_get(p.names, i));

			k = link_find(l, name);
			if (!k)
				return ctl_call_error(call, "io.netd.NoSuchLink",
						      json_pack("{s:s}", "name", name));
			if (!streq(k->owner, p.owner))
				return ctl_call_error(call, "io.netd.NotOwner",
						      json_pack("{s:s, s:s}", "name", name,
								"owner", k->owner));
			if (k->state != LINK_PRESENT)
				return ctl_call_error(call, "io.netd.LinkBusy",
						      json_pack("{s:s, s:s}", "name", name,
								"state", state_names[k->state]));
		}
	} else {
		n = 0;
		TAILQ_FOREACH(k, &l->all, entry)
			if (streq(k->owner, p.owner)) {
				if (k->state != LINK_PRESENT)
					return ctl_call_error(call, "io.netd.LinkBusy",
							      json_pack("{s:s, s:s}", "name", k->name,
									"state", state_names[k->state]));
				n++;
			}
	}

	op = op_new(l, OP_DELETE, call, (unsigned)n);
	if (!op)
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	op->result = json_array();
	if (p.names) {
		for (size_t i = 0; i < n; i++) {
			k = link_find(l, json_string_value(json_array_get(p.names, i)));
			if (k->state == LINK_PRESENT) { /* a name listed twice */
				k->state = LINK_DELETING;
				op->links[op->nlinks++] = k;
			}
		}
	} else {
		TAILQ_FOREACH(k, &l->all, entry)
			if (streq(k->owner, p.owner)) {
				k->state = LINK_DELETING;
				op->links[op->nlinks++] = k;
			}
	}
	if (op->nlinks == 0) {
		ctl_call_reply(call, json_pack("{s:[]}", "deleted"));
		op_free(op);
		return;
	}
	delete_start(l, op);
}

struct get_params {
	const char *name;
};

void links_get(struct links *l, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("name", DECODE_STRING, true, struct get_params, name),
	};
	struct get_params p = { 0 };
	struct link *k;

	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!valid_ifname(p.name))
		return ctl_call_invalid_parameter(call, "name");
	k = link_find(l, p.name);
	if (!k)
		return ctl_call_error(call, "io.netd.NoSuchLink", json_pack("{s:s}", "name", p.name));
	ctl_call_reply(call, json_pack("{s:o}", "link", link_json(k)));
}

struct list_params {
	const char *owner;
};

void links_list(struct links *l, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("owner", DECODE_STRING, false, struct list_params, owner),
	};
	struct list_params p = { 0 };
	json_t *arr;

	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (p.owner && !valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	arr = links_array(l, p.owner);
	if (!arr)
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	ctl_call_reply(call, json_pack("{s:o}", "links", arr));
}

void links_monitor(struct links *l, struct ctl_call *call, json_t *params)
{
	struct monitor *m;
	json_t *arr;

	if (!ctl_call_decode(call, NULL, 0, NULL))
		return;
	if (!ctl_call_more(call))
		return ctl_call_error(call, "org.varlink.service.ExpectedMore", NULL);
	m = calloc(1, sizeof(*m));
	arr = links_array(l, NULL);
	if (!m || !arr) {
		free(m);
		json_decref(arr);
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	}
	m->call = call;
	TAILQ_INSERT_TAIL(&l->monitors, m, entry);
	ctl_call_set_cancel(call, monitor_cancel, l);
	ctl_call_reply_more(call, json_pack("{s:s, s:o}", "event", "state", "links", arr));
}

/* --- kernel events and reconciliation --- */

static void on_link_event(void *userdata, bool added, const struct nl_link *nlk)
{
	struct links *l = userdata;
	struct link *k = link_find(l, nlk->name);
	struct kdev *d;

	if (added) {
		d = kdev_by_index(l, nlk->ifindex);
		if (d && !streq(d->name, nlk->name)) {
			/* Renamed away from a name we track. */
			struct link *old = link_find(l, d->name);

			if (old && old->ifindex == nlk->ifindex && old->state == LINK_PRESENT)
				link_vanished(l, old, "renamed");
			else
				unmark_foreign(l, d->name);
		}
		kc_update(&l->kc, nlk);
		if (k) {
			if (k->state == LINK_CREATING && k->ifindex == 0)
				k->ifindex = nlk->ifindex; /* our create, ack to follow */
			else if (k->ifindex != nlk->ifindex && k->state == LINK_PRESENT &&
				 !kdev_by_index(l, k->ifindex)) {
				/* Ours went and someone else made one with its
				 * name. */
				link_vanished(l, k, "replaced");
				mark_foreign(l, nlk->name);
			}
			return;
		}
		mark_foreign(l, nlk->name);
		return;
	}

	d = kdev_by_index(l, nlk->ifindex);
	if (d) {
		kc_remove(&l->kc, d);
		if (l->port_gone)
			l->port_gone(l->port_data, nlk->name);
	}
	if (k && k->ifindex == nlk->ifindex) {
		if (k->state == LINK_PRESENT)
			link_vanished(l, k, "RTM_DELLINK");
		/* CREATING or DELETING: the pending request settles it. */
		return;
	}
	if (!k)
		unmark_foreign(l, nlk->name);
}

static void start_dump(struct links *l)
{
	int r;

	r = nl_dump_links(l->nl);
	if (r == 0)
		kc_clear(&l->dump); /* no reply can arrive before we return */
	else if (r == -EBUSY)
		l->resync_wanted = true;
	else if (r < 0 && !l->ready) {
		l->start_error = r;
		l->ready = true;
	}
}

static void on_events_lost(void *userdata)
{
	struct links *l = userdata;

	l->resyncs++;
	start_dump(l);
}

static void on_dump_link(void *userdata, const struct nl_link *nlk)
{
	struct links *l = userdata;

	kc_update(&l->dump, nlk);
}

struct name_list {
	struct links *l;
	char **names;
	unsigned n, cap;
};

/* Append a copy of name (a tree cannot change during its walk, so walks
 * collect names and act afterwards). */
static void name_list_add(struct name_list *nl, const char *name)
{
	if (nl->n == nl->cap) {
		unsigned cap = nl->cap ? nl->cap * 2 : 16;
		char **p = realloc(nl->names, cap * sizeof(*p));

		if (!p)
			return;
		nl->names = p;
		nl->cap = cap;
	}
	nl->names[nl->n] = strdup(name);
	if (nl->names[nl->n])
		nl->n++;
}

/* twalk_r action: foreign names whose device is gone. */
static void collect_gone_foreign(const void *node, VISIT v, void *userdata)
{
	struct name_list *nl = userdata;
	const char *name = *(char *const *)node;

	if ((v != postorder && v != leaf) || kdev_by_name(nl->l, name))
		return;
	name_list_add(nl, name);
}

/* twalk_r action: names of the current picture missing from the dump. */
static void collect_gone_ports(const void *node, VISIT v, void *userdata)
{
	struct name_list *nl = userdata;
	const char *name = (*(struct kdev *const *)node)->name;

	if ((v != postorder && v != leaf) || kc_by_name(&nl->l->dump, name))
		return;
	name_list_add(nl, name);
}

/* twalk_r action: every device of our prefixes not ours is foreign.
 * (mark_foreign changes other trees, never the one walked.) */
static void mark_foreign_walk(const void *node, VISIT v, void *userdata)
{
	if (v == postorder || v == leaf)
		mark_foreign(userdata, (*(struct kdev *const *)node)->name);
}

/* Bring netd's links and names in line with the kernel's devices, after
 * a full dump. */
static void reconcile(struct links *l)
{
	struct link *k, *tmp;
	struct op *repair = NULL;

	TAILQ_FOREACH_SAFE(k, &l->all, entry, tmp) {
		struct kdev *d = kdev_by_name(l, k->name);

		if (k->op)
			continue; /* a request in flight settles it */
		switch (k->state) {
		case LINK_PRESENT:
			if (!d)
				link_vanished(l, k, "gone at resync");
			else if (k->ifindex && d->ifindex != k->ifindex)
				link_vanished(l, k, "replaced");
			else if (!k->ifindex) {
				k->ifindex = d->ifindex;
				store_link(l, k);
			}
			break;
		case LINK_CREATING:
			/* Interrupted create (netd died before the ack): the
			 * device is ours if it is there with our kind. */
			if (d && streq(d->kind, k->kind)) {
				k->ifindex = d->ifindex;
				k->state = LINK_PRESENT;
				store_link(l, k);
				log_info("%s: create finished before netd stopped; keeping it", k->name);
			} else {
				log_info("%s: create did not happen before netd stopped; releasing", k->name);
				link_release(l, k);
			}
			break;
		case LINK_DELETING:
			if (!d) {
				log_info("%s: deletion finished before netd stopped", k->name);
				link_release(l, k);
			} else {
				/* Finish the interrupted deletion. */
				if (!repair)
					repair = op_new(l, OP_DELETE, NULL, l->nlinks);
				if (repair) {
					k->ifindex = d->ifindex;
					repair->links[repair->nlinks++] = k;
				}
			}
			break;
		}
	}
	/* Names: every foreign name without a device is free again; every
	 * device of our prefixes is ours or foreign. */
	{
		struct name_list gone = { .l = l };

		twalk_r(l->foreign, collect_gone_foreign, &gone);
		for (unsigned i = 0; i < gone.n; i++) {
			unmark_foreign(l, gone.names[i]);
			free(gone.names[i]);
		}
		free(gone.names);
	}
	twalk_r(l->kc.by_name, mark_foreign_walk, l);
	if (repair) {
		log_info("finishing %u interrupted deletions", repair->nlinks);
		delete_start(l, repair);
	}
	if (!TAILQ_EMPTY(&l->monitors) && l->ready)
		monitor_send(l, json_pack("{s:s}", "event", "resync"));
}

static void on_dump_done(void *userdata, int error)
{
	struct links *l = userdata;

	if (error == -EINTR) {
		/* Links changed during the dump: it may be inconsistent. */
		log_debug("link dump interrupted by changes, dumping again");
		start_dump(l);
		return;
	}
	if (error < 0) {
		errno = -error;
		log_error("link dump failed: %m");
		if (!l->ready) {
			l->start_error = error;
			l->ready = true;
		}
		return;
	}
	/* The dump is the new picture; events go on updating it. Devices
	 * that went while events were lost are gone for the filters too. */
	if (l->port_gone) {
		struct name_list gone = { .l = l };

		twalk_r(l->kc.by_name, collect_gone_ports, &gone);
		for (unsigned i = 0; i < gone.n; i++) {
			if (!kc_by_name(&l->dump, gone.names[i]))
				l->port_gone(l->port_data, gone.names[i]);
			free(gone.names[i]);
		}
		free(gone.names);
	}
	kc_clear(&l->kc);
	l->kc = l->dump;
	l->dump = (struct kcache){ 0 };
	reconcile(l);
	l->ready = true;
	if (l->resync_wanted) {
		l->resync_wanted = false;
		start_dump(l);
	}
}

/* --- start and stop --- */

static void count_walk(const void *node, VISIT v, void *userdata)
{
	if (v == postorder || v == leaf)
		(*(unsigned *)userdata)++;
}

static void load_link_row(void *userdata, const struct store_link_row *row)
{
	struct links *l = userdata;
	struct link *k;
	uint32_t mode = MACVLAN_MODE_BRIDGE;

	k = link_add(l, row->name, row->owner);
	if (!k)
		return;
	snprintf(k->kind, sizeof(k->kind), "%s", row->kind);
	nl_macvlan_mode_from_string(row->mode, &mode);
	k->mode = mode;
	snprintf(k->parent, sizeof(k->parent), "%s", row->parent);
	k->ifindex = row->ifindex;
	if (row->mac && mac_parse(row->mac, k->mac) == 0)
		k->has_mac = true;
	snprintf(k->created, sizeof(k->created), "%s", row->created ? row->created : "");
	k->state = streq(row->state, "present") ? LINK_PRESENT :
		   streq(row->state, "deleting") ? LINK_DELETING : LINK_CREATING;
	k->alloc = alloc_of_name(l, k->name, &k->idx);
	if (k->alloc && alloc_take(k->alloc, k->idx) < 0)
		k->alloc = NULL;
}

static void load_name_row(void *userdata, const char *prefix, unsigned idx,
			  const char *name, const char *state)
{
	struct links *l = userdata;
	unsigned i;
	struct alloc *a = alloc_of_name(l, name, &i);

	/* Owned and releasing names come with their link rows; foreign ones
	 * are checked against the kernel by the first reconciliation. */
	if (a && streq(state, "foreign")) {
		char *copy;

		if (alloc_take(a, i) == 0 && (copy = strdup(name)))
			tsearch(copy, &l->foreign, cmp_str);
	} else if (a && streq(state, "releasing") && !link_find(l, name)) {
		/* Held for filter rules; the filters say at start whether
		 * they are still there (links_port_unbound otherwise). */
		char *copy;

		if (alloc_take(a, i) == 0 && (copy = strdup(name)))
			tsearch(copy, &l->held, cmp_str);
	} else if (!a || !link_find(l, name)) {
		store_name_delete(l->store, prefix, idx);
	}
}

int links_new(struct ev_loop *loop, struct store *store, const struct links_config *cfg,
	      struct links **ret)
{
	static const struct nl_callbacks cbs = {
		.link_event = on_link_event,
		.events_lost = on_events_lost,
		.dump_link = on_dump_link,
		.dump_done = on_dump_done,
	};
	struct links *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->loop = loop;
	l->store = store;
	l->delete_group = cfg->delete_group;
	TAILQ_INIT(&l->all);
	TAILQ_INIT(&l->monitors);
	TAILQ_INIT(&l->work);
	ev_check_init(&l->work_check, work_check_cb);
	l->work_check.data = l;
	ev_idle_init(&l->work_idle, work_idle_cb);
	r = alloc_new(cfg->macvtap_prefix, &l->macvtap);
	if (r == 0)
		r = alloc_new(cfg->macvlan_prefix, &l->macvlan);
	if (r < 0) {
		log_error("name prefixes '%s', '%s': invalid", cfg->macvtap_prefix, cfg->macvlan_prefix);
		links_free(l);
		return r;
	}
	r = store_links_foreach(store, load_link_row, l);
	if (r == 0)
		r = store_names_foreach(store, load_name_row, l);
	if (r < 0) {
		errno = -r;
		log_error("cannot load links from the database: %m");
		links_free(l);
		return r;
	}
	r = nl_new(loop, &cbs, l, cfg->event_rcvbuf, &l->nl);
	if (r < 0) {
		links_free(l);
		return r;
	}
	start_dump(l);
	*ret = l;
	return 0;
}

void links_stop_monitors(struct links *l)
{
	struct monitor *m;

	while ((m = TAILQ_FIRST(&l->monitors))) {
		TAILQ_REMOVE(&l->monitors, m, entry);
		ctl_call_set_cancel(m->call, NULL, NULL);
		ctl_call_reply(m->call, NULL);
		free(m);
	}
}

struct links *links_free(struct links *l)
{
	struct link *k;

	if (!l)
		return NULL;
	links_stop_monitors(l);
	while (!TAILQ_EMPTY(&l->work))
		op_free(TAILQ_FIRST(&l->work));
	l->nl = nl_free(l->nl);
	while ((k = TAILQ_FIRST(&l->all))) {
		TAILQ_REMOVE(&l->all, k, entry);
		tdelete(k, &l->by_name, cmp_link_name);
		free(k->owner);
		free(k);
	}
	kc_clear(&l->kc);
	kc_clear(&l->dump);
	foreign_free_all(l);
	while (l->held) {
		char *name = *(char **)l->held;

		tdelete(name, &l->held, cmp_str);
		free(name);
	}
	alloc_free(l->macvtap);
	alloc_free(l->macvlan);
	free(l);
	return NULL;
}

bool links_ready(const struct links *l)
{
	return l->ready;
}

int links_start_error(const struct links *l)
{
	return l->start_error;
}

void links_flush(struct links *l)
{
	nl_flush(l->nl);
}

bool links_idle(const struct links *l)
{
	return TAILQ_EMPTY(&l->work) && nl_idle(l->nl);
}

void links_status(const struct links *l, json_t *reply)
{
	struct nl_stats ns;
	unsigned foreign = 0;

	nl_get_stats(l->nl, &ns);
	twalk_r(l->foreign, count_walk, &foreign);
	json_object_set_new(reply, "links", json_integer(l->nlinks));
	json_object_set_new(reply, "foreign_names", json_integer(foreign));
	json_object_set_new(reply, "links_created", json_integer((json_int_t)l->created));
	json_object_set_new(reply, "links_deleted", json_integer((json_int_t)l->deleted));
	json_object_set_new(reply, "links_vanished", json_integer((json_int_t)l->vanished));
	json_object_set_new(reply, "eexist_retries", json_integer((json_int_t)l->eexist_retries));
	json_object_set_new(reply, "resyncs", json_integer((json_int_t)l->resyncs));
	json_object_set_new(reply, "netlink_requests", json_integer((json_int_t)ns.messages_sent));
	json_object_set_new(reply, "netlink_batches", json_integer((json_int_t)ns.batches_sent));
	json_object_set_new(reply, "netlink_events", json_integer((json_int_t)ns.events));
	json_object_set_new(reply, "netlink_dumps", json_integer((json_int_t)ns.dumps));
	json_object_set_new(reply, "netlink_in_flight", json_integer(ns.in_flight + ns.queued));
	json_object_set_new(reply, "event_rcvbuf", json_integer(ns.event_rcvbuf));
}

int links_port_lookup(struct links *l, const char *name, struct links_port *ret)
{
	struct kdev *d = kdev_by_name(l, name);

	if (!d)
		return -ENODEV;
	memset(ret, 0, sizeof(*ret));
	ret->ifindex = d->ifindex;
	snprintf(ret->kind, sizeof(ret->kind), "%s", d->kind);
	memcpy(ret->mac, d->mac, NL_MAC_LEN);
	ret->has_mac = d->has_mac;
	return 0;
}

void links_set_port_hooks(struct links *l, bool (*bound)(void *data, const char *port),
			  void (*gone)(void *data, const char *port), void *data)
{
	l->port_bound = bound;
	l->port_gone = gone;
	l->port_data = data;
}

void links_port_unbound(struct links *l, const char *port)
{
	void **p = tfind(port, &l->held, cmp_str);
	unsigned idx;
	struct alloc *a;
	char *stored;

	if (!p)
		return;
	stored = *p;
	tdelete(port, &l->held, cmp_str);
	a = alloc_of_name(l, stored, &idx);
	if (a && !link_find(l, stored)) {
		alloc_release(a, idx);
		store_name_free(l, a, idx, stored);
	}
	free(stored);
}

static void collect_names(const void *node, VISIT v, void *userdata)
{
	struct name_list *nl = userdata;

	if (v == postorder || v == leaf)
		name_list_add(nl, *(char *const *)node);
}

void links_release_unheld(struct links *l)
{
	struct name_list held = { .l = l };

	twalk_r(l->held, collect_names, &held);
	for (unsigned i = 0; i < held.n; i++) {
		if (!l->port_bound || !l->port_bound(l->port_data, held.names[i]))
			links_port_unbound(l, held.names[i]);
		free(held.names[i]);
	}
	free(held.names);
}
