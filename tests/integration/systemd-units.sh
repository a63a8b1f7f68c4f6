#!/bin/bash
# systemd-units.sh: what make install puts in place for systemd is valid
# and consistent: systemd-analyze verify finds nothing to say about
# netd.service and netd.socket in the installed tree; sysusers.d makes the
# netd user and the netd-admin group, tmpfiles.d then makes /run/netd and
# /var/lib/netd as netd accepts them (owned by root or netd, writable by
# nobody else); the socket unit listens where netd and netdctl look by
# default, with netd's default mode; netd-client.pc compiles and links a
# client against the installed library. No systemd as PID 1 needed: all
# of it works on a root directory of its own.
set -u
[ -n "${top_builddir:-}" ] || { echo "top_builddir not set (run through make check)"; exit 77; }
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
[ "$(id -u)" = 0 ] || skip "needs root (tmpfiles.d chowns)"
for t in systemd-analyze systemd-sysusers systemd-tmpfiles; do
	command -v $t >/dev/null || skip "needs $t (Debian package systemd)"
done

dest=$(mktemp -d /tmp/netd-systemd-units.XXXXXX)
trap 'rm -rf "$dest"' EXIT
make -s -C "$top_builddir" install DESTDIR="$dest" >"$dest.log" 2>&1 || { cat "$dest.log"; rm -f "$dest.log"; fail "make install"; }
rm -f "$dest.log"

service=$(find "$dest" -name netd.service -path '*/system/*')
socket=$(find "$dest" -name netd.socket -path '*/system/*')
tmpfiles=$(find "$dest" -path '*/tmpfiles.d/netd.conf')
sysusers=$(find "$dest" -path '*/sysusers.d/netd.conf')
[ -f "$service" ] && [ -f "$socket" ] || fail "netd.service and netd.socket not installed"
[ -f "$tmpfiles" ] && [ -f "$sysusers" ] || fail "tmpfiles.d and sysusers.d files not installed"
netd=$(find "$dest" -path '*/sbin/netd' -type f)
ok "installed: ${service#"$dest"}, ${socket#"$dest"}, ${tmpfiles#"$dest"}, ${sysusers#"$dest"}"

# The unit starts the installed netd, in the foreground.
exec_start=$(sed -n 's/^ExecStart=//p' "$service")
[ "$exec_start" = "${netd#"$dest"} --foreground" ] || fail "ExecStart=$exec_start, want ${netd#"$dest"} --foreground"
grep -qx 'Type=notify' "$service" || fail "netd.service is not Type=notify"

# verify resolves the units' dependencies and commands inside the root:
# give it the system's targets and the kill that ExecReload= runs, and the
# installed man pages for Documentation=.
mkdir -p "$dest/usr/lib/systemd/system"
for u in /lib/systemd/system/*.target /lib/systemd/system/*.slice; do
	[ -e "$u" ] && cp -n "$u" "$dest/usr/lib/systemd/system/"
done
kill_cmd=$(sed -n 's/^ExecReload=\([^ ]*\) .*/\1/p' "$service")
[ -x "$kill_cmd" ] || skip "no $kill_cmd here (Debian package procps)"
mkdir -p "$dest$(dirname "$kill_cmd")" && cp "$kill_cmd" "$dest$kill_cmd"
mandir=$(dirname "$(dirname "$(find "$dest" -path '*/man8/netd.8')")")
# In a directory systemd searches inside the root, wherever configure put
# them (make distcheck: under its prefix).
mkdir -p "$dest/etc/systemd/system"
cp "$service" "$socket" "$dest/etc/systemd/system/"
out=$(cd "$dest/etc/systemd/system" && MANPATH=$mandir SYSTEMD_LOG_LEVEL=notice \
	systemd-analyze verify --root="$dest" "$dest/etc/systemd/system/netd.service" \
	"$dest/etc/systemd/system/netd.socket" 2>&1)
rc=$?
[ $rc = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify (rc $rc): $out"
ok "systemd-analyze verify: nothing to say"
score=$(systemd-analyze security --offline=yes --root="$dest" "$service" 2>/dev/null |
	sed -n 's/.*Overall exposure level for netd.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] && echo "systemd-analyze security: exposure $score"

# sysusers.d first (tmpfiles.d names its user), as at boot.
mkdir -p "$dest/etc"
systemd-sysusers --root="$dest" "$sysusers" || fail "systemd-sysusers"
grep -q '^netd:' "$dest/etc/passwd" || fail "no netd user after sysusers"
grep -q '^netd-admin:' "$dest/etc/group" || fail "no netd-admin group after sysusers"
uid=$(awk -F: '$1 == "netd" { print $3 }' "$dest/etc/passwd")
[ "$uid" -lt 1000 ] && [ "$uid" -gt 0 ] || fail "netd's uid $uid is not a system uid"
ok "sysusers.d: user netd (uid $uid), group netd-admin"
systemd-tmpfiles --root="$dest" --create "$tmpfiles" || fail "systemd-tmpfiles"
[ "$(stat -c '%a %u' "$dest/run/netd")" = "755 0" ] || fail "/run/netd is $(stat -c '%a %u' "$dest/run/netd")"
[ "$(stat -c '%a %u' "$dest/var/lib/netd")" = "700 $uid" ] ||
	fail "/var/lib/netd is $(stat -c '%a %u' "$dest/var/lib/netd"), want 700 $uid"
ok "tmpfiles.d: /run/netd 0755 root, /var/lib/netd 0700 netd"
sed -n 's/^User=//p' "$service" | grep -qx netd || fail "netd.service does not run as netd"
grep -qx 'StateDirectory=netd' "$service" || fail "no StateDirectory=netd"
grep -qx 'StateDirectoryMode=0700' "$service" || fail "StateDirectoryMode is not tmpfiles.d's 0700"

# The socket is where netd and netdctl look, with netd's default mode.
listen=$(sed -n 's/^ListenStream=//p' "$socket")
default_sock=$("$netd" --help | sed -n "s/.*--socket PATH.*(default \(.*\))/\1/p")
[ "$listen" = "$default_sock" ] || fail "ListenStream=$listen, netd's default socket is $default_sock"
"$top_builddir/netd/netdctl" --help 2>&1 | grep -q "$listen" || fail "netdctl's default socket is not $listen"
conf=$(find "$dest" -path '*/etc/netd/netd.conf')
mode=$(sed -n 's/^#socket_mode = //p' "$conf")
[ "$(sed -n 's/^SocketMode=//p' "$socket")" = "$mode" ] || fail "SocketMode is not netd's default $mode"
ok "netd.socket: $listen, mode $mode, as netd and netdctl expect"

# netd-client.pc: a client builds and links against the installed files.
pcdir=$(dirname "$(find "$dest" -name netd-client.pc)")
cat >"$dest/client.c" <<'C'
#include <netd/client.h>
int main(void) { return 0; }
C
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs netd-client) || fail "pkg-config netd-client"
libdir=$(pkg-config --variable=libdir netd-client)
[ -f "$libdir/libnetd-client.so" ] || fail "pkg-config's libdir $libdir has no libnetd-client.so"
# shellcheck disable=SC2086
${CC:-cc} -o "$dest/client" "$dest/client.c" $flags || fail "a client does not build with pkg-config netd-client ($flags)"
LD_LIBRARY_PATH=$libdir "$dest/client" || fail "the client does not run"
ok "netd-client.pc: $flags"
