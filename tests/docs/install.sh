#!/bin/bash
# tests/docs/install.sh: make install into a DESTDIR puts the example
# configuration in place when there is none, never overwrites an edited
# one, and make uninstall leaves the edited one alone.
set -u
[ -n "${top_builddir:-}" ] || { echo "top_builddir not set (run through make check)"; exit 77; }
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail=0
inst() { make -s -C "$top_builddir" "$1" DESTDIR="$dest" >"$dest.log" 2>&1 || { cat "$dest.log"; exit 1; }; }

inst install
conf=$(find "$dest" -path '*/etc/netd/netd.conf')
example=$(find "$dest" -path '*/doc/netd/netd.conf')
[ -f "$conf" ] || { echo "no etc/netd/netd.conf installed"; exit 1; }
[ -f "$example" ] || { echo "no doc/netd/netd.conf installed"; exit 1; }
# netd reads, by default, the file make install put there.
default_conf=$("$top_builddir/netd/netd" --help | sed -n "s/.*--config FILE.*(default \(.*\))/\1/p")
[ "$conf" = "$dest$default_conf" ] ||
	{ echo "netd's default configuration $default_conf is not the installed $conf"; fail=1; }
cmp -s "$conf" "$example" || { echo "the installed netd.conf is not the example"; fail=1; }

echo "admin_group = kvm" >>"$conf"
inst install
grep -qx "admin_group = kvm" "$conf" || { echo "make install overwrote an edited netd.conf"; fail=1; }
inst uninstall
grep -qx "admin_group = kvm" "$conf" 2>/dev/null || { echo "make uninstall removed an edited netd.conf"; fail=1; }
rm -f "$conf"
inst install
inst uninstall
[ -z "$(find "$dest" -type f)" ] || { echo "uninstall left:"; find "$dest" -type f; fail=1; }
rm -f "$dest.log"
[ $fail = 0 ] && echo "install: the example is installed once, an edited netd.conf is kept"
exit $fail
