-- 004_checkpoint.sql: when the kernel last matched netd's fingerprints.
--
-- filter_checkpoint: at most one row. nf_tables bumps a per-namespace
-- generation with every committed change to any table. This row says that
-- at that generation, in that kernel boot and network namespace, every
-- fingerprint netd recorded (bindings' *_norm, roots) matched the kernel.
-- If the generation is still the same at start, nothing has changed since
-- and the *-save runs are skipped. Absent: verify with the saves.
--   kernel      boot_id '/' device:inode of the network namespace
--   generation  the nf_tables generation (NFT_MSG_GETGEN)

CREATE TABLE filter_checkpoint (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    kernel      TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    recorded    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
