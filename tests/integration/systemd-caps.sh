#!/bin/bash
# systemd-caps.sh: netd as netd.service runs it does its whole job: an
# unprivileged user (as User=netd) with exactly the capabilities the unit
# gives (CapabilityBoundingSet= and AmbientCapabilities=, read from the
# unit), no new privileges, a database directory it owns (as
# StateDirectory= makes it) and a root-owned socket passed to it (as
# netd.socket does). It creates macvtaps, also with fds: each caller gets
# its link's own tap device, though /dev/tapN is root's 0600 (a private
# node in the database's directory, CAP_MKNOD), and the device group the
# unit's DeviceAllow= names is the macvtap one of this kernel. Its
# *tables-restore and *tables-save runs, which inherit the capabilities,
# apply and verify bridge-family, IPv4 and IPv6 rules; a restart verifies
# them again. Address learning, which needs CAP_NET_RAW, is refused.
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
# DeviceAllow=char-NAME: a group of /proc/devices, the one of the taps.
devgroup=$(sed -n 's/^DeviceAllow=char-\([^ ]*\) .*/\1/p' "$UNIT")
[ "$devgroup" = macvtap ] || fail "DeviceAllow= does not name char-macvtap: '$devgroup'"
grep -qx 'DevicePolicy=closed' "$UNIT" || fail "the unit does not set DevicePolicy=closed"

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

# CreateLinks with fds: /dev/tapN (root's, 0600) cannot be opened by
# netd's user; each link's own tap arrives all the same (test_client
# checks TUNGETIFF and a frame written to one).
# (macvtaps exist now: the group is in /proc/devices.)
tapmajor=$(awk '$2 == "macvtap" { print $1 }' /proc/devices)
[ -n "$tapmajor" ] || fail "no macvtap group in /proc/devices"
# (The fallback is what is tested: a g1 macvtap's /dev/tapN is shut to
# netd's user.)
t=$(kview links | awk '$1 ~ /^macvtap/ { print $2; exit }')
# /dev is shared by every namespace: a test running beside this one may
# have removed /dev/tap$t with its own link of that ifindex; then the
# fallback is what runs anyway.
if [ -c "/dev/tap$t" ]; then
	setpriv --reuid=$NUID --regid=$NUID --clear-groups sh -c "exec 3<>/dev/tap$t" 2>/dev/null &&
		fail "uid $NUID can open /dev/tap$t: the fallback is not tested"
fi
in_ns "$top_builddir/tests/client/test_client" tapfd "$SOCK" v0 v0-p || fail "tapfd as uid $NUID"
n=$(ctl --json link list --owner fds | grep -c '"state": "present"')
[ "$n" = 5 ] || fail "fds links: $n"
ls -A "$TMP/state" | grep -q '^\.netd-tap-' && fail "private tap nodes left: $(ls -A "$TMP/state")"
[ "$(find "/proc/$NETD_PID/fd" -lname '*tap*' 2>/dev/null | wc -l)" = 0 ] ||
	fail "netd keeps taps open: $(ls -l "/proc/$NETD_PID/fd")"
ctl link delete --owner fds >/dev/null && ctl link delete --owner fds2 >/dev/null || fail "delete fds links"
ok "CreateLinks with fds as uid $NUID: each link's own tap (major $tapmajor, macvtap)"

# Address learning reads the port with a packet socket, which needs
# CAP_NET_RAW (and AF_PACKET): the unit gives neither, so a learning bind
# is refused and changes nothing (a drop-in adds them: netd(8)).
out=$(ctl --json filter bind --port p1 --filter clean-traffic --owner g1 --learning dhcp 2>&1) &&
	fail "learning accepted without CAP_NET_RAW"
echo "$out" | grep -q 'io.netd.KernelError' || fail "learning without CAP_NET_RAW: $out"
ctl filter show p1 >/dev/null 2>&1 && fail "a refused learning bind left a binding"
ok "without CAP_NET_RAW a learning bind is refused (KernelError), nothing bound"

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
