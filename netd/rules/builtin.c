/*
 * builtin.c: the built-in filters, modelled on libvirt's filters of the
 * same names, written in the custom filter file format so that they go
 * through the same parser and checks as any file, and so that
 * rules_filter_json() shows them exactly like a custom filter.
 *
 * Bound to clean-traffic, a port with MAC M and address I: from the guest,
 * frames with a source MAC other than M are dropped (-800); IPv4 is
 * returned (let through) from I and for the DHCP discover from 0.0.0.0,
 * and dropped otherwise (-710..-690); ARP with a sender MAC other than M
 * is dropped (-500), ARP from I or 0.0.0.0 (probes) is let through and
 * other ARP dropped (-490..-480); towards the guest ARP and IPv4 are
 * accepted (500); the RARP announcement QEMU sends for the guest after a
 * migration (qemu-announce-self: request_reverse, broadcast, the guest's
 * MAC as sender and target, addresses 0.0.0.0) is accepted in both
 * directions (-400) and other RARP dropped (-390); everything else is
 * dropped in both directions (1000).
 *
 * libvirt puts some of these rules into sub-chains, where a return goes
 * back to the root chain; here a return leaves the port's chain (the
 * frame passes). Where that would differ, the filter says it in one chain:
 * clean-traffic-gateway lets IPv4 from the guest's addresses through only
 * towards the gateway's MAC, as libvirt's root chain does after its
 * ipv4-ip chain returns. libvirt's qemu-announce-self also accepts
 * ethertype 0x0835 (as its file has it); so does this one.
 */
#include "config.h"

#include <stddef.h>

#include "rules-internal.h"

const char *const rules_builtin_json[] = {
	"{\"name\": \"no-mac-spoofing\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"mac\", \"action\": \"drop\", \"priority\": -800,"
	" \"match\": false, \"src_mac\": \"$MAC\"}]}",

	"{\"name\": \"no-ip-spoofing\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"return\", \"priority\": -710,"
	" \"src_ip\": \"0.0.0.0\", \"dst_ip\": \"255.255.255.255\", \"ip_protocol\": \"udp\","
	" \"src_port\": \"68\", \"dst_port\": \"67\"},"
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"return\", \"priority\": -700,"
	" \"src_ip\": \"$IP\"},"
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"drop\", \"priority\": -690}]}",

	"{\"name\": \"no-arp-mac-spoofing\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"arp\", \"action\": \"drop\", \"priority\": -500,"
	" \"match\": false, \"arp_src_mac\": \"$MAC\"}]}",

	"{\"name\": \"no-arp-ip-spoofing\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"arp\", \"action\": \"return\", \"priority\": -490,"
	" \"arp_src_ip\": \"$IP\"},"
	"{\"direction\": \"out\", \"protocol\": \"arp\", \"action\": \"return\", \"priority\": -485,"
	" \"arp_src_ip\": \"0.0.0.0\"},"
	"{\"direction\": \"out\", \"protocol\": \"arp\", \"action\": \"drop\", \"priority\": -480}]}",

	"{\"name\": \"no-arp-spoofing\", \"filters\": [\"no-arp-mac-spoofing\", \"no-arp-ip-spoofing\"]}",

	"{\"name\": \"allow-arp\", \"rules\": ["
	"{\"direction\": \"inout\", \"protocol\": \"arp\", \"action\": \"accept\", \"priority\": 500}]}",

	"{\"name\": \"allow-dhcp\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"priority\": 100,"
	" \"ip_protocol\": \"udp\", \"src_port\": \"68\", \"dst_port\": \"67\"},"
	"{\"direction\": \"in\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"priority\": 100,"
	" \"ip_protocol\": \"udp\", \"src_port\": \"67\", \"dst_port\": \"68\"}]}",

	"{\"name\": \"allow-dhcp-server\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"priority\": 100,"
	" \"dst_ip\": \"255.255.255.255\", \"ip_protocol\": \"udp\","
	" \"src_port\": \"68\", \"dst_port\": \"67\"},"
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"priority\": 100,"
	" \"dst_ip\": \"$DHCPSERVER\", \"ip_protocol\": \"udp\", \"src_port\": \"68\", \"dst_port\": \"67\"},"
	"{\"direction\": \"in\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"priority\": 100,"
	" \"src_ip\": \"$DHCPSERVER\", \"ip_protocol\": \"udp\","
	" \"src_port\": \"67\", \"dst_port\": \"68\"}]}",

	"{\"name\": \"allow-incoming-ipv4\", \"rules\": ["
	"{\"direction\": \"in\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"priority\": 500}]}",

	"{\"name\": \"no-other-l2-traffic\", \"rules\": ["
	"{\"direction\": \"inout\", \"protocol\": \"all\", \"action\": \"drop\", \"priority\": 1000}]}",

	"{\"name\": \"clean-traffic\", \"filters\": [\"no-mac-spoofing\", \"no-ip-spoofing\","
	" \"no-arp-spoofing\", \"allow-arp\", \"allow-incoming-ipv4\", \"no-other-l2-traffic\","
	" \"qemu-announce-self\"]}",

	"{\"name\": \"no-ipv6-spoofing\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"ipv6\", \"action\": \"return\", \"priority\": -610,"
	" \"src_ip\": \"fe80::/10\", \"ip_protocol\": \"udp\"},"
	"{\"direction\": \"out\", \"protocol\": \"ipv6\", \"action\": \"return\", \"priority\": -600,"
	" \"src_ip\": \"$IP\"},"
	"{\"direction\": \"out\", \"protocol\": \"ipv6\", \"action\": \"drop\", \"priority\": -590}]}",

	"{\"name\": \"allow-incoming-ipv6\", \"rules\": ["
	"{\"direction\": \"in\", \"protocol\": \"ipv6\", \"action\": \"accept\", \"priority\": 500}]}",

	"{\"name\": \"allow-ipv4\", \"rules\": ["
	"{\"direction\": \"inout\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"priority\": 500}]}",

	"{\"name\": \"allow-ipv6\", \"rules\": ["
	"{\"direction\": \"inout\", \"protocol\": \"ipv6\", \"action\": \"accept\", \"priority\": 500}]}",

	"{\"name\": \"allow-dhcpv6\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"ipv6\", \"action\": \"accept\", \"priority\": 100,"
	" \"src_ip\": \"fe80::/10\", \"dst_ip\": \"ff02::1:2\", \"ip_protocol\": \"udp\","
	" \"src_port\": \"546\", \"dst_port\": \"547\"},"
	"{\"direction\": \"in\", \"protocol\": \"ipv6\", \"action\": \"accept\", \"priority\": 100,"
	" \"ip_protocol\": \"udp\", \"src_port\": \"547\", \"dst_port\": \"546\"}]}",

	"{\"name\": \"allow-dhcpv6-server\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"ipv6\", \"action\": \"accept\", \"priority\": 100,"
	" \"src_ip\": \"fe80::/10\", \"dst_ip\": \"ff02::1:2\", \"ip_protocol\": \"udp\","
	" \"src_port\": \"546\", \"dst_port\": \"547\"},"
	"{\"direction\": \"in\", \"protocol\": \"ipv6\", \"action\": \"accept\", \"priority\": 100,"
	" \"src_ip\": \"$DHCPSERVER\", \"ip_protocol\": \"udp\", \"src_port\": \"547\", \"dst_port\": \"546\"}]}",

	"{\"name\": \"no-ip-multicast\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"drop\", \"priority\": 500,"
	" \"dst_ip\": \"224.0.0.0/4\"}]}",

	"{\"name\": \"no-ipv6-multicast\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"ipv6\", \"action\": \"drop\", \"priority\": 500,"
	" \"dst_ip\": \"ff00::/8\"}]}",

	"{\"name\": \"no-mac-broadcast\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"drop\", \"priority\": 500,"
	" \"dst_mac\": \"ff:ff:ff:ff:ff:ff\"}]}",

	"{\"name\": \"no-other-rarp-traffic\", \"rules\": ["
	"{\"direction\": \"inout\", \"protocol\": \"rarp\", \"action\": \"drop\", \"priority\": -390}]}",

	"{\"name\": \"qemu-announce-self-rarp\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"rarp\", \"action\": \"accept\", \"priority\": -400,"
	" \"arp_op\": \"request_reverse\", \"src_mac\": \"$MAC\", \"dst_mac\": \"ff:ff:ff:ff:ff:ff\","
	" \"arp_src_mac\": \"$MAC\", \"arp_dst_mac\": \"$MAC\", \"arp_src_ip\": \"0.0.0.0\","
	" \"arp_dst_ip\": \"0.0.0.0\"},"
	"{\"direction\": \"in\", \"protocol\": \"rarp\", \"action\": \"accept\", \"priority\": -400,"
	" \"arp_op\": \"request_reverse\", \"dst_mac\": \"ff:ff:ff:ff:ff:ff\","
	" \"arp_src_mac\": \"$MAC\", \"arp_dst_mac\": \"$MAC\", \"arp_src_ip\": \"0.0.0.0\","
	" \"arp_dst_ip\": \"0.0.0.0\"}]}",

	"{\"name\": \"qemu-announce-self\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"mac\", \"action\": \"accept\", \"priority\": 500,"
	" \"ethertype\": \"0x0835\"}],"
	" \"filters\": [\"qemu-announce-self-rarp\", \"no-other-rarp-traffic\"]}",

	"{\"name\": \"clean-traffic-gateway\", \"rules\": ["
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"priority\": -710,"
	" \"dst_mac\": \"$GATEWAY_MAC\", \"src_ip\": \"0.0.0.0\", \"ip_protocol\": \"udp\"},"
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"accept\", \"priority\": -705,"
	" \"dst_mac\": \"$GATEWAY_MAC\", \"src_ip\": \"$IP\"},"
	"{\"direction\": \"out\", \"protocol\": \"ipv4\", \"action\": \"drop\", \"priority\": -700},"
	"{\"direction\": \"in\", \"protocol\": \"mac\", \"action\": \"accept\", \"priority\": 500,"
	" \"src_mac\": \"$GATEWAY_MAC\"},"
	"{\"direction\": \"out\", \"protocol\": \"mac\", \"action\": \"accept\", \"priority\": 500,"
	" \"dst_mac\": \"$GATEWAY_MAC\"}],"
	" \"filters\": [\"no-mac-spoofing\", \"no-arp-spoofing\", \"allow-arp\", \"no-other-l2-traffic\","
	" \"qemu-announce-self\"]}",
};

const size_t rules_builtin_count = sizeof(rules_builtin_json) / sizeof(rules_builtin_json[0]);
