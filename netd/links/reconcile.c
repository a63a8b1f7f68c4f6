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
#include "strbuf.h"
#include "util.h"
#include "valid.h"

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
	if (k->ifindex == 0 && k->state != LINK_DELETING) {
		/* Our create, its ack to follow; or acked without its echo
		 * (lost when the request socket overflowed) before the picture
		 * showed the device: the kernel made this name ours, it was
		 * not replaced. */
		k->ifindex = nlk->ifindex;
		if (k->state == LINK_PRESENT)
			store_link(l, k);
	} else if (k->ifindex != nlk->ifindex && k->state == LINK_PRESENT &&
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

int start_dump(struct links *l)
{
	int r = l->nlo->dump_links(l->nl);

	if (r == 0) {
		kc_clear(&l->dump); /* no reply can arrive before we return */
		l->dumps_started++;
	}
	else if (r == -EBUSY)
		l->resync_wanted = true;
	else if (r < 0 && !l->ready) {
		l->start_error = r;
		l->ready = true;
	}
	return r;
}

/* Events or acks were lost: a dump rebuilds the picture. A resync is
 * counted per dump that runs for it, however many losses it answers
 * (an ack overflow reports one per batch). */
static void on_events_lost(void *userdata)
{
	struct links *l = userdata;

	if (l->resync_wanted)
		return; /* the dump after the running one answers this too */
	if (start_dump(l) == 0)
		l->resyncs++;
}

static void on_dump_link(void *userdata, const struct nl_link *nlk)
{
	struct links *l = userdata;

	kc_update(&l->dump, nlk);
}

/* --- reconciliation --- */

/* Add k to the repair op (made on first use): its device is deleted. */
static void repair_add(struct links *l, struct link *k, struct kdev *d, struct op **repair)
{
	if (!*repair)
		*repair = op_new(l, OP_DELETE, l->nlinks);
	if (*repair) {
		k->ifindex = d->ifindex;
		(*repair)->links[(*repair)->nlinks++] = k;
	} else {
		log_warn("%s: no memory to finish its deletion now, retrying at the next resync",
			 k->name);
	}
}

/* s as a JSON string: owners are printable ASCII and names plainer still,
 * so quotes and backslashes are all there is to escape. */
static void json_quote_to(struct strbuf *b, const char *s)
{
	strbuf_puts(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_puts(b, "\\");
		strbuf_append(b, s, 1);
	}
	strbuf_puts(b, "\"");
}

/* One audit row per rolled-back call: its id, owner, links and names. */
static void audit_rollback(struct links *l, uint64_t op_id, const char *owner,
			   const struct name_list *names, unsigned ndevices)
{
	struct store_peer self = { .uid = (uid_t)-1, .gid = (gid_t)-1, .pid = 0 };
	struct strbuf params = { 0 }, detail = { 0 };
	char *p, *d;
	int r;

	strbuf_printf(&params, "{\"op\":%llu,\"owner\":", (unsigned long long)op_id);
	json_quote_to(&params, owner);
	strbuf_printf(&params, ",\"links\":%u,\"devices_deleted\":%u}", names->n, ndevices);
	strbuf_puts(&detail, "{\"names\":[");
	for (unsigned i = 0; i < names->n; i++) {
		if (i)
			strbuf_puts(&detail, ",");
		json_quote_to(&detail, names->names[i]);
	}
	strbuf_puts(&detail, "]}");
	p = strbuf_steal(&params, NULL);
	d = strbuf_steal(&detail, NULL);
	if (p && d) {
		r = store_audit_append(l->store, &self, "netd.CreateLinksRolledBack", p, "ok", d);
		if (r < 0)
			log_error_errno(NULL, r, "cannot audit the rollback of an unanswered create");
	}
	free(p);
	free(d);
}

/* A create whose caller never got its answer (netd died first): all or
 * nothing, so every link of it goes, the devices made deleted. k's call
 * is found by its op id; all its links are handled here at once. */
static void rollback_call(struct links *l, struct link *first, struct op **repair)
{
	uint64_t op_id = first->op_id;
	struct name_list names = { .l = l };
	struct link *k, *tmp;
	unsigned ndevices = 0;
	char *owner = strdup(first->owner);

	/* The first link's own op is not involved: k->op marks the links
	 * handled (the repair op's, set again by delete_start). */
	TAILQ_FOREACH_SAFE(k, &l->all, entry, tmp) {
		char tag[NL_ALIAS_MAX];
		struct kdev *d;

		if (k->op_id != op_id || k->op)
			continue;
		d = kdev_by_name(l, k->name);
		link_tag(k->owner, tag);
		/* Tagged by someone else: not the device this call made (ours
		 * is tagged, or untagged if netd died before the tag). */
		if (d && d->alias[0] && !streq(d->alias, tag))
			d = NULL;
		name_list_add(&names, k->name);
		l->rolled_back++;
		if (d && streq(d->kind, k->kind) && (!k->ifindex || k->ifindex == d->ifindex)) {
			k->state = LINK_DELETING;
			ndevices++;
			repair_add(l, k, d, repair);
			k->op = *repair;
			if (!k->op)
				k->op_id = 0; /* no memory: its row keeps the id for the next start */
		} else {
			link_release(l, k);
		}
	}
	log_warn("'%s': a create of %u links was never answered (netd stopped first); "
		 "rolling it back, %u devices to delete", owner ? owner : "?", names.n, ndevices);
	audit_rollback(l, op_id, owner ? owner : "", &names, ndevices);
	name_list_free(&names);
	free(owner);
}

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
		repair_add(l, k, d, repair);
		break;
	}
}

/* A device tagged "netd:<owner>" that netd has no row for: the database
 * was lost, emptied or replaced. Take it back with its owner rather than
 * calling it foreign. */
static void adopt_one(struct links *l, const struct kdev *d)
{
	const char *owner = d->alias + strlen(LINKS_TAG_PREFIX);
	struct kdev *parent = d->parent_ifindex ? kdev_by_index(l, d->parent_ifindex) : NULL;
	struct link *k;

	if (is_foreign(l, d->name))
		unmark_foreign(l, d->name); /* frees its index for the link */
	k = link_add(l, d->name, owner);
	if (!k) {
		log_error("%s: no memory to re-adopt the link of '%s', ignoring", d->name, owner);
		return;
	}
	snprintf(k->kind, sizeof(k->kind), "%.7s", d->kind);
	k->mode = d->mode ? d->mode : MACVLAN_MODE_BRIDGE;
	snprintf(k->parent, sizeof(k->parent), "%s", parent ? parent->name : "");
	k->ifindex = d->ifindex;
	memcpy(k->mac, d->mac, NL_MAC_LEN);
	k->has_mac = d->has_mac;
	k->state = LINK_PRESENT;
	now_iso(k->created, sizeof(k->created));
	k->alloc = alloc_of_name(l, k->name, &k->idx);
	if (k->alloc && alloc_take(k->alloc, k->idx) < 0)
		k->alloc = NULL;
	store_link(l, k);
	l->adopted++;
	log_warn("%s: tagged as '%s''s but not in the database; re-adopted", k->name, owner);
	links_notify(l, LINKS_EVENT_ADDED, k, NULL);
}

/* kc_foreach action: collect the names of tagged devices netd has no link for. */
static void collect_tagged(struct kdev *d, void *userdata)
{
	struct name_list *nl = userdata;

	if (strncmp(d->alias, LINKS_TAG_PREFIX, strlen(LINKS_TAG_PREFIX)) != 0 ||
	    !valid_owner(d->alias + strlen(LINKS_TAG_PREFIX)) ||
	    (!streq(d->kind, "macvtap") && !streq(d->kind, "macvlan")) ||
	    link_find(nl->l, d->name))
		return;
	name_list_add(nl, d->name);
}

/* Re-adopt every tagged device without a link, loudly: the database did
 * not know links netd made. */
static void adopt_tagged(struct links *l)
{
	struct name_list tagged = { .l = l };
	struct store_peer self = { .uid = (uid_t)-1, .gid = (gid_t)-1, .pid = 0 };
	char params[96];
	bool empty = !l->reconciled && l->loaded_rows == 0;
	int r;

	kc_foreach(&l->kc, collect_tagged, &tagged);
	name_list_sort(&tagged);
	for (unsigned i = 0; i < tagged.n; i++) {
		struct kdev *d = kdev_by_name(l, tagged.names[i]);

		if (d)
			adopt_one(l, d);
	}
	if (tagged.n > 0) {
		if (empty)
			l->empty_db_adopted = true;
		log_error("%u links tagged as netd's were missing from the database%s; "
			  "re-adopted them with their owners", tagged.n,
			  empty ? " (the database is empty: lost, emptied or replaced?)" : "");
		snprintf(params, sizeof(params), "{\"links\":%u,\"database_empty\":%s}",
			 tagged.n, empty ? "true" : "false");
		r = store_audit_append(l->store, &self, "netd.LinksAdopted", params, "ok", NULL);
		if (r < 0)
			log_error_errno(NULL, r, "cannot audit the re-adoption");
	}
	name_list_free(&tagged);
}

/* kc_foreach action: every device of our prefixes not ours is foreign.
 * (mark_foreign changes other trees, never the cache walked.) */
static void mark_foreign_walk(struct kdev *d, void *userdata)
{
	mark_foreign(userdata, d->name);
}

/* Bring netd's links and names in line with the kernel's devices, after
 * a full dump. */
/* One audit row per reconciliation with the kernel after link events
 * were lost, and at the start when it repaired anything: what it
 * repaired, counted from the counters' moves. */
static void audit_reconcile(struct links *l, uint64_t vanished0, uint64_t rolled0,
			    uint64_t adopted0, unsigned foreign_freed, unsigned deletions)
{
	char params[64], outcome[256];
	int r;

	/* A start with nothing to repair leaves no row. */
	if (!l->reconciled && l->vanished == vanished0 && l->rolled_back == rolled0 &&
	    l->adopted == adopted0 && foreign_freed == 0 && deletions == 0)
		return;
	snprintf(params, sizeof(params), "{\"trigger\":\"%s\"}",
		 l->reconciled ? "events lost" : "start");
	snprintf(outcome, sizeof(outcome),
		 "{\"links\":%u,\"vanished\":%llu,\"rolled_back\":%llu,\"adopted\":%llu,"
		 "\"foreign_freed\":%u,\"deletions_finished\":%u}",
		 l->nlinks, (unsigned long long)(l->vanished - vanished0),
		 (unsigned long long)(l->rolled_back - rolled0),
		 (unsigned long long)(l->adopted - adopted0), foreign_freed, deletions);
	r = store_audit_event(l->store, "netd.LinksReconciled", params, "ok", outcome);
	if (r < 0)
		log_error_errno(NULL, r, "cannot audit the reconciliation, ignoring");
}

/* The audit row of an unanswered delete: its id, owner, links, and
 * whether it was finished or its links kept. */
static void audit_delete_call(struct links *l, uint64_t op_id, const char *owner, unsigned n,
			      bool finished)
{
	struct strbuf params = { 0 };
	char *p;
	int r;

	strbuf_printf(&params, "{\"op\":%llu,\"owner\":",
		      (unsigned long long)(op_id & ~LINKS_OP_DELETE));
	json_quote_to(&params, owner);
	strbuf_printf(&params, ",\"links\":%u}", n);
	p = strbuf_steal(&params, NULL);
	r = p ? store_audit_event(l->store, "netd.DeleteLinksUnanswered", p, "ok",
				  finished ? "{\"finished\":true}" : "{\"finished\":false}") :
		-ENOMEM;
	if (r < 0)
		log_error_errno(NULL, r, "cannot audit an unanswered delete");
	free(p);
}

/*
 * A DeleteLinks call that never got its answer (its id on the rows of
 * first and its other links): all or nothing. Its moves into the delete
 * group left only once every intent row was committed, so if the kernel
 * had begun (a link of the call in the delete group, or every one gone)
 * every link of the call has its row, and the deletion is finished; if
 * not, the kernel never heard of the call, and its links are present
 * again (a crash between its first and last intent rows left only some).
 */
static void resolve_delete_call(struct links *l, struct link *first)
{
	uint64_t op_id = first->op_id;
	unsigned n = 0, gone = 0;
	bool begun = false;
	struct link *k;

	TAILQ_FOREACH(k, &l->all, entry)
		if (k->op_id == op_id && !k->op) {
			struct kdev *d = kdev_by_name(l, k->name);

			n++;
			gone += !d || (k->ifindex && d->ifindex != k->ifindex);
			begun |= d && d->group == l->delete_group;
		}
	begun |= gone == n;
	log_warn("'%s': a delete of %u links was never answered (netd stopped first); %s",
		 first->owner, n, begun ? "finishing it" : "the kernel had not begun it, keeping them");
	audit_delete_call(l, op_id, first->owner, n, begun);
	TAILQ_FOREACH(k, &l->all, entry) {
		if (k->op_id != op_id || k->op)
			continue;
		k->op_id = 0;
		/* Deleting: reconcile_link() finishes it. */
		k->state = begun ? LINK_DELETING : LINK_PRESENT;
		store_link(l, k);
	}
}

static void reconcile(struct links *l)
{
	struct name_list gone = { .l = l };
	struct link *k, *tmp;
	struct op *repair = NULL;
	uint64_t vanished0 = l->vanished, rolled0 = l->rolled_back, adopted0 = l->adopted;
	unsigned foreign_freed;

	/* Unanswered creates first, whole calls at a time (a walk that
	 * releases links cannot go on from a link it freed: restart it). */
	for (bool again = true; again;) {
		again = false;
		TAILQ_FOREACH(k, &l->all, entry)
			if (k->op_id && !k->op) {
				if (k->op_id & LINKS_OP_DELETE)
					resolve_delete_call(l, k);
				else
					rollback_call(l, k, &repair);
				again = true;
				break;
			}
	}
	TAILQ_FOREACH_SAFE(k, &l->all, entry, tmp)
		if (!k->op) /* else a request in flight settles it */
			reconcile_link(l, k, &repair);
	/* Names: every foreign name without a device is free again; every
	 * device of our prefixes is ours or foreign. */
	foreign_collect_gone(l, &gone);
	for (unsigned i = 0; i < gone.n; i++)
		unmark_foreign(l, gone.names[i]);
	foreign_freed = gone.n;
	name_list_free(&gone);
	adopt_tagged(l);
	kc_foreach(&l->kc, mark_foreign_walk, l);
	audit_reconcile(l, vanished0, rolled0, adopted0, foreign_freed,
			repair ? repair->nlinks : 0);
	if (repair) {
		log_info("finishing %u interrupted deletions", repair->nlinks);
		delete_start(l, repair);
	}
	if (l->ready)
		links_notify(l, LINKS_EVENT_RESYNC, NULL, NULL);
}

/* kc_foreach action: names of the current picture missing from the dump. */
static void collect_gone_ports(struct kdev *d, void *userdata)
{
	struct name_list *nl = userdata;

	if (!kc_by_name(&nl->l->dump, d->name))
		name_list_add(nl, d->name);
}

static void on_dump_done(void *userdata, int error)
{
	struct links *l = userdata;

	if (error == -EINTR || (error == -ENOBUFS && l->ready)) {
		/* Links changed during the dump: it may be inconsistent. Or
		 * the request socket overflowed under it (acks of a large
		 * batch): requests may wait for a dump to settle them. */
		log_debug("link dump interrupted (%s), dumping again", strerror(-error));
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

		kc_foreach(&l->kc, collect_gone_ports, &gone);
		name_list_sort(&gone);
		for (unsigned i = 0; i < gone.n; i++)
			l->port_gone(l->port_data, gone.names[i]);
		name_list_free(&gone);
	}
	kc_clear(&l->kc);
	l->kc = l->dump;
	l->dump = (struct kcache){ 0 };
	reconcile(l);
	l->reconciled = true;
	l->ready = true;
	/* This dump began after the lost acks (dumps_started counts it):
	 * the kernel's answer to each is in it. */
	if (l->nlost_ops > 0 && l->dumps_started > l->lost_after)
		settle_lost(l);
	if (l->resync_wanted) {
		l->resync_wanted = false;
		if (start_dump(l) == 0)
			l->resyncs++;
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
	str_copy(k->kind, sizeof(k->kind), row->kind);
	nl_macvlan_mode_from_string(row->mode, &mode);
	k->mode = mode;
	str_copy(k->parent, sizeof(k->parent), row->parent);
	k->ifindex = row->ifindex;
	if (row->mac && mac_parse(row->mac, k->mac) == 0)
		k->has_mac = true;
	str_copy(k->created, sizeof(k->created), row->created);
	k->state = streq(row->state, "present") ? LINK_PRESENT :
		   streq(row->state, "deleting") ? LINK_DELETING : LINK_CREATING;
	k->alloc = alloc_of_name(l, k->name, &k->idx);
	if (k->alloc && alloc_take(k->alloc, k->idx) < 0)
		k->alloc = NULL;
	k->op_id = row->op;
	if ((row->op & ~LINKS_OP_DELETE) >= l->next_op_id)
		l->next_op_id = (row->op & ~LINKS_OP_DELETE) + 1;
	l->loaded_rows++;
}

static void load_name_row(void *userdata, const char *prefix, unsigned idx,
			  const char *name, const char *state)
{
	struct links *l = userdata;
	unsigned i;
	struct alloc *a = alloc_of_name(l, name, &i);

	l->loaded_rows++;
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
	int r;

	l->next_op_id = 1;
	r = store_links_foreach(l->store, load_link_row, l);

	if (r == 0)
		r = store_names_foreach(l->store, load_name_row, l);
	if (r < 0)
		return log_error_errno(NULL, r, "cannot load links from the database");
	return 0;
}
