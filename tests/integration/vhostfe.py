#!/usr/bin/python3
"""vhostfe.py - a stand-in vhost-user front-end (what QEMU does) for tests/integration/vhost.sh.

  vhostfe.py SOCKET MAC IP PEER_IP SECONDS [hostile]

Connects to vmfabric-nic --vhost-user SOCKET, negotiates (VERSION_1, MRG_RXBUF, protocol
features with REPLY_ACK), shares 1 MiB of "guest RAM" (a memfd) and sets up the receive and
transmit rings. Then, as a guest with MAC/IP: answers ICMP echo requests for SECONDS, and
pings PEER_IP (prints "ping reply from PEER_IP" for each reply). With "hostile": before that,
puts a looping chain, a chain outside guest RAM and a writable transmit buffer on the transmit
ring and checks they come back used with length 0; at the end sends a malformed message (bad
version bits) and checks the NIC process drops the connection. Prints "done" on success.
"""
import mmap
import os
import select
import socket
import struct
import sys
import time

MEM = 1 << 20
UVA = 0x7F0000000000
NUM = 64
RXQ = dict(desc=0x0000, avail=0x1000, used=0x2000, bufs=0x10000)
TXQ = dict(desc=0x4000, avail=0x5000, used=0x6000, bufs=0x40000)
BUF = 2048
F_VERSION_1, F_MRG_RXBUF, F_PROTO = 1 << 32, 1 << 15, 1 << 30
NEXT, WRITE = 1, 2

sock_path, mac, ip, peer, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
hostile = len(sys.argv) > 6 and sys.argv[6] == "hostile"
MAC = bytes(int(x, 16) for x in mac.split(":"))
IP, PEER = socket.inet_aton(ip), socket.inet_aton(peer)

fd = os.memfd_create("guest")
os.ftruncate(fd, MEM)
mem = mmap.mmap(fd, MEM)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
s.settimeout(5)


def msg(req, payload=b"", fds=(), reply=False, need_ack=False):
    flags = 1 | (8 if need_ack else 0)
    data = struct.pack("<III", req, flags, len(payload)) + payload
    if fds:
        socket.send_fds(s, [data], list(fds))
    else:
        s.sendall(data)
    if reply or need_ack:
        hdr = s.recv(12, socket.MSG_WAITALL)
        r, f, n = struct.unpack("<III", hdr)
        body = s.recv(n, socket.MSG_WAITALL) if n else b""
        assert r == req and f & 4, "bad reply %r" % (hdr,)
        if need_ack:
            assert struct.unpack("<Q", body)[0] == 0, "request %d failed" % req
        return body
    return None


feat = struct.unpack("<Q", msg(1, reply=True))[0]
assert feat & F_VERSION_1 and feat & F_MRG_RXBUF and feat & F_PROTO, hex(feat)
msg(15, reply=True)
msg(16, struct.pack("<Q", 1 << 3))
msg(3)
msg(2, struct.pack("<Q", F_VERSION_1 | F_MRG_RXBUF | F_PROTO), need_ack=True)
msg(5, struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, MEM, UVA, 0), fds=[fd], need_ack=True)
kick, call = [], []
for q, r in ((0, RXQ), (1, TXQ)):
    msg(8, struct.pack("<II", q, NUM), need_ack=True)
    msg(10, struct.pack("<II", q, 0), need_ack=True)
    msg(9, struct.pack("<IIQQQQ", q, 0, UVA + r["desc"], UVA + r["used"], UVA + r["avail"], 0), need_ack=True)
    k, c = os.eventfd(0, os.EFD_NONBLOCK), os.eventfd(0, os.EFD_NONBLOCK)
    kick.append(k)
    call.append(c)
    msg(12, struct.pack("<Q", q), fds=[k], need_ack=True)
    msg(13, struct.pack("<Q", q), fds=[c], need_ack=True)
    msg(18, struct.pack("<II", q, 1), need_ack=True)


def desc(r, i, addr, length, flags, nxt=0):
    struct.pack_into("<QIHH", mem, r["desc"] + 16 * i, addr, length, flags, nxt)


def avail_push(r, head):
    idx = struct.unpack_from("<H", mem, r["avail"] + 2)[0]
    struct.pack_into("<H", mem, r["avail"] + 4 + 2 * (idx % NUM), head)
    struct.pack_into("<H", mem, r["avail"] + 2, (idx + 1) & 0xFFFF)


def used_idx(r):
    return struct.unpack_from("<H", mem, r["used"] + 2)[0]


# receive buffers: every descriptor of the receive ring, device-writable
for i in range(NUM):
    desc(RXQ, i, RXQ["bufs"] + i * BUF, BUF, WRITE)
    avail_push(RXQ, i)
rx_seen = 0
tx_next = 0
tx_seen = 0


def send(frame):
    """Put one frame (behind a zero 12-byte header) on the transmit ring and kick."""
    global tx_next
    i = tx_next % NUM
    tx_next += 1
    data = bytes(12) + frame
    mem[TXQ["bufs"] + i * BUF:TXQ["bufs"] + i * BUF + len(data)] = data
    desc(TXQ, i, TXQ["bufs"] + i * BUF, len(data), 0)
    avail_push(TXQ, i)
    os.eventfd_write(kick[1], 1)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF


def icmp(dst_mac, dst_ip, typ, ident, seq, payload):
    ic = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + payload
    ic = ic[:2] + struct.pack("!H", csum(ic)) + ic[4:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(ic), 0, 0x4000, 64, 1, 0, IP, dst_ip)
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    return dst_mac + MAC + b"\x08\x00" + iph + ic


def receive():
    """Frames the NIC process put into the receive ring since the last call (buffers re-posted)."""
    global rx_seen
    out = []
    while rx_seen != used_idx(RXQ):
        e = RXQ["used"] + 4 + 8 * (rx_seen % NUM)
        head, length = struct.unpack_from("<II", mem, e)
        base = RXQ["bufs"] + head * BUF
        nb = struct.unpack_from("<H", mem, base + 10)[0]
        assert nb == 1, "num_buffers %d for a small frame" % nb
        out.append(bytes(mem[base + 12:base + length]))
        rx_seen += 1
        avail_push(RXQ, head)
    return out


if hostile:
    # a chain that loops, a chain outside guest RAM, a writable transmit buffer
    base = tx_next
    desc(TXQ, base % NUM, TXQ["bufs"], 64, NEXT, base % NUM)
    desc(TXQ, (base + 1) % NUM, MEM + 4096, 64, 0)
    desc(TXQ, (base + 2) % NUM, TXQ["bufs"], 64, WRITE)
    for k in range(3):
        avail_push(TXQ, (base + k) % NUM)
    tx_next += 3
    os.eventfd_write(kick[1], 1)
    end = time.time() + 5
    while used_idx(TXQ) < tx_next and time.time() < end:
        time.sleep(0.01)
    assert used_idx(TXQ) == tx_next, "hostile chains not returned"
    for k in range(3):
        assert struct.unpack_from("<I", mem, TXQ["used"] + 4 + 8 * ((base + k) % NUM) + 4)[0] == 0
    print("hostile chains returned with length 0", flush=True)

end = time.time() + seconds
next_ping, seq, replies = time.time(), 0, 0
peer_mac = None
while time.time() < end:
    if peer_mac and time.time() >= next_ping:
        seq += 1
        send(icmp(peer_mac, PEER, 8, 0x4242, seq, b"vmfabric-vhost-%d" % seq))
        next_ping = time.time() + 0.2
    select.select([call[0]], [], [], 0.05)
    try:
        os.eventfd_read(call[0])
    except BlockingIOError:
        pass
    for f in receive():
        if len(f) < 42:
            continue
        if f[12:14] == b"\x08\x06" and f[38:42] == IP and f[20:22] == b"\x00\x01":
            # ARP request for us: reply
            send(f[6:12] + MAC + b"\x08\x06" + f[14:20] + b"\x00\x02" + MAC + IP + f[22:28] + f[28:32])
            continue
        if f[12:14] != b"\x08\x00" or f[23] != 1 or f[30:34] != IP:
            continue
        ihl = (f[14] & 15) * 4
        typ = f[14 + ihl]
        ident, sq = struct.unpack("!HH", f[14 + ihl + 4:14 + ihl + 8])
        if typ == 8:  # echo request: answer, and learn the peer's MAC
            peer_mac = f[6:12] if f[26:30] == PEER else peer_mac
            send(icmp(f[6:12], f[26:30], 0, ident, sq, f[14 + ihl + 8:]))
        elif typ == 0 and ident == 0x4242:
            replies += 1
            print("ping reply from %s seq %d" % (peer, sq), flush=True)
assert replies > 0, "no ping reply from %s" % peer

if hostile:
    # bad version bits: the NIC process must drop the connection
    s.sendall(struct.pack("<III", 1, 2, 0))
    s.settimeout(5)
    assert s.recv(16) == b"", "connection not dropped after a malformed message"
    print("malformed message: connection dropped", flush=True)
print("done", flush=True)
