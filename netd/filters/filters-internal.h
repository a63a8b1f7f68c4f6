/*
 * filters-internal.h: what the files of netd/filters/ share, and nobody
 * else.
 */
#ifndef NETD_FILTERS_INTERNAL_H
#define NETD_FILTERS_INTERNAL_H

#include <stdint.h>

/* --- nftgen.c --- */

/* The nf_tables ruleset generation of this network namespace: a counter
 * the kernel bumps with every committed change to any nf_tables table
 * (which is where the nft variants of ebtables, iptables and ip6tables
 * keep their rules). One request and its answer on a netfilter socket;
 * the kernel answers at once, so the loop does not wait on anything
 * slow. 0 or -errno. */
int nftgen_get(uint32_t *ret_gen);

#endif
