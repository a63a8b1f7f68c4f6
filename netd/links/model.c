/*
 * model.c: netd's picture of links, kept so that lookups never ask the
 * kernel:
 *  - the kernel's devices (every device in the namespace, by ifindex and
 *    by name), from dumps and link events;
 *  - netd's links (struct link), each with an owner and a state, by name;
 *  - the name bitmaps, one per prefix: an index is taken while netd has a
 *    link of that name, a device netd did not make ("foreign") has it, or
 *    filter rules still hang on a gone link's name ("held").
 * The store mirrors the last two (tables links and names), written in the
 * loop iteration's transaction, which is committed before the kernel
 * requests of that iteration are sent.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "links-internal.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "valid.h"

static const char *const state_names[] = {
	[LINK_CREATING] = "creating",
	[LINK_PRESENT] = "present",
	[LINK_DELETING] = "deleting",
};

const char *link_state_to_string(enum link_state s)
{
	assert(s < ELEMENTSOF(state_names));
	return state_names[s];
}

const char *link_busy(const struct link *k)
{
	assert(k);
	if (k->state != LINK_PRESENT)
		return link_state_to_string(k->state);
	/* Made, but its create call is not answered yet. */
	if (k->op)
		return k->op->type == OP_CREATE ? "creating" : k->op->type == OP_SET ? "setting" :
										 "deleting";
	/* A SetLinks of it is out (set.c holds it by k->setting). */
	if (k->setting)
		return "setting";
	return NULL;
}

/* --- lookups --- */

static void link_hash_add(struct links *l, struct link *k)
{
	unsigned i = links_name_slot(l->link_nbuckets, k->name);

	k->next_name = l->link_buckets[i];
	l->link_buckets[i] = k;
}

static void link_hash_remove(struct links *l, struct link *k)
{
	for (struct link **p = &l->link_buckets[links_name_slot(l->link_nbuckets, k->name)]; *p;
	     p = &(*p)->next_name)
		if (*p == k) {
			*p = k->next_name;
			break;
		}
	k->next_name = NULL;
}

/* Room for one more link: the table doubled when full, every link put
 * in again. false only when there is no table and none can be had. */
static bool link_hash_room(struct links *l)
{
	unsigned n = l->link_nbuckets ? l->link_nbuckets * 2 : 64;
	struct link **b;
	struct link *k;

	if (l->nlinks < l->link_nbuckets)
		return true;
	b = calloc(n, sizeof(*b));
	if (!b)
		return l->link_nbuckets > 0; /* longer chains, still right */
	free(l->link_buckets);
	l->link_buckets = b;
	l->link_nbuckets = n;
	TAILQ_FOREACH(k, &l->all, entry)
		link_hash_add(l, k);
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

struct link *link_find(struct links *l, const char *name)
{
	assert(l && name);
	if (!l->link_nbuckets)
		return NULL;
	for (struct link *k = l->link_buckets[links_name_slot(l->link_nbuckets, name)]; k;
	     k = k->next_name)
		if (streq(k->name, name))
			return k;
	return NULL;
}

struct kdev *kdev_by_name(struct links *l, const char *name)
{
	return kc_by_name(&l->kc, name);
}

struct kdev *kdev_by_index(struct links *l, int ifindex)
{
	return kc_by_index(&l->kc, ifindex);
}

static void count_walk(const void *node, VISIT v, void *userdata)
{
	if (v == postorder || v == leaf)
		(*(unsigned *)userdata)++;
}

/* --- names and addresses --- */

void mac_to_string(const uint8_t *m, char *buf, size_t n)
{
	snprintf(buf, n, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

int mac_parse(const char *s, uint8_t *ret)
{
	uint8_t m[NL_MAC_LEN];

	if (valid_parse_mac(s, m) < 0 || !valid_mac_unicast(m))
		return -EINVAL;
	memcpy(ret, m, sizeof(m));
	return 0;
}

struct alloc *alloc_of_name(struct links *l, const char *name, unsigned *ret_idx)
{
	if (alloc_parse_name(l->macvtap, name, ret_idx) == 0)
		return l->macvtap;
	if (alloc_parse_name(l->macvlan, name, ret_idx) == 0)
		return l->macvlan;
	return NULL;
}

/* --- store mirror --- */

static void log_store_error(const char *what, const char *name, int r)
{
	log_error_errno(name, r, "cannot record %s in the database", what);
}

void link_tag(const char *owner, char buf[NL_ALIAS_MAX])
{
	/* Owners are at most VALID_OWNER_MAX bytes: the tag always fits. */
	snprintf(buf, NL_ALIAS_MAX, LINKS_TAG_PREFIX "%s", owner);
}

void store_link(struct links *l, const struct link *k)
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
		.op = k->op_id,
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

void store_link_forget(struct links *l, const char *name)
{
	int r = store_link_delete(l->store, name);

	if (r < 0)
		log_store_error("the removal", name, r);
}

static void store_name_free(struct links *l, struct alloc *a, unsigned idx, const char *name)
{
	int r = store_name_delete(l->store, alloc_prefix(a), idx);

	if (r < 0)
		log_store_error("the freed name", name, r);
}

/* --- netd's links --- */

struct link *link_add(struct links *l, const char *name, const char *owner)
{
	struct link *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->owner = strdup(owner);
	if (!k->owner || !link_hash_room(l)) {
		free(k->owner);
		free(k);
		return NULL;
	}
	link_hash_add(l, k);
	TAILQ_INSERT_TAIL(&l->all, k, entry);
	l->nlinks++;
	return k;
}

void link_rename(struct links *l, struct link *k, const char *name)
{
	link_hash_remove(l, k);
	snprintf(k->name, sizeof(k->name), "%s", name);
	link_hash_add(l, k);
}

/* Keep k's name taken while filter rules hang on it. */
static void link_hold_name(struct links *l, struct link *k)
{
	char *copy = strdup(k->name);
	void **p;
	int r;

	if (!copy) {
		/* Not held in memory, but its index stays taken (never
		 * released here) and the store says "releasing": the next
		 * start holds it properly. */
		log_warn("%s: no memory to hold the name for its filter rules", k->name);
		return;
	}
	p = tsearch(copy, &l->held, cmp_str);
	if (!p || *p != copy) {
		free(copy);
		return;
	}
	r = store_name_put(l->store, alloc_prefix(k->alloc), k->idx, k->name, "releasing");
	if (r < 0)
		log_store_error("the held name", k->name, r);
}

void link_release(struct links *l, struct link *k)
{
	assert(l && k);
	if (k->nreq > 0)
		l->nlo->cancel(l->nl, k);
	store_link_forget(l, k->name);
	if (k->alloc && l->port_bound && l->port_bound(l->port_data, k->name))
		/* Filter rules still name this port: the name stays taken
		 * until they are gone (links_port_unbound), so a new guest's
		 * device can never inherit an old guest's rules. */
		link_hold_name(l, k);
	else if (k->alloc) {
		alloc_release(k->alloc, k->idx);
		store_name_free(l, k->alloc, k->idx, k->name);
	}
	link_hash_remove(l, k);
	if (l->rec.cursor == k)
		l->rec.cursor = TAILQ_NEXT(k, entry); /* the reconciliation's next link */
	TAILQ_REMOVE(&l->all, k, entry);
	l->nlinks--;
	free(k->owner);
	free(k);
}

void link_vanished(struct links *l, struct link *k, const char *how)
{
	struct store_peer kernel = { .uid = (uid_t)-1, .gid = (gid_t)-1, .pid = 0 };
	json_t *o = json_pack("{s:s, s:s}", "owner", k->owner, "how", how);
	_cleanup_free_ char *outcome = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char params[128];
	int r;

	json_decref(o);
	log_warn("%s: owned by '%s', removed outside netd (%s); releasing its name",
		 k->name, k->owner, how);
	snprintf(params, sizeof(params), "{\"name\":\"%s\",\"ifindex\":%d}", k->name, k->ifindex);
	/* The outcome says whose link it was and how netd learnt it went. */
	r = store_audit_append_outcome(l->store, &kernel, "kernel.LinkRemoved", params, "ok", NULL,
				       outcome);
	if (r < 0)
		log_store_error("the audit row", k->name, r);
	l->vanished++;
	links_notify(l, LINKS_EVENT_REMOVED, k, "vanished");
	if (k->op)
		op_link_gone(k->op, k);
	link_release(l, k);
}

static void free_names(void **tree)
{
	while (*tree) {
		char *name = *(char **)*tree;

		tdelete(name, tree, cmp_str);
		free(name);
	}
}

void links_model_free(struct links *l)
{
	struct link *k;

	while ((k = TAILQ_FIRST(&l->all))) {
		TAILQ_REMOVE(&l->all, k, entry);
		free(k->owner);
		free(k);
	}
	free(l->link_buckets);
	l->link_buckets = NULL;
	l->link_nbuckets = 0;
	kc_clear(&l->kc);
	kc_clear(&l->dump);
	free_names(&l->foreign);
	free_names(&l->held);
}

/* --- foreign and held names --- */

bool is_foreign(struct links *l, const char *name)
{
	return tfind(name, &l->foreign, cmp_str) != NULL;
}

/* Add a copy of name to a tree of names; false without memory. */
static bool names_add(void **tree, const char *name)
{
	char *copy = strdup(name);
	void **p;

	if (!copy)
		return false;
	p = tsearch(copy, tree, cmp_str);
	if (!p || *p != copy)
		free(copy);
	return p != NULL;
}

void foreign_add(struct links *l, struct alloc *a, unsigned idx, const char *name)
{
	int r;

	if (!names_add(&l->foreign, name))
		/* The index stays taken, and the store row below makes the
		 * next start see it foreign. */
		log_warn("%s: no memory to remember the foreign name", name);
	r = store_name_put(l->store, alloc_prefix(a), idx, name, "foreign");
	if (r < 0)
		log_store_error("the foreign name", name, r);
	l->foreign_seen++;
}

void mark_foreign(struct links *l, const char *name)
{
	unsigned idx;
	struct alloc *a = alloc_of_name(l, name, &idx);

	if (!a || link_find(l, name) || is_foreign(l, name))
		return;
	if (alloc_take(a, idx) < 0)
		return;
	foreign_add(l, a, idx, name);
	log_info("%s: made by someone else; netd will not use this name", name);
	links_notify(l, LINKS_EVENT_FOREIGN, NULL, name);
}

void unmark_foreign(struct links *l, const char *name)
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

unsigned foreign_count(const struct links *l)
{
	unsigned n = 0;

	twalk_r(l->foreign, count_walk, &n);
	return n;
}

void foreign_add_loaded(struct links *l, const char *name)
{
	if (!names_add(&l->foreign, name))
		log_warn("%s: no memory to remember the foreign name, keeping it taken", name);
}

void held_add(struct links *l, const char *name)
{
	if (!names_add(&l->held, name))
		log_warn("%s: no memory to hold the name, keeping it taken", name);
}

void name_list_add(struct name_list *nl, const char *name)
{
	if (nl->n == nl->cap) {
		unsigned cap = nl->cap ? nl->cap * 2 : 16;
		char **p = realloc(nl->names, cap * sizeof(*p));

		if (!p) {
			log_warn("%s: no memory to list the name, skipping it", name);
			return;
		}
		nl->names = p;
		nl->cap = cap;
	}
	nl->names[nl->n] = strdup(name);
	if (nl->names[nl->n])
		nl->n++;
	else
		log_warn("%s: no memory to list the name, skipping it", name);
}

static int cmp_name_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void name_list_sort(struct name_list *nl)
{
	if (nl->n > 1)
		qsort(nl->names, nl->n, sizeof(*nl->names), cmp_name_ptr);
}

void name_list_free(struct name_list *nl)
{
	for (unsigned i = 0; i < nl->n; i++)
		free(nl->names[i]);
	free(nl->names);
	*nl = (struct name_list){ .l = nl->l };
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

void foreign_collect_gone(struct links *l, struct name_list *ret)
{
	twalk_r(l->foreign, collect_gone_foreign, ret);
}

/* --- the filters' view of ports --- */

int links_port_lookup(struct links *l, const char *name, struct links_port *ret)
{
	struct kdev *d;

	assert(l && name && ret);
	d = kdev_by_name(l, name);
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
	assert(l);
	l->port_bound = bound;
	l->port_gone = gone;
	l->port_data = data;
}

void links_port_unbound(struct links *l, const char *port)
{
	void **p;
	unsigned idx;
	struct alloc *a;
	char *stored;

	assert(l && port);
	p = tfind(port, &l->held, cmp_str);
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

	assert(l);
	twalk_r(l->held, collect_names, &held);
	for (unsigned i = 0; i < held.n; i++)
		if (!l->port_bound || !l->port_bound(l->port_data, held.names[i]))
			links_port_unbound(l, held.names[i]);
	name_list_free(&held);
}
