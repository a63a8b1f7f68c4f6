/*
 * set.c: changing links netd made (up/down, MTU, MAC) for their owner.
 *
 * One request per link (RTM_NEWLINK by ifindex), all queued in the same
 * loop iteration and so sent in one netlink batch, their acks mapped back
 * through each request's data. A set is all or nothing: if the kernel
 * refuses one link's change, every link of the call that the kernel was
 * asked to change (the refused one too: the kernel applies a request's
 * parts one after the other, so a refusal can leave the earlier parts
 * done) is set back to what netd's picture held before the call, and only
 * then is the caller told why.
 *
 * The kernel is the truth for up/down and MTU, so nothing of them is
 * stored; the MAC is kept in the link's row, written when the kernel
 * acked the change. While a set of a link waits for the kernel, another
 * set of it is refused (LinkBusy "setting"), so a set back never undoes
 * someone else's change.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "links-internal.h"
#include "log.h"
#include "util.h"

/* One link of a set. */
struct set_entry {
	struct set_op *op;
	char name[IFNAMSIZ];
	int ifindex;
	struct nl_link_change want;  /* what the caller asked */
	struct nl_link_change old;   /* what to set back: the parts of want known before */
	bool queued;                 /* the kernel was asked (to change or set back) */
};

struct set_op {
	struct links *l;
	links_done_fn done;
	void *done_data;
	unsigned pending;            /* requests not yet acked */
	int error;                   /* first refusal, -errno */
	char *error_link;
	char *error_message;
	bool reverting;
	TAILQ_ENTRY(set_op) entry;   /* in l->sets */
	unsigned n;
	struct set_entry e[];
};

static bool change_empty(const struct nl_link_change *c)
{
	return !c->set_up && !c->set_mtu && !c->set_mac;
}

/* netd's link of the entry, if it is still the device the call changed. */
static struct link *entry_link(struct links *l, const struct set_entry *e)
{
	struct link *k = link_find(l, e->name);

	return k && k->ifindex == e->ifindex ? k : NULL;
}

static void set_free(struct set_op *op)
{
	struct links *l = op->l;

	TAILQ_REMOVE(&l->sets, op, entry);
	for (unsigned i = 0; i < op->n; i++) {
		struct link *k = entry_link(l, &op->e[i]);

		if (k)
			k->setting = false;
		if (op->pending > 0 && op->e[i].queued)
			l->nlo->cancel(l->nl, &op->e[i]);
	}
	free(op->error_link);
	free(op->error_message);
	free(op);
}

/* Tell the caller how the set ended, then free it. */
static void set_answer(struct set_op *op)
{
	struct links *l = op->l;
	_cleanup_free_ struct link **v = calloc(op->n, sizeof(*v));
	struct links_op_result res = {
		.type = OP_SET,
		.l = l,
		.error = op->error ? op->error : v ? 0 : -ENOMEM,
		.error_link = op->error_link,
		.error_message = op->error_message,
	};

	for (unsigned i = 0; v && !op->error && i < op->n; i++) {
		struct link *k = entry_link(l, &op->e[i]);

		if (k)
			v[res.nlinks++] = k;
	}
	res.links = res.error ? NULL : v;
	if (op->done)
		op->done(op->done_data, &res);
	set_free(op);
}

/* The kernel did c to e's device: the picture (and the MAC's row) follow
 * at once, not only when its event arrives, so the reply shows it. */
static void set_applied(struct links *l, const struct set_entry *e,
			const struct nl_link_change *c)
{
	struct kdev *d = kdev_by_index(l, e->ifindex);
	struct link *k = entry_link(l, e);

	if (d && c->set_up)
		d->flags = c->up ? d->flags | IFF_UP : d->flags & ~(uint32_t)IFF_UP;
	if (d && c->set_mtu)
		d->mtu = c->mtu;
	if (c->set_mac) {
		if (d) {
			memcpy(d->mac, c->mac, NL_MAC_LEN);
			d->has_mac = true;
		}
		if (k) {
			memcpy(k->mac, c->mac, NL_MAC_LEN);
			k->has_mac = true;
			store_link(l, k);
		}
	}
}

static void set_done(void *data, int error, const char *message, const struct nl_link *echo);

/* Ask the kernel to set back every link it was asked to change. */
static void set_revert(struct set_op *op)
{
	struct links *l = op->l;

	op->reverting = true;
	for (unsigned i = 0; i < op->n; i++) {
		struct set_entry *e = &op->e[i];

		if (!e->queued || change_empty(&e->old))
			continue;
		if (l->nlo->queue_set_link(l->nl, e->ifindex, &e->old, set_done, e) == 0)
			op->pending++;
		else
			log_warn("%s: no memory to set the link back, ignoring", e->name);
	}
	if (op->pending > 0)
		log_info("setting %u links back after a failed change", op->pending);
}

static void set_done(void *data, int error, const char *message, const struct nl_link *echo)
{
	struct set_entry *e = data;
	struct set_op *op = e->op;
	struct links *l = op->l;

	op->pending--;
	if (error == 0) {
		set_applied(l, e, op->reverting ? &e->old : &e->want);
	} else if (op->reverting) {
		log_warn("%s: cannot set the link back: %s, ignoring", e->name, strerror(-error));
	} else {
		/* -ENOBUFS (the ack was lost) is a failure too: the set back
		 * makes the outcome known either way. */
		log_warn("%s: change refused: %s%s%s", e->name, strerror(-error),
			 message ? ": " : "", message ? message : "");
		if (!op->error) {
			op->error = error;
			op->error_link = strdup(e->name);
			op->error_message = message ? strdup(message) : NULL;
		}
	}
	if (op->pending > 0)
		return;
	if (op->error && !op->reverting) {
		set_revert(op);
		if (op->pending > 0)
			return;
	}
	set_answer(op);
}

/* The checks of a set, all before any change: the links exist, are the
 * owner's, are present and not being set, and an MTU fits their parent. */
static int set_check(struct links *l, const struct links_set_req *req,
		     struct links_refusal *refusal)
{
	for (unsigned i = 0; i < req->n; i++) {
		struct link *k = link_find(l, req->names[i]);
		struct kdev *parent;
		const char *busy;

		refusal->name = req->names[i];
		if (!k)
			return -ENOENT;
		if (!streq(k->owner, req->owner)) {
			refusal->owner = k->owner;
			return -EPERM;
		}
		busy = link_busy(k);
		if (busy || k->ifindex <= 0) {
			refusal->state = busy ? busy : link_state_to_string(k->state);
			return -EBUSY;
		}
		parent = k->parent_ifindex > 0 ? kdev_by_index(l, k->parent_ifindex) : NULL;
		if (!parent)
			parent = kdev_by_name(l, k->parent);
		/* The kernel refuses a macvlan's MTU above its parent's. */
		if (req->changes[i].set_mtu && parent && parent->mtu > 0 &&
		    req->changes[i].mtu > parent->mtu)
			return -ERANGE;
	}
	refusal->name = NULL;
	return 0;
}

/* The i-th link of a set: what it asks and what it would set back. */
static void set_entry_init(struct links *l, struct set_op *op, unsigned i,
			   const struct links_set_req *req)
{
	struct set_entry *e = &op->e[i];
	struct link *k = link_find(l, req->names[i]);
	struct kdev *d = kdev_by_index(l, k->ifindex);

	e->op = op;
	snprintf(e->name, sizeof(e->name), "%s", k->name);
	e->ifindex = k->ifindex;
	e->want = req->changes[i];
	if (d) {
		e->old.set_up = e->want.set_up;
		e->old.up = d->flags & IFF_UP;
		e->old.set_mtu = e->want.set_mtu && d->mtu > 0;
		e->old.mtu = d->mtu;
		e->old.set_mac = e->want.set_mac && d->has_mac;
		memcpy(e->old.mac, d->mac, NL_MAC_LEN);
	}
	k->setting = true;
}

int links_op_set(struct links *l, const struct links_set_req *req, links_done_fn done,
		 void *data, struct links_refusal *refusal)
{
	struct set_op *op;
	int r;

	assert(l && req && refusal);
	assert(req->owner && req->names && req->changes);
	assert(req->n >= 1 && req->n <= LINKS_MAX_COUNT);
	r = set_check(l, req, refusal);
	if (r < 0)
		return r;
	op = calloc(1, sizeof(*op) + req->n * sizeof(op->e[0]));
	if (!op)
		return -ENOMEM;
	op->l = l;
	op->done = done;
	op->done_data = data;
	op->n = req->n;
	TAILQ_INSERT_TAIL(&l->sets, op, entry);
	for (unsigned i = 0; i < req->n; i++)
		set_entry_init(l, op, i, req);
	for (unsigned i = 0; i < req->n && !op->error; i++) {
		struct set_entry *e = &op->e[i];

		if (change_empty(&e->want))
			continue;
		if (l->nlo->queue_set_link(l->nl, e->ifindex, &e->want, set_done, e) < 0) {
			op->error = -ENOMEM;
			break;
		}
		e->queued = true;
		op->pending++;
	}
	/* Nothing to ask the kernel; or no memory to ask all of it, and what
	 * was asked is set back once answered. */
	if (op->pending == 0)
		set_answer(op);
	return 0;
}

void links_sets_stop(struct links *l)
{
	struct links_op_result res = { .type = OP_SET, .l = l, .error = -ESHUTDOWN };
	struct set_op *op;

	assert(l);
	TAILQ_FOREACH(op, &l->sets, entry)
		if (op->done) {
			op->done(op->done_data, &res);
			op->done = NULL;
		}
}

void links_sets_free(struct links *l)
{
	assert(l);
	while (!TAILQ_EMPTY(&l->sets))
		set_free(TAILQ_FIRST(&l->sets));
}
