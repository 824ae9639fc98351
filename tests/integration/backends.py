#!/usr/bin/env python3
"""backends.py - plays QEMU for four NIC processes (stream client, stream server, dgram, fd).

Usage: backends.py TMPDIR NIC-COMMAND-PREFIX...
The fd NIC process is started here (it inherits one end of a socketpair); its pid
goes to TMPDIR/nic-fd.pid so that the shell cleans it up. Prints one line per check;
exits nonzero on the first failure.
"""
import os, select, socket, struct, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from qemustream import Stream  # noqa: E402

T = sys.argv[1]
NIC_FD_CMD = sys.argv[2:]
MAC = {n: bytes([2, 0x99, 0, 0, 2, i]) for i, n in enumerate(["client", "server", "dgram", "fd"], 1)}
ETYPE = b"\x88\xb5"   # local experimental ethertype: no kernel anywhere cares


def frame(dst, src, text, size=0):
    f = dst + src + ETYPE + text.encode()
    return f + b"\0" * max(0, max(60, size) - len(f))


class Dgram:
    def __init__(self, sock, peer):
        self.s, self.peer = sock, peer

    def send(self, f, chunk=0):
        self.s.sendto(f, self.peer)

    def recv(self):
        return self.s.recv(65536)

    def buffered(self):
        return False

    def fileno(self):
        return self.s.fileno()


def wait_file(path, secs=5):
    end = time.time() + secs
    while not os.path.exists(path):
        if time.time() > end:
            sys.exit(f"FAIL: {path} never appeared")
        time.sleep(0.05)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


peers = {}
# 1. NIC --stream unix:T/client.sock connects to us (we are QEMU stream,server=on)
ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ls.bind(f"{T}/client.sock")
ls.listen(1)
open(f"{T}/client.ready", "w").close()
ls.settimeout(10)
c, _ = ls.accept()
peers["client"] = Stream(c)
# 2. NIC --stream-listen tcp:127.0.0.1:7722 waits for us (QEMU stream,server=off)
for _ in range(100):
    try:
        peers["server"] = Stream(socket.create_connection(("127.0.0.1", 7722), timeout=5))
        break
    except OSError:
        time.sleep(0.05)
else:
    fail("cannot connect to the --stream-listen NIC")
# 3. NIC --dgram unix:T/dgram.nic,unix:T/dgram.qemu
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d.bind(f"{T}/dgram.qemu")
peers["dgram"] = Dgram(d, f"{T}/dgram.nic")
# 4. NIC --fd N: one end of a socketpair, started from here
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
p = subprocess.Popen(NIC_FD_CMD + ["--fd", str(b.fileno())], pass_fds=[b.fileno()],
                     stdout=open(f"{T}/nic-fd.log", "w"), stderr=subprocess.STDOUT)
open(f"{T}/nic-fd.pid", "w").write(str(p.pid))
b.close()
peers["fd"] = Stream(a)
for n in peers:
    peers[n].fileno()
wait_file(f"{T}/all-joined", 15)
print("ok: four peers attached (stream client, stream server, dgram, fd)", flush=True)


def expect(name, want, secs=3):
    """name receives frame want (skipping anything else); fails after secs"""
    end = time.time() + secs
    while time.time() < end:
        r = peers[name].buffered() or select.select([peers[name]], [], [], max(0, end - time.time()))[0]
        if not r:
            break
        got = peers[name].recv()
        if got == want:
            return
    fail(f"{name} did not receive the frame ({len(want)} bytes)")


def expect_nothing(name, secs=0.5):
    if peers[name].buffered() or select.select([peers[name]], [], [], secs)[0]:
        fail(f"{name} received a frame it should not have: {peers[name].recv()[:20].hex()}")


BC = b"\xff" * 6
# every peer broadcasts: all others get it whole (this also teaches the switch every MAC)
for src in peers:
    f = frame(BC, MAC[src], f"broadcast from {src}")
    peers[src].send(f, chunk=7 if src == "client" else 0)
    for dst in peers:
        if dst != src:
            expect(dst, f)
    expect_nothing(src, 0.2)
print("ok: broadcasts from each backend reach the three others (stream frames sent in 7-byte pieces)", flush=True)
# known unicast goes to one peer only
for src, dst in [("client", "dgram"), ("dgram", "fd"), ("fd", "server"), ("server", "client")]:
    f = frame(MAC[dst], MAC[src], f"unicast {src} to {dst}", 200)
    peers[src].send(f)
    expect(dst, f)
    for other in peers:
        if other not in (src, dst):
            expect_nothing(other, 0.1)
print("ok: unicast between backends reaches only its destination", flush=True)
# a full-size frame (MTU 1500 + 14) through stream and dgram
f = frame(MAC["dgram"], MAC["server"], "big", 1514)
peers["server"].send(f, chunk=1000)
expect("dgram", f)
f = frame(MAC["fd"], MAC["dgram"], "big", 1514)
peers["dgram"].send(f)
expect("fd", f)
print("ok: 1514-byte frames cross stream -> dgram and dgram -> fd", flush=True)
# 300 frames in one write, more than one 256-frame batch: the rest must not wait for more bytes
burst = [frame(MAC["client"], MAC["server"], f"burst {i}") for i in range(300)]
peers["server"].s.sendall(b"".join(struct.pack(">I", len(f)) + f for f in burst))
for f in burst:
    expect("client", f)
print("ok: 300 frames written at once to a stream backend all cross, in order", flush=True)
# the guest side of the fd backend closes: that NIC process exits (said so in its log)
a.close()
try:
    rc = p.wait(5)
except subprocess.TimeoutExpired:
    fail("the --fd NIC process did not exit when its socket closed")
print(f"ok: --fd NIC exited ({rc}) when the guest closed the socket", flush=True)
