#!/bin/bash
# systemd-notify.sh: netd as systemd's Type=notify sees it, with the test
# as the service manager (tests/helpers/notifyrecv listens on
# $NOTIFY_SOCKET). READY=1 comes once, after the socket accepts and after
# the start-up verification of the filters (made slow here: a units
# ordered after netd must find the firewall verified, not still being
# checked), with STATUS= lines before it; a SIGHUP is RELOADING=1 then
# READY=1; SIGTERM sends STOPPING=1. And the log: with $JOURNAL_STREAM
# naming netd's stderr, every line carries its priority ("<6>", "<4>"),
# without it the usual "netd: " lines.
. "$(dirname "$0")/lib.sh"
NOTIFYRECV=$top_builddir/tests/helpers/notifyrecv

make_parent v0
start_netd
ctl filter bind --port v0 --filter clean-traffic --owner g1 --param IP=192.0.2.10 >/dev/null || fail "bind"
stop_netd

# The verification at the next start must save, and slowly: a change of
# the nf_tables generation behind netd's back, and a slow ebtables-save.
in_ns ebtables -N NOTIFY-DRIFT || fail "ebtables -N"
mkdir -p "$TMP/bin"
printf '#!/bin/sh\nsleep 1.5\nexec %s "$@"\n' "$(command -v ebtables-save)" > "$TMP/bin/ebtables-save"
chmod +x "$TMP/bin/ebtables-save"

"$NOTIFYRECV" "$TMP/notify" "$SOCK" 30 > "$TMP/notes" 2>&1 &
RECV_PID=$!
on_cleanup 'kill $RECV_PID 2>/dev/null'
for _ in $(seq 50); do grep -q LISTENING "$TMP/notes" && break; sleep 0.1; done
: > "$NETD_LOG"
NOTIFY_SOCKET=$TMP/notify PATH=$TMP/bin:$PATH start_netd
for _ in $(seq 100); do grep -q '^GETSTATUS' "$TMP/notes" && break; sleep 0.1; done
grep -q '^READY=1$' "$TMP/notes" || fail "no READY=1: $(cat "$TMP/notes")"
grep -q '^CONNECT ok$' "$TMP/notes" || fail "the socket did not accept at READY=1: $(cat "$TMP/notes")"
reply=$(sed -n 's/^GETSTATUS //p' "$TMP/notes")
echo "$reply" | grep -q '"filters_verified":true' || fail "READY=1 before the filters were verified: $reply"
echo "$reply" | grep -q '"filters_verified_by":"save"' || fail "the start did not verify with a save: $reply"
echo "$reply" | grep -q '"bindings":1' || fail "bindings at READY=1: $reply"
ok "READY=1 once the socket accepts and the filters are verified"

order=$(grep -n . "$TMP/notes" | grep -E 'STATUS=opening the database|STATUS=reconciling links|STATUS=verifying the filters|READY=1|STATUS=serving' | cut -d: -f2- | sed 's/ .*//')
want=$(printf '%s\n' "STATUS=opening" "STATUS=reconciling" "STATUS=verifying" "READY=1" "STATUS=serving:")
[ "$order" = "$want" ] || fail "notifications out of order: $(cat "$TMP/notes")"
ok "STATUS= lines: database, links, filters, then READY=1 and serving"

kill -HUP "$NETD_PID"
for _ in $(seq 50); do [ "$(grep -c '^READY=1$' "$TMP/notes")" = 2 ] && break; sleep 0.1; done
after=$(sed -n '/^STATUS=serving:/,$p' "$TMP/notes" | grep -E '^(RELOADING|MONOTONIC_USEC|READY)=' | sed 's/=.*//' | tr '\n' ' ')
[ "$after" = "RELOADING MONOTONIC_USEC READY " ] || fail "SIGHUP: $after: $(cat "$TMP/notes")"
ok "SIGHUP: RELOADING=1 (with MONOTONIC_USEC) then READY=1"

stop_netd TERM
wait "$RECV_PID" || fail "notifyrecv"
RECV_PID=
grep -q '^STOPPING=1$' "$TMP/notes" || fail "no STOPPING=1: $(cat "$TMP/notes")"
ok "SIGTERM: STOPPING=1"

# The journal's stream: the device and inode of netd's stderr.
: > "$NETD_LOG"
JOURNAL_STREAM=$(stat -c '%d:%i' "$NETD_LOG") start_netd
echo "bogus = 1" >> "$CONF"
kill -HUP "$NETD_PID"
for _ in $(seq 50); do grep -q 'not reloaded' "$NETD_LOG" && break; sleep 0.1; done
stop_netd
grep -q "^<6>listening on '$SOCK'" "$NETD_LOG" || fail "no <6> info line: $(cat "$NETD_LOG")"
grep -q "^<3>.*netd.conf:1: .*bogus" "$NETD_LOG" || fail "no <3> error line: $(cat "$NETD_LOG")"
grep -q "^<4>configuration not reloaded" "$NETD_LOG" || fail "no <4> warning line: $(cat "$NETD_LOG")"
grep -v '^<[0-7]>' "$NETD_LOG" | grep -q . && fail "lines without a priority: $(grep -v '^<[0-7]>' "$NETD_LOG")"
ok "JOURNAL_STREAM is stderr: every line with its priority"

# Another file's stream (a redirection made after systemd started netd):
# the usual lines.
: > "$NETD_LOG"
sed -i '/^bogus/d' "$CONF"
JOURNAL_STREAM=$(stat -c '%d:%i' "$CONF") start_netd
stop_netd
grep -q "^netd: listening on '$SOCK'" "$NETD_LOG" || fail "JOURNAL_STREAM of another file: $(cat "$NETD_LOG")"
grep -q '^<' "$NETD_LOG" && fail "priority prefixes on a stderr that is not the journal"
ok "JOURNAL_STREAM of another file: plain stderr lines"

# A start that fails says why in STATUS= (systemctl status shows it).
mkdir -m 0777 "$TMP/open"
"$NOTIFYRECV" "$TMP/notify" "$SOCK" 3 > "$TMP/notes" 2>&1 &
RECV_PID=$!
for _ in $(seq 50); do grep -q LISTENING "$TMP/notes" && break; sleep 0.1; done
NOTIFY_SOCKET=$TMP/notify in_ns "$NETD" --foreground --config "$CONF" --socket "$SOCK" \
	--db "$TMP/open/netd.db" 2>>"$NETD_LOG" && fail "netd started with a world-writable database directory"
wait "$RECV_PID"
RECV_PID=
grep -q '^STATUS=not started: ' "$TMP/notes" || fail "no STATUS= for a failed start: $(cat "$TMP/notes")"
grep -q '^READY=1$' "$TMP/notes" && fail "READY=1 from a failed start"
ok "a failed start: STATUS=$(sed -n 's/^STATUS=not started: //p' "$TMP/notes"), no READY=1"
