/*
 * netd/client.h: the client library for netd's control socket
 * (libnetd-client), for netdctl and for hypervisor daemons. The manual
 * is libnetd-client(3).
 *
 * netd speaks varlink over an AF_UNIX stream socket: each message is one
 * JSON object followed by a NUL byte. A call is
 *     {"method": "io.netd.GetStatus", "parameters": {...}}
 * and each reply is
 *     {"parameters": {...}}                       success
 *     {"parameters": {...}, "continues": true}    one of a stream (more)
 *     {"error": "io.netd.Name", "parameters": {}} failure
 * Calls on one connection are answered in the order sent; the library
 * matches each reply to its call by that order, so several calls may be
 * in flight at once.
 *
 * Two ways to use it, on the same connection if need be:
 *  - blocking: netd_client_call() and the typed helpers (netd_create_links()
 *    ...) send a call and wait for its reply, with a timeout;
 *  - event loop: the _async forms queue a call and return at once; the
 *    caller watches netd_client_fd() for netd_client_events() and calls
 *    netd_client_process() when it is ready (and after netd_client_timeout()
 *    milliseconds); each call's callback runs from there with its reply.
 *
 * A call that times out is abandoned: its callback gets -ETIMEDOUT once,
 * and its reply, when it comes, is read and dropped; later calls get their
 * own replies. When the connection fails (netd closed it, or sent
 * something that is not varlink) every call in flight gets the error and
 * every later call fails with it at once: -ECONNRESET or -EPROTO.
 *
 * Conventions:
 *  - Functions return 0 (or a documented positive value) on success and a
 *    negative errno on failure. A typed helper whose call netd answered
 *    with an error returns -EREMOTEIO and names the error in the result's
 *    error.name (see NETD_ERROR_* and netd_strerror()).
 *  - json_t parameters are always TAKEN: the library owns the reference
 *    once the function is called, whether it succeeds or not, so
 *    netd_client_call(c, m, json_pack(...), ...) does not leak (use
 *    json_incref() to keep a reference). Strings and arrays of strings
 *    are borrowed (copied when needed).
 *  - Replies and results handed to a callback belong to the library and
 *    live until the callback returns; to keep a part, take it out and set
 *    its field to NULL (or -1 for a file descriptor). Results filled by a
 *    blocking call are the caller's: release them with their _done()
 *    function whatever the call returned.
 *  - Threads: a client object is not thread-safe and has no locks; use it
 *    from one thread at a time (one per thread is simplest). Different
 *    client objects are independent; there is no global state.
 *  - A callback may queue new calls (_async forms); it must not free the
 *    client nor make a blocking call on it.
 *
 * Link with -lnetd-client (pkg-config netd-client); needs jansson.
 */
#ifndef NETD_CLIENT_H
#define NETD_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header: MAJOR changes when a program must be
 * changed to build against it, MINOR when something was added.
 * netd_client_version() gives the library's, for a run-time check. */
#define NETD_CLIENT_VERSION_MAJOR 1
#define NETD_CLIENT_VERSION_MINOR 1
#define NETD_CLIENT_VERSION (NETD_CLIENT_VERSION_MAJOR * 1000 + NETD_CLIENT_VERSION_MINOR)

/* The default socket path, used when neither an explicit path nor the
 * NETD_SOCKET environment variable is given. */
#define NETD_CLIENT_DEFAULT_SOCKET "/run/netd/netd.sock"

/* Every error netd's interfaces declare (netd/io.netd.varlink and
 * org.varlink.service). */
#define NETD_ERROR_NO_SUCH_BINDING "io.netd.NoSuchBinding"
#define NETD_ERROR_NO_SUCH_FILTER "io.netd.NoSuchFilter"
#define NETD_ERROR_UNSUPPORTED_PORT "io.netd.UnsupportedPort"
#define NETD_ERROR_INVALID_FILTER "io.netd.InvalidFilter"
#define NETD_ERROR_INVALID_LEARNING "io.netd.InvalidLearning"
#define NETD_ERROR_APPLY_FAILED "io.netd.ApplyFailed"
#define NETD_ERROR_NO_SUCH_LINK "io.netd.NoSuchLink"
#define NETD_ERROR_LINK_EXISTS "io.netd.LinkExists"
#define NETD_ERROR_NOT_OWNER "io.netd.NotOwner"
#define NETD_ERROR_LINK_BUSY "io.netd.LinkBusy"
#define NETD_ERROR_NO_NAMES_LEFT "io.netd.NoNamesLeft"
#define NETD_ERROR_KERNEL_ERROR "io.netd.KernelError"
#define NETD_ERROR_PROTOCOL_ERROR "io.netd.ProtocolError"
#define NETD_ERROR_PERMISSION_DENIED "io.netd.PermissionDenied"
#define NETD_ERROR_TOO_MANY_CLIENTS "io.netd.TooManyClients"
#define NETD_ERROR_TOO_MANY_CLIENTS_FOR_USER "io.netd.TooManyClientsForUser"
#define NETD_ERROR_SHUTTING_DOWN "io.netd.ShuttingDown"
#define NETD_ERROR_STORAGE_ERROR "io.netd.StorageError"
#define NETD_ERROR_INTERNAL_ERROR "io.netd.InternalError"
#define NETD_ERROR_INTERFACE_NOT_FOUND "org.varlink.service.InterfaceNotFound"
#define NETD_ERROR_METHOD_NOT_FOUND "org.varlink.service.MethodNotFound"
#define NETD_ERROR_METHOD_NOT_IMPLEMENTED "org.varlink.service.MethodNotImplemented"
#define NETD_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"
#define NETD_ERROR_SERVICE_PERMISSION_DENIED "org.varlink.service.PermissionDenied"
#define NETD_ERROR_EXPECTED_MORE "org.varlink.service.ExpectedMore"

struct netd_client;

struct netd_reply {
	json_t *parameters; /* always an object on success */
	char *error;        /* NULL, or the varlink error name */
	bool continues;     /* more replies to this call follow */
	/* File descriptors netd passed with this reply (as many as its
	 * "fds" parameter says; CreateLinks with fds), close-on-exec;
	 * netd_reply_done() closes those not taken (set to -1). */
	int *fds;
	size_t n_fds;
};

/* Flags for the raw calls. */
#define NETD_CALL_MORE   (1u << 0) /* ask for a stream of replies */
#define NETD_CALL_ONEWAY (1u << 1) /* ask for no reply at all */

/*
 * A call's callback. r is 0 with a reply (which may carry a varlink
 * error), or a negative errno with reply NULL: -ETIMEDOUT (the call's
 * timeout passed; its reply will be dropped), -ECONNRESET / -EPROTO (the
 * connection failed), -ECANCELED (the client was freed). Called once per
 * reply (a stream: until one with continues false) and at most once with
 * an error, after which it is never called again for that call.
 */
typedef void (*netd_reply_cb)(struct netd_client *c, int r, struct netd_reply *reply,
			      void *userdata);

/* The library's version, NETD_CLIENT_VERSION as it was built. */
unsigned netd_client_version(void);

/*
 * Connect to netd. path NULL: $NETD_SOCKET if set, else the default.
 * -ENOENT / -ECONNREFUSED when netd is not running, -EACCES when the
 * socket's permissions forbid it. The socket is non-blocking and
 * close-on-exec.
 */
int netd_client_connect(const char *path, struct netd_client **ret);

/* Close the connection and free. Calls still in flight get -ECANCELED
 * first. Accepts NULL; returns NULL. */
struct netd_client *netd_client_free(struct netd_client *c);

/* The socket, for the caller's own loop (poll, epoll, libev ...). */
int netd_client_fd(const struct netd_client *c);

/* What to wait for on netd_client_fd(): POLLIN, plus POLLOUT while queued
 * output is waiting (0 once the connection failed). */
short netd_client_events(const struct netd_client *c);

/* Queued output is waiting for the socket to take it. */
bool netd_client_want_write(const struct netd_client *c);

/* Milliseconds until the next call's timeout passes (0: already), or -1
 * when no call in flight has one. Call netd_client_process() then. */
int netd_client_timeout(const struct netd_client *c);

/* Calls sent and not yet fully answered (or abandoned). */
size_t netd_client_pending(const struct netd_client *c);

/*
 * Do what can be done now without blocking: write queued output (a
 * partial write is continued next time), read what netd sent, run the
 * callbacks of the replies that are complete and of the calls whose
 * timeout passed. 0, or the connection's error once it failed (its
 * calls' callbacks have run); stop watching the fd then and free it.
 */
int netd_client_process(struct netd_client *c);

/*
 * Queue a call; params (taken) is a JSON object or NULL. cb (may be NULL
 * to ignore the replies; must be NULL with NETD_CALL_ONEWAY) gets the
 * replies from netd_client_process(). timeout_ms > 0: the call fails
 * with -ETIMEDOUT when no (first) reply came in time; <= 0: no limit.
 * The whole message is queued at once; what the socket does not take now
 * is written by netd_client_process(). -EINVAL: params not an object.
 */
int netd_client_call_async(struct netd_client *c, const char *method, json_t *params,
			   unsigned flags, int timeout_ms, netd_reply_cb cb, void *userdata);

/*
 * Send a call and wait for its (first) reply into *ret (free with
 * netd_reply_done()). params is taken. timeout_ms > 0: -ETIMEDOUT when no
 * reply came in time (the call is abandoned, its late reply dropped);
 * <= 0: wait as long as it takes. Callbacks of async calls on the same
 * client run meanwhile.
 */
int netd_client_call(struct netd_client *c, const char *method, json_t *params,
		     int timeout_ms, struct netd_reply *ret);

/*
 * Queue a call whose replies netd_client_recv() returns (for streams, e.g.
 * Monitor with NETD_CALL_MORE). params is taken. Returns once queued.
 */
int netd_client_send(struct netd_client *c, const char *method, json_t *params,
		     unsigned flags);

/*
 * The next reply to a netd_client_send() call, into *ret (free with
 * netd_reply_done()). timeout_ms < 0 waits forever, 0 only takes what is
 * already there. -ETIMEDOUT when nothing came (the call is not abandoned:
 * its reply can still be received), -ECONNRESET when netd closed the
 * connection, -EPROTO when the reply is not valid varlink.
 */
int netd_client_recv(struct netd_client *c, int timeout_ms, struct netd_reply *ret);

/* Free what a reply holds; the struct itself is the caller's. */
void netd_reply_done(struct netd_reply *r);

/*
 * An error netd answered: its varlink name in words ("the link belongs
 * to another owner"), for messages; a generic text for names it does not
 * know; "" for NULL. Static strings.
 */
const char *netd_strerror(const char *error_name);

/* ---- typed calls ---- */

/* A varlink error netd answered: name NULL when none. */
struct netd_error {
	char *name;
	json_t *parameters;
};

/* A link, as io.netd's Link type declares it. */
struct netd_link {
	char *name;
	int64_t ifindex;
	char *kind;   /* "macvtap" or "macvlan" */
	char *mode;
	char *parent;
	char *mac;
	char *owner;
	char *state;
	char *created;
	char *tap;    /* macvtap: "/dev/tapN"; NULL otherwise */
	int fd;       /* with fds: the open tap device (the result's until
		       * taken: set to -1 after taking it); else -1 */
};

/* What CreateLinks is asked for. names and count are exclusive (neither:
 * one link); macs, when given, has one address per link. */
struct netd_link_request {
	const char *parent;
	const char *kind;
	const char *mode;  /* NULL: netd's default */
	const char *owner;
	unsigned count;
	const char *const *names;
	size_t n_names;
	const char *const *macs;
	size_t n_macs;
	/* macvtap: pass each link's tap device, open (read-write,
	 * non-blocking, close-on-exec), in its fd: no access to /dev/tap*
	 * needed */
	bool fds;
};

struct netd_links_result {
	struct netd_error error;
	struct netd_link *links;
	size_t n_links;
};

struct netd_names_result {
	struct netd_error error;
	char **names;
	size_t n_names;
};

/* A binding, as io.netd's Binding type declares it. */
struct netd_binding {
	char *port;
	char *filter;
	char *owner;
	json_t *parameters;
	char *state;
	char *hash;
	bool applied;
	char **families;
	size_t n_families;
	char *created;
	char *applied_at; /* NULL when never applied */
	char *error;      /* NULL when the last apply did not fail */
};

struct netd_binding_result {
	struct netd_error error;
	struct netd_binding binding;
};

/* The typed callbacks: r as for netd_reply_cb, plus -EREMOTEIO when netd
 * answered an error (res->error); res is never NULL. */
typedef void (*netd_links_cb)(struct netd_client *c, int r, struct netd_links_result *res,
			      void *userdata);
typedef void (*netd_names_cb)(struct netd_client *c, int r, struct netd_names_result *res,
			      void *userdata);
typedef void (*netd_binding_cb)(struct netd_client *c, int r, struct netd_binding_result *res,
				void *userdata);

/*
 * io.netd.CreateLinks. The blocking form fills *ret (release it with
 * netd_links_result_done() whatever was returned); the async form calls cb
 * once. -EINVAL when the request is incomplete (nothing sent).
 */
int netd_create_links(struct netd_client *c, const struct netd_link_request *req,
		      int timeout_ms, struct netd_links_result *ret);
int netd_create_links_async(struct netd_client *c, const struct netd_link_request *req,
			    int timeout_ms, netd_links_cb cb, void *userdata);
void netd_links_result_done(struct netd_links_result *res);

/* io.netd.DeleteLinks: the given names of owner, or all of owner's links
 * when n_names is 0. The result's names are the deleted ones. */
int netd_delete_links(struct netd_client *c, const char *owner, const char *const *names,
		      size_t n_names, int timeout_ms, struct netd_names_result *ret);
int netd_delete_links_async(struct netd_client *c, const char *owner,
			    const char *const *names, size_t n_names, int timeout_ms,
			    netd_names_cb cb, void *userdata);
void netd_names_result_done(struct netd_names_result *res);

/* io.netd.BindFilter; parameters (taken) is an object or NULL. */
int netd_bind_filter(struct netd_client *c, const char *port, const char *filter,
		     const char *owner, json_t *parameters, int timeout_ms,
		     struct netd_binding_result *ret);
int netd_bind_filter_async(struct netd_client *c, const char *port, const char *filter,
			   const char *owner, json_t *parameters, int timeout_ms,
			   netd_binding_cb cb, void *userdata);
void netd_binding_result_done(struct netd_binding_result *res);

/* io.netd.UnbindFilter: the result's one name is the port unbound. */
int netd_unbind_filter(struct netd_client *c, const char *port, const char *owner,
		       int timeout_ms, struct netd_names_result *ret);
int netd_unbind_filter_async(struct netd_client *c, const char *port, const char *owner,
			     int timeout_ms, netd_names_cb cb, void *userdata);

#ifdef __cplusplus
}
#endif

#endif
