#!/bin/bash
# systemd-activate.sh: socket activation as netd.socket does it, through
# systemd-socket-activate (no systemd as PID 1): netd serves on the socket
# it was passed (calls made before it started are answered), creates none
# of its own and leaves the passed one in place when it stops. What is not
# a listening AF_UNIX stream socket, or more than one socket, is refused
# with a message that says so, and netd does not start.
. "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "needs systemd-socket-activate (Debian package systemd)"
command -v socat >/dev/null || skip "needs socat"

# activate [systemd-socket-activate options]: netd launched by
# systemd-socket-activate (which execs it in place: $NETD_PID is netd) on
# the first connection or datagram.
activate() {
	ip netns exec "$NS" systemd-socket-activate "$@" \
		"$NETD" ${FOREGROUND---foreground} --config "$CONF" --db "$DB" >>"$NETD_LOG" 2>&1 &
	NETD_PID=$!
}

# wait_for PATH: until the activator made the socket PATH.
wait_for() {
	local _
	for _ in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done
	fail "no socket at $1"
}

make_parent v0
activate -l "$SOCK"
wait_for "$SOCK"
# The first call starts netd and is answered by it.
ctl --json status > "$TMP/status" || fail "status through the passed socket"
grep -q "\"pid\": $NETD_PID," "$TMP/status" || fail "answered by another process: $(grep '"pid"' "$TMP/status")"
grep -q "socket activation: serving on '$SOCK'" "$NETD_LOG" || fail "no activation message"
grep -q "listening on" "$NETD_LOG" && fail "netd made a socket of its own"
ctl link create --parent v0 --kind macvtap --owner g1 --count 2 > "$TMP/out" || fail "link create"
[ "$(wc -l < "$TMP/out")" = 2 ] || fail "link create: $(cat "$TMP/out")"
ino=$(stat -c %i "$SOCK")
stop_netd TERM
[ -S "$SOCK" ] || fail "netd removed the socket it was passed"
[ "$(stat -c %i "$SOCK")" = "$ino" ] || fail "the socket file was replaced"
ok "activated: served on the passed socket, left it in place at the stop"

# The configured socket (socket = ...) elsewhere: served, with a warning naming both.
: > "$NETD_LOG"
printf '[netd]\nsocket = %s/other.sock\n' "$TMP" > "$CONF"
rm -f "$SOCK"
activate -l "$SOCK"
wait_for "$SOCK"
ctl status >/dev/null || fail "status with the configured socket elsewhere"
grep -q "serving on '$SOCK', not on the configured socket '$TMP/other.sock'" "$NETD_LOG" ||
	fail "no warning about the configured socket: $(cat "$NETD_LOG")"
[ -e "$TMP/other.sock" ] && fail "netd also made the configured socket"
stop_netd
: > "$CONF"
ok "a passed socket other than the configured one: served, with a warning"

# Without --foreground: the socket is taken before netd detaches (it is
# passed to the pid that systemd started, not to the daemon it forks).
: > "$NETD_LOG"
rm -f "$SOCK"
FOREGROUND='' activate -l "$SOCK"
wait_for "$SOCK"
ctl status >/dev/null || fail "status with a detached netd: $(cat "$NETD_LOG")"
wait "$NETD_PID" || fail "the starting netd exited non-zero"
NETD_PID=$(cat "$DB.lock")
ctl --json status | grep -q "\"pid\": $NETD_PID," || fail "not answered by the daemon $NETD_PID"
kill -TERM "$NETD_PID"
for _ in $(seq 50); do kill -0 "$NETD_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$NETD_PID" 2>/dev/null && fail "daemon still running 5 s after SIGTERM"
NETD_PID=
[ -S "$SOCK" ] || fail "the detached netd removed the passed socket"
ok "activated without --foreground: the daemon serves on the passed socket"

# refused HOW MESSAGE [activator options...]: netd, launched by a
# connection or datagram that trigger sends, exits non-zero with MESSAGE.
refused() {
	local how=$1 msg=$2 rc
	shift 2
	: > "$NETD_LOG"
	activate "$@"
	case $how in
	stream) wait_for "$TMP/a.sock"; in_ns socat -u /dev/null "UNIX-CONNECT:$TMP/a.sock" 2>/dev/null ;;
	dgram) wait_for "$TMP/a.sock"; echo x | in_ns socat -u - "UNIX-SENDTO:$TMP/a.sock" ;;
	tcp) sleep 0.5; in_ns socat -u /dev/null TCP:127.0.0.1:7411 2>/dev/null ;;
	esac
	for _ in $(seq 100); do kill -0 "$NETD_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$NETD_PID" 2>/dev/null && fail "$how: netd still running"
	wait "$NETD_PID"; rc=$?
	NETD_PID=
	[ $rc != 0 ] || fail "$how: netd exited 0"
	grep -q "$msg" "$NETD_LOG" || fail "$how: message: $(cat "$NETD_LOG")"
	rm -f "$TMP/a.sock" "$TMP/b.sock"
}
refused dgram "is not a listening AF_UNIX stream socket" -d -l "$TMP/a.sock"
refused tcp "is not a listening AF_UNIX stream socket" -l 127.0.0.1:7411
refused stream "2 sockets passed, netd serves exactly one" -l "$TMP/a.sock" -l "$TMP/b.sock"
ok "a datagram socket, a TCP socket, two sockets: refused, netd not started"
