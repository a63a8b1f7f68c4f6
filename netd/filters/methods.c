/*
 * methods.c: the filters' io.netd methods. Parameters come in here
 * (decoded, validated, made canonical), typed requests go to the domain
 * code (bindings.c, the batch), and its outcomes go back out as replies;
 * the GetStatus counters too.
 * The only file of netd/filters/ that knows ctl and the wire format.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "decode.h"
#include "filters-internal.h"
#include "links.h"
#include "util.h"
#include "valid.h"

/* verified: the kernel has been checked since the start (until then,
 * netd cannot say that the rules are there). */
static json_t *binding_json(const struct binding *b, bool verified)
{
	struct binding_view v;

	binding_view_fill(&v, b, verified);
	return binding_view_json(&v);
}

/* A waiting call hears the outcome of its batch (or Resync). */
static void answer_call(void *data, const struct outcome *o)
{
	struct ctl_call *call = data;

	switch (o->kind) {
	case OUTCOME_APPLIED:
		ctl_call_reply(call, json_pack("{s:o}", "binding", binding_json(o->b, true)));
		break;
	case OUTCOME_REMOVED:
		ctl_call_reply(call, json_pack("{s:s}", "port", o->port));
		break;
	case OUTCOME_FAILED:
	case OUTCOME_NO_BINDING:
		ctl_call_error(call, o->kind == OUTCOME_FAILED ? "io.netd.ApplyFailed" :
								 "io.netd.NoSuchBinding",
			       json_pack("{s:s, s:s}", "port", o->port, "message",
					 o->message ? o->message : ""));
		break;
	case OUTCOME_STORAGE:
		ctl_call_error(call, "io.netd.StorageError",
			       json_pack("{s:s}", "reason", o->message ? o->message : ""));
		break;
	case OUTCOME_SHUTDOWN:
		ctl_call_error(call, "io.netd.ShuttingDown", NULL);
		break;
	case OUTCOME_RESYNCED:
		ctl_call_reply(call, json_pack("{s:i, s:i}", "skipped", o->skipped, "reapplied",
					       o->reapplied));
		break;
	}
}

#define CALL_WAITER(call) (&(struct waiter){ .fn = answer_call, .data = (call) })

/* A list parameter (IP, DHCPSERVER) as a checked array: a string or an
 * array of strings, at most max of them. NULL (after answering the call)
 * if it is not acceptable. */
static json_t *param_list(struct ctl_call *call, json_t *in, const char *key, size_t max)
{
	json_auto_t *arr = json_array();
	json_t *v = json_object_get(in, key), *x;
	size_t k;

	if (json_is_string(v)) {
		json_array_append(arr, v);
	} else if (json_is_array(v)) {
		json_array_foreach(v, k, x)
			json_array_append(arr, x);
	} else if (v) {
		ctl_call_invalid_parameter(call, key);
		return NULL;
	}
	if (json_array_size(arr) > max) {
		ctl_call_invalid_parameter(call, key);
		return NULL;
	}
	json_array_foreach(arr, k, x)
		if (!json_is_string(x) || rules_param_check(key, json_string_value(x)) < 0) {
			ctl_call_invalid_parameter(call, key);
			return NULL;
		}
	return json_incref(arr);
}

/* Canonical parameters: {"MAC": s, "IP": [..], "DHCPSERVER": [..],
 * "GATEWAY_MAC": s (optional)}, each
 * value checked; the MAC defaults to the port's. Returns NULL after
 * answering the call. */
static json_t *bind_params_canonical(struct ctl_call *call, json_t *in, const struct links_port *lp)
{
	static const struct {
		const char *key;
		size_t max;
	} lists[] = { { "IP", 64 }, { "DHCPSERVER", 16 } };
	json_auto_t *out = json_object();
	const char *key;
	json_t *v;

	json_object_foreach(in, key, v) {
		bool known = streq(key, "MAC") || streq(key, "GATEWAY_MAC");

		for (size_t i = 0; i < ELEMENTSOF(lists); i++)
			known |= streq(key, lists[i].key);
		if (!known) {
			ctl_call_invalid_parameter(call, "parameters");
			return NULL;
		}
	}
	v = json_object_get(in, "GATEWAY_MAC");
	if (v) {
		if (!json_is_string(v) || rules_param_check("GATEWAY_MAC", json_string_value(v)) < 0) {
			ctl_call_invalid_parameter(call, "GATEWAY_MAC");
			return NULL;
		}
		json_object_set(out, "GATEWAY_MAC", v);
	}
	v = json_object_get(in, "MAC");
	if (v) {
		if (!json_is_string(v) || rules_param_check("MAC", json_string_value(v)) < 0) {
			ctl_call_invalid_parameter(call, "MAC");
			return NULL;
		}
		json_object_set(out, "MAC", v);
	} else if (lp->has_mac) {
		char mac[18];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", lp->mac[0], lp->mac[1],
			 lp->mac[2], lp->mac[3], lp->mac[4], lp->mac[5]);
		json_object_set_new(out, "MAC", json_string(mac));
	} else {
		ctl_call_invalid_parameter(call, "MAC");
		return NULL;
	}
	for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
		json_t *arr = param_list(call, in, lists[i].key, lists[i].max);

		if (!arr)
			return NULL;
		json_object_set_new(out, lists[i].key, arr);
	}
	return json_incref(out);
}

struct bind_params {
	const char *port;
	const char *filter;
	const char *owner;
	json_t *parameters;
	const char *learning;
};

/* Check a BindFilter's port, filter and owner, and find the port: false
 * after answering the call. */
static bool bind_check(struct filters *f, struct ctl_call *call, const struct bind_params *p,
		       struct links_port *ret_lp)
{
	if (!valid_ifname(p->port)) {
		ctl_call_invalid_parameter(call, "port");
		return false;
	}
	if (!rules_defs_has(f->defs, p->filter)) {
		ctl_call_error(call, "io.netd.NoSuchFilter", json_pack("{s:s}", "filter", p->filter));
		return false;
	}
	if (!valid_owner(p->owner)) {
		ctl_call_invalid_parameter(call, "owner");
		return false;
	}
	if (links_port_lookup(f->links, p->port, ret_lp) < 0) {
		ctl_call_error(call, "io.netd.NoSuchLink", json_pack("{s:s}", "name", p->port));
		return false;
	}
	if (streq(ret_lp->kind, "bridge")) {
		/* A bridge's own traffic is not a port's: bind to its ports. */
		ctl_call_error(call, "io.netd.UnsupportedPort",
			       json_pack("{s:s, s:s}", "port", p->port, "reason",
					 "a bridge is not a port: bind the filter to the tap or veth "
					 "ports on it (or to a macvtap/macvlan port)"));
		return false;
	}
	return true;
}

/* Refuse learning on port: io.netd.InvalidLearning with the reason. */
static bool learning_refused(struct ctl_call *call, const char *port, const char *reason)
{
	ctl_call_error(call, "io.netd.InvalidLearning",
		       json_pack("{s:s, s:s}", "port", port, "reason", reason));
	return false;
}

/* Check a BindFilter's learning and open the watch of its port: false
 * after answering the call (nothing changed). *ret_learner is NULL
 * unless the binding learns. */
static bool bind_learning(struct filters *f, struct ctl_call *call, const struct bind_params *p,
			  json_t *canon, bool nft, enum learn_mode *ret_mode,
			  struct learner **ret_learner)
{
	enum learn_mode m;
	int r;

	*ret_learner = NULL;
	*ret_mode = LEARN_NONE;
	if (!p->learning)
		return true;
	if (learn_mode_from_string(p->learning, &m) < 0) {
		ctl_call_invalid_parameter(call, "learning"); /* not "dhcp", "any" or "none" */
		return false;
	}
	if (m == LEARN_NONE)
		return true;
	if (nft)
		return learning_refused(call, p->port, "address learning is not supported on macvtap or macvlan "
					"ports (the nftables backend); give IP");
	if (json_array_size(json_object_get(canon, "IP")) > 0)
		return learning_refused(call, p->port, "learning and IP exclude each other: the address is "
					"either given or learned");
	if (!rules_filter_uses_ip(f->defs, p->filter))
		return learning_refused(call, p->port, "the filter does not use $IP: there is no address to learn");
	r = learn_open(f, p->port, m, ret_learner);
	if (r < 0) {
		ctl_call_error(call, "io.netd.KernelError",
			       json_pack("{s:i, s:s, s:s}", "errno", -r, "message", strerror(-r),
					 "link", p->port));
		return false;
	}
	*ret_mode = m;
	return true;
}

void filters_bind(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("port", DECODE_STRING, true, struct bind_params, port),
		DECODE_FIELD("filter", DECODE_STRING, true, struct bind_params, filter),
		DECODE_FIELD("owner", DECODE_STRING, true, struct bind_params, owner),
		DECODE_FIELD("parameters", DECODE_OBJECT, false, struct bind_params, parameters),
		DECODE_FIELD("learning", DECODE_STRING, false, struct bind_params, learning),
	};
	struct bind_params p = { 0 };
	struct links_port lp;
	json_auto_t *none = NULL, *canon = NULL;
	_cleanup_free_ char *error = NULL;
	enum learn_mode learn = LEARN_NONE;
	struct learner *l = NULL;
	bool nft;
	int r;

	assert(f);
	assert(call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!bind_check(f, call, &p, &lp))
		return;
	if (!p.parameters)
		p.parameters = none = json_object();
	canon = bind_params_canonical(call, p.parameters, &lp);
	if (!canon)
		return;
	/* macvtap and macvlan traffic bypasses any bridge, so neither
	 * ebtables nor iptables' physdev ever sees it: those ports go to the
	 * nftables netdev backend (netdev.c), hooked on the device itself. */
	nft = streq(lp.kind, "macvtap") || streq(lp.kind, "macvlan");
	if (!bind_learning(f, call, &p, canon, nft, &learn, &l))
		return;
	r = bindings_bind(f, &(struct bind_req){ .port = p.port, .filter = p.filter,
						 .owner = p.owner, .params = canon, .nft = nft,
						 .learn = learn, .learner = l },
			  CALL_WAITER(call), &error);
	switch (r) {
	case 0: /* nothing changed: answered now */
		ctl_call_reply(call, json_pack("{s:o}", "binding",
					       binding_json(binding_find(f, p.port), f->ready)));
		return;
	case 1: /* answered by its batch */
		return;
	case -EBUSY:
		ctl_call_error(call, "io.netd.UnsupportedPort",
			       json_pack("{s:s, s:s}", "port", p.port, "reason",
					 "the port's binding is held by the other backend (the port "
					 "changed kind); unbind it first"));
		return;
	case -EPERM:
		ctl_call_error(call, "io.netd.NotOwner",
			       json_pack("{s:s, s:s}", "port", p.port, "owner",
					 binding_find(f, p.port)->owner));
		return;
	case -EINVAL:
		ctl_call_error(call, "org.varlink.service.InvalidParameter",
			       json_pack("{s:s, s:s}", "parameter", "parameters", "message",
					 error ? error : "cannot render"));
		return;
	default:
		ctl_call_error(call, "io.netd.InternalError", NULL);
		return;
	}
}

struct unbind_params {
	const char *port;
	const char *owner;
};

void filters_unbind(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("port", DECODE_STRING, true, struct unbind_params, port),
		DECODE_FIELD("owner", DECODE_STRING, true, struct unbind_params, owner),
	};
	struct unbind_params p = { 0 };
	int r;

	assert(f);
	assert(call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!valid_ifname(p.port))
		return ctl_call_invalid_parameter(call, "port");
	if (!valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	r = bindings_unbind(f, p.port, p.owner, CALL_WAITER(call));
	if (r == -ENOENT)
		return ctl_call_error(call, "io.netd.NoSuchBinding", json_pack("{s:s}", "port", p.port));
	if (r == -EPERM)
		return ctl_call_error(call, "io.netd.NotOwner",
				      json_pack("{s:s, s:s}", "port", p.port, "owner",
						binding_find(f, p.port)->owner));
	if (r < 0)
		return ctl_call_error(call, "io.netd.InternalError", NULL);
}

struct port_params {
	const char *port;
};

void filters_get_binding(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("port", DECODE_STRING, true, struct port_params, port),
	};
	struct port_params p = { 0 };
	struct binding *b;

	assert(f);
	assert(call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!valid_ifname(p.port))
		return ctl_call_invalid_parameter(call, "port");
	b = binding_find(f, p.port);
	if (!b)
		return ctl_call_error(call, "io.netd.NoSuchBinding", json_pack("{s:s}", "port", p.port));
	ctl_call_reply(call, json_pack("{s:o}", "binding", binding_json(b, f->ready)));
}

struct owner_params {
	const char *owner;
};

void filters_list_bindings(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("owner", DECODE_STRING, false, struct owner_params, owner),
	};
	struct owner_params p = { 0 };

	assert(f);
	assert(call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (p.owner && !valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	/* The list is copied now and encoded over loop iterations (list.c). */
	filters_list_start(f, call, p.owner);
}

void filters_list_filters(struct filters *f, struct ctl_call *call, json_t *params)
{
	json_t *arr;

	assert(f);
	assert(call);
	if (!ctl_call_decode(call, NULL, 0, NULL))
		return;
	arr = json_array();
	for (size_t i = 0; i < rules_defs_count(f->defs); i++) {
		const char *name = rules_defs_name(f->defs, i);
		const char *file = rules_defs_file(f->defs, name);
		json_t *o = json_pack("{s:s, s:b}", "name", name, "builtin",
				      rules_defs_is_builtin(f->defs, name));

		if (o && file)
			json_object_set_new(o, "file", json_string(file));
		json_array_append_new(arr, o);
	}
	ctl_call_reply(call, json_pack("{s:o}", "filters", arr));
}

struct filter_params {
	const char *name;
};

void filters_get_filter(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("name", DECODE_STRING, true, struct filter_params, name),
	};
	struct filter_params p = { 0 };
	json_t *def;

	assert(f);
	assert(call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	def = rules_filter_json(f->defs, p.name);
	if (!def)
		return ctl_call_error(call, "io.netd.NoSuchFilter", json_pack("{s:s}", "filter", p.name));
	ctl_call_reply(call, json_pack("{s:o}", "filter", def));
}

struct resync_params {
	bool full;
};

void filters_resync(struct filters *f, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("full", DECODE_BOOL, false, struct resync_params, full),
	};
	struct resync_params p = { 0 };

	assert(f);
	assert(call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (filters_resync_start(f, p.full, CALL_WAITER(call)) < 0)
		ctl_call_error(call, "io.netd.InternalError", NULL);
}

void filters_status(const struct filters *f, json_t *reply)
{
	assert(f);
	assert(reply);
	/* Counts kept as states change (binding_count()): no walk. */
	json_object_set_new(reply, "bindings", json_integer(f->nbindings));
	json_object_set_new(reply, "bindings_now_applied", json_integer(f->nstate[B_APPLIED]));
	json_object_set_new(reply, "bindings_now_pending", json_integer(f->nstate[B_PENDING]));
	json_object_set_new(reply, "bindings_now_failed", json_integer(f->nstate[B_FAILED]));
	json_object_set_new(reply, "bindings_now_learning", json_integer(f->nlearning));
	json_object_set_new(reply, "addresses_learned", json_integer((json_int_t)f->learned));
	json_object_set_new(reply, "last_resync", json_string(f->last_resync));
	json_object_set_new(reply, "last_resync_skipped", json_integer(f->last_resync_skipped));
	json_object_set_new(reply, "last_resync_reapplied", json_integer(f->last_resync_reapplied));
	json_object_set_new(reply, "last_resync_by", json_string(f->last_resync_by));
	json_object_set_new(reply, "resyncs_by_generation",
			    json_integer((json_int_t)f->resyncs_by_generation));
	json_object_set_new(reply, "restore_runs", json_integer((json_int_t)f->restore_runs));
	json_object_set_new(reply, "save_runs", json_integer((json_int_t)f->save_runs));
	json_object_set_new(reply, "bindings_applied", json_integer((json_int_t)f->applied));
	json_object_set_new(reply, "bindings_skipped", json_integer((json_int_t)f->skipped));
	json_object_set_new(reply, "bindings_failed", json_integer((json_int_t)f->failed_applies));
	json_object_set_new(reply, "filter_batches", json_integer((json_int_t)f->batches));
	json_object_set_new(reply, "filter_errors", json_integer(f->filter_errors));
	json_object_set_new(reply, "filters_verified", json_boolean(f->ready));
	json_object_set_new(reply, "bindings_rendered_at_start", json_integer(f->start_renders));
	json_object_set_new(reply, "filters_verified_by",
			    json_string(!f->ready ? "" : f->verified_by_generation ? "generation" : "save"));
	json_object_set_new(reply, "filter_batches_failed", json_integer((json_int_t)f->failed_batches));
	json_object_set_new(reply, "filter_backoff_ms", json_integer(f->backoff_ms));
	json_object_set_new(reply, "filter_hook_drift", json_integer((json_int_t)f->hook_drift));
	json_object_set_new(reply, "filter_hook_drift_last", json_string(f->hook_drift_last));
	json_object_set_new(reply, "filters_checkpoint",
			    f->mark_valid ? json_integer(f->mark) : json_null());
	netdev_status(f, reply);
}
