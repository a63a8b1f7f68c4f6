-- 009_address_learning.sql: bindings whose IP address netd learns.
--
-- A binding may ask for its $IP to be learned instead of given
-- (BindFilter's learning): until the address is known, the port holds
-- netd's learning rules (DHCP only, or DHCP, ARP and IPv4 from any source
-- address) and netd watches the port; once learned, the address is in
-- parameters' IP like a given one and the binding is applied again with it.
--   learning    '' (a given address, or none), 'dhcp' (from the DHCPACK a
--               server sends to the guest), 'any' (from the guest's first
--               ARP or IPv4 packet)
--   learned_at  when the address was learned (UTC); NULL while learning,
--               and for bindings that do not learn

ALTER TABLE bindings ADD COLUMN learning TEXT NOT NULL DEFAULT ''
    CHECK (learning IN ('', 'dhcp', 'any'));
ALTER TABLE bindings ADD COLUMN learned_at TEXT;
