#!/usr/bin/env python3
"""fuzz_vhost_seeds.py - write the seed corpus of fuzz_vhost (corpus/vhost/); see the input
format at the top of fuzz_vhost.c. Memory offset = guest physical address; rings: queue 0
(receive) at 0x0000/0x0200/0x0400, queue 1 (transmit) at 0x1000/0x1200/0x1400, 16 entries."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "vhost")
FEAT = (1 << 0 | 1 << 1 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 11 | 1 << 12 | 1 << 13 | 1 << 15 |
        1 << 28 | 1 << 29 | 1 << 30 | 1 << 32)
NEXT, WRITE, INDIRECT = 1, 2, 4


def setup(features=FEAT):
    s = bytes([1]) + struct.pack("<Q", features)
    for desc, avail, used in ((0x0000, 0x0200, 0x0400), (0x1000, 0x1200, 0x1400)):
        s += bytes([4]) + struct.pack(">HHH", desc, avail, used)
    return s


def desc(mem, base, i, addr, length, flags, nxt=0):
    struct.pack_into("<QIHH", mem, base + 16 * i, addr, length, flags, nxt)


def avail(mem, base, heads):
    struct.pack_into("<HH", mem, base, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", mem, base + 4 + 2 * i, h)


def frames(specs):
    s = bytes([3, len(specs)])
    for flagged, length, hdr in specs:
        s += bytes([flagged]) + struct.pack(">H", length) + hdr.ljust(66, b"\0")[:66]
    return s


def seed(name, script, mem):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack("<H", len(script)) + script + bytes(mem))


def rx_buffers(mem, n=4, size=0x800):
    for i in range(n):
        desc(mem, 0x0000, i, 0x4000 + i * size, size, WRITE)
    avail(mem, 0x0200, list(range(n)))


os.makedirs(OUT, exist_ok=True)
eth = bytes.fromhex("525400780001525400780002080045000028")
# a TCP super-frame of 1988 bytes after its header: Ethernet, IPv4, TCP, MSS 500
tcp = (bytes.fromhex("525400780001525400780002" "0800") +
       struct.pack(">BBHHHBBH4s4s", 0x45, 0, 1988 - 14, 1, 0x4000, 64, 6, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) +
       struct.pack(">HHIIBBHHH", 80, 1234, 1, 0, 0x50, 0x18, 65535, 0, 0))
gso = struct.pack("<BBHHHHH", 1, 1, 54, 500, 34, 16, 0)

# a frame from the guest: header in a descriptor that crosses the two regions, then data
m = bytearray(0x8100)
desc(m, 0x1000, 0, 0x8000 - 6, 12, NEXT, 1)
desc(m, 0x1000, 1, 0x3000, 100, 0)
avail(m, 0x1200, [0])
m[0x3000:0x3000 + len(eth)] = eth
rx_buffers(m)
seed("tx-rx", setup() + bytes([2]) + frames([(0, 60, b""), (1, 300, bytes([1, 1, 54, 0, 0x40, 5, 34, 0, 16, 0]))]) +
     bytes([4, 1, 4, 2]), m)

# a super-frame for a guest with mergeable buffers: spans several, and one without GUEST_TSO
m = bytearray(0x8000)
rx_buffers(m, 8, 0x200)
seed("rx-merge", setup() + frames([(1, 2000, gso + tcp)]), m)
m = bytearray(0x8000)
rx_buffers(m, 8, 0x800)
seed("rx-plain", setup(FEAT & ~(1 << 7 | 1 << 8 | 1 << 15)) + frames([(1, 2000, gso + tcp)]), m)

# hostile chains: a loop, an indirect table that loops, lengths that overflow, a head out of range
m = bytearray(0x8000)
desc(m, 0x1000, 0, 0x3000, 64, NEXT, 0)
desc(m, 0x1000, 1, 0x2000, 32, INDIRECT)
desc(m, 0x2000, 0, 0x3000, 64, NEXT, 1)
desc(m, 0x2000, 1, 0x3000, 64, NEXT, 0)
desc(m, 0x1000, 2, 0x3000, 0xffffffff, NEXT, 3)
desc(m, 0x1000, 3, 0xfffffffffffffff0, 0xffffffff, 0)
desc(m, 0x1000, 4, 0x7ff0, 0x20, WRITE)
avail(m, 0x1200, [0, 1, 2, 4, 0x40])
seed("hostile-chains", setup() + bytes([2, 4, 1, 4, 1, 2]) + bytes([5, 0x12, 0x02, 0xff, 0xff, 0, 0]) +
     bytes([2]), m)

# raw messages: every request with small payloads, fds where they make no sense
s = b""
for req in range(0, 45):
    s += bytes([0, req, 1 | (8 if req % 3 == 0 else 0), 8]) + struct.pack("<Q", req * 0x0101010101) + bytes([req & 3])
s += bytes([0, 5, 1, 40]) + struct.pack("<IIQQQQ", 1, 0, 0, 1 << 63, 0, 0)[:40] + bytes([1])
s += bytes([0, 9, 1, 40]) + struct.pack("<IIQQQQ", 0, 0, 3, 5, 7, 0) + bytes([0])
seed("raw-messages", s, bytearray(64))
