/*
 * netdctl-words.c: what netdctl says in words: the usage of every command
 * (netdctl --help, netdctl COMMAND --help) and a sentence for each error
 * that io.netd.varlink and org.varlink.service declare.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdctl.h"
#include "util.h"

/* --- usage --- */

struct cmd_help {
	const char *path;     /* "link create" */
	const char *args;     /* what follows the path */
	const char *text;     /* what it does */
};

static const struct cmd_help helps[] = {
	{ "status", "", "the daemon's version and uptime, its links, bindings, filter health,\n"
	  "the last Resync, and its counters" },
	{ "info", "", "vendor, version and the interfaces served" },
	{ "interface", "NAME", "print the varlink description of interface NAME" },
	{ "call", "METHOD [JSON]", "call any method with JSON parameters, print the reply" },
	{ "link create", "--parent DEV --kind macvtap|macvlan [--mode MODE] --owner OWNER\n"
	  "      [--count N | --name NAME...] [--mac MAC...] [--down]",
	  "create links (up, unless --down); prints their names, one per line" },
	{ "link delete", "--owner OWNER [NAME...]", "delete the named links, or all of OWNER's" },
	{ "link set", "--owner OWNER NAME... [--up | --down] [--mtu N] [--mac MAC...]",
	  "bring OWNER's links up or down, set their MTU, give them MACs (one --mac\n"
	  "per NAME, in order); all or nothing" },
	{ "link list", "[--owner OWNER]", "list links netd made" },
	{ "link show", "NAME", "one link in detail" },
	{ "monitor", "", "print link events as they happen" },
	{ "filter bind", "--port DEV --filter NAME --owner OWNER [--param KEY=VALUE]...\n"
	  "      [--learning dhcp|any|none]",
	  "bind a filter to a port (KEY: MAC, IP (may repeat), DHCPSERVER, GATEWAY_MAC);\n"
	  "--learning: learn IP from the guest's DHCP lease or first packet instead" },
	{ "filter unbind", "--port DEV --owner OWNER", "remove a port's filter" },
	{ "filter list", "[--owner OWNER]", "list bindings" },
	{ "filter show", "PORT", "one binding in detail" },
	{ "filter defs", "", "list the filters that can be bound" },
	{ "filter def", "NAME", "print a filter's definition (JSON)" },
	{ "filter import", "FILE", "define or redefine a filter from a file (netd's JSON or libvirt's\n"
	  "nwfilter XML); rebinds the ports that use it" },
	{ "resync", "[--full]", "compare the firewall with what netd applied; repair (nothing to\n"
	  "compare while nf_tables is as netd left it; --full: compare all the same)" },
};

static const char global_options[] =
	"Options (anywhere on the line):\n"
	"  -s, --socket PATH      control socket (default $NETD_SOCKET, else "
	NETD_CLIENT_DEFAULT_SOCKET ")\n"
	"  -j, --json             print replies (and errors) as JSON\n"
	"  -t, --timeout SECONDS  give up waiting for a reply (default 30, 0: never)\n"
	"  -h, --help             show this help (of a command: netdctl COMMAND --help)\n";

static const char exit_status[] =
	"Exit status: 0 ok, 1 netd answered with an error, 2 usage error,\n"
	"3 cannot connect to netd (or no reply in time).\n";

/* text, each of its lines indented by indent spaces. */
static void print_indented(FILE *f, const char *text, int indent)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		fprintf(f, "%*s%.*s\n", indent, "", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

void usage_all(FILE *f)
{
	fprintf(f, "Usage: netdctl [OPTION]... COMMAND [ARG]...\n"
		"Talk to netd over its control socket.\n\nCommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(helps); i++) {
		fprintf(f, "  %s%s%s\n", helps[i].path, *helps[i].args ? " " : "", helps[i].args);
		print_indented(f, helps[i].text, 8);
	}
	fprintf(f, "\n%s  -V, --version          show the version\n\n%s", global_options,
		exit_status);
}

bool usage_command(FILE *f, const char *path, bool full)
{
	size_t n = strlen(path);
	bool any = false;

	/* "link" matches every "link ..." command. */
	for (size_t i = 0; i < ELEMENTSOF(helps); i++) {
		const struct cmd_help *h = &helps[i];

		if (!streq(h->path, path) && !(strncmp(h->path, path, n) == 0 && h->path[n] == ' '))
			continue;
		fprintf(f, "%s netdctl %s%s%s\n", any ? "      " : "Usage:", h->path,
			*h->args ? " " : "", h->args);
		if (full)
			print_indented(f, h->text, 2);
		any = true;
	}
	if (any && full)
		fprintf(f, "\n%s\n%s", global_options, exit_status);
	else if (any)
		fprintf(f, "See 'netdctl %s --help'.\n", path);
	return any;
}

/* --- errors in words --- */

/* What a parameter must be, for InvalidParameter. */
static const struct {
	const char *name, *what;
} param_words[] = {
	{ "parent", "the parent must be an existing interface name" },
	{ "kind", "the kind must be macvtap or macvlan" },
	{ "mode", "the mode must be bridge, vepa, private or passthru" },
	{ "owner", "an owner is 1 to 64 printable ASCII characters" },
	{ "count", "a count is 1 to 4096, and not given with names" },
	{ "names", "1 to 4096 distinct interface names of 1 to 15 letters, digits, '_', '.' or '-'" },
	{ "name", "an interface name is 1 to 15 letters, digits, '_', '.' or '-'" },
	{ "macs", "one distinct unicast MAC (aa:bb:cc:dd:ee:ff) per link" },
	{ "MAC", "a unicast MAC (aa:bb:cc:dd:ee:ff)" },
	{ "mtu", "an MTU is 68 to 65535, and not above the parent's" },
	{ "up", "up is true or false" },
	{ "down", "down is true or false" },
	{ "port", "the port must be an interface name" },
	{ "filter", "a filter name is letters, digits, '_', '.' or '-'" },
	{ "parameters", "the parameters must be an object of known keys" },
};

static const char *pstr(json_t *p, const char *key)
{
	const char *s = json_string_value(json_object_get(p, key));

	return s ? s : "?";
}

/* A sentence for the io.netd errors that name a link, a port or a
 * filter; false if name is not one of them. */
static bool words_objects(FILE *f, const char *name, json_t *p)
{
	if (streq(name, "io.netd.NoSuchLink"))
		fprintf(f, "no link or device named \"%s\"", pstr(p, "name"));
	else if (streq(name, "io.netd.LinkExists"))
		fprintf(f, "a link or device named \"%s\" exists already", pstr(p, "name"));
	else if (streq(name, "io.netd.NotOwner"))
		fprintf(f, "%s \"%s\" belongs to owner \"%s\"",
			json_object_get(p, "port") ? "the binding of port" : "link",
			json_object_get(p, "port") ? pstr(p, "port") : pstr(p, "name"), pstr(p, "owner"));
	else if (streq(name, "io.netd.LinkBusy"))
		fprintf(f, "link \"%s\" is busy (%s); try again when it is done", pstr(p, "name"),
			pstr(p, "state"));
	else if (streq(name, "io.netd.NoNamesLeft"))
		fprintf(f, "every name of prefix \"%s\" is taken", pstr(p, "prefix"));
	else if (streq(name, "io.netd.NoSuchBinding"))
		fprintf(f, "no filter is bound to port \"%s\"", pstr(p, "port"));
	else if (streq(name, "io.netd.NoSuchFilter"))
		fprintf(f, "no filter named \"%s\"", pstr(p, "filter"));
	else if (streq(name, "io.netd.UnsupportedPort"))
		fprintf(f, "filters cannot be bound to port \"%s\": %s", pstr(p, "port"),
			pstr(p, "reason"));
	else if (streq(name, "io.netd.InvalidLearning"))
		fprintf(f, "port \"%s\" cannot learn its address: %s", pstr(p, "port"),
			pstr(p, "reason"));
	else if (streq(name, "io.netd.InvalidFilter"))
		fprintf(f, "the filter definition was refused: %s", pstr(p, "message"));
	else if (streq(name, "io.netd.ApplyFailed"))
		fprintf(f, "the rules of port \"%s\" were refused: %s", pstr(p, "port"),
			pstr(p, "message"));
	else
		return false;
	return true;
}

/* A sentence for the errors about the call or the daemon. */
static bool words_daemon(FILE *f, const char *name, json_t *p)
{
	if (streq(name, "io.netd.KernelError"))
		fprintf(f, "the kernel refused%s%s%s: %s (errno %lld)",
			json_object_get(p, "link") ? " (link \"" : "",
			json_object_get(p, "link") ? pstr(p, "link") : "",
			json_object_get(p, "link") ? "\")" : "", pstr(p, "message"),
			(long long)geti(p, "errno"));
	else if (streq(name, "io.netd.PermissionDenied"))
		fprintf(f, "permission denied: %s needs root or a member of netd's admin_group",
			pstr(p, "method"));
	else if (streq(name, "io.netd.ProtocolError"))
		fprintf(f, "netd could not read the call: %s", pstr(p, "reason"));
	else if (streq(name, "io.netd.TooManyClients"))
		fprintf(f, "netd serves its maximum of %lld connections", (long long)geti(p, "max_clients"));
	else if (streq(name, "io.netd.TooManyClientsForUser"))
		fprintf(f, "this user already holds its maximum of %lld connections",
			(long long)geti(p, "max_clients_per_uid"));
	else if (streq(name, "io.netd.ShuttingDown"))
		fprintf(f, "netd is shutting down");
	else if (streq(name, "io.netd.StorageError"))
		fprintf(f, "netd's database could not record the call, nothing was changed: %s",
			pstr(p, "reason"));
	else if (streq(name, "io.netd.InternalError"))
		fprintf(f, "netd failed internally (see its log)");
	else if (streq(name, "org.varlink.service.MethodNotFound"))
		fprintf(f, "netd has no method \"%s\"", pstr(p, "method"));
	else if (streq(name, "org.varlink.service.InterfaceNotFound"))
		fprintf(f, "netd has no interface \"%s\"", pstr(p, "interface"));
	else if (streq(name, "org.varlink.service.MethodNotImplemented"))
		fprintf(f, "method \"%s\" is not implemented", pstr(p, "method"));
	else if (streq(name, "org.varlink.service.PermissionDenied"))
		fprintf(f, "permission denied");
	else if (streq(name, "org.varlink.service.ExpectedMore"))
		fprintf(f, "the method answers only calls that accept more replies");
	else
		return false;
	return true;
}

static void words_invalid_parameter(FILE *f, json_t *p)
{
	const char *param = pstr(p, "parameter");

	fprintf(f, "invalid parameter \"%s\"", param);
	for (size_t i = 0; i < ELEMENTSOF(param_words); i++)
		if (streq(param_words[i].name, param)) {
			fprintf(f, ": %s", param_words[i].what);
			return;
		}
}

void print_error_words(FILE *f, const char *cmd, const char *name, json_t *params)
{
	char *raw = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	fprintf(f, "netdctl: %s: ", cmd ? cmd : "call");
	if (streq(name, "org.varlink.service.InvalidParameter"))
		words_invalid_parameter(f, params);
	else if (!words_objects(f, name, params) && !words_daemon(f, name, params))
		fprintf(f, "netd answered with an error");
	/* The error's name and parameters too, for searching and scripts. */
	fprintf(f, " (%s%s%s)\n", name, raw && strcmp(raw, "{}") ? " " : "",
		raw && strcmp(raw, "{}") ? raw : "");
	free(raw);
}
