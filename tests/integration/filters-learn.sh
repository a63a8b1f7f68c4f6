#!/bin/bash
# Address learning on bridge ports, with real packets: a guest bound to
# clean-traffic with learning "dhcp" passes only DHCP until dnsmasq (in
# netd's namespace, on the bridge) gives it a lease; a DHCPACK the guest
# forges itself teaches nothing; once the server's ACK is seen the binding
# carries the leased address (ListBindings, the audit, ebtables-save) and
# the guest's traffic from it passes while another source address is
# dropped; a restart keeps it. A guest bound with learning "any" across a
# restart learns from its first ARP. Bad requests change nothing.
. "$(dirname "$0")/lib.sh"

for t in ping dnsmasq busybox ebtables-save python3; do
	command -v $t >/dev/null || fail "$t is required (scripts/check installs it)"
done
G1=$NS-g1 G2=$NS-g2 G3=$NS-g3
on_cleanup 'for g in "$G1" "$G2" "$G3"; do ip netns del "$g" 2>/dev/null; done'
for g in "$G1" "$G2" "$G3"; do ip netns add "$g" || fail "guest namespace $g"; done

ip -n "$NS" link add br0 type bridge
ip -n "$NS" addr add 10.9.0.1/24 dev br0
ip -n "$NS" link set br0 up
guest() { # guest NS PORT MAC [IP]
	ip -n "$NS" link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$NS" link set "$2" master br0 up
	ip -n "$1" link set lo up
	ip -n "$1" link set eth0 address "$3" up
	[ -z "${4:-}" ] || ip -n "$1" addr add "$4"/24 dev eth0
}
guest "$G1" vm1 02:00:00:00:01:11
guest "$G2" vm2 02:00:00:00:01:12 10.9.0.12
guest "$G3" vm3 02:00:00:00:01:13

# ping_from GUEST SRC: GUEST pings G2 from address SRC (added for it).
ping_from() {
	ip -n "$1" addr add "$2"/24 dev eth0 2>/dev/null
	ip -n "$1" neigh flush dev eth0; ip -n "$G2" neigh flush dev eth0
	ip netns exec "$1" ping -c 2 -W 1 -i 0.2 -I "$2" 10.9.0.12 >/dev/null 2>&1
	local r=$?
	ip -n "$1" addr del "$2"/24 dev eth0 2>/dev/null
	return $r
}
eventually() { local i; for i in 1 2 3; do "$@" && return 0; sleep 0.5; done; return 1; }
binding() { ctl --json filter show "$1"; }
field() { sed -n "s/^ *\"$1\": \"\\{0,1\\}\\([^\",]*\\)\"\\{0,1\\},\\{0,1\\}$/\\1/p" | head -1; }

cat > "$TMP/udhcpc.sh" <<'EOF'
#!/bin/sh
[ "$1" = bound ] && ip addr add "$ip/${mask:-24}" dev "$interface"
exit 0
EOF
chmod +x "$TMP/udhcpc.sh"

ip netns exec "$NS" dnsmasq --no-daemon --port=0 --interface=br0 --bind-interfaces --no-ping \
	--dhcp-range=10.9.0.100,10.9.0.150,2m --no-resolv --no-hosts --leasefile-ro \
	--pid-file= --log-facility=- >"$TMP/dnsmasq.log" 2>&1 &
for i in $(seq 50); do
	ip netns exec "$NS" ss -Hlun 'sport = :67' | grep -q . && break
	sleep 0.1
done
ip netns exec "$NS" ss -Hlun 'sport = :67' | grep -q . || fail "dnsmasq is not listening: $(tail -3 "$TMP/dnsmasq.log")"

eventually ping_from "$G1" 10.9.0.77 || fail "baseline: a ping from an unleased address should pass without a filter"
ok "without a filter a guest pings from any address"

start_netd

# Bad requests: refused with the reason, nothing bound.
refused() { # refused WHY ARGS...: the bind is refused naming learning
	local why=$1 out; shift
	out=$(ctl --json filter bind --port vm1 --owner guest1 "$@" 2>&1) && fail "$why: accepted"
	echo "$out" | grep -qi 'learning' || fail "$why: the error does not name learning: $out"
	ctl filter show vm1 >/dev/null 2>&1 && fail "$why: a binding was made"
	return 0
}
refused "a bad mode" --filter clean-traffic --learning DHCP
refused "learning with an explicit IP" --filter clean-traffic --learning dhcp --param IP=10.9.0.11
refused "learning with a filter without \$IP" --filter no-mac-spoofing --learning dhcp
make_parent v0
ctl link create --parent v0 --kind macvlan --owner guest1 --name mv0 >/dev/null || fail "macvlan"
out=$(ctl filter bind --port mv0 --filter clean-traffic --owner guest1 --learning dhcp 2>&1) &&
	fail "learning accepted on a macvlan port"
echo "$out" | grep -q 'not supported on macvtap or macvlan' || fail "macvlan refusal: $out"
ok "bad modes, learning with IP, a filter without \$IP, a macvlan port: refused, nothing bound"

# Learning: the reply says so, the port holds DHCP-only rules.
out=$(ctl --json filter bind --port vm1 --filter clean-traffic --owner guest1 --learning dhcp \
	--param MAC=02:00:00:00:01:11) ||
	fail "bind with learning dhcp"
[ "$(echo "$out" | field state)" = learning ] || fail "state is not learning: $out"
[ "$(echo "$out" | field learning)" = dhcp ] || fail "learning not in the reply: $out"
ctl filter list | grep -q '^vm1 .*learning' || fail "netdctl filter list does not show learning"
[ "$(status_field bindings_now_learning)" = 1 ] || fail "bindings_now_learning"
ctl status | grep -q '^learning  *1 bindings learning' || fail "netdctl status: $(ctl status)"
eb=$(ip netns exec "$NS" ebtables-save)
echo "$eb" | grep -q -- '-A N-O-vm1 -p IPv4 --ip-proto udp --ip-sport 68 --ip-dport 67 -j ACCEPT' ||
	fail "no DHCP rule while learning: $eb"
echo "$eb" | grep -q -- '-A N-O-vm1 .*--ip-src' && fail "an address rule while learning: $eb"
ok "learning dhcp: state learning, the port passes DHCP only ($(echo "$eb" | grep -c '^-A N-.-vm1') rules)"

ping_from "$G1" 10.9.0.77 && fail "a ping passed before the lease"
ok "before the lease a ping from any address is dropped"

# A DHCPACK the guest sends itself (claiming 10.9.0.66) teaches nothing.
ip netns exec "$G1" python3 - <<'EOF' || fail "forged ACK not sent"
import socket, struct
mac = bytes.fromhex("020000000111")
bootp = bytes([2, 1, 6, 0]) + b"\0" * 12 + socket.inet_aton("10.9.0.66") + b"\0" * 8 \
	+ mac + b"\0" * 10 + b"\0" * 192 + bytes([99, 130, 83, 99, 53, 1, 5, 255])
udp = struct.pack("!HHHH", 67, 68, 8 + len(bootp), 0) + bootp
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
		 socket.inet_aton("10.9.0.1"), socket.inet_aton("10.9.0.66")) + udp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for _ in range(50):
	s.send(mac + mac + b"\x08\x00" + ip)
EOF
sleep 0.3
[ "$(binding vm1 | field state)" = learning ] || fail "a DHCPACK forged by the guest taught an address: $(binding vm1)"
ok "50 DHCPACKs forged by the guest teach nothing"

# The lease.
eventually ip netns exec "$G1" busybox udhcpc -i eth0 -n -q -t 5 -T 1 -s "$TMP/udhcpc.sh" >>"$TMP/udhcpc.log" 2>&1 ||
	fail "DHCP through the learning rules: $(tail -3 "$TMP/dnsmasq.log"; tail -5 "$TMP/udhcpc.log"; ip netns exec "$NS" ebtables-save -c | grep vm1)"
lease=$(ip -n "$G1" -4 -o addr show dev eth0 | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p')
[ -n "$lease" ] || fail "the guest has no address after DHCP"
for i in $(seq 50); do [ "$(binding vm1 | field state)" = applied ] && break; sleep 0.1; done
b=$(binding vm1)
[ "$(echo "$b" | field state)" = applied ] || fail "not applied after the lease: $b"
echo "$b" | grep -q "\"$lease\"" || fail "the binding does not carry the lease $lease: $b"
[ -n "$(echo "$b" | field learned_at)" ] || fail "no learned_at: $b"
[ "$(db "SELECT json_extract(outcome, '\$.ip') || ' ' || json_extract(outcome, '\$.how') FROM audit
	WHERE method = 'netd.AddressLearned' AND json_extract(parameters, '\$.port') = 'vm1'")" = "$lease dhcp" ] ||
	fail "no audit row for the learned address: $(db "SELECT * FROM audit WHERE method = 'netd.AddressLearned'")"
ip netns exec "$NS" ebtables-save | grep -q -- "-A N-O-vm1 -p IPv4 --ip-src $lease -j RETURN" ||
	fail "clean-traffic not re-rendered with $lease: $(ip netns exec "$NS" ebtables-save | grep vm1)"
[ "$(status_field addresses_learned)" = 1 ] || fail "addresses_learned"
ok "the DHCPACK taught $lease: binding applied with it, audited, in ebtables-save"

ip -n "$G1" addr del "$lease"/24 dev eth0
eventually ping_from "$G1" "$lease" || fail "a ping from the learned address $lease is dropped"
ping_from "$G1" 10.9.0.77 && fail "a ping from another address passed after learning"
ok "after learning: from $lease passes, from 10.9.0.77 dropped"

# learning "any" on vm3, bound before a restart and learned after it.
out=$(ctl --json filter bind --port vm3 --filter clean-traffic --owner guest3 --learning any \
	--param MAC=02:00:00:00:01:13) ||
	fail "bind with learning any"
[ "$(echo "$out" | field state)" = learning ] || fail "any: state is not learning: $out"
at=$(binding vm1 | field learned_at)
stop_netd
start_netd
for i in $(seq 50); do [ "$(status_field filters_verified)" = true ] && break; sleep 0.1; done
b=$(binding vm1)
echo "$b" | grep -q "\"$lease\"" || fail "the learned address is gone after a restart: $b"
[ "$(echo "$b" | field learned_at)" = "$at" ] || fail "learned_at changed by a restart: $b"
[ "$(binding vm3 | field state)" = learning ] || fail "vm3 not learning after a restart: $(binding vm3)"
[ "$(status_field bindings_now_learning)" = 1 ] || fail "bindings_now_learning after a restart"
eventually ping_from "$G1" "$lease" || fail "after a restart a ping from $lease is dropped"
ok "a restart keeps the learned address; vm3 still learning"

# vm3 claiming vm1's address teaches nothing; its first ARP from
# 10.9.0.13 does: the restarted netd watches.
ping_from "$G3" "$lease" >/dev/null
sleep 0.3
[ "$(binding vm3 | field state)" = learning ] || fail "any: learned vm1's address $lease: $(binding vm3)"
grep -q "vm3: the guest claims an address another binding holds" "$NETD_LOG" || fail "any: the taken address not logged"
ok "any: a packet from vm1's address $lease teaches vm3 nothing"
eventually ping_from "$G3" 10.9.0.13 || fail "any: the first packets are dropped"
for i in $(seq 50); do [ "$(binding vm3 | field state)" = applied ] && break; sleep 0.1; done
binding vm3 | grep -q '"10.9.0.13"' || fail "any: not learned after a restart: $(binding vm3)"
[ "$(db "SELECT json_extract(outcome, '\$.how') FROM audit WHERE method = 'netd.AddressLearned'
	AND json_extract(parameters, '\$.port') = 'vm3'")" = any ] || fail "any: no audit row"
eventually ping_from "$G3" 10.9.0.13 || fail "any: the learned address is dropped"
ping_from "$G3" 10.9.0.78 && fail "any: another address passed after learning"
ok "learning any across a restart: 10.9.0.13 learned from the first packet, 10.9.0.78 dropped"

# A re-bind with the same learning keeps the address; a given IP ends learning.
ctl filter bind --port vm1 --filter clean-traffic --owner guest1 --learning dhcp \
	--param MAC=02:00:00:00:01:11 >/dev/null || fail "re-bind"
binding vm1 | grep -q "\"$lease\"" || fail "a re-bind forgot the learned address: $(binding vm1)"
ctl filter bind --port vm1 --filter clean-traffic --owner guest1 --param IP=10.9.0.11 \
	--param MAC=02:00:00:00:01:11 >/dev/null || fail "bind IP"
b=$(binding vm1)
echo "$b" | grep -q '"learning"' && fail "a bind with IP still learns: $b"
ok "a re-bind keeps the learned address; a bind with IP ends learning"
stop_netd
