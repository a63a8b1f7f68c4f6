/*
 * store.c: see store.h. Opening and migrating the database, the grouped
 * transaction and its failures, the audit rows and the WAL. The rows of
 * links, names, bindings and the checkpoint are in store-rows.c.
 *
 * synchronous=NORMAL in WAL mode survives a crash of netd (kill -9) without
 * losing a committed transaction; only a power loss can drop the last
 * commits, and then the kernel's devices are gone too, so the start-up
 * reconciliation repairs both sides. FULL would cost an fsync per loop
 * iteration for no state that outlives the kernel's.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embedded.h"
#include "store-internal.h"
#include "store.h"
#include "util.h"

/* How long a write waits for a lock someone else holds (an auditor's
 * write transaction, say) before failing; kept short because the loop
 * waits meanwhile. Readers never block netd in WAL mode. */
#define STORE_BUSY_TIMEOUT_MS 250

static int wal_hook(void *userdata, sqlite3 *db, const char *name, int frames)
{
	((struct store *)userdata)->wal_frames = frames > 0 ? (unsigned)frames : 0;
	return SQLITE_OK;
}

int store_errno_from_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
	case SQLITE_FORMAT:
		return -EINVAL;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	default:
		return -EIO;
	}
}

static int exec(struct store *s, const char *sql)
{
	return store_errno_from_sqlite(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

static int query_int(sqlite3 *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*ret = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int store_latest_version(void)
{
	return (int)embedded_migrations_count;
}

int store_version(const struct store *s)
{
	assert(s);
	return s->version;
}

static int set_error(char **ret_error, const char *path, const char *what,
		     const char *why)
{
	if (asprintf(ret_error, "database '%s': %s%s%s", path, what,
		     why ? ": " : "", why ? why : "") < 0)
		*ret_error = NULL;
	return 0;
}

/* Decide whether db is a fresh file, a netd database we can use, or
 * something we must not touch. */
static int check_identity(struct store *s, const char *path, char **ret_error)
{
	int64_t app_id = 0, version = 0, objects = 0;
	int rc;

	/* The first read of the header is where a non-SQLite file shows. */
	rc = query_int(s->db, "SELECT count(*) FROM sqlite_master", &objects);
	if (rc != SQLITE_OK) {
		set_error(ret_error, path,
			  rc == SQLITE_NOTADB ? "is not an SQLite database" : "cannot be read",
			  rc == SQLITE_NOTADB ? NULL : sqlite3_errmsg(s->db));
		return rc == SQLITE_NOTADB ? -EINVAL : store_errno_from_sqlite(rc);
	}
	if (query_int(s->db, "PRAGMA application_id", &app_id) != SQLITE_OK ||
	    query_int(s->db, "PRAGMA user_version", &version) != SQLITE_OK) {
		set_error(ret_error, path, "cannot be read", sqlite3_errmsg(s->db));
		return -EIO;
	}

	if (app_id == 0 && version == 0 && objects == 0) {
		s->version = 0; /* new, empty: migrate from scratch */
		return 0;
	}
	if (app_id != STORE_APPLICATION_ID) {
		char why[128];

		snprintf(why, sizeof(why), "application_id %lld, %lld schema objects",
			 (long long)app_id, (long long)objects);
		set_error(ret_error, path, "is an SQLite database but not a netd database", why);
		return -EINVAL;
	}
	if (version > store_latest_version()) {
		char why[128];

		snprintf(why, sizeof(why), "schema version %lld, this netd knows up to %d",
			 (long long)version, store_latest_version());
		set_error(ret_error, path, "was written by a newer netd", why);
		return -EPROTO;
	}
	s->version = (int)version;
	return 0;
}

static int migrate(struct store *s, const char *path, char **ret_error)
{
	for (int v = s->version + 1; v <= store_latest_version(); v++) {
		const struct embedded_file *m = &embedded_migrations[v - 1];
		char *errmsg = NULL;
		char pragma[64];
		int rc;

		/* Files are named NNN_*.sql; NNN must be their position. */
		if (atoi(m->name) != v) {
			set_error(ret_error, path, "migration out of order", m->name);
			return -EINVAL;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d;", v);
		rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &errmsg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, m->text, NULL, NULL, &errmsg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, pragma, NULL, NULL, &errmsg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, &errmsg);
		if (rc != SQLITE_OK) {
			char what[128];

			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			snprintf(what, sizeof(what), "migration %s failed", m->name);
			set_error(ret_error, path, what, errmsg ? errmsg : sqlite3_errmsg(s->db));
			sqlite3_free(errmsg);
			return store_errno_from_sqlite(rc) ?: -EIO;
		}
		s->version = v;
	}
	return 0;
}

int store_open(const char *path, struct store **ret, char **ret_error)
{
	struct store *s;
	int rc, r;

	assert(path);
	assert(ret);
	assert(ret_error);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;

	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
			     SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		set_error(ret_error, path, "cannot be opened",
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		r = store_errno_from_sqlite(rc) ?: -EIO;
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 0);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);

	r = check_identity(s, path, ret_error);
	if (r < 0)
		goto fail;

	/* journal_mode cannot change inside a transaction, so before any. */
	/* No automatic WAL checkpoint: run inside a commit, it copies the
	 * WAL into the database and fsyncs both, 5-12 ms that every reply of
	 * that iteration would wait for. The daemon checkpoints from a child
	 * process instead (store_wal_checkpoint_file()), which WAL allows
	 * while this connection keeps writing. */
	if (exec(s, "PRAGMA journal_mode = WAL") < 0 ||
	    exec(s, "PRAGMA synchronous = NORMAL") < 0 ||
	    exec(s, "PRAGMA wal_autocheckpoint = 0") < 0 ||
	    exec(s, "PRAGMA foreign_keys = ON") < 0) {
		set_error(ret_error, path, "cannot be configured", sqlite3_errmsg(s->db));
		r = -EIO;
		goto fail;
	}

	r = migrate(s, path, ret_error);
	if (r < 0)
		goto fail;
	sqlite3_wal_hook(s->db, wal_hook, s);

	rc = sqlite3_prepare_v3(s->db,
				"INSERT INTO audit (peer_uid, peer_gid, peer_pid, method, parameters, result,"
				" detail, outcome, peer_comm, peer_unit)"
				" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				-1, SQLITE_PREPARE_PERSISTENT, &s->audit_insert, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(s->db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT,
					&s->begin, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(s->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT,
					&s->commit, NULL);
	if (rc != SQLITE_OK) {
		set_error(ret_error, path, "cannot prepare statements", sqlite3_errmsg(s->db));
		r = store_errno_from_sqlite(rc) ?: -EIO;
		goto fail;
	}

	*ret = s;
	return 0;
fail:
	sqlite3_finalize(s->audit_insert);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_close_v2(s->db);
	free(s);
	return r;
}

struct store *store_close(struct store *s)
{
	if (!s)
		return NULL;
	store_commit(s);
	sqlite3_finalize(s->audit_insert);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	for (int i = 0; i < _STMT_MAX; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close_v2(s->db);
	free(s);
	return NULL;
}

/* The grouped transaction failed with rc: keep why, and roll back what
 * SQLite left open (it may have rolled back by itself already). */
static int fail_txn(struct store *s, int rc)
{
	int r = store_errno_from_sqlite(rc) ?: -EIO;

	if (!s->failed) {
		s->failed = r;
		snprintf(s->reason, sizeof(s->reason), "%s", sqlite3_errmsg(s->db));
	}
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_txn = false;
	return r;
}

/* Run one of the prepared transaction statements: an SQLite result
 * code, SQLITE_OK when done. The reset leaves a failure's message on the
 * connection for fail_txn(). */
static int txn_step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int store_begin(struct store *s)
{
	int rc;

	assert(s);
	if (s->failed)
		return s->failed;
	if (s->in_txn)
		return 0;
	rc = txn_step(s->begin);
	if (rc != SQLITE_OK)
		return fail_txn(s, rc);
	s->in_txn = true;
	return 0;
}

int store_commit(struct store *s)
{
	int rc, r = 0;

	assert(s);
	if (s->in_txn && !s->failed) {
		rc = txn_step(s->commit);
		if (rc != SQLITE_OK)
			fail_txn(s, rc);
		else
			s->in_txn = false;
	}
	if (s->failed) {
		r = s->failed;
		s->failed = 0;
		s->failures++;
		snprintf(s->last_reason, sizeof(s->last_reason), "%s", s->reason);
	}
	if (r < 0 || s->wrote)
		s->txn++;
	s->wrote = false;
	return r;
}

uint64_t store_txn(const struct store *s)
{
	assert(s);
	return s->txn;
}

uint64_t store_failures(const struct store *s)
{
	assert(s);
	return s->failures;
}

const char *store_failure_reason(const struct store *s)
{
	assert(s);
	return s->last_reason;
}

int store_limit_pages(struct store *s, unsigned pages)
{
	char sql[64];

	assert(s);
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %u", pages);
	return exec(s, sql) < 0 ? -EIO : 0;
}

bool store_failed(const struct store *s)
{
	assert(s);
	return s->failed != 0;
}

bool store_in_txn(const struct store *s)
{
	assert(s);
	return s->in_txn;
}

/* Step a write statement inside the grouped transaction. A row the
 * schema's CHECKs refuse fails that statement only (SQLite undoes just
 * it); any other failure (full, I/O, read-only, busy, no memory) fails the
 * whole transaction: the iteration's writes go together or not at all. */
int store_step_write(struct store *s, sqlite3_stmt *st)
{
	int rc;

	s->wrote = true;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return -EEXIST;
	return fail_txn(s, rc);
}

/* Bind text or NULL. */
static void bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
	if (text)
		sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int store_audit_append_outcome(struct store *s, const struct store_peer *peer,
			       const char *method, const char *params, const char *result,
			       const char *detail, const char *outcome)
{
	sqlite3_stmt *st;
	int r;

	assert(s);
	assert(peer);
	assert(method);
	assert(params);
	assert(result);
	st = s->audit_insert;
	r = store_begin(s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)peer->uid);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)peer->gid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)peer->pid);
	sqlite3_bind_text(st, 4, method, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, params, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, result, -1, SQLITE_STATIC);
	bind_text_or_null(st, 7, detail);
	bind_text_or_null(st, 8, outcome);
	bind_text_or_null(st, 9, peer->comm && *peer->comm ? peer->comm : NULL);
	bind_text_or_null(st, 10, peer->unit && *peer->unit ? peer->unit : NULL);
	return store_step_write(s, st);
}

int store_audit_append(struct store *s, const struct store_peer *peer,
		       const char *method, const char *params,
		       const char *result, const char *detail)
{
	return store_audit_append_outcome(s, peer, method, params, result, detail, NULL);
}

int store_audit_event(struct store *s, const char *method, const char *params,
		      const char *result, const char *outcome)
{
	const struct store_peer self = {
		.uid = getuid(), .gid = getgid(), .pid = getpid(), .comm = "netd",
	};

	return store_audit_append_outcome(s, &self, method, params ? params : "null", result,
					  NULL, outcome);
}

int store_audit_count(struct store *s, int64_t *ret)
{
	int64_t n;
	int rc;

	assert(s);
	assert(ret);
	rc = query_int(s->db, "SELECT count(*) FROM audit", &n);
	if (rc != SQLITE_OK)
		return store_errno_from_sqlite(rc) ?: -EIO;
	*ret = n;
	return 0;
}

static void sqlite3_finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}

int store_audit_span(struct store *s, int64_t *ret_lo, int64_t *ret_hi)
{
	_cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
	int rc;

	assert(s);
	assert(ret_lo);
	assert(ret_hi);
	rc = sqlite3_prepare_v2(s->db, "SELECT min(id), max(id) FROM audit", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return store_errno_from_sqlite(rc) ?: -EIO;
	if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		return -ENOENT;
	*ret_lo = sqlite3_column_int64(st, 0);
	*ret_hi = sqlite3_column_int64(st, 1);
	return 0;
}

int store_audit_old_head(struct store *s, unsigned days, unsigned limit, int64_t *ret)
{
	_cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
	char age[32];
	int rc;

	assert(s);
	assert(ret);
	snprintf(age, sizeof(age), "-%u days", days);
	rc = sqlite3_prepare_v2(s->db,
				"SELECT coalesce(max(id), 0) FROM (SELECT id, time FROM audit ORDER BY id LIMIT ?)"
				" WHERE time < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, limit);
		sqlite3_bind_text(st, 2, age, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_ROW)
		return store_errno_from_sqlite(rc) ?: -EIO;
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

int store_audit_prune(struct store *s, int64_t last)
{
	_cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
	int rc, r;

	assert(s);
	r = store_begin(s);
	if (r < 0)
		return r;
	rc = sqlite3_prepare_v2(s->db, "DELETE FROM audit WHERE id <= ?", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, last);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		return store_errno_from_sqlite(rc) ?: -EIO;
	return sqlite3_changes(s->db);
}

unsigned store_wal_frames(const struct store *s)
{
	assert(s);
	return s->wal_frames;
}

int store_wal_checkpoint_file(const char *path)
{
	sqlite3 *db = NULL;
	int rc;

	assert(path);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
		rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	}
	if (rc != SQLITE_OK)
		fprintf(stderr, "%s: WAL checkpoint: %s\n", path,
			db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -EIO;
}
