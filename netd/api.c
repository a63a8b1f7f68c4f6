/*
 * api.c: see api.h. One table lists every method with its handler and
 * whether it changes anything; the table is the single place that decides
 * who may call what and what gets audited.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "audit.h"
#include "core.h"
#include "ctl.h"
#include "decode.h"
#include "embedded.h"
#include "filters.h"
#include "links.h"
#include "log.h"
#include "peerinfo.h"
#include "spawner.h"
#include "stats.h"
#include "store.h"
#include "util.h"

struct api_method {
	const char *name;
	bool mutating; /* needs privilege; audited */
	void (*fn)(struct core *core, struct ctl_call *call);
};

const char *const api_interfaces[] = {
	"org.varlink.service",
	"io.netd",
	NULL,
};

#define PARAMS_NONE(call) ctl_call_decode((call), NULL, 0, NULL)

static void method_get_info(struct core *core, struct ctl_call *call)
{
	json_t *ifaces;

	if (!PARAMS_NONE(call))
		return;
	ifaces = json_array();
	for (size_t i = 0; api_interfaces[i]; i++)
		json_array_append_new(ifaces, json_string(api_interfaces[i]));
	ctl_call_reply(call, json_pack("{s:s, s:s, s:s, s:s, s:o}",
				       "vendor", "netd project",
				       "product", "netd",
				       "version", PACKAGE_VERSION,
				       "url", "man:netd(8)",
				       "interfaces", ifaces));
}

struct get_interface_description {
	const char *interface;
};

static void method_get_interface_description(struct core *core, struct ctl_call *call)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("interface", DECODE_STRING, true,
			     struct get_interface_description, interface),
	};
	struct get_interface_description p = { 0 };

	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	for (size_t i = 0; i < embedded_interfaces_count; i++) {
		const struct embedded_file *f = &embedded_interfaces[i];
		size_t n = strlen(p.interface);

		/* Files are named <interface>.varlink. */
		if (strncmp(f->name, p.interface, n) == 0 && streq(f->name + n, ".varlink")) {
			ctl_call_reply(call, json_pack("{s:s}", "description", f->text));
			return;
		}
	}
	ctl_call_error(call, "org.varlink.service.InterfaceNotFound",
		       json_pack("{s:s}", "interface", p.interface));
}

/* The counters of the limits that protect root and of the audit trail. */
static void status_limits(json_t *r)
{
	json_object_set_new(r, "clients_refused_uid", json_integer((json_int_t)stats.clients_refused_uid));
	json_object_set_new(r, "clients_refused_reserved",
			    json_integer((json_int_t)stats.clients_refused_reserved));
	json_object_set_new(r, "clients_dropped_input",
			    json_integer((json_int_t)stats.clients_dropped_input));
	json_object_set_new(r, "clients_idle_closed", json_integer((json_int_t)stats.clients_idle_closed));
	json_object_set_new(r, "refusals_audited", json_integer((json_int_t)stats.refusals_audited));
	json_object_set_new(r, "refusals_suppressed", json_integer((json_int_t)stats.refusals_suppressed));
	json_object_set_new(r, "audit_rows_pruned", json_integer((json_int_t)stats.audit_rows_pruned));
}

static void method_get_status(struct core *core, struct ctl_call *call)
{
	json_t *r;

	if (!PARAMS_NONE(call))
		return;
	r = json_pack("{s:s, s:I, s:f, s:i, s:I, s:I, s:I, s:I, s:I}",
		      "version", PACKAGE_VERSION,
		      "pid", (json_int_t)getpid(),
		      "uptime_sec", (double)(now_usec() - core->start_us) / 1e6,
		      "db_schema_version", store_version(core->store),
		      "clients", (json_int_t)ctl_server_clients(core->ctl),
		      "max_clients", (json_int_t)core->cfg.max_clients,
		      "clients_accepted", (json_int_t)stats.clients_accepted,
		      "clients_refused", (json_int_t)stats.clients_refused,
		      "clients_dropped", (json_int_t)stats.clients_dropped);
	if (!r) {
		ctl_call_error(call, "io.netd.InternalError", NULL);
		return;
	}
	json_object_set_new(r, "requests", json_integer((json_int_t)stats.requests));
	status_limits(r);
	json_object_set_new(r, "errors", json_integer((json_int_t)stats.errors));
	json_object_set_new(r, "protocol_errors", json_integer((json_int_t)stats.protocol_errors));
	json_object_set_new(r, "latency_p50_us", json_integer((json_int_t)stats_latency_percentile(50)));
	json_object_set_new(r, "latency_p99_us", json_integer((json_int_t)stats_latency_percentile(99)));
	json_object_set_new(r, "latency_max_us", json_integer((json_int_t)stats.latency_max_us));
	json_object_set_new(r, "callbacks", json_integer((json_int_t)stats.callbacks));
	json_object_set_new(r, "longest_callback_us", json_integer((json_int_t)stats.longest_callback_us));
	json_object_set_new(r, "longest_callback",
			    json_string(stats.longest_callback ? stats.longest_callback : ""));
	json_object_set_new(r, "longest_callback_cpu_us",
			    json_integer((json_int_t)stats.longest_callback_cpu_us));
	json_object_set_new(r, "longest_callback_cpu",
			    json_string(stats.longest_callback_cpu ? stats.longest_callback_cpu : ""));
	json_object_set_new(r, "iterations", json_integer((json_int_t)stats.iterations));
	json_object_set_new(r, "wal_checkpoints", json_integer((json_int_t)store_wal_checkpoints(core->wal)));
	json_object_set_new(r, "spawner_restarts",
			    json_integer((json_int_t)spawner_restarts(core->spawner)));
	json_object_set_new(r, "longest_iteration_us",
			    json_integer((json_int_t)stats.longest_iteration_us));
	json_object_set_new(r, "config_reloads", json_integer((json_int_t)stats.config_reloads));
	json_object_set_new(r, "config_reload_errors",
			    json_integer((json_int_t)stats.config_reload_errors));
	json_object_set_new(r, "storage_failures",
			    json_integer((json_int_t)store_failures(core->store)));
	json_object_set_new(r, "storage_error", json_string(store_failure_reason(core->store)));
	links_status(core->links, r);
	filters_status(core->filters, r);
	ctl_call_reply(call, r);
}

#define LINKS_METHOD(fn) \
	static void method_##fn(struct core *core, struct ctl_call *call) \
	{ \
		fn(core->links, call, ctl_call_parameters(call)); \
	}
LINKS_METHOD(links_create)
LINKS_METHOD(links_delete)
LINKS_METHOD(links_set)
LINKS_METHOD(links_get)
LINKS_METHOD(links_list)
LINKS_METHOD(links_monitor)

#define FILTERS_METHOD(fn) \
	static void method_##fn(struct core *core, struct ctl_call *call) \
	{ \
		fn(core->filters, call, ctl_call_parameters(call)); \
	}
FILTERS_METHOD(filters_bind)
FILTERS_METHOD(filters_unbind)
FILTERS_METHOD(filters_get_binding)
FILTERS_METHOD(filters_list_bindings)
FILTERS_METHOD(filters_list_filters)
FILTERS_METHOD(filters_get_filter)
FILTERS_METHOD(filters_resync)
FILTERS_METHOD(filters_define)

static const struct api_method methods[] = {
	{ "org.varlink.service.GetInfo", false, method_get_info },
	{ "org.varlink.service.GetInterfaceDescription", false, method_get_interface_description },
	{ "io.netd.GetStatus", false, method_get_status },
	{ "io.netd.CreateLinks", true, method_links_create },
	{ "io.netd.DeleteLinks", true, method_links_delete },
	{ "io.netd.SetLinks", true, method_links_set },
	{ "io.netd.GetLink", false, method_links_get },
	{ "io.netd.ListLinks", false, method_links_list },
	{ "io.netd.Monitor", false, method_links_monitor },
	{ "io.netd.BindFilter", true, method_filters_bind },
	{ "io.netd.UnbindFilter", true, method_filters_unbind },
	{ "io.netd.GetBinding", false, method_filters_get_binding },
	{ "io.netd.ListBindings", false, method_filters_list_bindings },
	{ "io.netd.ListFilters", false, method_filters_list_filters },
	{ "io.netd.GetFilter", false, method_filters_get_filter },
	{ "io.netd.Resync", true, method_filters_resync },
	{ "io.netd.DefineFilter", true, method_filters_define },
};

/* Who made call, for its audit row (the strings are the call's). */
static struct store_peer api_peer(const struct ctl_call *call)
{
	const struct ucred *cred = ctl_call_peer(call);
	const struct peerinfo *pi = ctl_call_peerinfo(call);

	return (struct store_peer){ .uid = cred->uid, .gid = cred->gid, .pid = cred->pid,
				    .comm = pi->comm, .unit = pi->unit };
}

/* What a successful mutating call did, for its audit row: the names a
 * CreateLinks created (not the whole links), else the reply itself (the
 * names deleted, the binding applied, the port unbound, Resync's counts).
 * A new reference, or NULL. */
static json_t *api_outcome(const struct ctl_call *call, const char *method, json_t *reply)
{
	json_t *v, *names;
	size_t i;

	if (!reply && ctl_call_outcome(call)) /* the reply went out encoded */
		return json_incref(ctl_call_outcome(call));
	if (!streq(method, "io.netd.CreateLinks"))
		return json_incref(reply);
	names = json_array();
	json_array_foreach(json_object_get(reply, "links"), i, v)
		json_array_append(names, json_object_get(v, "name"));
	return json_pack("{s:o}", "created", names);
}

/* The final reply of a mutating call: one audit row, in the same grouped
 * transaction as whatever the call changed, with what it did. */
static void audit_finish(struct ctl_call *call, const char *error, json_t *reply,
			 void *userdata)
{
	struct core *core = userdata;
	struct store_peer peer = api_peer(call);
	json_t *params = ctl_call_parameters(call);
	_cleanup_free_ char *ptext = NULL, *dtext = NULL, *otext = NULL;
	json_t *outcome = NULL;
	int r;

	ptext = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	if (error)
		dtext = json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS);
	else
		outcome = api_outcome(call, ctl_call_method(call), reply);
	if (outcome)
		otext = json_dumps(outcome, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(outcome);
	/* Without its parameters, its error's detail or its outcome the row
	 * would say less than what happened. */
	if (!ptext || (error && !dtext) || (!error && !otext)) {
		log_error("%s: out of memory writing the audit row", ctl_call_method(call));
		return;
	}
	r = store_audit_append_outcome(core->store, &peer, ctl_call_method(call), ptext,
				       error ? error : "ok", dtext, otext);
	if (r < 0)
		log_error_errno(ctl_call_method(call), r, "cannot write the audit row");
}

/* A method no table entry serves: InterfaceNotFound when its interface is
 * not one of ours (as the reference implementations answer), else
 * MethodNotFound. The decoder made sure name has a dot. */
static void api_not_found(struct ctl_call *call, const char *name, struct core *core)
{
	const char *dot = strrchr(name, '.');
	size_t n = dot ? (size_t)(dot - name) : strlen(name);
	struct store_peer peer = api_peer(call);

	for (size_t i = 0; api_interfaces[i]; i++)
		if (strlen(api_interfaces[i]) == n && strncmp(api_interfaces[i], name, n) == 0) {
			if (core->audit)
				audit_refusal(core->audit, &peer, name,
					      "org.varlink.service.MethodNotFound");
			ctl_call_error(call, "org.varlink.service.MethodNotFound",
				       json_pack("{s:s}", "method", name));
			return;
		}
	if (core->audit)
		audit_refusal(core->audit, &peer, name, "org.varlink.service.InterfaceNotFound");
	ctl_call_error(call, "org.varlink.service.InterfaceNotFound",
		       json_pack("{s:s%}", "interface", name, n));
}

bool api_method_deferrable(const char *method)
{
	assert(method);
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (streq(methods[i].name, method))
			/* Changes, and lists that can be long. */
			return methods[i].mutating || strncmp(method, "io.netd.List", 12) == 0;
	return false;
}

bool api_method_immediate(const char *method)
{
	assert(method);
	return streq(method, "io.netd.GetStatus") || streq(method, "org.varlink.service.GetInfo") ||
	       streq(method, "org.varlink.service.GetInterfaceDescription");
}

void api_refused(const struct ucred *cred, const char *method, const char *error,
		 void *userdata)
{
	struct core *core = userdata;
	struct store_peer peer = { .uid = cred->uid, .gid = cred->gid, .pid = cred->pid };

	assert(cred && method && error && core);
	/* Audited without its parameters, and rate-limited: anyone may be
	 * refused as often as it likes. */
	if (core->audit)
		audit_refusal(core->audit, &peer, method, error);
}

void api_dispatch(struct ctl_call *call, void *userdata)
{
	struct core *core = userdata;
	const char *name = ctl_call_method(call);

	assert(call);
	assert(userdata);
	for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
		const struct api_method *m = &methods[i];

		if (!streq(m->name, name))
			continue;
		if (m->mutating) {
			if (!ctl_call_privileged(call)) {
				/* Audited without its parameters, and rate-limited:
				 * anyone may be refused as often as it likes. */
				struct store_peer peer = api_peer(call);

				audit_refusal(core->audit, &peer, name, "io.netd.PermissionDenied");
				ctl_call_error(call, "io.netd.PermissionDenied",
					       json_pack("{s:s}", "method", name));
				return;
			}
			ctl_call_set_finish(call, audit_finish, core);
		}
		m->fn(core, call);
		return;
	}
	api_not_found(call, name, core);
}
