#!/bin/bash
# libvirt's XML filters in filter_dir next to JSON ones, bound through the
# API with $GATEWAY_MAC; a refused file is logged with its line;
# DefineFilter (netdctl filter import) defines and redefines filters,
# re-renders the bindings that use them and says how many changed;
# refused definitions change nothing; only admins may define. A changed
# file and SIGHUP reach every binding that uses the filter, also through
# references (logged and audited); a file that fails to load keeps the
# previous definition.
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || skip "needs setpriv"
mkdir -p "$TMP/filters"
cat > "$TMP/filters/guest-web.xml" <<'XML'
<filter name='guest-web' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='400' statematch='false'>
    <tcp dstportstart='80'/>
  </rule>
</filter>
XML
cat > "$TMP/filters/gw.xml" <<'XML'
<filter name='gw'>
  <filterref filter='no-mac-spoofing'/>
  <rule action='accept' direction='inout' priority='-500'>
    <mac protocolid='arp'/>
  </rule>
  <rule action='accept' direction='out'>
    <mac match='yes' dstmacaddr='$GATEWAY_MAC'/>
  </rule>
  <filterref filter='no-other-l2-traffic'/>
</filter>
XML
printf '<filter name="bad">\n  <rule action="drop" direction="out">\n    <stp/>\n  </rule>\n</filter>\n' \
	> "$TMP/filters/bad.xml"
printf '[netd]\nfilter_dir = %s\n' "$TMP/filters" > "$CONF"
for i in 1 2 3; do ip -n "$NS" link add "tap$i" type veth peer name "tap$i-p"; done
start_netd

ctl filter defs > "$TMP/defs" || fail "filter defs"
grep -q "^guest-web .*guest-web.xml$" "$TMP/defs" || fail "guest-web not listed: $(cat "$TMP/defs")"
grep -q "^bad " "$TMP/defs" && fail "bad.xml loaded"
grep -q "bad.xml: line 3: <stp>: protocol not supported by netd" "$NETD_LOG" ||
	fail "bad.xml's refusal not logged with its line: $(grep bad.xml "$NETD_LOG")"
[ "$(status_field filter_errors)" = 1 ] || fail "filter_errors $(status_field filter_errors)"
ctl filter def guest-web | grep -q '"libvirt_xml"' || fail "filter def guest-web: $(ctl filter def guest-web)"
ok "XML filters listed with their files; a refused one logged with its line"

ctl filter bind --port tap1 --filter guest-web --owner g --param IP=10.0.0.1 >/dev/null || fail "bind guest-web"
in_ns iptables-save | grep -q -- '-A N-I-tap1 -p tcp -m tcp --dport 80 -j ACCEPT' ||
	fail "tcp rule missing: $(in_ns iptables-save)"
in_ns ebtables-save | grep -q -- '-A N-O-tap1 -p IPv4 --ip-src 10.0.0.1 -j RETURN' ||
	fail "clean-traffic part missing: $(in_ns ebtables-save)"
ctl filter bind --port tap2 --filter gw --owner g --param GATEWAY_MAC=52:54:00:00:00:fe >/dev/null ||
	fail "bind gw"
in_ns ebtables-save | grep -q -- '-A N-O-tap2 -d 52:54:00:00:00:fe -j ACCEPT' ||
	fail "GATEWAY_MAC rule missing: $(in_ns ebtables-save)"
ctl call io.netd.BindFilter '{"port":"tap3","filter":"gw","owner":"g","parameters":{"GATEWAY_MAC":"ff:ff:ff:ff:ff:ff"}}' \
	2>"$TMP/err" && fail "a broadcast GATEWAY_MAC accepted"
grep -q GATEWAY_MAC "$TMP/err" || fail "GATEWAY_MAC refusal: $(cat "$TMP/err")"
ok "XML filters bound; \$GATEWAY_MAC rendered, a bad one refused"

# Redefining guest-web reaches tap1 in one run per family that changed.
runs=$(status_field restore_runs)
sed 's/80/8080/' "$TMP/filters/guest-web.xml" > "$TMP/guest-web.xml"
ctl filter import "$TMP/guest-web.xml" > "$TMP/out" || fail "import: $(cat "$TMP/out")"
grep -q "^filter 'guest-web' defined in $TMP/filters/guest-web.xml: 1 bindings changed$" "$TMP/out" ||
	fail "import reply: $(cat "$TMP/out")"
for i in $(seq 100); do in_ns iptables-save | grep -q -- '--dport 8080' && break; sleep 0.05; done
in_ns iptables-save | grep -q -- '-A N-I-tap1 -p tcp -m tcp --dport 8080 -j ACCEPT' ||
	fail "redefinition not applied: $(in_ns iptables-save)"
in_ns iptables-save | grep -q -- '--dport 80 ' && fail "old rule left"
# tap1 has rules in two families (ebtables, iptables): one run each at most.
[ $(($(status_field restore_runs) - runs)) -le 2 ] || fail "$(($(status_field restore_runs) - runs)) restore runs"
cmp -s "$TMP/guest-web.xml" "$TMP/filters/guest-web.xml" || fail "file not written"
ok "redefined through DefineFilter: 1 binding changed, applied in one run per family"

# The same again: nothing changes.
ctl filter import "$TMP/guest-web.xml" | grep -q ": 0 bindings changed$" || fail "unchanged import"
# A new filter in JSON.
printf '{"name": "web2", "filters": ["guest-web"]}\n' > "$TMP/web2.json"
ctl filter import "$TMP/web2.json" | grep -q "^filter 'web2' defined in $TMP/filters/web2.json: 0 bindings" ||
	fail "JSON import"
# The same filter in the other format: its JSON file is replaced.
printf "<filter name='web2'>\n  <filterref filter='guest-web'/>\n</filter>\n" > "$TMP/web2.xml"
ctl filter import "$TMP/web2.xml" | grep -q "^filter 'web2' defined in $TMP/filters/web2.xml: 0 bindings" ||
	fail "web2 as XML"
[ -e "$TMP/filters/web2.json" ] && fail "web2.json left next to web2.xml"
ctl filter def web2 | grep -q libvirt_xml || fail "web2 not the XML one"
ok "an unchanged redefinition changes nothing; JSON definitions too, and a switch of format"

# Refused definitions change nothing.
cp "$TMP/filters/guest-web.xml" "$TMP/keep.xml"
refused() {
	local file=$1 want=$2
	ctl filter import "$file" 2>"$TMP/err"; rc=$?
	[ $rc = 1 ] || fail "$file: want exit 1, got $rc"
	grep -q "io.netd.InvalidFilter.*$want" "$TMP/err" || fail "$file: $(cat "$TMP/err"), want $want"
}
printf "<filter name='guest-web'>\n  <rule action='accept' direction='in'>\n    <tcp state='NEW,BOGUS'/>\n  </rule>\n</filter>\n" > "$TMP/d1.xml"
refused "$TMP/d1.xml" "line 3: <tcp> state='NEW,BOGUS' is not a list of INVALID, NEW, RELATED"
printf "<filter name='guest-web'>\n  <filterref filter='nowhere'/>\n</filter>\n" > "$TMP/d2.xml"
refused "$TMP/d2.xml" "guest-web.xml: filters: unknown filter 'nowhere'"
printf "<filter name='guest-web'>\n  <rule action='accept'\n" > "$TMP/d3.xml"
refused "$TMP/d3.xml" "line 3: not well-formed XML"
printf "<filter name='clean-traffic'/>\n" > "$TMP/d4.xml"
refused "$TMP/d4.xml" "'clean-traffic' is the name of a built-in filter"
printf "{\"name\": \"x\", \"rules\": [{\"direction\": \"in\"}]}" > "$TMP/d5.json"
refused "$TMP/d5.json" "rules\[0\].protocol: missing"
cmp -s "$TMP/keep.xml" "$TMP/filters/guest-web.xml" || fail "a refused definition changed the file"
[ -n "$(find "$TMP/filters" -name '.*' -type f)" ] && fail "temporary files left: $(ls -A "$TMP/filters")"
in_ns iptables-save | grep -q -- '-A N-I-tap1 -p tcp -m tcp --dport 8080 -j ACCEPT' || fail "rules changed"
ok "5 refused definitions, each with its reason; files and rules unchanged"

# Only admins define; both outcomes audited.
setpriv --reuid=65534 --regid=65534 --clear-groups "$NETDCTL" --socket "$SOCK" filter import "$TMP/web2.xml" \
	2>"$TMP/err" && fail "unprivileged import accepted"
grep -q PermissionDenied "$TMP/err" || fail "unprivileged: $(cat "$TMP/err")"
[ "$(db "SELECT count(*) FROM audit WHERE method = 'io.netd.DefineFilter' AND result = 'ok'")" = 4 ] ||
	fail "audit: $(db "SELECT method, result FROM audit WHERE method = 'io.netd.DefineFilter'")"
ok "only admins define filters; audited"

# A changed file and SIGHUP reach every binding that uses the filter,
# directly (tap1) or through a reference (tap3, web2 -> guest-web).
ctl filter bind --port tap3 --filter web2 --owner g --param IP=10.0.0.3 >/dev/null || fail "bind web2"
runs=$(status_field restore_runs)
sed -i 's/8080/9090/' "$TMP/filters/guest-web.xml"
kill -HUP "$NETD_PID"
for i in $(seq 100); do grep -q "filters reloaded" "$NETD_LOG" && break; sleep 0.05; done
grep -q "filters reloaded: 2 bindings changed, 0 filters kept" "$NETD_LOG" ||
	fail "reload log: $(grep 'filters reloaded' "$NETD_LOG")"
for i in $(seq 100); do [ "$(in_ns iptables-save | grep -c -- '--dport 9090 -j ACCEPT')" = 2 ] && break; sleep 0.05; done
[ "$(in_ns iptables-save | grep -c -- '--dport 9090 -j ACCEPT')" = 2 ] || fail "not both re-applied: $(in_ns iptables-save)"
# Both in one batch: one run per family (ebtables, iptables) at most.
[ $(($(status_field restore_runs) - runs)) -le 2 ] || fail "$(($(status_field restore_runs) - runs)) restore runs for 2 bindings"
# One audit row per SIGHUP, the filters' figures in its outcome.
for i in $(seq 100); do [ "$(db "SELECT count(*) FROM audit WHERE method = 'netd.Reload'")" = 1 ] && break; sleep 0.05; done
[ "$(db "SELECT result, json_extract(outcome, '$.bindings_changed'), json_extract(outcome, '$.filter_errors'),
	json_extract(outcome, '$.kept') FROM audit WHERE method LIKE '%Reload%'")" = 'partial|2|1|0' ] ||
	fail "reload audit: $(db "SELECT * FROM audit WHERE method LIKE '%Reload%'")"
ok "a changed file and SIGHUP: 2 bindings changed (one through a reference), logged and audited"

# A file that no longer loads keeps the previous definition in force (and
# so does web2, which refers to it).
printf "<filter name='guest-web'>\n  <rule\n" > "$TMP/filters/guest-web.xml"
kill -HUP "$NETD_PID"
for i in $(seq 100); do [ "$(grep -c "filters reloaded" "$NETD_LOG")" = 2 ] && break; sleep 0.05; done
grep -q "guest-web.xml: line 3: not well-formed XML" "$NETD_LOG" || fail "refusal not logged"
grep -q "filter 'guest-web': its file did not load, keeping its previous definition" "$NETD_LOG" ||
	fail "guest-web not kept: $(tail -5 "$NETD_LOG")"
grep -q "filters reloaded: 0 bindings changed, 2 filters kept" "$NETD_LOG" || fail "reload log: $(tail -3 "$NETD_LOG")"
ctl filter def guest-web | grep -q 9090 || fail "previous definition not in force"
ctl filter bind --port tap2 --filter web2 --owner g >/dev/null || fail "a kept filter cannot be bound"
[ "$(in_ns iptables-save | grep -c -- '--dport 9090 -j ACCEPT')" = 3 ] || fail "rules: $(in_ns iptables-save)"
ok "a file that fails to load keeps its previous definition (and its referrers theirs)"
stop_netd
