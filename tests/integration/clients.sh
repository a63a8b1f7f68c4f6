#!/bin/bash
# Many clients: 300 at once, pipelining in order, a client that never reads
# is dropped without stalling others, max_clients enforced, a stop with
# calls in flight answers them.
. "$(dirname "$0")/lib.sh"

start_netd

"$VLCLIENT" many "$SOCK" 300 || fail "300 clients at once"
ok "300 clients at once"

"$VLCLIENT" pipeline "$SOCK" 2000 || fail "pipelined calls out of order"
ok "2000 pipelined calls answered in order"

# A client that writes calls and never reads its replies: dropped once its
# output buffer passes max_output_buffer, while others are served.
"$VLCLIENT" flood "$SOCK" 20 > "$TMP/flood" &
flood=$!
worst=0
while kill -0 $flood 2>/dev/null; do
	t=$("$VLCLIENT" status "$SOCK" 5000) || fail "a bystander got no reply within 5 s during the flood"
	[ "$t" -gt "$worst" ] && worst=$t
	sleep 0.05
done
wait $flood || fail "the flooding client was not dropped: $(cat "$TMP/flood")"
grep -q DROPPED "$TMP/flood" || fail "flood: $(cat "$TMP/flood")"
[ "$(status_field clients_dropped)" -ge 1 ] || fail "drop not counted"
grep -q "output buffer limit exceeded" "$NETD_LOG" || fail "drop not logged"
ok "non-reading client dropped; bystanders answered (slowest ${worst} ms)"
stop_netd

# max_clients: the connection over the limit gets TooManyClients. The
# holders run in the test's namespace so cleanup finds them.
printf '[netd]\nmax_clients = 4\n' > "$CONF"
start_netd
hold() { ip netns exec "$NS" sh -c "sleep 60 | socat - UNIX-CONNECT:'$SOCK' >/dev/null" & }
hold; hold; hold
for i in $(seq 50); do [ "$(status_field clients)" = 4 ] && break; sleep 0.1; done
[ "$(status_field clients)" = 4 ] || fail "3 holders plus status should make 4 clients"
hold
sleep 0.5
out=$(printf '{"method":"io.netd.GetStatus"}\0' | "$VLCLIENT" raw "$SOCK" 1000)
case $out in *'"error":"io.netd.TooManyClients","parameters":{"max_clients":4}'*CLOSED) ;; *) fail "over max_clients: $out" ;; esac
kill -0 "$NETD_PID" || fail "netd died"
for p in $(ip netns pids "$NS"); do [ "$p" != "$NETD_PID" ] && kill "$p" 2>/dev/null; done
for i in $(seq 50); do [ "$(status_field clients 2>/dev/null)" = 1 ] && break; sleep 0.1; done
ctl status >/dev/null || fail "status after the slots were freed"
[ "$(status_field clients_refused)" -ge 1 ] || fail "refusal not counted"
ok "max_clients enforced"

# SIGTERM with calls read but their replies not yet delivered (the client
# reads only later): every one is still answered, then netd exits 0.
# Each status_field is a request too: count them out.
base=$(status_field requests)
"$VLCLIENT" lazy "$SOCK" 3000 3000 > "$TMP/lazy" 2>&1 &
lazy=$!
read_all=no
for i in $(seq 1 50); do
	[ $(( $(status_field requests) - base - i )) -ge 3000 ] && { read_all=yes; break; }
	sleep 0.05
done
[ $read_all = yes ] || fail "netd did not read the 3000 calls in time"
stop_netd TERM
wait $lazy || fail "calls in flight at SIGTERM not all answered: $(cat "$TMP/lazy")"
ok "graceful stop answered calls in flight: $(cat "$TMP/lazy")"
