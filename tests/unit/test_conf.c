/*
 * test_conf.c: the INI configuration: defaults, every key, and errors that
 * name file, line and key while leaving the running settings alone.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"

static char path[] = "/tmp/netd-test-conf-XXXXXX";

static void write_file(const char *text)
{
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

static void remove_file(void)
{
	unlink(path);
	strcpy(path, "/tmp/netd-test-conf-XXXXXX");
}

static void test_defaults(void **state)
{
	struct netd_config c;

	assert_int_equal(conf_init(&c), 0);
	assert_string_equal(c.socket_path, NETD_DEFAULT_SOCKET);
	assert_string_equal(c.db_path, NETD_DEFAULT_DB);
	assert_null(c.admin_group);
	assert_int_equal(c.max_clients, 1024);
	assert_int_equal(c.max_message_size, 1 << 20);
	assert_int_equal(c.socket_mode, 0666);
	assert_int_equal(c.log_level, LOG_INFO);
	conf_done(&c);
}

static void test_full_file(void **state)
{
	struct netd_config c;
	char *err = NULL;

	write_file("; comment\n"
		   "[netd]\n"
		   "socket = /tmp/x.sock\n"
		   "database = /tmp/x.db\n"
		   "log_level = debug\n"
		   "admin_group = root\n"
		   "socket_mode = 0660\n"
		   "max_clients = 300\n"
		   "max_message_size = 65536\n"
		   "max_output_buffer = 131072\n"
		   "shutdown_timeout_ms = 100\n");
	conf_init(&c);
	assert_int_equal(conf_load(&c, path, true, &err), 0);
	assert_string_equal(c.socket_path, "/tmp/x.sock");
	assert_string_equal(c.db_path, "/tmp/x.db");
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_string_equal(c.admin_group, "root");
	assert_int_equal(c.socket_mode, 0660);
	assert_int_equal(c.max_clients, 300);
	assert_int_equal(c.max_message_size, 65536);
	assert_int_equal(c.max_output_buffer, 131072);
	assert_int_equal(c.shutdown_timeout_ms, 100);
	conf_done(&c);
	remove_file();
}

/* text must fail at line with an error mentioning needle; the config must
 * keep its earlier values. */
static void bad(const char *text, int line, const char *needle)
{
	struct netd_config c;
	char *err = NULL;
	char prefix[128];

	write_file(text);
	conf_init(&c);
	conf_set_string(&c.socket_path, "/kept.sock");
	c.max_clients = 77;
	assert_int_equal(conf_load(&c, path, true, &err), -EINVAL);
	assert_non_null(err);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, needle))
		fail_msg("got '%s', want prefix '%s' and '%s'", err, prefix, needle);
	assert_string_equal(c.socket_path, "/kept.sock");
	assert_int_equal(c.max_clients, 77);
	free(err);
	conf_done(&c);
	remove_file();
}

static void test_errors(void **state)
{
	bad("[netd]\nmax_clients = 5\nbogus = 1\n", 3, "unknown key 'bogus'");
	bad("[netd]\n\n[links]\nprefix = x\n", 4, "unknown section [links]");
	bad("socket = /x\n", 1, "unknown section []");
	bad("[netd]\nsocket = relative/path\n", 2, "'socket'");
	bad("[netd]\ndatabase = x.db\n", 2, "not an absolute path");
	bad("[netd]\nlog_level = loud\n", 2, "'log_level'");
	bad("[netd]\nmax_clients = 0\n", 2, "'max_clients'");
	bad("[netd]\nmax_clients = 10x\n", 2, "'max_clients'");
	bad("[netd]\nmax_clients = -1\n", 2, "'max_clients'");
	bad("[netd]\nmax_clients = 99999999999999999999999\n", 2, "'max_clients'");
	bad("[netd]\nmax_message_size = 10\n", 2, "'max_message_size'");
	bad("[netd]\nsocket_mode = 999\n", 2, "'socket_mode'");
	bad("[netd]\nsocket_mode = rw\n", 2, "'socket_mode'");
	bad("[netd]\nadmin_group = no-such-group-here\n", 2, "no group named");
	bad("[netd]\nthis line has no equals sign\n", 2, "syntax error");
	bad("[netd\n", 1, "syntax error");
}

/* The limit keys: set, range-checked, and checked against each other. */
static void test_limits(void **state)
{
	struct netd_config c;
	char *err = NULL;

	write_file("[netd]\nmax_clients_per_uid = 3\nreserved_clients = 2\n"
		   "client_idle_timeout_ms = 0\nmax_input_total = 4194304\n"
		   "max_connection_buffer = 2097152\naudit_refusal_burst = 0\n"
		   "audit_refusal_interval_ms = 5000\naudit_max_rows = 10\naudit_max_days = 7\n");
	conf_init(&c);
	assert_int_equal(c.max_clients_per_uid, 64);
	assert_int_equal(c.reserved_clients, 16);
	assert_int_equal(conf_load(&c, path, true, &err), 0);
	assert_int_equal(c.max_clients_per_uid, 3);
	assert_int_equal(c.reserved_clients, 2);
	assert_int_equal(c.client_idle_timeout_ms, 0);
	assert_int_equal(c.max_input_total, 4194304);
	assert_int_equal(c.max_connection_buffer, 2097152);
	assert_int_equal(c.audit_refusal_burst, 0);
	assert_int_equal(c.audit_refusal_interval_ms, 5000);
	assert_int_equal(c.audit_max_rows, 10);
	assert_int_equal(c.audit_max_days, 7);
	conf_done(&c);
	remove_file();

	bad("[netd]\nmax_clients_per_uid = many\n", 2, "'max_clients_per_uid'");
	bad("[netd]\naudit_refusal_interval_ms = 10\n", 2, "1000..86400000");
	bad("[netd]\naudit_max_days = -1\n", 2, "'audit_max_days'");
}

/* Limits that contradict each other: the file is refused as a whole. */
static void bad_together(const char *text, const char *needle)
{
	struct netd_config c;
	char *err = NULL;

	write_file(text);
	conf_init(&c);
	assert_int_equal(conf_load(&c, path, true, &err), -EINVAL);
	if (!err || !strstr(err, needle))
		fail_msg("got '%s', want '%s'", err ? err : "(null)", needle);
	assert_int_equal(c.max_connection_buffer, 16u << 20);
	free(err);
	conf_done(&c);
	remove_file();
}

static void test_limits_together(void **state)
{
	bad_together("[netd]\nmax_connection_buffer = 65536\n", "at least max_message_size");
	bad_together("[netd]\nmax_input_total = 1048576\n", "twice max_message_size");
	bad_together("[netd]\naudit_max_rows = 5\n", "at least 10");
}

static void test_missing_file(void **state)
{
	struct netd_config c;
	char *err = NULL;

	conf_init(&c);
	assert_int_equal(conf_load(&c, "/nonexistent/netd.conf", false, &err), 0);
	assert_null(err);
	assert_string_equal(c.socket_path, NETD_DEFAULT_SOCKET);
	assert_int_equal(conf_load(&c, "/nonexistent/netd.conf", true, &err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/netd.conf"));
	free(err);
	conf_done(&c);
}

static void test_empty_admin_group_clears(void **state)
{
	struct netd_config c;
	char *err = NULL;

	write_file("[netd]\nadmin_group = root\nadmin_group =\n");
	conf_init(&c);
	assert_int_equal(conf_load(&c, path, true, &err), 0);
	assert_null(c.admin_group);
	conf_done(&c);
	remove_file();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_limits_together),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_empty_admin_group_clears),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
