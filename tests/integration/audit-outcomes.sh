#!/bin/bash
# The audit trail says what happened and who asked (db/007, netd-db(5)):
# the names a CreateLinks created and a DeleteLinks removed, the caller's
# process name and systemd unit, a refusal's caller, a binding applied
# and one unbound, a binding dropped because its port vanished, what a
# Resync re-applied after drift, an asynchronous apply failure, reloads
# with a broken filter file and with a broken configuration, and a repair
# at start. Checked with sqlite3, as an auditor would.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip "needs sqlite3"
command -v setpriv >/dev/null || skip "needs setpriv"

# q SQL: one value; want SQL VALUE WHAT: the value must be VALUE.
q() { db "$1"; }
want() { local v; v=$(q "$1"); [ "$v" = "$2" ] || fail "$3: got '$v', want '$2'"; }
# wait_row WHERE: until a row matches (10 s at most).
wait_row() {
	for _ in $(seq 100); do
		[ "$(q "SELECT count(*) FROM audit WHERE $1")" -ge 1 ] && return 0
		sleep 0.1
	done
	fail "no audit row where $1: $(q "SELECT id, method, parameters, result, outcome FROM audit ORDER BY id DESC LIMIT 5")"
}

# A restore that refuses the port p4's chains once $TMP/refuse exists.
mkdir -p "$TMP/filters"
wrap_restore ebtables-restore <<WRAP
if [ -e "$TMP/refuse" ]; then
	case \$input in *-p4*) echo "ebtables-restore: refused by the test's wrapper" >&2; exit 1 ;; esac
fi
WRAP
printf '[netd]\nfilter_dir = %s\n' "$TMP/filters" > "$CONF"
cp "$CONF" "$TMP/conf.good"
make_parent v0
for p in p1 p2 p3 p4; do ip -n "$NS" link add "$p" type veth peer name "$p-x" || fail "veth $p"; done
PATH=$TMP/bin:$PATH start_netd

# --- links: names created and deleted, and who ---
ctl link create --parent v0 --kind macvtap --owner g1 --count 3 > /dev/null || fail "create"
want "SELECT json_extract(outcome, '\$.created'), peer_comm, peer_uid, peer_pid > 0 FROM audit
      WHERE method = 'io.netd.CreateLinks' AND result = 'ok'" \
	'["macvtap0","macvtap1","macvtap2"]|netdctl|0|1' "CreateLinks row"
ctl link delete --owner g1 macvtap1 > /dev/null || fail "delete by name"
ctl link delete --owner g1 > /dev/null || fail "delete by owner"
want "SELECT group_concat(json_extract(outcome, '\$.deleted'), ' ') FROM audit
      WHERE method = 'io.netd.DeleteLinks' AND result = 'ok'" \
	'["macvtap1"] ["macvtap0","macvtap2"]' "DeleteLinks rows"
# An auditor's question: who deleted macvtap1?
want "SELECT peer_uid || ' ' || peer_comm FROM audit, json_each(audit.outcome, '\$.deleted')
      WHERE method = 'io.netd.DeleteLinks' AND json_each.value = 'macvtap1'" '0 netdctl' "who deleted macvtap1"
setpriv --reuid=65534 --regid=65534 --clear-groups "$NETDCTL" --socket "$SOCK" \
	link create --parent v0 --kind macvtap --owner x > /dev/null 2>&1 && fail "an unprivileged create was allowed"
want "SELECT peer_uid, peer_comm, result, outcome IS NULL FROM audit WHERE peer_uid = 65534" \
	'65534|netdctl|io.netd.PermissionDenied|1' "refusal row"
ok "CreateLinks and DeleteLinks rows name the links made and removed, the caller's uid, pid and process name"

# The caller's systemd unit: netdctl run in a cgroup named like a service
# (where this machine lets the test make one; removed at exit).
unit=netd-audit-$$.service
cg=
for m in /sys/fs/cgroup/unified /sys/fs/cgroup /sys/fs/cgroup/systemd; do
	[ -w "$m/cgroup.procs" ] && mkdir "$m/$unit" 2>/dev/null && { cg=$m/$unit; break; }
done
if [ -n "$cg" ]; then
	on_cleanup "rmdir '$cg' 2>/dev/null"
	sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" --socket "$3" link create --parent v0 --kind macvtap --owner unit' \
		sh "$cg" "$NETDCTL" "$SOCK" > /dev/null || fail "create from $unit"
	want "SELECT peer_unit, peer_comm, json_extract(outcome, '\$.created[0]') FROM audit
	      WHERE method = 'io.netd.CreateLinks' AND json_extract(parameters, '\$.owner') = 'unit'" \
		"$unit|netdctl|macvtap0" "the caller's unit"
	ctl link delete --owner unit > /dev/null || fail "delete unit's link"
	ok "the caller's systemd unit (a cgroup named $unit)"
else
	echo "no writable cgroup hierarchy here: the unit of a caller is not checked"
fi

# --- bindings: applied, unbound by owner, dropped with their port ---
for p in p1 p2 p3 p4; do
	ctl filter bind --port $p --filter clean-traffic --owner g2 > /dev/null || fail "bind $p"
done
want "SELECT json_extract(outcome, '\$.binding.state') FROM audit
      WHERE method = 'io.netd.BindFilter' AND json_extract(parameters, '\$.port') = 'p1'" applied "BindFilter row"
ctl filter unbind --port p1 --owner g2 > /dev/null || fail "unbind p1"
want "SELECT json_extract(outcome, '\$.port'), peer_comm FROM audit WHERE method = 'io.netd.UnbindFilter'" \
	'p1|netdctl' "UnbindFilter row"
ip -n "$NS" link del p2 || fail "delete p2"
wait_row "method = 'netd.BindingRemoved'"
want "SELECT json_extract(parameters, '\$.port'), json_extract(parameters, '\$.owner'),
      json_extract(outcome, '\$.reason'), peer_comm FROM audit WHERE method = 'netd.BindingRemoved'" \
	'p2|g2|port gone|netd' "binding dropped with its port"
ok "bindings: applied, unbound by their owner, dropped because the port vanished"

# --- Resync after drift: what it repaired ---
chain=$(in_ns ebtables-save | sed -n 's/^:\([^ ]*-p3\) .*/\1/p' | head -n 1)
[ -n "$chain" ] || fail "no ebtables chain of p3: $(in_ns ebtables-save | grep '^:')"
in_ns ebtables -F "$chain" || fail "flush $chain"
ctl resync > /dev/null || fail "resync"
want "SELECT json_extract(outcome, '\$.reapplied') >= 1, peer_comm FROM audit WHERE method = 'io.netd.Resync'" \
	'1|netdctl' "Resync row"
want "SELECT json_extract(parameters, '\$.trigger'), json_extract(outcome, '\$.reapply'),
      json_extract(outcome, '\$.ports') FROM audit WHERE method = 'netd.FiltersVerified'" \
	'resync|1|["p3"]' "the verification's row"
ok "Resync after drift: its counts and the port it re-applied"

# --- an apply that fails with nobody waiting ---
touch "$TMP/refuse"
chain=$(in_ns ebtables-save | sed -n 's/^:\([^ ]*-p4\) .*/\1/p' | head -n 1)
in_ns ebtables -F "$chain" || fail "flush $chain"
ctl resync > /dev/null || fail "second resync"
wait_row "method = 'netd.ApplyFailed'"
want "SELECT json_extract(parameters, '\$.port'), result, json_extract(outcome, '\$.message') LIKE '%refused by the test%'
      FROM audit WHERE method = 'netd.ApplyFailed'" 'p4|io.netd.ApplyFailed|1' "asynchronous failure"
rm -f "$TMP/refuse"
ok "an asynchronous apply failure is recorded"

# --- reloads: a broken filter file, a broken configuration ---
echo '{"name": "broken", ' > "$TMP/filters/broken.json"
kill -HUP "$NETD_PID"
wait_row "method = 'netd.Reload'"
want "SELECT result, json_extract(outcome, '\$.filter_errors'), json_extract(outcome, '\$.errors[0]') LIKE '%broken.json%'
      FROM audit WHERE method = 'netd.Reload'" 'partial|1|1' "reload with a broken filter file"
printf 'this is not ini\n' >> "$CONF"
kill -HUP "$NETD_PID"
wait_row "method = 'netd.Reload' AND result = 'failed'"
want "SELECT json_extract(outcome, '\$.error') <> '' FROM audit WHERE method = 'netd.Reload' AND result = 'failed'" \
	1 "reload of a broken configuration"
cp "$TMP/conf.good" "$CONF"
ok "reloads: a broken filter file (partial) and a broken configuration (failed)"

# --- a repair at start, with its counts ---
ctl link create --parent v0 --kind macvtap --owner g3 --count 2 > /dev/null || fail "create g3"
stop_netd
ip -n "$NS" link del macvtap0 || fail "delete macvtap0 behind netd's back"
PATH=$TMP/bin:$PATH start_netd
wait_row "method = 'netd.LinksReconciled'"
want "SELECT json_extract(parameters, '\$.trigger'), json_extract(outcome, '\$.vanished'),
      json_extract(outcome, '\$.links') FROM audit WHERE method = 'netd.LinksReconciled'" 'start|1|1' "repair at start"
want "SELECT json_extract(parameters, '\$.name'), json_extract(outcome, '\$.owner'), json_extract(outcome, '\$.how')
      FROM audit WHERE method = 'kernel.LinkRemoved'" 'macvtap0|g3|gone at resync' "the link that went, whose it was"
ok "a link gone while netd was down: the start's repair counted"

# Every row says who: a process name for every call, none for rows
# written without one (netd's own say "netd").
want "SELECT count(*) FROM audit WHERE method LIKE 'io.netd.%' AND peer_comm IS NULL" 0 "calls without a process name"
stop_netd
