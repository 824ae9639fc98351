#!/bin/bash
# offload.sh - TAP offloads: TSO super-frames cross the fabric whole between offload TAPs, and are
# segmented (correct checksums) for a TAP without offloads; plain frames reach offload TAPs
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7712
IPERF=7722

keys h1 h2 h3
sw_host
guest_host h1 1
guest_host h2 2
guest_host h3 3
start_switch switch $PORT
start_nic h1 1 h1 lab $PORT; H1=$NIC_PID
start_nic h2 2 h2 lab $PORT --offload on; H2=$NIC_PID
start_nic h3 3 h3 lab $PORT --offload off; H3=$NIC_PID
tap_setup h1 1 192.168.77.1/24
tap_setup h2 2 192.168.77.2/24
tap_setup h3 3 192.168.77.3/24
for h in h1 h2 h3; do wait_for 10 joined nic-$h || fail "$h did not join"; done
log_has nic-h1 "TAP offloads on" || fail "h1 (default) does not have offloads on"
log_has nic-h2 "TAP offloads on" || fail "h2 does not have offloads on"
log_has nic-h3 "TAP offloads on" && fail "h3 has offloads on despite --offload off"
ip netns exec vfi-h1 ethtool -k tap0 2>/dev/null | grep -q "tcp-segmentation-offload: on" ||
	{ command -v ethtool >/dev/null && fail "h1's tap0 does not offer TSO"; }
pass "offloads on for h1 (default) and h2, off for h3"

iperf() { # FROM TO_ADDR TO_HOST: 3 s of TCP, prints Mbit/s
	start "iperf-$3" ip netns exec "vfi-$3" iperf3 -s -1 -B "$2" -p $IPERF
	wait_for 5 eval "ip netns exec vfi-$3 ss -ltnH 'sport = :$IPERF' | grep -q ."
	ip netns exec "vfi-$1" iperf3 -c "$2" -p $IPERF -t 3 -J >"$T/iperf.json" 2>&1 || { cat "$T/iperf.json"; return 1; }
	json 'int(d["end"]["sum_received"]["bits_per_second"] / 1e6)' <"$T/iperf.json"
}
nic_counters() { # HOST: SIGUSR1, the latest counter line
	local before; before=$(grep -c 'counters:' "$T/nic-$1.log")
	kill -USR1 "$2"
	wait_for 5 eval "[ \$(grep -c 'counters:' '$T/nic-$1.log') -gt $before ]" || fail "no counters from $1"
	grep 'counters:' "$T/nic-$1.log" | tail -n1
}
num() { sed -n "s/.*$2 \([0-9]*\).*/\1/p" <<<"$1" | head -1; }

# offload TAP -> offload TAP: super-frames cross whole
M=$(iperf h1 192.168.77.2 h2) || fail "iperf3 h1 -> h2"
[ "$M" -gt 100 ] || fail "iperf3 h1 -> h2: $M Mbit/s"
sw_stats
AVG=$(python3 -c "import json; d=json.load(open('$T/s.json')); p=[p for p in d['ports'] if p['name']=='h1/tap0'][0]; print(p['rx_bytes'] // max(p['rx_frames'], 1))")
[ "$AVG" -gt 3000 ] || fail "h1's frames average $AVG bytes: no TSO super-frames crossed"
C2=$(nic_counters h2 "$H2")
[ "$(num "$C2" 'cut into')" = 0 ] || fail "h2 (offloads on) segmented frames: $C2"
pass "h1 -> h2 (both offload): $M Mbit/s, frames from h1 average $AVG bytes (super-frames), h2 wrote them whole"

# offload TAP -> plain TAP: segmented in h3's NIC process, checksums right (or TCP would stall)
M=$(iperf h1 192.168.77.3 h3) || fail "iperf3 h1 -> h3"
[ "$M" -gt 100 ] || fail "iperf3 h1 -> h3: $M Mbit/s"
C3=$(nic_counters h3 "$H3")
SEG=$(num "$C3" 'cut into'); SUP=$(num "$C3" 'offloads:'); BAD=$(num "$C3" 'completed,')
[ -n "$SEG" ] && [ "$SEG" -gt 1000 ] || fail "h3 did not segment: $C3"
[ "$(sed -n 's/.*, \([0-9]*\) bad.*/\1/p' <<<"$C3")" = 0 ] || fail "h3 counted bad offload frames: $C3"
pass "h1 -> h3 (plain TAP): $M Mbit/s, h3's NIC cut super-frames into $SEG segments, none bad"

# plain TAP -> offload TAP: frames get an empty virtio-net header
M=$(iperf h3 192.168.77.1 h1) || fail "iperf3 h3 -> h1"
[ "$M" -gt 100 ] || fail "iperf3 h3 -> h1: $M Mbit/s"
pass "h3 (plain) -> h1 (offload): $M Mbit/s"

# UDP with checksum offload, and IP fragments, both ways
ip netns exec vfi-h1 ping -q -c 5 -i 0.2 -s 4000 -W 1 192.168.77.3 >"$T/ping.out" 2>&1 || { cat "$T/ping.out"; fail "ping -s 4000 h1 -> h3"; }
ip netns exec vfi-h3 ping -q -c 5 -i 0.2 -s 4000 -W 1 192.168.77.2 >"$T/ping.out" 2>&1 || { cat "$T/ping.out"; fail "ping -s 4000 h3 -> h2"; }
M=$(ip netns exec vfi-h2 sh -c "iperf3 -s -1 -B 192.168.77.2 -p $IPERF -D" && sleep 0.5 &&
	ip netns exec vfi-h1 iperf3 -u -b 200M -c 192.168.77.2 -p $IPERF -t 2 -J | json 'int(d["end"]["sum"]["lost_percent"])')
[ -n "$M" ] && [ "$M" -lt 20 ] || fail "UDP h1 -> h2 lost $M%"
pass "fragmented pings both ways, UDP h1 -> h2 ($M% lost)"
pass "offload"
