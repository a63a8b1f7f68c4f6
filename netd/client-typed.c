/*
 * client-typed.c: libnetd-client's typed calls (CreateLinks, DeleteLinks,
 * BindFilter, UnbindFilter): requests built from C arguments, replies
 * checked against io.netd.varlink and turned into result structs, in a
 * blocking and an asynchronous form that share one path (the blocking
 * form waits for its own asynchronous call).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-internal.h"
#include "util.h"

enum typed_kind {
	TYPED_LINKS,    /* CreateLinks -> links */
	TYPED_DELETED,  /* DeleteLinks -> deleted */
	TYPED_BINDING,  /* BindFilter -> binding */
	TYPED_UNBOUND,  /* UnbindFilter -> port */
};

union typed_result {
	struct netd_links_result links;
	struct netd_names_result names;
	struct netd_binding_result binding;
};

/* One typed call in flight: whom to tell. cb all NULL: its blocking
 * caller gave up, the result is dropped. */
struct typed_call {
	enum typed_kind kind;
	netd_links_cb links_cb;
	netd_names_cb names_cb;
	netd_binding_cb binding_cb;
	void *userdata;
};

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* *ret = a copy of o's string member key. Absent or null is -EPROTO, or
 * NULL when optional. */
static int get_str(json_t *o, const char *key, bool optional, char **ret)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		if (!optional)
			return -EPROTO;
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return -EPROTO;
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

/* An array of strings into a NULL-terminated copy. */
static int get_strv(json_t *a, char ***ret, size_t *ret_n)
{
	size_t i, n = json_array_size(a);
	char **v;
	json_t *s;

	if (!json_is_array(a))
		return -EPROTO;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	json_array_foreach(a, i, s) {
		if (!json_is_string(s) || !(v[i] = strdup(json_string_value(s)))) {
			free_strv(v, i);
			return json_is_string(s) ? -ENOMEM : -EPROTO;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void link_done(struct netd_link *l)
{
	free(l->name);
	free(l->kind);
	free(l->mode);
	free(l->parent);
	free(l->mac);
	free(l->owner);
	free(l->state);
	free(l->created);
	free(l->tap);
	if (l->fd >= 0)
		close(l->fd);
}

/* One link; its "fd" (an index) takes that descriptor of the reply. */
static int parse_link(json_t *o, struct netd_reply *reply, struct netd_link *l)
{
	json_t *ifindex = json_object_get(o, "ifindex"), *fd = json_object_get(o, "fd");
	int r = 0;

	if (!json_is_object(o) || !json_is_integer(ifindex))
		return -EPROTO;
	l->ifindex = json_integer_value(ifindex);
	if (fd) {
		json_int_t i = json_is_integer(fd) ? json_integer_value(fd) : -1;

		if (i < 0 || (size_t)i >= reply->n_fds || reply->fds[i] < 0)
			return -EPROTO;
		l->fd = reply->fds[i];
		reply->fds[i] = -1;
	}
	if ((r = get_str(o, "name", false, &l->name)) < 0 ||
	    (r = get_str(o, "kind", false, &l->kind)) < 0 ||
	    (r = get_str(o, "mode", false, &l->mode)) < 0 ||
	    (r = get_str(o, "parent", false, &l->parent)) < 0 ||
	    (r = get_str(o, "mac", false, &l->mac)) < 0 ||
	    (r = get_str(o, "owner", false, &l->owner)) < 0 ||
	    (r = get_str(o, "state", false, &l->state)) < 0 ||
	    (r = get_str(o, "created", false, &l->created)) < 0 ||
	    (r = get_str(o, "tap", true, &l->tap)) < 0)
		return r;
	return 0;
}

static int parse_links(struct netd_reply *reply, struct netd_links_result *res)
{
	json_t *a = json_object_get(reply->parameters, "links"), *v;
	size_t i;
	int r;

	if (!json_is_array(a))
		return -EPROTO;
	res->links = calloc(json_array_size(a) + 1, sizeof(*res->links));
	if (!res->links)
		return -ENOMEM;
	for (i = 0; i < json_array_size(a); i++)
		res->links[i].fd = -1;
	json_array_foreach(a, i, v) {
		res->n_links = i + 1; /* so that _done() frees a half-filled one */
		r = parse_link(v, reply, &res->links[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_binding(json_t *params, struct netd_binding *b)
{
	json_t *o = json_object_get(params, "binding");
	json_t *applied = json_object_get(o, "applied");
	json_t *bp = json_object_get(o, "parameters");
	int r;

	if (!json_is_object(o) || !json_is_boolean(applied) || !json_is_object(bp))
		return -EPROTO;
	b->applied = json_is_true(applied);
	b->parameters = json_incref(bp);
	if ((r = get_str(o, "port", false, &b->port)) < 0 ||
	    (r = get_str(o, "filter", false, &b->filter)) < 0 ||
	    (r = get_str(o, "owner", false, &b->owner)) < 0 ||
	    (r = get_str(o, "state", false, &b->state)) < 0 ||
	    (r = get_str(o, "hash", false, &b->hash)) < 0 ||
	    (r = get_str(o, "created", false, &b->created)) < 0 ||
	    (r = get_str(o, "applied_at", true, &b->applied_at)) < 0 ||
	    (r = get_str(o, "error", true, &b->error)) < 0)
		return r;
	return get_strv(json_object_get(o, "families"), &b->families, &b->n_families);
}

/* A success reply into res, by kind. */
static int typed_parse(enum typed_kind kind, struct netd_reply *reply, union typed_result *res)
{
	json_t *params = reply->parameters;
	char *port = NULL;
	int r;

	switch (kind) {
	case TYPED_LINKS:
		return parse_links(reply, &res->links);
	case TYPED_DELETED:
		return get_strv(json_object_get(params, "deleted"), &res->names.names,
				&res->names.n_names);
	case TYPED_BINDING:
		return parse_binding(params, &res->binding.binding);
	case TYPED_UNBOUND:
		r = get_str(params, "port", false, &port);
		if (r < 0)
			return r;
		res->names.names = calloc(2, sizeof(char *));
		if (!res->names.names) {
			free(port);
			return -ENOMEM;
		}
		res->names.names[0] = port;
		res->names.n_names = 1;
		return 0;
	}
	return -EINVAL;
}

static void typed_done(enum typed_kind kind, union typed_result *res)
{
	if (kind == TYPED_LINKS)
		netd_links_result_done(&res->links);
	else if (kind == TYPED_BINDING)
		netd_binding_result_done(&res->binding);
	else
		netd_names_result_done(&res->names);
}

/* Every result struct starts with its struct netd_error. */
static struct netd_error *typed_error(enum typed_kind kind, union typed_result *res)
{
	return kind == TYPED_LINKS ? &res->links.error :
	       kind == TYPED_BINDING ? &res->binding.error : &res->names.error;
}

/* The raw callback of every typed call: the reply into a result, handed
 * to the typed callback; a typed call has one reply, so this is the
 * call's last word and the typed call is freed. */
static void typed_reply_cb(struct netd_client *c, int r, struct netd_reply *reply, void *userdata)
{
	struct typed_call *t = userdata;
	union typed_result res;

	memset(&res, 0, sizeof(res));
	if (r == 0 && reply->error) {
		struct netd_error *e = typed_error(t->kind, &res);

		e->name = TAKE_PTR(reply->error);
		e->parameters = TAKE_PTR(reply->parameters);
		r = -EREMOTEIO;
	} else if (r == 0) {
		r = typed_parse(t->kind, reply, &res);
		if (r < 0) {
			typed_done(t->kind, &res);
			memset(&res, 0, sizeof(res));
		}
	}
	if (t->links_cb)
		t->links_cb(c, r, &res.links, t->userdata);
	else if (t->names_cb)
		t->names_cb(c, r, &res.names, t->userdata);
	else if (t->binding_cb)
		t->binding_cb(c, r, &res.binding, t->userdata);
	typed_done(t->kind, &res);
	free(t);
}

/* Queue method with params (taken) as a typed call of kind. */
static int typed_queue(struct netd_client *c, const char *method, json_t *params,
		       int timeout_ms, const struct typed_call *tmpl, struct typed_call **ret_t)
{
	struct typed_call *t = malloc(sizeof(*t));
	int r;

	if (!t) {
		json_decref(params);
		return -ENOMEM;
	}
	*t = *tmpl;
	r = netd_client_call_async(c, method, params, 0, timeout_ms, typed_reply_cb, t);
	if (r < 0) {
		free(t);
		return r;
	}
	if (ret_t)
		*ret_t = t;
	return 0;
}

/* ---- the blocking forms: their own async call, waited for ---- */

struct typed_slot {
	bool done;
	int r;
	union typed_result *ret;
	size_t size;
};

static bool typed_slot_done(struct netd_client *c _unused_, void *arg)
{
	return ((struct typed_slot *)arg)->done;
}

/* Moves the result out of the library's hands into the caller's. */
static void typed_slot_fill(struct typed_slot *s, int r, void *res)
{
	s->done = true;
	s->r = r;
	memcpy(s->ret, res, s->size);
	memset(res, 0, s->size);
}

static void slot_links_cb(struct netd_client *c _unused_, int r, struct netd_links_result *res,
			  void *userdata)
{
	typed_slot_fill(userdata, r, res);
}

static void slot_names_cb(struct netd_client *c _unused_, int r, struct netd_names_result *res,
			  void *userdata)
{
	typed_slot_fill(userdata, r, res);
}

static void slot_binding_cb(struct netd_client *c _unused_, int r,
			    struct netd_binding_result *res, void *userdata)
{
	typed_slot_fill(userdata, r, res);
}

/* Run a typed call to its end; *ret (size bytes) is the result. */
static int typed_block(struct netd_client *c, const char *method, json_t *params,
		       int timeout_ms, enum typed_kind kind, void *ret, size_t size)
{
	struct typed_slot slot = { .ret = ret, .size = size };
	struct typed_call t = { .kind = kind, .userdata = &slot }, *queued = NULL;
	int r;

	memset(ret, 0, size);
	if (kind == TYPED_LINKS)
		t.links_cb = slot_links_cb;
	else if (kind == TYPED_BINDING)
		t.binding_cb = slot_binding_cb;
	else
		t.names_cb = slot_names_cb;
	r = typed_queue(c, method, params, timeout_ms, &t, &queued);
	if (r < 0)
		return r;
	/* The call's own timeout (or the connection's end) always answers
	 * it, so this returns early only if poll(2) itself fails: then the
	 * call must no longer point at this stack frame. */
	r = client_wait(c, typed_slot_done, &slot, 0);
	if (!slot.done) {
		queued->links_cb = NULL;
		queued->names_cb = NULL;
		queued->binding_cb = NULL;
		return r;
	}
	return slot.r;
}

/* ---- requests ---- */

static json_t *strv_to_json(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (!v[i] || json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* CreateLinks' parameters; NULL when req is incomplete or out of memory
 * (*ret_r says which). */
static json_t *create_params(const struct netd_link_request *req, int *ret_r)
{
	json_t *p;

	*ret_r = -EINVAL;
	if (!req || !req->parent || !req->kind || !req->owner || (req->count && req->n_names) ||
	    (req->n_names && !req->names) || (req->n_macs && !req->macs))
		return NULL;
	*ret_r = -ENOMEM;
	p = json_pack("{s:s, s:s, s:s}", "parent", req->parent, "kind", req->kind,
		      "owner", req->owner);
	if (p && req->mode && json_object_set_new(p, "mode", json_string(req->mode)) < 0)
		goto fail;
	if (p && req->fds && json_object_set_new(p, "fds", json_true()) < 0)
		goto fail;
	if (p && req->count && json_object_set_new(p, "count", json_integer(req->count)) < 0)
		goto fail;
	if (p && req->n_names &&
	    json_object_set_new(p, "names", strv_to_json(req->names, req->n_names)) < 0)
		goto fail;
	if (p && req->n_macs &&
	    json_object_set_new(p, "macs", strv_to_json(req->macs, req->n_macs)) < 0)
		goto fail;
	return p;
fail:
	json_decref(p);
	return NULL;
}

static json_t *delete_params(const char *owner, const char *const *names, size_t n_names)
{
	json_t *p;

	if (!owner || (n_names && !names))
		return NULL;
	p = json_pack("{s:s}", "owner", owner);
	if (p && n_names && json_object_set_new(p, "names", strv_to_json(names, n_names)) < 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

static json_t *bind_params(const char *port, const char *filter, const char *owner,
			   json_t *parameters)
{
	json_t *p = NULL;

	if (port && filter && owner && (!parameters || json_is_object(parameters)))
		p = json_pack("{s:s, s:s, s:s}", "port", port, "filter", filter, "owner", owner);
	if (p && parameters && json_object_set(p, "parameters", parameters) < 0) {
		json_decref(p);
		p = NULL;
	}
	json_decref(parameters);
	return p;
}

static json_t *unbind_params(const char *port, const char *owner)
{
	return port && owner ? json_pack("{s:s, s:s}", "port", port, "owner", owner) : NULL;
}

/* ---- the public calls ---- */

int netd_create_links(struct netd_client *c, const struct netd_link_request *req,
		      int timeout_ms, struct netd_links_result *ret)
{
	json_t *p;
	int r;

	assert(c);
	assert(ret);
	memset(ret, 0, sizeof(*ret));
	p = create_params(req, &r);
	if (!p)
		return r;
	return typed_block(c, "io.netd.CreateLinks", p, timeout_ms, TYPED_LINKS, ret, sizeof(*ret));
}

int netd_create_links_async(struct netd_client *c, const struct netd_link_request *req,
			    int timeout_ms, netd_links_cb cb, void *userdata)
{
	struct typed_call t = { .kind = TYPED_LINKS, .links_cb = cb, .userdata = userdata };
	json_t *p;
	int r;

	assert(c);
	assert(cb);
	p = create_params(req, &r);
	if (!p)
		return r;
	return typed_queue(c, "io.netd.CreateLinks", p, timeout_ms, &t, NULL);
}

int netd_delete_links(struct netd_client *c, const char *owner, const char *const *names,
		      size_t n_names, int timeout_ms, struct netd_names_result *ret)
{
	json_t *p;

	assert(c);
	assert(ret);
	memset(ret, 0, sizeof(*ret));
	p = delete_params(owner, names, n_names);
	if (!p)
		return owner ? -ENOMEM : -EINVAL;
	return typed_block(c, "io.netd.DeleteLinks", p, timeout_ms, TYPED_DELETED, ret,
			   sizeof(*ret));
}

int netd_delete_links_async(struct netd_client *c, const char *owner,
			    const char *const *names, size_t n_names, int timeout_ms,
			    netd_names_cb cb, void *userdata)
{
	struct typed_call t = { .kind = TYPED_DELETED, .names_cb = cb, .userdata = userdata };
	json_t *p;

	assert(c);
	assert(cb);
	p = delete_params(owner, names, n_names);
	if (!p)
		return owner ? -ENOMEM : -EINVAL;
	return typed_queue(c, "io.netd.DeleteLinks", p, timeout_ms, &t, NULL);
}

int netd_bind_filter(struct netd_client *c, const char *port, const char *filter,
		     const char *owner, json_t *parameters, int timeout_ms,
		     struct netd_binding_result *ret)
{
	json_t *p;

	assert(c);
	assert(ret);
	memset(ret, 0, sizeof(*ret));
	p = bind_params(port, filter, owner, parameters);
	if (!p)
		return port && filter && owner ? -ENOMEM : -EINVAL;
	return typed_block(c, "io.netd.BindFilter", p, timeout_ms, TYPED_BINDING, ret,
			   sizeof(*ret));
}

int netd_bind_filter_async(struct netd_client *c, const char *port, const char *filter,
			   const char *owner, json_t *parameters, int timeout_ms,
			   netd_binding_cb cb, void *userdata)
{
	struct typed_call t = { .kind = TYPED_BINDING, .binding_cb = cb, .userdata = userdata };
	json_t *p;

	assert(c);
	assert(cb);
	p = bind_params(port, filter, owner, parameters);
	if (!p)
		return port && filter && owner ? -ENOMEM : -EINVAL;
	return typed_queue(c, "io.netd.BindFilter", p, timeout_ms, &t, NULL);
}

int netd_unbind_filter(struct netd_client *c, const char *port, const char *owner,
		       int timeout_ms, struct netd_names_result *ret)
{
	json_t *p;

	assert(c);
	assert(ret);
	memset(ret, 0, sizeof(*ret));
	p = unbind_params(port, owner);
	if (!p)
		return port && owner ? -ENOMEM : -EINVAL;
	return typed_block(c, "io.netd.UnbindFilter", p, timeout_ms, TYPED_UNBOUND, ret,
			   sizeof(*ret));
}

int netd_unbind_filter_async(struct netd_client *c, const char *port, const char *owner,
			     int timeout_ms, netd_names_cb cb, void *userdata)
{
	struct typed_call t = { .kind = TYPED_UNBOUND, .names_cb = cb, .userdata = userdata };
	json_t *p;

	assert(c);
	assert(cb);
	p = unbind_params(port, owner);
	if (!p)
		return port && owner ? -ENOMEM : -EINVAL;
	return typed_queue(c, "io.netd.UnbindFilter", p, timeout_ms, &t, NULL);
}

static void error_done(struct netd_error *e)
{
	free(e->name);
	json_decref(e->parameters);
	e->name = NULL;
	e->parameters = NULL;
}

void netd_links_result_done(struct netd_links_result *res)
{
	if (!res)
		return;
	error_done(&res->error);
	for (size_t i = 0; i < res->n_links; i++)
		link_done(&res->links[i]);
	free(res->links);
	memset(res, 0, sizeof(*res));
}

void netd_names_result_done(struct netd_names_result *res)
{
	if (!res)
		return;
	error_done(&res->error);
	if (res->names)
		free_strv(res->names, res->n_names);
	memset(res, 0, sizeof(*res));
}

void netd_binding_result_done(struct netd_binding_result *res)
{
	struct netd_binding *b;

	if (!res)
		return;
	b = &res->binding;
	error_done(&res->error);
	free(b->port);
	free(b->filter);
	free(b->owner);
	json_decref(b->parameters);
	free(b->state);
	free(b->hash);
	if (b->families)
		free_strv(b->families, b->n_families);
	free(b->created);
	free(b->applied_at);
	free(b->error);
	memset(res, 0, sizeof(*res));
}
