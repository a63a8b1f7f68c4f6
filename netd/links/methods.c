/*
 * methods.c: the links' side of the io.netd interface, and the only file
 * of netd/links/ that knows ctl and JSON: parameters are decoded and
 * checked for form here and handed on as typed requests; results, refusals
 * and Monitor events come back typed and are encoded here.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "ctl.h"
#include "decode.h"
#include "links-internal.h"
#include "log.h"
#include "nl.h"
#include "util.h"
#include "valid.h"

/* --- JSON out --- */

static json_t *link_json(struct links *l, const struct link *k)
{
	struct kdev *d = k->ifindex > 0 ? kdev_by_index(l, k->ifindex) : NULL;
	char mac[18] = "";
	json_t *o;

	if (k->has_mac)
		mac_to_string(k->mac, mac, sizeof(mac));
	o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		      "name", k->name,
		      "ifindex", k->ifindex,
		      "kind", k->kind,
		      "mode", nl_macvlan_mode_to_string(k->mode),
		      "parent", k->parent,
		      "mac", mac,
		      "owner", k->owner,
		      "state", link_state_to_string(k->state),
		      "created", k->created);
	if (o && streq(k->kind, "macvtap") && k->ifindex > 0) {
		char tap[32];

		snprintf(tap, sizeof(tap), "/dev/tap%d", k->ifindex);
		json_object_set_new(o, "tap", json_string(tap));
	}
	/* From the kernel's picture, once it has shown the device. */
	if (o && d && k->state == LINK_PRESENT) {
		json_object_set_new(o, "up", json_boolean(d->flags & IFF_UP));
		if (d->mtu > 0)
			json_object_set_new(o, "mtu", json_integer(d->mtu));
	}
	return o;
}

static int cmp_link_ptr(const void *a, const void *b)
{
	return strverscmp((*(struct link *const *)a)->name, (*(struct link *const *)b)->name);
}

/* Links (of owner, or all), sorted so macvtap2 comes before macvtap10. */
static json_t *links_array(struct links *l, const char *owner)
{
	struct link **v = calloc(l->nlinks ? l->nlinks : 1, sizeof(*v));
	json_t *arr = json_array();
	struct link *k;
	unsigned n = 0;

	if (!v || !arr) {
		free(v);
		json_decref(arr);
		return NULL;
	}
	TAILQ_FOREACH(k, &l->all, entry)
		if (!owner || streq(k->owner, owner))
			v[n++] = k;
	qsort(v, n, sizeof(*v), cmp_link_ptr);
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(arr, link_json(l, v[i]));
	free(v);
	return arr;
}

/* --- monitors --- */

struct monitor {
	struct ctl_call *call;
	TAILQ_ENTRY(monitor) entry;
};

static void monitor_send(struct links *l, json_t *event)
{
	struct monitor *m;

	TAILQ_FOREACH(m, &l->monitors, entry)
		ctl_call_reply_more(m->call, json_deep_copy(event));
	json_decref(event);
}

static void monitor_cancel(struct ctl_call *call, void *userdata)
{
	struct links *l = userdata;
	struct monitor *m;

	TAILQ_FOREACH(m, &l->monitors, entry)
		if (m->call == call) {
			TAILQ_REMOVE(&l->monitors, m, entry);
			free(m);
			break;
		}
	/* Nobody is listening; the final reply only frees the call. */
	ctl_call_reply(call, NULL);
}

void links_notify(struct links *l, enum links_event ev, const struct link *k,
		  const char *name_or_reason)
{
	json_t *e = NULL;

	if (TAILQ_EMPTY(&l->monitors))
		return;
	switch (ev) {
	case LINKS_EVENT_ADDED:
	case LINKS_EVENT_REMOVED:
		e = json_pack("{s:s, s:o}", "event", ev == LINKS_EVENT_ADDED ? "added" : "removed",
			      "link", link_json(l, k));
		if (e && name_or_reason)
			json_object_set_new(e, "reason", json_string(name_or_reason));
		break;
	case LINKS_EVENT_FOREIGN:
		e = json_pack("{s:s, s:s}", "event", "foreign", "name", name_or_reason);
		break;
	case LINKS_EVENT_RESYNC:
		e = json_pack("{s:s}", "event", "resync");
		break;
	}
	if (e)
		monitor_send(l, e);
}

void links_stop_monitors(struct links *l)
{
	struct monitor *m;

	assert(l);
	while ((m = TAILQ_FIRST(&l->monitors))) {
		TAILQ_REMOVE(&l->monitors, m, entry);
		ctl_call_set_cancel(m->call, NULL, NULL);
		/* A declared end: a client can tell netd stopping from a
		 * reply it does not understand. */
		ctl_call_error(m->call, "io.netd.ShuttingDown", NULL);
		free(m);
	}
}

/* --- results and refusals --- */

/* CreateLinks with fds: each link's tap opened, its index among the
 * descriptors in the link's "fd", all attached to the call. false after
 * answering the call with the error when one cannot be opened (the links
 * stay: they are the caller's, to use without fds or delete). */
static bool create_attach_fds(struct ctl_call *call, const struct links_op_result *res,
			      json_t *arr)
{
	int *fds = calloc(res->nlinks ? res->nlinks : 1, sizeof(int));
	unsigned i;
	int fd = -ENOMEM;

	for (i = 0; fds && i < res->nlinks; i++) {
		fd = links_tap_open(res->l->tap_dir, res->links[i]->name,
				     res->links[i]->ifindex);
		if (fd < 0)
			break;
		fds[i] = fd;
		json_object_set_new(json_array_get(arr, i), "fd", json_integer(i));
	}
	if (fds && i == res->nlinks) {
		ctl_call_attach_fds(call, fds, res->nlinks);
		return true;
	}
	log_warn("%s: cannot open the tap device: %s", res->nlinks ? res->links[i]->name : "?",
		 strerror(-fd));
	while (fds && i > 0)
		close(fds[--i]);
	ctl_call_error(call, "io.netd.KernelError",
		       json_pack("{s:i, s:s, s:s}", "errno", -fd, "message", strerror(-fd), "link",
				 res->nlinks && fds ? res->links[i]->name : ""));
	free(fds);
	json_decref(arr);
	return false;
}

/* What a create did, for its audit row: the names made, in order. */
static json_t *create_outcome(const struct links_op_result *res)
{
	json_t *names = json_array();

	for (unsigned i = 0; names && i < res->nlinks; i++)
		json_array_append_new(names, json_string(res->links[i]->name));
	return names ? json_pack("{s:o}", "created", names) : NULL;
}

/* An op ended: data is the call. */
static void op_reply(void *data, const struct links_op_result *res)
{
	struct ctl_call *call = data;
	json_t *arr, *p;

	if (res->error == -ESHUTDOWN)
		return ctl_call_error(call, "io.netd.ShuttingDown", NULL);
	if (res->storage_error)
		return ctl_call_error(call, "io.netd.StorageError",
				      json_pack("{s:s}", "reason", res->storage_error));
	if (res->error) {
		p = json_pack("{s:i, s:s}", "errno", -res->error, "message",
			      res->error_message ? res->error_message : strerror(-res->error));
		if (p && res->error_link)
			json_object_set_new(p, "link", json_string(res->error_link));
		return ctl_call_error(call, "io.netd.KernelError", p);
	}
	if (res->type == OP_CREATE) {
		/* Encoded in pieces by the engine, unless the caller wants the
		 * tap devices: then each link carries the index of its fd. */
		if (!json_is_true(json_object_get(ctl_call_parameters(call), "fds"))) {
			ctl_call_set_outcome(call, create_outcome(res));
			return ctl_call_reply_encoded(call, res->reply_text);
		}
		free(res->reply_text);
		arr = json_array();
		for (unsigned i = 0; i < res->nlinks; i++)
			json_array_append_new(arr, link_json(res->l, res->links[i]));
		if (create_attach_fds(call, res, arr))
			ctl_call_reply(call, json_pack("{s:o, s:I}", "links", arr, "fds",
						       (json_int_t)res->nlinks));
		return;
	}
	arr = json_array();
	if (res->type == OP_SET) {
		for (unsigned i = 0; i < res->nlinks; i++)
			json_array_append_new(arr, link_json(res->l, res->links[i]));
		return ctl_call_reply(call, json_pack("{s:o}", "links", arr));
	}
	for (unsigned i = 0; i < res->ndeleted; i++)
		json_array_append_new(arr, json_string(res->deleted[i]));
	ctl_call_reply(call, json_pack("{s:o}", "deleted", arr));
}

void links_reply_encode(struct strbuf *b, struct links *l, const struct link *k, unsigned i,
			unsigned n)
{
	json_t *o = link_json(l, k);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	assert(b && k && i < n);
	json_decref(o);
	strbuf_puts(b, i == 0 ? "{\"links\":[" : ",");
	if (text)
		strbuf_puts(b, text);
	else
		b->oom = true; /* the reply is then InternalError */
	free(text);
	if (i == n - 1)
		strbuf_puts(b, "]}");
}

/* A call refused before anything changed. */
static void refusal_reply(struct ctl_call *call, int r, const struct links_refusal *f)
{
	switch (r) {
	case -ENODEV:
	case -ENOENT:
		return ctl_call_error(call, "io.netd.NoSuchLink", json_pack("{s:s}", "name", f->name));
	case -EEXIST:
		return ctl_call_error(call, "io.netd.LinkExists", json_pack("{s:s}", "name", f->name));
	case -ENOSPC:
		return ctl_call_error(call, "io.netd.NoNamesLeft",
				      json_pack("{s:s}", "prefix", f->name));
	case -EPERM:
		return ctl_call_error(call, "io.netd.NotOwner",
				      json_pack("{s:s, s:s}", "name", f->name, "owner", f->owner));
	case -EBUSY:
		return ctl_call_error(call, "io.netd.LinkBusy",
				      json_pack("{s:s, s:s}", "name", f->name, "state", f->state));
	case -ERANGE:
		return ctl_call_invalid_parameter(call, "mtu");
	default:
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	}
}

/* names (a JSON array of strings, borrowed) as a C array, or NULL. */
static const char **string_vector(json_t *names)
{
	size_t n = json_array_size(names);
	const char **v = calloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; v && i < n; i++)
		v[i] = json_string_value(json_array_get(names, i));
	return v;
}

/* --- CreateLinks --- */

struct create_params {
	const char *parent;
	const char *kind;
	const char *mode;
	const char *owner;
	int64_t count;
	json_t *names;
	json_t *macs;
	bool fds;
	bool down;
};

/* The number of links asked for, or the name of the bad field. */
static const char *create_count(const struct create_params *p, size_t *ret_n)
{
	size_t n;

	if (p->names && p->count != INT64_MIN)
		return "count"; /* one or the other */
	if (p->names) {
		n = json_array_size(p->names);
		if (n < 1 || n > LINKS_MAX_COUNT)
			return "names";
	} else {
		int64_t c = p->count == INT64_MIN ? 1 : p->count;

		if (c < 1 || c > LINKS_MAX_COUNT)
			return "count";
		n = (size_t)c;
	}
	if (p->macs && json_array_size(p->macs) != n)
		return "macs";
	*ret_n = n;
	return NULL;
}

/* MACs and names: well formed and distinct; NULL or the bad field. */
static const char *create_lists(const struct create_params *p, size_t n, uint8_t (*macs)[NL_MAC_LEN])
{
	for (size_t i = 0; p->macs && i < n; i++) {
		if (mac_parse(json_string_value(json_array_get(p->macs, i)), macs[i]) < 0)
			return "macs";
		for (size_t j = 0; j < i; j++)
			if (memcmp(macs[i], macs[j], NL_MAC_LEN) == 0)
				return "macs";
	}
	for (size_t i = 0; p->names && i < n; i++) {
		const char *name = json_string_value(json_array_get(p->names, i));

		if (!valid_ifname(name))
			return "names";
		for (size_t j = 0; j < i; j++)
			if (streq(name, json_string_value(json_array_get(p->names, j))))
				return "names";
	}
	return NULL;
}

void links_create(struct links *l, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("parent", DECODE_STRING, true, struct create_params, parent),
		DECODE_FIELD("kind", DECODE_STRING, true, struct create_params, kind),
		DECODE_FIELD("mode", DECODE_STRING, false, struct create_params, mode),
		DECODE_FIELD("owner", DECODE_STRING, true, struct create_params, owner),
		DECODE_FIELD("count", DECODE_INT, false, struct create_params, count),
		DECODE_FIELD("names", DECODE_STRING_ARRAY, false, struct create_params, names),
		DECODE_FIELD("macs", DECODE_STRING_ARRAY, false, struct create_params, macs),
		DECODE_FIELD("fds", DECODE_BOOL, false, struct create_params, fds),
		DECODE_FIELD("down", DECODE_BOOL, false, struct create_params, down),
	};
	struct create_params p = { .mode = "bridge", .count = INT64_MIN /* absent */ };
	_cleanup_free_ uint8_t (*macs)[NL_MAC_LEN] = NULL;
	_cleanup_free_ const char **names = NULL;
	struct links_refusal refusal = { 0 };
	struct links_create_req req;
	const char *bad;
	uint32_t mode;
	size_t n = 0;
	int r;

	assert(l && call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!streq(p.kind, "macvtap") && !streq(p.kind, "macvlan"))
		return ctl_call_invalid_parameter(call, "kind");
	if (p.fds && !streq(p.kind, "macvtap"))
		return ctl_call_invalid_parameter(call, "fds"); /* a macvlan has no tap */
	if (nl_macvlan_mode_from_string(p.mode, &mode) < 0)
		return ctl_call_invalid_parameter(call, "mode");
	if (!valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	if (!valid_ifname(p.parent))
		return ctl_call_invalid_parameter(call, "parent");
	bad = create_count(&p, &n);
	if (bad)
		return ctl_call_invalid_parameter(call, bad);
	if (p.macs && !(macs = calloc(n, NL_MAC_LEN)))
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	bad = create_lists(&p, n, macs);
	if (bad)
		return ctl_call_invalid_parameter(call, bad);
	if (p.names && !(names = string_vector(p.names)))
		return ctl_call_error(call, "io.netd.InternalError", NULL);

	req = (struct links_create_req){
		.owner = p.owner, .kind = p.kind, .mode = mode, .parent = p.parent,
		.count = (unsigned)n, .names = names,
		.macs = (const uint8_t (*)[NL_MAC_LEN])macs, .down = p.down,
	};
	r = links_op_create(l, &req, op_reply, call, &refusal);
	if (r < 0)
		refusal_reply(call, r, &refusal);
}

/* --- DeleteLinks, GetLink, ListLinks, Monitor --- */

struct delete_params {
	const char *owner;
	json_t *names;
};

void links_delete(struct links *l, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("owner", DECODE_STRING, true, struct delete_params, owner),
		DECODE_FIELD("names", DECODE_STRING_ARRAY, false, struct delete_params, names),
	};
	struct delete_params p = { 0 };
	struct links_refusal refusal = { 0 };
	_cleanup_free_ const char **names = NULL;
	size_t n = 0;
	int r;

	assert(l && call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	if (p.names) {
		n = json_array_size(p.names);
		if (n > LINKS_MAX_COUNT)
			return ctl_call_invalid_parameter(call, "names");
		for (size_t i = 0; i < n; i++)
			if (!valid_ifname(json_string_value(json_array_get(p.names, i))))
				return ctl_call_invalid_parameter(call, "names");
		names = string_vector(p.names);
		if (!names)
			return ctl_call_error(call, "io.netd.InternalError", NULL);
	}
	r = links_op_delete(l, p.owner, names, n, op_reply, call, &refusal);
	if (r < 0)
		refusal_reply(call, r, &refusal);
}

/* --- SetLinks --- */

/* The kernel's MTU bounds for an Ethernet-like device (ETH_MIN_MTU, and
 * the largest an IFLA_MTU of a macvlan's parent can be in practice). */
#define LINKS_MTU_MIN 68
#define LINKS_MTU_MAX 65535

struct set_params {
	const char *owner;
	json_t *names;
	int up;           /* -1: absent */
	int64_t mtu;      /* INT64_MIN: absent */
	json_t *macs;
	bool up_value;
};

/* names and macs: n of each, well formed and distinct; mtu in range.
 * Fills changes[]; NULL or the bad field. */
static const char *set_changes(const struct set_params *p, size_t n,
			       struct nl_link_change *changes)
{
	if (n < 1 || n > LINKS_MAX_COUNT)
		return "names";
	if (p->mtu != INT64_MIN && (p->mtu < LINKS_MTU_MIN || p->mtu > LINKS_MTU_MAX))
		return "mtu";
	if (p->macs && json_array_size(p->macs) != n)
		return "macs";
	for (size_t i = 0; i < n; i++) {
		const char *name = json_string_value(json_array_get(p->names, i));
		struct nl_link_change *c = &changes[i];

		if (!valid_ifname(name))
			return "names";
		for (size_t j = 0; j < i; j++)
			if (streq(name, json_string_value(json_array_get(p->names, j))))
				return "names";
		c->set_up = p->up >= 0;
		c->up = p->up > 0;
		c->set_mtu = p->mtu != INT64_MIN;
		c->mtu = c->set_mtu ? (uint32_t)p->mtu : 0;
		if (!p->macs)
			continue;
		c->set_mac = true;
		if (mac_parse(json_string_value(json_array_get(p->macs, i)), c->mac) < 0)
			return "macs";
		for (size_t j = 0; j < i; j++)
			if (memcmp(c->mac, changes[j].mac, NL_MAC_LEN) == 0)
				return "macs";
	}
	return NULL;
}

void links_set(struct links *l, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("owner", DECODE_STRING, true, struct set_params, owner),
		DECODE_FIELD("names", DECODE_STRING_ARRAY, true, struct set_params, names),
		DECODE_FIELD("up", DECODE_BOOL, false, struct set_params, up_value),
		DECODE_FIELD("mtu", DECODE_INT, false, struct set_params, mtu),
		DECODE_FIELD("macs", DECODE_STRING_ARRAY, false, struct set_params, macs),
	};
	struct set_params p = { .up = -1, .mtu = INT64_MIN };
	_cleanup_free_ struct nl_link_change *changes = NULL;
	_cleanup_free_ const char **names = NULL;
	struct links_refusal refusal = { 0 };
	struct links_set_req req;
	const char *bad;
	size_t n;
	int r;

	assert(l && call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	/* A bool decoded leaves no trace of its absence: look. */
	if (json_is_boolean(json_object_get(params, "up")))
		p.up = p.up_value;
	n = json_array_size(p.names);
	changes = calloc(n ? n : 1, sizeof(*changes));
	if (!changes)
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	bad = set_changes(&p, n, changes);
	if (bad)
		return ctl_call_invalid_parameter(call, bad);
	names = string_vector(p.names);
	if (!names)
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	req = (struct links_set_req){
		.owner = p.owner, .names = names, .changes = changes, .n = (unsigned)n,
	};
	r = links_op_set(l, &req, op_reply, call, &refusal);
	if (r < 0)
		refusal_reply(call, r, &refusal);
}

struct get_params {
	const char *name;
};

void links_get(struct links *l, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("name", DECODE_STRING, true, struct get_params, name),
	};
	struct get_params p = { 0 };
	struct link *k;

	assert(l && call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (!valid_ifname(p.name))
		return ctl_call_invalid_parameter(call, "name");
	k = link_find(l, p.name);
	if (!k)
		return ctl_call_error(call, "io.netd.NoSuchLink", json_pack("{s:s}", "name", p.name));
	ctl_call_reply(call, json_pack("{s:o}", "link", link_json(l, k)));
}

struct list_params {
	const char *owner;
};

void links_list(struct links *l, struct ctl_call *call, json_t *params)
{
	static const struct decode_field fields[] = {
		DECODE_FIELD("owner", DECODE_STRING, false, struct list_params, owner),
	};
	struct list_params p = { 0 };

	assert(l && call);
	if (!ctl_call_decode(call, fields, ELEMENTSOF(fields), &p))
		return;
	if (p.owner && !valid_owner(p.owner))
		return ctl_call_invalid_parameter(call, "owner");
	links_list_start(l, call, p.owner);
}

void links_monitor(struct links *l, struct ctl_call *call, json_t *params)
{
	struct monitor *m;
	json_t *arr;

	assert(l && call);
	if (!ctl_call_decode(call, NULL, 0, NULL))
		return;
	if (!ctl_call_more(call))
		return ctl_call_error(call, "org.varlink.service.ExpectedMore", NULL);
	m = calloc(1, sizeof(*m));
	arr = links_array(l, NULL);
	if (!m || !arr) {
		free(m);
		json_decref(arr);
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	}
	m->call = call;
	TAILQ_INSERT_TAIL(&l->monitors, m, entry);
	ctl_call_set_cancel(call, monitor_cancel, l);
	ctl_call_reply_more(call, json_pack("{s:s, s:o}", "event", "state", "links", arr));
}

/* --- GetStatus --- */

void links_status(const struct links *l, json_t *reply)
{
	struct nl_stats ns;

	assert(l && reply);
	l->nlo->get_stats(l->nl, &ns);
	json_object_set_new(reply, "links", json_integer(l->nlinks));
	json_object_set_new(reply, "foreign_names", json_integer(foreign_count(l)));
	json_object_set_new(reply, "links_created", json_integer((json_int_t)l->created));
	json_object_set_new(reply, "links_deleted", json_integer((json_int_t)l->deleted));
	json_object_set_new(reply, "links_vanished", json_integer((json_int_t)l->vanished));
	json_object_set_new(reply, "eexist_retries", json_integer((json_int_t)l->eexist_retries));
	json_object_set_new(reply, "resyncs", json_integer((json_int_t)l->resyncs));
	json_object_set_new(reply, "links_adopted", json_integer((json_int_t)l->adopted));
	json_object_set_new(reply, "links_rolled_back", json_integer((json_int_t)l->rolled_back));
	json_object_set_new(reply, "links_empty_database", json_boolean(l->empty_db_adopted));
	json_object_set_new(reply, "netlink_requests", json_integer((json_int_t)ns.messages_sent));
	json_object_set_new(reply, "netlink_batches", json_integer((json_int_t)ns.batches_sent));
	json_object_set_new(reply, "netlink_events", json_integer((json_int_t)ns.events));
	json_object_set_new(reply, "netlink_dumps", json_integer((json_int_t)ns.dumps));
	json_object_set_new(reply, "netlink_in_flight", json_integer(ns.in_flight + ns.queued));
	json_object_set_new(reply, "event_rcvbuf", json_integer(ns.event_rcvbuf));
	json_object_set_new(reply, "netlink_acks_lost", json_integer((json_int_t)ns.acks_lost));
	json_object_set_new(reply, "netlink_sender_restarts",
			    json_integer((json_int_t)ns.sender_restarts));
	json_object_set_new(reply, "netlink_dumper_restarts",
			    json_integer((json_int_t)ns.dumper_restarts));
}
