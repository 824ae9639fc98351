#!/usr/bin/env python3
"""dns.py - a tiny UDP DNS responder for the gateway tests: NAME=ADDR pairs, A records only.

usage: dns.py LISTEN_ADDR PORT NAME=ADDR...   (other names: NXDOMAIN)
"""
import socket
import struct
import sys

def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    table = dict(a.split("=", 1) for a in sys.argv[3:])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("dns: listening on %s:%d" % (addr, port), flush=True)
    while True:
        q, peer = s.recvfrom(2048)
        if len(q) < 12:
            continue
        qid, flags, qd = struct.unpack("!HHH", q[:6])
        i, labels = 12, []
        while i < len(q) and q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        qend = i + 5
        name = ".".join(labels).lower()
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0] if qend <= len(q) else 0
        question = q[12:qend]
        ip = table.get(name)
        print("dns: query %s type %d from %s -> %s" % (name, qtype, peer[0], ip), flush=True)
        if ip and qtype == 1:
            ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(ip)
            hdr = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
        elif ip:
            ans = b""
            hdr = struct.pack("!HHHHHH", qid, 0x8180, 1, 0, 0, 0)
        else:
            ans = b""
            hdr = struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0)
        s.sendto(hdr + question + ans, peer)

if __name__ == "__main__":
    main()
