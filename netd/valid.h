/*
 * valid.h: the one check of each kind of name and address a client may
 * send: interface names, owners, filter names, MAC addresses. Pure (libc
 * only), so links, filters, rules and netdctl share one definition of
 * what is acceptable.
 */
#ifndef NETD_VALID_H
#define NETD_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest owner string accepted (bytes). */
#define VALID_OWNER_MAX 64

/* A name of 1..max bytes of [A-Za-z0-9_.-], not starting with '-' (it
 * would read as an option to every tool ever handed it), not "." or "..".
 * NULL is not valid. */
bool valid_name(const char *s, size_t max);

/* A network interface name: valid_name() within IFNAMSIZ - 1 bytes. */
bool valid_ifname(const char *s);

/* An owner: 1..VALID_OWNER_MAX printable ASCII bytes. NULL is not valid. */
bool valid_owner(const char *s);

/* The value of one hexadecimal digit (either case), or -1. */
int valid_hexval(char c);

/* Parse exactly "aa:bb:cc:dd:ee:ff" (either case) into ret. Nothing past
 * the terminating NUL is read. 0 or -EINVAL; ret written only on success. */
int valid_parse_mac(const char *s, uint8_t ret[6]);

/* A MAC address a device may carry: not multicast, not all zeros. */
bool valid_mac_unicast(const uint8_t m[6]);

#endif
