#!/bin/bash
# Links, the guest-with-82-macvtaps case: names from the bitmap with no
# probing, the kernel and the database agree, a restart keeps everything,
# deletion of one owner's links in one call.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is required"
make_parent v0
start_netd

ctl link create --parent v0 --kind macvtap --owner vm1 --count 82 > "$TMP/created" || fail "create 82"
seq 0 81 | sed 's/^/macvtap/' > "$TMP/want"
diff -u "$TMP/want" "$TMP/created" || fail "82 links are not macvtap0..macvtap81"
kview names macvtap | sort -V > "$TMP/kernel"
diff -u "$TMP/want" "$TMP/kernel" || fail "kernel's macvtaps differ from netd's"
[ "$(db "SELECT count(*) FROM links WHERE owner = 'vm1' AND state = 'present' AND kind = 'macvtap'")" = 82 ] || fail "82 present rows"
[ "$(db "SELECT count(*) FROM names WHERE prefix = 'macvtap' AND state = 'owned'")" = 82 ] || fail "82 owned names"
[ "$(status_field name_probes 2>/dev/null)" = "" ] || true
ok "82 links: macvtap0..macvtap81, kernel and database agree"

# Every link reports its ifindex and tap device, matching the kernel.
ctl --json link show macvtap81 > "$TMP/show" || fail "link show"
ifindex=$(kview links | awk '$1 == "macvtap81" { print $2 }')
grep -q "\"ifindex\": $ifindex," "$TMP/show" || fail "ifindex of macvtap81: $(cat "$TMP/show")"
grep -q "\"tap\": \"/dev/tap$ifindex\"" "$TMP/show" || fail "tap of macvtap81"
parent_ifindex=$(kview links | awk '$1 == "v0" { print $2 }')
[ "$(kview links | awk '$1 == "macvtap81" { print $4 }')" = "$parent_ifindex" ] || fail "parent of macvtap81"
[ "$(kview mode macvtap81)" = bridge ] || fail "default mode"
mac=$(kview links | awk '$1 == "macvtap81" { print $5 }')
grep -q "\"mac\": \"$mac\"" "$TMP/show" || fail "mac of macvtap81"
ok "ifindex, tap, parent, mode, MAC as the kernel has them"

# Restart: the same allocations, the next create continues after them.
ctl --json link list --owner vm1 > "$TMP/before"
stop_netd
start_netd
ctl --json link list --owner vm1 > "$TMP/after"
diff -u "$TMP/before" "$TMP/after" || fail "links changed across a restart"
[ "$(ctl link create --parent v0 --kind macvtap --owner vm2)" = macvtap82 ] || fail "next create after restart"
ok "restart keeps all 82; the next is macvtap82"

# Modes, MACs, macvlan, explicit names.
ctl link create --parent v0 --kind macvlan --mode vepa --owner vm2 --count 2 --mac 02:00:00:00:00:01 --mac 02:00:00:00:00:02 > "$TMP/mv" || fail "macvlan create"
[ "$(cat "$TMP/mv" | tr '\n' ' ')" = "macvlan0 macvlan1 " ] || fail "macvlan names: $(cat "$TMP/mv")"
[ "$(kview mode macvlan1)" = vepa ] || fail "vepa mode"
[ "$(kview links | awk '$1 == "macvlan1" { print $5 }')" = 02:00:00:00:00:02 ] || fail "MAC set at creation"
ctl link create --parent v0 --kind macvtap --mode private --owner vm2 --name guest-a.0 --name guest_b >/dev/null || fail "explicit names"
[ "$(kview mode guest_b)" = private ] || fail "private mode"
[ "$(kview links | awk '$1 == "guest-a.0" { print $3 }')" = macvtap ] || fail "explicit name kind"
ctl link list | grep -q '^guest_b ' || fail "list shows explicit names"
ok "macvlan, modes, MACs, explicit names"

# One call deletes an owner's links, in one kernel group deletion.
req=$(status_field netlink_requests)
ctl link delete --owner vm1 > "$TMP/deleted" || fail "delete vm1"
[ "$(wc -l < "$TMP/deleted")" = 82 ] || fail "deleted $(wc -l < "$TMP/deleted"), want 82"
[ "$(kview names macvtap)" = macvtap82 ] || fail "kernel macvtaps left: $(kview names macvtap | tr '\n' ' ')"
[ "$(db "SELECT count(*) FROM links WHERE owner = 'vm1'")" = 0 ] || fail "vm1 rows left"
[ "$(db "SELECT count(*) FROM names WHERE prefix = 'macvtap'")" = 1 ] || fail "names rows: $(db 'SELECT * FROM names')"
req2=$(status_field netlink_requests)
# 82 moves into the delete group plus one group deletion.
[ $((req2 - req)) = 83 ] || fail "netlink requests for the delete: $((req2 - req)), want 83"
ok "82 links of one owner deleted in one call (82 group moves + 1 deletion)"

# Freed names are reused from the lowest.
[ "$(ctl link create --parent v0 --kind macvtap --owner vm3 --count 2 | tr '\n' ' ')" = "macvtap0 macvtap1 " ] || fail "freed names reused"
ctl link delete --owner vm2 >/dev/null || fail "delete vm2"
ctl link delete --owner vm3 macvtap1 >/dev/null || fail "delete by name"
[ "$(ctl link list | tail -n +2 | awk '{print $1}' | tr '\n' ' ')" = "macvtap0 " ] || fail "list after deletes: $(ctl link list)"
ok "names reused lowest first; delete by name"

# Audit: one row per mutating call.
[ "$(db "SELECT count(*) FROM audit WHERE method = 'io.netd.CreateLinks' AND result = 'ok'")" = 5 ] || fail "audit rows for CreateLinks: $(db "SELECT method, result FROM audit")"
[ "$(db "SELECT count(*) FROM audit WHERE method = 'io.netd.DeleteLinks' AND peer_uid = 0")" = 3 ] || fail "audit rows for DeleteLinks"
stop_netd
ok "audited"
