#!/bin/bash
# kill -9 during a create of 500 links, at several moments; after a
# restart the database and the kernel agree: no owned device missing from
# the database, no row without its device, every row settled.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is required"
make_parent v0

check_agree() {
	local what=$1
	links_settled 100 || fail "$what: netd did not settle"
	db "SELECT name FROM links ORDER BY name" > "$TMP/db-links"
	kview names macvtap | sort > "$TMP/k-links"
	diff -u "$TMP/db-links" "$TMP/k-links" > "$TMP/diff" || fail "$what: database and kernel disagree: $(cat "$TMP/diff")"
	[ "$(db "SELECT count(*) FROM links WHERE state != 'present'")" = 0 ] || fail "$what: unsettled rows: $(db "SELECT name, state FROM links WHERE state != 'present'")"
	[ "$(db "SELECT count(*) FROM names WHERE state = 'owned'")" = "$(wc -l < "$TMP/db-links")" ] || fail "$what: names rows do not match links"
	ctl --json link list | json_names | sort > "$TMP/netd-links"
	diff -u "$TMP/db-links" "$TMP/netd-links" >/dev/null || fail "$what: netd's list differs from the database"
}

for delay in 0.05 0.15 0.3 0.6; do
	start_netd
	ctl link create --parent v0 --kind macvtap --owner "g$delay" --count 500 >/dev/null 2>&1 &
	client=$!
	sleep "$delay"
	kill -KILL "$NETD_PID"
	wait "$NETD_PID" 2>/dev/null
	NETD_PID=
	wait $client 2>/dev/null
	made=$(kview count macvtap)
	start_netd
	check_agree "killed after ${delay}s ($made devices in the kernel at the kill)"
	ok "kill -9 after ${delay}s with $made of the devices made: database and kernel agree after restart"
	# A delete killed midway is finished at the next start too.
	ctl link delete --owner "g$delay" >/dev/null 2>&1 &
	client=$!
	sleep 0.02
	kill -KILL "$NETD_PID"
	wait "$NETD_PID" 2>/dev/null
	NETD_PID=
	wait $client 2>/dev/null
	start_netd
	check_agree "delete killed midway"
	stop_netd
done
ok "every interrupted create and delete was repaired at the next start"
