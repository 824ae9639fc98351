#!/usr/bin/env python3
"""hijack.py - QEMU, an observer and intruders around four NIC processes (see hijack.sh).

Usage: hijack.py TMPDIR LISTEN-PORT REPLACE-PORT UDP-LOCAL-PORT UDP-REMOTE-PORT
  obs      NIC --stream unix:TMPDIR/obs.sock: sees what reaches the network
  listen   NIC --stream-listen tcp:127.0.0.1:LISTEN-PORT: QEMU connects, then intruders
  replace  NIC --stream-listen tcp:127.0.0.1:REPLACE-PORT --stream-replace
  udp      NIC --dgram udp:127.0.0.1:UDP-LOCAL-PORT,udp:127.0.0.1:UDP-REMOTE-PORT
Prints one "ok:" line per check; exits 1 with "FAIL:" on the first failure.
"""
import os, socket, struct, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from qemustream import Stream  # noqa: E402

T = sys.argv[1]
LPORT, RPORT, ULOCAL, UREMOTE = map(int, sys.argv[2:6])
BC = b"\xff" * 6
ETYPE = b"\x88\xb5"
MAC = {n: bytes([2, 0x9a, 0, 0, 0, i]) for i, n in enumerate(["obs", "qemu", "r1", "r2", "uq"], 1)}


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def frame(src, text):
    return (BC + MAC[src] + ETYPE + text.encode()).ljust(60, b"\0")


def connect(port):
    for _ in range(100):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            time.sleep(0.05)
    fail(f"cannot connect to 127.0.0.1:{port}")


def expect_next(who, peer, want, secs=3):
    """the next frame peer receives is want (nothing else may come first)"""
    got = peer.recv(secs)
    if got != want:
        fail(f"{who} expected {want[14:30]!r}, got {got[14:30] if got else None!r}")


def both_ways(n):
    """QEMU's connection and the observer exchange frame n, each getting the other's next"""
    f = frame("qemu", f"qemu {n}")
    qemu.send(f)
    expect_next("obs", obs, f)
    f = frame("obs", f"obs {n}")
    obs.send(f)
    expect_next("qemu", qemu, f)


def expect_closed(who, sock, secs=3):
    """the NIC process closed this connection"""
    sock.settimeout(secs)
    try:
        while True:
            if not sock.recv(65536):
                return
    except (ConnectionResetError, BrokenPipeError):
        return
    except socket.timeout:
        fail(f"{who}: the NIC process kept the connection open")


ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ls.bind(f"{T}/obs.sock")
ls.listen(1)
open(f"{T}/obs.ready", "w").close()
ls.settimeout(10)
obs = Stream(ls.accept()[0])
qemu = Stream(connect(LPORT))
for _ in range(200):
    if os.path.exists(f"{T}/all-joined"):
        break
    time.sleep(0.05)
else:
    fail("the NIC processes did not join")

# 1. QEMU on the --stream-listen NIC talks both ways
both_ways(1)
print("ok: QEMU connected to --stream-listen exchanges frames", flush=True)

# 2. intruders connect to the same listener (QEMU's MAC, even): each is closed, nothing of theirs goes out
for i in range(3):
    h = socket.create_connection(("127.0.0.1", LPORT), timeout=5)
    try:
        h.sendall(struct.pack(">I", 60) + frame("qemu", f"hijack {i}"))
    except OSError:
        pass
    expect_closed(f"intruder {i}", h)
    h.close()
print("ok: three second connections to --stream-listen were closed by the NIC process", flush=True)

# 3. QEMU keeps the port: its frames go out and it still receives; nothing of the intruders' came first
both_ways(2)
print("ok: QEMU kept the port; no intruder frame reached the network", flush=True)

# 4. --stream-replace: the newer connection takes over, as it did before
r1 = Stream(connect(RPORT))
time.sleep(0.2)
f = frame("r1", "r1")
r1.send(f)
expect_next("obs", obs, f)
r2 = Stream(connect(RPORT))
# frames already on their way to r1 (broadcasts of other ports) may come first; then EOF
try:
    while r1.recv(3) is not None:
        pass
    fail("--stream-replace: the first connection was not closed")
except (EOFError, ConnectionResetError):
    pass
f = frame("r2", "r2")
r2.send(f)
expect_next("obs", obs, f)
f = frame("obs", "obs 3")
obs.send(f)
while True:
    got = r2.recv(3)
    if got is None:
        fail("--stream-replace: the new connection receives nothing")
    if got == f:
        break
print("ok: with --stream-replace a new connection replaces the current one", flush=True)

# 5. --dgram udp: only REMOTE may send; an unbound socket and another address on REMOTE's port are dropped
uq = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
uq.bind(("127.0.0.1", UREMOTE))
f = frame("uq", "udp qemu 1")
uq.sendto(f, ("127.0.0.1", ULOCAL))
expect_next("obs", obs, f)
x1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
x1.sendto(frame("uq", "udp intruder 1"), ("127.0.0.1", ULOCAL))
x2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
x2.bind(("127.0.0.2", UREMOTE))
x2.sendto(frame("uq", "udp intruder 2"), ("127.0.0.1", ULOCAL))
time.sleep(0.2)
f = frame("uq", "udp qemu 2")
uq.sendto(f, ("127.0.0.1", ULOCAL))
expect_next("obs", obs, f)
print("ok: datagrams from anyone but REMOTE were dropped; QEMU's still go", flush=True)
