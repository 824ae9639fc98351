#!/bin/bash
# impair.sh - link impairment (issue 14 part 3) between TAP hosts: delay raises ping RTT by
# what was set, loss over 2000 pings falls within binomial bounds, iperf3 stays under a rate,
# another pair of ports on the same switch is not affected, --clear restores, counters by reason,
# a port that ends with frames held drops them cleanly. Option (--impair), live (vmfabric-ctl) and
# the key's policy (impair = "SPEC" in its certificate).
TOPO_NS=vim TOPO_NET=74
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/topo.sh"
PORT=7420
IPERF_PORT=7421
CTL=$VMF_BUILD/switch/vmfabric-ctl
command -v iperf3 >/dev/null || fail "iperf3 missing"
ctl() { "$CTL" --control "ipc://$T/switch.ctl" "$@"; }
in_ns() { local h=$1; shift; ip netns exec "vim-$h" "$@"; }

# rtt HOST ADDR COUNT INTERVAL: "min median max" of COUNT pings (all answered) in ms; the
# median, not the mean, so that one scheduling hiccup on a shared host does not decide
rtt() {
	in_ns "$1" ping -n -c "$3" -i "$4" -W 2 "$2" >"$T/rtt.out" 2>&1 || { cat "$T/rtt.out"; return 1; }
	grep -q " 0% packet loss" "$T/rtt.out" || { cat "$T/rtt.out"; return 1; }
	sed -n 's/.* time=\([0-9.]*\) ms/\1/p' "$T/rtt.out" |
		python3 -c 'import sys; s = sorted(float(x) for x in sys.stdin); print(s[0], s[len(s) // 2], s[-1])'
}
# fcmp EXPR: a float comparison, true or false
fcmp() { python3 -c "import sys; sys.exit(0 if ($1) else 1)"; }
# port_json NAME EXPR: EXPR on port NAME (p) in "vmfabric-ctl --json ports"
port_json() {
	ctl --json ports | python3 -c "import json,sys
p = [x for x in json.load(sys.stdin)['ports'] if x['name'] == '$1'][0]
print($2)"
}

keys h1 h2 h3 h4 bad
# policy_meta NAME LINE: the admitted certificate of NAME gets metadata LINE
policy_meta() { sed -i "s/^metadata\$/metadata\n    $2/" "$T/auth/$1"; }
policy_meta bad 'impair = "delay=20"'
sw_host
for n in 1 2 3 4; do guest_host h$n $n; done
# at start (the option): frames to h1 wait 30 ms
start_switch switch $PORT --impair 'h1/tap0=delay=30ms'
hosts_up $PORT lab h1 h2 h3 h4
log_has switch "impairment: h1/tap0=delay=30ms" || fail "the switch did not log the --impair option"
log_has switch "bad.*impair wants a link impairment.*delay=20: a time" ||
	fail "a certificate with a bad impair policy was not refused with its reason"
pings h1 192.168.77.2 2 || fail "h1 -> h2 before the tests"
pings h3 192.168.77.4 2 || fail "h3 -> h4 before the tests"

# 1. delay. The unimpaired pair on the same switch is the baseline; the impaired RTT is
# higher by the delay: never less (frames never leave early), and at most 4 ms more in the
# median (the loop's poll timeout has 1 ms resolution; scheduling on a busy 2-core host).
read -r _ BASE _ <<<"$(rtt h3 192.168.77.4 20 0.05)" || fail "h3 -> h4 baseline"
read -r MIN MED _ <<<"$(rtt h1 192.168.77.2 20 0.05)" || fail "h1 -> h2 with delay=30ms"
fcmp "$MIN >= 30.0 and $MED <= $BASE + 30 + 4" ||
	fail "RTT with delay=30ms (out of h1): min $MIN median $MED ms, baseline $BASE ms; expected min >= 30, median <= baseline + 34"
[ "$(port_json h1/tap0 "p['impair']['out']['spec'] + ' ' + str(p['impair']['in'])")" = "delay=30ms None" ] ||
	fail "ports does not show the option's impairment: $(ctl --json ports)"
pass "--impair h1/tap0=delay=30ms: RTT h1 -> h2 min $MIN median $MED ms vs $BASE ms on the other pair (rise 30 to 34 ms)"

# live: both directions, 10 ms each; vmfabric-ctl overrides the option
ctl impair h1/tap0 --delay 10ms --direction both >"$T/ctl.out" || fail "ctl impair --direction both: $(cat "$T/ctl.out")"
grep -q "h1/tap0: in delay=10ms, out delay=10ms (1 connected)" "$T/ctl.out" || fail "ctl reply: $(cat "$T/ctl.out")"
read -r MIN MED _ <<<"$(rtt h1 192.168.77.2 20 0.05)" || fail "h1 -> h2 with delay=10ms both ways"
read -r _ BASE2 _ <<<"$(rtt h3 192.168.77.4 20 0.05)" || fail "h3 -> h4 during the delay"
fcmp "$MIN >= 20.0 and $MED <= $BASE + 20 + 4" ||
	fail "RTT with delay=10ms both ways: min $MIN median $MED ms, baseline $BASE ms; expected min >= 20, median <= baseline + 24"
fcmp "$BASE2 < $BASE + 3" || fail "the other pair's RTT rose from $BASE to $BASE2 ms while h1 was impaired"
pass "vmfabric-ctl impair h1/tap0 --delay 10ms --direction both: RTT min $MIN median $MED ms (rise 20 to 24 ms); other pair $BASE2 ms"

# 2. loss: 10% of the frames to h1 (its ping replies) over 2000 pings. Binomial bounds:
# n = 2000, p = 0.1: mean 200, sigma = sqrt(n p (1 - p)) = 13.4; 4.5 sigma: 140 to 260.
# At the same time the other pair pings 2000 times and loses nothing.
ctl impair h1/tap0 --clear --direction in >/dev/null || fail "ctl impair --clear --direction in"
ctl impair h1/tap0 --loss 10% >/dev/null || fail "ctl impair --loss 10%"
D0=$(port_json h1/tap0 "p['drops']['impair_loss']")
start other-ping ip netns exec vim-h3 ping -q -n -c 2000 -i 0.002 -W 2 192.168.77.4
OTHER=$LAST_PID
in_ns h1 ping -q -n -c 2000 -i 0.002 -W 2 192.168.77.2 >"$T/loss.out" 2>&1
wait "$OTHER"
RECV=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$T/loss.out")
[ -n "$RECV" ] || fail "ping output: $(cat "$T/loss.out")"
LOST=$((2000 - RECV))
read -r LO HI <<<"$(python3 -c "import math; n, p = 2000, 0.10; m = n * p; s = math.sqrt(n * p * (1 - p)); print(math.floor(m - 4.5 * s), math.ceil(m + 4.5 * s))")"
[ "$LOST" -ge "$LO" ] && [ "$LOST" -le "$HI" ] ||
	fail "loss=10%: $LOST of 2000 pings lost, outside the binomial bounds [$LO, $HI]"
grep -q " 0% packet loss" "$T/other-ping.log" || fail "the other pair lost pings: $(cat "$T/other-ping.log")"
D1=$(port_json h1/tap0 "p['drops']['impair_loss']")
# every lost reply is one impair_loss drop on h1 (and a few ARP frames may be, too)
[ $((D1 - D0)) -ge "$LOST" ] && [ $((D1 - D0)) -le $((LOST + 5)) ] ||
	fail "impair_loss drops on h1 grew by $((D1 - D0)), $LOST pings were lost"
[ "$(port_json h1/tap0 "p['impair']['out']['lost'] >= $LOST and p['impair']['out']['spec'] == 'loss=10%'")" = True ] ||
	fail "ports --json impair counters: $(ctl --json ports)"
ctl ports >"$T/ports.txt"
grep -q "impair out loss=10%" "$T/ports.txt" && grep -q "drop impair_loss" "$T/ports.txt" ||
	fail "ports (text) does not show the impairment and its drops: $(cat "$T/ports.txt")"
[ "$(port_json h3/tap0 "p['impair'], sum(p['drops'].values())")" = "None 0" ] ||
	fail "the other pair's port has an impairment or drops: $(port_json h3/tap0 "p['impair'], p['drops']")"
pass "loss=10%: $LOST of 2000 pings lost (bounds $LO..$HI), $((D1 - D0)) impair_loss drops counted; other pair lost 0 of 2000"

# 3. rate: 10 Mbit/s to h1 (a token bucket, wire-like); iperf3 h2 -> h1 stays under it.
# TCP goodput is below the Ethernet rate the bucket counts, so the bound is the rate itself
# (plus 2% for where iperf3's receiver cuts its intervals); above half of it shows that the
# link is shaped, not broken.
ctl impair h1/tap0 --rate 10mbit >/dev/null || fail "ctl impair --rate 10mbit"
start iperf3-server ip netns exec vim-h1 iperf3 -s -B 192.168.77.1 -p $IPERF_PORT
listening() { in_ns h1 ss -ltn | grep -q ":$IPERF_PORT "; }
wait_for 5 listening || fail "iperf3 server did not start"
ip netns exec vim-h2 iperf3 -c 192.168.77.1 -p $IPERF_PORT -t 4 -O 1 -J \
	>"$T/iperf.json" 2>"$T/iperf.err" || { cat "$T/iperf.err"; fail "iperf3 h2 -> h1"; }
MBIT=$(json 'round(d["end"]["sum_received"]["bits_per_second"] / 1e6, 2)' <"$T/iperf.json")
fcmp "5.0 <= $MBIT <= 10.2" || fail "iperf3 through rate=10mbit: $MBIT Mbit/s (expected 5 to 10.2)"
pass "rate=10mbit: iperf3 h2 -> h1 $MBIT Mbit/s"

# 4. a port that ends while its impairment holds frames: they are dropped and counted
ctl impair h1/tap0 --delay 2s >/dev/null || fail "ctl impair --delay 2s"
in_ns h2 ping -q -n -c 5 -i 0.05 -W 1 192.168.77.1 >/dev/null 2>&1
HELD=$(port_json h1/tap0 "p['impair']['out']['held']")
[ "$HELD" -ge 1 ] || fail "no frames held with delay=2s"
ctl kick h1/tap0 >/dev/null || fail "kick h1/tap0"
sw_stats
FLUSHED=$(sj 'd["switch"]["impair_flushed"]')
[ "$FLUSHED" -ge "$HELD" ] || fail "kicked port held $HELD frames, impair_flushed is $FLUSHED"
wait_for 10 eval '[ "$(port_json h1/tap0 "p[\"impair\"][\"out\"][\"spec\"]")" = "delay=2s" ]' ||
	fail "h1 did not come back with its impairment"
pass "a port kicked with $HELD frames held: switch alive, impair_flushed $FLUSHED; the new session keeps the setting"

# 5. --clear restores: no impairment on h1 (the option's included), RTT back to the baseline
ctl --json impair h1/tap0 --clear >"$T/clear.json" || fail "ctl impair --clear"
[ "$(json 'd["in"] + "|" + d["out"]' <"$T/clear.json")" = "|" ] || fail "clear reply: $(cat "$T/clear.json")"
[ "$(port_json h1/tap0 "p['impair']")" = None ] || fail "h1 still has an impairment after --clear"
wait_for 10 ping1 h1 192.168.77.2 || fail "h1 -> h2 after --clear"
read -r _ MED _ <<<"$(rtt h1 192.168.77.2 20 0.05)" || fail "h1 -> h2 after --clear"
fcmp "$MED < $BASE + 3" || fail "RTT after --clear: $MED ms, baseline $BASE ms"
ctl impair h1/tap0 --loss 1 2>"$T/bad.err" && fail "a loss without % was accepted"
grep -q "loss=1: a percentage" "$T/bad.err" || fail "no clear error for a bad value: $(cat "$T/bad.err")"
pass "--clear: no impairment, RTT $MED ms (baseline $BASE ms); a bad value is refused with its reason"
# 6. the key's policy: h4's certificate says impair = "delay=20ms"; a reload applies it to the
# live port (frames to h4 wait 20 ms); vmfabric-ctl overrides it
policy_meta h4 'impair = "delay=20ms"'
ctl reload >/dev/null || fail "reload"
[ "$(port_json h4/tap0 "p['policy']['impair'] + ' ' + p['impair']['out']['spec']")" = "delay=20ms delay=20ms" ] ||
	fail "h4's policy impairment not applied: $(ctl --json ports)"
read -r MIN MED _ <<<"$(rtt h3 192.168.77.4 10 0.05)" || fail "h3 -> h4 with h4's policy delay"
fcmp "$MIN >= 20.0 and $MED <= $BASE + 20 + 4" || fail "RTT to h4 with its policy's delay=20ms: min $MIN median $MED ms"
ctl impair h4/tap0 --clear >/dev/null || fail "ctl impair h4/tap0 --clear"
[ "$(port_json h4/tap0 "p['impair']")" = None ] || fail "vmfabric-ctl --clear did not override the key's policy"
pass "policy impair = \"delay=20ms\": applied at reload (RTT min $MIN median $MED ms), cleared by vmfabric-ctl; a bad one keeps its key out"
kill -0 "$SW_PID" || fail "switch died"
