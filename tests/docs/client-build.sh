#!/bin/bash
# tests/docs/client-build.sh: libnetd-client as an integrator gets it.
# make install into a DESTDIR puts the shared library (soname .so.1),
# <netd/client.h>, netd-client.pc and libnetd-client(3) in place, and
# examples/guests.c builds against that install through pkg-config alone,
# and exports nothing but netd_* symbols.
set -u
[ -n "${top_builddir:-}" ] || { echo "top_builddir not set (run through make check)"; exit 77; }
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v pkg-config >/dev/null || { echo "no pkg-config"; exit 77; }
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

make -s -C "$top_builddir" install DESTDIR="$dest" >"$dest/log" 2>&1 || { cat "$dest/log"; exit 1; }
so=$(find "$dest" -name 'libnetd-client.so.1' | head -n 1)
pc=$(find "$dest" -name 'netd-client.pc' | head -n 1)
[ -n "$so" ] || fail "no libnetd-client.so.1 installed: $(find "$dest" -name 'libnetd-client*')"
[ -n "$pc" ] || fail "no netd-client.pc installed"
[ -n "$(find "$dest" -path '*/include/netd/client.h')" ] || fail "no netd/client.h installed"
[ -n "$(find "$dest" -path '*/man3/libnetd-client.3')" ] || fail "no libnetd-client(3) installed"
objdump -p "$so" | grep -q 'SONAME *libnetd-client.so.1$' || fail "soname: $(objdump -p "$so" | grep SONAME)"
bad=$(nm -D --defined-only "$so" | awk '$2 ~ /[TDB]/ && $3 !~ /^netd_/ { print $3 }')
[ -z "$bad" ] || fail "exported symbols outside netd_*: $bad"

PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR=$dest
# A library built with the sanitizers needs their runtime in the program
# too (scripts/check's second build).
san=
objdump -p "$so" | grep -q 'NEEDED *libasan' && san=-fsanitize=address,undefined
# shellcheck disable=SC2046
${CC:-cc} -Wall -Werror $san -o "$dest/guests" "$top_srcdir/examples/guests.c" \
	$(pkg-config --cflags --libs netd-client) -lev -Wl,-rpath,"$(dirname "$so")" \
	>"$dest/log" 2>&1 || fail "guests.c against the install: $(cat "$dest/log")"
"$dest/guests" 2>&1 | grep -q '^usage: guests' || fail "the installed build does not run"
echo "client-build: library, header, pkg-config file and man page installed; the example builds with pkg-config"
