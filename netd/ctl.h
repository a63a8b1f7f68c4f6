/*
 * ctl.h: the daemon's side of the socket protocol: the listening UNIX
 * socket, one connection per client with bounded input and output buffers,
 * varlink framing and call envelopes, peer credentials, and replies sent in
 * call order. What a method does is not ctl's business: each decoded call
 * is handed to the dispatch function, which answers it at once or later.
 *
 * Only ctl (and the client library) know the wire format.
 */
#ifndef NETD_CTL_H
#define NETD_CTL_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct ctl_server;
struct ctl_call;
struct peerinfo;

struct ctl_limits {
	unsigned max_clients;
	size_t max_message_size;
	size_t max_output_buffer;
	/* Connections of one unprivileged uid at once; 0: no cap. */
	unsigned max_clients_per_uid;
	/* Of max_clients, slots only root and admin_group members may take. */
	unsigned reserved_clients;
	/* A connection with no call in progress (a Monitor is one) is closed
	 * after this long without input; 0: never. */
	unsigned client_idle_timeout_ms;
	/* Partial input held across all connections, bytes; past it the
	 * biggest unprivileged holder is dropped. 0: no budget. */
	size_t max_input_total;
	/* Everything one connection holds (partial input, queued and held
	 * replies), bytes; past it the connection is dropped. 0: no cap. */
	size_t max_connection_buffer;
};

/* Called once per decoded call; the callee must eventually answer it with
 * ctl_call_reply() or ctl_call_error() (unless it continues forever, like
 * a monitor, in which case it must handle cancellation). */
typedef void (*ctl_dispatch_fn)(struct ctl_call *call, void *userdata);

/* Called when the client of a call that has not had its final reply goes
 * away. The call stays valid until its final reply, which then only frees
 * it. */
typedef void (*ctl_cancel_fn)(struct ctl_call *call, void *userdata);

/* Called with the final reply of a call, before it is queued; error is
 * NULL for success. Used for auditing. parameters is NULL for a reply
 * given already encoded (ctl_call_reply_encoded()). */
typedef void (*ctl_finish_fn)(struct ctl_call *call, const char *error,
			      json_t *parameters, void *userdata);

/* Called for each call refused before it is dispatched (not a call, not
 * decodable, a varlink feature netd does not serve) and each connection
 * the limits refuse: cred is the peer's, error the varlink error it was
 * answered, method the call's method ("" for none or an invalid one).
 * Used for auditing (rate-limited, without the call's parameters). */
typedef void (*ctl_refusal_fn)(const struct ucred *cred, const char *method,
			       const char *error, void *userdata);

/*
 * Listen on path (creating its directory, replacing a stale socket, refusing
 * a live one or a non-socket) with the given mode. Logs and returns -errno
 * on failure.
 */
int ctl_server_new(struct ev_loop *loop, const char *path, mode_t mode,
		   const struct ctl_limits *limits, ctl_dispatch_fn dispatch,
		   void *userdata, struct ctl_server **ret);

/*
 * The same on a socket that is already bound and listening (fd, an
 * AF_UNIX stream socket: socket activation), taken over on success. Its
 * file is never unlinked: whoever made it owns it. Logs and returns -errno
 * on failure (fd is then still the caller's).
 */
int ctl_server_adopt(struct ev_loop *loop, int fd, const struct ctl_limits *limits,
		     ctl_dispatch_fn dispatch, void *userdata, struct ctl_server **ret);

/* Close every connection and the listener; unlink the socket if it is
 * still ours. Accepts NULL; returns NULL. */
struct ctl_server *ctl_server_free(struct ctl_server *srv);

/* New limits (SIGHUP); they apply to new connections and new messages. */
void ctl_server_set_limits(struct ctl_server *srv, const struct ctl_limits *limits);

/* Members of this group (besides root) may call mutating methods.
 * has_group false: only root. */
void ctl_server_set_admin_group(struct ctl_server *srv, bool has_group, gid_t gid);

/* Send what is queued, resume paused readers, close finished or dropped
 * connections. The daemon calls this once per loop iteration, after the
 * store has committed, so no reply goes out before the state it reports
 * (only those of ctl_server_set_immediate() leave earlier). */
void ctl_server_flush(struct ctl_server *srv);

/* Begin a graceful stop: close the listener and remove the socket, read no
 * more calls; calls already read are still answered. */
void ctl_server_shutdown(struct ctl_server *srv);

/*
 * Hold the final reply of every call with a finish hook (the calls whose
 * finish hook writes to the store) until ctl_server_settle(), so that no
 * reply leaves before the writes it reports are committed. Off by default.
 */
void ctl_server_hold_finished(struct ctl_server *srv, bool on);

/*
 * Release the held replies, in the order they were given: as given when
 * storage_error is NULL (the commit succeeded), else each replaced by
 * io.netd.StorageError with storage_error as its reason (their writes
 * were rolled back).
 */
void ctl_server_settle(struct ctl_server *srv, const char *storage_error);

/* True while replies are held. */
bool ctl_server_holding(const struct ctl_server *srv);

/* True when no call is pending and no output is queued anywhere. */
bool ctl_server_idle(const struct ctl_server *srv);

/* True while more calls of the same burst are on their way: pipelined
 * calls already received wait to be handled (the backlog), or a
 * privileged client's input ends inside a call (the rest of its burst
 * waits for room in its socket). */
bool ctl_server_more_coming(const struct ctl_server *srv);

/* Which calls may wait for a later loop iteration once the running one
 * has used its time budget (see budget.h): by method
 * name. Without it, every call is dispatched as soon as it is read. */
typedef bool (*ctl_deferrable_fn)(const char *method);
void ctl_server_set_deferrable(struct ctl_server *srv, ctl_deferrable_fn fn);

/* Which calls are answered at once: a final reply of such a method that
 * is first in its connection's queue, with nothing else waiting in the
 * connection's output, is written to the socket as soon as it is given,
 * not with the others at the end of the loop iteration (after its
 * commit). For calls whose reply reports nothing a commit makes true
 * (GetStatus, GetInfo). Without it, every reply waits for the
 * iteration's end. */
typedef bool (*ctl_immediate_fn)(const char *method);
void ctl_server_set_immediate(struct ctl_server *srv, ctl_immediate_fn fn);

/* See ctl_refusal_fn; NULL: nobody is told. */
void ctl_server_set_refusal_hook(struct ctl_server *srv, ctl_refusal_fn fn, void *userdata);

/* Connections open now. */
unsigned ctl_server_clients(const struct ctl_server *srv);

/* --- calls --- */

const char *ctl_call_method(const struct ctl_call *call);
json_t *ctl_call_parameters(const struct ctl_call *call); /* borrowed, may be NULL */
bool ctl_call_more(const struct ctl_call *call);
const struct ucred *ctl_call_peer(const struct ctl_call *call);

/* The caller's process name and systemd unit as read when it connected
 * (empty strings when unknown or gone); informational. */
const struct peerinfo *ctl_call_peerinfo(const struct ctl_call *call);
/* Root, or a member of the admin group. */
bool ctl_call_privileged(const struct ctl_call *call);

void ctl_call_set_cancel(struct ctl_call *call, ctl_cancel_fn fn, void *userdata);
void ctl_call_set_finish(struct ctl_call *call, ctl_finish_fn fn, void *userdata);
/* What a call whose reply is given already encoded (ctl_call_reply_encoded())
 * did, for the finish hook, which then gets no reply parameters; steals
 * outcome. ctl_call_outcome() returns it borrowed, or NULL. */
void ctl_call_set_outcome(struct ctl_call *call, json_t *outcome);
json_t *ctl_call_outcome(const struct ctl_call *call);

/* The final reply; steals parameters (NULL: empty object). */
void ctl_call_reply(struct ctl_call *call, json_t *parameters);

/*
 * The final reply, its parameters given as the JSON text of an object
 * (steals text; NULL: io.netd.InternalError). For replies too big to
 * build and encode in one callback: the caller encodes them in pieces
 * over several loop iterations, and the text is only copied here.
 */
void ctl_call_reply_encoded(struct ctl_call *call, char *text);

/* One more reply of a streaming call (the client asked for more); steals
 * parameters. Without 'more' this is the final reply. */
void ctl_call_reply_more(struct ctl_call *call, json_t *parameters);

/*
 * Pass fds (n of them; the array and the descriptors are taken, also on
 * failure) with the call's final reply, in that order, if that reply is
 * a success; they are closed otherwise. The reply should say how many
 * (io.netd's "fds"). 0, or -ENOMEM.
 */
int ctl_call_attach_fds(struct ctl_call *call, int *fds, size_t n);

/* The final reply, as an error; steals parameters (NULL: empty object). */
void ctl_call_error(struct ctl_call *call, const char *error, json_t *parameters);

/* org.varlink.service.InvalidParameter naming the parameter. */
void ctl_call_invalid_parameter(struct ctl_call *call, const char *parameter);

struct decode_field;

/* Decode the call's parameters with a field table (see decode.h) into out.
 * On failure answers InvalidParameter naming the field and returns false. */
bool ctl_call_decode(struct ctl_call *call, const struct decode_field *fields, size_t n,
		     void *out);

#endif
