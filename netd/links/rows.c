/*
 * rows.c: the store's links and names rows written again from memory.
 *
 * A transaction that fails (a full disk) takes with it not only the
 * intents of calls, which are undone in memory, but also the rows written
 * as side effects of what already happened in the kernel: a link made
 * present, a link that vanished, a name found foreign. Memory still holds
 * them; links_rewrite_rows() makes the rows say the same again, without
 * waiting for the next start.
 *
 * One thing memory does not know: a create answered in the failed
 * transaction. Its links' rows still carry the call's op id (their
 * settling was rolled back) and its caller heard StorageError, not its
 * links. Such a call is then what a start finds after a crash, a create
 * never answered: the links get their op id back, and the reconciliation
 * after a dump rolls the whole call back (all or nothing).
 */
#include "config.h"

#include <assert.h>
#include <search.h>
#include <string.h>

#include "alloc/alloc.h"
#include "links-internal.h"
#include "log.h"
#include "store.h"

/* Names of rows that memory no longer has, to delete after the walk. */
struct stale {
	struct links *l;
	struct name_list rows;     /* link rows */
	struct name_list names;    /* names rows (by name; prefix and index
				    * from the name) */
	unsigned unanswered;       /* links of creates answered StorageError */
};

static void stale_link(void *userdata, const struct store_link_row *row)
{
	struct stale *s = userdata;
	struct link *k = link_find(s->l, row->name);

	if (!k) {
		name_list_add(&s->rows, row->name);
	} else if (row->op && !(row->op & LINKS_OP_DELETE) && !k->op_id && !k->op) {
		k->op_id = row->op;
		s->unanswered++;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void stale_name(void *userdata, const char *prefix, unsigned idx, const char *name,
		       const char *state)
{
	struct stale *s = userdata;
	unsigned i;

	/* Rows of prefixes no longer configured are the start's concern. */
	if (!alloc_of_name(s->l, name, &i))
		return;
	if (!link_find(s->l, name) && !is_foreign(s->l, name) &&
	    !tfind(name, &s->l->held, cmp_str))
		name_list_add(&s->names, name);
}

static void put_name(struct links *l, const char *name, const char *state)
{
	unsigned idx;
	struct alloc *a = alloc_of_name(l, name, &idx);
	int r;

	if (!a)
		return;
	r = store_name_put(l->store, alloc_prefix(a), idx, name, state);
	if (r < 0)
		log_error_errno(name, r, "cannot record the name in the database");
}

static void put_foreign(const void *node, VISIT v, void *userdata)
{
	if (v == postorder || v == leaf)
		put_name(userdata, *(char *const *)node, "foreign");
}

static void put_held(const void *node, VISIT v, void *userdata)
{
	if (v == postorder || v == leaf)
		put_name(userdata, *(char *const *)node, "releasing");
}

void links_rewrite_rows(struct links *l)
{
	struct stale s = { .l = l, .rows = { .l = l }, .names = { .l = l } };
	struct link *k;
	unsigned idx;

	assert(l);
	if (store_links_foreach(l->store, stale_link, &s) < 0 ||
	    store_names_foreach(l->store, stale_name, &s) < 0)
		log_warn("cannot read the links' rows back; rewriting what is in memory only");
	for (unsigned i = 0; i < s.rows.n; i++)
		store_link_forget(l, s.rows.names[i]);
	for (unsigned i = 0; i < s.names.n; i++) {
		struct alloc *a = alloc_of_name(l, s.names.names[i], &idx);

		if (a && store_name_delete(l->store, alloc_prefix(a), idx) < 0)
			log_warn("%s: cannot remove the name's row, ignoring", s.names.names[i]);
	}
	TAILQ_FOREACH(k, &l->all, entry)
		store_link(l, k);
	twalk_r(l->foreign, put_foreign, l);
	twalk_r(l->held, put_held, l);
	log_info("links: %u link rows written again, %u stale link rows and %u stale names rows removed",
		 l->nlinks, s.rows.n, s.names.n);
	if (s.unanswered > 0) {
		log_warn("links: %u links of creates answered StorageError; rolling them back after a dump",
			 s.unanswered);
		start_dump(l);
	}
	name_list_free(&s.rows);
	name_list_free(&s.names);
}
