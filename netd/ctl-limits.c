/*
 * ctl-limits.c: the limits that keep one local user from locking root out
 * of netd or bloating it (see ctl.h's struct ctl_limits): who may take a
 * connection slot at the accept, the idle timeout, the per-connection cap
 * on what a connection holds, and the input budget across connections.
 *
 * Root and admin_group members are told apart once, at the accept, from
 * SO_PEERCRED/SO_PEERGROUPS: the reserve and the per-uid cap do not apply
 * to them, and when the input budget runs out an unprivileged connection
 * is dropped first, so root's calls are still read.
 */
#include "config.h"

#include <assert.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl-internal.h"
#include "log.h"
#include "stats.h"
#include "util.h"

bool ctl_conn_privileged(const struct ctl_server *srv, const struct ucred *cred,
			 const gid_t *groups, int ngroups)
{
	assert(srv);
	assert(cred);
	if (cred->uid == 0)
		return true;
	if (!srv->has_admin_group)
		return false;
	if (cred->gid == srv->admin_gid)
		return true;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == srv->admin_gid)
			return true;
	return false;
}

size_t ctl_conn_bytes(const struct ctl_conn *c)
{
	assert(c);
	return frame_len(&c->in) + frame_len(&c->out) + c->held_bytes;
}

bool ctl_conn_check_buffer(struct ctl_conn *c)
{
	size_t cap = c->srv->limits.max_connection_buffer;

	assert(c);
	if (c->drop || cap == 0 || ctl_conn_bytes(c) <= cap)
		return c->drop;
	ctl_conn_drop(c, "connection buffer limit exceeded (max_connection_buffer)");
	return true;
}

/* Send a refusal on a fresh socket and close it. Best effort: a fresh
 * socket buffer takes this without blocking. */
static void refuse(struct ctl_server *srv, int fd, const struct ucred *cred, const char *error,
		   const char *key, unsigned value)
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg), "{\"error\":\"%s\",\"parameters\":{\"%s\":%u}}",
			 error, key, value);

	(void)!send(fd, msg, (size_t)n + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	stats.clients_refused++;
	ctl_refused(srv, cred, "", error);
}

bool ctl_limits_admit(struct ctl_server *srv, int fd, const struct ucred *cred, bool privileged)
{
	const struct ctl_limits *l = &srv->limits;
	const struct ctl_conn *c;
	unsigned same = 0, reserve;

	assert(srv);
	assert(cred);
	if (srv->nconns >= l->max_clients) {
		refuse(srv, fd, cred, "io.netd.TooManyClients", "max_clients", l->max_clients);
		log_warn("too many clients (%u), refusing a connection", l->max_clients);
		return false;
	}
	if (privileged)
		return true;
	/* At least one slot stays open to everyone. */
	reserve = l->reserved_clients < l->max_clients ? l->reserved_clients : l->max_clients - 1;
	if (reserve > 0 && srv->nconns + reserve >= l->max_clients) {
		refuse(srv, fd, cred, "io.netd.TooManyClients", "max_clients", l->max_clients);
		stats.clients_refused_reserved++;
		log_warn("uid %d: only the %u reserved slots are left, refusing a connection",
			 (int)cred->uid, reserve);
		return false;
	}
	if (l->max_clients_per_uid == 0)
		return true;
	TAILQ_FOREACH(c, &srv->conns, link)
		if (c->cred.uid == cred->uid && !c->drop)
			same++;
	if (same >= l->max_clients_per_uid) {
		refuse(srv, fd, cred, "io.netd.TooManyClientsForUser", "max_clients_per_uid",
		       l->max_clients_per_uid);
		stats.clients_refused_uid++;
		log_warn("uid %d: %u connections open (max_clients_per_uid), refusing another",
			 (int)cred->uid, same);
		return false;
	}
	return true;
}

/* The biggest holder of input among unprivileged connections, else among
 * all; NULL if nobody holds any. */
static struct ctl_conn *biggest_input_holder(struct ctl_server *srv)
{
	struct ctl_conn *c, *best = NULL;

	TAILQ_FOREACH(c, &srv->conns, link) {
		if (c->drop || c->input_counted == 0)
			continue;
		if (!best || (best->privileged && !c->privileged) ||
		    (best->privileged == c->privileged && c->input_counted > best->input_counted))
			best = c;
	}
	return best;
}

void ctl_conn_account_input(struct ctl_conn *c)
{
	struct ctl_server *srv = c->srv;
	size_t now = c->drop ? 0 : frame_len(&c->in);
	struct ctl_conn *victim;

	srv->input_total = srv->input_total - c->input_counted + now;
	c->input_counted = now;
	if (c->drop) {
		/* Its memory goes now, not at the flush: the budget counts
		 * what is really held. */
		frame_done(&c->in);
		frame_init(&c->in);
		return;
	}
	if (ctl_conn_check_buffer(c)) {
		ctl_conn_account_input(c);
		return;
	}
	while (srv->limits.max_input_total > 0 && srv->input_total > srv->limits.max_input_total &&
	       (victim = biggest_input_holder(srv))) {
		ctl_conn_drop(victim, "input budget across connections exhausted (max_input_total),"
			      " it holds the most");
		stats.clients_dropped_input++;
		ctl_conn_account_input(victim);
	}
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	STATS_CALLBACK("client idle");
	struct ctl_conn *c = w->data;

	/* A call in progress (a Monitor included) or replies to deliver: not
	 * idle. */
	if (c->drop || !TAILQ_EMPTY(&c->calls) || frame_len(&c->out) > 0) {
		ev_timer_again(loop, w);
		return;
	}
	log_info("client %u (pid %d uid %d): idle for %u ms, closing", c->id, (int)c->cred.pid,
		 (int)c->cred.uid, c->srv->limits.client_idle_timeout_ms);
	stats.clients_idle_closed++;
	c->drop = true;
	ev_io_stop(loop, &c->rio);
	ctl_conn_mark_dirty(c);
}

void ctl_conn_idle_init(struct ctl_conn *c)
{
	ev_init(&c->idle, idle_cb);
	c->idle.data = c;
	ctl_conn_touch(c);
}

void ctl_conn_touch(struct ctl_conn *c)
{
	unsigned ms = c->srv->limits.client_idle_timeout_ms;

	if (ms == 0) {
		ev_timer_stop(c->srv->loop, &c->idle);
		return;
	}
	c->idle.repeat = ms / 1000.0;
	ev_timer_again(c->srv->loop, &c->idle);
}
