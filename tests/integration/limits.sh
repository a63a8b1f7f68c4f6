#!/bin/bash
# Limits that protect root from a local user: a per-uid connection cap,
# slots reserved for root, an idle timeout, a per-connection cap on what a
# connection holds (a slow reader behind a Monitor), and an input budget
# across connections (400 partial 1 MB messages keep netd's RSS bounded).
# In every case the offender is refused or dropped and root is served.
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || skip "needs setpriv"
# as_uid UID CMD...: run CMD as an unprivileged uid without groups.
as_uid() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }

# wait_line FILE PATTERN: until FILE has a line matching PATTERN (10 s).
wait_line() {
	local i
	for i in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$NETD_PID/status"; }

cat > "$CONF" <<CONF
[netd]
max_clients = 40
max_clients_per_uid = 8
reserved_clients = 4
client_idle_timeout_ms = 2000
max_message_size = 65536
max_connection_buffer = 262144
CONF
start_netd

# Per-uid cap: uid 65534 asks for 12 connections, gets 8; root is served
# meanwhile.
as_uid 65534 "$VLCLIENT" hold "$SOCK" 12 0 4 > "$TMP/hold1" &
wait_line "$TMP/hold1" '^held' || fail "hold did not report"
grep -q '^held open=8 refused=4 closed=0' "$TMP/hold1" || fail "per-uid cap: $(cat "$TMP/hold1")"
ctl status >/dev/null || fail "root's status while uid 65534 holds its cap"
[ "$(status_field clients_refused_uid)" -ge 4 ] || fail "per-uid refusals not counted"
ok "max_clients_per_uid: 8 of 12 connections of uid 65534 taken, root served"

# Idle timeout: the 8 idle connections are closed after 2 s; a Monitor is
# a call in progress and stays.
as_uid 65533 "$VLCLIENT" monitor-hold "$SOCK" 0 4 > "$TMP/mon-idle" &
mon=$!
wait_line "$TMP/hold1" '^final' || fail "hold did not finish"
grep -q '^final open=0 refused=4 closed=8' "$TMP/hold1" || fail "idle timeout: $(cat "$TMP/hold1")"
[ "$(status_field clients_idle_closed)" -ge 8 ] || fail "idle closes not counted"
wait $mon && fail "a Monitor was closed as idle: $(cat "$TMP/mon-idle")"
grep -q NOT-DROPPED "$TMP/mon-idle" || fail "monitor: $(cat "$TMP/mon-idle")"
ok "client_idle_timeout_ms: idle connections closed after 2 s, a Monitor kept"

# Reserve: five uids take 36 of 40 slots; the 4 reserved stay for root.
holders=
for u in 60001 60002 60003 60004 60005; do
	as_uid $u "$VLCLIENT" hold "$SOCK" 8 0 3 > "$TMP/res-$u" &
	holders="$holders $!"
done
for u in 60001 60002 60003 60004 60005; do
	wait_line "$TMP/res-$u" '^held' || fail "hold of $u did not report"
done
opened=0; refused=0
for u in 60001 60002 60003 60004 60005; do
	set -- $(sed -n 's/^held open=\([0-9]*\) refused=\([0-9]*\).*/\1 \2/p' "$TMP/res-$u")
	opened=$((opened + $1)); refused=$((refused + $2))
done
[ $opened = 36 ] && [ $refused = 4 ] || fail "reserve: $opened open, $refused refused (want 36, 4)"
"$VLCLIENT" hold "$SOCK" 3 0 0 > "$TMP/res-root" || fail "root hold"
grep -q '^held open=3 refused=0' "$TMP/res-root" || fail "root denied a reserved slot: $(cat "$TMP/res-root")"
ctl status >/dev/null || fail "root's status with the unreserved slots taken"
[ "$(status_field clients_refused_reserved)" -ge 4 ] || fail "reserve refusals not counted"
ok "reserved_clients: unprivileged uids stop at 36 of 40, root gets the reserved slots"
wait $holders

# Per-connection cap: replies held behind a Monitor that the client never
# reads add up over calls; the connection is dropped at 256 KiB.
as_uid 65534 "$VLCLIENT" monitor-hold "$SOCK" 2000 10 > "$TMP/mon" ||
	fail "slow reader behind a Monitor not dropped: $(cat "$TMP/mon")"
grep -q "connection buffer limit exceeded" "$NETD_LOG" || fail "drop not logged"
ctl status >/dev/null || fail "root's status after the drop"
ok "max_connection_buffer: a slow reader behind a Monitor dropped ($(cat "$TMP/mon"))"
stop_netd

# Input budget: 400 connections of one uid each send 1,000,000 bytes of a
# message they never finish. netd's RSS stays bounded (biggest holders
# dropped), root is served.
cat > "$CONF" <<CONF
[netd]
max_clients = 1024
max_clients_per_uid = 1000
client_idle_timeout_ms = 60000
max_input_total = 33554432
CONF
# Under ASan, freed memory waits in a quarantine (256 MB) before it is
# reused: that is not netd holding it.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
start_netd
before=$(rss_kb)
as_uid 65534 "$VLCLIENT" hold "$SOCK" 400 1000000 6 > "$TMP/mem" &
holder=$!
wait_line "$TMP/mem" '^held' || fail "hold did not report"
after=$(rss_kb)
t=$("$VLCLIENT" status "$SOCK" 5000) || fail "root's status while 400 partial messages are held"
echo "RSS before ${before} kB, with 400 partial 1 MB messages ${after} kB; $(head -1 "$TMP/mem"); root's status in ${t} ms"
[ "$after" -lt $((before + 80 * 1024)) ] || fail "RSS grew from ${before} kB to ${after} kB"
[ "$(status_field clients_dropped_input)" -ge 300 ] || fail "budget drops not counted"
ok "max_input_total: RSS ${before} -> ${after} kB with 400 partial messages, root served"
wait $holder
stop_netd
