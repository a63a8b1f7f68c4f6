-- 003_filters.sql: packet filter bindings.
--
-- bindings: one row per port with a filter bound to it.
--   desired_hash  SHA-256 of the rendered restore text (renderer version
--                 included) for the binding as it is now
--   applied_hash  the desired_hash of the last successful apply; '' if none
--   eb_norm, ip4_norm, ip6_norm
--                 SHA-256 of the binding's chains as *tables-save printed
--                 them right after that apply ('' where it has none):
--                 what a restart compares the kernel's chains against
--   state         'pending' (waiting for the next batch), 'applied',
--                 'failed' (error says why), 'removing'
-- roots: per family, the same fingerprint of netd's dispatch chains.

CREATE TABLE bindings (
    port          TEXT    PRIMARY KEY,
    filter        TEXT    NOT NULL,
    owner         TEXT    NOT NULL,
    parameters    TEXT    NOT NULL,         -- JSON: MAC, IP [...], DHCPSERVER [...]
    desired_hash  TEXT    NOT NULL,
    applied_hash  TEXT    NOT NULL DEFAULT '',
    eb_norm       TEXT    NOT NULL DEFAULT '',
    ip4_norm      TEXT    NOT NULL DEFAULT '',
    ip6_norm      TEXT    NOT NULL DEFAULT '',
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'applied', 'failed', 'removing')),
    error         TEXT,
    created       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    applied       TEXT
);

CREATE INDEX bindings_owner ON bindings (owner);
CREATE INDEX bindings_filter ON bindings (filter);

CREATE TABLE roots (
    family  TEXT PRIMARY KEY CHECK (family IN ('eb', 'ip4', 'ip6')),
    norm    TEXT NOT NULL
);
