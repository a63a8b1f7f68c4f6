#!/bin/bash
# At size: one CreateLinks of NETD_SIZE_LINKS macvtaps (4,096 by default,
# the most one call may ask for) on a veth parent, a restart, and one
# DeleteLinks of them all. The work is spread over loop iterations: no
# callback of netd takes more than 20 ms (NETD_SIZE_CALLBACK_US) of CPU
# time, also not the one that answers the create with its 1 MB reply
# (encoded in pieces). The bound is on CPU time (GetStatus:
# longest_callback_cpu_us) because wall-clock times on a busy machine
# count the time others had the CPU; the wall-clock figure is printed too.
# The default bound is 40 ms, twice the target: on a loaded VM a
# callback's CPU time grows too (a 10.9 ms delete callback measured 26 ms
# while make distcheck ran other tests beside it); the iteration counts
# check that the work is split. Under the sanitizers (4 to 9 times slower
# here) the bound is 160 ms, the same margin four times over: at 80 ms
# the build of 02b0e26 failed alone on a loaded machine (81 ms), and a
# later one beside another test (97 ms, a "client read" during the
# create), where the plain build measured 11 ms. An unsplit create was
# 666 ms without the sanitizers. NETD_SIZE_CALLBACK_US=20000 checks the
# target itself on a quiet machine.
# The links are created down (--down): bringing 4,096 macvtaps up on a
# parent with carrier costs the kernel itself O(n^2) IPv6 route work
# (fib6_add_rt2node, fib6_ifup: 2,048 links took 7.2 s up against 2.1 s
# down), and taking them down again at delete as much; that is the
# kernel's time, not netd's callbacks, which this test is about. Even
# down, the kernel's own cost per macvtap grows with the macvtaps already
# on the parent (4,096 took 12 s on a loaded machine), so the create and
# the delete may take up to 300 s (netdctl -t).
. "$(dirname "$0")/lib.sh"

N=${NETD_SIZE_LINKS:-4096}
if ldd "$NETD" 2>/dev/null | grep -q libasan; then
	LIMIT_US=${NETD_SIZE_CALLBACK_US:-160000}
else
	LIMIT_US=${NETD_SIZE_CALLBACK_US:-40000}
fi
make_parent v0
start_netd

# check_callbacks WHAT: the longest callback so far within the bound.
check_callbacks() {
	local cpu wall
	cpu=$(status_field longest_callback_cpu_us)
	wall=$(status_field longest_callback_us)
	echo "size: $1: longest callback $cpu us of CPU ($(status_field longest_callback_cpu)), $wall us of wall clock ($(status_field longest_callback)); longest iteration $(status_field longest_iteration_us) us"
	[ "$cpu" -le "$LIMIT_US" ] || fail "$1: a callback took $cpu us of CPU ($(status_field longest_callback_cpu)), above $LIMIT_US us"
}

it0=$(status_field iterations)
t0=$(date +%s%N)
ctl --json -t 300 link create --parent v0 --kind macvtap --owner big --count "$N" --down > "$TMP/created" || fail "create: $(head -c 300 "$TMP/created")"
t1=$(date +%s%N)
it1=$(status_field iterations)
[ "$(json_names < "$TMP/created" | sort -u | wc -l)" = "$N" ] || fail "the reply names $(json_names < "$TMP/created" | sort -u | wc -l) links, not $N"
[ "$(grep -c '"state": "present"' "$TMP/created")" = "$N" ] || fail "not all $N present in the reply"
[ "$(kview count macvtap)" = "$N" ] || fail "the kernel has $(kview count macvtap) macvtaps"
# One iteration per LINKS_STEP (128) links at least, for the requests
# and again for the reply.
[ $((it1 - it0)) -ge $((N / 64)) ] || fail "the create took $((it1 - it0)) loop iterations"
check_callbacks "create of $N links in $(( (t1 - t0) / 1000000 )) ms, $((it1 - it0)) iterations"
ok "$N links created, the work spread over $((it1 - it0)) loop iterations"

# ListLinks of them all, taken at once and encoded over iterations.
ctl --json link list > "$TMP/list" || fail "list"
[ "$(json_names < "$TMP/list" | sort -u | wc -l)" = "$N" ] || fail "the list names $(json_names < "$TMP/list" | sort -u | wc -l) links, not $N"
json_names < "$TMP/list" | sort -V -c || fail "the list is not in name order"
ctl --json link list --owner big | json_names | cmp -s - <(json_names < "$TMP/list") || fail "the owner's list differs"
check_callbacks "two lists of $N links"

stop_netd
start_netd
links_settled 300 || fail "not settled after the restart"
[ "$(status_field links)" = "$N" ] || fail "$(status_field links) links after the restart"
check_callbacks "a restart with $N links"

t0=$(date +%s%N)
ctl -t 300 link delete --owner big > "$TMP/deleted" || fail "delete: $(head -c 300 "$TMP/deleted")"
t1=$(date +%s%N)
[ "$(kview count macvtap)" = 0 ] || fail "the kernel still has $(kview count macvtap) macvtaps"
[ "$(db "SELECT count(*) FROM links")" = 0 ] || fail "rows left: $(db "SELECT count(*) FROM links")"
check_callbacks "delete of $N links in $(( (t1 - t0) / 1000000 )) ms"
ok "$N links deleted; no callback above $LIMIT_US us of CPU"
stop_netd
