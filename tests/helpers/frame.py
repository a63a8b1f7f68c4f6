#!/usr/bin/env python3
"""frame.py: one Ethernet frame sent, or awaited, on an interface (AF_PACKET),
for the data-plane tests of filters that need frames ping and arping cannot
make (RARP announcements, spoofed IPv6, frames to a chosen MAC).

  frame.py send IFACE SRCMAC FRAME...   each FRAME one of
      MARKER,DSTMAC,rarp,SHA,THA
      MARKER,DSTMAC,ipv4,SRCIP,DSTIP
      MARKER,DSTMAC,ipv6,SRCIP,DSTIP
      MARKER,DSTMAC,arp,OP,SHA,SPA,THA,TPA
      MARKER,DSTMAC,udp4,SRCIP,DSTIP,SPORT,DPORT
      MARKER,DSTMAC,udp6,SRCIP,DSTIP,SPORT,DPORT
      MARKER,DSTMAC,raw,ETHERTYPE       (hex, e.g. 0x88b5)
  frame.py collect IFACE SECONDS        print "ready", then for SECONDS the
                                        MARKER of each frame that arrives

MARKER ("netd-frame-" and more ASCII) goes into the payload so that the
receiver knows the frame.
The IPv4 header has a correct checksum and the IPv6 one a correct length,
and UDP carries its checksum: the bridge's netfilter hooks drop frames
whose headers are malformed.
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


def udp(src, dst, sport, dport, data, pseudo_proto_len):
    """A UDP datagram with its checksum over the pseudo-header."""
    length = 8 + len(data)
    hdr = struct.pack("!HHHH", int(sport), int(dport), length, 0)
    pseudo = src + dst + pseudo_proto_len(length)
    body = hdr + data
    c = csum(pseudo + body + bytes(len(body) % 2)) or 0xFFFF
    return hdr[:6] + struct.pack("!H", c) + data


def ip_packet(kind, src, dst, proto, body):
    if kind == "ipv4":
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, 64, proto, 0,
                          ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        return 0x0800, hdr + body
    hdr = struct.pack("!IHBB", 6 << 28, len(body), proto, 64)
    hdr += ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed
    return 0x86DD, hdr + body


def payload(kind, args):
    if kind == "arp":
        op, sha, spa, tha, tpa, marker = args
        body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, int(op)) + mac(sha)
        body += ipaddress.IPv4Address(spa).packed + mac(tha) + ipaddress.IPv4Address(tpa).packed
        return 0x0806, body + marker.encode()
    if kind == "raw":
        etype, marker = args
        return int(etype, 16), marker.encode()
    if kind in ("udp4", "udp6"):
        src, dst, sport, dport, marker = args
        if kind == "udp4":
            a, b = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
            dgram = udp(a, b, sport, dport, marker.encode(), lambda n: struct.pack("!BBH", 0, 17, n))
            return ip_packet("ipv4", src, dst, 17, dgram)
        a, b = ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed
        dgram = udp(a, b, sport, dport, marker.encode(), lambda n: struct.pack("!I3xB", n, 17))
        return ip_packet("ipv6", src, dst, 17, dgram)
    if kind == "rarp":
        sha, tha, marker = args
        body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 3) + mac(sha) + bytes(4) + mac(tha) + bytes(4)
        return 0x8035, body + marker.encode()
    src, dst, marker = args
    if kind == "ipv4":
        return ip_packet(kind, src, dst, 253, marker.encode())
    if kind == "ipv6":
        return ip_packet(kind, src, dst, 59, marker.encode())
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
