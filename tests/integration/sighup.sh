#!/bin/bash
# SIGHUP re-reads the configuration: good changes apply at once, a bad file
# is refused (logged with file, line and key) and the running settings
# stay; paths that need a restart are reported and kept.
. "$(dirname "$0")/lib.sh"

printf '[netd]\nmax_clients = 100\n' > "$CONF"
start_netd
[ "$(status_field max_clients)" = 100 ] || fail "max_clients from the file"

printf '[netd]\nmax_clients = 50\nlog_level = debug\n' > "$CONF"
kill -HUP "$NETD_PID"
for i in $(seq 50); do [ "$(status_field config_reloads)" = 1 ] && break; sleep 0.1; done
[ "$(status_field config_reloads)" = 1 ] || fail "reload not counted"
[ "$(status_field max_clients)" = 50 ] || fail "max_clients not reloaded"
ok "reload applies"

printf '[netd]\nmax_clients = 7\nmax_clientz = 8\n' > "$CONF"
kill -HUP "$NETD_PID"
for i in $(seq 50); do [ "$(status_field config_reload_errors)" = 1 ] && break; sleep 0.1; done
[ "$(status_field config_reload_errors)" = 1 ] || fail "failed reload not counted"
[ "$(status_field max_clients)" = 50 ] || fail "a bad file changed the running settings"
grep -q "netd.conf:3: unknown key 'max_clientz'" "$NETD_LOG" || fail "bad reload not logged with file:line:key"
ok "bad file refused, settings kept"

# Paths from the file need a restart to change: reported, kept.
stop_netd
printf '[netd]\nsocket = %s\ndatabase = %s\n' "$SOCK" "$DB" > "$CONF"
start_netd_with
printf '[netd]\nsocket = %s/elsewhere.sock\ndatabase = %s\n' "$TMP" "$DB" > "$CONF"
kill -HUP "$NETD_PID"
for i in $(seq 50); do grep -q "changing the socket path needs a restart" "$NETD_LOG" && break; sleep 0.1; done
grep -q "changing the socket path needs a restart" "$NETD_LOG" || fail "socket change not reported"
[ -e "$TMP/elsewhere.sock" ] && fail "socket moved on reload"
ctl status >/dev/null || fail "not serving on the original socket"
stop_netd
ok "socket path change needs a restart"

# The command line wins over the file, also after a reload.
start_netd
[ -e "$TMP/elsewhere.sock" ] && fail "file socket path beat --socket"
kill -HUP "$NETD_PID"
for i in $(seq 50); do [ "$(status_field config_reloads)" = 1 ] && break; sleep 0.1; done
[ "$(status_field config_reloads)" = 1 ] || fail "reload with --socket"
[ -e "$TMP/elsewhere.sock" ] && fail "file socket path beat --socket after a reload"
stop_netd
ok "command line wins over the file"
