#!/bin/bash
# secrets.sh - the CURVE secret a port keeps for its reconnects lives in locked memory that core
# dumps leave out (VmFlags "dd" and "lo" in /proc/PID/smaps), no access between uses: a NIC
# process joined over CURVE, its memory read through /proc/PID/mem.
# (libzmq keeps its own copy in its socket options; that one is not ours to place.)
# Namespace vn3-sec, TCP port 7824.
. "$(dirname "$0")/../lib.sh"
PORT=7824
NS=vn3-sec

netns_add $NS
keys vm1
start switch ip netns exec $NS "$SWITCH" -f --listen "tcp://127.0.0.1:$PORT" --control none \
	--key "$T/keys/switch_secret" --authorized "$T/auth"
wait_for 5 log_has switch "listening on" || fail "switch did not start"
start nic ip netns exec $NS "$NIC" -f --switch "tcp://127.0.0.1:$PORT" --server-key "$T/keys/switch" \
	--key "$T/keys/vm1_secret" --network lab --name vm1/eth0 --stream-listen "unix:$T/q.sock"
NIC_PID=$LAST_PID
wait_for 10 log_has nic "joined network" || fail "the NIC did not join"

# where the raw 32-byte secret is in the NIC's memory, and how each place is mapped
/usr/bin/python3 - "$NIC_PID" "$T/keys/vm1_secret" >"$T/where.out" 2>&1 <<'EOF' || { cat "$T/where.out"; fail "memory scan"; }
import re, sys
pid, keyfile = sys.argv[1], sys.argv[2]
A = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
z = re.search(r'secret-key = "(.{40})"', open(keyfile).read()).group(1)
sec = b"".join((sum(A.index(c) * 85 ** (4 - i) for i, c in enumerate(z[k:k + 5]))).to_bytes(4, "big")
               for k in range(0, 40, 5))
regions, cur = [], None
for line in open(f"/proc/{pid}/smaps"):
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
    if m:
        cur = [int(m.group(1), 16), int(m.group(2), 16), m.group(3), ""]
        regions.append(cur)
    elif line.startswith("VmFlags:"):
        cur[3] = line.split(":", 1)[1].split()
with open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for lo, hi, perms, flags in regions:
        if hi - lo > 256 << 20:
            continue
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except (OSError, OverflowError, ValueError):
            continue
        if sec in data:
            print(perms, "dd" in flags and "dontdump" or "dumped", "lo" in flags and "locked" or "unlocked")
EOF
grep -q "^---p dontdump locked$" "$T/where.out" ||
	{ cat "$T/where.out"; fail "the NIC's secret is not in a locked, never-dumped, inaccessible page"; }
pass "the NIC keeps its secret in a locked page that core dumps leave out, no access between uses ($(grep -c . "$T/where.out") places hold it in all, libzmq's included)"
pass "secrets"
