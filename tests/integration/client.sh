#!/bin/bash
# libnetd-client against a real netd (tests/client/test_client.c): a call
# that timed out poisons nothing (its late reply is dropped, the next call
# gets its own); a message larger than the socket takes is queued whole and
# continued; a dropped connection fails every call in flight and every
# later one; the typed calls, blocking and async; netd_strerror() knows
# every error the interfaces declare; CreateLinks with fds hands over each
# link's open tap device.
. "$(dirname "$0")/lib.sh"

TC=$top_builddir/tests/client/test_client
make_parent v0
ip -n "$NS" link add port1 type veth peer name port1-p || fail "veth port1"
start_netd

errors=$(sed -n 's/^error \([A-Za-z]*\).*/io.netd.\1/p' "$top_srcdir/netd/io.netd.varlink"
	sed -n 's/^error \([A-Za-z]*\).*/org.varlink.service.\1/p' "$top_srcdir/netd/org.varlink.service.varlink")
[ "$(echo "$errors" | wc -l)" -ge 20 ] || fail "error names not found in the interfaces"
# shellcheck disable=SC2086
"$TC" errors $errors || fail "error names"
ok "every declared error has a constant and words"

in_ns "$TC" timeout "$SOCK" v0 || fail "timeout"
links_settled || fail "links did not settle"
ok "a timed-out call poisons nothing"

in_ns "$TC" partial "$SOCK" "$NETD_PID" || { kill -CONT "$NETD_PID"; fail "partial"; }
ok "large message queued whole, continued, replies in order"

in_ns "$TC" broken "$SOCK" || fail "broken"
ok "a dropped connection fails every call, also later ones"

in_ns "$TC" typed "$SOCK" v0 port1 || fail "typed"
ctl --json link list --owner typed | grep -q "\"name\"" && fail "typed links left: $(ctl link list --owner typed)"
ok "typed calls, blocking and async"

# devtmpfs is shared by all namespaces: /dev/tapN may be another
# namespace's macvtap with the same ifindex. Make sure it is for the next
# two links (ifindexes are handed out in turn: probe for the next ones)
# with decoys, /dev/null's device, for as long as the call takes.
ip -n "$NS" link add probe0 type veth peer name probe1 || fail "probe"
k=$(kview links | awk '$1 ~ /^probe[01]$/ { print $2 }' | sort -n | tail -n 1)
ip -n "$NS" link del probe0
decoys=
for i in $((k + 1)) $((k + 2)); do
	[ -e "/dev/tap$i" ] && continue # someone else's already
	mknod "/dev/tap$i" c 1 3 && decoys="$decoys /dev/tap$i"
done
# shellcheck disable=SC2086
remove_decoys() { for d in $decoys; do [ "$(stat -c %t:%T "$d" 2>/dev/null)" = 1:3 ] && rm -f "$d"; done; decoys=; }
on_cleanup remove_decoys
in_ns "$TC" tapfd "$SOCK" v0 v0-p || fail "tapfd"
remove_decoys
ctl --json link list --owner fds | grep -q "\"ifindex\": $((k + 1))," ||
	fail "the first link is not ifindex $((k + 1)): the decoy was not tested"
[ "$(ctl --json link list --owner fds | grep -c '"state": "present"')" = 5 ] || fail "fds links"
ls /dev/.netd-tap-* 2>/dev/null && fail "private tap nodes made in /dev"
# The decoys' links went through private nodes, in the database's directory.
ls -A "$(dirname "$DB")" | grep '^\.netd-tap-' && fail "private tap nodes left by the database"
# Open descriptors of netd: none of the taps stays open in netd.
[ "$(find "/proc/$NETD_PID/fd" -lname '/dev/*tap*' 2>/dev/null | wc -l)" = 0 ] ||
	fail "netd keeps taps open: $(ls -l "/proc/$NETD_PID/fd")"
ok "CreateLinks with fds passes each link's own tap; a frame written leaves through the parent"

stop_netd
