#!/bin/bash
# libnetd-client against a real netd (tests/client/test_client.c): a call
# that timed out poisons nothing (its late reply is dropped, the next call
# gets its own); a message larger than the socket takes is queued whole and
# continued; a dropped connection fails every call in flight and every
# later one; the typed calls, blocking and async; netd_strerror() knows
# every error the interfaces declare.
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

in_ns "$TC" partial "$SOCK" || fail "partial"
ok "large message queued whole, continued, replies in order"

in_ns "$TC" broken "$SOCK" || fail "broken"
ok "a dropped connection fails every call, also later ones"

in_ns "$TC" typed "$SOCK" v0 port1 || fail "typed"
ctl --json link list --owner typed | grep -q "\"name\"" && fail "typed links left: $(ctl link list --owner typed)"
ok "typed calls, blocking and async"

stop_netd
