#!/bin/bash
# roundtrip.sh: the golden files of tests/rules/golden/ against the real
# tools. Each file is fed to the matching *tables-restore --noflush inside a
# network namespace of its own, and *tables-save must print exactly the
# same lines back (comments, "*filter", "COMMIT" and the built-in chains'
# declarations aside); then the namespace's chains are removed again. This
# is what lets the daemon compare what it wrote with what it reads later.
# The host's own firewall is never touched. Needs root and the tools;
# exits 77 (skip) without them.

set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
GOLDEN=${GOLDEN:-$top_srcdir/tests/rules/golden}

skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "needs iproute2"
for t in ebtables iptables ip6tables; do
	command -v "$t" >/dev/null && command -v "$t-restore" >/dev/null && command -v "$t-save" >/dev/null ||
		skip "needs $t, $t-restore and $t-save"
done
ls "$GOLDEN"/*.eb >/dev/null 2>&1 || { echo "FAIL: no golden files in $GOLDEN"; exit 1; }

NS="netd-rules-roundtrip-$$"
TMP=$(mktemp -d "/tmp/netd-rules-roundtrip.XXXXXX")
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"

in_ns() { ip netns exec "$NS" "$@"; }

failed=0
checked=0
for g in "$GOLDEN"/*.eb "$GOLDEN"/*.ip4 "$GOLDEN"/*.ip6; do
	[ -e "$g" ] || continue
	case $g in
	*.eb) tool=ebtables restore=(ebtables-restore --noflush) save=(ebtables-save) commit= ;;
	*.ip4) tool=iptables restore=(iptables-restore -w --noflush) save=(iptables-save -t filter) commit=COMMIT ;;
	*.ip6) tool=ip6tables restore=(ip6tables-restore -w --noflush) save=(ip6tables-save -t filter) commit=COMMIT ;;
	esac
	name=${g#"$GOLDEN"/}
	{
		echo '*filter'
		cat "$g"
		[ -n "$commit" ] && echo "$commit"
	} >"$TMP/in"
	if ! in_ns "${restore[@]}" <"$TMP/in" >"$TMP/err" 2>&1; then
		echo "FAIL: $name: ${restore[0]} refused it:"
		sed 's/^/    /' "$TMP/err"
		failed=1
	elif ! in_ns "${save[@]}" >"$TMP/save" 2>"$TMP/err"; then
		echo "FAIL: $name: ${save[0]}: $(cat "$TMP/err")"
		failed=1
	else
		grep -v -E '^(#|\*|COMMIT$|:(INPUT|FORWARD|OUTPUT) )' "$TMP/save" >"$TMP/out"
		if diff -u --label "$name" --label "${save[0]}" "$g" "$TMP/out" >"$TMP/diff"; then
			echo "ok: $name"
		else
			echo "FAIL: $name: ${save[0]} prints it differently:"
			cat "$TMP/diff"
			failed=1
		fi
	fi
	checked=$((checked + 1))
	# Empty the namespace's filter table for the next file.
	in_ns "$tool" -t filter -F >/dev/null 2>&1
	in_ns "$tool" -t filter -X >/dev/null 2>&1
done

echo "$checked golden files checked"
exit $failed
