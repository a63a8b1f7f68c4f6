/*
 * engine.c: ops, the creates and deletes waiting for the kernel.
 *
 * An op writes an intent row for each link, queues its kernel request
 * (sent after the iteration's commit), and is settled when every request
 * is answered. Work is spread over loop iterations, LINKS_STEP links per
 * iteration in all, so a call for thousands of links never makes one long
 * callback. A create is all or nothing: if one link fails, the links
 * already made are deleted again (rollback) before the caller hears why.
 * EEXIST (someone took the name between our look and the kernel's create)
 * marks that index foreign and retries with the next free name, bounded.
 *
 * Deletes are in delete.c.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "budget.h"
#include "links-internal.h"
#include "log.h"
#include "stats.h"
#include "store.h"
#include "util.h"

static unsigned create_step(struct op *op, unsigned budget);

/* --- ops --- */

struct op *op_new(struct links *l, enum op_type type, unsigned n)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->links = calloc(n ? n : 1, sizeof(*op->links));
	op->deleted = calloc(n ? n : 1, sizeof(*op->deleted));
	if (!op->links || !op->deleted) {
		free(op->links);
		free(op->deleted);
		free(op);
		return NULL;
	}
	op->type = type;
	op->l = l;
	TAILQ_INSERT_TAIL(&l->ops, op, entry);
	return op;
}

void op_free(struct op *op)
{
	if (!op)
		return;
	work_remove(op);
	TAILQ_REMOVE(&op->l->ops, op, entry);
	/* An op freed with requests out (only at links_free) must not be
	 * reached by their completions, nor by those of its links, which
	 * reach it through k->op. */
	for (unsigned i = 0; i < op->nlinks; i++) {
		struct link *k = op->links[i];

		if (!k || k->op != op)
			continue;
		k->op = NULL;
		if (k->nreq > 0) {
			op->l->nlo->cancel(op->l->nl, k);
			k->nreq = 0;
		}
	}
	if (op->nreq > 0)
		op->l->nlo->cancel(op->l->nl, op);
	free(op->names);
	free(op->macs);
	free(op->owner);
	free(op->links);
	free(op->deleted);
	free(op->error_link);
	free(op->error_message);
	free(op->storage_error);
	strbuf_done(&op->reply);
	free(op);
}

void op_fail(struct op *op, int error, const char *name, const char *message)
{
	if (op->error)
		return;
	op->error = error;
	/* Without memory for the texts the caller still gets the errno. */
	op->error_link = name ? strdup(name) : NULL;
	op->error_message = message ? strdup(message) : NULL;
}

/* Tell the op's caller how it ended, then free it. */
void op_answer(struct op *op)
{
	struct links_op_result res = {
		.type = op->type,
		.l = op->l,
		.error = op->error,
		.error_link = op->error_link,
		.error_message = op->error_message,
		.storage_error = op->storage_error,
		.links = op->error ? NULL : op->links,
		.nlinks = op->error ? 0 : op->nlinks,
		.deleted = (const char (*)[IFNAMSIZ])op->deleted,
		.ndeleted = op->ndeleted,
		.reply_text = op->error ? NULL : strbuf_steal(&op->reply, NULL),
	};

	for (unsigned i = 0; i < op->nlinks; i++)
		if (op->links[i]) {
			op->links[i]->op = NULL;
			op->links[i]->op_id = 0;
		}
	if (op->id) {
		/* Answered: the rows leave the call in the transaction that
		 * carries the reply, so a start after a crash rolls back
		 * exactly the calls whose callers heard nothing. */
		int r = store_links_settle(op->l->store, op->id);

		if (r < 0)
			log_error_errno(NULL, r, "cannot record that a create was answered");
	}
	if (op->done)
		op->done(op->done_data, &res);
	else
		free(res.reply_text);
	op_free(op);
}

void op_link_gone(struct op *op, struct link *k)
{
	assert(op && k);
	for (unsigned i = 0; i < op->nlinks; i++)
		if (op->links[i] == k)
			op->links[i] = NULL;
	if (op->type != OP_CREATE)
		return;
	op_fail(op, -ENODEV, k->name, "removed outside netd before the call was answered");
	if (k->nreq > 0) {
		/* Its tag: never answered now. */
		op->l->nlo->cancel(op->l->nl, k);
		op->pending -= k->nreq;
		k->nreq = 0;
		if (op->pending == 0 && op->all_queued && !op->encoding)
			create_finish(op);
	}
}

/* --- lost acks --- */

/* k's request (or, k NULL, op's group delete) lost its ack: it stays
 * pending until a dump started from now on says what the kernel did. */
void mark_lost(struct op *op, struct link *k, enum link_lost what)
{
	struct links *l = op->l;

	if (k)
		k->lost = what;
	else
		op->lost_group_delete = true;
	if (op->nlost++ == 0)
		l->nlost_ops++;
	l->lost_after = l->dumps_started;
}

/* --- create --- */

static void create_done(void *data, int error, const char *message,
			const struct nl_link *echo);

static int queue_create(struct links *l, struct link *k)
{
	int r = l->nlo->queue_create(l->nl, k->name, k->kind, k->parent_ifindex, k->mode,
				     k->want_mac ? k->mac : NULL, k->op && k->op->up,
				     create_done, k);

	if (r == 0)
		k->nreq++;
	return r;
}

/* The create op is settled: answer it, or undo it first. */
/* Queue the tags of op's links made since its last batch of tags. True
 * if any was queued (op is then pending again). */
static bool tags_queue(struct op *op)
{
	unsigned before = op->pending;

	for (unsigned i = 0; i < op->nlinks; i++) {
		struct link *k = op->links[i];

		if (k && k->untagged) {
			k->untagged = false;
			queue_tag(op->l, op, k);
		}
	}
	return op->pending > before;
}

/* Encode up to budget links of op's reply; op is answered (and freed)
 * after the last. Returns at least 1 (progress). */
static unsigned encode_step(struct op *op, unsigned budget)
{
	unsigned done = 0;

	if (op->error) {
		/* A link went meanwhile (op_link_gone): no reply to give. */
		op->encoding = false;
		strbuf_done(&op->reply);
		work_remove(op);
		create_finish(op);
		return 1;
	}

	while (op->encode_next < op->nlinks && done < budget) {
		links_reply_encode(&op->reply, op->l, op->links[op->encode_next], op->encode_next,
				   op->nlinks);
		op->encode_next++;
		done++;
	}
	if (op->encode_next < op->nlinks)
		return done ? done : 1;
	op->encoding = false;
	work_remove(op);
	op_answer(op);
	return done ? done : 1;
}

/* Write up to budget rows of op's links made since the last step; op
 * may be finished (and freed) when the last is written. Returns at least
 * 1 (progress). */
static unsigned rows_step(struct op *op, unsigned budget)
{
	unsigned done = 0;

	/* A failed call's links are rolled back: no row to write. */
	if (op->error)
		op->rows_next = op->nlinks;
	while (op->rows_next < op->nlinks && done < budget) {
		struct link *k = op->links[op->rows_next++];

		if (k && k->row_stale) {
			k->row_stale = false;
			store_link(op->l, k);
			done++;
		}
	}
	if (op->rows_next < op->nlinks)
		return done ? done : 1;
	op->writing_rows = false;
	work_remove(op);
	if (op->pending == 0 && op->all_queued)
		create_finish(op);
	return done ? done : 1;
}

static bool rows_stale(const struct op *op)
{
	for (unsigned i = 0; i < op->nlinks; i++)
		if (op->links[i] && op->links[i]->row_stale)
			return true;
	return false;
}

void create_finish(struct op *op)
{
	unsigned present = 0;
	bool tags;

	if (op->writing_rows)
		return; /* rows_step() calls again after its last row */
	/* The tags go out once every create of the call is acked, all in
	 * one go: queued as each ack came in, they left one small batch per
	 * loop iteration (80 batches for 82 links). The rows are written
	 * in the steps that follow, while the kernel tags. */
	tags = !op->error && tags_queue(op);
	if (!op->error && rows_stale(op)) {
		op->writing_rows = true;
		op->rows_next = 0;
		work_add(op);
		/* The first piece now, as a call's first piece of creates;
		 * op may be answered and freed by it. */
		rows_step(op, LINKS_PIECE);
		return;
	}
	if (tags)
		return;
	if (!op->error && op->done && op->nlinks > 0) {
		/* The reply, in pieces: the links stay the op's meanwhile. */
		op->encoding = true;
		op->encode_next = 0;
		work_add(op);
		encode_step(op, LINKS_PIECE);
		return;
	}
	if (op->error && !op->rolling_back) {
		/* All or nothing: delete what this call did create. */
		for (unsigned i = 0; i < op->nlinks; i++)
			if (op->links[i] && op->links[i]->state == LINK_PRESENT)
				op->links[i]->state = LINK_DELETING, present++;
		if (present) {
			op->rolling_back = true;
			log_info("rolling back %u links of a failed create", present);
			delete_start(op->l, op);
			return;
		}
	}
	op_answer(op);
}

/* EEXIST for k: its index becomes foreign, k tries the next free name.
 * 0 if the retry is queued, else -errno for k's failure. */
static int create_retry(struct links *l, struct link *k)
{
	char old[IFNAMSIZ], name[IFNAMSIZ];
	unsigned idx;
	int r;

	snprintf(old, sizeof(old), "%s", k->name);
	store_link_forget(l, k->name);
	foreign_add(l, k->alloc, k->idx, k->name);
	l->eexist_retries++;
	r = alloc_take_lowest(k->alloc, &idx);
	if (r < 0) {
		k->alloc = NULL; /* its old index is the foreign one's now */
		return r;
	}
	k->idx = idx;
	alloc_format_name(k->alloc, idx, name, sizeof(name));
	link_rename(l, k, name);
	k->retries++;
	k->ifindex = 0;
	store_link(l, k);
	k->txn = store_txn(l->store);
	log_info("%s: taken by someone else meanwhile, trying %s", old, k->name);
	return queue_create(l, k) == 0 ? 0 : -ENOMEM;
}

/* The kernel made k: take what it says about the device. */
void create_made(struct links *l, struct link *k, const struct nl_link *echo)
{
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
	/* The picture may lack it until its event is read. */
	k->made_dump = l->dumps_started;
	/* A call's links are written once all are made, a piece a step
	 * (rows_step): a row per ack made a transaction per loop
	 * iteration. Until then the intent row stands, which is what a
	 * start after a crash needs: an unanswered create is rolled back
	 * whole either way. */
	if (k->op && !k->op->rolling_back)
		k->row_stale = true;
	else
		store_link(l, k);
	l->created++;
	links_notify(l, LINKS_EVENT_ADDED, k, NULL);
}

static void tag_done(void *data, int error, const char *message,
		     const struct nl_link *echo)
{
	struct link *k = data;
	struct op *op = k->op;

	k->nreq--;
	if (error == -ENOBUFS)
		return mark_lost(op, k, LOST_TAG);
	/* Untagged, the link is still netd's by its row; only a lost
	 * database would not know it. Not worth failing the call. */
	if (error < 0)
		log_warn("%s: cannot tag the link as '%s''s: %s, ignoring", k->name, k->owner,
			 strerror(-error));
	if (--op->pending == 0 && op->all_queued)
		create_finish(op);
}

/* Tag k in the kernel as its owner's (IFLA_IFALIAS "netd:<owner>"), so
 * that a lost or empty database can re-adopt it. The call is answered
 * after the tag is acked: an answered link is always tagged. A crash
 * between the create and its tag leaves the intent row, which the next
 * start rolls back. */
void queue_tag(struct links *l, struct op *op, struct link *k)
{
	char tag[NL_ALIAS_MAX];

	if (k->ifindex <= 0)
		return;
	link_tag(k->owner, tag);
	if (l->nlo->queue_set_alias(l->nl, k->ifindex, tag, tag_done, k) == 0) {
		k->nreq++;
		op->pending++;
	}
}

static void create_done(void *data, int error, const char *message,
			const struct nl_link *echo)
{
	struct link *k = data;
	struct op *op = k->op;
	struct links *l = op->l;

	k->nreq--;
	if (error == -ENOBUFS)
		return mark_lost(op, k, LOST_CREATE);
	if (error == -EEXIST && k->alloc && k->retries < LINKS_EEXIST_RETRIES && !op->error) {
		error = create_retry(l, k);
		if (error == 0)
			return; /* still pending */
		message = NULL;
	}
	if (error == 0) {
		create_made(l, k, echo);
		k->untagged = true; /* tagged with the rest: see create_finish() */
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

/* Name the i-th link of a create: its name and bitmap index. false (and
 * the op failed) when no name can be had. */
static bool create_name(struct op *op, unsigned i, char name[IFNAMSIZ],
			struct alloc **ret_alloc, unsigned *ret_idx)
{
	struct alloc *na;
	unsigned idx = 0;

	if (op->names) {
		snprintf(name, IFNAMSIZ, "%s", op->names[i]);
		na = alloc_of_name(op->l, name, &idx);
		/* Checked free at the call; taken since? The kernel's
		 * EEXIST will say so. */
		if (na && alloc_take(na, idx) < 0)
			na = NULL;
	} else {
		if (alloc_take_lowest(op->alloc, &idx) < 0) {
			/* Others took the rest since the call was checked. */
			op_fail(op, -ENOSPC, NULL, "no free names left");
			return false;
		}
		alloc_format_name(op->alloc, idx, name, IFNAMSIZ);
		na = op->alloc;
	}
	*ret_alloc = na;
	*ret_idx = idx;
	return true;
}

/* Prepare the i-th link of a create: name, intent row, request. */
static bool create_one(struct op *op, unsigned i)
{
	struct links *l = op->l;
	char name[IFNAMSIZ];
	struct alloc *na;
	unsigned idx;
	struct link *k;

	if (!create_name(op, i, name, &na, &idx))
		return false;
	k = link_add(l, name, op->owner);
	if (!k) {
		if (na)
			alloc_release(na, idx);
		op_fail(op, -ENOMEM, name, NULL);
		return false;
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
	k->op_id = op->id;
	op->links[op->nlinks++] = k;
	/* The intent row, committed before the request leaves. */
	store_link(l, k);
	k->txn = store_txn(l->store);
	if (queue_create(l, k) < 0) {
		op_fail(op, -ENOMEM, name, NULL);
		return false;
	}
	op->pending++;
	return true;
}

/* Prepare up to budget of a create's links. */
static unsigned create_step(struct op *op, unsigned budget)
{
	unsigned done = 0;

	while (op->stepped < op->total && done < budget && !op->error) {
		done++;
		if (!create_one(op, op->stepped++))
			break;
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

/* The checks of a create that depend on the picture: the parent exists,
 * explicit names are free, the prefix has room. */
static int create_check(struct links *l, const struct links_create_req *req,
			struct alloc *a, struct kdev **ret_parent,
			struct links_refusal *refusal)
{
	struct kdev *parent = kdev_by_name(l, req->parent);

	if (!parent) {
		refusal->name = req->parent;
		return -ENODEV;
	}
	for (unsigned i = 0; req->names && i < req->count; i++) {
		const char *name = req->names[i];
		unsigned idx;
		struct alloc *na = alloc_of_name(l, name, &idx);

		if (link_find(l, name) || kdev_by_name(l, name) || (na && alloc_is_taken(na, idx))) {
			refusal->name = name;
			return -EEXIST;
		}
	}
	if (!req->names && alloc_capacity(a) - alloc_count(a) < req->count) {
		refusal->name = alloc_prefix(a);
		return -ENOSPC;
	}
	*ret_parent = parent;
	return 0;
}

int links_op_create(struct links *l, const struct links_create_req *req,
		    links_done_fn done, void *data, struct links_refusal *refusal)
{
	struct alloc *a;
	struct kdev *parent;
	struct op *op;
	int r;

	assert(l && req && refusal);
	assert(req->owner && req->kind && req->parent);
	assert(req->count >= 1 && req->count <= LINKS_MAX_COUNT);
	assert(streq(req->kind, "macvtap") || streq(req->kind, "macvlan"));

	a = streq(req->kind, "macvtap") ? l->macvtap : l->macvlan;
	r = create_check(l, req, a, &parent, refusal);
	if (r < 0)
		return r;
	op = op_new(l, OP_CREATE, req->count);
	if (!op)
		return -ENOMEM;
	op->owner = strdup(req->owner);
	if (req->names)
		op->names = calloc(req->count, sizeof(*op->names));
	if (req->macs)
		op->macs = calloc(req->count, sizeof(*op->macs));
	if (!op->owner || (req->names && !op->names) || (req->macs && !op->macs)) {
		op_free(op);
		return -ENOMEM;
	}
	for (unsigned i = 0; req->names && i < req->count; i++)
		snprintf(op->names[i], sizeof(op->names[i]), "%s", req->names[i]);
	if (req->macs)
		memcpy(op->macs, req->macs, req->count * sizeof(*op->macs));
	op->done = done;
	op->done_data = data;
	op->id = l->next_op_id++;
	op->total = req->count;
	op->alloc = req->names ? NULL : a;
	snprintf(op->kind, sizeof(op->kind), "%s", req->kind);
	op->mode = req->mode;
	op->up = !req->down;
	snprintf(op->parent, sizeof(op->parent), "%s", parent->name);
	op->parent_ifindex = parent->ifindex;
	work_add(op);
	create_step(op, LINKS_PIECE);
	return 0;
}

/* --- a failed store transaction --- */

/* Does op have an intent row in transaction txn? */
static bool op_in_txn(const struct op *op, uint64_t txn)
{
	for (unsigned i = 0; i < op->nlinks; i++)
		if (op->links[i] && op->links[i]->op == op && op->links[i]->txn == txn)
			return true;
	return false;
}

/* Undo the links of op whose intent rows were in the failed transaction
 * txn: their requests are still queued (nothing leaves before its commit),
 * so cancelling them means the kernel never hears of them. A delete's
 * moves wait for all its intents, so none has left yet: all its links are
 * undone, and the call changes nothing. true if op had any. */
static bool op_undo_txn(struct op *op, uint64_t txn)
{
	struct links *l = op->l;
	bool hit = op_in_txn(op, txn), all = hit && op->type == OP_DELETE;

	for (unsigned i = 0; i < op->nlinks && hit; i++) {
		struct link *k = op->links[i];

		if (!k || k->op != op || (!all && k->txn != txn))
			continue;
		if (k->nreq > 0) {
			l->nlo->cancel(l->nl, k);
			op->pending -= k->nreq;
			k->nreq = 0;
		}
		op->links[i] = NULL;
		if (op->type == OP_CREATE) {
			link_release(l, k);
		} else {
			k->op = NULL;
			if (k->op_id & LINKS_OP_DELETE)
				k->op_id = 0; /* the call is over (a create's id stays) */
			k->state = LINK_PRESENT;
		}
	}
	/* A delete's group deletion is queued after its last move, so in
	 * the same transaction or a later one. */
	if (hit && op->type == OP_DELETE && op->nreq > 0) {
		l->nlo->cancel(l->nl, op);
		op->pending -= op->nreq;
		op->nreq = 0;
	}
	return hit;
}

void links_storage_failed(struct links *l, uint64_t txn, const char *reason)
{
	struct op *op, *tmp;

	assert(l && reason);
	TAILQ_FOREACH_SAFE(op, &l->ops, entry, tmp) {
		/* A rollback deletes what a failed create made: let it. */
		if (op->rolling_back || !op_undo_txn(op, txn))
			continue;
		op_fail(op, -EIO, NULL, reason);
		if (!op->storage_error)
			op->storage_error = strdup(reason);
		if (op->type == OP_DELETE) {
			/* Nothing more is queued; what is left stays
			 * (delete_finish). */
			op->total = op->stepped;
		}
		if (op->pending > 0 || !op->all_queued)
			continue; /* settled when the rest is answered or stepped */
		if (op->type == OP_CREATE)
			create_finish(op);
		else
			delete_finish(op);
	}
}

/* --- work spread over iterations --- */

void work_add(struct op *op)
{
	struct links *l = op->l;

	if (op->on_work_list)
		return;
	op->on_work_list = true;
	TAILQ_INSERT_TAIL(&l->work, op, work_entry);
	ev_check_start(l->loop, &l->work_check);
	ev_idle_start(l->loop, &l->work_idle);
}

void work_remove(struct op *op)
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

/* Confirm up to budget links of a finished group delete; the op is
 * settled after the last. Returns at least 1 (progress). */
unsigned delete_confirm_step(struct op *op, unsigned budget)
{
	unsigned done = 0;

	while (op->confirm_next < op->nlinks && done < budget) {
		struct link *k = op->links[op->confirm_next];

		if (k && (k->regrouped || k->gone)) {
			delete_confirmed(op, op->confirm_next);
			done++;
		}
		op->confirm_next++;
	}
	if (op->confirm_next < op->nlinks)
		return done ? done : 1;
	op->confirming = false;
	work_remove(op);
	if (--op->pending == 0 && op->all_queued)
		delete_finish(op);
	return done ? done : 1;
}

/* Do up to budget links of op's work. Returns how many were done; the op
 * may be finished (and freed) when it returns. */
static unsigned op_step(struct op *op, unsigned budget)
{
	if (op->encoding)
		return encode_step(op, budget);
	if (op->writing_rows)
		return rows_step(op, budget);
	if (op->confirming)
		return delete_confirm_step(op, budget);
	if (op->type == OP_CREATE && !op->rolling_back)
		return create_step(op, budget);
	return delete_step(op, budget);
}

static void work_check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	STATS_CALLBACK("links work");
	struct links *l = w->data;
	uint64_t start = now_usec();
	unsigned budget = LINKS_STEP;
	struct op *op;

	/* Oldest call first: finish it before starting on the next. */
	while (budget > 0 && (op = TAILQ_FIRST(&l->work))) {
		budget -= op_step(op, budget < LINKS_PIECE ? budget : LINKS_PIECE);
		if (now_usec() - start >= LINKS_STEP_US)
			break;
	}
}

static void work_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Nothing: being active keeps ev_run from blocking while
	 * work_check_cb has work. */
}

void links_work_init(struct links *l)
{
	TAILQ_INIT(&l->ops);
	TAILQ_INIT(&l->work);
	ev_check_init(&l->work_check, work_check_cb);
	l->work_check.data = l;
	ev_idle_init(&l->work_idle, work_idle_cb);
	ev_set_priority(&l->work_check, BUDGET_PRIO_SLICES);
	ev_set_priority(&l->work_idle, BUDGET_PRIO_SLICES);
}
