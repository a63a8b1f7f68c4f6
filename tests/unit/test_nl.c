/*
 * test_nl.c: what of nl can be checked without changing any kernel state:
 * the queue and nl_cancel(), which ties a request's completion to the
 * lifetime of its data. Requests are queued but never flushed, so nothing
 * is sent; only the sockets are opened (and the sender forked). And, in a
 * network namespace of its own (skipped where one cannot be made), that
 * link events wait for the dump under way.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <ev.h>
#include <linux/if_link.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "nl.h"
#include "nl-internal.h"

static unsigned completions;

static void done(void *data, int error, const char *message, const struct nl_link *echo)
{
	completions++;
}

static unsigned queued(const struct nl *nl)
{
	struct nl_stats st;

	nl_get_stats(nl, &st);
	return st.queued;
}

static void test_cancel_drops_queued(void **state)
{
	static const struct nl_callbacks cbs = { 0 };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct nl *nl = NULL;
	int a, b;
	int r;

	assert_non_null(loop);
	r = nl_new(loop, &cbs, NULL, 0, 0, &nl);
	if (r < 0) {
		ev_loop_destroy(loop);
		skip();
	}
	assert_int_equal(nl_queue_create(nl, "nltest0", "macvtap", 1, MACVLAN_MODE_BRIDGE,
					 NULL, true, done, &a), 0);
	assert_int_equal(nl_queue_set_group(nl, 1, 7, done, &b), 0);
	assert_int_equal(nl_queue_create(nl, "nltest1", "macvlan", 1, MACVLAN_MODE_BRIDGE,
					 NULL, true, done, &a), 0);
	assert_int_equal(nl_queue_delete_group(nl, 7, done, &b), 0);
	assert_int_equal(queued(nl), 4);
	assert_false(nl_idle(nl));

	/* a is freed: its two requests go, b's stay, in order. */
	nl_cancel(nl, &a);
	assert_int_equal(queued(nl), 2);
	nl_cancel(nl, &a);
	assert_int_equal(queued(nl), 2);
	nl_cancel(nl, &b);
	assert_int_equal(queued(nl), 0);
	assert_true(nl_idle(nl));
	assert_int_equal(completions, 0);

	/* Bad arguments are refused before anything is queued. */
	assert_int_equal(nl_queue_create(nl, "nltest2", "veth", 1, MACVLAN_MODE_BRIDGE,
					 NULL, true, done, &a), -EINVAL);
	assert_int_equal(nl_queue_create(nl, "a-name-far-too-long", "macvtap", 1,
					 MACVLAN_MODE_BRIDGE, NULL, true, done, &a), -EINVAL);
	{
		char alias[NL_ALIAS_MAX + 1];

		memset(alias, 'a', NL_ALIAS_MAX);
		alias[NL_ALIAS_MAX] = '\0';
		assert_int_equal(nl_queue_set_alias(nl, 1, alias, done, &a), -EINVAL);
		assert_int_equal(nl_queue_set_alias(nl, 0, "netd:x", done, &a), -EINVAL);
	}
	{
		struct nl_link_change nothing = { 0 }, up = { .set_up = true, .up = true };

		/* A set changes something, of a device named by ifindex. */
		assert_int_equal(nl_queue_set_link(nl, 1, &nothing, done, &a), -EINVAL);
		assert_int_equal(nl_queue_set_link(nl, 0, &up, done, &a), -EINVAL);
	}
	assert_int_equal(queued(nl), 0);
	assert_null(nl_free(nl));
	ev_loop_destroy(loop);
}

static unsigned events, dumped, dumps_done, events_while_dumping;

static void on_event(void *userdata, bool added, const struct nl_link *l)
{
	events++;
	if (dumps_done == 0)
		events_while_dumping++;
}

static void on_dump_link(void *userdata, const struct nl_link *l)
{
	dumped++;
}

static void on_dump_done(void *userdata, int error)
{
	assert_int_equal(error, 0);
	dumps_done++;
}

/* A link event that comes while a dump is out is read after the dump is
 * in: read before, it would change the picture the dump replaces. The
 * dump process is stopped so that the event is there first. */
static void test_events_wait_for_the_dump(void **state)
{
	static const struct nl_callbacks cbs = {
		.link_event = on_event, .dump_link = on_dump_link, .dump_done = on_dump_done,
	};
	struct ev_loop *loop;
	struct nl *nl = NULL;
	unsigned early;

	if (unshare(CLONE_NEWNET) < 0)
		skip();
	loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(loop);
	assert_int_equal(nl_new(loop, &cbs, NULL, 0, 0, &nl), 0);
	assert_true(nl->dumper_fd >= 0);
	assert_int_equal(kill(nl->dumper_pid, SIGSTOP), 0);
	assert_int_equal(nl_dump_links(nl), 0);
	assert_int_equal(system("ip link add nltest0 type veth peer name nltest1"), 0);
	for (int i = 0; i < 50; i++)
		ev_run(loop, EVRUN_NOWAIT);
	early = events_while_dumping;
	/* Going on before any check, so that none leaves it stopped. */
	assert_int_equal(kill(nl->dumper_pid, SIGCONT), 0);
	assert_int_equal(early, 0);
	while (dumps_done == 0)
		ev_run(loop, EVRUN_ONCE);
	assert_true(dumped >= 1); /* lo, and the pair if it was in time */
	for (int i = 0; i < 1000 && events < 2; i++)
		ev_run(loop, EVRUN_NOWAIT);
	assert_true(events >= 2);
	assert_int_equal(events_while_dumping, 0);
	assert_null(nl_free(nl));
	ev_loop_destroy(loop);
}

static void test_rtnetlink_ops_are_nl(void **state)
{
	assert_ptr_equal(nl_rtnetlink_ops.queue_create, nl_queue_create);
	assert_ptr_equal(nl_rtnetlink_ops.queue_set_alias, nl_queue_set_alias);
	assert_ptr_equal(nl_rtnetlink_ops.queue_set_link, nl_queue_set_link);
	assert_ptr_equal(nl_rtnetlink_ops.queue_set_group, nl_queue_set_group);
	assert_ptr_equal(nl_rtnetlink_ops.queue_delete_group, nl_queue_delete_group);
	assert_ptr_equal(nl_rtnetlink_ops.cancel, nl_cancel);
	assert_ptr_equal(nl_rtnetlink_ops.flush, nl_flush);
	assert_ptr_equal(nl_rtnetlink_ops.dump_links, nl_dump_links);
	assert_ptr_equal(nl_rtnetlink_ops.idle, nl_idle);
	assert_ptr_equal(nl_rtnetlink_ops.get_stats, nl_get_stats);
	assert_ptr_equal(nl_rtnetlink_ops.free, nl_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancel_drops_queued),
		cmocka_unit_test(test_rtnetlink_ops_are_nl),
		/* Last: it moves the process to a namespace of its own. */
		cmocka_unit_test(test_events_wait_for_the_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
