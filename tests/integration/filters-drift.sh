#!/bin/bash
# netd's hook rules (the jumps from the built-in chains into NETD-FROM and
# NETD-TO) are part of what it checks and repairs, with the real tools:
# one deleted -> Resync puts it back and leaves exactly one of each; a
# foreign ACCEPT put ahead of them -> reported as drift (GetStatus, audit)
# and repaired, the foreign rule kept after netd's hooks; the same found
# at a restart. And a restore tool that exits 0 without doing anything
# does not get a binding reported applied.
. "$(dirname "$0")/lib.sh"

for p in p0 p1 p2; do ip -n "$NS" link add "$p" type veth peer name "$p-p"; done
start_netd
for p in p0 p1; do
	ctl filter bind --port $p --filter clean-traffic --owner g --param IP=10.0.0.1${p#p} >/dev/null ||
		fail "bind $p"
done

# hooks_ok SAVE-COMMAND: every hook exactly once and first in its chain.
hooks_ok() {
	local s
	s=$(in_ns "$@" | grep '^-A \(INPUT\|FORWARD\|OUTPUT\) ')
	[ "$(grep -c -- '^-A INPUT -j NETD-FROM$' <<<"$s")" = 1 ] || return 1
	[ "$(grep -c -- '^-A FORWARD -j NETD-FROM$' <<<"$s")" = 1 ] || return 1
	[ "$(grep -c -- '^-A FORWARD -j NETD-TO$' <<<"$s")" = 1 ] || return 1
	[ "$(grep -c -- '^-A OUTPUT -j NETD-TO$' <<<"$s")" = 1 ] || return 1
	[ "$(grep '^-A INPUT ' <<<"$s" | head -1)" = "-A INPUT -j NETD-FROM" ] || return 1
	[ "$(grep '^-A FORWARD ' <<<"$s" | head -2 | tr '\n' ' ')" = "-A FORWARD -j NETD-FROM -A FORWARD -j NETD-TO " ] || return 1
	[ "$(grep '^-A OUTPUT ' <<<"$s" | head -1)" = "-A OUTPUT -j NETD-TO" ] || return 1
}
show_hooks() { in_ns "$@" | grep '^-A \(INPUT\|FORWARD\|OUTPUT\) ' | tr '\n' ';'; }

hooks_ok ebtables-save || fail "hooks after the binds: $(show_hooks ebtables-save)"
[ "$(status_field filter_hook_drift)" = 0 ] || fail "drift before any: $(status_field filter_hook_drift)"
ok "hooks once each, first in their chains"

# One hook deleted: Resync repairs it without duplicating the others, and
# without re-applying the bindings.
in_ns ebtables -D FORWARD -j NETD-TO || fail "ebtables -D"
ctl resync > "$TMP/resync" || fail "resync: $(cat "$TMP/resync")"
hooks_ok ebtables-save || fail "after deleting one hook and Resync: $(show_hooks ebtables-save)"
grep -q "^2 intact, 0 re-applied$" "$TMP/resync" || fail "resync said: $(cat "$TMP/resync")"
[ "$(status_field filter_hook_drift)" = 1 ] || fail "drift not counted: $(status_field filter_hook_drift)"
[ "$(db "SELECT count(*) FROM audit WHERE method = 'kernel.FilterHookDrift'")" = 1 ] ||
	fail "drift not audited: $(db 'SELECT method, parameters FROM audit')"
ctl resync >/dev/null || fail "second resync"
hooks_ok ebtables-save || fail "after a second Resync: $(show_hooks ebtables-save)"
[ "$(status_field filter_hook_drift)" = 1 ] || fail "intact hooks counted as drift"
ok "one hook deleted: Resync put it back, exactly one of each, bindings untouched"

# A foreign ACCEPT ahead of netd's hooks bypasses every filter: drift.
in_ns ebtables -I FORWARD 1 -j ACCEPT || fail "ebtables -I"
ctl resync > "$TMP/resync" || fail "resync: $(cat "$TMP/resync")"
hooks_ok ebtables-save || fail "eb after a foreign ACCEPT and Resync: $(show_hooks ebtables-save)"
in_ns ebtables-save | grep -q -- '^-A FORWARD -j ACCEPT$' || fail "the foreign eb rule was removed"
[ "$(status_field filter_hook_drift)" = 2 ] || fail "foreign rule ahead not counted: $(status_field filter_hook_drift)"
status_field filter_hook_drift_last | grep -q 'not first' || fail "drift described as: $(status_field filter_hook_drift_last)"
[ "$(db "SELECT count(*) FROM audit WHERE method = 'kernel.FilterHookDrift' AND parameters LIKE '%not first%'")" = 1 ] ||
	fail "foreign rule not audited: $(db 'SELECT method, parameters FROM audit')"
ok "a foreign ACCEPT ahead of the hooks: drift reported and audited; hooks back on top, the foreign rule after them"

# The same while netd is down: found and repaired at the restart.
stop_netd
in_ns ebtables -D FORWARD -j NETD-FROM || fail "ebtables -D"
in_ns ebtables -I FORWARD 1 -j ACCEPT || fail "ebtables -I"
start_netd
for i in $(seq 100); do [ "$(status_field filters_verified)" = true ] && netd_idle && hooks_ok ebtables-save && break; sleep 0.1; done
hooks_ok ebtables-save || fail "after a restart: $(show_hooks ebtables-save)"
[ "$(status_field filter_hook_drift)" = 1 ] || fail "restart did not report the drift"
ok "hook drift made while netd was down: found and repaired at the restart"
stop_netd

# A restore tool that exits 0 and does nothing: not applied.
mkdir -p "$TMP/bin"
for t in ebtables-restore iptables-restore ip6tables-restore; do
	printf '#!/bin/sh\ncat >/dev/null\nexit 0\n' > "$TMP/bin/$t"
	chmod +x "$TMP/bin/$t"
done
PATH=$TMP/bin:$PATH start_netd
ctl filter bind --port p2 --filter clean-traffic --owner g --param IP=10.0.0.21 > "$TMP/out" 2> "$TMP/err"; rc=$?
[ $rc = 1 ] || fail "a restore that did nothing: bind exit $rc: $(cat "$TMP/out" "$TMP/err")"
grep -q 'io.netd.ApplyFailed.*does not hold' "$TMP/err" || fail "error: $(cat "$TMP/err")"
[ "$(db "SELECT state FROM bindings WHERE port = 'p2'")" = failed ] || fail "p2's row: $(db "SELECT state FROM bindings WHERE port = 'p2'")"
ctl --json filter show p2 | grep -q '"applied": false' || fail "show p2: $(ctl --json filter show p2)"
in_ns ebtables-save | grep -q 'N-O-p2' && fail "p2's chains exist?"
ok "a restore tool that exits 0 without doing anything: the binding is failed, not applied"
stop_netd

# The same with tools that look like the nf_tables variants, so that netd
# confirms by the generation and the chain names instead of waiting for a
# save: a tool that does nothing (the generation stays) and one that
# commits one unrelated change (the generation moves by one, as a real
# restore's would, but the dump lacks the chains) are not reported
# applied either.
command -v xtables-nft-multi >/dev/null || skip "the nf_tables variants of the tools are missing"
EB=$(command -v ebtables)
rm -f "$TMP/bin/"*
for how in nothing other; do
	if [ $how = nothing ]; then
		printf '#!/bin/sh\ncat >/dev/null\nexit 0\n' > "$TMP/bin/xtables-nft-lie"
	else
		# One commit: the generation moves by one, as for a real restore.
		printf '#!/bin/sh\ncat >/dev/null\n%s -N LIE-$$\nexit 0\n' "$EB" > "$TMP/bin/xtables-nft-lie"
	fi
	chmod +x "$TMP/bin/xtables-nft-lie"
	for t in ebtables-restore iptables-restore ip6tables-restore; do
		ln -sf xtables-nft-lie "$TMP/bin/$t"
	done
	for t in ebtables-save iptables-save ip6tables-save; do
		ln -sf "$(command -v $t)" "$TMP/bin/$t"
	done
	printf '[netd]\nlog_level = debug\n' > "$CONF"
	: > "$NETD_LOG"
	PATH=$TMP/bin:$PATH start_netd
	ctl filter bind --port p2 --filter clean-traffic --owner g --param IP=10.0.0.21 > "$TMP/out" 2> "$TMP/err"; rc=$?
	grep -q 'not confirmed by the generation and the chain names' "$NETD_LOG" ||
		fail "nft, $how: the generation and the chain names were not looked at"
	[ $rc = 1 ] || fail "nft, a restore that did $how: bind exit $rc: $(cat "$TMP/out" "$TMP/err")"
	grep -q 'io.netd.ApplyFailed.*does not hold' "$TMP/err" || fail "nft, $how: error: $(cat "$TMP/err")"
	[ "$(db "SELECT state FROM bindings WHERE port = 'p2'")" = failed ] || fail "nft, $how: p2's row"
	in_ns ebtables-save | grep -q 'N-O-p2' && fail "nft, $how: p2's chains exist?"
	stop_netd
	in_ns ebtables-save | grep -o '^:LIE-[0-9]*' | cut -c2- | while read -r c; do in_ns ebtables -X "$c"; done
done
ok "nf_tables tools that exit 0 without writing (the generation still, or moved by an unrelated change): not applied"
