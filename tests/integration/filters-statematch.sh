#!/bin/bash
# libvirt's statematch through a real bridge: guest 1's XML filter accepts
# tcp/22 in (statematch default) and drops every other IPv4 packet. Guest
# 2 connects to guest 1's port 22 and gets its answer (the SYN-ACK and data
# pass as the reply, ESTABLISHED); port 23 is dropped; a connection guest 1
# starts from port 22 is dropped (NEW is not a reply).
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || fail "socat is required (scripts/check installs it)"
G1=$NS-g1 G2=$NS-g2
on_cleanup 'ip netns del "$G1" 2>/dev/null; ip netns del "$G2" 2>/dev/null'
ip netns add "$G1" && ip netns add "$G2" || fail "guest namespaces"
in_ns sysctl -qw net.bridge.bridge-nf-call-iptables=1 || skip "no br_netfilter"

ip -n "$NS" link add br0 type bridge
ip -n "$NS" link set br0 up
guest() { # guest NS PORT IP
	ip -n "$NS" link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$NS" link set "$2" master br0 up
	ip -n "$1" link set lo up
	ip -n "$1" link set eth0 up
	ip -n "$1" addr add "$3"/24 dev eth0
}
guest "$G1" vm1 10.9.0.11
guest "$G2" vm2 10.9.0.12
# Guest 1's second address: a connection from its port 22 while it listens
# on 10.9.0.11:22.
ip -n "$G1" addr add 10.9.0.21/24 dev eth0

# Listeners that answer "hi": guest 1 on 22 and 23, guest 2 on 8000.
for p in 22 23; do
	ip netns exec "$G1" socat TCP-LISTEN:$p,bind=10.9.0.11,fork,reuseaddr SYSTEM:'echo hi' 2>/dev/null &
	on_cleanup "kill $! 2>/dev/null"
done
ip netns exec "$G2" socat TCP-LISTEN:8000,fork,reuseaddr SYSTEM:'echo hi' 2>/dev/null &
on_cleanup "kill $! 2>/dev/null"
for i in $(seq 50); do
	[ "$(ip netns exec "$G1" ss -Hltn | wc -l)" = 2 ] && [ "$(ip netns exec "$G2" ss -Hltn | wc -l)" = 1 ] && break
	sleep 0.1
done
# talk FROM TO PORT [BIND]: true when the answer came back.
talk() {
	ip netns exec "$1" timeout 5 socat -T 2 - "TCP:$2:$3,connect-timeout=2${4:+,bind=$4,reuseaddr}" \
		</dev/null 2>/dev/null | grep -q hi
}
eventually() { local i; for i in 1 2 3; do "$@" && return 0; sleep 0.5; done; return 1; }
eventually talk "$G2" 10.9.0.11 22 || fail "baseline: port 22"
eventually talk "$G2" 10.9.0.11 23 || fail "baseline: port 23"
eventually talk "$G1" 10.9.0.12 8000 10.9.0.21:22 || fail "baseline: from port 22"
ok "without a filter: ports 22 and 23, and a connection from port 22, pass"

mkdir -p "$TMP/filters"
cat > "$TMP/filters/ssh-only.xml" <<'XML'
<filter name='ssh-only' chain='root'>
  <rule action='accept' direction='in' priority='100'>
    <tcp dstportstart='22'/>
  </rule>
  <rule action='drop' direction='inout' priority='900'>
    <all/>
  </rule>
</filter>
XML
printf '[netd]\nfilter_dir = %s\n' "$TMP/filters" > "$CONF"
start_netd
ctl filter bind --port vm1 --filter ssh-only --owner g >/dev/null || fail "bind ssh-only"
in_ns iptables-save | grep -q -- '-A N-O-vm1 -p tcp -m tcp --sport 22 -m conntrack --ctstate ESTABLISHED -j ACCEPT' ||
	fail "reply rule missing: $(in_ns iptables-save)"
eventually talk "$G2" 10.9.0.11 22 || fail "port 22 or its reply dropped"
ok "port 22 in and its replies pass"
talk "$G2" 10.9.0.11 23 && fail "port 23 passed"
ok "port 23 dropped"
talk "$G1" 10.9.0.12 8000 10.9.0.21:22 && fail "a new connection from guest port 22 passed"
ok "a new connection from port 22 dropped (not a reply)"
eventually talk "$G2" 10.9.0.11 22 || fail "port 22 after the drops"
ok "port 22 still passes"
