/*
 * learn-pkt.h: the frames address learning learns from (learn-pkt.c):
 * a DHCP acknowledgement sent to the guest, or the guest's first ARP or
 * IPv4 packet, checked field by field; and the classic BPF programs that
 * let only such frames reach netd's packet socket. Pure: no I/O, no
 * logging.
 */
#ifndef NETD_FILTERS_LEARN_PKT_H
#define NETD_FILTERS_LEARN_PKT_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a binding learns its address. */
enum learn_mode {
	LEARN_NONE,
	LEARN_DHCP, /* from the DHCPACK a server sends to the guest */
	LEARN_ANY,  /* from the first ARP or IPv4 packet the guest sends */
};

/* "dhcp" / "any" / "none" and back; learn_mode_from_string() returns -EINVAL
 * for anything else (NULL included). */
const char *learn_mode_name(enum learn_mode m);
int learn_mode_from_string(const char *s, enum learn_mode *ret);

/* The most bytes of a frame the BPF programs pass up (a DHCP reply with
 * long options fits; a longer one is cut, and refused if its message type
 * option is beyond the cut). */
#define LEARN_SNAPLEN 2048

/* What a frame taught: the address (IPv4, network byte order) and, for
 * a DHCPACK, the IPv4 source of the packet (the server's address). */
struct learn_result {
	uint32_t addr;
	uint32_t server;
};

/*
 * An Ethernet frame (no VLAN tag) carrying a DHCPACK for mac: IPv4
 * without fragments, UDP 67 -> 68, BOOTREPLY for Ethernet with chaddr
 * mac, the magic cookie, option 53 present once with value 5 (ACK)
 * within the options field, the frame's destination mac or broadcast,
 * and yiaddr a usable unicast address (not 0/8, 127/8, multicast, 240/4
 * or broadcast). Every length is checked against len before it is read;
 * the options walk ends at len. 0 and *ret, or -EBADMSG (malformed, cut
 * short), -ENOMSG (well-formed but not an ACK for mac, or no usable
 * address). The direction (sent towards the guest) is the caller's to
 * check: it is not in the frame.
 */
int learn_parse_dhcp_ack(const uint8_t *frame, size_t len, const uint8_t mac[6],
			 struct learn_result *ret);

/*
 * An Ethernet frame (no VLAN tag) from mac (source address) carrying ARP
 * (Ethernet/IPv4, request or reply, sender hardware address mac) or
 * IPv4: the ARP sender's or the IPv4 source address, when it is a
 * usable unicast address (as above; 0.0.0.0 probes and DHCP discovers
 * teach nothing). 0 and *ret (server 0), -EBADMSG or -ENOMSG as above.
 */
int learn_parse_any(const uint8_t *frame, size_t len, const uint8_t mac[6], struct learn_result *ret);

/* Is a (network byte order) usable as a guest's unicast IPv4 address? */
bool learn_addr_usable(uint32_t a);

/* The classic BPF program of a mode (not LEARN_NONE), for SO_ATTACH_FILTER
 * on a packet socket of ETH_P_ALL: LEARN_DHCP passes frames the port
 * sends (PACKET_OUTGOING: towards the guest) that are IPv4 UDP 67 -> 68,
 * not fragments; LEARN_ANY passes ARP and IPv4 frames the port receives
 * (from the guest). Each passes at most LEARN_SNAPLEN bytes. Static. */
const struct sock_fprog *learn_bpf(enum learn_mode m);

#endif
