#!/bin/bash
# Start and stop: foreground and daemon mode, SIGTERM and SIGINT, the
# socket removed on exit, a stale socket replaced, a live one or a
# non-socket never touched.
. "$(dirname "$0")/lib.sh"

start_netd
[ -S "$SOCK" ] || fail "no socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 666 ] || fail "socket mode is $(stat -c %a "$SOCK"), want 666"
ctl status >/dev/null || fail "status"
stop_netd TERM
[ -e "$SOCK" ] && fail "socket left behind after SIGTERM"
grep -q "SIGTERM, stopping" "$NETD_LOG" || fail "no stop message"
ok "foreground start, SIGTERM stop, socket removed"

start_netd
stop_netd INT
ok "SIGINT stops too"

# Daemon mode: the command returns once netd serves; it logs to syslog.
in_ns "$NETD" --config "$CONF" --socket "$SOCK" --db "$DB" || fail "daemon start failed"
ctl status >/dev/null || fail "daemon not serving after the start command returned"
pid=$(cat "$DB.lock")
kill -0 "$pid" || fail "no daemon with pid $pid from the lock file"
[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "daemon is not a session leader"
kill -TERM "$pid"
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "daemon still running 5 s after SIGTERM"
ok "daemon mode"

# A failed start in daemon mode exits non-zero, with the error on stderr.
printf '[netd]\nbogus = 1\n' > "$TMP/bad.conf"
if in_ns "$NETD" --config "$TMP/bad.conf" --socket "$SOCK" --db "$DB" 2>"$TMP/err"; then
	fail "start with a bad config succeeded"
fi
grep -q "bad.conf:2: unknown key 'bogus'" "$TMP/err" || fail "bad config message: $(cat "$TMP/err")"
ok "bad config refused with file, line and key"

# A stale socket (netd killed with SIGKILL) is replaced.
start_netd
kill -KILL "$NETD_PID"; wait "$NETD_PID" 2>/dev/null; NETD_PID=
[ -S "$SOCK" ] || fail "expected a stale socket after SIGKILL"
start_netd
grep -q "removing stale socket" "$NETD_LOG" || fail "stale socket not reported"
ctl status >/dev/null || fail "status after stale socket takeover"

# A live socket is not: a second netd (other database) refuses.
if in_ns "$NETD" --foreground --config "$CONF" --socket "$SOCK" --db "$TMP/other.db" 2>"$TMP/err"; then
	fail "second netd took over a live socket"
fi
grep -q "already listening" "$TMP/err" || fail "live socket message: $(cat "$TMP/err")"
ctl status >/dev/null || fail "first netd no longer serving"
stop_netd
ok "stale socket replaced, live socket kept"

# Something that is not a socket at the path is left alone.
echo precious > "$SOCK"
if in_ns "$NETD" --foreground --config "$CONF" --socket "$SOCK" --db "$DB" 2>"$TMP/err"; then
	fail "netd started over a regular file"
fi
[ "$(cat "$SOCK")" = precious ] || fail "regular file at the socket path was changed"
grep -q "not a socket" "$TMP/err" || fail "non-socket message: $(cat "$TMP/err")"
rm -f "$SOCK"
ok "non-socket at the socket path untouched"

# The socket directory is created.
SOCK=$TMP/run/deeper/netd.sock
start_netd
ctl status >/dev/null || fail "status with a created socket directory"
stop_netd
ok "socket directory created"

# Usage errors.
"$NETD" --no-such-option >/dev/null 2>&1; [ $? = 2 ] || fail "bad option: want exit 2"
"$NETD" --socket relative.sock >/dev/null 2>&1; [ $? = 2 ] || fail "relative socket: want exit 2"
"$NETD" --version | grep -q '^netd ' || fail "--version"
ok "usage"
