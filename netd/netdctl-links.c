/*
 * netdctl-links.c: netdctl's link commands (create, delete, set, list,
 * show) and monitor, which follows link events.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdctl.h"
#include "util.h"

struct create_opts {
	const char *parent, *kind, *mode, *owner;
	long count;
	json_t *names, *macs;
	bool down;
};

static int create_opt(int opt, const char *arg, void *data)
{
	struct create_opts *c = data;
	unsigned long long n;

	switch (opt) {
	case 'p': c->parent = arg; break;
	case 'k': c->kind = arg; break;
	case 'm': c->mode = arg; break;
	case 'o': c->owner = arg; break;
	case 'n': json_array_append_new(c->names, json_string(arg)); break;
	case 'a': json_array_append_new(c->macs, json_string(arg)); break;
	case 'd': c->down = true; break;
	case 'c':
		if (parse_uint(arg, 1, 1000000, &n) < 0) {
			fprintf(stderr, "netdctl: --count takes a positive number\n");
			return -1;
		}
		c->count = (long)n;
		break;
	}
	return 0;
}

static int cmd_link_create(struct ctl_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ "kind", required_argument, NULL, 'k' },
		{ "mode", required_argument, NULL, 'm' },
		{ "owner", required_argument, NULL, 'o' },
		{ "count", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "mac", required_argument, NULL, 'a' },
		{ "down", no_argument, NULL, 'd' },
		{ 0 },
	};
	struct create_opts c = { .names = json_array(), .macs = json_array() };
	struct netd_reply rep;
	json_t *params, *v;
	size_t i;
	int r;

	r = sub_getopt(o, "link create", argc, argv, opts, create_opt, &c);
	if (r < 0 || r != argc || !c.parent || !c.kind || !c.owner ||
	    (c.count && json_array_size(c.names))) {
		json_decref(c.names);
		json_decref(c.macs);
		return r < 0 ? SUB_EXIT(r) : usage_error(o);
	}
	params = json_pack("{s:s, s:s, s:s}", "parent", c.parent, "kind", c.kind, "owner", c.owner);
	if (c.mode)
		json_object_set_new(params, "mode", json_string(c.mode));
	if (json_array_size(c.names))
		json_object_set(params, "names", c.names);
	else if (c.count)
		json_object_set_new(params, "count", json_integer(c.count));
	if (json_array_size(c.macs))
		json_object_set(params, "macs", c.macs);
	if (c.down)
		json_object_set_new(params, "down", json_true());
	json_decref(c.names);
	json_decref(c.macs);
	r = do_call(o, "io.netd.CreateLinks", params, &rep);
	if (r)
		return r;
	if (o->json)
		print_json(rep.parameters);
	else
		json_array_foreach(json_object_get(rep.parameters, "links"), i, v)
			puts(json_string_value(json_object_get(v, "name")));
	netd_reply_done(&rep);
	return 0;
}

static int cmd_link_delete(struct ctl_opts *o, int argc, char **argv)
{
	const char *owner = NULL;
	struct netd_reply rep;
	json_t *params, *v;
	size_t i;
	int r, first;

	first = sub_getopt(o, "link delete", argc, argv, owner_opts, owner_opt, &owner);
	if (first < 0)
		return SUB_EXIT(first);
	if (!owner)
		return usage_error(o);
	params = json_pack("{s:s}", "owner", owner);
	if (first < argc) {
		json_t *names = json_array();

		for (int k = first; k < argc; k++)
			json_array_append_new(names, json_string(argv[k]));
		json_object_set_new(params, "names", names);
	}
	r = do_call(o, "io.netd.DeleteLinks", params, &rep);
	if (r)
		return r;
	if (o->json)
		print_json(rep.parameters);
	else
		json_array_foreach(json_object_get(rep.parameters, "deleted"), i, v)
			puts(json_string_value(v));
	netd_reply_done(&rep);
	return 0;
}

struct set_opts {
	const char *owner;
	int up;            /* -1: leave, 0: down, 1: up */
	long mtu;          /* -1: leave */
	json_t *macs;
};

static int set_opt(int opt, const char *arg, void *data)
{
	struct set_opts *c = data;
	unsigned long long n;

	switch (opt) {
	case 'o': c->owner = arg; break;
	case 'u': c->up = 1; break;
	case 'd': c->up = 0; break;
	case 'a': json_array_append_new(c->macs, json_string(arg)); break;
	case 'M':
		/* netd checks the range; this only needs a number. */
		if (parse_uint(arg, 0, 1u << 30, &n) < 0) {
			fprintf(stderr, "netdctl: link set: --mtu takes a number\n");
			return -1;
		}
		c->mtu = (long)n;
		break;
	}
	return 0;
}

static int cmd_link_set(struct ctl_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "owner", required_argument, NULL, 'o' },
		{ "up", no_argument, NULL, 'u' },
		{ "down", no_argument, NULL, 'd' },
		{ "mtu", required_argument, NULL, 'M' },
		{ "mac", required_argument, NULL, 'a' },
		{ 0 },
	};
	struct set_opts c = { .up = -1, .mtu = -1, .macs = json_array() };
	struct netd_reply rep;
	json_t *params, *names, *v;
	size_t i;
	int r;

	r = sub_getopt(o, "link set", argc, argv, opts, set_opt, &c);
	if (r < 0 || r == argc || !c.owner) {
		json_decref(c.macs);
		return r < 0 ? SUB_EXIT(r) : usage_error(o);
	}
	names = json_array();
	for (int k = r; k < argc; k++)
		json_array_append_new(names, json_string(argv[k]));
	params = json_pack("{s:s, s:o}", "owner", c.owner, "names", names);
	if (c.up >= 0)
		json_object_set_new(params, "up", json_boolean(c.up));
	if (c.mtu >= 0)
		json_object_set_new(params, "mtu", json_integer(c.mtu));
	if (json_array_size(c.macs))
		json_object_set(params, "macs", c.macs);
	json_decref(c.macs);
	r = do_call(o, "io.netd.SetLinks", params, &rep);
	if (r)
		return r;
	if (o->json)
		print_json(rep.parameters);
	else
		json_array_foreach(json_object_get(rep.parameters, "links"), i, v)
			printf("%s %s mtu %lld %s\n", gets_(v, "name"),
			       json_is_true(json_object_get(v, "up")) ? "up" : "down",
			       (long long)geti(v, "mtu"), gets_(v, "mac"));
	netd_reply_done(&rep);
	return 0;
}

static void print_link_row(json_t *l)
{
	json_t *up = json_object_get(l, "up");

	printf("%-15s %7lld %-7s %-8s %-15s %-17s %-9s %-4s %s\n", gets_(l, "name"),
	       (long long)geti(l, "ifindex"), gets_(l, "kind"), gets_(l, "mode"),
	       gets_(l, "parent"), gets_(l, "mac"), gets_(l, "state"),
	       !up ? "-" : json_is_true(up) ? "up" : "down", gets_(l, "owner"));
}

static int cmd_link_list(struct ctl_opts *o, int argc, char **argv)
{
	const char *owner = NULL;
	struct netd_reply rep;
	json_t *params, *v;
	size_t i;
	int r;

	r = sub_getopt(o, "link list", argc, argv, owner_opts, owner_opt, &owner);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc)
		return usage_error(o);
	params = owner ? json_pack("{s:s}", "owner", owner) : NULL;
	r = do_call(o, "io.netd.ListLinks", params, &rep);
	if (r)
		return r;
	if (o->json) {
		print_json(rep.parameters);
	} else {
		printf("%-15s %7s %-7s %-8s %-15s %-17s %-9s %-4s %s\n", "NAME", "IFINDEX", "KIND",
		       "MODE", "PARENT", "MAC", "STATE", "UP", "OWNER");
		json_array_foreach(json_object_get(rep.parameters, "links"), i, v)
			print_link_row(v);
	}
	netd_reply_done(&rep);
	return 0;
}

static int cmd_link_show(struct ctl_opts *o, int argc, char **argv)
{
	static const char *const keys[] = { "name", "ifindex", "kind", "mode", "parent", "mac",
					    "owner", "state", "created", "tap", "up", "mtu", NULL };
	struct netd_reply rep;
	json_t *params, *l;
	int r;

	r = sub_getopt(o, "link show", argc, argv, NULL, NULL, NULL);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc - 1)
		return usage_error(o);
	params = json_pack("{s:s}", "name", argv[r]);
	r = do_call(o, "io.netd.GetLink", params, &rep);
	if (r)
		return r;
	l = json_object_get(rep.parameters, "link");
	if (o->json) {
		print_json(rep.parameters);
	} else {
		for (int i = 0; keys[i]; i++) {
			json_t *v = json_object_get(l, keys[i]);

			if (json_is_integer(v))
				printf("%-8s %lld\n", keys[i], (long long)json_integer_value(v));
			else if (json_is_string(v))
				printf("%-8s %s\n", keys[i], *json_string_value(v) ? json_string_value(v) : "-");
			else if (json_is_boolean(v))
				printf("%-8s %s\n", keys[i], json_is_true(v) ? "yes" : "no");
		}
	}
	netd_reply_done(&rep);
	return 0;
}

int cmd_link(struct ctl_opts *o, int argc, char **argv)
{
	static const struct netdctl_cmd subs[] = {
		{ "create", cmd_link_create },
		{ "delete", cmd_link_delete },
		{ "set", cmd_link_set },
		{ "list", cmd_link_list },
		{ "show", cmd_link_show },
	};

	return dispatch(o, "link", subs, ELEMENTSOF(subs), argc, argv);
}

/* Print one Monitor event as a line. */
static void print_event(json_t *p)
{
	const char *ev = json_string_value(json_object_get(p, "event"));
	json_t *l = json_object_get(p, "link"), *v;
	size_t i;

	if (!ev)
		return;
	if (streq(ev, "state")) {
		json_array_foreach(json_object_get(p, "links"), i, v)
			printf("present %s owner=%s ifindex=%lld\n", gets_(v, "name"), gets_(v, "owner"),
			       (long long)geti(v, "ifindex"));
	} else if (l) {
		printf("%s %s owner=%s ifindex=%lld%s%s\n", ev, gets_(l, "name"), gets_(l, "owner"),
		       (long long)geti(l, "ifindex"), json_object_get(p, "reason") ? " reason=" : "",
		       json_object_get(p, "reason") ? gets_(p, "reason") : "");
	} else if (json_object_get(p, "name")) {
		printf("%s %s\n", ev, gets_(p, "name"));
	} else {
		printf("%s\n", ev);
	}
}

int cmd_monitor(struct ctl_opts *o, int argc, char **argv)
{
	struct netd_client *c = NULL;
	struct netd_reply rep;
	int r;

	r = sub_getopt(o, "monitor", argc, argv, NULL, NULL, NULL);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc)
		return usage_error(o);
	r = netd_client_connect(o->socket, &c);
	if (r < 0) {
		fprintf(stderr, "netdctl: cannot connect to '%s': %s\n", sock_path(o), strerror(-r));
		return EXIT_CONNECT;
	}
	r = netd_client_send(c, "io.netd.Monitor", NULL, NETD_CALL_MORE);
	for (;;) {
		if (r == 0)
			r = netd_client_recv(c, -1, &rep);
		if (r < 0) {
			netd_client_free(c);
			fprintf(stderr, "netdctl: monitor: %s\n",
				r == -ECONNRESET ? "netd closed the connection" : strerror(-r));
			return EXIT_CONNECT;
		}
		if (rep.error && streq(rep.error, "io.netd.ShuttingDown")) {
			/* The declared end of a Monitor: netd stopped. */
			fprintf(stderr, "netdctl: monitor: netd is stopping\n");
			netd_reply_done(&rep);
			netd_client_free(c);
			return 0;
		}
		if (rep.error) {
			r = report_error(o, &rep);
			netd_reply_done(&rep);
			netd_client_free(c);
			return r;
		}
		if (o->json) {
			char *s = json_dumps(rep.parameters, JSON_COMPACT | JSON_SORT_KEYS);

			if (s)
				puts(s);
			free(s);
		} else {
			print_event(rep.parameters);
		}
		fflush(stdout);
		if (!rep.continues) {
			netd_reply_done(&rep);
			netd_client_free(c);
			return 0;
		}
		netd_reply_done(&rep);
	}
}
