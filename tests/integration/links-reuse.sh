#!/bin/bash
# An index is free again only after the kernel confirmed the deletion: a
# create dispatched while a delete is in flight never gets one of the
# doomed names; once the delete is answered, it does.
. "$(dirname "$0")/lib.sh"

make_parent v0
start_netd
ctl link create --parent v0 --kind macvtap --owner old-guest --count 10 >/dev/null || fail "create 10"

# Both calls in one write, so netd dispatches the create while the
# deletion is still with the kernel.
out=$(printf '{"method":"io.netd.DeleteLinks","parameters":{"owner":"old-guest"}}\0{"method":"io.netd.CreateLinks","parameters":{"parent":"v0","kind":"macvtap","owner":"new-guest","count":3}}\0' |
	"$VLCLIENT" raw "$SOCK" 3000)
first=$(printf '%s\n' "$out" | sed -n 1p)
second=$(printf '%s\n' "$out" | sed -n 2p)
case $first in *'"deleted":["macvtap0",'*'"macvtap9"]'*) ;; *) fail "delete reply: $first" ;; esac
new=$(printf '%s\n' "$second" | grep -o '"name":"macvtap[0-9]*"' | tr '\n' ' ')
[ "$new" = '"name":"macvtap10" "name":"macvtap11" "name":"macvtap12" ' ] || fail "create during the delete got $new: $second"
ok "create during a delete got macvtap10..12, none of the doomed names"

# Answered: now the names are free.
[ "$(ctl link create --parent v0 --kind macvtap --owner next --count 2 | tr '\n' ' ')" = "macvtap0 macvtap1 " ] || fail "freed names not reused after the delete"
[ "$(kview names macvtap | sort -V | tr '\n' ' ')" = "macvtap0 macvtap1 macvtap10 macvtap11 macvtap12 " ] || fail "kernel: $(kview names macvtap | tr '\n' ' ')"
ok "after the delete's reply, the lowest names are reused"

# A link being created cannot be deleted yet: LinkBusy, not a race, also
# when the kernel has acked it and the create call is not answered yet
# (a delete dispatched an iteration later, as in the ASan build, took it
# then, and the create was never answered). The reply waits behind the
# create's (replies keep their order): wait up to 120 s, ending as soon
# as both are answered.
out=$(printf '{"method":"io.netd.CreateLinks","parameters":{"parent":"v0","kind":"macvtap","owner":"busy","count":50}}\0{"method":"io.netd.DeleteLinks","parameters":{"owner":"busy","names":["macvtap2"]}}\0' |
	VLCLIENT_RAW_ANSWERED=1 "$VLCLIENT" raw "$SOCK" 120000)
second=$(printf '%s\n' "$out" | sed -n 2p)
case $second in *'"error":"io.netd.LinkBusy","parameters":{"name":"macvtap2","state":"creating"}'*) ;; *) fail "delete during create: $second (all: $out)" ;; esac
ok "delete of a link still being created: LinkBusy"
stop_netd
