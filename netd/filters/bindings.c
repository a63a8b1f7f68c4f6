/*
 * bindings.c: the bindings (port + filter + parameters + owner), their
 * state and their rows in the store, the callers waiting on them, and
 * what changes them outside a batch: bind, unbind, a port gone, a reload
 * of the definitions.
 *
 * A binding's life: bindings_bind() renders it (rules/) and marks it
 * dirty; the batch of the next loop iteration writes it to the kernel
 * (batch.c) and answers its waiters; an unbind or a vanished port marks
 * it B_REMOVING, and the batch that deletes its chains frees it.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "filters-internal.h"
#include "links.h"
#include "log.h"
#include "store.h"
#include "util.h"

const char *const filters_bstate_names[] = { "pending", "applied", "failed", "removing" };

static int cmp_binding(const void *a, const void *b)
{
	return strcmp(((const struct binding *)a)->port, ((const struct binding *)b)->port);
}

struct binding *binding_find(struct filters *f, const char *port)
{
	struct binding key;
	void **p;

	assert(f);
	assert(port);
	if (strlen(port) >= sizeof(key.port))
		return NULL;
	strcpy(key.port, port);
	p = tfind(&key, &f->by_port, cmp_binding);
	return p ? *p : NULL;
}

struct binding *binding_new(struct filters *f, const char *port)
{
	struct binding *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	str_copy(b->port, sizeof(b->port), port);
	if (!tsearch(b, &f->by_port, cmp_binding)) {
		free(b);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&f->all, b, entry);
	b->seq = ++f->next_seq;
	f->nbindings++;
	binding_count(f, b, +1);
	return b;
}

void binding_count(struct filters *f, const struct binding *b, int sign)
{
	assert(f && b && (sign == 1 || sign == -1));
	if (b->nft)
		return;
	f->nstate[b->state] += (unsigned)sign;
	if (learn_pending(b) && b->state != B_REMOVING)
		f->nlearning += (unsigned)sign;
}

void binding_set_state(struct filters *f, struct binding *b, enum bstate state)
{
	assert(f && b);
	binding_count(f, b, -1);
	b->state = state;
	binding_count(f, b, +1);
}

void bindings_recount(struct filters *f)
{
	struct binding *b;

	assert(f);
	memset(f->nstate, 0, sizeof(f->nstate));
	f->nlearning = 0;
	TAILQ_FOREACH(b, &f->all, entry)
		binding_count(f, b, +1);
}

int waiters_add(struct waiter **list, const struct waiter *w)
{
	struct waiter *n = calloc(1, sizeof(*n)), **p = list;

	if (!n)
		return -ENOMEM;
	n->fn = w->fn;
	n->data = w->data;
	n->txn = w->txn;
	while (*p)
		p = &(*p)->next;
	*p = n;
	return 0;
}

void waiters_move(struct waiter **to, struct waiter **from)
{
	while (*to)
		to = &(*to)->next;
	*to = *from;
	*from = NULL;
}

void waiters_answer(struct waiter **list, const struct outcome *o)
{
	struct waiter *w;

	while ((w = *list)) {
		*list = w->next;
		w->fn(w->data, o);
		free(w);
	}
}

void binding_audit(struct filters *f, const struct binding *b, const char *method,
		   const char *result, json_t *outcome)
{
	json_t *params = json_pack("{s:s, s:s, s:s}", "port", b->port, "filter", b->filter,
				   "owner", b->owner);
	_cleanup_free_ char *ptext = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	_cleanup_free_ char *otext = outcome ? json_dumps(outcome, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int r;

	json_decref(params);
	json_decref(outcome);
	if (!ptext) {
		log_error("%s: out of memory writing the audit row", b->port);
		return;
	}
	r = store_audit_event(f->store, method, ptext, result, otext);
	if (r < 0)
		log_error_errno(b->port, r, "cannot write the audit row");
}

char *binding_params_text(const struct binding *b)
{
	assert(b);
	return json_dumps(b->params, JSON_COMPACT | JSON_SORT_KEYS);
}

void binding_store(struct filters *f, const struct binding *b)
{
	_cleanup_free_ char *params = binding_params_text(b);
	struct store_binding_row row = {
		.port = b->port,
		.filter = b->filter,
		.owner = b->owner,
		.parameters = params ? params : "{}",
		.desired_hash = b->rendered ? b->want.hash : "",
		.applied_hash = b->applied_hash,
		.norm = { b->norm[0], b->norm[1], b->norm[2] },
		.state = filters_bstate_names[b->state],
		.error = b->error,
		.created = b->created,
		.applied = b->applied_at[0] ? b->applied_at : NULL,
		.backend = b->nft ? "nftables" : "xtables",
		.nft_norm = b->nnorm,
		.learning = b->learn == LEARN_NONE ? "" : learn_mode_name(b->learn),
		.learned_at = b->learned_at[0] ? b->learned_at : NULL,
		.input_hash = b->rendered ? b->input_hash : "",
		.chains = binding_chain_bits(b),
	};
	int r = store_binding_put(f->store, &row);

	if (r < 0)
		log_error_errno(b->port, r, "cannot record the binding in the database");
}

void binding_free(struct filters *f, struct binding *b)
{
	b->learner = learn_close(b->learner);
	binding_set_dirty(f, b, false);
	binding_count(f, b, -1);
	tdelete(b, &f->by_port, cmp_binding);
	TAILQ_REMOVE(b->nft ? &f->netdev_all : &f->all, b, entry);
	f->nbindings--;
	waiters_answer(&b->waiters, &(struct outcome){
		.kind = f->stopping ? OUTCOME_SHUTDOWN : OUTCOME_NO_BINDING, .port = b->port,
		.message = "the binding was removed" });
	rules_render_done(&b->want);
	rules_nft_done(&b->nwant);
	json_decref(b->params);
	free(b->filter);
	free(b->owner);
	free(b->error);
	if (b->listed > 0) {
		/* A list holds it: gone for everything else. */
		*b = (struct binding){ .listed = b->listed, .removed = true };
		return;
	}
	free(b);
}

void binding_unlist(struct binding *b)
{
	assert(b && b->listed > 0);
	if (--b->listed == 0 && b->removed)
		free(b);
}

/* Parameters as the renderer wants them, from the canonical JSON. */
struct param_view {
	const char *ips[64];
	const char *dhcp[16];
	struct rules_params p;
};

static void params_view(json_t *params, struct param_view *v)
{
	json_t *x;
	size_t i;

	memset(v, 0, sizeof(*v));
	v->p.mac = json_string_value(json_object_get(params, "MAC"));
	v->p.gateway_mac = json_string_value(json_object_get(params, "GATEWAY_MAC"));
	json_array_foreach(json_object_get(params, "IP"), i, x)
		if (i < ELEMENTSOF(v->ips))
			v->ips[v->p.n_ips++] = json_string_value(x);
	json_array_foreach(json_object_get(params, "DHCPSERVER"), i, x)
		if (i < ELEMENTSOF(v->dhcp))
			v->dhcp[v->p.n_dhcpservers++] = json_string_value(x);
	v->p.ips = v->ips;
	v->p.dhcpservers = v->dhcp;
}

int binding_render(struct filters *f, struct binding *b, char **ret_error)
{
	struct rules_render r = { 0 };
	struct param_view v;
	int ret;

	params_view(b->params, &v);
	if (b->nft) {
		ret = netdev_render(f, b, &v.p, ret_error);
		if (ret == 0)
			binding_inputs_note(f, b);
		return ret;
	}
	if (learn_pending(b))
		ret = rules_render_learning(b->learn == LEARN_ANY, b->port, &v.p, &r, ret_error);
	else
		ret = rules_render(f->defs, b->filter, b->port, &v.p, &r, ret_error);
	if (ret < 0)
		return ret;
	if (b->rendered)
		rules_render_done(&b->want);
	b->want = r;
	b->rendered = true;
	binding_inputs_note(f, b);
	return 0;
}

void binding_set_dirty(struct filters *f, struct binding *b, bool dirty)
{
	assert(f && b);
	if (b->dirty == dirty)
		return;
	b->dirty = dirty;
	if (dirty) {
		f->ndirty++;
		if (!b->nft)
			TAILQ_INSERT_TAIL(&f->dirty, b, dirty_entry);
	} else {
		assert(f->ndirty > 0);
		f->ndirty--;
		if (!b->nft)
			TAILQ_REMOVE(&f->dirty, b, dirty_entry);
	}
}

void binding_move_to_netdev(struct filters *f, struct binding *b)
{
	binding_count(f, b, -1);
	if (b->dirty)
		TAILQ_REMOVE(&f->dirty, b, dirty_entry);
	TAILQ_REMOVE(&f->all, b, entry);
	TAILQ_INSERT_TAIL(&f->netdev_all, b, entry);
	b->nft = true;
}

void binding_drop_text(struct binding *b)
{
	assert(b);
	for (int i = 0; i < RULES_FAMILIES; i++) {
		free(b->want.text[i]);
		b->want.text[i] = NULL;
	}
}

int binding_need_text(struct filters *f, struct binding *b)
{
	_cleanup_free_ char *error = NULL;
	bool dropped = b->rendered && b->nft && !b->nwant.text;
	char before[65];
	int r;

	assert(f && b);
	/* A family with chains has text unless it was dropped, or never
	 * rendered (its stored rendering taken at start: inputs.c). */
	for (int i = 0; i < RULES_FAMILIES; i++)
		dropped |= b->rendered && !b->nft && !b->want.text[i] &&
			   (b->want.has_in[i] || b->want.has_out[i]);
	if (!dropped)
		return 0;
	memcpy(before, b->want.hash, sizeof(before));
	r = binding_render(f, b, &error);
	if (r < 0) {
		log_warn("%s: cannot render filter '%s' again: %s", b->port, b->filter,
			 error ? error : strerror(-r));
		return r;
	}
	if (!streq(before, b->want.hash)) {
		/* Its inputs looked unchanged, its rendering is not: what
		 * is being written carries the old hash, so once more. */
		log_warn("%s: filter '%s' renders differently from its stored rendering; "
			 "applying it again", b->port, b->filter);
		binding_set_dirty(f, b, true);
	}
	return 0;
}

/* Give b the filter, owner and parameters of req and render it; on any
 * failure b is left exactly as it was. */
static int binding_set(struct filters *f, struct binding *b, const struct bind_req *req,
		       char **ret_error)
{
	char *old_filter = b->filter, *old_owner = b->owner, old_learned[32];
	json_t *old_params = b->params;
	enum learn_mode old_learn = b->learn;
	int r;

	memcpy(old_learned, b->learned_at, sizeof(old_learned));
	binding_count(f, b, -1);
	b->filter = strdup(req->filter);
	b->owner = strdup(req->owner);
	b->params = json_incref(req->params);
	b->learn = req->learn;
	snprintf(b->learned_at, sizeof(b->learned_at), "%s", req->learned_at ? req->learned_at : "");
	r = b->filter && b->owner ? binding_render(f, b, ret_error) : -ENOMEM;
	if (r < 0) {
		free(b->filter);
		free(b->owner);
		json_decref(b->params);
		b->filter = old_filter;
		b->owner = old_owner;
		b->params = old_params;
		b->learn = old_learn;
		memcpy(b->learned_at, old_learned, sizeof(old_learned));
		binding_count(f, b, +1);
		return r;
	}
	binding_count(f, b, +1);
	free(old_filter);
	free(old_owner);
	json_decref(old_params);
	return 0;
}

/* --- undo of a failed store transaction --- */

/* How a binding was before the first call of the transaction that touched
 * it, and how many callers were waiting on it then. */
struct bundo {
	struct bundo *next;
	char port[16];
	bool created;              /* the call made it: undo frees it */
	char *filter, *owner;
	json_t *params;
	enum bstate state;
	char *error;
	bool dirty, gone;
	enum learn_mode learn;
	char learned_at[32];
};

static void bundo_free(struct bundo *u)
{
	free(u->filter);
	free(u->owner);
	json_decref(u->params);
	free(u->error);
	free(u);
}

void bindings_undo_clear(struct filters *f)
{
	struct bundo *u;

	while ((u = f->undo)) {
		f->undo = u->next;
		bundo_free(u);
	}
}

/* Remember b (about to be changed by a call, port) as it is, once per
 * transaction. Without memory the undo cannot be kept: -ENOMEM, and the
 * call is refused before it changes anything. */
static int bundo_note(struct filters *f, const char *port, const struct binding *b)
{
	uint64_t txn = store_txn(f->store);
	struct bundo *u;

	if (f->undo_txn != txn)
		bindings_undo_clear(f); /* those transactions are settled */
	f->undo_txn = txn;
	for (u = f->undo; u; u = u->next)
		if (streq(u->port, port))
			return 0;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	snprintf(u->port, sizeof(u->port), "%s", port);
	u->created = !b;
	if (b) {
		u->filter = strdup(b->filter);
		u->owner = strdup(b->owner);
		u->params = json_incref(b->params);
		u->error = b->error ? strdup(b->error) : NULL;
		u->state = b->state;
		u->dirty = b->dirty;
		u->gone = b->gone;
		u->learn = b->learn;
		memcpy(u->learned_at, b->learned_at, sizeof(u->learned_at));
		if (!u->filter || !u->owner || (b->error && !u->error)) {
			bundo_free(u);
			return -ENOMEM;
		}
	}
	u->next = f->undo;
	f->undo = u;
	return 0;
}

/* Put b back as u says; the callers of transaction txn hear o (by their
 * stamp: a failed batch run may have put older callers back meanwhile). */
static void bundo_apply(struct filters *f, struct binding *b, struct bundo *u, uint64_t txn,
			const struct outcome *o)
{
	struct waiter **p = &b->waiters, *since = NULL, **tail = &since;

	while (*p) {
		struct waiter *w = *p;

		if (w->txn != txn) {
			p = &w->next;
			continue;
		}
		*p = w->next;
		w->next = NULL;
		*tail = w;
		tail = &w->next;
	}
	waiters_answer(&since, o);
	if (u->created) {
		binding_free(f, b);
		return;
	}
	if (!streq(b->filter, u->filter) || !streq(b->owner, u->owner) ||
	    !json_equal(b->params, u->params) || b->learn != u->learn ||
	    !streq(b->learned_at, u->learned_at)) {
		_cleanup_free_ char *error = NULL;
		struct bind_req req = { .port = u->port, .filter = u->filter, .owner = u->owner,
					.params = u->params, .learn = u->learn,
					.learned_at = u->learned_at };

		if (binding_set(f, b, &req, &error) < 0)
			log_warn("%s: cannot render the binding as it was: %s", b->port,
				 error ? error : "out of memory");
	}
	binding_set_state(f, b, u->state);
	binding_set_dirty(f, b, u->dirty);
	b->gone = u->gone;
	free(b->error);
	b->error = u->error;
	u->error = NULL;
	/* A batch may have settled it since the note, in this transaction
	 * (a removal or an apply run that the call had made stale): pending
	 * or removing, it goes out again (the runs are idempotent). */
	if (!b->in_batch && (b->state == B_PENDING || b->state == B_REMOVING))
		binding_set_dirty(f, b, true);
	learn_sync(f, b);
}

void filters_storage_failed(struct filters *f, uint64_t txn, const char *reason)
{
	struct bundo *u;

	assert(f && reason);
	if (f->undo_txn == txn) {
		while ((u = f->undo)) {
			struct binding *b = binding_find(f, u->port);
			struct outcome o = { .kind = OUTCOME_STORAGE, .port = u->port,
					     .message = reason };

			f->undo = u->next;
			if (b)
				bundo_apply(f, b, u, txn, &o);
			bundo_free(u);
		}
	}
	bindings_undo_clear(f);
}

/* Ports of binding rows that memory no longer has. */
struct stale_rows {
	struct filters *f;
	char **ports;
	unsigned n, cap;
	bool oom;
};

static void stale_binding(void *userdata, const struct store_binding_row *row)
{
	struct stale_rows *s = userdata;

	if (binding_find(s->f, row->port))
		return;
	if (s->n == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		char **v = reallocarray(s->ports, cap, sizeof(*v));

		if (!v) {
			s->oom = true;
			return;
		}
		s->ports = v;
		s->cap = cap;
	}
	if (!(s->ports[s->n] = strdup(row->port)))
		s->oom = true;
	else
		s->n++;
}

void filters_rewrite_rows(struct filters *f)
{
	struct stale_rows s = { .f = f };
	struct binding *b;

	assert(f);
	if (store_bindings_foreach(f->store, stale_binding, &s) < 0 || s.oom)
		log_warn("filters: cannot read every binding row back; rewriting what is in memory only");
	for (unsigned i = 0; i < s.n; i++) {
		store_binding_delete(f->store, s.ports[i]);
		free(s.ports[i]);
	}
	free(s.ports);
	TAILQ_FOREACH(b, &f->all, entry)
		binding_store(f, b);
	for (int i = 0; i < NFAM; i++)
		if (!f->root_dirty[i] && f->root_norm[i][0])
			store_root_put(f->store, filters_fam_names[i], f->root_norm[i]);
	if (f->mark_valid)
		store_checkpoint_put(f->store, f->kernel_id, f->mark);
	else
		store_checkpoint_clear(f->store);
	log_info("filters: %u binding rows written again, %u stale ones removed", f->nbindings, s.n);
}

/* A re-bind that learns as b does and gives no IP keeps the address b
 * learned: *req2 is req with b's IP (params in *ret_params, a new
 * reference) and when it was learned. false when nothing is kept. */
static bool bind_keep_learned(const struct binding *b, const struct bind_req *req,
			      struct bind_req *req2, json_t **ret_params)
{
	json_t *params;

	if (!b || req->learn == LEARN_NONE || b->learn != req->learn || !b->learned_at[0] ||
	    json_array_size(json_object_get(req->params, "IP")) > 0)
		return false;
	params = json_deep_copy(req->params);
	if (!params || json_object_set(params, "IP", json_object_get(b->params, "IP")) < 0) {
		json_decref(params);
		return false; /* without memory: learned again */
	}
	*req2 = *req;
	req2->params = params;
	req2->learned_at = b->learned_at;
	*ret_params = params;
	return true;
}

/* b's new parameters are set: its watch is req's learner, or none. */
static void bind_learner(struct filters *f, struct binding *b, struct learner *l)
{
	if (l && learn_pending(b)) {
		b->learner = learn_close(b->learner);
		learn_attach(f, b, l);
	} else {
		learn_close(l);
		learn_sync(f, b);
	}
}

/* w waits on b, stamped with its call's transaction (what a failed
 * commit's undo answers: bundo_apply()). */
static int binding_wait(struct filters *f, struct binding *b, const struct waiter *w)
{
	return waiters_add(&b->waiters, &(struct waiter){ .fn = w->fn, .data = w->data,
							  .txn = store_txn(f->store) });
}

int bindings_bind(struct filters *f, const struct bind_req *req, const struct waiter *w,
		  char **ret_error)
{
	struct learner *l = req->learner;
	struct bind_req req2;
	json_auto_t *kept = NULL;
	struct binding *b;
	bool created = false;

	assert(f);
	assert(req && req->port && req->filter && req->owner && req->params);
	assert(w && w->fn);
	b = binding_find(f, req->port);
	if (b && !streq(b->owner, req->owner))
		return learn_close(l), -EPERM;
	if (b && b->nft != req->nft)
		return learn_close(l), -EBUSY;
	if (bundo_note(f, req->port, b) < 0)
		return learn_close(l), -ENOMEM;
	if (bind_keep_learned(b, req, &req2, &kept))
		req = &req2;
	if (!b) {
		b = binding_new(f, req->port);
		if (!b)
			return learn_close(l), -ENOMEM;
		if (req->nft)
			netdev_adopt(f, b);
		created = true;
		now_iso(b->created, sizeof(b->created));
	}
	if (binding_set(f, b, req, ret_error) < 0) {
		/* Refused: everything as it was. */
		learn_close(l);
		if (created)
			binding_free(f, b);
		return -EINVAL;
	}
	bind_learner(f, b, l);
	if (!created && b->state == B_APPLIED && !b->in_batch && !b->dirty &&
	    streq(b->applied_hash, b->want.hash)) {
		/* Nothing changed: nothing to run. */
		binding_store(f, b);
		return 0;
	}
	binding_set_state(f, b, B_PENDING);
	b->gone = false;
	binding_set_dirty(f, b, true);
	free(b->error);
	b->error = NULL;
	binding_store(f, b);
	if (binding_wait(f, b, w) < 0)
		return -ENOMEM;
	return 1;
}

int bindings_unbind(struct filters *f, const char *port, const char *owner,
		    const struct waiter *w)
{
	struct binding *b;

	assert(f);
	assert(port && owner);
	assert(w && w->fn);
	b = binding_find(f, port);
	if (!b)
		return -ENOENT;
	if (!streq(b->owner, owner))
		return -EPERM;
	if (bundo_note(f, port, b) < 0)
		return -ENOMEM;
	binding_set_state(f, b, B_REMOVING);
	binding_set_dirty(f, b, true);
	b->learner = learn_close(b->learner);
	binding_store(f, b);
	return binding_wait(f, b, w);
}

bool filters_port_bound(void *userdata, const char *port)
{
	assert(userdata);
	assert(port);
	return binding_find(userdata, port) != NULL;
}

void filters_port_gone(void *userdata, const char *port)
{
	struct filters *f = userdata;
	struct binding *b;

	assert(f);
	assert(port);
	b = binding_find(f, port);
	if (!b || b->state == B_REMOVING)
		return;
	log_info("%s: the port is gone; removing its filter rules", port);
	binding_set_state(f, b, B_REMOVING);
	b->gone = true;
	binding_set_dirty(f, b, true);
	b->learner = learn_close(b->learner);
	binding_store(f, b);
}

unsigned bindings_rerender(struct filters *f)
{
	struct binding *b;
	unsigned changed = 0;

	assert(f);
	for (int k = 0; k < 2; k++) {
		TAILQ_FOREACH(b, k ? &f->netdev_all : &f->all, entry) {
			char old[65], old_inputs[65], *error = NULL;

			if (b->state == B_REMOVING)
				continue;
			snprintf(old, sizeof(old), "%s", b->rendered ? b->want.hash : "");
			memcpy(old_inputs, b->input_hash, sizeof(old_inputs));
			if (binding_render(f, b, &error) < 0) {
				log_warn("%s: filter '%s' no longer renders (%s); its rules stay as they are",
					 b->port, b->filter, error ? error : "?");
				free(error);
				continue;
			}
			if (!streq(old, b->want.hash)) {
				binding_set_state(f, b, B_PENDING);
				binding_set_dirty(f, b, true);
				binding_store(f, b);
				changed++;
			} else if (!streq(old_inputs, b->input_hash)) {
				binding_store(f, b); /* its row's inputs, for the next start */
			}
		}
	}
	return changed;
}
