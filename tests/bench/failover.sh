#!/bin/bash
# failover.sh - the failover gap: N times kill -9 (or SIGSTOP) the active one of two switches while
# h1 pings h2 every 20 ms, and measure the longest time without a ping reply; restart (SIGCONT) it
# and measure the gap of the failback too. Prints every round, then median and maximum.
#   [N=10] [MODE=kill|stop] [HOLD=2] [LOAD=RATE] tests/bench/failover.sh
# LOAD=100M: an iperf3 TCP stream h1 -> h2 at that rate during the whole run (one connection: it
# must survive every move). Root; namespaces vfob-*, ports 7903-7905.
# Not a test: it asserts nothing about speed (it fails only if the fabric does not come back).
TOPO_NS=vfob
TOPO_NET=92
TEST_NAME=bench-failover
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../integration/topo.sh"
CTL=$VMF_BUILD/switch/vmfabric-ctl
N=${N:-10} MODE=${MODE:-kill} HOLD=${HOLD:-2} LOAD=${LOAD:-}
PA=7903 PB=7904 PI=7905
H2IP=192.168.92.2

sw() {
	start "$1" ip netns exec "$SW_NS" "$SWITCH" -f --listen "tcp://0.0.0.0:$2" --key "$T/keys/switch_secret" \
		--authorized "$T/auth" --control "ipc://$T/$1.ctl"
	LAST_SW=$LAST_PID
	wait_for 5 log_has "$1" "listening on" || fail "switch $1 did not start"
}
# on PORT: both NIC processes' last Welcome came from the switch on PORT (a stopped switch keeps
# its stale ports for a while: its port list would not say where the NICs are)
on() {
	local h
	for h in h1 h2; do
		[ "$(grep -o 'joined network lab on tcp://[^ ]*' "$T/nic-$h.log" | tail -1 | sed 's/.*://')" = "$1" ] || return 1
	done
}
# gap FROM TO: the longest time (ms) between consecutive replies in ping.log around [FROM, TO] (epoch ms);
# read after ping has exited: its output is not line-buffered (a file-capability binary ignores stdbuf)
gap() {
	awk -F'[][]' -v from="$1" -v to="$2" '/bytes from/ { t = $2 * 1000; if (p && t > from && p < to && t - p > g) g = t - p; p = t }
		END { printf "%d", g }' "$T/ping.log"
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# stats NAME: median and maximum of the numbers in $T/NAME
summary() { sort -n "$T/$1" | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
	printf "median %d ms, max %d ms (%d rounds)", m, v[NR], NR }'; }

keys h1 h2
sw_host
guest_host h1 1
guest_host h2 2
sw A $PA; A=$LAST_SW
sw B $PB
start_nic h1 1 h1 lab "$PA,tcp://10.$TOPO_NET.1.1:$PB" --failback "$HOLD"; N1=$NIC_PID
start_nic h2 2 h2 lab "$PA,tcp://10.$TOPO_NET.2.1:$PB" --failback "$HOLD"; N2=$NIC_PID
tap_setup h1 1 192.168.92.1/24
tap_setup h2 2 $H2IP/24
wait_for 10 on $PA || fail "h1 and h2 did not join A"
pings h1 $H2IP 3 || fail "no ping over A"
if [ -n "$LOAD" ]; then
	start iperf-s ip netns exec "$TOPO_NS-h2" iperf3 -s -1 -p $PI
	sleep 0.5
	ip netns exec "$TOPO_NS-h1" iperf3 -c $H2IP -p $PI -b "$LOAD" -t 86400 --forceflush >"$T/iperf.log" 2>&1 &
	IPERF=$!
	PIDS+=("$IPERF")
fi
start ping ip netns exec "$TOPO_NS-h1" ping -D -n -i 0.02 -W 1 $H2IP
PING=$LAST_PID
sleep 1
for i in $(seq "$N"); do
	sleep 0.5	# keeps the last round's failback out of this round's window
	K0[$i]=$(ms)
	if [ "$MODE" = stop ]; then kill -STOP $A; else kill -KILL $A; wait $A 2>/dev/null; fi
	wait_for 10 on $PB || { kill -CONT $A 2>/dev/null; fail "round $i: h1 and h2 did not move to B"; }
	sleep 0.5
	K1[$i]=$(ms)
	if [ "$MODE" = stop ]; then kill -CONT $A; else mv "$T/A.log" "$T/A-$i.log"; sw A $PA; A=$LAST_SW; fi
	wait_for $((HOLD + 10)) on $PA || fail "round $i: h1 and h2 did not move back to A"
	sleep 0.5
	F1[$i]=$(ms)
done
kill -INT $PING; wait $PING 2>/dev/null
: >"$T/over"; : >"$T/back"
for i in $(seq "$N"); do
	G=$(gap "${K0[$i]}" "${K1[$i]}"); echo "$G" >>"$T/over"
	F=$(gap "${K1[$i]}" "${F1[$i]}"); echo "$F" >>"$T/back"
	log "round $i: $MODE of the active switch: ping gap $G ms; failback after ${HOLD} s hold-down: gap $F ms"
done
kill -0 $N1 && kill -0 $N2 || fail "a NIC process died"
log "failover ($MODE -> other switch): $(summary over)"
log "failback (after ${HOLD} s hold-down): $(summary back)"
if [ -n "$LOAD" ]; then
	kill -0 $IPERF || fail "iperf3 (one TCP connection) did not survive: $(tail -3 "$T/iperf.log")"
	log "iperf3 at $LOAD: the same TCP connection through all $((2 * N)) moves; last second: $(grep -E 'sec .*bits/sec' "$T/iperf.log" | tail -1 | awk '{ print $7, $8 }')"
fi
