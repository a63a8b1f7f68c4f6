/*
 * client.c: the connection of libnetd-client (see include/netd/client.h):
 * the queue of calls in flight matched to replies in order, queued
 * non-blocking writes, timeouts, and the blocking calls built on the
 * asynchronous ones. The typed helpers are in client-typed.c. Shares the
 * framing code with the server (frame.c) so both sides agree on what a
 * message is.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client-internal.h"
#include "frame.h"
#include "util.h"

/* Replies can be large (a list of thousands of links); this only guards
 * against a runaway peer. */
#define CLIENT_MAX_REPLY (64u << 20)

/* Descriptors passed in one message at most (the kernel's SCM_MAX_FD), and
 * held unclaimed at most. */
#define CLIENT_FDS_PER_MSG 253
#define CLIENT_MAX_FDS 65536

/* Reads per netd_client_process(), so that a peer that never stops
 * sending cannot keep the caller's loop in here. */
#define CLIENT_READS_PER_PROCESS 16

/* A call sent and not fully answered. cb NULL: abandoned (timed out, or
 * nobody wants the replies), its replies are read and dropped. */
struct client_call {
	TAILQ_ENTRY(client_call) link;
	netd_reply_cb cb;
	void *userdata;
	uint64_t deadline; /* 0: none (or a first reply came) */
};

/* A reply to a netd_client_send() call, waiting for netd_client_recv(). */
struct client_ready {
	TAILQ_ENTRY(client_ready) link;
	struct netd_reply reply;
};

struct netd_client {
	int fd;
	int broken; /* 0, or the error every call gets now */
	struct frame in, out;
	TAILQ_HEAD(, client_call) calls;
	size_t n_calls;
	TAILQ_HEAD(, client_ready) ready;
	int *fds; /* received, not yet claimed by a reply (in order) */
	size_t n_fds;
};

unsigned netd_client_version(void)
{
	return NETD_CLIENT_VERSION;
}

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
	frame_init(&c->out);
	TAILQ_INIT(&c->calls);
	TAILQ_INIT(&c->ready);
	/* Connect blocking (an AF_UNIX connect does not wait for the peer to
	 * accept, only for room in its backlog), then non-blocking for good. */
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		free(c);
		return r;
	}
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) {
		r = -errno;
		netd_client_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* Every call in flight gets r (once; abandoned ones nothing) and leaves. */
static void client_fail_calls(struct netd_client *c, int r)
{
	struct client_call *call;

	while ((call = TAILQ_FIRST(&c->calls))) {
		TAILQ_REMOVE(&c->calls, call, link);
		c->n_calls--;
		if (call->cb)
			call->cb(c, r, NULL, call->userdata);
		free(call);
	}
}

/* The connection is unusable from now on: every call gets r. */
static int client_break(struct netd_client *c, int r)
{
	if (!c->broken)
		c->broken = r;
	client_fail_calls(c, c->broken);
	return c->broken;
}

struct netd_client *netd_client_free(struct netd_client *c)
{
	struct client_ready *rd;

	if (!c)
		return NULL;
	client_fail_calls(c, -ECANCELED);
	while ((rd = TAILQ_FIRST(&c->ready))) {
		TAILQ_REMOVE(&c->ready, rd, link);
		netd_reply_done(&rd->reply);
		free(rd);
	}
	if (c->fd >= 0)
		close(c->fd);
	for (size_t i = 0; i < c->n_fds; i++)
		close(c->fds[i]);
	free(c->fds);
	frame_done(&c->in);
	frame_done(&c->out);
	free(c);
	return NULL;
}

int netd_client_fd(const struct netd_client *c)
{
	assert(c);
	return c->fd;
}

bool netd_client_want_write(const struct netd_client *c)
{
	assert(c);
	return !c->broken && frame_len(&c->out) > 0;
}

short netd_client_events(const struct netd_client *c)
{
	assert(c);
	if (c->broken)
		return 0;
	return POLLIN | (netd_client_want_write(c) ? POLLOUT : 0);
}

size_t netd_client_pending(const struct netd_client *c)
{
	assert(c);
	return c->n_calls;
}

/* The earliest deadline of a call still waiting for its first reply; 0
 * when none. */
static uint64_t client_next_deadline(const struct netd_client *c)
{
	const struct client_call *call;
	uint64_t d = 0;

	TAILQ_FOREACH(call, &c->calls, link)
		if (call->cb && call->deadline && (!d || call->deadline < d))
			d = call->deadline;
	return d;
}

/* Milliseconds from now until usec (rounded up), 0 if past. */
static int client_ms_until(uint64_t usec)
{
	uint64_t now = now_usec();

	if (usec <= now)
		return 0;
	return (usec - now + 999) / 1000 > 86400000u ? 86400000 : (int)((usec - now + 999) / 1000);
}

int netd_client_timeout(const struct netd_client *c)
{
	uint64_t d;

	assert(c);
	d = client_next_deadline(c);
	return d ? client_ms_until(d) : -1;
}

/* Write what the socket takes now. 0 (also when some is left), or a
 * negative errno when the connection failed. */
static int client_write(struct netd_client *c)
{
	while (frame_len(&c->out) > 0) {
		ssize_t w = send(c->fd, c->out.data + c->out.start, frame_len(&c->out),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return errno == EPIPE ? -ECONNRESET : -errno;
		}
		frame_consume(&c->out, (size_t)w);
	}
	return 0;
}

/* Keep the descriptors of a control message, in order. */
static int client_keep_fds(struct netd_client *c, struct msghdr *mh)
{
	int r = mh->msg_flags & MSG_CTRUNC ? -EPROTO : 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *v, fds[CLIENT_FDS_PER_MSG];

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = n > CLIENT_FDS_PER_MSG ? CLIENT_FDS_PER_MSG : n;
		memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
		v = r < 0 || c->n_fds + n > CLIENT_MAX_FDS ? NULL :
		    realloc(c->fds, (c->n_fds + n) * sizeof(int));
		if (!v) {
			for (size_t i = 0; i < n; i++)
				close(fds[i]);
			r = r < 0 ? r : -EPROTO;
			continue;
		}
		memcpy(v + c->n_fds, fds, n * sizeof(int));
		c->fds = v;
		c->n_fds += n;
	}
	return r;
}

/* Read what is there now. 0, 1 at end of stream, or a negative errno. */
static int client_read(struct netd_client *c)
{
	for (int i = 0; i < CLIENT_READS_PER_PROCESS; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * CLIENT_FDS_PER_MSG)];
			struct cmsghdr align;
		} control;
		struct iovec iov = { .iov_len = 65536 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				     .msg_controllen = sizeof(control.buf) };
		ssize_t n;
		int r = frame_reserve(&c->in, 65536, (char **)&iov.iov_base);

		if (r < 0)
			return r;
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		r = client_keep_fds(c, &mh);
		if (r < 0)
			return r;
		if (n == 0)
			return 1;
		frame_commit(&c->in, (size_t)n);
	}
	return 0;
}

/* A reply that says it comes with descriptors ("fds": N) takes the first
 * N received; they were sent with its bytes or before them. */
static int client_claim_fds(struct netd_client *c, struct netd_reply *reply)
{
	json_t *v = json_object_get(reply->parameters, "fds");
	json_int_t n;

	if (reply->error || !json_is_integer(v))
		return 0;
	n = json_integer_value(v);
	if (n < 0 || (size_t)n > c->n_fds)
		return -EPROTO;
	if (n == 0)
		return 0;
	reply->fds = malloc((size_t)n * sizeof(int));
	if (!reply->fds)
		return -ENOMEM;
	reply->n_fds = (size_t)n;
	memcpy(reply->fds, c->fds, (size_t)n * sizeof(int));
	c->n_fds -= (size_t)n;
	memmove(c->fds, c->fds + n, c->n_fds * sizeof(int));
	return 0;
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

/* Hand one complete reply to the call at the head of the queue. The call
 * leaves the queue before its callback runs, so the callback may queue
 * (and even wait for) other calls. */
static int client_dispatch(struct netd_client *c, const char *msg, size_t len)
{
	struct client_call *call = TAILQ_FIRST(&c->calls);
	struct netd_reply reply;
	netd_reply_cb cb;
	void *userdata;
	int r;

	if (!call)
		return -EPROTO; /* a reply nobody asked for */
	r = parse_reply(msg, len, &reply);
	if (r < 0)
		return r;
	r = client_claim_fds(c, &reply);
	if (r < 0) {
		netd_reply_done(&reply);
		return r;
	}
	cb = call->cb;
	userdata = call->userdata;
	call->deadline = 0;
	if (!reply.continues || reply.error) {
		TAILQ_REMOVE(&c->calls, call, link);
		c->n_calls--;
		free(call);
		reply.continues = false;
	}
	if (cb)
		cb(c, 0, &reply, userdata);
	netd_reply_done(&reply);
	return 0;
}

/* Run the callbacks of calls whose timeout passed, once each; the calls
 * stay queued (abandoned) until their replies come and are dropped. */
static void client_expire(struct netd_client *c)
{
	uint64_t now = now_usec();

	for (;;) {
		struct client_call *call;
		netd_reply_cb cb = NULL;
		void *userdata = NULL;

		TAILQ_FOREACH(call, &c->calls, link)
			if (call->cb && call->deadline && call->deadline <= now) {
				cb = call->cb;
				userdata = call->userdata;
				call->cb = NULL;
				break;
			}
		if (!cb)
			return;
		cb(c, -ETIMEDOUT, NULL, userdata);
	}
}

int netd_client_process(struct netd_client *c)
{
	char *msg;
	size_t len;
	int r, wr, eof;

	assert(c);
	if (c->broken)
		return client_break(c, c->broken);
	/* A failed write is reported after what netd sent before it closed
	 * was handed out. */
	wr = client_write(c);
	eof = client_read(c);
	while ((r = frame_next(&c->in, CLIENT_MAX_REPLY, &msg, &len)) > 0) {
		r = client_dispatch(c, msg, len);
		if (r < 0)
			return client_break(c, r);
		if (c->broken)
			return c->broken;
	}
	if (r < 0)
		return client_break(c, -EPROTO);
	if (eof != 0)
		return client_break(c, eof > 0 ? -ECONNRESET : eof);
	if (wr < 0)
		return client_break(c, wr);
	client_expire(c);
	return c->broken;
}

/* Queue one call; *ret_call (may be NULL) is its entry (NULL for a
 * oneway call). Takes params. */
static int client_queue(struct netd_client *c, const char *method, json_t *params,
			unsigned flags, int timeout_ms, netd_reply_cb cb, void *userdata,
			struct client_call **ret_call)
{
	_cleanup_free_ struct client_call *call = NULL;
	_cleanup_free_ char *text = NULL;
	json_t *msg;
	int r;

	if (c->broken) {
		json_decref(params);
		return c->broken;
	}
	if ((params && !json_is_object(params)) || ((flags & NETD_CALL_ONEWAY) && cb) ||
	    (flags & ~(NETD_CALL_MORE | NETD_CALL_ONEWAY))) {
		json_decref(params);
		return -EINVAL;
	}
	msg = json_pack("{s:s}", "method", method);
	if (msg && params)
		json_object_set(msg, "parameters", params);
	json_decref(params);
	if (msg && (flags & NETD_CALL_MORE))
		json_object_set_new(msg, "more", json_true());
	if (msg && (flags & NETD_CALL_ONEWAY))
		json_object_set_new(msg, "oneway", json_true());
	text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!text)
		return -ENOMEM;
	if (!(flags & NETD_CALL_ONEWAY)) {
		call = calloc(1, sizeof(*call));
		if (!call)
			return -ENOMEM;
		*call = (struct client_call){
			.cb = cb,
			.userdata = userdata,
			.deadline = timeout_ms > 0 ? now_usec() + (uint64_t)timeout_ms * 1000u : 0,
		};
	}
	/* The whole message or nothing: never half of one on the wire. */
	r = frame_append_msg(&c->out, text, strlen(text));
	if (r < 0)
		return r;
	if (call) {
		TAILQ_INSERT_TAIL(&c->calls, call, link);
		c->n_calls++;
	}
	if (ret_call)
		*ret_call = call;
	TAKE_PTR(call);
	/* Start writing now; a failure shows at the next process (the
	 * output is still queued). */
	(void)client_write(c);
	return 0;
}

int netd_client_call_async(struct netd_client *c, const char *method, json_t *params,
			   unsigned flags, int timeout_ms, netd_reply_cb cb, void *userdata)
{
	assert(c);
	assert(method);
	return client_queue(c, method, params, flags, timeout_ms, cb, userdata, NULL);
}

/* See client-internal.h. */
int client_wait(struct netd_client *c, bool (*done)(struct netd_client *c, void *arg),
		void *arg, uint64_t until_usec)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->fd };
		uint64_t d;
		int r = netd_client_process(c);

		if (done(c, arg))
			return 0;
		if (r < 0)
			return r;
		if (until_usec && now_usec() >= until_usec)
			return -ETIMEDOUT;
		d = client_next_deadline(c);
		if (until_usec && (!d || until_usec < d))
			d = until_usec;
		pfd.events = netd_client_events(c);
		r = poll(&pfd, 1, d ? client_ms_until(d) : -1);
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* What a blocking call waits for; filled by its callback. */
struct client_slot {
	bool done;
	int r;
	struct netd_reply reply;
};

static bool client_slot_done(struct netd_client *c _unused_, void *arg)
{
	return ((struct client_slot *)arg)->done;
}

static void client_slot_cb(struct netd_client *c _unused_, int r, struct netd_reply *reply,
			   void *userdata)
{
	struct client_slot *s = userdata;

	if (s->done) /* a stream's later replies: not this call's business */
		return;
	s->done = true;
	s->r = r;
	if (reply) {
		s->reply = *reply;
		*reply = (struct netd_reply){ 0 };
	}
}

int netd_client_call(struct netd_client *c, const char *method, json_t *params,
		     int timeout_ms, struct netd_reply *ret)
{
	struct client_slot slot = { 0 };
	struct client_call *call = NULL;
	int r;

	assert(c);
	assert(method);
	assert(ret);
	r = client_queue(c, method, params, 0, timeout_ms, client_slot_cb, &slot, &call);
	if (r < 0)
		return r;
	r = client_wait(c, client_slot_done, &slot, 0);
	if (!slot.done) {
		/* The loop failed (poll): the call is abandoned, not left
		 * pointing at this stack frame. */
		call->cb = NULL;
		return r;
	}
	if (slot.r < 0)
		return slot.r;
	*ret = slot.reply;
	return 0;
}

/* The replies of netd_client_send() calls: queued for netd_client_recv(). */
static void client_ready_cb(struct netd_client *c, int r, struct netd_reply *reply,
			    void *userdata _unused_)
{
	struct client_ready *rd;

	if (r < 0)
		return; /* recv() reports the connection's error */
	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		client_break(c, -ENOMEM);
		return;
	}
	rd->reply = *reply;
	*reply = (struct netd_reply){ 0 };
	TAILQ_INSERT_TAIL(&c->ready, rd, link);
}

int netd_client_send(struct netd_client *c, const char *method, json_t *params,
		     unsigned flags)
{
	assert(c);
	assert(method);
	return client_queue(c, method, params, flags, 0,
			    (flags & NETD_CALL_ONEWAY) ? NULL : client_ready_cb, NULL, NULL);
}

static bool client_have_ready(struct netd_client *c, void *arg _unused_)
{
	return !TAILQ_EMPTY(&c->ready);
}

int netd_client_recv(struct netd_client *c, int timeout_ms, struct netd_reply *ret)
{
	uint64_t until = timeout_ms > 0 ? now_usec() + (uint64_t)timeout_ms * 1000u : 0;
	struct client_ready *rd;
	int r;

	assert(c);
	assert(ret);
	if (TAILQ_EMPTY(&c->ready)) {
		r = timeout_ms == 0 ? netd_client_process(c) : client_wait(c, client_have_ready, NULL, until);
		if (TAILQ_EMPTY(&c->ready))
			return r < 0 ? r : -ETIMEDOUT;
	}
	rd = TAILQ_FIRST(&c->ready);
	TAILQ_REMOVE(&c->ready, rd, link);
	*ret = rd->reply;
	free(rd);
	return 0;
}

void netd_reply_done(struct netd_reply *r)
{
	if (!r)
		return;
	json_decref(r->parameters);
	free(r->error);
	for (size_t i = 0; i < r->n_fds; i++)
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	free(r->fds);
	*r = (struct netd_reply){ 0 };
}
