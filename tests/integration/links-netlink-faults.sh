#!/bin/bash
# Netlink faults: (1) the request socket's acks overflow (a forced small
# receive buffer, the test-only netlink_request_rcvbuf): the intents are
# kept, the requests in flight are settled from a fresh dump, and the
# caller gets its links, none of them "foreign"; (2) the netlink sender
# process is killed during a create: a new sender starts, the requests it
# held are settled from a dump, and the caller gets an answer, all or
# nothing; (3) netd stops while the sender is stopped (SIGSTOP) with a
# create in it: once shutdown_timeout_ms runs out, the caller is answered
# io.netd.ShuttingDown and netd exits cleanly; the next start settles
# the call as after a crash (all or nothing); (4) the link dump process
# is killed holding the dump that settles an ack overflow: a new one
# starts, the dump is asked for again, the caller gets its links.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is required"
make_parent v0

check_agree() {
	local what=$1
	links_settled || fail "$what: netd did not settle"
	db "SELECT name FROM links ORDER BY name" > "$TMP/db-links"
	kview names macvtap | sort > "$TMP/k-links"
	diff -u "$TMP/db-links" "$TMP/k-links" > "$TMP/diff" || fail "$what: database and kernel disagree: $(head -5 "$TMP/diff")"
	[ "$(status_field foreign_names)" = 0 ] || fail "$what: $(status_field foreign_names) of netd's own devices are called foreign"
}

# --- (1) ack overflow ---
printf "[netd]\nnetlink_request_rcvbuf = 4096\n" > "$CONF"
start_netd
timeout 60 "$NETDCTL" --socket "$SOCK" link create --parent v0 --kind macvtap --owner over --count 300 > "$TMP/out" 2>&1
rc=$?
[ "$rc" != 124 ] || fail "ack overflow: the caller got no answer in 60 s"
[ "$(status_field netlink_acks_lost)" -gt 0 ] || fail "the acks never overflowed (netlink_acks_lost is 0): the test proves nothing"
[ "$rc" = 0 ] || fail "ack overflow: the create failed although the kernel made the links: $(cat "$TMP/out")"
check_agree "ack overflow"
# One resync per dump that rebuilt the picture, not one per lost ack:
# every dump but the start's is a resync or its retry.
resyncs=$(status_field resyncs)
dumps=$(status_field netlink_dumps)
echo "ack overflow: $resyncs resyncs counted, $dumps dumps run, acks lost $(status_field netlink_acks_lost) times"
[ "$resyncs" -ge 1 ] || fail "ack overflow: no resync counted"
[ "$resyncs" -lt "$dumps" ] || fail "ack overflow: $resyncs resyncs counted for $dumps dumps (one of them the start's)"
[ "$(db "SELECT count(*) FROM links WHERE owner = 'over' AND state = 'present'")" = 300 ] || fail "ack overflow: not 300 links owned"
ok "acks lost $(status_field netlink_acks_lost) times: the create of 300 succeeded, database and kernel agree, nothing foreign"
ctl link delete --owner over > /dev/null || fail "ack overflow: the delete failed"
check_agree "ack overflow, delete"
[ "$(kview count macvtap)" = 0 ] || fail "ack overflow: $(kview count macvtap) devices left after the delete"
ok "the delete under ack overflow removed them all"
stop_netd
: > "$CONF"

# --- (2) the sender is killed ---
sender_of() {
	pgrep -P "$NETD_PID" | while read -r p; do
		ls -l "/proc/$p/fd" 2>/dev/null | grep -q "$(basename "$DB").lock" && echo "$p"; done | head -n 1
}
for at in 1 100; do
	start_netd
	sender=$(sender_of)
	[ -n "$sender" ] || fail "no sender process holds the lock"
	timeout 60 "$NETDCTL" --socket "$SOCK" link create --parent v0 --kind macvtap --owner "k$at" --count 400 > "$TMP/out" 2>&1 &
	client=$!
	for i in $(seq 3000); do [ "$(kview count macvtap)" -ge "$at" ] && break; done
	kill -KILL "$sender"
	made=$(kview count macvtap)
	wait $client
	rc=$?
	[ "$rc" != 124 ] || fail "sender killed: the caller got no answer in 60 s"
	check_agree "sender killed"
	have=$(db "SELECT count(*) FROM links WHERE owner = 'k$at'")
	case "$rc/$have" in
	0/400|[1-9]*/0) ;;
	*) fail "sender killed: exit $rc with $have of 400 links owned: $(cat "$TMP/out")" ;;
	esac
	new=$(sender_of)
	[ -n "$new" ] && [ "$new" != "$sender" ] || fail "no new sender process after the kill"
	[ "$(status_field netlink_sender_restarts)" = 1 ] || fail "netlink_sender_restarts is not 1"
	ctl link create --parent v0 --kind macvtap --owner after --count 2 > /dev/null || fail "no create after the sender was restarted"
	ok "sender killed with $made devices made: answered (exit $rc, $have of 400 links), a new sender (pid $new) serves"
	ctl link delete --owner "k$at" > /dev/null 2>&1
	ctl link delete --owner after > /dev/null
	check_agree "cleanup"
	stop_netd
done

# --- (3) a stop that times out with a create waiting on the kernel ---
printf '[netd]\nshutdown_timeout_ms = 500\n' > "$CONF"
start_netd
sender=$(sender_of)
[ -n "$sender" ] || fail "no sender process holds the lock"
kill -STOP "$sender"
printf '{"method":"io.netd.CreateLinks","parameters":{"parent":"v0","kind":"macvtap","owner":"cut","count":3}}\0' |
	"$VLCLIENT" raw "$SOCK" 20000 > "$TMP/cut" &
client=$!
for i in $(seq 100); do [ "$(db "SELECT count(*) FROM links WHERE owner = 'cut'")" = 3 ] && break; sleep 0.1; done
[ "$(db "SELECT count(*) FROM links WHERE owner = 'cut'")" = 3 ] || fail "the create's intents were not written"
# The stop's timeout runs out: the caller is answered, then netd waits
# for its sender (which holds the lock until the kernel took what it
# holds): let it go once the answer is out.
kill -TERM "$NETD_PID"
for i in $(seq 300); do grep -q ShuttingDown "$TMP/cut" 2>/dev/null && break; sleep 0.1; done
kill -CONT "$sender"
wait "$NETD_PID"
rc=$?
NETD_PID=
[ "$rc" = 0 ] || fail "netd exited with status $rc after a stop that timed out"
wait $client
grep -q '"error":"io.netd.ShuttingDown"' "$TMP/cut" || fail "the create cut by the stop: $(cat "$TMP/cut")"
start_netd
check_agree "after a stop that cut a create"
[ "$(db "SELECT count(*) FROM links WHERE owner = 'cut'")" = 0 ] || fail "the cut create's links are still there"
ok "a stop that timed out with a create waiting on the kernel: answered ShuttingDown, clean exit, rolled back at the next start"
stop_netd

# --- (4) the link dump process dies holding a dump ---
dumper_of() { pgrep -P "$NETD_PID" -x netd-linkdump | head -n 1; }
printf "[netd]\nnetlink_request_rcvbuf = 4096\n" > "$CONF"
start_netd
dumper=$(dumper_of)
[ -n "$dumper" ] || fail "no link dump process (netd-linkdump) among netd's children"
kill -STOP "$dumper"
dumps=$(status_field netlink_dumps)
timeout 60 "$NETDCTL" --socket "$SOCK" link create --parent v0 --kind macvtap --owner dk --count 300 > "$TMP/out" 2>&1 &
client=$!
# The acks overflow: the dump that settles them goes to the stopped process.
for i in $(seq 300); do [ "$(status_field netlink_dumps)" -gt "$dumps" ] && break; sleep 0.1; done
[ "$(status_field netlink_dumps)" -gt "$dumps" ] || fail "no dump was asked for: the test proves nothing"
sleep 0.5
kill -0 "$client" 2>/dev/null || fail "the create was answered without its dump: the test proves nothing"
kill -KILL "$dumper"
wait $client
rc=$?
[ "$rc" != 124 ] || fail "dump process killed: the caller got no answer in 60 s"
[ "$rc" = 0 ] || fail "dump process killed: the create failed: $(cat "$TMP/out")"
check_agree "dump process killed"
[ "$(db "SELECT count(*) FROM links WHERE owner = 'dk' AND state = 'present'")" = 300 ] || fail "dump process killed: not 300 links owned"
[ "$(status_field netlink_dumper_restarts)" = 1 ] || fail "netlink_dumper_restarts is $(status_field netlink_dumper_restarts), not 1"
new=$(dumper_of)
[ -n "$new" ] && [ "$new" != "$dumper" ] || fail "no new link dump process after the kill"
ok "the link dump process killed holding a dump: a new one (pid $new) dumped again, the create of 300 succeeded"
ctl link delete --owner dk > /dev/null || fail "dump process killed: the delete failed"
check_agree "dump process killed, delete"
stop_netd
: > "$CONF"
