#!/bin/bash
# Ownership and permissions: only the owner deletes; only root or the
# admin group changes anything (refusals audited); bad input is refused
# naming the field, and nothing is created.
. "$(dirname "$0")/lib.sh"

make_parent v0
start_netd
ctl link create --parent v0 --kind macvtap --owner guest-A --count 2 >/dev/null || fail "create"

ctl link delete --owner guest-B macvtap0 2>"$TMP/err"; [ $? = 1 ] || fail "delete by another owner: want exit 1"
grep -q 'io.netd.NotOwner {"name":"macvtap0","owner":"guest-A"}' "$TMP/err" || fail "NotOwner: $(cat "$TMP/err")"
[ "$(kview names macvtap | tr '\n' ' ')" = "macvtap0 macvtap1 " ] || fail "device gone after a refused delete"
ctl link delete --owner guest-B 2>/dev/null | grep -q . && fail "owner B deleted something"
[ "$(kview count macvtap)" = 2 ] || fail "devices gone after delete of an owner with none"
ok "delete by the wrong owner refused; devices still there"

# Unprivileged callers: read-only methods yes, changes no (and audited).
as_nobody() { runuser -u nobody -- "$NETDCTL" --socket "$SOCK" "$@"; }
as_nobody link list >/dev/null || fail "list as nobody"
as_nobody link create --parent v0 --kind macvtap --owner x 2>"$TMP/err"; [ $? = 1 ] || fail "create as nobody: want exit 1"
grep -q 'io.netd.PermissionDenied {"method":"io.netd.CreateLinks"}' "$TMP/err" || fail "PermissionDenied: $(cat "$TMP/err")"
as_nobody link delete --owner guest-A 2>/dev/null; [ $? = 1 ] || fail "delete as nobody"
[ "$(kview count macvtap)" = 2 ] || fail "nobody changed something"
[ "$(db "SELECT count(*) FROM audit WHERE peer_uid = 65534 AND result = 'io.netd.PermissionDenied'")" = 2 ] || fail "refusals not audited: $(db 'SELECT * FROM audit')"
ok "unprivileged: reads allowed, changes refused and audited"

# admin_group: members may change things.
stop_netd
printf '[netd]\nadmin_group = nogroup\n' > "$CONF"
start_netd
[ "$(as_nobody link create --parent v0 --kind macvtap --owner x)" = macvtap2 ] || fail "create as a member of admin_group"
[ "$(db "SELECT count(*) FROM audit WHERE peer_uid = 65534 AND result = 'ok'")" = 1 ] || fail "member's create not audited"
ok "admin_group members may change"

# Bad input: InvalidParameter naming the field, nothing created.
before=$(kview count)
bad() {
	local field=$1; shift
	ctl call io.netd.CreateLinks "$1" 2>"$TMP/err"; rc=$?
	[ $rc = 1 ] || fail "$1: want exit 1, got $rc"
	grep -q "org.varlink.service.InvalidParameter {\"parameter\":\"$field\"}" "$TMP/err" || fail "$1: $(cat "$TMP/err"), want $field"
}
bad parent '{"kind":"macvtap","owner":"o"}'
bad parent '{"parent":"-v0","kind":"macvtap","owner":"o"}'
bad parent '{"parent":"a b","kind":"macvtap","owner":"o"}'
bad kind '{"parent":"v0","kind":"veth","owner":"o"}'
bad kind '{"parent":"v0","owner":"o"}'
bad mode '{"parent":"v0","kind":"macvtap","mode":"bridged","owner":"o"}'
bad owner '{"parent":"v0","kind":"macvtap"}'
bad owner '{"parent":"v0","kind":"macvtap","owner":""}'
bad owner "{\"parent\":\"v0\",\"kind\":\"macvtap\",\"owner\":\"$(printf 'x%.0s' $(seq 65))\"}"
bad owner '{"parent":"v0","kind":"macvtap","owner":"tab\there"}'
bad owner '{"parent":"v0","kind":"macvtap","owner":"nl\nhere"}'
bad count '{"parent":"v0","kind":"macvtap","owner":"o","count":0}'
bad count '{"parent":"v0","kind":"macvtap","owner":"o","count":4097}'
bad count '{"parent":"v0","kind":"macvtap","owner":"o","count":-1}'
bad count '{"parent":"v0","kind":"macvtap","owner":"o","count":"2"}'
bad count '{"parent":"v0","kind":"macvtap","owner":"o","count":2,"names":["a"]}'
bad names '{"parent":"v0","kind":"macvtap","owner":"o","names":["waytoolongname16"]}'
bad names '{"parent":"v0","kind":"macvtap","owner":"o","names":["."]}'
bad names '{"parent":"v0","kind":"macvtap","owner":"o","names":[".."]}'
bad names '{"parent":"v0","kind":"macvtap","owner":"o","names":["a/b"]}'
bad names '{"parent":"v0","kind":"macvtap","owner":"o","names":["a b"]}'
bad names '{"parent":"v0","kind":"macvtap","owner":"o","names":["ok","ok"]}'
bad names '{"parent":"v0","kind":"macvtap","owner":"o","names":[]}'
bad macs '{"parent":"v0","kind":"macvtap","owner":"o","macs":["01:00:5e:00:00:01"]}'
bad macs '{"parent":"v0","kind":"macvtap","owner":"o","macs":["00:00:00:00:00:00"]}'
bad macs '{"parent":"v0","kind":"macvtap","owner":"o","macs":["02:00:00:00:00"]}'
bad macs '{"parent":"v0","kind":"macvtap","owner":"o","macs":["02:00:00:00:00:0g"]}'
bad macs '{"parent":"v0","kind":"macvtap","owner":"o","macs":["02-00-00-00-00-01"]}'
bad macs '{"parent":"v0","kind":"macvtap","owner":"o","macs":["02:00:00:00:00:01 -j ACCEPT"]}'
bad macs '{"parent":"v0","kind":"macvtap","owner":"o","count":2,"macs":["02:00:00:00:00:01"]}'
bad color '{"parent":"v0","kind":"macvtap","owner":"o","color":"red"}'
ctl call io.netd.CreateLinks '{"parent":"nosuchdev","kind":"macvtap","owner":"o"}' 2>"$TMP/err"
grep -q 'io.netd.NoSuchLink {"name":"nosuchdev"}' "$TMP/err" || fail "missing parent device: $(cat "$TMP/err")"
ctl call io.netd.CreateLinks '{"parent":"v0","kind":"macvtap","owner":"o","names":["v0-p"]}' 2>"$TMP/err"
grep -q 'io.netd.LinkExists {"name":"v0-p"}' "$TMP/err" || fail "existing name: $(cat "$TMP/err")"
ctl call io.netd.DeleteLinks '{"owner":"guest-A","names":["nosuch"]}' 2>"$TMP/err"
grep -q 'io.netd.NoSuchLink' "$TMP/err" || fail "delete of an unknown link: $(cat "$TMP/err")"
ctl call io.netd.DeleteLinks '{"owner":"guest-A","names":["macvtap0","macvtap2"]}' 2>"$TMP/err"
grep -q 'io.netd.NotOwner' "$TMP/err" || fail "delete mixing owners: $(cat "$TMP/err")"
[ "$(kview count)" = "$before" ] || fail "a refused call changed the kernel"
[ "$(kview count macvtap)" = 3 ] || fail "a refused delete deleted something"
ok "bad input refused naming the field; nothing created or deleted"

# The kernel's error reaches the caller, and a failed call creates nothing.
ctl call io.netd.CreateLinks '{"parent":"v0","kind":"macvtap","mode":"passthru","owner":"o","count":2}' 2>"$TMP/err"; rc=$?
[ $rc = 1 ] || fail "passthru x2 on one parent: want exit 1"
grep -q 'io.netd.KernelError' "$TMP/err" || fail "kernel error: $(cat "$TMP/err")"
for i in $(seq 50); do [ "$(kview count macvtap)" = 3 ] && break; sleep 0.1; done
[ "$(kview count macvtap)" = 3 ] || fail "a failed create left links: $(kview names macvtap | tr '\n' ' ')"
[ "$(ctl --json link list --owner o | grep -c '"name"')" = 0 ] || fail "a failed create left rows"
ok "kernel error returned; the failed call left nothing ($(cat "$TMP/err"))"
stop_netd
