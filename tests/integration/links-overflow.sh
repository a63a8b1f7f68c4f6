#!/bin/bash
# Lost link events: with a tiny event receive buffer, a burst of > 2000
# foreign link changes overflows it; netd counts a resync, re-reads the
# kernel's links and ends with the right picture.
. "$(dirname "$0")/lib.sh"

make_parent v0
printf '[netd]\nevent_rcvbuf = 4096\n' > "$CONF"
start_netd
ctl link create --parent v0 --kind macvlan --owner mine --count 3 >/dev/null || fail "create own links"
[ "$(status_field event_rcvbuf)" -le 16384 ] || fail "event_rcvbuf not applied: $(status_field event_rcvbuf)"

# 1000 foreign macvtaps, 1000 group changes, then 500 of them deleted:
# 2500 events, all at once, from one ip -batch process.
{
	for i in $(seq 0 999); do echo "link add link v0 name macvtap$i type macvtap"; done
	for i in $(seq 0 2 999); do echo "link set macvtap$i group 7"; done
	for i in $(seq 1 2 999); do echo "link set macvtap$i group 8"; done
	echo "link del group 7"
} > "$TMP/batch"
# netd stopped meanwhile, so that the burst overflows its buffer however
# fast it would have read (a quick reader on an idle machine once kept up).
kill -STOP "$NETD_PID"
ip -n "$NS" -batch "$TMP/batch" || { kill -CONT "$NETD_PID"; fail "ip -batch"; }
kill -CONT "$NETD_PID"

for i in $(seq 100); do [ "$(status_field resyncs)" -ge 1 ] && [ "$(status_field foreign_names)" = 500 ] && break; sleep 0.1; done
[ "$(status_field resyncs)" -ge 1 ] || fail "no resync counted (events: $(status_field netlink_events))"
[ "$(status_field foreign_names)" = 500 ] || fail "foreign names: $(status_field foreign_names), want 500"
grep -q "link events lost" "$NETD_LOG" || fail "overflow not logged"
ok "overflow: $(status_field resyncs) resync(s) counted, 500 foreign names known"

# The picture is right: the even names are free, the odd ones foreign,
# our own links intact.
[ "$(ctl link create --parent v0 --kind macvtap --owner after --count 3 | tr '\n' ' ')" = "macvtap0 macvtap2 macvtap4 " ] || fail "names after the resync"
[ "$(ctl --json link list --owner mine | json_names | tr '\n' ' ')" = "macvlan0 macvlan1 macvlan2 " ] || fail "own links after the resync"
[ "$(db "SELECT count(*) FROM names WHERE state = 'foreign'")" = 500 ] || fail "foreign rows: $(db "SELECT count(*) FROM names WHERE state = 'foreign'")"
ok "after the resync: free, foreign and owned names all right"

# The same picture after a restart.
stop_netd
start_netd
[ "$(status_field foreign_names)" = 500 ] || fail "foreign names after restart"
[ "$(ctl --json link list | json_names | wc -l)" = 6 ] || fail "links after restart"
stop_netd
ok "and after a restart"
