-- 010_render_inputs.sql: what a binding's rendering was made from, so
-- that a start renders only the bindings whose inputs changed.
--
--   input_hash  SHA-256 of everything desired_hash was rendered from: the
--               backend, the port, the parameters, and a digest of the
--               filter's definition, of every filter it references and of
--               the renderer (its version and its output for fixed
--               parameters); '' when unknown (rendered by an older netd,
--               never rendered, or still learning its address). A start
--               that computes the same value takes desired_hash and chains
--               as they are instead of rendering the binding again
--   chains      which chains that rendering has: bit 2*F for N-I-<port>
--               and bit 2*F+1 for N-O-<port> in family F (0 eb, 1 ip4,
--               2 ip6); bits 6 and 7 for the same chains in table netdev
--               netd (backend 'nftables')

ALTER TABLE bindings ADD COLUMN input_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE bindings ADD COLUMN chains INTEGER NOT NULL DEFAULT 0;
