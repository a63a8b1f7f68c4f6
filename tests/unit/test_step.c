/*
 * test_step.c: work done a step per loop iteration, on a real libev
 * loop: the steps run one per iteration until the work stops itself,
 * the loop does not block in its poll meanwhile (a timer far in the
 * future, 2 s, does not hold it up), other watchers run between two steps,
 * each step is counted under its name, and start/stop are idempotent.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ev.h>

#include "stats.h"
#include "step.h"

struct work {
	unsigned left, done, iterations_seen;
	unsigned other_between; /* prepare callbacks seen between steps */
};

static void count_down(struct step *s)
{
	struct work *w = s->data;

	w->done++;
	if (--w->left == 0)
		step_stop(s);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct work *w = p->data;

	if (w->done > 0 && w->left > 0)
		w->other_between++;
}

static void timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void test_steps_until_stopped(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct work w = { .left = 5 };
	struct step s;
	ev_prepare p;
	ev_timer far;
	uint64_t callbacks = stats.callbacks;

	step_init(&s, loop, "test step", count_down, &w);
	assert_false(step_running(&s));
	step_start(&s);
	step_start(&s); /* idempotent */
	assert_true(step_running(&s));
	ev_prepare_init(&p, prepare_cb);
	p.data = &w;
	ev_prepare_start(loop, &p);
	/* Without the idle watcher the loop would sleep in poll until this
	 * timer, 2 s away: each iteration must be far quicker. */
	ev_timer_init(&far, timeout_cb, 2., 0.);
	ev_timer_start(loop, &far);
	while (w.left > 0) {
		ev_tstamp before = ev_time();

		ev_run(loop, EVRUN_ONCE);
		assert_true(ev_time() - before < 1.);
	}
	assert_int_equal(w.done, 5);
	assert_false(step_running(&s));
	assert_true(w.other_between >= 4);
	assert_true(stats.callbacks >= callbacks + 5);
	step_stop(&s); /* idempotent */
	ev_timer_stop(loop, &far);
	ev_prepare_stop(loop, &p);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steps_until_stopped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
