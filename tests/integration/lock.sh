#!/bin/bash
# Two daemons on one database: the second refuses, naming the first; the
# first keeps serving. After the first stops, the database is free again.
. "$(dirname "$0")/lib.sh"

start_netd
if in_ns "$NETD" --foreground --config "$CONF" --socket "$TMP/second.sock" --db "$DB" 2>"$TMP/err"; then
	fail "a second netd started on the same database"
fi
grep -q "database '$DB' is in use by another netd (pid $NETD_PID)" "$TMP/err" || fail "lock message: $(cat "$TMP/err")"
[ -e "$TMP/second.sock" ] && fail "the refused netd left a socket"
ctl status >/dev/null || fail "first netd stopped serving"
ok "second daemon on one database refused"

# Also in daemon mode: the refusal reaches the terminal and the status.
if in_ns "$NETD" --config "$CONF" --socket "$TMP/second.sock" --db "$DB" 2>"$TMP/err"; then
	fail "a second netd (daemon mode) started on the same database"
fi
grep -q "in use by another netd" "$TMP/err" || fail "daemon-mode lock message: $(cat "$TMP/err")"
ok "refused in daemon mode too"

# The lock dies with its holder, however it dies.
kill -KILL "$NETD_PID"; wait "$NETD_PID" 2>/dev/null; NETD_PID=
start_netd
ctl status >/dev/null || fail "restart after SIGKILL"
stop_netd
ok "lock released by a killed daemon"
