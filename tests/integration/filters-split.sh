#!/bin/bash
# A batch the tool refuses is split until the bad binding is alone: the
# good ones apply, the bad one fails with the tool's message, and only the
# successful ones get an applied hash. A run that hangs is killed after
# helper_timeout_ms and reported. The real ebtables-restore does all the
# work; a wrapper in front of it refuses (or stalls on) input that names
# the port "poison" (or "sleepy"), the way the real tool refuses a bad line.
. "$(dirname "$0")/lib.sh"

wrap_restore ebtables-restore <<WRAP
case \$input in
*N-O-poison*) echo "ebtables-restore: line 7 failed: refused by the test's wrapper" >&2; exit 1 ;;
*N-O-sleepy*) sleep 30 ;;
esac
WRAP

printf '[netd]\nhelper_timeout_ms = 1000\n' > "$CONF"
for p in a1 a2 a3 poison a5 a6 a7 a8 sleepy; do ip -n "$NS" link add "$p" type veth peer name "$p-p"; done
PATH=$TMP/bin:$PATH start_netd

: > "$TMP/calls"
for p in a1 a2 a3 poison a5 a6 a7 a8; do
	printf '{"method":"io.netd.BindFilter","parameters":{"port":"%s","filter":"clean-traffic","owner":"o"}}\0' $p >> "$TMP/calls"
done
"$VLCLIENT" raw "$SOCK" 5000 < "$TMP/calls" > "$TMP/replies"
[ "$(grep -c '"state":"applied"' "$TMP/replies")" = 7 ] || fail "want 7 applied: $(cat "$TMP/replies")"
grep -q '"error":"io.netd.ApplyFailed","parameters":{"port":"poison","message":"ebtables-restore: line 7 failed: refused by the test'"'"'s wrapper' "$TMP/replies" ||
	fail "the bad binding's error: $(grep poison "$TMP/replies")"
[ "$(status_field restore_runs)" -gt 1 ] || fail "no split: $(status_field restore_runs) runs"
[ "$(db "SELECT count(*) FROM bindings WHERE applied_hash != ''")" = 7 ] || fail "applied hashes: $(db 'SELECT port, state, applied_hash FROM bindings')"
[ "$(db "SELECT state FROM bindings WHERE port = 'poison'")" = failed ] || fail "poison not failed in the database"
[ "$(db "SELECT applied_hash FROM bindings WHERE port = 'poison'")" = "" ] || fail "poison has an applied hash"
[ "$(in_ns ebtables-save | grep -c '^:N-O-a')" = 7 ] || fail "good chains missing"
in_ns ebtables-save | grep -q poison && fail "poison's rules are in the kernel"
ctl filter show poison | grep -q '^error .*refused by the test' || fail "show poison: $(ctl filter show poison)"
ok "a refused binding is isolated in $(status_field restore_runs) runs: 7 applied, poison failed with the tool's message"

# A hanging run is killed after helper_timeout_ms and reported.
t0=$(date +%s)
ctl filter bind --port sleepy --filter clean-traffic --owner o 2>"$TMP/err"; rc=$?
t1=$(date +%s)
[ $rc = 1 ] || fail "hung apply: want exit 1, got $rc"
grep -q 'io.netd.ApplyFailed.*killed after the helper timeout' "$TMP/err" || fail "hang not reported: $(cat "$TMP/err")"
[ $((t1 - t0)) -lt 10 ] || fail "the hung run was not killed in time ($((t1 - t0)) s)"
grep -q "still running after its timeout, killing it" "$NETD_LOG" || fail "kill not logged"
ctl status >/dev/null || fail "netd stopped serving"
ok "a hung restore run killed after 1 s and reported ($((t1 - t0)) s for the call)"
ctl filter unbind --port sleepy --owner o >/dev/null || fail "unbind sleepy"
stop_netd

# A stop whose shutdown_timeout_ms runs out with a call still waiting on a
# run: the call is answered ShuttingDown (and audited so) before the
# server goes, and netd exits cleanly (the answer used to reach a freed
# server: a use-after-free the sanitizer build catches here).
printf '[netd]\nhelper_timeout_ms = 30000\nshutdown_timeout_ms = 500\n' > "$CONF"
PATH=$TMP/bin:$PATH start_netd
runs=$(status_field restore_runs)
printf '{"method":"io.netd.BindFilter","parameters":{"port":"sleepy","filter":"clean-traffic","owner":"o"}}\0' |
	"$VLCLIENT" raw "$SOCK" 20000 > "$TMP/stopped" &
client=$!
for i in $(seq 100); do [ "$(status_field restore_runs)" -gt "$runs" ] && break; sleep 0.1; done
[ "$(status_field restore_runs)" -gt "$runs" ] || fail "the sleepy run did not start"
stop_netd
wait $client
grep -q '"error":"io.netd.ShuttingDown"' "$TMP/stopped" || fail "the waiting call at stop: $(cat "$TMP/stopped")"
[ "$(db "SELECT result FROM audit WHERE method = 'io.netd.BindFilter' ORDER BY id DESC LIMIT 1")" = io.netd.ShuttingDown ] ||
	fail "audit of the call cut by the stop: $(db "SELECT method, result FROM audit ORDER BY id DESC LIMIT 3")"
ok "a call still waiting when the stop's timeout ran out: answered ShuttingDown, audited, clean exit"
