/*
 * netdctl.c: the admin's command line for netd. It only speaks the socket
 * protocol (through the client library) and never opens the database.
 *
 * Exit codes: 0 ok, 1 netd answered with an error, 2 usage error,
 * 3 cannot connect (or the connection broke).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netd/client.h"
#include "util.h"

#define EXIT_REPLY_ERROR 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3

struct ctl_opts {
	const char *socket;
	bool json;
	int timeout_ms;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: netdctl [OPTION]... COMMAND [ARG]...\n"
		"Talk to netd over its control socket.\n"
		"\n"
		"Commands:\n"
		"  status                 the daemon's version, uptime and counters\n"
		"  info                   vendor, version and the interfaces served\n"
		"  interface NAME         print the varlink description of NAME\n"
		"  call METHOD [JSON]     call any method with JSON parameters, print the reply\n"
		"  link create --parent DEV --kind macvtap|macvlan [--mode MODE] --owner OWNER\n"
		"              [--count N | --name NAME...] [--mac MAC...]\n"
		"                         create links; prints their names, one per line\n"
		"  link delete --owner OWNER [NAME...]\n"
		"                         delete the named links, or all of OWNER's\n"
		"  link list [--owner OWNER]   list links netd made\n"
		"  link show NAME         one link in detail\n"
		"  monitor                print link events as they happen\n"
		"  filter bind --port DEV --filter NAME --owner OWNER [--param KEY=VALUE]...\n"
		"                         bind a filter to a port (KEY: MAC, IP (may repeat), DHCPSERVER)\n"
		"  filter unbind --port DEV --owner OWNER\n"
		"  filter list [--owner OWNER]   list bindings\n"
		"  filter show PORT       one binding in detail\n"
		"  filter defs            list the filters that can be bound\n"
		"  filter def NAME        print a filter's definition (JSON)\n"
		"  resync                 compare the firewall with what netd applied; repair\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH      control socket (default $NETD_SOCKET, else %s)\n"
		"  -j, --json             print replies as JSON\n"
		"  -t, --timeout SECONDS  give up waiting for a reply (default 30, 0: never)\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n"
		"\n"
		"Exit status: 0 ok, 1 netd answered with an error, 2 usage error,\n"
		"3 cannot connect to netd.\n",
		NETD_CLIENT_DEFAULT_SOCKET);
}

static void print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s) {
		puts(s);
		free(s);
	}
}

/* Report an error reply: name and parameters on stderr (also with --json,
 * where stdout gets the reply too, so scripts can parse it). */
static int report_error(const struct ctl_opts *o, const struct netd_reply *rep)
{
	char *p = json_dumps(rep->parameters, JSON_COMPACT | JSON_SORT_KEYS);

	if (o->json) {
		json_t *v = json_pack("{s:s, s:O}", "error", rep->error,
				      "parameters", rep->parameters);

		print_json(v);
		json_decref(v);
	}
	fprintf(stderr, "netdctl: %s %s\n", rep->error, p ? p : "");
	free(p);
	return EXIT_REPLY_ERROR;
}

static const char *sock_path(const struct ctl_opts *o)
{
	if (o->socket)
		return o->socket;
	if (getenv("NETD_SOCKET") && *getenv("NETD_SOCKET"))
		return getenv("NETD_SOCKET");
	return NETD_CLIENT_DEFAULT_SOCKET;
}

/* Connect, call, and read one reply; prints the failure and returns an
 * exit code if anything but a success reply came back. Takes params (may
 * be NULL). */
static int do_call(const struct ctl_opts *o, const char *method, json_t *params,
		   struct netd_reply *ret)
{
	json_auto_t *owned = params;
	struct netd_client *c = NULL;
	int r;

	r = netd_client_connect(o->socket, &c);
	if (r < 0) {
		fprintf(stderr, "netdctl: cannot connect to '%s': %s\n", sock_path(o),
			strerror(-r));
		return EXIT_CONNECT;
	}
	r = netd_client_call(c, method, params, o->timeout_ms, ret);
	netd_client_free(c);
	if (r < 0) {
		fprintf(stderr, "netdctl: %s: %s\n", method,
			r == -ETIMEDOUT ? "no reply in time" :
			r == -ECONNRESET ? "netd closed the connection" : strerror(-r));
		return EXIT_CONNECT;
	}
	if (ret->error) {
		r = report_error(o, ret);
		netd_reply_done(ret);
		return r;
	}
	return 0;
}

static json_int_t geti(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void format_duration(double sec, char *buf, size_t n)
{
	unsigned long s = (unsigned long)sec;

	if (s >= 86400)
		snprintf(buf, n, "%lud %luh %lum", s / 86400, s % 86400 / 3600, s % 3600 / 60);
	else if (s >= 3600)
		snprintf(buf, n, "%luh %lum %lus", s / 3600, s % 3600 / 60, s % 60);
	else if (s >= 60)
		snprintf(buf, n, "%lum %lus", s / 60, s % 60);
	else
		snprintf(buf, n, "%.1fs", sec);
}

static int cmd_status(const struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	json_t *p;
	char up[64];
	int r;

	if (argc != 1) {
		fprintf(stderr, "netdctl: status takes no arguments\n");
		return EXIT_USAGE;
	}
	r = do_call(o, "io.netd.GetStatus", NULL, &rep);
	if (r)
		return r;
	p = rep.parameters;
	if (o->json) {
		print_json(p);
		netd_reply_done(&rep);
		return 0;
	}
	format_duration(json_number_value(json_object_get(p, "uptime_sec")), up, sizeof(up));
	printf("%-18s %s (pid %lld), up %s\n", "netd",
	       json_string_value(json_object_get(p, "version")),
	       (long long)geti(p, "pid"), up);
	printf("%-18s %lld of %lld (accepted %lld, refused %lld, dropped %lld)\n", "clients",
	       (long long)geti(p, "clients"), (long long)geti(p, "max_clients"),
	       (long long)geti(p, "clients_accepted"), (long long)geti(p, "clients_refused"),
	       (long long)geti(p, "clients_dropped"));
	printf("%-18s %lld (errors %lld, protocol errors %lld)\n", "requests",
	       (long long)geti(p, "requests"), (long long)geti(p, "errors"),
	       (long long)geti(p, "protocol_errors"));
	printf("%-18s p50 %lld µs, p99 %lld µs, max %lld µs\n", "latency",
	       (long long)geti(p, "latency_p50_us"), (long long)geti(p, "latency_p99_us"),
	       (long long)geti(p, "latency_max_us"));
	printf("%-18s %lld µs (%s) of %lld callbacks\n", "longest callback",
	       (long long)geti(p, "longest_callback_us"),
	       json_string_value(json_object_get(p, "longest_callback")),
	       (long long)geti(p, "callbacks"));
	printf("%-18s schema version %lld\n", "database", (long long)geti(p, "db_schema_version"));
	printf("%-18s %lld (failed %lld)\n", "config reloads",
	       (long long)geti(p, "config_reloads"), (long long)geti(p, "config_reload_errors"));
	netd_reply_done(&rep);
	return 0;
}

static int cmd_info(const struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	json_t *p, *v;
	size_t i;
	int r;

	if (argc != 1) {
		fprintf(stderr, "netdctl: info takes no arguments\n");
		return EXIT_USAGE;
	}
	r = do_call(o, "org.varlink.service.GetInfo", NULL, &rep);
	if (r)
		return r;
	p = rep.parameters;
	if (o->json) {
		print_json(p);
	} else {
		printf("%-11s %s\n", "vendor", json_string_value(json_object_get(p, "vendor")));
		printf("%-11s %s\n", "product", json_string_value(json_object_get(p, "product")));
		printf("%-11s %s\n", "version", json_string_value(json_object_get(p, "version")));
		printf("%-11s %s\n", "url", json_string_value(json_object_get(p, "url")));
		json_array_foreach(json_object_get(p, "interfaces"), i, v)
			printf("%-11s %s\n", i == 0 ? "interfaces" : "", json_string_value(v));
	}
	netd_reply_done(&rep);
	return 0;
}

static int cmd_interface(const struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	json_t *params;
	int r;

	if (argc != 2) {
		fprintf(stderr, "netdctl: interface takes one interface name\n");
		return EXIT_USAGE;
	}
	params = json_pack("{s:s}", "interface", argv[1]);
	r = do_call(o, "org.varlink.service.GetInterfaceDescription", params, &rep);
	if (r)
		return r;
	if (o->json)
		print_json(rep.parameters);
	else
		fputs(json_string_value(json_object_get(rep.parameters, "description")), stdout);
	netd_reply_done(&rep);
	return 0;
}

static int cmd_call(const struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	json_t *params = NULL;
	json_error_t err;
	int r;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "netdctl: call takes a method and optional JSON parameters\n");
		return EXIT_USAGE;
	}
	if (argc == 3) {
		params = json_loads(argv[2], 0, &err);
		if (!params || !json_is_object(params)) {
			fprintf(stderr, "netdctl: parameters must be a JSON object: %s\n",
				params ? "not an object" : err.text);
			json_decref(params);
			return EXIT_USAGE;
		}
	}
	r = do_call(o, argv[1], params, &rep);
	if (r)
		return r;
	print_json(rep.parameters);
	netd_reply_done(&rep);
	return 0;
}

/* Parse a subcommand's options: argv[0] is the subcommand. Returns the
 * index of the first operand, or -1 after a usage message. */
static int sub_getopt(int argc, char **argv, const struct option *opts,
		      int (*on_opt)(int opt, const char *arg, void *data), void *data)
{
	char shortopts[64] = "+";
	size_t n = 1;
	int opt;

	for (const struct option *o = opts; o->name; o++) {
		shortopts[n++] = (char)o->val;
		if (o->has_arg)
			shortopts[n++] = ':';
	}
	shortopts[n] = '\0';
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (opt == '?' || on_opt(opt, optarg, data) < 0)
			return -1;
	}
	return optind;
}

struct create_opts {
	const char *parent, *kind, *mode, *owner;
	long count;
	json_t *names, *macs;
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

static int cmd_link_create(const struct ctl_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ "kind", required_argument, NULL, 'k' },
		{ "mode", required_argument, NULL, 'm' },
		{ "owner", required_argument, NULL, 'o' },
		{ "count", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "mac", required_argument, NULL, 'a' },
		{ 0 },
	};
	struct create_opts c = { .names = json_array(), .macs = json_array() };
	struct netd_reply rep;
	json_t *params, *v;
	size_t i;
	int r;

	r = sub_getopt(argc, argv, opts, create_opt, &c);
	if (r < 0 || r != argc || !c.parent || !c.kind || !c.owner ||
	    (c.count && json_array_size(c.names))) {
		fprintf(stderr, "netdctl: link create --parent DEV --kind macvtap|macvlan [--mode MODE] "
			"--owner OWNER [--count N | --name NAME...] [--mac MAC...]\n");
		json_decref(c.names);
		json_decref(c.macs);
		return EXIT_USAGE;
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

static int owner_opt(int opt, const char *arg, void *data)
{
	*(const char **)data = arg;
	return 0;
}

static const struct option owner_opts[] = {
	{ "owner", required_argument, NULL, 'o' },
	{ 0 },
};

static int cmd_link_delete(const struct ctl_opts *o, int argc, char **argv)
{
	const char *owner = NULL;
	struct netd_reply rep;
	json_t *params, *v;
	size_t i;
	int r, first;

	first = sub_getopt(argc, argv, owner_opts, owner_opt, &owner);
	if (first < 0 || !owner) {
		fprintf(stderr, "netdctl: link delete --owner OWNER [NAME...]\n");
		return EXIT_USAGE;
	}
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

static const char *gets_(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : "-";
}

static void print_link_row(json_t *l)
{
	printf("%-15s %7lld %-7s %-8s %-15s %-17s %-9s %s\n", gets_(l, "name"),
	       (long long)geti(l, "ifindex"), gets_(l, "kind"), gets_(l, "mode"),
	       gets_(l, "parent"), gets_(l, "mac"), gets_(l, "state"), gets_(l, "owner"));
}

static int cmd_link_list(const struct ctl_opts *o, int argc, char **argv)
{
	const char *owner = NULL;
	struct netd_reply rep;
	json_t *params, *v;
	size_t i;
	int r;

	r = sub_getopt(argc, argv, owner_opts, owner_opt, &owner);
	if (r < 0 || r != argc) {
		fprintf(stderr, "netdctl: link list [--owner OWNER]\n");
		return EXIT_USAGE;
	}
	params = owner ? json_pack("{s:s}", "owner", owner) : NULL;
	r = do_call(o, "io.netd.ListLinks", params, &rep);
	if (r)
		return r;
	if (o->json) {
		print_json(rep.parameters);
	} else {
		printf("%-15s %7s %-7s %-8s %-15s %-17s %-9s %s\n", "NAME", "IFINDEX", "KIND",
		       "MODE", "PARENT", "MAC", "STATE", "OWNER");
		json_array_foreach(json_object_get(rep.parameters, "links"), i, v)
			print_link_row(v);
	}
	netd_reply_done(&rep);
	return 0;
}

static int cmd_link_show(const struct ctl_opts *o, int argc, char **argv)
{
	static const char *const keys[] = { "name", "ifindex", "kind", "mode", "parent", "mac",
					    "owner", "state", "created", "tap", NULL };
	struct netd_reply rep;
	json_t *params, *l;
	int r;

	if (argc != 2) {
		fprintf(stderr, "netdctl: link show NAME\n");
		return EXIT_USAGE;
	}
	params = json_pack("{s:s}", "name", argv[1]);
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
		}
	}
	netd_reply_done(&rep);
	return 0;
}

static int cmd_link(const struct ctl_opts *o, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const struct ctl_opts *o, int argc, char **argv);
	} subs[] = {
		{ "create", cmd_link_create },
		{ "delete", cmd_link_delete },
		{ "list", cmd_link_list },
		{ "show", cmd_link_show },
	};

	if (argc >= 2)
		for (size_t i = 0; i < ELEMENTSOF(subs); i++)
			if (streq(subs[i].name, argv[1]))
				return subs[i].fn(o, argc - 1, argv + 1);
	fprintf(stderr, "netdctl: link create|delete|list|show (see netdctl --help)\n");
	return EXIT_USAGE;
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

static int cmd_monitor(const struct ctl_opts *o, int argc, char **argv)
{
	struct netd_client *c = NULL;
	struct netd_reply rep;
	int r;

	if (argc != 1) {
		fprintf(stderr, "netdctl: monitor takes no arguments\n");
		return EXIT_USAGE;
	}
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

struct bind_opts {
	const char *port, *filter, *owner;
	json_t *params;
	bool bad;
};

static int bind_opt(int opt, const char *arg, void *data)
{
	struct bind_opts *b = data;
	const char *eq;
	char key[32];

	switch (opt) {
	case 'p': b->port = arg; break;
	case 'f': b->filter = arg; break;
	case 'o': b->owner = arg; break;
	case 'P':
		eq = strchr(arg, '=');
		if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key)) {
			fprintf(stderr, "netdctl: --param takes KEY=VALUE\n");
			return -1;
		}
		memcpy(key, arg, (size_t)(eq - arg));
		key[eq - arg] = '\0';
		/* IP and DHCPSERVER may repeat: they collect into lists. */
		if (streq(key, "IP") || streq(key, "DHCPSERVER")) {
			json_t *list = json_object_get(b->params, key);

			if (!list) {
				list = json_array();
				json_object_set_new(b->params, key, list);
			}
			json_array_append_new(list, json_string(eq + 1));
		} else {
			json_object_set_new(b->params, key, json_string(eq + 1));
		}
		break;
	}
	return 0;
}

static int print_binding_reply(const struct ctl_opts *o, struct netd_reply *rep)
{
	static const char *const keys[] = { "port", "filter", "owner", "state", "hash", "created",
					    "applied_at", "error", NULL };
	json_t *b = json_object_get(rep->parameters, "binding"), *v;
	char *params;
	size_t i;

	if (o->json) {
		print_json(rep->parameters);
		return 0;
	}
	for (int k = 0; keys[k]; k++)
		if (json_is_string(json_object_get(b, keys[k])))
			printf("%-10s %s\n", keys[k], json_string_value(json_object_get(b, keys[k])));
	params = json_dumps(json_object_get(b, "parameters"), JSON_COMPACT | JSON_SORT_KEYS);
	printf("%-10s %s\n", "parameters", params ? params : "");
	free(params);
	printf("%-10s", "families");
	json_array_foreach(json_object_get(b, "families"), i, v)
		printf(" %s", json_string_value(v));
	putchar('\n');
	return 0;
}

static int cmd_filter_bind(const struct ctl_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "filter", required_argument, NULL, 'f' },
		{ "owner", required_argument, NULL, 'o' },
		{ "param", required_argument, NULL, 'P' },
		{ 0 },
	};
	struct bind_opts b = { .params = json_object() };
	struct netd_reply rep;
	json_t *params;
	int r;

	r = sub_getopt(argc, argv, opts, bind_opt, &b);
	if (r < 0 || r != argc || !b.port || !b.filter || !b.owner) {
		fprintf(stderr, "netdctl: filter bind --port DEV --filter NAME --owner OWNER "
			"[--param KEY=VALUE]...\n");
		json_decref(b.params);
		return EXIT_USAGE;
	}
	params = json_pack("{s:s, s:s, s:s, s:o}", "port", b.port, "filter", b.filter,
			   "owner", b.owner, "parameters", b.params);
	r = do_call(o, "io.netd.BindFilter", params, &rep);
	if (r)
		return r;
	print_binding_reply(o, &rep);
	netd_reply_done(&rep);
	return 0;
}

static int port_owner_opt(int opt, const char *arg, void *data)
{
	const char **v = data;

	v[opt == 'p' ? 0 : 1] = arg;
	return 0;
}

static int cmd_filter_unbind(const struct ctl_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "owner", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *v[2] = { NULL, NULL };
	struct netd_reply rep;
	int r;

	r = sub_getopt(argc, argv, opts, port_owner_opt, v);
	if (r < 0 || r != argc || !v[0] || !v[1]) {
		fprintf(stderr, "netdctl: filter unbind --port DEV --owner OWNER\n");
		return EXIT_USAGE;
	}
	r = do_call(o, "io.netd.UnbindFilter", json_pack("{s:s, s:s}", "port", v[0], "owner", v[1]),
		    &rep);
	if (r)
		return r;
	if (o->json)
		print_json(rep.parameters);
	else
		printf("%s\n", gets_(rep.parameters, "port"));
	netd_reply_done(&rep);
	return 0;
}

static int cmd_filter_list(const struct ctl_opts *o, int argc, char **argv)
{
	const char *owner = NULL;
	struct netd_reply rep;
	json_t *v;
	size_t i;
	int r;

	r = sub_getopt(argc, argv, owner_opts, owner_opt, &owner);
	if (r < 0 || r != argc) {
		fprintf(stderr, "netdctl: filter list [--owner OWNER]\n");
		return EXIT_USAGE;
	}
	r = do_call(o, "io.netd.ListBindings", owner ? json_pack("{s:s}", "owner", owner) : NULL, &rep);
	if (r)
		return r;
	if (o->json) {
		print_json(rep.parameters);
	} else {
		printf("%-15s %-22s %-9s %s\n", "PORT", "FILTER", "STATE", "OWNER");
		json_array_foreach(json_object_get(rep.parameters, "bindings"), i, v)
			printf("%-15s %-22s %-9s %s\n", gets_(v, "port"), gets_(v, "filter"),
			       gets_(v, "state"), gets_(v, "owner"));
	}
	netd_reply_done(&rep);
	return 0;
}

static int cmd_filter_show(const struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	int r;

	if (argc != 2) {
		fprintf(stderr, "netdctl: filter show PORT\n");
		return EXIT_USAGE;
	}
	r = do_call(o, "io.netd.GetBinding", json_pack("{s:s}", "port", argv[1]), &rep);
	if (r)
		return r;
	print_binding_reply(o, &rep);
	netd_reply_done(&rep);
	return 0;
}

static int cmd_filter_defs(const struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	json_t *v;
	size_t i;
	int r;

	if (argc != 1) {
		fprintf(stderr, "netdctl: filter defs takes no arguments\n");
		return EXIT_USAGE;
	}
	r = do_call(o, "io.netd.ListFilters", NULL, &rep);
	if (r)
		return r;
	if (o->json) {
		print_json(rep.parameters);
	} else {
		json_array_foreach(json_object_get(rep.parameters, "filters"), i, v)
			printf("%-24s %s\n", gets_(v, "name"),
			       json_is_true(json_object_get(v, "builtin")) ? "built-in" : gets_(v, "file"));
	}
	netd_reply_done(&rep);
	return 0;
}

static int cmd_filter_def(const struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	int r;

	if (argc != 2) {
		fprintf(stderr, "netdctl: filter def NAME\n");
		return EXIT_USAGE;
	}
	r = do_call(o, "io.netd.GetFilter", json_pack("{s:s}", "name", argv[1]), &rep);
	if (r)
		return r;
	print_json(o->json ? rep.parameters : json_object_get(rep.parameters, "filter"));
	netd_reply_done(&rep);
	return 0;
}

static int cmd_filter(const struct ctl_opts *o, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const struct ctl_opts *o, int argc, char **argv);
	} subs[] = {
		{ "bind", cmd_filter_bind },
		{ "unbind", cmd_filter_unbind },
		{ "list", cmd_filter_list },
		{ "show", cmd_filter_show },
		{ "defs", cmd_filter_defs },
		{ "def", cmd_filter_def },
	};

	if (argc >= 2)
		for (size_t i = 0; i < ELEMENTSOF(subs); i++)
			if (streq(subs[i].name, argv[1]))
				return subs[i].fn(o, argc - 1, argv + 1);
	fprintf(stderr, "netdctl: filter bind|unbind|list|show|defs|def (see netdctl --help)\n");
	return EXIT_USAGE;
}

static int cmd_resync(const struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	int r;

	if (argc != 1) {
		fprintf(stderr, "netdctl: resync takes no arguments\n");
		return EXIT_USAGE;
	}
	r = do_call(o, "io.netd.Resync", NULL, &rep);
	if (r)
		return r;
	if (o->json)
		print_json(rep.parameters);
	else
		printf("%lld intact, %lld re-applied\n", (long long)geti(rep.parameters, "skipped"),
		       (long long)geti(rep.parameters, "reapplied"));
	netd_reply_done(&rep);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	static const struct {
		const char *name;
		int (*fn)(const struct ctl_opts *o, int argc, char **argv);
	} commands[] = {
		{ "status", cmd_status },
		{ "info", cmd_info },
		{ "interface", cmd_interface },
		{ "call", cmd_call },
		{ "link", cmd_link },
		{ "monitor", cmd_monitor },
		{ "filter", cmd_filter },
		{ "resync", cmd_resync },
	};
	struct ctl_opts o = { .timeout_ms = 30000 };
	unsigned long long t;
	int opt;

	/* '+': options end at the command, so a command's arguments may
	 * start with '-'. */
	while ((opt = getopt_long(argc, argv, "+s:jt:hV", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			o.socket = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 't':
			if (parse_uint(optarg, 0, 86400, &t) < 0) {
				fprintf(stderr, "netdctl: --timeout takes seconds, 0..86400\n");
				return EXIT_USAGE;
			}
			o.timeout_ms = t == 0 ? -1 : (int)(t * 1000);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("netdctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (streq(commands[i].name, argv[optind]))
			return commands[i].fn(&o, argc - optind, argv + optind);
	fprintf(stderr, "netdctl: unknown command '%s' (see netdctl --help)\n", argv[optind]);
	return EXIT_USAGE;
}
