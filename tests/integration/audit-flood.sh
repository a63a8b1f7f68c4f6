#!/bin/bash
# The audit trail cannot be flooded: 60 refused 1 MB calls of an
# unprivileged uid are audited without their parameters, past the burst
# only counted into one summary row, and the database grows by little.
# Retention: netd prunes the table down to audit_max_rows (and rows older
# than audit_max_days) in steps, and records each pruning.
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || skip "needs setpriv"
command -v sqlite3 >/dev/null || skip "needs sqlite3"
as_uid() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
db_bytes() { cat "$DB" "$DB-wal" 2>/dev/null | wc -c; }

cat > "$CONF" <<CONF
[netd]
audit_refusal_burst = 5
audit_refusal_interval_ms = 30000
CONF
start_netd

# 60 CreateLinks calls of 1,000,000 bytes each, pipelined on one
# connection by uid 65534.
{
	printf '{"method":"io.netd.CreateLinks","parameters":{"links":[{"parent":"'
	head -c 1000000 /dev/zero | tr '\0' a
	printf '"}]}}\0'
} > "$TMP/call"
chmod 644 "$TMP/call"
before=$(db_bytes)
t0=$(date +%s.%N)
as_uid 65534 "$VLCLIENT" repeat "$SOCK" "$TMP/call" 60 > "$TMP/replies" || fail "replies: $(cat "$TMP/replies")"
t1=$(date +%s.%N)
grep -qx 'io.netd.PermissionDenied 60' "$TMP/replies" || fail "expected 60 refusals: $(cat "$TMP/replies")"
ctl status >/dev/null || fail "root's status after the flood"
after=$(db_bytes)
growth=$((after - before))
echo "database (with WAL) $before -> $after bytes (+$growth) for 60 refused 1 MB calls in $(echo "$t1 - $t0" | bc) s"
[ "$growth" -lt 1048576 ] || fail "the database grew by $growth bytes"
rows=$(db "SELECT count(*) FROM audit WHERE peer_uid = 65534 AND result = 'io.netd.PermissionDenied'")
[ "$rows" = 5 ] || fail "expected 5 refusal rows (the burst), got $rows"
[ "$(db "SELECT count(*) FROM audit WHERE peer_uid = 65534 AND parameters <> 'null'")" = 0 ] ||
	fail "a refusal row holds the call's parameters"
db "SELECT method, peer_pid, result FROM audit WHERE peer_uid = 65534 LIMIT 1" | grep -q '^io.netd.CreateLinks|[1-9][0-9]*|io.netd.PermissionDenied$' ||
	fail "refusal row: $(db "SELECT * FROM audit WHERE peer_uid = 65534 LIMIT 1")"
[ "$(status_field refusals_suppressed)" = 55 ] || fail "refusals_suppressed: $(status_field refusals_suppressed)"
# A stop (like the end of the interval) writes the summary row that
# counts the other 55.
stop_netd
summary=$(db "SELECT detail FROM audit WHERE method = 'netd.RefusalsSuppressed' AND peer_uid = 65534")
case $summary in *'"count":55,'*'"summary":"55 more refusals from uid 65534 between '*' and '*) ;; *) fail "summary row: '$summary'" ;; esac
ok "60 refused 1 MB calls: 5 rows without parameters and one summary row, database +$growth bytes"

# Retention by rows: 2000 rows, audit_max_rows = 100.
db "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)
    INSERT INTO audit (peer_uid, peer_gid, peer_pid, method, parameters, result)
    SELECT 1000, 1000, i, 'io.netd.Test', '{}', 'ok' FROM c"
total=$(db "SELECT count(*) FROM audit")
printf '[netd]\naudit_max_rows = 100\n' > "$CONF"
start_netd
for i in $(seq 100); do
	[ "$(db "SELECT count(*) FROM audit WHERE method = 'netd.AuditPrune'")" -ge 1 ] && break
	sleep 0.1
done
rows=$(db "SELECT count(*) FROM audit")
[ "$rows" = 100 ] || fail "expected 100 rows after pruning, got $rows"
detail=$(db "SELECT detail FROM audit WHERE method = 'netd.AuditPrune'")
steps=$(echo "$detail" | sed -n 's/.*"steps":\([0-9]*\).*/\1/p')
deleted=$(echo "$detail" | sed -n 's/.*"deleted":\([0-9]*\).*/\1/p')
[ "$deleted" = $((total - 99)) ] || fail "pruning record: $detail (of $total rows)"
[ "$steps" -ge 2 ] || fail "pruned in one step: $detail"
[ "$(status_field audit_rows_pruned)" = "$deleted" ] || fail "audit_rows_pruned"
[ "$(db "SELECT max(id) - min(id) + 1 FROM audit")" = 100 ] || fail "the trail has a hole"
ok "audit_max_rows: $total rows pruned to 100 in $steps steps, recorded ($detail)"
sqlite3 "$DB" "DELETE FROM audit" 2>/dev/null && fail "audit rows can be deleted by anyone"
stop_netd

# Retention by age: 300 rows from 2001 go, the recent ones stay.
db "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300)
    INSERT INTO audit (time, peer_uid, peer_gid, peer_pid, method, parameters, result)
    SELECT '2001-01-01T00:00:00.000Z', 1000, 1000, i, 'io.netd.Test', '{}', 'ok' FROM c"
# Old rows are after the recent ones here: move them to the head.
db "CREATE TEMP TABLE k AS SELECT * FROM audit ORDER BY time, id;
    DROP TRIGGER audit_no_delete; DELETE FROM audit; DELETE FROM sqlite_sequence WHERE name = 'audit';
    INSERT INTO audit (time, peer_uid, peer_gid, peer_pid, method, parameters, result, detail)
    SELECT time, peer_uid, peer_gid, peer_pid, method, parameters, result, detail FROM k;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    WHEN OLD.id <> (SELECT min(id) FROM audit) OR OLD.id = (SELECT max(id) FROM audit)
    BEGIN SELECT RAISE(ABORT, 'audit: only the oldest rows may be deleted (retention)'); END;"
recent=$(db "SELECT count(*) FROM audit WHERE time > '2002'")
printf '[netd]\naudit_max_rows = 0\naudit_max_days = 30\n' > "$CONF"
start_netd
for i in $(seq 100); do
	[ "$(db "SELECT count(*) FROM audit WHERE time < '2002'")" = 0 ] && break
	sleep 0.1
done
[ "$(db "SELECT count(*) FROM audit WHERE time < '2002'")" = 0 ] || fail "rows older than 30 days kept"
for i in $(seq 30); do
	[ "$(db "SELECT count(*) FROM audit WHERE method = 'netd.AuditPrune' AND detail LIKE '%\"deleted\":300,%'")" = 1 ] && break
	sleep 0.1
done
[ "$(db "SELECT count(*) FROM audit WHERE method = 'netd.AuditPrune' AND detail LIKE '%\"deleted\":300,%'")" = 1 ] ||
	fail "age pruning not recorded: $(db "SELECT detail FROM audit WHERE method = 'netd.AuditPrune'")"
[ "$(db "SELECT count(*) FROM audit WHERE time > '2002'")" -ge "$recent" ] || fail "recent rows pruned"
ok "audit_max_days: 300 rows older than 30 days pruned, $recent recent rows kept"
stop_netd

# The end of an interval (not only a stop) writes the summary row.
printf '[netd]\naudit_refusal_burst = 1\naudit_refusal_interval_ms = 1000\n' > "$CONF"
start_netd
printf '{"method":"io.netd.DeleteLinks","parameters":{"names":["x"]}}\0' > "$TMP/small"
chmod 644 "$TMP/small"
as_uid 65533 "$VLCLIENT" repeat "$SOCK" "$TMP/small" 3 > "$TMP/replies3" || fail "replies: $(cat "$TMP/replies3")"
summary=
for i in $(seq 50); do
	summary=$(db "SELECT detail FROM audit WHERE method = 'netd.RefusalsSuppressed' AND peer_uid = 65533")
	[ -n "$summary" ] && break
	sleep 0.1
done
case $summary in *'"summary":"2 more refusals from uid 65533 between '*) ;; *) fail "summary at the end of the interval: '$summary'" ;; esac
ok "the summary row is written when the interval ends"
stop_netd

# Refusals before any dispatch are audited the same way, whoever calls:
# an unknown method and a call that cannot be decoded (each with 1 MB of
# parameters), and a connection the limits refuse. One row each up to the
# burst, never the parameters; the rest counted into the summary row.
printf '[netd]\naudit_refusal_burst = 5\naudit_refusal_interval_ms = 30000\nmax_clients_per_uid = 2\n' > "$CONF"
start_netd
before=$(db_bytes)
{
	printf '{"method":"io.netd.NoSuchMethod","parameters":{"x":"'
	head -c 1000000 /dev/zero | tr '\0' a
	printf '"}}\0'
} > "$TMP/unknown"
{
	printf '{"method":5,"parameters":{"x":"'
	head -c 1000000 /dev/zero | tr '\0' a
	printf '"}}\0'
} > "$TMP/undecodable"
chmod 644 "$TMP/unknown" "$TMP/undecodable"
as_uid 65532 "$VLCLIENT" repeat "$SOCK" "$TMP/unknown" 20 > "$TMP/r-unknown" || fail "replies: $(cat "$TMP/r-unknown")"
grep -qx 'org.varlink.service.MethodNotFound 20' "$TMP/r-unknown" || fail "expected 20 MethodNotFound: $(cat "$TMP/r-unknown")"
as_uid 65532 "$VLCLIENT" repeat "$SOCK" "$TMP/undecodable" 20 > "$TMP/r-undec" || fail "replies: $(cat "$TMP/r-undec")"
grep -qx 'org.varlink.service.InvalidParameter 20' "$TMP/r-undec" || fail "expected 20 InvalidParameter: $(cat "$TMP/r-undec")"
as_uid 65531 "$VLCLIENT" repeat "$SOCK" "$TMP/undecodable" 1 > /dev/null || fail "uid 65531's call"
as_uid 65530 "$VLCLIENT" hold "$SOCK" 3 0 0 > "$TMP/hold" || true
growth=$(( $(db_bytes) - before ))
[ "$growth" -lt 1048576 ] || fail "40 refused 1 MB calls grew the database by $growth bytes"
[ "$(db "SELECT count(*) FROM audit WHERE peer_uid = 65532")" = 5 ] ||
	fail "uid 65532: $(db "SELECT count(*) FROM audit WHERE peer_uid = 65532") rows, not the burst of 5"
[ "$(db "SELECT count(*) FROM audit WHERE peer_uid IN (65530, 65531, 65532) AND parameters <> 'null'")" = 0 ] ||
	fail "a refusal row holds the call's parameters"
db "SELECT method, peer_pid, result FROM audit WHERE peer_uid = 65532 LIMIT 1" | grep -q '^io.netd.NoSuchMethod|[1-9][0-9]*|org.varlink.service.MethodNotFound$' ||
	fail "MethodNotFound row: $(db "SELECT method, peer_pid, result FROM audit WHERE peer_uid = 65532 LIMIT 1")"
db "SELECT method, peer_pid, result FROM audit WHERE peer_uid = 65531" | grep -qx '|[1-9][0-9]*|org.varlink.service.InvalidParameter' ||
	fail "undecodable call's row: $(db "SELECT method, peer_pid, result FROM audit WHERE peer_uid = 65531")"
db "SELECT method, result FROM audit WHERE peer_uid = 65530" | grep -qx '|io.netd.TooManyClientsForUser' ||
	fail "refused connection's row: $(db "SELECT method, result FROM audit WHERE peer_uid = 65530"); hold: $(cat "$TMP/hold")"
[ "$(status_field refusals_suppressed)" = 35 ] || fail "refusals_suppressed: $(status_field refusals_suppressed)"
stop_netd
summary=$(db "SELECT detail FROM audit WHERE method = 'netd.RefusalsSuppressed' AND peer_uid = 65532")
case $summary in *'"count":35,'*) ;; *) fail "uid 65532's summary row: '$summary'" ;; esac
ok "refused before dispatch (40 unknown or undecodable 1 MB calls, a connection over the limit): audited without parameters, rate-limited (5 rows, 35 in the summary), database +$growth bytes"
