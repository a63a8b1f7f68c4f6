/*
 * netdctl.h: what the parts of netdctl share: the global options, exit
 * codes, calling netd and printing its replies, and each part's commands.
 * netdctl.c has main(), option parsing and the daemon-wide commands,
 * netdctl-links.c the link commands and monitor, netdctl-filters.c the
 * filter commands and resync, netdctl-words.c the usage texts and the
 * errors in words. Only the client library is linked: netdctl never opens the
 * database.
 */
#ifndef NETD_NETDCTL_H
#define NETD_NETDCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "netd/client.h"

#define EXIT_REPLY_ERROR 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3

struct ctl_opts {
	const char *socket;
	bool json;
	int timeout_ms;
	const char *cmd;   /* the command being run ("link create"), for messages */
};

/* A command or subcommand: argv[0] is its name; returns an exit code. */
struct netdctl_cmd {
	const char *name;
	int (*fn)(struct ctl_opts *o, int argc, char **argv);
};

/* Run the command of cmds[0..n) named by the first operand of argv
 * (argv[0] is the group's name, "link"; NULL group: the top level),
 * after the global options that come before it. */
int dispatch(struct ctl_opts *o, const char *group, const struct netdctl_cmd *cmds, size_t n,
	     int argc, char **argv);

/* Print v as indented JSON with sorted keys on stdout. */
void print_json(json_t *v);

/* Report an error reply: in words, with its name and parameters, on
 * stderr; with --json, also {"error", "parameters"} on stdout, so scripts
 * can parse it. Returns EXIT_REPLY_ERROR. */
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

#define SUB_USAGE (-1)
#define SUB_HELP (-2)
/* The exit code of a negative sub_getopt() result. */
#define SUB_EXIT(r) ((r) == SUB_HELP ? 0 : EXIT_USAGE)

/* Parse the options of command path ("link create"; argv[0] is its last
 * word): opts (may be NULL) and the global ones, anywhere among the
 * operands, which getopt moves to the end. Returns the index of the first
 * operand; SUB_HELP after printing the command's help on stdout;
 * SUB_USAGE after a message on stderr. Sets o->cmd. */
int sub_getopt(struct ctl_opts *o, const char *path, int argc, char **argv,
	       const struct option *opts, int (*on_opt)(int opt, const char *arg, void *data),
	       void *data);

/* The usage of o->cmd on stderr; EXIT_USAGE. */
int usage_error(const struct ctl_opts *o);

/* netdctl-words.c: every command's usage with the options and exit codes
 * (netdctl --help); command path's (or, for "link", each link command's)
 * usage, with what it does and the options if full. false: no such
 * command. */
void usage_all(FILE *f);
bool usage_command(FILE *f, const char *path, bool full);
/* "netdctl: CMD: <a sentence> (NAME PARAMETERS)" and a newline. */
void print_error_words(FILE *f, const char *cmd, const char *name, json_t *params);

/* --owner OWNER alone: owner_opt stores it in the const char * at data. */
extern const struct option owner_opts[];
int owner_opt(int opt, const char *arg, void *data);

/* The commands: argv[0] is the command's name. Each returns an exit
 * code. */
int cmd_link(struct ctl_opts *o, int argc, char **argv);
int cmd_monitor(struct ctl_opts *o, int argc, char **argv);
int cmd_filter(struct ctl_opts *o, int argc, char **argv);
int cmd_resync(struct ctl_opts *o, int argc, char **argv);

#endif
