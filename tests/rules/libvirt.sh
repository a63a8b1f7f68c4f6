#!/bin/bash
# libvirt.sh: libvirt's nwfilter XML filters through netd's renderer and the
# real tools. The 24 standard filters of Debian's libvirt-daemon-config-
# nwfilter (installed here when missing) are loaded as one directory on
# their own (they have the names of netd's built-ins), the custom ones of
# tests/rules/xml/ with the built-ins; every filter is rendered for a port
# with parameters, the renderings must equal tests/rules/golden-libvirt/
# (NETD_REGEN=1 writes them), and each goes through ebtables-restore /
# iptables-restore / ip6tables-restore in a namespace of its own and must
# be printed back the same by *-save (tests/rules/roundtrip.sh). The
# nftables netdev rendering of each (NAME.nft, or NAME.nft-refused with
# the message where that target refuses the filter) is a golden file too,
# and each NAME.nft goes through the real `nft -f` on a device vnet0 in a
# namespace, where nft must list as many rules as it was given.
# Skips (77) only without root or when the package cannot be installed.

set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
DUMP=$top_builddir/tests/helpers/rulesdump
GOLDEN=$top_srcdir/tests/rules/golden-libvirt
CUSTOM=$top_srcdir/tests/rules/xml
NWF=/etc/libvirt/nwfilter
PARAMS=(52:54:00:12:34:56 IP=192.168.122.10 IP=192.168.122.11 IP=2001:db8::10
	DHCPSERVER=192.168.122.1 GATEWAY_MAC=52:54:00:ab:cd:ef)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (packages, network namespaces)"
[ -x "$DUMP" ] || fail "$DUMP is not built (make check builds it)"
if [ "$(find "$NWF" -name '*.xml' 2>/dev/null | wc -l)" -lt 24 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvirt-daemon-config-nwfilter >/dev/null 2>&1 ||
		skip "cannot install libvirt-daemon-config-nwfilter"
fi

TMP=$(mktemp -d "/tmp/netd-rules-libvirt.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/std" "$TMP/out"
cp "$NWF"/*.xml "$TMP/std/"
n=$(find "$TMP/std" -name '*.xml' | wc -l)
[ "$n" = 24 ] || fail "$NWF holds $n filters, not libvirt 9.0's 24"

# Every file loads, none is refused.
"$DUMP" -b "$TMP/std" >"$TMP/load" || fail "loading $NWF failed"
grep '^error:' "$TMP/load" && fail "standard filters refused"
grep -qx 'loaded 24' "$TMP/load" || fail "not all 24 loaded: $(cat "$TMP/load")"
"$DUMP" "$CUSTOM" >"$TMP/load" || fail "loading $CUSTOM failed"
grep '^error:' "$TMP/load" && fail "custom XML filters refused"

# Every filter rendered.
for f in "$TMP"/std/*.xml; do
	name=$(basename "$f" .xml)
	"$DUMP" -b "$TMP/std" "$name" vnet0 "$TMP/out/std-$name" "${PARAMS[@]}" >/dev/null ||
		fail "$name: not rendered"
done
for f in "$CUSTOM"/*.xml; do
	name=$(basename "$f" .xml)
	"$DUMP" "$CUSTOM" "$name" vnet0 "$TMP/out/$name" "${PARAMS[@]}" >/dev/null ||
		fail "$name: not rendered"
done
echo "ok: $(find "$TMP/out" -type f | wc -l) renderings of $(( 24 + $(find "$CUSTOM" -name '*.xml' | wc -l) )) filters"

if [ "${NETD_REGEN:-}" = 1 ]; then
	rm -rf "$GOLDEN" && cp -r "$TMP/out" "$GOLDEN"
	echo "golden files written to $GOLDEN"
fi
diff -r -u "$GOLDEN" "$TMP/out" || fail "renderings differ from $GOLDEN"
echo "ok: renderings equal the golden files"

# nft takes each netdev rendering, every rule of it.
command -v nft >/dev/null || fail "nft is required (scripts/check installs it)"
NS="netd-rules-libvirt-$$"
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
ip -n "$NS" link add vnet0 type veth peer name vnet0p || fail "veth"
for g in "$TMP"/out/*.nft; do
	name=$(basename "$g")
	{ echo "add table netdev netd"; cat "$g"; } | ip netns exec "$NS" nft -f - ||
		fail "$name: nft -f refused it"
	want=$(grep -c '^add rule ' "$g")
	got=$(ip netns exec "$NS" nft -a list table netdev netd | grep -c '# handle [0-9]*$')
	chains=$(grep -c '^add chain ' "$g")
	# Every chain and rule line of the listing ends in "# handle N".
	[ "$got" = $((want + chains + 1)) ] ||
		fail "$name: nft lists $got handles, $want rules + $chains chains + the table expected"
	ip netns exec "$NS" nft delete table netdev netd || fail "$name: table not deleted"
done
echo "ok: $(find "$TMP/out" -name '*.nft' | wc -l) netdev renderings loaded by nft," \
	"$(find "$TMP/out" -name '*.nft-refused' | wc -l) refused"

# The real tools take each and print it back the same.
GOLDEN=$TMP/out bash "$top_srcdir/tests/rules/roundtrip.sh"
