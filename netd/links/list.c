/*
 * list.c: ListLinks at size. The list is taken at once (a copy of the
 * links, sorted: what netd has at the call), then encoded LINKS_STEP
 * links per loop iteration and given already encoded, so that listing
 * 4,096 links never makes one long callback (building and encoding them
 * in one go took about 50 ms). A short list is answered at once.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "links-internal.h"
#include "step.h"

struct list_job {
	struct links *l;
	struct ctl_call *call;
	struct link *snap;       /* copies, in order; owners copied too */
	unsigned n, next;
	struct strbuf text;
	struct step step;        /* the encoding, a step per iteration */
	TAILQ_ENTRY(list_job) entry;
};

static int cmp_link_ptr(const void *a, const void *b)
{
	return strverscmp((*(struct link *const *)a)->name, (*(struct link *const *)b)->name);
}

static void job_free(struct list_job *j)
{
	step_stop(&j->step);
	TAILQ_REMOVE(&j->l->lists, j, entry);
	for (unsigned i = 0; i < j->n; i++)
		free(j->snap[i].owner);
	free(j->snap);
	strbuf_done(&j->text);
	free(j);
}

/* Encode up to LINKS_STEP more links; after the last, answer and free j.
 * true when j is done (and freed). */
static bool job_step(struct list_job *j)
{
	unsigned stop = j->next + LINKS_STEP < j->n ? j->next + LINKS_STEP : j->n;

	if (j->n == 0)
		strbuf_puts(&j->text, "{\"links\":[]}");
	for (; j->next < stop; j->next++)
		links_reply_encode(&j->text, j->l, &j->snap[j->next], j->next, j->n);
	if (j->next < j->n)
		return false;
	ctl_call_reply_encoded(j->call, strbuf_steal(&j->text, NULL));
	job_free(j);
	return true;
}

static void step_cb(struct step *s)
{
	job_step(s->data);
}

/* The links of owner (or all), copied in order into j. */
static int job_snapshot(struct list_job *j, const char *owner)
{
	struct links *l = j->l;
	_cleanup_free_ struct link **v = calloc(l->nlinks ? l->nlinks : 1, sizeof(*v));
	struct link *k;
	unsigned n = 0;

	j->snap = calloc(l->nlinks ? l->nlinks : 1, sizeof(*j->snap));
	if (!v || !j->snap)
		return -ENOMEM;
	TAILQ_FOREACH(k, &l->all, entry)
		if (!owner || streq(k->owner, owner))
			v[n++] = k;
	qsort(v, n, sizeof(*v), cmp_link_ptr);
	for (unsigned i = 0; i < n; i++) {
		j->snap[i] = *v[i];
		j->snap[i].owner = strdup(v[i]->owner);
		if (!j->snap[i].owner)
			return -ENOMEM;
		j->n++;
	}
	return 0;
}

void links_list_start(struct links *l, struct ctl_call *call, const char *owner)
{
	struct list_job *j = calloc(1, sizeof(*j));

	assert(l && call);
	if (!j)
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	j->l = l;
	j->call = call;
	TAILQ_INSERT_TAIL(&l->lists, j, entry);
	step_init(&j->step, l->loop, "links list", step_cb, j);
	if (job_snapshot(j, owner) < 0) {
		job_free(j);
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	}
	if (job_step(j))
		return;
	step_start(&j->step);
}

void links_lists_free(struct links *l)
{
	assert(l);
	/* Like the ops: a graceful stop answered them (it waits for every
	 * call), links_stop_calls() the rest, and after ctl's end nobody
	 * can be. */
	while (!TAILQ_EMPTY(&l->lists))
		job_free(TAILQ_FIRST(&l->lists));
}

void links_lists_stop(struct links *l)
{
	assert(l);
	while (!TAILQ_EMPTY(&l->lists)) {
		struct list_job *j = TAILQ_FIRST(&l->lists);

		ctl_call_error(j->call, "io.netd.ShuttingDown", NULL);
		job_free(j);
	}
}
