/*
 * netdctl.h: what the parts of netdctl share: the global options, exit
 * codes, calling netd and printing its replies, and each part's commands.
 * netdctl.c has main() and the daemon-wide commands, netdctl-links.c the
 * link commands and monitor, netdctl-filters.c the filter commands and
 * resync. Only the client library is linked: netdctl never opens the
 * database.
 */
#ifndef NETD_NETDCTL_H
#define NETD_NETDCTL_H

#include <getopt.h>
#include <stdbool.h>

#include "netd/client.h"

#define EXIT_REPLY_ERROR 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3

struct ctl_opts {
	const char *socket;
	bool json;
	int timeout_ms;
};

/* Print v as indented JSON with sorted keys on stdout. */
void print_json(json_t *v);

/* Report an error reply: name and parameters on stderr (also with --json,
 * where stdout gets the reply too, so scripts can parse it). Returns
 * EXIT_REPLY_ERROR. */
int report_error(const struct ctl_opts *o, const struct netd_reply *rep);

/* The socket path used: --socket, else $NETD_SOCKET, else the default. */
const char *sock_path(const struct ctl_opts *o);

/* Connect, call, and read one reply into *ret (free with
 * netd_reply_done()); takes params (may be NULL). 0, or an exit code after
 * printing why, if anything but a success reply came back. */
int do_call(const struct ctl_opts *o, const char *method, json_t *params,
	    struct netd_reply *ret);

/* o[k] as an integer (0 if absent), as a string ("-" if absent or
 * empty). */
json_int_t geti(json_t *o, const char *k);
const char *gets_(json_t *o, const char *k);

/* Parse a subcommand's options: argv[0] is the subcommand. Returns the
 * index of the first operand, or -1 after a usage message. */
int sub_getopt(int argc, char **argv, const struct option *opts,
	       int (*on_opt)(int opt, const char *arg, void *data), void *data);

/* --owner OWNER alone: owner_opt stores it in the const char * at data. */
extern const struct option owner_opts[];
int owner_opt(int opt, const char *arg, void *data);

/* The commands: argv[0] is the command's name. Each returns an exit
 * code. */
int cmd_link(const struct ctl_opts *o, int argc, char **argv);
int cmd_monitor(const struct ctl_opts *o, int argc, char **argv);
int cmd_filter(const struct ctl_opts *o, int argc, char **argv);
int cmd_resync(const struct ctl_opts *o, int argc, char **argv);

#endif
