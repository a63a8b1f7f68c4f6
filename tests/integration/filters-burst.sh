#!/bin/bash
# A burst of BindFilter calls on macvtap ports, pipelined on one
# connection, is one `nft -f` run even when the client stops in the middle
# of a call for longer than netd's quiet interval, as a client does whose
# socket buffer filled (it waits for room, then for the CPU): 1000 binds
# of clean-traffic, the writer pausing 100 ms after half of them and half
# of the next call. Every reply says applied and GetStatus counts one nft
# run. Before netd counted a call half read as "more coming", the burst
# was cut in two runs there (bench/run B10 saw it on a loaded machine).
# NETD_BURST_N sets the number of binds.
. "$(dirname "$0")/lib.sh"

command -v nft >/dev/null || fail "nft is required (scripts/check installs it)"
N=${NETD_BURST_N:-1000}
make_parent v0
start_netd
ctl link create --parent v0 --kind macvtap --mode bridge --owner vm --count "$N" >"$TMP/links" ||
	fail "create $N macvtaps"
[ "$(wc -l <"$TMP/links")" = "$N" ] || fail "created $(wc -l <"$TMP/links") links"

# The calls, and the byte at which the writer pauses: half the calls,
# then 40 bytes into the next one.
bind_calls() { # FIRST COUNT
	awk -v a="$1" -v n="$2" 'BEGIN { for (i = a; i < a + n; i++)
		printf "{\"method\":\"io.netd.BindFilter\",\"parameters\":{\"port\":\"macvtap%d\",\"filter\":\"clean-traffic\",\"owner\":\"vm\",\"parameters\":{\"IP\":\"10.%d.%d.%d\"}}}%c",
			i, int(i / 62500), int(i / 250) % 250, i % 250 + 1, 0 }'
}
bind_calls 0 "$N" >"$TMP/calls"
AT=$(( $(bind_calls 0 $((N / 2)) | wc -c) + 40 ))

runs0=$(status_field netdev_nft_runs)
# Up to 60 s, ended as soon as every call is answered: under ASan beside
# another test on a busy machine the burst took over the 3 s once waited.
VLCLIENT_RAW_ANSWERED=1 "$VLCLIENT" raw "$SOCK" 60000 "$AT" 100 <"$TMP/calls" >"$TMP/replies" ||
	fail "vlclient raw"
applied=$(grep -c '"state":"applied"' "$TMP/replies")
[ "$applied" = "$N" ] ||
	fail "$applied of $N binds applied: $(grep -v '"state":"applied"' "$TMP/replies" | head -3)"
runs=$(( $(status_field netdev_nft_runs) - runs0 ))
[ "$runs" = 1 ] || fail "a burst of $N binds, its writer pausing mid-call, took $runs nft runs"
[ "$(status_field netdev_bindings)" = "$N" ] || fail "netdev_bindings: $(status_field netdev_bindings)"
in_ns nft list chain netdev netd "N-O-macvtap$((N - 1))" >/dev/null || fail "the last port has no chain"
ok "$N binds in one burst, the writer pausing 100 ms mid-call: one nft run, all applied"
stop_netd
