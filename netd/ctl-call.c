/*
 * ctl-call.c: the calls of ctl.h (see ctl-internal.h for the split).
 *
 * Each message a connection reads is decoded into a call and queued on
 * its connection in arrival order, then dispatched (or deferred, when the
 * iteration's budget is spent and the method may wait). A reply is written
 * to the connection's output buffer only when every earlier call has had
 * its final reply; until then it waits in its own call. A call whose
 * client has gone stays valid until its final reply, which then only
 * frees it.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "ctl-internal.h"
#include "decode.h"
#include "log.h"
#include "stats.h"
#include "util.h"

/* Close and forget a call's file descriptors. */
static void call_drop_fds(struct ctl_call *call)
{
	for (size_t i = 0; i < call->nfds; i++)
		close(call->fds[i]);
	free(call->fds);
	call->fds = NULL;
	call->nfds = 0;
}

int ctl_call_attach_fds(struct ctl_call *call, int *fds, size_t n)
{
	assert(call);
	call_drop_fds(call);
	call->fds = fds;
	call->nfds = n;
	return 0;
}

/* The final reply of call is in c->out now: its descriptors go with the
 * next bytes written. */
static void call_fds_to_conn(struct ctl_call *call, struct ctl_conn *c)
{
	int *v;

	if (!call->nfds)
		return;
	v = realloc(c->out_fds, (c->n_out_fds + call->nfds) * sizeof(*v));
	if (!v) {
		call_drop_fds(call);
		ctl_conn_drop(c, "out of memory queueing file descriptors");
		return;
	}
	memcpy(v + c->n_out_fds, call->fds, call->nfds * sizeof(*v));
	c->out_fds = v;
	c->n_out_fds += call->nfds;
	free(call->fds);
	call->fds = NULL;
	call->nfds = 0;
}

struct ctl_call *ctl_call_free(struct ctl_call *call)
{
	if (!call)
		return NULL;
	call_drop_fds(call);
	free(call->method);
	json_decref(call->parameters);
	free(call->settle_error);
	json_decref(call->settle_params);
	free(call->settle_text);
	json_decref(call->outcome);
	frame_done(&call->held);
	free(call);
	return NULL;
}

/* Queue the serialized reply text of call (steals it): straight to the
 * output if call is at the head of its connection's queue, else held in
 * the call. */
static void call_emit_text(struct ctl_call *call, char *text, size_t len)
{
	struct ctl_conn *c = call->conn;
	bool write_now = false;
	int r;

	if (!c || call->oneway || c->drop) {
		free(text);
		return;
	}
	if (!text) {
		ctl_conn_drop(c, "out of memory encoding a reply");
		return;
	}
	if (TAILQ_FIRST(&c->calls) == call) {
		write_now = call->immediate && call->done && frame_len(&c->out) == 0;
		r = frame_append_msg_owned(&c->out, text, len);
		if (r >= 0 && call->done)
			call_fds_to_conn(call, c);
	} else {
		size_t before = frame_len(&call->held);

		r = frame_append_msg_owned(&call->held, text, len);
		c->held_bytes += frame_len(&call->held) - before;
	}
	if (r < 0) {
		ctl_conn_drop(c, "out of memory queueing a reply");
		return;
	}
	if (frame_len(&c->out) + frame_len(&call->held) > c->srv->limits.max_output_buffer) {
		ctl_conn_drop(c, "output buffer limit exceeded (client not reading)");
		return;
	}
	/* Replies held behind a call that never ends (a Monitor) add up
	 * over many calls: the cap is per connection. */
	if (ctl_conn_check_buffer(c))
		return;
	/* Alone in the output: it reports nothing a commit makes true, so
	 * it need not wait for the iteration's end (ctl_immediate_fn). */
	if (write_now)
		ctl_conn_write(c);
	ctl_conn_mark_dirty(c);
}

/* Queue the reply msg of call (steals it). */
static void call_emit(struct ctl_call *call, json_t *msg)
{
	char *text = NULL;

	/* 10 significant digits: enough for microseconds of a month's uptime,
	 * without binary-fraction noise like 0.53789900000000002. */
	if (call->conn && !call->oneway && !call->conn->drop)
		text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(msg);
	call_emit_text(call, text, text ? strlen(text) : 0);
}

/* The final reply message around parameters already encoded (steals
 * params_text), or NULL without memory; its length in *ret_len. The
 * text grows in place (a large one is its own mapping, which realloc
 * extends without a copy) and moves along: a new buffer for a reply of
 * megabytes was a page fault per 4 KiB, most of a 40 ms callback. */
static char *reply_wrap(char *params_text, size_t *ret_len)
{
	static const char head[] = "{\"parameters\":";
	const size_t h = sizeof(head) - 1, n = strlen(params_text);
	char *text = realloc(params_text, h + n + 2);

	if (!text) {
		free(params_text);
		return NULL;
	}
	memmove(text + h, text, n);
	memcpy(text, head, h);
	memcpy(text + h + n, "}", 2);
	*ret_len = h + n + 1;
	return text;
}

/* Pop finished calls from the head, moving the next call's held replies to
 * the output in order. */
static void conn_advance(struct ctl_conn *c)
{
	struct ctl_call *call;

	while ((call = TAILQ_FIRST(&c->calls)) && call->done) {
		TAILQ_REMOVE(&c->calls, call, link);
		c->ncalls--;
		ctl_call_free(call);
		if (c->paused && c->ncalls < CTL_MAX_PENDING_CALLS / 2) {
			/* Enough answered: handle the input that waited. */
			c->paused = false;
			ctl_conn_set_backlog(c, true);
		}
		call = TAILQ_FIRST(&c->calls);
		if (call && frame_len(&call->held) > 0) {
			c->held_bytes -= frame_len(&call->held);
			if (frame_append(&c->out, call->held.data + call->held.start,
					 frame_len(&call->held)) < 0) {
				ctl_conn_drop(c, "out of memory queueing a reply");
				return;
			}
			frame_done(&call->held);
			if (call->done)
				call_fds_to_conn(call, c);
		}
	}
	ctl_conn_mark_dirty(c);
}

/* Queue the final reply of call (or free it if its client has gone):
 * error and params, or (error NULL) params_text, parameters already
 * encoded. Steals params and params_text. */
static void call_deliver(struct ctl_call *call, const char *error, json_t *params,
			 char *params_text)
{
	struct ctl_conn *c = call->conn;
	json_t *msg;

	if (!params && !params_text)
		params = json_object();
	stats_latency_add(now_usec() - call->start_us);
	if (error)
		stats.errors++;

	if (!c) {
		/* The client went away; nobody to answer. */
		json_decref(params);
		free(params_text);
		ctl_call_free(call);
		return;
	}
	if (error) /* descriptors go with success replies only */
		call_drop_fds(call);
	if (params_text) {
		size_t len = 0;
		char *text = reply_wrap(params_text, &len);

		call->done = true;
		call_emit_text(call, text, len);
		conn_advance(c);
		return;
	}
	if (error)
		msg = json_pack("{s:s, s:o}", "error", error, "parameters", params);
	else
		msg = json_pack("{s:o}", "parameters", params);
	call->done = true;
	if (msg)
		call_emit(call, msg);
	else
		ctl_conn_drop(c, "out of memory encoding a reply");
	conn_advance(c);
}

/* The final reply: error and params, or (error NULL) params_text, the
 * parameters already encoded. Steals params and params_text. */
static void call_finish(struct ctl_call *call, const char *error, json_t *params,
			char *params_text)
{
	assert(!call->done);
	assert(!call->settling);
	assert(!(error && params_text));
	if (!params && !params_text)
		params = json_object();
	if (!call->finish) {
		call_deliver(call, error, params, params_text);
		return;
	}
	call->finish(call, error, params, call->finish_data);
	if (!call->srv->hold_finished) {
		call_deliver(call, error, params, params_text);
		return;
	}
	/* Its writes are not committed yet: the reply waits for the settle. */
	call->settle_error = error ? strdup(error) : NULL;
	if (error && !call->settle_error) {
		json_decref(params);
		call_deliver(call, "io.netd.InternalError", NULL, NULL);
		return;
	}
	call->settle_params = params;
	call->settle_text = params_text;
	call->settling = true;
	TAILQ_INSERT_TAIL(&call->srv->settling, call, settle_link);
}

void ctl_server_hold_finished(struct ctl_server *srv, bool on)
{
	assert(srv);
	srv->hold_finished = on;
}

bool ctl_server_holding(const struct ctl_server *srv)
{
	assert(srv);
	return !TAILQ_EMPTY(&srv->settling);
}

void ctl_server_settle(struct ctl_server *srv, const char *storage_error)
{
	struct ctl_call *call;

	assert(srv);
	while ((call = TAILQ_FIRST(&srv->settling))) {
		_cleanup_free_ char *error = call->settle_error;
		json_t *params = call->settle_params;
		char *text = call->settle_text;

		TAILQ_REMOVE(&srv->settling, call, settle_link);
		call->settling = false;
		call->settle_error = NULL;
		call->settle_params = NULL;
		call->settle_text = NULL;
		if (storage_error) {
			json_decref(params);
			free(text);
			call_deliver(call, "io.netd.StorageError",
				     json_pack("{s:s}", "reason", storage_error), NULL);
		} else {
			call_deliver(call, error, params, text);
		}
	}
}

void ctl_call_reply(struct ctl_call *call, json_t *parameters)
{
	assert(call);
	call_finish(call, NULL, parameters, NULL);
}

void ctl_call_reply_encoded(struct ctl_call *call, char *text)
{
	assert(call);
	if (!text)
		return ctl_call_error(call, "io.netd.InternalError", NULL);
	call_finish(call, NULL, NULL, text);
}

void ctl_call_error(struct ctl_call *call, const char *error, json_t *parameters)
{
	assert(call);
	assert(error);
	call_finish(call, error, parameters, NULL);
}

void ctl_call_invalid_parameter(struct ctl_call *call, const char *parameter)
{
	assert(call);
	assert(parameter);
	ctl_call_error(call, "org.varlink.service.InvalidParameter",
		       json_pack("{s:s}", "parameter", parameter));
}

bool ctl_call_decode(struct ctl_call *call, const struct decode_field *fields, size_t n,
		     void *out)
{
	const char *bad = NULL;

	assert(call);
	assert(fields || n == 0);

	if (decode_object(call->parameters, fields, n, out, &bad) < 0) {
		ctl_call_invalid_parameter(call, bad ? bad : "parameters");
		return false;
	}
	return true;
}

void ctl_call_reply_more(struct ctl_call *call, json_t *parameters)
{
	json_t *msg;

	assert(call);
	if (!call->more) {
		ctl_call_reply(call, parameters);
		return;
	}
	if (!parameters)
		parameters = json_object();
	if (!call->conn) {
		json_decref(parameters);
		return;
	}
	msg = json_pack("{s:o, s:b}", "parameters", parameters, "continues", 1);
	if (msg)
		call_emit(call, msg);
	else
		ctl_conn_drop(call->conn, "out of memory encoding a reply");
}

const char *ctl_call_method(const struct ctl_call *call)
{
	assert(call);
	return call->method;
}

json_t *ctl_call_parameters(const struct ctl_call *call)
{
	assert(call);
	return call->parameters;
}

bool ctl_call_more(const struct ctl_call *call)
{
	assert(call);
	return call->more;
}

static const struct ucred orphan_cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };

const struct ucred *ctl_call_peer(const struct ctl_call *call)
{
	assert(call);
	return call->conn ? &call->conn->cred : &orphan_cred;
}

const struct peerinfo *ctl_call_peerinfo(const struct ctl_call *call)
{
	static const struct peerinfo none;

	assert(call);
	return call->conn ? &call->conn->peer : &none;
}

bool ctl_call_privileged(const struct ctl_call *call)
{
	const struct ctl_conn *c;

	assert(call);
	c = call->conn;
	if (!c)
		return false;
	return ctl_conn_privileged(c->srv, &c->cred, c->groups, c->ngroups);
}

void ctl_call_set_cancel(struct ctl_call *call, ctl_cancel_fn fn, void *userdata)
{
	assert(call);
	call->cancel = fn;
	call->cancel_data = userdata;
}

void ctl_call_set_outcome(struct ctl_call *call, json_t *outcome)
{
	assert(call);
	json_decref(call->outcome);
	call->outcome = outcome;
}

json_t *ctl_call_outcome(const struct ctl_call *call)
{
	assert(call);
	return call->outcome;
}

void ctl_call_set_finish(struct ctl_call *call, ctl_finish_fn fn, void *userdata)
{
	assert(call);
	call->finish = fn;
	call->finish_data = userdata;
}

void ctl_server_set_refusal_hook(struct ctl_server *srv, ctl_refusal_fn fn, void *userdata)
{
	assert(srv);
	srv->refusal = fn;
	srv->refusal_data = userdata;
}

void ctl_refused(const struct ctl_server *srv, const struct ucred *cred, const char *method,
		 const char *error)
{
	assert(srv && cred && method && error);
	if (srv->refusal)
		srv->refusal(cred, method, error, srv->refusal_data);
}

/* Answer call, refused before dispatch, InvalidParameter naming
 * parameter, and tell the refusal hook. */
static void call_refuse_invalid(struct ctl_call *call, const char *parameter)
{
	ctl_refused(call->srv, &call->conn->cred, call->method,
		    "org.varlink.service.InvalidParameter");
	ctl_call_invalid_parameter(call, parameter);
}

static struct ctl_call *call_new(struct ctl_conn *c, const char *method)
{
	struct ctl_call *call = calloc(1, sizeof(*call));

	if (!call)
		return NULL;
	call->method = strdup(method);
	if (!call->method)
		return ctl_call_free(call);
	call->conn = c;
	call->srv = c->srv;
	call->start_us = now_usec();
	frame_init(&call->held);
	TAILQ_INSERT_TAIL(&c->calls, call, link);
	c->ncalls++;
	return call;
}

/* Answer a message that is not a call and stop reading from this client:
 * after a framing or syntax error we cannot trust where the next message
 * starts. */
static void conn_protocol_error(struct ctl_conn *c, const char *reason)
{
	struct ctl_call *call;

	stats.protocol_errors++;
	log_debug("client %u: protocol error: %s", c->id, reason);
	ctl_refused(c->srv, &c->cred, "", "io.netd.ProtocolError");
	c->broken = true;
	ctl_conn_set_eof(c);
	call = call_new(c, "");
	if (!call) {
		ctl_conn_drop(c, "out of memory");
		return;
	}
	ctl_call_error(call, "io.netd.ProtocolError", json_pack("{s:s}", "reason", reason));
}

/* Hand call to the server's dispatcher. A stream (more) that would begin
 * after the stop began is refused: the streams were ended then, and this
 * one would hold the stop until its timeout. */
static void call_dispatch(struct ctl_server *srv, struct ctl_call *call)
{
	if (srv->shutting_down && call->more) {
		ctl_call_error(call, "io.netd.ShuttingDown", NULL);
		return;
	}
	srv->dispatch(call, srv->userdata);
}

void ctl_conn_handle_message(struct ctl_conn *c, const char *msg, size_t len)
{
	json_error_t jerr;
	json_t *root;
	struct decode_call dc;
	struct ctl_call *call;
	const char *bad = NULL;

	if (len == 0) {
		conn_protocol_error(c, "empty message");
		return;
	}
	/* Without JSON_ALLOW_NUL jansson refuses "\u0000" inside strings, so
	 * every string we hand on is a proper C string. */
	root = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		char reason[256];

		snprintf(reason, sizeof(reason), "invalid JSON at byte %d: %s",
			 jerr.position, jerr.text);
		conn_protocol_error(c, reason);
		return;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		conn_protocol_error(c, "message is not a JSON object");
		return;
	}

	stats.requests++;
	if (decode_call(root, &dc, &bad) < 0) {
		/* A call we cannot route; answer it, keep the connection. */
		call = call_new(c, "");
		if (!call) {
			json_decref(root);
			ctl_conn_drop(c, "out of memory");
			return;
		}
		call_refuse_invalid(call, bad);
		json_decref(root);
		return;
	}

	call = call_new(c, dc.method);
	if (!call) {
		json_decref(root);
		ctl_conn_drop(c, "out of memory");
		return;
	}
	call->more = dc.more;
	call->oneway = dc.oneway;
	call->immediate = c->srv->immediate && c->srv->immediate(call->method);
	call->parameters = json_incref(dc.parameters);
	json_decref(root);

	if (dc.upgrade) {
		call_refuse_invalid(call, "upgrade");
		return;
	}
	if (dc.more && dc.oneway) {
		call_refuse_invalid(call, "oneway");
		return;
	}
	/* Once the iteration's budget is spent, a call that may take long
	 * (changes, long lists) waits for a later iteration, in arrival
	 * order, so that quick ones (GetStatus, lookups) from other clients
	 * are answered without waiting behind a crowd of them. After one
	 * deferred call, a connection's later calls wait too: each must see
	 * the effects of the calls sent before it. */
	if (c->srv->deferrable &&
	    (c->ndeferred > 0 || (budget_spent() && c->srv->deferrable(call->method)))) {
		call->deferred = true;
		TAILQ_INSERT_TAIL(&c->srv->deferred, call, defer_link);
		c->srv->ndeferred++;
		c->ndeferred++;
		ctl_backlog_update(c->srv);
		return;
	}
	call_dispatch(c->srv, call);
}

/* Dispatch deferred calls, oldest first: at least one, then while the
 * iteration's budget lasts. A call whose client has gone is
 * never here: conn_free() drops its deferred calls. */
unsigned ctl_deferred_dispatch(struct ctl_server *srv)
{
	struct ctl_call *call;
	unsigned n = 0;

	while ((call = TAILQ_FIRST(&srv->deferred)) && (n == 0 || !budget_spent())) {
		TAILQ_REMOVE(&srv->deferred, call, defer_link);
		srv->ndeferred--;
		call->deferred = false;
		call->conn->ndeferred--; /* a gone client's deferred calls are freed */
		call_dispatch(srv, call);
		n++;
	}
	ctl_backlog_update(srv);
	return n;
}
