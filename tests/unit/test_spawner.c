/*
 * test_spawner.c: job_process_ops with the spawner process (real
 * processes, a real libev loop): a run's input, output, error and exit
 * status come back and its parent is the spawner, not the loop's
 * process; a timeout kills the run's whole process group, also after
 * its first process has exited and left a child holding the pipes; a
 * program that
 * does not exist fails the run; a cancelled run is killed and its done
 * never called; a spawner killed with SIGKILL while a run is in flight
 * fails that run with -ECHILD (the run killed), another spawner is
 * forked and the next run goes through it; without a spawner the loop
 * starts the child itself; an output hint takes the room for that much
 * output at the first read.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <ev.h>

#include "job.h"
#include "spawner.h"
#include "util.h"

struct result {
	bool done, freed;
	int status;
	char out[256], err[256];
};

static void done_cb(void *data, int status, const char *out, size_t out_len, const char *err,
		    size_t err_len)
{
	struct result *r = data;

	r->done = true;
	r->status = status;
	snprintf(r->out, sizeof(r->out), "%.*s", (int)out_len, out);
	snprintf(r->err, sizeof(r->err), "%.*s", (int)err_len, err);
}

static void free_cb(void *data)
{
	((struct result *)data)->freed = true;
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Run the loop until *flag or ms milliseconds have passed. */
static void run_until(struct ev_loop *loop, const bool *flag, unsigned ms)
{
	uint64_t end = now_usec() + (uint64_t)ms * 1000;
	ev_timer tick;

	ev_timer_init(&tick, tick_cb, 0.01, 0.01);
	ev_timer_start(loop, &tick);
	while (!*flag && now_usec() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
}

/* Whether pid is gone (or a zombie nobody reaped yet). */
static bool gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z';
}

static bool gone_within(pid_t pid, unsigned ms)
{
	for (unsigned i = 0; i < ms / 10; i++) {
		if (gone(pid))
			return true;
		usleep(10000);
	}
	return gone(pid);
}

static int setup(void **state)
{
	struct spawner *sp;

	assert_int_equal(spawner_start(ev_default_loop(0), &sp), 0);
	assert_true(spawner_pid(sp) > 0);
	job_use_spawner(sp);
	*state = sp;
	return 0;
}

static int teardown(void **state)
{
	job_use_spawner(NULL);
	spawner_stop(*state);
	return 0;
}

static void test_run_through_spawner(void **state)
{
	struct spawner *sp = *state;
	struct ev_loop *loop = ev_default_loop(0);
	char *const argv[] = { "sh", "-c", "cat; echo oops >&2; echo $PPID; exit 3", NULL };
	struct result r = { 0 };
	char want[64];

	assert_int_equal(job_run(loop, NULL, argv, "in\n", 3, 5000, done_cb, free_cb, &r, NULL), 0);
	run_until(loop, &r.done, 5000);
	assert_true(r.done);
	assert_true(r.freed);
	assert_int_equal(r.status, 3);
	snprintf(want, sizeof(want), "in\n%d\n", (int)spawner_pid(sp));
	assert_string_equal(r.out, want);
	assert_string_equal(r.err, "oops\n");
}

struct taken {
	struct job *j;
	bool done;
	int status;
	char *out;
	size_t out_len;
};

static void take_cb(void *data, int status, const char *out, size_t out_len, const char *err,
		    size_t err_len)
{
	struct taken *t = data;

	t->done = true;
	t->status = status;
	t->out = job_take_out(t->j);
	t->out_len = out_len;
}

/* Run sh printing n bytes ('x') with output hint hint and max max; the
 * output taken as it was read. */
static void run_printing(size_t n, size_t hint, size_t max, struct taken *t)
{
	struct ev_loop *loop = ev_default_loop(0);
	char script[96];
	char *const argv[] = { "sh", "-c", script, NULL };

	snprintf(script, sizeof(script), "head -c %zu /dev/zero | tr '\\0' x", n);
	*t = (struct taken){ 0 };
	assert_int_equal(job_run(loop, NULL, argv, NULL, 0, 10000, take_cb, NULL, t, &t->j), 0);
	job_set_out_max(t->j, max);
	job_set_out_hint(t->j, hint);
	run_until(loop, &t->done, 10000);
	assert_true(t->done);
	assert_int_equal(t->status, 0);
	assert_non_null(t->out);
	assert_int_equal(t->out_len, n);
	assert_int_equal(strlen(t->out), n);
	assert_int_equal(strspn(t->out, "x"), n);
}

/* An output hint takes the room at the first read: 3 MB printed into a
 * buffer of at least the 6 MB hinted (grown by doubling, it would end at
 * 4 MB, copied at each doubling); a hint past the max is held to it; a
 * hint too small only means growing as before. */
static void test_output_hint(void **state)
{
	struct taken t;

	run_printing(3000000, 6u << 20, 8u << 20, &t);
	assert_true(malloc_usable_size(t.out) >= 6u << 20);
	free(t.out);
	run_printing(3000000, 100u << 20, 8u << 20, &t);
	assert_true(malloc_usable_size(t.out) >= 3000000);
	assert_true(malloc_usable_size(t.out) <= 17u << 20);
	free(t.out);
	run_printing(3000000, 100000, 8u << 20, &t);
	free(t.out);
}

/* Run script (which starts "sleep 30" in the background and prints its
 * pid) with a 300 ms timeout: the run times out in time, and the
 * background sleep, in the run's process group, is killed with it. */
static void check_timeout_kills(const char *script)
{
	struct ev_loop *loop = ev_default_loop(0);
	char *const argv[] = { "sh", "-c", (char *)script, NULL };
	struct result r = { 0 };
	uint64_t t0 = now_usec();
	pid_t bg;

	assert_int_equal(job_run(loop, NULL, argv, NULL, 0, 300, done_cb, NULL, &r, NULL), 0);
	run_until(loop, &r.done, 5000);
	assert_true(r.done);
	assert_int_equal(r.status, -ETIMEDOUT);
	assert_true(now_usec() - t0 < 3000000);
	bg = (pid_t)atoi(r.out);
	assert_true(bg > 0);
	assert_true(gone_within(bg, 2000));
}

static void test_timeout_kills_group(void **state)
{
	check_timeout_kills("sleep 30 & echo $!; wait");
}

/* The run's leader exits at once; a child it left holds the pipes until
 * the timeout kills the group. */
static void test_timeout_after_exit(void **state)
{
	check_timeout_kills("sleep 30 & echo $!");
}

/* The run's leader exits at once, leaving a child in a session of its
 * own (out of the group kill's reach) that holds the pipes: the run still
 * ends at its timeout. It waited for ever (and every filter call with
 * it). */
static void test_timeout_after_exit_detached(void **state)
{
	struct ev_loop *loop = ev_default_loop(0);
	char *const argv[] = { "sh", "-c", "setsid sleep 30 & echo $!", NULL };
	struct result r = { 0 };
	uint64_t t0 = now_usec();
	pid_t bg;

	assert_int_equal(job_run(loop, NULL, argv, NULL, 0, 300, done_cb, NULL, &r, NULL), 0);
	run_until(loop, &r.done, 5000);
	bg = (pid_t)atoi(r.out);
	if (bg > 0)
		kill(bg, SIGKILL);
	assert_true(r.done);
	assert_int_equal(r.status, -ETIMEDOUT);
	assert_true(now_usec() - t0 < 3000000);
}

static void test_missing_program(void **state)
{
	struct ev_loop *loop = ev_default_loop(0);
	char *const argv[] = { "/nonexistent/netd-test-tool", NULL };
	struct result r = { 0 };

	assert_int_equal(job_run(loop, NULL, argv, "x", 1, 5000, done_cb, NULL, &r, NULL), 0);
	run_until(loop, &r.done, 5000);
	assert_true(r.done);
	assert_int_equal(r.status, -ENOENT);
}

/* The pid a run wrote into path, once it has (the loop runs meanwhile). */
static pid_t pid_from(struct ev_loop *loop, const char *path)
{
	bool never = false;

	for (int i = 0; i < 300; i++) {
		FILE *f = fopen(path, "r");
		int pid = 0;

		if (f) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid > 0)
			return pid;
		run_until(loop, &never, 10);
	}
	return 0;
}

static void test_cancel_kills(void **state)
{
	struct ev_loop *loop = ev_default_loop(0);
	char path[] = "/tmp/test_spawner.XXXXXX", cmd[128];
	char *const argv[] = { "sh", "-c", cmd, NULL };
	struct result r = { 0 };
	struct job *j;
	bool never = false;
	pid_t pid;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "echo $$ > %s; exec sleep 30", path);
	assert_int_equal(job_run(loop, NULL, argv, NULL, 0, 10000, done_cb, free_cb, &r, &j), 0);
	pid = pid_from(loop, path);
	unlink(path);
	assert_true(pid > 0);
	job_cancel(j);
	assert_true(r.freed);
	assert_true(gone_within(pid, 2000));
	run_until(loop, &never, 200);
	assert_false(r.done);
}

static void test_spawner_killed(void **state)
{
	struct spawner *sp = *state;
	struct ev_loop *loop = ev_default_loop(0);
	char path[] = "/tmp/test_spawner.XXXXXX", cmd[128];
	char *const argv[] = { "sh", "-c", cmd, NULL };
	char *const again[] = { "sh", "-c", "echo $PPID", NULL };
	struct result r = { 0 }, r2 = { 0 };
	pid_t old = spawner_pid(sp), pid;
	uint64_t t0;
	char want[32];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "echo $$ > %s; exec sleep 30", path);
	assert_int_equal(job_run(loop, NULL, argv, NULL, 0, 20000, done_cb, NULL, &r, NULL), 0);
	pid = pid_from(loop, path);
	unlink(path);
	assert_true(pid > 0);

	t0 = now_usec();
	assert_int_equal(kill(old, SIGKILL), 0);
	run_until(loop, &r.done, 5000);
	assert_true(r.done);
	assert_int_equal(r.status, -ECHILD);
	assert_true(now_usec() - t0 < 3000000);
	assert_true(gone_within(pid, 2000));
	assert_int_equal(spawner_restarts(sp), 1);
	assert_true(spawner_pid(sp) > 0);
	assert_int_not_equal(spawner_pid(sp), old);

	/* The next run goes through the new spawner. */
	assert_int_equal(job_run(loop, NULL, again, NULL, 0, 5000, done_cb, NULL, &r2, NULL), 0);
	run_until(loop, &r2.done, 5000);
	assert_true(r2.done);
	assert_int_equal(r2.status, 0);
	snprintf(want, sizeof(want), "%d\n", (int)spawner_pid(sp));
	assert_string_equal(r2.out, want);
}

static void test_without_spawner(void **state)
{
	struct ev_loop *loop = ev_default_loop(0);
	char *const argv[] = { "sh", "-c", "echo $PPID", NULL };
	struct result r = { 0 };
	char want[32];

	job_use_spawner(NULL);
	assert_int_equal(job_run(loop, NULL, argv, NULL, 0, 5000, done_cb, NULL, &r, NULL), 0);
	run_until(loop, &r.done, 5000);
	job_use_spawner(*state);
	assert_true(r.done);
	assert_int_equal(r.status, 0);
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	assert_string_equal(r.out, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_run_through_spawner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_hint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_after_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_after_exit_detached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_program, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_kills, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spawner_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_spawner, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
