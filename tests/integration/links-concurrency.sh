#!/bin/bash
# 16 clients creating and deleting links for their own owners at once for
# 30 s: no name handed out twice, no link lost or stolen, no error but the
# expected ones, and GetStatus answered promptly throughout. At the end
# netd, the database and the kernel agree.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 is required"
make_parent v0
start_netd
DURATION=${NETD_CONCURRENCY_SECONDS:-30}

client() {
	local id=$1 end=$(( $(date +%s) + DURATION )) n names got i=0
	while [ "$(date +%s)" -lt "$end" ]; do
		n=$(( (RANDOM % 8) + 1 ))
		kind=macvtap; [ $((RANDOM % 4)) = 0 ] && kind=macvlan
		names=$("$NETDCTL" --socket "$SOCK" link create --parent v0 --kind $kind --owner "c$id" --count $n) ||
			{ echo "ERROR create c$id"; return 1; }
		[ "$(printf '%s\n' "$names" | wc -l)" = $n ] || { echo "ERROR c$id asked $n got: $names"; return 1; }
		printf '%s\n' "$names" | sed "s/^/c$id $i /" >> "$TMP/handed.$id"
		# Only my links, exactly those I was given.
		got=$("$NETDCTL" --socket "$SOCK" --json link list --owner "c$id" | json_names | sort)
		[ "$got" = "$(printf '%s\n' "$names" | sort)" ] || { echo "ERROR c$id list: $got vs $names"; return 1; }
		got=$("$NETDCTL" --socket "$SOCK" link delete --owner "c$id" | sort)
		[ "$got" = "$(printf '%s\n' "$names" | sort)" ] || { echo "ERROR c$id deleted: $got vs $names"; return 1; }
		i=$((i + 1))
	done
	echo "c$id done after $i rounds"
}

# Every change, in order, as netd reports it: the duplicate-name check.
ctl --json monitor > "$TMP/events" 2>&1 &
monitor=$!
sleep 0.3

pids=
for id in $(seq 16); do
	client "$id" > "$TMP/client.$id" 2>&1 &
	pids="$pids $!"
done

# Meanwhile: GetStatus must keep answering promptly (5 s is a generous
# bound for a shared, noisy machine; the worst seen is reported).
worst=0 polls=0
end=$(( $(date +%s) + DURATION ))
while [ "$(date +%s)" -lt "$end" ]; do
	t=$("$VLCLIENT" status "$SOCK" 5000) || fail "GetStatus not answered within 5 s under load"
	[ "$t" -gt "$worst" ] && worst=$t
	polls=$((polls + 1))
	sleep 0.2
done

failed=0
for p in $pids; do wait "$p" || failed=1; done
cat "$TMP"/client.* | grep ERROR && fail "a client saw an unexpected result"
[ $failed = 0 ] || fail "a client failed: $(cat "$TMP"/client.*)"
rounds=$(cat "$TMP"/client.* | awk '{ s += $4 } END { print s }')

# No name handed out twice: in netd's event stream a name is added only
# when it is not held, and removed only when it is.
kill $monitor; wait $monitor 2>/dev/null
sed -n 's/^{"event":"\(added\|removed\)","link":{.*"name":"\([^"]*\)".*/\1 \2/p' "$TMP/events" |
	awk '$1 == "added" { if (held[$2]) { print "DUPLICATE " $2; bad = 1 } held[$2] = 1 }
	     $1 == "removed" { if (!held[$2]) { print "LOST " $2; bad = 1 } delete held[$2] }
	     END { exit bad }' > "$TMP/dups" || fail "event stream: $(head "$TMP/dups")"
added=$(grep -c '^{"event":"added"' "$TMP/events")
[ "$added" -gt 0 ] || fail "no events seen"
# Every event as declared in io.netd (netdctl prints each one's parameters).
grep '^{' "$TMP/events" | "$VLCLIENT" check-reply io.netd.Monitor || fail "Monitor events do not conform"

# Nothing left anywhere.
[ "$(kview count macv)" = 0 ] || fail "links left in the kernel: $(kview names macv | tr '\n' ' ')"
[ "$(db "SELECT count(*) FROM links")" = 0 ] || fail "rows left: $(db 'SELECT name, owner, state FROM links')"
[ "$(db "SELECT count(*) FROM names")" = 0 ] || fail "names left: $(db 'SELECT * FROM names')"
[ "$(ctl --json link list | json_names | wc -l)" = 0 ] || fail "netd still lists links"
[ "$(status_field errors)" = 0 ] || fail "netd answered $(status_field errors) calls with errors"
handed=$(cat "$TMP"/handed.* | wc -l)
[ "$added" = "$handed" ] || fail "monitor saw $added additions, clients were handed $handed links"
ok "16 clients, $rounds create/list/delete rounds, $handed links in ${DURATION}s, no name held twice; GetStatus answered in ≤ ${worst} ms ($polls polls); netd: longest callback $(status_field longest_callback_us) µs ($(ctl --json status | sed -n "s/^  \"longest_callback\": \"\(.*\)\",/\1/p")), request p99 $(status_field latency_p99_us) µs; nothing left over"
stop_netd
