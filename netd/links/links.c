/*
 * links.c: a struct links from start to end: its construction (with the
 * real rtnetlink, or with any kernel behind struct nl_ops, as the unit
 * tests use), the loop's hooks (flush, idle, ready) and its destruction.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "alloc/alloc.h"
#include "links-internal.h"
#include "log.h"
#include "util.h"

/* Everything but the kernel: prefixes, work list, the store's rows. */
static int links_alloc(struct ev_loop *loop, struct store *store,
		       const struct links_config *cfg, struct links **ret)
{
	struct links *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->loop = loop;
	l->store = store;
	l->delete_group = cfg->delete_group;
	if (cfg->tap_dir && !(l->tap_dir = strdup(cfg->tap_dir))) {
		free(l);
		return -ENOMEM;
	}
	TAILQ_INIT(&l->all);
	TAILQ_INIT(&l->monitors);
	TAILQ_INIT(&l->lists);
	TAILQ_INIT(&l->sets);
	links_work_init(l);
	reconcile_init(l);
	r = alloc_new(cfg->macvtap_prefix, &l->macvtap);
	if (r == 0)
		r = alloc_new(cfg->macvlan_prefix, &l->macvlan);
	if (r < 0) {
		log_error("name prefixes '%s', '%s': invalid", cfg->macvtap_prefix, cfg->macvlan_prefix);
		links_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

/* The dump first: its reader works while the rows load (the records
 * are read by the loop, after this). */
static int links_begin(struct links *l)
{
	int r;

	start_dump(l);
	r = links_load(l);
	if (r < 0)
		links_free(l);
	return r;
}

int links_new(struct ev_loop *loop, struct store *store, const struct links_config *cfg,
	      struct links **ret)
{
	struct links *l;
	int r;

	assert(loop && store && cfg && ret);
	r = links_alloc(loop, store, cfg, &l);
	if (r < 0)
		return r;
	r = nl_new(loop, &links_nl_callbacks, l, cfg->event_rcvbuf, cfg->hold_fd, &l->nl);
	if (r < 0) {
		links_free(l);
		return r;
	}
	l->nlo = &nl_rtnetlink_ops;
	if (cfg->request_rcvbuf > 0)
		nl_set_request_rcvbuf(l->nl, cfg->request_rcvbuf);
	r = links_begin(l);
	if (r == 0)
		*ret = l;
	return r;
}

int links_new_with_kernel(struct ev_loop *loop, struct store *store,
			  const struct links_config *cfg, const struct nl_ops *ops,
			  struct nl *nl, struct links **ret)
{
	struct links *l;
	int r;

	assert(loop && store && cfg && ops && nl && ret);
	r = links_alloc(loop, store, cfg, &l);
	if (r < 0) {
		ops->free(nl);
		return r;
	}
	l->nlo = ops;
	l->nl = nl;
	r = links_begin(l);
	if (r == 0)
		*ret = l;
	return r;
}

struct links *links_free(struct links *l)
{
	if (!l)
		return NULL;
	links_stop_monitors(l);
	links_lists_free(l);
	/* A reconciliation under way stops; its repair op is among the ops. */
	reconcile_free(l);
	/* Ops still waiting for the kernel (their requests are cancelled:
	 * nobody will be answered any more). */
	while (!TAILQ_EMPTY(&l->ops))
		op_free(TAILQ_FIRST(&l->ops));
	links_sets_free(l);
	if (l->nl)
		l->nl = l->nlo->free(l->nl);
	links_model_free(l);
	alloc_free(l->macvtap);
	alloc_free(l->macvlan);
	free(l->tap_dir);
	free(l);
	return NULL;
}

void links_stop_calls(struct links *l)
{
	struct links_op_result res = { .l = l, .error = -ESHUTDOWN };
	struct op *op;

	assert(l);
	links_stop_monitors(l);
	links_lists_stop(l);
	links_sets_stop(l);
	TAILQ_FOREACH(op, &l->ops, entry)
		if (op->done) {
			res.type = op->type;
			op->done(op->done_data, &res);
			op->done = NULL; /* freed unanswered by links_free() */
		}
}

bool links_ready(const struct links *l)
{
	assert(l);
	return l->ready;
}

int links_start_error(const struct links *l)
{
	assert(l);
	return l->start_error;
}

void links_flush(struct links *l)
{
	assert(l);
	l->nlo->flush(l->nl);
}

bool links_idle(const struct links *l)
{
	assert(l);
	return TAILQ_EMPTY(&l->work) && !reconcile_running(l) && l->nlo->idle(l->nl);
}
