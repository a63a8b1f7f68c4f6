#!/bin/bash
# Filter bindings through the API: bind/unbind/list/show/defs, owners,
# macvtap ports held by the nftables backend (not ebtables/iptables), a
# bridge refused, and injection attempts refused with the firewall
# unchanged.
. "$(dirname "$0")/lib.sh"

make_parent v0
for i in 1 2 3; do ip -n "$NS" link add "tap$i" type veth peer name "tap$i-p"; done
start_netd

ctl filter defs > "$TMP/defs" || fail "filter defs"
for f in no-mac-spoofing no-ip-spoofing no-arp-spoofing no-arp-mac-spoofing no-arp-ip-spoofing \
	allow-dhcp allow-dhcp-server allow-arp allow-incoming-ipv4 no-other-l2-traffic clean-traffic; do
	grep -q "^$f  *built-in" "$TMP/defs" || fail "built-in $f missing: $(cat "$TMP/defs")"
done
ctl filter def clean-traffic | grep -q '"no-mac-spoofing"' || fail "filter def clean-traffic"
ok "built-in filters listed"

ctl filter bind --port tap1 --filter clean-traffic --owner g1 --param IP=10.0.0.1 > "$TMP/show" || fail "bind"
grep -q '^state  *applied$' "$TMP/show" || fail "bind reply: $(cat "$TMP/show")"
mac=$(kview links | awk '$1 == "tap1" { print $5 }')
grep -q "\"MAC\":\"$mac\"" "$TMP/show" || fail "MAC did not default to the port's: $(cat "$TMP/show")"
ctl filter list | grep -q '^tap1  *clean-traffic  *applied  *g1  *xtables$' || fail "list: $(ctl filter list)"
ctl --json filter show tap1 | grep -q '"applied": true' || fail "show"
ok "bind, list, show; MAC defaults to the port's"

# Only the owner unbinds or rebinds.
ctl filter unbind --port tap1 --owner g2 2>"$TMP/err"; [ $? = 1 ] || fail "unbind by another owner"
grep -q 'io.netd.NotOwner' "$TMP/err" || fail "NotOwner: $(cat "$TMP/err")"
ctl filter bind --port tap1 --filter allow-arp --owner g2 2>"$TMP/err"; [ $? = 1 ] || fail "rebind by another owner"
ok "only the owner unbinds or rebinds"

# Rebinding the same thing runs nothing.
runs=$(status_field restore_runs)
ctl filter bind --port tap1 --filter clean-traffic --owner g1 --param IP=10.0.0.1 >/dev/null || fail "same bind"
[ "$(status_field restore_runs)" = "$runs" ] || fail "an unchanged bind ran a restore"
ok "an unchanged bind runs nothing"

# macvtap ports go to the nftables netdev backend, never to ebtables or
# iptables (which would not see their traffic); a bridge is refused.
ctl link create --parent v0 --kind macvtap --owner g1 >/dev/null || fail "macvtap"
runs=$(status_field restore_runs)
ctl filter bind --port macvtap0 --filter clean-traffic --owner g1 >"$TMP/show" || fail "macvtap bind"
grep -q '^backend  *nftables$' "$TMP/show" || fail "macvtap backend: $(cat "$TMP/show")"
[ "$(status_field restore_runs)" = "$runs" ] || fail "a macvtap bind ran a *tables-restore"
in_ns ebtables-save | grep -q macvtap0 && fail "macvtap0 in ebtables"
ctl filter list | grep -q '^macvtap0  *clean-traffic  *applied  *g1  *nftables$' || fail "list: $(ctl filter list)"
ctl filter unbind --port macvtap0 --owner g1 >/dev/null || fail "macvtap unbind"
ip -n "$NS" link add br0 type bridge
ctl filter bind --port br0 --filter clean-traffic --owner g1 2>"$TMP/err"; [ $? = 1 ] || fail "bridge bind"
grep -q 'io.netd.UnsupportedPort.*bridge' "$TMP/err" || fail "bridge refusal: $(cat "$TMP/err")"
ok "macvtap port held by the nftables backend; a bridge refused with a clear message"

# Injection: nothing a client sends adds a line, an option or a chain.
in_ns ebtables-save | grep -v '^#' > "$TMP/eb.before"
in_ns iptables-save | grep -v '^#' > "$TMP/ip.before"
bad() {
	local field=$1 json=$2
	ctl call io.netd.BindFilter "$json" 2>"$TMP/err"; rc=$?
	[ $rc = 1 ] || fail "$json: want exit 1, got $rc"
	grep -q "$field" "$TMP/err" || fail "$json: $(cat "$TMP/err"), want $field"
}
bad MAC '{"port":"tap2","filter":"clean-traffic","owner":"o","parameters":{"MAC":"02:00:00:00:00:01 -j ACCEPT"}}'
bad IP '{"port":"tap2","filter":"clean-traffic","owner":"o","parameters":{"IP":"10.0.0.1\n-A INPUT -j ACCEPT"}}'
bad IP '{"port":"tap2","filter":"clean-traffic","owner":"o","parameters":{"IP":["10.0.0.2","10.0.0.1 -j DROP"]}}'
bad IP '{"port":"tap2","filter":"clean-traffic","owner":"o","parameters":{"IP":"\"10.0.0.1\""}}'
bad IP '{"port":"tap2","filter":"clean-traffic","owner":"o","parameters":{"IP":"10.0.0.1/8"}}'
bad DHCPSERVER '{"port":"tap2","filter":"allow-dhcp-server","owner":"o","parameters":{"DHCPSERVER":"10.0.0.1;reboot"}}'
bad '"parameter":"port"' '{"port":"-i","filter":"clean-traffic","owner":"o"}'
bad '"parameter":"port"' '{"port":"tap2 -j ACCEPT","filter":"clean-traffic","owner":"o"}'
bad '"parameter":"port"' '{"port":"tap\"2","filter":"clean-traffic","owner":"o"}'
bad '"parameter":"port"' '{"port":"tap2\n-A","filter":"clean-traffic","owner":"o"}'
bad NoSuchFilter '{"port":"tap2","filter":"clean-traffic -j ACCEPT","owner":"o"}'
bad '"parameter":"parameters"' '{"port":"tap2","filter":"clean-traffic","owner":"o","parameters":{"CHAIN":"x"}}'
bad '"parameter":"owner"' '{"port":"tap2","filter":"clean-traffic","owner":"o\nx"}'
in_ns ebtables-save | grep -v '^#' > "$TMP/eb.after"
in_ns iptables-save | grep -v '^#' > "$TMP/ip.after"
diff -u "$TMP/eb.before" "$TMP/eb.after" || fail "ebtables changed by refused calls"
diff -u "$TMP/ip.before" "$TMP/ip.after" || fail "iptables changed by refused calls"
ok "13 injection attempts refused; ebtables-save and iptables-save unchanged"

# Unbind removes the chains and the dispatch lines.
ctl filter unbind --port tap1 --owner g1 >/dev/null || fail "unbind"
in_ns ebtables-save | grep -q 'tap1' && fail "tap1 rules left: $(in_ns ebtables-save)"
ctl filter show tap1 2>/dev/null && fail "binding left"
[ "$(db "SELECT count(*) FROM audit WHERE method IN ('io.netd.BindFilter', 'io.netd.UnbindFilter')")" -ge 4 ] || fail "audit"
ok "unbind removes chains and dispatch; audited"
stop_netd
