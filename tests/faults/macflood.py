#!/usr/bin/env python3
"""macflood.py IFNAME COUNT - send COUNT Ethernet frames with random unicast source MACs on IFNAME
(AF_PACKET), to an unknown unicast destination, in paced bursts; prints what it sent."""
import os
import random
import socket
import sys
import time

ifname, count = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
dst = bytes.fromhex("02aa00000001")
body = bytes.fromhex("88b5") + b"macflood" + bytes(38)
rnd = random.Random(int(os.environ.get("SEED", "7")))
sent, t0 = 0, time.time()
while sent < count:
    for _ in range(min(200, count - sent)):
        src = bytearray(rnd.getrandbits(48).to_bytes(6, "big"))
        src[0] = (src[0] & 0xFC) | 0x02  # unicast, locally administered
        while True:
            try:
                s.send(dst + bytes(src) + body)
                break
            except BlockingIOError:
                time.sleep(0.001)
        sent += 1
    time.sleep(0.004)
print(f"macflood: {sent} frames in {time.time() - t0:.1f} s")
