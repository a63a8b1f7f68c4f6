#!/usr/bin/env python3
"""frame.py: one Ethernet frame sent, or awaited, on an interface (AF_PACKET),
for the data-plane tests of filters that need frames ping and arping cannot
make (RARP announcements, spoofed IPv6, frames to a chosen MAC).

  frame.py send IFACE SRCMAC FRAME...   each FRAME one of
      MARKER,DSTMAC,rarp,SHA,THA
      MARKER,DSTMAC,ipv4,SRCIP,DSTIP
      MARKER,DSTMAC,ipv6,SRCIP,DSTIP
  frame.py collect IFACE SECONDS        print "ready", then for SECONDS the
                                        MARKER of each frame that arrives

MARKER ("netd-frame-" and more ASCII) goes into the payload so that the
receiver knows the frame.
The IPv4 header has a correct checksum and the IPv6 one a correct length:
the bridge's netfilter hooks drop frames whose headers are malformed.
"""
import ipaddress
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def payload(kind, args):
    if kind == "rarp":
        sha, tha, marker = args
        body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 3) + mac(sha) + bytes(4) + mac(tha) + bytes(4)
        return 0x8035, body + marker.encode()
    src, dst, marker = args
    data = marker.encode()
    if kind == "ipv4":
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), 1, 0, 64, 253, 0,
                          ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        return 0x0800, hdr + data
    if kind == "ipv6":
        hdr = struct.pack("!IHBB", 6 << 28, len(data), 59, 64)
        hdr += ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed
        return 0x86DD, hdr + data
    raise SystemExit("unknown kind " + kind)


def main(argv):
    if argv[1] == "send":
        iface, src = argv[2:4]
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((iface, 0))
        for spec in argv[4:]:
            marker, dst, kind, *args = spec.split(",")
            etype, body = payload(kind, args + [marker])
            frame = mac(dst) + mac(src) + struct.pack("!H", etype) + body
            s.send(frame + bytes(max(0, 60 - len(frame))))
        return 0
    if argv[1] == "collect":
        iface, seconds = argv[2], float(argv[3])
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((iface, 0))
        end = time.monotonic() + seconds
        seen = set()
        print("ready", flush=True)
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                data, addr = s.recvfrom(65535)
            except socket.timeout:
                break
            i = data.find(b"netd-frame-")
            if addr[2] == socket.PACKET_OUTGOING or i < 0:
                continue
            m = data[i:].split(b"\0")[0].decode()
            if m not in seen:
                seen.add(m)
                print(m, flush=True)
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
