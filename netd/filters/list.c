/*
 * list.c: ListBindings at size, and what a binding's reply says. The
 * list is taken at once (a copy of what each binding's reply says,
 * sorted: what netd has at the call), then encoded at most
 * BINDINGS_LIST_STEP bindings per loop iteration (fewer once the
 * iteration's budget, budget.h, is spent) and given already encoded, so
 * that listing 1,000 bindings never makes one long callback (building
 * and encoding them in one go took 21-34 ms). A short list is answered
 * at once.
 * With methods.c, the only file of netd/filters/ that knows the wire
 * format.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "ctl.h"
#include "filters-internal.h"
#include "step.h"
#include "strbuf.h"
#include "util.h"

struct list_job {
	struct filters *f;
	struct ctl_call *call;
	struct binding_view *snap; /* copies, in port order */
	unsigned n, next;
	struct strbuf text;
	struct step step;          /* the encoding, a step per iteration */
	TAILQ_ENTRY(list_job) entry;
};

void binding_view_fill(struct binding_view *v, const struct binding *b, bool verified)
{
	assert(v && b);
	memset(v, 0, sizeof(*v));
	memcpy(v->port, b->port, sizeof(v->port));
	v->filter = b->filter;
	v->owner = b->owner;
	v->params = b->params;
	v->state = filters_bstate_names[b->state];
	/* Its learning rules are in the kernel; the filter's wait for the
	 * address. */
	if (b->state == B_APPLIED && learn_pending(b))
		v->state = "learning";
	if (b->learn != LEARN_NONE)
		v->learning = learn_mode_name(b->learn);
	memcpy(v->learned_at, b->learned_at, sizeof(v->learned_at));
	if (b->rendered)
		memcpy(v->hash, b->want.hash, sizeof(v->hash));
	/* A pending binding is waiting for its rules to be (re)written, so
	 * they are not known to be there. */
	v->applied = verified && b->state != B_PENDING && b->applied_hash[0] && b->rendered &&
		     streq(b->applied_hash, b->want.hash);
	for (int i = 0; i < NFAM; i++)
		if (b->rendered && (b->want.has_in[i] || b->want.has_out[i]))
			v->fams |= 1u << i;
	v->netdev = b->nft && b->rendered;
	v->nft = b->nft;
	v->error = b->error;
	memcpy(v->created, b->created, sizeof(v->created));
	memcpy(v->applied_at, b->applied_at, sizeof(v->applied_at));
}

char *filters_message(const char *s, size_t len)
{
	char *copy = strndup(s, len);
	json_t *j = copy ? json_string(copy) : NULL;

	if (copy && !j)
		for (char *p = copy; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	json_decref(j);
	return copy;
}

json_t *binding_view_json(const struct binding_view *v)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:b, s:s}",
			      "port", v->port, "filter", v->filter, "owner", v->owner,
			      "parameters", v->params, "state", v->state, "hash", v->hash,
			      "applied", v->applied, "created", v->created);
	json_t *fams;

	assert(v);
	if (!o)
		return NULL;
	fams = json_array();
	for (int i = 0; i < NFAM; i++)
		if (v->fams & (1u << i))
			json_array_append_new(fams, json_string(filters_fam_names[i]));
	if (v->netdev)
		json_array_append_new(fams, json_string("netdev"));
	json_object_set_new(o, "families", fams);
	json_object_set_new(o, "backend", json_string(v->nft ? "nftables" : "xtables"));
	if (v->error)
		json_object_set_new(o, "error", json_string(v->error));
	if (v->applied_at[0])
		json_object_set_new(o, "applied_at", json_string(v->applied_at));
	if (v->learning)
		json_object_set_new(o, "learning", json_string(v->learning));
	if (v->learned_at[0])
		json_object_set_new(o, "learned_at", json_string(v->learned_at));
	return o;
}

static int cmp_binding_ptr(const void *a, const void *b)
{
	return strverscmp((*(struct binding *const *)a)->port, (*(struct binding *const *)b)->port);
}

static void view_done(struct binding_view *v)
{
	free(v->filter);
	free(v->owner);
	free(v->error);
	json_decref(v->params);
}

static void job_free(struct list_job *j)
{
	step_stop(&j->step);
	TAILQ_REMOVE(&j->f->lists, j, entry);
	/* Those before next went with their step. */
	for (unsigned i = j->next; i < j->n; i++)
		view_done(&j->snap[i]);
	free(j->snap);
	strbuf_done(&j->text);
	free(j);
}

/* Encode one binding of n into the reply being built. */
static void encode_one(struct strbuf *s, const struct binding_view *v, unsigned i, unsigned n)
{
	json_t *o = binding_view_json(v);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	strbuf_puts(s, i == 0 ? "{\"bindings\":[" : ",");
	if (text)
		strbuf_puts(s, text);
	else
		s->oom = true; /* the reply is then InternalError */
	free(text);
	if (i == n - 1)
		strbuf_puts(s, "]}");
}

/* Encode more bindings (freeing each copy once encoded): at least one,
 * at most BINDINGS_LIST_STEP, and no more once the iteration's budget is
 * spent; then answer and free j, in a step of its own if the budget is
 * spent (the reply is copied twice on its way out). true when j is done
 * (and freed). */
static bool job_step(struct list_job *j)
{
	unsigned stop = j->next + BINDINGS_LIST_STEP < j->n ? j->next + BINDINGS_LIST_STEP : j->n;
	bool any = j->next < stop;

	if (j->n == 0)
		strbuf_puts(&j->text, "{\"bindings\":[]}");
	while (j->next < stop) {
		encode_one(&j->text, &j->snap[j->next], j->next, j->n);
		view_done(&j->snap[j->next]);
		j->next++;
		if (budget_spent())
			break;
	}
	if (j->next < j->n || (any && j->n > BINDINGS_LIST_STEP && budget_spent()))
		return false;
	ctl_call_reply_encoded(j->call, strbuf_steal(&j->text, NULL));
	job_free(j);
	return true;
}

static void step_cb(struct step *s)
{
	job_step(s->data);
}

/* Copy one binding's view into j (owning its strings). */
static int job_copy(struct list_job *j, const struct binding *b)
{
	struct binding_view *v = &j->snap[j->n];

	binding_view_fill(v, b, j->f->ready);
	v->filter = strdup(b->filter);
	v->owner = strdup(b->owner);
	v->error = b->error ? strdup(b->error) : NULL;
	json_incref(v->params);
	j->n++;
	return v->filter && v->owner && (v->error || !b->error) ? 0 : -ENOMEM;
}

/* The bindings of owner (or all), copied in port order into j. */
static int job_snapshot(struct list_job *j, const char *owner)
{
	struct filters *f = j->f;
	unsigned size = f->nbindings ? f->nbindings : 1;
	_cleanup_free_ struct binding **v = calloc(size, sizeof(*v));
	struct binding *b;
	unsigned n = 0;

	j->snap = calloc(size, sizeof(*j->snap));
	if (!v || !j->snap)
		return -ENOMEM;
	TAILQ_FOREACH(b, &f->all, entry)
		if (n < size && (!owner || streq(b->owner, owner)))
			v[n++] = b;
	TAILQ_FOREACH(b, &f->netdev_all, entry)
		if (n < size && (!owner || streq(b->owner, owner)))
			v[n++] = b;
	qsort(v, n, sizeof(*v), cmp_binding_ptr);
	for (unsigned i = 0; i < n; i++)
		if (job_copy(j, v[i]) < 0)
			return -ENOMEM;
	return 0;
}

void filters_list_start(struct filters *f, struct ctl_call *call, const char *owner)
{
	struct list_job *j = calloc(1, sizeof(*j));

	assert(f && call);
	if (!j)
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	j->f = f;
	j->call = call;
	TAILQ_INSERT_TAIL(&f->lists, j, entry);
	step_init(&j->step, f->loop, "bindings list", step_cb, j);
	if (job_snapshot(j, owner) < 0) {
		job_free(j);
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	}
	if (job_step(j))
		return;
	step_start(&j->step);
}

void filters_lists_free(struct filters *f)
{
	assert(f);
	/* A graceful stop answered them (it waits for every call), and
	 * after ctl's end nobody can be. */
	while (!TAILQ_EMPTY(&f->lists))
		job_free(TAILQ_FIRST(&f->lists));
}
