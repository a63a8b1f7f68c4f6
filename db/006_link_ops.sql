-- 006_link_ops.sql: which call a link's intent belongs to, until the call
-- is answered.
--
-- links.op: the id of the CreateLinks call that wrote the row, set on its
--   intent rows and kept while the call runs; cleared (NULL) in the same
--   transaction as the one that queues the call's reply. A row whose op is
--   not NULL at start belongs to a call that never got its answer: the
--   next start rolls it back (the device is deleted, the name released),
--   so a create stays all or nothing across a crash.
ALTER TABLE links ADD COLUMN op INTEGER;

CREATE INDEX links_op ON links (op) WHERE op IS NOT NULL;
