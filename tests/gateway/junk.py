#!/usr/bin/env python3
"""junk.py - send malformed ARP, IPv4, UDP/DHCP and IPv6 frames out of IFACE (deterministic)."""
import random
import socket
import struct
import sys

iface, count = sys.argv[1], int(sys.argv[2])
gw = bytes.fromhex(sys.argv[3].replace(":", ""))
rnd = random.Random(4242)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
src = bytes.fromhex("020000000f0f")

def dhcp():
    bp = bytearray(240)
    bp[0:3] = b"\x01\x01\x06"
    bp[28:34] = src
    bp[236:240] = b"\x63\x82\x53\x63"
    opts = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 40)))
    udp = struct.pack("!HHHH", 68, 67, 8 + len(bp) + len(opts), 0) + bytes(bp) + opts
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\0" * 4, b"\xff" * 4)
    return b"\x08\x00" + ip + udp

sent = 0
for i in range(count):
    dst = gw if rnd.random() < 0.6 else b"\xff" * 6
    kind = rnd.randrange(4)
    if kind == 0:
        body = b"\x08\x06" + bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 60)))
    elif kind == 1:
        body = b"\x08\x00" + bytes([0x45]) + bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 80)))
    elif kind == 2:
        body = bytearray(dhcp())
        for _ in range(rnd.randrange(0, 6)):
            body[rnd.randrange(2, len(body))] = rnd.getrandbits(8)
        body = bytes(body[: rnd.randrange(2, len(body) + 1)])
    else:
        body = b"\x86\xdd" + bytes([0x60]) + bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 80)))
    frame = dst + src + body
    if len(frame) < 14:
        continue
    try:
        s.send(frame)
        sent += 1
    except OSError:
        pass
print("junk: sent %d frames" % sent)
