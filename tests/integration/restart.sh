#!/bin/bash
# Restart on the same database: schema kept (not migrated twice, not
# reset), the audit table intact, counters restart, the socket re-made.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is required (apt-get install sqlite3)"
start_netd
pid1=$NETD_PID
for i in 1 2 3; do ctl status >/dev/null; done
stop_netd

v1=$(sqlite3 "$DB" 'PRAGMA user_version')
[ "$v1" -ge 1 ] || fail "user_version $v1 after the first run"
[ "$(sqlite3 "$DB" 'PRAGMA journal_mode')" = wal ] || fail "database not in WAL mode"
[ "$(sqlite3 "$DB" 'PRAGMA application_id')" = 1852142692 ] || fail "application_id not set"
sqlite3 "$DB" "SELECT name FROM sqlite_master WHERE type='table' AND name='audit'" | grep -qx audit || fail "no audit table"

start_netd
[ "$NETD_PID" != "$pid1" ] || fail "same pid?"
[ "$(status_field db_schema_version)" = "$v1" ] || fail "schema version changed on restart"
[ "$(status_field requests)" -le 5 ] || fail "counters did not restart"
[ "$(sqlite3 "$DB" 'PRAGMA user_version')" = "$v1" ] || fail "user_version changed"
stop_netd
ok "restart on the same database"

# Restart many times quickly: every start and stop is clean.
for i in $(seq 5); do start_netd; stop_netd; done
ok "five quick restarts"
