#!/bin/bash
# link.sh - lab links (issue 14), TAP hosts: per-network MTU and link state.
# A switch with --network-mtu jumbo=9000 and the default 1500 elsewhere. The TAP hosts of network
# jumbo take MTU 9000 from the Welcome (their NIC processes run with the default --mtu 1500) and
# carry unfragmented 8972-byte pings and TCP; on network small a host whose TAP was raised to 9000
# by hand gets its giants dropped and counted, per port and per network. A child switch without
# --network-mtu takes the parent's 9000 for network jumbo: its host c1 gets MTU 9000 and reaches j1
# with 8972-byte pings across the trunk. Then "vmfabric-ctl link
# j2/tap0 down": j2's TAP loses carrier, no frame crosses (ping fails, link_down counted, nothing
# sent to j2), the state survives a restart of j2's NIC process, and "up" brings carrier and
# pings back; j2's NIC processes write each state to --link-fd.
. "$(dirname "$0")/../lib.sh"
TOPO_NS=vlk TOPO_NET=84
. "$(dirname "$0")/topo.sh"
PORT=7440
CTL=$VMF_BUILD/switch/vmfabric-ctl
ctl() { "$CTL" --control "ipc://$T/switch.ctl" "$@"; }
# carrier HOST: tap0's carrier in vlk-HOST (0, 1, or "none" while the TAP is down or gone)
carrier() { ip netns exec "$TOPO_NS-$1" cat /sys/class/net/tap0/carrier 2>/dev/null || echo none; }
# portj NAME EXPR: EXPR on port NAME in "vmfabric-ctl --json ports" (p is the port)
portj() {
	ctl --json ports | python3 -c "import json,sys; d=json.load(sys.stdin); p=[p for p in d['ports'] if p['name']=='$1']; p=p[0] if p else None; print($2)"
}
netj() {
	ctl --json networks | python3 -c "import json,sys; d=json.load(sys.stdin); n=[n for n in d['networks'] if n['name']=='$1']; n=n[0] if n else None; print($2)"
}

keys j1 j2 s1 s2 c1 child
sed -i 's/^metadata$/metadata\n    trunk = "yes"/' "$T/auth/child"
sw_host
for h in j1:1 j2:2 s1:3 s2:4 c1:5; do guest_host "${h%:*}" "${h#*:}"; done
start_switch switch $PORT --network-mtu jumbo=9000

# --- per-network MTU -------------------------------------------------------
start_nic j1 1 j1 jumbo $PORT
# j2's NIC reports the link state on fd 5 as vmfabric-qemu's NICs do (--link-fd)
exec 5>"$T/j2.link"
start_nic j2 2 j2 jumbo $PORT --link-fd 5; J2=$NIC_PID
start_nic s1 3 s1 small $PORT --mtu 9000
start_nic s2 4 s2 small $PORT
tap_setup j1 1 192.168.84.1/24
tap_setup j2 2 192.168.84.2/24
tap_setup s1 3 192.168.85.3/24
tap_setup s2 4 192.168.85.4/24
for h in j1 j2 s1 s2; do wait_for 10 joined nic-$h || fail "$h did not join"; done
for h in j1 j2; do
	wait_for 5 test "$(ip netns exec $TOPO_NS-$h cat /sys/class/net/tap0/mtu)" = 9000 ||
		fail "$h's TAP did not take the network's MTU 9000: $(ip -n $TOPO_NS-$h link show tap0)"
done
[ "$(ip netns exec $TOPO_NS-s1 cat /sys/class/net/tap0/mtu)" = 1500 ] ||
	fail "s1 (--mtu 9000) on network small: its TAP should have the network's MTU 1500"
[ "$(netj jumbo 'n["mtu"]')" = 9000 ] && [ "$(netj small 'n["mtu"]')" = 1500 ] ||
	fail "vmfabric-ctl networks: $(ctl --json networks)"
ip netns exec $TOPO_NS-j1 ping -q -n -M do -s 8972 -c 3 -i 0.2 -W 2 192.168.84.2 >"$T/ping.out" 2>&1 ||
	fail "8972-byte unfragmented pings j1 -> j2 on network jumbo: $(cat "$T/ping.out")"
pass "network jumbo: TAPs took MTU 9000 from the Welcome; 8972-byte pings with DF cross"

# TCP: 4 MiB from j2 to j1, counted by the receiver; the sender's MSS shows the jumbo path
ip netns exec $TOPO_NS-j1 /usr/bin/python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.168.84.1", 7441)); s.listen(1); c, _ = s.accept(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print(n)' >"$T/tcp-rx.out" 2>&1 &
RX=$!
sleep 0.5
ip netns exec $TOPO_NS-j2 timeout 30 /usr/bin/python3 -c '
import socket
c = socket.create_connection(("192.168.84.1", 7441), timeout=20)
c.sendall(b"x" * (4 << 20))
print(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
c.close()' >"$T/tcp-tx.out" 2>&1 || fail "TCP j2 -> j1: $(cat "$T/tcp-tx.out")"
wait $RX
[ "$(cat "$T/tcp-rx.out")" = $((4 << 20)) ] || fail "TCP j2 -> j1: received $(cat "$T/tcp-rx.out") bytes"
MSS=$(cat "$T/tcp-tx.out")
[ "$MSS" -gt 8000 ] || fail "TCP MSS $MSS on a 9000-byte path"
pass "TCP j2 -> j1: 4 MiB with MSS $MSS"

# network small: s1's TAP raised to 9000 by hand; its jumbo pings are giants at the switch
pings s1 192.168.85.4 2 || fail "s1 -> s2 on network small: $(cat "$T/ping.out")"
ip -n $TOPO_NS-s1 link set tap0 mtu 9000
ip netns exec $TOPO_NS-s1 ping -q -n -M do -s 8972 -c 3 -i 0.2 -W 1 192.168.85.4 >/dev/null 2>&1 &&
	fail "8972-byte pings crossed network small (MTU 1500)"
GIANT=$(portj s1/tap0 'p["drops"]["giant"]')
[ "$GIANT" -ge 3 ] || fail "port s1/tap0: $GIANT giants counted, want >= 3: $(portj s1/tap0 p)"
[ "$(netj small 'n["giants"]')" = "$GIANT" ] && [ "$(netj jumbo 'n["giants"]')" = 0 ] ||
	fail "giants per network: $(ctl --json networks)"
ctl networks | grep -Eq '^small +1500 +2 +[0-9]+ +[0-9]+ +'"$GIANT"'$' || fail "ctl networks text: $(ctl networks)"
pass "network small (MTU 1500) on the same switch: $GIANT giants dropped, counted on the port and the network"

# a child switch (no --network-mtu) under this one: network jumbo takes the parent's MTU
start child ip netns exec "$SW_NS" "$SWITCH" -f --listen "tcp://0.0.0.0:$((PORT + 3))" \
	--key "$T/keys/switch_secret" --authorized "$T/auth" --control "ipc://$T/child.ctl" \
	--switch-id child --uplink "tcp://127.0.0.1:$PORT" --uplink-server-key "$T/keys/switch" \
	--uplink-key "$T/keys/child_secret"
wait_for 10 log_has child "uplink: joined parent switch" || fail "the child switch did not join"
start_nic c1 5 c1 jumbo $((PORT + 3))
tap_setup c1 5 192.168.84.5/24
wait_for 10 joined nic-c1 || fail "c1 did not join the child switch"
wait_for 5 test "$(ip netns exec $TOPO_NS-c1 cat /sys/class/net/tap0/mtu)" = 9000 ||
	fail "c1's TAP on the child switch: MTU $(ip netns exec $TOPO_NS-c1 cat /sys/class/net/tap0/mtu), want the parent's 9000"
"$CTL" --control "ipc://$T/child.ctl" networks | grep -Eq '^jumbo +9000 ' ||
	fail "child's networks: $("$CTL" --control "ipc://$T/child.ctl" networks)"
ip netns exec $TOPO_NS-c1 ping -q -n -M do -s 8972 -c 3 -i 0.2 -W 2 192.168.84.1 >"$T/ping.out" 2>&1 ||
	fail "8972-byte pings c1 -> j1 across the trunk: $(cat "$T/ping.out")"
pass "a child switch takes the parent's MTU 9000 for network jumbo: 8972-byte pings cross the trunk"

# --- link state ----------------------------------------------------------
[ "$(carrier j2)" = 1 ] || fail "j2's carrier before link down: $(carrier j2)"
ctl link j2/tap0 down >"$T/ctl.out" || fail "vmfabric-ctl link down: $(cat "$T/ctl.out")"
wait_for 3 test "$(carrier j2)" = 0 || fail "j2's TAP kept its carrier after link down"
[ "$(portj j2/tap0 'p["link"]')" = down ] || fail "ports --json: no link down for j2/tap0"
ctl ports | grep -A3 '^j2/tap0 ' | grep -q "link down" || fail "ctl ports text shows no link down: $(ctl ports)"
TX0=$(portj j2/tap0 'p["tx_frames"]')
ip netns exec $TOPO_NS-j1 ping -q -n -c 3 -i 0.2 -W 1 192.168.84.2 >/dev/null 2>&1 &&
	fail "j1 -> j2 answered while j2's link is down"
[ "$(portj j2/tap0 'p["tx_frames"]')" = "$TX0" ] || fail "frames were sent to j2 while its link was down"
[ "$(portj j2/tap0 'p["drops"]["link_down"]')" -ge 3 ] || fail "no link_down drops on j2/tap0: $(portj j2/tap0 p)"
pass "link j2/tap0 down: carrier 0, ping fails, nothing sent to j2, link_down drops counted"

# the state is kept by port name: a restarted NIC process (a new TAP, carrier on) is told again
stop "$J2"
start_nic j2 2 j2 jumbo $PORT --link-fd 5
tap_setup j2 2 192.168.84.2/24
wait_for 10 joined nic-j2 || fail "j2 did not join again"
wait_for 3 test "$(carrier j2)" = 0 || fail "j2's new TAP has carrier $(carrier j2) though its link is down"
log_fixed nic-j2 "carrier off" || fail "j2's NIC process did not log the carrier going off"
ip netns exec $TOPO_NS-j1 ping -q -n -c 2 -i 0.2 -W 1 192.168.84.2 >/dev/null 2>&1 &&
	fail "j1 -> j2 answered after j2 reconnected with its link down"
pass "the link stays down across a restart of j2's NIC process"

ctl link j2/tap0 up >"$T/ctl.out" || fail "vmfabric-ctl link up: $(cat "$T/ctl.out")"
wait_for 3 test "$(carrier j2)" = 1 || fail "j2's carrier after link up: $(carrier j2)"
wait_for 5 ping1 j1 192.168.84.2 || fail "j1 -> j2 after link up"
ip netns exec $TOPO_NS-j1 ping -q -n -M do -s 8972 -c 2 -i 0.2 -W 2 192.168.84.2 >/dev/null 2>&1 ||
	fail "jumbo pings after link up (the new TAP's MTU)"
[ "$(portj j2/tap0 'p["link"]')" = up ] || fail "ports --json: link of j2/tap0 not up"
# up at the first Welcome, down, down at the restarted process's Welcome, up
grep -Eqx '1+0+1+' "$T/j2.link" || fail "--link-fd wrote '$(cat "$T/j2.link")'"
pass "link j2/tap0 up: carrier 1, pings (jumbo too) cross again"
