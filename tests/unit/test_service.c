/*
 * test_service.c: what netd takes from systemd, on real sockets: the
 * socket of socket activation (accepted only as one listening AF_UNIX
 * stream socket bound to a path; LISTEN_* removed from the environment
 * either way) and the journal's stream recognised by the device and inode
 * of stderr, not by the variable alone.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "service.h"

static char dir[] = "/tmp/test_service.XXXXXX";

/* A socket of type at fd 3 (where systemd passes them), bound to name
 * in the test's directory (abstract if name starts with '@'), listening
 * if asked. */
static void pass_socket(int type, const char *name, bool do_listen, int nfds)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(a);
	char buf[32];
	int fd = socket(AF_UNIX, type, 0);

	assert_true(fd >= 0);
	if (name[0] == '@') {
		snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "netd-test-%d", (int)getpid());
		len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	} else {
		snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s", dir, name);
		unlink(a.sun_path);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 4), 0);
	if (fd != 3) {
		assert_int_equal(dup2(fd, 3), 3);
		close(fd);
	}
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	setenv("LISTEN_PID", buf, 1);
	snprintf(buf, sizeof(buf), "%d", nfds);
	setenv("LISTEN_FDS", buf, 1);
}

static void test_none(void **state)
{
	int fd = -1;

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	assert_int_equal(service_listen_fd("/run/netd/netd.sock", &fd), 0);
	assert_int_equal(fd, -1);
	/* Passed to another process: not ours. */
	pass_socket(SOCK_STREAM, "a.sock", true, 1);
	setenv("LISTEN_PID", "1", 1);
	assert_int_equal(service_listen_fd(NULL, &fd), 0);
	assert_int_equal(fd, -1);
	close(3);
}

static void test_listening_stream(void **state)
{
	char path[128];
	int fd = -1;

	snprintf(path, sizeof(path), "%s/a.sock", dir);
	pass_socket(SOCK_STREAM, "a.sock", true, 1);
	assert_int_equal(service_listen_fd(path, &fd), 1);
	assert_int_equal(fd, 3);
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_PID"));
	assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC);
	close(3);
	/* Elsewhere than configured: taken (with a warning). */
	pass_socket(SOCK_STREAM, "a.sock", true, 1);
	assert_int_equal(service_listen_fd("/run/netd/netd.sock", &fd), 1);
	close(3);
}

static void test_refused(void **state)
{
	int fd = -1;

	pass_socket(SOCK_STREAM, "b.sock", false, 1);
	assert_int_equal(service_listen_fd(NULL, &fd), -EINVAL);
	assert_null(getenv("LISTEN_FDS"));
	close(3);
	pass_socket(SOCK_DGRAM, "c.sock", false, 1);
	assert_int_equal(service_listen_fd(NULL, &fd), -EINVAL);
	close(3);
	pass_socket(SOCK_STREAM, "@", true, 1);
	assert_int_equal(service_listen_fd(NULL, &fd), -EINVAL);
	close(3);
	pass_socket(SOCK_STREAM, "d.sock", true, 2);
	assert_true(dup2(STDIN_FILENO, 4) == 4);
	assert_int_equal(service_listen_fd(NULL, &fd), -EINVAL);
	close(3);
	close(4);
	assert_int_equal(fd, -1);
}

static void test_journal_stream(void **state)
{
	char path[128], buf[64];
	struct stat st, other;
	int saved = dup(STDERR_FILENO), f;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(f >= 0 && saved >= 0);
	assert_int_equal(dup2(f, STDERR_FILENO), STDERR_FILENO);
	assert_int_equal(fstat(f, &st), 0);
	assert_int_equal(stat(dir, &other), 0);

	unsetenv("JOURNAL_STREAM");
	assert_false(log_stderr_is_journal());
	snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", buf, 1);
	assert_true(log_stderr_is_journal());
	snprintf(buf, sizeof(buf), "%llu:%llux", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", buf, 1);
	assert_false(log_stderr_is_journal());
	snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)other.st_dev,
		 (unsigned long long)other.st_ino);
	setenv("JOURNAL_STREAM", buf, 1);
	assert_false(log_stderr_is_journal());
	setenv("JOURNAL_STREAM", "", 1);
	assert_false(log_stderr_is_journal());

	dup2(saved, STDERR_FILENO);
	close(saved);
	close(f);
	unsetenv("JOURNAL_STREAM");
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_listening_stream),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_journal_stream),
	};

	log_set_max_level(LOG_DEBUG);
	return cmocka_run_group_tests(tests, setup, teardown);
}
