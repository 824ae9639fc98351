#!/bin/bash
# compare.sh - vmfabric host to host next to veth, a Linux bridge and vde_switch, in one run.
#
# Every path joins two network-namespace hosts (192.0.2.1 <-> 192.0.2.2) and is
# measured the same way: iperf3 TCP for T seconds (1 stream), iperf3 UDP with
# 64-byte payloads (frames per second received), and ping RTT (200 pings, 5 ms
# apart). The anchors come from ../shared/bench/anchors.sh, run first in the same
# invocation; then vmfabric with CURVE and with --insecure: switch in its own
# namespace, one TAP NIC process per host, TCP across veth pairs.
# Usage: tests/bench/compare.sh [seconds]   (root; a benchmark, not a test)
set -u
TEST_NAME=bench
. "$(dirname "$0")/../lib.sh"
SECS=${1:-5}
command -v iperf3 >/dev/null || fail "iperf3 missing (deploy/install-deps.sh)"
command -v vde_switch >/dev/null || EXTRA_PKGS=vde2 "$VMF_ROOT/deploy/install-deps.sh"

measure() {
	local name=$1 tcp udp rtt
	ip netns exec vfb-h2 iperf3 -s -1 -D >/dev/null 2>&1; sleep 0.5
	tcp=$(ip netns exec vfb-h1 iperf3 -c 192.0.2.2 -t "$SECS" -J 2>/dev/null | json '"%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9)' 2>/dev/null)
	ip netns exec vfb-h2 iperf3 -s -1 -D >/dev/null 2>&1; sleep 0.5
	udp=$(ip netns exec vfb-h1 iperf3 -c 192.0.2.2 -u -b 0 -l 64 -t "$SECS" -J 2>/dev/null | json '"%.0f" % (d["end"]["sum"]["packets"]*(1-d["end"]["sum"]["lost_percent"]/100)/d["end"]["sum"]["seconds"]/1e3)' 2>/dev/null)
	rtt=$(ip netns exec vfb-h1 ping -q -c 200 -i 0.005 192.0.2.2 2>/dev/null | sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p')
	printf "%-28s tcp %6s Gbit/s   udp64 %6s kpps rx   rtt_avg %s ms\n" "$name" "${tcp:-FAIL}" "${udp:-FAIL}" "${rtt:-FAIL}" | tee -a "$T/results"
}

fabric() {
	local mode=$1 sec=() i
	netns_add vfb-sw; netns_add vfb-h1; netns_add vfb-h2
	veth_link vfb-sw v1 10.97.1.1/24 vfb-h1 up0 10.97.1.2/24
	veth_link vfb-sw v2 10.97.2.1/24 vfb-h2 up0 10.97.2.2/24
	if [ "$mode" = curve ]; then
		[ -d "$T/auth" ] || keys h1 h2
		start switch ip netns exec vfb-sw "$SWITCH" -f --listen tcp://0.0.0.0:7790 --key "$T/keys/switch_secret" --authorized "$T/auth"
	else
		start switch ip netns exec vfb-sw "$SWITCH" -f --listen tcp://0.0.0.0:7790 --insecure
	fi
	local swpid=$LAST_PID nics=()
	for i in 1 2; do
		if [ "$mode" = curve ]; then sec=(--server-key "$T/keys/switch" --key "$T/keys/h${i}_secret"); else sec=(--insecure); fi
		start nic$i ip netns exec vfb-h$i "$NIC" -f --switch tcp://10.97.$i.1:7790 "${sec[@]}" --network bench --name h$i --tap tap0
		nics+=("$LAST_PID")
	done
	for i in 1 2; do
		wait_for 5 ip -n vfb-h$i link show tap0 || fail "no tap0 on vfb-h$i"
		ip -n vfb-h$i addr add 192.0.2.$i/24 dev tap0
		wait_for 5 log_has nic$i joined || fail "nic$i did not join"
	done
	ip netns exec vfb-h1 ping -c 3 -W 1 192.0.2.2 >/dev/null || fail "no connectivity ($mode)"
	measure "vmfabric ($mode)"
	for p in "${nics[@]}" "$swpid"; do stop "$p"; done
	for n in vfb-sw vfb-h1 vfb-h2; do ip netns del $n; done
	NETNS=()
}

echo "== anchors ($SECS s each)"
bash "$SHARED/bench/anchors.sh" "$SECS" | tee "$T/anchors"
echo "== vmfabric"
fabric curve
fabric insecure
echo
python3 - "$T/anchors" "$T/results" <<'PY'
import re, sys
rows = {}
for f in sys.argv[1:]:
    for line in open(f):
        m = re.match(r"(.+?)\s+tcp\s+([\d.]+) Gbit/s\s+udp64 ([\d.]+) kpps.*rtt_avg ([\d.]+) ms", line)
        if m:
            rows[m.group(1).strip()] = tuple(float(x) for x in m.groups()[1:])
vde = rows.get("vde_switch+vde_plug2tap")
print("| path | TCP Gbit/s | UDP 64 B kpps | RTT avg ms | TCP vs vde | RTT vs vde |")
print("|---|---|---|---|---|---|")
for k, (tcp, udp, rtt) in rows.items():
    r = ("%.2fx" % (tcp / vde[0]), "%.2fx" % (rtt / vde[2])) if vde and vde[0] and vde[2] else ("-", "-")
    print("| %s | %.2f | %.0f | %.3f | %s | %s |" % (k, tcp, udp, rtt, r[0], r[1]))
PY
