/*
 * client.c: see include/netd/client.h. Shares the framing code with the
 * server (frame.c) so both sides agree on what a message is.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "netd/client.h"
#include "util.h"

/* Replies can be large (a list of thousands of links); this only guards
 * against a runaway peer. */
#define CLIENT_MAX_REPLY (64u << 20)

struct netd_client {
	int fd;
	struct frame in;
};

int netd_client_connect(const char *path, struct netd_client **ret)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct netd_client *c;
	int r;

	assert(ret);
	if (!path)
		path = getenv("NETD_SOCKET");
	if (!path || !*path)
		path = NETD_CLIENT_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	frame_init(&c->in);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		free(c);
		return r;
	}
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		netd_client_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

struct netd_client *netd_client_free(struct netd_client *c)
{
	if (!c)
		return NULL;
	if (c->fd >= 0)
		close(c->fd);
	frame_done(&c->in);
	free(c);
	return NULL;
}

int netd_client_fd(const struct netd_client *c)
{
	assert(c);
	return c->fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EPIPE ? -ECONNRESET : -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int netd_client_send(struct netd_client *c, const char *method, json_t *params,
		     unsigned flags)
{
	_cleanup_free_ char *text = NULL;
	json_t *msg;

	assert(c);
	assert(method);
	if (params && !json_is_object(params))
		return -EINVAL;
	msg = json_pack("{s:s}", "method", method);
	if (!msg)
		return -ENOMEM;
	if (params)
		json_object_set(msg, "parameters", params);
	if (flags & NETD_CALL_MORE)
		json_object_set_new(msg, "more", json_true());
	if (flags & NETD_CALL_ONEWAY)
		json_object_set_new(msg, "oneway", json_true());
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text)
		return -ENOMEM;
	/* The NUL that strlen() stops at is the message terminator. */
	return write_all(c->fd, text, strlen(text) + 1);
}

static int parse_reply(const char *text, size_t len, struct netd_reply *ret)
{
	json_t *root, *params, *error, *cont;
	char *error_name = NULL;
	const char *key;
	json_t *v;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!root || !json_is_object(root))
		goto bad;
	json_object_foreach(root, key, v)
		if (!streq(key, "parameters") && !streq(key, "error") && !streq(key, "continues"))
			goto bad;
	params = json_object_get(root, "parameters");
	error = json_object_get(root, "error");
	cont = json_object_get(root, "continues");
	if ((params && !json_is_object(params)) || (error && !json_is_string(error)) ||
	    (cont && !json_is_boolean(cont)))
		goto bad;

	if (error) {
		/* ret is written only on success. */
		error_name = strdup(json_string_value(error));
		if (!error_name) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	*ret = (struct netd_reply){
		.error = error_name,
		.parameters = params ? json_incref(params) : json_object(),
		.continues = json_is_true(cont),
	};
	json_decref(root);
	return 0;
bad:
	json_decref(root);
	return -EPROTO;
}

int netd_client_recv(struct netd_client *c, int timeout_ms, struct netd_reply *ret)
{
	uint64_t deadline = timeout_ms > 0 ? now_usec() + (uint64_t)timeout_ms * 1000u : 0;

	assert(c);
	assert(ret);
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		char *msg, *p;
		size_t len;
		ssize_t n;
		int r, wait;

		r = frame_next(&c->in, CLIENT_MAX_REPLY, &msg, &len);
		if (r < 0)
			return -EPROTO;
		if (r > 0)
			return parse_reply(msg, len, ret);

		if (timeout_ms < 0) {
			wait = -1;
		} else if (timeout_ms == 0) {
			wait = 0;
		} else {
			uint64_t now = now_usec();

			wait = now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
		}
		r = poll(&pfd, 1, wait);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ETIMEDOUT;

		r = frame_reserve(&c->in, 65536, &p);
		if (r < 0)
			return r;
		n = recv(c->fd, p, 65536, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		frame_commit(&c->in, (size_t)n);
	}
}

int netd_client_call(struct netd_client *c, const char *method, json_t *params,
		     int timeout_ms, struct netd_reply *ret)
{
	int r = netd_client_send(c, method, params, 0);

	assert(c);
	assert(method);
	assert(ret);
	if (r < 0)
		return r;
	return netd_client_recv(c, timeout_ms, ret);
}

void netd_reply_done(struct netd_reply *r)
{
	if (!r)
		return;
	json_decref(r->parameters);
	free(r->error);
	r->parameters = NULL;
	r->error = NULL;
	r->continues = false;
}
