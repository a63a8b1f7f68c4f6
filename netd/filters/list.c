/*
 * list.c: ListBindings at size, and what a binding's reply says. The
 * bindings are taken at the call (which, in port order; each held, so
 * that one removed meanwhile is only marked: binding_unlist()), then
 * encoded as they are then, at most BINDINGS_LIST_STEP per loop
 * iteration (fewer once the iteration's budget, budget.h, is spent), and
 * given already encoded, so that listing 1,000 bindings never makes one
 * long callback (building and encoding them in one go took 21-34 ms). A
 * binding removed before its turn is left out. A short list is answered
 * at once. Copying what each binding's reply says at the call instead
 * took 17-24 ms at 10,000 in a fresh process: 2.4 MB of fresh pages.
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
	struct binding **snap;     /* in port order, each held (b->listed) */
	unsigned n, next;
	bool emitted;              /* a binding's object is in text */
	struct strbuf text;
	struct view_encoder enc;
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

/* v's families: a bit per family, and netdev's after them. */
static unsigned view_fams_mask(const struct binding_view *v)
{
	return v->fams | (v->netdev ? 1u << NFAM : 0);
}

/* The families of mask as a reply lists them (a new array, NULL without
 * memory). */
static json_t *view_families(unsigned mask)
{
	json_t *fams = json_array();
	int r = 0;

	for (int i = 0; fams && i < NFAM; i++)
		if (mask & (1u << i))
			r |= json_array_append_new(fams, json_string_nocheck(filters_fam_names[i]));
	if (fams && mask & (1u << NFAM))
		r |= json_array_append_new(fams, json_string_nocheck("netdev"));
	if (r < 0) {
		json_decref(fams);
		return NULL;
	}
	return fams;
}

/* A member that only some bindings have, set if value is not "" or NULL.
 * 0, or -1 without memory. */
static int set_optional(json_t *o, const char *key, const char *value, bool check)
{
	if (!value || !value[0])
		return 0;
	return json_object_set_new_nocheck(o, key, check ? json_string(value) :
						       json_string_nocheck(value));
}

/* Set o's members to what v says: o new, or the object of the binding
 * before (each member replaced in place, the optional ones removed and
 * set again, so an object reused over a list allocates little more than
 * its values). fams: v's families array (a reference is
 * taken). Strings netd makes (state, hash, times) are ASCII and go
 * unchecked; a client's and a tool's are checked. 0, or -1 without
 * memory (some members may then be the last binding's). */
static int view_set(json_t *o, const struct binding_view *v, json_t *fams)
{
	int r = 0;

	r |= json_object_set_new_nocheck(o, "port", json_string(v->port));
	r |= json_object_set_new_nocheck(o, "filter", json_string(v->filter));
	r |= json_object_set_new_nocheck(o, "owner", json_string(v->owner));
	r |= json_object_set_nocheck(o, "parameters", v->params);
	r |= json_object_set_new_nocheck(o, "state", json_string_nocheck(v->state));
	r |= json_object_set_new_nocheck(o, "hash", json_string_nocheck(v->hash));
	r |= json_object_set_new_nocheck(o, "applied", json_boolean(v->applied));
	r |= json_object_set_new_nocheck(o, "created", json_string_nocheck(v->created));
	r |= json_object_set_nocheck(o, "families", fams);
	r |= json_object_set_new_nocheck(o, "backend",
					 json_string_nocheck(v->nft ? "nftables" : "xtables"));
	/* The optional ones after the others, always in this order. */
	json_object_del(o, "error"); /* each -1 if it was not there */
	json_object_del(o, "applied_at");
	json_object_del(o, "learning");
	json_object_del(o, "learned_at");
	r |= set_optional(o, "error", v->error, true);
	r |= set_optional(o, "applied_at", v->applied_at, false);
	r |= set_optional(o, "learning", v->learning, false);
	r |= set_optional(o, "learned_at", v->learned_at, false);
	return r < 0 ? -1 : 0;
}

json_t *binding_view_json(const struct binding_view *v)
{
	json_t *o, *fams;

	assert(v);
	o = json_object();
	fams = view_families(view_fams_mask(v));
	if (!o || !fams || view_set(o, v, fams) < 0) {
		json_decref(fams);
		json_decref(o);
		return NULL;
	}
	json_decref(fams);
	return o;
}

static int cmp_binding_ptr(const void *a, const void *b)
{
	return strverscmp((*(struct binding *const *)a)->port, (*(struct binding *const *)b)->port);
}

static void job_free(struct list_job *j)
{
	step_stop(&j->step);
	TAILQ_REMOVE(&j->f->lists, j, entry);
	/* Those before next went with their step. */
	for (unsigned i = j->next; i < j->n; i++)
		binding_unlist(j->snap[i]);
	free(j->snap);
	strbuf_done(&j->text);
	view_encoder_done(&j->enc);
	free(j);
}

/* json_dump_callback()'s writer: into a strbuf. */
static int append_cb(const char *buf, size_t size, void *data)
{
	struct strbuf *s = data;

	strbuf_append(s, buf, size);
	return s->oom ? -1 : 0;
}

void view_encode(struct view_encoder *e, const struct binding_view *v, struct strbuf *s)
{
	unsigned mask = view_fams_mask(v);

	assert(e && v && s);
	if (!e->fams[mask])
		e->fams[mask] = view_families(mask);
	if (!e->obj)
		e->obj = json_object();
	if (!e->obj || !e->fams[mask] || view_set(e->obj, v, e->fams[mask]) < 0 ||
	    json_dump_callback(e->obj, append_cb, s, JSON_COMPACT) < 0)
		s->oom = true;
}

void view_encoder_done(struct view_encoder *e)
{
	assert(e);
	json_decref(e->obj);
	e->obj = NULL;
	for (unsigned i = 0; i < ELEMENTSOF(e->fams); i++) {
		json_decref(e->fams[i]);
		e->fams[i] = NULL;
	}
}

/* Encode b as it is now into j's reply (out of memory: the reply is
 * then InternalError). */
static void encode_one(struct list_job *j, const struct binding *b)
{
	struct binding_view v;

	binding_view_fill(&v, b, j->f->ready);
	if (j->emitted)
		strbuf_puts(&j->text, ",");
	view_encode(&j->enc, &v, &j->text);
	j->emitted = true;
}

/* Encode more bindings (letting each go once encoded; one removed
 * meanwhile is left out): at least one, at most BINDINGS_LIST_STEP, and
 * no more once the iteration's budget is spent; then answer and free j,
 * in a step of its own if the budget is spent (the reply is copied twice
 * on its way out). true when j is done (and freed). */
static bool job_step(struct list_job *j)
{
	unsigned stop = j->next + BINDINGS_LIST_STEP < j->n ? j->next + BINDINGS_LIST_STEP : j->n;
	bool any = j->next < stop;

	while (j->next < stop) {
		struct binding *b = j->snap[j->next++];

		if (!b->removed)
			encode_one(j, b);
		binding_unlist(b);
		if (budget_spent())
			break;
	}
	if (j->next < j->n || (any && j->n > BINDINGS_LIST_STEP && budget_spent()))
		return false;
	strbuf_puts(&j->text, "]}");
	ctl_call_reply_encoded(j->call, strbuf_steal(&j->text, NULL));
	job_free(j);
	return true;
}

static void step_cb(struct step *s)
{
	job_step(s->data);
}

/* The bindings of owner (or all), in port order, each held by j. */
static int job_snapshot(struct list_job *j, const char *owner)
{
	struct filters *f = j->f;
	unsigned size = f->nbindings ? f->nbindings : 1;
	struct binding *b;
	unsigned n = 0;

	j->snap = calloc(size, sizeof(*j->snap));
	if (!j->snap)
		return -ENOMEM;
	TAILQ_FOREACH(b, &f->all, entry)
		if (n < size && (!owner || streq(b->owner, owner)))
			j->snap[n++] = b;
	TAILQ_FOREACH(b, &f->netdev_all, entry)
		if (n < size && (!owner || streq(b->owner, owner)))
			j->snap[n++] = b;
	qsort(j->snap, n, sizeof(*j->snap), cmp_binding_ptr);
	for (unsigned i = 0; i < n; i++)
		j->snap[i]->listed++;
	j->n = n;
	strbuf_puts(&j->text, "{\"bindings\":[");
	/* The reply's room at once: grown by doubling, it was copied at
	 * each step, the last (2.8 into 5.7 MB at 10,000) a 14.7 ms
	 * callback. */
	if (n > BINDINGS_LIST_STEP)
		strbuf_reserve(&j->text, (size_t)n * BINDINGS_LIST_BYTES);
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
	/* A graceful stop answered them (it waits for every call); one
	 * whose timeout ran out hears that netd stops (ctl goes after us). */
	while (!TAILQ_EMPTY(&f->lists)) {
		struct list_job *j = TAILQ_FIRST(&f->lists);

		ctl_call_error(j->call, "io.netd.ShuttingDown", NULL);
		job_free(j);
	}
}
