/*
 * netd/client.h: a small client for netd's control socket, for netdctl and
 * for hypervisor daemons.
 *
 * netd speaks varlink over an AF_UNIX stream socket: each message is one
 * JSON object followed by a NUL byte. A call is
 *     {"method": "io.netd.GetStatus", "parameters": {...}}
 * and each reply is
 *     {"parameters": {...}}                       success
 *     {"parameters": {...}, "continues": true}    one of a stream (more)
 *     {"error": "io.netd.Name", "parameters": {}} failure
 * Calls on one connection are answered in the order sent, so several may
 * be sent before reading the replies (pipelining).
 *
 * All functions return 0 (or a documented positive value) on success and
 * a negative errno on failure; out-parameters are written only on success.
 * The calls block, with an optional timeout; for use in an event loop,
 * poll netd_client_fd() for input and call netd_client_recv() with a
 * timeout of 0.
 *
 * Link with -lnetd-client (pkg-config netd-client); needs jansson.
 */
#ifndef NETD_CLIENT_H
#define NETD_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The default socket path, used when neither an explicit path nor the
 * NETD_SOCKET environment variable is given. */
#define NETD_CLIENT_DEFAULT_SOCKET "/run/netd/netd.sock"

struct netd_client;

struct netd_reply {
	json_t *parameters; /* always an object on success */
	char *error;        /* NULL, or the varlink error name */
	bool continues;     /* more replies to this call follow */
};

/* Flags for netd_client_send(). */
#define NETD_CALL_MORE   (1u << 0) /* ask for a stream of replies */
#define NETD_CALL_ONEWAY (1u << 1) /* ask for no reply at all */

/*
 * Connect to netd. path NULL: $NETD_SOCKET if set, else the default.
 * -ENOENT / -ECONNREFUSED when netd is not running, -EACCES when the
 * socket's permissions forbid it.
 */
int netd_client_connect(const char *path, struct netd_client **ret);

/* Close the connection and free. Accepts NULL; returns NULL. */
struct netd_client *netd_client_free(struct netd_client *c);

/* The socket, for poll(2) in the caller's own loop. */
int netd_client_fd(const struct netd_client *c);

/*
 * Send one call. params (borrowed) is a JSON object or NULL for none.
 * Blocks until the message is written.
 */
int netd_client_send(struct netd_client *c, const char *method, json_t *params,
		     unsigned flags);

/*
 * Read the next reply into *ret (free with netd_reply_done()).
 * timeout_ms < 0 waits forever, 0 only takes what is already there.
 * -ETIMEDOUT when nothing came, -ECONNRESET when netd closed the
 * connection, -EPROTO when the reply is not valid varlink.
 */
int netd_client_recv(struct netd_client *c, int timeout_ms, struct netd_reply *ret);

/* Send a call and read its (first) reply. */
int netd_client_call(struct netd_client *c, const char *method, json_t *params,
		     int timeout_ms, struct netd_reply *ret);

/* Free what a reply holds; the struct itself is the caller's. */
void netd_reply_done(struct netd_reply *r);

#ifdef __cplusplus
}
#endif

#endif
