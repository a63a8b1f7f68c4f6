/*
 * netdctl.c: the admin's command line for netd: main(), what every
 * command shares (see netdctl.h), and the daemon-wide commands (status,
 * info, interface, call). It only speaks the socket protocol (through the
 * client library) and never opens the database.
 *
 * Exit codes: 0 ok, 1 netd answered with an error, 2 usage error,
 * 3 cannot connect (or the connection broke, or no reply in time).
 * Global options may come anywhere on the line: before the command they
 * are read here, after it by each command's sub_getopt().
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdctl.h"
#include "util.h"

void print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s) {
		puts(s);
		free(s);
	}
}

int report_error(const struct ctl_opts *o, const struct netd_reply *rep)
{
	if (o->json) {
		json_t *v = json_pack("{s:s, s:O}", "error", rep->error,
				      "parameters", rep->parameters);

		print_json(v);
		json_decref(v);
	}
	print_error_words(stderr, o->cmd, rep->error, rep->parameters);
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
	struct netd_client *c = NULL;
	int r;

	r = netd_client_connect(o->socket, &c);
	if (r < 0) {
		json_decref(params);
		fprintf(stderr, "netdctl: cannot connect to '%s': %s\n", sock_path(o),
			strerror(-r));
		return EXIT_CONNECT;
	}
	r = netd_client_call(c, method, params, o->timeout_ms, ret); /* takes params */
	netd_client_free(c);
	if (r < 0) {
		fprintf(stderr, "netdctl: %s: %s\n", o->cmd ? o->cmd : method,
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

static const struct option global_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

/* Apply one global option (not -h or -V): 0, or -1 after a message. */
static int global_opt(struct ctl_opts *o, int opt, const char *arg)
{
	unsigned long long t;

	switch (opt) {
	case 's':
		o->socket = arg;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 't':
		if (parse_uint(arg, 0, 86400, &t) < 0) {
			fprintf(stderr, "netdctl: --timeout takes seconds, 0..86400\n");
			return -1;
		}
		o->timeout_ms = t == 0 ? -1 : (int)(t * 1000);
		return 0;
	}
	return -1;
}

/* getopt's complaint, in our words: it is told with opterr 0. */
static void bad_option(const char *path, char **argv, int opt)
{
	if (opt == '?' && optopt)
		fprintf(stderr, "netdctl: %s: unknown option '-%c' or missing argument\n", path,
			optopt);
	else
		fprintf(stderr, "netdctl: %s: unknown option or missing argument: '%s'\n", path,
			argv[optind - 1]);
}

int sub_getopt(struct ctl_opts *o, const char *path, int argc, char **argv,
	       const struct option *opts, int (*on_opt)(int opt, const char *arg, void *data),
	       void *data)
{
	struct option all[32];
	char shortopts[80];
	size_t n = 0, k = 0;
	int opt;

	o->cmd = path;
	for (const struct option *p = opts; p && p->name; p++)
		all[n++] = *p;
	for (const struct option *p = global_opts; p->name; p++)
		if (p->val != 'V')
			all[n++] = *p;
	all[n] = (struct option){ 0 };
	for (size_t i = 0; i < n; i++) {
		shortopts[k++] = (char)all[i].val;
		if (all[i].has_arg)
			shortopts[k++] = ':';
	}
	shortopts[k] = '\0';
	optind = 0; /* 0: GNU getopt starts afresh, permuting again */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, all, NULL)) != -1) {
		if (opt == 'h') {
			usage_command(stdout, path, true);
			return SUB_HELP;
		}
		if (opt == '?') {
			bad_option(path, argv, opt);
			usage_command(stderr, path, false);
			return SUB_USAGE;
		}
		if (strchr("sjt", opt) ? global_opt(o, opt, optarg) < 0 : on_opt(opt, optarg, data) < 0) {
			usage_command(stderr, path, false);
			return SUB_USAGE;
		}
	}
	return optind;
}

int usage_error(const struct ctl_opts *o)
{
	usage_command(stderr, o->cmd, false);
	return EXIT_USAGE;
}

int dispatch(struct ctl_opts *o, const char *group, const struct netdctl_cmd *cmds, size_t n,
	     int argc, char **argv)
{
	int opt;

	/* '+': only the options before the command; its own come after. */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, group ? "+s:jt:h" : "+s:jt:hV", global_opts,
				  NULL)) != -1) {
		if (opt == 'h') {
			if (group)
				usage_command(stdout, group, true);
			else
				usage_all(stdout);
			return 0;
		}
		if (opt == 'V') {
			printf("netdctl %s\n", PACKAGE_VERSION);
			return 0;
		}
		if (opt == '?' || global_opt(o, opt, optarg) < 0) {
			bad_option(group ? group : "netdctl", argv, opt);
			return EXIT_USAGE;
		}
	}
	for (size_t i = 0; optind < argc && i < n; i++)
		if (streq(cmds[i].name, argv[optind]))
			return cmds[i].fn(o, argc - optind, argv + optind);
	if (optind < argc)
		fprintf(stderr, "netdctl: %s%sunknown command '%s'\n", group ? group : "",
			group ? ": " : "", argv[optind]);
	else
		fprintf(stderr, "netdctl: %s%sa command is needed\n", group ? group : "",
			group ? ": " : "");
	if (group)
		usage_command(stderr, group, false);
	else
		fprintf(stderr, "See 'netdctl --help'.\n");
	return EXIT_USAGE;
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

#define LL(p, k) ((long long)geti((p), (k)))

/* The links, bindings, filter health and last Resync lines of status. */
static void status_state(json_t *p)
{
	const char *drift = json_string_value(json_object_get(p, "filter_hook_drift_last"));
	const char *resync = json_string_value(json_object_get(p, "last_resync"));
	const char *by = json_string_value(json_object_get(p, "filters_verified_by"));

	printf("%-18s %lld owned, %lld foreign names (since start: created %lld, deleted %lld, "
	       "vanished %lld)\n", "links", LL(p, "links"), LL(p, "foreign_names"),
	       LL(p, "links_created"), LL(p, "links_deleted"), LL(p, "links_vanished"));
	printf("%-18s %lld: %lld applied, %lld pending, %lld failed\n", "bindings",
	       LL(p, "bindings"), LL(p, "bindings_now_applied"), LL(p, "bindings_now_pending"),
	       LL(p, "bindings_now_failed"));
	if (LL(p, "bindings_now_learning") || LL(p, "addresses_learned"))
		printf("%-18s %lld bindings learning their address, %lld addresses learned since start\n",
		       "learning", LL(p, "bindings_now_learning"), LL(p, "addresses_learned"));
	if (json_is_true(json_object_get(p, "filters_verified")))
		printf("%-18s verified%s%s", "filters", by && *by ? " by " : "", by && *by ? by : "");
	else
		printf("%-18s not yet verified against the kernel", "filters");
	printf("; %lld failed batches%s, %lld custom filter errors\n", LL(p, "filter_batches_failed"),
	       LL(p, "filter_backoff_ms") > 0 ? " (backing off)" : "", LL(p, "filter_errors"));
	printf("%-18s %lld found%s%s\n", "hook drift", LL(p, "filter_hook_drift"),
	       drift && *drift ? ", last: " : "", drift && *drift ? drift : "");
	if (resync && *resync)
		printf("%-18s %s: %lld intact, %lld re-applied (by %s)\n", "last resync", resync,
		       LL(p, "last_resync_skipped"), LL(p, "last_resync_reapplied"),
		       gets_(p, "last_resync_by"));
	else
		printf("%-18s none since start\n", "last resync");
	if (LL(p, "storage_failures") > 0)
		printf("%-18s %lld failed transactions, last: %s\n", "storage",
		       LL(p, "storage_failures"), gets_(p, "storage_error"));
}

static int cmd_status(struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	json_t *p;
	char up[64];
	int r;

	r = sub_getopt(o, "status", argc, argv, NULL, NULL, NULL);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc)
		return usage_error(o);
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
	       json_string_value(json_object_get(p, "version")), LL(p, "pid"), up);
	status_state(p);
	printf("%-18s %lld of %lld (accepted %lld, refused %lld, dropped %lld)\n", "clients",
	       LL(p, "clients"), LL(p, "max_clients"), LL(p, "clients_accepted"),
	       LL(p, "clients_refused"), LL(p, "clients_dropped"));
	printf("%-18s %lld (errors %lld, protocol errors %lld)\n", "requests",
	       LL(p, "requests"), LL(p, "errors"), LL(p, "protocol_errors"));
	printf("%-18s p50 %lld µs, p99 %lld µs, max %lld µs\n", "latency",
	       LL(p, "latency_p50_us"), LL(p, "latency_p99_us"), LL(p, "latency_max_us"));
	printf("%-18s %lld µs (%s) of %lld callbacks; by CPU time %lld µs (%s)\n",
	       "longest callback", LL(p, "longest_callback_us"), gets_(p, "longest_callback"),
	       LL(p, "callbacks"), LL(p, "longest_callback_cpu_us"),
	       gets_(p, "longest_callback_cpu"));
	printf("%-18s schema version %lld\n", "database", LL(p, "db_schema_version"));
	printf("%-18s %lld (failed %lld)\n", "config reloads",
	       LL(p, "config_reloads"), LL(p, "config_reload_errors"));
	netd_reply_done(&rep);
	return 0;
}

static int cmd_info(struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	json_t *p, *v;
	size_t i;
	int r;

	r = sub_getopt(o, "info", argc, argv, NULL, NULL, NULL);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc)
		return usage_error(o);
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

static int cmd_interface(struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	json_t *params;
	int r;

	r = sub_getopt(o, "interface", argc, argv, NULL, NULL, NULL);
	if (r < 0)
		return SUB_EXIT(r);
	if (r != argc - 1)
		return usage_error(o);
	params = json_pack("{s:s}", "interface", argv[r]);
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

static int cmd_call(struct ctl_opts *o, int argc, char **argv)
{
	struct netd_reply rep;
	json_t *params = NULL;
	json_error_t err;
	int r, first;

	first = sub_getopt(o, "call", argc, argv, NULL, NULL, NULL);
	if (first < 0)
		return SUB_EXIT(first);
	if (argc - first < 1 || argc - first > 2)
		return usage_error(o);
	if (argc - first == 2) {
		params = json_loads(argv[first + 1], 0, &err);
		if (!params || !json_is_object(params)) {
			fprintf(stderr, "netdctl: parameters must be a JSON object: %s\n",
				params ? "not an object" : err.text);
			json_decref(params);
			return EXIT_USAGE;
		}
	}
	r = do_call(o, argv[first], params, &rep);
	if (r)
		return r;
	print_json(rep.parameters);
	netd_reply_done(&rep);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct netdctl_cmd commands[] = {
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

	return dispatch(&o, NULL, commands, ELEMENTSOF(commands), argc, argv);
}
