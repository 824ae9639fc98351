#!/bin/bash
# trunk.sh - one switch's forwarding rate between trunks next to its rate between ports, in one
# run (issue 13's "a trunk forwards at >= 90% of a port's rate"): a fresh vmfabric-switch per
# measurement, driven over loopback by vmf-loadgen with 2 ports that join as plain ports or, with
# --trunk, as trunks (tagged batches), alternating ROUNDS times; CURVE (trunk keys carry
# trunk = yes) and --insecure. Prints frames/s and the switch's CPU per frame, and the ratios.
# Usage: tests/bench/trunk.sh [--seconds S (5)] [--rounds N (3)]. Root; a benchmark, not a test.
TEST_NAME=bench-trunk
. "$(dirname "$0")/../lib.sh"
LOADGEN=$VMF_BUILD/tests/bench/vmf-loadgen
SECS=5 ROUNDS=3
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECS=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	*) echo "usage: $0 [--seconds S] [--rounds N]"; exit 64 ;;
	esac
	shift
done
netns_add vfb-tr
keys
mkdir -p "$T/lg"
"$LOADGEN" --gen-keys "$T/lg" 2 >/dev/null || fail "loadgen keys"
for k in p0 p1; do sed -i 's/^metadata$/metadata\n    trunk = "yes"/' "$T/lg/$k"; done

# one MODE KIND: a fresh switch, loadgen with 2 ports (KIND port|trunk); prints "fps cpu_ns_per_frame"
one() {
	local mode=$1 kind=$2 out sw
	loadgen_switch "sw-$mode-$kind" vfb-tr 7796 "$mode"
	sw=$LAST_PID
	out=$(ip netns exec vfb-tr "$LOADGEN" --switch tcp://127.0.0.1:7796 "${LG_SEC[@]}" --ports 2 \
		--seconds "$SECS" --warmup 1 --rtt-seconds 0.5 --switch-pid "$sw" \
		$([ "$kind" = trunk ] && echo --trunk) 2>"$T/lg-$mode-$kind.err") || { cat "$T/lg-$mode-$kind.err"; fail "loadgen $mode $kind"; }
	stop "$sw"
	echo "$out" | json '"%.0f %.0f" % (d["rate_fps"], d["switch_cpu_us_per_frame"] * 1000)'
}
for mode in insecure curve; do
	for r in $(seq "$ROUNDS"); do
		p=$(one $mode port); t=$(one $mode trunk)
		log "$mode round $r: port $p, trunk $t (frames/s, switch CPU ns per frame)"
		echo "$mode ${p% *} ${p#* } ${t% *} ${t#* }" >>"$T/rows"
	done
done
python3 - "$T/rows" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
print("| mode | port frames/s | trunk frames/s | trunk / port | switch CPU ns/frame, port | trunk |")
print("|---|---:|---:|---:|---:|---:|")
for mode in ("insecure", "curve"):
    r = [list(map(float, x[1:])) for x in rows if x[0] == mode]
    pf, pc, tf, tc = (statistics.median(c) for c in zip(*r))
    ratios = ", ".join("%.2f" % (x[2] / x[0]) for x in r)
    print("| %s | %.0f | %.0f | %.2f (rounds: %s) | %.0f | %.0f |" % (mode, pf, tf, tf / pf, ratios, pc, tc))
PY
