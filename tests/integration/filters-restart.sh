#!/bin/bash
# 200 bindings; a restart with nothing changed runs no restore, at most one
# save per family, and skips all 200. Flushing ebtables from outside is
# repaired by Resync (and by a restart) in one run per family. Changing a
# custom filter file re-applies only the bindings that use it.
. "$(dirname "$0")/lib.sh"

N=200
mkdir -p "$TMP/filters"
cat > "$TMP/filters/guest-ssh.json" <<'JSON'
{"name": "guest-ssh", "filters": ["clean-traffic"],
 "rules": [{"direction": "in", "protocol": "tcp", "action": "accept", "dst_port": "22", "priority": 400}]}
JSON
printf '[netd]\nfilter_dir = %s\n' "$TMP/filters" > "$CONF"
{ for i in $(seq 0 $((N - 1))); do echo "link add p$i type veth peer name q$i"; done; } > "$TMP/batch"
ip -n "$NS" -batch "$TMP/batch" || fail "veth ports"
start_netd

# All bindings pipelined on one connection.
: > "$TMP/calls"
for i in $(seq 0 $((N - 1))); do
	f=clean-traffic; [ $i -lt 10 ] && f=guest-ssh
	printf '{"method":"io.netd.BindFilter","parameters":{"port":"p%d","filter":"%s","owner":"g%d","parameters":{"IP":"10.1.%d.%d"}}}\0' \
		$i $f $i $((i / 250)) $((i % 250 + 1)) >> "$TMP/calls"
done
t0=$(date +%s%N)
"$VLCLIENT" raw "$SOCK" 30000 < "$TMP/calls" > "$TMP/replies" &
client=$!
for i in $(seq 600); do [ "$(grep -c '"state":"applied"' "$TMP/replies")" = $N ] && break; sleep 0.05; done
t1=$(date +%s%N)
[ "$(grep -c '"state":"applied"' "$TMP/replies")" = $N ] || fail "not all $N applied: $(grep -v applied "$TMP/replies" | head -3)"
runs=$(status_field restore_runs)
ok "$N bindings applied in $(( (t1 - t0) / 1000000 )) ms with $runs restore runs, $(status_field save_runs) save runs"
kill $client 2>/dev/null

# verified_after_restart BY SAVES: restart (netd stopped or not), wait until verified, and check
# how (generation: no save at all; save: one save per family), with
# nothing applied and all N skipped.
verified_after_restart() {
	[ -n "$NETD_PID" ] && stop_netd
	start_netd
	for i in $(seq 100); do [ "$(status_field filters_verified)" = true ] && break; sleep 0.1; done
	[ "$(status_field filters_verified_by)" = "$1" ] || fail "verified by $(status_field filters_verified_by), want $1"
	[ "$(status_field restore_runs)" = 0 ] || fail "restart ran $(status_field restore_runs) restores"
	[ "$(status_field save_runs)" = "$2" ] || fail "restart ran $(status_field save_runs) saves, want $2"
	[ "$(status_field bindings_skipped)" = $N ] || fail "skipped $(status_field bindings_skipped), want $N"
}

# Restart, nothing changed: the nf_tables generation is the one netd
# recorded, so not even a save runs.
verified_after_restart generation 0
ok "restart: 0 restore runs, 0 save runs, $N skipped (nf_tables generation unchanged)"
[ "$(status_field bindings_rendered_at_start)" = 0 ] || fail "the start rendered $(status_field bindings_rendered_at_start)"
ok "and rendered none of them (their inputs unchanged)"

# Resync with nothing changed: the generation is still netd's, nothing to
# save; --full saves all the same; someone deleting a port's chain moves
# the generation, and Resync saves and repairs it.
ctl resync > "$TMP/resync" || fail "resync"
grep -q "^$N intact, 0 re-applied$" "$TMP/resync" || fail "resync said: $(cat "$TMP/resync")"
[ "$(status_field save_runs)" = 0 ] || fail "resync with nothing changed ran $(status_field save_runs) saves"
[ "$(status_field last_resync_by)" = generation ] || fail "resync by $(status_field last_resync_by)"
ctl resync --full > "$TMP/resync" || fail "resync --full"
grep -q "^$N intact, 0 re-applied$" "$TMP/resync" || fail "resync --full said: $(cat "$TMP/resync")"
[ "$(status_field save_runs)" = 3 ] || fail "resync --full ran $(status_field save_runs) saves, want 3"
[ "$(status_field last_resync_by)" = save ] || fail "resync --full by $(status_field last_resync_by)"
ctl call io.netd.Resync '{"full": "yes"}' > "$TMP/resync" 2>&1 && fail "full: a string was taken"
grep -q "InvalidParameter" "$TMP/resync" || fail "full as a string: $(cat "$TMP/resync")"
in_ns ebtables -D NETD-FROM -i p3 -j N-O-p3 || fail "ebtables -D"
in_ns ebtables -F N-O-p3 && in_ns ebtables -X N-O-p3 || fail "ebtables -X"
ctl resync > "$TMP/resync" || fail "resync after a deleted chain"
grep -q "^$((N - 1)) intact, 1 re-applied$" "$TMP/resync" || fail "resync said: $(cat "$TMP/resync")"
[ "$(status_field save_runs)" -ge 6 ] || fail "resync after a deleted chain ran no save"
in_ns ebtables -L N-O-p3 > /dev/null || fail "N-O-p3 not repaired"
[ "$(status_field last_resync_by)" = save ] || fail "resync by $(status_field last_resync_by)"
ctl status | grep -q "^last resync .*(by save)$" || fail "status: $(ctl status | grep 'last resync')"
ok "resync: nothing changed, 0 saves; --full, 3 saves; a deleted chain: saved and re-applied"

# Someone changes an unrelated table while netd is down: the generation
# moves, so netd checks with one save per family, finds its chains intact,
# and records a new checkpoint for the next restart.
stop_netd
in_ns iptables -t filter -N SOMEONE-ELSE
verified_after_restart save 3
ok "unrelated nft change: verified by 3 save runs, 0 restore runs, $N skipped"
verified_after_restart generation 0
ok "and the next restart needs no save again"

# One rule deleted from one binding's chain while netd is down: re-applied.
stop_netd
in_ns ebtables -D N-O-p7 -j DROP || fail "ebtables -D"
start_netd
for i in $(seq 100); do [ "$(status_field bindings_applied)" -ge 1 ] && break; sleep 0.1; done
sleep 0.3
[ "$(status_field bindings_applied)" = 1 ] || fail "one altered chain: re-applied $(status_field bindings_applied), want 1"
[ "$(in_ns ebtables -L N-O-p7 | grep -c -- '-j DROP')" = "$(in_ns ebtables -L N-O-p8 | grep -c -- '-j DROP')" ] ||
	fail "N-O-p7 not repaired"
verified_after_restart generation 0
ok "one deleted rule: that binding re-applied; the next restart needs no save"

# Someone flushes ebtables: Resync repairs it in one run per family.
in_ns ebtables -F; in_ns ebtables -X
before=$(status_field bindings_applied)
ctl resync > "$TMP/resync" || fail "resync"
grep -q "^0 intact, $N re-applied$" "$TMP/resync" || fail "resync said: $(cat "$TMP/resync")"
[ "$(status_field restore_runs)" -le 3 ] || fail "resync ran $(status_field restore_runs) restores"
[ $(( $(status_field bindings_applied) - before )) = $N ] || fail "re-applied $(( $(status_field bindings_applied) - before ))"
[ "$(in_ns ebtables-save | grep -c '^:N-O-p')" = $N ] || fail "chains after resync"
ok "ebtables flushed: resync re-applied $N in $(status_field restore_runs) restore run(s)"

# And by a restart.
in_ns ebtables -F; in_ns ebtables -X
stop_netd
start_netd
for i in $(seq 100); do [ "$(status_field filters_verified)" = true ] && [ "$(status_field bindings_applied)" = $N ] && break; sleep 0.1; done
[ "$(status_field bindings_applied)" = $N ] || fail "restart after a flush re-applied $(status_field bindings_applied)"
[ "$(status_field restore_runs)" -le 3 ] || fail "restart after a flush: $(status_field restore_runs) restores"
ok "ebtables flushed, then restart: $N re-applied in $(status_field restore_runs) restore run(s)"
verified_after_restart generation 0
ok "the restart after the repair needs no save"

# Only the bindings of a changed custom filter are re-applied.
before=$(status_field bindings_applied)
runs=$(status_field restore_runs)
sed -i 's/"22"/"2222"/' "$TMP/filters/guest-ssh.json"
kill -HUP "$NETD_PID"
for i in $(seq 100); do [ "$(status_field bindings_applied)" -gt "$before" ] && netd_idle && break; sleep 0.1; done
[ $(( $(status_field bindings_applied) - before )) = 10 ] || fail "re-applied $(( $(status_field bindings_applied) - before )), want 10"
in_ns iptables-save | grep -q 'dport 2222' || fail "the change is not in the kernel"
ok "custom filter changed: only its 10 bindings re-applied ($(( $(status_field restore_runs) - runs )) restore run(s))"

# The same while netd is down: the start renders and re-applies only the
# bindings of that filter.
stop_netd
sed -i 's/"2222"/"2223"/' "$TMP/filters/guest-ssh.json"
start_netd
for i in $(seq 100); do [ "$(status_field bindings_applied)" -ge 10 ] && netd_idle && break; sleep 0.1; done
sleep 0.3
[ "$(status_field bindings_rendered_at_start)" = 10 ] || fail "the start rendered $(status_field bindings_rendered_at_start), want 10"
[ "$(status_field bindings_applied)" = 10 ] || fail "re-applied $(status_field bindings_applied), want 10"
in_ns iptables-save | grep -q 'dport 2223' || fail "the change is not in the kernel"
verified_after_restart generation 0
[ "$(status_field bindings_rendered_at_start)" = 0 ] || fail "the next start rendered $(status_field bindings_rendered_at_start)"
ok "custom filter changed while netd was down: the start rendered and re-applied its 10 bindings only"
stop_netd
