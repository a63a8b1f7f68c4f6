#!/bin/bash
# Two daemons on one database: the second refuses, naming the first; the
# first keeps serving. After the first stops, the database is free again;
# a lock still held by what a killed netd left behind is waited for.
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

# The netlink sender shares the lock: after a kill -9 the kernel may still
# be carrying out the batch it was sending, and the next netd must not
# dump the links before that batch is done.
start_netd
sender=$(pgrep -P "$NETD_PID" | while read -r p; do
	ls -l "/proc/$p/fd" 2>/dev/null | grep -q "$(basename "$DB").lock" && echo "$p"; done | head -n 1)
[ -n "$sender" ] || fail "no helper process of netd holds the lock file"
stop_netd
ok "a helper process (pid $sender) holds the lock with netd"

# A lock still held after its netd died (by a helper it left behind) is
# waited for; the start goes on once it is released.
echo 999999 > "$DB.lock"   # a pid that does not exist
flock "$DB.lock" sleep 1 &
holder=$!
sleep 0.2
t0=$(date +%s%N)
start_netd
waited=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$holder"
[ "$waited" -ge 500 ] || fail "netd started after ${waited} ms while the lock was still held"
grep -q "is gone, waiting for its helper processes" "$NETD_LOG" || fail "no word of the wait in the log"
ctl status >/dev/null || fail "netd does not serve after waiting for the lock"
stop_netd
ok "a lock left held by a dead netd's helper is waited for (${waited} ms)"
