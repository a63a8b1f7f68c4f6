/*
 * reconcile.c: keeping netd's picture in line with the kernel: the
 * start-up load from the store, link dumps (at start, after lost events,
 * again when interrupted), link events in between, and the reconciliation
 * that follows each dump (release what vanished, finish what a crash
 * interrupted, mark foreign names). The reconciliation is done in pieces
 * over loop iterations (a step, enum rec_phase): at 10,000 links and
 * 30,000 devices it was one callback of 15-21 ms. netd is ready (at
 * start) once it is over; a dump wanted meanwhile starts after it.
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
#include "budget.h"
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
		 !kdev_by_index(l, k->ifindex) && nlk->ifindex > k->ifindex) {
		/* Ours went and someone else made one with its name: a newer
		 * device (the kernel numbers them upwards). An older one's is
		 * a late event, from before ours was made (its own events
		 * not read yet, so not in the picture either). */
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
	int r;

	/* One picture at a time: the next dump after this reconciliation. */
	if (reconcile_running(l)) {
		l->resync_wanted = true;
		return -EBUSY;
	}
	r = l->nlo->dump_links(l->nl);

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

/* --- reconciliation, in steps --- */

/* Bring one link in line with the kernel's picture; a link whose deletion
 * a crash interrupted joins the repair op. */
static void reconcile_link(struct links *l, struct link *k)
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
		repair_add(l, k, d);
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

static bool tagged_as_ours(const struct kdev *d)
{
	return strncmp(d->alias, LINKS_TAG_PREFIX, strlen(LINKS_TAG_PREFIX)) == 0 &&
	       valid_owner(d->alias + strlen(LINKS_TAG_PREFIX)) &&
	       (streq(d->kind, "macvtap") || streq(d->kind, "macvlan"));
}

/* kc_walk action (REC_DEVICES): a device netd has no link for is tagged
 * as netd's (collected, re-adopted in REC_ADOPT), or foreign if its name
 * is of our prefixes. One lookup of netd's links per tagged device or
 * name of our prefixes, none for the others (most of 30,000). */
static void device_walk(struct kdev *d, void *userdata)
{
	struct links *l = userdata;

	if (d->deleted)
		return; /* netd's, gone but for its event */
	if (!tagged_as_ours(d))
		mark_foreign(l, d->name);
	else if (!link_find(l, d->name))
		name_list_add(&l->rec.names, d->name);
}

/* The audit row of the re-adoption, if there was one: loudly, the
 * database did not know links netd made. */
static void audit_adopted(struct links *l)
{
	struct store_peer self = { .uid = (uid_t)-1, .gid = (gid_t)-1, .pid = 0 };
	bool empty = l->rec.first && l->loaded_rows == 0;
	unsigned n = l->rec.tagged;
	char params[96];
	int r;

	if (n == 0)
		return;
	if (empty)
		l->empty_db_adopted = true;
	log_error("%u links tagged as netd's were missing from the database%s; "
		  "re-adopted them with their owners", n,
		  empty ? " (the database is empty: lost, emptied or replaced?)" : "");
	snprintf(params, sizeof(params), "{\"links\":%u,\"database_empty\":%s}", n,
		 empty ? "true" : "false");
	r = store_audit_append(l->store, &self, "netd.LinksAdopted", params, "ok", NULL);
	if (r < 0)
		log_error_errno(NULL, r, "cannot audit the re-adoption");
}

/* One audit row per reconciliation with the kernel after link events
 * were lost, and at the start when it repaired anything: what it
 * repaired (not what link events did while it ran). */
static void audit_reconcile(struct links *l)
{
	const struct reconcile *rec = &l->rec;
	unsigned deletions = rec->repair ? rec->repair->nlinks : 0;
	char params[64], outcome[256];
	int r;

	/* A start with nothing to repair leaves no row. */
	if (rec->first && rec->vanished == 0 && rec->rolled_back == 0 && rec->adopted == 0 &&
	    rec->foreign_freed == 0 && deletions == 0)
		return;
	snprintf(params, sizeof(params), "{\"trigger\":\"%s\"}",
		 rec->first ? "start" : "events lost");
	snprintf(outcome, sizeof(outcome),
		 "{\"links\":%u,\"vanished\":%llu,\"rolled_back\":%llu,\"adopted\":%llu,"
		 "\"foreign_freed\":%u,\"deletions_finished\":%u}",
		 l->nlinks, (unsigned long long)rec->vanished,
		 (unsigned long long)rec->rolled_back, (unsigned long long)rec->adopted,
		 rec->foreign_freed, deletions);
	r = store_audit_event(l->store, "netd.LinksReconciled", params, "ok", outcome);
	if (r < 0)
		log_error_errno(NULL, r, "cannot audit the reconciliation, ignoring");
}

/* kc_drain action (REC_OLD): a device of the replaced picture whose name
 * the new one lacks. */
static void old_walk(struct kdev *d, void *userdata)
{
	struct links *l = userdata;

	if (!kdev_by_name(l, d->name))
		name_list_add(&l->rec.names, d->name);
}

/* The next of the collected names (NULL: none left). */
static const char *rec_next_name(struct reconcile *rec)
{
	return rec->next < rec->names.n ? rec->names.names[rec->next++] : NULL;
}

/* Done with the collected names: on to phase. */
static void rec_phase(struct reconcile *rec, enum rec_phase phase)
{
	name_list_free(&rec->names);
	rec->next = 0;
	rec->bucket = 0;
	rec->phase = phase;
}

/* REC_CALLS: up to RECONCILE_CHUNK links from the cursor on, or up to
 * the first of a call a stop left unanswered, handled whole (its links
 * keep the call's id until they are handled: a handled one has an op).
 * true once every link was seen. */
static bool calls_piece(struct links *l, struct reconcile *rec)
{
	for (unsigned i = 0; i < RECONCILE_CHUNK && rec->cursor; i++) {
		struct link *k = rec->cursor;

		/* The call's links may go, the next among them: link_release
		 * moves the cursor on. */
		rec->cursor = TAILQ_NEXT(k, entry);
		/* Made since the dump began (a create answered in a failed
		 * transaction): the picture may lack it; the dump that
		 * rewriting its rows asks for settles it. */
		if (!k->op_id || k->op || k->made_dump >= rec->dump)
			continue;
		if (k->op_id & LINKS_OP_DELETE)
			resolve_delete_call(l, k);
		else
			rollback_call(l, k);
		return !rec->cursor;
	}
	return !rec->cursor;
}

/* One piece of REC_OLD, REC_GONE or REC_CALLS. */
static void rec_piece_before(struct links *l, struct reconcile *rec)
{
	const char *name;

	switch (rec->phase) {
	case REC_OLD:
		/* The devices that went while events were lost are gone for
		 * the filters too (whoever watches ports). */
		if (kc_drain(&rec->old, &rec->bucket, RECONCILE_CHUNK,
			     l->port_gone ? old_walk : NULL, l)) {
			name_list_sort(&rec->names);
			rec->bucket = 0;
			rec->phase = REC_GONE;
		}
		break;
	case REC_GONE:
		for (unsigned i = 0; i < RECONCILE_CHUNK; i++) {
			if (!(name = rec_next_name(rec))) {
				rec_phase(rec, REC_CALLS);
				rec->cursor = TAILQ_FIRST(&l->all);
				break;
			}
			/* Not if an event brought it back meanwhile. */
			if (l->port_gone && !kdev_by_name(l, name))
				l->port_gone(l->port_data, name);
		}
		break;
	case REC_CALLS:
		/* Whole calls at a time: all or nothing. */
		if (calls_piece(l, rec)) {
			rec->cursor = TAILQ_FIRST(&l->all);
			rec->phase = REC_LINKS;
		}
		break;
	default:
		assert(false);
	}
}

/* One piece of REC_LINKS, REC_FOREIGN, REC_DEVICES or REC_ADOPT. */
static void rec_piece_after(struct links *l, struct reconcile *rec)
{
	const char *name;
	struct kdev *d;

	switch (rec->phase) {
	case REC_LINKS:
		for (unsigned i = 0; i < RECONCILE_CHUNK && rec->cursor; i++) {
			struct link *k = rec->cursor;

			rec->cursor = TAILQ_NEXT(k, entry);
			/* In flight: its request settles it. Made since the
			 * dump began: the picture may not show it yet. */
			if (!k->op && !(k->state == LINK_PRESENT && k->made_dump >= rec->dump))
				reconcile_link(l, k);
		}
		if (!rec->cursor) {
			/* Every foreign name without a device is free again. */
			foreign_collect_gone(l, &rec->names);
			rec->phase = REC_FOREIGN;
		}
		break;
	case REC_FOREIGN:
		for (unsigned i = 0; i < RECONCILE_CHUNK; i++) {
			if (!(name = rec_next_name(rec))) {
				rec_phase(rec, REC_DEVICES);
				kc_freeze(&l->kc, true);
				break;
			}
			if (is_foreign(l, name) && !kdev_by_name(l, name)) {
				unmark_foreign(l, name);
				rec->foreign_freed++;
			}
		}
		break;
	case REC_DEVICES:
		/* Every device of our prefixes is ours, tagged as ours, or
		 * foreign. */
		if (kc_walk(&l->kc, &rec->bucket, RECONCILE_CHUNK, device_walk, l)) {
			kc_freeze(&l->kc, false);
			name_list_sort(&rec->names);
			rec->tagged = rec->names.n;
			rec->phase = REC_ADOPT;
		}
		break;
	case REC_ADOPT:
		for (unsigned i = 0; i < RECONCILE_CHUNK; i++) {
			if (!(name = rec_next_name(rec))) {
				audit_adopted(l);
				rec_phase(rec, REC_FINISH);
				break;
			}
			d = kdev_by_name(l, name);
			if (!d || d->deleted || link_find(l, name))
				continue; /* gone, or made ours, meanwhile */
			if (tagged_as_ours(d))
				adopt_one(l, d);
			if (!link_find(l, name))
				mark_foreign(l, name);
		}
		break;
	default:
		assert(false);
	}
}

/* The reconciliation is over: the repair's deletions start, waiting
 * callers are told, the next dump (if wanted) starts. */
static void rec_finish(struct links *l, struct reconcile *rec)
{
	audit_reconcile(l);
	if (rec->repair) {
		log_info("finishing %u interrupted deletions", rec->repair->nlinks);
		delete_start(l, rec->repair);
		rec->repair = NULL;
	}
	step_stop(&rec->step);
	if (l->ready)
		links_notify(l, LINKS_EVENT_RESYNC, NULL, NULL);
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

/* One step: pieces until the slice is spent; what they did counted for
 * the audit row (events between steps are not theirs). */
static void rec_step(struct step *s)
{
	struct links *l = s->data;
	struct reconcile *rec = &l->rec;

	rec->steps++;
	do {
		uint64_t vanished = l->vanished, rolled = l->rolled_back, adopted = l->adopted;

		if (rec->phase == REC_FINISH) {
			rec_finish(l, rec);
			return;
		}
		if (rec->phase < REC_LINKS)
			rec_piece_before(l, rec);
		else
			rec_piece_after(l, rec);
		rec->vanished += l->vanished - vanished;
		rec->rolled_back += l->rolled_back - rolled;
		rec->adopted += l->adopted - adopted;
	} while (!budget_spent());
}

/* A full dump ended: it is the new picture (events go on updating it),
 * and the reconciliation with it starts, in steps from the next loop
 * iteration on. */
static void reconcile_begin(struct links *l)
{
	struct reconcile *rec = &l->rec;

	assert(!reconcile_running(l));
	rec->old = l->kc;
	l->kc = l->dump;
	l->dump = (struct kcache){ 0 };
	rec_phase(rec, REC_OLD);
	rec->cursor = NULL;
	rec->first = !l->reconciled;
	rec->dump = l->dumps_started;
	rec->vanished = rec->rolled_back = rec->adopted = 0;
	rec->foreign_freed = rec->tagged = 0;
	step_start(&rec->step);
}

void reconcile_init(struct links *l)
{
	step_init(&l->rec.step, l->loop, "links reconcile", rec_step, l);
	l->rec.names.l = l;
}

void reconcile_free(struct links *l)
{
	struct reconcile *rec = &l->rec;

	if (!rec->step.loop)
		return; /* never set up */
	step_stop(&rec->step);
	kc_clear(&rec->old);
	kc_freeze(&l->kc, false);
	name_list_free(&rec->names);
	rec->cursor = NULL;
	/* The repair op is on l->ops: links_free frees it. */
	rec->repair = NULL;
}

bool reconcile_running(const struct links *l)
{
	assert(l);
	return l->rec.step.loop && step_running(&l->rec.step);
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
	reconcile_begin(l);
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
