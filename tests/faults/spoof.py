#!/usr/bin/env python3
"""spoof.py IFNAME SRCMAC COUNT - send COUNT broadcast frames from SRCMAC on IFNAME (AF_PACKET);
SRCMAC 'random' picks a new unicast source for each frame."""
import random
import socket
import sys

ifname, src, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
for i in range(count):
    if src == "random":
        m = bytearray(random.getrandbits(48).to_bytes(6, "big"))
        m[0] = (m[0] & 0xFC) | 0x02
        mac = bytes(m)
    else:
        mac = bytes.fromhex(src.replace(":", ""))
    s.send(b"\xff" * 6 + mac + b"\x88\xb5" + b"spoof" + bytes(41))
print(f"spoof: {count} frames from {src}")
