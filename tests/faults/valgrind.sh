#!/bin/bash
# valgrind.sh - the switch and a NIC process under valgrind memcheck through an integration
# scenario (join over CURVE, ping, iperf3, ctl queries and a capture, counters, a peer NIC restart,
# clean stop): no invalid access, no uninitialised use, no leak (definite or indirect)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ftopo.sh"
PORT=7785
command -v valgrind >/dev/null || { echo "[valgrind] valgrind not installed: skipped"; exit 0; }
VG=(valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --track-origins=yes --num-callers=30)

keys h1 h2
sw_host
guest_host h1 1
guest_host h2 2
SW_WAIT=60 SW_WRAP="${VG[*]} --log-file=$T/vg-switch.txt" start_switch switch $PORT
VGSW=$SW_PID
NIC_WRAP="${VG[*]} --log-file=$T/vg-nic.txt" start_nic h1 1 h1 lab $PORT; VGNIC=$NIC_PID
start_nic h2 2 h2 lab $PORT; H2=$NIC_PID
tap_setup h1 1 192.168.78.1/24 60
tap_setup h2 2 192.168.78.2/24
wait_for 60 joined nic-h1 || fail "h1 (valgrind) did not join"
wait_for 20 joined nic-h2 || fail "h2 did not join"
wait_for 30 ping1 h1 192.168.78.2 || fail "no ping across the valgrind switch"
pings h1 192.168.78.2 10 || fail "10 pings h1 -> h2"
iperf_server h2 7788
MBPS=$(iperf_mbps h1 192.168.78.2 7788 3)
[ "$MBPS" -gt 0 ] || fail "iperf3 under valgrind moved nothing"
for c in ports macs networks stats; do
	"$CTL" --control "ipc://$T/switch.ctl" --timeout 20000 --json $c >/dev/null || fail "ctl $c"
done
timeout 30 "$CTL" --control "ipc://$T/switch.ctl" --timeout 20000 capture --network lab --count 5 \
	--filter icmp -w "$T/cap.pcap" >/dev/null 2>&1 &
CAP=$!
sleep 2
pings h2 192.168.78.1 6 || fail "pings during the capture"
wait $CAP || fail "capture of 5 ICMP frames did not finish"
kill -USR1 "$VGSW" "$VGNIC"
sleep 1
stop "$H2"
start_nic h2 2 h2 lab $PORT
tap_setup h2 2 192.168.78.2/24
wait_for 30 ping1 h1 192.168.78.2 || fail "no ping after h2's restart"
# a clean stop: both exit and valgrind writes its summary
kill -TERM "$VGNIC" "$VGSW"
for p in "$VGNIC" "$VGSW"; do
	for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	wait "$p"; rc=$?
	[ $rc = 99 ] && { cat "$T"/vg-*.txt | tail -n 60; fail "valgrind found errors (pid $p)"; }
done
for w in switch nic; do
	f=$T/vg-$w.txt
	grep -q "ERROR SUMMARY: 0 errors" "$f" || { tail -n 60 "$f"; fail "$w: valgrind errors"; }
	grep -Eq "definitely lost: [1-9]|indirectly lost: [1-9]" "$f" && { tail -n 60 "$f"; fail "$w: leaks"; }
	S=$(grep -E "ERROR SUMMARY|in use at exit|definitely lost|indirectly lost|possibly lost|All heap blocks" "$f" |
		sed 's/^==[0-9]*== *//' | tr '\n' ';' | sed 's/  */ /g')
	pass "$w under memcheck: $S"
done
pass "valgrind: switch and NIC through join, 16+ pings, iperf3 ($MBPS Mbit/s), ctl, capture, counters, peer restart, stop: no errors, no leaks"
