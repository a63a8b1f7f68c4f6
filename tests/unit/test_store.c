/*
 * test_store.c: the store on real temporary SQLite files: migrations from
 * scratch and on reopen, grouped transactions, the append-only audit
 * table, and refusal (without a change to the file) of what is not ours.
 * The test reads the files with sqlite3 itself, independently of store.c.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

static char dir[] = "/tmp/netd-test-store-XXXXXX";

static int setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static char *path_of(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 NULL), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static const struct store_peer peer = { .uid = 1000, .gid = 100, .pid = 4242 };

static void test_fresh_and_reopen(void **state)
{
	const char *p = path_of("fresh.db");
	struct store *s = NULL;
	char *err = NULL;
	int64_t n;

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_null(err);
	assert_int_equal(store_version(s), store_latest_version());
	assert_true(store_latest_version() >= 1);
	assert_int_equal(store_audit_append(s, &peer, "io.netd.Test", "{}", "ok", NULL), 0);
	/* Grouped: another connection sees the row only after the commit. */
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit WHERE method = 'io.netd.Test'"), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit WHERE method = 'io.netd.Test'"), 1);
	s = store_close(s);
	assert_null(s);

	assert_int_equal(raw_int(p, "PRAGMA user_version"), store_latest_version());
	assert_int_equal(raw_int(p, "PRAGMA application_id"), STORE_APPLICATION_ID);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit WHERE method = 'io.netd.Test'"
				 " AND peer_uid = 1000 AND peer_pid = 4242 AND result = 'ok'"), 1);

	/* Reopen: nothing migrated twice, data kept. */
	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_version(s), store_latest_version());
	assert_int_equal(store_audit_count(s, &n), 0);
	assert_int_equal(n, 1);
	store_close(s);
}

static void test_wal_and_pragmas(void **state)
{
	const char *p = path_of("wal.db");
	struct store *s = NULL;
	char *err = NULL;

	assert_int_equal(store_open(p, &s, &err), 0);
	store_close(s);
	/* journal_mode is persistent in the file for WAL. */
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}

static void test_grouped_transaction(void **state)
{
	const char *p = path_of("group.db");
	struct store *s = NULL;
	char *err = NULL;

	assert_int_equal(store_open(p, &s, &err), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(store_audit_append(s, &peer, "io.netd.Test", "{\"i\":1}",
						    "io.netd.Failed", "{\"why\":\"x\"}"), 0);
	/* Not visible to another connection before the commit. */
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit"), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit"), 100);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit WHERE detail IS NOT NULL"), 100);
	store_close(s);
}

static void test_audit_append_only(void **state)
{
	const char *p = path_of("audit.db");
	struct store *s = NULL;
	char *err = NULL;

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_audit_append(s, &peer, "io.netd.Test", "{}", "ok", NULL), 0);
	store_close(s);
	assert_int_not_equal(raw_exec(p, "UPDATE audit SET result = 'forged'"), SQLITE_OK);
	assert_int_not_equal(raw_exec(p, "DELETE FROM audit"), SQLITE_OK);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit WHERE result = 'ok'"), 1);
	/* The time column is filled in, ISO 8601 UTC. */
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit WHERE time LIKE '____-__-__T__:__:__.___Z'"), 1);
}

static void file_bytes(const char *p, char *buf, size_t n, size_t *ret_len)
{
	int fd = open(p, O_RDONLY);
	ssize_t r;

	assert_true(fd >= 0);
	r = read(fd, buf, n);
	assert_true(r >= 0);
	*ret_len = (size_t)r;
	close(fd);
}

static void test_refuse_garbage(void **state)
{
	const char *p = path_of("garbage.db");
	char before[8192], after[8192];
	size_t lb, la;
	struct store *s = NULL;
	char *err = NULL;
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not a database at all\n", f);
	fclose(f);
	file_bytes(p, before, sizeof(before), &lb);

	assert_int_equal(store_open(p, &s, &err), -EINVAL);
	assert_null(s);
	assert_non_null(err);
	assert_non_null(strstr(err, "not an SQLite database"));
	free(err);
	file_bytes(p, after, sizeof(after), &la);
	assert_int_equal(la, lb);
	assert_memory_equal(before, after, la);
}

static void test_refuse_foreign_sqlite(void **state)
{
	const char *p = path_of("foreign.db");
	struct store *s = NULL;
	char *err = NULL;

	assert_int_equal(raw_exec(p, "CREATE TABLE customers (id INTEGER); INSERT INTO customers VALUES (1);"),
			 SQLITE_OK);
	assert_int_equal(store_open(p, &s, &err), -EINVAL);
	assert_non_null(strstr(err, "not a netd database"));
	free(err);
	/* Untouched: no audit table, no version, no WAL switch. */
	assert_int_equal(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'audit'"), 0);
	assert_int_equal(raw_int(p, "PRAGMA user_version"), 0);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM customers"), 1);
}

static void test_refuse_newer(void **state)
{
	const char *p = path_of("newer.db");
	struct store *s = NULL;
	char *err = NULL;
	char sql[64];

	assert_int_equal(store_open(p, &s, &err), 0);
	store_close(s);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_latest_version() + 1);
	assert_int_equal(raw_exec(p, sql), SQLITE_OK);

	assert_int_equal(store_open(p, &s, &err), -EPROTO);
	assert_non_null(strstr(err, "newer netd"));
	free(err);
	assert_int_equal(raw_int(p, "PRAGMA user_version"), store_latest_version() + 1);
}

static void test_empty_file_is_new(void **state)
{
	const char *p = path_of("empty.db");
	struct store *s = NULL;
	char *err = NULL;
	int fd = open(p, O_CREAT | O_WRONLY, 0600);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_version(s), store_latest_version());
	store_close(s);
}

static void test_cannot_open(void **state)
{
	struct store *s = NULL;
	char *err = NULL;

	assert_true(store_open(path_of("no/such/dir/x.db"), &s, &err) < 0);
	assert_null(s);
	assert_non_null(err);
	assert_non_null(strstr(err, "cannot be opened"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_and_reopen),
		cmocka_unit_test(test_wal_and_pragmas),
		cmocka_unit_test(test_grouped_transaction),
		cmocka_unit_test(test_audit_append_only),
		cmocka_unit_test(test_refuse_garbage),
		cmocka_unit_test(test_refuse_foreign_sqlite),
		cmocka_unit_test(test_refuse_newer),
		cmocka_unit_test(test_empty_file_is_new),
		cmocka_unit_test(test_cannot_open),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
