/*
 * settle.c: requests whose acks were lost (the request socket overflowed,
 * or the sender died), settled from a dump started after the loss: what
 * the kernel holds says what it did with each.
 */
#include "config.h"

#include <assert.h>
#include <string.h>

#include "links-internal.h"
#include "log.h"
#include "util.h"

/* What the kernel did with k's lost request, as the dump shows it. */
static void settle_lost_link(struct op *op, unsigned i)
{
	struct links *l = op->l;
	struct link *k = op->links[i];
	struct kdev *d = kdev_by_name(l, k->name);
	enum link_lost what = k->lost;

	k->lost = LOST_NONE;
	switch (what) {
	case LOST_CREATE:
		if (d && streq(d->kind, k->kind)) {
			struct nl_link echo = { .ifindex = d->ifindex, .has_mac = d->has_mac };

			memcpy(echo.mac, d->mac, NL_MAC_LEN);
			log_info("%s: the create's ack was lost; the device is there, keeping it", k->name);
			create_made(l, k, &echo);
			queue_tag(l, op, k);
		} else {
			log_warn("%s: the create's ack was lost and the device is not there", k->name);
			op_fail(op, -EIO, k->name, "netlink acknowledgement lost; the link was not made");
			op->links[i] = NULL;
			link_release(l, k);
		}
		break;
	case LOST_TAG: {
		char tag[NL_ALIAS_MAX];

		link_tag(k->owner, tag);
		if (d && !streq(d->alias, tag))
			queue_tag(l, op, k);
		break;
	}
	case LOST_GROUP:
		if (!d)
			k->gone = true;
		else if (d->group == l->delete_group)
			k->regrouped = true;
		else
			op_fail(op, -EIO, k->name, "netlink acknowledgement lost; the link was not moved");
		break;
	case LOST_NONE:
		break;
	}
}

/* The group delete's ack was lost: the links moved into the group that
 * are no longer there were deleted. */
static void settle_lost_group_delete(struct op *op)
{
	op->lost_group_delete = false;
	for (unsigned i = 0; i < op->nlinks; i++) {
		struct link *k = op->links[i];

		if (!k || (!k->regrouped && !k->gone))
			continue;
		if (!kdev_by_name(op->l, k->name))
			delete_confirmed(op, i);
		else
			op_fail(op, -EIO, k->name, "netlink acknowledgement lost; the link is still there");
	}
}

/* Settle op's lost requests; op may be answered and freed on return. */
static void settle_lost_op(struct op *op)
{
	unsigned n = op->nlost;

	op->nlost = 0;
	op->l->nlost_ops--;
	for (unsigned i = 0; i < op->nlinks; i++)
		if (op->links[i] && op->links[i]->lost != LOST_NONE)
			settle_lost_link(op, i);
	if (op->lost_group_delete)
		settle_lost_group_delete(op);
	op->pending -= n;
	if (op->pending == 0 && op->all_queued) {
		if (op->type == OP_CREATE && !op->rolling_back)
			create_finish(op);
		else
			delete_finish(op);
	}
}

void settle_lost(struct links *l)
{
	struct op *op, *tmp;

	assert(l);
	TAILQ_FOREACH_SAFE(op, &l->ops, entry, tmp)
		if (op->nlost > 0)
			settle_lost_op(op);
}
