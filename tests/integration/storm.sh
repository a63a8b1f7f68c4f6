#!/bin/bash
# storm.sh: a kill -9 storm. STORM_ROUNDS rounds (default 8; the full
# storm is 30): several clients at once, each running netdctl from outside
# netd's namespace, mix link create/delete and filter bind/unbind; netd is
# killed with SIGKILL at a random moment, restarted, and once it has settled
# the database (sqlite3), netd (netdctl), the kernel's links (nlview, which
# shares no code with netd) and the firewall (*tables-save) are compared:
#   leaked links    devices with netd's prefixes that have no row
#   rows w/o device rows (links, owned names) whose device is missing,
#                   and netd's list differing from the database
#   unsettled       rows left creating/deleting, bindings not applied
#   bindings w/o rules  a binding whose chains (declarations and every
#                   rule, in every family) or dispatch lines differ from
#                   what the same binding gives on a quiet netd
#   chains w/o binding  N-I-/N-O- chains or dispatch lines of a port with
#                   no binding
#   hooks           netd's four hook lines not exactly once each
#   all-or-nothing  a CreateLinks that got no answer left neither 0 nor
#                   all of its links; an answered one lost links it was
#                   not asked to delete; an answered error left some
# Every failed check is counted per round; the test prints the counts and
# fails if any is not zero. STORM_SEED makes a run repeatable.
#
# The storm checks what the interface promises across a crash (issue 9,
# items 5 and 9): it failed before interrupted CreateLinks were rolled
# back at start, before an interrupted DeleteLinks was all or nothing
# (seed 6980: 16 of 144 links left), and before a restore that changed
# nothing was told from one that lied (seed 6980 under ASan: binds failed
# with "the nf_tables generation did not move"). NETD_STORM=0 skips it.
. "$(dirname "$0")/lib.sh"

[ "${NETD_STORM:-1}" = 0 ] && skip "NETD_STORM=0"
command -v sqlite3 >/dev/null || fail "sqlite3 is required"
for t in ebtables iptables ip6tables; do
	command -v "$t-save" >/dev/null || skip "needs $t-save"
done

ROUNDS=${STORM_ROUNDS:-8}
CLIENTS=${STORM_CLIENTS:-4}
PORTS_PER_CLIENT=3
SEED=${STORM_SEED:-$$}
RANDOM=$SEED
MAC=52:54:00:00:00:01
IP=10.0.0.1
MAX_LINKS=300 # the storm deletes owners between rounds beyond this

mkdir -p "$TMP/filters"
cat >"$TMP/filters/storm-ssh.json" <<'JSON'
{"name": "storm-ssh", "filters": ["clean-traffic"],
 "rules": [{"direction": "in", "protocol": "tcp", "action": "accept", "dst_port": "22", "priority": 400},
           {"direction": "in", "protocol": "tcp-ipv6", "action": "accept", "dst_port": "22", "priority": 400},
           {"direction": "out", "protocol": "udp", "action": "drop", "dst_port": "53", "src_ip": "$IP"}]}
JSON
printf '[netd]\nfilter_dir = %s\n' "$TMP/filters" >"$CONF"
FILTERS=(clean-traffic storm-ssh)

make_parent v0
{
	for k in $(seq 0 $((CLIENTS - 1))); do
		for j in $(seq 0 $((PORTS_PER_CLIENT - 1))); do echo "link add p$k-$j type veth peer name q$k-$j"; done
	done
	echo "link add tpl type veth peer name tpl-q"
} >"$TMP/batch"
ip -n "$NS" -batch "$TMP/batch" || fail "veth ports"

# save FAMILY: that family's filter table as its *-save prints it.
save() {
	case $1 in
	eb) in_ns ebtables-save ;;
	ip4) in_ns iptables-save -t filter ;;
	ip6) in_ns ip6tables-save -t filter ;;
	esac
}
FAMS=(eb ip4 ip6)

# port_lines FILE PORT: a port's chain declarations and rules in save output.
port_lines() { grep -E "^(:N-[IO]-$2 |-A N-[IO]-$2 )" "$1"; }
# dispatch_lines FILE PORT: the root chains' lines that jump to the port's chains.
dispatch_lines() { grep -E "^-A NETD-(FROM|TO) .* -j N-[IO]-$2\$" "$1"; }

# settled: nothing in flight, no link creating or deleting, every binding
# applied and the filters verified (15 s at most).
settled() {
	local i
	for i in $(seq 150); do
		[ "$(status_field netlink_in_flight)" = 0 ] &&
			[ "$(status_field filters_verified)" = true ] &&
			[ "$(db "SELECT count(*) FROM links WHERE state != 'present'")" = 0 ] &&
			[ "$(db "SELECT count(*) FROM bindings WHERE state != 'applied'")" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# --- what each filter gives on a quiet netd (port "tpl"), per family ---
start_netd
for f in "${FILTERS[@]}"; do
	ctl filter bind --port tpl --filter "$f" --owner tpl --param MAC=$MAC --param IP=$IP >/dev/null ||
		fail "bind tpl $f"
	settled || fail "quiet bind of $f did not settle"
	for fam in "${FAMS[@]}"; do
		save "$fam" >"$TMP/save"
		port_lines "$TMP/save" tpl | sed 's/N-\([IO]\)-tpl\b/N-\1-@PORT@/g; s/\(-[io]\|--physdev-in\|--physdev-out\) tpl\b/\1 @PORT@/g' \
			>"$TMP/tpl-$f.$fam"
		dispatch_lines "$TMP/save" tpl | sed 's/\btpl\b/@PORT@/g' >"$TMP/tpl-$f.$fam.dispatch"
	done
	ctl filter unbind --port tpl --owner tpl >/dev/null || fail "unbind tpl"
done
[ -s "$TMP/tpl-clean-traffic.eb" ] && [ -s "$TMP/tpl-storm-ssh.ip4" ] && [ -s "$TMP/tpl-storm-ssh.ip6" ] ||
	fail "the quiet bindings left no chains to compare with"
stop_netd

# --- the clients ---
# client K ROUND: random calls until netd is gone. Each call is logged as
# "CALL op owner n" before and "DONE op owner rc n" after (n: links asked
# for / names printed), so that unanswered calls are known.
client() {
	local k=$1 round=$2 i=0 op owner n out rc port f fails=0
	local log=$TMP/calls-$k owners=$TMP/owners-$k
	RANDOM=$((SEED + 1000 * round + k))
	touch "$owners"
	while [ "$fails" -lt 2 ] && [ ! -e "$TMP/stop" ]; do
		i=$((i + 1))
		op=$((RANDOM % 10))
		rc=0
		if [ $op -lt 4 ]; then
			owner=c${k}r${round}n$i
			n=$((1 + RANDOM % 24))
			[ $((RANDOM % 8)) = 0 ] && n=$((100 + RANDOM % 101)) # the size of the issue's report
			kind=macvtap; [ $((RANDOM % 4)) = 0 ] && kind=macvlan
			echo "CALL create $owner $n" >>"$log"
			out=$("$NETDCTL" -t 10 --socket "$SOCK" link create --parent v0 --kind $kind --owner "$owner" \
				--count $n 2>/dev/null) || rc=$?
			echo "DONE create $owner $rc $(printf '%s' "$out" | grep -c .)" >>"$log"
			[ $rc = 0 ] && echo "$owner" >>"$owners"
		elif [ $op -lt 6 ]; then
			owner=$(shuf -n 1 "$owners" 2>/dev/null)
			[ -n "$owner" ] || continue
			echo "CALL delete $owner 0" >>"$log"
			"$NETDCTL" -t 10 --socket "$SOCK" link delete --owner "$owner" >/dev/null 2>&1 || rc=$?
			echo "DONE delete $owner $rc 0" >>"$log"
			[ $rc = 0 ] && sed -i "/^$owner\$/d" "$owners"
		elif [ $op -lt 8 ]; then
			port=p$k-$((RANDOM % PORTS_PER_CLIENT))
			f=${FILTERS[$((RANDOM % ${#FILTERS[@]}))]}
			"$NETDCTL" -t 10 --socket "$SOCK" filter bind --port $port --filter $f --owner c$k \
				--param MAC=$MAC --param IP=$IP >/dev/null 2>&1 || rc=$?
		else
			port=p$k-$((RANDOM % PORTS_PER_CLIENT))
			"$NETDCTL" -t 10 --socket "$SOCK" filter unbind --port $port --owner c$k >/dev/null 2>&1 || rc=$?
		fi
		# 3: cannot connect (netd is dead or not yet up); 1 can be a
		# dropped connection too, so only 3 counts towards giving up.
		if [ $rc = 3 ]; then fails=$((fails + 1)); sleep 0.05; else fails=0; fi
	done
}

# --- the checks after each restart ---
declare -A FAILS=()
count_fail() { FAILS[$1]=$((${FAILS[$1]:-0} + 1)); echo "  round $round: $1: $2"; }

check_links() {
	db "SELECT name FROM links ORDER BY name" >"$TMP/db-links"
	kview names | grep -E '^(macvtap|macvlan)[0-9]+$' | sort >"$TMP/k-links"
	comm -13 "$TMP/db-links" "$TMP/k-links" >"$TMP/leaked"
	comm -23 "$TMP/db-links" "$TMP/k-links" >"$TMP/missing"
	[ -s "$TMP/leaked" ] && count_fail "leaked links" "$(wc -l <"$TMP/leaked") devices without a row: $(head -5 "$TMP/leaked" | tr '\n' ' ')"
	[ -s "$TMP/missing" ] && count_fail "rows without a device" "$(wc -l <"$TMP/missing") rows: $(head -5 "$TMP/missing" | tr '\n' ' ')"
	db "SELECT name FROM names WHERE state = 'owned' ORDER BY name" >"$TMP/db-names"
	diff -q "$TMP/db-links" "$TMP/db-names" >/dev/null ||
		count_fail "rows without a device" "owned names differ from links: $(diff "$TMP/db-links" "$TMP/db-names" | grep '^[<>]' | head -5 | tr '\n' ' ')"
	ctl --json link list | json_names | sort >"$TMP/netd-links"
	diff -q "$TMP/db-links" "$TMP/netd-links" >/dev/null ||
		count_fail "netdctl differs" "link list differs from the database"
}

check_all_or_nothing() {
	local k owner rc got want del
	for k in $(seq 0 $((CLIENTS - 1))); do
		[ -f "$TMP/calls-$k" ] || continue
		# Per owner: its create (asked n, answered?), and whether a delete was tried.
		awk '
			$1 == "CALL" && $2 == "create" { asked[$3] = $4; answered[$3] = "none"; order[++n] = $3 }
			$1 == "DONE" && $2 == "create" { answered[$3] = $4 }
			$1 == "CALL" && $2 == "delete" { del[$3] = "none" }
			$1 == "DONE" && $2 == "delete" { del[$3] = $4 }
			END { for (i = 1; i <= n; i++) { o = order[i]; print o, asked[o], answered[o], (o in del) ? del[o] : "-" } }
		' "$TMP/calls-$k" >"$TMP/creates-$k"
		while read -r owner want rc del; do
			got=$(db "SELECT count(*) FROM links WHERE owner = '$owner'")
			if [ "$del" != - ]; then
				# a delete was tried: all or nothing (nothing if it was answered with success)
				if [ "$del" = 0 ] && [ "$got" != 0 ]; then
					count_fail "all or nothing" "delete of $owner answered but $got links remain"
				elif [ "$got" != 0 ] && [ "$rc" = 0 ] && [ "$got" != "$want" ]; then
					count_fail "all or nothing" "interrupted delete of $owner left $got of $want"
				fi
			elif [ "$rc" = none ] || { [ "$rc" != 0 ] && [ "$rc" != 1 ]; }; then
				[ "$got" = 0 ] || [ "$got" = "$want" ] ||
					count_fail "all or nothing" "unanswered CreateLinks of $owner (count $want) left $got links"
			elif [ "$rc" = 0 ]; then
				[ "$got" = "$want" ] || count_fail "all or nothing" "answered CreateLinks of $owner (count $want): $got links now"
			else
				[ "$got" = 0 ] || count_fail "all or nothing" "CreateLinks of $owner answered with an error left $got links"
			fi
		done <"$TMP/creates-$k"
	done
}

check_filters() {
	local fam port filter state lines
	db "SELECT port, filter, state FROM bindings ORDER BY port" >"$TMP/bindings"
	for fam in "${FAMS[@]}"; do
		save "$fam" >"$TMP/save-$fam"
		# bindings without their rules: every binding, whatever its
		# state. The storm binds only valid filters to ports that
		# exist, so once settled each must be applied; a "failed" one
		# (counted as unsettled too) is netd failing a good bind.
		while IFS='|' read -r port filter state; do
			sed "s/@PORT@/$port/g" "$TMP/tpl-$filter.$fam" >"$TMP/want"
			port_lines "$TMP/save-$fam" "$port" >"$TMP/have"
			diff -q "$TMP/want" "$TMP/have" >/dev/null ||
				count_fail "bindings without their rules" "$fam: $port ($filter, $state): $(diff "$TMP/want" "$TMP/have" | grep -c '^[<>]') lines differ"
			sed "s/@PORT@/$port/g" "$TMP/tpl-$filter.$fam.dispatch" >"$TMP/want"
			dispatch_lines "$TMP/save-$fam" "$port" >"$TMP/have"
			diff -q "$TMP/want" "$TMP/have" >/dev/null ||
				count_fail "bindings without their rules" "$fam: $port ($filter, $state): dispatch lines differ"
		done <"$TMP/bindings"
		# netd chains without a binding
		for port in $(sed -n 's/^:N-[IO]-\([^ ]*\) .*/\1/p; s/^-A NETD-\(FROM\|TO\) .* -j N-[IO]-\(.*\)$/\2/p' \
			"$TMP/save-$fam" | sort -u); do
			grep -q "^$port|" "$TMP/bindings" ||
				count_fail "netd chains without a binding" "$fam: chains or dispatch of $port"
		done
		# netd's hooks, exactly once each
		if grep -q '^:NETD-' "$TMP/save-$fam"; then
			for h in "-A INPUT -j NETD-FROM" "-A FORWARD -j NETD-FROM" "-A FORWARD -j NETD-TO" "-A OUTPUT -j NETD-TO"; do
				lines=$(grep -c -x -- "$h" "$TMP/save-$fam")
				[ "$lines" = 1 ] || count_fail "hooks" "$fam: '$h' $lines times"
			done
		fi
	done
	ctl --json filter list | sed -n 's/^ *"port": "\(.*\)",\{0,1\}$/\1/p' | sort >"$TMP/netd-bindings"
	cut -d'|' -f1 "$TMP/bindings" | diff -q - "$TMP/netd-bindings" >/dev/null ||
		count_fail "netdctl differs" "filter list differs from the database"
}

# prune: keep the number of links bounded by deleting whole owners.
prune() {
	local owner k
	while [ "$(db "SELECT count(*) FROM links")" -gt $MAX_LINKS ]; do
		owner=$(db "SELECT owner FROM links ORDER BY created LIMIT 1")
		ctl link delete --owner "$owner" >/dev/null || break
		for k in $(seq 0 $((CLIENTS - 1))); do sed -i "/^$owner\$/d" "$TMP/owners-$k" 2>/dev/null; done
	done
}

pids=()
on_cleanup 'touch "$TMP/stop"; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait'
echo "storm: $ROUNDS rounds, $CLIENTS clients, seed $SEED"
t_start=$(date +%s)
total_creates=0 total_unanswered=0
for round in $(seq 1 "$ROUNDS"); do
	rm -f "$TMP/stop" "$TMP"/calls-*
	start_netd
	pids=()
	for k in $(seq 0 $((CLIENTS - 1))); do
		client "$k" "$round" &
		pids+=($!)
	done
	# kill at a random moment: 0.2 .. 3 s into the storm
	sleep "$((RANDOM % 3)).$((2 + RANDOM % 8))$((RANDOM % 10))"
	kill -KILL "$NETD_PID"
	wait "$NETD_PID" 2>/dev/null
	NETD_PID=
	at_kill=$(kview names | grep -cE '^(macvtap|macvlan)[0-9]+$')
	touch "$TMP/stop"
	wait "${pids[@]}" 2>/dev/null
	start_netd
	settled || count_fail "unsettled" "after 15 s: $(db "SELECT name || ' ' || state FROM links WHERE state != 'present'" | head -3 | tr '\n' ' ')$(db "SELECT port || ' ' || state || ' ' || coalesce(error, '') FROM bindings WHERE state != 'applied'" | head -3 | tr '\n' ' ')"
	check_links
	check_all_or_nothing
	check_filters
	creates=$(cat "$TMP"/calls-* 2>/dev/null | grep -c '^CALL create')
	unanswered=$(cat "$TMP"/calls-* 2>/dev/null | grep -c '^DONE create .* [^01] ')
	unanswered=$((unanswered + creates - $(cat "$TMP"/calls-* 2>/dev/null | grep -c '^DONE create')))
	total_creates=$((total_creates + creates))
	total_unanswered=$((total_unanswered + unanswered))
	echo "round $round: $creates creates ($unanswered unanswered), $at_kill links at the kill, $(db "SELECT count(*) FROM links") links and $(db "SELECT count(*) FROM bindings") bindings after restart"
	prune
	kill -KILL "$NETD_PID"
	wait "$NETD_PID" 2>/dev/null
	NETD_PID=
done
t_end=$(date +%s)
# and a last start after the storm must still stop cleanly (under the
# sanitizers this also catches leaks of a start over a stormed state)
start_netd
settled || count_fail "unsettled" "at the last start"
stop_netd

echo "storm: $ROUNDS rounds in $((t_end - t_start)) s, $total_creates CreateLinks calls, $total_unanswered of them unanswered at the kill"
failed=0
for check in "leaked links" "rows without a device" "unsettled" "netdctl differs" "bindings without their rules" \
	"netd chains without a binding" "hooks" "all or nothing"; do
	n=${FAILS[$check]:-0}
	echo "  $check: $n"
	[ "$n" = 0 ] || failed=1
done
[ "$failed" = 0 ] || fail "the storm broke a guarantee (seed $SEED; counts above)"
ok "$ROUNDS rounds of kill -9: 0 leaked links, 0 rows without a device, 0 bindings without their rules, 0 netd chains without a binding, every CreateLinks all or nothing"
