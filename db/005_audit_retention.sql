-- 005_audit_retention.sql: the audit trail may lose its oldest rows, and
-- only those (netd's retention: audit_max_rows, audit_max_days).
--
-- The table stays append-only otherwise: no update, no deletion of a row
-- while an older one is still there (the trail never gets a hole), and the
-- newest row is never deleted (so "DELETE FROM audit" still fails as a
-- whole).
-- netd deletes from the head in small steps and records each pruning as
-- an audit row of its own.
DROP TRIGGER audit_no_delete;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
WHEN OLD.id <> (SELECT min(id) FROM audit) OR OLD.id = (SELECT max(id) FROM audit)
BEGIN
    SELECT RAISE(ABORT, 'audit: only the oldest rows may be deleted (retention)');
END;
