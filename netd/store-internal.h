/*
 * store-internal.h: what store.c and store-rows.c share, and nobody
 * else (with store.c, the only files that include sqlite3.h).
 */
#ifndef NETD_STORE_INTERNAL_H
#define NETD_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

enum stmt_id {
	STMT_LINK_PUT,
	STMT_LINK_DELETE,
	STMT_LINKS_SETTLE,
	STMT_LINKS_MARK_DELETING,
	STMT_NAMES_MARK_RELEASING,
	STMT_NAME_PUT,
	STMT_NAME_DELETE,
	STMT_LINKS_ALL,
	STMT_NAMES_ALL,
	STMT_BINDING_PUT,
	STMT_BINDING_DELETE,
	STMT_BINDINGS_ALL,
	STMT_ROOT_PUT,
	STMT_ROOTS_ALL,
	STMT_CHECKPOINT_PUT,
	STMT_CHECKPOINT_CLEAR,
	STMT_CHECKPOINT_GET,
	_STMT_MAX,
};

struct store {
	sqlite3 *db;
	unsigned wal_frames;       /* frames in the WAL after the last commit */
	int version;
	bool in_txn;
	/* The grouped transaction: its number (counted up at every settle,
	 * see store_commit()) and, once a write or its COMMIT failed, why:
	 * SQLite may already have rolled it back by itself (SQLITE_FULL,
	 * IOERR), so netd rolls back what is left and refuses further writes
	 * until the loop has settled the failure, lest later writes of the
	 * same iteration commit without the earlier ones. */
	uint64_t txn;
	bool wrote;              /* a write joined transaction txn */
	int failed;              /* 0, or -errno of the failed transaction */
	char reason[160];
	uint64_t failures;       /* transactions that failed, settled */
	char last_reason[160];   /* why the last of them failed */
	sqlite3_stmt *audit_insert;
	/* BEGIN IMMEDIATE and COMMIT, prepared once: parsing them again
	 * for each of a BindFilter's two transactions was 4 % of its CPU. */
	sqlite3_stmt *begin, *commit;
	sqlite3_stmt *stmts[_STMT_MAX];
};

/* Step a write statement inside the grouped transaction. A row the
 * schema's CHECKs refuse fails that statement only (-EEXIST); any other
 * failure fails the whole transaction (see store_commit()). */
int store_step_write(struct store *s, sqlite3_stmt *st);

/* An SQLite result code as -errno (0 for SQLITE_OK). */
int store_errno_from_sqlite(int rc);

#endif
