#!/bin/bash
# examples/guests (libnetd-client's async API in a libev loop) starts 20
# guests at once, each 8 macvtaps on a veth parent and 8 filter bindings
# on bridge ports, all on one connection; then every link and binding
# exists, in the kernel (nlview) and in netd, and is owned by its guest.
# A second run deletes what it made (-d). GUESTS / LINKS override the size.
. "$(dirname "$0")/lib.sh"

GUESTS=${GUESTS:-20}
LINKS=${LINKS:-8}
N=$((GUESTS * LINKS))
make_parent v0
ip -n "$NS" link add br0 type bridge || fail "bridge"
ip -n "$NS" link set br0 up
for i in $(seq 0 $((N - 1))); do
	echo "link add gp$i type veth peer name gp$i-p"
	echo "link set gp$i master br0"
	echo "link set gp$i up"
done | ip -n "$NS" -batch - || fail "bridge ports"
start_netd

in_ns "$top_builddir/examples/guests" -s "$SOCK" -P v0 -n "$GUESTS" -l "$LINKS" -b 'gp%u' \
	>"$TMP/out" 2>"$TMP/err" || fail "guests: $(cat "$TMP/err") $(tail -n 1 "$TMP/out")"
summary=$(tail -n 1 "$TMP/out")
echo "$summary"
echo "$summary" | grep -q "^guests $GUESTS links $N bindings $N failed 0 " || fail "summary: $summary"
[ "$(grep -c '^guest [0-9]* start_ms [0-9.]*$' "$TMP/out")" = "$GUESTS" ] || fail "per-guest lines: $(cat "$TMP/out")"
ok "$GUESTS guests started at once: $N links, $N bindings"

# The kernel: N macvtaps on v0.
parent=$(kview links | awk '$1 == "v0" { print $2 }')
[ "$(kview links | awk -v p="$parent" '$3 == "macvtap" && $4 == p' | wc -l)" = "$N" ] ||
	fail "kernel macvtaps on v0: $(kview links)"
# netd: each guest owns LINKS present links on v0, and the binding of each
# of its ports, applied.
ctl link list > "$TMP/links"
ctl filter list > "$TMP/bindings"
for g in $(seq 0 $((GUESTS - 1))); do
	n=$(awk -v o="guest$g" '$NF == o && $5 == "v0" && / present /' "$TMP/links" | wc -l)
	[ "$n" = "$LINKS" ] || fail "guest$g owns $n links: $(cat "$TMP/links")"
	for i in $(seq $((g * LINKS)) $((g * LINKS + LINKS - 1))); do
		grep -q "^gp$i  *no-mac-spoofing  *applied  *guest$g  *xtables\$" "$TMP/bindings" ||
			fail "gp$i not bound for guest$g: $(grep "^gp$i " "$TMP/bindings")"
	done
done
[ "$(ctl --json link list | grep -c '"state": "present"')" = "$N" ] || fail "link count"
ok "every link and binding exists and is owned by its guest"

# Delete again: a run with -d leaves nothing of its own.
in_ns "$top_builddir/examples/guests" -s "$SOCK" -P v0 -n 3 -l 2 -b '' -o tmp -d -q \
	>"$TMP/out" 2>"$TMP/err" || fail "guests -d: $(cat "$TMP/err")"
grep -q "^guests 3 links 6 bindings 0 failed 0 " "$TMP/out" || fail "guests -d: $(cat "$TMP/out")"
ctl link list | grep -q ' tmp[0-9]*$' && fail "tmp links left: $(ctl link list)"
[ "$(ctl --json link list | grep -c '"state": "present"')" = "$N" ] || fail "other guests' links touched"
ok "guests -d deletes what it made, nothing else"

stop_netd
