#!/bin/bash
# oversize.sh - offload output that cannot be sent whole is refused and counted, never sent
# with a wrong IP length and never taken for the guest side going away: a peer's TCPv4
# super-frame whose segment exceeds a UDP datagram (--dgram udp: EMSGSIZE), and one whose
# gso_size would overflow the segment's IPv4 total length. Namespace vn1-os, ports 7800-7802.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/guestside.sh"

gs_setup os udp unix raw
# "QEMU" for both NICs: logs "LENGTH IPV4-TOTAL-LENGTH" per datagram received
cat >"$T/qemu.py" <<'PY'
import os, select, socket, sys
T = sys.argv[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 7802))
x = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
x.bind(T + "/os.qemu")
out = {u: open(T + "/rx-udp.txt", "w"), x: open(T + "/rx-unix.txt", "w")}
open(T + "/qemu.ready", "w").close()
while True:
    for s in select.select([u, x], [], [])[0]:
        d = s.recv(70000)
        ipl = int.from_bytes(d[16:18], "big") if len(d) >= 18 and d[12:14] == b"\x08\x00" else 0
        out[s].write(f"{len(d)} {ipl}\n")
        out[s].flush()
PY
start qemu ip netns exec "$SW_NS" python3 "$T/qemu.py" "$T"
wait_for 5 test -e "$T/qemu.ready" || fail "the QEMU side did not start"
qnic udp --dgram udp:127.0.0.1:7801,udp:127.0.0.1:7802
qnic unix --dgram "unix:$T/os.nic,unix:$T/os.qemu"
for n in udp unix; do wait_for 10 joined nic-$n || fail "$n did not join"; done

# each batch: a super-frame, then a plain 60-byte frame that must arrive whatever became of it
# 1. gso_size 65480: one 65534-byte segment (IPv4 length 65520), over UDP's 65507 bytes
# 2. gso_size 65535 on a 65588-byte super-frame: the segment's IPv4 length would be 65574
raw hello:1:os:raw/0 expect:welcome:3000 tso:65480:65480 wait:500 tso:65535:65534 wait:500 ||
	fail "raw client: $(cat "$T/raw.log")"
sed 's/^/    /' "$T/raw.log" | grep "sent"
wait_for 3 test "$(grep -c . "$T/rx-unix.txt")" -ge 3
wait_for 3 test "$(grep -c . "$T/rx-udp.txt")" -ge 2
log "udp QEMU received: $(tr '\n' ',' <"$T/rx-udp.txt"); unix QEMU received: $(tr '\n' ',' <"$T/rx-unix.txt")"
[ "$(cat "$T/rx-udp.txt")" = "$(printf '60 0\n60 0')" ] ||
	fail "--dgram udp: QEMU should get both 60-byte frames, nothing else"
[ "$(cat "$T/rx-unix.txt")" = "$(printf '65534 65520\n60 0\n60 0')" ] ||
	fail "--dgram unix: QEMU should get the 65534-byte segment and both 60-byte frames, nothing else"
log_has nic-udp "guest side gone" && fail "EMSGSIZE was taken for the guest side going away"
C=$(counters udp)
echo "$C" | grep -q "oversize 1)" || fail "oversize segment not counted: $C"
echo "$C" | grep -q "1 bad" || fail "overflowing super-frame not counted: $C"
C=$(counters unix)
echo "$C" | grep -q "1 bad" || fail "overflowing super-frame not counted: $C"
pass "a segment too long for UDP is dropped and counted; the guest link stays up"
pass "a super-frame whose segment's IPv4 length would overflow is refused and counted"
pass "oversize"
