#!/bin/bash
# GetInfo, GetInterfaceDescription and GetStatus through socat and
# netdctl; netdctl's output forms and exit codes.
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || fail "socat is required (apt-get install socat)"
start_netd

# The Done-means check of the foundation issue, verbatim.
out=$(printf '{"method":"org.varlink.service.GetInfo"}\0' | socat -t 2 - UNIX-CONNECT:"$SOCK" | tr '\0' '\n')
for want in '"vendor":"netd project"' '"product":"netd"' '"version":"' '"interfaces":["org.varlink.service","io.netd"]'; do
	case $out in *"$want"*) ;; *) fail "GetInfo reply '$out' lacks $want" ;; esac
done
ok "GetInfo over socat"

# The description served is the interface file shipped in the source.
ctl interface io.netd > "$TMP/io.netd.varlink" || fail "netdctl interface io.netd"
cmp -s "$TMP/io.netd.varlink" "$top_srcdir/netd/io.netd.varlink" || fail "served io.netd description differs from netd/io.netd.varlink"
ctl interface org.varlink.service | grep -q '^interface org.varlink.service$' || fail "org.varlink.service description"
ctl interface com.example.nothing 2>"$TMP/err"; rc=$?
[ $rc = 1 ] || fail "unknown interface: want exit 1, got $rc"
grep -q 'org.varlink.service.InterfaceNotFound {"interface":"com.example.nothing"}' "$TMP/err" || fail "unknown interface message: $(cat "$TMP/err")"
ok "GetInterfaceDescription"

# Human status: a readable table.
ctl status > "$TMP/status" || fail "netdctl status"
for row in netd clients requests latency 'longest callback' database 'config reloads'; do
	grep -q "^$row " "$TMP/status" || fail "status table lacks '$row': $(cat "$TMP/status")"
done
grep -q "^netd  *0\.[0-9]*\.[0-9]* (pid $NETD_PID)" "$TMP/status" || fail "status header: $(head -1 "$TMP/status")"
ok "status table"

# JSON status: every counter, numbers that move.
ctl --json status > "$TMP/status.json" || fail "netdctl --json status"
for k in version pid uptime_sec db_schema_version clients max_clients clients_accepted \
	clients_refused clients_dropped requests errors protocol_errors latency_p50_us \
	latency_p99_us latency_max_us callbacks longest_callback_us longest_callback \
	config_reloads config_reload_errors iterations longest_iteration_us wal_checkpoints; do
	grep -q "^  \"$k\": " "$TMP/status.json" || fail "--json status lacks $k"
done
r1=$(status_field requests)
for i in 1 2 3 4 5; do ctl status >/dev/null; done
r2=$(status_field requests)
[ "$r2" -ge $((r1 + 6)) ] || fail "requests did not count: $r1 then $r2"
e1=$(status_field errors)
ctl call io.netd.NoSuchMethod >/dev/null 2>&1
e2=$(status_field errors)
[ "$e2" = $((e1 + 1)) ] || fail "errors did not count: $e1 then $e2"
[ "$(status_field db_schema_version)" -ge 1 ] || fail "db_schema_version"
[ "$(status_field longest_callback_us)" -gt 0 ] || fail "longest_callback_us not measured"
# The loop's iterations are timed (budget.c) and counted (stats.c).
[ "$(status_field iterations)" -gt 0 ] || fail "iterations not counted"
[ "$(status_field longest_iteration_us)" -gt 0 ] || fail "longest_iteration_us not measured"
ok "status counters"

# Exit codes: 0 ok, 1 error reply, 2 usage, 3 cannot connect.
ctl info >/dev/null || fail "info"
ctl call io.netd.NoSuchMethod 2>"$TMP/err"; rc=$?
[ $rc = 1 ] || fail "error reply: want exit 1, got $rc"
grep -q '^netdctl: call: netd has no method "io.netd.NoSuchMethod" (org.varlink.service.MethodNotFound {"method":"io.netd.NoSuchMethod"})$' "$TMP/err" || fail "error reply on stderr: $(cat "$TMP/err")"
ctl --json call io.netd.NoSuchMethod 2>/dev/null | grep -q '"error": "org.varlink.service.MethodNotFound"' || fail "--json error reply on stdout"
ctl frobnicate >/dev/null 2>&1; [ $? = 2 ] || fail "unknown command: want exit 2"
ctl status extra >/dev/null 2>&1; [ $? = 2 ] || fail "extra argument: want exit 2"
ctl call io.netd.GetStatus '[1]' >/dev/null 2>&1; [ $? = 2 ] || fail "non-object parameters: want exit 2"
"$NETDCTL" >/dev/null 2>&1; [ $? = 2 ] || fail "no command: want exit 2"
"$NETDCTL" --socket "$TMP/nothing.sock" status 2>"$TMP/err"; rc=$?
[ $rc = 3 ] || fail "cannot connect: want exit 3, got $rc"
grep -q "cannot connect to '$TMP/nothing.sock'" "$TMP/err" || fail "connect error message"
NETD_SOCKET=$SOCK "$NETDCTL" status >/dev/null || fail "NETD_SOCKET not honoured"
NETD_SOCKET=$TMP/nothing.sock "$NETDCTL" --socket "$SOCK" status >/dev/null || fail "--socket must win over NETD_SOCKET"
ok "netdctl exit codes and NETD_SOCKET"

# Read-only methods are open to unprivileged users.
runuser -u nobody -- "$NETDCTL" --socket "$SOCK" status >/dev/null || fail "status as nobody"
ok "unprivileged status"

stop_netd
