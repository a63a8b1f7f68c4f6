#!/bin/bash
# Real packets through a real bridge: guests in their own namespaces on
# veth ports of a bridge in netd's namespace. With clean-traffic bound
# (MAC, IP): normal ping passes; a spoofed source MAC, a spoofed source IP
# and a spoofed ARP reply are dropped; DHCP passes; after unbind the
# spoofed traffic passes again.
. "$(dirname "$0")/lib.sh"

for t in ping arping dnsmasq busybox ebtables-save; do
	command -v $t >/dev/null || fail "$t is required (scripts/check installs it)"
done
G1=$NS-g1 G2=$NS-g2
on_cleanup 'ip netns del "$G1" 2>/dev/null; ip netns del "$G2" 2>/dev/null'
ip netns add "$G1" && ip netns add "$G2" || fail "guest namespaces"

ip -n "$NS" link add br0 type bridge
ip -n "$NS" addr add 10.9.0.1/24 dev br0
ip -n "$NS" link set br0 up
guest() { # guest NS PORT MAC IP
	ip -n "$NS" link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$NS" link set "$2" master br0 up
	ip -n "$1" link set lo up
	ip -n "$1" link set eth0 address "$3" up
	ip -n "$1" addr add "$4"/24 dev eth0
}
guest "$G1" vm1 02:00:00:00:01:11 10.9.0.11
guest "$G2" vm2 02:00:00:00:01:12 10.9.0.12
ip netns exec "$G2" sysctl -qw net.ipv4.conf.eth0.arp_accept=1
# arping binds to the address it claims; the spoofer may claim any.
ip netns exec "$G1" sysctl -qw net.ipv4.ip_nonlocal_bind=1

pings() { ip netns exec "$G1" ping -c 2 -W 1 -i 0.2 "$@" 10.9.0.12 >/dev/null 2>&1; }
forget() { ip -n "$G2" neigh flush dev eth0; ip -n "$G1" neigh flush dev eth0; }
spoof_mac() { ip -n "$G1" link set eth0 address 02:00:00:00:01:99; forget; pings; local r=$?; ip -n "$G1" link set eth0 address 02:00:00:00:01:11; forget; return $r; }
spoof_ip() { ip -n "$G1" addr add 10.9.0.99/24 dev eth0; forget; pings -I 10.9.0.99; local r=$?; ip -n "$G1" addr del 10.9.0.99/24 dev eth0; return $r; }
# An unsolicited ARP reply claiming 10.9.0.77: with arp_accept, G2 learns
# it only if the reply reaches it.
spoof_arp() {
	ip -n "$G2" neigh del 10.9.0.77 dev eth0 2>/dev/null
	ip netns exec "$G1" arping -q -A -c 2 -w 2 -I eth0 -s 10.9.0.77 10.9.0.77 >/dev/null 2>&1
	sleep 0.2
	ip -n "$G2" neigh show 10.9.0.77 | grep -q lladdr
}
dhcp() { ip netns exec "$G1" busybox udhcpc -B -i eth0 -n -q -t 3 -T 1 -s /bin/true >/dev/null 2>&1; }
# eventually CMD...: what must pass gets three tries, so that a loaded
# machine (tests run two at a time) cannot fail it by being slow. What must
# be dropped gets one try each; the positive checks around it show that
# the same traffic does pass when it is allowed.
eventually() { local i; for i in 1 2 3; do "$@" && return 0; sleep 0.5; done; return 1; }

ip netns exec "$NS" dnsmasq --no-daemon --port=0 --interface=br0 --bind-interfaces \
	--dhcp-range=10.9.0.100,10.9.0.150,2m --no-resolv --no-hosts --leasefile-ro \
	--pid-file= --log-facility=- >"$TMP/dnsmasq.log" 2>&1 &
for i in $(seq 50); do
	ip netns exec "$NS" ss -Hlun 'sport = :67' | grep -q . && break
	sleep 0.1
done
ip netns exec "$NS" ss -Hlun 'sport = :67' | grep -q . || fail "dnsmasq is not listening: $(tail -3 "$TMP/dnsmasq.log")"

eventually pings || fail "baseline ping"
eventually spoof_mac || fail "baseline: spoofed MAC should pass without a filter"
eventually spoof_ip || fail "baseline: spoofed IP should pass without a filter"
eventually spoof_arp || fail "baseline: spoofed ARP should pass without a filter"
eventually dhcp || fail "baseline DHCP: $(tail -3 "$TMP/dnsmasq.log")"
ok "without a filter: ping, spoofed MAC/IP/ARP and DHCP all pass"

start_netd
ctl filter bind --port vm1 --filter clean-traffic --owner guest1 --param MAC=02:00:00:00:01:11 \
	--param IP=10.9.0.11 >/dev/null || fail "bind clean-traffic"
[ "$(status_field restore_runs)" -ge 1 ] || fail "no restore run"
eventually pings || fail "normal ping dropped by clean-traffic"
ok "clean-traffic bound: normal ping passes"
spoof_mac && fail "spoofed source MAC passed"
ok "spoofed source MAC dropped"
spoof_ip && fail "spoofed source IP passed"
ok "spoofed source IP dropped"
spoof_arp && fail "spoofed ARP reply passed"
ok "spoofed ARP reply dropped"
eventually dhcp || fail "DHCP blocked by clean-traffic: $(tail -3 "$TMP/dnsmasq.log")"
ok "DHCP passes"
eventually pings || fail "normal ping after the spoofing attempts"

ctl filter unbind --port vm1 --owner guest1 >/dev/null || fail "unbind"
ip netns exec "$NS" ebtables-save | grep -q 'N-.-vm1' && fail "chains of vm1 left after unbind"
eventually spoof_mac || fail "after unbind: spoofed MAC still dropped"
eventually spoof_ip || fail "after unbind: spoofed IP still dropped"
eventually spoof_arp || fail "after unbind: spoofed ARP still dropped"
ok "after unbind the spoofed traffic passes again"

# A port that goes takes its rules with it.
ctl filter bind --port vm2 --filter clean-traffic --owner guest2 --param IP=10.9.0.12 >/dev/null || fail "bind vm2"
ip netns exec "$NS" ebtables-save | grep -q '^:N-O-vm2 ' || fail "chain of vm2 missing"
ip -n "$NS" link del vm2
for i in $(seq 150); do ctl filter show vm2 >/dev/null 2>&1 || break; sleep 0.1; done
ctl filter show vm2 >/dev/null 2>&1 && fail "binding of a deleted port still there"
ip netns exec "$NS" ebtables-save | grep -q 'vm2' && fail "rules of a deleted port left"
ok "RTM_DELLINK of a bound port removes its rules"
stop_netd
