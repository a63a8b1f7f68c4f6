/*
 * tapframe.c: Ethernet frames as a guest on a macvtap sends and receives
 * them, for the data-plane tests (tests/integration/filters-macvtap.sh).
 *
 *   tapframe send OUT KIND MARKER SRCMAC DSTMAC [ARGS]
 *     OUT: a path (the macvtap's character device: written with the
 *     virtio-net header a macvtap expects, as a guest's virtio driver does)
 *     or an interface name (sent on an AF_PACKET socket). KIND:
 *       arp  SENDER_MAC SENDER_IP TARGET_IP   an ARP request
 *       ipv4 SRC_IP DST_IP SPORT DPORT        a UDP datagram
 *       ipv6                                  an IPv6 header, no payload
 *       rarp SENDER_MAC TARGET_MAC            a RARP request_reverse with
 *                                             addresses 0.0.0.0 (QEMU's
 *                                             announce-self after migration)
 *     MARKER (8 hex digits) is written into the frame's payload or padding.
 *   tapframe count IN MS MARKER...
 *     Reads frames from IN (a path: the macvtap's device; an interface:
 *     AF_PACKET) for MS milliseconds, or until COUNT_GRACE_MS after a
 *     SIGUSR1 (the sender is done: on a loaded machine its processes may
 *     take longer than any fixed window), then prints "MARKER N" per
 *     marker: how many frames carried it.
 *
 * Exit 0, or 1 with a message on standard error.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VNET_HDR 10 /* struct virtio_net_hdr: a macvtap's default */

static int die(const char *what)
{
	fprintf(stderr, "tapframe: %s: %s\n", what, errno ? strerror(errno) : "bad argument");
	exit(1);
}

static void mac(const char *s, uint8_t out[6])
{
	errno = 0;
	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &out[0], &out[1], &out[2], &out[3], &out[4],
		   &out[5]) != 6)
		die(s);
}

static void ip4(const char *s, uint8_t out[4])
{
	errno = 0;
	if (inet_pton(AF_INET, s, out) != 1)
		die(s);
}

static void marker(const char *s, uint8_t out[4])
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (strlen(s) != 8 || *end)
		die(s);
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Build the frame into f (at least 64 bytes, zeroed): its length. */
static size_t build(uint8_t *f, int argc, char **argv)
{
	const char *kind = argv[3];
	uint8_t mk[4];
	size_t n;

	marker(argv[4], mk);
	mac(argv[6], f);
	mac(argv[5], f + 6);
	if (!strcmp(kind, "arp") && argc == 10) {
		static const uint8_t hdr[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };

		f[12] = 0x08, f[13] = 0x06;
		memcpy(f + 14, hdr, 8);
		mac(argv[7], f + 22);
		ip4(argv[8], f + 28);
		ip4(argv[9], f + 38);
		memcpy(f + 42, mk, 4); /* in the padding */
		return 60;
	}
	if (!strcmp(kind, "rarp") && argc == 9) {
		static const uint8_t hdr[8] = { 0, 1, 8, 0, 6, 4, 0, 3 };

		f[12] = 0x80, f[13] = 0x35;
		memcpy(f + 14, hdr, 8);
		mac(argv[7], f + 22);
		mac(argv[8], f + 32);
		memcpy(f + 42, mk, 4); /* in the padding */
		return 60;
	}
	if (!strcmp(kind, "ipv4") && argc == 11) {
		uint8_t *ip = f + 14, *udp = f + 34;

		f[12] = 0x08, f[13] = 0x00;
		ip[0] = 0x45, ip[3] = 20 + 8 + 4, ip[8] = 64, ip[9] = 17;
		ip4(argv[7], ip + 12);
		ip4(argv[8], ip + 16);
		n = (size_t)csum(ip, 20);
		ip[10] = (uint8_t)(n >> 8), ip[11] = (uint8_t)n;
		udp[0] = (uint8_t)(atoi(argv[9]) >> 8), udp[1] = (uint8_t)atoi(argv[9]);
		udp[2] = (uint8_t)(atoi(argv[10]) >> 8), udp[3] = (uint8_t)atoi(argv[10]);
		udp[5] = 8 + 4;
		memcpy(udp + 8, mk, 4);
		return 60;
	}
	if (!strcmp(kind, "ipv6") && argc == 7) {
		uint8_t *ip = f + 14;

		f[12] = 0x86, f[13] = 0xdd;
		ip[0] = 0x60, ip[5] = 4, ip[6] = 59, ip[7] = 64;
		ip[8] = 0xfe, ip[9] = 0x80, ip[24] = 0xff, ip[25] = 0x02, ip[39] = 1;
		memcpy(f + 54, mk, 4);
		return 60;
	}
	errno = 0;
	return (size_t)die("send: bad kind or arguments");
}

static int open_packet(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0)
		die("socket");
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die(ifname);
	return fd;
}

static int cmd_send(int argc, char **argv)
{
	uint8_t buf[VNET_HDR + 128] = { 0 };
	bool tap = argv[2][0] == '/';
	size_t n = build(buf + VNET_HDR, argc, argv);
	int fd = tap ? open(argv[2], O_RDWR | O_CLOEXEC) : open_packet(argv[2]);

	if (fd < 0)
		die(argv[2]);
	if (tap ? write(fd, buf, VNET_HDR + n) != (ssize_t)(VNET_HDR + n)
		: send(fd, buf + VNET_HDR, n, 0) != (ssize_t)n)
		die("write");
	close(fd);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* After the sender's SIGUSR1: frames still on their way (they cross a
 * macvtap and a veth in the sender's call, so this is generous). */
#define COUNT_GRACE_MS 300

static volatile sig_atomic_t sender_done;

static void on_sender_done(int sig)
{
	sender_done = 1;
}

static int cmd_count(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sender_done };
	bool tap = argv[2][0] == '/';
	int fd = tap ? open(argv[2], O_RDWR | O_CLOEXEC | O_NONBLOCK) : open_packet(argv[2]);
	long long end = now_ms() + atoi(argv[3]);
	int nm = argc - 4;
	uint8_t (*mk)[4] = calloc((size_t)nm, 4);
	unsigned *cnt = calloc((size_t)nm, sizeof(*cnt));

	if (fd < 0 || !mk || !cnt)
		die(argv[2]);
	for (int i = 0; i < nm; i++)
		marker(argv[4 + i], mk[i]);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die("sigaction");
	/* Ready: the caller may send now. */
	fprintf(stderr, "tapframe: listening on %s\n", argv[2]);
	for (long long left; (left = end - now_ms()) > 0;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint8_t buf[65536];
		ssize_t r;

		if (sender_done == 1) {
			sender_done = 2;
			if (end > now_ms() + COUNT_GRACE_MS)
				end = now_ms() + COUNT_GRACE_MS;
			continue;
		}

		if (poll(&p, 1, (int)left) <= 0)
			continue;
		r = read(fd, buf, sizeof(buf));
		for (ssize_t k = 0; r >= 4 && k <= r - 4; k++)
			for (int i = 0; i < nm; i++)
				if (!memcmp(buf + k, mk[i], 4))
					cnt[i]++;
	}
	for (int i = 0; i < nm; i++)
		printf("%s %u\n", argv[4 + i], cnt[i]);
	free(mk);
	free(cnt);
	close(fd);
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	errno = 0;
	if (argc >= 7 && !strcmp(argv[1], "send"))
		return cmd_send(argc, argv);
	if (argc >= 5 && !strcmp(argv[1], "count"))
		return cmd_count(argc, argv);
	fprintf(stderr, "usage: tapframe send OUT KIND MARKER SRCMAC DSTMAC [ARGS] | "
			"tapframe count IN MS MARKER...\n");
	return 1;
}
