#!/bin/bash
# link.sh - lab links (issue 14) with real QEMU guests (vmlab, TCG) started by vmfabric-qemu:
# jumbo frames and link state. Run it under flock /tmp/vmf-heavy.lock (it starts QEMU).
#
# Topology (topo.sh, prefix vle): the switch (--network-mtu jumbo=9000) in vle-sw; a TAP host h
# and two guests, each in its own namespace:
#   g1: vmfabric-qemu -- run-guest --serve --nic vmfabric,network=jumbo,mac=..,mtu=9000
#   g2: vmfabric-qemu -- run-guest --script (below) --nic vmfabric,network=jumbo,mac=..,mtu=9000
#   h:  vmfabric-nic --tap tap0 --network jumbo (takes MTU 9000 from the Welcome)
# Checks:
#   - jumbo: the guests' eth0 has MTU 9000 (virtio host_mtu); h sends unfragmented 8972-byte
#     pings (ping -M do) to g1 and fetches 4 MiB over TCP from it with an MSS over 8000 (g1's
#     MTU); g2 pings g1 with 8972-byte payloads and fetches the same file (guest to guest)
#   - link state: "vmfabric-ctl link vm2/nic0 down": g2 sees carrier 0 (its own
#     /sys/class/net/eth0/carrier), cannot ping g1, h cannot ping g2, nothing is sent to the
#     port and link_down drops are counted; g2's NIC process is killed and restarted by the
#     launcher: the carrier stays 0; "link up": carrier 1 and g2 pings g1 again
TEST_NAME=e2e_link
. "$(dirname "$0")/../lib.sh"
TOPO_NS=vle TOPO_NET=83
. "$(dirname "$0")/../integration/topo.sh"
VMLAB=$SHARED/vmlab
QL=$VMF_BUILD/nicproc/vmfabric-qemu
CTL=$VMF_BUILD/switch/vmfabric-ctl
PORT=7442
T_START=$(date +%s%N)

[ -x "$QL" ] || fail "build first: $QL missing"
log "build-guest"
"$VMLAB/build-guest" >"$T/build-guest.log" 2>&1 || fail "vmlab/build-guest"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing after build-guest"

ctl() { "$CTL" --control "ipc://$T/switch.ctl" "$@"; }
portj() {
	ctl --json ports | python3 -c "import json,sys; d=json.load(sys.stdin); p=[p for p in d['ports'] if p['name']=='$1']; p=p[0] if p else None; print($2)"
}
serial_has() { grep -aEq -- "$2" "$T/$1-serial.log" 2>/dev/null; }
fab() { echo "--switch tcp://10.$TOPO_NET.$1.1:$PORT --server-key $T/keys/switch --key $T/keys/$2_secret"; }

keys h g1 g2
sw_host
guest_host h 1
guest_host g1 2
guest_host g2 3
start_switch switch $PORT --network-mtu jumbo=9000

cat >"$T/g2.sh" <<'EOF'
echo "mtu $(cat /sys/class/net/eth0/mtu)"
ping -c 3 -s 8972 -W 3 192.168.83.11 >/tmp/p 2>&1 && echo "jumbo ping ok" || cat /tmp/p
n=$(wget -q -O - http://192.168.83.11/big.bin | wc -c); echo "wget $n"
# wait_carrier V: until eth0's carrier is V (60 s at most)
wait_carrier() {
	i=0
	while [ $i -lt 600 ]; do
		[ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}
echo "link test ready"
wait_carrier 0 && echo "carrier 0"
ping -c 2 -W 1 192.168.83.11 >/dev/null 2>&1 && echo "ping while down: answered" || echo "ping while down: no answer"
wait_carrier 1 && echo "carrier 1"
i=0; until ping -c 1 -W 1 192.168.83.11 >/dev/null 2>&1; do i=$((i + 1)); [ $i -ge 15 ] && break; done
ping -c 3 -W 2 192.168.83.11 >/dev/null 2>&1 && echo "ping after up ok"
EOF

# shellcheck disable=SC2046
start launcher-g1 ip netns exec $TOPO_NS-g1 "$QL" $(fab 2 g1) -- "$VMLAB/run-guest" \
	--name vm1 --log "$T/g1-serial.log" --timeout 200 --serve --ip 192.168.83.11/24 \
	--cmdline-extra vmlab.bigmb=4 --nic "vmfabric,network=jumbo,mac=52:54:00:83:00:01,mtu=9000"
start_nic h 1 h jumbo $PORT
tap_setup h 1 192.168.83.1/24
wait_for 10 joined nic-h || fail "h did not join"
wait_for 60 serial_has g1 'VMLAB: serve' || fail "guest g1 did not come up"
grep -aq 'VMLAB: net iface=eth0 driver=virtio_net' "$T/g1-serial.log" || fail "g1 has no virtio eth0"

# --- jumbo: TAP host <-> guest ----------------------------------------------
[ "$(ip netns exec $TOPO_NS-h cat /sys/class/net/tap0/mtu)" = 9000 ] || fail "h's TAP did not take MTU 9000"
wait_for 10 ping1 h 192.168.83.11 || fail "h -> g1"
ip netns exec $TOPO_NS-h ping -q -n -M do -s 8972 -c 3 -i 0.3 -W 3 192.168.83.11 >"$T/ping.out" 2>&1 ||
	fail "8972-byte unfragmented pings h -> g1: $(cat "$T/ping.out")"
ip netns exec $TOPO_NS-h timeout 60 /usr/bin/python3 -c '
import socket
c = socket.create_connection(("192.168.83.11", 80), timeout=30)
c.sendall(b"GET /big.bin HTTP/1.0\r\nHost: g1\r\n\r\n")
mss = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print(mss, n)' >"$T/tcp.out" 2>&1 || fail "TCP h <- g1: $(cat "$T/tcp.out")"
read -r MSS BYTES <"$T/tcp.out"
[ "$MSS" -gt 8000 ] && [ "$BYTES" -gt $((4 << 20)) ] || fail "TCP h <- g1: mss $MSS, $BYTES bytes"
pass "TAP host h <-> guest g1 (host_mtu=9000): 8972-byte pings with DF, 4 MiB over TCP with MSS $MSS"

# --- guest <-> guest, then link state -----------------------------------------
# shellcheck disable=SC2046
start launcher-g2 ip netns exec $TOPO_NS-g2 "$QL" $(fab 3 g2) -- "$VMLAB/run-guest" \
	--name vm2 --log "$T/g2-serial.log" --timeout 200 --ip 192.168.83.12/24 --script "$T/g2.sh" \
	--nic "vmfabric,network=jumbo,mac=52:54:00:83:00:02,mtu=9000"
LG2=$LAST_PID
wait_for 90 serial_has g2 'VMLAB-OUT: link test ready' ||
	{ grep -a VMLAB "$T/g2-serial.log"; fail "guest g2 did not get through its jumbo checks"; }
serial_has g2 'VMLAB-OUT: mtu 9000' || fail "g2's eth0: $(grep -a 'VMLAB-OUT: mtu' "$T/g2-serial.log")"
serial_has g2 'VMLAB-OUT: jumbo ping ok' || fail "g2 -> g1 8972-byte pings: $(grep -a VMLAB-OUT "$T/g2-serial.log")"
serial_has g2 "VMLAB-OUT: wget $((4 << 20))" || fail "g2 <- g1 over TCP: $(grep -a 'VMLAB-OUT: wget' "$T/g2-serial.log")"
pass "guest g2 -> guest g1: eth0 MTU 9000, 8972-byte pings, 4 MiB over TCP"

ctl link vm2/nic0 down >"$T/ctl.out" || fail "vmfabric-ctl link down: $(cat "$T/ctl.out")"
wait_for 20 serial_has g2 'VMLAB-OUT: carrier 0' || fail "g2 did not see its carrier go"
wait_for 10 log_has launcher-g2 'QEMU set_link vmfabric0 down' || fail "launcher: no set_link down"
TX0=$(portj vm2/nic0 'p["tx_frames"]')
ip netns exec $TOPO_NS-h ping -q -n -c 3 -i 0.3 -W 1 192.168.83.12 >/dev/null 2>&1 &&
	fail "h -> g2 answered while g2's link is down"
wait_for 20 serial_has g2 'VMLAB-OUT: ping while down' || fail "g2's ping while down did not end"
serial_has g2 'VMLAB-OUT: ping while down: no answer' || fail "g2 reached g1 while its link was down"
[ "$(portj vm2/nic0 'p["tx_frames"]')" = "$TX0" ] || fail "frames were sent to g2 while its link was down"
[ "$(portj vm2/nic0 'p["drops"]["link_down"]')" -ge 3 ] || fail "no link_down drops: $(portj vm2/nic0 p)"
pass "link vm2/nic0 down: guest carrier 0 (QMP set_link), pings fail both ways, nothing sent, drops counted"

NIC2=$(sed -n 's/.*nic0 vm2\/nic0: vmfabric-nic pid \([0-9]*\) .*/\1/p' "$T/launcher-g2.log" | head -1)
[ -n "$NIC2" ] || fail "no NIC pid in g2's launcher log"
kill -9 "$NIC2"
wait_for 10 log_has launcher-g2 'vm2/nic0: vmfabric-nic pid [0-9]+ .*restarted' || fail "no NIC restart"
wait_for 10 test "$(grep -c 'port vm2/nic0 joined network' "$T/switch.log")" = 2 || fail "g2's NIC did not rejoin"
sleep 1
serial_has g2 'VMLAB-OUT: carrier 1' && fail "g2's carrier came back with the restarted NIC process"
log_has launcher-g2 'QEMU set_link vmfabric0 up' && fail "the launcher set g2's link up"
pass "g2's NIC process killed and restarted: the link stays down"

ctl link vm2/nic0 up >"$T/ctl.out" || fail "vmfabric-ctl link up: $(cat "$T/ctl.out")"
wait_for 20 serial_has g2 'VMLAB-OUT: carrier 1' || fail "g2's carrier did not come back"
for _ in $(seq 400); do kill -0 "$LG2" 2>/dev/null || break; sleep 0.1; done
wait "$LG2"; rc=$?
serial_has g2 'VMLAB-OUT: ping after up ok' || fail "g2 -> g1 after link up: $(grep -a VMLAB-OUT "$T/g2-serial.log")"
[ "$rc" = 0 ] || fail "guest g2: rc $rc"
pass "link vm2/nic0 up: carrier 1, g2 pings g1 again"
log "wall time $(( ($(date +%s%N) - T_START) / 1000000 )) ms"
pass "e2e_link"
