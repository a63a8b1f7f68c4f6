/*
 * test_store.c: the store on real temporary SQLite files: migrations from
 * scratch, on reopen and from an older schema, grouped transactions and
 * their commit (also when another writer holds the lock), the append-only
 * audit table, the rows of links, names, bindings, roots and the filter
 * checkpoint, the WAL helper process, and refusal (without a change to
 * the file) of what is not ours. The test reads the files with sqlite3
 * itself, independently of store.c.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

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
	/* Nothing open: a second commit is a no-op. */
	assert_int_equal(store_commit(s), 0);
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

/* Retention: only the oldest rows go, never the newest, never a hole. */
static void test_audit_prune(void **state)
{
	const char *p = path_of("prune.db");
	struct store *s = NULL;
	char *err = NULL;
	int64_t lo, hi, old;

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_audit_span(s, &lo, &hi), -ENOENT);
	for (int i = 0; i < 50; i++)
		assert_int_equal(store_audit_append(s, &peer, "io.netd.Test", "{}", "ok", NULL), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_audit_span(s, &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 50);
	assert_int_equal(store_audit_old_head(s, 1, 100, &old), 0);
	assert_int_equal(old, 0); /* all of today */
	assert_int_equal(store_audit_prune(s, 20), 20);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_audit_span(s, &lo, &hi), 0);
	assert_int_equal(lo, 21);
	/* The newest row is never deleted: the whole statement fails. */
	assert_true(store_audit_prune(s, 50) < 0);
	store_close(s);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit"), 30);
	/* Nor a row in the middle, by anyone. */
	assert_int_not_equal(raw_exec(p, "DELETE FROM audit WHERE id = 30"), SQLITE_OK);
	assert_int_equal(raw_exec(p, "UPDATE sqlite_sequence SET seq = seq"), SQLITE_OK);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit"), 30);
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

/* --- links and names --- */

struct link_seen {
	int n;
	char names[8][16];
	char states[8][16];
	bool mac_null[8];
	int ifindex[8];
	char created[8][32];
};

static void link_cb(void *userdata, const struct store_link_row *row)
{
	struct link_seen *seen = userdata;

	assert_true(seen->n < 8);
	snprintf(seen->names[seen->n], sizeof(seen->names[0]), "%s", row->name);
	snprintf(seen->states[seen->n], sizeof(seen->states[0]), "%s", row->state);
	seen->mac_null[seen->n] = row->mac == NULL;
	seen->ifindex[seen->n] = row->ifindex;
	snprintf(seen->created[seen->n], sizeof(seen->created[0]), "%s", row->created);
	assert_string_equal(row->kind, "macvtap");
	assert_string_equal(row->parent, "eth0");
	assert_string_equal(row->owner, "guest1");
	seen->n++;
}

static int seen_index(const struct link_seen *seen, const char *name)
{
	for (int i = 0; i < seen->n; i++)
		if (streq(seen->names[i], name))
			return i;
	return -1;
}

static void test_links(void **state)
{
	const char *p = path_of("links.db");
	struct store *s = NULL;
	char *err = NULL;
	struct link_seen seen = { 0 };
	struct store_link_row row = {
		.name = "macvtap0", .ifindex = 0, .kind = "macvtap", .mode = "bridge",
		.parent = "eth0", .mac = NULL, .owner = "guest1", .state = "creating",
	};
	int i;

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_link_put(s, &row), 0);
	row.name = "macvtap1";
	row.ifindex = 17;
	row.mac = "52:54:00:12:34:56";
	row.state = "present";
	row.created = "2020-01-02T03:04:05.678Z";
	assert_int_equal(store_link_put(s, &row), 0);
	/* The database refuses what its CHECKs refuse; the transaction and
	 * the rows before stay. */
	row.name = "macvtap2";
	row.kind = "veth";
	assert_int_equal(store_link_put(s, &row), -EEXIST);
	row.kind = "macvtap";
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM links"), 2);

	assert_int_equal(store_links_foreach(s, link_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	i = seen_index(&seen, "macvtap0");
	assert_true(i >= 0);
	assert_true(seen.mac_null[i]);
	assert_string_equal(seen.states[i], "creating");
	/* created defaults to now, in the form the audit table uses. */
	assert_int_equal(strlen(seen.created[i]), strlen("2020-01-02T03:04:05.678Z"));
	i = seen_index(&seen, "macvtap1");
	assert_true(i >= 0);
	assert_false(seen.mac_null[i]);
	assert_int_equal(seen.ifindex[i], 17);
	assert_string_equal(seen.created[i], "2020-01-02T03:04:05.678Z");

	/* Put replaces; delete removes; both in the grouped transaction. */
	row.name = "macvtap0";
	row.state = "deleting";
	assert_int_equal(store_link_put(s, &row), 0);
	assert_int_equal(store_link_delete(s, "macvtap1"), 0);
	assert_int_equal(store_link_delete(s, "no-such-link"), 0);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM links"), 2);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM links"), 1);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM links WHERE name = 'macvtap0'"
				 " AND state = 'deleting'"), 1);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_links_foreach(s, link_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	store_close(s);
}

struct name_seen {
	int n;
	unsigned sum_idx;
	char last_state[16];
};

static void name_cb(void *userdata, const char *prefix, unsigned idx, const char *name,
		    const char *state)
{
	struct name_seen *seen = userdata;
	char expect[32];

	snprintf(expect, sizeof(expect), "%s%u", prefix, idx);
	assert_string_equal(name, expect);
	seen->n++;
	seen->sum_idx += idx;
	snprintf(seen->last_state, sizeof(seen->last_state), "%s", state);
}

static void test_names(void **state)
{
	const char *p = path_of("names.db");
	struct store *s = NULL;
	char *err = NULL;
	struct name_seen seen = { 0 };

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_name_put(s, "macvtap", 0, "macvtap0", "owned"), 0);
	assert_int_equal(store_name_put(s, "macvtap", 7, "macvtap7", "foreign"), 0);
	assert_int_equal(store_name_put(s, "macvlan", 4000000000u, "macvlan4000000000", "owned"), 0);
	assert_int_equal(store_name_put(s, "macvtap", 1, "macvtap1", "lost"), -EEXIST);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_names_foreach(s, name_cb, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.sum_idx, 4000000007u);

	assert_int_equal(store_name_put(s, "macvtap", 7, "macvtap7", "releasing"), 0);
	assert_int_equal(store_name_delete(s, "macvlan", 4000000000u), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM names"), 2);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM names WHERE idx = 7 AND state = 'releasing'"), 1);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_names_foreach(s, name_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	store_close(s);
}

/* --- bindings, roots and the filter checkpoint --- */

struct binding_seen {
	int n;
	bool error_null, applied_null;
	char port[16], state[16], norm_ip6[16], parameters[64];
};

static void binding_cb(void *userdata, const struct store_binding_row *row)
{
	struct binding_seen *seen = userdata;

	seen->n++;
	if (!streq(row->port, "vnet1"))
		return;
	snprintf(seen->port, sizeof(seen->port), "%s", row->port);
	snprintf(seen->state, sizeof(seen->state), "%s", row->state);
	snprintf(seen->norm_ip6, sizeof(seen->norm_ip6), "%s", row->norm[2]);
	snprintf(seen->parameters, sizeof(seen->parameters), "%s", row->parameters);
	seen->error_null = row->error == NULL;
	seen->applied_null = row->applied == NULL;
	assert_string_equal(row->filter, "clean-traffic");
	assert_string_equal(row->owner, "guest1");
	assert_string_equal(row->desired_hash, "d1");
	assert_non_null(row->created);
}

static void test_bindings(void **state)
{
	const char *p = path_of("bindings.db");
	struct store *s = NULL;
	char *err = NULL;
	struct binding_seen seen = { 0 };
	struct store_binding_row row = {
		.port = "vnet0", .filter = "clean-traffic", .owner = "guest1",
		.parameters = "{\"MAC\":\"52:54:00:00:00:01\"}", .desired_hash = "d0",
		.applied_hash = "", .norm = { "", "", "" }, .state = "pending",
	};

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_binding_put(s, &row), 0);
	row.port = "vnet1";
	row.desired_hash = "d1";
	row.applied_hash = "d1";
	row.norm[0] = "eb1";
	row.norm[1] = "ip41";
	row.norm[2] = "ip61";
	row.state = "failed";
	row.error = "ebtables-restore: line 3: bad rule";
	row.applied = "2020-01-02T03:04:05.678Z";
	assert_int_equal(store_binding_put(s, &row), 0);
	row.port = "vnet2";
	row.state = "exploded";
	assert_int_equal(store_binding_put(s, &row), -EEXIST);
	assert_int_equal(store_commit(s), 0);

	assert_int_equal(store_bindings_foreach(s, binding_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.port, "vnet1");
	assert_string_equal(seen.state, "failed");
	assert_string_equal(seen.norm_ip6, "ip61");
	assert_string_equal(seen.parameters, "{\"MAC\":\"52:54:00:00:00:01\"}");
	assert_false(seen.error_null);
	assert_false(seen.applied_null);

	/* Applied again: error and time of the last apply cleared. */
	row.port = "vnet1";
	row.state = "applied";
	row.error = NULL;
	row.applied = NULL;
	assert_int_equal(store_binding_put(s, &row), 0);
	assert_int_equal(store_binding_delete(s, "vnet0"), 0);
	assert_int_equal(store_commit(s), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_bindings_foreach(s, binding_cb, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.state, "applied");
	assert_true(seen.error_null);
	assert_true(seen.applied_null);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM bindings"), 1);
	store_close(s);
}

struct root_seen {
	int n;
	char eb[16];
};

static void root_cb(void *userdata, const char *family, const char *norm)
{
	struct root_seen *seen = userdata;

	seen->n++;
	if (streq(family, "eb"))
		snprintf(seen->eb, sizeof(seen->eb), "%s", norm);
}

static void test_roots(void **state)
{
	const char *p = path_of("roots.db");
	struct store *s = NULL;
	char *err = NULL;
	struct root_seen seen = { 0 };

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_roots_foreach(s, root_cb, &seen), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(store_root_put(s, "eb", "first"), 0);
	assert_int_equal(store_root_put(s, "ip4", "v4"), 0);
	assert_int_equal(store_root_put(s, "eb", "second"), 0);
	assert_int_equal(store_root_put(s, "arp", "x"), -EEXIST);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_roots_foreach(s, root_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.eb, "second");
	store_close(s);
}

static void test_checkpoint(void **state)
{
	const char *p = path_of("checkpoint.db");
	struct store *s = NULL;
	char *err = NULL;
	char kernel[64] = "untouched", small[8];
	uint32_t gen = 7;

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_checkpoint_get(s, kernel, sizeof(kernel), &gen), -ENOENT);
	assert_string_equal(kernel, "untouched");
	assert_int_equal(gen, 7);

	assert_int_equal(store_checkpoint_put(s, "boot-1/3:4026531840", 41), 0);
	assert_int_equal(store_checkpoint_put(s, "boot-1/3:4026531840", 4000000000u), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM filter_checkpoint"), 1);
	assert_int_equal(store_checkpoint_get(s, kernel, sizeof(kernel), &gen), 0);
	assert_string_equal(kernel, "boot-1/3:4026531840");
	assert_int_equal(gen, 4000000000u);
	/* A short buffer gets a truncated, terminated string. */
	assert_int_equal(store_checkpoint_get(s, small, sizeof(small), &gen), 0);
	assert_string_equal(small, "boot-1/");

	assert_int_equal(store_checkpoint_clear(s), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_checkpoint_get(s, kernel, sizeof(kernel), &gen), -ENOENT);
	store_close(s);
}

/* --- the commit path --- */

static void test_close_commits(void **state)
{
	const char *p = path_of("close.db");
	struct store *s = NULL;
	char *err = NULL;

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_begin(s), 0); /* already open: no-op */
	assert_int_equal(store_audit_append(s, &peer, "io.netd.Test", "{}", "ok", NULL), 0);
	assert_int_equal(store_root_put(s, "ip6", "v6"), 0);
	assert_null(store_close(s));
	assert_null(store_close(NULL));
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit"), 1);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM roots"), 1);
}

static void test_writer_busy(void **state)
{
	const char *p = path_of("busy.db");
	struct store *s = NULL;
	char *err = NULL;
	sqlite3 *other;
	int64_t n;

	assert_int_equal(store_open(p, &s, &err), 0);
	/* Someone else (an auditor with a write transaction) holds the
	 * write lock: the grouped transaction cannot begin, and says so
	 * after the short busy timeout instead of waiting. */
	assert_int_equal(sqlite3_open(p, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_audit_append(s, &peer, "io.netd.Test", "{}", "ok", NULL), -EBUSY);
	assert_int_equal(store_link_delete(s, "macvtap0"), -EBUSY);
	/* The transaction failed: settling it says so. */
	assert_int_equal(store_commit(s), -EBUSY);
	assert_int_equal(store_commit(s), 0); /* nothing open */
	/* Readers still read. */
	assert_int_equal(store_audit_count(s, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);

	/* Lock released: the next write begins the transaction. */
	assert_int_equal(store_audit_append(s, &peer, "io.netd.Test", "{}", "ok", NULL), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_audit_count(s, &n), 0);
	assert_int_equal(n, 1);
	sqlite3_close(other);
	store_close(s);
}

/* A full database (max_page_count stands in for a full disk): the write
 * that does not fit fails the whole grouped transaction, SQLite's own
 * rollback included; later writes of the same iteration are refused until
 * the loop settles it; the settle reports the failure once, with its
 * reason; reads keep working; once there is room the next transaction
 * commits. */
static void test_full_rolls_back(void **state)
{
	const char *p = path_of("full.db");
	struct store *s = NULL;
	char *err = NULL, big[8192];
	int64_t n, pages;
	uint64_t txn;
	int r;

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_audit_append(s, &peer, "io.netd.Test", "{}", "ok", NULL), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_failures(s), 0);
	assert_string_equal(store_failure_reason(s), "");

	pages = raw_int(p, "PRAGMA page_count");
	assert_true(pages > 0);
	assert_int_equal(store_limit_pages(s, (unsigned)pages), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	txn = store_txn(s);
	assert_int_equal(store_link_delete(s, "macvtap0"), 0); /* fits */
	r = 0;
	for (int i = 0; i < 100 && r == 0; i++)
		r = store_audit_append(s, &peer, "io.netd.Test", big, "ok", NULL);
	assert_int_equal(r, -ENOSPC);
	assert_true(store_failed(s));
	assert_int_equal(store_txn(s), txn);
	/* A small write that would fit is refused: it would commit without
	 * the writes before it. */
	assert_int_equal(store_audit_append(s, &peer, "io.netd.Small", "{}", "ok", NULL), -ENOSPC);
	/* Reads work. */
	assert_int_equal(store_audit_count(s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_commit(s), -ENOSPC);
	assert_false(store_failed(s));
	assert_int_equal(store_failures(s), 1);
	assert_non_null(strstr(store_failure_reason(s), "full"));
	assert_int_equal(store_txn(s), txn + 1);
	/* Nothing of it reached the file. */
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit"), 1);

	/* Still full: a fresh transaction fails again, and is settled again. */
	(void)store_audit_append(s, &peer, "io.netd.Test", big, "ok", NULL);
	assert_int_equal(store_commit(s), -ENOSPC);
	assert_int_equal(store_failures(s), 2);

	/* Room again: the next call's writes commit, without a reopen. */
	assert_int_equal(store_limit_pages(s, 1u << 30), 0);
	assert_int_equal(store_audit_append(s, &peer, "io.netd.After", big, "ok", NULL), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_failures(s), 2);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit"), 2);
	store_close(s);
}

/* The COMMIT itself fails: the writes fit in SQLite's page cache, but the
 * WAL cannot grow (RLIMIT_FSIZE stands in for a full disk, in a child
 * process so the limit binds nothing else). The transaction is rolled
 * back and settled as failed (an I/O error); once the file may grow the
 * next transaction commits. */
static int commit_fails_child(const char *p)
{
	struct store *s = NULL;
	char *err = NULL, big[65536];
	struct rlimit rl;
	struct stat st;
	int64_t n = -1;

	if (store_open(p, &s, &err) < 0 || stat(path_of("commit.db-wal"), &st) < 0)
		return 10;
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	signal(SIGXFSZ, SIG_IGN);
	if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 11;
	rl.rlim_cur = (rlim_t)st.st_size; /* the hard limit stays: we raise it back */
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 11;
	if (store_audit_append(s, &peer, "io.netd.Big", big, "ok", NULL) < 0)
		return 12; /* the write must fit in the cache */
	if (store_commit(s) != -EIO || store_failures(s) != 1 || !*store_failure_reason(s))
		return 13;
	if (store_audit_count(s, &n) < 0 || n != 0)
		return 14; /* rolled back; reads work */
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 15;
	if (store_audit_append(s, &peer, "io.netd.After", "{}", "ok", NULL) < 0 ||
	    store_commit(s) < 0 || store_audit_count(s, &n) < 0 || n != 1)
		return 16;
	store_close(s);
	return 0;
}

static void test_commit_fails(void **state)
{
	const char *p = path_of("commit.db");
	struct store *s = NULL;
	char *err = NULL;
	int status;
	pid_t pid;

	assert_int_equal(store_open(p, &s, &err), 0);
	store_close(s);
	/* Keep a WAL file around (closing removes it). */
	assert_int_equal(raw_exec(p, "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS x (a)"),
			 SQLITE_OK);
	assert_int_equal(raw_exec(p, "DROP TABLE x"), SQLITE_OK);
	{
		int fd = open(path_of("commit.db-wal"), O_WRONLY | O_CREAT, 0600);

		assert_true(fd >= 0);
		close(fd);
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(commit_fails_child(p));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit"), 1);
}

/* A transaction that could not even begin (another writer holds the
 * lock) is settled as failed too, and numbered; a settle with nothing
 * written takes no number. */
static void test_failed_begin_settles(void **state)
{
	const char *p = path_of("begin.db");
	struct store *s = NULL;
	char *err = NULL;
	sqlite3 *other;
	uint64_t txn;

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(sqlite3_open(p, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	txn = store_txn(s);
	assert_int_equal(store_link_delete(s, "macvtap0"), -EBUSY);
	assert_int_equal(store_commit(s), -EBUSY);
	assert_int_equal(store_txn(s), txn + 1);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(store_link_delete(s, "macvtap0"), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_txn(s), txn + 2);
	/* Nothing written: no new transaction number. */
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_txn(s), txn + 2);
	store_close(s);
}

/* db/007: what happened and who, one transaction with the rest. */
static void test_audit_outcome(void **state)
{
	const char *p = path_of("outcome.db");
	const struct store_peer who = { .uid = 1000, .gid = 100, .pid = 77, .comm = "virtqemud",
					.unit = "virtqemud.service" };
	struct store *s = NULL;
	char *err = NULL;

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_audit_append_outcome(s, &who, "io.netd.DeleteLinks", "{\"owner\":\"g\"}",
						    "ok", NULL, "{\"deleted\":[\"macvtap3\"]}"), 0);
	assert_int_equal(store_audit_event(s, "netd.Reload", NULL, "failed", "{\"error\":\"x\"}"), 0);
	/* Empty strings are unknown, as NULL. */
	assert_int_equal(store_audit_append_outcome(s, &(struct store_peer){ .comm = "", .unit = "" },
						    "io.netd.Resync", "{}", "ok", NULL, NULL), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit, json_each(audit.outcome, '$.deleted')"
				 " WHERE json_each.value = 'macvtap3' AND peer_comm = 'virtqemud'"
				 " AND peer_unit = 'virtqemud.service' AND peer_pid = 77"), 1);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit WHERE method = 'netd.Reload'"
				 " AND parameters = 'null' AND result = 'failed' AND peer_comm = 'netd'"
				 " AND peer_unit IS NULL AND json_extract(outcome, '$.error') = 'x'"), 1);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM audit WHERE method = 'io.netd.Resync'"
				 " AND peer_comm IS NULL AND peer_unit IS NULL AND outcome IS NULL"), 1);
}

/* The backend of a binding and the nftables fingerprint (db/008). */
struct backend_seen {
	char backend[2][16], nft_norm[2][16];
	unsigned n;
};

static void backend_cb(void *userdata, const struct store_binding_row *row)
{
	struct backend_seen *b = userdata;
	unsigned i = strcmp(row->port, "macvtap0") == 0;

	snprintf(b->backend[i], sizeof(b->backend[i]), "%s", row->backend);
	snprintf(b->nft_norm[i], sizeof(b->nft_norm[i]), "%s", row->nft_norm);
	b->n++;
}

static void test_bindings_backend(void **state)
{
	const char *p = path_of("backend.db");
	struct store *s = NULL;
	char *err = NULL;
	struct backend_seen seen = { 0 };
	struct store_binding_row row = {
		.port = "vnet0", .filter = "clean-traffic", .owner = "guest1",
		.parameters = "{}", .desired_hash = "d0", .applied_hash = "",
		.norm = { "", "", "" }, .state = "pending",
	};

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_binding_put(s, &row), 0);
	row.port = "macvtap0";
	row.backend = "nftables";
	row.nft_norm = "n1";
	assert_int_equal(store_binding_put(s, &row), 0);
	row.port = "macvtap1";
	row.backend = "iptables"; /* not a backend */
	assert_int_equal(store_binding_put(s, &row), -EEXIST);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_bindings_foreach(s, backend_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.backend[0], "xtables");
	assert_string_equal(seen.nft_norm[0], "");
	assert_string_equal(seen.backend[1], "nftables");
	assert_string_equal(seen.nft_norm[1], "n1");
	store_close(s);
}


/* A binding's learning and when its address was learned (db/009). */
struct learning_seen {
	char learning[2][8], learned_at[2][32];
	bool null_at[2];
	unsigned n;
};

static void learning_cb(void *userdata, const struct store_binding_row *row)
{
	struct learning_seen *l = userdata;
	unsigned i = strcmp(row->port, "vnet1") == 0;

	snprintf(l->learning[i], sizeof(l->learning[i]), "%s", row->learning);
	l->null_at[i] = !row->learned_at;
	snprintf(l->learned_at[i], sizeof(l->learned_at[i]), "%s", row->learned_at ? row->learned_at : "");
	l->n++;
}

static void test_bindings_learning(void **state)
{
	const char *p = path_of("learning.db");
	struct store *s = NULL;
	char *err = NULL;
	struct learning_seen seen = { 0 };
	struct store_binding_row row = {
		.port = "vnet0", .filter = "clean-traffic", .owner = "guest1",
		.parameters = "{}", .desired_hash = "d0", .applied_hash = "",
		.norm = { "", "", "" }, .state = "applied", .learning = "dhcp",
	};

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_binding_put(s, &row), 0);
	row.port = "vnet1";
	row.learning = "any";
	row.learned_at = "2026-01-01T00:00:00Z";
	assert_int_equal(store_binding_put(s, &row), 0);
	row.port = "vnet2";
	row.learning = "arp"; /* not a mode */
	assert_int_equal(store_binding_put(s, &row), -EEXIST);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_bindings_foreach(s, learning_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.learning[0], "dhcp");
	assert_true(seen.null_at[0]);
	assert_string_equal(seen.learning[1], "any");
	assert_string_equal(seen.learned_at[1], "2026-01-01T00:00:00Z");
	store_close(s);
}

/* What a binding was rendered from and which chains it has (db/010)
 * come back as written; a row without them (written by an older netd)
 * reads as "" and 0. */
struct inputs_seen {
	unsigned n;
	char input_hash[2][70];
	unsigned chains[2];
};

static void inputs_cb(void *userdata, const struct store_binding_row *row)
{
	struct inputs_seen *s = userdata;

	if (s->n < 2) {
		snprintf(s->input_hash[s->n], sizeof(s->input_hash[0]), "%s", row->input_hash);
		s->chains[s->n] = row->chains;
	}
	s->n++;
}

static void test_bindings_inputs(void **state)
{
	const char *p = path_of("inputs.db");
	struct store *s = NULL;
	char *err = NULL;
	struct inputs_seen seen = { 0 };
	struct store_binding_row row = {
		.port = "vnet0", .filter = "clean-traffic", .owner = "guest1",
		.parameters = "{}", .desired_hash = "d0", .applied_hash = "",
		.norm = { "", "", "" }, .state = "applied", .input_hash = "i0", .chains = 0x83,
	};

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_binding_put(s, &row), 0);
	row.port = "vnet1";
	row.input_hash = NULL;
	row.chains = 0;
	assert_int_equal(store_binding_put(s, &row), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_bindings_foreach(s, inputs_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.input_hash[0], "i0");
	assert_int_equal(seen.chains[0], 0x83);
	assert_string_equal(seen.input_hash[1], "");
	assert_int_equal(seen.chains[1], 0);
	store_close(s);
}

/* --- migrations --- */

static void test_migrate_from_older(void **state)
{
	const char *p = path_of("older.db");
	struct store *s = NULL;
	char *err = NULL;
	int latest = store_latest_version();
	char sql[800];

	assert_true(latest >= 4);
	assert_int_equal(store_open(p, &s, &err), 0);
	store_close(s);
	/* As a netd of schema 3 left it. */
	snprintf(sql, sizeof(sql), "DROP INDEX audit_method; ALTER TABLE audit DROP COLUMN outcome;"
		 " ALTER TABLE audit DROP COLUMN peer_comm; ALTER TABLE audit DROP COLUMN peer_unit;"
		 " DROP INDEX links_op; ALTER TABLE links DROP COLUMN op;"
		 " DROP TABLE filter_checkpoint; ALTER TABLE bindings DROP COLUMN backend;"
		 " ALTER TABLE bindings DROP COLUMN nft_norm; ALTER TABLE bindings DROP COLUMN learning;"
		 " ALTER TABLE bindings DROP COLUMN learned_at; ALTER TABLE bindings DROP COLUMN input_hash;"
		 " ALTER TABLE bindings DROP COLUMN chains; PRAGMA user_version = 3");
	assert_int_equal(raw_exec(p, sql), SQLITE_OK);
	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_version(s), latest);
	store_close(s);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'filter_checkpoint'"), 1);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM pragma_table_info('bindings')"
				    " WHERE name IN ('backend', 'nft_norm')"), 2);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM pragma_table_info('bindings')"
				    " WHERE name IN ('learning', 'learned_at')"), 2);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM pragma_table_info('bindings')"
				    " WHERE name IN ('input_hash', 'chains')"), 2);
	assert_int_equal(raw_int(p, "PRAGMA user_version"), latest);
}

static void test_migration_fails(void **state)
{
	const char *p = path_of("badmigration.db");
	struct store *s = NULL;
	char *err = NULL;

	assert_int_equal(store_open(p, &s, &err), 0);
	s = store_close(s);
	/* Says 3 but already has 004's table: 004 fails, is rolled back, and
	 * the version stays. */
	assert_int_equal(raw_exec(p, "PRAGMA user_version = 3"), SQLITE_OK);
	assert_true(store_open(p, &s, &err) < 0);
	assert_null(s);
	assert_non_null(err);
	assert_non_null(strstr(err, "migration 004"));
	free(err);
	assert_int_equal(raw_int(p, "PRAGMA user_version"), 3);
}

/* --- the WAL and its helper process --- */

static void test_wal_checkpoint_file(void **state)
{
	const char *p = path_of("walfile.db");
	struct store *s = NULL;
	char *err = NULL;

	assert_int_equal(store_open(p, &s, &err), 0);
	assert_int_equal(store_wal_frames(s), 0);
	assert_int_equal(store_audit_append(s, &peer, "io.netd.Test", "{}", "ok", NULL), 0);
	assert_int_equal(store_commit(s), 0);
	assert_true(store_wal_frames(s) > 0);
	/* A connection of its own, while the store's stays open. */
	assert_int_equal(store_wal_checkpoint_file(p), 0);
	store_close(s);
	assert_int_equal(store_wal_checkpoint_file(path_of("no-such.db")), -EIO);
}

static void test_wal_helper(void **state)
{
	const char *p = path_of("walhelper.db");
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct store_wal *h = NULL;
	struct store *s = NULL;
	char *err = NULL;
	char *big = malloc(6u << 20);
	uint64_t deadline;

	assert_non_null(loop);
	assert_non_null(big);
	assert_int_equal(store_wal_checkpoints(NULL), 0);
	assert_null(store_wal_helper_stop(NULL));
	/* Forked first, then the database opened, as the daemon does. */
	assert_int_equal(store_wal_helper_start(loop, p, &h), 0);
	assert_int_equal(store_open(p, &s, &err), 0);
	store_wal_helper_watch(h, s);

	/* More than 1000 frames (pages) in one commit. */
	memset(big, 'x', (6u << 20) - 1);
	big[(6u << 20) - 1] = '\0';
	assert_int_equal(store_audit_append(s, &peer, "io.netd.Test", big, "ok", NULL), 0);
	assert_int_equal(store_commit(s), 0);
	assert_true(store_wal_frames(s) > 1000);

	deadline = now_usec() + 10u * 1000000u;
	while (store_wal_checkpoints(h) == 0 && now_usec() < deadline)
		ev_run(loop, EVRUN_ONCE);
	assert_int_equal(store_wal_checkpoints(h), 1);

	store_wal_helper_quiesce(h);
	assert_null(store_wal_helper_stop(h));
	store_close(s);
	ev_loop_destroy(loop);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_and_reopen),
		cmocka_unit_test(test_wal_and_pragmas),
		cmocka_unit_test(test_grouped_transaction),
		cmocka_unit_test(test_audit_append_only),
		cmocka_unit_test(test_audit_prune),
		cmocka_unit_test(test_audit_outcome),
		cmocka_unit_test(test_refuse_garbage),
		cmocka_unit_test(test_refuse_foreign_sqlite),
		cmocka_unit_test(test_refuse_newer),
		cmocka_unit_test(test_empty_file_is_new),
		cmocka_unit_test(test_cannot_open),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_bindings),
		cmocka_unit_test(test_bindings_backend),
		cmocka_unit_test(test_roots),
		cmocka_unit_test(test_checkpoint),
		cmocka_unit_test(test_close_commits),
		cmocka_unit_test(test_writer_busy),
		cmocka_unit_test(test_full_rolls_back),
		cmocka_unit_test(test_failed_begin_settles),
		cmocka_unit_test(test_commit_fails),
		cmocka_unit_test(test_bindings_learning),
		cmocka_unit_test(test_bindings_inputs),
		cmocka_unit_test(test_migrate_from_older),
		cmocka_unit_test(test_migration_fails),
		cmocka_unit_test(test_wal_checkpoint_file),
		cmocka_unit_test(test_wal_helper),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
