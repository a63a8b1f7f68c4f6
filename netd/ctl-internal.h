/*
 * ctl-internal.h: what the two halves of ctl share, and nobody else sees.
 *
 * ctl.c owns the server and its connections (the listening socket, each
 * client's buffers and watchers, reading, the backlog, writing); ctl-call.c
 * owns the calls (decoding a message into a call, the per-connection queue
 * that keeps replies in call order, the deferred calls, the ctl_call_*
 * API). The structs are shared because a call lives on its connection's
 * queue and a connection's state decides where a reply goes.
 */
#ifndef NETD_CTL_INTERNAL_H
#define NETD_CTL_INTERNAL_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ctl.h"
#include "frame.h"
#include "peerinfo.h"
#include "step.h"

/* A client with this many unanswered calls is not read from until some are
 * answered (half of them). */
#define CTL_MAX_PENDING_CALLS 4096
/* Supplementary groups remembered per peer. */
#define CTL_MAX_GROUPS 64

TAILQ_HEAD(call_list, ctl_call);
TAILQ_HEAD(conn_list, ctl_conn);

struct ctl_call {
	struct ctl_conn *conn; /* NULL once the client has gone */
	TAILQ_ENTRY(ctl_call) link;
	char *method;
	json_t *parameters;
	bool more, oneway;
	bool done;          /* final reply given */
	struct frame held;  /* replies waiting for earlier calls (counted in
			     * its connection's held_bytes) */
	uint64_t start_us;
	ctl_cancel_fn cancel;
	void *cancel_data;
	ctl_finish_fn finish;
	void *finish_data;
	bool deferred;
	TAILQ_ENTRY(ctl_call) defer_link; /* on srv->deferred */
	bool immediate;     /* its reply is written at once (ctl_immediate_fn) */
	/* The final reply, held until the iteration's commit is settled (see
	 * ctl_server_settle()). */
	struct ctl_server *srv;
	bool settling;
	char *settle_error;
	json_t *settle_params;
	char *settle_text;  /* or its parameters already encoded */
	TAILQ_ENTRY(ctl_call) settle_link; /* on srv->settling */
	/* File descriptors passed with the final reply (ctl_call_attach_fds):
	 * moved to the connection's out_fds with the reply's bytes, closed
	 * if the reply is an error or never sent. */
	int *fds;
	size_t nfds;
	/* What the call did, for its audit row, when its reply was given
	 * already encoded (ctl_call_set_outcome()). */
	json_t *outcome;
};

struct ctl_conn {
	struct ctl_server *srv;
	int fd;
	unsigned id;
	ev_io rio, wio;
	struct frame in, out;
	struct ucred cred;
	gid_t groups[CTL_MAX_GROUPS];
	int ngroups;
	struct peerinfo peer;   /* name and unit at connect time, for the audit */
	bool privileged;      /* root or admin_group, as of the accept */
	size_t held_bytes;    /* replies held in its calls */
	size_t input_counted; /* its share of srv->input_total */
	ev_timer idle;        /* client_idle_timeout_ms */
	struct call_list calls;
	unsigned ncalls;
	unsigned ndeferred;  /* of its calls, waiting on srv->deferred */
	bool eof;      /* read no more: peer closed, protocol error, shutdown */
	bool broken;   /* protocol error: ignore whatever input follows */
	bool drop;     /* close now, discarding output */
	bool paused;   /* too many calls pending: input waits */
	bool backlog;  /* on the backlog list: buffered input left to handle */
	bool partial;  /* privileged, part of a call read, the rest still to
			* come (counted in srv->npartial) */
	bool dirty;    /* on the server's flush list */
	/* File descriptors of replies already in out, sent (SCM_RIGHTS) with
	 * the next bytes written, so each arrives no later than its reply. */
	int *out_fds;
	size_t n_out_fds;
	TAILQ_ENTRY(ctl_conn) link;         /* all connections */
	TAILQ_ENTRY(ctl_conn) dirty_link;   /* needing a flush */
	TAILQ_ENTRY(ctl_conn) backlog_link; /* input left over */
};

struct ctl_server {
	struct ev_loop *loop;
	int fd;
	ev_io accept_io;
	char *path;
	dev_t dev;
	ino_t ino;
	struct ctl_limits limits;
	bool has_admin_group;
	gid_t admin_gid;
	ctl_dispatch_fn dispatch;
	void *userdata;
	struct conn_list conns;
	struct conn_list dirty;
	struct conn_list backlog;
	struct step backlog_step; /* serves the backlog after each poll */
	/* Calls read but not yet dispatched, oldest first (see
	 * ctl_conn_handle_message()). */
	TAILQ_HEAD(, ctl_call) deferred;
	unsigned ndeferred;
	ctl_deferrable_fn deferrable;
	ctl_immediate_fn immediate;
	ctl_refusal_fn refusal;
	void *refusal_data;
	bool hold_finished;   /* see ctl_server_hold_finished() */
	TAILQ_HEAD(, ctl_call) settling;
	unsigned nconns;
	unsigned next_id;
	size_t input_total;   /* partial input held, all connections */
	unsigned npartial;    /* connections with c->partial */
	bool shutting_down;
};

/* --- ctl.c: connections --- */

/* Write as much of c's queued output as its socket takes now (the rest
 * when it is writable); a write error drops c. Never frees c. */
void ctl_conn_write(struct ctl_conn *c);

/* Put c on the server's flush list (ctl_server_flush() writes its output
 * and closes it if it is finished or dropped). */
void ctl_conn_mark_dirty(struct ctl_conn *c);

/* Close c at the next flush, discarding its output; logged as a warning
 * with why. */
void ctl_conn_drop(struct ctl_conn *c, const char *why);

/* Read no more from c; it is closed once its calls are answered. */
void ctl_conn_set_eof(struct ctl_conn *c);

/* Put c on (or take it off) the backlog: buffered input left to handle
 * in a later loop iteration. */
void ctl_conn_set_backlog(struct ctl_conn *c, bool on);

/* Bytes c holds: partial input, queued output, held replies. */
size_t ctl_conn_bytes(const struct ctl_conn *c);

/* Drop c if it holds more than max_connection_buffer. Returns true if
 * it was dropped. */
bool ctl_conn_check_buffer(struct ctl_conn *c);

/* Root, or a member of the admin group (by the credentials of the
 * accept). */
bool ctl_conn_privileged(const struct ctl_server *srv, const struct ucred *cred,
			 const gid_t *groups, int ngroups);

/* --- ctl-limits.c --- */

/* May a new connection with these credentials take a slot? If not, it is
 * answered with the refusal, closed and counted, and false returned. */
bool ctl_limits_admit(struct ctl_server *srv, int fd, const struct ucred *cred,
		      bool privileged);

/* Count c's partial input in the server's budget after it changed; drops
 * c over its own cap, and the biggest (unprivileged first) holders while
 * the budget is exceeded. */
void ctl_conn_account_input(struct ctl_conn *c);

/* Start c's idle timer / restart it on input (client_idle_timeout_ms). */
void ctl_conn_idle_init(struct ctl_conn *c);
void ctl_conn_touch(struct ctl_conn *c);

/* Run the backlog watchers while there is input left over or a deferred
 * call, and only then. */
void ctl_backlog_update(struct ctl_server *srv);

/* --- ctl-call.c: calls --- */

/* Decode one NUL-terminated message of c (len bytes, the NUL excluded)
 * into a call and dispatch it, defer it, or answer it with an error. */
void ctl_conn_handle_message(struct ctl_conn *c, const char *msg, size_t len);

/* Dispatch deferred calls, oldest first: at least one, then while the
 * iteration's budget lasts. Returns how many. */
unsigned ctl_deferred_dispatch(struct ctl_server *srv);

/* Tell the refusal hook (if any) that cred's call of method (or its
 * connection, method "") was refused with error before any dispatch. */
void ctl_refused(const struct ctl_server *srv, const struct ucred *cred, const char *method,
		 const char *error);

/* Free a call that is off every list. Accepts NULL; returns NULL. */
struct ctl_call *ctl_call_free(struct ctl_call *call);

#endif
