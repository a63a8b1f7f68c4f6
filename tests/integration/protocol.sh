#!/bin/bash
# The protocol exactly as declared: the tests' schema check (vlclient,
# vlschema.c) catches what it must; every GetStatus field is declared; a
# method of an unknown interface answers InterfaceNotFound; a Monitor
# ends with the declared ShuttingDown when netd stops.
. "$(dirname "$0")/lib.sh"

start_netd

# --- the checker itself, on crafted replies (not counted as the test's
# violations: VLCLIENT_VIOLATIONS is unset for these) ---
# crafted WANT METHOD JSON: vlclient check-reply exits 3 naming WANT.
crafted() {
	local want=$1 method=$2 json=$3 out rc
	out=$(printf '%s' "$json" | VLCLIENT_VIOLATIONS='' "$VLCLIENT" check-reply "$method" 2>&1)
	rc=$?
	[ "$rc" = 3 ] || fail "checker let through ($method): $json (status $rc: $out)"
	case $out in *"$want"*) ;; *) fail "checker on $json said '$out', want '$want'" ;; esac
}
ctl --json status > "$TMP/status.json" || fail "status"
"$VLCLIENT" check-reply io.netd.GetStatus < "$TMP/status.json" || fail "a real GetStatus reply refused"
sed 's/^{/{"bogus_counter": 1,/' "$TMP/status.json" > "$TMP/bogus.json"
crafted "field 'bogus_counter' is not declared" io.netd.GetStatus "$(cat "$TMP/bogus.json")"
crafted "field 'pid' is missing" io.netd.GetStatus "$(grep -v '"pid"' "$TMP/status.json")"
crafted "uptime_sec: not a float" io.netd.GetStatus "$(sed 's/"uptime_sec": [0-9.e-]*/"uptime_sec": "1"/' "$TMP/status.json")"
crafted "links[0].tap: not a string" io.netd.ListLinks \
	'{"links":[{"name":"m0","ifindex":1,"kind":"macvtap","mode":"bridge","parent":"v0","mac":"","owner":"o","state":"present","created":"x","tap":3}]}'
crafted "field 'extra' is not declared" io.netd.ListLinks \
	'{"links":[{"name":"m0","ifindex":1,"kind":"macvtap","mode":"bridge","parent":"v0","mac":"","owner":"o","state":"present","created":"x","extra":1}]}'
crafted "filters[0]: field 'builtin' is missing" io.netd.ListFilters '{"filters":[{"name":"x"}]}'
crafted "error 'io.netd.NoSuchThing' is not declared" io.netd.GetStatus '{"error":"io.netd.NoSuchThing","parameters":{}}'
crafted "field 'port' is not declared" io.netd.DeleteLinks '{"error":"io.netd.NoSuchLink","parameters":{"port":"x"}}'
crafted "field 'name' is missing" io.netd.DeleteLinks '{"error":"io.netd.NoSuchLink","parameters":{}}'
crafted "not declared" io.netd.NoSuchMethod '{}'
# The IDL forms netd does not use yet: enums, maps, anonymous structs.
cat > "$TMP/other.varlink" <<'EOF'
# A test interface
interface com.example.t
type T (kind: (a, b), m: [string]int, s: ?(x: []string))
method M() -> (t: T, o: ?object)
error E (why: (one, two))
EOF
for good in '{"t":{"kind":"a","m":{"k":1}}}' '{"t":{"kind":"b","m":{},"s":{"x":["y"]}},"o":{"z":[]}}' \
	'{"t":{"kind":"b","m":{},"s":null}}' '{"error":"com.example.t.E","parameters":{"why":"two"}}'; do
	printf '%s' "$good" | VLCLIENT_SCHEMA=$TMP/other.varlink "$VLCLIENT" check-reply com.example.t.M ||
		fail "checker refused $good"
done
for bad in '{"t":{"kind":"c","m":{}}}' '{"t":{"kind":"a","m":{"k":"1"}}}' '{"t":{"kind":"a","m":{},"s":{"x":[1]}}}' \
	'{"t":{"kind":"a","m":{}},"o":[]}' '{"error":"com.example.t.E","parameters":{"why":"three"}}'; do
	printf '%s' "$bad" | VLCLIENT_VIOLATIONS='' VLCLIENT_SCHEMA=$TMP/other.varlink \
		"$VLCLIENT" check-reply com.example.t.M 2>/dev/null
	[ $? = 3 ] || fail "checker let through $bad"
done
ok "the schema check catches undeclared, missing and mistyped fields and errors"

# --- what netd answers ---
"$VLCLIENT" status "$SOCK" 5000 >/dev/null || fail "GetStatus does not conform to io.netd"
ok "every GetStatus field is declared"

out=$(printf '{"method":"com.example.Other.Method"}\0{"method":"io.netd.Nope"}\0{"method":"org.varlink.service.Nope"}\0' |
	"$VLCLIENT" raw "$SOCK" 700) || fail "raw: $out"
printf '%s\n' "$out" | sed -n 1p | grep -qF '{"error":"org.varlink.service.InterfaceNotFound","parameters":{"interface":"com.example.Other"}}' ||
	fail "unknown interface: $out"
printf '%s\n' "$out" | sed -n 2p | grep -qF '{"error":"org.varlink.service.MethodNotFound","parameters":{"method":"io.netd.Nope"}}' ||
	fail "unknown method of io.netd: $out"
printf '%s\n' "$out" | sed -n 3p | grep -qF '"parameters":{"method":"org.varlink.service.Nope"}' ||
	fail "unknown method of org.varlink.service: $out"
ok "a method of an unknown interface: InterfaceNotFound (interface named)"

# A Monitor through vlclient (every reply checked) and one through
# netdctl, both open when netd gets SIGTERM.
make_parent v0
"$VLCLIENT" monitor "$SOCK" 20 > "$TMP/mon" 2> "$TMP/mon.err" &
mon=$!
ctl monitor > "$TMP/ctlmon" 2> "$TMP/ctlmon.err" &
ctlmon=$!
for _ in $(seq 50); do [ -s "$TMP/mon" ] && grep -q . "$TMP/ctlmon" && break; sleep 0.1; done
ctl link create --parent v0 --kind macvtap --owner o1 > /dev/null || fail "create"
for _ in $(seq 50); do grep -q '"added"' "$TMP/mon" && break; sleep 0.1; done
stop_netd TERM
wait "$mon"; rc=$?
[ "$rc" = 0 ] || fail "vlclient monitor status $rc: $(cat "$TMP/mon" "$TMP/mon.err")"
tail -n 2 "$TMP/mon" | head -n 1 | grep -qF '{"error":"io.netd.ShuttingDown","parameters":{}}' ||
	fail "Monitor did not end with ShuttingDown: $(cat "$TMP/mon")"
[ "$(tail -n 1 "$TMP/mon")" = END ] || fail "Monitor: $(cat "$TMP/mon")"
grep -q '"event":"added"' "$TMP/mon" || fail "no added event: $(cat "$TMP/mon")"
wait "$ctlmon"; rc=$?
[ "$rc" = 0 ] || fail "netdctl monitor status $rc: $(cat "$TMP/ctlmon.err")"
grep -q "netd is stopping" "$TMP/ctlmon.err" || fail "netdctl monitor: $(cat "$TMP/ctlmon.err")"
ok "Monitor ends with io.netd.ShuttingDown on SIGTERM"
