/*
 * test_learn_pkt.c: the frames address learning reads (learn-pkt.c):
 * a DHCPACK for the guest's MAC is learned from; every other DHCP
 * message, an ACK for another MAC, from the wrong port pair, with a bad
 * cookie, cut short at every length, with an option running past the
 * end, with two message types, fragments and unusable addresses are
 * refused. The same for the guest's first ARP or IPv4 packet. The BPF
 * programs, run by a small interpreter, pass exactly those frames.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "filters/learn-pkt.h"

static const uint8_t guest[6] = { 0x02, 0, 0, 0, 0x01, 0x11 };
static const uint8_t other[6] = { 0x02, 0, 0, 0, 0x01, 0x12 };
static const uint8_t server[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };

struct ack {
	const uint8_t *dst, *chaddr;
	uint8_t op, msgtype;
	const char *yiaddr;
	uint16_t sport, dport, frag;
	bool bad_cookie, twice, overrun;
};

/* A DHCP reply as a server sends it; its length. */
static size_t build_ack(uint8_t *f, const struct ack *a)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *b = udp + 8, *o;
	size_t blen, n;
	uint32_t y;

	memset(f, 0, 1024);
	memcpy(f, a->dst ? a->dst : guest, 6);
	memcpy(f + 6, server, 6);
	f[12] = 0x08;
	b[0] = a->op ? a->op : 2;
	b[1] = 1;
	b[2] = 6;
	inet_pton(AF_INET, a->yiaddr ? a->yiaddr : "10.9.0.100", &y);
	memcpy(b + 16, &y, 4);
	memcpy(b + 28, a->chaddr ? a->chaddr : guest, 6);
	memcpy(b + 236, a->bad_cookie ? "\x63\x82\x53\x64" : "\x63\x82\x53\x63", 4);
	o = b + 240;
	*o++ = 1, *o++ = 4, o += 4;   /* netmask */
	*o++ = 53, *o++ = 1, *o++ = a->msgtype ? a->msgtype : 5;
	if (a->twice)
		*o++ = 53, *o++ = 1, *o++ = 5;
	*o++ = 0; /* pad */
	if (a->overrun) {
		*o++ = 51, *o++ = 200; /* runs past the end */
	} else {
		*o++ = 51, *o++ = 4, o += 4;
		*o++ = 255;
	}
	blen = (size_t)(o - b);
	udp[0] = 0, udp[1] = (uint8_t)(a->sport ? a->sport : 67);
	udp[2] = 0, udp[3] = (uint8_t)(a->dport ? a->dport : 68);
	udp[4] = (uint8_t)((blen + 8) >> 8), udp[5] = (uint8_t)(blen + 8);
	ip[0] = 0x45;
	n = 20 + 8 + blen;
	ip[2] = (uint8_t)(n >> 8), ip[3] = (uint8_t)n;
	ip[6] = (uint8_t)(a->frag >> 8), ip[7] = (uint8_t)a->frag;
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, "10.9.0.1", ip + 12);
	inet_pton(AF_INET, "10.9.0.100", ip + 16);
	return 14 + n;
}

static void test_ack_learned(void **state)
{
	uint8_t f[1024];
	struct learn_result r = { 0 };
	char a[INET_ADDRSTRLEN];
	size_t n = build_ack(f, &(struct ack){ 0 });

	(void)state;
	assert_int_equal(learn_parse_dhcp_ack(f, n, guest, &r), 0);
	assert_string_equal(inet_ntop(AF_INET, &r.addr, a, sizeof(a)), "10.9.0.100");
	assert_string_equal(inet_ntop(AF_INET, &r.server, a, sizeof(a)), "10.9.0.1");
	/* Padding after the IPv4 packet (a short frame padded) is fine. */
	assert_int_equal(learn_parse_dhcp_ack(f, n + 20, guest, &r), 0);
	/* Broadcast to the guest (its broadcast flag), chaddr still its. */
	n = build_ack(f, &(struct ack){ .dst = (const uint8_t *)"\xff\xff\xff\xff\xff\xff" });
	assert_int_equal(learn_parse_dhcp_ack(f, n, guest, &r), 0);
}

static void test_ack_refused(void **state)
{
	static const struct ack bad[] = {
		{ .dst = other },                      /* to another guest's MAC */
		{ .chaddr = other },                   /* for another guest */
		{ .op = 1 },                           /* a request (BOOTREQUEST) */
		{ .msgtype = 2 },                      /* DHCPOFFER */
		{ .msgtype = 6 },                      /* DHCPNAK */
		{ .sport = 68, .dport = 67 },          /* from the client side */
		{ .sport = 53 },
		{ .yiaddr = "0.0.0.0" },
		{ .yiaddr = "127.0.0.1" },
		{ .yiaddr = "224.0.0.1" },
		{ .yiaddr = "255.255.255.255" },
		{ .yiaddr = "240.0.0.1" },
		{ .frag = 0x2000 },                    /* more fragments */
		{ .frag = 0x0001 },                    /* an offset */
		{ .bad_cookie = true },
		{ .twice = true },
		{ .overrun = true },
	};
	uint8_t f[1024];
	struct learn_result r = { .addr = 42 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = build_ack(f, &bad[i]);

		assert_true(learn_parse_dhcp_ack(f, n, guest, &r) < 0);
	}
	assert_int_equal(r.addr, 42); /* untouched */
}

static void test_ack_cut_short(void **state)
{
	uint8_t f[1024];
	struct learn_result r;
	size_t n = build_ack(f, &(struct ack){ 0 });

	(void)state;
	/* Every cut before the message type option is refused, and nothing
	 * past the cut is read (ASan would see it in a copy of that size). */
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t g[1024];

		memcpy(g, f, cut);
		if (cut < 14 + 20 + 8 + 240 + 6 + 3)
			assert_true(learn_parse_dhcp_ack(g, cut, guest, &r) < 0);
	}
	/* A total length beyond the frame, a header length below 20, a UDP
	 * length beyond the packet, a VLAN tag, IPv6. */
	f[14 + 2] = 0x7f;
	assert_int_equal(learn_parse_dhcp_ack(f, n, guest, &r), -EBADMSG);
	n = build_ack(f, &(struct ack){ 0 });
	f[14] = 0x44;
	assert_int_equal(learn_parse_dhcp_ack(f, n, guest, &r), -EBADMSG);
	n = build_ack(f, &(struct ack){ 0 });
	f[14 + 20 + 4] = 0x7f;
	assert_int_equal(learn_parse_dhcp_ack(f, n, guest, &r), -EBADMSG);
	n = build_ack(f, &(struct ack){ 0 });
	f[12] = 0x81, f[13] = 0x00;
	assert_int_equal(learn_parse_dhcp_ack(f, n, guest, &r), -ENOMSG);
	f[12] = 0x86, f[13] = 0xdd;
	assert_int_equal(learn_parse_dhcp_ack(f, n, guest, &r), -ENOMSG);
	assert_int_equal(learn_parse_dhcp_ack(NULL, 0, guest, &r), -EBADMSG);
}

/* An ARP packet from src (Ethernet) with sender shw and spa. */
static size_t build_arp(uint8_t *f, const uint8_t *src, const uint8_t *shw, const char *spa,
			uint16_t op)
{
	uint8_t *a = f + 14;

	memset(f, 0, 64);
	memset(f, 0xff, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08, f[13] = 0x06;
	a[1] = 1, a[2] = 0x08, a[4] = 6, a[5] = 4, a[7] = (uint8_t)op;
	memcpy(a + 8, shw, 6);
	inet_pton(AF_INET, spa, a + 14);
	inet_pton(AF_INET, "10.9.0.1", a + 24);
	return 14 + 28;
}

static size_t build_ip(uint8_t *f, const uint8_t *src, const char *saddr)
{
	uint8_t *ip = f + 14;

	memset(f, 0, 64);
	memcpy(f, server, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	ip[0] = 0x45, ip[3] = 28, ip[8] = 64, ip[9] = 1;
	inet_pton(AF_INET, saddr, ip + 12);
	inet_pton(AF_INET, "10.9.0.1", ip + 16);
	return 14 + 28;
}

static void test_any(void **state)
{
	uint8_t f[64];
	struct learn_result r;
	char a[INET_ADDRSTRLEN];
	size_t n;

	(void)state;
	n = build_arp(f, guest, guest, "10.9.0.77", 1);
	assert_int_equal(learn_parse_any(f, n, guest, &r), 0);
	assert_string_equal(inet_ntop(AF_INET, &r.addr, a, sizeof(a)), "10.9.0.77");
	n = build_ip(f, guest, "10.9.0.78");
	assert_int_equal(learn_parse_any(f, n, guest, &r), 0);
	assert_string_equal(inet_ntop(AF_INET, &r.addr, a, sizeof(a)), "10.9.0.78");

	assert_true(learn_parse_any(f, n, other, &r) < 0);          /* another source MAC */
	n = build_arp(f, guest, other, "10.9.0.77", 2);              /* sender hw not the guest */
	assert_true(learn_parse_any(f, n, guest, &r) < 0);
	n = build_arp(f, guest, guest, "0.0.0.0", 1);                /* a probe */
	assert_true(learn_parse_any(f, n, guest, &r) < 0);
	n = build_arp(f, guest, guest, "10.9.0.77", 3);              /* RARP opcode */
	assert_true(learn_parse_any(f, n, guest, &r) < 0);
	n = build_arp(f, guest, guest, "10.9.0.77", 1);
	assert_true(learn_parse_any(f, n - 1, guest, &r) < 0);       /* cut short */
	n = build_ip(f, guest, "0.0.0.0");                           /* a DHCP discover's */
	assert_true(learn_parse_any(f, n, guest, &r) < 0);
	n = build_ip(f, guest, "224.0.0.5");
	assert_true(learn_parse_any(f, n, guest, &r) < 0);
	n = build_ip(f, guest, "10.9.0.78");
	assert_true(learn_parse_any(f, n - 1, guest, &r) < 0);       /* total length past the end */
	for (size_t cut = 0; cut < 14 + 20; cut++)
		assert_true(learn_parse_any(f, cut, guest, &r) < 0);
}


/* A classic BPF interpreter for the instructions learn_bpf() uses, with
 * the kernel's ancillary load of the packet type: what the socket would
 * pass up (0: dropped). Out-of-frame loads drop, as the kernel's do. */
static uint32_t bpf_run(const struct sock_fprog *prog, const uint8_t *p, size_t n, unsigned pkttype)
{
	uint32_t a = 0, x = 0;

	for (unsigned pc = 0; pc < prog->len; pc++) {
		const struct sock_filter *i = &prog->filter[pc];
		uint32_t k = i->k, off;

		switch (i->code) {
		case BPF_LD | BPF_B | BPF_ABS:
			if (k == (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)) {
				a = pkttype;
				break;
			}
			if (k >= n)
				return 0;
			a = p[k];
			break;
		case BPF_LD | BPF_H | BPF_ABS:
			if (k + 2 > n)
				return 0;
			a = (uint32_t)p[k] << 8 | p[k + 1];
			break;
		case BPF_LD | BPF_W | BPF_IND:
			off = x + k;
			if (off + 4 > n)
				return 0;
			a = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 | (uint32_t)p[off + 2] << 8 | p[off + 3];
			break;
		case BPF_LDX | BPF_B | BPF_MSH:
			if (k >= n)
				return 0;
			x = (uint32_t)(p[k] & 0xf) * 4;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & k) ? i->jt : i->jf;
			break;
		case BPF_RET | BPF_K:
			return k;
		default:
			fail_msg("instruction %#x not interpreted", i->code);
		}
	}
	fail_msg("the program ran off its end");
	return 0;
}

static void test_bpf(void **state)
{
	const struct sock_fprog *dhcp = learn_bpf(LEARN_DHCP), *any = learn_bpf(LEARN_ANY);
	uint8_t f[1024];
	size_t n;

	(void)state;
	/* dhcp: a server's reply the port sends towards the guest, only. */
	n = build_ack(f, &(struct ack){ 0 });
	assert_int_equal(bpf_run(dhcp, f, n, PACKET_OUTGOING), LEARN_SNAPLEN);
	assert_int_equal(bpf_run(dhcp, f, n, PACKET_HOST), 0);      /* from the guest */
	assert_int_equal(bpf_run(dhcp, f, n, PACKET_OTHERHOST), 0);
	assert_int_equal(bpf_run(dhcp, f, 20, PACKET_OUTGOING), 0); /* cut short */
	n = build_ack(f, &(struct ack){ .sport = 68, .dport = 67 });
	assert_int_equal(bpf_run(dhcp, f, n, PACKET_OUTGOING), 0);
	n = build_ack(f, &(struct ack){ .frag = 0x2000 });
	assert_int_equal(bpf_run(dhcp, f, n, PACKET_OUTGOING), 0);
	n = build_ack(f, &(struct ack){ 0 });
	f[14 + 9] = 6; /* TCP */
	assert_int_equal(bpf_run(dhcp, f, n, PACKET_OUTGOING), 0);
	n = build_ack(f, &(struct ack){ 0 });
	f[14] = 0x46; /* options in the IPv4 header: the ports move */
	assert_int_equal(bpf_run(dhcp, f, n, PACKET_OUTGOING), 0);
	n = build_arp(f, guest, guest, "10.9.0.77", 1);
	assert_int_equal(bpf_run(dhcp, f, n, PACKET_OUTGOING), 0);

	/* any: ARP and IPv4 the port receives from the guest, only. */
	n = build_arp(f, guest, guest, "10.9.0.77", 1);
	assert_int_equal(bpf_run(any, f, n, PACKET_OTHERHOST), LEARN_SNAPLEN);
	assert_int_equal(bpf_run(any, f, n, PACKET_OUTGOING), 0);
	n = build_ip(f, guest, "10.9.0.78");
	assert_int_equal(bpf_run(any, f, n, PACKET_HOST), LEARN_SNAPLEN);
	assert_int_equal(bpf_run(any, f, n, PACKET_OUTGOING), 0);
	f[12] = 0x86, f[13] = 0xdd; /* IPv6 */
	assert_int_equal(bpf_run(any, f, n, PACKET_HOST), 0);
}

static void test_modes(void **state)
{
	enum learn_mode m = LEARN_ANY;

	(void)state;
	assert_int_equal(learn_mode_from_string("dhcp", &m), 0);
	assert_int_equal(m, LEARN_DHCP);
	assert_int_equal(learn_mode_from_string("any", &m), 0);
	assert_int_equal(m, LEARN_ANY);
	assert_int_equal(learn_mode_from_string("none", &m), 0);
	assert_int_equal(m, LEARN_NONE);
	assert_int_equal(learn_mode_from_string("DHCP", &m), -EINVAL);
	assert_int_equal(learn_mode_from_string("", &m), -EINVAL);
	assert_int_equal(learn_mode_from_string(NULL, &m), -EINVAL);
	assert_non_null(learn_bpf(LEARN_DHCP));
	assert_non_null(learn_bpf(LEARN_ANY));
	assert_null(learn_bpf(LEARN_NONE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_learned),
		cmocka_unit_test(test_ack_refused),
		cmocka_unit_test(test_ack_cut_short),
		cmocka_unit_test(test_any),
		cmocka_unit_test(test_bpf),
		cmocka_unit_test(test_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
