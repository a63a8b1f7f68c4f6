-- 007_audit_outcomes.sql: the audit trail says what happened and who
-- asked, not only what was asked.
--
-- audit.outcome    JSON: what the call or event did, when it did
--                  something: the names a CreateLinks created
--                  ({"created": [...]}), the names a DeleteLinks removed
--                  ({"deleted": [...]}), the binding a BindFilter applied,
--                  the port an UnbindFilter freed, a Resync's counts; for
--                  netd's own rows (method 'netd.*' or 'kernel.*') the
--                  event's result (reason, counts, names). NULL: nothing
--                  beyond result (a refusal, an error).
-- audit.peer_comm  the caller's process name (/proc/PID/comm) read when it
--                  connected; NULL for netd's own rows or when unreadable
-- audit.peer_unit  the systemd unit the caller ran in (the last '.service'
--                  of /proc/PID/cgroup) when it connected, or NULL
-- Both peer_* are informational: read once at connect time for the pid
-- SO_PEERCRED gave; a process that exits early can have its pid reused.
-- See netd-db(5) for the queries an auditor runs.
ALTER TABLE audit ADD COLUMN outcome TEXT;
ALTER TABLE audit ADD COLUMN peer_comm TEXT;
ALTER TABLE audit ADD COLUMN peer_unit TEXT;

CREATE INDEX audit_method ON audit (method, time);
