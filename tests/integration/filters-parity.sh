#!/bin/bash
# The built-ins added for parity with libvirt's standard set, with real
# frames through a real bridge (tests/helpers/frame.py sends and awaits
# them): clean-traffic lets a migrated guest's RARP announcement through
# and drops other RARP; no-mac-broadcast, no-ip-multicast,
# no-ipv6-multicast and no-ipv6-spoofing drop what they name and nothing
# else; clean-traffic-gateway lets the guest's IPv4 reach the gateway's
# MAC only. Each frame that must be dropped is shown to pass without the
# filter first. libvirt's own clean-traffic and clean-traffic-gateway, as
# XML files (renamed lv-*, since the built-ins have their names), give the
# same verdicts through netd (its sub-chains folded by rules/flatten.c).
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "python3 is required (scripts/check installs it)"
FRAME=$top_srcdir/tests/helpers/frame.py
G1=$NS-g1 G2=$NS-g2
M1=02:00:00:00:01:11 M2=02:00:00:00:01:12 OTHER=02:00:00:00:01:77 BC=ff:ff:ff:ff:ff:ff
on_cleanup 'ip netns del "$G1" 2>/dev/null; ip netns del "$G2" 2>/dev/null'
ip netns add "$G1" && ip netns add "$G2" || fail "guest namespaces"
ip -n "$NS" link add br0 type bridge
ip -n "$NS" link set br0 up
guest() { # guest NS PORT MAC
	ip -n "$NS" link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$NS" link set "$2" master br0 up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip -n "$1" link set eth0 address "$3" up
}
guest "$G1" vm1 $M1
guest "$G2" vm2 $M2

# announce: QEMU's RARP announcement (sender and target the guest's MAC,
# addresses 0.0.0.0); bogus-rarp: a RARP request for another MAC.
frame() { # the frames by name: DST,KIND,ARGS
	case $1 in
	announce) echo "$BC,rarp,$M1,$M1" ;;
	bogus-rarp) echo "$BC,rarp,$M1,$OTHER" ;;
	v4-bcast) echo "$BC,ipv4,10.9.0.11,10.9.0.255" ;;
	v4-unicast) echo "$M2,ipv4,10.9.0.11,10.9.0.12" ;;
	v4-mcast) echo "01:00:5e:00:00:01,ipv4,10.9.0.11,224.0.0.1" ;;
	v4-to-other) echo "$OTHER,ipv4,10.9.0.11,10.9.0.77" ;;
	v4-spoofed) echo "$M2,ipv4,10.9.0.99,10.9.0.12" ;;
	v6-own) echo "$M2,ipv6,fd00::11,fd00::12" ;;
	v6-spoofed) echo "$M2,ipv6,fd00::99,fd00::12" ;;
	v6-mcast) echo "33:33:00:00:00:01,ipv6,fd00::11,ff02::1" ;;
	esac
}
n=0
# send_all NAME...: each named frame from G1 (source MAC M1), all at once,
# while G2 collects; $TMP/seen lists the names of those that arrived. Sent
# twice, so that one lost frame does not fail a frame that must pass. The
# collector listens until 0.5 s after the sender has ended (a fixed window
# from "ready" was once shorter than starting the sender on a loaded
# machine), 60 s at most.
send_all() {
	local f specs=()
	n=$((n + 1))
	for f in "$@"; do specs+=("netd-frame-$n-$f-$$,$(frame "$f")"); done
	ip netns exec "$G2" python3 "$FRAME" collect eth0 60 > "$TMP/recv" &
	local pid=$!
	for _ in $(seq 1500); do grep -q ready "$TMP/recv" && break; sleep 0.02; done
	grep -q ready "$TMP/recv" || fail "the collector did not start in 30 s: $(head -c 300 "$TMP/recv")"
	ip netns exec "$G1" python3 "$FRAME" send eth0 $M1 "${specs[@]}" "${specs[@]}"
	sleep 0.5
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	sed -n "s/^netd-frame-$n-\(.*\)-$$\$/\1/p" "$TMP/recv" > "$TMP/seen"
}
# check WHAT PASSING... -- DROPPED...
check() {
	local what=$1 f drop=0 names=()
	shift
	for f in "$@"; do [ "$f" = -- ] || names+=("$f"); done
	send_all "${names[@]}"
	for f in "$@"; do
		[ "$f" = -- ] && { drop=1; continue; }
		if grep -qx -- "$f" "$TMP/seen"; then
			[ $drop = 1 ] && fail "$what: $f passed"
		else
			[ $drop = 0 ] && fail "$what: $f dropped"
		fi
	done
	return 0
}

check "without a filter" announce bogus-rarp v4-bcast v4-unicast v4-mcast v4-to-other v4-spoofed v6-own \
	v6-spoofed v6-mcast
ok "without a filter all 10 kinds of frames pass"

# libvirt's standard filters, renamed, as custom XML files.
NWF=/etc/libvirt/nwfilter
[ -e "$NWF/clean-traffic.xml" ] ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvirt-daemon-config-nwfilter >/dev/null 2>&1
mkdir -p "$TMP/filters"
for f in "$NWF"/*.xml; do
	[ -e "$f" ] || break
	sed -e "s/name='\([a-z0-9-]*\)'/name='lv-\1'/" -e "s/filter='\([a-z0-9-]*\)'/filter='lv-\1'/" "$f" \
		> "$TMP/filters/lv-$(basename "$f")"
done
printf '[netd]\nfilter_dir = %s\n' "$TMP/filters" > "$CONF"

start_netd
bind() { ctl filter bind --port vm1 --owner g --param MAC=$M1 "$@" >/dev/null || fail "bind $*"; }

bind --filter clean-traffic --param IP=10.9.0.11
check clean-traffic announce v4-unicast v4-bcast -- bogus-rarp v4-spoofed v6-own
ok "clean-traffic: the RARP announcement passes, other RARP, spoofed IPv4 and IPv6 are dropped"

bind --filter no-mac-broadcast
check no-mac-broadcast v4-unicast v4-mcast announce -- v4-bcast
ok "no-mac-broadcast: IPv4 to the broadcast MAC dropped, the rest passes"

bind --filter no-ip-multicast
check no-ip-multicast v4-unicast v4-bcast -- v4-mcast
ok "no-ip-multicast: IPv4 to 224.0.0.0/4 dropped"

bind --filter no-ipv6-multicast
check no-ipv6-multicast v6-own v6-spoofed -- v6-mcast
ok "no-ipv6-multicast: IPv6 to ff00::/8 dropped"

bind --filter no-ipv6-spoofing --param IP=10.9.0.11 --param IP=fd00::11
check no-ipv6-spoofing v6-own v4-spoofed v6-mcast -- v6-spoofed
ok "no-ipv6-spoofing: IPv6 from the guest's address passes, from others dropped"

bind --filter clean-traffic-gateway --param IP=10.9.0.11 --param GATEWAY_MAC=$M2
check clean-traffic-gateway v4-unicast announce -- v4-to-other v4-bcast v4-spoofed bogus-rarp
ok "clean-traffic-gateway: IPv4 to the gateway's MAC passes, to others dropped"

if [ -e "$TMP/filters/lv-clean-traffic.xml" ]; then
	[ "$(status_field filter_errors)" = 0 ] || fail "libvirt's filters refused: $(grep 'not loaded' "$NETD_LOG")"
	bind --filter lv-clean-traffic --param IP=10.9.0.11
	check lv-clean-traffic announce v4-unicast v4-bcast -- bogus-rarp v4-spoofed v6-own
	bind --filter lv-clean-traffic-gateway --param IP=10.9.0.11 --param GATEWAY_MAC=$M2
	check lv-clean-traffic-gateway v4-unicast announce -- v4-to-other v4-bcast v4-spoofed bogus-rarp
	bind --filter lv-no-mac-broadcast
	check lv-no-mac-broadcast v4-unicast v4-mcast announce -- v4-bcast
	bind --filter lv-no-ipv6-spoofing --param IP=fd00::11
	check lv-no-ipv6-spoofing v6-own v4-spoofed v6-mcast -- v6-spoofed
	ok "libvirt's own XML filters, loaded by netd, give the built-ins' verdicts"
else
	echo "libvirt-daemon-config-nwfilter cannot be installed: its XML filters not tried"
fi

ctl filter unbind --port vm1 --owner g >/dev/null || fail "unbind"
check "after unbind" bogus-rarp v4-to-other
ok "after unbind the frames pass again"
stop_netd
