#!/bin/bash
# systemd-caps.sh: netd as netd.service runs it does its whole job: an
# unprivileged user (as User=netd) with exactly the capabilities the unit
# gives (CapabilityBoundingSet= and AmbientCapabilities=, read from the
# unit), no new privileges, a database directory it owns (as
# StateDirectory= makes it) and a root-owned socket passed to it (as
# netd.socket does). It creates macvtaps, and its *tables-restore and
# *tables-save runs, which inherit the capabilities, apply and verify
# bridge-family, IPv4 and IPv6 rules; a restart verifies them again.
. "$(dirname "$0")/lib.sh"
for t in setpriv systemd-socket-activate; do
	command -v $t >/dev/null || skip "needs $t"
done
UNIT=$top_srcdir/systemd/netd.service.in
[ -f "$UNIT" ] || fail "no $UNIT"

bounding=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
ambient=$(sed -n 's/^AmbientCapabilities=//p' "$UNIT")
[ -n "$bounding" ] || fail "the unit sets no CapabilityBoundingSet="
[ "$ambient" = "$bounding" ] || fail "AmbientCapabilities=$ambient is not the bounding set $bounding"
grep -qx 'NoNewPrivileges=yes' "$UNIT" || fail "the unit does not set NoNewPrivileges=yes"
caps=$(for c in $bounding; do c=${c#CAP_}; printf ',+%s' "${c,,}"; done)
echo "capabilities: $bounding"

# A uid and gid nobody has, as a sysusers.d user would be.
NUID=64123
setpriv --reuid=$NUID --regid=$NUID --clear-groups test -x "$NETD" ||
	skip "uid $NUID cannot reach $NETD (a build directory others cannot enter)"
mkdir -m 0700 "$TMP/state" && chown "$NUID:$NUID" "$TMP/state"
DB=$TMP/state/netd.db
SOCK=$TMP/run/netd.sock
mkdir -p "$TMP/run" "$TMP/filters"
cp "$top_srcdir/tests/rules/custom/my-ssh.json" "$TMP/filters/"
chmod -R a+rX "$TMP/filters"
printf '[netd]\nfilter_dir = %s/filters\n' "$TMP" > "$CONF"
chmod 644 "$CONF"

start_unprivileged() {
	ip netns exec "$NS" systemd-socket-activate -l "$SOCK" \
		setpriv --reuid=$NUID --regid=$NUID --clear-groups --no-new-privs \
		--inh-caps="-all$caps" --ambient-caps="-all$caps" --bounding-set="-all$caps" \
		"$NETD" --foreground --config "$CONF" --db "$DB" >>"$NETD_LOG" 2>&1 &
	NETD_PID=$!
	for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
	wait_ready || fail "netd did not start as uid $NUID"
}

ip -n "$NS" link add br0 type bridge && ip -n "$NS" link set br0 up || fail "bridge"
make_parent v0
make_parent p1
make_parent p2
ip -n "$NS" link set p1 master br0 && ip -n "$NS" link set p2 master br0 || fail "bridge ports"
start_unprivileged
[ "$(awk '/^Uid:/ { print $3 }' "/proc/$NETD_PID/status")" = $NUID ] || fail "netd does not run as uid $NUID"
eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$NETD_PID/status")
echo "netd: uid $NUID, CapEff $eff"
if command -v capsh >/dev/null; then
	got=$(capsh --decode="$eff" | sed 's/.*=//')
	[ "$got" = "$(echo "$bounding" | tr 'A-Z ' 'a-z,')" ] || fail "CapEff $got is not $bounding"
fi

ctl link create --parent v0 --kind macvtap --owner g1 --count 2 > "$TMP/out" || fail "link create: $(cat "$TMP/out")"
[ "$(kview names | grep -c '^macvtap')" = 2 ] || fail "macvtaps in the kernel: $(kview names)"
ctl link create --parent v0 --kind macvlan --owner g1 > /dev/null || fail "macvlan create"
ok "links created as uid $NUID with $bounding"

ctl filter bind --port p1 --filter clean-traffic --owner g1 --param IP=192.0.2.10 >/dev/null || fail "bind clean-traffic"
ctl filter bind --port p2 --filter my-ssh --owner g1 --param IP=192.0.2.11 >/dev/null || fail "bind my-ssh"
ctl filter list | grep -c ' applied ' | grep -qx 2 || fail "bindings: $(ctl filter list)"
in_ns ebtables-save | grep -q -- '-A N-O-p1' || fail "no p1 chain in ebtables"
in_ns iptables-save -t filter | grep -q 'dport 22' || fail "no IPv4 rule of my-ssh"
in_ns ip6tables-save -t filter | grep -q '2001:db8::/32' || fail "no IPv6 rule of my-ssh"
ok "filters applied as uid $NUID: bridge, IPv4 and IPv6 rules"

ctl resync > "$TMP/out" || fail "resync: $(cat "$TMP/out")"
ctl link delete --owner g1 >/dev/null || fail "link delete"
stop_netd
# The saves of a restart's verification, as the same user.
in_ns ebtables -N CAPS-DRIFT || fail "ebtables -N"
start_unprivileged
for _ in $(seq 100); do [ "$(status_field filters_verified)" = true ] && break; sleep 0.1; done
[ "$(status_field filters_verified)" = true ] || fail "filters not verified after the restart"
[ "$(status_field bindings_failed)" = 0 ] || fail "bindings failed after the restart"
grep -q "filters verified against the kernel: 2 intact" "$NETD_LOG" || fail "restart verification: $(grep verified "$NETD_LOG")"
stop_netd
[ "$(stat -c %u "$DB")" = $NUID ] || fail "the database is not netd's"
ok "restart as uid $NUID: the saves verified both bindings intact"
