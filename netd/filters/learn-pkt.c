/*
 * learn-pkt.c: see learn-pkt.h. Reading frames a guest or a DHCP server
 * controls: every field is bounds-checked before it is read, nothing is
 * trusted from a length field without comparing it with what arrived,
 * and the work per frame is bounded by its length (one pass over the
 * DHCP options). Pure.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <string.h>

#include "learn-pkt.h"
#include "util.h"

#define ETH_HDR 14
#define BOOTP_FIXED 236 /* op .. file, before the magic cookie */
#define DHCP_OPT_TYPE 53
#define DHCP_ACK 5

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

const char *learn_mode_name(enum learn_mode m)
{
	return m == LEARN_DHCP ? "dhcp" : m == LEARN_ANY ? "any" : "none";
}

int learn_mode_from_string(const char *s, enum learn_mode *ret)
{
	static const enum learn_mode modes[] = { LEARN_NONE, LEARN_DHCP, LEARN_ANY };

	for (size_t i = 0; s && i < ELEMENTSOF(modes); i++)
		if (streq(s, learn_mode_name(modes[i]))) {
			*ret = modes[i];
			return 0;
		}
	return -EINVAL;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32n(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4); /* stays in network byte order */
	return v;
}

bool learn_addr_usable(uint32_t a)
{
	uint32_t h = ntohl(a);

	return (h >> 24) != 0 && (h >> 24) != 127 && (h >> 28) != 0xe && (h >> 28) != 0xf;
}

/* The IPv4 packet at p (n bytes): its header length, or -EBADMSG. The
 * total length must fit in n (a frame may carry padding after it);
 * fragments are refused. */
static int ipv4_header(const uint8_t *p, size_t n, size_t *ret_total)
{
	size_t ihl, total;

	if (n < 20 || (p[0] >> 4) != 4)
		return -EBADMSG;
	ihl = (size_t)(p[0] & 0xf) * 4;
	total = get16(p + 2);
	if (ihl < 20 || total < ihl || total > n)
		return -EBADMSG;
	if (get16(p + 6) & 0x3fff) /* MF or an offset */
		return -EBADMSG;
	*ret_total = total;
	return (int)ihl;
}

/* The DHCP message type in the options at p (n bytes): one pass, each
 * option's length checked. -EBADMSG if an option runs past the end or
 * the type is given twice; -ENOMSG if there is none. */
static int dhcp_msg_type(const uint8_t *p, size_t n)
{
	int type = -ENOMSG;
	size_t i = 0;

	while (i < n) {
		uint8_t code = p[i], olen;

		if (code == 0) { /* pad */
			i++;
			continue;
		}
		if (code == 255) /* end */
			break;
		if (i + 2 > n)
			return -EBADMSG;
		olen = p[i + 1];
		if (i + 2 + olen > n)
			return -EBADMSG;
		if (code == DHCP_OPT_TYPE) {
			if (olen != 1 || type != -ENOMSG)
				return -EBADMSG;
			type = p[i + 2];
		}
		i += 2 + (size_t)olen;
	}
	return type;
}

int learn_parse_dhcp_ack(const uint8_t *frame, size_t len, const uint8_t mac[6],
			 struct learn_result *ret)
{
	const uint8_t *ip, *udp, *bootp;
	size_t total, ulen;
	uint32_t yiaddr;
	int ihl, type;

	if (!frame || !mac || !ret || len < ETH_HDR)
		return -EBADMSG;
	if (get16(frame + 12) != ETH_P_IP)
		return -ENOMSG;
	if (memcmp(frame, mac, 6) != 0 && memcmp(frame, bcast, 6) != 0)
		return -ENOMSG;
	ip = frame + ETH_HDR;
	ihl = ipv4_header(ip, len - ETH_HDR, &total);
	if (ihl < 0)
		return ihl;
	if (ip[9] != IPPROTO_UDP)
		return -ENOMSG;
	udp = ip + ihl;
	if (total - (size_t)ihl < 8)
		return -EBADMSG;
	if (get16(udp) != 67 || get16(udp + 2) != 68)
		return -ENOMSG;
	ulen = get16(udp + 4);
	if (ulen < 8 || ulen > total - (size_t)ihl)
		return -EBADMSG;
	bootp = udp + 8;
	ulen -= 8;
	if (ulen < BOOTP_FIXED + 4)
		return -EBADMSG;
	if (bootp[0] != 2 || bootp[1] != 1 || bootp[2] != 6) /* BOOTREPLY, Ethernet, 6 */
		return -ENOMSG;
	if (memcmp(bootp + 28, mac, 6) != 0) /* chaddr */
		return -ENOMSG;
	if (bootp[236] != 99 || bootp[237] != 130 || bootp[238] != 83 || bootp[239] != 99)
		return -EBADMSG;
	type = dhcp_msg_type(bootp + BOOTP_FIXED + 4, ulen - BOOTP_FIXED - 4);
	if (type < 0)
		return type;
	if (type != DHCP_ACK)
		return -ENOMSG;
	yiaddr = get32n(bootp + 16);
	if (!learn_addr_usable(yiaddr))
		return -ENOMSG;
	*ret = (struct learn_result){ .addr = yiaddr, .server = get32n(ip + 12) };
	return 0;
}

int learn_parse_any(const uint8_t *frame, size_t len, const uint8_t mac[6], struct learn_result *ret)
{
	uint32_t a;

	if (!frame || !mac || !ret || len < ETH_HDR)
		return -EBADMSG;
	if (memcmp(frame + 6, mac, 6) != 0)
		return -ENOMSG;
	if (get16(frame + 12) == ETH_P_ARP) {
		const uint8_t *arp = frame + ETH_HDR;

		if (len - ETH_HDR < 28)
			return -EBADMSG;
		if (get16(arp) != 1 || get16(arp + 2) != ETH_P_IP || arp[4] != 6 || arp[5] != 4)
			return -ENOMSG;
		if (get16(arp + 6) != 1 && get16(arp + 6) != 2)
			return -ENOMSG;
		if (memcmp(arp + 8, mac, 6) != 0)
			return -ENOMSG;
		a = get32n(arp + 14);
	} else if (get16(frame + 12) == ETH_P_IP) {
		size_t total;
		int ihl = ipv4_header(frame + ETH_HDR, len - ETH_HDR, &total);

		if (ihl < 0)
			return ihl;
		a = get32n(frame + ETH_HDR + 12);
	} else {
		return -ENOMSG;
	}
	if (!learn_addr_usable(a))
		return -ENOMSG;
	*ret = (struct learn_result){ .addr = a };
	return 0;
}

/* The kernel's ancillary load of skb->pkt_type. */
#define LD_PKTTYPE BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE))

static struct sock_filter bpf_dhcp[] = {
	LD_PKTTYPE,
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 0, 10),
	BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 8),
	BPF_STMT(BPF_LD | BPF_B | BPF_ABS, ETH_HDR + 9),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),
	BPF_STMT(BPF_LD | BPF_H | BPF_ABS, ETH_HDR + 6),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, 4, 0),
	BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, ETH_HDR),
	BPF_STMT(BPF_LD | BPF_W | BPF_IND, ETH_HDR), /* source and destination port */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (67u << 16) | 68u, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, LEARN_SNAPLEN),
	BPF_STMT(BPF_RET | BPF_K, 0),
};

static struct sock_filter bpf_any[] = {
	LD_PKTTYPE,
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 4, 0),
	BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 1, 0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_ARP, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, LEARN_SNAPLEN),
	BPF_STMT(BPF_RET | BPF_K, 0),
};

const struct sock_fprog *learn_bpf(enum learn_mode m)
{
	static const struct sock_fprog dhcp = { ELEMENTSOF(bpf_dhcp), bpf_dhcp };
	static const struct sock_fprog any = { ELEMENTSOF(bpf_any), bpf_any };

	return m == LEARN_DHCP ? &dhcp : m == LEARN_ANY ? &any : NULL;
}
