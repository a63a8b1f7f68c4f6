-- 002_links.sql: the links netd made and the names it knows.
--
-- names: one row per taken index of a name prefix (the persisted bitmap).
--   owned     a link of netd's has this name (see links)
--   foreign   a device netd did not make has this name; netd skips it
--   releasing netd is deleting the link; the index is free only after the
--             kernel confirmed the deletion
-- links: one row per link netd made. state is the crash-safety intent:
--   creating  written before the kernel request, settled after its ack
--   present   the kernel confirmed it
--   deleting  written before the deletion, the row goes after the kernel
--             confirmed it
-- A kill -9 at any moment leaves rows that the next start reconciles with
-- the kernel's links.

CREATE TABLE names (
    prefix  TEXT    NOT NULL,
    idx     INTEGER NOT NULL CHECK (idx >= 0),
    state   TEXT    NOT NULL CHECK (state IN ('owned', 'foreign', 'releasing')),
    name    TEXT    NOT NULL UNIQUE,
    PRIMARY KEY (prefix, idx)
);

CREATE TABLE links (
    name     TEXT    PRIMARY KEY,
    ifindex  INTEGER NOT NULL DEFAULT 0,    -- 0 until the kernel said
    kind     TEXT    NOT NULL CHECK (kind IN ('macvtap', 'macvlan')),
    mode     TEXT    NOT NULL CHECK (mode IN ('bridge', 'vepa', 'private', 'passthru')),
    parent   TEXT    NOT NULL,
    mac      TEXT,                          -- aa:bb:cc:dd:ee:ff once known
    owner    TEXT    NOT NULL,
    state    TEXT    NOT NULL CHECK (state IN ('creating', 'present', 'deleting')),
    created  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX links_owner ON links (owner);
