/*
 * store-rows.c: the rows of links, names, bindings, roots and the filter
 * checkpoint, through cached prepared statements, written inside the
 * grouped transaction of store.c.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"
#include "store.h"
#include "util.h"

/* STORE_MARK_MAX places for names, after ?1. */
#define MARK_4 "?,?,?,?"
#define MARK_16 MARK_4 "," MARK_4 "," MARK_4 "," MARK_4
#define MARK_PLACES MARK_16 "," MARK_16 "," MARK_16 "," MARK_16
/* "?," for each but the last, which has the NUL. */
_Static_assert(sizeof(MARK_PLACES) == 2 * STORE_MARK_MAX, "MARK_PLACES: STORE_MARK_MAX places");

static const char *const stmt_sql[_STMT_MAX] = {
	[STMT_LINK_PUT] =
		"INSERT OR REPLACE INTO links (name, ifindex, kind, mode, parent, mac, owner, state, created, op)"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ?)",
	[STMT_LINK_DELETE] = "DELETE FROM links WHERE name = ?",
	[STMT_LINKS_SETTLE] = "UPDATE links SET op = NULL WHERE op = ?",
	[STMT_LINKS_MARK_DELETING] =
		"UPDATE links SET state = 'deleting', op = ?1 WHERE state = 'present' AND op IS NULL"
		" AND name IN (" MARK_PLACES ")",
	[STMT_NAMES_MARK_RELEASING] =
		"UPDATE names SET state = 'releasing' WHERE state = 'owned' AND ?1 > 0"
		" AND name IN (" MARK_PLACES ")",
	[STMT_NAME_PUT] = "INSERT OR REPLACE INTO names (prefix, idx, name, state) VALUES (?, ?, ?, ?)",
	[STMT_NAME_DELETE] = "DELETE FROM names WHERE prefix = ? AND idx = ?",
	[STMT_LINKS_ALL] =
		"SELECT name, ifindex, kind, mode, parent, mac, owner, state, created, op FROM links",
	[STMT_NAMES_ALL] = "SELECT prefix, idx, name, state FROM names",
	[STMT_BINDING_PUT] =
		"INSERT OR REPLACE INTO bindings (port, filter, owner, parameters, desired_hash,"
		" applied_hash, eb_norm, ip4_norm, ip6_norm, state, error, created, applied,"
		" backend, nft_norm, learning, learned_at, input_hash, chains)"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
		" coalesce(?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ?, ?, ?, ?, ?, ?, ?)",
	[STMT_BINDING_DELETE] = "DELETE FROM bindings WHERE port = ?",
	[STMT_BINDINGS_ALL] =
		"SELECT port, filter, owner, parameters, desired_hash, applied_hash, eb_norm,"
		" ip4_norm, ip6_norm, state, error, created, applied, backend, nft_norm, learning,"
		" learned_at, input_hash, chains FROM bindings",
	[STMT_ROOT_PUT] = "INSERT OR REPLACE INTO roots (family, norm) VALUES (?, ?)",
	[STMT_ROOTS_ALL] = "SELECT family, norm FROM roots",
	[STMT_CHECKPOINT_PUT] =
		"INSERT OR REPLACE INTO filter_checkpoint (id, kernel, generation) VALUES (1, ?, ?)",
	[STMT_CHECKPOINT_CLEAR] = "DELETE FROM filter_checkpoint",
	[STMT_CHECKPOINT_GET] = "SELECT kernel, generation FROM filter_checkpoint WHERE id = 1",
};

/* The cached statement id, prepared on first use, reset and ready to bind. */
static sqlite3_stmt *stmt(struct store *s, enum stmt_id id)
{
	assert(s);
	if (!s->stmts[id] &&
	    sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
			       &s->stmts[id], NULL) != SQLITE_OK)
		return NULL;
	return s->stmts[id];
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* The cached statement id, inside the grouped transaction (opened if
 * need be), ready to bind; -errno on failure. */
static int write_stmt(struct store *s, enum stmt_id id, sqlite3_stmt **ret)
{
	sqlite3_stmt *st = stmt(s, id);
	int r;

	if (!st)
		return -EIO;
	r = store_begin(s);
	if (r < 0)
		return r;
	*ret = st;
	return 0;
}


int store_link_put(struct store *s, const struct store_link_row *row)
{
	sqlite3_stmt *st;
	int r = write_stmt(s, STMT_LINK_PUT, &st);

	assert(row);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, row->ifindex);
	sqlite3_bind_text(st, 3, row->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, row->mode, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, row->parent, -1, SQLITE_STATIC);
	bind_text_or_null(st, 6, row->mac);
	sqlite3_bind_text(st, 7, row->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, row->state, -1, SQLITE_STATIC);
	bind_text_or_null(st, 9, row->created);
	if (row->op)
		sqlite3_bind_int64(st, 10, (sqlite3_int64)row->op);
	else
		sqlite3_bind_null(st, 10);
	return store_step_write(s, st);
}

int store_links_settle(struct store *s, uint64_t op)
{
	sqlite3_stmt *st;
	int r = write_stmt(s, STMT_LINKS_SETTLE, &st);

	assert(op > 0);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)op);
	return store_step_write(s, st);
}

int store_links_mark_deleting(struct store *s, uint64_t op, const char *const *names, unsigned n)
{
	sqlite3_stmt *st;
	unsigned changed;
	int r;

	assert(op > 0 && names && n <= STORE_MARK_MAX);
	for (int pass = 0; pass < 2; pass++) {
		r = write_stmt(s, pass ? STMT_NAMES_MARK_RELEASING : STMT_LINKS_MARK_DELETING, &st);
		if (r < 0)
			return r;
		/* Unused places stay NULL: "name IN (NULL)" matches nothing. */
		for (unsigned i = 0; i < n; i++)
			sqlite3_bind_text(st, (int)i + 2, names[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)op);
		r = store_step_write(s, st);
		if (r < 0)
			return r;
		changed = (unsigned)sqlite3_changes(s->db);
		if (pass == 0 && changed != n)
			return -ESTALE;
	}
	return 0;
}

int store_link_delete(struct store *s, const char *name)
{
	sqlite3_stmt *st;
	int r = write_stmt(s, STMT_LINK_DELETE, &st);

	assert(name);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return store_step_write(s, st);
}

int store_name_put(struct store *s, const char *prefix, unsigned idx, const char *name,
		   const char *state)
{
	sqlite3_stmt *st;
	int r = write_stmt(s, STMT_NAME_PUT, &st);

	assert(prefix);
	assert(name);
	assert(state);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, idx);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
	return store_step_write(s, st);
}

int store_name_delete(struct store *s, const char *prefix, unsigned idx)
{
	sqlite3_stmt *st;
	int r = write_stmt(s, STMT_NAME_DELETE, &st);

	assert(prefix);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, idx);
	return store_step_write(s, st);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int store_links_foreach(struct store *s, store_link_fn fn, void *userdata)
{
	sqlite3_stmt *st = stmt(s, STMT_LINKS_ALL);
	int rc;

	assert(fn);
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_link_row row = {
			.name = col_text(st, 0),
			.ifindex = sqlite3_column_int(st, 1),
			.kind = col_text(st, 2),
			.mode = col_text(st, 3),
			.parent = col_text(st, 4),
			.mac = col_text(st, 5),
			.owner = col_text(st, 6),
			.state = col_text(st, 7),
			.created = col_text(st, 8),
			.op = (uint64_t)sqlite3_column_int64(st, 9),
		};
		fn(userdata, &row);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : (store_errno_from_sqlite(rc) ?: -EIO);
}

int store_names_foreach(struct store *s, store_name_fn fn, void *userdata)
{
	sqlite3_stmt *st = stmt(s, STMT_NAMES_ALL);
	int rc;

	assert(fn);
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(userdata, col_text(st, 0), (unsigned)sqlite3_column_int64(st, 1),
		   col_text(st, 2), col_text(st, 3));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : (store_errno_from_sqlite(rc) ?: -EIO);
}

int store_binding_put(struct store *s, const struct store_binding_row *row)
{
	sqlite3_stmt *st;
	int r = write_stmt(s, STMT_BINDING_PUT, &st);

	assert(row);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, row->port, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, row->filter, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, row->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, row->parameters, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, row->desired_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, row->applied_hash, -1, SQLITE_STATIC);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_text(st, 7 + i, row->norm[i], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, row->state, -1, SQLITE_STATIC);
	bind_text_or_null(st, 11, row->error);
	bind_text_or_null(st, 12, row->created);
	bind_text_or_null(st, 13, row->applied);
	sqlite3_bind_text(st, 14, row->backend ? row->backend : "xtables", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 15, row->nft_norm ? row->nft_norm : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 16, row->learning ? row->learning : "", -1, SQLITE_STATIC);
	bind_text_or_null(st, 17, row->learned_at);
	sqlite3_bind_text(st, 18, row->input_hash ? row->input_hash : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 19, row->chains);
	return store_step_write(s, st);
}

int store_binding_delete(struct store *s, const char *port)
{
	sqlite3_stmt *st;
	int r = write_stmt(s, STMT_BINDING_DELETE, &st);

	assert(port);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, port, -1, SQLITE_STATIC);
	return store_step_write(s, st);
}

int store_bindings_foreach(struct store *s, store_binding_fn fn, void *userdata)
{
	sqlite3_stmt *st = stmt(s, STMT_BINDINGS_ALL);
	int rc;

	assert(fn);
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_binding_row row = {
			.port = col_text(st, 0),
			.filter = col_text(st, 1),
			.owner = col_text(st, 2),
			.parameters = col_text(st, 3),
			.desired_hash = col_text(st, 4),
			.applied_hash = col_text(st, 5),
			.norm = { col_text(st, 6), col_text(st, 7), col_text(st, 8) },
			.state = col_text(st, 9),
			.error = col_text(st, 10),
			.created = col_text(st, 11),
			.applied = col_text(st, 12),
			.backend = col_text(st, 13),
			.nft_norm = col_text(st, 14),
			.learning = col_text(st, 15),
			.learned_at = col_text(st, 16),
			.input_hash = col_text(st, 17),
			.chains = (unsigned)sqlite3_column_int64(st, 18),
		};
		fn(userdata, &row);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : (store_errno_from_sqlite(rc) ?: -EIO);
}

int store_root_put(struct store *s, const char *family, const char *norm)
{
	sqlite3_stmt *st;
	int r = write_stmt(s, STMT_ROOT_PUT, &st);

	assert(family);
	assert(norm);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, family, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, norm, -1, SQLITE_STATIC);
	return store_step_write(s, st);
}

int store_roots_foreach(struct store *s, store_root_fn fn, void *userdata)
{
	sqlite3_stmt *st = stmt(s, STMT_ROOTS_ALL);
	int rc;

	assert(fn);
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(userdata, col_text(st, 0), col_text(st, 1));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : (store_errno_from_sqlite(rc) ?: -EIO);
}

int store_checkpoint_put(struct store *s, const char *kernel, uint32_t generation)
{
	sqlite3_stmt *st;
	int r = write_stmt(s, STMT_CHECKPOINT_PUT, &st);

	assert(kernel);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, kernel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, generation);
	return store_step_write(s, st);
}

int store_checkpoint_clear(struct store *s)
{
	sqlite3_stmt *st;
	int r = write_stmt(s, STMT_CHECKPOINT_CLEAR, &st);

	return r < 0 ? r : store_step_write(s, st);
}

int store_checkpoint_get(struct store *s, char *ret_kernel, size_t size, uint32_t *ret_generation)
{
	sqlite3_stmt *st = stmt(s, STMT_CHECKPOINT_GET);
	int rc, r = -ENOENT;

	assert(ret_kernel);
	assert(ret_generation);
	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(ret_kernel, size, "%s", col_text(st, 0));
		*ret_generation = (uint32_t)sqlite3_column_int64(st, 1);
		r = 0;
	} else if (rc != SQLITE_DONE) {
		r = store_errno_from_sqlite(rc) ?: -EIO;
	}
	sqlite3_reset(st);
	return r;
}

