#!/bin/bash
# A CreateLinks is all or nothing, also across a crash: kill -9 during a
# create of 200 links at several moments (before the first device, after
# the first, midway, near the end); after a restart the owner has 0 or 200
# links, never a part, 200 if the caller got its answer, and every
# rolled-back call is in the audit with its owner and names.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is required"
make_parent v0
N=200

# kill_when AT: kill -9 netd once the kernel holds at least AT of the
# owner's devices (AT 0: as soon as the call is sent).
kill_when() {
	local at=$1 i
	for i in $(seq 2000); do
		[ "$(kview count macvtap)" -ge "$at" ] && break
	done
	kill -KILL "$NETD_PID"
	wait "$NETD_PID" 2>/dev/null
	NETD_PID=
}

partial=0
round=0
for at in 0 1 40 100 160 199; do
	round=$((round + 1))
	owner="g$round"
	start_netd
	ctl link create --parent v0 --kind macvtap --owner "$owner" --count $N >"$TMP/out" 2>&1 &
	client=$!
	kill_when "$at"
	made=$(kview count macvtap)
	answered=no
	wait $client && answered=yes
	start_netd
	links_settled || fail "round $round: netd did not settle"
	have=$(db "SELECT count(*) FROM links WHERE owner = '$owner'")
	listed=$(ctl --json link list --owner "$owner" | json_names | wc -l)
	kernel=$(kview count macvtap)
	[ "$have" = "$listed" ] || fail "round $round: database has $have, netdctl lists $listed"
	[ "$have" = "$kernel" ] || fail "round $round: database has $have, the kernel $kernel devices"
	case $have in
	0) [ "$answered" = no ] || fail "round $round: the caller was told the create succeeded, but 0 links remain"
	   if [ "$made" -gt 0 ]; then
		partial=$((partial + 1))
		db "SELECT parameters, detail FROM audit WHERE method = 'netd.CreateLinksRolledBack'" > "$TMP/audit"
		grep -q "\"owner\":\"$owner\"" "$TMP/audit" ||
			fail "round $round: the rollback of $made devices is not in the audit"
		grep "\"owner\":\"$owner\"" "$TMP/audit" | grep -q '"names":\["macvtap' ||
			fail "round $round: the audit does not name the links rolled back"
		[ "$(status_field links_rolled_back)" -gt 0 ] ||
			fail "round $round: GetStatus does not count the rollback"
	   fi ;;
	$N) ;;
	*) fail "round $round: owner $owner has $have of $N links after the restart (killed with $made devices made, answered: $answered)" ;;
	esac
	ok "killed with $made devices made (answered: $answered): $have of $N links after the restart"
	ctl link delete --owner "$owner" >/dev/null 2>&1
	links_settled || fail "round $round: the cleanup did not settle"
	stop_netd
done
# Answered calls leave no op id on their rows (db/006_link_ops.sql).
start_netd
ctl link create --parent v0 --kind macvtap --owner last --count 3 >/dev/null || fail "create"
[ "$(db "SELECT count(*) FROM links WHERE op IS NOT NULL")" = 0 ] || fail "an answered create left op ids"
stop_netd
[ "$partial" -gt 0 ] || fail "no round killed netd in the middle of the create"
ok "every interrupted create was all or nothing ($partial rolled back, each audited)"
