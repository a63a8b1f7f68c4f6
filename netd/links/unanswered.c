/*
 * unanswered.c: the calls a stop left unanswered, as the reconciliation
 * after a dump finds them (their id still on their links' rows): a create
 * rolled back whole, a delete finished or taken back whole, each with its
 * audit row; and the repair op that deletes the devices involved.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "links-internal.h"
#include "log.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

bool repair_add(struct links *l, struct link *k, struct kdev *d)
{
	struct reconcile *rec = &l->rec;

	if (!rec->repair) {
		rec->repair = op_new(l, OP_DELETE, l->nlinks);
		rec->repair_cap = rec->repair ? l->nlinks : 0;
	}
	/* Room for every link there was at its making: links made since are
	 * a call's, never left deleting without one (so never here). */
	if (!rec->repair || rec->repair->nlinks >= rec->repair_cap) {
		log_warn("%s: no memory to finish its deletion now, retrying at the next resync",
			 k->name);
		return false;
	}
	k->ifindex = d->ifindex;
	/* Handled: neither another phase nor a call takes it up meanwhile. */
	k->op = rec->repair;
	rec->repair->links[rec->repair->nlinks++] = k;
	return true;
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
void rollback_call(struct links *l, struct link *first)
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
			if (!repair_add(l, k, d))
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
void resolve_delete_call(struct links *l, struct link *first)
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
