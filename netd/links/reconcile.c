/*
 * reconcile.c: keeping netd's picture in line with the kernel: the
 * start-up load from the store, link dumps (at start, after lost events,
 * again when interrupted), link events in between, and the reconciliation
 * that follows each dump (release what vanished, finish what a crash
 * interrupted, mark foreign names).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <linux/if_link.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "links-internal.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* --- events --- */

/* A device was added or changed. */
static void link_added(struct links *l, struct link *k, const struct nl_link *nlk)
{
	struct kdev *d = kdev_by_index(l, nlk->ifindex);

	if (d && !streq(d->name, nlk->name)) {
		/* Renamed away from a name we track. */
		struct link *old = link_find(l, d->name);

		if (old && old->ifindex == nlk->ifindex && old->state == LINK_PRESENT)
			link_vanished(l, old, "renamed");
		else
			unmark_foreign(l, d->name);
	}
	kc_update(&l->kc, nlk);
	if (!k) {
		mark_foreign(l, nlk->name);
		return;
	}
	if (k->state == LINK_CREATING && k->ifindex == 0)
		k->ifindex = nlk->ifindex; /* our create, ack to follow */
	else if (k->ifindex != nlk->ifindex && k->state == LINK_PRESENT &&
		 !kdev_by_index(l, k->ifindex)) {
		/* Ours went and someone else made one with its name. */
		link_vanished(l, k, "replaced");
		mark_foreign(l, nlk->name);
	}
}

static void on_link_event(void *userdata, bool added, const struct nl_link *nlk)
{
	struct links *l = userdata;
	struct link *k = link_find(l, nlk->name);
	struct kdev *d;

	if (added) {
		link_added(l, k, nlk);
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

void start_dump(struct links *l)
{
	int r = l->nlo->dump_links(l->nl);

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

/* --- reconciliation --- */

/* Bring one link in line with the kernel's picture; a link whose deletion
 * a crash interrupted joins *repair. */
static void reconcile_link(struct links *l, struct link *k, struct op **repair)
{
	struct kdev *d = kdev_by_name(l, k->name);

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
		/* Interrupted create (netd died before the ack): the device
		 * is ours if it is there with our kind. */
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
			break;
		}
		/* Finish the interrupted deletion. */
		if (!*repair)
			*repair = op_new(l, OP_DELETE, l->nlinks);
		if (*repair) {
			k->ifindex = d->ifindex;
			(*repair)->links[(*repair)->nlinks++] = k;
		} else {
			log_warn("%s: no memory to finish its deletion now, retrying at the next resync",
				 k->name);
		}
		break;
	}
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
	struct name_list gone = { .l = l };
	struct link *k, *tmp;
	struct op *repair = NULL;

	TAILQ_FOREACH_SAFE(k, &l->all, entry, tmp)
		if (!k->op) /* else a request in flight settles it */
			reconcile_link(l, k, &repair);
	/* Names: every foreign name without a device is free again; every
	 * device of our prefixes is ours or foreign. */
	foreign_collect_gone(l, &gone);
	for (unsigned i = 0; i < gone.n; i++)
		unmark_foreign(l, gone.names[i]);
	name_list_free(&gone);
	twalk_r(l->kc.by_name, mark_foreign_walk, l);
	if (repair) {
		log_info("finishing %u interrupted deletions", repair->nlinks);
		delete_start(l, repair);
	}
	if (l->ready)
		links_notify(l, LINKS_EVENT_RESYNC, NULL, NULL);
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
		log_error_errno(NULL, error, "link dump failed");
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
		for (unsigned i = 0; i < gone.n; i++)
			l->port_gone(l->port_data, gone.names[i]);
		name_list_free(&gone);
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

const struct nl_callbacks links_nl_callbacks = {
	.link_event = on_link_event,
	.events_lost = on_events_lost,
	.dump_link = on_dump_link,
	.dump_done = on_dump_done,
};

/* --- start-up load --- */

static void load_link_row(void *userdata, const struct store_link_row *row)
{
	struct links *l = userdata;
	struct link *k;
	uint32_t mode = MACVLAN_MODE_BRIDGE;

	k = link_add(l, row->name, row->owner);
	if (!k) {
		/* Its row stays; the next start loads it. */
		log_error("%s: no memory to load the link, ignoring it", row->name);
		return;
	}
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
		if (alloc_take(a, i) == 0 && !is_foreign(l, name))
			foreign_add_loaded(l, name);
	} else if (a && streq(state, "releasing") && !link_find(l, name)) {
		/* Held for filter rules; the filters say at start whether
		 * they are still there (links_port_unbound otherwise). */
		if (alloc_take(a, i) == 0)
			held_add(l, name);
	} else if (!a || !link_find(l, name)) {
		store_name_delete(l->store, prefix, idx);
	}
}

int links_load(struct links *l)
{
	int r = store_links_foreach(l->store, load_link_row, l);

	if (r == 0)
		r = store_names_foreach(l->store, load_name_row, l);
	if (r < 0)
		return log_error_errno(NULL, r, "cannot load links from the database");
	return 0;
}
