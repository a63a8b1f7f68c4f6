/*
 * netdctl.c: the admin's command line for netd: main(), what every
 * command shares (see netdctl.h), and the daemon-wide commands (status,
 * info, interface, call). It only speaks the socket protocol (through the
 * client library) and never opens the database.
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

#include "netdctl.h"
#include "util.h"

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
		"                         bind a filter to a port (KEY: MAC, IP (may repeat), DHCPSERVER,\n"
		"                         GATEWAY_MAC)\n"
		"  filter unbind --port DEV --owner OWNER\n"
		"  filter list [--owner OWNER]   list bindings\n"
		"  filter show PORT       one binding in detail\n"
		"  filter defs            list the filters that can be bound\n"
		"  filter def NAME        print a filter's definition (JSON)\n"
		"  filter import FILE     define or redefine a filter from a file (netd's JSON or\n"
		"                         libvirt's nwfilter XML); rebinds the ports that use it\n"
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

void print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s) {
		puts(s);
		free(s);
	}
}

/* Report an error reply: name and parameters on stderr (also with --json,
 * where stdout gets the reply too, so scripts can parse it). */
int report_error(const struct ctl_opts *o, const struct netd_reply *rep)
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

const char *sock_path(const struct ctl_opts *o)
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
int do_call(const struct ctl_opts *o, const char *method, json_t *params,
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

json_int_t geti(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

const char *gets_(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : "-";
}

/* Parse a subcommand's options: argv[0] is the subcommand. Returns the
 * index of the first operand, or -1 after a usage message. */
int sub_getopt(int argc, char **argv, const struct option *opts,
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

int owner_opt(int opt, const char *arg, void *data)
{
	*(const char **)data = arg;
	return 0;
}

const struct option owner_opts[] = {
	{ "owner", required_argument, NULL, 'o' },
	{ 0 },
};

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
