#!/bin/bash
# netd tags its links in the kernel (ifalias "netd:<owner>", set in the
# create itself), so a lost or emptied database does not turn them into
# "foreign" devices: a restart re-adopts them with their owners, loudly
# (an error in the log, GetStatus, the audit). A device netd did not make
# stays foreign.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is required"
make_parent v0

owners() { ctl --json link list | sed -n 's/^ *"owner": "\(.*\)",\{0,1\}$/\1/p' | sort | uniq -c | tr -s ' ' | sed 's/^ //'; }

start_netd
ctl link create --parent v0 --kind macvtap --owner alice --count 5 >/dev/null || fail "create alice"
ctl link create --parent v0 --kind macvlan --owner bob --count 3 >/dev/null || fail "create bob"
in_ns ip link add link v0 name macvtap9 type macvtap || fail "foreign device"
for i in $(seq 50); do [ "$(status_field foreign_names)" = 1 ] && break; sleep 0.1; done
in_ns ip -d link show macvtap0 | grep -q "alias netd:alice" || fail "macvtap0 carries no ownership tag"
owners > "$TMP/before"
stop_netd

for how in deleted empty; do
	rm -f "$DB-wal" "$DB-shm"
	case $how in
	deleted) rm -f "$DB" ;;
	empty) : > "$DB" ;;
	esac
	: > "$NETD_LOG"
	start_netd
	owners > "$TMP/after"
	diff -u "$TMP/before" "$TMP/after" > "$TMP/diff" || fail "database $how: owners differ after restart: $(cat "$TMP/diff")"
	[ "$(status_field links)" = 8 ] || fail "database $how: netd owns $(status_field links) links, not 8"
	[ "$(status_field links_adopted)" = 8 ] || fail "database $how: links_adopted is '$(status_field links_adopted)'"
	[ "$(status_field links_empty_database)" = true ] || fail "database $how: GetStatus does not say the database was empty"
	[ "$(status_field foreign_names)" = 1 ] || fail "database $how: foreign_names is $(status_field foreign_names), not 1 (macvtap9)"
	grep -qi "error.*8 links tagged as netd's were missing from the database.*empty" "$NETD_LOG" ||
		fail "database $how: no error in the log about the empty database"
	[ "$(db "SELECT count(*) FROM links WHERE state = 'present'")" = 8 ] || fail "database $how: the links are not in the database"
	[ "$(db "SELECT count(*) FROM audit WHERE method = 'netd.LinksAdopted'")" = 1 ] || fail "database $how: the re-adoption is not audited"
	# They are netd's again: the owner can delete them.
	ctl link delete --owner bob >/dev/null || fail "database $how: bob cannot delete his re-adopted links"
	[ "$(kview count macvlan)" = 0 ] || fail "database $how: bob's devices are still there"
	ctl link create --parent v0 --kind macvlan --owner bob --count 3 >/dev/null || fail "create bob again"
	owners > "$TMP/before"
	ok "database $how: the 8 tagged links re-adopted with their owners, reported loudly; the untagged device stays foreign"
	stop_netd
done

# A normal restart adopts nothing and says nothing.
: > "$NETD_LOG"
start_netd
[ "$(status_field links_adopted)" = 0 ] || fail "a normal restart adopted links"
[ "$(status_field links_empty_database)" = false ] || fail "a normal restart reports an empty database"
stop_netd
ok "a restart with the database intact adopts nothing"
