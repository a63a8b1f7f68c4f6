/*
 * test_ctl_order.c: the order of work in one loop iteration, through the
 * control server on a real socket and a real libev loop. A client's call
 * is read before the iteration's work done in slices (a step), and the
 * reply of a call answered at once (ctl_server_set_immediate(), as
 * GetStatus is) is in the client's socket before that step runs, while
 * the replies of other calls still wait for the iteration's end
 * (ctl_server_flush(), after the commit) and replies keep their
 * connection's call order. A long reply goes out 256 KiB a callback.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "budget.h"
#include "ctl.h"
#include "step.h"
#include "util.h"

struct fixture {
	struct ev_loop *loop;
	struct ctl_server *srv;
	char dir[64], path[128];
	int client;
	ev_check begin;
	ev_prepare end;
	struct step heavy;
	int heavy_runs;
	unsigned dispatch_us; /* each dispatch takes this long (a slow one) */
	int dispatched, dispatched_before_heavy;
	ssize_t seen_by_heavy; /* reply bytes waiting for the client when it ran */
};

static bool immediate(const char *method)
{
	return streq(method, "io.netd.GetStatus");
}

/* A long reply's text (ListBindings): LONG_REPLY bytes of 'x'. */
#define LONG_REPLY (4u << 20)

static void dispatch(struct ctl_call *call, void *userdata)
{
	struct fixture *fx = userdata;

	fx->dispatched++;
	for (uint64_t t0 = now_usec(); now_usec() - t0 < fx->dispatch_us;)
		;
	if (streq(ctl_call_method(call), "io.netd.ListBindings")) {
		char *text = malloc(LONG_REPLY + 1);

		assert_non_null(text);
		memset(text, 'x', LONG_REPLY);
		text[LONG_REPLY] = '\0';
		ctl_call_reply(call, json_pack("{s:s}", "method", text));
		free(text);
		return;
	}
	ctl_call_reply(call, json_pack("{s:s}", "method", ctl_call_method(call)));
}

/* Bytes waiting in the client's socket, without reading them. */
static ssize_t waiting(int fd)
{
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);

	return n < 0 ? 0 : n;
}

/* The long work of an iteration (a list's encoding, a batch's phase). */
static void heavy_fn(struct step *s)
{
	struct fixture *fx = s->data;

	fx->heavy_runs++;
	fx->dispatched_before_heavy = fx->dispatched;
	fx->seen_by_heavy = waiting(fx->client);
	step_stop(s);
}

/* The iteration's budget as core.c keeps it. */
static void begin_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	budget_iteration_begin();
}

static void end_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	budget_iteration_end();
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct ctl_limits limits = { .max_clients = 8, .max_message_size = 65536,
				     .max_output_buffer = 8 << 20 };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_ctl_order.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/s", fx->dir);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(ctl_server_new(fx->loop, fx->path, 0600, &limits, dispatch, fx, &fx->srv), 0);
	ctl_server_set_immediate(fx->srv, immediate);
	step_init(&fx->heavy, fx->loop, "heavy", heavy_fn, fx);
	ev_check_init(&fx->begin, begin_cb);
	ev_set_priority(&fx->begin, EV_MAXPRI);
	ev_check_start(fx->loop, &fx->begin);
	ev_prepare_init(&fx->end, end_cb);
	ev_prepare_start(fx->loop, &fx->end);

	fx->client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fx->client >= 0);
	strcpy(addr.sun_path, fx->path);
	assert_int_equal(connect(fx->client, (struct sockaddr *)&addr, sizeof(addr)), 0);
	for (int i = 0; i < 100 && ctl_server_clients(fx->srv) == 0; i++)
		ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(ctl_server_clients(fx->srv), 1);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	step_stop(&fx->heavy);
	ev_check_stop(fx->loop, &fx->begin);
	ev_prepare_stop(fx->loop, &fx->end);
	close(fx->client);
	ctl_server_free(fx->srv);
	ev_loop_destroy(fx->loop);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Send the calls (methods, one message each) in one write, then run one
 * iteration with the heavy step pending in it. */
static void send_and_iterate(struct fixture *fx, const char *const *methods, size_t n)
{
	char buf[1024];
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "{\"method\":\"%s\"}%c",
					methods[i], '\0');
	assert_int_equal(write(fx->client, buf, len), (ssize_t)len);
	/* The call is readable before the poll: one iteration sees both. */
	step_start(&fx->heavy);
	ev_run(fx->loop, EVRUN_ONCE);
	assert_int_equal(fx->heavy_runs, 1);
}

/* The replies read: each message's method, in order, space-separated. */
static void read_replies(struct fixture *fx, char *out, size_t size)
{
	char buf[4096];
	ssize_t n = recv(fx->client, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	out[0] = '\0';
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(buf + i) + 1) {
		json_t *m = json_loads(buf + i, 0, NULL);
		const char *method = json_string_value(
			json_object_get(json_object_get(m, "parameters"), "method"));

		assert_non_null(method);
		snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? " " : "", method);
		json_decref(m);
	}
}

static void test_status_before_slices(void **state)
{
	struct fixture *fx = *state;
	const char *const calls[] = { "io.netd.GetStatus" };
	char got[256];

	send_and_iterate(fx, calls, 1);
	/* Read and answered before the step, written at once. */
	assert_true(fx->seen_by_heavy > 0);
	read_replies(fx, got, sizeof(got));
	assert_string_equal(got, "io.netd.GetStatus");
}

static void test_others_wait_for_flush(void **state)
{
	struct fixture *fx = *state;
	const char *const calls[] = { "io.netd.GetLink" };
	char got[256];

	send_and_iterate(fx, calls, 1);
	/* Read and answered before the step, but held for the iteration's
	 * end (the commit). */
	assert_int_equal(fx->dispatched_before_heavy, 1);
	assert_int_equal(fx->seen_by_heavy, 0);
	assert_int_equal(waiting(fx->client), 0);
	ctl_server_flush(fx->srv);
	read_replies(fx, got, sizeof(got));
	assert_string_equal(got, "io.netd.GetLink");
}

static void test_order_kept(void **state)
{
	struct fixture *fx = *state;
	const char *const calls[] = { "io.netd.GetLink", "io.netd.GetStatus" };
	char got[256];

	send_and_iterate(fx, calls, 2);
	/* GetStatus's reply follows GetLink's, which waits for the flush. */
	assert_int_equal(fx->seen_by_heavy, 0);
	assert_int_equal(waiting(fx->client), 0);
	ctl_server_flush(fx->srv);
	read_replies(fx, got, sizeof(got));
	assert_string_equal(got, "io.netd.GetLink io.netd.GetStatus");
}

/* 17 calls and a stream (Monitor) pipelined in one write, then a stop
 * after the first slice of them: every call read before the stop is
 * answered, however many slices the rest takes, and the stream, which
 * the backlog dispatches after the stop began, is refused with
 * ShuttingDown (begun then, it would hold the stop until its timeout).
 * Returns how many calls the first slice dispatched. */
static unsigned stop_after_first_slice(struct fixture *fx)
{
	char buf[2048], in[8192], *last = in;
	size_t len = 0;
	ssize_t n = 0, r;
	unsigned msgs = 0, first;

	for (int i = 0; i < 17; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"{\"method\":\"io.netd.GetLink\"}%c", '\0');
	len += (size_t)snprintf(buf + len, sizeof(buf) - len,
				"{\"method\":\"io.netd.Monitor\",\"more\":true}%c", '\0');
	assert_int_equal(write(fx->client, buf, len), (ssize_t)len);
	for (int i = 0; i < 100 && fx->dispatched == 0; i++)
		ev_run(fx->loop, EVRUN_NOWAIT);
	/* One slice: at most 16 calls, fewer once the iteration's 1 ms is
	 * spent; the rest waits in the backlog. */
	first = (unsigned)fx->dispatched;
	assert_in_range(first, 1, 16);
	ctl_server_shutdown(fx->srv);
	for (int i = 0; i < 1000 && !ctl_server_idle(fx->srv); i++) {
		ev_run(fx->loop, EVRUN_NOWAIT);
		ctl_server_flush(fx->srv);
	}
	assert_true(ctl_server_idle(fx->srv));
	assert_int_equal(fx->dispatched, 17);
	while ((r = recv(fx->client, in + n, sizeof(in) - 1 - (size_t)n, MSG_DONTWAIT)) > 0)
		n += r;
	in[n] = '\0';
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(in + i) + 1) {
		last = in + i;
		msgs++;
	}
	assert_int_equal(msgs, 18);
	assert_non_null(strstr(last, "\"error\":\"io.netd.ShuttingDown\""));
	return first;
}

/* As fast as the machine dispatches (16 in the first slice on a quick
 * one, fewer under the sanitizers). */
static void test_stream_after_stop_refused(void **state)
{
	stop_after_first_slice(*state);
}

/* Dispatches of 300 us: a few a slice, so the calls left in the backlog
 * at the stop take several iterations; the server was idle (and netd
 * exited) once the calls dispatched so far were answered, leaving the
 * rest unanswered. */
static void test_backlog_answered_at_stop(void **state)
{
	struct fixture *fx = *state;

	fx->dispatch_us = 300;
	assert_in_range(stop_after_first_slice(fx), 1, 8);
}

/* The server's end of the client's connection: the socket whose name is
 * the server's path and that does not listen. */
static int server_end(struct fixture *fx)
{
	for (int fd = 3; fd < 256; fd++) {
		struct sockaddr_un a;
		socklen_t len = sizeof(a);
		int listening = 0;
		socklen_t ol = sizeof(listening);

		if (fd == fx->client || getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
		    a.sun_family != AF_UNIX || !streq(a.sun_path, fx->path))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ol) == 0 && !listening)
			return fd;
	}
	return -1;
}

/* A long reply goes out in pieces, one a callback: with room in the
 * socket for all of it (as for a client that reads as fast as netd
 * writes), a flush sends 256 KiB, not 4 MB, and the rest follows over
 * the next iterations, whole. */
static void test_long_reply_in_pieces(void **state)
{
	struct fixture *fx = *state;
	const char *const calls[] = { "io.netd.ListBindings" };
	int big = 16 << 20, fd = server_end(fx), queued = 0;
	size_t got = 0;
	char *in = malloc(LONG_REPLY + 4096);

	assert_non_null(in);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)), 0);
	send_and_iterate(fx, calls, 1);
	assert_int_equal(fx->dispatched, 1);
	ctl_server_flush(fx->srv);
	assert_int_equal(ioctl(fx->client, FIONREAD, &queued), 0);
	assert_true(queued > 0);
	assert_true(queued <= 256 << 10);
	for (int i = 0; i < 10000 && (got == 0 || in[got - 1] != '\0'); i++) {
		ssize_t n = recv(fx->client, in + got, LONG_REPLY + 4096 - got, MSG_DONTWAIT);

		if (n > 0)
			got += (size_t)n;
		ev_run(fx->loop, EVRUN_NOWAIT);
		ctl_server_flush(fx->srv);
	}
	assert_true(got > LONG_REPLY);
	assert_int_equal(in[got - 1], '\0');
	assert_true(strstr(in, "{\"parameters\":{\"method\":\"xxx") == in);
	assert_int_equal(strspn(strstr(in, "xxx"), "x"), LONG_REPLY);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_before_slices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_others_wait_for_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_reply_in_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_after_stop_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_answered_at_stop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
