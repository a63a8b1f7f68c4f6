/*
 * delete.c: deleting links, the other half of the ops of engine.c.
 *
 * Deletion uses one group delete per op: each doomed link is moved into a
 * reserved interface group, then one RTM_DELLINK removes the group, so the
 * kernel synchronises once rather than once per link. An index becomes
 * free only when the kernel confirmed that its device is gone. A create's
 * rollback deletes the same way.
 *
 * A delete writes the intent rows of all its links first (LINKS_STEP per
 * loop iteration), and only then queues the moves: no request leaves
 * before the whole call's intent is committed. A DeleteLinks call's rows
 * carry its id (with LINKS_OP_DELETE) until it is answered, so a start
 * after a crash knows the call whole: finished if the kernel had begun
 * it, else taken back (reconcile.c). All or nothing, as a create.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "links-internal.h"
#include "log.h"
#include "store.h"
#include "util.h"

void delete_confirmed(struct op *op, unsigned i)
{
	struct links *l = op->l;
	struct link *k = op->links[i];
	struct kdev *d = kdev_by_name(l, k->name);

	/* Its RTM_DELLINK may still be unread: until then the device is in
	 * the picture without a link, which a reconciliation under way must
	 * not take for a foreign or tagged device of its own. */
	if (d && d->ifindex == k->ifindex)
		d->deleted = true;
	snprintf(op->deleted[op->ndeleted++], IFNAMSIZ, "%s", k->name);
	l->deleted++;
	links_notify(l, LINKS_EVENT_REMOVED, k, "deleted");
	op->links[i] = NULL;
	link_release(l, k);
}

/* The delete op is settled: links whose deletion failed stay. */
void delete_finish(struct op *op)
{
	struct links *l = op->l;

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
			 * would take it. Nobody waits for the answer. */
			k->regrouped = false;
			l->nlo->queue_set_group(l->nl, k->ifindex, 0, NULL, NULL);
		}
		store_link(l, k);
	}
	/* A rolled-back create tells its caller why it failed now. */
	op_answer(op);
}

static void group_done(void *data, int error, const char *message,
		       const struct nl_link *echo)
{
	struct link *k = data;
	struct op *op = k->op;

	k->nreq--;
	if (error == -ENOBUFS)
		return mark_lost(op, k, LOST_GROUP);
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

	op->nreq--;
	if (error == -ENOBUFS)
		return mark_lost(op, NULL, LOST_NONE);
	/* ENODEV: the group was empty (every link already gone). */
	if (error == 0 || error == -ENODEV) {
		/* Each confirmation writes rows: thousands of them are spread
		 * over loop iterations (delete_confirm_step), the op still pending. */
		op->confirming = true;
		op->confirm_next = 0;
		if (op->nlinks > LINKS_STEP) {
			work_add(op);
			return;
		}
		delete_confirm_step(op, op->nlinks);
		return;
	} else {
		log_warn("group delete failed: %s%s%s", strerror(-error),
			 message ? ": " : "", message ? message : "");
		op_fail(op, error, NULL, message);
	}
	if (--op->pending == 0 && op->all_queued)
		delete_finish(op);
}

void delete_start(struct links *l, struct op *op)
{
	assert(l && op);
	op->total = op->nlinks;
	op->intents = 0;
	op->stepped = 0;
	op->all_queued = false;
	for (unsigned i = 0; i < op->nlinks; i++)
		if (op->links[i])
			op->links[i]->op = op;
	work_add(op);
	delete_step(op, LINKS_PIECE);
}

/* Write the intents of up to budget (at most STORE_MARK_MAX) of op's
 * links; returns how many links it went through. A DeleteLinks call's
 * links, present and in no call, are marked by name in two statements
 * (two statements a link, each row written whole, were most of a
 * delete's time in the loop); any other, or rows not as the links say,
 * are written whole. */
static unsigned intents_write(struct op *op, unsigned budget)
{
	struct links *l = op->l;
	const char *names[STORE_MARK_MAX];
	struct link *ks[STORE_MARK_MAX];
	unsigned n = 0, seen = 0;

	while (op->intents < op->total && seen < budget && seen < STORE_MARK_MAX) {
		struct link *k = op->links[op->intents++];

		seen++;
		if (k && k->state == LINK_DELETING) {
			ks[n] = k;
			names[n++] = k->name;
		}
	}
	if (n > 0 && (op->type != OP_DELETE || !op->id ||
		      store_links_mark_deleting(l->store, op->id, names, n) < 0))
		for (unsigned i = 0; i < n; i++)
			store_link(l, ks[i]);
	for (unsigned i = 0; i < n; i++)
		ks[i]->txn = store_txn(l->store);
	return seen;
}

/* Record the intents of every link, then queue the moves into the delete
 * group, link by link; after the last, the one deletion of the group. The
 * intents written in this iteration commit before its flush sends the
 * first moves. */
unsigned delete_step(struct op *op, unsigned budget)
{
	struct links *l = op->l;
	unsigned done = 0;

	while (op->intents < op->total && done < budget)
		done += intents_write(op, budget - done);
	if (op->intents < op->total)
		return done;
	while (op->stepped < op->total && done < budget) {
		struct link *k = op->links[op->stepped++];

		done++;
		if (!k || k->state != LINK_DELETING)
			continue;
		if (l->nlo->queue_set_group(l->nl, k->ifindex, l->delete_group, group_done, k) == 0) {
			k->nreq++;
			op->pending++;
		} else {
			op_fail(op, -ENOMEM, k->name, NULL);
		}
	}
	if (op->stepped < op->total)
		return done;
	work_remove(op);
	op->all_queued = true;
	if (op->pending > 0 &&
	    l->nlo->queue_delete_group(l->nl, l->delete_group, delete_group_done, op) == 0) {
		op->nreq++;
		op->pending++;
		return done;
	}
	/* Nothing to ask the kernel (or no memory to ask it): settle now,
	 * unless moves are still in flight. */
	if (op->pending == 0)
		delete_finish(op);
	return done;
}

/* The links of a delete call, all checked before any change: the call is
 * all or nothing. */
static int delete_check(struct links *l, const char *owner, const char *const *names,
			size_t n, unsigned *ret_n, struct links_refusal *refusal)
{
	struct link *k;
	unsigned count = 0;

	for (size_t i = 0; names && i < n; i++) {
		k = link_find(l, names[i]);
		if (!k) {
			refusal->name = names[i];
			return -ENOENT;
		}
		if (!streq(k->owner, owner)) {
			refusal->name = names[i];
			refusal->owner = k->owner;
			return -EPERM;
		}
		if ((refusal->state = link_busy(k))) {
			refusal->name = names[i];
			return -EBUSY;
		}
	}
	if (names) {
		*ret_n = (unsigned)n;
		return 0;
	}
	TAILQ_FOREACH(k, &l->all, entry)
		if (streq(k->owner, owner)) {
			if ((refusal->state = link_busy(k))) {
				refusal->name = k->name;
				return -EBUSY;
			}
			count++;
		}
	*ret_n = count;
	return 0;
}

int links_op_delete(struct links *l, const char *owner, const char *const *names, size_t n,
		    links_done_fn done, void *data, struct links_refusal *refusal)
{
	struct link *k;
	struct op *op;
	unsigned count;
	int r;

	assert(l && owner && refusal);
	assert(n <= LINKS_MAX_COUNT);
	r = delete_check(l, owner, names, n, &count, refusal);
	if (r < 0)
		return r;
	op = op_new(l, OP_DELETE, count);
	if (!op)
		return -ENOMEM;
	op->done = done;
	op->done_data = data;
	op->id = l->next_op_id++ | LINKS_OP_DELETE;
	if (names) {
		for (size_t i = 0; i < n; i++) {
			k = link_find(l, names[i]);
			if (k->state == LINK_PRESENT) { /* not a name listed twice */
				k->state = LINK_DELETING;
				k->op_id = op->id;
				op->links[op->nlinks++] = k;
			}
		}
	} else {
		TAILQ_FOREACH(k, &l->all, entry)
			if (streq(k->owner, owner)) {
				k->state = LINK_DELETING;
				k->op_id = op->id;
				op->links[op->nlinks++] = k;
			}
	}
	if (op->nlinks == 0)
		op_answer(op);
	else
		delete_start(l, op);
	return 0;
}

