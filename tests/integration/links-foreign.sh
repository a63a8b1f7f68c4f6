#!/bin/bash
# Devices netd did not make: a foreign macvtap5 is skipped without an
# error; an owned link deleted with `ip link del` is released, audited and
# reported to Monitor subscribers; a foreign name comes free when its
# device goes.
. "$(dirname "$0")/lib.sh"

make_parent v0
ip -n "$NS" link add link v0 name macvtap5 type macvtap || fail "foreign macvtap5"
start_netd

ctl monitor > "$TMP/events" 2>&1 &
mon=$!
for i in $(seq 50); do grep -q . "$TMP/events" 2>/dev/null && break; [ "$(status_field clients)" -ge 2 ] && break; sleep 0.1; done
sleep 0.2

[ "$(status_field foreign_names)" = 1 ] || fail "macvtap5 not known as foreign at start"
ctl link create --parent v0 --kind macvtap --owner vm1 --count 8 > "$TMP/created" || fail "create 8"
[ "$(tr '\n' ' ' < "$TMP/created")" = "macvtap0 macvtap1 macvtap2 macvtap3 macvtap4 macvtap6 macvtap7 macvtap8 " ] || fail "names: $(cat "$TMP/created")"
[ "$(status_field eexist_retries)" = 0 ] || fail "macvtap5 was tried (an EEXIST retry), not skipped"
[ "$(kview links | awk '$1 == "macvtap5" { print $3 }')" = macvtap ] || fail "foreign macvtap5 touched"
ok "foreign macvtap5 skipped without an error or a retry"

# A foreign device added while netd runs.
ip -n "$NS" link add link v0 name macvtap9 type macvtap || fail "foreign macvtap9"
for i in $(seq 50); do grep -q '^foreign macvtap9$' "$TMP/events" && break; sleep 0.1; done
grep -q '^foreign macvtap9$' "$TMP/events" || fail "no foreign event: $(cat "$TMP/events")"
[ "$(ctl link create --parent v0 --kind macvtap --owner vm1)" = macvtap10 ] || fail "macvtap9 not skipped"
ok "foreign device seen by its event and skipped"

# Someone deletes an owned link behind netd's back.
audit_before=$(db "SELECT count(*) FROM audit WHERE method = 'kernel.LinkRemoved'")
ip -n "$NS" link del macvtap2 || fail "ip link del macvtap2"
for i in $(seq 50); do grep -q '^removed macvtap2 .*reason=vanished' "$TMP/events" && break; sleep 0.1; done
grep -q '^removed macvtap2 owner=vm1 .*reason=vanished' "$TMP/events" || fail "no removed event: $(cat "$TMP/events")"
ctl link show macvtap2 2>"$TMP/err"; [ $? = 1 ] || fail "macvtap2 still known"
grep -q 'io.netd.NoSuchLink' "$TMP/err" || fail "link show error: $(cat "$TMP/err")"
[ "$(db "SELECT count(*) FROM links WHERE name = 'macvtap2'")" = 0 ] || fail "row of macvtap2 not released"
[ "$(db "SELECT count(*) FROM names WHERE name = 'macvtap2'")" = 0 ] || fail "name macvtap2 not freed"
[ "$(db "SELECT count(*) FROM audit WHERE method = 'kernel.LinkRemoved' AND parameters LIKE '%macvtap2%'")" = $((audit_before + 1)) ] || fail "no audit row for the removal"
[ "$(status_field links_vanished)" = 1 ] || fail "links_vanished"
[ "$(ctl link create --parent v0 --kind macvtap --owner vm2)" = macvtap2 ] || fail "macvtap2 not reused"
ok "ip link del of an owned link: released, audited, reported, reused"

# The foreign device goes: its name is free again.
ip -n "$NS" link del macvtap5
for i in $(seq 50); do [ "$(status_field foreign_names)" = 1 ] && break; sleep 0.1; done
[ "$(db "SELECT count(*) FROM names WHERE name = 'macvtap5'")" = 0 ] || fail "macvtap5 still foreign in the database"
[ "$(ctl link create --parent v0 --kind macvtap --owner vm2)" = macvtap5 ] || fail "macvtap5 not free after its device went"
ok "foreign name freed when its device goes"

# The picture survives a restart with changes made while netd was down.
stop_netd
ip -n "$NS" link del macvtap0
ip -n "$NS" link add link v0 name macvtap20 type macvtap
start_netd
ctl link show macvtap0 >/dev/null 2>&1 && fail "macvtap0 deleted while netd was down is still known"
[ "$(db "SELECT state FROM names WHERE name = 'macvtap20'")" = foreign ] || fail "macvtap20 not foreign after restart"
[ "$(db "SELECT count(*) FROM audit WHERE method = 'kernel.LinkRemoved' AND parameters LIKE '%macvtap0\"%'")" = 1 ] || fail "no audit row for macvtap0"
ok "changes made while netd was down are reconciled at start"

kill $mon 2>/dev/null
stop_netd
