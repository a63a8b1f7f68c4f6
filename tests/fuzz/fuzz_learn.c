/*
 * fuzz_learn.c: libFuzzer target for the frames address learning reads
 * (netd/filters/learn-pkt.c), which a guest or anyone on its bridge
 * controls. Input: byte 0 picks the parser (even: DHCPACK, odd: first
 * packet), the rest is the frame. The guest's MAC is 02:00:00:00:01:11,
 * which seeds use. Checked: no read outside the frame (ASan, on a copy of
 * exactly its size), the contract (0 or -EBADMSG / -ENOMSG; on 0 a usable
 * unicast address, and for a DHCPACK the frame is addressed to the MAC or
 * broadcast and its chaddr is the MAC). Built with
 * -fsanitize=fuzzer,address,undefined.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/learn-pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0x01, 0x11 };
	struct learn_result res = { 0 };
	uint8_t *frame;
	size_t n;
	bool ack;
	int r;

	if (size < 1)
		return 0;
	ack = (data[0] & 1) == 0;
	n = size - 1;
	frame = malloc(n ? n : 1);
	assert(frame);
	memcpy(frame, data + 1, n);
	r = ack ? learn_parse_dhcp_ack(frame, n, mac, &res) : learn_parse_any(frame, n, mac, &res);
	assert(r == 0 || r == -EBADMSG || r == -ENOMSG);
	if (r == 0) {
		assert(learn_addr_usable(res.addr));
		if (ack) {
			assert(n >= 14 + 20 + 8 + 240);
			assert(memcmp(frame, mac, 6) == 0 || memcmp(frame, "\xff\xff\xff\xff\xff\xff", 6) == 0);
		} else {
			assert(memcmp(frame + 6, mac, 6) == 0);
		}
	}
	free(frame);
	return 0;
}
