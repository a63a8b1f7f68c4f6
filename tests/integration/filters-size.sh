#!/bin/bash
# At size: NETD_SIZE_BINDINGS bindings (2,000 by default; the 10,000 of
# the issue take minutes to set up, so give that once by hand), a
# restart, one hook deleted, then Resync: it repairs the hook in well
# under the helper timeout, without re-applying the bindings, and no loop
# callback of the restarted netd takes more than 20 ms of CPU time
# (GetStatus: longest_callback_cpu_us and its name; NETD_SIZE_CALLBACK_US)
# nor more than 250 ms of wall-clock time (NETD_SIZE_WALL_US: a callback
# that waits on something shows there; on a machine running other tests
# beside this one, wall-clock times include the time the callback was
# preempted: 22 ms seen in CI, 50 ms here for an 8 ms callback). The helper timeout is long because
# the initial apply of 10,000 bindings on a busy machine can take more
# than 30 s; the Resync itself must stay under 30 s. Then ListBindings of
# them all: taken at the call and encoded at most 128 bindings per loop
# iteration, so it spans that many iterations and none of its callbacks
# takes more than NETD_LIST_CALLBACK_US (12 ms, which a list in one callback (26 ms) exceeds while a loaded VM stretching 5 ms does not; 20 ms under the
# sanitizers) of CPU time; a client that leaves before its list is
# encoded does no harm.
. "$(dirname "$0")/lib.sh"

N=${NETD_SIZE_BINDINGS:-2000}
LIMIT_US=${NETD_SIZE_CALLBACK_US:-20000}
WALL_LIMIT_US=${NETD_SIZE_WALL_US:-250000}
{ for i in $(seq 0 $((N - 1))); do echo "link add s$i type veth peer name t$i"; done; } > "$TMP/batch"
ip -n "$NS" -batch "$TMP/batch" || fail "veth ports"
printf '[netd]\nhelper_timeout_ms = 120000\n' > "$CONF"
start_netd

: > "$TMP/calls"
for i in $(seq 0 $((N - 1))); do
	printf '{"method":"io.netd.BindFilter","parameters":{"port":"s%d","filter":"clean-traffic","owner":"g","parameters":{"IP":"10.%d.%d.%d"}}}\0' \
		$i $((i / 62500)) $((i / 250 % 250)) $((i % 250 + 1)) >> "$TMP/calls"
done
"$VLCLIENT" raw "$SOCK" 600000 < "$TMP/calls" > "$TMP/replies" &
client=$!
for i in $(seq 6000); do [ "$(grep -c '"state":"applied"' "$TMP/replies")" = $N ] && break; sleep 0.1; done
[ "$(grep -c '"state":"applied"' "$TMP/replies")" = $N ] || fail "not all $N applied: $(grep -v applied "$TMP/replies" | head -3)"
kill $client 2>/dev/null
ok "$N bindings applied"
echo "size: after the binds: longest callback $(status_field longest_callback_us) us ($(status_field longest_callback))"

# resync_round: a fresh netd (its longest callback is then the start's or
# the Resync's), one hook deleted, Resync; sets ms, us, name, before_us,
# before_name. Fails if the Resync is wrong.
resync_round() {
	[ -n "$NETD_PID" ] && stop_netd
	start_netd
	for i in $(seq 600); do [ "$(status_field filters_verified)" = true ] && netd_idle && break; sleep 0.1; done
	[ "$(status_field filters_verified)" = true ] || fail "not verified after the restart"
	# The start's own callbacks (the links' dump of 2N devices) are the
	# links' part of the issue: what the Resync adds is what counts here.
	before_us=$(status_field longest_callback_cpu_us)
	before_name=$(status_field longest_callback_cpu)
	before_wall=$(status_field longest_callback_us)
	in_ns ebtables -D FORWARD -j NETD-TO || fail "ebtables -D"
	t0=$(date +%s%N)
	ctl resync > "$TMP/resync" || fail "resync: $(cat "$TMP/resync")"
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	grep -q "^$N intact, 0 re-applied$" "$TMP/resync" || fail "resync said: $(cat "$TMP/resync")"
	[ "$(in_ns ebtables-save | grep -c -- '^-A FORWARD -j NETD-TO$')" = 1 ] || fail "NETD-TO hooks: $(in_ns ebtables-save | grep -c -- '^-A FORWARD -j NETD-TO$')"
	[ "$(in_ns ebtables-save | grep -c -- '^-A FORWARD -j NETD-FROM$')" = 1 ] || fail "NETD-FROM hooks duplicated"
	us=$(status_field longest_callback_cpu_us)
	name=$(status_field longest_callback_cpu)
	wall=$(status_field longest_callback_us)
	wall_name=$(status_field longest_callback)
	echo "size: $N bindings: Resync after one hook deletion $ms ms; longest callback $us us of CPU ($name), $wall us of wall clock ($wall_name); before the Resync $before_us us of CPU ($before_name), $before_wall us of wall clock"
	[ "$ms" -lt 30000 ] || fail "Resync took $ms ms"
}

# within_bounds: the Resync's callbacks (those longer than the start's)
# within both bounds.
within_bounds() {
	{ [ "$us" = "$before_us" ] || [ "$us" -le "$LIMIT_US" ]; } &&
		{ [ "$wall" = "$before_wall" ] || [ "$wall" -le "$WALL_LIMIT_US" ]; }
}

# CPU time also grows on a busy machine (caches, a sibling hyperthread):
# a second round (a fresh netd again) must then be within the bounds.
for round in 1 2; do
	resync_round
	within_bounds && break
	[ $round = 2 ] && fail "longest callback during the Resync $us us of CPU ($name; bound $LIMIT_US), $wall us of wall clock ($wall_name; bound $WALL_LIMIT_US), twice"
	echo "note: round $round above a bound; once more"
done
if [ "$us" != "$before_us" ]; then
	ok "$N bindings: one hook deleted, Resync repaired it in $ms ms; its longest callback $us us of CPU ($name)"
else
	# Every callback of the Resync was shorter than one of the start's.
	[ "$us" -le "$LIMIT_US" ] || echo "note: the longest callback is the start's ($before_name), not the Resync's"
	ok "$N bindings: one hook deleted, Resync repaired it in $ms ms; its callbacks all below $us us"
fi

if ldd "$NETD" 2>/dev/null | grep -q libasan; then
	LIST_LIMIT_US=${NETD_LIST_CALLBACK_US:-20000}
else
	LIST_LIMIT_US=${NETD_LIST_CALLBACK_US:-12000}
fi
ports() { sed -n 's/^ *"port": "\(.*\)",\{0,1\}$/\1/p'; }
cpu0=$(status_field longest_callback_cpu_us)
it0=$(status_field iterations)
ctl --json filter list > "$TMP/list" || fail "list: $(head -c 300 "$TMP/list")"
it1=$(status_field iterations)
cpu1=$(status_field longest_callback_cpu_us)
name1=$(status_field longest_callback_cpu)
[ "$(ports < "$TMP/list" | sort -u | wc -l)" = "$N" ] || fail "the list names $(ports < "$TMP/list" | sort -u | wc -l) ports, not $N"
ports < "$TMP/list" | sort -V -c || fail "the list is not in port order"
[ "$(grep -c '"applied": true' "$TMP/list")" = "$N" ] || fail "not all $N applied in the list"
ctl --json filter list --owner g | ports | cmp -s - <(ports < "$TMP/list") || fail "the owner's list differs"
[ "$(ctl --json filter list --owner nobody | ports | wc -l)" = 0 ] || fail "nobody's list is not empty"
echo "size: ListBindings of $N: $((it1 - it0)) loop iterations; longest callback $cpu1 us of CPU ($name1), before $cpu0 us"
[ $((it1 - it0)) -ge $((N / 128)) ] || fail "the list took $((it1 - it0)) loop iterations"
[ "$cpu1" = "$cpu0" ] || [ "$cpu1" -le "$LIST_LIMIT_US" ] || fail "a callback of the list took $cpu1 us of CPU ($name1), above $LIST_LIMIT_US us"
raw '{"method":"io.netd.ListBindings","parameters":{}}\0' 0 > /dev/null
raw '{"method":"io.netd.ListBindings","parameters":{}}\0' 0 > /dev/null
[ "$(status_field bindings)" = "$N" ] || fail "netd after clients that left mid-list: $(status_field bindings)"
ok "ListBindings of $N bindings over $((it1 - it0)) loop iterations, no callback of it above $LIST_LIMIT_US us of CPU"
stop_netd
