#!/bin/bash
# ab-builds.sh OLD_BUILD NEW_BUILD [ROUNDS] - two builds' switches side by side, alternating in one run:
#   TCP    tests/bench/ab.sh (TAP to TAP iperf3 through a CURVE switch, offloads on), Gbit/s
#   64 B   each build's own vmf-loadgen (an old one may speak an older protocol): 16 ports, 64-byte
#          frames, CURVE and --insecure: one JSON line per run (rate_fps, switch_cpu_us_per_frame)
# e.g. git worktree add /tmp/old 4c4cb85 && cmake -S /tmp/old -B /tmp/old/build && make -C /tmp/old/build
#      tests/bench/ab-builds.sh /tmp/old/build build
# Root; namespaces vfb-ab1, vfb-ab2 (ab.sh) and vfb-lg, TCP ports 7796-7797; cleans up after itself.
# NOTCP=1 skips the TCP rounds.
set -u
OLD=$(cd "$1" && pwd) NEW=$(cd "$2" && pwd) ROUNDS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
K=$(mktemp -d /tmp/vmf-abk.XXXXXX)
cleanup() { ip netns del vfb-lg 2>/dev/null; rm -rf "$K"; }
trap cleanup EXIT
mkdir -p "$K/p"
"$NEW/tests/bench/vmf-loadgen" --gen-keys "$K/p" 16 >/dev/null || exit 1
"$NEW/tls/vmfabric-key" generate "$K/sw" >/dev/null || exit 1
ip netns del vfb-lg 2>/dev/null; ip netns add vfb-lg && ip -n vfb-lg link set lo up || exit 1

lg() {	# BUILD MODE: one vmf-loadgen run against a fresh switch of BUILD
	local sec=(--insecure) lsec=(--insecure) sw
	[ "$2" = curve ] && { sec=(--key "$K/sw_secret" --authorized "$K/p"); lsec=(--server-key "$K/sw" --keys "$K/p"); }
	ip netns exec vfb-lg "$1/switch/vmfabric-switch" -f --listen tcp://127.0.0.1:7797 --control none "${sec[@]}" 2>/dev/null &
	sw=$!
	sleep 0.5
	ip netns exec vfb-lg "$1/tests/bench/vmf-loadgen" --switch tcp://127.0.0.1:7797 "${lsec[@]}" --ports 16 \
		--seconds 4 --warmup 1 --rtt-seconds 1 --switch-pid $sw 2>/dev/null | head -1
	kill $sw; wait $sw 2>/dev/null
}
if [ -z "${NOTCP:-}" ]; then
	for i in $(seq "$ROUNDS"); do
		echo "tcp round $i: old $(B=$OLD T=5 bash "$HERE/ab.sh") new $(B=$NEW T=5 bash "$HERE/ab.sh") Gbit/s"
	done
fi
for m in curve insecure; do
	for i in $(seq "$ROUNDS"); do
		echo "64B $m round $i old: $(lg "$OLD" $m)"
		echo "64B $m round $i new: $(lg "$NEW" $m)"
	done
done
