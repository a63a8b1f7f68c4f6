-- 008_netdev_bindings.sql: bindings held by the nftables netdev backend.
--
-- A binding on a macvtap or macvlan port cannot be filtered by ebtables or
-- iptables (its traffic never crosses a bridge); netd renders it into its
-- own table "netdev netd", in base chains on the device's ingress and
-- egress hooks, applied with `nft -f` (netd/filters/netdev.c).
--   backend   'xtables': ebtables/iptables/ip6tables (eb_norm, ip4_norm,
--             ip6_norm hold its fingerprints); 'nftables': the netdev
--             table (nft_norm holds it)
--   nft_norm  SHA-256 of the binding's chains as `nft list table netdev
--             netd` printed them right after the last apply ('' if none)

ALTER TABLE bindings ADD COLUMN backend TEXT NOT NULL DEFAULT 'xtables'
    CHECK (backend IN ('xtables', 'nftables'));
ALTER TABLE bindings ADD COLUMN nft_norm TEXT NOT NULL DEFAULT '';
