#!/bin/bash
# Filters on a macvtap netd made (the nftables netdev backend), with real
# frames: the macvtap sits on a veth whose peer is in a second namespace.
# tapframe writes frames to the macvtap's character device as a guest
# does and counts them on the peer, and the other way round. Without a
# binding everything passes; with clean-traffic (MAC, IP) legitimate ARP,
# IPv4 and DHCP pass, a spoofed source MAC, source IP, ARP sender IP or
# MAC and other L2 traffic (IPv6) from the guest are dropped, and IPv6
# towards the guest does not arrive on its fd while IPv4 does; after the
# unbind all passes again. Then: the golden files of the renderer load
# into this kernel; a restart with nothing changed runs no nft; a flush
# of the table is found by Resync and repaired; deleting the link through
# netd, or behind its back, removes its chains, and a new link of the same
# name binds cleanly; a batch with a binding nft refuses is halved until
# that one is alone; a bridge is refused. Last, libvirt XML filters from
# filter_dir: one with a conntrack state match is refused, naming it; one
# with a sub-chain (chain 'ipv4') reached through a <filterref> whose
# parameter gives the guest's IP is bound and drops a spoofed source MAC
# and an IPv4 source other than the parameter's (the binding's own IP
# included) while good frames pass.
. "$(dirname "$0")/lib.sh"

TAPFRAME=$top_builddir/tests/helpers/tapframe
command -v nft >/dev/null || fail "nft is required (scripts/check installs it)"
[ -x "$TAPFRAME" ] || fail "$TAPFRAME missing (make check builds it)"
PEER=$NS-peer
on_cleanup 'ip netns del "$PEER" 2>/dev/null'
ip netns add "$PEER" || fail "peer namespace"
ip -n "$NS" link add v0 type veth peer name eth0 netns "$PEER" || fail "veth"
ip -n "$NS" link set v0 up
ip -n "$PEER" link set eth0 up

M=02:00:00:00:01:11 X=02:00:00:00:01:99 BC=ff:ff:ff:ff:ff:ff
I=10.9.0.11 J=10.9.0.99
start_netd
PORT=$(ctl link create --parent v0 --kind macvtap --mode bridge --owner vm1 --mac $M) || fail "create"
ip -n "$NS" link set "$PORT" up
# The macvtap's device node, made here: /dev/tapN is named by ifindex,
# which other namespaces share.
idx=$(in_ns cat "/sys/class/net/$PORT/ifindex")
dev=$(in_ns cat "/sys/class/net/$PORT/macvtap/tap$idx/dev") || fail "no tap device for $PORT"
mknod "$TMP/tap" c "${dev%%:*}" "${dev##*:}" || fail "mknod"
TAP=$TMP/tap

# wait_listening ERRFILE: until the counter says it listens (10 s at most;
# its window is 30 s, ended by SIGUSR1 once everything is sent).
wait_listening() {
	local i
	for i in $(seq 500); do grep -q listening "$1" 2>/dev/null && return 0; sleep 0.02; done
	fail "the frame counter did not start: $(cat "$1")"
}
# from_guest: send every frame from the guest, count each on the peer;
# prints "NAME N" per frame. The frames: name, marker, tapframe arguments.
FRAMES="
arp     a0000001 arp  $M $BC $M $I 10.9.0.1
ipv4    a0000002 ipv4 $M $BC $I 10.9.0.1 5000 9
dhcp    a0000003 ipv4 $M $BC 0.0.0.0 255.255.255.255 68 67
mac     a0000004 ipv4 $X $BC $I 10.9.0.1 5000 9
ip      a0000005 ipv4 $M $BC $J 10.9.0.1 5000 9
arpip   a0000006 arp  $M $BC $M $J 10.9.0.1
arpmac  a0000007 arp  $M $BC $X $I 10.9.0.1
ipv6    a0000008 ipv6 $M 33:33:00:00:00:01
rarp    a0000009 rarp $M $BC $M $M
rarpx   a000000a rarp $M $BC $M $X"
from_guest() {
	local markers
	rm -f "$TMP/count" "$TMP/count.err"
	markers=$(echo "$FRAMES" | awk 'NF { print $2 }')
	# shellcheck disable=SC2086
	ip netns exec "$PEER" "$TAPFRAME" count eth0 30000 $markers >"$TMP/count" 2>"$TMP/count.err" &
	local pid=$!
	wait_listening "$TMP/count.err"
	echo "$FRAMES" | while read -r name mk kind rest; do
		[ -n "$name" ] || continue
		# shellcheck disable=SC2086
		in_ns "$TAPFRAME" send "$TAP" "$kind" "$mk" $rest || echo "send $name failed" >&2
	done
	kill -USR1 $pid # all sent: the counter ends shortly after
	wait $pid
	echo "$FRAMES" | awk 'NF { print $1, $2 }' | while read -r name mk; do
		echo "$name $(awk -v m="$mk" '$1 == m { print $2 }' "$TMP/count")"
	done
}
# to_guest: IPv4 and IPv6 frames from the peer to the guest's MAC,
# counted on the guest's fd.
to_guest() {
	rm -f "$TMP/tcount" "$TMP/tcount.err"
	ip netns exec "$NS" "$TAPFRAME" count "$TAP" 30000 b0000001 b0000002 >"$TMP/tcount" 2>"$TMP/tcount.err" &
	local pid=$!
	wait_listening "$TMP/tcount.err"
	ip netns exec "$PEER" "$TAPFRAME" send eth0 ipv4 b0000001 02:00:00:00:02:22 $M 10.9.0.1 $I 9 5000
	ip netns exec "$PEER" "$TAPFRAME" send eth0 ipv6 b0000002 02:00:00:00:02:22 $M
	kill -USR1 $pid
	wait $pid
	sed 's/^b0000001/in-ipv4/; s/^b0000002/in-ipv6/' "$TMP/tcount"
}
seen() { awk -v n="$1" '$1 == n { print $2 }' "$TMP/result"; }
expect() { # expect STATE NAME...: each frame passed (pass) or not (drop)
	local want=$1 n c
	shift
	for n in "$@"; do
		c=$(seen "$n")
		case $want in
		pass) [ "${c:-0}" -ge 1 ] || fail "$n: dropped, should pass ($(tr '\n' ' ' <"$TMP/result"))" ;;
		drop) [ "${c:-0}" = 0 ] || fail "$n: passed, should be dropped ($(tr '\n' ' ' <"$TMP/result"))" ;;
		esac
	done
}
check() { { from_guest; to_guest; } >"$TMP/result"; }

check
expect pass arp ipv4 dhcp mac ip arpip arpmac ipv6 rarp rarpx in-ipv4 in-ipv6
ok "without a binding every frame passes both ways"

ctl filter bind --port "$PORT" --filter clean-traffic --owner vm1 --param IP=$I >"$TMP/bind" ||
	fail "bind clean-traffic on a macvtap"
grep -q 'backend.*nftables' "$TMP/bind" || ctl --json filter show "$PORT" | grep -q '"backend": "nftables"' ||
	fail "the binding does not say it is held by the nftables backend"
[ "$(status_field netdev_nft_runs)" = 1 ] || fail "one nft run expected, got $(status_field netdev_nft_runs)"
in_ns nft list chain netdev netd "N-O-$PORT" | grep -q "hook egress device \"$PORT\"" ||
	fail "no egress chain on $PORT"
check
expect pass arp ipv4 dhcp rarp in-ipv4
expect drop mac ip arpip arpmac ipv6 rarpx in-ipv6
ok "clean-traffic: legitimate ARP, IPv4, DHCP and QEMU's RARP announcement pass; spoofed MAC, IP, ARP sender, other RARP and IPv6 dropped"

# Restart with nothing changed: no nft run, no listing, still filtering.
stop_netd
start_netd
for i in $(seq 50); do [ "$(status_field filters_verified)" = true ] && break; sleep 0.1; done
[ "$(status_field netdev_nft_runs)" = 0 ] || fail "a restart with nothing changed ran nft -f"
[ "$(status_field restore_runs)" = 0 ] || fail "a restart with nothing changed ran a restore"
ok "restart with nothing changed: no nft run ($(status_field netdev_listings) listings)"

# Drift: someone flushes the table; Resync finds it and repairs it.
in_ns nft flush table netdev netd || fail "nft flush"
check
expect pass mac ip
ctl resync >"$TMP/resync" || fail "resync"
grep -q "1 re-applied\|reapplied.*1" "$TMP/resync" || fail "resync did not re-apply: $(cat "$TMP/resync")"
[ "$(status_field netdev_drift)" -ge 1 ] || fail "drift not counted"
db "SELECT method FROM audit" | grep -q kernel.NetdevFilterDrift || fail "drift not audited"
check
expect pass arp ipv4 dhcp in-ipv4
expect drop mac ip arpip arpmac ipv6 in-ipv6
ok "a flushed table is found by Resync and repaired"

ctl filter unbind --port "$PORT" --owner vm1 >/dev/null || fail "unbind"
in_ns nft list table netdev netd | grep -q "N-.-$PORT" && fail "chains left after unbind"
check
expect pass arp ipv4 dhcp mac ip arpip arpmac ipv6 in-ipv4 in-ipv6
ok "after unbind every frame passes again"

# Lifecycle: deleting the link through netd removes its chains; a new
# link of the same name binds cleanly.
ctl filter bind --port "$PORT" --filter clean-traffic --owner vm1 --param IP=$I >/dev/null || fail "rebind"
ctl link delete --owner vm1 >/dev/null || fail "link delete"
for i in $(seq 100); do ctl filter show "$PORT" >/dev/null 2>&1 || break; sleep 0.1; done
ctl filter show "$PORT" >/dev/null 2>&1 && fail "binding of a deleted link still there"
in_ns nft list table netdev netd | grep -q "N-.-$PORT" && fail "chains of a deleted link left"
P2=$(ctl link create --parent v0 --kind macvtap --mode bridge --owner vm2 --mac $M) || fail "create again"
[ "$P2" = "$PORT" ] || fail "the name was not reused ($P2)"
ctl filter bind --port "$P2" --filter no-mac-spoofing --owner vm2 >/dev/null || fail "bind the new link"
in_ns nft list chain netdev netd "N-O-$P2" | grep -q "ether saddr != $M drop" || fail "new binding not in the kernel"
ok "deleting the link removes its chains; the recreated link binds cleanly"

# The kernel removing the link (not netd): its chains go too.
ip -n "$NS" link del "$P2" || fail "ip link del"
for i in $(seq 100); do ctl filter show "$P2" >/dev/null 2>&1 || break; sleep 0.1; done
ctl filter show "$P2" >/dev/null 2>&1 && fail "binding of a link deleted behind netd still there"
in_ns nft list table netdev netd | grep -q "N-.-$P2" && fail "chains of a link deleted behind netd left"
ok "a link deleted behind netd's back takes its chains with it"

# The renderer's golden files load into this kernel as they are.
for g in "$top_srcdir"/tests/rules/golden/*.nft; do
	{ echo "add table netdev goldencheck"; sed 's/netdev netd /netdev goldencheck /' "$g"; } |
		in_ns nft -f - || fail "$(basename "$g") does not load"
done
in_ns nft delete table netdev goldencheck
ok "every golden *.nft file loads with nft"

# A batch with one binding nft refuses: split in halves until it is alone;
# the others are applied, it fails with nft's message. The nft netd runs
# is a wrapper that refuses any input holding macvtap3's chains.
mkdir -p "$TMP/bin"
NFT=$(command -v nft)
cat >"$TMP/bin/nft" <<EOF
#!/bin/sh
[ "\$1" = -f ] || exec $NFT "\$@"
in=\$(cat)
case "\$in" in *"N-O-macvtap3 {"*) echo "Error: refused by the test" >&2; exit 1 ;; esac
printf '%s\n' "\$in" | exec $NFT "\$@"
EOF
chmod +x "$TMP/bin/nft"
stop_netd
PATH=$TMP/bin:$PATH start_netd
ctl link create --parent v0 --kind macvtap --mode bridge --owner vm4 --count 4 >"$TMP/four" || fail "create 4"
[ "$(tr '\n' ' ' <"$TMP/four")" = "macvtap0 macvtap1 macvtap2 macvtap3 " ] || fail "created $(cat "$TMP/four")"
# (vlbench exits 1 when a call fails: one must.)
"$top_builddir/bench/vlbench" bind "$SOCK" macvtap 0 4 clean-traffic >"$TMP/vl" 2>&1
grep -q '"applied":3,"errors":1' "$TMP/vl" || fail "split: $(cat "$TMP/vl")"
grep -q 'ApplyFailed.*macvtap3.*refused by the test' "$TMP/vl" || fail "macvtap3's reply: $(cat "$TMP/vl")"
[ "$(status_field netdev_batches_failed)" -ge 2 ] || fail "no failed batch counted"
ctl --json filter show macvtap3 | grep -q '"error": "Error: refused by the test"' ||
	fail "macvtap3: $(ctl --json filter show macvtap3)"
for p in macvtap0 macvtap1 macvtap2; do
	in_ns nft list chain netdev netd "N-O-$p" >/dev/null 2>&1 || fail "$p not applied after the split"
done
ok "a refused binding is isolated by halving; the others are applied"

# A bridge itself cannot be filtered by either backend.
ip -n "$NS" link add br9 type bridge
ctl filter bind --port br9 --filter clean-traffic --owner vm3 --param MAC=$M 2>"$TMP/err" && fail "bridge bound"
grep -q UnsupportedPort "$TMP/err" || fail "bridge: $(cat "$TMP/err")"
ok "a bridge is refused with UnsupportedPort"
stop_netd

# What the netdev rendering cannot express is refused, naming it: a
# libvirt XML filter with a conntrack state match (no netdev hook has
# one) is not bound with that rule left out.
mkdir -p "$TMP/filters"
cp "$top_srcdir/tests/rules/xml/"{ip-protocols,guest-guard,ipv4-source}.xml "$TMP/filters/"
printf '[netd]\nfilter_dir = %s\n' "$TMP/filters" >>"$CONF"
start_netd
P5=$(ctl link create --parent v0 --kind macvtap --mode bridge --owner vm5 --mac $M) || fail "create for XML"
ctl filter bind --port "$P5" --filter ip-protocols --owner vm5 --param IP=$I 2>"$TMP/err" &&
	fail "ip-protocols (state) bound on a macvtap"
grep -q "InvalidParameter" "$TMP/err" && grep -q "match state is not supported by the nftables netdev backend" "$TMP/err" ||
	fail "state on a macvtap: $(cat "$TMP/err")"
in_ns nft list table netdev netd 2>/dev/null | grep -q "N-.-$P5" && fail "chains of a refused binding"
ok "an XML filter with a match no netdev hook has (state) is refused, naming it"

# guest-guard: no-mac-spoofing, and chain 'ipv4' (ipv4-source) under a
# <filterref> that sets IP=10.9.0.11 ($I); the binding's own IP is $J.
ip -n "$NS" link set "$P5" up
idx=$(in_ns cat "/sys/class/net/$P5/ifindex")
dev=$(in_ns cat "/sys/class/net/$P5/macvtap/tap$idx/dev") || fail "no tap device for $P5"
rm -f "$TMP/tap" && mknod "$TMP/tap" c "${dev%%:*}" "${dev##*:}" || fail "mknod for $P5"
ctl filter bind --port "$P5" --filter guest-guard --owner vm5 --param IP=$J >"$TMP/bind" ||
	fail "guest-guard not bound: $(cat "$TMP/bind")"
in_ns nft list chain netdev netd "N-O-$P5-l2" | grep -q "ip saddr $I return" ||
	fail "the reference's IP not in the rules: $(in_ns nft list table netdev netd)"
check
expect drop mac ip dhcp
expect pass arp ipv4 arpip arpmac ipv6 rarp rarpx in-ipv4 in-ipv6
ok "a libvirt XML sub-chain under a <filterref> parameter filters a macvtap: spoofed MAC and IPs dropped"
stop_netd
