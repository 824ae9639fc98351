#!/bin/bash
# ab.sh - one TAP-to-TAP iperf3 measurement through a vmfabric build, for A/B comparisons of levers.
# Prints Gbit/s. Run two builds (or two settings) alternately in one session and compare.
#   B=BUILD_DIR MODE=curve|insecure OFF=on|off SWIO=N T=SECONDS tests/bench/ab.sh
# LAT=N: ping RTT p50/p99 over N pings 2 ms apart (and the switch's CPU meanwhile) instead of throughput.
# SWBP/NBP=USEC: --busy-poll on the switch / both NICs. SWCPU/N1CPU/N2CPU=LIST: taskset the processes.
# e.g.  for i in 1 2; do OFF=off tests/bench/ab.sh; OFF=on tests/bench/ab.sh; done
# Root; namespaces vfb-ab1/vfb-ab2, switch on 127.0.0.1:7796; cleans up after itself.
set -u
B=${B:-$(cd "$(dirname "$0")/../.." && pwd)/build}
M=${MODE:-curve}
D=$(mktemp -d /tmp/vmf-ab.XXXXXX)
PIDS=()
LOCK=/run/vmfabric/busypoll.lock	# the --busy-poll pollers' lock: removed at the end if this run made it
[ -e "$LOCK" ] && LOCK=
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	ip netns del vfb-ab1 2>/dev/null; ip netns del vfb-ab2 2>/dev/null
	rm -rf "$D"
	[ -z "$LOCK" ] || rm -f "$LOCK"
}
trap cleanup EXIT
mkdir "$D/auth"
ip netns add vfb-ab1 && ip netns add vfb-ab2 || exit 1
if [ "$M" = curve ]; then
	"$B/tls/vmfabric-key" generate "$D/sw" >/dev/null
	for h in h1 h2; do "$B/tls/vmfabric-key" generate "$D/$h" >/dev/null; cp "$D/$h" "$D/auth/"; done
	SW=(--key "$D/sw_secret" --authorized "$D/auth"); S1=(--server-key "$D/sw" --key "$D/h1_secret"); S2=(--server-key "$D/sw" --key "$D/h2_secret")
else
	SW=(--insecure); S1=(--insecure); S2=(--insecure)
fi
${SWCPU:+taskset -c $SWCPU} "$B/switch/vmfabric-switch" -f --listen tcp://127.0.0.1:7796 "${SW[@]}" --control none --io-threads "${SWIO:-2}" ${SWBP:+--busy-poll $SWBP} 2>"$D/sw.log" &
PIDS+=($!)
sleep 0.2
OFFOPT=(); [ -n "${OFF:-}" ] && OFFOPT=(--offload "$OFF")
${N1CPU:+taskset -c $N1CPU} "$B/nicproc/vmfabric-nic" -f --switch tcp://127.0.0.1:7796 "${S1[@]}" --network l --name h1 --tap tap0 --netns vfb-ab1 "${OFFOPT[@]}" ${NBP:+--busy-poll $NBP} 2>"$D/n1.log" &
PIDS+=($!)
${N2CPU:+taskset -c $N2CPU} "$B/nicproc/vmfabric-nic" -f --switch tcp://127.0.0.1:7796 "${S2[@]}" --network l --name h2 --tap tap0 --netns vfb-ab2 "${OFFOPT[@]}" ${NBP:+--busy-poll $NBP} 2>"$D/n2.log" &
PIDS+=($!)
for _ in $(seq 50); do ip -n vfb-ab2 link show tap0 >/dev/null 2>&1 && ip -n vfb-ab1 link show tap0 >/dev/null 2>&1 && break; sleep 0.1; done
ip -n vfb-ab1 addr add 10.58.0.1/24 dev tap0; ip -n vfb-ab2 addr add 10.58.0.2/24 dev tap0
ip netns exec vfb-ab1 ping -c 3 -i 0.3 -W 2 10.58.0.2 >/dev/null || { echo "ab: no connectivity"; exit 1; }
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }	# clock ticks, all threads
if [ -n "${LAT:-}" ]; then
	c0=$(cpu "${PIDS[0]}"); t0=$(date +%s.%N)
	ip netns exec vfb-ab1 ping -c "$LAT" -i 0.002 -W 1 10.58.0.2 | sed -n 's/.* time=\([0-9.]*\) ms/\1/p' |
		python3 -c 'import sys; s=sorted(float(x)*1000 for x in sys.stdin); print("rtt p50 %.0f us p99 %.0f us (%d)" % (s[len(s)//2], s[int(0.99*(len(s)-1))], len(s)))'
	echo "switch CPU during the pings: $(echo "$(cpu "${PIDS[0]}") $c0 $(getconf CLK_TCK) $(date +%s.%N) $t0" |
		awk '{ printf "%.0f%%", 100 * ($1 - $2) / $3 / ($4 - $5) }') of one CPU"
	exit 0
fi
ip netns exec vfb-ab2 iperf3 -s -1 -D
sleep 0.3
ip netns exec vfb-ab1 iperf3 -c 10.58.0.2 -t "${T:-4}" -J |
	python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))'
