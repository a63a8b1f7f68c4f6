#!/bin/bash
# Links ready to use: CreateLinks brings them up in the create itself
# (down: true leaves them down), also on a parent that is down; SetLinks
# changes up/down, MTU and MAC of one's own links, checked by the kernel's
# own view (nlview, libnl): another owner, an unprivileged user, a bad MTU
# or MAC change nothing; a change the kernel refuses is set back on every
# link of the call; every call is audited.
. "$(dirname "$0")/lib.sh"

make_parent v0
ip -n "$NS" link add v1 type veth peer name v1-p || fail "veth v1"  # stays down
start_netd

# Up by default, macvtap and macvlan, also on a parent that is down.
ctl link create --parent v0 --kind macvtap --owner alice --count 2 >/dev/null || fail "create macvtaps"
ctl link create --parent v0 --kind macvlan --owner alice --name mvl0 >/dev/null || fail "create macvlan"
ctl link create --parent v1 --kind macvtap --owner alice --name downparent0 >/dev/null || fail "create on a down parent"
for n in macvtap0 macvtap1 mvl0 downparent0; do
	case $(kview state $n) in up\ *) ;; *) fail "$n not up after create: $(kview state $n)" ;; esac
done
ctl --json link show macvtap0 | grep -q '"up": true' || fail "GetLink does not say up: $(ctl --json link show macvtap0)"
ok "created links are up (macvtap, macvlan, and on a parent that is down)"

ctl link create --down --parent v0 --kind macvtap --owner bob --name bobtap >/dev/null || fail "create --down"
case $(kview state bobtap) in down\ *) ;; *) fail "bobtap not down: $(kview state bobtap)" ;; esac
ctl call io.netd.CreateLinks '{"parent":"v0","kind":"macvtap","owner":"o","down":"yes"}' 2>"$TMP/err"; rc=$?
[ $rc = 1 ] && grep -q '"parameter":"down"' "$TMP/err" || fail "down: \"yes\" accepted ($rc): $(cat "$TMP/err")"
ok "down: true leaves them down; a down that is not a bool is refused"

# SetLinks: several links, one call.
ctl link set --owner alice macvtap0 macvtap1 --down --mtu 1400 \
	--mac 02:00:00:00:aa:01 --mac 02:00:00:00:aa:02 >"$TMP/out" || fail "link set"
[ "$(kview state macvtap0)" = "down 1400 02:00:00:00:aa:01" ] || fail "macvtap0: $(kview state macvtap0)"
[ "$(kview state macvtap1)" = "down 1400 02:00:00:00:aa:02" ] || fail "macvtap1: $(kview state macvtap1)"
grep -qx 'macvtap0 down mtu 1400 02:00:00:00:aa:01' "$TMP/out" || fail "reply: $(cat "$TMP/out")"
[ "$(db "SELECT mac FROM links WHERE name = 'macvtap1'")" = 02:00:00:00:aa:02 ] || fail "row's MAC not updated"
ctl link set --owner alice --up macvtap0 >/dev/null || fail "link set --up"
[ "$(kview state macvtap0)" = "up 1400 02:00:00:00:aa:01" ] || fail "macvtap0 up: $(kview state macvtap0)"
[ "$(db "SELECT count(*) FROM audit WHERE method = 'io.netd.SetLinks' AND result = 'ok'")" = 2 ] ||
	fail "SetLinks not audited: $(db "SELECT method, result FROM audit")"
ok "SetLinks: up/down, MTU and MAC of two links in one call; the row and the audit follow"

# Hostile callers and bad input: nothing changes.
before=$(for n in macvtap0 macvtap1 mvl0 bobtap; do kview state $n; done)
ctl link set --owner bob --down macvtap0 2>"$TMP/err"; rc=$?
[ $rc = 1 ] || fail "bob setting alice's link: want exit 1, got $rc"
grep -q 'io.netd.NotOwner {"name":"macvtap0","owner":"alice"}' "$TMP/err" || fail "NotOwner: $(cat "$TMP/err")"
ctl link set --owner alice --down macvtap1 bobtap 2>"$TMP/err"; rc=$?
[ $rc = 1 ] && grep -q 'io.netd.NotOwner {"name":"bobtap","owner":"bob"}' "$TMP/err" || fail "mixed owners: $(cat "$TMP/err")"
as_nobody() { runuser -u nobody -- "$NETDCTL" --socket "$SOCK" "$@"; }
as_nobody link set --owner alice --down macvtap0 2>"$TMP/err"; rc=$?
[ $rc = 1 ] && grep -q 'io.netd.PermissionDenied {"method":"io.netd.SetLinks"}' "$TMP/err" || fail "nobody: $rc $(cat "$TMP/err")"
[ "$(db "SELECT count(*) FROM audit WHERE peer_uid = 65534 AND method = 'io.netd.SetLinks'")" = 1 ] || fail "refusal not audited"
bad() {
	local field=$1; shift
	ctl call io.netd.SetLinks "$1" 2>"$TMP/err"; rc=$?
	[ $rc = 1 ] || fail "$1: want exit 1, got $rc"
	grep -q "org.varlink.service.InvalidParameter {\"parameter\":\"$field\"}" "$TMP/err" || fail "$1: $(cat "$TMP/err"), want $field"
}
bad mtu '{"owner":"alice","names":["macvtap0"],"mtu":67}'
bad mtu '{"owner":"alice","names":["macvtap0"],"mtu":65536}'
bad mtu '{"owner":"alice","names":["macvtap0"],"mtu":-1}'
bad mtu '{"owner":"alice","names":["macvtap0"],"mtu":9000}'   # above v0's 1500
bad macs '{"owner":"alice","names":["macvtap0"],"macs":["01:00:5e:00:00:01"]}'
bad macs '{"owner":"alice","names":["macvtap0"],"macs":["00:00:00:00:00:00"]}'
bad macs '{"owner":"alice","names":["macvtap0"],"macs":["02:00:00:00:00:0g"]}'
bad macs '{"owner":"alice","names":["macvtap0","macvtap1"],"macs":["02:00:00:00:00:01"]}'
bad macs '{"owner":"alice","names":["macvtap0","macvtap1"],"macs":["02:00:00:00:00:01","02:00:00:00:00:01"]}'
bad names '{"owner":"alice","names":[]}'
bad names '{"owner":"alice","names":["macvtap0","macvtap0"]}'
bad names '{"owner":"alice","names":["a/b"]}'
bad names '{"owner":"alice"}'
bad up '{"owner":"alice","names":["macvtap0"],"up":1}'
bad owner '{"owner":"","names":["macvtap0"]}'
ctl call io.netd.SetLinks '{"owner":"alice","names":["nosuch"],"up":false}' 2>"$TMP/err"
grep -q 'io.netd.NoSuchLink {"name":"nosuch"}' "$TMP/err" || fail "unknown link: $(cat "$TMP/err")"
after=$(for n in macvtap0 macvtap1 mvl0 bobtap; do kview state $n; done)
[ "$before" = "$after" ] || fail "a refused set changed something: $before / $after"
ok "another owner, an unprivileged user, bad MTU/MAC/names: refused, nothing changed"

# All or nothing: the kernel refuses a MAC another macvlan of the parent
# uses (EADDRINUSE) after the first link's change went through: the first
# is set back.
mvl0_mac=$(kview state mvl0 | cut -d' ' -f3)
ctl link create --parent v0 --kind macvlan --owner alice --name mvl1 >/dev/null || fail "create mvl1"
before=$(for n in macvtap0 mvl1; do kview state $n; done)
ctl call io.netd.SetLinks "{\"owner\":\"alice\",\"names\":[\"macvtap0\",\"mvl1\"],\"mtu\":1300,\"macs\":[\"02:00:00:00:bb:01\",\"$mvl0_mac\"]}" 2>"$TMP/err"; rc=$?
[ $rc = 1 ] && grep -q 'io.netd.KernelError' "$TMP/err" && grep -q '"link":"mvl1"' "$TMP/err" ||
	fail "refused MAC: want KernelError on mvl1 ($rc): $(cat "$TMP/err")"
after=$(for n in macvtap0 mvl1; do kview state $n; done)
[ "$before" = "$after" ] || fail "not set back: before '$before' after '$after'"
[ "$(db "SELECT mac FROM links WHERE name = 'macvtap0'")" = 02:00:00:00:aa:01 ] || fail "row not set back"
ok "a change the kernel refuses is set back on every link of the call ($(head -c 120 "$TMP/err"))"
stop_netd
