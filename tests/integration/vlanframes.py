#!/usr/bin/python3
"""vlanframes.py - send one crafted frame from a TAP host, report what the others receive.

usage: vlanframes.py PREFIX SRC TAGS [--dst MAC] [--type ETHERTYPE] [--payload HEX] [--wait S] HOST...

Opens an AF_PACKET socket on tap0 (or IF for HOST:IF) in namespace PREFIX-HOST for every
HOST (setns, so one process watches them all), sends one frame from PREFIX-SRC's tap0 (or
IF) with source MAC that interface's own, destination --dst (default broadcast), the
802.1Q tags TAGS ("-" none, "10", "10.20" outer first, "s20.10" an S-tag 0x88a8 first, "0"
a priority tag), EtherType (or 802.3 length) --type (default 0x88b5, local experimental),
--payload (default "vmf-vlan") and a random marker, then prints one line
per HOST: "HOST=FORM", FORM being "-" (not received), "u" (untagged) or the tags it had
("10", "1.20"). The kernel moves a received 802.1Q tag into the packet's auxdata: it is
read back from there (PACKET_AUXDATA), as libpcap does.
"""
import argparse
import ctypes
import os
import select
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
ETH_P_ALL = 3

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def in_ns(name, fn):
    """Run fn() in network namespace name, then come back."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns " + name)
        return fn()
    finally:
        libc.setns(own, CLONE_NEWNET)
        os.close(fd)
        os.close(own)


def raw_socket(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((ifname, 0))
    s.setblocking(False)
    return s, s.getsockname()[4]  # its MAC (/sys shows the namespace we started in)


def tag_bytes(tags):
    out = b""
    if tags == "-":
        return out
    for t in tags.split("."):
        tpid = 0x8100
        if t.startswith("s"):
            tpid, t = 0x88A8, t[1:]
        out += struct.pack("!HH", tpid, int(t))
    return out


def form(data, aux):
    """The tags of a received frame: the kernel's stripped one (auxdata) first, then inline."""
    tags = []
    for level, kind, cdata in aux:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(cdata) >= 20:
            status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", cdata[:20])
            if status & TP_STATUS_VLAN_VALID:
                if status & TP_STATUS_VLAN_TPID_VALID and tpid == 0x88A8:
                    tags.append("s%d" % (tci & 0xFFF))
                else:
                    tags.append(str(tci & 0xFFF))
    off = 12
    while len(data) >= off + 4:
        tpid = struct.unpack("!H", data[off:off + 2])[0]
        if tpid not in (0x8100, 0x88A8, 0x9100):
            break
        tci = struct.unpack("!H", data[off + 2:off + 4])[0]
        tags.append(("s%d" if tpid == 0x88A8 else "%d") % (tci & 0xFFF))
        off += 4
    return ".".join(tags) if tags else "u"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prefix")
    ap.add_argument("src")
    ap.add_argument("tags")
    ap.add_argument("hosts", nargs="*")
    ap.add_argument("--dst", default="ff:ff:ff:ff:ff:ff")
    ap.add_argument("--type", default="0x88b5")
    ap.add_argument("--payload", default="766d662d766c616e")
    ap.add_argument("--wait", type=float, default=0.8)
    a = ap.parse_intermixed_args()

    marker = os.urandom(8)
    socks = {}
    for h in a.hosts:
        ns, _, ifname = h.partition(":")
        socks[h] = in_ns("%s-%s" % (a.prefix, ns), lambda: raw_socket(ifname or "tap0"))[0]
    ns, _, ifname = a.src.partition(":")
    tx, mac = in_ns("%s-%s" % (a.prefix, ns), lambda: raw_socket(ifname or "tap0"))
    frame = (bytes.fromhex(a.dst.replace(":", "")) + mac + tag_bytes(a.tags) +
             struct.pack("!H", int(a.type, 0)) + bytes.fromhex(a.payload) + marker)
    frame += bytes(max(0, 60 - len(frame)))
    tx.send(frame)

    seen = {h: "-" for h in a.hosts}
    deadline = time.monotonic() + a.wait
    by_fd = {s.fileno(): h for h, s in socks.items()}
    while time.monotonic() < deadline:
        r, _, _ = select.select(list(socks.values()), [], [], max(0, deadline - time.monotonic()))
        for s in r:
            h = by_fd[s.fileno()]
            while True:
                try:
                    data, aux, _, addr = s.recvmsg(4096, socket.CMSG_SPACE(64))
                except BlockingIOError:
                    break
                if addr[2] == socket.PACKET_OUTGOING or marker not in data:
                    continue
                seen[h] = form(data, aux)
    for h in a.hosts:
        print("%s=%s" % (h, seen[h]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
