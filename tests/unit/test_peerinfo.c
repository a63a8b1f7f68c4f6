/*
 * test_peerinfo.c: the caller's systemd unit from /proc/PID/cgroup texts
 * (cgroup v2, v1 with several hierarchies, user services, none at all,
 * names too long), and the name and unit of this very process read from
 * /proc.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "peerinfo.h"

static void unit_is(const char *text, const char *want)
{
	char unit[PEERINFO_UNIT_MAX] = "untouched";
	bool found = peerinfo_unit_from_cgroup(text, unit, sizeof(unit));

	if (!want) {
		assert_false(found);
		return;
	}
	assert_true(found);
	assert_string_equal(unit, want);
}

static void test_unit_from_cgroup(void **state)
{
	unit_is("0::/system.slice/libvirtd.service\n", "libvirtd.service");
	/* The last service: a user's service inside user@.service. */
	unit_is("0::/user.slice/user-1000.slice/user@1000.service/app.slice/virtqemud.service\n",
		"virtqemud.service");
	/* A login session: no service. */
	unit_is("0::/user.slice/user-0.slice/session-3.scope\n", NULL);
	unit_is("0::/\n", NULL);
	unit_is("", NULL);
	/* cgroup v1: any hierarchy names it; the unified line wins. */
	unit_is("12:pids:/system.slice/a.service\n1:name=systemd:/system.slice/b.service\n", "b.service");
	unit_is("1:name=systemd:/system.slice/b.service\n0::/system.slice/c.service\n", "c.service");
	unit_is("0::/system.slice/c.service\n1:name=systemd:/system.slice/b.service\n", "c.service");
	/* ".service" alone, a name merely containing it, no newline at the end. */
	unit_is("0::/.service", NULL);
	unit_is("0::/x.services/y", NULL);
	unit_is("0::/system.slice/netd-test.service", "netd-test.service");
	/* Garbage lines are skipped. */
	unit_is("garbage\n::\n0::/system.slice/d.service\n", "d.service");
}

static void test_unit_too_long(void **state)
{
	char text[512], unit[16];
	char name[300];

	memset(name, 'a', 200);
	strcpy(name + 200, ".service");
	snprintf(text, sizeof(text), "0::/system.slice/%s\n", name);
	assert_false(peerinfo_unit_from_cgroup(text, unit, sizeof(unit)));
}

static void test_read_self(void **state)
{
	struct peerinfo pi;

	assert_int_equal(prctl(PR_SET_NAME, "peer\x01test"), 0);
	peerinfo_read(getpid(), &pi);
	/* Bytes outside printable ASCII are replaced. */
	assert_string_equal(pi.comm, "peer?test");
	peerinfo_read(0, &pi);
	assert_string_equal(pi.comm, "");
	assert_string_equal(pi.unit, "");
	/* A pid that does not exist (above pid_max). */
	peerinfo_read(1 << 30, &pi);
	assert_string_equal(pi.comm, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unit_from_cgroup),
		cmocka_unit_test(test_unit_too_long),
		cmocka_unit_test(test_read_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
