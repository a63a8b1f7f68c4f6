#!/bin/bash
# Helper programs are started by netd's spawner process. Killed with
# SIGKILL while a restore runs, the spawner is replaced: the run it held
# is killed with its process group, the call waiting for it is answered,
# and the next binds apply through the new spawner. The real
# ebtables-restore does the work; a wrapper in front of it stalls on
# input that names the port "slow" and notes its pid.
. "$(dirname "$0")/lib.sh"

wrap_restore ebtables-restore <<WRAP
case \$input in
*N-O-slow*) echo \$\$ > "$TMP/slow.pid"; sleep 30 ;;
esac
WRAP

spawner_of() { pgrep -P "$1" -x netd-spawner; }

printf '[netd]\nhelper_timeout_ms = 20000\n' > "$CONF"
for p in a1 slow a2; do ip -n "$NS" link add "$p" type veth peer name "$p-p"; done
PATH=$TMP/bin:$PATH start_netd

ctl filter bind --port a1 --filter clean-traffic --owner o >/dev/null || fail "bind a1"
sp=$(spawner_of "$NETD_PID") || fail "no spawner process under netd"
[ "$(status_field spawner_restarts)" = 0 ] || fail "spawner_restarts is not 0"
[ "$(cut -d' ' -f4 "/proc/$sp/stat")" = "$NETD_PID" ] || fail "the spawner is not netd's child"
ok "a1 applied; the spawner is pid $sp"

# A restore stalls; the spawner is killed meanwhile.
t0=$(date +%s)
ctl filter bind --port slow --filter clean-traffic --owner o >"$TMP/out" 2>"$TMP/err" &
bind=$!
for _ in $(seq 100); do [ -s "$TMP/slow.pid" ] && break; sleep 0.1; done
[ -s "$TMP/slow.pid" ] || fail "the slow restore did not start"
slow=$(cat "$TMP/slow.pid")
kill -9 "$sp"
wait $bind; rc=$?
t1=$(date +%s)
[ $((t1 - t0)) -lt 10 ] || fail "the call waited $((t1 - t0)) s for a run the dead spawner held"
for _ in $(seq 50); do kill -0 "$slow" 2>/dev/null || break; sleep 0.1; done
kill -0 "$slow" 2>/dev/null && fail "the stalled restore (pid $slow) still runs"
grep -q "the spawner process (pid $sp) is gone; starting another" "$NETD_LOG" || fail "the loss is not logged"
sp2=$(spawner_of "$NETD_PID") || fail "no new spawner"
[ "$sp2" != "$sp" ] || fail "the same spawner pid"
[ "$(status_field spawner_restarts)" = 1 ] || fail "spawner_restarts is not 1: $(status_field spawner_restarts)"
[ $rc = 1 ] && grep -q 'io.netd.ApplyFailed.*the spawner process died while it ran' "$TMP/err" ||
	fail "the call: exit $rc: $(cat "$TMP/out" "$TMP/err")"
ok "spawner killed during a restore: the call answered in $((t1 - t0)) s (exit $rc), the restore's group killed, a new spawner (pid $sp2)"

# The daemon keeps working through the new spawner.
ctl filter bind --port a2 --filter clean-traffic --owner o >/dev/null || fail "bind a2 after the spawner's death"
ctl filter list | grep -q '^a2  *clean-traffic  *applied' || fail "a2 not applied: $(ctl filter list)"
ctl filter list | grep -q '^a1  *clean-traffic  *applied' || fail "a1 lost: $(ctl filter list)"
in_ns ebtables-save | grep -q '^:N-O-a2' || fail "a2's chains are not in the kernel"
ok "a2 applied after the spawner was replaced; a1 still applied"
stop_netd
