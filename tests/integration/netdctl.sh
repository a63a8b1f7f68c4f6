#!/bin/bash
# netdctl's habits: global options anywhere on the line, --help for every
# command and subcommand, errors in words (and as JSON with --json), the
# exit codes of netdctl(1), a status that shows links, bindings, filter
# health and the last Resync, and the bash completion.
. "$(dirname "$0")/lib.sh"

make_parent v0
start_netd
N=$NETDCTL

# Options anywhere: before the command, after it, between its words.
"$N" status --json --socket "$SOCK" | grep -q '"version":' || fail "status --json --socket after the command"
"$N" --socket "$SOCK" link --json list | grep -q '"links": \[' || fail "link --json list"
ctl link create --parent v0 --kind macvtap --owner a --count 2 >/dev/null || fail "create"
"$N" link delete macvtap1 --owner a -s "$SOCK" >"$TMP/out" || fail "operand before the options"
[ "$(cat "$TMP/out")" = macvtap1 ] || fail "delete: $(cat "$TMP/out")"
"$N" link show macvtap0 -j -s "$SOCK" | grep -q '"owner": "a"' || fail "link show NAME -j -s"
ok "options anywhere on the line"

# --help for every command and subcommand: its own usage, exit 0, and no
# connection needed.
for c in status info interface call monitor resync link filter \
	"link create" "link delete" "link set" "link list" "link show" \
	"filter bind" "filter unbind" "filter list" "filter show" "filter defs" "filter def"; do
	# shellcheck disable=SC2086
	"$N" --socket /nonexistent $c --help >"$TMP/out" 2>"$TMP/err"; rc=$?
	[ $rc = 0 ] || fail "$c --help: exit $rc: $(cat "$TMP/err")"
	head -n1 "$TMP/out" | grep -q "^Usage: netdctl $c" || fail "$c --help: $(head -n2 "$TMP/out")"
	[ -s "$TMP/err" ] && fail "$c --help wrote to stderr: $(cat "$TMP/err")"
done
"$N" link create -h | grep -q -- '--down' || fail "link create -h does not show --down"
"$N" --help | grep -q '^  link set ' || fail "netdctl --help lacks link set"
ok "--help for every command, exit 0"

# Exit codes: 0, 1 (an error reply), 2 (usage), 3 (no netd).
expect() {
	local want=$1; shift
	"$N" "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
	[ $rc = "$want" ] || fail "netdctl $*: exit $rc, want $want: $(cat "$TMP/err")"
}
expect 0 -s "$SOCK" status
expect 1 -s "$SOCK" link show nosuch
expect 2 -s "$SOCK" nosuchcommand
expect 2 -s "$SOCK" link nosuch
expect 2 -s "$SOCK" link create --bogus
expect 2 -s "$SOCK" link create --kind macvtap        # required options missing
expect 2 -s "$SOCK" status extra
expect 2 -s "$SOCK" --timeout abc status
expect 2
expect 3 -s "$TMP/nosuch.sock" status
ok "exit codes 0, 1, 2, 3"

# Errors in words, with the error's name and parameters; JSON with --json.
ctl link create --parent v0 --kind macvtap --owner a --mac 01:00:5e:00:00:01 2>"$TMP/err"; rc=$?
[ $rc = 1 ] || fail "bad MAC: exit $rc"
grep -q '^netdctl: link create: invalid parameter "macs": one distinct unicast MAC (aa:bb:cc:dd:ee:ff) per link' "$TMP/err" ||
	fail "bad MAC in words: $(cat "$TMP/err")"
ctl --json link create --parent v0 --kind macvtap --owner a --mac 01:00:5e:00:00:01 >"$TMP/out" 2>/dev/null
grep -q '"error": "org.varlink.service.InvalidParameter"' "$TMP/out" && grep -q '"parameter": "macs"' "$TMP/out" ||
	fail "--json error: $(cat "$TMP/out")"
ctl link delete --owner b macvtap0 2>"$TMP/err"
grep -q '^netdctl: link delete: link "macvtap0" belongs to owner "a" (io.netd.NotOwner' "$TMP/err" ||
	fail "NotOwner in words: $(cat "$TMP/err")"
ctl link show nosuch 2>"$TMP/err"
grep -q '^netdctl: link show: no link or device named "nosuch"' "$TMP/err" || fail "NoSuchLink in words: $(cat "$TMP/err")"
runuser -u nobody -- "$N" -s "$SOCK" link set --owner a --down macvtap0 2>"$TMP/err"
grep -q "^netdctl: link set: permission denied: io.netd.SetLinks needs root or a member of netd's admin_group" "$TMP/err" ||
	fail "PermissionDenied in words: $(cat "$TMP/err")"
ctl link set --owner a macvtap0 --mtu 0 2>"$TMP/err"; rc=$?
[ $rc = 1 ] && grep -q '^netdctl: link set: invalid parameter "mtu": an MTU is 68 to 65535' "$TMP/err" ||
	fail "--mtu 0: exit $rc: $(cat "$TMP/err")"
ctl call io.netd.NoSuchMethod 2>"$TMP/err"
grep -q '^netdctl: call: netd has no method "io.netd.NoSuchMethod"' "$TMP/err" || fail "MethodNotFound: $(cat "$TMP/err")"
# Every error the served interfaces declare has its sentence (like every
# configuration key has its documentation): a new error needs its words.
for iface in io.netd org.varlink.service; do
	ctl interface $iface | sed -n 's/^error \([A-Za-z]*\).*/\1/p' | while read -r e; do
		grep -q "\"$iface\.$e\"" "$top_srcdir/netd/netdctl-words.c" || echo "$iface.$e"
	done
done > "$TMP/wordless"
[ -s "$TMP/wordless" ] && fail "declared errors without words in netdctl-words.c: $(cat "$TMP/wordless")"
ok "errors in words ($(head -n1 "$TMP/err"))"

# status: links, bindings, filter health, the last Resync.
ctl status >"$TMP/out" || fail "status"
grep -q '^links  *1 owned, 0 foreign names' "$TMP/out" || fail "status links: $(cat "$TMP/out")"
grep -q '^bindings  *0: 0 applied, 0 pending, 0 failed' "$TMP/out" || fail "status bindings: $(cat "$TMP/out")"
grep -q '^filters  *\(verified\|not yet verified\)' "$TMP/out" || fail "status filters: $(cat "$TMP/out")"
grep -q '^last resync  *none since start' "$TMP/out" || fail "status resync: $(cat "$TMP/out")"
ctl resync >/dev/null || fail "resync"
ctl status | grep -q '^last resync  *20[0-9-]*T[0-9:.]*Z: 0 intact, 0 re-applied' || fail "status after resync: $(ctl status)"
[ "$(status_field last_resync_reapplied)" = 0 ] || fail "last_resync_reapplied"
ok "status shows links, bindings, filter health and the last resync"

# Bash completion: it loads, registers for netdctl, completes commands,
# subcommands, options after others, option values and link names.
COMP=$top_srcdir/completion/netdctl
bash -c ". '$COMP' && complete -p netdctl" | grep -q -- '-F _netdctl netdctl' || fail "completion not registered"
complete_words() {
	# complete_words WORD...: what the completion offers for the last word.
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _netdctl; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$COMP" "$@"
}
[ "$(complete_words netdctl li)" = link ] || fail "netdctl li: $(complete_words netdctl li)"
complete_words netdctl --json link "" | grep -qx set || fail "link <tab>: $(complete_words netdctl --json link '')"
complete_words netdctl link create --owner x --ki | grep -qx -- --kind || fail "link create ... --ki"
[ "$(complete_words netdctl link create --kind macvt)" = macvtap ] || fail "--kind value"
complete_words "$N" -s "$SOCK" link show "" | grep -qx macvtap0 || fail "link names: $(complete_words "$N" -s "$SOCK" link show '')"
ok "bash completion loads and completes"
stop_netd
