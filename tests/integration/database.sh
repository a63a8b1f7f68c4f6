#!/bin/bash
# What netd does with databases that are not its own or not usable: a
# clear error and exit, the file unchanged. And the audit table as an
# auditor sees it.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is required (apt-get install sqlite3)"

# refuse FILE NEEDLE: netd must exit 1 with NEEDLE on stderr, FILE unchanged.
refuse() {
	local f=$1 needle=$2 before
	before=$(sha256sum "$f")
	in_ns "$NETD" --foreground --config "$CONF" --socket "$SOCK" --db "$f" 2>"$TMP/err"; rc=$?
	[ $rc = 1 ] || fail "$f: exit $rc, want 1"
	grep -q "$needle" "$TMP/err" || fail "$f: message '$(cat "$TMP/err")' lacks '$needle'"
	[ "$(sha256sum "$f")" = "$before" ] || fail "$f was changed"
	[ -e "$SOCK" ] && fail "$f: a socket was left behind"
	ok "refused: $needle"
}

head -c 65536 /dev/urandom > "$TMP/random.db"
refuse "$TMP/random.db" "is not an SQLite database"

sqlite3 "$TMP/foreign.db" 'CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ("x");'
refuse "$TMP/foreign.db" "not a netd database"

start_netd
stop_netd
sqlite3 "$DB" 'PRAGMA user_version = 999'
refuse "$DB" "written by a newer netd"

# A directory where the file should be.
mkdir "$TMP/dir.db"
in_ns "$NETD" --foreground --config "$CONF" --socket "$SOCK" --db "$TMP/dir.db" 2>"$TMP/err" && fail "started on a directory"
grep -q "dir.db" "$TMP/err" || fail "directory message: $(cat "$TMP/err")"
ok "refused: a directory"

# A database in a directory that does not exist yet is created.
DB=$TMP/new/dir/netd.db
start_netd
[ -f "$DB" ] || fail "database not created in a new directory"
stop_netd
ok "database directory created"

# The audit table: readable by the sqlite3 CLI, append-only for everyone.
sqlite3 "$DB" "INSERT INTO audit (peer_uid, peer_gid, peer_pid, method, parameters, result) VALUES (0, 0, 1, 'io.netd.Test', '{}', 'ok')" || fail "insert into audit"
sqlite3 "$DB" "UPDATE audit SET result = 'forged'" 2>/dev/null && fail "audit rows can be updated"
sqlite3 "$DB" "DELETE FROM audit" 2>/dev/null && fail "audit rows can be deleted"
[ "$(sqlite3 "$DB" "SELECT result FROM audit")" = ok ] || fail "audit row changed"
sqlite3 -header "$DB" "SELECT id, time, peer_uid, peer_gid, peer_pid, method, parameters, result, detail FROM audit" | head -1 | grep -q '^id|time|peer_uid|peer_gid|peer_pid|method|parameters|result|detail$' || fail "audit columns"
ok "audit table append-only and readable"

# A reader holding the database open does not stop netd.
start_netd
sqlite3 "$DB" "BEGIN; SELECT count(*) FROM audit; " >/dev/null
ctl status >/dev/null || fail "status with a reader"
stop_netd
ok "readers do not block netd"
