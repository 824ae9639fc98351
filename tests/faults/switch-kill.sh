#!/bin/bash
# switch-kill.sh - kill -9 of the switch under iperf3 load: the NIC processes keep running,
# traffic resumes within 5 s of the restart
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ftopo.sh"
PORT=7780
IPORT=7788
ROUNDS=${ROUNDS:-2}

pair_up $PORT
pings h1 192.168.78.2 3 || fail "ping before the test"
iperf_server h2 $IPORT

# iperf3 h1 -> h2 for the whole test, reporting every 0.2 s; pings every 0.1 s alongside
DUR=$(( 4 + ROUNDS * 8 ))
T_START=$(date +%s%N)
start iperf ip netns exec vfh-h1 iperf3 -c 192.168.78.2 -p $IPORT -t $DUR -i 0.2 --forceflush
IPERF=$LAST_PID
start pinger ip netns exec vfh-h1 ping -n -D -i 0.1 -W 1 192.168.78.2
sleep 3
worst_ping=0 worst_tcp=0
for r in $(seq "$ROUNDS"); do
	kill -KILL "$SW_PID"; wait "$SW_PID" 2>/dev/null
	KILL_NS=$(date +%s%N)
	sleep 1
	start_switch switch-$r $PORT
	RESTART_NS=$(date +%s%N)
	# the first ping answered after the restart
	wait_for 10 ping1 h1 192.168.78.2 || fail "round $r: no ping within 10 s of the restart"
	PING_MS=$(( ($(date +%s%N) - RESTART_NS) / 1000000 ))
	sleep 5
	# the first iperf3 interval after the restart that moved data
	REL=$(awk -v t=$(( (RESTART_NS - T_START) / 1000000 )) '
		/sec/ && $3 ~ /-/ { split($3, a, "-"); s = a[1] * 1000; if (s >= t - 200 && $5 + 0 > 0 && $6 ~ /Bytes/) { print int(s - t); exit } }' "$T/iperf.log")
	[ -n "$REL" ] || { tail -n 40 "$T/iperf.log"; fail "round $r: iperf3 moved no data after the restart"; }
	[ "$REL" -lt 0 ] && REL=0
	kill -0 "$H1" && kill -0 "$H2" || fail "round $r: a NIC process died"
	[ "$PING_MS" -le 5000 ] || fail "round $r: ping back only after $PING_MS ms"
	[ "$REL" -le 5000 ] || fail "round $r: iperf3 data back only after $REL ms"
	[ "$PING_MS" -gt "$worst_ping" ] && worst_ping=$PING_MS
	[ "$REL" -gt "$worst_tcp" ] && worst_tcp=$REL
	pass "round $r: switch killed (-9) under iperf3, restarted after 1 s; ping back after $PING_MS ms, iperf3 data back within $REL ms"
done
wait "$IPERF" || { tail -n 20 "$T/iperf.log"; fail "iperf3 failed (connection lost across the restarts)"; }
TOTAL=$(awk '/receiver/ { print $7, $8 }' "$T/iperf.log")
[ "$(grep -c "joined network" "$T/nic-h1.log")" = $((ROUNDS + 1)) ] || fail "h1 did not rejoin once per restart"
[ "$(grep -c "joined network" "$T/nic-h2.log")" = $((ROUNDS + 1)) ] || fail "h2 did not rejoin once per restart"
pass "switch-kill: $ROUNDS kill -9 restarts under load, NIC pids $H1/$H2 unchanged, worst ping ${worst_ping} ms and iperf3 ${worst_tcp} ms after restart; the TCP connection survived (receiver average $TOTAL)"
