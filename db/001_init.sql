-- 001_init.sql: the audit trail.
--
-- Every mutating request netd receives (allowed or refused) gets one row,
-- written in the same transaction as the change it made. The triggers make
-- the table append-only for anyone using this database, netd included.
PRAGMA application_id = 1852142692; -- 'netd'

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    peer_uid    INTEGER NOT NULL,
    peer_gid    INTEGER NOT NULL,
    peer_pid    INTEGER NOT NULL,
    method      TEXT    NOT NULL,
    parameters  TEXT    NOT NULL,            -- the call's parameters, JSON
    result      TEXT    NOT NULL,            -- 'ok' or the varlink error name
    detail      TEXT                         -- the error's parameters, JSON
);

CREATE INDEX audit_time ON audit (time);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
