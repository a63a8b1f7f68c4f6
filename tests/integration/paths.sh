#!/bin/bash
# The paths netd trusts: a socket directory an unprivileged user made, or
# one anyone can write to, is refused with a message naming it; so is a
# database reached through a symbolic link, and a filter_dir others can
# write (a filter there is trusted as root's; at a reload the running
# filters stay); a fresh start makes the
# database, WAL, SHM and lock files 0600, db_group makes them 0640 and of
# that group, and wider modes left from before are narrowed.
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || skip "needs setpriv"
getent group nogroup >/dev/null || skip "needs the group nogroup"

# refused DESCRIPTION NEEDLE [netd options]: netd exits 1 with NEEDLE in
# its message and leaves no socket.
refused() {
	local what=$1 needle=$2 rc
	shift 2
	in_ns timeout 10 "$NETD" --foreground --config "$CONF" "$@" 2>"$TMP/err"; rc=$?
	[ $rc = 124 ] && fail "$what: netd started"
	[ $rc = 1 ] || fail "$what: exit $rc, want 1 ($(cat "$TMP/err"))"
	grep -q -- "$needle" "$TMP/err" || fail "$what: message '$(cat "$TMP/err")' lacks '$needle'"
	ok "refused: $what: $(tail -1 "$TMP/err")"
}

# A directory anyone can write to, as /tmp is, for the unprivileged user.
PUB=$TMP/pub
mkdir -m 1777 "$PUB"

# The socket directory pre-created by an unprivileged user (nobody).
setpriv --reuid=65534 --regid=65534 --clear-groups mkdir -m 0755 "$PUB/run" || fail "mkdir as nobody"
refused "socket directory made by nobody" "$PUB/run' is owned by uid 65534" \
	--socket "$PUB/run/netd.sock" --db "$DB"
[ -e "$PUB/run/netd.sock" ] && fail "a socket was made in nobody's directory"

# A world-writable socket directory, even root's.
mkdir -m 0777 "$TMP/open"
chmod 0777 "$TMP/open"
refused "world-writable socket directory" "$TMP/open' is writable by others" \
	--socket "$TMP/open/netd.sock" --db "$DB"
# ... and one writable by its group.
mkdir "$TMP/grp" && chmod 0775 "$TMP/grp"
refused "group-writable socket directory" "$TMP/grp' is writable by its group" \
	--socket "$TMP/grp/netd.sock" --db "$DB"
# ... and a socket directory under a directory of nobody's.
setpriv --reuid=65534 --regid=65534 --clear-groups mkdir -m 0755 "$PUB/evil" || fail "mkdir as nobody"
refused "socket below nobody's directory" "$PUB/evil' is owned by uid 65534" \
	--socket "$PUB/evil/sub/netd.sock" --db "$DB"
[ -e "$PUB/evil/sub" ] && fail "netd created a directory inside nobody's"

# A symlinked database path, and a symlinked database directory of nobody's.
mkdir -m 0700 "$TMP/real"
ln -s "$TMP/real/target.db" "$TMP/link.db"
refused "symlinked database" "link.db' is a symbolic link" --socket "$SOCK" --db "$TMP/link.db"
[ -e "$TMP/real/target.db" ] && fail "the symlink's target was created"
setpriv --reuid=65534 --regid=65534 --clear-groups ln -s "$TMP/real" "$PUB/dblink" || fail "ln as nobody"
refused "database directory through nobody's symlink" "dblink' is a symbolic link owned by uid 65534" \
	--socket "$SOCK" --db "$PUB/dblink/netd.db"
# A database directory of nobody's.
setpriv --reuid=65534 --regid=65534 --clear-groups mkdir -m 0700 "$PUB/db" || fail "mkdir as nobody"
refused "database directory made by nobody" "$PUB/db' is owned by uid 65534" \
	--socket "$SOCK" --db "$PUB/db/netd.db"
[ -e "$PUB/db/netd.db" ] && fail "a database was made in nobody's directory"
[ -e "$SOCK" ] && fail "a socket was left behind"

# mode FILE: its octal mode and group, e.g. "600 root".
mode() { stat -c '%a %G' "$1"; }

# A fresh start: the directories 0700 (database) and 0755 (socket), the
# files 0600; the WAL and SHM exist once something was written.
DB=$TMP/state/netd.db
SOCK=$TMP/sockdir/netd.sock
start_netd
ctl call io.netd.Resync >/dev/null || fail "a write"
[ "$(stat -c %a "$TMP/state")" = 700 ] || fail "database directory mode $(stat -c %a "$TMP/state")"
[ "$(stat -c %a "$TMP/sockdir")" = 755 ] || fail "socket directory mode $(stat -c %a "$TMP/sockdir")"
for f in "$DB" "$DB-wal" "$DB-shm" "$DB.lock"; do
	[ -f "$f" ] || fail "$f missing"
	[ "$(mode "$f")" = "600 root" ] || fail "$f: $(mode "$f"), want 600 root"
done
stop_netd
ok "a fresh start makes 0600 files in a 0700 directory"

# Wider modes from before are narrowed, with a warning naming the file.
chmod 0644 "$DB" "$DB.lock"
: > "$NETD_LOG"
start_netd
[ "$(mode "$DB")" = "600 root" ] || fail "$DB not narrowed: $(mode "$DB")"
[ "$(mode "$DB.lock")" = "600 root" ] || fail "$DB.lock not narrowed: $(mode "$DB.lock")"
grep -q "netd.db': mode 0644 set to 0600" "$NETD_LOG" || fail "no warning: $(cat "$NETD_LOG")"
stop_netd
ok "wider modes are narrowed"

# db_group: 0640 and the group, for every file, existing or new.
printf "[netd]\ndb_group = nogroup\n" > "$CONF"
start_netd
ctl call io.netd.Resync >/dev/null || fail "a write"
for f in "$DB" "$DB-wal" "$DB-shm" "$DB.lock"; do
	[ "$(mode "$f")" = "640 nogroup" ] || fail "$f: $(mode "$f"), want 640 nogroup"
done
stop_netd
DB=$TMP/state2/netd.db
start_netd
ctl call io.netd.Resync >/dev/null || fail "a write"
for f in "$DB" "$DB-wal" "$DB-shm" "$DB.lock"; do
	[ "$(mode "$f")" = "640 nogroup" ] || fail "$f: $(mode "$f"), want 640 nogroup"
done
stop_netd
ok "db_group gives 0640 and the group"

printf "[netd]\ndb_group = no-such-group-netd\n" > "$CONF"
refused "unknown db_group" "no group named 'no-such-group-netd'" --socket "$SOCK" --db "$DB"

# filter_dir: one anyone can write, or one an unprivileged user made, is
# refused at start; a reload to such a one keeps the running filters.
DB=$TMP/state3/netd.db
mkdir -m 0777 "$TMP/openfilters"
printf '[netd]\nfilter_dir = %s\n' "$TMP/openfilters" > "$CONF"
refused "world-writable filter_dir" "$TMP/openfilters' is writable by others" --socket "$SOCK" --db "$DB"
setpriv --reuid=65534 --regid=65534 --clear-groups mkdir -m 0755 "$PUB/filters" || fail "mkdir as nobody"
printf '[netd]\nfilter_dir = %s\n' "$PUB/filters" > "$CONF"
refused "filter_dir made by nobody" "$PUB/filters' is owned by uid 65534" --socket "$SOCK" --db "$DB"
mkdir -m 0755 "$TMP/filters"
printf '{"name": "mine", "filters": ["clean-traffic"], "rules": []}' > "$TMP/filters/mine.json"
printf '[netd]\nfilter_dir = %s\n' "$TMP/filters" > "$CONF"
start_netd
ctl filter defs | grep -q '^mine ' || fail "the custom filter is not loaded: $(ctl filter defs)"
printf '[netd]\nfilter_dir = %s\n' "$TMP/openfilters" > "$CONF"
kill -HUP "$NETD_PID"
for i in $(seq 50); do grep -q "filter directory: .*openfilters' is writable by others" "$NETD_LOG" && break; sleep 0.1; done
grep -q "filter directory: .*openfilters' is writable by others" "$NETD_LOG" || fail "the reload did not refuse the open filter_dir"
ctl filter defs | grep -q '^mine ' || fail "the running filters were dropped at the refused reload"
stop_netd
ok "filter_dir others can write: refused at start, and at a reload (the running filters kept)"
