#!/bin/bash
# restore-check.sh: the renderings of fuzz_render's corpus against the real
# tools. A sample of the corpus (SAMPLE inputs, default 200, random) is run
# once through tests/fuzz/fuzz_render with FUZZ_RENDER_DUMP set, which
# writes each rendering it accepted as restore input; each one is then fed
# to ebtables-restore / iptables-restore / ip6tables-restore --noflush in a
# network namespace of its own (the host's firewall is never touched), and
# *tables-save must print the same lines back (as tests/rules/roundtrip.sh
# checks for the golden files); then the namespace's table is emptied.
#
# Usage: tests/fuzz/restore-check.sh [BUILD_DIR [CORPUS_DIR]]
#   BUILD_DIR  a build configured with CC=clang --enable-fuzz (default: build-fuzz)
#   CORPUS_DIR default: BUILD_DIR/fuzz-corpus/render (what make fuzz-run grew),
#              else the seed corpus tests/fuzz/corpus/render
# Needs root and the tools; exits 77 (skip) without them.

set -u
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$top_srcdir/build-fuzz}
CORPUS=${2:-}
SAMPLE=${SAMPLE:-200}

skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "needs iproute2"
for t in ebtables iptables ip6tables; do
	command -v "$t-restore" >/dev/null && command -v "$t-save" >/dev/null || skip "needs $t-restore and $t-save"
done
FUZZER=$BUILD/tests/fuzz/fuzz_render
[ -x "$FUZZER" ] || skip "$FUZZER not built (configure CC=clang --enable-fuzz; make fuzz)"
if [ -z "$CORPUS" ]; then
	CORPUS=$BUILD/fuzz-corpus/render
	[ -d "$CORPUS" ] && [ -n "$(ls -A "$CORPUS")" ] || CORPUS=$top_srcdir/tests/fuzz/corpus/render
fi

NS="netd-fuzz-restore-$$"
TMP=$(mktemp -d /tmp/netd-fuzz-restore.XXXXXX)
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
in_ns() { ip netns exec "$NS" "$@"; }

mkdir "$TMP/dump"
find "$CORPUS" -type f | shuf -n "$SAMPLE" >"$TMP/inputs"
inputs=$(wc -l <"$TMP/inputs")
# libFuzzer runs each file given on the command line once.
xargs -a "$TMP/inputs" -d '\n' env FUZZ_RENDER_DUMP="$TMP/dump" "$FUZZER" >"$TMP/fuzz.log" 2>&1 || {
	tail -n 30 "$TMP/fuzz.log"
	echo "FAIL: $FUZZER failed on the sample"
	exit 1
}

failed=0 checked=0
declare -A per=([eb]=0 [ip4]=0 [ip6]=0)
for g in "$TMP"/dump/*; do
	[ -e "$g" ] || continue
	case $g in
	*.eb) tool=ebtables restore=(ebtables-restore --noflush) save=(ebtables-save) commit='' fam=eb ;;
	*.ip4) tool=iptables restore=(iptables-restore -w --noflush) save=(iptables-save -t filter) commit=COMMIT fam=ip4 ;;
	*.ip6) tool=ip6tables restore=(ip6tables-restore -w --noflush) save=(ip6tables-save -t filter) commit=COMMIT fam=ip6 ;;
	esac
	name=${g##*/}
	{
		echo '*filter'
		cat "$g"
		[ -n "$commit" ] && echo "$commit"
	} >"$TMP/in"
	if ! in_ns "${restore[@]}" <"$TMP/in" >"$TMP/err" 2>&1; then
		echo "FAIL: $name: ${restore[0]} refused it:"
		sed 's/^/    /' "$TMP/err"
		sed "s/^/    > /" "$g" | head -n 40
		failed=$((failed + 1))
	elif ! in_ns "${save[@]}" >"$TMP/save" 2>"$TMP/err"; then
		echo "FAIL: $name: ${save[0]}: $(cat "$TMP/err")"
		failed=$((failed + 1))
	else
		grep -v -E '^(#|\*|COMMIT$|:(INPUT|FORWARD|OUTPUT) )' "$TMP/save" >"$TMP/out"
		if ! diff -u --label "$name" --label "${save[0]}" "$g" "$TMP/out" >"$TMP/diff"; then
			echo "FAIL: $name: ${save[0]} prints it differently:"
			head -n 20 "$TMP/diff"
			failed=$((failed + 1))
		fi
	fi
	checked=$((checked + 1))
	per[$fam]=$((per[$fam] + 1))
	in_ns "$tool" -t filter -F >/dev/null 2>&1
	in_ns "$tool" -t filter -X >/dev/null 2>&1
done

echo "$inputs corpus inputs, $checked renderings (eb ${per[eb]}, ip4 ${per[ip4]}, ip6 ${per[ip6]}) fed to the restore tools, $failed refused or printed back differently"
[ "$checked" -gt 0 ] || { echo "FAIL: no rendering to check"; exit 1; }
[ "$failed" = 0 ]
