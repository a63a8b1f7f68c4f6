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
 * accepted (500); everything else is dropped in both directions (1000).
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
	" \"no-arp-spoofing\", \"allow-arp\", \"allow-incoming-ipv4\", \"no-other-l2-traffic\"]}",
};

const size_t rules_builtin_count = sizeof(rules_builtin_json) / sizeof(rules_builtin_json[0]);
