#!/bin/bash
# The database on a full filesystem (a small tmpfs in a private mount
# namespace): every mutating call is answered io.netd.StorageError with
# SQLite's reason, nothing of it reaches the kernel (no link made or
# deleted, no restore run), a binding is left as it was; reads keep working;
# once space is freed the next calls succeed without a restart, and SIGTERM
# exits 0.
. "$(dirname "$0")/lib.sh"

command -v unshare >/dev/null && command -v nsenter >/dev/null || skip "needs unshare and nsenter"
command -v sqlite3 >/dev/null || fail "sqlite3 is required (apt-get install sqlite3)"

DBFS=$TMP/dbfs
mkdir "$DBFS"
DB=$DBFS/netd.db
make_parent v0
ip -n "$NS" link add tap1 type veth peer name tap1-p
ip -n "$NS" link add tap2 type veth peer name tap2-p
ip -n "$NS" link add tap3 type veth peer name tap3-p

# netd in a mount namespace of its own where $DBFS is a 4 MiB tmpfs (the
# test reaches it through nsenter; the socket is outside it).
unshare -m --propagation private sh -c "mount -t tmpfs -o size=4m,mode=0755 netd-test '$DBFS' &&
	exec ip netns exec '$NS' '$NETD' --foreground --config '$CONF' --socket '$SOCK' --db '$DB'" \
	>>"$NETD_LOG" 2>&1 &
NETD_PID=$!
wait_ready || fail "netd did not start"
inmnt() { nsenter -t "$NETD_PID" -m "$@"; }
# kmac: the kernel's macvtap and macvlan links, sorted, on one line.
kmac() { kview links | awk '$3 == "macvtap" || $3 == "macvlan" { print $1 }' | sort | tr '\n' ' '; }
inmnt findmnt -n -o FSTYPE "$DBFS" | grep -q tmpfs || fail "the database is not on the tmpfs"

ctl link create --parent v0 --kind macvtap --owner g1 --name keep0 >/dev/null || fail "create before"
ctl link create --parent v0 --kind macvtap --owner g1 --name gone0 >/dev/null || fail "create gone0 before"
ctl filter bind --port tap1 --filter allow-arp --owner g1 >/dev/null || fail "bind before"
ctl filter bind --port tap3 --filter allow-arp --owner g1 >/dev/null || fail "bind tap3 before"
ok "calls succeed on the empty filesystem"

# Fill it: the WAL cannot grow any more.
inmnt sh -c "dd if=/dev/zero of='$DBFS/fill' bs=64k 2>/dev/null; exit 0"
[ "$(inmnt df --output=avail "$DBFS" | tail -1 | tr -d ' ')" -lt 64 ] || fail "tmpfs not full"
runs=$(status_field restore_runs)
audit_before=$(inmnt sqlite3 "$DB" "SELECT count(*) FROM audit")

# expect_storage_error WHAT ARGS...: netdctl ARGS fails with StorageError and a reason.
expect_storage_error() {
	local what=$1
	shift
	timeout 20 "$NETDCTL" --socket "$SOCK" "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
	[ $rc = 124 ] && fail "$what: no answer"
	[ $rc = 0 ] && fail "$what succeeded on a full disk: $(cat "$TMP/out")"
	grep -q 'io.netd.StorageError' "$TMP/err" || fail "$what: $(cat "$TMP/err")"
	grep -qi 'full' "$TMP/err" || fail "$what: no reason: $(cat "$TMP/err")"
}

expect_storage_error "create" link create --parent v0 --kind macvtap --owner g1 --count 3
expect_storage_error "create by name" link create --parent v0 --kind macvlan --owner g1 --name full1
[ "$(kmac)" = "gone0 keep0 " ] || fail "the kernel got links: $(kmac)"
[ "$(ctl link list | grep -vc "^NAME")" = 2 ] || fail "netd lists links that were undone: $(ctl link list)"
ok "creates: StorageError, no device made, nothing listed"

expect_storage_error "delete" link delete --owner g1 keep0
[ "$(kmac)" = "gone0 keep0 " ] || fail "keep0 was deleted in the kernel: $(kmac)"
ctl link show keep0 | grep -q 'present' || fail "keep0 not present: $(ctl link show keep0)"
ok "delete: StorageError, the link stays, present"

expect_storage_error "bind new" filter bind --port tap2 --filter allow-arp --owner g1
ctl filter show tap2 >/dev/null 2>&1 && fail "tap2 bound after a failed bind"
expect_storage_error "rebind" filter bind --port tap1 --filter allow-dhcp --owner g1
ctl filter show tap1 | grep -q 'allow-arp' || fail "tap1's binding changed: $(ctl filter show tap1)"
expect_storage_error "unbind" filter unbind --port tap1 --owner g1
ctl filter show tap1 | grep -q '^state  *applied$' || fail "tap1's binding state: $(ctl filter show tap1)"
sleep 0.5 # a batch would run by now
[ "$(status_field restore_runs)" = "$runs" ] || fail "a restore ran for a failed call"
ok "bind, rebind, unbind: StorageError, bindings as they were, no restore run"

# Rows written as side effects of what happens in the kernel are lost
# with their transaction too: one of netd's links removed by someone
# else, a foreign device in netd's prefix, a bound port removed (its
# binding's rules are removed and the binding goes).
failures=$(status_field storage_failures)
ip -n "$NS" link del gone0 || fail "ip link del gone0"
ip -n "$NS" link add macvtap9 link v0 type macvtap || fail "ip link add macvtap9"
ip -n "$NS" link del tap3 || fail "ip link del tap3"
for i in $(seq 100); do
	[ "$(status_field links_vanished)" = 1 ] && [ "$(status_field foreign_names)" = 1 ] &&
		! ctl filter show tap3 >/dev/null 2>&1 && break
	sleep 0.1
done
[ "$(status_field links_vanished)" = 1 ] && [ "$(status_field foreign_names)" = 1 ] || fail "netd did not see gone0 go and macvtap9 come"
ctl filter show tap3 >/dev/null 2>&1 && fail "tap3's binding stays after its port went"
[ "$(inmnt sqlite3 "$DB" "SELECT count(*) FROM bindings WHERE port = 'tap3'")" = 1 ] || fail "tap3's row went on a full disk"
[ "$(status_field storage_failures)" -gt "$failures" ] || fail "the vanished link's rows were written on a full disk"
[ "$(inmnt sqlite3 "$DB" "SELECT count(*) FROM links WHERE name = 'gone0'")" = 1 ] || fail "gone0's row went on a full disk"

ctl status >/dev/null || fail "status on a full disk"
ctl link list >/dev/null || fail "list on a full disk"
[ "$(status_field storage_failures)" -ge 1 ] || fail "storage_failures not counted"
ok "reads keep working; failures counted"

# Space back: the next calls succeed, no restart.
inmnt rm -f "$DBFS/fill"
ctl link create --parent v0 --kind macvtap --owner g1 --count 2 >"$TMP/made" || fail "create after space is back: $(cat "$TMP/made")"
[ "$(grep -c . "$TMP/made")" = 2 ] || fail "created: $(cat "$TMP/made")"
ctl link delete --owner g1 keep0 >/dev/null || fail "delete after space is back"
kmac | grep -q 'keep0' && fail "keep0 still in the kernel"
ctl filter bind --port tap2 --filter allow-arp --owner g1 | grep -q '^state  *applied$' || fail "bind after space is back"
ctl filter unbind --port tap1 --owner g1 >/dev/null || fail "unbind after space is back"
ok "the next calls after space is back succeed"

# The rows lost on the full disk are written again, without a restart.
[ "$(inmnt sqlite3 "$DB" "SELECT count(*) FROM links WHERE name = 'gone0'")" = 0 ] || fail "gone0's row is still there after space is back"
[ "$(inmnt sqlite3 "$DB" "SELECT state FROM names WHERE name = 'macvtap9'")" = foreign ] || fail "macvtap9's names row: '$(inmnt sqlite3 "$DB" "SELECT state FROM names WHERE name = 'macvtap9'")'"
[ "$(inmnt sqlite3 "$DB" "SELECT count(*) FROM bindings WHERE port = 'tap3'")" = 0 ] || fail "tap3's binding row is still there after space is back"
grep -q "rows lost with a failed transaction are written again" "$NETD_LOG" || fail "the repair is not logged"
ok "rows lost on the full disk (a vanished link, a foreign name, a binding whose port went) written again without a restart"
ip -n "$NS" link del macvtap9
for i in $(seq 100); do [ "$(status_field foreign_names)" = 0 ] && break; sleep 0.1; done

# The database agrees with the kernel: the two links made after, tap2's
# binding, and the failed calls left no row.
links=$(inmnt sqlite3 "$DB" "SELECT name FROM links ORDER BY name" | tr '\n' ' ')
kernel=$(kmac)
[ "$links" = "$kernel" ] || fail "database links '$links', kernel '$kernel'"
[ "$(inmnt sqlite3 "$DB" "SELECT port FROM bindings")" = tap2 ] || fail "bindings: $(inmnt sqlite3 "$DB" "SELECT port FROM bindings")"
[ "$(inmnt sqlite3 "$DB" "SELECT count(*) FROM audit")" -gt "$audit_before" ] || fail "no audit rows after"
ok "database matches the kernel"

stop_netd
ok "SIGTERM exits 0"
