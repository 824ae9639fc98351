#!/bin/bash
# evpn.sh - site-to-site throughput through VXLAN + BGP EVPN, next to the same
# two hosts on one vmfabric switch, in one run.
#
# The topology of tests/fabric/evpn.sh (tests/fabric/site.sh): sites a and b,
# each a vmfabric switch uplinked (--bridge) into a Linux bridge with a VXLAN
# device, FRR advertising the guests' MACs over iBGP. Hosts vev-a1 and vev-b1
# (TAPs with offloads, MTU 1450 = 1500 - 50 for VXLAN) are measured on two paths:
#   evpn        a1 on switch a, b1 on switch b: TAP -> switch a -> uplink TAP
#               -> bridge -> VXLAN -> underlay veth -> VXLAN -> bridge ->
#               uplink TAP -> switch b -> TAP
#   one-switch  the same hosts, b1's NIC moved to switch a: TAP -> switch a -> TAP
# Each path: iperf3 TCP a1 -> b1 for S seconds (1 stream), and ping RTT
# (average and p99 over N pings 10 ms apart). CURVE on every vmfabric hop;
# the VXLAN underlay is cleartext, as deployed.
#
# Usage: tests/bench/evpn.sh [--seconds S (5)] [--pings N (200)] [--out DIR]
# Writes DIR/evpn.md (default $VMF_BUILD/bench) and prints it. Root; run it
# under flock /tmp/vmf-heavy.lock on a shared machine. A benchmark, not a test.
set -u
TEST_NAME=bench-evpn
CMDLINE="tests/bench/evpn.sh $*"
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../fabric/site.sh"

SECS=5 PINGS=200 OUT=$VMF_BUILD/bench
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECS=$2; shift ;;
	--pings) PINGS=$2; shift ;;
	--out) OUT=$2; shift ;;
	*) echo "usage: $0 [--seconds S] [--pings N] [--out DIR]"; exit 64 ;;
	esac
	shift
done
mkdir -p "$OUT"

# measure NAME: iperf3 and ping a1 -> b1 (10.77.0.21); one row of the table
measure() {
	local name=$1 port=7854
	wait_for 30 ip netns exec "$FAB-a1" ping -q -n -c 1 -W 1 10.77.0.21 || fail "$name: a1 cannot reach b1"
	start "iperf-$name" ip netns exec "$FAB-b1" iperf3 -s -1 -p "$port"
	wait_for 5 sh -c "ip netns exec $FAB-b1 ss -ltn 'sport = :$port' | grep -q LISTEN" || fail "iperf3 server"
	ip netns exec "$FAB-a1" iperf3 -c 10.77.0.21 -p "$port" -t "$SECS" -J >"$T/iperf-$name.json" 2>&1 ||
		fail "$name: iperf3: $(tail -n 5 "$T/iperf-$name.json")"
	ip netns exec "$FAB-a1" ping -n -c "$PINGS" -i 0.01 -W 1 10.77.0.21 >"$T/ping-$name.txt" 2>&1 ||
		fail "$name: pings lost"
	/usr/bin/python3 - "$name" "$T/iperf-$name.json" "$T/ping-$name.txt" >>"$T/rows.md" <<'PY'
import json, re, sys
name, ipf, pf = sys.argv[1:4]
d = json.load(open(ipf))
gbps = d["end"]["sum_received"]["bits_per_second"] / 1e9
retr = d["end"]["sum_sent"].get("retransmits", 0)
rtts = sorted(float(m) for m in re.findall(r"time=([0-9.]+) ms", open(pf).read()))
avg = sum(rtts) / len(rtts)
p99 = rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]
print(f"| {name} | {gbps:.2f} | {retr} | {avg * 1000:.0f} | {p99 * 1000:.0f} |")
PY
}

fab_two_sites ha1 hb1
fab_host a 1
fab_host b 1
measure evpn
# the same host b1 on switch a: its NIC moves, its TAP comes back with the same MAC and address
stop "$HOST_PID"
wait_for 5 sh -c "! ip -n $FAB-b1 link show tap0" || fail "b1's TAP outlived its NIC"
fab_host b 1 a
ip netns exec "$FAB-a1" ip neigh flush all
measure one-switch

{
	echo "### Site to site through VXLAN + BGP EVPN"
	echo
	echo "iperf3 TCP a1 -> b1, 1 stream, $SECS s; ping RTT over $PINGS pings. Hosts are TAPs with"
	echo "offloads, MTU 1450; CURVE on every vmfabric hop, FRR $("$FRR_DIR/zebra" -v | awk 'NR == 1 {print $NF}'),"
	echo "kernel $(uname -r), $(nproc) CPUs shared with whatever else runs."
	echo
	echo "| path | Gbit/s | TCP retransmits | RTT avg (µs) | RTT p99 (µs) |"
	echo "|---|---:|---:|---:|---:|"
	cat "$T/rows.md"
	echo
	echo "evpn: a1 -> switch a -> uplink TAP -> br100 -> vxlan100 -> underlay veth -> vxlan100 -> br100 ->"
	echo "uplink TAP -> switch b -> b1. one-switch: the same hosts, both NICs on switch a."
	echo
	echo "Command: \`$CMDLINE\` ($(date -u +%Y-%m-%d))"
} >"$OUT/evpn.md"
cat "$OUT/evpn.md"
